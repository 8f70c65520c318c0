"""variations: one record per variation, from the experiences list with variations expanded."""

from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import ConfigBuilder
from unit_tests.mock_server.request_builder import EXPERIENCE_STATUSES, ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_change_event, a_list_response, a_record
from unit_tests.mock_server.runner import read_stream

_NEWEST = 1_766_500_000


def test_each_variation_of_each_experience_is_a_record_keyed_by_its_experience(http_mocker: HttpMocker) -> None:
    # Given: two experiences with two variations each (the details sample carries them)
    http_mocker.post(
        ConvertRequestBuilder.newest_history_event().build(),
        a_list_response("change_history").with_records([a_change_event(9, _NEWEST, "goal", 1)]).build(),
    )
    http_mocker.post(
        ConvertRequestBuilder.variation_pages()
        .with_partition(status=EXPERIENCE_STATUSES)
        .build(),
        a_list_response("experience_details").with_records(
            [a_record("experience_details").with_id(31), a_record("experience_details").with_id(32)]
        ).build(),
    )

    # When
    output = read_stream(ConfigBuilder().build(), "variations")

    # Then
    assert [(m.record.data["experience_id"], m.record.data["id"], m.record.data["changed_at"]) for m in output.records] == [
        (31, 700001, _NEWEST), (31, 700002, _NEWEST), (32, 700001, _NEWEST), (32, 700002, _NEWEST),
    ]
