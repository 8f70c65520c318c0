"""The retry policy: Retry-After parsing, exponential backoff with jitter, the CDK's real retry loop, and
the error handler's verdicts on Convert answers (using the error handler exactly as the manifest declares it)."""

from __future__ import annotations

import email.utils
import logging
import random
import types
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
import requests
import yaml

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.models.declarative_component_schema import CustomErrorHandler as CustomErrorHandlerModel
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.streams.http import rate_limiting
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.sources.streams.http.http_client import HttpClient
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components.backoff import (
    CDK_ADDED_SLEEP_SECONDS,
    ConvertBackoffStrategy,
    ConvertErrorHandler,
    retry_after_seconds,
)

MANIFEST = Path(__file__).resolve().parent.parent / "source_convert" / "manifest.yaml"
CONFIG = {"key_id": "kid", "key_secret": "s3cret", "account_id": "100001", "project_id": "200002"}
URL = "https://api.example.test/api/v2/accounts/100001/projects/200002/experiences"


class FixedRandom(random.Random):
    """``random()`` always returns ``value``."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:  # noqa: D401 - mirrors random.Random
        return self.value


def strategy(rng: Optional[random.Random] = None, **fields) -> ConvertBackoffStrategy:
    made = ConvertBackoffStrategy(config={}, parameters={}, **fields)
    if rng is not None:
        made.rng = rng
    return made


def response(status: int, body: bytes = b'{"data":[]}', headers=None, method: str = "POST", url: str = URL) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = body
    answer.headers.update({"Content-Type": "application/json", **(headers or {})})
    answer.request = requests.Request(method, url).prepare()
    answer.url = url
    answer.reason = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "")
    return answer


# --------------------------------------------------------------------------- Retry-After
@pytest.mark.parametrize(
    "value, expected",
    [("5", 5.0), ("0", 0.0), ("0.25", 0.25), (" 12 ", 12.0), ("-3", 0.0), ("", None), (None, None),
     ("soon", None), ("nan", None), ("inf", None)],
)
def test_retry_after_delta_seconds(value, expected):
    assert retry_after_seconds(value) == expected


def test_retry_after_http_date_is_relative_to_now():
    now = 1_800_000_000.0
    assert retry_after_seconds(email.utils.formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30)
    assert retry_after_seconds(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0


def test_retry_after_is_honoured_capped_and_only_spread_upwards():
    capped = strategy(max_retry_after_seconds=20, rng=FixedRandom(0.0))
    assert capped.wait_seconds(response(429, headers={"Retry-After": "7"}), 1) == 7
    assert capped.wait_seconds(response(429, headers={"Retry-After": "0"}), 5) == 0
    assert capped.wait_seconds(response(503, headers={"Retry-After": "3600"}), 1) == 20
    spread = strategy(retry_after_spread=0.1, rng=FixedRandom(0.999))
    assert 10 <= spread.wait_seconds(response(429, headers={"Retry-After": "10"}), 1) <= 11


# --------------------------------------------------------------------------- exponential backoff
def test_exponential_ceiling_doubles_up_to_the_cap():
    top = strategy(base_seconds=1, max_seconds=60, jitter=0.5, rng=FixedRandom(0.0))
    assert [top.wait_seconds(response(429), n) for n in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    bottom = strategy(base_seconds=1, max_seconds=60, jitter=0.5, rng=FixedRandom(1.0))
    assert [bottom.wait_seconds(response(503), n) for n in (1, 3, 9)] == [0.5, 2, 30]
    assert top.wait_seconds(response(503), 10_000) == 60  # no overflow on absurd attempt counts


def test_jitter_spreads_waits_and_applies_to_resets_and_timeouts():
    jittered = strategy(base_seconds=1, max_seconds=60, jitter=0.5, rng=random.Random(42))
    for failure in (response(429), requests.ConnectionError("reset"), requests.ReadTimeout("slow")):
        waits = [jittered.wait_seconds(failure, 3) for _ in range(200)]
        assert all(2 <= wait <= 4 for wait in waits)
        assert len(set(waits)) > 150
        assert max(waits) - min(waits) > 1.5


def test_no_jitter_when_jitter_is_zero():
    plain = strategy(base_seconds=0.5, max_seconds=4, jitter=0)
    assert [plain.wait_seconds(None, n) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 4, 4]


@pytest.mark.parametrize(
    "fields", [{"base_seconds": 0}, {"base_seconds": 5, "max_seconds": 1}, {"jitter": 1.5}, {"jitter": -0.1},
               {"base_seconds": "fast"}, {"max_retry_after_seconds": float("nan")}]
)
def test_invalid_settings_are_refused(fields):
    with pytest.raises(ValueError):
        strategy(**fields)


def test_backoff_time_is_never_falsy_and_offsets_the_cdk_extra_second():
    exact = strategy(rng=FixedRandom(0.0), retry_after_spread=0)
    for seconds in ("0", "1", "2.5"):
        value = exact.backoff_time(response(429, headers={"Retry-After": seconds}), 1)
        assert value  # a falsy value would make the CDK fall back to its own un-jittered backoff
        assert value + CDK_ADDED_SLEEP_SECONDS == pytest.approx(float(seconds))


# --------------------------------------------------------------------------- the CDK's real retry loop
class ScriptedAdapter(requests.adapters.BaseAdapter):
    """Answers requests from a script: a Response factory or an exception per call."""

    def __init__(self, script) -> None:
        super().__init__()
        self.script: Iterator = iter(script)
        self.sent: List[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        step = next(self.script)
        if isinstance(step, Exception):
            step.request = request
            raise step
        answer = step(request)
        answer.request = request
        return answer

    def close(self) -> None:
        pass


def scripted(status, body=b'{"data":[{"id":1}]}', headers=None):
    def make(request):
        return response(status, body, headers, method=request.method, url=request.url)

    return make


def manifest_error_handler(name: str = "experiences") -> ConvertErrorHandler:
    definition = dict(yaml.safe_load(MANIFEST.read_text())["definitions"]["error_handler"])
    definition["$parameters"] = {"name": name}
    handler = ModelToComponentFactory().create_component(CustomErrorHandlerModel, definition, CONFIG)
    assert isinstance(handler, ConvertErrorHandler)
    return handler


def client_for(script, monkeypatch, handler=None, strategy_fields=None):
    handler = handler or manifest_error_handler()
    if strategy_fields is not None:
        handler.backoff_strategies = [strategy(**strategy_fields)]
    sleeps: List[float] = []
    monkeypatch.setattr(rate_limiting, "time", types.SimpleNamespace(sleep=sleeps.append))
    session = requests.Session()
    adapter = ScriptedAdapter(script)
    session.mount("https://", adapter)
    client = HttpClient(
        name="experiences", logger=logging.getLogger("test_backoff"), error_handler=handler,
        backoff_strategy=handler.backoff_strategies, session=session,
    )
    return client, adapter, sleeps


def test_manifest_declares_the_strategy_and_a_bounded_budget():
    handler = manifest_error_handler()
    (backoff,) = handler.backoff_strategies
    assert isinstance(backoff, ConvertBackoffStrategy)
    assert 3 <= handler.max_retries <= 10
    assert backoff._base <= 2 and backoff._max <= 120 and 0 < backoff._jitter <= 1


def test_cdk_sleeps_exactly_the_computed_wait(monkeypatch):
    client, adapter, sleeps = client_for(
        [scripted(429, headers={"Retry-After": "0"}), scripted(429, headers={"Retry-After": "2"}),
         scripted(503), requests.ConnectionError("reset"), scripted(200)],
        monkeypatch, strategy_fields={"base_seconds": 0.2, "max_seconds": 10, "jitter": 0.5},
    )
    _, answer = client.send_request("POST", URL, request_kwargs={}, json={"page": 1})
    assert answer.status_code == 200 and len(adapter.sent) == 5
    assert sleeps[0] == pytest.approx(0, abs=1e-6)  # not the CDK's 1 s floor
    assert 2 <= sleeps[1] <= 2.2 + 1e-9
    assert 0.4 <= sleeps[2] <= 0.8 + 1e-9  # third failed attempt, no Retry-After: ceiling 0.2 * 2^2
    assert 0.8 <= sleeps[3] <= 1.6 + 1e-9  # a connection reset: ceiling 0.2 * 2^3
    assert len(sleeps) == 4


def test_retries_are_bounded_and_end_in_a_trace_naming_stream_request_and_status(monkeypatch):
    handler = manifest_error_handler()
    client, adapter, sleeps = client_for([scripted(503, headers={"Retry-After": "0"})] * 50, monkeypatch, handler)
    with pytest.raises(AirbyteTracedException) as raised:
        client.send_request("POST", URL, request_kwargs={}, json={"page": 1})
    assert len(adapter.sent) == handler.max_retries + 1
    message = raised.value.message
    assert "Stream 'experiences'" in message and "POST /api/v2/accounts/100001/projects/200002/experiences" in message
    assert "HTTP 503" in message


def test_a_401_is_retried_once_and_a_second_401_is_a_config_error(monkeypatch):
    client, adapter, _ = client_for([scripted(401, b'{"code":401,"message":"Invalid signature"}')] * 5, monkeypatch)
    with pytest.raises(AirbyteTracedException) as raised:
        client.send_request("POST", URL, request_kwargs={}, json={"page": 1})
    assert len(adapter.sent) == 2
    assert raised.value.failure_type == FailureType.config_error
    assert "Key ID" in raised.value.message and "Key Secret" in raised.value.message


def test_a_401_then_a_success_reads_the_answer(monkeypatch):
    client, adapter, _ = client_for(
        [scripted(401, b'{"code":401,"message":"Expired signature"}'), scripted(200)], monkeypatch
    )
    _, answer = client.send_request("POST", URL, request_kwargs={}, json={"page": 1})
    assert answer.status_code == 200 and len(adapter.sent) == 2


# --------------------------------------------------------------------------- verdicts on single answers
@pytest.mark.parametrize(
    "answer, action",
    [
        (response(200), ResponseAction.SUCCESS),
        (response(204, b""), ResponseAction.SUCCESS),
        (response(200, b"<html>502 Bad Gateway</html>", {"Content-Type": "text/html"}), ResponseAction.RETRY),
        (response(200, b""), ResponseAction.RETRY),
        (response(200, b'{"code":200,"message":"OK"}'), ResponseAction.RETRY),
        (response(200, b"[1, 2]"), ResponseAction.RETRY),
        (response(429, b'{"code":429,"message":"Too many requests"}'), ResponseAction.RATE_LIMITED),
        (response(500, b'{"code":500,"message":"Too Many Requests, slow down"}'), ResponseAction.RATE_LIMITED),
        (response(500, b'{"code":500,"message":"Internal server error"}'), ResponseAction.RETRY),
        (response(502, b"<html>bad gateway</html>", {"Content-Type": "text/html"}), ResponseAction.RETRY),
        (response(503), ResponseAction.RETRY),
        (response(504), ResponseAction.RETRY),
        (response(401, b'{"code":401,"message":"Expired signature"}'), ResponseAction.RETRY),
        (response(401, b'{"code":401,"message":"Invalid signature"}'), ResponseAction.RETRY),  # the first 401
        (response(403, b'{"code":403,"message":"Forbidden"}'), ResponseAction.FAIL),
        (response(404, b'{"code":404,"message":"Not found"}'), ResponseAction.FAIL),
        (response(422, b'{"code":422,"message":["bad include"]}'), ResponseAction.FAIL),
        (response(400, b'{"code":400,"message":"Bad request"}'), ResponseAction.FAIL),
    ],
)
def test_verdicts(answer, action):
    assert manifest_error_handler().interpret_response(answer).response_action == action


def test_malformed_success_message_names_stream_request_and_problem():
    resolution = manifest_error_handler("goals").interpret_response(
        response(200, b"<html>oops</html>", {"Content-Type": "text/html"})
    )
    assert resolution.response_action == ResponseAction.RETRY
    assert "Stream 'goals'" in resolution.error_message
    assert "POST /api/v2/accounts/100001/projects/200002/experiences" in resolution.error_message
    assert "not JSON" in resolution.error_message


def test_connection_errors_are_retried_and_named():
    request = requests.Request("POST", URL).prepare()
    for error in (requests.ConnectionError("reset", request=request), requests.ReadTimeout("slow", request=request)):
        resolution = manifest_error_handler().interpret_response(error)
        assert resolution.response_action == ResponseAction.RETRY
        assert "Stream 'experiences'" in resolution.error_message
        assert "POST /api/v2/accounts/100001/projects/200002/experiences" in resolution.error_message
        assert type(error).__name__ in resolution.error_message


def test_config_failures_keep_their_own_message():
    resolution = manifest_error_handler().interpret_response(response(403, b'{"code":403,"message":"Forbidden"}'))
    assert resolution.failure_type == FailureType.config_error
    assert resolution.error_message.startswith("The API key has no access to account 100001")


def _requesters(node):
    if isinstance(node, dict):
        if node.get("type") == "HttpRequester":
            yield node
        for value in node.values():
            yield from _requesters(value)
    elif isinstance(node, list):
        for value in node:
            yield from _requesters(value)


def test_every_requester_has_timeouts_and_the_convert_retry_policy():
    from source_convert.source import SourceConvert

    requesters = list(_requesters(SourceConvert(config=CONFIG).resolved_manifest))
    assert len(requesters) >= 15
    for requester in requesters:
        assert 0 < requester["connect_timeout_in_seconds"] <= 60
        assert 0 < requester["read_timeout_in_seconds"] <= 300
        handler = requester["error_handler"]
        assert handler["class_name"] == "source_convert.components.ConvertErrorHandler"
        assert [s["class_name"] for s in handler["backoff_strategies"]] == [
            "source_convert.components.ConvertBackoffStrategy"
        ]
