"""EXPLAIN: the API calls a statement would make, in words, without making them.

Operators want to see what a DELETE or a fan-out over many regions will do before it does it:
which tables, how many calls with which params, what is pushed down to the API as a filter,
what is discovered first (every endpoint of a region), and what a DELETE then terminates.
Pure: a planned statement in, lines of text out.
"""

from __future__ import annotations

from collections.abc import Callable

from vpnsql.planner import Call, Delete, Statement

Plan = Callable[[str], Statement]
"""Plans a subquery's SQL (its values feed a param), for the calls it would make first."""


def api_calls(statement: Statement, plan: Plan) -> str:
    """The calls of `statement` (its subqueries' first), numbered, with a summary line."""
    lines: list[str] = []
    count = _describe(statement, plan, lines, 0)
    if not count and not statement.pending:
        lines.append("no API call: the statement reads no virtual table")
    return "\n".join(lines)


def _describe(statement: Statement, plan: Plan, lines: list[str], number: int) -> int:
    """Append the statement's calls, numbered from `number` + 1; the last number used."""
    for sql in statement.pending:
        lines.append(f"first, the subquery whose values a param takes: ({sql})")
        number = _describe(plan(sql), plan, lines, number)
        lines.append("then the statement's own calls, one per value it answers with")
    for call in statement.calls:
        number += 1
        lines.extend(_call(number, call))
    if statement.calls:
        lines.append(_summary(statement.calls))
    if isinstance(statement.action, Delete):
        method = statement.action.method
        lines.append(
            f"then {method.name} once per selected connection that is still active, after "
            "confirmation (--yes on the command line, y/N in the shell); --dry-run makes each "
            "the API's dry run"
        )
    return number


def _call(number: int, call: Call) -> list[str]:
    via = f" (for {call.via.view.name})" if call.via is not None else ""
    lines = [f"call {number}: {call.table.name}{via}"]
    if call.params:
        lines.append("  params:    " + ", ".join(f"{n} = '{v}'" for n, v in call.params))
    for param in call.discover:
        if param.role == "default":
            lines.append(f"  fills in:  {param.name} from the configuration, one call per value")
        else:
            lines.append(
                f"  discovers: {param.name}, listed first by an API call; then one call per "
                "value found"
            )
    for name, values in call.filters:
        quoted = ", ".join(f"'{v}'" for v in values)
        lines.append(f"  filter:    {name} IN ({quoted}), pushed down to the API")
    if call.limit is not None:
        lines.append(f"  limit:     stops paging after {call.limit} rows")
    if call.skippable:
        lines.append(f"  skipped with a notice if {call.table.provider} has no credentials")
    return lines


def _summary(calls: tuple[Call, ...]) -> str:
    """How many calls, and how many more discovery makes."""
    tables = sorted({call.table.name for call in calls})
    listed = [
        (param.name, call.params)
        for call in calls
        for param in call.discover
        if param.role == "discovered"
    ]
    listings = set(listed)
    discovered = sorted({name for name, _ in listed})
    text = f"{len(calls)} call(s) on {', '.join(tables)}"
    if listings:
        text += (
            f", after {len(listings)} listing call(s) that discover {', '.join(discovered)} "
            "(then one call per value found, each paged to the end)"
        )
    else:
        pages = "each paged to the end" if all(c.limit is None for c in calls) else "paged"
        text += f", {pages}"
    return text
