"""experiences / experience_details through HttpMocker: paging rule and request bodies."""

from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import ConfigBuilder
from unit_tests.mock_server.helpers import read_stream
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import page_response, records


def test_full_pages_with_known_count_need_no_trailing_request() -> None:
    with HttpMocker() as http_mocker:
        http_mocker.post(ConvertRequestBuilder.project_list("experiences").page(1).build(), page_response(records(50), 100))
        http_mocker.post(ConvertRequestBuilder.project_list("experiences").page(2).build(), page_response(records(50, 51), 100))
        output = read_stream(ConfigBuilder().build(), "experiences")
        assert [record.record.data["id"] for record in output.records] == list(range(1, 101))
        # HttpMocker fails the test on any unexpected call, e.g. a page 3.


def test_without_count_a_short_page_ends_the_stream() -> None:
    with HttpMocker() as http_mocker:
        http_mocker.post(ConvertRequestBuilder.project_list("experiences").page(1).build(), page_response(records(50)))
        http_mocker.post(ConvertRequestBuilder.project_list("experiences").page(2).build(), page_response(records(3, 51)))
        output = read_stream(ConfigBuilder().build(), "experiences")
        assert len(output.records) == 53


def test_details_ask_for_includes_and_expansions_in_the_list_body() -> None:
    with HttpMocker() as http_mocker:
        request = ConvertRequestBuilder.project_list("experiences").with_body(
            include=["goals", "stats", "variations", "locations", "min_running_timestamp", "max_running_timestamp"],
            expand=["project", "goals", "locations", "variations"],
        )
        http_mocker.post(request.build(), page_response(records(2, project={"id": 200002}), 2))
        output = read_stream(ConfigBuilder().build(), "experience_details")
        assert [record.record.data["project"] for record in output.records] == [{"id": 200002}] * 2
