"""botocore's exceptions as vpnsql errors that keep the AWS error code and say where it went."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from vpnsql.errors import CallTimeout, ConfigurationError, CredentialsError, ProviderError

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
_SERVICES = {
    "AssumeRole": "sts",
    "GetCallerIdentity": "sts",
    "ListAccounts": "organizations",
    "DescribeOrganization": "organizations",
    "FilterLogEvents": "logs",
}
"""The IAM service prefix of the operations that are not EC2's."""


@contextmanager
def translated_errors(
    region: str | None,
    target: str | None = None,
    account: str | None = None,
    operation: str = "the call",
) -> Iterator[None]:
    """Turn botocore's exceptions into vpnsql errors that keep the AWS error code (a call
    that timed out on every attempt is a CallTimeout naming `operation`)."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectTimeoutError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
        ReadTimeoutError,
    )
    from botocore.parsers import ResponseParserError

    where = {"provider": "aws", "account": account, "region": region, "target": target}
    try:
        yield
    except (ConnectTimeoutError, ReadTimeoutError) as err:
        url = err.kwargs.get("endpoint_url", "the endpoint")
        raise CallTimeout(operation, url, **where) from None
    except ClientError as err:
        error = err.response.get("Error", {})
        code = error.get("Code")
        raise ProviderError(
            error.get("Message") or str(err),
            code=code,
            hint=_hint(code, err.operation_name),
            **where,
        ) from None
    except (NoCredentialsError, PartialCredentialsError, ProfileNotFound, NoRegionError) as err:
        raise CredentialsError(str(err), hint=CREDENTIALS_HINT, **where) from None
    except (BotoCoreError, ResponseParserError) as err:
        message = str(err).splitlines()[0]  # a parser error goes on with the whole body
        raise ProviderError(message, code=type(err).__name__, **where) from None


@contextmanager
def configuration_errors() -> Iterator[None]:
    """What botocore refuses in the configuration (an endpoint URL that is not one,
    AWS_MAX_ATTEMPTS=abc, a config file it cannot parse) is a ConfigurationError (exit 2)
    naming the AWS variables in play (never their values, nor the credentials' names); a
    missing profile stays a credentials error."""
    from botocore.exceptions import BotoCoreError, ProfileNotFound

    try:
        yield
    except ProfileNotFound:
        raise
    except (BotoCoreError, ValueError) as err:
        secret = ("KEY", "TOKEN", "SECRET", "PASSWORD")
        names = sorted(
            name
            for name in os.environ
            if name.startswith("AWS_") and not any(word in name for word in secret)
        )
        where = f"the variables set ({', '.join(names)}) and " if names else ""
        raise ConfigurationError(
            f"the AWS configuration is not usable: {err}",
            hint=f"check {where}the profile in ~/.aws/config (or AWS_CONFIG_FILE)",
        ) from None


def _hint(code: str | None, operation: str) -> str | None:
    """Authentication failures need other credentials; a refusal needs a permission; throttling
    that outlasted botocore's retries needs fewer calls at once."""
    if code in _THROTTLING_CODES:
        return "lower --max-concurrency, or try again later"
    if code in _PERMISSION_CODES:
        service = _SERVICES.get(operation, "ec2")
        if operation == "AssumeRole":
            return (
                "the role cannot be assumed with these source credentials: check the role's "
                "trust policy (and ExternalId), and that the source may call sts:AssumeRole"
            )
        return (
            f"the AWS identity in use is not allowed {service}:{operation}: grant it in IAM, "
            "or use another --profile"
        )
    return CREDENTIALS_HINT if code in _AUTH_CODES else None
