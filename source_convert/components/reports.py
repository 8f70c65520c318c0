"""Report components: Convert's report payloads as rows, and which report requests a sync makes.

Both report streams have the started experiences as parent, read incrementally
(``incremental_dependency``): their cursor ``ran_until`` (when each experience last ran, as Convert
says) is kept in the report stream's state and handed back to the parent's cursor by the CDK. The
partition routers read that cursor to leave out experiences that stopped before the last sync minus
the lookback; no value of the local clock is used anywhere.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Mapping, MutableMapping, NoReturn, Optional, Tuple, Union

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.declarative.migrations.state_migration import StateMigration
from airbyte_cdk.sources.declarative.transformations.transformation import RecordTransformation
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components.envelope import describe_request
from source_convert.components.extractor import ConvertDataExtractor
from source_convert.components.parent_state import SettledParentStateRouter

LOGGER = logging.getLogger("airbyte")

DAILY_METRICS = ("conversion_rate", "avg_revenue_per_visitor", "avg_products_ordered_per_visitor")
REVENUE_METRICS = frozenset(DAILY_METRICS[1:])  # meaningful only for goals of type "revenue"
RAN_UNTIL = "ran_until"
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
        body = getattr(self.response.request, "body", None)
        try:
            sent = json.loads(body) if body else None
        except ValueError:
            sent = None
        goal = _goal_id(sent) if isinstance(sent, Mapping) else None
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
class AggregatedReportExtractor(_ReportExtractor):
    """One row per goal and variation of an aggregated report, with the variation's name and baseline flag.

    A report without ``variations_data`` still gives every number; one warning says the names are missing.
    """

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._warned_names = False

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        reader = _ReportReader(self._stream, response)
        for report in self._reports(response, reader):
            entries = list(reader.goal_entries(report))
            described = self._described(reader, report)
            for where, entry in entries:
                goal_id = _goal_id(entry)
                if goal_id is None:
                    reader.fail(f"has no 'goal_id' (or 'goal') in {where}")
                for place, variation in reader.objects(entry, "variations", where):
                    variation_id = reader.identifier(variation, "id", place)
                    conversion = reader.optional_object(variation, "conversion_data", place)
                    revenue = reader.optional_object(variation, "revenue_data", place)
                    products = reader.optional_object(variation, "products_data", place)
                    about = described.get(variation_id, {})
                    yield {
                        "goal_id": goal_id,
                        "variation_id": variation_id,
                        "variation_name": about.get("name"),
                        "is_baseline": about.get("is_baseline"),
                        "visitors": variation.get("visitors"),
                        "conversions": conversion.get("conversions"),
                        "conversion_rate": conversion.get("conversion_rate"),
                        "conversion_rate_change": conversion.get("conversion_rate_change"),
                        "confidence": conversion.get("confidence"),
                        "total_revenue": revenue.get("total_revenue"),
                        "revenue_per_visitor": revenue.get("revenue_per_visitor"),
                        "total_products": products.get("total_products"),
                    }

    def _described(self, reader: _ReportReader, report: Mapping[str, Any]) -> Dict[Any, Mapping[str, Any]]:
        """``variations_data`` by variation id."""
        if report.get("variations_data") is None:
            if not self._warned_names:
                self._warned_names = True
                LOGGER.warning(
                    "Stream '%s': the report Convert answered to %s has no variations_data (maybe others too): "
                    "its rows have no variation_name or is_baseline.", self._stream, describe_request(reader.response),
                )
            return {}
        return {item.get("id"): item for _, item in reader.objects(report, "variations_data", "data")}


@dataclass
class DailyReportExtractor(_ReportExtractor):
    """One row per goal, variation and day of a daily report; ``day`` is the date in the report time zone.

    ``utc_offset``: seconds east of UTC, the value sent with the request (interpolated against the config).
    A goal entry that names another goal than the request asked for fails the sync: its rows would be
    counted for the requested goal.
    """

    config: Config = None  # type: ignore[assignment]
    utc_offset: Union[str, int] = 0

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._utc_offset = _interpolated_int(self.utc_offset, self.config or {}, parameters or {})

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        reader = _ReportReader(self._stream, response)
        requested = reader.requested_goal()
        for report in self._reports(response, reader):
            for where, entry in list(reader.goal_entries(report)):
                goal_id = _goal_id(entry)
                if goal_id is not None and str(goal_id) != str(requested):
                    reader.fail(f"is for goal {goal_id} in {where}, but goal {requested} was requested")
                for place, variation in reader.objects(entry, "variations", where):
                    variation_id = reader.identifier(variation, "id", place)
                    for stat_place, stat in reader.objects(variation, "stats", place):
                        timestamp = stat.get("timestamp")
                        day = report_day(timestamp, self._utc_offset)
                        if day is None:
                            reader.fail(f"has {_kind(timestamp)} as {stat_place}.timestamp, expected a positive UNIX time")
                        totals = reader.optional_object(stat, "totals", stat_place)
                        yield {
                            "goal_id": goal_id,
                            "variation_id": variation_id,
                            "day": day,
                            "timestamp": timestamp,
                            "value": stat.get("value"),
                            "visitors": stat.get("visitors"),
                            "conversions": totals.get("conversions"),
                            "revenue": totals.get("revenue"),
                            "products": totals.get("products"),
                        }


@dataclass
class RanUntil(RecordTransformation):
    """Sets ``ran_until`` on a started experience: the newest of ``max_running_timestamp`` and ``end_time``
    (UNIX seconds), i.e. up to when Convert says it ran; left unset when neither is a time.

    ``max_running_timestamp`` is not in Convert's rendered schema: when an answer lacks it, one warning
    says that ``end_time`` decides for stopped experiences (running ones are read on every sync anyway).
    """

    def __post_init__(self) -> None:
        self._warned = False

    def transform(
        self,
        record: MutableMapping[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        reported = unix_seconds(record.get("max_running_timestamp"))
        if "max_running_timestamp" not in record and not self._warned:
            self._warned = True
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
    """One partition per started experience that can have report data the last sync did not read.

    Needs ``extra_fields: [["status"], ["end_time"], ["ran_until"]]`` and ``incremental_dependency: true``
    on the parent config. The parent's cursor (its saved ``ran_until``, the newest time any experience
    ran at the last sync) minus ``lookback_days`` is the threshold: an experience that stopped
    (``end_time`` set, status not ``active``) and ran until before it costs no request. Running
    experiences, and experiences without usable times, are always read. A first sync reads every one.
    """

    lookback_days: Union[str, int] = 0

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._lookback_seconds = _interpolated_int(self.lookback_days, self.config, parameters) * _DAY_SECONDS

    def _threshold(self) -> Optional[int]:
        """Saved ``ran_until`` of the parent minus the lookback (seconds); ``None`` when nothing was saved."""
        cursor = self.parent_stream_configs[0].stream.cursor
        saved = unix_seconds(_as_number(cursor.state.get(cursor.cursor_field.cursor_field_key)))
        return saved - self._lookback_seconds if saved is not None else None

    def settled_slices(self) -> Iterable[StreamSlice]:
        threshold = self._threshold()  # read before the parent is: its cursor moves while it is read
        # The whole list first: a partition generated (and closed) before a later page fails would let
        # the CDK save the stream cursor it advanced, past the experiences on the pages never read.
        for parent_slice in list(self.parent_slices()):
            extra = parent_slice.extra_fields
            if threshold is not None and stopped_before(extra, threshold):
                continue
            yield from self.partitions(parent_slice)

    def partitions(self, parent_slice: StreamSlice) -> Iterable[StreamSlice]:
        """The partitions of one experience that is read: here one, with its ``ran_until``."""
        yield StreamSlice(
            partition=parent_slice.partition,
            cursor_slice={},
            extra_fields={RAN_UNTIL: parent_slice.extra_fields.get(RAN_UNTIL)},
        )


def _as_number(value: Any) -> Any:
    """A state value as saved by a ``%s`` cursor (a string of digits) as a number; others unchanged."""
    try:
        return float(value) if isinstance(value, str) else value
    except ValueError:
        return None


def stopped_before(extra: Mapping[str, Any], threshold: int) -> bool:
    """Whether an experience has stopped and last ran before ``threshold`` (unknown times: no)."""
    if extra.get("status") == "active" or unix_seconds(extra.get("end_time")) is None:
        return False
    ran_until = unix_seconds(extra.get(RAN_UNTIL))
    return ran_until is not None and ran_until < threshold


@dataclass
class ExperienceGoalMetricPartitionRouter(RecentExperiencesPartitionRouter):
    """Daily reports: one partition per (experience, goal, metric) of the experiences that are read.

    Needs ``["goals"]`` among the parent's extra fields, expanded (``expand: ["goals"]``) so that each
    goal has its ``type``. ``metrics`` (a list, interpolated) are the metrics to read; the revenue
    metrics are requested only for goals of type ``revenue``. A goal that comes as a bare id has an
    unknown type: only ``conversion_rate`` is requested for it, and one warning says so.
    The report window ends nowhere (``end_time`` null): the request body part this router adds.
    """

    metrics: Union[str, List[str]] = ""

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        metrics = self.metrics
        if isinstance(metrics, str):
            metrics = InterpolatedString.create(metrics, parameters=parameters).eval(self.config) or list(DAILY_METRICS)
        self._metrics = [metric for metric in DAILY_METRICS if metric in metrics]
        self._warned: set = set()

    def partitions(self, parent_slice: StreamSlice) -> Iterable[StreamSlice]:
        experience = parent_slice.partition
        goals = parent_slice.extra_fields.get("goals")
        if goals is None:
            self._warn_once(
                "goals", "Experience %s came without its goals list (maybe others): no daily report can be requested for it.",
                experience.get("experience_id"),
            )
        for goal in goals or []:
            goal_id = goal.get("id") if isinstance(goal, Mapping) else goal
            if goal_id is None:
                continue
            goal_type = goal.get("type") if isinstance(goal, Mapping) else None
            if goal_type is None:
                self._warn_once(
                    "untyped", "Goal %s of experience %s came without its type (maybe others): only conversion_rate is read "
                    "for goals of unknown type, the revenue metrics for goals of type 'revenue'.",
                    goal_id, experience.get("experience_id"),
                )
            for metric in self._metrics:
                if metric in REVENUE_METRICS and goal_type != "revenue":
                    continue
                yield StreamSlice(partition={**experience, "goal_id": goal_id, "metric": metric}, cursor_slice={})

    def _warn_once(self, topic: str, message: str, *args: Any) -> None:
        if topic not in self._warned:
            self._warned.add(topic)
            LOGGER.warning(message, *args)

    def get_request_body_json(
        self,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
    ) -> Mapping[str, Any]:
        """``end_time: null``: every day the report has from ``start_time`` on (the YAML body drops nulls)."""
        return {"end_time": None}


@dataclass
class DailyStateWithoutParent(StateMigration):
    """A ``daily_reports`` state from before the started experiences' cursor was kept in it (0.2.0, or a
    0.1.0 state carried over): ``{"use_global_cursor": true, "state": {"day": "YYYY-MM-DD"}, ...}``.

    It gains ``parent_state``: the saved day's midnight as the started experiences' ``ran_until``, so
    the sync goes on from the saved day and leaves out experiences that stopped before its window, as
    0.2.0 did. (Without it, the CDK would seed the parent's cursor with the ``day`` state.)
    """

    parent_stream: str = "started_experiences"

    def should_migrate(self, stream_state: Mapping[str, Any]) -> bool:
        return "parent_state" not in stream_state and self._saved_day(stream_state) is not None

    def migrate(self, stream_state: Mapping[str, Any]) -> Mapping[str, Any]:
        day = self._saved_day(stream_state)
        midnight = int(dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc).timestamp())  # type: ignore[arg-type]
        return {**stream_state, "parent_state": {self.parent_stream: {RAN_UNTIL: str(midnight)}}}

    @staticmethod
    def _saved_day(stream_state: Mapping[str, Any]) -> Optional[dt.date]:
        cursor = stream_state.get("state")
        try:
            return dt.date.fromisoformat(cursor["day"]) if isinstance(cursor, Mapping) else None
        except (KeyError, TypeError, ValueError):
            return None
