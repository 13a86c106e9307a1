"""The database file's own upkeep: what a server reopening its store relies on."""

from __future__ import annotations

import logging
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

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


def _block_size(store: Store) -> int:
    with store.read() as cur:
        [(size,)] = cur.execute(
            "SELECT block_size FROM pragma_database_size() WHERE database_name = current_database()"
        ).fetchall()
    return int(size)


def test_a_file_from_an_earlier_hush_gets_the_memory_its_blocks_need_until_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # DuckDB keeps a block per column of each table appended to until a checkpoint. With
    # the 256 KiB blocks earlier files were made with, the rollups' tables took 18 MiB of a
    # 32 MiB limit, and the checkpoint that found no room beside them failed for good (the
    # database refused every statement until a restart). New files get 64 KiB blocks; an
    # older one gets 64 MiB until compaction (each retention run) copies it into a new file.
    path = tmp_path / "hush.duckdb"
    duckdb.connect(str(path), config={"default_block_size": 256 * 2**10}).close()
    store = Store(path, memory_limit="32MiB", threads=1)
    try:
        assert (_block_size(store), store.memory_limit()) == (256 * 2**10, 64 * 2**20)
        assert "earlier hush, with larger blocks" in caplog.text
        caplog.clear()
        assert store.release_memory()  # after every maintenance pass: warned once is enough
        assert store.memory_limit() == 64 * 2**20
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        store.compact()
        assert (_block_size(store), store.memory_limit()) == (64 * 2**10, 32 * 2**20)
        with store.read() as cur:
            assert cur.execute("SELECT current_setting('memory_limit')").fetchall() == [
                ("32.0 MiB",)
            ]
    finally:
        store.close()
    fresh = Store(tmp_path / "new.duckdb", memory_limit="32MiB", threads=1)
    try:
        assert (_block_size(fresh), fresh.memory_limit()) == (64 * 2**10, 32 * 2**20)
    finally:
        fresh.close()


def store_memory(cur: duckdb.DuckDBPyConnection) -> int:
    [(used,)] = cur.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()
    return int(used)


def test_releasing_memory_reopens_duckdb_when_no_reader_is_at_work(tmp_path: Path) -> None:
    # DuckDB 1.5 frees its record of the buffers past statements pinned only when the
    # database closes; after each maintenance pass the store reopens it, but never under a
    # reader (waiting for a slow one would hold back every other reader and the loader).
    store = Store(tmp_path / "hush.duckdb", memory_limit="32MiB", threads=1)
    try:
        with store.write() as cur:
            cur.execute("CREATE TABLE numbers AS SELECT range AS n FROM range(300000)")
        with store.read() as cur:
            [(total,)] = cur.execute("SELECT sum(n) FROM numbers").fetchall()
            held = store_memory(cur)
            assert not store.release_memory()  # skipped: this reader is at work
            assert cur.execute("SELECT sum(n) FROM numbers").fetchall() == [(total,)]
        assert store.release_memory()
        with store.read() as cur:
            # A new database: the old one's buffers went with it, the settings did not.
            assert store_memory(cur) < held
            assert cur.execute("SELECT sum(n) FROM numbers").fetchall() == [(total,)]
            assert cur.execute(
                "SELECT current_setting('memory_limit'), current_setting('checkpoint_threshold')"
            ).fetchall() == [("32.0 MiB", "16.0 MiB")]  # loads checkpoint at 8 themselves
    finally:
        store.close()


def pool_memory(cur: duckdb.DuckDBPyConnection, tag: str) -> tuple[int, int]:
    """A tag's bytes in DuckDB's pool and in its temporary files."""
    [row] = cur.execute(
        "SELECT memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory() WHERE tag = $tag",
        {"tag": tag},
    ).fetchall()
    return int(row[0]), int(row[1])


def test_cached_blocks_leave_duckdbs_pool_when_no_reader_is_at_work(tmp_path: Path) -> None:
    # DuckDB evicts the file's blocks it has read or written only when a statement needs the
    # room, so a server's pool was always full. After a load's checkpoint the store drops
    # them, but never under a reader, and never rows not yet checkpointed (they would go to
    # temporary files).
    store = Store(tmp_path / "hush.duckdb", memory_limit="32MiB", threads=1)
    try:
        with store.write() as cur:
            cur.execute("CREATE TABLE numbers AS SELECT hash(range) AS n FROM range(1000000)")
        store.checkpoint()
        with store.read() as cur:
            [(total,)] = cur.execute("SELECT sum(n) FROM numbers").fetchall()
            cached, _ = pool_memory(cur, "BASE_TABLE")
            assert cached > 2**20
            assert not store.drop_cached_blocks()  # skipped: this reader is at work
        assert store.drop_cached_blocks()
        with store.read() as cur:
            assert pool_memory(cur, "BASE_TABLE")[0] < cached / 4
            assert cur.execute("SELECT sum(n) FROM numbers").fetchall() == [(total,)]
            assert cur.execute("SELECT current_setting('memory_limit')").fetchall() == [
                ("32.0 MiB",)
            ]
        with store.write() as cur:
            cur.execute("INSERT INTO numbers SELECT hash(range) FROM range(100000)")
        assert not store.drop_cached_blocks()  # the WAL holds rows: nothing is spilled
        with store.read() as cur:
            assert pool_memory(cur, "IN_MEMORY_TABLE")[1] == 0
    finally:
        store.close()


def test_a_long_jobs_steps_empty_the_pool_but_never_under_a_reader(tmp_path: Path) -> None:
    # Between the parts of a busy day's rollup the writer empties DuckDB's pool (DuckDB's
    # bookkeeping of its buffers grew with every part): the rows loads committed meanwhile are
    # checkpointed first, the job's temporary tables wait in temporary files and come back
    # whole, and a reader at work is never left without the pool.
    path = tmp_path / "hush.duckdb"
    store = Store(path, memory_limit="32MiB", threads=1)
    try:
        with store.writer() as cur:
            cur.execute("CREATE TEMP TABLE part AS SELECT hash(range) AS n FROM range(1000000)")
            [(total,)] = cur.execute("SELECT sum(n) FROM part").fetchall()
            held, _ = pool_memory(cur, "IN_MEMORY_TABLE")
            assert held > 2**20
            cur.execute("CREATE TABLE loaded AS SELECT hash(range) AS n FROM range(100000)")
            wal = path.with_name("hush.duckdb.wal")
            assert wal.stat().st_size > 2**19
            with store.read():
                assert not store.empty_pool()  # skipped: this reader is at work
            assert store.empty_pool()
            assert not wal.exists() or wal.stat().st_size < 2**16  # checkpointed, not spilled
            assert pool_memory(cur, "IN_MEMORY_TABLE")[0] < held / 4
            assert cur.execute("SELECT sum(n) FROM part").fetchall() == [(total,)]
            assert cur.execute("SELECT current_setting('memory_limit')").fetchall() == [
                ("32.0 MiB",)
            ]
    finally:
        store.close()


def test_a_job_out_of_memory_can_say_what_duckdbs_pool_held(tmp_path: Path) -> None:
    # The maintenance log line after an out-of-memory failure names what filled the pool.
    store = Store(tmp_path / "hush.duckdb", memory_limit="32MiB", threads=1)
    try:
        with store.writer() as cur:
            cur.execute(
                "CREATE TEMP TABLE held AS SELECT range AS n, repeat('x', 50) AS s"
                " FROM range(200000)"
            )
            held = store.pool_in_use()
        assert re.match(r"IN_MEMORY_TABLE \d+\.\d MiB", held), held
    finally:
        store.close()
    assert store.pool_in_use().startswith("unknown (")  # closed: said, not raised
