"""segment_reports: the exact requests (the unfiltered report, then one request per segment value with the
spec's value names, the report settings once per experience for campaigns and custom segments), the rows,
and the checks that fail the sync when Convert's segment numbers cannot be right."""

import json
from typing import Any, Dict

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker, HttpResponse

from source_convert.components.report_vocabulary import SEGMENT_VALUES
from unit_tests.mock_server.config import ACCOUNT_ID, PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_list_response, a_report_response, an_experience, an_object_response, template
from unit_tests.mock_server.runner import read_stream, read_streams

_STREAM = "segment_reports"
DAY = 86400
T = 1_766_000_000
EXPERIENCE = 5


def a_segment_of_the_report(share: float, extra_visitors: int = 0) -> HttpResponse:
    """The sample aggregated report with every count scaled by ``share`` (a segment of its visitors)."""
    body = template("aggregated_report")
    for goal in body["data"]["reportData"]:
        for variation in goal["variations"]:
            variation["visitors"] = int(variation["visitors"] * share) + extra_visitors
            for metric in variation["metrics"]:
                metric["metric_total"] = int(metric["metric_total"] * share)
    return HttpResponse(json.dumps(body), 200)


def report_request(**body: Any):
    return ConvertRequestBuilder.experience_report(EXPERIENCE, "aggregated_report").with_body(utc_offset=0, **body).build()


def given_one_started_experience(http_mocker: HttpMocker):
    """The experience list and the experience's unfiltered report; returns that report's request."""
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        a_list_response("experiences").with_records([an_experience(EXPERIENCE, status="active", start_time=T - 10 * DAY, ran_until=T)]).build(),
    )
    unfiltered = report_request()
    http_mocker.post(unfiltered, a_report_response("aggregated_report"))
    return unfiltered


def segments_config(*dimensions: str, **fields: Any) -> Dict[str, Any]:
    builder = ConfigBuilder().with_field("report_segments", list(dimensions))
    for name, value in fields.items():
        builder.with_field(name, value)
    return builder.build()


def test_without_report_segments_the_stream_sends_no_request(http_mocker: HttpMocker) -> None:
    # Given: no request is mocked (an unmocked request fails the read)
    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then
    assert output.records == [] and output.errors == []


def test_one_request_per_segment_value_with_the_spec_value_names(http_mocker: HttpMocker) -> None:
    # Given: visitor_types (both published values), one country, and the campaigns report_settings names
    requests = [given_one_started_experience(http_mocker)]
    for segments, share in (({"visitor_types": ["new"]}, 0.6), ({"visitor_types": ["returning"]}, 0.4),
                            ({"countries": ["DE"]}, 0.1), ({"campaigns": ["spring_sale"]}, 0.2),
                            ({"custom_segments": [610003]}, 0.3)):
        requests.append(report_request(segments=segments))
        http_mocker.post(requests[-1], a_segment_of_the_report(share))
    requests.append(
        ConvertRequestBuilder(f"/accounts/{ACCOUNT_ID}/projects/{PROJECT_ID}/experiences/{EXPERIENCE}/report_settings").build())
    http_mocker.get(
        requests[-1],
        an_object_response("report_settings", campaigns=[{"name": "spring_sale", "visitors_count": 120}],
                           custom_segments=[{"id": 610003, "name": "Returning buyers"}]),
    )
    config = segments_config("visitor_types", "countries", "campaigns", "custom_segments", report_segment_countries=["DE"])

    # When
    output = read_stream(config, _STREAM, SyncMode.incremental)

    # Then: every mocked request was sent once, rows for every value, 10 per value
    assert output.errors == []
    for request in requests:
        http_mocker.assert_number_of_calls(request, 1)
    rows = [message.record.data for message in output.records]
    by_value = {}
    for row in rows:
        by_value.setdefault((row["segment_type"], row["segment_value"]), []).append(row)
    assert sorted(by_value) == [("campaigns", "spring_sale"), ("countries", "DE"), ("custom_segments", "610003"),
                                ("visitor_types", "new"), ("visitor_types", "returning")]
    assert all(len(found) == 10 for found in by_value.values())
    green = next(r for r in by_value[("visitor_types", "new")] if r["variation_id"] == 700002 and r["metric"] == "conversion_rate")
    assert (green["visitors"], green["metric_total"], green["experience_id"], green["ran_until"]) == (360, 25, EXPERIENCE, T)


def test_the_segment_filter_of_a_published_enum_names_every_value(http_mocker: HttpMocker) -> None:
    # Given: browsers, every published value
    given_one_started_experience(http_mocker)
    for index, browser in enumerate(SEGMENT_VALUES["browsers"]):
        http_mocker.post(report_request(segments={"browsers": [browser]}), a_segment_of_the_report(0.1 + index / 100))

    # When
    output = read_stream(segments_config("browsers"), _STREAM, SyncMode.incremental)

    # Then
    assert output.errors == []
    assert {m.record.data["segment_value"] for m in output.records} == set(SEGMENT_VALUES["browsers"])


def test_read_with_aggregated_reports_the_unfiltered_report_is_requested_once(http_mocker: HttpMocker) -> None:
    # Given
    unfiltered = given_one_started_experience(http_mocker)
    http_mocker.post(report_request(segments={"visitor_types": ["new"]}), a_segment_of_the_report(0.6))
    http_mocker.post(report_request(segments={"visitor_types": ["returning"]}), a_segment_of_the_report(0.4))

    # When
    output = read_streams(segments_config("visitor_types"), ["aggregated_reports", _STREAM], SyncMode.incremental)

    # Then
    assert output.errors == []
    streams = [m.record.stream for m in output.records]
    assert (streams.count("aggregated_reports"), streams.count(_STREAM)) == (10, 20)
    http_mocker.assert_number_of_calls(unfiltered, 1)


def test_two_exclusive_values_with_the_unfiltered_numbers_fail_naming_the_dimension(http_mocker: HttpMocker) -> None:
    # Given: Convert answers new and returning with the whole report (it ignored the filter)
    given_one_started_experience(http_mocker)
    for value in ("new", "returning"):
        http_mocker.post(report_request(segments={"visitor_types": [value]}), a_report_response("aggregated_report"))

    # When
    output = read_stream(segments_config("visitor_types"), _STREAM, SyncMode.incremental)

    # Then: no row of the dimension, one error naming it
    assert output.records == []
    messages = " ".join(error.trace.error.message for error in output.errors)
    assert "segment dimension 'visitor_types'" in messages and "Convert ignored the segments filter" in messages


def test_a_segment_with_more_visitors_than_the_report_fails_naming_the_value(http_mocker: HttpMocker) -> None:
    # Given
    given_one_started_experience(http_mocker)
    http_mocker.post(report_request(segments={"visitor_types": ["new"]}), a_segment_of_the_report(1.0, extra_visitors=1))
    http_mocker.post(report_request(segments={"visitor_types": ["returning"]}), a_segment_of_the_report(0.4))

    # When
    output = read_stream(segments_config("visitor_types"), _STREAM, SyncMode.incremental)

    # Then
    assert output.records == []
    messages = " ".join(error.trace.error.message for error in output.errors)
    assert "segment dimension 'visitor_types': value 'new' has 601 visitors" in messages
