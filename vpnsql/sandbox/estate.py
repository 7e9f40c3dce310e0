"""The sandbox as an estate: an AWS Organization (a management account and two members, each
with `OrganizationAccountAccessRole`), STS that checks who may assume a role, and the config
file that points vpnsql at all of it (plus two Alibaba accounts).

moto's STS assumes any role ARN, existing or not, so nothing could fail as an account whose
role is missing fails on AWS. Importing this module makes AssumeRole answer AccessDenied unless
the role exists in the target account and its trust policy names the caller's account (and,
where it asks for one, the ExternalId matches), as IAM does.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.iam.models import iam_backends
from moto.organizations import utils as organization_utils
from moto.organizations.models import organizations_backends
from moto.sts.exceptions import STSClientError
from moto.sts.responses import TokenResponse

from .alibaba import ACCOUNT_ID as ALIBABA_ACCOUNT_ID
from .aws import DEFAULT_ACCOUNT_ID
from .azure import DEMO_SUBSCRIPTIONS

AZURE_PRODUCTION, AZURE_DEVELOPMENT = DEMO_SUBSCRIPTIONS

MANAGEMENT_ACCOUNT_ID = DEFAULT_ACCOUNT_ID
MANAGEMENT_NAME = "management"
ROLE_NAME = "OrganizationAccountAccessRole"
AWS_REGIONS = ("us-east-1", "eu-west-1")
"""The regions the sandbox's config asks every account in."""


@dataclass(frozen=True)
class Member:
    """A member account of the sandbox's Organization."""

    name: str
    account_id: str
    email: str


MEMBERS = (
    Member("prod", "234567890123", "aws-prod@example.com"),
    Member("research", "345678901234", "aws-research@example.com"),
)


def load_organization() -> None:
    """Create the Organization (once per moto state) with fixed member IDs."""
    backend = organizations_backends[MANAGEMENT_ACCOUNT_ID]["aws"]
    if backend.org is None:
        backend.create_organization(region="us-east-1", FeatureSet="ALL")
        backend.accounts[0].name = MANAGEMENT_NAME
    existing = {account.id for account in backend.accounts}
    for member in MEMBERS:
        if member.account_id in existing:
            continue
        with _account_id(member.account_id):
            backend.create_account(AccountName=member.name, Email=member.email)


@contextmanager
def _account_id(account_id: str) -> Iterator[None]:
    """moto draws member IDs at random; the demo's are fixed so docs and tests can name them."""
    draw = organization_utils.make_random_account_id
    organization_utils.make_random_account_id = lambda: account_id
    try:
        yield
    finally:
        organization_utils.make_random_account_id = draw


def add_member(name: str, account_id: str, *, role: bool = True) -> None:
    """Another member account (tests: discovery of new members, a role that is missing)."""
    backend = organizations_backends[MANAGEMENT_ACCOUNT_ID]["aws"]
    with _account_id(account_id):
        backend.create_account(AccountName=name, Email=f"{name}@example.com")
    if not role:
        iam_backends[account_id]["global"].delete_role(ROLE_NAME)


def remove_member(account_id: str) -> None:
    backend = organizations_backends[MANAGEMENT_ACCOUNT_ID]["aws"]
    backend.accounts = [a for a in backend.accounts if a.id != account_id]


class AccessDenied(STSClientError):
    code = "AccessDenied"


# IAM's AccessDenied is not among STS's modelled errors, which moto warns about on each use.
warnings.filterwarnings("ignore", message=r"Exception\(AccessDenied\)", category=UserWarning)


def _checked_assume_role(original: Callable[[TokenResponse], Any]) -> Callable[..., Any]:
    def assume_role(self: TokenResponse) -> Any:
        role_arn = self._get_param("RoleArn") or ""
        external_id = self._get_param("ExternalId")
        caller = self.current_account
        if not _may_assume(role_arn, caller, external_id):
            raise AccessDenied(
                f"User: arn:aws:iam::{caller}:user/sandbox is not authorized to perform: "
                f"sts:AssumeRole on resource: {role_arn}"
            )
        return original(self)

    return assume_role


def _may_assume(role_arn: str, caller: str, external_id: str | None) -> bool:
    """Whether the role exists and its trust policy lets the caller's account assume it."""
    parts = role_arn.split(":")
    if len(parts) < 6 or not parts[5].startswith("role/"):
        return False
    account_id, role_name = parts[4], parts[5].rsplit("/", 1)[-1]
    role = next(
        (r for r in iam_backends[account_id]["global"].roles.values() if r.name == role_name),
        None,
    )
    if role is None:
        return False
    for statement in json.loads(role.assume_role_policy_document).get("Statement", []):
        principals = (statement.get("Principal") or {}).get("AWS", [])
        principals = [principals] if isinstance(principals, str) else principals
        trusted = any(p in ("*", caller, f"arn:aws:iam::{caller}:root") for p in principals)
        wanted = (statement.get("Condition") or {}).get("StringEquals", {}).get("sts:ExternalId")
        if trusted and statement.get("Effect") == "Allow" and wanted in (None, external_id):
            return True
    return False


def _install() -> None:
    if not getattr(TokenResponse.assume_role, "_vpnsql", False):
        checked = _checked_assume_role(TokenResponse.assume_role)
        checked._vpnsql = True  # type: ignore[attr-defined]
        TokenResponse.assume_role = checked  # type: ignore[method-assign]


_install()


def config_text(alibaba_profiles: Path) -> str:
    """The sandbox's config file: the Organization in two regions, two Alibaba accounts, the
    two Azure demo subscriptions."""
    regions = ", ".join(f'"{region}"' for region in AWS_REGIONS)
    return f"""# vpnsql's sandbox estate: see docs/estate.md for what each key means.
[aws]
regions = [{regions}]

[aws.organization]
role_name = "{ROLE_NAME}"

[alibaba]
regions = ["cn-hangzhou", "eu-central-1", "ap-southeast-1"]

[[alibaba.accounts]]
name = "cn-main"
profile = "sandbox-main"
profile_file = "{alibaba_profiles}"
account_id = "{ALIBABA_ACCOUNT_ID}"

[[alibaba.accounts]]
name = "partner"
profile = "sandbox-partner"
profile_file = "{alibaba_profiles}"

[[azure.accounts]]
name = "contoso-prod"
subscription_id = "{AZURE_PRODUCTION}"

[[azure.accounts]]
name = "contoso-dev"
subscription_id = "{AZURE_DEVELOPMENT}"
"""
