"""``project_id: "*"``: a read resolves the account's projects list once (one request, however many streams)
and reads every project it lists. The command line's check before a read settles the projects with the
same request, so a read after it asks for the list no more; a listed project the account lacks stops
the read there, with one message."""

import logging

import pytest

from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert import source as source_module
from source_convert.source import SourceConvert
from unit_tests.mock_server.config import ACCOUNT_ID, OTHER_PROJECT_ID, PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_change_event, a_list_response, an_error_response, records_with_ids
from unit_tests.mock_server.runner import read_stream, read_streams
from unit_tests.mock_server.states import history_cursors, stream_state

A, B = PROJECT_ID, OTHER_PROJECT_ID
NEWEST = {A: 1_766_500_000, B: 1_766_400_000}


def the_account_lists(http_mocker: HttpMocker, *projects: str) -> HttpRequest:
    request = ConvertRequestBuilder.projects().build()
    http_mocker.post(request, a_list_response("projects").with_records(records_with_ids("projects", map(int, projects))).build())
    return request


def given_each_project_s_tags(http_mocker: HttpMocker, *projects: str) -> None:
    for project in projects:
        http_mocker.post(
            ConvertRequestBuilder.project_list("tags", sort_by=None, project=project).build(),
            a_list_response("tags").with_records(records_with_ids("tags", [7])).build(),
        )


def given_each_project_s_goals_and_tags(http_mocker: HttpMocker, *projects: str) -> None:
    given_each_project_s_tags(http_mocker, *projects)
    for project in projects:
        http_mocker.post(
            ConvertRequestBuilder.newest_history_event(project).build(),
            a_list_response("change_history").with_records([a_change_event(9, NEWEST[project], "goal", 1)]).build(),
        )
        http_mocker.post(
            ConvertRequestBuilder.project_list("goals", project=project).with_partition(status=["active", "archived"]).build(),
            a_list_response("goals").with_records(records_with_ids("goals", [1])).build(),
        )


def read_by_stream(output):
    found = {}
    for message in output.records:
        found.setdefault(message.record.stream, set()).add((message.record.data["project_id"], message.record.data["id"]))
    return found


def test_every_project_is_resolved_once_and_each_listed_project_is_read(http_mocker: HttpMocker) -> None:
    # Given: the account has two projects
    projects = the_account_lists(http_mocker, A, B)
    given_each_project_s_goals_and_tags(http_mocker, A, B)

    # When: two streams in one sync
    output = read_streams(ConfigBuilder().with_projects("*").build(), ["goals", "tags"], SyncMode.incremental)

    # Then
    http_mocker.assert_number_of_calls(projects, 1)
    assert output.errors == []
    assert read_by_stream(output) == {"goals": {(int(A), 1), (int(B), 1)}, "tags": {(int(A), 7), (int(B), 7)}}
    assert stream_state(output, "goals")["parent_state"] == history_cursors(NEWEST)


def test_a_refused_projects_list_fails_a_read_of_every_project_before_any_stream_request(http_mocker: HttpMocker) -> None:
    # Given: the key may not list the account's projects (no project request is mocked)
    http_mocker.post(ConvertRequestBuilder.projects().build(), an_error_response(403, "Forbidden"))

    # When
    output = read_stream(ConfigBuilder().with_projects("*").build(), "tags")

    # Then
    assert output.records == []
    assert {error.trace.error.failure_type for error in output.errors} == {FailureType.config_error}
    assert output.errors[0].trace.error.message == (
        f"The API key has no access to account {ACCOUNT_ID} (HTTP 403). Check the Account ID and the key's project permissions."
    )


@pytest.fixture
def reachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API host answers (``ensure_usable`` opens a TCP connection to it first; see test_reachability.py)."""
    monkeypatch.setattr(source_module, "wait_until_reachable", lambda base_url, logger: None)


def test_the_check_before_a_read_and_the_read_share_one_projects_list_request(http_mocker: HttpMocker, reachable) -> None:
    # Given: what the command line does for `read`: build the source, ensure_usable, then the CDK's read
    projects = the_account_lists(http_mocker, A, B)
    given_each_project_s_tags(http_mocker, A, B)
    config = ConfigBuilder().with_projects("*").build()
    catalog = CatalogBuilder().with_stream("tags", SyncMode.full_refresh).build()
    source = SourceConvert(catalog, config, None)

    # When
    source.ensure_usable(logging.getLogger("airbyte"), "read")
    output = read(source, config, catalog)

    # Then
    http_mocker.assert_number_of_calls(projects, 1)
    assert read_by_stream(output) == {"tags": {(int(A), 7), (int(B), 7)}}


def test_before_a_read_a_listed_project_the_account_lacks_stops_it_with_one_message(http_mocker: HttpMocker, reachable) -> None:
    # Given
    the_account_lists(http_mocker, A)
    source = SourceConvert(None, ConfigBuilder().with_projects(f"{A}, {B}").build(), None)

    # When
    with pytest.raises(AirbyteTracedException) as raised:
        source.ensure_usable(logging.getLogger("airbyte"), "read")

    # Then
    assert raised.value.failure_type == FailureType.config_error
    assert raised.value.message.startswith(f"Project {B} is not among the projects of account {ACCOUNT_ID}")
