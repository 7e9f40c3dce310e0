"""SELECT over azure.network.*: the real Azure SDKs over HTTPS to the sandbox's Azure azure."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from vpnsql.errors import ProviderError, VpnsqlError
from vpnsql.fetch import FetchFailed
from vpnsql.sandbox.azure import DEMO_GATEWAYS, DEMO_SUBSCRIPTIONS, Emulator
from vpnsql.session import Session

CONNECTIONS = "azure.network.vpn_client_connections"
GATEWAYS = "azure.network.virtual_network_gateways"
HEALTH = "GetVpnclientConnectionHealth"


def failure(session: Session, sql: str) -> ProviderError:
    """The one failed call of a statement (its discovery calls are calls too)."""
    with pytest.raises((ProviderError, FetchFailed)) as caught:
        session.sql(sql)
    if isinstance(caught.value, FetchFailed):
        [only] = caught.value.failures
        return only.error
    return caught.value


def rows(session: Session, sql: str) -> list[dict[str, Any]]:
    relation = session.sql(sql)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def test_values_are_typed_and_the_public_port_split_off(
    session: Session, azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    name = gateway()
    azure.seed_clients(subscription, "rg-test", name, clients=[{
        "vpnConnectionId": "IKEv2_1e1cfe59-5c7c-4315-a876-b11fbfdfeed4",
        "vpnConnectionDuration": 900, "vpnConnectionTime": "2019-05-02T22:26:22",
        "publicIpAddress": "167.220.2.232:45522", "privateIpAddress": "192.168.210.2",
        "vpnUserName": "gwp2schildcert", "maxBandwidth": 240000000,
        "egressPacketsTransferred": 557, "egressBytesTransferred": 12_345_678_901,
        "ingressPacketsTransferred": 558, "ingressBytesTransferred": 33420,
        "maxPacketsPerSecond": 4,
    }])  # fmt: skip
    [row] = rows(session, f"SELECT * FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}'")
    assert row == {
        "vpnConnectionId": "IKEv2_1e1cfe59-5c7c-4315-a876-b11fbfdfeed4",
        "vpnUserName": "gwp2schildcert", "publicIpAddress": "167.220.2.232:45522",
        "publicPort": 45522, "privateIpAddress": "192.168.210.2",
        "vpnConnectionTime": datetime(2019, 5, 2, 22, 26, 22), "vpnConnectionDuration": 900,
        "ingressBytesTransferred": 33420, "egressBytesTransferred": 12_345_678_901,
        "ingressPacketsTransferred": 558, "egressPacketsTransferred": 557,
        "maxBandwidth": 240000000, "maxPacketsPerSecond": 4,
        "account": f"test-{subscription[:8]}", "accountId": subscription,
        "subscriptionId": subscription, "location": "westeurope",
        "resourceGroupName": "rg-test", "virtualNetworkGatewayName": name,
    }  # fmt: skip
    types = session.sql(
        f"SELECT typeof(vpnConnectionTime), typeof(publicPort), typeof(egressBytesTransferred) "
        f"FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}'"
    ).fetchall()
    assert types == [("TIMESTAMP", "INTEGER", "BIGINT")]


def test_discovery_asks_every_p2s_gateway_and_no_other(
    session: Session, azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    weu = gateway(3, group="rg-a")
    eus = gateway(2, group="rg-b", location="eastus")
    other = gateway(1, group="rg-a", location="eastus")  # same group, another location
    s2s = gateway(group="rg-a", p2s=False)
    found = session.sql(
        f"SELECT location, resourceGroupName, virtualNetworkGatewayName, count(*) "
        f"FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}' GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert found == [
        ("eastus", "rg-a", other, 1), ("eastus", "rg-b", eus, 2), ("westeurope", "rg-a", weu, 3),
    ]  # fmt: skip
    assert [azure.calls(HEALTH, name) for name in (weu, eus, other, s2s)] == [1, 1, 1, 0]


def test_every_subscription_the_credential_sees_or_the_configured_one(
    session: Session, azure: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sql = f"SELECT DISTINCT subscriptionId FROM {CONNECTIONS} ORDER BY 1"
    before = azure.calls("ListSubscriptions")
    seen = {row[0] for row in session.sql(sql).fetchall()}
    assert set(DEMO_SUBSCRIPTIONS) <= seen
    assert azure.calls("ListSubscriptions") == before + 1
    production = next(iter(DEMO_SUBSCRIPTIONS))
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", production)
    assert Session().sql(sql).fetchall() == [(production,)]
    assert azure.calls("ListSubscriptions") == before + 1


def test_a_chain_of_polls_honours_retry_after_not_the_interval(
    session: Session, azure: Emulator, subscription: str, gateway: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("VPNSQL_AZURE_POLL_INTERVAL", "60")
    name = gateway(4, polls=3, retry_after=0.05)
    started = time.monotonic()
    count = session.sql(
        f"SELECT count(*) FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}'"
    )
    assert count.fetchall() == [(4,)]
    assert azure.calls("GetOperationStatus", name) == 3
    assert time.monotonic() - started < 30  # the 60 s interval was never waited


def test_without_retry_after_the_default_interval_is_short(
    session: Session, azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    """The SDK's own default is 30 s between polls: two polls would take a minute."""
    name = gateway(2, polls=2, retry_after=0)
    started = time.monotonic()
    count = session.sql(
        f"SELECT count(*) FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}'"
    )
    assert count.fetchall() == [(2,)]
    assert azure.calls("GetOperationStatus", name) == 2
    assert time.monotonic() - started < 25


def test_an_operation_past_its_deadline_is_an_error_naming_the_gateway(
    session: Session, subscription: str, gateway: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("VPNSQL_AZURE_OPERATION_TIMEOUT", "0.5")
    name = gateway(1, polls=10, retry_after=1)
    error = failure(session, f"SELECT * FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}'")
    assert error.code == "OperationTimedOut"
    assert subscription in error.message and name in error.message


def test_an_operation_that_ends_failed_is_an_error_and_the_others_still_answer(
    azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    good, bad = gateway(2), gateway(3)
    azure.inject("OperationFailed", action=HEALTH, gateway=bad)
    sql = (
        f"SELECT virtualNetworkGatewayName FROM {CONNECTIONS} "
        f"WHERE subscriptionId = '{subscription}'"
    )
    error = failure(Session(), sql)
    assert error.code == "VpnClientConnectionHealthFailed"
    assert bad in error.message and subscription in error.message
    azure.inject("OperationFailed", action=HEALTH, gateway=bad)
    partial = Session(allow_partial=True)
    assert {row[0] for row in partial.sql(sql).fetchall()} == {good}


def test_a_refused_token_is_an_error_naming_the_subscription(
    session: Session, azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    gateway(1)
    sql = f"SELECT count(*) FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}'"
    assert session.sql(sql).fetchall() == [(1,)]
    azure.revoke_tokens()  # the session still holds the token it was given
    error = failure(session, sql)
    assert error.code == "InvalidAuthenticationToken"
    assert f"subscription {subscription}" in error.message
    assert "AZURE_CLIENT_SECRET" in (error.hint or "")


def test_a_wrong_secret_is_entra_ids_own_error(
    azure: Emulator, subscription: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-the-secret")
    error = failure(
        Session(), f"SELECT * FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}'"
    )
    assert "AADSTS7000215" in error.message
    assert "not-the-secret" not in error.message + (error.hint or "")


def test_authorization_failed_names_the_gateway_and_the_permission(
    session: Session, azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    name = gateway(1)
    azure.inject("AuthorizationFailed", action=HEALTH, gateway=name)
    error = failure(session, f"SELECT * FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}'")
    assert error.code == "AuthorizationFailed"
    assert name in error.message and subscription in error.message
    assert "getVpnClientConnectionHealth/action" in (error.hint or "")


def test_throttling_with_retry_after_is_absorbed(
    session: Session, azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    name = gateway(5)
    azure.inject("TooManyRequests", count=2, action=HEALTH, gateway=name)
    sql = f"SELECT count(*) FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}'"
    assert session.sql(sql).fetchall() == [(5,)]
    assert azure.calls(HEALTH, name) == 3


def test_server_errors_on_post_are_retried_a_bounded_number_of_times(
    session: Session, azure: Emulator, subscription: str, gateway: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from vpnsql_providers.azure import client

    monkeypatch.setattr(client, "RETRY_BACKOFF", 0.01)
    name = gateway(2)
    azure.inject("InternalServerError", count=2, action=HEALTH, gateway=name)
    sql = f"SELECT count(*) FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}'"
    assert Session().sql(sql).fetchall() == [(2,)]
    azure.inject("ServiceUnavailable", count=50, action=HEALTH, gateway=name)
    before = azure.calls(HEALTH, name)
    error = failure(Session(), sql)
    assert error.code == "ServiceUnavailable"
    assert azure.calls(HEALTH, name) - before == client.RETRIES + 1


def test_a_gateway_named_nowhere_is_an_error_not_an_empty_answer(
    session: Session, subscription: str, gateway: Callable[..., str]
) -> None:
    gateway(1)
    error = failure(
        session,
        f"SELECT * FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}' "
        "AND virtualNetworkGatewayName = 'vgw-typo'",
    )
    assert error.code == "ResourceNotFound"
    assert "vgw-typo" in error.message


def test_a_gateway_named_in_the_wrong_location_answers_no_rows(
    session: Session, subscription: str, gateway: Callable[..., str]
) -> None:
    name = gateway(2)
    where = (
        f"subscriptionId = '{subscription}' AND resourceGroupName = 'rg-test' "
        f"AND virtualNetworkGatewayName = '{name}'"
    )
    count = f"SELECT count(*) FROM {CONNECTIONS} WHERE {where}"
    assert session.sql(f"{count} AND location = 'eastus'").fetchall() == [(0,)]
    assert session.sql(f"{count} AND location = 'westeurope'").fetchall() == [(2,)]


def test_gateways_of_a_subscription_across_pages(
    session: Session, azure: Emulator, subscription: str, gateway: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    names = sorted(gateway(group=f"rg-{i % 2}") for i in range(5))
    s2s = gateway(group="rg-0", p2s=False)
    monkeypatch.setattr(azure, "page_size", 2)  # nextLink pages, each needing api-version
    found = rows(session, f"SELECT * FROM {GATEWAYS} WHERE subscriptionId = '{subscription}'")
    assert sorted(r["name"] for r in found) == sorted([*names, s2s])
    by_name = {r["name"]: r for r in found}
    assert by_name[s2s]["pointToSite"] is False and by_name[s2s]["vpnClientProtocols"] is None
    first = by_name[names[0]]
    assert (first["gatewayType"], first["sku"], first["pointToSite"]) == ("Vpn", "VpnGw2AZ", True)
    assert first["vpnClientProtocols"] == ["OpenVPN", "IkeV2"]
    assert first["vpnClientAddressPool"][0].endswith("/24")
    assert first["id"].endswith(f"/virtualNetworkGateways/{names[0]}")


def test_the_demo_is_what_the_docs_say(session: Session) -> None:
    counts = dict(
        session.sql(
            f"SELECT virtualNetworkGatewayName, count(*) FROM {CONNECTIONS} "
            f"WHERE subscriptionId IN ({', '.join(repr(s) for s in DEMO_SUBSCRIPTIONS)}) "
            "GROUP BY ALL"
        ).fetchall()
    )
    assert counts == {g.name: g.clients for g in DEMO_GATEWAYS if g.p2s}
    prefixes = session.sql(
        f"SELECT DISTINCT split_part(vpnConnectionId, '_', 1) FROM {CONNECTIONS} ORDER BY 1"
    ).fetchall()
    assert prefixes == [("IKEv2",), ("OVPN",)]


def test_a_location_azure_does_not_have_is_an_error_not_zero_rows(
    session: Session, subscription: str, gateway: Callable[..., str]
) -> None:
    """A real location without gateways is no rows; a typo is an error with the nearest."""
    gateway(2)
    where = f"subscriptionId = '{subscription}'"
    assert (
        rows(session, f"SELECT * FROM {CONNECTIONS} WHERE {where} AND location = 'japaneast'") == []
    )
    with pytest.raises(VpnsqlError, match="'westeurop' is not a location of Azure") as caught:
        session.sql(f"SELECT * FROM {CONNECTIONS} WHERE {where} AND location = 'westeurop'")
    assert "westeurope" in (caught.value.hint or "")


def test_the_view_with_a_region_no_cloud_has_is_an_error(session: Session) -> None:
    with pytest.raises(VpnsqlError, match="mars"):
        session.sql("SELECT * FROM vpn.client_connections WHERE region = 'mars'")


def test_a_next_link_answered_twice_ends_the_paging_with_an_error() -> None:
    """azure-core's pager follows nextLink for ever; vpnsql stops at the repeat."""
    from azure.core.paging import ItemPaged

    from vpnsql.answers import Answers

    pager = ItemPaged(lambda token: token, lambda token: ("next-1", [token or "first"]))
    answers = Answers(None, "resources list", "", provider="azure")
    with pytest.raises(ProviderError, match="repeated an earlier NextToken") as caught:
        list(answers.follow(pager))
    assert caught.value.code == "EndlessPaging"
