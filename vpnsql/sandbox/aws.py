"""AWS EC2 Client VPN for moto: the four actions moto 5.2 lacks, plus seeding.

moto answers ``CreateClientVpnEndpoint``, ``DescribeClientVpnEndpoints``,
``DescribeClientVpnConnections`` and ``TerminateClientVpnConnections`` with
``NotImplementedError``.  Importing this module grafts handlers for them onto moto's
``EC2Response`` (only those moto does not define itself, so a future moto wins) and keeps
their state in a moto ``BackendDict``, so ``mock_aws()`` and ``POST /moto-api/reset`` clear
it like any other moto state.  Responses are serialized by moto from botocore's own output
shapes, so the XML is what boto3 and the AWS CLI expect.

No AWS API creates client connections, so they are seeded:

* in-process with :func:`seed_connections` (and :func:`create_endpoint` for fixed IDs);
* from another process with ``POST /_vpnsql/seed`` on the sandbox server (see
  :func:`seed_from_json`), e.g.::

      curl -X POST http://127.0.0.1:PORT/_vpnsql/seed \\
           -d '{"region": "us-east-1", "endpoint_id": "cvpn-endpoint-0123456789abcdef0",
                "count": 1000, "users": 50, "seed": 7}'

  The JSON keys are the keyword arguments of :func:`seed_connections`; the answer is
  ``{"endpoint_id": ..., "connection_ids": [...]}`` (HTTP 400 with ``{"error": ...}`` on
  bad input).

Connection records take the API's field names (``ConnectionId``, ``Username``,
``CommonName``, ``ClientIp``, ``ClientIpv6Address``, ``ConnectionEstablishedTime``,
``ConnectionEndTime``, ``IngressBytes``/``EgressBytes``/``IngressPackets``/``EgressPackets``,
``Status`` (code or ``{"Code", "Message"}``), ``PostureComplianceStatuses``); anything left
out is generated.  Times are UTC, as ``datetime`` or ``"YYYY-MM-DD HH:MM:SS"``.
"""

from __future__ import annotations

import base64
import ipaddress
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, TypeVar

from moto import settings
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.responses import TYPE_RESPONSE, ActionContext, ActionResult
from moto.core.serialize import DefaultAttributePicker
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses import EC2Response
from moto.ec2.responses._base_response import EC2BaseResponse
from moto.moto_api._internal import mock_random, moto_api_backend

from . import connection_logs

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "client_vpn_backends",
    "create_endpoint",
    "generate_connection_log",
    "generate_log_from_json",
    "reset",
    "seed_connection_log",
    "seed_connections",
    "seed_from_json",
]

STATUS_CODES = ("active", "failed-to-terminate", "terminating", "terminated")
# DescribeClientVpnConnections only shows connections terminated within the last hour.
TERMINATED_RETENTION = timedelta(minutes=60)
# TerminateClientVpnConnections by Username only works up to this many connections.
USER_TERMINATE_LIMIT = 5
MIN_RESULTS, MAX_RESULTS = 5, 1000
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_CIDR = "10.0.0.0/16"
T = TypeVar("T")

CONNECTION_FIELDS = frozenset(
    {
        "ConnectionId",
        "Username",
        "CommonName",
        "ClientIp",
        "ClientIpv6Address",
        "ConnectionEstablishedTime",
        "ConnectionEndTime",
        "IngressBytes",
        "EgressBytes",
        "IngressPackets",
        "EgressPackets",
        "Status",
        "PostureComplianceStatuses",
    }
)
ENDPOINT_FIELDS = frozenset(
    {
        "ClientCidrBlock",
        "ServerCertificateArn",
        "AuthenticationOptions",
        "ConnectionLogOptions",
        "DnsServers",
        "TransportProtocol",
        "VpnPort",
        "Description",
        "SplitTunnel",
        "SecurityGroupIds",
        "VpcId",
        "SessionTimeoutHours",
    }
)


def _now() -> datetime:
    return datetime.now(UTC)


def _fmt(moment: datetime) -> str:
    return moment.strftime(TIME_FORMAT)


def _hex17(rng: random.Random) -> str:
    return f"{rng.getrandbits(68):017x}"


@dataclass(slots=True)
class Connection:
    """One client connection; slots keep 100k of them cheap to build and scan."""

    connection_id: str
    common_name: str
    client_ip: str
    established: datetime
    ingress_bytes: int
    egress_bytes: int
    ingress_packets: int
    egress_packets: int
    username: str | None = None
    client_ipv6: str | None = None
    posture: list[str] | None = None
    status: str = "active"
    status_message: str | None = None
    ended: datetime | None = None

    def visible(self, cutoff: datetime) -> bool:
        return self.status != "terminated" or self.ended is None or self.ended >= cutoff

    def to_api(self, endpoint_id: str, timestamp: str) -> dict[str, Any]:
        status: dict[str, str] = {"Code": self.status}
        if self.status_message:
            status["Message"] = self.status_message
        item: dict[str, Any] = {
            "ClientVpnEndpointId": endpoint_id,
            "Timestamp": timestamp,
            "ConnectionId": self.connection_id,
            "Username": self.username,
            "ConnectionEstablishedTime": _fmt(self.established),
            "IngressBytes": str(self.ingress_bytes),
            "EgressBytes": str(self.egress_bytes),
            "IngressPackets": str(self.ingress_packets),
            "EgressPackets": str(self.egress_packets),
            "ClientIp": self.client_ip,
            "ClientIpv6Address": self.client_ipv6,
            "CommonName": self.common_name,
            "Status": status,
            "ConnectionEndTime": _fmt(self.ended) if self.ended else "-",
            "PostureComplianceStatuses": self.posture,
        }
        return {key: value for key, value in item.items() if value is not None}


@dataclass
class Endpoint:
    """A Client VPN endpoint and its connections in seeding order (the paging order)."""

    endpoint_id: str
    region: str
    status: str
    created: datetime
    tags: dict[str, str]
    fields: dict[str, Any]
    account_id: str = DEFAULT_ACCOUNT_ID
    log_stream: str | None = None
    """The connection log stream the endpoint named itself (no CloudwatchLogStream given)."""
    connections: list[Connection] = field(default_factory=list)
    by_id: dict[str, Connection] = field(default_factory=dict)

    def add(self, connection: Connection) -> None:
        if connection.connection_id in self.by_id:
            raise ValueError(f"duplicate connection id {connection.connection_id}")
        self.connections.append(connection)
        self.by_id[connection.connection_id] = connection

    def to_api(self) -> dict[str, Any]:
        return {
            "ClientVpnEndpointId": self.endpoint_id,
            "Status": {"Code": self.status},
            "CreationTime": self.created.strftime("%Y-%m-%dT%H:%M:%S"),
            "DnsName": dns_name(self.endpoint_id, self.region),
            "VpnProtocol": "openvpn",
            **self.fields,
            "Tags": [{"Key": key, "Value": value} for key, value in self.tags.items()],
        }


def dns_name(endpoint_id: str, region: str) -> str:
    return f"*.{endpoint_id}.prod.clientvpn.{region}.amazonaws.com"


class ClientVpnBackend(BaseBackend):
    """Client VPN state of one account and region."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.endpoints: dict[str, Endpoint] = {}

    def create_endpoint(
        self,
        endpoint_id: str | None,
        status: str,
        tags: Mapping[str, str],
        fields: dict[str, Any],
    ) -> Endpoint:
        """Store an endpoint; ``fields`` come from :func:`endpoint_fields`."""
        endpoint_id = endpoint_id or f"cvpn-endpoint-{_hex17(mock_random)}"
        if endpoint_id in self.endpoints:
            raise ValueError(f"endpoint {endpoint_id} already exists in {self.region_name}")
        endpoint = Endpoint(
            endpoint_id=endpoint_id,
            region=self.region_name,
            status=status,
            created=_now(),
            tags=dict(tags),
            fields=fields,
            account_id=self.account_id,
        )
        connection_logs.open_log(endpoint, mock_random)
        self.endpoints[endpoint_id] = endpoint
        return endpoint

    def get(self, endpoint_id: str) -> Endpoint:
        try:
            return self.endpoints[endpoint_id]
        except KeyError:
            raise EC2ClientError(
                "InvalidClientVpnEndpointId.NotFound",
                f"The Client VPN endpoint ID '{endpoint_id}' does not exist",
            ) from None


client_vpn_backends: BackendDict[ClientVpnBackend] = BackendDict(ClientVpnBackend, "ec2")


def _backend(region: str, account_id: str) -> ClientVpnBackend:
    account = client_vpn_backends[account_id]
    if region not in account:
        raise ValueError(f"unknown AWS region {region!r}")
    return account[region]


def endpoint_fields(region: str, account_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validated, describe-shaped endpoint fields: request values over realistic defaults."""
    unknown = set(fields) - ENDPOINT_FIELDS
    if unknown:
        raise ValueError(f"unknown endpoint fields: {sorted(unknown)}")
    values: dict[str, Any] = {
        "ClientCidrBlock": DEFAULT_CIDR,
        "ServerCertificateArn": (
            f"arn:aws:acm:{region}:{account_id}:certificate/{mock_random.uuid4()}"
        ),
        "AuthenticationOptions": [{"Type": "certificate-authentication"}],
        "ConnectionLogOptions": {"Enabled": False},
        "TransportProtocol": "udp",
        "VpnPort": 443,
        "SplitTunnel": False,
        "SessionTimeoutHours": 24,
        **fields,
    }
    _check_cidr(values["ClientCidrBlock"])
    values["AuthenticationOptions"] = [_auth_option(o) for o in values["AuthenticationOptions"]]
    return values


def _check_cidr(cidr: str) -> None:
    try:
        network = ipaddress.IPv4Network(cidr)
    except ValueError:
        raise EC2ClientError(
            "InvalidParameterValue", f"Value ({cidr}) for parameter clientCidrBlock is invalid."
        ) from None
    if not 12 <= network.prefixlen <= 22:
        raise EC2ClientError(
            "InvalidParameterValue",
            f"Value ({cidr}) for parameter clientCidrBlock is invalid. "
            "The CIDR block size must be between /12 and /22.",
        )


def _auth_option(request: Mapping[str, Any]) -> dict[str, Any]:
    """Map a ClientVpnAuthenticationRequest onto the ClientVpnAuthentication it describes as."""
    option: dict[str, Any] = {"Type": request["Type"]}
    if directory := request.get("ActiveDirectory"):
        option["ActiveDirectory"] = {"DirectoryId": directory.get("DirectoryId")}
    if mutual := request.get("MutualAuthentication"):
        chain = mutual.get("ClientRootCertificateChainArn")
        option["MutualAuthentication"] = {"ClientRootCertificateChain": chain}
    if federated := request.get("FederatedAuthentication"):
        option["FederatedAuthentication"] = {
            "SamlProviderArn": federated.get("SAMLProviderArn"),
            "SelfServiceSamlProviderArn": federated.get("SelfServiceSAMLProviderArn"),
        }
    return option


# ---------------------------------------------------------------------------- seeding


def create_endpoint(
    region: str,
    endpoint_id: str | None = None,
    *,
    account_id: str = DEFAULT_ACCOUNT_ID,
    status: str = "pending-associate",
    tags: Mapping[str, str] | None = None,
    **fields: Any,
) -> str:
    """Create an endpoint in-process, optionally with a fixed ID (demo data needs stable IDs).

    ``fields`` are CreateClientVpnEndpoint request parameters (``Description``,
    ``ClientCidrBlock``, ``AuthenticationOptions``, ``TransportProtocol``, ...).
    """
    backend = _backend(region, account_id)
    described = endpoint_fields(region, account_id, fields)
    return backend.create_endpoint(endpoint_id, status, tags or {}, described).endpoint_id


def seed_connections(
    region: str,
    endpoint_id: str,
    count: int | None = None,
    *,
    connections: Iterable[Mapping[str, Any]] | None = None,
    status: str = "active",
    account_id: str = DEFAULT_ACCOUNT_ID,
    users: int = 0,
    seed: int | None = None,
) -> list[str]:
    """Add connections to an endpoint (created, ``available``, if missing); return their IDs.

    ``connections`` are explicit records (API field names, gaps generated); ``count`` more
    are generated. Generated ones are certificate-only unless ``users`` > 0, which spreads
    them over AD usernames ``user0000``..; ``status`` applies wherever none is given;
    ``seed`` makes generated values reproducible.
    """
    if status not in STATUS_CODES:
        raise ValueError(f"status must be one of {STATUS_CODES}")
    if count is not None and count < 0:
        raise ValueError("count must be >= 0")
    backend = _backend(region, account_id)
    if endpoint_id not in backend.endpoints:
        backend.create_endpoint(
            endpoint_id, "available", {}, endpoint_fields(region, account_id, {})
        )
    endpoint = backend.endpoints[endpoint_id]
    factory = _ConnectionFactory(endpoint, random.Random(seed), status, users)
    records = [*(connections or ()), *({} for _ in range(count or 0))]
    built = [factory.build(record) for record in records]
    for connection in built:
        endpoint.add(connection)
        connection_logs.log_attempt(endpoint, connection)
        if connection.ended is not None:
            connection_logs.log_reset(endpoint, connection)
    return [connection.connection_id for connection in built]


def seed_connection_log(
    region: str,
    endpoint_id: str,
    records: Iterable[Mapping[str, Any]],
    *,
    account_id: str = DEFAULT_ACCOUNT_ID,
    seed: int | None = None,
) -> list[str]:
    """Log connections the endpoint no longer lists, as connection log entries only: ended
    ones (a ``ConnectionEndTime``: their connection-attempt and connection-reset entries) and
    refused attempts (a ``FailureReason`` such as ``client-connect-failed``: one failed
    connection-attempt entry). Records take connection record fields; returns their IDs."""
    endpoint = _backend(region, account_id).get(endpoint_id)
    factory = _ConnectionFactory(endpoint, random.Random(seed), "terminated", 0)
    ids = []
    for record in records:
        fields = dict(record)
        reason = fields.pop("FailureReason", None)
        if reason is None and "ConnectionEndTime" not in fields:
            raise ValueError("a logged connection needs a ConnectionEndTime or a FailureReason")
        connection = factory.build(fields)
        connection_logs.log_attempt(endpoint, connection, failure=reason)
        if reason is None:
            connection_logs.log_reset(endpoint, connection)
        ids.append(connection.connection_id)
    return ids


def generate_connection_log(
    region: str,
    endpoint_id: str,
    *,
    days: float,
    per_day: int,
    seed: int = 0,
    log_group: str = "/aws/clientvpn/generated",
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> int:
    """Give an endpoint (created, ``available``, logging to ``log_group`` stream ``vpn``, if
    missing) a connection log of ``days`` x ``per_day`` synthetic entries up to now, computed
    when read, so a million of them cost no memory (benchmarks). Returns their count."""
    backend = _backend(region, account_id)
    if endpoint_id not in backend.endpoints:
        logs = {"Enabled": True, "CloudwatchLogGroup": log_group, "CloudwatchLogStream": "vpn"}
        connection_logs.log_stream(account_id, region, log_group, "vpn")
        fields = endpoint_fields(region, account_id, {"ConnectionLogOptions": logs})
        backend.create_endpoint(endpoint_id, "available", {}, fields)
    endpoint = backend.endpoints[endpoint_id]
    return connection_logs.generate_log(endpoint, days=days, per_day=per_day, seed=seed)


def seed_from_json(payload: Any) -> dict[str, Any]:
    """Body of ``POST /_vpnsql/seed``: keyword arguments of :func:`seed_connections`."""
    if not isinstance(payload, dict):
        raise ValueError("body must be a JSON object")
    missing = {"region", "endpoint_id"} - set(payload)
    if missing:
        raise ValueError(f"missing keys: {sorted(missing)}")
    ids = seed_connections(**payload)
    # The count and a few IDs, not every one: a seed of 100,000 would echo megabytes.
    return {"endpoint_id": payload["endpoint_id"], "seeded": len(ids), "first_ids": ids[:5]}


def generate_log_from_json(payload: Any) -> dict[str, Any]:
    """Body of ``POST /_vpnsql/generate-log``: keyword arguments of
    :func:`generate_connection_log`; answers ``{"events": count}``."""
    if not isinstance(payload, dict):
        raise ValueError("body must be a JSON object")
    missing = {"region", "endpoint_id", "days", "per_day"} - set(payload)
    if missing:
        raise ValueError(f"missing keys: {sorted(missing)}")
    region, endpoint_id = payload.pop("region"), payload.pop("endpoint_id")
    return {"events": generate_connection_log(region, endpoint_id, **payload)}


def reset() -> None:
    """Wipe all moto state in this process (Client VPN included), like POST /moto-api/reset."""
    moto_api_backend.reset()


class _ConnectionFactory:
    """Fills the gaps of connection records with plausible, fast-to-generate values."""

    def __init__(self, endpoint: Endpoint, rng: random.Random, status: str, users: int) -> None:
        network = ipaddress.IPv4Network(endpoint.fields["ClientCidrBlock"])
        self._first_host = int(network.network_address) + 1
        self._hosts = max(network.num_addresses - 2, 1)
        self._position = len(endpoint.connections)
        self._rng = rng
        self._status = status
        self._users = users
        self._now = _now()

    def build(self, record: Mapping[str, Any]) -> Connection:
        unknown = set(record) - CONNECTION_FIELDS
        if unknown:
            raise ValueError(f"unknown connection fields: {sorted(unknown)}")
        rng, position = self._rng, self._position
        self._position += 1
        code, message = _status(record.get("Status", self._status))
        username = record.get("Username", self._username(position))
        ended = _time_or_none(record.get("ConnectionEndTime"))
        if code == "terminated" and ended is None:
            ended = self._now - timedelta(seconds=rng.randrange(1, 3300))
        established = _time_or_none(record.get("ConnectionEstablishedTime"))
        if established is None:
            established = (ended or self._now) - timedelta(seconds=rng.randrange(5, 43200))
        ingress = _count(record, "IngressBytes", lambda: int(10 ** (2 + 8 * rng.random())))
        egress = _count(record, "EgressBytes", lambda: int(10 ** (2 + 8 * rng.random())))
        return Connection(
            connection_id=record.get("ConnectionId") or f"cvpn-connection-{_hex17(rng)}",
            common_name=record.get("CommonName") or username or f"client{position}.domain.tld",
            client_ip=record.get("ClientIp") or self._client_ip(position),
            established=established,
            ingress_bytes=ingress,
            egress_bytes=egress,
            ingress_packets=_count(record, "IngressPackets", lambda: ingress // 700 + 1),
            egress_packets=_count(record, "EgressPackets", lambda: egress // 900 + 1),
            username=username,
            client_ipv6=record.get("ClientIpv6Address"),
            posture=_posture(record.get("PostureComplianceStatuses")),
            status=code,
            status_message=message,
            ended=ended,
        )

    def _username(self, position: int) -> str | None:
        return f"user{position % self._users:04d}" if self._users else None

    def _client_ip(self, position: int) -> str:
        return str(ipaddress.IPv4Address(self._first_host + position % self._hosts))


def _status(value: str | Mapping[str, str]) -> tuple[str, str | None]:
    code, message = (
        (value, None) if isinstance(value, str) else (value["Code"], value.get("Message"))
    )
    if code not in STATUS_CODES:
        raise ValueError(f"status must be one of {STATUS_CODES}, not {code!r}")
    return code, message


def _time_or_none(value: datetime | str | None) -> datetime | None:
    if value is None or value == "-":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _count(record: Mapping[str, Any], key: str, generate: Callable[[], int]) -> int:
    return int(record[key]) if key in record else generate()


def _posture(value: Iterable[str] | None) -> list[str] | None:
    return None if value is None else [str(item) for item in value]


# ---------------------------------------------------------------------------- actions


class _Result(ActionResult):
    """A result already keyed by the API's member names.

    moto's serializer then needs only its plain picker, skipping the alias search and
    EC2 transformers it runs per value, which would otherwise dominate a 1000-row page.
    """

    def execute_result(self, context: ActionContext) -> TYPE_RESPONSE:
        serializer = context.serializer_class(
            operation_model=context.operation_model,
            pretty_print=settings.PRETTIFY_RESPONSES,
            value_picker=DefaultAttributePicker(),
        )
        serialized = serializer.serialize(self.result)
        return serialized["status_code"], serialized["headers"], serialized["body"]


def _create_client_vpn_endpoint(self: EC2BaseResponse) -> _Result:
    tags = self._parse_tag_specification("client-vpn-endpoint").get("client-vpn-endpoint", {})
    fields = {name: self._get_param(name) for name in ENDPOINT_FIELDS}
    fields = {name: value for name, value in fields.items() if value is not None}
    described = endpoint_fields(self.region, self.current_account, fields)
    self.error_on_dryrun()
    backend = client_vpn_backends[self.current_account][self.region]
    endpoint = backend.create_endpoint(None, "pending-associate", tags, described)
    return _Result(
        {
            "ClientVpnEndpointId": endpoint.endpoint_id,
            "Status": {"Code": endpoint.status},
            "DnsName": dns_name(endpoint.endpoint_id, endpoint.region),
        }
    )


def _describe_client_vpn_endpoints(self: EC2BaseResponse) -> _Result:
    backend = client_vpn_backends[self.current_account][self.region]
    wanted = self._get_param("ClientVpnEndpointIds") or []
    endpoints = [backend.get(endpoint_id) for endpoint_id in wanted] or list(
        backend.endpoints.values()
    )
    filters = _filters(self, _ENDPOINT_KEYS)
    start, limit = _paging(self, f"endpoints/{self.region}", len(endpoints))
    self.error_on_dryrun()

    def matches(endpoint: Endpoint) -> bool:
        return all(_ENDPOINT_KEYS[name](endpoint) in values for name, values in filters)

    page, next_position = _page(endpoints, start, limit, matches)
    result: dict[str, Any] = {"ClientVpnEndpoints": [endpoint.to_api() for endpoint in page]}
    if next_position is not None:
        result["NextToken"] = _token(f"endpoints/{self.region}", next_position)
    return _Result(result)


def _describe_client_vpn_connections(self: EC2BaseResponse) -> _Result:
    endpoint_id = self._get_param("ClientVpnEndpointId")
    endpoint = client_vpn_backends[self.current_account][self.region].get(endpoint_id)
    filters = _filters(self, _CONNECTION_KEYS)
    start, limit = _paging(self, endpoint_id, len(endpoint.connections))
    self.error_on_dryrun()
    now = _now()
    cutoff = now - TERMINATED_RETENTION

    def matches(connection: Connection) -> bool:
        return connection.visible(cutoff) and all(
            _CONNECTION_KEYS[name](connection) in values for name, values in filters
        )

    page, next_position = _page(endpoint.connections, start, limit, matches)
    timestamp = _fmt(now)
    result: dict[str, Any] = {"Connections": [c.to_api(endpoint_id, timestamp) for c in page]}
    if next_position is not None:
        result["NextToken"] = _token(endpoint_id, next_position)
    return _Result(result)


def _terminate_client_vpn_connections(self: EC2BaseResponse) -> _Result:
    endpoint_id = self._get_param("ClientVpnEndpointId")
    endpoint = client_vpn_backends[self.current_account][self.region].get(endpoint_id)
    connection_id = self._get_param("ConnectionId")
    username = self._get_param("Username")
    targets = _termination_targets(endpoint, connection_id, username)
    self.error_on_dryrun()
    now = _now()
    statuses = [_terminate(connection, now) for connection in targets]
    for connection, status in zip(targets, statuses, strict=True):
        if status["PreviousStatus"]["Code"] == "active":
            connection_logs.log_reset(endpoint, connection)
    result: dict[str, Any] = {
        "ClientVpnEndpointId": endpoint_id,
        "Username": username or targets[0].username,
        "ConnectionStatuses": statuses,
    }
    return _Result({key: value for key, value in result.items() if value is not None})


def _termination_targets(
    endpoint: Endpoint, connection_id: str | None, username: str | None
) -> list[Connection]:
    if connection_id and username:
        raise EC2ClientError(
            "InvalidParameterCombination", "Specify either ConnectionId or Username, not both."
        )
    if connection_id:
        if connection_id not in endpoint.by_id:
            raise EC2ClientError(
                "InvalidClientVpnConnection.IdNotFound",
                f"The connection ID '{connection_id}' does not exist",
            )
        return [endpoint.by_id[connection_id]]
    if not username:
        raise EC2ClientError(
            "MissingParameter", "Either ConnectionId or Username must be specified."
        )
    active = [c for c in endpoint.connections if c.username == username and c.status == "active"]
    if not active:
        raise EC2ClientError(
            "InvalidClientVpnConnection.UserNotFound",
            "The specified user does not have an active connection to the specified "
            "Client VPN endpoint.",
        )
    if len(active) > USER_TERMINATE_LIMIT:
        raise EC2ClientError(
            "ClientVpnTerminateConnectionsLimitExceeded",
            f"User '{username}' has {len(active)} active connections; terminating by "
            f"username is limited to {USER_TERMINATE_LIMIT}. Terminate by ConnectionId.",
        )
    return active


def _terminate(connection: Connection, now: datetime) -> dict[str, Any]:
    """Terminate an active connection; the API reports it ``terminating`` meanwhile."""
    previous = connection.status
    current = previous
    if previous == "active":
        connection.status, connection.ended, current = "terminated", now, "terminating"
    return {
        "ConnectionId": connection.connection_id,
        "PreviousStatus": {"Code": previous},
        "CurrentStatus": {"Code": current},
    }


# Filter names each describe action accepts, and the value each one tests.
_ENDPOINT_KEYS: dict[str, Callable[[Endpoint], Any]] = {
    "endpoint-id": attrgetter("endpoint_id"),
    "transport-protocol": lambda endpoint: endpoint.fields["TransportProtocol"],
}
_CONNECTION_KEYS: dict[str, Callable[[Connection], Any]] = {
    "connection-id": attrgetter("connection_id"),
    "username": attrgetter("username"),
}


def _filters(response: EC2BaseResponse, allowed: Mapping[str, Any]) -> list[tuple[str, set[str]]]:
    """Filters as (name, accepted values): values OR-ed, filters AND-ed, like EC2."""
    parsed = []
    for item in response._get_param("Filters") or []:
        name = item.get("Name")
        if name not in allowed:
            raise EC2ClientError("InvalidParameterValue", f"The filter '{name}' is invalid")
        parsed.append((name, set(item.get("Values") or [])))
    return parsed


def _paging(response: EC2BaseResponse, scope: str, size: int) -> tuple[int, int]:
    """Validated (start position, page size) from NextToken and MaxResults."""
    limit = response._get_param("MaxResults")
    if limit is None:
        limit = MAX_RESULTS
    elif not MIN_RESULTS <= limit <= MAX_RESULTS:
        raise EC2ClientError(
            "InvalidParameterValue",
            f"Value ( {limit} ) for parameter maxResults is invalid. "
            f"Parameter must be between {MIN_RESULTS} and {MAX_RESULTS}.",
        )
    token = response._get_param("NextToken")
    return (0 if token is None else _position(token, scope, size)), limit


def _token(scope: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{scope}:{position}".encode()).decode()


def _position(token: str, scope: str, size: int) -> int:
    """Decode a NextToken minted for this scope; anything else is InvalidNextToken."""
    try:
        token_scope, _, position = base64.urlsafe_b64decode(token).decode().rpartition(":")
        if token_scope == scope and 0 < int(position) <= size:
            return int(position)
    except ValueError:
        pass
    raise EC2ClientError("InvalidNextToken", f"The token '{token}' is invalid.")


def _page(
    items: list[T], start: int, limit: int, matches: Callable[[T], bool]
) -> tuple[list[T], int | None]:
    """Up to ``limit`` matches from ``start``; the scan resumes where it stopped, so paging
    through everything stays linear."""
    page: list[T] = []
    position = start
    while position < len(items) and len(page) < limit:
        if matches(items[position]):
            page.append(items[position])
        position += 1
    return page, (position if position < len(items) else None)


_ACTIONS: dict[str, Callable[[EC2BaseResponse], _Result]] = {
    "create_client_vpn_endpoint": _create_client_vpn_endpoint,
    "describe_client_vpn_endpoints": _describe_client_vpn_endpoints,
    "describe_client_vpn_connections": _describe_client_vpn_connections,
    "terminate_client_vpn_connections": _terminate_client_vpn_connections,
}


def _install() -> None:
    """Graft the actions onto moto's EC2Response, leaving any moto implements alone."""
    for name, action in _ACTIONS.items():
        if not hasattr(EC2Response, name):
            setattr(EC2Response, name, action)


_install()
