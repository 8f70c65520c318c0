"""Incremental re-reads driven by Convert's change history (Convert objects have no ``updated_at``).

A history event names the changed object in ``object_id`` (a string in Convert's contract; the ids of
every object type the connector lists are integers) and, for a variation or a change, its experience in
``parent_object_id``. Older, undocumented spellings are still looked for. An event that names no id
the connector can use makes that stream re-read its project's whole list, with a warning.
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
from source_convert.components.project_state import (
    PROJECT_ID,
    ProjectPartitions,
    as_int,
    configured_projects,
    project_cursors,
    project_state,
)
from source_convert.components.shared_reads import read_once

LOGGER = logging.getLogger("airbyte")

CHANGED_AT = "changed_at"
CHANGED_OBJECT = "changed_object"


# Objects that live inside an experience: an event about one of them is a change of its experience,
# which the event names in ``parent_object_id``.
EXPERIENCE_PARTS = frozenset({"variation", "change"})


def _is_id(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value.strip() != "")


def as_object_id(value: Any) -> Optional[int]:
    """An object id as the integer it is: an int, or a string of digits (Convert sends ids as strings);
    ``None`` for anything else (a non-numeric string names no object this connector can ask for)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _named_id(event: Mapping[str, Any], object_name: str) -> Optional[Any]:
    """The raw id under the first key that holds one (see ``changed_object_id``)."""
    if object_name == "experience" and isinstance(event.get("object"), str) and event["object"] in EXPERIENCE_PARTS:
        return event.get("parent_object_id") if _is_id(event.get("parent_object_id")) else None
    camel = object_name[:1].lower() + object_name.title().replace("_", "")[1:]
    for key in ("object_id", "objectId", f"{object_name}_id", f"{camel}Id"):
        if _is_id(event.get(key)):
            return event[key]
    for key in ("object", object_name):
        nested = event.get(key)
        if isinstance(nested, Mapping) and _is_id(nested.get("id")):
            return nested["id"]
    return None


def changed_object_id(event: Mapping[str, Any], object_name: str) -> Optional[int]:
    """The id (an integer) of the ``object_name`` a change-history event says changed; ``None`` if none fits.

    A variation or change event names a change of its experience: for ``experience`` its
    ``parent_object_id`` is taken. Otherwise, in order: ``object_id`` (documented), then the undocumented
    spellings ``objectId``, ``<object>_id``, ``<object>Id``, and an ``object`` or ``<object>`` mapping
    with an ``id``. A value that is not a whole number (Convert documents ids as strings, but every
    listed object's id is an integer) gives ``None``: the caller then reads the whole list.
    """
    return as_object_id(_named_id(event, object_name))


@dataclass
class ChangedObjectReference(RecordTransformation):
    """Adds ``changed_object``: ``{"id": <id>}``, or ``{"id": None, "keys": [...]}`` when the event names no
    id that ``changed_object_id`` can use (the keys, never the values, go into the warning): then the
    project's whole list is read, so an unusable id is neither a crash nor a lost change."""

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
    """Partitions a project list by what changed since the last sync, per project, as Convert's change history tells.

    The parent is the change history of one object type, partitioned by project and read from each
    project's saved cursor on (inclusive: an event written in the saved second after the last read is
    not lost). This router keeps those cursors, one per project, in this stream's state
    (``incremental_dependency``; format in ``project_state.py``). ``newest_event`` reads a project's
    newest history event (one request, shared by every stream of the sync): the server's own "now"
    for a project read in full. No cursor ever comes from the local clock.

    Per configured project:

    - No saved cursor for it (a first sync, a project added to the config, a state from another
      project): one partition for its whole list; its cursor becomes its newest history timestamp read
      *before* the list (changes made while the list is read come again next time). A project without
      a cursor while others have one is named in a warning.
    - Otherwise: the ids its new events name, in batches of ``batch_size`` (``only``). An event whose
      object id cannot be found makes this sync read the project's whole list instead, with one
      warning; so does a saved cursor later than the project's newest event (it cannot have come
      from Convert's clock).

    Stream ``$parameters`` it reads: ``statuses`` (sent with every request, so archived and deleted
    objects arrive with their new status instead of vanishing); ``refresh_always`` (a list whose values
    Convert computes without history events, such as usage stats: the whole list on every sync);
    ``refresh_filter`` (a body filter such as ``{"status": ["active"]}``: those objects are re-read on
    every incremental sync; the changed ids are then asked only in the other statuses, so no object
    is read twice); ``history_object`` (the history of one object type, read once per project and
    sync for every stream of that type whose cursor agrees).

    Each partition carries ``project_id`` and ``changed_at``, the newest history time it accounts for
    (a server time); records get both.
    """

    newest_event: Optional[ParentStreamConfig] = None
    batch_size: int = 50

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._stream_name = str(parameters.get("name", "?"))
        self.statuses: List[str] = list(parameters.get("statuses") or [])
        self.refresh_always = bool(parameters.get("refresh_always", False))
        self.refresh_filter: Mapping[str, Any] = dict(parameters.get("refresh_filter") or {})
        self._history_object = parameters.get("history_object")
        # With a status refresh filter, changed objects in a refreshed status come with the refresh:
        # the ``only`` batches ask for the other statuses alone (none left: no batch at all).
        refreshed = self.refresh_filter.get("status")
        self._changed_statuses: Optional[List[str]] = (
            [status for status in self.statuses if status not in refreshed] if refreshed is not None else None
        )
        self._cursor_field = "timestamp"
        self._new_cursors: Optional[Dict[str, Optional[int]]] = None
        self._newest_partitions = ProjectPartitions(self.newest_event.stream) if self.newest_event is not None else None

    def settled_slices(self) -> Iterable[StreamSlice]:
        saved = project_cursors(self.held_parent_state(), self._cursor_field)
        projects = configured_projects(self.config)
        new_cursors: Dict[str, Optional[int]] = dict(saved)
        incremental = [project for project in projects if project in saved and not self.refresh_always]
        if saved and len(incremental) < len(projects) and not self.refresh_always:
            LOGGER.warning(
                "Stream '%s': project(s) %s have no saved change-history cursor of their own; they are read in full.",
                self._stream_name, ", ".join(project for project in projects if project not in saved),
            )
        changes = self._changes_since(incremental, saved)
        slices: List[StreamSlice] = []
        for project in projects:
            if project not in incremental:
                # An empty history gives cursor 0: the next sync reads the history from its beginning.
                new_cursors[project] = self._newest_history_timestamp(project) or 0
                slices.append(self._slice(project, {}, new_cursors[project] or 0))
                continue
            ids, newest, unknown_keys = changes[project]
            probed = self._cursor_is_ahead_of_convert(project, saved[project]) if not ids and unknown_keys is None else None
            if probed is not None:
                new_cursors[project] = probed
                slices.append(self._slice(project, {}, probed))
                continue
            new_cursors[project] = newest
            if unknown_keys is not None:
                LOGGER.warning(
                    "Stream '%s': a change-history event of project %s names no object id this connector can use "
                    "(none, or not a whole number; its keys: %s); reading the project's whole list in this sync so "
                    "that no change is missed.",
                    self._stream_name, project, ", ".join(unknown_keys),
                )
                slices.append(self._slice(project, {}, newest))
                continue
            for start in range(0, len(ids) if self._changed_statuses != [] else 0, self.batch_size):
                batch: Dict[str, Any] = {"only": ids[start : start + self.batch_size]}
                if self._changed_statuses is not None:
                    batch["status"] = list(self._changed_statuses)
                slices.append(self._slice(project, batch, newest))
            if self.refresh_filter:
                slices.append(self._slice(project, dict(self.refresh_filter), newest))
        self._new_cursors = new_cursors
        yield from slices

    def _cursor_is_ahead_of_convert(self, project: str, saved: int) -> Optional[int]:
        """The project's newest event time when the saved cursor is later (so not a time Convert returned:
        0.2.0 took a first sync's cursor from the worker's clock); ``None`` otherwise. Checked only when
        no event came back."""
        newest = self._newest_history_timestamp(project)
        if newest is None or newest >= saved:
            return None
        LOGGER.warning(
            "Stream '%s': the saved change-history cursor of project %s (%s) is later than Convert's newest "
            "change-history event (%s), so it did not come from Convert's clock; reading the project's whole "
            "list in this sync.",
            self._stream_name, project, saved, newest,
        )
        return newest

    @staticmethod
    def _slice(project: str, body: Mapping[str, Any], changed_at: int) -> StreamSlice:
        return StreamSlice(partition={PROJECT_ID: project, **body, CHANGED_AT: changed_at}, cursor_slice={})

    def _changes_since(
        self, projects: List[str], saved: Mapping[str, int]
    ) -> Dict[str, Tuple[List[Any], int, Optional[List[str]]]]:
        """Per project: changed ids (sorted, distinct), the newest event time, and the keys of an event without an id."""
        result: Dict[str, Tuple[List[Any], int, Optional[List[str]]]] = {}
        if not projects:
            return result
        partitions = ProjectPartitions(self.parent_stream_configs[0].stream)
        for project in projects:
            # Streams of one object type whose cursors agree (experiences, experience_details,
            # variations) read the same history: one read serves them all.
            key = ("object_changes", self.config.get("api_base_url"), self.config.get("account_id"), project,
                   self._history_object, saved[project])
            result[project] = read_once(key, lambda project=project: self._scan(partitions[project], saved[project]))  # type: ignore[misc]
        return result

    @staticmethod
    def _scan(partition: Any, saved: int) -> Tuple[List[Any], int, Optional[List[str]]]:
        changed: Dict[Any, None] = {}
        newest = saved
        unknown_keys: Optional[List[str]] = None
        for record in partition.read():
            event = record.data
            timestamp = as_int(event.get("timestamp"))
            if timestamp is not None:
                newest = max(newest, timestamp)
            reference = event.get(CHANGED_OBJECT) or {}
            if reference.get("id") is not None:
                changed[reference["id"]] = None
            elif unknown_keys is None:
                unknown_keys = [key for key in reference.get("keys", []) if key != CHANGED_OBJECT]
        ids = sorted(changed, key=lambda value: (str(type(value)), value))
        return ids, newest, unknown_keys

    def _newest_history_timestamp(self, project: str) -> Optional[int]:
        """The project's newest change-history timestamp (one small request per sync, shared by every
        stream), or ``None`` for an empty history."""
        if self.newest_event is None:
            return None
        key = str(self.newest_event.parent_key.eval(self.config))  # type: ignore[union-attr]
        return read_once(
            ("newest_history_event", self.config.get("api_base_url"), self.config.get("account_id"), project),
            lambda: self._read_newest(project, key),
        )

    def _read_newest(self, project: str, key: str) -> Optional[int]:
        newest: Optional[int] = None
        for record in self._newest_partitions[project].read():  # type: ignore[index]
            data = record.data if isinstance(record.data, Mapping) else {}
            value = data.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise AirbyteTracedException(
                    message=f"Stream '{self._stream_name}': Convert's newest change-history event of project {project} "
                    f"has no numeric '{key}' (its keys: {', '.join(sorted(map(str, data)))}); the sync stops rather "
                    "than guess where the change history stands.",
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
        for key in (CHANGED_AT, PROJECT_ID, "parent_slice"):
            partition.pop(key, None)
        body: Dict[str, Any] = {"status": list(self.statuses)} if self.statuses else {}
        body.update({key: list(value) if isinstance(value, (list, tuple)) else value for key, value in partition.items()})
        return body

    def current_parent_state(self) -> Optional[Mapping[str, StreamState]]:
        """After the partitions: the cursors per project, as this sync's partitions account for them."""
        if self._new_cursors is None:
            return self.held_parent_state_by_stream()
        state = project_state(self._new_cursors, self._cursor_field)
        return {config.stream.name: state for config in self.parent_stream_configs}
