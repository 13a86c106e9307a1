"""Counts of accepted, rejected and dropped requests, per site and reason.

They feed the security view: the collector adds to them in memory, and every closed spool
segment carries the counts since the previous one as its last line, so counters reach DuckDB
exactly once, through the same loader as the events. Running totals since start are kept for
``/metrics``.
"""

from __future__ import annotations

from collections import Counter

import orjson

from collector.clock import Clock

ACCEPTED = "accepted"


class IntakeCounters:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._pending: Counter[tuple[int, int, str]] = Counter()
        self.totals: Counter[str] = Counter()

    def add(self, reason: str, site_id: int = 0) -> None:
        hour = int(self._clock.now() // 3600) * 3600
        self._pending[(hour, site_id, reason)] += 1
        self.totals[reason] += 1

    def drain_line(self) -> bytes | None:
        """The pending counts as one spool line (``{"c": [[hour, site, reason, n], ...]}``)."""
        if not self._pending:
            return None
        rows = [[hour, site, reason, n] for (hour, site, reason), n in self._pending.items()]
        self._pending = Counter()
        return orjson.dumps({"c": rows}) + b"\n"
