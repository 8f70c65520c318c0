"""goals: active and archived goals, re-read by id when the change history names them."""

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.test.mock_http.response_builder import FieldPath

from unit_tests.mock_server.config import ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_change_event, a_list_response, records_with_ids
from unit_tests.mock_server.runner import read_stream
from unit_tests.mock_server.states import changed_list_state_of

_STREAM = "goals"
_SAVED, _NEWEST = 1_766_000_000, 1_766_500_000


def test_a_first_sync_lists_active_and_archived_goals(http_mocker: HttpMocker) -> None:
    # Given
    http_mocker.post(
        ConvertRequestBuilder.newest_history_event().build(),
        a_list_response("change_history").with_records([a_change_event(9, _NEWEST, "experience", 1)]).build(),
    )
    http_mocker.post(
        ConvertRequestBuilder.project_list("goals").with_partition(status=["active", "archived"]).build(),
        a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [1, 2])).build(),
    )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then
    assert [(m.record.data["id"], m.record.data["changed_at"]) for m in output.records] == [(1, _NEWEST), (2, _NEWEST)]


def test_a_later_sync_asks_the_goal_history_and_re_reads_the_named_goals(http_mocker: HttpMocker) -> None:
    # Given: the id under a key other than object_id (the history's record schema is undocumented)
    renamed = a_change_event(60, _NEWEST, "goal", None).with_field(FieldPath("goalId"), 12)
    http_mocker.post(
        ConvertRequestBuilder.object_changes("goal").build(),
        a_list_response("change_history").with_records([renamed, a_change_event(61, _NEWEST - 1, "goal", 11)]).build(),
    )
    http_mocker.post(
        ConvertRequestBuilder.project_list("goals").with_partition(status=["active", "archived"], only=[11, 12]).build(),
        a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [11, 12])).build(),
    )
    state = changed_list_state_of(_SAVED)

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=state)

    # Then
    assert [message.record.data["id"] for message in output.records] == [11, 12]
