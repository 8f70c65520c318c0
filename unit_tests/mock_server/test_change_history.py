"""change_history through HttpMocker: newest first, stops at the saved cursor, exclusive of it."""

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import ConfigBuilder
from unit_tests.mock_server.helpers import read_stream
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import page_response


T = 1_790_000_000  # a 2026 UNIX time


def events(*timestamps: int, first_id: int = 1):
    return [{"id": first_id + i, "timestamp": ts, "event": "goal.update", "object": "goal"} for i, ts in enumerate(timestamps)]


def test_incremental_read_stops_paging_at_the_saved_cursor() -> None:
    with HttpMocker() as http_mocker:
        newest_first = list(range(T + 2000, T + 1950, -1))  # 50 events, the last ones at/below the cursor
        http_mocker.post(
            ConvertRequestBuilder.project_list("change-history", sort_by="timestamp", sort_direction="desc").build(),
            page_response(events(*newest_first), 500),
        )
        output = read_stream(ConfigBuilder().build(), "change_history", SyncMode.incremental, state={"timestamp": str(T + 1960)})
        assert [r.record.data["timestamp"] for r in output.records] == list(range(T + 2000, T + 1960, -1))
        assert output.most_recent_state.stream_state.__dict__ == {"timestamp": str(T + 2000)}
