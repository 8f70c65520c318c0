"""The HMAC authenticator signs the final prepared request, afresh on every call."""

import hashlib
import hmac

import requests

from source_convert.components import authenticator as auth_module
from source_convert.components.authenticator import ConvertHmacAuthenticator
from source_convert.components.pacing import RequestBudget

CONFIG = {"key_id": "kid-1", "key_secret": "s3cr3t-value-xyz", "requests_per_minute": ""}
URL = "http://127.0.0.1:9/api/v2/accounts/1/projects/2/goals"


def make_authenticator(**overrides):
    fields = {
        "config": CONFIG,
        "parameters": {},
        "key_id": "{{ config['key_id'] }}",
        "key_secret": "{{ config['key_secret'] }}",
    }
    fields.update(overrides)
    return ConvertHmacAuthenticator(**fields)


def prepared(json_body=None):
    return requests.Request("POST" if json_body is not None else "GET", URL, json=json_body).prepare()


def expected_signature(expires, url, body):
    message = "\n".join(["kid-1", expires, url, body]).encode()
    return hmac.new(b"s3cr3t-value-xyz", message, hashlib.sha256).hexdigest()


def test_post_body_is_sent_compact_and_signed_as_sent(monkeypatch):
    monkeypatch.setattr(auth_module, "now", lambda: 1_000_000.0)
    request = make_authenticator()(prepared({"page": 2, "search": "é/ü"}))
    assert request.body == '{"page":2,"search":"é/ü"}'.encode()
    assert request.headers["Content-Length"] == str(len(request.body))
    assert request.headers["Expires"] == "1000300"
    assert request.headers["Convert-Application-ID"] == "kid-1"
    signature = expected_signature("1000300", URL, request.body.decode())
    assert request.headers["Authorization"] == f"Convert-HMAC-SHA256 Signature={signature}"


def test_get_signs_empty_body_and_full_url_with_query():
    request = requests.Request("GET", URL, params={"include[]": ["stats"]}).prepare()
    request = make_authenticator()(request)
    assert request.url.endswith("?include%5B%5D=stats")
    signature = expected_signature(request.headers["Expires"], request.url, "")
    assert request.headers["Authorization"].endswith(signature)


def test_every_call_gets_a_fresh_expires(monkeypatch):
    clock = iter([1_000_000.0, 1_000_090.0])
    monkeypatch.setattr(auth_module, "now", lambda: next(clock))
    authenticator = make_authenticator()
    request = authenticator(prepared({"page": 1}))
    first = (request.headers["Expires"], request.headers["Authorization"])
    request = authenticator(request)  # what the CDK does before a retry
    assert request.headers["Expires"] == "1000390"
    assert (request.headers["Expires"], request.headers["Authorization"]) != first
    assert request.body == b'{"page":1}'


def test_secret_is_not_in_repr_or_headers():
    authenticator = make_authenticator()
    request = authenticator(prepared({"page": 1}))
    assert "s3cr3t" not in repr(authenticator)
    assert all("s3cr3t" not in str(value) for value in request.headers.values())


def test_budget_is_waited_on_before_signing(monkeypatch):
    now = [0.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    budget = RequestBudget(2, clock=lambda: now[0], sleep=sleep)
    monkeypatch.setattr(auth_module, "shared_budget", lambda key_id, rate: budget)
    monkeypatch.setattr(auth_module, "now", lambda: 5_000_000.0 + now[0])
    authenticator = make_authenticator(requests_per_minute="2")
    authenticator(prepared({"page": 1}))
    authenticator(prepared({"page": 2}))
    request = authenticator(prepared({"page": 3}))
    assert sum(waits) >= 60.0
    # signed after the wait: Expires counts from the moment the request may start
    assert int(request.headers["Expires"]) >= 5_000_000 + 60 + 300


def test_budget_allows_per_minute_starts_in_any_window():
    now = [0.0]
    budget = RequestBudget(3, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    starts = []
    for _ in range(7):
        budget.acquire()
        starts.append(now[0])
    for i in range(len(starts) - 3):
        assert starts[i + 3] - starts[i] >= 60.0


def test_a_re_sign_in_the_same_second_still_gets_a_new_expires(monkeypatch):
    monkeypatch.setattr(auth_module, "now", lambda: 2_000_000.0)
    authenticator = make_authenticator()
    request = authenticator(prepared({"page": 1}))
    first = request.headers["Authorization"]
    request = authenticator(request)
    assert request.headers["Expires"] == "2000301"
    assert request.headers["Authorization"] != first
