"""``generate_demo``: register the demo site if need be, plan the days, write chunk by chunk."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aggregator.errors import AdminError
from aggregator.rollups import mark_changed
from aggregator.sites import add_site, find_site, publish_snapshot
from aggregator.store import Store
from demo import planning
from demo.lookups import lookup_tables, parameters
from demo.sql import write_chunk

log = logging.getLogger("hush.demo")


@dataclass(frozen=True, slots=True)
class DemoReport:
    site: str
    events: int  # rows inserted into events
    days: int
    first_day: date
    last_day: date
    seconds: float


def generate_demo(
    store: Store,
    *,
    site: str = "demo.example",
    events: int = 200_000,
    days: int = 30,
    timezone: str = "Europe/Berlin",
    seed: int = 1,
    today: date | None = None,
    snapshot: Path | None = None,
) -> DemoReport:
    """Insert ``events`` synthetic events (all kinds) over the ``days`` local days ending
    ``today`` (default: the site's today; nothing is placed after now), and their intake counts.

    Registers ``site`` with ``timezone`` first if it is not a site yet (and then publishes the
    sites ``snapshot`` when one is given). Running it again adds more traffic.
    """
    started = time.monotonic()
    if events < 0 or not 1 <= days <= 3660:
        raise AdminError("a demo needs events >= 0 and days between 1 and 3660")
    found = find_site(store, site)
    if found is None:
        found = add_site(store, site, timezone=timezone)
        if snapshot is not None:
            publish_snapshot(store, snapshot)
    zone = ZoneInfo(found.timezone)
    now = datetime.now(UTC)
    last_day = today or now.astimezone(zone).date()
    first_day = last_day - timedelta(days=days - 1)
    with store.read() as cur:
        [(run,)] = cur.execute(
            "SELECT count(*) FROM events WHERE site_id = $s", {"s": found.id}
        ).fetchall()
    # A chunk's events are made in one statement: twice what a rollup part holds fits in
    # DuckDB's memory limit (measured at 32 MiB: 50,000 events fit, 80,000 do not).
    chunk_rows = min(planning.CHUNK_ROWS, 2 * store.events_per_part())
    plan = planning.plan(events, first_day, days, zone, now, seed, chunk_rows)
    tables = lookup_tables(found)
    params = parameters(found)
    done = 0
    for number, chunk in enumerate(planning.chunks(plan, chunk_rows)):
        key = _key(seed, run, number, "chunk")
        rows = [(*part, _key(seed, run, part[0].toordinal(), part[1])) for part in chunk]
        done += write_chunk(store, rows, tables, {**params, "key": key})
        log.info("demo: %d of %d events written", done, events)
    with store.write() as cur:  # days already rolled up count their new events
        mark_changed(
            cur,
            "SELECT $site AS site_id, CAST(d AS DATE) AS day"
            " FROM generate_series($first, $last, INTERVAL 1 DAY) AS t(d)",
            {"site": found.id, "first": first_day, "last": last_day},
        )
    return DemoReport(found.domain, done, days, first_day, last_day, time.monotonic() - started)


def _key(seed: int, run: int, *parts: object) -> int:
    """A 64-bit key for a seed, a run (the site's events before it) and a unit of work."""
    text = ":".join(str(p) for p in (seed, run, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")
