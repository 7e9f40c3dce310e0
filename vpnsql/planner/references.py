"""Finding the virtual tables a statement reads, and what each reference's scope says."""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from vpnsql.errors import UnsupportedStatementError
from vpnsql.planner.conditions import conjuncts
from vpnsql.planner.constraints import Reference, literals, read_scope
from vpnsql.planner.lineage import Lineage
from vpnsql.planner.model import Resolved
from vpnsql.registry import Registry
from vpnsql.tables import Param, Table


def is_virtual(node: exp.Expression | None, registry: Registry) -> bool:
    return isinstance(node, exp.Table) and virtual_name(node, registry) is not None


def virtual_name(node: exp.Table, registry: Registry) -> str | None:
    """The registry name a table reference means, or None for DuckDB's own tables.

    `provider.service.resource` as written; a table in service `main` also answers to
    `provider.resource`, as DuckDB resolves a catalog's default schema.
    """
    if node.catalog and node.db and registry.is_provider(node.catalog):
        if node.db.lower() == "main":
            return f"{node.catalog}.{node.name}"
        return f"{node.catalog}.{node.db}.{node.name}"
    if not node.catalog and node.db and registry.is_provider(node.db):
        return f"{node.db}.{node.name}"
    return None


def find_references(
    expression: exp.Expression, registry: Registry, resolved: Resolved
) -> Iterator[Reference]:
    def resolve(node: exp.Table) -> Table | None:
        name = virtual_name(node, registry)
        return registry.table(name) if name is not None else None

    def given(node: exp.Table, table: Table, param: Param) -> set[str] | None:
        scope = node.find_ancestor(exp.Select)
        if scope is None:
            return None
        known = _known_values(table, registry)
        found, _ = literals(table, node.alias_or_name, conjuncts(scope), resolved, known)
        return found.values.get(param.name)

    lineage = Lineage(resolve, given)
    for node in expression.find_all(exp.Table):
        table = resolve(node)
        if table is None:
            continue
        scope = node.find_ancestor(exp.Select)
        if scope is None or _is_write_target(node):
            raise UnsupportedStatementError(
                f"{table.name} can only be read (SELECT); "
                f"{expression.key.upper()} on a virtual table is not supported"
            )
        known = _known_values(table, registry)
        yield read_scope(node, table, scope, resolved, known, lineage)


def _known_values(table: Table, registry: Registry) -> dict[str, list[str]]:
    """Params whose every value the registry knows: a view's `provider` names one of its clouds
    (any other value, e.g. 'AWS' while the rows say 'aws', could only match no row)."""
    if not table.cross_cloud:
        return {}
    return {"provider": sorted(name for name, _ in registry.branches(table))}


def _is_write_target(node: exp.Table) -> bool:
    parent = node.parent
    while isinstance(parent, exp.Schema):
        parent = parent.parent
    return isinstance(parent, exp.Insert | exp.Update | exp.Delete | exp.Create | exp.Drop)
