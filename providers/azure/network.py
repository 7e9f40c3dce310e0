"""azure.network: VPN gateways, and the point-to-site (P2S) clients connected to them.

Reads top to bottom: the shared params and their discovery, each table's declaration and
fetch function, the disconnect method, the view branch, then the typing helpers.

Listing every gateway of a subscription needs no resource group from the user:
azure-mgmt-network lists gateways per resource group only, so the resources list of the
subscription filtered by type (`resourceType eq 'Microsoft.Network/virtualNetworkGateways'`,
one call, paged) says which resource groups and locations hold gateways, and
`virtual_network_gateways.list(group)` then gives their properties (whether P2S is on).

The health call (getVpnclientConnectionHealth) is a long-running operation: ARM answers 202
and is polled, honouring its Retry-After, for as long as Azure takes (often many seconds).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from vpnsql import accounts
from vpnsql.answers import Answers
from vpnsql.errors import ParamError, ProviderError
from vpnsql.tables import (
    Column,
    FetchRequest,
    Method,
    MethodCall,
    Param,
    Row,
    Table,
    ViewBranch,
)
from vpnsql.views import CLIENT_CONNECTIONS as CLIENT_CONNECTIONS_VIEW
from vpnsql_providers.azure.client import (
    bounded_polling,
    network,
    resources,
    subscription_client,
    translated_errors,
)
from vpnsql_providers.azure.estate import (
    SUBSCRIPTION_ID,
    discover_accounts,
    resolve_accounts,
    subscription,
)

GATEWAY_TYPE = "Microsoft.Network/virtualNetworkGateways"
DRY_RUN_MESSAGE = "dry run: the gateway exists; Azure has no dry run, so nothing was disconnected"


ACCOUNT, _ACCOUNT_ID = accounts.params(
    resolve_accounts, discover_accounts, SUBSCRIPTION_ID, "3f2a8b1c-4d5e-4f60-8a7b-9c0d1e2f3a01"
)
ACCOUNT_ID = replace(
    _ACCOUNT_ID,
    description="Only these subscriptions are asked (subscriptionId is the same column).",
    aliases=("subscriptionId",),
)
ACCOUNT_COLUMNS = (
    *accounts.columns("The subscription ID."),
    Column("subscriptionId", "VARCHAR", "The subscription ID, under the API's name."),
)


def _paged(pager: Any, what: str, subscription_id: str) -> Iterator[Any]:
    """An SDK pager's items, guarded against paging without end (vpnsql.answers)."""
    where = f"subscription {subscription_id}"
    return Answers(VIRTUAL_NETWORK_GATEWAYS, what, "", account=where).follow(pager)


UNKNOWN_LOCATION = "LocationNotFound"
"""vpnsql's code for a location the subscription's locations list does not have."""


def _account_values(request: FetchRequest) -> Row:
    """The values of ACCOUNT_COLUMNS for a request's rows."""
    subscription_id = subscription(request)
    return {
        "account": request.params["account"],
        "accountId": subscription_id,
        "subscriptionId": subscription_id,
    }


def _inventory(subscription_id: str, request: FetchRequest) -> list[tuple[str, str, str]]:
    """(resource group, gateway name, location) of every gateway of the subscription, as the
    resources list spells them, narrowed to the resource group and name the request names.

    When nothing here has that name, every gateway is kept: the calls then ask for the named
    one where it is not, and their "not found" counts as no rows only if the name answered
    elsewhere (Param.absent), so a name found nowhere is an error, not an empty answer."""
    client = resources(subscription_id, request.settings)
    with translated_errors(subscription_id, "listing virtual network gateways"):
        found = [
            (parts[4], parts[8], str(resource.location))
            for resource in _paged(
                client.resources.list(filter=f"resourceType eq '{GATEWAY_TYPE}'"),
                "resources list",
                subscription_id,
            )
            if len(parts := str(resource.id).split("/")) > 8
        ]
    wanted = {
        index: request.params[name].lower()
        for index, name in ((0, "resourceGroupName"), (1, "virtualNetworkGatewayName"))
        if name in request.params
    }
    matching = [entry for entry in found if all(entry[i].lower() == v for i, v in wanted.items())]
    return matching or found


def discover_locations(request: FetchRequest) -> list[str]:
    """The locations that hold a gateway of the subscription."""
    inventory = _inventory(subscription(request), request)
    return sorted({location for _, _, location in inventory})


def discover_resource_groups(request: FetchRequest) -> list[str]:
    """The resource groups that hold a gateway in the location. None there is no rows, unless
    the subscription has no such location at all: then it is an error, never zero rows (the
    view asks Azure only for locations another cloud did not answer for)."""
    location = request.params["location"].lower()
    subscription_id = subscription(request)
    inventory = _inventory(subscription_id, request)
    groups = {group.lower(): group for group, _, where in inventory if where.lower() == location}
    if not groups:
        _check_location(subscription_id, location, request)
    return sorted(groups.values())


def _check_location(subscription_id: str, location: str, request: FetchRequest) -> None:
    """subscriptions:locations (once per subscription): a location Azure does not have."""
    key = ("azure.locations", subscription_id)
    known = request.settings.state.get(key)
    if known is None:
        client = subscription_client(request.settings)
        with translated_errors(subscription_id, "listing locations"):
            known = request.settings.state[key] = [
                str(item.name)
                for item in _paged(
                    client.subscriptions.list_locations(subscription_id),
                    "locations list",
                    subscription_id,
                )
            ]
    if location in known:
        return
    close = difflib.get_close_matches(location, known, n=3, cutoff=0.6)
    raise ProviderError(
        f"'{location}' is not a location of Azure",
        provider="azure",
        code=UNKNOWN_LOCATION,
        account=f"subscription {subscription_id}",
        region=location,
        hint=f"nearest: {', '.join(close)}" if close else f"locations: {', '.join(known)}",
    )


def discover_gateways(request: FetchRequest) -> list[str]:
    """The resource group's gateways in the location that have point-to-site configured."""
    subscription_id, group = subscription(request), request.params["resourceGroupName"]
    client = network(subscription_id, request.settings)
    with translated_errors(subscription_id, f"resource group {group}"):
        gateways = list(
            _paged(client.virtual_network_gateways.list(group), "gateways list", subscription_id)
        )
    location = request.params["location"].lower()
    return [
        str(gateway.get("name"))
        for gateway in gateways
        if str(gateway.get("location", "")).lower() == location
        and _point_to_site(gateway.get("properties") or {})
        and (gateway.get("properties") or {}).get("provisioningState") != "Deleting"
    ]


LOCATION = Param(
    "location",
    "The Azure location (region) of the gateway, e.g. westeurope; when the WHERE clause "
    "names none, every location that holds a gateway of the subscription.",
    required=True,
    pattern=r"[a-z][a-z0-9]*",
    example="westeurope",
    absent=frozenset({UNKNOWN_LOCATION}),
    discover=discover_locations,
)
RESOURCE_GROUP = Param(
    "resourceGroupName",
    "The resource group of the gateway; when the WHERE clause names none, every resource "
    "group that holds a gateway in the location.",
    required=True,
    pattern=r"[-\w.()]{0,89}[-\w()]",
    example="rg-network-weu",
    absent=frozenset({"ResourceGroupNotFound"}),
    discover=discover_resource_groups,
)
GATEWAY_NAME = Param(
    "virtualNetworkGatewayName",
    "The name of the virtual network gateway; when the WHERE clause names none, every "
    "gateway of the resource group with point-to-site configured.",
    required=True,
    pattern=r"[A-Za-z0-9]([-\w.]{0,78}\w)?",
    example="vgw-weu-p2s",
    absent=frozenset({"ResourceNotFound"}),
    discover=discover_gateways,
)
GATEWAY_COLUMNS = (
    Column("location", "VARCHAR", "The Azure location (region) of the gateway."),
    Column("resourceGroupName", "VARCHAR", "The resource group of the gateway."),
    Column("virtualNetworkGatewayName", "VARCHAR", "The name of the virtual network gateway."),
)


def fetch_vpn_client_connections(request: FetchRequest) -> Iterator[list[Row]]:
    """getVpnclientConnectionHealth for one gateway: its connected P2S clients (one answer,
    no paging). The gateway's GET runs while the operation is polled: a gateway in another
    location than the one asked has no clients there (no rows, not mislabelled ones)."""
    subscription_id = subscription(request)
    group = request.params["resourceGroupName"]
    name = request.params["virtualNetworkGatewayName"]
    what = f"gateway {group}/{name}"
    operations = network(subscription_id, request.settings).virtual_network_gateways
    with translated_errors(subscription_id, what):
        poller = operations.begin_get_vpnclient_connection_health(
            group, name, polling=bounded_polling(f"the health call of {what}", request.settings)
        )
        gateway = operations.get(group, name)
        result = poller.result()
    items = result.get("value") if result is not None else None
    if items is None:
        raise ProviderError(
            "the health answer carries no list of connections",
            provider="azure",
            code="IncompleteAnswer",
            target=f"subscription {subscription_id}, {what}",
        )
    location = str(gateway.get("location"))
    if location.lower() != request.params["location"].lower():
        yield []  # the gateway is elsewhere: this location has none of its clients
        return
    base = {
        **_account_values(request),
        "location": request.params["location"],
        "resourceGroupName": group,
        "virtualNetworkGatewayName": name,
    }
    yield [
        _connection(dict(item), base, f"subscription {subscription_id}, {what}") for item in items
    ]


def _connection(record: dict[str, Any], base: Row, where: str) -> Row:
    port = split_address(record.get("publicIpAddress"))[1]
    numbers = {
        name: _number(record.get(name), name, where)
        for name in (
            "vpnConnectionDuration",
            "ingressBytesTransferred",
            "egressBytesTransferred",
            "ingressPacketsTransferred",
            "egressPacketsTransferred",
            "maxBandwidth",
            "maxPacketsPerSecond",
        )
    }
    return {
        "vpnConnectionId": record.get("vpnConnectionId"),
        "vpnUserName": record.get("vpnUserName"),
        "publicIpAddress": record.get("publicIpAddress"),
        "publicPort": port,
        "privateIpAddress": record.get("privateIpAddress"),
        "vpnConnectionTime": _time(record.get("vpnConnectionTime"), where),
        **numbers,
        **base,
    }


def disconnect(call: MethodCall) -> list[Row]:
    """disconnectVirtualNetworkGatewayVpnConnections: one row per connection ID asked.

    Azure reports no outcome per connection: `disconnected` means the operation succeeded.
    Azure has no dry run either, so a dry run checks that the gateway exists and calls
    nothing else.
    """
    args = call.args
    subscription_id = str(args["subscriptionId"])
    group, name = str(args["resourceGroupName"]), str(args["virtualNetworkGatewayName"])
    ids = _connection_ids(str(args["vpnConnectionIds"]))
    what = f"gateway {group}/{name}"
    operations = network(subscription_id, call.settings).virtual_network_gateways
    dry_run = bool(args.get("DryRun")) or call.settings.dry_run
    with translated_errors(subscription_id, what):
        if dry_run:
            operations.get(group, name)
        else:
            operations.begin_disconnect_virtual_network_gateway_vpn_connections(
                group,
                name,
                {"vpnConnectionIds": ids},
                polling=bounded_polling(f"the disconnect on {what}", call.settings),
            ).result()
    base = {
        "subscriptionId": subscription_id,
        "resourceGroupName": group,
        "virtualNetworkGatewayName": name,
        "vpnUserName": None,
    }
    return [
        {
            **base,
            "vpnConnectionId": connection_id,
            "currentStatus": None if dry_run else "disconnected",
            "message": DRY_RUN_MESSAGE if dry_run else None,
        }
        for connection_id in ids
    ]


def _connection_ids(text: str) -> list[str]:
    """`'id1, id2'` as a list: no empty ID reaches the API, none twice."""
    ids = list(dict.fromkeys(part.strip() for part in text.split(",")))
    if not ids or "" in ids:
        raise ParamError(
            "@vpnConnectionIds takes connection IDs separated by commas, none empty",
            hint="e.g. @vpnConnectionIds = 'OVPN_...,IKEv2_...'",
        )
    return ids


def _connected(row: Row) -> dict[str, object]:
    """DELETE's target: every listed client is connected (the health call lists no other)."""
    return {
        "subscriptionId": row["subscriptionId"],
        "resourceGroupName": row["resourceGroupName"],
        "virtualNetworkGatewayName": row["virtualNetworkGatewayName"],
        "vpnConnectionIds": row["vpnConnectionId"],
    }


DISCONNECT = Method(
    name="vpn_client_connections_Disconnect",
    description=(
        "Disconnects P2S clients of a virtual network gateway by connection ID "
        "(disconnectVirtualNetworkGatewayVpnConnections, a long-running operation)."
    ),
    function=disconnect,
    columns=(
        Column("subscriptionId", "VARCHAR", "The subscription of the gateway."),
        *(column for column in GATEWAY_COLUMNS if column.name != "location"),
        Column("vpnConnectionId", "VARCHAR", "The connection asked to disconnect."),
        Column("vpnUserName", "VARCHAR", "For DELETE, the selected connection's user."),
        Column(
            "currentStatus",
            "VARCHAR",
            "disconnected once Azure's operation succeeded (Azure reports no outcome per "
            "connection); NULL for a dry run.",
        ),
        Column("message", "VARCHAR", "NULL when it worked; the error, or the dry-run result."),
    ),
    required=(
        "subscriptionId",
        "resourceGroupName",
        "virtualNetworkGatewayName",
        "vpnConnectionIds",
    ),
    flags=("DryRun",),
    delete=_connected,
    preview=("vpnUserName", "publicIpAddress", "vpnConnectionTime", "vpnConnectionId"),
)

VPN_CLIENT_CONNECTIONS = Table(
    provider="azure",
    service="network",
    resource="vpn_client_connections",
    description=(
        "The point-to-site clients connected to a VPN gateway "
        "(getVpnclientConnectionHealth, a long-running operation Azure can take many seconds "
        "to answer)."
    ),
    columns=(
        Column(
            "vpnConnectionId", "VARCHAR", "The ID of the connection, e.g. OVPN_... or IKEv2_...."
        ),
        Column("vpnUserName", "VARCHAR", "The user (Entra ID) or client certificate name."),
        Column(
            "publicIpAddress", "VARCHAR", "The client's public address and port, as Azure gives it."
        ),
        Column("publicPort", "INTEGER", "The port of publicIpAddress."),
        Column("privateIpAddress", "VARCHAR", "The address the gateway assigned to the client."),
        Column("vpnConnectionTime", "TIMESTAMP", "When the client connected (UTC)."),
        Column("vpnConnectionDuration", "BIGINT", "How long it has been connected, in seconds."),
        Column(
            "ingressBytesTransferred",
            "BIGINT",
            "Bytes into the gateway, i.e. from the client, since it connected (assumed; "
            "see docs/azure.md).",
        ),
        Column(
            "egressBytesTransferred",
            "BIGINT",
            "Bytes out of the gateway, i.e. to the client, since it connected (assumed).",
        ),
        Column("ingressPacketsTransferred", "BIGINT", "Packets from the client."),
        Column("egressPacketsTransferred", "BIGINT", "Packets to the client."),
        Column(
            "maxBandwidth", "BIGINT", "The connection's maximum bandwidth, as Azure reports it."
        ),
        Column("maxPacketsPerSecond", "BIGINT", "The connection's highest packet rate per second."),
        *ACCOUNT_COLUMNS,
        *GATEWAY_COLUMNS,
    ),
    params=(ACCOUNT, ACCOUNT_ID, LOCATION, RESOURCE_GROUP, GATEWAY_NAME),
    fetch=fetch_vpn_client_connections,
    methods=(DISCONNECT,),
    examples=(
        "-- who is connected to any P2S gateway of any subscription, longest first\n"
        "SELECT virtualNetworkGatewayName, vpnUserName, publicIpAddress, vpnConnectionTime\n"
        "FROM azure.network.vpn_client_connections\n"
        "ORDER BY vpnConnectionTime LIMIT 10;",
        "-- traffic per user on one gateway\n"
        "SELECT vpnUserName, count(*) AS sessions,\n"
        "       sum(ingressBytesTransferred + egressBytesTransferred) AS bytes\n"
        "FROM azure.network.vpn_client_connections\n"
        "WHERE subscriptionId = '3f2a8b1c-4d5e-4f60-8a7b-9c0d1e2f3a01'\n"
        "  AND resourceGroupName = 'rg-network-weu' AND virtualNetworkGatewayName = 'vgw-weu-p2s'\n"
        "GROUP BY vpnUserName ORDER BY bytes DESC;",
        "-- certificate (IKEv2) sessions in one location\n"
        "SELECT subscriptionId, virtualNetworkGatewayName, vpnConnectionId, publicPort\n"
        "FROM azure.network.vpn_client_connections\n"
        "WHERE location = 'westeurope' AND vpnConnectionId LIKE 'IKEv2_%';",
        "-- end one session (the result rows say what happened)\n"
        "EXEC azure.network.vpn_client_connections.vpn_client_connections_Disconnect\n"
        "     @subscriptionId = '3f2a8b1c-4d5e-4f60-8a7b-9c0d1e2f3a02',\n"
        "     @resourceGroupName = 'rg-dev-network', @virtualNetworkGatewayName = 'vgw-dev-p2s',\n"
        "     @vpnConnectionIds = 'OVPN_00000000-0000-4000-8000-000000000000';",
        "-- end every session of a user on one gateway (needs --yes for more than one)\n"
        "DELETE FROM azure.network.vpn_client_connections\n"
        "WHERE resourceGroupName = 'rg-network-weu' AND virtualNetworkGatewayName = 'vgw-weu-p2s'\n"
        "  AND vpnUserName = 'emma.jones@contoso.com';",
    ),
)


def fetch_virtual_network_gateways(request: FetchRequest) -> Iterator[list[Row]]:
    """The subscription's gateways: the resource groups that hold one (the resources list,
    unless the statement names them), then each group's gateways with their properties."""
    subscription_id = subscription(request)
    named = request.filters.get("resourceGroupName")
    groups = (
        list(named) if named else [group for group, _, _ in _inventory(subscription_id, request)]
    )
    client = network(subscription_id, request.settings)
    for group in {g.lower(): g for g in groups}.values():
        with translated_errors(subscription_id, f"resource group {group}"):
            gateways = list(
                _paged(
                    client.virtual_network_gateways.list(group), "gateways list", subscription_id
                )
            )
        yield [{**_gateway(dict(item), group), **_account_values(request)} for item in gateways]


def _gateway(record: dict[str, Any], group: str) -> Row:
    properties = record.get("properties") or {}
    configuration = properties.get("vpnClientConfiguration") or {}
    pool = (configuration.get("vpnClientAddressPool") or {}).get("addressPrefixes")
    return {
        "name": record.get("name"),
        "resourceGroupName": group,
        "location": record.get("location"),
        "gatewayType": properties.get("gatewayType"),
        "vpnType": properties.get("vpnType"),
        "sku": (properties.get("sku") or {}).get("name"),
        "vpnGatewayGeneration": properties.get("vpnGatewayGeneration"),
        "activeActive": properties.get("activeActive"),
        "pointToSite": _point_to_site(properties),
        "vpnClientAddressPool": pool,
        "vpnClientProtocols": configuration.get("vpnClientProtocols"),
        "vpnAuthenticationTypes": configuration.get("vpnAuthenticationTypes"),
        "provisioningState": properties.get("provisioningState"),
        "id": record.get("id"),
    }


def _point_to_site(properties: dict[str, Any]) -> bool:
    """A VPN gateway with a client address pool: what getVpnclientConnectionHealth answers."""
    configuration = properties.get("vpnClientConfiguration") or {}
    pool = (configuration.get("vpnClientAddressPool") or {}).get("addressPrefixes")
    return properties.get("gatewayType") == "Vpn" and bool(pool)


VIRTUAL_NETWORK_GATEWAYS = Table(
    provider="azure",
    service="network",
    resource="virtual_network_gateways",
    description="The virtual network gateways (VPN and ExpressRoute) of a subscription.",
    columns=(
        Column("name", "VARCHAR", "The name of the gateway."),
        Column("resourceGroupName", "VARCHAR", "The resource group of the gateway."),
        Column("location", "VARCHAR", "The Azure location (region) of the gateway."),
        Column("gatewayType", "VARCHAR", "Vpn, ExpressRoute or LocalGateway."),
        Column("vpnType", "VARCHAR", "RouteBased or PolicyBased."),
        Column("sku", "VARCHAR", "The SKU name, e.g. VpnGw2AZ."),
        Column("vpnGatewayGeneration", "VARCHAR", "Generation1 or Generation2."),
        Column("activeActive", "BOOLEAN", "Whether the gateway is active-active."),
        Column(
            "pointToSite",
            "BOOLEAN",
            "Whether point-to-site is configured (the gateways vpn_client_connections asks).",
        ),
        Column(
            "vpnClientAddressPool",
            "VARCHAR[]",
            "The address ranges P2S clients get addresses from.",
        ),
        Column("vpnClientProtocols", "VARCHAR[]", "The P2S protocols: OpenVPN, IkeV2, SSTP."),
        Column(
            "vpnAuthenticationTypes",
            "VARCHAR[]",
            "The P2S authentication: Certificate, Radius, AAD.",
        ),
        Column("provisioningState", "VARCHAR", "Succeeded, Updating, Deleting or Failed."),
        Column("id", "VARCHAR", "The gateway's resource ID."),
        *ACCOUNT_COLUMNS,
    ),
    params=(
        ACCOUNT,
        ACCOUNT_ID,
        Param(
            "resourceGroupName",
            "Pushed down: only these resource groups are listed.",
            pattern=RESOURCE_GROUP.pattern,
            example=RESOURCE_GROUP.example,
        ),
    ),
    fetch=fetch_virtual_network_gateways,
    examples=(
        "SELECT subscriptionId, resourceGroupName, name, location, sku, vpnClientProtocols\n"
        "FROM azure.network.virtual_network_gateways WHERE pointToSite;",
        "-- the P2S address pools of one subscription\n"
        "SELECT name, unnest(vpnClientAddressPool) AS pool\n"
        "FROM azure.network.virtual_network_gateways\n"
        "WHERE subscriptionId = '3f2a8b1c-4d5e-4f60-8a7b-9c0d1e2f3a01' AND pointToSite;",
    ),
)

TABLES = (VPN_CLIENT_CONNECTIONS, VIRTUAL_NETWORK_GATEWAYS)


def as_client_connection(row: Row) -> Row:
    """A P2S client as a row of vpn.client_connections: the health call lists connected
    clients only (active), and Azure keeps no end time."""
    return {
        "provider": "azure",
        "account": row["account"],
        "accountId": row["accountId"],
        "region": row["location"],
        "endpointId": row["virtualNetworkGatewayName"],
        "connectionId": row["vpnConnectionId"],
        "identity": row["vpnUserName"],
        "privateIp": row["privateIpAddress"],
        "publicIp": split_address(row["publicIpAddress"])[0],
        "status": "active",
        "connectedAt": row["vpnConnectionTime"],
        "endedAt": None,
        "bytesFromClient": row["ingressBytesTransferred"],
        "bytesToClient": row["egressBytesTransferred"],
    }


VIEW_BRANCHES = (
    ViewBranch(
        view=CLIENT_CONNECTIONS_VIEW,
        table=VPN_CLIENT_CONNECTIONS,
        params={
            "account": "account",
            "accountId": "accountId",
            "region": "location",
            "endpointId": "virtualNetworkGatewayName",
        },
        row=as_client_connection,
    ),
)


def split_address(text: str | None) -> tuple[str | None, int | None]:
    """`203.0.113.9:51234` (or `[2001:db8::1]:51234`) as address and port; an address
    without a port keeps the port NULL."""
    if not text:
        return None, None
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        address, port = text.split(":")
    else:
        return text, None
    return address, int(port) if port.isdigit() else None


def _number(value: Any, column: str, where: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ProviderError(
            f"{column} is not a number: {str(value)[:40]!r}",
            provider="azure",
            code="InvalidValue",
            target=where,
        ) from None


def _time(value: Any, where: str) -> datetime | None:
    """Azure's `2019-05-02T22:26:22`, which is UTC without a zone, as a naive UTC datetime."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ProviderError(
            f"vpnConnectionTime is not a time: {str(value)[:40]!r}",
            provider="azure",
            code="InvalidValue",
            target=where,
        ) from None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed
