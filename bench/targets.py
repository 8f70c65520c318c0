"""Start-up and wall-time figures of one commit on one machine, against their targets.

    .venv/bin/python -m bench.targets            # from the repository root, about 3 min
    .venv/bin/python -m bench.targets --quick    # fewer repetitions, smaller sizes, about 1.5 min

* spec      - ``source-convert spec``: wall median over ``--spec-repeats`` runs.
* read start-up - a one-stream read (``account``): time from just before the process is started to
              the first API request the simulator logs (the projects check), median over ``--read-repeats``.
* all streams - every stream of the discovered catalog (a first sync: incremental where supported, no
              state) of one project with ``--experiences`` experiences, ``--latency`` seconds per request,
              ``max_concurrent_requests`` = ``--concurrency``: wall time against the latency bound
              (requests x latency / concurrency), the simulator's span (first request start to last
              request end), the time to the first request, and its peak in flight.
* CPU       - ``--cpu-streams`` read together at ``--cpu-experiences`` experiences, zero latency, by the
              connector and by bench/minimal_client.py: records per CPU-second (the process's own
              rusage) and their ratio, start-up included.

Timings are only as quiet as the machine: the report prints the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from bench import run as bench_run
from bench.projects import discovered_catalog, read
from bench.run import SimProcess, Workdir, connector_command, measure, run_connector, run_minimal, table

SPEC_WALL_S = 1.0
READ_FIRST_REQUEST_S = 2.5
WALL_OVER_BOUND = 1.15
CPU_VS_MINIMAL = 0.40
START_UP_STREAM = "account"  # one record, one request after the check: the read is nearly all start-up


def spec_figures(work: Workdir, repeats: int) -> Dict[str, Any]:
    runs = [measure(connector_command() + ["spec"], cwd=work.path, parse_records=False, connector=True)
            for _ in range(repeats)]
    return {"wall_s": [round(r.wall_s, 3) for r in runs], "wall_s_median": round(statistics.median(r.wall_s for r in runs), 3),
            "cpu_s_median": round(statistics.median(r.cpu_s for r in runs), 3),
            "rc": max(r.returncode for r in runs)}


def read_start_figures(work: Workdir, repeats: int, seed: int) -> Dict[str, Any]:
    delays: List[float] = []
    cpu: List[float] = []
    rc = 0
    with SimProcess(120, 0.0, seed) as sim:
        for _ in range(repeats):
            sim.reset()
            m = run_connector(work, sim.config, [START_UP_STREAM])
            stats = sim.stats()
            rc = max(rc, m.returncode)
            delays.append(round(stats["first_started"] - m.started_at, 3))
            cpu.append(round(m.cpu_s, 2))
    return {"first_request_s": delays, "first_request_s_median": round(statistics.median(delays), 3),
            "cpu_s_median": statistics.median(cpu), "rc": rc}


def all_streams_figures(work: Workdir, experiences: int, latency: float, concurrency: int, seed: int) -> Dict[str, Any]:
    with SimProcess(experiences, latency, seed) as sim:
        config = dict(sim.config, max_concurrent_requests=concurrency)
        configured = discovered_catalog(work, config)
        sim.reset()
        m = read(work, config, configured)
        stats = sim.stats()
    requests = stats["requests"]
    bound = requests * latency / concurrency
    span = stats["last_ended"] - stats["first_started"]
    return {"experiences": experiences, "latency_s": latency, "concurrency": concurrency,
            "streams": len(configured["streams"]), "records": m.total_records, "requests": requests,
            "bound_s": round(bound, 2), "wall_s": round(m.wall_s, 2), "wall_over_bound": round(m.wall_s / bound, 3),
            "server_span_s": round(span, 2), "span_over_bound": round(span / bound, 3),
            "first_request_s": round(stats["first_started"] - m.started_at, 2),
            "peak_in_flight": stats["peak_in_flight"], "cpu_s": round(m.cpu_s, 2), "rc": m.returncode,
            "errors": m.errors[:2]}


def cpu_figures(work: Workdir, experiences: int, streams: List[str], seed: int) -> Dict[str, Any]:
    with SimProcess(experiences, 0.0, seed) as sim:
        config = dict(sim.config, max_concurrent_requests=2)
        sim.reset()
        conn = run_connector(work, config, streams)
        conn_requests = sim.stats()["requests"]
        sim.reset()
        mini = run_minimal(work, config, streams)
        mini_requests = sim.stats()["requests"]
    conn_rate, mini_rate = conn.total_records / conn.cpu_s, mini.total_records / mini.cpu_s
    return {"experiences": experiences, "streams": streams, "records": conn.total_records,
            "mini_records": mini.total_records, "requests": conn_requests, "mini_requests": mini_requests,
            "cpu_s": round(conn.cpu_s, 2), "mini_cpu_s": round(mini.cpu_s, 2),
            "rec_per_cpu_s": round(conn_rate), "mini_rec_per_cpu_s": round(mini_rate),
            "ratio": round(conn_rate / mini_rate, 3), "rc": max(conn.returncode, mini.returncode)}


def report(results: Dict[str, Any]) -> str:
    spec, start, whole, cpu = (results[key] for key in ("spec", "read_start", "all_streams", "cpu"))
    rows = [
        ["`spec` wall median", f"<= {SPEC_WALL_S} s", f"{spec['wall_s_median']} s ({len(spec['wall_s'])} runs, CPU median "
         f"{spec['cpu_s_median']} s)", spec["wall_s_median"] <= SPEC_WALL_S],
        ["read: process start to first API request", f"<= {READ_FIRST_REQUEST_S} s",
         f"{start['first_request_s_median']} s (median of {start['first_request_s']})",
         start["first_request_s_median"] <= READ_FIRST_REQUEST_S],
        [f"all {whole['streams']} streams, {whole['latency_s'] * 1000:.0f} ms, concurrency {whole['concurrency']}: wall / bound",
         f"<= {WALL_OVER_BOUND}x",
         f"{whole['wall_over_bound']}x ({whole['wall_s']} s vs {whole['requests']} requests x {whole['latency_s']} s / "
         f"{whole['concurrency']} = {whole['bound_s']} s; span {whole['server_span_s']} s, {whole['span_over_bound']}x; "
         f"first request at {whole['first_request_s']} s; peak in flight {whole['peak_in_flight']})",
         whole["wall_over_bound"] <= WALL_OVER_BOUND],
        [f"CPU per record at {cpu['experiences']:,} experiences vs minimal client", f">= {CPU_VS_MINIMAL}x",
         f"{cpu['ratio']}x ({', '.join(cpu['streams'])}: {cpu['records']:,} records, connector {cpu['cpu_s']} s = "
         f"{cpu['rec_per_cpu_s']:,} rec/CPU-s, minimal {cpu['mini_cpu_s']} s = {cpu['mini_rec_per_cpu_s']:,} rec/CPU-s)",
         cpu["ratio"] >= CPU_VS_MINIMAL],
    ]
    failed = [name for name in ("spec", "read_start", "all_streams", "cpu") if results[name]["rc"] != 0]
    lines = [table(["figure", "target", "result", "met?"], [[*row[:3], "yes" if row[3] else "NO"] for row in rows])]
    if cpu["records"] != cpu["mini_records"]:
        lines.append(f"\nRECORD COUNT MISMATCH connector {cpu['records']} vs minimal {cpu['mini_records']}")
    if failed:
        lines.append("\nFAILED RUNS: " + ", ".join(failed) + (f" {results['all_streams']['errors']}" if "all_streams" in failed else ""))
    lines.append(f"\n(load average before {results['load_before']}, after {results['load_after']}; {os.cpu_count()} CPUs; "
                 f"Python {sys.version.split()[0]}; {results['total_s']} s)")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 runs each, 1,000 experiences for the CPU figure")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--spec-repeats", type=int, default=5)
    parser.add_argument("--read-repeats", type=int, default=5)
    parser.add_argument("--experiences", type=int, default=120, help="project size of the all-streams read")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--cpu-experiences", type=int, default=20000)
    parser.add_argument("--cpu-streams", default="experiences,experience_details,variations")
    parser.add_argument("--json-out", help="write the figures as JSON here")
    parser.add_argument("--connector-src", help="directory put first on the connector's PYTHONPATH (a modified copy "
                                                "of the repo, to measure it instead)")
    args = parser.parse_args(argv)
    bench_run.CONNECTOR_SRC = str(Path(args.connector_src).resolve()) if args.connector_src else None
    if args.quick:
        args.spec_repeats, args.read_repeats = min(args.spec_repeats, 3), min(args.read_repeats, 3)
        args.cpu_experiences = min(args.cpu_experiences, 1000)
    work = Workdir()
    results: Dict[str, Any] = {"argv": sys.argv[1:], "load_before": os.getloadavg()}
    started = time.perf_counter()
    try:
        results["spec"] = spec_figures(work, args.spec_repeats)
        print(f"  .. spec {results['spec']['wall_s']}", file=sys.stderr, flush=True)
        results["read_start"] = read_start_figures(work, args.read_repeats, args.seed)
        print(f"  .. read start {results['read_start']['first_request_s']}", file=sys.stderr, flush=True)
        results["all_streams"] = all_streams_figures(work, args.experiences, args.latency, args.concurrency, args.seed)
        print(f"  .. all streams {results['all_streams']['wall_over_bound']}x", file=sys.stderr, flush=True)
        results["cpu"] = cpu_figures(work, args.cpu_experiences, [s for s in args.cpu_streams.split(",") if s], args.seed)
    finally:
        work.cleanup()
    results["total_s"] = round(time.perf_counter() - started, 1)
    results["load_after"] = os.getloadavg()
    print(report(results))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(results, indent=2, default=str))
    return 1 if any(results[name]["rc"] != 0 for name in ("spec", "read_start", "all_streams", "cpu")) else 0


if __name__ == "__main__":
    sys.exit(main())
