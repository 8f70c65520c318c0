"""Bad configs and connections that cannot work, through the real CLI; property-based checks of config
validation against spec.json.

CLI contract for an unusable config or connection: ``check`` exits 0 with a FAILED status, ``read`` and
``discover`` exit 1 with one error trace; the message names the field (or the host); no Python
traceback anywhere, neither on stderr nor in a LOG message.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from integration_tests.harness import REPO_ROOT, ConnectorRun, configured_catalog, run_connector, stream_names
from simulator import ConvertSimulator, Dataset
from source_convert.config import ConfigError, connection_specification, validate_config
from source_convert.countries import ISO_ALPHA_2
from source_convert.reachability import RETRY_PAUSES_SECONDS

SECRET = "cfg-test-secret-0b9d51"
BASE = {"key_id": "4f1c1bd5c71a4a5d", "key_secret": SECRET, "account_id": "100001", "project_id": "200002"}
MISSING = object()

# (case id, changes to BASE, the field the message must name)
CASES: List[Tuple[str, Dict[str, Any], str]] = [
    ("account_letters", {"account_id": "abc"}, "account_id"),
    ("account_float", {"account_id": 12.5}, "account_id"),
    ("project_fullwidth_digits", {"project_id": "\uff12\uff10\uff10\uff10\uff10\uff12"}, "project_id"),
    ("project_too_many_digits", {"project_id": "1" * 16}, "project_id"),
    ("project_listed_twice", {"project_id": "200002, 200003, 200002"}, "project_id"),
    ("project_empty_entry", {"project_id": "200002,,200003"}, "project_id"),
    ("project_star_in_a_list", {"project_id": "200002, *"}, "project_id"),
    ("key_id_empty", {"key_id": ""}, "key_id"),
    ("key_id_whitespace", {"key_id": "   "}, "key_id"),
    ("key_id_unicode", {"key_id": "cl\u00e9-\u00fc\U0001f511"}, "key_id"),
    ("key_id_very_long", {"key_id": "k" * 5000}, "key_id"),
    ("key_secret_whitespace", {"key_secret": "  \t "}, "key_secret"),
    ("key_secret_very_long", {"key_secret": SECRET * 100}, "key_secret"),
    ("key_secret_missing", {"key_secret": MISSING}, "key_secret"),
    ("base_url_plain_http", {"api_base_url": "http://api.convert.com/api/v2"}, "api_base_url"),
    ("base_url_with_query", {"api_base_url": "https://api.convert.com/api/v2?debug=1"}, "api_base_url"),
    ("concurrency_string", {"max_concurrent_requests": "2"}, "max_concurrent_requests"),
    ("rpm_out_of_range", {"requests_per_minute": 6001}, "requests_per_minute"),
    ("start_date_not_a_day", {"start_date": "2025-02-30"}, "start_date"),
    ("auth_method_unknown", {"auth_method": "bearer"}, "auth_method"),
    ("auth_method_wrong_type", {"auth_method": True}, "auth_method"),
    ("bearer_secret_not_ascii", {"auth_method": "secret_key", "key_secret": SECRET + "\u00e9"}, "key_secret"),
]
# read and discover go through the same validation as check; a representative few run them too
EVERY_COMMAND = {"account_float", "key_id_unicode", "key_secret_very_long", "base_url_plain_http",
                 "start_date_not_a_day", "auth_method_unknown"}


def _config(changes: Dict[str, Any]) -> Dict[str, Any]:
    config = {**BASE, **changes}
    return {key: value for key, value in config.items() if value is not MISSING}


def _run(command: str, config_text: Optional[str], config_path: Optional[str] = None) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as directory:
        args = [sys.executable, "-m", "source_convert.run", command]
        if config_text is not None:
            config_path = os.path.join(directory, "config.json")
            with open(config_path, "w", encoding="utf-8") as handle:
                handle.write(config_text)
        if config_path is not None:
            args += ["--config", config_path]
        if command == "read":
            catalog = os.path.join(directory, "catalog.json")
            with open(catalog, "w", encoding="utf-8") as handle:
                json.dump(configured_catalog(["experiences"]), handle)
            args += ["--catalog", catalog]
        return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=directory,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def _messages(completed: subprocess.CompletedProcess) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]


def assert_config_failure(completed: subprocess.CompletedProcess, command: str, *needles: str) -> str:
    """The CLI contract for an unusable config; returns the message."""
    output = completed.stdout + completed.stderr
    assert "Traceback" not in output, output[-2000:]
    assert SECRET not in output
    messages = _messages(completed)
    if command == "check":
        assert completed.returncode == 0, output[-2000:]
        (status,) = [m["connectionStatus"] for m in messages if m["type"] == "CONNECTION_STATUS"]
        assert status["status"] == "FAILED"
        message = status["message"]
    else:
        assert completed.returncode == 1, output[-2000:]
        errors = [m["trace"]["error"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
        assert len(errors) == 1, errors
        assert errors[0]["failure_type"] == "config_error"
        assert not [m for m in messages if m["type"] in ("RECORD", "CATALOG", "CONNECTION_STATUS")]
        message = errors[0]["message"]
    for needle in needles:
        assert needle in message, message
    return message


@pytest.fixture(scope="module")
def cli_runs() -> Dict[Tuple[str, str], subprocess.CompletedProcess]:
    jobs = [(case_id, "check", changes) for case_id, changes, _ in CASES]
    jobs += [(case_id, command, changes) for case_id, changes, _ in CASES if case_id in EVERY_COMMAND
             for command in ("read", "discover")]
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {(case_id, command): pool.submit(_run, command, json.dumps(_config(changes)))
                   for case_id, command, changes in jobs}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("case_id, changes, field", CASES, ids=[case[0] for case in CASES])
def test_bad_field_fails_every_command_with_a_message_naming_it(cli_runs, case_id, changes, field):
    for command in ("check", "read", "discover"):
        if (case_id, command) in cli_runs:
            assert_config_failure(cli_runs[(case_id, command)], command, f"'{field}'")


@pytest.mark.parametrize(
    "name, changes, field",
    [
        ("key_id_trailing_newline", {"key_id": "4f1c1bd5c71a4a5d\n"}, "key_id"),
        ("secret_with_tab", {"key_secret": SECRET + "\t"}, "key_secret"),
        ("project_id_trailing_newline", {"project_id": "200002\n"}, "project_id"),
    ],
)
def test_control_characters_that_patterns_let_through_are_refused(name, changes, field):
    # A JSON-schema pattern's "$" also matches before a final newline; the connector refuses them itself.
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=5)) as server:  # never the real API
        config = {**server.config(key_secret=SECRET), **changes}
        completed = _run("check", json.dumps(config))
    assert_config_failure(completed, "check", f"'{field}'")


@pytest.mark.parametrize(
    "changes",
    [{"max_concurrent_requests": 3.0}, {"requests_per_minute": 100.0}, {"report_lookback_days": 2.0}],
)
def test_whole_number_floats_are_read_as_integers(changes):
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=5)) as server:
        result = run_connector("check", server.config(**changes))
    assert result.returncode == 0, result.stdout[-2000:]
    assert result.connection_status["status"] == "SUCCEEDED"
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("truncated_json", '{"key_id": "k", "key_secret": "%s", "account_id": ' % SECRET, "is not valid JSON"),
        ("not_utf8", b"\xff\xfe{\x00}".decode("latin-1"), "cannot be read"),
        ("json_array", json.dumps([BASE]), "must hold a JSON object, got list"),
        ("json_null", "null", "must hold a JSON object, got NoneType"),
        ("empty_file", "", "is not valid JSON"),
    ],
)
def test_unparseable_config_file_gets_a_clear_message(name, content, expected):
    for command in ("check", "read") if name in ("truncated_json", "not_utf8") else ("check",):
        if name == "not_utf8":
            with tempfile.TemporaryDirectory() as directory:
                path = os.path.join(directory, "config.json")
                with open(path, "wb") as handle:
                    handle.write(content.encode("latin-1"))
                completed = _run(command, None, path)
        else:
            completed = _run(command, content)
        assert_config_failure(completed, command, expected)


def test_missing_or_unreadable_config_path_gets_a_clear_message(tmp_path):
    assert_config_failure(_run("check", None, str(tmp_path / "nope.json")), "check", "does not exist")
    assert_config_failure(_run("read", None, str(tmp_path)), "read", "cannot be read")  # a directory


def test_unknown_fields_are_ignored():
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=5)) as server:
        config = server.config(some_future_option={"nested": True}, another_unknown=[1, 2], _comment="hi")
        result = run_connector("check", config)
    assert result.returncode == 0
    assert result.connection_status["status"] == "SUCCEEDED"


def test_unusable_catalog_or_state_file_gets_a_clear_message():
    with ConvertSimulator(dataset=Dataset.generate(seed=7, experiences=5)) as server:
        catalog = run_connector("read", server.config(), catalog={"streams": "not a list"})
        state = run_connector("read", server.config(), configured_catalog(["goals"]), state={"not": "a state list"})
    for completed in (catalog, state):
        assert_config_failure(completed, "read", "The catalog or state file is not valid")


# --------------------------------------------------------------------------- connections that cannot work
REFUSED_SEED, REFUSED_EXPERIENCES = 7, 20
# The account's projects as Convert lists them (by id), which the message for a missing project names.
VISIBLE = ", ".join(str(p) for p in sorted(Dataset.generate(seed=REFUSED_SEED, experiences=REFUSED_EXPERIENCES).projects))
# (case id, config changes, words the message must hold, the paths requested in order, the most requests):
# Convert's 401 and 403 and a project the account does not list, each naming the field. The check is one
# request of the account's projects list; a first 401 is re-signed and sent once more; when the list is
# refused (403), each configured project is tried with one request of its own before the check fails.
REFUSED: List[Tuple[str, Dict[str, Any], Tuple[str, ...], List[str], int]] = [
    ("wrong_key_secret", {"key_secret": "not-the-key-secret"}, ("HTTP 401", "Key ID", "Key Secret"),
     ["/accounts/100001/projects"], 2),
    ("foreign_account", {"account_id": "999"}, ("HTTP 403", "account 999", "Account ID"),
     ["/accounts/999/projects", "/accounts/999/projects/200002/tags"], 2),
    ("missing_project", {"project_id": "999999"},
     ("Project 999999 is not among the projects of account 100001", f"can see ({VISIBLE})", "Project ID"),
     ["/accounts/100001/projects"], 1),
    ("missing_one_of_the_listed_projects", {"project_id": "200002, 999999, 200004"},
     ("Project 999999 is not among the projects of account 100001", f"can see ({VISIBLE})", "Project ID"),
     ["/accounts/100001/projects"], 1),
    ("missing_two_of_the_listed_projects", {"project_id": "999998, 200002, 999999"},
     ("Projects 999998, 999999 are not among the projects of account 100001", "Project ID"),
     ["/accounts/100001/projects"], 1),
]


@dataclass
class Attempt:
    run: ConnectorRun
    paths: List[str]
    seconds: float


def _attempt(server: Optional[ConvertSimulator], command: str, config: Dict[str, Any]) -> Attempt:
    if server is not None:
        server.reset_log()
    catalog = configured_catalog(stream_names()) if command == "read" else None  # every stream
    started = time.monotonic()
    run = run_connector(command, config, catalog, timeout=300)
    return Attempt(run, [r.path for r in server.requests] if server is not None else [], time.monotonic() - started)


def _logs(run: ConnectorRun) -> List[Dict[str, Any]]:
    return [message["log"] for message in run.of_type("LOG")]


def assert_fails_once(attempt: Attempt, command: str, failure_type: Optional[str], *words: str) -> str:
    """One failure (a FAILED status for check, one trace of ``failure_type`` otherwise), no traceback on
    stderr or in any LOG message, nothing read; returns the message."""
    run = attempt.run
    output = run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    stack_logs = [log["message"][:300] for log in _logs(run) if "Traceback" in log["message"]]
    assert not stack_logs, stack_logs
    assert "not-the-key-secret" not in output and SECRET not in output
    if command == "check":
        assert run.returncode == 0, output[-2000:]
        status = run.connection_status
        assert status["status"] == "FAILED"
        message = status["message"]
        assert message[0] not in "'\"", "the reason itself, not its repr"
    else:
        assert run.returncode == 1, output[-2000:]
        assert len(run.errors) == 1, [error["message"] for error in run.errors]
        assert run.errors[0]["failure_type"] == failure_type
        assert not run.of_type("RECORD") and not run.of_type("STATE")
        message = run.errors[0]["message"]
    for word in words:
        assert word in message, message
    return message


@pytest.fixture(scope="module")
def refused() -> Dict[Tuple[str, str], Attempt]:
    """check and read (of every stream) for each refused config, one simulator per case."""

    def attempt(case: Tuple[str, Dict[str, Any], Tuple[str, ...], List[str], int], command: str) -> Attempt:
        with ConvertSimulator(dataset=Dataset.generate(seed=REFUSED_SEED, experiences=REFUSED_EXPERIENCES)) as server:
            return _attempt(server, command, server.config(**case[1]))

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {(case[0], command): pool.submit(attempt, case, command) for case in REFUSED for command in ("check", "read")}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("command", ["check", "read"])
@pytest.mark.parametrize("case_id, words, paths, most", [case[0:1] + case[2:] for case in REFUSED],
                         ids=[case[0] for case in REFUSED])
def test_a_refused_key_account_or_project_fails_once_naming_the_field(refused, request, case_id, words, paths, most,
                                                                      command):
    attempt = refused[(case_id, command)]
    request.node.user_properties.append(("seconds_to_fail", round(attempt.seconds, 1)))  # measured, not asserted
    assert_fails_once(attempt, command, "config_error", *words)
    # The check's requests, then nothing: no stream started.
    assert [path.split("/api/v2", 1)[1] for path in dict.fromkeys(attempt.paths)] == paths, attempt.paths
    assert len(attempt.paths) <= most, attempt.paths
    if command == "read":
        assert not [log for log in _logs(attempt.run) if "Syncing stream" in log["message"]]


@pytest.fixture(scope="module")
def unreachable() -> Tuple[str, Dict[str, Attempt]]:
    """check, read and discover against a port nothing listens on: (host:port, attempt per command)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{probe.getsockname()[1]}"
    config = {**BASE, "api_base_url": f"http://{host}/api/v2"}
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {command: pool.submit(_attempt, None, command, config) for command in ("check", "read", "discover")}
        return host, {command: future.result() for command, future in futures.items()}


@pytest.mark.parametrize("command, failure_type", [("check", None), ("read", "transient_error")])
def test_an_unreachable_host_fails_once_after_a_bounded_logged_wait(unreachable, request, command, failure_type):
    host, attempts = unreachable
    attempt = attempts[command]
    request.node.user_properties.append(("seconds_to_fail", round(attempt.seconds, 1)))  # measured, not asserted
    assert_fails_once(attempt, command, failure_type, f"Cannot reach the Convert API at {host}", "Connection refused",
                      f"after {len(RETRY_PAUSES_SECONDS) + 1} attempts")
    waits = [log for log in _logs(attempt.run) if log["message"].startswith(f"Cannot reach the Convert API at {host}")]
    # Each pause said what it waits for, then the wait ended: as many warnings as pauses, no more.
    assert len(waits) == len(RETRY_PAUSES_SECONDS) and all(log["level"] == "WARN" for log in waits), waits


def test_discover_does_not_wait_for_the_api(unreachable):
    run = unreachable[1]["discover"].run
    assert run.returncode == 0 and sorted(stream["name"] for stream in run.catalog["streams"]) == stream_names()
    assert not [log for log in _logs(run) if "Cannot reach" in log["message"]]


# --------------------------------------------------------------------------- property-based
SPEC = connection_specification()
PROPERTIES: Dict[str, Dict[str, Any]] = SPEC["properties"]
STRING_FIELDS = sorted(name for name, schema in PROPERTIES.items() if schema.get("type") == "string")
INTEGER_FIELDS = sorted(name for name, schema in PROPERTIES.items() if schema.get("type") == "integer")
NUMBER_FIELDS = sorted(name for name, schema in PROPERTIES.items() if schema.get("type") == "number")
ARRAY_FIELDS = sorted(name for name, schema in PROPERTIES.items() if schema.get("type") == "array")
STEPPED_FIELDS = sorted(name for name, schema in PROPERTIES.items() if "multipleOf" in schema)
PATTERN_FIELDS = sorted(name for name, schema in PROPERTIES.items() if "pattern" in schema)
RANGED_FIELDS = sorted(name for name, schema in PROPERTIES.items() if "minimum" in schema or "maximum" in schema)
BOUNDED_STRINGS = sorted(name for name, schema in PROPERTIES.items() if "maxLength" in schema)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _schema_without(names: List[str]) -> Dict[str, Any]:
    """The spec minus fields whose validity the JSON schema alone cannot decide (start_date must be a real date,
    a segment country an assigned ISO code, needed when report_segments has countries)."""
    keys = ("type", "required", "properties", "additionalProperties")
    schema = {key: json.loads(json.dumps(SPEC[key])) for key in keys}
    for name in names:
        schema["properties"].pop(name)
    for props in schema["properties"].values():
        for extension in ("pattern_descriptor", "airbyte_secret", "order", "group", "examples", "title",
                          "description"):
            props.pop(extension, None)
    schema["additionalProperties"] = False  # unknown fields are covered by test_unknown_fields_are_ignored
    return schema


real_start_dates = st.dates().filter(lambda day: day.year >= 1000).flatmap(
    lambda day: st.sampled_from([day.isoformat(), f"{day.isoformat()}T00:00:00Z", f"{day.isoformat()}T23:59:59Z"])
)


def _no_control_characters(config: Dict[str, Any]) -> bool:
    # A pattern's "$" also matches before a final newline, so a generator may produce "x\n"; the
    # connector refuses control characters on top of the patterns (tested separately).
    return not any(isinstance(v, str) and any(ord(c) < 32 or ord(c) == 127 for c in v) for v in config.values())


def _no_repeated_project(config: Dict[str, Any]) -> bool:
    # The pattern allows any list of project IDs; the connector refuses a project listed twice (tested
    # by the CLI cases above).
    entries = [entry.strip() for entry in str(config.get("project_id", "")).split(",")]
    return len(entries) == len(set(entries))


def _header_safe_secret(config: Dict[str, Any]) -> bool:
    # The secret-key method sends the secret in an HTTP header, so the connector refuses a non-ASCII
    # one there (tested by the CLI cases above); the spec's pattern cannot say so per method.
    return config.get("auth_method") != "secret_key" or str(config.get("key_secret", "")).isascii()


def _real_port(config: Dict[str, Any]) -> bool:
    # The URL pattern allows any five digits after ":"; the connector refuses ports 0 and above 65535.
    match = re.match(r"^[a-z]+://(\[[^]]+\]|[^/:]+)(:(\d+))?", config.get("api_base_url", ""))
    return match is None or match.group(3) is None or 0 < int(match.group(3)) <= 65535


COUNTRY_CODES = sorted(ISO_ALPHA_2)


@st.composite
def valid_configs(draw) -> Dict[str, Any]:
    config = draw(from_schema(_schema_without(["start_date", "report_segment_countries"])).filter(_no_control_characters)
                  .filter(_real_port).filter(_no_repeated_project).filter(_header_safe_secret))
    if draw(st.booleans()):
        config["start_date"] = draw(real_start_dates)
    countries = draw(st.lists(st.sampled_from(COUNTRY_CODES), unique=True, max_size=3))
    if "countries" in (config.get("report_segments") or []) and not countries:
        countries = [draw(st.sampled_from(COUNTRY_CODES))]
    if countries or draw(st.booleans()):
        config["report_segment_countries"] = countries
    return config


def _wrong_type(schema: Dict[str, Any]) -> st.SearchStrategy:
    floats = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not float(x).is_integer())
    others = st.one_of(st.booleans(), floats, st.lists(st.integers(), max_size=3),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
    if schema["type"] == "integer":
        return st.one_of(others, st.text(min_size=1, max_size=5))  # "" means unset for an optional field
    if schema["type"] == "number":
        return st.one_of(st.booleans(), st.text(min_size=1, max_size=5), st.lists(st.integers(), max_size=3))
    if schema["type"] == "array":
        return st.one_of(st.booleans(), floats, st.integers(), st.text(min_size=1, max_size=5))
    return others  # whole numbers are accepted for the numeric IDs, so ints are not "wrong" for strings


@st.composite
def broken_configs(draw) -> Tuple[Dict[str, Any], str]:
    """A valid config with one field broken: wrong type, pattern-breaking text, out of range, too long,
    not a multiple of its step, or a list item that is not allowed."""
    config = draw(valid_configs())
    kind = draw(st.sampled_from(["type", "pattern", "range", "length", "step", "items"]))
    if kind == "type":
        field = draw(st.sampled_from(STRING_FIELDS + INTEGER_FIELDS + NUMBER_FIELDS + ARRAY_FIELDS))
        config[field] = draw(_wrong_type(PROPERTIES[field]))
    elif kind == "step":
        field = draw(st.sampled_from(STEPPED_FIELDS))
        step = PROPERTIES[field]["multipleOf"]
        config[field] = draw(st.integers(min_value=0, max_value=20)) * step + step / 2
    elif kind == "items":
        field = draw(st.sampled_from(ARRAY_FIELDS))
        allowed = PROPERTIES[field]["items"].get("enum") or COUNTRY_CODES  # the countries: checked in config.py
        config[field] = draw(st.lists(st.text(max_size=8).filter(lambda item: item not in allowed), min_size=1, max_size=2))
    elif kind == "pattern":
        field = draw(st.sampled_from(PATTERN_FIELDS))
        pattern = PROPERTIES[field]["pattern"]
        config[field] = draw(st.text(min_size=1, max_size=40).filter(lambda text: not re.search(pattern, text)))
    elif kind == "range":
        field = draw(st.sampled_from(RANGED_FIELDS))
        schema = PROPERTIES[field]
        below = st.integers(max_value=schema["minimum"] - 1, min_value=-(10**12))
        above = st.integers(min_value=schema["maximum"] + 1, max_value=10**12)
        config[field] = draw(st.one_of(below, above))
    else:
        field = draw(st.sampled_from(BOUNDED_STRINGS))
        limit = PROPERTIES[field]["maxLength"]
        config[field] = draw(st.sampled_from("ab7:-")) * draw(st.integers(min_value=limit + 1, max_value=limit * 4))
    return config, field


@PROPERTY_SETTINGS
@given(valid_configs())
def test_every_config_the_spec_allows_is_accepted(config):
    validated = validate_config(config)
    for name, schema in PROPERTIES.items():
        assert name in validated or "default" not in schema
    assert validated["account_id"] == str(config["account_id"])


@PROPERTY_SETTINGS
@given(broken_configs())
def test_every_broken_field_is_refused_with_a_message_naming_it(case):
    config, field = case
    with pytest.raises(ConfigError) as raised:
        validate_config(config)
    message = str(raised.value)
    assert f"'{field}'" in message
    secret = config.get("key_secret")
    if isinstance(secret, str) and len(secret) >= 8 and field != "key_secret":
        assert secret not in message


def test_property_strategies_cover_every_field():
    """The mutations above reach every field of the spec (so a new field cannot escape them)."""
    covered = set(STRING_FIELDS + INTEGER_FIELDS + NUMBER_FIELDS + ARRAY_FIELDS)
    assert covered == set(PROPERTIES), set(PROPERTIES) - covered
    assert {"account_id", "project_id", "key_id", "key_secret", "api_base_url", "start_date"} <= set(PATTERN_FIELDS)
    assert set(RANGED_FIELDS) == set(INTEGER_FIELDS + NUMBER_FIELDS)
    assert set(STEPPED_FIELDS) == set(NUMBER_FIELDS)
    # every list field's items are an enum, but the segment countries (ISO codes, checked in config.py)
    assert [name for name in ARRAY_FIELDS if "enum" not in PROPERTIES[name]["items"]] == ["report_segment_countries"]
