"""Meta commands: `.name args` lines the shell handles itself instead of sending them as SQL.

Each is a function registered with `@command(usage, summary)`; `.help` lists them from the same
registry, and completion offers their names and each one's `choices`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vpnsql import output
from vpnsql.errors import UsageError
from vpnsql.registry import Registry
from vpnsql.shell.lexing import significant, tokenize

if TYPE_CHECKING:
    from vpnsql.shell.app import Shell

Handler = Callable[["Shell", str], None]
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


def run(shell: Shell, line: str) -> None:
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


def script_parts(text: str) -> Iterator[tuple[str, str]]:
    """A script as ("meta", line) and ("sql", statements) parts, in order: a line starting
    with `.` is a meta command when no statement is open (all before it ended with `;`, or
    was only comments)."""
    sql: list[str] = []
    for line in text.splitlines():
        pending = "\n".join(sql).strip()
        tokens = tokenize(pending)
        closed = not (tokens and tokens[-1].open)  # no string or comment left open
        words = significant(tokens)  # comments are not a statement
        if line.lstrip().startswith(".") and closed and (not words or words[-1].text == ";"):
            if pending:
                yield "sql", pending
            sql = []
            yield "meta", line.strip()
        else:
            sql.append(line)
    if rest := "\n".join(sql).strip():
        yield "sql", rest


def _choice(shell: Shell, name: str, argument: str) -> str:
    """The argument in lower case if it is one of the command's choices, else its usage error."""
    meta = COMMANDS[name]
    if argument.lower() not in meta.choices(shell.session.registry):
        raise meta.fail()
    return argument.lower()


@command(".help", "list these commands")
def _help(shell: Shell, argument: str) -> None:
    width = max(len(meta.usage) for meta in COMMANDS.values())
    for meta in COMMANDS.values():
        shell.out.write(f"{meta.usage.ljust(width)}  {meta.summary}\n")
    shell.out.write(
        "\nStatements (SELECT, SHOW, DESCRIBE, EXEC, DELETE) end with ';'. Tab completes;\n"
        "Ctrl-R searches the history; Ctrl-C cancels; Ctrl-D exits.\n"
    )


@command(".tables", "list the virtual tables and the params each needs in WHERE")
def _tables(shell: Shell, argument: str) -> None:
    shell.show_rows(
        [
            {"table": t.name, "needs": ", ".join(p.name for p in t.required_params)}
            for t in shell.session.registry.tables
        ]
    )


@command(
    ".describe TABLE",
    "the columns of a table, with its params (DESCRIBE EXTENDED)",
    lambda registry: [table.name for table in registry.tables],
)
def _describe(shell: Shell, argument: str) -> None:
    shell.run_sql(f"DESCRIBE EXTENDED {argument}")


@command(
    ".output [FORMAT]",
    f"set the result format ({', '.join(output.FORMATS)})",
    lambda _: output.FORMATS,
)
def _output(shell: Shell, argument: str) -> None:
    if argument:
        shell.format = _choice(shell, ".output", argument)
    shell.out.write(f"output: {shell.format}\n")


@command(
    ".timer on|off",
    "after each statement, show fetch and query time, API calls, pages and cache hits",
    lambda _: ("on", "off"),
)
def _timer(shell: Shell, argument: str) -> None:
    shell.timer = _choice(shell, ".timer", argument) == "on"


@command(".once FILE", "write the next result, in full, to FILE instead of the screen")
def _once(shell: Shell, argument: str) -> None:
    shell.once = Path(argument).expanduser()


@command(".read FILE", "run the statements and meta commands in FILE, up to the first error")
def _read(shell: Shell, argument: str) -> None:
    try:
        text = Path(argument).expanduser().read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot read {argument}: {err.strerror}") from None
    if shell.reading >= MAX_READ_DEPTH:
        raise UsageError(
            f".read {argument}: files read files {MAX_READ_DEPTH} deep",
            hint="does a file .read itself?",
        )
    shell.reading += 1
    try:
        for kind, part in script_parts(text):
            if kind == "meta":
                run(shell, part)
            else:
                shell.run_sql(part)
    finally:
        shell.reading -= 1


MAX_READ_DEPTH = 16


@command(".refresh", "forget cached API results: the next query fetches again")
def _refresh(shell: Shell, argument: str) -> None:
    shell.cache.clear()
    shell.out.write("cache cleared\n")


@command(
    ".cache [ttl SECONDS]",
    "show or set how long API results are reused (default 60 s; 0 turns reuse off)",
    lambda _: ("ttl",),
)
def _cache(shell: Shell, argument: str) -> None:
    if argument:
        keyword, _, seconds = argument.partition(" ")
        try:
            ttl = float(seconds)
        except ValueError:
            ttl = -1.0
        if keyword.lower() != "ttl" or ttl < 0:
            raise COMMANDS[".cache"].fail()
        shell.cache.ttl = ttl
    shell.out.write(f"cache ttl: {shell.cache.ttl:g} s\n")


@command(
    ".mode vi|emacs",
    "key bindings (default emacs, or $VPNSQL_EDITING_MODE)",
    lambda _: ("vi", "emacs"),
)
def _mode(shell: Shell, argument: str) -> None:
    shell.set_editing_mode(_choice(shell, ".mode", argument))


@command(".quit", "leave the shell (or Ctrl-D)")
def _quit(shell: Shell, argument: str) -> None:
    shell.running = False
