"""Experience-level objects: the streams that make one call per experience.

``ExperiencePartitionRouter`` gives ``report_settings``, ``experience_sections`` and
``experience_change_history`` one partition per experience that can have changed, per configured
project: the experiences ``ChangedObjectsPartitionRouter`` selects (the whole list on a project's
first sync; later the ones the project's change history names, and every experience that can still
be edited), looked up in each project's experience list, read once per sync for all three streams.

``ExperienceCallErrorHandler`` keeps the rule that a 404 for one experience means it was deleted during
the sync, except where the answers show the path itself does not exist: when every experience a
stream asked answers 404, the stream fails with one error that names it and the path.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.partition_routers.substream_partition_router import ParentStreamConfig
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.sources.types import StreamSlice, StreamState

from source_convert.components.backoff import ConvertErrorHandler
from source_convert.components.envelope import account_and_project, experience_of_call, request_path
from source_convert.components.changes import CHANGED_AT, ChangedObjectsPartitionRouter
from source_convert.components.project_state import PROJECT_ID, partitions_by_project
from source_convert.components.shared_reads import read_once

LOGGER = logging.getLogger("airbyte")

EXPERIENCE_ID = "experience_id"
_EXPERIENCE_IN_PATH = re.compile(r"/experiences/\d+/")
Key = Tuple[str, str]  # (project id, experience id), both as text
INDEX_FIELDS = frozenset({"id", "type", "status"})  # what the shared experience index keeps of each experience


def _matches(record: Mapping[str, Any], conditions: Mapping[str, List[Any]]) -> bool:
    """Whether ``record[key]`` is one of the values of every condition (``{"status": ["active", ...]}``)."""
    return all(record.get(key) in values for key, values in conditions.items())


class ExperienceCallTracker:
    """What one stream's per-experience calls answered in this sync, to tell a deleted experience from a
    path that does not exist (shared by the stream's router and error handler; lock-guarded).

    The router names the experiences it lists (``expect``). Until one call of the stream succeeds, a 404
    for a listed experience is held back; when every listed experience has answered 404 and none
    succeeded, the path is taken as missing. Once a call succeeded the path exists: each 404, the
    held-back ones included, is an experience deleted during the sync.
    """

    WARN, HOLD, FAIL = "warn", "hold", "fail"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listed: Optional[Set[Key]] = None
        self._not_found: Set[Key] = set()
        self._held: List[requests.Response] = []
        self._succeeded = False

    def expect(self, keys: Iterable[Key]) -> None:
        with self._lock:
            self._listed = set(keys)

    def listed(self) -> int:
        with self._lock:
            return len(self._listed or ())

    def success(self) -> List[requests.Response]:
        """Record a successful call; returns the 404s held back until now (to be warned about)."""
        with self._lock:
            if self._succeeded:
                return []
            self._succeeded = True
            held, self._held = self._held, []
            return held

    def not_found(self, key: Key, response: requests.Response) -> str:
        """``WARN`` (a deleted experience), ``HOLD`` (undecided yet) or ``FAIL`` (the path does not exist)."""
        with self._lock:
            if self._succeeded or self._listed is None or key not in self._listed:
                return self.WARN
            self._not_found.add(key)
            if len(self._not_found) >= len(self._listed):
                self._held = []
                return self.FAIL
            self._held.append(response)
            return self.HOLD


def call_tracker(stream: str) -> ExperienceCallTracker:
    """The stream's tracker of this sync (``shared_reads``: a new sync starts a new one)."""
    return read_once(("experience_calls", stream), ExperienceCallTracker)


@dataclass
class ExperiencePartitionRouter(ChangedObjectsPartitionRouter):
    """One partition per experience whose object (report settings, sections, own history) can have changed.

    ``ChangedObjectsPartitionRouter`` (same parents, same per-project cursors in the stream's state, same
    stream ``$parameters``: ``history_object`` and ``refresh_filter``) decides, per project, what to read:
    the whole list when the project has no saved cursor; otherwise the experiences its new change-history
    events name and those matching ``refresh_filter`` (every experience that can still be edited). Each
    choice is taken from ``experience_index``, the project's experiences (every status; read once per
    sync and shared by every stream with this router, which keeps their ``INDEX_FIELDS``), keeping, when
    ``experience_types`` is set, the experiences of those types only (e.g. ``["mvt"]``: other
    experiences cost no request). An experience named by the history but not in the list (created, or
    removed, after the list was read) is asked too, so that no change is lost; it does not count for the
    missing-path rule (``ExperienceCallErrorHandler``).

    Each experience is one partition ``{project_id, experience_id}`` (the same in every sync, so a
    per-experience cursor can be kept for it), with ``changed_at`` (the newest history time the sync
    accounts for) as an extra field, and appears once per sync even if chosen twice.
    """

    experience_index: Optional[ParentStreamConfig] = None
    experience_types: Optional[List[str]] = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._filter: Dict[str, List[Any]] = {"type": _as_list(self.experience_types)} if self.experience_types else {}
        self._refresh: Dict[str, List[Any]] = {key: _as_list(values) for key, values in self.refresh_filter.items()}
        unknown = sorted(set(self._refresh) - INDEX_FIELDS)
        if unknown:
            raise ValueError(f"Stream '{self._stream_name}': refresh_filter names {unknown}, which the experience "
                             f"index does not keep (it keeps {sorted(INDEX_FIELDS)})")

    def settled_slices(self) -> Iterable[StreamSlice]:
        choices = list(super().settled_slices())  # reads the history (and newest events) first
        index = self._index()
        chosen: Dict[str, Dict[str, Tuple[Any, Any]]] = {}  # project -> experience id (text) -> (id, changed_at)
        listed: Set[Key] = set()
        for choice in choices:
            partition = choice.partition
            project = str(partition[PROJECT_ID])
            changed_at = partition.get(CHANGED_AT)
            experiences = index.get(project, [])
            picked = chosen.setdefault(project, {})
            if "only" in partition:
                named = {str(experience_id): experience_id for experience_id in partition["only"]}
                found = [experience for experience in experiences if str(experience["id"]) in named]
                for experience in found:
                    named.pop(str(experience["id"]))
                for text, experience_id in named.items():  # not (or no longer) in the list
                    picked.setdefault(text, (experience_id, changed_at))
            elif self._refresh and all(key in partition for key in self._refresh):
                found = [experience for experience in experiences if _matches(experience, self._refresh)]
            else:
                found = experiences
            for experience in found:
                if _matches(experience, self._filter):
                    picked.setdefault(str(experience["id"]), (experience["id"], changed_at))
                    listed.add((project, str(experience["id"])))
        slices = [
            StreamSlice(partition={PROJECT_ID: project, EXPERIENCE_ID: experience_id}, cursor_slice={},
                        extra_fields={CHANGED_AT: changed_at})
            for project, picked in chosen.items()
            for experience_id, changed_at in picked.values()
        ]
        call_tracker(self._stream_name).expect(listed)
        yield from slices

    def _index(self) -> Dict[str, List[Dict[str, Any]]]:
        """Every configured project's experiences (their ``INDEX_FIELDS``), read once per sync."""
        if self.experience_index is None:
            raise ValueError(f"Stream '{self._stream_name}': ExperiencePartitionRouter needs an experience_index")
        stream = self.experience_index.stream

        def read() -> Dict[str, List[Dict[str, Any]]]:
            partitions = partitions_by_project(stream.generate_partitions())
            return {
                project: [{key: value for key, value in record.data.items() if key in INDEX_FIELDS}
                          for record in partition.read()]
                for project, partition in partitions.items()
            }

        return read_once(("experience_index", self.config.get("api_base_url"), self.config.get("account_id")), read)

    def get_request_body_json(
        self,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Mapping[str, Any]:
        """Nothing: the experience is in the URL (``experience_requester``)."""
        return {}


def _as_list(values: Any) -> List[Any]:
    return list(values) if isinstance(values, (list, tuple, set)) else [values]


@dataclass
class ExperienceCallErrorHandler(ConvertErrorHandler):
    """``ConvertErrorHandler`` for a stream of per-experience calls whose path may not exist.

    A 404 for one experience (``.../experiences/{id}/...``) is, as there, an experience deleted during
    the sync: skipped with one warning, the other experiences' rows arrive. But a path the API reference
    only infers may not exist at all, and then every call answers 404. So the decision waits for the
    answers (``ExperienceCallTracker``): while no call of the stream has succeeded, 404s are held back
    (skipped, no warning yet); the first success makes them warnings; and when every experience the
    stream listed has answered 404, the stream fails with one error that names it and the path, instead
    of ending green without records. Other streams are not affected.
    """

    def interpret_response(self, response_or_exception: Optional[Any]) -> ErrorResolution:
        resolution = super().interpret_response(response_or_exception)
        if (
            isinstance(response_or_exception, requests.Response)
            and 200 <= response_or_exception.status_code < 300
            and resolution.response_action == ResponseAction.SUCCESS
            and self._experience_key(response_or_exception) is not None
        ):
            for held in call_tracker(self._stream).success():
                super()._deleted_experience(held)  # the warning it would have had
        return resolution

    def _deleted_experience(self, response: requests.Response) -> Optional[ErrorResolution]:
        key = self._experience_key(response)
        if key is None:
            return None
        tracker = call_tracker(self._stream)
        verdict = tracker.not_found(key, response)
        if verdict == ExperienceCallTracker.WARN:
            return super()._deleted_experience(response)
        path = request_path(response.request) or ""
        template = _EXPERIENCE_IN_PATH.sub("/experiences/{experience_id}/", path)
        method = getattr(response.request, "method", None) or "?"
        if verdict == ExperienceCallTracker.HOLD:
            return ErrorResolution(
                response_action=ResponseAction.IGNORE,
                failure_type=None,
                error_message=f"Stream '{self._stream}': experience {key[1]} answered HTTP 404 for {method} {path}; "
                "skipped (whether it was deleted or the path does not exist is decided by the other experiences' answers).",
            )
        count = tracker.listed()
        message = (
            f"Stream '{self._stream}': Convert answered HTTP 404 for every experience the stream asked "
            f"({count} of {count}) at {method} {template}: Convert does not seem to have this path, so this stream "
            "read no records. The other streams are not affected."
        )
        return ErrorResolution(response_action=ResponseAction.FAIL, failure_type=FailureType.system_error, error_message=message)

    @staticmethod
    def _experience_key(response: requests.Response) -> Optional[Key]:
        path = request_path(response.request) or ""
        experience = experience_of_call(path)
        if experience is None:
            return None
        _, project = account_and_project(path)
        return (str(project), experience)
