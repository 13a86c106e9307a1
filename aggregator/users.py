"""Users, their roles and the sites granted to them: the SQL and the rules for ``hush users``.

Passwords arrive here already hashed (``dashboard.accounts.passwords``): the writer never sees
one. A user's sessions end when their password, role or sites change, or they are removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from aggregator import login_sessions
from aggregator.errors import AdminError
from aggregator.sites import find_site
from aggregator.store import Store

ROLES = ("admin", "marketing", "security")
MAX_EMAIL = 254  # RFC 5321's limit on a path; longer input is refused before any work
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    role: str
    sites: tuple[str, ...]  # domains granted; admins read every site whatever this holds
    has_password: bool
    keyboard_shortcuts: bool = True  # the dashboard's single-key shortcuts (WCAG 2.1.4)

    @property
    def reads_every_site(self) -> bool:
        return self.role == "admin"


def normalise_email(email: str) -> str:
    text = email.strip().lower()
    if len(text) > MAX_EMAIL or not _EMAIL.match(text):
        raise AdminError("give an email address such as ana@example.com")
    return text


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AdminError(f"role must be one of {', '.join(ROLES)}")
    return role


def add_user(
    store: Store,
    email: str,
    *,
    role: str,
    password_hash: str = "",
    sites: tuple[str, ...] = (),
    now: float,
) -> User:
    """Create a user; the first admin also receives every key made before users existed."""
    address, role = normalise_email(email), check_role(role)
    site_ids = _site_ids(store, sites)
    with store.write() as cur:
        if cur.execute("SELECT 1 FROM users WHERE email = $e", {"e": address}).fetchone():
            raise AdminError(f"{address} already has an account")
        cur.execute(
            "INSERT INTO users (email, role, password_hash, created_at) VALUES ($e, $r, $h, $now)",
            {"e": address, "r": role, "h": password_hash, "now": _utc(now)},
        )
        # By its unique address, not RETURNING (which a lake's PostgreSQL tables lack).
        row = cur.execute("SELECT id FROM users WHERE email = $e", {"e": address}).fetchone()
        assert row is not None
        _grant(cur, row[0], site_ids)
        if role == "admin":
            cur.execute("UPDATE api_keys SET user_id = $u WHERE user_id IS NULL", {"u": row[0]})
    return get_user(store, row[0])


def update_user(
    store: Store,
    email: str,
    *,
    role: str | None = None,
    sites: tuple[str, ...] | None = None,
) -> tuple[User, User]:
    """Change a user's role or sites (their sessions end); return (before, after)."""
    before = require_user(store, email)
    if role is not None:
        check_role(role)
        if before.role == "admin" and role != "admin":
            _keep_an_admin(store, before.id)
    site_ids = None if sites is None else _site_ids(store, sites)
    with store.write() as cur:
        if role is not None:
            cur.execute("UPDATE users SET role = $r WHERE id = $id", {"r": role, "id": before.id})
        if site_ids is not None:
            cur.execute("DELETE FROM user_sites WHERE user_id = $id", {"id": before.id})
            _grant(cur, before.id, site_ids)
        login_sessions.end_all(cur, before.id)
    return before, get_user(store, before.id)


def set_password(store: Store, user_id: int, password_hash: str) -> None:
    """Replace a user's password; every session of theirs ends."""
    with store.write() as cur:
        cur.execute(
            "UPDATE users SET password_hash = $h WHERE id = $id",
            {"h": password_hash, "id": user_id},
        )
        login_sessions.end_all(cur, user_id)


def set_keyboard_shortcuts(store: Store, user_id: int, *, on: bool) -> None:
    """Turn a user's dashboard keyboard shortcuts on or off (their sessions go on)."""
    with store.write() as cur:
        cur.execute(
            "UPDATE users SET keyboard_shortcuts = $on WHERE id = $id", {"on": on, "id": user_id}
        )


def remove_user(store: Store, email: str) -> User:
    """Delete a user, their sessions, links and keys."""
    user = require_user(store, email)
    if user.role == "admin":
        _keep_an_admin(store, user.id)
    with store.write() as cur:
        for table in ("user_sites", "one_time_links"):
            cur.execute(f"DELETE FROM {table} WHERE user_id = $id", {"id": user.id})  # noqa: S608
        cur.execute("DELETE FROM api_keys WHERE user_id = $id", {"id": user.id})
        login_sessions.end_all(cur, user.id)
        cur.execute("DELETE FROM users WHERE id = $id", {"id": user.id})
    return user


def list_users(store: Store) -> list[User]:
    with store.read() as cur:
        rows = cur.execute(_SELECT + " GROUP BY ALL ORDER BY u.email").fetchall()
    return [_user(row) for row in rows]


def get_user(store: Store, user_id: int) -> User:
    found = _find(store, "u.id = $v", user_id)
    if found is None:
        raise AdminError(f"no user with id {user_id}")
    return found


def find_user(store: Store, email: str) -> User | None:
    if len(email) > MAX_EMAIL:
        return None
    return _find(store, "u.email = $v", email.strip().lower())


def require_user(store: Store, email: str) -> User:
    found = find_user(store, email)
    if found is None:
        raise AdminError(f"no user {email.strip().lower()!r}")
    return found


def password_hash_of(store: Store, user_id: int) -> str:
    with store.read() as cur:
        row = cur.execute(
            "SELECT password_hash FROM users WHERE id = $id", {"id": user_id}
        ).fetchone()
    return row[0] if row else ""


def user_count(store: Store) -> int:
    with store.read() as cur:
        row = cur.execute("SELECT count(*) FROM users").fetchone()
    return int(row[0]) if row else 0


_SELECT = (
    "SELECT u.id, u.email, u.role, list(s.domain ORDER BY s.domain) FILTER (s.domain IS NOT NULL),"
    " u.password_hash <> '', u.keyboard_shortcuts"
    " FROM users u LEFT JOIN user_sites g ON g.user_id = u.id"
    " LEFT JOIN sites s ON s.id = g.site_id"
)


def _find(store: Store, condition: str, value: object) -> User | None:
    with store.read() as cur:
        row = cur.execute(f"{_SELECT} WHERE {condition} GROUP BY ALL", {"v": value}).fetchone()
    return _user(row) if row else None


def _user(row: tuple[Any, ...]) -> User:
    return User(row[0], row[1], row[2], tuple(row[3] or ()), bool(row[4]), bool(row[5]))


def _site_ids(store: Store, domains: tuple[str, ...]) -> list[int]:
    ids = []
    for domain in domains:
        site = find_site(store, domain.strip().lower())
        if site is None:
            raise AdminError(f"no site {domain!r}: add it first (hush sites add)")
        ids.append(site.id)
    return sorted(set(ids))


def _grant(cur: duckdb.DuckDBPyConnection, user_id: int, site_ids: list[int]) -> None:
    for site_id in site_ids:
        cur.execute("INSERT INTO user_sites VALUES ($u, $s)", {"u": user_id, "s": site_id})


def _keep_an_admin(store: Store, leaving: int) -> None:
    with store.read() as cur:
        row = cur.execute(
            "SELECT count(*) FROM users WHERE role = 'admin' AND id <> $id", {"id": leaving}
        ).fetchone()
    if not row or not row[0]:
        raise AdminError("hush needs at least one admin: make another user admin first")


def _utc(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC).replace(tzinfo=None, microsecond=0)
