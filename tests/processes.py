"""Processes a test starts: signals at their defaults in them, and always reaped.

A test run started with SIGINT ignored (`nohup pytest &` does that) passes the ignoring on to
every child, and Python started with SIGINT ignored never raises KeyboardInterrupt: a child
sent Ctrl-C would then run on. Children therefore get SIGINT and SIGTERM back at the OS
default before they start, and whatever happens in the test, a child still running at the end
is killed and waited for.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pexpect


def default_signals() -> None:
    """Run in the child before exec: SIGINT and SIGTERM as a fresh process has them."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


@contextmanager
def started(argv: list[str], **options: Any) -> Iterator[subprocess.Popen[Any]]:
    """`subprocess.Popen(argv, **options)` with default signals, killed and reaped on exit."""
    process = subprocess.Popen(argv, preexec_fn=default_signals, **options)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


@contextmanager
def on_terminal(argv: list[str], **options: Any) -> Iterator[pexpect.spawn]:
    """`argv` on a pseudo-terminal (pexpect), with default signals, closed on exit."""
    import pexpect

    child = pexpect.spawn(argv[0], argv[1:], preexec_fn=default_signals, **options)
    try:
        yield child
    finally:
        child.close(force=True)
