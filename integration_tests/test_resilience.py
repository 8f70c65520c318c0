"""Resilience end to end: rate limits, auth failures, transient faults, malformed answers, pacing and load.

Most tests run the real CLI against the simulator. A few run the same entrypoint in-process with one
manifest value shrunk (read timeout, backoff base, signature lifetime, budget window) so that waits
which take minutes in production take a second here; those say so.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

import pytest
import yaml

from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer, ConnectorSpecification, ConnectorSpecificationSerializer
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read as read_in_process_entrypoint
from airbyte_cdk.test.models.scenario import ExpectedOutcome

import source_convert
from integration_tests.harness import configured_catalog, primary_key_values, run_connector
from simulator import WEB_PROJECT_ID, ConvertSimulator, Dataset, Fault
from simulator import server as simulator_server
from source_convert.components import authenticator as authenticator_module
from source_convert.components.pacing import RequestBudget
from source_convert.components.report_vocabulary import METRICS
from source_convert.source import SourceConvert

MANIFEST_PATH = Path(source_convert.__file__).resolve().parent / "manifest.yaml"
MANIFEST = yaml.safe_load(MANIFEST_PATH.read_text())
MAX_ATTEMPTS = int(MANIFEST["definitions"]["error_handler"]["max_retries"]) + 1
EXP_LIST = r"/projects/\d+/experiences$"
EXP_PATH = "/api/v2/accounts/100001/projects/200002/experiences"
TOO_MANY = '{"code":500,"message":"Too many requests"}'


# --------------------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def sim():
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=120)) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(request):
    if "sim" in request.fixturenames:
        server = request.getfixturevalue("sim")
        server.clear_faults()
        server.reset_log()
    yield


def experience_ids(dataset: Dataset) -> set:
    return {record["id"] for record in dataset.records(WEB_PROJECT_ID, "experiences")}


def assert_exactly_once(records: List[Dict[str, Any]], key: List[str], expected: set) -> None:
    keys = primary_key_values(records, key)
    expected = {k if isinstance(k, tuple) else (k,) for k in expected}
    duplicates = [k for k, n in Counter(keys).items() if n > 1]
    assert not duplicates, f"{len(duplicates)} keys emitted more than once, e.g. {duplicates[:3]}"
    missing, extra = expected - set(keys), set(keys) - expected
    assert not missing and not extra, f"missing {len(missing)} (e.g. {sorted(missing)[:3]}), extra {len(extra)}"


def list_requests(server: ConvertSimulator, path_regex: str = EXP_LIST):
    pattern = re.compile(path_regex)
    return sorted((r for r in server.requests if pattern.search(r.path)), key=lambda r: r.started)


def read(server: ConvertSimulator, streams: List[str], **config: Any):
    return run_connector("read", server.config(**config), configured_catalog(streams))


class SignatureSpy:
    """Wraps the simulator's signature check: records every request's auth headers, and can make the
    simulator's clock run ``skew`` seconds ahead for the first ``times`` requests matching ``path_regex``
    (so a correctly signed request is judged expired by the simulator's own check)."""

    def __init__(self, path_regex: str = EXP_LIST, skew: float = 0.0, times: int = 0) -> None:
        self.seen: List[Tuple[str, str, str]] = []
        self._pattern = re.compile(path_regex)
        self._skew, self._left = skew, times
        self._lock = threading.Lock()
        self._real = simulator_server.verify_request

    def __call__(self, headers, full_url, body, key_id, key_secret, now=None, **options):
        path = urlsplit(full_url).path
        with self._lock:
            self.seen.append((path, headers.get("Expires"), headers.get("Authorization")))
            shift = self._pattern.search(path) is not None and self._left > 0
            if shift:
                self._left -= 1
        return self._real(headers, full_url, body, key_id, key_secret, now=time.time() + self._skew if shift else now,
                          **options)

    def of(self, path_regex: str = EXP_LIST) -> List[Tuple[str, str]]:
        pattern = re.compile(path_regex)
        return [(expires, auth) for path, expires, auth in self.seen if pattern.search(path)]


class TunedSource(SourceConvert):
    """The packaged manifest with a few values changed by ``tune`` (for in-process runs only)."""

    def __init__(self, tune: Callable[[Dict[str, Any]], None], **kwargs: Any) -> None:
        self._tune = tune
        super().__init__(**kwargs)

    def spec(self, logger: Any) -> ConnectorSpecification:  # the CDK looks for spec.json beside the class
        return ConnectorSpecificationSerializer.load(json.loads((MANIFEST_PATH.parent / "spec.json").read_text()))

    def _read_and_parse_yaml_file(self, path_to_yaml_file: str):
        manifest = self._parse(MANIFEST_PATH.read_text())
        self._tune(manifest)
        return manifest


def fast_retries(manifest: Dict[str, Any], read_timeout: Optional[float] = None) -> None:
    """Backoff base 50 ms (cap 200 ms) instead of 1 s, and optionally a short read timeout."""
    (backoff,) = manifest["definitions"]["error_handler"]["backoff_strategies"]
    backoff.update(base_seconds=0.05, max_seconds=0.2)
    if read_timeout is not None:
        manifest["definitions"]["requester"]["read_timeout_in_seconds"] = read_timeout


def read_in_process(config: Dict[str, Any], streams: List[str], tune: Callable[[Dict[str, Any]], None],
                    expect_failure: bool = False) -> EntrypointOutput:
    catalog = ConfiguredAirbyteCatalogSerializer.load(configured_catalog(streams))
    source = TunedSource(tune, catalog=catalog, config=config, state=None)
    outcome = ExpectedOutcome.EXPECT_EXCEPTION if expect_failure else ExpectedOutcome.EXPECT_SUCCESS
    return read_in_process_entrypoint(source, config, catalog, expected_outcome=outcome)


def in_process_records(output: EntrypointOutput, stream: str) -> List[Dict[str, Any]]:
    return [m.record.data for m in output.records if m.record.stream == stream]


def in_process_errors(output: EntrypointOutput) -> List[Any]:
    return [m.trace.error for m in output.errors]


# --------------------------------------------------------------------------- rate limits
def test_429_honours_retry_after_and_every_retry_is_re_signed(sim, monkeypatch):
    spy = SignatureSpy()
    monkeypatch.setattr(simulator_server, "verify_request", spy)
    fault = sim.inject(Fault(429, times=2, path_regex=EXP_LIST, retry_after=1))
    result = read(sim, ["experiences"], max_concurrent_requests=1)

    assert result.returncode == 0, result.errors
    assert fault.hits == 2
    assert_exactly_once(result.records_of("experiences"), ["id"], experience_ids(sim.dataset))
    attempts = list_requests(sim)
    assert [r.status for r in attempts[:3]] == [429, 429, 200]
    assert all(r.auth_ok for r in sim.requests)
    for before, after in zip(attempts, attempts[1:3]):
        gap = after.started - before.ended
        # Retry-After: 1 is waited (plus at most 10 % spread), not the CDK's own extra second on top
        assert 0.95 <= gap <= 1.6, gap
    signed = spy.of()
    assert len(signed) == len(attempts)
    (e1, a1), (e2, a2), (e3, a3) = signed[:3]
    assert int(e1) < int(e2) < int(e3), "each retry carries a fresh Expires"
    assert len({a1, a2, a3}) == 3, "each retry carries a new signature"


def test_429_without_retry_after_backs_off_exponentially_with_jitter(sim):
    streams = ["goals", "audiences", "locations", "hypotheses", "tags", "domains"]
    for stream_path in ("goals", "audiences", "locations", "hypotheses", "tags", "domains"):
        sim.inject(Fault(429, times=1, path_regex=rf"/projects/\d+/{stream_path}$"))
    result = read(sim, streams, max_concurrent_requests=6)

    assert result.returncode == 0, result.errors
    gaps = []
    for stream_path in ("goals", "audiences", "locations", "hypotheses", "tags", "domains"):
        first, second = list_requests(sim, rf"/projects/\d+/{stream_path}$")[:2]
        assert (first.status, second.status) == (429, 200)
        gaps.append(second.started - first.ended)
    # first retry: min(60, 1 * 2^0) * U(0.5, 1) seconds
    assert all(0.45 <= gap <= 1.35 for gap in gaps), gaps
    assert max(gaps) - min(gaps) > 0.05, f"waits are not jittered: {gaps}"


def test_500_too_many_requests_is_treated_as_a_rate_limit(sim):
    fault = sim.inject(Fault(500, times=2, path_regex=EXP_LIST, retry_after=0, body=TOO_MANY))
    result = read(sim, ["experiences"])

    assert result.returncode == 0, result.errors
    assert fault.hits == 2
    assert_exactly_once(result.records_of("experiences"), ["id"], experience_ids(sim.dataset))
    statuses = [m["trace"]["stream_status"] for m in result.of_type("TRACE") if m["trace"]["type"] == "STREAM_STATUS"]
    rate_limited = [s for s in statuses if any(reason.get("type") == "RATE_LIMITED" for reason in s.get("reasons") or [])]
    assert len(rate_limited) == 2, "each 'too many requests' 500 is reported as rate limiting, not a plain error"


def test_persistent_429_gives_up_after_the_retry_budget(sim):
    sim.inject(Fault(429, times=10**6, path_regex=EXP_LIST, retry_after=0))
    result = read(sim, ["experiences"])

    assert result.returncode != 0
    assert len(list_requests(sim)) == MAX_ATTEMPTS
    assert result.records_of("experiences") == []
    stream_errors = [e for e in result.errors if (e.get("stream_descriptor") or {}).get("name") == "experiences"]
    assert stream_errors and stream_errors[0]["failure_type"] == "transient_error"
    assert f"POST {EXP_PATH} answered HTTP 429" in stream_errors[0]["internal_message"]


# --------------------------------------------------------------------------- authentication
def test_expired_signature_401_is_retried_with_a_fresh_signature(sim, monkeypatch):
    spy = SignatureSpy(skew=400, times=1)
    monkeypatch.setattr(simulator_server, "verify_request", spy)
    result = read(sim, ["experiences"])

    assert result.returncode == 0, result.errors
    assert_exactly_once(result.records_of("experiences"), ["id"], experience_ids(sim.dataset))
    attempts = list_requests(sim)
    assert [(r.status, r.auth_error) for r in attempts[:2]] == [(401, "Expired signature"), (200, None)]
    (_, first_auth), (_, second_auth) = spy.of()[:2]
    assert first_auth != second_auth


# --------------------------------------------------------------------------- transient faults
def test_5xx_and_connection_resets_are_retried_until_the_page_arrives(sim):
    sim.inject(Fault(503, times=1, path_regex=EXP_LIST, retry_after=0))
    sim.inject(Fault(502, times=1, path_regex=EXP_LIST, retry_after=0))
    sim.inject(Fault(504, times=1, path_regex=EXP_LIST, retry_after=0))
    sim.inject(Fault(500, times=1, path_regex=EXP_LIST, retry_after=0))
    resets = sim.inject(Fault(kind="reset", times=2, path_regex=r"/projects/\d+/goals$"))
    result = read(sim, ["experiences", "goals"])

    assert result.returncode == 0, result.errors
    assert resets.hits == 2
    assert_exactly_once(result.records_of("experiences"), ["id"], experience_ids(sim.dataset))
    expected_goals = {g["id"] for g in sim.dataset.records(WEB_PROJECT_ID, "goals")}
    assert_exactly_once(result.records_of("goals"), ["id"], expected_goals)
    assert Counter(r.status for r in list_requests(sim))[200] == 3  # three pages, each fetched once


def test_persistent_5xx_fails_with_a_trace_naming_stream_request_and_status(sim):
    sim.inject(Fault(503, times=10**6, path_regex=EXP_LIST, retry_after=0))
    result = read(sim, ["experiences"])

    assert result.returncode != 0
    assert len(list_requests(sim)) == MAX_ATTEMPTS
    stream_errors = [e for e in result.errors if (e.get("stream_descriptor") or {}).get("name") == "experiences"]
    assert stream_errors, result.errors
    message = stream_errors[0]["message"]
    assert "Stream 'experiences'" in message and f"POST {EXP_PATH}" in message and "HTTP 503" in message


def test_read_timeouts_are_retried_then_succeed(sim):
    """In-process: read timeout 0.5 s and backoff base 50 ms instead of 120 s and 1 s."""
    slow = sim.inject(Fault(kind="slow", delay=1.2, times=2, path_regex=EXP_LIST))
    output = read_in_process(sim.config(), ["experiences"], lambda m: fast_retries(m, read_timeout=0.5))

    assert not in_process_errors(output)
    assert slow.hits == 2
    assert_exactly_once(in_process_records(output, "experiences"), ["id"], experience_ids(sim.dataset))


@pytest.mark.parametrize("kind, exception", [("slow", "ReadTimeout"), ("reset", "ConnectionError")])
def test_persistent_timeouts_and_resets_fail_bounded(sim, kind, exception):
    """In-process: read timeout 0.3 s and backoff base 50 ms, so the whole retry budget takes seconds."""
    fault = sim.inject(Fault(kind=kind, delay=0.6 if kind == "slow" else 0.0, times=10**6, path_regex=EXP_LIST))
    started = time.monotonic()
    output = read_in_process(sim.config(), ["experiences"], lambda m: fast_retries(m, read_timeout=0.3),
                             expect_failure=True)

    assert time.monotonic() - started < 60
    assert fault.hits == MAX_ATTEMPTS
    assert in_process_records(output, "experiences") == []
    errors = in_process_errors(output)
    named = [e for e in errors if e.stream_descriptor is not None and e.stream_descriptor.name == "experiences"]
    assert named, [e.message for e in errors]
    assert "Stream 'experiences'" in named[0].message and f"POST {EXP_PATH}" in named[0].message
    assert exception in named[0].message


# --------------------------------------------------------------------------- malformed answers
@pytest.mark.parametrize("kind", ["not_json", "no_data"])
def test_malformed_200_is_retried_then_read_in_full(sim, kind):
    fault = sim.inject(Fault(kind=kind, times=1, path_regex=EXP_LIST, retry_after=0))
    result = read(sim, ["experiences"])

    assert result.returncode == 0, result.errors
    assert fault.hits == 1
    assert len(list_requests(sim)) == 3 + 1
    assert_exactly_once(result.records_of("experiences"), ["id"], experience_ids(sim.dataset))


@pytest.mark.parametrize("kind, problem", [("not_json", "is not JSON"), ("no_data", "has no 'data' field")])
def test_persistent_malformed_200_fails_the_stream_clearly(sim, kind, problem):
    # rules fire in injection order: a harmless one answers page 1, every later answer is malformed
    first_page_ok = sim.inject(Fault(kind="slow", times=1, path_regex=EXP_LIST))
    sim.inject(Fault(kind=kind, times=10**6, path_regex=EXP_LIST, retry_after=0))
    result = read(sim, ["experiences"])

    assert first_page_ok.hits == 1
    assert result.returncode != 0
    assert len(list_requests(sim)) == 1 + MAX_ATTEMPTS
    assert len(result.records_of("experiences")) == 50  # page 1 only; nothing after it was guessed at
    stream_errors = [e for e in result.errors if (e.get("stream_descriptor") or {}).get("name") == "experiences"]
    assert stream_errors, result.errors
    message = stream_errors[0]["message"]
    assert "Stream 'experiences'" in message and f"POST {EXP_PATH}" in message and problem in message


def test_records_not_matching_the_schema_are_still_emitted():
    dataset = Dataset.generate(seed=7, experiences=5)
    odd_id = min(experience_ids(dataset))
    with dataset.lock:
        record = dataset.store[WEB_PROJECT_ID]["experiences"][odd_id]
        record["name"] = 12345
        record["start_time"] = "not-a-number"
    with ConvertSimulator(dataset=dataset) as server:
        result = read(server, ["experiences"])
    assert result.returncode == 0, result.errors
    (odd,) = [r for r in result.records_of("experiences") if r["id"] == odd_id]
    assert odd["name"] == 12345 and odd["start_time"] == "not-a-number"
    assert len(result.records_of("experiences")) == 5


# --------------------------------------------------------------------------- pacing
@pytest.fixture(scope="module")
def slow_sim():
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=60), latency=0.05) as server:
        yield server


@pytest.mark.parametrize("limit", [1, 3])
def test_max_concurrent_requests_is_never_exceeded_and_is_reached(slow_sim, limit):
    slow_sim.reset_log()
    streams = ["experiences", "goals", "audiences", "locations", "hypotheses", "knowledge_bases", "tags",
               "aggregated_reports"]
    result = read(slow_sim, streams, max_concurrent_requests=limit)
    assert result.returncode == 0, result.errors
    assert len(slow_sim.requests) > 20
    assert slow_sim.peak_in_flight == limit


def test_requests_per_minute_budget_is_respected_and_no_signature_expires(sim, monkeypatch):
    """In-process: a 3 s budget window instead of 60 s, and signatures valid 2 s instead of 300 s, so a
    request signed before waiting for the budget would reach the simulator expired."""
    window, per_window = 3.0, 3
    monkeypatch.setattr(RequestBudget, "WINDOW_SECONDS", window)
    monkeypatch.setattr(authenticator_module, "_BUDGETS", {})

    def tune(manifest):
        manifest["definitions"]["authenticator"]["expires_in_seconds"] = 2

    streams = ["goals", "audiences", "locations", "hypotheses", "knowledge_bases", "tags", "domains"]
    output = read_in_process(sim.config(requests_per_minute=per_window, max_concurrent_requests=4), streams, tune)

    assert not in_process_errors(output)
    made = sorted(r.started for r in sim.requests)
    assert len(made) >= 2 * per_window + 1
    assert all(r.status == 200 and r.auth_ok for r in sim.requests), "no 401: every signature was fresh"
    for i in range(len(made) - per_window):
        assert made[i + per_window] - made[i] >= window - 0.1, f"more than {per_window} starts within {window} s"
    assert made[-1] - made[0] >= window * ((len(made) - 1) // per_window) - 0.2


# --------------------------------------------------------------------------- load
LOAD_FAULTS = (
    lambda: Fault(429, times=10**9, every=9, retry_after=0),
    lambda: Fault(500, times=10**9, every=19, retry_after=0.05, body=TOO_MANY),
)


def expected_aggregated(dataset: Dataset) -> set:
    """(experience, goal, variation, metric): conversion_rate for every goal, the four others for revenue goals."""
    def metrics(project: int, goal: int) -> List[str]:
        revenue = (dataset.find(project, "goals", goal) or {}).get("type") == "revenue"
        return list(METRICS) if revenue else ["conversion_rate"]

    return {
        (e["id"], goal, variation["id"], metric)
        for e in dataset.started_experiences()
        for goal in e["goals"] for variation in e["variations"] for metric in metrics(e["project"], goal)
    }


def test_load_10k_experiences_under_rate_limits_and_random_503s():
    dataset = Dataset.generate(seed=7, experiences=10_000)
    with ConvertSimulator(dataset=dataset, random_503=0.005, seed=3) as server:
        faults = [server.inject(make()) for make in LOAD_FAULTS]
        started = time.monotonic()
        result = read(server, ["experiences", "experience_details", "aggregated_reports"], max_concurrent_requests=10)
        elapsed = time.monotonic() - started
        statuses = Counter(r.status for r in server.requests)

    assert result.returncode == 0, result.errors[:2]
    assert elapsed < 240, elapsed
    assert all(f.hits > 100 for f in faults) and statuses[503] > 10, statuses
    ids = experience_ids(dataset)
    assert len(ids) == 10_000
    assert_exactly_once(result.records_of("experiences"), ["id"], ids)
    assert_exactly_once(result.records_of("experience_details"), ["id"], ids)
    assert_exactly_once(result.records_of("aggregated_reports"), ["experience_id", "goal_id", "variation_id", "metric"],
                        expected_aggregated(dataset))


def test_load_daily_reports_under_rate_limits_and_random_503s():
    """daily_reports at 10k experiences is ~1M rows and ~7 min here, so it gets a smaller account."""
    dataset = Dataset.generate(seed=11, experiences=150)
    with ConvertSimulator(dataset=dataset, random_503=0.005, seed=4) as server:
        faults = [server.inject(make()) for make in LOAD_FAULTS]
        result = read(server, ["daily_reports", "aggregated_reports"], max_concurrent_requests=10)

    assert result.returncode == 0, result.errors[:2]
    assert all(f.hits > 5 for f in faults)
    started = dataset.started_experiences()
    revenue_goals = {g["id"] for g in dataset.records(WEB_PROJECT_ID, "goals") if g["type"] == "revenue"}
    metrics = {goal: ["conversion_rate"] + (["avg_revenue_per_visitor", "avg_products_ordered_per_visitor"]
                                            if goal in revenue_goals else [])
               for e in started for goal in e["goals"]}
    expected_daily = {
        (e["id"], goal, variation["id"], time.strftime("%Y-%m-%d", time.gmtime(day)), metric)
        for e in started for goal in e["goals"] for variation in e["variations"] for day in dataset.run_days(e)
        for metric in metrics[goal]
    }
    assert_exactly_once(result.records_of("daily_reports"),
                        ["experience_id", "goal_id", "variation_id", "day", "metric"], expected_daily)
    assert_exactly_once(result.records_of("aggregated_reports"), ["experience_id", "goal_id", "variation_id", "metric"],
                        expected_aggregated(dataset))
