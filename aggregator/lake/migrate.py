"""``hush lake migrate``: copy an embedded DuckDB file into an empty lake, then prove the copy.

Everything goes through the lake store's one DuckDB connection, with the file attached
read-only as ``src``: the lake tables in one DuckLake transaction (holding the gate
exclusively, so no node loads meanwhile), then the admin tables in one PostgreSQL transaction,
ids kept, and each PostgreSQL sequence moved past the largest id it has handed out. (A DuckDB
transaction writes to one attached database only, so two is the fewest.) The proof: equal row
counts in every table, the audit log's chain verifying on the lake, and a fixed list of queries
through the query engine giving the same rows from the file and from the lake.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from aggregator import audit_log
from aggregator.audit_log import CLI
from aggregator.lake.store import LakeStore
from aggregator.queries import GOAL, Query, QueryError, run_query
from aggregator.store import Store, StoreBusy

# Lake tables and the order their rows are written in (events: a visitor's day side by side,
# as the lake's SORTED BY asks). loaded_segments stays behind: it names the file's spool.
LAKE_TABLES = {
    "events": "site_id, day, visitor, ts",
    "rollups": "site_id, day, spec, g0, g1",
    "rolled_days": "site_id, day",
    "intake_counts": "hour, site_id",
    "intake_minutes": "minute, site_id",
    "limited_clients": "hour, site_id",
    "limited_slots": "day, site_id, run, slot",
    "unknown_values": "hour, site_id",
}
ADMIN_TABLES = (
    "sites",
    "users",
    "user_sites",
    "api_keys",
    "goals",
    "login_sessions",
    "one_time_links",
    "audit_log",
    "audit_log_anchor",
    "alerts",
)
SEQUENCES = {
    "sites": "site_ids",
    "users": "user_ids",
    "api_keys": "api_key_ids",
    "goals": "goal_ids",
}

METRICS = ("visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration")
# The questions asked of both stores, per site, over all of its days.
QUESTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("totals", ()),
    ("by day", ("time:day",)),
    ("by month", ("time:month",)),
    ("by page", ("event:page",)),
    ("by entry page", ("visit:entry_page",)),
    ("by source", ("visit:source",)),
    ("by channel", ("visit:channel",)),
    ("by UTM campaign", ("visit:utm_campaign",)),
    ("by browser", ("visit:browser",)),
    ("by device", ("visit:device",)),
    ("by country", ("visit:country",)),
    ("by event name", ("event:name",)),
    ("by goal", (GOAL,)),
)


class LakeNotEmpty(Exception):
    """The lake holds data already: a migration would mix two installations."""


class SourceMissing(Exception):
    """The DuckDB file to migrate does not exist."""


@dataclass(frozen=True, slots=True)
class MigrationReport:
    source: Path
    counts: dict[str, tuple[int, int]]  # table -> (rows in the file, rows in the lake)
    answers: list[tuple[str, bool]]  # "site: question" -> same rows from both stores
    audit_entries: int
    audit_broken: int | None  # the first entry whose chain breaks on the lake, or None
    copy_seconds: float
    verify_seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def differences(self) -> list[str]:
        found = [
            f"{t}: {a:,} rows in the file, {b:,} in the lake"
            for t, (a, b) in self.counts.items()
            if a != b
        ]
        found += [f"{name}: the answers differ" for name, same in self.answers if not same]
        if self.audit_broken is not None:
            found.append(f"audit_log: the chain breaks at entry {self.audit_broken}")
        return found

    def lines(self) -> list[str]:
        rows = sum(a for a, _ in self.counts.values())
        tables = sum(1 for a, _ in self.counts.values() if a)
        same = sum(1 for _, ok in self.answers if ok)
        out = [
            f"copied {rows:,} rows of {tables} tables from {self.source}"
            f" in {self.copy_seconds:.1f} s (events: {self.counts['events'][1]:,})",
            f"row counts: {'equal' if all(a == b for a, b in self.counts.values()) else 'DIFFER'}"
            f" in all {len(self.counts)} tables",
            f"queries: {same} of {len(self.answers)} give the same rows from the file and the lake"
            f" ({self.verify_seconds:.1f} s)",
            f"audit log: {self.audit_entries:,} entries, "
            + ("the chain verifies" if self.audit_broken is None else "the chain is BROKEN"),
            *self.notes,
        ]
        if self.differences:
            out += ["DIFFERENCES:", *(f"  {d}" for d in self.differences)]
        else:
            out.append("the lake answers as the file did")
        return out


def migrate_to_lake(source: Path, lake: LakeStore, *, now: float) -> MigrationReport:
    """Copy the file at ``source`` into ``lake`` (which must be empty) and verify the copy;
    the lake's audit log gets a ``lake.migrate`` entry either way. Raises SourceMissing,
    StoreBusy (a server holds the file) or LakeNotEmpty before anything is written."""
    if not source.is_file():
        raise SourceMissing(f"{source} does not exist")
    # Opened once as any hush command would: brought to the current schema, and StoreBusy
    # while a server holds it.
    Store(source).close()
    schema = lake.config.schema
    with _attached(lake, source) as src:
        _refuse_unless_empty(lake, schema)
        started = time.monotonic()
        _copy_lake_tables(lake)
        try:
            _copy_admin_tables(lake, schema)
        except BaseException:
            _empty_lake_tables(lake)  # so that the migration can simply be run again
            raise
        copy_seconds = time.monotonic() - started
        lake.rollups_changed()
        started = time.monotonic()
        counts = _counts(lake, schema)
        answers = _compare_answers(src, lake)
        checked, broken = audit_log.verify(lake)
        report = MigrationReport(
            source,
            counts,
            answers,
            checked,
            broken,
            copy_seconds,
            time.monotonic() - started,
        )
    problems = report.differences
    audit_log.record(
        lake,
        CLI,
        "lake.migrate",
        target=source.name,
        result="failed" if problems else "ok",
        reason="; ".join(problems)[:500],
        changes={"rows": {t: b for t, (_, b) in counts.items() if b}},
        now=now,
    )
    return report


class _AttachedFile(Store):
    """The source file as the lake's connection sees it (attached read-only as ``src``), so
    that the query engine reads it through ``read()`` as it reads any store."""

    def __init__(self, lake: LakeStore) -> None:  # no file of its own to open
        self._lake = lake

    @contextmanager
    def read(self, *, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lake.raw_cursor() as cur:
            cur.execute("SET search_path = 'src.main'")
            yield cur


@contextmanager
def _attached(lake: LakeStore, source: Path) -> Iterator[_AttachedFile]:
    quoted = str(source).replace("'", "''")
    with lake.raw_cursor() as cur:
        try:
            cur.execute(f"ATTACH '{quoted}' AS src (READ_ONLY)")
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreBusy(str(source)) from None
            raise
    try:
        yield _AttachedFile(lake)
    finally:
        with lake.raw_cursor() as cur:
            cur.execute("DETACH src")


def _refuse_unless_empty(lake: LakeStore, schema: str) -> None:
    with lake.raw_cursor() as cur:
        held = []
        for table in (*LAKE_TABLES, *ADMIN_TABLES):
            row = cur.execute(f"SELECT count(*) FROM {_target(table, schema)}").fetchone()  # noqa: S608
            if row and row[0]:
                held.append(f"{row[0]:,} rows in {table}")
    if held:
        raise LakeNotEmpty(
            f"the lake (schema {schema}) is not empty: it holds {', '.join(held[:4])}"
            f"{' and more' if len(held) > 4 else ''}; hush lake migrate copies only into an"
            " empty lake (a new HUSH_LAKE_SCHEMA and HUSH_LAKE_DATA)"
        )


def _target(table: str, schema: str) -> str:
    return f"lake.main.{table}" if table in LAKE_TABLES else f"pg.{schema}.{table}"


def _copy_lake_tables(lake: LakeStore) -> None:
    with lake.write(exclusive=True) as cur:
        for table, order in LAKE_TABLES.items():
            cur.execute(
                f"INSERT INTO lake.main.{table} BY NAME"  # noqa: S608 - fixed names
                f" SELECT * FROM src.main.{table} ORDER BY {order}"
            )


def _empty_lake_tables(lake: LakeStore) -> None:
    with lake.write(exclusive=True) as cur:
        for table in LAKE_TABLES:
            cur.execute(f"DELETE FROM lake.main.{table}")  # noqa: S608 - fixed names
    lake.compact()


def _copy_admin_tables(lake: LakeStore, schema: str) -> None:
    with lake.write() as cur:
        for table in ADMIN_TABLES:
            cur.execute(
                f"INSERT INTO pg.{schema}.{table} BY NAME"  # noqa: S608 - fixed names
                f" SELECT * FROM src.main.{table}"
            )
    # Sequences are outside transactions in PostgreSQL; each next id follows the largest copied.
    with lake.raw_cursor() as cur:
        for table, sequence in SEQUENCES.items():
            sql = (
                f"SELECT setval('{schema}.{sequence}', coalesce(max(id), 0) + 1, false)"  # noqa: S608
                f" FROM {schema}.{table}"
            )
            cur.execute("CALL postgres_execute('pg', $sql)", {"sql": sql})


def _counts(lake: LakeStore, schema: str) -> dict[str, tuple[int, int]]:
    counts = {}
    with lake.raw_cursor() as cur:
        for table in (*LAKE_TABLES, *ADMIN_TABLES):
            before = cur.execute(f"SELECT count(*) FROM src.main.{table}").fetchone()  # noqa: S608
            after = cur.execute(f"SELECT count(*) FROM {_target(table, schema)}").fetchone()  # noqa: S608
            counts[table] = (int(before[0]) if before else 0, int(after[0]) if after else 0)
    return counts


def _compare_answers(src: Store, lake: Store) -> list[tuple[str, bool]]:
    with src.read() as cur:
        spans: list[tuple[int, str, str, date, date]] = cur.execute(
            "SELECT s.id, s.domain, s.timezone, min(d.day), max(d.day) FROM sites s"
            " JOIN (SELECT site_id, day FROM events UNION ALL SELECT site_id, day FROM rolled_days)"
            " d ON d.site_id = s.id GROUP BY ALL ORDER BY s.id"
        ).fetchall()
    answers = []
    for site_id, domain, timezone, first, last in spans:
        for name, dimensions in QUESTIONS:
            query = Query(site_id, first, last, METRICS, dimensions, timezone=timezone)
            answers.append((f"{domain}: {name}", _answer(src, query) == _answer(lake, query)))
    return answers


def _answer(store: Store, query: Query) -> Any:
    """The rows, in an order that does not depend on ties; or the error both should give."""
    try:
        rows = run_query(store, query)
    except QueryError as exc:
        return str(exc)
    return sorted(repr(sorted(row.items())) for row in rows)
