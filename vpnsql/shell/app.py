"""The read-eval-print loop: one prompt, one session with a result cache, results on screen.

Nothing that goes wrong inside a statement ends the shell: errors print their message (as the
command line does), Ctrl-C cancels the statement, and the prompt comes back.
"""

from __future__ import annotations

import sys
import traceback
from typing import TextIO

import duckdb
from prompt_toolkit import PromptSession
from prompt_toolkit.enums import EditingMode
from prompt_toolkit.history import History
from prompt_toolkit.input import Input
from prompt_toolkit.lexers import PygmentsLexer
from prompt_toolkit.output import Output
from pygments.lexers.sql import SqlLexer

from vpnsql import planner
from vpnsql.console import Console
from vpnsql.engine import interruptible
from vpnsql.errors import UsageError
from vpnsql.fetch import FetchCache
from vpnsql.registry import Registry
from vpnsql.runner import report_error
from vpnsql.session import Session
from vpnsql.shell import meta
from vpnsql.shell.completion import ShellCompleter, ValueBook, Vocabulary
from vpnsql.shell.keys import WORDS, is_word, key_bindings
from vpnsql.shell.render import page, render
from vpnsql.statements import Preview
from vpnsql.tables import Settings

PROMPT = "vpnsql> "
CONTINUATION = "   ...> "
CACHE_TTL = 60.0
MODES = {"emacs": EditingMode.EMACS, "vi": EditingMode.VI}


class Shell(Console):
    """The interactive shell over one Session; `keyboard`/`screen` replace the terminal in tests.

    A Console whose results are laid out for the screen (capped, fitted, paged), whose API
    results are cached, and whose DELETEs ask first.
    """

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
        session = Session(
            registry=registry,
            settings=settings,
            cache=FetchCache(ttl=CACHE_TTL),
            confirm=self.confirm,
            allow_partial=allow_partial,
        )
        super().__init__(session, out, fmt=fmt, header=header, notes=out)
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

    @property
    def cache(self) -> FetchCache:
        assert self.session.cache is not None
        return self.session.cache

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
        """Run one input (meta command, a word such as `exit`, or statements); report what
        fails and carry on."""
        stripped = text.strip()
        self.results = 0
        try:
            if is_word(stripped):
                meta.run(self, WORDS[stripped.rstrip(";").strip().lower()])
            elif stripped.startswith("."):
                meta.run(self, stripped)
            elif stripped:
                self.run_sql(stripped)
        except KeyboardInterrupt:
            print("cancelled", file=sys.stderr)
        except Exception as err:
            if self.debug:
                traceback.print_exc()
            report_error(err)

    def run_statement(self, statement: planner.Statement, final: object = None) -> None:
        self.values.add_calls(statement.calls)
        super().run_statement(statement)
        self.values.add_discovered(self.session.last_stats.discovered)

    def show(self, relation: duckdb.DuckDBPyRelation, separator: str) -> str:
        """The text of a result, fitted to the screen and capped (emitted, through the pager
        when long, once the statement's time is taken)."""
        width = self.prompt.app.output.get_size().columns
        connection = self.session.connection
        rendered = interruptible(
            connection, lambda: render(relation, self.format, width, self.header)
        )
        if self.values.wants(rendered.shown.columns):
            self.values.add_rows(rendered.shown.columns, rendered.shown.fetchall())
        return separator + rendered.text

    def emit(self, text: str) -> None:
        """Write text, through the pager when it is longer than the terminal is tall."""
        if self._paging and text.count("\n") >= self.prompt.app.output.get_size().rows - 1:
            page(text, self.out)
        else:
            self.out.write(text)
            self.out.flush()

    def confirm(self, preview: Preview) -> bool:
        """The session's question before a DELETE terminates: the count, whose sessions the
        first targets are, then y/N, where anything but yes (Enter, Ctrl-D) is no."""
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
        if mode not in MODES:
            raise UsageError(f"unknown key bindings {mode}", hint="vi or emacs")
        self.prompt.editing_mode = MODES[mode]
