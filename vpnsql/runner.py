"""What the command line and the shell share: run a statement with its progress line, and
turn errors into text. Both faces sit on this module; neither imports the other.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from vpnsql.terminal import visible

EXIT_ERROR = 1

if TYPE_CHECKING:
    import duckdb

    from vpnsql import planner
    from vpnsql.session import Session


def diagnostic(text: str) -> None:
    """One diagnostic on stderr, `visible`: errors and notices quote what users and clouds
    sent (a region typed into WHERE, an API's message), which must not steer the terminal."""
    print(visible(text, newlines=True), file=sys.stderr)


def report_error(err: Exception) -> int:
    """Print an error as one clear message (and a hint); return its exit code."""
    from vpnsql.errors import Cancelled, VpnsqlError

    if isinstance(err, Cancelled):  # the user said no: an answer, not an error
        print(f"vpnsql: {err.message}", file=sys.stderr)
        return err.exit_code
    if isinstance(err, VpnsqlError):
        diagnostic(f"vpnsql: error: {err.message}")
        if err.hint:
            diagnostic(f"hint: {err.hint}")
        return err.exit_code
    import duckdb

    if isinstance(err, duckdb.Error):
        diagnostic(f"vpnsql: error: {err}")
        return EXIT_ERROR
    diagnostic(f"vpnsql: internal error: {type(err).__name__}: {err}")
    diagnostic("hint: run again with --debug for the traceback, and report it")
    return EXIT_ERROR


def run_statement(session: Session, statement: planner.Statement) -> duckdb.DuckDBPyRelation | None:
    """Run one statement with a progress line on stderr; name each fetch --allow-partial
    skipped, there too."""
    from vpnsql.progress import Progress

    with Progress(lambda: session.last_stats, sys.stderr):
        relation = session.run(statement)
    for failure in session.last_stats.failures:
        diagnostic(f"vpnsql: skipped: {failure.error.message}")
    return relation


def report_failed_calls(count: int) -> None:
    """After an EXEC or DELETE that did not end every session it targeted (a call failed, or
    the cloud cannot end one: an Alibaba SSL-VPN client): the rows say which and why."""
    print(
        f"vpnsql: error: {count} target(s) not ended (a call failed, or the cloud cannot end "
        "it); see the message column",
        file=sys.stderr,
    )
