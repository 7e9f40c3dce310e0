"""The DuckDB side: typed tables loaded from fetched rows, and the user's SQL run unchanged.

Virtual tables live at their own names (`ATTACH ':memory:' AS aws`, schema `ec2_api`) so the
statement resolves exactly as written, and DuckDB re-applies every predicate itself.
"""

from __future__ import annotations

import itertools
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import duckdb

from vpnsql.errors import QueryError
from vpnsql.tables import Column, Row, Table, ViewBranch

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


STAGE_CATALOG = "__vpnsql"
"""Where each call's rows are kept (one table per call); the virtual tables are views over them."""

HELD_ROWS = 50_000
"""Rows of small calls a fetch keeps in Python to load in one go (a DuckDB statement per call
costs milliseconds: hundreds of small calls would spend more time loading than asking); past
this many, every call goes to a table of its own as it comes."""


class Engine:
    """One DuckDB connection holding a session's fetched rows and its virtual tables.

    A call's rows go, page by page, into a staging table of their own once they are many
    (ARROW_ROWS); a small call's rows are held until the statement's tables are assembled and
    then loaded with the other small calls' in one statement (up to HELD_ROWS in all). A
    virtual table is a view over the calls a statement read. So Python holds about a page per
    big call in flight, a big call answered from the shell's cache costs no reload, and the
    staging tables nobody uses any more are dropped (`collect`).
    """

    def __init__(self, database: str = ":memory:", memory_limit: str = "256MB") -> None:
        # DuckDB opens the database without holding the GIL (about 30 ms), so it opens in the
        # background while the statement is planned and fetched; errors surface at first use.
        # Its clock is UTC, as every time vpnsql loads is: `now()::TIMESTAMP - INTERVAL 1 HOUR`
        # means the last hour wherever the machine is. Past `memory_limit` it spills to a
        # temporary directory of its own (readable by the user only: the rows are theirs),
        # removed when the engine closes or is collected.
        self.memory_limit = memory_limit
        self._spill = tempfile.mkdtemp(prefix="vpnsql-duckdb-")
        self._removal = weakref.finalize(self, shutil.rmtree, self._spill, ignore_errors=True)
        opener = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vpnsql-duckdb")
        self._opening = opener.submit(_open, database, memory_limit, self._spill)
        opener.shutdown(wait=False)
        self._schemas: dict[tuple[Column, ...], pa.Schema] = {}
        self._catalogs: set[str] = set()
        self._views: dict[Table, list[str]] = {}
        self._staged: set[str] = set()
        self._names = itertools.count(1)
        self.held = 0
        """Rows held in Python by this fetch's small calls (see HELD_ROWS)."""
        self.lock = threading.RLock()
        """Held around every use of the connection from the fetcher's threads."""

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        return self._opening.result()

    def close(self) -> None:
        """Close DuckDB and remove its spill directory (closing twice is harmless)."""
        try:
            self.connection.close()
        finally:
            self._removal()

    def relation(self, columns: tuple[Column, ...], rows: Sequence[Row]) -> duckdb.DuckDBPyRelation:
        """A result that is not a virtual table (SHOW, EXEC outcomes) as a DuckDB relation."""
        select, params = _bound(columns, rows)
        return self.connection.sql(select, params=params)

    def stage(self, table: Table, via: ViewBranch | None = None) -> _Stage:
        """Where one call of `table` goes (and the view `via` maps its rows into)."""
        parts = [_Part(table, None)]
        if via is not None:
            parts.append(_Part(via.view, via.row))
        return _Stage(self, parts)

    def new_fetch(self) -> None:
        """A statement's fetch begins: its small calls may hold HELD_ROWS rows again."""
        self.held = 0

    def table_for(self, table: Table) -> str:
        """A new staging table with the table's columns."""
        with self.lock:
            self._catalog(STAGE_CATALOG)
            name = f"{quote(STAGE_CATALOG)}.s{next(self._names)}"
            columns = ", ".join(f"{quote(c.name)} {c.type}" for c in table.columns)
            self.connection.execute(f"CREATE TABLE {name} ({columns})")
            self._staged.add(name)
        return name

    def assemble(self, table: Table, staged: Sequence[StagedCall]) -> None:
        """Make the virtual table show exactly these calls' rows: the small calls' loaded
        together (in plan order), then the big calls' tables (in plan order). A SqlView shows
        its SQL over its source (assembled first), each column cast as declared."""
        names = [call.tables[table] for call in staged if table in call.tables]
        held = [row for call in staged for row in call.held.get(table, ())]
        if table.view is not None:
            casts = ", ".join(f"CAST({quote(c.name)} AS {c.type}) AS {quote(c.name)}"
                              for c in table.columns)  # fmt: skip
            body = f"SELECT {casts} FROM ({table.view.select})"
        else:
            if held or not names:  # no rows at all: an empty table, which plans as a table does
                batch = self.table_for(table)
                if held:
                    self.insert(batch, table, held)
                names.insert(0, batch)
            body = " UNION ALL ".join(f"SELECT * FROM {name}" for name in names)
        with self.lock:
            self._catalog(table.provider)
            schema = f"{quote(table.provider)}.{quote(table.service)}"
            self.connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            self.connection.execute(f"CREATE OR REPLACE VIEW {qualified(table)} AS {body}")
            self._views[table] = names

    def load(self, table: Table, rows: Sequence[Row]) -> None:
        """Make the virtual table show exactly `rows` (for tests and tools that have rows)."""
        self.assemble(table, [StagedCall(len(rows), {}, {table: list(rows)})])

    def collect(self, keep: Iterable[StagedCall]) -> None:
        """Drop the staged calls that neither a virtual table nor `keep` (the cache) uses."""
        used = {name for names in self._views.values() for name in names}
        used |= {name for call in keep for name in call.tables.values()}
        with self.lock:
            for name in self._staged - used:
                self.connection.execute(f"DROP TABLE IF EXISTS {name}")
            self._staged &= used

    def drop(self, names: Iterable[str]) -> None:
        with self.lock:
            for name in names:
                if name in self._staged:
                    self.connection.execute(f"DROP TABLE IF EXISTS {name}")
                    self._staged.discard(name)

    def insert(self, name: str, table: Table, rows: Sequence[Row]) -> None:
        """Typed rows into a staging table: through Arrow once pyarrow is loaded (or the rows
        are many), else as bound list parameters, which spare a small answer the import."""
        columns = table.columns
        try:
            with self.lock:
                if len(rows) < ARROW_ROWS and "pyarrow" not in sys.modules:
                    select, params = _bound(columns, rows)
                    self.connection.execute(f"INSERT INTO {name} {select}", params)
                    return
                self.connection.register("__vpnsql_load", self._arrow(columns, rows))
                try:
                    self.connection.execute(f"INSERT INTO {name} SELECT * FROM __vpnsql_load")
                finally:
                    self.connection.unregister("__vpnsql_load")
        except (duckdb.Error, OverflowError, ValueError, TypeError) as err:
            reason = str(err).split("\n\n")[0]  # not DuckDB's echo of vpnsql's own SQL
            raise QueryError(
                f"cannot load {table.name}: {reason}",
                hint="the API sent a value that does not fit the column's declared type",
            ) from None

    def _arrow(self, columns: tuple[Column, ...], rows: Sequence[Row]) -> pa.Table:
        """Rows as an Arrow table typed by the declared DuckDB types (DuckDB maps them)."""
        import pyarrow as pa

        schema = self._schemas.get(columns)
        if schema is None:
            casts = ", ".join(f"NULL::{c.type} AS {quote(c.name)}" for c in columns)
            schema = self._schemas[columns] = self.connection.sql(f"SELECT {casts}").arrow().schema
        data = {name: [row.get(name) for row in rows] for name in schema.names}
        return pa.Table.from_pydict(data, schema=schema)

    def _catalog(self, name: str) -> None:
        if name not in self._catalogs:
            self.connection.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {quote(name)}")
            self._catalogs.add(name)

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
        except duckdb.OutOfMemoryException as err:
            raise QueryError(
                str(err).split("\n\n")[0],
                hint=f"vpnsql lets DuckDB hold {self.memory_limit} in memory: raise memory_limit "
                "in the [vpnsql] section of the config file (docs/reliability.md)",
            ) from None
        except duckdb.Error as err:
            raise QueryError(str(err)) from None

    def plan(self, text: str) -> list[dict[str, object]]:
        """DuckDB's EXPLAIN of a statement whose tables are loaded empty (nothing fetched): the
        optimizers that see an empty table are off, so the plan is the one rows would get."""
        [(previous,)] = self.connection.sql(
            "SELECT current_setting('disabled_optimizers')"
        ).fetchall()
        self.connection.execute(
            "SET disabled_optimizers = 'empty_result_pullup,statistics_propagation'"
        )
        try:
            return self.rows(f"EXPLAIN {text}")
        finally:
            self.connection.execute(f"SET disabled_optimizers = '{previous}'")

    def own_tables(self) -> list[dict[str, object]]:
        """The tables and views DuckDB's SHOW TABLES lists (the current schema), with their
        type: what the user made, beside the virtual tables."""
        return self.rows(
            "SELECT table_name AS name, CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END"
            " AS type FROM information_schema.tables WHERE table_catalog = current_database()"
            " AND table_schema = current_schema() ORDER BY name"
        )

    def rows(self, query: str) -> list[dict[str, object]]:
        """All rows of a SELECT vpnsql made itself (a DELETE's targets, a subquery's values)."""
        relation = self.sql(query)
        if relation is None:
            raise QueryError(f"not a query: {query}")
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


@dataclass
class _Part:
    """What a call feeds: a table, how a row maps into it (for a view), and once the call is
    big, its staging table there."""

    table: Table
    mapping: Callable[[Row], Row] | None
    name: str | None = None


@dataclass(frozen=True)
class StagedCall:
    """A call's rows, staged: for each table they feed, the staging table they are in (a big
    call) or the rows themselves (a small call's, loaded when the statement is assembled)."""

    rows: int
    tables: Mapping[Table, str]
    held: Mapping[Table, list[Row]] = field(default_factory=dict)

    @property
    def feeds(self) -> list[Table]:
        """The tables the call's rows are for."""
        return [*self.tables, *self.held]


class _Stage:
    """Where one call's pages go as they arrive (the fetcher's `Stage`)."""

    def __init__(self, engine: Engine, parts: list[_Part]) -> None:
        self._engine = engine
        self._parts = parts
        self._buffer: list[Row] = []
        self._rows = 0
        self._open = True

    def append(self, rows: list[Row]) -> None:
        """Buffer a page. A call that is big (ARROW_ROWS), or that would take the fetch's
        held rows past HELD_ROWS, goes to tables of its own, and from then on every page is
        inserted as it comes (Python holds only that page)."""
        if not self._open:
            return  # the fetch gave up on this call (a deadline, Ctrl-C)
        engine = self._engine
        self._buffer.extend(rows)
        self._rows += len(rows)
        with engine.lock:
            engine.held += len(rows)
            big = self._big or len(self._buffer) >= ARROW_ROWS or engine.held > HELD_ROWS
        if big:
            self._flush()

    @property
    def _big(self) -> bool:
        return self._parts[0].name is not None

    def close(self) -> StagedCall:
        self._open = False
        if not self._big:
            held = {
                p.table: self._buffer if p.mapping is None else list(map(p.mapping, self._buffer))
                for p in self._parts
            }
            return StagedCall(self._rows, {}, held)
        self._flush()
        return StagedCall(self._rows, {p.table: p.name for p in self._parts if p.name})

    def discard(self) -> None:
        self._open = False
        self._buffer = []
        self._engine.drop(p.name for p in self._parts if p.name)

    def _flush(self) -> None:
        rows, self._buffer = self._buffer, []
        with self._engine.lock:
            self._engine.held -= len(rows)
        if not rows:
            return
        for part in self._parts:
            if part.name is None:
                part.name = self._engine.table_for(part.table)
            mapped = rows if part.mapping is None else [part.mapping(row) for row in rows]
            self._engine.insert(part.name, part.table, mapped)


def _open(database: str, memory_limit: str, spill: str) -> duckdb.DuckDBPyConnection:
    config = {"memory_limit": memory_limit, "temp_directory": spill}
    connection = duckdb.connect(database, config=config)
    connection.execute("SET TimeZone = 'UTC'")  # after connect: ICU, which takes it, is loaded
    # DuckDB draws a progress bar on stdout for a query that runs over 2 s, which would land
    # in the middle of the data (a CSV export of a million log entries showed it).
    connection.execute("SET enable_progress_bar = false")
    return connection


def _bound(columns: tuple[Column, ...], rows: Sequence[Row]) -> tuple[str, list[list[object]]]:
    """A SELECT of `rows` with each column bound as one list parameter, cast to its declared
    type and unnested (DuckDB unnests the lists of one SELECT side by side)."""
    select = ", ".join(
        f"UNNEST(${index}::{column.type}[]) AS {quote(column.name)}"
        for index, column in enumerate(columns, start=1)
    )
    return f"SELECT {select}", [[row.get(column.name) for row in rows] for column in columns]
