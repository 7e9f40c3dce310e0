"""From references with their constraints to calls: fan-out over required params, filters,
limits, and merging calls that share a table and params."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import replace

from vpnsql.errors import ParamError
from vpnsql.planner.constraints import Reference
from vpnsql.planner.model import Call
from vpnsql.planner.ranges import default_notice
from vpnsql.tables import Param, Table, ViewBranch, hull


def group_by_table(references: list[Reference]) -> dict[Table, list[Reference]]:
    grouped: dict[Table, list[Reference]] = {}
    for reference in references:
        grouped.setdefault(reference.table, []).append(reference)
    return grouped


def calls_for(table: Table, references: list[Reference], *, pushdown: bool = True) -> list[Call]:
    """One call per reference and combination of required-param values, merged; optional
    params as filters and the time range only with `pushdown` (without, an `accountId`
    asks every account too, and DuckDB keeps the rows of those it names)."""
    optional = [p.name for p in table.params if not p.required] if pushdown else []
    calls = []
    for reference in references:
        if matches_nothing(reference):
            continue
        filters = tuple(
            (name, tuple(sorted(reference.values[name])))
            for name in optional
            if name in reference.values
        )
        window = reference.window.range if pushdown else None
        notice = default_notice(table) if pushdown and reference.window.defaulted else None
        for params, discover in _fan_out(table, reference):
            call = Call(table, params, filters, reference.limit, discover)
            calls.append(replace(call, window=window, notice=notice))
    return merge(calls)


def matches_nothing(reference: Reference) -> bool:
    """A param no value satisfies (`= NULL`, or `= 'a' AND = 'b'`), or a time range no moment
    is in: no row, so no call."""
    window = reference.window.range
    return not all(reference.values.values()) or (window is not None and window.empty)


def merge(calls: Iterable[Call]) -> list[Call]:
    """One call per table and set of params, so the shared table has no duplicate rows.

    All references share one materialized table, so calls with the same params become one: a
    filter survives only if every such call has it (values united), a limit only if every one
    has one, and a time range as the smallest range holding all of theirs.
    """
    groups: dict[
        tuple[Table, tuple[tuple[str, str], ...], tuple[Param, ...], ViewBranch | None],
        list[Call],
    ] = {}
    for call in calls:
        groups.setdefault((call.table, call.params, call.discover, call.via), []).append(call)
    merged = []
    for (table, params, discover, via), group in groups.items():
        filters = [dict(call.filters) for call in group]
        common = [name for name in filters[0] if all(name in f for f in filters)]
        united = tuple((n, tuple(sorted(set().union(*(f[n] for f in filters))))) for n in common)
        limits = [call.limit for call in group]
        limit = None if None in limits else max(x for x in limits if x is not None)
        skippable = all(call.skippable for call in group)
        window = hull(call.window for call in group)
        # The default window's notice holds while a defaulted call's bound is the one read.
        notice = next(
            (
                c.notice
                for c in group
                if c.notice and c.window and window and c.window.lower == window.lower
            ),
            None,
        )
        merged.append(Call(table, params, united, limit, discover, via, skippable, window, notice))
    return merged


def _fan_out(
    table: Table, reference: Reference
) -> list[tuple[tuple[tuple[str, str], ...], tuple[Param, ...]]]:
    """Every combination of required-param values, and the params left to discover."""
    choices: list[list[tuple[str, str]]] = []
    discover: list[Param] = []
    for param in table.required_params:
        values = reference.values.get(param.name)
        if values is None and param.open:
            discover.append(param)
            continue
        if values is None:
            raise ParamError(
                f"{table.name} needs {param.name}: it is required",
                hint=f"add it to the WHERE clause, e.g. {_example_where(table)}",
            )
        choices.append([(param.name, v) for v in sorted(values)])
    return [(combination, tuple(discover)) for combination in itertools.product(*choices)]


def _example_where(table: Table) -> str:
    return " AND ".join(f"{p.name} = '{p.example}'" for p in table.required_params if not p.open)
