"""knowledge_bases: incremental on ``updated_at``, read newest first until the saved cursor."""

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_list_response, a_record
from unit_tests.mock_server.runner import read_stream
from unit_tests.mock_server.states import cursors_by_project, per_project

_STREAM = "knowledge_bases"
T = 1_766_000_000


def knowledge_bases_page(page: int) -> ConvertRequestBuilder:
    return ConvertRequestBuilder.project_list("knowledge-bases", sort_by=None).with_body(
        sort_by="updated_at", sort_direction="desc", status=["active", "archived"]
    ).page(page)


def updated(*pairs):
    return [a_record(_STREAM, cursor_field="updated_at").with_id(identifier).with_cursor(value) for identifier, value in pairs]


def test_a_first_sync_reads_every_page_and_saves_the_newest_update(http_mocker: HttpMocker) -> None:
    # Given
    http_mocker.post(knowledge_bases_page(1).build(), a_list_response(_STREAM).with_records(updated((2, T + 9), (1, T))).build())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then
    assert [(m.record.data["id"], m.record.data["project_id"]) for m in output.records] == [(2, int(PROJECT_ID)), (1, int(PROJECT_ID))]
    assert cursors_by_project(output.most_recent_state.stream_state.__dict__) == {PROJECT_ID: {"updated_at": str(T + 9)}}


def test_a_later_sync_reads_only_what_changed_since_the_cursor(http_mocker: HttpMocker) -> None:
    # Given: the first page already reaches back past the cursor, so there is no page 2
    page = updated(*[(100 + index, T + 60 - index) for index in range(50)])
    http_mocker.post(knowledge_bases_page(1).build(), a_list_response(_STREAM).with_records(page).with_items_count(300).build())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=per_project("updated_at", {PROJECT_ID: T + 40}))

    # Then: updated at or after the cursor
    assert [message.record.data["updated_at"] for message in output.records] == list(range(T + 60, T + 39, -1))
