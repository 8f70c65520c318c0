"""The bundled Convert simulator in its own process, driven over stdin/stdout by the benchmark.

    python -m bench.simproc --experiences 1000 --latency 0 --seed 7

On start it prints one JSON line ``{"config": {...}, "facts": {...}, "generate_s": ...}``, then answers
one JSON line per command read from stdin:

    reset   clear the request log and the in-flight high-water mark
    stats   request counts of the log (total, per endpoint kind, per status), max in flight, server span
    quit    stop the server and exit

Running the server in a separate process keeps its memory and CPU out of the connector's figures
(the connector's peak RSS and CPU come from ``wait4`` on the connector process alone).

``facts`` are read from the simulator's dataset (never constants) so the benchmark can compute the
minimum number of requests per stream.

With ``--sim-cache`` (the benchmark's default) the list endpoints memoise the filtered, sorted list
per request shape. The bench never mutates the dataset, so answers are identical; it only removes the
simulator's O(N log N) re-sort per page, which dominates at 100,000 experiences (about 0.2 s per page).
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import time
from typing import Any, Dict, List, Optional

from simulator import ConvertSimulator, Dataset
from simulator import listing
from simulator.generator import ACCOUNT_ID, WEB_PROJECT_ID

# Endpoint kinds, by path (after /api/v2). Order matters: the first match wins.
_KINDS = [
    ("aggregated_report", re.compile(r"/experiences/\d+/aggregated_report$")),
    ("daily_report", re.compile(r"/experiences/\d+/daily_report$")),
    ("report_settings", re.compile(r"/experiences/\d+/report_settings$")),
    ("get_object", re.compile(r"/projects/\d+/[a-z-]+/\d+$")),
    ("list", re.compile(r"/projects/\d+/(?P<c>[a-z-]+)$")),
    ("projects", re.compile(r"/accounts/\d+/projects$")),
    ("account", re.compile(r"/accounts/\d+/details$")),
    ("users_accesses", re.compile(r"/accounts/\d+/users-accesses$")),
]


def classify(path: str, body: Any) -> str:
    """A short name for the endpoint of one logged request (``list:experiences+goals``,
    ``list:change-history:first`` etc.)."""
    for name, pattern in _KINDS:
        match = pattern.search(path)
        if not match:
            continue
        if name == "list":
            kind = f"list:{match.group('c')}"
            if isinstance(body, dict) and (body.get("include") or body.get("expand")):
                kind += "+" + ",".join(sorted(set(body.get("include") or []) | set(body.get("expand") or [])))
            if isinstance(body, dict) and body.get("results_per_page") == 1:
                kind += ":first"  # a one-record page: the change history's newest event
            return kind
        return name
    return "other:" + path


def dataset_facts(ds: Dataset, project_id: int = WEB_PROJECT_ID) -> Dict[str, Any]:
    """Sizes the minimum request counts are computed from (every status counted: the lists name them all)."""
    store = ds.store[project_id]
    experiences = list(store["experiences"].values())
    # The report streams read every experience but the deleted ones, and report on those that have run.
    reportable = [e for e in experiences if e.get("status") != "deleted"]
    started = [e for e in reportable if (e.get("start_time") or 0) > 0]
    goals = [g for e in started for g in e.get("goals") or [] if g is not None]
    return {
        "project_id": project_id,
        "counts": {kind: len(records) for kind, records in store.items()},
        "projects": len(ds.projects),
        "collaborators": len(ds.users_accesses),
        "experiences": len(experiences),
        "report_experiences": len(reportable),
        "started_experiences": len(started),
        "started_experience_goals": len(goals),
        "started_experience_revenue_goals": sum(1 for g in goals
                                                if (store["goals"].get(g) or {}).get("type") == "revenue"),
        "not_started_experiences": sum(1 for e in experiences if not (e.get("start_time") or 0) > 0),
    }


def install_list_cache() -> None:
    """Memoise ``listing.select`` per (collection, project, sort, filters); safe while the data is unchanged."""
    original = listing.select
    cache: Dict[Any, List[Dict[str, Any]]] = {}

    def cached_select(kind: str, records: List[Dict[str, Any]], req: Any, ctx: Any) -> List[Dict[str, Any]]:
        key = (kind, ctx.pid, len(records), ctx.ds.now, req.sort_by, req.descending,
               json.dumps(req.filters, sort_keys=True, default=str),
               tuple(req.only) if req.only is not None else None,
               tuple(req.except_) if req.except_ is not None else None)
        chosen = cache.get(key)
        if chosen is None:
            chosen = cache[key] = original(kind, records, req, ctx)
        return chosen

    listing.select = cached_select


def stats(sim: ConvertSimulator) -> Dict[str, Any]:
    log = sim.requests
    kinds = collections.Counter(classify(r.path, r.body) for r in log)
    statuses = collections.Counter(str(r.status) for r in log)
    return {
        "requests": len(log),
        "by_kind": dict(kinds),
        "by_status": dict(statuses),
        "auth_failures": sum(1 for r in log if not r.auth_ok),
        "max_in_flight": sim.max_in_flight,
        "first_started": min((r.started for r in log), default=None),
        "last_ended": max((r.ended for r in log), default=None),
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.simproc")
    parser.add_argument("--experiences", type=int, default=120)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-count", action="store_true", help="list answers without items_count")
    parser.add_argument("--sim-cache", action="store_true", help="memoise sorted lists (see module doc)")
    args = parser.parse_args(argv)

    if args.sim_cache:
        install_list_cache()
    started = time.perf_counter()
    dataset = Dataset.generate(seed=args.seed, experiences=args.experiences)
    generate_s = time.perf_counter() - started
    sim = ConvertSimulator(dataset=dataset, latency=args.latency, port=args.port,
                           pagination_count=not args.no_count, seed=args.seed)
    sim.start()
    out = sys.stdout

    def reply(payload: Dict[str, Any]) -> None:
        out.write(json.dumps(payload) + "\n")
        out.flush()

    try:
        reply({"config": sim.config(), "facts": dataset_facts(dataset), "generate_s": round(generate_s, 3),
               "account_id": ACCOUNT_ID})
        for line in sys.stdin:
            command = line.strip()
            if command == "reset":
                sim.reset_log()
                reply({"ok": True})
            elif command == "stats":
                reply(stats(sim))
            elif command == "quit" or not command:
                break
            else:
                reply({"error": f"unknown command {command!r}"})
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
