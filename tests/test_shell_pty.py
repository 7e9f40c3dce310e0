"""The shell as a person meets it: `vpnsql --sandbox` on a pseudo-terminal, typed into."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pexpect
import pytest
from processes import on_terminal

from vpnsql import sandbox as sandbox_module

CONNS = "aws.ec2_api.client_vpn_connections"
WHERE = "WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001' AND region = 'us-east-1'"


Spawn = Callable[..., pexpect.spawn]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """`spawn(home, ARGS)`: `python -m vpnsql.cli ARGS` on a terminal, with HOME and the XDG
    data dir in `home`; every child is closed when the test ends, however it ends."""
    with ExitStack() as children:

        def start(home: Path, *args: str, env: dict[str, str] | None = None) -> pexpect.spawn:
            environment = {
                **(env or os.environ),
                "HOME": str(home),
                "XDG_DATA_HOME": str(home / "data"),
                "TERM": "xterm",
                "PAGER": "cat",
                "PROMPT_TOOLKIT_NO_CPR": "1",  # nobody answers cursor-position requests here
            }
            argv = [sys.executable, "-m", "vpnsql.cli", *args]
            terminal = on_terminal(
                argv, env=environment, encoding="utf-8", timeout=30, dimensions=(40, 160)
            )
            return children.enter_context(terminal)

        yield start


def test_a_query_on_the_sandbox_then_ctrl_d(tmp_path: Path, spawn: Spawn) -> None:
    child = spawn(tmp_path, "--sandbox")
    child.expect("sandbox: on")
    child.expect(r"type \.help")
    child.send("SELECT 'n=' || count(*) AS answer FROM aws.ec2_api.client_vpn_con")
    child.expect("client_vpn_con")  # echoed: completion has had its turn
    child.send("\t")
    child.expect("nections")  # Tab completed the table name on screen
    child.send("\r")  # Enter on the highlighted completion takes it, no newline
    child.send(f"\r{WHERE};\r")
    child.expect(r"n=(\d+)")
    assert child.match.group(1) == "180"  # the demo endpoint's connections
    child.expect("vpnsql>")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    history = (tmp_path / "data" / "vpnsql" / "history").read_text()
    assert f"+SELECT 'n=' || count(*) AS answer FROM {CONNS}\n+{WHERE};\n" in history


@pytest.fixture
def slow_sandbox(aws_env: Any) -> Iterator[dict[str, str]]:
    """A second sandbox that takes 5 s per call, and an environment pointing at it."""
    running = sandbox_module.start(demo=False, latency=5.0)
    yield {**os.environ, **running.env()}
    running.stop()


def test_ctrl_c_cancels_a_fetch_and_the_prompt_comes_back(
    tmp_path: Path, slow_sandbox: dict[str, str], spawn: Spawn
) -> None:
    child = spawn(tmp_path, env=slow_sandbox)
    child.expect(r"type \.help")
    child.send(f"SELECT count(*) FROM {CONNS} {WHERE};\r")
    child.expect(re.escape("\x1b[?2004l"))  # the prompt is done: the terminal leaves raw mode
    time.sleep(0.3)  # so Ctrl-C is a signal now, not a key
    child.sendintr()
    child.expect("cancelled", timeout=3)  # well before the 5 s answer
    child.send("SELECT 6 * 7 AS answer;\r")
    child.expect("42")
    child.send(".quit\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
