"""Results for a person at a terminal: capped, fitted to the width, paged when long.

The formats themselves are `vpnsql.output`'s, so the shell prints what `-e` prints; this adds
what only matters on a screen: at most ROW_LIMIT rows (the total counted by DuckDB, not by
pulling every row into Python) and a pager for more lines than fit; wide rows turn vertical as
they do for `-e` on a terminal (vpnsql.output).
"""

from __future__ import annotations

import io
import os
import subprocess
from dataclasses import dataclass
from typing import TextIO

import duckdb

from vpnsql import output
from vpnsql.fetch import FetchStats

ROW_LIMIT = 1000


@dataclass(frozen=True)
class Rendered:
    """The text to show, and the rows it shows (for the values completion offers later)."""

    text: str
    shown: duckdb.DuckDBPyRelation


def render(
    relation: duckdb.DuckDBPyRelation,
    fmt: str,
    width: int,
    header: bool = True,
    limit: int = ROW_LIMIT,
) -> Rendered:
    """Run the query once for at most `limit` rows and lay them out in `fmt`."""
    held = relation.limit(limit + 1).materialize()
    count = len(held)
    capped = count > limit
    shown = held.limit(limit) if capped else held
    buffer = io.StringIO()
    output.write(shown, fmt, buffer, header, row_count=not capped, width=width)
    text = buffer.getvalue()
    if capped:
        text += (
            f"(showing the first {limit:,} of {len(relation):,} rows; .once FILE writes them all)\n"
        )
    return Rendered(text, shown)


def timing(stats: FetchStats, elapsed: float) -> str:
    """`.timer`'s line: fetch time and what it cost (API calls, pages, cache hits), then
    the rest of the statement (loading, DuckDB)."""
    costs = []
    if stats.calls:
        costs.append(_plural(stats.calls, "API call") + ", " + _plural(stats.pages, "page"))
    if stats.cached:
        costs.append(_plural(stats.cached, "call") + " answered from the cache")
    fetch = f"fetch {stats.seconds:.3f} s ({'; '.join(costs)}) · " if costs else ""
    return f"time: {fetch}query {max(elapsed - stats.seconds, 0.0):.3f} s\n"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def page(text: str, out: TextIO) -> None:
    """Show `text` through $PAGER (default `less`), falling back to plain output.

    LESS defaults to -RXF: colours pass through, the text stays on screen after quitting, and
    less exits by itself when the text fits after all.
    """
    command = os.environ.get("PAGER") or "less"
    env = {**os.environ, "LESS": os.environ.get("LESS", "-RXF")}
    out.flush()
    try:
        process = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, text=True, env=env)
    except OSError:
        out.write(text)
        return
    assert process.stdin is not None
    try:
        with process.stdin as pipe:
            pipe.write(text)
    except (BrokenPipeError, KeyboardInterrupt):
        pass  # the reader quit early: the rest is not wanted
    while True:
        try:
            status = process.wait()
            break
        except KeyboardInterrupt:
            continue  # Ctrl-C belongs to the pager while it runs
    if status == 127:  # the shell found no such pager
        out.write(text)
