"""Report components: flatten Convert's report payloads into rows, and partition by experience goal."""

from __future__ import annotations

import datetime as dt
from dataclasses import InitVar, dataclass
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional

import requests

from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.declarative.partition_routers.substream_partition_router import SubstreamPartitionRouter
from airbyte_cdk.sources.types import StreamSlice, StreamState

from source_convert.components.extractor import ConvertDataExtractor

_MILLISECONDS_THRESHOLD = 10_000_000_000  # a UNIX time above this is in milliseconds


def _goal_entries(report: Any) -> List[Mapping[str, Any]]:
    """``reportData`` may be one goal's object or a list of them."""
    entries = report.get("reportData") if isinstance(report, Mapping) else None
    if isinstance(entries, Mapping):
        return [entries]
    return [entry for entry in entries or [] if isinstance(entry, Mapping)]


def _goal_id(entry: Mapping[str, Any]) -> Any:
    return entry.get("goal_id", entry.get("goal"))


def utc_day(timestamp: Any) -> Optional[str]:
    """``YYYY-MM-DD`` of a UNIX time in seconds or milliseconds."""
    if not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool):
        return None
    seconds = timestamp / 1000 if timestamp > _MILLISECONDS_THRESHOLD else timestamp
    return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc).strftime("%Y-%m-%d")


@dataclass
class AggregatedReportExtractor(ConvertDataExtractor):
    """One row per goal and variation of an aggregated report."""

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        for report in super().extract_records(response):
            names = {item.get("id"): item for item in report.get("variations_data") or [] if isinstance(item, Mapping)}
            for entry in _goal_entries(report):
                for variation in entry.get("variations") or []:
                    conversion = variation.get("conversion_data") or {}
                    revenue = variation.get("revenue_data") or {}
                    products = variation.get("products_data") or {}
                    described = names.get(variation.get("id"), {})
                    yield {
                        "goal_id": _goal_id(entry),
                        "variation_id": variation.get("id"),
                        "variation_name": described.get("name"),
                        "is_baseline": described.get("is_baseline"),
                        "visitors": variation.get("visitors"),
                        "conversions": conversion.get("conversions"),
                        "conversion_rate": conversion.get("conversion_rate"),
                        "conversion_rate_change": conversion.get("conversion_rate_change"),
                        "confidence": conversion.get("confidence"),
                        "total_revenue": revenue.get("total_revenue"),
                        "revenue_per_visitor": revenue.get("revenue_per_visitor"),
                        "total_products": products.get("total_products"),
                    }


@dataclass
class DailyReportExtractor(ConvertDataExtractor):
    """One row per goal, variation and day of a daily report."""

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        for report in super().extract_records(response):
            for entry in _goal_entries(report):
                for variation in entry.get("variations") or []:
                    for stat in variation.get("stats") or []:
                        totals = stat.get("totals") if isinstance(stat.get("totals"), Mapping) else {}
                        yield {
                            "goal_id": _goal_id(entry),
                            "variation_id": variation.get("id"),
                            "day": utc_day(stat.get("timestamp")),
                            "timestamp": stat.get("timestamp"),
                            "value": stat.get("value"),
                            "visitors": stat.get("visitors"),
                            "conversions": totals.get("conversions"),
                        }


REPORT_CURSORS_KEY = "__daily_report_cursors"


def report_cursors_from_state(stream_state: Mapping[str, Any]) -> Dict[str, str]:
    """``{"<experience_id>:<goal_id>": "YYYY-MM-DD"}`` from a per-partition ``daily_reports`` state."""
    cursors: Dict[str, str] = {}
    for entry in stream_state.get("states") or [] if isinstance(stream_state, Mapping) else []:
        partition = entry.get("partition") or {} if isinstance(entry, Mapping) else {}
        day = (entry.get("cursor") or {}).get("day") if isinstance(entry, Mapping) else None
        if isinstance(day, str) and "experience_id" in partition and "goal_id" in partition:
            cursors[f"{partition['experience_id']}:{partition['goal_id']}"] = day
    return cursors


@dataclass
class ExperienceGoalPartitionRouter(SubstreamPartitionRouter):
    """One partition per (experience, goal): the parent experience's ``goals`` come in as an extra field.

    Set ``extra_fields: [["goals"], ["end_time"]]`` on the parent config; goal entries may be ids or
    expanded objects. A partition is skipped when its experience ended, its saved cursor already
    reaches the end day, and the end lies before the lookback window (``lookback_days`` before
    today): it has no new or recomputed days. The saved cursors come from the stream state through
    the config (see ``SourceConvert``).
    """

    lookback_days: Any = 0

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        evaluated = InterpolatedString.create(str(self.lookback_days), parameters=parameters).eval(self.config)
        self._lookback = int(evaluated or 0)

    def _skippable(self, experience_id: Any, goal_id: Any, end_time: Any) -> bool:
        """Ended, every day through the end already synced, and the end older than the lookback window."""
        if not isinstance(end_time, (int, float)) or isinstance(end_time, bool) or end_time <= 0:
            return False
        cursor_day = (self.config.get(REPORT_CURSORS_KEY) or {}).get(f"{experience_id}:{goal_id}")
        end_day = utc_day(end_time)
        if not cursor_day or not end_day:
            return False
        recomputed_from = dt.datetime.now(tz=dt.timezone.utc).date() - dt.timedelta(days=self._lookback)
        return cursor_day >= end_day and dt.date.fromisoformat(end_day) < recomputed_from

    def stream_slices(self) -> Iterable[StreamSlice]:
        for parent_slice in super().stream_slices():
            goals = parent_slice.extra_fields.get("goals") or []
            end_time = parent_slice.extra_fields.get("end_time")
            for goal in goals:
                goal_id = goal.get("id") if isinstance(goal, Mapping) else goal
                if goal_id is None or self._skippable(parent_slice.partition.get("experience_id"), goal_id, end_time):
                    continue
                yield StreamSlice(
                    partition={**parent_slice.partition, "goal_id": goal_id},
                    cursor_slice=parent_slice.cursor_slice,
                    extra_fields={key: value for key, value in parent_slice.extra_fields.items() if key not in ("goals", "end_time")},
                )
