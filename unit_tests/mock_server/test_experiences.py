"""experiences: incremental through Convert's change history.

A first sync reads the whole list (every status) and takes its cursor from the newest history event,
read before the list: Convert's clock, never the local one. Later syncs read the experience events
since the saved cursor and re-read only the experiences they name (``only``). The retry cases of a
POST list (a re-signed attempt after a bad answer) are here too, as this is the busiest list.
"""

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import EXPERIENCE_STATUSES, ConvertRequestBuilder
from unit_tests.mock_server.response_builder import (
    a_change_event,
    a_list_response,
    a_non_json_response,
    an_error_response,
    records_with_ids,
)
from unit_tests.mock_server.runner import read_stream
from unit_tests.mock_server.states import changed_list_state_of, history_cursors

_STREAM = "experiences"
_SAVED = 1_766_000_000  # the history cursor a previous sync saved
_NEWEST = 1_766_500_000  # the newest event Convert has


def experiences_page(page: int = 1) -> ConvertRequestBuilder:
    return ConvertRequestBuilder.project_list(_STREAM).page(page).with_partition(status=EXPERIENCE_STATUSES)


def state_at(timestamp: int) -> dict:
    """What a sync that ended at history time ``timestamp`` saved for the one configured project."""
    return changed_list_state_of(timestamp)


def given_the_newest_event_is(http_mocker: HttpMocker, timestamp: int) -> None:
    http_mocker.post(
        ConvertRequestBuilder.newest_history_event().build(),
        a_list_response("change_history").with_records([a_change_event(9, timestamp, "goal", 1)]).build(),
    )


def test_a_first_sync_reads_every_status_and_stamps_records_with_convert_s_newest_event(http_mocker: HttpMocker) -> None:
    # Given
    given_the_newest_event_is(http_mocker, _NEWEST)
    http_mocker.post(experiences_page().build(), a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [1, 2])).build())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then: records carry their project (an integer, as Convert's own ids)
    assert [(m.record.data["id"], m.record.data["changed_at"], m.record.data["project_id"]) for m in output.records] == [
        (1, _NEWEST, int(PROJECT_ID)), (2, _NEWEST, int(PROJECT_ID)),
    ]
    state = output.most_recent_state.stream_state.__dict__
    assert state["state"] == {"changed_at": str(_NEWEST)}
    assert state["parent_state"] == history_cursors({PROJECT_ID: _NEWEST})


def test_a_newest_event_without_a_numeric_timestamp_stops_the_sync_instead_of_re_reading_forever(
    http_mocker: HttpMocker,
) -> None:
    # Given: the newest history event carries its time in a shape the connector cannot compare
    http_mocker.post(
        ConvertRequestBuilder.newest_history_event().build(),
        a_list_response("change_history").with_records([a_change_event(9, _NEWEST, "goal", 1).with_cursor("2026-11-30T10:00:00Z")]).build(),
    )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then: no record, and the stream's error names the field and the event's keys (the CDK adds its summary)
    assert output.records == []
    error = output.errors[0].trace.error
    assert "'timestamp'" in error.message and "object_id" in error.message and "2026-11-30" not in error.message


def test_a_full_refresh_pages_through_the_whole_list(http_mocker: HttpMocker) -> None:
    # Given: 60 experiences on two pages
    given_the_newest_event_is(http_mocker, _NEWEST)
    http_mocker.post(
        experiences_page(1).build(),
        a_list_response(_STREAM).with_records(records_with_ids(_STREAM, range(1, 51))).with_items_count(60).build(),
    )
    http_mocker.post(
        experiences_page(2).build(),
        a_list_response(_STREAM).with_records(records_with_ids(_STREAM, range(51, 61))).with_items_count(60).build(),
    )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM)

    # Then
    assert [message.record.data["id"] for message in output.records] == list(range(1, 61))


def test_a_later_sync_re_reads_only_the_experiences_history_names(http_mocker: HttpMocker) -> None:
    # Given: three experience events since the saved cursor, two about experience 7
    http_mocker.post(
        ConvertRequestBuilder.object_changes("experience").build(),
        a_list_response("change_history").with_records(
            [a_change_event(33, _NEWEST, "experience", 7), a_change_event(32, _NEWEST - 10, "experience", 3),
             a_change_event(31, _SAVED + 5, "experience", 7)]
        ).build(),
    )
    http_mocker.post(
        experiences_page().with_partition(only=[3, 7]).build(),
        a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [3, 7])).build(),
    )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=state_at(_SAVED))

    # Then: each named experience once, stamped and saved with the newest event read
    assert [(m.record.data["id"], m.record.data["changed_at"]) for m in output.records] == [(3, _NEWEST), (7, _NEWEST)]
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == history_cursors({PROJECT_ID: _NEWEST})


def test_without_new_events_a_later_sync_reads_no_list(http_mocker: HttpMocker) -> None:
    # Given: no experience event since the saved cursor, which is Convert's newest event
    http_mocker.post(ConvertRequestBuilder.object_changes("experience").build(), a_list_response("change_history").build())
    given_the_newest_event_is(http_mocker, _SAVED)

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=state_at(_SAVED))

    # Then: no experiences request (none is mocked), and the cursor stays
    assert output.records == [] and output.errors == []
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == history_cursors({PROJECT_ID: _SAVED})


def test_a_saved_cursor_later_than_convert_s_newest_event_re_reads_the_whole_list(http_mocker: HttpMocker) -> None:
    # Given: a cursor from a clock ahead of Convert's (no event can be newer than it)
    http_mocker.post(ConvertRequestBuilder.object_changes("experience").build(), a_list_response("change_history").build())
    given_the_newest_event_is(http_mocker, _SAVED - 3600)
    http_mocker.post(experiences_page().build(), a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [1, 2])).build())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=state_at(_SAVED))

    # Then: the whole list, one warning, and the cursor is Convert's again
    assert [message.record.data["changed_at"] for message in output.records] == [_SAVED - 3600] * 2
    assert output.is_in_logs("did not come from Convert's clock")
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == history_cursors({PROJECT_ID: _SAVED - 3600})


def test_more_changed_experiences_than_a_page_are_re_read_in_batches_of_fifty(http_mocker: HttpMocker) -> None:
    # Given: 51 changed experiences
    events = [a_change_event(1000 + index, _NEWEST - index, "experience", index + 1) for index in range(51)]
    http_mocker.post(
        ConvertRequestBuilder.object_changes("experience").build(),
        a_list_response("change_history").with_records(events[:50]).with_items_count(51).build(),
    )
    http_mocker.post(
        ConvertRequestBuilder.object_changes("experience").page(2).build(),
        a_list_response("change_history").with_records(events[50:]).with_items_count(51).build(),
    )
    for batch in (list(range(1, 51)), [51]):
        http_mocker.post(
            experiences_page().with_partition(only=batch).build(),
            a_list_response(_STREAM).with_records(records_with_ids(_STREAM, batch)).build(),
        )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=state_at(_SAVED))

    # Then
    assert sorted(message.record.data["id"] for message in output.records) == list(range(1, 52))


def test_an_event_without_an_object_id_makes_the_sync_read_the_whole_list(http_mocker: HttpMocker) -> None:
    # Given: an event whose changed object cannot be found
    event = a_change_event(40, _NEWEST, "experience", None)
    http_mocker.post(
        ConvertRequestBuilder.object_changes("experience").build(), a_list_response("change_history").with_records([event]).build()
    )
    http_mocker.post(experiences_page().build(), a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [1, 2, 3])).build())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=state_at(_SAVED))

    # Then: nothing is missed, and the log says why the whole list was read
    assert len(output.records) == 3
    assert output.is_in_logs("names no object id")


def test_a_success_status_with_a_body_that_is_not_json_is_re_signed_and_retried(http_mocker: HttpMocker, retry_sleeps) -> None:
    # Given: a proxy's HTML page first; the retry (signed one second later) gets the list
    given_the_newest_event_is(http_mocker, _NEWEST)
    http_mocker.post(experiences_page().attempt(1).build(), a_non_json_response())
    http_mocker.post(experiences_page().attempt(2).build(), a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [1])).build())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM)

    # Then
    assert [message.record.data["id"] for message in output.records] == [1]
    assert len(retry_sleeps) == 1


def test_a_rate_limited_answer_waits_what_convert_asks_then_retries(http_mocker: HttpMocker, retry_sleeps) -> None:
    # Given: HTTP 429 asking for 7 seconds
    given_the_newest_event_is(http_mocker, _NEWEST)
    http_mocker.post(experiences_page().attempt(1).build(), an_error_response(429, "Too many requests", {"Retry-After": "7"}))
    http_mocker.post(experiences_page().attempt(2).build(), a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [1])).build())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM)

    # Then: the wait is Retry-After plus at most its 10 % spread
    assert len(output.records) == 1
    (slept,) = retry_sleeps
    assert 7.0 <= slept <= 7.7 + 1e-6


def test_an_object_id_that_is_not_a_number_makes_the_sync_read_the_whole_list(http_mocker: HttpMocker) -> None:
    # Given: an event whose object_id (a string, as documented) is not an experience id this connector can ask
    event = a_change_event(41, _NEWEST, "experience", "exp-7")
    http_mocker.post(
        ConvertRequestBuilder.object_changes("experience").build(), a_list_response("change_history").with_records([event]).build()
    )
    http_mocker.post(experiences_page().build(), a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [1, 2, 3])).build())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=state_at(_SAVED))

    # Then: no crash and no change lost: the whole list, with the reason in the log
    assert output.errors == []
    assert len(output.records) == 3
    assert output.is_in_logs("not a whole number")


def test_object_ids_sent_as_strings_are_asked_as_the_integers_they_are(http_mocker: HttpMocker) -> None:
    # Given: events naming experiences "7" and "3" (strings, as documented)
    http_mocker.post(
        ConvertRequestBuilder.object_changes("experience").build(),
        a_list_response("change_history").with_records(
            [a_change_event(42, _NEWEST, "experience", "7"), a_change_event(43, _NEWEST - 1, "experience", "3")]).build(),
    )
    http_mocker.post(experiences_page().with_partition(only=[3, 7]).build(),
                     a_list_response(_STREAM).with_records(records_with_ids(_STREAM, [3, 7])).build())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=state_at(_SAVED))

    # Then
    assert output.errors == []
    assert sorted(message.record.data["id"] for message in output.records) == [3, 7]
