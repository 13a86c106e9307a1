"""The security view's read model: counts over time from the security signals, the rules'
detectors (``security_rules`` holds their thresholds), logins from the audit log and the alert
history. Times are naive UTC; ``sites`` lists the site ids a reader may see (0: no site)."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aggregator.queries.engine import run_query
from aggregator.queries.security_rules import (
    NOT_REJECTED,
    SPAM_MAX_DURATION,
    SPAM_MIN_BOUNCE_RATE,
    SPAM_MIN_VISITS,
    SPIKE_FACTOR,
    SPIKE_MIN,
    SPIKE_SIGMA_FLOOR,
    SPIKE_WEEKS,
    SPIKE_Z,
    SURGE_BASELINE_HOURS,
    SURGE_FACTOR,
    SURGE_FLOOR,
    SURGE_WINDOW_MINUTES,
)
from aggregator.queries.vocabulary import Query
from aggregator.store import Store

WINDOW = SURGE_WINDOW_MINUTES * 60
BASELINE_WINDOWS = SURGE_BASELINE_HOURS * 3600 // WINDOW


@dataclass(frozen=True, slots=True)
class Surge:
    site_id: int
    start: datetime
    value: int
    median: float
    threshold: float


@dataclass(frozen=True, slots=True)
class Spike:
    site_id: int
    kind: str  # page | source
    key: str
    hour: datetime
    value: int
    mean: float
    sigma: float
    z: float


@dataclass(frozen=True, slots=True)
class SpamCandidate:
    site_id: int
    host: str
    visits: int
    bounce_rate: float
    duration: float


@dataclass(frozen=True, slots=True)
class Slot:
    day: date
    rank: int  # 1 = the slot with the most requests limited that day
    requests: int


@dataclass(frozen=True, slots=True)
class AlertRow:
    raised_at: datetime
    rule: str
    site_id: int
    window_start: datetime
    window_end: datetime
    subject: str
    value: float
    baseline: float
    threshold: float
    status: str
    attempts: int
    error: str


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def outcomes(
    store: Store, sites: list[int], start: datetime, end: datetime, *, bucket: int
) -> dict[datetime, Counter[str]]:
    """Requests per bucket of ``bucket`` seconds and reason; minutes under an hour, else hours."""
    table, column = ("intake_minutes", "minute") if bucket < 3600 else ("intake_counts", "hour")
    sql = (
        f"SELECT to_timestamp(epoch({column})::BIGINT // $b * $b)::TIMESTAMP AS bucket,"  # noqa: S608
        f" reason, sum(n) FROM {table} WHERE list_contains($sites, site_id)"
        f" AND {column} >= $start AND {column} < $end GROUP BY ALL"
    )
    found: dict[datetime, Counter[str]] = {}
    with store.read() as cur:
        for at, reason, n in cur.execute(
            sql, {"b": bucket, "sites": sites, "start": start, "end": end}
        ).fetchall():
            found.setdefault(_naive(at), Counter())[reason] += int(n)
    return found


def bot_families(
    store: Store, sites: list[int], start: datetime, end: datetime
) -> list[tuple[str, str, int]]:
    """(category, family, requests) of bots in the range, most first."""
    with store.read() as cur:
        rows = cur.execute(
            "SELECT category, detail, sum(n) AS n FROM intake_counts WHERE reason = 'bot'"
            " AND list_contains($sites, site_id) AND hour >= $start AND hour < $end"
            " GROUP BY ALL ORDER BY n DESC, detail LIMIT 50",
            {"sites": sites, "start": _hour(start), "end": end},
        ).fetchall()
    return [(category or "other bot", family, int(n)) for category, family, n in rows]


def surges(store: Store, site_id: int, start: datetime, end: datetime) -> list[Surge]:
    """The rejection-surge rule over every 5-minute window starting in [start, end)."""
    since = start - timedelta(hours=SURGE_BASELINE_HOURS)
    with store.read() as cur:
        rows = cur.execute(
            "SELECT epoch(minute)::BIGINT // $w * $w AS w, sum(n) FROM intake_minutes"
            " WHERE site_id = $site AND minute >= $since AND minute < $end"
            " AND NOT list_contains($kept, reason) GROUP BY ALL",
            {"w": WINDOW, "site": site_id, "since": since, "end": end, "kept": NOT_REJECTED},
        ).fetchall()
    counts = {int(w): int(n) for w, n in rows}
    first = int(start.replace(tzinfo=UTC).timestamp()) // WINDOW * WINDOW
    found = []
    for window, value in sorted(counts.items()):
        if window < first or value <= SURGE_FLOOR:
            continue  # the floor alone rules it out: no median needed
        trailing = [counts.get(window - k * WINDOW, 0) for k in range(1, BASELINE_WINDOWS + 1)]
        median = statistics.median(trailing)
        threshold = max(SURGE_FLOOR, SURGE_FACTOR * median)
        if value > threshold:
            found.append(Surge(site_id, utc(window), value, median, threshold))
    return found


def current_band(store: Store, site_id: int, now: datetime) -> tuple[float, float]:
    """The trailing median and the surge threshold the site's current window is held to."""
    window = int(now.replace(tzinfo=UTC).timestamp()) // WINDOW * WINDOW
    with store.read() as cur:
        rows = cur.execute(
            "SELECT epoch(minute)::BIGINT // $w * $w AS w, sum(n) FROM intake_minutes"
            " WHERE site_id = $site AND minute >= $since AND minute < $end"
            " AND NOT list_contains($kept, reason) GROUP BY ALL",
            {
                "w": WINDOW,
                "site": site_id,
                "since": utc(window - SURGE_BASELINE_HOURS * 3600),
                "end": utc(window),
                "kept": NOT_REJECTED,
            },
        ).fetchall()
    counts = {int(w): int(n) for w, n in rows}
    trailing = [counts.get(window - k * WINDOW, 0) for k in range(1, BASELINE_WINDOWS + 1)]
    median = float(statistics.median(trailing))
    return median, max(float(SURGE_FLOOR), SURGE_FACTOR * median)


def spikes(store: Store, site_id: int, start: datetime, end: datetime) -> list[Spike]:
    """The traffic-spike rule over the hours in [start, end), by page and by source."""
    found = []
    for kind, column in (
        ("page", "path"),
        ("source", "coalesce(nullif(source, ''), 'Direct / None')"),
    ):
        sql = f"""
        WITH h AS (
            SELECT date_trunc('hour', ts) AS hour, {column} AS key, count(*) AS n FROM events
            WHERE site_id = $site AND name = 'pageview'
              AND ts >= $since AND ts < $end GROUP BY ALL
        )
        SELECT c.hour, c.key, c.n, coalesce(sum(p.n), 0), coalesce(sum(p.n * p.n), 0)
        FROM h c LEFT JOIN h p ON p.key = c.key AND p.hour < c.hour
            AND (epoch(c.hour) - epoch(p.hour)) % (7 * 86400) = 0
            AND c.hour - p.hour <= INTERVAL (7 * $weeks) DAY
        WHERE c.hour >= $start AND c.n >= $min
        GROUP BY c.hour, c.key, c.n ORDER BY c.hour, c.n DESC
        """  # noqa: S608 (column from the fixed pair above)
        with store.read() as cur:
            rows = cur.execute(
                sql,
                {
                    "site": site_id,
                    "since": _hour(start) - timedelta(weeks=SPIKE_WEEKS),
                    "start": _hour(start),
                    "end": end,
                    "weeks": SPIKE_WEEKS,
                    "min": SPIKE_MIN,
                },
            ).fetchall()
        for hour, key, n, total, squares in rows:
            mean = float(total) / SPIKE_WEEKS  # weeks without the key count as 0
            sigma = math.sqrt(max(0.0, float(squares) / SPIKE_WEEKS - mean * mean))
            z = (n - mean) / max(sigma, SPIKE_SIGMA_FLOOR)
            if z >= SPIKE_Z and n >= SPIKE_FACTOR * mean:
                found.append(Spike(site_id, kind, key, _naive(hour), int(n), mean, sigma, z))
    return found


def spam_candidates(
    store: Store, site_id: int, date_from: date, date_to: date, timezone: str
) -> list[SpamCandidate]:
    """The referrer-spam rule over the site's local days [date_from, date_to]."""
    rows = run_query(
        store,
        Query(
            site_id=site_id,
            date_from=date_from,
            date_to=date_to,
            metrics=("visits", "bounce_rate", "visit_duration"),
            dimensions=("visit:source",),
            timezone=timezone,
        ),
    )
    return [
        SpamCandidate(
            site_id, row["visit:source"], row["visits"], row["bounce_rate"], row["visit_duration"]
        )
        for row in rows
        if row["visit:source"] not in ("Direct / None", "")
        and row["visits"] >= SPAM_MIN_VISITS
        and (row["bounce_rate"] or 0) >= SPAM_MIN_BOUNCE_RATE
        and (row["visit_duration"] or 0) <= SPAM_MAX_DURATION
    ]


def limited_clients(
    store: Store, sites: list[int], start: datetime, end: datetime
) -> list[tuple[datetime, int]]:
    """Distinct rate-limited clients per hour (summed over collector processes)."""
    with store.read() as cur:
        rows = cur.execute(
            "SELECT hour, sum(clients) FROM limited_clients WHERE list_contains($sites, site_id)"
            " AND hour >= $start AND hour < $end GROUP BY hour ORDER BY hour",
            {"sites": sites, "start": _hour(start), "end": end},
        ).fetchall()
    return [(_naive(hour), int(n)) for hour, n in rows]


def limited_slots(
    store: Store, sites: list[int], first: date, last: date, *, per_day: int = 10
) -> list[Slot]:
    """Each day's busiest slots, ranked #1 … by requests limited (slot 0, the rest, aside)."""
    with store.read() as cur:
        rows = cur.execute(
            "SELECT day, rank, n FROM (SELECT day, sum(n) AS n, row_number() OVER"
            " (PARTITION BY day ORDER BY sum(n) DESC, min(slot)) AS rank FROM limited_slots"
            " WHERE list_contains($sites, site_id) AND day BETWEEN $first AND $last AND slot > 0"
            " GROUP BY day, site_id, run, slot) WHERE rank <= $per_day ORDER BY day DESC, rank",
            {"sites": sites, "first": first, "last": last, "per_day": per_day},
        ).fetchall()
    return [Slot(day, int(rank), int(n)) for day, rank, n in rows]


def slot_counts(store: Store, sites: list[int], first: date, last: date) -> list[tuple[date, int]]:
    """How many slots (limited clients) each day had."""
    with store.read() as cur:
        rows = cur.execute(
            "SELECT day, count(DISTINCT (site_id, run, slot)) FROM limited_slots"
            " WHERE list_contains($sites, site_id) AND day BETWEEN $first AND $last AND slot > 0"
            " GROUP BY day ORDER BY day DESC",
            {"sites": sites, "first": first, "last": last},
        ).fetchall()
    return [(day, int(n)) for day, n in rows]


def unknown_values(
    store: Store, sites: list[int], start: datetime, end: datetime
) -> list[tuple[str, str, int]]:
    """(kind, value, events) of unknown hosts and event names in the range, most first."""
    with store.read() as cur:
        rows = cur.execute(
            "SELECT kind, value, sum(n) AS n FROM unknown_values"
            " WHERE list_contains($sites, site_id) AND hour >= $start AND hour < $end"
            " GROUP BY ALL ORDER BY n DESC, kind, value LIMIT 40",
            {"sites": sites, "start": _hour(start), "end": end},
        ).fetchall()
    return [(kind, value, int(n)) for kind, value, n in rows]


def logins(store: Store, start: datetime, end: datetime) -> dict[str, Any]:
    """Failed and slowed logins from the audit log: per day, and the accounts most tried."""
    with store.read() as cur:
        per_day = cur.execute(
            "SELECT logged_at::DATE AS day, count(*) FILTER (WHERE action = 'auth.login_failed'),"
            " count(*) FILTER (WHERE action = 'auth.login_slowed') FROM audit_log"
            " WHERE action IN ('auth.login_failed', 'auth.login_slowed')"
            " AND logged_at >= $start AND logged_at < $end GROUP BY day ORDER BY day DESC",
            {"start": start, "end": end},
        ).fetchall()
        targets = cur.execute(
            "SELECT target, count(*) AS n FROM audit_log"
            " WHERE action IN ('auth.login_failed', 'auth.login_slowed')"
            " AND logged_at >= $start AND logged_at < $end"
            " GROUP BY target ORDER BY n DESC, target LIMIT 10",
            {"start": start, "end": end},
        ).fetchall()
    return {
        "days": [(day, int(failed), int(slowed)) for day, failed, slowed in per_day],
        "targets": [(target or "unknown account", int(n)) for target, n in targets],
    }


def alert_history(
    store: Store, sites: list[int], start: datetime, end: datetime, *, limit: int = 50
) -> list[AlertRow]:
    with store.read() as cur:
        rows = cur.execute(
            "SELECT raised_at, rule, site_id, window_start, window_end, subject, value,"
            " baseline, threshold, status, attempts, error FROM alerts"
            " WHERE list_contains($sites, site_id) AND raised_at >= $start AND raised_at < $end"
            " ORDER BY raised_at DESC, id DESC LIMIT $limit",
            {"sites": sites, "start": start, "end": end, "limit": limit},
        ).fetchall()
    return [AlertRow(*row) for row in rows]


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
