"""Requests and answers of the per-experience streams (report_settings, experience_sections,
experience_change_history), for their mock-server modules.

The project's experience list these streams share (``experience_index``): every documented status,
sorted by id, no include. Per-experience calls go to ``.../experiences/{id}/<resource>``; the sections
GET carries ``include[]``/``expand[]`` in its query string, which is signed as sent (the URL with its
query, percent-encoded the way ``requests`` sends it).
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence
from urllib.parse import urlencode

from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest
from airbyte_cdk.test.mock_http.response_builder import FieldPath, RecordBuilder

from unit_tests.mock_server.config import ACCOUNT_ID, PROJECT_ID
from unit_tests.mock_server.request_builder import (
    FROZEN_NOW,
    SIGNATURE_TTL_SECONDS,
    EXPERIENCE_STATUSES,
    ConvertRequestBuilder,
    signing_headers,
)
from unit_tests.mock_server.response_builder import a_change_event, a_list_response, a_record

SECTION_OPTIONS = ["versions", "versions.changes"]


def experience_index(project: str = PROJECT_ID, page: int = 1) -> ConvertRequestBuilder:
    """The experience list the three streams share: every status, sorted by id."""
    return ConvertRequestBuilder.project_list("experiences", project=project).with_body(status=EXPERIENCE_STATUSES).page(page)


def an_indexed_experience(experience_id: int, status: str = "active", kind: str = "a/b") -> RecordBuilder:
    return (
        a_record("experiences")
        .with_id(experience_id)
        .with_field(FieldPath("status"), status)
        .with_field(FieldPath("type"), kind)
    )


def given_the_index(http_mocker: HttpMocker, experiences: Sequence[RecordBuilder], project: str = PROJECT_ID) -> None:
    http_mocker.post(experience_index(project).build(), a_list_response("experiences").with_records(experiences).build())


def given_the_newest_event(http_mocker: HttpMocker, timestamp: int, project: str = PROJECT_ID) -> None:
    http_mocker.post(
        ConvertRequestBuilder.newest_history_event(project).build(),
        a_list_response("change_history").with_records([a_change_event(9, timestamp, "goal", 1)]).build(),
    )


def given_the_experience_events(http_mocker: HttpMocker, events: Iterable[RecordBuilder], project: str = PROJECT_ID) -> None:
    """The project history of experiences since the saved cursor (a later sync)."""
    http_mocker.post(
        ConvertRequestBuilder.object_changes("experience", project).build(),
        a_list_response("change_history").with_records(list(events)).build(),
    )


def experience_call(experience_id: Any, resource: str, project: str = PROJECT_ID) -> ConvertRequestBuilder:
    """``.../projects/{project}/experiences/{id}/<resource>`` (a GET unless a body is added)."""
    return ConvertRequestBuilder(f"/accounts/{ACCOUNT_ID}/projects/{project}/experiences/{experience_id}/{resource}")


def experience_history(experience_id: Any, page: int = 1, project: str = PROJECT_ID) -> ConvertRequestBuilder:
    """The experience's own change history, newest first."""
    return experience_call(experience_id, "change-history", project).with_body(
        sort_by="timestamp", sort_direction="desc"
    ).page(page)


def sections_url(experience_id: Any, project: str = PROJECT_ID) -> str:
    query = urlencode([("include[]", option) for option in SECTION_OPTIONS] + [("expand[]", option) for option in SECTION_OPTIONS])
    return f"{experience_call(experience_id, 'sections', project).url}?{query}"


def sections_request(experience_id: Any, project: str = PROJECT_ID, attempt: int = 1, with_query: bool = True) -> HttpRequest:
    """The signed sections GET: the signature covers the URL with its query string (or, ``with_query``
    False, without it), and an empty body."""
    url = sections_url(experience_id, project)
    expires = str(FROZEN_NOW + SIGNATURE_TTL_SECONDS + attempt - 1)
    signed = url if with_query else url.split("?", 1)[0]
    return HttpRequest(url=url, headers=signing_headers(expires, signed, b""))


def experience_event(event_id: int, timestamp: int, history_object: str = "variation", object_id: Optional[int] = 700002) -> RecordBuilder:
    """An event of an experience's own history."""
    return a_change_event(event_id, timestamp, history_object, object_id, stream="experience_change_history")

