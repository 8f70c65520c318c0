"""project_state.py: cursors kept per project in the CDK's per-partition format, read and written."""

from types import SimpleNamespace

import pytest

from airbyte_cdk.sources.types import StreamSlice

from source_convert.components.project_state import (
    ProjectPartitions,
    as_int,
    configured_projects,
    partitions_by_project,
    project_cursors,
    project_state,
)


def entry(project, **cursor):
    return {"partition": {"project_id": project}, "cursor": cursor}


@pytest.mark.parametrize("value, number", [(5, 5), ("5", 5), (5.0, 5), ("1767225600", 1767225600), (True, None), ("5.5", None),
                                           ("", None), (None, None), ("٣", None)])
def test_a_cursor_value_is_read_as_the_cdk_saves_it(value, number):
    assert as_int(value) == number


def test_each_project_s_cursor_is_read_from_its_own_entry():
    state = {"states": [entry("200002", timestamp="10"), entry("200003", timestamp=20)], "use_global_cursor": False,
             "state": {"timestamp": "99"}}
    assert project_cursors(state, "timestamp") == {"200002": 10, "200003": 20}


@pytest.mark.parametrize(
    "state",
    [None, {}, {"timestamp": "10"}, {"states": [entry("200002", ran_until="10")]}, {"states": [{"partition": {}, "cursor": {"timestamp": "1"}}]},
     {"states": ["nope", {"partition": "200002", "cursor": {}}]}, {"states": [entry("200002", timestamp="x")]}],
)
def test_entries_without_a_project_or_a_usable_cursor_give_no_cursor(state):
    assert project_cursors(state, "timestamp") == {}


def test_a_project_id_given_as_a_number_is_read_as_a_string():
    assert project_cursors({"states": [{"partition": {"project_id": 200002}, "cursor": {"timestamp": "1"}}]}, "timestamp") == {"200002": 1}


def test_the_state_written_has_one_entry_per_project_with_a_cursor_and_nothing_global():
    assert project_state({"200003": 20, "200002": 10, "200004": None}, "timestamp") == {
        "states": [entry("200002", timestamp="10"), entry("200003", timestamp="20")],
        "use_global_cursor": False,
    }


def test_what_is_written_reads_back():
    cursors = {"200002": 10, "200003": 20}
    assert project_cursors(project_state(cursors, "ran_until"), "ran_until") == cursors


def test_the_configured_projects_are_the_normalized_config_s():
    assert configured_projects({"project_ids": ["200002", 200003]}) == ["200002", "200003"]
    assert configured_projects({"project_id": "*", "project_ids": []}) == []


def partition(project):
    return SimpleNamespace(to_slice=lambda: StreamSlice(partition={"project_id": project}, cursor_slice={}))


def test_partitions_are_found_by_their_project():
    first, second = partition("200002"), partition("200003")
    assert partitions_by_project([first, second]) == {"200002": first, "200003": second}


def test_a_parent_s_partitions_are_generated_once_on_first_use():
    generated = []

    def generate_partitions():
        generated.append(1)
        return iter([partition("200002"), partition("200003")])

    partitions = ProjectPartitions(SimpleNamespace(generate_partitions=generate_partitions))
    assert generated == []
    assert partitions["200003"].to_slice().partition == {"project_id": "200003"}
    assert partitions["200002"].to_slice().partition == {"project_id": "200002"}
    assert generated == [1]
