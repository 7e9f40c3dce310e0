"""Alibaba Cloud VPC for the sandbox: a loopback HTTP server speaking the SDK's own wire format.

No mock library exists for Alibaba Cloud, so vpnsql ships this emulator of the two VPC actions
it reads, DescribeSslVpnClients and DescribeVpnGateways (API version 2016-04-28). It imports
no Alibaba SDK, so it checks the SDK from the outside.

What the SDK (alibabacloud-tea-openapi 0.4) sends for these RPC-style actions:

* V3 signature, the default (``ACS3-HMAC-SHA256``): ``POST /?PageNumber=1&RegionId=...`` with
  an empty body; headers ``host``, ``x-acs-action``, ``x-acs-version``, ``x-acs-date``
  (``%Y-%m-%dT%H:%M:%SZ``), ``x-acs-signature-nonce``, ``x-acs-content-sha256`` (hex SHA-256
  of the body) and ``Authorization: ACS3-HMAC-SHA256 Credential=<key id>,SignedHeaders=a;b,
  Signature=<hex>``.
* V2 signature (``Config(signature_algorithm="v2")``, HMAC-SHA1): ``POST /?Action=...
  &Version=...&Format=json&Timestamp=...&SignatureNonce=...&SignatureMethod=HMAC-SHA1
  &SignatureVersion=1.0&AccessKeyId=...&Signature=<base64>`` plus the action's params.

Signatures are verified against ``access_keys`` with a 15-minute clock window and single-use
nonces, so a wrong secret fails as on Alibaba Cloud: HTTP 400 ``SignatureDoesNotMatch``. Every
answer is JSON; errors carry ``RequestId``, ``HostId``, ``Code`` and ``Message``, which the SDK
raises as ClientException (4xx) or ServerException (5xx) with that code.

Unsigned admin routes, for tests and demos:

* ``POST /_vpnsql/seed``: the keyword arguments of :meth:`Emulator.seed_clients`, e.g.
  ``{"region": "cn-hangzhou", "gateway_id": "vpn-bp1...", "count": 500, "seed": 7}``;
* ``POST /_vpnsql/inject``: ``{"code": "Throttling.User", "count": 3}`` makes the next three
  API calls (optionally only of ``"action"``) answer that error; code ``ConnectionReset``
  closes their connections unanswered instead;
* ``GET /_vpnsql/calls``: how many API calls were served, per action and gateway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from .ports import listen

__all__ = [
    "ACCESS_KEY_ID",
    "ACCESS_KEY_SECRET",
    "DEMO_GATEWAYS",
    "AlibabaServer",
    "ApiError",
    "Emulator",
    "load_demo",
    "start",
]

API_VERSION = "2016-04-28"
ACCESS_KEY_ID = ACCESS_KEY_SECRET = "testing"
ACCOUNT_ID = "1234567890123456"
PARTNER_KEY_ID, PARTNER_KEY_SECRET = "partner", "partner-secret"
PARTNER_ACCOUNT_ID = "6543210987654321"
ACCESS_KEYS = {ACCESS_KEY_ID: ACCESS_KEY_SECRET, PARTNER_KEY_ID: PARTNER_KEY_SECRET}
OWNERS = {ACCESS_KEY_ID: ACCOUNT_ID, PARTNER_KEY_ID: PARTNER_ACCOUNT_ID}
"""Two accounts, each with an access key: a request sees only its own account's gateways."""
DEFAULT_REGION = "cn-hangzhou"
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 10, 50
CLOCK_WINDOW = timedelta(minutes=15)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
ADMIN_PREFIX = "/_vpnsql/"
V3_ALGORITHM = "ACS3-HMAC-SHA256"

GATEWAY_FIELDS = frozenset(
    {
        "Name",
        "Description",
        "VpcId",
        "VSwitchId",
        "Status",
        "BusinessStatus",
        "Spec",
        "SslVpn",
        "IpsecVpn",
        "SslMaxConnections",
        "InternetIp",
        "SslVpnInternetIp",
        "NetworkType",
        "EnableBgp",
        "CreateTime",
    }
)
CLIENT_FIELDS = frozenset(
    {
        "CommonName",
        "Status",
        "PrivateIp",
        "Ip",
        "Port",
        "SendBytes",
        "ReceiveBytes",
        "ConnectedTime",
    }
)

REGIONS = {
    "cn-qingdao": "China (Qingdao)",
    "cn-beijing": "China (Beijing)",
    "cn-zhangjiakou": "China (Zhangjiakou)",
    "cn-huhehaote": "China (Hohhot)",
    "cn-wulanchabu": "China (Ulanqab)",
    "cn-hangzhou": "China (Hangzhou)",
    "cn-shanghai": "China (Shanghai)",
    "cn-nanjing": "China (Nanjing - Local Region)",
    "cn-shenzhen": "China (Shenzhen)",
    "cn-heyuan": "China (Heyuan)",
    "cn-guangzhou": "China (Guangzhou)",
    "cn-chengdu": "China (Chengdu)",
    "cn-hongkong": "China (Hong Kong)",
    "ap-northeast-1": "Japan (Tokyo)",
    "ap-northeast-2": "South Korea (Seoul)",
    "ap-southeast-1": "Singapore",
    "ap-southeast-3": "Malaysia (Kuala Lumpur)",
    "ap-southeast-5": "Indonesia (Jakarta)",
    "ap-southeast-6": "Philippines (Manila)",
    "ap-southeast-7": "Thailand (Bangkok)",
    "us-east-1": "US (Virginia)",
    "us-west-1": "US (Silicon Valley)",
    "eu-west-1": "UK (London)",
    "eu-central-1": "Germany (Frankfurt)",
    "me-east-1": "UAE (Dubai)",
    "me-central-1": "Saudi Arabia (Riyadh)",
}
"""What DescribeRegions answers: Alibaba Cloud's public regions (the emulator's cloud)."""

# Errors that can be injected, with the HTTP status and message Alibaba Cloud answers them with.
INJECTABLE: dict[str, tuple[int, str]] = {
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "Throttling": (400, "Request was denied due to request throttling."),
    "ServiceUnavailable": (
        503,
        "The request has failed due to a temporary failure of the server.",
    ),
    "Forbidden": (403, "User not authorized to operate on the specified resource."),
    "Forbbiden.SubUser": (
        403,
        "User not authorized to operate on the specified resource as your account is "
        "created by another user.",
    ),
    "InternalError": (
        500,
        "The request processing has failed due to some unknown error, exception or failure.",
    ),
}


DROP = "ConnectionReset"
"""Not an API error: the emulator closes the connection without an answer, as a network
failure between the SDK and the cloud would."""


class Dropped(Exception):
    """Raised for an injected DROP: the server closes the connection, answering nothing."""


class ApiError(Exception):
    """An error answer: HTTP status, Alibaba error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message

    @classmethod
    def injected(cls, code: str) -> ApiError:
        status, message = INJECTABLE[code]
        return cls(status, code, message)


def _incomplete_signature(detail: str) -> ApiError:
    return ApiError(
        400,
        "IncompleteSignature",
        f"The request signature does not conform to Aliyun standards: {detail}.",
    )


def _signature_mismatch() -> ApiError:
    return ApiError(
        400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
    )


@dataclass(frozen=True)
class Request:
    """One HTTP request as received: everything a signature covers."""

    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes

    @property
    def params(self) -> dict[str, str]:
        """Query and form-body params together (the SDK puts RPC params in the query)."""
        form = self.headers.get("content-type", "").startswith("application/x-www-form")
        body = dict(parse_qsl(self.body.decode(), keep_blank_values=True)) if form else {}
        return {**self.query, **body}


@dataclass
class Gateway:
    """A VPN gateway: its DescribeVpnGateways item and its SSL clients, in paging order."""

    region: str
    fields: dict[str, Any]
    owner: str = ACCOUNT_ID
    clients: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Injection:
    code: str
    remaining: int
    action: str | None


class Emulator:
    """The VPC state of one sandbox and its API; :func:`start` serves it over HTTP.

    Thread-safe: the server answers each request on its own thread.
    """

    def __init__(
        self,
        access_keys: Mapping[str, str] | None = None,
        latency: float = 0.0,
        owners: Mapping[str, str] | None = None,
    ):
        if latency < 0:
            raise ValueError("latency must be >= 0")
        self.access_keys = dict(access_keys or ACCESS_KEYS)
        self.owners = dict(owners or OWNERS)
        self.latency = latency
        self._lock = threading.Lock()
        self._gateways: dict[str, Gateway] = {}
        self._injections: list[_Injection] = []
        self._calls: Counter[tuple[str, str]] = Counter()
        self._nonces: dict[tuple[str, str], datetime] = {}  # insertion order is age order

    # ------------------------------------------------------------------------ seeding

    def create_gateway(
        self,
        region: str,
        gateway_id: str | None = None,
        *,
        seed: int | None = None,
        owner: str = ACCOUNT_ID,
        **fields: Any,
    ) -> str:
        """Add a VPN gateway of account ``owner`` (API field names in ``fields``, the rest
        generated); its ID."""
        with self._lock:
            gateway = self._add_gateway(region, gateway_id, fields, random.Random(seed), owner)
        return gateway.fields["VpnGatewayId"]

    def seed_clients(
        self,
        region: str,
        gateway_id: str | None = None,
        count: int = 0,
        *,
        clients: Iterable[Mapping[str, Any]] = (),
        seed: int | None = None,
        owner: str = ACCOUNT_ID,
    ) -> str:
        """Add SSL clients to a gateway (created for account ``owner`` if missing); return
        the gateway's ID.

        ``clients`` are explicit ClientInfoList records (gaps generated); ``count`` more are
        generated; ``seed`` makes the generated client values reproducible.
        """
        if count < 0:
            raise ValueError("count must be >= 0")
        records = [*clients, *({} for _ in range(count))]
        for record in records:
            unknown = set(record) - CLIENT_FIELDS
            if unknown:
                raise ValueError(f"unknown client fields: {sorted(unknown)}")
        rng = random.Random(seed)
        now_ms = int(time.time() * 1000)
        with self._lock:
            gateway = self._gateways.get(gateway_id or "")
            if gateway is None:
                gateway = self._add_gateway(region, gateway_id, {}, random.Random(), owner)
            elif gateway.region != region:
                raise ValueError(f"gateway {gateway_id} is in {gateway.region}, not {region}")
            first = len(gateway.clients)
            gateway.clients.extend(
                {**_client(rng, first + offset, now_ms), **record}
                for offset, record in enumerate(records)
            )
            return gateway.fields["VpnGatewayId"]

    def _add_gateway(
        self,
        region: str,
        gateway_id: str | None,
        fields: Mapping[str, Any],
        rng: random.Random,
        owner: str,
    ) -> Gateway:
        """Create a gateway; the caller holds the lock."""
        unknown = set(fields) - GATEWAY_FIELDS
        if unknown:
            raise ValueError(f"unknown gateway fields: {sorted(unknown)}")
        gateway_id = gateway_id or f"vpn-{_token(rng, 21)}"
        if gateway_id in self._gateways:
            raise ValueError(f"gateway {gateway_id} already exists")
        gateway = Gateway(region, _gateway_fields(rng, gateway_id, fields), owner)
        self._gateways[gateway_id] = gateway
        return gateway

    def inject(self, code: str, count: int = 1, *, action: str | None = None) -> None:
        """Make the next ``count`` API calls (of ``action``, or any) answer error ``code``, or,
        for DROP, get no answer at all."""
        if code not in INJECTABLE and code != DROP:
            raise ValueError(f"code must be one of {sorted([*INJECTABLE, DROP])}")
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._injections.append(_Injection(code, count, action))

    def calls(self, action: str, gateway_id: str = "") -> int:
        """API calls served for ``action`` (and that VpnGatewayId param), injected errors too."""
        with self._lock:
            return self._calls[(action, gateway_id)]

    def reset(self) -> None:
        """Forget every gateway, pending injection and call count."""
        with self._lock:
            self._gateways.clear()
            self._injections.clear()
            self._calls.clear()

    # ------------------------------------------------------------------------ the API

    def handle(self, request: Request) -> tuple[int, dict[str, Any]]:
        """Answer one request: HTTP status and JSON body."""
        if request.path.startswith(ADMIN_PREFIX):
            return self._admin(request)
        request_id = str(uuid.uuid4()).upper()
        try:
            if self.latency:
                time.sleep(self.latency)
            params = request.params
            owner = self.owners.get(self._authenticate(request, params), ACCOUNT_ID)
            action = request.headers.get("x-acs-action") or params.get("Action", "")
            version = request.headers.get("x-acs-version") or params.get("Version", "")
            params = {k: v for k, v in params.items() if k not in _V2_SIGNING_PARAMS}
            self._count_and_inject(action, params)
            if version != API_VERSION:
                raise ApiError(400, "InvalidVersion", "Specified parameter Version is not valid.")
            handler = self._actions().get(action) if request.path == "/" else None
            if handler is None:
                raise ApiError(
                    404,
                    "InvalidAction.NotFound",
                    "Specified api is not found, please check your url and method.",
                )
            return 200, {"RequestId": request_id, **handler(params, owner)}
        except ApiError as error:
            host = request.headers.get("host", "")
            body = {"RequestId": request_id, "HostId": host, "Code": error.code}
            return error.status, {**body, "Message": error.message}

    def _actions(self) -> dict[str, Callable[[dict[str, str], str], dict[str, Any]]]:
        return {
            "DescribeRegions": self._describe_regions,
            "DescribeSslVpnClients": self._describe_ssl_vpn_clients,
            "DescribeVpnGateways": self._describe_vpn_gateways,
        }

    def _describe_regions(self, params: dict[str, str], owner: str) -> dict[str, Any]:
        regions = [
            {"RegionId": region, "LocalName": name, "RegionEndpoint": f"vpc.{region}.aliyuncs.com"}
            for region, name in REGIONS.items()
        ]
        return {"Regions": {"Region": regions}}

    def _count_and_inject(self, action: str, params: Mapping[str, str]) -> None:
        with self._lock:
            self._calls[(action, params.get("VpnGatewayId", ""))] += 1
            for injection in self._injections:
                if injection.action in (None, action):
                    injection.remaining -= 1
                    if not injection.remaining:
                        self._injections.remove(injection)
                    if injection.code == DROP:
                        raise Dropped
                    raise ApiError.injected(injection.code)

    def _describe_ssl_vpn_clients(self, params: dict[str, str], owner: str) -> dict[str, Any]:
        region = _required(params, "RegionId")
        gateway_id = _required(params, "VpnGatewayId")
        with self._lock:
            gateway = self._gateways.get(gateway_id)
            if gateway is None or gateway.region != region or gateway.owner != owner:
                raise ApiError(
                    400,
                    "InvalidVpnGatewayInstanceId.NotFound",
                    "The specified vpn gateway instance id does not exist.",
                )
            clients = list(gateway.clients)
        number, size, page = _page(params, clients)
        return {
            "VpnGatewayId": gateway_id,
            "RegionId": region,
            "PageNumber": number,
            "PageSize": size,
            "TotalCount": len(clients),
            "ClientInfoList": page,
        }

    def _describe_vpn_gateways(self, params: dict[str, str], owner: str) -> dict[str, Any]:
        region = _required(params, "RegionId")
        filters = {
            name: params[name] for name in ("VpnGatewayId", "VpcId", "Status") if name in params
        }
        with self._lock:
            gateways = [
                dict(gateway.fields)
                for gateway in self._gateways.values()
                if gateway.region == region
                and gateway.owner == owner
                and all(gateway.fields.get(name) == value for name, value in filters.items())
            ]
        number, size, page = _page(params, gateways)
        return {
            "PageNumber": number,
            "PageSize": size,
            "TotalCount": len(gateways),
            "VpnGateways": {"VpnGateway": page},
        }

    # ------------------------------------------------------------------------ signatures

    def _authenticate(self, request: Request, params: dict[str, str]) -> str:
        """Verify the V3 or V2 signature, the timestamp and the nonce, or raise ApiError; the
        access key ID."""
        authorization = request.headers.get("authorization", "")
        if authorization.startswith(f"{V3_ALGORITHM} "):
            key_id, expected, given = self._v3(request, authorization)
            signed_at = request.headers.get("x-acs-date", "")
            nonce = request.headers.get("x-acs-signature-nonce", "")
        elif "Signature" in params:
            key_id, expected, given = self._v2(request, params)
            signed_at, nonce = params.get("Timestamp", ""), params.get("SignatureNonce", "")
        elif authorization:
            raise _incomplete_signature(f"unsupported algorithm {authorization.split()[0]}")
        else:
            raise _incomplete_signature("the request is not signed")
        if not hmac.compare_digest(expected, given):
            raise _signature_mismatch()
        self._check_fresh(key_id, signed_at, nonce)
        return key_id

    def _secret(self, key_id: str) -> str:
        secret = self.access_keys.get(key_id)
        if secret is None:
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        return secret

    def _v3(self, request: Request, authorization: str) -> tuple[str, str, str]:
        """ACS3-HMAC-SHA256: key id, expected and given signature (hex)."""
        parts = dict(
            part.strip().split("=", 1)
            for part in authorization[len(V3_ALGORITHM) :].split(",")
            if "=" in part
        )
        if not {"Credential", "SignedHeaders", "Signature"} <= set(parts):
            raise _incomplete_signature("Credential, SignedHeaders and Signature are required")
        signed = parts["SignedHeaders"].split(";")
        unsigned = {n.lower() for n in request.headers if n.lower().startswith("x-acs-")}
        if not unsigned <= set(signed) or "host" not in signed:
            raise _incomplete_signature("host and every x-acs-* header must be signed")
        payload_hash = request.headers.get("x-acs-content-sha256", "")
        if payload_hash != hashlib.sha256(request.body).hexdigest():
            raise _signature_mismatch()
        headers = "".join(
            f"{name}:{','.join(sorted(v.strip() for v in request.headers.get_all(name, [])))}\n"
            for name in signed
        )
        canonical = "\n".join(
            (request.method, request.path, _canonical_query(request.query), headers)
        )
        canonical += f"\n{';'.join(signed)}\n{payload_hash}"
        string_to_sign = f"{V3_ALGORITHM}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        secret = self._secret(parts["Credential"])
        expected = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
        return parts["Credential"], expected, parts["Signature"]

    def _v2(self, request: Request, params: dict[str, str]) -> tuple[str, str, str]:
        """HMAC-SHA1 over the sorted params: key id, expected and given signature (base64)."""
        if (params.get("SignatureMethod"), params.get("SignatureVersion")) != ("HMAC-SHA1", "1.0"):
            raise _incomplete_signature("SignatureMethod must be HMAC-SHA1, version 1.0")
        key_id = params.get("AccessKeyId", "")
        signed = {key: value for key, value in params.items() if key != "Signature"}
        string_to_sign = f"{request.method}&{_encode('/')}&{_encode(_canonical_query(signed))}"
        key = f"{self._secret(key_id)}&".encode()
        digest = hmac.new(key, string_to_sign.encode(), hashlib.sha1).digest()
        return key_id, base64.b64encode(digest).decode(), params["Signature"]

    def _check_fresh(self, key_id: str, signed_at: str, nonce: str) -> None:
        """Reject stale timestamps and reused nonces, as Alibaba does against replays."""
        try:
            moment = datetime.strptime(signed_at, TIME_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise ApiError(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            ) from None
        now = datetime.now(UTC)
        if abs(now - moment) > CLOCK_WINDOW:
            raise ApiError(
                400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
            )
        if not nonce:
            raise _incomplete_signature("a signature nonce is required")
        with self._lock:
            while self._nonces and now - next(iter(self._nonces.values())) > CLOCK_WINDOW:
                del self._nonces[next(iter(self._nonces))]
            if (key_id, nonce) in self._nonces:
                raise ApiError(
                    400, "SignatureNonceUsed", "Specified signature nonce was used already."
                )
            self._nonces[(key_id, nonce)] = now

    # ------------------------------------------------------------------------ admin

    def _admin(self, request: Request) -> tuple[int, dict[str, Any]]:
        route = request.path[len(ADMIN_PREFIX) :]
        if route == "calls" and request.method == "GET":
            with self._lock:
                counts = [
                    {"action": action, "gateway_id": gateway, "count": count}
                    for (action, gateway), count in sorted(self._calls.items())
                ]
            return 200, {"calls": counts}
        if route not in ("seed", "inject"):
            return 404, {"error": f"no admin route {request.path}"}
        if request.method != "POST":
            return 405, {"error": "use POST"}
        try:
            payload = json.loads(request.body or b"null")
            if not isinstance(payload, dict):
                raise ValueError("body must be a JSON object")
            if route == "inject":
                self.inject(**payload)
                return 200, {"injected": payload}
            gateway_id = self.seed_clients(**payload)
            with self._lock:
                total = len(self._gateways[gateway_id].clients)
            return 200, {"gateway_id": gateway_id, "clients": total}
        except (ValueError, TypeError) as error:
            return 400, {"error": str(error)}


_V2_SIGNING_PARAMS = frozenset(
    {
        "AccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "Timestamp",
        "Format",
        "Action",
        "Version",
    }
)


def _encode(text: str) -> str:
    """RFC 3986 percent-encoding, as both signature versions use it."""
    return quote(text, safe="~")


def _canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{_encode(k)}={_encode(params[k])}" for k in sorted(params))


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")
    return value


def _page(params: Mapping[str, str], items: list[Any]) -> tuple[int, int, list[Any]]:
    """PageNumber (from 1) and PageSize (1..50, default 10) over ``items``."""
    number = _int_param(params, "PageNumber", 1, 1, 1 << 31)
    size = _int_param(params, "PageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    return number, size, items[(number - 1) * size : number * size]


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise ApiError(400, "InvalidParameter", f"The specified parameter {name} is invalid.")
    return int(text)


# ---------------------------------------------------------------------------- generated data

_PUBLIC_NETWORKS = tuple(
    ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
_CLIENT_NETWORK = ipaddress.IPv4Network("10.10.0.0/16")
_USERS = tuple(
    f"{first}.{last}"
    for last in ("wang", "li", "chen", "schmidt", "novak", "silva")
    for first in ("wei", "na", "jun", "anna", "jonas", "lea", "marco", "yuki")
)


def _token(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(length))


def _public_ip(rng: random.Random) -> str:
    network = rng.choice(_PUBLIC_NETWORKS)
    return str(network.network_address + rng.randint(1, 254))


def _gateway_fields(rng: random.Random, gateway_id: str, fields: Mapping[str, Any]) -> dict:
    internet_ip = _public_ip(rng)
    return {
        "VpnGatewayId": gateway_id,
        "Name": f"gateway-{gateway_id[-4:]}",
        "Description": "",
        "VpcId": f"vpc-{_token(rng, 21)}",
        "VSwitchId": f"vsw-{_token(rng, 21)}",
        "Status": "active",
        "BusinessStatus": "Normal",
        "Spec": "10M",
        "SslVpn": "enable",
        "IpsecVpn": "enable",
        "SslMaxConnections": 500,
        "InternetIp": internet_ip,
        "SslVpnInternetIp": internet_ip,
        "NetworkType": "public",
        "EnableBgp": False,
        "CreateTime": int(time.time() * 1000) - rng.randrange(86_400_000, 400 * 86_400_000),
        **fields,
    }


def _client(rng: random.Random, position: int, now_ms: int) -> dict[str, Any]:
    """A plausible ClientInfoList record; two-factor clients show a username as CommonName."""
    user = rng.choice(_USERS) if rng.random() < 0.6 else f"CN=vsc-{_token(rng, 21)}"
    private = _CLIENT_NETWORK.network_address + 2 + position % (_CLIENT_NETWORK.num_addresses - 4)
    return {
        "CommonName": user,
        "Status": "online",
        "PrivateIp": str(private),
        "Ip": _public_ip(rng),
        "Port": str(rng.randint(1024, 65535)),
        "SendBytes": int(10 ** rng.uniform(3, 10)),
        "ReceiveBytes": int(10 ** rng.uniform(3, 9.5)),
        "ConnectedTime": now_ms - rng.randrange(60_000, 3 * 86_400_000),
    }


# ---------------------------------------------------------------------------- demo data


@dataclass(frozen=True)
class DemoGateway:
    gateway_id: str
    region: str
    name: str
    clients: int
    fields: Mapping[str, Any] = field(default_factory=dict)
    owner: str = ACCOUNT_ID


DEMO_SEED = 20240601
DEMO_GATEWAYS = (
    DemoGateway("vpn-bp1a2b3c4d5e6f7g80001", "cn-hangzhou", "hz-office", 180),
    DemoGateway("vpn-bp1a2b3c4d5e6f7g80002", "cn-hangzhou", "hz-contractors", 60, {"Spec": "5M"}),
    DemoGateway(
        "vpn-bp1a2b3c4d5e6f7g80003",
        "cn-hangzhou",
        "hz-site-to-site",
        0,
        {"SslVpn": "disable", "SslMaxConnections": 0, "SslVpnInternetIp": ""},
    ),
    DemoGateway(
        "vpn-gw8a2b3c4d5e6f7g80004",
        "eu-central-1",
        "fra-office",
        75,
        {"SslMaxConnections": 200, "Spec": "20M"},
    ),
    DemoGateway(
        "vpn-t4n1a2b3c4d5e6f7g80005",
        "ap-southeast-1",
        "sg-partner",
        25,
        {"SslMaxConnections": 100},
        owner=PARTNER_ACCOUNT_ID,
    ),
    DemoGateway(
        "vpn-bp1a2b3c4d5e6f7g80006",
        "cn-hangzhou",
        "hz-partner",
        12,
        {"Spec": "5M"},
        owner=PARTNER_ACCOUNT_ID,
    ),
)


def load_demo(emulator: Emulator) -> None:
    """Add the demo gateways and their clients (deterministic except times)."""
    for index, demo in enumerate(DEMO_GATEWAYS):
        emulator.create_gateway(
            demo.region, demo.gateway_id, owner=demo.owner, Name=demo.name, **demo.fields
        )
        emulator.seed_clients(demo.region, demo.gateway_id, demo.clients, seed=DEMO_SEED + index)


# ---------------------------------------------------------------------------- the server


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, lets the emulator answer it, writes JSON (keep-alive, like the cloud)."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        request = Request(self.command, url.path, query, self.headers, body)
        try:
            status, payload = self.server.emulator.handle(request)
        except Dropped:
            self.close_connection = True
            return
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json;charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the access log off the CLI's stderr."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # http.server's 5 makes a fan-out's connects wait a SYN retry

    def __init__(self, address: tuple[str, int], emulator: Emulator) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = listen(*address, "Alibaba")
        self.server_address = self.socket.getsockname()
        self.server_name, self.server_port = address[0], self.server_address[1]
        self.emulator = emulator


@dataclass(frozen=True)
class AlibabaServer:
    """A running emulator: its base URL, its state (``emulator``), and ``stop()``."""

    url: str
    emulator: Emulator
    _server: _Server = field(repr=False, compare=False)
    _thread: threading.Thread = field(repr=False, compare=False)

    def env(self) -> dict[str, str]:
        """Environment that points vpnsql's Alibaba provider at this emulator."""
        key_id, secret = next(iter(self.emulator.access_keys.items()))
        return {
            "VPNSQL_ALIBABA_ENDPOINT": self.url,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
            "ALIBABA_CLOUD_REGION_ID": DEFAULT_REGION,
        }

    def profiles(self) -> dict[str, Any]:
        """An aliyun CLI config file with one AK profile per account of the emulator."""
        names = ("sandbox-main", "sandbox-partner")
        keys = self.emulator.access_keys.items()  # an emulator may have fewer
        return {
            "current": names[0],
            "profiles": [
                {
                    "name": name,
                    "mode": "AK",
                    "access_key_id": key_id,
                    "access_key_secret": secret,
                    "region_id": DEFAULT_REGION,
                }
                for name, (key_id, secret) in zip(names, keys, strict=False)
            ],
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


def start(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    demo: bool = True,
    latency: float = 0.0,
    access_keys: Mapping[str, str] | None = None,
) -> AlibabaServer:
    """Serve a new emulator on a loopback port (0: the OS picks a free one) from a thread."""
    emulator = Emulator(access_keys, latency)
    if demo:
        load_demo(emulator)
    server = _Server((host, port), emulator)
    thread = threading.Thread(target=server.serve_forever, name="vpnsql-alibaba", daemon=True)
    thread.start()
    netloc = f"[{host}]" if ":" in host else host
    return AlibabaServer(f"http://{netloc}:{server.server_port}", emulator, server, thread)
