"""account: one signed GET of the account details; the ``data`` object is the one record."""

from airbyte_cdk.models import FailureType
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import ACCOUNT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import an_error_response, an_object_response
from unit_tests.mock_server.runner import read_stream

_STREAM = "account"


def test_the_account_details_object_is_one_record(http_mocker: HttpMocker) -> None:
    # Given: the details call, signed over the empty body of a GET
    http_mocker.get(
        ConvertRequestBuilder.account_get("details").build(),
        an_object_response(_STREAM, id=int(ACCOUNT_ID), name="Example Shop"),
    )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM)

    # Then
    assert [message.record.data["name"] for message in output.records] == ["Example Shop"]
    assert output.errors == []


def test_a_401_is_re_signed_once_and_a_second_401_is_a_config_error(http_mocker: HttpMocker) -> None:
    # Given: Convert refuses the request, then refuses it again when re-signed one second later
    details = ConvertRequestBuilder.account_get("details")
    http_mocker.get(details.attempt(1).build(), an_error_response(401, "Invalid signature"))
    http_mocker.get(details.attempt(2).build(), an_error_response(401, "Invalid signature"))

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM)

    # Then: exactly two attempts (the mocks allow one each), and a config error naming what to check
    assert output.records == []
    assert {error.trace.error.failure_type for error in output.errors} == {FailureType.config_error}
    assert "with authentication method 'request_signing'" in output.errors[0].trace.error.message
    assert "Check the Authentication Method, Key ID and Key Secret" in output.errors[0].trace.error.message


def test_a_401_followed_by_a_success_reads_the_record(http_mocker: HttpMocker) -> None:
    # Given: an expired signature (clock skew) once, then the re-signed request is accepted
    details = ConvertRequestBuilder.account_get("details")
    http_mocker.get(details.attempt(1).build(), an_error_response(401, "Expired signature"))
    http_mocker.get(details.attempt(2).build(), an_object_response(_STREAM))

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM)

    # Then
    assert len(output.records) == 1 and output.errors == []


def test_with_a_secret_key_the_request_carries_the_bearer_header(http_mocker: HttpMocker) -> None:
    # Given: the details call with the secret-key method's one header (no expiry, no signature)
    http_mocker.get(
        ConvertRequestBuilder.account_get("details").with_bearer().build(),
        an_object_response(_STREAM, id=int(ACCOUNT_ID), name="Example Shop"),
    )

    # When
    output = read_stream(ConfigBuilder().with_field("auth_method", "secret_key").build(), _STREAM)

    # Then
    assert [message.record.data["name"] for message in output.records] == ["Example Shop"]
    assert output.errors == []


def test_with_a_secret_key_a_401_is_a_config_error_at_once(http_mocker: HttpMocker) -> None:
    # Given: Convert refuses the Bearer header (sending the same header again could not help)
    http_mocker.get(ConvertRequestBuilder.account_get("details").with_bearer().build(), an_error_response(401, "Invalid API key"))

    # When
    output = read_stream(ConfigBuilder().with_field("auth_method", "secret_key").build(), _STREAM)

    # Then: one request (the mock allows one), a config error naming the method
    assert output.records == []
    assert {error.trace.error.failure_type for error in output.errors} == {FailureType.config_error}
    assert "with authentication method 'secret_key'" in output.errors[0].trace.error.message
    assert "HTTP 401: Invalid API key" in output.errors[0].trace.error.message
