"""The cross-cloud view `vpn.client_connections`: one row per VPN client connection, any cloud.

The view's columns have one meaning whatever the cloud; each provider contributes a
`ViewBranch` (which of its tables feeds the view, how params and rows map). Fetching the view
fans out to every branch the WHERE clause allows: `provider = 'aws'` calls no other cloud,
`region` and `endpointId` narrow each branch, and an open region or endpoint means the
provider's default region and every endpoint in it. A provider without credentials or without
a default region is skipped with a notice on the `vpnsql` logger, not an error.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from vpnsql.errors import CredentialsError, ParamError
from vpnsql.fetch import FetchFailed, run_calls
from vpnsql.planner import Call
from vpnsql.registry import Registry
from vpnsql.tables import Column, FetchRequest, Param, Provider, Row, Table, ViewBranch

VIEW = "vpn.client_connections"
log = logging.getLogger("vpnsql")


def fetch_client_connections(request: FetchRequest) -> Iterator[list[Row]]:
    """Every allowed branch, concurrently, each mapped onto the view's columns."""
    registry: Registry = request.settings.state["registry"]
    every = [
        (provider.name, branch)
        for provider in registry.providers.values()
        for branch in provider.view_branches
        if branch.view == VIEW
    ]
    _check_values(every, request)
    wanted = request.filters.get("provider")
    branches = [(name, branch) for name, branch in every if wanted is None or name in wanted]
    with ThreadPoolExecutor(max_workers=max(1, len(branches))) as pool:
        pages = list(pool.map(lambda named: _branch_rows(*named, request), branches))
    yield from pages


def _check_values(branches: list[tuple[str, ViewBranch]], request: FetchRequest) -> None:
    """A region or endpoint no cloud could have is a mistake, not an empty answer."""
    for view_param in ("region", "endpointId"):
        for value in request.filters.get(view_param, ()):
            params = [b.table.param(b.params[view_param]) for _, b in branches]
            if not any(p is not None and _accepts(p, value) for p in params):
                raise ParamError(f"{VIEW}: '{value}' is not a valid {view_param} on any cloud")


def _branch_rows(provider: str, branch: ViewBranch, request: FetchRequest) -> list[Row]:
    calls = _branch_calls(provider, branch, request)
    if not calls:
        return []
    try:
        fetched = run_calls(calls, request.settings)
    except (CredentialsError, FetchFailed) as err:
        failures = err.failures if isinstance(err, FetchFailed) else []
        if not all(isinstance(failure.error, CredentialsError) for failure in failures):
            raise
        log.warning("%s skipped: no credentials configured", provider)
        return []
    return [branch.row(row) for row in fetched[branch.table]]


def _branch_calls(provider: str, branch: ViewBranch, request: FetchRequest) -> list[Call]:
    """The branch table's calls for the view's region/endpointId values (or their defaults)."""
    table = branch.table
    values: dict[str, list[str]] = {}
    discover: list[Param] = []
    for view_param, table_param in branch.params.items():
        param = table.param(table_param)
        assert param is not None, f"{table.name} has no param {table_param}"
        given = request.filters.get(view_param)
        if given is not None:
            accepted = [v for v in given if _accepts(param, v)]
            if not accepted:
                return []  # the values name other clouds' regions or endpoints
            values[param.name] = accepted
        elif param.discover is not None:
            discover.append(param)
        else:
            default = param.default(request.settings) if param.default else None
            if default is None:
                log.warning("%s skipped: no default %s configured", provider, param.name)
                return []
            values[param.name] = [default]
    combos: list[dict[str, str]] = [{}]
    for name, options in values.items():
        combos = [{**combo, name: option} for combo in combos for option in options]
    order = [p.name for p in table.required_params]
    return [
        Call(
            table,
            tuple((name, combo[name]) for name in order if name in combo),
            discover=tuple(discover),
        )
        for combo in combos
    ]


def _accepts(param: Param, value: str) -> bool:
    try:
        param.validate(value)
    except ValueError:
        return False
    return True


CLIENT_CONNECTIONS = Table(
    provider="vpn",
    service="main",
    resource="client_connections",
    description=(
        "One row per VPN client connection on any cloud (AWS Client VPN, Alibaba Cloud "
        "SSL-VPN), with one meaning per column."
    ),
    columns=(
        Column("provider", "VARCHAR", "The cloud: aws or alibaba."),
        Column("region", "VARCHAR", "The region of the endpoint or gateway."),
        Column("endpointId", "VARCHAR", "The Client VPN endpoint (AWS) or VPN gateway (Alibaba)."),
        Column("connectionId", "VARCHAR", "The connection's ID; NULL on Alibaba, which has none."),
        Column("identity", "VARCHAR", "The user name, else the certificate's common name."),
        Column("privateIp", "VARCHAR", "The address assigned to the client inside the VPN."),
        Column("publicIp", "VARCHAR", "The client's public address; NULL on AWS (not reported)."),
        Column(
            "status",
            "VARCHAR",
            "active for a live connection (AWS active, Alibaba online), else the cloud's word.",
        ),
        Column("connectedAt", "TIMESTAMP", "When the connection was established (UTC)."),
        Column("endedAt", "TIMESTAMP", "When it ended (UTC); NULL while active or unknown."),
        Column("bytesFromClient", "BIGINT", "Bytes the client sent into the VPN."),
        Column("bytesToClient", "BIGINT", "Bytes the VPN sent to the client."),
    ),
    params=(
        Param("provider", "Only these clouds are called.", pattern=r"[a-z0-9_]+", example="aws"),
        Param("region", "Only these regions; else each cloud's default region."),
        Param("endpointId", "Only these endpoints or gateways; else every one of the region."),
    ),
    fetch=fetch_client_connections,
    examples=(
        "-- who is connected right now, on any cloud\n"
        "SELECT provider, region, identity, privateIp, connectedAt\n"
        "FROM vpn.client_connections WHERE status = 'active' ORDER BY connectedAt;",
        "-- top talkers across both clouds and several regions\n"
        "SELECT provider, identity, sum(bytesFromClient + bytesToClient) AS bytes\n"
        "FROM vpn.client_connections\n"
        "WHERE region IN ('us-east-1', 'eu-west-1', 'cn-hangzhou', 'eu-central-1')\n"
        "GROUP BY ALL ORDER BY bytes DESC LIMIT 10;",
    ),
)

PROVIDER = Provider(
    name="vpn",
    description="Cross-cloud views over the other providers' tables.",
    tables=(CLIENT_CONNECTIONS,),
)
