"""The Stats API's per-key rate limit, as Plausible's: at most N requests an hour per key.

Kept in memory, keyed by the key's hash (never the key itself), and only for keys that passed
authentication, so the table holds at most one entry per valid key. A sliding window: the
request is allowed when fewer than N were allowed in the hour before it; otherwise the answer
says how many seconds until the oldest of them leaves the window.
"""

from __future__ import annotations

import math
import threading
from collections import deque

from aggregator.clock import Clock

WINDOW_SECONDS = 3600.0


class KeyRateLimiter:
    def __init__(self, per_hour: int, clock: Clock) -> None:
        self._limit = per_hour
        self._clock = clock
        self._lock = threading.Lock()
        self._allowed: dict[str, deque[float]] = {}

    @property
    def per_hour(self) -> int:
        return self._limit

    def retry_after(self, key_hash: str) -> int | None:
        """Count one request of the key; None when it is allowed, else the whole seconds to
        wait before the next one would be (at least 1). A limit of 0 allows everything."""
        if not self._limit:
            return None
        now = self._clock.now()
        with self._lock:
            times = self._allowed.setdefault(key_hash, deque())
            while times and times[0] <= now - WINDOW_SECONDS:
                times.popleft()
            if len(times) < self._limit:
                times.append(now)
                return None
            return max(1, math.ceil(times[0] + WINDOW_SECONDS - now))
