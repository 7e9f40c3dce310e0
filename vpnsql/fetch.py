"""Run a statement's calls as a tree: every discovered value starts its next level at once.

A call whose required params the WHERE clause left open is expanded param by param, in the
table's declaration order (accounts, then their regions, then each region's endpoints): values
known from the configuration are taken at once (`Param.resolve`), the others are discovered with
an API call, and each value answered starts its child calls immediately, with no barrier
between levels. Calls in flight are bounded per (provider, account, region), as the clouds
throttle, and in all (`Settings.max_concurrency`); a provider's `prepare` (an SDK import) runs
in the background without holding a worker. The whole fetch has a deadline
(`Settings.timeout`) and a budget of calls (`Settings.max_calls`).

Rows go to the `Sink` page by page (DuckDB tables, one per call), so Python holds about one page
per call in flight. A failed call never turns into missing rows: by default the statement fails
naming every call that failed; with `allow_partial` the rows that arrived are kept and the
failures are reported in the stats. An optional `FetchCache` (the shell's) answers calls made
moments ago; it learns only from a fetch that completed, never from a cancelled one.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import queue
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from vpnsql.errors import NotConfigured, ProviderError, VpnsqlError
from vpnsql.planner import Call
from vpnsql.tables import FetchRequest, Pages, Param, Row, Settings, Table, ViewBranch, hull

SHOWN_FAILURES = 10
"""Failures listed one by one; the rest are counted by error code."""


@dataclass(frozen=True)
class Failure:
    """A call that failed, with the provider's error (code, region, target)."""

    call: Call
    error: VpnsqlError


class FetchFailed(VpnsqlError):
    """Calls of a statement failed; the message names them (the first few, then counts)."""

    def __init__(self, failures: Sequence[Failure], total: int) -> None:
        lines = [f"{len(failures)} of {total} API calls failed:"]
        lines += [f"  {failure.error.message}" for failure in failures[:SHOWN_FAILURES]]
        rest = collections.Counter(
            getattr(failure.error, "code", None) or "error" for failure in failures[SHOWN_FAILURES:]
        )
        lines += [f"  ... and {count:,} more {code}" for code, count in rest.most_common()]
        hints = [failure.error.hint for failure in failures if failure.error.hint]
        hints.append("--allow-partial keeps the rows that arrived")
        super().__init__("\n".join(lines), hint="; ".join(dict.fromkeys(hints)))
        self.failures = list(failures)


class NothingToAsk(VpnsqlError):
    """A statement on a cross-cloud view could ask no cloud at all: an error, never the empty
    answer "nobody is connected"."""


class TooManyCalls(VpnsqlError):
    """The statement would make more API calls than `Settings.max_calls` allows."""


class Staged(Protocol):
    """A call's rows, kept by the sink, for each table they feed (the call's own, and the
    view its rows are mapped into)."""

    rows: int

    @property
    def feeds(self) -> list[Table]: ...


class Stage(Protocol):
    """Where one call's pages go as they arrive."""

    def append(self, rows: list[Row]) -> None: ...
    def close(self) -> Staged: ...
    def discard(self) -> None: ...


Sink = Callable[[Table, ViewBranch | None], Stage]
"""Opens a stage for one call of a table, and of the view its rows also fill (the engine's)."""


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
    discovered: list[tuple[str, str]] = field(default_factory=list)
    """(param, value) for every value the fetch filled in (resolved, discovered or cached):
    the shell offers them in completion."""
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

    def add_discovered(self, param: str, values: list[str]) -> None:
        with self._lock:
            self.discovered.extend((param, value) for value in values)

    def finish_call(self) -> None:
        with self._lock:
            self.done += 1


class FetchCache:
    """Answers of recent calls (a call's staged rows, the values a discovery found), reused
    for `ttl` seconds (a shell refining a query)."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._entries: dict[Hashable, tuple[float, Any]] = {}

    def get(self, key: Hashable) -> Any | None:
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] > self.ttl:
            return None
        return entry[1]

    def put(self, key: Hashable, answer: Any) -> None:
        self._entries[key] = (time.monotonic(), answer)

    def answers(self) -> list[Any]:
        """Every answer still fresh (the sink keeps their rows)."""
        now = time.monotonic()
        return [answer for stamp, answer in self._entries.values() if now - stamp <= self.ttl]

    def clear(self) -> None:
        self._entries.clear()


def run_calls(
    calls: Sequence[Call],
    settings: Settings,
    sink: Sink,
    cache: FetchCache | None = None,
    stats: FetchStats | None = None,
    *,
    allow_partial: bool = False,
    prepare: Mapping[str, Callable[[], None]] | None = None,
) -> dict[Table, list[Staged]]:
    """Every call's rows staged, per table in plan order (discovering open params first)."""
    stats = stats if stats is not None else FetchStats()
    if len(calls) > settings.max_calls:
        raise _too_many(len(calls), settings)
    started = time.perf_counter()
    run = _Run(settings, sink, cache, stats, prepare or {})
    try:
        run.start(calls)
        run.wait()
    except BaseException:
        run.cancel()
        raise
    finally:
        stats.seconds += time.perf_counter() - started
    return run.finish(calls, allow_partial)


def _too_many(count: int, settings: Settings) -> TooManyCalls:
    return TooManyCalls(
        f"this statement needs more than {settings.max_calls:,} API calls ({count:,} so far)",
        hint="narrow it (account, region, endpoint in WHERE), or raise the cap with "
        "--max-calls N or max_calls in the [vpnsql] section of the config file",
    )


def _throttle_key(call: Call) -> tuple[str, str | None, str | None]:
    """Calls that share a cloud's throttling bucket: one account in one region."""
    params = dict(call.params)
    return (call.table.provider, params.get("account"), params.get("region"))


def _prefix(call: Call, param: Param) -> tuple[tuple[str, str], ...]:
    """The params a discovery of `param` sees: those declared before it."""
    before = []
    for declared in call.table.required_params:
        if declared is param:
            break
        before.append(declared.name)
    return tuple((name, value) for name, value in call.params if name in before)


def _filters_for(call: Call, param: Param) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The filters a discovery sees: account discovery honours `accountId`."""
    return call.filters if param.name == "account" else ()


def _with_value(call: Call, param: Param, value: str) -> Call:
    given = {**dict(call.params), param.name: value}
    order = [p.name for p in call.table.required_params if p.name in given]
    params = tuple((name, given[name]) for name in order)
    return replace(call, params=params, discover=call.discover[1:])


def _covers(done: Call, wanted: Call) -> bool:
    """Whether `done`'s rows are all the rows `wanted` needs (fewer filters, no smaller limit,
    a time range holding `wanted`'s)."""
    if done.window is not None and not done.window.holds(wanted.window):
        return False
    if done.filters == wanted.filters:
        return done.limit is None or (wanted.limit is not None and done.limit >= wanted.limit)
    have = dict(done.filters)
    need = dict(wanted.filters)
    return done.limit is None and all(
        name in need and set(values) >= set(need[name]) for name, values in have.items()
    )


def _weaker(one: Call, other: Call) -> Call:
    """One call that gives every row either needs: common filters (values united), and a
    limit only if both have one."""
    mine, theirs = dict(one.filters), dict(other.filters)
    filters = tuple(
        (name, tuple(sorted(set(mine[name]) | set(theirs[name]))))
        for name in mine
        if name in theirs
    )
    limit = None if one.limit is None or other.limit is None else max(one.limit, other.limit)
    skippable = one.skippable and other.skippable
    window = hull((one.window, other.window))
    return replace(one, filters=filters, limit=limit, skippable=skippable, window=window)


@dataclass
class _Fetch:
    """One concrete call on its way: where its rows go, and the plan positions it feeds."""

    call: Call
    orders: list[tuple[int, ...]]
    stage: Stage | None = None
    staged: Staged | None = None
    error: ProviderError | None = None
    superseded: bool = False
    cached: bool = False
    pages: dict[int, list[Row]] = field(default_factory=dict)
    next_page: int = 0
    outstanding: int = 0
    flushing: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _Discovery:
    """One discovery (or its cached answer) and the calls waiting for its values."""

    param: Param
    request: FetchRequest
    waiting: list[tuple[Call, tuple[int, ...]]] = field(default_factory=list)
    values: list[str] | None = None
    error: ProviderError | None = None


class _Workers:
    """Daemon threads running submitted work: a call that never returns (a server trickling
    bytes) cannot hold up the process's exit once the deadline has given up on it."""

    def __init__(self, limit: int) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._limit = limit
        self._lock = threading.Lock()
        self._idle = 0
        self._threads = 0

    def submit(self, work: Callable[[], None]) -> None:
        with self._lock:
            if self._idle == 0 and self._threads < self._limit:
                self._threads += 1
                threading.Thread(target=self._loop, name="vpnsql-fetch", daemon=True).start()
            else:
                self._idle -= 1
        self._queue.put(work)

    def _loop(self) -> None:
        while True:
            work = self._queue.get()
            if work is None:
                return
            work()
            with self._lock:
                self._idle += 1

    def close(self) -> None:
        with self._lock:
            threads, self._threads, self._idle = self._threads, 0, 0
        for _ in range(threads):
            self._queue.put(None)


class _Run:
    """The state of one fetch: the tree of calls, the bounds, the results."""

    def __init__(
        self,
        settings: Settings,
        sink: Sink,
        cache: FetchCache | None,
        stats: FetchStats,
        prepare: Mapping[str, Callable[[], None]],
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.cache = cache
        self.stats = stats
        self.prepare = prepare
        self.lock = threading.Condition()
        self.workers = _Workers(max(1, settings.max_concurrency))
        self.outstanding = 0  # queued or running tasks, and discoveries being expanded
        self.running = 0
        self.running_by_key: collections.Counter[Hashable] = collections.Counter()
        self.waiting: dict[Hashable, collections.deque[tuple[Call, Callable[[], None]]]] = {}
        self.in_flight: dict[int, tuple[Call, float]] = {}
        self.ready: set[str] = set()
        self.preparing: set[str] = set()
        self.fetches: dict[Hashable, _Fetch] = {}
        self.discoveries: dict[Hashable, _Discovery] = {}
        self.failures: list[Failure] = []
        self.unexpected: BaseException | None = None
        self.cancelled = False
        self.deadline = time.monotonic() + settings.timeout
        self.task_ids = itertools.count()

    # -- the tree ----------------------------------------------------------------------

    def start(self, calls: Sequence[Call]) -> None:
        with self.lock:  # SDK imports start at once, in the background
            for provider in dict.fromkeys(call.table.provider for call in calls):
                self.begin_prepare(provider)
        for index, call in enumerate(calls):
            self.advance(call, (index,))

    def advance(self, call: Call, order: tuple[int, ...]) -> None:
        """Take the call one param further: resolve, discover, or fetch when nothing is open."""
        if not call.discover:
            self.fetch(call, order)
            return
        param = call.discover[0]
        request = FetchRequest(
            dict(_prefix(call, param)),
            dict(_filters_for(call, param)),
            settings=self.settings,
            notice=self.stats.add_notice,
        )
        if param.resolve is not None:
            try:
                values = param.resolved(request)
            except ProviderError as err:
                self.fail(call, err)
                return
            if values is not None:
                self.expand(call, order, param, list(values))
                return
        key = ("discover", param, _prefix(call, param), _filters_for(call, param))
        with self.lock:
            discovery = self.discoveries.get(key)
            if discovery is not None:
                if discovery.values is None and discovery.error is None:
                    discovery.waiting.append((call, order))
                    return
            else:
                discovery = self.discoveries[key] = _Discovery(param, request, [(call, order)])
                cached = self.cache.get(key) if self.cache is not None else None
                if cached is None:
                    self.enqueue(call, lambda: self.discover(discovery))
                    return
                discovery.values = cached
                discovery.waiting.clear()
                self.stats.cached += 1
        self.answer(discovery, call, order)

    def discover(self, discovery: _Discovery) -> None:
        """The discovery task: list the param's values, then start every waiting call."""
        try:
            discovery.values = list(discovery.param.discover(discovery.request))  # type: ignore[misc]
        except ProviderError as err:
            discovery.error = err
        with self.lock:
            waiting, discovery.waiting = discovery.waiting, []
        for call, order in waiting:
            self.answer(discovery, call, order)

    def answer(self, discovery: _Discovery, call: Call, order: tuple[int, ...]) -> None:
        if discovery.error is not None:
            self.fail(call, discovery.error)
        else:
            self.expand(call, order, discovery.param, discovery.values or [])

    def expand(self, call: Call, order: tuple[int, ...], param: Param, values: list[str]) -> None:
        self.stats.add_discovered(param.name, values)
        for index, value in enumerate(values):
            self.advance(_with_value(call, param, value), (*order, index))

    def fetch(self, call: Call, order: tuple[int, ...]) -> None:
        """One concrete call: shared with an identical one, widened if another needs more."""
        key = ("fetch", call.table, call.params, call.via)
        with self.lock:
            current = self.fetches.get(key)
            if current is not None and _covers(current.call, call):
                current.orders.append(order)
                return
            if current is not None:
                current.superseded = True
                if current.staged is not None or current.stage is not None:
                    self.discard(current)
                call = _weaker(current.call, call)
                orders = [*current.orders, order]
            else:
                orders = [order]
            state = self.fetches[key] = _Fetch(call, orders)
            cached = (
                self.cache.get((key, call.filters, call.limit, call.window)) if self.cache else None
            )
            if cached is not None:
                state.staged, state.cached = cached, True
                self.stats.cached += 1
                return
            self.enqueue(call, lambda: self.run_fetch(state))

    def run_fetch(self, state: _Fetch) -> None:
        call = state.call
        request = FetchRequest(
            dict(call.params),
            dict(call.filters),
            call.limit,
            self.settings,
            notice=self.stats.add_notice,
            window=call.window,
        )
        if call.notice is not None:
            self.stats.add_notice(call.notice)
        stage = state.stage = self.sink(call.table, call.via)
        seen = 0
        try:
            for page in call.table.fetch(request):  # type: ignore[misc]
                if self.cancelled or state.superseded:
                    return
                if isinstance(page, Pages):
                    self.spread(state, page)
                    return
                self.stats.add_page(len(page))
                if call.limit is not None and seen + len(page) >= call.limit:
                    stage.append(page[: call.limit - seen])
                    break
                stage.append(page)
                seen += len(page)
        except ProviderError as err:
            state.error = err
        self.close(state)

    def spread(self, state: _Fetch, pages: Pages) -> None:
        """Pages the provider wants fetched side by side: each is a task of its own, in the
        same throttling bucket, and their rows are staged in page order."""
        if not pages.fetches:
            self.close(state)
        with self.lock, state.flushing:
            state.outstanding = len(pages.fetches)
            for index, fetch_page in enumerate(pages.fetches):
                self.enqueue(state.call, lambda i=index, f=fetch_page: self.run_page(state, i, f))

    def run_page(self, state: _Fetch, index: int, fetch_page: Callable[[], list[Row]]) -> None:
        try:
            rows = fetch_page()
        except ProviderError as err:
            rows = []
            state.error = state.error or err
        self.stats.add_page(len(rows))
        with state.flushing:  # pages staged in order, by whichever thread has the next one
            state.pages[index] = rows
            state.outstanding -= 1
            while state.next_page in state.pages:
                page = state.pages.pop(state.next_page)
                state.next_page += 1
                if state.stage is not None and not (self.cancelled or state.superseded):
                    state.stage.append(page)
            if state.outstanding == 0:
                self.close(state)

    def close(self, state: _Fetch) -> None:
        """The call ended: keep its rows, or throw them away (DuckDB's work outside the lock,
        which every other call's bookkeeping needs)."""
        with self.lock:
            stage, state.stage = state.stage, None
            keep = state.error is None and not state.superseded and not self.cancelled
        if stage is None:
            return
        if not keep:
            stage.discard()
            return
        staged = stage.close()
        with self.lock:
            if state.superseded or self.cancelled:
                staged = None
            state.staged = staged

    def discard(self, state: _Fetch) -> None:
        """Throw away a call's rows (superseded by a wider call, or failed)."""
        if state.stage is not None:
            state.stage.discard()
            state.stage = None
        state.staged = None

    def fail(self, call: Call, error: ProviderError) -> None:
        with self.lock:
            self.failures.append(Failure(call, error))

    # -- scheduling --------------------------------------------------------------------

    def enqueue(self, call: Call, work: Callable[[], None]) -> None:
        """Queue a task (under the lock); it starts when its bucket and the pool have room."""
        if self.stats.calls >= self.settings.max_calls:
            self.unexpected = self.unexpected or _too_many(self.stats.calls + 1, self.settings)
            self.lock.notify_all()
            return
        self.stats.add_calls(1)
        self.outstanding += 1
        key = _throttle_key(call)
        self.waiting.setdefault(key, collections.deque()).append((call, work))
        self.begin_prepare(call.table.provider)
        self.dispatch()

    def begin_prepare(self, provider: str) -> None:
        """Start the provider's warm-up once (under the lock); its tasks wait until it ends."""
        if provider in self.ready or provider in self.preparing:
            return
        warm = self.prepare.get(provider)
        if warm is None:
            self.ready.add(provider)
            return
        self.preparing.add(provider)

        def run() -> None:
            with contextlib.suppress(Exception):  # the first call then fails, and says why
                warm()
            with self.lock:
                self.preparing.discard(provider)
                self.ready.add(provider)
                self.dispatch()

        threading.Thread(target=run, name=f"vpnsql-prepare-{provider}", daemon=True).start()

    def dispatch(self) -> None:
        """Start every waiting task that has room (under the lock)."""
        if self.cancelled:
            return
        for key in list(self.waiting):
            tasks = self.waiting[key]
            while (
                tasks
                and self.running < self.settings.max_concurrency
                and self.running_by_key[key] < self.settings.region_concurrency
                and key[0] in self.ready
            ):
                call, work = tasks.popleft()
                self.running += 1
                self.running_by_key[key] += 1
                task = next(self.task_ids)
                self.in_flight[task] = (call, time.monotonic())
                self.workers.submit(lambda t=task, k=key, w=work: self.run_task(t, k, w))
            if not tasks:
                del self.waiting[key]

    def run_task(self, task: int, key: Hashable, work: Callable[[], None]) -> None:
        try:
            if not self.cancelled:
                work()
        except BaseException as err:  # a defect, or an error that is not a call's failure
            with self.lock:
                self.unexpected = self.unexpected or err
        finally:
            self.stats.finish_call()
            with self.lock:
                self.in_flight.pop(task, None)
                self.running -= 1
                self.running_by_key[key] -= 1
                self.outstanding -= 1
                self.dispatch()
                self.lock.notify_all()

    def wait(self) -> None:
        """Until every task ended, a task hit an unexpected error, or the deadline passed."""
        with self.lock:
            while self.outstanding and self.unexpected is None:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    self.time_out()
                    return
                self.lock.wait(min(left, 0.5))
        if self.unexpected is not None:
            raise self.unexpected

    def time_out(self) -> None:
        """The deadline passed (under the lock): what runs is named, what waits is counted."""
        self.cancelled = True
        limit = f"{self.settings.timeout:g} s"
        for call, _ in self.in_flight.values():
            self.failures.append(Failure(call, _timeout(call, f"no answer within {limit}")))
        for tasks in self.waiting.values():
            for call, _ in tasks:
                error = _timeout(call, f"not started within the statement's {limit}")
                self.failures.append(Failure(call, error))
        self.waiting.clear()
        for state in self.fetches.values():
            self.discard(state)
        self.workers.close()

    def cancel(self) -> None:
        """Ctrl-C, SIGTERM or an unexpected error: stop starting work, keep nothing."""
        with self.lock:
            self.cancelled = True
            self.waiting.clear()
            for state in self.fetches.values():
                self.discard(state)
        self.workers.close()

    # -- the answer --------------------------------------------------------------------

    def finish(self, calls: Sequence[Call], allow_partial: bool) -> dict[Table, list[Staged]]:
        self.workers.close()
        failures = _counted(self.failures, self.fetches.values(), self.stats)
        _check_views(calls, self.fetches.values(), failures, self.stats)
        self.stats.failures.extend(failures)
        if failures and not allow_partial:
            for state in self.fetches.values():
                self.discard(state)
            if self.stats.calls <= 1 and len(failures) == 1:  # its own error says it all
                raise failures[0].error
            raise FetchFailed(failures, self.stats.calls)
        self.remember()
        return self.assemble(calls)

    def remember(self) -> None:
        """Only a fetch that completed teaches the cache anything."""
        if self.cache is None or self.cancelled:
            return
        for key, discovery in self.discoveries.items():
            if discovery.values is not None and discovery.error is None:
                self.cache.put(key, discovery.values)
        for key, state in self.fetches.items():
            if state.staged is not None and not state.cached:
                self.cache.put(
                    (key, state.call.filters, state.call.limit, state.call.window), state.staged
                )

    def assemble(self, calls: Sequence[Call]) -> dict[Table, list[Staged]]:
        by_table: dict[Table, list[tuple[tuple[int, ...], Staged]]] = {}
        for call in calls:
            by_table.setdefault(call.table, [])
            if call.via is not None:
                by_table.setdefault(call.via.view, [])
        for state in self.fetches.values():
            if state.staged is None or state.superseded:
                continue
            for table in state.staged.feeds:
                by_table.setdefault(table, []).append((min(state.orders), state.staged))
        return {
            table: [s for _, s in sorted(found, key=_first)] for table, found in by_table.items()
        }


def _first(item: tuple[tuple[int, ...], Staged]) -> tuple[int, ...]:
    return item[0]


def _timeout(call: Call, message: str) -> ProviderError:
    params = dict(call.params)
    target = next((v for n, v in call.params if n not in ("account", "region")), None)
    where = ", ".join(f"{name} {params[name]}" for name in ("account",) if name in params)
    return ProviderError(
        f"{message}{f' ({where})' if where else ''} calling {call.table.name}",
        provider=call.table.provider,
        code="Timeout",
        region=params.get("region"),
        target=target,
        hint="raise --timeout (or timeout in the [vpnsql] section of the config file)",
    )


def _counted(
    failures: Iterable[Failure], fetches: Iterable[_Fetch], stats: FetchStats
) -> list[Failure]:
    """The failures that count: not those that only say a value is absent where this call
    asked while another call found it (see `Param.absent`), and not a cloud the statement did
    not name that is not configured (skipped with a notice)."""
    states = list(fetches)
    failed = [Failure(s.call, s.error) for s in states if s.error is not None and not s.superseded]
    answered: set[tuple[Table, str, str]] = set()
    for state in states:
        if state.staged is None:
            continue
        call = state.call
        for name, value in call.params:
            answered.add((call.table, name, value))
            if call.via is not None:
                view_name = next((v for v, t in call.via.params.items() if t == name), name)
                answered.add((call.via.view, view_name, value))
    counted = []
    for failure in [*failures, *failed]:
        call, error = failure.call, failure.error
        if isinstance(error, ProviderError) and _absent_elsewhere(call, error, answered):
            continue
        if call.skippable and isinstance(error, NotConfigured):
            stats.add_notice(f"{call.table.provider} skipped: {error.reason}")
            continue
        counted.append(failure)
    return counted


def _absent_elsewhere(
    call: Call, error: ProviderError, answered: set[tuple[Table, str, str]]
) -> bool:
    for name, value in call.params:
        param = call.table.param(name)
        if param is None or error.code not in param.absent:
            continue
        if (call.table, param.name, value) in answered:
            return True
        if call.via is not None:
            view_name = next((v for v, t in call.via.params.items() if t == param.name), None)
            if view_name and (call.via.view, view_name, value) in answered:
                return True
    return False


def _check_views(
    calls: Sequence[Call], fetches: Iterable[_Fetch], failures: list[Failure], stats: FetchStats
) -> None:
    """A statement on a view that reached no cloud at all (every one skipped as not
    configured) is an error naming why, never "nobody is connected"."""
    views = {call.via.view for call in calls if call.via is not None}
    answered = {
        state.call.via.view
        for state in fetches
        if state.call.via is not None and state.staged is not None
    }
    for view in views - answered:
        skipped = [n for n in stats.notices if " skipped: " in n]
        if skipped and not any(f.call.via is not None for f in failures):
            raise NothingToAsk(
                f"{view.name}: no cloud could be asked ({'; '.join(skipped)})",
                hint="configure credentials and a region for at least one cloud, or try --sandbox",
            )
