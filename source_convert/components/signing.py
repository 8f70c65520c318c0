"""Convert's authentication headers (pure functions, no I/O).

Request signing: HMAC-SHA256 of ``key id + LF + expiry + LF + URL + LF + body``, keyed by the key
secret, written as lowercase hex. The contract's prose names the expiry header ``Expires``, its
security scheme ``Expire``: both are sent, with the same value.

Secret key: ``Authorization: Bearer KEY_ID:KEY_SECRET``, as a string that never prints the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Optional, Union

SIGNATURE_SCHEME = "Convert-HMAC-SHA256"
EXPIRES_HEADERS = ("Expires", "Expire")
MASK = "****"


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


class SecretHeaderValue(str):
    """A header value that holds a secret: sent as is (``encode``), printed masked.

    ``repr``, ``str`` and formatting give ``shown`` (the value with the secret masked), so the
    header cannot leak through a log of the request's headers or an error message that prints it.
    """

    shown: str

    def __new__(cls, value: str, shown: str) -> "SecretHeaderValue":
        instance = super().__new__(cls, value)
        instance.shown = shown
        return instance

    def __repr__(self) -> str:
        return repr(self.shown)

    def __str__(self) -> str:
        return self.shown

    def __format__(self, spec: str) -> str:
        return format(self.shown, spec)

    def __reduce__(self) -> Any:  # a copy or a pickle keeps only the masked value
        return (str, (self.shown,))


def bearer_header(key_id: str, key_secret: str) -> SecretHeaderValue:
    """The ``Authorization`` value of the secret-key method: ``Bearer KEY_ID:KEY_SECRET``."""
    return SecretHeaderValue(f"Bearer {key_id}:{key_secret}", f"Bearer {key_id}:{MASK}")
