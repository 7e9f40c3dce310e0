"""SQL text -> what to fetch. Pure: no I/O, no DuckDB, no cloud.

The planner finds every virtual table a statement reads (in joins, CTEs, subqueries, unions),
reads the AND-ed `col = literal` / `col IN (literals)` constraints that apply to each reference,
and turns them into API calls: required params fan out (one call per combination of values),
optional params become API filters, and a LIMIT that nothing else could shrink stops paging
early. DuckDB later re-applies the whole statement, so a plan may fetch more rows than needed
but never fewer: a param that decides which calls are made (a required param, a view's region
or endpoint) and that the WHERE clause constrains in any other way is refused, not guessed.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokens import TokenType

from vpnsql.commands import Command, parse_command
from vpnsql.errors import ParamError, SqlSyntaxError, UnsupportedStatementError
from vpnsql.registry import Registry
from vpnsql.tables import Method, Param, Settings, Table, ViewBranch

DIALECT = "duckdb"
QUIET = (exp.Create, exp.Insert, exp.Update, exp.Delete, exp.Drop, exp.Alter, exp.Set, exp.Use)
_NOT_LITERAL = object()
_TOKEN_REPR = re.compile(r"<Token token_type: [\w.]+, text: (.*?), line: \d+.*?>")
_MISSING = re.compile(r"Required keyword: '\w+' missing for <class '[\w.]*?(\w+)'>")
_OPERATORS = {"And": "AND", "Or": "OR", "Not": "NOT", "EQ": "=", "NEQ": "<>", "GT": ">",
              "GTE": ">=", "LT": "<", "LTE": "<=", "Add": "+", "Sub": "-", "Mul": "*",
              "Div": "/", "Like": "LIKE", "In": "IN", "Is": "IS", "Between": "BETWEEN"}  # fmt: skip


def _missing(match: re.Match[str]) -> str:
    """sqlglot's "Required keyword: 'expression' missing for <class '...And'>", said plainly."""
    name = match.group(1)
    return f"{_OPERATORS.get(name, name)} needs something after it (or a word is misspelled)"


@dataclass(frozen=True)
class Call:
    """One fetch: single values of the required params, filter values, and a row limit."""

    table: Table
    params: tuple[tuple[str, str], ...]
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    limit: int | None = None
    discover: tuple[Param, ...] = ()
    """Required params the WHERE clause left open, whose values the fetcher discovers first
    (e.g. every Client VPN endpoint of the region); such a call stands for one call each."""
    via: ViewBranch | None = None
    """For a cross-cloud view: the branch whose rows, mapped, also fill the view."""
    skippable: bool = False
    """A view's call on a cloud the statement did not name (`provider = ...`): a cloud with no
    credentials is then skipped with a notice; a cloud asked for by name is an error."""


@dataclass(frozen=True)
class Delete:
    """`DELETE FROM table WHERE ...`: run `method` for each active row `select` returns."""

    table: Table
    method: Method
    select: Statement


@dataclass(frozen=True)
class Statement:
    """One statement of the user's input: its exact text, the calls that feed it, and for
    statements that are not plain SQL (EXEC, DELETE, SHOW, DESCRIBE) what to do instead."""

    text: str
    expression: exp.Expression | None
    calls: tuple[Call, ...] = ()
    action: Command | Delete | None = None
    pending: tuple[str, ...] = ()
    """Subqueries (`param IN (SELECT ...)`) whose values are needed before any call can be
    planned: run them and plan again with their values as `resolved`."""
    tables: tuple[Table, ...] = ()
    """Every virtual table the statement reads, to be loaded even when no call feeds it."""
    notices: tuple[str, ...] = ()
    """What the plan left out and why (a cloud with no default region in a view)."""

    @property
    def shows_result(self) -> bool:
        """Whether the result is worth showing: DDL and DML answer only a count."""
        quiet = isinstance(self.expression, QUIET) and self.action is None
        return not quiet


@dataclass
class _Reference:
    """A virtual table as it appears once in a statement, with what its scope says about it."""

    table: Table
    values: dict[str, set[str]] = field(default_factory=dict)
    limit: int | None = None
    pending: list[str] = field(default_factory=list)


Resolved = Mapping[str, Sequence[object]]
"""Values of subqueries already run, by their SQL text (see Statement.pending)."""


def split_statements(text: str) -> list[str]:
    """Split on top-level `;`, keeping each statement's text exactly as the user wrote it."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except sqlglot.errors.TokenError as err:
        unclosed = _unclosed(text)
        if unclosed is None:
            raise SqlSyntaxError(f"cannot read the SQL: {err}") from None
        start, opener = unclosed
        line = text.count("\n", 0, start) + 1
        column = start - text.rfind("\n", 0, start)
        if opener == "/*":
            hint = "close it with */"
        else:
            hint = f"close it with {opener} (write {opener}{opener} for a {opener} inside it)"
        kind = {"'": "string", '"': "quoted name", "/*": "/* comment"}[opener]
        raise SqlSyntaxError(
            f"the {kind} that starts at line {line}, column {column} never ends", hint=hint
        ) from None
    pieces: list[str] = []
    start = 0
    for token in [*tokens, None]:
        if token is None or token.token_type == TokenType.SEMICOLON:
            end = len(text) if token is None else token.start
            chunk = text[start:end]
            if any(start <= t.start < end for t in tokens):
                pieces.append(chunk.strip())
            start = end + 1
    return pieces


def plan(text: str, registry: Registry, settings: Settings | None = None) -> list[Statement]:
    """Plan every statement of `text`."""
    settings = settings or Settings()
    return [plan_statement(piece, registry, settings) for piece in split_statements(text)]


def plan_statement(
    text: str, registry: Registry, settings: Settings, resolved: Resolved | None = None
) -> Statement:
    """Plan one statement: which calls to make before DuckDB runs `text` unchanged."""
    resolved = resolved or {}
    command = parse_command(text, registry, settings)
    if command is not None:
        return Statement(text, None, action=command)
    try:
        expression = sqlglot.parse_one(text, read=DIALECT)
    except ParseError as err:
        if _mentions_provider(text, registry):
            raise _syntax_error(err) from None
        # Not ours to judge: DuckDB's grammar is wider than sqlglot's, let DuckDB answer.
        return Statement(text, None)
    if isinstance(expression, exp.Delete) and _virtual(expression.this, registry):
        return _plan_delete(text, expression, registry, settings, resolved)
    references = list(_references(expression, registry, resolved))
    if references and isinstance(expression, exp.Create) and expression.kind == "VIEW":
        raise UnsupportedStatementError(
            f"a view over {references[0].table.name} would read whatever a later statement "
            "fetched into it, not what this one asks for",
            hint="keep the rows with CREATE TABLE ... AS SELECT, or use a CTE (WITH ...)",
        )
    pending = tuple(dict.fromkeys(sql for r in references for sql in r.pending))
    if pending:
        return Statement(text, expression, pending=pending)
    calls: list[Call] = []
    notices: list[str] = []
    grouped = _group_by_table(references)
    for table, refs in grouped.items():
        if table.fetch is None:
            calls.extend(_view_calls(table, refs, registry, settings, notices))
        else:
            calls.extend(_calls_for(table, refs, settings))
    return Statement(text, expression, tuple(calls), tables=tuple(grouped), notices=tuple(notices))


def _virtual(node: exp.Expression | None, registry: Registry) -> bool:
    return isinstance(node, exp.Table) and _virtual_name(node, registry) is not None


def _virtual_name(node: exp.Table, registry: Registry) -> str | None:
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


def _plan_delete(
    text: str, expression: exp.Delete, registry: Registry, settings: Settings, resolved: Resolved
) -> Statement:
    """DELETE is a SELECT of the same rows (any predicate works) plus a method per row."""
    target = expression.this
    table = registry.table(str(_virtual_name(target, registry)))
    method = next((m for m in table.methods if m.delete), None)
    if method is None:
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
    action = Delete(table, method, select)
    return Statement(
        text, expression, select.calls, action, select.pending, select.tables, select.notices
    )


def _mentions_provider(text: str, registry: Registry) -> bool:
    tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    return any(
        registry.is_provider(a.text) and b.token_type == TokenType.DOT
        for a, b in itertools.pairwise(tokens)
    )


def _unclosed(text: str) -> tuple[int, str] | None:
    """Where a string, quoted name or /* comment that is never closed starts, and its opener."""
    index, start, quote = 0, 0, ""
    while index < len(text):
        char = text[index]
        if quote:
            if text.startswith(quote * 2, index):
                index += 1  # a doubled quote is the quote itself
            elif char == quote:
                quote = ""
        elif char in "'\"":
            start, quote = index, char
        elif text.startswith(("--", "/*"), index):
            end = text.find("\n" if char == "-" else "*/", index + 2)
            if end < 0:
                return (index, "/*") if char == "/" else None
            index = end
        index += 1
    return (start, quote) if quote else None


def _syntax_error(err: ParseError) -> SqlSyntaxError:
    first = err.errors[0] if err.errors else {}
    description = _MISSING.sub(_missing, str(first.get("description", err)))
    description = _TOKEN_REPR.sub(r"'\1'", description)
    where = f"line {first['line']}, column {first['col']}: " if "line" in first else ""
    context = f"{first.get('start_context', '')}>>>{first.get('highlight', '')}<<<"
    return SqlSyntaxError(f"syntax error at {where}{description}", hint=f"near: {context}")


def _references(
    expression: exp.Expression, registry: Registry, resolved: Resolved
) -> Iterator[_Reference]:
    for node in expression.find_all(exp.Table):
        name = _virtual_name(node, registry)
        if name is None:
            continue
        table = registry.table(name)
        scope = node.find_ancestor(exp.Select)
        if scope is None or _is_write_target(node):
            raise UnsupportedStatementError(
                f"{table.name} can only be read (SELECT); "
                f"{expression.key.upper()} on a virtual table is not supported"
            )
        yield _read_scope(
            table, node.alias_or_name, scope, resolved, _known_values(table, registry)
        )


def _known_values(table: Table, registry: Registry) -> dict[str, list[str]]:
    """Params whose every value the registry knows: a view's `provider` names one of its clouds
    (any other value, e.g. 'AWS' while the rows say 'aws', could only match no row)."""
    if table.fetch is not None:
        return {}
    return {"provider": sorted(name for name, _ in registry.branches(table))}


def _is_write_target(node: exp.Table) -> bool:
    parent = node.parent
    while isinstance(parent, exp.Schema):
        parent = parent.parent
    return isinstance(parent, exp.Insert | exp.Update | exp.Delete | exp.Create | exp.Drop)


def _read_scope(
    table: Table,
    alias: str,
    scope: exp.Select,
    resolved: Resolved,
    known: Mapping[str, Sequence[str]],
) -> _Reference:
    """Collect constraints on this reference from its SELECT's WHERE and inner-join ONs."""
    reference = _Reference(table)
    conjuncts = list(_conjuncts(scope))
    consumed = 0
    for conjunct in conjuncts:
        found = _constraint(conjunct, table, alias)
        if found is None:
            continue
        param, values = found
        if isinstance(values, str):  # a subquery: its values, or run it first
            if values not in resolved:
                reference.pending.append(values)
                continue
            values = list(resolved[values])
        checked = _checked(table, param, values, known.get(param.name))
        previous = reference.values.get(param.name)
        reference.values[param.name] = checked if previous is None else previous & checked
        consumed += 1
    if reference.pending:
        return reference  # planned again once the subqueries have run
    for param in _steering_params(table):
        if param.name not in reference.values and _mentions(conjuncts, param, alias):
            raise ParamError(
                f"{table.name}: {param.name} is constrained in a way vpnsql cannot plan",
                hint=f"write {param.name} = '{param.example}' or {param.name} IN (...) "
                "as a top-level AND condition",
            )
    if consumed == len(conjuncts) and _limit_is_final(scope):
        reference.limit = _literal_int(scope.args["limit"].expression) + _offset(scope)
    return reference


def _checked(
    table: Table, param: Param, values: Iterable[object], known: Sequence[str] | None
) -> set[str]:
    """The values as the API's strings. NULL equals nothing, so it is dropped: `col = NULL`
    leaves no value, and the reference needs no call."""
    checked: set[str] = set()
    for value in values:
        if value is None:
            continue
        if known is not None and value not in known:
            raise ParamError(
                f"{table.name}: '{value}' is not a known {param.name} "
                f"(known: {', '.join(known) or 'none'})",
                hint="values are compared exactly, as DuckDB compares the rows",
            )
        try:
            checked.add(param.validate(value))
        except ValueError as err:
            raise ParamError(f"{table.name}: {err}") from None
    return checked


def _steering_params(table: Table) -> tuple[Param, ...]:
    """Params whose values decide which calls are made, so any constraint the planner cannot
    read must be refused: required params, and a view's regions and endpoints (an unread one
    would silently fall back to the defaults). A view's `provider` only narrows: a constraint
    the planner cannot read asks every cloud, a superset DuckDB then filters."""
    if table.fetch is not None:
        return table.required_params
    return tuple(param for param in table.params if param.name != "provider")


def _conjuncts(scope: exp.Select) -> Iterator[exp.Expression]:
    where = scope.args.get("where")
    if where is not None:
        yield from _flatten_and(where.this)
    for join in scope.args.get("joins") or []:
        on = join.args.get("on")
        if on is not None and not join.side and join.kind in ("", "INNER"):
            yield from _flatten_and(on)


def _flatten_and(node: exp.Expression) -> Iterator[exp.Expression]:
    node = node.unnest()
    if isinstance(node, exp.And):
        for part in node.flatten():
            yield from _flatten_and(part)
    else:
        yield node


def _constraint(
    node: exp.Expression, table: Table, alias: str
) -> tuple[Param, list[object] | str] | None:
    """`col = lit`, `lit = col` or `col IN (lits)` on a param of this reference, else None.

    For `col IN (SELECT ...)` the values are the subquery's SQL, to be run first.
    """
    if isinstance(node, exp.EQ):
        sides = [(node.this, node.expression), (node.expression, node.this)]
        for column, other in sides:
            param = _param_of(column, table, alias)
            value = _literal(other)
            if param is not None and value is not _NOT_LITERAL:
                return param, [value]
    query = node.args.get("query") if isinstance(node, exp.In) else None
    if isinstance(query, exp.Subquery) and isinstance(query.this, exp.Query):
        param = _param_of(node.this, table, alias)
        return (param, query.this.sql(DIALECT)) if param is not None else None
    if isinstance(node, exp.In) and query is None and not node.args.get("unnest"):
        param = _param_of(node.this, table, alias)
        values = [_literal(v) for v in node.expressions]
        if param is not None and values and _NOT_LITERAL not in values:
            return param, values
    return None


def _param_of(node: exp.Expression, table: Table, alias: str) -> Param | None:
    if not isinstance(node, exp.Column) or (node.table and node.table.lower() != alias.lower()):
        return None
    return table.param(node.name)


def _mentions(conjuncts: Iterable[exp.Expression], param: Param, alias: str) -> bool:
    """Whether a conjunct uses the param. A join condition (`col = other_col`) does not count:
    it leaves the param open (discovered or defaulted) and DuckDB applies the join."""
    return any(
        column.name.lower() in param.names
        and (not column.table or column.table.lower() == alias.lower())
        for conjunct in conjuncts
        if not _is_join_condition(conjunct)
        for column in conjunct.find_all(exp.Column)
    )


def _is_join_condition(node: exp.Expression) -> bool:
    return (
        isinstance(node, exp.EQ)
        and isinstance(node.this, exp.Column)
        and isinstance(node.expression, exp.Column)
    )


def _literal(node: exp.Expression) -> object:
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        number = float(node.this)
        return int(number) if number.is_integer() and "." not in node.this else number
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        value = _literal(node.this)
        return -value if isinstance(value, int | float) else _NOT_LITERAL
    if isinstance(node, exp.Boolean):
        return node.this
    if isinstance(node, exp.Null):
        return None
    return _NOT_LITERAL


def _literal_int(node: exp.Expression | None) -> int | None:
    value = _literal(node) if node is not None else _NOT_LITERAL
    return value if isinstance(value, int) and value >= 0 else None


def _offset(scope: exp.Select) -> int:
    offset = scope.args.get("offset")
    return (_literal_int(offset.expression) or 0) if offset is not None else 0


def _limit_is_final(scope: exp.Select) -> bool:
    """True when the first N rows fetched are rows the query returns, so paging may stop."""
    limit = scope.args.get("limit")
    if limit is None or _literal_int(limit.expression) is None:
        return False
    options = limit.args.get("limit_options")
    if options is not None and (options.args.get("percent") or options.args.get("with_ties")):
        return False  # a share of all the rows, or ties beyond N: every row is needed
    offset = scope.args.get("offset")
    if offset is not None and _literal_int(offset.expression) is None:
        return False
    reshaping = ("order", "group", "having", "qualify", "distinct", "joins", "laterals")
    if any(scope.args.get(key) for key in reshaping):
        return False
    return not any(scope.find(kind) for kind in (exp.AggFunc, exp.Window))


def _group_by_table(references: list[_Reference]) -> dict[Table, list[_Reference]]:
    grouped: dict[Table, list[_Reference]] = {}
    for reference in references:
        grouped.setdefault(reference.table, []).append(reference)
    return grouped


def _calls_for(table: Table, references: list[_Reference], settings: Settings) -> list[Call]:
    """One call per reference and combination of required-param values, merged."""
    optional = [p.name for p in table.params if not p.required]
    calls = []
    for reference in references:
        if _matches_nothing(reference):
            continue
        filters = tuple(
            (name, tuple(sorted(reference.values[name])))
            for name in optional
            if name in reference.values
        )
        for params, discover in _fan_out(table, reference, settings):
            calls.append(Call(table, params, filters, reference.limit, discover))
    return merge(calls)


def _view_calls(
    view: Table,
    references: list[_Reference],
    registry: Registry,
    settings: Settings,
    notices: list[str],
) -> list[Call]:
    """A view's calls: for each provider branch its WHERE clause allows, calls on the branch's
    table with the view's values mapped onto the table's params (or their defaults)."""
    branches = registry.branches(view)
    calls: list[Call] = []
    for reference in references:
        _check_view_values(view, branches, reference)
        if _matches_nothing(reference):
            continue
        for provider, branch in branches:
            wanted = reference.values.get("provider")
            if wanted is None or provider in wanted:
                calls.extend(_branch_calls(provider, branch, reference, settings, notices))
    return merge(calls)


def _matches_nothing(reference: _Reference) -> bool:
    """A param no value satisfies (`= NULL`, or `= 'a' AND = 'b'`): no row, so no call."""
    return not all(reference.values.values())


def _check_view_values(
    view: Table, branches: list[tuple[str, ViewBranch]], reference: _Reference
) -> None:
    """A value no cloud could have is a mistake, not an empty answer."""
    for view_param in {name for _, branch in branches for name in branch.params}:
        for value in reference.values.get(view_param, ()):
            params = [b.table.param(b.params[view_param]) for _, b in branches]
            if not any(p is not None and _accepts(p, value) for p in params):
                raise ParamError(f"{view.name}: '{value}' is not a valid {view_param} on any cloud")


def _branch_calls(
    provider: str,
    branch: ViewBranch,
    reference: _Reference,
    settings: Settings,
    notices: list[str],
) -> list[Call]:
    table = branch.table
    named = "provider" in reference.values  # `provider = '...'`: this cloud was asked for
    values: dict[str, list[str]] = {}
    discover: list[Param] = []
    for view_param, table_param in branch.params.items():
        param = table.param(table_param)
        if param is None:
            raise ValueError(f"{table.name} has no param {table_param} for {branch.view.name}")
        given = reference.values.get(view_param)
        if given is not None:
            accepted = [v for v in sorted(given) if _accepts(param, v)]
            if not accepted:
                return []  # the values name other clouds' regions or endpoints
            values[param.name] = accepted
        elif param.discover is not None:
            discover.append(param)
        else:
            default = param.default(settings) if param.default else None
            if default is None and named:
                raise ParamError(
                    f"{branch.view.name}: {provider} has no default {param.name} configured",
                    hint=f"name one in WHERE (region = '{param.example}')",
                )
            if default is None:
                notices.append(f"{provider} skipped: no default {param.name} configured")
                return []
            values[param.name] = [default]
    order = [p.name for p in table.required_params if p.name in values]
    return [
        Call(
            table,
            tuple(zip(order, combination, strict=True)),
            (),
            reference.limit,
            tuple(discover),
            branch,
            skippable=not named,
        )
        for combination in itertools.product(*(values[name] for name in order))
    ]


def _accepts(param: Param, value: str) -> bool:
    try:
        param.validate(value)
    except ValueError:
        return False
    return True


def merge(calls: Iterable[Call]) -> list[Call]:
    """One call per table and set of params, so the shared table has no duplicate rows.

    All references share one materialized table, so calls with the same params become one: a
    filter survives only if every such call has it (values united), and a limit only if
    every one has one.
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
        merged.append(Call(table, params, united, limit, discover, via, skippable))
    return merged


def _fan_out(
    table: Table, reference: _Reference, settings: Settings
) -> list[tuple[tuple[tuple[str, str], ...], tuple[Param, ...]]]:
    """Every combination of required-param values, and the params left to discover."""
    choices: list[list[tuple[str, str]]] = []
    discover: list[Param] = []
    for param in table.required_params:
        values = reference.values.get(param.name)
        if values is None and param.discover is not None:
            discover.append(param)
            continue
        if values is None:
            default = param.default(settings) if param.default else None
            if default is None:
                raise ParamError(
                    f"{table.name} needs {param.name}",
                    hint=f"add it to the WHERE clause, e.g. {_example_where(table)}",
                )
            try:
                values = {param.validate(default)}
            except ValueError as err:
                raise ParamError(f"{table.name}: default {err}") from None
        choices.append([(param.name, v) for v in sorted(values)])
    return [(combination, tuple(discover)) for combination in itertools.product(*choices)]


def _example_where(table: Table) -> str:
    return " AND ".join(f"{p.name} = '{p.example}'" for p in table.required_params)
