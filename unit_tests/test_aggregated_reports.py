"""Aggregated report rows: metrics[] of both methodologies, what Convert may add later, the deprecated
fallback, and the segment checks."""

import json
import logging

import pytest
import requests

from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components.aggregated_reports import AggregatedReportExtractor, check_dimension
from source_convert.components.report_vocabulary import AGGREGATED_METRIC_NAMES, METRICS

URL = "https://api.convert.com/api/v2/accounts/1/projects/2/experiences/5/aggregated_report"


def answer(data) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = json.dumps({"data": data}).encode()
    response.request = requests.Request("POST", URL, json={"utc_offset": 0}).prepare()
    return response


def report(method, items_by_variation, goal=None):
    return {
        "stats_methodology": method,
        "variations_data": [{"id": 1, "name": "A", "is_baseline": True}, {"id": 2, "name": "B", "is_baseline": False}],
        "reportData": [{"goal_id": 11, "srm": True, "srm_pvalue": 0.004, **(goal or {}), "variations": [
            {"id": variation, "visitors": 100 * variation, **items} for variation, items in items_by_variation.items()]}],
    }


def extract(data, extractor=None):
    extractor = extractor or AggregatedReportExtractor(parameters={"name": "aggregated_reports"})
    return list(extractor.extract_records(answer(data)))


def test_every_aggregated_metric_type_gets_the_daily_name():
    assert set(AGGREGATED_METRIC_NAMES.values()) == set(METRICS)
    items = [{"metric_type": name, "metric_total": 1} for name in AGGREGATED_METRIC_NAMES]
    rows = extract(report("frequentist", {1: {"metrics": items}}))
    assert [row["metric"] for row in rows] == [AGGREGATED_METRIC_NAMES[name] for name in AGGREGATED_METRIC_NAMES]


def test_bayesian_statistics_keep_their_names():
    item = {"metric_type": "conversion_rate", "metric_total": 9, "metric_value": 0.09, "metric_change": 0.5,
            "metric_interval": 0.01, "chance_to_win": 97.5, "expected": 0.48, "risk": [0.001, 0.2],
            "estimated_progress": 80.0, "done": True, "srm": False, "srm_pvalue": 0.6}
    [row] = extract(report("bayesian", {2: {"metrics": [item]}}))
    assert {name: row[name] for name in item if name != "metric_type"} == {k: v for k, v in item.items() if k != "metric_type"}
    assert (row["stats_methodology"], row["goal_srm"], row["goal_srm_pvalue"], row["variation_name"], row["is_baseline"]) == (
        "bayesian", True, 0.004, "B", False)
    assert row["confidence"] is None and "additional_statistics" not in row


def test_an_unknown_metric_type_and_statistic_arrive_with_one_warning_each(caplog):
    items = [{"metric_type": "conversion_rate", "metric_total": 1, "p_value": 0.03},
             {"metric_type": "time_on_page", "metric_total": 7, "metric_value": 3.5}]
    extractor = AggregatedReportExtractor(parameters={"name": "aggregated_reports"})
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        rows = extract(report("frequentist", {1: {"metrics": items}, 2: {"metrics": items}}), extractor)
        rows += extract(report("frequentist", {1: {"metrics": items}}), extractor)
    assert [row["metric"] for row in rows] == ["conversion_rate", "time_on_page"] * 3
    assert rows[0]["additional_statistics"] == {"p_value": 0.03} and rows[1]["metric_value"] == 3.5
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert any("'time_on_page'" in m for m in messages) and any("p_value" in m for m in messages)


def test_a_report_without_metrics_gives_rows_from_the_deprecated_fields_with_one_warning(caplog):
    baseline = {"conversion_data": {"conversions": 5, "conversion_rate": 5.0, "conversion_rate_change": None},
                "revenue_data": {"total_revenue": 250.0, "revenue_per_visitor": 2.5}, "products_data": None}
    variant = {"conversion_data": {"conversions": 12, "conversion_rate": 6.0, "conversion_rate_change": 20.0,
                                   "confidence": 91.0, "statistically_significant": False}}
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        rows = extract(report("frequentist", {1: baseline, 2: variant}))
    assert [(r["variation_id"], r["metric"], r["metric_total"], r["metric_value"]) for r in rows] == [
        (1, "conversion_rate", 5, 0.05), (1, "avg_revenue_per_visitor", 250.0, 2.5), (2, "conversion_rate", 12, 0.06)]
    assert (rows[2]["metric_change"], rows[2]["confidence"], rows[2]["statistically_significant"]) == (0.2, 91.0, False)
    assert len(caplog.records) == 1 and "no metrics[]" in caplog.records[0].getMessage()


def test_a_deprecated_conversion_rate_that_is_neither_percent_nor_fraction_fails():
    variant = {"conversion_data": {"conversions": 12, "conversion_rate": 33.0}}
    with pytest.raises(AirbyteTracedException) as raised:
        extract(report("frequentist", {2: variant}))
    assert "neither a percentage nor a fraction" in raised.value.message


def test_a_metric_without_its_type_fails_naming_the_place():
    with pytest.raises(AirbyteTracedException) as raised:
        extract(report("frequentist", {1: {"metrics": [{"metric_total": 1}]}}))
    assert "null as data.reportData[0].variations[0].metrics[0].metric_type" in raised.value.message


def rows_of(visitors_by_variation, total=7):
    return [{"goal_id": 11, "variation_id": variation, "metric": "conversion_rate", "visitors": visitors,
             "metric_total": total} for variation, visitors in visitors_by_variation.items()]


def test_segment_checks_pass_a_split_and_log_the_sum(caplog):
    unfiltered = rows_of({1: 100, 2: 80})
    with caplog.at_level(logging.INFO, logger="airbyte"):
        check_dimension("segment_reports", 5, "visitor_types", unfiltered,
                        {"new": rows_of({1: 60, 2: 50}, 4), "returning": rows_of({1: 40, 2: 30}, 3)})
    assert "add up to the unfiltered visitors for 2 of 2 goal and variation pairs (180 of 180 visitors" in caplog.text


@pytest.mark.parametrize(
    "dimension, by_value, fragment",
    [
        ("browsers", {"chrome": rows_of({1: 100, 2: 80}), "safari": rows_of({1: 100, 2: 80})},
         "the values 'chrome', 'safari', which no visitor has together"),
        ("countries", {"US": rows_of({1: 100, 2: 80}), "DE": rows_of({1: 100, 2: 80})}, "the values 'DE', 'US'"),
        ("devices", {"desktop": rows_of({1: 100, 2: 80}), "iPhone": rows_of({1: 100, 2: 80})}, "the values 'desktop', 'iPhone'"),
        ("campaigns", {"spring": rows_of({1: 101, 2: 80})}, "value 'spring' has 101 visitors for goal 11, variation 1"),
    ],
)
def test_segment_checks_fail_naming_the_dimension(dimension, by_value, fragment):
    with pytest.raises(AirbyteTracedException) as raised:
        check_dimension("segment_reports", 5, dimension, rows_of({1: 100, 2: 80}), by_value)
    assert f"segment dimension '{dimension}'" in raised.value.message and fragment in raised.value.message


@pytest.mark.parametrize(
    "dimension, by_value",
    [
        ("devices", {"all_phones": rows_of({1: 100, 2: 80}), "iPhone": rows_of({1: 100, 2: 80})}),  # they overlap
        ("campaigns", {"a": rows_of({1: 100, 2: 80}), "b": rows_of({1: 100, 2: 80})}),  # a visitor may have both
        ("browsers", {"chrome": rows_of({1: 0, 2: 0}, 0), "safari": rows_of({1: 0, 2: 0}, 0)}),
    ],
)
def test_values_that_may_hold_every_visitor_pass(dimension, by_value):
    unfiltered = rows_of({1: 0, 2: 0}, 0) if dimension == "browsers" else rows_of({1: 100, 2: 80})
    check_dimension("segment_reports", 5, dimension, unfiltered, by_value)


def test_only_the_deprecated_conversion_rate_and_its_interval_are_scaled_from_percent():
    # Given: conversion_rate in percent (5 of 100 visitors = 5.0); the revenue and products values and
    # intervals are amounts per visitor, not percentages
    variation = {"conversion_data": {"conversions": 5, "conversion_rate": 5.0, "conversion_rate_interval": 1.5},
                 "revenue_data": {"total_revenue": 250.0, "revenue_per_visitor": 2.5, "revenue_per_visitor_interval": 0.4},
                 "products_data": {"total_products": 30, "products_per_visitor": 0.3, "products_per_visitor_interval": 0.05}}

    # When
    rows = {row["metric"]: row for row in extract(report("frequentist", {1: variation}))}

    # Then
    assert (rows["conversion_rate"]["metric_value"], rows["conversion_rate"]["metric_interval"]) == (0.05, 0.015)
    assert (rows["avg_revenue_per_visitor"]["metric_value"], rows["avg_revenue_per_visitor"]["metric_interval"]) == (2.5, 0.4)
    assert (rows["avg_products_ordered_per_visitor"]["metric_value"],
            rows["avg_products_ordered_per_visitor"]["metric_interval"]) == (0.3, 0.05)
