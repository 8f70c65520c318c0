"""Config builder for mock-server tests."""

from __future__ import annotations

from typing import Any, Dict

BASE_URL = "https://api.convert.com/api/v2"
ACCOUNT_ID = "100001"
PROJECT_ID = "200002"


class ConfigBuilder:
    """A valid config; ``with_*`` methods change one field."""

    def __init__(self) -> None:
        self._config: Dict[str, Any] = {
            "key_id": "mock-key-id",
            "key_secret": "mock-key-secret-XYZ",
            "account_id": ACCOUNT_ID,
            "project_id": PROJECT_ID,
            "max_concurrent_requests": 1,
        }

    def with_start_date(self, value: str) -> "ConfigBuilder":
        self._config["start_date"] = value
        return self

    def build(self) -> Dict[str, Any]:
        return dict(self._config)
