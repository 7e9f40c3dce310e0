"""The `vpnsql` command with Azure as a user runs it: real processes, the sandbox over HTTPS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from vpnsql.sandbox.azure import DEMO_GATEWAYS
from vpnsql.tables import Settings
from vpnsql_providers.azure.client import _unknown_authority, credential_source

AZURE_SQL = "SELECT count(*) AS clients FROM azure.network.vpn_client_connections"


def vpnsql(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=120
    )


def without_azure(env: dict[str, str], home: Path) -> dict[str, str]:
    """`env` with no Azure credentials anywhere a credential chain would look."""
    kept = {k: v for k, v in env.items() if not k.startswith(("AZURE_", "VPNSQL_AZURE"))}
    return {**kept, "HOME": str(home), "AZURE_CONFIG_DIR": str(home / ".azure")}


def imported(stderr: str) -> list[str]:
    return [line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if "|" in line]


def test_help_and_aws_only_queries_never_import_the_azure_sdks(aws_env: Any) -> None:
    sql = (
        "SELECT count(*) FROM aws.ec2_api.client_vpn_connections "
        "WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001' AND region = 'us-east-1'"
    )
    query = vpnsql("-X", "importtime", "-m", "vpnsql.cli", "-e", sql, "-o", "csv",
                   env=dict(os.environ))  # fmt: skip
    assert query.returncode == 0, query.stderr
    modules = imported(query.stderr)
    assert "botocore" in modules and "vpnsql_providers.azure.network" in modules
    assert not [m for m in modules if m.startswith(("azure.", "msal"))]
    view = vpnsql("-X", "importtime", "-m", "vpnsql.cli", "-e",
                  "SELECT count(*) FROM vpn.client_connections WHERE provider = 'aws'",
                  env=dict(os.environ))  # fmt: skip
    assert view.returncode == 0, view.stderr
    assert not [m for m in imported(view.stderr) if m.startswith(("azure.", "msal"))]
    usage = vpnsql("-X", "importtime", "-m", "vpnsql.cli", "--help", env=dict(os.environ))
    assert usage.returncode == 0
    assert not [m for m in imported(usage.stderr) if m.startswith(("azure", "duckdb"))]


def test_an_azure_query_through_the_cli(aws_env: Any) -> None:
    result = vpnsql("-m", "vpnsql.cli", "-e", AZURE_SQL, "-o", "json", env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)
    assert row["clients"] >= sum(g.clients for g in DEMO_GATEWAYS)


def test_no_credentials_is_a_clear_error_and_skips_azure_in_the_view(
    aws_env: Any, tmp_path: Path
) -> None:
    env = without_azure(dict(os.environ), tmp_path)
    result = vpnsql("-m", "vpnsql.cli", "-e", AZURE_SQL, env=env)
    assert (result.returncode, result.stdout) == (1, "")
    assert "vpnsql: error: no Azure credentials found" in result.stderr
    assert "AZURE_CLIENT_SECRET" in result.stderr and "Traceback" not in result.stderr
    view = vpnsql("-m", "vpnsql.cli", "-o", "csv", "--no-header", "-e",
                  "SELECT DISTINCT provider FROM vpn.client_connections "
                  "WHERE region IN ('us-east-1', 'westeurope') ORDER BY 1",
                  env=env)  # fmt: skip
    assert view.returncode == 0, view.stderr
    assert view.stdout.split() == ["aws"]
    assert "vpnsql: notice: azure skipped: no credentials configured" in view.stderr


def test_a_plain_http_endpoint_is_refused(aws_env: Any) -> None:
    env = {**os.environ, "VPNSQL_AZURE_ENDPOINT": "http://127.0.0.1:1"}
    result = vpnsql("-m", "vpnsql.cli", "-e", AZURE_SQL, env=env)
    assert result.returncode == 1
    assert "VPNSQL_AZURE_ENDPOINT must be an https URL" in result.stderr


def test_where_credentials_would_come_from_is_seen_without_the_sdk(tmp_path: Path) -> None:
    empty = {"AZURE_CONFIG_DIR": str(tmp_path)}
    assert credential_source(empty, Settings()) is None
    secret = {**empty, "AZURE_CLIENT_ID": "x", "AZURE_CLIENT_SECRET": "y"}
    assert credential_source(secret, Settings()) == "environment variables"
    (tmp_path / "azureProfile.json").write_text("{}")
    assert credential_source(empty, Settings()).startswith("Azure CLI login")
    chosen = {"AZURE_TOKEN_CREDENTIALS": "ManagedIdentityCredential"}
    assert (
        credential_source(chosen, Settings()) == "AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential"
    )


def test_instance_discovery_is_off_only_for_hosts_msal_does_not_know() -> None:
    assert not _unknown_authority(None)
    assert not _unknown_authority("login.microsoftonline.com")
    assert not _unknown_authority("https://login.microsoftonline.us")
    assert _unknown_authority("https://127.0.0.1:8443")
    assert _unknown_authority("https://login.azurestack.contoso.local/adfs")


def test_the_sandbox_command_prints_the_azure_lines(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vpnsql.cli", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        exports: dict[str, str] = {}
        while "SSL_CERT_FILE" not in exports:
            name, _, value = proc.stdout.readline().removeprefix("export ").strip().partition("=")
            exports[name] = value
        assert exports["VPNSQL_AZURE_ENDPOINT"].startswith("https://127.0.0.1:")
        assert exports["AZURE_AUTHORITY_HOST"] == exports["VPNSQL_AZURE_ENDPOINT"]
        assert Path(exports["REQUESTS_CA_BUNDLE"]).read_text().startswith("-----BEGIN CERTIFICATE")
        env = {**without_azure(dict(os.environ), tmp_path), **exports}
        result = vpnsql("-m", "vpnsql.cli", "-e", AZURE_SQL, "-o", "csv", env=env)
        assert result.returncode == 0, result.stderr
        assert int(result.stdout.split()[1]) == sum(g.clients for g in DEMO_GATEWAYS)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert not Path(exports["REQUESTS_CA_BUNDLE"]).exists()  # the throwaway CA is gone
