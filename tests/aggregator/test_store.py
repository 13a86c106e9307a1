"""The database file's own upkeep: what a server reopening its store relies on."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from aggregator.store import Store


def test_a_reopened_store_checkpoints_after_a_row_is_updated(tmp_path: Path) -> None:
    # A server restarts on an up-to-date file far more often than it migrates one. Nothing
    # may hold a transaction open from the start: DuckDB then keeps every row version for it,
    # and refuses to checkpoint once a row has been updated, so the WAL only grows.
    path = tmp_path / "hush.duckdb"
    Store(path).close()
    store = Store(path)
    try:
        with store.write() as cur:
            cur.execute(
                "INSERT INTO rolled_days (site_id, day, rolled_at) VALUES (1, $d, now())",
                {"d": date(2026, 11, 1)},
            )
        with store.write() as cur:
            cur.execute("UPDATE rolled_days SET raw_purged = true WHERE site_id = 1")
        with store.writer() as cur:  # as DuckDB's own checkpoint at a commit would
            cur.execute("CHECKPOINT")
        wal = Path(f"{path}.wal")
        assert not wal.exists() or wal.stat().st_size == 0
    finally:
        store.close()
