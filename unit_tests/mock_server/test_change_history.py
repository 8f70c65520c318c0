"""change_history: newest first, one pass; paging stops at the first page that reaches back past the
start (the saved cursor, inclusive, or the configured start date), each event once."""

import hashlib
import json
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


# ---------------------------------------------------------------- event_id: the key of an event without an id
_HEX = set("0123456789abcdef")
# One value per documented field that identifies an event, different from the sample event's.
_OTHER_VALUES = {
    "event": "delete",
    "changes": {"old": {"name": "Checkout"}, "new": {"name": "Checkout v2"}},
    "method": "app",
    "object": "audience",
    "object_id": "400002",
    "parent_object_id": "300001",
    "user": "grace.hopper@example.com",
    "timestamp": T + 1,
    "request_id": "another-request",
    "project": 200004,
}


def event_ids(output):
    return [message.record.data["event_id"] for message in output.records]


def test_every_event_has_a_non_null_key_that_is_the_same_on_every_sync(http_mocker: HttpMocker) -> None:
    # Given: the same answer to two syncs; besides the sample event, one event per identifying field
    # that differs from it in that field alone
    base = a_change_event(1, T, "goal", 400001)
    variants = [a_change_event(1, T, "goal", 400001).with_field(FieldPath(field), value) for field, value in _OTHER_VALUES.items()]
    answer = a_list_response(_STREAM).with_records([base, *variants]).build()
    http_mocker.post(history_page(1).build(), [answer, answer])

    # When
    first = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=saved_at(T - 10))
    second = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=saved_at(T - 10))

    # Then: every event arrives, each key is a SHA-256 (hex) of its own, and the second sync gives the same keys
    keys = event_ids(first)
    assert len(keys) == 1 + len(_OTHER_VALUES) == len(set(keys))
    assert all(len(key) == 64 and set(key) <= _HEX for key in keys)
    assert event_ids(second) == keys
    assert [message.record.data["project_id"] for message in first.records] == [int(PROJECT_ID)] * len(keys)


def test_the_key_ignores_what_does_not_identify_an_event(http_mocker: HttpMocker) -> None:
    # Given: the same event in two syncs, the second time with the project expanded (whose name changed),
    # another deprecated ``info`` text, its object id as a number and a field Convert does not document
    again = (
        a_change_event(1, T, "goal", 400001)
        .with_field(FieldPath("project"), {"id": 200002, "name": "Renamed site", "settings": {"time_zone": "UTC"}})
        .with_field(FieldPath("info"), {"isAdminChange": True, "text": "Goal Checkout edited"})
        .with_field(FieldPath("object_id"), 400001)
        .with_field(FieldPath("added_later"), "x")
    )
    http_mocker.post(
        history_page(1).build(),
        [a_list_response(_STREAM).with_records([a_change_event(1, T, "goal", 400001)]).build(),
         a_list_response(_STREAM).with_records([again]).build()],
    )

    # When
    first = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=saved_at(T - 10))
    second = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=saved_at(T - 10))

    # Then: one event, one key; the record keeps what Convert sent
    assert len(event_ids(first)) == 1
    assert event_ids(second) == event_ids(first)
    assert second.records[0].record.data["project"]["name"] == "Renamed site"


def test_the_boundary_second_read_again_gives_known_events_their_key_and_new_events_new_keys(http_mocker: HttpMocker) -> None:
    # Given: sync 1 read up to T (one event in that second); before sync 2, a second event was written in
    # the same second and a third later
    known = a_change_event(1, T, "goal", 400001)
    same_second = a_change_event(2, T, "goal", 400001)
    later = a_change_event(3, T + 30, "goal", 400002)
    http_mocker.post(
        history_page(1).build(),
        [a_list_response(_STREAM).with_records([a_change_event(1, T, "goal", 400001)]).build(),
         a_list_response(_STREAM).with_records([later, same_second, known]).build()],
    )

    # When
    first = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=saved_at(T - 10))
    second = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental,
                         state=first.most_recent_state.stream_state.__dict__)

    # Then: sync 2 re-reads the saved second; the event sync 1 had keeps its key (a destination
    # deduplicating by key keeps it once), and the two new events have keys of their own
    (old_key,) = event_ids(first)
    new_keys = event_ids(second)
    assert [message.record.data["timestamp"] for message in second.records] == [T + 30, T, T]
    assert new_keys[2] == old_key
    assert len(set(new_keys)) == 3


def test_two_identical_events_in_one_answer_are_one_record(http_mocker: HttpMocker) -> None:
    # Given: two events equal in every field (the same second, object, change, user and request): the
    # answer cannot tell them from one event that a page shift shows twice
    http_mocker.post(
        history_page(1).build(),
        a_list_response(_STREAM).with_records([a_change_event(1, T, "goal", 400001), a_change_event(1, T, "goal", 400001),
                                               a_change_event(2, T, "goal", 400001)]).build(),
    )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=saved_at(T - 10))

    # Then: they collapse into one record; the event that differs (another request) stays
    assert len(event_ids(output)) == len(set(event_ids(output))) == 2


def documented_event_id(event: dict) -> str:
    """The recipe docs/convert.md gives: SHA-256 of the identifying fields as JSON with sorted keys (", " and
    ": " separators; non-ASCII and < > & ' as \\u escapes), project as its id, ids as text."""
    ids_as_text = {name: None if event.get(name) is None else str(event[name]) for name in ("object_id", "parent_object_id")}
    project = event.get("project")
    fields = {name: event.get(name) for name in ("event", "changes", "method", "object", "user", "timestamp", "request_id")}
    fields.update(ids_as_text, project=project.get("id") if isinstance(project, dict) else project)
    text = json.dumps(fields, sort_keys=True)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escape)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_key_follows_the_documented_recipe(http_mocker: HttpMocker) -> None:
    # Given: an event with text that JSON escapes (non-ASCII, quotes, markup) and an expanded project
    event = (
        a_change_event(1, T, "goal", 400001)
        .with_field(FieldPath("changes"), {"old": None, "new": {"name": "Prüfung <\"A\" & 'B'>", "weight": 1.5}})
        .with_field(FieldPath("parent_object_id"), 300001)
        .with_field(FieldPath("project"), {"id": 200002, "name": "Site"})
    )
    http_mocker.post(history_page(1).build(), a_list_response(_STREAM).with_records([event]).build())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=saved_at(T - 10))

    # Then: a key anyone can recompute from the event (and that a library upgrade must not change)
    (record,) = [message.record.data for message in output.records]
    assert record["event_id"] == documented_event_id(event.build())
