"""experience_change_history: each experience's own history (``POST .../experiences/{id}/change-history``),
newest first and paged like the project's change_history, with its ``timestamp`` cursor kept per
experience (the saved second is read again; paging stops at the first page that reaches it). Which
experiences are read follows the project history, as for report_settings."""

from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import ACCOUNT_ID, PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.experience_objects import (
    an_indexed_experience,
    experience_event,
    experience_history,
    given_the_experience_events,
    given_the_index,
    given_the_newest_event,
)
from unit_tests.mock_server.response_builder import a_change_event, a_list_response, an_error_response
from unit_tests.mock_server.runner import read_stream
from unit_tests.mock_server.states import per_project, stream_state

_STREAM = "experience_change_history"
T = 1_766_000_000
_SAVED, _NEWEST = T - 50_000, T + 500
START_2025 = 1_735_689_600  # 2025-01-01T00:00:00Z


def page_of(*timestamps: int, first_id: int = 1):
    return a_list_response(_STREAM).with_records(
        [experience_event(first_id + index, value) for index, value in enumerate(timestamps)]
    )


def cursor_entry(experience_id: int, timestamp: int) -> dict:
    return {"partition": {"experience_id": experience_id, "project_id": PROJECT_ID}, "cursor": {"timestamp": str(timestamp)}}


def per_experience(cursors: dict) -> dict:
    """A state as this stream saves it: a cursor per experience, the project's history cursor as parent."""
    return {
        "states": [cursor_entry(experience_id, timestamp) for experience_id, timestamp in cursors.items()],
        "use_global_cursor": False,
        "parent_state": {"object_changes": per_project("timestamp", {PROJECT_ID: _SAVED})},
    }


def test_a_first_sync_reads_each_experience_s_history_and_keeps_a_cursor_per_experience(http_mocker: HttpMocker) -> None:
    # Given: experience 31 has three events (one before the start date), 32 none
    given_the_newest_event(http_mocker, _NEWEST)
    given_the_index(http_mocker, [an_indexed_experience(31), an_indexed_experience(32, status="archived")])
    http_mocker.post(experience_history(31).build(), page_of(T + 10, T, START_2025 - 1).build())
    http_mocker.post(experience_history(32).build(), page_of().build())

    # When
    output = read_stream(ConfigBuilder().with_start_date("2025-01-01").build(), _STREAM, SyncMode.incremental)

    # Then: each event once with its experience and project; nothing before the start date
    assert output.errors == []
    assert [(m.record.data["experience_id"], m.record.data["timestamp"], m.record.data["project_id"]) for m in output.records] == [
        (31, T + 10, int(PROJECT_ID)), (31, T, int(PROJECT_ID)),
    ]
    state = stream_state(output, _STREAM)
    assert state["use_global_cursor"] is False
    assert sorted(state["states"], key=lambda entry: entry["partition"]["experience_id"]) == [
        cursor_entry(31, T + 10), cursor_entry(32, START_2025),
    ]
    assert state["parent_state"]["object_changes"]["states"] == [
        {"partition": {"project_id": PROJECT_ID}, "cursor": {"timestamp": str(_NEWEST)}}
    ]


def test_a_later_sync_stops_at_each_experience_s_saved_second_and_reads_it_again(http_mocker: HttpMocker) -> None:
    # Given: 31 (running) saved at T + 20: a full page of newer events, then a page that reaches back past
    # it (no page 3); 33 (archived, not named) keeps its cursor without a request; 35 is new (a draft, no
    # cursor of its own): read from the start date
    given_the_experience_events(http_mocker, [a_change_event(70, _NEWEST, "experience", 35)])
    given_the_index(http_mocker, [
        an_indexed_experience(31, status="active"), an_indexed_experience(33, status="archived"),
        an_indexed_experience(35, status="draft"),
    ])
    http_mocker.post(experience_history(31, page=1).build(), page_of(*range(T + 100, T + 50, -1)).with_items_count(120).build())
    http_mocker.post(
        experience_history(31, page=2).build(), page_of(*range(T + 50, T, -1), first_id=51).with_items_count(120).build()
    )
    http_mocker.post(experience_history(35).build(), page_of(T + 7, START_2025, START_2025 - 1, first_id=200).build())
    state = per_experience({31: T + 20, 33: T - 900})

    # When
    output = read_stream(ConfigBuilder().with_start_date("2025-01-01").build(), _STREAM, SyncMode.incremental, state=state)

    # Then
    assert output.errors == []
    got = [(m.record.data["experience_id"], m.record.data["timestamp"]) for m in output.records]
    assert sorted(t for e, t in got if e == 31) == list(range(T + 20, T + 101))  # the saved second again
    assert sorted(t for e, t in got if e == 35) == [START_2025, T + 7]
    assert not [e for e, _ in got if e == 33]
    saved = stream_state(output, _STREAM)
    assert sorted(saved["states"], key=lambda entry: entry["partition"]["experience_id"]) == [
        cursor_entry(31, T + 100), cursor_entry(33, T - 900), cursor_entry(35, T + 7),
    ]
    assert saved["use_global_cursor"] is False


def test_each_event_is_delivered_once_when_a_new_event_shifts_the_pages(http_mocker: HttpMocker) -> None:
    # Given: between the two pages a new event pushed the list down by one: page 2 repeats page 1's last event
    given_the_newest_event(http_mocker, _NEWEST)
    given_the_index(http_mocker, [an_indexed_experience(31)])
    http_mocker.post(experience_history(31, page=1).build(), page_of(*range(T + 100, T + 50, -1)).with_items_count(60).build())
    http_mocker.post(
        experience_history(31, page=2).build(), page_of(*range(T + 51, T + 41, -1), first_id=50).with_items_count(60).build()
    )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then: 59 distinct events (page 2 repeats one), none twice, each with its own non-null key
    keys = [(m.record.data["experience_id"], m.record.data["event_id"]) for m in output.records]
    assert all(event_id for _, event_id in keys)
    assert len(keys) == len(set(keys)) == 59


def test_an_experience_history_path_that_answers_404_everywhere_fails_the_stream_naming_it(http_mocker: HttpMocker) -> None:
    # Given: every experience's history answers 404
    given_the_newest_event(http_mocker, _NEWEST)
    given_the_index(http_mocker, [an_indexed_experience(31), an_indexed_experience(32)])
    for experience_id in (31, 32):
        http_mocker.post(experience_history(experience_id).build(), an_error_response(404, "Not found"))

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then
    (error,) = [error.trace.error for error in output.errors if "for every experience" in error.trace.error.message]
    assert error.message == (
        f"Stream '{_STREAM}': Convert answered HTTP 404 for every experience the stream asked (2 of 2) at POST "
        f"/api/v2/accounts/{ACCOUNT_ID}/projects/{PROJECT_ID}/experiences/{{experience_id}}/change-history: "
        "Convert does not seem to have this path, so this stream read no records. The other streams are not affected."
    )
    assert error.failure_type == FailureType.system_error
