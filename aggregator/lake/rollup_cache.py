"""Each node's copy of the lake's rollups, so that a dashboard view reads them at the embedded
file's speed.

Every query on a lake pays 20-50 ms of catalog round trips (the engine review measured 597 ms
for a view that takes 95 ms from the file), while rollups change only when the maintenance
leader rolls a day up. So a node keeps ``rollups`` and ``rolled_days`` in a local DuckDB file
(``cache``: derived data, no visitor ids, rebuilt at start) that its readers' search path names
first, and a thread polls the lake's current snapshot (a few ms) every second: when a snapshot
since the last refresh wrote either table, the site-days whose ``rolled_days`` row changed are
copied again, in one transaction that reads one snapshot of the lake. Writers (the leader's
rollup job, retention) never see the cache: their search path names the lake first.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from aggregator.jobs import yield_to_intake

if TYPE_CHECKING:
    from aggregator.lake.store import LakeStore

log = logging.getLogger("hush.lake")

TABLES = ("rollups", "rolled_days")
POLL_SECONDS = 1.0


class RollupCache:
    def __init__(self, store: LakeStore, schema: str) -> None:
        self._store = store
        self._metadata = f"__ducklake_metadata_lake.{schema}_lake"
        self._snapshot = -1
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hush-rollup-cache", daemon=True)
        self.refreshes = 0  # copies made so far (for /metrics and tests)
        self.failures = 0

    def create(self) -> None:
        """The cache's tables, empty, shaped as the lake's, and a view of each other lake
        table (readers name the cache alone); then a first full copy."""
        with self._store.raw_cursor() as cur:
            for table in TABLES:
                cur.execute(
                    f"CREATE OR REPLACE TABLE cache.main.{table} AS"  # noqa: S608 - fixed names
                    f" SELECT * FROM lake.main.{table} LIMIT 0"
                )
            others = cur.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake'"
                " AND schema_name = 'main'"
            ).fetchall()
            for (table,) in others:
                if table not in TABLES:
                    cur.execute(
                        f'CREATE OR REPLACE VIEW cache.main."{table}" AS'  # noqa: S608 - the lake's
                        f' SELECT * FROM lake.main."{table}"'
                    )
        self.refresh()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        yield_to_intake()
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.refresh()
            except Exception as exc:  # the catalog is unreachable: keep answering, retry
                self.failures += 1
                log.warning("refreshing the rollup cache failed: %s", exc)

    def refresh(self) -> int:
        """Copy the site-days that changed since the last refresh; return how many."""
        with self._lock, self._store.raw_cursor() as cur:
            row = cur.execute("SELECT id FROM ducklake_current_snapshot('lake')").fetchone()
            snapshot = int(row[0]) if row else 0
            if snapshot == self._snapshot:
                return 0
            if self._snapshot >= 0 and not self._touched(cur, self._snapshot, snapshot):
                self._snapshot = snapshot
                return 0
            cur.begin()
            try:
                # One transaction: every read below sees one snapshot of the lake.
                cur.execute(
                    "CREATE OR REPLACE TEMP TABLE changed AS"
                    " SELECT site_id, day FROM (SELECT * FROM lake.main.rolled_days"
                    "   EXCEPT SELECT * FROM cache.main.rolled_days)"
                    " UNION SELECT site_id, day FROM (SELECT * FROM cache.main.rolled_days"
                    "   EXCEPT SELECT * FROM lake.main.rolled_days)"
                )
                count = cur.execute("SELECT count(*) FROM changed").fetchone()
                changed = int(count[0]) if count else 0
                if changed:
                    cur.execute(
                        "DELETE FROM cache.main.rollups WHERE (site_id, day) IN"
                        " (SELECT (site_id, day) FROM changed)"
                    )
                    cur.execute(
                        "INSERT INTO cache.main.rollups SELECT * FROM lake.main.rollups"
                        " WHERE (site_id, day) IN (SELECT (site_id, day) FROM changed)"
                    )
                    cur.execute("DELETE FROM cache.main.rolled_days")
                    cur.execute(
                        "INSERT INTO cache.main.rolled_days SELECT * FROM lake.main.rolled_days"
                    )
                cur.execute("DROP TABLE changed")
                cur.commit()
            except BaseException:
                cur.rollback()
                raise
            self._snapshot = snapshot
            self.refreshes += 1
            return changed

    def _touched(self, cur: object, since: int, until: int) -> bool:
        """Whether a snapshot in (since, until] inserted into or deleted from the cached
        tables."""
        ids = [
            str(r[0])
            for r in cur.execute(  # type: ignore[attr-defined]
                f"SELECT table_id FROM {self._metadata}.ducklake_table"  # noqa: S608 - checked
                " WHERE table_name IN ('rollups', 'rolled_days') AND end_snapshot IS NULL"
            ).fetchall()
        ]
        rows = cur.execute(  # type: ignore[attr-defined]
            "SELECT changes FROM ducklake_snapshots('lake')"
            " WHERE snapshot_id > $since AND snapshot_id <= $until",
            {"since": since, "until": until},
        ).fetchall()
        for (changes,) in rows:
            for kind, tables in (changes or {}).items():
                if kind.startswith("tables_") and set(tables or ()) & set(ids):
                    return True
        return False
