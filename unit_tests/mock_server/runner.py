"""Run the connector in-process through the CDK's entrypoint (``airbyte_cdk.test.entrypoint_wrapper``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, _run_command, make_file, read
from airbyte_cdk.test.state_builder import StateBuilder

from source_convert.source import SourceConvert


def read_stream(
    config: Mapping[str, Any],
    stream: str,
    sync_mode: SyncMode = SyncMode.full_refresh,
    state: Optional[Dict[str, Any]] = None,
) -> EntrypointOutput:
    """``read`` one stream, from ``state`` (that stream's state blob) when given."""
    return read_streams(config, [stream], sync_mode, {stream: state} if state is not None else None)


def read_streams(
    config: Mapping[str, Any],
    streams: Sequence[str],
    sync_mode: SyncMode = SyncMode.full_refresh,
    states: Optional[Mapping[str, Dict[str, Any]]] = None,
) -> EntrypointOutput:
    """``read`` several streams in one sync (one catalog, one source), each from its state in ``states``
    (stream name to state blob) when given. ``unit_tests.mock_server.states.stream_state`` picks one
    stream's final state out of the output."""
    builder = CatalogBuilder()
    for stream in streams:
        builder.with_stream(stream, sync_mode)
    catalog = builder.build()
    state_messages = None
    if states is not None:
        state_builder = StateBuilder()
        for stream, state in states.items():
            state_builder.with_stream_state(stream, state)
        state_messages = state_builder.build()
    return read(SourceConvert(catalog, config, state_messages), config, catalog, state_messages)


def check(config: Mapping[str, Any]) -> EntrypointOutput:
    """``check`` (the wrapper has no public helper for it; ``_run_command`` is what its ``read`` uses)."""
    with tempfile.TemporaryDirectory() as folder:
        config_file = make_file(Path(folder) / "config.json", dict(config))
        return _run_command(SourceConvert(config=config), ["check", "--config", config_file])
