"""The change-history pieces that need no HTTP: finding the changed object's id in an event (whose
schema Convert does not document), and the body a changed-objects partition asks for. The router's
slicing runs through the CDK in mock_server/test_experiences.py and its siblings, per project in
mock_server/test_projects_scope.py."""

import pytest

from airbyte_cdk.sources.types import StreamSlice

from source_convert.components.changes import (
    ChangedObjectReference,
    ChangedObjectsPartitionRouter,
    changed_object_id,
)


@pytest.mark.parametrize(
    "event, found",
    [
        ({"id": 1, "object_id": 7}, 7),
        ({"object": "goal", "object_id": "7"}, 7),  # the contract: a string
        ({"object": "goal", "object_id": " 12 "}, 12),
        ({"id": 1, "objectId": "7"}, 7),
        ({"id": 1, "goal_id": 7}, 7),
        ({"id": 1, "goalId": 7}, 7),
        ({"id": 1, "object": {"id": 7, "name": "Purchase"}}, 7),
        ({"id": 1, "goal": {"id": 7}}, 7),
        ({"id": 1, "object_id": 7, "goal_id": 8}, 7),  # object_id first
        ({"id": 1, "object_id": None, "goalId": 8}, 8),
        ({"id": 1, "object_id": "  ", "goal": {"id": 9}}, 9),
    ],
)
def test_the_changed_goal_is_found_under_any_plausible_key(event, found):
    assert changed_object_id(event, "goal") == found


@pytest.mark.parametrize(
    "event",
    [{"id": 1}, {"id": 1, "object": "goal"}, {"id": 1, "object_id": True}, {"id": 1, "object": {"name": "x"}},
     {"id": 1, "experience_id": 5}],
)
def test_the_event_s_own_id_and_other_objects_ids_are_never_taken(event):
    assert changed_object_id(event, "goal") is None


@pytest.mark.parametrize("object_id", ["exp-7", "7.0", "-7", "\u00b2", "", "0x1f"])
def test_an_object_id_that_is_not_a_whole_number_names_no_object(object_id):
    assert changed_object_id({"object": "goal", "object_id": object_id}, "goal") is None


@pytest.mark.parametrize("part", ["variation", "change"])
def test_a_variation_or_change_event_names_its_experience_by_parent_object_id(part):
    event = {"object": part, "object_id": "700002", "parent_object_id": "300001"}
    assert changed_object_id(event, "experience") == 300001
    # without its experience the event names no experience (never the variation's id for one)
    assert changed_object_id({**event, "parent_object_id": None}, "experience") is None


def test_an_object_mapping_is_not_mistaken_for_an_object_type():
    assert changed_object_id({"object": {"type": "experience", "id": "7"}}, "experience") == 7


def test_an_experience_event_is_its_own_object():
    assert changed_object_id({"object": "experience", "object_id": "300001", "parent_object_id": None}, "experience") == 300001


def test_a_two_word_object_name_gives_a_camel_case_key():
    assert changed_object_id({"knowledgeBaseId": 3}, "knowledge_base") == 3
    assert changed_object_id({"knowledge_base_id": 4}, "knowledge_base") == 4


def test_the_reference_carries_the_id_or_only_the_keys_of_an_event_without_one():
    reference = ChangedObjectReference(config={}, parameters={"history_object": "goal"}, object_name="{{ parameters.history_object }}")
    found = {"id": 1, "goal_id": 7, "timestamp": 5}
    reference.transform(found)
    assert found["changed_object"] == {"id": 7}
    unknown = {"id": 2, "timestamp": 5, "target": "secret value"}
    reference.transform(unknown)
    assert unknown["changed_object"] == {"id": None, "keys": ["id", "target", "timestamp"]}


class _Parent:
    """The router needs a parent config to exist; these tests ask it only for request bodies."""


def router(**parameters):
    return ChangedObjectsPartitionRouter(parent_stream_configs=[_Parent()], config={}, parameters={"name": "goals", **parameters})


def body_for(made, partition):
    return made.get_request_body_json(stream_slice=StreamSlice(partition=partition, cursor_slice={}))


def test_a_partition_asks_for_its_ids_in_every_status_without_its_bookkeeping():
    made = router(statuses=["active", "archived"])
    assert body_for(made, {"only": (3, 7), "changed_at": 1766, "parent_slice": {}}) == {
        "status": ["active", "archived"],
        "only": [3, 7],
    }


def test_a_refresh_partition_s_filter_replaces_the_statuses():
    editable = ["draft", "active", "paused", "completed", "scheduled"]
    made = router(statuses=editable + ["archived", "deleted"], refresh_filter={"status": editable})
    assert body_for(made, {"project_id": "200002", "status": editable, "changed_at": 1766}) == {"status": editable}


def test_the_partition_s_project_goes_into_the_url_never_into_the_body():
    made = router(statuses=["active", "archived"])
    assert body_for(made, {"project_id": "200003", "only": [3], "changed_at": 1766}) == {"status": ["active", "archived"], "only": [3]}


def test_a_whole_list_partition_without_statuses_adds_nothing():
    assert body_for(router(), {"changed_at": 1766}) == {}
