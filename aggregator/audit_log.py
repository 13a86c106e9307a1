"""The audit log (DESIGN §4, §7): who did what, append-only and hash-chained.

Each entry's hash covers its fields and the hash of the entry before, so an edited, removed or
reordered row breaks the chain from there on (``verify``). Nothing here updates or deletes a row
but ``purge``, which retention runs on entries older than the audit retention. Entries record
an actor by type, id, email and role, never an address, a user agent, a secret, or the name
typed for an account that does not exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import orjson

from aggregator.store import Store

GENESIS = "0" * 64
RESULTS = ("ok", "denied", "failed")
ACTOR_TYPES = ("user", "api_key", "cli", "system")
UNKNOWN_ACCOUNT = "unknown account"  # never the typed name: people type passwords into it
# The action groups the page filters by: the part of an action before its dot.
GROUPS = ("auth", "user", "site", "key", "goal", "export", "retention", "audit_log", "lake")


@dataclass(frozen=True, slots=True)
class Actor:
    type: str
    id: int | None = None
    email: str = ""
    role: str = ""


CLI = Actor("cli")
SYSTEM = Actor("system")


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    at: datetime
    actor: Actor
    action: str
    target: str
    result: str
    reason: str
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Filters:
    actor: str = ""  # an email, or an actor type (cli, system, api_key)
    group: str = ""
    result: str = ""
    date_from: date | None = None
    date_to: date | None = None
    through: int | None = None  # entries up to this id: pages stay put while the log grows


def record(store: Store, actor: Actor, action: str, **details: Any) -> None:
    """Append one entry, chained to the last (``details``: as ``append`` takes them). On a
    lake, one node appends at a time, so the chain stays one chain."""
    with store.serialized("audit"), store.write() as cur:
        append(cur, actor, action, **details)


def append(
    cur: duckdb.DuckDBPyConnection,
    actor: Actor,
    action: str,
    *,
    target: str = "",
    result: str = "ok",
    reason: str = "",
    changes: dict[str, Any] | None = None,
    now: float,
) -> None:
    """``record`` inside a writer's transaction (the change and its entry commit together)."""
    assert actor.type in ACTOR_TYPES and result in RESULTS, (actor.type, result)
    last = cur.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    if last is None:
        anchor = cur.execute(
            "SELECT purged_through, hash FROM audit_log_anchor ORDER BY purged_through DESC LIMIT 1"
        ).fetchone()
        last = anchor or (0, GENESIS)
    entry = Entry(
        last[0] + 1,
        datetime.fromtimestamp(now, UTC).replace(tzinfo=None),
        actor,
        action,
        target[:500],
        result,
        reason[:500],
        changes or {},
    )
    cur.execute(
        "INSERT INTO audit_log VALUES ($id, $at, $t, $aid, $email, $role, $action, $target,"
        " $result, $reason, $changes, $prev, $hash)",
        {**_columns(entry), "prev": last[1], "hash": _hash(last[1], entry)},
    )


def entries(store: Store, filters: Filters, *, limit: int, offset: int = 0) -> list[Entry]:
    """Newest first; ``limit + 1`` tells a caller whether another page follows."""
    where, params = _where(filters)
    with store.read() as cur:
        rows = cur.execute(
            f"SELECT {_FIELDS} FROM audit_log WHERE {where} ORDER BY id DESC"  # noqa: S608
            " LIMIT $limit OFFSET $offset",
            {**params, "limit": limit, "offset": offset},
        ).fetchall()
    return [_entry(row) for row in rows]


def verify(store: Store) -> tuple[int, int | None]:
    """(entries checked, id of the first entry whose chain is broken, or None)."""
    with store.read() as cur:
        anchor = cur.execute(
            "SELECT purged_through, hash FROM audit_log_anchor ORDER BY purged_through DESC LIMIT 1"
        ).fetchone()
        rows = cur.execute(
            f"SELECT {_FIELDS}, prev_hash, hash FROM audit_log ORDER BY id"  # noqa: S608 (fixed text)
        ).fetchall()
    expected_id, previous = (anchor[0] + 1, anchor[1]) if anchor else (1, GENESIS)
    for row in rows:
        entry = _entry(row)
        if entry.id != expected_id or row[-2] != previous or row[-1] != _hash(previous, entry):
            return len(rows), entry.id
        expected_id, previous = entry.id + 1, row[-1]
    return len(rows), None


def purge(store: Store, *, retention_days: int, now: float) -> int:
    """Delete entries older than the retention; the chain then starts at an anchor."""
    cutoff = datetime.fromtimestamp(now, UTC).replace(tzinfo=None) - timedelta(days=retention_days)
    with store.serialized("audit"), store.write() as cur:
        last = cur.execute(
            "SELECT id, hash FROM audit_log WHERE logged_at < $cut ORDER BY id DESC LIMIT 1",
            {"cut": cutoff},
        ).fetchone()
        if last is None:
            return 0
        row = cur.execute("DELETE FROM audit_log WHERE id <= $id", {"id": last[0]}).fetchone()
        cur.execute(
            "INSERT INTO audit_log_anchor VALUES ($id, $hash)", {"id": last[0], "hash": last[1]}
        )
    return int(row[0]) if row else 0


_FIELDS = (
    "id, logged_at, actor_type, actor_id, actor_email, actor_role, action, target, result,"
    " reason, changes"
)


def _where(filters: Filters) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = ["true"]
    params: dict[str, Any] = {}
    if filters.actor in ACTOR_TYPES:
        clauses.append("actor_type = $actor")
        params["actor"] = filters.actor
    elif filters.actor:
        clauses.append("actor_email = $actor")
        params["actor"] = filters.actor.strip().lower()
    if filters.group:
        clauses.append("split_part(action, '.', 1) = $group")
        params["group"] = filters.group
    if filters.result:
        clauses.append("result = $result")
        params["result"] = filters.result
    if filters.date_from:
        clauses.append("logged_at >= $from")
        params["from"] = datetime.combine(filters.date_from, datetime.min.time())
    if filters.date_to:
        clauses.append("logged_at < $to")
        params["to"] = datetime.combine(filters.date_to + timedelta(days=1), datetime.min.time())
    if filters.through is not None:
        clauses.append("id <= $through")
        params["through"] = filters.through
    return " AND ".join(clauses), params


def _columns(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at,
        "t": entry.actor.type,
        "aid": entry.actor.id,
        "email": entry.actor.email,
        "role": entry.actor.role,
        "action": entry.action,
        "target": entry.target,
        "result": entry.result,
        "reason": entry.reason,
        "changes": orjson.dumps(entry.changes, option=orjson.OPT_SORT_KEYS).decode(),
    }


def _hash(previous: str, entry: Entry) -> str:
    fields = _columns(entry)
    fields["at"] = entry.at.isoformat(timespec="microseconds")
    payload = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(previous.encode() + payload).hexdigest()


def _entry(row: tuple[Any, ...]) -> Entry:
    return Entry(
        row[0],
        row[1],
        Actor(row[2], row[3], row[4], row[5]),
        row[6],
        row[7],
        row[8],
        row[9],
        orjson.loads(row[10]),
    )
