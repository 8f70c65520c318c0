"""Saved stream states for mock-server tests: as this version writes them, one cursor per project.

The format is the CDK's per-partition one (``source_convert/components/project_state.py``): a cursor
is ``{"partition": {"project_id": "200002"}, "cursor": {...}}``, values as the CDK's ``%s`` cursors save
them (strings). Older versions' states (0.3.0: no project) are written out in the tests about them.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput

from unit_tests.mock_server.config import PROJECT_ID


def per_project(field: str, cursors: Mapping[str, int], **recorded: Any) -> Dict[str, Any]:
    """``{"states": [one entry per project], "use_global_cursor": False}``, projects in the order given;
    ``recorded``: fields each cursor keeps beside ``field``."""
    extra = {name: str(value) for name, value in recorded.items()}
    return {
        "states": [{"partition": {"project_id": project}, "cursor": {field: str(value), **extra}}
                   for project, value in cursors.items()],
        "use_global_cursor": False,
    }


def history_cursors(history: Mapping[str, int]) -> Dict[str, Any]:
    """The ``parent_state`` a change-driven list keeps: each project's change-history cursor."""
    return {"object_changes": per_project("timestamp", history)}


def changed_list_state(history: Mapping[str, int], changed_at: Optional[int] = None) -> Dict[str, Any]:
    """A change-driven list's state (experiences, goals ...): the display cursor ``changed_at`` (the newest
    history time of the last sync, by default the newest of ``history``) and the cursors per project."""
    display = changed_at if changed_at is not None else max(history.values())
    return {"use_global_cursor": True, "state": {"changed_at": str(display)}, "parent_state": history_cursors(history)}


def changed_list_state_of(timestamp: int, project: str = PROJECT_ID) -> Dict[str, Any]:
    """``changed_list_state`` of one project."""
    return changed_list_state({project: timestamp})


def report_cursors(ran_until: Mapping[str, int], utc_offset: Optional[int] = 0, **read: Any) -> Dict[str, Any]:
    """The ``parent_state`` a report stream keeps: each project's newest ``ran_until``, with the report time
    zone it was counted in (``utc_offset`` seconds; ``None``: none recorded, as before 2.0.0) and ``read``:
    what the sync read (``daily_report_metrics``, ``report_segments`` ..., comma-separated)."""
    recorded = {} if utc_offset is None else {"utc_offset": utc_offset}
    return {"started_experiences": per_project("ran_until", ran_until, **recorded, **read)}


def cursors_by_project(state: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """``{project_id: cursor}`` of a per-project state, for asserting on what a sync saved. (The CDK
    also writes a global ``state`` beside them, which the next sync's state migration drops.)"""
    assert state.get("use_global_cursor") is False, state
    return {entry["partition"]["project_id"]: entry["cursor"] for entry in state["states"]}


def stream_state(output: EntrypointOutput, stream: str) -> Optional[Dict[str, Any]]:
    """The last state ``stream`` emitted in ``output`` (a read of several streams), ``None`` if none."""
    states = [
        message.state.stream.stream_state.__dict__
        for message in output.state_messages
        if message.state.stream is not None and message.state.stream.stream_descriptor.name == stream
    ]
    return states[-1] if states else None
