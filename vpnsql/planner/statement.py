"""Planning a statement: commands, DELETE, or SQL whose virtual tables become calls."""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from vpnsql.commands import parse_command
from vpnsql.errors import SqlSyntaxError, UnsupportedStatementError
from vpnsql.planner.calls import calls_for, group_by_table
from vpnsql.planner.delete import plan_delete
from vpnsql.planner.model import Call, Delete, Explain, Resolved, Statement
from vpnsql.planner.references import find_references, is_virtual
from vpnsql.planner.syntax import (
    DIALECT,
    mentions_provider,
    readable,
    split_statements,
    syntax_error,
)
from vpnsql.planner.views import sql_view_calls, view_calls, view_sources
from vpnsql.registry import Registry
from vpnsql.tables import Settings

RECURSION_LIMIT = 10_000
"""Python's recursion limit while planning: sqlglot's parser takes some 22 frames per level of
nesting, so the default 1000 stops at 44 levels; this plans about 400 (DuckDB's own limit is
1000 levels, and sqlglot stays within the C stack of any thread at this depth)."""


def plan(text: str, registry: Registry, settings: Settings | None = None) -> list[Statement]:
    """Plan every statement of `text` (which must be `readable`)."""
    settings = settings or Settings()
    pieces = split_statements(readable(text))
    return [plan_statement(piece, registry, settings) for piece in pieces]


def plan_statement(
    text: str, registry: Registry, settings: Settings, resolved: Resolved | None = None
) -> Statement:
    """Plan one statement: which calls to make before DuckDB runs `text` unchanged.

    A statement nested too deeply for sqlglot is DuckDB's to run when it reads no virtual
    table, and a clear error when it does.
    """
    try:
        with _deep_recursion():
            return _plan_statement(text, registry, settings, resolved or {})
    except RecursionError:
        if not mentions_provider(text, registry):
            return Statement(text, None)
        raise SqlSyntaxError(
            "the statement is too deeply nested for vpnsql to plan",
            hint="flatten the parentheses, or move a part into a CTE (WITH ...)",
        ) from None


_recursion = threading.Lock()
_planning = [0, 0]  # statements being planned (on any thread), the limit to restore


@contextmanager
def _deep_recursion() -> Iterator[None]:
    """RECURSION_LIMIT while any thread plans, the previous limit once none does."""
    with _recursion:
        if _planning[0] == 0:
            _planning[1] = sys.getrecursionlimit()
            sys.setrecursionlimit(max(_planning[1], RECURSION_LIMIT))
        _planning[0] += 1
    try:
        yield
    finally:
        with _recursion:
            _planning[0] -= 1
            if _planning[0] == 0:
                sys.setrecursionlimit(_planning[1])


def _plan_statement(
    text: str, registry: Registry, settings: Settings, resolved: Resolved
) -> Statement:
    explained = _explained(text)
    if explained is not None:
        return _plan_explain(text, *explained, registry, settings, resolved)
    command = parse_command(text, registry, settings)
    if command is not None:
        return Statement(text, None, action=command)
    try:
        expression = sqlglot.parse_one(text, read=DIALECT)
    except ParseError as err:
        if mentions_provider(text, registry):
            raise syntax_error(err) from None
        # Not ours to judge: DuckDB's grammar is wider than sqlglot's, let DuckDB answer.
        return Statement(text, None)
    if isinstance(expression, exp.Delete) and is_virtual(expression.this, registry):
        return plan_delete(text, expression, registry, settings, resolved, plan_statement)
    references = list(find_references(expression, registry, resolved))
    if references and isinstance(expression, exp.Create) and expression.kind == "VIEW":
        raise UnsupportedStatementError(
            f"a view over {references[0].table.name} would read whatever a later statement "
            "fetched into it, not what this one asks for",
            hint="keep the rows with CREATE TABLE ... AS SELECT, or use a CTE (WITH ...)",
        )
    pending = tuple(dict.fromkeys(sql for r in references for sql in r.pending))
    if pending:
        tables = tuple(dict.fromkeys(r.table for r in references))
        return Statement(text, expression, pending=pending, tables=tables)
    calls: list[Call] = []
    grouped = group_by_table(references)
    for table, refs in grouped.items():
        if table.view is not None:
            calls.extend(sql_view_calls(table, refs, pushdown=settings.pushdown))
        elif table.cross_cloud:
            calls.extend(view_calls(table, refs, registry))
        else:
            calls.extend(calls_for(table, refs, pushdown=settings.pushdown))
    # A SqlView's source is loaded before the view is defined over it.
    tables = (t for table in grouped for t in (*view_sources(table), table))
    return Statement(text, expression, tuple(calls), tables=tuple(dict.fromkeys(tables)))


_EXPLAIN = re.compile(r"\s*EXPLAIN\s+(ANALY[SZ]E\s+)?(?=\S)", re.IGNORECASE)


def _explained(text: str) -> tuple[str, bool] | None:
    """The statement an `EXPLAIN [ANALYZE]` is about, and whether to run it; None otherwise
    (as for DuckDB's `EXPLAIN (FORMAT json) ...`, left to DuckDB)."""
    match = _EXPLAIN.match(text)
    if match is None or text[match.end()] == "(":
        return None
    return text[match.end() :], match.group(1) is not None


def _plan_explain(
    text: str,
    inner_text: str,
    analyze: bool,
    registry: Registry,
    settings: Settings,
    resolved: Resolved,
) -> Statement:
    """EXPLAIN plans the statement without fetching anything (its subqueries are not run
    either); EXPLAIN ANALYZE fetches and runs it, so it may not end sessions."""
    inner = plan_statement(inner_text, registry, settings, resolved)
    if analyze and isinstance(inner.action, Delete):
        raise UnsupportedStatementError(
            "EXPLAIN ANALYZE would run the DELETE and terminate its connections",
            hint="EXPLAIN DELETE ... shows the calls without making them; --dry-run runs it "
            "as the API's dry run",
        )
    if not analyze:
        return Statement(text, None, action=Explain(inner), tables=inner.tables)
    return Statement(
        text, None, inner.calls, Explain(inner, analyze=True), inner.pending, inner.tables
    )
