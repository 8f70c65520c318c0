"""Both authentication methods, and the contract's open questions about signing, over HTTP.

* A key of each ``auth_type`` (``requestSigning``, ``secretKey``) with each ``auth_method``, through the
  command line: the right method checks and reads; the wrong one gives ``check`` one FAILED status and
  ``read`` one config error, both naming the method, after one request (two when signed: a first 401
  is re-signed once).
* The expiry header (``Expires`` or ``Expire``) and whether the signed URL covers the query string:
  the simulator takes either reading by option, the connector reads with both; falling back to a
  signature without the query string costs one extra request per sync.
* The same through the Docker image (``image_tests``).
"""

from __future__ import annotations

import json
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from integration_tests.harness import configured_catalog, run_connector
from integration_tests.prerequisites import docker, require_image
from integration_tests.test_bad_config_cli import Attempt, _attempt, assert_fails_once
from integration_tests.test_standard_suite import connector_image
from simulator import ConvertSimulator, Dataset

METHOD_OF = {"requestSigning": "request_signing", "secretKey": "secret_key"}  # key auth_type -> auth_method
STREAMS = ["projects", "goals", "experiences", "experience_sections"]
SECTIONS = r"/experiences/\d+/sections$"
SEED, EXPERIENCES = 7, 40
PROJECTS = "200002, 200004"  # the multivariate experiences (experience_sections) are in 200004


def _simulator(**options: Any) -> ConvertSimulator:
    return ConvertSimulator(dataset=Dataset.generate(seed=SEED, experiences=EXPERIENCES), **options)


def _config(server: ConvertSimulator, **overrides: Any) -> Dict[str, Any]:
    return server.config(project_id=PROJECTS, **overrides)


def _run(key_type: str, method: str, command: str) -> Tuple[Attempt, List[Any]]:
    with _simulator(key_auth_type=key_type) as server:
        config = _config(server, auth_method=method)
        if command == "read":
            server.reset_log()
            run = run_connector("read", config, configured_catalog(STREAMS), timeout=300)
            return Attempt(run, [r.path for r in server.requests], 0.0), server.requests
        attempt = _attempt(server, command, config)
        return attempt, server.requests


CASES = [(key_type, method, command) for key_type in METHOD_OF for method in METHOD_OF.values() for command in ("check", "read")]


@pytest.fixture(scope="module")
def runs() -> Dict[Tuple[str, str, str], Tuple[Attempt, List[Any]]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case: pool.submit(_run, *case) for case in CASES}
        return {case: future.result() for case, future in futures.items()}


@pytest.mark.parametrize("key_type, method, command", CASES, ids=["-".join(case) for case in CASES])
def test_the_right_method_works_and_the_wrong_one_fails_once_naming_it(runs, key_type, method, command):
    attempt, logged = runs[(key_type, method, command)]
    run = attempt.run
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    if METHOD_OF[key_type] == method:
        assert not [r for r in logged if r.status == 401], "no request was refused"
        assert {r.auth_method for r in logged} == {key_type}, "every request used the key's method"
        if command == "check":
            assert run.returncode == 0 and run.connection_status["status"] == "SUCCEEDED", run.stdout[-2000:]
        else:
            assert run.returncode == 0 and not run.errors, [error["message"] for error in run.errors]
            assert set(run.counts()) == set(STREAMS), run.counts()
        return
    message = assert_fails_once(attempt, command, "config_error", f"authentication method '{method}'", "HTTP 401",
                                "Authentication Method, Key ID and Key Secret")
    assert [r.path.split("/api/v2", 1)[1] for r in logged] == ["/accounts/100001/projects"] * (2 if method == "request_signing" else 1)
    assert {r.auth_method for r in logged} == {[k for k, m in METHOD_OF.items() if m == method][0]}
    assert "request signing" in message or "secret key" in message


@pytest.mark.parametrize("expires_header", ["Expires", "Expire"])
def test_either_name_of_the_expiry_header_is_read(expires_header):
    with _simulator(expires_header=expires_header) as server:
        check = run_connector("check", _config(server))
        read = run_connector("read", _config(server), configured_catalog(["goals", "experience_sections"]), timeout=300)
        refused = [r for r in server.requests if r.status == 401]
    assert check.connection_status["status"] == "SUCCEEDED"
    assert read.returncode == 0 and not read.errors and set(read.counts()) == {"goals", "experience_sections"}
    assert not refused


@pytest.fixture(scope="module")
def sections_reads() -> Dict[str, Tuple[Any, List[Any]]]:
    """experience_sections (and goals) read with four requests in flight, under each signed-URL reading."""
    results = {}
    for reading in ("with_query", "without_query"):
        with _simulator(signed_url=reading) as server:
            config = _config(server, max_concurrent_requests=4)
            server.reset_log()
            run = run_connector("read", config, configured_catalog(["goals", "experience_sections"]), timeout=300)
            results[reading] = (run, server.requests)
    return results


def test_signing_with_the_query_string_costs_no_extra_request(sections_reads):
    run, logged = sections_reads["with_query"]
    assert run.returncode == 0 and not run.errors
    sections = [r for r in logged if re.search(SECTIONS, r.path)]
    assert len(sections) >= 2 and all(r.status == 200 and r.raw_query for r in sections)
    assert len({r.path for r in sections}) == len(sections), "each experience asked once"


def test_signing_without_the_query_string_is_found_with_one_extra_request_per_sync(sections_reads):
    run, logged = sections_reads["without_query"]
    assert run.returncode == 0 and not run.errors, [error["message"] for error in run.errors]
    sections = [r for r in logged if re.search(SECTIONS, r.path)]
    refused = [r for r in logged if r.status == 401]
    assert len(refused) == 1 and re.search(SECTIONS, refused[0].path), [(r.path, r.status) for r in refused]
    assert len(sections) == len({r.path for r in sections}) + 1, "one retry for the whole sync"
    with_query, _ = sections_reads["with_query"]
    assert sorted(json.dumps(r, sort_keys=True) for r in run.records_of("experience_sections")) == sorted(
        json.dumps(r, sort_keys=True) for r in with_query.records_of("experience_sections")), "the same sections"


# --------------------------------------------------------------------------- the image
def _image(command: str, config: Dict[str, Any], streams: List[str]) -> Any:
    with tempfile.TemporaryDirectory() as directory:
        Path(directory, "config.json").write_text(json.dumps(config), encoding="utf-8")
        Path(directory, "catalog.json").write_text(json.dumps(configured_catalog(streams)), encoding="utf-8")
        Path(directory).chmod(0o755)
        for name in ("config.json", "catalog.json"):
            Path(directory, name).chmod(0o644)
        args = ["run", "--rm", "--network=host", "-v", f"{directory}:/secrets:ro", connector_image(), command,
                "--config", "/secrets/config.json"]
        if command == "read":
            args += ["--catalog", "/secrets/catalog.json"]
        result = docker(*args, timeout=300)
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result, messages


@pytest.mark.image_tests
@pytest.mark.parametrize("key_type", list(METHOD_OF))
def test_the_image_checks_and_reads_with_the_right_method_and_fails_once_with_the_wrong_one(key_type):
    require_image(connector_image())
    wrong = [m for m in METHOD_OF.values() if m != METHOD_OF[key_type]][0]
    with _simulator(key_auth_type=key_type, signed_url="without_query", expires_header="Expire") as server:
        check, check_messages = _image("check", _config(server, auth_method=METHOD_OF[key_type]), [])
        read, read_messages = _image("read", _config(server, auth_method=METHOD_OF[key_type]), ["goals", "experience_sections"])
        bad_check, bad_check_messages = _image("check", _config(server, auth_method=wrong), [])
        bad_read, bad_read_messages = _image("read", _config(server, auth_method=wrong), ["goals"])
    output = "".join(result.stdout + result.stderr for result in (check, read, bad_check, bad_read))
    assert server.key_secret not in output and "Traceback" not in output
    (status,) = [m["connectionStatus"] for m in check_messages if m["type"] == "CONNECTION_STATUS"]
    assert check.returncode == 0 and status["status"] == "SUCCEEDED", check.stdout[-2000:]
    streams = {m["record"]["stream"] for m in read_messages if m["type"] == "RECORD"}
    assert read.returncode == 0 and streams == {"goals", "experience_sections"}, read.stdout[-2000:]
    (bad_status,) = [m["connectionStatus"] for m in bad_check_messages if m["type"] == "CONNECTION_STATUS"]
    assert bad_check.returncode == 0 and bad_status["status"] == "FAILED"
    assert f"authentication method '{wrong}'" in bad_status["message"]
    errors = [m["trace"]["error"] for m in bad_read_messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    assert bad_read.returncode == 1 and len(errors) == 1 and errors[0]["failure_type"] == "config_error"
    assert f"authentication method '{wrong}'" in errors[0]["message"]
    assert not [m for m in bad_read_messages if m["type"] == "RECORD"]
