"""The retry policy: Retry-After parsing, exponential backoff with jitter, the CDK's real retry loop, and
the error handler's verdicts on Convert answers (using the error handler exactly as the manifest declares it)."""

from __future__ import annotations

import email.utils
import gc
import logging
import random
import threading
import types
import weakref
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

from source_convert.components import backoff as backoff_module
from source_convert.components.backoff import (
    CDK_ADDED_SLEEP_SECONDS,
    ConvertBackoffStrategy,
    ConvertErrorHandler,
    account_and_project,
    experience_of_call,
    retry_after_seconds,
)

MANIFEST = Path(__file__).resolve().parent.parent / "source_convert" / "manifest.yaml"
CONFIG = {"key_id": "kid", "key_secret": "s3cret", "account_id": "100001", "project_id": "200002",
          "auth_method": "request_signing"}
URL = "https://api.example.test/api/v2/accounts/100001/projects/200002/experiences"
BASE = "https://api.example.test/api/v2/accounts/100001"


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


def manifest_error_handler(name: str = "experiences", config=None) -> ConvertErrorHandler:
    definition = dict(yaml.safe_load(MANIFEST.read_text())["definitions"]["error_handler"])
    definition["$parameters"] = {"name": name}
    handler = ModelToComponentFactory().create_component(CustomErrorHandlerModel, definition, config or CONFIG)
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
        (response(404, b'{"code":404,"message":"Not found"}'), ResponseAction.FAIL),  # the experiences list
        (response(404, b'{"code":404,"message":"Not found"}', url=f"{URL}/300017/daily_report"), ResponseAction.IGNORE),
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


# --------------------------------------------------------------------------- 404 and 403: where it failed
@pytest.mark.parametrize(
    "path, experience",
    [
        ("/api/v2/accounts/1/projects/2/experiences/300017/aggregated_report", "300017"),
        ("/api/v2/accounts/1/projects/2/experiences/300017/daily_report", "300017"),
        ("/api/v2/accounts/1/projects/2/experiences/5/change-history", "5"),
        ("/api/v2/accounts/1/projects/2/experiences/5/report_settings", "5"),
        ("/api/v2/accounts/1/projects/2/experiences/5/sections/9/changes", "5"),
        ("/api/v2/accounts/1/projects/2/experiences/5/", None),  # nothing after the id
        ("/api/v2/accounts/1/projects/2/experiences/5", None),  # the experience itself
        ("/api/v2/accounts/1/projects/2/experiences", None),  # the list
        ("/api/v2/accounts/1/projects/2/experiences/bulk/update", None),  # not an id
        ("/api/v2/accounts/1/projects/2/goals/5/stats", None),
        ("/api/v2/accounts/1/projects/2/change-history", None),
        ("/api/v2/accounts/1/projects/2", None),
        ("/api/v2/accounts/1/details", None),
        ("", None),
    ],
)
def test_which_calls_are_about_one_experience(path, experience):
    assert experience_of_call(path) == experience


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/api/v2/accounts/100001/projects/200003/experiences/5/daily_report", ("100001", "200003")),
        ("/api/v2/accounts/100001/projects/200003/tags", ("100001", "200003")),
        ("/api/v2/accounts/100001/projects", ("100001", None)),  # the account's project list
        ("/api/v2/accounts/100001/details", ("100001", None)),
        ("/api/v2/something/else", (None, None)),
    ],
)
def test_the_account_and_project_of_a_path(path, expected):
    assert account_and_project(path) == expected


MULTI_PROJECT = {**CONFIG, "project_id": "200002, 200003"}


def test_a_404_for_one_experience_is_ignored_with_one_warning_per_experience(caplog):
    handler = manifest_error_handler("daily_reports", MULTI_PROJECT)
    body = b'{"code":404,"message":"Experience not found"}'
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        resolutions = [
            handler.interpret_response(response(404, body, url=f"{BASE}/projects/200003/experiences/300017/daily_report"))
            for _ in range(3)  # three goal/metric partitions of the same experience
        ] + [handler.interpret_response(response(404, body, url=f"{BASE}/projects/200003/experiences/300018/daily_report"))]
    assert {resolution.response_action for resolution in resolutions} == {ResponseAction.IGNORE}
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == [
        "Stream 'daily_reports': experience 300017 was not found (HTTP 404 for POST "
        "/api/v2/accounts/100001/projects/200003/experiences/300017/daily_report); it was probably deleted "
        "during the sync, its rows are skipped.",
        "Stream 'daily_reports': experience 300018 was not found (HTTP 404 for POST "
        "/api/v2/accounts/100001/projects/200003/experiences/300018/daily_report); it was probably deleted "
        "during the sync, its rows are skipped.",
    ]
    assert resolutions[0].error_message == warnings[0]  # what the CDK logs (at info) for each ignored answer


@pytest.mark.parametrize(
    "url, expected",
    [
        (f"{BASE}/projects/200003/experiences", "Convert answered HTTP 404: account 100001 / project 200003 was not found."),
        (f"{BASE}/projects/200003/experiences/5", "Convert answered HTTP 404: account 100001 / project 200003 was not found."),
        (f"{BASE}/projects/200003/change-history?x=1", "Convert answered HTTP 404: account 100001 / project 200003 was not found."),
        (f"{BASE}/projects", "Convert answered HTTP 404: account 100001 was not found."),
        (f"{BASE}/details", "Convert answered HTTP 404: account 100001 was not found."),
    ],
)
def test_any_other_404_is_a_config_error_naming_the_account_and_project_of_the_request(url, expected):
    resolution = manifest_error_handler("goals", MULTI_PROJECT).interpret_response(
        response(404, b'{"code":404,"message":"Not found"}', url=url)
    )
    assert resolution.response_action == ResponseAction.FAIL
    assert resolution.failure_type == FailureType.config_error
    assert resolution.error_message == f"{expected} Check the Account ID and Project ID."


@pytest.mark.parametrize(
    "url, named",
    [
        (f"{BASE}/projects/200003/experiences/5/daily_report", "account 100001 or project 200003"),
        (f"{BASE}/projects/200003/goals", "account 100001 or project 200003"),
        (f"{BASE}/users-accesses", "account 100001"),
    ],
)
def test_a_403_is_a_config_error_naming_the_account_and_project_of_the_request(url, named):
    resolution = manifest_error_handler("goals", {**CONFIG, "project_id": "*"}).interpret_response(
        response(403, b'{"code":403,"message":"Forbidden"}', url=url)
    )
    assert resolution.response_action == ResponseAction.FAIL and resolution.failure_type == FailureType.config_error
    assert resolution.error_message == (
        f"The API key has no access to {named} (HTTP 403). Check the Account ID and the key's project permissions."
    )
    assert "*" not in resolution.error_message and CONFIG["key_secret"] not in resolution.error_message


def test_an_ignored_404_goes_through_the_cdk_retry_loop_once_and_returns_the_answer(monkeypatch, caplog):
    client, adapter, sleeps = client_for(
        [scripted(404, b'{"code":404,"message":"Not found"}')] * 3, monkeypatch, manifest_error_handler("aggregated_reports")
    )
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        _, answer = client.send_request("POST", f"{URL}/300017/aggregated_report", request_kwargs={}, json={"utc_offset": 0})
    assert answer.status_code == 404 and not answer  # falsy: the retriever reads no records from it
    assert len(adapter.sent) == 1 and sleeps == []
    assert [r.getMessage() for r in caplog.records if "300017" in r.getMessage()] == [
        "Stream 'aggregated_reports': experience 300017 was not found (HTTP 404 for POST "
        "/api/v2/accounts/100001/projects/200002/experiences/300017/aggregated_report); it was probably deleted "
        "during the sync, its rows are skipped."
    ]


# --------------------------------------------------------------------------- thread safety
def test_the_first_401_of_each_request_is_retried_once_however_many_threads_share_the_handler():
    handler = manifest_error_handler()
    requests_sent = [requests.Request("POST", f"{URL}?n={n}").prepare() for n in range(32)]
    verdicts = {index: [] for index in range(len(requests_sent))}
    start = threading.Barrier(8)

    def worker(offset: int) -> None:
        start.wait()
        for index in range(offset, len(requests_sent), 2):  # every request is answered in four threads
            answer = response(401, b'{"code":401,"message":"Invalid signature"}')
            answer.request = requests_sent[index]
            verdicts[index].append(handler.interpret_response(answer).response_action)

    threads = [threading.Thread(target=worker, args=(n % 2,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for actions in verdicts.values():
        assert sorted(actions, key=str) == sorted([ResponseAction.RETRY] + [ResponseAction.FAIL] * 3, key=str)


def test_a_401_leaves_nothing_on_the_request_and_keeps_no_finished_request_alive():
    handler = manifest_error_handler()
    request = requests.Request("POST", URL).prepare()
    gc.collect()  # requests of earlier tests leave now, not in the middle of this count
    before, remembered = dict(vars(request)), len(backoff_module._REFUSED_ONCE)
    answer = response(401, b'{"code":401,"message":"Expired signature"}')
    answer.request = request
    assert handler.interpret_response(answer).response_action == ResponseAction.RETRY
    assert vars(request).keys() == before.keys()
    assert len(backoff_module._REFUSED_ONCE) == remembered + 1
    gone = weakref.ref(request)
    del request, answer
    gc.collect()
    assert gone() is None and len(backoff_module._REFUSED_ONCE) == remembered


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
        # The Convert policy, or its per-experience variant (same filters and backoff) that tells a path
        # Convert does not have from an experience deleted during the sync (components/experience_objects.py).
        assert handler["class_name"] in ("source_convert.components.ConvertErrorHandler",
                                         "source_convert.components.ExperienceCallErrorHandler")
        assert [s["class_name"] for s in handler["backoff_strategies"]] == [
            "source_convert.components.ConvertBackoffStrategy"
        ]
