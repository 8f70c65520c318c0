"""Run the real connector entrypoint as a subprocess and parse its Airbyte messages."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from airbyte_cdk.sources.utils.schema_helpers import ResourceSchemaLoader

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMAS_DIR = REPO_ROOT / "source_convert" / "schemas"


@dataclass
class ConnectorRun:
    """The parsed output of one connector process."""

    returncode: int
    stdout: str
    stderr: str
    messages: List[Dict[str, Any]] = field(default_factory=list)

    def of_type(self, kind: str) -> List[Dict[str, Any]]:
        return [message for message in self.messages if message.get("type") == kind]

    @property
    def records(self) -> List[Dict[str, Any]]:
        return [message["record"] for message in self.of_type("RECORD")]

    def records_of(self, stream: str) -> List[Dict[str, Any]]:
        return [record["data"] for record in self.records if record["stream"] == stream]

    def counts(self) -> Counter:
        return Counter(record["stream"] for record in self.records)

    @property
    def states(self) -> List[Dict[str, Any]]:
        return [message["state"] for message in self.of_type("STATE")]

    def final_state(self) -> List[Dict[str, Any]]:
        """The newest state message per stream, as a state file for the next sync."""
        latest: Dict[str, Dict[str, Any]] = {}
        for state in self.states:
            if state.get("type") == "STREAM":
                latest[state["stream"]["stream_descriptor"]["name"]] = state
        return list(latest.values())

    @property
    def errors(self) -> List[Dict[str, Any]]:
        return [message["trace"]["error"] for message in self.of_type("TRACE") if message["trace"].get("type") == "ERROR"]

    @property
    def connection_status(self) -> Dict[str, Any]:
        statuses = self.of_type("CONNECTION_STATUS")
        assert len(statuses) == 1, f"expected one CONNECTION_STATUS, got {len(statuses)}: {self.stdout[-2000:]}"
        return statuses[0]["connectionStatus"]

    @property
    def catalog(self) -> Dict[str, Any]:
        catalogs = self.of_type("CATALOG")
        assert len(catalogs) == 1, self.stdout[-2000:]
        return catalogs[0]["catalog"]


def _write_json(directory: str, name: str, value: Any) -> str:
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle)
    return path


def _child_environment() -> Dict[str, str]:
    """This process's environment with PYTHONPATH made absolute: the connector runs in a temporary
    directory, where a relative entry such as ``.`` would import another copy of ``source_convert``."""
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(entry) for entry in env["PYTHONPATH"].split(os.pathsep) if entry)
    return env


def run_connector(
    command: str,
    config: Optional[Mapping[str, Any]] = None,
    catalog: Optional[Mapping[str, Any]] = None,
    state: Optional[Any] = None,
    extra_args: Sequence[str] = (),
    timeout: float = 600,
) -> ConnectorRun:
    """Run ``python -m source_convert.run COMMAND`` with temp files for config, catalog and state."""
    with tempfile.TemporaryDirectory() as directory:
        args = [sys.executable, "-m", "source_convert.run", command]
        if config is not None:
            args += ["--config", _write_json(directory, "config.json", config)]
        if catalog is not None:
            args += ["--catalog", _write_json(directory, "catalog.json", catalog)]
        if state is not None:
            args += ["--state", _write_json(directory, "state.json", state)]
        args += list(extra_args)
        completed = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=directory,
                                   env=_child_environment())
    messages = []
    for line in completed.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                messages.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return ConnectorRun(completed.returncode, completed.stdout, completed.stderr, messages)


_DISCOVERED: List[Dict[str, Any]] = []


def discovered_catalog() -> Dict[str, Any]:
    """The catalog ``discover`` prints, read once per test process: it makes no request and depends on
    nothing a test varies (key, account, projects, simulator address)."""
    if not _DISCOVERED:
        config = {"key_id": "k", "key_secret": "s", "account_id": "100001", "project_id": "*",
                  "api_base_url": "http://127.0.0.1:9/api/v2"}
        result = run_connector("discover", config)
        assert result.returncode == 0 and result.catalog, result.stderr[-2000:]
        _DISCOVERED.append(result.catalog)
    return _DISCOVERED[0]


def state_of(run: ConnectorRun, stream: str) -> Dict[str, Any]:
    """The last state a run saved for ``stream``."""
    return next(s["stream"]["stream_state"] for s in run.final_state() if s["stream"]["stream_descriptor"]["name"] == stream)


def daily_metrics(dataset: Any, goal_id: int, project_id: int) -> List[str]:
    """The daily report metrics that apply to a goal: the revenue ones only for goals of type revenue."""
    revenue = (dataset.find(project_id, "goals", goal_id) or {}).get("type") == "revenue"
    return ["conversion_rate"] + (["avg_revenue_per_visitor", "avg_products_ordered_per_visitor"] if revenue else [])


def load_schema(stream: str) -> Dict[str, Any]:
    """The stream's schema as the connector declares it: its file, with the shared definitions
    (``schemas/shared``) resolved by the CDK's loader."""
    return ResourceSchemaLoader("source_convert").get_schema(stream)


def stream_names() -> List[str]:
    return sorted(path.stem for path in SCHEMAS_DIR.glob("*.json"))


def configured_catalog(
    streams: Iterable[str], incremental: Iterable[str] = (), discovered: Optional[Mapping[str, Any]] = None
) -> Dict[str, Any]:
    """A configured catalog: full refresh for every stream, incremental (append) for those named."""
    incremental = set(incremental)
    by_name = {stream["name"]: stream for stream in (discovered or {}).get("streams", [])}
    configured = []
    for name in streams:
        stream = by_name.get(name) or {
            "name": name,
            "json_schema": load_schema(name),
            "supported_sync_modes": ["full_refresh", "incremental"] if name in incremental else ["full_refresh"],
        }
        entry = {
            "stream": stream,
            "sync_mode": "incremental" if name in incremental else "full_refresh",
            "destination_sync_mode": "append" if name in incremental else "overwrite",
        }
        if name in incremental and stream.get("default_cursor_field"):
            entry["cursor_field"] = stream["default_cursor_field"]
        configured.append(entry)
    return {"streams": configured}


def primary_key_values(records: Iterable[Mapping[str, Any]], key: Sequence[str]) -> List[tuple]:
    return [tuple(record.get(part) for part in key) for record in records]


def group_by(records: Iterable[Mapping[str, Any]], field_name: str) -> Dict[Any, List[Mapping[str, Any]]]:
    grouped: Dict[Any, List[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        grouped[record.get(field_name)].append(record)
    return grouped


WEB_PROJECT = 200002  # the simulator's default configured project (simulator.WEB_PROJECT_ID)


def project_cursors(state: Mapping[str, Any], field: str, parent: Optional[str] = None) -> Dict[int, Any]:
    """``{project_id: cursor}`` of a per-project state (``{"states": [{"partition": {"project_id": ...},
    "cursor": {field: ...}}, ...]}``), or of its ``parent_state[parent]``. UNIX-seconds cursors come as
    ints, others (days) as saved. A project with more than one entry, or an entry without ``field``, fails."""
    if parent is not None:
        state = state["parent_state"][parent]
    cursors: Dict[int, Any] = {}
    for entry in state["states"]:
        project = int(entry["partition"]["project_id"])
        assert project not in cursors, f"project {project} has two entries: {state}"
        value = entry["cursor"][field]
        cursors[project] = int(value) if isinstance(value, str) and value.isdigit() else value
    return cursors


def project_cursor(state: Mapping[str, Any], field: str, project: int = WEB_PROJECT, parent: Optional[str] = None) -> Any:
    """The cursor ``field`` that a per-project state keeps for ``project`` (see ``project_cursors``)."""
    cursors = project_cursors(state, field, parent)
    assert project in cursors, f"no cursor of project {project} in {state}"
    return cursors[project]


# Report requests and rows, as the report tests read them.
REPORT_PATH = re.compile(r"/projects/(?P<project>\d+)/experiences/(?P<experience>\d+)/(?P<kind>aggregated_report|daily_report|daily_traffic_allocation)$")
DAILY_KEY = ("experience_id", "goal_id", "variation_id", "day", "metric")


def report_requests(run: ConnectorRun, kind: str) -> List[Any]:
    """The simulator's logged report requests of ``kind`` during ``run`` (``run.requests``, set by the test)."""
    return [r for r in run.requests if (m := REPORT_PATH.search(r.path)) and m.group("kind") == kind]  # type: ignore[attr-defined]


def experience_of(request: Any) -> int:
    """The experience a logged report request is about."""
    return int(REPORT_PATH.search(request.path).group("experience"))  # type: ignore[union-attr]


def daily_by_key(run: ConnectorRun) -> Dict[tuple, Dict[str, Any]]:
    """The run's daily rows by primary key; a row delivered twice fails."""
    rows = run.records_of("daily_reports")
    keyed = {tuple(row[field] for field in DAILY_KEY): row for row in rows}
    assert len(keyed) == len(rows), "a daily row was delivered twice"
    return keyed


# ---------------------------------------------------------------- change-history events (no id of their own)
def event_identity(event: Mapping[str, Any]) -> str:
    """A history event's documented fields as served (what tells two events apart), as one comparable value."""
    from simulator import render

    return json.dumps({name: event.get(name) for name in render.HISTORY_FIELDS}, sort_keys=True)


def served_event(dataset: Any, stored: Mapping[str, Any]) -> Dict[str, Any]:
    """How the simulator serves one of its stored history events (the contract's shape)."""
    from simulator import render

    return render.history_event(render.Context(dataset, None, stored["project_id"]), dict(stored))


def served_identities(dataset: Any, stored_events: Iterable[Mapping[str, Any]]) -> set:
    """The identities of stored events as the connector receives them (the ground truth of a history stream)."""
    return {event_identity(served_event(dataset, event)) for event in stored_events}


def history_identities(*record_lists: Iterable[Mapping[str, Any]]) -> set:
    """The events in history records, after checking their keys: every record has a non-null ``event_id``,
    the same event has the same ``event_id`` in every list given (e.g. two syncs), and different events
    never share one."""
    keys: Dict[str, str] = {}
    events_by_key: Dict[str, str] = {}
    for records in record_lists:
        for record in records:
            identity, key = event_identity(record), record.get("event_id")
            assert isinstance(key, str) and key, f"a history record without event_id: {record}"
            assert keys.setdefault(identity, key) == key, f"one event, two keys: {identity}"
            assert events_by_key.setdefault(key, identity) == identity, f"two events, one key {key}"
    return set(keys)
