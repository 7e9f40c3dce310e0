"""The DuckDB side: typed tables loaded from fetched rows, and the user's SQL run unchanged.

Virtual tables live at their own names (`ATTACH ':memory:' AS aws`, schema `ec2_api`) so the
statement resolves exactly as written, and DuckDB re-applies every predicate itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

import duckdb

from vpnsql.errors import QueryError
from vpnsql.tables import Column, Row, Table

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pyarrow as pa

T = TypeVar("T")

INTERRUPT_GRACE = 5.0
"""Seconds Ctrl-C waits for DuckDB to stop before leaving the work behind."""

ARROW_ROWS = 10_000
"""From this many rows up a load goes through Arrow, about 2.5x faster per row than bound
parameters; below it, parameters spare a one-liner the import of pyarrow and numpy (0.1 s)."""


def interruptible(connection: duckdb.DuckDBPyConnection, work: Callable[[], T]) -> T:
    """Run DuckDB work on a thread and wait for it, so that Ctrl-C stops it.

    DuckDB notices Ctrl-C in some calls and not in others (a result read row by row runs to
    its end), so the main thread waits here, turns Ctrl-C into `connection.interrupt()`, and
    raises KeyboardInterrupt once DuckDB has stopped (or INTERRUPT_GRACE has passed).
    """
    result: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()  # not Thread.join: Ctrl-C inside join() can end it too early

    def run() -> None:
        try:
            result.append(work())
        except BaseException as err:  # handed to the waiting thread
            failure.append(err)
        finally:
            done.set()

    threading.Thread(target=run, name="vpnsql-duckdb", daemon=True).start()
    try:
        while not done.wait(0.1):
            pass
    except KeyboardInterrupt:
        # DuckDB forgets an interrupt that lands before its query starts, so repeat it until
        # the work ends (DuckDB removes what it was writing before it returns). Rarely a query
        # keeps running regardless; after a grace period it is left behind, so Ctrl-C always
        # returns (the CLI then exits, the shell goes back to its prompt).
        deadline = time.monotonic() + INTERRUPT_GRACE
        connection.interrupt()
        while not done.wait(0.1) and time.monotonic() < deadline:
            connection.interrupt()
        raise
    if failure:
        raise failure[0]
    return result[0]


def quote(identifier: str) -> str:
    """A DuckDB identifier in double quotes, so names like `timestamp` are safe."""
    return '"' + identifier.replace('"', '""') + '"'


def qualified(table: Table) -> str:
    return ".".join(quote(part) for part in (table.provider, table.service, table.resource))


class Engine:
    """One DuckDB connection holding the materialized virtual tables of a session."""

    def __init__(self, database: str = ":memory:") -> None:
        # DuckDB opens the database without holding the GIL (about 30 ms), so it opens in the
        # background while the statement is planned and fetched; errors surface at first use.
        # Its clock is UTC, as every time vpnsql loads is: `now()::TIMESTAMP - INTERVAL 1 HOUR`
        # means the last hour wherever the machine is.
        opener = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vpnsql-duckdb")
        self._opening = opener.submit(_open, database)
        opener.shutdown(wait=False)
        self._schemas: dict[tuple[Column, ...], pa.Schema] = {}
        self._created: set[Table] = set()
        self._catalogs: set[str] = set()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        return self._opening.result()

    def relation(self, columns: tuple[Column, ...], rows: Sequence[Row]) -> duckdb.DuckDBPyRelation:
        """A result that is not a virtual table (SHOW, EXEC outcomes) as a DuckDB relation."""
        select, params = _bound(columns, rows)
        return self.connection.sql(select, params=params)

    def load(self, table: Table, rows: Sequence[Row]) -> None:
        """Replace the table's content with `rows`, typed as declared (DuckDB casts each column,
        whichever way it arrives)."""
        if table not in self._created:
            self._create(table)
        name = qualified(table)
        self.connection.execute(f"DELETE FROM {name}")
        try:
            self._insert(name, table.columns, rows)
        except (duckdb.Error, OverflowError, ValueError) as err:
            reason = str(err).split("\n\n")[0]  # not DuckDB's echo of vpnsql's own SQL
            raise QueryError(
                f"cannot load {table.name}: {reason}",
                hint="the API sent a value that does not fit the column's declared type",
            ) from None

    def _insert(self, name: str, columns: tuple[Column, ...], rows: Sequence[Row]) -> None:
        if len(rows) < ARROW_ROWS:
            select, params = _bound(columns, rows)
            self.connection.execute(f"INSERT INTO {name} {select}", params)
            return
        self.connection.register("__vpnsql_load", self._arrow(columns, rows))
        try:
            self.connection.execute(f"INSERT INTO {name} SELECT * FROM __vpnsql_load")
        finally:
            self.connection.unregister("__vpnsql_load")

    def _arrow(self, columns: tuple[Column, ...], rows: Sequence[Row]) -> pa.Table:
        """Rows as an Arrow table typed by the declared DuckDB types (DuckDB maps them)."""
        import pyarrow as pa

        schema = self._schemas.get(columns)
        if schema is None:
            casts = ", ".join(f"NULL::{c.type} AS {quote(c.name)}" for c in columns)
            schema = self._schemas[columns] = self.connection.sql(f"SELECT {casts}").arrow().schema
        data = {name: [row.get(name) for row in rows] for name in schema.names}
        return pa.Table.from_pydict(data, schema=schema)

    def _create(self, table: Table) -> None:
        if table.provider not in self._catalogs:
            self.connection.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {quote(table.provider)}")
            self._catalogs.add(table.provider)
        schema = f"{quote(table.provider)}.{quote(table.service)}"
        self.connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        columns = ", ".join(f"{quote(c.name)} {c.type}" for c in table.columns)
        self.connection.execute(f"CREATE OR REPLACE TABLE {qualified(table)} ({columns})")
        self._created.add(table)

    def sql(self, text: str, *, hold: bool = False) -> duckdb.DuckDBPyRelation | None:
        """Run the user's statement as written; a relation for queries, None otherwise.

        With `hold`, for statements that read virtual tables, the rows are taken at once: the
        tables are reloaded by the next statement that reads them, which a lazy result would
        see.
        """

        def run() -> duckdb.DuckDBPyRelation | None:
            relation = self.connection.sql(text)
            return relation.materialize() if hold and relation is not None else relation

        try:
            return interruptible(self.connection, run)
        except duckdb.Error as err:
            raise QueryError(str(err)) from None

    def rows(self, query: str) -> list[dict[str, object]]:
        """All rows of a SELECT vpnsql made itself (a DELETE's targets, a subquery's values)."""
        relation = self.sql(query)
        if relation is None:
            raise QueryError(f"not a query: {query}")
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def _open(database: str) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(database)
    connection.execute("SET TimeZone = 'UTC'")  # after connect: ICU, which takes it, is loaded
    return connection


def _bound(columns: tuple[Column, ...], rows: Sequence[Row]) -> tuple[str, list[list[object]]]:
    """A SELECT of `rows` with each column bound as one list parameter, cast to its declared
    type and unnested (DuckDB unnests the lists of one SELECT side by side)."""
    select = ", ".join(
        f"UNNEST(${index}::{column.type}[]) AS {quote(column.name)}"
        for index, column in enumerate(columns, start=1)
    )
    return f"SELECT {select}", [[row.get(column.name) for row in rows] for column in columns]
