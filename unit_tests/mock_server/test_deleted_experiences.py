"""A 404 for a call about one experience (deleted after the experience list was read) skips that
experience with one warning; the other experiences' rows arrive and the sync succeeds. A 404 for
anything else (a list, the project, the account) is still a config error, naming where it failed."""

from airbyte_cdk.models import FailureType, Level, SyncMode
from airbyte_cdk.test.mock_http import HttpMocker, HttpResponse

from unit_tests.mock_server.config import ACCOUNT_ID, PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import (
    a_daily_report_response,
    a_list_response,
    a_report_response,
    an_error_response,
    an_experience,
)
from unit_tests.mock_server.runner import read_stream

DAY = 86400
T = 1_766_000_000
REVENUE_GOAL = {"id": 11, "name": "Purchase", "type": "revenue"}
CLICK_GOAL = {"id": 12, "name": "Newsletter", "type": "clicks_link"}
DELETED = 6
EXPERIENCE_NOT_FOUND = an_error_response(404, "Experience not found")


def warnings_of(output) -> list:
    return [message.log.message for message in output.logs if message.log.level == Level.WARN]


def about_the_deleted_experience(output) -> list:
    return [warning for warning in warnings_of(output) if f"experience {DELETED} " in warning]


def deleted_warning(stream: str, report: str) -> str:
    return (
        f"Stream '{stream}': experience {DELETED} was not found (HTTP 404 for POST "
        f"/api/v2/accounts/{ACCOUNT_ID}/projects/{PROJECT_ID}/experiences/{DELETED}/{report}); "
        "it was probably deleted during the sync, its rows are skipped."
    )


def given_the_experiences(http_mocker: HttpMocker, *experiences) -> None:
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        a_list_response("experiences").with_records(experiences).build(),
    )


def test_aggregated_reports_skip_an_experience_deleted_during_the_sync(http_mocker: HttpMocker) -> None:
    # Given: three started experiences; the second was deleted after the list was read
    given_the_experiences(
        http_mocker,
        *(an_experience(experience_id, status="active", start_time=T - 10 * DAY, ran_until=T) for experience_id in (5, 6, 7)),
    )
    for experience_id in (5, 6, 7):
        http_mocker.post(
            ConvertRequestBuilder.experience_report(experience_id, "aggregated_report").with_body(utc_offset=0).build(),
            EXPERIENCE_NOT_FOUND if experience_id == DELETED else a_report_response("aggregated_report"),
        )

    # When
    output = read_stream(ConfigBuilder().build(), "aggregated_reports", SyncMode.incremental)

    # Then: the others' rows, no error, one warning naming the stream and the experience (no retry: one request each)
    assert output.errors == []
    assert sorted({m.record.data["experience_id"] for m in output.records}) == [5, 7]
    assert len(output.records) == 20  # 2 variations x 5 metrics each
    assert about_the_deleted_experience(output) == [deleted_warning("aggregated_reports", "aggregated_report")]
    assert output.most_recent_state is not None


def a_daily_report_of(goal: int) -> HttpResponse:
    """The sample conversion_rate report whose ``value`` matches its ``totals`` (the extractor checks that)."""
    return a_daily_report_response(goal, "conversion_rate")


def daily_report(experience_id: int, goal: int, metric: str, start_time: int) -> ConvertRequestBuilder:
    return (
        ConvertRequestBuilder.experience_report(experience_id, "daily_report")
        .with_body(goal=goal, metric=metric, report_type="non_cumulative", utc_offset=0, start_time=start_time)
        .with_partition(end_time=None)
    )


def test_daily_reports_warn_once_for_a_deleted_experience_however_many_of_its_requests_fail(http_mocker: HttpMocker) -> None:
    # Given: experience 6 has four goal/metric partitions, each answering 404; experience 5 is readable
    given_the_experiences(
        http_mocker,
        an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=T, goals=[CLICK_GOAL]),
        an_experience(DELETED, status="active", start_time=T - 10 * DAY, ran_until=T, goals=[REVENUE_GOAL, CLICK_GOAL]),
    )
    start = 1_764_460_800  # 2025-11-30T00:00:00Z: the midnight of the day before the start date (the baseline day)
    http_mocker.post(daily_report(5, 12, "conversion_rate", start).build(), a_daily_report_of(12))
    for goal, metric in [(11, "conversion_rate"), (11, "avg_revenue_per_visitor"), (11, "avg_products_ordered_per_visitor"),
                         (12, "conversion_rate")]:
        http_mocker.post(daily_report(DELETED, goal, metric, start).build(), EXPERIENCE_NOT_FOUND)

    # When
    output = read_stream(ConfigBuilder().with_start_date("2025-12-01").build(), "daily_reports", SyncMode.incremental)

    # Then
    assert output.errors == []
    assert {m.record.data["experience_id"] for m in output.records} == {5}
    assert len(output.records) == 2
    assert about_the_deleted_experience(output) == [deleted_warning("daily_reports", "daily_report")]


def test_a_404_for_the_experience_list_is_still_a_config_error_naming_account_and_project(http_mocker: HttpMocker) -> None:
    # Given: the parent list itself is not found (a wrong project, not a deleted experience)
    http_mocker.post(ConvertRequestBuilder.started_experiences().build(), an_error_response(404, "Not found"))

    # When
    output = read_stream(ConfigBuilder().build(), "aggregated_reports", SyncMode.incremental)

    # Then: the stream's error (and the CDK's closing summary) is a config error with the handler's message
    assert output.records == []
    assert {error.trace.error.failure_type for error in output.errors} == {FailureType.config_error}
    assert output.errors[0].trace.error.message == (
        f"Convert answered HTTP 404: account {ACCOUNT_ID} / project {PROJECT_ID} was not found. "
        "Check the Account ID and Project ID."
    )
    assert about_the_deleted_experience(output) == []
