"""The Alibaba Cloud estate: accounts (profiles of the aliyun CLI's config.json, or the
default credential chain), and the regions each is asked in.

A profile account takes its credentials through the credentials SDK's own profile provider,
so every mode the aliyun CLI writes (AK, StsToken, RamRoleArn, EcsRamRole, ...) works as the
CLI does it. Without a config file the estate is one account, `default`, from the default
chain, asked in the default region: vpnsql as it was before estates.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vpnsql import accounts
from vpnsql.accounts import Account
from vpnsql.config import Key
from vpnsql.errors import NotConfigured, ProviderError
from vpnsql.tables import FetchRequest, Settings

REGION_VARIABLE = "ALIBABA_CLOUD_REGION_ID"
ACCOUNT_ID = r"\d{10,20}"
REGION_PATTERN = r"[a-z]+(-[a-z0-9]+)+"
UNKNOWN_REGION = "InvalidRegionId.NotFound"
"""vpnsql's code for a region the account's DescribeRegions does not list (the real API
has no answer for it at all: its endpoint does not resolve)."""
CLI_CONFIG = Path("~/.aliyun/config.json")

CONFIG = (
    Key(
        "regions",
        "strings",
        'Regions every account is asked in; ["*"] is every region DescribeRegions lists.',
        pattern=rf"\*|{REGION_PATTERN}",
    ),
    Key(
        "accounts",
        "tables",
        "Accounts by name, each a profile of the aliyun CLI's config.json.",
        unique="name",
        keys=(
            Key("name", "string", "the account's name in SQL", required=True,
                pattern=accounts.NAME_PATTERN),
            Key("profile", "string", "a profile of ~/.aliyun/config.json"),
            Key("profile_file", "string", "another file of aliyun CLI profiles"),
            Key("account_id", "string", "the account's ID (UID)", pattern=ACCOUNT_ID),
        ),
    ),
)  # fmt: skip

_lock = threading.Lock()


class Estate(accounts.Estate):
    """A session's Alibaba accounts."""

    provider = "alibaba"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.accounts = [_configured(entry) for entry in self.section.get("accounts", [])]
        self._default = not self.accounts
        if self._default:
            self.accounts = [Account("alibaba", accounts.DEFAULT, None, "default chain")]
        self._regions: dict[str, list[str]] = {}
        self._region_locks: dict[str, threading.Lock] = {}

    @property
    def only_default(self) -> bool:
        return self._default

    def account(self, name: str) -> Account:
        return accounts.find(self.accounts, name, "alibaba")

    def listed(self) -> tuple[int, bool]:
        return len(self.accounts), False

    def profile(self, name: str) -> Mapping[str, Any]:
        """The account's profile entry of the CLI config (empty for the default chain)."""
        account = self.account(name)
        if "profile" not in account.options:
            return {}
        return _cli_profile(account.options["profile_file"], account.options["profile"])

    def default_region(self, name: str) -> str:
        """ALIBABA_CLOUD_REGION_ID, else the region of the account's CLI profile (the current
        one for the default chain)."""
        region = os.environ.get(REGION_VARIABLE)
        if region:
            return region
        account = self.account(name)
        if "profile" in account.options:
            region = self.profile(name).get("region_id")
        elif os.environ.get("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "").lower() != "true":
            current = os.environ.get("ALIBABA_CLOUD_PROFILE")
            region = _cli_profile(str(CLI_CONFIG), current, missing_ok=True).get("region_id")
        if not region:
            raise NotConfigured(
                f"no region configured ({REGION_VARIABLE} or the aliyun CLI profile's)",
                reason="no default region configured",
                provider="alibaba",
                account=self.where(name),
                hint="name one in WHERE (region = 'cn-hangzhou'), or set regions in the config "
                "file (docs/estate.md)",
            )
        return str(region)

    def cloud_regions(self, name: str) -> list[str]:
        """vpc:DescribeRegions for the account, once per session: every region it can use."""
        with _lock:
            lock = self._region_locks.setdefault(name, threading.Lock())
        with lock:
            if name not in self._regions:
                self._regions[name] = _describe_regions(self, name)
        return self._regions[name]

    def check_region(self, name: str, region: str) -> None:
        """A region the account does not have is an error before any call there (the real
        API would fail to resolve its endpoint, after retries)."""
        known = self.cloud_regions(name)
        if region in known:
            return
        import difflib

        close = difflib.get_close_matches(region, known, n=3, cutoff=0.5)
        raise ProviderError(
            f"'{region}' is not a region of Alibaba Cloud",
            provider="alibaba",
            code=UNKNOWN_REGION,
            account=self.where(name),
            region=region,
            hint=f"nearest: {', '.join(close)}" if close else f"regions: {', '.join(known)}",
        )


def _describe_regions(found: Estate, name: str) -> list[str]:
    from alibabacloud_vpc20160428.models import DescribeRegionsRequest

    from vpnsql_providers.alibaba.client import translated_errors, vpc

    home = found.default_region_or(name, "cn-hangzhou")
    client = vpc(home, found.settings, name)
    with translated_errors(home, "vpc:DescribeRegions", found.where(name)):
        body = client.describe_regions(DescribeRegionsRequest()).body.to_map()
    regions = (body.get("Regions") or {}).get("Region")
    if not isinstance(regions, list) or not regions:
        raise ProviderError(
            "DescribeRegions answered without a region list",
            provider="alibaba",
            code="MalformedResponse",
            account=found.where(name),
            region=home,
        )
    return sorted(str(r.get("RegionId")) for r in regions if r.get("RegionId"))


def _configured(entry: Mapping[str, str]) -> Account:
    options = {}
    if "profile" in entry:
        options["profile"] = entry["profile"]
        options["profile_file"] = entry.get("profile_file") or str(CLI_CONFIG)
    account_id = entry.get("account_id")
    if account_id is None and options:
        arn = _cli_profile(options["profile_file"], entry["profile"], missing_ok=True).get(
            "ram_role_arn", ""
        )
        parts = str(arn).split(":")  # acs:ram::<uid>:role/<name>
        account_id = parts[3] if len(parts) > 4 and parts[3].isdigit() else None
    source = f"profile {entry['profile']}" if "profile" in entry else "default chain"
    return Account("alibaba", entry["name"], account_id, source, options)


def _cli_profile(path: str, name: str | None, *, missing_ok: bool = False) -> Mapping[str, Any]:
    """One profile of an aliyun CLI config file (`current` when no name is given)."""
    file = Path(path).expanduser()
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise NotConfigured(
            f"no aliyun CLI config at {file}",
            provider="alibaba",
            reason="no credentials configured",
        ) from None
    except (OSError, ValueError) as err:
        raise NotConfigured(
            f"cannot read {file}: {err}", provider="alibaba", reason="unreadable CLI config"
        ) from None
    wanted = name or config.get("current")
    for profile in config.get("profiles", []):
        if profile.get("name") == wanted:
            return profile
    if missing_ok:
        return {}
    raise NotConfigured(
        f"{file} has no profile {wanted!r}", provider="alibaba", reason="profile missing"
    )


estate = Estate.of
resolve_regions = Estate.resolve_regions
regions_of = Estate.regions_of
summary = Estate.summary


def resolve_accounts(request: FetchRequest) -> Sequence[str] | None:
    """The configured accounts, narrowed by accountId (where their IDs are known)."""
    return accounts.narrowed(estate(request.settings).accounts, request)


def discover_regions(request: FetchRequest) -> list[str]:
    return estate(request.settings).cloud_regions(request.params["account"])


def all_accounts(settings: Settings) -> list[Account]:
    return list(estate(settings).accounts)


def identity(account: Account, settings: Settings) -> str | None:
    """vpc:DescribeRegions proves the credentials (Alibaba's own identity API is another
    SDK); the ID is the configured or role-ARN one."""
    estate(settings).cloud_regions(account.name)
    return account.id
