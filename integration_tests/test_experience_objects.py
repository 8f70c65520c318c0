"""The experience-level streams through the real CLI against the simulator over HTTP: variation_changes,
report_settings, experience_sections and experience_change_history, every project (``*``).

* A full read delivers every object of the simulator's ground truth (its dataset: every change of every
  variation, every experience's report settings, the sections of every multivariate experience, every
  event of every experience's own history), field for field, at the minimum number of requests: the
  experience list once per stream that lists (variation_changes) and once for the three per-experience
  streams, one request per experience (per multivariate experience for sections), nothing else.
* An incremental sync after changes (a change edited, an event added, report settings changed, an
  archived experience edited) delivers the new and changed objects: exactly the objects of the
  experiences the project history names and of those that can still be edited, with the changes in
  them, and of the experience histories only the new events and the saved second again.
* variations and variation_changes read in one sync send the requests of one of them read alone, and
  each delivers the records it delivers alone, in a first sync and after changes.
* A path that answers 404 for every experience fails only its stream, with one error naming it and the
  path; an experience that vanished during the sync is skipped with a warning.
* One request at a time or ten (with faults) give the same records and states, variations included.

Expected values come from the simulator's dataset (or from what its API serves for report settings,
whose defaults it computes), never from the connector's output.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections import Counter
from typing import Any, Dict, Iterable, List, Optional, Set

import pytest
from jsonschema import Draft7Validator

from integration_tests.harness import (
    ConnectorRun,
    configured_catalog,
    discovered_catalog,
    load_schema,
    run_connector,
    state_of,
)
from simulator import BLOG_PROJECT_ID, ConvertSimulator, Dataset, Fault
from simulator import sections as mvt
from simulator.routes import ApiRequest

STREAMS = ["variation_changes", "report_settings", "experience_sections", "experience_change_history"]
PAIR = ["variations", "variation_changes"]  # two views of the same pages (sent once when read together)
WITH_VARIATIONS = STREAMS + ["variations"]
VARIATION_PAGES = ("list", ("variations", "variations.changes"))
PAGE = 50
EDITABLE = ("draft", "active", "paused", "completed", "scheduled")
KEYS = {"variation_changes": ("experience_id", "variation_id", "id"), "report_settings": ("experience_id",),
        "experience_sections": ("experience_id", "id"), "experience_change_history": ("experience_id", "id")}
ADDED = ("project_id", "changed_at")  # what the connector adds to Convert's objects (besides the ids)
CALL = re.compile(r"/projects/(\d+)/experiences/(\d+)/(report_settings|sections|change-history)$")
LIST = re.compile(r"/projects/(\d+)/experiences$")
HISTORY = re.compile(r"/projects/(\d+)/change-history$")


# ----------------------------------------------------------------------------- ground truth
def experiences(ds: Dataset) -> Dict[int, List[Dict[str, Any]]]:
    with ds.lock:
        return {pid: copy.deepcopy(sorted(ds.records(pid, "experiences"), key=lambda e: e["id"])) for pid in sorted(ds.store)}


def expected_changes(ds: Dataset, only: Optional[Set[int]] = None) -> Dict[tuple, Dict[str, Any]]:
    out = {}
    for pid, exps in experiences(ds).items():
        for exp in exps:
            if only is not None and exp["id"] not in only:
                continue
            for variation in exp["variations"]:
                for change in variation["changes"]:
                    out[(exp["id"], variation["id"], change["id"])] = dict(
                        change, experience_id=exp["id"], variation_id=variation["id"], project_id=pid)
    return out


def expected_settings(sim: ConvertSimulator, only: Optional[Set[int]] = None) -> Dict[tuple, Dict[str, Any]]:
    """What the simulator serves for each experience's report settings (its defaults merged with edits)."""
    out = {}
    for pid, exps in experiences(sim.dataset).items():
        for exp in exps:
            if only is not None and exp["id"] not in only:
                continue
            path = f"/api/v2/accounts/100001/projects/{pid}/experiences/{exp['id']}/report_settings"
            status, body = sim.api.handle(ApiRequest("GET", path, {}, None))
            assert status == 200, body
            out[(exp["id"],)] = dict(body["data"], experience_id=exp["id"], project_id=pid)
    return out


def expected_sections(ds: Dataset, only: Optional[Set[int]] = None) -> Dict[tuple, Dict[str, Any]]:
    out = {}
    for pid, exps in experiences(ds).items():
        for exp in exps:
            if exp["type"] != "mvt" or (only is not None and exp["id"] not in only):
                continue
            with ds.lock:
                sections = mvt.sections(ds, ds.find(pid, "experiences", exp["id"]), {"versions", "versions.changes"})
            for section in sections:
                out[(exp["id"], section["id"])] = dict(section, experience_id=exp["id"], project_id=pid)
    return out


def expected_events(ds: Dataset, only: Optional[Set[int]] = None) -> Dict[tuple, Dict[str, Any]]:
    out = {}
    for pid, exps in experiences(ds).items():
        for exp in exps:
            if only is not None and exp["id"] not in only:
                continue
            for event in ds.experience_events(exp["id"]):
                out[(exp["id"], event["id"])] = dict(event, experience_id=exp["id"], project_id=pid)
    return out


def keyed(run: ConnectorRun, stream: str) -> Dict[tuple, Dict[str, Any]]:
    records = run.records_of(stream)
    out = {tuple(record[field] for field in KEYS[stream]): record for record in records}
    assert len(out) == len(records), f"{stream}: two records share a primary key"
    return out


def without_added(record: Dict[str, Any], keep_project: bool = True) -> Dict[str, Any]:
    return {key: value for key, value in record.items() if key != "changed_at" and (keep_project or key != "project_id")}


def mismatches(got: Dict[tuple, Dict[str, Any]], want: Dict[tuple, Dict[str, Any]]) -> List[Any]:
    assert set(got) == set(want), (sorted(set(got) - set(want))[:5], sorted(set(want) - set(got))[:5])
    return [(key, without_added(got[key]), want[key]) for key in want if without_added(got[key]) != want[key]][:3]


# ----------------------------------------------------------------------------- runs
def read(sim: ConvertSimulator, streams: List[str], state: Optional[list] = None, ok: bool = True) -> ConnectorRun:
    """One incremental read of ``streams`` of every project, with the simulator's log of just that read."""
    sim.reset_log()
    config = {**sim.config(), "project_id": "*"}
    run = run_connector("read", config, configured_catalog(streams, incremental=streams, discovered=discovered_catalog()),
                        state=state)
    if ok:
        assert run.returncode == 0 and not run.errors, (run.errors or run.stderr[-3000:])
    run.requests = sim.requests  # type: ignore[attr-defined]
    return run


def classify(requests: Iterable[Any]) -> Counter:
    """Requests by what they are for: ("call", resource), ("list", include), ("history", body kind), other paths."""
    out: Counter = Counter()
    for request in requests:
        body = request.body or {}
        call = CALL.search(request.path)
        if call:
            out[("call", call.group(3))] += 1
        elif LIST.search(request.path):
            out[("list", tuple(body.get("include") or ()))] += 1
        elif HISTORY.search(request.path):
            out[("history", "newest" if body.get("results_per_page") == 1 else "changes")] += 1
        else:
            out[request.path] += 1
    return out


@pytest.fixture(scope="module")
def sim(simulator):
    return simulator  # the shared seed-7 simulator (conftest.py)


@pytest.fixture(scope="module")
def first(sim) -> ConnectorRun:
    """A first (incremental) sync of the four streams, and the newest project-history event it saw."""
    run = read(sim, STREAMS)
    with sim.dataset.lock:
        run.newest = {pid: max((e["timestamp"] for e in sim.dataset.records(pid, "change-history")), default=0)  # type: ignore[attr-defined]
                      for pid in sim.dataset.store}
    return run


# ----------------------------------------------------------------------------- full read
def test_the_simulator_has_multivariate_experiences_with_sections(sim):
    mvts = [e for exps in experiences(sim.dataset).values() for e in exps if e["type"] == "mvt"]
    assert {e["project"] for e in mvts} == {BLOG_PROJECT_ID} and len(mvts) == 2
    assert sorted(e["status"] for e in mvts) == ["active", "archived"]  # one can still change, one cannot
    assert all(len(sim.dataset.mvt_sections[e["id"]]) == 2 for e in mvts)


def test_discover_declares_keys_and_cursors(sim):
    streams = {s["name"]: s for s in discovered_catalog()["streams"] if s["name"] in STREAMS}
    assert {name: s["source_defined_primary_key"] for name, s in streams.items()} == {
        name: [[field] for field in KEYS[name]] for name in STREAMS}
    assert {name: s["default_cursor_field"] for name, s in streams.items()} == {
        "variation_changes": ["changed_at"], "report_settings": ["changed_at"], "experience_sections": ["changed_at"],
        "experience_change_history": ["timestamp"]}
    for name in STREAMS:
        schema = load_schema(name)
        assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
        assert set(KEYS[name]) | {streams[name]["default_cursor_field"][0], "project_id"} <= set(schema["properties"])


def test_a_full_read_delivers_every_object_of_the_ground_truth(sim, first):
    ds = sim.dataset
    for stream, want in (("variation_changes", expected_changes(ds)), ("report_settings", expected_settings(sim)),
                         ("experience_sections", expected_sections(ds)), ("experience_change_history", expected_events(ds))):
        got = keyed(first, stream)
        assert want, f"{stream}: the ground truth is empty"
        assert not mismatches(got, want), (stream, mismatches(got, want))
        validator = Draft7Validator(load_schema(stream))
        for record in got.values():
            assert not list(validator.iter_errors(record)), (stream, record)
    # the display cursor is Convert's newest history time of the record's project
    for stream in ("variation_changes", "report_settings", "experience_sections"):
        assert {(r["project_id"], r["changed_at"]) for r in first.records_of(stream)} <= set(first.newest.items())


def test_a_full_read_costs_the_minimum_number_of_requests(sim, first):
    exps = experiences(sim.dataset)
    pages = sum(math.ceil(len(e) / PAGE) for e in exps.values())
    total = sum(len(e) for e in exps.values())
    mvts = sum(1 for e in exps.values() for x in e if x["type"] == "mvt")
    events = {x["id"]: len(sim.dataset.experience_events(x["id"])) for e in exps.values() for x in e}
    history_pages = sum(max(1, math.ceil(count / PAGE)) for count in events.values())
    counts = classify(first.requests)
    assert counts == Counter({
        VARIATION_PAGES: pages,  # variation_changes
        ("list", ()): pages,  # the experience list shared by the three per-experience streams
        ("call", "report_settings"): total,
        ("call", "sections"): mvts,
        ("call", "change-history"): history_pages,
        ("history", "newest"): len(exps),  # each project's newest event, once for every stream
        "/api/v2/accounts/100001/projects": 1,  # the check of the key, account and projects before the read
    }), counts
    assert all(request.status == 200 for request in first.requests)
    # each experience's report settings, sections and history were asked once
    calls = Counter((m.group(2), m.group(3)) for m in map(CALL.search, (r.path for r in first.requests)) if m)
    assert set(calls.values()) == {1}


def test_a_full_refresh_reads_the_same_objects(sim, first):
    run = run_connector("read", {**sim.config(), "project_id": "*"}, configured_catalog(STREAMS, discovered=discovered_catalog()))
    assert run.returncode == 0 and not run.errors
    for stream in STREAMS:
        assert keyed(run, stream) == keyed(first, stream), stream


# ----------------------------------------------------------------------------- incremental
@pytest.fixture(scope="module")
def changed(sim, first):
    """Edits after the first sync, then a second sync from its state."""
    ds = sim.dataset
    exps = experiences(ds)
    web = exps[200002]
    paused = next(e for e in web if e["status"] == "paused" and any(v["changes"] for v in e["variations"]))
    archived = next(e for e in web if e["status"] == "archived" and any(v["changes"] for v in e["variations"]))
    completed = next(e for e in web if e["status"] == "completed" and e["id"] not in (paused["id"],))
    draft = next(e for e in web if e["status"] == "draft")
    blog_mvt = next(e for e in exps[BLOG_PROJECT_ID] if e["type"] == "mvt" and e["status"] == "active")
    edits = {
        "change": ds.edit_variation_change(paused["id"]),  # logged in the experience's own history only
        "mvt_change": ds.edit_variation_change(blog_mvt["id"]),
        "report": ds.edit_report_settings(completed["id"], campaigns=[{"name": "edited", "visitors_count": 99}]),
        "event": ds.add_experience_event(draft["id"], "variation", draft["variations"][0]["id"]),
    }
    # An archived experience edited: the project history names it (its objects are read although archived).
    ds.update_experience(archived["id"], description="Edited while archived")
    ids = {"paused": paused["id"], "archived": archived["id"], "completed": completed["id"], "draft": draft["id"],
           "mvt": blog_mvt["id"]}
    second = read(sim, STREAMS, state=first.final_state())
    return {"run": second, "edits": edits, "ids": ids}


def named_experiences(sim: ConvertSimulator, first: ConnectorRun) -> Dict[int, Set[int]]:
    """Per project, the experiences its history names at or after the saved cursor (the saved second included)."""
    ds = sim.dataset
    with ds.lock:
        return {pid: {e["object_id"] for e in ds.records(pid, "change-history")
                      if e["object"] == "experience" and e["timestamp"] >= first.newest[pid]} for pid in ds.store}


def reread_experiences(sim: ConvertSimulator, first: ConnectorRun) -> Set[int]:
    """What the second sync must read: the experiences the project history names since the saved cursor,
    and every one that can still be edited."""
    ds = sim.dataset
    out: Set[int] = set().union(*named_experiences(sim, first).values())
    with ds.lock:
        for pid in ds.store:
            out |= {e["id"] for e in ds.records(pid, "experiences") if e["status"] in EDITABLE}
    return out


def test_an_incremental_sync_delivers_the_changed_objects_with_their_changes(sim, first, changed):
    run, edits, ids = changed["run"], changed["edits"], changed["ids"]
    reread = reread_experiences(sim, first)
    assert ids["archived"] in reread and ids["paused"] in reread
    ds = sim.dataset
    for stream, want in (("variation_changes", expected_changes(ds, reread)), ("report_settings", expected_settings(sim, reread)),
                         ("experience_sections", expected_sections(ds, reread))):
        got = keyed(run, stream)
        assert not mismatches(got, want), (stream, mismatches(got, want))
    changes = keyed(run, "variation_changes")
    edited = next(key for key in changes if key[2] == edits["change"]["id"])
    assert changes[edited]["data"] == edits["change"]["data"] and "edited" in json.dumps(edits["change"]["data"])
    assert keyed(run, "report_settings")[(ids["completed"],)]["campaigns"] == [{"name": "edited", "visitors_count": 99}]
    sections = keyed(run, "experience_sections")
    versions = [v for s in sections.values() if s["experience_id"] == ids["mvt"] for v in s["versions"]]
    assert edits["mvt_change"] in [c for v in versions for c in v["changes"]]
    archived_mvt = {e["id"] for e in experiences(ds)[BLOG_PROJECT_ID] if e["type"] == "mvt" and e["status"] == "archived"}
    assert archived_mvt and not archived_mvt & {s["experience_id"] for s in sections.values()}  # cannot change: not asked
    # every record of the second sync is at least as new as the project's saved cursor
    for stream in ("variation_changes", "report_settings", "experience_sections"):
        assert all(r["changed_at"] >= first.newest[r["project_id"]] for r in run.records_of(stream))


def test_an_incremental_sync_delivers_only_new_events_and_the_saved_second(sim, first, changed):
    run, edits, ids = changed["run"], changed["edits"], changed["ids"]
    reread = reread_experiences(sim, first)
    before = keyed(first, "experience_change_history")
    saved_second = {}
    for (experience, _), event in before.items():
        saved_second[experience] = max(saved_second.get(experience, 0), event["timestamp"])
    want = {key: event for key, event in expected_events(sim.dataset, reread).items()
            if key not in before or event["timestamp"] >= saved_second.get(key[0], 0)}
    got = keyed(run, "experience_change_history")
    assert not mismatches(got, want), mismatches(got, want)
    new = {key for key in got if key not in before}
    assert {key[0] for key in new} == {ids["paused"], ids["mvt"], ids["completed"], ids["draft"]}
    assert (ids["draft"], edits["event"]["id"]) in new
    report_events = [e for k, e in got.items() if k[0] == ids["completed"] and e["object"] == "report"]
    assert [e["event"] for e in report_events] == ["report.update"]


def test_an_incremental_sync_costs_what_the_docs_state(sim, first, changed):
    run = changed["run"]
    ds = sim.dataset
    reread = reread_experiences(sim, first)
    exps = experiences(ds)
    pages = sum(math.ceil(len(e) / PAGE) for e in exps.values())
    editable = {pid: [x for x in e if x["status"] in EDITABLE] for pid, e in exps.items()}
    named = named_experiences(sim, first)
    counts = classify(run.requests)
    assert counts[("list", ())] == pages  # the shared experience list
    # variation_changes: the named experiences 50 per request, and the editable ones (one request even for none)
    assert counts[VARIATION_PAGES] == (
        sum(math.ceil(len(ids) / PAGE) for ids in named.values())
        + sum(max(1, math.ceil(len(e) / PAGE)) for e in editable.values()))
    assert counts[("call", "report_settings")] == len(reread)
    assert counts[("call", "sections")] == sum(1 for e in exps.values() for x in e if x["type"] == "mvt" and x["id"] in reread)
    assert counts[("call", "change-history")] == len(reread)  # fewer than 50 new events each
    # Convert's newest event is asked only for a project whose history names no experience since its cursor
    assert counts[("history", "newest")] == sum(1 for pid in exps if not named[pid])
    assert 1 <= counts[("history", "changes")] <= len(STREAMS) * len(exps)  # each project's new events
    calls = Counter((m.group(2), m.group(3)) for m in map(CALL.search, (r.path for r in run.requests)) if m)
    assert set(calls.values()) == {1}
    assert all(int(experience) in reread for experience, _ in calls)


def test_the_state_keeps_a_cursor_per_experience_and_per_project(sim, first, changed):
    history = state_of(changed["run"], "experience_change_history")
    entries = {(e["partition"]["project_id"], e["partition"]["experience_id"]): int(e["cursor"]["timestamp"])
               for e in history["states"]}
    total = sum(len(e) for e in experiences(sim.dataset).values())
    assert len(entries) == total  # experiences not read this time keep their cursor
    events = expected_events(sim.dataset)
    for (project, experience), cursor in entries.items():
        own = [e["timestamp"] for (x, _), e in events.items() if x == experience]
        assert cursor == max(own, default=cursor)
    for stream in STREAMS:
        parent = state_of(changed["run"], stream)["parent_state"]["object_changes"]
        assert {e["partition"]["project_id"] for e in parent["states"]} == {str(pid) for pid in sim.dataset.store}


# ----------------------------------------------------------------------------- missing paths, vanished experiences
def test_a_sections_path_that_answers_404_everywhere_fails_only_that_stream():
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=3)) as server:
        server.inject(Fault(404, times=1 << 30, path_regex=r"/experiences/\d+/sections$", body='{"code":404,"message":"Not found"}'))
        run = read(server, ["experience_sections", "report_settings"], ok=False)
    assert run.returncode != 0
    (error,) = [e for e in run.errors if "for every experience" in e["message"]]
    assert error["message"] == (
        "Stream 'experience_sections': Convert answered HTTP 404 for every experience the stream asked (2 of 2) at GET "
        f"/api/v2/accounts/100001/projects/{BLOG_PROJECT_ID}/experiences/{{experience_id}}/sections: Convert does not "
        "seem to have this path, so this stream read no records. The other streams are not affected.")
    assert run.records_of("experience_sections") == []
    assert len(run.records_of("report_settings")) == 3 + 4 + 6


def test_an_experience_that_vanished_during_the_sync_is_skipped_with_a_warning():
    dataset = Dataset.generate(seed=7, experiences=3)
    gone = sorted(dataset.store[200002]["experiences"])[1]
    with ConvertSimulator(dataset=dataset, vanished_experiences=[gone]) as server:
        run = read(server, ["report_settings", "experience_change_history"])
    assert gone not in {r["experience_id"] for r in run.records_of("report_settings")}
    assert len(run.records_of("report_settings")) == 3 + 4 + 6 - 1
    warnings = [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN" and f"experience {gone} " in m["log"]["message"]]
    assert len(warnings) == 2 and all("probably deleted during the sync" in w for w in warnings)


# ----------------------------------------------------------------------------- variations and variation_changes together
def alone_and_together(server: ConvertSimulator, states: Optional[Dict[str, list]] = None) -> Dict[str, ConnectorRun]:
    """variations alone, variation_changes alone, then both in one sync, each from its own saved state."""
    return {name: read(server, streams, state=states[name] if states else None)
            for name, streams in (("variations", ["variations"]), ("variation_changes", ["variation_changes"]), ("both", PAIR))}


def test_variations_and_variation_changes_read_together_send_the_requests_of_one():
    with ConvertSimulator(dataset=Dataset.generate(seed=7)) as server:
        ds = server.dataset
        first = alone_and_together(server)
        truth = expected_changes(ds)
        paused = next(e for e in experiences(ds)[200002] if e["status"] == "paused" and any(v["changes"] for v in e["variations"]))
        edited = ds.edit_variation_change(paused["id"])
        later = alone_and_together(server, {name: run.final_state() for name, run in first.items()})
    for runs in (first, later):
        both = classify(runs["both"].requests)
        for stream in PAIR:
            # the records of the stream read alone (changed_at is the same newest event of each project) ...
            alone = runs[stream]
            assert sorted(map(json.dumps, runs["both"].records_of(stream))) == sorted(map(json.dumps, alone.records_of(stream)))
            # ... from the requests of the stream read alone: its pages once, each project's history once
            assert both == classify(alone.requests), (both, classify(alone.requests))
        assert both[VARIATION_PAGES] > 0
    assert not mismatches(keyed(first["both"], "variation_changes"), truth)
    changes = keyed(later["both"], "variation_changes")
    assert changes[next(key for key in changes if key[2] == edited["id"])]["data"] == edited["data"]


# ----------------------------------------------------------------------------- concurrency
def canonical_records(run: ConnectorRun, streams: List[str]) -> Dict[str, List[str]]:
    return {stream: sorted(json.dumps(r, sort_keys=True) for r in run.records_of(stream)) for stream in streams}


def comparable_states(run: ConnectorRun, streams: List[str]) -> Dict[str, Any]:
    """The saved states less ``lookback_window`` (the CDK's measure of how long the sync took)."""
    out = {}
    for stream in streams:
        state = dict(state_of(run, stream))
        state.pop("lookback_window", None)
        if "states" in state:
            state["states"] = sorted(state["states"], key=lambda entry: json.dumps(entry, sort_keys=True))
        out[stream] = state
    return out


def test_one_request_at_a_time_or_ten_deliver_the_same_records_and_states():
    runs = []
    for concurrency in (1, 10):
        dataset = Dataset.generate(seed=5, experiences=16, change_history=40)
        with ConvertSimulator(dataset=dataset, random_503=0.05, seed=3) as server:
            server.inject(Fault(502, times=1 << 30, every=7, retry_after=0))
            server.inject(Fault(kind="not_json", times=3, every=5, retry_after=0))
            config = {**server.config(), "project_id": "*", "max_concurrent_requests": concurrency}
            catalog = configured_catalog(WITH_VARIATIONS, incremental=WITH_VARIATIONS, discovered=discovered_catalog())
            first_run = run_connector("read", config, catalog)
            assert first_run.returncode == 0 and not first_run.errors, first_run.errors
            server.dataset.edit_variation_change(next(e["id"] for e in server.dataset.records(200002, "experiences")
                                                      if e["status"] == "paused" and any(v["changes"] for v in e["variations"])))
            second_run = run_connector("read", config, catalog, state=first_run.final_state())
            assert second_run.returncode == 0 and not second_run.errors, second_run.errors
            assert server.count(status=502) and server.count(status=503), "the faults were not met"
            runs.append((first_run, second_run))
    for serial, concurrent in zip(*runs):
        assert canonical_records(serial, WITH_VARIATIONS) == canonical_records(concurrent, WITH_VARIATIONS)
        assert comparable_states(serial, WITH_VARIATIONS) == comparable_states(concurrent, WITH_VARIATIONS)
