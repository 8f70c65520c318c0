"""Response builder: Convert's ``{data, extra.pagination}`` envelope."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from airbyte_cdk.test.mock_http import HttpResponse


def page_response(records: List[Dict[str, Any]], items_count: Optional[int] = None) -> HttpResponse:
    body: Dict[str, Any] = {"data": records, "extra": {}}
    if items_count is not None:
        body["extra"] = {"pagination": {"items_count": items_count}}
    return HttpResponse(body=json.dumps(body), status_code=200)


def object_response(record: Dict[str, Any]) -> HttpResponse:
    return HttpResponse(body=json.dumps({"data": record}), status_code=200)


def error_response(status: int, message: str) -> HttpResponse:
    return HttpResponse(body=json.dumps({"code": status, "message": message}), status_code=status)


def records(count: int, start_id: int = 1, **fields: Any) -> List[Dict[str, Any]]:
    return [{"id": start_id + index, "name": f"record {start_id + index}", **fields} for index in range(count)]
