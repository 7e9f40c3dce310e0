"""EXEC, SHOW and DESCRIBE parsing with literal text: arguments, defaults and errors."""

from __future__ import annotations

import os

import pytest

from vpnsql.commands import Describe, Exec, Show, parse_command
from vpnsql.errors import ParamError, SqlSyntaxError, UnknownTableError
from vpnsql.planner import Delete, plan_statement
from vpnsql.registry import Registry
from vpnsql.tables import Settings
from vpnsql_providers.aws import PROVIDER

REGISTRY = Registry([PROVIDER])
TERMINATE = "EXEC aws.ec2_api.client_vpn_connections.client_vpn_connections_Terminate"
EP = "cvpn-endpoint-0a1b2c3d4e5f60001"


@pytest.fixture(autouse=True)
def no_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)


def parse(text: str) -> object:
    return parse_command(text, REGISTRY, Settings())


def test_exec_reads_arguments_by_canonical_name() -> None:
    command = parse(
        f"{TERMINATE} @clientvpnendpointid='{EP}', @REGION = 'us-east-1', "
        "@ConnectionId='cvpn-connection-0123', @DryRun=true"
    )
    assert isinstance(command, Exec)
    assert command.method.name == "client_vpn_connections_Terminate"
    assert command.args == {
        "account": "default",  # the only account, filled in
        "ClientVpnEndpointId": EP,
        "region": "us-east-1",
        "ConnectionId": "cvpn-connection-0123",
        "DryRun": True,
    }


def test_exec_region_falls_back_to_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    command = parse(f"{TERMINATE} @ClientVpnEndpointId='{EP}', @Username='alice'")
    assert isinstance(command, Exec)
    assert command.args["region"] == "eu-west-1"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (f"@ClientVpnEndpointId='{EP}', @region='us-east-1'", "ConnectionId or @Username"),
        ("@region='us-east-1', @Username='a'", "needs @ClientVpnEndpointId"),
        (f"@ClientVpnEndpointId='{EP}', @Username='a'", "needs @region"),
        (f"@ClientVpnEndpointId='{EP}', @region='us-east-1', @User='a'", "takes no @User"),
        ("@ClientVpnEndpointId='x', @region='us-east-1', @Username='a'", "not a valid"),
        (f"@ClientVpnEndpointId='{EP}', @region='us-east-1', @Username=5", "string literal"),
        (f"@ClientVpnEndpointId='{EP}', @region='us-east-1', @Username='a', @DryRun='yes'",
         "true or false"),
        (f"@ClientVpnEndpointId='{EP}', @region='us-east-1', @username='a', @Username='b'",
         "given twice"),
    ],
)  # fmt: skip
def test_exec_argument_errors_come_before_any_call(arguments: str, message: str) -> None:
    with pytest.raises(ParamError, match=message):
        parse(f"{TERMINATE} {arguments}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{TERMINATE} @ClientVpnEndpointId='{EP}' @region='x'", "column 1.*expected ','"),
        (f"{TERMINATE} @ClientVpnEndpointId '{EP}'", "expected '='"),
        (f"{TERMINATE} @ClientVpnEndpointId=", "end of statement"),
        (f"{TERMINATE} @ClientVpnEndpointId=region", "expected a literal"),
        ("EXEC aws.ec2_api.client_vpn_connections", "provider.service.resource.method"),
    ],
)
def test_malformed_exec_is_a_positioned_syntax_error(text: str, message: str) -> None:
    with pytest.raises(SqlSyntaxError, match=message):
        parse(text)


def test_exec_of_an_unknown_method_lists_the_methods() -> None:
    with pytest.raises(UnknownTableError) as caught:
        parse("EXEC aws.ec2_api.client_vpn_connections.nope @a='b'")
    assert "client_vpn_connections_Terminate" in (caught.value.hint or "")


def test_show_forms() -> None:
    assert parse("SHOW PROVIDERS") == Show("PROVIDERS")
    assert parse("show services in aws like 'ec2%'") == Show("SERVICES", ("aws",), "ec2%")
    assert parse("SHOW RESOURCES IN aws.ec2_api") == Show("RESOURCES", ("aws", "ec2_api"))
    assert parse("SHOW METHODS IN aws.ec2_api.client_vpn_connections") == Show(
        "METHODS", ("aws", "ec2_api", "client_vpn_connections")
    )


def test_show_without_in_lists_everything() -> None:
    assert parse("SHOW RESOURCES") == Show("RESOURCES")
    assert parse("show services like 'ec2%'") == Show("SERVICES", (), "ec2%")
    assert parse("SHOW METHODS") == Show("METHODS")
    assert parse("SHOW TABLES") == Show("TABLES")
    assert parse("SHOW TABLES LIKE '%vpn%'") == Show("TABLES", (), "%vpn%")
    assert parse("SHOW TABLES FROM memory") is None  # DuckDB's own


def test_show_errors() -> None:
    with pytest.raises(SqlSyntaxError, match=r"like aws\.ec2_api"):
        parse("SHOW RESOURCES IN aws")
    with pytest.raises(UnknownTableError, match="unknown provider gcp"):
        parse("SHOW SERVICES IN gcp")
    with pytest.raises(UnknownTableError, match="unknown service"):
        parse("SHOW RESOURCES IN aws.s3")


def test_describe_of_a_virtual_table_but_not_of_duckdb_objects() -> None:
    command = parse("DESCRIBE EXTENDED aws.ec2_api.client_vpn_connections")
    assert isinstance(command, Describe) and command.extended
    assert parse("DESC aws.ec2_api.client_vpn_endpoints") == Describe(
        REGISTRY.table("aws.ec2_api.client_vpn_endpoints")
    )
    assert parse("DESCRIBE SELECT 1") is None


def test_delete_plans_the_select_of_the_same_rows() -> None:
    statement = plan_statement(
        "DELETE FROM aws.ec2_api.client_vpn_connections c "
        f"WHERE c.ClientVpnEndpointId = '{EP}' AND region IN ('us-east-1', 'eu-west-1') "
        "AND clientIp LIKE '10.0.%'",
        REGISTRY,
        Settings(),
    )
    assert isinstance(statement.action, Delete)
    assert statement.action.method.name == "client_vpn_connections_Terminate"
    assert "LIKE '10.0.%'" in statement.action.select.text
    assert len(statement.calls) == 2


def test_delete_fills_in_like_a_select_and_needs_a_method() -> None:
    planned = plan_statement(
        f"DELETE FROM aws.ec2_api.client_vpn_connections WHERE ClientVpnEndpointId = '{EP}'",
        REGISTRY,
        Settings(),
    )
    [call] = planned.calls
    assert dict(call.params) == {"ClientVpnEndpointId": EP}
    assert [p.name for p in call.discover] == ["account", "region"]
    with pytest.raises(Exception, match="read-only"):
        plan_statement(
            "DELETE FROM aws.ec2_api.client_vpn_endpoints WHERE region = 'us-east-1'",
            REGISTRY,
            Settings(),
        )
