"""variation_changes: one record per change of every variation, from the experience list with the
variations' changes included and expanded (ceil(N/50) requests); later syncs re-read the experiences the
change history names and every one that can still be edited, like variations."""

from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.test.mock_http.response_builder import FieldPath

from unit_tests.mock_server.config import ConfigBuilder
from unit_tests.mock_server.experience_objects import given_the_experience_events, given_the_newest_event
from unit_tests.mock_server.request_builder import EDITABLE_STATUSES, EXPERIENCE_STATUSES, ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_change_event, a_list_response, a_record, records_with_ids
from unit_tests.mock_server.runner import read_stream
from unit_tests.mock_server.states import changed_list_state_of

_STREAM = "variation_changes"
_SAVED, _NEWEST = 1_766_000_000, 1_766_500_000


def keys(output) -> list:
    return [(m.record.data["experience_id"], m.record.data["variation_id"], m.record.data["id"]) for m in output.records]


def test_each_change_of_each_variation_is_a_record_with_its_variation_and_experience(http_mocker: HttpMocker) -> None:
    # Given: two experiences; each has a baseline without changes and a variation with two
    given_the_newest_event(http_mocker, _NEWEST)
    http_mocker.post(
        ConvertRequestBuilder.variation_pages().with_partition(status=EXPERIENCE_STATUSES).build(),
        a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [31, 32])).build(),
    )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then: the change as Convert gives it, plus where it belongs and the display cursor
    assert output.errors == []
    assert keys(output) == [(31, 700002, 800001), (31, 700002, 800002), (32, 700002, 800001), (32, 700002, 800002)]
    first = output.records[0].record.data
    assert {name: first[name] for name in ("type", "data", "changed_at", "project_id")} == {
        "type": "defaultCode", "data": {"css": "#checkout { background: #0a6; }"}, "changed_at": _NEWEST,
        "project_id": 200002,
    }


def test_changes_listed_as_ids_fail_the_stream_instead_of_looking_like_no_changes(http_mocker: HttpMocker) -> None:
    # Given: an answer whose variations list their changes as ids although the request expanded them
    given_the_newest_event(http_mocker, _NEWEST)
    unexpanded = a_record(_STREAM).with_id(31).with_field(
        FieldPath("variations"), [{"id": 700002, "name": "Green button", "changes": [800001, 800002]}]
    )
    http_mocker.post(ConvertRequestBuilder.variation_pages().with_partition(status=EXPERIENCE_STATUSES).build(), a_list_response(_STREAM).with_records([unexpanded]).build())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then
    assert output.records == []
    (error,) = [error.trace.error for error in output.errors if "bare id" in error.trace.error.message]
    assert "variation 700002 of experience 31 lists change 800001 as a bare id, not as the object the request expanded" in error.message
    assert error.failure_type == FailureType.system_error


def test_a_later_sync_re_reads_the_changed_and_every_editable_experience(http_mocker: HttpMocker) -> None:
    # Given: the history names 4 (archived since); 9 and 10 can still be edited
    given_the_experience_events(http_mocker, [a_change_event(50, _NEWEST, "experience", 4)])
    http_mocker.post(
        ConvertRequestBuilder.variation_pages().with_partition(status=["archived", "deleted"], only=[4]).build(),
        a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [4])).build(),
    )
    http_mocker.post(
        ConvertRequestBuilder.variation_pages().with_partition(status=EDITABLE_STATUSES).build(),
        a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [9, 10])).build(),
    )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=changed_list_state_of(_SAVED))

    # Then
    assert output.errors == []
    assert sorted({experience for experience, _, _ in keys(output)}) == [4, 9, 10]
    assert {m.record.data["changed_at"] for m in output.records} == {_NEWEST}
