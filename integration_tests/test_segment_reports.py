"""segment_reports against the simulator: every row of every segment value equals the simulator's model of
that filtered report (both methodologies, all five metrics), the dimensions that split visitors add up,
the request count is the stated one, and a Convert that ignores the filter fails the sync naming the
dimension.

Expected values come from the simulator's model (``simulator/segments.py``, ``simulator/statistics.py``),
never from the connector's output.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Dict, List, Optional

import pytest

from integration_tests.harness import ConnectorRun, configured_catalog, experience_of, report_requests, run_connector
from integration_tests.test_reports import aggregated_by_key, assert_rows_are, expected_aggregated, started
from integration_tests.test_simulator import PRJ, call
from simulator import WEB_PROJECT_ID, ConvertSimulator, Dataset
from simulator import segments as model
from source_convert.components.report_vocabulary import METRICS, SEGMENT_DIMENSIONS, SEGMENT_VALUES

SEED = 7
EXPERIENCES = 8
COUNTRIES = ["US", "DE", "JP"]  # JP: no visitor of the simulator comes from there
STREAMS = ["aggregated_reports", "segment_reports"]


def read(sim: ConvertSimulator, streams: List[str], state: Optional[list] = None, ok: bool = True,
         **config: Any) -> ConnectorRun:
    sim.reset_log()
    run = run_connector("read", sim.config(**config), configured_catalog(streams, incremental=streams), state=state)
    if ok:
        assert run.returncode == 0 and not run.errors, (run.errors, run.stderr[-3000:])
    run.requests = list(sim.requests)  # type: ignore[attr-defined]
    return run


def values_of(sim: ConvertSimulator, experience: Dict[str, Any], dimension: str) -> List[Any]:
    """The values the connector should read for one experience: the simulator's report settings for campaigns
    and custom segments, the configured countries, the published enums."""
    if dimension == "campaigns":
        return model.campaigns_of(sim.api.model.seed, experience["id"])
    if dimension == "custom_segments":
        return sim.api.segmentation_audiences(WEB_PROJECT_ID)
    if dimension == "countries":
        return COUNTRIES
    return list(SEGMENT_VALUES[dimension])


@pytest.fixture(scope="module")
def sim():
    with ConvertSimulator(dataset=Dataset.generate(seed=SEED, experiences=EXPERIENCES)) as server:
        yield server


@pytest.fixture(scope="module")
def every_segment(sim):
    """One first sync of both streams with every dimension."""
    return read(sim, STREAMS, report_segments=list(SEGMENT_DIMENSIONS), report_segment_countries=COUNTRIES)


def segment_rows(run: ConnectorRun) -> Dict[tuple, Dict[tuple, Any]]:
    """(segment_type, segment_value) -> that value's rows by key."""
    grouped: Dict[tuple, list] = defaultdict(list)
    for row in run.records_of("segment_reports"):
        grouped[(row["segment_type"], row["segment_value"])].append(row)
    return {value: aggregated_by_key(rows) for value, rows in grouped.items()}


def test_every_segment_row_is_the_simulators_filtered_report(sim, every_segment):
    experiences = started(sim.dataset)
    got = segment_rows(every_segment)
    expected_values = {(dimension, str(value)) for exp in experiences for dimension in SEGMENT_DIMENSIONS
                       for value in values_of(sim, exp, dimension)}
    assert set(got) == expected_values
    for (dimension, value), rows in got.items():
        sent = int(value) if dimension == "custom_segments" else value
        wanted = [e for e in experiences if sent in values_of(sim, e, dimension)]
        assert_rows_are(rows, expected_aggregated(sim, 0, wanted, (dimension, sent)))
    everything = every_segment.records_of("segment_reports")
    assert {r["stats_methodology"] for r in everything} == {"frequentist", "bayesian"}
    assert {r["metric"] for r in everything} == set(METRICS)
    assert all(r["visitors"] == 0 for r in everything if r["segment_value"] == "JP")


def test_splitting_dimensions_add_up_and_device_categories_overlap(every_segment):
    unfiltered = aggregated_by_key(every_segment.records_of("aggregated_reports"))
    got = segment_rows(every_segment)
    for dimension in ("visitor_types", "sources", "browsers"):
        for key, row in unfiltered.items():
            assert sum(got[(dimension, value)][key]["visitors"] for value in SEGMENT_VALUES[dimension]) == row["visitors"]
            assert sum(got[(dimension, value)][key]["metric_total"] for value in SEGMENT_VALUES[dimension]) \
                == pytest.approx(row["metric_total"], abs=len(SEGMENT_VALUES[dimension]))  # revenue: integers
    for key in unfiltered:
        devices = {value: got[("devices", value)][key]["visitors"] for value in SEGMENT_VALUES["devices"]}
        assert devices["all_phones"] == devices["iPhone"] + devices["other_phones"]
        assert devices["all_tablets"] == devices["iPad"] + devices["other_tablets"]
        assert devices["desktop"] + devices["all_phones"] + devices["all_tablets"] == unfiltered[key]["visitors"]
    logs = [m["log"]["message"] for m in every_segment.of_type("LOG")]
    assert any("browsers: the values' visitors add up to the unfiltered visitors for" in message for message in logs)


def test_requests_are_one_per_experience_and_segment_value_plus_the_shared_unfiltered_report(sim, every_segment):
    experiences = started(sim.dataset)
    requests = report_requests(every_segment, "aggregated_report")
    filtered = Counter((experience_of(r), tuple(r.body["segments"])) for r in requests if "segments" in r.body)
    assert filtered == Counter({(e["id"], (dimension,)): len(values_of(sim, e, dimension))
                                for e in experiences for dimension in SEGMENT_DIMENSIONS
                                if values_of(sim, e, dimension)})
    assert all(len(values) == 1 for r in requests if "segments" in r.body for values in r.body["segments"].values())
    unfiltered = Counter(experience_of(r) for r in requests if "segments" not in r.body)
    assert unfiltered == Counter(e["id"] for e in experiences), "one unfiltered report per experience, for both streams"
    settings = [r for r in every_segment.requests if r.path.endswith("/report_settings")]
    assert Counter(r.method for r in settings) == Counter({"GET": len(experiences)})


def test_read_alone_the_stream_costs_one_unfiltered_report_per_experience(sim):
    run = read(sim, ["segment_reports"], report_segments=["visitor_types"])
    experiences = started(sim.dataset)
    requests = report_requests(run, "aggregated_report")
    assert len(requests) == len(experiences) * (1 + len(SEGMENT_VALUES["visitor_types"]))
    assert {r.body.get("segments", {}).get("visitor_types", [None])[0] for r in requests} == {None, "new", "returning"}
    assert not [r for r in run.requests if r.path.endswith("/report_settings")], "no report settings for enum dimensions"


def test_without_segments_the_stream_sends_no_request(sim):
    run = read(sim, ["segment_reports"])
    assert run.records_of("segment_reports") == []
    assert [r.path for r in run.requests if "/projects/" in r.path] == [], "only the account's projects list, as every sync"


def test_a_second_sync_reads_the_experiences_aggregated_reports_reads(sim, every_segment):
    second = read(sim, STREAMS, state=every_segment.final_state(), report_segments=["browsers"])
    requests = report_requests(second, "aggregated_report")
    unfiltered = {experience_of(r) for r in requests if "segments" not in r.body}
    segmented = {experience_of(r) for r in requests if "segments" in r.body}
    assert segmented == unfiltered == {r["experience_id"] for r in second.records_of("aggregated_reports")}
    assert len(unfiltered) < len(started(sim.dataset)), "experiences that stopped long ago cost no request"


def test_a_dimension_added_after_a_sync_is_read_for_every_started_experience_with_one_warning(sim):
    first = read(sim, ["segment_reports"], report_segments=["visitor_types"])
    experiences = {row["experience_id"] for row in first.records_of("segment_reports")}
    second = read(sim, ["segment_reports"], state=first.final_state(), report_segments=["visitor_types", "browsers"])
    browsers = defaultdict(set)
    for row in second.records_of("segment_reports"):
        if row["segment_type"] == "browsers":
            browsers[row["experience_id"]].add(row["segment_value"])
    assert experiences and browsers == {experience: set(SEGMENT_VALUES["browsers"]) for experience in experiences}
    warnings = [m["log"]["message"] for m in second.of_type("LOG")
                if m["log"]["level"] == "WARN" and "did not read" in m["log"]["message"]]
    assert len(warnings) == 1 and "report_segments has browsers" in warnings[0]
    third = read(sim, ["segment_reports"], state=second.final_state(), report_segments=["visitor_types", "browsers"])
    assert {row["experience_id"] for row in third.records_of("segment_reports")} < experiences, "then incremental again"


@pytest.mark.parametrize("dimension, config", [
    ("browsers", {}),
    ("visitor_types", {}),
    ("countries", {"report_segment_countries": ["US", "GB"]}),
])
def test_a_convert_that_ignores_the_filter_fails_the_sync_naming_the_dimension(dimension, config):
    with ConvertSimulator(dataset=Dataset.generate(seed=SEED, experiences=4), ignore_segments=True) as sim:
        run = read(sim, ["segment_reports"], ok=False, report_segments=[dimension], **config)
    assert run.returncode != 0
    assert run.records_of("segment_reports") == []
    messages = " ".join(error["message"] for error in run.errors)
    assert f"segment dimension '{dimension}'" in messages and "Convert ignored the segments filter" in messages


def test_the_simulator_honours_the_goals_metrics_and_segments_filters(sim):
    exp = next(e for e in started(sim.dataset) if len(e["goals"]) > 1)
    path = PRJ + f"/experiences/{exp['id']}/aggregated_report"
    whole = call(sim, "POST", path, {}).json()["data"]
    assert whole["stats_methodology"] in ("frequentist", "bayesian")
    goal = exp["goals"][1]
    narrowed = call(sim, "POST", path, {"goals": [goal], "metrics": ["conversion_rate"]}).json()["data"]
    assert [g["goal_id"] for g in narrowed["reportData"]] == [goal]
    assert all([m["metric_type"] for m in v["metrics"]] == ["conversion_rate"] for v in narrowed["reportData"][0]["variations"])
    visitors = {v["id"]: v["visitors"] for v in whole["reportData"][0]["variations"]}
    parts = [call(sim, "POST", path, {"segments": {"visitor_types": [value]}}).json()["data"] for value in ("new", "returning")]
    both = call(sim, "POST", path, {"segments": {"visitor_types": ["new", "returning"]}}).json()["data"]
    for variation in whole["reportData"][0]["variations"]:
        split = [next(v["visitors"] for v in part["reportData"][0]["variations"] if v["id"] == variation["id"]) for part in parts]
        assert sum(split) == visitors[variation["id"]] and all(0 < n < visitors[variation["id"]] for n in split)
    assert both["reportData"] == whole["reportData"], "values of one dimension are OR-ed"
    assert call(sim, "POST", path, {"segments": {"browsers": ["netscape"]}}).status_code == 422
    assert call(sim, "POST", path, {"segments": {"os": ["linux"]}}).status_code == 422
    assert call(sim, "POST", path, {"metrics": ["avg_revenue_per_visitor"]}).status_code == 422, "the daily name is not the aggregated one"
