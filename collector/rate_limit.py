"""Rate limits: per client network and per site, in fixed one-minute windows.

A client is keyed by a keyed hash of its network: the whole address for IPv4, the first
``ipv6_prefix`` bits (default 64) for IPv6, since one subscriber gets a whole /64 (often a
/56) and can rotate the low 64 bits at will. The key is random per process and never leaves
memory (it sits in the same heap, so a heap dump could still try all 2³² IPv4 addresses:
dumps are turned off at start, ``collector.process``).

The client table is emptied every window and holds at most ``MAX_TRACKED`` networks (~20 MiB).
Once it is full, every network not yet in it shares one overflow bucket of the same limit:
a full table throttles newcomers together, it never lets everyone through. Sites have a limit
of their own (``site_per_minute``; 0 is none), checked after the client's, so a client over
its own limit does not use up its site's.

A refused client's keyed hash is handed to ``LimitedClients`` (the security signals count
distinct limited clients and the day's slots from it); only a refusal does that work.
"""

from __future__ import annotations

import secrets
import socket
from hashlib import blake2b

from collector.clock import Clock
from collector.counters import LimitedClients

WINDOW_SECONDS = 60
MAX_TRACKED = 200_000
_OVERFLOW = b"overflow"  # not 8 bytes long, so no hashed network can collide with it


class RateLimiter:
    def __init__(
        self,
        per_minute: int,
        clock: Clock,
        *,
        site_per_minute: int = 0,
        ipv6_prefix: int = 64,
        max_tracked: int = MAX_TRACKED,
        limited: LimitedClients | None = None,
    ) -> None:
        if not 1 <= ipv6_prefix <= 128:
            raise ValueError(f"ipv6_prefix must be 1..128, not {ipv6_prefix}")
        self._limit = per_minute
        self._site_limit = site_per_minute
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._v6_mask = ((1 << ipv6_prefix) - 1) << (128 - ipv6_prefix)
        self._max_tracked = max_tracked
        self._window = -1
        self._counts: dict[bytes, int] = {}
        self._sites: dict[int, int] = {}
        self._limited = limited

    @property
    def per_minute(self) -> int:
        return self._limit

    @property
    def site_per_minute(self) -> int:
        return self._site_limit

    @property
    def tracked(self) -> int:
        """Client networks counted in the current window (at most ``max_tracked`` + 1)."""
        return len(self._counts)

    def allow(self, address: str, site_id: int = 0) -> bool:
        """Count one event from ``address`` for ``site_id``; False once either is over."""
        return not self.refusal(address, site_id)

    def refusal(self, address: str, site_id: int = 0) -> str:
        """Count one event; '' when allowed, else which limit refused it: client or site."""
        if not self._limit and not self._site_limit:
            return ""
        window = int(self._clock.now() // WINDOW_SECONDS)
        if window != self._window:
            self._window, self._counts, self._sites = window, {}, {}
        if self._limit and not self._allow_client(address, site_id):
            return "client"
        if self._site_limit:
            count = self._sites.get(site_id, 0) + 1
            self._sites[site_id] = count  # only registered sites get here: a bounded table
            return "" if count <= self._site_limit else "site"
        return ""

    def _allow_client(self, address: str, site_id: int) -> bool:
        token = blake2b(self._network(address), key=self._key, digest_size=8).digest()
        counts = self._counts
        count = counts.get(token)
        if count is None and len(counts) >= self._max_tracked:
            token, count = _OVERFLOW, counts.get(_OVERFLOW, 0)
        count = (count or 0) + 1
        counts[token] = count
        if count <= self._limit:
            return True
        if self._limited is not None:
            self._limited.note(token, site_id)
        return False

    def _network(self, address: str) -> bytes:
        if ":" not in address:
            return address.encode()
        value = int.from_bytes(socket.inet_pton(socket.AF_INET6, address), "big")
        return (value & self._v6_mask).to_bytes(16, "big")
