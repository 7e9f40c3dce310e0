"""SHOW ACCOUNTS: the estate's doctor. Every account of every cloud, and whether its
credentials work, from one cheap identity call per account, made concurrently.

An account whose credentials fail is a row saying why (the cloud's error code and message),
never a missing row; a cloud whose account list cannot be had (an Organization's) says so
in a row of its own.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from vpnsql.accounts import Account
from vpnsql.commands import Show
from vpnsql.errors import ProviderError
from vpnsql.registry import Registry
from vpnsql.statements import like
from vpnsql.tables import Column, Provider, Row, Settings

COLUMNS = (
    Column("provider", "VARCHAR", "The cloud."),
    Column("account", "VARCHAR", "The account's name in SQL (WHERE account = ...)."),
    Column("accountId", "VARCHAR", "The cloud's ID of the account, where known."),
    Column("source", "VARCHAR", "Where its credentials come from: profile, role, organization."),
    Column("regions", "VARCHAR", "The regions a statement that names none asks it in."),
    Column("status", "VARCHAR", "ok, or the error code and message of its identity call."),
)


def show_accounts(
    command: Show, registry: Registry, settings: Settings
) -> tuple[tuple[Column, ...], list[Row]]:
    """One row per account of the providers in scope, each proven by its identity call."""
    wanted = command.scope[0].lower() if command.scope else None
    providers = [
        p for name, p in registry.providers.items() if p.accounts and wanted in (None, name)
    ]
    workers = max(1, settings.max_concurrency)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vpnsql-accounts") as pool:
        listed = list(pool.map(lambda p: _listed(p, settings), providers))
        jobs = [
            (p, a) for p, (accounts, _) in zip(providers, listed, strict=True) for a in accounts
        ]
        rows = list(pool.map(lambda job: _proven(*job, settings), jobs))
    rows += [_unlisted(p, err) for p, (_, err) in zip(providers, listed, strict=True) if err]
    if command.like is not None:
        pattern = like(command.like)
        rows = [row for row in rows if pattern.fullmatch(row["account"] or "")]
    return COLUMNS, rows


def _listed(provider: Provider, settings: Settings) -> tuple[list[Account], ProviderError | None]:
    """The provider's accounts, or why they cannot be listed (an Organization's)."""
    assert provider.accounts is not None
    try:
        return list(provider.accounts(settings)), None
    except ProviderError as err:
        return [], err


def _unlisted(provider: Provider, error: ProviderError) -> Row:
    return {
        "provider": provider.name,
        "account": None,
        "accountId": None,
        "source": "organization",
        "regions": None,
        "status": _status(error),
    }


def _proven(provider: Provider, account: Account, settings: Settings) -> Row:
    account_id, status = account.id, "ok"
    if provider.identity is not None:
        try:
            account_id = provider.identity(account, settings) or account.id
        except ProviderError as err:
            status = _status(err)
    regions = provider.regions(account, settings) if provider.regions else None
    return {
        "provider": provider.name,
        "account": account.name,
        "accountId": account_id,
        "source": account.source,
        "regions": regions,
        "status": status,
    }


def _status(error: ProviderError) -> str:
    return f"{error.code}: {error.message}" if error.code else error.message
