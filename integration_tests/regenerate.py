"""Regenerate the acceptance reference files from the seed-7 simulator.

    PYTHONPATH=. .venv/bin/python -m integration_tests.regenerate

* ``configured_catalog.json``: every discovered stream, incremental where discover offers it (the
  README's command-line example);
* ``expected_records.jsonl``: from a full refresh of every stream, each stream's first
  :data:`SAMPLE_SIZE` records by primary key (all of them for a stream of at most
  :data:`WHOLE_STREAM_LIMIT`), except the streams in :data:`DATE_DEPENDENT_STREAMS`.

Run it after an intended change of the streams, their records or the simulator's data, and review the
diff; ``test_acceptance.py`` fails until the files match what the connector reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping

from integration_tests.harness import ConnectorRun, configured_catalog, run_connector
from simulator import ConvertSimulator, Dataset

HERE = Path(__file__).resolve().parent
CONFIG_FILE = HERE / "valid_config.json"
CATALOG_FILE = HERE / "configured_catalog.json"
EXPECTED_RECORDS_FILE = HERE / "expected_records.jsonl"

SEED = 7
SAMPLE_SIZE = 5
WHOLE_STREAM_LIMIT = 12
# Its rows run up to the day of the read, so they change from one day to the next.
DATE_DEPENDENT_STREAMS = frozenset({"daily_reports"})


def reference_simulator() -> ConvertSimulator:
    return ConvertSimulator(dataset=Dataset.generate(seed=SEED))


def connector_config(simulator: ConvertSimulator) -> Dict[str, Any]:
    """``valid_config.json`` pointed at ``simulator``."""
    return {**json.loads(CONFIG_FILE.read_text(encoding="utf-8")), "api_base_url": simulator.base_url}


def discover(simulator: ConvertSimulator) -> Dict[str, Any]:
    result = run_connector("discover", connector_config(simulator))
    assert result.returncode == 0 and not result.errors, result.stdout[-2000:]
    return result.catalog


def full_refresh(simulator: ConvertSimulator, discovered: Mapping[str, Any]) -> ConnectorRun:
    """A successful full-refresh read of every discovered stream."""
    names = [stream["name"] for stream in discovered["streams"]]
    result = run_connector("read", connector_config(simulator), configured_catalog(names, discovered=discovered))
    assert result.returncode == 0 and not result.errors, (result.errors or result.stdout[-2000:])
    return result


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def primary_key(stream: Mapping[str, Any], record: Mapping[str, Any]) -> List[Any]:
    values = []
    for path in stream.get("source_defined_primary_key") or []:
        node: Any = record
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        values.append(node)
    return values


def catalog_lines(discovered: Mapping[str, Any]) -> List[str]:
    """``configured_catalog.json``, one stream per line (schemas left out: the connector has its own)."""
    entries = []
    for stream in discovered["streams"]:
        incremental = "incremental" in stream["supported_sync_modes"]
        described = {key: stream[key] for key in ("supported_sync_modes", "source_defined_cursor",
                                                  "default_cursor_field", "source_defined_primary_key") if key in stream}
        entry: Dict[str, Any] = {"stream": {"name": stream["name"], "json_schema": {}, **described},
                                 "sync_mode": "incremental" if incremental else "full_refresh",
                                 "destination_sync_mode": "append_dedup" if incremental else "overwrite"}
        if incremental:
            entry["cursor_field"] = stream["default_cursor_field"]
        if stream.get("source_defined_primary_key"):
            entry["primary_key"] = stream["source_defined_primary_key"]
        entries.append("    " + json.dumps(entry, ensure_ascii=False))
    return ["{", '  "streams": [', *[line + "," for line in entries[:-1]], *entries[-1:], "  ]", "}"]


def expected_records(run: ConnectorRun, discovered: Mapping[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    """The records ``expected_records.jsonl`` keeps of ``run``: per stream in catalog order, by primary key."""
    kept = {}
    for stream in discovered["streams"]:
        records = sorted(run.records_of(stream["name"]), key=lambda record: canonical(primary_key(stream, record)))
        if stream["name"] not in DATE_DEPENDENT_STREAMS and records:
            kept[stream["name"]] = records if len(records) <= WHOLE_STREAM_LIMIT else records[:SAMPLE_SIZE]
    return kept


def load_expected_records() -> Dict[str, List[Dict[str, Any]]]:
    kept: Dict[str, List[Dict[str, Any]]] = {}
    for line in EXPECTED_RECORDS_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip():
            message = json.loads(line)
            kept.setdefault(message["stream"], []).append(message["data"])
    return kept


def main() -> None:
    with reference_simulator() as simulator:
        discovered = discover(simulator)
        run = full_refresh(simulator, discovered)
    CATALOG_FILE.write_text("\n".join(catalog_lines(discovered)) + "\n", encoding="utf-8")
    lines = [json.dumps({"stream": stream, "data": record}, ensure_ascii=False)
             for stream, records in expected_records(run, discovered).items() for record in records]
    EXPECTED_RECORDS_FILE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {CATALOG_FILE.name} ({len(discovered['streams'])} streams) and {EXPECTED_RECORDS_FILE.name} ({len(lines)} records)")


if __name__ == "__main__":
    main()
