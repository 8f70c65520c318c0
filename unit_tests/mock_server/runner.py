"""Run the connector in-process through the CDK's entrypoint (``airbyte_cdk.test.entrypoint_wrapper``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

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
    catalog = CatalogBuilder().with_stream(stream, sync_mode).build()
    state_messages = StateBuilder().with_stream_state(stream, state).build() if state is not None else None
    return read(SourceConvert(catalog, config, state_messages), config, catalog, state_messages)


def check(config: Mapping[str, Any]) -> EntrypointOutput:
    """``check`` (the wrapper has no public helper for it; ``_run_command`` is what its ``read`` uses)."""
    with tempfile.TemporaryDirectory() as folder:
        config_file = make_file(Path(folder) / "config.json", dict(config))
        return _run_command(SourceConvert(config=config), ["check", "--config", config_file])
