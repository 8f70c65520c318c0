"""Record extractor that reads Convert's ``data`` envelope and refuses malformed bodies."""

from __future__ import annotations

from dataclasses import InitVar, dataclass
from typing import Any, Iterable, Mapping, MutableMapping

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components.envelope import MalformedResponse, envelope_data


@dataclass
class ConvertDataExtractor(RecordExtractor):
    """Yields the records under ``data`` (a list, or one object); a body without ``data`` fails the stream.

    Records are never dropped silently: a 200 whose body is not the envelope raises an error that
    names the request, instead of looking like an empty page. A stream whose parameters say
    ``single_object`` reads one object, which is also accepted bare (the spec declares both shapes).
    """

    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._stream = str((parameters or {}).get("name", "?"))
        self._single_object = bool((parameters or {}).get("single_object"))

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        try:
            data = envelope_data(response, self._single_object)
        except MalformedResponse as error:
            raise AirbyteTracedException(
                message=f"Stream '{self._stream}': {error}. No records were skipped; the sync stops here.",
                internal_message=str(error),
                failure_type=FailureType.system_error,
            ) from None
        if isinstance(data, list):
            yield from data
        elif isinstance(data, dict):
            yield data
        elif data is not None:
            raise AirbyteTracedException(
                message=f"Stream '{self._stream}': 'data' is a {type(data).__name__}, expected a list or an object.",
                failure_type=FailureType.system_error,
            )
