"""One-time links: the setup link that creates the first admin, and password-reset links.

A link's token is 32 random bytes, stored as SHA-256; it works once, until it expires.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from aggregator.login_sessions import token_hash
from aggregator.store import Store

SETUP = "setup"
RESET = "reset"
LIFETIME_SECONDS = {SETUP: 3600, RESET: 24 * 3600}


def issue(store: Store, purpose: str, *, user_id: int | None = None, now: float) -> str:
    """A new link token; earlier unused links for the same purpose and user stop working."""
    token = secrets.token_urlsafe(32)
    at = _utc(now)
    with store.write() as cur:
        cur.execute(
            "UPDATE one_time_links SET used_at = $at WHERE purpose = $p AND used_at IS NULL"
            " AND user_id IS NOT DISTINCT FROM $u",
            {"at": at, "p": purpose, "u": user_id},
        )
        cur.execute(
            "INSERT INTO one_time_links VALUES ($h, $p, $u, $exp, NULL)",
            {
                "h": token_hash(token),
                "p": purpose,
                "u": user_id,
                "exp": at + timedelta(seconds=LIFETIME_SECONDS[purpose]),
            },
        )
    return token


def peek(store: Store, purpose: str, token: str, *, now: float) -> tuple[bool, int | None]:
    """(usable, user id) of a link, without using it."""
    if not token or len(token) > 128:
        return False, None
    with store.read() as cur:
        row = cur.execute(
            "SELECT user_id FROM one_time_links WHERE token_hash = $h AND purpose = $p"
            " AND used_at IS NULL AND expires_at > $at",
            {"h": token_hash(token), "p": purpose, "at": _utc(now)},
        ).fetchone()
    return (True, row[0]) if row else (False, None)


def use(store: Store, purpose: str, token: str, *, now: float) -> bool:
    """Mark a usable link used; False when it was not usable (expired, used, unknown)."""
    usable, _ = peek(store, purpose, token, now=now)
    if not usable:
        return False
    with store.write() as cur:
        row = cur.execute(
            "UPDATE one_time_links SET used_at = $at WHERE token_hash = $h AND used_at IS NULL",
            {"at": _utc(now), "h": token_hash(token)},
        ).fetchone()
    return bool(row and row[0])  # the rows updated: 0 when another request used it first


def _utc(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC).replace(tzinfo=None)
