"""Airbyte source connector for Convert Experiences (convert.com)."""

from source_convert.fast_import import skip_attribute_docstrings

skip_attribute_docstrings()

from source_convert.source import SourceConvert  # noqa: E402

__all__ = ["SourceConvert"]
