"""Background work of the single DuckDB writer, each loop in a thread of its own: the spool
loader, and maintenance (rollups of closed days, then raw retention).

DuckDB releases the GIL while it inserts, so loading beside the event loop costs the intake
little; the loop is safe to stop at any point (every pass is one transaction per batch).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from aggregator.loader import LoadReport, load_pending
from aggregator.retention import RetentionReport, purge_raw
from aggregator.rollups import roll_up_pending
from aggregator.store import Store
from collector.clock import Clock

log = logging.getLogger("hush.loader")


class LoaderThread:
    def __init__(self, store: Store, spool_dir: Path, *, interval: float) -> None:
        self._store = store
        self._spool_dir = spool_dir
        self._interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hush-loader", daemon=True)
        self.totals = LoadReport()
        self.passes = 0
        self.failures = 0

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
        while not self._stop.is_set():
            self._pass()
            self._wake.wait(self._interval if not self.failures else min(30, 2**self.failures))
            self._wake.clear()

    def _pass(self) -> None:
        try:
            report = load_pending(self._store, self._spool_dir)
        except Exception as exc:  # broken infrastructure (disk, database): retry with backoff
            self.failures += 1
            log.error("loading the spool failed (%s): %s", type(exc).__name__, exc)
            return
        self.failures = 0
        self.passes += 1
        self.totals.segments += report.segments
        self.totals.events += report.events
        self.totals.torn_lines += report.torn_lines


class MaintenanceThread:
    """Rolls up closed days and enforces raw retention, every ``interval`` seconds."""

    def __init__(
        self, store: Store, clock: Clock, *, retention_days: int, interval: float = 60.0
    ) -> None:
        self._store = store
        self._clock = clock
        self._retention_days = retention_days
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hush-maintenance", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def run_once(self, *, dry_run: bool = False) -> RetentionReport:
        """Roll up what is due, then apply retention (or only report it)."""
        roll_up_pending(self._store, self._clock)
        return purge_raw(self._store, self._retention_days, self._clock, dry_run=dry_run)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.run_once()
            except Exception as exc:  # broken infrastructure: try again next time
                log.error("maintenance failed (%s): %s", type(exc).__name__, exc)
