"""The shell's greeting: version, where each provider's credentials would come from, where
its calls go, sandbox.

Each provider answers for its own credentials (`Provider.credentials`) and endpoint override
(`Provider.endpoint`), cheaply and without printing any secret: a local fake must never pass
for production, nor production for a fake.
"""

from __future__ import annotations

from collections.abc import Mapping

from vpnsql import __version__
from vpnsql.registry import Registry
from vpnsql.tables import Settings


def banner(
    registry: Registry, settings: Settings, environ: Mapping[str, str], sandbox: bool
) -> str:
    lines = [f"vpnsql {__version__}: SQL over VPN client connections"]
    found = []
    for name, provider in registry.providers.items():
        if provider.credentials is not None:  # views over other providers have none of their own
            found.append(f"{name} ({provider.credentials(environ, settings) or 'none found'})")
    lines.append("credentials: " + ", ".join(found))
    endpoints = []
    for name, provider in registry.providers.items():
        if provider.endpoint is not None:
            override = provider.endpoint(environ)
            endpoints.append(f"{name} → {override}" if override else f"{name} (the cloud's own)")
    if endpoints:
        lines.append("endpoints: " + ", ".join(endpoints))
    estate = [p.summary(settings) for p in registry.providers.values() if p.summary is not None]
    path = settings.config.path
    where = f"config {path}" if path is not None else "no config file"
    lines.append(f"estate ({where}): " + "; ".join(estate))
    if sandbox:
        where = environ.get("AWS_ENDPOINT_URL", "local")
        lines.append(
            f"sandbox: on ({where}), an emulated cloud with demo data; "
            "nothing reaches a real account"
        )
    lines.append("type .help for commands; end statements with ';'; Ctrl-D exits")
    return "\n".join(lines) + "\n"
