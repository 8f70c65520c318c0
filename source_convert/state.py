"""Saved state, read, checked and migrated in one place.

``sanitize_state`` keeps the per-stream state messages (the only kind this connector writes).
``ProjectStateMigration``, the manifest's ``state_migrations`` of every incremental stream, turns each
stream's saved state into the shape this version reads, where every cursor belongs to one project
(``project_state.py``):

* A state this version cannot read (wrong shape, a cursor the CDK's parsers would crash on) restarts
  that stream, with a warning.
* Cursors that name no project (written before 1.0.0, when a connection synced one project) are given
  to the configured project when the config names exactly one: the usual upgrade, the same project.
  With several projects or ``*`` nobody can tell whose they were: the stream reads every project in
  full this once, with a warning. A cursor is never offered to another project.
* Older shapes: a 0.1.0 per-experience ``daily_reports`` state continues from its global ``day``; a
  0.2.0 ``daily_reports`` state (``day`` only) gets the started experiences' cursor from the end of that day.
* A report cursor may record what it was read with (``utc_offset``; the names in ``READ_SETTINGS``,
  comma-separated); the routers compare those with the config (``components/reports.py``).
* The CDK's global ``state`` of a per-project cursor is dropped: the CDK would start a project that
  has no cursor yet (one added to the config) from it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import InitVar, dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional

from airbyte_cdk.models import AirbyteStateMessage, AirbyteStateType
from airbyte_cdk.sources.declarative.migrations.state_migration import StateMigration
from airbyte_cdk.sources.types import Config

from source_convert.components.project_state import PROJECT_ID, STATES, as_int, configured_projects
from source_convert.components.reports import READ_SETTINGS  # what a report cursor's sync read: names, comma-separated
from source_convert.components.shared_reads import read_once

LOGGER = logging.getLogger("airbyte")

_UNIX_CURSORS = ("timestamp", "changed_at", "updated_at", "ran_until")
_DAY_CURSORS = ("day",)
_RECORDED_OFFSETS = ("utc_offset",)  # the report time zone a report cursor was counted in (seconds east of UTC)
_PARTITIONED_KEYS = {"use_global_cursor", "state", "states", "parent_state", "lookback_window"}
_MAX_UNIX_DIGITS = 11  # UNIX seconds up to the year 5138; more digits is not a time the CDK's "%s" reads
_STARTED_EXPERIENCES = "started_experiences"
_RAN_UNTIL = "ran_until"
_DAY_SECONDS = 86400


def _is_unix(value: Any) -> bool:
    number = as_int(value)
    return number is not None and len(str(number)) <= _MAX_UNIX_DIGITS


def _is_offset(value: Any) -> bool:
    """Seconds east of UTC, as saved (a string of a signed integer)."""
    text = str(value)
    return not isinstance(value, bool) and text.lstrip("-").isdigit() and len(text) <= 7


def _is_day(value: Any) -> bool:
    try:
        dt.date.fromisoformat(str(value))
        return True
    except ValueError:
        return False


def _cursor_ok(cursor: Any) -> bool:
    """A cursor object holds only known cursor fields, each in its format."""
    if not isinstance(cursor, Mapping) or not cursor:
        return False
    for key, value in cursor.items():
        if key in _UNIX_CURSORS and _is_unix(value):
            continue
        if key in _DAY_CURSORS and _is_day(value):
            continue
        if key in _RECORDED_OFFSETS and _is_offset(value):
            continue
        if key in READ_SETTINGS and isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_,]*", value):
            continue
        return False
    return True


def usable(state: Any) -> bool:
    """Whether a stream state has a shape this connector reads: a plain cursor or a partitioned one
    (whose parent states are usable states themselves)."""
    if not isinstance(state, Mapping) or not state:
        return False
    if not set(state) & _PARTITIONED_KEYS:
        return _cursor_ok(state)
    if not set(state) <= _PARTITIONED_KEYS:
        return False
    if "lookback_window" in state and as_int(state["lookback_window"]) is None:
        return False
    if "use_global_cursor" in state and not isinstance(state["use_global_cursor"], bool):
        return False
    if "state" in state and not _cursor_ok(state["state"]):
        return False
    entries = state.get(STATES)
    if entries is not None and not isinstance(entries, list):
        return False
    for entry in entries or []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("partition"), Mapping) or not _cursor_ok(entry.get("cursor")):
            return False
    parents = state.get("parent_state")
    if parents is not None and (not isinstance(parents, Mapping) or not all(usable(parent) for parent in parents.values())):
        return False
    return True


def sanitize_state(messages: Optional[Iterable[AirbyteStateMessage]]) -> List[AirbyteStateMessage]:
    """The per-stream state messages; any other kind is dropped with a warning (their streams start afresh)."""
    kept: List[AirbyteStateMessage] = []
    for message in messages or []:
        if message.type != AirbyteStateType.STREAM or getattr(message, "stream", None) is None:
            LOGGER.warning("Ignoring a %s state message: source-convert keeps per-stream state.", message.type)
            continue
        kept.append(message)
    return kept


class _Unattributable(Exception):
    """A cursor that names no project, while the config names several."""


@dataclass
class ProjectStateMigration(StateMigration):
    """Every saved stream state in this version's per-project shape (see the module docstring)."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._stream = str((parameters or {}).get("name", "?"))
        projects = configured_projects(self.config)
        self._owner: Optional[str] = projects[0] if len(projects) == 1 and not self.config.get("all_projects") else None

    def should_migrate(self, stream_state: Mapping[str, Any]) -> bool:
        return bool(stream_state)

    def migrate(self, stream_state: Mapping[str, Any]) -> Mapping[str, Any]:
        if not usable(stream_state):
            LOGGER.warning(
                "The saved state of stream '%s' has a format this version does not use; the stream starts a full read.",
                self._stream,
            )
            return {}  # stored by the CDK: a later build of the streams in this sync finds no state to warn about
        try:
            return self._migrated(dict(stream_state))
        except _Unattributable:
            LOGGER.warning(
                "The saved state of stream '%s' was written before 1.0.0 and names no project, and this connection "
                "syncs several projects (or every project): whose it is cannot be told, so the stream reads every "
                "project in full in this sync.",
                self._stream,
            )
            return {}

    def _migrated(self, state: Dict[str, Any]) -> Dict[str, Any]:
        if STATES in state and any(PROJECT_ID not in entry["partition"] for entry in state[STATES]):
            state = self._from_per_experience(state)
            if not state:
                return {}
        if not set(state) & _PARTITIONED_KEYS:
            return self._by_project(state)  # a plain cursor of a stream partitioned by project
        if STATES in state:
            state.pop("state", None)
            state["use_global_cursor"] = False
            self._say_projects_without_cursor(state)
            return state
        parents = dict(state.get("parent_state") or {})
        if not parents and isinstance(state.get("state"), Mapping) and "day" in state["state"]:
            # The saved day was read to its end: the instant that ends it is when the experiences had run until.
            parents[_STARTED_EXPERIENCES] = {_RAN_UNTIL: str(_midnight(state["state"]["day"]) + _DAY_SECONDS)}
        state["parent_state"] = {name: self._parent(parent) for name, parent in parents.items()}
        if not state["parent_state"]:
            del state["parent_state"]
        return state

    def _say_projects_without_cursor(self, state: Mapping[str, Any]) -> None:
        """One warning per sync naming the configured projects this state has no cursor for."""
        saved = {str(entry["partition"].get(PROJECT_ID)) for entry in state[STATES]}
        missing = [project for project in configured_projects(self.config) if project not in saved]
        if missing:
            message = (f"Stream '{self._stream}': project(s) {', '.join(missing)} have no saved cursor of their own; "
                       "they are read in full.")
            read_once(("warning", message), lambda: LOGGER.warning(message))

    def _parent(self, parent: Mapping[str, Any]) -> Dict[str, Any]:
        if STATES in parent:
            return {STATES: list(parent[STATES]), "use_global_cursor": False}
        return self._by_project(parent)

    def _by_project(self, cursor: Mapping[str, Any]) -> Dict[str, Any]:
        """A cursor without a project as the configured project's (or ``_Unattributable``)."""
        if self._owner is None:
            raise _Unattributable()
        message = (f"The saved state of stream '{self._stream}' names no project (written before 1.0.0); it continues "
                   f"as project {self._owner}'s, the one project this connection syncs. If it was made for another "
                   "project, clear the stream's state.")
        read_once(("warning", message), lambda: LOGGER.warning(message))
        return {STATES: [{"partition": {PROJECT_ID: self._owner}, "cursor": dict(cursor)}], "use_global_cursor": False}

    @staticmethod
    def _from_per_experience(state: Mapping[str, Any]) -> Dict[str, Any]:
        """A 0.1.0 per-experience state as the global state it carried (nothing without a global cursor)."""
        kept = {key: state[key] for key in ("state", "lookback_window", "parent_state") if key in state}
        return {"use_global_cursor": True, **kept} if "state" in kept else {}


def _midnight(day: str) -> int:
    return int(dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), tzinfo=dt.timezone.utc).timestamp())
