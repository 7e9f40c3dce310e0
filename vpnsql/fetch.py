"""Run a statement's calls: concurrently, bounded, and failing loudly.

Each call goes through its table's fetch function on a worker thread. The first failure cancels
what has not started and is raised, so an error never turns into missing rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait

from vpnsql.planner import Call
from vpnsql.tables import FetchRequest, Row, Settings, Table


def run_call(call: Call, settings: Settings) -> list[Row]:
    """All rows of one call, at most `call.limit` of them when it has one."""
    request = FetchRequest(dict(call.params), dict(call.filters), call.limit, settings)
    rows: list[Row] = []
    for page in call.table.fetch(request):
        rows.extend(page)
        if call.limit is not None and len(rows) >= call.limit:
            return rows[: call.limit]
    return rows


def run_calls(calls: Sequence[Call], settings: Settings) -> dict[Table, list[Row]]:
    """Rows per table for every call, fetched on up to `settings.max_concurrency` threads."""
    results: dict[Table, list[Row]] = {call.table: [] for call in calls}
    if len(calls) == 1:
        results[calls[0].table] = run_call(calls[0], settings)
        return results
    pool = ThreadPoolExecutor(max_workers=max(1, min(settings.max_concurrency, len(calls))))
    try:
        futures: dict[Future[list[Row]], Call] = {
            pool.submit(run_call, call, settings): call for call in calls
        }
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            if (error := future.exception()) is not None:
                raise error
        for future in futures:  # submission order keeps results deterministic
            results[futures[future].table].extend(future.result())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return results
