"""The `vpnsql` command: argument parsing and exit codes (errors become text in runner.py).

Heavy modules (duckdb, sqlglot, boto3, moto) are imported inside the functions that need them so
`vpnsql --help` and `--version` stay instant.
"""

from __future__ import annotations

import argparse
import functools
import gc
import math
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from vpnsql import __version__
from vpnsql.runner import EXIT_ERROR, diagnostic, report_error, report_failed_calls
from vpnsql.tables import CALL_TIMEOUT

if TYPE_CHECKING:
    import duckdb

    from vpnsql.console import Console
    from vpnsql.registry import Registry
    from vpnsql.tables import Settings

EXIT_OK, EXIT_USAGE, EXIT_PARTIAL = 0, 2, 3
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE, EXIT_TERMINATED = 130, 141, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, `timeout`, systemd), unwound like Ctrl-C so nothing partial is left."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


# vpnsql.export.FILE_FORMATS, spelled out so --help needs no import of duckdb
FORMATS = ("table", "json", "jsonl", "csv", "markdown", "parquet")

EPILOG = """\
examples:
  vpnsql --sandbox -e "SELECT connectionId, username, ingressBytes
                       FROM aws.ec2_api.client_vpn_connections
                       WHERE ClientVpnEndpointId = 'cvpn-endpoint-0a1b2c3d4e5f60001'
                         AND region = 'us-east-1'"
  vpnsql -f audit.sql --output csv > audit.csv
  vpnsql sandbox            serve the local fake clouds for other tools (--help: its options)

exit codes: 0 ok, 1 query/API/auth error, 2 usage error, 3 partial result
(--allow-partial), 130 interrupted
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vpnsql",
        description="SQL over VPN client connections (AWS Client VPN, ...).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-e",
        "--execute",
        action="append",
        default=[],
        metavar="SQL",
        help="statements to run (repeatable; ';' separates statements)",
    )
    parser.add_argument("-f", "--file", metavar="FILE", help="read statements from FILE")
    parser.add_argument(
        "-o",
        "--output",
        choices=FORMATS,
        help="result format (default: table; with --outfile, the file's extension's)",
    )
    parser.add_argument(
        "--no-header",
        action="store_true",
        help="csv/table/markdown without the header row (and the table's row count)",
    )
    parser.add_argument(
        "--outfile",
        metavar="PATH",
        help="write the last result to PATH (format from the extension: .csv .parquet .json "
        ".jsonl .ndjson .md), atomically",
    )
    parser.add_argument(
        "--partition-by",
        action="append",
        default=[],
        metavar="COLUMN",
        help="with --outfile DIR: Hive-style partitioned parquet/csv (repeatable)",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="the estate's config file (default: $VPNSQL_CONFIG, else "
        "$XDG_CONFIG_HOME/vpnsql/config.toml); see docs/estate.md",
    )
    parser.add_argument("--profile", help="AWS credentials profile (of the default account)")
    parser.add_argument(
        "--yes",
        action="store_true",
        help="allow a DELETE to terminate more than one connection without asking",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="turn every terminate into the API's dry run (checks permission, ends nothing; "
        "a DELETE then needs no --yes)",
    )
    parser.add_argument(
        "--max-concurrency",
        type=_whole,
        metavar="N",
        help="API calls in flight at once, in all (default: 64; at most 10 per account and region)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        metavar="SECONDS",
        help="how long a statement's API calls may take in all (default: 300); each call, "
        f"its retries included, at most {CALL_TIMEOUT:g} of them",
    )
    parser.add_argument(
        "--max-calls",
        type=_whole,
        metavar="N",
        help="API calls one statement may make (default: 5000)",
    )
    parser.add_argument(
        "--no-pushdown",
        action="store_true",
        help="send no filter or time range to any API: read every row, let DuckDB filter "
        "(slow; for checking that pushdown changes no answer)",
    )
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="when some API calls fail, keep the rows that arrived, report each failure on "
        "stderr and exit 3 (default: fail with exit 1)",
    )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="run against a local emulated cloud with demo data (no account needed)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"vpnsql {__version__}")
    return parser


def build_sandbox_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vpnsql sandbox",
        description="Serve the local emulated clouds (with demo data) until Ctrl-C, and print "
        "the environment other tools need to use them.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=_port, default=5000, help="the AWS port (default: 5000; 0 picks a free one)"
    )
    parser.add_argument(
        "--alibaba-port",
        type=_port,
        default=0,
        metavar="PORT",
        help="the Alibaba Cloud port (default: 0, a free one; fix it for stable export lines)",
    )
    parser.add_argument(
        "--latency",
        type=functools.partial(_seconds, zero=True),
        default=0.0,
        metavar="SECONDS",
        help="delay added to each call (default: 0)",
    )
    parser.add_argument("--no-demo", action="store_true", help="start empty, without demo data")
    return parser


def _seconds(text: str, zero: bool = False) -> float:
    """A finite number of seconds, positive (or, with `zero`, at least 0)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and (value >= 0 if zero else value > 0)):
        kind = "0 or more" if zero else "a positive number of"
        raise argparse.ArgumentTypeError(f"must be {kind} seconds, not {text}")
    return value


def _whole(text: str, low: int = 1, high: int | None = None) -> int:
    """A whole number from `low` (to `high`): a count, or a TCP port (0 picks a free one)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < low or (high is not None and value > high):
        span = f"{low} to {high}" if high is not None else f"at least {low}"
        raise argparse.ArgumentTypeError(f"must be {span}, not {text}")
    return value


_port = functools.partial(_whole, low=0, high=65535)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        if args_list[:1] == ["sandbox"]:
            return _serve_sandbox(build_sandbox_parser().parse_args(args_list[1:]))
        return _run(build_parser().parse_args(args_list))
    except Terminated:
        print("vpnsql: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("vpnsql: interrupted", file=sys.stderr)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as err:
        if debug:
            raise
        return report_error(err)
    return EXIT_INTERRUPTED


def run() -> None:
    """The console script: exit with main()'s code as soon as the output is flushed.

    Everything worth finishing is finished by then (exports renamed into place, temporary
    files removed, the sandbox stopped), so the process skips interpreter finalization: tearing
    down some 400 modules costs a one-liner about 0.1 s, and after Ctrl-C DuckDB's bindings
    would report the interrupted work's objects as leaks.
    """
    signal.signal(signal.SIGTERM, _terminate)
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = EXIT_BROKEN_PIPE
    sys.stderr.flush()
    os._exit(code)


def _show_notices(debug: bool) -> None:
    """The library's notices (a provider skipped, ...) as one line each on stderr.

    What other libraries log (urllib3's pool warnings, ...) shows only with --debug: vpnsql
    reports outcomes in its own words.
    """
    import logging

    from vpnsql.terminal import VisibleFormatter

    logger = logging.getLogger("vpnsql")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(VisibleFormatter("vpnsql: notice: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr) if debug else logging.NullHandler())


def _read_sources(args: argparse.Namespace) -> list[tuple[str | None, str]]:
    """What to run: each -e as SQL (no source), then -f FILE (`-` is stdin) or piped stdin as
    a script named for error locations, each held to the one rule of `planner.readable` (UTF-8,
    no NUL) under its own name. Empty when stdin is a terminal: the shell."""
    from vpnsql.errors import UsageError
    from vpnsql.planner import decoded, readable

    sources: list[tuple[str | None, str]] = [(None, readable(text, "-e")) for text in args.execute]
    if args.file == "-" or (not args.file and not sources and not sys.stdin.isatty()):
        sources.append(("<stdin>", decoded(sys.stdin.buffer.read(), "<stdin>")))
    elif args.file:
        try:
            with open(args.file, "rb") as handle:
                sources.append((args.file, decoded(handle.read(), args.file)))
        except OSError as err:
            raise UsageError(f"cannot read {args.file}: {err.strerror}") from None
    return sources


def _run(args: argparse.Namespace) -> int:
    _show_notices(args.debug)
    stdout_format, file_format = _check_output_args(args)
    sources = _read_sources(args)
    if not sources:  # nothing to run, and stdin is a terminal: the interactive shell
        from vpnsql import shell

        with _maybe_sandbox(args.sandbox):
            registry, settings = _settings(args)
            return shell.run(args, registry, settings)
    with _maybe_sandbox(args.sandbox), _without_cycle_collection():
        from vpnsql import statements
        from vpnsql.console import Console
        from vpnsql.session import Session

        registry, settings = _settings(args)
        session = Session(
            registry=registry,
            settings=settings,
            # A dry run ends nothing, so it is the natural preview and needs no --yes.
            confirm=(lambda preview: True)
            if args.yes or settings.dry_run
            else statements.refuse_many,
            allow_partial=args.allow_partial,
        )
        console = Console(
            session,
            sys.stdout,
            fmt=stdout_format,
            header=not args.no_header,
            width=_terminal_width,
        )
        try:
            return _run_sources(console, sources, args, file_format)
        finally:
            session.close()  # os._exit skips DuckDB's teardown, which removes its spill files


def _settings(args: argparse.Namespace) -> tuple[Registry, Settings]:
    """The providers, and the run's settings from the config file under the flags."""
    from vpnsql.registry import Registry
    from vpnsql.settings import make_settings

    registry = Registry.discover()
    settings = make_settings(
        registry,
        config=args.config,
        profile=args.profile,
        dry_run=args.dry_run,
        max_concurrency=args.max_concurrency,
        max_calls=args.max_calls,
        timeout=args.timeout,
        pushdown=not args.no_pushdown,
    )
    return registry, settings


def _terminal_width() -> int | None:
    """On a terminal, wide table rows turn vertical, as in the shell; elsewhere never."""
    import shutil

    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


def _check_output_args(args: argparse.Namespace) -> tuple[str, str | None]:
    """The stdout and --outfile formats, or a UsageError naming what conflicts."""
    from vpnsql import export
    from vpnsql.errors import UsageError

    if args.outfile is not None and not args.outfile.strip():
        raise UsageError("--outfile needs a path")
    if args.partition_by and not args.outfile:
        raise UsageError("--partition-by needs --outfile DIR")
    stdout_format, file_format = export.output_formats(
        args.outfile, args.output, partitioned=bool(args.partition_by)
    )
    if stdout_format == "parquet" and sys.stdout.isatty():
        raise UsageError(
            "-o parquet is binary and stdout is a terminal",
            hint="redirect stdout to a file (> results.parquet) or add --outfile results.parquet",
        )
    return stdout_format, file_format


def _run_sources(
    console: Console,
    sources: list[tuple[str | None, str]],
    args: argparse.Namespace,
    file_format: str | None,
) -> int:
    """Run the -e texts and the script in turn; --outfile takes the last result.

    Exit 1 if any terminate call failed, 3 if --allow-partial dropped failed fetches.
    """
    final = None
    if args.outfile and file_format is not None:
        final = functools.partial(_export, console, args, file_format)
    console.run(sources, final)
    if console.failed:
        report_failed_calls(console.failed)
        return EXIT_ERROR
    if console.partial:
        print(f"vpnsql: partial result: {console.partial} call(s) failed", file=sys.stderr)
        return EXIT_PARTIAL
    return EXIT_OK


def _export(
    console: Console,
    args: argparse.Namespace,
    fmt: str,
    relation: duckdb.DuckDBPyRelation,
) -> None:
    from vpnsql import export

    export.export(
        relation,
        console.session.connection,
        args.outfile,
        fmt,
        header=not args.no_header,
        partition_by=args.partition_by,
    )
    diagnostic(f"vpnsql: wrote {args.outfile} ({fmt})")


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Run one-shot statements with Python's cycle collector off.

    Nearly everything a one-liner allocates (modules, service models, rows) lives until it
    exits, and what dies is freed by reference counting; the collector would rescan it all
    some 150 times (about 50 ms of a cold query) to find a few dozen cyclic objects.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextmanager
def _maybe_sandbox(enabled: bool) -> Iterator[None]:
    """With --sandbox, run against a fresh local cloud and nothing of the real configuration."""
    if not enabled:
        yield
        return
    from vpnsql.isolation import sandboxed

    with sandboxed() as running:
        print(
            f"vpnsql: using the sandbox (AWS at {running.endpoint_url}, "
            f"Alibaba at {running.alibaba.url}, Azure at {running.azure.url})",
            file=sys.stderr,
        )
        yield


def _serve_sandbox(args: argparse.Namespace) -> int:
    import threading

    from vpnsql import sandbox

    running = sandbox.start(
        host=args.host,
        port=args.port,
        demo=not args.no_demo,
        latency=args.latency,
        alibaba_port=args.alibaba_port,
    )
    for name, value in {**running.env(), "VPNSQL_CONFIG": str(running.config_path)}.items():
        print(f"export {name}={value}")
    sys.stdout.flush()
    print(
        f"vpnsql: sandbox serving AWS on {running.endpoint_url} and Alibaba Cloud on "
        f"{running.alibaba.url}; Ctrl-C stops it",
        file=sys.stderr,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("vpnsql: sandbox stopped", file=sys.stderr)
    finally:
        running.stop()
    return EXIT_OK


if __name__ == "__main__":
    run()
