"""Scripts: text of statements and `.` meta commands, split into parts that know where they
start, and errors located as FILE:LINE:COL.

What `-f FILE`, stdin and the shell's `.read` share. Pure: text in, parts and positions out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from vpnsql.errors import SqlSyntaxError, VpnsqlError
from vpnsql.lexing import significant, tokenize

_QUOTED_NAME = re.compile(r'(?:column|name|Table|table) "([\w.]+)"|Table with name ([\w.]+)')
_DUCKDB_CONTEXT = re.compile(r"\n\nLINE (\d+): (\.\.\.)?(.*)\n( *)\^+\s*\Z")


@dataclass(frozen=True)
class Part:
    """A meta command line or a run of SQL, exactly as written, and where in the script it
    starts (a character offset)."""

    kind: str  # "meta" or "sql"
    text: str
    offset: int


def parts(text: str) -> Iterator[Part]:
    """A script as meta and SQL parts, in order: a line starting with `.` is a meta command
    when no statement is open (all before it ended with `;`, or was only comments)."""
    start = 0  # where the pending SQL begins
    position = 0
    for line in text.splitlines(keepends=True):
        pending = text[start:position]
        tokens = tokenize(pending.strip())
        closed = not (tokens and tokens[-1].open)  # no string or comment left open
        words = significant(tokens)  # comments are not a statement
        if line.lstrip().startswith(".") and closed and (not words or words[-1].text == ";"):
            if part := _stripped("sql", pending, start):
                yield part
            meta = _stripped("meta", line, position)
            if meta is not None:
                yield meta
            start = position + len(line)
        position += len(line)
    if part := _stripped("sql", text[start:], start):
        yield part


def _stripped(kind: str, text: str, offset: int) -> Part | None:
    stripped = text.strip()
    if not stripped:
        return None
    return Part(kind, stripped, offset + len(text) - len(text.lstrip()))


def leading_comments(statement: str) -> int:
    """How many characters of comments and blanks come before the statement's first word."""
    first = next(iter(significant(tokenize(statement))), None)
    return first.end - len(first.text) if first is not None else 0


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def offset_of(text: str, line: int, column: int) -> int:
    """The character offset of a 1-based line and column (clamped to the text)."""
    start = 0
    for _ in range(line - 1):
        newline = text.find("\n", start)
        if newline < 0:
            break
        start = newline + 1
    end = text.find("\n", start)
    return min(start + max(column - 1, 0), len(text) if end < 0 else end)


class ScriptError(VpnsqlError):
    """An error in a script (a -f FILE, stdin, a `.read` file), located as FILE:LINE:COL and
    shown with its line; the exit code is the original error's."""

    def __init__(self, error: VpnsqlError, where: str, line_text: str | None, column: int) -> None:
        message = _without_duckdb_context(error.message)
        if line_text is not None:
            message += f"\n  {line_text}\n  {' ' * (column - 1)}^"
        super().__init__(f"{where}: {message}", hint=error.hint)
        self.exit_code = error.exit_code
        self.error = error


def located(
    error: VpnsqlError, source: str, script: str, start: int, statement: str
) -> ScriptError:
    """`error`, raised by the statement that starts at `start` in `script`, at the position it
    names (a syntax error's, DuckDB's `LINE n` caret) or else the statement's start."""
    if isinstance(error, ScriptError):
        return error  # already located, in the file that `.read` it
    position = _position(error, statement)
    where = offset_of(statement, *position) if position else leading_comments(statement)
    offset = start + where
    line, column = line_and_column(script, offset)
    line_text = script.splitlines()[line - 1] if position and script else None
    return ScriptError(error, f"{source}:{line}:{column}", line_text, column)


def _position(error: VpnsqlError, statement: str) -> tuple[int, int] | None:
    """Where in the statement the error points (1-based line, column), if it says."""
    if isinstance(error, SqlSyntaxError) and error.line is not None:
        return error.line, error.column or 1
    context = _DUCKDB_CONTEXT.search(error.message)
    if context is None:
        return _named(error.message, statement)
    line, cut, shown, pad = (
        int(context.group(1)),
        context.group(2),
        context.group(3),
        context.group(4),
    )
    caret = len(pad) - len(f"LINE {line}: ") - (3 if cut else 0)
    lines = statement.splitlines() or [""]
    text = lines[min(line, len(lines)) - 1]
    found = text.find(shown) if cut else 0
    return line, (found if found >= 0 else 0) + caret + 1


def _named(message: str, statement: str) -> tuple[int, int] | None:
    """Where the name an error quotes first (`Referenced column "nope"`, `Table with name x`)
    is written in the statement, outside strings and comments: DuckDB gives no position for
    many of its errors."""
    found = _QUOTED_NAME.search(message.split("\n")[0])
    if found is None:
        return None
    name = (found.group(1) or found.group(2)).rsplit(".", 1)[-1].lower()
    position = 0
    for token in tokenize(statement):
        if token.kind == "name" and token.text.rsplit(".", 1)[-1].lower() == name:
            position = token.end - len(token.text.rsplit(".", 1)[-1])
            return line_and_column(statement, position)
    return None


def _without_duckdb_context(message: str) -> str:
    """DuckDB's `LINE 1: ...` excerpt counts lines from the statement, not the file."""
    return _DUCKDB_CONTEXT.sub("", message)
