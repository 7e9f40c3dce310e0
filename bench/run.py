"""vpnsql benchmarks against the local sandbox: run `python bench/run.py [--rows N]`.

Everything is measured in one run on one machine and reported as ratios, because absolute
times on shared machines are noise. The sandbox runs in its own process (as `vpnsql sandbox`),
so its XML serialization does not compete with the client under one GIL.

Measured:
- volume: N connections in one endpoint, vpnsql end to end (a fresh `vpnsql -e` process)
  against a plain boto3 paginate loop in a fresh process; both report the same count. Peak
  memory (max RSS) of each process too. Target: vpnsql <= 1.3x boto3, vpnsql < 1 GB.
- in-process: the same query through `vpnsql.connect().sql()` against the loop in-process.
- cold start: `vpnsql --help`. Target: < 0.15 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence

ENDPOINT_ID = "cvpn-endpoint-0be0c4a1b2c3d4e5f"
REGION = "us-east-1"
QUERY = (
    "SELECT count(*) AS n, sum(ingressBytes) AS bytes FROM aws.ec2_api.client_vpn_connections "
    f"WHERE ClientVpnEndpointId = '{ENDPOINT_ID}' AND region = '{REGION}'"
)
# Peak memory is read from /proc/self/status (VmHWM) at exit: wait4's ru_maxrss would include
# the high-water mark a forked child inherits from this (large) benchmark process.
PEAK = """
import atexit, os
def _report_peak():
    with open("/proc/self/status") as status:
        peak = next(line for line in status if line.startswith("VmHWM"))
    with open(os.environ["VPNSQL_BENCH_PEAK"], "w") as out:
        out.write(peak.split()[1])
atexit.register(_report_peak)
"""
VPNSQL_CLI = (
    PEAK
    + "import runpy, sys\nsys.argv = ['vpnsql', *sys.argv[1:]]\n"
    + "runpy.run_module('vpnsql.cli', run_name='__main__')\n"
)
BOTO3_LOOP = (
    PEAK
    + f"""
import boto3
client = boto3.client("ec2", region_name="{REGION}")
n = total = 0
pages = client.get_paginator("describe_client_vpn_connections").paginate(
    ClientVpnEndpointId="{ENDPOINT_ID}", PaginationConfig={{"PageSize": 1000}}
)
for page in pages:
    for c in page["Connections"]:
        n += 1
        total += int(c["IngressBytes"])
print(n, total)
"""
)


def start_sandbox() -> tuple[subprocess.Popen[str], dict[str, str]]:
    """`vpnsql sandbox --port 0 --no-demo` in its own process; its printed exports as a dict."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vpnsql.cli", "sandbox", "--port", "0", "--no-demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    env: dict[str, str] = {}
    assert proc.stdout is not None
    while "AWS_DEFAULT_REGION" not in env:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the sandbox did not start")
        name, _, value = line.removeprefix("export ").strip().partition("=")
        env[name] = value
    return proc, env


def seed(endpoint_url: str, rows: int) -> None:
    body = json.dumps(
        {"region": REGION, "endpoint_id": ENDPOINT_ID, "count": rows, "users": 500, "seed": 1}
    ).encode()
    request = urllib.request.Request(f"{endpoint_url}/_vpnsql/seed", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=600) as response:
        assert response.status == 200


def timed_process(argv: Sequence[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall time, peak RSS in MiB (from PEAK), and stdout of one fresh process."""
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    sandbox, sandbox_env = start_sandbox()
    try:
        env = {
            **os.environ,
            **sandbox_env,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
        env.pop("AWS_PROFILE", None)
        seed_time, _ = timed(lambda: seed(sandbox_env["AWS_ENDPOINT_URL"], args.rows))
        print(f"seeded {args.rows:,} connections in {seed_time:.2f} s", file=sys.stderr)
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        results = measure(args.rows, args.repeat, env)
    finally:
        sandbox.terminate()
        sandbox.wait()
    report(args.rows, results)
    return 0


def boto3_loop() -> int:
    """The plain loop a script would write: paginate and count, in this process."""
    import boto3

    paginator = boto3.client("ec2", region_name=REGION).get_paginator(
        "describe_client_vpn_connections"
    )
    pages = paginator.paginate(ClientVpnEndpointId=ENDPOINT_ID, PaginationConfig={"PageSize": 1000})
    return sum(len(page["Connections"]) for page in pages)


def measure(rows: int, repeat: int, env: dict[str, str]) -> dict[str, list[float]]:
    import vpnsql

    results: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    vpnsql_cli = [sys.executable, "-c", VPNSQL_CLI, "-o", "csv", "--no-header", "-e", QUERY]
    boto3_cli = [sys.executable, "-c", BOTO3_LOOP]
    for _ in range(repeat):  # interleaved, so drift in machine load hits both sides alike
        seconds, rss, out = timed_process(boto3_cli, env)
        assert int(out.split()[0]) == rows, out
        add("boto3 loop, process (s)", seconds)
        add("boto3 loop, peak RSS (MiB)", rss)
        seconds, rss, out = timed_process(vpnsql_cli, env)
        assert int(out.split(",")[0]) == rows, out
        add("vpnsql -e, process (s)", seconds)
        add("vpnsql -e, peak RSS (MiB)", rss)

        seconds, count = timed(boto3_loop)
        assert count == rows
        add("boto3 loop, in-process (s)", seconds)
        seconds, answer = timed(lambda: vpnsql.connect().sql(QUERY).fetchall())
        assert answer[0][0] == rows  # type: ignore[index]
        add("vpnsql.connect().sql, in-process (s)", seconds)

        seconds, _, _ = timed_process([sys.executable, "-c", VPNSQL_CLI, "--help"], env)
        add("vpnsql --help (s)", seconds)
    return results


def report(rows: int, results: dict[str, list[float]]) -> None:
    median = {name: statistics.median(values) for name, values in results.items()}
    print(f"\n{rows:,} connections in one endpoint (median of {len(next(iter(results.values())))})")
    width = max(map(len, median))
    for name, value in median.items():
        print(f"  {name:<{width}}  {value:10.3f}")
    process = median["vpnsql -e, process (s)"] / median["boto3 loop, process (s)"]
    inproc = median["vpnsql.connect().sql, in-process (s)"] / median["boto3 loop, in-process (s)"]
    print(f"\n  ratio vpnsql/boto3, fresh processes: {process:.2f}x (target <= 1.3x)")
    print(f"  ratio vpnsql/boto3, in-process:      {inproc:.2f}x")
    print(f"  vpnsql peak RSS: {median['vpnsql -e, peak RSS (MiB)']:.0f} MiB (target < 1024)")
    print(f"  vpnsql --help:   {median['vpnsql --help (s)']:.3f} s (target < 0.15 s)")


if __name__ == "__main__":
    sys.exit(main())
