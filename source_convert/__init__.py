"""Airbyte source connector for Convert Experiences (convert.com)."""

from source_convert.source import SourceConvert

__all__ = ["SourceConvert"]
