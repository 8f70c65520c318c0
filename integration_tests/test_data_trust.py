"""Data you can trust, through the real CLI against the simulator over HTTP.

1. A 404 for one experience is not a config error: its rows are skipped with one warning per stream,
   every other experience's rows arrive; a project the account does not have still fails the read
   once, before any stream, naming the project.
2. Daily numbers are the day's own: whether Convert's daily ``totals`` are the day's own numbers or
   running totals, the rows are the same (the log says which reading was concluded); totals that
   fit neither reading fail the read, naming the experience, goal and metric.
3. The lookback window has one start: an experience that stopped on the window's first day is read
   again (its days inside the window too), one that stopped before the window costs no request.
4. Edits inside an experience (logged only in its own history) arrive whatever its status, at a
   bounded cost.
5. Ask once: each project's newest change-history event, and its started experiences, once per sync.

Every expected value is derived from the simulator's dataset and report model (``ReportModel.cell``,
the numbers the simulator serves) or from the first sync's saved state, never from the connector's
output.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional

import pytest

from integration_tests.harness import (
    ConnectorRun,
    configured_catalog,
    daily_by_key,
    experience_of,
    project_cursor,
    report_requests,
    run_connector,
    state_of,
)
from simulator import DAY, DEFAULT_NOW, WEB_PROJECT_ID, ConvertSimulator, Dataset
from simulator import reports as model
from simulator.dataset import local_day_start

SEED = 7
EXPERIENCES = 30
LOOKBACK_DAYS = 3
REPORTS = ["aggregated_reports", "daily_reports"]
CHANGE_DRIVEN = ["experiences", "experience_details", "variations", "goals", "audiences", "locations"]
ALL_METRICS = ("conversion_rate", "avg_revenue_per_visitor", "avg_products_ordered_per_visitor")
EDITABLE_STATUSES = ["draft", "active", "paused", "completed", "scheduled"]
PROJECT_PATH = re.compile(r"/projects/(\d+)/")
CDK_SUMMARY = "During the sync, the following streams did not sync successfully"
TOTALS_LOG = "Convert's daily `totals` are "
READING_WORDS = {"day": "Convert's daily `totals` are each day's own numbers",
                 "running": "Convert's daily `totals` are running totals since the experience started"}


# ----------------------------------------------------------------------------- helpers
def new_sim(now: Optional[int] = None, experiences: int = EXPERIENCES, **options: Any) -> ConvertSimulator:
    dataset = Dataset.generate(seed=SEED, experiences=experiences, **({"now": now} if now is not None else {}))
    return ConvertSimulator(dataset=dataset, **options)


def read(sim: ConvertSimulator, streams: List[str], state: Optional[list] = None, ok: bool = True,
         **config: Any) -> ConnectorRun:
    """One read of ``streams`` (incremental), with the simulator's request log of just that read."""
    config.setdefault("report_lookback_days", LOOKBACK_DAYS)
    sim.reset_log()
    run = run_connector("read", sim.config(**config), configured_catalog(streams, incremental=streams), state=state)
    run.requests = list(sim.requests)  # type: ignore[attr-defined]
    if ok:
        assert run.returncode == 0 and not run.errors, (run.errors, run.stderr[-3000:])
        assert "Traceback" not in run.stderr
    return run


def logs(run: ConnectorRun, level: str) -> List[str]:
    return [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == level]


def requests_of(run: ConnectorRun) -> List[Any]:
    return run.requests  # type: ignore[attr-defined]






def project_of(request: Any) -> int:
    return int(PROJECT_PATH.search(request.path).group(1))


def iso(day_start: int) -> str:
    return dt.datetime.fromtimestamp(day_start, tz=dt.timezone.utc).date().isoformat()


def midnight_of(timestamp: int) -> int:
    return timestamp - timestamp % DAY


def started(sim: ConvertSimulator, project: int = WEB_PROJECT_ID) -> List[Dict[str, Any]]:
    with sim.dataset.lock:
        return [dict(e) for e in sim.dataset.started_experiences(project)]


def experiences(sim: ConvertSimulator, project: int = WEB_PROJECT_ID) -> List[Dict[str, Any]]:
    with sim.dataset.lock:
        return [dict(e) for e in sim.dataset.records(project, "experiences")]


def is_revenue(sim: ConvertSimulator, goal_id: int, project: int = WEB_PROJECT_ID) -> bool:
    return (sim.dataset.find(project, "goals", goal_id) or {}).get("type") == "revenue"


def metrics_of(sim: ConvertSimulator, goal_id: int) -> List[str]:
    return [m for m in ALL_METRICS if m == "conversion_rate" or is_revenue(sim, goal_id)]


def ran_until(sim: ConvertSimulator, exp: Mapping[str, Any]) -> int:
    """When the simulator says the experience last ran (its ``max_running_timestamp``)."""
    return exp["end_time"] or sim.dataset.now


def own_daily_rows(sim: ConvertSimulator, exps: Iterable[Mapping[str, Any]], first_day: str = "0000-00-00",
                   offset: int = 0) -> Dict[tuple, Dict[str, Any]]:
    """(experience, goal, variation, day, metric) -> the day's own numbers, from the simulator's report model,
    for run days (in the report time zone, ``offset`` seconds east of UTC) from ``first_day`` on."""
    rows: Dict[tuple, Dict[str, Any]] = {}
    for exp in exps:
        for day in sim.dataset.run_days(exp, offset):
            date = iso(day + offset)
            if date < first_day:
                continue
            for goal_id in exp["goals"]:
                revenue = is_revenue(sim, goal_id)
                for variation in exp["variations"]:
                    cell = sim.api.model.cell(exp["id"], variation["id"], variation["is_baseline"], goal_id, revenue,
                                              day, offset)
                    for metric in metrics_of(sim, goal_id):
                        rows[(exp["id"], goal_id, variation["id"], date, metric)] = {
                            "value": model.daily_value(metric, model.Totals(*cell)),
                            "visitors": cell.visitors,
                            "totals": model.daily_total(metric, model.Totals(*cell)),
                        }
    return rows




def assert_rows_are(got: Mapping[tuple, Mapping[str, Any]], expected: Mapping[tuple, Mapping[str, Any]]) -> None:
    assert set(got) == set(expected), (sorted(set(got) - set(expected))[:5], sorted(set(expected) - set(got))[:5])
    wrong = [(key, {name: got[key][name] for name in numbers}, numbers) for key, numbers in expected.items()
             if {name: got[key][name] for name in numbers} != numbers]
    assert not wrong, f"{len(wrong)} rows differ from the simulator's own numbers, e.g. {wrong[:3]}"


def aggregated_expected(sim: ConvertSimulator, exp: Mapping[str, Any], offset: int = 0) -> Dict[tuple, tuple]:
    """(experience, goal, variation) -> (visitors, conversions, revenue, products) over every run day."""
    days = sim.dataset.run_days(exp, offset)
    out = {}
    for goal_id in exp["goals"]:
        for variation in exp["variations"]:
            totals = sim.api.model.totals(exp["id"], variation, goal_id, is_revenue(sim, goal_id), days, offset)
            out[(exp["id"], goal_id, variation["id"])] = tuple(totals)
    return out


def aggregated_by_key(run: ConnectorRun) -> Dict[tuple, tuple]:
    """(experience, goal, variation) -> (visitors, conversions, revenue, products) from the metric rows (revenue
    and products: 0 where the goal has no revenue metrics)."""
    rows = run.records_of("aggregated_reports")
    by_metric = {(r["experience_id"], r["goal_id"], r["variation_id"], r["metric"]): r for r in rows}
    assert len(by_metric) == len(rows), "an aggregated row was delivered twice"

    def total(key: tuple, metric: str) -> Any:
        row = by_metric.get(key + (metric,))
        return row["metric_total"] if row else 0

    return {key[:3]: (row["visitors"], row["metric_total"], total(key[:3], "avg_revenue_per_visitor"),
                      total(key[:3], "avg_products_ordered_per_visitor"))
            for key, row in by_metric.items() if key[3] == "conversion_rate"}


def saved_ran_until(run: ConnectorRun, stream: str, project: int = WEB_PROJECT_ID) -> int:
    """The project's ``ran_until`` that the report stream's state keeps for the next sync."""
    return project_cursor(state_of(run, stream), "ran_until", project, parent="started_experiences")


def history(sim: ConvertSimulator, project: int = WEB_PROJECT_ID) -> List[Dict[str, Any]]:
    with sim.dataset.lock:
        return [dict(e) for e in sim.dataset.records(project, "change-history")]


@pytest.fixture(scope="module")
def sim() -> Iterator[ConvertSimulator]:
    """A simulator with default options for tests that only read (each resets the request log)."""
    with new_sim() as server:
        yield server


# ----------------------------------------------------------------------------- 1. a 404 is not a config error
def test_a_404_for_one_experience_skips_only_its_rows_with_one_warning_per_stream():
    dataset = Dataset.generate(seed=SEED, experiences=EXPERIENCES)
    vanished = next(e["id"] for e in dataset.started_experiences() if not e["end_time"])  # read by both streams
    with ConvertSimulator(dataset=dataset, vanished_experiences={vanished}) as server:
        # The experience is still listed: the connector partitions it and gets 404s for its report calls
        assert vanished in {e["id"] for e in started(server)}
        run = read(server, REPORTS)
        all_started = {e["id"] for e in started(server)}
        for stream, kind in (("aggregated_reports", "aggregated_report"), ("daily_reports", "daily_report")):
            delivered = {r["experience_id"] for r in run.records_of(stream)}
            assert delivered == all_started - {vanished}, stream
            answered = Counter(r.status for r in report_requests(run, kind) if experience_of(r) == vanished)
            assert answered and set(answered) == {404}, "the vanished experience was asked and answered 404"
        # the other experiences' rows are whole: every day, goal, variation and metric, Convert's numbers
        assert_rows_are(daily_by_key(run), own_daily_rows(server, [e for e in started(server) if e["id"] != vanished]))
        warnings = [w for w in logs(run, "WARN") if re.search(rf"\b{vanished}\b", w)]
        assert sorted(w.split(":")[0] for w in warnings) == ["Stream 'aggregated_reports'", "Stream 'daily_reports'"], warnings
        assert all("not found" in w and "404" in w for w in warnings)


@pytest.mark.parametrize("listed", ["{missing}", "200002, {missing}"], ids=["alone", "in-a-list"])
def test_a_project_the_account_does_not_have_fails_the_read_once_before_any_stream(sim, listed):
    missing = str(max(sim.dataset.projects) + 1)
    assert int(missing) not in sim.dataset.projects
    run = read(sim, REPORTS + ["experiences"], ok=False, project_id=listed.format(missing=missing))
    assert run.returncode == 1
    assert len(run.errors) == 1, run.errors
    (error,) = run.errors
    assert error["failure_type"] == "config_error"
    assert f"Project {missing} is not among the projects of account" in error["message"]
    assert not run.records and not run.states
    # the pre-read check: one request, the account's projects list; no stream started
    assert [(r.method, r.path) for r in requests_of(run)] == [("POST", "/api/v2/accounts/100001/projects")]
    assert "Traceback" not in run.stdout + run.stderr


# ----------------------------------------------------------------------------- 2. the day's own numbers
@pytest.fixture(scope="module")
def daily_first_syncs() -> Dict[str, Any]:
    """A first sync of daily_reports under each reading of ``totals``, each with its simulator's dataset."""
    runs = {}
    for reading in ("day", "running"):
        with new_sim(daily_totals=reading) as server:
            runs[reading] = (read(server, ["daily_reports"]), server)
    return runs


@pytest.mark.parametrize("reading", ["day", "running"])
def test_daily_rows_are_the_day_s_own_numbers_under_either_reading_of_totals(daily_first_syncs, reading):
    run, server = daily_first_syncs[reading]
    assert_rows_are(daily_by_key(run), own_daily_rows(server, started(server)))
    told = [line for line in logs(run, "INFO") if TOTALS_LOG in line]
    assert len(told) == 1 and READING_WORDS[reading] in told[0], told


def test_both_readings_of_totals_give_identical_rows(daily_first_syncs):
    day, running = (daily_first_syncs[reading][0] for reading in ("day", "running"))
    assert daily_by_key(day) == daily_by_key(running)
    assert len(daily_by_key(day)) > 1000


def test_totals_that_fit_neither_reading_fail_the_read_naming_each_report_s_experience_goal_and_metric():
    with new_sim(daily_totals="broken") as server:
        run = read(server, ["daily_reports"], ok=False, max_concurrent_requests=1)
        asked = {(experience_of(r), r.body["goal"], r.body["metric"]) for r in report_requests(run, "daily_report")
                 if r.status == 200}
    assert run.returncode != 0
    assert not run.records_of("daily_reports"), "no report of this account can be read: not one row"
    assert "Traceback" not in run.stderr
    failures = [e for e in run.errors if not e["message"].startswith(CDK_SUMMARY)]
    pattern = re.compile(r"Stream 'daily_reports': cannot tell how to read the daily `totals` Convert answered for "
                         r"experience (\d+), goal (\d+), metric (\w+) ")
    named = [pattern.match(e["message"]) for e in failures]
    assert failures and all(named), [e["message"][:300] for e in failures]
    assert all((int(m.group(1)), int(m.group(2)), m.group(3)) in asked for m in named)
    assert {e["failure_type"] for e in failures} == {"system_error"}
    # Each report that fits no reading is its own error (the CDK reports each failed partition): none twice.
    assert len({m.group(0) for m in named}) == len(failures), [m.group(0) for m in named]


def test_an_incremental_sync_under_running_totals_gives_the_day_s_own_numbers_for_the_re_read_days():
    with new_sim(daily_totals="running") as server:
        first = read(server, ["daily_reports"])
        saved = saved_ran_until(first, "daily_reports")
        assert saved == server.dataset.now, "the newest time any experience ran"
        server.dataset.advance(1)
        second = read(server, ["daily_reports"], state=first.final_state())

        window_start = saved - LOOKBACK_DAYS * DAY
        first_day_start = midnight_of(window_start - 1)  # an end instant: at a midnight (as here) it ends the day before
        first_day = iso(first_day_start)
        baseline = iso(first_day_start - DAY)
        read_again = [e for e in started(server) if not e["end_time"] or ran_until(server, e) > first_day_start]
        got = daily_by_key(second)
        assert_rows_are(got, own_daily_rows(server, read_again, first_day))
        # every request started at the baseline day, which is never delivered
        requests = report_requests(second, "daily_report")
        assert requests and {r.body["start_time"] for r in requests} == {first_day_start - DAY}
        assert baseline not in {key[3] for key in got}
        assert iso(server.dataset.today) in {key[3] for key in got}, "the day the data clock moved on"
        # on the first re-read day the baseline gives the running totals to subtract: not zero for a running experience
        assert any(key[3] == first_day and key[4] == "conversion_rate" and row["totals"] > 0 for key, row in got.items())
        told = [line for line in logs(second, "INFO") if TOTALS_LOG in line]
        assert len(told) == 1 and READING_WORDS["running"] in told[0], told


# ----------------------------------------------------------------------------- 3. one window start
@pytest.mark.parametrize("hours", [0, 5.5], ids=["utc", "utc+05:30"])
def test_the_lookback_window_has_one_start_for_experiences_and_days(hours):
    # A data clock in the afternoon: the window's first day begins hours before the instant saved
    # ran_until minus the lookback, so "ran on the window's first day" and "ran at or after the window
    # start instant" are not the same experiences. Days are days of the report time zone.
    offset = int(hours * 3600)
    now = DEFAULT_NOW + 15 * 3600
    with new_sim(now=now) as server:
        predicted = local_day_start(now - LOOKBACK_DAYS * DAY, offset)  # the newest ran_until is now (running experiences)
        stopped = sorted((e for e in started(server) if e["status"] == "completed"
                          and e["start_time"] < predicted - 10 * DAY), key=lambda e: e["id"])
        on_first_day, before_window = stopped[0]["id"], stopped[1]["id"]
        server.dataset.update_experience(on_first_day, end_time=predicted + 3600)
        server.dataset.update_experience(before_window, end_time=predicted - 3600)

        first = read(server, REPORTS, report_utc_offset_hours=hours)
        # The times come from the first sync's state
        saved = {stream: saved_ran_until(first, stream) for stream in REPORTS}
        assert len(set(saved.values())) == 1, saved
        window_start = saved["daily_reports"] - LOOKBACK_DAYS * DAY
        first_day_start = local_day_start(window_start, offset)
        first_day = iso(first_day_start + offset)
        assert first_day_start == predicted
        by_id = {e["id"]: e for e in started(server)}
        assert first_day_start <= ran_until(server, by_id[on_first_day]) < window_start, "the case that tells the starts apart"
        assert ran_until(server, by_id[before_window]) < first_day_start

        server.dataset.advance_days(1)
        second = read(server, REPORTS, state=first.final_state(), report_utc_offset_hours=hours)

    # Read again: every running experience and every one that ran on a day inside the window
    wanted = {e["id"] for e in by_id.values() if not e["end_time"] or ran_until(server, e) >= first_day_start}
    assert on_first_day in wanted and before_window not in wanted
    assert len(wanted) < len(by_id), "experiences that stopped before the window cost no request"
    aggregated = report_requests(second, "aggregated_report")
    assert Counter(experience_of(r) for r in aggregated) == Counter(wanted)
    daily = report_requests(second, "daily_report")
    assert Counter((experience_of(r), r.body["goal"], r.body["metric"]) for r in daily) == Counter(
        (i, goal, metric) for i in wanted for goal in by_id[i]["goals"] for metric in metrics_of(server, goal))
    assert not [r for r in requests_of(second) if f"/experiences/{before_window}/" in r.path]

    # Their days inside the window come again (for on_first_day: its last day, the window's first day)
    got = daily_by_key(second)
    assert_rows_are(got, own_daily_rows(server, [by_id[i] for i in sorted(wanted)], first_day, offset))
    assert {key[3] for key in got if key[0] == on_first_day} == {first_day}
    assert {r.body["start_time"] for r in daily} == {first_day_start - DAY}, "from the baseline day before the window"
    expected_totals = {key: value for i in wanted for key, value in aggregated_expected(server, by_id[i], offset).items()}
    got_totals = aggregated_by_key(second)
    assert set(got_totals) == set(expected_totals)
    for key, (visitors, conversions, revenue, products) in expected_totals.items():
        assert got_totals[key][:2] == (visitors, conversions) and got_totals[key][3] == products, key
        assert got_totals[key][2] == pytest.approx(revenue, abs=0.5), key  # published as an integer


# ----------------------------------------------------------------------------- 4. edits inside an experience
def test_edits_logged_only_in_an_experience_s_own_history_arrive_whatever_its_status_at_a_bounded_cost():
    streams = ["variations", "experience_details"]
    with new_sim(experiences=120) as server:  # more editable experiences than one page holds
        assert not server.experience_edits_in_project_history
        first = read(server, streams)
        cursors = {stream: project_cursor(state_of(first, stream), "timestamp", parent="object_changes") for stream in streams}
        assert len(set(cursors.values())) == 1
        saved = cursors["variations"]

        exps = experiences(server)
        paused = next(e for e in exps if e["status"] == "paused")
        draft = next(e for e in exps if e["status"] == "draft")
        archived = {e["id"] for e in exps if e["status"] == "archived"}
        assert archived
        edited = {exp["id"]: server.dataset.edit_variation(exp["id"]) for exp in (paused, draft)}
        # logged in the experiences' own histories only: the project history names nothing new
        assert all(e["timestamp"] <= saved for e in history(server))
        assert all(server.dataset.experience_events(i)[-1]["object_id"] == v["id"] for i, v in edited.items())
        second = read(server, streams, state=first.final_state())
        exps = experiences(server)

    editable = {e["id"] for e in exps if e["status"] in EDITABLE_STATUSES}
    events = [e for e in history(server) if e["timestamp"] >= saved]  # the saved second is read again
    named = {e["object_id"] for e in events if e["object"] == "experience"}
    delivered = {"variations": {r["experience_id"] for r in second.records_of("variations")},
                 "experience_details": {r["id"] for r in second.records_of("experience_details")}}
    for stream in streams:
        assert delivered[stream] == editable | named, stream
        assert not (delivered[stream] & archived) - named, "an archived experience is not re-read"
    variations = {(r["experience_id"], r["id"]): r for r in second.records_of("variations")}
    details = {r["id"]: r for r in second.records_of("experience_details")}
    for experience_id, variation in edited.items():
        assert variation["name"].endswith(" (edited)")
        assert variations[(experience_id, variation["id"])]["name"] == variation["name"]
        in_details = {v["id"]: v["name"] for v in details[experience_id]["variations"]}
        assert in_details[variation["id"]] == variation["name"]

    # The cost: one project-history page (shared), per stream the named experiences in batches of 50
    # (asked only in the statuses the refresh does not cover) and the editable experiences' pages; Convert's newest event once for the sync if a history
    # page had no event; and the check before the read (the account's projects list).
    requests = requests_of(second)
    refresh = [r for r in requests if r.path.endswith("/experiences") and (r.body or {}).get("status") == EDITABLE_STATUSES]
    only = [r for r in requests if r.path.endswith("/experiences") and (r.body or {}).get("only")]
    histories = [r for r in requests if r.path.endswith("/change-history") and (r.body or {}).get("objects") == ["experience"]]
    newest = [r for r in requests if r.path.endswith("/change-history") and (r.body or {}).get("results_per_page") == 1]
    projects = [r for r in requests if r.path == "/api/v2/accounts/100001/projects"]
    pages = math.ceil(len(editable) / 50)
    assert pages > 1
    assert len(refresh) == len(streams) * pages
    # experience_details asks for stats, variations does not: each stream reads its pages once
    assert Counter(("stats" in r.body["include"], r.body["page"]) for r in refresh) == Counter(
        {(details, page): 1 for details in (True, False) for page in range(1, pages + 1)})
    assert len(only) == len(streams) * math.ceil(len(named) / 50)
    # the two streams' cursors agree: one read of the project's experience history serves both
    assert len(histories) == max(1, math.ceil(len([e for e in events if e["object"] == "experience"]) / 50))
    assert len(newest) == (0 if named else 1)
    assert len(projects) == 1
    assert len(requests) == len(refresh) + len(only) + len(histories) + len(newest) + len(projects), \
        [(r.path, r.body) for r in requests]


# ----------------------------------------------------------------------------- 5. ask once
def test_a_first_sync_asks_each_project_s_newest_history_event_once(sim):
    run = read(sim, CHANGE_DRIVEN, project_id="*")
    projects = sorted(sim.dataset.projects)
    assert len(projects) >= 3
    newest = [r for r in requests_of(run) if r.path.endswith("/change-history") and (r.body or {}).get("results_per_page") == 1]
    assert Counter(project_of(r) for r in newest) == Counter({project: 1 for project in projects})
    # that one answer is every change-driven stream's cursor, per project
    for stream in CHANGE_DRIVEN:
        for project in projects:
            expected = max(e["timestamp"] for e in history(sim, project))
            assert project_cursor(state_of(run, stream), "timestamp", project, parent="object_changes") == expected, stream


def test_a_read_of_both_report_streams_lists_each_project_s_started_experiences_once(sim):
    run = read(sim, REPORTS, project_id="*")
    projects = sorted(sim.dataset.projects)
    lists = [r for r in requests_of(run) if r.path.endswith("/experiences")
             and "max_running_timestamp" in ((r.body or {}).get("include") or [])]
    listed = {project: [e for e in experiences(sim, project) if e["status"] != "deleted"] for project in projects}
    assert Counter(project_of(r) for r in lists) == Counter(
        {project: max(1, math.ceil(len(listed[project]) / 50)) for project in projects})
    assert Counter((project_of(r), r.body.get("page")) for r in lists) == Counter(
        {(project, page): 1 for project in projects for page in range(1, max(1, math.ceil(len(listed[project]) / 50)) + 1)})
    every_started = {e["id"] for project in projects for e in started(sim, project)}
    for stream in REPORTS:
        assert {r["experience_id"] for r in run.records_of(stream)} == every_started, stream
