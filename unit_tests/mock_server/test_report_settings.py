"""report_settings: one GET per experience (``.../experiences/{id}/report_settings``, documented as
``{"data": {"campaigns": [...], "custom_segments": [...]}}``; a bare object is read the same, since the
spec declares single objects both ways), the experiences taken from the project's experience list; later syncs ask only the
experiences the change history names and those that can still change. A 404 for one experience is a
deleted experience; a 404 for every one is a path that does not exist, and fails the stream loudly."""

import json

from airbyte_cdk.models import FailureType, Level, SyncMode
from airbyte_cdk.test.mock_http.response_builder import FieldPath
from airbyte_cdk.test.mock_http import HttpMocker, HttpResponse

from unit_tests.mock_server.config import ACCOUNT_ID, PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.experience_objects import (
    an_indexed_experience,
    experience_call,
    given_the_experience_events,
    given_the_index,
    given_the_newest_event,
)
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_change_event, a_list_response, an_error_response, an_object_response, records_with_ids
from unit_tests.mock_server.runner import read_stream, read_streams
from unit_tests.mock_server.states import changed_list_state_of, stream_state

_STREAM = "report_settings"
_SAVED, _NEWEST = 1_766_000_000, 1_766_500_000


def settings_of(experience_id: int):
    return experience_call(experience_id, "report_settings").build()


def warnings_of(output) -> list:
    return [message.log.message for message in output.logs if message.log.level == Level.WARN]


def test_a_first_sync_reads_the_settings_of_every_experience_once(http_mocker: HttpMocker) -> None:
    # Given: two experiences (one archived: every status is listed), each with its campaigns and segments
    given_the_newest_event(http_mocker, _NEWEST)
    given_the_index(http_mocker, [an_indexed_experience(31), an_indexed_experience(32, status="archived")])
    campaigns_31 = [{"name": "spring_sale", "visitors_count": 412}, {"name": "retargeting", "visitors_count": 9}]
    http_mocker.get(settings_of(31), an_object_response(_STREAM, campaigns=campaigns_31))
    http_mocker.get(settings_of(32), an_object_response(_STREAM, campaigns=[], custom_segments=[]))

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then: one record per experience, what Convert answered plus the experience, the project and the
    # display cursor
    assert output.errors == []
    records = sorted((message.record.data for message in output.records), key=lambda record: record["experience_id"])
    assert [(r["experience_id"], r["project_id"], r["changed_at"]) for r in records] == [
        (31, int(PROJECT_ID), _NEWEST), (32, int(PROJECT_ID), _NEWEST),
    ]
    assert records[0]["campaigns"] == campaigns_31
    assert records[0]["custom_segments"] == [{"id": 800003, "name": "Returning buyers"}]
    assert (records[1]["campaigns"], records[1]["custom_segments"]) == ([], [])
    state = stream_state(output, _STREAM)
    assert state["parent_state"]["object_changes"]["states"] == [
        {"partition": {"project_id": PROJECT_ID}, "cursor": {"timestamp": str(_NEWEST)}}
    ]


def test_settings_answered_bare_are_read_like_wrapped_ones(http_mocker: HttpMocker) -> None:
    # Given: 31 answers the documented {data: {...}}, 32 the same object bare
    given_the_newest_event(http_mocker, _NEWEST)
    given_the_index(http_mocker, [an_indexed_experience(31), an_indexed_experience(32)])
    http_mocker.get(settings_of(31), an_object_response(_STREAM))
    bare = {"campaigns": [{"name": "newsletter_march", "visitors_count": 5}], "custom_segments": []}
    http_mocker.get(settings_of(32), HttpResponse(json.dumps(bare), 200))

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then: both arrive, each as Convert described it
    assert output.errors == []
    records = {message.record.data["experience_id"]: message.record.data for message in output.records}
    assert records[31]["campaigns"] == [{"name": "spring_sale", "visitors_count": 412}]
    assert (records[32]["campaigns"], records[32]["custom_segments"]) == (bare["campaigns"], [])


def test_a_later_sync_asks_only_the_named_and_the_editable_experiences(http_mocker: HttpMocker) -> None:
    # Given: the history names 4 (archived since) and 9 (running); 9 and 10 can still change; 11 is
    # archived without an event and 12 deleted: neither costs a request
    given_the_experience_events(
        http_mocker, [a_change_event(51, _NEWEST, "experience", 9), a_change_event(50, _NEWEST, "experience", 4)]
    )
    given_the_index(http_mocker, [
        an_indexed_experience(4, status="archived"), an_indexed_experience(9, status="active"),
        an_indexed_experience(10, status="draft"), an_indexed_experience(11, status="archived"),
        an_indexed_experience(12, status="deleted"),
    ])
    for experience_id in (4, 9, 10):
        http_mocker.get(settings_of(experience_id), an_object_response(_STREAM))

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=changed_list_state_of(_SAVED))

    # Then: each once (9 is named and editable), every one at the newest history time
    assert output.errors == []
    assert sorted(message.record.data["experience_id"] for message in output.records) == [4, 9, 10]
    assert {message.record.data["changed_at"] for message in output.records} == {_NEWEST}


def test_an_experience_named_but_no_longer_listed_is_still_asked(http_mocker: HttpMocker) -> None:
    # Given: the history names 7, which the list (read a moment earlier, or after a hard delete) lacks
    given_the_experience_events(http_mocker, [a_change_event(52, _NEWEST, "experience", 7)])
    given_the_index(http_mocker, [an_indexed_experience(9, status="active")])
    http_mocker.get(settings_of(7), an_error_response(404, "Experience not found"))
    http_mocker.get(settings_of(9), an_object_response(_STREAM))

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=changed_list_state_of(_SAVED))

    # Then: 7 was deleted (a warning), 9 arrives
    assert output.errors == []
    assert [message.record.data["experience_id"] for message in output.records] == [9]
    assert [w for w in warnings_of(output) if "experience 7 " in w] == [
        f"Stream '{_STREAM}': experience 7 was not found (HTTP 404 for GET /api/v2/accounts/{ACCOUNT_ID}/projects/"
        f"{PROJECT_ID}/experiences/7/report_settings); it was probably deleted during the sync, its rows are skipped."
    ]


def test_an_experience_deleted_during_the_sync_is_skipped_with_one_warning(http_mocker: HttpMocker) -> None:
    # Given: three experiences; the first one asked answers 404 (deleted after the list was read)
    given_the_newest_event(http_mocker, _NEWEST)
    given_the_index(http_mocker, [an_indexed_experience(5), an_indexed_experience(6), an_indexed_experience(7)])
    http_mocker.get(settings_of(5), an_error_response(404, "Experience not found"))
    for experience_id in (6, 7):
        http_mocker.get(settings_of(experience_id), an_object_response(_STREAM))

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then: the others arrive, no error, one warning (given once another experience proved the path)
    assert output.errors == []
    assert sorted(message.record.data["experience_id"] for message in output.records) == [6, 7]
    assert [w for w in warnings_of(output) if "experience 5 " in w] == [
        f"Stream '{_STREAM}': experience 5 was not found (HTTP 404 for GET /api/v2/accounts/{ACCOUNT_ID}/projects/"
        f"{PROJECT_ID}/experiences/5/report_settings); it was probably deleted during the sync, its rows are skipped."
    ]


def test_a_404_for_every_experience_fails_the_stream_naming_it_and_the_path_but_not_the_others(http_mocker: HttpMocker) -> None:
    # Given: both experiences answer 404 (the path does not exist); tags are read in the same sync
    given_the_newest_event(http_mocker, _NEWEST)
    given_the_index(http_mocker, [an_indexed_experience(5), an_indexed_experience(6)])
    for experience_id in (5, 6):
        http_mocker.get(settings_of(experience_id), an_error_response(404, "Not found"))
    http_mocker.post(
        ConvertRequestBuilder.project_list("tags", sort_by=None).build(),
        a_list_response("tags").with_records(records_with_ids("tags", [1, 2])).build(),
    )

    # When
    output = read_streams(ConfigBuilder().build(), [_STREAM, "tags"], SyncMode.full_refresh)

    # Then: one error of the stream that names it and the path (besides the CDK's closing summary, a
    # config error by its convention); no "deleted" warnings; the tags arrive
    (error,) = [error.trace.error for error in output.errors if "for every experience" in error.trace.error.message]
    assert error.message == (
        f"Stream '{_STREAM}': Convert answered HTTP 404 for every experience the stream asked (2 of 2) at GET "
        f"/api/v2/accounts/{ACCOUNT_ID}/projects/{PROJECT_ID}/experiences/{{experience_id}}/report_settings: "
        "Convert does not seem to have this path, so this stream read no records. The other streams are not affected."
    )
    assert error.failure_type == FailureType.system_error
    assert all(_STREAM in e.trace.error.message and "tags" not in e.trace.error.message for e in output.errors)
    assert not [w for w in warnings_of(output) if "was probably deleted" in w]
    assert sorted(m.record.data["id"] for m in output.records if m.record.stream == "tags") == [1, 2]
    assert not [m for m in output.records if m.record.stream == _STREAM]


def test_a_variation_or_change_event_names_its_experience_through_parent_object_id(http_mocker: HttpMocker) -> None:
    # Given: the history has a variation event and a change event (object ids of their own, as strings),
    # each naming its experience in ``parent_object_id``; both experiences are archived (only named ones are asked)
    variation = a_change_event(51, _NEWEST, "variation", 700002).with_field(FieldPath("parent_object_id"), "4")
    change = a_change_event(52, _NEWEST, "change", 900007).with_field(FieldPath("parent_object_id"), "9")
    given_the_experience_events(http_mocker, [variation, change])
    given_the_index(http_mocker, [an_indexed_experience(4, status="archived"), an_indexed_experience(9, status="archived")])
    for experience_id in (4, 9):
        http_mocker.get(settings_of(experience_id), an_object_response(_STREAM, experience_id=experience_id))

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=changed_list_state_of(_SAVED))

    # Then: the two experiences, not the variation or the change ids
    assert output.errors == []
    assert sorted(message.record.data["experience_id"] for message in output.records) == [4, 9]
