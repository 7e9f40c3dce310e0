"""Reading an API's answers, for every provider: paging that ends, answers that carry what they
should, and values of the declared type.

A server can misbehave in ways an SDK lets through: repeat a page token forever, answer 200
with a document that lacks the list it should carry, or send `IngressBytes = 'abc'`. Each of
these would otherwise be an endless loop, a silent empty result or an unexplained crash; here
each is a ProviderError naming the table, region and target (and the column, for a value), so
the operator knows which call of which statement to look at.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from vpnsql.errors import ProviderError
from vpnsql.tables import Row, Table

MAX_PAGES = 1000
"""Pages one call may take. Far beyond what the clouds allow (an AWS Client VPN endpoint has
at most some 126,000 connections: 127 pages of 1000; an Alibaba gateway 10,000 SSL-VPN
clients: 200 pages of 50), and reached long before a server that keeps answering with new
pages could exhaust memory."""

MALFORMED = "MalformedResponse"
"""The code of an answer vpnsql cannot read as the API documents it."""

_INTEGER_RANGES = {
    "TINYINT": (-(1 << 7), (1 << 7) - 1),
    "SMALLINT": (-(1 << 15), (1 << 15) - 1),
    "INTEGER": (-(1 << 31), (1 << 31) - 1),
    "BIGINT": (-(1 << 63), (1 << 63) - 1),
    "UBIGINT": (0, (1 << 64) - 1),
}


_INTEGER = re.compile(r"-?[0-9]+")


class BadValue(ValueError):
    """A field of an API record that does not hold what its column declares."""

    def __init__(self, field: str, value: object, expected: str) -> None:
        super().__init__(f"{field} is {_shown(value)}, not {expected}")
        self.field = field


def integer(record: Mapping[str, Any], field: str) -> int | None:
    """A count the API sends as a number or a string of digits; missing, "" and "-" are NULL.

    Strict: a float, a boolean or text such as 'abc' is a BadValue, never truncated to a
    number that was not sent."""
    value = record.get(field)
    if value is None or value in ("", "-"):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    raise BadValue(field, value, "a whole number")


@dataclass
class Answers:
    """One call's reading of its answers: which table, API operation, region and target
    (endpoint, gateway) they are for, and the pages seen so far."""

    table: Table | None
    """None for a call that feeds no table (listing an estate's subscriptions): then
    `provider` names the cloud."""
    operation: str
    region: str
    target: str | None = None
    account: str | None = None
    provider: str = ""
    pages: int = 0
    _tokens: set[str] = field(default_factory=set, repr=False)
    _integers: list[tuple[str, int, int]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.table is not None:
            self.provider = self.table.provider
        self._integers = [
            (column.name, *_INTEGER_RANGES[column.type])
            for column in (self.table.columns if self.table is not None else ())
            if column.type in _INTEGER_RANGES
        ]

    @property
    def where(self) -> tuple[str, str | None, str | None, str]:
        """(region, target, account, operation): what a provider's error translation names."""
        return self.region, self.target, self.account, self.operation

    def error(self, message: str, code: str = MALFORMED, hint: str | None = None) -> ProviderError:
        """An error about this call's answer, naming the table, region and target."""
        return ProviderError(
            f"{self.operation}: {message}",
            provider=self.provider,
            table=self.table.name if self.table is not None else None,
            code=code,
            hint=hint,
            account=self.account,
            region=self.region,
            target=self.target,
        )

    def require(self, answer: Mapping[str, Any], key: str) -> Any:
        """`answer[key]`, or an error: a 200 answer without what it should carry (an XML
        document of another kind, `{}`) is never an empty result."""
        if key not in answer:
            raise self.error(f"the answer has no {key}; it is not a {self.operation} answer")
        return answer[key]

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Around a call and what reads its answer: what the SDK or vpnsql cannot read in it
        (a field botocore parses as an integer holding 'abc', JSON of another shape) is an
        error about the answer. Outside the SDK's own error translation, so that its errors
        keep their codes."""
        try:
            yield
        except BadValue as err:
            column = self._column(err.field)
            raise self.error(f"column {column}: {err}" if column else str(err)) from None
        except (ValueError, TypeError, AttributeError, KeyError) as err:
            raise self.error(f"cannot read the answer ({type(err).__name__}: {err})") from None

    def rows(
        self, records: Iterable[Mapping[str, Any]], to_row: Callable[[Mapping[str, Any]], Row]
    ) -> list[Row]:
        """Each record as a row, its values checked against the declared column types."""
        rows = []
        with self.reading():
            for record in records:
                if not isinstance(record, Mapping):
                    raise self.error(f"a record is {_shown(record)}, not an object")
                row = to_row(record)
                for name, low, high in self._integers:
                    value = row.get(name)
                    if value is not None and not low <= value <= high:
                        raise self.error(f"column {name}: {value} does not fit its type")
                rows.append(row)
        return rows

    def next_token(self, token: str | None) -> str | None:
        """The token of the next page, None at the end: a token answered before is an error
        instead of paging forever (so is a page past MAX_PAGES, see `next_page`)."""
        if not token:
            self.pages += 1
            return None
        if token in self._tokens:
            raise self.error(
                f"page {self.pages + 1} repeated an earlier NextToken ({_shown(token)}); "
                "paging would never end",
                code="EndlessPaging",
            )
        self._tokens.add(token)
        self.next_page()
        return token

    def next_page(self) -> None:
        """Before asking for another page, count the one just read: past MAX_PAGES the server
        is paging without end."""
        self.pages += 1
        if self.pages >= MAX_PAGES:
            raise self.error(
                f"still more pages after {self.pages}; vpnsql stops at {MAX_PAGES}",
                code="EndlessPaging",
            )

    def follow(self, pager: Any) -> Iterator[Any]:
        """Every item of an SDK's pager (azure-core's ItemPaged), page by page, with the same
        guard as `next_token`: a next link answered before, or a page past MAX_PAGES, is an
        error instead of paging forever."""
        pages = pager.by_page()
        for page in pages:
            yield from page
            if self.next_token(pages.continuation_token) is None:
                return

    def expect_pages(self, pages: int) -> None:
        """An answer says the call takes `pages` pages (a TotalCount): more than MAX_PAGES is
        an error before any of them is asked for."""
        if pages > MAX_PAGES:
            raise self.error(
                f"the answer would take {pages:,} pages; vpnsql stops at {MAX_PAGES}",
                code="EndlessPaging",
            )

    def _column(self, api_field: str) -> str | None:
        """The column an API field feeds (columns are the fields in lower camel case)."""
        lowered = api_field.lower()
        columns = self.table.columns if self.table is not None else ()
        return next((c.name for c in columns if c.name.lower() == lowered), None)


def _shown(value: object, limit: int = 40) -> str:
    """A value as an error shows it: repr, cut short (a hostile server can send megabytes)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
