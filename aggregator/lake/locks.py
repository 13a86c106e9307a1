"""PostgreSQL advisory locks: the one maintenance leader, the gate between loaders and deletes,
and the audit log's one chain.

DuckLake commits optimistically: two loaders inserting at once both commit, but a DELETE fails
if another transaction inserted into the same table meanwhile (measured in the engine review).
So every lake write holds the *gate* shared, and the deletes of tables loaders insert into hold
it exclusively: they wait for the commits in flight and run alone. The leader lock is taken
with ``pg_try_advisory_lock`` and kept by its connection: when a node dies its connection
closes, the lock is free, and the next node's maintenance pass takes it.

Session locks are counted per PostgreSQL session, and a session never waits for itself, so each
role has a connection of its own and the threads of one node queue on a Python lock first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

log = logging.getLogger("hush.lake")

# Advisory lock keys: 'hush' in the high bytes, the role in the low ones.
_BASE = 0x68757368 << 16
GATE = _BASE + 1
LEADER = _BASE + 2
AUDIT = _BASE + 3
MIGRATE = _BASE + 4


class _Session:
    """One autocommit connection and the lock that keeps its threads apart."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._lock = threading.Lock()
        self._con: psycopg.Connection[tuple[object, ...]] | None = None

    def run(self, sql: str, key: int) -> object:
        with self._lock:
            if self._con is None or self._con.closed:
                self._con = psycopg.connect(self._dsn, autocommit=True)
            row = self._con.execute(sql, (key,)).fetchone()
            return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


class LakeLocks:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._gate_shared = _Session(dsn)
        self._shared_holders = 0
        self._shared_lock = threading.Lock()
        self._gate_exclusive = _Session(dsn)
        self._exclusive_lock = threading.RLock()
        self._exclusive_owner: int | None = None
        self._audit = _Session(dsn)
        self._audit_lock = threading.Lock()
        self._leader = _Session(dsn)
        self.leading = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        """The gate, shared with the other writers of every node (a no-op inside exclusive)."""
        if self._exclusive_owner == threading.get_ident():
            yield
            return
        with self._shared_lock:
            if self._shared_holders == 0:
                self._gate_shared.run("SELECT pg_advisory_lock_shared(%s)", GATE)
            self._shared_holders += 1
        try:
            yield
        finally:
            with self._shared_lock:
                self._shared_holders -= 1
                if self._shared_holders == 0:
                    self._gate_shared.run("SELECT pg_advisory_unlock_shared(%s)", GATE)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """The gate alone: no lake write of any node is in flight meanwhile."""
        with self._exclusive_lock:
            if self._exclusive_owner == threading.get_ident():
                yield  # re-entered by the same thread
                return
            self._gate_exclusive.run("SELECT pg_advisory_lock(%s)", GATE)
            self._exclusive_owner = threading.get_ident()
            try:
                yield
            finally:
                self._exclusive_owner = None
                self._gate_exclusive.run("SELECT pg_advisory_unlock(%s)", GATE)

    @contextmanager
    def audit(self) -> Iterator[None]:
        """One appender of the audit log's chain at a time, over every node."""
        with self._audit_lock:
            self._audit.run("SELECT pg_advisory_lock(%s)", AUDIT)
            try:
                yield
            finally:
                self._audit.run("SELECT pg_advisory_unlock(%s)", AUDIT)

    def try_lead(self) -> bool:
        """Whether this node is the maintenance leader (taking the lock if it is free)."""
        try:
            if not self.leading:
                self.leading = bool(self._leader.run("SELECT pg_try_advisory_lock(%s)", LEADER))
                if self.leading:
                    log.info("this node is the maintenance leader")
            else:
                # Still ours? A lost connection (PostgreSQL restarted) lost the lock with it.
                self.leading = bool(
                    self._leader.run(
                        "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'advisory'"
                        " AND pid = pg_backend_pid() AND objid = (%s::bigint & 4294967295)",
                        LEADER,
                    )
                )
        except psycopg.OperationalError:
            self._leader.close()
            self.leading = False
        return self.leading

    def close(self) -> None:
        for session in (self._gate_shared, self._gate_exclusive, self._audit, self._leader):
            session.close()
