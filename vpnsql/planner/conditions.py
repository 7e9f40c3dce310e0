"""The pieces of a WHERE clause the planner reads: top-level AND-ed conditions, literals, and
`col = literal` / `col IN (literals)` conditions on some column."""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

NOT_LITERAL = object()
"""What `literal` gives for anything that is not one."""


def conjuncts(scope: exp.Select) -> Iterator[exp.Expression]:
    """The conditions AND-ed at the top of a SELECT's WHERE and of its inner joins' ONs."""
    where = scope.args.get("where")
    if where is not None:
        yield from flatten_and(where.this)
    for join in scope.args.get("joins") or []:
        on = join.args.get("on")
        if on is not None and not join.side and join.kind in ("", "INNER"):
            yield from flatten_and(on)


def flatten_and(node: exp.Expression) -> Iterator[exp.Expression]:
    node = node.unnest()
    if isinstance(node, exp.And):
        for part in node.flatten():
            yield from flatten_and(part)
    else:
        yield node


def literal(node: exp.Expression) -> object:
    """A literal's Python value (NULL is None), or NOT_LITERAL."""
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        number = float(node.this)
        return int(number) if number.is_integer() and "." not in node.this else number
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        value = literal(node.this)
        return -value if isinstance(value, int | float) else NOT_LITERAL
    if isinstance(node, exp.Boolean):
        return node.this
    if isinstance(node, exp.Null):
        return None
    return NOT_LITERAL


def literal_values(node: exp.Expression) -> Iterator[tuple[exp.Expression, list[object]]]:
    """`col = lit`, `lit = col` or `col IN (lits)`: the column side and the values."""
    if isinstance(node, exp.EQ):
        for column, other in ((node.this, node.expression), (node.expression, node.this)):
            value = literal(other)
            if value is not NOT_LITERAL and literal(column) is NOT_LITERAL:
                yield column, [value]
                return
    if isinstance(node, exp.In) and node.args.get("query") is None and not node.args.get("unnest"):
        values = [literal(v) for v in node.expressions]
        if values and NOT_LITERAL not in values:
            yield node.this, values
