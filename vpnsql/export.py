"""Write a result to a file or a partitioned directory, atomically.

Parquet and CSV are written by DuckDB itself (typed, fast, never through Python rows); the
text formats go through `vpnsql.output`. Everything is written beside the target under a
temporary name and renamed into place only when complete, so a failure or Ctrl-C leaves no
partial file and an existing target untouched.
"""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from vpnsql import output
from vpnsql.engine import interruptible, quote
from vpnsql.errors import UsageError, VpnsqlError

EXTENSIONS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".md": "markdown",
}
FILE_FORMATS = ("parquet", *output.FORMATS)
PARTITIONABLE = ("parquet", "csv")
NESTED = ("STRUCT", "MAP", "UNION")


class ExportError(VpnsqlError):
    """The file could not be written; nothing was left behind."""


def format_for(path: str, explicit: str | None, *, partitioned: bool = False) -> str:
    """The format to write `path` in: `explicit`, else the extension; a partitioned directory
    without one is parquet."""
    if explicit is not None:
        return explicit
    suffix = Path(path).suffix.lower()
    if partitioned and suffix not in EXTENSIONS:
        return "parquet"
    if suffix not in EXTENSIONS:
        known = ", ".join(EXTENSIONS)
        raise UsageError(
            f"cannot tell the format of {path} from its extension",
            hint=f"use one of {known}, or --output FORMAT",
        )
    return EXTENSIONS[suffix]


def export(
    relation: duckdb.DuckDBPyRelation,
    connection: duckdb.DuckDBPyConnection,
    path: str,
    fmt: str,
    *,
    header: bool = True,
    partition_by: Sequence[str] = (),
) -> None:
    """Write the whole result to `path` (a directory when partitioned), replacing it at once.

    `connection` is the relation's, so that Ctrl-C can interrupt DuckDB mid-write.
    """
    if partition_by:
        _check_partitions(relation, fmt, partition_by)
    partitions = list(partition_by) or None
    try:
        with _atomic(Path(path), directory=bool(partition_by)) as temporary:
            if fmt == "parquet":
                pattern = {"filename_pattern": "part-{i}"} if partition_by else {}
                interruptible(
                    connection,
                    lambda: relation.to_parquet(
                        str(temporary), compression="zstd", partition_by=partitions, **pattern
                    ),
                )
            elif fmt == "csv":
                interruptible(
                    connection,
                    lambda: _json_nested(relation).to_csv(
                        str(temporary), header=header, partition_by=partitions
                    ),
                )
            else:
                with open(temporary, "w", encoding="utf-8", newline="") as out:
                    interruptible(
                        connection, lambda: output.write(relation, fmt, out, header=header)
                    )
    except (OSError, duckdb.IOException, duckdb.PermissionException) as err:
        raise ExportError(f"cannot write {path}: {_reason(err)}") from None


def _check_partitions(relation: duckdb.DuckDBPyRelation, fmt: str, columns: Sequence[str]) -> None:
    if fmt not in PARTITIONABLE:
        raise UsageError(f"--partition-by writes {' or '.join(PARTITIONABLE)}, not {fmt}")
    known = {c.lower() for c in relation.columns}
    missing = [c for c in columns if c.lower() not in known]
    if missing:
        raise UsageError(
            f"cannot partition by {', '.join(missing)}: not a column of the result",
            hint=f"columns: {', '.join(relation.columns)}",
        )


def _json_nested(relation: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """STRUCT/LIST/MAP columns as JSON text, since CSV has no nesting."""
    parts = []
    for name, kind in zip(relation.columns, relation.types, strict=True):
        quoted = quote(name)
        text = str(kind)
        nested = text.startswith(NESTED) or text.endswith("]")
        parts.append(f"to_json({quoted})::VARCHAR AS {quoted}" if nested else quoted)
    return relation.project(", ".join(parts))


def _reason(err: Exception) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err).splitlines()[0]


@contextmanager
def _atomic(path: Path, *, directory: bool) -> Iterator[Path]:
    """A temporary path beside `path`, renamed onto it only if the block succeeds.

    A symbolic link keeps pointing where it did: the file it names is the one replaced. A
    device or pipe (/dev/stdout, a FIFO) is a stream and is written in place.
    """
    if _is_stream(path):
        if directory:
            raise ExportError(f"cannot write a partitioned directory to {path}")
        yield path
        return
    target = Path(os.path.realpath(path))
    parent = target.parent
    if not parent.is_dir():
        raise ExportError(f"cannot write {path}: no directory {parent}")
    if target.exists() and target.is_dir() != directory:
        kind = "a directory" if target.is_dir() else "a file"
        raise ExportError(f"cannot write {path}: it is {kind}")
    if directory and target.exists():
        _check_replaceable(target)
    if directory and Path.cwd().resolve().is_relative_to(target):
        raise ExportError(
            f"cannot replace {path}: it is (or holds) the current directory",
            hint="write the partitions to a directory beside it",
        )
    temporary = parent / f".{target.name}.vpnsql-{uuid.uuid4().hex[:8]}"
    try:
        yield temporary
        if target.exists():  # the new file is as private as the one it replaces
            os.chmod(temporary, stat.S_IMODE(target.stat().st_mode))
        _replace(temporary, target, directory)
    except BaseException:
        _remove(temporary)
        raise


def _is_stream(path: Path) -> bool:
    """/dev/stdout and kin (whatever the descriptor is open on), devices and pipes."""
    if str(path.absolute()).startswith(("/dev/", "/proc/")):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _check_replaceable(target: Path) -> None:
    """A directory is replaced only when it holds nothing but partitions (`column=value/`),
    as an earlier partitioned export left it: never someone's other files."""
    others = sorted(p.name for p in target.iterdir() if not (p.is_dir() and "=" in p.name))
    if others:
        raise ExportError(
            f"cannot replace {target}: it holds more than partitions ({', '.join(others[:3])}"
            f"{', ...' if len(others) > 3 else ''})",
            hint="write the partitions to a new or empty directory",
        )


def _replace(temporary: Path, target: Path, directory: bool) -> None:
    if not directory or not target.exists():
        os.replace(temporary, target)
        return
    # A directory cannot be swapped in one rename: move the old one aside first, and put it
    # back if the new one cannot take its place.
    retired = target.with_name(f".{target.name}.vpnsql-old-{uuid.uuid4().hex[:8]}")
    os.replace(target, retired)
    try:
        os.replace(temporary, target)
    except BaseException:
        os.replace(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
