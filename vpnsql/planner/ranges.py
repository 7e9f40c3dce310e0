"""Time ranges: the AND-ed `>=`, `>`, `<`, `<=` and BETWEEN conditions on a table's window
columns (see `TimeWindow`), as the range its API may be asked for.

A bound is taken only when DuckDB would get the same moment from it: the planner asks for its
value as `SELECT CAST((expr) AS TIMESTAMP)`, run by the session before the plan is made again
(as for `param IN (SELECT ...)`), so casts, time zones and `now()` mean exactly what they mean
in the statement. What is pushed may be wider than the statement, never narrower:

- a constant (`'2024-05-01'`, `TIMESTAMP '...' + INTERVAL 1 DAY`) bounds either end;
- an expression of the clock (`now()::TIMESTAMP - INTERVAL 7 DAY`, `date_trunc('day',
  current_timestamp)`) only bounds the lower end: it is evaluated a moment before DuckDB runs
  the statement, and the clock only moves forward;
- an `earlier` column (a connection's start, which precedes every entry about it) only bounds
  the lower end;
- anything else (a column, a subquery, another function) bounds nothing.

Without a lower bound, a window with a `default` starts that long before now, and the plan
carries a notice saying so.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlglot import exp

from vpnsql.planner.model import Resolved
from vpnsql.planner.syntax import DIALECT
from vpnsql.tables import Bound, Table, TimeRange

_CONSTANT = (
    exp.Literal, exp.Cast, exp.TryCast, exp.DataType, exp.DataTypeParam, exp.Interval, exp.Var,
    exp.Add, exp.Sub, exp.Mul, exp.Paren, exp.Neg, exp.Null, exp.StrToTime, exp.UnixToTime,
    exp.TimestampFromParts, exp.DateTrunc, exp.TimestampTrunc,
)  # fmt: skip
"""Nodes a constant bound may contain: literals, casts, interval arithmetic, pure functions."""
_CLOCK = (exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentDatetime, exp.Localtimestamp)
_CLOCK_FUNCTIONS = frozenset(
    {"now", "today", "get_current_timestamp", "transaction_timestamp", "current_localtimestamp"}
)
_NANOSECONDS = frozenset({exp.DataType.Type.TIMESTAMP_NS})
"""A nanosecond bound loses digits as a TIMESTAMP, which could move it past an event."""


@dataclass
class WindowRead:
    """What one reference's conditions say about its table's window."""

    range: TimeRange | None = None
    """None when no condition bounds the window (and no default applies)."""
    pending: list[str] = field(default_factory=list)
    consumed: int = 0
    """Conditions pushed exactly (DuckDB's re-check cannot drop a row the API returned)."""
    defaulted: bool = False
    """The lower bound is the window's default, not the statement's."""


def read_window(
    table: Table, alias: str, conjuncts: Iterable[exp.Expression], resolved: Resolved
) -> WindowRead:
    """The range the conjuncts allow the table's window, or the values still to be computed."""
    found = table.time_window
    read = WindowRead()
    if found is None:
        return read
    window, columns = found
    bounds: dict[str, list[Bound]] = {"lower": [], "upper": []}
    asked: set[str] = set()
    empty = False
    for conjunct in conjuncts:
        candidates = list(_bounds(conjunct, columns, alias))
        exact = bool(candidates)
        for side, inclusive, node, both in candidates:
            clock = _clock(node)
            if clock is None or (side == "upper" and (clock or not both)):
                exact = False
                continue
            exact = exact and both and not clock
            asked.add(side)
            sql = f"SELECT CAST(({node.sql(DIALECT)}) AS TIMESTAMP)"
            if sql not in resolved:
                read.pending.append(sql)
            elif (moment := _moment(resolved[sql])) is not None:
                bounds[side].append(Bound(moment, inclusive))
            else:
                empty = True  # a NULL bound: no row compares true with it
        read.consumed += exact
    if "lower" not in asked and window.default is not None:
        seconds = int(window.default.total_seconds())
        sql = f"SELECT CAST(now() AS TIMESTAMP) - INTERVAL ({seconds}) SECOND"
        read.defaulted = True
        if sql not in resolved:
            read.pending.append(sql)
        elif (moment := _moment(resolved[sql])) is not None:
            bounds["lower"].append(Bound(moment))
    if empty:
        read.range = NOTHING
    elif not read.pending and (bounds["lower"] or bounds["upper"]):
        read.range = TimeRange(_tightest(bounds["lower"], max), _tightest(bounds["upper"], min))
    return read


NOTHING = TimeRange(Bound(datetime.max, False), Bound(datetime.max, False))
"""The range of a statement no row can satisfy (`eventTime >= NULL`)."""


def default_notice(table: Table) -> str:
    """What a defaulted window leaves out, and how to read further back."""
    found = table.time_window
    assert found is not None and found[0].default is not None
    window, columns = found
    column = next(name for name in _declared(table, columns))
    hours = window.default.total_seconds() / 3600
    span = f"{hours:g} hours" if hours < 48 else f"{hours / 24:g} days"
    return (
        f"{table.name}: no lower bound on {column}, so only the last {span} were read; "
        f"add e.g. {column} >= '2020-01-01' to read further back"
    )


def _declared(table: Table, columns: dict[str, bool]) -> Iterator[str]:
    """The range columns as the table spells them, those with both bounds first."""
    ordered = sorted(columns, key=lambda name: not columns[name])
    names = {c.name.lower(): c.name for c in table.columns}
    return (names[name] for name in ordered)


def _moment(values: Iterable[object]) -> datetime | None:
    """The value DuckDB computed for a bound (its NULLs were dropped: none is left)."""
    moment = next(iter(values), None)
    if moment is not None and not isinstance(moment, datetime):
        raise TypeError(f"a time bound came back as {type(moment).__name__}")
    return moment


def _tightest(bounds: list[Bound], pick: object) -> Bound | None:
    """The bound every row must satisfy: the latest lower or the earliest upper, and at a tie
    the exclusive one."""
    if not bounds:
        return None
    at = pick([b.at for b in bounds])  # type: ignore[operator]
    return Bound(at, all(b.inclusive for b in bounds if b.at == at))


def _bounds(
    node: exp.Expression, columns: dict[str, bool], alias: str
) -> Iterator[tuple[str, bool, exp.Expression, bool]]:
    """(side, inclusive, bound expression, both sides push) for a range condition on a window
    column of this reference: `col >= x`, `x < col`, `col BETWEEN a AND b`."""
    if isinstance(node, exp.Between):
        both = _column(node.this, columns, alias)
        if both is not None:
            yield "lower", True, node.args["low"], both
            yield "upper", True, node.args["high"], both
        return
    sides = {exp.GTE: ("lower", True), exp.GT: ("lower", False),
             exp.LTE: ("upper", True), exp.LT: ("upper", False)}  # fmt: skip
    if type(node) not in sides:
        return
    side, inclusive = sides[type(node)]
    both = _column(node.this, columns, alias)
    if both is not None:
        yield side, inclusive, node.expression, both
        return
    both = _column(node.expression, columns, alias)
    if both is not None:  # `x <= col` is `col >= x`
        yield ("upper" if side == "lower" else "lower"), inclusive, node.this, both


def _column(node: exp.Expression, columns: dict[str, bool], alias: str) -> bool | None:
    if not isinstance(node, exp.Column) or (node.table and node.table.lower() != alias.lower()):
        return None
    return columns.get(node.name.lower())


def _clock(node: exp.Expression) -> bool | None:
    """False for a constant, True for an expression that only moves forward with the clock,
    None for anything else (which bounds nothing)."""
    if isinstance(node, exp.Literal) and not node.is_string:
        return None  # a bare number is no moment
    if isinstance(node, _CLOCK) or (
        isinstance(node, exp.Anonymous) and node.name.lower() in _CLOCK_FUNCTIONS
    ):
        return True
    if isinstance(node, exp.Paren | exp.Cast | exp.DateTrunc | exp.TimestampTrunc):
        inner = node.this
        if isinstance(node, exp.Cast) and node.to.this in _NANOSECONDS:
            return None
        if _clock(inner) is True:
            return True
    if isinstance(node, exp.Add | exp.Sub):
        left, right = _clock(node.this), _constant(node.expression)
        if left is True and right:
            return True
        if isinstance(node, exp.Add) and _constant(node.this) and _clock(node.expression) is True:
            return True
    return False if _constant(node) else None


def _constant(node: exp.Expression) -> bool:
    for part in node.walk():
        if not isinstance(part, _CONSTANT):
            return False
        if isinstance(part, exp.DataType) and part.this in _NANOSECONDS:
            return False
    return True
