"""Raw-event retention (P8): raw events older than ``HUSH_RAW_RETENTION_DAYS`` are deleted once
their day is rolled up, and the database file is then rewritten so their bytes are gone too.

Rollups carry no visitor ids and are kept, but not as they are (P7): when a day loses its raw
events, every rollup row of that day about fewer than k people (k = ``HUSH_MIN_VISITORS`` at
purge time) is folded into one "(fewer than k)" row of its day and rollup, so the long-term
store never holds a row about fewer than k people. Raising k later does not fold days already
purged again (their raw events are gone; queries still fold their rows under today's k);
lowering it cannot bring folded rows back. Site totals (the rollups ``''`` and ``time:hour``,
which name no property) are kept whole: P7 shows unfiltered totals as they are.
``hush retention --dry-run`` shows what would go.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from aggregator.clock import Clock
from aggregator.queries import BASE_COLUMNS, ROLLUP_SPECS, folded_label, spec_name
from aggregator.sites import local_dates
from aggregator.store import Store, transaction

log = logging.getLogger("hush.retention")

DEFAULT_MIN_VISITORS = 3  # HUSH_MIN_VISITORS's default


@dataclass(frozen=True, slots=True)
class Expired:
    domain: str
    first_day: date
    last_day: date
    events: int


@dataclass(slots=True)
class RetentionReport:
    retention_days: int
    expired: list[Expired] = field(default_factory=list)
    waiting: int = 0  # old events whose day is not rolled up yet: kept until it is
    deleted: int = 0
    bytes_freed: int = 0

    def lines(self, *, dry_run: bool) -> list[str]:
        verb = "would delete" if dry_run else "deleted"
        if not self.expired:
            out = [f"no raw events older than {self.retention_days} days"]
        else:
            out = [
                f"{verb} {e.events} raw events of {e.domain} from {e.first_day} to {e.last_day}"
                for e in self.expired
            ]
        if self.waiting:
            out.append(f"{self.waiting} old events wait for their day's rollup before they go")
        if self.bytes_freed:
            out.append(f"the database file shrank by {self.bytes_freed} bytes")
        return out


def _cutoffs(cur: Any, retention_days: int, now: float) -> list[tuple[int, str, date]]:
    """Each site's id, domain and the first local day whose raw events are kept."""
    return [
        (site_id, domain, today - timedelta(days=retention_days))
        for site_id, domain, today in local_dates(cur, now)
    ]


# The days whose final rollups hold all their raw events: only those may lose them.
_ROLLED_UP = "SELECT day FROM rolled_days WHERE site_id = $site AND NOT provisional AND NOT stale"


def expired_raw(store: Store, retention_days: int, now: float) -> RetentionReport:
    """What retention would delete now: rolled-up days older than the retention period."""
    report = RetentionReport(retention_days)
    with store.read() as cur:
        for site_id, domain, cutoff in _cutoffs(cur, retention_days, now):
            row = cur.execute(
                "SELECT min(day), max(day), count(*),"  # noqa: S608 - a fixed fragment
                f" count(*) FILTER (WHERE day NOT IN ({_ROLLED_UP}))"
                " FROM events WHERE site_id = $site AND day < $cutoff",
                {"site": site_id, "cutoff": cutoff},
            ).fetchone()
            if not row or not row[2]:
                continue
            waiting = int(row[3])
            report.waiting += waiting
            if row[2] > waiting:
                report.expired.append(Expired(domain, row[0], row[1], int(row[2]) - waiting))
    return report


def purge_raw(
    store: Store,
    retention_days: int,
    clock: Clock,
    *,
    dry_run: bool,
    min_visitors: int = DEFAULT_MIN_VISITORS,
) -> RetentionReport:
    """Delete expired raw events, fold their days' rollup rows about fewer than
    ``min_visitors`` people, then rewrite the rest sorted by visitor and compact the file."""
    now = clock.now()  # one instant for the report and the deletion, even at midnight
    report = expired_raw(store, retention_days, now)
    if dry_run or not report.expired:
        return report
    with store.write(exclusive=True) as cur:
        for site_id, _domain, cutoff in _cutoffs(cur, retention_days, now):
            params = {"site": site_id, "cutoff": cutoff}
            deleted = cur.execute(
                "DELETE FROM events WHERE site_id = $site AND day < $cutoff"  # noqa: S608
                f" AND day IN ({_ROLLED_UP})",
                params,
            ).fetchone()
            report.deleted += int(deleted[0]) if deleted else 0
            if min_visitors > 1:
                _fold_small_rows(cur, {**params, "k": min_visitors})
            cur.execute(
                "UPDATE rolled_days SET raw_purged = true"
                " WHERE site_id = $site AND day < $cutoff AND NOT provisional AND NOT stale",
                params,
            )
    if not store.lake:  # a lake sorts each file as it writes it (SET SORTED BY)
        with store.writer() as cur:
            # Events arrive in time order; a visitor's day side by side compresses far better
            # (measured at 10M demo events: 23.6 bytes an event in time order, 19.4 sorted).
            # Sorting whole rows holds about twice what a part's sessions do (measured: 75,000
            # of the 10M store's events sort within 64 MiB, 150,000 do not).
            per_part = store.events_per_part() // 2
            # Rollups are written a day at a time; a query reads one rollup over many days,
            # which then lies in a few row groups (their min/max let DuckDB skip the rest).
            # They go first: the fold left deletions scattered through their row groups, and
            # a checkpoint while they stood (the events' copy makes several) rewrote those
            # groups beside the copy's own blocks; at 32 MiB that ran out of memory. Copied
            # and swapped, the old groups are simply dropped.
            _rewrite_sorted(cur, "rollups", ("site_id", "spec"), "day", rows_per_part=per_part)
            _rewrite_sorted(
                cur, "events", ("site_id", "day"), "visitor, ts", rows_per_part=per_part
            )
    store.rollups_changed()
    report.bytes_freed = max(0, store.compact())
    log.info(
        "retention deleted %d raw events; the file shrank by %d bytes",
        report.deleted,
        report.bytes_freed,
    )
    return report


# The days losing their raw events now: what the UPDATE of rolled_days marks purged.
_PURGING = (
    "SELECT day FROM rolled_days WHERE site_id = $site AND day < $cutoff"
    " AND NOT provisional AND NOT stale AND NOT raw_purged"
)
_SUMS = ", ".join(f"sum({column})" for column in BASE_COLUMNS)
# Rollups that name a property; the others hold site totals, which P7 shows as they are.
_FOLDED_SPECS = tuple(spec for spec in ROLLUP_SPECS if any(d != "time:hour" for d in spec))


def _fold_small_rows(cur: Any, params: dict[str, Any]) -> None:
    """Fold each purging day's rows under ``$k`` visitors into one row per rollup and day:
    its properties read "(fewer than k)", its hour (which would date a visit) is NULL, its
    figures are the rows' sums. Within a day, visitors are distinct people: rows are per day."""
    label = folded_label(params["k"])
    for spec in _FOLDED_SPECS:
        groups = [None if d == "time:hour" else label for d in spec] + [None] * (2 - len(spec))
        small = f"site_id = $site AND spec = $spec AND visitors < $k AND day IN ({_PURGING})"
        values = {**params, "spec": spec_name(spec), "g0": groups[0], "g1": groups[1]}
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE folded AS"  # noqa: S608 - fixed fragments
            f" SELECT site_id, day, spec, CAST($g0 AS VARCHAR), CAST($g1 AS VARCHAR), {_SUMS}"
            " FROM rollups"
            f" WHERE {small} GROUP BY site_id, day, spec",
            values,
        )
        cur.execute(f"DELETE FROM rollups WHERE {small}", {**params, "spec": values["spec"]})  # noqa: S608
        cur.execute("INSERT INTO rollups SELECT * FROM folded")
    cur.execute("DROP TABLE IF EXISTS folded")


def _rewrite_sorted(
    cur: Any, table: str, parts: tuple[str, ...], order: str, *, rows_per_part: int
) -> None:
    """Rewrite ``table`` (fixed names throughout) sorted by ``parts``, then ``order``: a copy
    with the same definition is filled a part (one value of ``parts``) at a time, each step
    committed on its own, then swapped in by name in one transaction. (One sort of the whole
    events table, in the transaction that deleted the expired ones, ran out of DuckDB's 64 MiB
    at 3.6M events, and the deletions were lost with it.) A part of more than
    ``rows_per_part`` rows is sorted a range of ``order``'s first column (an integer or a
    date) at a time. ``cur`` is the writer's: no other write runs meanwhile."""
    copy = f"{table}_sorted"
    split = order.split(",")[0].strip()
    [(definition,)] = cur.execute(
        "SELECT sql FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = $table",
        {"table": table},
    ).fetchall()
    prefix = f"CREATE TABLE {table}("
    if not definition.startswith(prefix):
        raise RuntimeError(f"unexpected definition of {table}: {definition[:60]!r}")
    cur.execute(f"DROP TABLE IF EXISTS {copy}")  # left by a run that was stopped
    cur.execute(f"CREATE TABLE {copy}(" + definition.removeprefix(prefix))
    keys = ", ".join(parts)
    where = " AND ".join(f"{key} = ${key}" for key in parts)
    groups = cur.execute(
        f"SELECT {keys}, count(*), min({split}), max({split}) FROM {table}"  # noqa: S608
        f" GROUP BY {keys} ORDER BY {keys}"
    ).fetchall()
    for *values, rows, first, last in groups:
        for low, high in _ranges(first, last, -(-rows // rows_per_part)):
            bounds = f" AND {split} >= $low AND {split} <= $high"
            cur.execute(
                f"INSERT INTO {copy} SELECT * FROM {table} WHERE {where}{bounds}"  # noqa: S608
                f" ORDER BY {order}",
                {**dict(zip(parts, values, strict=True)), "low": low, "high": high},
            )
    with transaction(cur):
        cur.execute(f"DROP TABLE {table}")
        cur.execute(f"ALTER TABLE {copy} RENAME TO {table}")


def _ranges(first: Any, last: Any, count: int) -> list[tuple[Any, Any]]:
    """``count`` adjacent ranges (bounds included) from ``first`` to ``last``, integers or
    dates: every value falls in exactly one."""
    if isinstance(first, date):
        return [
            (date.fromordinal(low), date.fromordinal(high))
            for low, high in _ranges(first.toordinal(), last.toordinal(), count)
        ]
    count = max(1, min(count, last - first + 1))
    edges = [first + (last - first + 1) * n // count for n in range(count + 1)]
    return [(edges[n], edges[n + 1] - 1) for n in range(count)]
