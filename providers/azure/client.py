"""Azure SDK clients, credentials, settings and error translation for the Azure tables.

The SDKs are imported inside these functions only (azure-mgmt-network alone takes about 0.2 s
to import), so a query that reads no Azure table never pays for them.

- Credentials: azure-identity's DefaultAzureCredential (environment service principal,
  workload identity, managed identity, Azure CLI / PowerShell / azd logins), asked only when
  `credential_source` sees one of them: the chain would otherwise probe the instance metadata
  service of a machine that is no Azure VM. On an Azure VM, AZURE_TOKEN_CREDENTIALS (the
  SDK's own switch, e.g. ManagedIdentityCredential) says to use it. AZURE_AUTHORITY_HOST is
  the SDK's; for a host that is not one of AzureAuthorityHosts (private clouds, Azure Stack,
  the sandbox) instance discovery is turned off, else MSAL asks login.microsoftonline.com
  about the unknown host.
- VPNSQL_AZURE_ENDPOINT (https only: MSAL and azure-core refuse bearer tokens over plain
  HTTP) is the ARM base URL of every client; the token scope stays ARM's default unless
  VPNSQL_AZURE_SCOPE says otherwise. A private CA comes from REQUESTS_CA_BUNDLE, which the
  SDKs' transport (requests) honours; TLS verification is never turned off.
- Every client of a session shares one requests session (one TLS connection pool) and the
  retry settings below: azure-core would otherwise retry a 5xx on POST ten times with
  backoff up to two minutes, and wait 300 s for a silent server.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vpnsql.errors import CredentialsError, ProviderError
from vpnsql.tables import Settings

ENDPOINT_VARIABLE = "VPNSQL_AZURE_ENDPOINT"
SCOPE_VARIABLE = "VPNSQL_AZURE_SCOPE"
POLL_INTERVAL_VARIABLE = "VPNSQL_AZURE_POLL_INTERVAL"
OPERATION_TIMEOUT_VARIABLE = "VPNSQL_AZURE_OPERATION_TIMEOUT"
POLL_INTERVAL = 1.0
"""Seconds between polls of a long-running operation when Azure sends no Retry-After (the
SDK's own default is 30 s); a Retry-After is always honoured."""
OPERATION_TIMEOUT = 300.0
"""Seconds a long-running operation (the health call, a disconnect) may take in all."""
RETRIES = 4  # attempts after the first, for 408/429/5xx (POST included) and network errors
RETRY_BACKOFF = 0.5  # seconds, doubled each retry
RETRY_BACKOFF_MAX = 8.0
RETRY_TIMEOUT = 120.0  # seconds all attempts of one call may take, waits included
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0

CREDENTIALS_HINT = (
    "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (a service principal), "
    "or run az login; on an Azure VM with a managed identity set "
    "AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential; or try --sandbox"
)
PERMISSION_HINT = (
    "give the identity a role with Microsoft.Resources/subscriptions/resources/read, "
    "Microsoft.Network/virtualNetworkGateways/read and .../getVpnClientConnectionHealth/action "
    "(and .../disconnectVirtualNetworkGatewayVpnConnections/action to end sessions), e.g. "
    "Network Contributor, on the subscription"
)
_lock = threading.Lock()


def prepare() -> None:
    """Import the SDKs a first Azure call needs (about 0.4 s), off the critical path."""
    import azure.identity
    import azure.mgmt.network
    import azure.mgmt.resource.resources
    import azure.mgmt.resource.subscriptions  # noqa: F401


def credential_source(environ: Mapping[str, str], settings: Settings) -> str | None:
    """Where DefaultAzureCredential would find credentials, as far as can be seen without
    importing the SDK or calling anything (no secret is read)."""
    if environ.get("AZURE_TOKEN_CREDENTIALS"):
        return f"AZURE_TOKEN_CREDENTIALS={environ['AZURE_TOKEN_CREDENTIALS']}"
    if environ.get("AZURE_CLIENT_ID") and any(
        environ.get(name)
        for name in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME")
    ):
        return "environment variables"
    if environ.get("AZURE_FEDERATED_TOKEN_FILE"):
        return "workload identity"
    if environ.get("IDENTITY_ENDPOINT") or environ.get("MSI_ENDPOINT"):
        return "managed identity"
    config = Path(environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure")
    for name in ("msal_token_cache.json", "msal_token_cache.bin", "azureProfile.json"):
        if (config / name).is_file():
            return f"Azure CLI login ({config})"
    return None


def network(subscription_id: str, settings: Settings) -> Any:
    """The session's NetworkManagementClient for the subscription."""
    return _client("network", subscription_id, settings)


def resources(subscription_id: str, settings: Settings) -> Any:
    """The session's ResourceManagementClient for the subscription."""
    return _client("resources", subscription_id, settings)


def subscription_client(settings: Settings) -> Any:
    """The session's SubscriptionClient (subscriptions the credential can see)."""
    return _client("subscriptions", "", settings)


def _client(kind: str, subscription_id: str, settings: Settings) -> Any:
    with _lock:
        clients = settings.state.setdefault("azure.clients", {})
        client = clients.get((kind, subscription_id))
        if client is None:
            with translated_errors(subscription_id or None):  # the first token is taken here
                client = _new_client(kind, subscription_id, settings)
            clients[(kind, subscription_id)] = client
    return client


def _new_client(kind: str, subscription_id: str, settings: Settings) -> Any:
    """A management client on the shared credential and transport (call under `_lock`)."""
    options: dict[str, Any] = {
        "base_url": endpoint(),
        "transport": _transport(settings),
        "retry_total": RETRIES,
        "retry_status": RETRIES,
        "retry_connect": RETRIES,
        "retry_read": RETRIES,
        "retry_backoff_factor": RETRY_BACKOFF,
        "retry_backoff_max": RETRY_BACKOFF_MAX,
        "timeout": RETRY_TIMEOUT,
        "polling_interval": poll_interval(settings),
    }
    scope = os.environ.get(SCOPE_VARIABLE)
    if scope:
        options["credential_scopes"] = [scope]
    credential = _credential(settings)
    if kind == "subscriptions":
        from azure.mgmt.resource.subscriptions import SubscriptionClient

        return SubscriptionClient(credential, **options)
    if kind == "resources":
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient(credential, subscription_id, **options)
    from azure.mgmt.network import NetworkManagementClient

    return NetworkManagementClient(credential, subscription_id, **options)


def endpoint() -> str:
    """The ARM base URL: VPNSQL_AZURE_ENDPOINT (https only), else Azure's public cloud."""
    url = os.environ.get(ENDPOINT_VARIABLE)
    if not url:
        return "https://management.azure.com"
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise ProviderError(
            f"{ENDPOINT_VARIABLE} must be an https URL such as https://127.0.0.1:8443, not {url!r}",
            provider="azure",
            code="InvalidEndpoint",
            hint="Azure's SDKs send tokens over TLS only; trust a private CA with "
            "REQUESTS_CA_BUNDLE",
        )
    return url.rstrip("/")


def poll_interval(settings: Settings) -> float:
    """VPNSQL_AZURE_POLL_INTERVAL, else `poll_interval` of the config's [azure] section."""
    return _seconds(settings, POLL_INTERVAL_VARIABLE, "poll_interval", POLL_INTERVAL)


def operation_timeout(settings: Settings) -> float:
    """VPNSQL_AZURE_OPERATION_TIMEOUT, else `operation_timeout` of the [azure] section."""
    return _seconds(settings, OPERATION_TIMEOUT_VARIABLE, "operation_timeout", OPERATION_TIMEOUT)


def _seconds(settings: Settings, variable: str, key: str, default: float) -> float:
    text = os.environ.get(variable)
    configured = settings.section("azure").get(key)
    if not text and configured is None:
        return default
    try:
        value = float(text) if text else float(configured)
    except ValueError:
        value = -1.0
    if not 0 < value < 86_400:
        name = variable if text else f"{key} in the [azure] section"
        raise ProviderError(
            f"{name} must be a number of seconds above 0, not {text or configured!r}",
            provider="azure",
            code="InvalidSetting",
        )
    return value


def _transport(settings: Settings) -> Any:
    """One requests session for every client of the vpnsql session, pooled for the fan-out."""
    transport = settings.state.get("azure.transport")
    if transport is None:
        import requests
        from azure.core.pipeline.transport import RequestsTransport

        session = requests.Session()
        size = max(32, 2 * settings.max_concurrency)  # calls and their polling threads
        adapter = requests.adapters.HTTPAdapter(pool_connections=size, pool_maxsize=size)
        session.mount("https://", adapter)
        transport = settings.state["azure.transport"] = RequestsTransport(
            session=session,
            session_owner=False,
            connection_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
        )
    return transport


def _credential(settings: Settings) -> Any:
    """The session's DefaultAzureCredential (call under `_lock`), with a first token taken
    at once: concurrent first callers then find it in MSAL's cache instead of each asking."""
    credential = settings.state.get("azure.credential")
    if credential is not None:
        return credential
    if credential_source(os.environ, settings) is None:
        raise CredentialsError(
            "no Azure credentials found", provider="azure", hint=CREDENTIALS_HINT
        )
    from azure.identity import DefaultAzureCredential

    options: dict[str, Any] = {"transport": _transport(settings)}
    if _unknown_authority(os.environ.get("AZURE_AUTHORITY_HOST")):
        options["disable_instance_discovery"] = True
    credential = DefaultAzureCredential(**options)
    scope = os.environ.get(SCOPE_VARIABLE) or "https://management.azure.com/.default"
    credential.get_token(scope)
    settings.state["azure.credential"] = credential
    return credential


def _unknown_authority(host: str | None) -> bool:
    """Whether AZURE_AUTHORITY_HOST names a host MSAL's instance discovery does not know."""
    if not host:
        return False
    from azure.identity import AzureAuthorityHosts

    known = {value for name, value in vars(AzureAuthorityHosts).items() if not name.startswith("_")}
    name = urlsplit(host if "//" in host else f"https://{host}").hostname or ""
    return name.lower() not in known


@contextmanager
def translated_errors(subscription_id: str | None, target: str | None = None) -> Iterator[None]:
    """Turn azure-core's and azure-identity's exceptions into vpnsql errors that keep the
    ARM error code and name the subscription (and gateway)."""
    from azure.core.exceptions import (
        AzureError,
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )
    from azure.identity import CredentialUnavailableError

    where = ", ".join(
        part for part in (subscription_id and f"subscription {subscription_id}", target) if part
    )
    try:
        yield
    except OperationTimedOut as err:
        raise ProviderError(
            str(err), provider="azure", code="OperationTimedOut", target=where,
            hint=f"Azure can take a while to answer; raise {OPERATION_TIMEOUT_VARIABLE}",
        ) from None  # fmt: skip
    except CredentialUnavailableError as err:
        raise CredentialsError(
            f"no usable Azure credentials: {_first_line(err.message)}",
            provider="azure",
            target=where,
            hint=CREDENTIALS_HINT,
        ) from None
    except ClientAuthenticationError as err:
        code = _code(err) or "AuthenticationFailed"
        raise ProviderError(
            _message(err), provider="azure", code=code, target=where, hint=CREDENTIALS_HINT
        ) from None
    except HttpResponseError as err:
        raise _http_error(err, where) from None
    except (ServiceRequestError, ServiceResponseError) as err:
        raise ProviderError(
            f"cannot reach Azure Resource Manager after {RETRIES + 1} attempts: "
            f"{_first_line(str(err))}",
            provider="azure",
            code="NetworkError",
            target=where,
            hint=f"check the network (and {ENDPOINT_VARIABLE}, if set)",
        ) from None
    except AzureError as err:
        raise ProviderError(
            _first_line(str(err)), provider="azure", code=type(err).__name__, target=where
        ) from None


def _http_error(err: Any, where: str) -> ProviderError:
    status = err.status_code
    code = _code(err) or ("OperationFailed" if status is None or status < 400 else f"HTTP{status}")
    hint = None
    if status == 403 or code == "AuthorizationFailed":
        hint = PERMISSION_HINT
    elif status == 429:
        hint = "lower --max-concurrency, or try again later"
    elif status is not None and status >= 500:
        hint = "Azure answered with a server error after retries; try again later"
    return ProviderError(_message(err), provider="azure", code=code, target=where, hint=hint)


def _code(err: Any) -> str | None:
    error = getattr(err, "error", None)
    return getattr(error, "code", None) or None


def _message(err: Any) -> str:
    """ARM's own message, else the first line of the SDK's (an identity chain's message is
    a whole report: its most specific line is the one naming Entra ID's AADSTS code)."""
    error = getattr(err, "error", None)
    message = getattr(error, "message", None)
    if message:
        return _first_line(message)
    text = getattr(err, "message", None) or str(err)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    specific = [line for line in lines if "AADSTS" in line]
    return _first_line(specific[0] if specific else (lines[0] if lines else type(err).__name__))


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:500]


class OperationTimedOut(Exception):
    """A long-running operation still ran when its deadline came."""


def bounded_polling(what: str, settings: Settings) -> Any:
    """ARM polling that honours Retry-After, falls back to the poll interval when Azure
    sends none, and gives up at the operation deadline (the SDK would poll forever)."""
    timeout = operation_timeout(settings)
    deadline = time.monotonic() + timeout
    return _polling_class()(poll_interval(settings), deadline=deadline, what=what, timeout=timeout)


@cache
def _polling_class() -> type:
    from azure.mgmt.core.polling.arm_polling import ARMPolling

    class BoundedPolling(ARMPolling):  # type: ignore[misc]
        def __init__(self, interval: float, *, deadline: float, what: str, timeout: float) -> None:
            super().__init__(interval)
            self._deadline = deadline
            self._what = what
            self._limit = timeout  # not _timeout: ARMPolling keeps its poll interval there

        def _sleep(self, delay: float) -> None:
            if time.monotonic() + delay > self._deadline:
                raise OperationTimedOut(f"{self._what} was still running after {self._limit:g} s")
            super()._sleep(delay)

    return BoundedPolling
