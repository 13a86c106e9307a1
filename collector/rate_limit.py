"""Per-address rate limit: a fixed one-minute window keyed by a keyed hash of the address.

The key is random per process and never leaves memory, so even a heap dump of the limiter holds
no address. The table is emptied every window and capped, so a flood of distinct addresses
cannot exhaust memory (past the cap, new addresses are not limited until the next window).
"""

from __future__ import annotations

import secrets
from hashlib import blake2b

from collector.clock import Clock

WINDOW_SECONDS = 60
MAX_TRACKED = 200_000


class RateLimiter:
    def __init__(self, per_minute: int, clock: Clock) -> None:
        self._limit = per_minute
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._window = -1
        self._counts: dict[bytes, int] = {}

    def allow(self, address: str) -> bool:
        if not self._limit:
            return True
        window = int(self._clock.now() // WINDOW_SECONDS)
        if window != self._window:
            self._window, self._counts = window, {}
        token = blake2b(address.encode(), key=self._key, digest_size=8).digest()
        count = self._counts.get(token, 0) + 1
        if count == 1 and len(self._counts) >= MAX_TRACKED:
            return True
        self._counts[token] = count
        return count <= self._limit
