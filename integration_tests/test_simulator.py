"""Tests of the Convert API simulator itself, over real HTTP (no connector code involved)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from simulator import DAY, ConvertSimulator, Dataset, Fault
from simulator.signing import (
    BEARER_NOT_ALLOWED,
    INVALID_KEY,
    SIGNATURE_NOT_ALLOWED,
    compute_signature,
    verify_request,
)
from simulator import render
from simulator import reports

ACC = "/accounts/100001"
PRJ = ACC + "/projects/200002"
REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- local signing client
def sign(key_id: str, secret: str, expires: str, url: str, body: str) -> str:
    msg = "\n".join([key_id, expires, url, body]).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).hexdigest()


def call(sim, method, path, body=None, query="", *, secret=None, key_id=None, expires_in=60, raw_body=None,
         sign_url=None, session=None, headers=None):
    """Send a request signed like a correct Convert client would (knobs allow breaking it on purpose)."""
    prepared = requests.Request(method, sim.base_url + path + (f"?{query}" if query else "")).prepare()
    url = prepared.url  # sign exactly what goes on the wire (requests percent-encodes [] in queries)
    text = raw_body if raw_body is not None else (
        "" if body is None else json.dumps(body, separators=(",", ":"), ensure_ascii=False))
    expires = str(int(time.time()) + expires_in)
    kid = key_id or sim.key_id
    signature = sign(kid, secret or sim.key_secret, expires, sign_url or url, text)
    hdrs = {"Convert-Application-ID": kid, "Expires": expires,
            "Authorization": f"Convert-HMAC-SHA256 Signature={signature}", "Content-Type": "application/json"}
    hdrs.update(headers or {})
    return (session or requests).request(method, url, data=text.encode("utf-8") if text else None, headers=hdrs,
                                         timeout=10)


def event_identity(event):
    """A history event has no id: two answers are the same event when every field is the same."""
    return json.dumps(event, sort_keys=True)


def page_all(sim, path, body, per_page=50):
    """All records across pages plus the first page's pagination block."""
    ids, first_extra, page = [], None, 1
    while True:
        r = call(sim, "POST", path, dict(body, page=page, results_per_page=per_page))
        assert r.status_code == 200, r.text
        payload = r.json()
        first_extra = first_extra or payload["extra"]
        ids += [rec["id"] if "id" in rec else event_identity(rec) for rec in payload["data"]]
        if len(payload["data"]) < per_page:
            return ids, first_extra, page
        page += 1


def records_all(sim, path, body, per_page=50):
    """All records (not just ids) across pages."""
    out, page = [], 1
    while True:
        r = call(sim, "POST", path, dict(body, page=page, results_per_page=per_page))
        assert r.status_code == 200, r.text
        out += r.json()["data"]
        if len(r.json()["data"]) < per_page:
            return out
        page += 1


@pytest.fixture(scope="module")
def sim():
    with ConvertSimulator(dataset=Dataset.generate(seed=7)) as server:
        yield server


@pytest.fixture
def fresh():
    with ConvertSimulator(dataset=Dataset.generate(seed=11)) as server:
        yield server


# --------------------------------------------------------------------------- signing
def test_worked_example_digests_through_verifier():
    key_id, secret, expires = "demo-app-id-1234", "demo-secret-abcdef", "1767225600"
    url_a = "https://api.convert.com/api/v2/accounts/100001/projects/200002/experiences"
    body_a = '{"page":1,"results_per_page":50,"sort_by":"id","sort_direction":"asc"}'
    url_b = "https://api.convert.com/api/v2/accounts/100001/projects/200002/experiences/300003"
    digest_a = "77f3ec5afbcef03df9addc51e558ba6863d7a02cc51563d294a14be4850847df"
    digest_b = "363dc926e84a94d9b3d43a33653a1b1d630df3035fad889bc7a694224f604f1c"
    assert compute_signature(key_id, secret, expires, url_a, body_a) == sign(key_id, secret, expires, url_a, body_a) == digest_a
    assert compute_signature(key_id, secret, expires, url_b, "") == digest_b
    for url, body, digest in ((url_a, body_a, digest_a), (url_b, "", digest_b)):
        headers = {"Convert-Application-ID": key_id, "Expires": expires,
                   "Authorization": f"Convert-HMAC-SHA256 Signature={digest}"}
        assert verify_request(headers, url, body, key_id, secret, now=1767225600 - 30).ok
        assert verify_request(headers, url, body, key_id, secret, now=1767225600).message == "Expired signature"
    spaced = json.dumps(json.loads(body_a))
    assert compute_signature(key_id, secret, expires, url_a, spaced).startswith("9ebd7a80")
    assert compute_signature(key_id, secret, expires, url_b + "?include[]=variations&include[]=stats", "").startswith("192309f2")


def test_valid_signed_request(sim):
    r = call(sim, "GET", ACC + "/details")
    assert r.status_code == 200
    assert r.json()["data"]["id"] == 100001
    assert sim.requests[-1].auth_ok and sim.requests[-1].status == 200


@pytest.mark.parametrize("kwargs, message", [
    ({"secret": "wrong-secret"}, "Invalid signature"),
    ({"expires_in": -5}, "Expired signature"),
    ({"expires_in": 4000}, "Expires is too far in the future (max 3600 s)"),
    ({"key_id": "someone-else"}, "Unknown application id"),
    ({"headers": {"Authorization": "Bearer abc"}}, BEARER_NOT_ALLOWED),  # a requestSigning key
])
def test_auth_failures(sim, kwargs, message):
    r = call(sim, "POST", PRJ + "/goals", {"page": 1}, **kwargs)
    assert r.status_code == 401
    assert r.json() == {"code": 401, "message": message}
    assert sim.requests[-1].auth_ok is False
    assert sim.key_secret not in r.text


def test_missing_headers(sim):
    r = requests.get(sim.base_url + ACC + "/details", timeout=5)
    assert r.status_code == 401 and r.json()["message"] == "Missing authentication headers"


def test_query_string_must_be_signed(sim):
    path = PRJ + "/experiences/300003"
    unsigned = call(sim, "GET", path, query="include[]=stats", sign_url=sim.base_url + path)
    assert unsigned.status_code == 401
    signed = call(sim, "GET", path, query="include[]=stats&expand[]=goals")
    assert signed.status_code == 200
    exp = signed.json()
    assert isinstance(exp["goals"][0], dict)  # the signed query was read (300003 never ran: it has no stats)
    plain = call(sim, "GET", path, query="include=stats")
    assert plain.status_code == 422 and plain.json()["parameters"] == ["include"]


def bearer(sim, path, token=None, body=None):
    """A POST with the secret-key method's one header."""
    text = json.dumps(body or {"page": 1}, separators=(",", ":"))
    headers = {"Authorization": f"Bearer {token or f'{sim.key_id}:{sim.key_secret}'}", "Content-Type": "application/json"}
    return requests.post(sim.base_url + path, data=text, headers=headers, timeout=10)


def test_a_secret_key_key_takes_the_bearer_header_and_refuses_signatures():
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=5), key_auth_type="secretKey") as server:
        assert server.config()["auth_method"] == "secret_key"
        ok = bearer(server, PRJ + "/goals")
        assert ok.status_code == 200 and ok.json()["data"]
        wrong = bearer(server, PRJ + "/goals", token=f"{server.key_id}:not-the-secret")
        assert (wrong.status_code, wrong.json()) == (401, {"code": 401, "message": INVALID_KEY})
        signed = call(server, "POST", PRJ + "/goals", {"page": 1})  # a correct signature, but the wrong method
        assert (signed.status_code, signed.json()) == (401, {"code": 401, "message": SIGNATURE_NOT_ALLOWED})
        assert [(r.status, r.auth_method) for r in server.requests] == [
            (200, "secretKey"), (401, "secretKey"), (401, "requestSigning")]
        assert server.key_secret not in wrong.text + signed.text


def test_a_request_signing_key_refuses_a_correct_bearer_header(sim):
    refused = bearer(sim, PRJ + "/goals")
    assert (refused.status_code, refused.json()) == (401, {"code": 401, "message": BEARER_NOT_ALLOWED})
    assert sim.config().get("auth_method", "request_signing") == "request_signing"  # the default method


@pytest.mark.parametrize("expires_header", ["Expires", "Expire"])
def test_the_expiry_is_read_from_the_chosen_header_only(expires_header):
    other = {"Expires": "Expire", "Expire": "Expires"}[expires_header]
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=5), expires_header=expires_header) as server:
        expires = str(int(time.time()) + 60)
        url = server.base_url + ACC + "/details"
        signature = sign(server.key_id, server.key_secret, expires, url, "")
        base = {"Convert-Application-ID": server.key_id, "Authorization": f"Convert-HMAC-SHA256 Signature={signature}"}
        assert requests.get(url, headers={**base, expires_header: expires}, timeout=10).status_code == 200
        only_other = requests.get(url, headers={**base, other: expires}, timeout=10)
        assert (only_other.status_code, only_other.json()["message"]) == (401, "Missing authentication headers")
        stale = str(int(time.time()) - 5)  # the chosen header decides, whatever the other says
        both = requests.get(url, headers={**base, expires_header: stale, other: expires}, timeout=10)
        assert both.status_code == 401


@pytest.mark.parametrize("reading", ["with_query", "without_query"])
def test_the_signed_url_covers_the_query_string_or_not_by_option(reading):
    path = PRJ + "/experiences/300003"
    with ConvertSimulator(dataset=Dataset.generate(seed=7), signed_url=reading) as server:
        with_query = call(server, "GET", path, query="include[]=stats")
        without = call(server, "GET", path, query="include[]=stats", sign_url=server.base_url + path)
    assert (with_query.status_code, without.status_code) == ((200, 401) if reading == "with_query" else (401, 200))


def test_body_must_be_compact_json(sim):
    spaced = json.dumps({"page": 1, "results_per_page": 50})  # Python default separators
    r = call(sim, "POST", PRJ + "/goals", raw_body=spaced)
    assert r.status_code == 422 and r.json()["parameters"] == ["body"]
    # signing the compact body but sending the spaced one is a signature error
    compact = '{"page":1,"results_per_page":50}'
    expires = str(int(time.time()) + 60)
    url = sim.base_url + PRJ + "/goals"
    headers = {"Convert-Application-ID": sim.key_id, "Expires": expires,
               "Authorization": "Convert-HMAC-SHA256 Signature=" + sign(sim.key_id, sim.key_secret, expires, url, compact)}
    assert requests.post(url, data=spaced, headers=headers, timeout=5).status_code == 401


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("path, body, parameter", [
    (PRJ + "/experiences", {"results_per_page": 51}, "results_per_page"),
    (PRJ + "/experiences", {"results_per_page": -1}, "results_per_page"),
    (PRJ + "/experiences", {"results_per_page": "50"}, "results_per_page"),
    (PRJ + "/experiences", {"page": 0}, "page"),
    (PRJ + "/experiences", {"sort_by": "created_at"}, "sort_by"),
    (PRJ + "/experiences", {"include": ["bogus"]}, "include"),
    (PRJ + "/experiences", {"expand": "project"}, "expand"),
    (PRJ + "/experiences", {"only": list(range(101))}, "only"),
    (PRJ + "/knowledge-bases", {"sort_by": "id"}, "sort_by"),
    (PRJ + "/tags", {"sort_by": "id"}, "sort_by"),
    (PRJ + "/domains", {"sort_direction": "asc"}, "sort_direction"),
    (PRJ + "/tags", {"onlyCount": True}, "onlyCount"),
    (PRJ + "/goals", {"expand": ["project"]}, "expand"),
])
def test_validation_422(sim, path, body, parameter):
    r = call(sim, "POST", path, body)
    assert r.status_code == 422, r.text
    payload = r.json()
    assert payload["code"] == 422 and payload["parameters"] == [parameter]
    assert isinstance(payload["message"], list)


def test_results_per_page_51_exact_body(sim):
    r = call(sim, "POST", PRJ + "/experiences", {"results_per_page": 51})
    assert r.json() == {"code": 422, "message": ["results_per_page must be less than or equal to 50"],
                        "parameters": ["results_per_page"]}


def test_scoping_errors(sim):
    assert call(sim, "POST", "/accounts/999/projects/200002/goals", {}).status_code == 403
    assert call(sim, "POST", ACC + "/projects/123/goals", {}).status_code == 404
    assert call(sim, "POST", PRJ + "/nope", {}).status_code == 404
    assert call(sim, "GET", PRJ + "/experiences/1").status_code == 404
    assert call(sim, "GET", PRJ + "/goals").status_code == 405


# --------------------------------------------------------------------------- paging
# Every status the reference documents for each list whose body takes a ``status`` filter.
STATUSES = {
    "experiences": ["draft", "active", "paused", "completed", "scheduled", "archived", "deleted"],
    "goals": ["active", "archived"],
    "audiences": ["active", "archived"],
    "locations": ["active", "archived"],
    "hypotheses": ["applied", "archived", "completed", "draft", "proven", "disproven"],
    "knowledge-bases": ["active", "archived"],
    "observations": ["active", "archived"],
}


def every_status(collection):
    return {"status": STATUSES[collection]}


@pytest.mark.parametrize("collection, body, expected", [
    ("experiences", {"sort_by": "id", "sort_direction": "asc", **every_status("experiences")}, 120),
    ("goals", {"sort_by": "id", "sort_direction": "asc", **every_status("goals")}, 37),
    ("audiences", {"sort_by": "id", **every_status("audiences")}, 12),
    ("locations", every_status("locations"), 8),
    ("hypotheses", {"sort_by": "id", **every_status("hypotheses")}, 23),
    ("knowledge-bases", {"sort_by": "updated_at", "sort_direction": "asc", **every_status("knowledge-bases")}, 51),
    ("observations", {"sort_by": "name", **every_status("observations")}, 50),
    ("tags", {}, 9),
    ("domains", {}, 3),
    ("features", {}, 0),
    ("change-history", {"sort_by": "timestamp", "sort_direction": "desc"}, 260),
])
def test_paging_returns_everything_once(sim, collection, body, expected):
    ids, extra, pages = page_all(sim, PRJ + "/" + collection, body)
    assert len(ids) == len(set(ids)) == expected
    assert extra["pagination"]["items_count"] == expected
    assert pages == expected // 50 + 1  # a full last page costs one extra (empty) request


def test_change_history_newest_first_and_filters(sim):
    r = call(sim, "POST", PRJ + "/change-history", {"results_per_page": 50, "objects": ["experience"]})
    data = r.json()["data"]
    stamps = [e["timestamp"] for e in data]
    assert stamps == sorted(stamps, reverse=True) and {e["object"] for e in data} == {"experience"}
    target = data[0]["object_id"]
    assert isinstance(target, str) and data[0]["parent_object_id"] is None
    only = call(sim, "POST", PRJ + "/change-history", {"experiences": [int(target)]}).json()["data"]
    assert only and all(e["object_id"] == target for e in only)


def test_projects_default_to_web(sim):
    web = call(sim, "POST", ACC + "/projects", {}).json()
    assert [p["id"] for p in web["data"]] == [200004, 200002]  # default sort: id desc
    both = call(sim, "POST", ACC + "/projects", {"project_type": ["web", "fullstack"], "sort_direction": "asc"}).json()
    assert [p["id"] for p in both["data"]] == [200002, 200003, 200004]


def test_only_count_and_pagination_off():
    with ConvertSimulator(pagination_count=False) as no_count:
        r = call(no_count, "POST", PRJ + "/goals", {"results_per_page": 50, **every_status("goals")})
        assert r.json()["extra"] == {} and len(r.json()["data"]) == 37
    with ConvertSimulator() as counted:
        r = call(counted, "POST", PRJ + "/goals", {"onlyCount": True, **every_status("goals")})
        assert r.json()["data"] == [] and r.json()["extra"]["pagination"]["items_count"] == 37


def test_include_expand_shapes(sim):
    body = {"only": [300001], "include": ["variations.changes", "stats", "min_running_timestamp"],
            "expand": ["project", "tags"]}
    exp = call(sim, "POST", PRJ + "/experiences", body).json()["data"][0]
    assert exp["project"]["id"] == 200002 and all(isinstance(t, dict) for t in exp["tags"])
    assert 2 <= len(exp["variations"]) <= 3
    assert all(isinstance(c, dict) and {"id", "type", "data"} <= set(c) for v in exp["variations"] for c in v["changes"])
    plain = call(sim, "POST", PRJ + "/experiences", {"only": [300001]}).json()["data"][0]
    assert plain["project"] == 200002 and "variations" not in plain and "stats" not in plain
    assert all(isinstance(t, int) for t in plain["tags"])


def test_secrets_are_recognisable(sim):
    keys = call(sim, "GET", ACC + "/api-keys").json()["data"]
    sdk = call(sim, "GET", ACC + "/projects/200003/sdk-keys").json()["data"]
    assert all(k["key_secret"].startswith("LEAKED-SECRET-") for k in keys)
    assert any(k["sdk_secret"] and k["sdk_secret"].startswith("LEAKED-SECRET-") for k in sdk)
    users = call(sim, "GET", ACC + "/users-accesses").json()["data"]
    assert sum(u["user_id"] is None for u in users) == 1


# --------------------------------------------------------------------------- faults & concurrency
def test_faults_fire_exactly_times(fresh):
    fault = fresh.inject(Fault(429, times=2, path_regex=r"/goals$", retry_after=1))
    statuses = [call(fresh, "POST", PRJ + "/goals", {}) for _ in range(4)]
    assert [r.status_code for r in statuses] == [429, 429, 200, 200]
    assert statuses[0].headers["Retry-After"] == "1"
    assert statuses[0].json() == {"code": 429, "message": "Too many requests"}
    assert fault.hits == 2 and fault.spent
    assert [r.fault for r in fresh.requests] == ["status", "status", None, None]
    assert call(fresh, "POST", PRJ + "/tags", {}).status_code == 200  # path did not match


def test_fault_every_and_kinds(fresh):
    every = fresh.inject(Fault(503, times=2, every=3, path_regex="/tags"))
    codes = [call(fresh, "POST", PRJ + "/tags", {}).status_code for _ in range(7)]
    assert codes == [200, 200, 503, 200, 200, 503, 200] and every.hits == 2
    fresh.inject(Fault(500, body='{"code":500,"message":"Too many requests, please slow down"}', path_regex="/audiences"))
    r = call(fresh, "POST", PRJ + "/audiences", {})
    assert r.status_code == 500 and "slow down" in r.json()["message"]
    fresh.inject(Fault(kind="not_json", path_regex="/domains"))
    r = call(fresh, "POST", PRJ + "/domains", {})
    assert r.status_code == 200 and r.text.startswith("<html>")
    fresh.inject(Fault(kind="no_data", path_regex="/domains"))
    assert "data" not in call(fresh, "POST", PRJ + "/domains", {}).json()
    fresh.inject(Fault(kind="reset", path_regex="/locations"))
    with pytest.raises(requests.ConnectionError):
        call(fresh, "POST", PRJ + "/locations", {})
    assert fresh.requests[-1].fault == "reset" and fresh.requests[-1].status == 0
    fresh.inject(Fault(kind="slow", delay=0.2, path_regex="/locations"))
    started = time.time()
    assert call(fresh, "POST", PRJ + "/locations", {}).status_code == 200
    assert time.time() - started >= 0.2


def test_random_503_is_deterministic():
    def run():
        with ConvertSimulator(random_503=0.3, seed=5) as s:
            return [call(s, "POST", PRJ + "/tags", {}).status_code for _ in range(20)]
    first = run()
    assert first == run() and 503 in first and 200 in first


def test_max_in_flight_counts_concurrency():
    with ConvertSimulator(latency=0.3) as s:
        threads = [threading.Thread(target=call, args=(s, "POST", PRJ + "/tags", {})) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert s.peak_in_flight == 5
        s.reset_log()
        with requests.Session() as session:  # keep-alive: two sequential calls on one connection
            call(s, "POST", PRJ + "/tags", {}, session=session)
            call(s, "POST", PRJ + "/tags", {}, session=session)
        assert s.peak_in_flight == 1 and s.count("POST", r"/tags$", 200) == 2


# --------------------------------------------------------------------------- mutations & reports
def test_mutation_helpers_visible(fresh):
    ds = fresh.dataset
    before = call(fresh, "POST", PRJ + "/experiences", {"onlyCount": True}).json()["extra"]["pagination"]["items_count"]
    new = ds.add_experience(name="Brand new test", status="active")
    after = call(fresh, "POST", PRJ + "/experiences", {"only": [new["id"]]}).json()
    assert after["data"][0]["name"] == "Brand new test" and after["data"][0]["start_time"] == ds.now
    assert call(fresh, "POST", PRJ + "/experiences", {"onlyCount": True}).json()["extra"]["pagination"]["items_count"] == before + 1
    newest = call(fresh, "POST", PRJ + "/change-history", {"results_per_page": 1}).json()["data"][0]
    assert (newest["event"], newest["object_id"]) == ("experience.create", str(new["id"]))
    assert newest["changes"] == {"old": None, "new": {"name": "Brand new test"}}
    ds.update_experience(300002, name="Renamed")
    assert call(fresh, "GET", PRJ + "/experiences/300002").json()["name"] == "Renamed"
    newest2 = call(fresh, "POST", PRJ + "/change-history", {"results_per_page": 1}).json()["data"][0]
    assert newest2["event"] == "experience.update" and newest2["timestamp"] > newest["timestamp"]
    assert newest2["changes"]["new"] == {"name": "Renamed"} and newest2["changes"]["old"]["name"] != "Renamed"
    event = ds.add_history_event(object="goal", object_id=600001, event="goal.update")
    served = call(fresh, "POST", PRJ + "/change-history", {"results_per_page": 1}).json()["data"][0]
    assert (served["object_id"], served["request_id"], served["timestamp"]) == ("600001", event["request_id"], event["timestamp"])
    ds.update_object("knowledge-bases", 640007, summary="Edited")
    newest_kb = call(fresh, "POST", PRJ + "/knowledge-bases", {"sort_by": "updated_at"}).json()["data"][0]
    assert (newest_kb["id"], newest_kb["summary"], newest_kb["updated_at"]) == (640007, "Edited", ds.now)


def _first(ds, status):
    return next(e for e in ds.records(200002, "experiences") if e["status"] == status)


def test_daily_report_day_counts(fresh):
    ds = fresh.dataset
    active, done, draft = _first(ds, "active"), _first(ds, "completed"), _first(ds, "draft")
    path = PRJ + f"/experiences/{active['id']}/daily_report"
    expected = (ds.today - (active["start_time"] - active["start_time"] % DAY)) // DAY + 1
    report = call(fresh, "POST", path, {"goal": active["goals"][0]}).json()["data"]["reportData"]
    assert "goal_id" not in report, "the documented daily report does not name its goal"
    assert all(len(v["stats"]) == expected for v in report["variations"])
    first_day = report["variations"][0]["stats"][0]
    ds.advance_days(2)
    again = call(fresh, "POST", path, {"goal_id": active["goals"][0]}).json()["data"]["reportData"]
    assert len(again["variations"][0]["stats"]) == expected + 2
    assert again["variations"][0]["stats"][0] == first_day  # old days never change
    window = {"goal": active["goals"][0], "start_time": ds.today - 2 * DAY, "end_time": ds.today,
              "report_type": "cumulative", "metric": "avg_revenue_per_visitor"}
    assert len(call(fresh, "POST", path, window).json()["data"]["reportData"]["variations"][0]["stats"]) == 3
    done_days = (done["end_time"] - done["end_time"] % DAY - (done["start_time"] - done["start_time"] % DAY)) // DAY + 1
    done_report = call(fresh, "POST", PRJ + f"/experiences/{done['id']}/daily_report", {}).json()["data"]["reportData"]
    assert len(done_report["variations"][0]["stats"]) == done_days
    assert call(fresh, "POST", path, {"goal": 1}).status_code == 422
    agg = call(fresh, "POST", PRJ + f"/experiences/{draft['id']}/aggregated_report", {}).json()["data"]
    assert agg["reportData"] == [] and len(agg["variations_data"]) >= 2
    agg = call(fresh, "POST", PRJ + f"/experiences/{active['id']}/aggregated_report", {}).json()["data"]
    assert [g["goal_id"] for g in agg["reportData"]] == active["goals"]


# --------------------------------------------------------------------------- change-history id styles
def scalars(value):
    """Every scalar inside a JSON value."""
    if isinstance(value, dict):
        for item in value.values():
            yield from scalars(item)
    elif isinstance(value, list):
        for item in value:
            yield from scalars(item)
    else:
        yield value


# The contract's ChangeHistory fields besides the ones naming the changed object (no id of its own).
_EVENT_KEYS = {"event", "info", "changes", "method", "parent_object_id", "user", "timestamp", "request_id"}


def _object_naming(style, obj, object_id):
    """The keys of a rendered event that name the changed object, with their values, per style."""
    return {"object_id": {"object": obj, "object_id": object_id},
            "objectId": {"object": obj, "objectId": object_id},
            "object_mapping": {"object": {"type": obj, "id": object_id}},
            "typed": {"object": obj, f"{obj}_id": object_id},
            "none": {"object": obj}}[style]


def _history_of(server, filter_name, object_id):
    r = call(server, "POST", PRJ + "/change-history", {filter_name: [object_id], "results_per_page": 50,
                                                       "expand": ["project"]})
    assert r.status_code == 200, r.text
    return r.json()["data"]


@pytest.mark.parametrize("style", ["object_id", "objectId", "object_mapping", "typed", "none"])
def test_history_id_styles(style):
    with ConvertSimulator(dataset=Dataset.generate(seed=7), history_id_style=style) as server:
        added = {"goal": server.dataset.add_history_event(object="goal", object_id=600005),
                 "experience": server.dataset.add_history_event(object="experience", object_id=300004)}
        for obj, filter_name in (("goal", "goals"), ("experience", "experiences")):
            object_id = added[obj]["object_id"]
            events = _history_of(server, filter_name, object_id)  # the server-side id filter still works
            assert added[obj]["request_id"] in [e["request_id"] for e in events]
            with server.dataset.lock:
                expected = sorted(e["timestamp"] for e in server.dataset.records(200002, "change-history")
                                  if (e["object"], e["object_id"]) == (obj, object_id))
            assert sorted(e["timestamp"] for e in events) == expected
            naming = _object_naming(style, obj, str(object_id))
            for event in events:
                assert event["project"]["id"] == 200002
                assert set(event) - {"project"} == _EVENT_KEYS | set(naming)
                assert {key: event[key] for key in naming} == naming
                if style == "none":
                    assert str(object_id) not in list(scalars(event))
        only_goals = call(server, "POST", PRJ + "/change-history", {"objects": ["goal"], "results_per_page": 50})
        kinds = [e["object"]["type"] if style == "object_mapping" else e["object"] for e in only_goals.json()["data"]]
        assert kinds and set(kinds) == {"goal"}


def test_history_events_have_the_contract_s_fields_only():
    """ChangeHistory: no id of its own, ids as strings, changes {old, new}; project an id unless expanded."""
    with ConvertSimulator(dataset=Dataset.generate(seed=7)) as server:
        exp = next(e for e in server.dataset.started_experiences() if any(v["changes"] for v in e["variations"]))
        project_events = records_all(server, PRJ + "/change-history", {})
        own_events = _exp_history(server, exp["id"], {}).json()["data"]
        for event in project_events + own_events:
            assert set(event) == set(render.HISTORY_FIELDS)
            assert isinstance(event["object_id"], str) and isinstance(event["timestamp"], int)
            assert set(event["changes"]) == {"old", "new"} and event["project"] == 200002
            assert event["request_id"] is None or isinstance(event["request_id"], str)
            assert isinstance(event["user"], str) and event["method"] in ("api", "app")
        assert {e["parent_object_id"] for e in own_events} == {str(exp["id"])}
        assert {e["parent_object_id"] for e in project_events} == {None}
        assert len({event_identity(e) for e in project_events}) == len(project_events) == 260


def test_unknown_history_id_style_is_refused():
    with pytest.raises(ValueError, match="history_id_style"):
        ConvertSimulator(history_id_style="object-id")


# --------------------------------------------------------------------------- status filters
@pytest.mark.parametrize("collection", sorted(STATUSES))
def test_default_status_hides_archived_and_deleted(fresh, collection):
    ds = fresh.dataset
    if collection == "experiences":  # give the list every kind of status
        ds.delete_experience(_first(ds, "active")["id"])
        ds.update_experience(_first(ds, "draft")["id"], status="scheduled")
    by_status = {}
    with ds.lock:
        for rec in ds.records(200002, collection):
            by_status.setdefault(rec["status"], set()).add(rec["id"])
    hidden = by_status.get("archived", set()) | by_status.get("deleted", set())
    everything = set().union(*by_status.values())
    assert hidden and everything - hidden
    path = PRJ + "/" + collection
    for body in ({}, {"status": None}, {"status": []}):
        ids = page_all(fresh, path, body)[0]
        assert set(ids) == everything - hidden and len(ids) == len(everything - hidden)
    counted = call(fresh, "POST", path, {"onlyCount": True}).json()["extra"]["pagination"]["items_count"]
    assert counted == len(everything - hidden)
    assert set(page_all(fresh, path, every_status(collection))[0]) == everything
    for status in STATUSES[collection]:
        assert set(page_all(fresh, path, {"status": [status]})[0]) == by_status.get(status, set())
    if collection == "experiences":
        assert by_status["deleted"] and by_status["scheduled"]


@pytest.mark.parametrize("collection, bad", [
    ("experiences", "running"), ("experiences", "Active"), ("goals", "deleted"), ("audiences", "paused"),
    ("locations", "deleted"), ("hypotheses", "active"), ("knowledge-bases", "deleted"), ("observations", "draft"),
])
def test_status_outside_the_reference_is_422(sim, collection, bad):
    r = call(sim, "POST", PRJ + "/" + collection, {"status": [STATUSES[collection][0], bad]})
    assert r.status_code == 422
    assert r.json() == {"code": 422, "message": ["status [1] must be one of: " + ", ".join(STATUSES[collection])],
                        "parameters": ["status"]}
    scalar = call(sim, "POST", PRJ + "/" + collection, {"status": STATUSES[collection][0]})
    assert scalar.status_code == 422 and scalar.json()["parameters"] == ["status"]


def test_features_have_no_status_default(fresh):
    ds = fresh.dataset
    feature = ds.records(200003, "features")[0]["id"]
    ds.update_object("features", feature, project_id=200003, status="archived")
    listed = call(fresh, "POST", ACC + "/projects/200003/features", {"results_per_page": 50}).json()["data"]
    assert {"id": feature, "status": "archived"}.items() <= next(f for f in listed if f["id"] == feature).items()


def _newest_event(server):
    return call(server, "POST", PRJ + "/change-history", {"results_per_page": 1}).json()["data"][0]


def test_delete_and_archive_write_history(fresh):
    ds = fresh.dataset
    running = _first(ds, "active")
    deleted = ds.delete_experience(running["id"])
    assert deleted["status"] == "deleted" and deleted["end_time"] == ds.now
    assert {v["status"] for v in deleted["variations"]} == {"stopped"}
    event = _newest_event(fresh)
    assert (event["event"], event["object"], event["object_id"]) == ("experience.delete", "experience", str(running["id"]))
    assert call(fresh, "GET", PRJ + f"/experiences/{running['id']}").json()["status"] == "deleted"
    assert call(fresh, "POST", PRJ + "/experiences", {"only": [running["id"]]}).json()["data"] == []
    assert [e["id"] for e in call(fresh, "POST", PRJ + "/experiences",
                                  {"only": [running["id"]], "status": ["deleted"]}).json()["data"]] == [running["id"]]
    done = _first(ds, "completed")
    ds.update_experience(done["id"], status="archived")
    event = _newest_event(fresh)
    assert (event["event"], event["object_id"]) == ("experience.update", str(done["id"]))
    assert event["changes"] == {"old": {"status": "completed"}, "new": {"status": "archived"}}
    goal = next(g["id"] for g in ds.records(200002, "goals") if g["status"] == "active")
    ds.update_object("goals", goal, status="archived")
    event = _newest_event(fresh)
    assert (event["event"], event["object"], event["object_id"]) == ("goal.update", "goal", str(goal))
    assert goal not in page_all(fresh, PRJ + "/goals", {})[0]
    assert goal in page_all(fresh, PRJ + "/goals", {"status": ["archived"]})[0]


# --------------------------------------------------------------------------- report time zone
OFFSETS = [0, 19800, -18000]


def local_midnight(timestamp, offset):
    """UTC seconds of the local (UTC+offset) midnight starting the day that contains ``timestamp``."""
    return timestamp - (timestamp + offset) % DAY


def report(server, exp_id, kind, body):
    r = call(server, "POST", PRJ + f"/experiences/{exp_id}/{kind}", body)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def _revenue_goals(ds):
    return {g["id"] for g in ds.records(200002, "goals") if g["type"] == "revenue"}


@pytest.mark.parametrize("offset", OFFSETS)
def test_daily_report_days_are_local_days(sim, offset):
    ds = sim.dataset
    for exp in (_first(ds, "active"), _first(ds, "completed")):
        first, last = local_midnight(exp["start_time"], offset), local_midnight(exp["end_time"] or ds.now, offset)
        expected = list(range(first, last + 1, DAY))
        data = report(sim, exp["id"], "daily_report", {"goal": exp["goals"][0], "utc_offset": offset})
        for variation in data["reportData"]["variations"]:
            assert [day["timestamp"] for day in variation["stats"]] == expected
        window = {"goal": exp["goals"][0], "utc_offset": offset, "start_time": expected[1], "end_time": expected[2]}
        for variation in report(sim, exp["id"], "daily_report", window)["reportData"]["variations"]:
            assert [day["timestamp"] for day in variation["stats"]] == expected[1:3]


def test_local_day_numbers_are_keyed_by_the_local_date(sim):
    exp = max(sim.dataset.started_experiences(), key=lambda e: len(sim.dataset.run_days(e)))
    by_date = {}
    for offset in (0, 19800):
        stats = report(sim, exp["id"], "daily_report", {"goal": exp["goals"][0], "utc_offset": offset})
        by_date[offset] = {d.pop("timestamp") + offset: d for d in stats["reportData"]["variations"][0]["stats"]}
    inner = sorted(set(by_date[0]) & set(by_date[19800]))[1:-1]  # whole local days of both offsets
    assert len(inner) >= 3 and all(by_date[0][d] == by_date[19800][d] for d in inner)


@pytest.mark.parametrize("offset", OFFSETS)
def test_daily_sums_equal_aggregated_totals(sim, offset):
    ds = sim.dataset
    revenue_goals = _revenue_goals(ds)
    with_revenue = [e for e in ds.started_experiences() if set(e["goals"]) & revenue_goals
                    and len(ds.run_days(e, offset)) >= 6]
    picks = [next(e for e in with_revenue if e["status"] == "active"),
             next(e for e in with_revenue if e["status"] == "completed")]
    for exp in picks:
        days = ds.run_days(exp, offset)
        windows = [{}, {"start_time": None, "end_time": None}, {"start_time": days[2], "end_time": days[-3]},
                   {"start_time": days[len(days) // 2]}, {"end_time": days[1]}]
        for window in windows:
            for goal in exp["goals"]:
                body = {"utc_offset": offset, **window}
                agg = report(sim, exp["id"], "aggregated_report", dict(body, goals=[goal]))["reportData"]
                assert [g["goal_id"] for g in agg] == [goal]
                totals = {v["id"]: v for v in agg[0]["variations"]}
                daily = {metric: {v["id"]: v["stats"] for v in report(
                    sim, exp["id"], "daily_report", dict(body, goal=goal, metric=metric))["reportData"]["variations"]}
                    for metric in ("conversion_rate", "avg_revenue_per_visitor", "avg_products_ordered_per_visitor")}
                assert set(daily["conversion_rate"]) == set(totals)
                for variation_id, stats in daily["conversion_rate"].items():
                    total = totals[variation_id]
                    assert stats
                    assert sum(d["visitors"] for d in stats) == total["visitors"]
                    assert sum(d["totals"] for d in stats) == total["conversion_data"]["conversions"]
                    assert sum(d["totals"] for d in daily["avg_revenue_per_visitor"][variation_id]) == pytest.approx(
                        total["revenue_data"]["total_revenue"], abs=0.005)
                    assert sum(d["totals"] for d in daily["avg_products_ordered_per_visitor"][variation_id]) == \
                        total["products_data"]["total_products"]
                    stats = daily["avg_revenue_per_visitor"][variation_id]
                    money = (total["revenue_data"]["total_revenue"], total["products_data"]["total_products"])
                    if goal in revenue_goals:
                        assert money[0] > 0 and money[1] > 0
                        assert all(d["value"] == round(d["totals"] / d["visitors"], 6) for d in stats)
                    else:
                        assert money == (0, 0)


def test_report_bounds_accept_null_and_offset_is_validated(sim):
    exp = _first(sim.dataset, "active")
    goal = exp["goals"][0]
    unbounded = report(sim, exp["id"], "daily_report", {"goal": goal})
    assert report(sim, exp["id"], "daily_report",
                  {"goal": goal, "start_time": None, "end_time": None, "utc_offset": None}) == unbounded
    for edge in (-43200, 50400):
        report(sim, exp["id"], "daily_report", {"utc_offset": edge})
    for kind in ("daily_report", "aggregated_report"):
        for bad, message in ((50401, "utc_offset must be less than or equal to 50400"),
                             (-43201, "utc_offset must be greater than or equal to -43200"),
                             ("3600", "utc_offset must be an integer"), (3600.5, "utc_offset must be an integer")):
            r = call(sim, "POST", PRJ + f"/experiences/{exp['id']}/{kind}", {"utc_offset": bad})
            assert r.status_code == 422
            assert r.json() == {"code": 422, "message": [message], "parameters": ["utc_offset"]}
        r = call(sim, "POST", PRJ + f"/experiences/{exp['id']}/{kind}", {"end_time": "today"})
        assert r.status_code == 422 and r.json()["parameters"] == ["end_time"]


# --------------------------------------------------------------------------- data clock
@pytest.mark.parametrize("shift_days", [-200, 200])
def test_data_clock_far_from_the_machine_clock(shift_days):
    ds = Dataset.generate(seed=7, now=int(time.time()) + shift_days * DAY)
    with ConvertSimulator(dataset=ds) as server:  # signatures still expire on the machine clock
        newest = call(server, "POST", PRJ + "/change-history", {"results_per_page": 50}).json()["data"]
        assert ds.now - 400 * DAY <= min(e["timestamp"] for e in newest)
        assert max(e["timestamp"] for e in newest) <= ds.now
        exps = records_all(server, PRJ + "/experiences", {"include": ["min_running_timestamp", "max_running_timestamp"],
                                                           **every_status("experiences")})
        assert len(exps) == 120
        for exp in exps:
            assert exp["start_time"] <= ds.now and exp["end_time"] <= ds.now
            if exp["status"] == "active":
                assert exp["min_running_timestamp"] == exp["start_time"] and exp["max_running_timestamp"] == ds.now
            elif exp["start_time"]:
                assert exp["max_running_timestamp"] == exp["end_time"] < ds.now
        running = _first(ds, "active")
        for offset in OFFSETS:
            stats = report(server, running["id"], "daily_report",
                           {"goal": running["goals"][0], "utc_offset": offset})["reportData"]["variations"][0]["stats"]
            assert stats[-1]["timestamp"] == local_midnight(ds.now, offset) == ds.local_today(offset)
        assert ds.add_history_event(object="goal")["timestamp"] == ds.now
        assert ds.add_experience(status="active")["start_time"] == ds.now
        ds.advance_days(1)
        stats = report(server, running["id"], "daily_report", {"goal": running["goals"][0]})
        assert stats["reportData"]["variations"][0]["stats"][-1]["timestamp"] == ds.today == local_midnight(ds.now, 0)


# --------------------------------------------------------------------------- CLI
def test_cli_serves_and_exits_cleanly(tmp_path):
    cfg = tmp_path / "config.json"
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "--port", "0",
                             "--history-id-style", "typed", "--config-out", str(cfg)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("Convert simulator listening on http://127.0.0.1:")
        config = json.loads(cfg.read_text())
        assert config["api_base_url"] == line.rsplit(" ", 1)[1]
        server = SimpleNamespace(base_url=config["api_base_url"], key_id=config["key_id"],
                                 key_secret=config["key_secret"])
        answer = call(server, "POST", PRJ + "/change-history", {"objects": ["goal"], "results_per_page": 1})
        event = answer.json()["data"][0]
        assert isinstance(event["goal_id"], str) and "object_id" not in event
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    refused = subprocess.run([sys.executable, "-m", "simulator", "--host", "0.0.0.0"],
                             cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert refused.returncode != 0 and "refusing" in refused.stderr


# --------------------------------------------------------------------------- projects
BLOG = ACC + "/projects/200004"
ALL_TYPES = {"project_type": ["web", "fullstack"]}
# sha256 prefixes of the seed-7 records of 200002/200003 (with every field the contract documents), which
# project 200004 must not change
PINNED = {200002: "06b76e6c4a6481de", 200003: "e518dff40f61fa11"}


def _fingerprint(ds, pid):
    blob = json.dumps({"store": ds.store[pid], "project": ds.projects[pid]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _all_ids(ds, pid):
    """(kind, id) of every object of a project, variations, changes and experience histories included."""
    out = [(kind, rid) for kind, recs in ds.store[pid].items() for rid in recs]
    for exp in ds.store[pid]["experiences"].values():
        out += [("variations", v["id"]) for v in exp["variations"]]
        out += [("changes", c["id"]) for v in exp["variations"] for c in v["changes"]]
        out += [("change-history", eid) for eid in ds.experience_history.get(exp["id"], {})]
    return out


@pytest.mark.parametrize("kwargs", [{}, {"shared_ids": True}, {"blog_project": False}])
def test_web_and_fullstack_records_unchanged(kwargs):
    ds = Dataset.generate(seed=7, **kwargs)
    assert {pid: _fingerprint(ds, pid) for pid in PINNED} == PINNED
    assert sorted(ds.projects) == ([200002, 200003] if kwargs.get("blog_project") is False else [200002, 200003, 200004])


def test_three_projects_with_distinct_ids(sim):
    ds = sim.dataset
    types = {pid: p["project_type"] for pid, p in ds.projects.items()}
    assert types == {200002: "web", 200003: "fullstack", 200004: "web"}
    sizes = {pid: len(ds.store[pid]["experiences"]) for pid in ds.store}
    assert sizes[200002] > 10 * sizes[200004] and sizes[200004] == 6 and sizes[200003] == 4
    ids = [i for pid in ds.store for i in _all_ids(ds, pid)]
    assert len(ids) == len(set(ids))
    blog = ds.store[200004]
    assert all(blog[kind] for kind in ("goals", "audiences", "locations", "hypotheses", "knowledge-bases",
                                       "observations", "tags", "domains", "change-history"))
    started = [e for e in blog["experiences"].values() if e["start_time"]]
    assert len(started) >= 3 and any(e["status"] == "active" for e in started)
    for exp in started:
        stats = call(sim, "POST", BLOG + f"/experiences/{exp['id']}/daily_report", {}).json()["data"]
        assert stats["reportData"]["variations"][0]["stats"]
    goal = next(iter(blog["goals"].values()))
    assert call(sim, "GET", BLOG + f"/goals/{goal['id']}").json()["name"].startswith("Blog: ")
    assert call(sim, "GET", PRJ + f"/goals/{goal['id']}").status_code == 404
    stats = call(sim, "GET", ACC + "/details", query="include[]=stats").json()["data"]["stats"]
    assert stats["projects_count"] == 3


def test_shared_ids_collide_with_the_web_project():
    ds = Dataset.generate(seed=7, shared_ids=True)
    for kind in ("goals", "audiences", "locations", "tags", "domains", "hypotheses", "knowledge-bases", "observations"):
        blog, web = ds.store[200004][kind], ds.store[200002][kind]
        assert set(blog) <= set(web), kind
        assert all(blog[i] != web[i] for i in blog), kind  # same id, different object
    assert not set(ds.store[200004]["experiences"]) & set(ds.store[200002]["experiences"])
    with ConvertSimulator(dataset=ds) as server:
        for project, prefix in ((PRJ, "Visit"), (BLOG, "Blog: Visit")):
            assert call(server, "GET", project + "/goals/600001").json()["name"].startswith(prefix)


def test_projects_list_filters_paging_and_sort(fresh):
    ds = fresh.dataset
    inactive = ds.add_project("web", name="Old landing pages", status="inactive")
    suspended = ds.add_project("fullstack", name="Suspended app", status="suspended")
    path = ACC + "/projects"

    def ids(body):
        r = call(fresh, "POST", path, body)
        assert r.status_code == 200, r.text
        return [p["id"] for p in r.json()["data"]]

    assert ids({"sort_direction": "asc"}) == [200002, 200004, inactive]
    assert ids({"project_type": ["fullstack"], "sort_direction": "asc"}) == [200003, suspended]
    assert ids({**ALL_TYPES, "status": ["inactive"], "sort_direction": "asc"}) == [inactive]
    assert call(fresh, "POST", path, {"status": ["suspended"]}).status_code == 422  # the filter knows no suspended
    assert ids({**ALL_TYPES, "status": ["active"], "only": [200003, 200004, inactive]}) == [200004, 200003]
    assert ids({**ALL_TYPES, "except": [200002], "sort_by": "project_name", "sort_direction": "asc"}) == \
        [200004, 200003, inactive, suspended]
    pages = [ids({**ALL_TYPES, "page": n, "results_per_page": 2, "sort_by": "id", "sort_direction": "asc"})
             for n in (1, 2, 3)]
    assert pages == [[200002, 200003], [200004, inactive], [suspended]]
    counted = call(fresh, "POST", path, {**ALL_TYPES, "onlyCount": True}).json()["extra"]["pagination"]
    assert counted["items_count"] == 5
    assert call(fresh, "POST", path, {"status": ["deleted"]}).status_code == 422
    stats = call(fresh, "GET", ACC + "/details", query="include[]=stats").json()["data"]["stats"]
    assert stats["projects_count"] == 5 == ds.account["stats"]["projects_count"]


def test_added_project_has_content_and_removed_project_is_404(fresh):
    ds = fresh.dataset
    pid = ds.add_project("fullstack", name="Watch app")
    base = ACC + f"/projects/{pid}"
    assert pid == 200005 and call(fresh, "GET", base).json()["name"] == "Watch app"
    exps = call(fresh, "POST", base + "/experiences", {}).json()["data"]
    assert len(exps) == 3 and [e["status"] for e in exps if e["start_time"]] == ["active"]
    active = next(e for e in exps if e["status"] == "active")
    assert active["start_time"] == ds.now
    daily = call(fresh, "POST", base + f"/experiences/{active['id']}/daily_report", {}).json()["data"]
    assert len(daily["reportData"]["variations"][0]["stats"]) == 1
    assert len(call(fresh, "POST", base + "/features", {}).json()["data"]) == 2
    history = call(fresh, "POST", base + "/change-history", {}).json()["data"]
    assert {e["event"] for e in history} == {"experience.create", "goal.create"}
    assert Dataset.generate(seed=11).add_project("fullstack", name="Watch app") == pid  # deterministic
    ds.remove_project(200003)
    for method, path in (("GET", "/projects/200003"), ("POST", "/projects/200003/goals"),
                         ("POST", "/projects/200003/experiences"), ("GET", "/projects/200003/sdk-keys")):
        r = call(fresh, method, ACC + path, {} if method == "POST" else None)
        assert (r.status_code, r.json()) == (404, {"code": 404, "message": "Project not found"})
    assert 200003 not in [p["id"] for p in call(fresh, "POST", ACC + "/projects", ALL_TYPES).json()["data"]]
    users = call(fresh, "GET", ACC + "/users-accesses", query="expand[]=accesses.project").json()["data"]
    assert all(a["project"]["id"] != 200003 for u in users for a in u["accesses"])
    assert ds.account["stats"]["projects_count"] == 3


# --------------------------------------------------------------------------- clock advance
def _project_history(server, pid, n=10):
    return call(server, "POST", ACC + f"/projects/{pid}/change-history", {"results_per_page": n}).json()["data"]


def test_advance_writes_changes_in_every_project(fresh):
    ds = fresh.dataset
    running = {pid: next(e for e in ds.store[pid]["experiences"].values() if e["status"] == "active")
               for pid in ds.store}
    days_before = {pid: len(call(fresh, "POST", ACC + f"/projects/{pid}/experiences/{e['id']}/daily_report", {})
                            .json()["data"]["reportData"]["variations"][0]["stats"]) for pid, e in running.items()}
    old_now = ds.now
    changed = ds.advance(days=2)
    assert ds.now == old_now + 2 * DAY and sorted(changed) == sorted(ds.store)
    for pid, what in changed.items():
        base = ACC + f"/projects/{pid}"
        newest = [(e["event"], int(e["object_id"])) for e in _project_history(fresh, pid, 2)]
        assert newest == [("goal.update", what["goal"]), ("experience.update", what["experience"])]
        assert all(e["timestamp"] >= ds.now for e in _project_history(fresh, pid, 2))
        exp = call(fresh, "GET", base + f"/experiences/{what['experience']}").json()
        assert exp["description"].startswith("Edited on day")
        kbs = call(fresh, "POST", base + "/knowledge-bases", {"sort_by": "updated_at", "status": ["active", "archived"]})
        newest = kbs.json()["data"][0]
        assert (newest["id"], newest["updated_at"]) == (what["knowledge_base"], ds.now)
        stats = call(fresh, "POST", base + f"/experiences/{running[pid]['id']}/daily_report", {}).json()["data"]
        assert len(stats["reportData"]["variations"][0]["stats"]) == days_before[pid] + 2
    again = ds.advance()
    assert again[200002]["experience"] != changed[200002]["experience"]  # the rotation moves on
    assert again[200003]["knowledge_base"] == changed[200003]["knowledge_base"]  # created once, then edited


# --------------------------------------------------------------------------- vanished / purged experiences
PER_EXPERIENCE = [("GET", ""), ("POST", "/aggregated_report"), ("POST", "/daily_report"),
                  ("POST", "/change-history"), ("GET", "/report_settings"), ("GET", "/sections")]
NOT_FOUND = {"code": 404, "message": "Experience not found"}


def _per_experience_statuses(server, exp_id, project=PRJ):
    out = []
    for method, suffix in PER_EXPERIENCE:
        r = call(server, method, project + f"/experiences/{exp_id}{suffix}", {} if method == "POST" else None)
        out.append(r.status_code)
        if r.status_code == 404:
            assert r.json() == NOT_FOUND, suffix
    return out


def test_vanished_experiences_answer_404_but_stay_listed():
    ds = Dataset.generate(seed=7)
    target = _first(ds, "active")["id"]
    with ConvertSimulator(dataset=ds, vanished_experiences=[target]) as server:
        assert _per_experience_statuses(server, target) == [404] * len(PER_EXPERIENCE)
        listed = call(server, "POST", PRJ + "/experiences", {"only": [target], "include": ["variations"]}).json()
        assert [e["id"] for e in listed["data"]] == [target]
        other = _first(ds, "completed")["id"]
        assert _per_experience_statuses(server, other) == [200] * len(PER_EXPERIENCE)
        server.vanished_experiences.discard(target)
        assert _per_experience_statuses(server, target) == [200] * len(PER_EXPERIENCE)
        server.vanished_experiences = {other}
        assert _per_experience_statuses(server, other) == [404] * len(PER_EXPERIENCE)


def test_purged_experience_is_gone_everywhere(fresh):
    ds = fresh.dataset
    target = _first(ds, "completed")["id"]
    removed = ds.purge_experience(target)
    assert removed["id"] == target
    assert _per_experience_statuses(fresh, target) == [404] * len(PER_EXPERIENCE)
    assert target not in page_all(fresh, PRJ + "/experiences", every_status("experiences"))[0]
    newest = _newest_event(fresh)
    assert (newest["event"], newest["object_id"]) == ("experience.delete", str(target))


def test_sections_for_mvt_experiences(fresh):
    mvt = fresh.dataset.add_experience(type="mvt", status="active")
    path = PRJ + f"/experiences/{mvt['id']}/sections"
    plain = call(fresh, "GET", path).json()["data"]
    assert plain == [{"id": "A", "name": "Section A", "concurrency_key": f"{mvt['id']}-A-1",
                      "versions": [v["id"] for v in mvt["variations"]]}]
    full = call(fresh, "GET", path, query="include[]=versions.changes").json()["data"][0]["versions"]
    assert [v["changes"] for v in full] == [v["changes"] for v in mvt["variations"]]
    assert call(fresh, "GET", path, query="include=versions").status_code == 422


# --------------------------------------------------------------------------- daily report totals
def _daily(server, exp_id, body):
    r = call(server, "POST", PRJ + f"/experiences/{exp_id}/daily_report", body)
    assert r.status_code == 200, r.text
    return {v["id"]: v["stats"] for v in r.json()["data"]["reportData"]["variations"]}


def _revenue_experience(ds):
    revenue = _revenue_goals(ds)
    return next((e, g) for e in ds.started_experiences() for g in e["goals"] if g in revenue)


def test_daily_totals_readings():
    ds = Dataset.generate(seed=7)
    exp, goal = _revenue_experience(ds)
    with ConvertSimulator(dataset=ds) as server:
        day = _daily(server, exp["id"], {"goal": goal})
        own = {}
        for metric in reports.DAILY_METRICS:
            own[metric] = _daily(server, exp["id"], {"goal": goal, "metric": metric})
            for stats in own[metric].values():
                for s in stats:
                    t, n = s["totals"], s["visitors"]
                    assert isinstance(t, (int, float)) and not isinstance(t, bool), "one number, as documented"
                    if metric in reports.AVERAGE_METRICS:
                        assert s["value"] == t  # the sum of the day's average over one day
                    else:
                        scale = 100 if metric == "conversion_rate" else 1
                        assert s["value"] == (round(scale * t / n, 4 if scale == 100 else 6) if n else 0.0)
        assert day == own["conversion_rate"]
        assert any(s["totals"] > 0 for stats in own["avg_revenue_per_visitor"].values() for s in stats)
        assert any(s["totals"] > 0 for stats in own["average_order_value"].values() for s in stats)
        later = day[exp["variations"][0]["id"]][2]["timestamp"]
        server.daily_totals = "running"
        for metric in reports.DAILY_METRICS:
            running = _daily(server, exp["id"], {"goal": goal, "metric": metric, "start_time": later})
            for vid, stats in running.items():
                days = own[metric][vid]
                assert [s["timestamp"] for s in stats] == [s["timestamp"] for s in days[2:]]
                for i, s in enumerate(stats, start=2):
                    assert (s["value"], s["visitors"]) == (days[i]["value"], days[i]["visitors"])
                    assert s["totals"] == pytest.approx(sum(d["totals"] for d in days[:i + 1]))
        cumulative = {"goal": goal, "report_type": "cumulative"}
        running_cumulative = _daily(server, exp["id"], cumulative)
        server.daily_totals = "day"
        assert _daily(server, exp["id"], cumulative) == running_cumulative  # cumulative rows read alike
        server.daily_totals = "broken"
        for vid, stats in _daily(server, exp["id"], {"goal": goal}).items():
            for i, s in enumerate(stats):
                run = sum(d["totals"] for d in day[vid][:i + 1])
                assert s["totals"] not in (day[vid][i]["totals"], run)
                assert (s["value"], s["visitors"]) == (day[vid][i]["value"], day[vid][i]["visitors"])
    with pytest.raises(ValueError, match="daily_totals"):
        ConvertSimulator(daily_totals="weekly")


def test_the_daily_report_has_the_documented_shape():
    ds = Dataset.generate(seed=7)
    exp, goal = _revenue_experience(ds)
    with ConvertSimulator(dataset=ds) as server:
        r = call(server, "POST", PRJ + f"/experiences/{exp['id']}/daily_report", {"goal": goal, "metric": "conversion_rate"})
        data = r.json()["data"]
        assert set(data) == {"variations_data", "reportData"} and set(data["reportData"]) == {"variations", "extra"}
        assert [v["id"] for v in data["variations_data"]] == [v["id"] for v in exp["variations"]]
        (extra,) = data["reportData"]["extra"]
        assert extra["type"] == "total_visitors"
        for index, point in enumerate(extra["stats"]):
            assert point["value"] == sum(v["stats"][index]["visitors"] for v in data["reportData"]["variations"])
            assert all(set(v["stats"][index]) == {"timestamp", "value", "visitors", "totals"}
                       for v in data["reportData"]["variations"])


# --------------------------------------------------------------------------- experience change history
def _exp_history(server, exp_id, body=None, project=PRJ):
    return call(server, "POST", project + f"/experiences/{exp_id}/change-history", body or {})


def test_experience_change_history_paging_and_filters(sim):
    ds = sim.dataset
    exp = next(e for e in ds.started_experiences() if any(v["changes"] for v in e["variations"]))
    r = _exp_history(sim, exp["id"], {"results_per_page": 50})
    assert r.status_code == 200
    body = r.json()
    assert body["extra"]["pagination"]["items_count"] == len(body["data"]) == 2
    assert [e["object"] for e in body["data"]] == ["variation", "change"]  # newest first
    assert all(e["timestamp"] < exp["start_time"] and e["parent_object_id"] == str(exp["id"]) for e in body["data"])
    asc = _exp_history(sim, exp["id"], {"sort_by": "timestamp", "sort_direction": "asc"}).json()["data"]
    assert asc == list(reversed(body["data"]))
    assert [e["object"] for e in _exp_history(sim, exp["id"], {"objects": ["change"]}).json()["data"]] == ["change"]
    first = _exp_history(sim, exp["id"], {"results_per_page": 1, "page": 2}).json()
    assert first["data"] == [body["data"][1]]
    assert first["extra"]["pagination"]["items_count"] == 2
    too_many = _exp_history(sim, exp["id"], {"results_per_page": 51})
    assert too_many.status_code == 422 and too_many.json()["parameters"] == ["results_per_page"]
    assert _exp_history(sim, exp["id"], {"objects": ["experience"]}).status_code == 422
    assert _exp_history(sim, exp["id"], {"sort_by": "id"}).status_code == 422
    assert _exp_history(sim, exp["id"], project=BLOG).status_code == 404


def test_variation_edits_only_in_the_experience_history(fresh):
    ds = fresh.dataset
    exp = next(e for e in ds.started_experiences() if any(v["changes"] for v in e["variations"]))
    newest_project_event = _newest_event(fresh)
    variation = ds.edit_variation(exp["id"], name="Bolder headline", traffic_distribution=40.0)
    change = ds.edit_variation_change(exp["id"], css="color:#f00;")
    assert _newest_event(fresh) == newest_project_event
    events = _exp_history(fresh, exp["id"], {"results_per_page": 2}).json()["data"]
    assert [(e["event"], e["object"], e["object_id"]) for e in events] == [
        ("change.update", "change", str(change["id"])), ("variation.update", "variation", str(variation["id"]))]
    assert {e["parent_object_id"] for e in events} == {str(exp["id"])}
    assert sorted(events[1]["changes"]["new"]) == ["name", "traffic_distribution"]
    assert events[1]["changes"]["new"]["name"] == "Bolder headline"
    assert events[0]["changes"]["new"]["data"]["css"] == "color:#f00;" and "css" not in events[0]["changes"]["old"]["data"]
    listed = call(fresh, "POST", PRJ + "/experiences", {"only": [exp["id"]], "include": ["variations.changes"]})
    variations = {v["id"]: v for v in listed.json()["data"][0]["variations"]}
    assert variations[variation["id"]]["name"] == "Bolder headline"
    assert variations[variation["id"]]["traffic_distribution"] == 40.0
    changes = {c["id"]: c for v in variations.values() for c in v["changes"]}
    assert changes[change["id"]]["data"]["css"] == "color:#f00;"
    with pytest.raises(ValueError):
        ds.edit_variation(exp["id"], colour="red")


def test_variation_edits_mirrored_into_the_project_history():
    ds = Dataset.generate(seed=7)
    exp = _first(ds, "active")
    with ConvertSimulator(dataset=ds, experience_edits_in_project_history=True) as server:
        edited = ds.edit_variation(exp["id"])
        newest = _newest_event(server)
        assert (newest["event"], newest["object"], newest["object_id"]) == ("experience.update", "experience", str(exp["id"]))
        own = _exp_history(server, exp["id"], {"results_per_page": 1}).json()["data"][0]
        assert own["timestamp"] == newest["timestamp"] and own["object_id"] == str(edited["id"])
        assert own["parent_object_id"] == str(exp["id"])
        server.experience_edits_in_project_history = False
        ds.edit_variation(exp["id"], description="quiet")
        assert _newest_event(server) == newest


# --------------------------------------------------------------------------- concurrency peak
def test_peak_in_flight_counts_until_the_response_is_written():
    with ConvertSimulator(latency=0.3) as s:
        threads = [threading.Thread(target=call, args=(s, "POST", PRJ + "/tags", {})) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert s.peak_in_flight == 4
        s.reset_peak()
        assert s.peak_in_flight == 0 and len(s.requests) == 4
        with requests.Session() as session:
            call(s, "POST", PRJ + "/tags", {}, session=session)
            call(s, "POST", PRJ + "/tags", {}, session=session)
        assert s.peak_in_flight == 1
        threads = [threading.Thread(target=call, args=(s, "GET", ACC + "/details")) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert s.peak_in_flight == 3
        s.reset_log()
        assert s.peak_in_flight == 0 and s.requests == []


# --------------------------------------------------------------------------- restricted key
def test_key_restricted_to_some_projects():
    with ConvertSimulator(key_projects={200002, 200004}) as server:
        listed = call(server, "POST", ACC + "/projects", {**ALL_TYPES, "sort_direction": "asc"}).json()
        assert [p["id"] for p in listed["data"]] == [200002, 200004]
        assert listed["extra"]["pagination"]["items_count"] == 2
        forbidden = {"code": 403, "message": "You do not have access to this project"}
        for method, path in (("GET", "/projects/200003"), ("POST", "/projects/200003/experiences"),
                             ("GET", "/projects/200003/sdk-keys"), ("POST", "/projects/999999/goals")):
            r = call(server, method, ACC + path, {} if method == "POST" else None)
            assert (r.status_code, r.json()) == (403, forbidden)
        assert call(server, "POST", BLOG + "/goals", {}).status_code == 200
        server.key_projects = None
        assert call(server, "GET", ACC + "/projects/200003").status_code == 200


def test_cli_options_reach_the_simulator(tmp_path):
    cfg = tmp_path / "config.json"
    proc = subprocess.Popen([sys.executable, "-m", "simulator", "--port", "0", "--no-blog", "--key-projects",
                             "200002", "--daily-totals", "broken", "--vanish-experience", "300001",
                             "--config-out", str(cfg)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        proc.stdout.readline()
        config = json.loads(cfg.read_text())
        server = SimpleNamespace(base_url=config["api_base_url"], key_id=config["key_id"],
                                 key_secret=config["key_secret"])
        listed = call(server, "POST", ACC + "/projects", ALL_TYPES).json()["data"]
        assert [p["id"] for p in listed] == [200002]
        assert call(server, "GET", PRJ + "/experiences/300001").status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
