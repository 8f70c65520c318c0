"""Incoming state checks: a stream state this version cannot use starts that stream afresh, never a crash.

Per-partition states (``states``: a cursor per experience goal, written by 0.1.0 for ``daily_reports``)
are carried over as the global cursor this version keeps: the saved ``state`` (the newest day the
0.1.0 sync completed, from which it already started every new partition) and its lookback; the
partition list is dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Iterable, List, Mapping, Optional

from airbyte_cdk.models import AirbyteStateMessage, AirbyteStateType, AirbyteStreamState, StreamDescriptor
from airbyte_cdk.models.airbyte_protocol import AirbyteStateBlob

LOGGER = logging.getLogger("airbyte")

_UNIX_CURSORS = ("timestamp", "changed_at", "updated_at", "ran_until")
_DAY_CURSORS = ("day",)
_PARTITIONED_KEYS = {"use_global_cursor", "state", "states", "parent_state", "lookback_window"}


_MAX_UNIX_DIGITS = 11  # UNIX seconds up to the year 5138; more digits is not a time the CDK's "%s" reads


def _whole_number(value: Any) -> Optional[int]:
    """A non-negative whole number given as an int or a string of digits (as the CDK saves them)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.isdigit() and value.isascii():
        return int(value)
    return None


def _is_unix(value: Any) -> bool:
    number = _whole_number(value)
    return number is not None and len(str(number)) <= _MAX_UNIX_DIGITS


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
        return False
    return True


def usable(state: Any) -> bool:
    """Whether a stream state has a shape this connector writes: a plain cursor or a partitioned one."""
    if not isinstance(state, Mapping) or not state:
        return False
    if not set(state) & _PARTITIONED_KEYS:
        return _cursor_ok(state)
    if not set(state) <= _PARTITIONED_KEYS:
        return False
    if "lookback_window" in state and _whole_number(state["lookback_window"]) is None:
        return False
    if "use_global_cursor" in state and not isinstance(state["use_global_cursor"], bool):
        return False
    if "state" in state and not _cursor_ok(state["state"]):
        return False
    for entry in state.get("states") or []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("partition"), Mapping) or not _cursor_ok(entry.get("cursor")):
            return False
    parents = state.get("parent_state")
    if parents is not None and (
        not isinstance(parents, Mapping) or not all(_cursor_ok(parent) for parent in parents.values())
    ):
        return False
    return True


def _as_global(state: Mapping[str, Any]) -> Mapping[str, Any]:
    """A per-partition state as the global state this version writes (an empty state without a global cursor)."""
    if "states" not in state:
        return state
    if "state" not in state:
        return {}
    return {"use_global_cursor": True, **{key: state[key] for key in ("state", "lookback_window", "parent_state") if key in state}}


def _as_dict(blob: Any) -> Any:
    if blob is None:
        return None
    if isinstance(blob, AirbyteStateBlob):
        return dict(blob.__dict__)
    return blob


def sanitize_state(messages: Optional[Iterable[AirbyteStateMessage]]) -> List[AirbyteStateMessage]:
    """Keep usable per-stream states; replace the others with an empty state (a full read of that stream)."""
    kept: List[AirbyteStateMessage] = []
    for message in messages or []:
        stream = getattr(message, "stream", None)
        if message.type != AirbyteStateType.STREAM or stream is None:
            LOGGER.warning("Ignoring a %s state message: source-convert keeps per-stream state.", message.type)
            continue
        raw = _as_dict(stream.stream_state)
        if raw and not usable(raw):
            LOGGER.warning(
                "The saved state of stream '%s' has a format this version does not use; the stream starts a full read.",
                stream.stream_descriptor.name,
            )
            message = AirbyteStateMessage(
                type=AirbyteStateType.STREAM,
                stream=AirbyteStreamState(
                    stream_descriptor=StreamDescriptor(name=stream.stream_descriptor.name, namespace=stream.stream_descriptor.namespace),
                    stream_state=AirbyteStateBlob(),
                ),
            )
        elif raw and "states" in raw:
            LOGGER.info("The saved state of stream '%s' is per partition; this version continues from its global cursor.",
                        stream.stream_descriptor.name)
            message = AirbyteStateMessage(
                type=AirbyteStateType.STREAM,
                stream=AirbyteStreamState(stream_descriptor=stream.stream_descriptor, stream_state=AirbyteStateBlob(**_as_global(raw))),
            )
        kept.append(message)
    return kept
