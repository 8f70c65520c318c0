"""Report components: day stamps in the report time zone, row flattening, ran_until, the partitions a
sync requests, and the migration of a daily state saved without the started experiences' cursor."""

import datetime as dt
import json
import logging

import pytest
import requests

from airbyte_cdk.sources.types import StreamSlice

from source_convert.components.reports import (
    AggregatedReportExtractor,
    DailyReportExtractor,
    DailyStateWithoutParent,
    ExperienceGoalMetricPartitionRouter,
    RanUntil,
    report_day,
    stopped_before,
)

MIDNIGHT = int(dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc).timestamp())  # 2026-11-01T00:00Z
HOUR = 3600


def response(data) -> requests.Response:
    answer = requests.Response()
    answer.status_code = 200
    answer._content = json.dumps({"data": data}).encode()
    answer.headers["Content-Type"] = "application/json"
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


@pytest.mark.parametrize("timestamp", [None, "1793491200", True, 0, -5])
def test_report_day_of_no_time_is_none(timestamp):
    assert report_day(timestamp, 0) is None


def test_daily_rows_carry_the_local_day_and_the_totals():
    extractor = DailyReportExtractor(parameters={"name": "daily_reports"}, config={}, utc_offset="19800")
    stats = [{"timestamp": MIDNIGHT - 19800, "value": 4.2, "visitors": 100, "totals": {"conversions": 4, "revenue": 99.5, "products": 7}}]
    rows = list(extractor.extract_records(response({"reportData": {"goal_id": 11, "variations": [{"id": 1, "stats": stats}]}})))
    assert rows == [{"goal_id": 11, "variation_id": 1, "day": "2026-11-01", "timestamp": MIDNIGHT - 19800, "value": 4.2,
                     "visitors": 100, "conversions": 4, "revenue": 99.5, "products": 7}]


def test_daily_rows_without_totals_keep_the_other_numbers():
    extractor = DailyReportExtractor(parameters={}, config={}, utc_offset=0)
    data = {"reportData": [{"goal_id": 11, "variations": [{"id": 1, "stats": [{"timestamp": MIDNIGHT, "value": 1.0, "visitors": 3}]}]}]}
    (row,) = extractor.extract_records(response(data))
    assert (row["day"], row["visitors"], row["conversions"], row["revenue"]) == ("2026-11-01", 3, None, None)


def test_aggregated_rows_join_the_variation_names():
    data = {
        "reportData": [{"goal_id": 11, "variations": [
            {"id": 1, "visitors": 10, "conversion_data": {"conversions": 1, "conversion_rate": 10.0},
             "revenue_data": {"total_revenue": 20.0, "revenue_per_visitor": 2.0}, "products_data": {"total_products": 3}},
            {"id": 2, "visitors": 10, "conversion_data": {"conversions": 2, "conversion_rate": 20.0,
                                                          "conversion_rate_change": 100.0, "confidence": 60.0}},
        ]}],
        "variations_data": [{"id": 1, "name": "Original", "is_baseline": True}, {"id": 2, "name": "B", "is_baseline": False}],
    }
    rows = list(AggregatedReportExtractor(parameters={}).extract_records(response(data)))
    assert [(r["variation_name"], r["is_baseline"], r["conversions"]) for r in rows] == [("Original", True, 1), ("B", False, 2)]
    assert (rows[0]["total_revenue"], rows[0]["revenue_per_visitor"], rows[0]["total_products"]) == (20.0, 2.0, 3)
    assert (rows[1]["conversion_rate_change"], rows[1]["confidence"], rows[1]["total_revenue"]) == (100.0, 60.0, None)


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
        ({"status": "completed", "end_time": MIDNIGHT, "ran_until": MIDNIGHT}, False),  # at the threshold
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


def daily_router(metrics):
    return ExperienceGoalMetricPartitionRouter(
        parent_stream_configs=[_Parent()], config={"daily_report_metrics": metrics}, parameters={},
        lookback_days=3, metrics="{{ config['daily_report_metrics'] }}",
    )


def experience_slice(goals):
    return StreamSlice(partition={"experience_id": 7, "parent_slice": {}}, cursor_slice={}, extra_fields={"goals": goals})


ALL = ["conversion_rate", "avg_revenue_per_visitor", "avg_products_ordered_per_visitor"]


def test_revenue_metrics_only_for_revenue_goals():
    goals = [{"id": 11, "type": "revenue"}, {"id": 12, "type": "clicks_link"}]
    partitions = [(p["goal_id"], p["metric"]) for p in daily_router(ALL).partitions(experience_slice(goals))]
    assert partitions == [(11, "conversion_rate"), (11, "avg_revenue_per_visitor"), (11, "avg_products_ordered_per_visitor"),
                          (12, "conversion_rate")]


def test_the_metrics_option_limits_the_partitions():
    goals = [{"id": 11, "type": "revenue"}, {"id": 12, "type": "visits_page"}]
    partitions = [(p["goal_id"], p["metric"]) for p in daily_router(["avg_products_ordered_per_visitor"]).partitions(experience_slice(goals))]
    assert partitions == [(11, "avg_products_ordered_per_visitor")]


def test_goals_of_unknown_type_get_conversion_rate_and_one_warning(caplog):
    router = daily_router(ALL)
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        partitions = [(p["goal_id"], p["metric"]) for p in router.partitions(experience_slice([11, {"id": 12}]))]
    assert partitions == [(11, "conversion_rate"), (12, "conversion_rate")]
    assert len(caplog.records) == 1 and "without its type" in caplog.records[0].getMessage()


def test_an_experience_without_its_goals_list_is_said(caplog):
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        partitions = list(daily_router(ALL).partitions(experience_slice(None)))
    assert partitions == [] and "without its goals" in caplog.records[0].getMessage()


def test_a_daily_report_window_has_no_end():
    assert daily_router(ALL).get_request_body_json() == {"end_time": None}


def test_a_daily_state_without_parent_cursor_gains_it_from_its_day():
    migration = DailyStateWithoutParent()
    old = {"use_global_cursor": True, "state": {"day": "2026-11-01"}, "lookback_window": 12}
    assert migration.should_migrate(old)
    assert migration.migrate(old) == {**old, "parent_state": {"started_experiences": {"ran_until": str(MIDNIGHT)}}}


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"use_global_cursor": True, "state": {"day": "2026-11-01"}, "parent_state": {"started_experiences": {"ran_until": "5"}}},
        {"use_global_cursor": True, "state": {"ran_until": "5"}},
        {"state": {"day": "not a day"}},
    ],
)
def test_other_states_are_left_as_they_are(state):
    assert not DailyStateWithoutParent().should_migrate(state)
