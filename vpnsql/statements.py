"""Run what is not plain SQL: SHOW and DESCRIBE (from the registry), EXEC and DELETE (methods).

Every result is a list of rows with declared columns, so it prints and exports like any query.
A DELETE never ends a session nobody confirmed: the session's `confirm` callback sees what
would be terminated first, and every target's outcome is a row, failures included.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass

from vpnsql.commands import Describe, Exec, Show
from vpnsql.errors import Cancelled, ConfirmationRequired, ProviderError
from vpnsql.registry import Registry
from vpnsql.tables import (
    ROLES,
    Column,
    Method,
    MethodCall,
    Row,
    Settings,
    Table,
    TimeWindow,
    ViewBranch,
)

PREVIEW_ROWS = 10


@dataclass(frozen=True)
class Preview:
    """What a DELETE would terminate, shown to whoever confirms it: how many, and for the
    first PREVIEW_ROWS the selected row's columns that say whose session ends (`rows`, see
    `Method.preview`) and the method arguments each would be called with (`targets`)."""

    table: str
    count: int
    rows: list[Row]
    targets: list[Row]


Confirm = Callable[[Preview], bool]


def refuse_many(preview: Preview) -> bool:
    """The non-interactive rule: one target runs as written, more need an explicit yes. The
    refusal lists whose sessions would have ended."""
    if preview.count <= 1:
        return True
    more = preview.count - len(preview.rows)
    raise ConfirmationRequired(
        f"this DELETE would terminate {preview.count} connections of {preview.table}; "
        "nothing was terminated:\n"
        + preview_text(preview.rows)
        + (f"\n  ... and {more} more" if more > 0 else ""),
        hint="check with the same WHERE in a SELECT, then re-run with --yes (or --dry-run)",
    )


def preview_text(rows: Sequence[Row]) -> str:
    """Rows as an indented plain-text table (the refusal is one message, not a result)."""
    if not rows:
        return ""
    names = list(rows[0])
    cells = [names, *([_plain(row.get(name)) for name in names] for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(names))]
    return "\n".join(
        "  " + "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def _plain(value: object) -> str:
    text = "NULL" if value is None else str(value)
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text


@dataclass(frozen=True)
class Outcome:
    """Result rows of method calls and how many of them failed."""

    columns: tuple[Column, ...]
    rows: list[Row]
    failed: int = 0


def _text(name: str, description: str) -> Column:
    return Column(name, "VARCHAR", description)


TABLES_COLUMNS = (
    Column("name", "VARCHAR", "Table name, as a statement writes it."),
    Column("type", "VARCHAR", "virtual table (fetched from a cloud API), table or view."),
    Column("description", "VARCHAR", "What a row is."),
)


def show(
    command: Show, registry: Registry, own_tables: Sequence[Row] = ()
) -> tuple[tuple[Column, ...], list[Row]]:
    """SHOW PROVIDERS / TABLES / SERVICES / RESOURCES / METHODS, filtered by LIKE
    (case-insensitive). TABLES lists the virtual tables and `own_tables`, DuckDB's own
    (rows of name and type) that SHOW TABLES would list."""
    if command.kind == "TABLES":
        columns = TABLES_COLUMNS
        virtual = [{"name": t.name, "type": "virtual table", "description": t.description}
                   for t in registry.tables]  # fmt: skip
        rows = virtual + [{**row, "description": None} for row in own_tables]
    elif command.kind == "PROVIDERS":
        columns = (_text("name", "Provider."), _text("description", "What it covers."))
        rows = [{"name": p.name, "description": p.description} for p in registry.providers.values()]
    elif command.kind == "SERVICES":
        columns = (_text("name", "Service."), _text("provider", "Provider."))
        services = {(t.service, t.provider) for t in _within(registry, command.scope)}
        rows = [{"name": s, "provider": p} for s, p in sorted(services)]
    elif command.kind == "RESOURCES":
        columns = (
            _text("name", "Resource."),
            _text("id", "Full table name."),
            _text("description", "What a row is."),
        )
        rows = [
            {"name": t.resource, "id": t.name, "description": t.description}
            for t in _within(registry, command.scope)
        ]
    else:
        columns = (
            _text("MethodName", "Method."),
            _text("RequiredParams", "Params it needs."),
            _text("SQLVerb", "The statement that runs it."),
            _text("description", "What it does."),
        )
        rows = [r for t in _within(registry, command.scope) for r in _methods(t)]
    if command.like is not None:
        pattern = like(command.like)
        key = columns[0].name
        rows = [row for row in rows if pattern.fullmatch(row[key])]
    return columns, rows


def _within(registry: Registry, scope: tuple[str, ...]) -> list[Table]:
    lowered = [part.lower() for part in scope]
    return [
        t
        for t in registry.tables
        if [t.provider.lower(), t.service.lower(), t.resource.lower()][: len(lowered)] == lowered
    ]


def _methods(table: Table) -> list[Row]:
    required = ", ".join(f"{p.name} ({p.role})" for p in table.required_params)
    rows = [
        {
            "MethodName": f"{table.resource}_Describe",
            "RequiredParams": required,
            "SQLVerb": "SELECT",
            "description": table.description,
        }
    ]
    for method in table.methods:
        for verb in method.verbs:
            rows.append(
                {
                    "MethodName": method.name,
                    "RequiredParams": _exec_needs(table, method) if verb == "EXEC" else required,
                    "SQLVerb": verb,
                    "description": method.description,
                }
            )
    return rows


def _exec_needs(table: Table, method: Method) -> str:
    """EXEC's arguments, a defaulted one (@region) marked so."""
    needs = [
        f"{name} (default)" if (p := table.param(name)) and p.resolve else name
        for name in method.required
    ]
    return ", ".join([*needs, *([" | ".join(method.one_of)] if method.one_of else [])])


def like(pattern: str) -> re.Pattern[str]:
    """SQL LIKE (% and _) as a case-insensitive regular expression."""
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def describe(command: Describe) -> tuple[tuple[Column, ...], list[Row]]:
    """DESCRIBE [EXTENDED]: the declared columns; EXTENDED adds the param flags."""
    table = command.table
    columns: tuple[Column, ...] = (
        _text("name", "Column."),
        _text("type", "DuckDB type."),
        _text("description", "What it holds."),
    )
    rows: list[Row] = [
        {"name": c.name, "type": c.type, "description": c.description} for c in table.columns
    ]
    if command.extended:
        columns += (
            _text(
                "param", "As a WHERE param: required, default, discovered, filter or time range."
            ),
            _text("if_absent", "What happens when the WHERE clause does not give it."),
        )
        window = table.time_window
        for row in rows:
            param = table.param(row["name"])
            # an alias (Alibaba's RegionId) is the same param: shown once, on its own name
            own = param is not None and param.name.lower() == row["name"].lower()
            row["param"] = param.role if param and own else None
            row["if_absent"] = ROLES[param.role] if param and own else None
            if param is None and window is not None and row["name"].lower() in window[1]:
                row["param"] = "time range"
                row["if_absent"] = _time_range(window[0], window[1][row["name"].lower()])
    return columns, rows


def _time_range(window: TimeWindow, both: bool) -> str:
    """What a time column's range does, and what the window is without a lower bound."""
    pushed = "narrows the API's time range" if both else "a lower bound narrows the time range"
    if window.default is None:
        return f"optional: {pushed}; without one, all of it is read"
    hours = window.default.total_seconds() / 3600
    return f"optional: {pushed}; without a lower bound, only the last {hours:g} hours are read"


def run_exec(command: Exec, settings: Settings) -> Outcome:
    """One EXEC as written: its errors are errors (with the cloud's code), not rows."""
    rows = command.method.function(MethodCall(command.args, settings))
    return Outcome(command.method.columns, rows)


Target = tuple[Mapping[str, object], Row]
"""A DELETE's method arguments for one selected row, and the row."""


def delete_targets(method: Method, rows: Sequence[Row]) -> list[Target]:
    """The method arguments for each selected row that is a target (e.g. still active)."""
    select = method.delete
    if select is None:
        raise ValueError(f"{method.name} does not run for DELETE")
    return [(args, row) for row in rows if (args := select(row)) is not None]


def run_delete(
    method: Method,
    table: Table,
    targets: list[Target],
    settings: Settings,
    confirm: Confirm,
) -> Outcome:
    """Confirm, then call the method for every target; each outcome, failed or not, is a row,
    completed from the selected row where the API leaves a column empty (who was connected)."""
    if not targets:
        return Outcome(method.columns, [])
    shown = targets[:PREVIEW_ROWS]
    preview = Preview(
        table.name,
        len(targets),
        [{name: selected.get(name) for name in method.preview} for _, selected in shown],
        [dict(args) for args, _ in shown],
    )
    if not confirm(preview):
        raise Cancelled("nothing was terminated")
    calls = [(method, args) for args, _ in targets]

    def outcome(results: Sequence[CallResult | None]) -> Outcome:
        rows = [
            _completed(method, row, selected)
            for result, (_, selected) in zip(results, targets, strict=True)
            if result is not None
            for row in result[0]
        ]
        return Outcome(method.columns, rows, sum(r[1] for r in results if r is not None))

    return _outcome_of(calls, settings, outcome)


ViewBranchMethod = tuple[str, ViewBranch, Method | None]
"""A cloud of a cross-cloud view: its name, its branch, and the method that ends one of its
sessions (None: the cloud has no such API)."""

VIEW_KEYS = ("provider", "account", "region", "endpointId", "connectionId", "identity")
VIEW_DELETE_COLUMNS = (
    _text("provider", "The cloud."),
    _text("account", "The account (Azure: subscription) of the endpoint or gateway."),
    _text("region", "The region of the endpoint or gateway."),
    _text("endpointId", "The endpoint or gateway."),
    _text("connectionId", "The connection."),
    _text("identity", "Whose session it was."),
    _text("currentStatus", "The connection's status after the call, as the cloud says it."),
    _text("message", "NULL when it worked; the error, or why the session cannot be ended."),
)


def run_view_delete(
    view: Table,
    branches: Sequence[ViewBranchMethod],
    selected: Sequence[Row],
    table_rows: Callable[[Table], list[Row]],
    settings: Settings,
    confirm: Confirm,
) -> Outcome:
    """A DELETE on a cross-cloud view: each selected row ends through its own cloud's method
    (one call per target), with the row of the cloud's table it came from (`table_rows`
    reads what the statement fetched) giving the method's arguments. A session on a cloud
    that cannot end one is a failed row saying so, never silently skipped."""
    clouds = {provider: (branch, method) for provider, branch, method in branches}
    sources: dict[str, dict[tuple[object, ...], Row]] = {}
    refused: list[Row] = []
    planned: list[tuple[Method, Mapping[str, object], Row]] = []
    for row in selected:
        provider = str(row["provider"])
        branch, method = clouds[provider]
        if method is None or row["connectionId"] is None:
            refused.append(_view_result(row, None, f"not terminable: {provider} has no API "
                                        "that ends one client's session"))  # fmt: skip
            continue
        if provider not in sources:
            sources[provider] = {
                _view_key(branch.row(source)): source for source in table_rows(branch.table)
            }
        source = sources[provider].get(_view_key(row))
        args = method.delete(source) if source is not None and method.delete else None
        if args is not None:
            planned.append((method, args, row))
    if planned:
        shown = planned[:PREVIEW_ROWS]
        who = [{key: row[key] for key in VIEW_KEYS} for _, _, row in shown]
        preview = Preview(view.name, len(planned), who, [dict(args) for _, args, _ in shown])
        if not confirm(preview):
            raise Cancelled("nothing was terminated")
    calls = [(method, args) for method, args, _ in planned]

    def outcome(results: Sequence[CallResult | None]) -> Outcome:
        rows = [
            _view_result(row, answer.get("currentStatus"), answer.get("message"))
            for result, (_, _, row) in zip(results, planned, strict=True)
            if result is not None
            for answer in result[0]
        ]
        failed = len(refused) + sum(r[1] for r in results if r is not None)
        return Outcome(VIEW_DELETE_COLUMNS, refused + rows, failed)

    return _outcome_of(calls, settings, outcome)


def _view_key(row: Row) -> tuple[object, ...]:
    return tuple(row.get(key) for key in ("account", "endpointId", "connectionId"))


def _view_result(row: Row, status: object, message: object) -> Row:
    return {**{k: row.get(k) for k in VIEW_KEYS}, "currentStatus": status, "message": message}


CallResult = tuple[list[Row], bool]
"""A method call's result rows, and whether it failed."""


class DeleteInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) stopped a DELETE part-way, so that the operator can still see whose
    sessions were ended: `outcome` holds a row for each call that completed (failures too),
    `not_attempted` counts the targets never called, `unknown` the calls still in flight when
    a second interrupt stopped the wait for them; `cause` is the interrupt itself."""

    def __init__(
        self, outcome: Outcome, targets: int, not_attempted: int, unknown: int, cause: BaseException
    ) -> None:
        super().__init__()
        self.outcome = outcome
        self.targets = targets
        self.not_attempted = not_attempted
        self.unknown = unknown
        self.cause = cause

    @property
    def summary(self) -> str:
        done = self.targets - self.not_attempted - self.unknown
        parts = [f"{done:,} of {self.targets:,} terminations completed"]
        parts.append(f"{self.not_attempted:,} not attempted")
        if self.unknown:
            parts.append(f"{self.unknown:,} in flight with an unknown outcome")
        return "DELETE interrupted: " + ", ".join(parts)


def _outcome_of(
    calls: Sequence[tuple[Method, Mapping[str, object]]],
    settings: Settings,
    outcome: Callable[[Sequence[CallResult | None]], Outcome],
) -> Outcome:
    """Every method call, concurrently, and `outcome` of their results (a failure is one row
    carrying the error, so one failed call hides no other).

    Interrupted, the calls not started are cancelled and those in flight waited for (a
    terminate that was sent may have ended a session, so its outcome matters) unless a second
    interrupt says not to; then DeleteInterrupted carries `outcome` of the calls that
    completed."""

    def one(call: tuple[Method, Mapping[str, object]]) -> CallResult:
        method, args = call
        try:
            return method.function(MethodCall(args, settings)), False
        except ProviderError as err:
            return [_failure_row(method, args, err)], True

    if not calls:
        return outcome([])
    pool = ThreadPoolExecutor(max_workers=max(1, min(settings.max_concurrency, len(calls))))
    futures = [pool.submit(one, call) for call in calls]
    try:
        return outcome([future.result() for future in futures])
    except KeyboardInterrupt as interrupt:
        not_attempted = sum(future.cancel() for future in futures)
        with suppress(KeyboardInterrupt):  # asked again: report what is known now
            wait([future for future in futures if not future.cancelled()])
        results = [
            future.result()
            if future.done() and not future.cancelled() and future.exception() is None
            else None
            for future in futures
        ]
        unknown = len(futures) - not_attempted - sum(r is not None for r in results)
        partial = outcome(results)
        raise DeleteInterrupted(partial, len(futures), not_attempted, unknown, interrupt) from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _completed(method: Method, row: Row, selected: Row) -> Row:
    """Every result column, where the API left it empty taken from the selected row: by
    name, and as `Method.from_row` says (a dry run's statuses). `message` stays the method's
    own: NULL means the call worked."""
    known = {**selected, **(method.from_row(selected) if method.from_row else {})}
    completed: Row = {}
    for column in method.columns:
        value = row.get(column.name)
        if value is None and column.name != "message":
            value = known.get(column.name)
        completed[column.name] = value
    return completed


def _failure_row(method: Method, args: Mapping[str, object], err: ProviderError) -> Row:
    by_name = {name.lower(): value for name, value in args.items()}
    row: Row = {c.name: by_name.get(c.name.lower()) for c in method.columns}
    row["message"] = err.message
    return row
