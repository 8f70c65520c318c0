"""Several projects in one connection: each configured project is read as if it were the only one.

A read of two listed projects makes, per project, exactly the requests that project needs on its own;
every record names its project; the state keeps one cursor per project. A project without a cursor of
its own (one added to the config, or after a switch from another project) is read in full, with one
warning naming it, and another project's cursor never decides what it reads.
"""

import functools
from typing import List

import pytest

from airbyte_cdk.models import Level, SyncMode
from airbyte_cdk.test.entrypoint_wrapper import discover
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest
from airbyte_cdk.test.mock_http.response_builder import FieldPath

from source_convert.source import SourceConvert
from unit_tests.mock_server.config import OTHER_PROJECT_ID, PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import (
    a_change_event,
    a_daily_report_response,
    a_list_response,
    a_record,
    a_report_response,
    an_experience,
    records_with_ids,
)
from unit_tests.mock_server.runner import read_stream
from unit_tests.mock_server.states import (
    changed_list_state,
    cursors_by_project,
    history_cursors,
    per_project,
    report_cursors,
)

A, B = PROJECT_ID, OTHER_PROJECT_ID
BOTH = f"{A}, {B}"
DAY = 86400
T = 1_766_000_000  # 2025-12-17T19:33:20Z
NEWEST_A, NEWEST_B = 1_766_500_000, 1_766_400_000  # each project's newest history event
GOAL_STATUSES = ["active", "archived"]
CLICK_GOAL = {"id": 12, "name": "Newsletter", "type": "clicks_link"}


def config(projects: str = BOTH):
    return ConfigBuilder().with_projects(projects).with_start_date("2025-12-01").build()


def warnings_of(output) -> List[str]:
    return [message.log.message for message in output.logs if message.log.level == Level.WARN]


def warnings_naming(output, project: str) -> List[str]:
    return [warning for warning in warnings_of(output) if project in warning]


def given_the_newest_event(http_mocker: HttpMocker, project: str, timestamp: int) -> HttpRequest:
    request = ConvertRequestBuilder.newest_history_event(project).build()
    http_mocker.post(request, a_list_response("change_history").with_records([a_change_event(9, timestamp, "goal", 1)]).build())
    return request


def goals_page(project: str, page: int = 1) -> ConvertRequestBuilder:
    return ConvertRequestBuilder.project_list("goals", project=project).page(page).with_partition(status=GOAL_STATUSES)


def given_the_goals(http_mocker: HttpMocker, project: str, ids, **partition) -> HttpRequest:
    request = goals_page(project).with_partition(**partition).build()
    http_mocker.post(request, a_list_response("goals").with_records(records_with_ids("goals", ids)).build())
    return request


def goals_read(output):
    return sorted((m.record.data["project_id"], m.record.data["id"], m.record.data["changed_at"]) for m in output.records)


def events_of(project: str, *timestamps: int, first_id: int = 1):
    return [
        a_change_event(first_id + index, value, "goal", 400001).with_field(FieldPath("project_id"), int(project))
        for index, value in enumerate(timestamps)
    ]


def history_page(project: str) -> ConvertRequestBuilder:
    return ConvertRequestBuilder.change_history(project).page(1)


# ---------------------------------------------------------------------- keys


@functools.lru_cache(maxsize=1)
def discovered():
    output = discover(SourceConvert(config=config()), config())
    assert output.errors == []
    return {entry.name: entry for entry in output.catalog.catalog.streams}


@pytest.mark.parametrize(
    "stream, key",
    [
        *[(name, ["project_id", "id"]) for name in ("goals", "audiences", "locations", "hypotheses", "knowledge_bases",
                                                     "observations", "features", "tags", "domains")],
        # history events have no id: each is keyed by its digest (event_id) within its project or experience
        ("change_history", ["project_id", "event_id"]), ("experience_change_history", ["experience_id", "event_id"]),
        # experience ids are system-wide (documented); variations are keyed by their experience
        ("experiences", ["id"]), ("experience_details", ["id"]), ("variations", ["experience_id", "id"]),
        ("aggregated_reports", ["experience_id", "goal_id", "variation_id", "metric"]),
        ("segment_reports", ["experience_id", "goal_id", "variation_id", "metric", "segment_type", "segment_value"]),
        ("daily_reports", ["experience_id", "goal_id", "variation_id", "day", "metric"]),
        ("projects", ["id"]),
    ],
)
def test_objects_whose_ids_are_not_documented_as_account_wide_unique_are_keyed_by_their_project(
    http_mocker: HttpMocker, stream, key
) -> None:
    # When: discover (no request: none is mocked, and the first discover runs under this test's mock)
    found = discovered()[stream]

    # Then
    assert found.source_defined_primary_key == [[field] for field in key]
    properties = found.json_schema["properties"]
    assert all(field in properties for field in key)  # a destination needs its key columns declared
    assert stream == "projects" or properties["project_id"]["type"] == ["null", "integer"]


# ---------------------------------------------------------------------- (1) each project on its own


def test_a_first_sync_of_two_projects_makes_each_project_s_requests_once(http_mocker: HttpMocker) -> None:
    # Given: per project its newest event and its goals; project A's list has two pages, B's one, and
    # both have a goal 1 (goal ids are not documented as unique across projects)
    newest = [given_the_newest_event(http_mocker, A, NEWEST_A), given_the_newest_event(http_mocker, B, NEWEST_B)]
    pages = [goals_page(A, 1).build(), goals_page(A, 2).build()]
    http_mocker.post(pages[0], a_list_response("goals").with_records(records_with_ids("goals", range(1, 51))).with_items_count(51).build())
    http_mocker.post(pages[1], a_list_response("goals").with_records(records_with_ids("goals", [51])).with_items_count(51).build())
    b_list = given_the_goals(http_mocker, B, [1, 2])

    # When
    output = read_stream(config(), "goals", SyncMode.incremental)

    # Then: one request of each, records stamped with their own project and its newest event
    for request in newest + pages + [b_list]:
        http_mocker.assert_number_of_calls(request, 1)
    assert output.errors == []
    assert goals_read(output) == sorted(
        [(int(A), goal, NEWEST_A) for goal in range(1, 52)] + [(int(B), 1, NEWEST_B), (int(B), 2, NEWEST_B)]
    )
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == history_cursors({A: NEWEST_A, B: NEWEST_B})
    assert warnings_of(output) == []


def test_a_later_sync_reads_each_project_s_history_from_its_own_cursor(http_mocker: HttpMocker) -> None:
    # Given: A saved T, B saved a day earlier. A's history has one new and one already-synced event; B's
    # event is older than A's cursor but newer than B's, so only B's own cursor can tell it is new. It has
    # the same event id as A's (history ids are not documented as unique across projects).
    http_mocker.post(
        ConvertRequestBuilder.object_changes("goal", A).build(),
        a_list_response("change_history").with_records(
            [a_change_event(31, T + 10, "goal", 11), a_change_event(30, T - 10, "goal", 12)]
        ).build(),
    )
    http_mocker.post(
        ConvertRequestBuilder.object_changes("goal", B).build(),
        a_list_response("change_history").with_records([a_change_event(31, T - DAY + 5, "goal", 21)]).build(),
    )
    given_the_goals(http_mocker, A, [11], only=[11])
    given_the_goals(http_mocker, B, [21], only=[21])

    # When
    output = read_stream(config(), "goals", SyncMode.incremental, state=changed_list_state({A: T, B: T - DAY}))

    # Then
    assert goals_read(output) == [(int(A), 11, T + 10), (int(B), 21, T - DAY + 5)]
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == history_cursors({A: T + 10, B: T - DAY + 5})
    assert warnings_of(output) == []


def test_change_history_keeps_one_cursor_per_project(http_mocker: HttpMocker) -> None:
    # Given: each project's history, newest first, back past the start date; the event ids repeat across projects
    start = 1_764_547_200  # 2025-12-01
    http_mocker.post(history_page(A).build(), a_list_response("change_history").with_records(events_of(A, T + 5, start - 1)).build())
    http_mocker.post(history_page(B).build(), a_list_response("change_history").with_records(events_of(B, T - 5, start - 1)).build())

    # When
    output = read_stream(config(), "change_history", SyncMode.incremental)

    # Then
    assert sorted((m.record.data["project_id"], m.record.data["timestamp"]) for m in output.records) == [(int(A), T + 5), (int(B), T - 5)]
    assert cursors_by_project(output.most_recent_state.stream_state.__dict__) == {
        A: {"timestamp": str(T + 5)}, B: {"timestamp": str(T - 5)},
    }


def test_the_reports_of_two_projects_come_from_each_project_s_experiences(http_mocker: HttpMocker) -> None:
    # Given: experience 5 in project A, 8 in project B
    for project, experience, ran_until in ((A, 5, T + 100), (B, 8, T + 200)):
        http_mocker.post(
            ConvertRequestBuilder.started_experiences(project).build(),
            a_list_response("experiences").with_records(
                [an_experience(experience, status="active", start_time=T - 10 * DAY, ran_until=ran_until)]
            ).build(),
        )
        http_mocker.post(
            ConvertRequestBuilder.experience_report(experience, "aggregated_report", project).with_body(utc_offset=0).build(),
            a_report_response("aggregated_report"),
        )

    # When
    output = read_stream(config(), "aggregated_reports", SyncMode.incremental)

    # Then
    assert sorted({(m.record.data["project_id"], m.record.data["experience_id"]) for m in output.records}) == [(int(A), 5), (int(B), 8)]
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == report_cursors({A: T + 100, B: T + 200})


# ---------------------------------------------------------------------- (2) a project added to the config


def test_a_project_added_to_the_config_is_read_in_full_and_the_other_incrementally(http_mocker: HttpMocker) -> None:
    # Given: a saved cursor for A only; B was just added
    http_mocker.post(
        ConvertRequestBuilder.object_changes("goal", A).build(),
        a_list_response("change_history").with_records([a_change_event(31, T + 10, "goal", 11)]).build(),
    )
    a_changed = given_the_goals(http_mocker, A, [11], only=[11])
    b_newest = given_the_newest_event(http_mocker, B, NEWEST_B)
    b_list = given_the_goals(http_mocker, B, [1, 2])

    # When: no history of B and no newest event of A is mocked (either would fail the test)
    output = read_stream(config(), "goals", SyncMode.incremental, state=changed_list_state({A: T}))

    # Then
    for request in (a_changed, b_newest, b_list):
        http_mocker.assert_number_of_calls(request, 1)
    assert goals_read(output) == [(int(A), 11, T + 10), (int(B), 1, NEWEST_B), (int(B), 2, NEWEST_B)]
    assert warnings_naming(output, B) == [
        f"Stream 'goals': project(s) {B} have no saved change-history cursor of their own; they are read in full."
    ]
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == history_cursors({A: T + 10, B: NEWEST_B})


def test_a_project_added_to_change_history_starts_at_the_start_date_not_at_the_other_s_cursor(http_mocker: HttpMocker) -> None:
    # Given: A's cursor T as the CDK saves it, with its global cursor beside it; B's events are older than T
    http_mocker.post(history_page(A).build(), a_list_response("change_history").with_records(events_of(A, T + 5, T - 5)).build())
    http_mocker.post(
        history_page(B).build(), a_list_response("change_history").with_records(events_of(B, T - 5, T - 10 * DAY, first_id=10)).build()
    )
    saved = {**per_project("timestamp", {A: T}), "state": {"timestamp": str(T)}, "lookback_window": 1}

    # When
    output = read_stream(config(), "change_history", SyncMode.incremental, state=saved)

    # Then: A from its cursor on, B back to the start date
    assert sorted((m.record.data["project_id"], m.record.data["timestamp"]) for m in output.records) == [
        (int(A), T + 5), (int(B), T - 10 * DAY), (int(B), T - 5),
    ]
    assert cursors_by_project(output.most_recent_state.stream_state.__dict__) == {
        A: {"timestamp": str(T + 5)}, B: {"timestamp": str(T - 5)},
    }


def test_a_project_added_to_the_reports_reads_all_its_started_experiences(http_mocker: HttpMocker) -> None:
    # Given: A saved ran_until T; both projects have an experience that stopped 60 days before T
    for project, experience in ((A, 6), (B, 9)):
        http_mocker.post(
            ConvertRequestBuilder.started_experiences(project).build(),
            a_list_response("experiences").with_records(
                [an_experience(experience, status="completed", start_time=T - 90 * DAY, end_time=T - 60 * DAY, ran_until=T - 60 * DAY)]
            ).build(),
        )
    http_mocker.post(
        ConvertRequestBuilder.experience_report(9, "aggregated_report", B).with_body(utc_offset=0).build(),
        a_report_response("aggregated_report"),
    )
    state = {"use_global_cursor": True, "state": {"ran_until": str(T)}, "parent_state": report_cursors({A: T})}

    # When: no report of A's experience 6 is mocked
    output = read_stream(config(), "aggregated_reports", SyncMode.incremental, state=state)

    # Then: A's old experience is left out by A's window, B's is read
    assert {(m.record.data["project_id"], m.record.data["experience_id"]) for m in output.records} == {(int(B), 9)}
    assert warnings_naming(output, B) == [
        f"Stream 'aggregated_reports': project(s) {B} have no saved report cursor of their own; all their started experiences are read."
    ]
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == report_cursors({A: T, B: T - 60 * DAY})


def test_knowledge_bases_of_an_added_project_are_read_whole_and_the_other_s_from_its_cursor(http_mocker: HttpMocker) -> None:
    # Given: A saved T; both projects have knowledge bases 1 and 2 (ids repeat across projects)
    def page_of(project):
        return ConvertRequestBuilder.project_list("knowledge-bases", sort_by=None, project=project).with_body(
            sort_by="updated_at", sort_direction="desc", status=["active", "archived"]
        ).page(1)

    def updated(*pairs):
        return [a_record("knowledge_bases", cursor_field="updated_at").with_id(identifier).with_cursor(value) for identifier, value in pairs]

    http_mocker.post(page_of(A).build(), a_list_response("knowledge_bases").with_records(updated((2, T + 9), (1, T - 9))).build())
    http_mocker.post(page_of(B).build(), a_list_response("knowledge_bases").with_records(updated((2, T - 5), (1, T - 9))).build())
    saved = {**per_project("updated_at", {A: T}), "state": {"updated_at": str(T)}}

    # When
    output = read_stream(config(), "knowledge_bases", SyncMode.incremental, state=saved)

    # Then: A's unchanged one is left out by A's cursor; all of B's arrive
    assert sorted((m.record.data["project_id"], m.record.data["id"]) for m in output.records) == [(int(A), 2), (int(B), 1), (int(B), 2)]
    assert cursors_by_project(output.most_recent_state.stream_state.__dict__) == {
        A: {"updated_at": str(T + 9)}, B: {"updated_at": str(T - 5)},
    }


# ---------------------------------------------------------------------- (3) a project switch


def test_after_a_switch_to_another_project_it_is_read_in_full_and_the_old_cursor_is_kept_for_its_own_project(
    http_mocker: HttpMocker,
) -> None:
    # Given: the state holds only A's cursor, the config now names only B
    b_newest = given_the_newest_event(http_mocker, B, NEWEST_B)
    b_list = given_the_goals(http_mocker, B, [1, 2])

    # When: nothing of A and no history of B is mocked
    output = read_stream(config(B), "goals", SyncMode.incremental, state=changed_list_state({A: NEWEST_A}))

    # Then: B in full, from B's newest event; A's cursor stays A's and is offered to no one
    http_mocker.assert_number_of_calls(b_newest, 1)
    http_mocker.assert_number_of_calls(b_list, 1)
    assert goals_read(output) == [(int(B), 1, NEWEST_B), (int(B), 2, NEWEST_B)]
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == history_cursors({A: NEWEST_A, B: NEWEST_B})
    assert len(warnings_naming(output, B)) == 1


def test_after_a_switch_change_history_reads_the_new_project_back_to_the_start_date(http_mocker: HttpMocker) -> None:
    # Given: A's cursor (and the CDK's global cursor) at T; B's history before T
    http_mocker.post(
        history_page(B).build(), a_list_response("change_history").with_records(events_of(B, T - 5, T - 10 * DAY, 1_764_547_199)).build()
    )
    saved = {**per_project("timestamp", {A: T}), "state": {"timestamp": str(T)}}

    # When
    output = read_stream(config(B), "change_history", SyncMode.incremental, state=saved)

    # Then: every event of B since the start date; A's cursor is kept for A
    assert [(m.record.data["project_id"], m.record.data["timestamp"]) for m in output.records] == [(int(B), T - 5), (int(B), T - 10 * DAY)]
    assert cursors_by_project(output.most_recent_state.stream_state.__dict__) == {A: {"timestamp": str(T)}, B: {"timestamp": str(T - 5)}}


def test_after_a_switch_the_daily_reports_of_the_new_project_start_at_the_start_date(http_mocker: HttpMocker) -> None:
    # Given: A's saved ran_until T would leave out an experience that stopped 60 days before; B has one
    http_mocker.post(
        ConvertRequestBuilder.started_experiences(B).build(),
        a_list_response("experiences").with_records(
            [an_experience(9, status="completed", start_time=T - 90 * DAY, end_time=T - 60 * DAY, ran_until=T - 60 * DAY,
                           goals=[CLICK_GOAL])]
        ).build(),
    )
    baseline = 1_764_460_800  # 2025-11-30T00:00Z, the day before the start date
    http_mocker.post(
        ConvertRequestBuilder.experience_report(9, "daily_report", B)
        .with_body(goal=12, metric="conversion_rate", report_type="non_cumulative", utc_offset=0, start_time=baseline)
        .with_partition(end_time=None)
        .build(),
        a_daily_report_response(12),
    )
    state = {"use_global_cursor": True, "state": {"day": "2025-12-16"}, "parent_state": report_cursors({A: T})}

    # When
    output = read_stream(config(B), "daily_reports", SyncMode.incremental, state=state)

    # Then
    assert {(m.record.data["project_id"], m.record.data["experience_id"], m.record.data["day"]) for m in output.records} == {
        (int(B), 9, "2025-12-22"),
    }
    # A, not read, keeps its cursor as saved; B's records the metrics it was read with
    expected = report_cursors({A: T, B: T - 60 * DAY},
                              daily_report_metrics="avg_products_ordered_per_visitor,avg_revenue_per_visitor,conversion_rate")
    expected["started_experiences"]["states"][0]["cursor"] = {"ran_until": str(T), "utc_offset": "0"}
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == expected
