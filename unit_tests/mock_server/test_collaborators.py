"""collaborators: one signed GET of the account's users-accesses (not paged); keyed by email."""

from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.test.mock_http.response_builder import FieldPath

from unit_tests.mock_server.config import ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_list_response, a_record
from unit_tests.mock_server.runner import read_stream

_STREAM = "collaborators"


def collaborator(email: str):
    return a_record(_STREAM, id_field="email").with_id(email)


def test_every_access_is_a_record_including_pending_invitations(http_mocker: HttpMocker) -> None:
    # Given: an active collaborator and a pending invitation (no user id yet), no pagination block
    pending = collaborator("new@example.com").with_field(FieldPath("user_id"), None)
    http_mocker.get(
        ConvertRequestBuilder.account_get("users-accesses").build(),
        a_list_response(_STREAM).with_records([collaborator("ada@example.com"), pending]).build(),
    )

    # When
    output = read_stream(ConfigBuilder().build(), _STREAM)

    # Then
    assert [(m.record.data["email"], m.record.data.get("user_id")) for m in output.records] == [
        ("ada@example.com", 501),
        ("new@example.com", None),
    ]
    assert output.errors == []
