"""variations and variation_changes read in one sync: each request for the experience list with the
variations and their changes is sent once, and both streams get all of their records from it. A stream
whose saved state calls for other requests sends those itself; a request that fails is not shared."""

from collections import Counter

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import ConfigBuilder
from unit_tests.mock_server.experience_objects import given_the_experience_events, given_the_newest_event
from unit_tests.mock_server.request_builder import EDITABLE_STATUSES, EXPERIENCE_STATUSES, ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_change_event, a_list_response, an_error_response, records_with_ids
from unit_tests.mock_server.runner import read_streams
from unit_tests.mock_server.states import changed_list_state_of, stream_state

_BOTH = ["variations", "variation_changes"]
_SAVED, _NEWEST = 1_766_000_000, 1_766_500_000


def experiences_of(output, stream: str) -> Counter:
    """How many records ``stream`` delivered per experience."""
    return Counter(m.record.data["experience_id"] for m in output.records if m.record.stream == stream)


def test_a_first_sync_of_both_streams_sends_each_page_once(http_mocker: HttpMocker) -> None:
    # Given: 60 experiences on two pages (each with two variations, one of which has two changes)
    given_the_newest_event(http_mocker, _NEWEST)
    pages = [ConvertRequestBuilder.variation_pages().with_partition(status=EXPERIENCE_STATUSES).page(number).build() for number in (1, 2)]
    for page, ids in zip(pages, (range(1, 51), range(51, 61))):
        http_mocker.post(page, a_list_response("variation_changes").with_records(records_with_ids("variation_changes", ids))
                         .with_items_count(60).build())

    # When
    output = read_streams(ConfigBuilder().build(), _BOTH, SyncMode.incremental)

    # Then: one request per page for both streams, and every experience's variations and changes
    assert output.errors == []
    for page in pages:
        http_mocker.assert_number_of_calls(page, 1)
    assert experiences_of(output, "variations") == Counter({experience: 2 for experience in range(1, 61)})
    assert experiences_of(output, "variation_changes") == Counter({experience: 2 for experience in range(1, 61)})
    changes = [m.record.data for m in output.records if m.record.stream == "variation_changes"]
    variations = {(m.record.data["experience_id"], m.record.data["id"]): m.record.data["change_ids"]
                  for m in output.records if m.record.stream == "variations"}
    assert all(change["id"] in variations[(change["experience_id"], change["variation_id"])] for change in changes)


def test_a_later_sync_of_both_streams_sends_the_changed_and_the_editable_batches_once(http_mocker: HttpMocker) -> None:
    # Given: both streams saved the same cursor; the history names 4 (archived since); 9 and 10 can still be edited
    given_the_experience_events(http_mocker, [a_change_event(50, _NEWEST, "experience", 4)])
    changed = ConvertRequestBuilder.variation_pages().with_partition(status=["archived", "deleted"], only=[4]).build()
    editable = ConvertRequestBuilder.variation_pages().with_partition(status=EDITABLE_STATUSES).build()
    http_mocker.post(changed, a_list_response("variation_changes").with_records(records_with_ids("variation_changes", [4])).build())
    http_mocker.post(editable, a_list_response("variation_changes").with_records(records_with_ids("variation_changes", [9, 10])).build())

    # When
    saved = changed_list_state_of(_SAVED)
    output = read_streams(ConfigBuilder().build(), _BOTH, SyncMode.incremental, {stream: saved for stream in _BOTH})

    # Then: each batch asked once; both streams deliver the three experiences and move to the new cursor
    assert output.errors == []
    http_mocker.assert_number_of_calls(changed, 1)
    http_mocker.assert_number_of_calls(editable, 1)
    for stream in _BOTH:
        assert set(experiences_of(output, stream)) == {4, 9, 10}
        assert stream_state(output, stream)["parent_state"]["object_changes"]["states"][0]["cursor"] == {"timestamp": str(_NEWEST)}


def test_streams_with_different_saved_states_each_send_their_own_requests(http_mocker: HttpMocker) -> None:
    # Given: variations has a saved cursor (a later sync), variation_changes has none (its first sync)
    given_the_newest_event(http_mocker, _NEWEST)
    given_the_experience_events(http_mocker, [a_change_event(50, _NEWEST, "experience", 4)])
    whole = ConvertRequestBuilder.variation_pages().with_partition(status=EXPERIENCE_STATUSES).build()
    changed = ConvertRequestBuilder.variation_pages().with_partition(status=["archived", "deleted"], only=[4]).build()
    editable = ConvertRequestBuilder.variation_pages().with_partition(status=EDITABLE_STATUSES).build()
    http_mocker.post(whole, a_list_response("variation_changes").with_records(records_with_ids("variation_changes", [4, 9, 10, 11])).build())
    http_mocker.post(changed, a_list_response("variation_changes").with_records(records_with_ids("variation_changes", [4])).build())
    http_mocker.post(editable, a_list_response("variation_changes").with_records(records_with_ids("variation_changes", [9])).build())

    # When
    output = read_streams(ConfigBuilder().build(), _BOTH, SyncMode.incremental, {"variations": changed_list_state_of(_SAVED)})

    # Then: the whole list for the stream read in full, the two batches for the other, each once
    assert output.errors == []
    for request in (whole, changed, editable):
        http_mocker.assert_number_of_calls(request, 1)
    assert set(experiences_of(output, "variation_changes")) == {4, 9, 10, 11}
    assert set(experiences_of(output, "variations")) == {4, 9}


def test_a_page_that_fails_is_not_shared_each_stream_asks_and_reports_its_own_error(http_mocker: HttpMocker) -> None:
    # Given: Convert refuses the first page as invalid (not retried)
    given_the_newest_event(http_mocker, _NEWEST)
    page = ConvertRequestBuilder.variation_pages().with_partition(status=EXPERIENCE_STATUSES).build()
    http_mocker.post(page, an_error_response(422, "Invalid include"))

    # When
    output = read_streams(ConfigBuilder().build(), _BOTH, SyncMode.incremental)

    # Then: the failure is not handed on; each stream sent the request and reports the refusal itself
    http_mocker.assert_number_of_calls(page, 2)
    assert output.records == []
    failed = {error.trace.error.stream_descriptor.name: error.trace.error.message for error in output.errors
              if error.trace.error.stream_descriptor is not None and "HTTP 422" in error.trace.error.message}
    assert set(failed) == set(_BOTH)
    assert all(message.startswith(f"Stream '{stream}': POST ") for stream, message in failed.items()), failed
