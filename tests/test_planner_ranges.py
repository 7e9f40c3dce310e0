"""Time ranges in the planner, with literal SQL: which bounds reach a call's window, which do
not, the default window and its notice, merging, pushdown off, and SqlViews."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import duckdb
import pytest

from vpnsql.planner import Call, Statement, plan_statement
from vpnsql.registry import Registry
from vpnsql.tables import Bound, Settings, TimeRange
from vpnsql_providers.aws import PROVIDER

REGISTRY = Registry([PROVIDER])
LOGS = "aws.logs.client_vpn_connection_logs"
SESSIONS = "aws.logs.client_vpn_sessions"
EP = "cvpn-endpoint-0a1b2c3d4e5f60001"
WHERE = f"WHERE ClientVpnEndpointId = '{EP}' AND region = 'us-east-1'"
MAY = datetime(2024, 5, 1)


@pytest.fixture(autouse=True)
def no_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)


def planned(sql: str, settings: Settings | None = None) -> Statement:
    """Plan as the session does: compute the pending values with DuckDB, plan again."""
    settings = settings or Settings()
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    resolved: dict[str, list[object]] = {}
    statement = plan_statement(sql, REGISTRY, settings)
    while statement.pending:
        for pending in statement.pending:
            rows = connection.sql(pending).fetchall()
            resolved[pending] = [row[0] for row in rows if row[0] is not None]
        statement = plan_statement(sql, REGISTRY, settings, resolved)
    return statement


def only_call(sql: str, settings: Settings | None = None) -> Call:
    (call,) = planned(sql, settings).calls
    return call


def window(condition: str) -> TimeRange | None:
    return only_call(f"SELECT * FROM {LOGS} {WHERE} AND {condition}").window


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("eventTime >= '2024-05-01'", TimeRange(Bound(MAY, True))),
        ("eventTime > '2024-05-01'", TimeRange(Bound(MAY, False))),
        ("'2024-05-01' <= eventTime", TimeRange(Bound(MAY, True))),
        ("'2024-05-01' < eventTime", TimeRange(Bound(MAY, False))),
        (
            "eventTime BETWEEN '2024-05-01' AND '2024-05-02'",
            TimeRange(Bound(MAY), Bound(MAY + timedelta(days=1))),
        ),
        (
            "eventTime >= TIMESTAMP '2024-04-30 23:00' + INTERVAL 1 HOUR",
            TimeRange(Bound(MAY, True)),
        ),
        ("eventTime >= DATE '2024-05-01'", TimeRange(Bound(MAY, True))),
        ("eventTime >= TIMESTAMPTZ '2024-05-01 02:00:00+02'", TimeRange(Bound(MAY, True))),
        ("connectionStartTime >= '2024-05-01'", TimeRange(Bound(MAY, True))),
        ("connectionStartTime > '2024-05-01'", TimeRange(Bound(MAY, False))),
    ],
)
def test_range_conditions_become_the_calls_window(condition: str, expected: TimeRange) -> None:
    assert window(condition) == expected


def test_upper_bounds_push_exactly_with_a_lower_one() -> None:
    got = window("eventTime >= '2024-05-01' AND eventTime < '2024-05-01 00:00:01.5'")
    assert got == TimeRange(Bound(MAY), Bound(MAY + timedelta(seconds=1.5), False))


def test_the_tightest_bounds_win_and_a_tie_is_exclusive() -> None:
    got = window(
        "eventTime >= '2024-04-01' AND eventTime > '2024-05-01' AND eventTime >= '2024-05-01' "
        "AND connectionStartTime >= '2024-03-01' AND eventTime <= '2024-06-01'"
        " AND eventTime < '2024-07-01'"
    )
    assert got == TimeRange(Bound(MAY, False), Bound(datetime(2024, 6, 1), True))


def test_a_clock_bound_is_a_lower_bound_only() -> None:
    before = datetime.utcnow()
    got = window("eventTime >= now()::TIMESTAMP - INTERVAL 2 DAY AND eventTime < now()::TIMESTAMP")
    assert got is not None and got.upper is None and got.lower is not None
    assert before - timedelta(days=2, seconds=5) < got.lower.at <= datetime.utcnow()


@pytest.mark.parametrize(
    "condition",
    [
        "eventTime >= connectionStartTime",  # another column
        f"eventTime >= (SELECT max(connectionStartTime) FROM {LOGS} {WHERE})",
        "eventTime >= 1714521600",  # a number is no moment
        "eventTime >= TIMESTAMP_NS '2024-05-01'",  # would lose digits as a TIMESTAMP
        "(eventTime >= '2024-05-01' OR username = 'x')",  # not AND-ed at the top
        "NOT eventTime BETWEEN '2024-05-01' AND '2024-06-01'",
        "eventTime::DATE >= '2024-05-01'",  # the column inside an expression
    ],
)
def test_conditions_that_cannot_bound_the_window_leave_the_default(condition: str) -> None:
    call = only_call(f"SELECT * FROM {LOGS} {WHERE} AND {condition}")
    assert call.window is not None and call.window.upper is None
    assert call.window.lower is not None
    assert datetime.utcnow() - call.window.lower.at < timedelta(hours=24, minutes=1)
    assert call.notice is not None


def test_an_upper_bound_of_an_earlier_column_is_not_pushed() -> None:
    got = window("connectionStartTime <= '2024-05-01' AND eventTime >= '2024-04-01'")
    assert got == TimeRange(Bound(datetime(2024, 4, 1)))


def test_no_lower_bound_reads_the_last_day_and_says_so() -> None:
    call = only_call(f"SELECT * FROM {LOGS} {WHERE} AND eventTime <= '2099-01-01'")
    assert call.window is not None and call.window.lower is not None
    assert timedelta(hours=23, minutes=59) < datetime.utcnow() - call.window.lower.at
    assert call.window.upper == Bound(datetime(2099, 1, 1), True)
    assert call.notice == (
        f"{LOGS}: no lower bound on eventTime, so only the last 24 hours were read; "
        "add e.g. eventTime >= '2020-01-01' to read further back"
    )


@pytest.mark.parametrize(
    "condition",
    [
        "eventTime >= '2024-05-02' AND eventTime < '2024-05-01'",
        "eventTime > '2024-05-01' AND eventTime <= '2024-05-01'",
        "eventTime >= NULL",
        "eventTime >= TRY_CAST('not a time' AS TIMESTAMP)",
    ],
)
def test_a_range_no_moment_is_in_makes_no_call(condition: str) -> None:
    statement = planned(f"SELECT * FROM {LOGS} {WHERE} AND {condition}")
    assert statement.calls == ()
    assert statement.tables[0].name == LOGS  # still loaded, empty


def test_a_single_moment_is_a_range() -> None:
    assert window("eventTime >= '2024-05-01' AND eventTime <= '2024-05-01'") == TimeRange(
        Bound(MAY), Bound(MAY)
    )


def test_pushdown_off_sends_no_window_no_filter_and_no_notice() -> None:
    sql = f"SELECT * FROM {LOGS} {WHERE} AND username = 'bob'"
    call = only_call(sql, Settings(pushdown=False))
    assert (call.window, call.filters, call.notice) == (None, (), None)
    with_pushdown = only_call(sql)
    assert with_pushdown.filters == (("username", ("bob",)),)


def test_references_sharing_a_call_read_the_union_of_their_ranges() -> None:
    sql = (
        f"SELECT * FROM {LOGS} a JOIN {LOGS} b ON a.connectionId = b.connectionId "
        f"WHERE a.ClientVpnEndpointId = '{EP}' AND a.region = 'us-east-1' "
        f"AND b.ClientVpnEndpointId = '{EP}' AND b.region = 'us-east-1' "
        "AND a.eventTime BETWEEN '2024-05-01' AND '2024-05-02' "
        "AND b.eventTime > '2024-04-01' AND b.eventTime < '2024-05-01 12:00'"
    )
    (call,) = planned(sql).calls
    assert call.window == TimeRange(
        Bound(datetime(2024, 4, 1), False), Bound(datetime(2024, 5, 2), True)
    )


def test_an_exact_constant_range_lets_a_limit_stop_paging() -> None:
    exact = only_call(f"SELECT * FROM {LOGS} {WHERE} AND eventTime >= '2024-05-01' LIMIT 10")
    assert exact.limit == 10
    clock = f"SELECT * FROM {LOGS} {WHERE} AND eventTime >= now() - INTERVAL 1 DAY LIMIT 10"
    assert only_call(clock).limit is None  # evaluated before DuckDB's own now()
    earlier = f"SELECT * FROM {LOGS} {WHERE} AND connectionStartTime >= '2024-05-01' LIMIT 10"
    assert only_call(earlier).limit is None  # a superset: DuckDB may drop fetched rows


def test_a_sql_view_plans_its_source_with_mapped_params_and_ranges() -> None:
    statement = planned(
        f"SELECT * FROM {SESSIONS} WHERE endpointId = '{EP}' AND region = 'us-east-1' "
        "AND startedAt >= '2024-05-01' AND startedAt < '2024-06-01' "
        "AND connectionId IN ('cvpn-connection-1', 'cvpn-connection-2') LIMIT 5"
    )
    (call,) = statement.calls
    assert call.table.name == LOGS
    assert dict(call.params) == {"ClientVpnEndpointId": EP, "region": "us-east-1"}
    assert call.filters == (("connectionId", ("cvpn-connection-1", "cvpn-connection-2")),)
    assert call.window == TimeRange(Bound(MAY))  # startedAt is connectionStartTime: lower only
    assert call.limit is None  # the view folds every entry
    assert [t.name for t in statement.tables] == [LOGS, SESSIONS]  # the source is loaded first


def test_a_sql_view_without_a_lower_bound_says_so_in_its_own_words() -> None:
    call = only_call(f"SELECT * FROM {SESSIONS} WHERE endpointId = '{EP}' AND region = 'eu-west-1'")
    assert call.notice == (
        f"{SESSIONS}: no lower bound on startedAt, so only the last 24 hours were read; "
        "add e.g. startedAt >= '2020-01-01' to read further back"
    )


def test_a_sql_view_discovers_accounts_and_endpoints_through_its_source() -> None:
    (call,) = planned(f"SELECT * FROM {SESSIONS} WHERE region = 'us-east-1'").calls
    assert [p.name for p in call.discover] == ["account", "ClientVpnEndpointId"]
