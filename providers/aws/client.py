"""AWS clients shared by the AWS tables: one per (account, service, region), and value typing.

Clients come from botocore, the layer boto3 is built on (the same credential chain, config
files and retry modes), without boto3's own import of s3transfer (~0.1 s a one-liner need not
pay). Each account has a botocore session of its own (see estate.py); clients are made once
per region under the account's lock (sessions are not thread-safe, clients are, and the
fetcher calls from several threads).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from vpnsql.accounts import DEFAULT
from vpnsql.answers import BadValue
from vpnsql.credentials import first_file_mentioning
from vpnsql.tables import THROTTLING_ATTEMPTS, Settings
from vpnsql_providers.aws.errors import configuration_errors, translated_errors
from vpnsql_providers.aws.estate import estate


def client(service: str, region: str, settings: Settings, account: str = DEFAULT) -> Any:
    """The account's client of a service in a region: retries and per-attempt timeouts as
    `_client_config` says.

    One botocore session per account serves every region: the service model is read once per
    process (the sessions share a data loader), not once per client.
    """
    found = estate(settings)
    key = (account, service, region)
    clients = settings.state.setdefault("aws.clients", {})
    made = clients.get(key)
    if made is not None:
        return made
    with translated_errors(region, account=found.where(account)), configuration_errors():
        session = found.session(account)
        with found.lock(account):
            made = clients.get(key)
            if made is None:
                config = _client_config(session, settings)
                made = session.create_client(service, region_name=region, config=config)
                if urlsplit(made.meta.endpoint_url).scheme not in ("http", "https"):
                    raise ValueError(f"{made.meta.endpoint_url!r} is not an http(s) URL")
                clients[key] = made
    return made


def _client_config(session: Any, settings: Settings) -> Any:
    """botocore's standard retry mode with THROTTLING_ATTEMPTS attempts, unless the user
    configured their own (AWS_RETRY_MODE, AWS_MAX_ATTEMPTS, a profile's retry_mode and
    max_attempts); connect and read timeouts per attempt from `--timeout`.

    Standard, not adaptive: adaptive's client-side rate limiter took a burst of 200 calls at
    --max-concurrency 64 from about 7 s to over 2 minutes, and answered no more often
    (bench/throttling.py).
    """
    from botocore.config import Config

    mode = session.get_config_variable("retry_mode") or "standard"
    configured = session.get_config_variable("max_attempts")
    attempts = THROTTLING_ATTEMPTS if configured is None else configured
    timeout = settings.attempt_timeout(attempts)
    return Config(
        retries={"mode": mode, "total_max_attempts": attempts},
        connect_timeout=timeout,
        read_timeout=timeout,
        max_pool_connections=max(10, settings.max_concurrency),
    )


def ec2(region: str, settings: Settings, account: str = DEFAULT) -> Any:
    """The account's EC2 client for the region."""
    return client("ec2", region, settings, account)


def logs(region: str, settings: Settings, account: str = DEFAULT) -> Any:
    """The account's CloudWatch Logs client for the region."""
    return client("logs", region, settings, account)


def shared_loader(core: Any) -> Any:
    """The process's loader: botocore's own search paths (AWS_DATA_PATH included), and the
    models of EC2 and CloudWatch Logs cut down to the operations vpnsql calls (models.py)."""
    global _loader
    if _loader is None:
        from vpnsql_providers.aws.models import SlimLoader

        paths = core.get_component("data_loader").search_paths
        _loader = SlimLoader(extra_search_paths=paths, include_default_search_paths=False)
    return _loader


_loader: Any = None


def prepare() -> None:
    """What every AWS query needs first (the fetcher runs it in the background)."""
    import botocore.session  # noqa: F401


def time(record: Mapping[str, Any], field: str) -> datetime | None:
    """AWS's "YYYY-MM-DD HH:MM:SS" (UTC) as a naive UTC datetime; "-" and empty are NULL."""
    value = record.get(field)
    if not value or value == "-":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise BadValue(field, value, "a time such as '2024-05-01 12:00:00'") from None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def credential_source(environ: Mapping[str, str], settings: Settings) -> str | None:
    """Where boto3's chain would find credentials, in its order, as far as can be seen
    without calling anything (no SDK import, no instance-metadata probe)."""
    profile = settings.profile or environ.get("AWS_PROFILE")
    if not settings.profile and environ.get("AWS_ACCESS_KEY_ID"):
        return "environment variables"
    if profile:
        return f"profile {profile}"
    if environ.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        return "web identity token"
    if environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or environ.get(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI"
    ):
        return "container credentials"
    files = (
        environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials",
        environ.get("AWS_CONFIG_FILE") or "~/.aws/config",
    )
    markers = ("aws_access_key_id", "sso_", "credential_process", "role_arn")
    return first_file_mentioning(files, markers)


def endpoint_override(environ: Mapping[str, str]) -> str | None:
    """The endpoint botocore sends EC2 calls to instead of AWS's, from the variables it reads
    (the service-specific one first), unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is set."""
    if environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    for name in ("AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL"):
        if environ.get(name):
            return f"{environ[name]} ({name})"
    return None
