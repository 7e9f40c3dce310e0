"""Shared fixtures: one sandbox server on 127.0.0.1 for the run, isolated AWS settings, and
misbehaving fake clouds for failures the sandbox cannot produce.

Tests reach the servers over real HTTP with the real SDKs; nothing of vpnsql is mocked.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from misbehaving import OTHER_SETTINGS, Asked, MisbehavingServer, Reply

import vpnsql
from vpnsql.session import Session

REGION = "us-east-1"


@pytest.fixture(scope="session", autouse=True)
def cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """vpnsql's cache (the EC2 model slice) in a directory of the run's own, for every test and
    every process a test starts, never the machine's ~/.cache (nor its ~/.config)."""
    path = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(path))
        # nor the machine's own estate: a test that wants one writes its config file
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
        patch.delenv("VPNSQL_CONFIG", raising=False)
        yield path


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    from vpnsql import sandbox as sandbox_module

    running = sandbox_module.start(demo=True)
    yield running
    running.stop()


AZURE_SETTINGS = (
    "AZURE_SUBSCRIPTION_ID",
    "VPNSQL_AZURE_POLL_INTERVAL",
    "VPNSQL_AZURE_OPERATION_TIMEOUT",
    "VPNSQL_AZURE_SCOPE",
)


@pytest.fixture
def aws_env(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Point the SDKs at the sandbox (its Azure emulator too) and hide the machine's own AWS
    and Azure configuration."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL_EC2",
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
        "AWS_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in AZURE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return sandbox


@pytest.fixture
def session(aws_env: Any) -> Session:
    return vpnsql.connect()


@pytest.fixture
def new_endpoint(sandbox: Any) -> Callable[..., str]:
    """Make a fresh endpoint with seeded connections; returns its ID."""
    from vpnsql.sandbox import seed_connections

    def make(
        count: int = 0,
        *,
        region: str = REGION,
        connections: list[dict[str, Any]] | None = None,
        **options: Any,
    ) -> str:
        endpoint_id = f"cvpn-endpoint-{uuid.uuid4().hex[:17]}"
        seed_connections(region, endpoint_id, count, connections=connections, **options)
        return endpoint_id

    return make


@pytest.fixture
def azure(aws_env: Any) -> Iterator[Any]:
    """The sandbox's Azure emulator; errors a test injected and did not use are dropped."""
    yield aws_env.azure.emulator
    aws_env.azure.emulator.clear_injections()


@pytest.fixture
def subscription(azure: Any) -> str:
    """An Azure subscription of the test's own, so discovery sees only what the test made."""
    subscription_id = str(uuid.uuid4())
    return azure.create_subscription(subscription_id, f"test-{subscription_id[:8]}")


@pytest.fixture
def gateway(azure: Any, subscription: str) -> Callable[..., str]:
    """A P2S gateway in the test's subscription with `count` generated clients; its name."""

    def make(
        count: int = 0, *, group: str = "rg-test", location: str = "westeurope", **options: Any
    ) -> str:
        name = f"vgw-{uuid.uuid4().hex[:8]}"
        p2s = options.pop("p2s", True)
        azure.create_gateway(subscription, group, name, location, p2s=p2s, **options)
        azure.seed_clients(subscription, group, name, count, seed=3)
        return name

    return make


@pytest.fixture
def misbehaving(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., MisbehavingServer]]:
    """`misbehaving(answer)`: a fake cloud that both providers are pointed at, to see what
    vpnsql does with answers no real cloud should give."""
    servers: list[MisbehavingServer] = []

    def start(answer: Callable[[Asked], Reply | None]) -> MisbehavingServer:
        server = MisbehavingServer(answer)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        for name in OTHER_SETTINGS:
            monkeypatch.delenv(name, raising=False)
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        return server

    yield start
    for server in servers:
        server.stop()
