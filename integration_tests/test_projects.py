"""One connection for several projects, through the real CLI against the simulator's three projects.

The simulated account has web project 200002 (large), fullstack project 200003 and web project 200004
(small; under ``shared_ids`` its goals, tags and the like reuse 200002's ids). Every expectation is
derived from the simulator's dataset.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Dict, List, Set, Tuple

import pytest

from integration_tests.harness import (
    ConnectorRun,
    configured_catalog,
    discovered_catalog,
    event_identity,
    history_identities,
    run_connector,
    served_event,
    state_of,
)
from simulator import BLOG_PROJECT_ID, FULLSTACK_PROJECT_ID, WEB_PROJECT_ID, ConvertSimulator, Dataset

ALL = (WEB_PROJECT_ID, FULLSTACK_PROJECT_ID, BLOG_PROJECT_ID)
PROJECT_LISTS = {  # stream -> collection of the dataset
    "goals": "goals", "audiences": "audiences", "locations": "locations", "hypotheses": "hypotheses",
    "knowledge_bases": "knowledge-bases", "observations": "observations", "features": "features",
    "tags": "tags", "domains": "domains", "change_history": "change-history", "experiences": "experiences",
}
CHANGE_DRIVEN = ("experiences", "goals")


def read(sim: ConvertSimulator, project_id: str, streams, state: Any = None, **config: Any) -> ConnectorRun:
    catalog = configured_catalog(streams, incremental=streams, discovered=discovered_catalog())
    result = run_connector("read", sim.config(project_id=project_id, **config), catalog, state=state)
    assert result.returncode == 0 and not result.errors, (result.errors, result.stdout[-3000:])
    return result


def warnings(run: ConnectorRun) -> List[str]:
    return [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]


def dataset_ids(sim: ConvertSimulator, collection: str, projects=ALL) -> Set[Tuple[int, Any]]:
    """(project, id) of the dataset's objects; a history event, which has no id, by its documented fields."""
    with sim.dataset.lock:
        if collection == "change-history":
            return {(project, event_identity(served_event(sim.dataset, event)))
                    for project in projects for event in sim.dataset.records(project, collection)}
        return {(project, record["id"]) for project in projects for record in sim.dataset.records(project, collection)}


def record_ids(run: ConnectorRun, stream: str) -> Set[Tuple[int, Any]]:
    """(project_id, id) of a stream's records; of a history event, its documented fields (its event_id checked)."""
    if stream == "change_history":
        history_identities(run.records_of(stream))
        return {(record["project_id"], event_identity(record)) for record in run.records_of(stream)}
    return {(record["project_id"], record["id"]) for record in run.records_of(stream)}


def cursors(run: ConnectorRun, stream: str, parent: str = "object_changes", field: str = "timestamp") -> Dict[str, str]:
    states = state_of(run, stream)["parent_state"][parent]["states"]
    return {entry["partition"]["project_id"]: entry["cursor"][field] for entry in states}


@pytest.fixture(scope="module")
def shared_ids_sim():
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=30, shared_ids=True)) as sim:
        yield sim


def test_every_project_of_the_account_is_read_and_each_record_names_its_project(shared_ids_sim):
    sim = shared_ids_sim
    catalog = configured_catalog([stream["name"] for stream in discovered_catalog()["streams"]], discovered=discovered_catalog())
    sim.reset_log()
    result = run_connector("read", sim.config(project_id="*"), catalog)
    assert result.returncode == 0 and not result.errors, result.errors
    for stream, collection in PROJECT_LISTS.items():
        assert record_ids(result, stream) == dataset_ids(sim, collection), stream
    # The blog project's goals reuse 200002's ids: the key (project_id, id) still tells them apart.
    with sim.dataset.lock:
        shared = {g["id"] for g in sim.dataset.records(WEB_PROJECT_ID, "goals")} & {g["id"] for g in sim.dataset.records(BLOG_PROJECT_ID, "goals")}
    assert shared, "the dataset must reuse ids across projects for this test"
    for stream in discovered_catalog()["streams"]:
        key = stream.get("source_defined_primary_key") or []
        values = [json.dumps([_dig(record, path) for path in key]) for record in result.records_of(stream["name"])]
        assert len(values) == len(set(values)), f"{stream['name']}: a primary key repeats across projects"
    # Account-level streams are read once, and the projects list once (the pre-read check resolves "*").
    paths = Counter(r.path for r in sim.requests)
    assert paths["/api/v2/accounts/100001/details"] == 1 and paths["/api/v2/accounts/100001/users-accesses"] == 1
    assert paths["/api/v2/accounts/100001/projects"] == 2  # the check that resolves "*", and the projects stream
    assert {record["id"] for record in result.records_of("projects")} == set(ALL)


def _dig(record: Dict[str, Any], path: List[str]) -> Any:
    for part in path:
        record = record.get(part) if isinstance(record, dict) else None
    return record


def test_several_projects_cost_the_sum_of_each_project_alone(shared_ids_sim):
    sim = shared_ids_sim
    streams = ["experiences", "goals", "variations", "tags", "change_history", "aggregated_reports", "daily_reports"]
    alone = 0
    for project in ALL:
        sim.reset_log()
        read(sim, str(project), streams)
        alone += len(sim.requests) - 1  # each read's pre-read check is one projects-list request
    sim.reset_log()
    together = read(sim, ", ".join(map(str, ALL)), streams)
    assert len(sim.requests) - 1 == alone
    assert {record["project_id"] for record in together.records_of("goals")} == set(ALL)


def test_state_is_kept_per_project_and_a_second_sync_reads_each_project_s_changes():
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=30)) as sim:
        first = read(sim, "*", CHANGE_DRIVEN)
        assert set(cursors(first, "experiences")) == {str(project) for project in ALL}
        changed = sim.dataset.advance(1)
        second = read(sim, "*", CHANGE_DRIVEN, state=first.final_state())
        for project, what in changed.items():
            assert (project, what["experience"]) in record_ids(second, "experiences")
            assert (project, what["goal"]) in record_ids(second, "goals")
        # Only what the history names is read again: far fewer than the whole lists.
        assert len(second.records_of("experiences")) < len(first.records_of("experiences"))
        assert not [w for w in warnings(second) if "read in full" in w]


def test_a_kept_state_of_another_project_never_decides_what_the_new_project_skips():
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=30)) as sim:
        streams = [*CHANGE_DRIVEN, "knowledge_bases", "change_history", "aggregated_reports"]
        on_a = read(sim, str(WEB_PROJECT_ID), streams)
        # The user switches the connection from project A to project B and keeps the state
        on_b = read(sim, str(BLOG_PROJECT_ID), streams, state=on_a.final_state())
        for stream in ("experiences", "goals", "knowledge_bases", "change_history"):
            assert record_ids(on_b, stream) == dataset_ids(sim, PROJECT_LISTS.get(stream, stream.replace("_", "-")), [BLOG_PROJECT_ID]), stream
        with sim.dataset.lock:
            started = {e["id"] for e in sim.dataset.started_experiences(BLOG_PROJECT_ID)}
        assert {record["experience_id"] for record in on_b.records_of("aggregated_reports")} == started
        named = [w for w in warnings(on_b) if str(BLOG_PROJECT_ID) in w and "cursor of their own" in w]
        assert len(named) == len(streams), warnings(on_b)  # one per stream
        # and A's cursors stay in the state, for the day A is configured again
        assert str(WEB_PROJECT_ID) in cursors(on_b, "experiences")


def test_a_project_added_is_read_in_full_while_the_others_go_on_incrementally():
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=30)) as sim:
        first = read(sim, "*", CHANGE_DRIVEN)
        added = sim.dataset.add_project("web", name="Landing pages")
        sim.reset_log()
        second = read(sim, "*", CHANGE_DRIVEN, state=first.final_state())
        assert {project for project, _ in record_ids(second, "experiences")} <= {added, *ALL}
        assert {i for p, i in record_ids(second, "experiences") if p == added} == {i for _, i in dataset_ids(sim, "experiences", [added])}
        # Elsewhere nothing changed: only what the events of each project's saved second name comes again
        saved = cursors(first, "experiences")
        with sim.dataset.lock:
            boundary = {(project, event["object_id"]) for project in ALL
                        for event in sim.dataset.records(project, "change-history")
                        if event["object"] == "experience" and event["timestamp"] == int(saved[str(project)])}
        assert {(p, i) for p, i in record_ids(second, "experiences") if p != added} == boundary
        assert [w for w in warnings(second) if str(added) in w and "read in full" in w]
        assert set(cursors(second, "experiences")) == {str(project) for project in (*ALL, added)}


def test_a_project_removed_from_the_config_keeps_its_cursor_and_costs_nothing():
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=30)) as sim:
        first = read(sim, f"{WEB_PROJECT_ID}, {BLOG_PROJECT_ID}", CHANGE_DRIVEN)
        sim.dataset.advance(1)
        sim.reset_log()
        second = read(sim, str(WEB_PROJECT_ID), CHANGE_DRIVEN, state=first.final_state())
        assert not [r for r in sim.requests if f"/projects/{BLOG_PROJECT_ID}/" in r.path]
        assert cursors(second, "experiences")[str(BLOG_PROJECT_ID)] == cursors(first, "experiences")[str(BLOG_PROJECT_ID)]
        # Configured again, the blog goes on from its own cursor: only its changes arrive
        third = read(sim, f"{WEB_PROJECT_ID}, {BLOG_PROJECT_ID}", CHANGE_DRIVEN, state=second.final_state())
        blog = {i for p, i in record_ids(third, "experiences") if p == BLOG_PROJECT_ID}
        assert blog and blog < {i for _, i in dataset_ids(sim, "experiences", [BLOG_PROJECT_ID])}


def test_one_request_budget_holds_for_all_projects_together(shared_ids_sim):
    sim = shared_ids_sim
    sim.latency = 0.05
    try:
        sim.reset_log()
        read(sim, "*", ["goals", "tags", "domains", "observations", "aggregated_reports"], max_concurrent_requests=3)
        assert 1 < sim.peak_in_flight <= 3
        assert len({r.path.split("/projects/")[1].split("/")[0] for r in sim.requests if "/projects/" in r.path}) == 3
    finally:
        sim.latency = 0.0


def test_check_names_a_listed_project_the_account_lacks_and_read_fails_once(shared_ids_sim):
    sim = shared_ids_sim
    ok = run_connector("check", sim.config(project_id="*"))
    assert ok.connection_status["status"] == "SUCCEEDED"
    listed = run_connector("check", sim.config(project_id=f"{WEB_PROJECT_ID}, 200999"))
    assert listed.connection_status["status"] == "FAILED" and "Project 200999 is not" in listed.connection_status["message"]
    assert str(WEB_PROJECT_ID) not in listed.connection_status["message"].split("(")[0]
    sim.reset_log()
    failed = run_connector("read", sim.config(project_id=f"{WEB_PROJECT_ID}, 200999"), configured_catalog(["goals"]))
    assert failed.returncode == 1 and len(failed.errors) == 1 and "200999" in failed.errors[0]["message"]
    assert [r.path for r in sim.requests] == ["/api/v2/accounts/100001/projects"]


def test_a_key_limited_to_some_projects_sees_only_those():
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=10), key_projects={BLOG_PROJECT_ID}) as sim:
        result = read(sim, "*", ["goals"])
        assert {project for project, _ in record_ids(result, "goals")} == {BLOG_PROJECT_ID}
        refused = run_connector("check", sim.config(project_id=f"{WEB_PROJECT_ID}"))
        assert refused.connection_status["status"] == "FAILED" and f"Project {WEB_PROJECT_ID} is not" in refused.connection_status["message"]
