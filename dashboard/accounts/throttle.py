"""Login throttling (DESIGN §7): after repeated failures an account, or a client, is slowed by
an exponentially growing wait, never locked for good.

Keys are kept only in memory and only as keyed hashes (an account by the typed name, a client
by its address, each hashed with this process's random key), and the table is bounded.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable

FREE_FAILURES_ACCOUNT = 5  # then 1 s, 2 s, 4 s ... between attempts
FREE_FAILURES_CLIENT = 20  # a shared office address gets more room before it is slowed
MAX_WAIT_SECONDS = 15 * 60
MAX_KEYS = 10_000


class Throttle:
    def __init__(self, *, free: int, clock: Callable[[], float]) -> None:
        self._free = free
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._state: OrderedDict[bytes, tuple[int, float]] = OrderedDict()  # failures, until

    def key(self, text: str | bytes) -> bytes:
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        return hashlib.blake2b(data, key=self._key, digest_size=16).digest()

    def wait(self, key: bytes) -> float:
        """Seconds before this key may try again (0: now)."""
        with self._lock:
            _, until = self._state.get(key, (0, 0.0))
        return max(0.0, until - self._clock())

    def failed(self, key: bytes) -> None:
        with self._lock:
            failures, _ = self._state.pop(key, (0, 0.0))
            failures += 1
            until = 0.0
            if failures >= self._free:
                until = self._clock() + min(2.0 ** (failures - self._free), MAX_WAIT_SECONDS)
            self._state[key] = (failures, until)
            while len(self._state) > MAX_KEYS:
                self._state.popitem(last=False)  # the longest-quiet key goes first

    def succeeded(self, key: bytes) -> None:
        with self._lock:
            self._state.pop(key, None)
