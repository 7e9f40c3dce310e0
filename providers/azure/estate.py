"""The Azure estate: an Azure account is a subscription, and this is the one place that says
which subscriptions a statement asks.

- The config file's `[azure]` section: `subscriptions = ["<id>", ...]` (each an account named
  by its ID) and/or `[[azure.accounts]]` with `name` and `subscription_id`;
- else AZURE_SUBSCRIPTION_ID (one account, `default`);
- else every subscription the credential can see (SubscriptionClient, one call), named by its
  display name where that is a valid, unique account name, else by its ID.

`accountId` is the subscription ID (`subscriptionId` works too, the API's name). One
DefaultAzureCredential serves every subscription: a subscription is a scope of the same
identity, not other credentials.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from vpnsql import accounts
from vpnsql.accounts import Account
from vpnsql.answers import Answers
from vpnsql.config import Key
from vpnsql.tables import FetchRequest, Settings
from vpnsql_providers.azure.client import subscription_client, translated_errors

SUBSCRIPTION_VARIABLE = "AZURE_SUBSCRIPTION_ID"
SUBSCRIPTION_ID = r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
READABLE_STATES = frozenset({"enabled", "warned", "pastdue"})
"""Subscription states whose resources can still be read (Disabled and Deleted cannot)."""

CONFIG = (
    Key(
        "subscriptions",
        "strings",
        "Subscription IDs to ask, each an account named by its ID.",
        pattern=SUBSCRIPTION_ID,
    ),
    Key(
        "accounts",
        "tables",
        "Subscriptions by name.",
        unique="name",
        keys=(
            Key("name", "string", "the account's name in SQL", required=True,
                pattern=accounts.NAME_PATTERN),
            Key("subscription_id", "string", "the subscription", required=True,
                pattern=SUBSCRIPTION_ID),
        ),
    ),
    Key("poll_interval", "number", "Seconds between polls when Azure sends no Retry-After."),
    Key("operation_timeout", "number", "Seconds a long-running operation may take in all."),
)  # fmt: skip

_lock = threading.Lock()


class Estate:
    """A session's Azure accounts (kept in `settings.state`)."""

    def __init__(self, settings: Settings) -> None:
        section = settings.section("azure")
        self.settings = settings
        configured = [
            Account("azure", entry["name"], entry["subscription_id"], "config")
            for entry in section.get("accounts", [])
        ]
        configured += [
            Account("azure", sid, sid, "config")
            for sid in section.get("subscriptions", [])
            if sid not in {a.id for a in configured}
        ]
        variable = os.environ.get(SUBSCRIPTION_VARIABLE)
        if not configured and variable:
            configured = [Account("azure", accounts.DEFAULT, variable, SUBSCRIPTION_VARIABLE)]
        self.configured = configured
        self._seen: list[Account] | None = None
        self._seen_lock = threading.Lock()

    def known(self) -> list[Account] | None:
        """The accounts, when no API call is needed to know them."""
        return list(self.configured) if self.configured else None

    def all(self) -> list[Account]:
        """The configured accounts, else every subscription the credential sees (listed once)."""
        if self.configured:
            return list(self.configured)
        with self._seen_lock:
            if self._seen is None:
                self._seen = _visible(self.settings)
        return list(self._seen)

    def subscription(self, name: str) -> str:
        """The subscription ID of an account."""
        known = self.known()
        found = accounts.find(known if known is not None else self.all(), name, "azure")
        return str(found.id)


def _paged(pager: Any) -> Iterator[Any]:
    """The subscriptions list's items, guarded against paging without end."""
    return Answers(None, "subscriptions list", "", provider="azure").follow(pager)


def _visible(settings: Settings) -> list[Account]:
    client = subscription_client(settings)
    with translated_errors(None, "listing subscriptions"):
        listed = [
            (str(s.subscription_id), str(s.get("displayName") or ""))
            for s in _paged(client.subscriptions.list())
            if str(s.get("state") or "").lower() in READABLE_STATES
        ]
    names = [name for _, name in listed]
    return sorted(
        (
            Account(
                "azure",
                name if accounts.valid_name(name) and names.count(name) == 1 else sid,
                sid,
                "subscription list",
            )
            for sid, name in listed
        ),
        key=lambda account: account.name,
    )


def estate(settings: Settings) -> Estate:
    with _lock:
        found = settings.state.get("azure.estate")
        if found is None:
            found = settings.state["azure.estate"] = Estate(settings)
    return found


def subscription(request: FetchRequest) -> str:
    """The subscription ID a request's account stands for."""
    return estate(request.settings).subscription(request.params["account"])


def resolve_accounts(request: FetchRequest) -> Sequence[str] | None:
    """The configured subscriptions (no call), narrowed by accountId / subscriptionId."""
    known = estate(request.settings).known()
    return None if known is None else accounts.narrowed(known, request)


def discover_accounts(request: FetchRequest) -> list[str]:
    """Every subscription the credential can see, narrowed by accountId / subscriptionId."""
    return accounts.narrowed(estate(request.settings).all(), request)


def all_accounts(settings: Settings) -> list[Account]:
    return estate(settings).all()


def identity(account: Account, settings: Settings) -> str | None:
    """The subscription's own GET proves the credential may read it (SHOW ACCOUNTS)."""
    client = subscription_client(settings)
    with translated_errors(account.id, "reading the subscription"):
        client.subscriptions.get(str(account.id))
    return account.id


def setting(settings: Settings, key: str) -> Any:
    """A key of the config file's `[azure]` section, or None."""
    section: Mapping[str, Any] = settings.section("azure")
    return section.get(key)
