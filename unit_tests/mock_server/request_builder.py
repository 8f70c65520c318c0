"""Request builder: the signed Convert calls the connector is expected to make."""

from __future__ import annotations

from typing import Any, Dict, Optional

from airbyte_cdk.test.mock_http import HttpRequest

from unit_tests.mock_server.config import ACCOUNT_ID, BASE_URL, PROJECT_ID


class ConvertRequestBuilder:
    """``ConvertRequestBuilder.project_list("goals").page(2).build()``"""

    def __init__(self, path: str) -> None:
        self._path = path
        self._body: Dict[str, Any] = {}

    @classmethod
    def account(cls, resource: str) -> "ConvertRequestBuilder":
        return cls(f"/accounts/{ACCOUNT_ID}/{resource}")

    @classmethod
    def project_list(cls, resource: str, sort_by: Optional[str] = "id", sort_direction: str = "asc") -> "ConvertRequestBuilder":
        builder = cls(f"/accounts/{ACCOUNT_ID}/projects/{PROJECT_ID}/{resource}")
        if sort_by:
            builder._body.update(sort_by=sort_by, sort_direction=sort_direction)
        return builder.page(1)

    def page(self, number: int, size: int = 50) -> "ConvertRequestBuilder":
        self._body.update(page=number, results_per_page=size)
        return self

    def with_body(self, **fields: Any) -> "ConvertRequestBuilder":
        self._body.update(fields)
        return self

    def build(self) -> HttpRequest:
        return HttpRequest(url=BASE_URL + self._path, body=self._body or None)
