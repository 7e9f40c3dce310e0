"""The AWS estate: accounts (configured, or every member of an Organization), their
credentials, and the regions each is asked in.

Credentials are botocore's own: a profile is any `~/.aws/config` profile (keys, SSO,
role_arn + source_profile, credential_process), and a `role_arn` account gets botocore's
assume-role fetcher behind refreshable credentials, so a role is assumed once per account
and renewed before it expires, by botocore. Nothing here ever prints or keeps a secret.

Without a config file the estate is one account, `default`, from the standard chain (and
`--profile`), asked in the configured default region: vpnsql as it was before estates.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from vpnsql import accounts
from vpnsql.accounts import Account
from vpnsql.config import Key, error
from vpnsql.errors import NotConfigured
from vpnsql.tables import FetchRequest, Settings
from vpnsql_providers.aws.errors import CREDENTIALS_HINT, configuration_errors, translated_errors

ACCOUNT_ID = r"\d{12}"
ROLE_ARN = r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+"
ORG_ROLE = "OrganizationAccountAccessRole"

CONFIG = (
    Key(
        "regions",
        "strings",
        'Regions every account is asked in; ["*"] is every region each account has enabled.',
        pattern=r"\*|[a-z]{2}(-[a-z]+)+-\d+",
    ),
    Key(
        "accounts",
        "tables",
        "Accounts by name: a profile, or a role to assume.",
        unique="name",
        keys=(
            Key("name", "string", "the account's name in SQL", required=True,
                pattern=accounts.NAME_PATTERN),
            Key("profile", "string", "a profile of ~/.aws/config", excludes=("role_arn",)),
            Key("role_arn", "string", "a role to assume", pattern=ROLE_ARN),
            Key("external_id", "string", "the ExternalId the role's trust policy asks for"),
            Key("source_profile", "string", "the profile whose credentials assume the role"),
            Key("account_id", "string", "the 12-digit account ID", pattern=ACCOUNT_ID),
        ),
    ),
    Key(
        "organization",
        "table",
        "Every ACTIVE account of an AWS Organization (organizations:ListAccounts).",
        keys=(
            Key("profile", "string", "credentials that may list accounts and assume the role"),
            Key("role_name", "string", f"the role assumed in each member (default {ORG_ROLE})"),
            Key("external_id", "string", "the ExternalId the role's trust policy asks for"),
            Key("skip", "strings", "account IDs left out", pattern=ACCOUNT_ID),
        ),
    ),
)  # fmt: skip

_lock = threading.RLock()
"""Guards the estate's dicts; each account has a lock of its own (`Estate.lock`)."""


class Estate(accounts.Estate):
    """A session's AWS accounts and their botocore sessions."""

    provider = "aws"
    every_region = "every enabled region"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        section = self.section
        self.organization: Mapping[str, Any] | None = section.get("organization")
        self.configured = [_configured(entry, settings) for entry in section.get("accounts", [])]
        if not self.configured and self.organization is None:
            source = f"profile {settings.profile}" if settings.profile else "default chain"
            self.configured = [Account("aws", accounts.DEFAULT, None, source)]
        self._members: list[Account] | None = None
        self._members_lock = threading.Lock()
        self._sessions: dict[str, Any] = {}
        self._ids: dict[str, Future[str]] = {}
        self._locks: dict[str, threading.RLock] = {}

    def lock(self, name: str) -> threading.RLock:
        """The account's lock: botocore sessions are not thread-safe, so its session and its
        clients are made under it. One per account, because making a client may assume the
        account's role (a round trip), which must not hold up the other accounts."""
        with _lock:
            return self._locks.setdefault(name, threading.RLock())

    @property
    def only_default(self) -> bool:
        """No config: errors name no account, as before estates."""
        return self.organization is None and [a.name for a in self.configured] == ["default"]

    # -- accounts ------------------------------------------------------------------------

    def listed(self) -> tuple[int, bool]:
        return len(self.configured), self.organization is not None

    def known(self) -> list[Account] | None:
        """The accounts, when no API call is needed to know them."""
        return list(self.configured) if self.organization is None else None

    def all(self) -> list[Account]:
        """Every account: the configured ones, then the Organization's (listed once)."""
        if self.organization is None:
            return list(self.configured)
        with self._members_lock:  # not the session lock: this is an API call
            if self._members is None:
                self._members = self._list_members()
        return [*self.configured, *self._members]

    def account(self, name: str) -> Account:
        known = self.known()
        if known is not None or name in {a.name for a in self.configured}:
            return accounts.find(self.configured, name, "aws")
        return accounts.find(self.all(), name, "aws")

    def _list_members(self) -> list[Account]:
        """organizations:ListAccounts with the management credentials: every ACTIVE account,
        named by its Organizations name (its ID where that is not a usable name or is
        taken); the management account uses those credentials, members assume the role."""
        organization = self.organization or {}
        with translated_errors(None, "organizations:ListAccounts"):
            with self.lock(""):  # the Organization's own session
                session = self._source_session(organization.get("profile"))
                client = session.create_client("organizations", region_name=_home(session))
            pages = client.get_paginator("list_accounts").paginate()
            listed = [a for page in pages for a in page["Accounts"]]
        skip = set(organization.get("skip", []))
        taken = {a.name for a in self.configured} | {a.id for a in self.configured if a.id}
        names = [a["Name"] for a in listed]
        members = []
        for entry in listed:
            state = entry.get("State") or entry.get("Status")
            if entry["Id"] in skip or entry["Id"] in taken or state != "ACTIVE":
                continue
            # arn:aws:organizations::<management account>:account/<organization>/<account>
            management = entry["Arn"].split(":")[4]
            name = entry["Name"]
            if not accounts.valid_name(name) or name in taken or names.count(name) > 1:
                name = entry["Id"]
            options = {"profile": organization.get("profile") or ""}
            if entry["Id"] != management:
                partition = entry["Arn"].split(":")[1]
                role = organization.get("role_name") or ORG_ROLE
                options["role_arn"] = f"arn:{partition}:iam::{entry['Id']}:role/{role}"
                options["external_id"] = organization.get("external_id") or ""
            members.append(Account("aws", name, entry["Id"], "organization", options))
            taken.add(name)
        return members

    # -- credentials ---------------------------------------------------------------------

    def session(self, name: str) -> Any:
        """The account's botocore session (made once; use it under `lock(name)`)."""
        account = self.account(name)
        with self.lock(name):
            session = self._sessions.get(name)
            if session is None:
                role = account.options.get("role_arn")
                if role:
                    session = self._assuming(account, role)
                else:
                    session = self._source_session(account.options.get("profile") or None)
                self._sessions[name] = session
        return session

    def _source_session(self, profile: str | None) -> Any:
        import botocore.session

        from vpnsql_providers.aws.client import shared_loader

        session = botocore.session.Session(profile=profile or self.settings.profile)
        session.register_component("data_loader", shared_loader(session))
        return session

    def _assuming(self, account: Account, role: str) -> Any:
        """A session whose credentials are the role's, assumed through botocore's fetcher
        and refreshed by botocore before they expire."""
        from botocore.credentials import (
            AssumeRoleCredentialFetcher,
            CredentialProvider,
            CredentialResolver,
            DeferredRefreshableCredentials,
        )

        source = self._source_session(account.options.get("source_profile") or None)
        extra = {"RoleSessionName": "vpnsql"}
        if external := account.options.get("external_id"):
            extra["ExternalId"] = external
        home = _home(source)

        def sts_client(service: str, **kwargs: Any) -> Any:
            with self.lock(account.name):
                return source.create_client(service, region_name=home, **kwargs)

        with translated_errors(None, role, self.where(account.name)):
            fetcher = AssumeRoleCredentialFetcher(
                sts_client, source.get_credentials(), role, extra_args=extra
            )
        credentials = DeferredRefreshableCredentials(fetcher.fetch_credentials, "assume-role")

        class Assumed(CredentialProvider):  # type: ignore[misc]
            METHOD = "assume-role"

            def load(self) -> Any:
                return credentials

        session = self._source_session(account.options.get("source_profile") or None)
        session.register_component("credential_provider", CredentialResolver([Assumed()]))
        return session

    def account_id(self, name: str) -> str:
        """The account's 12-digit ID: configured, known from a role ARN or the Organization,
        else asked of STS once (in the background, so it overlaps the first call)."""
        return self.account_id_soon(name).result()

    def account_id_soon(self, name: str) -> Future[str]:
        with _lock:
            future = self._ids.get(name)
            asked = future is not None
            if not asked:
                future = self._ids[name] = Future()
        assert future is not None
        if not asked:
            account = self.account(name)
            if account.id:
                future.set_result(account.id)
            else:
                threading.Thread(target=self._ask_id, args=(name, future), daemon=True).start()
        return future

    def _ask_id(self, name: str, future: Future[str]) -> None:
        """The ID the credentials carry (AWS_ACCOUNT_ID, SSO, an assumed role's ARN), else
        sts:GetCallerIdentity."""
        try:
            session = self.session(name)
            with self.lock(name):
                credentials = session.get_credentials()
            frozen = credentials.get_frozen_credentials() if credentials is not None else None
            future.set_result(getattr(frozen, "account_id", None) or self.identity(name))
        except BaseException as err:
            future.set_exception(err)

    def identity(self, name: str) -> str:
        """sts:GetCallerIdentity, which any credentials may call: proves them, gives the ID."""
        session = self.session(name)
        with translated_errors(None, "sts:GetCallerIdentity", self.where(name)):
            with self.lock(name):
                client = session.create_client("sts", region_name=_home(session))
            return str(client.get_caller_identity()["Account"])

    # -- regions -------------------------------------------------------------------------

    def default_region(self, name: str) -> str:
        """AWS_REGION, which AWS's newer SDKs and CLI put first, else botocore's own for the
        account's profile (AWS_DEFAULT_REGION, the profile's region)."""
        if region := os.environ.get("AWS_REGION"):
            return region
        from botocore.exceptions import ProfileNotFound

        try:
            with configuration_errors():
                session = self.session(name)
                with self.lock(name):
                    region = session.get_config_variable("region")
        except ProfileNotFound as err:
            raise NotConfigured(
                str(err), reason="its profile is missing", provider="aws", hint=CREDENTIALS_HINT
            ) from None
        if not region:
            raise NotConfigured(
                "no region configured (AWS_REGION, AWS_DEFAULT_REGION or the profile's region)",
                reason="no default region configured",
                provider="aws",
                account=self.where(name),
                hint="name one in WHERE (region = 'us-east-1'), or set regions in the config "
                "file (docs/estate.md)",
            )
        return str(region)

    def enabled_regions(self, name: str) -> list[str]:
        """ec2:DescribeRegions: the regions the account has enabled (opt-in ones included
        only once opted in), so `regions = ["*"]` never asks a region that would refuse."""
        from vpnsql_providers.aws.client import ec2

        home = self.default_region_or(name, "us-east-1")
        client = ec2(home, self.settings, name)
        with translated_errors(home, "ec2:DescribeRegions", self.where(name)):
            answer = client.describe_regions(AllRegions=False)
        return sorted(r["RegionName"] for r in answer["Regions"])


@functools.cache
def regions() -> frozenset[str]:
    """Every region of every AWS partition, from botocore's own partition data (read as a
    file: a query that names an Alibaba region must not pay botocore's import)."""
    spec = importlib.util.find_spec("botocore")
    base = Path(next(iter(spec.submodule_search_locations or ()))) if spec else None
    if base is None:
        return frozenset()
    data = json.loads((base / "data" / "partitions.json").read_text(encoding="utf-8"))
    return frozenset(
        name
        for partition in data["partitions"]
        for name in partition["regions"]
        if not name.endswith("-global")
    )


estate = Estate.of
resolve_regions = Estate.resolve_regions
regions_of = Estate.regions_of
summary = Estate.summary


def _configured(entry: Mapping[str, str], settings: Settings) -> Account:
    role = entry.get("role_arn")
    account_id = entry.get("account_id")
    if role and account_id and account_id != role.split(":")[4]:
        index = settings.section("aws")["accounts"].index(entry)
        raise error(settings.config, ("aws", "accounts", index, "account_id"),
                    f"account_id {account_id} is not the account of role_arn {role}")  # fmt: skip
    source = (
        f"role {role}"
        if role
        else f"profile {entry['profile']}"
        if "profile" in entry
        else ("default chain")
    )
    options = {k: v for k, v in entry.items() if k in ("profile", "role_arn", "external_id",
                                                       "source_profile")}  # fmt: skip
    return Account("aws", entry["name"], account_id or (role.split(":")[4] if role else None),
                   source, options)  # fmt: skip


def _home(session: Any) -> str:
    """Where global services (STS, Organizations) are called: the session's region, else
    us-east-1."""
    return str(session.get_config_variable("region") or "us-east-1")


def _named(request: FetchRequest) -> str:
    return request.params["account"]


def resolve_accounts(request: FetchRequest) -> Sequence[str] | None:
    """The configured accounts (no call), narrowed by accountId where their IDs are known."""
    known = estate(request.settings).known()
    if known is None:
        return None
    if "accountId" in request.filters and any(a.id is None for a in known):
        return None  # the IDs are STS's to tell
    return accounts.narrowed(known, request)


def discover_accounts(request: FetchRequest) -> list[str]:
    """Every account, the Organization's listed (one call), narrowed by accountId."""
    found = estate(request.settings)
    everyone = found.all()
    if "accountId" in request.filters:
        everyone = [_with_id(a, found.account_id(a.name)) for a in everyone]
    return accounts.narrowed(everyone, request)


def _with_id(account: Account, account_id: str) -> Account:
    return Account(account.provider, account.name, account_id, account.source, account.options)


def discover_regions(request: FetchRequest) -> list[str]:
    return estate(request.settings).enabled_regions(_named(request))


def all_accounts(settings: Settings) -> list[Account]:
    """SHOW ACCOUNTS: every account, with its ID where it is known without a call."""
    return estate(settings).all()


def identity(account: Account, settings: Settings) -> str | None:
    return estate(settings).identity(account.name)
