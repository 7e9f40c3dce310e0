"""Accounts: the unit of an estate's credentials, and one more steering param of every table.

A cloud table declares `account` (required: calls fan out per account; when the WHERE clause
names none, every account of the estate is asked) and `accountId` (narrows which accounts are
asked before any call). Each provider turns its config section into `Account`s and picks a
request's credentials by `request.params["account"]`; the planner and the fetcher know nothing
more about accounts than about any other param.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Self

from vpnsql.errors import NotConfigured, ProviderError
from vpnsql.tables import Column, FetchRequest, Param, Settings

DEFAULT = "default"
"""The one account of a cloud without a config file: its standard credential chain."""

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
"""What an account name may be: something a WHERE clause can write without surprise."""

UNKNOWN = "UnknownAccount"
"""The error code of a name no account of the estate has (`Param.absent` of `account`, so the
cross-cloud view asks each cloud only for its own accounts)."""


@dataclass(frozen=True)
class Account:
    """One account of the estate: its name in SQL, its ID where known, where its credentials
    come from (`source`: default, profile, role, organization, ...) and the provider's own
    settings for it (profile name, role ARN, ...; never a secret)."""

    provider: str
    name: str
    id: str | None
    source: str
    options: Mapping[str, str] = field(default_factory=dict)


def valid_name(name: str) -> bool:
    return re.fullmatch(NAME_PATTERN, name) is not None


def columns(id_description: str) -> tuple[Column, Column]:
    """The `account` and `accountId` columns, with the cloud's own words for the ID."""
    return (
        Column(
            "account",
            "VARCHAR",
            "The account's name in vpnsql's config (or its Organization); default without one.",
        ),
        Column("accountId", "VARCHAR", id_description),
    )


def params(
    resolve: Callable[[FetchRequest], Sequence[str] | None],
    discover: Callable[[FetchRequest], Iterable[str]] | None,
    id_pattern: str,
    id_example: str,
) -> tuple[Param, Param]:
    """The `account` param (declare it first: regions and endpoints are found per account)
    and the `accountId` filter, which account discovery honours."""
    account = Param(
        "account",
        "The accounts to ask; when the WHERE clause names none, every account of the estate.",
        required=True,
        pattern=NAME_PATTERN,
        example="prod",
        absent=frozenset({UNKNOWN}),
        discover=discover,
        resolve=resolve,
    )
    account_id = Param(
        "accountId",
        "Only the accounts with these IDs are asked.",
        pattern=id_pattern,
        example=id_example,
    )
    return account, account_id


def narrowed(accounts: Iterable[Account], request: FetchRequest) -> list[str]:
    """The names of the accounts an `accountId` filter of the request allows."""
    wanted = request.filters.get("accountId")
    return [a.name for a in accounts if wanted is None or a.id in wanted]


def find(accounts: Sequence[Account], name: str, provider: str) -> Account:
    """The account called `name`, or an error listing the known ones, nearest first."""
    for account in accounts:
        if account.name == name:
            return account
    names = [a.name for a in accounts]
    close = difflib.get_close_matches(name, names, n=len(names), cutoff=0.0)
    raise ProviderError(
        f"'{name}' is not an account of {provider} (known: {', '.join(close) or 'none'})",
        provider=provider,
        code=UNKNOWN,
        hint="accounts come from vpnsql's config file (see docs/estate.md); SHOW ACCOUNTS "
        "lists them",
    )


ALL_REGIONS = "*"
"""`regions = ["*"]`: every region each account can use (the cloud lists them)."""


class Estate:
    """One cloud's accounts and regions for a session (kept in `settings.state`), from its
    config section. A provider subclasses it with how it finds accounts, their default
    regions and every region an account can use; the rest (naming an account in an error,
    which regions a statement that names none asks, SHOW ACCOUNTS' words) is shared."""

    provider = ""
    every_region = "every region"
    """How SHOW ACCOUNTS says `regions = ["*"]`."""
    _lock = threading.Lock()

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.section = settings.section(self.provider)
        self.regions: list[str] | None = self.section.get("regions")

    @classmethod
    def of(cls, settings: Settings) -> Self:
        """The session's estate of this cloud, made on first use."""
        key = f"{cls.provider}.estate"
        with cls._lock:
            found = settings.state.get(key)
            if found is None:
                found = settings.state[key] = cls(settings)
        return found  # type: ignore[no-any-return]

    @property
    def only_default(self) -> bool:
        """No accounts configured: one default account, which errors need not name."""
        raise NotImplementedError

    def account(self, name: str) -> Account:
        raise NotImplementedError

    def default_region(self, name: str) -> str:
        """The account's default region, or NotConfigured."""
        raise NotImplementedError

    def where(self, name: str) -> str | None:
        """How errors name an account: not at all without a config, else `name (id)`."""
        if self.only_default:
            return None
        account = self.account(name)
        return f"account {name} ({account.id})" if account.id else f"account {name}"

    def default_region_or(self, name: str, fallback: str) -> str:
        try:
            return self.default_region(name)
        except NotConfigured:
            return fallback

    def configured_regions(self, name: str) -> list[str] | None:
        """The regions to ask the account in without an API call (None: every one it can use,
        which its cloud lists). An account that does not exist fails here, once, before any
        of its calls."""
        self.account(name)
        if self.regions is None:
            return [self.default_region(name)]
        if ALL_REGIONS in self.regions:
            return None
        return list(self.regions)

    def listed(self) -> tuple[int, bool]:
        """How many accounts the config names, and whether more come from a listing (an
        Organization), as far as can be told without a call."""
        raise NotImplementedError

    @classmethod
    def summary(cls, settings: Settings) -> str:
        """`Provider.summary`: the estate in a few words, without any call (the banner)."""
        found = cls.of(settings)
        if found.only_default:
            accounts_ = "the default account"
        else:
            count, more = found.listed()
            accounts_ = f"{count} account{'s' * (count != 1)}" if count else ""
            if more:
                accounts_ = f"{accounts_} and an Organization" if count else "an Organization"
        if found.regions is None:
            regions = "the default region"
        elif ALL_REGIONS in found.regions:
            regions = found.every_region
        else:
            regions = f"{len(found.regions)} region{'s' * (len(found.regions) != 1)}"
        return f"{cls.provider}: {accounts_}, {regions}"

    @classmethod
    def resolve_regions(cls, request: FetchRequest) -> Sequence[str] | None:
        """`Param.resolve` of a table's region."""
        return cls.of(request.settings).configured_regions(request.params["account"])

    @classmethod
    def regions_of(cls, account: Account, settings: Settings) -> str:
        """`Provider.regions`: the configured regions, every one, or the default region."""
        found = cls.of(settings)
        if found.regions is None:
            return found.default_region_or(account.name, "none configured")
        return found.every_region if ALL_REGIONS in found.regions else ", ".join(found.regions)
