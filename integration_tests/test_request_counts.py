"""Exact request counts per stream, through the real CLI against the simulator.

Every expected number is computed from the simulator's dataset. Each test reads one stream (a full
refresh without state, i.e. a first sync) after ``sim.reset_log()`` and compares the simulator's
request log with the fewest requests that can return every record:

- a paged list of N records: ceil(N / 50) requests (one for an empty list) when Convert reports
  ``items_count``; without it, one extra request only when the last page is full; a list driven by
  the change history first asks for its project's newest history event (one request per project and
  sync, shared by every such list), its cursor;
- report streams: the pages of the started-experiences parent list (read once per sync for every report
  stream), plus exactly one request per
  started experience (aggregated) or per goal and applicable metric of a started experience (daily), and none for
  experiences that never ran; segment_reports: one per started experience and segment value, its
  unfiltered report (shared with aggregated_reports), one report settings GET for campaigns.

These are counts, not timings, so they are stable in CI.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any, Dict, List, Tuple

import pytest

from integration_tests.harness import configured_catalog, daily_metrics, run_connector
from simulator import ACCOUNT_ID, BLOG_PROJECT_ID, WEB_PROJECT_ID, ConvertSimulator, Dataset, segments
from source_convert.components.report_vocabulary import SEGMENT_VALUES

PAGE = 50
SEED = 7
# Sizes chosen to sit on page boundaries: 120 = 2 full pages + 20, 51 = one page + 1, 50 = one full page.
SIZES = dict(experiences=120, knowledge_bases=51, observations=50)
LIST_STREAMS = {  # stream -> collection in the dataset and in the URL
    "experiences": "experiences",
    "experience_details": "experiences",
    "goals": "goals",
    "audiences": "audiences",
    "locations": "locations",
    "hypotheses": "hypotheses",
    "knowledge_bases": "knowledge-bases",
    "observations": "observations",
    "features": "features",
    "tags": "tags",
    "domains": "domains",
    "change_history": "change-history",
}
CHANGE_DRIVEN = {"experiences", "experience_details", "goals", "audiences", "locations"}
REPORT_PATH = re.compile(r"/experiences/(\d+)/(?P<kind>aggregated_report|daily_report|daily_traffic_allocation)$")


# ----------------------------------------------------------------------------- helpers
def pages_with_count(records: int) -> int:
    """Requests for ``records`` when the total is known: no trailing empty page, one call for nothing."""
    return max(1, math.ceil(records / PAGE))


def pages_without_count(records: int) -> int:
    """Requests when only a short page can end the list: one more when the last page is full."""
    return records // PAGE + 1


def collection(sim: ConvertSimulator, kind: str, project: int = WEB_PROJECT_ID) -> List[Dict[str, Any]]:
    with sim.dataset.lock:
        return sim.dataset.records(project, kind)


def started(sim: ConvertSimulator) -> List[Dict[str, Any]]:
    with sim.dataset.lock:
        return sim.dataset.started_experiences()


def read_one(sim: ConvertSimulator, stream: str, **config: Any) -> Tuple[int, list]:
    """Read one stream with a fresh request log; return (records of the stream, logged requests)."""
    run, requests = read_streams(sim, [stream], **config)
    return len(run.records_of(stream)), requests


def read_streams(sim: ConvertSimulator, streams: List[str], **config: Any) -> Tuple[Any, list]:
    """Read ``streams`` in one sync with a fresh request log; return (the run, requests after the check)."""
    sim.reset_log()
    run = run_connector("read", sim.config(**config), configured_catalog(streams), timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not run.errors, run.errors
    # A read starts with the check of the configured projects (the account's projects list, one page
    # here; see SourceConvert.ensure_usable): one request before any stream, not part of this stream's count.
    assert pages_with_count(len(sim.dataset.projects)) == 1
    check, requests = sim.requests[0], sim.requests[1:]
    assert check.path.endswith(f"/accounts/{ACCOUNT_ID}/projects") and check.body.get("page") == 1, check
    assert all(r.status == 200 for r in [check, *requests]), Counter(r.status for r in requests)
    if "max_concurrent_requests" in config:
        assert sim.peak_in_flight <= config["max_concurrent_requests"]
    return run, requests


def assert_pages(requests: list, path_suffix: str, expected_pages: int) -> None:
    """Every request is a POST to the list, pages 1..n in order, 50 results a page."""
    assert [r.method for r in requests] == ["POST"] * len(requests)
    assert all(r.path.endswith(path_suffix) for r in requests), {r.path for r in requests}
    assert [r.body.get("page") for r in requests] == list(range(1, expected_pages + 1))
    assert {r.body.get("results_per_page") for r in requests} == {PAGE}


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def sim():
    with ConvertSimulator(dataset=Dataset.generate(seed=SEED, **SIZES)) as server:
        yield server


@pytest.fixture(scope="module")
def sim_100():
    """100 experiences: the last page is full."""
    with ConvertSimulator(dataset=Dataset.generate(seed=SEED, experiences=100)) as server:
        yield server


@pytest.fixture(scope="module")
def sim_no_count_100():
    with ConvertSimulator(dataset=Dataset.generate(seed=SEED, experiences=100), pagination_count=False) as server:
        yield server


@pytest.fixture(scope="module")
def sim_no_count_120():
    with ConvertSimulator(dataset=Dataset.generate(seed=SEED, experiences=120), pagination_count=False) as server:
        yield server


@pytest.fixture(scope="module")
def sim_drafts():
    """Only experiences that never ran (drafts, no start time)."""
    dataset = Dataset.generate(seed=SEED, experiences=0)
    for _ in range(3):
        dataset.add_experience(status="draft")
    with ConvertSimulator(dataset=dataset) as server:
        yield server


# ----------------------------------------------------------------------------- paged lists
@pytest.mark.parametrize("stream", sorted(LIST_STREAMS))
def test_paged_list_costs_ceil_n_over_50(sim, stream):
    kind = LIST_STREAMS[stream]
    expected_records = len(collection(sim, kind))
    records, requests = read_one(sim, stream)
    assert records == expected_records
    if stream in CHANGE_DRIVEN:
        probe, requests = requests[0], requests[1:]
        assert probe.path.endswith("/change-history") and probe.body["results_per_page"] == 1
    assert len(requests) == pages_with_count(expected_records)
    assert_pages(requests, f"/projects/{WEB_PROJECT_ID}/{kind}", pages_with_count(expected_records))
    if stream == "experience_details":
        assert all("stats" in r.body.get("include", []) for r in requests)  # details, not the plain list


def test_experience_details_cost_one_request_per_50_experiences(sim_100):
    """(120 experiences are covered by the parametrized test above.)"""
    count = len(collection(sim_100, "experiences"))
    records, requests = read_one(sim_100, "experience_details")
    requests = requests[1:]  # after the newest-history-event probe
    assert records == count
    assert len(requests) == math.ceil(count / PAGE)
    assert all("stats" in r.body.get("include", []) for r in requests)  # details, not the plain list


def test_full_last_page_costs_no_extra_request_when_count_is_known(sim_100):
    count = len(collection(sim_100, "experiences"))
    assert count % PAGE == 0
    records, requests = read_one(sim_100, "experiences")
    requests = requests[1:]  # after the newest-history-event probe
    assert records == count
    assert len(requests) == count // PAGE
    assert_pages(requests, "/experiences", count // PAGE)


def test_without_count_one_extra_request_only_after_a_full_last_page(sim_no_count_100, sim_no_count_120):
    for server in (sim_no_count_100, sim_no_count_120):
        count = len(collection(server, "experiences"))
        records, requests = read_one(server, "experiences")
        assert records == count
        assert len(requests) - 1 == pages_without_count(count)  # after the newest-history-event probe


@pytest.mark.parametrize("stream, method, path", [
    ("account", "GET", "/details"),
    ("collaborators", "GET", "/users-accesses"),
    ("projects", "POST", "/projects"),
])
def test_account_level_streams_cost_one_request(sim, stream, method, path):
    expected = {"account": 1, "collaborators": len(sim.dataset.users_accesses), "projects": len(sim.dataset.projects)}
    records, requests = read_one(sim, stream)
    assert records == expected[stream]
    assert len(requests) == (1 if stream != "projects" else pages_with_count(len(sim.dataset.projects)))
    assert [(r.method, r.path.endswith(path)) for r in requests] == [(method, True)] * len(requests)


def test_change_driven_streams_of_one_sync_share_one_newest_event_request_per_project(sim):
    """Each project's newest history event is read once per sync, whichever change-driven streams need it."""
    projects = [WEB_PROJECT_ID, BLOG_PROJECT_ID]
    streams = sorted(CHANGE_DRIVEN | {"variations"})
    run, requests = read_streams(sim, streams, project_id=", ".join(str(p) for p in projects))
    expected: Counter = Counter()
    for project in projects:
        expected[f"/projects/{project}/change-history"] = 1
        for stream in streams:
            kind = LIST_STREAMS.get(stream, "experiences")
            expected[f"/projects/{project}/{kind}"] += pages_with_count(len(collection(sim, kind, project)))
            got = Counter(r["project_id"] for r in run.records_of(stream) if stream != "variations")
            if stream != "variations":
                assert got[project] == len(collection(sim, kind, project)), (stream, project)
    assert Counter(r.path.split(f"/accounts/{ACCOUNT_ID}")[1] for r in requests) == expected
    probes = [r for r in requests if r.path.endswith("/change-history")]
    assert {r.body["results_per_page"] for r in probes} == {1}


# ----------------------------------------------------------------------------- reports
def split_report_requests(requests: list) -> Tuple[list, list]:
    parent = [r for r in requests if not REPORT_PATH.search(r.path)]
    reports = [r for r in requests if REPORT_PATH.search(r.path)]
    return parent, reports


def test_aggregated_reports_one_request_per_started_experience(sim):
    ran = started(sim)
    count = len(collection(sim, "experiences"))
    _, requests = read_one(sim, "aggregated_reports", max_concurrent_requests=2)
    parent, reports = split_report_requests(requests)
    assert_pages(parent, "/experiences", pages_with_count(count))
    assert len(reports) == len(ran)
    assert len(requests) == pages_with_count(count) + len(ran)
    requested = Counter(int(REPORT_PATH.search(r.path).group(1)) for r in reports)
    assert requested == Counter(e["id"] for e in ran)  # each started experience exactly once, no others


def test_daily_reports_one_request_per_started_experience_goal_and_metric(sim):
    ran = started(sim)
    count = len(collection(sim, "experiences"))
    _, requests = read_one(sim, "daily_reports", max_concurrent_requests=2)
    parent, reports = split_report_requests(requests)
    expected_pairs = Counter((e["id"], goal, metric) for e in ran for goal in e.get("goals") or [] for metric in daily_metrics(sim.dataset, goal, WEB_PROJECT_ID))
    assert_pages(parent, "/experiences", pages_with_count(count))
    assert len(reports) == sum(expected_pairs.values())
    assert len(requests) == pages_with_count(count) + sum(expected_pairs.values())
    requested = Counter((int(REPORT_PATH.search(r.path).group(1)), r.body["goal"], r.body["metric"]) for r in reports)
    assert requested == expected_pairs


def test_daily_traffic_allocation_one_request_per_started_experience(sim):
    ran = started(sim)
    count = len(collection(sim, "experiences"))
    _, requests = read_one(sim, "daily_traffic_allocation", max_concurrent_requests=2)
    parent, reports = split_report_requests(requests)
    assert_pages(parent, "/experiences", pages_with_count(count))
    assert len(requests) == pages_with_count(count) + len(ran)
    requested = Counter(int(REPORT_PATH.search(r.path).group(1)) for r in reports)
    assert requested == Counter(e["id"] for e in ran)
    assert {REPORT_PATH.search(r.path).group("kind") for r in reports} == {"daily_traffic_allocation"}
    assert all(set(r.body) == {"utc_offset", "start_time", "end_time"} for r in reports), "a time range only"


def test_both_report_streams_of_one_sync_read_the_started_experiences_once(sim):
    ran = started(sim)
    count = len(collection(sim, "experiences"))
    run, requests = read_streams(sim, ["aggregated_reports", "daily_reports"], max_concurrent_requests=2)
    parent, reports = split_report_requests(requests)
    assert_pages(parent, f"/projects/{WEB_PROJECT_ID}/experiences", pages_with_count(count))
    daily = Counter((e["id"], goal, metric) for e in ran for goal in e.get("goals") or []
                    for metric in daily_metrics(sim.dataset, goal, WEB_PROJECT_ID))
    requested = Counter((int(REPORT_PATH.search(r.path).group(1)), REPORT_PATH.search(r.path).group(2),
                         r.body.get("goal"), r.body.get("metric")) for r in reports)
    assert requested == Counter({(e["id"], "aggregated_report", None, None): 1 for e in ran}) + Counter(
        {(e, "daily_report", goal, metric): n for (e, goal, metric), n in daily.items()})


def segment_values(sim: ConvertSimulator, experience: Dict[str, Any], dimensions: List[str]) -> int:
    """Segment values read for one experience: the published enums, and the campaigns its report settings name."""
    return sum(len(segments.campaigns_of(sim.api.model.seed, experience["id"])) if dimension == "campaigns"
               else len(SEGMENT_VALUES[dimension]) for dimension in dimensions)


@pytest.mark.parametrize("with_aggregated", [True, False], ids=["with-aggregated_reports", "alone"])
def test_segment_reports_one_request_per_experience_and_segment_value(sim, with_aggregated):
    """Per started experience: one request per segment value, the unfiltered report (shared with
    aggregated_reports when both are read, else one more), one report settings GET for campaigns."""
    dimensions = ["visitor_types", "browsers", "campaigns"]
    ran = started(sim)
    count = len(collection(sim, "experiences"))
    streams = ["aggregated_reports", "segment_reports"] if with_aggregated else ["segment_reports"]
    _, requests = read_streams(sim, streams, max_concurrent_requests=2, report_segments=dimensions)
    settings = [r for r in requests if r.path.endswith("/report_settings")]
    parent, reports = split_report_requests([r for r in requests if r not in settings])
    assert_pages(parent, "/experiences", pages_with_count(count))
    filtered = Counter(int(REPORT_PATH.search(r.path).group(1)) for r in reports if "segments" in r.body)
    assert filtered == Counter({e["id"]: segment_values(sim, e, dimensions) for e in ran})
    assert Counter(int(REPORT_PATH.search(r.path).group(1)) for r in reports if "segments" not in r.body) == Counter(
        e["id"] for e in ran)
    assert Counter(r.path.split("/")[-2] for r in settings) == Counter(str(e["id"]) for e in ran)
    assert len(requests) == pages_with_count(count) + sum(2 + segment_values(sim, e, dimensions) for e in ran)


@pytest.mark.parametrize("stream", ["aggregated_reports", "daily_reports", "daily_traffic_allocation"])
def test_reports_make_no_request_for_experiences_that_never_ran(sim_drafts, stream):
    drafts = collection(sim_drafts, "experiences")
    assert drafts and not started(sim_drafts)
    records, requests = read_one(sim_drafts, stream)
    parent, reports = split_report_requests(requests)
    assert records == 0
    assert reports == []
    assert len(parent) == pages_with_count(len(drafts))


# ----------------------------------------------------------------------------- concurrency
def test_report_reads_use_but_never_exceed_the_configured_concurrency():
    """With some latency the connector keeps exactly max_concurrent_requests requests in flight."""
    with ConvertSimulator(dataset=Dataset.generate(seed=SEED, experiences=60), latency=0.05) as server:
        ran = started(server)
        _, requests = read_one(server, "aggregated_reports", max_concurrent_requests=4)
        assert len(requests) == pages_with_count(60) + len(ran)
        assert server.peak_in_flight == 4
