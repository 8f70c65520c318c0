"""Incoming state: ``sanitize_state`` keeps the per-stream messages; ``ProjectStateMigration`` (every
incremental stream's state migration) turns each saved state into this version's per-project shape,
restarts a stream whose state it cannot read, and never offers one project's cursor to another."""

import logging

import pytest

from airbyte_cdk.models import AirbyteStateMessage, AirbyteStateType, AirbyteStreamState, StreamDescriptor
from airbyte_cdk.models.airbyte_protocol import AirbyteGlobalState, AirbyteStateBlob

from source_convert.config import validate_config
from source_convert.state import ProjectStateMigration, sanitize_state, usable

A, B = "200002", "200003"
VALID = {"key_id": "kid_1", "key_secret": "secret", "account_id": "100001"}
MIDNIGHT_2026_11_20 = 1_795_132_800


def entry(project, **cursor):
    return {"partition": {"project_id": project}, "cursor": cursor}


def per_project(*entries):
    return {"states": list(entries), "use_global_cursor": False}


@pytest.mark.parametrize(
    "state",
    [
        # this version
        per_project(entry(A, timestamp="1793165394"), entry(B, timestamp="1793165000")),
        {"use_global_cursor": True, "state": {"changed_at": "1795325295"}, "lookback_window": 1,
         "parent_state": {"object_changes": per_project(entry(A, timestamp="1795325295"))}},
        {"use_global_cursor": True, "state": {"day": "2026-11-01"},
         "parent_state": {"started_experiences": per_project(entry(A, ran_until="1793165394"))}},
        {"use_global_cursor": False, "state": {"updated_at": "5"}, "lookback_window": 1, "states": [entry(A, updated_at="5")]},
        # older versions, which the migration carries over
        {"timestamp": "1793165394"},
        {"timestamp": 1793165394},
        {"updated_at": "1793165394"},
        {"use_global_cursor": True, "state": {"ran_until": "1793165394"},
         "parent_state": {"started_experiences": {"ran_until": "1793165394"}}},
        {"use_global_cursor": True, "state": {"changed_at": "1795325295"}, "lookback_window": 1,
         "parent_state": {"object_changes": {"timestamp": "1795325295"}}},
        {"use_global_cursor": False, "states": [{"partition": {"experience_id": 1, "goal_id": 2}, "cursor": {"day": "2026-11-01"}}]},
    ],
)
def test_states_this_version_and_older_ones_wrote_are_usable(state):
    assert usable(state)


@pytest.mark.parametrize(
    "state",
    [
        {"legacy_cursor": "2020-01-01"},
        {"timestamp": "yesterday"},
        {"day": "2026-13-45"},
        {"use_global_cursor": True, "state": {"changed_at": "x"}},
        {"use_global_cursor": True, "parent_state": {"object_changes": {"timestamp": "2020-01-01"}}},
        {"use_global_cursor": True, "parent_state": {"object_changes": per_project(entry(A, timestamp="2020-01-01"))}},
        {"use_global_cursor": True, "parent_state": {"object_changes": {"states": "nope"}}},
        {"use_global_cursor": True, "parent_state": "nope"},
        {"states": [{"partition": {}, "cursor": {"day": "not-a-day"}}]},
        {"states": [{"partition": "200002", "cursor": {"timestamp": "5"}}]},
        {"states": ["nope"]},
        {"states": "nope"},
        ["not", "a", "mapping"],
        # Numbers the CDK's "%s" cursor cannot read back: they would crash the sync, not restart it.
        {"timestamp": "1.5e9"},
        {"use_global_cursor": True, "state": {"changed_at": "99999999999999"},
         "parent_state": {"object_changes": {"timestamp": "99999999999999"}}},
        {"use_global_cursor": True, "state": {"ran_until": "1"}, "parent_state": {"started_experiences": {"ran_until": "1e30"}}},
        {"use_global_cursor": True, "state": {"day": "2026-11-01"}, "lookback_window": "abc"},
        {"use_global_cursor": "yes", "state": {"day": "2026-11-01"}},
        {"timestamp": "-5"},
    ],
)
def test_foreign_states_are_not_usable(state):
    assert not usable(state)


def message(name, state):
    return AirbyteStateMessage(
        type=AirbyteStateType.STREAM,
        stream=AirbyteStreamState(stream_descriptor=StreamDescriptor(name=name), stream_state=AirbyteStateBlob(**state)),
    )


def test_sanitize_keeps_every_stream_message_as_it_is_for_the_migration_to_judge():
    states = [message("change_history", {"timestamp": "5"}), message("experiences", {"legacy": 1})]
    kept = sanitize_state(states)
    assert [(m.stream.stream_descriptor.name, m.stream.stream_state.__dict__) for m in kept] == [
        ("change_history", {"timestamp": "5"}), ("experiences", {"legacy": 1}),
    ]


def test_sanitize_drops_a_global_state_message_with_a_warning(caplog):
    global_message = AirbyteStateMessage(
        type=AirbyteStateType.GLOBAL, global_=AirbyteGlobalState(shared_state=AirbyteStateBlob(), stream_states=[])
    )
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        kept = sanitize_state([global_message, message("tags", {"timestamp": "5"})])
    assert [m.stream.stream_descriptor.name for m in kept] == ["tags"]
    assert "source-convert keeps per-stream state" in caplog.text


def migration(project_id="200002", stream="goals"):
    return ProjectStateMigration(config=validate_config({**VALID, "project_id": project_id}), parameters={"name": stream})


def migrated(state, project_id="200002", stream="goals"):
    made = migration(project_id, stream)
    return made.migrate(state) if made.should_migrate(state) else state


def test_an_empty_state_is_left_alone():
    assert not migration().should_migrate({})


def test_a_state_this_version_wrote_is_kept_as_it_is():
    state = {"use_global_cursor": True, "state": {"changed_at": "9"},
             "parent_state": {"object_changes": per_project(entry(A, timestamp="9"), entry(B, timestamp="8"))}}
    assert migrated(state, f"{A}, {B}") == state


def test_the_cdk_s_global_cursor_beside_per_project_cursors_is_dropped():
    # A project added to the config would start from it, i.e. from another project's cursor.
    state = {"use_global_cursor": False, "state": {"timestamp": "9"}, "lookback_window": 1, "states": [entry(A, timestamp="9")]}
    assert migrated(state, f"{A}, {B}", "change_history") == {"use_global_cursor": False, "lookback_window": 1,
                                                                 "states": [entry(A, timestamp="9")]}


def test_another_project_s_cursor_is_kept_and_never_given_to_the_configured_one():
    # Project switch A -> B: A's entry stays A's (the router reads it only for A); B has none.
    state = {"use_global_cursor": True, "state": {"changed_at": "9"}, "parent_state": {"object_changes": per_project(entry(A, timestamp="9"))}}
    assert migrated(state, B) == state


def test_an_unusable_state_restarts_the_stream_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        assert migrated({"legacy": 1}, stream="experiences") == {}
    assert "The saved state of stream 'experiences' has a format this version does not use; the stream starts a full read." in caplog.text


@pytest.mark.parametrize(
    "old, new",
    [
        ({"timestamp": "5"}, per_project(entry(A, timestamp="5"))),
        ({"updated_at": 5}, per_project(entry(A, updated_at=5))),
        ({"use_global_cursor": True, "state": {"changed_at": "9"}, "lookback_window": 1,
          "parent_state": {"object_changes": {"timestamp": "9"}}},
         {"use_global_cursor": True, "state": {"changed_at": "9"}, "lookback_window": 1,
          "parent_state": {"object_changes": per_project(entry(A, timestamp="9"))}}),
        ({"use_global_cursor": True, "state": {"ran_until": "7"}, "parent_state": {"started_experiences": {"ran_until": "7"}}},
         {"use_global_cursor": True, "state": {"ran_until": "7"},
          "parent_state": {"started_experiences": per_project(entry(A, ran_until="7"))}}),
    ],
)
def test_a_0_3_0_state_continues_as_the_one_configured_project_s(old, new, caplog):
    with caplog.at_level(logging.INFO, logger="airbyte"):
        assert migrated(old) == new
    assert f"it continues as project {A}'s, the one project this connection syncs" in caplog.text


@pytest.mark.parametrize("project_id", [f"{A}, {B}", "*"])
@pytest.mark.parametrize(
    "old",
    [
        {"timestamp": "5"},
        {"use_global_cursor": True, "state": {"changed_at": "9"}, "parent_state": {"object_changes": {"timestamp": "9"}}},
        {"use_global_cursor": True, "state": {"day": "2026-11-20"}},
    ],
)
def test_a_0_3_0_state_with_several_projects_restarts_the_stream_with_a_warning(old, project_id, caplog):
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        assert migrated(old, project_id) == {}
    assert "The saved state of stream 'goals' was written before 1.0.0 and names no project" in caplog.text
    assert "reads every project in full in this sync" in caplog.text


def test_a_0_2_0_daily_state_gets_the_report_cursor_from_its_day():
    # 0.2.0 kept only the day; the report routers now start at the parent's ran_until (minus the lookback):
    # the instant that ends the saved day, which was read to its end.
    old = {"use_global_cursor": True, "state": {"day": "2026-11-20"}}
    assert migrated(old, stream="daily_reports") == {
        "use_global_cursor": True, "state": {"day": "2026-11-20"},
        "parent_state": {"started_experiences": per_project(entry(A, ran_until=str(MIDNIGHT_2026_11_20 + 86400)))},
    }


def test_a_report_cursor_may_record_its_time_zone():
    saved = {"use_global_cursor": True, "state": {"day": "2026-11-20"}, "parent_state": {"started_experiences": per_project(
        entry(A, ran_until=str(MIDNIGHT_2026_11_20), utc_offset="-18000"))}}
    assert migrated(saved, stream="daily_reports") == saved
    broken = {**saved, "parent_state": {"started_experiences": per_project(entry(A, ran_until="1", utc_offset="east"))}}
    assert migrated(broken, stream="daily_reports") == {}


def test_a_report_cursor_may_record_what_it_read():
    saved = {"use_global_cursor": True, "state": {"ran_until": "1"}, "parent_state": {"started_experiences": per_project(
        entry(A, ran_until=str(MIDNIGHT_2026_11_20), utc_offset="0", report_segments="browsers,countries",
              report_segment_countries="", daily_report_metrics="conversion_rate"))}}
    assert migrated(saved, stream="segment_reports") == saved
    broken = {**saved, "parent_state": {"started_experiences": per_project(
        entry(A, ran_until="1", report_segments=["browsers"]))}}
    assert migrated(broken, stream="segment_reports") == {}


def test_a_0_1_0_per_experience_daily_state_continues_from_its_global_day():
    old = {
        "use_global_cursor": False,
        "states": [{"partition": {"experience_id": 1, "goal_id": 2}, "cursor": {"day": "2026-11-01"}}],
        "state": {"day": "2026-11-20"},
        "lookback_window": 40,
    }
    assert migrated(old, stream="daily_reports") == {
        "use_global_cursor": True, "state": {"day": "2026-11-20"}, "lookback_window": 40,
        "parent_state": {"started_experiences": per_project(entry(A, ran_until=str(MIDNIGHT_2026_11_20 + 86400)))},
    }


def test_a_0_1_0_per_experience_state_without_a_global_cursor_starts_afresh():
    old = {"use_global_cursor": False, "states": [{"partition": {"experience_id": 1, "goal_id": 2}, "cursor": {"day": "2026-11-01"}}]}
    assert migrated(old, stream="daily_reports") == {}
