"""The cross-cloud view `vpn.client_connections`: one row per VPN client connection, any cloud.

The view's columns have one meaning whatever the cloud. It fetches nothing itself: each
provider contributes a `ViewBranch` (which of its tables feeds the view, how the view's
`region` and `endpointId` map onto that table's params, how a row maps onto the view), and the
planner turns a query on the view into calls on those tables. Its required params are the
ones that decide which calls are made (mapped onto each cloud's required params); `provider`
and `accountId` only narrow.
"""

from __future__ import annotations

from vpnsql import accounts
from vpnsql.tables import Column, Param, Provider, Table

CLIENT_CONNECTIONS = Table(
    provider="vpn",
    service="main",
    resource="client_connections",
    description=(
        "One row per VPN client connection on any cloud (AWS Client VPN, Alibaba Cloud "
        "SSL-VPN, Azure VPN Gateway point-to-site), with one meaning per column."
    ),
    columns=(
        Column("provider", "VARCHAR", "The cloud: aws, alibaba or azure."),
        *accounts.columns(
            "The cloud's account ID (AWS: 12 digits; Azure: the subscription ID; NULL where not "
            "known)."
        ),
        Column("region", "VARCHAR", "The region (Azure: location) of the endpoint or gateway."),
        Column(
            "endpointId",
            "VARCHAR",
            "The Client VPN endpoint (AWS), VPN gateway ID (Alibaba) or virtual network "
            "gateway name (Azure).",
        ),
        Column("connectionId", "VARCHAR", "The connection's ID; NULL on Alibaba, which has none."),
        Column("identity", "VARCHAR", "The user name, else the certificate's common name."),
        Column("privateIp", "VARCHAR", "The address assigned to the client inside the VPN."),
        Column("publicIp", "VARCHAR", "The client's public address; NULL on AWS (not reported)."),
        Column(
            "status",
            "VARCHAR",
            "active for a live connection (AWS active, Alibaba online, every Azure row), else "
            "the cloud's word.",
        ),
        Column("connectedAt", "TIMESTAMP", "When the connection was established (UTC)."),
        Column("endedAt", "TIMESTAMP", "When it ended (UTC); NULL while active or unknown."),
        Column("bytesFromClient", "BIGINT", "Bytes the client sent into the VPN."),
        Column("bytesToClient", "BIGINT", "Bytes the VPN sent to the client."),
    ),
    params=(
        Param(
            "provider",
            "Only these clouds are called; else every cloud.",
            pattern=r"[a-z0-9_]+",
            example="aws",
        ),
        Param(
            "account",
            "Only these accounts; else every account of each cloud's estate.",
            required=True,
            pattern=accounts.NAME_PATTERN,
            example="prod",
            fills="default",
        ),
        Param("accountId", "Only the accounts with these IDs.", example="111122223333"),
        Param(
            "region",
            "Only these regions; else each cloud's configured (or default) regions.",
            required=True,
            example="us-east-1",
            fills="default",
        ),
        Param(
            "endpointId",
            "Only these endpoints or gateways; else every one of the region.",
            required=True,
            example="cvpn-endpoint-0123456789abcdef0",
            fills="discovered",
        ),
    ),
    fetch=None,
    examples=(
        "-- who is connected right now, on any cloud\n"
        "SELECT provider, region, identity, privateIp, connectedAt\n"
        "FROM vpn.client_connections WHERE status = 'active' ORDER BY connectedAt;",
        "-- top talkers across clouds and several regions\n"
        "SELECT provider, identity, sum(bytesFromClient + bytesToClient) AS bytes\n"
        "FROM vpn.client_connections\n"
        "WHERE region IN ('us-east-1', 'eu-west-1', 'cn-hangzhou', 'westeurope')\n"
        "GROUP BY ALL ORDER BY bytes DESC LIMIT 10;",
        "-- end a user's sessions wherever they are (AWS terminate, Azure disconnect; an\n"
        "-- Alibaba session is reported as not terminable)\n"
        "DELETE FROM vpn.client_connections WHERE identity = 'alice.mueller';",
    ),
)

PROVIDER = Provider(
    name="vpn",
    description="Cross-cloud views over the other providers' tables.",
    tables=(CLIENT_CONNECTIONS,),
)
