"""The real shell driven through prompt-toolkit's pipe input, against the sandbox over HTTP."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.enums import EditingMode
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from vpnsql import output
from vpnsql.sandbox import seed_connections
from vpnsql.shell import meta
from vpnsql.shell.app import Shell
from vpnsql.shell.history import StatementHistory
from vpnsql.statements import Preview
from vpnsql.tables import Settings

CONNS = "aws.ec2_api.client_vpn_connections"
DEMO_EP = "cvpn-endpoint-0a1b2c3d4e5f60001"


@dataclass
class Driven:
    out: str
    shell: Shell


Drive = Callable[..., Driven]


@pytest.fixture
def drive(aws_env: Any) -> Drive:
    """Type keys into a fresh shell until they run out (EOF, like Ctrl-D); what it printed."""

    def run(*keys: str, history: History | None = None) -> Driven:
        out = io.StringIO()
        with create_pipe_input() as keyboard:
            shell = Shell(
                Settings(), out=out, keyboard=keyboard, screen=DummyOutput(), history=history
            )
            keyboard.send_text("".join(keys))
            keyboard.close()
            assert shell.loop() == 0
        return Driven(out.getvalue(), shell)

    return run


def where(endpoint_id: str) -> str:
    return f"WHERE ClientVpnEndpointId = '{endpoint_id}' AND region = 'us-east-1'"


def counting(endpoint_id: str) -> str:
    """A statement whose answer is easy to find on screen: `n=<count>`."""
    return f"SELECT 'n=' || count(*) AS answer FROM {CONNS} {where(endpoint_id)};\r"


def test_a_statement_runs_over_several_lines_and_errors_do_not_end_the_shell(
    drive: Drive, new_endpoint: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint_id = new_endpoint(3)
    driven = drive(
        "SELECT * FROM aws.ec2_api.client_vpn_conections\r",
        f"{where(endpoint_id)};\r",
        f"SELECT 'n=' || count(*) AS answer\rFROM {CONNS}\r{where(endpoint_id)};\r",
        f"SELECT * FROM {CONNS} {where(endpoint_id)} LIMIT 1;\r",
    )
    err = capsys.readouterr().err
    assert "unknown table aws.ec2_api.client_vpn_conections" in err
    assert f"did you mean {CONNS}" in err
    assert "n=3" in driven.out
    # a whole row is wider than 80 columns: one `column: value` line each
    assert "1. row" in driven.out and "connectionId: cvpn-connection-" in driven.out


def test_tab_completes_a_partial_table_name(aws_env: Any, new_endpoint: Callable[..., str]) -> None:
    endpoint_id = new_endpoint(4)
    before, _, after = counting(endpoint_id).partition(CONNS)
    out = io.StringIO()
    with create_pipe_input() as keyboard:
        shell = Shell(Settings(), out=out, keyboard=keyboard, screen=DummyOutput())
        loop = threading.Thread(target=shell.loop)
        loop.start()
        # Completion runs as a background task while typing: let it finish, as a person would.
        buffer = shell.prompt.default_buffer
        keyboard.send_text(before + "aws.ec2_api.client_vpn_con")
        wait_for(lambda: buffer.complete_state is not None and buffer.complete_state.completions)
        keyboard.send_text("\t")
        wait_for(lambda: buffer.text.endswith(CONNS))
        keyboard.send_text(after)
        keyboard.close()
        loop.join(timeout=30)
    assert "n=4" in out.getvalue()


def wait_for(condition: Callable[[], object]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_meta_commands(drive: Drive, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "script.sql"
    script.write_text("SELECT 6 * 7 AS answer;\nSELECT 'second' AS s;\n")
    driven = drive(
        ".help\r",
        ".tables\r",
        f".describe {CONNS}\r",
        f".read {script}\r",
        ".mode vi\r",
        ".cache ttl 5\r",
        ".bogus\r",
        ".timer maybe\r",
        ".once\r",
    )
    lines = driven.out.splitlines()
    for name in meta.COMMANDS:
        assert any(line.startswith(name) for line in lines), name
    assert "region (default), ClientVpnEndpointId (discovered), accountId (filter)" in (driven.out)
    assert "name: clientVpnEndpointId" in driven.out and "param: discovered" in driven.out
    assert "42" in driven.out and "second" in driven.out
    assert driven.shell.prompt.editing_mode == EditingMode.VI
    assert "cache ttl: 5 s" in driven.out and driven.shell.cache.ttl == 5
    err = capsys.readouterr().err
    assert "unknown command .bogus" in err and "usage: .timer on|off" in err
    assert "usage: .once FILE" in err


def test_read_runs_meta_commands_and_stops_at_the_first_error(
    drive: Drive, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "script.sql"
    script.write_text(".output csv\nSELECT 6 * 7 AS answer;\nSELECT nope;\nSELECT 'never' AS s;\n")
    looping = tmp_path / "loop.sql"
    looping.write_text(f"SELECT 1 AS once;\n.read {looping}\n")
    driven = drive(f".read {script}\r", f".read {looping}\r")
    assert "answer\r\n42" in driven.out or "answer\n42" in driven.out
    assert "never" not in driven.out
    assert driven.shell.format == "csv" and driven.shell.reading == 0
    err = capsys.readouterr().err
    assert "nope" in err
    assert f"files read files {meta.MAX_READ_DEPTH} deep" in err
    assert driven.out.count("once") == meta.MAX_READ_DEPTH


def test_output_switches_the_format(drive: Drive, new_endpoint: Callable[..., str]) -> None:
    endpoint_id = new_endpoint(2)
    query = f"SELECT count(*) AS n FROM {CONNS} {where(endpoint_id)};\r"
    driven = drive(".output json\r", query, ".mode csv\r", query, ".mode\r")
    text = driven.out.replace("\r\n", "\n")
    assert text == '[\n {"n": 2}\n]\nn\n2\noutput: csv\n'  # set silently, as in sqlite
    assert set(meta.choices(driven.shell.session.registry)[".output"]) == set(output.FORMATS)


def test_a_result_over_1000_rows_shows_1000_and_the_count_once_writes_all(
    drive: Drive, new_endpoint: Callable[..., str], tmp_path: Path
) -> None:
    endpoint_id = new_endpoint(1200)
    query = f"SELECT connectionId FROM {CONNS} {where(endpoint_id)};\r"
    target = tmp_path / "all.csv"
    driven = drive(query, ".output csv\r", f".once {target}\r", query, query)
    assert driven.out.count("(showing the first 1,000 of 1,200 rows") == 2
    table, _, rest = driven.out.partition("(showing")
    assert table.count("cvpn-connection-") == 1000
    assert f"wrote the result to {target}" in rest
    assert len(target.read_text().splitlines()) == 1201  # header and every row
    assert driven.shell.once is None  # only the next result


def test_cache_answers_repeats_until_refresh(
    drive: Drive, new_endpoint: Callable[..., str]
) -> None:
    endpoint_id = new_endpoint(5)
    driven = drive(".timer on\r", counting(endpoint_id), counting(endpoint_id))
    shell = driven.shell
    assert "time: fetch" in driven.out and "(1 API call, 1 page)" in driven.out
    assert "(1 call answered from the cache)" in driven.out
    assert (shell.session.last_stats.calls, shell.session.last_stats.cached) == (0, 1)
    seed_connections("us-east-1", endpoint_id, 2)  # the cloud changes; the cache does not
    shell.handle(counting(endpoint_id))
    assert shell.session.last_stats.cached == 1
    shell.handle(".refresh")
    shell.handle(counting(endpoint_id))
    assert (shell.session.last_stats.calls, shell.session.last_stats.cached) == (1, 0)
    assert shell.out.getvalue().count("n=5") == 3 and "n=7" in shell.out.getvalue()  # type: ignore[attr-defined]


def test_history_holds_only_what_was_run_and_delete_asks_first(
    drive: Drive,
    new_endpoint: Callable[..., str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint_id = new_endpoint(2)
    delete = f"DELETE FROM {CONNS} {where(endpoint_id)};"
    path = tmp_path / "history"
    driven = drive(
        "SELECT 1 AS one;\r",
        "\r   \r",  # blank lines
        ".timer off\r",
        "SELECT 'secret-draft'\x03",  # Ctrl-C clears the line
        f"{delete}\r",
        "n\r",  # the answer to "Terminate them? [y/N]"
        f"{delete}\r",
        "y\r",
        counting(endpoint_id).replace("count(*)", "count(*) FILTER (status.code = 'active')"),
        history=StatementHistory(path),
    )
    assert (
        list(FileHistory(path).load_history_strings())[::-1]
        == [
            "SELECT 1 AS one;",
            ".timer off",
            delete,  # typed twice in a row, stored once
            counting(endpoint_id).replace("count(*)", "count(*) FILTER (status.code = 'active')")[
                :-1
            ],
        ]
    )
    assert path.stat().st_mode & 0o777 == 0o600
    assert driven.out.count("2 connection(s) would be terminated") == 2
    assert "clientIp" in driven.out and "connectionEstablishedTime" in driven.out  # whose
    err = capsys.readouterr().err
    assert "vpnsql: nothing was terminated" in err and "error" not in err  # N is an answer
    assert driven.out.count("terminating") == 2  # the outcome rows of the confirmed DELETE
    assert "n=0" in driven.out
    assert "secret-draft" not in driven.out


def test_confirm_defaults_to_no() -> None:
    preview = Preview(
        CONNS,
        12,
        [{"username": "ann", "clientIp": "10.0.0.1"}, {"username": "bob", "clientIp": None}],
        [{"ConnectionId": "cvpn-connection-aaa"}, {"ConnectionId": "cvpn-connection-b"}],
    )
    answers = []
    out = io.StringIO()
    with create_pipe_input() as keyboard:
        shell = Shell(Settings(), out=out, keyboard=keyboard, screen=DummyOutput())
        for typed in ("\r", "n\r", "y\r", "YES\r"):
            keyboard.send_text(typed)
            answers.append(shell.confirm(preview))
        keyboard.close()
        answers.append(shell.confirm(preview))  # Ctrl-D / end of input
    assert answers == [False, False, True, True, False]
    text = out.getvalue()
    assert f"{CONNS}: 12 connection(s) would be terminated" in text
    assert "ann" in text and "10.0.0.1" in text and "... and 10 more" in text


def test_ctrl_c_during_a_statement_returns_to_the_prompt(
    drive: Drive, new_endpoint: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint_id = new_endpoint(1)
    out = io.StringIO()
    with create_pipe_input() as keyboard:
        shell = Shell(Settings(), out=out, keyboard=keyboard, screen=DummyOutput())
        real_run = shell.session.run
        calls = []

        def interrupted_once(statement: Any) -> Any:
            calls.append(statement)
            if len(calls) == 1:
                raise KeyboardInterrupt
            return real_run(statement)

        shell.session.run = interrupted_once  # type: ignore[method-assign]
        keyboard.send_text(counting(endpoint_id) * 2)
        keyboard.close()
        assert shell.loop() == 0
    assert "cancelled" in capsys.readouterr().err
    assert out.getvalue().count("n=1") == 1


def test_values_from_results_are_offered_in_string_position(drive: Drive) -> None:
    driven = drive(
        "SELECT clientVpnEndpointId FROM aws.ec2_api.client_vpn_endpoints "
        "WHERE region = 'us-east-1';\r"
    )
    document = Document(
        f"SELECT * FROM {CONNS} WHERE region = 'us-east-1' AND ClientVpnEndpointId = '"
    )
    completer = driven.shell.prompt.completer
    assert completer is not None
    offered = [c.text for c in completer.get_completions(document, CompleteEvent())]
    assert f"{DEMO_EP}'" in offered


def test_ctrl_r_finds_an_earlier_statement(drive: Drive) -> None:
    history = InMemoryHistory()
    history.append_string("SELECT 6 * 7 AS answer;")
    driven = drive("\x12answer\r\r", history=history)
    assert "42" in driven.out


@pytest.mark.parametrize("word", ["exit", "quit;", "\\q", ".exit", ".quit"])
def test_the_words_other_shells_take_leave(drive: Drive, word: str) -> None:
    driven = drive(f"{word}\r", "SELECT 'never' AS s;\r")
    assert not driven.shell.running and "never" not in driven.out


def test_help_mode_keys_and_schema(drive: Drive, new_endpoint: Callable[..., str]) -> None:
    endpoint_id = new_endpoint(2)
    driven = drive(
        "help\r",
        ".mode csv\r",
        f"SELECT count(*) AS n FROM {CONNS} {where(endpoint_id)};\r",
        ".mode vi\r",  # still the key bindings, as before .keys
        "CREATE TABLE mine (a INTEGER);\r",
        ".schema\r",
    )
    assert ".once FILE" in driven.out  # help lists the commands
    assert driven.shell.format == "csv" and "n\n2\n" in driven.out.replace("\r\n", "\n")
    assert driven.shell.prompt.editing_mode == EditingMode.VI
    assert f"CREATE TABLE {CONNS} (" in driven.out and '"status" STRUCT(' in driven.out
    assert "CREATE TABLE mine(a INTEGER);" in driven.out
    assert drive(".keys emacs\r").shell.prompt.editing_mode == EditingMode.EMACS


def test_once_writes_the_format_of_the_extension(
    drive: Drive, new_endpoint: Callable[..., str], tmp_path: Path
) -> None:
    import duckdb

    endpoint_id = new_endpoint(3)
    query = f"SELECT connectionId, ingressBytes FROM {CONNS} {where(endpoint_id)};\r"
    paths = {ext: tmp_path / f"out.{ext}" for ext in ("parquet", "csv", "json", "txt")}
    keys = [key for path in paths.values() for key in (f".once {path}\r", query)]
    driven = drive(*keys)  # the screen's format stays table throughout
    assert driven.shell.format == "table"
    parquet = duckdb.sql(f"SELECT count(*), min(ingressBytes) > 0 FROM '{paths['parquet']}'")
    assert parquet.fetchall() == [(3, True)]
    assert paths["csv"].read_text().splitlines()[0] == "connectionId,ingressBytes"
    import json

    assert len(json.loads(paths["json"].read_text())) == 3
    assert paths["txt"].read_text().startswith("connectionId ")  # no extension: the table
    assert f"wrote the result to {paths['parquet']} (parquet)" in driven.out


def test_endpoints_found_while_fanning_out_are_offered(drive: Drive) -> None:
    """A query naming no endpoint shows none of their IDs, yet discovery found them."""
    driven = drive(f"SELECT count(*) AS n FROM {CONNS} WHERE region = 'us-east-1';\r")
    assert driven.shell.session.last_stats.discovered
    completer = driven.shell.prompt.completer
    assert completer is not None
    document = Document(
        f"SELECT * FROM {CONNS} WHERE region = 'us-east-1' AND ClientVpnEndpointId = '"
    )
    offered = [c.text for c in completer.get_completions(document, CompleteEvent())]
    assert f"{DEMO_EP}'" in offered
