"""Report components: Convert's report payloads as rows, and which report requests a sync makes.

Both report streams have the started experiences of each configured project as parent. Per project,
the routers keep in the report stream's state (``incremental_dependency``) the newest ``ran_until``
(when an experience last ran, as Convert says); minus the lookback it is the project's one window
start, for which experiences are read and from which day. No value of the local clock is used anywhere.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Iterable, Iterator, List, Mapping, MutableMapping, NoReturn, Optional, Tuple, Union

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.declarative.transformations.transformation import RecordTransformation
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components.daily_totals import Day, Reading, Undecidable, baseline_day, decide
from source_convert.components.envelope import describe_request, experience_of_call, request_path, sent_json
from source_convert.components.extractor import ConvertDataExtractor
from source_convert.components.parent_state import SettledParentStateRouter
from source_convert.components.project_state import (
    PROJECT_ID,
    configured_projects,
    partitions_by_project,
    project_cursors,
    project_recorded,
    project_state,
)
from source_convert.components.report_vocabulary import DEFAULT_DAILY_METRICS, METRICS
from source_convert.components.shared_reads import Once, read_once

LOGGER = logging.getLogger("airbyte")

DAILY_METRICS = METRICS  # the metrics daily_reports can read (report_vocabulary names them)
REVENUE_METRICS = frozenset(DAILY_METRICS[1:])  # meaningful only for goals of type "revenue"
RAN_UNTIL = "ran_until"
# Config fields whose values are recorded beside each project's ran_until (comma-separated): what was read.
DAILY_METRICS_SETTING = "daily_report_metrics"
SEGMENTS_SETTING = "report_segments"
COUNTRIES_SETTING = "report_segment_countries"
READ_SETTINGS = (DAILY_METRICS_SETTING, SEGMENTS_SETTING, COUNTRIES_SETTING)
UTC_OFFSET = "utc_offset"  # recorded beside each project's ran_until: the report time zone its days were counted in
_DAY_SECONDS = 86400
_MILLISECONDS_THRESHOLD = 10_000_000_000  # a UNIX time above this is in milliseconds


def unix_seconds(value: Any) -> Optional[int]:
    """A positive UNIX time in whole seconds, from seconds or milliseconds; ``None`` for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return int(value / 1000 if value > _MILLISECONDS_THRESHOLD else value)


def report_day(timestamp: Any, utc_offset: int = 0) -> Optional[str]:
    """``YYYY-MM-DD`` of a daily-report timestamp in the report time zone (``utc_offset`` seconds east of UTC).

    The reference leaves open how a day is stamped: as the UTC instant of its local midnight, or as
    its local midnight written as if it were UTC. A timestamp that is a local midnight only under the
    second reading is read that way; any other is the local date of the instant.
    """
    seconds = unix_seconds(timestamp)
    return None if seconds is None else _local_day(seconds, utc_offset)


@functools.lru_cache(maxsize=4096)
def _local_day(seconds: int, utc_offset: int) -> str:
    local = seconds + utc_offset
    if local % _DAY_SECONDS and not seconds % _DAY_SECONDS:
        local = seconds
    return dt.datetime.fromtimestamp(local, tz=dt.timezone.utc).strftime("%Y-%m-%d")


def _kind(value: Any) -> str:
    """What a JSON value is, for messages (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__


def _goal_id(entry: Mapping[str, Any]) -> Any:
    """The goal a report entry names: ``goal_id``, or ``goal`` (the reference leaves open which)."""
    return next((entry[key] for key in ("goal_id", "goal") if entry.get(key) is not None), None)


def _interpolated_int(value: Any, config: Config, parameters: Mapping[str, Any]) -> int:
    evaluated = InterpolatedString.create(str(value), parameters=parameters).eval(config)
    return int(float(evaluated or 0))


@dataclass
class _ReportReader:
    """Reads one report answer strictly: an unexpected shape fails the sync with an error that names the
    stream, the request and the place (``data.reportData[0].variations[1]``), never a value."""

    stream: str
    response: requests.Response

    def fail(self, problem: str) -> NoReturn:
        message = (
            f"Stream '{self.stream}': the report Convert answered to {describe_request(self.response)} {problem}. "
            "The sync stops here rather than skip report rows."
        )
        raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.system_error)

    def objects(self, container: Mapping[str, Any], key: str, where: str) -> Iterator[Tuple[str, Mapping[str, Any]]]:
        """The objects of the list ``container[key]`` (required; may be empty), each with its place."""
        if key not in container:
            self.fail(f"has no '{key}' in {where} (expected a list)")
        items = container[key]
        if not isinstance(items, list):
            self.fail(f"has {_kind(items)} as {where}.{key}, expected a list")
        for index, item in enumerate(items):
            place = f"{where}.{key}[{index}]"
            if not isinstance(item, Mapping):
                self.fail(f"has {_kind(item)} as {place}, expected an object")
            yield place, item

    def optional_object(self, container: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        """``container[key]`` when it is an object, ``{}`` when missing or null."""
        value = container.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(f"has {_kind(value)} as {where}.{key}, expected an object")
        return value

    def identifier(self, container: Mapping[str, Any], key: str, where: str) -> Union[int, str]:
        """``container[key]``, required, a number or a string."""
        value = container.get(key)
        if value is None:
            self.fail(f"has no '{key}' in {where}")
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            self.fail(f"has {_kind(value)} as {where}.{key}, expected an id")
        return value

    def goal_entries(self, report: Any) -> Iterator[Tuple[str, Mapping[str, Any]]]:
        """The goal entries of ``reportData``: one goal's object, or a list of them (both readings occur)."""
        if not isinstance(report, Mapping):
            self.fail(f"has {_kind(report)} as data, expected an object")
        if "reportData" not in report:
            self.fail("has no 'reportData' in data (expected an object or a list)")
        entries = report["reportData"]
        if isinstance(entries, Mapping):
            yield "data.reportData", entries
        elif not isinstance(entries, list):
            self.fail(f"has {_kind(entries)} as data.reportData, expected an object or a list")
        else:
            yield from self.objects(report, "reportData", "data")

    def requested_goal(self) -> Any:
        """The goal the request asked for, read from the JSON body the connector sent."""
        goal = _goal_id(sent_json(self.response.request))
        if goal is None:
            self.fail("cannot be checked: the request body names no goal")
        return goal


@dataclass
class _ReportExtractor(ConvertDataExtractor):
    """The report under ``data``; a body that is not Convert's envelope fails in the base extractor."""

    def _reports(self, response: requests.Response, reader: _ReportReader) -> List[Any]:
        reports = list(super().extract_records(response))
        if not reports:
            reader.fail("has no report under 'data' (null or an empty list)")
        return reports


@dataclass
class DailyReportExtractor(_ReportExtractor):
    """One row per goal, variation and delivered day of a daily report; ``day`` is the date in the report time zone.

    ``utc_offset``: seconds east of UTC, the value sent with the request (interpolated against the config).
    A goal entry that names another goal than the request asked for fails the sync: its rows would be
    counted for the requested goal.

    ``totals`` is the day's own number of what the metric totals (``daily_totals.TOTALS``: conversions,
    revenue, products, or the day's average per order). Whether Convert's ``totals`` are those or running
    totals since the experience started is decided per response by ``daily_totals.decide`` (``value``
    must match the day's own totals; a response that fits neither reading, or both with different
    numbers, fails the sync). The request starts one day ``B`` before
    the first day delivered (``daily_totals.baseline_day`` of the body's ``start_time`` and
    ``utc_offset``): days up to ``B`` are never rows. The first response that tells the reading says it
    once in the log; a later one that tells the other fails the sync, since one account cannot have both
    (a response that fits both with the same numbers tells nothing and is taken as it is). The instance
    is shared by the partitions' threads: what it keeps (the reading told, and by which report) is
    guarded by a lock; everything about one response stays in local variables.
    """

    config: Config = None  # type: ignore[assignment]
    utc_offset: Union[str, int] = 0

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._utc_offset = _interpolated_int(self.utc_offset, self.config or {}, parameters or {})
        self._reading_lock = threading.Lock()
        self._told: Optional[Tuple[Reading, str]] = None  # the reading and the report that told it; under the lock

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        reader = _ReportReader(self._stream, response)
        requested = reader.requested_goal()
        sent = sent_json(response.request)
        metric = sent.get("metric")
        if metric not in DAILY_METRICS:
            reader.fail(f"cannot be checked: the request body names no daily metric ({_kind(metric)} as metric)")
        baseline = baseline_day(sent.get("start_time"), sent.get("utc_offset", self._utc_offset))
        if baseline is None:
            reader.fail("cannot be checked: the request body has no start_time (UNIX seconds) to tell the baseline day")
        variations: List[Tuple[str, List[Day], List[Dict[str, Any]]]] = []
        for report in self._reports(response, reader):
            for where, entry in list(reader.goal_entries(report)):
                goal_id = _goal_id(entry)
                if goal_id is not None and str(goal_id) != str(requested):
                    reader.fail(f"is for goal {goal_id} in {where}, but goal {requested} was requested")
                goal_id = requested if goal_id is None else goal_id  # the documented answer does not name it
                for place, variation in reader.objects(entry, "variations", where):
                    variation_id = reader.identifier(variation, "id", place)
                    days: List[Day] = []
                    rows: List[Dict[str, Any]] = []
                    for stat_place, stat in reader.objects(variation, "stats", place):
                        timestamp = stat.get("timestamp")
                        day = report_day(timestamp, self._utc_offset)
                        if day is None:
                            reader.fail(f"has {_kind(timestamp)} as {stat_place}.timestamp, expected a positive UNIX time")
                        numbers = {key: _number(reader, stat, key, stat_place) for key in ("value", "visitors", "totals")}
                        days.append(Day(day, numbers["visitors"], numbers["value"], numbers["totals"]))
                        rows.append({"goal_id": goal_id, "variation_id": variation_id, "day": day, "timestamp": timestamp,
                                     "value": numbers["value"], "visitors": numbers["visitors"]})
                    variations.append((f"variation {variation_id}", days, rows))
        about = f"experience {_experience_id(response)}, goal {requested}, metric {metric}"
        try:
            decision = decide([(label, days) for label, days, _ in variations], metric, baseline)
        except Undecidable as error:
            self._fail(f"cannot tell how to read the daily `totals` Convert answered for {about} "
                       f"({describe_request(response)}): {error}")
        if decision.reading is not None:
            self._tell(decision.reading, about, response)
        for (_, _, rows), own in zip(variations, decision.own):
            for row, (delivered, totals) in zip(rows, own):
                if delivered:  # not a baseline day
                    yield {**row, "totals": totals}

    def _tell(self, reading: Reading, about: str, response: requests.Response) -> None:
        """Log the reading the first time a report tells it; fail when a report tells the other one."""
        with self._reading_lock:
            told = self._told
            if told is None:
                self._told = (reading, about)
        if told is None:
            LOGGER.info(_READING_LOGS[reading], self._stream, about)
        elif told[0] is not reading:
            self._fail(f"the daily report for {about} ({describe_request(response)}) has `totals` that are "
                       f"{reading.value}, but the one for {told[1]} had {told[0].value}; one account cannot have both")

    def _fail(self, problem: str) -> NoReturn:
        message = (f"Stream '{self._stream}': {problem}. "
                   "No row of this report is written, and the sync fails rather than write wrong totals.")
        raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.system_error)


_READING_LOGS = {
    Reading.RUNNING: "%s: Convert's daily `totals` are running totals since the experience started (value matches the "
                     "day-to-day difference); rows carry each day's own numbers (told first by %s).",
    Reading.OWN: "%s: Convert's daily `totals` are each day's own numbers (value matches them, not the day-to-day "
                 "difference); rows carry them as they are (told first by %s).",
}
def _experience_id(response: requests.Response) -> str:
    """The experience of a daily report request, from its URL path (``/experiences/{id}/daily_report``)."""
    return experience_of_call(request_path(response.request)) or "?"


@dataclass
class TrafficAllocationExtractor(_ReportExtractor):
    """One row per variation and day of a daily traffic allocation: ``traffic_allocation`` is the day's
    ``value`` (the variation's share of the traffic, in percent); ``day`` is the date in the report time
    zone (``utc_offset``, as for daily reports). Two points for one variation and day fail the sync."""

    config: Config = None  # type: ignore[assignment]
    utc_offset: Union[str, int] = 0

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._utc_offset = _interpolated_int(self.utc_offset, self.config or {}, parameters or {})

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        reader = _ReportReader(self._stream, response)
        for report in self._reports(response, reader):
            for where, entry in list(reader.goal_entries(report)):
                for place, variation in reader.objects(entry, "variations", where):
                    variation_id = reader.identifier(variation, "id", place)
                    seen = set()
                    for stat_place, stat in reader.objects(variation, "stats", place):
                        timestamp = stat.get("timestamp")
                        day = report_day(timestamp, self._utc_offset)
                        if day is None:
                            reader.fail(f"has {_kind(timestamp)} as {stat_place}.timestamp, expected a positive UNIX time")
                        if day in seen:
                            reader.fail(f"has a second point for {day} in {place}.stats")
                        seen.add(day)
                        yield {"variation_id": variation_id, "day": day, "timestamp": timestamp,
                               "traffic_allocation": _number(reader, stat, "value", stat_place)}


def _number(reader: _ReportReader, container: Mapping[str, Any], key: str, where: str) -> Optional[Union[int, float]]:
    """``container[key]`` when it is a number, ``None`` when missing or null; anything else fails."""
    value = container.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        reader.fail(f"has {_kind(value)} as {where}.{key}, expected a number")
    return value


@dataclass
class RanUntil(RecordTransformation):
    """Sets ``ran_until`` on a started experience: the newest of ``max_running_timestamp`` and ``end_time``
    (UNIX seconds), i.e. up to when Convert says it ran; left unset when neither is a time.

    ``max_running_timestamp`` is not in Convert's rendered schema: when an answer lacks it, one warning
    says that ``end_time`` decides for stopped experiences (running ones are read on every sync anyway).
    """

    def __post_init__(self) -> None:
        self._timestamp_missing = Once()

    def transform(
        self,
        record: MutableMapping[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        reported = unix_seconds(record.get("max_running_timestamp"))
        if "max_running_timestamp" not in record and self._timestamp_missing.first():
            LOGGER.warning(
                "The experiences list returned no max_running_timestamp (experience %s, maybe others): the report "
                "streams use end_time to tell when a stopped experience last ran, and read running ones on every sync.",
                record.get("id"),
            )
        times = [time for time in (reported, unix_seconds(record.get("end_time"))) if time is not None]
        if times:
            record[RAN_UNTIL] = max(times)


@dataclass
class RecentExperiencesPartitionRouter(SettledParentStateRouter):
    """One partition per started experience, per configured project, that can have report data the last
    sync did not read.

    The parent (the started experiences, partitioned by project) is read once per project and sync
    for both report streams. Per project, this router keeps in the stream's state the newest
    ``ran_until`` any experience had (``incremental_dependency``; format in ``project_state.py``).
    That cursor minus ``lookback_days`` is the project's window start, and its day in the report
    time zone (``utc_offset`` seconds east of UTC) the window's first day: ``daily_reports`` reads
    the days from that day on, and an experience that stopped (``end_time`` set, status not
    ``active``) and ran until before that day began costs no request. So an experience that ran on
    a day inside the window, even hours before the window start's instant, is read. Running
    experiences, and experiences without usable times, are always read. A project without a saved
    cursor (a first sync, a project added to the config) has no window start: every started
    experience is read, from ``start_date`` on.

    ``ran_until`` is an end instant: one exactly at a day boundary (a local midnight) belongs to the day
    before, so the window's first day is the day of the instant one second earlier, and an experience
    that ran until exactly the window's first midnight has nothing in it. Each project's cursor records
    the report time zone (``utc_offset``) it was counted in; a project whose recorded zone differs from
    the configured one is read as on a first sync (every day again, in the new zone), with one warning
    per stream. A cursor saved before zones were recorded counts as the configured zone's.

    ``read_settings``: what a subclass's rows depend on beyond the window (dimensions, metrics), recorded
    beside each project's cursor likewise. A project whose record lacks a configured value (one added
    since) is read as on a first sync, with one warning per stream: else older experiences or days would
    never get that value's rows. A value removed needs no re-read.
    """

    lookback_days: Union[str, int] = 0
    utc_offset: Union[str, int] = 0

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._stream_name = str(parameters.get("name", "?"))
        self._lookback_seconds = _interpolated_int(self.lookback_days, self.config, parameters) * _DAY_SECONDS
        self._utc_offset = _interpolated_int(self.utc_offset, self.config, parameters)
        self._new_cursors: Optional[Dict[str, Optional[int]]] = None

    def day_start(self, day: dt.date) -> int:
        """The UNIX time that begins ``day`` in the report time zone: its midnight under the earlier of the two
        readings of a local time (a UTC instant, or local time written as UTC), so it is early enough under both."""
        return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc).timestamp()) - max(self._utc_offset, 0)

    def window_first_day(self, window_start: int) -> dt.date:
        """The day of the window start in the report time zone; the start is an end instant (when experiences
        last ran), so one exactly at a day boundary belongs to the day before."""
        return dt.datetime.fromtimestamp(window_start + self._utc_offset - 1, tz=dt.timezone.utc).date()

    def settled_slices(self) -> Iterable[StreamSlice]:
        held = self.held_parent_state()
        saved = project_cursors(held, RAN_UNTIL)
        projects = configured_projects(self.config)
        if saved and any(project not in saved for project in projects):
            LOGGER.warning(
                "Stream '%s': project(s) %s have no saved report cursor of their own; all their started experiences are read.",
                self._stream_name, ", ".join(project for project in projects if project not in saved),
            )
        new_cursors: Dict[str, Optional[int]] = dict(saved)
        saved = self._in_this_time_zone(saved, project_recorded(held, UTC_OFFSET))
        saved = self._with_read_settings(saved, held)
        slices: List[StreamSlice] = []
        # Every project's whole list first: a partition generated (and closed) before a later page
        # fails would let the CDK save a cursor past the experiences on the pages never read.
        started = self._started_experiences()
        for project in projects:
            experiences = started[project]
            ran = [time for time in (unix_seconds(experience.get(RAN_UNTIL)) for experience in experiences) if time]
            known = [time for time in (saved.get(project), max(ran, default=None)) if time is not None]
            # No time known (no started experience yet) gives cursor 0: every experience is read next time.
            new_cursors[project] = max(known) if known else 0
            window_start = saved[project] - self._lookback_seconds if project in saved else None
            # One start for experiences and days: the beginning of the window's first day.
            threshold = self.day_start(self.window_first_day(window_start)) if window_start is not None else None
            for experience in experiences:
                if threshold is not None and stopped_before(experience, threshold):
                    continue
                slices.extend(self.partitions(project, experience, window_start))
        self._new_cursors = new_cursors
        yield from slices

    def _in_this_time_zone(self, saved: Dict[str, int], zones: Mapping[str, str]) -> Dict[str, int]:
        """The saved cursors counted in the configured report time zone; the others are dropped (their
        projects are read in full), with one warning per stream and sync."""
        changed = sorted(project for project in saved if zones.get(project, str(self._utc_offset)) != str(self._utc_offset))
        if not changed:
            return saved
        before = sorted({zones[project] for project in changed})
        message = (
            f"Stream '{self._stream_name}': the report time zone changed since the last sync (utc_offset "
            f"{' and '.join(before)} seconds, now {self._utc_offset}), so the days saved for project(s) "
            f"{', '.join(changed)} have other boundaries: every report day of those projects is read again, in the new zone."
        )
        read_once(("warning", message), lambda: LOGGER.warning(message))
        return {project: cursor for project, cursor in saved.items() if project not in changed}

    def read_settings(self) -> Dict[str, ReadSetting]:
        """Name (a config field) -> what this sync reads of it and what a cursor without the record read."""
        return {}

    def _with_read_settings(self, saved: Dict[str, int], held: Optional[Mapping[str, Any]]) -> Dict[str, int]:
        """The saved cursors whose recorded settings hold every configured value; the others are dropped
        (their projects are read in full), with one warning per stream and sync naming what was added."""
        changed: Dict[str, set] = {}
        added: Dict[str, set] = {}
        for name, setting in self.read_settings().items():
            recorded = project_recorded(held, name)
            for project in saved:
                before = recorded[project].split(",") if project in recorded else list(setting.unrecorded)
                new = set(setting.configured) - set(before)
                if new:
                    changed.setdefault(name, set()).add(project)
                    added.setdefault(name, set()).update(new)
        if not changed:
            return saved
        projects = sorted(set().union(*changed.values()))
        message = (
            f"Stream '{self._stream_name}': "
            + "; ".join(f"{name} has {', '.join(sorted(added[name]))} that the last sync did not read" for name in sorted(added))
            + f", so every started experience of project(s) {', '.join(projects)} is read again in full, as on a first sync."
        )
        read_once(("warning", message), lambda: LOGGER.warning(message))
        return {project: cursor for project, cursor in saved.items() if project not in projects}

    def _started_experiences(self) -> Dict[str, List[Mapping[str, Any]]]:
        """Every configured project's started experiences (records of the parent stream), read once per sync."""
        stream = self.parent_stream_configs[0].stream

        def read() -> Dict[str, List[Mapping[str, Any]]]:
            partitions = partitions_by_project(stream.generate_partitions())
            return {project: [dict(record.data) for record in partition.read()] for project, partition in partitions.items()}

        return read_once(("started_experiences", self.config.get("api_base_url"), self.config.get("account_id")), read)

    def partitions(self, project: str, experience: Mapping[str, Any], window_start: Optional[int]) -> Iterable[StreamSlice]:
        """The partitions of one experience that is read: here one, with its ``ran_until``."""
        yield StreamSlice(
            partition={PROJECT_ID: project, "experience_id": experience.get("id")},
            cursor_slice={},
            extra_fields={RAN_UNTIL: experience.get(RAN_UNTIL)},
        )

    def current_parent_state(self) -> Optional[Mapping[str, StreamState]]:
        """After the partitions: the newest ``ran_until`` per project."""
        if self._new_cursors is None:
            return self.held_parent_state_by_stream()
        recorded = {UTC_OFFSET: self._utc_offset,
                    **{name: ",".join(setting.configured) for name, setting in self.read_settings().items()}}
        state = project_state(self._new_cursors, RAN_UNTIL, **recorded)
        # A project not read in this sync (no longer configured) keeps its cursor with what it records.
        configured = set(configured_projects(self.config))
        held = {str(entry["partition"][PROJECT_ID]): entry["cursor"] for entry in (self.held_parent_state() or {}).get("states") or []
                if isinstance(entry, Mapping) and isinstance(entry.get("partition"), Mapping) and PROJECT_ID in entry["partition"]}
        for entry in state["states"]:
            project = entry["partition"][PROJECT_ID]
            if project not in configured and isinstance(held.get(project), Mapping):
                entry["cursor"] = dict(held[project])
        return {config.stream.name: state for config in self.parent_stream_configs}


@dataclass(frozen=True)
class ReadSetting:
    """A setting recorded beside each project's report cursor: the values this sync reads (sorted), and
    the values a cursor saved without the record is taken to have read."""

    configured: Tuple[str, ...]
    unrecorded: Tuple[str, ...] = ()


def stopped_before(experience: Mapping[str, Any], threshold: int) -> bool:
    """Whether an experience has stopped and last ran before ``threshold`` (unknown times: no); ``ran_until``
    is an end instant, so one exactly at ``threshold`` ran before it too."""
    if experience.get("status") == "active" or unix_seconds(experience.get("end_time")) is None:
        return False
    ran_until = unix_seconds(experience.get(RAN_UNTIL))
    return ran_until is not None and ran_until <= threshold


@dataclass
class DayWindowPartitionRouter(RecentExperiencesPartitionRouter):
    """Day-by-day reports: one partition per experience that is read, with the request's ``start_time`` as
    ``report_start``: the midnight that starts the project's first day to deliver, the day of its window
    start in the report time zone (``utc_offset`` seconds), on a first sync ``start_date``'s day; never
    before ``start_date``. The reference leaves open whether ``start_time`` is a UTC instant or local time
    written as UTC: the earlier of the two readings is sent, exact under both. The window ends nowhere
    (``end_time`` null, added here)."""

    baseline_days: ClassVar[int] = 0  # days requested before the first day delivered

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._first_day = dt.date.fromisoformat(str(self.config.get("start_date") or "1970-01-01")[:10])

    def request_start_time(self, window_start: Optional[int]) -> int:
        """``start_time`` for a window that starts at UNIX time ``window_start`` (``None``: at ``start_date``)."""
        first = self._first_day
        if window_start is not None:
            first = max(first, self.window_first_day(window_start))
        return self.day_start(first - dt.timedelta(days=self.baseline_days))

    def partitions(self, project: str, experience: Mapping[str, Any], window_start: Optional[int]) -> Iterable[StreamSlice]:
        yield StreamSlice(
            partition={PROJECT_ID: project, "experience_id": experience.get("id"),
                       "report_start": self.request_start_time(window_start)},
            cursor_slice={},
        )

    def get_request_body_json(
        self,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Mapping[str, Any]:
        """``end_time: null``: every day the report has from ``start_time`` on (the YAML body drops nulls)."""
        return {"end_time": None}


@dataclass
class ExperienceGoalMetricPartitionRouter(DayWindowPartitionRouter):
    """Daily reports: one partition per (experience, goal, metric) of the experiences that are read.

    The parent must expand the goals (``expand: ["goals"]``) so that each has its ``type``. ``metrics``
    (a list, interpolated) are the metrics to read; the revenue metrics are requested only for goals of
    type ``revenue``. A goal that comes as a bare id has an unknown type: only ``conversion_rate`` is
    requested for it, and one warning says so.

    Each partition has the request's ``start_time`` as ``report_start`` (``DayWindowPartitionRouter``), one day
    before the project's first day to deliver: that day is the baseline for running totals, never delivered.
    """

    metrics: Union[str, List[str]] = ""
    baseline_days: ClassVar[int] = 1

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        metrics = self.metrics
        if isinstance(metrics, str):
            metrics = InterpolatedString.create(metrics, parameters=parameters).eval(self.config) or list(DEFAULT_DAILY_METRICS)
        self._metrics = [metric for metric in DAILY_METRICS if metric in metrics]
        self._warned = Once()

    def read_settings(self) -> Dict[str, ReadSetting]:
        # A cursor saved before metrics were recorded (1.x) is taken to have read the metrics 1.x had (its
        # default, all three); the metrics new in 2.0.0 were never read before, so adding one re-reads.
        return {DAILY_METRICS_SETTING: ReadSetting(tuple(sorted(self._metrics)), tuple(sorted(DEFAULT_DAILY_METRICS)))}

    def partitions(self, project: str, experience: Mapping[str, Any], window_start: Optional[int]) -> Iterable[StreamSlice]:
        experience_id = experience.get("id")
        goals = experience.get("goals")
        if goals is None:
            self._warn_once(
                "goals", "Experience %s came without its goals list (maybe others): no daily report can be requested for it.",
                experience_id,
            )
        start_time = self.request_start_time(window_start)
        for goal in goals or []:
            goal_id = goal.get("id") if isinstance(goal, Mapping) else goal
            if goal_id is None:
                continue
            goal_type = goal.get("type") if isinstance(goal, Mapping) else None
            if goal_type is None:
                self._warn_once(
                    "untyped", "Goal %s of experience %s came without its type (maybe others): only conversion_rate is read "
                    "for goals of unknown type, the revenue metrics for goals of type 'revenue'.",
                    goal_id, experience_id,
                )
            for metric in self._metrics:
                if metric in REVENUE_METRICS and goal_type != "revenue":
                    continue
                yield StreamSlice(
                    partition={PROJECT_ID: project, "experience_id": experience_id, "goal_id": goal_id, "metric": metric,
                               "report_start": start_time},
                    cursor_slice={},
                )

    def _warn_once(self, topic: str, message: str, *args: Any) -> None:
        if self._warned.first(topic):
            LOGGER.warning(message, *args)
