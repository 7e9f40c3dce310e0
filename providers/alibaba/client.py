"""Alibaba Cloud SDK clients, credentials, retries and error translation for the Alibaba tables.

The SDK is imported inside these functions only: `alibabacloud_vpc20160428.client` takes about
half a second to import (aiohttp and 1,200 model modules), which a query that reads no Alibaba
table must not pay.

The SDK retries nothing by default (RuntimeOptions.autoretry is ignored; only
Config.retry_options counts), so every client gets retry options for throttling: up to
MAX_ATTEMPTS attempts with exponential backoff and equal jitter, so a throttled gateway still
gives its complete answer, and a persistent one fails loudly. Its connect and read timeouts
(5 s and 10 s by default) come from `--timeout`, shared by the NETWORK_ATTEMPTS attempts.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vpnsql.accounts import DEFAULT, Account
from vpnsql.credentials import first_file_mentioning
from vpnsql.errors import CallTimeout, ConfigurationError, CredentialsError, ProviderError
from vpnsql.tables import THROTTLING_ATTEMPTS, Settings
from vpnsql_providers.alibaba.estate import estate

ENDPOINT_VARIABLE = "VPNSQL_ALIBABA_ENDPOINT"
THROTTLING_CODES = ("Throttling.User", "Throttling", "ServiceUnavailable")
MAX_ATTEMPTS = THROTTLING_ATTEMPTS
NETWORK_ATTEMPTS = 3  # as botocore's standard mode does for AWS; every call here is a read
BACKOFF_MS = 100  # first retry waits 100-200 ms, then 200-400, 400-800, 800-1600
MAX_BACKOFF_MS = 5000

CREDENTIALS_HINT = (
    "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or configure a "
    "profile (aliyun configure, ~/.alibabacloud/credentials.ini), or try --sandbox"
)
_AUTH_CODES = {
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidAccessKeyId.NotFound",
    "InvalidAccessKeyId.Inactive",
    "InvalidSecurityToken.Expired",
    "InvalidSecurityToken.Malformed",
}
_PERMISSION_CODES = {"Forbidden", "Forbbiden.SubUser", "Forbidden.RAM", "Forbidden.SubUser"}
_PERMISSION_HINT = (
    "grant the RAM user or role vpc:DescribeSslVpnClients and vpc:DescribeVpnGateways"
)
_TIMED_OUT = re.compile(r"\b(Read|Connection to .*) timed out\b|\bConnectTimeout")
_lock = threading.Lock()
_prepare_lock = threading.Lock()


def vpc(region: str, settings: Settings, account: str = DEFAULT) -> Any:
    """The account's VPC client for the region (SDK clients are safe to share across threads)."""
    with _lock:
        clients = settings.state.setdefault("alibaba.vpc", {})
        client = clients.get((account, region))
        if client is None:
            client = clients[(account, region)] = _new_client(account, region, settings)
    return client


def _new_client(account: str, region: str, settings: Settings) -> Any:
    from alibabacloud_tea_openapi.utils_models import Config
    from alibabacloud_vpc20160428.client import Client

    prepare()
    timeout_ms = round(settings.attempt_timeout(NETWORK_ATTEMPTS) * 1000)
    config = Config(
        region_id=region,
        retry_options=_retry_options(),
        connect_timeout=timeout_ms,
        read_timeout=timeout_ms,
        max_idle_conns=max(10, settings.max_concurrency),
        **_endpoint(),
        **_credentials(estate(settings).account(account)),
    )
    return Client(config)


def prepare() -> None:
    """Import the SDK (about half a second) and make its HTTP sessions safe to share.

    The fetcher runs this in the background as soon as a plan calls Alibaba, without holding
    a worker. The SDK keeps one HTTP session per host in a class-level dict with no lock, so
    concurrent first callers each built one (and an SSL context, ~34 ms of CPU each); a lock
    around it gives every region one session and one context.
    """
    import alibabacloud_vpc20160428.client
    import alibabacloud_vpc20160428.models  # noqa: F401
    from darabonba.core import DaraCore

    with _prepare_lock:
        if getattr(DaraCore, "_vpnsql_locked", False):
            return
        unlocked = DaraCore._get_session
        session_lock = threading.Lock()

        def locked(*args: Any, **kwargs: Any) -> Any:
            with session_lock:
                return unlocked(*args, **kwargs)

        DaraCore._get_session = staticmethod(locked)
        DaraCore._vpnsql_locked = True


def _retry_options() -> Any:
    from darabonba.policy.retry import RetryOptions

    backoff = {"policy": "ExponentialWithEqualJitter", "period": BACKOFF_MS, "cap": MAX_BACKOFF_MS}
    throttled = {
        "maxAttempts": MAX_ATTEMPTS,
        "errorCode": list(THROTTLING_CODES),
        "backoff": backoff,
        "maxDelay": MAX_BACKOFF_MS,
    }
    unanswered = {  # RetryError is the SDK's name for a failed HTTP exchange
        "maxAttempts": NETWORK_ATTEMPTS,
        "exception": ["RetryError"],
        "backoff": backoff,
        "maxDelay": MAX_BACKOFF_MS,
    }
    return RetryOptions({"retryable": True, "retryCondition": [throttled, unanswered]})


def _endpoint() -> dict[str, str]:
    """Config for VPNSQL_ALIBABA_ENDPOINT (http://host:port); none means the regional one."""
    url = os.environ.get(ENDPOINT_VARIABLE)
    if not url:
        return {}
    parts = urlsplit(url)
    try:
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not one
        valid = False
    if not valid or parts.path.strip("/") or parts.query:
        raise ConfigurationError(
            f"{ENDPOINT_VARIABLE} must be a URL such as http://127.0.0.1:8500, not {url!r}"
        )
    return {"endpoint": parts.netloc, "protocol": parts.scheme}


def _credentials(account: Account) -> dict[str, Any]:
    """Config for the credentials: a profile account's through the credentials SDK's own
    profile provider; the default account's from the environment's access key, else the
    SDK's default chain.

    The chain reads ALIBABA_CLOUD_ACCESS_KEY_* once per process, when it is imported; reading
    them here, per session, lets a later session use keys set since (the rest of the chain:
    ~/.aliyun/config.json, ~/.alibabacloud/credentials.ini, ECS RAM roles, is the SDK's).
    """
    from alibabacloud_credentials.client import Client as CredentialClient

    if "profile" in account.options:
        from alibabacloud_credentials.provider.cli_profile import CLIProfileCredentialsProvider

        provider = CLIProfileCredentialsProvider(
            profile_name=account.options["profile"],
            profile_file=str(Path(account.options["profile_file"]).expanduser()),
        )
        return {"credential": CredentialClient(provider=provider)}
    key_id = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
    secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    if key_id and secret:
        token = os.environ.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None
        return {"access_key_id": key_id, "access_key_secret": secret, "security_token": token}
    # The chain logs a traceback to stderr for each place it finds no credentials, through a
    # handler of its own; vpnsql reports the outcome itself (CredentialsError, or a notice).
    logging.getLogger("credentials").setLevel(logging.CRITICAL)
    return {"credential": CredentialClient()}


@contextmanager
def translated_errors(
    region: str, target: str | None = None, account: str | None = None, operation: str = "the call"
) -> Iterator[None]:
    """Turn the SDK's exceptions into vpnsql errors that keep Alibaba's code and message (a
    call that timed out on every attempt is a CallTimeout naming `operation`)."""
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
    from darabonba.exceptions import UnretryableException

    where = {"provider": "alibaba", "account": account, "region": region, "target": target}
    try:
        yield
    except AlibabaCloudException as err:
        raise _api_error(err, where) from None
    except UnretryableException as err:
        # Anything that is not an API answer: credentials, network.
        raise _local_error(err.inner_exception, where, operation) from None


def _api_error(err: Any, where: dict[str, Any]) -> ProviderError:
    answer = err.data if isinstance(err.data, dict) else {}
    code = err.code
    message = answer.get("Message") or err.message
    if err.request_id and err.request_id != "None":  # the SDK formats a missing id as "None"
        message = f"{message} (RequestId {err.request_id})"
    hint = None
    if code in THROTTLING_CODES:
        message = f"{message}; still throttled after {MAX_ATTEMPTS} attempts"
        hint = "lower --max-concurrency, or try again later"
    elif code in _AUTH_CODES:
        hint = CREDENTIALS_HINT
    elif code in _PERMISSION_CODES:
        hint = _PERMISSION_HINT
    return ProviderError(message, code=code, hint=hint, **where)


def _local_error(err: BaseException, where: dict[str, Any], operation: str) -> ProviderError:
    from alibabacloud_credentials.exceptions import CredentialException
    from darabonba.exceptions import RetryError

    if isinstance(err, CredentialException):
        return CredentialsError(_no_credentials(), hint=CREDENTIALS_HINT, **where)
    if isinstance(err, RetryError) and _TIMED_OUT.search(err.message or ""):
        # The SDK keeps only the text of requests' Timeout: "... Read timed out. (read ...)"
        url = os.environ.get(ENDPOINT_VARIABLE) or f"the {where['region']} endpoint"
        return CallTimeout(operation, url, **where)
    if isinstance(err, RetryError):  # the SDK's name for a failed HTTP exchange
        return ProviderError(
            f"cannot reach the Alibaba Cloud API after {NETWORK_ATTEMPTS} attempts: {err.message}",
            code="NetworkError",
            hint=f"check the network (and {ENDPOINT_VARIABLE}, if set)",
            **where,
        )
    return ProviderError(str(err), code=type(err).__name__, **where)


def _no_credentials() -> str:
    """The chain's failure in vpnsql's words (the SDK lists every provider it tried on one
    line, with paths such as `$/home/.../credentials.ini`): none found, or the files that
    exist but gave none."""
    present = [path for path in _credential_files(os.environ) if Path(path).expanduser().is_file()]
    if not present:
        return "no Alibaba Cloud credentials found"
    return f"no Alibaba Cloud credentials found: none usable in {' or '.join(present)}"


def _credential_files(environ: Mapping[str, str]) -> tuple[str, str]:
    """The files of the default chain, in its order."""
    return (
        environ.get("ALIBABA_CLOUD_CREDENTIALS_FILE") or "~/.alibabacloud/credentials.ini",
        "~/.aliyun/config.json",
    )


def credential_source(environ: Mapping[str, str], settings: Settings) -> str | None:
    """Where the Alibaba Cloud chain would find credentials: environment, credentials.ini,
    the aliyun CLI profile (seen without importing the SDK or reading a secret)."""
    if environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID"):
        return "environment variables"
    return first_file_mentioning(_credential_files(environ), ("access_key_id", "ram_role", "mode"))


def endpoint_override(environ: Mapping[str, str]) -> str | None:
    """VPNSQL_ALIBABA_ENDPOINT, which replaces every region's endpoint when set."""
    url = environ.get(ENDPOINT_VARIABLE)
    return f"{url} ({ENDPOINT_VARIABLE})" if url else None
