"""Who may read: Stats API keys (Bearer tokens), checked against their stored hashes."""

from __future__ import annotations

import threading
import time

from aggregator.api_keys import active_key_hashes, hash_key
from aggregator.store import Store

REFRESH_SECONDS = 5.0


class ApiKeys:
    """The set of active key hashes, cached; ``refresh()`` after keys change."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._hashes: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")

    def refresh(self) -> None:
        hashes = active_key_hashes(self._store)
        with self._lock:
            self._hashes, self._loaded_at = hashes, time.monotonic()

    def is_valid(self, key: str) -> bool:
        if time.monotonic() - self._loaded_at > REFRESH_SECONDS:
            self.refresh()
        return hash_key(key) in self._hashes
