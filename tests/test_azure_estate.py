"""Azure subscriptions as the estate's accounts: the [azure] config section, accountId /
subscriptionId narrowing, and the section's own checks, over HTTPS to the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from vpnsql.config import ConfigError, parse
from vpnsql.errors import ProviderError
from vpnsql.registry import Registry
from vpnsql.sandbox.azure import Emulator
from vpnsql.session import Session
from vpnsql.tables import Settings

CONNECTIONS = "azure.network.vpn_client_connections"


def configured(text: str) -> Session:
    schema = {p.name: p.config for p in Registry.discover().providers.values()}
    return Session(settings=Settings(config=parse(text, schema)))


def test_configured_subscriptions_are_the_accounts_and_nothing_else_is_listed(
    azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    gateway(2)
    other = azure.create_subscription("0b5e1c2d-3e4f-4a5b-8c6d-00000000e570", "other")
    azure.create_gateway(other, "rg", "vgw-other", "westeurope")
    azure.seed_clients(other, "rg", "vgw-other", 3)
    session = configured(
        f'[azure]\nsubscriptions = ["{other}"]\n\n'
        f'[[azure.accounts]]\nname = "mine"\nsubscription_id = "{subscription}"\n'
    )
    before = azure.calls("ListSubscriptions")
    found = session.sql(
        f"SELECT account, accountId, subscriptionId, count(*) FROM {CONNECTIONS} "
        "GROUP BY ALL ORDER BY 1"
    ).fetchall()
    assert found == [(other, other, other, 3), ("mine", subscription, subscription, 2)]
    assert azure.calls("ListSubscriptions") == before  # configured: no call to know them
    narrowed = session.sql(
        f"SELECT DISTINCT account FROM {CONNECTIONS} WHERE subscriptionId = '{subscription}'"
    )
    assert narrowed.fetchall() == [("mine",)]


def test_an_account_name_no_subscription_has_is_an_error_listing_the_known(
    azure: Emulator, subscription: str
) -> None:
    session = configured(f'[[azure.accounts]]\nname = "mine"\nsubscription_id = "{subscription}"\n')
    with pytest.raises(ProviderError, match=r"'mien' is not an account of azure \(known: mine\)"):
        session.sql(f"SELECT * FROM {CONNECTIONS} WHERE account = 'mien'")


def test_without_a_config_every_visible_subscription_is_an_account(
    session: Session, azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    gateway(1)
    accounts = dict(
        session.sql(f"SELECT DISTINCT accountId, account FROM {CONNECTIONS}").fetchall()
    )
    assert accounts[subscription] == f"test-{subscription[:8]}"  # its display name
    # "Contoso Production" is no valid account name: the demo subscriptions go by their IDs
    assert (
        accounts["3f2a8b1c-4d5e-4f60-8a7b-9c0d1e2f3a01"] == "3f2a8b1c-4d5e-4f60-8a7b-9c0d1e2f3a01"
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[azure]\nsubscription = ["x"]\n', "subscription"),
        ('[azure]\nsubscriptions = ["not-a-guid"]\n', "subscriptions"),
        ('[[azure.accounts]]\nname = "a"\n', "subscription_id"),
        ('[azure]\npoll_interval = "fast"\n', "poll_interval"),
    ],
)
def test_the_azure_section_is_checked(text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        configured(text)


def test_poll_interval_from_the_config_file(
    aws_env: Any, azure: Emulator, subscription: str, gateway: Callable[..., str]
) -> None:
    name = gateway(1, polls=2, retry_after=0)  # no Retry-After: the interval counts
    session = configured(f'[azure]\npoll_interval = 0.05\nsubscriptions = ["{subscription}"]\n')
    assert session.sql(f"SELECT count(*) FROM {CONNECTIONS}").fetchall() == [(1,)]
    assert azure.calls("GetOperationStatus", name) == 2
    broken = configured(f'[azure]\npoll_interval = -1.0\nsubscriptions = ["{subscription}"]\n')
    with pytest.raises(ProviderError, match="poll_interval in the \\[azure\\] section"):
        broken.sql(f"SELECT count(*) FROM {CONNECTIONS}")
