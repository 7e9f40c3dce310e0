"""Hostile input: one encoding rule on every path, deep nesting, and control characters that
never reach the terminal raw (in errors and notices, as in tables)."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

import vpnsql
from vpnsql.errors import InputError, SqlSyntaxError
from vpnsql.registry import Registry
from vpnsql.shell.app import Shell
from vpnsql.tables import Settings

CONNS = "aws.ec2_api.client_vpn_connections"
ENDPOINT = "cvpn-endpoint-0a1b2c3d4e5f60001"
TERMINATE = f"EXEC {CONNS}.client_vpn_connections_Terminate"


def run(*args: str | bytes, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable.encode(), b"-m", b"vpnsql.cli", *(os.fsencode(a) for a in args)],
        input=stdin,
        capture_output=True,
        timeout=60,
    )


def assert_input_error(result: subprocess.CompletedProcess[bytes], *needles: str) -> None:
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert result.stdout == b""
    assert "Traceback" not in stderr and "internal error" not in stderr
    for needle in needles:
        assert needle in stderr


@pytest.mark.parametrize(
    "sql",
    [
        b"SELECT 'caf\xe9' AS name",
        f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = '{ENDPOINT}' AND region = "
        "'us-east-1' AND username = 'ren\xe9'".encode("latin-1"),
        f"{TERMINATE} @ClientVpnEndpointId = '{ENDPOINT}', @region = 'us-east-1', "
        "@Username = 'ren\xe9'".encode("latin-1"),
    ],
    ids=["select", "pushdown value", "exec argument"],
)
@pytest.mark.parametrize("path", ["stdin", "-e", "-f"])
def test_sql_that_is_not_utf8_is_the_same_error_on_every_path(
    aws_env: Any, tmp_path: Path, sql: bytes, path: str
) -> None:
    column = sql.index(b"\xe9") + 1
    if path == "stdin":
        result, source = run(stdin=sql), "stdin"
    elif path == "-e":
        result, source = run("-e", sql), "-e"
    else:
        script = tmp_path / "q.sql"
        script.write_bytes(b"-- a report\n" + sql)
        result, source = run("-f", str(script)), f"{script}, line 2"
    assert_input_error(result, source, f"column {column}: byte 0xe9 is not UTF-8")


@pytest.mark.parametrize("path", ["stdin", "-f"])
def test_a_nul_byte_is_an_error_not_a_column_name(tmp_path: Path, path: str) -> None:
    sql = b"SELECT 1 AS \x00x"
    if path == "stdin":
        result = run(stdin=sql)
    else:
        (tmp_path / "q.sql").write_bytes(sql)
        result = run("-f", str(tmp_path / "q.sql"))
    assert_input_error(result, "line 1, column 13: a NUL byte is not SQL")


def test_a_utf8_file_with_a_byte_order_mark_runs(tmp_path: Path) -> None:
    script = tmp_path / "q.sql"
    script.write_bytes("\ufeffSELECT 'Zoë' AS name".encode())
    result = run("-f", str(script), "-o", "csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().splitlines() == ["name", "Zoë"]


@pytest.mark.parametrize("text", ["SELECT 'caf\udce9'", "SELECT 1 AS \x00x", "SELECT '\ud800'"])
def test_the_python_api_holds_text_to_the_same_rule(text: str) -> None:
    with pytest.raises(InputError, match="the SQL, line 1"):
        vpnsql.connect().sql(text)


def test_the_shell_reads_files_by_the_same_rule(
    aws_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "latin1.sql"
    script.write_bytes(b"SELECT 'caf\xe9';\n")
    with create_pipe_input() as keyboard:
        shell = Shell(Settings(), out=io.StringIO(), keyboard=keyboard, screen=DummyOutput())
        keyboard.send_text(f".read {script}\r")
        keyboard.close()
        shell.loop()
    assert "line 1, column 12: byte 0xe9 is not UTF-8" in capsys.readouterr().err


def nested(depth: int, inner: str) -> str:
    return "(" * depth + inner + ")" * depth


def test_deep_nesting_is_planned() -> None:
    """sqlglot's parser needs ~22 frames a level: the default limit failed at 45."""
    from vpnsql import planner

    where = f"ClientVpnEndpointId = '{ENDPOINT}' AND region = 'us-east-1'"
    sql = f"SELECT {nested(60, '1')} AS one FROM {CONNS} WHERE {where} AND {nested(60, 'true')}"
    (statement,) = planner.plan(sql, Registry.discover())
    assert [dict(call.params) for call in statement.calls] == [
        {"ClientVpnEndpointId": ENDPOINT, "region": "us-east-1"}
    ]
    assert sys.getrecursionlimit() < planner.statement.RECURSION_LIMIT  # restored


def test_nesting_too_deep_to_plan_is_a_clear_error_or_duckdbs_to_run() -> None:
    session = vpnsql.connect()
    with pytest.raises(SqlSyntaxError, match="too deeply nested"):
        session.sql(f"SELECT {nested(600, '1')} FROM {CONNS} WHERE region = 'us-east-1'")
    relation = session.sql(f"SELECT {nested(600, '1')} AS one")
    assert relation is not None and relation.fetchall() == [(1,)]


@pytest.mark.parametrize(
    "sql",
    [
        f"SELECT * FROM {CONNS} WHERE ClientVpnEndpointId = '{ENDPOINT}' "
        "AND region = 'us-\x1b[2J-east'",
        f"{TERMINATE} @ClientVpnEndpointId = '{ENDPOINT}', @region = 'us-east-1', "
        "@ConnectionId = '\x1b]0;owned\x07'",
    ],
    ids=["region", "exec argument"],
)
def test_control_characters_in_errors_are_escaped(aws_env: Any, sql: str) -> None:
    result = run("-e", sql)
    assert result.returncode == 1
    assert b"\x1b" not in result.stderr and b"\x07" not in result.stderr
    assert b"\\x1b" in result.stderr


def test_control_characters_in_notices_are_escaped() -> None:
    from vpnsql.cli import _show_notices

    logger = logging.getLogger("vpnsql")
    saved = logger.handlers[:]
    logger.handlers.clear()
    try:
        _show_notices(debug=False)
        stream = io.StringIO()
        logger.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        logger.warning("endpoint \x1b[2Jx skipped")
    finally:
        logger.handlers[:] = saved
    assert stream.getvalue() == "vpnsql: notice: endpoint \\x1b[2Jx skipped\n"
