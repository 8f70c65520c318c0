"""experience_details: the experiences list with every include and expansion in its body; later syncs
re-read the experiences history names and, because stats change without events and edits inside an
experience are logged in its own history, every experience that can still be edited (any status but
archived and deleted)."""

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import ConfigBuilder
from unit_tests.mock_server.request_builder import EDITABLE_STATUSES, EXPERIENCE_STATUSES, ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_change_event, a_list_response, records_with_ids
from unit_tests.mock_server.runner import read_stream
from unit_tests.mock_server.states import changed_list_state_of

_STREAM = "experience_details"
_SAVED, _NEWEST = 1_766_000_000, 1_766_500_000


def details_page() -> ConvertRequestBuilder:
    return ConvertRequestBuilder.project_list("experiences").with_body(
        include=["goals", "stats", "variations", "locations", "min_running_timestamp", "max_running_timestamp"],
        expand=["project", "goals", "locations", "variations"],
    )


def test_a_first_sync_asks_for_every_include_and_expansion(http_mocker: HttpMocker) -> None:
    # Given
    http_mocker.post(
        ConvertRequestBuilder.newest_history_event().build(),
        a_list_response("change_history").with_records([a_change_event(9, _NEWEST, "goal", 1)]).build(),
    )
    http_mocker.post(
        details_page().with_partition(status=EXPERIENCE_STATUSES).build(),
        a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [1])).build(),
    )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM)

    # Then: the expanded project and variations arrive as sent
    (record,) = [message.record.data for message in output.records]
    assert record["project"] == {"id": 200002, "name": "Web shop"}
    assert [variation["name"] for variation in record["variations"]] == ["Original", "Green button"]


def test_a_later_sync_re_reads_the_changed_and_every_editable_experience(http_mocker: HttpMocker) -> None:
    # Given: events about experience 4 (archived since) and 9 (running); 9 is running and 10 a draft.
    # The changed ids are asked in the statuses the refresh does not cover, so 9 is read once.
    http_mocker.post(
        ConvertRequestBuilder.object_changes("experience").build(),
        a_list_response("change_history").with_records(
            [a_change_event(51, _NEWEST, "experience", 9), a_change_event(50, _NEWEST, "experience", 4)]).build(),
    )
    http_mocker.post(
        details_page().with_partition(status=["archived", "deleted"], only=[4, 9]).build(),
        a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [4])).build(),
    )
    http_mocker.post(
        details_page().with_partition(status=EDITABLE_STATUSES).build(),
        a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [9, 10])).build(),
    )
    state = changed_list_state_of(_SAVED)

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=state)

    # Then
    assert sorted(message.record.data["id"] for message in output.records) == [4, 9, 10]
    assert {message.record.data["changed_at"] for message in output.records} == {_NEWEST}
