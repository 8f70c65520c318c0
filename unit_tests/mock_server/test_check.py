"""check: one signed read of the account's projects list proves the key and the account and names every
configured project the account lacks; with ``*`` it proves the account. If the key may not list the
account's projects (a config error) and the projects are listed explicitly, each is probed with the
first page of its tags instead. A failure is said as a plain reason."""

from airbyte_cdk.models import Status
from airbyte_cdk.test.mock_http import HttpMocker

from unit_tests.mock_server.config import ACCOUNT_ID, OTHER_PROJECT_ID, PROJECT_ID, ConfigBuilder
from unit_tests.mock_server.request_builder import ConvertRequestBuilder
from unit_tests.mock_server.response_builder import a_list_response, an_error_response, records_with_ids
from unit_tests.mock_server.runner import check


def the_account_lists(http_mocker: HttpMocker, *projects: str):
    """The projects list answers ``projects`` (one page); returns the request, to count its calls."""
    request = ConvertRequestBuilder.projects().build()
    http_mocker.post(request, a_list_response("projects").with_records(records_with_ids("projects", map(int, projects))).build())
    return request


def tags_probe(project: str):
    return ConvertRequestBuilder.project_list("tags", sort_by=None, project=project).build()


def status_of(output):
    (message,) = output.connection_status_messages
    return message.connectionStatus


def test_a_project_the_account_lists_passes_with_one_request(http_mocker: HttpMocker) -> None:
    # Given
    projects = the_account_lists(http_mocker, PROJECT_ID, OTHER_PROJECT_ID)

    # When
    output = check(ConfigBuilder().build())

    # Then
    assert status_of(output).status == Status.SUCCEEDED
    http_mocker.assert_number_of_calls(projects, 1)


def test_a_listed_project_the_account_lacks_fails_naming_it(http_mocker: HttpMocker) -> None:
    # Given: 200003 is configured but the account (as the key sees it) has only 200002 and 200009
    the_account_lists(http_mocker, PROJECT_ID, "200009")

    # When
    output = check(ConfigBuilder().with_projects(f"{PROJECT_ID}, {OTHER_PROJECT_ID}").build())

    # Then: the missing project by name, with the projects the key can see; no project request is made
    status = status_of(output)
    assert status.status == Status.FAILED
    assert status.message == (
        f"Project {OTHER_PROJECT_ID} is not among the projects of account {ACCOUNT_ID} that this API key can see "
        f"({PROJECT_ID}, 200009). Check the Project ID and the key's project permissions."
    )


def test_every_missing_project_is_named_at_once(http_mocker: HttpMocker) -> None:
    # Given
    the_account_lists(http_mocker, "200009")

    # When
    output = check(ConfigBuilder().with_projects(f"{PROJECT_ID}, {OTHER_PROJECT_ID}").build())

    # Then
    assert status_of(output).message.startswith(f"Projects {PROJECT_ID}, {OTHER_PROJECT_ID} are not among the projects of account")


def test_every_project_proves_the_account_with_one_projects_list_request(http_mocker: HttpMocker) -> None:
    # Given
    projects = the_account_lists(http_mocker, PROJECT_ID, OTHER_PROJECT_ID)

    # When
    output = check(ConfigBuilder().with_projects("*").build())

    # Then: no request of any project (none is mocked)
    assert status_of(output).status == Status.SUCCEEDED
    http_mocker.assert_number_of_calls(projects, 1)
    assert output.is_in_logs(f"projects {PROJECT_ID}, {OTHER_PROJECT_ID}")


def test_every_project_of_an_account_without_projects_fails(http_mocker: HttpMocker) -> None:
    # Given
    the_account_lists(http_mocker)

    # When
    output = check(ConfigBuilder().with_projects("*").build())

    # Then
    status = status_of(output)
    assert status.status == Status.FAILED
    assert f"Account {ACCOUNT_ID} has no project that this API key can see, so '*' selects nothing." in status.message


def test_a_refused_projects_list_falls_back_to_one_probe_per_listed_project(http_mocker: HttpMocker) -> None:
    # Given: the key may not list the account's projects, but may read both configured projects
    http_mocker.post(ConvertRequestBuilder.projects().build(), an_error_response(403, "Forbidden"))
    probes = [tags_probe(project) for project in (PROJECT_ID, OTHER_PROJECT_ID)]
    for probe in probes:
        http_mocker.post(probe, a_list_response("tags").with_records(records_with_ids("tags", [1])).build())

    # When
    output = check(ConfigBuilder().with_projects(f"{PROJECT_ID}, {OTHER_PROJECT_ID}").build())

    # Then: one request each, and the log says why
    assert status_of(output).status == Status.SUCCEEDED
    for probe in probes:
        http_mocker.assert_number_of_calls(probe, 1)
    assert output.is_in_logs("Convert refused the account's projects list")


def test_a_probe_that_fails_fails_the_check_naming_its_project(http_mocker: HttpMocker) -> None:
    # Given: the projects list is refused, the first project answers, the second does not exist
    http_mocker.post(ConvertRequestBuilder.projects().build(), an_error_response(403, "Forbidden"))
    http_mocker.post(tags_probe(PROJECT_ID), a_list_response("tags").with_records(records_with_ids("tags", [1])).build())
    http_mocker.post(tags_probe(OTHER_PROJECT_ID), an_error_response(404, "Not found"))

    # When
    output = check(ConfigBuilder().with_projects(f"{PROJECT_ID}, {OTHER_PROJECT_ID}").build())

    # Then: the message is the error handler's text for the failed project, not the repr of an exception
    status = status_of(output)
    assert status.status == Status.FAILED
    assert status.message == (
        f"Convert answered HTTP 404: account {ACCOUNT_ID} / project {OTHER_PROJECT_ID} was not found. "
        "Check the Account ID and Project ID."
    )


def test_a_refusal_with_every_project_fails_the_check_with_the_reason_itself(http_mocker: HttpMocker) -> None:
    # Given: no such account (the verdicts for 401 and 403 are the error handler's, in test_backoff.py); with
    # "*" there is no project to probe
    http_mocker.post(ConvertRequestBuilder.projects().build(), an_error_response(404, "Not found"))

    # When
    output = check(ConfigBuilder().with_projects("*").build())

    # Then
    status = status_of(output)
    assert status.status == Status.FAILED
    assert status.message == f"Convert answered HTTP 404: account {ACCOUNT_ID} was not found. Check the Account ID and Project ID."
    assert not status.message.startswith(("'", '"'))
