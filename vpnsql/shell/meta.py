"""Meta commands: `.name args` lines run by the console (the shell, `-f FILE`, stdin, `.read`)
instead of being sent as SQL.

Each is a function registered with `@command(usage, summary)`; `.help` lists them from the same
registry, and completion offers their names and each one's `choices`. Names follow sqlite and
duckdb where they have one (`.mode csv`, `.schema`, `.exit`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vpnsql.errors import UsageError
from vpnsql.output import FORMATS
from vpnsql.planner import decoded
from vpnsql.registry import Registry

if TYPE_CHECKING:
    from vpnsql.console import Console
    from vpnsql.fetch import FetchCache

SCREEN_FORMATS = FORMATS
"""What a result can be shown as (parquet only goes to files)."""
KEY_MODES = ("vi", "emacs")

Handler = Callable[["Console", str], None]
Choices = Callable[[Registry], Sequence[str]]


@dataclass(frozen=True)
class MetaCommand:
    """A registered command: `usage` starts with its name; `choices` complete its argument."""

    usage: str
    summary: str
    handler: Handler
    choices: Choices

    @property
    def name(self) -> str:
        return self.usage.split()[0]

    @property
    def takes_file(self) -> bool:
        """Whether the argument is a path (completed from the file system)."""
        return self.usage.split()[1:2] == ["FILE"]

    @property
    def needs_argument(self) -> bool:
        """Whether the usage names an argument that is not optional (`[...]`)."""
        words = self.usage.split()
        return len(words) > 1 and not words[1].startswith("[")

    def fail(self) -> UsageError:
        return UsageError(f"usage: {self.usage}", hint=self.summary)


COMMANDS: dict[str, MetaCommand] = {}


def command(
    usage: str, summary: str, choices: Choices = lambda _: ()
) -> Callable[[Handler], Handler]:
    """Register the decorated function as the meta command `usage` names."""

    def register(handler: Handler) -> Handler:
        meta = MetaCommand(usage, summary, handler, choices)
        COMMANDS[meta.name] = meta
        return handler

    return register


def run(shell: Console, line: str) -> None:
    """Dispatch one `.name args` line."""
    name, _, argument = line.strip().partition(" ")
    meta = COMMANDS.get(name.lower())
    if meta is None:
        raise UsageError(f"unknown command {name}", hint="type .help for the commands")
    if meta.needs_argument and not argument.strip():
        raise meta.fail()
    meta.handler(shell, argument.strip())


def choices(registry: Registry) -> dict[str, Sequence[str]]:
    """Every command's argument choices, for completion."""
    return {name: meta.choices(registry) for name, meta in COMMANDS.items()}


def file_commands() -> frozenset[str]:
    """The commands whose argument is a path, for completion."""
    return frozenset(name for name, meta in COMMANDS.items() if meta.takes_file)


def _choice(shell: Console, name: str, argument: str) -> str:
    """The argument in lower case if it is one of the command's choices, else its usage error."""
    meta = COMMANDS[name]
    if argument.lower() not in meta.choices(shell.session.registry):
        raise meta.fail()
    return argument.lower()


@command(".help", "list these commands")
def _help(shell: Console, argument: str) -> None:
    width = max(len(meta.usage) for meta in COMMANDS.values())
    for meta in COMMANDS.values():
        shell.out.write(f"{meta.usage.ljust(width)}  {meta.summary}\n")
    shell.out.write(
        "\nStatements (SELECT, SHOW, DESCRIBE, EXEC, DELETE) end with ';'. Tab completes;\n"
        "Ctrl-R searches the history; Ctrl-C cancels; Ctrl-D exits.\n"
    )


@command(
    ".tables",
    "the virtual tables and their WHERE params: required (you give it), or default, "
    "discovered, filter (vpnsql fills it in or pushes it down)",
)
def _tables(shell: Console, argument: str) -> None:
    shell.show_rows(
        [{"table": t.name, "params": t.params_text} for t in shell.session.registry.tables]
    )


@command(
    ".describe TABLE",
    "the columns of a table, with its params (DESCRIBE EXTENDED)",
    lambda registry: [table.name for table in registry.tables],
)
def _describe(shell: Console, argument: str) -> None:
    shell.run_sql(f"DESCRIBE EXTENDED {argument}")


@command(
    ".mode [FORMAT]",
    f"show or set the result format ({', '.join(SCREEN_FORMATS)}); .mode vi|emacs sets keys",
    lambda _: (*SCREEN_FORMATS, *KEY_MODES),
)
def _mode(shell: Console, argument: str) -> None:
    if argument.lower() in KEY_MODES:  # .mode vi|emacs: what it meant before .keys
        _keys(shell, argument)
        return
    _output(shell, argument)


@command(
    ".output [FORMAT]",
    f"the same as .mode FORMAT ({', '.join(SCREEN_FORMATS)})",
    lambda _: SCREEN_FORMATS,
)
def _output(shell: Console, argument: str) -> None:
    if argument:
        if argument.lower() not in SCREEN_FORMATS:
            raise UsageError(
                f"unknown format {argument}",
                hint=f"formats: {', '.join(SCREEN_FORMATS)} (.once FILE.parquet writes Parquet)",
            )
        shell.format = argument.lower()  # silently, as sqlite does: a script's data stays clean
        return
    shell.out.write(f"output: {shell.format}\n")


@command(
    ".timer on|off",
    "after each statement, show fetch and query time, API calls, pages and cache hits",
    lambda _: ("on", "off"),
)
def _timer(shell: Console, argument: str) -> None:
    shell.timer = _choice(shell, ".timer", argument) == "on"


@command(
    ".once FILE",
    "write the next result, in full, to FILE (its extension's format: .csv .parquet .json "
    ".jsonl .md; else the current one)",
)
def _once(shell: Console, argument: str) -> None:
    shell.once = Path(argument).expanduser()


@command(".read FILE", "run the statements and meta commands in FILE, up to the first error")
def _read(shell: Console, argument: str) -> None:
    path = Path(argument).expanduser()
    try:
        text = decoded(path.read_bytes(), argument)
    except OSError as err:
        raise UsageError(f"cannot read {argument}: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise UsageError(
            f"cannot read {argument}: byte {err.start} is not UTF-8", hint="save it as UTF-8"
        ) from None
    if shell.reading >= MAX_READ_DEPTH:
        raise UsageError(
            f".read {argument}: files read files {MAX_READ_DEPTH} deep",
            hint="does a file .read itself?",
        )
    shell.reading += 1
    try:
        shell.run_script(text, argument)
    finally:
        shell.reading -= 1


MAX_READ_DEPTH = 16


@command(".refresh", "forget cached API results: the next query fetches again")
def _refresh(shell: Console, argument: str) -> None:
    _cache_of(shell).clear()
    shell.out.write("cache cleared\n")


@command(
    ".cache [ttl SECONDS]",
    "show or set how long API results are reused (default 60 s; 0 turns reuse off)",
    lambda _: ("ttl",),
)
def _cache(shell: Console, argument: str) -> None:
    cache = _cache_of(shell)
    if argument:
        keyword, _, seconds = argument.partition(" ")
        try:
            ttl = float(seconds)
        except ValueError:
            ttl = -1.0
        if keyword.lower() != "ttl" or ttl < 0:
            raise COMMANDS[".cache"].fail()
        cache.ttl = ttl
    shell.out.write(f"cache ttl: {cache.ttl:g} s\n")


def _cache_of(shell: Console) -> FetchCache:
    if shell.cache is None:
        raise UsageError(
            "there is no cache here: statements run with -e, -f or stdin always ask the API",
            hint="the interactive shell reuses API results for a minute",
        )
    return shell.cache


@command(
    ".keys vi|emacs",
    "key bindings (default emacs, or $VPNSQL_EDITING_MODE)",
    lambda _: KEY_MODES,
)
def _keys(shell: Console, argument: str) -> None:
    shell.set_editing_mode(_choice(shell, ".keys", argument))


@command(
    ".schema [TABLE]",
    "CREATE TABLE statements: of the virtual tables and DuckDB's own, or of TABLE",
    lambda registry: [table.name for table in registry.tables],
)
def _schema(shell: Console, argument: str) -> None:
    from vpnsql.engine import quote

    registry = shell.session.registry
    tables = registry.tables
    if argument:
        wanted = argument.rstrip(";").lower()
        tables = [t for t in tables if t.name.lower() == wanted]
    for table in tables:
        columns = ",\n".join(f"  {quote(c.name)} {c.type}" for c in table.columns)
        shell.out.write(f"CREATE TABLE {table.name} (\n{columns}\n);  -- virtual\n")
    own = shell.session.engine.rows(
        "SELECT table_name AS name, sql FROM duckdb_tables() "
        "WHERE database_name = current_database() UNION ALL "
        "SELECT view_name, sql FROM duckdb_views() "
        "WHERE database_name = current_database() AND NOT internal ORDER BY name"
    )
    if argument:
        own = [row for row in own if str(row["name"]).lower() == wanted]
        if not tables and not own:
            raise UsageError(f"no table {argument}", hint="type .tables for the virtual tables")
    for row in own:
        shell.out.write(str(row["sql"]).rstrip(";") + ";\n")


@command(".quit", "leave the shell (or Ctrl-D; also .exit, exit, quit, \\q)")
def _quit(shell: Console, argument: str) -> None:
    shell.running = False


@command(".exit", "the same as .quit")
def _exit(shell: Console, argument: str) -> None:
    shell.running = False
