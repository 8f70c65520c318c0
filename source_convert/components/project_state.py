"""Cursors kept per project, in the per-partition state format of the CDK's partitioned cursors.

``{"states": [{"partition": {"project_id": "200002"}, "cursor": {"timestamp": "1767225600"}}, ...],
"use_global_cursor": false}``: the CDK restores each project's cursor from its own entry. The routers
write no global ``state``, and the state migration drops the one the CDK writes for a stream it
partitions itself: the CDK would start a project without an entry (one added to the config) from it,
i.e. from another project's cursor.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Iterable, List, Mapping, Optional

PROJECT_ID = "project_id"
STATES = "states"


def as_int(value: Any) -> Optional[int]:
    """A cursor value (a non-negative int, or digits as the CDK's ``%s`` cursors save them) as an int; else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def project_cursors(state: Optional[Mapping[str, Any]], field: str) -> Dict[str, int]:
    """``{project_id: cursor}`` of a per-project state; entries without a usable cursor are left out."""
    cursors: Dict[str, int] = {}
    for entry in (state or {}).get(STATES) or []:
        if not isinstance(entry, Mapping):
            continue
        partition, cursor = entry.get("partition"), entry.get("cursor")
        if not isinstance(partition, Mapping) or not isinstance(cursor, Mapping):
            continue
        value = as_int(cursor.get(field))
        if partition.get(PROJECT_ID) is not None and value is not None:
            cursors[str(partition[PROJECT_ID])] = value
    return cursors


def project_state(cursors: Mapping[str, Optional[int]], field: str, **recorded: Any) -> Dict[str, Any]:
    """The per-project state of ``cursors`` (projects whose cursor is ``None`` get no entry). ``recorded``:
    more fields each entry's cursor keeps beside ``field`` (as strings), e.g. what the cursor was counted in."""
    extra = {name: str(value) for name, value in recorded.items()}
    states: List[Dict[str, Any]] = [
        {"partition": {PROJECT_ID: project}, "cursor": {field: str(value), **extra}}
        for project, value in sorted(cursors.items())
        if value is not None
    ]
    return {STATES: states, "use_global_cursor": False}


def project_recorded(state: Optional[Mapping[str, Any]], field: str) -> Dict[str, str]:
    """``{project_id: value}`` of a field recorded beside the cursor (``project_state(..., **recorded)``);
    entries without it are left out."""
    recorded: Dict[str, str] = {}
    for entry in (state or {}).get(STATES) or []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("partition"), Mapping):
            continue
        cursor = entry.get("cursor")
        if isinstance(cursor, Mapping) and cursor.get(field) is not None and entry["partition"].get(PROJECT_ID) is not None:
            recorded[str(entry["partition"][PROJECT_ID])] = str(cursor[field])
    return recorded


def configured_projects(config: Mapping[str, Any]) -> List[str]:
    """The project IDs the sync reads (``project_ids`` of the normalized config)."""
    return [str(project) for project in config.get("project_ids") or []]


def partitions_by_project(partitions: Iterable[Any]) -> Dict[str, Any]:
    """The partitions of a stream partitioned by project (``project_router``), by project ID."""
    return {str(partition.to_slice().partition[PROJECT_ID]): partition for partition in partitions}


class ProjectPartitions:
    """A parent stream's partitions by project, generated on first use and once only (a stream with a
    cursor allows one generation per sync); generating makes no request."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._partitions: Optional[Dict[str, Any]] = None
        self._lock = threading.Lock()

    def __getitem__(self, project: str) -> Any:
        with self._lock:
            if self._partitions is None:
                self._partitions = partitions_by_project(self._stream.generate_partitions())
            return self._partitions[project]
