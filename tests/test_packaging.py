"""What a fresh `pip install 'vpnsql[sandbox]'` gets: every package of the source, and the
sandbox's own dependencies rather than moto's every-service server."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_directory_is_installed() -> None:
    """A non-editable install has only the listed packages (vpnsql.planner was missing)."""
    setuptools = PROJECT["tool"]["setuptools"]
    roots = {name: ROOT / path for name, path in setuptools["package-dir"].items()}
    found = set()
    for name, base in roots.items():
        for init in base.rglob("__init__.py"):
            parts = init.parent.relative_to(base).parts
            found.add(".".join((name, *parts)))
    assert found == set(setuptools["packages"])


def test_the_sandbox_extra_is_moto_core_and_its_server() -> None:
    extra = PROJECT["project"]["optional-dependencies"]["sandbox"]
    assert not any("[server]" in requirement or "[all]" in requirement for requirement in extra)
    assert {r.split(">")[0].split("<")[0] for r in extra} == {"moto", "flask", "flask-cors"}


def test_the_sandbox_imports_nothing_of_motos_other_services() -> None:
    """What moto[server] would have installed for services the sandbox does not serve."""
    probe = (
        "import sys, vpnsql.sandbox as s\n"
        "running = s.start(demo=True)\n"
        "running.stop()\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    imported = set(result.stdout.split())
    assert "flask" in imported and "moto" in imported  # the probe sees real imports
    server_only = {"cfnlint", "docker", "sympy", "graphql", "jsonpath_ng", "aws_xray_sdk",
                   "openapi_spec_validator", "antlr4", "joserfc", "py_partiql_parser"}  # fmt: skip
    assert not imported & server_only
