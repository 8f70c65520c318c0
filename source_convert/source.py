"""The Convert source: the low-code manifest plus config validation and spec defaults."""

from __future__ import annotations

import logging
from typing import Any, List, Mapping, Optional

from airbyte_cdk.models import AirbyteConnectionStatus, AirbyteStateMessage, ConfiguredAirbyteCatalog, Status
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

from source_convert.components.reports import REPORT_SYNCED_KEY, report_synced_from_state
from source_convert.config import normalize_config
from source_convert.reachability import readable, unreachable_reason
from source_convert.state import sanitize_state

_DAILY_REPORTS = "daily_reports"


def _with_report_cursor(config: Mapping[str, Any], state: Optional[List[AirbyteStateMessage]]) -> Mapping[str, Any]:
    """Hand the saved daily-report cursor to the report partition router, which cannot see the state."""
    for message in state or []:
        stream = getattr(message, "stream", None)
        if stream is not None and stream.stream_descriptor.name == _DAILY_REPORTS and stream.stream_state:
            blob = stream.stream_state
            synced = report_synced_from_state(blob.__dict__ if hasattr(blob, "__dict__") else dict(blob))
            return {**config, REPORT_SYNCED_KEY: synced} if synced else config
    return config


class SourceConvert(YamlDeclarativeSource):
    """Convert Experiences source declared in ``manifest.yaml``."""

    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> None:
        state = sanitize_state(state) if state is not None else None
        super().__init__(
            path_to_yaml="manifest.yaml",
            catalog=catalog,
            config=_with_report_cursor(normalize_config(config), state) if config is not None else None,
            state=state,
        )

    def configure(self, config: Mapping[str, Any], temp_dir: str) -> Mapping[str, Any]:
        """Fill spec defaults, so the manifest and the components see one complete config."""
        return normalize_config(super().configure(config, temp_dir))

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """Fail at once on an unreachable host; otherwise the manifest's signed check, with a plain message."""
        reason = unreachable_reason(normalize_config(config)["api_base_url"])
        if reason is not None:
            return AirbyteConnectionStatus(status=Status.FAILED, message=reason)
        status = super().check(logger, config)
        if status.status == Status.FAILED:
            status.message = readable(status.message)
        return status
