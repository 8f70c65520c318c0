"""Multi-project benchmark: project_id "*" over the simulator's three projects.

    .venv/bin/python -m bench.run --only projects                      # from the repository root
    .venv/bin/python -m bench.projects --experiences 120               # the same, alone

For each concurrency (``--projects-concurrency``, default 2 and 8) a fresh simulator with
``--projects-latency`` (default 0.2 s) per request serves a first sync of the streams in
``MODELLED_STREAMS`` (incremental where a stream supports it, no state), then ``Dataset.advance(1)``
changes every project and an incremental sync runs from the first sync's state. Printed per sync: requests per
request group and project against the minimum, records per stream, wall time against the bounds
(requests x latency / concurrency), and the simulator's ``peak_in_flight`` (which must not exceed
``max_concurrent_requests``).

Then the cost of re-reading every editable experience (draft, active, paused, completed, scheduled)
on each incremental sync of ``experience_details``, ``variations`` and ``variation_changes`` (the last
two share their pages): at zero latency, for the sizes of ``--refresh-sizes``, a first sync of the three
streams, ``advance(1)``, an incremental sync, and the requests of each against the number of editable
experiences.

Minimum requests (computed from the simulator's dataset, never constants; see ``first_sync_minimum``
and ``incremental_minimum``) count a prerequisite that several streams share once, as one client
reading every stream together would; the connector's request groups are the rows, so a prerequisite
the connector makes more than once shows as more requests than the minimum in its own row.
segment_reports (``--report-segments``, default visitor_types and campaigns) costs one filtered report
per experience read and segment value (row ``segment_reports``), shares the unfiltered report with
aggregated_reports (row ``aggregated_reports``: one per experience for both), and with campaigns or
custom_segments one report settings GET per experience (row ``report_settings``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from bench.run import (DAILY_METRICS, LIST_KINDS, PAGE, Measured, SimProcess, Workdir, _env, connector_command,
                       measure, pages, table)
from source_convert.components.report_vocabulary import SEGMENT_VALUES

ACCOUNT = "-"  # the "project" of account-level requests
DAY = 86400
# Streams re-read whole on every sync (full refresh, or refresh_always in the manifest).
FULL_EVERY_SYNC = ("hypotheses", "observations", "features", "tags", "domains", "audiences", "locations")
# Change-driven streams -> the change-history object whose events say what to re-read.
HISTORY_OBJECT = {"experiences": "experience", "experience_details": "experience", "variations": "experience",
                  "variation_changes": "experience", "goals": "goal"}
# re-read every editable experience on each incremental sync
REFRESHED = ("experience_details", "variations", "variation_changes")
# Streams that read another stream's pages: read together, those pages are requested once for both.
SAME_PAGES = {"variation_changes": "variations"}
# The streams whose fewest requests this module computes. The per-experience streams (report_settings,
# experience_sections, experience_change_history) are left out here: their exact request counts are
# asserted in integration_tests/test_experience_objects.py.
MODELLED_STREAMS = ("account", "collaborators", "projects", "experiences", "experience_details", "variations",
                    "variation_changes", "goals", "audiences", "locations", "hypotheses", "knowledge_bases",
                    "observations", "features", "tags", "domains", "change_history", "aggregated_reports",
                    "segment_reports", "daily_reports")
NEWEST_EVENT = "newest history event"
STARTED = "started experiences"
PROJECTS_LIST = "projects list"
_COLLECTION_STREAM = {"goals": "goals", "audiences": "audiences", "locations": "locations", "hypotheses": "hypotheses",
                      "knowledge-bases": "knowledge_bases", "observations": "observations", "features": "features",
                      "tags": "tags", "domains": "domains", "change-history": "change_history"}


# ----------------------------------------------------------------------------- request groups
def request_group(kind: str) -> str:
    """The connector's request group of one detailed endpoint kind (``simproc.detailed_kind``)."""
    if kind == "projects":
        return PROJECTS_LIST
    if kind in ("account", "aggregated_report", "aggregated_report:segments", "daily_report"):
        return {"account": "account", "aggregated_report": "aggregated_reports", "daily_report": "daily_reports",
                "aggregated_report:segments": "segment_reports"}[kind]
    if kind == "users_accesses":
        return "collaborators"
    if not kind.startswith("list:"):
        return kind
    parts = kind.split(":")
    collection, _, options = parts[1].partition("+")
    flags = parts[2:]
    mode = " [changed ids]" if "only" in flags else " [editable refresh]" if "refresh" in flags else ""
    if collection == "change-history":
        if "first" in flags:
            return NEWEST_EVENT
        objects = [flag.split("=", 1)[1] for flag in flags if flag.startswith("objects=")]
        return f"history: {objects[0]}" if objects else "change_history"
    if collection == "experiences":
        if not options:
            return "experiences" + mode
        if "stats" in options.split(","):
            return "experience_details" + mode
        if options == "variations,variations.changes":  # the pages of variations and variation_changes
            return "variations" + mode
        if "max_running_timestamp" in options.split(","):
            return STARTED
    return _COLLECTION_STREAM.get(collection, collection) + mode


def observed(stats: Mapping[str, Any]) -> Dict[str, Dict[str, int]]:
    """{group: {project: requests}} from the simulator's per-project kinds."""
    out: Dict[str, Dict[str, int]] = {}
    for key, count in stats["by_project_kind"].items():
        project, kind = key.split("|", 1)
        group = out.setdefault(request_group(kind), {})
        group[project] = group.get(project, 0) + count
    return out


# ----------------------------------------------------------------------------- minimum requests
def _page_readers(streams: Sequence[str]) -> List[str]:
    """The streams that send list pages of their own: one of each set of streams reading the same pages."""
    return list(dict.fromkeys(SAME_PAGES.get(stream, stream) for stream in streams))


def _add(minimum: Dict[str, Dict[str, int]], group: str, project: str, count: int) -> None:
    minimum.setdefault(group, {})[project] = minimum.get(group, {}).get(project, 0) + count


def _account_minimum(facts: Mapping[str, Any], streams: Sequence[str]) -> Dict[str, Dict[str, int]]:
    """The account-level requests of every sync: the projects list once (it resolves "*", and the same
    answer is the projects stream's records), ``account`` and ``collaborators`` one each."""
    minimum: Dict[str, Dict[str, int]] = {}
    _add(minimum, PROJECTS_LIST, ACCOUNT, pages(len(facts["projects"])))
    for stream in ("account", "collaborators"):
        if stream in streams:
            _add(minimum, stream, ACCOUNT, 1)
    return minimum


def _daily_requests(experience: Mapping[str, Any], metrics: Sequence[str]) -> int:
    revenue_metrics = sum(1 for metric in DAILY_METRICS[1:] if metric in metrics)
    return experience["goals"] * ("conversion_rate" in metrics) + experience["revenue_goals"] * revenue_metrics


def segment_values(experience: Mapping[str, Any], segments: Mapping[str, Any]) -> int:
    """segment_reports' filtered reports for one experience: one per value of each configured dimension (the
    published enums, the configured countries, the campaigns and custom segments its report settings name)."""
    counts = {dimension: len(values) for dimension, values in SEGMENT_VALUES.items()}
    counts.update(countries=len(segments.get("report_segment_countries") or []),
                  campaigns=experience["campaigns"], custom_segments=experience["custom_segments"])
    return sum(counts[dimension] for dimension in segments.get("report_segments") or [])


def _report_minimum(minimum: Dict[str, Dict[str, int]], project: str, read: Sequence[Mapping[str, Any]],
                    streams: Sequence[str], metrics: Sequence[str], segments: Mapping[str, Any]) -> None:
    """The report requests for the experiences ``read``: one aggregated report each (shared by aggregated_reports
    and segment_reports), the daily reports, and segment_reports' filtered reports plus one report settings GET
    each when campaigns or custom_segments are configured."""
    segmented = "segment_reports" in streams and bool(segments.get("report_segments"))
    if "aggregated_reports" in streams or segmented:
        _add(minimum, "aggregated_reports", project, len(read))
    if "daily_reports" in streams:
        _add(minimum, "daily_reports", project, sum(_daily_requests(e, metrics) for e in read))
    if segmented:
        _add(minimum, "segment_reports", project, sum(segment_values(e, segments) for e in read))
        if {"campaigns", "custom_segments"} & set(segments["report_segments"]):
            _add(minimum, "report_settings", project, len(read))


def _reads_reports(streams: Sequence[str], segments: Mapping[str, Any]) -> bool:
    return any(stream in streams for stream in ("aggregated_reports", "daily_reports")) or (
        "segment_reports" in streams and bool(segments.get("report_segments")))


def first_sync_minimum(facts: Mapping[str, Any], streams: Sequence[str],
                       metrics: Sequence[str] = DAILY_METRICS, segments: Mapping[str, Any] = {}) -> Dict[str, Dict[str, int]]:
    """{group: {project: fewest requests}} for a first sync of ``streams`` with project_id "*".

    The account-level requests (``_account_minimum``); per project: every list ceil(N/50) (an empty one costs one; variation_changes reads the pages of
    variations, once for both when both are read), the newest change-history event once
    for all change-driven lists (their changed_at), the started-experience list once for both report
    streams, one aggregated report per started experience, one daily report per started experience
    goal and metric that applies.
    """
    minimum = _account_minimum(facts, streams)
    for project, pf in facts["by_project"].items():
        for stream in _page_readers(streams):
            if stream in LIST_KINDS:
                _add(minimum, stream, project, pages(pf["counts"][LIST_KINDS[stream]]))
        if any(stream in streams for stream in ("experiences", "experience_details", "variations", "variation_changes",
                                                 "goals", "audiences", "locations")):
            _add(minimum, NEWEST_EVENT, project, 1)
        if _reads_reports(streams, segments):
            _add(minimum, STARTED, project, pages(pf["report_experiences"]))
        _report_minimum(minimum, project, pf["started"], streams, metrics, segments)
    return minimum


def _newest_first_pages(newer: int, total: int) -> int:
    """Pages of a newest-first list read down to a saved cursor: the page that holds the first older
    record ends it (or the list's end, known from items_count)."""
    return min(pages(total), newer // PAGE + 1)


def incremental_minimum(before: Mapping[str, Any], after: Mapping[str, Any], streams: Sequence[str],
                        lookback_days: int, metrics: Sequence[str] = DAILY_METRICS,
                        segments: Mapping[str, Any] = {}) -> Dict[str, Dict[str, int]]:
    """{group: {project: fewest requests}} for an incremental sync of ``streams`` after a first sync of
    the data in ``before``, on the data in ``after``. Cursors are those a first sync saves: the newest
    history event, the newest knowledge-base ``updated_at``, the newest ``ran_until`` (all inclusive).

    Per project: lists re-read whole on every sync ceil(N/50); the change history newest first down to
    the cursor; each object type's history (experience, goal) once for the streams it drives, and the
    ids its events name 50 a request (experience_details and variations: only those not also editable);
    every editable experience 50 a request for experience_details and for variations (the refresh);
    variation_changes reads the pages of variations (none of its own when both are read);
    the newest event once (audiences' and locations' changed_at); knowledge bases newest first down to
    the cursor; the started experiences once, and reports for each one that ran after the saved
    ``ran_until`` minus the lookback or is still running.
    """
    minimum = _account_minimum(after, streams)
    for project, now in after["by_project"].items():
        then = before["by_project"].get(project)
        history_cursor = max((event[0] for event in then["history"]), default=None) if then else None
        new_events = [e for e in now["history"] if history_cursor is None or e[0] >= history_cursor]
        for stream in streams:
            if stream in FULL_EVERY_SYNC:
                _add(minimum, stream, project, pages(now["counts"][LIST_KINDS[stream]]))
        if "change_history" in streams:
            _add(minimum, "change_history", project, _newest_first_pages(len(new_events), len(now["history"])))
        if any(stream in streams for stream in ("audiences", "locations")):
            _add(minimum, NEWEST_EVENT, project, 1)
        for obj in sorted({HISTORY_OBJECT[s] for s in streams if s in HISTORY_OBJECT}):
            events = [e for e in new_events if e[1] == obj]
            _add(minimum, f"history: {obj}", project,
                 _newest_first_pages(len(events), sum(1 for e in now["history"] if e[1] == obj)))
        changed = {obj: sorted({e[2] for e in new_events if e[1] == obj}) for obj in ("experience", "goal")}
        editable = set(now["editable_ids"])
        for stream in _page_readers(streams):
            if stream not in HISTORY_OBJECT:
                continue
            ids = changed[HISTORY_OBJECT[stream]]
            if stream in REFRESHED:
                ids = [i for i in ids if i not in editable]
                _add(minimum, stream + " [editable refresh]", project, math.ceil(len(editable) / PAGE))
            _add(minimum, stream + " [changed ids]", project, math.ceil(len(ids) / PAGE))
        if "knowledge_bases" in streams:
            saved = max(then["kb_updated_at"], default=None) if then else None
            total = len(now["kb_updated_at"])
            newer = sum(1 for t in now["kb_updated_at"] if saved is None or t >= saved)
            _add(minimum, "knowledge_bases", project, pages(total) if saved is None else _newest_first_pages(newer, total))
        if _reads_reports(streams, segments):
            _add(minimum, STARTED, project, pages(now["report_experiences"]))
            saved_ran = max((e["ran_until"] for e in then["started"] if e["ran_until"]), default=None) if then else None
            window = saved_ran - lookback_days * DAY if saved_ran is not None else None
            read = [e for e in now["started"] if window is None or not _stopped_before(e, window)]
            _report_minimum(minimum, project, read, streams, metrics, segments)
    return {group: counts for group, counts in minimum.items() if any(counts.values())}


def _stopped_before(experience: Mapping[str, Any], threshold: int) -> bool:
    """Stopped (not active, with an end time) and last ran before ``threshold``: no report request needed."""
    if experience["status"] == "active" or not experience["end_time"]:
        return False
    return experience["ran_until"] is not None and experience["ran_until"] < threshold


# ----------------------------------------------------------------------------- connector runs
def discovered_catalog(work: Workdir, config: Mapping[str, Any], streams: Optional[Sequence[str]] = None
                       ) -> Dict[str, Any]:
    """The connector's discovered catalog as a configured catalog: incremental (append) where supported."""
    cfg = work.write("config.json", dict(config))
    out = subprocess.run(connector_command() + ["discover", "--config", cfg], capture_output=True, cwd=work.path,
                         env=_env(connector=True), timeout=300)
    found = [json.loads(line)["catalog"] for line in out.stdout.splitlines() if line.startswith(b'{"type":"CATALOG"')]
    if not found:
        raise RuntimeError(f"discover printed no catalog: {out.stderr[-2000:]!r}")
    configured = []
    for stream in found[0]["streams"]:
        if streams is not None and stream["name"] not in streams:
            continue
        incremental = "incremental" in stream["supported_sync_modes"]
        entry = {"stream": stream, "sync_mode": "incremental" if incremental else "full_refresh",
                 "destination_sync_mode": "append" if incremental else "overwrite"}
        if incremental and stream.get("default_cursor_field"):
            entry["cursor_field"] = stream["default_cursor_field"]
        configured.append(entry)
    return {"streams": configured}


def read(work: Workdir, config: Mapping[str, Any], configured: Mapping[str, Any],
         state: Optional[List[Any]] = None) -> Measured:
    args = connector_command() + ["read", "--config", work.write("config.json", dict(config)),
                                  "--catalog", work.write("catalog.json", dict(configured))]
    if state is not None:
        args += ["--state", work.write("state.json", state)]
    return measure(args, cwd=work.path, connector=True, keep_states=True)


def _non_200(stats: Mapping[str, Any]) -> int:
    return sum(n for status, n in stats["by_status"].items() if status != "200")


def compare(measured: Mapping[str, Dict[str, int]], minimum: Mapping[str, Dict[str, int]],
            projects: Sequence[str]) -> List[Dict[str, Any]]:
    """One row per request group: requests and minimum per project (and account level), and totals."""
    rows = []
    for group in sorted(set(measured) | set(minimum), key=_group_order):
        row: Dict[str, Any] = {"group": group, "requests": {}, "minimum": {}}
        for project in [ACCOUNT, *projects]:
            got, need = measured.get(group, {}).get(project, 0), minimum.get(group, {}).get(project, 0)
            if got or need:
                row["requests"][project], row["minimum"][project] = got, need
        row["total"], row["total_minimum"] = sum(row["requests"].values()), sum(row["minimum"].values())
        rows.append(row)
    return rows


_ORDER = [PROJECTS_LIST, "account", "collaborators", "projects", NEWEST_EVENT, "history: experience", "history: goal",
          "experiences", "experience_details", "variations", "goals", "audiences", "locations", "hypotheses",
          "knowledge_bases", "observations", "features", "tags", "domains", "change_history", STARTED,
          "aggregated_reports", "segment_reports", "report_settings", "daily_reports"]


def _group_order(group: str) -> Tuple[int, str]:
    base = group.split(" [")[0]
    return (_ORDER.index(base) if base in _ORDER else len(_ORDER), group)


def sync_figures(m: Measured, stats: Mapping[str, Any], minimum: Mapping[str, Dict[str, int]], projects: Sequence[str],
                 latency: float, concurrency: int) -> Dict[str, Any]:
    rows = compare(observed(stats), minimum, projects)
    requests, least = stats["requests"], sum(row["total_minimum"] for row in rows)
    span = (stats["last_ended"] - stats["first_started"]) if stats["first_started"] else 0.0
    bound = requests * latency / concurrency
    ideal = least * latency / concurrency
    return {"rows": rows, "records": dict(sorted(m.records.items())), "total_records": m.total_records,
            "requests": requests, "minimum": least, "ratio": round(requests / least, 3) if least else None,
            "wall_s": round(m.wall_s, 2), "server_span_s": round(span, 2), "bound_s": round(bound, 2),
            "ideal_s": round(ideal, 2), "wall_over_bound": round(m.wall_s / bound, 3) if bound else None,
            "span_over_bound": round(span / bound, 3) if bound else None,
            "wall_over_ideal": round(m.wall_s / ideal, 3) if ideal else None,
            "peak_in_flight": stats["peak_in_flight"],
            "cpu_s": round(m.cpu_s, 2), "peak_rss_mb": round(m.maxrss_kb / 1024, 1), "rc": m.returncode,
            "non_200": _non_200(stats), "errors": m.errors[:2], "stderr_tail": m.stderr_tail[-800:] if m.returncode else ""}


def two_syncs(args: argparse.Namespace, work: Workdir, experiences: int, latency: float, concurrency: int,
              streams: Optional[Sequence[str]]) -> Dict[str, Any]:
    """A first sync of ``streams`` (None: every stream) with project_id "*", advance(1), an incremental sync."""
    with SimProcess(experiences, latency, args.seed, sim_cache=not args.no_sim_cache) as sim:
        config = dict(sim.config, project_id="*", max_concurrent_requests=concurrency,
                      report_lookback_days=args.lookback_days, report_segments=args.report_segments,
                      report_segment_countries=args.report_segment_countries)
        segments = {name: config[name] for name in ("report_segments", "report_segment_countries")}
        configured = discovered_catalog(work, config, streams)
        names = [entry["stream"]["name"] for entry in configured["streams"]]
        metrics = config.get("daily_report_metrics") or DAILY_METRICS
        before = sim.project_facts()
        projects = [str(p) for p in before["projects"]]
        sim.reset()
        first = read(work, config, configured)
        first_stats = sim.stats()
        changed = sim.advance(1)
        after = sim.project_facts()
        sim.reset()
        second = read(work, config, configured, state=list(first.states.values()))
        second_stats = sim.stats()
    return {
        "experiences": experiences, "latency_s": latency, "concurrency": concurrency, "streams": names,
        "projects": projects, "changed": changed["changed"],
        "project_sizes": {p: {"experiences": f["experiences"], "editable": f["editable_experiences"],
                              "started": len(f["started"]), "type": f["project_type"]}
                          for p, f in after["by_project"].items()},
        "first": sync_figures(first, first_stats, first_sync_minimum(before, names, metrics, segments), projects,
                              latency, concurrency),
        "incremental": sync_figures(second, second_stats,
                                    incremental_minimum(before, after, names, args.lookback_days, metrics, segments),
                                    projects, latency, concurrency),
    }


def scenario_projects(args: argparse.Namespace, work: Workdir) -> Dict[str, Any]:
    runs = []
    for concurrency in args.projects_concurrency:
        run = two_syncs(args, work, args.projects_experiences, args.projects_latency, concurrency, list(MODELLED_STREAMS))
        runs.append(run)
        for sync in ("first", "incremental"):
            f = run[sync]
            print(f"  .. projects c={concurrency} {sync}: requests={f['requests']} minimum={f['minimum']} "
                  f"wall={f['wall_s']}s bound={f['bound_s']}s peak_in_flight={f['peak_in_flight']} rc={f['rc']}",
                  file=sys.stderr, flush=True)
    refresh = []
    for size in args.refresh_sizes:
        run = two_syncs(args, work, size, 0.0, 2, list(REFRESHED))
        refresh.append(run)
        print(f"  .. refresh n={size}: incremental requests={run['incremental']['requests']} "
              f"rc={run['first']['rc']}/{run['incremental']['rc']}", file=sys.stderr, flush=True)
    return {"runs": runs, "refresh": refresh, "lookback_days": args.lookback_days}


# ----------------------------------------------------------------------------- report
def _per_project(values: Mapping[str, int], projects: Sequence[str]) -> List[str]:
    return [str(values[p]) if p in values else "" for p in [ACCOUNT, *projects]]


def _pair(row: Mapping[str, Any], project: str) -> str:
    if project not in row["requests"]:
        return ""
    got, need = row["requests"][project], row["minimum"][project]
    return f"{got}" if got == need else f"{got} / {need}"


def _sync_table(sync: Mapping[str, Any], projects: Sequence[str]) -> str:
    rows = [[row["group"], *[_pair(row, p) for p in [ACCOUNT, *projects]], row["total"], row["total_minimum"]]
            for row in sync["rows"]]
    rows.append(["ALL", *[_sum(sync["rows"], p) for p in [ACCOUNT, *projects]], sync["requests"], sync["minimum"]])
    return table(["request group", "account", *projects, "requests", "min req"], rows)


def _sum(rows: Iterable[Mapping[str, Any]], project: str) -> str:
    rows = list(rows)
    got = sum(row["requests"].get(project, 0) for row in rows)
    need = sum(row["minimum"].get(project, 0) for row in rows)
    return f"{got}" if got == need else f"{got} / {need}"


def report_projects(result: Mapping[str, Any]) -> str:
    out: List[str] = []
    runs = result.get("runs") or []
    if runs:
        base = runs[0]
        projects = base["projects"]
        sizes = ", ".join(f"{p} {s['type']} {s['experiences']} experiences ({s['editable']} editable, "
                          f"{s['started']} started)" for p, s in base["project_sizes"].items())
        out.append(f"## Projects: project_id \"*\" ({len(projects)} projects: {sizes}), all "
                   f"{len(base['streams'])} streams, {base['latency_s'] * 1000:.0f} ms per request")
        out.append("Cells: requests, or `requests / minimum` where they differ; `account` = account-level requests. "
                   "The minimum counts a prerequisite shared by several streams once (see bench/projects.py). "
                   f"Incremental: after Dataset.advance(1), report_lookback_days={result['lookback_days']}.\n")
        for sync, title in (("first", "First sync (no state)"), ("incremental", "Incremental sync after advance(1)")):
            same = all(_counts(run[sync]) == _counts(base[sync]) for run in runs)
            out.append(f"### {title}: requests per request group and project (max_concurrent_requests="
                       f"{base['concurrency']}" + ("; the same counts at every concurrency)" if same else
                                                   "; counts DIFFER between concurrencies, see JSON)"))
            out.append(_sync_table(base[sync], projects))
            records = base[sync]["records"]
            out.append(f"\nRecords ({base[sync]['total_records']:,}): "
                       + ", ".join(f"{name} {count:,}" for name, count in records.items()) + "\n")
        rows = []
        for run in runs:
            for sync in ("first", "incremental"):
                f = run[sync]
                rows.append([f"{sync} c={run['concurrency']}", f["requests"], f["minimum"], f["ratio"], f["bound_s"],
                             f["ideal_s"], f["wall_s"], f["wall_over_bound"], f["server_span_s"], f["span_over_bound"],
                             f["peak_in_flight"], "yes" if f["peak_in_flight"] <= run["concurrency"] else "NO",
                             f["cpu_s"], f["peak_rss_mb"], f["rc"], f["non_200"]])
        out.append("### Wall time: bound = requests x latency / concurrency, ideal = min req x latency / concurrency; "
                   "server span = first request start to last request end (no process start-up)")
        out.append(table(["sync", "requests", "min req", "req/min", "bound s", "ideal s", "wall s", "wall/bound",
                          "server span s", "span/bound", "peak in flight", "<= concurrency", "CPU s", "peak RSS MB",
                          "rc", "non-200"], rows))
        failed = [f"{sync} c={run['concurrency']}: rc={run[sync]['rc']} {run[sync]['errors']} "
                  f"{run[sync]['stderr_tail'][-300:]}" for run in runs for sync in ("first", "incremental")
                  if run[sync]["rc"] or run[sync]["errors"]]
        if failed:
            out.append("\nFAILURES: " + "; ".join(failed))
    refresh = result.get("refresh") or []
    if refresh or runs:
        out.append("\n### Editable-experience refresh: requests per incremental sync (after advance(1))")
        out.append("E = editable experiences (draft, active, paused, completed, scheduled); refresh = the requests "
                   "that re-read them (a status filter of those five statuses), expected ceil(E/50); changed ids = "
                   "the experiences the project history names (asked in archived and deleted only); experience history = "
                   "reads of the project's experience history, one for both streams. A first sync reads the whole list: "
                   "ceil(N/50).\n")
        rows = []
        for run in ([runs[0]] if runs else []) + list(refresh):
            groups = {row["group"]: row for row in run["incremental"]["rows"]}
            first = {row["group"]: row for row in run["first"]["rows"]}
            for project in run["projects"]:
                size = run["project_sizes"][project]
                cells = []
                for stream in REFRESHED:
                    cells.append(groups.get(f"{stream} [editable refresh]", {}).get("requests", {}).get(project, 0))
                    cells.append(groups.get(f"{stream} [changed ids]", {}).get("requests", {}).get(project, 0))
                    cells.append(first.get(stream, {}).get("requests", {}).get(project, 0))
                history = groups.get("history: experience", {}).get("requests", {}).get(project, 0)
                rows.append([f"{run['experiences']} / {project}", size["experiences"], size["editable"],
                             math.ceil(size["editable"] / PAGE), *cells, history])
        out.append(table(["web size / project", "experiences", "E", "ceil(E/50)", "details refresh",
                          "details changed ids", "details first sync", "variations refresh", "variations changed ids",
                          "variations first sync", "experience history"], rows))
        for run in refresh:
            inc, first = run["incremental"], run["first"]
            part = sum(row["total"] for row in inc["rows"] if row["group"].endswith("[editable refresh]"))
            out.append(f"\n{run['experiences']} experiences in 200002, {' + '.join(run['streams'])} alone: first sync "
                       f"{first['requests']} requests, incremental sync {inc['requests']} (minimum {inc['minimum']}), "
                       f"of which {part} re-read editable experiences ({part / inc['requests']:.0%}); wall "
                       f"{first['wall_s']} s and {inc['wall_s']} s at zero latency.")
        if runs:
            inc = runs[0]["incremental"]
            refresh_requests = sum(row["total"] for row in inc["rows"] if row["group"].endswith("[editable refresh]"))
            out.append(f"\nIn the all-streams incremental sync above the refresh is {refresh_requests} of "
                       f"{inc['requests']} requests ({refresh_requests / inc['requests']:.1%}).")
    return "\n".join(out)


def _counts(sync: Mapping[str, Any]) -> List[Tuple[str, Dict[str, int]]]:
    return [(row["group"], row["requests"]) for row in sync["rows"]]


# ----------------------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--projects-experiences", type=int, default=120,
                        help="experiences of web project 200002 (200003 and 200004 are small, fixed)")
    parser.add_argument("--projects-latency", type=float, default=0.2, help="seconds per request")
    parser.add_argument("--projects-concurrency", default="2,8", help="max_concurrent_requests values")
    parser.add_argument("--refresh-sizes", default="1000,5000",
                        help="experiences of 200002 for the zero-latency refresh runs (empty: none)")
    parser.add_argument("--lookback-days", type=int, default=3, help="report_lookback_days (spec default 3)")
    parser.add_argument("--report-segments", default="visitor_types,campaigns",
                        help="report_segments for segment_reports, comma-separated (empty: none, no request)")
    parser.add_argument("--report-segment-countries", default="US,DE",
                        help="report_segment_countries, comma-separated (read when --report-segments has countries)")


def normalize(args: argparse.Namespace) -> None:
    if isinstance(args.projects_concurrency, str):
        args.projects_concurrency = [int(c) for c in args.projects_concurrency.split(",") if c]
    if isinstance(args.refresh_sizes, str):
        args.refresh_sizes = [int(n) for n in args.refresh_sizes.split(",") if n]
    for name in ("report_segments", "report_segment_countries"):
        if isinstance(getattr(args, name), str):
            setattr(args, name, [value.strip() for value in getattr(args, name).split(",") if value.strip()])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Multi-project benchmark of source-convert (project_id '*').")
    parser.add_argument("--experiences", type=int, help="alias of --projects-experiences")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-sim-cache", action="store_true")
    parser.add_argument("--json-out")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.experiences is not None:
        args.projects_experiences = args.experiences
    normalize(args)
    work = Workdir()
    started = time.perf_counter()
    try:
        result = scenario_projects(args, work)
    finally:
        work.cleanup()
    print(report_projects(result))
    print(f"\n(total {time.perf_counter() - started:.1f} s, {os.cpu_count()} CPUs, Python {sys.version.split()[0]})")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2, default=str)
    failed = any(run[sync]["rc"] for run in result["runs"] + result["refresh"] for sync in ("first", "incremental"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
