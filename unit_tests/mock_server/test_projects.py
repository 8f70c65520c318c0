"""projects: the account's web and fullstack projects of every status (active, inactive, suspended), sorted
by id, paged. The request is spelled out here once; other tests use ``ConvertRequestBuilder.projects()``."""

from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_list_response, records_with_ids
from unit_tests.mock_server.runner import read_stream

_STREAM = "projects"


def projects_request() -> ConvertRequestBuilder:
    return ConvertRequestBuilder.projects()


def test_the_builder_asks_for_both_project_types_and_no_status() -> None:
    # No status filter: the documented filter takes only active and inactive; without it every status is listed.
    assert ConvertRequestBuilder.projects().body() == (
        b'{"sort_by":"id","sort_direction":"asc","project_type":["web","fullstack"],"page":1,"results_per_page":50}'
    )


def test_both_project_types_and_statuses_are_asked_for_page_by_page(http_mocker: HttpMocker) -> None:
    # Given: 51 projects, 50 on the first page
    http_mocker.post(
        projects_request().page(1).build(),
        a_list_response(_STREAM).with_records(records_with_ids(_STREAM, range(1, 51))).with_items_count(51).build(),
    )
    http_mocker.post(
        projects_request().page(2).build(),
        a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [51])).with_items_count(51).build(),
    )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM)

    # Then
    assert [message.record.data["id"] for message in output.records] == list(range(1, 52))
    assert output.errors == []
