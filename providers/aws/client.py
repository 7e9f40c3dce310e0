"""EC2 clients and error translation shared by the AWS tables.

Clients come from botocore, the layer boto3 is built on (the same credential chain, config
files and retry modes), without boto3's own import of s3transfer (~0.1 s a one-liner need not
pay). They are made once per region under a lock: sessions are not thread-safe, clients are,
and the fetcher calls from several threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from vpnsql.credentials import first_file_mentioning
from vpnsql.errors import CredentialsError, ProviderError
from vpnsql.tables import Settings

_lock = threading.Lock()

CREDENTIALS_HINT = (
    "configure AWS credentials (aws configure, AWS_PROFILE or --profile, "
    "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, aws sso login), or try --sandbox"
)
_PERMISSION_CODES = {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException"}
_THROTTLING_CODES = {"RequestLimitExceeded", "Throttling", "ThrottlingException"}
_AUTH_CODES = {
    "AuthFailure",
    "InvalidClientTokenId",
    "ExpiredToken",
    "RequestExpired",
    "SignatureDoesNotMatch",
}


def ec2(region: str, settings: Settings) -> Any:
    """The session's EC2 client for the region, with the standard retry mode unless configured.

    One botocore session serves every region: it loads the EC2 service model once (a new
    session per client would parse it again, ~0.2 s each, serialized under the lock).
    """
    with _lock:
        clients = settings.state.setdefault("aws.ec2", {})
        client = clients.get(region)
        if client is None:
            with translated_errors(region):
                from botocore.config import Config

                session = _botocore_session(settings)
                mode = session.get_config_variable("retry_mode") or "standard"
                config = Config(
                    retries={"mode": mode},
                    max_pool_connections=max(10, settings.max_concurrency),
                )
                client = session.create_client("ec2", region_name=region, config=config)
            clients[region] = client
    return client


def _botocore_session(settings: Settings) -> Any:
    """The vpnsql session's botocore session (call under `_lock`).

    Sessions share one data loader, so the service model is read once per process rather than
    once per session; credentials and configuration stay each session's own.
    """
    session = settings.state.get("aws.session")
    if session is None:
        import botocore.session

        session = settings.state["aws.session"] = botocore.session.Session(profile=settings.profile)
        session.register_component("data_loader", _shared_loader(session))
    return session


def _shared_loader(core: Any) -> Any:
    """The process's loader: botocore's own search paths (AWS_DATA_PATH included), and EC2's
    model cut down to the operations vpnsql calls (see models.py)."""
    global _loader
    if _loader is None:
        from vpnsql_providers.aws.models import SlimLoader

        paths = core.get_component("data_loader").search_paths
        _loader = SlimLoader(extra_search_paths=paths, include_default_search_paths=False)
    return _loader


_loader: Any = None


def default_region(settings: Settings) -> str | None:
    """The region of the AWS configuration: AWS_REGION, which AWS's newer SDKs and CLI put
    first (and Lambda sets), else botocore's own (AWS_DEFAULT_REGION, the profile's region)."""
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    if region := os.environ.get("AWS_REGION"):
        return region
    try:
        return botocore.session.Session(profile=settings.profile).get_config_variable("region")
    except ProfileNotFound as err:
        raise CredentialsError(str(err), provider="aws", hint=CREDENTIALS_HINT) from None


@contextmanager
def translated_errors(region: str, target: str | None = None) -> Iterator[None]:
    """Turn botocore's exceptions into vpnsql errors that keep the AWS error code."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
    )
    from botocore.parsers import ResponseParserError

    try:
        yield
    except ClientError as err:
        error = err.response.get("Error", {})
        code = error.get("Code")
        raise ProviderError(
            error.get("Message") or str(err),
            provider="aws",
            code=code,
            region=region,
            target=target,
            hint=_hint(code, err.operation_name),
        ) from None
    except (NoCredentialsError, PartialCredentialsError, ProfileNotFound, NoRegionError) as err:
        raise CredentialsError(
            str(err), provider="aws", region=region, target=target, hint=CREDENTIALS_HINT
        ) from None
    except (BotoCoreError, ResponseParserError) as err:
        message = str(err).splitlines()[0]  # a parser error goes on with the whole body
        raise ProviderError(
            message, provider="aws", code=type(err).__name__, region=region, target=target
        ) from None


def _hint(code: str | None, operation: str) -> str | None:
    """Authentication failures need other credentials; a refusal needs a permission; throttling
    that outlasted botocore's retries needs fewer calls at once."""
    if code in _THROTTLING_CODES:
        return "lower --max-concurrency, or try again later"
    if code in _PERMISSION_CODES:
        return (
            f"the AWS identity in use is not allowed ec2:{operation}: grant it in IAM, "
            "or use another --profile"
        )
    return CREDENTIALS_HINT if code in _AUTH_CODES else None


def time(value: str | None) -> datetime | None:
    """AWS's "YYYY-MM-DD HH:MM:SS" (UTC) as a naive UTC datetime; "-" and empty are NULL."""
    if not value or value == "-":
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def number(value: str | None) -> int | None:
    """A counter the API sends as a string, as an int; missing is NULL."""
    if value is None or value in ("", "-"):
        return None
    return int(value)


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
