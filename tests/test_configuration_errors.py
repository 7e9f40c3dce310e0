"""Configuration a user can get wrong (environment variables, flags, a missing extra): a clear
message naming what to fix, exit 2, never an internal error or a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from processes import on_terminal

VIEW = "SELECT count(*) FROM vpn.client_connections"
WITHOUT_MOTO = """
import runpy, sys
sys.modules["moto"] = None  # as if the sandbox extra were not installed
sys.argv = ["vpnsql", *sys.argv[1:]]
runpy.run_module("vpnsql.cli", run_name="__main__")
"""


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ALIBABA_"))}
    base |= {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_REGION": "us-east-1",
             "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
             "ALIBABA_CLOUD_ACCESS_KEY_ID": "x", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "x",
             "ALIBABA_CLOUD_REGION_ID": "cn-hangzhou"}  # fmt: skip
    return subprocess.run(
        [sys.executable, *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_configuration_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    for needle in needles:
        assert needle in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "needle"),
    [
        ("AWS_ENDPOINT_URL_EC2", "not a url", "Invalid endpoint: not a url"),
        ("AWS_ENDPOINT_URL", "ftp://127.0.0.1:1", "not an http(s) URL"),
        ("AWS_MAX_ATTEMPTS", "abc", "'abc'"),
        ("AWS_MAX_ATTEMPTS", "0", "max_attempts"),
        ("AWS_RETRY_MODE", "bogus", "bogus"),
        ("AWS_REGION", "Us_East", "a configured region is not valid: 'Us_East'"),
        ("VPNSQL_ALIBABA_ENDPOINT", "not a url", "VPNSQL_ALIBABA_ENDPOINT must be a URL"),
        ("VPNSQL_ALIBABA_ENDPOINT", "http://127.0.0.1:99999", "VPNSQL_ALIBABA_ENDPOINT"),
        ("ALIBABA_CLOUD_REGION_ID", "!!", "a configured region is not valid: '!!'"),
    ],
)
def test_a_variable_vpnsql_cannot_use_is_a_configuration_error(
    variable: str, value: str, needle: str
) -> None:
    result = run("-m", "vpnsql.cli", "-e", VIEW, env={variable: value})
    assert_configuration_error(result, needle)


def test_an_aws_config_file_that_does_not_parse_names_its_variable(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[default\nregion = us-east-1\n")
    result = run("-m", "vpnsql.cli", "-e", VIEW, env={"AWS_CONFIG_FILE": str(config)})
    assert_configuration_error(result, f"Unable to parse config file: {config}", "AWS_CONFIG_FILE")
    assert "AWS_SECRET_ACCESS_KEY" not in result.stderr  # credentials are never named


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("sandbox", "--port", "99999"), "--port: must be 0 to 65535"),
        (("sandbox", "--port", "-1"), "--port: must be 0 to 65535"),
        (("sandbox", "--latency", "-1"), "--latency: must be 0 or more seconds"),
        (("--timeout", "0", "-e", VIEW), "--timeout: must be a positive number of seconds"),
        (("--timeout", "nan", "-e", VIEW), "--timeout: must be a positive number of seconds"),
        (("--timeout", "soon", "-e", VIEW), "--timeout: not a number of seconds"),
        (("--max-concurrency", "x", "-e", VIEW), "--max-concurrency: not a whole number"),
    ],
)
def test_a_flag_out_of_range_is_a_usage_error(args: tuple[str, ...], needle: str) -> None:
    assert_configuration_error(run("-m", "vpnsql.cli", *args), needle)


def test_an_unknown_editing_mode_is_a_configuration_error() -> None:
    import pexpect

    env = {**os.environ, "VPNSQL_EDITING_MODE": "nano"}
    argv = [sys.executable, "-m", "vpnsql.cli"]
    with on_terminal(argv, env=env, encoding="utf-8") as child:
        child.expect(pexpect.EOF, timeout=30)
        child.close()
    assert child.exitstatus == 2
    assert "VPNSQL_EDITING_MODE must be emacs or vi, not 'nano'" in (child.before or "")


@pytest.mark.parametrize("args", [("--sandbox", "-e", "SELECT 1"), ("sandbox",)])
def test_the_sandbox_without_its_extra_says_what_to_install(args: tuple[str, ...]) -> None:
    result = run("-c", WITHOUT_MOTO, *args)
    assert_configuration_error(
        result, "the sandbox needs moto, which is not installed", "pip install 'vpnsql[sandbox]'"
    )
