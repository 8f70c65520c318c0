"""variations: every variation of every listed experience, at the experience list's cost, incremental.

Through the real CLI against the simulator: a first sync returns one record per variation of each
experience in the project, field for field as the simulator's dataset holds it, in ceil(N/50) list
requests (plus at most one change-history request, and the connection check a read may start with);
an incremental sync re-reads the experiences the change history names, and every editable one (any
status but archived and deleted: its variations may change without a project history event), each once.
"""

from __future__ import annotations

import copy
import math
import time
from collections import Counter
from typing import Any, Dict, List, Tuple

import pytest
from jsonschema import Draft7Validator

from integration_tests.harness import configured_catalog, discovered_catalog, load_schema, run_connector
from simulator import WEB_PROJECT_ID, ConvertSimulator, Dataset

STREAM = "variations"
PAGE = 50
LIST_PATH = f"/projects/{WEB_PROJECT_ID}/experiences"
HISTORY_PATH = f"/projects/{WEB_PROJECT_ID}/change-history"
FIELDS = ("name", "key", "description", "is_baseline", "traffic_distribution", "status")
EDITABLE = ["draft", "active", "paused", "completed", "scheduled"]  # re-read on every incremental sync
VARIATION_PAGES_INCLUDE = ["variations", "variations.changes"]  # the pages variation_changes reads too


def expected_variations(dataset: Dataset) -> Dict[Tuple[int, int], Dict[str, Any]]:
    """(experience id, variation id) -> the record the stream should emit, from the dataset itself."""
    with dataset.lock:
        experiences = copy.deepcopy(dataset.records(WEB_PROJECT_ID, "experiences"))
    expected = {}
    for experience in experiences:
        for variation in experience["variations"]:
            record = {field: variation.get(field) for field in FIELDS}
            record.update(experience_id=experience["id"], id=variation["id"],
                          change_ids=[change["id"] for change in variation["changes"]])
            expected[(experience["id"], variation["id"])] = record
    return expected


def by_key(records: List[Dict[str, Any]]) -> Dict[Tuple[int, int], Dict[str, Any]]:
    keyed = {(record["experience_id"], record["id"]): record for record in records}
    assert len(keyed) == len(records), "two records share a primary key"
    return keyed


def comparable(record: Dict[str, Any]) -> Dict[str, Any]:
    """The fields the dataset defines (an absent optional field, e.g. a null description, reads as None)."""
    return {field: record.get(field) for field in ("experience_id", "id", "change_ids") + FIELDS}


def variation_list_requests(requests: list) -> list:
    return [r for r in requests if r.path.endswith(LIST_PATH) and (r.body or {}).get("include") == VARIATION_PAGES_INCLUDE]


def outside_the_stream(requests: list) -> Counter:
    """Paths of the requests that neither list variations nor read the change history."""
    listed = {id(request) for request in variation_list_requests(requests)}
    return Counter(r.path for r in requests if id(r) not in listed and not r.path.endswith(HISTORY_PATH))


@pytest.fixture(scope="module")
def sim():
    # Convert stamps history events with its own clock: the dataset's "now" is the wall clock here.
    with ConvertSimulator(dataset=Dataset.generate(seed=7, now=int(time.time()))) as server:
        yield server


@pytest.fixture(scope="module")
def discovered() -> Dict[str, Any]:
    return discovered_catalog()


@pytest.fixture(scope="module")
def check_paths(sim) -> Counter:
    """Paths of a connection check: a read may start with one, which no stream pays for."""
    sim.reset_log()
    assert run_connector("check", sim.config()).returncode == 0
    return Counter(request.path for request in sim.requests)


@pytest.fixture(scope="module")
def first_sync(sim, discovered):
    """A first sync of the stream alone, with the simulator's request log of just that sync."""
    sim.reset_log()
    run = run_connector("read", sim.config(), configured_catalog([STREAM], incremental=[STREAM], discovered=discovered))
    assert run.returncode == 0 and not run.errors, run.stderr[-3000:]
    run.requests = sim.requests  # type: ignore[attr-defined]
    return run


def test_discover_declares_key_cursor_and_incremental(discovered):
    stream = next(s for s in discovered["streams"] if s["name"] == STREAM)
    assert stream["source_defined_primary_key"] == [["experience_id"], ["id"]]
    assert stream["supported_sync_modes"] == ["full_refresh", "incremental"]
    assert stream["default_cursor_field"] == ["changed_at"]


def test_first_sync_returns_every_variation_with_its_fields(sim, first_sync):
    records = first_sync.records_of(STREAM)
    expected = expected_variations(sim.dataset)
    assert any(len(record["change_ids"]) for record in expected.values())  # the comparison covers changes
    got = by_key(records)
    assert set(got) == set(expected)
    mismatches = [(key, comparable(got[key]), want) for key, want in expected.items() if comparable(got[key]) != want]
    assert not mismatches, mismatches[:3]
    validator = Draft7Validator(load_schema(STREAM))
    for record in records:
        assert not list(validator.iter_errors(record)), record
        assert isinstance(record["changed_at"], int)


def test_first_sync_costs_the_experience_list_pages(sim, first_sync, check_paths):
    experiences = len(sim.dataset.records(WEB_PROJECT_ID, "experiences"))
    pages = math.ceil(experiences / PAGE)
    assert experiences % PAGE, "the dataset should end on a short page"
    requests = first_sync.requests
    listed = variation_list_requests(requests)
    assert [request.body["page"] for request in listed] == list(range(1, pages + 1))
    assert not [request for request in listed if "only" in request.body]
    # Besides the list, at most one look at where the change history stands (the cursor to resume from).
    assert len([request for request in requests if request.path.endswith(HISTORY_PATH)]) <= 1
    assert outside_the_stream(requests) <= check_paths
    assert all(request.status == 200 for request in requests)


def test_incremental_sync_rereads_the_changed_and_the_editable_experiences(sim, discovered, first_sync, check_paths):
    dataset = sim.dataset
    with dataset.lock:
        experiences = dataset.records(WEB_PROJECT_ID, "experiences")
        # One that only the history can bring back (archived: not re-read as an editable one).
        changed = next(e for e in experiences if len(e["variations"]) == 3 and e["status"] == "archived")
        editable = [e for e in experiences if e["status"] in EDITABLE]
        running = [e for e in editable if e["status"] == "active"]
        assert running and len(running) < len(editable)
        # An edit the project history may never name (Convert logs variation edits per experience).
        running[0]["variations"][0]["name"] = "Renamed without a project event"
        stopped = next(e for e in editable if e["status"] != "active")
        stopped["variations"][0]["name"] = "Renamed while stopped"
        # One that the history names and that is re-read as an editable one: its variations come once.
        named_editable = next(e for e in editable if e["status"] != "active" and e is not stopped)
    dataset.update_experience(named_editable["id"], description="Named and editable")
    variations = copy.deepcopy(changed["variations"])
    variations[1].update(name="Bolder headline", traffic_distribution=50.0)
    variations[2].update(traffic_distribution=round(100 - 50.0 - variations[0]["traffic_distribution"], 2))
    dataset.update_experience(changed["id"], variations=variations)
    event = max(dataset.records(WEB_PROJECT_ID, "change-history"), key=lambda e: e["timestamp"])
    sim.reset_log()

    catalog = configured_catalog([STREAM], incremental=[STREAM], discovered=discovered)
    second = run_connector("read", sim.config(), catalog, state=first_sync.final_state())
    assert second.returncode == 0 and not second.errors, second.stderr[-3000:]

    # Exactly the variations of the experience the history names and of every editable experience.
    reread = {changed["id"]} | {e["id"] for e in editable}
    expected = {key: record for key, record in expected_variations(dataset).items() if key[0] in reread}
    got = by_key(second.records_of(STREAM))
    assert {key: comparable(record) for key, record in got.items()} == expected
    assert got[(changed["id"], variations[1]["id"])]["name"] == "Bolder headline"
    assert got[(running[0]["id"], running[0]["variations"][0]["id"])]["name"] == "Renamed without a project event"
    assert got[(stopped["id"], stopped["variations"][0]["id"])]["name"] == "Renamed while stopped"
    assert all(record["changed_at"] >= event["timestamp"] for record in got.values())
    # One list request for the named experiences in the statuses the refresh does not cover, then the
    # editable ones in pages of 50.
    listed = variation_list_requests(sim.requests)
    named = sorted([changed["id"], named_editable["id"]])
    assert [(request.body.get("only"), request.body["status"]) for request in listed if "only" in request.body] \
        == [(named, ["archived", "deleted"])]
    refreshed = [request for request in listed if "only" not in request.body]
    assert math.ceil(len(editable) / PAGE) > 1, "the editable experiences take more than one page"
    assert [request.body["status"] for request in refreshed] == [EDITABLE] * math.ceil(len(editable) / PAGE)
    assert [request.body["page"] for request in refreshed] == list(range(1, math.ceil(len(editable) / PAGE) + 1))
    assert outside_the_stream(sim.requests) <= check_paths
