"""Airbyte source connector for Convert Experiences (convert.com).

``SourceConvert`` is imported on first use, so that ``source-convert spec`` loads neither the CDK nor
the manifest.
"""

from typing import Any

__all__ = ["SourceConvert"]


def __getattr__(name: str) -> Any:
    if name == "SourceConvert":
        from source_convert.source import SourceConvert  # noqa: PLC0415

        return SourceConvert
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
