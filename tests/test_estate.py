"""The whole estate in one query: accounts from an Organization, roles, profiles, account
columns and pushdown, regions ["*"], SHOW ACCOUNTS, and config errors, through the sandbox."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import vpnsql
from vpnsql.config import ConfigError
from vpnsql.errors import ProviderError
from vpnsql.fetch import FetchFailed, NothingToAsk
from vpnsql.sandbox import aws_calls
from vpnsql.sandbox.demo import DEMO_ENDPOINTS, PROD_ACCOUNT_ID, RESEARCH_ACCOUNT_ID
from vpnsql.sandbox.estate import add_member, remove_member
from vpnsql.session import Session

CONNS = "aws.ec2_api.client_vpn_connections"
VIEW = "vpn.client_connections"
MANAGEMENT_ID = "123456789012"


@pytest.fixture
def estate(aws_env: Any) -> Session:
    """A session on the sandbox's own estate: its Organization and two Alibaba accounts."""
    return vpnsql.connect(config=aws_env.config_path)


def per_account(session: Session, sql: str) -> dict[str, int]:
    return dict(session.sql(sql).fetchall())


def demo_count(account_id: str) -> int:
    return sum(e.connections for e in DEMO_ENDPOINTS if e.account_id == account_id)


def test_every_account_of_the_organization_answers_with_its_name_and_id(estate: Session) -> None:
    """Each demo endpoint is asked in every account and region (other tests add endpoints of
    their own): it counts as no rows where it is not, and answers where it is."""
    demo = ", ".join(f"'{e.endpoint_id}'" for e in DEMO_ENDPOINTS)
    rows = estate.sql(
        f"SELECT account, accountId, count(*) FROM {CONNS} "
        f"WHERE ClientVpnEndpointId IN ({demo}) GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("management", MANAGEMENT_ID, demo_count(MANAGEMENT_ID)),
        ("prod", PROD_ACCOUNT_ID, demo_count(PROD_ACCOUNT_ID)),
        ("research", RESEARCH_ACCOUNT_ID, demo_count(RESEARCH_ACCOUNT_ID)),
    ]


def test_a_member_added_to_the_organization_is_asked_too(aws_env: Any) -> None:
    from vpnsql.sandbox import seed_connections

    add_member("newcomer", "456789012345")
    try:
        seed_connections(
            "eu-west-1", "cvpn-endpoint-0d4e5f6a7b8c90001", 3, account_id="456789012345"
        )
        session = vpnsql.connect(config=aws_env.config_path)
        counts = per_account(session, f"SELECT account, count(*) FROM {CONNS} GROUP BY 1")
        assert counts["newcomer"] == 3
    finally:
        remove_member("456789012345")


def test_account_pushdown_asks_no_other_account(estate: Session) -> None:
    """Other accounts get no call at all; the management account only lists the
    Organization and assumes prod's role (no EC2 call)."""
    ec2 = ("DescribeClientVpnEndpoints", "DescribeClientVpnConnections")
    before = {(a, x): aws_calls(x, a) for a in (MANAGEMENT_ID, RESEARCH_ACCOUNT_ID) for x in ec2}
    research = aws_calls(account_id=RESEARCH_ACCOUNT_ID)
    sql = f"SELECT account, count(*) FROM {CONNS} WHERE account = 'prod' GROUP BY 1"
    assert per_account(estate, sql) == {"prod": demo_count(PROD_ACCOUNT_ID)}
    assert {key: aws_calls(key[1], key[0]) for key in before} == before
    assert aws_calls(account_id=RESEARCH_ACCOUNT_ID) == research


def test_account_id_pushdown_narrows_the_accounts_before_any_call(estate: Session) -> None:
    before = aws_calls(account_id=PROD_ACCOUNT_ID)
    rows = estate.sql(
        f"SELECT DISTINCT account FROM {CONNS} WHERE accountId = '{RESEARCH_ACCOUNT_ID}'"
    ).fetchall()
    assert rows == [("research",)]
    assert aws_calls(account_id=PROD_ACCOUNT_ID) == before


def test_an_unknown_account_is_an_error_naming_the_known_ones(estate: Session) -> None:
    with pytest.raises(ProviderError, match=r"'prdo' is not an account of aws \(known: prod, "):
        estate.sql(f"SELECT * FROM {CONNS} WHERE account = 'prdo'")


def test_a_role_that_cannot_be_assumed_fails_naming_the_account(aws_env: Any) -> None:
    add_member("locked", "567890123456", role=False)
    try:
        with pytest.raises(FetchFailed) as caught:
            vpnsql.connect(config=aws_env.config_path).sql(f"SELECT count(*) FROM {CONNS}")
        assert "AccessDenied" in caught.value.message
        assert "account locked (567890123456)" in caught.value.message
        partial = vpnsql.connect(config=aws_env.config_path, allow_partial=True)
        counts = per_account(partial, f"SELECT account, count(*) FROM {CONNS} GROUP BY 1")
        assert "locked" not in counts and counts["prod"] == demo_count(PROD_ACCOUNT_ID)
        assert partial.last_stats.failures
        status = _statuses(partial)
        assert status["prod"] == "ok" and status["locked"].startswith("AccessDenied: ")
    finally:
        remove_member("567890123456")


def _statuses(session: Session) -> dict[str, str]:
    relation = session.sql("SHOW ACCOUNTS IN aws")
    return {row[1]: row[5] for row in relation.fetchall()}


def test_show_accounts_lists_the_estate_with_each_status(estate: Session) -> None:
    rows = estate.sql("SHOW ACCOUNTS").fetchall()
    found = {(row[0], row[1]): row for row in rows}
    assert set(found) == {
        ("aws", "management"), ("aws", "prod"), ("aws", "research"),
        ("alibaba", "cn-main"), ("alibaba", "partner"),
        ("azure", "contoso-prod"), ("azure", "contoso-dev"),
    }  # fmt: skip
    assert found[("azure", "contoso-dev")][2:] == (
        "3f2a8b1c-4d5e-4f60-8a7b-9c0d1e2f3a02", "config", None, "ok",
    )  # fmt: skip
    assert found[("aws", "prod")][2:] == (
        PROD_ACCOUNT_ID,
        "organization",
        "us-east-1, eu-west-1",
        "ok",
    )
    assert found[("alibaba", "cn-main")][2] == "1234567890123456"
    assert found[("alibaba", "partner")][2] is None  # no configured ID, no role ARN


def test_every_enabled_region_for_a_star(aws_env: Any, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[aws]\nregions = ["*"]\n[[aws.accounts]]\nname = "main"\n')
    session = vpnsql.connect(config=config)
    rows = session.sql(
        f"SELECT DISTINCT account, region FROM {CONNS} WHERE region IN ('us-east-1', 'eu-west-1')"
    ).fetchall()
    assert sorted(rows) == [("main", "eu-west-1"), ("main", "us-east-1")]
    before = aws_calls("DescribeRegions")
    session.sql(f"SELECT count(*) FROM {CONNS}").fetchall()
    assert aws_calls("DescribeRegions") == before + 1  # once, then every enabled region


def test_the_view_answers_for_every_account_of_both_clouds(estate: Session) -> None:
    rows = estate.sql(
        f"SELECT provider, account, count(*) FROM {VIEW} WHERE status = 'active' "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert [(p, a) for p, a, _ in rows] == [
        ("alibaba", "cn-main"), ("alibaba", "partner"),
        ("aws", "management"), ("aws", "prod"), ("aws", "research"),
        ("azure", "contoso-dev"), ("azure", "contoso-prod"),
    ]  # fmt: skip
    named = estate.sql(f"SELECT DISTINCT provider FROM {VIEW} WHERE account = 'partner'")
    assert named.fetchall() == [("alibaba",)]  # 'partner' is no AWS account: not an error


def test_a_view_that_could_ask_no_cloud_is_an_error(
    aws_env: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_DEFAULT_REGION", "ALIBABA_CLOUD_REGION_ID"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true")
    for name in ("AZURE_TOKEN_CREDENTIALS", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path))  # no az login either
    with pytest.raises(NothingToAsk, match="no cloud could be asked") as caught:
        vpnsql.connect().sql(f"SELECT * FROM {VIEW}")
    assert "aws skipped: no default region configured" in caught.value.message
    assert "alibaba skipped: no default region configured" in caught.value.message
    assert "azure skipped: no credentials configured" in caught.value.message


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            '[aws]\nregions = ["us-east-1"]\n\n[[aws.accounts]]\nname = "a"\nprofil = "x"\n',
            "line 6",
        ),
        ("[aws]\nregions = 'us-east-1'\n", "line 2"),
        ('[[aws.accounts]]\nname = "a"\n[[aws.accounts]]\nname = "a"\n', "line 4"),
        ("[gcp]\nregions = []\n", "line 1"),
        ("[aws\n", "line 1"),
    ],
    ids=["unknown key", "wrong type", "duplicate name", "unknown cloud", "not TOML"],
)
def test_a_bad_config_file_is_an_error_naming_file_and_line(
    aws_env: Any, tmp_path: Path, text: str, where: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=where):
        vpnsql.connect(config=config)
    result = subprocess.run(
        [sys.executable, "-m", "vpnsql.cli", "--config", str(config), "-e", "SELECT 1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(config) in result.stderr and where in result.stderr


def test_a_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        vpnsql.connect(config=tmp_path / "missing.toml")


def test_credentials_never_reach_the_output(aws_env: Any) -> None:
    """Assumed-role keys, the Alibaba profiles' secrets: not on stdout, not on stderr."""
    from vpnsql.sandbox.alibaba import PARTNER_KEY_SECRET

    temporary_key = re.compile(r"ASIA[A-Z0-9]{16}")  # what STS gives an assumed role
    for statement in (
        "SHOW ACCOUNTS",
        f"SELECT * FROM {VIEW} LIMIT 3",
        f"SELECT * FROM {CONNS} WHERE account = 'nobody'",
    ):
        result = subprocess.run(
            [sys.executable, "-m", "vpnsql.cli", "--sandbox", "--debug", "-e", statement],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        for text in (result.stdout, result.stderr):
            assert PARTNER_KEY_SECRET not in text and not temporary_key.search(text)


@pytest.fixture
def sandbox_cli() -> Iterator[list[str]]:
    yield [sys.executable, "-m", "vpnsql.cli", "--sandbox"]


def test_sandbox_show_accounts_shows_the_sandbox_estate(sandbox_cli: list[str]) -> None:
    result = subprocess.run(
        [*sandbox_cli, "-o", "csv", "-e", "SHOW ACCOUNTS"], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "provider,account,accountId,source,regions,status"
    assert sum(line.startswith("aws,") for line in lines) == 3
    assert sum(line.startswith("alibaba,") for line in lines) == 2
    assert all(line.endswith(",ok") for line in lines[1:])
