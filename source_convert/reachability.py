"""A fast reachability probe for ``check``, so an unreachable host fails in seconds, not after retries."""

from __future__ import annotations

import ast
import socket
from typing import Optional
from urllib.parse import urlsplit

PROBE_TIMEOUT_SECONDS = 10.0


def unreachable_reason(base_url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> Optional[str]:
    """``None`` when a TCP connection to the base URL's host opens, else a message naming host and cause."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as error:
        cause = error.strerror or error.__class__.__name__
        return (
            f"Cannot reach the Convert API at {host}:{port} ({cause}). "
            "Check the API Base URL and this machine's network access."
        )


def readable(message: Optional[str]) -> Optional[str]:
    """The CDK reports a failed check as ``repr(reason)``; return the reason itself."""
    if message and len(message) > 1 and message[0] == message[-1] and message[0] in "'\"":
        try:
            value = ast.literal_eval(message)
        except (ValueError, SyntaxError):
            return message
        return value if isinstance(value, str) else message
    return message
