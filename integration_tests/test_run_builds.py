"""What a command builds: a ``read`` through the command line builds each stream once, whether the
projects check before it or the read itself uses it (against the simulator over HTTP)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, List

import pytest
from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource

from integration_tests.harness import configured_catalog, discovered_catalog
from source_convert.run import run

STREAMS = ["projects", "tags", "experiences", "aggregated_reports"]


@pytest.fixture
def built_streams(monkeypatch) -> List[str]:
    """The name of every stream the CDK builds from now on, once per build."""
    names: List[str] = []
    build = ConcurrentDeclarativeSource.streams

    def counting_build(self: ConcurrentDeclarativeSource, config: Any) -> List[Any]:
        streams = build(self, config)
        names.extend(stream.name for stream in streams)
        return streams

    monkeypatch.setattr(ConcurrentDeclarativeSource, "streams", counting_build)
    return names


def test_a_read_builds_each_stream_once(simulator, built_streams, tmp_path: Path, capsys):
    config, catalog = tmp_path / "config.json", tmp_path / "catalog.json"
    config.write_text(json.dumps(simulator.config()))
    catalog.write_text(json.dumps(configured_catalog(STREAMS, discovered=discovered_catalog())))
    simulator.reset_log()

    run(["read", "--config", str(config), "--catalog", str(catalog)])

    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    read = Counter(message["record"]["stream"] for message in messages if message["type"] == "RECORD")
    assert set(read) == set(STREAMS)
    assert read["projects"] == len(simulator.dataset.store)  # the stream the check read first, read whole again
    # the projects list twice: the check before the streams, then the projects stream
    assert sum(1 for request in simulator.requests if request.path.endswith("/projects")) == 2
    built = Counter(built_streams)
    assert set(STREAMS) <= set(built)
    assert set(built.values()) == {1}, built
