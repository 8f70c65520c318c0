"""A bounded, logged wait for the API host, so an unreachable host fails once with its name and the reason.

Without it, every request of a sync would be retried by the error handler for minutes, each stream on
its own; this opens a plain TCP connection to the host of ``api_base_url`` instead, a few times with
growing pauses (each one logged), and gives up after about half a minute.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Callable, Optional, Sequence
from urllib.parse import urlsplit

CONNECT_TIMEOUT_SECONDS = 10.0
# Pauses between attempts: 30 s of waiting in all; with a 10 s connect timeout per attempt, a host
# that swallows packets is given up on after at most 80 s.
RETRY_PAUSES_SECONDS: Sequence[float] = (2, 4, 8, 16)


def wait_until_reachable(
    base_url: str,
    logger: logging.Logger,
    pauses: Sequence[float] = RETRY_PAUSES_SECONDS,
    timeout: float = CONNECT_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Optional[str]:
    """``None`` once a TCP connection to the base URL's host opens, else a message naming host and cause."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    attempts = len(pauses) + 1
    for attempt in range(1, attempts + 1):
        cause = _connect_error(host, port, timeout)
        if cause is None:
            return None
        if attempt == attempts:
            break
        pause = pauses[attempt - 1]
        logger.warning(
            f"Cannot reach the Convert API at {host}:{port} ({cause}); "
            f"trying again in {pause:g} s (attempt {attempt} of {attempts})."
        )
        sleep(pause)
    return (
        f"Cannot reach the Convert API at {host}:{port} ({cause}) after {attempts} attempts over "
        f"{sum(pauses):g} s. Check the API Base URL and this machine's network access."
    )


def _connect_error(host: str, port: int, timeout: float) -> Optional[str]:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as error:
        return error.strerror or str(error) or error.__class__.__name__
