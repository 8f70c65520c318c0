"""daily_traffic_allocation against the simulator: every row is the share the simulator allocated (moving for
MAB experiences, the set distribution for the others), one request per started experience with the time
range only, and a second sync reads the day window of daily_reports.

Expected values come from the simulator's own model (``simulator.reports.traffic_allocation``), never from
the connector's output.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any, Dict, Iterable, List, Mapping, Optional

import pytest

from integration_tests.harness import ConnectorRun, configured_catalog, project_cursors, run_connector, state_of
from simulator import DAY, WEB_PROJECT_ID, ConvertSimulator, Dataset
from simulator import reports as model

STREAM = "daily_traffic_allocation"
KEY = ("experience_id", "variation_id", "day")
LOOKBACK_DAYS = 3
PATH = f"/daily_traffic_allocation"


def read(sim: ConvertSimulator, streams: List[str], state: Optional[list] = None, **config: Any) -> ConnectorRun:
    sim.reset_log()
    config.setdefault("report_lookback_days", LOOKBACK_DAYS)
    run = run_connector("read", sim.config(**config), configured_catalog(streams, incremental=streams), state=state)
    assert run.returncode == 0 and not run.errors, (run.errors, run.stderr[-3000:])
    run.requests = list(sim.requests)  # type: ignore[attr-defined]
    return run


def requests_of(run: ConnectorRun) -> List[Any]:
    return [r for r in run.requests if r.path.endswith(PATH)]  # type: ignore[attr-defined]


def experience_of(request: Any) -> int:
    return int(request.path.split("/experiences/")[1].split("/")[0])


def started(ds: Dataset) -> List[Dict[str, Any]]:
    with ds.lock:
        return [dict(e) for e in ds.started_experiences()]


def local_date(day_start: int, offset: int) -> str:
    return dt.datetime.fromtimestamp(day_start + offset, tz=dt.timezone.utc).date().isoformat()


def expected_rows(sim: ConvertSimulator, experiences: Iterable[Mapping[str, Any]], offset: int = 0,
                  first_day: str = "0000-00-00") -> Dict[tuple, Dict[str, Any]]:
    """(experience, variation, day) -> the row's numbers, as the simulator allocated them."""
    rows = {}
    for exp in experiences:
        for day in sim.dataset.run_days(exp, offset):
            date = local_date(day, offset)
            if date < first_day:
                continue
            shares = model.traffic_allocation(sim.dataset.seed, exp["id"], exp["variations"], day, offset)
            for variation in exp["variations"]:
                rows[(exp["id"], variation["id"], date)] = {"traffic_allocation": shares[variation["id"]], "timestamp": day,
                                                             "utc_offset": offset, "project_id": WEB_PROJECT_ID}
    return rows


def by_key(run: ConnectorRun) -> Dict[tuple, Dict[str, Any]]:
    rows = run.records_of(STREAM)
    keyed = {tuple(row[name] for name in KEY): row for row in rows}
    assert len(keyed) == len(rows), "a row was delivered twice"
    return keyed


def assert_rows_are(got: Mapping[tuple, Mapping[str, Any]], expected: Mapping[tuple, Mapping[str, Any]]) -> None:
    assert set(got) == set(expected), (sorted(set(got) - set(expected))[:3], sorted(set(expected) - set(got))[:3])
    wrong = [key for key, numbers in expected.items() if {name: got[key][name] for name in numbers} != numbers]
    assert not wrong, [(key, got[key], expected[key]) for key in wrong[:3]]


@pytest.fixture(scope="module")
def sim():
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=30)) as server:
        yield server


@pytest.mark.parametrize("hours", [0, 5.5])
def test_every_row_is_the_share_the_simulator_allocated_one_request_per_started_experience(sim, hours):
    offset = int(hours * 3600)
    run = read(sim, [STREAM], report_utc_offset_hours=hours)
    experiences = started(sim.dataset)
    assert any(model.is_mab(sim.dataset.seed, e["id"]) for e in experiences), "a MAB experience"
    assert any(not model.is_mab(sim.dataset.seed, e["id"]) for e in experiences), "an experience with a set distribution"
    got = by_key(run)
    assert_rows_are(got, expected_rows(sim, experiences, offset))
    moving = {e["id"] for e in experiences if model.is_mab(sim.dataset.seed, e["id"])}
    assert any(len({row["traffic_allocation"] for key, row in got.items() if key[0] == exp_id}) > 2 for exp_id in moving)
    # One request per started experience: the time range only, from the default start date's local midnight
    requests = requests_of(run)
    assert Counter(experience_of(r) for r in requests) == Counter(e["id"] for e in experiences)
    start = int(dt.datetime(2010, 1, 1, tzinfo=dt.timezone.utc).timestamp()) - max(offset, 0)
    assert all(r.body == {"utc_offset": offset, "start_time": start, "end_time": None} for r in requests)


def test_a_second_sync_reads_the_day_window_of_daily_reports_with_the_same_requests_start():
    with ConvertSimulator(dataset=Dataset.generate(seed=9, experiences=30)) as sim:
        first = read(sim, [STREAM, "daily_reports"], daily_report_metrics=["conversion_rate"])
        before = sim.dataset.now
        sim.dataset.advance_days(2)
        second = read(sim, [STREAM, "daily_reports"], state=first.final_state(), daily_report_metrics=["conversion_rate"])

        # The project's cursor is the newest ran_until, with the zone it was counted in
        saved = state_of(first, STREAM)
        assert project_cursors(saved, "ran_until", parent="started_experiences") == {WEB_PROJECT_ID: before}
        assert project_cursors(saved, "utc_offset", parent="started_experiences") == {WEB_PROJECT_ID: 0}
        # The window: the day of (ran_until minus the lookback), an end instant (the simulator's now is a midnight)
        window_start = before - LOOKBACK_DAYS * DAY
        first_day = local_date(window_start - 1 - (window_start - 1) % DAY, 0)
        threshold = window_start - 1 - (window_start - 1) % DAY
        wanted = [e for e in started(sim.dataset) if not e["end_time"] or e["end_time"] > threshold]
        assert len(wanted) < len(started(sim.dataset)), "experiences that stopped long ago cost no request"
        requests = requests_of(second)
        assert Counter(experience_of(r) for r in requests) == Counter(e["id"] for e in wanted)
        daily = [r for r in second.requests if r.path.endswith("/daily_report")]  # type: ignore[attr-defined]
        assert {r.body["start_time"] for r in requests} == {threshold}
        assert {r.body["start_time"] for r in daily} == {threshold - DAY}, "daily_reports: one baseline day earlier"
        assert_rows_are(by_key(second), expected_rows(sim, wanted, 0, first_day))
        assert state_of(second, STREAM)["state"] == {"day": local_date(sim.dataset.today, 0)}
