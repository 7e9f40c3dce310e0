"""alibaba.vpc: the clients of a VPN gateway's SSL-VPN connections, and the VPN gateways.

Reads top to bottom: the shared params, each table's declaration and fetch function, then the
paging both share. There is no EXEC method: no Alibaba Cloud API disconnects an SSL-VPN client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from vpnsql import accounts
from vpnsql.answers import Answers, integer
from vpnsql.tables import Column, FetchRequest, Pages, Param, Row, Table, ViewBranch
from vpnsql.views import CLIENT_CONNECTIONS as CLIENT_CONNECTIONS_VIEW
from vpnsql_providers.alibaba import estate
from vpnsql_providers.alibaba.client import translated_errors, vpc

PAGE_SIZE = 50  # the API's maximum (1..50)
EPOCH = datetime(1970, 1, 1)

ACCOUNT, ACCOUNT_ID = accounts.params(
    estate.resolve_accounts, None, estate.ACCOUNT_ID, "1234567890123456"
)
ACCOUNT_COLUMNS = accounts.columns(
    "The account's ID (UID), where configured or known from a RAM role ARN; else NULL."
)
REGION = Param(
    "region",
    "The region ID of the VPN gateway (`RegionId` works too); when the WHERE clause names "
    'none, the config file\'s regions (every region for ["*"]), else ALIBABA_CLOUD_REGION_ID '
    "or the region of the current aliyun CLI profile.",
    required=True,
    pattern=estate.REGION_PATTERN,
    example="cn-hangzhou",
    aliases=("RegionId",),
    absent=frozenset({estate.UNKNOWN_REGION}),
    resolve=estate.resolve_regions,
    discover=estate.discover_regions,
)
REGION_COLUMNS = (
    Column("region", "VARCHAR", "The region ID of the VPN gateway, e.g. cn-hangzhou."),
    Column("regionId", "VARCHAR", "The same as `region`, under the API's own name."),
)


def _steering(request: FetchRequest) -> Row:
    """The columns every row takes from its request: region (and its alias column, which
    must always equal it), account and account ID."""
    account, region = request.params["account"], request.params["region"]
    account_id = estate.estate(request.settings).account(account).id
    return {"region": region, "regionId": region, "account": account, "accountId": account_id}


GATEWAY_ID_PATTERN = r"vpn-[a-z0-9]+"
GATEWAY_ID_EXAMPLE = "vpn-bp1a2b3c4d5e6f7g80001"


def discover_gateways(request: FetchRequest) -> list[str]:
    """The region's gateways with SSL-VPN enabled, for WHERE clauses naming no VpnGatewayId."""
    params = {name: request.params[name] for name in ("account", "region")}
    region = FetchRequest(params, settings=request.settings)
    return [
        row["vpnGatewayId"]
        for page in fetch_vpn_gateways(region)
        for row in page
        if row["sslVpn"] == "enable" and row["status"] != "deleting"
    ]


def fetch_ssl_vpn_clients(request: FetchRequest) -> Iterator[list[Row] | Pages]:
    """DescribeSslVpnClients for one gateway, every page until TotalCount or the limit."""
    from alibabacloud_vpc20160428.models import DescribeSslVpnClientsRequest

    region = request.params["region"]
    gateway_id = request.params["VpnGatewayId"]
    client = _client(request)

    def page(number: int, size: int) -> dict[str, Any]:
        api_request = DescribeSslVpnClientsRequest(
            region_id=region, vpn_gateway_id=gateway_id, page_number=number, page_size=size
        )
        return client.describe_ssl_vpn_clients(api_request).body.to_map()

    yield from _pages(
        Answers(SSL_VPN_CLIENTS, "DescribeSslVpnClients", region, gateway_id),
        page,
        lambda body: _listed(body, "ClientInfoList"),
        lambda record: _ssl_vpn_client(record, gateway_id),
        request,
    )


def _ssl_vpn_client(record: Mapping[str, Any], gateway_id: str) -> Row:
    return {
        "vpnGatewayId": gateway_id,
        "commonName": record.get("CommonName"),
        "status": record.get("Status"),
        "privateIp": record.get("PrivateIp"),
        "ip": record.get("Ip"),
        "port": _text(record.get("Port")),
        "sendBytes": integer(record, "SendBytes"),
        "receiveBytes": integer(record, "ReceiveBytes"),
        "connectedTime": _epoch_ms(record, "ConnectedTime"),
    }


SSL_VPN_CLIENTS = Table(
    provider="alibaba",
    service="vpc",
    resource="ssl_vpn_clients",
    description=(
        "The clients connected to a VPN gateway through SSL-VPN (DescribeSslVpnClients). "
        "Gateways created before December 10, 2022 must be upgraded before the API lists them."
    ),
    columns=(
        Column("vpnGatewayId", "VARCHAR", "The ID of the VPN gateway the client is connected to."),
        Column(
            "commonName",
            "VARCHAR",
            "The common name of the client certificate, or the user name when the client "
            "uses two-factor authentication.",
        ),
        Column("status", "VARCHAR", "The status of the connection: online."),
        Column("privateIp", "VARCHAR", "The private IP address the VPN gateway gave the client."),
        Column("ip", "VARCHAR", "The public IP address the client connected from."),
        Column("port", "VARCHAR", "The port the client connected from."),
        Column("sendBytes", "BIGINT", "Bytes sent from the VPN gateway to the client."),
        Column("receiveBytes", "BIGINT", "Bytes received by the VPN gateway from the client."),
        Column("connectedTime", "TIMESTAMP", "When the client connected (UTC)."),
        *REGION_COLUMNS,
        *ACCOUNT_COLUMNS,
    ),
    params=(
        ACCOUNT,
        REGION,
        Param(
            "VpnGatewayId",
            "The ID of the VPN gateway; when the WHERE clause names none, every gateway of "
            "the region with SSL-VPN enabled.",
            required=True,
            pattern=GATEWAY_ID_PATTERN,
            example=GATEWAY_ID_EXAMPLE,
            absent=frozenset({"InvalidVpnGatewayInstanceId.NotFound"}),
            discover=discover_gateways,
        ),
        ACCOUNT_ID,
    ),
    fetch=fetch_ssl_vpn_clients,
    examples=(
        "-- the five clients that downloaded the most\n"
        "SELECT commonName, ip, privateIp, connectedTime, sendBytes\n"
        "FROM alibaba.vpc.ssl_vpn_clients\n"
        "WHERE VpnGatewayId = 'vpn-bp1a2b3c4d5e6f7g80001' AND region = 'cn-hangzhou'\n"
        "ORDER BY sendBytes DESC LIMIT 5;",
        "-- traffic per user over two gateways\n"
        "SELECT commonName, count(*) AS sessions, sum(sendBytes + receiveBytes) AS bytes\n"
        "FROM alibaba.vpc.ssl_vpn_clients\n"
        "WHERE VpnGatewayId IN ('vpn-bp1a2b3c4d5e6f7g80001', 'vpn-bp1a2b3c4d5e6f7g80002')\n"
        "  AND RegionId = 'cn-hangzhou'\n"
        "GROUP BY commonName ORDER BY bytes DESC;",
        "-- how full each gateway's SSL-VPN is\n"
        "SELECT g.name, g.sslMaxConnections, count(c.commonName) AS connected\n"
        "FROM alibaba.vpc.vpn_gateways g\n"
        "JOIN alibaba.vpc.ssl_vpn_clients c ON c.vpnGatewayId = g.vpnGatewayId\n"
        "WHERE g.region = 'cn-hangzhou' AND c.region = 'cn-hangzhou'\n"
        "  AND c.VpnGatewayId IN ('vpn-bp1a2b3c4d5e6f7g80001', 'vpn-bp1a2b3c4d5e6f7g80002')\n"
        "GROUP BY ALL;",
    ),
)

# Optional params of vpn_gateways: column name -> the API's request field.
_GATEWAY_FILTERS = {"VpnGatewayId": "vpn_gateway_id", "VpcId": "vpc_id", "Status": "status"}


def fetch_vpn_gateways(request: FetchRequest) -> Iterator[list[Row]]:
    """DescribeVpnGateways for one region, every page; single-valued filters are pushed down.

    The API takes one value per filter, so a filter with several values is left to DuckDB.
    """
    from alibabacloud_vpc20160428.models import DescribeVpnGatewaysRequest

    region = request.params["region"]
    client = _client(request)
    filters = {
        _GATEWAY_FILTERS[name]: values[0]
        for name, values in request.filters.items()
        if len(values) == 1 and name in _GATEWAY_FILTERS
    }

    def page(number: int, size: int) -> dict[str, Any]:
        api_request = DescribeVpnGatewaysRequest(
            region_id=region, page_number=number, page_size=size, **filters
        )
        return client.describe_vpn_gateways(api_request).body.to_map()

    yield from _pages(
        Answers(VPN_GATEWAYS, "DescribeVpnGateways", region),
        page,
        lambda body: _listed(body.get("VpnGateways"), "VpnGateway"),
        _vpn_gateway,
        request,
    )


def _vpn_gateway(record: Mapping[str, Any]) -> Row:
    return {
        "vpnGatewayId": record.get("VpnGatewayId"),
        "name": record.get("Name"),
        "description": record.get("Description"),
        "status": record.get("Status"),
        "businessStatus": record.get("BusinessStatus"),
        "spec": record.get("Spec"),
        "sslVpn": record.get("SslVpn"),
        "ipsecVpn": record.get("IpsecVpn"),
        "sslMaxConnections": integer(record, "SslMaxConnections"),
        "internetIp": record.get("InternetIp"),
        "sslVpnInternetIp": record.get("SslVpnInternetIp"),
        "vpcId": record.get("VpcId"),
        "vSwitchId": record.get("VSwitchId"),
        "networkType": record.get("NetworkType"),
        "enableBgp": record.get("EnableBgp"),
        "createTime": _epoch_ms(record, "CreateTime"),
    }


VPN_GATEWAYS = Table(
    provider="alibaba",
    service="vpc",
    resource="vpn_gateways",
    description="The VPN gateways of a region (DescribeVpnGateways).",
    columns=(
        Column("vpnGatewayId", "VARCHAR", "The ID of the VPN gateway."),
        Column("name", "VARCHAR", "The name of the VPN gateway."),
        Column("description", "VARCHAR", "The description of the VPN gateway."),
        Column(
            "status",
            "VARCHAR",
            "The state of the gateway: init, provisioning, active, updating or deleting.",
        ),
        Column(
            "businessStatus",
            "VARCHAR",
            "The billing state: Normal, or FinancialLocked when payment is overdue.",
        ),
        Column("spec", "VARCHAR", "The bandwidth specification, e.g. 10M."),
        Column("sslVpn", "VARCHAR", "Whether SSL-VPN is enabled: enable or disable."),
        Column("ipsecVpn", "VARCHAR", "Whether IPsec-VPN is enabled: enable or disable."),
        Column(
            "sslMaxConnections",
            "INTEGER",
            "The maximum number of concurrent SSL-VPN connections.",
        ),
        Column("internetIp", "VARCHAR", "The public IP address of the VPN gateway."),
        Column(
            "sslVpnInternetIp",
            "VARCHAR",
            "The public IP address SSL-VPN clients connect to.",
        ),
        Column("vpcId", "VARCHAR", "The ID of the VPC the gateway belongs to."),
        Column("vSwitchId", "VARCHAR", "The ID of the vSwitch the gateway is attached to."),
        Column("networkType", "VARCHAR", "public or private."),
        Column("enableBgp", "BOOLEAN", "Whether BGP is enabled."),
        Column("createTime", "TIMESTAMP", "When the gateway was created (UTC)."),
        *REGION_COLUMNS,
        *ACCOUNT_COLUMNS,
    ),
    params=(
        ACCOUNT,
        REGION,
        ACCOUNT_ID,
        Param(
            "VpnGatewayId",
            "Pushed down to the API when it has a single value.",
            pattern=GATEWAY_ID_PATTERN,
            example=GATEWAY_ID_EXAMPLE,
        ),
        Param("VpcId", "Pushed down to the API when it has a single value."),
        Param("Status", "Pushed down to the API when it has a single value."),
    ),
    fetch=fetch_vpn_gateways,
    examples=(
        "SELECT vpnGatewayId, name, status, spec, sslVpn, sslMaxConnections, sslVpnInternetIp\n"
        "FROM alibaba.vpc.vpn_gateways WHERE region = 'cn-hangzhou';",
        "-- gateways with SSL-VPN in two regions\n"
        "SELECT region, vpnGatewayId, name, vpcId\n"
        "FROM alibaba.vpc.vpn_gateways\n"
        "WHERE region IN ('cn-hangzhou', 'eu-central-1') AND sslVpn = 'enable';",
    ),
)

TABLES = (SSL_VPN_CLIENTS, VPN_GATEWAYS)


def as_client_connection(row: Row) -> Row:
    """An SSL-VPN client as a row of vpn.client_connections: online means active; Alibaba
    has no connection ID or end time, and its bytes are counted at the gateway."""
    return {
        "provider": "alibaba",
        "account": row["account"],
        "accountId": row["accountId"],
        "region": row["region"],
        "endpointId": row["vpnGatewayId"],
        "connectionId": None,
        "identity": row["commonName"],
        "privateIp": row["privateIp"],
        "publicIp": row["ip"],
        "status": "active" if row["status"] == "online" else row["status"],
        "connectedAt": row["connectedTime"],
        "endedAt": None,
        "bytesFromClient": row["receiveBytes"],
        "bytesToClient": row["sendBytes"],
    }


VIEW_BRANCHES = (
    ViewBranch(
        view=CLIENT_CONNECTIONS_VIEW,
        table=SSL_VPN_CLIENTS,
        params={
            "account": "account",
            "accountId": "accountId",
            "region": "region",
            "endpointId": "VpnGatewayId",
        },
        row=as_client_connection,
    ),
)


def _client(request: FetchRequest) -> Any:
    """The account's client for the request's region, once the region is known to exist."""
    account, region = request.params["account"], request.params["region"]
    estate.estate(request.settings).check_region(account, region)
    return vpc(region, request.settings, account)


def _listed(body: Any, key: str) -> list[dict[str, Any]]:
    """The answer's list of records; an answer without it is an error, never zero rows
    (an empty list is a real answer)."""
    records = body.get(key) if isinstance(body, dict) else None
    if not isinstance(records, list):
        raise ValueError(f"the answer has no {key} list")
    return records


def _pages(
    answers: Answers,
    call: Callable[[int, int], dict[str, Any]],
    records: Callable[[dict[str, Any]], list[dict[str, Any]]],
    to_row: Callable[[Mapping[str, Any]], Row],
    request: FetchRequest,
) -> Iterator[list[Row] | Pages]:
    """PageNumber/PageSize paging until TotalCount rows were seen (or the limit).

    The first page tells TotalCount; without a limit the remaining pages are then fetched side
    by side (`Pages`). A page shorter than it must be, or a TotalCount that changed (the list
    moved under the paging), would silently drop or repeat rows, so each is an error instead;
    so is an answer without TotalCount (`{}` would read as no rows), a page that is not the
    page asked for (a server ignoring PageNumber repeats rows), and a TotalCount that would
    take more than MAX_PAGES pages (a server that would never stop answering).
    """
    limit = request.limit
    size = PAGE_SIZE if limit is None else max(1, min(limit, PAGE_SIZE))
    steering = _steering(request)
    answers.account = estate.estate(request.settings).where(request.params["account"])

    def fetch(number: int) -> tuple[list[Row], int]:
        with answers.reading():
            with translated_errors(*answers.where):
                body = call(number, size)
            listed = records(body)
            total, answered = integer(body, "TotalCount"), integer(body, "PageNumber")
        if total is None:
            raise answers.error(f"page {number} has no TotalCount")
        if answered is not None and answered != number:
            raise answers.error(f"asked for page {number}, the answer is page {answered}")
        return [{**row, **steering} for row in answers.rows(listed, to_row)], total

    def later(number: int, total: int) -> list[Row]:
        rows, now = fetch(number)
        if now != total:  # offset paging over a changed list skips or repeats rows
            raise answers.error(
                f"the list changed while it was read (TotalCount {total}, then {now} on page "
                f"{number}): the answer would not be exact",
                code="ListChanged",
                hint="run the statement again",
            )
        expected = min(size, total - (number - 1) * size)
        if len(rows) < expected:
            raise answers.error(
                f"page {number} had {len(rows)} of its {expected} rows (TotalCount {total})",
                code="IncompletePaging",
            )
        return rows

    rows, total = fetch(1)
    yield rows
    if len(rows) >= total or (limit is not None and len(rows) >= limit):
        return
    if not rows:
        raise answers.error(
            f"page 1 was empty though TotalCount is {total}", code="IncompletePaging"
        )
    pages = range(2, (total + size - 1) // size + 1)
    answers.expect_pages(len(pages) + 1)
    if limit is None:
        yield Pages(tuple(lambda n=n: later(n, total) for n in pages))
        return
    seen = len(rows)
    for number in pages:
        rows = later(number, total)
        seen += len(rows)
        yield rows
        if seen >= limit:
            return


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _epoch_ms(record: Mapping[str, Any], field: str) -> datetime | None:
    """Epoch milliseconds (UTC) as a naive UTC datetime, exactly (no float rounding)."""
    milliseconds = integer(record, field)
    return None if milliseconds is None else EPOCH + timedelta(milliseconds=milliseconds)
