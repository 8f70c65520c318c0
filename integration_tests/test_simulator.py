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

import pytest
import requests

from integration_tests.simulator import DAY, ConvertSimulator, Dataset, Fault
from integration_tests.simulator.signing import compute_signature, verify_request

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


def page_all(sim, path, body, per_page=50):
    """All records across pages plus the first page's pagination block."""
    ids, first_extra, page = [], None, 1
    while True:
        r = call(sim, "POST", path, dict(body, page=page, results_per_page=per_page))
        assert r.status_code == 200, r.text
        payload = r.json()
        first_extra = first_extra or payload["extra"]
        ids += [rec["id"] for rec in payload["data"]]
        if len(payload["data"]) < per_page:
            return ids, first_extra, page
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
    ({"headers": {"Authorization": "Bearer abc"}}, "Invalid signature"),
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
    assert "stats" in exp and isinstance(exp["goals"][0], dict)
    plain = call(sim, "GET", path, query="include=stats")
    assert plain.status_code == 422 and plain.json()["parameters"] == ["include"]


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
@pytest.mark.parametrize("collection, body, expected", [
    ("experiences", {"sort_by": "id", "sort_direction": "asc"}, 120),
    ("goals", {"sort_by": "id", "sort_direction": "asc"}, 37),
    ("audiences", {"sort_by": "id"}, 12),
    ("locations", {}, 8),
    ("hypotheses", {"sort_by": "id"}, 23),
    ("knowledge-bases", {"sort_by": "updated_at", "sort_direction": "asc"}, 51),
    ("observations", {"sort_by": "name"}, 50),
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
    only = call(sim, "POST", PRJ + "/change-history", {"experiences": [target]}).json()["data"]
    assert only and all(e["object_id"] == target for e in only)


def test_projects_default_to_web(sim):
    web = call(sim, "POST", ACC + "/projects", {}).json()
    assert [p["id"] for p in web["data"]] == [200002]
    both = call(sim, "POST", ACC + "/projects", {"project_type": ["web", "fullstack"], "sort_direction": "asc"}).json()
    assert [p["id"] for p in both["data"]] == [200002, 200003]


def test_only_count_and_pagination_off():
    with ConvertSimulator(pagination_count=False) as no_count:
        r = call(no_count, "POST", PRJ + "/goals", {"results_per_page": 50})
        assert r.json()["extra"] == {} and len(r.json()["data"]) == 37
    with ConvertSimulator() as counted:
        r = call(counted, "POST", PRJ + "/goals", {"onlyCount": True})
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
        assert s.max_in_flight == 5
        s.reset_log()
        with requests.Session() as session:  # keep-alive: two sequential calls on one connection
            call(s, "POST", PRJ + "/tags", {}, session=session)
            call(s, "POST", PRJ + "/tags", {}, session=session)
        assert s.max_in_flight == 1 and s.count("POST", r"/tags$", 200) == 2


# --------------------------------------------------------------------------- mutations & reports
def test_mutation_helpers_visible(fresh):
    ds = fresh.dataset
    before = call(fresh, "POST", PRJ + "/experiences", {"onlyCount": True}).json()["extra"]["pagination"]["items_count"]
    new = ds.add_experience(name="Brand new test", status="active")
    after = call(fresh, "POST", PRJ + "/experiences", {"only": [new["id"]]}).json()
    assert after["data"][0]["name"] == "Brand new test" and after["data"][0]["start_time"] == ds.now
    assert call(fresh, "POST", PRJ + "/experiences", {"onlyCount": True}).json()["extra"]["pagination"]["items_count"] == before + 1
    newest = call(fresh, "POST", PRJ + "/change-history", {"results_per_page": 1}).json()["data"][0]
    assert (newest["event"], newest["object_id"]) == ("experience.create", new["id"])
    ds.update_experience(300002, name="Renamed")
    assert call(fresh, "GET", PRJ + "/experiences/300002").json()["name"] == "Renamed"
    newest2 = call(fresh, "POST", PRJ + "/change-history", {"results_per_page": 1}).json()["data"][0]
    assert newest2["event"] == "experience.update" and newest2["timestamp"] > newest["timestamp"]
    event = ds.add_history_event(object="goal", object_id=600001, event="goal.update")
    assert call(fresh, "POST", PRJ + "/change-history", {"results_per_page": 1}).json()["data"][0]["id"] == event["id"]
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
    assert report["goal_id"] == active["goals"][0]
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


# --------------------------------------------------------------------------- CLI
def test_cli_serves_and_exits_cleanly(tmp_path):
    cfg = tmp_path / "config.json"
    proc = subprocess.Popen([sys.executable, "-m", "integration_tests.simulator", "--port", "0",
                             "--config-out", str(cfg)], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("Convert simulator listening on http://127.0.0.1:")
        config = json.loads(cfg.read_text())
        assert config["api_base_url"] == line.rsplit(" ", 1)[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    refused = subprocess.run([sys.executable, "-m", "integration_tests.simulator", "--host", "0.0.0.0"],
                             cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert refused.returncode != 0 and "refusing" in refused.stderr
