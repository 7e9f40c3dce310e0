"""The `vpnsql` command with Alibaba Cloud as a user runs it: a real process, the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vpnsql.sandbox.alibaba import DEMO_GATEWAYS

HZ_OFFICE = DEMO_GATEWAYS[0]
CLIENTS_SQL = (
    "SELECT count(*) AS clients, sum(sendBytes) AS sent, min(connectedTime) AS first "
    f"FROM alibaba.vpc.ssl_vpn_clients WHERE VpnGatewayId = '{HZ_OFFICE.gateway_id}'"
)


def vpnsql(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def alibaba_only_env(sandbox: Any, home: Path) -> dict[str, str]:
    """The sandbox's variables over an environment with no Alibaba configuration at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_", "VPNSQL_"))}
    return {
        **env,
        **sandbox.env(),
        "HOME": str(home),
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
    }


def test_an_aws_only_query_never_imports_the_alibaba_sdk(aws_env: Any) -> None:
    sql = (
        "SELECT count(*) FROM aws.ec2_api.client_vpn_connections "
        "WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001' AND region = 'us-east-1'"
    )
    result = vpnsql("-X", "importtime", "-m", "vpnsql.cli", "-e", sql, "--output", "csv",
                    env=dict(os.environ))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1] == "180"
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()]
    assert "botocore" in imported and "duckdb" in imported  # the probe sees real imports
    assert "vpnsql_providers.alibaba.vpc" in imported  # the declarations are loaded ...
    assert not [name for name in imported if name.startswith(("alibabacloud", "darabonba"))]


def test_alibaba_query_through_the_cli(sandbox: Any, tmp_path: Path) -> None:
    result = vpnsql(
        "-m", "vpnsql.cli", "-e", CLIENTS_SQL, "--output", "json",
        env=alibaba_only_env(sandbox, tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["clients"] == HZ_OFFICE.clients
    assert isinstance(row["sent"], int) and row["sent"] > 0
    assert row["first"].endswith("Z")


def test_missing_credentials_are_a_clear_error(sandbox: Any, tmp_path: Path) -> None:
    env = alibaba_only_env(sandbox, tmp_path)
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        del env[name]
    result = vpnsql("-m", "vpnsql.cli", "-e", CLIENTS_SQL, env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    error, hint = result.stderr.splitlines()
    # in vpnsql's words, as the AWS one: not the SDK's provider chain with its `$/...` paths
    assert error.startswith("vpnsql: error: no Alibaba Cloud credentials found (alibaba, cn-")
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in hint and "--sandbox" in hint
    (tmp_path / ".aliyun").mkdir()
    (tmp_path / ".aliyun" / "config.json").write_text('{"current": "x", "profiles": []}')
    result = vpnsql("-m", "vpnsql.cli", "-e", CLIENTS_SQL, env=env)
    assert result.returncode == 1
    assert "credentials found: none usable in ~/.aliyun/config.json (alibaba" in result.stderr
    assert "Provider" not in result.stderr and "Traceback" not in result.stderr


def test_the_credentials_chain_logs_nothing_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its handler would print a traceback for each place it found nothing (ECS metadata...)."""
    import logging

    from vpnsql.accounts import Account
    from vpnsql_providers.alibaba.client import _credentials

    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert "credential" in _credentials(Account("alibaba", "default", None, "default chain"))
    assert not logging.getLogger("credentials").isEnabledFor(logging.ERROR)
