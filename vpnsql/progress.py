"""A progress line on stderr while a slow fetch runs: calls done/total and rows so far.

Only on a terminal, only after a short delay and only while calls are outstanding, so quick
queries print nothing, a question asked after the fetch (DELETE's y/N) is not drawn over, and
nothing of it ever reaches stdout, a pipe or an export. The line is erased when the work ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from vpnsql.fetch import FetchStats

DELAY = 0.5
INTERVAL = 0.1
ERASE = "\r\x1b[K"


class Progress:
    """`with Progress(lambda: session.last_stats, sys.stderr): session.run(...)`."""

    def __init__(self, stats: Callable[[], FetchStats], stream: TextIO) -> None:
        self._stats = stats
        self._stream = stream
        self._stop = threading.Event()
        self._shown = False
        self._thread = threading.Thread(target=self._loop, name="vpnsql-progress", daemon=True)

    def __enter__(self) -> Progress:
        if self._stream.isatty():
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._shown:
            self._stream.write(ERASE)
            self._stream.flush()

    def _loop(self) -> None:
        if self._stop.wait(DELAY):
            return
        while not self._stop.is_set():
            stats = self._stats()
            if stats.done < stats.calls:
                self._stream.write(f"{ERASE}{stats.done}/{stats.calls} calls, {stats.rows:,} rows")
                self._shown = True
            elif self._shown:  # fetched: off the screen before a question (DELETE's y/N)
                self._stream.write(ERASE)
                self._shown = False
            self._stream.flush()
            self._stop.wait(INTERVAL)
