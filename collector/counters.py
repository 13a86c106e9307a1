"""Counts of accepted, rejected and dropped requests: the security signals, in memory.

The collector adds to them as it decides, and every closed spool segment carries the counts
since the previous one as its last line, so they reach DuckDB exactly once, through the same
loader as the events. Nothing here is about a person: outcomes per site and minute; how many
distinct clients the rate limiter refused per hour and how many requests each of the day's
"slots" (#1, #2 ... in the order they were first limited) lost, the clients known only by the
limiter's in-memory keyed hashes, which never leave this module; and the scrubbed hosts and
event names sent for unknown sites or outside a site's domain, at most ``MAX_VALUES`` distinct
ones per site, kind and hour (past that they read ``OTHER``), so a sender cannot grow the table.
Running totals since start are kept for ``/metrics``.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter

import orjson

from collector.clock import Clock

ACCEPTED = "accepted"
MAX_DETAILS = 200
MAX_VALUES = 50  # distinct unknown hosts (and, apart, event names) per site and hour
MAX_VALUE_LENGTH = 100
MAX_LIMITED = 100_000  # distinct limited clients tracked per hour (8-byte keys: ~10 MiB)
MAX_SLOTS = 1_000  # slots per site and day; later clients share slot 0 ("the rest")
OTHER = "(other)"
HOST, NAME = "host", "name"
_PLAIN = re.compile(r"[^A-Za-z0-9 ._/-]")


class LimitedClients:
    """Distinct clients the rate limiter refused, per site and hour, and the day's slots.

    ``note`` runs only for a refused request; the keyed hash it is given stays in memory and is
    forgotten at the end of its hour (the distinct count) and of its UTC day (the slots), so no
    slot is linked across days. ``run`` is a random number per process: two collector
    processes hash with different keys, so their slots are told apart rather than merged.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.run = secrets.randbelow(2**31)
        self._hour = -1
        self._seen: set[tuple[int, bytes]] = set()
        self._day = -1
        self._slots: dict[tuple[int, bytes], int] = {}
        self._next_slot: Counter[int] = Counter()
        self._new_clients: Counter[tuple[int, int]] = Counter()  # (hour, site) -> new clients
        self._limited: Counter[tuple[int, int, int]] = Counter()  # (day, site, slot) -> requests

    def note(self, token: bytes, site_id: int) -> None:
        now = self._clock.now()
        hour, day = int(now // 3600) * 3600, int(now // 86400)
        if hour != self._hour:
            self._hour, self._seen = hour, set()
        if day != self._day:
            self._day, self._slots, self._next_slot = day, {}, Counter()
        key = (site_id, token)
        if key not in self._seen and len(self._seen) < MAX_LIMITED:
            self._seen.add(key)
            self._new_clients[(hour, site_id)] += 1
        slot = self._slots.get(key)
        if slot is None:
            slot = 0
            if self._next_slot[site_id] < MAX_SLOTS:
                self._next_slot[site_id] += 1
                slot = self._slots[key] = self._next_slot[site_id]
        self._limited[(day, site_id, slot)] += 1

    def drain(self) -> tuple[list[list[int]], list[list[int]]]:
        """Rows ``[hour, site, new clients]`` and ``[day, site, run, slot, requests]``."""
        clients = [[*key, n] for key, n in self._new_clients.items()]
        slots = [[day, site, self.run, slot, n] for (day, site, slot), n in self._limited.items()]
        self._new_clients, self._limited = Counter(), Counter()
        return clients, slots


class IntakeCounters:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._pending: Counter[tuple[int, int, str, str, str]] = Counter()
        self.totals: Counter[str] = Counter()
        self.limited = LimitedClients(clock)
        self._details_hour = -1
        self._details: set[str] = set()
        self._values_hour = -1
        self._values: dict[tuple[int, str], set[str]] = {}
        self._pending_values: Counter[tuple[int, int, str, str]] = Counter()

    def add(self, reason: str, site_id: int = 0, detail: str = "", category: str = "") -> None:
        """Count one outcome in its minute; ``detail`` (a bot family) is cut to 40 plain
        characters, and past ``MAX_DETAILS`` distinct ones an hour reads "other", so senders
        cannot flood the table."""
        now = self._clock.now()
        if detail:
            hour = int(now // 3600) * 3600
            detail = _PLAIN.sub("", detail)[:40]
            if hour != self._details_hour:
                self._details_hour, self._details = hour, set()
            if detail not in self._details:
                if len(self._details) >= MAX_DETAILS:
                    detail = "other"
                else:
                    self._details.add(detail)
        self._pending[(int(now // 60) * 60, site_id, reason, detail, category)] += 1
        self.totals[reason] += 1

    def add_unknown(self, site_id: int, host: str, name: str) -> None:
        """Note the (already scrubbed) host and event name of an event refused because its
        site is unknown (``site_id`` 0) or its host is outside the site's domain."""
        hour = int(self._clock.now() // 3600) * 3600
        if hour != self._values_hour:
            self._values_hour, self._values = hour, {}
        for kind, value in ((HOST, host), (NAME, name)):
            value = value[:MAX_VALUE_LENGTH]
            seen = self._values.setdefault((site_id, kind), set())
            if value not in seen:
                if len(seen) >= MAX_VALUES:
                    value = OTHER
                else:
                    seen.add(value)
            self._pending_values[(hour, site_id, kind, value)] += 1

    def drain_line(self) -> bytes | None:
        """The pending counts as one spool line: ``{"m": [[minute, site, reason, detail,
        category, n]], "l": [[hour, site, clients]], "s": [[day, site, run, slot, n]],
        "u": [[hour, site, kind, value, n]]}``."""
        clients, slots = self.limited.drain()
        if not (self._pending or clients or slots or self._pending_values):
            return None
        line = {
            "m": [[*key, n] for key, n in self._pending.items()],
            "l": clients,
            "s": slots,
            "u": [[*key, n] for key, n in self._pending_values.items()],
        }
        self._pending, self._pending_values = Counter(), Counter()
        return orjson.dumps(line) + b"\n"
