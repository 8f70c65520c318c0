"""The simulator answers as Convert's published contract says (``simulator/contract``).

One simulator records every request and answer of: a full sync and an incremental sync of every stream
(``configured_catalog.json``, every project), the single-object and report GETs the connector does not
call, and the error cases (a refused key, an experience gone missing, a refused request, rate limiting
and a server error). Each 200 answer is validated against its operation's response schema, each request
body against its request schema, and each error answer against ``ErrorResponse``; a test per operation
lists every violation. A mutated answer shows the validation fails when an answer leaves the contract,
and both readings of what the spec contradicts (single objects bare or wrapped, a 422 naming its inputs
under ``parameters`` or ``fields``) sync the same.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List

import pytest

import simulator.contract as contract
from integration_tests.harness import configured_catalog, run_connector
from integration_tests.test_simulator import call
from simulator import ConvertSimulator, Dataset
from simulator.faults import Fault
from simulator.generator import ACCOUNT_ID, WEB_PROJECT_ID
from simulator.server import RequestLog

CATALOG = json.loads((Path(__file__).resolve().parent / "configured_catalog.json").read_text(encoding="utf-8"))
ACC = f"/accounts/{ACCOUNT_ID}"
PRJ = f"{ACC}/projects/{WEB_PROJECT_ID}"
OBJECT_PATHS = {"goals": "goals", "audiences": "audiences", "locations": "locations", "hypotheses": "hypotheses",
                "knowledge-bases": "knowledge-bases", "observations": "observations", "tags": "tags",
                "domains": "domains", "features": "features"}
ERROR_STATUSES = {401, 404, 422, 429, 503}


def operation_of(log: RequestLog) -> str:
    return contract.operation_for(log.method, log.path).name


def _started_experience(sim: ConvertSimulator) -> Dict[str, Any]:
    with sim.dataset.lock:
        return next(e for e in sim.dataset.started_experiences(WEB_PROJECT_ID) if e["variations"])


def _direct_calls(sim: ConvertSimulator) -> None:
    """The documented GETs the connector does not make, and the traffic allocation report, asked once each."""
    exp = _started_experience(sim)
    call(sim, "GET", "/accounts")
    call(sim, "GET", PRJ, query="include[]=domains&include[]=stats.usage")
    call(sim, "GET", f"{PRJ}/experiences/{exp['id']}", query="include[]=variations&expand[]=variations")
    with sim.dataset.lock:
        firsts = {kind: next(iter(sim.dataset.records(WEB_PROJECT_ID, kind)), None) for kind in OBJECT_PATHS}
    features = [r for pid in sim.dataset.store for r in sim.dataset.records(pid, "features")]
    for kind, record in firsts.items():
        if record is not None:
            call(sim, "GET", f"{PRJ}/{OBJECT_PATHS[kind]}/{record['id']}")
    if features:
        pid = next(pid for pid in sim.dataset.store if sim.dataset.records(pid, "features"))
        call(sim, "GET", f"{ACC}/projects/{pid}/features/{features[0]['id']}")
    call(sim, "POST", f"{PRJ}/experiences/{exp['id']}/daily_traffic_allocation", {"utc_offset": 0})


def _error_cases(sim: ConvertSimulator, config: Dict[str, Any]) -> None:
    """A refused key (401), an experience that vanished (404), a refused request (422), rate limiting (429)
    and a server error (503), each answered through the connector or a signed call."""
    run_connector("check", dict(config, key_secret="not-the-secret"))
    exp = _started_experience(sim)
    sim.vanished_experiences = {exp["id"]}
    call(sim, "GET", f"{PRJ}/experiences/{exp['id']}/report_settings")
    sim.vanished_experiences = set()
    call(sim, "POST", f"{PRJ}/goals", {"results_per_page": 500})
    sim.error_fields_key = "fields"
    call(sim, "POST", f"{PRJ}/goals", {"results_per_page": 500})
    sim.error_fields_key = "parameters"
    sim.inject(Fault(status=429, times=1, path_regex=r"/tags$", retry_after=1))
    sim.inject(Fault(status=503, times=1, path_regex=r"/domains$"))
    run = run_connector("read", config, configured_catalog(["tags", "domains"]))
    assert run.returncode == 0 and not run.errors, run.stdout[-2000:]
    sim.clear_faults()


@pytest.fixture(scope="module")
def traffic() -> List[RequestLog]:
    """Every request and answer of the syncs, the direct calls and the error cases, on one simulator."""
    with ConvertSimulator(dataset=Dataset.generate(seed=7)) as sim:
        config = sim.config(project_id="*", report_lookback_days=3)
        full = run_connector("read", config, CATALOG)
        assert full.returncode == 0 and not full.errors, (full.errors, full.stdout[-2000:])
        ds = sim.dataset
        exp = _started_experience(sim)
        ds.advance(1)
        ds.update_experience(exp["id"], description="Edited between the syncs")
        ds.edit_report_settings(exp["id"])
        ds.edit_variation_change(exp["id"])
        incremental = run_connector("read", config, CATALOG, state=full.final_state())
        assert incremental.returncode == 0 and not incremental.errors, incremental.stdout[-2000:]
        _direct_calls(sim)
        _error_cases(sim, config)
        return sim.requests


def test_every_request_is_a_documented_operation(traffic):
    unknown = sorted({f"{log.method} {log.path}" for log in traffic
                      if not _known(log)})
    assert not unknown, "requests no operation of the contract describes:\n" + "\n".join(unknown[:30])


def _known(log: RequestLog) -> bool:
    try:
        operation_of(log)
    except LookupError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(contract.contract()["operations"]))
def test_every_answer_follows_the_contract(traffic, name):
    op = next(op for op in contract.operations() if op.name == name)
    answered = [log for log in traffic if log.status == 200 and _known(log) and operation_of(log) == name]
    assert answered, f"{name} ({op.method} {op.path}) was never answered 200: the simulator does not serve it"
    problems: List[str] = []
    for log in answered:
        problems += [f"answer to {log.method} {log.path}: {p}" for p in contract.validate_response(op, log.response)]
        problems += [f"request {log.method} {log.path}: {p}" for p in contract.validate_request(op, log.body)]
    assert not problems, (f"{name}: {len(problems)} violations in {len(answered)} answers; the first:\n  "
                          + "\n  ".join(problems[:25]))


def test_every_error_answer_follows_the_contract(traffic):
    errors = [log for log in traffic if log.status >= 400]
    assert ERROR_STATUSES <= {log.status for log in errors}, sorted({log.status for log in errors})
    problems = [f"HTTP {log.status} for {log.method} {log.path}: {p}" for log in errors
                for p in contract.validate_error(log.response)]
    assert not problems, "\n".join(problems[:25])
    refused = [log.response for log in errors if log.status == 422]
    assert {key for body in refused for key in ("parameters", "fields") if key in body} == {"parameters", "fields"}
    assert all(body["message"] and (body.get("parameters") or body.get("fields")) == ["results_per_page"]
               for body in refused)


def test_every_stream_was_read_in_both_syncs(traffic):
    """The recorded traffic covers every stream's calls: each operation of the manifest answered in both syncs."""
    by_operation = defaultdict(int)
    for log in traffic:
        if log.status == 200 and _known(log):
            by_operation[operation_of(log)] += 1
    called = {"getAccountDetails", "getAccountUsersAccessesList", "getProjectsList", "getExperiencesList",
              "getGoalsList", "getAudiencesList", "getLocationsList", "getHypothesesList", "getKnowledgeBasesList",
              "getObservationsList", "getTagsList", "getDomainsList", "getFeaturesList", "getProjectHistory",
              "getExperienceHistory", "getSections", "getExperienceReportSettings", "getExperienceAggregatedReport",
              "getExperienceDailyReport"}
    assert all(by_operation[name] >= 2 for name in called), {name: by_operation[name] for name in called}


# ----------------------------------------------------------------------------- a mutated answer
def _count_as_text(method: str, path: str, status: int, body: Any) -> Any:
    """Goal lists whose page count comes as text: off the contract (``items_count`` is an integer)."""
    if status == 200 and path.endswith("/goals") and isinstance(body, dict) and body.get("extra", {}).get("pagination"):
        body = dict(body, extra={"pagination": dict(body["extra"]["pagination"],
                                                    items_count=str(body["extra"]["pagination"]["items_count"]))})
    return body


def test_an_answer_off_the_contract_is_caught():
    with ConvertSimulator(dataset=Dataset.generate(seed=7), answer_hook=_count_as_text) as sim:
        run_connector("read", sim.config(), configured_catalog(["goals", "tags"]))
        answered = [log for log in sim.requests if log.status == 200]
    problems = {operation_of(log): contract.validate_response(contract.operation_for(log.method, log.path),
                                                              log.response) for log in answered}
    assert problems["getTagsList"] == []
    assert problems["getGoalsList"] and all("['extra']['pagination']['items_count']" in p and "is not of type 'integer'" in p
                                            for p in problems["getGoalsList"]), problems["getGoalsList"]


# ----------------------------------------------------------------------------- the spec's contradictions
@pytest.mark.parametrize("single_objects", ["wrapped", "bare"])
def test_single_objects_bare_or_wrapped_sync_the_same(single_objects):
    streams = ["account", "report_settings"]
    runs = {}
    for reading in ("documented", single_objects):
        with ConvertSimulator(dataset=Dataset.generate(seed=7), single_objects=reading) as sim:
            run = run_connector("read", sim.config(), configured_catalog(streams))
            assert run.returncode == 0 and not run.errors, (reading, run.errors)
            bodies = [log.response for log in sim.requests if log.path.endswith(("/details", "/report_settings"))]
            runs[reading] = ({s: run.records_of(s) for s in streams}, bodies)
    records, bodies = runs[single_objects]
    assert all(records.values()) and all(_sorted(records[s]) == _sorted(runs["documented"][0][s]) for s in streams)
    assert all(("data" in body) == (single_objects == "wrapped") for body in bodies)


def _sorted(records: List[Dict[str, Any]]) -> List[str]:
    """Records in a comparable order (per-experience records are read concurrently)."""
    return sorted(json.dumps(r, sort_keys=True) for r in records)


@pytest.mark.parametrize("key", ["parameters", "fields"])
def test_a_refusal_names_the_inputs_under_either_key(key):
    with ConvertSimulator(dataset=Dataset.generate(seed=7), error_fields_key=key) as sim:
        refusal = call(sim, "POST", f"{PRJ}/goals", {"results_per_page": 500}).json()
        sim.inject(Fault(status=422, times=1, path_regex=r"/tags$", body=json.dumps(refusal)))
        run = run_connector("read", sim.config(), configured_catalog(["tags", "domains"]))
    assert refusal[key] == ["results_per_page"] and contract.validate_error(refusal) == []
    (error,) = [e for e in run.errors if "(inputs:" in e["message"]]
    assert "(inputs: results_per_page)" in error["message"] and "422" in error["message"]
    assert run.records_of("domains")  # the other stream is read


# ----------------------------------------------------------------------------- the connector's vocabulary
def test_the_connectors_metric_and_segment_names_are_the_contracts():
    """The connector ships without the contract file, so its names of metrics and segment values are its
    own copy: they must be exactly the published enums (a value Convert adds shows up here first)."""
    from source_convert.components.report_vocabulary import (AGGREGATED_METRIC_NAMES, METRICS, SEGMENT_DIMENSIONS,
                                                             SEGMENT_VALUES)

    assert METRICS == contract.enum("DailyReportMetrics")
    assert set(AGGREGATED_METRIC_NAMES) == set(contract.enum("MetricTypes"))
    assert set(AGGREGATED_METRIC_NAMES.values()) == set(METRICS)
    published = contract.segment_dimensions()
    assert set(SEGMENT_DIMENSIONS) == set(published)
    assert {dimension: set(values) for dimension, values in SEGMENT_VALUES.items()} == {
        dimension: set(values) for dimension, values in published.items() if values}
