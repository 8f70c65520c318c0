"""A substream router whose saved parent cursor moves only when the whole sync of its partitions completes."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from airbyte_cdk.sources.declarative.partition_routers.substream_partition_router import SubstreamPartitionRouter
from airbyte_cdk.sources.types import StreamSlice, StreamState


@dataclass
class SettledParentStateRouter(SubstreamPartitionRouter):
    """Reports the parent streams' state as it was saved until every partition has been generated.

    The CDK records the parent state seen right after each partition is generated and saves it once
    the partitions generated before it are closed. A router that reads the whole parent before it
    yields (or yields several partitions per parent record) would let the new parent cursor be saved
    while partitions that depend on it are still open: a sync interrupted then would resume past
    changes it never read. Holding the saved state until the last partition is generated makes the
    CDK save the new parent cursor only at the end of a complete sync (``ensure_at_least_one_state_emitted``).

    A generation that fails keeps holding the saved state, so a failed sync never saves a cursor that
    its partitions did not account for. Subclasses implement ``settled_slices`` and
    ``current_parent_state``. The held state is a value of the stream (its ``stream_slices`` runs once
    per sync), replaced whole, never changed in place.
    """

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._held_state: Optional[Mapping[str, StreamState]] = None

    def stream_slices(self) -> Iterable[StreamSlice]:
        self._held_state = copy.deepcopy(super().get_stream_state())
        yield from self.settled_slices()
        # Only a generation that completed lets the new state out: after a failure (or an abandoned
        # generation) the CDK still emits a state, and it must be the one saved by the last sync.
        self._held_state = None

    def settled_slices(self) -> Iterable[StreamSlice]:
        """The partitions."""
        raise NotImplementedError

    def held_parent_state_by_stream(self) -> Optional[Mapping[str, StreamState]]:
        """The parent streams' states as saved by the last sync, by parent stream name."""
        return self._held_state if self._held_state is not None else super().get_stream_state()

    def held_parent_state(self) -> Optional[Mapping[str, Any]]:
        """The first parent stream's state as saved by the last sync."""
        states = self.held_parent_state_by_stream() or {}
        return states.get(self.parent_stream_configs[0].stream.name)

    def get_stream_state(self) -> Optional[Mapping[str, StreamState]]:
        if self._held_state is not None:
            return self._held_state
        return self.current_parent_state()

    def current_parent_state(self) -> Optional[Mapping[str, StreamState]]:
        """The parent state as read so far (subclasses may say otherwise)."""
        return super().get_stream_state()
