"""The report vocabulary, once: metric names, the aggregated report's own names for them, and segments.

``METRICS`` are the names ``daily_reports`` and ``aggregated_reports`` both write in ``metric`` (the
daily report's ``DailyReportMetrics``, as the config's ``daily_report_metrics`` enum lists them, with
its default); the aggregated report names two of them differently
(``MetricTypes``), ``AGGREGATED_METRIC_NAMES`` maps them. Segment dimensions are the config's
``report_segments`` enum (``spec.json``); the values of the four dimensions with a published enum
(``ReportingSegmentsFilters``) are here (the connector ships without the contract file;
``integration_tests/test_contract.py`` compares these names with it).
"""

from __future__ import annotations

from typing import Dict, FrozenSet, Mapping, Tuple

from source_convert.config import connection_specification

_DAILY_METRICS_OPTION = connection_specification()["properties"]["daily_report_metrics"]
METRICS: Tuple[str, ...] = tuple(_DAILY_METRICS_OPTION["items"]["enum"])
DEFAULT_DAILY_METRICS: Tuple[str, ...] = tuple(_DAILY_METRICS_OPTION["default"])
AGGREGATED_METRIC_NAMES: Mapping[str, str] = {
    "conversion_rate": "conversion_rate",
    "avg_revenue_visitor": "avg_revenue_per_visitor",
    "avg_products_ordered_visitor": "avg_products_ordered_per_visitor",
    "average_order_value": "average_order_value",
    "average_products_per_order": "average_products_per_order",
}

SEGMENT_DIMENSIONS: Tuple[str, ...] = tuple(
    connection_specification()["properties"]["report_segments"]["items"]["enum"])
SEGMENT_VALUES: Dict[str, Tuple[str, ...]] = {
    "devices": ("iPhone", "all_phones", "other_phones", "desktop", "iPad", "all_tablets", "other_tablets"),
    "browsers": ("internet_explorer", "chrome", "firefox", "safari", "edge", "other"),
    "visitor_types": ("new", "returning"),
    "sources": ("campaign", "search", "referral", "direct", "ai_tool"),
}
# Dimensions whose values split the visitors (each visitor has exactly one): their sum is compared with
# the unfiltered visitors.
SPLITTING_DIMENSIONS: Tuple[str, ...] = ("visitor_types", "sources", "browsers")
# Values no visitor has two of: two of them both holding every visitor means the filter was ignored.
# (Every country code is one too: see ``exclusive``. Campaigns and custom segments can overlap.)
EXCLUSIVE_VALUES: Dict[str, FrozenSet[str]] = {
    "browsers": frozenset(SEGMENT_VALUES["browsers"]),
    "visitor_types": frozenset(SEGMENT_VALUES["visitor_types"]),
    "sources": frozenset(SEGMENT_VALUES["sources"]),
    "devices": frozenset(("desktop", "iPhone", "other_phones", "iPad", "other_tablets")),  # not all_phones, all_tablets
}


def exclusive(dimension: str, value: str) -> bool:
    """Whether a visitor in ``value`` of ``dimension`` is in no other exclusive value of it."""
    return dimension == "countries" or value in EXCLUSIVE_VALUES.get(dimension, frozenset())
