"""The config file: the estate (accounts and regions per cloud) and run-wide settings, in TOML.

Where it is: `--config PATH`, else `$VPNSQL_CONFIG`, else `$XDG_CONFIG_HOME/vpnsql/config.toml`
(`~/.config/vpnsql/config.toml`). No file is no estate: one `default` account per cloud from
its standard credential chain, as without vpnsql's config at all. A file named explicitly must
exist.

Each provider declares the keys of its own section (`Provider.config`, a tuple of `Key`); the
`[vpnsql]` section holds run-wide settings. Everything is checked when the file is read: an
unknown key, a value of the wrong type or a missing required key is an error naming the file,
the line and the key, so a typo never silently means "no such setting".
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vpnsql.errors import UsageError

CONFIG_VARIABLE = "VPNSQL_CONFIG"
KINDS = {
    "string": "a string",
    "strings": "a list of strings",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "table": "a table",
    "tables": "an array of tables ([[...]])",
}


@dataclass(frozen=True)
class Key:
    """One key a config section may have: its TOML kind, what it means, and for tables (one
    `[a.b]` or an array `[[a.b]]`) the keys inside."""

    name: str
    kind: str
    description: str
    required: bool = False
    keys: tuple[Key, ...] = ()
    pattern: str | None = None
    """For strings (and lists of them): what each value must look like."""
    unique: str | None = None
    """For arrays of tables: a key whose values no two entries may share (`name`)."""
    excludes: tuple[str, ...] = ()
    """Keys of the same table that cannot be given together with this one."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"config key {self.name}: unknown kind {self.kind}")


SETTINGS_KEYS = (
    Key("max_concurrency", "integer", "API calls in flight at once, in all (--max-concurrency)."),
    Key(
        "region_concurrency",
        "integer",
        "API calls in flight at once to one account and region of a cloud, as clouds throttle.",
    ),
    Key("timeout", "number", "Seconds a statement's API calls may take in all (--timeout)."),
    Key("max_calls", "integer", "API calls one statement may make (--max-calls)."),
    Key(
        "memory_limit",
        "string",
        "What DuckDB may hold in memory (e.g. '256MB', '2GB'); past it, it spills to a private "
        "temporary directory.",
        pattern=r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)",
    ),
)
"""The `[vpnsql]` section: run-wide settings that flags override."""


class ConfigError(UsageError):
    """The config file cannot be used as written; the message names the file and line."""


@dataclass(frozen=True)
class Config:
    """A checked config file: `sections` by provider name, `settings` from `[vpnsql]`."""

    path: Path | None = None
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    text: str = field(default="", repr=False)


def locate(explicit: str | None, environ: Mapping[str, str]) -> tuple[Path | None, bool]:
    """The config file to read and whether it was named (then it must exist)."""
    if explicit:
        return Path(explicit).expanduser(), True
    if value := environ.get(CONFIG_VARIABLE):
        return Path(value).expanduser(), True
    base = environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "vpnsql" / "config.toml", False


def load(
    explicit: str | None,
    schema: Mapping[str, Sequence[Key]],
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read and check the config file (see `locate`); `schema` maps each provider's name to
    its keys. No file, unless one was named, is an empty Config."""
    path, named = locate(explicit, os.environ if environ is None else environ)
    try:
        text = path.read_text(encoding="utf-8") if path is not None else ""
    except FileNotFoundError:
        if named:
            raise ConfigError(f"config file {path} does not exist") from None
        return Config()
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "it is not UTF-8"
        raise ConfigError(f"cannot read config file {path}: {reason}") from None
    return parse(text, schema, path)


def parse(text: str, schema: Mapping[str, Sequence[Key]], path: Path | None = None) -> Config:
    """Check TOML text against the schema: every section a known provider (or `vpnsql`)."""
    where = str(path) if path is not None else "config"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{where}: {err}") from None
    checker = _Checker(text, where)
    sections = {"vpnsql": SETTINGS_KEYS, **schema}
    checked = checker.table(data, sections_as_keys(sections), ())
    settings = checked.pop("vpnsql", {})
    return Config(path, checked, settings, text)


def error(config: Config, path: tuple[str | int, ...], message: str) -> ConfigError:
    """An error about a value a provider found wrong, naming the file and the value's line."""
    where = str(config.path) if config.path is not None else "config"
    return _Checker(config.text, where).error(path, message)


def sections_as_keys(sections: Mapping[str, Sequence[Key]]) -> tuple[Key, ...]:
    return tuple(
        Key(name, "table", f"[{name}]", keys=tuple(keys)) for name, keys in sections.items()
    )


class _Checker:
    """Checks values against keys, and finds the line of a key for the message."""

    def __init__(self, text: str, where: str) -> None:
        self.lines = text.splitlines()
        self.where = where

    def table(
        self, values: Mapping[str, Any], keys: Iterable[Key], path: tuple[str | int, ...]
    ) -> dict[str, Any]:
        by_name = {key.name: key for key in keys}
        checked: dict[str, Any] = {}
        for name, value in values.items():
            key = by_name.get(name)
            if key is None:
                what = f"key {_dotted((*path, name))}" if path else f"section [{name}]"
                raise self.error((*path, name), f"unknown {what}", by_name)
            for other in key.excludes:
                if other in values:
                    raise self.error(
                        (*path, name),
                        f"{_dotted((*path, name))} and {other} cannot be given together",
                    )
            checked[name] = self.value(key, value, (*path, name))
        for key in by_name.values():
            if key.required and key.name not in values:
                raise self.error(path, f"{_dotted(path) or 'the file'} needs {key.name}")
        return checked

    def value(self, key: Key, value: Any, path: tuple[str | int, ...]) -> Any:
        kind = key.kind
        if kind == "table" and isinstance(value, dict):
            return self.table(value, key.keys, path)
        if kind == "tables" and isinstance(value, list) and all(isinstance(v, dict) for v in value):
            entries = [self.table(item, key.keys, (*path, i)) for i, item in enumerate(value)]
            if key.unique is not None:
                self.distinct(entries, key.unique, path)
            return entries
        if kind == "strings" and isinstance(value, list) and all(isinstance(v, str) for v in value):
            for index, item in enumerate(value):
                self.matches(key, item, path, f"{_dotted(path)}[{index + 1}]")
            return list(value)
        if kind == "string" and isinstance(value, str):
            self.matches(key, value, path, _dotted(path))
            return value
        if kind == "boolean" and isinstance(value, bool):
            return value
        if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise self.error(path, f"{_dotted(path)} must be {KINDS[kind]}")

    def matches(self, key: Key, value: str, path: tuple[str | int, ...], what: str) -> None:
        if key.pattern is not None and not re.fullmatch(key.pattern, value):
            raise self.error(path, f"{what} = {value!r} is not valid ({key.description})")

    def distinct(
        self, entries: list[dict[str, Any]], name: str, path: tuple[str | int, ...]
    ) -> None:
        seen: set[Any] = set()
        for index, entry in enumerate(entries):
            if name in entry and entry[name] in seen:
                raise self.error(
                    (*path, index, name), f"{_dotted(path)}: {name} {entry[name]!r} is given twice"
                )
            seen.add(entry.get(name))

    def error(
        self, path: tuple[str | int, ...], message: str, known: Mapping[str, Key] | None = None
    ) -> ConfigError:
        line = self.line_of(path)
        at = f", line {line}" if line else ""
        hint = None
        if known is not None:
            close = difflib.get_close_matches(str(path[-1]), list(known), n=1)
            listed = ", ".join(known) or "none"
            hint = f"did you mean {close[0]}? known keys: {listed}" if close else f"known: {listed}"
        return ConfigError(f"{self.where}{at}: {message}", hint=hint)

    def line_of(self, path: tuple[str | int, ...]) -> int | None:
        """The line where the key at `path` is written (1-based), found by reading the
        headers (`[a.b]`, `[[a.b]]` counted per array entry) and `key =` lines."""
        if not path:
            return None
        *parents, last = path
        header = ".".join(p for p in parents if isinstance(p, str))
        entry = next((p for p in parents if isinstance(p, int)), 0)
        if isinstance(last, int):  # an entry of an array of tables: its header
            header, entry, last = ".".join(str(p) for p in parents), last, ""
        seen = {"": 0}
        current = ""
        fallback = None
        for number, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            if stripped.startswith("["):
                current = stripped.strip("[]").strip()
                seen[current] = seen.get(current, -1) + 1
                if not last and current == header and seen[current] == entry:
                    return number
                if last and current == f"{header}.{last}".strip("."):
                    fallback = fallback or number  # the key is itself a table
                continue
            if last and re.match(rf"\s*\"?{re.escape(last)}\"?\s*=", line):
                if current == header and seen.get(current) == entry:
                    return number
                fallback = fallback or number
        return fallback


def _dotted(path: tuple[str | int, ...]) -> str:
    """`aws.accounts[2].profile` for ("aws", "accounts", 1, "profile") (1-based entries)."""
    text = ""
    for part in path:
        text += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
