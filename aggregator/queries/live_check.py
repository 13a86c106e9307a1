"""What the empty dashboard's live check shows a site owner setting hush up: the last event
stored for the site (when, on which host) and the site's intake outcomes in the last hours, by
reason, from hush's own counters. No visitor is in either: a time, a host name, counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aggregator.store import Store


@dataclass(frozen=True, slots=True)
class LastEvent:
    at: datetime  # UTC
    hostname: str


def last_event(store: Store, site_id: int) -> LastEvent | None:
    with store.read() as cur:
        row = cur.execute(
            "SELECT ts, hostname FROM events WHERE site_id = $site ORDER BY ts DESC LIMIT 1",
            {"site": site_id},
        ).fetchone()
    return LastEvent(row[0], row[1]) if row else None


def has_events(store: Store, site_id: int) -> bool:
    """Whether the site has ever counted anything (raw events or rolled-up days)."""
    with store.read() as cur:
        row = cur.execute(
            "SELECT EXISTS (SELECT 1 FROM events WHERE site_id = $site)"
            " OR EXISTS (SELECT 1 FROM rollups WHERE site_id = $site)",
            {"site": site_id},
        ).fetchone()
    return bool(row and row[0])


def recent_outcomes(store: Store, site_id: int, *, now: float, hours: int = 1) -> dict[str, int]:
    """Intake outcomes counted for the site in the current and the last ``hours`` hours."""
    since = datetime.fromtimestamp(now, UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    with store.read() as cur:
        rows = cur.execute(
            "SELECT reason, sum(n) FROM intake_counts WHERE site_id = $site AND hour >= $since"
            " GROUP BY reason ORDER BY reason",
            {"site": site_id, "since": since - timedelta(hours=hours)},
        ).fetchall()
    return {reason: int(n) for reason, n in rows}
