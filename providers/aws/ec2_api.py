"""aws.ec2_api: Client VPN connections and endpoints (EC2 API).

Reads top to bottom: the shared params, each table's declaration, then its fetch function.
Every API string that is really a number or a time is typed here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from vpnsql import accounts
from vpnsql.answers import Answers, integer
from vpnsql.errors import ProviderError
from vpnsql.tables import (
    DRY_RUN_OK,
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
from vpnsql_providers.aws import estate
from vpnsql_providers.aws.client import ec2, time
from vpnsql_providers.aws.errors import translated_errors

MAX_RESULTS = 1000  # the API's maximum page size (5..1000)

ACCOUNT, ACCOUNT_ID = accounts.params(
    estate.resolve_accounts, estate.discover_accounts, estate.ACCOUNT_ID, "111122223333"
)
ACCOUNT_COLUMNS = accounts.columns("The 12-digit AWS account ID.")
REGION = Param(
    "region",
    "The AWS region of the endpoint; when the WHERE clause names none, the config file's "
    'regions (every enabled one for ["*"]), else the region of the AWS configuration.',
    required=True,
    pattern=r"[a-z]{2}(-[a-z]+)+-\d+",
    example="us-east-1",
    resolve=estate.resolve_regions,
    discover=estate.discover_regions,
    known=estate.regions,
)
NOT_OFFERED = {"InvalidAction", "UnsupportedOperation"}
"""Codes meaning the region has no Client VPN at all: zero rows there, as Steampipe does."""


def discover_endpoints(request: FetchRequest) -> list[str]:
    """Every endpoint of the region that can have connections (not deleted), for WHERE
    clauses that name no ClientVpnEndpointId."""
    params = {name: request.params[name] for name in ("account", "region")}
    region = FetchRequest(params, settings=request.settings)
    return [
        row["clientVpnEndpointId"]
        for page in fetch_endpoints(region)
        for row in page
        if (row["status"] or {}).get("code") not in ("deleting", "deleted")
    ]


ENDPOINT_ID = Param(
    "ClientVpnEndpointId",
    "The ID of the Client VPN endpoint; when the WHERE clause names none, every endpoint "
    "of the region.",
    required=True,
    pattern=r"cvpn-endpoint-[0-9a-f]{8,32}",
    example="cvpn-endpoint-0123456789abcdef0",
    absent=frozenset({"InvalidClientVpnEndpointId.NotFound"}),
    discover=discover_endpoints,
)


def fetch_connections(request: FetchRequest) -> Iterator[list[Row]]:
    """DescribeClientVpnConnections, every page (NextToken) until the end or the limit."""
    account, region = request.params["account"], request.params["region"]
    endpoint_id = request.params["ClientVpnEndpointId"]
    api_filters = {"connectionId": "connection-id", "username": "username"}
    kwargs: dict[str, Any] = {
        "ClientVpnEndpointId": endpoint_id,
        "MaxResults": _page_size(request.limit),
        "Filters": [
            {"Name": api_filters[name], "Values": list(values)}
            for name, values in request.filters.items()
            if name in api_filters
        ],
    }
    client = ec2(region, request.settings, account)
    yield from _pages(
        Answers(CLIENT_VPN_CONNECTIONS, "DescribeClientVpnConnections", region, endpoint_id),
        lambda **kw: client.describe_client_vpn_connections(**kwargs, **kw),
        "Connections",
        _connection,
        request,
    )


def _connection(record: Mapping[str, Any]) -> Row:
    status = record.get("Status")
    return {
        "clientVpnEndpointId": record.get("ClientVpnEndpointId"),
        "timestamp": time(record, "Timestamp"),
        "connectionId": record.get("ConnectionId"),
        "username": record.get("Username"),
        "connectionEstablishedTime": time(record, "ConnectionEstablishedTime"),
        "ingressBytes": integer(record, "IngressBytes"),
        "egressBytes": integer(record, "EgressBytes"),
        "ingressPackets": integer(record, "IngressPackets"),
        "egressPackets": integer(record, "EgressPackets"),
        "clientIp": record.get("ClientIp"),
        "clientIpv6Address": record.get("ClientIpv6Address"),
        "commonName": record.get("CommonName"),
        "status": {"code": status.get("Code"), "message": status.get("Message")}
        if status
        else None,
        "connectionEndTime": time(record, "ConnectionEndTime"),
        "postureComplianceStatusSet": record.get("PostureComplianceStatuses"),
    }


TERMINATE_OPERATION = "TerminateClientVpnConnections"


def terminate(call: MethodCall) -> list[Row]:
    """TerminateClientVpnConnections: one row per connection it moved (or one for a dry run)."""
    args = call.args
    account, region = str(args["account"]), str(args["region"])
    endpoint_id = str(args["ClientVpnEndpointId"])
    kwargs: dict[str, Any] = {"ClientVpnEndpointId": endpoint_id}
    for name in ("ConnectionId", "Username"):
        if args.get(name) is not None:
            kwargs[name] = args[name]
    dry_run = bool(args.get("DryRun")) or call.settings.dry_run
    target = str(args.get("ConnectionId") or args.get("Username"))
    client = ec2(region, call.settings, account)
    where = estate.estate(call.settings).where(account)
    answers = Answers(CLIENT_VPN_CONNECTIONS, TERMINATE_OPERATION, region, endpoint_id, where)
    try:
        with (
            answers.reading(),
            translated_errors(region, f"{endpoint_id} {target}", where, answers.operation),
        ):
            response = client.terminate_client_vpn_connections(**kwargs, DryRun=dry_run)
    except ProviderError as err:
        if dry_run and err.code == "DryRunOperation":
            base = {"clientVpnEndpointId": endpoint_id, "region": region, "account": account}
            return [{**base, "username": args.get("Username"),
                     "connectionId": args.get("ConnectionId"), "message": DRY_RUN_OK}]  # fmt: skip
        raise
    statuses = answers.require(response, "ConnectionStatuses")
    return [
        {
            "clientVpnEndpointId": response.get("ClientVpnEndpointId", endpoint_id),
            "region": region,
            "account": account,
            "username": response.get("Username"),
            "connectionId": status.get("ConnectionId"),
            "previousStatus": (status.get("PreviousStatus") or {}).get("Code"),
            "currentStatus": (status.get("CurrentStatus") or {}).get("Code"),
            "message": None,
        }
        for status in statuses
    ]


def _active_connection(row: Row) -> dict[str, object] | None:
    """DELETE's target: a connection that is still active, by its ConnectionId."""
    if (row.get("status") or {}).get("code") != "active":
        return None
    return {
        "account": row["account"],
        "ClientVpnEndpointId": row["clientVpnEndpointId"],
        "region": row["region"],
        "ConnectionId": row["connectionId"],
    }


def _as_selected(row: Row) -> Row:
    """A DELETE's result values from the selected connection: its user, and its status
    before the call, which stays the status after it unless the API says otherwise (a dry
    run or a failed call changes nothing)."""
    status = (row.get("status") or {}).get("code")
    return {"username": row.get("username"), "previousStatus": status, "currentStatus": status}


TERMINATE = Method(
    name="client_vpn_connections_Terminate",
    description=(
        "Terminates active Client VPN endpoint connections: one connection by ConnectionId, "
        "or up to five connections of a user by Username (TerminateClientVpnConnections)."
    ),
    function=terminate,
    columns=(
        Column("clientVpnEndpointId", "VARCHAR", "The ID of the Client VPN endpoint."),
        Column("region", "VARCHAR", "The AWS region of the endpoint."),
        Column("account", "VARCHAR", "The account of the endpoint (its name in the estate)."),
        Column(
            "username",
            "VARCHAR",
            "The user, when terminating by user; for DELETE, the selected connection's user.",
        ),
        Column("connectionId", "VARCHAR", "The ID of the client connection."),
        Column("previousStatus", "VARCHAR", "The connection's status before the call."),
        Column("currentStatus", "VARCHAR", "The connection's status after it (terminating)."),
        Column("message", "VARCHAR", "NULL when it worked; the error, or the dry-run result."),
    ),
    required=("account", "ClientVpnEndpointId", "region"),
    optional=("ConnectionId", "Username"),
    one_of=("ConnectionId", "Username"),
    flags=("DryRun",),
    delete=_active_connection,
    preview=("username", "commonName", "clientIp", "connectionEstablishedTime", "connectionId"),
    from_row=_as_selected,
)

CLIENT_VPN_CONNECTIONS = Table(
    provider="aws",
    service="ec2_api",
    resource="client_vpn_connections",
    description=(
        "Active client connections, and connections terminated within the last 60 minutes, "
        "of a Client VPN endpoint (DescribeClientVpnConnections)."
    ),
    columns=(
        Column(
            "clientVpnEndpointId",
            "VARCHAR",
            "The ID of the Client VPN endpoint to which the client is connected.",
        ),
        Column(
            "timestamp", "TIMESTAMP", "The current date and time (UTC), as reported by the API."
        ),
        Column("connectionId", "VARCHAR", "The ID of the client connection."),
        Column(
            "username",
            "VARCHAR",
            "The user name of the client (Active Directory or SAML authentication only).",
        ),
        Column(
            "connectionEstablishedTime",
            "TIMESTAMP",
            "When the client connection was established (UTC).",
        ),
        Column("ingressBytes", "BIGINT", "The number of bytes sent by the client."),
        Column("egressBytes", "BIGINT", "The number of bytes received by the client."),
        Column("ingressPackets", "BIGINT", "The number of packets sent by the client."),
        Column("egressPackets", "BIGINT", "The number of packets received by the client."),
        Column("clientIp", "VARCHAR", "The IP address of the client inside the VPN."),
        Column("clientIpv6Address", "VARCHAR", "The IPv6 address of the client, if any."),
        Column(
            "commonName",
            "VARCHAR",
            "The common name of the client certificate, or the Active Directory user name.",
        ),
        Column(
            "status",
            "STRUCT(code VARCHAR, message VARCHAR)",
            "The connection status: active, failed-to-terminate, terminating or terminated.",
        ),
        Column(
            "connectionEndTime",
            "TIMESTAMP",
            "When the connection was terminated (UTC); NULL while it is active.",
        ),
        Column(
            "postureComplianceStatusSet",
            "VARCHAR[]",
            "Posture compliance statuses from the client connect handler, if any.",
        ),
        Column("region", "VARCHAR", "The AWS region of the endpoint."),
        *ACCOUNT_COLUMNS,
    ),
    params=(
        ACCOUNT,
        REGION,
        ENDPOINT_ID,
        ACCOUNT_ID,
        Param("connectionId", "Pushed down as the API filter connection-id."),
        Param("username", "Pushed down as the API filter username."),
    ),
    fetch=fetch_connections,
    methods=(TERMINATE,),
    examples=(
        "-- the five biggest uploaders on an endpoint\n"
        "SELECT connectionId, username, clientIp, status.code AS status, ingressBytes\n"
        "FROM aws.ec2_api.client_vpn_connections\n"
        "WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001' AND region = 'us-east-1'\n"
        "ORDER BY ingressBytes DESC LIMIT 5;",
        "-- one user's sessions on every endpoint of two regions (the endpoints are listed\n"
        "-- first; username is pushed down as an API filter)\n"
        "SELECT region, clientVpnEndpointId, connectionId, connectionEstablishedTime\n"
        "FROM aws.ec2_api.client_vpn_connections\n"
        "WHERE region IN ('us-east-1', 'eu-west-1') AND username = 'alice.mueller';",
        "-- traffic per user over the active connections\n"
        "SELECT coalesce(username, commonName) AS who, count(*) AS sessions,\n"
        "       sum(ingressBytes + egressBytes) AS bytes\n"
        "FROM aws.ec2_api.client_vpn_connections\n"
        "WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001' AND region = 'us-east-1'\n"
        "  AND status.code = 'active'\n"
        "GROUP BY who ORDER BY bytes DESC;",
        "-- end one session (one of the sandbox's; the result rows say what happened)\n"
        "EXEC aws.ec2_api.client_vpn_connections.client_vpn_connections_Terminate\n"
        "     @ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001', @region = 'us-east-1',\n"
        "     @ConnectionId = 'cvpn-connection-0578e8b7b0dac90c5';",
        "-- end every active session of a user that moved more than 1 GB (needs --yes on the\n"
        "-- command line when it ends more than one; the shell asks instead)\n"
        "DELETE FROM aws.ec2_api.client_vpn_connections\n"
        "WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001' AND region = 'us-east-1'\n"
        "  AND username = 'bob.ng' AND ingressBytes + egressBytes > 1e9;",
    ),
)


def fetch_endpoints(request: FetchRequest) -> Iterator[list[Row]]:
    """DescribeClientVpnEndpoints for one region, every page."""
    region = request.params["region"]
    client = ec2(region, request.settings, request.params["account"])
    yield from _pages(
        Answers(CLIENT_VPN_ENDPOINTS, "DescribeClientVpnEndpoints", region),
        lambda **kw: client.describe_client_vpn_endpoints(
            MaxResults=_page_size(request.limit), **kw
        ),
        "ClientVpnEndpoints",
        _endpoint,
        request,
    )


def _endpoint(record: Mapping[str, Any]) -> Row:
    status = record.get("Status")
    return {
        "clientVpnEndpointId": record.get("ClientVpnEndpointId"),
        "description": record.get("Description"),
        "status": {"code": status.get("Code"), "message": status.get("Message")}
        if status
        else None,
        "creationTime": time(record, "CreationTime"),
        "dnsName": record.get("DnsName"),
        "clientCidrBlock": record.get("ClientCidrBlock"),
        "vpcId": record.get("VpcId"),
        "transportProtocol": record.get("TransportProtocol"),
        "vpnPort": record.get("VpnPort"),
        "splitTunnel": record.get("SplitTunnel"),
    }


CLIENT_VPN_ENDPOINTS = Table(
    provider="aws",
    service="ec2_api",
    resource="client_vpn_endpoints",
    description="The Client VPN endpoints of a region (DescribeClientVpnEndpoints).",
    columns=(
        Column("clientVpnEndpointId", "VARCHAR", "The ID of the Client VPN endpoint."),
        Column("description", "VARCHAR", "The endpoint's description."),
        Column(
            "status",
            "STRUCT(code VARCHAR, message VARCHAR)",
            "The endpoint status: code is pending-associate, available, deleting or deleted.",
        ),
        Column("creationTime", "TIMESTAMP", "When the endpoint was created (UTC)."),
        Column("dnsName", "VARCHAR", "The DNS name clients use to connect."),
        Column("clientCidrBlock", "VARCHAR", "The IPv4 range client addresses are assigned from."),
        Column("vpcId", "VARCHAR", "The ID of the VPC the endpoint is associated with."),
        Column("transportProtocol", "VARCHAR", "tcp or udp."),
        Column("vpnPort", "INTEGER", "The port clients connect to."),
        Column("splitTunnel", "BOOLEAN", "Whether split-tunnel is enabled."),
        Column("region", "VARCHAR", "The AWS region of the endpoint."),
        *ACCOUNT_COLUMNS,
    ),
    params=(ACCOUNT, REGION, ACCOUNT_ID),
    fetch=fetch_endpoints,
    examples=(
        "SELECT clientVpnEndpointId, description, status.code AS status, vpcId\n"
        "FROM aws.ec2_api.client_vpn_endpoints WHERE region = 'us-east-1';",
    ),
)

TABLES = (CLIENT_VPN_CONNECTIONS, CLIENT_VPN_ENDPOINTS)


def as_client_connection(row: Row) -> Row:
    """A connection as a row of vpn.client_connections (AWS reports no public IP)."""
    return {
        "provider": "aws",
        "account": row["account"],
        "accountId": row["accountId"],
        "region": row["region"],
        "endpointId": row["clientVpnEndpointId"],
        "connectionId": row["connectionId"],
        "identity": row["username"] or row["commonName"],
        "privateIp": row["clientIp"],
        "publicIp": None,
        "status": (row["status"] or {}).get("code"),
        "connectedAt": row["connectionEstablishedTime"],
        "endedAt": row["connectionEndTime"],
        "bytesFromClient": row["ingressBytes"],
        "bytesToClient": row["egressBytes"],
    }


VIEW_BRANCHES = (
    ViewBranch(
        view=CLIENT_CONNECTIONS_VIEW,
        table=CLIENT_VPN_CONNECTIONS,
        params={
            "account": "account",
            "accountId": "accountId",
            "region": "region",
            "endpointId": "ClientVpnEndpointId",
        },
        row=as_client_connection,
    ),
)


def _page_size(limit: int | None) -> int:
    return MAX_RESULTS if limit is None else max(5, min(limit, MAX_RESULTS))


def _pages(
    answers: Answers,
    call: Callable[..., dict[str, Any]],
    key: str,
    to_row: Callable[[Mapping[str, Any]], Row],
    request: FetchRequest,
) -> Iterator[list[Row]]:
    """Follow NextToken to the end (or until `request.limit` rows), translating AWS errors;
    every row gets the request's region and account. `answers` ends paging a server would
    never end, and refuses an answer without its `key` list or with a malformed value."""
    account = request.params["account"]
    found = estate.estate(request.settings)
    answers.account = found.where(account)
    account_id = found.account_id_soon(account)  # STS, if needed, while the first page comes
    seen = 0
    token: str | None = None
    while True:
        try:
            with answers.reading(), translated_errors(*answers.where):
                response = call(**({"NextToken": token} if token else {}))
                steering = {
                    "region": answers.region,
                    "account": account,
                    "accountId": account_id.result(),
                }
        except ProviderError as err:
            if err.code in NOT_OFFERED:
                return
            raise
        records = answers.require(response, key)
        rows = [{**row, **steering} for row in answers.rows(records, to_row)]
        seen += len(rows)
        yield rows
        token = answers.next_token(response.get("NextToken"))
        if not token or (request.limit is not None and seen >= request.limit):
            return
