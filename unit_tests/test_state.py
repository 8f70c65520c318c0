"""Incoming state: usable shapes are kept, others reset to a full read of that stream only."""

import pytest

from airbyte_cdk.models import AirbyteStateMessage, AirbyteStateType, AirbyteStreamState, StreamDescriptor
from airbyte_cdk.models.airbyte_protocol import AirbyteStateBlob

from source_convert.state import sanitize_state, usable


@pytest.mark.parametrize(
    "state",
    [
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
def test_states_this_version_writes_are_usable(state):
    assert usable(state)


@pytest.mark.parametrize(
    "state",
    [
        {"legacy_cursor": "2020-01-01"},
        {"timestamp": "yesterday"},
        {"day": "2026-13-45"},
        {"use_global_cursor": True, "state": {"changed_at": "x"}},
        {"use_global_cursor": True, "parent_state": {"object_changes": {"timestamp": "2020-01-01"}}},
        {"states": [{"partition": {}, "cursor": {"day": "not-a-day"}}]},
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


def test_sanitize_resets_only_the_unusable_stream():
    kept = sanitize_state([message("change_history", {"timestamp": "5"}), message("experiences", {"legacy": 1})])
    assert kept[0].stream.stream_state.__dict__ == {"timestamp": "5"}
    assert kept[1].stream.stream_descriptor.name == "experiences"
    assert kept[1].stream.stream_state.__dict__ == {}


def test_per_partition_state_becomes_the_global_cursor():
    old = {
        "use_global_cursor": False,
        "states": [{"partition": {"experience_id": 1, "goal_id": 2}, "cursor": {"day": "2026-11-01"}}],
        "state": {"day": "2026-11-20"},
        "lookback_window": 40,
    }
    kept = sanitize_state([message("daily_reports", old)])
    assert kept[0].stream.stream_state.__dict__ == {"use_global_cursor": True, "state": {"day": "2026-11-20"}, "lookback_window": 40}


def test_per_partition_state_without_a_global_cursor_starts_afresh():
    old = {"use_global_cursor": False, "states": [{"partition": {"experience_id": 1, "goal_id": 2}, "cursor": {"day": "2026-11-01"}}]}
    kept = sanitize_state([message("daily_reports", old)])
    assert kept[0].stream.stream_state.__dict__ == {}
