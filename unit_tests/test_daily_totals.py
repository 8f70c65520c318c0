"""Daily-report totals: each day's own numbers or running totals, told from the response; baseline days never delivered."""

import datetime as dt
import json
import logging
import threading

import pytest
import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components.daily_totals import Day, Decision, Reading, Undecidable, baseline_day, decide
from source_convert.components.reports import DailyReportExtractor

DAY = 86400
HOUR = 3600
REPORT_URL = "https://api.convert.com/api/v2/accounts/1/projects/2/experiences/5/daily_report"


def midnight(day: str) -> int:
    return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc).timestamp())


# The baseline day B, then the days delivered. The own numbers of each day: (visitors, conversions, revenue, products).
B = "2026-10-31"
VARIATION_1 = [  # ran before B: 40 conversions, 1500.0 revenue and 60 products before its baseline day
    ("2026-10-31", 90, 4, 120.5, 5),
    ("2026-11-01", 100, 3, 250.5, 4),
    ("2026-11-02", 120, 5, 310.25, 6),
    ("2026-11-03", 80, 2, 99.99, 2),
    ("2026-11-04", 0, 0, 0.0, 0),  # no visitors: cannot be checked against value, still delivered
]
BEFORE_B_1 = (40, 1500.0, 60)
VARIATION_2 = [  # started after B: no baseline entry
    ("2026-11-02", 110, 6, 400.0, 7),
    ("2026-11-03", 95, 1, 19.9, 1),
    ("2026-11-04", 130, 9, 605.35, 12),
]
# Each delivered day's own numbers, whatever the reading: (variation, day, visitors, conversions, revenue, products).
DELIVERED = [
    (1, "2026-11-01", 100, 3, 250.5, 4),
    (1, "2026-11-02", 120, 5, 310.25, 6),
    (1, "2026-11-03", 80, 2, 99.99, 2),
    (1, "2026-11-04", 0, 0, 0.0, 0),
    (2, "2026-11-02", 110, 6, 400.0, 7),
    (2, "2026-11-03", 95, 1, 19.9, 1),
    (2, "2026-11-04", 130, 9, 605.35, 12),
]
METRICS = ("conversion_rate", "avg_revenue_per_visitor", "avg_products_ordered_per_visitor", "average_order_value",
           "average_products_per_order")


def own_total(metric, conversions, revenue, products):
    """What ``totals`` holds for one day's own numbers, per the metric (the documented reading)."""
    if metric == "average_order_value":
        return round(revenue / conversions, 6) if conversions else 0.0
    if metric == "average_products_per_order":
        return round(products / conversions, 6) if conversions else 0.0
    return {"conversion_rate": conversions, "avg_revenue_per_visitor": revenue, "avg_products_ordered_per_visitor": products}[metric]


def expected(metric):
    """What each delivered row must carry, whatever the reading: (variation, day, visitors, totals)."""
    return [(variation, day, visitors, own_total(metric, *numbers)) for variation, day, visitors, *numbers in DELIVERED]


def running_before(metric, before):
    """The running total of what ran before B, per the metric (averages: one earlier day's average)."""
    return own_total(metric, *before)


def stats(days, metric, running, before=(0, 0.0, 0), scale=100):
    """Stats entries as Convert answers them: ``value`` the day's metric rounded to 2 decimals, ``totals`` one
    number, the day's own or, when ``running``, the sum since the experience started (rounded to 6 decimals)."""
    total, entries = running_before(metric, before) if running else 0, []
    for day, visitors, *numbers in days:
        own = own_total(metric, *numbers)
        total = round(total + own, 6)
        if metric in ("average_order_value", "average_products_per_order"):
            value = round(own, 2)
        else:
            per = scale if metric == "conversion_rate" else 1
            value = round(own * per / visitors, 2) if visitors else 0.0
        entries.append({"timestamp": midnight(day), "value": value, "visitors": visitors, "totals": total if running else own})
    return entries


def report(metric="conversion_rate", running=True, scale=100):
    return {"reportData": {"variations": [
        {"id": 1, "stats": stats(VARIATION_1, metric, running, BEFORE_B_1 if running else (0, 0.0, 0), scale)},
        {"id": 2, "stats": stats(VARIATION_2, metric, running, scale=scale)},
    ], "extra": []}}


def response(data, metric="conversion_rate", start_time=None, utc_offset=0, url=REPORT_URL) -> requests.Response:
    """A 200 answer with ``{"data": data}`` to the request the manifest sends for baseline day B."""
    answer = requests.Response()
    answer.status_code = 200
    answer._content = json.dumps({"data": data}).encode()
    answer.headers["Content-Type"] = "application/json"
    body = {"goal": 11, "metric": metric, "report_type": "non_cumulative", "utc_offset": utc_offset,
            "start_time": midnight(B) - max(utc_offset, 0) if start_time is None else start_time, "end_time": None}
    answer.request = requests.Request("POST", url, json=body).prepare()
    return answer


def extractor(utc_offset=0) -> DailyReportExtractor:
    return DailyReportExtractor(parameters={"name": "daily_reports"}, config={}, utc_offset=utc_offset)


def delivered(rows):
    return [(r["variation_id"], r["day"], r["visitors"], pytest.approx(r["totals"], abs=1e-6)) for r in rows]


@pytest.mark.parametrize("running", [True, False], ids=["running totals", "own numbers"])
@pytest.mark.parametrize(
    "metric, scale",
    [("conversion_rate", 100), ("conversion_rate", 1), ("avg_revenue_per_visitor", 1), ("avg_products_ordered_per_visitor", 1),
     ("average_order_value", 1), ("average_products_per_order", 1)],
    ids=["percent", "fraction", "revenue", "products", "order value", "products per order"],
)
def test_rows_carry_each_days_own_totals_under_either_reading(running, metric, scale, caplog):
    with caplog.at_level(logging.INFO, logger="airbyte"):
        rows = list(extractor().extract_records(response(report(metric, running, scale), metric)))
    assert delivered(rows) == expected(metric)
    assert all(r["goal_id"] == 11 and r["timestamp"] == midnight(r["day"]) for r in rows)
    assert all(set(r) == {"goal_id", "variation_id", "day", "timestamp", "value", "visitors", "totals"} for r in rows)
    told = [record.getMessage() for record in caplog.records if "daily `totals`" in record.getMessage()]
    assert told == [
        "daily_reports: Convert's daily `totals` are running totals since the experience started (value matches the "
        "day-to-day difference); rows carry each day's own numbers (told first by experience 5, goal 11, metric "
        f"{metric})." if running else
        "daily_reports: Convert's daily `totals` are each day's own numbers (value matches them, not the day-to-day "
        f"difference); rows carry them as they are (told first by experience 5, goal 11, metric {metric})."
    ]


def test_the_values_of_a_row_are_convert_s():
    data = report("conversion_rate", running=True)
    rows = list(extractor().extract_records(response(data)))
    assert [r["value"] for r in rows if r["variation_id"] == 1] == [3.0, 4.17, 2.5, 0.0]


@pytest.mark.parametrize("running", [True, False])
def test_baseline_days_are_never_rows(running):
    # An entry before B too (Convert's answer starting earlier than asked): baseline as well.
    early = [("2026-10-30", 70, 2, 50.0, 2)] + VARIATION_1
    data = {"reportData": {"variations": [
        {"id": 1, "stats": stats(early, "conversion_rate", running, (38, 1450.0, 58) if running else (0, 0.0, 0))}]}}
    rows = list(extractor().extract_records(response(data)))
    assert [r["day"] for r in rows] == ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
    assert delivered(rows)[0] == (1, "2026-11-01", 100, 3)


def test_a_report_of_baseline_days_only_has_no_rows():
    data = {"reportData": {"variations": [{"id": 1, "stats": stats(VARIATION_1[:1], "conversion_rate", True)}]}}
    assert list(extractor().extract_records(response(data))) == []


@pytest.mark.parametrize(
    "utc_offset, start_time",
    [(19800, midnight(B) - 19800), (-18000, midnight(B)), (0, midnight(B) + 23 * HOUR)],
    ids=["east of UTC", "west of UTC", "late in the day"],
)
def test_the_baseline_day_is_the_utc_date_of_start_time_plus_a_positive_offset(utc_offset, start_time):
    assert baseline_day(start_time, utc_offset) == B
    assert baseline_day(str(start_time), str(utc_offset)) == B  # as a string of digits, too


def test_east_of_utc_the_local_baseline_day_is_not_delivered():
    entries = stats(VARIATION_1, "conversion_rate", True, BEFORE_B_1)
    for entry in entries:
        entry["timestamp"] -= 19800  # the UTC instant of each local midnight
    rows = list(extractor(19800).extract_records(response({"reportData": {"variations": [{"id": 1, "stats": entries}]}},
                                                          utc_offset=19800)))
    assert delivered(rows) == expected("conversion_rate")[:4]


@pytest.mark.parametrize("start_time", [None, "soon", True, float("inf")])
def test_no_baseline_day_without_a_start_time(start_time):
    assert baseline_day(start_time, 0) is None


def entry(name, visitors, value, totals=None):
    return Day(name, visitors, value, totals)


def test_a_zero_visitor_day_after_the_baseline_tells_running_totals():
    # value cannot be checked; own conversions above the day's 0 visitors rule out the own reading
    days = [entry("2026-10-31", 50, 4.0, 30), entry("2026-11-01", 0, 0.0, 30)]
    decision = decide([("variation 1", days)], "conversion_rate", B)
    assert decision == Decision(Reading.RUNNING, [[(False, None), (True, 0)]])


def test_a_first_day_without_baseline_entry_fits_both_readings_with_the_same_numbers():
    days = [entry("2026-11-01", 100, 3.0, 3)]
    assert decide([("variation 1", days)], "conversion_rate", B) == Decision(None, [[(True, 3)]])


def test_running_totals_of_a_day_that_follows_a_gap_start_from_the_latest_earlier_entry():
    days = [entry("2026-10-30", 50, 10.0, 20), entry("2026-11-01", 100, 5.0, 25), entry("2026-11-03", 40, 5.0, 27)]
    assert decide([("variation 1", days)], "conversion_rate", B).own == [[(False, None), (True, 5), (True, 2)]]


def test_days_out_of_order_are_differenced_in_day_order():
    days = [entry("2026-11-02", 40, 5.0, 27), entry("2026-10-31", 50, 10.0, 20), entry("2026-11-01", 100, 5.0, 25)]
    decision = decide([("variation 1", days)], "conversion_rate", B)
    assert decision.reading is Reading.RUNNING and decision.own == [[(True, 2), (False, None), (True, 5)]]


def test_values_off_by_more_than_the_rounding_fit_no_reading():
    # 3 of 100 visitors is 3%; 3.02 is more than one unit of the 2nd decimal off (3 +- 0.01 would fit)
    days = [entry("2026-11-01", 100, 3.02, 3), entry("2026-11-02", 100, 3.01, 6)]
    with pytest.raises(Undecidable, match="value does not match conversions/visitors"):
        decide([("variation 1", days)], "conversion_rate", "2026-10-31")


def test_a_value_rounded_to_2_decimals_fits():
    # 7 of 118 visitors: 5.9322% shown as 5.93; 1 of 3: 0.3333 shown as 0.33 (fraction scale)
    assert decide([("v", [entry("2026-11-01", 118, 5.93, 7)])], "conversion_rate", B).own == [[(True, 7)]]
    assert decide([("v", [entry("2026-11-01", 3, 0.33, 1)])], "conversion_rate", B).own == [[(True, 1)]]


def test_one_scale_for_the_whole_response():
    # day 1 as a percent (5%), day 2 as a fraction (0.05): each fits one scale, not both
    days = [entry("2026-11-01", 100, 5.0, 5), entry("2026-11-02", 200, 0.05, 10)]
    with pytest.raises(Undecidable, match=r"\(as a percent or a fraction\) on 1 of 2 days checked"):
        decide([("variation 1", days)], "conversion_rate", B)


def test_the_readings_are_decided_for_all_variations_together():
    # variation 1 alone fits both (one day, no baseline); variation 2 fits only running totals
    one = [entry("2026-11-01", 100, 3.0, 3)]
    two = [entry("2026-10-31", 100, 2.0, 50), entry("2026-11-01", 100, 4.0, 54)]
    decision = decide([("variation 1", one), ("variation 2", two)], "conversion_rate", B)
    assert decision == Decision(Reading.RUNNING, [[(True, 3)], [(False, None), (True, 4)]])


def test_both_readings_fitting_with_different_numbers_is_undecidable():
    # 20000 visitors: 1.5% is 300 +- 2 conversions, so 301 (own) and 301 - 1 (running) both fit
    days = [entry("2026-10-31", 100, 1.0, 1), entry("2026-11-01", 20000, 1.5, 301)]
    with pytest.raises(Undecidable, match="both readings fit but give different numbers for 2026-11-01 of variation 1"):
        decide([("variation 1", days)], "conversion_rate", B)


def test_two_entries_for_one_day_are_undecidable():
    days = [entry("2026-11-01", 100, 3.0, 3), entry("2026-11-01", 100, 3.0, 3)]
    with pytest.raises(Undecidable, match="variation 1 has more than one entry for 2026-11-01"):
        decide([("variation 1", days)], "conversion_rate", B)


def test_null_totals_stay_null_and_revenue_metrics_check_revenue():
    days = [entry("2026-10-31", 10, 2.0, 20.0), entry("2026-11-01", 10, 1.5, 35.0), entry("2026-11-02", 10, 0.0, None)]
    decision = decide([("variation 1", days)], "avg_revenue_per_visitor", B)
    assert decision == Decision(Reading.RUNNING, [[(False, None), (True, 15.0), (True, None)]])


def test_products_may_exceed_visitors():
    days = [entry("2026-11-01", 2, 3.5, 7)]
    assert decide([("variation 1", days)], "avg_products_ordered_per_visitor", B).own == [[(True, 7)]]


@pytest.mark.parametrize("metric, what", [("average_order_value", "average order value"),
                                          ("average_products_per_order", "average products per order")])
def test_average_totals_that_are_another_sum_fail_loudly(metric, what):
    # totals holding the day's revenue (or products), not the sum of the day's average: no reading fits
    days = [entry("2026-10-31", 100, 40.0, 200.0), entry("2026-11-01", 100, 50.0, 250.0), entry("2026-11-02", 90, 25.0, 75.0)]
    with pytest.raises(Undecidable) as raised:
        decide([("variation 1", days)], metric, B)
    assert f"value does not match the {what} on 2 of 2 days checked" in str(raised.value)
    assert "totals decrease on 1 day" in str(raised.value)


def test_an_unknown_metric_is_undecidable():
    with pytest.raises(Undecidable, match="'visitors' is not one this connector can check"):
        decide([("variation 1", [entry("2026-11-01", 100, 3.0, 3)])], "visitors", B)


def assert_fails(extract, *fragments):
    with pytest.raises(AirbyteTracedException) as raised:
        list(extract())
    message = raised.value.message
    assert raised.value.failure_type == FailureType.system_error
    assert "\n" not in message and all(fragment in message for fragment in fragments), message
    return message


def test_totals_that_fit_neither_reading_fail_naming_the_experience_goal_metric_and_checks():
    data = report("avg_revenue_per_visitor", running=True)
    for stat in data["reportData"]["variations"][0]["stats"]:
        stat["totals"] *= 3  # neither the day's revenue nor a running sum of it
    data["reportData"]["variations"][0]["stats"][2]["totals"] = 1.0  # and a running total that decreases
    message = assert_fails(
        lambda: extractor().extract_records(response(data, "avg_revenue_per_visitor")),
        "Stream 'daily_reports': cannot tell how to read the daily `totals` Convert answered for experience 5, goal 11, "
        "metric avg_revenue_per_visitor (POST /api/v2/accounts/1/projects/2/experiences/5/daily_report): ",
        "as each day's own numbers: value does not match revenue/visitors on 5 of 6 days checked, first on 2026-11-01 "
        "of variation 1; ",
        "as running totals since the experience started: totals decrease on 1 day, first on 2026-11-02 of variation 1, "
        "and value does not match revenue/visitors on 3 of 6 days checked, first on 2026-11-01 of variation 1. ",
        "No row of this report is written, and the sync fails rather than write wrong totals.",
    )
    assert "percent" not in message  # one scale only for revenue per visitor


def test_conversions_that_are_neither_fail():
    data = report("conversion_rate", running=False)
    data["reportData"]["variations"][1]["stats"][0]["totals"] = 200  # more than the day's 110 visitors
    assert_fails(
        lambda: extractor().extract_records(response(data)),
        "experience 5, goal 11, metric conversion_rate",
        "as each day's own numbers: conversions exceed visitors on 1 day, first on 2026-11-02 of variation 2, and value does "
        "not match conversions/visitors (as a percent or a fraction) on 1 of 6 days checked, first on 2026-11-02 of variation 2",
        "as running totals since the experience started: totals decrease on ",
    )


@pytest.mark.parametrize("totals", [{"conversions": 3}, "3", True])
def test_totals_that_are_not_a_number_fail_naming_the_place(totals):
    data = report("conversion_rate", running=False)
    data["reportData"]["variations"][0]["stats"][1]["totals"] = totals
    assert_fails(lambda: extractor().extract_records(response(data)),
                 "as data.reportData.variations[0].stats[1].totals, expected a number")


def test_the_reading_is_logged_once_and_another_reading_later_fails(caplog):
    shared = extractor()
    with caplog.at_level(logging.INFO, logger="airbyte"):
        for metric in ("conversion_rate", "avg_revenue_per_visitor"):
            assert len(list(shared.extract_records(response(report(metric, running=True), metric)))) == 7
        other = response(report(running=False), url=REPORT_URL.replace("/5/", "/6/"))
        assert_fails(
            lambda: shared.extract_records(other),
            "the daily report for experience 6, goal 11, metric conversion_rate "
            "(POST /api/v2/accounts/1/projects/2/experiences/6/daily_report) has `totals` that are each day's own numbers, "
            "but the one for experience 5, goal 11, metric conversion_rate had running totals since the experience started; "
            "one account cannot have both",
        )
    assert sum("daily `totals`" in record.getMessage() for record in caplog.records) == 1


def test_a_report_that_tells_nothing_is_not_logged_and_does_not_conflict(caplog):
    shared = extractor()
    single = {"reportData": {"variations": [{"id": 2, "stats": stats(VARIATION_2[:1], "conversion_rate", False)}]}}
    with caplog.at_level(logging.INFO, logger="airbyte"):
        assert delivered(shared.extract_records(response(single))) == [expected("conversion_rate")[4]]
        assert not caplog.records
        assert len(list(shared.extract_records(response(report(running=True))))) == 7
        assert delivered(shared.extract_records(response(single))) == [expected("conversion_rate")[4]]
    assert len(caplog.records) == 1


def test_threads_sharing_the_extractor_log_the_reading_once(caplog):
    shared, results, start = extractor(), [], threading.Barrier(8)

    def read(metric):
        start.wait()
        results.append((metric, delivered(shared.extract_records(response(report(metric, running=True), metric)))))

    with caplog.at_level(logging.INFO, logger="airbyte"):
        threads = [threading.Thread(target=read, args=(metric,)) for metric in METRICS * 2][:8]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(results) == 8 and all(rows == expected(metric) for metric, rows in results)
    assert sum("daily `totals`" in record.getMessage() for record in caplog.records) == 1
