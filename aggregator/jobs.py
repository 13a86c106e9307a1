"""Background work of the single DuckDB writer, each loop in a thread of its own: the spool
loader, and maintenance (rollups of closed days, then raw retention, then the fold of security
minutes past 30 days; provisional rollups of open days). Both keep what ``/healthz`` and
``/metrics`` report: failures in a row, the last success, how long passes take.

DuckDB releases the GIL while it inserts, so loading beside the event loop costs the intake
little; the loop is safe to stop at any point (every pass is one transaction per batch).
Each background thread runs at a lower CPU priority than the event loop (``yield_to_intake``):
on a busy core an answer waits for no rollup, and the work it puts off waits in the spool.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from aggregator import audit_log
from aggregator.clock import Clock
from aggregator.loader import LoadReport, load_pending, purge_loaded_segments
from aggregator.queries.security_rules import MINUTES_KEPT_DAYS
from aggregator.retention import RetentionReport, purge_raw
from aggregator.rollups import (
    drop_provisional,
    fold_changed_days,
    refresh_open_days,
    roll_up_pending,
)
from aggregator.store import Store

log = logging.getLogger("hush.loader")

BACKGROUND_NICENESS = 10  # a tenth of the CPU share of the event loop's thread when both run


def yield_to_intake() -> None:
    """Lower the calling thread's CPU priority (Linux sets it per thread); elsewhere a no-op."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)


class LoaderThread:
    def __init__(
        self,
        store: Store,
        spool_dir: Path,
        *,
        interval: float,
        observe: Callable[[LoadReport, float], None] | None = None,
    ) -> None:
        self._store = store
        self._observe = observe
        self._spool_dir = spool_dir
        self._interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._passing = threading.Lock()  # one pass at a time: a segment loads in one of them
        self._thread = threading.Thread(target=self._run, name="hush-loader", daemon=True)
        self.totals = LoadReport()
        self.passes = 0
        self.failures = 0  # in a row; 0 after a pass that worked
        self.failed_passes = 0
        self.last_success: float | None = None  # wall-clock time of the last pass that worked

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Load now rather than at the next interval (a segment was just closed)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop after the current pass, then load what is left once more."""
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self._pass()

    def _run(self) -> None:
        yield_to_intake()
        while not self._stop.is_set():
            self._pass()
            self._wake.wait(self._interval if not self.failures else min(30, 2**self.failures))
            self._wake.clear()

    def load_now(self) -> LoadReport:
        """One pass in the caller's thread, never beside the thread's own; what it loaded."""
        return self._pass()

    def _pass(self) -> LoadReport:
        with self._passing:
            started = time.monotonic()
            # Filled as each batch commits: a pass that fails later counts what it stored (a
            # load's checkpoint out of memory once left hush_loaded_events_total short).
            report = LoadReport()
            try:
                load_pending(self._store, self._spool_dir, report)
            except Exception as exc:  # broken infrastructure (disk, database): retry with backoff
                self.failures += 1
                self.failed_passes += 1
                log.error("loading the spool failed (%s): %s", type(exc).__name__, exc)
            else:
                self.failures = 0
                self.last_success = time.time()
                self.passes += 1
        if self._observe is not None and report.segments:
            self._observe(report, time.monotonic() - started)
        self.totals.segments += report.segments
        self.totals.events += report.events
        self.totals.torn_lines += report.torn_lines
        return report


def purge_audit_log(store: Store, retention_days: int, clock: Clock, raw: RetentionReport) -> int:
    """Audit entries past their retention leave the file (P8's byte-level deletion); a run
    that deleted anything, raw events included, is itself an entry."""
    purged = audit_log.purge(store, retention_days=retention_days, now=clock.now())
    if purged:
        store.compact()
    if purged or raw.deleted:
        audit_log.record(
            store,
            audit_log.SYSTEM,
            "retention.run",
            changes={"raw_events_deleted": raw.deleted, "audit_entries_purged": purged},
            now=clock.now(),
        )
    return purged


class MaintenanceThread:
    """Rolls up closed days and enforces raw retention every ``interval`` seconds, and rebuilds
    the provisional rollups of open days every ``live_interval`` seconds (0: never; open days
    are then read from raw events). A rebuild that took t seconds waits at least
    ``LIVE_SHARE_INVERSE`` x t before the next one, so a busy day never takes more than a share of
    one core."""

    LIVE_SHARE_INVERSE = 10

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        retention_days: int,
        audit_retention_days: int = 365,
        min_visitors: int = 3,
        interval: float = 60.0,
        live_interval: float = 0.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._retention_days = retention_days
        self._audit_retention_days = audit_retention_days
        self._min_visitors = min_visitors
        self._interval = interval
        self._live_interval = live_interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hush-maintenance", daemon=True)
        self.leader = False  # on a lake: whether this node held the leader lock at its last try
        self.live_passes = 0  # refreshes of the open days so far
        self.live_rollups = 0  # open days rebuilt in them
        self.live_seconds = 0.0  # how long the last refresh that rebuilt one took
        self.failures = 0  # passes failed in a row
        self.failed_passes = 0
        self.last_success: float | None = None  # wall-clock time of the last full pass

    def start(self) -> None:
        if not self._live_interval and self.leading():
            drop_provisional(self._store)
        self._thread.start()

    def leading(self) -> bool:
        """Whether this process maintains the store: always for the embedded file; on a lake,
        only the node holding the leader lock (one at a time; another takes over within a
        pass when it dies)."""
        self.leader = self._store.leads()
        return self.leader

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def run_once(self, *, dry_run: bool = False) -> RetentionReport:
        """Roll up what is due, then apply retention (or only report it)."""
        fold_changed_days(self._store)
        roll_up_pending(self._store, self._clock)
        report = purge_raw(
            self._store,
            self._retention_days,
            self._clock,
            dry_run=dry_run,
            min_visitors=self._min_visitors,
        )
        if not dry_run:
            purge_audit_log(self._store, self._audit_retention_days, self._clock, report)
            fold_signal_minutes(self._store, self._clock)
            purge_loaded_segments(self._store)
            self._store.tidy()
        return report

    def _run(self) -> None:
        yield_to_intake()
        now = time.monotonic()
        next_full = now + self._interval
        next_live = now  # today's figures as soon as the server is up
        while True:
            due = min(next_full, next_live) if self._live_interval else next_full
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            if time.monotonic() >= next_full:
                if self._guarded(self.run_once):
                    self.last_success = time.time()
                next_full = time.monotonic() + self._interval
            if self._live_interval and time.monotonic() >= next_live:
                started = time.monotonic()
                self._guarded(self._refresh_open_days)
                took = time.monotonic() - started
                next_live = time.monotonic() + max(
                    self._live_interval, self.LIVE_SHARE_INVERSE * took
                )

    def _refresh_open_days(self) -> None:
        started = time.monotonic()
        fold_changed_days(self._store)
        report = refresh_open_days(self._store, self._clock)
        self.live_passes += 1
        if report.days:
            self.live_rollups += report.days
            self.live_seconds = time.monotonic() - started

    def _guarded(self, job: Callable[[], object]) -> bool:
        try:
            if not self.leading():
                return True  # another node maintains the lake
            with self._store.background():
                job()
                self._store.release_memory()
        except Exception as exc:  # broken infrastructure: try again next time
            self.failures += 1
            self.failed_passes += 1
            log.error("maintenance failed (%s): %s", type(exc).__name__, exc)
            if isinstance(exc, duckdb.OutOfMemoryException):
                log.error("DuckDB's pool held %s", self._store.pool_in_use())
            return False
        self.failures = 0
        return True


def fold_signal_minutes(store: Store, clock: Clock) -> int:
    """Minutes of the security signals past ``MINUTES_KEPT_DAYS`` leave for their hours
    (``intake_counts``, written from the same counter lines at load, so nothing is lost or
    counted twice, and running this twice is harmless); return how many rows went."""
    cut = datetime.fromtimestamp(clock.now(), UTC).replace(tzinfo=None) - timedelta(
        days=MINUTES_KEPT_DAYS
    )
    with store.write(exclusive=True) as cur:
        row = cur.execute("DELETE FROM intake_minutes WHERE minute < $cut", {"cut": cut}).fetchone()
    return int(row[0]) if row else 0
