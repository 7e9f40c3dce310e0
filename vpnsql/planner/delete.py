"""DELETE planning: a DELETE on a virtual table is a SELECT of the same rows plus a method."""

from __future__ import annotations

from collections.abc import Callable

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

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
    cross-cloud view, the method of each row's own cloud.

    The SELECT is the user's own text with `DELETE` replaced by `SELECT *`: the WHERE clause
    (and a leading WITH) run exactly as written, so a DELETE selects exactly what the SELECT
    with the same text selects. A regenerated predicate could differ: sqlglot writes
    `x -> ...` as `LAMBDA x : ...`, which DuckDB accepts where it refuses the original.
    """
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
    select = plan_statement(as_select(text), registry, settings, resolved)
    action = Delete(table, method, select, branches)
    return Statement(text, expression, select.calls, action, select.pending, select.tables)


def as_select(text: str) -> str:
    """`[WITH ...] DELETE FROM t [AS a] [WHERE ...]` as `[WITH ...] SELECT * FROM t ...`,
    every other character as the user wrote it."""
    depth = 0
    tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    for index, token in enumerate(tokens):
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(token.token_type, 0)
        if depth == 0 and token.token_type == TokenType.DELETE:
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            has_from = following is not None and following.token_type == TokenType.FROM
            select = "SELECT *" if has_from else "SELECT * FROM"
            return f"{text[: token.start]}{select}{text[token.end + 1 :]}"
    raise ValueError(f"not a DELETE: {text}")
