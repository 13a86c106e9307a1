"""Logged-in browsers (DESIGN §7): the cookie's token is 32 random bytes, stored as SHA-256.

A session ends after ``IDLE_SECONDS`` without a request or ``ABSOLUTE_SECONDS`` after login,
at logout, and when its user's password, role or sites change.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from aggregator.store import Store

IDLE_SECONDS = 8 * 3600  # a working day
ABSOLUTE_SECONDS = 7 * 86400  # then a new login, whatever the activity
SEEN_EVERY_SECONDS = 60  # refresh seen_at at most once a minute: not a write per page view


@dataclass(frozen=True, slots=True)
class LoginSession:
    user_id: int
    csrf: str
    token_hash: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start(store: Store, user_id: int, *, now: float) -> tuple[str, LoginSession]:
    """A new session (a new id at every login); returns the cookie's token and the session."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    at = _utc(now)
    with store.write() as cur:
        cur.execute(
            "INSERT INTO login_sessions VALUES ($h, $u, $c, $at, $at)",
            {"h": token_hash(token), "u": user_id, "c": csrf, "at": at},
        )
        _expire(cur, at)
    return token, LoginSession(user_id, csrf, token_hash(token))


def find(store: Store, token: str, *, now: float) -> LoginSession | None:
    """The live session of this cookie token, if any; keeps it alive."""
    if not token or len(token) > 128:
        return None
    at = _utc(now)
    with store.read() as cur:
        row = cur.execute(
            "SELECT user_id, csrf, token_hash, seen_at FROM login_sessions WHERE token_hash = $h"
            " AND seen_at > $idle AND created_at > $absolute",
            {"h": token_hash(token), **_limits(at)},
        ).fetchone()
    if row is None:
        return None
    if (at - row[3]).total_seconds() > SEEN_EVERY_SECONDS:
        with store.write() as cur:
            cur.execute(
                "UPDATE login_sessions SET seen_at = $at WHERE token_hash = $h",
                {"at": at, "h": row[2]},
            )
    return LoginSession(row[0], row[1], row[2])


def end(store: Store, session: LoginSession) -> None:
    with store.write() as cur:
        cur.execute("DELETE FROM login_sessions WHERE token_hash = $h", {"h": session.token_hash})


def end_others(store: Store, session: LoginSession) -> None:
    """End every session of this user but this one (after a password change)."""
    with store.write() as cur:
        cur.execute(
            "DELETE FROM login_sessions WHERE user_id = $u AND token_hash <> $h",
            {"u": session.user_id, "h": session.token_hash},
        )


def end_all(cur: duckdb.DuckDBPyConnection, user_id: int) -> None:
    """Inside a writer's transaction: every session of this user ends."""
    cur.execute("DELETE FROM login_sessions WHERE user_id = $u", {"u": user_id})


def _expire(cur: duckdb.DuckDBPyConnection, at: datetime) -> None:
    cur.execute(
        "DELETE FROM login_sessions WHERE seen_at <= $idle OR created_at <= $absolute",
        _limits(at),
    )


def _limits(at: datetime) -> dict[str, datetime]:
    return {
        "idle": at - timedelta(seconds=IDLE_SECONDS),
        "absolute": at - timedelta(seconds=ABSOLUTE_SECONDS),
    }


def _utc(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC).replace(tzinfo=None)
