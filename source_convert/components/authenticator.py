"""Declarative authenticator for Convert: HMAC request signing or the secret-key Bearer header."""

from __future__ import annotations

import threading
import time
from dataclasses import InitVar, dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import requests

from airbyte_cdk.sources.declarative.auth.declarative_authenticator import DeclarativeAuthenticator
from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.types import Config

from source_convert.components import signed_url
from source_convert.components.pacing import RequestBudget
from source_convert.components.signing import EXPIRES_HEADERS, authorization_header, bearer_header, canonical_body, sign
from source_convert.config import REQUEST_SIGNING, SECRET_KEY

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
class ConvertAuthenticator(DeclarativeAuthenticator):
    """Authenticates the final prepared request with the key's ``auth_method``.

    * ``request_signing``: signs key id, a fresh expiry, the URL (``signed_url`` decides whether with
      its query string) and the exact body bytes. The expiry goes in both ``Expires`` (the contract's
      prose) and ``Expire`` (its security scheme), one value signed once. The CDK calls the
      authenticator when a request is prepared and again before every retry, so each attempt carries
      a new expiry.
    * ``secret_key``: one header, ``Authorization: Bearer KEY_ID:KEY_SECRET``; no expiry, no signature.
      The header value never shows the secret when printed (``signing.bearer_header``).

    JSON bodies are rewritten to compact form first, so the bytes signed are the bytes sent. An
    optional requests-per-minute budget is waited on *before* signing, so waiting can never make a
    signature expire.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    key_id: Union[InterpolatedString, str]
    key_secret: Union[InterpolatedString, str] = field(repr=False)
    auth_method: Union[InterpolatedString, str] = REQUEST_SIGNING
    expires_in_seconds: Union[InterpolatedString, str, int] = 300
    requests_per_minute: Optional[Union[InterpolatedString, str, int]] = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._key_id = self._eval(self.key_id, parameters)
        self._key_secret = self._eval(self.key_secret, parameters)
        self._method = self._eval(self.auth_method, parameters) or REQUEST_SIGNING  # no config: spec, discover
        if self._method not in (REQUEST_SIGNING, SECRET_KEY):
            raise ValueError(f"auth_method must be {REQUEST_SIGNING!r} or {SECRET_KEY!r}, got {self._method!r}")
        self._ttl = int(self._eval(self.expires_in_seconds, parameters))
        rate = self._eval(self.requests_per_minute, parameters) if self.requests_per_minute else ""
        self._budget = shared_budget(self._key_id, int(rate)) if str(rate).strip() not in ("", "None") else None

    def _eval(self, value: Any, parameters: Mapping[str, Any]) -> str:
        return str(InterpolatedString.create(str(value), parameters=parameters).eval(self.config))

    @property
    def method(self) -> str:
        """``request_signing`` or ``secret_key``."""
        return self._method

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        url = signed_url.reading().url_to_sign(request) if self._method == REQUEST_SIGNING else ""
        if self._budget is not None:
            self._budget.acquire()
        body = canonical_body(request.body)
        if body:
            request.body = body
            request.headers["Content-Length"] = str(len(body))
            request.headers["Content-Type"] = "application/json"
        if self._method == SECRET_KEY:
            request.headers["Authorization"] = bearer_header(self._key_id, self._key_secret)
            return request
        expires = str(self._next_expires(request.headers.get(EXPIRES_HEADERS[0])))
        signature = sign(self._key_id, self._key_secret, expires, url, body)
        request.headers["Convert-Application-ID"] = self._key_id
        for name in EXPIRES_HEADERS:
            request.headers[name] = expires
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
        """Signatures are per request and the Bearer header is set per request: no standing token (and
        never the secret)."""
        return ""

    def get_auth_header(self) -> Mapping[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"ConvertAuthenticator(key_id={self._key_id!r}, auth_method={self._method!r})"
