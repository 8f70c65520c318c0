"""Reads several streams of one sync need are made once per project: a first sync's newest change-history
event (the cursor of every change-driven stream read in full), and the started-experience list both
report streams are partitioned by."""

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import OTHER_PROJECT_ID, PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import EXPERIENCE_STATUSES, ConvertRequestBuilder
from unit_tests.mock_server.response_builder import (
    a_change_event,
    a_daily_report_response,
    a_list_response,
    a_record,
    a_report_response,
    an_experience,
    records_with_ids,
)
from unit_tests.mock_server.runner import read_streams
from unit_tests.mock_server.states import history_cursors, report_cursors, stream_state

A, B = PROJECT_ID, OTHER_PROJECT_ID
NEWEST = {A: 1_766_500_000, B: 1_766_400_000}
CHANGE_DRIVEN = ["experiences", "goals", "variations"]
DAY = 86400
T = 1_766_000_000


def test_a_first_sync_of_three_change_driven_streams_asks_each_project_s_newest_event_once(http_mocker: HttpMocker) -> None:
    # Given: per project its newest event, its experiences (plain and with variations) and its goals
    newest = {}
    for project, experience in ((A, 31), (B, 32)):
        newest[project] = ConvertRequestBuilder.newest_history_event(project).build()
        http_mocker.post(
            newest[project], a_list_response("change_history").with_records([a_change_event(9, NEWEST[project], "goal", 1)]).build()
        )
        experiences = ConvertRequestBuilder.project_list("experiences", project=project).with_partition(status=EXPERIENCE_STATUSES)
        http_mocker.post(experiences.build(), a_list_response("experiences").with_records(records_with_ids("experiences", [experience])).build())
        http_mocker.post(
            ConvertRequestBuilder.variation_pages(project)
            .with_partition(status=EXPERIENCE_STATUSES)
            .build(),
            a_list_response("experience_details").with_records([a_record("experience_details").with_id(experience)]).build(),
        )
        http_mocker.post(
            ConvertRequestBuilder.project_list("goals", project=project).with_partition(status=["active", "archived"]).build(),
            a_list_response("goals").with_records(records_with_ids("goals", [1])).build(),
        )

    # When
    output = read_streams(ConfigBuilder().with_projects(f"{A}, {B}").build(), CHANGE_DRIVEN, SyncMode.incremental)

    # Then: one newest-event request per project for the three streams, and each stream's records are
    # stamped with it and save it as that project's cursor
    assert output.errors == []
    for project in (A, B):
        http_mocker.assert_number_of_calls(newest[project], 1)
    stamped = {(m.record.stream, m.record.data["project_id"], m.record.data["changed_at"]) for m in output.records}
    assert stamped == {(stream, int(project), NEWEST[project]) for stream in CHANGE_DRIVEN for project in (A, B)}
    for stream in CHANGE_DRIVEN:
        assert stream_state(output, stream)["parent_state"] == history_cursors(NEWEST)


def test_both_report_streams_share_one_read_of_each_project_s_started_experiences(http_mocker: HttpMocker) -> None:
    # Given: one running experience per project, with a click goal
    click_goal = {"id": 12, "name": "Newsletter", "type": "clicks_link"}
    started = {}
    for project, experience in ((A, 5), (B, 8)):
        started[project] = ConvertRequestBuilder.started_experiences(project).build()
        http_mocker.post(
            started[project],
            a_list_response("experiences").with_records(
                [an_experience(experience, status="active", start_time=T - 10 * DAY, ran_until=T, goals=[click_goal])]
            ).build(),
        )
        http_mocker.post(
            ConvertRequestBuilder.experience_report(experience, "aggregated_report", project).with_body(utc_offset=0).build(),
            a_report_response("aggregated_report"),
        )
        http_mocker.post(
            ConvertRequestBuilder.experience_report(experience, "daily_report", project)
            .with_body(goal=12, metric="conversion_rate", report_type="non_cumulative", utc_offset=0,
                       start_time=1_764_460_800)  # 2025-11-30, the day before the start date
            .with_partition(end_time=None)
            .build(),
            a_daily_report_response(12),
        )

    # When
    config = ConfigBuilder().with_projects(f"{A}, {B}").with_start_date("2025-12-01").build()
    output = read_streams(config, ["aggregated_reports", "daily_reports"], SyncMode.incremental)

    # Then
    assert output.errors == []
    for project in (A, B):
        http_mocker.assert_number_of_calls(started[project], 1)
    assert {(m.record.stream, m.record.data["project_id"], m.record.data["experience_id"]) for m in output.records} == {
        ("aggregated_reports", int(A), 5), ("aggregated_reports", int(B), 8), ("daily_reports", int(A), 5), ("daily_reports", int(B), 8),
    }
    assert stream_state(output, "aggregated_reports")["parent_state"] == report_cursors({A: T, B: T})
    assert stream_state(output, "daily_reports")["parent_state"] == report_cursors(
        {A: T, B: T}, daily_report_metrics="avg_products_ordered_per_visitor,avg_revenue_per_visitor,conversion_rate")
