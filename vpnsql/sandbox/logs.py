"""CloudWatch Logs for moto: FilterLogEvents paged as AWS pages it, with JSON filter patterns.

moto 5.2 has FilterLogEvents, but a JSON filter pattern (``{ $.username = "bob" }``) matches
every event there, each page filters and sorts the whole group again (paging through a big
group is quadratic), and a page holds 10,000 events whatever their size.  Importing this
module replaces moto's ``LogGroup.filter_log_events`` (moto's own checks of the group and the
limit stay in front of it) with one that:

* reads JSON filter patterns: ``$.key`` selectors (hyphens, nested keys, ``[n]``), ``=`` and
  ``!=`` against ``"strings"`` (``*`` is a wildcard), bare words and numbers, ``<``/``>``/
  ``<=``/``>=`` on numbers, ``IS NULL``/``IS TRUE``/``IS FALSE``, ``EXISTS``/``NOT EXISTS``,
  ``&&`` and ``||`` with parentheses.  A pattern it cannot read is an
  InvalidParameterException, as AWS refuses one; that includes a backslash or a quote inside
  a string, whose meaning AWS does not document (a client must not rely on any).  Other
  patterns go to moto's own term matcher;
* returns events in timestamp order across the group's streams, ``startTime`` and ``endTime``
  inclusive, in pages of at most 1 MB or ``limit`` (10,000) events;
* scans at most SCAN_LIMIT events per request, so a selective pattern can answer with an empty
  page and a nextToken, which AWS does too ("can return empty results while there are more
  log events available through the token");
* resumes at the event after the last one scanned, however many events the group holds.

``generated_stream`` adds a stream whose events are computed from their position when read
(benchmarks need a million events without holding them).
"""

from __future__ import annotations

import base64
import bisect
import heapq
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from moto.logs.exceptions import InvalidParameterException
from moto.logs.models import EventMessageFilter, LogGroup, LogStream, logs_backends

__all__ = ["MAX_PAGE_BYTES", "SCAN_LIMIT", "generated_stream", "log_stream"]

MAX_PAGE_BYTES = 1_048_576
"""AWS answers at most 1 MB of events per FilterLogEvents page."""
EVENT_OVERHEAD = 120
"""Bytes an event costs in the response besides its message (ids, times, stream name)."""
DEFAULT_LIMIT = 10_000
SCAN_LIMIT = 20_000
"""Events one request looks at before it answers with what it found and a nextToken."""


def log_stream(account_id: str, region: str, group: str, stream: str) -> LogStream:
    """The stream of a log group in moto's state, both created if missing."""
    backend = logs_backends[account_id][region]
    backend.ensure_log_group(group)
    log_group = backend.groups[group]
    if stream not in log_group.streams:
        log_group.create_log_stream(stream)
    return log_group.streams[stream]


# ---------------------------------------------------------------------------- generated events


@dataclass(frozen=True, slots=True)
class GeneratedEvent:
    """An event computed from its position; `document` spares the matcher a JSON parse."""

    timestamp: int
    event_id: int
    ingestion_time: int
    document: dict[str, Any]

    @property
    def message(self) -> str:
        return json.dumps(self.document)


class GeneratedEvents(Sequence[GeneratedEvent]):
    """A stream's events as a function of their position, in timestamp order."""

    def __init__(
        self, count: int, timestamp: Callable[[int], int], document: Callable[[int], dict[str, Any]]
    ) -> None:
        self._count = count
        self._timestamp = timestamp
        self._document = document
        self._base = id(self) << 24  # event ids unique across generated streams

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        if not 0 <= index < self._count:
            raise IndexError(index)
        stamp = self._timestamp(index)
        return GeneratedEvent(stamp, self._base + index, stamp, self._document(index))

    def timestamp(self, index: int) -> int:
        return self._timestamp(index)


def generated_stream(
    account_id: str,
    region: str,
    group: str,
    stream: str,
    count: int,
    timestamp: Callable[[int], int],
    document: Callable[[int], dict[str, Any]],
) -> None:
    """Give a stream `count` events computed on demand: event i at `timestamp(i)` (which must
    not decrease) with `document(i)` as its JSON message."""
    log_stream(account_id, region, group, stream).events = GeneratedEvents(  # type: ignore[assignment]
        count, timestamp, document
    )


# ---------------------------------------------------------------------------- sorted views


class _Ordered:
    """A stream's events sorted by (timestamp, event id), with their timestamps for bisect;
    rebuilt only when the stream has grown."""

    def __init__(self, stream: LogStream) -> None:
        events = stream.events
        self.name = stream.log_stream_name
        if isinstance(events, GeneratedEvents):
            self.events: Sequence[Any] = events
            self.stamps: Sequence[int] = _Stamps(events)
        else:
            self.events = sorted(events, key=lambda e: (e.timestamp, e.event_id))
            self.stamps = [e.timestamp for e in self.events]
        self.size = len(events)

    def start(self, resume: tuple[int, str, int] | None, first: int) -> int:
        """The position of the first event at or after `first` that sorts after `resume`
        (timestamp, stream name, event id) in the group's merged order."""
        position = bisect.bisect_left(self.stamps, first)
        if resume is None:
            return position
        stamp, name, event_id = resume
        if self.name < name:
            return max(position, bisect.bisect_right(self.stamps, stamp))
        after = bisect.bisect_left(self.stamps, stamp)
        if self.name == name:
            while after < len(self.events) and self.stamps[after] == stamp:
                if self.events[after].event_id > event_id:
                    break
                after += 1
        return max(position, after)


class _Stamps(Sequence[int]):
    def __init__(self, events: GeneratedEvents) -> None:
        self._events = events

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: Any) -> Any:
        return self._events.timestamp(index)


def _ordered(stream: LogStream) -> _Ordered:
    view: _Ordered | None = getattr(stream, "_vpnsql_ordered", None)
    if view is None or view.size != len(stream.events):
        view = _Ordered(stream)
        stream._vpnsql_ordered = view  # type: ignore[attr-defined]
    return view


# ---------------------------------------------------------------------------- FilterLogEvents


def filter_log_events(
    self: LogGroup,
    log_group_name: str,
    log_stream_names: list[str],
    start_time: int | None,
    end_time: int | None,
    limit: int | None,
    next_token: str | None,
    filter_pattern: str | None,
    interleaved: bool,
) -> tuple[list[dict[str, Any]], str | None, list[dict[str, Any]]]:
    """One page of the group's matching events (see the module docstring)."""
    matches = compile_pattern(filter_pattern or "")
    limit = limit or DEFAULT_LIMIT
    streams = [
        _ordered(stream)
        for name, stream in sorted(self.streams.items())
        if not log_stream_names or name in log_stream_names
    ]
    resume = _resume(next_token, log_group_name) if next_token else None

    def scan(view: _Ordered) -> Iterator[tuple[int, str, int, Any]]:
        for index in range(view.start(resume, start_time or 0), len(view.events)):
            event = view.events[index]
            if end_time and event.timestamp > end_time:
                return
            yield event.timestamp, view.name, event.event_id, event

    page: list[dict[str, Any]] = []
    size = 0
    last = (0, "", -1)
    merged = heapq.merge(*(scan(view) for view in streams), key=lambda item: item[:3])
    for scanned, (stamp, name, event_id, event) in enumerate(merged):
        if scanned >= SCAN_LIMIT or len(page) >= limit:
            return page, _token(log_group_name, last), _searched(streams)
        if matches(event):
            message = event.message
            size += len(message) + EVENT_OVERHEAD
            if page and size > MAX_PAGE_BYTES:
                return page, _token(log_group_name, last), _searched(streams)
            page.append(
                {
                    "logStreamName": name,
                    "timestamp": stamp,
                    "message": message,
                    "ingestionTime": event.ingestion_time,
                    "eventId": str(event_id),
                }
            )
        last = (stamp, name, event_id)
    return page, None, _searched(streams)


def _searched(streams: list[_Ordered]) -> list[dict[str, Any]]:
    return [{"logStreamName": view.name, "searchedCompletely": True} for view in streams]


def _token(group: str, last: tuple[int, str, int]) -> str:
    """Where the next page resumes: after the last event this one scanned."""
    payload = json.dumps([group, *last])
    return base64.urlsafe_b64encode(payload.encode()).decode()


def _resume(token: str, group: str) -> tuple[int, str, int]:
    try:
        token_group, stamp, name, event_id = json.loads(base64.urlsafe_b64decode(token))
        if token_group == group:
            return int(stamp), str(name), int(event_id)
    except (ValueError, TypeError):
        pass
    raise InvalidParameterException("The specified nextToken is invalid.")


# ---------------------------------------------------------------------------- filter patterns

Matcher = Callable[[Any], bool]
_MISSING = object()
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<selector>\$(?:\.[A-Za-z0-9_-]+|\[\d+\])+)
    | (?P<string>"[^"\\]*")
    | (?P<op>&&|\|\||!=|>=|<=|=|>|<|\(|\))
    | (?P<word>[A-Za-z0-9_.:*+/@-]+)
    )""",
    re.VERBOSE,
)
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


def compile_pattern(pattern: str) -> Matcher:
    """A predicate on events for a filter pattern: JSON patterns here, others as moto does."""
    text = pattern.strip()
    if not text.startswith("{"):
        terms = EventMessageFilter(pattern)
        return lambda event: bool(terms.matches(event.message))
    if not text.endswith("}"):
        raise InvalidParameterException("If a filter pattern starts with '{' it must end with '}'")
    parser = _Parser(_tokens(text[1:-1]))
    condition = parser.disjunction()
    if parser.peek() is not None:
        raise _invalid(f"unexpected {parser.peek()!r}")

    def matches(event: Any) -> bool:
        document = getattr(event, "document", None)
        if document is None:
            try:
                document = json.loads(event.message)
            except ValueError:
                return False
        return condition(document)

    return matches


def _invalid(detail: str) -> InvalidParameterException:
    return InvalidParameterException(f"Invalid filter pattern: {detail}")


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _invalid(f"cannot read {text[position:].strip()[:20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over `||` (weakest), `&&`, then parentheses and comparisons."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self._tokens = tokens
        self._next = 0

    def peek(self) -> str | None:
        return self._tokens[self._next][1] if self._next < len(self._tokens) else None

    def _take(self) -> tuple[str, str]:
        if self._next >= len(self._tokens):
            raise _invalid("it ends too early")
        self._next += 1
        return self._tokens[self._next - 1]

    def disjunction(self) -> Callable[[Any], bool]:
        return self._chain("||", self.conjunction, any)

    def conjunction(self) -> Callable[[Any], bool]:
        return self._chain("&&", self.atom, all)

    def _chain(
        self,
        operator: str,
        operand: Callable[[], Callable[[Any], bool]],
        combine: Callable[[Iterator[bool]], bool],
    ) -> Callable[[Any], bool]:
        """Operands joined by `operator`, combined by any (`||`) or all (`&&`)."""
        parts = [operand()]
        while self.peek() == operator:
            self._take()
            parts.append(operand())
        return parts[0] if len(parts) == 1 else lambda doc: combine(p(doc) for p in parts)

    def atom(self) -> Callable[[Any], bool]:
        kind, text = self._take()
        if text == "(":
            inner = self.disjunction()
            if self._take()[1] != ")":
                raise _invalid("a '(' is not closed")
            return inner
        if kind != "selector":
            raise _invalid(f"expected a $. selector, not {text!r}")
        path = _path(text)
        kind, word = self._take()
        if word in ("IS", "NOT", "EXISTS"):
            return self._keyword(path, word)
        if kind != "op" or word in ("&&", "||", "(", ")"):
            raise _invalid(f"expected a comparison after {text}, not {word!r}")
        value_kind, value = self._take()
        if value_kind not in ("string", "word"):
            raise _invalid(f"expected a value after {word}, not {value!r}")
        return _comparison(path, word, value[1:-1] if value_kind == "string" else value)

    def _keyword(self, path: list[str | int], word: str) -> Callable[[Any], bool]:
        if word == "EXISTS":
            return lambda doc: _select(doc, path) is not _MISSING
        if word == "NOT":
            if self._take()[1] != "EXISTS":
                raise _invalid("NOT must be followed by EXISTS")
            return lambda doc: _select(doc, path) is _MISSING
        wanted = {"NULL": None, "TRUE": True, "FALSE": False}
        what = self._take()[1]
        if what not in wanted:
            raise _invalid(f"IS takes NULL, TRUE or FALSE, not {what!r}")
        return lambda doc: _select(doc, path) is wanted[what]


def _path(selector: str) -> list[str | int]:
    parts: list[str | int] = []
    for key, index in re.findall(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]", selector):
        parts.append(key if key else int(index))
    return parts


def _select(document: Any, path: list[str | int]) -> Any:
    node = document
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return _MISSING
        elif not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _comparison(path: list[str | int], op: str, value: str) -> Callable[[Any], bool]:
    if op in _COMPARISONS:
        try:
            number = float(value)
        except ValueError:
            raise _invalid(f"{op} compares numbers, not {value!r}") from None
        compare = _COMPARISONS[op]
        return lambda doc: _is_number(found := _select(doc, path)) and compare(found, number)
    wildcard = re.compile(".*".join(re.escape(part) for part in value.split("*")), re.DOTALL)

    def equal(doc: Any) -> bool:
        found = _select(doc, path)
        if _is_number(found):
            try:
                return float(value) == found
            except ValueError:
                return False
        return isinstance(found, str) and wildcard.fullmatch(found) is not None

    if op == "=":
        return equal
    return lambda doc: _select(doc, path) not in (_MISSING, None) and not equal(doc)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _install() -> None:
    """Replace moto's group-level FilterLogEvents (see the module docstring)."""
    LogGroup.filter_log_events = filter_log_events  # type: ignore[method-assign]


_install()
