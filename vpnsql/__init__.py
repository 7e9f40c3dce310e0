"""vpnsql: SQL over VPN client connections across clouds.

`vpnsql.connect().sql("SELECT ... FROM aws.ec2_api.client_vpn_connections WHERE ...")` returns a
DuckDB relation (`.df()`, `.arrow()`, `.fetchall()`). Kept import-light: the engine loads on
first use, so `vpnsql --help` stays instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from vpnsql.session import Session, connect

__all__ = ["Session", "__version__", "connect"]


def __getattr__(name: str) -> Any:
    if name in ("Session", "connect"):
        from vpnsql import session

        return getattr(session, name)
    raise AttributeError(name)
