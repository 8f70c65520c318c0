"""Record extractors of the experience list's embedded variations: one record per variation
(``variations``), and one per change of a variation (``variation_changes``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, List, Mapping, MutableMapping, NoReturn, Optional

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components.envelope import describe_request
from source_convert.components.extractor import ConvertDataExtractor


@dataclass
class VariationExtractor(ConvertDataExtractor):
    """Flattens ``experience.variations`` (requested with ``include``/``expand``) into variation records.

    Each record is the variation object without ``changes``, plus ``experience_id`` and ``change_ids``
    (the ids of its changes, whether Convert lists them as ids or as expanded objects). A response that
    lacks the variations it was asked for, or lists them in another shape, fails the stream instead of
    looking like experiences without variations.
    """

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        for experience in super().extract_records(response):
            if not isinstance(experience, Mapping):
                self._fail(response, f"an experience is a {type(experience).__name__}, expected an object")
            experience_id = experience.get("id")
            for variation in self._variations(response, experience):
                record = {name: value for name, value in variation.items() if name != "changes"}
                record["experience_id"] = experience_id
                record["change_ids"] = self._change_ids(response, variation)
                yield record

    def _variations(self, response: requests.Response, experience: Mapping[str, Any]) -> List[Mapping[str, Any]]:
        """The experience's variation objects; ``null`` or ``[]`` means none."""
        if "variations" not in experience:
            self._fail(response, f"experience {experience.get('id')} has no 'variations' field, which was requested")
        variations = experience["variations"] or []
        if not isinstance(variations, list) or not all(isinstance(item, Mapping) for item in variations):
            self._fail(
                response,
                f"experience {experience.get('id')} has 'variations' that are not a list of objects "
                "(the request expanded them)",
            )
        return variations

    def _change_ids(self, response: requests.Response, variation: Mapping[str, Any]) -> Optional[List[Any]]:
        """Ids of the variation's changes (entries are ids, or change objects with ``id``); ``None`` when absent."""
        changes = variation.get("changes")
        if changes is None:
            return None
        if not isinstance(changes, list):
            kind = type(changes).__name__
            self._fail(response, f"variation {variation.get('id')} has 'changes' as a {kind}, expected a list")
        return [change.get("id") if isinstance(change, Mapping) else change for change in changes]

    def _fail(self, response: requests.Response, problem: str) -> NoReturn:
        raise AirbyteTracedException(
            message=f"Stream '{self._stream}': Convert answered {describe_request(response)} but {problem}. "
            "No records were skipped; the sync stops here.",
            failure_type=FailureType.system_error,
        )


@dataclass
class VariationChangeExtractor(VariationExtractor):
    """One record per change of each variation of each listed experience (requested with
    ``include``/``expand`` ``variations.changes``): the change object as Convert returns it (``id``,
    ``type``, ``data``) plus ``experience_id`` and ``variation_id``.

    A variation without the ``changes`` that were asked for, or with changes as bare ids (not expanded),
    fails the stream instead of looking like a variation without changes; ``null`` or ``[]`` means none.
    """

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        for experience in ConvertDataExtractor.extract_records(self, response):
            if not isinstance(experience, Mapping):
                self._fail(response, f"an experience is a {type(experience).__name__}, expected an object")
            experience_id = experience.get("id")
            for variation in self._variations(response, experience):
                for change in self._changes(response, experience_id, variation):
                    record = dict(change)
                    record["experience_id"] = experience_id
                    record["variation_id"] = variation.get("id")
                    yield record

    def _changes(self, response: requests.Response, experience_id: Any, variation: Mapping[str, Any]) -> List[Mapping[str, Any]]:
        where = f"variation {variation.get('id')} of experience {experience_id}"
        if "changes" not in variation:
            self._fail(response, f"{where} has no 'changes' field, which was requested")
        changes = variation["changes"] or []
        if not isinstance(changes, list):
            self._fail(response, f"{where} has 'changes' as a {type(changes).__name__}, expected a list")
        for change in changes:
            if isinstance(change, (int, str)) and not isinstance(change, bool):
                self._fail(response, f"{where} lists change {change} as a bare id, not as the object the request expanded")
            if not isinstance(change, Mapping):
                self._fail(response, f"{where} lists a change as a {type(change).__name__}, expected an object")
            if change.get("id") is None:
                self._fail(response, f"{where} has a change without an 'id' (its keys: {', '.join(sorted(map(str, change)))})")
        return changes
