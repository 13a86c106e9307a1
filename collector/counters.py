"""Counts of accepted, rejected and dropped requests, per site and reason.

They feed the security view: the collector adds to them in memory, and every closed spool
segment carries the counts since the previous one as its last line, so counters reach DuckDB
exactly once, through the same loader as the events. Running totals since start are kept for
``/metrics``.
"""

from __future__ import annotations

import re
from collections import Counter

import orjson

from collector.clock import Clock

ACCEPTED = "accepted"
MAX_DETAILS = 200
_PLAIN = re.compile(r"[^A-Za-z0-9 ._/-]")


class IntakeCounters:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._pending: Counter[tuple[int, int, str, str]] = Counter()
        self.totals: Counter[str] = Counter()
        self._details_hour = -1
        self._details: set[str] = set()

    def add(self, reason: str, site_id: int = 0, detail: str = "") -> None:
        """Count one outcome; ``detail`` (a bot family) is cut to 40 plain characters, and past
        ``MAX_DETAILS`` distinct ones an hour reads "other", so senders cannot flood the table."""
        hour = int(self._clock.now() // 3600) * 3600
        if detail:
            detail = _PLAIN.sub("", detail)[:40]
            if hour != self._details_hour:
                self._details_hour, self._details = hour, set()
            if detail not in self._details:
                if len(self._details) >= MAX_DETAILS:
                    detail = "other"
                else:
                    self._details.add(detail)
        self._pending[(hour, site_id, reason, detail)] += 1
        self.totals[reason] += 1

    def drain_line(self) -> bytes | None:
        """The pending counts as one spool line: ``{"c": [[hour, site, reason, detail, n]]}``."""
        if not self._pending:
            return None
        rows = [[*key, n] for key, n in self._pending.items()]
        self._pending = Counter()
        return orjson.dumps({"c": rows}) + b"\n"
