"""Render query results as text: table and markdown for people, json, jsonl and csv for programs.

Rows are read from DuckDB a batch at a time, so the machine formats stream instead of holding
the whole result as Python objects. Values keep their types: JSON numbers stay numbers,
timestamps are ISO-8601 UTC, STRUCTs are objects, NULL is null (and so are NaN and infinities,
which JSON has no words for). CSV matches what DuckDB's own
writer produces for files (timestamps `YYYY-MM-DD HH:MM:SS`, nested values as JSON text).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, Any
from uuid import UUID

import duckdb

FORMATS = ("table", "json", "jsonl", "csv", "markdown")
BATCH_ROWS = 10_000


def write(
    relation: duckdb.DuckDBPyRelation,
    fmt: str,
    out: IO[str],
    header: bool = True,
    row_count: bool = True,
) -> None:
    """Write the whole result to `out` in `fmt` (one of FORMATS); `row_count` adds the table
    format's "(N rows)" line, which a caller showing only part of a result leaves out."""
    if fmt == "table":
        _table(relation, out, header, row_count)
        return
    writers = {"json": _json, "jsonl": _jsonl, "csv": _csv, "markdown": _markdown}
    writers[fmt](relation, out, header)


def _rows(relation: duckdb.DuckDBPyRelation) -> Iterator[tuple[Any, ...]]:
    """Every row over one run of the relation, holding one batch at a time."""
    return relation.iter_rows(BATCH_ROWS)


def _plain(value: Any) -> Any:
    """A JSON-able stand-in for the leaf values json cannot encode itself."""
    if isinstance(value, datetime):
        if value.tzinfo is None:  # vpnsql's times are naive UTC
            return value.isoformat() + "Z"
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _dumps(value: Any, separators: tuple[str, str] | None = None) -> str:
    options: dict[str, Any] = {"default": _plain, "ensure_ascii": False, "separators": separators}
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:  # NaN or an infinity, which JSON cannot say: null, as JavaScript writes
        return json.dumps(_finite(value), allow_nan=False, **options)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _records(relation: duckdb.DuckDBPyRelation) -> Iterator[str]:
    names = relation.columns
    for row in _rows(relation):
        yield _dumps(dict(zip(names, row, strict=True)))


def _json(relation: duckdb.DuckDBPyRelation, out: IO[str], header: bool) -> None:
    out.write("[")
    for index, record in enumerate(_records(relation)):
        out.write(",\n " if index else "\n ")
        out.write(record)
    out.write("\n]\n")


def _jsonl(relation: duckdb.DuckDBPyRelation, out: IO[str], header: bool) -> None:
    for record in _records(relation):
        out.write(record + "\n")


def _csv(relation: duckdb.DuckDBPyRelation, out: IO[str], header: bool) -> None:
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(relation.columns)
    writer.writerows([_csv_cell(v) for v in row] for row in _rows(relation))


def _csv_cell(value: Any) -> Any:
    """As a table shows it, but NULL is an empty field and other leaf types are written as in
    JSON: the same text DuckDB's CSV writer produces for files."""
    if value is None:
        return None
    if isinstance(value, date | time | Decimal | timedelta | bytes | UUID) and not isinstance(
        value, datetime
    ):
        return _plain(value)
    return cell_text(value)


_CONTROLS = {code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)]}
_CONTROLS.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})


def display_text(value: Any, newlines: bool = False) -> str:
    """A cell for a terminal: control characters as visible escapes (`\\x1b`, `\\n`), since
    user names and certificate names come from outside and must not steer the terminal."""
    text = cell_text(value)
    if not newlines:
        return text.translate(_CONTROLS)
    return "\n".join(line.translate(_CONTROLS) for line in text.split("\n"))


def cell_text(value: Any) -> str:
    """One value as people read it in a table: NULL, true/false, JSON for nested values."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return _dumps(value, separators=(",", ":"))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _table(relation: duckdb.DuckDBPyRelation, out: IO[str], header: bool, row_count: bool) -> None:
    """An aligned grid sized to its content; numbers right-aligned; a row count below."""
    names = relation.columns
    numeric = [_is_numeric(str(t)) for t in relation.types]
    rows = [[display_text(v) for v in row] for row in _rows(relation)]
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]

    def line(cells: list[str]) -> str:
        parts = zip(cells, widths, numeric, strict=True)
        return " | ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in parts).rstrip()

    if header:
        out.write(line(list(names)) + "\n")
        out.write(line(["-" * w for w in widths]).replace(" | ", "-+-") + "\n")
    for row in rows:
        out.write(line(row) + "\n")
    if row_count:
        out.write(f"({len(rows)} row{'' if len(rows) == 1 else 's'})\n")


def _markdown(relation: duckdb.DuckDBPyRelation, out: IO[str], header: bool) -> None:
    """A GitHub-flavoured Markdown table; `|` and newlines inside cells are escaped."""
    numeric = [_is_numeric(str(t)) for t in relation.types]
    out.write(_markdown_row(relation.columns))
    out.write(_markdown_row(["---:" if n else ":---" for n in numeric]))
    for row in _rows(relation):
        out.write(_markdown_row([display_text(v, newlines=True) for v in row]))


def _markdown_row(cells: list[str]) -> str:
    escaped = (c.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>") for c in cells)
    return "| " + " | ".join(escaped) + " |\n"


def _is_numeric(type_name: str) -> bool:
    return type_name.split("(")[0] in {
        "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
        "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
    }  # fmt: skip
