"""Config builder for mock-server tests: a valid config, one field changed per ``with_*``."""

from __future__ import annotations

from typing import Any, Dict

KEY_ID = "mock-key-id"
KEY_SECRET = "mock-key-secret-XYZ"
ACCOUNT_ID = "100001"
PROJECT_ID = "200002"
OTHER_PROJECT_ID = "200003"  # a second project of the same account
API_BASE_URL = "https://api.convert.com/api/v2"  # the spec's default


class ConfigBuilder:
    """What a user writes: the required fields only, unless a test sets more. ``SourceConvert``
    validates it and fills the spec's defaults, as it does for the command line."""

    def __init__(self) -> None:
        self._config: Dict[str, Any] = {
            "key_id": KEY_ID,
            "key_secret": KEY_SECRET,
            "account_id": ACCOUNT_ID,
            "project_id": PROJECT_ID,
        }

    def with_start_date(self, value: str) -> "ConfigBuilder":
        self._config["start_date"] = value
        return self

    def with_projects(self, value: str) -> "ConfigBuilder":
        """``project_id`` as the user writes it: ``"200002, 200003"`` or ``"*"``."""
        self._config["project_id"] = value
        return self

    def with_field(self, name: str, value: Any) -> "ConfigBuilder":
        self._config[name] = value
        return self

    def build(self) -> Dict[str, Any]:
        return dict(self._config)
