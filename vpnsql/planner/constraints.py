"""Constraint extraction: the AND-ed `col = literal` / `col IN (...)` conditions that apply to
one reference of a virtual table, checked against its params, and whether a LIMIT may stop
paging early."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from vpnsql.errors import ParamError
from vpnsql.planner.conditions import NOT_LITERAL, conjuncts, literal, literal_values
from vpnsql.planner.lineage import Lineage
from vpnsql.planner.model import Resolved
from vpnsql.planner.ranges import WindowRead, read_window
from vpnsql.planner.syntax import DIALECT
from vpnsql.tables import Param, Table


@dataclass
class Reference:
    """A virtual table as it appears once in a statement, with what its scope says about it."""

    table: Table
    values: dict[str, set[str]] = field(default_factory=dict)
    limit: int | None = None
    pending: list[str] = field(default_factory=list)
    window: WindowRead = field(default_factory=WindowRead)


def read_scope(
    node: exp.Table,
    table: Table,
    scope: exp.Select,
    resolved: Resolved,
    known: Mapping[str, Sequence[str]],
    lineage: Lineage,
) -> Reference:
    """Collect constraints on this reference: the literals of its SELECT's WHERE and inner-join
    ONs, and what equalities to other columns give its steering params (see lineage.py)."""
    alias = node.alias_or_name
    conjunctions = list(conjuncts(scope))
    reference, consumed = literals(table, alias, conjunctions, resolved, known)
    reference.window = read_window(table, alias, conjunctions, resolved)
    reference.pending += reference.window.pending
    consumed += reference.window.consumed
    if reference.pending:
        return reference  # planned again once the subqueries have run
    for param in _steering_params(table):
        if param.name in reference.values:
            continue
        given = lineage.values(node, table, param)
        if given is not None:
            reference.values[param.name] = {v for v in given if accepts(param, v)}
        elif _mentions(conjunctions, param, alias):
            raise ParamError(
                f"{table.name}: {param.name} is constrained in a way vpnsql cannot plan",
                hint=f"write {param.name} = '{param.example}' or {param.name} IN (...) "
                "as a top-level AND condition",
            )
    if consumed == len(conjunctions) and _limit_is_final(scope):
        reference.limit = _literal_int(scope.args["limit"].expression) + _offset(scope)
    return reference


def literals(
    table: Table,
    alias: str,
    conjunctions: Iterable[exp.Expression],
    resolved: Resolved,
    known: Mapping[str, Sequence[str]],
) -> tuple[Reference, int]:
    """The reference's literal constraints (and subqueries to run first), and how many
    conditions they took."""
    reference = Reference(table)
    consumed = 0
    for conjunct in conjunctions:
        found = _constraint(conjunct, table, alias)
        if found is None:
            continue
        param, values = found
        if isinstance(values, str):  # a subquery: its values, or run it first
            if values not in resolved:
                reference.pending.append(values)
                continue
            values = list(resolved[values])
        checked = checked_values(table, param, values, known.get(param.name))
        previous = reference.values.get(param.name)
        reference.values[param.name] = checked if previous is None else previous & checked
        consumed += 1
    return reference, consumed


def accepts(param: Param, value: str) -> bool:
    """Whether the value can be the param's: one another table's column gave, which can match
    none of this table's rows otherwise."""
    try:
        param.validate(value)
    except ValueError:
        return False
    return True


def checked_values(
    table: Table, param: Param, values: Iterable[object], known: Sequence[str] | None
) -> set[str]:
    """The values as the API's strings. NULL equals nothing, so it is dropped: `col = NULL`
    leaves no value, and the reference needs no call."""
    checked: set[str] = set()
    for value in values:
        if value is None:
            continue
        if known is not None and value not in known:
            raise ParamError(
                f"{table.name}: '{value}' is not a known {param.name} "
                f"(known: {', '.join(known) or 'none'})",
                hint="values are compared exactly, as DuckDB compares the rows",
            )
        try:
            checked.add(param.validate(value))
        except ValueError as err:
            raise ParamError(f"{table.name}: {err}") from None
    return checked


def _steering_params(table: Table) -> tuple[Param, ...]:
    """Params whose values decide which calls are made, so any constraint the planner cannot
    read must be refused: an unread one would silently fall back to the defaults or ask
    everything. A table's (and a view's) required params; others only narrow, and DuckDB
    filters whatever a constraint the planner cannot read leaves."""
    return table.required_params


def _constraint(
    node: exp.Expression, table: Table, alias: str
) -> tuple[Param, list[object] | str] | None:
    """`col = lit`, `lit = col` or `col IN (lits)` on a param of this reference, else None.

    For `col IN (SELECT ...)` the values are the subquery's SQL, to be run first.
    """
    for column, values in literal_values(node):
        param = _param_of(column, table, alias)
        if param is not None:
            return param, values
    query = node.args.get("query") if isinstance(node, exp.In) else None
    if isinstance(query, exp.Subquery) and isinstance(query.this, exp.Query):
        param = _param_of(node.this, table, alias)
        return (param, standalone(query.this)) if param is not None else None
    return None


def standalone(query: exp.Query) -> str:
    """A subquery's SQL as a statement of its own, which runs before the statement around it:
    with the CTEs of the queries around it, which it may read (`WITH x AS (...) SELECT ...
    WHERE col IN (SELECT c FROM x)`); its own CTEs shadow theirs."""
    ancestors = []
    node = query.parent
    while node is not None:
        ancestors.append(node)
        node = node.parent
    outer = [
        cte
        for ancestor in reversed(ancestors)  # outermost first
        if isinstance(ancestor, exp.Query)
        for cte in ancestor.ctes
    ]
    if not outer:
        return query.sql(DIALECT)
    alone = query.copy()
    own = alone.ctes
    shadowed = {cte.alias_or_name.lower() for cte in own}
    ctes = [cte.copy() for cte in outer if cte.alias_or_name.lower() not in shadowed]
    alone.set("with_", exp.With(expressions=[*ctes, *own]))
    return alone.sql(DIALECT)


def _param_of(node: exp.Expression, table: Table, alias: str) -> Param | None:
    if not isinstance(node, exp.Column) or (node.table and node.table.lower() != alias.lower()):
        return None
    return table.param(node.name)


def _mentions(conjuncts: Iterable[exp.Expression], param: Param, alias: str) -> bool:
    """Whether a conjunct uses the param. A join condition (`col = other_col`) does not count:
    it leaves the param open (discovered or defaulted) and DuckDB applies the join."""
    return any(
        column.name.lower() in param.names
        and (not column.table or column.table.lower() == alias.lower())
        for conjunct in conjuncts
        if not _is_join_condition(conjunct)
        for column in conjunct.find_all(exp.Column)
    )


def _is_join_condition(node: exp.Expression) -> bool:
    return (
        isinstance(node, exp.EQ)
        and isinstance(node.this, exp.Column)
        and isinstance(node.expression, exp.Column)
    )


def _literal_int(node: exp.Expression | None) -> int | None:
    value = literal(node) if node is not None else NOT_LITERAL
    return value if isinstance(value, int) and value >= 0 else None


def _offset(scope: exp.Select) -> int:
    offset = scope.args.get("offset")
    return (_literal_int(offset.expression) or 0) if offset is not None else 0


def _limit_is_final(scope: exp.Select) -> bool:
    """True when the first N rows fetched are rows the query returns, so paging may stop."""
    limit = scope.args.get("limit")
    if limit is None or _literal_int(limit.expression) is None:
        return False
    options = limit.args.get("limit_options")
    if options is not None and (options.args.get("percent") or options.args.get("with_ties")):
        return False  # a share of all the rows, or ties beyond N: every row is needed
    offset = scope.args.get("offset")
    if offset is not None and _literal_int(offset.expression) is None:
        return False
    reshaping = ("order", "group", "having", "qualify", "distinct", "joins", "laterals")
    if any(scope.args.get(key) for key in reshaping):
        return False
    return not any(scope.find(kind) for kind in (exp.AggFunc, exp.Window))
