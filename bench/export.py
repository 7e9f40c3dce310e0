"""Export benchmark: `python bench/export.py [--rows N]` prints rows/s per format.

Rows shaped like aws.ec2_api.client_vpn_connections (typed, with the nested status and the
posture list) are loaded through the engine's Arrow path, then written with vpnsql's export
(DuckDB's own writers for Parquet, CSV, JSON and JSON lines, timestamps as the console writes
them). For comparison, the console's JSON lines writer (Python, row by row) into a file, which
is what a JSON file cost before. Also reports the load itself, since a one-liner pays for
both.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from vpnsql import output
from vpnsql.engine import Engine, qualified
from vpnsql.export import export
from vpnsql_providers.aws.ec2_api import CLIENT_VPN_CONNECTIONS


def rows(count: int) -> list[dict[str, object]]:
    rng = random.Random(1)
    start = datetime(2026, 11, 1)
    return [
        {
            "clientVpnEndpointId": "cvpn-endpoint-0a1b2c3d4e5f60001",
            "timestamp": start,
            "connectionId": f"cvpn-connection-{i:017x}",
            "username": f"user{i % 5000:04d}",
            "connectionEstablishedTime": start + timedelta(seconds=i),
            "ingressBytes": rng.randrange(10**10),
            "egressBytes": rng.randrange(10**9),
            "ingressPackets": rng.randrange(10**7),
            "egressPackets": rng.randrange(10**6),
            "clientIp": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
            "commonName": f"user{i % 5000:04d}.example.com",
            "status": {"code": "active" if i % 8 else "terminated", "message": None},
            "connectionEndTime": None if i % 8 else start + timedelta(hours=1),
            "postureComplianceStatusSet": ["compliant"] if i % 3 == 0 else None,
            "region": "us-east-1" if i % 2 else "eu-west-1",
        }
        for i in range(count)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    data = rows(args.rows)
    engine = Engine()
    started = time.perf_counter()
    engine.load(CLIENT_VPN_CONNECTIONS, data)
    timings = {"load (Arrow -> DuckDB)": time.perf_counter() - started}
    relation = engine.connection.sql(f"SELECT * FROM {qualified(CLIENT_VPN_CONNECTIONS)}")
    formats = ("parquet", "csv", "json", "jsonl")
    with tempfile.TemporaryDirectory() as directory:
        for fmt in formats:
            target = Path(directory) / f"x.{fmt}"
            started = time.perf_counter()
            export(relation, engine.connection, str(target), fmt)
            timings[f"export {fmt}"] = time.perf_counter() - started
            size = target.stat().st_size / 2**20
            timings[f"  {fmt} size (MiB)"] = size
        target = Path(directory) / "console.jsonl"
        started = time.perf_counter()
        with target.open("w", encoding="utf-8") as out:
            output.write(relation, "jsonl", out)
        timings["console jsonl (Python)"] = time.perf_counter() - started
    print(f"{args.rows:,} connection rows")
    for name, value in timings.items():
        if name.startswith("  "):
            print(f"  {name.strip():<24} {value:10.1f}")
        else:
            print(f"  {name:<24} {value:8.2f} s  {args.rows / value:12,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
