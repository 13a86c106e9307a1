"""A node's view of the lake: one in-memory DuckDB with the DuckLake and the admin tables
attached, behind the same ``read()`` / ``write()`` as the embedded file.

Events, counts and rollups are lake tables (``lake``: Parquet files in the bucket or shared
directory, their catalog in PostgreSQL); sites, users, keys, goals, alerts and the audit log are
plain PostgreSQL tables (``pg``), so every node sees a change at once and keys stay unique.
Each cursor's search path names both, so hush's SQL is the same on either store. A DuckDB
transaction may write to only one of them, which hush's transactions respect.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb
import psycopg

from aggregator.lake.extensions import extension_directory
from aggregator.lake.locks import MIGRATE, LakeLocks
from aggregator.lake.rollup_cache import RollupCache
from aggregator.store import LARGE_BLOCK_MEMORY, Store, duckdb_config

log = logging.getLogger("hush.lake")


@dataclass(frozen=True, slots=True)
class LakeConfig:
    catalog: str  # libpq connection string of the PostgreSQL database
    data: str  # s3://bucket/prefix/ or a directory
    work_dir: Path  # this node's private files: the extension links, spilled query data
    schema: str = "hush"
    s3_endpoint: str = ""
    s3_key_id: str = ""
    s3_secret: str = ""
    s3_region: str = "us-east-1"
    s3_url_style: str = "vhost"
    s3_use_ssl: bool = True

    @property
    def data_path(self) -> str:
        if self.data.startswith("s3://"):
            return self.data.rstrip("/") + "/"
        return str(Path(self.data).resolve()) + "/"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class LakeStore(Store):
    lake = True

    def __init__(
        self, config: LakeConfig, *, memory_limit: str | None = None, threads: int | None = None
    ) -> None:
        self.config = config
        config.work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not config.data.startswith("s3://"):
            Path(config.data).mkdir(mode=0o700, parents=True, exist_ok=True)
        self._config = duckdb_config(memory_limit, threads)
        self._config.update(
            {
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": True,
                "extension_directory": str(extension_directory(config.work_dir / "extensions")),
                "temp_directory": str(config.work_dir / "tmp"),
            }
        )
        self.locks = LakeLocks(config.catalog)
        # Writers name the lake first. Readers name only this node's cache (its copy of the
        # rollups, and views of the lake's other tables) and PostgreSQL: a search path that
        # names the lake opens a DuckLake transaction, catalog round trips included (~8 ms),
        # for every statement, even one that reads the cache alone.
        self._write_path = f"lake.main,pg.{config.schema}"
        self._read_path = f"cache.main,pg.{config.schema}"
        self.path = config.work_dir / "lake"  # nothing is written there; names the store
        self._init_users()
        with psycopg.connect(config.catalog, autocommit=True) as pg:
            # One node at a time creates the catalog and migrates it.
            pg.execute("SELECT pg_advisory_lock(%s)", (MIGRATE,))
            try:
                self._con = self._connect(self.path)
                self.schema_version = migrate_lake(self._con, pg, config.schema)
            finally:
                pg.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE,))
        self.rollup_cache = RollupCache(self, config.schema)
        self.rollup_cache.create()
        self.rollup_cache.start()

    def _connect(self, path: Path) -> duckdb.DuckDBPyConnection:
        c = self.config
        con = duckdb.connect(":memory:", config=self._config)  # type: ignore[arg-type]
        if c.data.startswith("s3://"):
            # Upload parts are max_filesize / 10,000 (80 MB by default, beyond a small
            # server's memory limit); at 50 GB a part is S3's 5 MB minimum.
            con.execute("SET GLOBAL s3_uploader_max_filesize = '50GB'")
            con.execute(
                "CREATE SECRET hush_s3 (TYPE s3, PROVIDER config"
                f", KEY_ID {_quote(c.s3_key_id)}, SECRET {_quote(c.s3_secret)}"
                f", REGION {_quote(c.s3_region)}, URL_STYLE {_quote(c.s3_url_style)}"
                f", USE_SSL {'true' if c.s3_use_ssl else 'false'}"
                + (f", ENDPOINT {_quote(c.s3_endpoint)}" if c.s3_endpoint else "")
                + ")"
            )
        with psycopg.connect(c.catalog, autocommit=True) as pg:
            pg.execute(f"CREATE SCHEMA IF NOT EXISTS {c.schema}")
        # Inlining off: small inserts would otherwise sit as rows in PostgreSQL, where a DELETE
        # does not remove their bytes (P8; the engine review's §1.5).
        con.execute(
            f"ATTACH {_quote('ducklake:postgres:' + c.catalog)} AS lake"
            f" (DATA_PATH {_quote(c.data_path)}, METADATA_SCHEMA {_quote(c.schema + '_lake')},"
            " DATA_INLINING_ROW_LIMIT 0)"
        )
        con.execute(f"ATTACH {_quote(c.catalog)} AS pg (TYPE postgres, SCHEMA {_quote(c.schema)})")
        cache = c.work_dir / "rollups.duckdb"
        for stale in (cache, Path(f"{cache}.wal")):
            stale.unlink(missing_ok=True)  # rebuilt from the lake at every start
        con.execute(f"ATTACH {_quote(str(cache))} AS cache")
        self._limit_at_least(con, LARGE_BLOCK_MEMORY)
        return con

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = self._con.cursor()
        cursor.execute(f"SET search_path = {_quote(self._read_path)}")
        return cursor

    @contextmanager
    def raw_cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor for statements that name their catalogs (``lake.``, ``cache.``)."""
        with self._using():
            cursor = self._con.cursor()
            try:
                yield cursor
            finally:
                cursor.close()

    @contextmanager
    def writer(self, *, exclusive: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """The writer, holding the gate shared (or, for deletes of tables loaders insert into,
        exclusively). Writes of one node still go one at a time."""
        gate = self.locks.exclusive() if exclusive else self.locks.shared()
        with gate, super().writer() as cursor:
            cursor.execute(f"SET search_path = {_quote(self._write_path)}")
            yield cursor

    def tidy(self) -> None:
        """Merge the small files frequent commits leave, expire snapshots older than an hour
        and delete the files none of them needs: the catalog stays small (about 4 KB a commit
        until then) and readers on other nodes keep an hour to finish with old files."""
        with self._using(), self.locks.shared():
            cur = self._con.cursor()
            try:
                cur.execute("CALL ducklake_merge_adjacent_files('lake')")
                cur.execute(
                    "CALL ducklake_expire_snapshots('lake', older_than => now() - INTERVAL 1 HOUR)"
                )
                cur.execute(
                    "CALL ducklake_cleanup_old_files('lake', older_than => now() - INTERVAL 1 HOUR)"
                )
            finally:
                cur.close()

    def rollups_changed(self) -> None:
        self.rollup_cache.refresh()

    def leads(self) -> bool:
        return self.locks.try_lead()

    @contextmanager
    def serialized(self, name: str) -> Iterator[None]:
        if name != "audit":
            raise ValueError(name)
        with self.locks.audit():
            yield

    def checkpoint(self) -> None:
        """Merge the small files of frequent commits (no effect on what is stored)."""
        with self._using(), self.locks.shared():
            self._con.execute("CALL ducklake_merge_adjacent_files('lake')")

    def release_memory(self) -> bool:
        """Not reopened: the connection holds this node's copy of the rollups, rebuilt from
        the lake when it opens."""
        return False

    def settle(self, wal_bytes: int) -> None:
        """Nothing: DuckLake writes each commit's files at once, and the pool holds this
        node's copy of the rollups."""

    def empty_pool(self) -> bool:
        """Nothing: the pool holds this node's copy of the rollups."""
        return False

    def _close(self) -> None:
        """Closed as it is: DuckLake has no WAL to checkpoint first."""
        self._con.close()

    def compact(self) -> int:
        """Make deleted rows unreadable: rewrite files with deletes, expire every old snapshot
        and delete the files no snapshot needs (the engine review's retention recipe). Returns
        the bytes the live files shrank by."""
        before = self._live_bytes()
        with self._using(), self.locks.exclusive():
            cur = self._con.cursor()
            try:
                cur.execute("CALL ducklake_rewrite_data_files('lake', delete_threshold => 0)")
                cur.execute("CALL ducklake_expire_snapshots('lake', older_than => now())")
                cur.execute("CALL ducklake_cleanup_old_files('lake', cleanup_all => true)")
            finally:
                cur.close()
            self._forget_catalog_values()
        return before - self._live_bytes()

    def _forget_catalog_values(self) -> None:
        """The catalog keeps each table's min and max of every column, and a DELETE leaves
        them as they were: a deleted event's path or property could stay the bound of its
        column there. They only help DuckDB skip files (the files' own bounds remain), so they
        go; then the catalog's tables are rewritten so that the old rows' bytes go too."""
        lake = f"{self.config.schema}_lake"
        with psycopg.connect(self.config.catalog, autocommit=True) as pg:
            pg.execute(
                f"UPDATE {lake}.ducklake_table_column_stats"  # noqa: S608 - a checked name
                " SET min_value = NULL, max_value = NULL"
                " WHERE min_value IS NOT NULL OR max_value IS NOT NULL"
            )
            # VACUUM FULL locks the table: waiting behind a long reader would stall every
            # node's catalog reads queued behind it, so it gives up after 2 s (the values are
            # already gone from the live rows; the next retention run vacuums again).
            pg.execute("SET lock_timeout = '2s'")
            for table in ("ducklake_table_column_stats", "ducklake_file_column_stats"):
                try:
                    pg.execute(f"VACUUM FULL {lake}.{table}")
                except psycopg.errors.LockNotAvailable:
                    log.warning("VACUUM FULL of the catalog's %s waited too long: next time", table)

    def _live_bytes(self) -> int:
        with self.read() as cur:
            row = cur.execute(
                "SELECT coalesce(sum(file_size_bytes), 0)::BIGINT"  # noqa: S608 - a checked name
                f" FROM __ducklake_metadata_lake.{self.config.schema}_lake.ducklake_data_file"
                " WHERE end_snapshot IS NULL"
            ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.rollup_cache.stop()
        super().close()
        self.locks.close()


def lake_migrations() -> list[tuple[int, str, str]]:
    """Every lake migration, as (version, PostgreSQL SQL for the admin tables, DuckDB SQL for
    the lake tables), in order."""
    folder = resources.files("aggregator.lake.migrations")
    found: dict[int, dict[str, str]] = {}
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(("_admin.sql", "_lake.sql")):
            part = "admin" if name.endswith("_admin.sql") else "lake"
            found.setdefault(int(name[:4]), {})[part] = entry.read_text(encoding="utf-8")
    return [
        (v, parts.get("admin", ""), parts.get("lake", "")) for v, parts in sorted(found.items())
    ]


def migrate_lake(
    con: duckdb.DuckDBPyConnection, pg: psycopg.Connection[tuple[object, ...]], schema: str
) -> int:
    """Bring the admin tables and the lake up to date; return the version. The caller holds
    the migration lock; ``schema`` is a checked plain name (HUSH_LAKE_SCHEMA). The lake's DDL
    runs first (DuckDB), then the admin DDL and the new
    version in one PostgreSQL transaction."""
    pg.execute(f"CREATE TABLE IF NOT EXISTS {schema}.schema_version (version INTEGER NOT NULL)")
    row = pg.execute(f"SELECT max(version) FROM {schema}.schema_version").fetchone()  # noqa: S608
    current = int(str(row[0])) if row and row[0] is not None else 0
    for version, admin_sql, lake_sql in lake_migrations():
        if version <= current:
            continue
        if lake_sql:
            con.execute("USE lake")
            con.execute(lake_sql)
            con.execute("USE memory")
        with pg.transaction():
            pg.execute(f"SET LOCAL search_path TO {schema}")
            if admin_sql:
                pg.execute(admin_sql.encode())
            pg.execute(f"INSERT INTO {schema}.schema_version VALUES (%s)", (version,))  # noqa: S608
        current = version
    con.execute("CALL lake.set_option('parquet_compression', 'zstd')")
    # Kept in the catalog for every node: a node that turned inlining on would put small
    # inserts' rows in PostgreSQL, where a DELETE leaves their bytes (P8).
    con.execute("CALL lake.set_option('data_inlining_row_limit', 0)")
    con.execute("CALL pg_clear_cache()")
    return current
