"""The authenticator signs the final prepared request, afresh on every call (request signing), or sets
the Bearer header (secret key).

Expected signatures are computed here with ``hmac`` over the documented sign string, not with the
connector's signing module.
"""

import hashlib
import hmac
import json
import logging

import threading
import time

import pytest
import requests

from source_convert.components import authenticator as auth_module
from source_convert.components import signed_url
from source_convert.components.authenticator import ConvertAuthenticator, shared_budget
from source_convert.components.pacing import RequestBudget

CONFIG = {"key_id": "kid-1", "key_secret": "s3cr3t-value-xyz", "requests_per_minute": ""}
URL = "http://127.0.0.1:9/api/v2/accounts/1/projects/2/goals"
NOW = 1_000_000.0


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(auth_module, "now", lambda: NOW)


@pytest.fixture(autouse=True)
def fresh_reading():
    signed_url.reset()  # each test is a sync of its own
    yield
    signed_url.reset()


def make_authenticator(**overrides):
    fields = {
        "config": CONFIG,
        "parameters": {},
        "key_id": "{{ config['key_id'] }}",
        "key_secret": "{{ config['key_secret'] }}",
    }
    fields.update(overrides)
    return ConvertAuthenticator(**fields)


def prepared(json_body=None):
    return requests.Request("POST" if json_body is not None else "GET", URL, json=json_body).prepare()


def expected_authorization(expires: str, url: str, body: str) -> str:
    message = "\n".join(["kid-1", expires, url, body]).encode()
    return "Convert-HMAC-SHA256 Signature=" + hmac.new(b"s3cr3t-value-xyz", message, hashlib.sha256).hexdigest()


def test_post_body_is_sent_compact_and_signed_as_sent():
    request = make_authenticator()(prepared({"page": 2, "search": "é/ü"}))
    assert request.body == '{"page":2,"search":"é/ü"}'.encode()
    assert request.headers["Content-Length"] == str(len(request.body))
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Convert-Application-ID"] == "kid-1"
    assert request.headers["Expires"] == request.headers["Expire"] == "1000300"  # the contract names it both ways
    assert request.headers["Authorization"] == expected_authorization("1000300", URL, request.body.decode())


def test_the_ttl_comes_from_the_component_definition():
    request = make_authenticator(expires_in_seconds="{{ 60 * 2 }}")(prepared({"page": 1}))
    assert request.headers["Expires"] == "1000120"


def test_a_get_signs_the_empty_body_and_the_url_as_sent_with_its_query():
    request = requests.Request("GET", URL, params={"include[]": ["stats"]}).prepare()
    request = make_authenticator()(request)
    assert request.url == URL + "?include%5B%5D=stats"
    assert request.body is None
    assert request.headers["Authorization"] == expected_authorization("1000300", request.url, "")


def test_every_call_gets_a_fresh_expires(monkeypatch):
    clock = iter([NOW, NOW + 90])
    monkeypatch.setattr(auth_module, "now", lambda: next(clock))
    authenticator = make_authenticator()
    request = authenticator(prepared({"page": 1}))
    request = authenticator(request)  # what the CDK does before a retry
    assert request.headers["Expires"] == "1000390"
    assert request.headers["Authorization"] == expected_authorization("1000390", URL, '{"page":1}')
    assert request.body == b'{"page":1}'


def test_a_re_sign_in_the_same_second_still_gets_a_later_expires():
    authenticator = make_authenticator()
    request = authenticator(prepared({"page": 1}))
    request = authenticator(request)
    assert request.headers["Expires"] == "1000301"
    assert request.headers["Authorization"] == expected_authorization("1000301", URL, '{"page":1}')


def test_the_secret_is_in_no_header_and_not_in_repr():
    authenticator = make_authenticator()
    request = authenticator(prepared({"page": 1}))
    assert "s3cr3t" not in repr(authenticator)
    assert all("s3cr3t" not in str(value) for value in request.headers.values())
    assert authenticator.token == "" and authenticator.get_auth_header() == {}


def test_the_budget_is_waited_on_before_signing(monkeypatch):
    elapsed = [0.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        elapsed[0] += seconds

    budget = RequestBudget(2, clock=lambda: elapsed[0], sleep=sleep)
    monkeypatch.setattr(auth_module, "shared_budget", lambda key_id, rate: budget)
    monkeypatch.setattr(auth_module, "now", lambda: NOW + elapsed[0])
    authenticator = make_authenticator(requests_per_minute="2")
    authenticator(prepared({"page": 1}))
    authenticator(prepared({"page": 2}))
    request = authenticator(prepared({"page": 3}))
    assert waits and sum(waits) >= 60.0
    # signed after the wait: Expires counts from the moment the request may start
    assert int(request.headers["Expires"]) >= NOW + 60 + 300


def test_without_a_rate_no_budget_is_consulted(monkeypatch):
    def no_budget(key_id, rate):
        raise AssertionError("no budget was configured")

    monkeypatch.setattr(auth_module, "shared_budget", no_budget)
    for blank in ("", None, "{{ config.get('requests_per_minute') or '' }}"):
        make_authenticator(requests_per_minute=blank)(prepared({"page": 1}))


def test_streams_signing_with_one_key_share_one_budget_per_rate():
    assert shared_budget("key-a", 30) is shared_budget("key-a", 30)
    assert shared_budget("key-a", 30) is not shared_budget("key-b", 30)
    assert shared_budget("key-a", 30) is not shared_budget("key-a", 60)


def test_secret_key_sends_one_bearer_header_without_expiry_or_signature():
    request = make_authenticator(auth_method="secret_key")(prepared({"page": 1}))
    assert request.headers["Authorization"] == "Bearer kid-1:s3cr3t-value-xyz"
    assert request.headers["Authorization"].encode("latin-1") == b"Bearer kid-1:s3cr3t-value-xyz"  # what goes out
    assert not {"Expires", "Expire", "Convert-Application-ID"} & set(request.headers)
    assert request.body == b'{"page":1}'


def test_the_bearer_header_never_prints_its_secret(caplog):
    authenticator = make_authenticator(auth_method="secret_key")
    request = authenticator(prepared({"page": 1}))
    header = request.headers["Authorization"]
    shown = [repr(header), str(header), f"{header}", "%s" % header, "{}".format(header), str(request.headers),
             repr(dict(request.headers)), repr(authenticator), str(list(request.headers.items()))]
    assert all("s3cr3t" not in text for text in shown), shown
    assert all("Bearer kid-1:****" in text for text in shown[:7] + shown[8:]), shown
    with caplog.at_level(logging.DEBUG):  # as the CDK logs a request before sending it
        logging.getLogger("airbyte").debug("Making outbound API request", extra={"headers": request.headers})
    assert "s3cr3t" not in caplog.text and all("s3cr3t" not in str(vars(record)) for record in caplog.records)


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="auth_method"):
        make_authenticator(auth_method="oauth")


def test_the_method_comes_from_the_component_definition():
    assert make_authenticator(auth_method="{{ config['method'] }}", config={**CONFIG, "method": "secret_key"}).method == "secret_key"
    assert make_authenticator(auth_method="{{ config['method'] }}").method == "request_signing"  # no config value


def test_a_query_string_request_refused_once_is_signed_without_its_query_string_and_that_is_kept():
    authenticator = make_authenticator()
    url = URL + "?include%5B%5D=versions"
    first = authenticator(requests.Request("GET", url).prepare())
    assert first.headers["Authorization"] == expected_authorization("1000300", url, "")
    reading = signed_url.reading()
    reading.answered(first, 401)
    assert reading.refused(first)  # the error handler's first 401: retried without the query string
    first = authenticator(first)
    assert first.url == url and first.headers["Authorization"] == expected_authorization("1000301", URL, "")
    reading.answered(first, 200)
    assert reading.kept == signed_url.WITHOUT_QUERY
    later = authenticator(requests.Request("GET", url.replace("versions", "stats")).prepare())
    assert later.headers["Authorization"] == expected_authorization("1000300", URL, "")
    assert not reading.refused(later)  # settled: a 401 now is re-signed the same way


def test_an_accepted_query_string_signature_keeps_the_url_as_sent():
    authenticator = make_authenticator()
    url = URL + "?include%5B%5D=versions"
    first = authenticator(requests.Request("GET", url).prepare())
    signed_url.reading().answered(first, 200)
    assert signed_url.reading().kept == signed_url.WITH_QUERY
    later = authenticator(requests.Request("GET", url).prepare())
    assert not signed_url.reading().refused(later)
    assert authenticator(later).headers["Authorization"] == expected_authorization("1000301", url, "")


def test_while_unsettled_the_other_query_string_requests_wait_for_the_first_answer():
    authenticator = make_authenticator()
    url = URL + "?include%5B%5D=versions"
    probe = authenticator(requests.Request("GET", url).prepare())
    signed: list = []

    def sign_another(index: int) -> None:
        request = authenticator(requests.Request("GET", f"{url}&n={index}").prepare())
        signed.append(request.headers["Authorization"] == expected_authorization("1000300", f"{URL}", ""))

    threads = [threading.Thread(target=sign_another, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # they reach the reading before it is settled (a late one would only make this pass vacuously)
    assert signed == []  # none went out while the probe had no answer
    signed_url.reading().answered(probe, 401)
    signed_url.reading().refused(probe)
    authenticator(probe)
    signed_url.reading().answered(probe, 200)  # the probe's retry without the query string was accepted
    for thread in threads:
        thread.join(timeout=30)
    assert signed == [True] * 6, "every waiting request was signed without its query string, none with it"
