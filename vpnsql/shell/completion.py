"""What goes here: completion from the registry and from what the session has seen.

`suggest()` is pure (text in, candidates out) so every rule is tested with literal text;
`ShellCompleter` only adapts it to prompt-toolkit. What no other SQL shell offers: after WHERE
on a virtual table, the params its API needs come first, as `ClientVpnEndpointId = `.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from vpnsql.commands import SHOW_KINDS
from vpnsql.lexing import Token, current_statement, significant, tokenize
from vpnsql.planner import Call
from vpnsql.registry import Registry
from vpnsql.tables import Param, Table

STARTERS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "EXEC", "DELETE FROM", "CREATE TABLE", "SET")
KEYWORDS = (
    "SELECT", "DISTINCT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "IS NULL", "IS NOT NULL",
    "LIKE", "ILIKE", "BETWEEN", "AS", "JOIN", "LEFT JOIN", "INNER JOIN", "ON", "USING",
    "GROUP BY", "HAVING", "ORDER BY", "ASC", "DESC", "LIMIT", "OFFSET", "UNION ALL", "UNION",
    "CASE", "WHEN", "THEN", "ELSE", "END", "EXISTS", "TRUE", "FALSE", "NULL",
    "count", "sum", "avg", "min", "max", "coalesce", "now",
)  # fmt: skip
TABLE_SLOTS = {"FROM", "JOIN", "DESCRIBE", "EXTENDED", "INTO", "UPDATE", "TABLE"}
CONDITION_SLOTS = {"WHERE", "AND", "OR", "NOT", "ON", "HAVING"}
COMPARISONS = {"=", "<>", "!=", "<", ">", "<=", ">="}
CLAUSES = {"SELECT", "FROM", "JOIN", "WHERE", "ON", "BY", "HAVING", "LIMIT"}
_RESERVED = {word.split()[0] for word in (*KEYWORDS, *STARTERS)} | TABLE_SLOTS | CLAUSES
_META_LINE = re.compile(r"\s*(\.\S*)(?:(\s+)(\S*))?\Z")


@dataclass(frozen=True)
class Candidate:
    """One suggestion: the text that replaces the word being typed, and what kind it is."""

    text: str
    kind: str
    display: str = ""


@dataclass(frozen=True)
class Suggestions:
    """Candidates for the word that ends at the cursor (`word` is what they replace)."""

    word: str
    candidates: list[Candidate]

    @property
    def texts(self) -> list[str]:
        return [candidate.text for candidate in self.candidates]


class ValueBook:
    """String values of params seen this session (regions, endpoint ids), newest first, then
    every value the cloud has where its SDK says (`Param.known`: AWS's regions).

    Seen values come from the calls the user's statements made, from what discovery found
    while fanning out, and from the rows results showed, so an endpoint id listed once is
    offered wherever an endpoint id goes next.
    """

    def __init__(self, registry: Registry, keep: int = 100) -> None:
        self._keep = keep
        self._key = {
            name: param.name.lower()
            for table in registry.tables
            for param in table.params
            for name in param.names
        }
        self._known: dict[str, list[Callable[[], Collection[str]]]] = {}
        for table in registry.tables:
            for param in table.params:
                if param.known is not None and param.known not in self._known.get(
                    param.name.lower(), []
                ):
                    self._known.setdefault(param.name.lower(), []).append(param.known)
        self._values: dict[str, dict[str, None]] = {}

    def wants(self, columns: Sequence[str]) -> bool:
        return any(column.lower() in self._key for column in columns)

    def add(self, column: str, value: object) -> None:
        key = self._key.get(column.lower())
        if key is None or not isinstance(value, str):
            return
        seen = self._values.setdefault(key, {})
        seen.pop(value, None)
        seen[value] = None
        if len(seen) > self._keep:
            del seen[next(iter(seen))]

    def add_rows(self, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        for row in rows:
            for column, value in zip(columns, row, strict=True):
                self.add(column, value)

    def add_calls(self, calls: Iterable[Call]) -> None:
        for call in calls:
            for name, value in call.params:
                self.add(name, value)
            for name, values in call.filters:
                for value in values:
                    self.add(name, value)

    def add_discovered(self, found: Iterable[tuple[str, str]]) -> None:
        """Values the fetcher discovered while fanning out (FetchStats.discovered)."""
        for name, value in found:
            self.add(name, value)

    def get(self, column: str) -> list[str]:
        key = self._key.get(column.lower())
        if key is None:
            return []
        seen = list(reversed(self._values.get(key, {})))
        known = sorted({v for values in self._known.get(key, []) for v in values()} - set(seen))
        return seen + known


@dataclass
class Vocabulary:
    """Everything completion draws on: the registry, seen values and meta command arguments."""

    registry: Registry
    values: ValueBook
    commands: Mapping[str, Sequence[str]] = field(default_factory=dict)
    file_commands: frozenset[str] = frozenset()
    """Meta commands whose argument is a path, completed from the file system."""

    def __post_init__(self) -> None:
        self.tables = {table.name.lower(): table for table in self.registry.tables}
        self.methods = {
            f"{table.name}.{method.name}".lower(): method
            for table in self.registry.tables
            for method in table.methods
        }


def suggest(before: str, after: str, vocabulary: Vocabulary) -> Suggestions:
    """The candidates for the cursor between `before` and `after` (the rest of the input)."""
    if before.lstrip().startswith("."):
        return _meta(before, vocabulary.commands)
    tokens = current_statement(tokenize(before))
    last = tokens[-1] if tokens else None
    in_comment = last is not None and last.kind == "comment" and last.end == len(before)
    if last is not None and (last.open or in_comment):
        if last.kind != "string":
            return Suggestions("", [])  # inside a comment
        prior = significant(tokens[:-1])
        values = vocabulary.values.get(_compared_column(prior) or "")
        word = last.text[1:]
        quoted = [Candidate(_quoted(v)[1:], "value", v) for v in values]
        return Suggestions(word, _matching(word, quoted))
    touching = last is not None and last.end == len(before) and last.kind == "name"
    word = last.text if touching and last is not None else ""
    prior = significant(tokens[:-1] if touching else tokens)
    statement = significant(tokens) + _until_semicolon(after)
    candidates = _candidates(word, prior, statement, vocabulary)
    return Suggestions(word, _matching(word, candidates))


class ShellCompleter(Completer):
    """prompt-toolkit's face of `suggest()`."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterator[Completion]:
        if not document.current_line_before_cursor.strip() and not event.completion_requested:
            return  # Enter began a new line: no menu until something is typed (or Tab)
        path = _file_argument(document.text_before_cursor, self.vocabulary.file_commands)
        if path is not None:
            yield from self._paths.get_completions(Document(path), event)
            return
        found = suggest(document.text_before_cursor, document.text_after_cursor, self.vocabulary)
        for candidate in found.candidates:
            yield Completion(
                candidate.text,
                start_position=-len(found.word),
                display=candidate.display or candidate.text,
                display_meta=candidate.kind,
            )


def _candidates(
    word: str, prior: list[Token], statement: list[Token], vocabulary: Vocabulary
) -> list[Candidate]:
    if not prior:
        return _keywords(word, STARTERS)
    previous, first = prior[-1].upper, prior[0].upper
    referenced = _referenced_tables(statement, vocabulary)
    head = word.rpartition(".")[0].lower()
    if head and head in referenced:
        return [Candidate(f"{head}.{c}", "column") for c in _columns([referenced[head]])]
    if first == "SHOW":
        return _show(prior, vocabulary)
    if first == "EXEC":
        return _exec(word, prior, statement, vocabulary)
    if previous in TABLE_SLOTS or (previous == "," and _clause(prior) in {"FROM", "JOIN"}):
        return _dotted(word, [table.name for table in vocabulary.registry.tables], "table")
    tables = list(dict.fromkeys(referenced.values()))
    column = _compared_column(prior)
    if column is not None:
        values = [Candidate(_quoted(v), "value", v) for v in vocabulary.values.get(column)]
        return values + [Candidate(c, "column") for c in _columns(tables)]
    if previous in CONDITION_SLOTS:
        params = _missing_required(tables, statement)
        offered = {p.name.lower() for p in params}
        columns = [c for c in _columns(tables) if c.lower() not in offered]
        return (
            [Candidate(f"{p.name} = ", f"param ({p.role})", p.name) for p in params]
            + [Candidate(c, "column") for c in columns]
            + _keywords(word, ("NOT", "EXISTS"))
        )
    return [Candidate(c, "column") for c in _columns(tables)] + _keywords(word, KEYWORDS)


def _file_argument(before: str, file_commands: frozenset[str]) -> str | None:
    """The path typed so far after `.read ` or `.once `; None on any other line."""
    match = _META_LINE.match(before)
    if match is None or match.group(2) is None or match.group(1).lower() not in file_commands:
        return None
    return match.group(3)


def _meta(before: str, commands: Mapping[str, Sequence[str]]) -> Suggestions:
    """`.out` → `.output`; `.output j` → `json`: names, then each command's own choices."""
    match = _META_LINE.match(before)
    if match is None:
        return Suggestions("", [])
    name, space, argument = match.groups()
    if space is None:
        return Suggestions(name, _matching(name, [Candidate(n, "command") for n in commands]))
    choices = commands.get(name.lower(), ())
    return Suggestions(argument, _matching(argument, [Candidate(c, "argument") for c in choices]))


def _show(prior: list[Token], vocabulary: Vocabulary) -> list[Candidate]:
    """SHOW PROVIDERS | SERVICES IN aws | RESOURCES IN aws.ec2_api | METHODS IN <table>."""
    if len(prior) == 1:
        return [Candidate(kind, "keyword") for kind in SHOW_KINDS]
    depth = SHOW_KINDS.get(prior[1].upper)
    if prior[-1].upper != "IN" or not depth:
        return _keywords("", ("IN", "LIKE"))
    names = {".".join(t.name.split(".")[:depth]) for t in vocabulary.registry.tables}
    return [Candidate(name, "name") for name in sorted(names)]


def _exec(
    word: str, prior: list[Token], statement: list[Token], vocabulary: Vocabulary
) -> list[Candidate]:
    """EXEC provider.service.resource.method @Param=..., with the required @params first."""
    if len(prior) == 1:
        return _dotted(word, list(_method_names(vocabulary)), "method")
    method = vocabulary.methods.get(prior[1].text.lower())
    if method is None or prior[-1].text not in {",", prior[1].text}:
        return []
    used = {token.text[1:].lower() for token in statement if token.text.startswith("@")}
    names = [n for n in method.args if n.lower() not in used]
    return [
        Candidate(f"@{n}=", "required param" if n in method.required else "param", f"@{n}")
        for n in names
    ]


def _method_names(vocabulary: Vocabulary) -> Iterator[str]:
    for table in vocabulary.registry.tables:
        for method in table.methods:
            yield f"{table.name}.{method.name}"


def _dotted(word: str, names: Sequence[str], kind: str) -> list[Candidate]:
    """Complete dotted names one segment at a time: `aws.ec2` → `aws.ec2_api`.

    A word without a dot also matches the last segment, so `client_vpn` finds the tables.
    """
    depth = word.count(".")
    found: dict[str, Candidate] = {}
    for name in names:
        parts = name.split(".")
        if name.lower().startswith(word.lower()):
            prefix = ".".join(parts[: depth + 1])
            label = kind if prefix == name else ("provider", "service", "resource")[depth]
            found.setdefault(prefix, Candidate(prefix, label))
        elif not depth and parts[-1].lower().startswith(word.lower()):
            found.setdefault(name, Candidate(name, kind))
    return list(found.values())


def _referenced_tables(statement: list[Token], vocabulary: Vocabulary) -> dict[str, Table]:
    """Virtual tables named in the statement, by full name and by alias (lower case)."""
    found: dict[str, Table] = {}
    for index, token in enumerate(statement):
        if token.kind != "name":
            continue
        table = vocabulary.tables.get(".".join(token.text.lower().split(".")[:3]))
        if table is None or token.text.count(".") != 2:
            continue
        found[token.text.lower()] = table
        following = statement[index + 1 : index + 3]
        if following and following[0].upper == "AS":
            following = following[1:]
        if following and following[0].kind == "name" and following[0].upper not in _RESERVED:
            found[following[0].text.lower()] = table
    return found


def _columns(tables: Iterable[Table]) -> list[str]:
    names = (column.name for table in tables for column in table.columns)
    return list(dict.fromkeys(names))


def _missing_required(tables: Iterable[Table], statement: list[Token]) -> list[Param]:
    """Params the tables' API needs (required, defaulted or discovered) that no `name =` /
    `name IN` in the statement sets yet."""
    constrained = {
        token.text.rsplit(".", 1)[-1].lower()
        for token, following in itertools.pairwise(statement)
        if token.kind == "name" and (following.text == "=" or following.upper == "IN")
    }
    params = (p for table in tables for p in table.required_params)
    unset = {p.name: p for p in params if not constrained & set(p.names)}
    return list(unset.values())


def _compared_column(prior: list[Token]) -> str | None:
    """The column a value at the cursor is compared with: `col = ▮`, `col IN ('a', ▮`."""
    if not prior:
        return None
    if prior[-1].text in COMPARISONS:
        target = prior[-2] if len(prior) > 1 else None
    elif prior[-1].text in {"(", ","}:
        target = _in_list_column(prior)
    else:
        return None
    return target.text.rsplit(".", 1)[-1] if target and target.kind == "name" else None


def _in_list_column(prior: list[Token]) -> Token | None:
    depth = 0
    for index in range(len(prior) - 1, -1, -1):
        text = prior[index].text
        depth += {")": 1, "(": -1}.get(text, 0)
        if depth < 0:
            is_in = index >= 2 and prior[index - 1].upper == "IN"
            return prior[index - 2] if is_in else None
    return None


def _clause(prior: list[Token]) -> str | None:
    return next((t.upper for t in reversed(prior) if t.upper in CLAUSES), None)


def _until_semicolon(after: str) -> list[Token]:
    tokens = significant(tokenize(after))
    end = next((i for i, t in enumerate(tokens) if t.text == ";"), len(tokens))
    return tokens[:end]


def _quoted(value: str) -> str:
    """A SQL string literal of the value."""
    return "'" + value.replace("'", "''") + "'"


def _keywords(word: str, keywords: Iterable[str]) -> list[Candidate]:
    """Keywords in the case the user is typing in (upper case until they type lower)."""
    lower = bool(word) and word == word.lower()
    return [Candidate(k.lower() if lower else k, "keyword") for k in keywords]


def _matching(word: str, candidates: list[Candidate]) -> list[Candidate]:
    """Those whose text starts with the word, then names (not keywords) that contain it."""
    needle = word.lower()
    starts = [c for c in candidates if (c.display or c.text).lower().startswith(needle)]
    contains = [
        c for c in candidates if c.kind != "keyword" and needle in (c.display or c.text).lower()
    ]
    return list(dict.fromkeys([*starts, *contains]))
