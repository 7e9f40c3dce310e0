"""Azure for the sandbox: Microsoft Entra ID tokens and the Azure Resource Manager calls that
vpnsql makes, on one loopback HTTPS server speaking what the official SDKs send and read.

No mock library covers VPN Gateway point-to-site sessions, so vpnsql ships this emulator. It
imports no Azure SDK, so it checks the SDKs (azure-identity with MSAL, azure-mgmt-network,
azure-mgmt-resource, azure-mgmt-resource-subscriptions) from the outside. HTTPS, because MSAL
and azure-core refuse plain HTTP for tokens and bearer calls: the certificate comes from a CA
made at start-up (:mod:`vpnsql.sandbox.tls`), which ``AzureServer.env()`` hands to clients
through REQUESTS_CA_BUNDLE and SSL_CERT_FILE.

Microsoft Entra ID (what MSAL asks, with ``AZURE_AUTHORITY_HOST`` set to this server):

* ``GET /{tenant}/v2.0/.well-known/openid-configuration``: the tenant discovery document;
* ``GET /common/discovery/instance``: instance discovery, for clients that ask it here;
* ``POST /{tenant}/oauth2/v2.0/token``: the client-credentials grant, checked against the
  registered client ID and secret, for the ARM scope only; tokens are opaque and expire.

Azure Resource Manager (``Authorization: Bearer`` checked on every call, ``api-version``
required, ``nextLink`` paging that keeps the query, api-version included):

* ``GET /subscriptions`` and ``GET /subscriptions/{s}``;
* ``GET /subscriptions/{s}/resources`` with ``$filter=resourceType eq '...'``;
* ``GET /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Network/
  virtualNetworkGateways[/{name}]``;
* ``POST .../virtualNetworkGateways/{name}/getVpnClientConnectionHealth`` and
  ``POST .../disconnectVirtualNetworkGatewayVpnConnections``: long-running operations as ARM
  runs them: ``202`` with ``Azure-AsyncOperation``, ``Location`` and ``Retry-After``; the
  operation answers ``{"status": "InProgress"}`` until the gateway's ``polls``-th status
  request, then ``Succeeded`` (or ``Failed``), and the ``Location`` URL answers ``202`` until
  then and the result after. A sub-second ``retry_after`` is sent as ``Retry-After-Ms``.

Errors are ARM's ``{"error": {"code", "message"}}``. Unsigned admin routes, for tests and
demos: ``POST /_vpnsql/seed`` (the keyword arguments of :meth:`Emulator.seed_clients`, the
gateway created if missing), ``POST /_vpnsql/inject`` (``{"code": "TooManyRequests",
"count": 2, "action": "GetVpnclientConnectionHealth", "gateway": "vgw-weu-p2s"}``; see
``INJECTABLE``) and ``GET /_vpnsql/calls`` (calls served per action and target).
"""

from __future__ import annotations

import ipaddress
import json
import random
import secrets
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .tls import Authority, make_authority

__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "DEMO_GATEWAYS",
    "DEMO_SUBSCRIPTIONS",
    "INJECTABLE",
    "TENANT_ID",
    "AzureServer",
    "Emulator",
    "load_demo",
    "start",
]

TENANT_ID = "7d3f2a1b-9c8e-4f6d-a5b4-3c2d1e0f9a8b"
CLIENT_ID = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"
CLIENT_SECRET = "testing"
TOKEN_LIFETIME = 3600
ARM_SCOPES = frozenset(
    {"https://management.azure.com/.default", "https://management.core.windows.net/.default"}
)
GATEWAY_TYPE = "Microsoft.Network/virtualNetworkGateways"
ADMIN_PREFIX = "/_vpnsql/"
DEFAULT_PAGE_SIZE = 100
NOT_FOUND_FIX = "For more details please go to https://aka.ms/ARMResourceNotFoundFix"

ACTIONS = (
    "Token",
    "ListSubscriptions",
    "GetSubscription",
    "ListResources",
    "ListVirtualNetworkGateways",
    "GetVirtualNetworkGateway",
    "GetVpnclientConnectionHealth",
    "DisconnectVirtualNetworkGatewayVpnConnections",
    "GetOperationStatus",
    "GetOperationResult",
)
"""The names calls are counted and errors injected under."""
LRO_ACTIONS = ("GetVpnclientConnectionHealth", "DisconnectVirtualNetworkGatewayVpnConnections")

INJECTABLE: dict[str, tuple[int, str]] = {
    "ResourceNotFound": (404, "The Resource was not found. " + NOT_FOUND_FIX),
    "AuthorizationFailed": (
        403,
        f"The client '{CLIENT_ID}' with object id '{CLIENT_ID}' does not have authorization "
        "to perform this action or the scope is invalid. If access was recently granted, "
        "please refresh your credentials.",
    ),
    "InvalidAuthenticationToken": (401, "The access token is invalid."),
    "TooManyRequests": (429, "The request is being throttled as the limit has been reached."),
    "InternalServerError": (500, "Encountered internal server error. Please try again."),
    "ServiceUnavailable": (503, "The service is temporarily unavailable. Please try again."),
}
OPERATION_FAILED = "OperationFailed"
"""Not an HTTP error: the next long-running operation (of the action) is accepted with 202 and
then ends with status Failed."""
DROP = "ConnectionReset"
"""The emulator closes the connection without an answer, as a failing network would."""
THROTTLE_RETRY_AFTER = 1


class Dropped(Exception):
    """An injected DROP: the server closes the connection, answering nothing."""


class ApiError(Exception):
    """An error answer: HTTP status, ARM error code and message, extra headers."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


@dataclass(frozen=True)
class Request:
    """One HTTP request as received."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    host: str


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, headers and a JSON body (None: no body)."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Gateway:
    """A virtual network gateway: its ARM properties, its connected P2S clients, and how its
    long-running operations behave (status polls until done, the Retry-After it sends)."""

    subscription_id: str
    resource_group: str
    name: str
    location: str
    properties: dict[str, Any]
    clients: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 1
    retry_after: float = 1.0

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/{GATEWAY_TYPE}/{self.name}"
        )

    def resource(self) -> dict[str, Any]:
        """The gateway as ARM answers a GET (the resources list shows less: `generic`)."""
        return {
            "name": self.name,
            "id": self.id,
            "etag": 'W/"00000000-0000-0000-0000-000000000000"',
            "type": GATEWAY_TYPE,
            "location": self.location,
            "properties": dict(self.properties),
        }

    def generic(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": GATEWAY_TYPE, "location": self.location}


@dataclass
class _Operation:
    gateway: Gateway
    action: str
    polls_left: int
    apply: Callable[[], Any]
    failed: bool = False
    result: Any = None
    done: bool = False


@dataclass
class _Injection:
    code: str
    remaining: int
    action: str | None
    gateway: str | None


def _key(subscription_id: str, resource_group: str, name: str) -> tuple[str, str, str]:
    """ARM compares names case-insensitively."""
    return subscription_id.lower(), resource_group.lower(), name.lower()


class Emulator:
    """The Entra ID and ARM state of one sandbox and its API; :func:`start` serves it.

    Thread-safe: the server answers each connection on its own thread.
    """

    def __init__(
        self,
        clients: Mapping[str, str] | None = None,
        latency: float = 0.0,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        if latency < 0:
            raise ValueError("latency must be >= 0")
        self.clients = dict(clients or {CLIENT_ID: CLIENT_SECRET})
        self.latency = latency
        self.page_size = page_size
        self._lock = threading.Lock()
        self._subscriptions: dict[str, str] = {}  # id -> display name
        self._gateways: dict[tuple[str, str, str], Gateway] = {}
        self._extra_resources: list[dict[str, Any]] = []  # other types, for $filter to skip
        self._operations: dict[str, _Operation] = {}
        self._tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self._injections: list[_Injection] = []
        self._calls: Counter[tuple[str, str]] = Counter()

    # ------------------------------------------------------------------------ seeding

    def create_subscription(self, subscription_id: str, display_name: str = "") -> str:
        with self._lock:
            self._subscriptions.setdefault(subscription_id, display_name or subscription_id)
        return subscription_id

    def create_gateway(
        self,
        subscription_id: str,
        resource_group: str,
        name: str,
        location: str = "westeurope",
        *,
        p2s: bool = True,
        polls: int = 1,
        retry_after: float = 1.0,
        seed: int | None = None,
        **properties: Any,
    ) -> Gateway:
        """Add a gateway (its subscription too); `properties` override the generated ARM
        properties; `p2s=False` makes a site-to-site-only gateway."""
        if polls < 1 or retry_after < 0:
            raise ValueError("polls must be >= 1 and retry_after >= 0")
        rng = random.Random(seed)
        generated = _gateway_properties(rng, p2s)
        gateway = Gateway(
            subscription_id,
            resource_group,
            name,
            location,
            {**generated, **properties},
            polls=polls,
            retry_after=retry_after,
        )
        self.create_subscription(subscription_id)
        with self._lock:
            key = _key(subscription_id, resource_group, name)
            if key in self._gateways:
                raise ValueError(f"gateway {name} already exists in {resource_group}")
            self._gateways[key] = gateway
            vnet = f"vnet-{resource_group}"
            self._extra_resources.append(
                {
                    "id": f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
                    f"/providers/Microsoft.Network/virtualNetworks/{vnet}",
                    "name": vnet,
                    "type": "Microsoft.Network/virtualNetworks",
                    "location": location,
                }
            )
        return gateway

    def seed_clients(
        self,
        subscription_id: str,
        resource_group: str,
        gateway: str,
        count: int = 0,
        *,
        clients: Iterable[Mapping[str, Any]] = (),
        seed: int | None = None,
        location: str = "westeurope",
        polls: int | None = None,
        retry_after: float | None = None,
    ) -> int:
        """Add connected P2S clients to a gateway (created if missing); its client count.

        ``clients`` are VpnClientConnectionHealthDetail records (``vpnConnectionTime`` may be a
        datetime; gaps generated); ``count`` more are generated from ``seed``. ``polls`` and
        ``retry_after`` change how the gateway's long-running operations behave.
        """
        if count < 0:
            raise ValueError("count must be >= 0")
        records = [*clients, *({} for _ in range(count))]
        for record in records:
            unknown = set(record) - CLIENT_FIELDS
            if unknown:
                raise ValueError(f"unknown client fields: {sorted(unknown)}")
        with self._lock:
            found = self._gateways.get(_key(subscription_id, resource_group, gateway))
        if found is None:
            found = self.create_gateway(subscription_id, resource_group, gateway, location)
        rng = random.Random(seed)
        with self._lock:
            if polls is not None:
                found.polls = max(1, polls)
            if retry_after is not None:
                found.retry_after = max(0.0, retry_after)
            first = len(found.clients)
            for offset, record in enumerate(records):
                generated = _client(rng, found, first + offset)
                found.clients.append({**generated, **record})
            return len(found.clients)

    def inject(
        self, code: str, count: int = 1, *, action: str | None = None, gateway: str | None = None
    ) -> None:
        """Make the next ``count`` calls (of ``action`` and/or on ``gateway``, or any) answer
        error ``code``; OPERATION_FAILED makes long-running operations end Failed, DROP leaves
        calls unanswered."""
        if code not in INJECTABLE and code not in (OPERATION_FAILED, DROP):
            raise ValueError(f"code must be one of {sorted([*INJECTABLE, OPERATION_FAILED, DROP])}")
        if action is not None and action not in ACTIONS:
            raise ValueError(f"action must be one of {list(ACTIONS)}")
        if code == OPERATION_FAILED and action not in (None, *LRO_ACTIONS):
            raise ValueError(f"{OPERATION_FAILED} applies to {list(LRO_ACTIONS)} only")
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._injections.append(_Injection(code, count, action, gateway))

    def calls(self, action: str, target: str = "") -> int:
        """Calls served for ``action`` on ``target`` (a gateway name, for list calls the
        subscription ID; '' for the token and subscription list), injected errors too."""
        with self._lock:
            return self._calls[(action, target.lower())]

    def total_calls(self) -> int:
        with self._lock:
            return sum(self._calls.values())

    def clear_injections(self) -> int:
        """Drop the injected errors not answered yet; how many calls they would have hit."""
        with self._lock:
            left = sum(injection.remaining for injection in self._injections)
            self._injections.clear()
        return left

    def revoke_tokens(self) -> None:
        """Invalidate every issued token, as a revoked or rotated credential would."""
        with self._lock:
            self._tokens.clear()

    def reset(self) -> None:
        """Forget every subscription, gateway, operation, token, injection and count."""
        with self._lock:
            self._subscriptions.clear()
            self._gateways.clear()
            self._extra_resources.clear()
            self._operations.clear()
            self._tokens.clear()
            self._injections.clear()
            self._calls.clear()

    # ------------------------------------------------------------------------ dispatch

    def handle(self, request: Request) -> Answer:
        if request.path.startswith(ADMIN_PREFIX):
            return self._admin(request)
        if self.latency:
            time.sleep(self.latency)
        try:
            return self._route(request)
        except ApiError as error:
            return Answer(error.status, error.body(), error.headers)

    def _route(self, request: Request) -> Answer:
        parts = [p for p in request.path.split("/") if p]
        lowered = [p.lower() for p in parts]
        if lowered[-3:] == ["v2.0", ".well-known", "openid-configuration"] and len(parts) == 4:
            return self._openid_configuration(request, parts[0])
        if lowered == ["common", "discovery", "instance"]:
            return self._instance_discovery(request)
        if lowered[1:] == ["oauth2", "v2.0", "token"] and request.method == "POST":
            return self._token(request, parts[0])
        if not lowered or lowered[0] != "subscriptions":
            raise ApiError(404, "InvalidResourceType", f"No route for {request.path}.")
        self._authorize(request)
        if "api-version" not in request.query:
            raise ApiError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        return self._arm(request, parts, lowered)

    def _arm(self, request: Request, parts: list[str], lowered: list[str]) -> Answer:
        method = request.method
        if lowered == ["subscriptions"] and method == "GET":
            self._count("ListSubscriptions", "")
            return self._list_subscriptions(request)
        subscription_id = parts[1] if len(parts) > 1 else ""
        if len(parts) == 2 and method == "GET":
            self._count("GetSubscription", subscription_id)
            return self._get_subscription(request, subscription_id)
        if lowered[2:] == ["locations"] and method == "GET":
            self._count("ListLocations", subscription_id)
            self._check_subscription(subscription_id)
            return self._page(request, [_location(subscription_id, name) for name in LOCATIONS])
        if lowered[2:] == ["resources"] and method == "GET":
            self._count("ListResources", subscription_id)
            self._check_subscription(subscription_id)
            return self._list_resources(request, subscription_id)
        if lowered[2:5] == ["providers", "microsoft.network", "locations"] and len(parts) == 8:
            action = {"operations": "GetOperationStatus", "operationresults": "GetOperationResult"}
            name = action.get(lowered[6])
            if name is None or method != "GET":
                raise ApiError(404, "InvalidResourceType", f"No route for {request.path}.")
            return self._operation(name, parts[7], request)
        gateways = ["resourcegroups", "providers", "microsoft.network", "virtualnetworkgateways"]
        if [lowered[i] for i in (2, 4, 5, 6) if i < len(lowered)] != gateways:
            raise ApiError(404, "InvalidResourceType", f"No route for {request.path}.")
        resource_group = parts[3]
        if len(parts) == 7 and method == "GET":
            self._count("ListVirtualNetworkGateways", subscription_id)
            return self._list_gateways(request, subscription_id, resource_group)
        name = parts[7] if len(parts) > 7 else ""
        if len(parts) == 8 and method == "GET":
            self._count("GetVirtualNetworkGateway", name)
            return Answer(200, self._gateway(subscription_id, resource_group, name).resource())
        verbs = {
            "getvpnclientconnectionhealth": "GetVpnclientConnectionHealth",
            "disconnectvirtualnetworkgatewayvpnconnections": (
                "DisconnectVirtualNetworkGatewayVpnConnections"
            ),
        }
        action = verbs.get(lowered[8]) if len(parts) == 9 and method == "POST" else None
        if action is None:
            raise ApiError(404, "InvalidResourceType", f"No route for {request.path}.")
        failed = self._count(action, name)
        gateway = self._gateway(subscription_id, resource_group, name)
        if action == "GetVpnclientConnectionHealth":
            apply: Callable[[], Any] = lambda: {"value": self._health(gateway)}  # noqa: E731
        else:
            ids = _connection_ids(request.body)
            apply = lambda: self._disconnect(gateway, ids)  # noqa: E731
        return self._start_operation(request, gateway, action, apply, failed)

    def _count(self, action: str, target: str) -> bool:
        """Count the call and answer a pending injection; True when the injection asks the
        call's long-running operation to fail."""
        with self._lock:
            self._calls[(action, target.lower())] += 1
            for injection in self._injections:
                if injection.action not in (None, action):
                    continue
                if injection.gateway is not None and injection.gateway.lower() != target.lower():
                    continue
                if injection.code == OPERATION_FAILED and action not in LRO_ACTIONS:
                    continue
                injection.remaining -= 1
                if not injection.remaining:
                    self._injections.remove(injection)
                if injection.code == OPERATION_FAILED:
                    return True
                if injection.code == DROP:
                    raise Dropped
                status, message = INJECTABLE[injection.code]
                headers = {"Retry-After": str(THROTTLE_RETRY_AFTER)} if status == 429 else {}
                if status == 401:
                    headers["WWW-Authenticate"] = _challenge("invalid_token", message)
                raise ApiError(status, injection.code, message, headers)
        return False

    # ------------------------------------------------------------------------ Entra ID

    def _openid_configuration(self, request: Request, tenant: str) -> Answer:
        if tenant not in (TENANT_ID, "organizations", "common"):
            return Answer(400, _aad_error("invalid_tenant", 90002, f"Tenant '{tenant}' not found."))
        base = f"https://{request.host}/{tenant}"
        return Answer(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
                "jwks_uri": f"https://{request.host}/{tenant}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "issuer": f"https://{request.host}/{tenant}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "tenant_region_scope": "EU",
            },
        )

    def _instance_discovery(self, request: Request) -> Answer:
        endpoint = urlsplit(request.query.get("authorization_endpoint", ""))
        tenant = next((p for p in endpoint.path.split("/") if p), TENANT_ID)
        return Answer(
            200,
            {
                "tenant_discovery_endpoint": f"https://{request.host}/{tenant}/v2.0/"
                ".well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [
                    {
                        "preferred_network": request.host,
                        "preferred_cache": request.host,
                        "aliases": [request.host],
                    }
                ],
            },
        )

    def _token(self, request: Request, tenant: str) -> Answer:
        self._count("Token", "")
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        if tenant != TENANT_ID:
            return Answer(
                400, _aad_error("invalid_request", 90002, f"Tenant '{tenant}' not found.")
            )
        if form.get("grant_type") != "client_credentials":
            return Answer(
                400, _aad_error("unsupported_grant_type", 70003, "The grant type is not supported.")
            )
        client_id = form.get("client_id", "")
        if client_id not in self.clients:
            return Answer(
                400,
                _aad_error(
                    "unauthorized_client",
                    700016,
                    f"Application with identifier '{client_id}' was not found in the directory.",
                ),
            )
        if not secrets.compare_digest(form.get("client_secret", ""), self.clients[client_id]):
            return Answer(
                401,
                _aad_error(
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request "
                    f"is the client secret value, not the client secret ID, for app '{client_id}'.",
                ),
            )
        if form.get("scope") not in ARM_SCOPES:
            return Answer(
                400,
                _aad_error(
                    "invalid_scope",
                    500011,
                    f"The resource principal named {form.get('scope')} was not found in the "
                    f"tenant named {TENANT_ID}.",
                ),
            )
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.monotonic() + TOKEN_LIFETIME
        return Answer(
            200,
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME - 1,
                "ext_expires_in": TOKEN_LIFETIME - 1,
                "access_token": token,
            },
        )

    def _authorize(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        if not header:
            raise ApiError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
                {"WWW-Authenticate": _challenge("invalid_token", "missing token")},
            )
        scheme, _, token = header.partition(" ")
        with self._lock:
            expiry = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if expiry is None or expiry < time.monotonic():
            message = "The access token is invalid." if expiry is None else "The token expired."
            code = "InvalidAuthenticationToken" if expiry is None else "ExpiredAuthenticationToken"
            raise ApiError(
                401, code, message, {"WWW-Authenticate": _challenge("invalid_token", message)}
            )

    # ------------------------------------------------------------------------ ARM reads

    def _check_subscription(self, subscription_id: str) -> None:
        with self._lock:
            known = subscription_id.lower() in (s.lower() for s in self._subscriptions)
        if not known:
            raise ApiError(
                404,
                "SubscriptionNotFound",
                f"The subscription '{subscription_id}' could not be found.",
            )

    def _get_subscription(self, request: Request, subscription_id: str) -> Answer:
        self._check_subscription(subscription_id)
        found = [
            item
            for item in self._list_subscriptions(request, every=True).body["value"]
            if item["subscriptionId"].lower() == subscription_id.lower()
        ]
        return Answer(200, found[0])

    def _list_subscriptions(self, request: Request, every: bool = False) -> Answer:
        with self._lock:
            items = [
                {
                    "id": f"/subscriptions/{sid}",
                    "subscriptionId": sid,
                    "tenantId": TENANT_ID,
                    "displayName": name,
                    "state": "Enabled",
                    "subscriptionPolicies": {
                        "locationPlacementId": "Public_2014-09-01",
                        "quotaId": "EnterpriseAgreement_2014-09-01",
                        "spendingLimit": "Off",
                    },
                    "authorizationSource": "RoleBased",
                    "managedByTenants": [],
                }
                for sid, name in self._subscriptions.items()
            ]
        return Answer(200, {"value": items}) if every else self._page(request, items)

    def _list_resources(self, request: Request, subscription_id: str) -> Answer:
        wanted = _resource_type_filter(request.query.get("$filter"))
        with self._lock:
            items = [
                gateway.generic()
                for gateway in self._gateways.values()
                if gateway.subscription_id.lower() == subscription_id.lower()
            ] + [
                dict(resource)
                for resource in self._extra_resources
                if resource["id"].lower().startswith(f"/subscriptions/{subscription_id}/".lower())
            ]
        if wanted is not None:
            items = [item for item in items if item["type"].lower() == wanted]
        return self._page(request, sorted(items, key=lambda item: item["id"].lower()))

    def _list_gateways(self, request: Request, subscription_id: str, resource_group: str) -> Answer:
        self._check_subscription(subscription_id)
        with self._lock:
            in_group = [
                gateway.resource()
                for (sid, group, _), gateway in self._gateways.items()
                if sid == subscription_id.lower() and group == resource_group.lower()
            ]
            group_exists = any(
                resource["id"]
                .lower()
                .startswith(
                    f"/subscriptions/{subscription_id}/resourcegroups/{resource_group}/".lower()
                )
                for resource in self._extra_resources
            )
        if not in_group and not group_exists:
            raise ApiError(
                404,
                "ResourceGroupNotFound",
                f"Resource group '{resource_group}' could not be found.",
            )
        return self._page(request, in_group)

    def _gateway(self, subscription_id: str, resource_group: str, name: str) -> Gateway:
        self._check_subscription(subscription_id)
        with self._lock:
            gateway = self._gateways.get(_key(subscription_id, resource_group, name))
        if gateway is None:
            raise ApiError(
                404,
                "ResourceNotFound",
                f"The Resource '{GATEWAY_TYPE}/{name}' under resource group '{resource_group}' "
                f"was not found. {NOT_FOUND_FIX}",
            )
        return gateway

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Answer:
        """One page of `items` from `$skiptoken`, with a nextLink keeping the query (ARM's)."""
        token = request.query.get("$skiptoken", "0")
        if not token.isdigit():
            raise ApiError(400, "InvalidSkipToken", "The skip token is invalid.")
        start = int(token)
        body: dict[str, Any] = {"value": items[start : start + self.page_size]}
        if start + self.page_size < len(items):
            query = {**request.query, "$skiptoken": str(start + self.page_size)}
            body["nextLink"] = f"https://{request.host}{request.path}?{urlencode(query)}"
        return Answer(200, body)

    # ------------------------------------------------------------------------ operations

    def _start_operation(
        self,
        request: Request,
        gateway: Gateway,
        action: str,
        apply: Callable[[], Any],
        failed: bool,
    ) -> Answer:
        operation_id = str(uuid.uuid4())
        with self._lock:
            self._operations[operation_id] = _Operation(
                gateway, action, gateway.polls, apply, failed=failed
            )
        base = (
            f"https://{request.host}/subscriptions/{gateway.subscription_id}/providers/"
            f"Microsoft.Network/locations/{gateway.location}"
        )
        version = urlencode({"api-version": request.query["api-version"]})
        headers = {
            "Azure-AsyncOperation": f"{base}/operations/{operation_id}?{version}",
            "Location": f"{base}/operationResults/{operation_id}?{version}",
            **_retry_after(gateway.retry_after),
        }
        return Answer(202, None, headers)

    def _operation(self, action: str, operation_id: str, request: Request) -> Answer:
        with self._lock:
            operation = self._operations.get(operation_id)
        self._count(action, operation.gateway.name if operation else "")
        if operation is None:
            raise ApiError(404, "NotFound", f"Operation {operation_id} was not found.")
        with self._lock:
            if not operation.done:
                operation.polls_left -= 1
                if operation.polls_left <= 0:
                    operation.done = True
                    if not operation.failed:
                        operation.result = operation.apply()
            done, failed, result = operation.done, operation.failed, operation.result
        retry = _retry_after(operation.gateway.retry_after)
        if action == "GetOperationStatus":
            if not done:
                return Answer(200, {"status": "InProgress"}, retry)
            if failed:
                error = {
                    "code": "VpnClientConnectionHealthFailed"
                    if operation.action == "GetVpnclientConnectionHealth"
                    else "DisconnectVpnConnectionsFailed",
                    "message": f"The operation on gateway {operation.gateway.name} failed.",
                }
                return Answer(200, {"status": "Failed", "error": error})
            return Answer(200, {"status": "Succeeded"})
        if not done:
            return Answer(202, None, {"Location": _url(request), **retry})
        if failed:
            raise ApiError(500, "OperationFailed", "The long-running operation failed.")
        return Answer(200, result)

    def _health(self, gateway: Gateway) -> list[dict[str, Any]]:
        """The connected clients as getVpnclientConnectionHealth lists them (call under the
        lock): vpnConnectionTime naive UTC, duration counted to now."""
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        answer = []
        for client in gateway.clients:
            record = dict(client)
            started = record["vpnConnectionTime"]
            if isinstance(started, datetime):
                record["vpnConnectionTime"] = started.strftime("%Y-%m-%dT%H:%M:%S")
                record.setdefault("vpnConnectionDuration", int((now - started).total_seconds()))
            answer.append(record)
        return answer

    def _disconnect(self, gateway: Gateway, ids: list[str]) -> None:
        """Remove the clients with these IDs (call under the lock); unknown IDs are ignored,
        as Azure reports no per-connection outcome."""
        wanted = set(ids)
        gateway.clients = [c for c in gateway.clients if c.get("vpnConnectionId") not in wanted]

    # ------------------------------------------------------------------------ admin

    def _admin(self, request: Request) -> Answer:
        route = request.path[len(ADMIN_PREFIX) :]
        if route == "calls" and request.method == "GET":
            with self._lock:
                counts = [
                    {"action": action, "target": target, "count": count}
                    for (action, target), count in sorted(self._calls.items())
                ]
            return Answer(200, {"calls": counts})
        if route not in ("seed", "inject"):
            return Answer(404, {"error": f"no admin route {request.path}"})
        if request.method != "POST":
            return Answer(405, {"error": "use POST"})
        try:
            payload = json.loads(request.body or b"null")
            if not isinstance(payload, dict):
                raise ValueError("body must be a JSON object")
            if route == "inject":
                self.inject(**payload)
                return Answer(200, {"injected": payload})
            return Answer(200, {"clients": self.seed_clients(**payload)})
        except (ValueError, TypeError) as error:
            return Answer(400, {"error": str(error)})


def _aad_error(error: str, code: int, description: str) -> dict[str, Any]:
    """An Entra ID error body, as MSAL reads it."""
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {description}",
        "error_codes": [code],
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
    }


def _challenge(error: str, description: str) -> str:
    return (
        f'Bearer authorization_uri="https://login.microsoftonline.com/{TENANT_ID}", '
        f'error="{error}", error_description="{description}"'
    )


def _retry_after(seconds: float) -> dict[str, str]:
    """Retry-After in whole seconds, or Retry-After-Ms (which azure-core reads) below one."""
    if seconds >= 1 and float(seconds).is_integer():
        return {"Retry-After": str(int(seconds))}
    return {"Retry-After-Ms": str(round(seconds * 1000))} if seconds else {}


def _url(request: Request) -> str:
    return f"https://{request.host}{request.path}?{urlencode(request.query)}"


def _resource_type_filter(text: str | None) -> str | None:
    """The type of `resourceType eq '...'`, lower-cased; other filters are ARM's 400."""
    if not text:
        return None
    field_name, operator, value = [*text.strip().split(" ", 2), "", ""][:3]
    if field_name.lower() != "resourcetype" or operator.lower() != "eq" or len(value) < 2:
        raise ApiError(400, "InvalidFilterInQueryString", f"Invalid $filter '{text}'.")
    return value.strip("'").lower()


def _connection_ids(body: bytes) -> list[str]:
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        raise ApiError(400, "InvalidRequestContent", "The request content was invalid.") from None
    ids = payload.get("vpnConnectionIds") if isinstance(payload, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(
            400, "InvalidRequestFormat", "vpnConnectionIds must be a list of connection IDs."
        )
    return ids


# ---------------------------------------------------------------------------- generated data

CLIENT_FIELDS = frozenset(
    {
        "vpnConnectionId",
        "vpnConnectionDuration",
        "vpnConnectionTime",
        "publicIpAddress",
        "privateIpAddress",
        "vpnUserName",
        "maxBandwidth",
        "egressPacketsTransferred",
        "egressBytesTransferred",
        "ingressPacketsTransferred",
        "ingressBytesTransferred",
        "maxPacketsPerSecond",
    }
)
_PUBLIC_NETWORKS = tuple(
    ipaddress.IPv4Network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
_USERS = tuple(
    f"{first}.{last}@contoso.com"
    for last in ("jones", "okafor", "dubois", "rossi", "sato")
    for first in ("amelia", "ben", "chloe", "diego", "emma", "farid")
)


def _gateway_properties(rng: random.Random, p2s: bool) -> dict[str, Any]:
    """ARM properties of a healthy route-based VPN gateway; P2S ones take OpenVPN (Entra ID
    users) and IKEv2 (certificates), as most P2S gateways do."""
    pool = f"172.16.{rng.randint(1, 250)}.0/24"
    properties: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "resourceGuid": str(uuid.UUID(int=rng.getrandbits(128))),
        "gatewayType": "Vpn",
        "vpnType": "RouteBased",
        "vpnGatewayGeneration": "Generation2",
        "enableBgp": False,
        "activeActive": False,
        "sku": {"name": "VpnGw2AZ", "tier": "VpnGw2AZ", "capacity": 2},
    }
    if p2s:
        properties["vpnClientConfiguration"] = {
            "vpnClientAddressPool": {"addressPrefixes": [pool]},
            "vpnClientProtocols": ["OpenVPN", "IkeV2"],
            "vpnAuthenticationTypes": ["AAD", "Certificate"],
            "vpnClientRootCertificates": [],
            "vpnClientRevokedCertificates": [],
            "radiusServers": [],
            "vpnClientIpsecPolicies": [],
        }
    return properties


def _client(rng: random.Random, gateway: Gateway, position: int) -> dict[str, Any]:
    """A connected client: OpenVPN sessions of Entra ID users, IKEv2 ones of certificates."""
    openvpn = rng.random() < 0.65
    prefix, user = (
        ("OVPN", rng.choice(_USERS)) if openvpn else ("IKEv2", f"P2SChildCert-{rng.randint(1, 60)}")
    )
    configuration = gateway.properties.get("vpnClientConfiguration") or {}
    pools = (configuration.get("vpnClientAddressPool") or {}).get("addressPrefixes") or [
        "172.16.0.0/24"
    ]
    network = ipaddress.IPv4Network(pools[0])
    public = rng.choice(_PUBLIC_NETWORKS)
    started = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(
        seconds=rng.randrange(60, 2 * 86_400)
    )
    ingress = int(10 ** rng.uniform(4, 9.5))
    egress = int(10 ** rng.uniform(4, 10))
    return {
        "vpnConnectionId": f"{prefix}_{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        "vpnConnectionTime": started,
        "publicIpAddress": f"{public.network_address + rng.randint(1, 254)}:"
        f"{rng.randint(1024, 65535)}",
        "privateIpAddress": str(
            network.network_address + 2 + position % (network.num_addresses - 3)
        ),
        "vpnUserName": user,
        "maxBandwidth": rng.choice((120_000_000, 240_000_000, 480_000_000)),
        "ingressBytesTransferred": ingress,
        "egressBytesTransferred": egress,
        "ingressPacketsTransferred": ingress // rng.randint(400, 1400) + 1,
        "egressPacketsTransferred": egress // rng.randint(400, 1400) + 1,
        "maxPacketsPerSecond": rng.randint(1, 40),
    }


# ---------------------------------------------------------------------------- demo data


@dataclass(frozen=True)
class DemoGateway:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    clients: int
    p2s: bool = True


DEMO_SEED = 20240601
DEMO_SUBSCRIPTIONS = {
    "3f2a8b1c-4d5e-4f60-8a7b-9c0d1e2f3a01": "Contoso Production",
    "3f2a8b1c-4d5e-4f60-8a7b-9c0d1e2f3a02": "Contoso Development",
}
_PROD, _DEV = DEMO_SUBSCRIPTIONS
DEMO_GATEWAYS = (
    DemoGateway(_PROD, "rg-network-weu", "vgw-weu-p2s", "westeurope", 30),
    DemoGateway(_PROD, "rg-network-weu", "vgw-weu-s2s", "westeurope", 0, p2s=False),
    DemoGateway(_PROD, "rg-network-eus", "vgw-eus-p2s", "eastus", 15),
    DemoGateway(_DEV, "rg-dev-network", "vgw-dev-p2s", "westeurope", 8),
)


def load_demo(emulator: Emulator) -> None:
    """Add the demo subscriptions, gateways and clients (deterministic except times)."""
    for subscription_id, name in DEMO_SUBSCRIPTIONS.items():
        emulator.create_subscription(subscription_id, name)
    for index, demo in enumerate(DEMO_GATEWAYS):
        emulator.create_gateway(
            demo.subscription_id,
            demo.resource_group,
            demo.name,
            demo.location,
            p2s=demo.p2s,
            seed=DEMO_SEED + index,
        )
        emulator.seed_clients(
            demo.subscription_id,
            demo.resource_group,
            demo.name,
            demo.clients,
            seed=DEMO_SEED + index,
        )


# ---------------------------------------------------------------------------- the server


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, lets the emulator answer it, writes JSON (keep-alive, like ARM)."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in self.headers.items()}
        host = self.headers.get("host") or self.server.netloc
        request = Request(self.command, url.path, query, headers, body, host)
        try:
            answer = self.server.emulator.handle(request)
        except Dropped:
            self.close_connection = True
            return
        data = b"" if answer.body is None else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if data:
            self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the access log off the CLI's stderr."""


class _Server(ThreadingHTTPServer):
    """HTTPS with the handshake on each connection's own thread (not the accepting one), a
    deep listen backlog and TCP_NODELAY: http.server's backlog of 5 and Nagle would make
    concurrent clients wait seconds (SYN retransmits) and small answers 40 ms."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], emulator: Emulator, authority: Authority) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.emulator = emulator
        self.authority = authority
        host = f"[{address[0]}]" if ":" in address[0] else address[0]
        self.netloc = f"{host}:{self.server_port}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            wrapped = self.authority.context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):  # a client that gave up or spoke plain HTTP
            return
        super().finish_request(wrapped, client_address)


@dataclass(frozen=True)
class AzureServer:
    """A running emulator: its base URL, its state (``emulator``), the CA clients must trust,
    and ``stop()``."""

    url: str
    emulator: Emulator
    ca_file: str
    _server: _Server = field(repr=False, compare=False)
    _thread: threading.Thread = field(repr=False, compare=False)

    def env(self) -> dict[str, str]:
        """Environment that points the Azure SDKs and vpnsql at this emulator: its CA, its
        service principal, and only the environment credential (never a machine's az login
        or a managed-identity probe)."""
        client_id, secret = next(iter(self.emulator.clients.items()))
        return {
            "VPNSQL_AZURE_ENDPOINT": self.url,
            "AZURE_AUTHORITY_HOST": self.url,
            "AZURE_TENANT_ID": TENANT_ID,
            "AZURE_CLIENT_ID": client_id,
            "AZURE_CLIENT_SECRET": secret,
            "AZURE_TOKEN_CREDENTIALS": "EnvironmentCredential",
            "REQUESTS_CA_BUNDLE": self.ca_file,
            "SSL_CERT_FILE": self.ca_file,
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
        self._server.authority.close()


def start(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    demo: bool = True,
    latency: float = 0.0,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> AzureServer:
    """Serve a new emulator over HTTPS on a loopback port (0: the OS picks one) from a thread.
    The demo subscriptions exist even without demo data (empty): the sandbox's config file
    names them as accounts."""
    emulator = Emulator(latency=latency, page_size=page_size)
    for subscription_id, name in DEMO_SUBSCRIPTIONS.items():  # the sandbox config names them
        emulator.create_subscription(subscription_id, name)
    if demo:
        load_demo(emulator)
    hosts = [host, "127.0.0.1", "localhost"] if host not in ("0.0.0.0", "::") else ["127.0.0.1"]
    authority = make_authority(hosts)
    server = _Server((host, port), emulator, authority)
    thread = threading.Thread(target=server.serve_forever, name="vpnsql-azure", daemon=True)
    thread.start()
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::") else server.netloc.rsplit(":", 1)[0]
    url = f"https://{url_host}:{server.server_port}"
    return AzureServer(url, emulator, str(authority.ca_file), server, thread)


LOCATIONS = (
    "eastus", "eastus2", "westus", "westus2", "westus3", "centralus", "northcentralus",
    "southcentralus", "canadacentral", "brazilsouth", "northeurope", "westeurope", "uksouth",
    "ukwest", "francecentral", "germanywestcentral", "switzerlandnorth", "norwayeast",
    "swedencentral", "polandcentral", "italynorth", "uaenorth", "southafricanorth",
    "centralindia", "southeastasia", "eastasia", "japaneast", "japanwest", "koreacentral",
    "australiaeast", "australiasoutheast",
)  # fmt: skip
"""What a subscription's locations list answers: Azure's public locations (the emulator's)."""


def _location(subscription_id: str, name: str) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{subscription_id}/locations/{name}",
        "name": name,
        "type": "Region",
        "displayName": name,
        "regionalDisplayName": name,
        "metadata": {"regionType": "Physical", "regionCategory": "Recommended"},
    }
