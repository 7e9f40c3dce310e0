"""A session: the registry, the planner, the fetcher and DuckDB wired together.

This is the Python API (`vpnsql.connect()`) and what the CLI and shell use, so a notebook gets
exactly the answers the command line gives.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb

from vpnsql import planner
from vpnsql.engine import Engine
from vpnsql.fetch import FetchCache, FetchStats, run_calls
from vpnsql.registry import Registry
from vpnsql.tables import Settings


class Session:
    """Plans, fetches and runs statements against one in-memory DuckDB database."""

    def __init__(
        self,
        *,
        registry: Registry | None = None,
        settings: Settings | None = None,
        database: str = ":memory:",
        cache: FetchCache | None = None,
    ) -> None:
        self.registry = registry or Registry.discover()
        self.settings = settings or Settings()
        self.engine = Engine(database)
        self.cache = cache
        self.last_stats = FetchStats()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection, for anything beyond `sql()` (registering data frames, ...)."""
        return self.engine.connection

    def plan(self, text: str) -> list[planner.Statement]:
        return planner.plan(text, self.registry, self.settings)

    def run(self, statement: planner.Statement) -> duckdb.DuckDBPyRelation | None:
        """Fetch what the statement reads, load it, and run the statement's own text."""
        self.last_stats = FetchStats()
        fetched = run_calls(statement.calls, self.settings, self.cache, self.last_stats)
        for table, rows in fetched.items():
            self.engine.load(table, rows)
        return self.engine.sql(statement.text)

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
    *, profile: str | None = None, max_concurrency: int = 8, database: str = ":memory:"
) -> Session:
    """Open a session using the installed providers and the standard credential chains."""
    return Session(settings=Settings(profile, max_concurrency), database=database)
