"""What the planner produces: calls to make, and statements that say what to do with them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlglot import exp

from vpnsql.commands import Command
from vpnsql.tables import Method, Param, Table, TimeRange, ViewBranch

QUIET = (exp.Create, exp.Insert, exp.Update, exp.Delete, exp.Drop, exp.Alter, exp.Set, exp.Use)


@dataclass(frozen=True)
class Call:
    """One fetch: single values of the required params, filter values, and a row limit."""

    table: Table
    params: tuple[tuple[str, str], ...]
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    limit: int | None = None
    discover: tuple[Param, ...] = ()
    """Required params the WHERE clause left open, whose values the fetcher discovers first
    (e.g. every Client VPN endpoint of the region); such a call stands for one call each."""
    via: ViewBranch | None = None
    """For a cross-cloud view: the branch whose rows, mapped, also fill the view."""
    skippable: bool = False
    """A view's call on a cloud the statement did not name (`provider = ...`): a cloud with no
    credentials is then skipped with a notice; a cloud asked for by name is an error."""
    window: TimeRange | None = None
    """For a table with a TimeWindow: the range its rows must lie in (None: all of it)."""
    notice: str | None = None
    """What the plan tells the user when this call runs (its window is the default one)."""


@dataclass(frozen=True)
class Delete:
    """`DELETE FROM table WHERE ...`: run `method` for each active row `select` returns.

    On a cross-cloud view `method` is None and `branches` names each cloud's branch and the
    method that ends one of its sessions (None where the cloud has none)."""

    table: Table
    method: Method | None
    select: Statement
    branches: tuple[tuple[str, ViewBranch, Method | None], ...] = ()


@dataclass(frozen=True)
class Explain:
    """`EXPLAIN [ANALYZE] statement`: what `statement` would do. Plain EXPLAIN makes no API
    call (its tables are created empty for DuckDB's plan); ANALYZE runs it."""

    statement: Statement
    analyze: bool = False


@dataclass(frozen=True)
class Statement:
    """One statement of the user's input: its exact text, the calls that feed it, and for
    statements that are not plain SQL (EXEC, DELETE, SHOW, DESCRIBE) what to do instead."""

    text: str
    expression: exp.Expression | None
    calls: tuple[Call, ...] = ()
    action: Command | Delete | Explain | None = None
    pending: tuple[str, ...] = ()
    """Subqueries (`param IN (SELECT ...)`) whose values are needed before any call can be
    planned: run them and plan again with their values as `resolved`."""
    tables: tuple[Table, ...] = ()
    """Every virtual table the statement reads, to be loaded even when no call feeds it."""

    @property
    def shows_result(self) -> bool:
        """Whether the result is worth showing: DDL and DML answer only a count."""
        quiet = isinstance(self.expression, QUIET) and self.action is None
        return not quiet


Resolved = Mapping[str, Sequence[object]]
"""Values of subqueries already run, by their SQL text (see Statement.pending)."""
