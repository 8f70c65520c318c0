"""Acceptance scenarios read from ``acceptance-test-config.yml``, run through any connector runner.

The same scenarios run twice: in-process through the connector's Python entry point
(``test_acceptance_inprocess.py``) and against the built Docker image through the docker SDK
(``test_acceptance_container.py``). A runner turns ``(command, config, catalog, state)`` into a
:class:`Run` (exit code plus parsed Airbyte messages); :class:`AcceptanceSuite` holds the tests, and a
test module subclasses it and provides the ``runner`` fixture.

The config files hold the simulator CLI's default base URL (:data:`PLACEHOLDER_BASE_URL`); every
config is loaded through :meth:`AcceptanceConfig.load_config`, which puts the live simulator's URL in.

``python -m integration_tests.acceptance write-expected-records`` regenerates ``expected_records.jsonl``
from an in-process read of a fresh seed-7 simulator.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import threading
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from unittest import mock

import pytest
import yaml
from jsonschema.validators import validator_for

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = REPO_ROOT / "integration_tests" / "acceptance-test-config.yml"
PLACEHOLDER_BASE_URL = "http://127.0.0.1:8737/api/v2"
# The time stamped on the records of expected_records.jsonl: the simulator dataset's "now".
EXPECTED_EMITTED_AT = 1793491200000


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str) -> None:
    """Skip a test whose prerequisite is missing, but fail it in CI (``CI`` set), where nothing may be skipped."""
    if env_flag("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


# --------------------------------------------------------------------------------------------- runs


@dataclass
class Run:
    """The outcome of one connector command: exit code and the Airbyte messages it printed."""

    command: str
    returncode: int
    messages: List[Dict[str, Any]]
    output: str  # everything the connector printed (stdout and stderr), for leak and traceback checks
    exception: Optional[str] = None  # in-process only: an exception that escaped the entry point

    def of_type(self, kind: str) -> List[Dict[str, Any]]:
        return [message for message in self.messages if message.get("type") == kind]

    @property
    def records(self) -> List[Dict[str, Any]]:
        return [message["record"] for message in self.of_type("RECORD")]

    def records_by_stream(self) -> Dict[str, List[Dict[str, Any]]]:
        grouped: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
        for record in self.records:
            grouped[record["stream"]].append(record["data"])
        return grouped

    @property
    def errors(self) -> List[Dict[str, Any]]:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"].get("type") == "ERROR"]

    def stream_statuses(self) -> Dict[str, List[str]]:
        statuses: Dict[str, List[str]] = defaultdict(list)
        for message in self.of_type("TRACE"):
            trace = message["trace"]
            if trace.get("type") == "STREAM_STATUS":
                status = trace["stream_status"]
                statuses[status["stream_descriptor"]["name"]].append(status["status"])
        return statuses

    def single(self, kind: str, key: str) -> Dict[str, Any]:
        found = self.of_type(kind)
        assert len(found) == 1, f"{self.command}: expected one {kind} message, got {len(found)}.\n{self.describe()}"
        return found[0][key]

    def describe(self, limit: int = 3000) -> str:
        """The exit code, errors and the tail of the output, for assertion messages."""
        parts = [f"exit code {self.returncode}"]
        if self.exception:
            parts.append(f"exception: {self.exception[-limit:]}")
        for error in self.errors[:3]:
            parts.append(f"error trace: {error.get('message')} | {str(error.get('stack_trace') or '')[-800:]}")
        parts.append(f"output tail: {self.output[-limit:]}")
        return "\n".join(parts)


def parse_messages(text: str) -> List[Dict[str, Any]]:
    messages = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(message, dict) and "type" in message:
                messages.append(message)
    return messages


def _write_inputs(directory: Path, config: Optional[Mapping[str, Any]], catalog: Optional[Mapping[str, Any]],
                  state: Optional[Any]) -> Dict[str, str]:
    """Write the input files (readable by any user: the image runs as uid 1000); return their names."""
    names = {}
    for option, value in (("config", config), ("catalog", catalog), ("state", state)):
        if value is not None:
            path = directory / f"{option}.json"
            path.write_text(json.dumps(value), encoding="utf-8")
            path.chmod(0o644)
            names[option] = path.name
    return names


class InProcessRunner:
    """Runs ``source_convert.run.run(argv)`` in this process.

    Everything the command line does happens (argument parsing, config validation with the
    connector's own messages, catalog and state parsing, ``SourceConvert`` construction), except the
    CDK's ``launch`` printing loop: it is swapped for one that collects the messages the CDK entrypoint
    yields, because ``launch`` writes through a print buffer straight to the process's real stdout.
    """

    name = "in-process"
    _lock = threading.Lock()

    def run(self, command: str, config: Optional[Mapping[str, Any]] = None, catalog: Optional[Mapping[str, Any]] = None,
            state: Optional[Any] = None, timeout: Optional[float] = None) -> Run:
        from airbyte_cdk.entrypoint import AirbyteEntrypoint

        import source_convert.commands as commands
        import source_convert.run as entry

        assert hasattr(commands, "launch"), "source_convert.commands no longer calls airbyte_cdk's launch(); update InProcessRunner"
        collected: List[str] = []

        def collect(source: Any, args: Sequence[str]) -> None:
            entrypoint = AirbyteEntrypoint(source)
            for message in entrypoint.run(entrypoint.parse_args(list(args))):
                collected.append(message)

        printed = io.StringIO()
        returncode, exception = 0, None
        with tempfile.TemporaryDirectory(prefix="source-convert-acceptance-") as directory, self._lock:
            files = _write_inputs(Path(directory), config, catalog, state)
            argv = [command] + [arg for option, name in files.items() for arg in (f"--{option}", str(Path(directory) / name))]
            with mock.patch.object(commands, "launch", collect), contextlib.redirect_stdout(printed):
                try:
                    entry.run(argv)
                except SystemExit as exit_:
                    code = exit_.code
                    returncode = code if isinstance(code, int) else (0 if code is None else 1)
                except Exception:  # the CLI would print a trace message and exit 1
                    returncode, exception = 1, traceback.format_exc()
        text = printed.getvalue() + "\n".join(collected)
        return Run(command, returncode, parse_messages(text), text + (exception or ""), exception)


class ContainerRunner:
    """Runs the connector image through the docker SDK: host network, inputs mounted read-only."""

    name = "container"
    mount = "/airbyte/acceptance"

    def __init__(self, client: Any, image: str, default_timeout: float = 600) -> None:
        self.client, self.image, self.default_timeout = client, image, default_timeout

    def run(self, command: str, config: Optional[Mapping[str, Any]] = None, catalog: Optional[Mapping[str, Any]] = None,
            state: Optional[Any] = None, timeout: Optional[float] = None) -> Run:
        with tempfile.TemporaryDirectory(prefix="source-convert-acceptance-") as directory:
            Path(directory).chmod(0o755)
            files = _write_inputs(Path(directory), config, catalog, state)
            args = [command] + [arg for option, name in files.items() for arg in (f"--{option}", f"{self.mount}/{name}")]
            container = self.client.containers.run(
                self.image, args, detach=True, network_mode="host",
                volumes={directory: {"bind": self.mount, "mode": "ro"}},
            )
            try:
                try:
                    status = container.wait(timeout=timeout or self.default_timeout)
                except Exception as error:  # requests' ReadTimeout or a lost engine
                    container.kill()
                    raise AssertionError(f"`{command}` in {self.image} did not finish in time: {error!r}") from error
                stdout = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
                stderr = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
            finally:
                container.remove(force=True)
        return Run(command, int(status.get("StatusCode", -1)), parse_messages(stdout), stdout + "\n" + stderr)


# ------------------------------------------------------------------------------------------- config


_SECTION_KEYS = {
    "spec": {"spec_path", "config_path", "timeout_seconds", "backward_compatibility_tests_config"},
    "connection": {"config_path", "status", "timeout_seconds"},
    "discovery": {"config_path", "timeout_seconds", "backward_compatibility_tests_config"},
    "basic_read": {"config_path", "configured_catalog_path", "empty_streams", "expect_records", "fail_on_extra_columns",
                   "ignored_fields", "validate_schema", "timeout_seconds"},
    "full_refresh": {"config_path", "configured_catalog_path", "ignored_fields", "timeout_seconds"},
    "incremental": {"config_path", "configured_catalog_path", "future_state", "timeout_seconds"},
}


@dataclass(frozen=True)
class Entry:
    """One test entry of a section of acceptance-test-config.yml."""

    section: str
    index: int
    values: Mapping[str, Any] = field(hash=False, compare=False)

    @property
    def id(self) -> str:
        path = self.values.get("config_path") or self.values.get("spec_path") or f"{self.section}-{self.index}"
        status = self.values.get("status")
        return Path(path).stem + (f"-{status}" if status else "")

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    @property
    def timeout(self) -> Optional[float]:
        return self.values.get("timeout_seconds")

    def ignored_fields(self) -> Dict[str, List[str]]:
        return {stream: [item["name"] for item in items or []] for stream, items in (self.get("ignored_fields") or {}).items()}


class AcceptanceConfig:
    """acceptance-test-config.yml, checked for unknown keys, with its paths resolved from the repo root."""

    def __init__(self, path: Path = CONFIG_FILE) -> None:
        self.path = path
        self.raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        problems = []
        for section, block in (self.raw.get("acceptance_tests") or {}).items():
            if section not in _SECTION_KEYS:
                problems.append(f"unknown section {section!r}")
                continue
            for number, test in enumerate((block or {}).get("tests") or []):
                unknown = set(test) - _SECTION_KEYS[section]
                if unknown:
                    problems.append(f"{section} test {number}: unknown keys {sorted(unknown)}")
        if problems:
            raise ValueError(f"{path}: " + "; ".join(problems))

    @property
    def connector_image(self) -> str:
        return os.environ.get("SOURCE_CONVERT_IMAGE") or self.raw["connector_image"]

    def entries(self, section: str) -> List[Entry]:
        block = (self.raw.get("acceptance_tests") or {}).get(section) or {}
        return [Entry(section, index, test) for index, test in enumerate(block.get("tests") or [])]

    @staticmethod
    def resolve(path: str) -> Path:
        return (REPO_ROOT / path).resolve()

    def load_json(self, path: str) -> Any:
        return json.loads(self.resolve(path).read_text(encoding="utf-8"))

    def load_config(self, path: str, base_url: str) -> Dict[str, Any]:
        """A config file with the placeholder base URL replaced by the live simulator's."""
        return _replace_strings(self.load_json(path), PLACEHOLDER_BASE_URL, base_url)


def _replace_strings(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace_strings(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: _replace_strings(item, old, new) for key, item in value.items()}
    return value


# ------------------------------------------------------------------------------------ record helpers


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def without_fields(data: Mapping[str, Any], paths: Iterable[str]) -> Dict[str, Any]:
    """A copy of ``data`` without the given fields (``a/b`` names a nested field)."""
    result = json.loads(json.dumps(data))
    for path in paths:
        parts = [part for part in path.split("/") if part]
        node = result
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and parts:
            node.pop(parts[-1], None)
    return result


def field_value(data: Mapping[str, Any], path: Sequence[str]) -> Any:
    node: Any = data
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def schema_has_path(schema: Mapping[str, Any], path: Sequence[str]) -> bool:
    node: Any = schema
    for part in path:
        properties = node.get("properties") if isinstance(node, Mapping) else None
        if not isinstance(properties, Mapping) or part not in properties:
            return False
        node = properties[part]
    return True


def _supports_incremental(stream: Mapping[str, Any]) -> bool:
    return "incremental" in (stream.get("supported_sync_modes") or [])


def _configured(stream: Mapping[str, Any], incremental: bool) -> Dict[str, Any]:
    entry: Dict[str, Any] = {
        "stream": stream,
        "sync_mode": "incremental" if incremental else "full_refresh",
        "destination_sync_mode": "append_dedup" if incremental and stream.get("source_defined_primary_key") else
        ("append" if incremental else "overwrite"),
    }
    if stream.get("source_defined_primary_key"):
        entry["primary_key"] = stream["source_defined_primary_key"]
    if incremental and stream.get("default_cursor_field"):
        entry["cursor_field"] = stream["default_cursor_field"]
    return entry


# ---------------------------------------------------------------------------------------- session


class AcceptanceSession:
    """One runner against one simulator, with the discover and read results the scenarios share."""

    def __init__(self, runner: Any, simulator: Any, config: Optional[AcceptanceConfig] = None) -> None:
        self.runner, self.simulator = runner, simulator
        self.config = config or AcceptanceConfig()
        self._cache: Dict[Tuple[Any, ...], Any] = {}
        self.secrets = self._secret_values()

    def _secret_values(self) -> List[str]:
        spec = json.loads((REPO_ROOT / "source_convert" / "spec.json").read_text(encoding="utf-8"))
        secret_fields = [name for name, prop in spec["connectionSpecification"]["properties"].items() if prop.get("airbyte_secret")]
        values = {str(self.simulator.key_secret)}
        for section in ("connection", "discovery", "basic_read", "full_refresh", "incremental"):
            for entry in self.config.entries(section):
                data = self.config.load_json(entry.get("config_path"))
                values.update(str(data[name]) for name in secret_fields if data.get(name))
        return sorted(value for value in values if len(value) >= 6)

    def _cached(self, key: Tuple[Any, ...], make: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def load_config(self, path: str) -> Dict[str, Any]:
        return self.config.load_config(path, self.simulator.base_url)

    def run(self, command: str, config_path: Optional[str] = None, catalog: Optional[Mapping[str, Any]] = None,
            state: Optional[Any] = None, timeout: Optional[float] = None) -> Run:
        config = self.load_config(config_path) if config_path else None
        result = self.runner.run(command, config=config, catalog=catalog, state=state, timeout=timeout)
        self.assert_no_secret(result)
        return result

    def assert_no_secret(self, result: Run) -> None:
        for secret in self.secrets:
            assert secret not in result.output, f"{result.command}: a secret config value appears in the connector's output"

    # -- shared results
    def spec(self) -> Dict[str, Any]:
        def make() -> Dict[str, Any]:
            result = self.run("spec")
            assert result.returncode == 0, result.describe()
            return result.single("SPEC", "spec")
        return self._cached(("spec",), make)

    def discover(self, config_path: str) -> Run:
        return self._cached(("discover", config_path), lambda: self.run("discover", config_path))

    def discovered_streams(self, config_path: str) -> Dict[str, Dict[str, Any]]:
        result = self.discover(config_path)
        assert result.returncode == 0 and not result.errors, result.describe()
        catalog = result.single("CATALOG", "catalog")
        return {stream["name"]: stream for stream in catalog["streams"]}

    def file_catalog(self, entry: Entry) -> Dict[str, Any]:
        return self.config.load_json(entry.get("configured_catalog_path"))

    def catalog_for(self, entry: Entry, mode: str) -> Dict[str, Any]:
        """The entry's configured catalog with each stream as discovered and its sync mode from discover.

        ``basic``: incremental where supported (a first sync), else full refresh; ``full_refresh``:
        every stream that supports it, in full refresh; ``incremental``: only incremental streams.
        """
        discovered = self.discovered_streams(entry.get("config_path"))
        streams = []
        for configured in self.file_catalog(entry)["streams"]:
            name = configured["stream"]["name"]
            assert name in discovered, f"{entry.get('configured_catalog_path')} names {name!r}, which discover does not return"
            stream = discovered[name]
            incremental = _supports_incremental(stream)
            if mode == "incremental" and not incremental:
                continue
            if mode == "full_refresh":
                if "full_refresh" not in (stream.get("supported_sync_modes") or []):
                    continue
                incremental = False
            streams.append(_configured(stream, incremental))
        return {"streams": streams}

    def read(self, entry: Entry, mode: str, state: Optional[Any] = None, repeat: int = 0) -> Run:
        key = ("read", entry.section, entry.index, mode, canonical(state), repeat)
        return self._cached(key, lambda: self.run("read", entry.get("config_path"), self.catalog_for(entry, mode),
                                                    state=state, timeout=entry.timeout))


# ------------------------------------------------------------------------------------- assertions


def assert_read_succeeded(result: Run, catalog: Mapping[str, Any]) -> None:
    assert result.returncode == 0 and not result.errors and not result.exception, result.describe()
    statuses = result.stream_statuses()
    for configured in catalog["streams"]:
        name = configured["stream"]["name"]
        assert statuses.get(name, [])[-1:] == ["COMPLETE"], f"{name}: stream statuses {statuses.get(name)}, expected to end COMPLETE"


def assert_records_match_schemas(result: Run, streams: Mapping[str, Mapping[str, Any]], fail_on_extra_columns: bool) -> None:
    problems = []
    for stream, records in result.records_by_stream().items():
        assert stream in streams, f"records of {stream!r}, a stream that was not in the catalog"
        schema = streams[stream]["json_schema"]
        validator = validator_for(schema)(schema)
        declared = set((schema.get("properties") or {}).keys())
        primary_key = streams[stream].get("source_defined_primary_key") or []
        for record in records:
            errors = [f"{'/'.join(map(str, error.path))}: {error.message}" for error in validator.iter_errors(record)]
            if errors:
                problems.append(f"{stream} {canonical(record)[:200]}: {errors[:3]}")
            missing = [key for key in primary_key if field_value(record, key) is None]
            if missing:
                problems.append(f"{stream}: a record without primary key field(s) {missing}")
            if fail_on_extra_columns and set(record) - declared:
                problems.append(f"{stream}: columns not in the schema: {sorted(set(record) - declared)}")
        if len(problems) > 20:
            break
    assert not problems, "records that do not match their stream:\n" + "\n".join(problems[:20])


def load_expected_records(path: Path) -> Dict[str, List[Dict[str, Any]]]:
    expected: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        message = json.loads(line)
        assert set(message) == {"stream", "data", "emitted_at"}, f"{path.name}:{number}: not an Airbyte record line"
        expected[message["stream"]].append(message["data"])
    return expected


def assert_expected_records(result: Run, expected: Mapping[str, List[Dict[str, Any]]], ignored: Mapping[str, List[str]],
                            primary_keys: Mapping[str, List[List[str]]], exact_order: bool, extra_records: bool = True) -> None:
    """Every expected record is among the records read (after dropping ignored fields)."""
    actual = result.records_by_stream()
    problems = []
    for stream, records in expected.items():
        drop = ignored.get(stream, [])
        want = [canonical(without_fields(record, drop)) for record in records]
        got_records = [without_fields(record, drop) for record in actual.get(stream, [])]
        got = [canonical(record) for record in got_records]
        if exact_order:
            position = 0
            for item in want:
                try:
                    position = got.index(item, position) + 1
                except ValueError:
                    problems.append(f"{stream}: expected record missing or out of order: {item[:300]}")
                    break
        else:
            missing = Counter(want) - Counter(got)
            for item in list(missing.elements())[:3]:
                problems.append(f"{stream}: expected record not read: {item[:300]}" + _closest(json.loads(item), got_records,
                                                                                               primary_keys.get(stream) or []))
        if not extra_records and len(got) != len(want):
            problems.append(f"{stream}: read {len(got)} records, expected exactly {len(want)}")
    assert not problems, "\n".join(problems)


def _closest(record: Mapping[str, Any], candidates: List[Dict[str, Any]], primary_key: List[List[str]]) -> str:
    """Say how the read record with the same primary key differs, if there is one."""
    if not primary_key:
        return ""
    key = [field_value(record, path) for path in primary_key]
    for candidate in candidates:
        if [field_value(candidate, path) for path in primary_key] == key:
            fields = sorted(name for name in set(record) | set(candidate) if record.get(name) != candidate.get(name))
            return f"\n    the record read with the same primary key differs in: {fields}"
    return f"\n    no record with primary key {key} was read"


def records_without(result: Run, ignored: Mapping[str, List[str]]) -> Dict[str, Counter]:
    return {stream: Counter(canonical(without_fields(record, ignored.get(stream, []))) for record in records)
            for stream, records in result.records_by_stream().items()}


# ---------------------------------------------------------------------------------------- the suite

ACCEPTANCE = AcceptanceConfig()


def _params(section: str) -> Any:
    entries = ACCEPTANCE.entries(section)
    return pytest.mark.parametrize("entry", entries, ids=[entry.id for entry in entries])


class AcceptanceSuite:
    """The acceptance scenarios; a subclass provides a class-scoped ``runner`` fixture (a classmethod)."""

    @pytest.fixture(scope="class")
    @classmethod
    def session(cls, runner: Any, simulator: Any) -> AcceptanceSession:
        return AcceptanceSession(runner, simulator, ACCEPTANCE)

    # -- spec
    @_params("spec")
    def test_spec_matches_spec_json(self, session: AcceptanceSession, entry: Entry) -> None:
        spec = session.spec()
        expected = session.config.load_json(entry.get("spec_path"))
        assert spec["connectionSpecification"] == expected["connectionSpecification"]
        assert spec.get("documentationUrl") == expected.get("documentationUrl")
        if entry.get("config_path"):  # the config must be one the spec accepts
            config = session.load_config(entry.get("config_path"))
            schema = spec["connectionSpecification"]
            errors = [error.message for error in validator_for(schema)(schema).iter_errors(config)]
            assert not errors, f"{entry.get('config_path')} does not match the spec: {errors}"

    # -- connection
    @_params("connection")
    def test_check(self, session: AcceptanceSession, entry: Entry) -> None:
        result = session.run("check", entry.get("config_path"), timeout=entry.timeout)
        expected = entry.get("status") or "succeed"
        assert "Traceback" not in result.output, result.describe()
        if expected == "exception":
            assert result.returncode != 0 or result.errors, result.describe()
            return
        # A config the connector cannot use is reported as a FAILED status with exit code 0, not as a crash.
        assert result.returncode == 0 and not result.exception, result.describe()
        status = result.single("CONNECTION_STATUS", "connectionStatus")
        assert status["status"] == {"succeed": "SUCCEEDED", "failed": "FAILED"}[expected], status
        if expected == "failed":
            assert (status.get("message") or "").strip(), "a FAILED status must say why"

    # -- discovery
    @_params("discovery")
    def test_discover(self, session: AcceptanceSession, entry: Entry) -> None:
        from integration_tests.harness import stream_names

        streams = session.discovered_streams(entry.get("config_path"))
        assert sorted(streams) == stream_names(), "discover must return one stream per schema in source_convert/schemas"
        for name, stream in streams.items():
            schema = stream["json_schema"]
            validator_for(schema).check_schema(schema)
            assert schema.get("type") == "object" or "object" in (schema.get("type") or []), f"{name}: schema is not an object"
            assert stream.get("supported_sync_modes") and "full_refresh" in stream["supported_sync_modes"], name
            for key in stream.get("source_defined_primary_key") or []:
                assert schema_has_path(schema, key), f"{name}: primary key {key} is not in its schema"
            if _supports_incremental(stream):
                assert stream.get("source_defined_cursor") and stream.get("default_cursor_field"), f"{name}: incremental without a cursor"
                assert schema_has_path(schema, stream["default_cursor_field"]), f"{name}: cursor {stream['default_cursor_field']} not in its schema"

    @_params("basic_read")
    def test_configured_catalog_agrees_with_discover(self, session: AcceptanceSession, entry: Entry) -> None:
        """The configured catalog file (also the README's CLI example) lists every stream in a mode discover offers."""
        discovered = session.discovered_streams(entry.get("config_path"))
        problems = []
        names = []
        for configured in session.file_catalog(entry)["streams"]:
            name = configured["stream"]["name"]
            names.append(name)
            stream = discovered.get(name)
            if stream is None:
                problems.append(f"{name}: not discovered")
                continue
            if configured["sync_mode"] not in stream["supported_sync_modes"]:
                problems.append(f"{name}: sync_mode {configured['sync_mode']} not among {stream['supported_sync_modes']}")
            if _supports_incremental(stream) and configured["sync_mode"] != "incremental":
                problems.append(f"{name}: discover offers incremental; configure it incremental")
            if configured["sync_mode"] == "incremental" and configured.get("cursor_field") != stream.get("default_cursor_field"):
                problems.append(f"{name}: cursor_field {configured.get('cursor_field')} != discovered {stream.get('default_cursor_field')}")
            if configured.get("primary_key") not in (None, stream.get("source_defined_primary_key")):
                problems.append(f"{name}: primary_key {configured.get('primary_key')} != discovered {stream.get('source_defined_primary_key')}")
        missing = sorted(set(discovered) - set(names))
        if missing:
            problems.append(f"streams missing from the file: {missing}")
        assert not problems, f"{entry.get('configured_catalog_path')}:\n" + "\n".join(problems)

    # -- basic read
    @_params("basic_read")
    def test_basic_read_succeeds_and_records_match_their_schemas(self, session: AcceptanceSession, entry: Entry) -> None:
        catalog = session.catalog_for(entry, "basic")
        result = session.read(entry, "basic")
        assert_read_succeeded(result, catalog)
        streams = {configured["stream"]["name"]: configured["stream"] for configured in catalog["streams"]}
        if entry.get("validate_schema", True):
            assert_records_match_schemas(result, streams, bool(entry.get("fail_on_extra_columns", True)))

    @_params("basic_read")
    def test_basic_read_returns_records_for_every_non_empty_stream(self, session: AcceptanceSession, entry: Entry) -> None:
        catalog = session.catalog_for(entry, "basic")
        result = session.read(entry, "basic")
        allowed_empty = {item["name"] for item in entry.get("empty_streams") or []}
        counts = Counter(record["stream"] for record in result.records)
        empty = [c["stream"]["name"] for c in catalog["streams"] if not counts[c["stream"]["name"]] and c["stream"]["name"] not in allowed_empty]
        assert not empty, f"streams without records (list them in empty_streams with a bypass_reason if that is right): {empty}"

    @_params("basic_read")
    def test_basic_read_returns_the_expected_records(self, session: AcceptanceSession, entry: Entry) -> None:
        options = entry.get("expect_records")
        if not options:
            skip_or_fail("no expect_records in this basic_read entry")
        expected = load_expected_records(session.config.resolve(options["path"]))
        assert expected, f"{options['path']} is empty"
        catalog = session.catalog_for(entry, "basic")
        streams = {c["stream"]["name"]: c["stream"] for c in catalog["streams"]}
        unknown = sorted(set(expected) - set(streams))
        assert not unknown, f"{options['path']} has records of streams the catalog does not read: {unknown}"
        result = session.read(entry, "basic")
        assert_read_succeeded(result, catalog)
        assert_expected_records(
            result, expected, entry.ignored_fields(),
            {name: stream.get("source_defined_primary_key") or [] for name, stream in streams.items()},
            exact_order=bool(options.get("exact_order", False)), extra_records=bool(options.get("extra_records", True)),
        )

    # -- full refresh
    @_params("full_refresh")
    def test_two_full_refresh_reads_return_the_same_records(self, session: AcceptanceSession, entry: Entry) -> None:
        catalog = session.catalog_for(entry, "full_refresh")
        first = session.read(entry, "full_refresh", repeat=0)
        assert_read_succeeded(first, catalog)
        second = session.read(entry, "full_refresh", repeat=1)
        assert_read_succeeded(second, catalog)
        ignored = entry.ignored_fields()
        before, after = records_without(first, ignored), records_without(second, ignored)
        assert before, "the full refresh read returned no records"
        differences = []
        for stream in sorted(set(before) | set(after)):
            if before.get(stream) != after.get(stream):
                only_first = sum((before.get(stream, Counter()) - after.get(stream, Counter())).values())
                only_second = sum((after.get(stream, Counter()) - before.get(stream, Counter())).values())
                differences.append(f"{stream}: {only_first} records only in the first read, {only_second} only in the second")
        assert not differences, "two full refresh reads differ (ignored_fields can exclude non-data fields):\n" + "\n".join(differences)

    # -- incremental
    @_params("incremental")
    def test_future_state_returns_no_records(self, session: AcceptanceSession, entry: Entry) -> None:
        options = entry.get("future_state")
        if not options:
            skip_or_fail("no future_state in this incremental entry")
        state = session.config.load_json(options["future_state_path"])
        catalog = session.catalog_for(entry, "incremental")
        incremental = [c["stream"]["name"] for c in catalog["streams"]]
        assert incremental, "discover offers no incremental stream in this catalog"
        discovered = session.discovered_streams(entry.get("config_path"))
        in_state = [message["stream"]["stream_descriptor"]["name"] for message in state]
        assert not set(in_state) - set(discovered), f"{options['future_state_path']} names unknown streams: {sorted(set(in_state) - set(discovered))}"
        bypassed = {item["name"] for item in options.get("missing_streams") or []}
        uncovered = sorted(set(incremental) - set(in_state) - bypassed)
        assert not uncovered, (
            f"incremental streams without a future state in {options['future_state_path']}: {uncovered}. Add a state "
            "far in the future for each (or list it under future_state.missing_streams with a bypass_reason)."
        )
        result = session.read(entry, "incremental", state=state)
        assert_read_succeeded(result, catalog)
        counts = Counter(record["stream"] for record in result.records)
        assert not counts, f"a state in the future must yield no records, got {dict(counts)}"


# ------------------------------------------------------------------------------- expected records

# Streams whose records are not all kept in expected_records.jsonl: the first N by primary key.
# daily_reports is left out entirely (its window ends today, so its rows depend on the date).
EXPECTED_SUBSET = {"experiences": 5, "experience_details": 3, "goals": 5, "hypotheses": 5, "knowledge_bases": 5,
                   "observations": 5, "change_history": 8, "aggregated_reports": 8}
EXPECTED_SMALL_STREAM = 12  # streams with at most this many records are kept whole
EXPECTED_EXCLUDED = {"daily_reports"}


def write_expected_records(path: Optional[Path] = None) -> Dict[str, int]:
    """Read the seed-7 simulator in-process (basic read of the first basic_read entry) and write the subset."""
    from integration_tests.simulator import ConvertSimulator, Dataset

    entry = ACCEPTANCE.entries("basic_read")[0]
    target = path or ACCEPTANCE.resolve(entry.get("expect_records")["path"])
    with ConvertSimulator(dataset=Dataset.generate(seed=7)) as simulator:
        session = AcceptanceSession(InProcessRunner(), simulator, ACCEPTANCE)
        catalog = session.catalog_for(entry, "basic")
        result = session.read(entry, "basic")
        assert_read_succeeded(result, catalog)
    ignored = entry.ignored_fields()
    keys = {c["stream"]["name"]: c["stream"].get("source_defined_primary_key") or [] for c in catalog["streams"]}
    lines, written = [], {}
    by_stream = result.records_by_stream()
    for configured in catalog["streams"]:
        stream = configured["stream"]["name"]
        records = by_stream.get(stream, [])
        if stream in EXPECTED_EXCLUDED or not records:
            continue
        records = sorted(records, key=lambda record: canonical([field_value(record, key) for key in keys[stream]]))
        if len(records) > EXPECTED_SMALL_STREAM:
            records = records[: EXPECTED_SUBSET.get(stream, 5)]
        for record in records:
            data = without_fields(record, ignored.get(stream, []))
            lines.append(json.dumps({"stream": stream, "data": data, "emitted_at": EXPECTED_EMITTED_AT}, ensure_ascii=False))
        written[stream] = len(records)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written


def main(argv: Sequence[str]) -> int:
    if list(argv) != ["write-expected-records"]:
        print("usage: python -m integration_tests.acceptance write-expected-records", file=sys.stderr)
        return 2
    written = write_expected_records()
    print(json.dumps(written, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
