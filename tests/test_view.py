"""The cross-cloud view vpn.client_connections over both sandboxes, over HTTP."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from datetime import datetime
from typing import Any

import pytest

from vpnsql.errors import NotConfigured, ParamError
from vpnsql.fetch import FetchFailed
from vpnsql.session import Session

AWS_REGION, ALIBABA_REGION = "ca-central-1", "cn-shenzhen"  # regions no other test uses
VIEW = "vpn.client_connections"


@pytest.fixture(scope="module")
def clouds(sandbox: Any) -> dict[str, str]:
    """One AWS endpoint and one Alibaba gateway with known connections; their IDs."""
    from vpnsql.sandbox import seed_connections

    endpoint = f"cvpn-endpoint-{uuid.uuid4().hex[:17]}"
    seed_connections(AWS_REGION, endpoint, connections=[
        {"Username": "ann", "CommonName": "ann-cert", "ClientIp": "10.1.0.2",
         "IngressBytes": 100, "EgressBytes": 7, "Status": "active",
         "ConnectionEstablishedTime": "2026-11-24 01:00:00"},
        {"CommonName": "build-bot", "ClientIp": "10.1.0.3", "IngressBytes": 5, "EgressBytes": 6,
         "Status": "terminated", "ConnectionEstablishedTime": "2026-11-24 01:00:00",
         "ConnectionEndTime": datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S")},
    ])  # fmt: skip
    gateway = sandbox.alibaba.emulator.seed_clients(ALIBABA_REGION, None, clients=[
        {"CommonName": "li", "Status": "online", "PrivateIp": "10.9.0.2", "Ip": "203.0.113.9",
         "Port": "51234", "SendBytes": 30, "ReceiveBytes": 40, "ConnectedTime": 1764000000000},
    ])  # fmt: skip
    return {"aws": endpoint, "alibaba": gateway}


def rows(session: Session, where: str) -> list[dict[str, Any]]:
    relation = session.sql(f"SELECT * FROM {VIEW} WHERE {where} ORDER BY provider, identity")
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def test_one_meaning_per_column_on_both_clouds(session: Session, clouds: dict[str, str]) -> None:
    found = rows(session, f"region IN ('{AWS_REGION}', '{ALIBABA_REGION}')")
    assert [(r["provider"], r["identity"]) for r in found] == [
        ("alibaba", "li"), ("aws", "ann"), ("aws", "build-bot"),
    ]  # fmt: skip
    li, ann, bot = found
    assert li == {
        "provider": "alibaba", "account": "default", "accountId": None,
        "region": ALIBABA_REGION, "endpointId": clouds["alibaba"],
        "connectionId": None, "identity": "li", "privateIp": "10.9.0.2",
        "publicIp": "203.0.113.9", "status": "active",
        "connectedAt": datetime(2025, 11, 24, 16, 0, 0), "endedAt": None,
        "bytesFromClient": 40, "bytesToClient": 30,
    }  # fmt: skip
    assert (ann["endpointId"], ann["privateIp"], ann["publicIp"]) == (
        clouds["aws"], "10.1.0.2", None,
    )  # fmt: skip
    assert (ann["status"], ann["bytesFromClient"], ann["bytesToClient"]) == ("active", 100, 7)
    assert ann["connectionId"].startswith("cvpn-connection-")
    assert (ann["account"], ann["accountId"]) == ("default", "123456789012")
    assert (bot["status"], bot["endedAt"] is not None) == ("terminated", True)


def test_provider_aws_never_calls_alibaba(
    session: Session, clouds: dict[str, str], sandbox: Any
) -> None:
    emulator = sandbox.alibaba.emulator
    before = emulator.calls("DescribeVpnGateways") + emulator.calls("DescribeSslVpnClients")
    found = rows(session, f"provider = 'aws' AND region = '{AWS_REGION}'")
    after = emulator.calls("DescribeVpnGateways") + emulator.calls("DescribeSslVpnClients")
    assert {r["provider"] for r in found} == {"aws"} and len(found) == 2
    assert after == before


def test_endpoint_ids_go_only_to_their_cloud(session: Session, clouds: dict[str, str]) -> None:
    found = rows(session, f"endpointId = '{clouds['alibaba']}' AND region = '{ALIBABA_REGION}'")
    assert [r["identity"] for r in found] == ["li"]


def test_a_value_no_cloud_accepts_is_an_error(session: Session) -> None:
    with pytest.raises(ParamError, match="not a valid endpointId on any cloud"):
        rows(session, "endpointId = 'gw/nope'")  # no cloud's name or ID has a slash


@pytest.mark.parametrize(
    ("where", "error"),
    [
        (f"region = '{AWS_REGION}' OR region = '{ALIBABA_REGION}'", "region is constrained"),
        ("region LIKE 'ca-%'", "region is constrained"),
        ("provider = 'gcp'", "'gcp' is not a known provider"),
        ("provider = 'AWS'", "'AWS' is not a known provider"),
    ],
)
def test_a_where_clause_the_view_cannot_plan_is_refused_not_answered_empty(
    session: Session, where: str, error: str
) -> None:
    with pytest.raises(ParamError, match=error):
        rows(session, where)


def test_region_equal_to_null_answers_empty_without_calls(session: Session) -> None:
    assert session.sql(f"SELECT count(*) FROM {VIEW} WHERE region = NULL").fetchall() == [(0,)]
    assert session.last_stats.calls == 0


def test_default_regions_when_the_where_clause_names_none(session: Session) -> None:
    from vpnsql.sandbox import azure as azure_demo
    from vpnsql.sandbox import demo
    from vpnsql.sandbox.alibaba import ACCOUNT_ID, DEMO_GATEWAYS

    counts = dict(session.sql(f"SELECT provider, count(*) FROM {VIEW} GROUP BY ALL").fetchall())
    regions = session.sql(f"SELECT DISTINCT provider, region FROM {VIEW} ORDER BY 1, 2").fetchall()
    azure = sorted({g.location for g in azure_demo.DEMO_GATEWAYS if g.clients})
    assert regions == [("alibaba", os.environ["ALIBABA_CLOUD_REGION_ID"]),
                       ("aws", os.environ["AWS_DEFAULT_REGION"]),
                       *(("azure", location) for location in azure)]  # fmt: skip
    assert counts["aws"] >= sum(
        e.connections
        for e in demo.DEMO_ENDPOINTS
        if e.region == "us-east-1" and e.account_id == demo.DEMO_ACCOUNT_ID
    )
    assert counts["alibaba"] >= sum(
        g.clients for g in DEMO_GATEWAYS if g.region == "cn-hangzhou" and g.owner == ACCOUNT_ID
    )  # the default account's: the partner account is asked only with a config file


def test_a_cloud_without_credentials_is_skipped_with_a_notice(
    aws_env: Any, clouds: dict[str, str], tmp_path: Any
) -> None:
    """In a process of its own: the Alibaba SDK reads its environment once, at import."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_ACCESS_KEY")}
    env.update(
        HOME=str(tmp_path),
        ALIBABA_CLOUD_CREDENTIALS_FILE=os.devnull,
        ALIBABA_CLOUD_CLI_PROFILE_DISABLED="true",
        ALIBABA_CLOUD_ECS_METADATA_DISABLED="true",
    )
    sql = (
        f"SELECT DISTINCT provider FROM {VIEW} WHERE region IN ('{AWS_REGION}', '{ALIBABA_REGION}')"
    )
    result = subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", "-o", "csv", "--no-header", "-e", sql],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["aws"]
    assert "vpnsql: notice: alibaba skipped: no credentials configured" in result.stderr
    named = subprocess.run(  # asked for by name, the cloud is not skipped: the answer would lie
        [sys.executable, "-m", "vpnsql.cli", "-e", f"{sql} AND provider = 'alibaba'"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert (named.returncode, named.stdout) == (1, "")
    assert "no Alibaba Cloud credentials" in named.stderr


def test_a_cloud_without_a_default_region_is_skipped_with_a_notice(
    aws_env: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with caplog.at_level(logging.WARNING, logger="vpnsql"):
        providers = Session().sql(f"SELECT DISTINCT provider FROM {VIEW} ORDER BY 1").fetchall()
    assert providers == [("alibaba",), ("azure",)]
    assert "aws skipped: no default region configured" in caplog.text
    with pytest.raises(NotConfigured, match="no region configured"):
        Session().sql(f"SELECT * FROM {VIEW} WHERE provider = 'aws'")


def test_failed_view_calls_follow_the_failure_policy(aws_env: Any, clouds: dict[str, str]) -> None:
    missing = "vpn-doesnotexist0000000000"
    where = (
        f"region IN ('{AWS_REGION}', '{ALIBABA_REGION}') "
        f"AND endpointId IN ('{clouds['aws']}', '{missing}')"
    )
    # the gateway is looked for in cn-shenzhen only: ca-central-1 is AWS's, not Alibaba's
    with pytest.raises(FetchFailed) as caught:
        rows(Session(), where)
    assert caught.value.message.count("InvalidVpnGatewayInstanceId.NotFound") == 1
    partial = Session(allow_partial=True)
    found = rows(partial, where)
    assert {r["provider"] for r in found} == {"aws"} and len(found) == 2
    failures = partial.last_stats.failures
    assert len(failures) == 1
    assert all(f.error.provider == "alibaba" and missing in f.error.message for f in failures)


def test_view_calls_are_counted_like_any_other(session: Session, clouds: dict[str, str]) -> None:
    rows(session, f"region IN ('{AWS_REGION}', '{ALIBABA_REGION}')")
    # AWS: ca-central-1 (cn-shenzhen is no AWS region): a discovery, one endpoint. Alibaba:
    # both names are valid Alibaba regions: two discoveries, one gateway.
    assert session.last_stats.calls == 5


def test_contradictory_constraints_answer_empty_not_missing_table(session: Session) -> None:
    relation = session.sql(
        "SELECT count(*) FROM aws.ec2_api.client_vpn_connections "
        "WHERE region = 'us-east-1' AND region = 'eu-west-1'"
    )
    assert relation.fetchall() == [(0,)]
    assert session.last_stats.calls == 0
