"""vpnsql: SQL over VPN client connections across clouds.

`vpnsql.connect().sql("SELECT ... FROM aws.ec2_api.client_vpn_connections WHERE ...")` returns a
DuckDB relation (`.to_arrow_table()`, `.fetchall()`, `.df()`); `vpnsql.connect(sandbox=True)`
runs against a local emulated cloud. The errors it raises are here too (`vpnsql.VpnsqlError`
and its kinds). Kept import-light: the engine loads on first use, so `vpnsql --help` stays
instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vpnsql.errors import (
    Cancelled,
    ConfirmationRequired,
    CredentialsError,
    ParamError,
    ProviderError,
    QueryError,
    SandboxError,
    SqlSyntaxError,
    UnknownTableError,
    UnsupportedStatementError,
    UsageError,
    VpnsqlError,
)

__version__ = "0.1.0"

if TYPE_CHECKING:
    from vpnsql.session import Session, connect

__all__ = [
    "Cancelled",
    "ConfirmationRequired",
    "CredentialsError",
    "ParamError",
    "ProviderError",
    "QueryError",
    "SandboxError",
    "Session",
    "SqlSyntaxError",
    "UnknownTableError",
    "UnsupportedStatementError",
    "UsageError",
    "VpnsqlError",
    "__version__",
    "connect",
]

_LAZY = ("Session", "connect")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from vpnsql import session

        return getattr(session, name)
    raise AttributeError(f"module 'vpnsql' has no attribute {name!r}")


def __dir__() -> list[str]:
    """What a notebook's completion and `dir(vpnsql)` offer: the API, not the submodules."""
    return sorted(__all__)
