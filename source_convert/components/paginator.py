"""Page-number pagination for Convert list calls (``page``/``results_per_page`` in the POST body)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import requests

from airbyte_cdk.sources.declarative.requesters.paginators.strategies.page_increment import PageIncrement
from airbyte_cdk.sources.types import Record, StreamSlice

from source_convert.components.envelope import items_count


@dataclass
class ConvertPageIncrement(PageIncrement):
    """Pages from 1; stops on an empty or short page, or once ``page * page_size >= items_count``.

    ``extra.pagination.items_count`` is used only when present, so a full last page costs no extra
    request when the total is known and the loop still ends on a short page when it is not.
    """

    start_from_page: int = 1
    inject_on_first_request: bool = True

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
        return next_page
