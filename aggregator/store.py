"""The DuckDB store: one connection per process, one writer at a time, migrations on open.

DuckDB allows one process to open the file for writing, so while ``hush serve`` runs it is the
only process that touches the database; other commands go through its admin endpoint.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class StoreBusy(Exception):
    """Another process holds the database file (a running ``hush serve``)."""


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreBusy(str(path)) from None
            raise
        self._write_lock = threading.Lock()
        self.path = path
        self.schema_version = migrate(self._con)

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own for one reader (safe to use from any thread)."""
        cursor = self._con.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction of the single writer: committed on success, rolled back on error."""
        with self._write_lock:
            cursor = self._con.cursor()
            try:
                cursor.begin()
                yield cursor
                cursor.commit()
            except BaseException:
                cursor.rollback()
                raise
            finally:
                cursor.close()

    def checkpoint(self) -> None:
        with self._write_lock:
            self._con.execute("CHECKPOINT")

    def close(self) -> None:
        self._con.close()


def migrations() -> list[tuple[int, str]]:
    """Every migration shipped with hush, as (version, SQL), in order."""
    found = []
    for entry in resources.files("aggregator.migrations").iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the schema up to date, one transaction per migration; return the version."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    current = row[0] if row and row[0] is not None else 0
    for version, sql in migrations():
        if version <= current:
            continue
        con.begin()
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES ($v)", {"v": version})
            con.commit()
        except BaseException:
            con.rollback()
            raise
        current = version
    return current
