"""Daily rollups: each local day of each site, counted once per rollup in ``ROLLUP_SPECS``.

A day is rolled up for good once it is over in the site's time zone (plus a grace period for
the spool to drain), from the same per-day SQL the query engine runs on raw events, so a range
reads the same numbers from rollups as from raw events. Rolling a day up again replaces its
rows: the job is safe to run twice, and late events (the loader marks the day's ``rolled_days``
row stale, and queries read the day raw meanwhile) are picked up by the next pass.

A day still open (today) gets a *provisional* rollup, rebuilt from its raw events every
``HUSH_LIVE_ROLLUP_INTERVAL`` seconds while events arrive, so that a dashboard never computes
sessions over a busy day's raw events on each call: today's figures lag by up to the interval.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aggregator.clock import Clock
from aggregator.goals import goals_of
from aggregator.queries import (
    BASE_COLUMNS,
    PER_DAY_COLUMNS,
    ROLLUP_SPECS,
    ROLLUP_VERSION,
    VISIT_DIMENSIONS,
    Query,
    SqlParams,
    raw_per_day,
    sessions_sql,
    spec_name,
)
from aggregator.sites import local_dates
from aggregator.store import Store, transaction

log = logging.getLogger("hush.rollups")

GRACE = timedelta(minutes=5)  # after local midnight, for the last segments of the day to load

# Every rollup counts the sessions of one base: its event property (or hour), or none. The base's
# per-session rows are computed once a day (once a part of a busy day); each rollup is then one
# small aggregation of them, joined to the sessions' attributes when it names one (the query
# engine's per-day columns, so the numbers agree).
_SESSION_ATTRIBUTES = (*VISIT_DIMENSIONS.values(),)
# What the bases read of each event (their dimensions, goals, engagement) beside its session,
# and each session's attributes.
_EVENTS_OF_SESSIONS = (
    " SELECT day, visitor, sn, bounce, duration, ts, name, path, hostname, props, scroll_depth,"
    " engaged_ms FROM sessioned"
)
_VISITS_OF_SESSIONS = f" SELECT day, visitor, sn, {', '.join(_SESSION_ATTRIBUTES)} FROM sessions"  # noqa: S608


def _base(spec: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(d for d in spec if not d.startswith("visit:"))


_BASES = sorted({_base(spec) for spec in ROLLUP_SPECS})
_SPECS_OF = {base: [spec for spec in ROLLUP_SPECS if _base(spec) == base] for base in _BASES}


@dataclass(frozen=True, slots=True)
class RollupReport:
    days: int
    rows: int


def rollup_day(store: Store, site_id: int, day: date, *, provisional: bool = False) -> int:
    """(Re)build every rollup of one site's local day; return the rows written.

    ``provisional`` marks the rollup of a day that is not over yet (rebuilt as events arrive)."""
    day_params = {"site": site_id, "day": day}
    # The work is many statements, each committed on its own (a transaction would keep every
    # temporary table it drops in memory until its end); only the rollup is written in one.
    # Between parts, which write only temporary tables, a load waiting meanwhile goes first:
    # a busy day takes tens of seconds, and held throughout, the writer kept every event
    # acknowledged meanwhile out of DuckDB that long. What a load adds to the day is seen by
    # the count at the end, which marks the day stale: it is rolled up again.
    with store.writer() as cur:
        [(timezone,)] = cur.execute(
            "SELECT timezone FROM sites WHERE id = $site", {"site": site_id}
        ).fetchall()
        goals = tuple(goals_of(cur, site_id))  # the rollup event:goal counts today's goals
        events = _events_of(cur, day_params)
        # Every rollup of the day into one temporary table, then into rollups at once: on a
        # lake each INSERT writes files of its own (67 a day, one INSERT per rollup, made the
        # catalog and each node's first read of the rollups slow).
        cur.execute("CREATE TEMP TABLE day_rollups AS SELECT * FROM rollups LIMIT 0")
        # A session is one visitor's, so a busy day's visitors are split into parts, each
        # rolled up apart: DuckDB holds one part's sessions at a time, however busy the day.
        # Every figure of a rollup row is a count or a sum over sessions, and no visitor is in
        # two parts, so the parts' rows add up to the day's. A part is the visitors whose id
        # is ``residue`` modulo ``modulus`` (the whole day is 0 modulo 1); each is measured
        # when its turn comes, and split again if it outgrew a part: loads go in between
        # parts, and today grows as the rollup goes (a part planned at the start at 30,000
        # events held 48,000 three parts later, and ran out of 32 MiB).
        per_part = store.events_per_part()
        parts = [(1, 0)]
        while parts:
            modulus, residue = parts.pop(0)
            events_in, visitors_in = _measure(cur, day_params, modulus, residue)
            split = _parts_of(events_in, visitors_in, per_part)
            if split > 1 and modulus * split <= MAX_MODULUS:
                parts[:0] = [(modulus * split, residue + k * modulus) for k in range(split)]
                continue
            log.debug(
                "rolling up site %d, %s: visitors %d modulo %d, %d events",
                site_id,
                day,
                residue,
                modulus,
                events_in,
            )
            _roll_up_part(cur, site_id, day, timezone, goals, modulus, residue)
            if parts:
                _fold_parts(cur)
            store.let_writers_in()
            if parts:
                # DuckDB's bookkeeping of the last part's statements let go of (it grew with
                # every part), and the rows loads committed in between checkpointed.
                store.empty_pool()
        with transaction(cur):
            return _replace_rollups(cur, day_params, provisional, events)


# The visitors of a part. Typed, or DuckDB casts every visitor id to HUGEINT for the modulo:
# a part of a 900,000-event day took 130 ms to find against 4 (each part does it three times).
_OF_PART = "visitor % CAST($modulus AS UBIGINT) = CAST($residue AS UBIGINT)"
# Past this many parts a part is rolled up as it is (its few visitors are that busy).
MAX_MODULUS = 2**20


def _measure(cur: Any, day_params: dict[str, Any], modulus: int, residue: int) -> tuple[int, int]:
    """Events and (about) visitors of the day's visitors whose id is ``residue`` modulo
    ``modulus``."""
    [(events, visitors)] = cur.execute(
        "SELECT count(*), approx_count_distinct(visitor) FROM events"  # noqa: S608
        f" WHERE site_id = $site AND day = $day AND {_OF_PART}",
        {**day_params, "modulus": modulus, "residue": residue},
    ).fetchall()
    return int(events), int(visitors)


def _parts_of(events: int, visitors: int, per_part: int) -> int:
    """How many parts that many events and visitors are rolled up in: ``per_part`` events at
    most, and half as many visitors, since a part's sessions take more memory than its events
    (~4 events a visitor in the demo; a day where every event was a new visitor spilled 9 MiB
    of sessions at 32 MiB in parts of 32,000 events, and peaked 6 MiB higher than in parts of
    16,000). A lone visitor is one part, however busy."""
    if visitors <= 1:
        return 1
    return max(-(-events // per_part), -(-visitors // (per_part // 2)))


def _events_of(cur: Any, day_params: dict[str, Any]) -> int:
    [(events,)] = cur.execute(
        "SELECT count(*) FROM events WHERE site_id = $site AND day = $day", day_params
    ).fetchall()
    return int(events)


_ROLLUP_KEYS = "site_id, day, spec, g0, g1"
# The rows of every part summed per rollup row (each figure is a count or a sum over sessions).
_SUMMED_PARTS = (
    f"INSERT INTO {{table}} ({_ROLLUP_KEYS}, {', '.join(BASE_COLUMNS)})"  # noqa: S608
    f" SELECT {_ROLLUP_KEYS}, {', '.join(f'sum({column})' for column in BASE_COLUMNS)}"
    f" FROM day_rollups GROUP BY {_ROLLUP_KEYS}"
)


def _fold_parts(cur: Any) -> None:
    """``day_rollups`` summed so far: one row per rollup row, however many parts went in. Each
    part adds a row for most of the day's groups, so unfolded the parts' rows piled up (a
    200,000-event day in 7 parts: 125,530 rows for 25,237), and their sum at the end was the
    rollup's peak."""
    cur.execute("CREATE TEMP TABLE day_folded AS SELECT * FROM day_rollups LIMIT 0")
    cur.execute(_SUMMED_PARTS.format(table="day_folded"))
    cur.execute("DROP TABLE day_rollups")
    cur.execute("ALTER TABLE day_folded RENAME TO day_rollups")


def _replace_rollups(cur: Any, day_params: dict[str, Any], provisional: bool, events: int) -> int:
    """The day's rollups and its ``rolled_days`` row, replaced by ``day_rollups``'s sums."""
    cur.execute("DELETE FROM rollups WHERE site_id = $site AND day = $day", day_params)
    written = cur.execute(_SUMMED_PARTS.format(table="rollups")).fetchall()
    # Replaced by DELETE + INSERT (a lake has no keys for INSERT OR REPLACE).
    cur.execute("DELETE FROM rolled_days WHERE site_id = $site AND day = $day", day_params)
    cur.execute(
        "INSERT INTO rolled_days"
        " (site_id, day, rolled_at, raw_purged, provisional, stale, rollup_version)"
        " VALUES ($site, $day, $now, false, $provisional, $stale, $version)",
        {
            **day_params,
            "now": datetime.now(UTC).replace(tzinfo=None),
            "provisional": provisional,
            # Events loaded meanwhile (another lake node's) may be missing: built again.
            "stale": _events_of(cur, day_params) != events,
            "version": ROLLUP_VERSION,
        },
    )
    return int(written[0][0]) if written else 0


def _roll_up_part(
    cur: Any,
    site_id: int,
    day: date,
    timezone: str,
    goals: tuple[Any, ...],
    modulus: int,
    residue: int,
) -> None:
    """The rollup rows of the day's visitors whose id is ``residue`` modulo ``modulus``, into
    ``day_rollups``."""
    where = "site_id = $site AND day BETWEEN $raw_from AND $raw_to"
    day_params: dict[str, Any] = {"site": site_id, "raw_from": day, "raw_to": day}
    if modulus > 1:
        where += f" AND {_OF_PART}"
        day_params.update(modulus=modulus, residue=residue)
    # Narrow tables, one made at a time: DuckDB keeps a block per column of a table being
    # written, and one row per event with every session attribute (~50 columns) needed more
    # than 32 MiB however few the events.
    sessions = sessions_sql(where)
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE day_sessions AS WITH" + sessions + _EVENTS_OF_SESSIONS,
        day_params,
    )
    cur.execute(
        "CREATE OR REPLACE TEMP TABLE day_visits AS WITH" + sessions + _VISITS_OF_SESSIONS,
        day_params,
    )
    for base in _BASES:
        # The part's sessions are all there is: only local hours need a parameter.
        params = SqlParams(**({"tz": timezone} if "time:hour" in base else {}))
        cte = raw_per_day(
            Query(site_id, day, day, dimensions=base, goals=goals), params, sessions="day_sessions"
        )
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE base AS WITH {cte} SELECT * FROM per_session",  # noqa: S608
            params.values,
        )
        for spec in _SPECS_OF[base]:
            _insert_rollup(cur, site_id, spec)
        cur.execute("DROP TABLE base")
    cur.execute("DROP TABLE day_sessions")
    cur.execute("DROP TABLE day_visits")


def _insert_rollup(cur: Any, site_id: int, spec: tuple[str, ...]) -> None:
    """One rollup of the day (of a part of its visitors), from the per-session rows of its
    base, into ``day_rollups``."""
    base = _base(spec)
    # The base's event properties (or hour) are its g0, g1; a visit property is a session
    # attribute.
    groups = [VISIT_DIMENSIONS.get(d) or f"g{base.index(d)}" for d in spec]
    keep = "true"
    if {"visit:entry_page", "visit:exit_page"} & set(spec):
        keep = "s_entry_page IS NOT NULL"  # sessions without a page view have no entry page
    # The sessions' attributes, only for a rollup by one (a wide base table took more memory).
    visits = " JOIN day_visits USING (day, visitor, sn)" if len(base) < len(spec) else ""
    values = [f"CAST({g} AS VARCHAR)" for g in groups] + ["NULL"] * (2 - len(groups))
    cur.execute(
        f"INSERT INTO day_rollups (site_id, day, spec, g0, g1, {', '.join(BASE_COLUMNS)})"  # noqa: S608
        f" SELECT $site, day, $spec, {', '.join(values)}, {PER_DAY_COLUMNS}"
        f" FROM base{visits} WHERE {keep} GROUP BY {', '.join(['day', *groups])}",
        {"site": site_id, "spec": spec_name(spec)},
    )


def days_to_roll_up(store: Store, now: float) -> list[tuple[int, date]]:
    """Closed local days with raw events and no current final rollup (none, stale, or of an
    older rollup version while the raw events are kept)."""
    return _days_with_events(
        store,
        now,
        "day < $before AND day NOT IN (SELECT day FROM rolled_days"
        "  WHERE site_id = $site AND NOT provisional AND NOT stale"
        "  AND (rollup_version >= $version OR raw_purged))",
        version=ROLLUP_VERSION,
    )


def open_days_to_refresh(store: Store, now: float) -> list[tuple[int, date]]:
    """Open local days with raw events whose provisional rollup is missing, stale or of an
    older rollup version."""
    return _days_with_events(
        store,
        now,
        "day >= $before AND day NOT IN (SELECT day FROM rolled_days"
        "  WHERE site_id = $site AND NOT stale AND rollup_version >= $version)",
        version=ROLLUP_VERSION,
    )


def _days_with_events(
    store: Store, now: float, which: str, **params: Any
) -> list[tuple[int, date]]:
    """(site, day) of each site's days with events that meet ``which`` (a fixed condition on
    ``$site``, ``$before``, the site's first day not closed yet, and ``params``), in order."""
    with store.read() as cur:
        pending: list[tuple[int, date]] = []
        for site_id, before in _closed_before(cur, now):
            rows = cur.execute(
                f"SELECT DISTINCT day FROM events WHERE site_id = $site AND {which} ORDER BY day",  # noqa: S608
                {"site": site_id, "before": before, **params},
            ).fetchall()
            pending.extend((site_id, row[0]) for row in rows)
    return pending


def roll_up_pending(store: Store, clock: Clock) -> RollupReport:
    """Roll up every closed day for good (replacing its provisional rollup, if any)."""
    days = rows = 0
    for site_id, day in days_to_roll_up(store, clock.now()):
        rows += rollup_day(store, site_id, day)
        days += 1
    _mark_empty_days(store, clock.now())
    store.rollups_changed()
    if days:
        log.info("rolled up %d site-days into %d rows", days, rows)
    return RollupReport(days, rows)


def refresh_open_days(store: Store, clock: Clock) -> RollupReport:
    """Rebuild the provisional rollups of open days that received events since the last one."""
    days = rows = 0
    for site_id, day in open_days_to_refresh(store, clock.now()):
        rows += rollup_day(store, site_id, day, provisional=True)
        days += 1
    if days:
        store.rollups_changed()
    return RollupReport(days, rows)


def drop_provisional(store: Store) -> None:
    """Forget every provisional rollup (live rollups turned off: open days are read raw)."""
    with store.write() as cur:
        cur.execute(
            "DELETE FROM rollups WHERE (site_id, day) IN"
            " (SELECT (site_id, day) FROM rolled_days WHERE provisional)"
        )
        cur.execute("DELETE FROM rolled_days WHERE provisional")
    store.rollups_changed()


def mark_changed(
    cur: Any, changed: str, params: dict[str, Any] | None = None, *, lake: bool = False
) -> None:
    """Days that received events after they were rolled up turn stale: a closed day is read
    raw until the next pass rolls it up again, an open day's provisional rollup keeps answering
    until its rebuild. ``changed`` is a fixed SQL query of (site_id, day) pairs; ``params`` are
    its bound values.

    On a ``lake`` the days are appended to ``changed_days`` instead (two loaders updating
    rolled_days at once would conflict), and the maintenance leader folds them in."""
    if lake:
        cur.execute(
            "INSERT INTO changed_days SELECT DISTINCT site_id, day, now()::TIMESTAMP"  # noqa: S608
            f" FROM ({changed})",
            params,
        )
        return
    cur.execute(
        "UPDATE rolled_days SET stale = true WHERE NOT raw_purged AND (site_id, day) IN"  # noqa: S608
        f" (SELECT (site_id, day) FROM ({changed}))",
        params,
    )


def fold_changed_days(store: Store) -> int:
    """A lake's ``changed_days`` into rolled_days' ``stale`` (what ``mark_changed`` does at
    once in the embedded file); return the days folded. Run by the maintenance leader before
    it rolls up, alone among the writers (the rows it deletes are the loaders')."""
    if not store.lake:
        return 0
    with store.write(exclusive=True) as cur:
        row = cur.execute("SELECT count(*) FROM changed_days").fetchone()
        if not row or not row[0]:
            return 0
        cur.execute(
            "UPDATE rolled_days SET stale = true WHERE NOT raw_purged AND (site_id, day) IN"
            " (SELECT (site_id, day) FROM changed_days)"
        )
        cur.execute("DELETE FROM changed_days")
    store.rollups_changed()
    return int(row[0])


def reroll_kept_days(store: Store, site_id: int) -> None:
    """After the site's goals change: every day whose raw events are kept is rolled up again
    (read raw meanwhile), so a goal added now is counted on all of them. Open days lose their
    provisional rollup at once: it would keep answering, without the goal, until its rebuild."""
    with store.write() as cur:
        mark_changed(
            cur,
            "SELECT site_id, day FROM rolled_days WHERE site_id = $site",
            {"site": site_id},
            lake=store.lake,
        )
        cur.execute(
            "DELETE FROM rollups WHERE site_id = $site AND day IN"
            " (SELECT day FROM rolled_days WHERE site_id = $site AND provisional)",
            {"site": site_id},
        )
        cur.execute(
            "DELETE FROM rolled_days WHERE site_id = $site AND provisional", {"site": site_id}
        )
    store.rollups_changed()


def _mark_empty_days(store: Store, now: float) -> None:
    """Closed days without events after a site's first rolled-up day count as rolled up (with
    nothing in them), so queries never look for their raw events."""
    with store.write() as cur:
        for site_id, before in _closed_before(cur, now):
            cur.execute(
                "INSERT INTO rolled_days"
                " (site_id, day, rolled_at, raw_purged, rollup_version)"
                " SELECT $site, CAST(d AS DATE), $now, false, $version FROM generate_series("
                "   (SELECT min(day) FROM rolled_days WHERE site_id = $site AND NOT provisional),"
                "   CAST($before AS DATE) - 1, INTERVAL 1 DAY) AS t(d)"
                " WHERE EXISTS (SELECT 1 FROM rolled_days WHERE site_id = $site)"
                " AND NOT EXISTS (SELECT 1 FROM rolled_days"
                "   WHERE site_id = $site AND day = CAST(d AS DATE))"
                " AND NOT EXISTS (SELECT 1 FROM events"
                "   WHERE site_id = $site AND day = CAST(d AS DATE))",
                {
                    "site": site_id,
                    "before": before,
                    "now": datetime.now(UTC).replace(tzinfo=None),
                    "version": ROLLUP_VERSION,
                },
            )


def _closed_before(cur: Any, now: float) -> list[tuple[int, date]]:
    """Each site's id and its first local day that is not closed yet (grace included)."""
    return [
        (site_id, day) for site_id, _domain, day in local_dates(cur, now - GRACE.total_seconds())
    ]
