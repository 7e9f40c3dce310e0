"""Connection logs: 7 days x 5,000 entries a day on one endpoint, 50 ms per API call.

A one-day query with pushdown against the same with pushdown off (which reads all seven days),
and vpnsql against a hand-written boto3 filter_log_events loop over the same day, in process
and as fresh processes. Target: vpnsql <= 1.3x the loop. `memory()` reads a million entries
through `vpnsql -e` and reports its peak RSS (target < 500 MiB).

The sandbox computes the entries when they are read (POST /_vpnsql/generate-log), so a million
of them cost it no memory; its pages hold at most 1 MB (about 1,200 entries), as AWS's do.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from datetime import UTC, datetime, timedelta

from common import PEAK, VPNSQL_CLI, report, sandbox, timed, timed_process, using

ENDPOINT_ID = "cvpn-endpoint-0b0b0b0b0b0b0b0b0"
REGION = "us-east-1"
GROUP = "/aws/clientvpn/generated"
TABLE = "aws.logs.client_vpn_connection_logs"
EPOCH = datetime(1970, 1, 1)


def generate(env: dict[str, str], days: float, per_day: int) -> int:
    body = {"region": REGION, "endpoint_id": ENDPOINT_ID, "days": days, "per_day": per_day,
            "seed": 1, "log_group": GROUP}  # fmt: skip
    request = urllib.request.Request(
        f"{env['AWS_ENDPOINT_URL']}/_vpnsql/generate-log",
        data=json.dumps(body).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(json.load(response)["events"])


def one_day() -> tuple[datetime, datetime]:
    """The day that ended two days ago, as constants (a clock expression would push only its
    lower bound)."""
    end = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(days=2)
    return end - timedelta(days=1), end


def query(start: datetime, end: datetime) -> str:
    return (
        f"SELECT count(*) AS n, sum(ingressBytes) AS bytes FROM {TABLE} "
        f"WHERE ClientVpnEndpointId = '{ENDPOINT_ID}' AND region = '{REGION}' "
        f"AND eventTime >= TIMESTAMP '{start}' AND eventTime < TIMESTAMP '{end}'"
    )


def boto3_loop(start: datetime, end: datetime) -> tuple[int, int]:
    """What a script does: filter_log_events over the day (the group known in advance), every
    page, each entry's JSON read."""
    import boto3

    millis = [(moment - EPOCH) // timedelta(milliseconds=1) for moment in (start, end)]
    paginator = boto3.client("logs", region_name=REGION).get_paginator("filter_log_events")
    pages = paginator.paginate(logGroupName=GROUP, startTime=millis[0], endTime=millis[1] - 1)
    n = total = 0
    for page in pages:
        for event in page["events"]:
            entry = json.loads(event["message"])
            n += 1
            total += int(entry["ingress-bytes"])
    return n, total


BOTO3_LOOP = PEAK + "\n".join(
    [
        "import json, sys, boto3",
        "start, end = int(sys.argv[1]), int(sys.argv[2])",
        f"client = boto3.client('logs', region_name='{REGION}')",
        "pages = client.get_paginator('filter_log_events').paginate(",
        f"    logGroupName='{GROUP}', startTime=start, endTime=end - 1)",
        "n = total = 0",
        "for page in pages:",
        "    for event in page['events']:",
        "        n += 1",
        "        total += int(json.loads(event['message'])['ingress-bytes'])",
        "print(n, total)",
    ]
)


def main(repeat: int, latency: float = 0.05) -> dict[str, float]:
    import vpnsql
    from vpnsql.session import Session
    from vpnsql.tables import Settings

    results: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    with sandbox(latency) as env, using(env):
        count = generate(env, days=7, per_day=5000)
        start, end = one_day()
        sql = query(start, end)
        millis = [str((m - EPOCH) // timedelta(milliseconds=1)) for m in (start, end)]
        cli = [sys.executable, "-c", VPNSQL_CLI, "-o", "csv", "--no-header", "-e", sql]
        expected = boto3_loop(start, end)
        for _ in range(repeat):
            seconds, answer = timed(lambda: vpnsql.connect().sql(sql).fetchall())
            assert answer == [expected], (answer, expected)
            add("vpnsql, one day, pushdown (s)", seconds)
            unpushed = Session(settings=Settings(pushdown=False))
            seconds, answer = timed(lambda: unpushed.sql(sql).fetchall())  # noqa: B023
            assert answer == [expected], (answer, expected)
            add("vpnsql, one day, pushdown off (s)", seconds)
            seconds, answer = timed(lambda: boto3_loop(start, end))
            add("boto3 filter_log_events loop, one day (s)", seconds)
            seconds, _, out = timed_process(cli, env)
            assert out.split() == [f"{expected[0]},{expected[1]}"], out
            add("vpnsql -e, one day, process (s)", seconds)
            seconds, _, out = timed_process([sys.executable, "-c", BOTO3_LOOP, *millis], env)
            assert out.split() == [str(expected[0]), str(expected[1])], out
            add("boto3 loop, one day, process (s)", seconds)
    title = (
        f"connection logs: {count:,} entries over 7 days, one day is {expected[0]:,}, "
        f"{latency * 1000:.0f} ms per call"
    )
    median = report(title, results)
    pushdown = median["vpnsql, one day, pushdown off (s)"] / median["vpnsql, one day, pushdown (s)"]
    inproc = (
        median["vpnsql, one day, pushdown (s)"]
        / median["boto3 filter_log_events loop, one day (s)"]
    )
    process = median["vpnsql -e, one day, process (s)"] / median["boto3 loop, one day, process (s)"]
    print(f"  pushdown off / pushdown:          {pushdown:.2f}x")
    print(f"  vpnsql / boto3 loop, in-process:  {inproc:.2f}x (target <= 1.3x)")
    print(f"  vpnsql / boto3 loop, processes:   {process:.2f}x (target <= 1.3x)")
    return {
        "logs pushdown off/on": pushdown,
        "logs vs loop (in-process)": inproc,
        "logs vs loop (process)": process,
    }


def memory(events: int) -> dict[str, float]:
    """Peak RSS of `vpnsql -e` reading `events` entries (every one: a lower bound in 2020)."""
    days = events / 5000
    sql = (
        f"SELECT count(*), sum(ingressBytes) FROM {TABLE} "
        f"WHERE ClientVpnEndpointId = '{ENDPOINT_ID}' AND region = '{REGION}' "
        "AND eventTime >= '2020-01-01'"
    )
    with sandbox() as env:
        count = generate(env, days=days, per_day=5000)
        seconds, rss, out = timed_process(
            [sys.executable, "-c", VPNSQL_CLI, "-o", "csv", "--no-header", "-e", sql], env
        )
    assert int(out.split(",")[0]) == count, out[-500:]
    print(f"\nconnection logs, memory: {count:,} entries read by vpnsql -e")
    print(f"  wall {seconds:.1f} s (FilterLogEvents held to 5 calls/s), peak RSS {rss} MiB")
    print("  target: peak RSS < 500 MiB")
    return {"logs 1M peak RSS (MiB)": float(rss)}
