"""daily_reports: one request per started experience, goal and metric (revenue metrics for revenue
goals only), with no end; one row per goal, variation, day and metric, the day in the report time zone.

The days start at the project's window start: its saved ``ran_until`` (parent state) minus the lookback,
on a first sync the start date. The request starts at the midnight of the day before (minus the
offset east of UTC): that day is only the baseline for running totals and is never a row. The ``day``
cursor is only what the destination sees."""

import datetime as dt
import json

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker, HttpResponse

from unit_tests.mock_server.config import PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_daily_report_response, a_list_response, an_experience
from unit_tests.mock_server.runner import read_stream
from unit_tests.mock_server.states import report_cursors

_STREAM = "daily_reports"
THREE_METRICS = "avg_products_ordered_per_visitor,avg_revenue_per_visitor,conversion_rate"  # the default, recorded sorted
DAY = 86400
T = 1_766_000_000
REVENUE_GOAL = {"id": 11, "name": "Purchase", "type": "revenue"}
CLICK_GOAL = {"id": 12, "name": "Newsletter", "type": "clicks_link"}


def midnight(day: str) -> int:
    return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc).timestamp())


def a_daily_report_of(goal: int, metric: str = "conversion_rate") -> HttpResponse:
    return a_daily_report_response(goal, metric)


def daily_report(experience_id: int, goal: int, metric: str, start_time: int, utc_offset: int = 0) -> ConvertRequestBuilder:
    return (
        ConvertRequestBuilder.experience_report(experience_id, "daily_report")
        .with_body(goal=goal, metric=metric, report_type="non_cumulative", utc_offset=utc_offset, start_time=start_time)
        .with_partition(end_time=None)
    )


def test_a_first_sync_asks_each_goal_for_its_metrics_from_the_day_before_the_start_date(http_mocker: HttpMocker) -> None:
    # Given: one running experience with a revenue goal and a click goal
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        a_list_response("experiences").with_records(
            [an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=T, goals=[REVENUE_GOAL, CLICK_GOAL])]
        ).build(),
    )
    start = midnight("2025-11-30")  # the baseline day before the start date 2025-12-01
    for goal, metric in [(11, "conversion_rate"), (11, "avg_revenue_per_visitor"), (11, "avg_products_ordered_per_visitor"),
                         (12, "conversion_rate")]:
        http_mocker.post(daily_report(5, goal, metric, start).build(), a_daily_report_of(goal, metric))

    # When
    output = read_stream(ConfigBuilder().with_start_date("2025-12-01").build(), _STREAM, SyncMode.incremental)

    # Then: each row carries its partition's goal and metric
    rows = {(r["goal_id"], r["metric"], r["variation_id"]): r for r in (m.record.data for m in output.records)}
    assert len(rows) == 8
    row = rows[(12, "conversion_rate", 700002)]
    assert (row["experience_id"], row["day"], row["value"], row["visitors"], row["totals"], row["report_type"]) == (
        5, "2025-12-22", 7.63, 118, 9, "non_cumulative",
    )
    revenue_row = rows[(11, "avg_revenue_per_visitor", 700001)]
    assert (revenue_row["value"], revenue_row["visitors"], revenue_row["totals"]) == (2.58, 120, 310.0)
    assert "conversions" not in row and "revenue" not in revenue_row, "one total per metric, as documented"
    state = output.most_recent_state.stream_state.__dict__
    assert state["state"] == {"day": "2025-12-22"}
    assert state["parent_state"] == report_cursors({PROJECT_ID: T}, daily_report_metrics=THREE_METRICS)
    assert {m.record.data["project_id"] for m in output.records} == {int(PROJECT_ID)}


def test_a_later_sync_starts_at_the_project_s_saved_ran_until_minus_the_lookback(http_mocker: HttpMocker) -> None:
    # Given: the project's saved ran_until T (2025-12-17T19:33:20Z), lookback 3 days: the first day to deliver
    # is 2025-12-14, so the request starts at the baseline day 2025-12-13. The saved day cursor (2025-12-20)
    # is only a display cursor and decides nothing. Only the revenue metric of interest is configured.
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        a_list_response("experiences").with_records(
            [an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=T, goals=[REVENUE_GOAL]),
             an_experience(6, status="completed", start_time=T - 90 * DAY, end_time=T - 60 * DAY, ran_until=T - 60 * DAY,
                           goals=[REVENUE_GOAL])]
        ).build(),
    )
    http_mocker.post(daily_report(5, 11, "avg_revenue_per_visitor", midnight("2025-12-13")).build(),
                     a_daily_report_of(11, "avg_revenue_per_visitor"))
    state = {"use_global_cursor": True, "state": {"day": "2025-12-20"}, "parent_state": report_cursors({PROJECT_ID: T})}
    config = ConfigBuilder().with_field("daily_report_metrics", ["avg_revenue_per_visitor"]).build()

    # When
    output = read_stream(config, _STREAM, SyncMode.incremental, state=state)

    # Then: experience 6 stopped long before the window and costs no request
    assert {(m.record.data["experience_id"], m.record.data["metric"]) for m in output.records} == {(5, "avg_revenue_per_visitor")}


def test_east_of_utc_the_window_starts_at_the_earlier_reading_of_the_baseline_midnight(http_mocker: HttpMocker) -> None:
    # Given: UTC+05:30; the baseline day 2025-11-30 starts at 2025-11-30T00:00 local, read as UTC or as local time
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        a_list_response("experiences").with_records(
            [an_experience(5, status="active", start_time=T, ran_until=T, goals=[CLICK_GOAL])]
        ).build(),
    )
    http_mocker.post(
        daily_report(5, 12, "conversion_rate", midnight("2025-11-30") - 19800, utc_offset=19800).build(),
        a_daily_report_of(12),
    )
    config = ConfigBuilder().with_start_date("2025-12-01").with_field("report_utc_offset_hours", 5.5).build()

    # When
    output = read_stream(config, _STREAM, SyncMode.incremental)

    # Then: the sample's stamp 2025-12-22T00:00Z is a UTC midnight, so the local-midnight reading keeps its day
    assert {m.record.data["day"] for m in output.records} == {"2025-12-22"}
    assert {m.record.data["utc_offset"] for m in output.records} == {19800}


def test_the_baseline_day_the_request_starts_at_is_never_a_row(http_mocker: HttpMocker) -> None:
    # Given: a later sync whose first day to deliver is 2025-12-14 (saved ran_until T, lookback 3 days), so
    # the request starts at 2025-12-13; Convert answers that day too, with running totals (6, then 10)
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        a_list_response("experiences").with_records(
            [an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=T, goals=[CLICK_GOAL])]
        ).build(),
    )
    stats = [
        {"timestamp": midnight("2025-12-13"), "value": 5.0, "visitors": 120, "totals": 6},
        {"timestamp": midnight("2025-12-14"), "value": 4.0, "visitors": 100, "totals": 10},
    ]
    body = {"data": {"reportData": {"variations": [{"id": 700001, "stats": stats}], "extra": []}}}
    http_mocker.post(daily_report(5, 12, "conversion_rate", midnight("2025-12-13")).build(), HttpResponse(json.dumps(body), 200))
    state = {"use_global_cursor": True, "state": {"day": "2025-12-16"}, "parent_state": report_cursors({PROJECT_ID: T})}

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=state)

    # Then: one row, the first delivered day, with that day's own conversions (10 - 6)
    assert [(m.record.data["day"], m.record.data["totals"], m.record.data["visitors"]) for m in output.records] == [
        ("2025-12-14", 4, 100),
    ]
    assert output.errors == []


def test_a_ran_until_exactly_at_midnight_counts_as_the_day_before(http_mocker: HttpMocker) -> None:
    # Given: the project's saved ran_until is 2025-12-18T00:00:00Z exactly, lookback 0: it ends 2025-12-17, so
    # that is the first day to deliver and the request starts at the baseline day 2025-12-16. An experience
    # that ran until exactly 2025-12-17T00:00Z had nothing on that day and costs no request.
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        a_list_response("experiences").with_records(
            [an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=midnight("2025-12-18"), goals=[CLICK_GOAL]),
             an_experience(6, status="completed", start_time=T - 20 * DAY, end_time=midnight("2025-12-17"),
                           ran_until=midnight("2025-12-17"), goals=[CLICK_GOAL])]
        ).build(),
    )
    http_mocker.post(daily_report(5, 12, "conversion_rate", midnight("2025-12-16")).build(), a_daily_report_of(12))
    state = {"use_global_cursor": True, "state": {"day": "2025-12-18"},
             "parent_state": report_cursors({PROJECT_ID: midnight("2025-12-18")})}
    config = ConfigBuilder().with_field("report_lookback_days", 0).build()

    # When
    output = read_stream(config, _STREAM, SyncMode.incremental, state=state)

    # Then
    assert output.errors == []
    assert {m.record.data["experience_id"] for m in output.records} == {5}


def test_a_changed_report_time_zone_reads_every_day_again_with_one_warning(http_mocker: HttpMocker) -> None:
    # Given: the cursor was counted at UTC+05:30; the config is now UTC: the saved days have other boundaries
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        a_list_response("experiences").with_records(
            [an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=T, goals=[CLICK_GOAL])]
        ).build(),
    )
    http_mocker.post(daily_report(5, 12, "conversion_rate", midnight("2025-11-30")).build(), a_daily_report_of(12))
    state = {"use_global_cursor": True, "state": {"day": "2025-12-17"},
             "parent_state": report_cursors({PROJECT_ID: T}, utc_offset=19800)}
    config = ConfigBuilder().with_start_date("2025-12-01").build()

    # When: from the day before the start date, as on a first sync
    output = read_stream(config, _STREAM, SyncMode.incremental, state=state)

    # Then
    assert output.errors == [] and len(output.records) == 2
    warnings = [m.log.message for m in output.logs if "report time zone changed" in m.log.message]
    assert warnings == [
        "Stream 'daily_reports': the report time zone changed since the last sync (utc_offset 19800 seconds, now 0), so "
        f"the days saved for project(s) {PROJECT_ID} have other boundaries: every report day of those projects is read "
        "again, in the new zone."
    ]
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == report_cursors(
        {PROJECT_ID: T}, utc_offset=0, daily_report_metrics=THREE_METRICS)


def given_a_running_and_a_long_stopped_revenue_experience(http_mocker: HttpMocker, *metrics: str) -> None:
    """Both experiences' requests for ``metrics`` from the baseline day before the start date 2025-12-01 (a first sync)."""
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        a_list_response("experiences").with_records(
            [an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=T, goals=[REVENUE_GOAL]),
             an_experience(6, status="completed", start_time=T - 90 * DAY, end_time=T - 60 * DAY, ran_until=T - 60 * DAY,
                           goals=[REVENUE_GOAL])]
        ).build(),
    )
    for experience in (5, 6):
        for metric in metrics:
            http_mocker.post(daily_report(experience, 11, metric, midnight("2025-11-30")).build(), a_daily_report_of(11, metric))


def test_a_metric_added_after_a_sync_reads_every_day_again_with_one_warning(http_mocker: HttpMocker) -> None:
    # Given: the last sync read conversion_rate only; avg_revenue_per_visitor is added
    given_a_running_and_a_long_stopped_revenue_experience(http_mocker, "conversion_rate", "avg_revenue_per_visitor")
    state = {"use_global_cursor": True, "state": {"day": "2025-12-20"},
             "parent_state": report_cursors({PROJECT_ID: T}, daily_report_metrics="conversion_rate")}
    config = (ConfigBuilder().with_start_date("2025-12-01")
              .with_field("daily_report_metrics", ["conversion_rate", "avg_revenue_per_visitor"]).build())

    # When
    output = read_stream(config, _STREAM, SyncMode.incremental, state=state)

    # Then: as on a first sync, the long-stopped experience too, and one warning naming the metric
    assert output.errors == []
    assert {(m.record.data["experience_id"], m.record.data["metric"]) for m in output.records} == {
        (5, "conversion_rate"), (5, "avg_revenue_per_visitor"), (6, "conversion_rate"), (6, "avg_revenue_per_visitor")}
    assert [m.log.message for m in output.logs if "did not read" in m.log.message] == [
        f"Stream '{_STREAM}': daily_report_metrics has avg_revenue_per_visitor that the last sync did not read, so every "
        f"started experience of project(s) {PROJECT_ID} is read again in full, as on a first sync."
    ]
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == report_cursors(
        {PROJECT_ID: T}, daily_report_metrics="avg_revenue_per_visitor,conversion_rate")


def test_a_1_x_state_counts_as_the_three_1_x_metrics_so_a_metric_new_in_2_0_0_reads_every_day_again(http_mocker: HttpMocker) -> None:
    # Given: a state without the record (1.x had three metrics, all read by default); average_order_value is new
    given_a_running_and_a_long_stopped_revenue_experience(http_mocker, "conversion_rate", "average_order_value")
    state = {"use_global_cursor": True, "state": {"day": "2025-12-20"}, "parent_state": report_cursors({PROJECT_ID: T})}
    config = (ConfigBuilder().with_start_date("2025-12-01")
              .with_field("daily_report_metrics", ["conversion_rate", "average_order_value"]).build())

    # When
    output = read_stream(config, _STREAM, SyncMode.incremental, state=state)

    # Then
    assert output.errors == []
    assert {m.record.data["experience_id"] for m in output.records} == {5, 6}
    assert len([m for m in output.logs if "daily_report_metrics has average_order_value" in m.log.message]) == 1
