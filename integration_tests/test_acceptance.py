"""Acceptance checks the standard tests (``test_standard_suite.py``) do not make, against the seed-7 simulator.

* a full refresh returns the records of ``expected_records.jsonl``, every field compared;
* two full refreshes of unchanged data return identical records, every field compared (a destination
  that keeps history, such as a dbt snapshot, must not see a new version of an unchanged row);
* a second incremental sync continues from the state of the first;
* every record of every project validates against its stream's declared schema, carries the fields
  Convert documents for its object (those the stream asks for) and follows the contract's schema of it;
* ``configured_catalog.json`` is the catalog discover offers.

All run the connector's command line. After an intended change of the streams, the records or the
simulator's data, ``python -m integration_tests.regenerate`` rewrites both files.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import pytest

from jsonschema import Draft7Validator

from integration_tests import regenerate
from integration_tests.documented_fields import CARRIED_ELSEWHERE, STREAM_OBJECTS, documented_fields
from integration_tests.harness import ConnectorRun, configured_catalog, load_schema, run_connector, stream_names
from simulator.contract import object_validator
from simulator import ConvertSimulator

REGENERATE = ("If the change is intended, run `PYTHONPATH=. .venv/bin/python -m integration_tests.regenerate` "
              "and review the diff.")
Records = Dict[str, List[Dict[str, Any]]]


@pytest.fixture(scope="module")
def reference() -> Iterator[ConvertSimulator]:
    with regenerate.reference_simulator() as simulator:
        yield simulator


@pytest.fixture(scope="module")
def reference_catalog(reference: ConvertSimulator) -> Dict[str, Any]:
    return regenerate.discover(reference)


@pytest.fixture(scope="module")
def full_refreshes(reference: ConvertSimulator, reference_catalog: Dict[str, Any]) -> List[ConnectorRun]:
    return [regenerate.full_refresh(reference, reference_catalog) for _ in range(2)]


def by_stream(run: ConnectorRun) -> Records:
    grouped: Records = {}
    for record in run.records:
        grouped.setdefault(record["stream"], []).append(record["data"])
    return {stream: sorted(records, key=regenerate.canonical) for stream, records in grouped.items()}


def differences(expected: Records, actual: Records, catalog: Mapping[str, Any], sides: Tuple[str, str] = ("expected", "read"),
                limit: int = 15) -> str:
    """Which records differ, by stream and primary key, and in which fields ("" if none)."""
    streams = {stream["name"]: stream for stream in catalog["streams"]}
    lines = []
    for name in sorted(set(expected) | set(actual)):
        if regenerate.canonical(expected.get(name)) == regenerate.canonical(actual.get(name)):
            continue
        keyed = [{regenerate.canonical(regenerate.primary_key(streams.get(name, {}), r)): r for r in side.get(name, [])}
                 for side in (expected, actual)]
        lines.append(f"{name}: {sides[0]} {len(expected.get(name, []))} records, {sides[1]} {len(actual.get(name, []))}")
        for key in sorted(set(keyed[0]) | set(keyed[1])):
            before, after = keyed[0].get(key), keyed[1].get(key)
            if before is None or after is None:
                lines.append(f"  {key}: only {sides[1] if before is None else sides[0]}")
            elif before != after:
                fields = sorted(field for field in set(before) | set(after) if before.get(field) != after.get(field))
                shown = ", ".join(f"{field}: {before.get(field)!r:.60} -> {after.get(field)!r:.60}" for field in fields)
                lines.append(f"  {key}: {shown}")
    return "\n".join(lines[:limit] + ([f"... {len(lines) - limit} more lines"] if len(lines) > limit else []))


def test_configured_catalog_is_what_discover_offers(reference_catalog: Dict[str, Any]) -> None:
    lines = regenerate.CATALOG_FILE.read_text(encoding="utf-8").splitlines()
    assert lines == regenerate.catalog_lines(reference_catalog), f"configured_catalog.json is out of date. {REGENERATE}"


def test_full_refresh_returns_the_expected_records(full_refreshes: List[ConnectorRun], reference_catalog: Dict[str, Any]) -> None:
    expected = regenerate.load_expected_records()
    found = differences(expected, regenerate.expected_records(full_refreshes[0], reference_catalog), reference_catalog)
    assert not found, f"records differ from expected_records.jsonl (expected -> read):\n{found}\n{REGENERATE}"


def test_two_full_refreshes_return_identical_records(full_refreshes: List[ConnectorRun], reference_catalog: Dict[str, Any]) -> None:
    first, second = (by_stream(run) for run in full_refreshes)
    assert first, "the full refresh returned no records"
    found = differences(first, second, reference_catalog, sides=("first", "second"))
    assert not found, f"two full refreshes differ (first -> second):\n{found}"


# Documented fields that Convert sends only on request (``include``), which these streams do not make.
NOT_REQUESTED = {
    "account": {"stats"},
    "experiences": {"alerts", "audiences", "collaborators", "goals", "locations", "stats", "variations"},
    "experience_details": {"alerts", "audiences", "collaborators"},
    "goals": {"stats", "triggering_rule"},
    "audiences": {"rules", "stats"},
    "locations": {"rules", "stats", "trigger"},
    "features": {"stats"},
    "projects": {"default_audiences", "default_goals", "default_locations", "domains", "global_javascript", "stats"},
}
# Documented fields that are null by nature in a stream: the project history lists no variation or change
# events (its objects are ``ChangeHistoryObjects``), the only ones with a parent.
NULL_BY_NATURE = {"change_history": {"parent_object_id"}}


@pytest.mark.parametrize("stream", stream_names())
def test_every_record_of_every_project_validates_against_its_declared_schema(full_refreshes: List[ConnectorRun],
                                                                            stream: str) -> None:
    records = full_refreshes[0].records_of(stream)
    assert records, f"{stream}: the full refresh of every project read no record"
    validator = Draft7Validator(load_schema(stream))
    invalid = [f"{list(error.path)}: {error.message:.200}" for record in records for error in validator.iter_errors(record)]
    assert not invalid, f"{stream}: {len(invalid)} schema errors, e.g. {invalid[:3]}"


@pytest.mark.parametrize("stream", sorted(STREAM_OBJECTS))
def test_records_carry_the_documented_fields_their_stream_asks_for(full_refreshes: List[ConnectorRun], stream: str) -> None:
    """What makes the validation above meaningful: each documented field (except those Convert sends only on a
    request the stream does not make) is in the stream's records, and not null in at least one."""
    records = full_refreshes[0].records_of(stream)
    expected = (set(documented_fields(stream)) - set(CARRIED_ELSEWHERE.get(stream, {})) - NOT_REQUESTED.get(stream, set())
                - NULL_BY_NATURE.get(stream, set()))
    absent = sorted(name for name in expected if not any(name in record for record in records))
    assert not absent, f"{stream}: no record has {absent}"
    always_null = sorted(name for name in expected if all(record.get(name) is None for record in records))
    assert not always_null, f"{stream}: {always_null} null in every record"


@pytest.mark.parametrize("stream", sorted(STREAM_OBJECTS))
def test_records_follow_the_contracts_schema_of_their_object(full_refreshes: List[ConnectorRun], stream: str) -> None:
    """Each record, the connector's own fields aside (the spec leaves objects open), is the object Convert
    documents: every documented field it carries has the documented type and shape."""
    validator = object_validator(STREAM_OBJECTS[stream])
    invalid = [f"{list(error.absolute_path)}: {error.message:.200}"
               for record in full_refreshes[0].records_of(stream) for error in validator.iter_errors(record)]
    assert not invalid, f"{stream}: {len(invalid)} contract errors, e.g. {invalid[:3]}"


def cursor_value(state: Mapping[str, Any], field: str) -> Optional[Any]:
    """The stream's cursor in a saved state: at the top, or under ``state`` (the CDK's per-partition shape)."""
    if field in state:
        return state[field]
    nested = state.get("state")
    return nested.get(field) if isinstance(nested, Mapping) else None


def project_cursors(state: Mapping[str, Any]) -> Dict[int, Any]:
    """Each project's (oldest) cursor: the stream's own per-project entries, or those of the parent whose cursor
    decides what the stream reads (``changed_at`` follows the history ``timestamp``, ``ran_until`` the
    started experiences'). Records of a project are compared with that project's cursor."""
    entries = state.get("states")
    if entries is None:
        entries = next((parent["states"] for parent in (state.get("parent_state") or {}).values() if "states" in parent), [])
    cursors: Dict[int, Any] = {}
    for entry in entries:  # a stream may keep several cursors per project (one per experience): the oldest counts
        project, value = int(entry["partition"]["project_id"]), next(iter(entry["cursor"].values()))
        cursors[project] = min(cursors.get(project, value), value, key=comparable)
    return cursors


def comparable(value: Any) -> Any:
    """Cursor values as numbers when they are numbers or numeric strings (epoch seconds), else as text."""
    try:
        return (0, float(value))
    except (TypeError, ValueError):
        return (1, str(value))


# What a second incremental sync of an unchanged project reads again (docs/convert.md). By default only
# what sits at the saved cursor (at-least-once), so fewer records than the first sync, none before it.
READ_WHOLE_ON_EVERY_SYNC = {"audiences", "locations"}  # usage stats change without events of their own
READ_BEFORE_THE_CURSOR = {"daily_reports", "daily_traffic_allocation"}  # the last report_lookback_days days are read again


def test_second_incremental_sync_continues_from_the_first_ones_state(reference: ConvertSimulator,
                                                                     reference_catalog: Dict[str, Any]) -> None:
    streams = {s["name"]: s for s in reference_catalog["streams"] if "incremental" in s["supported_sync_modes"]}
    assert streams, "discover offers no incremental stream"
    catalog = configured_catalog(streams, incremental=streams, discovered=reference_catalog)
    config = regenerate.connector_config(reference)
    first = run_connector("read", config, catalog)
    assert first.returncode == 0 and not first.errors, first.errors or first.stdout[-2000:]
    second = run_connector("read", config, catalog, state=first.final_state())
    assert second.returncode == 0 and not second.errors, second.errors or second.stdout[-2000:]

    states = [{s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"] for s in run.final_state()}
              for run in (first, second)]
    problems = []
    for name, stream in streams.items():
        field = stream["default_cursor_field"][-1]
        saved, after = (cursor_value(state.get(name) or {}, field) for state in states)
        records = [run.records_of(name) for run in (first, second)]
        if saved is None or after is None:
            keys = sorted(states[0 if saved is None else 1].get(name) or {})
            problems.append(f"{name}: no `{field}` cursor in the state of sync {1 if saved is None else 2} (keys {keys})")
            continue
        if comparable(after) < comparable(saved):
            problems.append(f"{name}: the cursor moved back from {saved!r} to {after!r}")
        if any(record.get(field) is None for side in records for record in side):
            problems.append(f"{name}: records without their cursor `{field}`")
        by_project = project_cursors(states[0].get(name) or {})
        older = [r[field] for r in records[1] if r.get(field) is not None
                 and comparable(r[field]) < comparable(by_project.get(r.get("project_id"), saved))]
        if older and name not in READ_BEFORE_THE_CURSOR:
            problems.append(f"{name}: {len(older)} records before the saved cursor {saved!r}, e.g. {older[0]!r}")
        counts = [len(side) for side in records]
        if counts[0] == 0:
            problems.append(f"{name}: the first sync read no records, so nothing shows how the state is used")
        elif name in READ_WHOLE_ON_EVERY_SYNC and counts[1] != counts[0]:
            problems.append(f"{name}: read whole on every sync, but {counts[0]} records, then {counts[1]}")
        elif name not in READ_WHOLE_ON_EVERY_SYNC and counts[1] >= counts[0]:
            problems.append(f"{name}: the second sync read {counts[1]} records, the first {counts[0]}: the state was not used")
    assert not problems, "the second incremental sync does not continue from the first one's state:\n" + "\n".join(problems)
