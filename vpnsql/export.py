"""Write a result to a file or a partitioned directory, atomically.

Parquet, CSV, JSON and JSON lines are written by DuckDB itself (typed, fast, never through
Python rows), with timestamps and the values JSON cannot say (NaN, intervals, bytes) written
as the console writes them; table and markdown go through `vpnsql.output`. Everything is
written beside the target under a temporary name and renamed into place only when complete,
so a failure or Ctrl-C leaves no partial file and an existing target untouched. A directory is
swapped with its replacement in one step (Linux's renameat2 RENAME_EXCHANGE) where the
platform can; elsewhere the old one is moved aside first, and for that moment the name is
missing.

Temporaries are named `.NAME.vpnsql-PID-XXXXXXXX` (and `.NAME.vpnsql-old-PID-XXXXXXXX` for a
directory moved aside), so that a later write to the same directory can tell those of a
process that is gone (killed with SIGKILL, or mid-swap) and clean them up: a directory moved
aside whose name is missing is put back, anything else is removed.

A stream (a device, a FIFO, /dev/stdout) is written in place: at its current position, never
truncated, so `--outfile /dev/stdout` after earlier output, or into a `>>` target, appends.

A file's format follows its extension (`format_for`), wherever a file is written.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import re
import shutil
import stat
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, BinaryIO

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


def format_for(path: str, default: str | None = None, *, partitioned: bool = False) -> str:
    """The format `path` is written in: its extension's, else `default`; a partitioned
    directory without either is parquet."""
    suffix = Path(path).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    if default is not None:
        return default
    if partitioned:
        return "parquet"
    raise UsageError(
        f"cannot tell the format of {path} from its extension",
        hint=f"name it with one of {', '.join(EXTENSIONS)}, or give --output FORMAT",
    )


def output_formats(
    outfile: str | None, given: str | None, *, partitioned: bool = False
) -> tuple[str, str | None]:
    """The command line's formats: for stdout, and for --outfile (None without one).

    One rule: the file's extension decides its format, and --output, when given, must agree
    with it; a file without a known extension takes --output's format.
    """
    if outfile is None:
        return given or "table", None
    fmt = format_for(outfile, given, partitioned=partitioned)
    if given is not None and given != fmt:
        raise UsageError(
            f"--output {given} conflicts with --outfile {outfile}, whose extension means {fmt}",
            hint=f"drop --output (the file is {fmt}), or name the file for {given}",
        )
    return given or "table", fmt


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
    target = Path(path)
    try:
        if _is_stream(target):
            if partition_by:
                raise ExportError(f"cannot write a partitioned directory to {path}")
            with _opened(target) as out:
                to_stream(relation, connection, fmt, out, header=header)
            return
        with _atomic(target, directory=bool(partition_by)) as temporary:
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
                    lambda: _as_console(relation, fmt).to_csv(
                        str(temporary), header=header, partition_by=partitions
                    ),
                )
            elif fmt in ("json", "jsonl"):
                interruptible(connection, lambda: _json_file(relation, connection, temporary, fmt))
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


def _as_console(relation: duckdb.DuckDBPyRelation, fmt: str) -> duckdb.DuckDBPyRelation:
    """The result with each column as the console writes it in `fmt` (csv, json or jsonl), for
    DuckDB's writers: a timestamp column at one precision (ISO-8601 `...Z` in JSON); in CSV
    nested values as JSON text; in JSON NaN and infinities as null, intervals as seconds and
    bytes as hex (JSON has no words for them)."""
    times = output.time_digits(relation)
    parts = []
    for index, (name, kind) in enumerate(zip(relation.columns, relation.types, strict=True)):
        quoted, text = quote(name), str(kind)
        value = quoted
        if index in times:
            value = f"strftime({quoted}::TIMESTAMP, {_time_format(times[index], fmt)!r})"
        elif fmt == "csv" and (text.startswith(NESTED) or text.endswith("]")):
            value = f"to_json({quoted})::VARCHAR"
        elif fmt != "csv" and text in ("DOUBLE", "FLOAT"):
            value = f"CASE WHEN isfinite({quoted}) THEN {quoted} END"
        elif fmt != "csv" and text == "INTERVAL":
            value = f"epoch({quoted})"
        elif fmt != "csv" and text == "BLOB":
            value = f"lower(hex({quoted}))"
        parts.append(value if value == quoted else f"{value} AS {quoted}")
    return relation.project(", ".join(parts))


def _time_format(digits: int, fmt: str) -> str:
    fraction = {0: "", 3: ".%g", 6: ".%f"}[digits]
    if fmt == "csv":
        return f"%Y-%m-%d %H:%M:%S{fraction}"
    return f"%Y-%m-%dT%H:%M:%S{fraction}Z"


def _json_file(
    relation: duckdb.DuckDBPyRelation,
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
) -> None:
    """DuckDB's JSON writer: an array for json, one object per line for jsonl.

    On one thread: keeping the rows' order across threads, DuckDB's JSON writer buffers whole
    batches (over 190 MB for 200,000 connections), more than the engine's memory limit lets
    it have; one thread writes them in order as they come, about as fast.
    """
    name = f"__vpnsql_export_{uuid.uuid4().hex[:8]}"
    connection.register(name, _as_console(relation, fmt))
    array = ", ARRAY true" if fmt == "json" else ""
    target = str(path).replace("'", "''")
    [(threads,)] = connection.sql("SELECT current_setting('threads')").fetchall()
    connection.execute("SET threads = 1")
    try:
        connection.execute(f"COPY {quote(name)} TO '{target}' (FORMAT json{array})")
    finally:
        connection.execute(f"SET threads = {int(threads)}")
        connection.unregister(name)


def to_stream(
    relation: duckdb.DuckDBPyRelation,
    connection: duckdb.DuckDBPyConnection,
    fmt: str,
    stream: BinaryIO,
    *,
    header: bool = True,
) -> None:
    """Write the whole result to a binary stream (stdout redirected to a file, a pipe), as
    the file `export` writes: DuckDB's writers need a path, so through a temporary one."""
    with tempfile.TemporaryDirectory(prefix="vpnsql-") as directory:
        path = Path(directory) / f"result.{fmt}"
        export(relation, connection, str(path), fmt, header=header)
        with path.open("rb") as written:
            shutil.copyfileobj(written, stream)
    stream.flush()


def _reason(err: Exception) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err).splitlines()[0]


@contextmanager
def _atomic(path: Path, *, directory: bool) -> Iterator[Path]:
    """A temporary path beside `path`, renamed onto it only if the block succeeds.

    A symbolic link keeps pointing where it did: the file it names is the one replaced.
    """
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
    sweep(parent)
    temporary = _temporary(target)
    try:
        yield temporary
        if target.exists():  # the new file is as private as the one it replaces
            os.chmod(temporary, stat.S_IMODE(target.stat().st_mode))
        _replace(temporary, target, directory)
    except BaseException:
        _remove(temporary)
        raise


_DESCRIPTORS = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def _own_descriptor(path: Path) -> int | None:
    """The number of this process's descriptor `path` names (/dev/stdout, /dev/fd/N,
    /proc/self/fd/N), whatever it is open on; None for any other path."""
    name = str(path.absolute())
    if name in _DESCRIPTORS:
        return _DESCRIPTORS[name]
    found = re.fullmatch(rf"/dev/fd/(\d+)|/proc/(?:self|{os.getpid()})/fd/(\d+)", name)
    return None if found is None else int(found[1] or found[2])


def _is_stream(path: Path) -> bool:
    """This process's descriptors (/dev/stdout, ...), devices and pipes; a regular file or a
    directory (also under /dev, such as /dev/shm) is not."""
    if _own_descriptor(path) is not None:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


@contextmanager
def _opened(stream: Path) -> Iterator[IO[bytes]]:
    """The stream for writing at its current position, never truncated: one of this
    process's own descriptors (/dev/stdout, /dev/fd/N) through a duplicate of it, exactly
    where earlier output ended; any other stream opened for appending."""
    number = _own_descriptor(stream)
    if number is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        descriptor = os.dup(number)
    else:
        descriptor = os.open(stream, os.O_WRONLY | os.O_APPEND)
    with open(descriptor, "wb") as out:
        yield out


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
    if exchange(temporary, target):  # the old directory is now at the temporary name
        shutil.rmtree(temporary, ignore_errors=True)
        return
    # No exchange here: move the old one aside first, and put it back if the new one cannot
    # take its place. Killed in between, the next write to this directory puts it back.
    retired = _temporary(target, "old-")
    os.replace(target, retired)
    try:
        os.replace(temporary, target)
    except BaseException:
        os.replace(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step (renameat2 RENAME_EXCHANGE), so that a reader of either
    name sees the old or the new one, never none; False where the platform (or the file
    system) cannot."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, bytes(first), _AT_FDCWD, bytes(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


@functools.cache
def _renameat2() -> Any:
    """libc's renameat2 (Linux, glibc 2.28 and later), or None."""
    if not sys.platform.startswith("linux"):
        return None
    function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if function is not None:
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
        function.argtypes.append(ctypes.c_uint)
        function.restype = ctypes.c_int
    return function


_TEMPORARY = re.compile(r"\.(?P<name>.+)\.vpnsql-(?P<old>old-)?(?:(?P<pid>\d+)-)?[0-9a-f]{8}")
LEGACY_AGE = 3600.0
"""Seconds after which a temporary of an earlier vpnsql, whose name has no process ID, is
taken to be stale."""


def _temporary(target: Path, kind: str = "") -> Path:
    """A name beside `target` for a temporary of this process (see the module docstring)."""
    return target.with_name(f".{target.name}.vpnsql-{kind}{os.getpid()}-{uuid.uuid4().hex[:8]}")


def sweep(directory: Path) -> None:
    """Clean what killed vpnsql processes left in `directory`: a directory moved aside whose
    name is missing is put back; other temporaries of processes that are gone are removed.
    Those of a process still running (another vpnsql writing here) are left alone."""
    try:
        entries = list(directory.iterdir())
    except OSError:
        return
    for entry in entries:
        found = _TEMPORARY.fullmatch(entry.name)
        if found is None or not _stale(entry, found["pid"]):
            continue
        original = entry.with_name(found["name"])
        if found["old"] and not original.exists() and not original.is_symlink():
            with suppress(OSError):
                os.rename(entry, original)
                continue
        with suppress(OSError):
            _remove(entry)


def _stale(entry: Path, pid: str | None) -> bool:
    if pid is None:  # an earlier vpnsql's name: stale once old enough
        with suppress(OSError):
            return time.time() - entry.lstat().st_mtime > LEGACY_AGE
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, someone else's
        return False
    return False


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
