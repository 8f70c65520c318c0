"""Which URL a request signature covers when the request has a query string.

Convert's contract says the signature covers the "Request URL" and does not say whether that includes
the query string (``experience_sections`` sends ``include[]``/``expand[]``). Both readings are handled:

* A request is signed with its URL as sent, query string included, until an answer settles the reading.
* A 401 for a request signed with its query string (before the reading is settled) is signed again
  without it, once (``ConvertErrorHandler`` retries it; ``refused`` marks it).
* The first accepted answer to a request with a query string settles the reading it was signed with,
  and every later request of the sync is signed that way.
* While the reading is unknown, requests with a query string go out one at a time: the first is the
  probe, the others wait for its answer (at most ``PROBE_WAIT_SECONDS``), so the fallback costs one
  extra request per sync, not one per request in flight.

Requests without a query string are not concerned: both readings sign the same URL. One reading is
kept per sync (``reset`` when a new source is built) and shared, lock-guarded, by every stream and thread.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Optional
from urllib.parse import urlsplit, urlunsplit

import requests

PROBE_WAIT_SECONDS = 60.0  # a probe answered slower than this (retries, backoff) no longer holds the others back
_POLL_SECONDS = 1.0  # how often a waiting request looks whether the probe has gone without an answer
# Answers that say nothing about the signature: rate limits, timeouts, server faults (and 401 itself).
_NOT_A_VERDICT = {401, 407, 408, 429}

WITH_QUERY = "with its query string"
WITHOUT_QUERY = "without its query string"


def without_query(url: str) -> str:
    """``url`` without its query string (and fragment)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def has_query(url: Optional[str]) -> bool:
    return bool(url) and bool(urlsplit(url or "").query)


class SignedUrlReading:
    """The sync's reading of "Request URL" for requests with a query string (see the module docstring)."""

    def __init__(self, probe_wait_seconds: float = PROBE_WAIT_SECONDS) -> None:
        self._changed = threading.Condition()
        self._probe_wait = probe_wait_seconds
        self._kept: Optional[str] = None
        self._probe: Optional["weakref.ref[requests.PreparedRequest]"] = None
        self._signed: "weakref.WeakKeyDictionary[requests.PreparedRequest, str]" = weakref.WeakKeyDictionary()
        self._unsigned_query: "weakref.WeakSet[requests.PreparedRequest]" = weakref.WeakSet()

    @property
    def kept(self) -> Optional[str]:
        """``WITH_QUERY`` or ``WITHOUT_QUERY`` once an answer settled it, else ``None``."""
        with self._changed:
            return self._kept

    def url_to_sign(self, request: requests.PreparedRequest) -> str:
        """The URL to sign for ``request`` (called by the authenticator on every attempt)."""
        url = request.url or ""
        if not has_query(url):
            return url
        with self._changed:
            if request in self._unsigned_query:
                reading = WITHOUT_QUERY
            else:
                self._wait_for_probe(request)
                reading = self._kept or WITH_QUERY
            self._signed[request] = reading
        return url if reading == WITH_QUERY else without_query(url)

    def _wait_for_probe(self, request: requests.PreparedRequest) -> None:
        """While unsettled, let one request (the probe) go first; the caller holds the lock."""
        deadline = time.monotonic() + self._probe_wait
        while self._kept is None:
            probe = self._probe() if self._probe is not None else None
            if probe is None or probe is request:
                self._probe = weakref.ref(request)
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return  # the probe is still retrying: sign as sent, a 401 falls back for this request too
            self._changed.wait(min(remaining, _POLL_SECONDS))

    def refused(self, request: requests.PreparedRequest) -> bool:
        """A 401 for ``request``: True when its retry is to be signed without the query string."""
        with self._changed:
            if self._signed.get(request) != WITH_QUERY or self._kept == WITH_QUERY:
                return False
            self._unsigned_query.add(request)
            return True

    def answered(self, request: Optional[requests.PreparedRequest], status: int) -> None:
        """An answer for ``request``: an accepted one settles the reading it was signed with; a final
        refusal (a 401 whose retry is spent) frees the probe for the next request."""
        if request is None or not has_query(request.url):
            return
        with self._changed:
            reading = self._signed.get(request)
            if reading is None:
                return
            if status == 401:
                if request not in self._unsigned_query or self._kept is not None:
                    return  # its one retry is still to come (or the reading is already settled)
            elif status in _NOT_A_VERDICT or status >= 500:
                return
            else:
                self._kept = self._kept or reading
            if self._probe is not None and self._probe() is request:
                self._probe = None
            self._changed.notify_all()


_READING = SignedUrlReading()
_READING_LOCK = threading.Lock()


def reading() -> SignedUrlReading:
    """The current sync's reading, shared by every authenticator and error handler."""
    with _READING_LOCK:
        return _READING


def reset() -> None:
    """Forget the reading (a new source is a new sync)."""
    global _READING
    with _READING_LOCK:
        _READING = SignedUrlReading()
