"""A thread-safe requests-per-minute budget, applied just before a request is signed."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable, Deque, Optional


class RequestBudget:
    """Allows at most ``per_minute`` request starts in any sliding 60-second window."""

    WINDOW_SECONDS = 60.0

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self._per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._starts: Deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until one more request may start; return the seconds waited."""
        waited = 0.0
        while True:
            delay = self._try_acquire()
            if delay is None:
                return waited
            self._sleep(delay)
            waited += delay

    def _try_acquire(self) -> Optional[float]:
        with self._lock:
            now = self._clock()
            while self._starts and now - self._starts[0] >= self.WINDOW_SECONDS:
                self._starts.popleft()
            if len(self._starts) < self._per_minute:
                self._starts.append(now)
                return None
            return self.WINDOW_SECONDS - (now - self._starts[0]) + 0.001
