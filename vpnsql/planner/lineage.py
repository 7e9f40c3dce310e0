"""What a reference's steering params are equated to, beyond the literals of its own scope.

`c.region = e.region` in an ON, a USING (region), or a WHERE equality gives the connections
side the values the endpoints side has (its literals, or what equalities give it in turn);
a derived table (subquery, CTE) passes values both ways: its output columns have the values
of the params they project, and a condition on them outside applies to those params inside.
A param that would be filled in from configuration (a region, an account) and is equated to
something whose values the plan cannot know (a computed expression, a DuckDB table's column)
is refused: answering from the defaults would be silently wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlglot import exp

from vpnsql.errors import ParamError
from vpnsql.planner.conditions import conjuncts, literal_values
from vpnsql.tables import Param, Table

OPEN = "open"
"""Equated only to params the fetcher fills in the same way: the param stays open."""

Values = frozenset[str] | str | None
"""Known values, OPEN, an UNKNOWN reason (any other string), or None: nothing said."""

Literals = Callable[[exp.Table, Table, Param], set[str] | None]
"""The values a reference's own scope gives a param by literals (None: none given)."""

Resolve = Callable[[exp.Table], Table | None]
"""The virtual table a table node means, or None for DuckDB's own."""


@dataclass(frozen=True)
class _Column:
    """A column as a scope sees it: a source's alias (or none) and its names."""

    scope: exp.Select
    source: str | None
    names: frozenset[str]


class Lineage:
    """Follows equalities between columns across a statement's scopes."""

    def __init__(self, resolve: Resolve, literals: Literals) -> None:
        self._resolve = resolve
        self._literals = literals
        self._visiting: set[tuple[int, str]] = set()

    def values(self, node: exp.Table, table: Table, param: Param) -> set[str] | None:
        """The values equalities give the param, or None when they leave it open."""
        scope = node.find_ancestor(exp.Select)
        if scope is None:
            return None
        found = self._param(node, table, param, scope, with_literals=False)
        if isinstance(found, frozenset):
            return set(found)
        if found not in (None, OPEN) and _defaulted(table, param):
            raise ParamError(
                f"{table.name}: {param.name} depends on {found}, whose values vpnsql "
                "cannot know before the query runs",
                hint=f"name its values (WHERE {param.name} IN (...)), or equate it to another "
                "virtual table's column whose values are given",
            )
        return None

    def _param(
        self,
        node: exp.Table,
        table: Table,
        param: Param,
        scope: exp.Select,
        *,
        with_literals: bool,
    ) -> Values:
        key = (id(node), param.name)
        if key in self._visiting:
            return None  # a cycle of equalities says nothing more
        self._visiting.add(key)
        try:
            parts: list[Values] = []
            if with_literals:
                given = self._literals(node, table, param)
                parts.append(frozenset(given) if given is not None else None)
            column = _Column(scope, node.alias_or_name.lower(), frozenset(param.names))
            parts.extend(self._conditions(column))
            parts.extend(self._outward(column, node))
            combined = _all(parts)
            return OPEN if combined is None and _defaulted(table, param) else combined
        finally:
            self._visiting.discard(key)

    def _conditions(self, column: _Column) -> Iterator[Values]:
        """What the scope's equalities say about the column (ON, USING, WHERE)."""
        for conjunct in conjuncts(column.scope):
            if isinstance(conjunct, exp.EQ):
                for mine, other in ((conjunct.this, conjunct.expression),
                                    (conjunct.expression, conjunct.this)):  # fmt: skip
                    if self._is(mine, column) and isinstance(other, exp.Column):
                        yield self.evaluate(other, column.scope)
        for join in column.scope.args.get("joins") or []:
            using = {u.name.lower() for u in join.args.get("using") or []}
            if not using & column.names or join.side or join.kind not in ("", "INNER"):
                continue
            joined = join.this.alias_or_name.lower()
            for alias in _sources(column.scope):
                if (alias == joined) != (column.source == joined):
                    name = next(iter(using & column.names))
                    yield self.evaluate(exp.column(name, table=alias), column.scope)

    def _outward(self, column: _Column, node: exp.Table) -> Iterator[Values]:
        """Conditions outside a derived table on the output columns that project this one."""
        derived = _derived(column.scope)
        if derived is None:
            return
        name, usages = derived
        outputs = [o for o in _outputs(column.scope, column, self) if o]
        if not outputs or not usages:
            return
        answers: list[Values] = []
        for scope, alias in usages:
            for output in outputs:
                outer = _Column(scope, alias, frozenset({output}))
                said = list(self._conditions(outer)) + list(self._literal_conditions(outer))
                said.extend(self._outward(outer, node))
                if _mentioned(scope, outer) and not said:
                    said.append(f"a condition on {alias}.{output}")
                answer = _all(said)
                if answer is not None and not _transparent(column.scope, output):
                    answer = f"{name}.{output} (through an aggregate, window or LIMIT)"
                answers.append(answer)
        yield _union(answers)

    def _literal_conditions(self, column: _Column) -> Iterator[Values]:
        """`col = 'x'` and `col IN ('x', ...)` on a derived table's output column."""
        for conjunct in conjuncts(column.scope):
            for target, values in literal_values(conjunct):
                if self._is(target, column):
                    yield frozenset(str(v) for v in values if v is not None)

    def evaluate(self, expression: exp.Expression, scope: exp.Select) -> Values:
        """The values a column of a scope can have, as far as the plan can tell."""
        if not isinstance(expression, exp.Column):
            return f"the expression {expression.sql('duckdb')}"
        source = _source_of(expression, scope)
        if source is None:
            return f"the column {expression.sql('duckdb')}"
        if isinstance(source, exp.Table) and (table := self._resolve(source)) is not None:
            param = table.param(expression.name)
            if param is None:
                return f"{table.name}.{expression.name}, which is no param"
            inner = source.find_ancestor(exp.Select) or scope
            return self._param(source, table, param, inner, with_literals=True)
        body = _body(source, scope)
        if body is None:
            return f"the column {expression.sql('duckdb')} of a table vpnsql does not fetch"
        projected = _projection(body, expression.name)
        if projected is None:
            return f"the column {expression.sql('duckdb')}"
        return self.evaluate(projected, body)

    def _is(self, node: exp.Expression, column: _Column) -> bool:
        if not isinstance(node, exp.Column) or node.name.lower() not in column.names:
            return False
        if node.table:
            return node.table.lower() == column.source
        return len(_sources(column.scope)) == 1  # unqualified: the only source


def _defaulted(table: Table, param: Param) -> bool:
    """Whether the fetcher would fill the param in from configuration (or each cloud's, for a
    view) when no value is given: then an unknowable equality must not be answered."""
    return param.resolve is not None or (table.fetch is None and param.required)


def _all(parts: list[Values]) -> Values:
    """AND: known values intersect; unknowable beats open, which beats silence."""
    known = [p for p in parts if isinstance(p, frozenset)]
    if known:
        return frozenset.intersection(*known)
    reasons = [p for p in parts if isinstance(p, str) and p != OPEN]
    if reasons:
        return reasons[0]
    return OPEN if OPEN in parts else None


def _union(parts: list[Values]) -> Values:
    """A derived table used several times needs what every use needs."""
    if not parts or any(p is None or p == OPEN for p in parts):
        if any(isinstance(p, frozenset) for p in parts):
            return "uses of a derived table that want different values"
        return None if all(p is None for p in parts) else OPEN
    reasons = [p for p in parts if not isinstance(p, frozenset)]
    if reasons:
        return reasons[0]
    return frozenset().union(*parts)  # type: ignore[arg-type]


def _sources(scope: exp.Select) -> dict[str, exp.Expression]:
    """A SELECT's FROM and JOIN sources by alias (lower case)."""
    nodes = []
    if (from_ := scope.args.get("from_")) is not None:
        nodes.append(from_.this)
    nodes.extend(join.this for join in scope.args.get("joins") or [])
    return {node.alias_or_name.lower(): node for node in nodes}


def _source_of(column: exp.Column, scope: exp.Select) -> exp.Expression | None:
    sources = _sources(scope)
    if column.table:
        return sources.get(column.table.lower())
    return next(iter(sources.values())) if len(sources) == 1 else None


def _body(source: exp.Expression, scope: exp.Select) -> exp.Select | None:
    """The SELECT a derived source stands for: a subquery's, or a CTE's by its name."""
    if isinstance(source, exp.Subquery) and isinstance(source.this, exp.Select):
        return source.this
    if isinstance(source, exp.Table) and not source.db:
        for with_ in _withs(scope):
            for cte in with_.expressions:
                if cte.alias.lower() == source.name.lower() and isinstance(cte.this, exp.Select):
                    return cte.this
    return None


def _withs(node: exp.Expression) -> Iterator[exp.With]:
    while node is not None:
        if isinstance(with_ := node.args.get("with_"), exp.With):
            yield with_
        node = node.parent  # type: ignore[assignment]


def _projection(body: exp.Select, name: str) -> exp.Expression | None:
    """The expression of a SELECT's output column `name` (through `*` of a single source)."""
    for projection in body.expressions:
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            return exp.column(name)
        if projection.alias_or_name.lower() == name.lower():
            return projection.unalias()
    return None


def _derived(scope: exp.Select) -> tuple[str, list[tuple[exp.Select, str]]] | None:
    """For a SELECT that is a subquery or CTE: its name and every (scope, alias) using it."""
    parent = scope.parent
    if isinstance(parent, exp.Subquery) and parent.alias:
        outer = parent.find_ancestor(exp.Select)
        return (parent.alias, [(outer, parent.alias.lower())]) if outer is not None else None
    if isinstance(parent, exp.CTE):
        name = parent.alias.lower()
        statement = parent.find_ancestor(exp.Query) or parent.root()
        usages = [
            (use_scope, table.alias_or_name.lower())
            for table in statement.find_all(exp.Table)
            if not table.db and table.name.lower() == name
            if (use_scope := table.find_ancestor(exp.Select)) is not None
        ]
        return (parent.alias, usages)
    return None


def _outputs(body: exp.Select, column: _Column, lineage: Lineage) -> Iterator[str]:
    """The output names under which the body projects the column (`*` keeps its name)."""
    for projection in body.expressions:
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            yield from column.names
        elif lineage._is(projection.unalias(), column):
            yield projection.alias_or_name.lower()


def _transparent(body: exp.Select, output: str) -> bool:
    """Whether a condition on an output column may be applied to the rows inside: not through
    LIMIT, windows, or aggregates (unless the column is a GROUP BY key)."""
    if body.args.get("limit") or body.args.get("offset") or body.find(exp.Window):
        return False
    group = body.args.get("group")
    if group is not None:
        return any(
            isinstance(key, exp.Column) and key.name.lower() == output for key in group.expressions
        )
    return body.find(exp.AggFunc) is None


def _mentioned(scope: exp.Select, column: _Column) -> bool:
    """Whether any condition of the scope uses the column."""
    return any(
        isinstance(node, exp.Column)
        and node.name.lower() in column.names
        and (node.table or "").lower() in ("", column.source or "")
        for conjunct in conjuncts(scope)
        for node in conjunct.find_all(exp.Column)
    )
