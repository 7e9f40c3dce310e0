"""The read-eval-print loop: one prompt, one session with a result cache, results on screen.

Nothing that goes wrong inside a statement ends the shell: errors print their message (as the
command line does), Ctrl-C cancels the statement, and the prompt comes back.
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path
from typing import TextIO

import duckdb
from prompt_toolkit import PromptSession
from prompt_toolkit.enums import EditingMode
from prompt_toolkit.history import History
from prompt_toolkit.input import Input
from prompt_toolkit.lexers import PygmentsLexer
from prompt_toolkit.output import Output
from pygments.lexers.sql import SqlLexer

from vpnsql import output
from vpnsql.engine import interruptible
from vpnsql.errors import UsageError
from vpnsql.fetch import FetchCache
from vpnsql.registry import Registry
from vpnsql.runner import report_error, report_failed_calls, run_statement
from vpnsql.session import Session
from vpnsql.shell import meta
from vpnsql.shell.completion import ShellCompleter, ValueBook, Vocabulary
from vpnsql.shell.keys import key_bindings
from vpnsql.shell.render import page, render, timing
from vpnsql.statements import Preview
from vpnsql.tables import Column, Row, Settings

PROMPT = "vpnsql> "
CONTINUATION = "   ...> "
CACHE_TTL = 60.0
MODES = {"emacs": EditingMode.EMACS, "vi": EditingMode.VI}


class Shell:
    """The interactive shell over one Session; `keyboard`/`screen` replace the terminal in tests."""

    def __init__(
        self,
        settings: Settings,
        *,
        out: TextIO,
        fmt: str = "table",
        header: bool = True,
        history: History | None = None,
        editing_mode: str = "emacs",
        keyboard: Input | None = None,
        screen: Output | None = None,
        debug: bool = False,
        allow_partial: bool = False,
        registry: Registry | None = None,
    ) -> None:
        self.cache = FetchCache(ttl=CACHE_TTL)
        self.session = Session(
            registry=registry,
            settings=settings,
            cache=self.cache,
            confirm=self.confirm,
            allow_partial=allow_partial,
        )
        self.out = out
        self.format = fmt
        self.header = header
        self.timer = False
        self.once: Path | None = None
        self.reading = 0  # how many `.read` files deep the shell is
        self.running = True
        self.debug = debug
        registry = self.session.registry
        self.values = ValueBook(registry)
        vocabulary = Vocabulary(registry, self.values, meta.choices(registry), meta.file_commands())
        self.prompt: PromptSession[str] = PromptSession(
            multiline=True,
            prompt_continuation=CONTINUATION,
            lexer=PygmentsLexer(SqlLexer),
            completer=ShellCompleter(vocabulary),
            complete_while_typing=True,
            history=history,
            search_ignore_case=True,
            key_bindings=key_bindings(),
            editing_mode=MODES.get(editing_mode, EditingMode.EMACS),
            input=keyboard,
            output=screen,
        )
        # Questions get their own prompt, so answers never land in the statement history.
        self._answers: PromptSession[str] = PromptSession(input=keyboard, output=screen)
        self._paging = out.isatty() and sys.stdin.isatty()

    def loop(self) -> int:
        """Read and run inputs until `.quit` or Ctrl-D; the exit status."""
        while self.running:
            try:
                text = self.prompt.prompt(PROMPT)
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line
            except EOFError:
                break
            self.handle(text)
        return 0

    def handle(self, text: str) -> None:
        """Run one input (meta command or statements); report what fails and carry on."""
        stripped = text.strip()
        try:
            if stripped.startswith("."):
                meta.run(self, stripped)
            elif stripped:
                self.run_sql(stripped)
        except KeyboardInterrupt:
            print("cancelled", file=sys.stderr)
        except Exception as err:
            if self.debug:
                traceback.print_exc()
            report_error(err)

    def run_sql(self, text: str) -> None:
        """Run `;`-separated statements, showing each result (and its timing with `.timer`)."""
        for statement in self.session.plan(text):
            self.values.add_calls(statement.calls)
            started = time.perf_counter()
            relation = run_statement(self.session, statement)
            shown = ""
            if relation is not None and statement.shows_result:
                shown = self._result(relation)
            elapsed = time.perf_counter() - started
            self.emit(shown)
            if failed := self.session.last_failed:
                report_failed_calls(failed)
            if self.timer:
                self.out.write(timing(self.session.last_stats, elapsed))

    def show_rows(self, rows: list[Row]) -> None:
        """Rows that are not a query's (lists the shell makes itself), laid out like results."""
        if not rows:
            return
        columns = tuple(Column(name, "VARCHAR", "") for name in rows[0])
        self.emit(self._result(self.session.engine.relation(columns, rows)))

    def emit(self, text: str) -> None:
        """Write text, through the pager when it is longer than the terminal is tall."""
        if self._paging and text.count("\n") >= self.prompt.app.output.get_size().rows - 1:
            page(text, self.out)
        else:
            self.out.write(text)
            self.out.flush()

    def confirm(self, preview: Preview) -> bool:
        """The session's question before a DELETE terminates: the count, the first targets,
        then y/N, where anything but yes (Enter, Ctrl-D) is no."""
        self.out.write(f"{preview.table}: {preview.count} connection(s) would be terminated:\n")
        self.show_rows(preview.rows)
        if preview.count > len(preview.rows):
            self.out.write(f"... and {preview.count - len(preview.rows)} more\n")
        try:
            answer = self._answers.prompt("Terminate them? [y/N] ")
        except EOFError:
            return False
        return answer.strip().lower() in ("y", "yes")

    def set_editing_mode(self, mode: str) -> None:
        self.prompt.editing_mode = MODES[mode]

    def _result(self, relation: duckdb.DuckDBPyRelation) -> str:
        """The text of a result: rendered for the screen, or `.once`'s file written in full."""
        if self.once is None:
            width = self.prompt.app.output.get_size().columns
            connection = self.session.connection
            rendered = interruptible(
                connection, lambda: render(relation, self.format, width, self.header)
            )
            if self.values.wants(rendered.shown.columns):
                self.values.add_rows(rendered.shown.columns, rendered.shown.fetchall())
            return rendered.text
        target, self.once = self.once, None
        try:
            with target.open("w", encoding="utf-8") as handle:
                interruptible(
                    self.session.connection,
                    lambda: output.write(relation, self.format, handle, self.header),
                )
        except OSError as err:
            raise UsageError(f"cannot write {target}: {err.strerror}") from None
        return f"wrote the result to {target}\n"
