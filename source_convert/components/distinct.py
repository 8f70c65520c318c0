"""Record filter that emits each primary key once per partition of a sync (paging shifts repeat records)."""

from __future__ import annotations

import threading
from dataclasses import InitVar, dataclass, field
from typing import Any, Iterable, Mapping, Optional, Set

from airbyte_cdk.sources.declarative.extractors.record_filter import RecordFilter
from airbyte_cdk.sources.types import StreamSlice, StreamState


@dataclass
class DistinctRecordFilter(RecordFilter):
    """Drops a record whose ``key_field`` was already emitted in this sync (after the usual ``condition``).

    Page-number paging over a list that grows at its head (change history, newest first) shows some
    records twice when new ones arrive between two pages; this keeps the output exactly-once.
    """

    key_field: str = "id"
    _seen: Set[Any] = field(default_factory=set, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def filter_records(
        self,
        records: Iterable[Mapping[str, Any]],
        stream_state: StreamState,
        stream_slice: Optional[StreamSlice] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Iterable[Mapping[str, Any]]:
        for record in super().filter_records(records, stream_state, stream_slice, next_page_token):
            key = record.get(self.key_field)
            if key is not None:
                with self._lock:
                    if key in self._seen:
                        continue
                    self._seen.add(key)
            yield record
