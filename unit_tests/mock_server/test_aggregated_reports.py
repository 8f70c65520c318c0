"""aggregated_reports: one request per started experience (with the report time zone), one row per
goal, variation and metric; later syncs leave out experiences that stopped before the saved cursor minus
the lookback, as Convert's ``max_running_timestamp``/``end_time`` tell."""

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_list_response, a_report_response, an_experience
from unit_tests.mock_server.runner import read_stream
from unit_tests.mock_server.states import report_cursors

_STREAM = "aggregated_reports"
DAY = 86400
T = 1_766_000_000


def given_the_experiences(http_mocker: HttpMocker, *experiences) -> None:
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        a_list_response("experiences").with_records(experiences).build(),
    )


def test_a_first_sync_reads_every_started_experience_and_flattens_its_report(http_mocker: HttpMocker) -> None:
    # Given: a running and a stopped experience, and a draft that never started (no request for it)
    given_the_experiences(
        http_mocker,
        an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=T + 100),
        an_experience(6, status="completed", start_time=T - 40 * DAY, end_time=T - 20 * DAY, ran_until=T - 20 * DAY),
        an_experience(7, status="draft", start_time=0),
    )
    for experience_id in (5, 6):
        http_mocker.post(
            ConvertRequestBuilder.experience_report(experience_id, "aggregated_report").with_body(utc_offset=0).build(),
            a_report_response("aggregated_report"),
        )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then: five metrics for each of two variations, named as in daily_reports
    rows = sorted((m.record.data for m in output.records), key=lambda row: (row["experience_id"], row["variation_id"]))
    assert len(rows) == 20
    assert {(r["experience_id"], r["goal_id"], r["variation_id"], r["ran_until"]) for r in rows} == {
        (5, 400001, 700001, T + 100), (5, 400001, 700002, T + 100),
        (6, 400001, 700001, T - 20 * DAY), (6, 400001, 700002, T - 20 * DAY),
    }
    assert {r["metric"] for r in rows} == {"conversion_rate", "avg_revenue_per_visitor", "avg_products_ordered_per_visitor",
                                           "average_order_value", "average_products_per_order"}
    green = next(r for r in rows if r["experience_id"] == 5 and r["variation_id"] == 700002 and r["metric"] == "conversion_rate")
    assert (green["variation_name"], green["is_baseline"], green["stats_methodology"], green["visitors"]) == (
        "Green button", False, "frequentist", 600)
    assert (green["metric_total"], green["metric_value"], green["metric_change"], green["confidence"]) == (42, 0.07, 0.4, 93.1)
    assert (green["goal_srm"], green["goal_srm_pvalue"], green["srm"], green["observed_power"]) == (False, 1.0, False, 52.4)
    state = output.most_recent_state.stream_state.__dict__
    assert state["state"] == {"ran_until": str(T + 100)}
    assert state["parent_state"] == report_cursors({PROJECT_ID: T + 100})
    assert {m.record.data["project_id"] for m in output.records} == {int(PROJECT_ID)}


def test_a_later_sync_skips_experiences_that_stopped_before_the_lookback(http_mocker: HttpMocker) -> None:
    # Given: saved ran_until T, lookback 3 days; experience 6 stopped 20 days before, 8 one day before
    given_the_experiences(
        http_mocker,
        an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=T + 100),
        an_experience(6, status="completed", start_time=T - 40 * DAY, end_time=T - 20 * DAY, ran_until=T - 20 * DAY),
        an_experience(8, status="paused", start_time=T - 9 * DAY, end_time=T - DAY, ran_until=T - DAY),
    )
    for experience_id in (5, 8):  # no request for 6 is mocked
        http_mocker.post(
            ConvertRequestBuilder.experience_report(experience_id, "aggregated_report").with_body(utc_offset=0).build(),
            a_report_response("aggregated_report"),
        )
    state = {"use_global_cursor": True, "state": {"ran_until": str(T)}, "parent_state": report_cursors({PROJECT_ID: T})}

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=state)

    # Then
    assert {message.record.data["experience_id"] for message in output.records} == {5, 8}


def test_the_report_time_zone_is_sent_in_seconds_east_of_utc(http_mocker: HttpMocker) -> None:
    # Given: UTC+05:30
    given_the_experiences(http_mocker, an_experience(5, status="active", start_time=T, ran_until=T))
    http_mocker.post(
        ConvertRequestBuilder.experience_report(5, "aggregated_report").with_body(utc_offset=19800).build(), a_report_response("aggregated_report")
    )

    # When
    output = read_stream(ConfigBuilder().with_field("report_utc_offset_hours", 5.5).build(), _STREAM)

    # Then
    assert len(output.records) == 10 and output.errors == []
