"""End-to-end: the real entrypoint (spec, check, discover, read) against the simulator over HTTP."""

from __future__ import annotations

import math

import pytest
from jsonschema import Draft7Validator

from integration_tests.harness import (
    history_identities,
    load_schema,
    primary_key_values,
    run_connector,
    served_identities,
    stream_names,
)
from simulator import ACCOUNT_ID, WEB_PROJECT_ID

ALL_STREAMS = [
    "account", "collaborators", "projects", "experiences", "experience_details", "variations", "goals", "audiences",
    "locations", "hypotheses", "knowledge_bases", "observations", "features", "tags", "domains",
    "change_history", "aggregated_reports", "segment_reports", "daily_reports", "daily_traffic_allocation",
    "variation_changes", "report_settings", "experience_sections", "experience_change_history",
]
CHANGE_DRIVEN = ["experiences", "experience_details", "variations", "goals", "audiences", "locations"]
PROJECT_LISTS = {  # stream -> the simulator's store kind
    "experiences": "experiences", "experience_details": "experiences", "goals": "goals", "audiences": "audiences",
    "locations": "locations", "hypotheses": "hypotheses", "knowledge_bases": "knowledge-bases",
    "observations": "observations", "features": "features", "tags": "tags", "domains": "domains",
}


ACCOUNT_LEVEL = ["account", "collaborators", "projects"]


def nothing_to_read(dataset, stream: str) -> bool:
    """Whether the configured project has nothing for ``stream`` (its web project has no features and no
    multivariate experiences, the only ones with sections; no segment is configured)."""
    if stream == "features":
        return not dataset.records(WEB_PROJECT_ID, "features")
    if stream == "experience_sections":
        return not [e for e in dataset.records(WEB_PROJECT_ID, "experiences") if e.get("type") == "mvt"]
    return stream == "segment_reports"  # reads only the configured segment dimensions (none by default)


def test_check_succeeds_with_one_signed_request(simulator):
    simulator.reset_log()
    result = run_connector("check", simulator.config())
    assert result.returncode == 0
    assert result.connection_status["status"] == "SUCCEEDED"
    assert len(simulator.requests) == 1 and simulator.requests[0].auth_ok
    assert simulator.requests[0].path == f"/api/v2/accounts/{ACCOUNT_ID}/projects"  # the account's projects list


def test_discover_lists_every_stream_with_valid_schemas(discovered):
    streams = {stream["name"]: stream for stream in discovered["streams"]}
    assert sorted(streams) == sorted(ALL_STREAMS) == stream_names()
    for name, stream in streams.items():
        Draft7Validator.check_schema(stream["json_schema"])
        properties = stream["json_schema"]["properties"]
        for key in stream["source_defined_primary_key"]:
            assert key[0] in properties, f"{name}: primary key {key} not in schema"
    assert "incremental" in streams["change_history"]["supported_sync_modes"]
    assert "incremental" in streams["daily_reports"]["supported_sync_modes"]
    assert "incremental" in streams["daily_traffic_allocation"]["supported_sync_modes"]


def test_read_succeeds_without_rejected_signatures(full_read):
    assert full_read.returncode == 0, full_read.stdout[-3000:]
    assert full_read.errors == []
    assert full_read.requests and all(request.auth_ok for request in full_read.requests)
    assert not [request for request in full_read.requests if request.status == 401]


@pytest.mark.parametrize("stream", sorted(PROJECT_LISTS))
def test_project_lists_return_every_record_once(simulator, full_read, stream):
    expected = {record["id"] for record in simulator.dataset.records(WEB_PROJECT_ID, PROJECT_LISTS[stream])}
    ids = [record["id"] for record in full_read.records_of(stream)]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected


def test_change_history_returns_every_event_once_each_with_its_own_key(simulator, full_read):
    # events have no id: each record is matched to the simulator's events by its documented fields
    expected = served_identities(simulator.dataset, simulator.dataset.records(WEB_PROJECT_ID, "change-history"))
    records = full_read.records_of("change_history")
    assert len({record["event_id"] for record in records}) == len(records) == len(expected)
    assert history_identities(records) == expected


def test_account_level_streams(simulator, full_read):
    (account,) = full_read.records_of("account")
    assert account["id"] == ACCOUNT_ID
    assert sorted(p["id"] for p in full_read.records_of("projects")) == sorted(simulator.dataset.store)
    emails = [c["email"] for c in full_read.records_of("collaborators")]
    assert len(emails) == len(set(emails)) == len(simulator.dataset.users_accesses)


def test_experience_details_carry_expanded_objects(full_read):
    details = full_read.records_of("experience_details")
    plain = {record["id"]: record for record in full_read.records_of("experiences")}
    assert details and any(record["start_time"] for record in details)
    for record in details:
        assert isinstance(record["project"], dict) and record["project"]["id"] == WEB_PROJECT_ID
        assert isinstance(plain[record["id"]]["project"], int)
        for key in ("variations", "goals", "locations", "min_running_timestamp", "max_running_timestamp", "tags"):
            assert key in record, key
        assert all(isinstance(variation, dict) and "is_baseline" in variation for variation in record["variations"])
        if record["start_time"]:
            assert isinstance(record.get("stats"), dict), "a started experience has stats"


def test_aggregated_reports_flatten_goal_by_variation(simulator, full_read):
    rows = full_read.records_of("aggregated_reports")
    expected = {
        (e["id"], goal, variation["id"])
        for e in simulator.dataset.started_experiences()
        for goal in e["goals"]
        for variation in e["variations"]
    }
    assert set(primary_key_values(rows, ["experience_id", "goal_id", "variation_id"])) == expected
    revenue = {goal["id"] for goal in simulator.dataset.records(WEB_PROJECT_ID, "goals") if goal["type"] == "revenue"}
    assert len(rows) == sum(5 if goal in revenue else 1 for _, goal, _ in expected), "one row per metric that applies"
    assert len(set(primary_key_values(rows, ["experience_id", "goal_id", "variation_id", "metric"]))) == len(rows)


def test_daily_reports_one_row_per_goal_variation_day_and_metric(simulator, full_read):
    dataset = simulator.dataset
    rows = full_read.records_of("daily_reports")
    metrics = {  # conversion_rate for every goal, the two revenue metrics for revenue goals
        goal["id"]: 3 if goal["type"] == "revenue" else 1 for goal in dataset.records(WEB_PROJECT_ID, "goals")
    }
    expected = sum(
        metrics[goal] * len(e["variations"]) * len(dataset.run_days(e)) for e in dataset.started_experiences() for goal in e["goals"]
    )
    keys = primary_key_values(rows, ["experience_id", "goal_id", "variation_id", "day", "metric"])
    assert len(rows) == expected == len(set(keys))
    assert {row["metric"] for row in rows} == {"conversion_rate", "avg_revenue_per_visitor", "avg_products_ordered_per_visitor"}


@pytest.mark.parametrize("stream", sorted(set(ALL_STREAMS) - set(ACCOUNT_LEVEL)))
def test_records_of_project_level_streams_carry_their_project_as_an_integer(simulator, full_read, stream):
    records = full_read.records_of(stream)
    assert records or nothing_to_read(simulator.dataset, stream), stream
    if not records:
        return
    assert {type(record["project_id"]) for record in records} == {int}
    assert {record["project_id"] for record in records} == {WEB_PROJECT_ID}


@pytest.mark.parametrize("stream", ALL_STREAMS)
def test_every_record_matches_its_schema_and_has_its_primary_key(discovered, full_read, stream):
    catalog_stream = next(s for s in discovered["streams"] if s["name"] == stream)
    validator = Draft7Validator(load_schema(stream))
    records = full_read.records_of(stream)
    for record in records:
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(record)]
        assert not errors, f"{stream} record {record.get('id')}: {errors[:3]}"
        for key in catalog_stream["source_defined_primary_key"]:
            assert record.get(key[0]) is not None
    keys = primary_key_values(records, [key[0] for key in catalog_stream["source_defined_primary_key"]])
    assert len(keys) == len(set(keys)), f"{stream}: duplicate primary keys"


def test_no_record_carries_a_credential(simulator, full_read):
    assert "LEAKED-SECRET" not in full_read.stdout
    assert simulator.key_secret not in full_read.stdout + full_read.stderr


def test_list_requests_use_the_minimum_pages(simulator, full_read):
    """ceil(N/50) pages per list when the total is known; no request for records that do not exist."""
    base = f"/api/v2/accounts/{ACCOUNT_ID}/projects/{WEB_PROJECT_ID}/"
    # The read starts with the check of the configured project (the account's projects list) before any stream.
    assert full_read.requests[0].path == f"/api/v2/accounts/{ACCOUNT_ID}/projects"
    paths = [request.path for request in full_read.requests[1:]]
    for stream, kind in PROJECT_LISTS.items():
        if stream.startswith("experience"):
            continue
        count = len(simulator.dataset.records(WEB_PROJECT_ID, kind))
        # A first read of the change-driven lists starts with one request for the project's newest
        # history event, shared by all of them.
        probes = 1 if kind == "change-history" else 0
        assert paths.count(base + kind) == max(1, math.ceil(count / 50)) + probes, stream
