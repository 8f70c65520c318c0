"""Convert's HMAC request signature (pure functions, no I/O).

Convert signs ``key id + LF + Expires + LF + full URL + LF + body`` with
HMAC-SHA256 keyed by the key secret, written as lowercase hex.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Optional, Union

SIGNATURE_SCHEME = "Convert-HMAC-SHA256"


def compact_json(value: Any) -> str:
    """Serialise like JavaScript's ``JSON.stringify``: no whitespace, unicode and slashes unescaped."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def canonical_body(body: Union[bytes, str, None]) -> bytes:
    """Return the exact bytes to send: JSON bodies are re-serialised compactly, others kept as they are."""
    if body is None or body == b"" or body == "":
        return b""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw
    return compact_json(parsed).encode("utf-8")


def sign(key_id: str, key_secret: str, expires: str, url: str, body: Optional[bytes]) -> str:
    """Return the lowercase hex HMAC-SHA256 signature of one request."""
    text = body.decode("utf-8") if body else ""
    message = "\n".join((key_id, expires, url, text)).encode("utf-8")
    return hmac.new(key_secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def authorization_header(signature: str) -> str:
    """Return the value of the ``Authorization`` header for a signature."""
    return f"{SIGNATURE_SCHEME} Signature={signature}"
