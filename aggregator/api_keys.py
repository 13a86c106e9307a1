"""Stats API keys: shown once when created, stored only as a SHA-256 hash.

Keys are 32 random bytes, so a fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from aggregator.errors import AdminError
from aggregator.store import Store

PREFIX = "hush_"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    created_at: str
    revoked: bool


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def add_key(store: Store, name: str) -> tuple[ApiKey, str]:
    """Create a key; return its record and the key itself (shown to the caller once)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AdminError("a key needs a name of 1 to 100 characters")
    key = PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with store.write() as cur:
        row = cur.execute(
            "INSERT INTO api_keys (name, key_hash, prefix, created_at)"
            " VALUES ($name, $hash, $prefix, $now) RETURNING id",
            {"name": name, "hash": hash_key(key), "prefix": key[:9], "now": now},
        ).fetchone()
    assert row is not None
    return ApiKey(row[0], name, key[:9], now.isoformat(), False), key


def list_keys(store: Store) -> list[ApiKey]:
    with store.read() as cur:
        rows = cur.execute(
            "SELECT id, name, prefix, strftime(created_at, '%Y-%m-%dT%H:%M:%S'),"
            " revoked_at IS NOT NULL FROM api_keys ORDER BY id"
        ).fetchall()
    return [ApiKey(*row) for row in rows]


def revoke_key(store: Store, which: str) -> ApiKey:
    """Revoke the key with this id or name (a name must be unambiguous)."""
    matches = [k for k in list_keys(store) if not k.revoked and which in (str(k.id), k.name)]
    if not matches:
        raise AdminError(f"no active key with id or name {which!r}")
    if len(matches) > 1:
        raise AdminError(f"{len(matches)} keys are named {which!r}: revoke one by its id")
    with store.write() as cur:
        cur.execute(
            "UPDATE api_keys SET revoked_at = $now WHERE id = $id",
            {"now": datetime.now(UTC).replace(tzinfo=None), "id": matches[0].id},
        )
    return list_keys_by_id(store, matches[0].id)


def list_keys_by_id(store: Store, key_id: int) -> ApiKey:
    return next(k for k in list_keys(store) if k.id == key_id)


def active_key_hashes(store: Store) -> frozenset[str]:
    with store.read() as cur:
        rows = cur.execute("SELECT key_hash FROM api_keys WHERE revoked_at IS NULL").fetchall()
    return frozenset(row[0] for row in rows)
