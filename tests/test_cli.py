"""The `vpnsql` command as a user runs it: a real process talking to the sandbox over HTTP."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from processes import started

CONNS = "aws.ec2_api.client_vpn_connections"


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture
def env(aws_env: Any) -> dict[str, str]:
    """The test process's environment, which aws_env pointed at the sandbox."""
    return dict(os.environ)


@pytest.fixture
def endpoint(new_endpoint: Callable[..., str]) -> str:
    return new_endpoint(
        connections=[
            {"Username": "ann", "CommonName": 'Ann "the admin", Jr.\nÜmlaut',
             "IngressBytes": 12345678901, "Status": "active",
             "PostureComplianceStatuses": ["compliant"]},
            {"Username": "bob", "IngressBytes": 5, "Status": "terminated",
             "ConnectionEndTime": "2099-01-01 00:00:00"},
        ]
    )  # fmt: skip


def query(endpoint_id: str, columns: str = "*", order: str = " ORDER BY username") -> str:
    return (
        f"SELECT {columns} FROM {CONNS} WHERE ClientVpnEndpointId = '{endpoint_id}' "
        f"AND region = 'us-east-1'{order}"
    )


def assert_clean_error(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr


def test_help_imports_no_heavy_module() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "vpnsql.cli", "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0
    assert "--sandbox" in result.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()}
    assert not imported & {"boto3", "botocore", "duckdb", "sqlglot", "pyarrow", "moto"}


def test_a_small_query_imports_neither_pyarrow_nor_numpy(
    env: dict[str, str], endpoint: str
) -> None:
    """Arrow is for volume; a one-liner's few rows are bound as parameters (0.1 s less)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "vpnsql.cli", "-e", query(endpoint),
         "-o", "json"], capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 2
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()}
    assert "duckdb" in imported  # the probe sees real imports
    assert not imported & {"pyarrow", "numpy"}


def test_the_clock_is_utc_wherever_the_machine_is(env: dict[str, str]) -> None:
    """Loaded times are naive UTC, so now() and zoned values are UTC too: a filter such as
    `> now()::TIMESTAMP - INTERVAL 1 HOUR` means the last hour in any TZ."""
    sql = (
        "SELECT TIMESTAMPTZ '2026-01-01 10:00:00+02' AS t, "
        "round(epoch(now()::TIMESTAMP) - epoch(now())) AS skew"
    )
    for zone in ("Asia/Tokyo", "America/New_York"):
        result = run("-e", sql, "-o", "json", env={**env, "TZ": zone})
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == [{"t": "2026-01-01T08:00:00Z", "skew": 0.0}]


def test_a_reader_that_goes_away_ends_the_run_quietly() -> None:
    """Like `vpnsql ... | head -1`: exit 141 (SIGPIPE's code), nothing on stderr."""
    with started(
        [sys.executable, "-m", "vpnsql.cli", "-o", "csv", "-e", "SELECT * FROM range(2000000)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline() == "range\n"
        process.stdout.close()
        assert process.wait(timeout=120) == 141
        assert process.stderr.read() == ""


def test_control_characters_never_reach_the_terminal_raw() -> None:
    """User and certificate names come from outside: an escape sequence in one must not
    steer the terminal of whoever lists them (machine formats keep the data as it is)."""
    sql = "SELECT chr(27) || ']0;owned' || chr(7) AS name, 'a' || chr(10) || 'b' AS two"
    table = run("-e", sql)
    assert "\x1b" not in table.stdout and "\\x1b]0;owned\\x07" in table.stdout
    assert "a\\nb" in table.stdout
    assert "a<br>b" in run("-e", sql, "-o", "markdown").stdout
    assert json.loads(run("-e", sql, "-o", "json").stdout)[0]["name"] == "\x1b]0;owned\x07"


def test_version() -> None:
    from vpnsql import __version__

    assert run("--version").stdout.strip() == f"vpnsql {__version__}"


def test_json_output_keeps_types(env: dict[str, str], endpoint: str) -> None:
    result = run("-e", query(endpoint), "--output", "json", env=env)
    assert result.returncode == 0, result.stderr
    ann, bob = json.loads(result.stdout)
    assert ann["ingressBytes"] == 12345678901
    assert ann["status"] == {"code": "active", "message": None}
    assert ann["connectionEndTime"] is None
    assert ann["postureComplianceStatusSet"] == ["compliant"]
    assert bob["connectionEndTime"] == "2099-01-01T00:00:00Z"
    assert ann["commonName"] == 'Ann "the admin", Jr.\nÜmlaut'


def test_jsonl_output_is_one_object_per_line(env: dict[str, str], endpoint: str) -> None:
    result = run("-e", query(endpoint, "username, ingressBytes"), "-o", "jsonl", env=env)
    lines = result.stdout.splitlines()
    assert [json.loads(line) for line in lines] == [
        {"username": "ann", "ingressBytes": 12345678901},
        {"username": "bob", "ingressBytes": 5},
    ]


def test_csv_output_round_trips(env: dict[str, str], endpoint: str) -> None:
    columns = "username, commonName, ingressBytes, status, connectionEndTime"
    result = run("-e", query(endpoint, columns), "--output", "csv", env=env)
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert [r["username"] for r in rows] == ["ann", "bob"]
    assert rows[0]["commonName"] == 'Ann "the admin", Jr.\nÜmlaut'
    assert json.loads(rows[0]["status"]) == {"code": "active", "message": None}
    assert rows[0]["connectionEndTime"] == ""
    assert int(rows[0]["ingressBytes"]) == 12345678901


def test_table_output_and_row_count(env: dict[str, str], endpoint: str) -> None:
    result = run("-e", query(endpoint, "username, ingressBytes"), env=env)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split("|")[0].strip() == "username"
    assert lines[2].endswith("12345678901")
    assert lines[-1] == "(2 rows)"


def test_statements_from_stdin_file_and_several_e(
    env: dict[str, str], endpoint: str, tmp_path: Any
) -> None:
    sql = query(endpoint, "count(*) AS n", order="")
    assert json.loads(run("-o", "json", env=env, stdin=sql).stdout) == [{"n": 2}]
    script = tmp_path / "q.sql"
    script.write_text(f"SELECT 1 AS a;\n{sql};\n")
    assert run("-f", str(script), "-o", "jsonl", env=env).stdout.splitlines() == [
        '{"a": 1}',
        '{"n": 2}',
    ]
    both = run(
        "-e", "CREATE TABLE t AS SELECT 41 AS x", "-e", "SELECT x + 1 AS y FROM t", "-o", "csv"
    )
    assert both.stdout.splitlines() == ["y", "42"]


def test_usage_error_exits_2() -> None:
    result = run("--output", "yaml", "-e", "SELECT 1")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_unreadable_file_is_a_usage_error() -> None:
    assert_clean_error(run("-f", "/nonexistent/q.sql"), 2, "cannot read /nonexistent/q.sql")


def test_unknown_table_suggests(env: dict[str, str]) -> None:
    result = run("-e", "SELECT * FROM aws.ec2_api.client_vpn_conections", env=env)
    assert_clean_error(result, 1, "unknown table", f"did you mean {CONNS}")


def test_missing_param_shows_an_example(env: dict[str, str]) -> None:
    env.pop("AWS_DEFAULT_REGION")
    sql = f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001'"
    result = run("-e", sql, env=env)
    assert_clean_error(result, 1, "no region configured", "region = 'us-east-1'")


def test_syntax_error_has_a_position(env: dict[str, str]) -> None:
    result = run("-e", f"SELECT * FROM {CONNS} WHERE (region = 'x'", env=env)
    assert_clean_error(result, 1, "syntax error at line 1, column")


def test_aws_error_code_region_and_endpoint(env: dict[str, str]) -> None:
    result = run("-e", query("cvpn-endpoint-00000000000000000"), env=env)
    assert_clean_error(
        result,
        1,
        "InvalidClientVpnEndpointId.NotFound",
        "us-east-1",
        "cvpn-endpoint-00000000000000000",
    )


def test_no_credentials_says_how_to_configure(env: dict[str, str], endpoint: str) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name)
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    result = run("-e", query(endpoint), env=env)
    assert_clean_error(result, 1, "credentials", "aws configure", "--sandbox")


def test_duckdb_errors_are_clean(env: dict[str, str], endpoint: str) -> None:
    result = run("-e", query(endpoint, "no_such_column"), env=env)
    assert_clean_error(result, 1, "no_such_column")


def test_sandbox_flag_runs_the_quick_start() -> None:
    """Whatever real-cloud profile or region the shell names stays out of the sandbox."""
    leaky = {**os.environ, "AWS_PROFILE": "nosuch", "AWS_REGION": "ap-south-1"}
    result = run(
        "--sandbox", "-o", "json", "-e",
        f"SELECT connectionId, ingressBytes FROM {CONNS} "
        "WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001' AND region = 'us-east-1' "
        "ORDER BY ingressBytes DESC LIMIT 5", env=leaky,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 5
    assert [r["ingressBytes"] for r in rows] == sorted(
        (r["ingressBytes"] for r in rows), reverse=True
    )
    assert all(r["connectionId"].startswith("cvpn-connection-") for r in rows)
    assert "sandbox" in result.stderr


def test_sandbox_command_serves_other_tools() -> None:
    import signal

    import boto3

    with started(
        [sys.executable, "-m", "vpnsql.cli", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        assert proc.stdout is not None
        exports = dict(
            proc.stdout.readline().removeprefix("export ").strip().split("=", 1) for _ in range(4)
        )
        assert exports["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        client = boto3.client(
            "ec2",
            endpoint_url=exports["AWS_ENDPOINT_URL"],
            region_name=exports["AWS_DEFAULT_REGION"],
            aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
        )
        page = client.describe_client_vpn_connections(
            ClientVpnEndpointId="cvpn-endpoint-0a1b2c3d4e5f60001", MaxResults=5
        )
        assert len(page["Connections"]) == 5
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in stderr


def test_sandbox_command_ports_are_fixable_and_a_taken_port_is_one_clear_line() -> None:
    import signal
    import socket

    help_text = subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", "sandbox", "--help"],
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "default: 5000" in " ".join(help_text.split())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "vpnsql.cli", "sandbox", "--port", "0", "--alibaba-port",
         str(free)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        exports = [proc.stdout.readline() for _ in range(8)]
        assert f"export VPNSQL_ALIBABA_ENDPOINT=http://127.0.0.1:{free}\n" in exports
        taken = exports[0].strip().rsplit(":", 1)[1]
        for args in (["--port", taken], ["--port", "0", "--alibaba-port", str(free)]):
            busy = subprocess.run(
                [sys.executable, "-m", "vpnsql.cli", "sandbox", *args],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert busy.returncode == 1
            assert "the port is in use" in busy.stderr and "Traceback" not in busy.stderr
            assert "Either identify and stop that program" not in busy.stderr  # werkzeug's
            assert busy.stdout == ""
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_a_failed_terminate_exits_1_and_every_outcome_is_a_row(
    env: dict[str, str], new_endpoint: Callable[..., str]
) -> None:
    from vpnsql.sandbox import inject_aws_error

    endpoint_id = new_endpoint(3)
    inject_aws_error("UnauthorizedOperation", 1, action="TerminateClientVpnConnections")
    sql = (
        f"DELETE FROM {CONNS} WHERE ClientVpnEndpointId = '{endpoint_id}' AND region = 'us-east-1'"
    )
    result = run("--yes", "-o", "json", "-e", sql, env=env)
    assert result.returncode == 1, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 3
    (refused,) = [row["message"] for row in rows if row["message"] is not None]
    assert "UnauthorizedOperation" in refused
    assert [row["currentStatus"] for row in rows].count("terminating") == 2
    assert "vpnsql: error: 1 target(s) not ended (a call failed" in result.stderr
    assert "see the message column" in result.stderr


def test_allow_partial_prints_what_was_skipped_and_exits_3(
    env: dict[str, str], endpoint: str
) -> None:
    missing = "cvpn-endpoint-0000000000000dead"
    sql = (
        f"SELECT count(*) AS n FROM {CONNS} WHERE region = 'us-east-1' "
        f"AND ClientVpnEndpointId IN ('{endpoint}', '{missing}')"
    )
    failed = run("-o", "jsonl", "-e", sql, env=env)
    assert_clean_error(failed, 1, missing, "InvalidClientVpnEndpointId.NotFound")
    partial = run("--allow-partial", "-o", "jsonl", "-e", sql, env=env)
    assert partial.returncode == 3, partial.stderr
    assert json.loads(partial.stdout) == {"n": 2}
    skipped = [line for line in partial.stderr.splitlines() if line.startswith("vpnsql: skipped:")]
    assert len(skipped) == 1 and missing in skipped[0]
    assert "vpnsql: partial result: 1 call(s) failed" in partial.stderr


def test_profile_supplies_the_default_region(
    env: dict[str, str], new_endpoint: Callable[..., str], tmp_path: Any
) -> None:
    endpoint_id = new_endpoint(3, region="eu-west-1")
    config = tmp_path / "config"
    config.write_text("[profile audit]\nregion = eu-west-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text("[audit]\naws_access_key_id = a\naws_secret_access_key = b\n")
    env.update(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(credentials))
    env.pop("AWS_DEFAULT_REGION")
    sql = (
        f"SELECT region, count(*) AS n FROM {CONNS} "
        f"WHERE ClientVpnEndpointId = '{endpoint_id}' GROUP BY region"
    )
    result = run("--profile", "audit", "-o", "jsonl", "-e", sql, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"region": "eu-west-1", "n": 3}
    missing = run("--profile", "nobody", "-e", sql, env=env)
    assert_clean_error(missing, 1, "nobody", "--profile")


def test_aws_region_names_the_default_region_first(
    env: dict[str, str], new_endpoint: Callable[..., str]
) -> None:
    endpoint_id = new_endpoint(2, region="eu-west-1")
    sql = f"SELECT region, count(*) AS n FROM {CONNS} WHERE ClientVpnEndpointId = '{endpoint_id}'"
    result = run(
        "-o", "jsonl", "-e", f"{sql} GROUP BY region", env={**env, "AWS_REGION": "eu-west-1"}
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"region": "eu-west-1", "n": 2}


def test_delete_of_several_needs_yes(env: dict[str, str], new_endpoint: Callable[..., str]) -> None:
    endpoint_id = new_endpoint(3)
    sql = (
        f"DELETE FROM {CONNS} WHERE ClientVpnEndpointId = '{endpoint_id}' AND region = 'us-east-1'"
    )
    refused = run("-e", sql, env=env)
    assert_clean_error(refused, 1, "would terminate 3 connections", "--yes")
    active = query(endpoint_id, "count(*) AS n", order=" AND status.code = 'active'")
    assert json.loads(run("-o", "json", "-e", active, env=env).stdout) == [{"n": 3}]
    confirmed = run("--yes", "-o", "jsonl", "-e", sql, env=env)
    assert confirmed.returncode == 0, confirmed.stderr
    outcomes = [json.loads(line) for line in confirmed.stdout.splitlines()]
    assert [o["currentStatus"] for o in outcomes] == ["terminating"] * 3
    assert json.loads(run("-o", "json", "-e", active, env=env).stdout) == [{"n": 0}]


def test_a_dry_run_delete_needs_no_yes_and_its_rows_say_who_and_what(
    env: dict[str, str], new_endpoint: Callable[..., str]
) -> None:
    endpoint_id = new_endpoint(
        connections=[
            {"Username": "ann", "ClientIp": "10.9.0.5",
             "ConnectionEstablishedTime": "2026-11-24 06:56:53"},
            {"Username": "bob", "ClientIp": "10.9.0.6"},
            {"Username": "cy", "ClientIp": "10.9.0.7"},
        ]
    )  # fmt: skip
    sql = f"DELETE FROM {CONNS} WHERE ClientVpnEndpointId = '{endpoint_id}' AND region = "
    sql += "'us-east-1'"
    refused = run("-e", sql, env=env)
    # the refusal names whose sessions would end: identity, client IP, since when
    assert_clean_error(refused, 1, "would terminate 3 connections", "ann", "10.9.0.5", "bob")
    assert "2026-11-24 06:56:53" in refused.stderr and "--dry-run" in refused.stderr
    dry = run("--dry-run", "-o", "json", "-e", sql, env=env)
    assert dry.returncode == 0, dry.stderr
    rows = json.loads(dry.stdout)
    assert sorted(r["username"] for r in rows) == ["ann", "bob", "cy"]
    assert {(r["previousStatus"], r["currentStatus"], r["message"]) for r in rows} == {
        ("active", "active", "dry run: the request would have succeeded")
    }
    active = query(endpoint_id, "count(*) AS n", order=" AND status.code = 'active'")
    assert json.loads(run("-o", "json", "-e", active, env=env).stdout) == [{"n": 3}]


def test_global_dry_run_flag(env: dict[str, str], new_endpoint: Callable[..., str]) -> None:
    endpoint_id = new_endpoint(connections=[{"Username": "zed"}])
    sql = (
        f"EXEC {CONNS}.client_vpn_connections_Terminate @ClientVpnEndpointId='{endpoint_id}', "
        "@region='us-east-1', @Username='zed'"
    )
    result = run("--dry-run", "-o", "json", "-e", sql, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["message"] == "dry run: the request would have succeeded"
    active = query(endpoint_id, "count(*) AS n", order=" AND status.code = 'active'")
    assert json.loads(run("-o", "json", "-e", active, env=env).stdout) == [{"n": 1}]


def test_show_tables_lists_the_virtual_tables_and_show_without_in_lists_all(
    env: dict[str, str],
) -> None:
    result = run("-o", "jsonl", "-e", "CREATE TABLE mine AS SELECT 1 AS a; SHOW TABLES", env=env)
    assert result.returncode == 0, result.stderr
    tables = {r["name"]: r["type"] for r in map(json.loads, result.stdout.splitlines())}
    assert tables[CONNS] == "virtual table" and tables["vpn.client_connections"] == "virtual table"
    assert tables["mine"] == "table"
    resources = run("-o", "json", "-e", "SHOW RESOURCES", env=env)
    assert {r["id"] for r in json.loads(resources.stdout)} >= {CONNS, "alibaba.vpc.vpn_gateways"}
    services = run("-o", "json", "-e", "SHOW SERVICES", env=env)
    assert {(r["provider"], r["name"]) for r in json.loads(services.stdout)} >= {
        ("aws", "ec2_api"),
        ("alibaba", "vpc"),
    }


def test_show_and_describe_print_like_queries(env: dict[str, str]) -> None:
    methods = run("-o", "json", "-e", f"SHOW METHODS IN {CONNS} LIKE '%terminate'", env=env)
    assert {(m["MethodName"], m["SQLVerb"]) for m in json.loads(methods.stdout)} == {
        ("client_vpn_connections_Terminate", "EXEC"),
        ("client_vpn_connections_Terminate", "DELETE"),
    }
    described = run("-o", "csv", "-e", f"DESCRIBE EXTENDED {CONNS}", env=env)
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(described.stdout, newline=""))}
    assert rows["ingressBytes"]["type"] == "BIGINT"
    # one vocabulary: what a user must give vs what vpnsql fills in
    roles = {name: row["param"] for name, row in rows.items() if row["param"]}
    assert roles == {
        "account": "default",
        "accountId": "filter",
        "clientVpnEndpointId": "discovered",
        "region": "default",
        "connectionId": "filter",
        "username": "filter",
    }
    assert "the default region" in rows["region"]["if_absent"]
    alibaba = run("-o", "json", "-e", "DESCRIBE EXTENDED alibaba.vpc.ssl_vpn_clients", env=env)
    params = {r["name"]: r["param"] for r in json.loads(alibaba.stdout) if r["param"]}
    assert params == {  # RegionId is the same param as region: shown once
        "vpnGatewayId": "discovered",
        "region": "default",
        "account": "default",
        "accountId": "filter",
    }
    methods = run("-o", "json", "-e", f"SHOW METHODS IN {CONNS}", env=env)
    needs = {
        (m["MethodName"], m["SQLVerb"]): m["RequiredParams"] for m in json.loads(methods.stdout)
    }
    assert needs[("client_vpn_connections_Describe", "SELECT")] == (
        "account (default), region (default), ClientVpnEndpointId (discovered)"
    )
    assert needs[("client_vpn_connections_Terminate", "EXEC")] == (
        "account (default), ClientVpnEndpointId, region (default), ConnectionId | Username"
    )
