"""Incremental re-reads driven by Convert's change history (Convert objects have no ``updated_at``).

The change-history record schema is not documented, so the changed object's id is looked up under
every plausible name; an event that names no id makes that stream re-read its whole list.
"""

from __future__ import annotations

import logging
from dataclasses import InitVar, dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.declarative.partition_routers.substream_partition_router import ParentStreamConfig
from airbyte_cdk.sources.declarative.transformations.transformation import RecordTransformation
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components.parent_state import SettledParentStateRouter

LOGGER = logging.getLogger("airbyte")

CHANGED_AT = "changed_at"
CHANGED_OBJECT = "changed_object"


def _is_id(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value.strip() != "")


def changed_object_id(event: Mapping[str, Any], object_name: str) -> Optional[Any]:
    """The id of the object a change-history event names, under any plausible key; ``None`` if none fits.

    Tried in order: ``object_id``, ``objectId``, ``<object>_id``, ``<object>Id``, and an ``object`` or
    ``<object>`` mapping with an ``id``. The event's own ``id`` is never taken for the object's.
    """
    camel = object_name[:1].lower() + object_name.title().replace("_", "")[1:]
    for key in ("object_id", "objectId", f"{object_name}_id", f"{camel}Id"):
        if _is_id(event.get(key)):
            return event[key]
    for key in ("object", object_name):
        nested = event.get(key)
        if isinstance(nested, Mapping) and _is_id(nested.get("id")):
            return nested["id"]
    return None


def _as_int(value: Any) -> Optional[int]:
    try:
        return int(float(value)) if value not in (None, "") and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


@dataclass
class ChangedObjectReference(RecordTransformation):
    """Adds ``changed_object``: ``{"id": <id>}``, or ``{"id": None, "keys": [...]}`` when the event names no
    id that ``changed_object_id`` can find (the keys, never the values, go into the warning)."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    object_name: str = ""

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._object = str(InterpolatedString.create(self.object_name, parameters=parameters).eval(self.config))

    def transform(
        self,
        record: Dict[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        object_id = changed_object_id(record, self._object)
        record[CHANGED_OBJECT] = {"id": object_id} if object_id is not None else {"id": None, "keys": sorted(record)}


@dataclass
class ChangedObjectsPartitionRouter(SettledParentStateRouter):
    """Partitions a project list by what changed since the last sync, as Convert's change history tells.

    The parent is the change history of one object type, read from the saved cursor on (inclusive: an
    event written in the saved second after the last read is not lost), whose cursor the CDK keeps in
    this stream's state (``incremental_dependency``). ``newest_event`` is a one-record read of the whole
    history, newest first: the server's own "now" for a first sync. No cursor ever comes from the local clock.

    - No saved history cursor: one partition for the whole list; the cursor becomes the newest history
      timestamp read *before* the list (changes made while the list is read come again next time).
    - Otherwise: the ids the new events name, in batches of ``batch_size`` (``only``). An event whose
      object id cannot be found makes this sync read the whole list instead, with one warning; so does
      a saved cursor later than Convert's newest event (it cannot have come from Convert's clock).

    Stream ``$parameters`` it reads: ``statuses`` (sent with every request, so archived and deleted
    objects arrive with their new status instead of vanishing); ``refresh_always`` (a list whose values
    Convert computes without history events, such as usage stats: the whole list on every sync);
    ``refresh_filter`` (a body filter such as ``{"status": ["active"]}``: those objects are re-read on
    every incremental sync besides the changed ones).

    Each partition carries ``changed_at``, the newest history time it accounts for (a server time);
    records get it as their cursor value.
    """

    newest_event: Optional[ParentStreamConfig] = None
    batch_size: int = 50

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._stream_name = str(parameters.get("name", "?"))
        self.statuses: List[str] = list(parameters.get("statuses") or [])
        self.refresh_always = bool(parameters.get("refresh_always", False))
        self.refresh_filter: Mapping[str, Any] = dict(parameters.get("refresh_filter") or {})
        self._probed_cursor: Optional[int] = None

    def settled_slices(self) -> Iterable[StreamSlice]:
        saved = self._saved_cursor()
        if saved is None or self.refresh_always:
            self._probed_cursor = self._newest_history_timestamp()
            yield self._slice({}, self._probed_cursor or 0)
            return
        self._probed_cursor = None
        ids, newest, unknown_keys = self._changes_since(saved)
        if not ids and unknown_keys is None and self._cursor_is_ahead_of_convert(saved):
            yield self._slice({}, self._probed_cursor or 0)
            return
        if unknown_keys is not None:
            LOGGER.warning(
                "Stream '%s': a change-history event names no object id this connector recognises "
                "(its keys: %s); reading the whole list in this sync so that no change is missed.",
                self._stream_name,
                ", ".join(unknown_keys),
            )
            yield self._slice({}, newest)
            return
        for start in range(0, len(ids), self.batch_size):
            yield self._slice({"only": ids[start : start + self.batch_size]}, newest)
        if self.refresh_filter:
            yield self._slice(dict(self.refresh_filter), newest)

    def _cursor_is_ahead_of_convert(self, saved: int) -> bool:
        """Whether the saved cursor is later than Convert's newest event, i.e. not a time Convert returned
        (0.2.0 took a first sync's cursor from the worker's clock). Checked only when no event came back."""
        newest = self._newest_history_timestamp()
        if newest is None or newest >= saved:
            return False
        LOGGER.warning(
            "Stream '%s': the saved change-history cursor (%s) is later than Convert's newest change-history "
            "event (%s), so it did not come from Convert's clock; reading the whole list in this sync.",
            self._stream_name,
            saved,
            newest,
        )
        self._probed_cursor = newest
        return True

    def _slice(self, body: Mapping[str, Any], changed_at: int) -> StreamSlice:
        return StreamSlice(partition={**body, CHANGED_AT: changed_at}, cursor_slice={})

    def _saved_cursor(self) -> Optional[int]:
        """The history cursor the CDK restored for the parent; ``None`` (or 0) means nothing was saved."""
        for parent_state in (super().current_parent_state() or {}).values():
            value = _as_int(parent_state.get("timestamp")) if isinstance(parent_state, Mapping) else None
            return value if value else None
        return None

    def _changes_since(self, saved: int) -> Tuple[List[Any], int, Optional[List[str]]]:
        """Changed ids (sorted, distinct), the newest event time, and the keys of an event without an id."""
        changed: Dict[Any, None] = {}
        newest = saved
        unknown_keys: Optional[List[str]] = None
        for parent_slice in self.parent_slices():
            reference = parent_slice.partition.get(CHANGED_OBJECT) or {}
            timestamp = _as_int(parent_slice.extra_fields.get("timestamp"))
            if timestamp is not None:
                newest = max(newest, timestamp)
            if reference.get("id") is not None:
                changed[reference["id"]] = None
            elif unknown_keys is None:
                unknown_keys = [key for key in reference.get("keys", []) if key != CHANGED_OBJECT]
        ids = sorted(changed, key=lambda value: (str(type(value)), value))
        return ids, newest, unknown_keys

    def _newest_history_timestamp(self) -> Optional[int]:
        """The newest change-history timestamp (one small request), or ``None`` for an empty history."""
        if self.newest_event is None:
            return None
        key = self.newest_event.parent_key.eval(self.config)  # type: ignore[union-attr]
        newest: Optional[int] = None
        for partition in self.newest_event.stream.generate_partitions():
            for record in partition.read():
                data = record.data if isinstance(record.data, Mapping) else {}
                value = data.get(key)
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise AirbyteTracedException(
                        message=f"Stream '{self._stream_name}': Convert's newest change-history event has no numeric "
                        f"'{key}' (its keys: {', '.join(sorted(map(str, data)))}); the sync stops rather than "
                        "guess where the change history stands.",
                        failure_type=FailureType.system_error,
                    )
                newest = int(value) if newest is None else max(newest, int(value))
        return newest

    def get_request_body_json(
        self,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Mapping[str, Any]:
        """The partition's filter (``only`` ids, or the refresh filter) and the statuses to list."""
        partition = dict(stream_slice.partition) if stream_slice is not None else {}
        partition.pop(CHANGED_AT, None)
        partition.pop("parent_slice", None)
        body: Dict[str, Any] = {"status": list(self.statuses)} if self.statuses else {}
        body.update({key: list(value) if isinstance(value, (list, tuple)) else value for key, value in partition.items()})
        return body

    def current_parent_state(self) -> Optional[Mapping[str, StreamState]]:
        """The parent cursor as read; after a full read, the newest history time seen before the list."""
        state = super().current_parent_state()
        if self._probed_cursor is None:
            return state
        return {config.stream.name: {"timestamp": str(self._probed_cursor)} for config in self.parent_stream_configs}
