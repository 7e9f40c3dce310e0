"""The suite itself: its signal tests pass when pytest runs with SIGINT ignored (as under
`nohup pytest &`), and nothing they start outlives them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIGNAL_TESTS = (
    "tests/test_cli.py::test_sandbox_command_serves_other_tools",
    "tests/test_shell_pty.py::test_ctrl_c_cancels_a_fetch_and_the_prompt_comes_back",
    "tests/test_delete_exact.py::"
    "test_an_interrupted_delete_prints_what_it_did_and_what_it_did_not[ctrl-c]",
)


def ignoring_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def processes_marked(marker: str) -> list[int]:
    """Processes whose environment holds `marker` (every process a run started inherits it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in environment:
            found.append(int(entry.name))
    return found


def test_signal_tests_pass_under_nohup_and_reap_their_children() -> None:
    marker = f"VPNSQL_TEST_RUN={uuid.uuid4().hex}"
    name, value = marker.split("=")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SIGNAL_TESTS],
        cwd=ROOT,
        env={**os.environ, name: value},
        preexec_fn=ignoring_sigint,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 passed" in result.stdout
    left = processes_marked(marker)
    for pid in left:  # never leave them behind, even when the assertion fails
        os.kill(pid, signal.SIGKILL)
    assert left == []
