"""Running scripts and writing their results: the command line's `-e`, `-f` and stdin, and
the base of the interactive shell.

A script is statements and `.` meta commands (`.mode csv`, `.once FILE`, `.read FILE`); every
SQL part of it is planned before anything runs, so a mistake on its last line costs no API
call. Results go to `out` in the current format, separated from each other; `.once FILE` and
a final export write files whose format follows the extension.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from vpnsql.errors import UsageError, VpnsqlError
from vpnsql.runner import report_failed_calls, run_statement
from vpnsql.statements import DeleteInterrupted
from vpnsql.terminal import visible

if TYPE_CHECKING:
    import duckdb

    from vpnsql import planner
    from vpnsql.fetch import FetchCache
    from vpnsql.session import Session
    from vpnsql.tables import Row

Final = Callable[["duckdb.DuckDBPyRelation"], None]
"""What happens to the last result of the input instead of printing it (--outfile)."""

SEPARATED = ("table", "csv", "markdown")
"""Formats whose results would run together: a blank line goes between them (JSON prints one
array per result, JSON lines one object per line)."""


@dataclass(frozen=True)
class _Item:
    """One thing a script does: its text, where it starts in which script, and its plan."""

    source: str | None
    script: str
    offset: int
    text: str
    statement: planner.Statement | None  # None: a meta command


Source = tuple[str | None, str]
"""A script's name for error locations (a file, `<stdin>`) and its text; a script without a
name is SQL only (`-e`), with no meta commands and errors as DuckDB words them."""


def is_plan(statement: planner.Statement) -> bool:
    from vpnsql.planner import Explain

    return isinstance(statement.action, Explain)


class Console:
    """Runs statements and meta commands over one session and writes their results to `out`
    (diagnostics such as `.timer` lines to `notes`)."""

    def __init__(
        self,
        session: Session,
        out: TextIO,
        *,
        fmt: str = "table",
        header: bool = True,
        notes: TextIO | None = None,
        width: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.session = session
        self.out = out
        self.notes = notes if notes is not None else sys.stderr
        self.format = fmt
        self.header = header
        self.timer = False
        self.once: Path | None = None
        self.reading = 0  # how many `.read` files deep
        self.running = True
        self.failed = 0  # terminate calls that failed
        self.partial = 0  # fetches --allow-partial left out
        self.results = 0  # results written since the input began (for separators)
        self._width = width

    @property
    def cache(self) -> FetchCache | None:
        return self.session.cache

    def set_editing_mode(self, mode: str) -> None:
        raise UsageError("key bindings are for the interactive shell")

    # -- running

    def run_script(self, text: str, source: str | None = None) -> None:
        """Run one script (`.read`): see `run`."""
        self.run([(source, text)])

    def run(self, sources: list[Source], final: Final | None = None) -> None:
        """Plan every statement of the scripts, then run them in order; `final` takes the
        last result of them all. Errors of a named script say NAME:LINE:COL."""
        items = [item for source in sources for item in self._items(*source)]
        shown = [
            i for i, item in enumerate(items) if item.statement and item.statement.shows_result
        ]
        if final is not None and not shown:
            from vpnsql.export import ExportError

            raise ExportError(
                "nothing was written: no statement returns a result (CREATE, INSERT and the "
                "like return none), so nothing was run",
                hint="end with the SELECT whose rows are to be written",
            )
        last = shown[-1] if shown and final is not None else -1
        if self.format == "parquet" and len(shown) - (last >= 0) > 1:
            raise UsageError(
                f"-o parquet writes one result and this input has {len(shown)}",
                hint="add --outfile FILE.parquet for the last, or .once FILE.parquet before each",
            )
        for index, item in enumerate(items):
            if not self.running:
                break
            with self._located(item.source, item.script, item.offset, item.text):
                if item.statement is None:
                    from vpnsql.shell import meta

                    meta.run(self, item.text)
                else:
                    self.run_statement(item.statement, final if index == last else None)

    def _items(self, source: str | None, text: str) -> Iterator[_Item]:
        """The script's meta commands and planned statements (a named script's errors
        located)."""
        from vpnsql import script
        from vpnsql.planner import split_with_offsets

        parts = script.parts(text) if source is not None else [script.Part("sql", text, 0)]
        for part in parts:
            if part.kind == "meta":
                yield _Item(source, text, part.offset, part.text, None)
                continue
            for offset, piece in split_with_offsets(part.text):
                start = part.offset + offset
                with self._located(source, text, start, piece):
                    statement = self.session.plan(piece)[0]
                yield _Item(source, text, start, piece, statement)

    def run_sql(self, text: str) -> None:
        """Run `;`-separated statements as typed (the shell's Enter)."""
        for statement in self.session.plan(text):
            self.run_statement(statement)

    def run_statement(self, statement: planner.Statement, final: Final | None = None) -> None:
        """Run one statement and write its result (and its timing with `.timer`)."""
        started = time.perf_counter()
        try:
            relation = run_statement(self.session, statement)
        except DeleteInterrupted as interrupted:
            self._interrupted(interrupted)
            raise interrupted.cause from None
        self.failed += self.session.last_failed
        self.partial += len(self.session.last_stats.failures)
        shown = None
        if relation is not None and statement.shows_result:
            shown = self.deliver(relation, final, plan=is_plan(statement))
        elapsed = time.perf_counter() - started
        if shown:
            self.emit(shown)
        if failed := self.session.last_failed:
            report_failed_calls(failed)
        if self.timer:
            from vpnsql.shell.render import timing

            self.notes.write(timing(self.session.last_stats, elapsed))
            self.notes.flush()

    def _interrupted(self, interrupted: DeleteInterrupted) -> None:
        """What an interrupted DELETE did: the outcomes that completed, as its result, and
        what it did not do, as a note."""
        outcome = interrupted.outcome
        shown = self.show(self.session.engine.relation(outcome.columns, outcome.rows), "")
        if shown:
            self.emit(shown)
        self.note(f"vpnsql: {interrupted.summary}")

    def deliver(
        self, relation: duckdb.DuckDBPyRelation, final: Final | None = None, plan: bool = False
    ) -> str | None:
        """Send a result where it goes: `.once`'s file, `final`, or the output; text left to
        emit once the statement's time is taken (the shell's pager), or None. A `plan`
        (EXPLAIN's rows) reads as text in the formats for people."""
        if self.once is not None:
            target, self.once = self.once, None
            fmt = self.write_file(relation, target)
            self.note(f"wrote the result to {target} ({fmt})")
            return None
        if final is not None:
            final(relation)
            return None
        separator = "\n" if self.results and self.format in SEPARATED else ""
        self.results += 1
        if plan and self.format in ("table", "markdown"):
            from vpnsql import output

            return separator + output.plan_text(relation)
        return self.show(relation, separator)

    def show(self, relation: duckdb.DuckDBPyRelation, separator: str) -> str | None:
        """Write a result to `out`, streamed (the shell lays it out for the screen instead)."""
        from vpnsql import export, output
        from vpnsql.engine import interruptible

        self.out.write(separator)
        if self.format == "parquet":  # stdout is a file or a pipe (the CLI checked)
            self.out.flush()
            interruptible(
                self.session.connection,
                lambda: export.to_stream(relation, self.session.connection, "parquet",
                                         self.out.buffer),  # type: ignore[attr-defined]
            )  # fmt: skip
            return None
        write = functools.partial(
            output.write, relation, self.format, self.out, self.header, width=self._width()
        )
        interruptible(self.session.connection, write)
        self.out.flush()
        return None

    def emit(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def note(self, text: str) -> None:
        """A line about what happened (a file written), for the person running it."""
        self.notes.write(visible(text, newlines=True) + "\n")
        self.notes.flush()

    def write_file(self, relation: duckdb.DuckDBPyRelation, target: Path) -> str:
        """The whole result to `target`, atomically, in its extension's format (else the
        current one); the format written."""
        from vpnsql import export

        fmt = export.format_for(str(target), self.format)
        export.export(relation, self.session.connection, str(target), fmt, header=self.header)
        return fmt

    def show_rows(self, rows: list[Row]) -> None:
        """Rows that are not a query's (lists the console makes itself), laid out like results."""
        if not rows:
            return
        from vpnsql.tables import Column

        columns = tuple(Column(name, "VARCHAR", "") for name in rows[0])
        text = [{k: None if v is None else str(v) for k, v in row.items()} for row in rows]
        shown = self.show(self.session.engine.relation(columns, text), "")
        if shown:
            self.emit(shown)

    @contextmanager
    def _located(self, source: str | None, text: str, start: int, statement: str) -> Iterator[None]:
        """Errors of a script with a source as FILE:LINE:COL."""
        import duckdb

        from vpnsql import script
        from vpnsql.errors import QueryError

        if source is None:
            yield
            return
        try:
            yield
        except VpnsqlError as err:
            raise script.located(err, source, text, start, statement) from None
        except duckdb.Error as err:
            raise script.located(QueryError(str(err)), source, text, start, statement) from None
