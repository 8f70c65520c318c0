"""change_history: newest first, one pass; paging stops at the first page that reaches back past the
start (the saved cursor, inclusive, or the configured start date), each event once."""

import time

from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.test.mock_http.response_builder import FieldPath

from unit_tests.mock_server.config import PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_change_event, a_list_response
from unit_tests.mock_server.runner import read_stream
from unit_tests.mock_server.states import cursors_by_project, per_project

_STREAM = "change_history"
T = 1_766_000_000


def history_page(page: int) -> ConvertRequestBuilder:
    return ConvertRequestBuilder.change_history().page(page)


def events(*timestamps: int, first_id: int = 1):
    return [a_change_event(first_id + index, value, "goal", 400001) for index, value in enumerate(timestamps)]


def saved_at(timestamp: int) -> dict:
    """The state a sync that read up to ``timestamp`` saved: the project's cursor, and nothing global."""
    return per_project("timestamp", {PROJECT_ID: timestamp})


def timestamps(output):
    return [message.record.data["timestamp"] for message in output.records]


def test_a_later_sync_stops_paging_at_the_saved_cursor_and_keeps_its_second(http_mocker: HttpMocker) -> None:
    # Given: a full first page, then a page that reaches back past the saved cursor (no page 3 mocked)
    http_mocker.post(history_page(1).build(), a_list_response(_STREAM).with_records(events(*range(T + 100, T + 50, -1))).with_items_count(500).build())
    http_mocker.post(
        history_page(2).build(),
        a_list_response(_STREAM).with_records(events(*range(T + 50, T, -1), first_id=51)).with_items_count(500).build(),
    )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=saved_at(T + 20))

    # Then: the saved second itself is read again (events written in it after the last read are not lost)
    assert timestamps(output) == list(range(T + 100, T + 19, -1))
    assert cursors_by_project(output.most_recent_state.stream_state.__dict__) == {PROJECT_ID: {"timestamp": str(T + 100)}}


def test_a_first_sync_reads_back_to_the_start_date_inclusive(http_mocker: HttpMocker) -> None:
    # Given: start date 2025-01-01 (1735689600); the page holds one event in that second and one before
    start = 1_735_689_600
    http_mocker.post(history_page(1).build(), a_list_response(_STREAM).with_records(events(start + 10, start, start - 1)).build())

    # When
    output = read_stream(ConfigBuilder().with_start_date("2025-01-01").build(), _STREAM, SyncMode.incremental)

    # Then
    assert timestamps(output) == [start + 10, start]


def test_an_event_a_page_shift_shows_twice_is_emitted_once(http_mocker: HttpMocker) -> None:
    # Given: two new events arrive between page 1 and page 2, so page 2 starts with page 1's last two
    first = events(*range(T + 100, T + 50, -1))
    shifted = events(T + 52, T + 51, first_id=49) + events(*range(T + 50, T + 2, -1), first_id=51)
    http_mocker.post(history_page(1).build(), a_list_response(_STREAM).with_records(first).with_items_count(102).build())
    http_mocker.post(history_page(2).build(), a_list_response(_STREAM).with_records(shifted).with_items_count(102).build())
    http_mocker.post(history_page(3).build(), a_list_response(_STREAM).with_records(events(T + 2, T + 1, first_id=99)).with_items_count(102).build())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=saved_at(T))

    # Then: each event once, with its own non-null key
    ids = [message.record.data["event_id"] for message in output.records]
    assert all(ids)
    assert len(ids) == len(set(ids)) == 100


def test_a_saved_cursor_ahead_of_the_local_clock_still_reads_newer_events(http_mocker: HttpMocker) -> None:
    # Given: Convert's clock is two days ahead of this machine's
    ahead = int(time.time()) + 2 * 86400
    http_mocker.post(history_page(1).build(), a_list_response(_STREAM).with_records(events(ahead + 5, ahead - 5)).build())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=saved_at(ahead))

    # Then
    assert timestamps(output) == [ahead + 5]
    assert cursors_by_project(output.most_recent_state.stream_state.__dict__) == {PROJECT_ID: {"timestamp": str(ahead + 5)}}


def test_an_event_without_a_numeric_timestamp_fails_the_stream_instead_of_vanishing(http_mocker: HttpMocker) -> None:
    # Given
    broken = a_change_event(7, T, "goal", 1).with_field(FieldPath("timestamp"), "yesterday")
    http_mocker.post(history_page(1).build(), a_list_response(_STREAM).with_records([broken]).build())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=saved_at(T - 10))

    # Then
    assert output.records == []
    assert FailureType.system_error in {error.trace.error.failure_type for error in output.errors}
    assert any("without a numeric 'timestamp'" in error.trace.error.message for error in output.errors)
