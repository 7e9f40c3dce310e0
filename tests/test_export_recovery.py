"""Files a kill cannot break: a partitioned directory swapped in one step, what a killed run
left cleaned up by the next, streams appended to, and an --outfile with nothing to write."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from processes import started

from vpnsql import export

PARTITIONED = "SELECT 'r' || (range % 3) AS region, range AS n, {tag} AS tag FROM range({rows})"


def run(*args: str, stdout: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", *args],
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )


def write_lake(lake: Path, tag: int, rows: int = 30) -> None:
    connection = duckdb.connect()
    relation = connection.sql(PARTITIONED.format(tag=tag, rows=rows))
    export.export(relation, connection, str(lake), "parquet", partition_by=["region"])


def tags(lake: Path) -> set[int]:
    files = f"'{lake}/*/*.parquet'"
    return {row[0] for row in duckdb.sql(f"SELECT DISTINCT tag FROM {files}").fetchall()}


def dead_pid() -> int:
    """The process ID of a process that has just ended."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.skipif(export._renameat2() is None, reason="no renameat2 here")
def test_a_partitioned_directory_is_replaced_in_one_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two renames left `lake` missing in between (a kill there left only the old copy)."""
    lake = tmp_path / "lake"
    write_lake(lake, 1)
    moved: list[tuple[str, str]] = []
    for name in ("rename", "replace"):
        real = getattr(os, name)

        def spy(source: object, target: object, _real: object = real) -> None:
            moved.append((str(source), str(target)))
            _real(source, target)  # type: ignore[operator]

        monkeypatch.setattr(os, name, spy)
    write_lake(lake, 2)
    assert str(lake) not in [source for source, _ in moved]  # never moved out of the way
    assert tags(lake) == {2}
    assert [p.name for p in tmp_path.iterdir()] == ["lake"]


def test_without_an_exchange_the_old_directory_is_moved_aside_then_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "exchange", lambda first, second: False)
    lake = tmp_path / "lake"
    write_lake(lake, 1)
    write_lake(lake, 2)
    assert tags(lake) == {2}
    assert [p.name for p in tmp_path.iterdir()] == ["lake"]


def test_a_directory_a_kill_left_aside_is_put_back_by_the_next_write(tmp_path: Path) -> None:
    """Killed between the two renames of the fallback: `lake` missing, its old copy aside,
    and the new one, perhaps incomplete, under its temporary name."""
    lake = tmp_path / "lake"
    write_lake(lake, 1)
    pid = dead_pid()
    lake.rename(tmp_path / f".lake.vpnsql-old-{pid}-0123abcd")
    write_lake(tmp_path / "unfinished", 2)
    (tmp_path / "unfinished").rename(tmp_path / f".lake.vpnsql-{pid}-89abcdef")
    result = run("-e", "SELECT 1 AS n", "--outfile", str(tmp_path / "other.csv"))
    assert result.returncode == 0, result.stderr
    assert tags(lake) == {1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake", "other.csv"]


def test_a_directory_aside_whose_name_is_back_is_removed(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_lake(lake, 2)
    write_lake(tmp_path / "old", 1)
    (tmp_path / "old").rename(tmp_path / f".lake.vpnsql-old-{dead_pid()}-0123abcd")
    write_lake(lake, 3)
    assert tags(lake) == {3}
    assert [p.name for p in tmp_path.iterdir()] == ["lake"]


def test_stale_temporaries_are_swept_on_the_next_write(tmp_path: Path) -> None:
    dead = dead_pid()
    stale = [f".x.csv.vpnsql-{dead}-0123abcd", ".old.csv.vpnsql-0a1b2c3d"]
    kept = [
        f".y.csv.vpnsql-{os.getpid()}-0123abcd",  # a process that still runs: in use
        ".new.csv.vpnsql-4e5f6a7b",  # an earlier vpnsql's, but recent
        ".notes.vpnsql",
        "x.csv",
    ]
    for name in [*stale, *kept]:
        (tmp_path / name).write_bytes(b"\0" * 1_000_000)
    (tmp_path / f".lake.vpnsql-{dead}-fedcba98" / "region=r1").mkdir(parents=True)
    stale.append(f".lake.vpnsql-{dead}-fedcba98")
    hours_ago = time.time() - 2 * 3600
    os.utime(tmp_path / ".old.csv.vpnsql-0a1b2c3d", (hours_ago, hours_ago))
    result = run("-e", "SELECT 1 AS n", "--outfile", str(tmp_path / "x.csv"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)


def test_killed_mid_replace_the_directory_is_always_there_and_the_next_run_cleans_up(
    tmp_path: Path,
) -> None:
    lake = tmp_path / "lake"
    write_lake(lake, 0)
    rng = random.Random(7)
    for tag in range(1, 5):
        sql = PARTITIONED.format(tag=tag, rows=10_000_000)
        argv = [sys.executable, "-m", "vpnsql.cli", "-e", sql, "--outfile", str(lake),
                "--partition-by", "region"]  # fmt: skip
        with started(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
            deadline = time.monotonic() + 60
            while not any(f".vpnsql-{proc.pid}-" in p.name for p in tmp_path.iterdir()):
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.8))  # mid-write, or mid-swap
            proc.send_signal(signal.SIGKILL)
        assert len(tags(lake)) == 1  # whole: the old data or the new
    result = run("-e", "SELECT 1 AS n", "--outfile", str(tmp_path / "done.csv"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done.csv", "lake"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("mode", ["w", "a"], ids=[">", ">>"])
def test_outfile_dev_stdout_appends_to_what_is_there(tmp_path: Path, fmt: str, mode: str) -> None:
    """`--outfile /dev/stdout` truncated the redirected file: earlier results, and all of a
    `>>` target, were lost."""
    target = tmp_path / "out"
    target.write_bytes(b"kept\n")
    statements = ["-e", "SELECT 1 AS a"] if fmt != "parquet" else []
    with open(target, mode + "b") as stdout:
        result = run(*statements, "-e", "SELECT 2 AS b", "-o", fmt, "--outfile", "/dev/stdout",
                     stdout=stdout.fileno())  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = target.read_bytes()
    if mode == "a":
        assert data.startswith(b"kept\n")
        data = data[len(b"kept\n") :]
    if fmt == "parquet":
        assert data[:4] == b"PAR1" and data[-4:] == b"PAR1"
    elif fmt == "csv":
        assert data == b"a\n1\n\nb\n2\n" or data == b"a\n1\nb\n2\n"
    else:
        assert [json.loads(line) for line in data.splitlines()] == [{"a": 1}, {"b": 2}]


def test_a_regular_file_under_dev_is_written_atomically_not_as_a_stream(tmp_path: Path) -> None:
    if not Path("/dev/shm").is_dir() or not os.access("/dev/shm", os.W_OK):
        pytest.skip("no writable /dev/shm")
    target = Path("/dev/shm") / f"vpnsql-test-{os.getpid()}.csv"
    try:
        target.write_text("old contents that are longer\n")
        result = run("-e", "SELECT 1 AS n", "--outfile", str(target))
        assert result.returncode == 0, result.stderr
        assert target.read_text() == "n\n1\n"
    finally:
        target.unlink(missing_ok=True)


def test_outfile_without_a_result_writes_nothing_and_says_so(tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    result = run("-e", "CREATE TABLE t AS SELECT 1 AS n", "--outfile", str(target))
    assert result.returncode == 1
    assert "nothing was written" in result.stderr
    assert list(tmp_path.iterdir()) == []
