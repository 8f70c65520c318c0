"""Record transformation: add partition values and constants without per-record Jinja.

``AddFields`` renders a Jinja template and ``ast.literal_eval``s the result for every field of every
record. For values that are the same for a whole partition (``stream_partition.experience_id``,
``stream_partition.changed_at``) or for the whole stream (a report's ``utc_offset``) this is pure overhead.

The transformation is shared by the threads the CDK reads partitions in: it keeps only what
``__post_init__`` computed, and a value that could be mutated (a list or an object) is copied into
each record, so no two records, partitions or threads share one.
"""

from __future__ import annotations

import copy
from dataclasses import InitVar, dataclass, field
from typing import Any, Dict, Mapping, Optional

from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.declarative.transformations.transformation import RecordTransformation
from airbyte_cdk.sources.types import Config, StreamSlice, StreamState

_IMMUTABLE = (str, int, float, bool, type(None))


def _own(value: Any) -> Any:
    """``value`` itself when immutable, else a deep copy for one record."""
    return value if isinstance(value, _IMMUTABLE) else copy.deepcopy(value)


@dataclass
class PartitionFields(RecordTransformation):
    """On every record: ``record[name] = int(partition[key])`` for ``integer_fields``;
    ``record[name] = partition[key]`` (or the slice's ``extra_fields[key]``) for ``slice_fields``; and the
    ``constant_fields`` (interpolated once, against config and parameters).
    A missing or null value leaves the field unset (AddFields would write None there)."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    integer_fields: Mapping[str, str] = field(default_factory=dict)
    slice_fields: Mapping[str, str] = field(default_factory=dict)
    constant_fields: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._constants: Dict[str, Any] = {
            name: InterpolatedString.create(str(value), parameters=parameters).eval(self.config)
            for name, value in self.constant_fields.items()
        }

    def transform(
        self,
        record: Dict[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        partition = stream_slice.partition if stream_slice is not None else {}
        extra = stream_slice.extra_fields if stream_slice is not None else {}
        for name, key in self.integer_fields.items():
            value = partition.get(key)
            if value is not None:
                record[name] = int(value)
        for name, key in self.slice_fields.items():
            value = partition.get(key, extra.get(key))
            if value is not None:
                record[name] = _own(value)
        for name, value in self._constants.items():
            record[name] = _own(value)
