"""Constraint extraction: the AND-ed `col = literal` / `col IN (...)` conditions that apply to
one reference of a virtual table, checked against its params, and whether a LIMIT may stop
paging early."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sqlglot import exp

from vpnsql.errors import ParamError
from vpnsql.planner.model import Resolved
from vpnsql.planner.syntax import DIALECT
from vpnsql.tables import Param, Table

_NOT_LITERAL = object()


@dataclass
class Reference:
    """A virtual table as it appears once in a statement, with what its scope says about it."""

    table: Table
    values: dict[str, set[str]] = field(default_factory=dict)
    limit: int | None = None
    pending: list[str] = field(default_factory=list)


def read_scope(
    table: Table,
    alias: str,
    scope: exp.Select,
    resolved: Resolved,
    known: Mapping[str, Sequence[str]],
) -> Reference:
    """Collect constraints on this reference from its SELECT's WHERE and inner-join ONs."""
    reference = Reference(table)
    conjuncts = list(_conjuncts(scope))
    consumed = 0
    for conjunct in conjuncts:
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
    if reference.pending:
        return reference  # planned again once the subqueries have run
    for param in _steering_params(table):
        if param.name not in reference.values and _mentions(conjuncts, param, alias):
            raise ParamError(
                f"{table.name}: {param.name} is constrained in a way vpnsql cannot plan",
                hint=f"write {param.name} = '{param.example}' or {param.name} IN (...) "
                "as a top-level AND condition",
            )
    if consumed == len(conjuncts) and _limit_is_final(scope):
        reference.limit = _literal_int(scope.args["limit"].expression) + _offset(scope)
    return reference


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


def _conjuncts(scope: exp.Select) -> Iterator[exp.Expression]:
    where = scope.args.get("where")
    if where is not None:
        yield from _flatten_and(where.this)
    for join in scope.args.get("joins") or []:
        on = join.args.get("on")
        if on is not None and not join.side and join.kind in ("", "INNER"):
            yield from _flatten_and(on)


def _flatten_and(node: exp.Expression) -> Iterator[exp.Expression]:
    node = node.unnest()
    if isinstance(node, exp.And):
        for part in node.flatten():
            yield from _flatten_and(part)
    else:
        yield node


def _constraint(
    node: exp.Expression, table: Table, alias: str
) -> tuple[Param, list[object] | str] | None:
    """`col = lit`, `lit = col` or `col IN (lits)` on a param of this reference, else None.

    For `col IN (SELECT ...)` the values are the subquery's SQL, to be run first.
    """
    if isinstance(node, exp.EQ):
        sides = [(node.this, node.expression), (node.expression, node.this)]
        for column, other in sides:
            param = _param_of(column, table, alias)
            value = literal(other)
            if param is not None and value is not _NOT_LITERAL:
                return param, [value]
    query = node.args.get("query") if isinstance(node, exp.In) else None
    if isinstance(query, exp.Subquery) and isinstance(query.this, exp.Query):
        param = _param_of(node.this, table, alias)
        return (param, query.this.sql(DIALECT)) if param is not None else None
    if isinstance(node, exp.In) and query is None and not node.args.get("unnest"):
        param = _param_of(node.this, table, alias)
        values = [literal(v) for v in node.expressions]
        if param is not None and values and _NOT_LITERAL not in values:
            return param, values
    return None


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


def literal(node: exp.Expression) -> object:
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        number = float(node.this)
        return int(number) if number.is_integer() and "." not in node.this else number
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        value = literal(node.this)
        return -value if isinstance(value, int | float) else _NOT_LITERAL
    if isinstance(node, exp.Boolean):
        return node.this
    if isinstance(node, exp.Null):
        return None
    return _NOT_LITERAL


def _literal_int(node: exp.Expression | None) -> int | None:
    value = literal(node) if node is not None else _NOT_LITERAL
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
