"""States saved by 0.3.0 (one project per connection, cursors that name no project), read by this version.

With one configured project the state is that project's and the sync continues incrementally; with
several projects (or ``*``) nobody can tell whose it was, so the stream reads every project in full
this once, with a warning. 0.2.0 daily states (a ``day`` only) get their report cursor from that day.
"""

from typing import List

from airbyte_cdk.models import Level, SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.test.mock_http.response_builder import FieldPath

from unit_tests.mock_server.config import OTHER_PROJECT_ID, PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.experience_objects import (
    an_indexed_experience,
    experience_event,
    experience_history,
    given_the_experience_events,
    given_the_index,
    given_the_newest_event,
)
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import (
    a_change_event,
    a_daily_report_response,
    a_list_response,
    an_experience,
    records_with_ids,
)
from unit_tests.mock_server.runner import read_stream
from unit_tests.mock_server.states import cursors_by_project, history_cursors, report_cursors

A, B = PROJECT_ID, OTHER_PROJECT_ID
DAY = 86400
T = 1_766_000_000  # 2025-12-17T19:33:20Z
NEWEST_A, NEWEST_B = 1_766_500_000, 1_766_400_000
GOAL_STATUSES = ["active", "archived"]
# What 0.3.0 saved for a change-driven list and for change_history.
GOALS_0_3_0 = {"use_global_cursor": True, "state": {"changed_at": str(T)}, "lookback_window": 1,
               "parent_state": {"object_changes": {"timestamp": str(T)}}}
CHANGE_HISTORY_0_3_0 = {"timestamp": str(T)}
NAMES_NO_PROJECT = "was written before 1.0.0 and names no project"


def config(projects: str):
    return ConfigBuilder().with_projects(projects).with_start_date("2025-12-01").build()


def warnings_of(output) -> List[str]:
    return [message.log.message for message in output.logs if message.log.level == Level.WARN]


def goals(project: str, **partition) -> ConvertRequestBuilder:
    return ConvertRequestBuilder.project_list("goals", project=project).with_partition(status=GOAL_STATUSES, **partition)


def history_of(project: str, *timestamps: int):
    events = [a_change_event(index + 1, value, "goal", 400001).with_field(FieldPath("project"), int(project))
              for index, value in enumerate(timestamps)]
    return a_list_response("change_history").with_records(events).build()


def test_a_0_3_0_state_of_the_one_configured_project_continues_incrementally(http_mocker: HttpMocker) -> None:
    # Given: one new goal event since the saved cursor; no newest-event probe and no whole list is mocked
    http_mocker.post(
        ConvertRequestBuilder.object_changes("goal").build(),
        a_list_response("change_history").with_records([a_change_event(31, T + 10, "goal", 11)]).build(),
    )
    http_mocker.post(goals(A, only=[11]).build(), a_list_response("goals").with_records(records_with_ids("goals", [11])).build())

    # When
    output = read_stream(config(A), "goals", SyncMode.incremental, state=GOALS_0_3_0)

    # Then: the cursor is now the project's own, and one warning says whose it was taken to be
    assert [(m.record.data["project_id"], m.record.data["id"]) for m in output.records] == [(int(A), 11)]
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == history_cursors({A: T + 10})
    assert output.is_in_logs(f"it continues as project {A}'s, the one project this connection syncs")
    (warning,) = warnings_of(output)
    assert "names no project" in warning and "clear the stream's state" in warning


def test_a_0_3_0_state_with_two_configured_projects_reads_both_in_full_with_a_warning(http_mocker: HttpMocker) -> None:
    # Given: no history after the saved cursor is asked for (none is mocked): both projects start afresh
    for project, newest in ((A, NEWEST_A), (B, NEWEST_B)):
        http_mocker.post(
            ConvertRequestBuilder.newest_history_event(project).build(),
            a_list_response("change_history").with_records([a_change_event(9, newest, "goal", 1)]).build(),
        )
        http_mocker.post(goals(project).build(), a_list_response("goals").with_records(records_with_ids("goals", [1])).build())

    # When
    output = read_stream(config(f"{A}, {B}"), "goals", SyncMode.incremental, state=GOALS_0_3_0)

    # Then
    assert sorted((m.record.data["project_id"], m.record.data["changed_at"]) for m in output.records) == [
        (int(A), NEWEST_A), (int(B), NEWEST_B),
    ]
    assert [warning for warning in warnings_of(output) if NAMES_NO_PROJECT in warning] == [
        "The saved state of stream 'goals' was written before 1.0.0 and names no project, and this connection syncs "
        "several projects (or every project): whose it is cannot be told, so the stream reads every project in full in this sync."
    ]
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == history_cursors({A: NEWEST_A, B: NEWEST_B})


def test_a_0_3_0_change_history_cursor_continues_for_the_one_configured_project(http_mocker: HttpMocker) -> None:
    # Given: events after, at and before the saved second
    http_mocker.post(ConvertRequestBuilder.change_history(A).page(1).build(), history_of(A, T + 5, T, T - 5))

    # When
    output = read_stream(config(A), "change_history", SyncMode.incremental, state=CHANGE_HISTORY_0_3_0)

    # Then: from the saved second on (inclusive), and saved as the project's cursor
    assert [m.record.data["timestamp"] for m in output.records] == [T + 5, T]
    assert cursors_by_project(output.most_recent_state.stream_state.__dict__) == {A: {"timestamp": str(T + 5)}}


def test_a_0_3_0_change_history_cursor_with_two_projects_reads_both_back_to_the_start_date(http_mocker: HttpMocker) -> None:
    # Given: each project has an event before the saved cursor but after the start date
    http_mocker.post(ConvertRequestBuilder.change_history(A).page(1).build(), history_of(A, T + 5, T - 5))
    http_mocker.post(ConvertRequestBuilder.change_history(B).page(1).build(), history_of(B, T - 7))

    # When
    output = read_stream(config(f"{A}, {B}"), "change_history", SyncMode.incremental, state=CHANGE_HISTORY_0_3_0)

    # Then
    assert sorted((m.record.data["project_id"], m.record.data["timestamp"]) for m in output.records) == [
        (int(A), T - 5), (int(A), T + 5), (int(B), T - 7),
    ]
    assert any(NAMES_NO_PROJECT in warning and "'change_history'" in warning for warning in warnings_of(output))


def test_a_0_3_0_state_with_every_project_reads_every_listed_project_in_full(http_mocker: HttpMocker) -> None:
    # Given: "*" is the account's two projects
    http_mocker.post(
        ConvertRequestBuilder.projects().build(),
        a_list_response("projects").with_records(records_with_ids("projects", [int(A), int(B)])).build(),
    )
    http_mocker.post(ConvertRequestBuilder.change_history(A).page(1).build(), history_of(A, T - 5))
    http_mocker.post(ConvertRequestBuilder.change_history(B).page(1).build(), history_of(B, T - 7))

    # When
    output = read_stream(config("*"), "change_history", SyncMode.incremental, state=CHANGE_HISTORY_0_3_0)

    # Then
    assert sorted(m.record.data["timestamp"] for m in output.records) == [T - 7, T - 5]
    assert any(NAMES_NO_PROJECT in warning for warning in warnings_of(output))


def test_a_0_2_0_daily_state_starts_at_its_day_minus_the_lookback(http_mocker: HttpMocker) -> None:
    # Given: 0.2.0 saved only the day 2025-12-20; with the 3-day lookback the first day delivered is
    # 2025-12-17, so the request starts at the baseline day 2025-12-16
    http_mocker.post(
        ConvertRequestBuilder.started_experiences(A).build(),
        a_list_response("experiences").with_records(
            [an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=T + 5 * DAY,
                           goals=[{"id": 12, "name": "Newsletter", "type": "clicks_link"}])]
        ).build(),
    )
    http_mocker.post(
        ConvertRequestBuilder.experience_report(5, "daily_report", A)
        .with_body(goal=12, metric="conversion_rate", report_type="non_cumulative", utc_offset=0, start_time=1_765_843_200)
        .with_partition(end_time=None)
        .build(),
        a_daily_report_response(12),
    )

    # When
    output = read_stream(config(A), "daily_reports", SyncMode.incremental, state={"use_global_cursor": True, "state": {"day": "2025-12-20"}})

    # Then: the report cursor is the project's now, the experience's ran_until (later than the migrated day)
    assert {m.record.data["day"] for m in output.records} == {"2025-12-22"}
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == report_cursors(
        {A: T + 5 * DAY}, daily_report_metrics="avg_products_ordered_per_visitor,avg_revenue_per_visitor,conversion_rate")


def test_a_state_this_version_cannot_read_restarts_the_stream_with_a_warning(http_mocker: HttpMocker) -> None:
    # Given: a cursor of a format no version wrote; the stream is read as on a first sync
    http_mocker.post(
        ConvertRequestBuilder.newest_history_event(A).build(),
        a_list_response("change_history").with_records([a_change_event(9, NEWEST_A, "goal", 1)]).build(),
    )
    http_mocker.post(goals(A).build(), a_list_response("goals").with_records(records_with_ids("goals", [1, 2])).build())

    # When
    output = read_stream(config(A), "goals", SyncMode.incremental, state={"legacy_cursor": "2020-01-01"})

    # Then
    assert [m.record.data["changed_at"] for m in output.records] == [NEWEST_A, NEWEST_A]
    assert warnings_of(output) == [
        "The saved state of stream 'goals' has a format this version does not use; the stream starts a full read."
    ]
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == history_cursors({A: NEWEST_A})


# What 1.0.1 saved for the history streams (keyed by ``id`` then): per-project and per-experience
# ``timestamp`` cursors, times Convert returned. Keys changed to ``event_id``; the cursors stay valid.
CHANGE_HISTORY_1_0_1 = {"states": [{"partition": {"project_id": A}, "cursor": {"timestamp": str(T)}}], "use_global_cursor": False}
EXPERIENCE_HISTORY_1_0_1 = {
    "states": [{"partition": {"experience_id": 31, "project_id": A}, "cursor": {"timestamp": str(T)}}],
    "use_global_cursor": False,
    "parent_state": {"object_changes": {"states": [{"partition": {"project_id": A}, "cursor": {"timestamp": str(T)}}],
                                        "use_global_cursor": False}},
}


def test_a_1_0_1_change_history_state_continues_from_its_second_with_keyed_events(http_mocker: HttpMocker) -> None:
    # Given: events after, at and before the saved second
    http_mocker.post(ConvertRequestBuilder.change_history(A).page(1).build(), history_of(A, T + 5, T, T - 5))

    # When
    output = read_stream(config(A), "change_history", SyncMode.incremental, state=CHANGE_HISTORY_1_0_1)

    # Then: no warning, no full read: from the saved second on, each event with its key
    assert [m.record.data["timestamp"] for m in output.records] == [T + 5, T]
    assert all(m.record.data["event_id"] for m in output.records)
    assert warnings_of(output) == []
    assert cursors_by_project(output.most_recent_state.stream_state.__dict__) == {A: {"timestamp": str(T + 5)}}


def test_a_1_0_1_experience_change_history_state_continues_per_experience(http_mocker: HttpMocker) -> None:
    # Given: nothing new in the project history; experience 31 (running) has events after, at and before its cursor
    given_the_experience_events(http_mocker, [])
    given_the_newest_event(http_mocker, T)
    given_the_index(http_mocker, [an_indexed_experience(31, status="active")])
    http_mocker.post(experience_history(31).build(), a_list_response("experience_change_history").with_records(
        [experience_event(1, T + 5), experience_event(2, T), experience_event(3, T - 5)]).build())

    # When
    output = read_stream(config(A), "experience_change_history", SyncMode.incremental, state=EXPERIENCE_HISTORY_1_0_1)

    # Then
    assert [(m.record.data["experience_id"], m.record.data["timestamp"]) for m in output.records] == [(31, T + 5), (31, T)]
    assert all(m.record.data["event_id"] for m in output.records)
    assert warnings_of(output) == []
