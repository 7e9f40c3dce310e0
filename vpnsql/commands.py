"""Parse StackQL's statements that are not SQL: EXEC, SHOW and DESCRIBE on virtual tables.

sqlglot's duckdb dialect has no EXEC and reads SHOW as an opaque command, so these are read
from sqlglot's tokens with a small grammar of their own; errors name the line and column.
Everything else is left to the SQL planner (and DESCRIBE/SHOW of DuckDB's own objects to
DuckDB).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlglot
from sqlglot.tokens import Token, TokenType

from vpnsql.errors import ParamError, ProviderError, SqlSyntaxError, UnknownTableError
from vpnsql.registry import Registry
from vpnsql.tables import FetchRequest, Method, Param, Settings, Table

SHOW_KINDS = {
    "PROVIDERS": 0,
    "SERVICES": 1,
    "RESOURCES": 2,
    "METHODS": 3,
    "ACCOUNTS": 1,
    "TABLES": 0,
}
"""What SHOW lists, and how many name parts its optional `IN` scope has (without it,
everything; TABLES: DuckDB's tables and the virtual ones)."""


@dataclass(frozen=True)
class Exec:
    """`EXEC provider.service.resource.method @Arg=value, ...`, arguments checked."""

    table: Table
    method: Method
    args: dict[str, object] = field(hash=False)


@dataclass(frozen=True)
class Show:
    """`SHOW PROVIDERS|TABLES|SERVICES [IN p]|RESOURCES [IN p.s]|METHODS [IN p.s.r]|ACCOUNTS
    [IN p] [LIKE 'pattern']`; without IN, everything."""

    kind: str
    scope: tuple[str, ...] = ()
    like: str | None = None


@dataclass(frozen=True)
class Describe:
    """`DESCRIBE [EXTENDED] provider.service.resource`."""

    table: Table
    extended: bool = False


Command = Exec | Show | Describe


class _Tokens:
    """A cursor over one statement's tokens that raises positioned syntax errors."""

    def __init__(self, text: str) -> None:
        self.tokens = sqlglot.Dialect.get_or_raise("duckdb").tokenize(text)
        self.position = 0

    def peek(self, offset: int = 0) -> Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def word(self, offset: int = 0) -> str:
        token = self.peek(offset)
        return token.text.upper() if token is not None else ""

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end of statement")
        self.position += 1
        return token

    def accept(self, token_type: TokenType) -> bool:
        token = self.peek()
        if token is not None and token.token_type == token_type:
            self.position += 1
            return True
        return False

    def expect(self, token_type: TokenType, what: str) -> Token:
        token = self.peek()
        if token is None or token.token_type != token_type:
            raise self.error(f"expected {what}")
        return self.take()

    def name(self, what: str) -> list[str]:
        """A dotted name; each part a plain or quoted identifier."""
        parts = [self._identifier(what)]
        while self.accept(TokenType.DOT):
            parts.append(self._identifier(what))
        return parts

    def _identifier(self, what: str) -> str:
        token = self.peek()
        quoted = token is not None and token.token_type == TokenType.IDENTIFIER
        plain = token is not None and token.token_type != TokenType.STRING
        if not (quoted or (plain and token.text.isidentifier())):
            raise self.error(f"expected {what}")
        return self.take().text

    def done(self) -> None:
        if self.peek() is not None:
            raise self.error("unexpected text")

    def error(self, message: str) -> SqlSyntaxError:
        token = self.peek()
        if token is None:
            last = self.tokens[-1] if self.tokens else None
            where = f"line {last.line}, after column {last.col}" if last else "the start"
            return SqlSyntaxError(
                f"syntax error at {where}: {message}",
                line=last.line if last else None,
                column=last.col if last else None,
            )
        return SqlSyntaxError(
            f"syntax error at line {token.line}, column {token.col}: {message}, got '{token.text}'",
            line=token.line,
            column=token.col,
        )


def parse_command(text: str, registry: Registry, settings: Settings) -> Command | None:
    """The command `text` is, or None when it is SQL for the planner or DuckDB."""
    tokens = _Tokens(text)
    first = tokens.word()
    if first in ("EXEC", "EXECUTE"):
        tokens.take()
        return _exec(tokens, registry, settings)
    if first == "SHOW" and tokens.word(1) in SHOW_KINDS:
        if tokens.word(1) == "TABLES" and tokens.word(2) not in ("", "LIKE"):
            return None  # SHOW TABLES FROM ...: DuckDB's own
        tokens.take()
        return _show(tokens, registry)
    if first in ("DESCRIBE", "DESC"):
        offset = 2 if tokens.word(1) == "EXTENDED" else 1
        if registry.is_provider(tokens.word(offset)) and tokens.word(offset + 1) == ".":
            tokens.position = offset
            table = registry.table(".".join(tokens.name("a table name")))
            tokens.done()
            return Describe(table, extended=offset == 2)
    return None


def _show(tokens: _Tokens, registry: Registry) -> Show:
    kind = tokens.take().text.upper()
    scope: tuple[str, ...] = ()
    if SHOW_KINDS[kind] and tokens.word() == "IN":
        tokens.take()
        scope = tuple(tokens.name("a name"))
        if len(scope) != SHOW_KINDS[kind]:
            example = ("aws", "aws.ec2_api", "aws.ec2_api.client_vpn_connections")
            raise SqlSyntaxError(
                f"SHOW {kind} IN takes a name like {example[SHOW_KINDS[kind] - 1]}"
            )
        _check_scope(scope, registry)
    like = None
    if tokens.word() == "LIKE":
        tokens.take()
        like = tokens.expect(TokenType.STRING, "a quoted pattern").text
    tokens.done()
    return Show(kind, scope, like)


def _check_scope(scope: tuple[str, ...], registry: Registry) -> None:
    if not registry.is_provider(scope[0]):
        raise UnknownTableError(
            f"unknown provider {scope[0]}", hint=f"providers: {', '.join(registry.providers)}"
        )
    if len(scope) == 3:
        registry.table(".".join(scope))
    elif len(scope) == 2 and not any(
        t.provider.lower() == scope[0].lower() and t.service.lower() == scope[1].lower()
        for t in registry.tables
    ):
        raise UnknownTableError(f"unknown service {'.'.join(scope)}")


def _exec(tokens: _Tokens, registry: Registry, settings: Settings) -> Exec:
    parts = tokens.name("a method name like provider.service.resource.method")
    if len(parts) != 4:
        raise SqlSyntaxError(
            "EXEC takes provider.service.resource.method, e.g. "
            "aws.ec2_api.client_vpn_connections.client_vpn_connections_Terminate"
        )
    table = registry.table(".".join(parts[:3]))
    method = table.method(parts[3])
    if method is None:
        names = ", ".join(m.name for m in table.methods) or "none"
        raise UnknownTableError(
            f"{table.name} has no method {parts[3]}", hint=f"its methods: {names}"
        )
    raw: dict[str, object] = {}
    while tokens.accept(TokenType.PARAMETER):
        name = tokens.take().text
        tokens.expect(TokenType.EQ, "'=' after @" + name)
        if name.lower() in (n.lower() for n in raw):
            raise ParamError(f"@{name} is given twice")
        raw[name] = _literal(tokens)
        if not tokens.accept(TokenType.COMMA):
            if tokens.peek() is not None:
                raise tokens.error("expected ',' between arguments")
            break
    tokens.done()
    return Exec(table, method, check_args(table, method, raw, settings))


def _literal(tokens: _Tokens) -> object:
    negative = tokens.accept(TokenType.DASH)
    token = tokens.take()
    if token.token_type == TokenType.NUMBER:
        number = float(token.text)
        value = int(number) if number.is_integer() and "." not in token.text else number
        return -value if negative else value
    if negative:
        raise tokens.error("expected a number after '-'")
    literals = {TokenType.TRUE: True, TokenType.FALSE: False, TokenType.NULL: None}
    if token.token_type == TokenType.STRING:
        return token.text
    if token.token_type in literals:
        return literals[token.token_type]
    tokens.position -= 1
    raise tokens.error("expected a literal ('text', a number, true or false)")


def check_args(
    table: Table, method: Method, raw: dict[str, object], settings: Settings
) -> dict[str, object]:
    """Canonical names, defaults and validated values, or a ParamError before any API call."""
    canonical = {name.lower(): name for name in method.args}
    args: dict[str, object] = {}
    for name, value in raw.items():
        known = canonical.get(name.lower())
        if known is None:
            accepted = ", ".join(f"@{a}" for a in method.args)
            raise ParamError(f"{method.name} takes no @{name}", hint=f"it takes {accepted}")
        args[known] = _checked(table, method, known, value)
    for name in method.required:
        param = table.param(name)
        if name not in args and param is not None:
            value = _filled_in(table, method, param, args, settings)
            if value is not None:
                args[name] = _checked(table, method, name, value)
        if name not in args:
            raise ParamError(f"{method.name} needs @{name}", hint=_example(table, method))
    if method.one_of and not any(name in args for name in method.one_of):
        targets = " or ".join(f"@{n}" for n in method.one_of)
        raise ParamError(f"{method.name} needs {targets}", hint=_example(table, method))
    return args


def _filled_in(
    table: Table, method: Method, param: Param, args: Mapping[str, object], settings: Settings
) -> str | None:
    """The value the configuration gives a missing argument, when it gives exactly one (the
    only account, the only region); several are an error, since EXEC acts on one target."""
    if param.resolve is None:
        return None
    known = {name: str(value) for name, value in args.items() if table.param(name) is not None}
    try:
        values = param.resolved(FetchRequest(known, settings=settings))
    except ProviderError:
        return None
    if values and len(values) > 1:
        raise ParamError(
            f"{method.name} needs @{param.name}: the configuration has several "
            f"({', '.join(values)})",
            hint=_example(table, method),
        )
    return values[0] if values else None


def _checked(table: Table, method: Method, name: str, value: object) -> object:
    if isinstance(value, str) and not value.strip():
        # An empty target is no target: `@Username = ''` must not reach the terminate API.
        raise ParamError(f"@{name} is empty", hint=_example(table, method))
    if name in method.flags:
        if not isinstance(value, bool):
            raise ParamError(f"@{name} takes true or false")
        return value
    param = table.param(name)
    try:
        if param is not None:
            return param.validate(value)
        if not isinstance(value, str):
            raise ValueError(f"@{name} takes a string literal")
    except ValueError as err:
        raise ParamError(f"{method.name}: {err}") from None
    return value


def _example(table: Table, method: Method) -> str:
    names = [*method.required, *method.one_of[:1]]
    examples = []
    for name in names:
        param = table.param(name)
        examples.append(f"@{name}='{param.example if param else '...'}'")
    return f"e.g. EXEC {table.name}.{method.name} {', '.join(examples)}"
