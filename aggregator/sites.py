"""Sites and their settings: the SQL and the rules for ``hush sites``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aggregator.errors import AdminError
from aggregator.store import Store
from collector.sites import Site as Site
from collector.sites import write_snapshot

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def normalise_domain(domain: str) -> str:
    """``Example.COM.`` -> ``example.com``; raises AdminError for anything but a host name."""
    text = domain.strip().lower().rstrip(".")
    try:
        ascii_text = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise AdminError(f"{domain!r} is not a domain name") from None
    labels = ascii_text.split(".")
    if len(ascii_text) > 253 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        raise AdminError(f"{domain!r} is not a domain name (give it as example.com)")
    return text


def check_timezone(timezone: str) -> str:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise AdminError(f"{timezone!r} is not a time zone (e.g. Europe/Berlin, UTC)") from None
    return timezone


def list_sites(store: Store) -> list[Site]:
    with store.read() as cur:
        rows = cur.execute(
            "SELECT id, domain, timezone, honour_dnt, hash_routing FROM sites ORDER BY domain"
        ).fetchall()
    return [Site(*row) for row in rows]


def find_site(store: Store, domain: str) -> Site | None:
    with store.read() as cur:
        row = cur.execute(
            "SELECT id, domain, timezone, honour_dnt, hash_routing FROM sites WHERE domain = $d",
            {"d": domain.strip().lower()},
        ).fetchone()
    return Site(*row) if row else None


def add_site(store: Store, domain: str, *, timezone: str = "UTC") -> Site:
    name = normalise_domain(domain)
    check_timezone(timezone)
    if find_site(store, name):
        raise AdminError(f"{name} is already a site")
    with store.write() as cur:
        cur.execute(
            "INSERT INTO sites (domain, timezone, created_at) VALUES ($d, $tz, $now)",
            {"d": name, "tz": timezone, "now": datetime.now(UTC).replace(tzinfo=None)},
        )
    site = find_site(store, name)
    assert site is not None
    return site


def update_site(
    store: Store,
    domain: str,
    *,
    timezone: str | None = None,
    honour_dnt: bool | None = None,
    hash_routing: bool | None = None,
) -> Site:
    site = find_site(store, domain)
    if site is None:
        raise AdminError(f"{domain} is not a site")
    if timezone is not None:
        check_timezone(timezone)
    with store.write() as cur:
        cur.execute(
            "UPDATE sites SET timezone = coalesce($tz, timezone),"
            " honour_dnt = coalesce($dnt, honour_dnt),"
            " hash_routing = coalesce($hash, hash_routing) WHERE id = $id",
            {"tz": timezone, "dnt": honour_dnt, "hash": hash_routing, "id": site.id},
        )
    updated = find_site(store, site.domain)
    assert updated is not None
    return updated


def remove_site(store: Store, domain: str) -> Site:
    """Delete a site with all its events, counts and rollups, and their bytes (P8)."""
    site = find_site(store, domain)
    if site is None:
        raise AdminError(f"{domain} is not a site")
    # Its data first, then the site (two transactions: on a lake the data and the sites are
    # two databases); a removal cut short between them is finished by running it again.
    with store.write(exclusive=True) as cur:
        for table in (
            "events",
            "intake_counts",
            "rollups",
            "rolled_days",
            # the security signals (migration 0009)
            "intake_minutes",
            "limited_clients",
            "limited_slots",
            "unknown_values",
        ):
            cur.execute(f"DELETE FROM {table} WHERE site_id = $id", {"id": site.id})  # noqa: S608
        if store.lake:
            cur.execute("DELETE FROM changed_days WHERE site_id = $id", {"id": site.id})
    with store.write() as cur:
        cur.execute("DELETE FROM alerts WHERE site_id = $id", {"id": site.id})
        cur.execute("DELETE FROM sites WHERE id = $id", {"id": site.id})
    # A DELETE leaves the rows' bytes in the file (DuckDB reuses blocks, it does not erase
    # them): only a rewrite into a fresh file makes the site's paths and props unreadable.
    store.compact()
    return site


def local_dates(cur: Any, when: float) -> list[tuple[int, str, date]]:
    """Each site's id, domain and local date at the epoch time ``when``, by domain."""
    sites = cur.execute("SELECT id, domain, timezone FROM sites ORDER BY domain").fetchall()
    return [
        (site_id, domain, datetime.fromtimestamp(when, ZoneInfo(timezone)).date())
        for site_id, domain, timezone in sites
    ]


def publish_snapshot(store: Store, path: Path) -> None:
    """Write the sites snapshot that collector processes read (they never open DuckDB)."""
    write_snapshot(path, list_sites(store))
