"""The plan: each local day's share of the events, in parts, grouped into chunks."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aggregator.errors import AdminError
from demo.lookups import SLOTS, slotted
from demo.traffic import GROWTH, HOURS, WEEKDAYS

CHUNK_ROWS = 2_000_000  # the most events a chunk holds, however much memory DuckDB may use
MIN_OPEN_SECONDS = 3600  # today takes part once it is an hour old (visits must fit before now)

# A plan row: local day, part of the day, quota, UTC start (µs), open seconds, hour slots.
_Part = tuple[date, int, int, int, float, int]


def plan(
    events: int,
    first_day: date,
    days: int,
    zone: ZoneInfo,
    now: datetime,
    seed: int,
    chunk_rows: int = CHUNK_ROWS,
) -> list[_Part]:
    """Each day's share of ``events``: weekday, growth and noise, only the part before now;
    a day of more than ``chunk_rows`` events in parts of at most that many."""
    hour_slots = slotted(HOURS)
    rng = random.Random(seed)
    days_open = []
    for i in range(days):
        day = first_day + timedelta(days=i)
        start = datetime.combine(day, datetime.min.time(), zone)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
        length = end.timestamp() - start.timestamp()  # 23 or 25 hours on a clock change
        open_seconds = min(length, (now - start).total_seconds())
        if open_seconds >= length:
            slots = SLOTS
        elif open_seconds < MIN_OPEN_SECONDS:
            slots = 0
        else:  # today: only the slots of the hour profile that lie before now
            hour, fraction = divmod(open_seconds / 3600, 1)
            slots = sum(1 for h in hour_slots if h < hour)
            slots = min(SLOTS, slots + round(hour_slots.count(int(hour)) * fraction))
        weight = WEEKDAYS[day.weekday()] * (1 + GROWTH * i / max(days - 1, 1))
        weight *= rng.uniform(0.93, 1.07) * slots / SLOTS
        start_us = int(start.timestamp()) * 1_000_000
        days_open.append((day, start_us, open_seconds, slots, weight))
    total = sum(entry[4] for entry in days_open)
    if events and not total:
        raise AdminError("the demo's days lie in the future: give a today that has begun")
    exact = [events * entry[4] / total if total else 0.0 for entry in days_open]
    quotas = [int(x) for x in exact]
    by_remainder = sorted(range(days), key=lambda i: quotas[i] - exact[i])
    for i in by_remainder[: events - sum(quotas)]:
        quotas[i] += 1
    parts: list[_Part] = []
    for (day, start_us, open_seconds, slots, _), quota in zip(days_open, quotas, strict=True):
        for part, offset in enumerate(range(0, quota, chunk_rows)):
            size = min(chunk_rows, quota - offset)
            parts.append((day, part, size, start_us, open_seconds, slots))
    return parts


def chunks(plan: list[_Part], chunk_rows: int = CHUNK_ROWS) -> list[list[_Part]]:
    """Consecutive plan rows grouped into chunks of at most ``chunk_rows`` events."""
    chunks: list[list[_Part]] = [[]]
    size = 0
    for part in plan:
        if chunks[-1] and size + part[2] > chunk_rows:
            chunks.append([])
            size = 0
        chunks[-1].append(part)
        size += part[2]
    return [chunk for chunk in chunks if chunk]
