"""check: one signed request for the first page of tags, the failure said as a plain reason."""

from airbyte_cdk.models import Status
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_list_response, an_error_response, records_with_ids
from unit_tests.mock_server.runner import check


def test_a_readable_project_passes_with_one_request(http_mocker: HttpMocker) -> None:
    # Given
    http_mocker.post(
        ConvertRequestBuilder.project_list("tags", sort_by=None).build(),
        a_list_response("tags").with_records(records_with_ids("tags", [1])).build(),
    )

    # When
    output = check(ConfigBuilder().build())

    # Then
    (message,) = output.connection_status_messages
    assert message.connectionStatus.status == Status.SUCCEEDED


def test_a_refusal_fails_the_check_with_the_reason_itself(http_mocker: HttpMocker) -> None:
    # Given: no such project (the verdicts for 401 and 403 are the error handler's, in test_backoff.py)
    http_mocker.post(ConvertRequestBuilder.project_list("tags", sort_by=None).build(), an_error_response(404, "Not found"))

    # When
    output = check(ConfigBuilder().build())

    # Then: the message is the error handler's text, not the repr of an exception
    (message,) = output.connection_status_messages
    assert message.connectionStatus.status == Status.FAILED
    assert "account 100001 / project 200002 was not found" in message.connectionStatus.message
    assert not message.connectionStatus.message.startswith(("'", '"'))
