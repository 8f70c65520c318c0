"""Fixtures for mock-server tests: a frozen signing clock, instant retries and a strict HTTP mock."""

from __future__ import annotations

import types
from typing import Iterator, List

import pytest
import requests_mock.response

from airbyte_cdk.sources.streams.http import rate_limiting
from airbyte_cdk.test.mock_http import HttpMocker

from source_convert.components import authenticator
from unit_tests.mock_server.request_builder import FROZEN_NOW


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> int:
    """Freeze the clock the authenticator reads for ``Expires``, so every signature is known in advance."""
    monkeypatch.setattr(authenticator, "now", lambda: float(FROZEN_NOW))
    return FROZEN_NOW


@pytest.fixture(autouse=True)
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> List[float]:
    """The seconds the CDK's retry loop would sleep, recorded instead of slept (the loop itself runs as is)."""
    sleeps: List[float] = []
    monkeypatch.setattr(rate_limiting, "time", types.SimpleNamespace(sleep=sleeps.append))
    return sleeps


@pytest.fixture(autouse=True)
def responses_answer_the_request_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """As with a real transport, ``response.request`` is the ``PreparedRequest`` that was sent (requests_mock
    gives a fresh proxy of it instead); the error handler remembers that request to retry a 401 only once."""
    create_response = requests_mock.response.create_response

    def answering_the_request_sent(request, **kwargs):
        response = create_response(request, **kwargs)
        response.request = getattr(request, "_request", request)
        return response

    monkeypatch.setattr(requests_mock.response, "create_response", answering_the_request_sent)


@pytest.fixture
def http_mocker() -> Iterator[HttpMocker]:
    """``HttpMocker`` that fails the test unless every mocked request was called exactly as many times
    as it has responses (as its decorator form does), and if any request matched no mock: the
    connector reports that only as a stream error, which a test could otherwise overlook."""
    with HttpMocker() as mocker:
        yield mocker
        history = mocker._mocker.request_history  # requests_mock's log of every request sent
    unmatched = [request for request in history if request.matcher is None]
    if unmatched:
        pytest.fail("Requests no mock matched:\n" + "\n".join(_describe(request) for request in unmatched))
    mocker._validate_all_matchers_called()


def _describe(request) -> str:
    headers = {name: request.headers.get(name) for name in ("Expires", "Authorization")}
    return f"  {request.method} {request.url} {headers} body={request.body!r}"
