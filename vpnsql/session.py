"""A session: the registry, the planner, the fetcher and DuckDB wired together.

This is the Python API (`vpnsql.connect()`) and what the CLI and shell use, so a notebook gets
exactly the answers the command line gives.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from vpnsql import estate, explain, hints, planner, statements
from vpnsql.commands import Describe, Exec, Show
from vpnsql.config import Config
from vpnsql.engine import Engine, StagedCall, qualified
from vpnsql.errors import QueryError
from vpnsql.fetch import FetchCache, FetchStats, run_calls
from vpnsql.registry import Registry
from vpnsql.settings import make_settings
from vpnsql.statements import Confirm, Outcome
from vpnsql.tables import Column, Settings, Table

if TYPE_CHECKING:
    from vpnsql.sandbox import Sandbox

log = logging.getLogger("vpnsql")


class Session:
    """Plans, fetches and runs statements against one in-memory DuckDB database.

    `close()` (or leaving a `with` block) closes DuckDB and stops a sandbox the session
    started; relations it returned cannot be read after that.
    """

    def __init__(
        self,
        *,
        registry: Registry | None = None,
        settings: Settings | None = None,
        database: str = ":memory:",
        cache: FetchCache | None = None,
        confirm: Confirm = statements.refuse_many,
        allow_partial: bool = False,
    ) -> None:
        self.registry = registry or Registry.discover()
        self.settings = settings or Settings()
        self.engine = Engine(database, self.settings.memory_limit)
        self.cache = cache
        self.confirm = confirm
        self.allow_partial = allow_partial
        self.last_stats = FetchStats()
        self.last_failed = 0
        self._prepare = {
            name: provider.prepare
            for name, provider in self.registry.providers.items()
            if provider.prepare is not None
        }
        self.sandbox: Sandbox | None = None
        """The sandbox this session runs against (`connect(sandbox=True)`), else None."""
        self.resources = ExitStack()
        """What `close()` ends besides DuckDB (a sandbox)."""

    def close(self) -> None:
        """Close DuckDB and stop what the session started; closing twice is harmless."""
        try:
            self.resources.close()
        finally:
            self.engine.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *raised: object) -> None:
        self.close()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection, for anything beyond `sql()` (registering data frames, ...)."""
        return self.engine.connection

    def plan(self, text: str) -> list[planner.Statement]:
        return planner.plan(text, self.registry, self.settings)

    def run(self, statement: planner.Statement) -> duckdb.DuckDBPyRelation | None:
        """Fetch what the statement reads, load it, and run it.

        Plain SQL runs as written on DuckDB. SHOW/DESCRIBE answer from the registry; EXEC and
        DELETE call methods, and `last_failed` counts the calls that failed. With
        `allow_partial`, `last_stats.failures` lists the fetches that failed.
        """
        self.last_stats = FetchStats()
        self.last_failed = 0
        # Within one statement a (table, params) is fetched once, even if a subquery read it.
        cache = self.cache if self.cache is not None else FetchCache(ttl=math.inf)
        try:
            return self._run(statement, cache)
        finally:
            kept = self.cache.answers() if self.cache is not None else []
            self.engine.collect(answer for answer in kept if isinstance(answer, StagedCall))

    def _run(
        self, statement: planner.Statement, cache: FetchCache
    ) -> duckdb.DuckDBPyRelation | None:
        statement = self._resolve(statement, cache)
        action = statement.action
        if isinstance(action, Show) and action.kind == "ACCOUNTS":
            return self.engine.relation(*estate.show_accounts(action, self.registry, self.settings))
        if isinstance(action, Show):
            own = self.engine.own_tables() if action.kind == "TABLES" else []
            return self.engine.relation(*statements.show(action, self.registry, own))
        if isinstance(action, Describe):
            return self.engine.relation(*statements.describe(action))
        if isinstance(action, Exec):
            return self._outcome(statements.run_exec(action, self.settings))
        if isinstance(action, planner.Explain):
            return self._explain(statement, action, cache)
        self._load(statement, cache)
        with self._hinted(statement):
            if isinstance(action, planner.Delete):
                rows = self.engine.rows(action.select.text)
            else:
                return self.engine.sql(statement.text, hold=bool(statement.tables))
        if action.method is None:  # a cross-cloud view: each row's own cloud ends it
            outcome = statements.run_view_delete(
                action.table, action.branches, rows, self._rows_of, self.settings, self.confirm
            )
            return self._outcome(outcome)
        targets = statements.delete_targets(action.method, rows)
        outcome = statements.run_delete(
            action.method, action.table, targets, self.settings, self.confirm
        )
        return self._outcome(outcome)

    def _explain(
        self, statement: planner.Statement, action: planner.Explain, cache: FetchCache
    ) -> duckdb.DuckDBPyRelation:
        """EXPLAIN's rows, as DuckDB's (explain_key, explain_value), the API calls first: plain
        EXPLAIN creates the tables empty and calls nothing; ANALYZE fetches and runs."""
        inner = action.statement
        calls = explain.api_calls(
            inner, lambda sql: planner.plan_statement(sql, self.registry, self.settings)
        )
        rows: list[dict[str, object]] = [{"explain_key": "api_calls", "explain_value": calls}]
        if action.analyze:
            self._load(statement, cache)
            stats = self.last_stats
            made = f"made {stats.calls} API call(s), {stats.pages} page(s), {stats.rows} row(s)"
            made += f" in {stats.seconds:.3f} s; {stats.cached} answered from the cache"
            rows.append({"explain_key": "api_calls_made", "explain_value": made})
        else:
            for table in statement.tables:
                self.engine.load(table, [])
        target = inner.action.select if isinstance(inner.action, planner.Delete) else inner
        if target.expression is not None or target.action is None:
            with self._hinted(target):
                if action.analyze:
                    rows += self.engine.rows(f"EXPLAIN ANALYZE {target.text}")
                else:
                    rows += self.engine.plan(target.text)
        columns = (
            Column("explain_key", "VARCHAR", "What the row explains."),
            Column("explain_value", "VARCHAR", "The plan, as text."),
        )
        return self.engine.relation(columns, rows)

    @contextmanager
    def _hinted(self, statement: planner.Statement) -> Iterator[None]:
        """DuckDB's errors with what the declarations add (a short table name's full name,
        a STRUCT column's fields)."""
        try:
            yield
        except QueryError as err:
            found = hints.explain(err.message, statement.text, statement.tables, self.registry)
            raise QueryError(found.message, hint=found.hint or err.hint) from None

    def _load(self, statement: planner.Statement, cache: FetchCache) -> None:
        self.engine.new_fetch()
        fetched = run_calls(
            statement.calls,
            self.settings,
            self.engine.stage,
            cache,
            self.last_stats,
            allow_partial=self.allow_partial,
            prepare=self._prepare,
        )
        for table in dict.fromkeys([*statement.tables, *fetched]):
            self.engine.assemble(table, fetched.get(table, []))  # type: ignore[arg-type]
        for notice in self.last_stats.notices:
            log.warning("%s", notice)

    def _resolve(self, statement: planner.Statement, cache: FetchCache) -> planner.Statement:
        """Run the subqueries a statement's params come from, then plan it with their values."""
        resolved: dict[str, list[object]] = {}
        while statement.pending:
            for sql in statement.pending:
                inner = planner.plan_statement(sql, self.registry, self.settings)
                inner = self._resolve(inner, cache)
                self._load(inner, cache)
                values = (next(iter(row.values())) for row in self.engine.rows(inner.text))
                resolved[sql] = [value for value in values if value is not None]
            statement = planner.plan_statement(
                statement.text, self.registry, self.settings, resolved
            )
        return statement

    def _rows_of(self, table: Table) -> list[dict[str, object]]:
        """What this statement fetched into a virtual table."""
        return self.engine.rows(f"SELECT * FROM {qualified(table)}")

    def _outcome(self, outcome: Outcome) -> duckdb.DuckDBPyRelation:
        self.last_failed = outcome.failed
        if self.cache is not None:
            self.cache.clear()  # a method changed the cloud under the cache
        return self.engine.relation(outcome.columns, outcome.rows)

    def execute(self, text: str) -> Iterator[duckdb.DuckDBPyRelation | None]:
        """Run `;`-separated statements in order, yielding each one's result as it is reached."""
        for statement in self.plan(text):
            yield self.run(statement)

    def sql(self, text: str) -> duckdb.DuckDBPyRelation | None:
        """Run the statements of `text`; the result of the last one."""
        result = None
        for result in self.execute(text):  # noqa: B007 - each statement must run in order
            pass
        return result


def connect(
    *,
    config: str | Path | Config | None = None,
    profile: str | None = None,
    max_concurrency: int | None = None,
    max_calls: int | None = None,
    timeout: float | None = None,
    database: str = ":memory:",
    dry_run: bool = False,
    confirm: Confirm = statements.refuse_many,
    allow_partial: bool = False,
    sandbox: bool = False,
) -> Session:
    """Open a session using the installed providers, the config file and the standard
    credential chains.

    `config` is the estate's config file (a path, or a `vpnsql.config.Config`); without one,
    `$VPNSQL_CONFIG` or `$XDG_CONFIG_HOME/vpnsql/config.toml` if it exists, else one default
    account per cloud.

    With `sandbox`, the session runs against a fresh local sandbox with demo data and its
    estate (see docs/sandbox.md), and none of the real clouds' configuration: its variables
    are set in `os.environ` until the session is closed, which stops the sandbox; use `with
    vpnsql.connect(sandbox=True) as session:` or call `close()`. `session.sandbox` is it.

    `confirm` decides whether a DELETE may terminate what it selected (see
    `statements.Preview`); by default one connection may go and more raise
    ConfirmationRequired. `allow_partial` keeps the rows of the calls that worked when others
    fail (see `Session.last_stats.failures`). `timeout` is `--timeout`: seconds a statement
    may wait on the clouds (each call's attempts share at most `CALL_TIMEOUT` of them).
    """
    resources = ExitStack()
    running = None
    if sandbox:  # first, so that its config file is the one found (config= still wins)
        from vpnsql.isolation import sandboxed

        running = resources.enter_context(sandboxed())
    try:
        registry = Registry.discover()
        settings = make_settings(
            registry,
            config=config,
            profile=profile,
            dry_run=dry_run,
            max_concurrency=max_concurrency,
            max_calls=max_calls,
            timeout=timeout,
        )
        session = Session(
            registry=registry,
            settings=settings,
            database=database,
            confirm=confirm,
            allow_partial=allow_partial,
        )
    except BaseException:
        resources.close()
        raise
    session.sandbox = running
    session.resources.enter_context(resources)
    return session
