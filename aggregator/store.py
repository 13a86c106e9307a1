"""The DuckDB store: one connection per process, one writer at a time, migrations on open.

DuckDB allows one process to open the file for writing, so while ``hush serve`` runs it is the
only process that touches the database; other commands go through its admin endpoint.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

log = logging.getLogger("hush.store")
_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class StoreBusy(Exception):
    """Another process holds the database file (a running ``hush serve``)."""


class StoreTooNew(Exception):
    """The database file was written by a newer DuckDB than hush runs (DuckDB 2.0, which hush
    ran before it moved to 1.5.5, the version its DuckLake extensions are built for)."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            f"{path} was written by a newer DuckDB ({detail.splitlines()[0]}): stop hush and run"
            f" scripts/convert-store {path.parent} once to convert it (README, Upgrades)"
        )


class QueryStopped(Exception):
    """DuckDB stopped a read that asked too much: time (``QueryTimeout``) or memory."""


class QueryOutOfMemory(QueryStopped):
    def __init__(self) -> None:
        super().__init__("the query needed more memory than HUSH_DUCKDB_MEMORY_LIMIT allows")


class QueryTimeout(QueryStopped):
    """A read ran past its time limit and DuckDB stopped it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the query ran longer than {seconds:g} s and was stopped")
        self.seconds = seconds


class _Watchdog:
    """Interrupts a cursor's statements once ``seconds`` have passed, until it is stopped.

    DuckDB has no statement timeout, and an interrupt stops only the statement running at that
    moment (the next one starts afresh), so after the deadline the watchdog keeps interrupting
    every 50 ms: a reader that runs several statements cannot slip one past it."""

    REPEAT_SECONDS = 0.05

    def __init__(self, cursor: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self._cursor = cursor
        self._seconds = seconds
        self._lock = threading.Lock()  # interrupting a closed cursor raises: never after stop()
        self._done = threading.Event()
        self.expired = False
        self._thread = threading.Thread(target=self._run, name="hush-query-limit", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self._done.wait(self._seconds):
            return
        self.expired = True
        while True:
            with self._lock:
                if self._done.is_set():
                    return
                self._cursor.interrupt()
            self._done.wait(self.REPEAT_SECONDS)

    def stop(self) -> None:
        with self._lock:
            self._done.set()


def duckdb_config(memory_limit: str | None, threads: int | None) -> dict[str, str | int]:
    """DuckDB's own settings for a server: its memory bound and threads (None: DuckDB's
    defaults, 80% of the machine's memory and a thread per core)."""
    config: dict[str, str | int] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
        # DuckDB's allocator keeps freed memory for reuse up to these thresholds (128 and
        # 512 MiB by default): in a bounded server that would sit beside the limit, unused
        # (each load of 10,000 events left ~10 MiB more resident).
        config["allocator_flush_threshold"] = "0MiB"
        config["allocator_bulk_deallocation_flush_threshold"] = "0MiB"
    if threads:
        config["threads"] = threads
    # For files made from now on (compaction's and retention's copies too). Until a checkpoint,
    # DuckDB keeps a block per column of each table appended to: with DuckDB's 256 KiB, the
    # rollups' tables alone took 18 MiB, and a checkpoint that then found no room beside them
    # failed for good at 32 MiB. 64 KiB blocks also make the file smaller (the 10M store:
    # 125 MB against 131; 21 bytes an event from ingest against 39); 16 KiB made it 241 MB.
    config["default_block_size"] = BLOCK_SIZE
    return config


@contextmanager
def transaction(cursor: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction on ``cursor``: committed on success, rolled back on error."""
    cursor.begin()
    try:
        yield
        cursor.commit()
    except BaseException:
        cursor.rollback()
        raise


_BINARY_UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
CHECKPOINT_THRESHOLD = 16 * 2**20  # DuckDB's default; smaller with a small memory limit
BLOCK_SIZE = 64 * 2**10
# A WAL this small holds bookkeeping written since the last checkpoint, not a load's events.
WAL_AFTER_CHECKPOINT = 64 * 2**10
# The least memory DuckDB is given for a file made with larger blocks (by an earlier hush, with
# DuckDB's 256 KiB) until compaction rewrites it, and for a lake node (DuckLake reads and
# writes Parquet files: its loads ran out of 32 MiB).
LARGE_BLOCK_MEMORY = 64 * 2**20


def _size_bytes(setting: str) -> int:
    """Bytes of a size as DuckDB shows a setting ("32.0 MiB")."""
    number, unit = setting.split()
    return int(float(number) * _BINARY_UNITS.get(unit, 1))


EVENTS_PER_MIB = 4_000  # in a file of 64 KiB blocks; half as many in one of larger blocks
MIN_EVENTS_PER_PART = 10_000


class Store:
    """The database file. ``memory_limit`` (a DuckDB size such as ``"96MB"``) and ``threads``
    are DuckDB's own settings; left ``None``, DuckDB takes 80% of the machine's memory and a
    thread per core, which suits a one-off CLI command, not a server on a small machine."""

    lake = False  # the embedded file; aggregator.lake.store.LakeStore is the other store

    def __init__(
        self, path: Path, *, memory_limit: str | None = None, threads: int | None = None
    ) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._config = duckdb_config(memory_limit, threads)
        self._init_users()
        try:
            self._con = self._connect(path)
        except duckdb.IOException as exc:
            if "newer version of duckdb" in str(exc).lower():
                raise StoreTooNew(path, str(exc)) from None
            if "lock" in str(exc).lower():
                raise StoreBusy(str(path)) from None
            raise
        self.path = path
        self.schema_version = migrate(self._con)

    def _init_users(self) -> None:
        self._memory_limit = 0  # set by _connect
        self._checkpoint_bytes = 0  # the WAL's size at which a load checkpoints (by _connect)
        self._small_blocks = False  # whether the file has 64 KiB blocks (set by _connect)
        self._write_lock = threading.Lock()
        self._writers_waiting = 0  # writers blocked on the write lock (guarded by _users)
        self._write_turns = 0  # times a writer took the write lock (guarded by _users)
        # Readers and writers share the connection; compaction swaps it and needs it alone.
        self._users = threading.Condition()
        self._active = 0
        self._swapping = False
        self._background = threading.Lock()

    def _connect(self, path: Path) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(str(path), config=self._config)  # type: ignore[arg-type]
        [(block_size,)] = con.execute(
            "SELECT block_size FROM pragma_database_size() WHERE database_name = current_database()"
        ).fetchall()
        self._small_blocks = block_size <= BLOCK_SIZE
        limit = self._limit_at_least(con, 0 if self._small_blocks else LARGE_BLOCK_MEMORY)
        # What is committed but not yet checkpointed stays in DuckDB's pool, uncompressed,
        # until the WAL reaches this size (16 MiB by default): at a 32 MiB limit that took the
        # rest of the pool. A quarter of the limit leaves room for work; an eighth made loads
        # checkpoint twice as often and cost the intake a quarter of its speed. Loads
        # checkpoint themselves at that size (``after_load``), their batch gone; DuckDB's own
        # checkpoint at commit, at twice that, is for other writers.
        self._checkpoint_bytes = min(CHECKPOINT_THRESHOLD, limit // 4)
        con.execute(f"SET checkpoint_threshold = '{2 * self._checkpoint_bytes >> 10}KiB'")
        return con

    def _limit_at_least(self, con: duckdb.DuckDBPyConnection, least: int) -> int:
        """DuckDB's memory limit on ``con``, raised to ``least`` bytes if set below it (with a
        warning, once: the store reopens DuckDB after every maintenance pass); remembered for
        ``memory_limit()``."""
        [(setting,)] = con.execute("SELECT current_setting('memory_limit')").fetchall()
        limit = _size_bytes(str(setting))
        if limit < least:
            log.log(
                logging.DEBUG if self._memory_limit == least else logging.WARNING,
                "DuckDB gets %d MiB, not HUSH_DUCKDB_MEMORY_LIMIT's %d MiB: %s",
                least >> 20,
                limit >> 20,
                "a lake node needs that much"
                if self.lake
                else "the database file was made by an earlier hush, with larger blocks;"
                " the next retention run rewrites it",
            )
            con.execute(f"SET memory_limit = '{least >> 20}MiB'")
            limit = least
        self._memory_limit = limit
        return limit

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        return self._con.cursor()

    def memory(self) -> tuple[int, int]:
        """DuckDB's memory in use and its temporary files on disk, in bytes
        (``duckdb_memory()``: the buffer pool's tags, what ``memory_limit`` bounds)."""
        with self.read() as cur:
            row = cur.execute(
                "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT,"
                " coalesce(sum(temporary_storage_bytes), 0)::BIGINT FROM duckdb_memory()"
            ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def pool_in_use(self) -> str:
        """What DuckDB's pool holds, by tag, largest first ("HASH_TABLE 20.1 MiB, ..."): for
        the log line of a job that ran out of memory (never raises: "unknown (why)")."""
        try:
            with self.read() as cur:
                rows = cur.execute(
                    "SELECT tag, memory_usage_bytes / 2**20 FROM duckdb_memory()"
                    " WHERE memory_usage_bytes > 0 ORDER BY memory_usage_bytes DESC"
                ).fetchall()
        except duckdb.Error as exc:
            return f"unknown ({type(exc).__name__}: {exc})"
        return ", ".join(f"{tag} {mib:.1f} MiB" for tag, mib in rows) or "nothing"

    def memory_limit(self) -> int:
        """DuckDB's memory limit in bytes (as set, or its default: 80% of the machine's), as
        read when the connection opened."""
        return self._memory_limit

    def events_per_part(self) -> int:
        """Events a heavy statement over whole rows (a day's sessions, a sort of its events)
        may take at once within DuckDB's memory limit: ~4,000 per MiB past 24 MiB, at least
        10,000. Measured over the 10M store's busiest day (149,342 events) at 32 MiB: its
        rollup took 10.8 s in parts of 32,000 (18.7 s in parts of 16,000), and 48,000 fit too.
        With 256 KiB blocks 16,000 was the most at 32 MiB and 80,000 at 64, so half as many."""
        spare_mib = self.memory_limit() // 2**20 - 24
        per_mib = EVENTS_PER_MIB if self._small_blocks else EVENTS_PER_MIB // 2
        return max(MIN_EVENTS_PER_PART, spare_mib * per_mib)

    def query_threads(self, most: int) -> int:
        """How many of one page's queries to run side by side, up to ``most``: one per 16 MiB
        of DuckDB's memory limit (at 32 MiB four at once ran out of it over 10M events)."""
        return max(1, min(most, self.memory_limit() // (16 * 2**20)))

    @contextmanager
    def _using(self) -> Iterator[None]:
        with self._users:
            while self._swapping:
                self._users.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._users:
                self._active -= 1
                self._users.notify_all()

    @contextmanager
    def read(self, *, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own for one reader (safe to use from any thread).

        With ``timeout`` (seconds), DuckDB stops the reader's statements once that long has
        passed since the cursor was opened, and ``QueryTimeout`` is raised; a statement that
        needs more memory than DuckDB's limit raises ``QueryOutOfMemory``."""
        with self._using():
            cursor = self._cursor()
            watchdog = _Watchdog(cursor, timeout) if timeout else None
            try:
                yield cursor
            except duckdb.InterruptException:
                if watchdog is not None and watchdog.expired:
                    raise QueryTimeout(timeout or 0) from None
                raise
            except duckdb.OutOfMemoryException:
                raise QueryOutOfMemory from None
            finally:
                if watchdog is not None:
                    watchdog.stop()
                cursor.close()

    @contextmanager
    def write(self, *, exclusive: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction of the single writer: committed on success, rolled back on error.

        ``exclusive`` marks a transaction that deletes from a table loaders insert into (on a
        lake it then runs alone among every node's writers; here every write runs alone)."""
        with self.writer(exclusive=exclusive) as cursor, transaction(cursor):
            yield cursor

    @contextmanager
    def writer(self, *, exclusive: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """The single writer's cursor without a transaction: each statement commits on its
        own, and the caller may begin and commit its own. For long jobs of many steps: the
        temporary tables a transaction drops stay in DuckDB's memory until it ends."""
        with self._using(), self._writing():
            cursor = self._cursor()
            try:
                yield cursor
            finally:
                cursor.close()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The write lock, taken in turn: a long job holding it can let a writer that waits
        meanwhile go first (``let_writers_in``)."""
        with self._users:
            self._writers_waiting += 1
        try:
            self._write_lock.acquire()
        finally:
            with self._users:
                self._writers_waiting -= 1
                self._write_turns += 1
                self._users.notify_all()
        try:
            yield
        finally:
            self._write_lock.release()

    def let_writers_in(self) -> None:
        """Called by a writer between the steps of a long job (a busy day's rollup, tens of
        seconds at 32 MiB): a writer waiting meanwhile (the loader) takes its turn, then the
        job goes on with its cursor and temporary tables as they were. Its next steps may see
        what that writer committed; only a job whose steps write nothing else but temporary
        tables may call it."""
        with self._users:
            if not self._writers_waiting:
                return
            turn = self._write_turns
        self._write_lock.release()
        try:
            with self._users:
                self._users.wait_for(
                    lambda: self._write_turns != turn or not self._writers_waiting, timeout=10
                )
        finally:
            self._write_lock.acquire()

    def tidy(self) -> None:
        """Routine upkeep after a maintenance pass (a lake merges small files and expires old
        snapshots; the file needs none)."""

    def rollups_changed(self) -> None:
        """This process changed rollups or rolled_days: its readers see them at once (the
        file: always; a lake node refreshes its copy now rather than at its next poll)."""

    def leads(self) -> bool:
        """Whether this process runs maintenance (rollups, retention, alerts): the one process
        that writes the file always does; on a lake, one node at a time."""
        return True

    @contextmanager
    def serialized(self, name: str) -> Iterator[None]:
        """Run a read-then-write alone among every process using the store (``"audit"``: the
        audit log's one chain). One process writes the file, one write at a time, so here the
        write transaction itself is enough."""
        yield

    @contextmanager
    def background(self) -> Iterator[None]:
        """One background job at a time in this process (a maintenance pass, the alerts'
        evaluation), so that each has DuckDB's memory to itself: at 32 MiB, a busy day's live
        rollup and the alerts' read of the day's raw events ran out of it side by side, and
        the rollup then waited ten times its time for its next try. It begins with what loads
        committed checkpointed and the cached blocks dropped (``settle``): a busy day's rollup
        that found 14 MiB of loaded rows in a 32 MiB pool spilled up to 21 MiB to temporary
        files."""
        with self._background:
            self.settle(WAL_AFTER_CHECKPOINT)
            yield

    def checkpoint(self) -> None:
        with self._using(), self._writing():
            self._con.execute("CHECKPOINT")

    def _checkpoint_loads(self) -> bool:
        """A checkpoint that leaves the table's row groups as they are. DuckDB 1.5 starts a row
        group at the first append after each checkpoint, and its vacuum then merged a few
        checkpoints' row groups into fewer, in memory: at 260,000-390,000 events such a
        checkpoint spilled 25-51 MiB beside a full 32 MiB pool and took 2-4 s (0.4-0.5 s
        without). Each day raw events expire, retention rewrites the rest into new row groups."""
        with self._using(), self._writing():
            return self._checkpoint_without_vacuum()

    def _checkpoint_without_vacuum(self) -> bool:
        """Whether it checkpointed: one that fails is logged, and what the WAL holds waits for
        the next checkpoint (DuckDB's own at a commit, at twice the loads' size)."""
        try:
            self._con.execute("SET max_vacuum_tasks = 0")
            try:
                self._con.execute("CHECKPOINT")
            finally:
                self._con.execute("RESET max_vacuum_tasks")
        except duckdb.Error as exc:
            log.warning("checkpoint failed (%s): %s", type(exc).__name__, exc)
            return False
        return True

    def compact(self) -> int:
        """Rewrite the database into a fresh file and swap it in; return the bytes saved.

        DuckDB reuses the blocks of deleted rows but does not erase them, so deleted events
        could still be read from the file. Copying what is live into a new file leaves the old
        bytes behind for good. Readers and writers wait while the files are swapped.
        """
        fresh = self.path.with_name(self.path.name + ".compact")
        fresh.unlink(missing_ok=True)
        with self._alone():
            before = self.path.stat().st_size
            self._con.execute("CHECKPOINT")
            name = self._con.execute("SELECT current_database()").fetchone()
            assert name is not None
            quoted = str(fresh).replace("'", "''")
            self._con.execute(f"ATTACH '{quoted}' AS hush_compact")
            self._con.execute(f'COPY FROM DATABASE "{name[0]}" TO hush_compact')
            self._con.execute("DETACH hush_compact")
            self._con.close()
            os.replace(fresh, self.path)
            self._wal_path().unlink(missing_ok=True)
            self._con = self._connect(self.path)
            return before - self.path.stat().st_size

    def release_memory(self) -> bool:
        """Close DuckDB and open the file again (~15 ms on the 10M store), unless a reader or
        a writer is at work (then it returns False: waiting for a slow query would hold every
        other one back meanwhile). After each maintenance pass.

        DuckDB 1.5 keeps a record of every buffer a statement pinned in its eviction queues,
        which purge dead records only past 32,768 each: ~24 MiB of heap after ~20,000
        statements with a window or a sort (a rollup runs hundreds), freed only when the
        database closes."""
        with self._alone(wait=False) as alone:
            if alone:
                self._close()
                self._con = self._connect(self.path)
            return alone

    def _close(self) -> None:
        """Closing DuckDB checkpoints what the WAL holds with its vacuum on, which merged the
        row groups the loads' checkpoints left, in memory, beside whatever the pool held (a
        server at 24 MiB after a maintenance pass: 140 -> 154 MiB; one stopping after the
        ingest benchmark: 120 -> 163). Checkpointed first without it, closing writes nothing."""
        self._checkpoint_without_vacuum()
        self._con.close()

    def after_load(self) -> None:
        """Upkeep after each load: ``settle`` once the WAL holds a quarter of DuckDB's memory
        limit."""
        self.settle(self._checkpoint_bytes)

    def settle(self, wal_bytes: int) -> None:
        """Once the WAL holds ``wal_bytes``, a checkpoint, then the cached blocks dropped (not
        after a checkpoint that failed)."""
        if self._wal_bytes() >= wal_bytes and self._checkpoint_loads():
            self.drop_cached_blocks()

    def drop_cached_blocks(self) -> bool:
        """Drop the file's blocks that DuckDB keeps cached in its pool but no statement is
        using (~3 ms), unless a reader or a writer is at work or the WAL holds rows not yet
        checkpointed (then it returns False). DuckDB evicts only when a statement needs room,
        so the blocks each checkpoint wrote stayed resident until the pool was full, and every
        load and checkpoint then worked beside a full pool. A query that needs them reads them
        back from the OS's page cache. Rows not yet checkpointed would be evicted too, into
        temporary files: hence the wait for a checkpoint."""
        if self._wal_bytes() > WAL_AFTER_CHECKPOINT:
            return False
        with self._alone(wait=False) as alone:
            if alone:
                self._evict_unpinned()
            return alone

    def empty_pool(self) -> bool:
        """By the writer between the steps of a long job that writes nothing but temporary
        tables until its end (a busy day's rollup), its cursor in no transaction: what loads
        committed meanwhile is checkpointed, then every block of DuckDB's pool that no
        statement pins is evicted (the job's temporary tables into temporary files, read back
        by its next step), unless a reader is at work (then it returns False).

        For the records of DuckDB's eviction queues (``_evict_unpinned``): a rollup's every
        part runs ~80 statements, and unpurged their records grew the heap ~0.55 MiB a part
        (a 500,000-event day in 16 parts: 11.2 -> 19.4 MiB, VmHWM 104 MiB against 98 with the
        pool emptied after each part, which also took 36 s against 43)."""
        with self._alone(wait=False, mine=1) as alone:
            if alone:
                if self._wal_bytes() > WAL_AFTER_CHECKPOINT and not (
                    self._checkpoint_without_vacuum()
                ):
                    return False  # the WAL's rows would be evicted into temporary files
                self._evict_unpinned()
            return alone

    def _evict_unpinned(self) -> None:
        """Every block of DuckDB's pool that no statement pins, evicted (~3 ms).

        DuckDB has no statement for it, but setting a memory limit first evicts every block it
        can until the pool fits (below what is pinned the setting fails: the pool keeps its
        limit, but DuckDB 1.5 shows the refused one as the setting). A limit nothing fits in
        also makes it go through the whole of its eviction queues: DuckDB 1.5 queues a record
        of every buffer a statement unpins, which keeps the buffer's handle allocated after the
        block is gone, and purges dead records only past 32,768 a queue; gone through, the
        queues are empty of them (1 MiB stopped as soon as the pool fitted and left them).
        Only while no other statement runs: one that needed memory meanwhile could fail."""
        try:
            self._con.execute("SET memory_limit = '1KiB'")
        except duckdb.OutOfMemoryException:
            pass  # evicted what it could
        finally:
            self._con.execute(f"SET memory_limit = '{self._memory_limit >> 10}KiB'")

    def _wal_path(self) -> Path:
        return self.path.with_name(self.path.name + ".wal")

    def _wal_bytes(self) -> int:
        try:
            return self._wal_path().stat().st_size
        except FileNotFoundError:
            return 0

    @contextmanager
    def _alone(self, *, wait: bool = True, mine: int = 0) -> Iterator[bool]:
        """Holds new readers and writers back for the body, once every one at work has
        finished; without ``wait``, only if none is at work (yields whether it holds them).
        ``mine``: the caller is a writer at work (1), and writers waiting for its write lock
        are not at work either."""

        def others_at_work() -> int:
            return self._active - mine * (1 + self._writers_waiting)

        with self._users:
            held = wait or not (others_at_work() or self._swapping)
            if held:
                self._swapping = True
                while others_at_work():
                    self._users.wait()
        if not held:
            yield False
            return
        try:
            yield True
        finally:
            with self._users:
                self._swapping = False
                self._users.notify_all()

    def close(self) -> None:
        self._close()


def migrations() -> list[tuple[int, str]]:
    """Every migration shipped with hush, as (version, SQL), in order."""
    found = []
    for entry in resources.files("aggregator.migrations").iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(con: duckdb.DuckDBPyConnection, *, until: int | None = None) -> int:
    """Bring the schema up to date (or to version ``until``), one transaction per migration;
    return the version."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    # fetchall, not fetchone: a result not read to its end keeps its transaction open, and
    # on this long-lived connection that lasted the process's life (an up-to-date file runs
    # no migration after it). DuckDB then kept every version since for that reader, and no
    # CHECKPOINT could run once a row had been updated: the WAL grew and was replayed whole
    # at the next start.
    [(found,)] = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()
    current = int(found)
    for version, sql in migrations():
        if version <= current or (until is not None and version > until):
            continue
        con.begin()
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES ($v)", {"v": version})
            con.commit()
        except BaseException:
            con.rollback()
            raise
        # DuckDB 1.5.5 cannot replay a WAL holding an ALTER TABLE of a table with a
        # nextval() default (0007's api_keys): "GetDefaultDatabase with no default database
        # set", and the file does not open. Checkpointed, no migration is ever replayed.
        con.execute("CHECKPOINT")
        current = version
    return current
