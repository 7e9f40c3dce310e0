"""Volume: N connections in one endpoint, vpnsql against a plain boto3 paginate loop.

Both run as fresh processes (what a user runs) and in-process (no start-up cost), interleaved
so drift in machine load hits both alike. Target: vpnsql <= 1.3x boto3; peak memory < 1 GB.
"""

from __future__ import annotations

import sys

from common import PEAK, VPNSQL_CLI, report, sandbox, seed, timed, timed_process, using

ENDPOINT_ID = "cvpn-endpoint-0be0c4a1b2c3d4e5f"
REGION = "us-east-1"
QUERY = (
    "SELECT count(*) AS n, sum(ingressBytes) AS bytes FROM aws.ec2_api.client_vpn_connections "
    f"WHERE ClientVpnEndpointId = '{ENDPOINT_ID}' AND region = '{REGION}'"
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


def boto3_loop() -> int:
    """The plain loop a script would write: paginate and count, in this process."""
    import boto3

    paginator = boto3.client("ec2", region_name=REGION).get_paginator(
        "describe_client_vpn_connections"
    )
    pages = paginator.paginate(ClientVpnEndpointId=ENDPOINT_ID, PaginationConfig={"PageSize": 1000})
    return sum(len(page["Connections"]) for page in pages)


def main(rows: int, repeat: int) -> dict[str, float]:
    import vpnsql

    results: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    with sandbox() as env, using(env):
        seed(env, REGION, ENDPOINT_ID, rows)
        vpnsql_cli = [sys.executable, "-c", VPNSQL_CLI, "-o", "csv", "--no-header", "-e", QUERY]
        for _ in range(repeat):
            seconds, rss, out = timed_process([sys.executable, "-c", BOTO3_LOOP], env)
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
    median = report(f"volume: {rows:,} connections in one endpoint", results)
    process = median["vpnsql -e, process (s)"] / median["boto3 loop, process (s)"]
    inproc = median["vpnsql.connect().sql, in-process (s)"] / median["boto3 loop, in-process (s)"]
    print(f"  ratio vpnsql/boto3, fresh processes: {process:.2f}x (target <= 1.3x)")
    print(f"  ratio vpnsql/boto3, in-process:      {inproc:.2f}x")
    print(f"  vpnsql peak RSS: {median['vpnsql -e, peak RSS (MiB)']:.0f} MiB (target < 1024)")
    return {"volume ratio (process)": process, "volume ratio (in-process)": inproc}
