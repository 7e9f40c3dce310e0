"""Ending Azure P2S sessions: EXEC and DELETE on the table, and DELETE on the cross-cloud view,
against the sandbox over HTTPS with the real SDKs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from vpnsql.errors import Cancelled, ConfirmationRequired, ParamError
from vpnsql.sandbox.azure import Emulator
from vpnsql.session import Session
from vpnsql.statements import Preview
from vpnsql.tables import Settings
from vpnsql_providers.azure.network import DRY_RUN_MESSAGE

CONNECTIONS = "azure.network.vpn_client_connections"
DISCONNECT = f"EXEC {CONNECTIONS}.vpn_client_connections_Disconnect"
CALL = "DisconnectVirtualNetworkGatewayVpnConnections"


def connected(session: Session, subscription: str) -> dict[str, str]:
    """vpnConnectionId -> vpnUserName of everyone connected in the subscription."""
    return dict(
        session.sql(
            f"SELECT vpnConnectionId, vpnUserName FROM {CONNECTIONS} "
            f"WHERE subscriptionId = '{subscription}'"
        ).fetchall()
    )


def exec_args(subscription: str, name: str, ids: str) -> str:
    return (
        f"{DISCONNECT} @subscriptionId = '{subscription}', @resourceGroupName = 'rg-test', "
        f"@virtualNetworkGatewayName = '{name}', @vpnConnectionIds = '{ids}'"
    )


def test_exec_disconnects_exactly_the_ids_given(
    session: Session, azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    name = gateway(4)
    first, second, *others = sorted(connected(session, subscription))
    rows = session.sql(exec_args(subscription, name, f"{first}, {second},{first}")).fetchall()
    assert rows == [
        (subscription, "rg-test", name, first, None, "disconnected", None),
        (subscription, "rg-test", name, second, None, "disconnected", None),
    ]
    assert sorted(connected(session, subscription)) == others
    assert azure.calls(CALL, name) == 1 and session.last_failed == 0


def test_exec_needs_ids_and_checks_them_before_any_call(
    session: Session, azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    name = gateway(1)
    with pytest.raises(ParamError, match="needs @vpnConnectionIds"):
        session.sql(
            f"{DISCONNECT} @subscriptionId = '{subscription}', @resourceGroupName = 'rg-test', "
            f"@virtualNetworkGatewayName = '{name}'"
        )
    with pytest.raises(ParamError, match="none empty"):
        session.sql(exec_args(subscription, name, "OVPN_1,,OVPN_2"))
    assert azure.calls(CALL, name) == 0


@pytest.mark.parametrize("how", ["argument", "setting"])
def test_a_dry_run_checks_the_gateway_and_disconnects_nothing(
    aws_env: Any, azure: Emulator, subscription: str, gateway: Callable[..., str], how: str
) -> None:
    session = Session(settings=Settings(dry_run=how == "setting"))
    name = gateway(2)
    before = connected(session, subscription)
    flag = ", @DryRun = true" if how == "argument" else ""
    rows = session.sql(exec_args(subscription, name, next(iter(before))) + flag).fetchall()
    assert rows[0][-1] == DRY_RUN_MESSAGE and rows[0][-2] is None
    assert connected(session, subscription) == before and azure.calls(CALL, name) == 0
    with pytest.raises(Exception, match="ResourceNotFound"):
        session.sql(exec_args(subscription, "vgw-missing", "OVPN_1") + flag)


def test_delete_disconnects_the_selected_sessions_and_says_whose(
    aws_env: Any, azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    name = gateway(6)
    session = Session(confirm=lambda preview: True)
    users = connected(session, subscription)
    targets = {cid for cid, user in users.items() if cid.startswith("OVPN_")}
    assert targets and len(targets) < len(users)
    rows = session.sql(
        f"DELETE FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}' "
        "AND vpnConnectionId LIKE 'OVPN_%'"
    ).fetchall()
    assert {row[3] for row in rows} == targets
    assert all(row[4] == users[row[3]] and row[5:] == ("disconnected", None) for row in rows)
    assert set(connected(session, subscription)) == set(users) - targets
    assert azure.calls(CALL, name) == len(targets)  # one call per target


def test_delete_of_several_needs_confirmation_and_calls_nothing_without_it(
    session: Session, azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    name = gateway(3)
    with pytest.raises(ConfirmationRequired, match="would terminate 3 connections"):
        session.sql(f"DELETE FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}'")
    assert azure.calls(CALL, name) == 0 and len(connected(session, subscription)) == 3


VIEW = "vpn.client_connections"


def test_the_view_maps_azure_rows_by_the_assumed_direction(
    session: Session, azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    name = gateway()
    azure.seed_clients(subscription, "rg-test", name, clients=[{
        "vpnConnectionId": "OVPN_9d3c2b1a-0000-4000-8000-000000000001",
        "vpnUserName": "zoe@contoso.com", "vpnConnectionTime": "2026-11-24T01:02:03",
        "publicIpAddress": "203.0.113.7:50123", "privateIpAddress": "172.16.9.2",
        "ingressBytesTransferred": 111, "egressBytesTransferred": 222,
    }])  # fmt: skip
    relation = session.sql(f"SELECT * FROM {VIEW} WHERE endpointId = '{name}'")
    [row] = [dict(zip(relation.columns, r, strict=True)) for r in relation.fetchall()]
    from datetime import datetime

    assert row == {
        "provider": "azure", "account": f"test-{subscription[:8]}", "accountId": subscription,
        "region": "westeurope", "endpointId": name,
        "connectionId": "OVPN_9d3c2b1a-0000-4000-8000-000000000001",
        "identity": "zoe@contoso.com", "privateIp": "172.16.9.2", "publicIp": "203.0.113.7",
        "status": "active", "connectedAt": datetime(2026, 11, 24, 1, 2, 3), "endedAt": None,
        "bytesFromClient": 111, "bytesToClient": 222,
    }  # fmt: skip


def test_provider_aws_makes_no_azure_call(session: Session, azure: Emulator) -> None:
    before = azure.total_calls()
    count = session.sql(f"SELECT count(*) FROM {VIEW} WHERE provider = 'aws'").fetchall()
    assert count[0][0] > 0
    assert azure.total_calls() == before


def test_a_view_delete_ends_sessions_on_each_cloud_and_names_the_untermnable(
    aws_env: Any, azure: Emulator, subscription: str, gateway: Callable[..., str],
    new_endpoint: Callable[..., str],
) -> None:  # fmt: skip
    name = gateway()
    azure.seed_clients(subscription, "rg-test", name, clients=[
        {"vpnConnectionId": "OVPN_9d3c2b1a-0000-4000-8000-0000000000b1", "vpnUserName": "bob"},
        {"vpnConnectionId": "OVPN_9d3c2b1a-0000-4000-8000-0000000000b2", "vpnUserName": "eve"},
    ])  # fmt: skip
    endpoint = new_endpoint(connections=[{"Username": "bob"}, {"Username": "eve"}])
    alibaba = aws_env.alibaba.emulator.seed_clients(
        "cn-hangzhou", None, clients=[{"CommonName": "bob", "Status": "online"}]
    )
    where = (
        f"identity = 'bob' AND endpointId IN ('{name}', '{endpoint}', '{alibaba}') "
        "AND region IN ('westeurope', 'us-east-1', 'cn-hangzhou')"
    )
    seen: list[Preview] = []

    def refuse(preview: Preview) -> bool:
        seen.append(preview)
        return False

    with pytest.raises(Cancelled):
        Session(confirm=refuse).sql(f"DELETE FROM {VIEW} WHERE {where}")
    assert seen[0].count == 2 and {r["identity"] for r in seen[0].rows} == {"bob"}
    assert {r["provider"] for r in seen[0].rows} == {"aws", "azure"}  # whose, on which cloud
    assert azure.calls(CALL, name) == 0

    session = Session(confirm=lambda preview: True)
    relation = session.sql(f"DELETE FROM {VIEW} WHERE {where}")
    outcome = {row[0]: row for row in relation.fetchall()}
    assert set(outcome) == {"aws", "azure", "alibaba"}
    assert outcome["azure"][4:7] == ("OVPN_9d3c2b1a-0000-4000-8000-0000000000b1", "bob",
                                     "disconnected")  # fmt: skip
    assert outcome["aws"][5:7] == ("bob", "terminating") and outcome["aws"][7] is None
    assert outcome["alibaba"][7].startswith("not terminable")
    assert session.last_failed == 1  # the Alibaba session is not silently skipped
    left = session.sql(f"SELECT provider, identity FROM {VIEW} WHERE {where} AND status = 'active'")
    assert sorted(left.fetchall()) == [("alibaba", "bob")]
    assert set(connected(session, subscription).values()) == {"eve"}
