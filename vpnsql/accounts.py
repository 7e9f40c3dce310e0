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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from vpnsql.errors import ProviderError
from vpnsql.tables import Column, FetchRequest, Param

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
