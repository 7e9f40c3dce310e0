"""EXPLAIN: the API calls a statement would make, without making them (planner tests with
literal SQL), and EXPLAIN / EXPLAIN ANALYZE against the sandbox over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from vpnsql.errors import UnsupportedStatementError
from vpnsql.explain import api_calls
from vpnsql.planner import Explain, plan_statement
from vpnsql.registry import Registry
from vpnsql.session import Session
from vpnsql.tables import Settings

REGISTRY = Registry.discover()
CONNS = "aws.ec2_api.client_vpn_connections"
EPS = ("cvpn-endpoint-0a1b2c3d4e5f60001", "cvpn-endpoint-0a1b2c3d4e5f60002")


def explained(sql: str) -> str:
    statement = plan_statement(f"EXPLAIN {sql}", REGISTRY, Settings())
    assert isinstance(statement.action, Explain) and statement.calls == ()  # nothing to fetch
    return api_calls(statement.action.statement, lambda s: plan_statement(s, REGISTRY, Settings()))


def test_a_wide_fan_out_lists_every_call_with_its_params_and_filters() -> None:
    regions = ("us-east-1", "eu-west-1", "ap-south-1", "sa-east-1")
    text = explained(
        f"SELECT * FROM {CONNS} WHERE region IN {regions} AND ClientVpnEndpointId IN {EPS} "
        "AND username = 'alice' LIMIT 5"
    )
    assert text.count("\ncall ") + text.startswith("call ") == 8
    assert (
        "params:    region = 'us-east-1', ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60002'"
        in (text)
    )
    assert "fills in:  account from the configuration" in text
    assert "filter:    username IN ('alice'), pushed down to the API" in text
    assert "limit:     stops paging after 5 rows" in text
    assert "8 call(s) on aws.ec2_api.client_vpn_connections" in text


def test_what_is_discovered_and_what_a_delete_then_does() -> None:
    text = explained(f"DELETE FROM {CONNS} WHERE region = 'us-east-1' AND clientIp LIKE '10.%'")
    assert "discovers: ClientVpnEndpointId, listed first by an API call" in text
    assert "after 1 listing call(s) that discover ClientVpnEndpointId" in text
    assert "then client_vpn_connections_Terminate once per selected connection" in text


def test_subqueries_and_views_are_explained_too() -> None:
    text = explained(
        f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId IN (SELECT clientVpnEndpointId "
        "FROM aws.ec2_api.client_vpn_endpoints WHERE region = 'eu-west-1') AND region = 'eu-west-1'"
    )
    assert text.startswith("first, the subquery whose values a param takes")
    assert "call 1: aws.ec2_api.client_vpn_endpoints\n  params:    region = 'eu-west-1'" in text
    view = explained("SELECT * FROM vpn.client_connections WHERE region = 'eu-central-1'")
    assert "alibaba.vpc.ssl_vpn_clients (for vpn.client_connections)" in view
    assert "call 2: aws.ec2_api.client_vpn_connections (for vpn.client_connections)" in view


def test_explain_analyze_of_a_delete_is_refused() -> None:
    with pytest.raises(UnsupportedStatementError, match="terminate"):
        plan_statement(
            f"EXPLAIN ANALYZE DELETE FROM {CONNS} WHERE region = 'us-east-1'", REGISTRY, Settings()
        )
    assert plan_statement("EXPLAIN (FORMAT json) SELECT 1", REGISTRY, Settings()).action is None


def test_explain_makes_no_api_call_and_analyze_makes_them(session: Session) -> None:
    sql = f"SELECT count(*) FROM {CONNS} WHERE region = 'us-east-1' "
    sql += f"AND ClientVpnEndpointId = '{EPS[0]}'"
    rows = dict(session.sql(f"EXPLAIN {sql}").fetchall())
    assert session.last_stats.calls == 0
    assert "call 1: aws.ec2_api.client_vpn_connections" in rows["api_calls"]
    assert "Seq Scan" in rows["physical_plan"] and "Empty Result" not in rows["physical_plan"]
    analyzed = dict(session.sql(f"EXPLAIN ANALYZE {sql}").fetchall())
    assert session.last_stats.calls == 1
    assert analyzed["api_calls_made"].startswith("made 1 API call(s), 1 page(s), 180 row(s)")
    assert "analyzed_plan" in analyzed


def test_the_cli_prints_the_plan_as_text(aws_env: Any) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", "-e",
         f"EXPLAIN DELETE FROM {CONNS} WHERE region = 'us-east-1'"],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("api_calls:\ncall 1: aws.ec2_api.client_vpn_connections\n")
    assert "╭─" in result.stdout and "\\n" not in result.stdout  # the plan's lines, as lines
