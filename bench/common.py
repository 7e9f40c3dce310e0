"""What the benchmarks share: a sandbox in its own process, seeding it, timing processes.

The sandbox runs as `vpnsql sandbox` in a separate process, so its XML serialization does not
compete with the measured client under one GIL. Peak memory of a measured process is read
from /proc/self/status (VmHWM) at its exit: wait4's ru_maxrss would include the high-water
mark a forked child inherits from the (large) benchmark process.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

PEAK = """
import atexit, os
def _report_peak():
    with open("/proc/self/status") as status:
        peak = next(line for line in status if line.startswith("VmHWM"))
    with open(os.environ["VPNSQL_BENCH_PEAK"], "w") as out:
        out.write(peak.split()[1])
atexit.register(_report_peak)
_exit = os._exit
def _exit_reporting_peak(code):  # the vpnsql command ends with os._exit, which skips atexit
    _report_peak()
    _exit(code)
os._exit = _exit_reporting_peak
"""
VPNSQL_CLI = (
    PEAK
    + "import runpy, sys\nsys.argv = ['vpnsql', *sys.argv[1:]]\n"
    + "runpy.run_module('vpnsql.cli', run_name='__main__')\n"
)
"""`python -c VPNSQL_CLI ARGS...` is `vpnsql ARGS...` reporting its peak memory."""


@contextmanager
def sandbox(latency: float = 0.0, *, estate: bool = False) -> Iterator[dict[str, str]]:
    """`vpnsql sandbox --port 0 --no-demo` in its own process; yields the env that uses it,
    with the machine's own AWS configuration hidden. With `estate`, the env keeps the
    sandbox's VPNSQL_CONFIG (its Organization and Alibaba accounts); without, vpnsql sees one
    account per cloud."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vpnsql.cli", "sandbox", "--port", "0", "--no-demo",
         "--latency", str(latency)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    exports: dict[str, str] = {}
    assert proc.stdout is not None
    while "VPNSQL_CONFIG" not in exports:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the sandbox did not start")
        name, _, value = line.removeprefix("export ").strip().partition("=")
        exports[name] = value
    if not estate:
        del exports["VPNSQL_CONFIG"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VPNSQL_"))}
    env.update(exports, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    try:
        yield env
    finally:
        proc.terminate()
        proc.wait()


def seed(env: dict[str, str], region: str, endpoint_id: str, count: int) -> None:
    """Connections for an endpoint (created if missing) through the sandbox's seed route."""
    body = {"region": region, "endpoint_id": endpoint_id, "count": count, "users": 500, "seed": 1}
    request = urllib.request.Request(
        f"{env['AWS_ENDPOINT_URL']}/_vpnsql/seed", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        assert response.status == 200


def seed_alibaba(env: dict[str, str], region: str, gateway_id: str, count: int) -> None:
    """SSL-VPN clients for a gateway (created if missing) through the emulator's seed route."""
    body = {"region": region, "gateway_id": gateway_id, "count": count, "seed": 1}
    request = urllib.request.Request(
        f"{env['VPNSQL_ALIBABA_ENDPOINT']}/_vpnsql/seed", data=json.dumps(body).encode(),
        method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=600) as response:
        assert response.status == 200


@contextmanager
def using(env: dict[str, str]) -> Iterator[None]:
    """This process's AWS and Alibaba variables set to `env`'s, for in-process measurements."""
    saved = dict(os.environ)
    os.environ.update(
        {k: v for k, v in env.items() if k.startswith(("AWS_", "ALIBABA_", "VPNSQL_"))}
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def timed_process(argv: Sequence[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall time, peak RSS in MiB (0 unless argv runs PEAK), and stdout of one fresh process."""
    with tempfile.NamedTemporaryFile() as peak:
        started = time.perf_counter()
        result = subprocess.run(
            argv, env={**env, "VPNSQL_BENCH_PEAK": peak.name}, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"{argv[:3]} failed: {result.stderr}")
        return elapsed, int(peak.read() or 0) // 1024, result.stdout


def timed(function: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def report(title: str, results: dict[str, list[float]], unit: str = "s") -> dict[str, float]:
    """Print the median of each measurement; return them."""
    median = {name: statistics.median(values) for name, values in results.items()}
    runs = max(map(len, results.values()))
    print(f"\n{title} (median of {runs})")
    width = max(map(len, median))
    for name, value in median.items():
        print(f"  {name:<{width}}  {value:10.3f}")
    return median
