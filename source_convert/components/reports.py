"""Report components: flatten Convert's report payloads into rows, and partition by experience goal."""

from __future__ import annotations

import datetime as dt
import functools
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


@functools.lru_cache(maxsize=4096)
def utc_day(timestamp: Any) -> Optional[str]:
    """``YYYY-MM-DD`` of a UNIX time in seconds or milliseconds (cached: a report repeats its days)."""
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
                goal_id = _goal_id(entry)
                for variation in entry.get("variations") or []:
                    variation_id = variation.get("id")
                    for stat in variation.get("stats") or []:
                        totals = stat.get("totals")
                        timestamp = stat.get("timestamp")
                        yield {
                            "goal_id": goal_id,
                            "variation_id": variation_id,
                            "day": utc_day(timestamp) if isinstance(timestamp, (int, float)) else None,
                            "timestamp": timestamp,
                            "value": stat.get("value"),
                            "visitors": stat.get("visitors"),
                            "conversions": totals.get("conversions") if isinstance(totals, Mapping) else None,
                        }


REPORT_SYNCED_KEY = "__daily_report_synced"
_DAY_SECONDS = 86400


def report_synced_from_state(stream_state: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """``{"day": "YYYY-MM-DD", "lookback_seconds": n}`` from a saved ``daily_reports`` state, if it has a cursor.

    ``day`` is the stream's (global) cursor: every experience goal was synced through it.
    ``lookback_seconds`` is the CDK's runtime lookback (the last sync's duration) saved beside it.
    """
    if not isinstance(stream_state, Mapping):
        return None
    cursor = stream_state.get("state") if isinstance(stream_state.get("state"), Mapping) else stream_state
    day = cursor.get("day")
    try:
        dt.date.fromisoformat(day)
    except (TypeError, ValueError):
        return None
    lookback = stream_state.get("lookback_window")
    lookback_seconds = int(lookback) if isinstance(lookback, (int, float)) and not isinstance(lookback, bool) and lookback > 0 else 0
    return {"day": day, "lookback_seconds": lookback_seconds}


@dataclass
class ExperienceGoalPartitionRouter(SubstreamPartitionRouter):
    """One partition per (experience, goal): the parent experience's ``goals`` come in as an extra field.

    Set ``extra_fields: [["goals"], ["end_time"]]`` on the parent config; goal entries may be ids or
    expanded objects. An incremental sync asks every partition for the days from the saved cursor
    minus the lookback windows; a partition whose experience ended before that first day can have no
    row in the window and is skipped without a request. The saved cursor comes from the stream state
    through the config (see ``SourceConvert``).
    """

    lookback_days: Any = 0

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        evaluated = InterpolatedString.create(str(self.lookback_days), parameters=parameters).eval(self.config)
        self._first_day = self._first_requested_day(int(evaluated or 0))

    def _first_requested_day(self, lookback_days: int) -> Optional[str]:
        """The earliest day an incremental sync can request: cursor - configured - runtime lookback (rounded up)."""
        synced = self.config.get(REPORT_SYNCED_KEY)
        if not synced:
            return None
        runtime_days = -(-int(synced["lookback_seconds"]) // _DAY_SECONDS)
        first = dt.date.fromisoformat(synced["day"]) - dt.timedelta(days=lookback_days + runtime_days)
        return first.isoformat()

    def _skippable(self, end_time: Any) -> bool:
        """Ended before the first day this sync requests: the answer could hold no row."""
        if self._first_day is None:
            return False
        if not isinstance(end_time, (int, float)) or isinstance(end_time, bool) or end_time <= 0:
            return False
        end_day = utc_day(end_time)
        return end_day is not None and end_day < self._first_day

    def stream_slices(self) -> Iterable[StreamSlice]:
        for parent_slice in super().stream_slices():
            goals = parent_slice.extra_fields.get("goals") or []
            if self._skippable(parent_slice.extra_fields.get("end_time")):
                continue
            for goal in goals:
                goal_id = goal.get("id") if isinstance(goal, Mapping) else goal
                if goal_id is None:
                    continue
                yield StreamSlice(
                    partition={**parent_slice.partition, "goal_id": goal_id},
                    cursor_slice=parent_slice.cursor_slice,
                    extra_fields={key: value for key, value in parent_slice.extra_fields.items() if key not in ("goals", "end_time")},
                )
