"""Deterministic demo data for the sandbox: Client VPN endpoints of three accounts.

The management account (123456789012, the sandbox's default credentials) has four endpoints
in two regions; the Organization's members `prod` and `research` (see estate.py) have their
own, reached by assuming OrganizationAccountAccessRole.

=================  ===================================  =========  ================  =====
account            endpoint id                          region     authentication    conns
=================  ===================================  =========  ================  =====
management         ``cvpn-endpoint-0a1b2c3d4e5f60001``  us-east-1  Active Directory    180
management         ``cvpn-endpoint-0a1b2c3d4e5f60002``  us-east-1  certificate          60
management         ``cvpn-endpoint-0a1b2c3d4e5f60003``  eu-west-1  AD + certificate    100
management         ``cvpn-endpoint-0a1b2c3d4e5f60004``  eu-west-1  certificate (*)       0
prod 234567890123  ``cvpn-endpoint-0b2c3d4e5f6a70001``  us-east-1  Active Directory     45
prod 234567890123  ``cvpn-endpoint-0b2c3d4e5f6a70002``  eu-west-1  AD + certificate     30
research 3456...   ``cvpn-endpoint-0c3d4e5f6a7b80001``  us-east-1  certificate          20
=================  ===================================  =========  ================  =====

(*) pending-associate; every other endpoint is available.

Connection logs (ConnectionLogOptions): 0001 to ``/aws/clientvpn/corporate`` stream ``vpn``,
0002 to ``/aws/clientvpn/contractors`` with no stream named (the endpoint writes to one it
names itself), 0003 to ``/aws/clientvpn/eu-office`` stream ``vpn``, prod's us-east-1 endpoint
to ``/aws/clientvpn/prod`` stream ``vpn`` in its own account; the others have logging off.

Every listed connection is visible to DescribeClientVpnConnections: most are ``active``,
about one in eight ``terminated`` within the last hour (with a ``ConnectionEndTime``).  AD
connections carry a ``Username`` (a few heavy users own more than five connections, so
terminating them by username is refused); certificate ones only a ``CommonName`` such as
``client7.domain.tld``.  Byte counts span 1 KB to 10 GB; a few connections have an IPv6
address or posture-compliance statuses.  A seeded RNG fixes every value except times,
which are offsets from the moment of loading.

Endpoints with a connection log also have a week of history there: sessions that ended more
than an hour ago (which DescribeClientVpnConnections no longer lists) and refused attempts
with AWS's failure reasons, besides the entries of the listed connections themselves.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.logs.models import logs_backends

from .aws import (
    DEFAULT_ACCOUNT_ID,
    client_vpn_backends,
    create_endpoint,
    seed_connection_log,
    seed_connections,
)
from .connection_logs import FAILURE_REASONS
from .estate import MEMBERS

DEMO_SEED = 20240601
DEMO_ACCOUNT_ID = DEFAULT_ACCOUNT_ID
PROD_ACCOUNT_ID, RESEARCH_ACCOUNT_ID = (member.account_id for member in MEMBERS)
DEMO_REGIONS = ("us-east-1", "eu-west-1")
# The README quick-start queries this one.
DEMO_ENDPOINT_ID = "cvpn-endpoint-0a1b2c3d4e5f60001"
DEMO_CONTRACTORS_ENDPOINT_ID = "cvpn-endpoint-0a1b2c3d4e5f60002"
DEMO_EU_ENDPOINT_ID = "cvpn-endpoint-0a1b2c3d4e5f60003"
DEMO_EU_IDLE_ENDPOINT_ID = "cvpn-endpoint-0a1b2c3d4e5f60004"

_FIRST = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
_LAST = ("ng", "smith", "garcia", "kowalski", "mueller", "tanaka")
USERNAMES = tuple(f"{first}.{last}" for last in _LAST for first in _FIRST)
# Zipf-like weights: a few heavy users, a long tail of occasional ones.
_USER_WEIGHTS = [1 / (rank + 1) for rank in range(len(USERNAMES))]
POSTURE_SETS = (
    ("compliant",),
    ("non-compliant", "os-outdated"),
    ("non-compliant", "disk-unencrypted"),
)


@dataclass(frozen=True)
class DemoEndpoint:
    endpoint_id: str
    region: str
    description: str
    auth: str  # "directory", "certificate" or "mixed"
    status: str
    connections: int
    cidr: str
    transport: str
    account_id: str = DEMO_ACCOUNT_ID
    log_group: str | None = None
    log_stream: str | None = None
    history: int = 0  # sessions over the last week that ended more than an hour ago
    refused: int = 0  # refused connection attempts over the last week


DEMO_ENDPOINTS = (
    DemoEndpoint(
        endpoint_id=DEMO_ENDPOINT_ID,
        region="us-east-1",
        description="Corporate remote access",
        auth="directory",
        status="available",
        connections=180,
        cidr="10.100.0.0/22",
        transport="udp",
        log_group="/aws/clientvpn/corporate",
        log_stream="vpn",
        history=400,
        refused=30,
    ),
    DemoEndpoint(
        endpoint_id=DEMO_CONTRACTORS_ENDPOINT_ID,
        region="us-east-1",
        description="Contractors",
        auth="certificate",
        status="available",
        connections=60,
        cidr="10.101.0.0/22",
        transport="tcp",
        log_group="/aws/clientvpn/contractors",
        history=120,
        refused=10,
    ),
    DemoEndpoint(
        endpoint_id=DEMO_EU_ENDPOINT_ID,
        region="eu-west-1",
        description="EU office",
        auth="mixed",
        status="available",
        connections=100,
        cidr="10.200.0.0/22",
        transport="udp",
        log_group="/aws/clientvpn/eu-office",
        log_stream="vpn",
        history=200,
        refused=12,
    ),
    DemoEndpoint(
        endpoint_id=DEMO_EU_IDLE_ENDPOINT_ID,
        region="eu-west-1",
        description="EU staging (not yet associated)",
        auth="certificate",
        status="pending-associate",
        connections=0,
        cidr="10.201.0.0/22",
        transport="udp",
    ),
    DemoEndpoint(
        endpoint_id="cvpn-endpoint-0b2c3d4e5f6a70001",
        region="us-east-1",
        description="Production remote access",
        auth="directory",
        status="available",
        connections=45,
        cidr="10.110.0.0/22",
        transport="udp",
        account_id=PROD_ACCOUNT_ID,
        log_group="/aws/clientvpn/prod",
        log_stream="vpn",
        history=80,
        refused=6,
    ),
    DemoEndpoint(
        endpoint_id="cvpn-endpoint-0b2c3d4e5f6a70002",
        region="eu-west-1",
        description="Production EU",
        auth="mixed",
        status="available",
        connections=30,
        cidr="10.210.0.0/22",
        transport="udp",
        account_id=PROD_ACCOUNT_ID,
    ),
    DemoEndpoint(
        endpoint_id="cvpn-endpoint-0c3d4e5f6a7b80001",
        region="us-east-1",
        description="Research lab",
        auth="certificate",
        status="available",
        connections=20,
        cidr="10.120.0.0/22",
        transport="tcp",
        account_id=RESEARCH_ACCOUNT_ID,
    ),
)
DEMO_CONNECTION_COUNT = sum(
    endpoint.connections for endpoint in DEMO_ENDPOINTS if endpoint.account_id == DEMO_ACCOUNT_ID
)
"""The default account's connections (what vpnsql without a config file sees)."""
HISTORY_DAYS = 7


def load() -> None:
    """(Re)create the demo endpoints, replacing any earlier copy so state is always pristine."""
    now = datetime.now(UTC)
    for index, spec in enumerate(DEMO_ENDPOINTS):
        account_id = spec.account_id
        client_vpn_backends[account_id][spec.region].endpoints.pop(spec.endpoint_id, None)
        _fresh_log_group(spec, account_id)
        create_endpoint(
            spec.region,
            spec.endpoint_id,
            account_id=account_id,
            status=spec.status,
            tags={"Name": spec.description, "vpnsql:demo": "true"},
            Description=spec.description,
            ClientCidrBlock=spec.cidr,
            ServerCertificateArn=_certificate_arn(spec, account_id, index + 1),
            TransportProtocol=spec.transport,
            AuthenticationOptions=_auth_options(spec, account_id),
            DnsServers=["10.0.0.2"],
            SplitTunnel=spec.auth != "directory",
            ConnectionLogOptions=_log_options(spec),
        )
        rng = random.Random(DEMO_SEED + index)
        records = [_connection(rng, spec, position, now) for position in range(spec.connections)]
        seed_connections(spec.region, spec.endpoint_id, connections=records, account_id=account_id)
        history = random.Random(DEMO_SEED + 100 + index)  # the connections stay as they were
        past = [_past(history, spec, position, now) for position in range(spec.history)]
        past += [_refused(history, spec, now) for _ in range(spec.refused)]
        seed_connection_log(spec.region, spec.endpoint_id, past, account_id=account_id)


def _fresh_log_group(spec: DemoEndpoint, account_id: str) -> None:
    if spec.log_group is not None:
        backend = logs_backends[account_id][spec.region]
        backend.groups.pop(spec.log_group, None)
        backend.create_log_group(spec.log_group, {"vpnsql:demo": "true"})


def _log_options(spec: DemoEndpoint) -> dict[str, Any]:
    if spec.log_group is None:
        return {"Enabled": False}
    options: dict[str, Any] = {"Enabled": True, "CloudwatchLogGroup": spec.log_group}
    if spec.log_stream is not None:
        options["CloudwatchLogStream"] = spec.log_stream
    return options


def _auth_options(spec: DemoEndpoint, account_id: str) -> list[dict[str, Any]]:
    directory = {
        "Type": "directory-service-authentication",
        "ActiveDirectory": {"DirectoryId": "d-9067a1b2c3"},
    }
    certificate = {
        "Type": "certificate-authentication",
        "MutualAuthentication": {
            "ClientRootCertificateChainArn": _certificate_arn(spec, account_id, 0)
        },
    }
    return {
        "directory": [directory],
        "certificate": [certificate],
        "mixed": [certificate, directory],
    }[spec.auth]


def _certificate_arn(spec: DemoEndpoint, account_id: str, number: int) -> str:
    """Fixed ACM ARNs (0: the client CA, n: endpoint n's server certificate)."""
    return (
        f"arn:aws:acm:{spec.region}:{account_id}:certificate/0a1b2c3d-4e5f-4a6b-8c7d-{number:012d}"
    )


def _connection(
    rng: random.Random, spec: DemoEndpoint, position: int, now: datetime
) -> dict[str, Any]:
    """One plausible connection; every draw comes from ``rng`` so reloads are identical."""
    network = ipaddress.IPv4Network(spec.cidr)
    terminated = rng.random() < 0.125
    ended = now - timedelta(seconds=rng.randrange(30, 3300))
    established = (ended if terminated else now) - timedelta(seconds=rng.randrange(20, 172800))
    ingress = int(10 ** rng.uniform(3, 10))
    egress = int(10 ** rng.uniform(3, 10))
    record: dict[str, Any] = {
        "ConnectionId": f"cvpn-connection-{rng.getrandbits(68):017x}",
        "CommonName": f"client{rng.randint(1, 40)}.domain.tld",
        "ClientIp": str(network.network_address + 2 + position),
        "ConnectionEstablishedTime": established,
        "IngressBytes": ingress,
        "EgressBytes": egress,
        "IngressPackets": ingress // rng.randint(300, 1400) + 1,
        "EgressPackets": egress // rng.randint(300, 1400) + 1,
        "Status": "terminated" if terminated else "active",
    }
    if terminated:
        record["ConnectionEndTime"] = ended
    if username := _username(rng, spec):
        record["Username"] = record["CommonName"] = username
    if rng.random() < 0.06:
        record["ClientIpv6Address"] = f"2001:db8:{position:x}::{rng.getrandbits(16):x}"
    if rng.random() < 0.1:
        record["PostureComplianceStatuses"] = list(rng.choice(POSTURE_SETS))
    return record


def _past(rng: random.Random, spec: DemoEndpoint, position: int, now: datetime) -> dict[str, Any]:
    """A session of the last week that ended more than an hour ago (only in the log)."""
    network = ipaddress.IPv4Network(spec.cidr)
    established = now - timedelta(seconds=rng.randrange(2 * 3600, HISTORY_DAYS * 86400))
    duration = timedelta(seconds=int(60 * 10 ** rng.uniform(0.5, 2.7)))  # 3 min to 8 h
    ended = min(established + duration, now - timedelta(minutes=rng.randrange(65, 120)))
    ingress = int(10 ** rng.uniform(4, 9.5))
    egress = int(10 ** rng.uniform(4, 9.5))
    record: dict[str, Any] = {
        "ConnectionId": f"cvpn-connection-{rng.getrandbits(68):017x}",
        "CommonName": f"client{rng.randint(1, 40)}.domain.tld",
        "ClientIp": str(network.network_address + 2 + position % 1000),
        "ConnectionEstablishedTime": established,
        "ConnectionEndTime": max(ended, established + timedelta(seconds=30)),
        "IngressBytes": ingress,
        "EgressBytes": egress,
        "IngressPackets": ingress // rng.randint(300, 1400) + 1,
        "EgressPackets": egress // rng.randint(300, 1400) + 1,
        "Status": "terminated",
    }
    if username := _username(rng, spec):
        record["Username"] = record["CommonName"] = username
    return record


def _refused(rng: random.Random, spec: DemoEndpoint, now: datetime) -> dict[str, Any]:
    """A refused attempt of the last week, with one of AWS's failure reasons."""
    record: dict[str, Any] = {
        "ConnectionId": f"cvpn-connection-{rng.getrandbits(68):017x}",
        "CommonName": f"client{rng.randint(1, 60)}.domain.tld",
        "ConnectionEstablishedTime": now
        - timedelta(seconds=rng.randrange(600, HISTORY_DAYS * 86400)),
        "FailureReason": rng.choice(FAILURE_REASONS),
    }
    if username := _username(rng, spec):
        record["Username"] = record["CommonName"] = username
    return record


def _username(rng: random.Random, spec: DemoEndpoint) -> str | None:
    if spec.auth == "directory" or (spec.auth == "mixed" and rng.random() < 0.5):
        return rng.choices(USERNAMES, _USER_WEIGHTS)[0]
    return None
