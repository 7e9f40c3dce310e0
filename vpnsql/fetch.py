"""Run a statement's calls: concurrently, bounded, and failing loudly.

Each call goes through its table's fetch function on a worker thread. The first failure cancels
what has not started and is raised, so an error never turns into missing rows. An optional
`FetchCache` (the shell's) answers calls fetched moments ago without calling the API again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from vpnsql.planner import Call
from vpnsql.tables import FetchRequest, Row, Settings, Table


@dataclass
class FetchStats:
    """What one statement's fetch cost: for `.timer` and benchmarks."""

    calls: int = 0
    pages: int = 0
    cached: int = 0
    rows: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_page(self, rows: int) -> None:
        with self._lock:
            self.pages += 1
            self.rows += rows


class FetchCache:
    """Rows of recent calls, reused for `ttl` seconds (a shell refining a query)."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._entries: dict[Call, tuple[float, list[Row]]] = {}

    def get(self, call: Call) -> list[Row] | None:
        entry = self._entries.get(call)
        if entry is None or time.monotonic() - entry[0] > self.ttl:
            return None
        return entry[1]

    def put(self, call: Call, rows: list[Row]) -> None:
        self._entries[call] = (time.monotonic(), rows)

    def clear(self) -> None:
        self._entries.clear()


def run_call(call: Call, settings: Settings, stats: FetchStats | None = None) -> list[Row]:
    """All rows of one call, at most `call.limit` of them when it has one."""
    request = FetchRequest(dict(call.params), dict(call.filters), call.limit, settings)
    rows: list[Row] = []
    for page in call.table.fetch(request):
        if stats is not None:
            stats.add_page(len(page))
        rows.extend(page)
        if call.limit is not None and len(rows) >= call.limit:
            return rows[: call.limit]
    return rows


def run_calls(
    calls: Sequence[Call],
    settings: Settings,
    cache: FetchCache | None = None,
    stats: FetchStats | None = None,
) -> dict[Table, list[Row]]:
    """Rows per table for every call, fetched on up to `settings.max_concurrency` threads."""
    stats = stats if stats is not None else FetchStats()
    started = time.perf_counter()
    results: dict[Call, list[Row]] = {}
    for call in calls:
        if cache is not None and (rows := cache.get(call)) is not None:
            results[call] = rows
            stats.cached += 1
    missing = [call for call in calls if call not in results]
    stats.calls += len(missing)
    results.update(_fetch_all(missing, settings, stats))
    if cache is not None:
        for call in missing:
            cache.put(call, results[call])
    stats.seconds += time.perf_counter() - started
    by_table: dict[Table, list[Row]] = {call.table: [] for call in calls}
    for call in calls:  # call order keeps results deterministic
        by_table[call.table].extend(results[call])
    return by_table


def _fetch_all(calls: list[Call], settings: Settings, stats: FetchStats) -> dict[Call, list[Row]]:
    if len(calls) <= 1:
        return {call: run_call(call, settings, stats) for call in calls}
    pool = ThreadPoolExecutor(max_workers=max(1, min(settings.max_concurrency, len(calls))))
    try:
        futures: dict[Future[list[Row]], Call] = {
            pool.submit(run_call, call, settings, stats): call for call in calls
        }
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            if (error := future.exception()) is not None:
                raise error
        return {call: future.result() for future, call in futures.items()}
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
