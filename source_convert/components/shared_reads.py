"""Reads that several streams of one sync need, made once: each result is kept under a key.

Two streams may ask at once (the CDK generates partitions of different streams in different threads):
the second waits for the first read of the same key instead of reading again. ``SourceConvert``
clears everything when it is built and when its read ends, so a result never outlives the sync it
was read for.

``read_once`` keeps a result for the whole sync (small things: a cursor, an experience index). A
failed read is kept as its error, raised again for every later caller: one failing request is one
failure, not one per stream that needs it.

``read_shared`` keeps one only until every stream of this sync that shares it has had it (answers
with pages of records), and never more than a bound, so what it holds stays small. A failed read is
not handed on: each stream that shares it then sends its own request and reports its own error.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Collection, Dict, FrozenSet, Hashable, Iterable, Optional, Set, Tuple, TypeVar

T = TypeVar("T")

_MISSING = object()


class _Failed:
    """A read that raised: later callers get the same error."""

    def __init__(self, error: Exception) -> None:
        self.error = error


class _Shared:
    """One result of ``read_shared``: made by its first reader, waited for by the others."""

    def __init__(self, waiting: Set[str]) -> None:
        self.made = threading.Lock()  # held by the first reader until the result is there
        self.waiting = waiting  # the readers that have not had it yet
        self.result: Any = _MISSING
        self.weight = 0


_results: Dict[Hashable, Any] = {}
_key_locks: Dict[Hashable, threading.Lock] = {}
_shared: Dict[Hashable, _Shared] = {}  # oldest first
_dropped: Dict[Hashable, Set[str]] = {}  # forgotten results: the readers that had not had them
_held_weight = 0
_selected: FrozenSet[str] = frozenset()
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


def select_streams(names: Iterable[str]) -> None:
    """The streams this sync reads (the configured catalog's): the readers ``read_shared`` waits for."""
    global _selected
    with _lock:
        _selected = frozenset(names)


def selected(streams: Iterable[str]) -> Set[str]:
    """Those of ``streams`` that this sync reads (none before ``select_streams``)."""
    with _lock:
        return {stream for stream in streams if stream in _selected}


def read_shared(key: Hashable, reader: str, readers: Collection[str], read: Callable[[], T],
                weight: Callable[[T], int] = lambda result: 0, limit: Optional[int] = None) -> T:
    """``read()``'s result for ``key``, made once for ``reader`` and the other ``readers`` of this sync.

    The first of them to ask reads; each other one gets that result once, waiting for it if need be.
    The result is forgotten when every reader has had it. A read that failed is not handed on: each
    other reader reads on its own (with its own retries, and its own error if it fails too). A reader
    that asks again after having had it (while the others still wait for it), or one not among
    ``readers``, reads on its own.

    What is kept waiting is bounded: when the kept results ``weight`` more than ``limit`` together, the
    oldest are forgotten, and a reader that had not had one reads on its own (a result one reader asks
    for and the other never does, e.g. when their saved states differ, costs memory only up to there).
    """
    others = set(readers) - {reader}
    if reader not in readers or not others:
        return read()
    with _lock:
        entry: Optional[_Shared] = None
        if not _had_dropped(key, reader):
            entry = _shared.get(key)
            if entry is None:
                entry = _shared[key] = _Shared(others)
                entry.made.acquire()  # before anyone can see the entry: takers wait for the result
                first = True
            elif reader in entry.waiting:
                first = False
            else:
                entry = None
    if entry is None:
        return read()
    if first:
        try:
            result = read()
            entry.result, entry.weight = result, weight(result)
        finally:
            try:
                with _lock:
                    _keep(key, entry, limit)
            finally:
                entry.made.release()
        return result
    with entry.made:
        result = entry.result
    with _lock:
        entry.waiting.discard(reader)
        _had_dropped(key, reader)
        if not entry.waiting and _shared.get(key) is entry:
            _forget(key)
    if result is _MISSING:  # the first reader's read failed: this one reads on its own
        return read()
    return result  # type: ignore[no-any-return]


def _keep(key: Hashable, entry: _Shared, limit: Optional[int]) -> None:
    """Counts a new result in (under ``_lock``), or forgets a failed read (its other readers read on their
    own); then forgets the oldest kept results while their weight is over ``limit``."""
    global _held_weight
    if _shared.get(key) is not entry:
        return
    if entry.result is _MISSING:
        _dropped.setdefault(key, set()).update(entry.waiting)
        _forget(key)
        return
    _held_weight += entry.weight
    for old in list(_shared):
        if limit is None or _held_weight <= limit:
            break
        if _shared[old].result is not _MISSING:  # results still being read are not kept yet
            _dropped.setdefault(old, set()).update(_shared[old].waiting)
            _forget(old)


def _forget(key: Hashable) -> None:
    global _held_weight
    _held_weight -= _shared.pop(key).weight


def _had_dropped(key: Hashable, reader: str) -> bool:
    """Whether ``reader`` was waiting for a result of ``key`` that was forgotten (it then reads on its own)."""
    waiting = _dropped.get(key)
    if waiting is None or reader not in waiting:
        return False
    waiting.discard(reader)
    if not waiting:
        del _dropped[key]
    return True


def held() -> Tuple[int, int]:
    """The ``read_shared`` results kept now, and their weight together."""
    with _lock:
        return len(_shared), _held_weight


def clear() -> None:
    """Forget every result and the selected streams (a new sync starts, or a read ended)."""
    global _selected, _held_weight
    with _lock:
        _results.clear()
        _key_locks.clear()
        _shared.clear()
        _dropped.clear()
        _held_weight = 0
        _selected = frozenset()


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
