"""The spool loader: closed and orphaned segments into DuckDB, in batches, exactly once.

Each pass takes every closed segment (``.seg``) and every open one whose writer died (its
flock(2) lock can be taken), parses their event lines with DuckDB's JSON functions (from one
file of the batch's event lines: pyarrow's reader took more CPU per event and ~25 MiB to
import), and inserts the events, the intake counts (per minute and per hour), the other
security signals (limited clients and slots, unknown hosts and event names) and the segment
ids in one transaction. Segments whose id is already recorded were loaded before a crash and
are only deleted. Lines that do not parse (a write torn by a crash or a power cut) are skipped
and counted as ``torn_line``.
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import orjson

from aggregator.rollups import mark_changed
from aggregator.store import Store, transaction
from collector.counters import MAX_VALUE_LENGTH, MAX_VALUES, OTHER
from collector.spool import CLOSED, NEW, OPEN

log = logging.getLogger("hush.loader")

# Bytes of segments per transaction (at least one segment): DuckDB holds a batch about three
# times over while it inserts (the parsed lines, the transaction's rows), within its memory
# limit (4 MiB, ~15,000 events, loads within 24 MiB).
MAX_BATCH_BYTES = 4 * 1024 * 1024
STALE_NEW_SECONDS = 60

# The spool line's fields and their types; a field a line lacks is NULL.
EVENT_COLUMNS = {
    "t": "BIGINT",
    "s": "INTEGER",
    "d": "INTEGER",
    "n": "VARCHAR",
    "h": "VARCHAR",
    "p": "VARCHAR",
    "rh": "VARCHAR",
    "rp": "VARCHAR",
    "so": "VARCHAR",
    "us": "VARCHAR",
    "um": "VARCHAR",
    "uc": "VARCHAR",
    "ux": "VARCHAR",
    "ut": "VARCHAR",
    "v": "UBIGINT",
    "pk": "VARCHAR[]",
    "pv": "VARCHAR[]",
    "i": "BOOLEAN",
    "sd": "UTINYINT",
    "e": "UINTEGER",
    "b": "VARCHAR",
    "bv": "VARCHAR",
    "o": "VARCHAR",
    "ov": "VARCHAR",
    "dv": "VARCHAR",
    "c": "VARCHAR",
    "ch": "VARCHAR",
}
EVENT_STRUCTURE = orjson.dumps(EVENT_COLUMNS).decode()
# Each line is read whole as one text (by the CSV reader: no quotes, a delimiter JSON never
# holds unescaped), then parsed: read_json takes a fixed 32 MiB buffer for any batch, which
# kept DuckDB's memory limit at 64 MiB. A line that does not parse (TRY), or a value of the
# wrong type (json_transform), becomes NULLs, which INSERT_EVENTS leaves out and the loader
# counts as torn; the CSV reader drops a line that is not UTF-8, counted the same way.
READ_BATCH = """
CREATE TEMP TABLE batch AS
SELECT unnest(TRY(json_transform(line, $columns)))
FROM read_csv($path, columns = {'line': 'VARCHAR'}, delim = chr(1), quote = '', escape = '',
              header = false, auto_detect = false, strict_mode = false, ignore_errors = true,
              max_line_size = 1048576, buffer_size = 1048576)
"""
BATCH_FILE = ".loading.ndjson"  # in the spool dir; no segment suffix, so never claimed

INSERT_EVENTS = """
INSERT INTO events (ts, site_id, day, name, hostname, path, referrer_host, referrer_path,
                    source, utm_source, utm_medium, utm_campaign, utm_content, utm_term,
                    visitor, props, interactive, scroll_depth, engaged_ms,
                    browser, browser_version, os, os_version, device, country, channel)
SELECT epoch_ms(t), s, DATE '1970-01-01' + d, n, h, p, rh, rp, so, us, um, uc, ux, ut, v,
       map(pk, pv), i, sd, e,
       -- Segments written before enrichment existed lack these fields.
       coalesce(b, ''), coalesce(bv, ''), coalesce(o, ''), coalesce(ov, ''), coalesce(dv, ''),
       coalesce(c, ''), coalesce(ch, '')
FROM batch
WHERE NOT (t IS NULL OR s IS NULL OR d IS NULL OR n IS NULL OR h IS NULL OR p IS NULL
      OR rh IS NULL OR rp IS NULL OR so IS NULL OR us IS NULL OR um IS NULL OR uc IS NULL
      OR ux IS NULL OR ut IS NULL OR v IS NULL OR pk IS NULL OR pv IS NULL OR i IS NULL
      OR len(pk) <> len(pv))
"""


@dataclass(slots=True)
class LoadReport:
    segments: int = 0
    events: int = 0
    torn_lines: int = 0
    already_loaded: int = 0
    ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Segment:
    path: Path
    fd: int  # kept open (and, for orphans, locked) until the segment is deleted


def load_pending(store: Store, spool_dir: Path, report: LoadReport | None = None) -> LoadReport:
    """One loader pass; safe to run at any time and twice. What it loads is added to
    ``report`` as each batch commits, so a pass that fails after a commit (its upkeep, a later
    batch) has still counted what it stored."""
    report = LoadReport() if report is None else report
    segments = _claim_segments(spool_dir)
    try:
        while segments:
            batch: list[_Segment] = []
            size = 0
            while segments and (not batch or size < MAX_BATCH_BYTES):
                segment = segments.pop(0)
                size += os.fstat(segment.fd).st_size
                batch.append(segment)
            _load_batch(store, batch, report, spool_dir / BATCH_FILE)
    finally:
        for segment in segments:
            os.close(segment.fd)
    return report


def _claim_segments(spool_dir: Path) -> list[_Segment]:
    claimed = []
    try:
        names = sorted(os.listdir(spool_dir))
    except FileNotFoundError:
        return []
    for name in names:
        path = spool_dir / name
        suffix = path.suffix
        if suffix not in (CLOSED, OPEN, NEW):
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # renamed or deleted meanwhile: seen on the next pass
        if suffix == CLOSED:
            claimed.append(_Segment(path, fd))
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # its writer is alive
            continue
        if not _still_named(path, fd):
            # Its writer closed it (renamed to .seg, then unlocked) since it was opened: the
            # next pass takes it by its new name. Loaded here, its file would outlive the
            # record of its loading and be loaded again.
            os.close(fd)
            continue
        if suffix == OPEN:
            log.warning("loading orphaned segment %s (its writer died)", name)
            claimed.append(_Segment(path, fd))
        else:
            # A writer died between creating and naming a segment: it holds nothing.
            if time.time() - os.fstat(fd).st_mtime > STALE_NEW_SECONDS:
                path.unlink(missing_ok=True)
            os.close(fd)
    return claimed


def _still_named(path: Path, fd: int) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _load_batch(store: Store, batch: list[_Segment], report: LoadReport, batch_file: Path) -> None:
    ids = [segment.path.stem for segment in batch]
    with store.read() as cur:
        done = {
            row[0]
            for row in cur.execute(
                "SELECT id FROM loaded_segments WHERE list_contains($ids, id)", {"ids": ids}
            ).fetchall()
        }
    counts: list[list[int | str]] = []
    signals = Signals()
    events = torn = 0
    fresh = [segment for segment in batch if segment.path.stem not in done]
    # One segment in memory at a time: its event lines go straight to the batch file.
    with open(batch_file, "wb") as fh:
        for segment in fresh:
            seg_events, seg_counts, seg_torn = _copy_events(_read_all(segment.fd), fh, signals)
            events += seg_events
            counts.extend(seg_counts)
            torn += seg_torn
    counts.extend(signals.hours())
    now = datetime.now(UTC).replace(tzinfo=None)
    hour = int(time.time() // 3600) * 3600
    inserted = 0
    with store.writer() as cur:
        if events:
            # In a statement of its own, and dropped once the load is committed: a table the
            # transaction dropped stayed in DuckDB's memory until its commit, and so beside
            # the checkpoint that commit could start (the server's peak under ingest).
            cur.execute(READ_BATCH, {"path": str(batch_file), "columns": EVENT_STRUCTURE})
        try:
            with transaction(cur):
                if events:
                    row = cur.execute(INSERT_EVENTS).fetchone()
                    # Late events for a day already rolled up: it rolls up again (or, still
                    # open, its provisional rollup is rebuilt).
                    mark_changed(
                        cur,
                        "SELECT DISTINCT s AS site_id, DATE '1970-01-01' + d AS day FROM batch",
                        lake=store.lake,
                    )
                    inserted = row[0] if row else 0
                    torn += events - inserted  # lines that did not parse, or lack a field
                if torn:
                    counts.append([hour, 0, "torn_line", "", torn])
                if counts:
                    cur.executemany(
                        "INSERT INTO intake_counts (hour, site_id, reason, detail, category, n)"
                        " VALUES (make_timestamp($1::BIGINT * 1000000), $2, $3, $4, $5, $6)",
                        _summed(counts),
                    )
                signals.insert(cur)
                if fresh:
                    cur.executemany(
                        "INSERT INTO loaded_segments VALUES ($1, $2)",
                        [[segment.path.stem, now] for segment in fresh],
                    )
        finally:
            if events:
                cur.execute("DROP TABLE batch")
    report.segments += len(fresh)
    report.already_loaded += len(batch) - len(fresh)
    report.events += inserted
    report.torn_lines += torn
    report.ids.extend(segment.path.stem for segment in fresh)
    if torn:
        log.warning("skipped %d torn spool lines", torn)
    batch_file.unlink()
    for segment in batch:
        segment.path.unlink(missing_ok=True)
        os.close(segment.fd)
    # Once a segment file is gone its id can never come back (ids are unique), so its record
    # is no longer needed. (On a lake a DELETE here would conflict with other nodes' inserts:
    # the maintenance leader purges old records instead, ``purge_loaded_segments``.)
    if not store.lake:
        with store.write() as cur:
            cur.execute("DELETE FROM loaded_segments WHERE list_contains($ids, id)", {"ids": ids})
    store.after_load()


def purge_loaded_segments(store: Store, *, older_than_days: int = 2) -> None:
    """A lake's records of segments loaded days ago: their files are long gone (a crashed
    node's segment is loaded within seconds of its restart)."""
    if store.lake:
        with store.write(exclusive=True) as cur:
            cur.execute(
                "DELETE FROM loaded_segments WHERE loaded_at < now()::TIMESTAMP - $days::INTEGER"
                " * INTERVAL 1 DAY",
                {"days": older_than_days},
            )


def _read_all(fd: int) -> bytes:
    """A closed (or orphaned) segment's bytes, read into one buffer: it no longer grows."""
    os.lseek(fd, 0, os.SEEK_SET)
    return io.FileIO(fd, closefd=False).readall()


def _copy_events(
    data: bytes, out: BinaryIO, signals: Signals
) -> tuple[int, list[list[int | str]], int]:
    """Write one segment's event lines to ``out`` (each run of them in one write, without a
    copy per line); return how many there were, the hourly counter rows and the number of torn
    lines. The security signals of the segment's counter lines go to ``signals``."""
    view = memoryview(data)
    counts: list[list[int | str]] = []
    # Every complete line ends with a newline; what follows the last one was cut short.
    end = data.rfind(b"\n") + 1
    torn = 1 if data[end:].strip(b"\0 ") else 0
    events = run = pos = 0  # data[run:pos]: event lines not written yet
    while pos < end:
        next_line = data.index(b"\n", pos) + 1
        if data.startswith(b'{"t":', pos):
            events += 1
            pos = next_line
            continue
        out.write(view[run:pos])
        # A power cut can leave runs of NUL bytes where blocks were allocated but not written.
        line = data[pos : next_line - 1].lstrip(b"\0")
        if line.startswith(b'{"t":'):
            out.write(line + b"\n")
            events += 1
        elif line.startswith(b'{"c":'):
            try:
                counts.extend(orjson.loads(line)["c"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                torn += 1
        elif line.startswith(b'{"m":'):
            try:
                signals.add(orjson.loads(line))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                torn += 1
        elif line.strip(b"\0 "):
            torn += 1
        run = pos = next_line
    out.write(view[run:pos])
    return events, counts, torn


def _summed(rows: list[list[int | str]]) -> list[list[int | str]]:
    """Counter rows summed per (hour, site, reason, detail, category); 4- and 5-field rows
    predate ``detail`` and ``category``."""
    totals: dict[tuple[int | str, ...], int] = {}
    for row in rows:
        hour, site, reason, *rest = row
        *labels, n = rest
        detail, category = [*labels, "", ""][:2]
        key = (hour, site, reason, detail, category)
        totals[key] = totals.get(key, 0) + int(n)
    return [[*key, n] for key, n in totals.items()]


class Signals:
    """The security signals of a batch's counter lines, summed, then inserted with it."""

    def __init__(self) -> None:
        self.minutes: Counter[tuple[int, int, str, str, str]] = Counter()
        self.clients: Counter[tuple[int, int]] = Counter()
        self.slots: Counter[tuple[int, int, int, int]] = Counter()
        self.values: Counter[tuple[int, int, str, str]] = Counter()

    def add(self, line: dict[str, list[list[Any]]]) -> None:
        for minute, site, reason, detail, category, n in line["m"]:
            self.minutes[(int(minute), int(site), str(reason), str(detail), str(category))] += n
        for hour, site, n in line.get("l", ()):
            self.clients[(int(hour), int(site))] += int(n)
        for day, site, run, slot, n in line.get("s", ()):
            self.slots[(int(day), int(site), int(run), int(slot))] += int(n)
        for hour, site, kind, value, n in line.get("u", ()):
            self.values[(int(hour), int(site), str(kind), str(value)[:MAX_VALUE_LENGTH])] += n

    def hours(self) -> list[list[int | str]]:
        """The minutes as hourly counter rows (intake_counts keeps every hour)."""
        hours: Counter[tuple[int, int, str, str, str]] = Counter()
        for (minute, site, reason, detail, category), n in self.minutes.items():
            hours[(minute // 3600 * 3600, site, reason, detail, category)] += n
        return [[*key, n] for key, n in hours.items()]

    def insert(self, cur: duckdb.DuckDBPyConnection) -> None:
        if self.minutes:
            cur.executemany(
                "INSERT INTO intake_minutes VALUES"
                " (make_timestamp($1::BIGINT * 1000000), $2, $3, $4, $5, $6)",
                [[*key, n] for key, n in self.minutes.items()],
            )
        if self.clients:
            cur.executemany(
                "INSERT INTO limited_clients VALUES (make_timestamp($1::BIGINT * 1000000), $2, $3)",
                [[*key, n] for key, n in self.clients.items()],
            )
        if self.slots:
            cur.executemany(
                "INSERT INTO limited_slots VALUES"
                " (DATE '1970-01-01' + $1::INTEGER, $2, $3, $4, $5)",
                [[*key, n] for key, n in self.slots.items()],
            )
        if self.values:
            cur.executemany(
                "INSERT INTO unknown_values VALUES"
                " (make_timestamp($1::BIGINT * 1000000), $2, $3, $4, $5)",
                self._bounded(cur),
            )

    def _bounded(self, cur: duckdb.DuckDBPyConnection) -> list[list[Any]]:
        """The values, at most ``MAX_VALUES`` distinct per site, kind and hour in the table
        (each collector process bounds its own; together they could exceed it)."""
        groups = sorted({(hour, site, kind) for hour, site, kind, _ in self.values})
        known: dict[tuple[int, int, str], set[str]] = {}
        for hour, site, kind in groups:
            rows = cur.execute(
                "SELECT DISTINCT value FROM unknown_values WHERE hour ="
                " make_timestamp($hour::BIGINT * 1000000) AND site_id = $site AND kind = $kind",
                {"hour": hour, "site": site, "kind": kind},
            ).fetchall()
            known[(hour, site, kind)] = {row[0] for row in rows}
        out: Counter[tuple[int, int, str, str]] = Counter()
        for (hour, site, kind, value), n in sorted(self.values.items()):
            seen = known[(hour, site, kind)]
            if value not in seen:
                if len(seen - {OTHER}) >= MAX_VALUES:
                    value = OTHER
                seen.add(value)
            out[(hour, site, kind, value)] += n
        return [[*key, n] for key, n in out.items()]
