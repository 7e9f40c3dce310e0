"""Find providers through the `vpnsql.providers` entry-point group and resolve table names.

Loading a provider imports only its declarations; SDKs are imported by fetch functions when a
table is actually queried, so listing tables stays cheap.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from importlib.metadata import entry_points

from vpnsql.errors import UnknownTableError
from vpnsql.tables import Provider, Table, ViewBranch

ENTRY_POINT_GROUP = "vpnsql.providers"


class Registry:
    """The providers and tables known to a session."""

    def __init__(self, providers: Iterable[Provider]) -> None:
        self.providers: dict[str, Provider] = {}
        self._tables: dict[str, Table] = {}
        for provider in providers:
            self.add(provider)

    @classmethod
    def discover(cls) -> Registry:
        """Load every provider installed under the entry-point group."""
        loaded = []
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            provider = ep.load()
            if not isinstance(provider, Provider):
                raise TypeError(f"entry point {ep.name} did not give a vpnsql Provider")
            loaded.append(provider)
        return cls(loaded)

    def add(self, provider: Provider) -> None:
        key = provider.name.lower()
        if key in self.providers:
            raise ValueError(f"provider {provider.name} registered twice")
        self.providers[key] = provider
        for table in provider.tables:
            self._tables[table.name.lower()] = table

    def branches(self, view: Table) -> list[tuple[str, ViewBranch]]:
        """Every provider's part of a cross-cloud view, with the provider's name."""
        return [
            (provider.name, branch)
            for provider in self.providers.values()
            for branch in provider.view_branches
            if branch.view == view
        ]

    @property
    def tables(self) -> list[Table]:
        return sorted(self._tables.values(), key=lambda t: t.name)

    def is_provider(self, name: str) -> bool:
        return name.lower() in self.providers

    def table(self, name: str) -> Table:
        """Resolve `provider.service.resource` (case-insensitive) or raise with suggestions."""
        found = self._tables.get(name.lower())
        if found is not None:
            return found
        names = [t.name for t in self.tables]
        close = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=3, cutoff=0.5)
        suggestions = [n for n in names if n.lower() in close]
        hint = (
            f"did you mean {', '.join(suggestions)}?"
            if suggestions
            else f"known tables: {', '.join(names) or 'none'}"
        )
        raise UnknownTableError(f"unknown table {name}", hint=hint)
