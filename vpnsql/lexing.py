"""A forgiving SQL tokenizer for text still being typed.

sqlglot's tokenizer rejects an unterminated string, which is exactly what the shell sees while
someone types `region = 'us-ea`. This one never fails: an open string or comment runs to the end
of the text, so completion can tell "inside a string" from "after a keyword", and Enter can
tell a finished statement from one still being written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
      (?P<string>'(?:[^']|'')*(?P<string_end>')?)
    | (?P<quoted>"(?:[^"]|"")*(?P<quoted_end>")?)
    | (?P<comment>--[^\n]*)
    | (?P<block>/\*(?:.*?(?P<block_end>\*/)|.*))
    | (?P<name>@[\w$]*|[A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)*\.?)
    | (?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
    | (?P<symbol><>|!=|>=|<=|::|\S)
    | \s+
    """,
    re.VERBOSE | re.DOTALL,
)
_CLOSABLE = ("string", "quoted", "block")


@dataclass(frozen=True)
class Token:
    """One token: its kind (a group name of `_TOKEN`), its text, where it ends, and whether it
    is a string or comment the user has not closed yet."""

    kind: str
    text: str
    end: int
    open: bool = False

    @property
    def upper(self) -> str:
        return self.text.upper()


def tokenize(text: str) -> list[Token]:
    """Every token of `text` except whitespace; never raises."""
    tokens = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind is None:
            continue
        unclosed = kind in _CLOSABLE and match.group(f"{kind}_end") is None
        tokens.append(Token(kind, match.group(), match.end(), unclosed))
    return tokens


def significant(tokens: list[Token]) -> list[Token]:
    """The tokens that carry meaning: comments dropped."""
    return [token for token in tokens if token.kind not in ("comment", "block")]


def current_statement(tokens: list[Token]) -> list[Token]:
    """The tokens after the last top-level `;`: the statement being typed."""
    for index in range(len(tokens) - 1, -1, -1):
        if tokens[index].text == ";" and tokens[index].kind == "symbol":
            return tokens[index + 1 :]
    return tokens


def is_complete(text: str) -> bool:
    """Whether Enter runs the input: blank, a `.` meta command, or SQL ending with `;`."""
    stripped = text.strip()
    if not stripped or stripped.startswith("."):
        return True
    tokens = tokenize(stripped)
    if tokens and tokens[-1].open:
        return False
    meaningful = significant(tokens)
    return bool(meaningful) and meaningful[-1].text == ";"
