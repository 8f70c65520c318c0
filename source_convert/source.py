"""The Convert source: the low-code manifest plus config validation and spec defaults."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional

from airbyte_cdk.models import AirbyteStateMessage, ConfiguredAirbyteCatalog
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

from source_convert.config import normalize_config


class SourceConvert(YamlDeclarativeSource):
    """Convert Experiences source declared in ``manifest.yaml``."""

    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> None:
        super().__init__(
            path_to_yaml="manifest.yaml",
            catalog=catalog,
            config=normalize_config(config) if config is not None else None,
            state=state,
        )

    def configure(self, config: Mapping[str, Any], temp_dir: str) -> Mapping[str, Any]:
        """Fill spec defaults, so the manifest and the components see one complete config."""
        return normalize_config(super().configure(config, temp_dir))
