"""Shared fixtures: a simulator per module and one full read of every stream."""

from __future__ import annotations

import pytest

from integration_tests.harness import ConnectorRun, configured_catalog, run_connector
from simulator import ConvertSimulator, Dataset


@pytest.fixture(scope="module")
def simulator():
    with ConvertSimulator(dataset=Dataset.generate(seed=7)) as sim:
        yield sim


@pytest.fixture(scope="module")
def discovered(simulator) -> dict:
    result = run_connector("discover", simulator.config())
    assert result.returncode == 0, result.stdout[-2000:]
    return result.catalog


@pytest.fixture(scope="module")
def full_read(simulator, discovered) -> ConnectorRun:
    """One ``read`` of every stream (full refresh), with the simulator's request log of just that read."""
    simulator.reset_log()
    names = [stream["name"] for stream in discovered["streams"]]
    result = run_connector("read", simulator.config(), configured_catalog(names, discovered=discovered))
    result.requests = list(simulator.requests)  # type: ignore[attr-defined]
    return result
