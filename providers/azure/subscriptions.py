"""Which subscriptions an Azure table asks: the one place that decides it.

A subscription is to Azure what an account is to AWS: a statement names it
(`subscriptionId = '...'`), or AZURE_SUBSCRIPTION_ID does, or vpnsql asks every subscription
the credential can see (SubscriptionClient). Keeping this here lets the subscription become
the estate's `account` without touching the tables.
"""

from __future__ import annotations

import os

from vpnsql.tables import FetchRequest, Param, Settings
from vpnsql_providers.azure.client import subscription_client, translated_errors

SUBSCRIPTION_VARIABLE = "AZURE_SUBSCRIPTION_ID"
READABLE_STATES = frozenset({"enabled", "warned", "pastdue"})
"""Subscription states whose resources can still be read (Disabled and Deleted cannot)."""


def default_subscription(settings: Settings) -> str | None:
    """AZURE_SUBSCRIPTION_ID, for EXEC (which names one subscription or uses this)."""
    return os.environ.get(SUBSCRIPTION_VARIABLE) or None


def discover_subscriptions(request: FetchRequest) -> list[str]:
    """AZURE_SUBSCRIPTION_ID, else every readable subscription the credential can see."""
    configured = default_subscription(request.settings)
    if configured:
        return [configured]
    client = subscription_client(request.settings)
    with translated_errors(None, "listing subscriptions"):
        found = [
            subscription.subscription_id
            for subscription in client.subscriptions.list()
            if str(subscription.get("state") or "").lower() in READABLE_STATES
        ]
    return sorted(found)


SUBSCRIPTION_ID = Param(
    "subscriptionId",
    f"The subscription; when the WHERE clause names none, {SUBSCRIPTION_VARIABLE}, else every "
    "subscription the credential can see.",
    required=True,
    pattern=r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}",
    example="3f2a8b1c-4d5e-4f60-8a7b-9c0d1e2f3a01",
    default=default_subscription,
    absent=frozenset({"SubscriptionNotFound"}),
    discover=discover_subscriptions,
)
