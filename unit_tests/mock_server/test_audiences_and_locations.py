"""audiences and locations: their usage stats change without events of their own, so every sync
reads the whole (small) list; the cursor still comes from Convert's newest history event."""

import pytest

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_change_event, a_list_response, records_with_ids
from unit_tests.mock_server.runner import read_stream
from unit_tests.mock_server.states import changed_list_state_of, history_cursors

_SAVED, _NEWEST = 1_766_000_000, 1_766_500_000


@pytest.mark.parametrize("stream", ["audiences", "locations"])
def test_a_later_sync_reads_the_whole_list_without_asking_the_history(http_mocker: HttpMocker, stream: str) -> None:
    # Given: a saved cursor; only the newest-event probe and the list are mocked
    http_mocker.post(
        ConvertRequestBuilder.newest_history_event().build(),
        a_list_response("change_history").with_records([a_change_event(9, _NEWEST, "goal", 1)]).build(),
    )
    http_mocker.post(
        ConvertRequestBuilder.project_list(stream).with_partition(status=["active", "archived"]).build(),
        a_list_response(stream).with_records(records_with_ids(stream, [1, 2])).build(),
    )
    state = changed_list_state_of(_SAVED)

    # When
    output = read_stream(ConfigBuilder().build(), stream, SyncMode.incremental, state=state)

    # Then
    assert [(m.record.data["id"], m.record.data["changed_at"]) for m in output.records] == [(1, _NEWEST), (2, _NEWEST)]
    state = output.most_recent_state.stream_state.__dict__
    assert state["state"] == {"changed_at": str(_NEWEST)}
    assert state["parent_state"] == history_cursors({PROJECT_ID: _NEWEST})
