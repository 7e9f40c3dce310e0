"""View expansion: a cross-cloud view's reference becomes calls on each cloud's branch table,
a SqlView's calls on its source table."""

from __future__ import annotations

import itertools
from dataclasses import replace

from vpnsql.errors import ParamError
from vpnsql.planner.calls import calls_for, matches_nothing, merge
from vpnsql.planner.constraints import Reference, accepts
from vpnsql.planner.model import Call
from vpnsql.planner.ranges import default_notice
from vpnsql.registry import Registry
from vpnsql.tables import Table, ViewBranch


def view_calls(view: Table, references: list[Reference], registry: Registry) -> list[Call]:
    """A view's calls: for each provider branch its WHERE clause allows, calls on the branch's
    table with the view's values mapped onto the table's params (the rest filled in by the
    fetcher: configured, defaulted or discovered)."""
    branches = registry.branches(view)
    calls: list[Call] = []
    for reference in references:
        _check_view_values(view, branches, reference)
        if matches_nothing(reference):
            continue
        for provider, branch in branches:
            wanted = reference.values.get("provider")
            if wanted is None or provider in wanted:
                calls.extend(_branch_calls(branch, reference))
    return merge(calls)


def _check_view_values(
    view: Table, branches: list[tuple[str, ViewBranch]], reference: Reference
) -> None:
    """A value no cloud could have is a mistake, not an empty answer."""
    for view_param in {name for _, branch in branches for name in branch.params}:
        for value in reference.values.get(view_param, ()):
            params = [b.table.param(b.params[view_param]) for _, b in branches]
            if not any(p is not None and accepts(p, value) for p in params):
                raise ParamError(f"{view.name}: '{value}' is not a valid {view_param} on any cloud")


def _branch_calls(branch: ViewBranch, reference: Reference) -> list[Call]:
    """The branch table's calls: the view's values mapped onto its params (required ones fan
    out, optional ones filter), values another cloud's params would take left out."""
    table = branch.table
    values: dict[str, list[str]] = {}
    filters: dict[str, tuple[str, ...]] = {}
    for view_param, table_param in branch.params.items():
        param = table.param(table_param)
        if param is None:
            raise ValueError(f"{table.name} has no param {table_param} for {branch.view.name}")
        given = reference.values.get(view_param)
        if given is None:
            continue
        accepted = [v for v in sorted(given) if accepts(param, v)]
        if not accepted:
            return []  # the values name other clouds' regions, accounts or endpoints
        if param.required:
            values[param.name] = accepted
        else:
            filters[param.name] = tuple(accepted)
    discover = tuple(p for p in table.required_params if p.name not in values)
    unfilled = [p.name for p in discover if not p.open]
    if unfilled:
        raise ValueError(f"{table.name}: {branch.view.name} cannot fill in {unfilled}")
    order = [p.name for p in table.required_params if p.name in values]
    named = "provider" in reference.values  # `provider = '...'`: this cloud was asked for
    return [
        Call(
            table,
            tuple(zip(order, combination, strict=True)),
            tuple(sorted(filters.items())),
            reference.limit,
            discover,
            branch,
            skippable=not named,
        )
        for combination in itertools.product(*(values[name] for name in order))
    ]


def sql_view_calls(view: Table, references: list[Reference], *, pushdown: bool) -> list[Call]:
    """A SqlView's calls are its source's: each reference's values renamed onto the source's
    params, its time range kept (read through the view's columns already). A LIMIT never
    stops paging, since the view folds every source row."""
    assert view.view is not None
    source = view.view.source
    translated = [
        replace(
            reference,
            table=source,
            values={
                source_param.name: values
                for name, values in reference.values.items()
                if (source_param := source.param(view.view.params[name])) is not None
            },
            limit=None,
        )
        for reference in references
    ]
    calls = calls_for(source, translated, pushdown=pushdown)
    notice = default_notice(view)  # in the view's words: its columns, not the source's
    return [replace(call, notice=notice) if call.notice else call for call in calls]


def view_sources(table: Table) -> tuple[Table, ...]:
    """The tables a table's rows are computed from in DuckDB: a SqlView's source."""
    return (table.view.source,) if table.view is not None else ()
