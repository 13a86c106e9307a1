"""Stats API keys: shown once when created, stored only as a SHA-256 hash.

Keys are 32 random bytes, so a fast hash is enough: there is nothing to brute-force. A key
belongs to a user and reads at most that user's sites, or the fewer chosen at creation; it dies
with its user. Keys made before users existed (``user_id`` NULL) pass to the first admin.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from aggregator.errors import AdminError
from aggregator.sites import find_site
from aggregator.store import Store

PREFIX = "hush_"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    created_at: str
    revoked: bool
    user: str  # the owner's email ('' before users existed)
    sites: tuple[str, ...]  # the sites chosen at creation; () means all of the owner's
    last_used_day: str  # '' when never used


@dataclass(frozen=True, slots=True)
class Grant:
    """What an active key may read: ``site_ids`` None means every site."""

    key_id: int
    role: str  # the owner's role ('admin' for a key made before users existed)
    site_ids: frozenset[int] | None
    last_used_day: date | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def add_key(
    store: Store,
    name: str,
    *,
    user_id: int | None,
    sites: tuple[str, ...] = (),
    allowed: tuple[str, ...] | None = None,
    now: float,
) -> tuple[ApiKey, str]:
    """Create a key; return its record and the key itself (shown to the caller once).
    ``allowed``: the owner's sites (None: every site); ``sites`` must be among them."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AdminError("a key needs a name of 1 to 100 characters")
    site_ids = []
    for domain in sites:
        site = find_site(store, domain.strip().lower())
        if site is None or (allowed is not None and site.domain not in allowed):
            raise AdminError(f"the key's owner cannot read {domain!r}")
        site_ids.append(site.id)
    key = PREFIX + secrets.token_urlsafe(32)
    at = datetime.fromtimestamp(now, UTC).replace(tzinfo=None, microsecond=0)
    with store.write() as cur:
        cur.execute(
            "INSERT INTO api_keys (name, key_hash, prefix, created_at, user_id, site_ids)"
            " VALUES ($name, $hash, $prefix, $now, $user, $sites)",
            {
                "name": name,
                "hash": hash_key(key),
                "prefix": key[:9],
                "now": at,
                "user": user_id,
                "sites": sorted(set(site_ids)) or None,
            },
        )
        # By its unique hash, not RETURNING (which a lake's PostgreSQL tables lack).
        row = cur.execute(
            "SELECT id FROM api_keys WHERE key_hash = $hash", {"hash": hash_key(key)}
        ).fetchone()
    assert row is not None
    return key_by_id(store, row[0]), key


def list_keys(store: Store, *, user_id: int | None = None) -> list[ApiKey]:
    """Every key, or one user's."""
    with store.read() as cur:
        rows = cur.execute(
            "SELECT k.id, k.name, k.prefix, strftime(k.created_at, '%Y-%m-%dT%H:%M:%S'),"
            " k.revoked_at IS NOT NULL, coalesce(u.email, ''),"
            " coalesce((SELECT list(s.domain ORDER BY s.domain) FROM sites s"
            "   WHERE list_contains(k.site_ids, s.id)), []),"
            " coalesce(CAST(k.last_used_day AS VARCHAR), '')"
            " FROM api_keys k LEFT JOIN users u ON u.id = k.user_id"
            " WHERE $user IS NULL OR k.user_id = $user ORDER BY k.id",
            {"user": user_id},
        ).fetchall()
    return [
        ApiKey(
            id=row[0],
            name=row[1],
            prefix=row[2],
            created_at=row[3],
            revoked=row[4],
            user=row[5],
            sites=tuple(d for d in row[6] if d),
            last_used_day=row[7],
        )
        for row in rows
    ]


def revoke_key(store: Store, which: str, *, user_id: int | None = None, now: float) -> ApiKey:
    """Revoke the key with this id or name (a name must be unambiguous); ``user_id``: only
    among that user's keys."""
    matches = [
        k
        for k in list_keys(store, user_id=user_id)
        if not k.revoked and which in (str(k.id), k.name)
    ]
    if not matches:
        raise AdminError(f"no active key with id or name {which!r}")
    if len(matches) > 1:
        raise AdminError(f"{len(matches)} keys are named {which!r}: revoke one by its id")
    with store.write() as cur:
        cur.execute(
            "UPDATE api_keys SET revoked_at = $now WHERE id = $id",
            {"now": datetime.fromtimestamp(now, UTC).replace(tzinfo=None), "id": matches[0].id},
        )
    return key_by_id(store, matches[0].id)


def key_by_id(store: Store, key_id: int) -> ApiKey:
    return next(k for k in list_keys(store) if k.id == key_id)


def active_grants(store: Store) -> dict[str, Grant]:
    """key hash -> what it may read, for every active key."""
    with store.read() as cur:
        rows = cur.execute(
            "SELECT k.key_hash, k.id, coalesce(u.role, 'admin'), k.user_id, k.site_ids,"
            " (SELECT list(site_id) FROM user_sites g WHERE g.user_id = k.user_id),"
            " k.last_used_day"
            " FROM api_keys k LEFT JOIN users u ON u.id = k.user_id"
            " WHERE k.revoked_at IS NULL AND (k.user_id IS NULL OR u.id IS NOT NULL)"
        ).fetchall()
    return {row[0]: _grant(row) for row in rows}


def mark_used(store: Store, key_id: int, day: date) -> None:
    with store.write() as cur:
        cur.execute(
            "UPDATE api_keys SET last_used_day = $day WHERE id = $id", {"day": day, "id": key_id}
        )


def _grant(row: tuple[Any, ...]) -> Grant:
    _, key_id, role, _, chosen, granted, last_used = row
    sites: frozenset[int] | None = None if role == "admin" else frozenset(granted or ())
    if chosen:
        sites = frozenset(chosen) if sites is None else sites & frozenset(chosen)
    return Grant(key_id, role, sites, last_used)
