"""Report components: day stamps in the report time zone, row flattening, ran_until, the partitions a
sync requests, and the migration of a daily state saved without the started experiences' cursor."""

import datetime as dt
import json
import logging

import pytest
import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components.aggregated_reports import AggregatedReportExtractor
from source_convert.components.reports import (
    DailyReportExtractor,
    ExperienceGoalMetricPartitionRouter,
    RanUntil,
    report_day,
    stopped_before,
)

MIDNIGHT = int(dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc).timestamp())  # 2026-11-01T00:00Z
HOUR = 3600
DAY = 86400


REPORT_URL = "https://api.convert.com/api/v2/accounts/1/projects/2/experiences/5/"
# From the baseline day 2026-10-31 on: 2026-11-01 is the first day delivered.
DAILY_BODY = {"goal": 11, "metric": "conversion_rate", "report_type": "non_cumulative", "utc_offset": 0,
              "start_time": MIDNIGHT - DAY}


def response(data, body=None, report="daily_report") -> requests.Response:
    """A 200 answer with ``{"data": data}`` to the report request the connector sent with ``body``."""
    answer = requests.Response()
    answer.status_code = 200
    answer._content = json.dumps({"data": data}).encode()
    answer.headers["Content-Type"] = "application/json"
    sent = body if body is not None else DAILY_BODY
    answer.request = requests.Request("POST", REPORT_URL + report, json=sent).prepare()
    return answer


@pytest.mark.parametrize(
    "timestamp, offset, day",
    [
        (MIDNIGHT, 0, "2026-11-01"),
        (MIDNIGHT * 1000, 0, "2026-11-01"),  # milliseconds
        (MIDNIGHT - 5 * HOUR - 1800, 19800, "2026-11-01"),  # the UTC instant of a UTC+05:30 midnight
        (MIDNIGHT + 5 * HOUR, -18000, "2026-11-01"),  # the UTC instant of a UTC-05:00 midnight
        (MIDNIGHT, 19800, "2026-11-01"),  # a local midnight written as if it were UTC
        (MIDNIGHT, -18000, "2026-11-01"),
        (MIDNIGHT + 20 * HOUR, -18000, "2026-11-01"),  # not a midnight: the local date of the instant
        (MIDNIGHT + 20 * HOUR, 19800, "2026-11-02"),
    ],
)
def test_report_day_reads_both_stamps_of_a_local_day(timestamp, offset, day):
    assert report_day(timestamp, offset) == day


@pytest.mark.parametrize("timestamp", [None, "1793491200", True, 0, -5, [MIDNIGHT], {"s": MIDNIGHT}])
def test_report_day_of_no_time_is_none(timestamp):
    assert report_day(timestamp, 0) is None


def test_daily_rows_carry_the_local_day_and_the_totals():
    extractor = DailyReportExtractor(parameters={"name": "daily_reports"}, config={}, utc_offset="19800")
    stats = [{"timestamp": MIDNIGHT - 19800, "value": 4.0, "visitors": 100, "totals": 4}]
    body = {**DAILY_BODY, "utc_offset": 19800, "start_time": MIDNIGHT - DAY - 19800}  # baseline day 2026-10-31
    rows = list(extractor.extract_records(response({"reportData": {"variations": [{"id": 1, "stats": stats}], "extra": []}}, body)))
    assert rows == [{"goal_id": 11, "variation_id": 1, "day": "2026-11-01", "timestamp": MIDNIGHT - 19800, "value": 4.0,
                     "visitors": 100, "totals": 4}]


def test_daily_rows_without_totals_keep_the_other_numbers():
    extractor = DailyReportExtractor(parameters={}, config={}, utc_offset=0)
    data = {"reportData": [{"goal_id": 11, "variations": [{"id": 1, "stats": [{"timestamp": MIDNIGHT, "value": 1.0, "visitors": 3}]}]}]}
    (row,) = extractor.extract_records(response(data))
    assert (row["day"], row["visitors"], row["totals"]) == ("2026-11-01", 3, None)


def test_aggregated_rows_join_the_variation_names():
    data = {
        "stats_methodology": "frequentist",
        "reportData": [{"goal_id": 11, "srm": False, "srm_pvalue": 0.4, "variations": [
            {"id": 1, "visitors": 10, "metrics": [{"metric_type": "conversion_rate", "metric_total": 1, "metric_value": 0.1}]},
            {"id": 2, "visitors": 10, "metrics": [{"metric_type": "avg_revenue_visitor", "metric_total": 20, "confidence": 60.0}]},
        ]}],
        "variations_data": [{"id": 1, "name": "Original", "is_baseline": True}, {"id": 2, "name": "B", "is_baseline": False}],
    }
    rows = list(AggregatedReportExtractor(parameters={}).extract_records(response(data, {"utc_offset": 0}, "aggregated_report")))
    assert [(r["variation_name"], r["is_baseline"], r["metric"], r["metric_total"]) for r in rows] == [
        ("Original", True, "conversion_rate", 1), ("B", False, "avg_revenue_per_visitor", 20)]
    assert (rows[1]["confidence"], rows[1]["goal_srm"], rows[1]["goal_srm_pvalue"], rows[1]["stats_methodology"]) == (
        60.0, False, 0.4, "frequentist")


SECRET_LOOKING = "value-that-must-not-be-echoed"
STAT = {"timestamp": MIDNIGHT, "value": 1.0, "visitors": 3}


def daily_rows(data, body=None):
    return list(DailyReportExtractor(parameters={"name": "daily_reports"}, config={}, utc_offset=0).extract_records(response(data, body)))


def aggregated_rows(data):
    return list(AggregatedReportExtractor(parameters={"name": "aggregated_reports"}).extract_records(
        response(data, {"utc_offset": 0}, "aggregated_report")))


def assert_fails_naming(extract, data, stream, report, *fragments):
    with pytest.raises(AirbyteTracedException) as raised:
        extract(data)
    message = raised.value.message
    assert raised.value.failure_type == FailureType.system_error
    assert f"Stream '{stream}'" in message and f"POST /api/v2/accounts/1/projects/2/experiences/5/{report}" in message
    assert all(fragment in message for fragment in fragments), message
    assert SECRET_LOOKING not in message and SECRET_LOOKING not in (raised.value.internal_message or "")


@pytest.mark.parametrize(
    "data, fragments",
    [
        ({"reportDatum": {}}, ["no 'reportData' in data (expected an object or a list)"]),
        (None, ["no report under 'data'"]),
        ({"reportData": SECRET_LOOKING}, ["a string as data.reportData, expected an object or a list"]),
        ({"reportData": [SECRET_LOOKING]}, ["a string as data.reportData[0], expected an object"]),
        ({"reportData": {"goal_id": 11}}, ["no 'variations' in data.reportData"]),
        ({"reportData": [{"goal_id": 11, "variations": {"id": 1}}]}, ["an object as data.reportData[0].variations, expected a list"]),
        ({"reportData": {"variations": [7]}}, ["a number as data.reportData.variations[0], expected an object"]),
        ({"reportData": {"variations": [{"stats": []}]}}, ["no 'id' in data.reportData.variations[0]"]),
        ({"reportData": {"variations": [{"id": 1}]}}, ["no 'stats' in data.reportData.variations[0]"]),
        ({"reportData": {"variations": [{"id": 1, "stats": [SECRET_LOOKING]}]}},
         ["a string as data.reportData.variations[0].stats[0], expected an object"]),
        ({"reportData": {"variations": [{"id": 1, "stats": [{"timestamp": [MIDNIGHT]}]}]}},
         ["a list as data.reportData.variations[0].stats[0].timestamp, expected a positive UNIX time"]),
        ({"reportData": {"variations": [{"id": 1, "stats": [{"value": 1.0}]}]}},
         ["null as data.reportData.variations[0].stats[0].timestamp"]),
        ({"reportData": {"variations": [{"id": 1, "stats": [{**STAT, "totals": [SECRET_LOOKING]}]}]}},
         ["a list as data.reportData.variations[0].stats[0].totals, expected a number"]),
        ({"reportData": {"variations": [{"id": 1, "stats": [{**STAT, "totals": {"conversions": 1}}]}]}},
         ["an object as data.reportData.variations[0].stats[0].totals, expected a number"]),
        ({"reportData": {"variations": [{"id": 1, "stats": [{**STAT, "totals": SECRET_LOOKING}]}]}},
         ["a string as data.reportData.variations[0].stats[0].totals, expected a number"]),
        ({"reportData": {"variations": [{"id": 1, "stats": [{**STAT, "visitors": True}]}]}},
         ["a boolean as data.reportData.variations[0].stats[0].visitors, expected a number"]),
    ],
)
def test_a_daily_report_of_another_shape_fails_naming_the_place(data, fragments):
    assert_fails_naming(daily_rows, data, "daily_reports", "daily_report", *fragments)


@pytest.mark.parametrize("entry", [{"goal_id": 12}, {"goal": 12}, {"goal_id": "12"}])
def test_a_daily_report_for_another_goal_than_requested_fails(entry):
    data = {"reportData": [{**entry, "variations": [{"id": 1, "stats": [STAT]}]}]}
    assert_fails_naming(daily_rows, data, "daily_reports", "daily_report", "is for goal 12 in data.reportData[0]",
                        "goal 11 was requested")


@pytest.mark.parametrize(
    "entry, body",
    [
        ({"goal_id": 11}, None),
        ({"goal": "11"}, None),  # the id as a string
        ({"goal_id": 11}, {"goal_id": 11, "metric": "conversion_rate", "start_time": MIDNIGHT - DAY}),  # named goal_id
        ({}, None),  # no goal named: the requested one
        ({"goal_id": None, "goal": 11}, None),
    ],
)
def test_a_daily_report_for_the_requested_goal_gives_its_rows(entry, body):
    data = {"reportData": {**entry, "variations": [{"id": 1, "stats": [{**STAT, "timestamp": MIDNIGHT * 1000}]}]}}
    assert [(row["variation_id"], row["day"]) for row in daily_rows(data, body)] == [(1, "2026-11-01")]


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"metric": "conversion_rate", "start_time": MIDNIGHT}, "the request body names no goal"),
        ({"goal": 11, "start_time": MIDNIGHT}, "the request body names no daily metric (null as metric)"),
        ({"goal": 11, "metric": "conversion_rate"}, "the request body has no start_time"),
        ({"goal": 11, "metric": "conversion_rate", "start_time": None}, "the request body has no start_time"),
    ],
)
def test_a_daily_request_without_goal_metric_or_start_cannot_be_checked_and_fails(body, fragment):
    data = {"reportData": {"goal_id": 11, "variations": []}}
    assert_fails_naming(lambda d: daily_rows(d, body), data, "daily_reports", "daily_report", fragment)


@pytest.mark.parametrize(
    "data",
    [
        {"reportData": []},
        {"reportData": {"goal_id": 11, "variations": []}},
        {"reportData": [{"goal_id": 11, "variations": [{"id": 1, "stats": []}]}]},
    ],
)
def test_empty_report_lists_give_no_rows(data):
    assert daily_rows(data) == []


@pytest.mark.parametrize(
    "data, fragments",
    [
        ({"variations_data": []}, ["no 'reportData' in data"]),
        ([], ["no report under 'data'"]),
        ({"reportData": [{"goal_id": 11}]}, ["no 'variations' in data.reportData[0]"]),
        ({"reportData": [{"variations": []}]}, ["no 'goal_id' (or 'goal') in data.reportData[0]"]),
        ({"reportData": [{"goal_id": 11, "variations": [SECRET_LOOKING]}]},
         ["a string as data.reportData[0].variations[0], expected an object"]),
        ({"reportData": [{"goal_id": 11, "variations": [{"id": True}]}]},
         ["a boolean as data.reportData[0].variations[0].id, expected an id"]),
        ({"reportData": [{"goal_id": 11, "variations": [{"id": 1, "conversion_data": SECRET_LOOKING}]}]},
         ["a string as data.reportData[0].variations[0].conversion_data, expected an object"]),
        ({"reportData": [], "variations_data": {"id": 1}}, ["an object as data.variations_data, expected a list"]),
    ],
)
def test_an_aggregated_report_of_another_shape_fails_naming_the_place(data, fragments):
    assert_fails_naming(aggregated_rows, data, "aggregated_reports", "aggregated_report", *fragments)


def test_an_aggregated_report_without_variation_names_gives_its_numbers_and_one_warning(caplog):
    metrics = [{"metric_type": "conversion_rate", "metric_total": 1}]
    data = {"stats_methodology": "bayesian",
            "reportData": {"goal": 11, "variations": [{"id": 1, "visitors": 10, "metrics": metrics},
                                                      {"id": 2, "visitors": 12, "metrics": metrics}]}}
    extractor = AggregatedReportExtractor(parameters={"name": "aggregated_reports"})
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        rows = [row for _ in range(2) for row in extractor.extract_records(response(data, {"utc_offset": 0}, "aggregated_report"))]
    assert [(r["goal_id"], r["variation_id"], r["visitors"], r["variation_name"]) for r in rows[:2]] == [(11, 1, 10, None), (11, 2, 12, None)]
    assert len(caplog.records) == 1 and "no variations_data" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    "experience, ran_until",
    [
        ({"max_running_timestamp": MIDNIGHT, "end_time": 0}, MIDNIGHT),
        ({"max_running_timestamp": MIDNIGHT - 10, "end_time": MIDNIGHT}, MIDNIGHT),
        ({"max_running_timestamp": MIDNIGHT * 1000, "end_time": 0}, MIDNIGHT),
        ({"max_running_timestamp": 0, "end_time": MIDNIGHT}, MIDNIGHT),
        ({"end_time": MIDNIGHT}, MIDNIGHT),
        ({"max_running_timestamp": None, "end_time": 0}, None),
    ],
)
def test_ran_until_is_the_newest_time_convert_gives(experience, ran_until):
    record = {"id": 1, "start_time": 1, **experience}
    RanUntil().transform(record)
    assert record.get("ran_until") == ran_until


def test_a_missing_max_running_timestamp_is_said_once(caplog):
    transformation = RanUntil()
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        for experience_id in (1, 2):
            transformation.transform({"id": experience_id, "end_time": 0})
    assert len(caplog.records) == 1 and "max_running_timestamp" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    "extra, skipped",
    [
        ({"status": "completed", "end_time": MIDNIGHT - 10, "ran_until": MIDNIGHT - 10}, True),
        ({"status": "completed", "end_time": MIDNIGHT, "ran_until": MIDNIGHT}, True),  # ended as the threshold began
        ({"status": "completed", "end_time": MIDNIGHT + 1, "ran_until": MIDNIGHT + 1}, False),  # ran a second past it
        ({"status": "active", "end_time": MIDNIGHT - 10, "ran_until": MIDNIGHT - 10}, False),  # running
        ({"status": "paused", "end_time": 0, "ran_until": MIDNIGHT - 10}, False),  # no end time: running
        ({"status": "completed", "end_time": MIDNIGHT - 10, "ran_until": None}, False),  # unknown: read it
        ({"status": None, "end_time": None, "ran_until": None}, False),
    ],
)
def test_only_experiences_that_stopped_before_the_threshold_are_left_out(extra, skipped):
    assert stopped_before(extra, MIDNIGHT) is skipped


class _Parent:
    """The partition routers need a parent config only to exist; these tests call ``partitions`` directly."""


def daily_router(metrics, **config):
    return ExperienceGoalMetricPartitionRouter(
        parent_stream_configs=[_Parent()], config={"daily_report_metrics": metrics, **config}, parameters={},
        lookback_days=3, metrics="{{ config['daily_report_metrics'] }}", utc_offset="{{ config.get('offset', 0) }}",
    )


def experience(goals):
    return {"id": 7, "goals": goals}


ALL = ["conversion_rate", "avg_revenue_per_visitor", "avg_products_ordered_per_visitor"]


def goal_metrics(router, goals):
    return [(p["goal_id"], p["metric"]) for p in router.partitions("200002", experience(goals), None)]


def test_revenue_metrics_only_for_revenue_goals():
    goals = [{"id": 11, "type": "revenue"}, {"id": 12, "type": "clicks_link"}]
    assert goal_metrics(daily_router(ALL), goals) == [
        (11, "conversion_rate"), (11, "avg_revenue_per_visitor"), (11, "avg_products_ordered_per_visitor"), (12, "conversion_rate"),
    ]


def test_the_metrics_option_limits_the_partitions():
    goals = [{"id": 11, "type": "revenue"}, {"id": 12, "type": "visits_page"}]
    assert goal_metrics(daily_router(["avg_products_ordered_per_visitor"]), goals) == [(11, "avg_products_ordered_per_visitor")]


def test_partitions_name_their_project_and_experience():
    (partition,) = daily_router(["conversion_rate"]).partitions("200004", experience([{"id": 11, "type": "revenue"}]), None)
    assert {key: partition[key] for key in ("project_id", "experience_id", "goal_id", "metric")} == {
        "project_id": "200004", "experience_id": 7, "goal_id": 11, "metric": "conversion_rate"}


def test_goals_of_unknown_type_get_conversion_rate_and_one_warning(caplog):
    router = daily_router(ALL)
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        partitions = goal_metrics(router, [11, {"id": 12}])
    assert partitions == [(11, "conversion_rate"), (12, "conversion_rate")]
    assert len(caplog.records) == 1 and "without its type" in caplog.records[0].getMessage()


def test_an_experience_without_its_goals_list_is_said(caplog):
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        partitions = goal_metrics(daily_router(ALL), None)
    assert partitions == [] and "without its goals" in caplog.records[0].getMessage()


def test_a_daily_report_window_has_no_end():
    assert daily_router(ALL).get_request_body_json() == {"end_time": None}


DAY = 86400


@pytest.mark.parametrize(
    "config, window_start, first_day",
    [
        ({"start_date": "2026-10-20T00:00:00Z"}, None, "2026-10-20"),  # a first sync starts at start_date's day
        ({"start_date": "2026-10-20T00:00:00Z"}, MIDNIGHT + 5 * 3600, "2026-11-01"),  # the window start's day
        ({"start_date": "2026-11-05T00:00:00Z"}, MIDNIGHT, "2026-11-05"),  # never before start_date
        # A start exactly at a day boundary is an end instant: it belongs to the day before
        ({"start_date": "2026-10-20T00:00:00Z"}, MIDNIGHT, "2026-10-31"),
        ({"start_date": "2026-10-20T00:00:00Z"}, MIDNIGHT + 1, "2026-11-01"),
        ({"start_date": "2026-10-20T00:00:00Z", "offset": 19800}, MIDNIGHT - 19800, "2026-10-31"),  # a local midnight
        ({"start_date": "2026-10-20T00:00:00Z", "offset": -18000}, MIDNIGHT + 18000, "2026-10-31"),
        ({"start_date": "2026-10-20T00:00:00Z", "offset": -5 * 3600}, MIDNIGHT + 3600, "2026-10-31"),  # the local day
        ({"start_date": "2026-10-20T00:00:00Z", "offset": 19800}, MIDNIGHT - 3600, "2026-11-01"),
    ],
)
def test_the_request_starts_one_day_before_the_first_day_delivered(config, window_start, first_day):
    router = daily_router(ALL, **config)
    start_time = router.request_start_time(window_start)
    offset = config.get("offset", 0)
    # The day before the first day, at midnight: the earlier of the UTC and local-as-UTC readings.
    baseline = dt.date.fromisoformat(first_day) - dt.timedelta(days=1)
    midnight = int(dt.datetime.combine(baseline, dt.time(), tzinfo=dt.timezone.utc).timestamp())
    assert start_time == midnight - max(offset, 0)
    (partition,) = router.partitions("200002", experience([{"id": 11, "type": "x"}]), window_start)
    assert partition["report_start"] == start_time
