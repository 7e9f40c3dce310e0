"""Hints for DuckDB's errors about virtual tables: unit tests on DuckDB's own messages, and
the shell and CLI over HTTP to the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from vpnsql.errors import QueryError
from vpnsql.hints import explain
from vpnsql.registry import Registry
from vpnsql.session import Session

REGISTRY = Registry.discover()
CONNS = REGISTRY.table("aws.ec2_api.client_vpn_connections")
ENDPOINTS = REGISTRY.table("aws.ec2_api.client_vpn_endpoints")
DEMO = "WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001' AND region = 'us-east-1'"


@pytest.mark.parametrize(
    ("short", "expected"),
    [
        ("client_vpn_connections", "aws.ec2_api.client_vpn_connections"),
        ("ec2_api.client_vpn_endpoints", "aws.ec2_api.client_vpn_endpoints"),
        ("ssl_vpn_client", "alibaba.vpc.ssl_vpn_clients"),  # close, not exact
        ("CLIENT_CONNECTIONS", "vpn.client_connections"),
    ],
)
def test_a_short_table_name_suggests_the_full_virtual_names(
    session: Session, short: str, expected: str
) -> None:
    with pytest.raises(QueryError) as caught:
        session.sql(f"SELECT * FROM {short}")
    assert expected in (caught.value.hint or "")
    assert "sqlite_temp_schema" not in caught.value.message  # DuckDB's guess is dropped


def test_a_table_of_nobody_gets_no_virtual_suggestion(session: Session) -> None:
    with pytest.raises(QueryError) as caught:
        session.sql("SELECT * FROM payroll")
    assert caught.value.hint is None


@pytest.mark.parametrize(
    ("where", "needle"),
    [
        ("status = 'active'", "status is STRUCT(code VARCHAR, message VARCHAR) in "
         "aws.ec2_api.client_vpn_connections: use one of its fields, e.g. status.code = 'active'"),
        ("status IN ('active', 'terminated')", "e.g. status.code = 'active'"),
        ("status LIKE 'act%'", "e.g. status.code"),
        ("lower(status) = 'x'", "e.g. status.code"),
        ("postureComplianceStatusSet = 'compliant'",
         "list_contains(postureComplianceStatusSet, 'compliant')"),
        ("connectionEstablishedTime > 'yesterday'", "connectionEstablishedTime is TIMESTAMP"),
        ("ingressBytes > '1GB'", "ingressBytes is BIGINT"),
    ],
)  # fmt: skip
def test_duckdb_errors_about_a_columns_type_get_a_hint_from_the_declaration(
    session: Session, where: str, needle: str
) -> None:
    with pytest.raises(QueryError) as caught:
        session.sql(f"SELECT * FROM {CONNS.name} {DEMO} AND {where}")
    assert needle in (caught.value.hint or ""), caught.value.message


def test_the_column_nearest_duckdbs_caret_is_the_one_hinted() -> None:
    statement = (
        f"SELECT * FROM {CONNS.name} WHERE ingressBytes > 5 AND connectionEstablishedTime > 'x'"
    )
    message = (
        'Conversion Error: invalid timestamp field format: "x", expected format is (...)\n\n'
        "LINE 1: ...WHERE ingressBytes > 5 AND connectionEstablishedTime > 'x'\n"
        "                                                              ^^^"
    )
    found = explain(message, statement, [CONNS], REGISTRY)
    assert found.hint is not None and found.hint.startswith("connectionEstablishedTime is")
    # one hint for a column two tables share, naming both
    shared = explain(
        "Conversion Error: Type VARCHAR with value 'a' can't be cast to the destination type "
        "STRUCT(code VARCHAR, message VARCHAR)",
        "SELECT * FROM x WHERE e.status = 'a'",
        [CONNS, ENDPOINTS],
        REGISTRY,
    )
    assert shared.hint == (
        "status is STRUCT(code VARCHAR, message VARCHAR) in aws.ec2_api.client_vpn_connections "
        "and aws.ec2_api.client_vpn_endpoints: use one of its fields, e.g. status.code = 'a'"
    )


def test_the_cli_prints_the_hint(aws_env: Any) -> None:
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", "-e",
         f"SELECT * FROM {CONNS.name} {DEMO} AND status = 'active'"],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "hint: status is STRUCT" in result.stderr and "status.code = 'active'" in result.stderr
