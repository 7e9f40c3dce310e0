"""The reference docs are generated from the declarations and must not drift from them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vpnsql.docs import DEFAULT_DIR, pages
from vpnsql.registry import Registry
from vpnsql.session import Session
from vpnsql.tables import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_table_page_is_up_to_date() -> None:
    expected = pages(Registry.discover())
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in DEFAULT_DIR.glob("*.md")}
    assert set(on_disk) == set(expected), "run: python -m vpnsql.docs"
    for name, content in expected.items():
        assert on_disk[name] == content, f"{name} is stale; run: python -m vpnsql.docs"


def test_readme_links_every_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for table in Registry.discover().tables:
        assert f"(docs/tables/{table.name}.md)" in readme


def test_readme_documents_every_cli_option() -> None:
    from vpnsql.cli import build_parser

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for action in build_parser()._actions:
        long_names = [o for o in action.option_strings if o.startswith("--")]
        assert any(name in readme for name in long_names), f"README lacks {long_names}"


EXAMPLES = [
    pytest.param(example, id=f"{table.name}-{index}")
    for table in Registry.discover().tables
    for index, example in enumerate(table.examples)
]


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_runs_on_the_sandbox_as_written(aws_env: Any, example: str) -> None:
    """Copied from a table page into the sandbox, an example answers (terminates as dry runs)."""
    session = Session(settings=Settings(dry_run=True), confirm=lambda preview: True)
    for statement in session.plan(example):
        relation = session.run(statement)
        if relation is not None:
            relation.fetchall()
        assert session.last_failed == 0, example


SANDBOX_COMMAND = re.compile(r'vpnsql --sandbox -e "(.*?)"', re.DOTALL)
DOCS_WITH_COMMANDS = ("estate.md",)


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(match, id=f"{name}-{index}")
        for name in DOCS_WITH_COMMANDS
        for index, match in enumerate(
            SANDBOX_COMMAND.findall((ROOT / "docs" / name).read_text(encoding="utf-8"))
        )
    ],
)
def test_every_sandbox_command_in_the_docs_runs_as_written(statement: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", "--sandbox", "-e", statement],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "(0 rows)" not in result.stdout
