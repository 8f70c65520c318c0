"""experience_sections: the sections of every multivariate (``mvt``) experience, one GET each with
``include[]``/``expand[]`` ``versions`` and ``versions.changes`` in the query string (signed as sent);
experiences of other types cost no request. Incremental like report_settings. The path is one the
API reference infers: a 404 for every experience asked fails the stream with one error naming it."""

from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import ACCOUNT_ID, PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.experience_objects import (
    an_indexed_experience,
    given_the_experience_events,
    given_the_index,
    given_the_newest_event,
    sections_request,
)
from unit_tests.mock_server.response_builder import a_change_event, a_report_response, an_error_response
from unit_tests.mock_server.runner import read_stream
from unit_tests.mock_server.states import changed_list_state_of

_STREAM = "experience_sections"
_SAVED, _NEWEST = 1_766_000_000, 1_766_500_000


def sections_answer():
    """The sample sections answer (``{"data": [...]}``, as the sample report answers are read)."""
    return a_report_response(_STREAM)


def test_only_multivariate_experiences_are_asked_with_the_query_string_signed(http_mocker: HttpMocker) -> None:
    # Given: an MVT experience between two others; only its sections are mocked (the fixture fails on any
    # other request, and on a mock not called exactly once)
    given_the_newest_event(http_mocker, _NEWEST)
    given_the_index(http_mocker, [
        an_indexed_experience(31), an_indexed_experience(32, kind="mvt"), an_indexed_experience(33, kind="split_url"),
    ])
    http_mocker.get(sections_request(32), sections_answer())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then: one record per section, keyed by the experience and the section's short id
    assert output.errors == []
    records = [message.record.data for message in output.records]
    assert [(r["experience_id"], r["id"], r["name"], r["project_id"], r["changed_at"]) for r in records] == [
        (32, "a", "Headline", int(PROJECT_ID), _NEWEST), (32, "b", "Call to action", int(PROJECT_ID), _NEWEST),
    ]
    headline = records[0]["versions"]
    assert [version["id"] for version in headline] == ["a0", "a1"]
    assert headline[1]["changes"][0] == {
        "id": 800001, "type": "richStructure", "data": {"selector": "h1.hero", "html": "<h1 class=\"hero\">Try it free</h1>"},
    }


def test_a_later_sync_asks_the_named_and_the_editable_multivariate_experiences_only(http_mocker: HttpMocker) -> None:
    # Given: MVT 40 is archived and named by the history, MVT 41 is running, MVT 42 archived without
    # an event, 43 is an A/B experience named by the history: 40 and 41 are asked
    given_the_experience_events(
        http_mocker, [a_change_event(61, _NEWEST, "experience", 43), a_change_event(60, _NEWEST, "experience", 40)]
    )
    given_the_index(http_mocker, [
        an_indexed_experience(40, status="archived", kind="mvt"), an_indexed_experience(41, status="active", kind="mvt"),
        an_indexed_experience(42, status="archived", kind="mvt"), an_indexed_experience(43, status="archived"),
    ])
    for experience_id in (40, 41):
        http_mocker.get(sections_request(experience_id), sections_answer())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state=changed_list_state_of(_SAVED))

    # Then
    assert output.errors == []
    assert sorted({(m.record.data["experience_id"], m.record.data["id"]) for m in output.records}) == [
        (40, "a"), (40, "b"), (41, "a"), (41, "b"),
    ]


def test_a_path_that_answers_404_for_every_experience_fails_the_stream_naming_the_path(http_mocker: HttpMocker) -> None:
    # Given: the one MVT experience's sections answer 404
    given_the_newest_event(http_mocker, _NEWEST)
    given_the_index(http_mocker, [an_indexed_experience(31), an_indexed_experience(32, kind="mvt")])
    http_mocker.get(sections_request(32), an_error_response(404, "Not found"))

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then: the stream fails loudly, once, with the path (not silently green without records)
    assert output.records == []
    (error,) = [error.trace.error for error in output.errors if "for every experience" in error.trace.error.message]
    assert error.message == (
        f"Stream '{_STREAM}': Convert answered HTTP 404 for every experience the stream asked (1 of 1) at GET "
        f"/api/v2/accounts/{ACCOUNT_ID}/projects/{PROJECT_ID}/experiences/{{experience_id}}/sections: "
        "Convert does not seem to have this path, so this stream read no records. The other streams are not affected."
    )
    assert error.failure_type == FailureType.system_error


def _one_at_a_time():
    """A config that reads one request at a time, so which experience is asked first is known."""
    return ConfigBuilder().with_field("max_concurrent_requests", 1).build()


def test_when_convert_signs_urls_without_their_query_string_one_retry_settles_it_for_the_sync(http_mocker: HttpMocker) -> None:
    # Given: a Convert that checks signatures over the URL without its query string (the contract is
    # silent on it): the first sections request, signed over the URL as sent, is refused
    given_the_newest_event(http_mocker, _NEWEST)
    given_the_index(http_mocker, [an_indexed_experience(experience_id, kind="mvt") for experience_id in (32, 34, 36)])
    http_mocker.get(sections_request(32), an_error_response(401, "Invalid signature"))
    http_mocker.get(sections_request(32, attempt=2, with_query=False), sections_answer())
    for experience_id in (34, 36):
        http_mocker.get(sections_request(experience_id, with_query=False), sections_answer())

    # When
    output = read_stream(_one_at_a_time(), _STREAM, SyncMode.incremental)

    # Then: one extra request for the sync (32's retry), the later experiences signed without the query
    # string at once; every section read (each mock is called exactly once: the fixture checks it)
    assert output.errors == []
    assert sorted({(m.record.data["experience_id"], m.record.data["id"]) for m in output.records}) == [
        (32, "a"), (32, "b"), (34, "a"), (34, "b"), (36, "a"), (36, "b"),
    ]


def test_when_convert_signs_urls_with_their_query_string_no_request_is_signed_without_it(http_mocker: HttpMocker) -> None:
    # Given: Convert accepts the URL as sent, query string included (the default reading)
    given_the_newest_event(http_mocker, _NEWEST)
    given_the_index(http_mocker, [an_indexed_experience(experience_id, kind="mvt") for experience_id in (32, 34)])
    for experience_id in (32, 34):
        http_mocker.get(sections_request(experience_id), sections_answer())

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental)

    # Then: one request each, no retry
    assert output.errors == []
    assert len(output.records) == 4


def test_a_key_refused_with_and_without_the_query_string_is_a_config_error(http_mocker: HttpMocker) -> None:
    # Given: both readings are refused (the key itself is wrong for this call)
    given_the_newest_event(http_mocker, _NEWEST)
    given_the_index(http_mocker, [an_indexed_experience(32, kind="mvt")])
    http_mocker.get(sections_request(32), an_error_response(401, "Invalid signature"))
    http_mocker.get(sections_request(32, attempt=2, with_query=False), an_error_response(401, "Invalid signature"))

    # When
    output = read_stream(_one_at_a_time(), _STREAM, SyncMode.incremental)

    # Then: two requests (the fixture checks it), then the 401's config error naming the method
    assert output.records == []
    errors = [error.trace.error for error in output.errors]
    assert errors and errors[0].failure_type == FailureType.config_error
    assert "authentication method 'request_signing'" in errors[0].message
