"""Convert ``Convert-HMAC-SHA256`` request signing: compute and verify (reference section 1.1)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Mapping, Optional

SCHEME = "Convert-HMAC-SHA256"
MAX_EXPIRES_AHEAD = 3600
_AUTH_RE = re.compile(r"^Convert-HMAC-SHA256 Signature=([0-9a-f]{64})$")

MISSING = "Missing authentication headers"
UNKNOWN_APP = "Unknown application id"
EXPIRED = "Expired signature"
INVALID_EXPIRES = "Invalid Expires header, expected an integer unix timestamp"
TOO_FAR = "Expires is too far in the future (max 3600 s)"
INVALID = "Invalid signature"


@dataclass(frozen=True)
class AuthResult:
    """Outcome of a signature check; ``message`` is the 401 text when not ``ok``."""

    ok: bool
    message: str = ""


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
) -> AuthResult:
    """Check the three Convert auth headers against the URL and raw body as received."""
    app_id = _header(headers, "Convert-Application-ID")
    expires = _header(headers, "Expires")
    authorization = _header(headers, "Authorization")
    if not app_id or not expires or not authorization:
        return AuthResult(False, MISSING)
    if not hmac.compare_digest(app_id.encode("utf-8"), key_id.encode("utf-8")):
        return AuthResult(False, UNKNOWN_APP)
    if not re.fullmatch(r"[0-9]{1,12}", expires):
        return AuthResult(False, INVALID_EXPIRES)
    current = time.time() if now is None else now
    if int(expires) <= current:
        return AuthResult(False, EXPIRED)
    if int(expires) > current + MAX_EXPIRES_AHEAD:
        return AuthResult(False, TOO_FAR)
    match = _AUTH_RE.match(authorization.strip())
    if not match:
        return AuthResult(False, INVALID)
    expected = compute_signature(key_id, key_secret, expires, full_url, body)
    if not hmac.compare_digest(match.group(1), expected):
        return AuthResult(False, INVALID)
    return AuthResult(True)
