"""The key secret never leaves the connector: every command and failure mode, run with ``--debug``, is
grepped for it (stdout: records, logs at every level, traces; stderr). Credentials that Convert itself
returns (``/api-keys``, ``/sdk-keys``) are never requested, so they can never be synced or logged.

With the secret-key method the secret is in the ``Authorization`` header of every request, which the
CDK logs at debug level: its secret holds characters that JSON and ``repr`` escape, so a leak could
not hide behind the CDK's own masking of config secrets (which matches the raw text only)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List

import pytest

from integration_tests.harness import REPO_ROOT, configured_catalog, run_connector
from simulator import ConvertSimulator, Dataset, Fault
from simulator import server as simulator_server

SECRET = "CANARY-k3y-s3cr3t-9f2c7e1d4b"
WRONG_SECRET = "CANARY-wr0ng-s3cr3t-61be0a77"
BEARER_SECRET = 'CANARY-b3ar"q\\uote-s3cr3t-77d1'
FRAGMENTS = ("k3y-s3cr3t-9f2c7e1d4b", "wr0ng-s3cr3t-61be0a77", "LEAKED-SECRET", "CANARY-b3ar", "s3cr3t-77d1")
EXP_LIST = r"/projects/\d+/experiences$"
DEBUG = ["--debug"]


@dataclass
class Outcome:
    """All output of one scenario's runs, plus what the simulator saw."""

    runs: Dict[str, Any] = field(default_factory=dict)
    paths: List[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(f"{run.stdout}\n{run.stderr}" for run in self.runs.values())


def _sim(key_id: str, **kwargs: Any) -> ConvertSimulator:
    kwargs.setdefault("key_secret", SECRET)
    return ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=60), key_id=key_id, **kwargs)


def _with_faults(key_id: str, faults: List[Fault], commands: Dict[str, Callable[[ConvertSimulator], Any]],
                 **options: Any) -> Outcome:
    with _sim(key_id, **options) as server:
        for fault in faults:
            server.inject(fault)
        outcome = Outcome({name: command(server) for name, command in commands.items()})
        outcome.paths = [r.path for r in server.requests]
    return outcome


def _read(streams: List[str], **overrides: Any) -> Callable[[ConvertSimulator], Any]:
    return lambda server: run_connector("read", server.config(**overrides), configured_catalog(streams), extra_args=DEBUG)


def _check(**overrides: Any) -> Callable[[ConvertSimulator], Any]:
    return lambda server: run_connector("check", server.config(**overrides), extra_args=DEBUG)


def _discover(**overrides: Any) -> Callable[[ConvertSimulator], Any]:
    return lambda server: run_connector("discover", server.config(**overrides), extra_args=DEBUG)


def _raw_config_file(text: str) -> Any:
    """``check`` and ``read`` with a config file holding ``text`` as is (e.g. broken JSON around the secret)."""
    runs = {}
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "config.json")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        catalog = os.path.join(directory, "catalog.json")
        with open(catalog, "w", encoding="utf-8") as handle:
            json.dump(configured_catalog(["experiences"]), handle)
        for command, extra in (("check", []), ("read", ["--catalog", catalog])):
            completed = subprocess.run(
                [sys.executable, "-m", "source_convert.run", command, "--config", path, *extra, "--debug"],
                capture_output=True, text=True, timeout=120, cwd=directory,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
            )
            runs[command] = completed
    return Outcome(runs)


def scenario_healthy() -> Outcome:
    with _sim("key-healthy") as server:
        discover = run_connector("discover", server.config(), extra_args=DEBUG)
        catalog = configured_catalog(
            [s["name"] for s in discover.catalog["streams"]], discovered=discover.catalog
        )
        outcome = Outcome({
            "spec": run_connector("spec", extra_args=DEBUG),
            "check": run_connector("check", server.config(), extra_args=DEBUG),
            "discover": discover,
            "read": run_connector("read", server.config(), catalog, extra_args=DEBUG),
        })
        outcome.paths = [r.path for r in server.requests]
    return outcome


# One read where every stream meets a different failure mode (each stream fails or recovers on its own).
FAULTED_STREAMS = {
    # the check's request (the account's projects list, before the read too)
    "projects": Fault(429, times=10**6, path_regex=r"/accounts/\d+/projects$", retry_after=0),
    "tags": Fault(429, times=10**6, path_regex=r"/tags$", retry_after=0),
    "goals": Fault(503, times=10**6, path_regex=r"/goals$", retry_after=0),
    "audiences": Fault(kind="not_json", times=10**6, path_regex=r"/audiences$", retry_after=0),
    "locations": Fault(kind="no_data", times=10**6, path_regex=r"/locations$", retry_after=0),
    "hypotheses": Fault(404, times=1, path_regex=r"/hypotheses$"),
    "experiences": Fault(kind="reset", times=1, path_regex=EXP_LIST),
    "domains": Fault(500, times=2, path_regex=r"/domains$", retry_after=0,
                     body='{"code":500,"message":"Too many requests"}'),
    "observations": None,  # its first request is judged expired (see _ExpiringSpy)
}
FAILING = {"projects", "tags", "goals", "audiences", "locations", "hypotheses"}
EXPIRED_PATH = r"/observations$"


def scenario_faults() -> Outcome:
    faults = [fault for fault in FAULTED_STREAMS.values() if fault is not None]
    return _with_faults("key-faults", faults, {
        "check": _check(),  # projects: 429 until the retry budget is spent (before the read too)
        "read": _read(sorted(FAULTED_STREAMS)),
    })


SCENARIOS: Dict[str, Callable[[], Outcome]] = {
    "healthy_spec_check_discover_read_all_streams": scenario_healthy,
    "failure_modes_per_stream": scenario_faults,
    "wrong_secret": lambda: _with_faults(
        "key-wrong", [], {"check": _check(key_secret=WRONG_SECRET), "read": _read(["experiences"], key_secret=WRONG_SECRET)}),
    "invalid_config_around_the_secret": lambda: _with_faults("key-badcfg", [], {
        "secret_with_space_check": _check(key_secret=SECRET + " " + SECRET),
        "secret_too_long_read": _read(["experiences"], key_secret=SECRET * 40),
        "secret_wrong_type_discover": _discover(key_secret=[SECRET]),
        "bad_url_check": _check(api_base_url="http://example.com/api/v2"),
    }),
    "broken_config_json": lambda: _raw_config_file('{"key_id": "k", "key_secret": "%s", "account_id": ' % SECRET),
    "bearer_check_and_read": lambda: _with_faults("key-bearer", [Fault(503, times=1, path_regex=r"/goals$", retry_after=0)], {
        "check": _check(),
        "read": _read(["projects", "goals", "experiences", "experience_sections", "change_history"],
                      project_id="200002, 200004"),  # 200004 has the multivariate experiences (a query string)
    }, key_auth_type="secretKey", key_secret=BEARER_SECRET),
    "bearer_wrong_secret": lambda: _with_faults("key-bearer-wrong", [], {
        "check": _check(key_secret=WRONG_SECRET), "read": _read(["goals"], key_secret=WRONG_SECRET),
    }, key_auth_type="secretKey", key_secret=BEARER_SECRET),
    "bearer_to_a_signing_key": lambda: _with_faults("key-bearer-refused", [], {
        "check": _check(auth_method="secret_key"), "read": _read(["goals"], auth_method="secret_key"),
    }, key_secret=BEARER_SECRET),
    "signature_to_a_secret_key_key": lambda: _with_faults("key-signed-refused", [], {
        "check": _check(auth_method="request_signing"), "read": _read(["goals"], auth_method="request_signing"),
    }, key_auth_type="secretKey", key_secret=BEARER_SECRET),
}


class _ExpiringSpy:
    """Makes the simulator of ``key-faults`` judge its first observations request as expired."""

    def __init__(self) -> None:
        self.real = simulator_server.verify_request
        self.done = False

    def __call__(self, headers, full_url, body, key_id, key_secret, now=None, **options):
        if key_id == "key-faults" and not self.done and re.search(EXPIRED_PATH, full_url):
            self.done = True
            now = time.time() + 400
        return self.real(headers, full_url, body, key_id, key_secret, now=now, **options)


@pytest.fixture(scope="module")
def outcomes() -> Dict[str, Outcome]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(simulator_server, "verify_request", _ExpiringSpy())
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = {name: pool.submit(run) for name, run in SCENARIOS.items()}
            return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_no_secret_in_any_output(outcomes, name):
    text = outcomes[name].text
    assert text.strip(), "the scenario produced output"
    for secret in (SECRET, WRONG_SECRET, BEARER_SECRET) + FRAGMENTS:
        assert secret not in text, f"{secret!r} leaked in scenario {name}"


def test_scenarios_reached_the_failure_modes(outcomes):
    """Each scenario did exercise what it is named after (else the grep above proves nothing)."""
    healthy = outcomes["healthy_spec_check_discover_read_all_streams"].runs
    assert healthy["check"].connection_status["status"] == "SUCCEEDED"
    assert healthy["read"].returncode == 0
    assert set(healthy["read"].counts()) >= {"account", "experiences", "experience_details", "goals",
                                             "change_history", "aggregated_reports", "daily_reports"}
    debug = [line for line in healthy["read"].stdout.splitlines() if line.startswith('{"type": "DEBUG"')]
    assert any("Authorization" in line for line in debug), "request headers are logged at debug level"

    faults = outcomes["failure_modes_per_stream"]
    assert faults.runs["check"].connection_status["status"] == "FAILED"
    read = faults.runs["read"]
    assert read.returncode != 0
    failed = {(e.get("stream_descriptor") or {}).get("name") for e in read.errors}
    assert FAILING <= failed, failed
    assert set(read.counts()) == set(FAULTED_STREAMS) - FAILING, "the recovering streams were read in full"
    assert sum(1 for path in faults.paths if re.search(EXPIRED_PATH, path)) == 2, "expired once, then re-signed"

    wrong = outcomes["wrong_secret"].runs
    assert wrong["check"].connection_status["status"] == "FAILED"
    assert wrong["read"].returncode != 0 and wrong["read"].errors[0]["failure_type"] == "config_error"
    bad = outcomes["invalid_config_around_the_secret"].runs
    assert "key_secret" in bad["secret_with_space_check"].connection_status["message"]
    assert "key_secret" in bad["secret_too_long_read"].errors[0]["message"]
    assert "key_secret" in bad["secret_wrong_type_discover"].errors[0]["message"]
    assert "api_base_url" in bad["bad_url_check"].connection_status["message"]
    broken = outcomes["broken_config_json"].runs
    assert broken["check"].returncode == 0 and "not valid JSON" in broken["check"].stdout
    assert broken["read"].returncode == 1

    bearer = outcomes["bearer_check_and_read"].runs
    assert bearer["check"].connection_status["status"] == "SUCCEEDED"
    assert bearer["read"].returncode == 0 and {"goals", "experience_sections"} <= set(bearer["read"].counts())
    debug = [line for line in bearer["read"].stdout.splitlines() if line.startswith('{"type": "DEBUG"')]
    assert any("Bearer key-bearer:****" in line for line in debug), "the Bearer header is logged, masked"
    assert any("HTTP 503" in line or "503" in line for line in bearer["read"].stdout.splitlines()), "a retried request"
    for name, method in (("bearer_wrong_secret", "secret_key"), ("bearer_to_a_signing_key", "secret_key"),
                         ("signature_to_a_secret_key_key", "request_signing")):
        runs = outcomes[name].runs
        assert runs["check"].connection_status["status"] == "FAILED", name
        assert f"authentication method '{method}'" in runs["check"].connection_status["message"], name
        assert runs["read"].returncode != 0 and runs["read"].errors[0]["failure_type"] == "config_error", name


def test_credential_endpoints_are_never_requested(outcomes):
    every_path = [path for outcome in outcomes.values() for path in outcome.paths]
    assert len(every_path) > 50
    assert not [path for path in every_path if path.endswith(("/api-keys", "/sdk-keys"))]
