"""Interleaved A/B of the connector's CPU time: the repo against a modified copy of the package.

    VARIANT="$(mktemp -d)" && cp -r source_convert "$VARIANT"/    # then edit "$VARIANT"/source_convert
    .venv/bin/python -m bench.ab --b "$VARIANT" --streams daily_reports --repeats 5    # from the repository root
    .venv/bin/python -m bench.ab --b "$VARIANT" --spec --repeats 15

Runs A and B alternately (A B A B ...) against one simulator process at zero latency, so load from
other processes on the machine hits both alike, and prints the median and minimum CPU seconds and
records per CPU-second of each, plus B / A. Both must emit the same number of records.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import run as bench_run  # noqa: E402


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Interleaved A/B CPU comparison of two connector sources.")
    parser.add_argument("--a", default="", help="connector source dir for A (default: the repo)")
    parser.add_argument("--b", required=True, help="connector source dir for B")
    parser.add_argument("--streams", default="daily_reports")
    parser.add_argument("--experiences", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--spec", action="store_true", help="time `source-convert spec` instead of a read")
    args = parser.parse_args(argv)
    sources = {"A": str(Path(args.a).resolve()) if args.a else None, "B": str(Path(args.b).resolve())}
    cpu: Dict[str, List[float]] = {"A": [], "B": []}
    records: Dict[str, List[int]] = {"A": [], "B": []}
    work = bench_run.Workdir()
    sim = None
    try:
        if not args.spec:
            sim = bench_run.SimProcess(args.experiences, 0.0, args.seed)
            config = dict(sim.config, max_concurrent_requests=args.concurrency)
        for _ in range(args.repeats):
            for side in ("A", "B"):
                bench_run.CONNECTOR_SRC = sources[side]
                if args.spec:
                    m = bench_run.measure(bench_run.connector_command() + ["spec"], cwd=work.path,
                                          parse_records=False, connector=True)
                else:
                    m = bench_run.run_connector(work, config, args.streams.split(","))
                if m.returncode != 0:
                    raise SystemExit(f"{side} failed: {m.stderr_tail}")
                cpu[side].append(m.cpu_s)
                records[side].append(m.total_records)
    finally:
        if sim is not None:
            sim.close()
        work.cleanup()
    what = "spec" if args.spec else f"read {args.streams} ({args.experiences} experiences)"
    print(f"{what}, {args.repeats} interleaved runs each")
    for side in ("A", "B"):
        n = records[side][0]
        med = statistics.median(cpu[side])
        rate = f", {n / med:,.0f} rec/CPU-s" if n else ""
        print(f"  {side} {sources[side] or 'repo'}: CPU median {med:.2f} s, min {min(cpu[side]):.2f} s{rate}"
              f"  (runs: {', '.join(f'{c:.2f}' for c in cpu[side])})")
    if records["A"] != records["B"]:
        print(f"  RECORD COUNTS DIFFER: A {records['A']} B {records['B']}")
    ratio = statistics.median(cpu["B"]) / statistics.median(cpu["A"])
    print(f"  B / A CPU (median): {ratio:.3f}  ({(1 - ratio) * 100:+.1f}% less CPU)" if ratio < 1 else
          f"  B / A CPU (median): {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
