"""The plain project lists (features, tags, domains, hypotheses, observations): each asks for its
resource with its sort and status filter, and all share Convert's page-number paging."""

import pytest

from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_list_response, records_with_ids
from unit_tests.mock_server.runner import read_stream

# stream -> the first-page request the manifest should make
FIRST_PAGE = {
    "features": lambda: ConvertRequestBuilder.project_list("features"),
    "tags": lambda: ConvertRequestBuilder.project_list("tags", sort_by=None),
    "domains": lambda: ConvertRequestBuilder.project_list("domains", sort_by=None),
    "hypotheses": lambda: ConvertRequestBuilder.project_list("hypotheses").with_body(
        status=["applied", "archived", "completed", "draft", "proven", "disproven"]
    ),
    "observations": lambda: ConvertRequestBuilder.project_list("observations", sort_by="date_added").with_body(
        status=["active", "archived"]
    ),
}


@pytest.mark.parametrize("stream", sorted(FIRST_PAGE))
def test_each_list_asks_for_its_resource_sort_and_statuses(http_mocker: HttpMocker, stream: str) -> None:
    # Given
    http_mocker.post(
        FIRST_PAGE[stream]().build(),
        a_list_response(stream).with_records(records_with_ids(stream, [11, 12])).build(),
    )

    # When
    output = read_stream(ConfigBuilder().build(), stream)

    # Then: each record names its project, an integer as Convert's ids are
    assert [(m.record.data["id"], m.record.data["project_id"]) for m in output.records] == [(11, int(PROJECT_ID)), (12, int(PROJECT_ID))]
    assert output.errors == []


def test_full_pages_with_a_known_count_need_no_trailing_request(http_mocker: HttpMocker) -> None:
    # Given: 100 features on two full pages, and the count says so (no page 3 is mocked)
    for page, ids in ((1, range(1, 51)), (2, range(51, 101))):
        http_mocker.post(
            FIRST_PAGE["features"]().page(page).build(),
            a_list_response("features").with_records(records_with_ids("features", ids)).with_items_count(100).build(),
        )

    # When
    output = read_stream(ConfigBuilder().build(), "features")

    # Then
    assert [message.record.data["id"] for message in output.records] == list(range(1, 101))


def test_without_a_count_paging_ends_on_a_short_page(http_mocker: HttpMocker) -> None:
    # Given: no items_count; a full page, then a page of 3
    http_mocker.post(
        FIRST_PAGE["tags"]().page(1).build(),
        a_list_response("tags").with_records(records_with_ids("tags", range(1, 51))).without_items_count().build(),
    )
    http_mocker.post(
        FIRST_PAGE["tags"]().page(2).build(),
        a_list_response("tags").with_records(records_with_ids("tags", range(51, 54))).without_items_count().build(),
    )

    # When
    output = read_stream(ConfigBuilder().build(), "tags")

    # Then
    assert len(output.records) == 53


def test_without_a_count_a_full_last_page_costs_one_empty_page(http_mocker: HttpMocker) -> None:
    # Given: exactly 50 domains and no count
    http_mocker.post(
        FIRST_PAGE["domains"]().page(1).build(),
        a_list_response("domains").with_records(records_with_ids("domains", range(1, 51))).without_items_count().build(),
    )
    http_mocker.post(FIRST_PAGE["domains"]().page(2).build(), a_list_response("domains").without_items_count().build())

    # When
    output = read_stream(ConfigBuilder().build(), "domains")

    # Then
    assert len(output.records) == 50 and output.errors == []
