"""Response builders: Convert's ``{"data": ..., "extra": {"pagination": {"items_count": N}}}`` envelope.

Records come from one sample answer per stream in ``unit_tests/resource/http/response/<stream>.json``
(the CDK's ``find_template`` convention); a test changes only the fields it is about.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, Mapping, Optional

from airbyte_cdk.test.mock_http import HttpResponse
from airbyte_cdk.test.mock_http.response_builder import (
    FieldPath,
    HttpResponseBuilder,
    RecordBuilder,
    create_record_builder,
    find_template,
)

_RECORDS = FieldPath("data")


def template(stream: str) -> Dict[str, Any]:
    """A fresh copy of the stream's sample answer (the CDK's record builder edits it in place)."""
    return find_template(stream, __file__)


def a_record(stream: str, id_field: str = "id", cursor_field: Optional[str] = None) -> RecordBuilder:
    """The stream's sample record; ``.with_id(...)``, ``.with_cursor(...)``, ``.with_field(FieldPath(...), ...)``."""
    return create_record_builder(
        template(stream),
        _RECORDS,
        record_id_path=FieldPath(id_field),
        record_cursor_path=FieldPath(cursor_field) if cursor_field else None,
    )


def records_with_ids(stream: str, ids: Iterable[int]) -> list:
    return [a_record(stream).with_id(identifier) for identifier in ids]


class ConvertListResponseBuilder(HttpResponseBuilder):
    """One page of a Convert list. ``items_count`` defaults to the records on this page (a one-page list)."""

    def __init__(self, stream: str) -> None:
        super().__init__(template(stream), _RECORDS, None)
        self._items_count: Optional[int] = None
        self._with_count = True

    def with_records(self, records: Iterable[RecordBuilder]) -> "ConvertListResponseBuilder":
        for record in records:
            self.with_record(record)
        return self

    def with_items_count(self, count: int) -> "ConvertListResponseBuilder":
        self._items_count = count
        return self

    def without_items_count(self) -> "ConvertListResponseBuilder":
        """``extra`` present but empty: the paginator must fall back to the short-page rule."""
        self._with_count = False
        return self

    def build(self) -> HttpResponse:
        count = self._items_count if self._items_count is not None else len(self._records)
        self._response["extra"] = {"pagination": {"items_count": count}} if self._with_count else {}
        return super().build()


def a_list_response(stream: str) -> ConvertListResponseBuilder:
    return ConvertListResponseBuilder(stream)


def an_object_response(stream: str, **fields: Any) -> HttpResponse:
    """``{"data": {...}}``: the stream's sample object with ``fields`` changed."""
    body = template(stream)
    body["data"] = {**body["data"], **fields}
    return HttpResponse(json.dumps(body), 200)


def a_report_response(report: str) -> HttpResponse:
    """The sample ``aggregated_report`` or ``daily_report`` answer: ``{"data": {"reportData": ...}}``."""
    return HttpResponse(json.dumps(template(report)), 200)


# Each sample variation's day in numbers: (conversions, revenue, products), for the ``totals`` of each daily metric.
_DAILY_DAY = {700001: (6, 310.0, 9), 700002: (9, 402.5, 12)}


def _daily_total_and_value(metric: str, visitors: int, numbers: Any) -> Any:
    """``(totals, value)`` of one day: the metric's total (the day's own) and its value rounded to 2 decimals."""
    conversions, revenue, products = numbers
    if metric == "average_order_value":
        return round(revenue / conversions, 6), round(revenue / conversions, 2)
    if metric == "average_products_per_order":
        return round(products / conversions, 6), round(products / conversions, 2)
    total, scale = {"conversion_rate": (conversions, 100), "avg_revenue_per_visitor": (revenue, 1),
                    "avg_products_ordered_per_visitor": (products, 1)}[metric]
    return total, round(total * scale / visitors, 2)


def a_daily_report_response(goal: int, metric: str = "conversion_rate") -> HttpResponse:
    """The sample ``daily_report`` answer (the documented shape: ``totals`` one number per the metric) for the
    goal and metric the request asked for; each day's ``value`` is the metric of its ``totals`` (rounded to 2
    decimals, as Convert does), so the connector can tell how to read them (``components/daily_totals.py``).
    The sample's one day, 2025-12-22, is after any baseline day the tests ask from. The documented answer
    does not name the goal."""
    body = template("daily_report")
    for variation in body["data"]["reportData"]["variations"]:
        for stat in variation["stats"]:
            stat["totals"], stat["value"] = _daily_total_and_value(metric, stat["visitors"], _DAILY_DAY[variation["id"]])
    return HttpResponse(json.dumps(body), 200)


def an_error_response(status: int, message: str, headers: Optional[Mapping[str, str]] = None) -> HttpResponse:
    """Convert's error body: ``{"code": status, "message": ...}``."""
    return HttpResponse(json.dumps({"code": status, "message": message}), status, dict(headers or {}))


def a_non_json_response(status: int = 200, text: str = "<html><body>502 Bad Gateway</body></html>") -> HttpResponse:
    """What a proxy in front of Convert may answer: HTML with a success status."""
    return HttpResponse(text, status, {"Content-Type": "text/html"})


def a_change_event(request: int, timestamp: int, history_object: str, object_id: Any,
                   stream: str = "change_history") -> RecordBuilder:
    """A change-history event about one object (of the project's history, or of ``stream``'s), in the
    contract's shape: no id of its own, ``object_id`` as a string (``None`` stays null). ``request``
    makes its ``request_id``, so that events built with different numbers are different events."""
    return (
        a_record(stream, id_field="request_id", cursor_field="timestamp")
        .with_id(f"request-{request}")
        .with_cursor(timestamp)
        .with_field(FieldPath("object"), history_object)
        .with_field(FieldPath("object_id"), None if object_id is None else str(object_id))
    )


def an_experience(
    experience_id: int, *, status: str, start_time: int, end_time: int = 0, ran_until: Optional[int] = None, goals: Any = ()
) -> RecordBuilder:
    """An experience as the report streams' parent lists it; ``ran_until`` is its ``max_running_timestamp``."""
    record = (
        a_record("experiences")
        .with_id(experience_id)
        .with_field(FieldPath("status"), status)
        .with_field(FieldPath("start_time"), start_time)
        .with_field(FieldPath("end_time"), end_time)
        .with_field(FieldPath("goals"), list(goals))
    )
    if ran_until is not None:
        record.with_field(FieldPath("max_running_timestamp"), ran_until)
    return record
