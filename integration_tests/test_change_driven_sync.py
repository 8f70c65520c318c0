"""Incremental syncs driven by the change history: every change arrives, whatever the clocks say.

The simulator's data clock is set months away from the machine's clock, so any cursor taken from
the local clock would lose changes here.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from typing import Any, Dict, List, Set

import pytest

from integration_tests.harness import (
    configured_catalog,
    discovered_catalog,
    history_identities,
    project_cursor,
    project_cursors,
    run_connector,
    served_identities,
    state_of,
)
from simulator import WEB_PROJECT_ID, ConvertSimulator, Dataset, Fault

DAY = 86400
CHANGE_DRIVEN = ["experiences", "experience_details", "goals", "audiences", "locations"]
EXPERIENCE_STATUSES = {"draft", "active", "paused", "completed", "scheduled", "archived", "deleted"}
EDITABLE_STATUSES = ["draft", "active", "paused", "completed", "scheduled"]  # re-read on every incremental sync
NOT_EDITABLE_STATUSES = ["archived", "deleted"]


def simulator(offset_days: int, **options: Any) -> ConvertSimulator:
    return ConvertSimulator(dataset=Dataset.generate(seed=11, now=int(time.time()) + offset_days * DAY), **options)


@pytest.fixture(params=[-150, 150], ids=["data-clock-150-days-behind", "data-clock-150-days-ahead"])
def sim(request):
    with simulator(request.param) as running:
        yield running


def catalog_for(sim: ConvertSimulator, *streams: str) -> Dict[str, Any]:
    return configured_catalog(streams, incremental=streams, discovered=discovered_catalog())


def sync(sim: ConvertSimulator, catalog: Dict[str, Any], state: Any = None):
    result = run_connector("read", sim.config(), catalog, state=state)
    assert result.returncode == 0 and not result.errors, result.stdout[-3000:]
    return result


def ids(records: List[Dict[str, Any]]) -> Set[int]:
    return {record["id"] for record in records}


def history_cursor(run, stream: str) -> int:
    """The configured project's change-history cursor; the state holds no cursor of any other project."""
    state = state_of(run, stream)
    assert set(project_cursors(state, "timestamp", parent="object_changes")) == {WEB_PROJECT_ID}, state
    return project_cursor(state, "timestamp", WEB_PROJECT_ID, parent="object_changes")


def newest_event(sim: ConvertSimulator, project: int = WEB_PROJECT_ID) -> int:
    """The newest change-history timestamp of one project (other projects have histories of their own)."""
    with sim.dataset.lock:
        return max(e["timestamp"] for e in sim.dataset.records(project, "change-history"))


def named_at(sim: ConvertSimulator, object_name: str, second: int) -> Set[int]:
    """Objects that events in exactly ``second`` name: re-read again at the inclusive boundary."""
    with sim.dataset.lock:
        events = sim.dataset.records(WEB_PROJECT_ID, "change-history")
        return {e["object_id"] for e in events if e["object"] == object_name and e["timestamp"] == second}


def running(sim: ConvertSimulator) -> Set[int]:
    with sim.dataset.lock:
        return {e["id"] for e in sim.dataset.records(WEB_PROJECT_ID, "experiences") if e["status"] == "active"}


def editable(sim: ConvertSimulator) -> Set[int]:
    with sim.dataset.lock:
        return {e["id"] for e in sim.dataset.records(WEB_PROJECT_ID, "experiences") if e["status"] in EDITABLE_STATUSES}


def test_first_sync_takes_its_cursor_from_the_newest_history_event(sim):
    # Given a history whose newest event is months away from the machine's clock
    newest = newest_event(sim)
    assert abs(newest - time.time()) > 100 * DAY
    # When the change-driven streams are read for the first time
    first = sync(sim, catalog_for(sim, *CHANGE_DRIVEN))
    # Then every list is read whole, with every status, and the cursor is Convert's newest event
    with sim.dataset.lock:
        all_experiences = ids(sim.dataset.records(WEB_PROJECT_ID, "experiences"))
    assert ids(first.records_of("experiences")) == ids(first.records_of("experience_details")) == all_experiences
    for stream in CHANGE_DRIVEN:
        assert history_cursor(first, stream) == newest
        assert {r["changed_at"] for r in first.records_of(stream)} == {newest}
    experience_lists = [r for r in sim.requests if r.path.endswith("/experiences")]
    assert experience_lists and all(set(r.body["status"]) == EXPERIENCE_STATUSES for r in experience_lists)


def test_second_sync_delivers_every_change_and_refreshes_what_convert_computes(sim):
    catalog = catalog_for(sim, *CHANGE_DRIVEN, "change_history")
    first = sync(sim, catalog)
    saved = history_cursor(first, "experiences")
    before_details = {r["id"]: r for r in first.records_of("experience_details")}
    # Given changes of every kind, and a day in which running experiences gather visitors
    sim.dataset.advance_days(1)
    started = sim.dataset.started_experiences()
    renamed = sim.dataset.update_experience(started[0]["id"], name="Renamed in between")["id"]
    archived = sim.dataset.update_experience(started[1]["id"], status="archived")["id"]
    deleted = sim.dataset.delete_experience(started[2]["id"])["id"]
    created = sim.dataset.add_experience(name="Created in between")["id"]
    goal = sim.dataset.records(WEB_PROJECT_ID, "goals")[0]["id"]
    sim.dataset.update_object("goals", goal, name="Goal renamed")
    sim.reset_log()
    # When the next incremental sync runs
    second = sync(sim, catalog, state=first.final_state())
    # Then exactly the changed objects (plus those named in the saved second) arrive, with their new status
    changed = {renamed, archived, deleted, created}
    experiences = {r["id"]: r for r in second.records_of("experiences")}
    assert set(experiences) == changed | named_at(sim, "experience", saved)
    assert experiences[archived]["status"] == "archived" and experiences[deleted]["status"] == "deleted"
    assert experiences[renamed]["name"] == "Renamed in between"
    assert ids(second.records_of("goals")) == {goal} | named_at(sim, "goal", saved)
    # experience_details re-reads every editable experience: the running ones' stats moved with the data clock
    details = {r["id"]: r for r in second.records_of("experience_details")}
    assert running(sim) < editable(sim)
    assert set(details) == changed | editable(sim) | named_at(sim, "experience", saved)
    # each once, though the renamed and created experiences are both named by the history and editable
    assert {renamed, created} <= editable(sim)
    assert len(second.records_of("experience_details")) == len(details)
    moved = [i for i in running(sim) if i in before_details and details[i]["stats"] != before_details[i]["stats"]]
    assert moved and len(moved) == len([i for i in running(sim) if i in before_details and before_details[i]["stats"]])
    # Audiences and locations (usage stats without events of their own) are read whole
    with sim.dataset.lock:
        assert ids(second.records_of("audiences")) == ids(sim.dataset.records(WEB_PROJECT_ID, "audiences"))
        assert ids(second.records_of("locations")) == ids(sim.dataset.records(WEB_PROJECT_ID, "locations"))
    # and the requests are the minimum: one history page per object type plus change_history, one batch
    # of changed ids per stream (experience_details asks them only in the statuses its refresh of the
    # editable experiences does not cover), editable experiences' pages, whole small lists.
    only_batches = Counter((r.path.rsplit("/", 1)[1], tuple(r.body["status"]))
                           for r in sim.requests if (r.body or {}).get("only"))
    assert only_batches == Counter({
        ("experiences", ("draft", "active", "paused", "completed", "scheduled", "archived", "deleted")): 1,
        ("experiences", tuple(NOT_EDITABLE_STATUSES)): 1,
        ("goals", ("active", "archived")): 1,
    })
    editable_pages = [r for r in sim.requests if (r.body or {}).get("status") == EDITABLE_STATUSES]
    assert len(editable_pages) == math.ceil(len(editable(sim)) / 50)
    # 2 history reads (experience: one for experiences and experience_details, whose cursors agree;
    # goal), 1 newest-event probe (shared by audiences and locations), change_history
    assert sim.count(path_regex=r"/change-history$") == 2 + 1 + 1
    assert sim.count(path_regex=r"/audiences$") == sim.count(path_regex=r"/locations$") == 1
    with sim.dataset.lock:
        newest_experience_event = max(e["timestamp"] for e in sim.dataset.records(WEB_PROJECT_ID, "change-history")
                                      if e["object"] == "experience")
    assert history_cursor(second, "experiences") == newest_experience_event


def test_an_event_written_in_the_saved_second_after_the_sync_still_arrives(sim):
    catalog = catalog_for(sim, "experiences", "change_history")
    first = sync(sim, catalog)
    saved = project_cursor(state_of(first, "change_history"), "timestamp")
    # Given an event stamped in the very second the first sync saved, written after it read that second
    target = sim.dataset.records(WEB_PROJECT_ID, "experiences")[-1]["id"]
    late = sim.dataset.add_history_event(object="experience", object_id=target, timestamp=saved)
    # When the next sync runs
    second = sync(sim, catalog, state=first.final_state())
    # Then the event and the object it names arrive (events of that second may come twice: at-least-once)
    assert served_identities(sim.dataset, [late]) <= history_identities(second.records_of("change_history"))
    assert target in ids(second.records_of("experiences"))
    assert all(e["timestamp"] >= saved for e in second.records_of("change_history"))


def test_a_second_sync_without_changes_costs_only_the_history_reads(sim):
    catalog = catalog_for(sim, "experiences", "goals")
    first = sync(sim, catalog)
    sim.reset_log()
    second = sync(sim, catalog, state=first.final_state())
    saved = history_cursor(first, "experiences")
    assert ids(second.records_of("experiences")) == named_at(sim, "experience", saved)
    # One history page per stream; if a stream's read found no event at all, the sync also asks once
    # (for all streams) for Convert's newest event, to tell "nothing changed" from a saved cursor that
    # is not Convert's time.
    silent = sum(not named_at(sim, name, saved) for name in ("experience", "goal"))
    assert sim.count(path_regex=r"/change-history$") == 2 + min(silent, 1)
    assert sim.count(path_regex=r"/(experiences|goals)$") == 2 - silent
    assert state_of(second, "experiences")["parent_state"] == state_of(first, "experiences")["parent_state"]


def test_a_saved_cursor_later_than_convert_s_newest_event_reads_the_whole_list_once(sim):
    # Given a state whose cursor is not a time Convert returned (0.2.0 took it from the worker's clock)
    newest = newest_event(sim)
    ahead = newest + 30 * DAY
    state = {"use_global_cursor": True, "state": {"changed_at": str(ahead)},
             "parent_state": {"object_changes": {"timestamp": str(ahead)}}}
    message = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "experiences"}, "stream_state": state}}]
    # When the stream syncs
    result = sync(sim, catalog_for(sim, "experiences"), state=message)
    # Then it reads the whole list, says why once, and continues from Convert's own newest event
    with sim.dataset.lock:
        assert ids(result.records_of("experiences")) == ids(sim.dataset.records(WEB_PROJECT_ID, "experiences"))
    warnings = [m["log"]["message"] for m in result.of_type("LOG") if m["log"]["level"] == "WARN"]
    assert len([w for w in warnings if "did not come from Convert's clock" in w]) == 1
    assert history_cursor(result, "experiences") == newest


@pytest.mark.parametrize("style", ["objectId", "object_mapping", "typed"])
def test_history_events_naming_the_id_under_another_key_deliver_every_change(style):
    with simulator(-150, history_id_style=style) as sim:
        catalog = catalog_for(sim, "experiences")
        first = sync(sim, catalog)
        changed = {sim.dataset.update_experience(e["id"], name=f"Changed {e['id']}")["id"]
                   for e in sim.dataset.started_experiences()[:3]}
        sim.reset_log()
        second = sync(sim, catalog, state=first.final_state())
        saved = history_cursor(first, "experiences")
        assert ids(second.records_of("experiences")) == changed | named_at(sim, "experience", saved)
        assert [len(r.body["only"]) for r in sim.requests if (r.body or {}).get("only")] == [len(ids(second.records_of("experiences")))]


def test_history_events_without_a_recognisable_id_make_the_stream_read_its_whole_list():
    with simulator(-150, history_id_style="none") as sim:
        catalog = catalog_for(sim, "experiences")
        first = sync(sim, catalog)
        renamed = sim.dataset.update_experience(sim.dataset.started_experiences()[0]["id"], name="Secret name")
        second = sync(sim, catalog, state=first.final_state())
        # Every experience comes again (none is missed), with the change
        with sim.dataset.lock:
            assert ids(second.records_of("experiences")) == ids(sim.dataset.records(WEB_PROJECT_ID, "experiences"))
        assert [r["name"] for r in second.records_of("experiences") if r["id"] == renamed["id"]] == ["Secret name"]
        # and one warning names the event's keys, never its values
        warnings = [m["log"]["message"] for m in second.of_type("LOG") if m["log"]["level"] == "WARN"]
        about = [w for w in warnings if "names no object id" in w]
        assert len(about) == 1 and "timestamp" in about[0] and "Secret name" not in about[0]
        assert "experience.update" not in about[0]


def test_an_object_id_that_is_not_a_number_makes_the_stream_read_its_whole_list():
    with simulator(-150) as sim:
        catalog = catalog_for(sim, "experiences")
        first = sync(sim, catalog)
        # Given: an experience event whose object_id (a string, as documented) is not an experience id
        sim.dataset.add_history_event(object="experience", object_id="legacy-7")
        renamed = sim.dataset.update_experience(sim.dataset.started_experiences()[0]["id"], name="Renamed too")
        # When
        second = sync(sim, catalog, state=first.final_state())
        # Then: no crash, nothing missed (the whole list), one warning saying why
        with sim.dataset.lock:
            assert ids(second.records_of("experiences")) == ids(sim.dataset.records(WEB_PROJECT_ID, "experiences"))
        assert [r["name"] for r in second.records_of("experiences") if r["id"] == renamed["id"]] == ["Renamed too"]
        warnings = [m["log"]["message"] for m in second.of_type("LOG") if m["log"]["level"] == "WARN"]
        assert len([w for w in warnings if "not a whole number" in w]) == 1


def test_knowledge_bases_sync_incrementally_newest_first_and_stop_at_the_cursor(sim):
    catalog = catalog_for(sim, "knowledge_bases")
    first = sync(sim, catalog)
    with sim.dataset.lock:
        assert ids(first.records_of("knowledge_bases")) == ids(sim.dataset.records(WEB_PROJECT_ID, "knowledge-bases"))
        newest = max(kb["updated_at"] for kb in sim.dataset.records(WEB_PROJECT_ID, "knowledge-bases"))
    assert project_cursors(state_of(first, "knowledge_bases"), "updated_at") == {WEB_PROJECT_ID: newest}
    kb = sim.dataset.records(WEB_PROJECT_ID, "knowledge-bases")[0]["id"]
    sim.dataset.update_object("knowledge-bases", kb, name="Edited", updated_at=newest + 3 * DAY)
    sim.reset_log()
    second = sync(sim, catalog, state=first.final_state())
    assert kb in ids(second.records_of("knowledge_bases"))
    assert all(r["updated_at"] >= newest for r in second.records_of("knowledge_bases"))
    assert sim.count(path_regex=r"/knowledge-bases$") == 1


def test_a_0_2_0_state_continues_without_a_full_read(sim):
    # What 0.2.0 saved for a change-driven stream (its cursor may have come from the worker's clock)
    saved = newest_event(sim) - 3600
    old = {"use_global_cursor": True, "state": {"changed_at": str(saved)}, "lookback_window": 12,
           "parent_state": {"object_changes": {"timestamp": str(saved)}}}
    message = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "experiences"}, "stream_state": old}}]
    result = sync(sim, catalog_for(sim, "experiences"), state=message)
    with sim.dataset.lock:
        events = [e for e in sim.dataset.records(WEB_PROJECT_ID, "change-history")
                  if e["object"] == "experience" and e["timestamp"] >= saved]
    assert ids(result.records_of("experiences")) == {e["object_id"] for e in events}
    assert history_cursor(result, "experiences") >= saved


def test_an_interrupted_sync_resumes_without_losing_the_changes_it_did_not_read():
    with simulator(-150) as sim:
        catalog = catalog_for(sim, "experiences")
        first = sync(sim, catalog)
        # Given changes to more experiences than one request re-reads (two batches of ids)
        changed = {sim.dataset.update_experience(e["id"], name=f"Batch change {e['id']}")["id"]
                   for e in sim.dataset.records(WEB_PROJECT_ID, "experiences")[:60]}
        # When the second batch fails after the first one was synced (and its state emitted)
        sim.inject(Fault(status=422, times=1, path_regex=r"/experiences$", every=2))
        broken = run_connector("read", sim.config(max_concurrent_requests=1), catalog, state=first.final_state())
        assert broken.returncode != 0 and broken.errors
        assert broken.final_state(), "the first batch's state was emitted"
        # Then the saved history cursor has not moved past the unread batch, and resuming delivers it
        resumed = sync(sim, catalog, state=broken.final_state())
        delivered = ids(broken.records_of("experiences")) | ids(resumed.records_of("experiences"))
        assert changed <= delivered
