"""Record filter for newest-first feeds: each primary key once per sync, and no record without its cursor."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Set

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.extractors.record_filter import RecordFilter
from airbyte_cdk.sources.types import StreamSlice, StreamState
from airbyte_cdk.utils.traced_exception import AirbyteTracedException


@dataclass
class DistinctRecordFilter(RecordFilter):
    """Drops a record whose ``key_field`` was already emitted in this sync for the same partition (after
    the usual ``condition``). The history streams key on ``event_id`` (built by a transformation that
    runs before this filter), lists with ids on ``id``.

    Page-number paging over a list that grows or reorders at its head (change history, newest first)
    shows some records twice when new ones arrive between two pages; this keeps the output exactly-once.
    Each partition (a project) is a feed of its own, whose ids are not documented as unique across
    projects: a key is remembered per partition, so one project's record never hides another's.
    With ``cursor_field``, a record without a numeric value there fails the sync with a message naming
    the record's keys: the ``condition`` compares that field, and a record it cannot place must not be
    dropped silently.
    """

    condition: str = "{{ True }}"  # the CDK's empty condition would drop every record
    key_field: str = "id"
    cursor_field: Optional[str] = None
    _seen: Set[Any] = field(default_factory=set, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def filter_records(
        self,
        records: Iterable[Mapping[str, Any]],
        stream_state: StreamState,
        stream_slice: Optional[StreamSlice] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        scope = _partition_key(stream_slice)
        for record in super().filter_records(self._placed(records), stream_state, stream_slice, next_page_token):
            value = record.get(self.key_field)
            if value is not None:
                key = (scope, value)
                with self._lock:
                    if key in self._seen:
                        continue
                    self._seen.add(key)
            yield record

    def _placed(self, records: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
        for record in records:
            value = record.get(self.cursor_field) if self.cursor_field else 0
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise AirbyteTracedException(
                    message=f"Convert returned a record without a numeric '{self.cursor_field}' "
                    f"(its keys: {', '.join(sorted(map(str, record)))}); the sync stops rather than skip it.",
                    failure_type=FailureType.system_error,
                )
            yield record


def _partition_key(stream_slice: Optional[StreamSlice]) -> str:
    """The partition a page belongs to, as a hashable value (``""`` without one)."""
    partition = stream_slice.partition if stream_slice is not None else None
    return json.dumps(dict(partition), sort_keys=True, default=str) if partition else ""
