"""Page-number pagination for Convert list calls (``page``/``results_per_page`` in the POST body)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import requests

from airbyte_cdk.sources.declarative.requesters.paginators.strategies.page_increment import PageIncrement
from airbyte_cdk.sources.types import Record, StreamSlice

from source_convert.components.envelope import envelope_data, items_count


@dataclass
class ConvertPageIncrement(PageIncrement):
    """Pages from 1; stops on an empty or short page, or once ``page * page_size >= items_count``.

    ``extra.pagination.items_count`` is used only when present, so a full last page costs no extra
    request when the total is known and the loop still ends on a short page when it is not.
    """

    start_from_page: int = 1
    inject_on_first_request: bool = True
    # For newest-first feeds: the record field compared with the slice's ``start_time`` (UNIX seconds).
    # Paging stops after the first page that reaches back past the start, i.e. into synced records.
    newest_first_cursor_field: Optional[str] = None

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Optional[Record],
        last_page_token_value: Optional[Any],
        page_size_override: Optional[int] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> Optional[Any]:
        next_page = super().next_page_token(
            response, last_page_size, last_record, last_page_token_value, page_size_override, stream_slice
        )
        if next_page is None or not self._page_size:
            return next_page
        total = items_count(response)
        if total is not None and (next_page - 1) * self._page_size >= total:
            return None
        if self.newest_first_cursor_field and self._reached_synced_records(response, stream_slice):
            return None
        return next_page

    def _reached_synced_records(self, response: requests.Response, stream_slice: Optional[StreamSlice]) -> bool:
        start = (stream_slice or {}).get("start_time") if stream_slice is not None else None
        try:
            start_value = int(float(start)) if start not in (None, "") else None
        except (TypeError, ValueError):
            return False
        if start_value is None:
            return False
        values = [
            record.get(self.newest_first_cursor_field)
            for record in envelope_data(response) or []
            if isinstance(record, dict)
        ]
        numbers = [value for value in values if isinstance(value, (int, float)) and not isinstance(value, bool)]
        return bool(numbers) and min(numbers) < start_value
