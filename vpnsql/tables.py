"""Declarations a provider fills in: tables, their columns, params and methods.

A table is data, not code paths in the engine: adding one means writing a `Table(...)` literal
and a fetch function. Declarations are validated when constructed so a typo in a provider fails
at import, not in the middle of a user's query.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from vpnsql.errors import ConfigurationError

if TYPE_CHECKING:
    from vpnsql.accounts import Account
    from vpnsql.config import Config, Key

Row = dict[str, Any]
"""One record, keyed by declared column name, values already typed (int, datetime, dict, list)."""

CALL_TIMEOUT = 60.0
"""Seconds one API call may wait on a cloud, its retries included, when the statement's
`timeout` is longer: a server that never answers fails its call, not only the statement."""

MIN_ATTEMPT_TIMEOUT = 1.0
"""No attempt of a call is cut off sooner than this, however many attempts share its time."""

THROTTLING_ATTEMPTS = 5
"""Attempts a throttled call gets on every cloud (unless the user configured the SDK's own):
enough for a burst at --max-concurrency 64 to give its complete answer (bench/throttling.py)."""


@dataclass(frozen=True)
class Settings:
    """Run-wide options a provider may need (credentials profile, pool size, dry run).

    `dry_run` turns every method call (terminate) of the run into the API's dry run.
    `config` is the estate (vpnsql.config.Config: accounts and regions per provider).
    `max_concurrency` bounds API calls in flight in all; `region_concurrency` those of one
    (provider, account, region), as the clouds throttle. `timeout` bounds a statement's fetch
    (seconds), and each API call's attempts (`attempt_timeout`); `max_calls` the API calls one
    statement may make; `memory_limit` what DuckDB holds in memory before it spills to disk.
    `pushdown=False` sends no filter and no time range to any API (and applies no default time
    window): every row is read and DuckDB alone filters, the baseline benchmarks and tests
    compare pushdown with.
    `state` is per-session scratch space for providers (SDK clients, credentials), so nothing
    made for one session's credentials or endpoint leaks into another's.
    """

    profile: str | None = None
    max_concurrency: int = 64
    dry_run: bool = False
    config: Config = field(default_factory=lambda: _empty_config())
    region_concurrency: int = 10
    timeout: float = 300.0
    max_calls: int = 5000
    memory_limit: str = "256MB"
    pushdown: bool = True
    state: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def section(self, provider: str) -> Mapping[str, Any]:
        """The config file's section for a provider (empty without a file)."""
        return self.config.sections.get(provider, {})

    def attempt_timeout(self, attempts: int) -> float:
        """Seconds one attempt of an API call may take to connect, and to wait for the next
        bytes of its answer, when the SDK tries a call up to `attempts` times: the attempts
        share min(timeout, CALL_TIMEOUT), so a server that never answers fails the call in
        about that time (plus the SDK's backoff between attempts), not attempts x the SDK's
        default (botocore: 60 s). A server that trickles bytes defeats any read timeout; the
        statement's deadline (`timeout`, the fetcher's) is what bounds that."""
        budget = min(self.timeout, CALL_TIMEOUT)
        return max(budget / max(1, attempts), min(budget, MIN_ATTEMPT_TIMEOUT))


def _empty_config() -> Config:
    from vpnsql.config import Config

    return Config()


@dataclass(frozen=True)
class Column:
    """A column of a virtual table: its DuckDB type and a one-sentence description."""

    name: str
    type: str
    description: str


ROLES = {
    "required": "you give it in WHERE",
    "default": "optional: without it, vpnsql uses the configured ones (the estate's accounts, "
    "the default region)",
    "discovered": "optional: without it, vpnsql lists every value first and asks each",
    "filter": "optional: narrows what vpnsql asks (pushed down to the API where it can be)",
}
"""What a param's role means to a user: what they must give vs what vpnsql fills in."""


@dataclass(frozen=True)
class Param:
    """A value the API needs or can filter on, taken from `column = literal` in WHERE.

    `name` is the StackQL name users write (matched case-insensitively against the table's
    columns, since required params are columns too). Required params fan out one call per value;
    optional ones are pushed down to the API as filters with all their values.
    """

    name: str
    description: str
    required: bool = False
    pattern: str | None = None
    example: str = "..."
    aliases: tuple[str, ...] = ()
    absent: frozenset[str] = frozenset()
    """Error codes meaning "no such value here" (an endpoint ID asked in a region it is not
    in, an account or region another cloud has). When a statement asks a value in several
    places, those calls count as zero rows as long as the value answered somewhere; a value
    found nowhere stays an error."""
    discover: Callable[[FetchRequest], Iterable[str]] | None = None
    """For a required param the WHERE clause leaves open: list its values with an API call
    (every endpoint of the region). Required params are discovered in declaration order, and
    the request carries the values of those declared before it."""
    resolve: Callable[[FetchRequest], Sequence[str] | None] | None = None
    """Values known without an API call (the configured accounts or regions); when it
    answers, `discover` is not called. It may raise NotConfigured (no default region)."""
    known: Callable[[], Collection[str]] | None = None
    """Every value the cloud has, from the SDK's own data (AWS regions): a literal outside it
    is an error before any call."""
    fills: str | None = None
    """The role when `resolve` and `discover` do not say it (a cross-cloud view's params, which
    each cloud's branch fills in): one of ROLES."""

    @property
    def role(self) -> str:
        """What happens when the WHERE clause does not give it, in the one vocabulary every
        surface uses (.tables, DESCRIBE EXTENDED, SHOW METHODS, the docs, errors): see ROLES."""
        if self.fills is not None:
            return self.fills
        if not self.required:
            return "filter"
        if self.resolve is not None:
            return "default"
        return "discovered" if self.discover is not None else "required"

    @property
    def names(self) -> tuple[str, ...]:
        """Every column name that sets this param (lower case): its name and its aliases."""
        return tuple(n.lower() for n in (self.name, *self.aliases))

    @property
    def open(self) -> bool:
        """Whether vpnsql fills the param in when the WHERE clause does not (resolved from
        the configuration or discovered); else a user must give it."""
        return self.discover is not None or self.resolve is not None

    def resolved(self, request: FetchRequest) -> Sequence[str] | None:
        """`resolve`'s values, checked: a configured value that is not valid (AWS_REGION=
        Us_East) is the configuration's mistake, a ConfigurationError (exit 2), not a failure
        of every call it would reach."""
        values = self.resolve(request) if self.resolve is not None else None
        for value in values or ():
            try:
                self.validate(value)
            except ValueError as err:
                raise ConfigurationError(
                    f"a configured {self.name} is not valid: {err}",
                    hint=f"{self.name}: {self.description}",
                ) from None
        return values

    def validate(self, value: object) -> str:
        """Return the value as the API's string, or raise ValueError saying what was expected."""
        if not isinstance(value, str):
            raise ValueError(f"{self.name} takes a string literal such as '{self.example}'")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise ValueError(
                f"'{value}' is not a valid {self.name} (expected something like '{self.example}')"
            )
        if self.known is not None:
            known = self.known()
            if value not in known:
                close = difflib.get_close_matches(value, sorted(known), n=3, cutoff=0.6)
                nearest = f"; nearest: {', '.join(close)}" if close else ""
                raise ValueError(f"'{value}' is not a {self.name} the cloud has{nearest}")
        return value


@dataclass(frozen=True)
class TimeWindow:
    """A time range the API can be asked for (CloudWatch's startTime..endTime), and the
    TIMESTAMP columns whose `>=`, `>`, `<`, `<=` and BETWEEN conditions narrow it.

    `exact` columns hold the window's own time (an event's timestamp): both of their bounds
    narrow it, exactly. `earlier` columns hold a moment never later than that time in the same
    row (a log entry about a connection is published after the connection started): only
    their lower bounds narrow it. Without any lower bound the window starts `default` before
    now, and a notice says so; with `default=None` the API is asked for all of it.
    `arguments` names what the window becomes in the API, for the docs.
    """

    exact: tuple[str, ...]
    earlier: tuple[str, ...] = ()
    default: timedelta | None = None
    arguments: str = ""

    @property
    def columns(self) -> dict[str, bool]:
        """Column name (lower case) -> whether both of its bounds narrow the window."""
        return {name.lower(): True for name in self.exact} | {
            name.lower(): False for name in self.earlier
        }


@dataclass(frozen=True)
class Bound:
    """One end of a time range: a naive UTC moment, and whether the moment itself is in it."""

    at: datetime
    inclusive: bool = True


@dataclass(frozen=True)
class TimeRange:
    """Where a table's window time lies for every row a statement can match (see TimeWindow);
    an open end is None. Rows outside cannot match, so the API need not return them."""

    lower: Bound | None = None
    upper: Bound | None = None

    @property
    def empty(self) -> bool:
        """True when no moment is in the range (`>= b AND < a` with a <= b)."""
        if self.lower is None or self.upper is None:
            return False
        if self.lower.at != self.upper.at:
            return self.lower.at > self.upper.at
        return not (self.lower.inclusive and self.upper.inclusive)

    def holds(self, other: TimeRange | None) -> bool:
        """Whether every moment of `other` (None: all of time) is in this range."""
        if other is None:
            return self.lower is None and self.upper is None
        return _outer(self.lower, other.lower, lower=True) and _outer(
            self.upper, other.upper, lower=False
        )


def hull(ranges: Iterable[TimeRange | None]) -> TimeRange | None:
    """The smallest range holding all of `ranges` (None is all of time): an end stays only if
    every range has one."""
    listed = list(ranges)
    if not listed or None in listed:
        return None
    return TimeRange(
        _widest([r.lower for r in listed if r is not None], lower=True),
        _widest([r.upper for r in listed if r is not None], lower=False),
    )


def _widest(bounds: list[Bound | None], *, lower: bool) -> Bound | None:
    if None in bounds:
        return None
    moments = [b.at for b in bounds if b is not None]
    at = min(moments) if lower else max(moments)
    return Bound(at, any(b.inclusive for b in bounds if b is not None and b.at == at))


def _outer(mine: Bound | None, theirs: Bound | None, *, lower: bool) -> bool:
    """Whether the end `mine` lets through everything the end `theirs` does."""
    if mine is None:
        return True
    if theirs is None:
        return False
    if mine.at != theirs.at:
        return mine.at < theirs.at if lower else mine.at > theirs.at
    return mine.inclusive or not theirs.inclusive


@dataclass(frozen=True)
class FetchRequest:
    """One API call's worth of input: single values of required params, filter values, limit,
    and for a table with a TimeWindow the range its rows must lie in (None: all of it)."""

    params: Mapping[str, str]
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    limit: int | None = None
    settings: Settings = field(default_factory=Settings)
    notice: Callable[[str], None] = field(default=lambda message: None, compare=False)
    """Tells the user something the rows cannot (an endpoint with logging off): one line on
    stderr. Never a substitute for an error."""
    window: TimeRange | None = None


@dataclass(frozen=True)
class Pages:
    """What a fetch function may yield, as its last item, instead of a page: fetches of the
    remaining pages, which the fetcher runs side by side within the call's throttling bounds
    and stages in this order (pages numbered from a first page's total). Only without a
    `request.limit`, which needs pages in sequence."""

    fetches: tuple[Callable[[], list[Row]], ...]


class FetchFunction(Protocol):
    """Yields pages of typed rows (or, last, `Pages`); stops early once `request.limit` rows
    were yielded."""

    def __call__(self, request: FetchRequest) -> Iterator[list[Row] | Pages]: ...


@dataclass(frozen=True)
class MethodCall:
    """One method invocation: checked argument values by name, and the run's settings."""

    args: Mapping[str, object]
    settings: Settings = field(default_factory=Settings)


DRY_RUN_OK = "dry run: the request would have succeeded"
"""The `message` of a result row whose dry run the API accepted."""


@dataclass(frozen=True)
class Method:
    """A method that acts on a table's rows (e.g. client_vpn_connections_Terminate).

    It runs by `EXEC table.method @Arg=value, ...`; with `delete` set it also runs for each row
    a `DELETE FROM table WHERE ...` selects: `delete(row)` gives that row's arguments, or None
    when the row is not a target (a connection that is no longer active). `function` returns
    result rows with the declared `columns`; one of them is `message`, where the engine reports
    a failed call and providers report a dry run (DRY_RUN_OK).

    For a DELETE, `preview` names the selected row's columns that say whose session ends
    (shown before anyone confirms), and `from_row(selected)` gives result values the selected
    row knows, used where the API's answer leaves a column empty (a dry run's statuses).
    """

    name: str
    description: str
    function: Callable[[MethodCall], list[Row]]
    columns: tuple[Column, ...]
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    delete: Callable[[Row], Mapping[str, object] | None] | None = None
    preview: tuple[str, ...] = ()
    from_row: Callable[[Row], Row] | None = None

    def __post_init__(self) -> None:
        if "message" not in {c.name for c in self.columns}:
            raise ValueError(f"method {self.name} needs a message column")
        if not set(self.one_of) <= set(self.optional):
            raise ValueError(f"method {self.name}: one_of names must be optional args")

    @property
    def args(self) -> tuple[str, ...]:
        """Every argument name, in declaration order."""
        return (*self.required, *self.optional, *self.flags)

    @property
    def needs(self) -> str:
        """The arguments EXEC needs, e.g. `ClientVpnEndpointId, region, ConnectionId | Username`."""
        one_of = [" | ".join(self.one_of)] if self.one_of else []
        return ", ".join([*self.required, *one_of])

    @property
    def verbs(self) -> tuple[str, ...]:
        return ("EXEC", "DELETE") if self.delete else ("EXEC",)


@dataclass(frozen=True, eq=False)
class SqlView:
    """A table that is SQL over another table of its provider (sessions folded from log
    entries): DuckDB runs `select` over `source` as the statement loaded it, and a query on
    the view plans `source`'s calls (compared by identity: each is declared once).

    `params` map the view's params onto `source`'s and `ranges` the view's TIMESTAMP columns
    onto `source`'s window columns (see TimeWindow), each only for a column that has one value
    for all the source rows behind a view row: narrowing the source by it keeps those rows
    whole. `select` names its columns as the view declares them; the engine casts each to its
    declared type.
    """

    source: Table
    select: str
    params: Mapping[str, str]
    ranges: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, repr=False)
class Table:
    """A virtual table `provider.service.resource` backed by an API call, or by SQL over
    another table (`view`)."""

    provider: str
    service: str
    resource: str
    description: str
    columns: tuple[Column, ...]
    params: tuple[Param, ...]
    fetch: FetchFunction | None
    """None for a view: a cross-cloud one, whose rows come from the providers' ViewBranches,
    or a SqlView."""
    methods: tuple[Method, ...] = ()
    examples: tuple[str, ...] = ()
    window: TimeWindow | None = None
    view: SqlView | None = None

    def __post_init__(self) -> None:
        types = {c.name.lower(): c.type for c in self.columns}
        if len(types) != len(self.columns):
            raise ValueError(f"{self.name}: duplicate column names")
        for param in self.params:
            for name in param.names:
                if name not in types:
                    raise ValueError(f"{self.name}: param {param.name}: {name} is not a column")
        times = self.window.columns if self.window else {}
        times |= {name.lower(): False for name in (self.view.ranges if self.view else ())}
        for name in times:
            if types.get(name) != "TIMESTAMP":
                raise ValueError(f"{self.name}: time range column {name} is not a TIMESTAMP")
        if self.view is not None:
            self._check_view(self.view)

    def _check_view(self, view: SqlView) -> None:
        if self.fetch is not None or view.source.provider != self.provider:
            raise ValueError(f"{self.name}: a SqlView fetches nothing and reads its own provider")
        for mine, theirs in view.params.items():
            if self.param(mine) is None or view.source.param(theirs) is None:
                raise ValueError(f"{self.name}: {mine} -> {theirs} must map a param onto one")
        source_times = view.source.window.columns if view.source.window else {}
        for theirs in view.ranges.values():
            if theirs.lower() not in source_times:
                raise ValueError(f"{self.name}: {theirs} is not a window column of the source")

    def __repr__(self) -> str:
        return f"Table({self.name})"

    @property
    def name(self) -> str:
        """`provider.service.resource`; `provider.resource` in service `main` (DuckDB's
        default schema, so both spellings resolve)."""
        if self.service == "main":
            return f"{self.provider}.{self.resource}"
        return f"{self.provider}.{self.service}.{self.resource}"

    @property
    def time_window(self) -> tuple[TimeWindow, dict[str, bool]] | None:
        """The window this table's calls are narrowed in, and its range columns (lower case)
        with whether both of their bounds narrow it: the table's own, or for a SqlView its
        source's, through the view's columns."""
        if self.window is not None:
            return self.window, self.window.columns
        if self.view is None or self.view.source.window is None:
            return None
        source = self.view.source.window.columns
        return self.view.source.window, {
            mine.lower(): source[theirs.lower()] for mine, theirs in self.view.ranges.items()
        }

    @property
    def cross_cloud(self) -> bool:
        """A view over several providers' tables (their ViewBranches fill it)."""
        return self.fetch is None and self.view is None

    @property
    def required_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.required)

    @property
    def params_text(self) -> str:
        """Its params with their roles, e.g. `ClientVpnEndpointId (discovered), region
        (default), username (filter)`."""
        return ", ".join(f"{p.name} ({p.role})" for p in self.params)

    def method(self, name: str) -> Method | None:
        lowered = name.lower()
        return next((m for m in self.methods if m.name.lower() == lowered), None)

    def param(self, name: str) -> Param | None:
        """The param a column name refers to, case-insensitively (DuckDB's identifier rule)."""
        lowered = name.lower()
        return next((p for p in self.params if lowered in p.names), None)


@dataclass(frozen=True, eq=False)
class ViewBranch:
    """A provider's part of a cross-cloud view: which table feeds it, how the view's params
    map onto the table's params, and how one row becomes a row of the view (compared by
    identity: each branch is declared once)."""

    view: Table
    table: Table
    params: Mapping[str, str]
    row: Callable[[Row], Row]


@dataclass(frozen=True)
class Provider:
    """What a `vpnsql.providers` entry point returns: a name and its tables.

    `credentials(environ, settings)` says where credentials would come from ("environment
    variables", a profile, a file) or None, cheaply and without reading any secret.
    `view_branches` are its parts of cross-cloud views such as `vpn.client_connections`.
    `config` declares the keys of its section of the config file. `accounts(settings)` lists
    its estate (configured accounts, those an Organization discovers) and `identity(account,
    settings)` proves one account's credentials with one cheap call, returning its ID: both
    for SHOW ACCOUNTS. `prepare()` warms up what its first call would otherwise wait for (an
    SDK import); the fetcher runs it in the background as soon as a plan calls the provider.
    `endpoint(environ)` names the endpoint an environment variable sends its calls to instead
    of the cloud's own (e.g. "http://127.0.0.1:5000 (AWS_ENDPOINT_URL)"), or None.
    """

    name: str
    description: str
    tables: tuple[Table, ...]
    credentials: Callable[[Mapping[str, str], Settings], str | None] | None = None
    endpoint: Callable[[Mapping[str, str]], str | None] | None = None
    view_branches: tuple[ViewBranch, ...] = ()
    config: tuple[Key, ...] = ()
    accounts: Callable[[Settings], Sequence[Account]] | None = None
    identity: Callable[[Account, Settings], str | None] | None = None
    regions: Callable[[Account, Settings], str] | None = None
    """How SHOW ACCOUNTS describes the regions an account is asked in."""
    summary: Callable[[Settings], str] | None = None
    """The estate in a few words, without any call, for the shell's banner."""
    prepare: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        for table in self.tables:
            if table.provider != self.name:
                raise ValueError(f"{table.name} declared under provider {self.name}")
