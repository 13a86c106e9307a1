"""Who may read: Stats API keys (Bearer tokens), checked against their stored hashes.

A key reads the sites its grant names (its owner's, or fewer), and only while its owner's role
may read traffic. Grants are cached and refreshed every few seconds, or at once after a change.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from aggregator.api_keys import Grant, active_grants, hash_key, mark_used
from aggregator.clock import Clock
from aggregator.store import Store

REFRESH_SECONDS = 5.0
READS_TRAFFIC = frozenset({"admin", "marketing"})


class ApiKeys:
    """The active keys' grants, cached; ``refresh()`` after keys change."""

    def __init__(self, store: Store, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._grants: dict[str, Grant] = {}
        self._loaded_at = float("-inf")

    def refresh(self) -> None:
        grants = active_grants(self._store)
        with self._lock:
            self._grants, self._loaded_at = grants, time.monotonic()

    def grant(self, key: str) -> Grant | None:
        """The grant of an active key whose owner may read traffic; notes the day of use."""
        if time.monotonic() - self._loaded_at > REFRESH_SECONDS:
            self.refresh()
        grant = self._grants.get(hash_key(key))
        if grant is None or grant.role not in READS_TRAFFIC:
            return None
        today = datetime.fromtimestamp(self._clock.now(), UTC).date()
        if grant.last_used_day != today:
            mark_used(self._store, grant.key_id, today)  # once a day per key, not per call
            self.refresh()
        return grant

    def is_valid(self, key: str) -> bool:
        return self.grant(key) is not None
