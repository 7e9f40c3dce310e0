"""DELETE planning: a DELETE on a virtual table is a SELECT of the same rows plus a method."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from vpnsql.errors import UnsupportedStatementError
from vpnsql.planner.model import Delete, Resolved, Statement
from vpnsql.planner.references import virtual_name
from vpnsql.planner.syntax import DIALECT
from vpnsql.registry import Registry
from vpnsql.tables import Method, Settings, Table

PlanFunction = Callable[[str, Registry, Settings, Resolved], Statement]


def _delete_method(table: Table) -> Method | None:
    return next((m for m in table.methods if m.delete), None)


def plan_delete(
    text: str,
    expression: exp.Delete,
    registry: Registry,
    settings: Settings,
    resolved: Resolved,
    plan_statement: PlanFunction,
) -> Statement:
    """DELETE is a SELECT of the same rows (any predicate works) plus a method per row; on a
    cross-cloud view, the method of each row's own cloud."""
    target = expression.this
    table = registry.table(str(virtual_name(target, registry)))
    method = _delete_method(table)
    branches = tuple(
        (provider, branch, _delete_method(branch.table))
        for provider, branch in (registry.branches(table) if table.fetch is None else ())
    )
    if method is None and not any(m for _, _, m in branches):
        raise UnsupportedStatementError(
            f"{table.name} has no method that DELETE can run; it is read-only"
        )
    extra = [key for key in ("using", "returning", "limit", "order") if expression.args.get(key)]
    if extra:
        raise UnsupportedStatementError(f"DELETE on {table.name} takes no {extra[0].upper()}")
    alias = f" AS {target.alias}" if target.alias else ""
    where = expression.args.get("where")
    select_text = f"SELECT * FROM {table.name}{alias} {where.sql(DIALECT) if where else ''}"
    select = plan_statement(select_text.strip(), registry, settings, resolved)
    action = Delete(table, method, select, branches)
    return Statement(text, expression, select.calls, action, select.pending, select.tables)
