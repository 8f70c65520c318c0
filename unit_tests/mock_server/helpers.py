"""Run the source in-process with the CDK's entrypoint wrapper."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from airbyte_cdk.models import AirbyteStateMessage, ConfiguredAirbyteCatalog, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.state_builder import StateBuilder

from source_convert.source import SourceConvert


def catalog(stream: str, sync_mode: SyncMode = SyncMode.full_refresh) -> ConfiguredAirbyteCatalog:
    return CatalogBuilder().with_stream(stream, sync_mode).build()


def read_stream(
    config: Dict[str, Any], stream: str, sync_mode: SyncMode = SyncMode.full_refresh, state: Optional[Dict[str, Any]] = None
) -> EntrypointOutput:
    state_messages: Optional[List[AirbyteStateMessage]] = (
        StateBuilder().with_stream_state(stream, state).build() if state is not None else None
    )
    configured = catalog(stream, sync_mode)
    return read(SourceConvert(configured, config, state_messages), config, configured, state_messages)
