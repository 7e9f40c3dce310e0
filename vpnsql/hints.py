"""Hints for the errors DuckDB raises about virtual tables, from their declarations.

DuckDB knows the loaded tables but not what vpnsql declares about them: that
`client_vpn_connections` is short for `aws.ec2_api.client_vpn_connections`, or that `status`
is a STRUCT whose `code` is what `= 'active'` means. Pure text in, text out.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vpnsql.registry import Registry
from vpnsql.tables import Column, Table

_MISSING_TABLE = re.compile(r'Table with name "?([\w.]+?)"? does not exist')
_SUGGESTION = re.compile(r'\nDid you mean "[^"]*"\?')
_CONTEXT = re.compile(r"\n\nLINE \d+: (?:\.\.\.)?(.*)\n( *)\^")
_VALUE = re.compile(r"(?:value|string) '((?:[^']|'')*)'")
_HINTED = re.compile(r"STRUCT\(|.*\[\]$|TIMESTAMP|BIGINT$|INTEGER$|SMALLINT$|TINYINT$|DOUBLE$")
"""Declared types whose misuse DuckDB reports in terms that need a hint."""
_DUCKDB_NAMES = {"INT64": "BIGINT", "INT32": "INTEGER", "INT16": "SMALLINT", "INT8": "TINYINT"}


@dataclass(frozen=True)
class Found:
    """A better message (DuckDB's wrong suggestion dropped) and a hint, either may be None."""

    message: str
    hint: str | None


def explain(message: str, statement: str, tables: Sequence[Table], registry: Registry) -> Found:
    """What the declarations add to DuckDB's `message` about `statement`, which reads
    `tables`: the full names a short table name stands for, or how to use a column whose
    declared type the statement misused."""
    missing = _MISSING_TABLE.search(message)
    if missing:
        names = _full_names(missing.group(1).rsplit(".", 1)[-1], registry.tables)
        if names:
            return Found(
                _SUGGESTION.sub("", message),
                f"virtual tables are named in full: did you mean {' or '.join(names)}?",
            )
        return Found(message, None)
    by_column: dict[tuple[str, str], list[str]] = {}
    for table, column in _misused(message, statement, tables):
        by_column.setdefault((column.name, column.type), []).append(table.name)
    hints = [
        _column_hint(" and ".join(names), name, kind, message)
        for (name, kind), names in by_column.items()
    ]
    return Found(message, "; ".join(hints) or None)


def _full_names(short: str, tables: Iterable[Table]) -> list[str]:
    """Tables whose last part is `short`, else whose last part is close to it."""
    tables = list(tables)
    exact = [t.name for t in tables if t.resource.lower() == short.lower()]
    if exact:
        return exact
    resources = [t.resource.lower() for t in tables]
    close = set(difflib.get_close_matches(short.lower(), resources, n=3, cutoff=0.75))
    return [t.name for t in tables if t.resource.lower() in close]


def _misused(message: str, statement: str, tables: Sequence[Table]) -> list[tuple[Table, Column]]:
    """The columns of the statement's tables the error is about: of a type the message names,
    mentioned in the statement, the one nearest before DuckDB's caret when it shows one."""
    text = message.split("\n")[0]  # not DuckDB's list of candidate functions
    for internal, name in _DUCKDB_NAMES.items():
        text = re.sub(rf"\b{internal}\b", name, text)
    candidates = [
        (table, column, position)
        for table in tables
        for column in table.columns
        if _HINTED.match(column.type)
        and _type_named(column.type, text)
        and (position := _last_mention(column.name, statement, _caret(message, statement))) >= 0
    ]
    if not candidates:
        return []
    nearest = max(position for _, _, position in candidates)
    return [(table, column) for table, column, position in candidates if position == nearest]


def _type_named(declared: str, message: str) -> bool:
    if declared == "TIMESTAMP" and "timestamp field format" in message:
        return True
    return re.search(rf"(?<!\w){re.escape(declared)}(?![\w\[(])", message) is not None


def _caret(message: str, statement: str) -> int:
    """Where in the statement DuckDB's `LINE n: ...` context points, or its end."""
    context = _CONTEXT.search(message)
    if context is None:
        return len(statement)
    shown, pad = context.groups()
    start = statement.find(shown)
    prefix = len("LINE 1: ") + (3 if "LINE 1: ..." in message else 0)
    offset = len(pad) - prefix
    return start + offset if start >= 0 and offset >= 0 else len(statement)


def _last_mention(name: str, statement: str, before: int) -> int:
    """Where the column is last named before `before`, or -1."""
    found = [m.start() for m in re.finditer(rf"(?<![\w\"]){re.escape(name)}(?![\w\"])", statement,
                                             re.IGNORECASE) if m.start() < before]  # fmt: skip
    return found[-1] if found else -1


def _column_hint(tables: str, name: str, kind: str, message: str) -> str:
    value = _VALUE.search(message)
    literal = f"'{value.group(1)}'" if value else "'...'"
    where = f"{name} is {kind} in {tables}"
    if kind.startswith("STRUCT("):
        first = re.match(r"STRUCT\((\w+)", kind)
        field = f"{name}.{first.group(1) if first else 'x'}"
        compared = f" = {literal}" if value else ""
        return f"{where}: use one of its fields, e.g. {field}{compared}"
    if kind.endswith("[]"):
        return f"{where}, a list: e.g. list_contains({name}, {literal})"
    if kind.startswith("TIMESTAMP"):
        return (
            f"{where} (UTC): compare with TIMESTAMP '2026-01-01 00:00:00' or "
            f"now()::TIMESTAMP - INTERVAL 1 HOUR"
        )
    return f"{where}, a number: compare with a number, e.g. {name} > 1e9"
