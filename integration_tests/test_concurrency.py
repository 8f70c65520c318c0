"""Concurrency changes how fast a sync is, never what it delivers.

The same simulator (latency on every answer, seeded random 503s without Retry-After, and every-k-th
502s, "too many requests" 500s, HTML 200s and connection resets) is read once with one request in
flight and once with ten. Both reads must deliver exactly the same records per stream, compared as
multisets of canonical JSON; no record field is ignored (none depends on the run). An experience
whose daily report answers 404 (deleted during the sync, as far as the connector can tell) is
skipped in both reads with one warning each. The incremental case runs a first sync and, after
changes, a second one at both concurrencies from each run's own state, and also compares the saved
states, less the one run-dependent value in them (``lookback_window``, see below).

Nothing here depends on how many projects the simulator or the config has: only the two reads are
compared with each other.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Dict, List, Mapping, Optional, Tuple

import pytest

from integration_tests.harness import ConnectorRun, configured_catalog, discovered_catalog, run_connector
from simulator import ConvertSimulator, Dataset, Fault

SERIAL, CONCURRENT = 1, 10
TOO_MANY = '{"code":500,"message":"Too many requests"}'
DAILY_REPORT = "/experiences/{}/daily_report$"


def faults(deleted_experience: int) -> List[Fault]:
    """Fresh fault rules for one read (rules count the requests they match, so each read gets its own)."""
    forever = 1 << 30
    return [
        Fault(404, times=forever, path_regex=DAILY_REPORT.format(deleted_experience)),
        Fault(502, times=forever, every=11, retry_after=0),
        Fault(500, times=forever, every=17, retry_after=0, body=TOO_MANY),
        Fault(kind="not_json", times=3, every=13, retry_after=0),
        Fault(kind="no_data", times=3, every=19, retry_after=0),
        Fault(kind="reset", times=2, every=29),
    ]


@pytest.fixture(scope="module")
def sim():
    dataset = Dataset.generate(seed=5, experiences=16, goals=12, knowledge_bases=12, observations=12, change_history=80)
    with ConvertSimulator(dataset=dataset, latency=0.02, random_503=0.04, seed=3) as server:
        yield server


@pytest.fixture(scope="module")
def discovered() -> Dict[str, Any]:
    return discovered_catalog()


@pytest.fixture(scope="module")
def deleted_experience(sim) -> int:
    """A started experience whose daily reports answer 404 in every read."""
    return sim.dataset.started_experiences()[1]["id"]


def canonical(records: List[Mapping[str, Any]]) -> Counter:
    return Counter(json.dumps(record, sort_keys=True, separators=(",", ":")) for record in records)


def per_stream(run: ConnectorRun) -> Dict[str, Counter]:
    by_stream: Dict[str, List[Mapping[str, Any]]] = {}
    for record in run.records:
        by_stream.setdefault(record["stream"], []).append(record["data"])
    return {stream: canonical(records) for stream, records in by_stream.items()}


def warnings_about(run: ConnectorRun, experience: int) -> List[str]:
    return [
        message["log"]["message"]
        for message in run.of_type("LOG")
        if message["log"]["level"] == "WARN" and f"experience {experience} was not found" in message["log"]["message"]
    ]


def read(sim: ConvertSimulator, concurrency: int, catalog: Dict[str, Any], deleted: int,
         state: Optional[Any] = None) -> Tuple[ConnectorRun, int, Counter]:
    """One read; returns the run, the most requests the simulator had in flight, and the answers it gave."""
    sim.clear_faults()
    for fault in faults(deleted):
        sim.inject(fault)
    sim.reset_log()
    run = run_connector("read", sim.config(max_concurrent_requests=concurrency), catalog, state=state, timeout=300)
    assert run.returncode == 0 and not run.errors, run.stdout[-3000:]
    answers = Counter("reset" if r.status == 0 else r.fault or r.status for r in sim.requests)
    return run, sim.peak_in_flight, answers


def assert_same_records(serial: ConnectorRun, concurrent: ConnectorRun) -> None:
    expected, actual = per_stream(serial), per_stream(concurrent)
    assert sorted(actual) == sorted(expected), "the reads delivered records for different streams"
    for stream, records in expected.items():
        missing, extra = records - actual[stream], actual[stream] - records
        assert not missing and not extra, (
            f"{stream}: {sum(missing.values())} records only in the serial read (e.g. {list(missing)[:1]}), "
            f"{sum(extra.values())} only in the concurrent read (e.g. {list(extra)[:1]})"
        )


# The one run-dependent value: the CDK's per-partition cursor saves, with a global cursor, how many
# wall-clock seconds the sync took (``lookback_window``, ``ConcurrentPerPartitionCursor``'s timer), to
# read that much further back next time. It measures the run, not Convert's data.
RUN_DEPENDENT_STATE_KEYS = frozenset({"lookback_window"})


def without_run_dependent(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: without_run_dependent(item) for key, item in value.items() if key not in RUN_DEPENDENT_STATE_KEYS}
    if isinstance(value, list):
        return [without_run_dependent(item) for item in value]
    return value


def saved_states(run: ConnectorRun) -> Dict[str, Any]:
    """The state each stream saved last, by stream (the order streams finish in is the run's own),
    without the run-dependent ``lookback_window``."""
    return {
        state["stream"]["stream_descriptor"]["name"]: without_run_dependent(state["stream"]["stream_state"])
        for state in run.final_state()
    }


def assert_faults_were_met(answers: Counter) -> None:
    for what in ("random_503", "status", "not_json", "no_data", "reset"):
        assert answers[what] > 0, f"no {what} fault was served: {answers}"


def test_a_full_refresh_delivers_the_same_records_at_any_concurrency(sim, discovered, deleted_experience):
    catalog = configured_catalog([stream["name"] for stream in discovered["streams"]], discovered=discovered)

    serial, serial_peak, serial_answers = read(sim, SERIAL, catalog, deleted_experience)
    concurrent, concurrent_peak, concurrent_answers = read(sim, CONCURRENT, catalog, deleted_experience)

    # The reads were what they claim: one request at a time, then many; both met every kind of fault
    assert serial_peak == 1
    assert concurrent_peak > 2
    assert_faults_were_met(serial_answers)
    assert_faults_were_met(concurrent_answers)
    # and they delivered the same records (a good many: the comparison is not between two empty reads)
    assert sum(len(records) for records in per_stream(serial).values()) > 1000
    assert_same_records(serial, concurrent)
    # The deleted experience: no daily row, the other experiences' rows, one warning per read
    for run in (serial, concurrent):
        daily = run.records_of("daily_reports")
        assert daily and all(row["experience_id"] != deleted_experience for row in daily)
        assert any(row["experience_id"] == deleted_experience for row in run.records_of("aggregated_reports"))
        assert len(warnings_about(run, deleted_experience)) == 1


def test_incremental_syncs_after_changes_deliver_the_same_records_and_state_at_any_concurrency(
    sim, discovered, deleted_experience
):
    incremental = [stream["name"] for stream in discovered["streams"] if "incremental" in stream["supported_sync_modes"]]
    catalog = configured_catalog(incremental, incremental=incremental, discovered=discovered)

    first_serial, _, _ = read(sim, SERIAL, catalog, deleted_experience)
    first_concurrent, _, _ = read(sim, CONCURRENT, catalog, deleted_experience)
    assert_same_records(first_serial, first_concurrent)
    assert saved_states(first_serial) == saved_states(first_concurrent)

    # Changes between the syncs: a day passes, experiences are renamed, stopped, created
    sim.dataset.advance_days(1)
    started = sim.dataset.started_experiences()
    sim.dataset.update_experience(started[0]["id"], name="Renamed between the syncs")
    sim.dataset.update_experience(started[2]["id"], status="paused")
    sim.dataset.add_experience(name="Created between the syncs")

    second_serial, _, _ = read(sim, SERIAL, catalog, deleted_experience, state=first_serial.final_state())
    second_concurrent, _, _ = read(sim, CONCURRENT, catalog, deleted_experience, state=first_concurrent.final_state())
    assert second_serial.records, "the second sync read nothing: the changes were not seen"
    assert any(r.get("name") == "Renamed between the syncs" for r in second_serial.records_of("experiences"))
    assert_same_records(second_serial, second_concurrent)
    assert saved_states(second_serial) == saved_states(second_concurrent)
