"""aws.logs: AWS Client VPN connection logs (CloudWatch Logs), typed, and sessions folded from
them.

Reads top to bottom: the connection-log table's declaration, its fetch function, the sessions
view, then helpers. A Client VPN endpoint with connection logging on publishes a JSON entry
per connection attempt and per connection end to a CloudWatch Logs group (its
ConnectionLogOptions); every value is a string and `NA` stands for none. This module reads
them with FilterLogEvents, with the statement's time range as startTime/endTime and its
user/connection/address conditions as a JSON filter pattern.
"""

from __future__ import annotations

import json
import math
import queue
import re
import threading
import time as clock
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from vpnsql.answers import integer
from vpnsql.errors import ProviderError
from vpnsql.tables import (
    Column,
    FetchRequest,
    Param,
    Row,
    SqlView,
    Table,
    TimeRange,
    TimeWindow,
)
from vpnsql_providers.aws import estate
from vpnsql_providers.aws.client import ec2, logs, time
from vpnsql_providers.aws.ec2_api import (
    ACCOUNT,
    ACCOUNT_COLUMNS,
    ACCOUNT_ID,
    ENDPOINT_ID,
    NOT_OFFERED,
    REGION,
)
from vpnsql_providers.aws.errors import translated_errors

ENTRY_COLUMNS = (
    Column("connectionLogType", "VARCHAR", "connection-attempt or connection-reset."),
    Column(
        "connectionAttemptStatus",
        "VARCHAR",
        "successful, failed or waiting-for-assertion for an attempt; NULL on a reset.",
    ),
    Column("connectionResetStatus", "VARCHAR", "assertion-received, or NULL."),
    Column(
        "connectionAttemptFailureReason",
        "VARCHAR",
        "Why an attempt failed (client-connect-failed, authorization-policy-deny, ...); NULL "
        "otherwise.",
    ),
    Column("connectionId", "VARCHAR", "The ID of the connection."),
    Column("clientVpnEndpointId", "VARCHAR", "The ID of the Client VPN endpoint."),
    Column("transportProtocol", "VARCHAR", "The transport protocol of the connection."),
    Column("connectionStartTime", "TIMESTAMP", "When the connection started (UTC)."),
    Column(
        "connectionLastUpdateTime",
        "TIMESTAMP",
        "When the connection's entry was last updated (UTC).",
    ),
    Column(
        "connectionEndTime",
        "TIMESTAMP",
        "When the connection ended (UTC); NULL while it lasts, or for a failed attempt.",
    ),
    Column("clientIp", "VARCHAR", "The client's address inside the VPN; NULL if none was given."),
    Column("clientIpv6", "VARCHAR", "The client's IPv6 address (dual-stack endpoints), if any."),
    Column("commonName", "VARCHAR", "The common name of the client certificate."),
    Column("username", "VARCHAR", "The user (Active Directory or SAML authentication), if any."),
    Column("deviceType", "VARCHAR", "The type of the client's device (mac, windows, ...)."),
    Column("deviceIp", "VARCHAR", "The public address of the client's device."),
    Column("port", "INTEGER", "The client's port."),
    Column("ingressBytes", "BIGINT", "Bytes from the client so far (the total on a reset)."),
    Column("egressBytes", "BIGINT", "Bytes to the client so far (the total on a reset)."),
    Column("ingressPackets", "BIGINT", "Packets from the client so far."),
    Column("egressPackets", "BIGINT", "Packets to the client so far."),
    Column(
        "connectionDurationSeconds",
        "BIGINT",
        "How long the connection lasted, on the entry of its end.",
    ),
    Column(
        "postureComplianceStatuses",
        "VARCHAR[]",
        "Posture compliance statuses returned by the client connect handler, if any.",
    ),
)
"""The columns read from an entry's JSON, each from the key its name spells in kebab case
(clientVpnEndpointId: client-vpn-endpoint-id); `NA` and a missing key are NULL."""

PUSHED = ("username", "connectionId", "commonName", "clientIp", "connectionAttemptStatus")
"""Columns whose `=` / `IN` values go into the JSON filter pattern."""

WINDOW = TimeWindow(
    exact=("eventTime",),
    earlier=("connectionStartTime",),
    default=timedelta(hours=24),
    arguments="FilterLogEvents startTime / endTime: epoch milliseconds, both inclusive",
)
PATTERN_LIMIT = 1024
"""The longest filterPattern CloudWatch Logs takes."""
SLICES = 4
"""Time slices one wide read is split into at most, read concurrently: with CloudWatch's
quota of 5 FilterLogEvents calls a second, a few already keep it busy."""
FILTER_RATE = 5.0
"""FilterLogEvents calls per second per account and region: CloudWatch's fixed quota."""
EPOCH = datetime(1970, 1, 1)


def fetch_connection_logs(request: FetchRequest) -> Iterator[list[Row]]:
    """The endpoint's connection log entries: where its ConnectionLogOptions send them
    (DescribeClientVpnEndpoints), then FilterLogEvents, every page (nextToken to the end)."""
    account, region = request.params["account"], request.params["region"]
    endpoint_id = request.params["ClientVpnEndpointId"]
    found = estate.estate(request.settings)
    where = found.where(account)
    destination = _destination(request, where)
    if destination is None:
        return
    group, stream = destination
    span = _millis(request.window)
    if span is None:
        return  # e.g. `eventTime > '...00.0005' AND eventTime < '...00.0009'`: no millisecond
    account_id = found.account_id_soon(account)  # STS, if needed, while the first page comes
    kwargs: dict[str, Any] = {
        "logGroupName": group,
        "filterPattern": filter_pattern(endpoint_id, request.filters),
        **({"logStreamNames": [stream]} if stream else {}),
    }

    def typed(events: list[dict[str, Any]]) -> list[Row]:
        with translated_errors(region, None, where):  # the ID may need STS, which may fail
            steering = {"region": region, "account": account, "accountId": account_id.result()}
        return [{**_row(event, group, region, where), **steering} for event in events]

    reader = _Reader(
        logs(region, request.settings, account),
        kwargs,
        _rate((account, region), request),
        request.limit,
        typed,
        lambda: translated_errors(region, f"log group {group}", where),
    )
    yield from reader.pages(*span)


def _destination(request: FetchRequest, where: str | None) -> tuple[str, str] | None:
    """(log group, stream or "") of an endpoint, or None (with a notice) when it logs nothing."""
    account, region = request.params["account"], request.params["region"]
    endpoint_id = request.params["ClientVpnEndpointId"]
    client = ec2(region, request.settings, account)
    try:
        with translated_errors(region, endpoint_id, where):
            found = client.describe_client_vpn_endpoints(ClientVpnEndpointIds=[endpoint_id])
    except ProviderError as err:
        if err.code in NOT_OFFERED:
            return None
        raise
    options = next(iter(found.get("ClientVpnEndpoints", [])), {}).get("ConnectionLogOptions")
    if not options or not options.get("Enabled") or not options.get("CloudwatchLogGroup"):
        request.notice(
            f"{endpoint_id} ({f'{where}, ' if where else ''}{region}) has connection logging "
            "off, so it has no connection log; turn it on with: aws ec2 "
            f"modify-client-vpn-endpoint --region {region} --client-vpn-endpoint-id "
            f"{endpoint_id} --connection-log-options Enabled=true,CloudwatchLogGroup=LOG_GROUP"
        )
        return None
    return options["CloudwatchLogGroup"], options.get("CloudwatchLogStream") or ""


CLIENT_VPN_CONNECTION_LOGS = Table(
    provider="aws",
    service="logs",
    resource="client_vpn_connection_logs",
    description=(
        "Connection log entries of a Client VPN endpoint, one row per connection attempt or "
        "end, read from the CloudWatch Logs group its ConnectionLogOptions name "
        "(FilterLogEvents). Without a lower bound on eventTime only the last 24 hours are read."
    ),
    columns=(
        *ENTRY_COLUMNS,
        Column(
            "eventTime",
            "TIMESTAMP",
            "When CloudWatch Logs received the entry (its timestamp, UTC, to the millisecond): "
            "when it was published, which is after the connection event it describes.",
        ),
        Column("logGroup", "VARCHAR", "The CloudWatch Logs group of the endpoint's log."),
        Column("logStream", "VARCHAR", "The log stream of the entry."),
        Column(
            "message",
            "VARCHAR",
            "The entry as AWS wrote it (JSON), for keys a newer AWS adds: "
            "json_extract_string(message, '$.\"key\"').",
        ),
        Column("region", "VARCHAR", "The AWS region of the endpoint."),
        *ACCOUNT_COLUMNS,
    ),
    params=(
        ACCOUNT,
        REGION,
        ENDPOINT_ID,
        ACCOUNT_ID,
        *(Param(name, "Pushed down into FilterLogEvents' JSON filter pattern.") for name in PUSHED),
    ),
    fetch=fetch_connection_logs,
    window=WINDOW,
    examples=(
        "-- who failed to connect this week, and why\n"
        "SELECT coalesce(username, commonName) AS who, connectionAttemptFailureReason AS reason,\n"
        "       count(*) AS attempts, max(eventTime) AS last\n"
        "FROM aws.logs.client_vpn_connection_logs\n"
        "WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001' AND region = 'us-east-1'\n"
        "  AND eventTime >= now()::TIMESTAMP - INTERVAL 7 DAY\n"
        "  AND connectionAttemptStatus = 'failed'\n"
        "GROUP BY ALL ORDER BY attempts DESC;",
        "-- who had an address, and when (the user filter goes into the filter pattern)\n"
        "SELECT eventTime, connectionLogType, clientIp, deviceIp, connectionStartTime\n"
        "FROM aws.logs.client_vpn_connection_logs\n"
        "WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001' AND region = 'us-east-1'\n"
        "  AND username = 'alice.ng' AND eventTime >= now()::TIMESTAMP - INTERVAL 3 DAY\n"
        "ORDER BY eventTime;",
        "-- the last day of every endpoint in the region (the default window; endpoints are\n"
        "-- listed first, and one with logging off says so on stderr)\n"
        "SELECT clientVpnEndpointId, connectionLogType, count(*) AS entries\n"
        "FROM aws.logs.client_vpn_connection_logs WHERE region = 'eu-west-1'\n"
        "GROUP BY ALL ORDER BY ALL;",
        "-- a key of the raw entry\n"
        "SELECT json_extract_string(message, '$.\"device-type\"') AS device, count(*) AS entries\n"
        "FROM aws.logs.client_vpn_connection_logs\n"
        "WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60002' AND region = 'us-east-1'\n"
        "  AND eventTime >= now()::TIMESTAMP - INTERVAL 7 DAY\n"
        "GROUP BY device ORDER BY entries DESC;",
    ),
)


SESSIONS_SQL = """
SELECT account,
       accountId,
       region,
       clientVpnEndpointId AS endpointId,
       connectionId,
       coalesce(max(username), max(commonName)) AS identity,
       max(clientIp) AS clientIp,
       min(connectionStartTime) AS startedAt,
       max(connectionEndTime) AS endedAt,
       max(connectionDurationSeconds) AS durationSeconds,
       arg_max(ingressBytes, eventTime) AS bytesFromClient,
       arg_max(egressBytes, eventTime) AS bytesToClient,
       CASE WHEN bool_or(connectionAttemptStatus = 'successful') THEN NULL
            ELSE max(connectionAttemptFailureReason)
                 FILTER (WHERE connectionAttemptStatus = 'failed')
       END AS failureReason
FROM aws.logs.client_vpn_connection_logs
GROUP BY account, accountId, region, clientVpnEndpointId, connectionId
"""

CLIENT_VPN_SESSIONS = Table(
    provider="aws",
    service="logs",
    resource="client_vpn_sessions",
    description=(
        "One row per Client VPN connection, folded from its connection log entries "
        "(aws.logs.client_vpn_connection_logs): active, ended, or an attempt that failed. "
        "Without a lower bound on startedAt only the entries of the last 24 hours are read."
    ),
    columns=(
        *ACCOUNT_COLUMNS,
        Column("region", "VARCHAR", "The AWS region of the endpoint."),
        Column("endpointId", "VARCHAR", "The ID of the Client VPN endpoint."),
        Column("connectionId", "VARCHAR", "The ID of the connection."),
        Column("identity", "VARCHAR", "The user name, else the certificate's common name."),
        Column("clientIp", "VARCHAR", "The client's address inside the VPN; NULL if refused."),
        Column("startedAt", "TIMESTAMP", "When the connection (or the attempt) started (UTC)."),
        Column("endedAt", "TIMESTAMP", "When it ended (UTC); NULL while active, or if refused."),
        Column("durationSeconds", "BIGINT", "How long it lasted; NULL until it ended."),
        Column(
            "bytesFromClient",
            "BIGINT",
            "Bytes the client sent, as of its latest entry (the total once it ended).",
        ),
        Column(
            "bytesToClient",
            "BIGINT",
            "Bytes sent to the client, as of its latest entry (the total once it ended).",
        ),
        Column(
            "failureReason",
            "VARCHAR",
            "Why the attempt failed, for one that never connected; else NULL.",
        ),
    ),
    params=(
        ACCOUNT,
        REGION,
        replace(ENDPOINT_ID, name="endpointId"),
        ACCOUNT_ID,
        Param("connectionId", "Pushed down into FilterLogEvents' JSON filter pattern."),
    ),
    fetch=None,
    view=SqlView(
        source=CLIENT_VPN_CONNECTION_LOGS,
        select=SESSIONS_SQL,
        params={
            "account": "account",
            "region": "region",
            "endpointId": "ClientVpnEndpointId",
            "accountId": "accountId",
            "connectionId": "connectionId",
        },
        ranges={"startedAt": "connectionStartTime"},
    ),
    examples=(
        "-- hours per user over the last week\n"
        "SELECT identity, count(*) AS sessions, round(sum(durationSeconds) / 3600, 1) AS hours\n"
        "FROM aws.logs.client_vpn_sessions\n"
        "WHERE endpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001' AND region = 'us-east-1'\n"
        "  AND startedAt >= now()::TIMESTAMP - INTERVAL 7 DAY\n"
        "GROUP BY identity ORDER BY hours DESC LIMIT 10;",
        "-- attempts that never connected, and why\n"
        "SELECT startedAt, identity, failureReason\n"
        "FROM aws.logs.client_vpn_sessions\n"
        "WHERE region = 'us-east-1' AND startedAt >= now()::TIMESTAMP - INTERVAL 7 DAY\n"
        "  AND failureReason IS NOT NULL\n"
        "ORDER BY startedAt DESC;",
    ),
)

TABLES = (CLIENT_VPN_CONNECTION_LOGS, CLIENT_VPN_SESSIONS)


# ---------------------------------------------------------------------------- helpers


def filter_pattern(endpoint_id: str, filters: Mapping[str, tuple[str, ...]]) -> str:
    """The JSON filter pattern of an endpoint's entries and the pushed `=` / `IN` values:
    `{ $.client-vpn-endpoint-id = "..." && ($.username = "a" || $.username = "b") }`.

    Values are data, never syntax: a character AWS's pattern strings might read otherwise
    (a quote, a backslash, `*`, anything outside printable ASCII) becomes the `*` wildcard,
    which matches it and more; DuckDB filters the rows again. Past CloudWatch's length limit
    the longest conditions are left to DuckDB alone.
    """
    clauses = {
        name: " || ".join(f'$.{_key(name)} = "{_quoted(value)}"' for value in sorted(values))
        for name, values in filters.items()
        if values
    }
    while True:
        parts = [f'$.client-vpn-endpoint-id = "{_quoted(endpoint_id)}"']
        parts += [f"({clause})" if "||" in clause else clause for clause in clauses.values()]
        pattern = "{ " + " && ".join(parts) + " }"
        if len(pattern) <= PATTERN_LIMIT or not clauses:
            return pattern
        del clauses[max(clauses, key=lambda name: len(clauses[name]))]


def _quoted(value: str) -> str:
    return re.sub(r'[^\x20-\x7e]|["\\*]', "*", value).replace("**", "*")


def _key(column: str) -> str:
    """An entry's key for a column: connectionStartTime is connection-start-time."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", column).lower()


def _millis(window: TimeRange | None) -> tuple[int | None, int | None] | None:
    """The window as FilterLogEvents' startTime and endTime: epoch milliseconds, both
    inclusive, exactly the milliseconds inside the bounds (events carry whole milliseconds);
    None ends are open. None when no millisecond is inside."""
    start = end = None
    if window is not None and window.lower is not None:
        micros = _micros(window.lower.at)
        start = max(0, -(-micros // 1000) if window.lower.inclusive else micros // 1000 + 1)
    if window is not None and window.upper is not None:
        micros = _micros(window.upper.at)
        end = micros // 1000 if window.upper.inclusive else -(-micros // 1000) - 1
    if end is not None and (end < 0 or (start is not None and start > end)):
        return None
    return start, end


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


class _Rate:
    """A token bucket shared by every FilterLogEvents call of a region in the session."""

    def __init__(self, per_second: float) -> None:
        self._per_second = per_second
        self._tokens = per_second
        self._stamp = clock.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        while True:
            with self._lock:
                now = clock.monotonic()
                self._tokens = min(
                    self._per_second, self._tokens + (now - self._stamp) * self._per_second
                )
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                pause = (1 - self._tokens) / self._per_second
            clock.sleep(pause)


_rates_lock = threading.Lock()


def _rate(key: tuple[str, str], request: FetchRequest) -> _Rate:
    """The bucket of one (account, region)."""
    with _rates_lock:
        rates = request.settings.state.setdefault("aws.logs.rate", {})
        return rates.setdefault(key, _Rate(FILTER_RATE))


class _Reader:
    """FilterLogEvents pages over a window. A read whose first page says there is much more
    (and that has no row limit) continues as up to SLICES disjoint time slices read
    concurrently: the events are sorted by timestamp, so the first page holds every event
    before its last one's millisecond; the slices start at that millisecond and skip the
    events of it that page already gave. Pages are handed on as they arrive, so Python holds
    about a page per slice (the fetcher's `Pages` would hold all of a slice's pages)."""

    def __init__(
        self,
        client: Any,
        kwargs: dict[str, Any],
        rate: _Rate,
        limit: int | None,
        typed: Callable[[list[dict[str, Any]]], list[Row]],
        errors: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._client = client
        self._kwargs = kwargs
        self._rate = rate
        self._limit = limit
        self._typed = typed
        self._errors = errors

    def pages(self, start: int | None, end: int | None) -> Iterator[list[Row]]:
        first, token = self._call(start, end, None)
        yield self._typed(first)
        if token is None or (self._limit is not None and len(first) >= self._limit):
            return
        slices = self._slices(first, start, end)
        if len(slices) < 2:
            for events in self._follow(start, end, token, len(first)):
                yield self._typed(events)
            return
        last = first[-1]["timestamp"]
        given = {event["eventId"] for event in first if event["timestamp"] == last}
        for events in self._concurrently(slices):
            yield self._typed([event for event in events if event["eventId"] not in given])

    def _call(
        self, start: int | None, end: int | None, token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        kwargs = dict(self._kwargs)
        if start is not None:
            kwargs["startTime"] = start
        if end is not None:
            kwargs["endTime"] = end
        if token is not None:
            kwargs["nextToken"] = token
        if self._limit is not None:
            kwargs["limit"] = max(1, min(self._limit, 10_000))
        self._rate.wait()
        with self._errors():
            response = self._client.filter_log_events(**kwargs)
        return response.get("events", []), response.get("nextToken") or None

    def _follow(
        self, start: int | None, end: int | None, token: str | None, seen: int = 0
    ) -> Iterator[list[dict[str, Any]]]:
        """The pages after the one that gave `token`, in order, until the end or the limit."""
        while token is not None and (self._limit is None or seen < self._limit):
            events, token = self._call(start, end, token)
            seen += len(events)
            yield events

    def _slices(
        self, first: list[dict[str, Any]], start: int | None, end: int | None
    ) -> list[tuple[int, int | None]]:
        """Disjoint inclusive millisecond ranges from the first page's last millisecond to
        the window's end, as many as the first page's density says pages are left (at most
        SLICES); the last one is open when the window is."""
        if self._limit is not None or not first:
            return []
        begin, last = first[0]["timestamp"], first[-1]["timestamp"]
        until = end if end is not None else int(clock.time() * 1000)
        pages = math.ceil((until - last) / max(1, last - begin + 1))  # at the page's density
        count = max(1, min(SLICES, pages, until - last + 1))
        width = (until - last + 1) / count
        bounds = [last + round(i * width) for i in range(count)] + [until + 1]
        return [
            (bounds[i], bounds[i + 1] - 1 if i < count - 1 or end is not None else None)
            for i in range(count)
        ]

    def _concurrently(self, slices: list[tuple[int, int | None]]) -> Iterator[list[dict[str, Any]]]:
        """Every page of every slice, as they arrive; an error in one ends the read, and so
        does the reader stopping early (a slice then stops at its next page)."""
        pages: queue.Queue[Any] = queue.Queue(maxsize=2 * len(slices))
        stop = threading.Event()
        done = object()

        def offer(item: Any) -> None:
            while not stop.is_set():
                try:
                    pages.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        def read(span: tuple[int, int | None]) -> None:
            try:
                events, token = self._call(*span, None)
                offer(events)
                for events in self._follow(*span, token):
                    if stop.is_set():
                        return
                    offer(events)
            except BaseException as err:  # handed to the reading thread
                offer(err)
            finally:
                offer(done)

        for span in slices:
            threading.Thread(target=read, args=(span,), name="vpnsql-logs", daemon=True).start()
        try:
            running = len(slices)
            while running:
                item = pages.get()
                if item is done:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            stop.set()


# Entry values by declared type; `NA` (the log's none) and a missing key are NULL.
_CONVERT: dict[str, Callable[[dict[str, Any], str], Any]] = {
    "VARCHAR": lambda entry, key: None if entry.get(key) in (None, "NA") else str(entry[key]),
    "TIMESTAMP": lambda entry, key: None if entry.get(key) == "NA" else time(entry, key),
    "BIGINT": lambda entry, key: None if entry.get(key) == "NA" else integer(entry, key),
    "INTEGER": lambda entry, key: None if entry.get(key) == "NA" else integer(entry, key),
    "VARCHAR[]": lambda entry, key: _statuses(entry.get(key)),
}
_FIELDS = tuple((c.name, _key(c.name), _CONVERT[c.type]) for c in ENTRY_COLUMNS)


def _statuses(value: Any) -> list[str] | None:
    """posture-compliance-statuses, which AWS leaves unspecified: a JSON array of strings, a
    single string, or NA / absent (NULL)."""
    if value is None or value == "NA":
        return None
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)]


def _row(event: dict[str, Any], group: str, region: str, where: str | None) -> Row:
    message = event.get("message", "")
    try:
        entry = json.loads(message)
        if not isinstance(entry, dict):
            raise ValueError("not a JSON object")
        row: Row = {name: convert(entry, key) for name, key, convert in _FIELDS}
    except (ValueError, TypeError) as err:
        raise ProviderError(
            f"log entry {event.get('eventId')} is not a Client VPN connection log entry "
            f"({err}): {message[:200]}",
            provider="aws",
            code="UnreadableLogEntry",
            account=where,
            region=region,
            target=f"log group {group}",
        ) from None
    row["eventTime"] = EPOCH + timedelta(milliseconds=event["timestamp"])
    row["logGroup"] = group
    row["logStream"] = event.get("logStreamName")
    row["message"] = message
    return row
