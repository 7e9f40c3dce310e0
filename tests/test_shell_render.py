"""How the shell lays results out on a screen: width, the row cap, the timer line, the banner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from vpnsql.fetch import FetchStats
from vpnsql.output import display_width
from vpnsql.registry import Registry
from vpnsql.shell.banner import banner
from vpnsql.shell.history import history_path
from vpnsql.shell.meta import COMMANDS
from vpnsql.shell.render import render, timing
from vpnsql.tables import Settings
from vpnsql_providers.aws import PROVIDER


def widest(text: str) -> int:
    return max((display_width(line) for line in text.splitlines()), default=0)


WIDE = "SELECT 'cvpn-connection-0123456789abcdef0' AS connectionId, 'alice.smith' AS username, "
WIDE += "{'code': 'active', 'message': NULL} AS status, 12345678901 AS ingressBytes"


def test_a_row_that_fits_stays_a_table() -> None:
    text = render(duckdb.sql(WIDE), "table", width=120).text
    assert text.splitlines()[0].split(" | ")[0].strip() == "connectionId"
    assert widest(text) <= 120 and text.endswith("(1 row)\n")


def test_a_row_wider_than_the_terminal_turns_vertical() -> None:
    text = render(duckdb.sql(WIDE + " UNION ALL " + WIDE), "table", width=60).text
    lines = text.splitlines()
    assert lines[0].strip("* ") == "1. row"
    assert lines[1] == "connectionId: cvpn-connection-0123456789abcdef0"
    assert lines[3].startswith("      status: {") and '"active"' in lines[3]
    assert "2. row" in lines[5] and lines[-1] == "(2 rows)"
    assert widest(text) <= 60


def test_other_formats_are_never_reshaped() -> None:
    text = render(duckdb.sql(WIDE), "jsonl", width=20).text
    assert text.startswith('{"connectionId": "cvpn-connection-0123456789abcdef0"')


def test_more_than_the_limit_shows_the_first_rows_and_the_count() -> None:
    relation = duckdb.sql("SELECT range AS n FROM range(2500) ORDER BY n DESC")
    rendered = render(relation, "table", width=80)
    lines = rendered.text.splitlines()
    assert lines[2].strip() == "2499" and lines[1001].strip() == "1500"
    assert lines[-1] == "(showing the first 1,000 of 2,500 rows; .once FILE writes them all)"
    assert "(1000 rows)" not in rendered.text  # the table's own count would contradict it
    assert len(rendered.shown.fetchall()) == 1000
    exact = render(duckdb.sql("SELECT * FROM range(1000)"), "csv", width=80)
    assert "showing" not in exact.text and len(exact.text.splitlines()) == 1001


def test_timer_line_tells_fetch_from_query_and_the_cache() -> None:
    fetched = FetchStats(calls=2, pages=3, rows=2100, seconds=0.5)
    assert timing(fetched, 0.75) == "time: fetch 0.500 s (2 API calls, 3 pages) · query 0.250 s\n"
    cached = FetchStats(cached=1, seconds=0.001)
    assert "(1 call answered from the cache)" in timing(cached, 0.01)
    assert timing(FetchStats(), 0.002) == "time: query 0.002 s\n"


def test_banner_names_credential_sources_never_secrets(tmp_path: Path) -> None:
    registry = Registry([PROVIDER])
    env = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}
    text = banner(registry, Settings(), env, sandbox=False)
    assert "aws (environment variables)" in text and "type .help" in text
    assert "AKIAEXAMPLE" not in text and "s3cr3t-value" not in text and "sandbox" not in text
    assert "aws (profile prod)" in banner(registry, Settings(profile="prod"), env, sandbox=False)
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\naws_access_key_id = AKIAFILE\n")
    from_file = banner(
        registry, Settings(), {"AWS_SHARED_CREDENTIALS_FILE": str(credentials)}, False
    )
    assert f"aws ({credentials})" in from_file and "AKIAFILE" not in from_file
    nothing = {"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"}
    assert "aws (none found)" in banner(registry, Settings(), nothing, sandbox=False)
    sandbox = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", **env}
    assert "sandbox: on (http://127.0.0.1:5000)" in banner(registry, Settings(), sandbox, True)


def test_banner_says_when_an_endpoint_override_is_active() -> None:
    registry = Registry.discover()
    plain = banner(registry, Settings(), {}, sandbox=False)
    assert "endpoints: alibaba (the cloud's own), aws (the cloud's own)" in plain
    overridden = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "AWS_ENDPOINT_URL_EC2": "https://ec2.fake.example",
        "VPNSQL_ALIBABA_ENDPOINT": "http://127.0.0.1:8500",
    }
    text = banner(registry, Settings(), overridden, sandbox=False)
    assert "aws → https://ec2.fake.example (AWS_ENDPOINT_URL_EC2)" in text  # botocore's order
    assert "alibaba → http://127.0.0.1:8500 (VPNSQL_ALIBABA_ENDPOINT)" in text
    ignored = {**overridden, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    assert "aws (the cloud's own)" in banner(registry, Settings(), ignored, sandbox=False)


def test_history_lives_in_the_xdg_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert history_path() == tmp_path / "vpnsql" / "history"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert history_path() == tmp_path / ".local/share/vpnsql/history"


def test_the_docs_describe_every_meta_command() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "shell.md").read_text()
    for usage in (command.usage for command in COMMANDS.values()):
        assert "`" + usage.replace("|", "\\|") + "`" in docs, usage  # | is escaped in tables


def test_banner_says_how_many_accounts_and_regions(sandbox: Any) -> None:
    from vpnsql.settings import make_settings

    registry = Registry.discover()
    text = banner(registry, make_settings(registry, config=sandbox.config_path), {}, True)
    line = next(line for line in text.splitlines() if line.startswith("estate"))
    assert str(sandbox.config_path) in line
    assert "aws: an Organization, 2 regions" in line
    assert "alibaba: 2 accounts, 3 regions" in line
    plain = banner(registry, make_settings(registry), {}, False)
    assert (
        "estate (no config file): " in plain and "aws: the default account, the default " in plain
    )
