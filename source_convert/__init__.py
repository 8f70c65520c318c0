"""Airbyte source connector for Convert Experiences (convert.com)."""

from typing import Any

from source_convert.fast_import import skip_attribute_docstrings

skip_attribute_docstrings()

__all__ = ["SourceConvert"]


def __getattr__(name: str) -> Any:
    """``SourceConvert`` is imported on first use: ``source-convert spec`` never loads the CDK."""
    if name == "SourceConvert":
        from source_convert.source import SourceConvert

        return SourceConvert
    raise AttributeError(f"module 'source_convert' has no attribute {name!r}")
