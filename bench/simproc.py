"""The bundled Convert simulator in its own process, driven over stdin/stdout by the benchmark.

    python -m bench.simproc --experiences 1000 --latency 0 --seed 7

On start it prints one JSON line ``{"config": {...}, "facts": {...}, "generate_s": ...}``, then answers
one JSON line per command read from stdin:

    reset      clear the request log and the in-flight high-water marks
    stats      request counts of the log (total, per endpoint kind, per project and kind, per status),
               peak in flight, server span
    facts      ``project_facts`` of every project of the account (for the multi-project benchmark)
    advance N  ``Dataset.advance(N)`` (changes in every project); answers the changed objects
    quit       stop the server and exit

Running the server in a separate process keeps its memory and CPU out of the connector's figures
(the connector's peak RSS and CPU come from ``wait4`` on the connector process alone).

``facts`` are read from the simulator's dataset (never constants) so the benchmark can compute the
minimum number of requests per stream: those of the configured project (200002) on start, those of
every project on ``facts``.

With ``--sim-cache`` (the benchmark's default) the list endpoints memoise the filtered, sorted list
per request shape. Answers are identical while the dataset is unchanged; ``advance`` (the only command
that changes it) empties the cache. It only removes the simulator's O(N log N) re-sort per page, which
dominates at 100,000 experiences (about 0.2 s per page).
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
from simulator import listing, segments
from simulator.generator import ACCOUNT_ID, WEB_PROJECT_ID

# Experience statuses that can still be edited: experience_details and variations re-read these on every
# incremental sync (the manifest's refresh_filter); archived and deleted ones only when history names them.
EDITABLE_STATUSES = ("draft", "active", "paused", "completed", "scheduled")
_PROJECT_IN_PATH = re.compile(r"/projects/(\d+)(?:/|$)")

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


def detailed_kind(path: str, body: Any) -> str:
    """``classify`` plus what tells the streams apart that share an endpoint: ``:objects=<o>`` for a change
    history filtered by object type, ``:only`` for a re-read of named ids, ``:refresh`` for the re-read of
    every editable experience (a status filter of exactly the editable statuses), ``:segments`` for an
    aggregated report with a segments filter."""
    kind = classify(path, body)
    if not isinstance(body, dict):
        return kind
    if kind == "aggregated_report" and body.get("segments"):
        return kind + ":segments"  # segment_reports' filtered reports
    if kind.startswith("list:change-history") and body.get("objects"):
        kind += ":objects=" + ",".join(sorted(body["objects"]))
    if body.get("only"):
        kind += ":only"
    elif kind.startswith("list:experiences") and sorted(body.get("status") or []) == sorted(EDITABLE_STATUSES):
        kind += ":refresh"
    return kind


def request_project(path: str) -> str:
    """The project id in a request path, ``-`` for account-level requests."""
    match = _PROJECT_IN_PATH.search(path)
    return match.group(1) if match else "-"


def project_facts(ds: Dataset, project_id: int) -> Dict[str, Any]:
    """``dataset_facts`` plus what the multi-project benchmark's minima need: each started experience
    (status, end time, ``ran_until`` as the list renders it, goals), the editable experiences, the change
    history as ``[timestamp, object, object_id]`` and the knowledge bases' ``updated_at``."""
    facts = dataset_facts(ds, project_id)
    store = ds.store[project_id]
    started = []
    for exp in store["experiences"].values():
        if exp.get("status") == "deleted" or not (exp.get("start_time") or 0) > 0:
            continue
        days = ds.run_days(exp)
        times = [t for t in (((exp.get("end_time") or ds.now) if days else 0), exp.get("end_time") or 0) if t > 0]
        goals = [g for g in exp.get("goals") or [] if g is not None]
        started.append({"id": exp["id"], "status": exp.get("status"), "end_time": exp.get("end_time") or 0,
                        "ran_until": max(times) if times else None, "goals": len(goals),
                        "revenue_goals": sum(1 for g in goals if (store["goals"].get(g) or {}).get("type") == "revenue"),
                        # what its report settings name: the campaigns and custom segments segment_reports reads
                        "campaigns": len(segments.campaigns_of(ds.seed, exp["id"])),
                        "custom_segments": sum(1 for a in store["audiences"].values() if a.get("type") == "segmentation")})
    facts.update({
        "now": ds.now,
        "project_type": ds.projects[project_id].get("project_type"),
        "editable_experiences": sum(1 for e in store["experiences"].values() if e.get("status") in EDITABLE_STATUSES),
        "editable_ids": sorted(e["id"] for e in store["experiences"].values() if e.get("status") in EDITABLE_STATUSES),
        "experience_statuses": dict(collections.Counter(e.get("status") for e in store["experiences"].values())),
        "started": started,
        "history": sorted([e["timestamp"], e["object"], e["object_id"]] for e in store["change-history"].values()),
        "kb_updated_at": sorted(k.get("updated_at") or 0 for k in store["knowledge-bases"].values()),
    })
    return facts


def all_project_facts(ds: Dataset) -> Dict[str, Any]:
    with ds.lock:
        return {"projects": sorted(ds.projects), "collaborators": len(ds.users_accesses), "now": ds.now,
                "by_project": {str(pid): project_facts(ds, pid) for pid in sorted(ds.projects)}}


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


_LIST_CACHE: Dict[Any, List[Dict[str, Any]]] = {}


def install_list_cache() -> None:
    """Memoise ``listing.select`` per (collection, project, sort, filters); safe while the data is unchanged
    (``advance`` clears it)."""
    original = listing.select
    cache = _LIST_CACHE

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
    by_project = collections.Counter(f"{request_project(r.path)}|{detailed_kind(r.path, r.body)}" for r in log)
    statuses = collections.Counter(str(r.status) for r in log)
    return {
        "requests": len(log),
        "by_kind": dict(kinds),
        "by_project_kind": dict(by_project),
        "by_status": dict(statuses),
        "auth_failures": sum(1 for r in log if not r.auth_ok),
        "peak_in_flight": sim.peak_in_flight,
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
            elif command == "facts":
                reply(all_project_facts(dataset))
            elif command.startswith("advance"):
                days = int(command.split()[1]) if len(command.split()) > 1 else 1
                changed = dataset.advance(days)
                _LIST_CACHE.clear()
                reply({"changed": {str(pid): objects for pid, objects in changed.items()}, "now": dataset.now})
            elif command == "quit" or not command:
                break
            else:
                reply({"error": f"unknown command {command!r}"})
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
