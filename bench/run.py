"""Benchmark of source-convert against the bundled Convert simulator (run in its own process).

    .venv/bin/python -m bench.run            # full run, from the repository root
    .venv/bin/python -m bench.run --quick    # sanity run, ~2 min

Scenarios (each can be skipped):

* streams  - zero latency; every stream read alone by the connector CLI and by bench/minimal_client.py:
             records, requests, the connector's check requests, minimum requests, ratio, wall s, CPU s,
             records per CPU-second, peak RSS; with --verify, whether both emit the same records;
             plus one sync of all streams together, and ``source-convert spec`` start-up.
* latency  - the report streams over many partitions with server latency, at several concurrencies:
             wall time versus minimum requests x latency / concurrency, and the simulator's peak in flight.
* memory   - experiences + experience_details at growing sizes: peak RSS of the connector process.
* projects - (not in the default set: ``--projects`` or ``--only projects``; bench/projects.py) project_id
             "*" over the simulator's three projects, every stream: a first sync and an incremental sync
             after ``Dataset.advance(1)``, requests per stream and project versus the minimum, wall time
             at 200 ms versus requests x latency / concurrency, the simulator's peak in flight, and the
             cost of re-reading every editable experience on incremental syncs.

CPU and peak RSS are those of the measured process alone (``os.wait4`` rusage); the simulator runs
in a separate process (bench/simproc.py) so its work is never counted.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from airbyte_cdk.sources.utils.schema_helpers import ResourceSchemaLoader

REPO = Path(__file__).resolve().parent.parent
PAGE = 50
STREAMS = ["account", "collaborators", "projects", "experiences", "experience_details", "variations", "goals",
           "audiences", "locations", "hypotheses", "knowledge_bases", "observations", "features", "tags", "domains",
           "change_history", "aggregated_reports", "daily_reports"]
# stream -> the dataset collection it pages through (50 a page, every status named)
LIST_KINDS = {"experiences": "experiences", "experience_details": "experiences", "variations": "experiences",
              "goals": "goals", "audiences": "audiences", "locations": "locations", "hypotheses": "hypotheses",
              "knowledge_bases": "knowledge-bases", "observations": "observations", "features": "features",
              "tags": "tags", "domains": "domains", "change_history": "change-history"}
# Lists whose records carry changed_at, the time of Convert's newest change-history event: one request.
CHANGE_DRIVEN = ("experiences", "experience_details", "variations", "goals", "audiences", "locations")
REPORT_STREAMS = ("aggregated_reports", "daily_reports")
# Daily report metrics (the connector's default: all); the revenue ones apply to goals of type revenue.
DAILY_METRICS = ("conversion_rate", "avg_revenue_per_visitor", "avg_products_ordered_per_visitor")
# Every connector read first reads the account's projects list (the check, which also resolves "*"):
# one request (one page) before any stream, not a stream's request. The projects stream reads it again.
CHECK_KIND = "projects"
DOCKER_IMAGE = "airbyte/source-convert:dev"


# ----------------------------------------------------------------------------- minimum requests
def pages(count: int) -> int:
    """Requests needed to read ``count`` records 50 a page when the total is known (an empty list costs one)."""
    return max(1, math.ceil(count / PAGE))


def minimum_requests(stream: str, facts: Dict[str, Any], metrics: Sequence[str] = DAILY_METRICS) -> int:
    """The fewest requests that return every record of ``stream`` read alone in a first sync.

    Lists: their pages; change-driven lists one more, for the newest change-history event (their
    ``changed_at``, which only Convert can tell). Report streams: the pages of the experience list
    they start from (every status but deleted) plus one report per started experience (aggregated)
    or per started experience goal and applicable metric (daily). The connector's credentials check
    is not counted here: no record depends on it (see ``check_requests``).
    """
    counts = facts["counts"]
    if stream in ("account", "collaborators"):
        return 1
    if stream == "projects":
        return pages(facts["projects"])
    if stream in LIST_KINDS:
        return pages(counts[LIST_KINDS[stream]]) + (1 if stream in CHANGE_DRIVEN else 0)
    parent = pages(facts["report_experiences"])  # every page must be read to find the started experiences
    if stream == "aggregated_reports":
        return parent + facts["started_experiences"]
    if stream == "daily_reports":
        revenue_metrics = sum(1 for metric in DAILY_METRICS[1:] if metric in metrics)
        return (parent + facts["started_experience_goals"] * ("conversion_rate" in metrics)
                + facts["started_experience_revenue_goals"] * revenue_metrics)
    raise KeyError(stream)


def repeated_prerequisites(streams: Sequence[str], facts: Dict[str, Any]) -> int:
    """Requests that the per-stream minima of ``streams`` count more than once, though one client reading
    them together would make them once: the newest-event request, the report streams' experience list."""
    probes = sum(1 for s in streams if s in CHANGE_DRIVEN)
    reports = sum(1 for s in streams if s in REPORT_STREAMS)
    return max(probes - 1, 0) + max(reports - 1, 0) * pages(facts["report_experiences"])


def check_requests(stats: Dict[str, Any], streams: Sequence[str], facts: Dict[str, Any]) -> int:
    """Requests of the credentials check in one logged run: projects-list requests beyond the projects stream's own."""
    own = pages(facts["projects"]) if "projects" in streams else 0
    return stats["by_kind"].get(CHECK_KIND, 0) - own


def daily_metrics(config: Dict[str, Any]) -> Sequence[str]:
    return config.get("daily_report_metrics") or DAILY_METRICS


# ----------------------------------------------------------------------------- simulator process
class SimProcess:
    """bench/simproc.py in a child process; ``reset()`` / ``stats()`` over its stdin/stdout."""

    def __init__(self, experiences: int, latency: float, seed: int, sim_cache: bool = True) -> None:
        args = [sys.executable, "-m", "bench.simproc", "--experiences", str(experiences), "--latency", str(latency),
                "--seed", str(seed)]
        if sim_cache:
            args.append("--sim-cache")
        started = time.perf_counter()
        self.proc = subprocess.Popen(args, cwd=REPO, env=_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        hello = self._read()
        self.startup_s = time.perf_counter() - started
        self.config: Dict[str, Any] = hello["config"]
        self.facts: Dict[str, Any] = hello["facts"]
        self.generate_s: float = hello["generate_s"]

    def _read(self) -> Dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"simulator process exited (code {self.proc.poll()})")
        return json.loads(line)

    def _command(self, command: str) -> Dict[str, Any]:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def reset(self) -> None:
        self._command("reset")

    def stats(self) -> Dict[str, Any]:
        return self._command("stats")

    def project_facts(self) -> Dict[str, Any]:
        """Facts of every project of the account (``simproc.project_facts``), read now."""
        return self._command("facts")

    def advance(self, days: int = 1) -> Dict[str, Any]:
        """``Dataset.advance(days)``: the clock moves and every project changes; returns what changed."""
        return self._command(f"advance {int(days)}")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "SimProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# A directory put first on the connector's PYTHONPATH (--connector-src): benchmark a modified copy.
CONNECTOR_SRC: Optional[str] = None


def _env(connector: bool = False) -> Dict[str, str]:
    env = dict(os.environ)
    paths = ([CONNECTOR_SRC] if connector and CONNECTOR_SRC else []) + [str(REPO)]
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


# ----------------------------------------------------------------------------- measured processes
@dataclass
class Measured:
    """One child process: its output counts and its own rusage."""

    returncode: int
    wall_s: float
    cpu_s: float
    maxrss_kb: int
    records: Dict[str, int] = field(default_factory=dict)
    errors: List[str] = field(default_factory=list)
    stderr_tail: str = ""
    rusage_from: str = "wait4"
    started_at: float = 0.0  # time.time() just before the child was started (compare with the simulator's log)
    digests: Dict[str, collections.Counter] = field(default_factory=dict)
    states: Dict[str, Any] = field(default_factory=dict)  # the last STATE message per stream (keep_states)

    @property
    def total_records(self) -> int:
        return sum(self.records.values())


def record_digest(line: bytes) -> Tuple[str, str]:
    """(stream, digest of the record's data), key order kept (``changed_at`` too: it is Convert's time)."""
    record = json.loads(line)["record"]
    text = json.dumps(record["data"], ensure_ascii=False, separators=(",", ":"))
    return record["stream"], hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def measure(args: Sequence[str], cwd: str, parse_records: bool = True, timeout: float = 7200,
            connector: bool = False, verify: bool = False, keep_states: bool = False) -> Measured:
    """Run ``args``; count RECORD lines per stream while streaming stdout; rusage via ``os.wait4``.

    With ``verify`` every record is also digested (costs CPU in this process, not in the measured one,
    but it competes for the same cores: off for timing runs unless asked for). With ``keep_states`` the
    last per-stream STATE message of each stream is kept (a state file for the next sync).
    """
    states: Dict[str, Any] = {}
    records: Dict[str, int] = {}
    digests: Dict[str, collections.Counter] = {}
    errors: List[str] = []
    inner: Optional[Dict[str, Any]] = None
    with tempfile.TemporaryFile(mode="w+") as err:
        started_at = time.time()
        started = time.perf_counter()
        proc = subprocess.Popen(list(args), cwd=cwd, env=_env(connector), stdout=subprocess.PIPE, stderr=err,
                                bufsize=1 << 16)
        killer = threading.Timer(timeout, proc.kill)  # holds even when the child prints nothing
        killer.start()
        for raw in proc.stdout:
            if not parse_records:
                continue
            if raw.startswith(b'{"type":"RECORD"'):
                # {"type":"RECORD","record":{"stream":"<name>",...
                start = raw.index(b'"stream":"') + 10
                name = raw[start:raw.index(b'"', start)].decode()
                records[name] = records.get(name, 0) + 1
                if verify:
                    stream, digest = record_digest(raw)
                    digests.setdefault(stream, collections.Counter())[digest] += 1
            elif keep_states and raw.startswith(b'{"type":"STATE"'):
                message = json.loads(raw)
                if message["state"].get("type") == "STREAM":
                    states[message["state"]["stream"]["stream_descriptor"]["name"]] = message["state"]
            elif raw.startswith(b"{") and b'"ERROR"' in raw:
                try:
                    message = json.loads(raw)
                    if message.get("type") == "TRACE" and message["trace"].get("type") == "ERROR":
                        errors.append(message["trace"]["error"].get("message", "")[:300])
                except ValueError:
                    pass
            elif raw.startswith(b'{"bench_rusage"'):
                inner = json.loads(raw)["bench_rusage"]
        _, status, usage = os.wait4(proc.pid, 0)
        killer.cancel()
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        err.seek(0)
        tail = err.read()[-3000:]
    result = Measured(proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, records, errors, tail,
                      started_at=started_at, digests=digests, states=states)
    if inner is not None:  # a process inside a container reports its own rusage
        result.cpu_s, result.maxrss_kb, result.rusage_from = inner["cpu_s"], inner["maxrss_kb"], "in-container wait4"
    return result


def connector_command() -> List[str]:
    script = Path(sys.executable).parent / "source-convert"
    return [str(script)] if script.exists() else [sys.executable, "-m", "source_convert.run"]


def catalog(streams: Sequence[str]) -> Dict[str, Any]:
    """Full-refresh configured catalog with the full JSON schemas of the streams."""
    out = []
    for name in streams:
        schema = ResourceSchemaLoader("source_convert").get_schema(name)  # shared definitions resolved
        out.append({"stream": {"name": name, "json_schema": schema, "supported_sync_modes": ["full_refresh"]},
                    "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"})
    return {"streams": out}


class Workdir:
    """A temp directory with config/catalog files (world-readable, so a container user can read them)."""

    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="convert-bench-")
        os.chmod(self.path, 0o755)

    def write(self, name: str, value: Any) -> str:
        target = os.path.join(self.path, name)
        with open(target, "w", encoding="utf-8") as handle:
            json.dump(value, handle) if not isinstance(value, str) else handle.write(value)
        os.chmod(target, 0o644)
        return target

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def run_connector(work: Workdir, config: Dict[str, Any], streams: Sequence[str], verify: bool = False) -> Measured:
    cfg, cat = work.write("config.json", config), work.write("catalog.json", catalog(streams))
    return measure(connector_command() + ["read", "--config", cfg, "--catalog", cat], cwd=work.path, connector=True,
                   verify=verify)


def run_minimal(work: Workdir, config: Dict[str, Any], streams: Sequence[str], verify: bool = False) -> Measured:
    cfg = work.write("config.json", config)
    return measure([sys.executable, str(REPO / "bench" / "minimal_client.py"), "--config", cfg,
                    "--streams", ",".join(streams)], cwd=work.path, verify=verify)


# A tiny wrapper run inside the container: runs the entrypoint and prints its own child's rusage.
_DOCKER_WRAPPER = """
import json, os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:])
_, status, usage = os.wait4(proc.pid, 0)
sys.stdout.flush()
print(json.dumps({"bench_rusage": {"cpu_s": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}}), flush=True)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "image", "inspect", DOCKER_IMAGE], capture_output=True)
    return probe.returncode == 0


def run_docker(work: Workdir, config: Dict[str, Any], streams: Sequence[str], command: str = "read") -> Measured:
    work.write("config.json", config)
    work.write("catalog.json", catalog(streams))
    work.write("wrapper.py", _DOCKER_WRAPPER)
    args = ["docker", "run", "--rm", "--network", "host", "-v", f"{work.path}:/bench:ro", "--entrypoint", "python",
            DOCKER_IMAGE, "/bench/wrapper.py", "source-convert", command]
    if command == "read":
        args += ["--config", "/bench/config.json", "--catalog", "/bench/catalog.json"]
    return measure(args, cwd=work.path)


# ----------------------------------------------------------------------------- scenarios
def _row(stream: str, who: str, m: Measured, requests: Optional[int], minimum: Optional[int], check: int = 0,
         extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """One measured run; ``ratio`` is (requests - check) / minimum: the stream's own requests over the minimum."""
    records = m.records.get(stream, 0) if stream != "ALL" else m.total_records
    row = {
        "stream": stream, "who": who, "records": records, "requests": requests, "check": check, "minimum": minimum,
        "ratio": round((requests - check) / minimum, 2) if requests is not None and minimum else None,
        "wall_s": round(m.wall_s, 2), "cpu_s": round(m.cpu_s, 2),
        "rec_per_cpu_s": round(records / m.cpu_s, 1) if m.cpu_s > 0 else None,
        "peak_rss_mb": round(m.maxrss_kb / 1024, 1), "rc": m.returncode, "errors": m.errors[:2],
    }
    row.update(extra or {})
    return row


def startup(work: Workdir, repeats: int) -> Dict[str, Any]:
    runs = [measure(connector_command() + ["spec"], cwd=work.path, parse_records=False, connector=True)
            for _ in range(repeats)]
    walls = sorted(r.wall_s for r in runs)
    return {"spec_wall_s_median": round(statistics.median(walls), 3), "spec_wall_s_min": round(walls[0], 3),
            "spec_cpu_s_median": round(statistics.median(sorted(r.cpu_s for r in runs)), 3),
            "spec_peak_rss_mb": round(max(r.maxrss_kb for r in runs) / 1024, 1), "repeats": repeats}


def scenario_streams(args: argparse.Namespace, work: Workdir) -> Dict[str, Any]:
    rows: List[Dict[str, Any]] = []
    with SimProcess(args.experiences, 0.0, args.seed, sim_cache=not args.no_sim_cache) as sim:
        facts = sim.facts
        config = dict(sim.config, max_concurrent_requests=args.concurrency)
        metrics = daily_metrics(config)
        for stream in args.streams:
            minimum = minimum_requests(stream, facts, metrics)
            sim.reset()
            conn = run_connector(work, config, [stream], verify=args.verify)
            conn_stats = sim.stats()
            sim.reset()
            mini = run_minimal(work, config, [stream], verify=args.verify)
            mini_stats = sim.stats()
            same = (conn.digests.get(stream) == mini.digests.get(stream)) if args.verify else None
            rows.append(_row(stream, "connector", conn, conn_stats["requests"], minimum,
                             check_requests(conn_stats, [stream], facts),
                             {"by_kind": conn_stats["by_kind"], "non_200": _non_200(conn_stats),
                              "same_records_as_minimal": same}))
            rows.append(_row(stream, "minimal", mini, mini_stats["requests"], minimum,
                             check_requests(mini_stats, [stream], facts), {"non_200": _non_200(mini_stats)}))
            _progress(rows[-2], rows[-1])
        all_minimum = sum(minimum_requests(s, facts, metrics) for s in args.streams)
        sim.reset()
        conn = run_connector(work, config, args.streams)
        conn_stats = sim.stats()
        sim.reset()
        mini = run_minimal(work, config, args.streams)
        mini_stats = sim.stats()
        rows.append(_row("ALL", "connector", conn, conn_stats["requests"], all_minimum,
                         check_requests(conn_stats, args.streams, facts),
                         {"by_kind": conn_stats["by_kind"], "non_200": _non_200(conn_stats)}))
        rows.append(_row("ALL", "minimal", mini, mini_stats["requests"], all_minimum,
                         check_requests(mini_stats, args.streams, facts), {"non_200": _non_200(mini_stats)}))
        _progress(rows[-2], rows[-1])
        if args.docker_enabled:
            sim.reset()
            dock = run_docker(work, config, args.streams)
            dock_stats = sim.stats()
            rows.append(_row("ALL", "docker", dock, dock_stats["requests"], all_minimum,
                             check_requests(dock_stats, args.streams, facts),
                             {"non_200": _non_200(dock_stats), "rusage_from": dock.rusage_from}))
            _progress(rows[-1])
        facts = dict(facts, generate_s=sim.generate_s)
    start = startup(work, args.startup_repeats)
    if args.docker_enabled:
        dock = [run_docker(work, {}, [], command="spec") for _ in range(3)]
        start["docker_spec_wall_s_median"] = round(statistics.median(d.wall_s for d in dock), 3)
        start["docker_spec_cpu_s_median"] = round(statistics.median(d.cpu_s for d in dock), 3)
    return {"experiences": args.experiences, "concurrency": args.concurrency, "facts": facts, "rows": rows,
            "startup": start, "repeated_prerequisites": repeated_prerequisites(args.streams, facts)}


def _non_200(stats: Dict[str, Any]) -> int:
    return sum(n for status, n in stats["by_status"].items() if status != "200")


def _progress(*rows: Dict[str, Any]) -> None:
    for row in rows:
        print(f"  .. {row['stream']:<20} {row['who']:<9} records={row['records']} requests={row['requests']} "
              f"(check {row['check']}) minimum={row['minimum']} "
              f"wall={row['wall_s']}s cpu={row['cpu_s']}s rc={row['rc']}", file=sys.stderr, flush=True)


def scenario_latency(args: argparse.Namespace, work: Workdir) -> Dict[str, Any]:
    rows = []
    streams = list(REPORT_STREAMS)
    with SimProcess(args.latency_experiences, args.latency, args.seed, sim_cache=not args.no_sim_cache) as sim:
        facts = sim.facts
        # The connector reads the report streams' experience list once for both: the ideal counts it once.
        minimum = sum(minimum_requests(s, facts, daily_metrics(sim.config)) for s in streams) \
            - repeated_prerequisites(streams, facts)
        for concurrency in args.latency_concurrency:
            sim.reset()
            m = run_connector(work, dict(sim.config, max_concurrent_requests=concurrency), streams)
            stats = sim.stats()
            ideal = minimum * args.latency / concurrency
            span = (stats["last_ended"] - stats["first_started"]) if stats["first_started"] else 0.0
            rows.append({
                "concurrency": concurrency, "records": m.total_records, "requests": stats["requests"],
                "check": check_requests(stats, streams, facts), "minimum": minimum, "ideal_s": round(ideal, 2),
                "wall_s": round(m.wall_s, 2),
                "wall_over_ideal": round(m.wall_s / ideal, 3), "server_span_s": round(span, 2),
                "span_over_ideal": round(span / ideal, 3), "peak_in_flight": stats["peak_in_flight"],
                "cpu_s": round(m.cpu_s, 2), "peak_rss_mb": round(m.maxrss_kb / 1024, 1), "rc": m.returncode,
                "non_200": _non_200(stats), "errors": m.errors[:2],
            })
            print(f"  .. latency c={concurrency} wall={m.wall_s:.1f}s ideal={ideal:.1f}s "
                  f"peak_in_flight={stats['peak_in_flight']}", file=sys.stderr, flush=True)
    return {"experiences": args.latency_experiences, "latency_s": args.latency, "streams": streams,
            "facts": facts, "rows": rows, "repeated_prerequisites": repeated_prerequisites(streams, facts)}


def scenario_memory(args: argparse.Namespace, work: Workdir) -> Dict[str, Any]:
    rows = []
    streams = ["experiences", "experience_details"]
    for size in args.memory_sizes:
        with SimProcess(size, 0.0, args.seed, sim_cache=not args.no_sim_cache) as sim:
            minimum = sum(minimum_requests(s, sim.facts) for s in streams)
            sim.reset()
            m = run_connector(work, dict(sim.config, max_concurrent_requests=args.concurrency), streams)
            stats = sim.stats()
            rows.append({"experiences": size, "records": m.total_records, "requests": stats["requests"],
                         "check": check_requests(stats, streams, sim.facts), "minimum": minimum,
                         "repeated_prerequisites": repeated_prerequisites(streams, sim.facts),
                         "wall_s": round(m.wall_s, 2), "cpu_s": round(m.cpu_s, 2),
                         "rec_per_cpu_s": round(m.total_records / m.cpu_s) if m.cpu_s else None,
                         "peak_rss_mb": round(m.maxrss_kb / 1024, 1), "rc": m.returncode,
                         "sim_generate_s": sim.generate_s, "sim_startup_s": round(sim.startup_s, 2),
                         "errors": m.errors[:2]})
            print(f"  .. memory n={size} rss={m.maxrss_kb / 1024:.1f} MB wall={m.wall_s:.1f}s "
                  f"sim start {sim.startup_s:.1f}s", file=sys.stderr, flush=True)
    base = min(rows, key=lambda row: row["experiences"])["peak_rss_mb"] if rows else None
    for row in rows:
        row["rss_vs_smallest"] = round(row["peak_rss_mb"] / base, 3) if base else None
    return {"streams": streams, "rows": rows}


# ----------------------------------------------------------------------------- report
MODEL_NOTE = ("min req = the fewest requests for the stream's records read alone: its pages (50 a page); change-driven "
              "lists one more, the newest change-history event (their changed_at); report streams the pages of the "
              "experience list plus one report per started experience (aggregated) / started experience goal and "
              "metric (daily). check = the connector's check before any stream (the account's projects list, "
              "which also proves the configured project), counted from the log and not in min req; "
              "ratio = (requests - check) / min req. Within one sync the connector makes the newest-event "
              "request and the report streams' experience list once, so a run of several such streams is below "
              "the sum of their minima (see \"read once\").")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda values: "| " + " | ".join(  # noqa: E731
        v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in cells])


def report(results: Dict[str, Any]) -> str:
    out: List[str] = []
    streams = results.get("streams")
    if streams:
        f = streams["facts"]
        out.append(f"## Streams: {streams['experiences']} experiences ({f['started_experiences']} started, "
                   f"{f['started_experience_goals']} started experience goals, "
                   f"{f['started_experience_revenue_goals']} of them revenue goals), zero latency, "
                   f"max_concurrent_requests={streams['concurrency']}")
        out.append(MODEL_NOTE + "\n")
        by_key = {(r["stream"], r["who"]): r for r in streams["rows"]}
        names = list(dict.fromkeys(r["stream"] for r in streams["rows"]))
        rows = []
        for name in names:
            c, m = by_key.get((name, "connector")), by_key.get((name, "minimal"))
            cpu_ratio = (c["rec_per_cpu_s"] / m["rec_per_cpu_s"]) if c and m and c["rec_per_cpu_s"] and m["rec_per_cpu_s"] else None
            rows.append([name, c["records"], c["requests"], c["check"], c["minimum"], c["ratio"], c["wall_s"],
                         c["cpu_s"], c["rec_per_cpu_s"], c["peak_rss_mb"], m["records"], m["requests"], m["wall_s"],
                         m["cpu_s"], m["rec_per_cpu_s"], m["peak_rss_mb"], round(cpu_ratio, 3) if cpu_ratio else None])
            d = by_key.get((name, "docker"))
            if d:
                rows.append([name + " (docker)", d["records"], d["requests"], d["check"], d["minimum"], d["ratio"],
                             d["wall_s"], d["cpu_s"], d["rec_per_cpu_s"], d["peak_rss_mb"], None, None, None, None,
                             None, None,
                             round(d["rec_per_cpu_s"] / m["rec_per_cpu_s"], 3) if m and d["rec_per_cpu_s"] else None])
        out.append(table(["stream", "records", "requests", "check", "min req", "ratio", "wall s", "CPU s", "rec/CPU-s",
                          "peak RSS MB", "mini records", "mini req", "mini wall s", "mini CPU s", "mini rec/CPU-s",
                          "mini RSS MB", "conn/mini rec/CPU-s"], rows))
        bad = [r for r in streams["rows"] if r["rc"] != 0 or r["errors"] or r.get("non_200")]
        if bad:
            out.append("\nFAILURES: " + "; ".join(f"{r['stream']}/{r['who']} rc={r['rc']} non_200={r.get('non_200')} "
                                                   f"{r['errors']}" for r in bad))
        mismatched = [n for n in names if by_key.get((n, "minimal")) and
                      by_key[(n, "connector")]["records"] != by_key[(n, "minimal")]["records"]]
        if mismatched:
            out.append("\nRECORD COUNT MISMATCH connector vs minimal: " + ", ".join(mismatched))
        all_c = by_key.get(("ALL", "connector"))
        if all_c and streams.get("repeated_prerequisites"):
            shared = all_c["minimum"] - streams["repeated_prerequisites"]
            out.append(f"\nALL: min req is the sum of the streams' minima. A client reading the streams together "
                       f"would make the newest-event request and the report streams' experience list once: "
                       f"{shared:,} requests; the connector made {all_c['requests'] - all_c['check']:,} "
                       f"(+{all_c['check']} check), {(all_c['requests'] - all_c['check']) / shared:.3f}x that.")
        verified = [r for r in streams["rows"] if r.get("same_records_as_minimal") is not None]
        if verified:
            differing = [r["stream"] for r in verified if not r["same_records_as_minimal"]]
            out.append(f"\nRecord data verified against the minimal client for {len(verified)} streams: "
                       + ("identical" if not differing else "DIFFERENT for " + ", ".join(differing)))
        s = streams["startup"]
        out.append(f"\nStart-up: `source-convert spec` wall median {s['spec_wall_s_median']} s (min "
                   f"{s['spec_wall_s_min']} s, CPU median {s['spec_cpu_s_median']} s, peak RSS {s['spec_peak_rss_mb']} MB,"
                   f" {s['repeats']} runs)" + (f"; docker image spec wall median {s['docker_spec_wall_s_median']} s"
                                               if "docker_spec_wall_s_median" in s else ""))
        # A read's start-up (imports, building the source) is estimated by the one-record `account` read.
        all_c, all_m = by_key.get(("ALL", "connector")), by_key.get(("ALL", "minimal"))
        one_c, one_m = by_key.get(("account", "connector")), by_key.get(("account", "minimal"))
        if all_c and all_m and one_c and one_m and all_c["cpu_s"] > one_c["cpu_s"] and all_m["cpu_s"] > one_m["cpu_s"]:
            conn_rate = all_c["records"] / (all_c["cpu_s"] - one_c["cpu_s"])
            mini_rate = all_m["records"] / (all_m["cpu_s"] - one_m["cpu_s"])
            out.append(f"All streams, read start-up excluded (CPU of the one-record `account` read: connector "
                       f"{one_c['cpu_s']} s, minimal {one_m['cpu_s']} s): connector {conn_rate:,.0f} rec/CPU-s vs "
                       f"minimal {mini_rate:,.0f} rec/CPU-s ({conn_rate / mini_rate:.3f}x)")
    latency = results.get("latency")
    if latency:
        f = latency["facts"]
        out.append(f"\n## Latency: {', '.join(latency['streams'])} together, {latency['experiences']} experiences "
                   f"({f['started_experiences']} started, {f['started_experience_goals']} started experience goals), "
                   f"{latency['latency_s'] * 1000:.0f} ms per request")
        out.append("ideal = minimum requests x latency / concurrency; the minimum counts the report streams' "
                   f"experience list once ({latency['repeated_prerequisites']} fewer than the sum of the two streams' "
                   "minima), as the connector reads it. The check (one request before any stream) is not in the "
                   "ideal. peak in flight: the simulator's peak_in_flight (request read to answer ready).\n")
        out.append(table(["concurrency", "records", "requests", "check", "min req", "ideal s", "wall s", "wall/ideal",
                          "server span s", "span/ideal", "peak in flight", "CPU s", "peak RSS MB"],
                         [[r["concurrency"], r["records"], r["requests"], r["check"], r["minimum"], r["ideal_s"],
                           r["wall_s"], r["wall_over_ideal"], r["server_span_s"], r["span_over_ideal"],
                           r["peak_in_flight"], r["cpu_s"], r["peak_rss_mb"]]
                          for r in latency["rows"]]))
    memory = results.get("memory")
    if memory:
        out.append(f"\n## Memory: {' + '.join(memory['streams'])} in one sync, zero latency")
        repeated = memory["rows"][0]["repeated_prerequisites"] if memory["rows"] else 0
        out.append(f"min req counts the newest-event request once per stream (read once: {repeated} fewer).\n")
        out.append(table(["experiences", "records", "requests", "check", "min req", "wall s", "CPU s", "rec/CPU-s",
                          "peak RSS MB", "vs smallest", "sim generate s"],
                         [[r["experiences"], r["records"], r["requests"], r["check"], r["minimum"], r["wall_s"],
                           r["cpu_s"], r["rec_per_cpu_s"], r["peak_rss_mb"], r["rss_vs_smallest"],
                           r["sim_generate_s"]] for r in memory["rows"]]))
    return "\n".join(out)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark source-convert against the bundled simulator.")
    parser.add_argument("--quick", action="store_true", help="small sizes and short latency for a sanity run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--experiences", type=int, default=1000, help="dataset size of the streams scenario")
    parser.add_argument("--streams", default=",".join(STREAMS), help="comma-separated streams (streams scenario)")
    parser.add_argument("--concurrency", type=int, default=2, help="max_concurrent_requests of zero-latency runs")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per request (latency scenario)")
    parser.add_argument("--latency-experiences", type=int, default=500)
    parser.add_argument("--latency-concurrency", default="2,4,8")
    parser.add_argument("--memory-sizes", default="1000,100000")
    parser.add_argument("--startup-repeats", type=int, default=5)
    parser.add_argument("--skip", default="", help="comma-separated scenarios to skip: streams,latency,memory")
    parser.add_argument("--only", default="", help="comma-separated scenarios to run (default streams,latency,memory; "
                                                   "projects only when named here or with --projects)")
    parser.add_argument("--projects", action="store_true", help="also run the multi-project scenario (bench/projects.py)")
    parser.add_argument("--docker", choices=("auto", "always", "never"), default="auto",
                        help=f"also run the image {DOCKER_IMAGE} (--network host) when present")
    parser.add_argument("--no-sim-cache", action="store_true", help="let the simulator re-sort every list page")
    parser.add_argument("--verify", action="store_true",
                        help="check per stream that the connector and the minimal client emit the same record data "
                             "(on with --quick)")
    parser.add_argument("--json-out", help="write all figures as JSON here")
    parser.add_argument("--connector-src", help="directory put first on the connector's PYTHONPATH (a modified copy "
                                                "of the repo, to measure a proposed change)")
    from bench import projects  # noqa: PLC0415 (it imports this module)

    projects.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.experiences = min(args.experiences, 120)
        args.latency = min(args.latency, 0.05)
        args.latency_experiences = min(args.latency_experiences, 120)
        args.latency_concurrency = "2,4"
        args.memory_sizes = "500,5000"
        args.startup_repeats = 3
        args.verify = True
        args.refresh_sizes = "500"
    global CONNECTOR_SRC
    CONNECTOR_SRC = str(Path(args.connector_src).resolve()) if args.connector_src else None
    args.streams = [s for s in args.streams.split(",") if s]
    unknown = set(args.streams) - set(STREAMS)
    if unknown:
        parser.error(f"unknown streams: {sorted(unknown)}")
    args.latency_concurrency = [int(c) for c in args.latency_concurrency.split(",") if c]
    args.memory_sizes = [int(n) for n in args.memory_sizes.split(",") if n]
    args.docker_enabled = args.docker == "always" or (args.docker == "auto" and docker_available())
    projects.normalize(args)
    only = [s for s in args.only.split(",") if s]
    chosen = [s for s in ("streams", "latency", "memory") if (not only or s in only) and s not in args.skip.split(",")]
    if (args.projects or "projects" in only) and "projects" not in args.skip.split(","):
        chosen.append("projects")

    work = Workdir()
    results: Dict[str, Any] = {"argv": sys.argv[1:], "cpus": os.cpu_count(), "python": sys.version.split()[0],
                               "docker": args.docker_enabled}
    try:
        started = time.perf_counter()
        for name in chosen:
            print(f"== {name}", file=sys.stderr, flush=True)
            results[name] = {"streams": scenario_streams, "latency": scenario_latency,
                             "memory": scenario_memory, "projects": projects.scenario_projects}[name](args, work)
        results["total_s"] = round(time.perf_counter() - started, 1)
    finally:
        work.cleanup()
    print(report(results))
    if "projects" in results:
        print("\n" + projects.report_projects(results["projects"]))
    print(f"\n(total {results.get('total_s')} s, {results['cpus']} CPUs, Python {results['python']})")
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(results, indent=2, default=str))
    failed = any(r["rc"] != 0 for scenario in ("streams", "latency", "memory") for r in results.get(scenario, {}).get("rows", []))
    failed = failed or any(run[sync]["rc"] != 0 for key in ("runs", "refresh")
                           for run in results.get("projects", {}).get(key, []) for sync in ("first", "incremental"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
