"""SELECT over aws.ec2_api.* end to end: planner, boto3 over HTTP to the sandbox, DuckDB."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from vpnsql.errors import NotConfigured, ProviderError
from vpnsql.session import Session
from vpnsql_providers.aws.client import ec2

CONNS = "aws.ec2_api.client_vpn_connections"


def where(endpoint_id: str, region: str = "us-east-1") -> str:
    return f"WHERE ClientVpnEndpointId = '{endpoint_id}' AND region = '{region}'"


def count_describe_calls(session: Session, region: str = "us-east-1") -> list[int]:
    """Count DescribeClientVpnConnections calls through botocore's own event hooks."""
    calls: list[int] = []
    client = ec2(region, session.settings)
    client.meta.events.register(
        "after-call.ec2.DescribeClientVpnConnections", lambda **_: calls.append(1)
    )
    return calls


def test_paging_returns_every_connection(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    endpoint_id = new_endpoint(2345, seed=1)
    calls = count_describe_calls(session)
    rel = session.sql(
        f"SELECT count(*), count(DISTINCT connectionId) FROM {CONNS} {where(endpoint_id)}"
    )
    assert rel.fetchall() == [(2345, 2345)]
    assert len(calls) == 3  # 1000 + 1000 + 345


def test_types_are_real_numbers_and_timestamps(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    endpoint_id = new_endpoint(
        connections=[
            {"IngressBytes": 5_000_000_000, "EgressBytes": 7, "Status": "active",
             "ConnectionEstablishedTime": "2026-11-24 01:00:00"},
            {"IngressBytes": 3, "EgressBytes": 11, "Status": "terminated",
             "ConnectionEstablishedTime": "2026-11-24 01:00:00",
             "ConnectionEndTime": datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S")},
        ]
    )  # fmt: skip
    rel = session.sql(
        f"SELECT sum(ingressBytes), sum(egressBytes), "
        f"count(*) FILTER (WHERE connectionEndTime IS NULL), "
        f"min(connectionEstablishedTime), typeof(any_value(timestamp)), "
        f"list_sort(list(status.code)) FROM {CONNS} {where(endpoint_id)}"
    )
    total_in, total_out, open_count, established, ts_type, codes = rel.fetchall()[0]
    assert (total_in, total_out, open_count) == (5_000_000_003, 18, 1)
    assert established == datetime(2026, 11, 24, 1, 0, 0)
    assert ts_type == "TIMESTAMP"
    assert codes == ["active", "terminated"]


def test_declared_column_types(session: Session, new_endpoint: Callable[..., str]) -> None:
    endpoint_id = new_endpoint(1)
    rel = session.sql(f"SELECT * FROM {CONNS} {where(endpoint_id)}")
    types = dict(zip(rel.columns, map(str, rel.types), strict=True))
    assert types["ingressBytes"] == "BIGINT"
    assert types["connectionEndTime"] == "TIMESTAMP"
    assert types["status"] == "STRUCT(code VARCHAR, message VARCHAR)"
    assert types["postureComplianceStatusSet"] == "VARCHAR[]"
    assert rel.fetchall()[0][rel.columns.index("region")] == "us-east-1"


@pytest.mark.parametrize(
    ("pushed", "not_pushed"),
    [
        ("username = 'user0003'", "username LIKE 'user0003'"),
        ("username IN ('user0001', 'user0004')", "username SIMILAR TO 'user000[14]'"),
        ("connectionId = '{cid}'", "connectionId LIKE '{cid}'"),
    ],
)  # fmt: skip
def test_pushdown_gives_the_same_rows(
    session: Session, new_endpoint: Callable[..., str], pushed: str, not_pushed: str
) -> None:
    endpoint_id = new_endpoint(60, users=6, seed=3)
    cid = session.sql(f"SELECT min(connectionId) FROM {CONNS} {where(endpoint_id)}").fetchall()[0][
        0
    ]
    query = f"SELECT * FROM {CONNS} {where(endpoint_id)} AND {{}} ORDER BY connectionId"
    with_pushdown = session.sql(query.format(pushed.format(cid=cid))).fetchall()
    without = session.sql(query.format(not_pushed.format(cid=cid))).fetchall()
    assert with_pushdown
    assert [r[2] for r in with_pushdown] == [r[2] for r in without]


def test_username_filter_reaches_the_api(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    endpoint_id = new_endpoint(2997, users=3, seed=4)
    calls = count_describe_calls(session)
    rows = session.sql(
        f"SELECT count(*) FROM {CONNS} {where(endpoint_id)} AND username = 'user0001'"
    ).fetchall()
    assert rows == [(999,)]
    assert len(calls) == 1  # filtered at the API: one page instead of three


def test_limit_stops_paging_early(session: Session, new_endpoint: Callable[..., str]) -> None:
    endpoint_id = new_endpoint(2500)
    calls = count_describe_calls(session)
    rows = session.sql(f"SELECT connectionId FROM {CONNS} {where(endpoint_id)} LIMIT 7").fetchall()
    assert len(rows) == 7
    assert len(calls) == 1


def test_limit_after_order_by_reads_everything(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    endpoint_id = new_endpoint(1500, seed=5)
    calls = count_describe_calls(session)
    top = session.sql(f"SELECT max(ingressBytes) FROM {CONNS} {where(endpoint_id)}").fetchall()[0][
        0
    ]
    calls.clear()
    rows = session.sql(
        f"SELECT ingressBytes FROM {CONNS} {where(endpoint_id)} ORDER BY ingressBytes DESC LIMIT 1"
    ).fetchall()
    assert rows == [(top,)]
    assert len(calls) == 2


def test_in_lists_fan_out_over_endpoints_and_regions(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    from vpnsql.sandbox import seed_connections

    first = new_endpoint(4, region="us-east-1")
    second = new_endpoint(5, region="us-east-1")
    seed_connections("eu-west-1", first, 6)  # the sandbox lets one ID exist in two regions
    seed_connections("eu-west-1", second, 1)
    rows = session.sql(
        f"SELECT region, count(*) FROM {CONNS} "
        f"WHERE ClientVpnEndpointId IN ('{first}', '{second}') "
        "AND region IN ('us-east-1', 'eu-west-1') GROUP BY region ORDER BY region"
    ).fetchall()
    assert rows == [("eu-west-1", 7), ("us-east-1", 9)]


def test_unknown_endpoint_keeps_the_aws_error_code(aws_env: Any) -> None:
    session = Session()
    with pytest.raises(ProviderError) as caught:
        session.sql(f"SELECT * FROM {CONNS} {where('cvpn-endpoint-00000000000000000')}")
    assert caught.value.code == "InvalidClientVpnEndpointId.NotFound"
    assert "us-east-1" in caught.value.message
    assert "cvpn-endpoint-00000000000000000" in caught.value.message


def test_default_region_comes_from_the_configuration(
    session: Session, new_endpoint: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint_id = new_endpoint(3, region="eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    rows = session.sql(
        f"SELECT DISTINCT region FROM {CONNS} WHERE ClientVpnEndpointId = '{endpoint_id}'"
    ).fetchall()
    assert rows == [("eu-west-1",)]


def test_missing_region_makes_no_call(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(NotConfigured, match="no region configured"):
        session.sql(f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = 'cvpn-endpoint-00000000'")
    assert session.last_stats.calls == 0


def test_endpoints_table_lists_the_demo_endpoints(session: Session) -> None:
    from vpnsql.sandbox import demo

    rows = session.sql(
        "SELECT clientVpnEndpointId, typeof(creationTime), typeof(vpnPort) "
        "FROM aws.ec2_api.client_vpn_endpoints WHERE region = 'us-east-1'"
    ).fetchall()
    assert (demo.DEMO_ENDPOINT_ID, "TIMESTAMP", "INTEGER") in rows


def test_self_join_with_different_filters_has_no_duplicates(
    session: Session, new_endpoint: Callable[..., str]
) -> None:
    endpoint_id = new_endpoint(30, users=3, seed=8)
    rows = session.sql(
        f"SELECT count(*) FROM {CONNS} a JOIN {CONNS} b USING (connectionId) "
        f"WHERE a.ClientVpnEndpointId = '{endpoint_id}' AND a.region = 'us-east-1' "
        f"AND b.ClientVpnEndpointId = '{endpoint_id}' AND b.region = 'us-east-1' "
        "AND b.username = 'user0001'"
    ).fetchall()
    assert rows == [(10,)]
