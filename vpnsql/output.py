"""Render query results as text: table and markdown for people, json, jsonl and csv for programs.

Rows are read from DuckDB a batch at a time, so the machine formats stream instead of holding
the whole result as Python objects. Values keep their types: JSON numbers stay numbers,
timestamps are ISO-8601 UTC, STRUCTs are objects, NULL is null (and so are NaN and infinities,
which JSON has no words for). CSV matches what vpnsql's CSV files hold (timestamps
`YYYY-MM-DD HH:MM:SS`, nested values as JSON text).

One column, one precision: a timestamp column shows every value to the finest precision any
of its values needs (seconds, milliseconds or microseconds), so AWS's whole seconds and
Alibaba's milliseconds line up in one column of the cross-cloud view (TIME_DIGITS).
"""

from __future__ import annotations

import csv
import json
import math
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, Any
from uuid import UUID

import duckdb

from vpnsql.engine import quote
from vpnsql.terminal import visible

FORMATS = ("table", "json", "jsonl", "csv", "markdown")
BATCH_ROWS = 10_000
TIMESPECS = {0: "seconds", 3: "milliseconds", 6: "microseconds"}
"""Digits of a second a timestamp column shows, as `datetime.isoformat`'s timespec."""

Times = dict[int, int]
"""Column index -> digits of a second its timestamps show (see `time_digits`)."""


def write(
    relation: duckdb.DuckDBPyRelation,
    fmt: str,
    out: IO[str],
    header: bool = True,
    row_count: bool = True,
    width: int | None = None,
) -> None:
    """Write the whole result to `out` in `fmt` (one of FORMATS).

    `header` False leaves out the column names (csv, table, markdown) and the table's
    "(N rows)" footer; `row_count` False leaves out only the footer, for a caller showing part
    of a result. With `width` (a terminal's), a table whose rows are wider turns vertical.
    """
    if fmt == "table":
        _table(relation, out, header, row_count and header, width)
        return
    writers = {"json": _json, "jsonl": _jsonl, "csv": _csv, "markdown": _markdown}
    writers[fmt](relation, out, header)


def plan_text(relation: duckdb.DuckDBPyRelation) -> str:
    """EXPLAIN's (key, value) rows as a person reads a plan: each value's lines as they are,
    under its key (control characters still escaped)."""
    return "\n".join(
        f"{display_text(key)}:\n{display_text(value, newlines=True).rstrip()}\n"
        for key, value in relation.fetchall()
    )


def is_time(type_name: str) -> bool:
    return type_name.startswith("TIMESTAMP")


def time_digits(relation: duckdb.DuckDBPyRelation) -> Times:
    """Per timestamp column, the digits of a second its finest value needs (0, 3 or 6),
    counted by DuckDB in one pass (nothing when the result has no timestamps)."""
    indexes = [i for i, t in enumerate(relation.types) if is_time(str(t))]
    if not indexes:
        return {}
    parts = []
    for index in indexes:
        micros = f"epoch_us({quote(relation.columns[index])}::TIMESTAMP)"
        parts.append(
            f"coalesce(max(CASE WHEN {micros} % 1000000 = 0 THEN 0 "
            f"WHEN {micros} % 1000 = 0 THEN 3 WHEN {micros} IS NOT NULL THEN 6 END), 0)"
        )
    (digits,) = relation.aggregate(", ".join(parts)).fetchall()
    return dict(zip(indexes, digits, strict=True))


def _digits_of(values: Iterator[Any]) -> int:
    finest = 0
    for value in values:
        if isinstance(value, datetime) and value.microsecond:
            finest = max(finest, 3 if value.microsecond % 1000 == 0 else 6)
    return finest


def timestamp_text(value: datetime, digits: int, sep: str = " ") -> str:
    """A naive-UTC (or aware) timestamp with exactly `digits` digits of a second."""
    return value.isoformat(sep=sep, timespec=TIMESPECS[digits])


def _rows(relation: duckdb.DuckDBPyRelation) -> Iterator[tuple[Any, ...]]:
    """Every row over one run of the relation, holding one batch at a time."""
    return relation.iter_rows(BATCH_ROWS)


def _plain(value: Any, digits: int | None = None) -> Any:
    """A JSON-able stand-in for the leaf values json cannot encode itself; a timestamp with
    `digits` digits of a second (as few as it needs when its column's are not known)."""
    if isinstance(value, datetime):
        text = value.isoformat() if digits is None else timestamp_text(value, digits, "T")
        if value.tzinfo is None:  # vpnsql's times are naive UTC
            return text + "Z"
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
    times = time_digits(relation)
    for row in _rows(relation):
        values = list(row)
        for index, digits in times.items():
            if values[index] is not None:
                values[index] = _plain(values[index], digits)
        yield _dumps(dict(zip(names, values, strict=True)))


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
    times = time_digits(relation)
    count = len(relation.columns)
    digits = [times.get(i) for i in range(count)]
    writer.writerows(
        [_csv_cell(v, d) for v, d in zip(row, digits, strict=True)] for row in _rows(relation)
    )


def _csv_cell(value: Any, digits: int | None = None) -> Any:
    """As a table shows it, but NULL is an empty field and other leaf types are written as in
    JSON: the same text vpnsql's CSV files hold."""
    if value is None:
        return None
    if isinstance(value, date | time | Decimal | timedelta | bytes | UUID) and not isinstance(
        value, datetime
    ):
        return _plain(value)
    return cell_text(value, digits)


def display_text(value: Any, newlines: bool = False, digits: int | None = None) -> str:
    """A cell for a terminal: control characters as visible escapes (`\\x1b`, `\\n`), since
    user names and certificate names come from outside and must not steer the terminal."""
    return visible(cell_text(value, digits), newlines)


def cell_text(value: Any, digits: int | None = None) -> str:
    """One value as people read it in a table: NULL, true/false, JSON for nested values, a
    timestamp with its column's `digits` of a second."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return _dumps(value, separators=(",", ":"))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if digits is None else timestamp_text(value, digits)
    return str(value)


def _table(
    relation: duckdb.DuckDBPyRelation,
    out: IO[str],
    header: bool,
    row_count: bool,
    width: int | None = None,
) -> None:
    """An aligned grid sized to its content; numbers right-aligned; a row count below. Wider
    than `width`, one `column: value` line per column instead."""
    names = relation.columns
    numeric = [_is_numeric(str(t)) for t in relation.types]
    values = list(_rows(relation))
    rows = _display_rows(relation, values)
    widths = [
        max([len(n) if header else 0, *(len(r[i]) for r in rows)]) for i, n in enumerate(names)
    ]

    def line(cells: list[str]) -> str:
        parts = zip(cells, widths, numeric, strict=True)
        return " | ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in parts).rstrip()

    lines = [line(row) for row in rows]
    if header:
        lines[:0] = [line(list(names)), line(["-" * w for w in widths]).replace(" | ", "-+-")]
    if width is not None and rows and max(display_width(text) for text in lines) > width:
        _vertical(names, rows, width, out)
    else:
        out.writelines(text + "\n" for text in lines)
    if row_count:
        out.write(f"({len(rows)} row{'' if len(rows) == 1 else 's'})\n")


def _display_rows(
    relation: duckdb.DuckDBPyRelation, values: list[tuple[Any, ...]], newlines: bool = False
) -> list[list[str]]:
    """Every value as a terminal shows it, each timestamp column at one precision."""
    digits = [
        _digits_of(row[i] for row in values) if is_time(str(kind)) else None
        for i, kind in enumerate(relation.types)
    ]
    return [
        [display_text(v, newlines, d) for v, d in zip(row, digits, strict=True)] for row in values
    ]


def _vertical(names: list[str], rows: list[list[str]], width: int, out: IO[str]) -> None:
    """One `column: value` line per column and a rule per record, for rows too wide to fit."""
    pad = max((len(name) for name in names), default=0)
    for number, row in enumerate(rows, 1):
        out.write(f" {number}. row ".center(min(width, 62), "*") + "\n")
        out.writelines(
            f"{name.rjust(pad)}: {value}\n" for name, value in zip(names, row, strict=True)
        )


def display_width(text: str) -> int:
    """Columns a line takes on a terminal: East Asian wide characters count twice."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _markdown(relation: duckdb.DuckDBPyRelation, out: IO[str], header: bool) -> None:
    """A GitHub-flavoured Markdown table; `|` and newlines inside cells are escaped. Without
    `header`, the rows alone (for pasting under a header of one's own)."""
    numeric = [_is_numeric(str(t)) for t in relation.types]
    if header:
        out.write(_markdown_row(relation.columns))
        out.write(_markdown_row(["---:" if n else ":---" for n in numeric]))
    for cells in _display_rows(relation, list(_rows(relation)), newlines=True):
        out.write(_markdown_row(cells))


def _markdown_row(cells: list[str]) -> str:
    escaped = (c.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>") for c in cells)
    return "| " + " | ".join(escaped) + " |\n"


def _is_numeric(type_name: str) -> bool:
    return type_name.split("(")[0] in {
        "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
        "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
    }  # fmt: skip
