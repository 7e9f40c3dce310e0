"""aws.logs end to end: the sandbox's CloudWatch Logs over HTTP, the real boto3, DuckDB.

Typing of every field, time and filter pushdown (exact at each boundary, and answers identical
with pushdown off), the default window, logging off, errors, paging and time slices, and the
sessions view's folding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from vpnsql.errors import ProviderError
from vpnsql.sandbox import (
    clear_aws_errors,
    create_endpoint,
    generate_connection_log,
    inject_aws_error,
    seed_connection_log,
    seed_connections,
)
from vpnsql.sandbox.aws import DEFAULT_ACCOUNT_ID, client_vpn_backends
from vpnsql.sandbox.demo import (
    DEMO_ENDPOINT_ID,
    DEMO_ENDPOINTS,
    DEMO_EU_ENDPOINT_ID,
    DEMO_EU_IDLE_ENDPOINT_ID,
)
from vpnsql.session import Session
from vpnsql.tables import Settings
from vpnsql_providers.aws.client import logs
from vpnsql_providers.aws.logs import filter_pattern

LOGS = "aws.logs.client_vpn_connection_logs"
SESSIONS = "aws.logs.client_vpn_sessions"
REGION = "us-east-1"
EPOCH = datetime(1970, 1, 1)
T = (datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=2)).replace(microsecond=0)
"""Two hours ago, to the second: within the default window and CloudWatch's 14 days."""
MS = (T - EPOCH) // timedelta(milliseconds=1)
ALL = "eventTime >= '2020-01-01'"


def where(endpoint_id: str, *conditions: str) -> str:
    parts = [f"ClientVpnEndpointId = '{endpoint_id}'", f"region = '{REGION}'", *conditions]
    return "WHERE " + " AND ".join(parts)


def forget(endpoint_id: str) -> None:
    """Remove a test's endpoint, so region-wide queries of later tests never meet it."""
    client_vpn_backends[DEFAULT_ACCOUNT_ID][REGION].endpoints.pop(endpoint_id, None)


@pytest.fixture
def logged(aws_env: Any) -> Iterator[Callable[..., tuple[str, str]]]:
    """A new endpoint logging to a new group: (endpoint ID, group)."""
    made: list[str] = []

    def make(stream: str | None = "vpn") -> tuple[str, str]:
        group = f"/test/{uuid.uuid4().hex}"
        boto3.client("logs", region_name=REGION).create_log_group(logGroupName=group)
        options = {"Enabled": True, "CloudwatchLogGroup": group}
        if stream:
            options["CloudwatchLogStream"] = stream
        endpoint_id = create_endpoint(REGION, status="available", ConnectionLogOptions=options)
        made.append(endpoint_id)
        return endpoint_id, group

    yield make
    for endpoint_id in made:
        forget(endpoint_id)


def write(group: str, entries: list[tuple[int, Any]], stream: str = "vpn") -> None:
    """Entries (epoch ms, JSON document or raw text) straight into the group."""
    client = boto3.client("logs", region_name=REGION)
    events = [
        {"timestamp": stamp, "message": doc if isinstance(doc, str) else json.dumps(doc)}
        for stamp, doc in sorted(entries, key=lambda entry: entry[0])
    ]
    client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def entry(endpoint_id: str, **values: Any) -> dict[str, Any]:
    """A connection-attempt entry as AWS writes it; `values` by kebab-case key override."""
    doc: dict[str, Any] = {
        "connection-log-type": "connection-attempt",
        "connection-attempt-status": "successful",
        "connection-reset-status": "NA",
        "connection-attempt-failure-reason": "NA",
        "connection-id": "cvpn-connection-00000000000000001",
        "client-vpn-endpoint-id": endpoint_id,
        "transport-protocol": "udp",
        "connection-start-time": "2026-01-02 03:04:05",
        "connection-last-update-time": "2026-01-02 03:04:05",
        "client-ip": "10.0.0.2",
        "common-name": "client1",
        "device-type": "mac",
        "device-ip": "198.51.100.7",
        "port": "50096",
        "ingress-bytes": "0",
        "egress-bytes": "0",
        "ingress-packets": "0",
        "egress-packets": "0",
        "connection-end-time": "NA",
        "username": "joe",
    }
    doc.update({key.replace("_", "-"): value for key, value in values.items()})
    return {key: value for key, value in doc.items() if value is not None}


def calls(session: Session, region: str = REGION) -> list[dict[str, Any]]:
    """The parameters of every FilterLogEvents call the session's client makes."""
    made: list[dict[str, Any]] = []
    client = logs(region, session.settings)
    client.meta.events.register(
        "provide-client-params.logs.FilterLogEvents",
        lambda params, **_: made.append(dict(params)),
    )
    return made


@pytest.fixture
def unpushed(aws_env: Any) -> Session:
    return Session(settings=Settings(pushdown=False))


# ---------------------------------------------------------------------------- typing


def test_every_field_is_typed_and_na_or_missing_is_null(
    session: Session, logged: Callable[..., tuple[str, str]]
) -> None:
    endpoint_id, group = logged()
    full = entry(
        endpoint_id,
        connection_log_type="connection-reset",
        connection_attempt_status="NA",
        connection_end_time="2026-01-02 05:04:05",
        connection_last_update_time="2026-01-02 05:04:05",
        ingress_bytes="12345678901",
        egress_bytes="7",
        ingress_packets="9000000",
        egress_packets="3",
        connection_duration_seconds="7200",
        client_ipv6="2001:db8::7",
        posture_compliance_statuses=["compliant", "os-current"],
    )
    nothing = {key: "NA" for key in entry(endpoint_id)} | {"client-vpn-endpoint-id": endpoint_id}
    nothing |= {"posture-compliance-statuses": "NA", "connection-duration-seconds": "NA"}
    sparse = {"client-vpn-endpoint-id": endpoint_id, "connection-id": "cvpn-connection-sparse"}
    single = entry(endpoint_id, posture_compliance_statuses="quarantined")
    empty = entry(endpoint_id, posture_compliance_statuses=[])
    write(
        group, [(MS, full), (MS + 1, nothing), (MS + 2, sparse), (MS + 3, single), (MS + 4, empty)]
    )
    relation = session.sql(f"SELECT * FROM {LOGS} {where(endpoint_id, ALL)} ORDER BY eventTime")
    types = dict(zip(relation.columns, map(str, relation.types), strict=True))
    assert {name: types[name] for name in ("port", "ingressBytes", "connectionStartTime",
            "postureComplianceStatuses", "eventTime", "connectionDurationSeconds")} == {
        "port": "INTEGER", "ingressBytes": "BIGINT", "connectionStartTime": "TIMESTAMP",
        "postureComplianceStatuses": "VARCHAR[]", "eventTime": "TIMESTAMP",
        "connectionDurationSeconds": "BIGINT",
    }  # fmt: skip
    rows = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    first = rows[0]
    assert first == {
        "connectionLogType": "connection-reset",
        "connectionAttemptStatus": None,
        "connectionResetStatus": None,
        "connectionAttemptFailureReason": None,
        "connectionId": "cvpn-connection-00000000000000001",
        "clientVpnEndpointId": endpoint_id,
        "transportProtocol": "udp",
        "connectionStartTime": datetime(2026, 1, 2, 3, 4, 5),
        "connectionLastUpdateTime": datetime(2026, 1, 2, 5, 4, 5),
        "connectionEndTime": datetime(2026, 1, 2, 5, 4, 5),
        "clientIp": "10.0.0.2",
        "clientIpv6": "2001:db8::7",
        "commonName": "client1",
        "username": "joe",
        "deviceType": "mac",
        "deviceIp": "198.51.100.7",
        "port": 50096,
        "ingressBytes": 12345678901,
        "egressBytes": 7,
        "ingressPackets": 9000000,
        "egressPackets": 3,
        "connectionDurationSeconds": 7200,
        "postureComplianceStatuses": ["compliant", "os-current"],
        "eventTime": T,
        "logGroup": group,
        "logStream": "vpn",
        "message": json.dumps(full),
        "region": REGION,
        "account": "default",
        "accountId": DEFAULT_ACCOUNT_ID,
    }
    for row in rows[1:3]:  # every value NA, or every key but two missing: NULL
        typed = {k: v for k, v in row.items() if k not in ("clientVpnEndpointId", "connectionId")}
        assert {k for k, v in typed.items() if v is not None} == {
            "eventTime", "logGroup", "logStream", "region", "message", "account", "accountId",
        }  # fmt: skip
    assert rows[2]["connectionId"] == "cvpn-connection-sparse"
    assert rows[1]["eventTime"] == T + timedelta(milliseconds=1)
    assert [r["postureComplianceStatuses"] for r in rows[3:]] == [["quarantined"], []]


def test_raw_message_keeps_keys_a_newer_aws_adds(
    session: Session, logged: Callable[..., tuple[str, str]]
) -> None:
    endpoint_id, group = logged()
    policy = {"decision": "deny", "rule": "engineering"}
    write(group, [(MS, entry(endpoint_id, authorization_policy_evaluation=policy))])
    relation = session.sql(
        "SELECT json_extract_string(message, '$.\"authorization-policy-evaluation\".decision') "
        f"FROM {LOGS} {where(endpoint_id, ALL)}"
    )
    assert relation.fetchall() == [("deny",)]


def test_an_entry_that_is_not_a_connection_log_entry_is_an_error(
    session: Session, logged: Callable[..., tuple[str, str]]
) -> None:
    endpoint_id, group = logged()
    bad = json.dumps(entry(endpoint_id, port="not-a-port"))
    write(group, [(MS, bad)])
    with pytest.raises(ProviderError) as caught:
        session.sql(f"SELECT * FROM {LOGS} {where(endpoint_id, ALL)}")
    assert caught.value.code == "UnreadableLogEntry"
    assert group in caught.value.message and REGION in caught.value.message


# ---------------------------------------------------------------------------- time pushdown


@pytest.fixture
def boundary(logged: Callable[..., tuple[str, str]]) -> str:
    """Entries 1 ms before, exactly at, and 1 ms after T (and 1 ms after T + 1 s)."""
    endpoint_id, group = logged()
    stamps = (MS - 1, MS, MS + 1, MS + 1000, MS + 1001)
    write(group, [(s, entry(endpoint_id, connection_id=f"cvpn-connection-{s}")) for s in stamps])
    return endpoint_id


@pytest.mark.parametrize(
    ("condition", "sent", "found"),
    [
        ("eventTime >= '{t}'", {"startTime": MS}, [0, 1, 1000, 1001]),
        ("eventTime > '{t}'", {"startTime": MS + 1}, [1, 1000, 1001]),
        ("'{t}' < eventTime", {"startTime": MS + 1}, [1, 1000, 1001]),
        ("eventTime > '{t}.0005'", {"startTime": MS + 1}, [1, 1000, 1001]),
        ("eventTime >= '{t}.0005'", {"startTime": MS + 1}, [1, 1000, 1001]),
        ("eventTime >= '{b}' AND eventTime <= '{t}'", {"endTime": MS}, [-1, 0]),
        ("eventTime >= '{b}' AND eventTime < '{t}'", {"endTime": MS - 1}, [-1]),
        ("eventTime >= '{b}' AND eventTime < '{t}.0005'", {"endTime": MS}, [-1, 0]),
        ("eventTime >= '{b}' AND eventTime <= '{t}.0005'", {"endTime": MS}, [-1, 0]),
        (
            "eventTime BETWEEN '{t}' AND '{t1}'",
            {"startTime": MS, "endTime": MS + 1000},
            [0, 1, 1000],
        ),
        (
            "connectionStartTime >= '{b}' AND eventTime > '{t}'",
            {"startTime": MS + 1},
            [1, 1000, 1001],
        ),
    ],
)
def test_each_bound_is_pushed_exactly_and_answers_as_unpushed(
    session: Session,
    unpushed: Session,
    boundary: str,
    condition: str,
    sent: dict[str, int],
    found: list[int],
) -> None:
    text = condition.format(
        t=T.isoformat(" "), t1=(T + timedelta(seconds=1)).isoformat(" "), b="2020-01-01"
    )
    sql = f"SELECT eventTime FROM {LOGS} {where(boundary, text)} ORDER BY eventTime"
    made = calls(session)
    rows = session.sql(sql).fetchall()
    assert [(row[0] - T) // timedelta(milliseconds=1) for row in rows] == found
    assert [{k: made[0].get(k) for k in sent}] == [sent]
    assert unpushed.sql(sql).fetchall() == rows


def test_an_earlier_columns_lower_bound_is_a_start_time(session: Session, boundary: str) -> None:
    made = calls(session)
    condition = "connectionStartTime >= '2026-01-02'"
    session.sql(f"SELECT * FROM {LOGS} {where(boundary, condition)}")
    assert made[0]["startTime"] == (datetime(2026, 1, 2) - EPOCH) // timedelta(milliseconds=1)


def test_a_range_between_two_milliseconds_calls_nothing(session: Session, boundary: str) -> None:
    made = calls(session)
    t = T.isoformat(" ")
    condition = f"eventTime > '{t}.0001' AND eventTime < '{t}.0009'"
    assert session.sql(f"SELECT * FROM {LOGS} {where(boundary, condition)}").fetchall() == []
    assert made == []


def test_without_a_lower_bound_the_last_day_is_read_and_said(
    aws_env: Any, logged: Callable[..., tuple[str, str]]
) -> None:
    endpoint_id, group = logged()
    old = MS - 2 * 86_400_000
    write(group, [(old, entry(endpoint_id, connection_id="cvpn-connection-old")),
                  (MS, entry(endpoint_id, connection_id="cvpn-connection-new"))])  # fmt: skip
    sql = f"SELECT connectionId FROM {LOGS} {where(endpoint_id)}"
    result = subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", "-o", "csv", "--no-header", "-e", sql],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["cvpn-connection-new"]
    assert result.stderr.strip() == (
        f"vpnsql: notice: {LOGS}: no lower bound on eventTime, so only the last 24 hours were "
        "read; add e.g. eventTime >= '2020-01-01' to read further back"
    )
    everything = f"{sql} AND {ALL} ORDER BY 1"
    result = subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", "-o", "csv", "--no-header", "-e", everything],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )  # fmt: skip
    assert (result.stdout.split(), result.stderr) == (
        ["cvpn-connection-new", "cvpn-connection-old"],
        "",
    )


def test_no_pushdown_on_the_command_line_gives_the_same_answer(aws_env: Any) -> None:
    sql = (
        f"SELECT count(*), count(DISTINCT connectionId) FROM {LOGS} "
        f"{where(DEMO_ENDPOINT_ID, 'eventTime >= now()::TIMESTAMP - INTERVAL 3 DAY')} "
        "AND username IN ('alice.ng', 'bob.ng')"
    )
    answers = [
        subprocess.run(
            [sys.executable, "-m", "vpnsql.cli", *flags, "-o", "csv", "--no-header", "-e", sql],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=120,
        )
        for flags in ([], ["--no-pushdown"])
    ]
    assert [a.returncode for a in answers] == [0, 0], [a.stderr for a in answers]
    assert answers[0].stdout == answers[1].stdout
    assert int(answers[0].stdout.split(",")[0]) > 0


# ---------------------------------------------------------------------------- filter pushdown

MINE = [spec for spec in DEMO_ENDPOINTS if spec.account_id == DEFAULT_ACCOUNT_ID]
"""The demo endpoints of the default account, the one a session without a config asks."""
US = ", ".join(f"'{spec.endpoint_id}'" for spec in MINE if spec.region == REGION)
DEMO = ", ".join(f"'{spec.endpoint_id}'" for spec in MINE)
DEMO_QUERIES = [
    "SELECT * FROM {logs} WHERE region = 'us-east-1' AND ClientVpnEndpointId IN ({us}) AND {all}",
    "SELECT * FROM {logs} WHERE region IN ('us-east-1', 'eu-west-1')"
    " AND ClientVpnEndpointId IN ({demo}) AND {all}"
    " AND username IN ('alice.ng', 'bob.ng', 'nobody')",
    "SELECT * FROM {logs} WHERE ClientVpnEndpointId = '{ep}' AND region = 'us-east-1'"
    " AND connectionAttemptStatus = 'failed' AND eventTime >= now()::TIMESTAMP - INTERVAL 3 DAY",
    "SELECT * FROM {logs} WHERE ClientVpnEndpointId = '{ep}' AND region = 'us-east-1'"
    " AND clientIp IN ('10.100.0.7', '10.100.0.9') AND commonName LIKE 'a%' AND {all}",
    "SELECT * FROM {logs} WHERE ClientVpnEndpointId = '{ep}' AND region = 'us-east-1'"
    " AND eventTime BETWEEN now()::TIMESTAMP - INTERVAL 5 DAY"
    " AND now()::TIMESTAMP - INTERVAL 1 DAY",
    "SELECT * FROM {logs} WHERE region = 'us-east-1' AND ClientVpnEndpointId IN ({us})"
    " AND connectionStartTime >= now()::TIMESTAMP - INTERVAL 2 DAY AND port > 30000",
    "SELECT * FROM {sessions} WHERE region = 'us-east-1' AND endpointId IN ({us})"
    " AND startedAt >= '2020-01-01'",
    "SELECT * FROM {sessions} WHERE region = 'eu-west-1'"
    " AND startedAt >= now()::TIMESTAMP - INTERVAL 3 DAY AND failureReason IS NOT NULL",
]


@pytest.mark.parametrize("query", DEMO_QUERIES)
def test_pushed_and_unpushed_answers_are_identical(
    session: Session, unpushed: Session, query: str
) -> None:
    sql = query.format(logs=LOGS, sessions=SESSIONS, all=ALL, ep=DEMO_ENDPOINT_ID, demo=DEMO, us=US)
    pushed = sorted(map(repr, session.sql(sql).fetchall()))
    assert pushed  # the demo data answers each
    assert sorted(map(repr, unpushed.sql(sql).fetchall())) == pushed


def test_filters_become_a_json_pattern_with_the_endpoint(session: Session) -> None:
    made = calls(session)
    sql = (
        f"SELECT * FROM {LOGS} {where(DEMO_ENDPOINT_ID, ALL)} "
        "AND username IN ('bob.ng', 'alice.ng') AND connectionAttemptStatus = 'successful'"
    )
    assert session.sql(sql).fetchall()
    assert made[0]["filterPattern"] == (
        f'{{ $.client-vpn-endpoint-id = "{DEMO_ENDPOINT_ID}" && '
        '($.username = "alice.ng" || $.username = "bob.ng") && '
        '$.connection-attempt-status = "successful" }'
    )
    assert made[0]["logStreamNames"] == ["vpn"]


def test_values_are_escaped_as_data() -> None:
    pattern = filter_pattern(
        "cvpn-endpoint-0a1b2c3d4e5f60001",
        {"username": ('o"brien', "back\\slash", "a*b", "über", 'x" || $.username = "y')},
    )
    assert pattern == (
        '{ $.client-vpn-endpoint-id = "cvpn-endpoint-0a1b2c3d4e5f60001" && ('
        '$.username = "a*b" || $.username = "back*slash" || $.username = "o*brien" || '
        '$.username = "x* || $.username = *y" || $.username = "*ber") }'
    )


def test_a_quote_or_backslash_in_a_value_still_finds_exactly_its_rows(
    session: Session, unpushed: Session, logged: Callable[..., tuple[str, str]]
) -> None:
    endpoint_id, group = logged()
    names = ['o"brien', "o'brien", "obrien", "back\\slash", "backXslash"]
    write(group, [(MS + i, entry(endpoint_id, username=n)) for i, n in enumerate(names)])
    for name in ('o"brien', "back\\slash", "o'brien"):
        literal = name.replace("'", "''")
        sql = f"SELECT username FROM {LOGS} {where(endpoint_id, ALL)} AND username = '{literal}'"
        assert session.sql(sql).fetchall() == [(name,)]
        assert unpushed.sql(sql).fetchall() == [(name,)]


def test_a_pattern_past_cloudwatchs_limit_leaves_the_longest_filter_to_duckdb() -> None:
    many = tuple(f"user{i:04d}" for i in range(60))
    pattern = filter_pattern(
        "cvpn-endpoint-0a1b2c3d4e5f60001", {"username": many, "clientIp": ("10.0.0.1",)}
    )
    assert pattern == (
        '{ $.client-vpn-endpoint-id = "cvpn-endpoint-0a1b2c3d4e5f60001" '
        '&& $.client-ip = "10.0.0.1" }'
    )


# ---------------------------------------------------------------------------- endpoints


def test_logging_off_is_a_notice_and_no_rows(session: Session) -> None:
    relation = session.sql(
        f"SELECT clientVpnEndpointId, count(*) FROM {LOGS} WHERE region = 'eu-west-1' "
        f"AND ClientVpnEndpointId IN ('{DEMO_EU_ENDPOINT_ID}', '{DEMO_EU_IDLE_ENDPOINT_ID}') "
        f"AND {ALL} GROUP BY 1"
    )
    assert [row[0] for row in relation.fetchall()] == [DEMO_EU_ENDPOINT_ID]
    (notice,) = session.last_stats.notices
    assert notice.startswith(f"{DEMO_EU_IDLE_ENDPOINT_ID} (eu-west-1) has connection logging off")
    assert "aws ec2 modify-client-vpn-endpoint" in notice and "\n" not in notice


def test_an_endpoint_without_a_stream_name_reads_its_group(session: Session) -> None:
    made = calls(session)
    endpoint = "cvpn-endpoint-0a1b2c3d4e5f60002"
    rows = session.sql(
        f"SELECT DISTINCT clientVpnEndpointId, logGroup FROM {LOGS} {where(endpoint, ALL)}"
    ).fetchall()
    assert rows == [(endpoint, "/aws/clientvpn/contractors")]
    assert "logStreamNames" not in made[0]


def test_an_endpoint_in_another_region_counts_as_none_there(session: Session) -> None:
    sql = (
        f"SELECT DISTINCT region FROM {LOGS} WHERE ClientVpnEndpointId = '{DEMO_ENDPOINT_ID}' "
        f"AND region IN ('us-east-1', 'eu-west-1') AND {ALL}"
    )
    assert session.sql(sql).fetchall() == [("us-east-1",)]


def test_throttling_is_retried(session: Session, boundary: str) -> None:
    inject_aws_error("ThrottlingException", count=2, action="FilterLogEvents")
    try:
        rows = session.sql(f"SELECT count(*) FROM {LOGS} {where(boundary, ALL)}").fetchall()
    finally:
        left = clear_aws_errors()
    assert (rows, left) == ([(5,)], 0)


def test_a_group_the_credentials_cannot_read_names_group_and_region(
    session: Session, boundary: str
) -> None:
    inject_aws_error("AccessDeniedException", count=5, action="FilterLogEvents")
    try:
        with pytest.raises(ProviderError) as caught:
            session.sql(f"SELECT * FROM {LOGS} {where(boundary, ALL)}")
    finally:
        clear_aws_errors()
    error = caught.value
    assert error.code == "AccessDeniedException"
    assert "log group /test/" in error.message and REGION in error.message
    assert error.hint is not None and "logs:FilterLogEvents" in error.hint


def test_a_deleted_group_is_an_error_not_an_empty_log(
    session: Session, logged: Callable[..., tuple[str, str]]
) -> None:
    endpoint_id, group = logged()
    boto3.client("logs", region_name=REGION).delete_log_group(logGroupName=group)
    with pytest.raises(ProviderError) as caught:
        session.sql(f"SELECT * FROM {LOGS} {where(endpoint_id, ALL)}")
    assert caught.value.code == "ResourceNotFoundException" and group in caught.value.message


# ---------------------------------------------------------------------------- paging, slices


@pytest.fixture(scope="module")
def generated(sandbox: Any) -> Iterator[str]:
    endpoint_id = f"cvpn-endpoint-{uuid.uuid4().hex[:17]}"
    generate_connection_log(REGION, endpoint_id, days=3, per_day=5000, seed=3,
                            log_group=f"/test/{uuid.uuid4().hex}")  # fmt: skip
    yield endpoint_id
    forget(endpoint_id)


def test_a_wide_read_is_sliced_and_stays_exact(
    session: Session, unpushed: Session, generated: str
) -> None:
    made = calls(session)
    sql = (
        f"SELECT count(*), count(DISTINCT (connectionId, connectionLogType, eventTime)), "
        f"min(eventTime), max(eventTime) FROM {LOGS} {where(generated, ALL)}"
    )
    answer = session.sql(sql).fetchall()
    assert answer[0][:2] == (15000, 15000)
    assert len({call.get("startTime") for call in made}) > 2  # first page, then slices
    assert unpushed.sql(sql).fetchall() == answer


def test_entries_sharing_a_pages_last_millisecond_are_neither_lost_nor_doubled(
    session: Session, logged: Callable[..., tuple[str, str]]
) -> None:
    endpoint_id, group = logged()
    same = [
        (MS, entry(endpoint_id, connection_id=f"cvpn-connection-a{i:016x}")) for i in range(3000)
    ]
    for start in range(0, len(same), 1000):
        write(group, same[start : start + 1000])
    write(group, [(MS + 5000 + i, entry(endpoint_id)) for i in range(500)])
    made = calls(session)
    sql = f"SELECT count(*), count(DISTINCT connectionId) FROM {LOGS} {where(endpoint_id, ALL)}"
    assert session.sql(sql).fetchall() == [(3500, 3001)]
    assert len(made) > 2


def test_a_limit_stops_paging(session: Session, generated: str) -> None:
    made = calls(session)
    rows = session.sql(f"SELECT * FROM {LOGS} {where(generated, ALL)} LIMIT 7").fetchall()
    assert len(rows) == 7
    assert len(made) == 1 and made[0]["limit"] == 7


# ---------------------------------------------------------------------------- sessions


def test_sessions_fold_active_ended_and_failed(
    session: Session, logged: Callable[..., tuple[str, str]]
) -> None:
    endpoint_id, _ = logged()
    now = datetime.now(UTC).replace(microsecond=0)
    started = now - timedelta(hours=3)
    active, ended = seed_connections(
        REGION,
        endpoint_id,
        connections=[
            {"Username": "ann", "ConnectionEstablishedTime": started, "ClientIp": "10.0.0.5"},
            {"CommonName": "laptop7.example.com", "Status": "terminated",
             "ConnectionEstablishedTime": started, "ConnectionEndTime": now - timedelta(hours=1),
             "IngressBytes": 5000, "EgressBytes": 700, "ClientIp": "10.0.0.6"},
        ],
    )  # fmt: skip
    (refused,) = seed_connection_log(
        REGION,
        endpoint_id,
        [
            {
                "Username": "eve",
                "ConnectionEstablishedTime": started,
                "FailureReason": "authorization-policy-deny",
            }
        ],
    )
    relation = session.sql(
        f"SELECT connectionId, identity, clientIp, startedAt, endedAt, durationSeconds, "
        f"bytesFromClient, bytesToClient, failureReason FROM {SESSIONS} "
        f"WHERE endpointId = '{endpoint_id}' AND region = '{REGION}' "
        f"AND startedAt >= now()::TIMESTAMP - INTERVAL 1 DAY ORDER BY identity"
    )
    naive = started.replace(tzinfo=None)
    assert relation.fetchall() == [
        (active, "ann", "10.0.0.5", naive, None, None, 0, 0, None),
        (refused, "eve", None, naive, None, None, 0, 0, "authorization-policy-deny"),
        (ended, "laptop7.example.com", "10.0.0.6", naive, naive + timedelta(hours=2), 7200,
         5000, 700, None),
    ]  # fmt: skip


def test_the_sessions_view_has_the_issues_columns(session: Session) -> None:
    relation = session.sql(
        f"SELECT * FROM {SESSIONS} WHERE region = 'us-east-1' AND startedAt >= '2020-01-01' LIMIT 1"
    )
    assert relation.columns == [
        "account", "accountId", "region", "endpointId", "connectionId", "identity", "clientIp",
        "startedAt", "endedAt", "durationSeconds", "bytesFromClient", "bytesToClient",
        "failureReason",
    ]  # fmt: skip
    assert len(relation.fetchall()) == 1
