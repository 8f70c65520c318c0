"""SettledParentStateRouter: the parent cursor it reports stays as saved until every partition is generated."""

from types import SimpleNamespace

from airbyte_cdk.sources.types import StreamSlice

from source_convert.components.parent_state import SettledParentStateRouter

SAVED = {"object_changes": {"timestamp": "100"}}
READ = {"object_changes": {"timestamp": "200"}}


class ReadsTheWholeParentFirst(SettledParentStateRouter):
    """Moves the parent cursor (as reading the parent does), then yields two partitions."""

    def settled_slices(self):
        parent = self.parent_stream_configs[0].stream
        parent.cursor.state["timestamp"] = "200"
        yield StreamSlice(partition={"only": [1]}, cursor_slice={})
        yield StreamSlice(partition={"only": [2]}, cursor_slice={})


def router():
    stream = SimpleNamespace(name="object_changes", cursor=SimpleNamespace(state={"timestamp": "100"}))
    parent = SimpleNamespace(incremental_dependency=True, stream=stream)
    return ReadsTheWholeParentFirst(parent_stream_configs=[parent], config={}, parameters={})


def test_while_partitions_are_generated_the_saved_parent_cursor_is_reported():
    made = router()
    reported = [made.get_stream_state() for _ in made.stream_slices()]
    assert reported == [SAVED, SAVED]


def test_once_every_partition_is_generated_the_new_parent_cursor_is_reported():
    made = router()
    assert made.get_stream_state() == SAVED
    list(made.stream_slices())
    assert made.get_stream_state() == READ


def test_an_abandoned_generation_keeps_reporting_the_saved_state():
    made = router()
    slices = made.stream_slices()
    next(slices)
    slices.close()
    assert made.get_stream_state() == SAVED


class FailsAfterReadingTheParent(ReadsTheWholeParentFirst):
    """Moves the parent cursor, then fails before its partitions are all generated."""

    def settled_slices(self):
        self.parent_stream_configs[0].stream.cursor.state["timestamp"] = "200"
        yield StreamSlice(partition={"only": [1]}, cursor_slice={})
        raise RuntimeError("the parent's next page failed")


def test_a_failed_generation_keeps_reporting_the_saved_state():
    stream = SimpleNamespace(name="object_changes", cursor=SimpleNamespace(state={"timestamp": "100"}))
    made = FailsAfterReadingTheParent(parent_stream_configs=[SimpleNamespace(incremental_dependency=True, stream=stream)],
                                      config={}, parameters={})
    slices = made.stream_slices()
    next(slices)
    try:
        next(slices)
    except RuntimeError:
        pass
    assert made.get_stream_state() == SAVED


def test_the_held_parent_state_is_the_saved_one_while_partitions_are_generated():
    made = router()
    held = []
    for _ in made.stream_slices():
        held.append((made.held_parent_state_by_stream(), made.held_parent_state()))
    assert held == [(SAVED, SAVED["object_changes"])] * 2


def test_outside_a_generation_the_held_parent_state_is_the_parent_s_own():
    made = router()
    assert made.held_parent_state() == {"timestamp": "100"}
    list(made.stream_slices())
    assert made.held_parent_state() == {"timestamp": "200"}


class ReportsItsOwnCursors(ReadsTheWholeParentFirst):
    """A subclass that says what the new parent state is (as the project routers do)."""

    def current_parent_state(self):
        return {"object_changes": {"states": [], "use_global_cursor": False}}


def test_after_the_generation_a_subclass_s_current_parent_state_is_reported():
    stream = SimpleNamespace(name="object_changes", cursor=SimpleNamespace(state={"timestamp": "100"}))
    made = ReportsItsOwnCursors(parent_stream_configs=[SimpleNamespace(incremental_dependency=True, stream=stream)],
                                config={}, parameters={})
    assert [made.get_stream_state() for _ in made.stream_slices()] == [SAVED, SAVED]
    assert made.get_stream_state() == {"object_changes": {"states": [], "use_global_cursor": False}}
