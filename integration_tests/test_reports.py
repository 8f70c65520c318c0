"""Report streams against the simulator: values of every metric and goal type, daily sums against the
aggregated totals, the report time zone, request counts, and incremental syncs whose cursors come from
Convert's data (a data clock months away from the machine's changes nothing).

Expected values come from the simulator's own report model (the numbers it serves), never from the
connector's output.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter, defaultdict
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import pytest

from integration_tests.harness import (
    ConnectorRun,
    configured_catalog,
    daily_by_key,
    experience_of,
    project_cursor,
    project_cursors,
    report_requests,
    run_connector,
)
from simulator import DAY, WEB_PROJECT_ID, ConvertSimulator, Dataset, Fault
from simulator import reports as model
from simulator import segments, statistics
from source_convert.components.report_vocabulary import AGGREGATED_METRIC_NAMES, METRICS

REPORTS = ["aggregated_reports", "daily_reports"]
ALL_METRICS = ("conversion_rate", "avg_revenue_per_visitor", "avg_products_ordered_per_visitor")
REVENUE_METRICS = ALL_METRICS[1:]
SEED = 7
EXPERIENCES = 30
LOOKBACK_DAYS = 3
OFFSETS = [0, 5.5, -5]  # hours: UTC, UTC+05:30, UTC-05:00


# ----------------------------------------------------------------------------- helpers
def read(sim: ConvertSimulator, streams: List[str], state: Optional[list] = None, **config: Any) -> ConnectorRun:
    """One incremental read of ``streams``, with the simulator's request log of just that read."""
    sim.reset_log()
    run = run_connector("read", sim.config(**config), configured_catalog(streams, incremental=streams), state=state)
    assert run.returncode == 0 and not run.errors, (run.errors, run.stderr[-3000:])
    run.requests = list(sim.requests)  # type: ignore[attr-defined]
    return run






def stream_state(run: ConnectorRun, stream: str) -> Dict[str, Any]:
    return next(s["stream"]["stream_state"] for s in run.final_state() if s["stream"]["stream_descriptor"]["name"] == stream)


def started(ds: Dataset) -> List[Dict[str, Any]]:
    with ds.lock:
        return [dict(e) for e in ds.started_experiences()]


def is_revenue(ds: Dataset, goal_id: int) -> bool:
    return (ds.find(WEB_PROJECT_ID, "goals", goal_id) or {}).get("type") == "revenue"


def metrics_of(ds: Dataset, goal_id: int, wanted: Iterable[str] = ALL_METRICS) -> List[str]:
    return [m for m in wanted if m == "conversion_rate" or is_revenue(ds, goal_id)]


def seconds(hours: float) -> int:
    return int(hours * 3600)


def utc_midnight(day: str) -> int:
    return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc).timestamp())


def local_date(day_start: int, offset: int) -> str:
    """The calendar date of a local midnight given as UTC seconds."""
    return dt.datetime.fromtimestamp(day_start + offset, tz=dt.timezone.utc).date().isoformat()


def cell(sim: ConvertSimulator, exp: Mapping[str, Any], variation: Mapping[str, Any], goal_id: int, day: int,
         offset: int) -> model.Cell:
    return sim.api.model.cell(exp["id"], variation["id"], variation["is_baseline"], goal_id,
                              is_revenue(sim.dataset, goal_id), day, offset)


def expected_daily(sim: ConvertSimulator, offset: int, experiences: Iterable[Mapping[str, Any]],
                   first_day: str = "0000-00-00") -> Dict[tuple, Dict[str, Any]]:
    """(experience, goal, variation, day, metric) -> the row's numbers, for days from ``first_day`` on."""
    rows = {}
    for exp in experiences:
        for day in sim.dataset.run_days(exp, offset):
            date = local_date(day, offset)
            if date < first_day:
                continue
            for goal_id in exp["goals"]:
                for variation in exp["variations"]:
                    numbers = cell(sim, exp, variation, goal_id, day, offset)
                    for metric in metrics_of(sim.dataset, goal_id):
                        rows[(exp["id"], goal_id, variation["id"], date, metric)] = {
                            "timestamp": day,
                            "value": model.daily_value(metric, model.Totals(*numbers)),
                            "visitors": numbers.visitors,
                            "totals": model.daily_total(metric, model.Totals(*numbers)),
                        }
    return rows




# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sim():
    with ConvertSimulator(dataset=Dataset.generate(seed=SEED, experiences=EXPERIENCES)) as server:
        yield server


@pytest.fixture(scope="module")
def first_reads(sim):
    """First syncs of both report streams, one per report time zone (hours), read lazily and kept."""
    cache: Dict[float, ConnectorRun] = {}

    def get(hours: float) -> ConnectorRun:
        if hours not in cache:
            cache[hours] = read(sim, REPORTS, report_utc_offset_hours=hours)
        return cache[hours]

    return get


def test_the_dataset_has_what_the_report_tests_need(sim):
    experiences = started(sim.dataset)
    goals = {goal for exp in experiences for goal in exp["goals"]}
    assert any(is_revenue(sim.dataset, goal) for goal in goals), "a revenue goal"
    assert any(not is_revenue(sim.dataset, goal) for goal in goals), "a goal of another type"
    assert any(not exp["end_time"] for exp in experiences), "a running experience"
    assert any(exp["end_time"] and exp["end_time"] < sim.dataset.now - (LOOKBACK_DAYS + 1) * DAY for exp in experiences), \
        "an experience that stopped before the lookback window"
    assert any(exp["status"] == "archived" for exp in experiences), "an archived experience"


# ----------------------------------------------------------------------------- values
@pytest.mark.parametrize("hours", OFFSETS)
def test_daily_rows_are_convert_numbers_for_every_metric_that_applies(sim, first_reads, hours):
    offset = seconds(hours)
    got = daily_by_key(first_reads(hours))
    expected = expected_daily(sim, offset, started(sim.dataset))
    assert set(got) == set(expected)
    assert {key[4] for key in got} == set(ALL_METRICS)
    assert all(is_revenue(sim.dataset, key[1]) for key in got if key[4] in REVENUE_METRICS)
    for key, numbers in expected.items():
        row = got[key]
        assert {name: row[name] for name in numbers} == numbers, key
        assert row["report_type"] == "non_cumulative" and row["utc_offset"] == offset


def expected_aggregated(sim: ConvertSimulator, offset: int, experiences: Iterable[Mapping[str, Any]],
                        segment: Optional[Tuple[str, Any]] = None) -> Dict[tuple, Dict[str, Any]]:
    """(experience, goal, variation, metric) -> the row the simulator's model gives (its metrics[] item,
    named as in daily_reports, with the goal's srm and the variation's name), optionally for one segment value."""
    rows = {}
    for exp in experiences:
        days = sim.dataset.run_days(exp, offset)
        method = statistics.methodology(exp, {})
        segment_ids = sim.api.segmentation_audiences(WEB_PROJECT_ID)
        for goal_id in exp["goals"]:
            revenue = is_revenue(sim.dataset, goal_id)
            totals = {}
            for v in exp["variations"]:
                total = sim.api.model.totals(exp["id"], v, goal_id, revenue, days, offset)
                if segment is not None:
                    total = segments.filtered(total, sim.api.model.seed, exp["id"], v["id"], {segment[0]: [segment[1]]},
                                              segment_ids)
                totals[v["id"]] = total
            names = [m for m in statistics.AGGREGATED_METRICS if m == "conversion_rate" or revenue]
            goal, items = statistics.goal_report(method, exp["variations"], totals, names)
            for v in exp["variations"]:
                for item in items[v["id"]]:
                    fields = {name: value for name, value in item.items() if name != "metric_type"}
                    metric = AGGREGATED_METRIC_NAMES[item["metric_type"]]
                    rows[(exp["id"], goal_id, v["id"], metric)] = {
                        **fields, "visitors": totals[v["id"]].visitors, "stats_methodology": method,
                        "goal_srm": goal["srm"], "goal_srm_pvalue": goal["srm_pvalue"],
                        "variation_name": v["name"], "is_baseline": v["is_baseline"],
                        "ran_until": exp["end_time"] or sim.dataset.now,
                    }
    return rows


def aggregated_by_key(rows: Iterable[Mapping[str, Any]]) -> Dict[tuple, Mapping[str, Any]]:
    rows = list(rows)
    keyed = {(r["experience_id"], r["goal_id"], r["variation_id"], r["metric"]): r for r in rows}
    assert len(keyed) == len(rows), "the key is unique"
    return keyed


def assert_rows_are(got: Mapping[tuple, Mapping[str, Any]], expected: Mapping[tuple, Mapping[str, Any]]) -> None:
    """Every expected row, field for field (a null field may be left out of a record), and no other row."""
    assert set(got) == set(expected)
    for key, fields in expected.items():
        assert {name: got[key].get(name) for name in fields} == fields, key


@pytest.mark.parametrize("hours", [0, 5.5])
def test_aggregated_rows_are_the_stats_engine_numbers_for_both_methodologies_and_every_metric(sim, first_reads, hours):
    rows = first_reads(hours).records_of("aggregated_reports")
    got = aggregated_by_key(rows)
    assert_rows_are(got, expected_aggregated(sim, seconds(hours), started(sim.dataset)))
    assert {r["stats_methodology"] for r in rows} == {"frequentist", "bayesian"}
    assert {r["metric"] for r in rows} == set(METRICS)
    assert any(r.get("chance_to_win") for r in rows) and any(r.get("confidence") for r in rows)
    assert any(r["metric_total"] > 0 for r in rows if r["metric"] == "avg_revenue_per_visitor")


@pytest.mark.parametrize("hours", [0, 5.5])
def test_daily_sums_equal_the_aggregated_totals_of_the_same_window(sim, first_reads, hours):
    """The daily rows of each metric add up to what the aggregated report serves for the whole run."""
    offset = seconds(hours)
    sums: Dict[tuple, Dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in first_reads(hours).records_of("daily_reports"):
        total = sums[(row["experience_id"], row["goal_id"], row["variation_id"])]
        total[row["metric"]] += row["totals"]
        if row["metric"] == "conversion_rate":
            total["visitors"] += row["visitors"]
    expected_keys = set()
    for exp in started(sim.dataset):
        days = sim.dataset.run_days(exp, offset)
        for goal_id in exp["goals"]:
            revenue = is_revenue(sim.dataset, goal_id)
            for variation in exp["variations"]:
                key = (exp["id"], goal_id, variation["id"])
                expected_keys.add(key)
                aggregated, got = sim.api.model.totals(exp["id"], variation, goal_id, revenue, days, offset), sums[key]
                assert (got["visitors"], got["conversion_rate"]) == (aggregated.visitors, aggregated.conversions)
                if revenue:
                    assert got["avg_revenue_per_visitor"] == pytest.approx(aggregated.revenue, abs=0.005)
                    assert got["avg_products_ordered_per_visitor"] == aggregated.products
    assert set(sums) == expected_keys


def test_revenue_metrics_are_the_daily_totals_per_visitor(first_reads):
    rows = daily_by_key(first_reads(0))
    revenue_rows = [(key, row) for key, row in rows.items() if key[4] == "avg_revenue_per_visitor"]
    assert revenue_rows and any(row["value"] > 0 for _, row in revenue_rows)
    for key, row in revenue_rows:
        products = rows[key[:4] + ("avg_products_ordered_per_visitor",)]
        assert row["value"] == pytest.approx(row["totals"] / row["visitors"], abs=1e-6)
        assert products["value"] == pytest.approx(products["totals"] / products["visitors"], abs=1e-6)


def test_the_utc_offset_moves_day_boundaries(sim, first_reads):
    by_offset = {hours: defaultdict(set) for hours in OFFSETS}
    for hours in OFFSETS:
        for row in first_reads(hours).records_of("daily_reports"):
            by_offset[hours][row["experience_id"]].add(row["day"])
            assert row["timestamp"] + seconds(hours) == utc_midnight(row["day"]), "the instant of the local midnight"
    experiences = started(sim.dataset)
    for hours in OFFSETS:
        for exp in experiences:
            local = {local_date(day, seconds(hours)) for day in sim.dataset.run_days(exp, seconds(hours))}
            assert by_offset[hours][exp["id"]] == local
    moved = [exp["id"] for exp in experiences if len({frozenset(by_offset[h][exp["id"]]) for h in OFFSETS}) > 1]
    assert moved, "some experience starts or ends on another local day in another time zone"


# ----------------------------------------------------------------------------- requests
def test_one_request_per_experience_goal_and_applicable_metric_with_the_offset(sim, first_reads):
    run = first_reads(5.5)
    experiences = started(sim.dataset)
    daily = report_requests(run, "daily_report")
    expected = Counter((e["id"], goal, metric) for e in experiences for goal in e["goals"] for metric in metrics_of(sim.dataset, goal))
    assert Counter((experience_of(r), r.body["goal"], r.body["metric"]) for r in daily) == expected
    # The first day delivered is the default start date's (2010-01-01, local); the request starts at the
    # local midnight of the day before (the baseline day, never delivered).
    baseline_midnight = int(dt.datetime(2009, 12, 31, tzinfo=dt.timezone.utc).timestamp()) - seconds(5.5)
    for request in daily:
        assert request.body["utc_offset"] == 19800 and request.body["report_type"] == "non_cumulative"
        assert request.body["start_time"] == baseline_midnight and request.body["end_time"] is None
    aggregated = report_requests(run, "aggregated_report")
    assert Counter(experience_of(r) for r in aggregated) == Counter(e["id"] for e in experiences)
    assert all(r.body == {"utc_offset": 19800} for r in aggregated)


def test_the_metrics_option_requests_only_those_metrics_where_they_apply(sim):
    run = read(sim, ["daily_reports"], daily_report_metrics=["avg_revenue_per_visitor"])
    expected = Counter(
        (e["id"], goal) for e in started(sim.dataset) for goal in e["goals"] if is_revenue(sim.dataset, goal)
    )
    requests = report_requests(run, "daily_report")
    assert Counter((experience_of(r), r.body["goal"]) for r in requests) == expected
    assert {r.body["metric"] for r in requests} == {"avg_revenue_per_visitor"}
    assert {row["metric"] for row in run.records_of("daily_reports")} == {"avg_revenue_per_visitor"}


# ----------------------------------------------------------------------------- incremental
def saved_cursors(state: Mapping[str, Any]) -> Tuple[Any, Dict[int, Any]]:
    """What a report stream's state decides and shows: its display cursor and the ran_until per project."""
    return state.get("state"), project_cursors(state, "ran_until", parent="started_experiences")


def window_first_day(window_start: int, offset: int = 0) -> str:
    """The first day of a window that starts at ``window_start``: an end instant (when experiences last ran),
    so one exactly at a midnight belongs to the day before."""
    return local_date(window_start - 1 - (window_start - 1 + offset) % DAY, offset)


def reread_experiences(experiences: Iterable[Mapping[str, Any]], last_ran_until: int) -> set:
    """Experiences a sync must read: running, or stopped after the window's first day began (the saved ran_until
    minus the lookback is the window start, in UTC here)."""
    threshold = utc_midnight(window_first_day(last_ran_until - LOOKBACK_DAYS * DAY))
    return {e["id"] for e in experiences if not e["end_time"] or e["end_time"] > threshold}


def incremental_round(sim: ConvertSimulator, advance_days: int, **config: Any) -> Tuple[ConnectorRun, ConnectorRun, int, int]:
    """First sync, one experience stopped and the data clock moved, second sync: (first, second, now before, now after)."""
    config.setdefault("report_lookback_days", LOOKBACK_DAYS)
    first = read(sim, REPORTS, **config)
    before = sim.dataset.now
    running = [e for e in started(sim.dataset) if not e["end_time"]]
    sim.dataset.update_experience(running[0]["id"], status="completed")  # stops now: its last days must come again
    sim.dataset.advance_days(advance_days)
    second = read(sim, REPORTS, state=first.final_state(), **config)
    return first, second, before, sim.dataset.now


@pytest.fixture()
def fresh_sim(request):
    """A function-scoped simulator; ``request.param`` (days) moves its data clock from the machine's clock."""
    shift = getattr(request, "param", None)
    now = int(time.time()) + shift * DAY if shift is not None else None
    dataset = Dataset.generate(seed=SEED + 1, experiences=EXPERIENCES, **({"now": now} if now else {}))
    with ConvertSimulator(dataset=dataset) as server:
        yield server


@pytest.mark.parametrize("fresh_sim", [None, -150, 150], indirect=True, ids=["default-clock", "months-behind", "months-ahead"])
def test_second_sync_reads_what_ran_since_the_last_sync_and_the_new_days(fresh_sim):
    sim = fresh_sim
    first, second, before, after = incremental_round(sim, advance_days=2)
    experiences = started(sim.dataset)
    wanted = reread_experiences(experiences, before)
    assert len(wanted) < len(experiences), "experiences that stopped long ago cost no request"
    for stream in REPORTS:
        assert project_cursors(stream_state(first, stream), "ran_until", parent="started_experiences") == {WEB_PROJECT_ID: before}

    aggregated = report_requests(second, "aggregated_report")
    assert Counter(experience_of(r) for r in aggregated) == Counter(wanted)
    assert {r["experience_id"] for r in second.records_of("aggregated_reports")} == wanted
    daily = report_requests(second, "daily_report")
    assert Counter((experience_of(r), r.body["goal"], r.body["metric"]) for r in daily) == Counter(
        (e["id"], goal, metric) for e in experiences if e["id"] in wanted
        for goal in e["goals"] for metric in metrics_of(sim.dataset, goal)
    )

    # The window: from the day of the project's saved ran_until minus the lookback, to no end; the
    # request starts one day earlier (the baseline day, never delivered).
    saved_day = stream_state(first, "daily_reports")["state"]["day"]
    assert saved_day == local_date(before - before % DAY, 0), "the newest day Convert returned (display only)"
    window_start = project_cursor(stream_state(first, "daily_reports"), "ran_until", parent="started_experiences") \
        - LOOKBACK_DAYS * DAY
    first_day = window_first_day(window_start)
    assert all(r.body["end_time"] is None for r in daily)
    assert {r.body["start_time"] for r in daily} == {utc_midnight(first_day) - DAY}
    got = daily_by_key(second)
    expected = expected_daily(sim, 0, [e for e in experiences if e["id"] in wanted], first_day)
    assert set(got) == set(expected)
    assert {key: {name: got[key][name] for name in numbers} for key, numbers in expected.items()} == expected
    new_days = {local_date(before - before % DAY + n * DAY, 0) for n in (1, 2)}
    assert new_days <= {key[3] for key in got}, "the days the data clock moved on"
    assert stream_state(second, "daily_reports")["state"] == {"day": local_date(after - after % DAY, 0)}
    for stream in REPORTS:
        assert project_cursors(stream_state(second, stream), "ran_until", parent="started_experiences") == {WEB_PROJECT_ID: after}
    assert stream_state(second, "aggregated_reports")["state"] == {"ran_until": str(after)}


def test_a_third_sync_without_new_data_reads_only_running_experiences(fresh_sim):
    sim = fresh_sim
    _, second, _, after = incremental_round(sim, advance_days=LOOKBACK_DAYS + 2)
    third = read(sim, REPORTS, state=second.final_state(), report_lookback_days=LOOKBACK_DAYS)
    running = {e["id"] for e in started(sim.dataset) if not e["end_time"]}
    assert running
    assert {experience_of(r) for r in report_requests(third, "aggregated_report")} == running
    assert {experience_of(r) for r in report_requests(third, "daily_report")} == running
    assert stream_state(third, "daily_reports")["state"] == stream_state(second, "daily_reports")["state"]


def test_a_0_2_0_daily_state_continues_from_its_day(fresh_sim):
    sim = fresh_sim
    saved_day = local_date(sim.dataset.today - 5 * DAY, 0)
    old = {"use_global_cursor": True, "state": {"day": saved_day}, "lookback_window": 7}
    message = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "daily_reports"}, "stream_state": old}}]
    run = read(sim, ["daily_reports"], state=message, report_lookback_days=1)
    # From the saved day minus the lookback (1): the saved day's midnight is the project's ran_until;
    # experiences that stopped before the saved day minus the lookback cost no request.
    first_day = (dt.date.fromisoformat(saved_day) - dt.timedelta(days=1)).isoformat()
    experiences = started(sim.dataset)
    threshold = utc_midnight(saved_day) - DAY
    wanted = [e for e in experiences if not e["end_time"] or e["end_time"] >= threshold]
    assert len(wanted) < len(experiences)
    assert set(daily_by_key(run)) == set(expected_daily(sim, 0, wanted, first_day))
    requests = report_requests(run, "daily_report")
    assert {experience_of(r) for r in requests} == {e["id"] for e in wanted}
    assert {r.body["start_time"] for r in requests} == {utc_midnight(first_day) - DAY}  # the baseline day's
    saved = stream_state(run, "daily_reports")
    assert saved["state"] == {"day": local_date(sim.dataset.today, 0)}
    assert set(saved["parent_state"]) == {"started_experiences"}
    assert project_cursors(saved, "ran_until", parent="started_experiences") == {WEB_PROJECT_ID: sim.dataset.now}


@pytest.fixture()
def paged_sim():
    """A simulator whose experiences list takes three pages (50 a page)."""
    with ConvertSimulator(dataset=Dataset.generate(seed=SEED + 2, experiences=120)) as server:
        yield server


@pytest.mark.parametrize("stream", REPORTS)
def test_a_parent_list_failing_on_its_second_page_moves_no_cursor_and_the_resumed_sync_misses_nothing(paged_sim, stream):
    sim = paged_sim
    config = {"report_lookback_days": LOOKBACK_DAYS, "daily_report_metrics": ["conversion_rate"], "max_concurrent_requests": 1}
    first = read(sim, [stream], **config)
    before = sim.dataset.now
    running = [e for e in started(sim.dataset) if not e["end_time"]]
    sim.dataset.update_experience(running[0]["id"], status="completed")  # stops now: its last days must come again
    sim.dataset.advance_days(10)

    # The started experiences' list fails on its second page: no report partition may close before it is read whole.
    fault = sim.inject(Fault(status=422, times=1, path_regex=r"/experiences$", every=2))
    sim.reset_log()
    broken = run_connector("read", sim.config(**config), configured_catalog([stream], incremental=[stream]),
                           state=first.final_state())
    assert broken.returncode != 0 and broken.errors
    assert fault.hits == 1 and [r.body.get("page") for r in sim.requests if r.status == 422] == [2]
    saved = [saved_cursors(s["stream"]["stream_state"]) for s in broken.final_state()
             if s["stream"]["stream_descriptor"]["name"] == stream]
    assert saved in ([], [saved_cursors(stream_state(first, stream))]), "a cursor moved past experiences that were not read"

    sim.clear_faults()
    resumed = read(sim, [stream], state=broken.final_state() or first.final_state(), **config)
    experiences = started(sim.dataset)
    if stream == "daily_reports":
        saved_day = stream_state(first, stream)["state"]["day"]
        expected = {key for key in expected_daily(sim, 0, experiences, saved_day) if key[4] == "conversion_rate"}
        got = {key for run in (broken, resumed) for key in daily_by_key(run) if key[3] >= saved_day}
        assert len(expected) > 100 and got == expected
    else:
        ran_until = {e["id"]: e["end_time"] or sim.dataset.now for e in experiences}
        rows = resumed.records_of(stream)
        assert {r["experience_id"] for r in rows} == reread_experiences(experiences, before)
        assert all(r["ran_until"] == ran_until[r["experience_id"]] for r in rows)


@pytest.mark.parametrize(
    "stream, answer, words",
    [
        ("daily_reports", {"reportData": {"goal_id": 999999, "variations": []}}, ["is for goal 999999 in data.reportData"]),
        ("daily_reports", {"reportData": [{"variations": [{"id": 1}]}]}, ["no 'stats' in data.reportData[0].variations[0]"]),
        ("aggregated_reports", {"report": {"goal_id": 1, "variations": []}}, ["no 'reportData' in data"]),
        ("aggregated_reports", {"reportData": [{"goal_id": 1, "variations": ["x"]}]},
         ["a string as data.reportData[0].variations[0], expected an object"]),
    ],
)
def test_a_report_of_another_shape_stops_the_sync_with_one_clear_error(fresh_sim, stream, answer, words):
    sim = fresh_sim
    report = "daily_report" if stream == "daily_reports" else "aggregated_report"
    fault = sim.inject(Fault(kind="no_data", body=json.dumps({"data": answer}), times=1, path_regex=rf"/{report}$"))
    sim.reset_log()
    run = run_connector("read", sim.config(max_concurrent_requests=1), configured_catalog([stream], incremental=[stream]))
    (faulted,) = [r for r in sim.requests if r.fault]
    assert fault.hits == 1 and run.returncode != 0
    if stream == "daily_reports" and "goal_id" in answer["reportData"]:
        words = words + [f"but goal {faulted.body['goal']} was requested"]
    # The stream's error once, then only the CDK's summary of the streams that failed.
    failures = [e for e in run.errors if not e["message"].startswith("During the sync, the following streams did not")]
    assert len(failures) == 1 and failures[0]["failure_type"] == "system_error", run.errors
    message = failures[0]["message"]
    assert message.startswith(f"Stream '{stream}': the report Convert answered to POST {faulted.path} ")
    assert all(word in message for word in words), message
    assert "Traceback" not in message and "Traceback" not in run.stderr
    assert all("AirbyteTracedException(" in e["message"] for e in run.errors if e is not failures[0]), "not a crash"
    assert sim.key_secret not in run.stdout + run.stderr


# ----------------------------------------------------------------------------- window edges
def test_a_changed_report_time_zone_re_reads_every_report_stream_in_full_with_one_warning_each(fresh_sim):
    sim = fresh_sim
    streams = REPORTS + ["daily_traffic_allocation"]
    first = read(sim, streams, report_lookback_days=LOOKBACK_DAYS)
    for stream in streams:
        assert project_cursors(stream_state(first, stream), "utc_offset", parent="started_experiences") == {WEB_PROJECT_ID: 0}
    second = read(sim, streams, state=first.final_state(), report_lookback_days=LOOKBACK_DAYS, report_utc_offset_hours=5.5)

    # Every started experience again, every day in the new zone, as on a first sync
    experiences = started(sim.dataset)
    assert Counter(experience_of(r) for r in report_requests(second, "aggregated_report")) == Counter(e["id"] for e in experiences)
    assert set(daily_by_key(second)) == set(expected_daily(sim, seconds(5.5), experiences))
    allocation = {(r["experience_id"], r["variation_id"], r["day"]) for r in second.records_of("daily_traffic_allocation")}
    assert allocation == {(e["id"], v["id"], local_date(day, seconds(5.5))) for e in experiences
                          for day in sim.dataset.run_days(e, seconds(5.5)) for v in e["variations"]}
    warnings = [m["log"]["message"] for m in second.of_type("LOG")
                if m["log"]["level"] == "WARN" and "report time zone changed" in m["log"]["message"]]
    assert sorted(warning.split("'")[1] for warning in warnings) == sorted(streams), warnings
    for stream in streams:
        assert project_cursors(stream_state(second, stream), "utc_offset", parent="started_experiences") == {
            WEB_PROJECT_ID: seconds(5.5)}

    # The zone is recorded: a third sync in it reads only the window again, without a warning
    third = read(sim, streams, state=second.final_state(), report_lookback_days=LOOKBACK_DAYS, report_utc_offset_hours=5.5)
    assert not [m for m in third.of_type("LOG") if "report time zone changed" in m["log"]["message"]]
    assert len(report_requests(third, "aggregated_report")) < len(experiences)


def test_a_ran_until_at_midnight_opens_the_window_on_the_day_before(fresh_sim):
    """The simulator's default data clock is a midnight (2026-11-01T00:00Z), so the first sync saves a
    ran_until exactly at a day boundary: it ended 2026-10-31, and with the lookback 0 that day is read again."""
    sim = fresh_sim
    first = read(sim, ["daily_reports"], report_lookback_days=0, daily_report_metrics=["conversion_rate"])
    saved = project_cursor(stream_state(first, "daily_reports"), "ran_until", parent="started_experiences")
    assert saved % DAY == 0, "the data clock is a midnight"
    second = read(sim, ["daily_reports"], state=first.final_state(), report_lookback_days=0,
                  daily_report_metrics=["conversion_rate"])
    day_before = local_date(saved - DAY, 0)
    assert {r.body["start_time"] for r in report_requests(second, "daily_report")} == {saved - 2 * DAY}  # its baseline day
    ran_that_day = {e["id"] for e in started(sim.dataset) if saved - DAY in sim.dataset.run_days(e)}
    assert ran_that_day and {key[0] for key in daily_by_key(second) if key[3] == day_before} == ran_that_day


# ----------------------------------------------------------------------------- the averages per order
AVERAGES = ("average_order_value", "average_products_per_order")


@pytest.mark.parametrize("reading", ["day", "running"])
def test_the_averages_per_order_when_configured_are_each_day_s_own_under_either_reading(reading):
    with ConvertSimulator(dataset=Dataset.generate(seed=SEED, experiences=12), daily_totals=reading) as server:
        run = read(server, ["daily_reports"], daily_report_metrics=list(AVERAGES))
        experiences = started(server.dataset)
        expected: Dict[tuple, Dict[str, Any]] = {}
        for exp in experiences:
            for goal_id in exp["goals"]:
                if is_revenue(server.dataset, goal_id):
                    for variation in exp["variations"]:
                        for day in server.dataset.run_days(exp, 0):
                            numbers = model.Totals(*cell(server, exp, variation, goal_id, day, 0))
                            for metric in AVERAGES:
                                expected[(exp["id"], goal_id, variation["id"], local_date(day, 0), metric)] = {
                                    "timestamp": day, "value": model.daily_value(metric, numbers), "visitors": numbers.visitors,
                                    "totals": model.daily_value(metric, numbers)}
    got = daily_by_key(run)
    assert expected and set(got) == set(expected)
    assert all(got[key]["totals"] == pytest.approx(numbers["totals"], abs=1e-6) and got[key]["value"] == numbers["value"]
               for key, numbers in expected.items())
    assert any(row["totals"] > 0 for row in got.values())
# ----------------------------------------------------------------------------- what Convert may send instead
def test_a_report_without_metrics_gives_the_deprecated_numbers_with_one_warning():
    with ConvertSimulator(dataset=Dataset.generate(seed=SEED, experiences=6), report_metrics="deprecated_only") as sim:
        run = read(sim, ["aggregated_reports"])
        expected = expected_aggregated(sim, 0, started(sim.dataset))
    got = aggregated_by_key(run.records_of("aggregated_reports"))
    conversion = {key: row for key, row in got.items() if key[3] == "conversion_rate"}
    assert conversion and {key[3] for key in got} == set(METRICS[:3])
    for key, row in conversion.items():
        truth = expected[key]
        assert (row["visitors"], row["metric_total"]) == (truth["visitors"], truth["metric_total"])
        assert row["metric_value"] == pytest.approx(truth["metric_value"], abs=1e-6)  # from a percentage, 4 decimals
    warnings = [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]
    assert len([w for w in warnings if "has no metrics[]" in w]) == 1


def test_an_unknown_metric_type_and_statistic_arrive_with_one_warning_each():
    with ConvertSimulator(dataset=Dataset.generate(seed=SEED, experiences=6), report_metrics="with_unknown") as sim:
        run = read(sim, ["aggregated_reports"])
        known = expected_aggregated(sim, 0, started(sim.dataset))
    got = aggregated_by_key(run.records_of("aggregated_reports"))
    unknown = {key for key in got if key[3] == statistics.UNKNOWN_METRIC}
    assert unknown and set(got) - unknown == set(known)
    assert all(got[key]["additional_statistics"] == {statistics.UNKNOWN_STATISTIC: 1.5} for key in known)
    warnings = [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]
    assert len([w for w in warnings if "does not know" in w]) == 2
