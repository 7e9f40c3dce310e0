"""A run's Settings: the config file (its estate and `[vpnsql]` section), under the flags.

The CLI, the shell and the Python API all build their Settings here, so a flag, a config key
and a keyword argument mean the same thing everywhere.
"""

from __future__ import annotations

from pathlib import Path

from vpnsql.config import Config, Key, error, load
from vpnsql.registry import Registry
from vpnsql.tables import Settings

_MINIMUM = {"max_concurrency": 1, "region_concurrency": 1, "max_calls": 1, "timeout": 0.001}


def make_settings(
    registry: Registry,
    *,
    config: str | Path | Config | None = None,
    profile: str | None = None,
    dry_run: bool = False,
    max_concurrency: int | None = None,
    region_concurrency: int | None = None,
    max_calls: int | None = None,
    timeout: float | None = None,
    pushdown: bool = True,
) -> Settings:
    """Settings from the config file (`config`: a path, a Config, or None to look for one) and
    the values given here, which win over the file's (`pushdown` is a flag only: it is for
    checking vpnsql, not a way to run it)."""
    loaded = config if isinstance(config, Config) else load(_path(config), schema(registry))
    for name, minimum in _MINIMUM.items():
        value = loaded.settings.get(name)
        if value is not None and value < minimum:
            raise error(loaded, ("vpnsql", name), f"vpnsql.{name} must be at least {minimum:g}")
    given = {
        "max_concurrency": max_concurrency,
        "region_concurrency": region_concurrency,
        "max_calls": max_calls,
        "timeout": timeout,
    }
    values = {**loaded.settings, **{k: v for k, v in given.items() if v is not None}}
    return Settings(profile=profile, dry_run=dry_run, config=loaded, pushdown=pushdown, **values)


def schema(registry: Registry) -> dict[str, tuple[Key, ...]]:
    """Each provider's config keys, by the name of its section."""
    return {name: p.config for name, p in registry.providers.items() if p.config}


def _path(config: str | Path | None) -> str | None:
    return str(config) if config is not None else None
