"""Run a statement's calls: discovery first, then every call, concurrently and bounded.

Calls run on up to `settings.max_concurrency` threads. A failed call never turns into missing
rows: by default the statement fails naming every call that failed; with `allow_partial` the
rows that arrived are kept and the failures are reported in the stats. An optional
`FetchCache` (the shell's) answers calls fetched moments ago without calling the API again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from vpnsql.errors import CredentialsError, ProviderError, VpnsqlError
from vpnsql.planner import Call, merge
from vpnsql.tables import FetchRequest, Param, Row, Settings, Table

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
U = TypeVar("U")


@dataclass(frozen=True)
class Failure:
    """A call that failed, with the provider's error (code, region, target)."""

    call: Call
    error: VpnsqlError


class FetchFailed(VpnsqlError):
    """Calls of a statement that made several failed; the message names each."""

    def __init__(self, failures: Sequence[Failure], total: int) -> None:
        lines = [f"{len(failures)} of {total} API calls failed:"]
        lines += [f"  {failure.error.message}" for failure in failures]
        hints = [failure.error.hint for failure in failures if failure.error.hint]
        hints.append("--allow-partial keeps the rows that arrived")
        super().__init__("\n".join(lines), hint="; ".join(dict.fromkeys(hints)))
        self.failures = list(failures)


@dataclass
class FetchStats:
    """What one statement's fetch cost and how far it is: for progress, `.timer`, benchmarks."""

    calls: int = 0
    done: int = 0
    pages: int = 0
    cached: int = 0
    rows: int = 0
    seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_page(self, rows: int) -> None:
        with self._lock:
            self.pages += 1
            self.rows += rows

    def add_calls(self, count: int) -> None:
        with self._lock:
            self.calls += count

    def add_notice(self, notice: str) -> None:
        with self._lock:
            if notice not in self.notices:
                self.notices.append(notice)

    def finish_call(self) -> None:
        with self._lock:
            self.done += 1


class FetchCache:
    """Answers of recent calls (rows of a call, values a discovery found), reused for `ttl`
    seconds (a shell refining a query)."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._entries: dict[Hashable, tuple[float, list[Any]]] = {}

    def get(self, key: Hashable) -> list[Any] | None:
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] > self.ttl:
            return None
        return entry[1]

    def put(self, key: Hashable, answer: list[Any]) -> None:
        self._entries[key] = (time.monotonic(), answer)

    def clear(self) -> None:
        self._entries.clear()


def run_call(call: Call, settings: Settings, stats: FetchStats | None = None) -> list[Row]:
    """All rows of one call, at most `call.limit` of them when it has one."""
    request = FetchRequest(dict(call.params), dict(call.filters), call.limit, settings)
    if stats is not None:
        request = replace(request, notice=stats.add_notice)
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
    *,
    allow_partial: bool = False,
) -> dict[Table, list[Row]]:
    """Rows per table for every call (discovering open params first)."""
    stats = stats if stats is not None else FetchStats()
    started = time.perf_counter()
    try:
        concrete = _discover(calls, settings, stats, cache)
        results = _answers(
            concrete, lambda call: run_call(call, settings, stats), settings, stats, cache
        )
        elsewhere = _found_elsewhere(results)
        for call, outcome in results.items():
            if isinstance(outcome, ProviderError) and not elsewhere(call, outcome):
                _failed(call, outcome, stats)
    finally:
        stats.seconds += time.perf_counter() - started
    if stats.failures and not allow_partial:
        if stats.calls <= 1:  # the statement's only call: its own error says it all
            raise stats.failures[0].error
        raise FetchFailed(stats.failures, stats.calls)
    by_table: dict[Table, list[Row]] = {call.table: [] for call in calls}
    for call in concrete:  # plan order keeps results deterministic
        if isinstance(rows := results[call], ProviderError):
            continue
        by_table[call.table].extend(rows)
        if call.via is not None:
            by_table.setdefault(call.via.view, []).extend(map(call.via.row, rows))
    return by_table


def _found_elsewhere(
    results: Mapping[Call, list[Row] | ProviderError],
) -> Callable[[Call, ProviderError], bool]:
    """Whether a failure only says a value is absent where this call asked (see
    `Param.absent`) while another call found that value: e.g. `ClientVpnEndpointId IN (a, b)
    AND region IN (r1, r2)` asks a in r2, where it is not."""
    answered = {
        (call.table, name, value)
        for call, outcome in results.items()
        if not isinstance(outcome, ProviderError)
        for name, value in call.params
    }

    def check(call: Call, error: ProviderError) -> bool:
        return any(
            error.code in param.absent and (call.table, param.name, value) in answered
            for name, value in call.params
            if (param := call.table.param(name)) is not None
        )

    return check


def _failed(call: Call, error: ProviderError, stats: FetchStats) -> None:
    """Record a failed call; in a cross-cloud view a cloud without credentials that the
    statement did not name is skipped."""
    if call.skippable and isinstance(error, CredentialsError):
        stats.add_notice(f"{call.table.provider} skipped: no credentials configured")
        return
    stats.failures.append(Failure(call, error))


def _discover(
    calls: Sequence[Call], settings: Settings, stats: FetchStats, cache: FetchCache | None
) -> list[Call]:
    """Replace each call with open params by one call per discovered value (in plan order)."""
    concrete = list(calls)
    while any(call.discover for call in concrete):
        keys = list(dict.fromkeys((c.discover[0], c.params) for c in concrete if c.discover))
        found = _answers(
            keys,
            lambda key: list(key[0].discover(FetchRequest(dict(key[1]), settings=settings))),
            settings,
            stats,
            cache,
        )
        expanded: list[Call] = []
        for call in concrete:
            if not call.discover:
                expanded.append(call)
                continue
            values = found[(call.discover[0], call.params)]
            if isinstance(values, ProviderError):
                _failed(call, values, stats)
                continue
            expanded.extend(_with_value(call, call.discover[0], value) for value in values)
        concrete = merge(expanded)
    return concrete


def _with_value(call: Call, param: Param, value: str) -> Call:
    given = {**dict(call.params), param.name: value}
    order = [p.name for p in call.table.required_params if p.name in given]
    params = tuple((name, given[name]) for name in order)
    return replace(call, params=params, discover=call.discover[1:])


def _answers(
    keys: Sequence[K],
    work: Callable[[K], list[U]],
    settings: Settings,
    stats: FetchStats,
    cache: FetchCache | None,
) -> dict[K, list[U] | ProviderError]:
    """`work` for every key, answered from the cache where it can be and cached where it
    succeeded; the rest concurrently."""
    answers: dict[K, list[U] | ProviderError] = {}
    for key in keys:
        if cache is not None and (cached := cache.get(key)) is not None:
            answers[key] = cached
            stats.cached += 1
    missing = [key for key in keys if key not in answers]
    fetched = _in_pool(missing, work, settings, stats)
    for key, answer in fetched.items():
        if cache is not None and not isinstance(answer, ProviderError):
            cache.put(key, answer)
    return answers | fetched


def _in_pool(
    items: Sequence[T], work: Callable[[T], U], settings: Settings, stats: FetchStats
) -> dict[T, U | ProviderError]:
    """`work` on every item, concurrently; a provider error is returned as that item's result,
    so one failure neither hides the others nor stops them."""
    stats.add_calls(len(items))

    def attempt(item: T) -> U | ProviderError:
        try:
            return work(item)
        except ProviderError as err:
            return err
        finally:
            stats.finish_call()

    if len(items) <= 1:
        return {item: attempt(item) for item in items}
    pool = ThreadPoolExecutor(max_workers=max(1, min(settings.max_concurrency, len(items))))
    try:
        futures: dict[Future[U | ProviderError], T] = {pool.submit(attempt, i): i for i in items}
        wait(futures)
        return {item: future.result() for future, item in futures.items()}
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
