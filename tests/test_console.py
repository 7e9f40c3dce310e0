"""Scripts and results as one-liners and cron jobs meet them: `-f FILE`, `-f -`, stdin, meta
commands in scripts, separators, --no-header, the terminal's width, one precision per column.
Real processes against the sandbox over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pexpect
import pytest

CONNS = "aws.ec2_api.client_vpn_connections"
DEMO = "WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001' AND region = 'us-east-1'"


def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", *args],
        input=stdin, capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


@pytest.fixture
def env(aws_env: Any) -> dict[str, str]:
    return dict(os.environ)


def test_an_error_in_a_file_names_file_line_and_column(tmp_path: Path) -> None:
    script = tmp_path / "audit.sql"
    script.write_text("SELECT 1 AS one;\n\n-- the second statement\nSELECT 2,\n       nope;\n")
    result = run("-f", str(script))
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"vpnsql: error: {script}:5:8: Binder Error: Referenced column")
    assert "       nope;\n" in result.stderr and "\n         ^" in result.stderr
    converted = tmp_path / "convert.sql"
    converted.write_text("SELECT 1;\nSELECT 1 + 'x' AS broken;\n")
    result = run("-f", str(converted))
    assert f"{converted}:2:" in result.stderr
    assert "LINE 1" not in result.stderr  # DuckDB's count is the statement's, not the file's
    syntax = tmp_path / "syntax.sql"
    syntax.write_text(f"SELECT 1;\nSELECT * FROM {CONNS} WHERE region = 'us-east-1' AND\n")
    result = run("-f", str(syntax))
    assert result.returncode == 1 and f"{syntax}:2:" in result.stderr
    assert result.stdout == ""  # every statement is planned before the first runs


def test_a_param_error_names_the_statements_line(tmp_path: Path) -> None:
    script = tmp_path / "p.sql"
    script.write_text(f"SELECT 1;\n  SELECT * FROM {CONNS} WHERE region = 'us-east';\n")
    result = run("-f", str(script))
    assert result.returncode == 1
    assert f"vpnsql: error: {script}:2:3: " in result.stderr and "us-east" in result.stderr


def test_dash_f_dash_reads_stdin_and_meta_commands_work_in_scripts(
    env: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "n.parquet"
    script = (
        ".mode csv\n"
        f"SELECT count(*) AS n FROM {CONNS} {DEMO};\n"
        ".timer on\n"
        f".once {target}\n"
        f"SELECT connectionId FROM {CONNS} {DEMO};\n"
        ".mode json\n"
        "SELECT 42 AS answer;\n"
    )
    for args in (("-f", "-"), ()):
        result = run(*args, stdin=script, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == 'n\n180\n[\n {"answer": 42}\n]\n'
        assert duckdb.sql(f"SELECT count(*) FROM '{target}'").fetchall() == [(180,)]
        assert f"wrote the result to {target} (parquet)" in result.stderr
        assert "time: fetch" in result.stderr  # .timer goes to stderr, not into the data
    bad = run("-f", "-", stdin="SELECT 1;\n.keys vi\n")
    assert bad.returncode == 2 and "<stdin>:2:1: key bindings are for the interactive shell" in (
        bad.stderr
    )


def test_several_results_are_separated_and_no_header_means_none(tmp_path: Path) -> None:
    two = "SELECT 1 AS a; SELECT 2 AS b"
    assert run("-o", "csv", "-e", two).stdout == "a\n1\n\nb\n2\n"
    assert run("-o", "table", "-e", two).stdout == "a\n-\n1\n(1 row)\n\nb\n-\n2\n(1 row)\n"
    assert run("-o", "table", "--no-header", "-e", two).stdout == "1\n\n2\n"
    assert run("-o", "markdown", "--no-header", "-e", "SELECT 1 AS a").stdout == "| 1 |\n"
    assert run("-o", "markdown", "-e", two).stdout.count("\n\n") == 1
    jsons = run("-o", "json", "-e", two).stdout
    assert jsons == '[\n {"a": 1}\n]\n[\n {"b": 2}\n]\n'  # a stream jq reads, as before


WIDE = (
    "SELECT 'cvpn-connection-0123456789abcdef0' AS connectionId, 'alice.smith' AS username, "
    "'a long description of the session that goes on' AS note"
)


def test_on_a_terminal_a_wide_row_turns_vertical_and_a_pipe_gets_the_table() -> None:
    child = pexpect.spawn(
        sys.executable, ["-m", "vpnsql.cli", "-e", WIDE], encoding="utf-8", timeout=60,
        dimensions=(24, 60),
    )  # fmt: skip
    child.expect(pexpect.EOF)
    child.close()
    screen = child.before.replace("\r\n", "\n")
    assert child.exitstatus == 0
    assert "1. row" in screen and "connectionId: cvpn-connection-0123456789abcdef0" in screen
    piped = run("-e", WIDE).stdout
    assert piped.splitlines()[0].split(" | ")[0].strip() == "connectionId"
    assert "1. row" not in piped


def test_one_column_one_precision(aws_env: Any) -> None:
    """The view's connectedAt: AWS whole seconds beside Alibaba milliseconds."""
    sql = (
        "SELECT provider, connectedAt FROM vpn.client_connections "
        "WHERE region IN ('us-east-1', 'cn-hangzhou') "
        "QUALIFY row_number() OVER (PARTITION BY provider ORDER BY connectedAt) <= 100 "
        "ORDER BY provider, connectedAt"
    )
    result = run("-o", "csv", "-e", sql, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    rows = [line.split(",") for line in result.stdout.splitlines()[1:]]
    providers = {provider for provider, _ in rows}
    assert providers == {"alibaba", "aws"}
    lengths = {len(when) for _, when in rows}
    assert lengths == {len("2026-11-24 06:56:31.444")}, lengths
    table = run("-e", sql, env=dict(os.environ)).stdout.splitlines()[2:-1]
    assert len({len(line.split(" | ")[1].strip()) for line in table}) == 1
    as_json = json.loads(run("-o", "json", "-e", sql, env=dict(os.environ)).stdout)
    assert {len(r["connectedAt"]) for r in as_json} == {len("2026-11-24T06:56:31.444Z")}
    aws_only = run("-o", "csv", "-e", f"SELECT connectionEstablishedTime FROM {CONNS} {DEMO}",
                   env=dict(os.environ))  # fmt: skip
    assert {len(line) for line in aws_only.stdout.splitlines()[1:]} == {19}  # whole seconds
