"""Incremental syncs against the simulator: exactly the changes, few requests, safe state."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from integration_tests.harness import (
    configured_catalog,
    daily_metrics,
    discovered_catalog,
    history_identities,
    project_cursor,
    project_cursors,
    run_connector,
    served_identities,
    state_of,
)
from simulator import WEB_PROJECT_ID, ConvertSimulator, Dataset, Fault

HISTORY_BASED = ["experiences", "experience_details", "goals", "audiences", "locations"]
INCREMENTAL = HISTORY_BASED + ["change_history", "daily_reports", "knowledge_bases"]
FAR_FUTURE = 4102444800  # 2100-01-01


@pytest.fixture()
def sim():
    # Convert stamps history events with its real clock: the dataset's "now" is the wall clock here.
    with ConvertSimulator(dataset=Dataset.generate(seed=11, now=int(time.time()))) as simulator:
        yield simulator


@pytest.fixture()
def catalog(sim):
    return lambda *streams: configured_catalog(streams, incremental=streams, discovered=discovered_catalog())


def history_ids(sim):
    """Every event of the project's history, as the connector receives it (events have no id)."""
    return served_identities(sim.dataset, sim.dataset.records(WEB_PROJECT_ID, "change-history"))


def events_of(sim, stored):
    return served_identities(sim.dataset, stored)


def metrics_of(sim, goal_id):
    return daily_metrics(sim.dataset, goal_id, WEB_PROJECT_ID)


def utc_day(offset_days: int = 0) -> str:
    return (dt.datetime.now(tz=dt.timezone.utc).date() + dt.timedelta(days=offset_days)).isoformat()


def utc_midnight(day: str) -> int:
    return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc).timestamp())


def test_discover_offers_incremental_with_cursors(catalog):
    streams = {entry["stream"]["name"]: entry["stream"] for entry in catalog(*INCREMENTAL)["streams"]}
    assert streams["change_history"]["default_cursor_field"] == ["timestamp"]
    assert streams["daily_reports"]["default_cursor_field"] == ["day"]
    for name in HISTORY_BASED:
        assert "incremental" in streams[name]["supported_sync_modes"]
        assert streams[name]["default_cursor_field"] == ["changed_at"]
    assert streams["knowledge_bases"]["default_cursor_field"] == ["updated_at"]


def test_history_sync_stops_at_the_saved_cursor(sim, catalog):
    first = run_connector("read", sim.config(), catalog("change_history"))
    newest = max(event["timestamp"] for event in first.records_of("change_history"))
    assert project_cursors(state_of(first, "change_history"), "timestamp") == {WEB_PROJECT_ID: newest}
    same_second = newest + 5
    added = [sim.dataset.add_history_event(object="goal", timestamp=same_second) for _ in range(2)]
    added.append(sim.dataset.add_history_event(object="experience"))
    sim.reset_log()
    second = run_connector("read", sim.config(), catalog("change_history"), state=first.final_state())
    boundary = history_identities([e for e in first.records_of("change_history") if e["timestamp"] == newest])
    # each record keyed, the same event with the same key in both syncs, no new event with an old key
    got = history_identities(second.records_of("change_history"), first.records_of("change_history"))
    assert history_identities(second.records_of("change_history")) == events_of(sim, added) | boundary
    assert got == history_ids(sim)
    assert sim.count(path_regex=r"/change-history$") == 1
    third = run_connector("read", sim.config(), catalog("change_history"), state=second.final_state())
    newest_now = max(e["timestamp"] for e in added)
    assert history_identities(third.records_of("change_history"), second.records_of("change_history")) == \
        history_identities(second.records_of("change_history"))
    assert history_identities(third.records_of("change_history")) == events_of(sim, [e for e in added if e["timestamp"] == newest_now])


def test_events_arriving_while_paging_are_emitted_once_and_none_lost(sim, catalog):
    sim.inject(Fault(kind="slow", delay=0.4, times=10, path_regex=r"/change-history$"))
    arrived = []

    def add_events_after_first_page():
        deadline = time.monotonic() + 30
        while not sim.count(path_regex=r"/change-history$") and time.monotonic() < deadline:
            time.sleep(0.01)
        arrived.extend(sim.dataset.add_history_event(object="tag") for _ in range(7))

    writer = threading.Thread(target=add_events_after_first_page)
    writer.start()
    before = history_ids(sim)
    first = run_connector("read", sim.config(), catalog("change_history"))
    writer.join()
    keys = [e["event_id"] for e in first.records_of("change_history")]
    assert len(keys) == len(set(keys)), "a page shift repeated records"
    ids = history_identities(first.records_of("change_history"))
    assert before <= ids
    second = run_connector("read", sim.config(), catalog("change_history"), state=first.final_state())
    assert history_identities(first.records_of("change_history"), second.records_of("change_history")) == history_ids(sim)
    saved = project_cursor(state_of(first, "change_history"), "timestamp")
    repeated = set(keys) & {e["event_id"] for e in second.records_of("change_history")}
    assert all(e["timestamp"] == saved for e in first.records_of("change_history") if e["event_id"] in repeated)


def test_interrupted_history_sync_keeps_the_old_state_and_loses_nothing(sim, catalog):
    first = run_connector("read", sim.config(), catalog("change_history"))
    old_state = first.final_state()
    new = [sim.dataset.add_history_event(object="goal") for _ in range(60)]
    sim.inject(Fault(status=422, times=1, path_regex=r"/change-history$", every=2))
    broken = run_connector("read", sim.config(), catalog("change_history"), state=old_state)
    assert broken.returncode != 0 and broken.errors
    saved = [project_cursors(s["stream"]["stream_state"], "timestamp") for s in broken.final_state()
             if s["stream"]["stream_descriptor"]["name"] == "change_history"]
    assert saved in ([], [project_cursors(state_of(first, "change_history"), "timestamp")]), \
        "state moved past events that were not synced"
    resumed = run_connector("read", sim.config(), catalog("change_history"), state=broken.final_state() or old_state)
    history_identities(first.records_of("change_history"), broken.records_of("change_history"),
                       resumed.records_of("change_history"))  # one key per event across the three syncs
    got = history_identities(broken.records_of("change_history"), resumed.records_of("change_history"))
    saved = project_cursor(state_of(first, "change_history"), "timestamp")
    boundary = history_identities([e for e in first.records_of("change_history") if e["timestamp"] == saved])
    assert got == events_of(sim, new) | boundary  # the saved second is read again (at-least-once)


def test_interrupted_report_sync_resumes_without_losing_rows(sim, catalog):
    expected = {
        (e["id"], goal, v["id"], day)
        for e in sim.dataset.started_experiences() for goal in e["goals"] for v in e["variations"]
        for day in [dt.datetime.fromtimestamp(d, tz=dt.timezone.utc).date().isoformat() for d in sim.dataset.run_days(e)]
    }
    sim.inject(Fault(status=422, times=1, path_regex=r"/daily_report$", every=40))
    broken = run_connector("read", sim.config(max_concurrent_requests=1), catalog("daily_reports"))
    assert broken.returncode != 0
    sim.clear_faults()
    sim.reset_log()
    resumed = run_connector("read", sim.config(), catalog("daily_reports"), state=broken.final_state() or None)
    assert resumed.returncode == 0
    rows = broken.records_of("daily_reports") + resumed.records_of("daily_reports")
    assert {(r["experience_id"], r["goal_id"], r["variation_id"], r["day"]) for r in rows} == expected
    partitions = sum(len(metrics_of(sim, goal)) for e in sim.dataset.started_experiences() for goal in e["goals"])
    assert sim.count(path_regex=r"/daily_report$") <= partitions


def test_daily_reports_reread_only_the_lookback_window(sim, catalog):
    config = sim.config(report_lookback_days=2)
    first = run_connector("read", config, catalog("daily_reports"))
    assert first.returncode == 0
    sim.reset_log()
    second = run_connector("read", config, catalog("daily_reports"), state=first.final_state())
    assert second.returncode == 0
    # The window: the project's saved ran_until (Convert's newest running time) minus the configured
    # 2 days; the request starts one day earlier (the baseline day, never delivered).
    saved = state_of(first, "daily_reports")
    assert saved["use_global_cursor"] is True and saved["state"] == {"day": utc_day(0)} and "states" not in saved
    assert project_cursors(saved, "ran_until", parent="started_experiences") == {WEB_PROJECT_ID: sim.dataset.now}
    window_day = dt.datetime.fromtimestamp(sim.dataset.now - 2 * 86400, tz=dt.timezone.utc).date().isoformat()
    assert window_day == utc_day(-2)
    days = {row["day"] for row in second.records_of("daily_reports")}
    assert days == {utc_day(-2), utc_day(-1), utc_day(0)}
    starts = {r.body["start_time"] for r in sim.requests if r.path.endswith("/daily_report")}
    assert starts == {utc_midnight(utc_day(-3))}
    active_partitions = sum(len(e["goals"]) for e in sim.dataset.started_experiences() if not e.get("end_time"))
    ended_long_ago = sum(
        len(e["goals"]) for e in sim.dataset.started_experiences() if e.get("end_time") and e["end_time"] < time.time() - 4 * 86400
    )
    assert ended_long_ago > 0
    # One request per experience goal and metric: count the experience goals asked.
    requests = len({(r.path, r.body["goal"]) for r in sim.requests if r.path.endswith("/daily_report")})
    assert active_partitions <= requests <= sum(len(e["goals"]) for e in sim.dataset.started_experiences()) - ended_long_ago
    assert state_of(second, "daily_reports")["state"] == {"day": utc_day(0)}


def test_per_partition_state_of_0_1_0_continues_from_its_global_cursor(sim, catalog):
    config = sim.config(report_lookback_days=1)
    first = run_connector("read", config, catalog("daily_reports"))
    assert first.returncode == 0
    old = {  # what 0.1.0 saved: a cursor per experience goal beside the global one
        "use_global_cursor": False,
        "states": [
            {"partition": {"experience_id": e["id"], "goal_id": goal, "parent_slice": {}}, "cursor": {"day": utc_day(0)}}
            for e in sim.dataset.started_experiences() for goal in e["goals"]
        ],
        "state": {"day": utc_day(0)},
        "lookback_window": 3,
    }
    message = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "daily_reports"}, "stream_state": old}}]
    second = run_connector("read", config, catalog("daily_reports"), state=message)
    assert second.returncode == 0, second.stdout[-2000:]
    # Its day (midnight) is the window start's ran_until; minus the configured lookback (1 day).
    days = {row["day"] for row in second.records_of("daily_reports")}
    assert days == {utc_day(-1), utc_day(0)}
    saved = state_of(second, "daily_reports")
    assert saved["use_global_cursor"] is True and saved["state"] == {"day": utc_day(0)} and "states" not in saved
    # The saved day was read to its end: that instant, or Convert's newest running time if later
    end_of_day = int(dt.datetime.fromisoformat(utc_day(1)).replace(tzinfo=dt.timezone.utc).timestamp())
    assert project_cursors(saved, "ran_until", parent="started_experiences") == {
        WEB_PROJECT_ID: max(sim.dataset.now, end_of_day)}


@pytest.mark.parametrize(
    "stream, state",
    [
        ("change_history", {"timestamp": str(FAR_FUTURE)}),
    ],
)
def test_abnormal_future_state_yields_nothing_and_does_not_move_back(sim, catalog, stream, state):
    message = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": state}}]
    result = run_connector("read", sim.config(), catalog(stream), state=message)
    assert result.returncode == 0, result.stdout[-2000:]
    assert result.records_of(stream) == []
    # The cursor (written before per-project state) is the configured project's and has not moved back.
    ((field, value),) = state.items()
    assert project_cursors(state_of(result, stream), field) == {WEB_PROJECT_ID: int(value)}


@pytest.mark.parametrize("state", [
    {},
    {"legacy_cursor": "2020-01-01"},
    {"use_global_cursor": True, "state": {"changed_at": "99999999999999"},
     "parent_state": {"object_changes": {"timestamp": "99999999999999"}}},
])
def test_empty_or_foreign_state_starts_a_full_read(sim, catalog, state):
    message = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "experiences"}, "stream_state": state}}]
    result = run_connector("read", sim.config(), catalog("experiences", "change_history"), state=message)
    assert result.returncode == 0, result.stdout[-2000:]
    assert len(result.records_of("experiences")) == len(sim.dataset.records(WEB_PROJECT_ID, "experiences"))
    assert history_identities(result.records_of("change_history")) == history_ids(sim)
