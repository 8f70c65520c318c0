"""Aggregated reports as rows: one per goal, variation and metric, overall and by segment.

A row keeps the names of Convert's ``metrics[]`` items (``metric_total`` ... ``srm_pvalue``) and adds the
goal's ``srm``/``srm_pvalue`` (as ``goal_srm``/``goal_srm_pvalue``), the report's ``stats_methodology``
and the variation's ``name`` and ``is_baseline``. ``metric`` is in the vocabulary of ``daily_reports``
(``report_vocabulary``). What Convert may add later arrives without failing the sync, with one warning
per sync: a metric type keeps Convert's own name in ``metric``; a statistic goes to
``additional_statistics``. A report without ``metrics[]`` gives rows from the deprecated
``conversion_data``, ``revenue_data`` and ``products_data`` (one warning).

``segment_reports`` reads, per experience, the aggregated report once per value of each configured
dimension and checks what comes back against the experience's unfiltered report (``SegmentChecks``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Mapping, MutableMapping, NoReturn, Optional, Tuple

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.requesters.requester import Requester
from airbyte_cdk.sources.types import Config, StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components.changes import as_object_id
from source_convert.components.envelope import describe_request, request_path
from source_convert.components.project_state import PROJECT_ID
from source_convert.components.report_vocabulary import (
    AGGREGATED_METRIC_NAMES,
    SEGMENT_DIMENSIONS,
    SEGMENT_VALUES,
    SPLITTING_DIMENSIONS,
    exclusive,
)
from source_convert.components.reports import (
    COUNTRIES_SETTING,
    SEGMENTS_SETTING,
    ReadSetting,
    RecentExperiencesPartitionRouter,
    _goal_id,
    _kind,
    _ReportExtractor,
    _ReportReader,
)
from source_convert.components.shared_reads import Once, read_once

LOGGER = logging.getLogger("airbyte")

STATISTICS = ("metric_total", "metric_value", "metric_change", "metric_interval", "confidence",
              "statistically_significant", "chance_to_win", "expected", "risk", "estimated_progress",
              "remaining_samples", "observed_power", "powerful", "done", "srm", "srm_pvalue")
_NOT_COLUMNS = frozenset(("metric_type", "normality_conditions_met"))  # the key, and a deprecated flag
METHODOLOGIES = ("frequentist", "bayesian")
# The deprecated blocks: (block, metric, {row field: block field}).
_DEPRECATED = (
    ("conversion_data", "conversion_rate",
     {"metric_total": "conversions", "metric_value": "conversion_rate", "metric_change": "conversion_rate_change",
      "metric_interval": "conversion_rate_interval"}),
    ("revenue_data", "avg_revenue_per_visitor",
     {"metric_total": "total_revenue", "metric_value": "revenue_per_visitor", "metric_change": "revenue_per_visitor_change",
      "metric_interval": "revenue_per_visitor_interval"}),
    ("products_data", "avg_products_ordered_per_visitor",
     {"metric_total": "total_products", "metric_value": "products_per_visitor", "metric_change": "products_per_visitor_change",
      "metric_interval": "products_per_visitor_interval"}),
)
_PERCENT_TOLERANCE = 0.01  # the deprecated conversion_rate in percent, rounded to 4 decimals
_EXPERIENCE_PATH = re.compile(r"/projects/(?P<project>\d+)/experiences/(?P<experience>\d+)/")


@dataclass
class AggregatedReportExtractor(_ReportExtractor):
    """One row per goal, variation and metric of an aggregated report (see the module)."""

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._warned = Once()

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        yield from self.rows(response)

    def rows(self, response: requests.Response) -> Iterator[Dict[str, Any]]:
        """The rows of one aggregated report answer."""
        reader = _ReportReader(self._stream, response)
        for report in self._reports(response, reader):
            entries = list(reader.goal_entries(report))
            described = self._described(reader, report)
            methodology = report.get("stats_methodology")
            if methodology not in METHODOLOGIES:
                self._warn("methodology", "the report Convert answered to %s has %s as stats_methodology (maybe others "
                           "too), expected frequentist or bayesian: its rows carry it as it is.",
                           describe_request(response), repr(methodology))
            for where, entry in entries:
                goal_id = _goal_id(entry)
                if goal_id is None:
                    reader.fail(f"has no 'goal_id' (or 'goal') in {where}")
                for place, variation in reader.objects(entry, "variations", where):
                    variation_id = reader.identifier(variation, "id", place)
                    about = described.get(variation_id, {})
                    common = {
                        "goal_id": goal_id, "variation_id": variation_id, "variation_name": about.get("name"),
                        "is_baseline": about.get("is_baseline"), "stats_methodology": methodology,
                        "goal_srm": entry.get("srm"), "goal_srm_pvalue": entry.get("srm_pvalue"),
                        "visitors": variation.get("visitors"),
                    }
                    if variation.get("metrics") is None:
                        yield from self._deprecated_rows(reader, variation, place, common)
                        continue
                    for item_place, item in reader.objects(variation, "metrics", place):
                        yield {**common, **self._metric_fields(reader, item, item_place)}

    def _metric_fields(self, reader: _ReportReader, item: Mapping[str, Any], where: str) -> Dict[str, Any]:
        metric_type = item.get("metric_type")
        if not isinstance(metric_type, str) or not metric_type:
            reader.fail(f"has {_kind(metric_type)} as {where}.metric_type, expected a metric name")
        metric = AGGREGATED_METRIC_NAMES.get(metric_type)
        if metric is None:
            metric = metric_type
            self._warn("metric", "the report Convert answered to %s has metric type %r (maybe others too), which the "
                       "connector does not know: its rows carry Convert's name in metric, and every statistic it has.",
                       describe_request(reader.response), metric_type)
        fields: Dict[str, Any] = {"metric": metric, **{name: item.get(name) for name in STATISTICS}}
        unknown = {name: value for name, value in item.items() if name not in STATISTICS and name not in _NOT_COLUMNS}
        if unknown:
            self._warn("statistic", "the report Convert answered to %s has statistic(s) %s (maybe others too), which the "
                       "connector does not know: rows keep them in additional_statistics.",
                       describe_request(reader.response), ", ".join(sorted(unknown)))
            fields["additional_statistics"] = unknown
        return fields

    def _deprecated_rows(self, reader: _ReportReader, variation: Mapping[str, Any], where: str,
                         common: Mapping[str, Any]) -> Iterator[Dict[str, Any]]:
        """Rows from ``conversion_data``, ``revenue_data`` and ``products_data`` (a report without ``metrics[]``).

        Their rates and changes are percentages where ``metrics[]`` has fractions: the conversion rate is
        checked against conversions / visitors to tell which, and the conversion rate, its interval and
        every change of the variation are scaled alike (a rate that fits neither fails the sync)."""
        self._warn("deprecated", "the report Convert answered to %s has no metrics[] (maybe others too): its rows come "
                   "from the deprecated conversion_data, revenue_data and products_data (conversion_rate, "
                   "avg_revenue_per_visitor, avg_products_ordered_per_visitor; no Bayesian statistics, no "
                   "average_order_value or average_products_per_order).", describe_request(reader.response))
        conversion = reader.optional_object(variation, "conversion_data", where)
        scale = _percent_scale(reader, conversion, variation.get("visitors"), where)
        for block_name, metric, names in _DEPRECATED:
            block = reader.optional_object(variation, block_name, where)
            if not block:
                continue
            fields = {field_name: block.get(source) for field_name, source in names.items()}
            # Only the conversion rate, its interval and every change are percentages; the revenue and
            # products values and intervals are amounts per visitor.
            scaled = ("metric_change",) + (("metric_value", "metric_interval") if metric == "conversion_rate" else ())
            for name in scaled:
                if isinstance(fields[name], (int, float)) and not isinstance(fields[name], bool):
                    fields[name] = fields[name] / scale
            yield {**common, "metric": metric, **{name: None for name in STATISTICS}, **fields,
                   "confidence": block.get("confidence"), "statistically_significant": block.get("statistically_significant")}

    def _described(self, reader: _ReportReader, report: Mapping[str, Any]) -> Dict[Any, Mapping[str, Any]]:
        """``variations_data`` by variation id (a report without it: rows without names, one warning)."""
        if report.get("variations_data") is None:
            self._warn("names", "the report Convert answered to %s has no variations_data (maybe others too): its rows "
                       "have no variation_name or is_baseline.", describe_request(reader.response))
            return {}
        return {item.get("id"): item for _, item in reader.objects(report, "variations_data", "data")}

    def _warn(self, topic: str, message: str, *args: Any) -> None:
        if self._warned.first(topic):
            LOGGER.warning("Stream '%s': " + message, self._stream, *args)


def _percent_scale(reader: _ReportReader, conversion: Mapping[str, Any], visitors: Any, where: str) -> float:
    """100 when the deprecated ``conversion_rate`` is a percentage (as documented), 1 when a fraction."""
    rate, conversions = conversion.get("conversion_rate"), conversion.get("conversions")
    numbers = [value for value in (rate, conversions, visitors) if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if len(numbers) < 3 or not visitors or not conversions:
        return 100.0
    if abs(rate - 100 * conversions / visitors) <= _PERCENT_TOLERANCE:
        return 100.0
    if abs(rate - conversions / visitors) <= _PERCENT_TOLERANCE / 100:
        return 1.0
    reader.fail(f"has {where}.conversion_data.conversion_rate {rate}, which is neither a percentage nor a fraction of "
                f"conversions / visitors ({conversions} / {visitors})")


@dataclass
class SegmentedExperiencesPartitionRouter(RecentExperiencesPartitionRouter):
    """The experiences of ``aggregated_reports``' rule, when ``report_segments`` names a dimension; else none
    (and no request, not even the experience list). Each project's cursor records the dimensions and the
    countries read: a dimension or country added since re-reads the project in full (``read_settings``)."""

    def read_settings(self) -> Dict[str, ReadSetting]:
        # segment_reports is new in 2.0.0, so a cursor without the record read no known segment: any
        # configured value re-reads in full (with the warning) rather than be assumed read.
        dimensions = tuple(sorted(set(self.config.get(SEGMENTS_SETTING) or [])))
        countries = tuple(sorted(set(self.config.get(COUNTRIES_SETTING) or []))) if "countries" in dimensions else ()
        return {SEGMENTS_SETTING: ReadSetting(dimensions), COUNTRIES_SETTING: ReadSetting(countries)}

    def settled_slices(self) -> Iterable[StreamSlice]:
        if not self.config.get("report_segments"):
            return []
        return super().settled_slices()


@dataclass
class SegmentReportExtractor(AggregatedReportExtractor):
    """The rows of an experience's aggregated report once per segment value, with ``segment_type`` and
    ``segment_value``; the response it gets is the experience's unfiltered report (not written: the
    checks' reference).

    Per experience and configured dimension (``report_segments``), one ``segment_requester`` request per
    value: ``devices``, ``browsers``, ``visitor_types``, ``sources``: every published value;
    ``countries``: ``report_segment_countries``; ``campaigns``, ``custom_segments``: those the
    experience's report settings name (one ``settings_requester`` GET per experience and sync). A
    dimension's rows are written only after its checks (``check_dimension``) passed.
    """

    config: Config = None  # type: ignore[assignment]
    segment_requester: Optional[Requester] = None
    settings_requester: Optional[Requester] = None

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        unfiltered = list(self.rows(response))
        match = _EXPERIENCE_PATH.search(request_path(response.request))
        if match is None:
            _ReportReader(self._stream, response).fail("cannot be placed: its URL names no project and experience")
        partition = {PROJECT_ID: match.group("project"), "experience_id": match.group("experience")}
        configured = self.config.get("report_segments") or []
        for dimension in [name for name in SEGMENT_DIMENSIONS if name in configured]:
            by_value: Dict[str, List[Dict[str, Any]]] = {}
            for value, sent in self._values(dimension, partition):
                answer = self.segment_requester.send_request(  # type: ignore[union-attr]
                    stream_slice=StreamSlice(partition=partition, cursor_slice={}),
                    request_body_json={"segments": {dimension: [sent]}},
                )
                if answer is not None:  # None: the experience is gone (a 404, warned by the error handler)
                    by_value[value] = list(self.rows(answer))
            check_dimension(self._stream, partition["experience_id"], dimension, unfiltered, by_value)
            for value, rows in by_value.items():
                for row in rows:
                    yield {**row, "segment_type": dimension, "segment_value": value}

    def _values(self, dimension: str, partition: Mapping[str, Any]) -> List[Tuple[str, Any]]:
        """(segment_value as written, value as sent) of a dimension for one experience."""
        if dimension in SEGMENT_VALUES:
            return [(value, value) for value in SEGMENT_VALUES[dimension]]
        if dimension == "countries":
            return [(code, code) for code in self.config.get("report_segment_countries") or []]
        settings = self._report_settings(partition)
        if dimension == "campaigns":
            names = [item.get("name") for item in settings.get("campaigns") or [] if isinstance(item, Mapping)]
            unusable = [name for name in names if not isinstance(name, str) or not name]
            if unusable:
                self._warn("campaign names", "experience %s has a campaign whose name is %s (maybe others too): it "
                           "cannot be sent as a segment, so no row is read for it.", partition["experience_id"],
                           _kind(unusable[0]) if unusable[0] != "" else "empty")
            return [(name, name) for name in names if isinstance(name, str) and name]
        values: List[Tuple[str, Any]] = []
        for item in settings.get("custom_segments") or []:
            raw = item.get("id") if isinstance(item, Mapping) else None
            segment = as_object_id(raw)  # Convert may send ids as text ("123")
            if segment is None:
                self._warn("custom segment ids", "experience %s has a custom segment whose id is %s (maybe others too), "
                           "not a whole number: no row is read for it.", partition["experience_id"], _kind(raw))
                continue
            values.append((str(segment), segment))
        return values

    def _report_settings(self, partition: Mapping[str, Any]) -> Mapping[str, Any]:
        """The experience's report settings (``campaigns``, ``custom_segments``), read once per sync."""

        def read() -> Mapping[str, Any]:
            answer = self.settings_requester.send_request(  # type: ignore[union-attr]
                stream_slice=StreamSlice(partition=dict(partition), cursor_slice={}))
            if answer is None:
                return {}
            body = answer.json()
            data = body.get("data", body) if isinstance(body, Mapping) else None
            if not isinstance(data, Mapping):
                _ReportReader(self._stream, answer).fail("has no report settings object (expected {data: {...}})")
            for name in ("campaigns", "custom_segments"):
                if not isinstance(data.get(name), list):
                    self._warn(f"settings {name}", "the report settings Convert answered to %s have no %s list (maybe "
                               "others too): no %s segment is read for that experience.",
                               describe_request(answer), name, name)
            return data

        key = ("report_settings", self.config.get("api_base_url"), self.config.get("account_id"),
               str(partition[PROJECT_ID]), str(partition["experience_id"]))
        return read_once(key, read)


def _numbers(rows: Iterable[Mapping[str, Any]]) -> Dict[Tuple[Any, Any], Tuple[Any, ...]]:
    """(goal, variation) -> (visitors, each metric's total), for comparing two answers."""
    out: Dict[Tuple[Any, Any], Dict[Any, Any]] = {}
    visitors: Dict[Tuple[Any, Any], Any] = {}
    for row in rows:
        key = (row["goal_id"], row["variation_id"])
        visitors[key] = row.get("visitors")
        out.setdefault(key, {})[row["metric"]] = row.get("metric_total")
    return {key: (visitors[key], tuple(sorted(totals.items(), key=str))) for key, totals in out.items()}


def check_dimension(stream: str, experience: Any, dimension: str, unfiltered: List[Mapping[str, Any]],
                    by_value: Mapping[str, List[Mapping[str, Any]]]) -> None:
    """Fails when a value has more visitors than the unfiltered report, or when two values that exclude each
    other both have exactly the unfiltered numbers (not zero): Convert ignored the filter. For the dimensions
    whose values split the visitors, logs how the values' sum compares with the unfiltered visitors."""
    reference = _numbers(unfiltered)
    everyone = {key: numbers[0] or 0 for key, numbers in reference.items()}

    def fail(problem: str) -> NoReturn:
        message = (f"Stream '{stream}': experience {experience}, segment dimension '{dimension}': {problem}. "
                   f"No row of the '{dimension}' dimension is written; the sync fails rather than write wrong segment numbers.")
        raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.system_error)

    for value, rows in by_value.items():
        for row in rows:
            unfiltered_visitors = everyone.get((row["goal_id"], row["variation_id"]))
            visitors = row.get("visitors")
            if isinstance(visitors, (int, float)) and unfiltered_visitors is not None and visitors > unfiltered_visitors:
                fail(f"value '{value}' has {visitors} visitors for goal {row['goal_id']}, variation {row['variation_id']}, "
                     f"more than the {unfiltered_visitors} of the unfiltered report")
    if sum(everyone.values()):
        same = sorted(value for value, rows in by_value.items()
                      if exclusive(dimension, value) and rows and _numbers(rows) == reference)
        if len(same) >= 2:
            fail(f"the values {', '.join(repr(v) for v in same)}, which no visitor has together, each returned exactly the "
                 "unfiltered report's numbers: Convert ignored the segments filter")
    if dimension in SPLITTING_DIMENSIONS and by_value:
        summed: Dict[Tuple[Any, Any], int] = {}
        for rows in by_value.values():
            for key, numbers in _numbers(rows).items():
                summed[key] = summed.get(key, 0) + (numbers[0] or 0)
        equal = sum(1 for key, total in everyone.items() if summed.get(key, 0) == total)
        total_all, summed_all = sum(everyone.values()), sum(summed.get(key, 0) for key in everyone)
        LOGGER.info(
            "Stream '%s': experience %s, %s: the values' visitors add up to the unfiltered visitors for %d of %d goal and "
            "variation pairs (%d of %d visitors in all).", stream, experience, dimension, equal, len(everyone), summed_all,
            total_all,
        )
