"""vpnsql benchmarks against the local sandbox: `python bench/run.py [--only NAME ...]`.

Everything is measured in one run on one machine and reported as ratios, because absolute
times on shared machines are noise. See bench/README.md for what each one measures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import azure_p2s  # not azure.py: this directory is on sys.path and would shadow the Azure SDK
import coldstart
import estate
import fanout
import logs
import volume

BENCHMARKS = ("volume", "fanout", "coldstart", "estate", "azure", "logs", "logs-memory")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--rows", type=int, default=100_000, help="volume: connections")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument(
        "--latency", type=float, default=0.15, help="fan-out, estate, azure: seconds per call"
    )
    parser.add_argument(
        "--no-cli-loop", action="store_true", help="estate: skip the sequential AWS CLI loop"
    )
    parser.add_argument(
        "--log-events", type=int, default=1_000_000, help="logs-memory: entries to read"
    )
    args = parser.parse_args()
    chosen = args.only or BENCHMARKS
    summary: dict[str, float] = {}
    if "volume" in chosen:
        summary |= volume.main(args.rows, args.repeat)
    if "fanout" in chosen:
        summary |= fanout.main(args.repeat, args.latency)
    if "coldstart" in chosen:
        summary |= coldstart.main(args.repeat)
    if "estate" in chosen:
        summary |= estate.main(args.repeat, args.latency, not args.no_cli_loop)
    if "azure" in chosen:
        summary |= azure_p2s.main(args.repeat, args.latency)
    if "logs" in chosen:
        summary |= logs.main(args.repeat)
    if "logs-memory" in chosen:
        summary |= logs.memory(args.log_events)
    print("\nsummary")
    for name, value in summary.items():
        print(f"  {name:<28} {value:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
