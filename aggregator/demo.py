"""Synthetic traffic for a demo site (``hush demo``) for dashboards and benchmarks.

Every row is made inside DuckDB from ``range()`` and ``hash()``: a pseudo-random number is
``hash(xor(key, n))`` scaled to [0, 1), where ``key`` derives from the seed, the day and the
visitor or session, so the same seed gives the same rows, and 10 million events take seconds,
not hours. Each chunk of at most ``CHUNK_ROWS`` events is one transaction.

The shape of the traffic: each local day has its own visitor ids (DESIGN §4), each visitor has
one device and country and 1-3 visits at least an hour apart, each visit 1-8 page views a few
seconds to a few minutes apart (47% one page), ~60% of page views are followed by an
``engagement`` event, and 3% of visits send ``Signup``, 5% ``Download``. Pages follow a Zipf
law; visits a daily and a weekly cycle and a gentle growth. Every event stores what the
collector would store for it: only the events of a visit's landing page carry its referrer,
UTM tags, source and channel, computed from a landing URL and referrer by the collector's own
rules; later pages were reached from the site itself, a self-referral, so they read Direct.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from aggregator.sites import AdminError, add_site, find_site, publish_snapshot
from aggregator.store import Store
from collector.channels import acquisition
from collector.scrub import PageUrl, scrub_page_url, scrub_referrer
from collector.sites import Site
from collector.sources import SourceTable

log = logging.getLogger("hush.demo")

CHUNK_ROWS = 2_000_000
ROWS_PER_VISITOR = 4.5  # measured mean; visitors are drawn with a margin above quota / this
SLOTS = 1000  # lookup tables map floor(u * SLOTS) to a row, in proportion to its weight
MIN_OPEN_SECONDS = 3600  # today takes part once it is an hour old (visits must fit before now)
GROWTH = 0.25  # the last day is 25% busier than the first, other things equal

WEEKDAYS = (1.0, 1.05, 1.05, 1.0, 0.9, 0.62, 0.68)  # Monday first
HOURS = (1.2, 0.8, 0.5, 0.4, 0.4, 0.6, 1.2, 2.4, 3.6, 4.4, 4.8, 5.0,
         5.0, 5.0, 5.2, 5.4, 5.4, 5.6, 5.8, 6.0, 5.6, 4.6, 3.2, 2.0)  # fmt: skip

# Landing URL query, referrer, weight: 37% Direct, 33% Google organic, 6% other search engines.
ARRIVALS: tuple[tuple[str, str | None, float], ...] = (
    ("", None, 360),
    ("", "https://www.google.com/", 275),
    ("", "https://www.google.de/", 25),
    ("", "https://www.google.co.uk/", 8),
    ("", "https://www.bing.com/", 35),
    ("", "https://duckduckgo.com/", 20),
    ("", "https://www.ecosia.org/", 8),
    ("", "https://l.facebook.com/", 14),
    ("", "https://www.linkedin.com/", 16),
    ("", "https://www.reddit.com/r/selfhosted/comments/1h2x9k/privacy_analytics/", 18),
    ("", "https://t.co/", 10),
    ("", "https://news.ycombinator.com/item?id=42424242", 14),
    ("", "https://bsky.app/", 4),
    ("", "https://github.com/hush-analytics/hush", 18),
    ("", "https://www.youtube.com/", 8),
    ("?utm_source=chatgpt.com", "https://chatgpt.com/", 14),
    ("", "https://www.perplexity.ai/", 5),
    ("?ref=producthunt", "https://www.producthunt.com/", 4),
    ("", "https://alternativeto.net/software/google-analytics/", 12),
    ("", "https://www.privacyguides.org/en/tools/", 10),
    ("", "https://blog.indieweb.dev/2025/self-hosted-analytics", 8),
    ("", "https://selfh.st/weekly/", 8),
    ("?utm_source=newsletter&utm_medium=email&utm_campaign=black_friday", None, 10),
    ("?utm_source=newsletter&utm_medium=email&utm_campaign=weekly&utm_content=header", None, 8),
    ("?utm_source=newsletter&utm_medium=email&utm_campaign=weekly&utm_content=footer", None, 4),
    (
        "?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=hush+analytics&gclid=x",
        "https://www.google.com/",
        24,
    ),
    (
        "?utm_source=google&utm_medium=cpc&utm_campaign=generic"
        "&utm_term=privacy+friendly+analytics&gclid=x",
        "https://www.google.com/",
        10,
    ),
    ("?utm_source=bing&utm_medium=cpc&utm_campaign=brand&msclkid=x", "https://www.bing.com/", 5),
    ("?utm_source=facebook&utm_medium=paid_social&utm_campaign=launch&fbclid=x", None, 8),
    ("?utm_source=linkedin&utm_medium=cpc&utm_campaign=launch", "https://www.linkedin.com/", 5),
)

# Device, browser, version, OS, OS version (as collector.devices spells them), % of visitors.
SOFTWARE: tuple[tuple[str, str, str, str, str, float], ...] = (
    ("Desktop", "Chrome", "131", "Windows", "10", 16),
    ("Desktop", "Chrome", "130", "Windows", "10", 4),
    ("Desktop", "Microsoft Edge", "131", "Windows", "10", 7),
    ("Desktop", "Firefox", "133", "Windows", "10", 3.5),
    ("Desktop", "Chrome", "131", "Mac", "10.15", 7),
    ("Desktop", "Safari", "18", "Mac", "10.15", 7),
    ("Desktop", "Safari", "17", "Mac", "10.15", 1.5),
    ("Desktop", "Firefox", "133", "Mac", "10.15", 1.5),
    ("Desktop", "Chrome", "131", "GNU/Linux", "", 3.5),
    ("Desktop", "Firefox", "133", "GNU/Linux", "", 2.5),
    ("Desktop", "Opera", "115", "Windows", "10", 1.5),
    ("Mobile", "Safari", "18", "iOS", "18.1", 9),
    ("Mobile", "Safari", "18", "iOS", "18.3", 5),
    ("Mobile", "Safari", "17", "iOS", "17.6", 3),
    ("Mobile", "Chrome", "131", "iOS", "18.1", 2),
    ("Mobile", "Chrome", "131", "Android", "10", 13.5),
    ("Mobile", "Chrome", "130", "Android", "10", 2),
    ("Mobile", "Samsung Browser", "27", "Android", "14", 4),
    ("Mobile", "Firefox", "133", "Android", "14", 1.5),
    ("Tablet", "Safari", "18", "iOS", "18.1", 3),
    ("Tablet", "Safari", "17", "iOS", "17.6", 0.8),
    ("Tablet", "Chrome", "131", "Android", "10", 1.2),
)

COUNTRIES = {
    "DE": 20, "US": 17, "GB": 7, "FR": 6, "NL": 5, "IN": 5, "AT": 3.5, "CH": 3.5, "BR": 3,
    "CA": 3, "ES": 3, "IT": 3, "PL": 2.5, "SE": 2, "JP": 2, "AU": 2, "BE": 1.8, "DK": 1.2,
    "CZ": 1, "IE": 1, "NO": 1, "FI": 0.8, "PT": 0.8, "TR": 0.8, "MX": 0.8, "UA": 0.8,
    "KR": 0.7, "RO": 0.7, "SG": 0.6, "ZA": 0.5, "": 2,
}  # fmt: skip

PLANS = ("free",) * 6 + ("pro",) * 3 + ("team",)
FILES = ("hush-1.4.tar.gz", "hush-linux-amd64.zip", "whitepaper.pdf", "pricing.pdf")

# Reason, detail, whether the request named no known site, share of accepted events.
DROPS: tuple[tuple[str, str, bool, float], ...] = (
    ("bot", "Googlebot", False, 0.012),
    ("bot", "bingbot", False, 0.006),
    ("bot", "GPTBot", False, 0.005),
    ("bot", "ClaudeBot", False, 0.002),
    ("bot", "AhrefsBot", False, 0.006),
    ("bot", "HeadlessChrome", False, 0.010),
    ("bot", "curl", False, 0.003),
    ("bot", "python-requests", False, 0.004),
    ("dnt", "", False, 0.020),
    ("gpc", "", False, 0.012),
    ("rate_limited", "", False, 0.0015),
    ("spam_referrer", "", False, 0.001),
    ("bad_json", "", True, 0.0005),
)


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
    plan = _plan(events, first_day, days, zone, now, seed)
    tables = _lookup_tables(found)
    params = _parameters(found)
    done = 0
    for number, chunk in enumerate(_chunks(plan)):
        key = _key(seed, run, number, "chunk")
        rows = [(*part, _key(seed, run, part[0].toordinal(), part[1])) for part in chunk]
        done += _write_chunk(store, rows, tables, {**params, "key": key})
        log.info("demo: %d of %d events written", done, events)
    return DemoReport(found.domain, done, days, first_day, last_day, time.monotonic() - started)


# A plan row: local day, part of the day, quota, UTC start (µs), open seconds, hour slots.
_Part = tuple[date, int, int, int, float, int]


def _plan(
    events: int, first_day: date, days: int, zone: ZoneInfo, now: datetime, seed: int
) -> list[_Part]:
    """Each day's share of ``events``: weekday, growth and noise, only the part before now."""
    hour_slots = _slotted(HOURS)
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
        for part, offset in enumerate(range(0, quota, CHUNK_ROWS)):
            size = min(CHUNK_ROWS, quota - offset)
            parts.append((day, part, size, start_us, open_seconds, slots))
    return parts


def _chunks(plan: list[_Part]) -> list[list[_Part]]:
    """Consecutive plan rows grouped into chunks of at most ``CHUNK_ROWS`` events."""
    chunks: list[list[_Part]] = [[]]
    size = 0
    for part in plan:
        if chunks[-1] and size + part[2] > CHUNK_ROWS:
            chunks.append([])
            size = 0
        chunks[-1].append(part)
        size += part[2]
    return [chunk for chunk in chunks if chunk]


def _write_chunk(
    store: Store, rows: list[tuple[Any, ...]], tables: dict[str, pa.Table], params: dict[str, Any]
) -> int:
    """Generate and insert one chunk in one transaction; the number of events inserted."""
    margin = 1.25
    with store.write() as cur:
        cur.execute(_RANDOM_MACRO)
        for name, table in tables.items():
            cur.register(name, table)
        while True:
            cur.register("demo_plan", _plan_table(rows, margin))
            cur.execute(_SESSIONS)
            if cur.execute(_SHORT).fetchall() == [(0,)]:
                break
            margin *= 2  # rare: not enough visitors were drawn to fill a quota
        cur.execute(_INSERT_EVENTS, _only(params, _INSERT_EVENTS))
        cur.execute(_ACCEPTED)
        cur.execute(_INSERT_COUNTS, _only(params, _INSERT_COUNTS))
        [(inserted,)] = cur.execute("SELECT sum(keep) FROM demo_sessions").fetchall()
        for name in (*tables, "demo_plan"):
            cur.unregister(name)
        cur.execute("DROP TABLE demo_sessions")
        cur.execute("DROP TABLE demo_accepted")
    return int(inserted or 0)


def _plan_table(rows: list[tuple[Any, ...]], margin: float) -> pa.Table:
    day, _, quota, start_us, open_seconds, slots, key = zip(*rows, strict=True)
    visitors = [math.ceil(q / ROWS_PER_VISITOR * margin) + 20 for q in quota]
    return pa.table(
        {
            "plan_id": pa.array(range(len(rows)), pa.int64()),
            "day": pa.array(day, pa.date32()),
            "quota": pa.array(quota, pa.int64()),
            "visitors": pa.array(visitors, pa.int64()),
            "start_us": pa.array(start_us, pa.int64()),
            "open_seconds": pa.array(open_seconds, pa.float64()),
            "hour_slots": pa.array(slots, pa.int64()),
            "key": pa.array(key, pa.uint64()),
        }
    )


def _lookup_tables(site: Site) -> dict[str, pa.Table]:
    """The weighted lookups, each with a ``slot`` column from 0 to ``SLOTS - 1``."""
    sources = SourceTable()
    arrivals = [_attribute(sources, site, query, ref) for query, ref, _ in ARRIVALS]
    names = ("referrer_host", "referrer_path", "source", "utm_source", "utm_medium")
    names += ("utm_campaign", "utm_content", "utm_term", "channel")
    software = ("device", "browser", "browser_version", "os", "os_version")
    return {
        "demo_hours": _slot_table({"hour": list(range(24))}, HOURS),
        "demo_arrivals": _slot_table(
            {name: [a[i] for a in arrivals] for i, name in enumerate(names)},
            [weight for _, _, weight in ARRIVALS],
        ),
        "demo_software": _slot_table(
            {name: [row[i] for row in SOFTWARE] for i, name in enumerate(software)},
            [row[5] for row in SOFTWARE],
        ),
        "demo_countries": _slot_table({"country": list(COUNTRIES)}, list(COUNTRIES.values())),
        "demo_drops": pa.table(
            {
                "idx": list(range(len(DROPS))),
                "reason": [d[0] for d in DROPS],
                "detail": [d[1] for d in DROPS],
                "no_site": [d[2] for d in DROPS],
                "rate": [d[3] for d in DROPS],
            }
        ),
    }


def _parameters(site: Site) -> dict[str, Any]:
    """Bound parameters of the insert statements: the site, its hosts, pages and values."""
    apex = site.domain.removeprefix("www.")
    internal = _attribute(SourceTable(), site, "", f"https://{site.domain}/")
    return {
        "site": site.id,
        "host": site.domain,
        "other_host": "www." + apex if site.domain == apex else apex,
        "paths": list(PATHS),
        "plans": list(PLANS),
        "files": list(FILES),
        "internal_source": internal[2],
        "internal_channel": internal[8],
    }


def _attribute(sources: SourceTable, site: Site, query: str, referrer: str | None) -> list[str]:
    """What the collector stores for a page view of ``/{query}`` from ``referrer``:
    referrer host and path, source, the five UTM fields and the channel."""
    page = scrub_page_url(f"https://{site.domain}/{query}")
    assert isinstance(page, PageUrl)
    came = acquisition(sources, site, page, *scrub_referrer(referrer))
    utm = [page.utm_source, page.utm_medium, page.utm_campaign, page.utm_content, page.utm_term]
    return [came.referrer_host, came.referrer_path, came.source.name, *utm, came.channel]


def _slotted(weights: tuple[float, ...] | list[float]) -> list[int]:
    """For each of ``SLOTS`` slots, the index of the weight it falls in."""
    total, bounds, running = sum(weights), [], 0.0
    for weight in weights:
        running += weight
        bounds.append(running / total * SLOTS)
    index, slots = 0, []
    for slot in range(SLOTS):
        while index < len(bounds) - 1 and bounds[index] <= slot + 0.5:
            index += 1
        slots.append(index)
    return slots


def _slot_table(
    columns: dict[str, list[Any]], weights: tuple[float, ...] | list[float]
) -> pa.Table:
    rows = _slotted(weights)
    data = {name: [values[r] for r in rows] for name, values in columns.items()}
    return pa.table({"slot": list(range(SLOTS)), **data})


def _key(seed: int, run: int, *parts: object) -> int:
    """A 64-bit key for a seed, a run (the site's events before it) and a unit of work."""
    text = ":".join(str(p) for p in (seed, run, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def _only(params: dict[str, Any], sql: str) -> dict[str, Any]:
    """The parameters a statement names (DuckDB refuses unused named parameters)."""
    named = set(re.findall(r"\$([a-z_]+)", sql))
    return {name: value for name, value in params.items() if name in named}


def _pages() -> tuple[str, ...]:
    """200 paths, most popular first: product pages, then docs and blog posts interleaved."""
    head = ["/", "/pricing", "/blog", "/docs", "/features", "/signup", "/docs/getting-started"]
    head += ["/about", "/login", "/changelog", "/docs/installation", "/contact", "/customers"]
    head += ["/integrations", "/security", "/compare/google-analytics", "/privacy", "/terms"]
    head += ["/careers", "/status"]
    topics = ["sessions", "snippet", "custom-events", "goals", "api", "self-hosting"]
    topics += ["docker", "reverse-proxy", "retention", "filters", "time-zones", "bots"]
    topics += ["countries", "utm-tags", "exports", "backups", "upgrading", "settings"]
    topics += ["troubleshooting", "faq"]
    docs = [f"/docs/{t}{s}" for s in ("", "/examples", "/reference") for t in topics]
    words = ["cookieless", "privacy", "gdpr", "duckdb", "self-hosted", "open-source"]
    words += ["first-party", "lightweight", "server-side", "bot-free", "consent-free", "fast"]
    things = ["analytics", "tracking", "dashboards", "metrics", "sessions", "referrers"]
    things += ["benchmarks", "migration", "retention", "campaigns"]
    blog = [f"/blog/{w}-{t}" for t in things for w in words]
    tail: list[str] = []
    for i in range(max(len(docs), len(blog))):
        tail += [blog[i]] if i < len(blog) else []
        tail += [docs[i]] if i < len(docs) and i % 2 == 0 else []
    tail += [d for i, d in enumerate(docs) if i % 2]
    return tuple((head + tail)[:200])


PATHS = _pages()

# u(k, n): the n-th uniform number in [0, 1) of key k (53 bits, as a double holds).
_RANDOM_MACRO = """
CREATE OR REPLACE TEMP MACRO u(k, n) AS
    (hash(xor(k, CAST(n AS UBIGINT))) >> 11) / 9007199254740992.0
"""

# Visitors, then their visits. A visitor's first visit starts at an hour drawn from the daily
# profile; later ones follow 90 minutes to 4.5 hours apart, and a visit lasts at most
# pace * (pages - 0.4) + 306 s < 31 minutes, so visits never touch each other (DESIGN §4: a
# gap of more than 30 minutes). Visits that would end after midnight (or now) are moved
# earlier (the first) or dropped (later ones). ``keep`` cuts the visits to the day's quota.
_SESSIONS = """
CREATE OR REPLACE TEMP TABLE demo_sessions AS
WITH visitors AS (
    SELECT plan_id, day, quota, start_us, open_seconds, hour_slots, v, hash(xor(key, v)) AS vk
    FROM (SELECT *, unnest(range(visitors)) AS v FROM demo_plan)
), traits AS (
    SELECT visitors.*, h.hour * 3600 + u(vk, 3) * 3600 AS t0, 5400 + u(vk, 4) * 10800 AS spacing,
        CASE WHEN u(vk, 1) < 0.82 THEN 1 WHEN u(vk, 1) < 0.96 THEN 2 ELSE 3 END AS visits
    FROM visitors JOIN demo_hours h ON h.slot = CAST(floor(u(vk, 2) * hour_slots) AS BIGINT)
), visit_rows AS (
    SELECT *, hash(xor(vk, CAST(1000 + j AS UBIGINT))) AS sk
    FROM (SELECT *, unnest(range(visits)) AS j FROM traits)
), shaped AS (
    SELECT *,
        CASE WHEN u(sk, 1) < 0.47 THEN 1 WHEN u(sk, 1) < 0.67 THEN 2 WHEN u(sk, 1) < 0.79 THEN 3
             WHEN u(sk, 1) < 0.87 THEN 4 WHEN u(sk, 1) < 0.92 THEN 5 WHEN u(sk, 1) < 0.96 THEN 6
             WHEN u(sk, 1) < 0.98 THEN 7 ELSE 8 END AS pages,
        15 + 185 * u(sk, 2) ** 2 AS pace,
        u(sk, 5) < 0.03 AS signup,
        u(sk, 6) < 0.05 AS download,
        u(sk, 10) < 0.12 AS other_host
    FROM visit_rows
), timed AS (
    SELECT *,
        CAST(least(pages, floor(pages * 0.6 + u(sk, 3))) AS BIGINT) AS engagements,
        CAST(floor(u(sk, 4) * pages) AS BIGINT) AS rotation,
        CAST(floor(u(sk, 7) * pages) AS BIGINT) AS signup_page,
        CAST(floor(u(sk, 8) * pages) AS BIGINT) AS download_page,
        pace * (pages - 0.4) + 306 AS span,
        CASE WHEN j = 0 THEN least(t0, open_seconds - 1 - pace * (pages - 0.4) - 306)
             ELSE t0 + j * spacing END AS start_s
    FROM shaped
), counted AS (
    SELECT *, pages + engagements + CAST(signup AS INT) + CAST(download AS INT) AS n
    FROM timed WHERE start_s + span < open_seconds
), cut AS (
    -- Narrow on purpose: the running sum sorts these rows in one thread.
    SELECT plan_id, v, j,
        quota - CAST(sum(n) OVER (PARTITION BY plan_id ORDER BY v, j) AS BIGINT) + n AS room
    FROM counted
)
SELECT counted.*, greatest(0, least(n, room)) AS keep,
    start_us // 1000 + CAST(start_s * 1000 AS BIGINT) AS start_ms,
    s.device, s.browser, s.browser_version, s.os, s.os_version, c.country,
    a.referrer_host, a.referrer_path, a.source, a.utm_source, a.utm_medium, a.utm_campaign,
    a.utm_content, a.utm_term, a.channel
FROM counted JOIN cut USING (plan_id, v, j)
JOIN demo_software s ON s.slot = CAST(floor(u(vk, 5) * 1000) AS BIGINT)
JOIN demo_countries c ON c.slot = CAST(floor(u(vk, 6) * 1000) AS BIGINT)
JOIN demo_arrivals a ON a.slot = CAST(floor(u(sk, 9) * 1000) AS BIGINT)
WHERE room > 0
"""

_SHORT = """
SELECT count(*) FROM demo_plan p
LEFT JOIN (SELECT plan_id, sum(keep) AS got FROM demo_sessions GROUP BY plan_id) s USING (plan_id)
WHERE coalesce(s.got, 0) < p.quota
"""

# One row per event: slots 0 .. pages-1 are page views, then engagement events (for the page
# views rotation, rotation + 1, ...), then Signup, then Download. Page view k > 0 comes
# pace * (k + 0.6 u) s after the first, so page views are 0.4 to 1.6 paces apart. Engagement is
# sent as the page is left: just before the next page view, or up to 5 minutes after the last.
_EVENTS = """
WITH slots AS (
    SELECT *, unnest(range(keep)) AS i FROM demo_sessions
), kinds AS (
    SELECT *,
        CASE WHEN i < pages THEN 0 WHEN i < pages + engagements THEN 1
             WHEN i = pages + engagements AND signup THEN 2 ELSE 3 END AS kind
    FROM slots
), placed AS (
    SELECT *,
        CASE kind WHEN 0 THEN i WHEN 1 THEN (rotation + i - pages) % pages
                  WHEN 2 THEN signup_page ELSE download_page END AS k
    FROM kinds
), moments AS (
    SELECT *,
        CASE WHEN k = 0 THEN 0 ELSE pace * (k + 0.6 * u(sk, 100 + k)) END AS at_s,
        pace * (k + 1 + 0.6 * u(sk, 101 + k)) AS next_s,
        k = pages - 1 AS last_page
    FROM placed
), engaged AS (
    SELECT *,
        CASE WHEN kind <> 1 THEN NULL
             WHEN last_page THEN 1000 + 299000 * u(sk, 300 + k) ** 2
             ELSE least(300000, greatest(1000,
                  (next_s - at_s - 1) * 1000 * (0.5 + 0.5 * u(sk, 300 + k))))
        END AS engaged
    FROM moments
), events AS (
    SELECT *,
        make_timestamp((start_ms + CAST(1000 * CASE kind
            WHEN 0 THEN at_s
            WHEN 1 THEN CASE WHEN last_page THEN at_s + engaged / 1000 + 0.2 + 0.8 * u(sk, 400 + k)
                             ELSE next_s - 0.2 - 0.6 * u(sk, 400 + k) END
            ELSE at_s + 1 + 4 * u(sk, 500 + kind) END AS BIGINT)) * 1000) AS ts
    FROM engaged
)
"""

_INSERT_EVENTS = (
    """
INSERT INTO events (ts, site_id, day, name, hostname, path, referrer_host, referrer_path,
                    source, utm_source, utm_medium, utm_campaign, utm_content, utm_term,
                    visitor, props, interactive, scroll_depth, engaged_ms,
                    browser, browser_version, os, os_version, device, country, channel)
"""
    + _EVENTS
    + """
SELECT ts, $site, day,
    CASE kind WHEN 0 THEN 'pageview' WHEN 1 THEN 'engagement' WHEN 2 THEN 'Signup'
              ELSE 'Download' END,
    CASE WHEN other_host THEN $other_host ELSE $host END,
    $paths[least(len($paths), CAST(floor(exp(u(sk, 200 + k) * ln(len($paths) + 1))) AS BIGINT))],
    CASE WHEN k = 0 THEN referrer_host ELSE '' END,
    CASE WHEN k = 0 THEN referrer_path ELSE '' END,
    CASE WHEN k = 0 THEN source ELSE $internal_source END,
    CASE WHEN k = 0 THEN utm_source ELSE '' END,
    CASE WHEN k = 0 THEN utm_medium ELSE '' END,
    CASE WHEN k = 0 THEN utm_campaign ELSE '' END,
    CASE WHEN k = 0 THEN utm_content ELSE '' END,
    CASE WHEN k = 0 THEN utm_term ELSE '' END,
    vk,
    CASE kind
        WHEN 2 THEN map(['plan'], [$plans[1 + CAST(floor(u(sk, 600) * len($plans)) AS BIGINT)]])
        WHEN 3 THEN map(['file'], [$files[1 + CAST(floor(u(sk, 601) * len($files)) AS BIGINT)]])
        ELSE MAP {} END,
    kind <> 1,
    CASE WHEN kind = 1 THEN CAST(least(100, floor(u(sk, 700 + k) * 115)) AS UTINYINT) END,
    CAST(round(engaged) AS UINTEGER),
    browser, browser_version, os, os_version, device, country,
    CASE WHEN k = 0 THEN channel ELSE $internal_channel END
FROM events
"""
)

# The collector counts every accepted request in its UTC hour.
_ACCEPTED = (
    "CREATE OR REPLACE TEMP TABLE demo_accepted AS"
    + _EVENTS
    + """
SELECT date_trunc('hour', ts) AS hour, count(*) AS n
FROM events GROUP BY ALL
"""
)

# Dropped and rejected requests: a small share of each hour's accepted ones, bots flatter over
# the day than people (floor(x + u) keeps the expected count x even when x is below 1).
_INSERT_COUNTS = """
INSERT INTO intake_counts (hour, site_id, reason, detail, n)
SELECT hour, $site, 'accepted', '', n FROM demo_accepted
UNION ALL
SELECT hour, CASE WHEN no_site THEN 0 ELSE $site END, reason, detail, n FROM (
    SELECT a.hour, d.reason, d.detail, d.no_site,
        CAST(floor(d.rate * (0.4 * a.n + 0.6 * a.mean) * (0.5 + u(a.hk, d.idx))
                   + u(a.hk, 100 + d.idx)) AS BIGINT) AS n
    FROM (SELECT hour, n, avg(n) OVER () AS mean,
                 hash(xor($key, CAST(epoch_ms(hour) AS UBIGINT))) AS hk
          FROM demo_accepted) a
    CROSS JOIN demo_drops d
) WHERE n > 0
"""
