"""Convert's two API-key authentication methods: compute and verify (reference section 1.1).

An API key has an ``auth_type``: ``requestSigning`` (headers ``Convert-Application-ID``, an expiry and
``Authorization: Convert-HMAC-SHA256 Signature=<hex>``) or ``secretKey`` (one header,
``Authorization: Bearer KEY_ID:KEY_SECRET``). The contract leaves three things open, so each is an
option here, and the connector must work with every choice:

* which method a key of the other type answers to. **Inferred**: the contract gives a key one
  ``auth_type`` but does not say what the server does with the other method. This simulator refuses
  it: a ``requestSigning`` key refuses the Bearer header and a ``secretKey`` key refuses signatures,
  each with a 401 whose message (made up, like every 401 text here) names the key's method;
* the expiry header's name (``expires_header``): the contract's prose says ``Expires``, its security
  scheme ``Expire``; the simulator reads only the one chosen;
* whether the signed URL includes the query string (``signed_url``): ``with_query`` (the URL exactly
  as received) or ``without_query``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Mapping, Optional
from urllib.parse import urlsplit, urlunsplit

SCHEME = "Convert-HMAC-SHA256"
BEARER = "Bearer "
REQUEST_SIGNING, SECRET_KEY = "requestSigning", "secretKey"
AUTH_TYPES = (REQUEST_SIGNING, SECRET_KEY)  # the contract's ApiKey.auth_type enum
EXPIRES_HEADERS = ("Expires", "Expire")
WITH_QUERY, WITHOUT_QUERY = "with_query", "without_query"
SIGNED_URL_READINGS = (WITH_QUERY, WITHOUT_QUERY)
MAX_EXPIRES_AHEAD = 3600
_AUTH_RE = re.compile(r"^Convert-HMAC-SHA256 Signature=([0-9a-f]{64})$")

MISSING = "Missing authentication headers"
UNKNOWN_APP = "Unknown application id"
EXPIRED = "Expired signature"
INVALID_EXPIRES = "Invalid Expires header, expected an integer unix timestamp"
TOO_FAR = "Expires is too far in the future (max 3600 s)"
INVALID = "Invalid signature"
INVALID_KEY = "Invalid API key"
SIGNATURE_NOT_ALLOWED = "This API key uses the secret key method: send Authorization: Bearer KEY_ID:KEY_SECRET"
BEARER_NOT_ALLOWED = "This API key uses request signing: a Bearer token is not accepted"


@dataclass(frozen=True)
class AuthResult:
    """Outcome of a signature check; ``message`` is the 401 text when not ``ok``."""

    ok: bool
    message: str = ""
    method: str = ""  # the method the request used: REQUEST_SIGNING, SECRET_KEY or "" (none)


def sign_string(key_id: str, expires: str, url: str, body: str) -> str:
    """The string that gets signed: four parts joined by LF."""
    return "\n".join([key_id, expires, url, body])


def compute_signature(key_id: str, key_secret: str, expires: str, url: str, body: str) -> str:
    """Lowercase hex HMAC-SHA256 of the sign string, keyed with the secret."""
    message = sign_string(key_id, expires, url, body).encode("utf-8")
    return hmac.new(key_secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def is_compact_json(body: str) -> bool:
    """True when ``body`` is exactly what JS ``JSON.stringify`` would produce for its value."""
    try:
        value = json.loads(body)
    except ValueError:
        return False
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) == body


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    getter = getattr(headers, "get", None)
    value = getter(name) if getter else None
    if value is None:  # plain dicts are case-sensitive; fall back to a scan
        lowered = name.lower()
        for key, val in headers.items():
            if key.lower() == lowered:
                return val
    return value


def verify_request(
    headers: Mapping[str, str],
    full_url: str,
    body: str,
    key_id: str,
    key_secret: str,
    now: Optional[float] = None,
    expires_header: str = "Expires",
) -> AuthResult:
    """Check the three signing headers against the URL and raw body as received."""
    app_id = _header(headers, "Convert-Application-ID")
    expires = _header(headers, expires_header)
    authorization = _header(headers, "Authorization")
    if not app_id or not expires or not authorization:
        return AuthResult(False, MISSING, REQUEST_SIGNING)
    if not hmac.compare_digest(app_id.encode("utf-8"), key_id.encode("utf-8")):
        return AuthResult(False, UNKNOWN_APP, REQUEST_SIGNING)
    if not re.fullmatch(r"[0-9]{1,12}", expires):
        return AuthResult(False, INVALID_EXPIRES, REQUEST_SIGNING)
    current = time.time() if now is None else now
    if int(expires) <= current:
        return AuthResult(False, EXPIRED, REQUEST_SIGNING)
    if int(expires) > current + MAX_EXPIRES_AHEAD:
        return AuthResult(False, TOO_FAR, REQUEST_SIGNING)
    match = _AUTH_RE.match(authorization.strip())
    if not match:
        return AuthResult(False, INVALID, REQUEST_SIGNING)
    expected = compute_signature(key_id, key_secret, expires, full_url, body)
    if not hmac.compare_digest(match.group(1), expected):
        return AuthResult(False, INVALID, REQUEST_SIGNING)
    return AuthResult(True, "", REQUEST_SIGNING)


def verify_bearer(authorization: str, key_id: str, key_secret: str) -> AuthResult:
    """Check ``Authorization: Bearer KEY_ID:KEY_SECRET``."""
    token = authorization[len(BEARER):].strip().encode("utf-8")
    if not hmac.compare_digest(token, f"{key_id}:{key_secret}".encode("utf-8")):
        return AuthResult(False, INVALID_KEY, SECRET_KEY)
    return AuthResult(True, "", SECRET_KEY)


def url_to_verify(full_url: str, reading: str) -> str:
    """The URL a signature covers under ``reading`` (``SIGNED_URL_READINGS``)."""
    if reading == WITH_QUERY:
        return full_url
    parts = urlsplit(full_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def uses_bearer(headers: Mapping[str, str]) -> bool:
    """Whether the request authenticates with the secret-key method's Bearer header."""
    return (_header(headers, "Authorization") or "").startswith(BEARER)
