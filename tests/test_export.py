"""--outfile and COPY: Parquet, CSV, JSON, Markdown files, partitioning, and atomic writes."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from processes import started

from vpnsql.errors import QueryError

CONNS = "aws.ec2_api.client_vpn_connections"
TRICKY = 'Zoë "ops", Ünïcode\nsecond line'


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


@pytest.fixture
def env(aws_env: Any) -> dict[str, str]:
    return dict(os.environ)


@pytest.fixture
def endpoint(new_endpoint: Callable[..., str]) -> str:
    from vpnsql.sandbox import seed_connections

    endpoint_id = new_endpoint(
        25,
        connections=[{"CommonName": TRICKY, "IngressBytes": 9_000_000_000,
                      "PostureComplianceStatuses": ["compliant", "patched"]}],
    )  # fmt: skip
    seed_connections("eu-west-1", endpoint_id, 7)
    return endpoint_id


def both_regions(endpoint_id: str, columns: str = "*") -> str:
    parts = [
        f"SELECT {columns} FROM {CONNS} "
        f"WHERE ClientVpnEndpointId = '{endpoint_id}' AND region = '{region}'"
        for region in ("us-east-1", "eu-west-1")
    ]
    return " UNION ALL ".join(parts)


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if ".vpnsql-" in p.name]


def test_parquet_keeps_types_and_nesting(
    env: dict[str, str], endpoint: str, tmp_path: Path
) -> None:
    target = tmp_path / "sessions.parquet"
    result = run("-e", both_regions(endpoint), "--outfile", str(target), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    table = pq.read_table(target)
    assert table.num_rows == 33
    schema = table.schema
    assert str(schema.field("ingressBytes").type) == "int64"
    assert str(schema.field("connectionEstablishedTime").type).startswith("timestamp")
    assert str(schema.field("status").type) == "struct<code: string, message: string>"
    assert str(schema.field("postureComplianceStatusSet").type).startswith("list<")
    meta = pq.ParquetFile(target).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    tricky = [r for r in table.to_pylist() if r["commonName"] == TRICKY]
    assert tricky[0]["postureComplianceStatusSet"] == ["compliant", "patched"]
    assert tricky[0]["ingressBytes"] == 9_000_000_000
    assert leftovers(tmp_path) == []


def test_csv_file_round_trips_through_the_csv_module(
    env: dict[str, str], endpoint: str, tmp_path: Path
) -> None:
    target = tmp_path / "sessions.csv"
    query = both_regions(endpoint, "connectionId, commonName, ingressBytes, status, "
                                   "postureComplianceStatusSet, connectionEndTime")  # fmt: skip
    assert run("-e", query, "--outfile", str(target), env=env).returncode == 0
    rows = list(csv.DictReader(target.open(newline="", encoding="utf-8")))
    assert len(rows) == 33
    tricky = next(r for r in rows if r["commonName"] == TRICKY)
    assert json.loads(tricky["status"]) == {"code": "active", "message": None}
    assert json.loads(tricky["postureComplianceStatusSet"]) == ["compliant", "patched"]
    assert tricky["connectionEndTime"] == ""
    assert int(tricky["ingressBytes"]) == 9_000_000_000
    # The console's CSV says the same as DuckDB's file writer.
    console = run("-e", f"{query} ORDER BY connectionId", "-o", "csv", env=env).stdout
    as_file = sorted(rows, key=lambda r: r["connectionId"])
    assert list(csv.DictReader(io.StringIO(console, newline=""))) == as_file


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".ndjson", ".md"])
def test_text_formats_follow_the_extension(
    env: dict[str, str], endpoint: str, tmp_path: Path, suffix: str
) -> None:
    target = tmp_path / f"out{suffix}"
    query = both_regions(endpoint, "connectionId, ingressBytes, status") + " ORDER BY 1"
    assert run("-e", query, "--outfile", str(target), env=env).returncode == 0
    text = target.read_text(encoding="utf-8")
    if suffix == ".json":
        records = json.loads(text)
    elif suffix == ".md":
        lines = text.splitlines()
        assert lines[0] == "| connectionId | ingressBytes | status |"
        assert lines[1] == "| :--- | ---: | :--- |"
        records = lines[2:]
    else:
        records = [json.loads(line) for line in text.splitlines()]
    assert len(records) == 33
    if suffix != ".md":
        console = run("-e", query, "-o", "json", env=env).stdout
        assert records == json.loads(console)


def test_partitioned_parquet_layout(env: dict[str, str], endpoint: str, tmp_path: Path) -> None:
    target = tmp_path / "lake"
    args = ("-e", both_regions(endpoint), "--outfile", str(target), "--partition-by", "region")
    assert run(*args, env=env).returncode == 0
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*.parquet"))
    assert files == ["region=eu-west-1/part-0.parquet", "region=us-east-1/part-0.parquet"]
    counts = duckdb.sql(
        f"SELECT region, count(*) FROM read_parquet('{target}/*/*.parquet', hive_partitioning=1) "
        "GROUP BY region ORDER BY region"
    ).fetchall()
    assert counts == [("eu-west-1", 7), ("us-east-1", 26)]
    # Writing again replaces the directory as a whole.
    again = run("-e", both_regions(endpoint) + " LIMIT 1", "--outfile", str(target),
                "--partition-by", "region", env=env)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert len(list(target.rglob("*.parquet"))) == 1
    assert leftovers(tmp_path) == []


def test_a_failing_export_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "keep.parquet"
    target.write_bytes(b"old")
    result = run("-e", "SELECT CAST('x' || range AS INTEGER) AS n FROM range(10)",
                 "--outfile", str(target))  # fmt: skip
    assert result.returncode == 1
    assert "Conversion Error" in result.stderr and "Traceback" not in result.stderr
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("-e", "SELECT 1 AS n", "--outfile", str(blocker / "out.csv"))
    assert result.returncode == 1
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.parametrize(
    ("sent", "code", "said"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["ctrl-c", "sigterm"],
)
def test_a_signal_mid_export_leaves_the_old_file(
    tmp_path: Path, sent: signal.Signals, code: int, said: str
) -> None:
    target = tmp_path / "big.csv"
    target.write_text("old\n")
    with started(
        [sys.executable, "-m", "vpnsql.cli", "--outfile", str(target), "-e",
         "SELECT range AS n, md5(range::VARCHAR) AS h FROM range(1000000000)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        deadline = time.monotonic() + 60
        while not leftovers(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leftovers(tmp_path), "the export never started"
        proc.send_signal(sent)
        _, stderr = proc.communicate(timeout=60)
    assert (proc.returncode, stderr) == (code, f"vpnsql: {said}\n")
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_ctrl_c_mid_copy_statement_leaves_the_old_file(tmp_path: Path) -> None:
    """DuckDB writes a COPY's file beside the target (tmp_NAME) and renames it when whole."""
    target = tmp_path / "big.csv"
    target.write_text("old\n")
    query = "SELECT range AS n, md5(range::VARCHAR) AS h FROM range(1000000000)"
    sql = f"COPY ({query}) TO {sql_string(target)}"
    with started(
        [sys.executable, "-m", "vpnsql.cli", "-e", sql],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as proc:  # fmt: skip
        deadline = time.monotonic() + 60
        while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(tmp_path.iterdir())) == 2, "the copy never started"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    assert (proc.returncode, stderr) == (130, "vpnsql: interrupted\n")
    assert target.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [target]


def test_a_symlink_keeps_pointing_at_the_file_it_names(tmp_path: Path) -> None:
    (tmp_path / "real.csv").write_text("old\n")
    (tmp_path / "link.csv").symlink_to("real.csv")
    result = run("-e", "SELECT 2 AS b", "--outfile", str(tmp_path / "link.csv"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "link.csv").is_symlink()
    assert (tmp_path / "real.csv").read_text() == "b\n2\n"


def test_a_replaced_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "secret.csv"
    target.write_text("old\n")
    target.chmod(0o600)
    assert run("-e", "SELECT 'alice' AS who", "--outfile", str(target)).returncode == 0
    assert (target.read_text(), stat.S_IMODE(target.stat().st_mode)) == ("who\nalice\n", 0o600)


def test_a_stream_is_written_in_place(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with started(["cat", str(fifo)], stdout=subprocess.PIPE, text=True) as reader:
        result = run("-e", "SELECT 3 AS c", "-o", "jsonl", "--outfile", str(fifo))
        assert result.returncode == 0, result.stderr
        assert json.loads(reader.communicate(timeout=30)[0]) == {"c": 3}
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    to_stdout = run("-e", "SELECT 4 AS d", "-o", "csv", "--outfile", "/dev/stdout")
    assert (to_stdout.returncode, to_stdout.stdout) == (0, "d\n4\n")


def test_a_directory_with_other_files_is_never_replaced(tmp_path: Path) -> None:
    victim = tmp_path / "reports"
    (victim / "sub").mkdir(parents=True)
    (victim / "notes.txt").write_text("keep me")
    sql = "SELECT 'r1' AS region, 1 AS n"
    result = run("-e", sql, "--outfile", str(victim), "--partition-by", "region")
    assert result.returncode == 1
    assert "holds more than partitions (notes.txt, sub)" in result.stderr
    assert (victim / "notes.txt").read_text() == "keep me"
    here = subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", "-e", sql, "--outfile", ".", "--partition-by",
         "region"], capture_output=True, text=True, cwd=victim, timeout=120,
    )  # fmt: skip
    assert here.returncode == 1 and "holds more than partitions" in here.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    cwd = subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", "-e", sql, "--outfile", ".", "--partition-by",
         "region"], capture_output=True, text=True, cwd=empty, timeout=120,
    )  # fmt: skip
    assert cwd.returncode == 1 and "the current directory" in cwd.stderr
    assert list(empty.iterdir()) == []
    lake = tmp_path / "lake"
    for region in ("r1", "r2"):  # an earlier export's partitions are replaced
        sql = f"SELECT '{region}' AS region, 1 AS n"
        assert run("-e", sql, "--outfile", str(lake), "--partition-by", "region").returncode == 0
    assert [p.name for p in lake.iterdir()] == ["region=r2"]


def test_parquet_goes_to_stdout_unless_it_is_a_terminal(tmp_path: Path) -> None:
    import pty

    target = tmp_path / "s.parquet"
    with target.open("wb") as redirected:  # vpnsql -o parquet > s.parquet
        result = subprocess.run(
            [sys.executable, "-m", "vpnsql.cli", "-e", "SELECT 7 AS n", "-o", "parquet"],
            stdout=redirected, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert duckdb.sql(f"SELECT n FROM '{target}'").fetchall() == [(7,)]
    two = run("-e", "SELECT 1; SELECT 2", "-o", "parquet")
    assert two.returncode == 2 and "-o parquet writes one result and this input has 2" in two.stderr
    leader, follower = pty.openpty()
    try:
        on_terminal = subprocess.run(
            [sys.executable, "-m", "vpnsql.cli", "-e", "SELECT 1", "-o", "parquet"],
            stdout=follower, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(follower)
        os.close(leader)
    assert on_terminal.returncode == 2 and "stdout is a terminal" in on_terminal.stderr
    empty = run("-e", "SELECT 1", "--outfile", "")
    assert (empty.returncode, empty.stdout) == (2, "")
    assert "--outfile needs a path" in empty.stderr


def test_output_and_outfile_follow_one_rule(tmp_path: Path) -> None:
    """The extension decides a file's format; --output must agree, and names the format of a
    file whose extension says none."""
    text = tmp_path / "s.txt"
    as_table = run("-e", "SELECT 1 AS n", "--outfile", str(text), "-o", "table")
    assert as_table.returncode == 0, as_table.stderr
    assert text.read_text() == "n\n-\n1\n(1 row)\n"
    conflict = run("-e", "SELECT 1 AS n", "--outfile", str(tmp_path / "s.csv"), "-o", "json")
    assert conflict.returncode == 2
    assert f"--output json conflicts with --outfile {tmp_path / 's.csv'}" in conflict.stderr
    assert "means csv" in conflict.stderr and not (tmp_path / "s.csv").exists()
    agreeing = run("-e", "SELECT 1 AS n", "--outfile", str(tmp_path / "s.csv"), "-o", "csv")
    assert agreeing.returncode == 0 and (tmp_path / "s.csv").read_text() == "n\n1\n"
    unknown = run("-e", "SELECT 1 AS n", "--outfile", str(tmp_path / "s.log"))
    assert unknown.returncode == 2 and "give --output FORMAT" in unknown.stderr


def test_unknown_extension_and_bad_partition_column(tmp_path: Path) -> None:
    unknown = run("-e", "SELECT 1 AS n", "--outfile", str(tmp_path / "x.xlsx"))
    assert unknown.returncode == 2 and "extension" in unknown.stderr
    bad = run("-e", "SELECT 1 AS n", "--outfile", str(tmp_path / "d"), "--partition-by", "nope")
    assert bad.returncode == 2 and "cannot partition by nope" in bad.stderr
    assert list(tmp_path.iterdir()) == []


def test_outfile_takes_the_last_result(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "last.jsonl"
    result = run("-e", "SELECT 1 AS a; CREATE TABLE t AS SELECT 2 AS b; SELECT b FROM t",
                 "-o", "jsonl", "--outfile", str(target), env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == '{"a": 1}\n'
    assert json.loads(target.read_text()) == {"b": 2}


def test_copy_statement_reads_virtual_tables(
    env: dict[str, str], endpoint: str, tmp_path: Path
) -> None:
    target = tmp_path / "copied.parquet"
    query = both_regions(endpoint, "connectionId, region")
    result = run("-e", f"COPY ({query}) TO '{target}' (FORMAT parquet)", env=env)
    assert result.returncode == 0, result.stderr
    assert pq.read_table(target).num_rows == 33


def sql_string(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def test_a_copy_statement_replaces_its_file_only_when_whole(tmp_path: Path) -> None:
    from vpnsql.session import Session

    target = tmp_path / "it's.csv.gz"
    session = Session()
    session.sql(f"COPY (SELECT range AS n FROM range(1000)) TO {sql_string(target)}")
    assert target.read_bytes()[:2] == b"\x1f\x8b"  # gzip, as DuckDB infers from the name
    before = target.read_bytes()
    failing = (
        "SELECT range AS n FROM range(200000) "
        "WHERE CASE WHEN range = 150000 THEN error('failed midway') END IS NULL"
    )
    with pytest.raises(QueryError, match="failed midway"):
        session.sql(f"COPY ({failing}) TO {sql_string(target)}")
    assert target.read_bytes() == before
    assert leftovers(tmp_path) == []
    count = duckdb.sql(f"SELECT count(*) FROM read_csv({sql_string(target)})").fetchall()
    assert count == [(1000,)]


def test_a_partitioned_copy_is_written_by_duckdb_as_it_says(tmp_path: Path) -> None:
    from vpnsql.session import Session

    target = tmp_path / "lake"
    query = "SELECT range % 2 AS p, range AS n FROM range(10)"
    Session().sql(f"COPY ({query}) TO {sql_string(target)} (FORMAT parquet, PARTITION_BY (p))")
    assert sorted(p.name for p in target.iterdir()) == ["p=0", "p=1"]


def test_markdown_on_the_console() -> None:
    result = run("-e", "SELECT 'a|b' AS x, 2 AS n", "-o", "markdown")
    assert result.stdout.splitlines() == ["| x | n |", "| :--- | ---: |", "| a\\|b | 2 |"]


def test_json_files_are_written_within_the_engines_memory_limit(tmp_path: Path) -> None:
    """DuckDB's JSON writer, keeping the order across threads, wanted more than 192 MB for
    200,000 rows; a 64 MB engine writes them."""
    from vpnsql.engine import Engine
    from vpnsql.export import export

    engine = Engine(memory_limit="64MB")
    engine.connection.execute(
        "CREATE TABLE t AS SELECT range AS n, repeat('x', 200) AS s, "
        "{'code': 'active', 'message': NULL} AS status FROM range(200000)"
    )
    relation = engine.connection.sql("SELECT * FROM t ORDER BY n")
    threads = engine.connection.sql("SELECT current_setting('threads')").fetchall()
    for fmt in ("json", "jsonl"):
        export(relation, engine.connection, str(tmp_path / f"x.{fmt}"), fmt)
    lines = (tmp_path / "x.jsonl").read_text().splitlines()
    assert len(lines) == 200000 and lines[0].startswith('{"n":0,') and '"n":199999' in lines[-1]
    assert engine.connection.sql("SELECT current_setting('threads')").fetchall() == threads
    engine.close()
