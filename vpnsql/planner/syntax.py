"""Splitting input into statements, and syntax errors in words a user reads."""

from __future__ import annotations

import itertools
import re

import sqlglot
from sqlglot.errors import ParseError
from sqlglot.tokens import TokenType

from vpnsql.errors import InputError, SqlSyntaxError
from vpnsql.registry import Registry

DIALECT = "duckdb"
_TOKEN_REPR = re.compile(r"<Token token_type: [\w.]+, text: (.*?), line: \d+.*?>")
_MISSING = re.compile(r"Required keyword: '\w+' missing for <class '[\w.]*?(\w+)'>")
_OPERATORS = {"And": "AND", "Or": "OR", "Not": "NOT", "EQ": "=", "NEQ": "<>", "GT": ">",
              "GTE": ">=", "LT": "<", "LTE": "<=", "Add": "+", "Sub": "-", "Mul": "*",
              "Div": "/", "Like": "LIKE", "In": "IN", "Is": "IS", "Between": "BETWEEN"}  # fmt: skip


def _missing(match: re.Match[str]) -> str:
    """sqlglot's "Required keyword: 'expression' missing for <class '...And'>", said plainly."""
    name = match.group(1)
    return f"{_OPERATORS.get(name, name)} needs something after it (or a word is misspelled)"


_UNREADABLE = re.compile("[\x00\ud800-\udfff]")


def decoded(data: bytes, source: str) -> str:
    """SQL bytes (a file, stdin) as text by the rule `readable` checks: UTF-8 (a leading byte
    order mark is dropped); an undecodable byte stays visible to the check as Python's
    surrogate escape, the way Python decodes the command line."""
    return readable(data.decode("utf-8", "surrogateescape").removeprefix("\ufeff"), source)


def readable(text: str, source: str = "the SQL") -> str:
    """`text`, if it is SQL vpnsql can read; the one rule for every input (-e, -f, stdin, the
    shell, Python): UTF-8 text without NUL. Anything else is an InputError naming the byte,
    its line and column, before it could reach the planner, an SDK or DuckDB."""
    bad = _UNREADABLE.search(text)
    if bad is None:
        return text
    line = text.count("\n", 0, bad.start()) + 1
    column = bad.start() - text.rfind("\n", 0, bad.start())
    where = f"{source}, line {line}, column {column}"
    code = ord(bad.group())
    if code == 0:
        raise InputError(f"{where}: a NUL byte is not SQL", hint="remove it")
    if 0xDC80 <= code <= 0xDCFF:  # a byte that did not decode
        raise InputError(
            f"{where}: byte 0x{code - 0xDC00:02x} is not UTF-8", hint="save the SQL as UTF-8"
        )
    raise InputError(f"{where}: U+{code:04X} is not a character (a lone surrogate)")


def split_statements(text: str) -> list[str]:
    """Split on top-level `;`, keeping each statement's text exactly as the user wrote it."""
    return [piece for _, piece in split_with_offsets(text)]


def split_with_offsets(text: str) -> list[tuple[int, str]]:
    """The statements of `text` with where each starts in it (a character offset)."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except sqlglot.errors.TokenError as err:
        unclosed = _unclosed(text)
        if unclosed is None:
            raise SqlSyntaxError(f"cannot read the SQL: {err}") from None
        start, opener = unclosed
        line = text.count("\n", 0, start) + 1
        column = start - text.rfind("\n", 0, start)
        if opener == "/*":
            hint = "close it with */"
        else:
            hint = f"close it with {opener} (write {opener}{opener} for a {opener} inside it)"
        kind = {"'": "string", '"': "quoted name", "/*": "/* comment"}[opener]
        raise SqlSyntaxError(
            f"the {kind} that starts at line {line}, column {column} never ends",
            hint=hint,
            line=line,
            column=column,
        ) from None
    pieces: list[tuple[int, str]] = []
    start = 0
    for token in [*tokens, None]:
        if token is None or token.token_type == TokenType.SEMICOLON:
            end = len(text) if token is None else token.start
            chunk = text[start:end]
            if any(start <= t.start < end for t in tokens):
                pieces.append((start + len(chunk) - len(chunk.lstrip()), chunk.strip()))
            start = end + 1
    return pieces


def mentions_provider(text: str, registry: Registry) -> bool:
    tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    return any(
        registry.is_provider(a.text) and b.token_type == TokenType.DOT
        for a, b in itertools.pairwise(tokens)
    )


def _unclosed(text: str) -> tuple[int, str] | None:
    """Where a string, quoted name or /* comment that is never closed starts, and its opener."""
    index, start, quote = 0, 0, ""
    while index < len(text):
        char = text[index]
        if quote:
            if text.startswith(quote * 2, index):
                index += 1  # a doubled quote is the quote itself
            elif char == quote:
                quote = ""
        elif char in "'\"":
            start, quote = index, char
        elif text.startswith(("--", "/*"), index):
            end = text.find("\n" if char == "-" else "*/", index + 2)
            if end < 0:
                return (index, "/*") if char == "/" else None
            index = end
        index += 1
    return (start, quote) if quote else None


def syntax_error(err: ParseError) -> SqlSyntaxError:
    first = err.errors[0] if err.errors else {}
    description = _MISSING.sub(_missing, str(first.get("description", err)))
    description = _TOKEN_REPR.sub(r"'\1'", description)
    where = f"line {first['line']}, column {first['col']}: " if "line" in first else ""
    context = f"{first.get('start_context', '')}>>>{first.get('highlight', '')}<<<"
    return SqlSyntaxError(
        f"syntax error at {where}{description}",
        hint=f"near: {context}",
        line=first.get("line"),
        column=first.get("col"),
    )
