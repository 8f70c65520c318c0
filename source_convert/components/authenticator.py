"""Declarative authenticator that signs every Convert request with HMAC-SHA256."""

from __future__ import annotations

import threading
import time
from dataclasses import InitVar, dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import requests

from airbyte_cdk.sources.declarative.auth.declarative_authenticator import DeclarativeAuthenticator
from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.types import Config

from source_convert.components.pacing import RequestBudget
from source_convert.components.signing import authorization_header, canonical_body, sign

_BUDGETS: Dict[Tuple[str, int], RequestBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def now() -> float:
    """Wall-clock seconds; Convert's ``Expires`` is absolute UNIX time."""
    return time.time()


def shared_budget(key_id: str, per_minute: int) -> RequestBudget:
    """One budget per API key and rate for the whole process, shared by every stream and thread."""
    with _BUDGETS_LOCK:
        return _BUDGETS.setdefault((key_id, per_minute), RequestBudget(per_minute))


@dataclass
class ConvertHmacAuthenticator(DeclarativeAuthenticator):
    """Signs the final prepared request: key id, a fresh ``Expires``, the URL as sent and the exact body bytes.

    The CDK calls the authenticator when a request is prepared and again before every retry, so each
    attempt carries a new ``Expires``. JSON bodies are rewritten to compact form first, so the bytes
    signed are the bytes sent. An optional requests-per-minute budget is waited on *before* signing,
    so waiting can never make a signature expire.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    key_id: Union[InterpolatedString, str]
    key_secret: Union[InterpolatedString, str] = field(repr=False)
    expires_in_seconds: Union[InterpolatedString, str, int] = 300
    requests_per_minute: Optional[Union[InterpolatedString, str, int]] = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._key_id = self._eval(self.key_id, parameters)
        self._key_secret = self._eval(self.key_secret, parameters)
        self._ttl = int(self._eval(self.expires_in_seconds, parameters))
        rate = self._eval(self.requests_per_minute, parameters) if self.requests_per_minute else ""
        self._budget = shared_budget(self._key_id, int(rate)) if str(rate).strip() not in ("", "None") else None

    def _eval(self, value: Any, parameters: Mapping[str, Any]) -> str:
        return str(InterpolatedString.create(str(value), parameters=parameters).eval(self.config))

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._budget is not None:
            self._budget.acquire()
        body = canonical_body(request.body)
        if body:
            request.body = body
            request.headers["Content-Length"] = str(len(body))
            request.headers["Content-Type"] = "application/json"
        expires = str(self._next_expires(request.headers.get("Expires")))
        signature = sign(self._key_id, self._key_secret, expires, request.url or "", body)
        request.headers["Convert-Application-ID"] = self._key_id
        request.headers["Expires"] = expires
        request.headers["Authorization"] = authorization_header(signature)
        return request

    def _next_expires(self, previous: Optional[str]) -> int:
        """Now plus the TTL; on a re-sign, always later than the attempt before (so never a replayed signature)."""
        expires = int(now()) + self._ttl
        if previous is not None and previous.isdigit():
            expires = max(expires, int(previous) + 1)
        return expires

    @property
    def auth_header(self) -> str:
        return "Authorization"

    @property
    def token(self) -> str:
        """Signatures are per request; there is no standing token (and never the secret)."""
        return ""

    def get_auth_header(self) -> Mapping[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"ConvertHmacAuthenticator(key_id={self._key_id!r})"
