"""Fault injection: rules that replace the normal answer of matching requests."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Dict, List, Optional

KINDS = ("status", "not_json", "no_data", "reset", "slow")
_MESSAGES = {429: "Too many requests", 500: "Internal server error", 502: "Bad gateway",
             503: "Service unavailable", 504: "Gateway timeout"}


@dataclass
class Fault:
    """One rule. ``times`` = number of hits before it is spent; ``every=k`` hits every k-th matching request.

    Kinds: "status" (Convert-shaped error with ``status``), "not_json" (200 HTML), "no_data"
    (200 JSON without ``data``), "reset" (connection closed without a response), "slow" (sleep
    ``delay`` then answer normally). ``delay`` is also slept before any other kind's answer.
    """

    status: int = 503
    times: int = 1
    path_regex: str = ".*"
    every: Optional[int] = None
    retry_after: Optional[float] = None
    body: Optional[str] = None
    delay: float = 0.0
    kind: str = "status"
    matched: int = field(default=0, init=False)
    hits: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {KINDS}")
        if self.every is not None and self.every < 1:
            raise ValueError("every must be >= 1")
        self._pattern = re.compile(self.path_regex)

    @property
    def spent(self) -> bool:
        return self.hits >= self.times

    def applies(self, path: str) -> bool:
        """Count a matching request and say whether this rule fires for it (call under the set's lock)."""
        if self.spent or not self._pattern.search(path):
            return False
        self.matched += 1
        if self.every is not None and self.matched % self.every:
            return False
        self.hits += 1
        return True

    def response(self) -> Dict[str, Any]:
        """Status, headers and body bytes for kinds that answer (everything but "reset" and "slow")."""
        headers: Dict[str, str] = {}
        if self.retry_after is not None:
            value = self.retry_after
            headers["Retry-After"] = str(int(value)) if float(value).is_integer() else str(value)
        if self.kind == "not_json":
            text = self.body or "<html><body><h1>502 Bad Gateway</h1>cloudflare</body></html>"
            return {"status": 200, "headers": headers, "content_type": "text/html; charset=utf-8", "body": text}
        if self.kind == "no_data":
            text = self.body or '{"code":200,"message":"OK"}'
            return {"status": 200, "headers": headers, "content_type": "application/json", "body": text}
        message = _MESSAGES.get(self.status) or _phrase(self.status)
        text = self.body if self.body is not None else '{"code":%d,"message":"%s"}' % (self.status, message)
        return {"status": self.status, "headers": headers, "content_type": "application/json", "body": text}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class FaultSet:
    """Ordered, thread-safe collection of faults plus optional seeded random 503s."""

    def __init__(self, random_503: float = 0.0, seed: int = 0) -> None:
        self._faults: List[Fault] = []
        self._lock = threading.Lock()
        self.random_503 = random_503
        self._rng = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pick(self, path: str) -> Optional[Fault]:
        """The first rule firing for this request; the first firing rule stops the scan."""
        with self._lock:
            for fault in self._faults:
                if fault.applies(path):
                    return fault
            if self.random_503 and self._rng.random() < self.random_503:
                return RANDOM_503
        return None


RANDOM_503 = Fault(503, times=1 << 62)
