"""Reads that several streams of one sync need, made once: each result is kept under a key.

Two streams may ask at once (the CDK generates partitions of different streams in different threads):
the second waits for the first read of the same key instead of reading again. A failed read is kept
as its error, raised again for every later caller: one failing request is one failure, not one per
stream that needs it. ``SourceConvert`` clears everything when it is built, so a result never
outlives the sync it was read for.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Hashable, TypeVar

T = TypeVar("T")

_MISSING = object()


class _Failed:
    """A read that raised: later callers get the same error."""

    def __init__(self, error: Exception) -> None:
        self.error = error


_results: Dict[Hashable, Any] = {}
_key_locks: Dict[Hashable, threading.Lock] = {}
_lock = threading.Lock()


def read_once(key: Hashable, read: Callable[[], T]) -> T:
    """``read()``'s result for ``key``, read by the first caller of this sync."""
    with _lock:
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:
        with _lock:
            known = _results.get(key, _MISSING)
        if isinstance(known, _Failed):
            raise known.error
        if known is not _MISSING:
            return known  # type: ignore[no-any-return]
        try:
            result = read()
        except Exception as error:
            with _lock:
                _results[key] = _Failed(error)
            raise
        with _lock:
            _results[key] = result
        return result


def clear() -> None:
    """Forget every result (a new sync starts)."""
    with _lock:
        _results.clear()
        _key_locks.clear()


class Once:
    """A thread-safe "for the first time?" per topic, for what a component says once per stream."""

    def __init__(self) -> None:
        self._told: set = set()
        self._lock = threading.Lock()

    def first(self, topic: Hashable = "") -> bool:
        """True for the first call with ``topic``, False for every later one (from any thread)."""
        with self._lock:
            if topic in self._told:
                return False
            self._told.add(topic)
            return True
