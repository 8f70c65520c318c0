"""daily_traffic_allocation: one request per started experience with the time range only (``utc_offset``,
``start_time``, ``end_time`` null), over the day window of daily_reports; one row per variation and day with
the variation's share of the traffic, the day in the report time zone."""

import datetime as dt
import json
import logging

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker, HttpResponse

from unit_tests.mock_server.config import PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_list_response, an_experience
from unit_tests.mock_server.runner import read_stream
from unit_tests.mock_server.states import report_cursors

_STREAM = "daily_traffic_allocation"
DAY = 86400
T = 1_766_000_000  # 2025-12-17T19:33:20Z
GOAL = {"id": 12, "name": "Newsletter", "type": "clicks_link"}


def midnight(day: str) -> int:
    return int(dt.datetime.fromisoformat(day).replace(tzinfo=dt.timezone.utc).timestamp())


def allocation_request(experience_id: int, start_time: int, utc_offset: int = 0) -> ConvertRequestBuilder:
    return (
        ConvertRequestBuilder.experience_report(experience_id, "daily_traffic_allocation")
        .with_body(utc_offset=utc_offset, start_time=start_time)
        .with_partition(end_time=None)
    )


def an_allocation(days, shares) -> HttpResponse:
    """The documented answer: per variation, one ``{timestamp, value}`` point per day."""
    variations = [{"id": variation, "stats": [{"timestamp": midnight(day), "value": share[i]} for i, day in enumerate(days)]}
                  for variation, share in shares.items()]
    data = {"variations_data": [{"id": variation, "name": f"V{variation}", "is_baseline": index == 0}
                                for index, variation in enumerate(shares)],
            "reportData": {"variations": variations}}
    return HttpResponse(json.dumps({"data": data}), 200)


def started(*experiences) -> None:
    return a_list_response("experiences").with_records(list(experiences)).build()


def test_a_first_sync_asks_each_experience_from_the_start_date_and_gives_one_row_per_variation_and_day(
        http_mocker: HttpMocker) -> None:
    # Given: a running MAB experience and a completed one
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        started(an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=T, goals=[GOAL]),
                an_experience(6, status="completed", start_time=T - 90 * DAY, end_time=T - 60 * DAY, ran_until=T - 60 * DAY,
                              goals=[GOAL])),
    )
    days = ["2025-12-16", "2025-12-17"]
    http_mocker.post(allocation_request(5, midnight("2025-12-01")).build(),
                     an_allocation(days, {700001: [50.0, 41.25], 700002: [50.0, 58.75]}))
    http_mocker.post(allocation_request(6, midnight("2025-12-01")).build(), an_allocation([], {700003: [], 700004: []}))

    # When
    output = read_stream(ConfigBuilder().with_start_date("2025-12-01").build(), _STREAM, SyncMode.incremental)

    # Then
    rows = sorted((r["experience_id"], r["variation_id"], r["day"], r["traffic_allocation"], r["timestamp"], r["utc_offset"],
                   r["project_id"]) for r in (m.record.data for m in output.records))
    assert rows == [
        (5, 700001, "2025-12-16", 50.0, midnight("2025-12-16"), 0, int(PROJECT_ID)),
        (5, 700001, "2025-12-17", 41.25, midnight("2025-12-17"), 0, int(PROJECT_ID)),
        (5, 700002, "2025-12-16", 50.0, midnight("2025-12-16"), 0, int(PROJECT_ID)),
        (5, 700002, "2025-12-17", 58.75, midnight("2025-12-17"), 0, int(PROJECT_ID)),
    ]
    state = output.most_recent_state.stream_state.__dict__
    assert state["state"] == {"day": "2025-12-17"}
    assert state["parent_state"] == report_cursors({PROJECT_ID: T})
    assert output.errors == []


def test_a_later_sync_starts_at_the_first_day_of_the_window_in_the_report_time_zone(http_mocker: HttpMocker) -> None:
    # Given: saved ran_until T (2025-12-18T01:03:20 at UTC+05:30), lookback 3 days: the window starts on
    # 2025-12-15 local, whose midnight is sent under the earlier reading (the UTC instant of the local midnight)
    http_mocker.post(
        ConvertRequestBuilder.started_experiences().build(),
        started(an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=T + DAY, goals=[GOAL]),
                an_experience(6, status="completed", start_time=T - 90 * DAY, end_time=T - 60 * DAY, ran_until=T - 60 * DAY,
                              goals=[GOAL])),
    )
    http_mocker.post(allocation_request(5, midnight("2025-12-15") - 19800, utc_offset=19800).build(),
                     an_allocation(["2025-12-15"], {700001: [30.0], 700002: [70.0]}))
    state = {"use_global_cursor": True, "state": {"day": "2025-12-17"},
             "parent_state": report_cursors({PROJECT_ID: T}, utc_offset=19800)}
    config = ConfigBuilder().with_field("report_utc_offset_hours", 5.5).build()

    # When
    output = read_stream(config, _STREAM, SyncMode.incremental, state=state)

    # Then: experience 6 stopped long before the window and costs no request; the new cursor records the zone
    assert {(m.record.data["experience_id"], m.record.data["day"]) for m in output.records} == {(5, "2025-12-15")}
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == report_cursors({PROJECT_ID: T + DAY}, utc_offset=19800)


def test_a_report_of_another_shape_fails_naming_the_place(http_mocker: HttpMocker) -> None:
    http_mocker.post(ConvertRequestBuilder.started_experiences().build(),
                     started(an_experience(5, status="active", start_time=T, ran_until=T, goals=[GOAL])))
    body = {"data": {"reportData": {"variations": [{"id": 700001, "stats": [{"timestamp": midnight("2025-12-17"), "value": "50%"}]}]}}}
    http_mocker.post(allocation_request(5, midnight("2025-12-01")).build(), HttpResponse(json.dumps(body), 200))

    output = read_stream(ConfigBuilder().with_start_date("2025-12-01").build(), _STREAM, SyncMode.incremental)

    assert not output.records
    messages = [error.trace.error.message for error in output.errors]
    assert any("a string as data.reportData.variations[0].stats[0].value, expected a number" in m for m in messages), messages


def test_a_changed_report_time_zone_reads_every_day_again_with_one_warning(http_mocker: HttpMocker, caplog) -> None:
    # Given: the cursor was counted in UTC; the config now says UTC-05:00
    http_mocker.post(ConvertRequestBuilder.started_experiences().build(),
                     started(an_experience(5, status="active", start_time=T - 10 * DAY, ran_until=T, goals=[GOAL])))
    http_mocker.post(allocation_request(5, midnight("2025-12-01"), utc_offset=-18000).build(),
                     an_allocation(["2025-12-10"], {700001: [50.0]}))
    state = {"use_global_cursor": True, "state": {"day": "2025-12-17"}, "parent_state": report_cursors({PROJECT_ID: T})}
    config = ConfigBuilder().with_start_date("2025-12-01").with_field("report_utc_offset_hours", -5).build()

    # When
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        output = read_stream(config, _STREAM, SyncMode.incremental, state=state)

    # Then: from the start date, as on a first sync; the new cursor records the new zone
    assert [m.record.data["day"] for m in output.records] == ["2025-12-10"]
    warnings = [m for m in (r.getMessage() for r in caplog.records) if "report time zone changed" in m]
    assert warnings == [
        f"Stream '{_STREAM}': the report time zone changed since the last sync (utc_offset 0 seconds, now -18000), so the "
        f"days saved for project(s) {PROJECT_ID} have other boundaries: every report day of those projects is read again, "
        "in the new zone."
    ]
    assert output.most_recent_state.stream_state.__dict__["parent_state"] == report_cursors({PROJECT_ID: T}, utc_offset=-18000)
