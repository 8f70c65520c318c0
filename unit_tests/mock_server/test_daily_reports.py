"""daily_reports: one request per started experience, goal and metric (revenue metrics for revenue
goals only), from the cursor day minus the lookback with no end; one row per goal, variation, day
and metric, the day in the report time zone."""

import datetime as dt
import json

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker, HttpResponse

from unit_tests.mock_server.config import ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_list_response, an_experience, template
from unit_tests.mock_server.runner import read_stream

_STREAM = "daily_reports"
DAY = 86400
T = 1_766_000_000
REVENUE_GOAL = {"id": 11, "name": "Purchase", "type": "revenue"}
CLICK_GOAL = {"id": 12, "name": "Newsletter", "type": "clicks_link"}


def midnight(day: str) -> int:
    return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc).timestamp())


def a_daily_report_of(goal: int) -> HttpResponse:
    """The sample daily report, for the goal the request asked for."""
    body = template("daily_report")
    body["data"]["reportData"]["goal_id"] = goal
    return HttpResponse(json.dumps(body), 200)


def daily_report(experience_id: int, goal: int, metric: str, start_time: int, utc_offset: int = 0) -> ConvertRequestBuilder:
    return (
        ConvertRequestBuilder.experience_report(experience_id, "daily_report")
        .with_body(goal=goal, metric=metric, report_type="non_cumulative", utc_offset=utc_offset, start_time=start_time)
        .with_partition(end_time=None)
    )


def test_a_first_sync_asks_each_goal_for_its_metrics_from_the_start_date(http_mocker: HttpMocker) -> None:
    # Given: one running experience with a revenue goal and a click goal
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        a_list_response("experiences").with_records(
            [an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=T, goals=[REVENUE_GOAL, CLICK_GOAL])]
        ).build(),
    )
    start = midnight("2025-12-01")
    for goal, metric in [(11, "conversion_rate"), (11, "avg_revenue_per_visitor"), (11, "avg_products_ordered_per_visitor"),
                         (12, "conversion_rate")]:
        http_mocker.post(daily_report(5, goal, metric, start).build(), a_daily_report_of(goal))

    # When
    output = read_stream(ConfigBuilder().with_start_date("2025-12-01").build(), _STREAM, SyncMode.incremental)

    # Then: each row carries its partition's goal and metric
    rows = {(r["goal_id"], r["metric"], r["variation_id"]): r for r in (m.record.data for m in output.records)}
    assert len(rows) == 8
    row = rows[(12, "conversion_rate", 700002)]
    assert (row["experience_id"], row["day"], row["value"], row["visitors"], row["report_type"]) == (
        5, "2025-12-22", 7.3, 118, "non_cumulative",
    )
    assert output.most_recent_state.stream_state.__dict__["state"] == {"day": "2025-12-22"}


def test_a_later_sync_starts_at_the_cursor_day_minus_the_lookback(http_mocker: HttpMocker) -> None:
    # Given: saved day 2025-12-20, lookback 3 days; only the revenue metric of interest is configured
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        a_list_response("experiences").with_records(
            [an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=T, goals=[REVENUE_GOAL]),
             an_experience(6, status="completed", start_time=T - 90 * DAY, end_time=T - 60 * DAY, ran_until=T - 60 * DAY,
                           goals=[REVENUE_GOAL])]
        ).build(),
    )
    http_mocker.post(daily_report(5, 11, "avg_revenue_per_visitor", midnight("2025-12-17")).build(), a_daily_report_of(11))
    state = {"use_global_cursor": True, "state": {"day": "2025-12-20"},
             "parent_state": {"started_experiences": {"ran_until": str(T)}}}
    config = ConfigBuilder().with_field("daily_report_metrics", ["avg_revenue_per_visitor"]).build()

    # When
    output = read_stream(config, _STREAM, SyncMode.incremental, state=state)

    # Then: experience 6 stopped long before the window and costs no request
    assert {(m.record.data["experience_id"], m.record.data["metric"]) for m in output.records} == {(5, "avg_revenue_per_visitor")}


def test_east_of_utc_the_window_starts_at_the_earlier_reading_of_the_first_midnight(http_mocker: HttpMocker) -> None:
    # Given: UTC+05:30
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        a_list_response("experiences").with_records(
            [an_experience(5, status="active", start_time=T, ran_until=T, goals=[CLICK_GOAL])]
        ).build(),
    )
    http_mocker.post(
        daily_report(5, 12, "conversion_rate", midnight("2025-12-01") - 19800, utc_offset=19800).build(),
        a_daily_report_of(12),
    )
    config = ConfigBuilder().with_start_date("2025-12-01").with_field("report_utc_offset_hours", 5.5).build()

    # When
    output = read_stream(config, _STREAM, SyncMode.incremental)

    # Then: the sample's stamp 2025-12-22T00:00Z is a UTC midnight, so the local-midnight reading keeps its day
    assert {m.record.data["day"] for m in output.records} == {"2025-12-22"}
    assert {m.record.data["utc_offset"] for m in output.records} == {19800}
