"""Running against the sandbox with nothing of the real clouds' configuration.

Shared by `vpnsql --sandbox` and `vpnsql.connect(sandbox=True)`. The sandbox is reached the way
a real cloud is, through the SDKs' environment variables, so they are set for as long as the
sandbox runs and the real ones are put back afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vpnsql.sandbox import Sandbox

LEAKY_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL_EC2",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALIBABA_CLOUD_PROFILE",
    "ALIBABA_CLOUD_CREDENTIALS_URI",
    "ALIBABA_CLOUD_ROLE_ARN",
    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
    "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "VPNSQL_AZURE_SCOPE",
)
"""Real-cloud settings that would override or ride along with the sandbox's own."""


@contextmanager
def sandboxed() -> Iterator[Sandbox]:
    """A fresh sandbox with demo data, and the environment pointing at it alone, until the
    block ends (then the sandbox stops and the environment is as it was)."""
    saved = dict(os.environ)
    for name in LEAKY_VARIABLES:  # before moto is imported: it reads them too
        os.environ.pop(name, None)
    running = None
    try:
        from vpnsql import sandbox

        running = sandbox.start()
        os.environ.update(isolated_env(running.env()))
        os.environ["VPNSQL_CONFIG"] = str(running.config_path)  # --config still wins
        yield running
    finally:
        os.environ.clear()
        os.environ.update(saved)
        if running is not None:
            running.stop()


def isolated_env(env: dict[str, str]) -> dict[str, str]:
    """The sandbox's variables, with the real clouds' config files hidden so nothing leaks.

    The aliyun CLI's config.json stays readable: the sandbox's own Alibaba accounts are
    profiles of a file of its own, and the default chain finds the sandbox's access key in
    the environment before it would look there (as the default region comes first from
    ALIBABA_CLOUD_REGION_ID)."""
    return {
        **env,
        "AZURE_CONFIG_DIR": os.devnull,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "ALIBABA_CLOUD_CREDENTIALS_FILE": os.devnull,
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
    }
