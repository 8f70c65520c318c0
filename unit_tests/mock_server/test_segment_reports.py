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
from unit_tests.mock_server.states import report_cursors

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


STOPPED = 6  # stopped 20 days before the newest ran_until: an incremental sync skips it


def segmented_request(experience: int, **body: Any):
    return ConvertRequestBuilder.experience_report(experience, "aggregated_report").with_body(utc_offset=0, **body).build()


def given_a_running_and_a_long_stopped_experience(http_mocker: HttpMocker, *dimensions: str) -> None:
    """The experience list, both experiences' unfiltered reports, and their segment reports for ``dimensions``."""
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        a_list_response("experiences").with_records([
            an_experience(EXPERIENCE, status="active", start_time=T - 10 * DAY, ran_until=T),
            an_experience(STOPPED, status="completed", start_time=T - 40 * DAY, end_time=T - 20 * DAY, ran_until=T - 20 * DAY),
        ]).build(),
    )
    for experience in (EXPERIENCE, STOPPED):
        http_mocker.post(segmented_request(experience), a_report_response("aggregated_report"))
        for dimension in dimensions:
            for index, value in enumerate(SEGMENT_VALUES[dimension]):
                http_mocker.post(segmented_request(experience, segments={dimension: [value]}),
                                 a_segment_of_the_report(0.1 + index / 100))


def test_a_dimension_added_after_a_sync_reads_every_started_experience_again_with_one_warning(http_mocker: HttpMocker) -> None:
    # Given: a first sync with visitor_types; its state; then browsers is added
    given_a_running_and_a_long_stopped_experience(http_mocker, "visitor_types", "browsers")
    first_config = segments_config("visitor_types", report_lookback_days=3)
    first = read_stream(first_config, _STREAM, SyncMode.incremental)
    assert first.errors == [] and {m.record.data["experience_id"] for m in first.records} == {EXPERIENCE, STOPPED}
    state = first.most_recent_state.stream_state.__dict__
    assert state["parent_state"]["started_experiences"]["states"][0]["cursor"]["report_segments"] == "visitor_types"

    # When
    second = read_stream(segments_config("visitor_types", "browsers", report_lookback_days=3), _STREAM,
                         SyncMode.incremental, state=state)

    # Then: the long-stopped experience is read again, now with every browser too, and one warning says why
    assert second.errors == []
    read_again = {(m.record.data["experience_id"], m.record.data["segment_type"]) for m in second.records}
    assert read_again == {(EXPERIENCE, "visitor_types"), (EXPERIENCE, "browsers"), (STOPPED, "visitor_types"), (STOPPED, "browsers")}
    assert {m.record.data["segment_value"] for m in second.records if m.record.data["experience_id"] == STOPPED
            and m.record.data["segment_type"] == "browsers"} == set(SEGMENT_VALUES["browsers"])
    warnings = [m.log.message for m in second.logs if "did not read" in m.log.message]
    assert warnings == [
        f"Stream '{_STREAM}': report_segments has browsers that the last sync did not read, so every started experience "
        f"of project(s) {PROJECT_ID} is read again in full, as on a first sync."
    ]
    cursor = second.most_recent_state.stream_state.__dict__["parent_state"]["started_experiences"]["states"][0]["cursor"]
    assert cursor["report_segments"] == "browsers,visitor_types"


def test_a_country_added_is_read_again_and_a_dimension_removed_is_not(http_mocker: HttpMocker) -> None:
    # Given: the state of a sync of visitor_types and the countries DE
    given_a_running_and_a_long_stopped_experience(http_mocker)
    for value, share in (("new", 0.6), ("returning", 0.4)):  # the running experience only
        http_mocker.post(segmented_request(EXPERIENCE, segments={"visitor_types": [value]}), a_segment_of_the_report(share))
    for experience in (EXPERIENCE, STOPPED):
        for code in ("DE", "FR"):
            http_mocker.post(segmented_request(experience, segments={"countries": [code]}), a_segment_of_the_report(0.05))
    state = {"use_global_cursor": True, "state": {"ran_until": str(T)}, "parent_state": report_cursors(
        {PROJECT_ID: T}, report_segments="countries,visitor_types", report_segment_countries="DE")}

    # When: visitor_types is dropped (nothing to re-read), FR is added (older experiences lack it)
    added = read_stream(segments_config("countries", report_segment_countries=["FR", "DE"], report_lookback_days=3),
                        _STREAM, SyncMode.incremental, state=state)
    removed = read_stream(segments_config("visitor_types", report_lookback_days=3), _STREAM, SyncMode.incremental, state=state)

    # Then
    assert added.errors == [] and removed.errors == []
    assert {m.record.data["experience_id"] for m in added.records} == {EXPERIENCE, STOPPED}
    assert [m.log.message for m in added.logs if "did not read" in m.log.message] == [
        f"Stream '{_STREAM}': report_segment_countries has FR that the last sync did not read, so every started "
        f"experience of project(s) {PROJECT_ID} is read again in full, as on a first sync."
    ]
    assert {m.record.data["experience_id"] for m in removed.records} == {EXPERIENCE}
    assert not [m for m in removed.logs if "did not read" in m.log.message]


def test_a_state_without_the_record_reads_in_full_with_the_warning(http_mocker: HttpMocker) -> None:
    # Given: a cursor that does not say which segments it was read for
    given_a_running_and_a_long_stopped_experience(http_mocker, "visitor_types")
    state = {"use_global_cursor": True, "state": {"ran_until": str(T)}, "parent_state": report_cursors({PROJECT_ID: T})}

    # When
    output = read_stream(segments_config("visitor_types", report_lookback_days=3), _STREAM, SyncMode.incremental, state=state)

    # Then
    assert output.errors == []
    assert {m.record.data["experience_id"] for m in output.records} == {EXPERIENCE, STOPPED}
    assert len([m for m in output.logs if "did not read" in m.log.message]) == 1


def test_custom_segment_ids_given_as_text_are_read_and_unusable_ones_warned_once(http_mocker: HttpMocker) -> None:
    # Given: report settings with an id as digits in a string, an id that is no number, and a campaign without a name
    given_one_started_experience(http_mocker)
    http_mocker.post(report_request(segments={"custom_segments": [610003]}), a_segment_of_the_report(0.3))
    http_mocker.get(
        ConvertRequestBuilder(f"/accounts/{ACCOUNT_ID}/projects/{PROJECT_ID}/experiences/{EXPERIENCE}/report_settings").build(),
        an_object_response("report_settings", campaigns=[{"name": None, "visitors_count": 3}, {"name": 7}],
                           custom_segments=[{"id": "610003", "name": "Returning buyers"}, {"id": "abc"}, {"id": None}]),
    )

    # When
    output = read_stream(segments_config("campaigns", "custom_segments"), _STREAM, SyncMode.incremental)

    # Then
    assert output.errors == []
    assert {(m.record.data["segment_type"], m.record.data["segment_value"]) for m in output.records} == {
        ("custom_segments", "610003")}
    warnings = [m.log.message for m in output.logs if m.log.level.value == "WARN"]
    assert len([w for w in warnings if "custom segment whose id" in w]) == 1
    assert len([w for w in warnings if "campaign whose name" in w]) == 1


def test_a_saved_state_goes_through_the_state_migration(http_mocker: HttpMocker) -> None:
    # Given: a state this version cannot read (a cursor that is no UNIX time)
    given_one_started_experience(http_mocker)
    for value, share in (("new", 0.6), ("returning", 0.4)):
        http_mocker.post(report_request(segments={"visitor_types": [value]}), a_segment_of_the_report(share))

    # When
    output = read_stream(segments_config("visitor_types"), _STREAM, SyncMode.incremental,
                         state={"parent_state": {"started_experiences": {"ran_until": "yesterday"}}})

    # Then: the stream starts a full read, with the migration's warning
    assert output.errors == [] and len(output.records) == 20
    assert [m.log.message for m in output.logs if "format this version does not use" in m.log.message] == [
        f"The saved state of stream '{_STREAM}' has a format this version does not use; the stream starts a full read."]


def test_a_project_not_read_keeps_what_its_cursor_records(http_mocker: HttpMocker) -> None:
    # Given: the state also holds a project no longer configured, read with other dimensions and zone
    given_one_started_experience(http_mocker)
    for value, share in (("new", 0.6), ("returning", 0.4)):
        http_mocker.post(report_request(segments={"visitor_types": [value]}), a_segment_of_the_report(share))
    other = {"ran_until": str(T - DAY), "utc_offset": "3600", "report_segments": "devices", "report_segment_countries": ""}
    state = {"parent_state": {"started_experiences": {"states": [
        {"partition": {"project_id": "999999"}, "cursor": other}], "use_global_cursor": False}}}

    # When
    output = read_stream(segments_config("visitor_types"), _STREAM, SyncMode.incremental, state=state)

    # Then: if that project is configured again, its cursor still says what it was read with
    assert output.errors == []
    saved = output.most_recent_state.stream_state.__dict__["parent_state"]["started_experiences"]["states"]
    assert {entry["partition"]["project_id"]: entry["cursor"] for entry in saved}["999999"] == other
