"""Rollups give the numbers raw events give, and retention deletes what it promises (P8)."""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import random
import re
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import httpx
import orjson
import pytest

from aggregator import rollups
from aggregator import store as store_module
from aggregator.loader import load_pending
from aggregator.queries import (
    METRICS,
    PROP_NAMES,
    ROLLUP_SPECS,
    TIME_DIMENSIONS,
    Filter,
    Query,
    QueryError,
    plan_rollup,
    run_query,
)
from aggregator.queries.engine import build_sql
from aggregator.queries.prop_keys import prop_keys
from aggregator.retention import purge_raw
from aggregator.rollups import (
    days_to_roll_up,
    open_days_to_refresh,
    refresh_open_days,
    roll_up_pending,
)
from aggregator.sites import find_site
from aggregator.store import Store, migrate
from demo import generate_demo
from tests.aggregator.test_loader import _line
from tests.lakes import stored_bytes
from tests.servers import (
    CHROME_UA,
    SAFARI_IPHONE_UA,
    ManualClock,
    ThreadServer,
    running,
    utc,
    wait_until,
)

pytestmark = pytest.mark.server

FIRST_DAY = date(2026, 3, 1)
DAYS = 4
MARKER = "retired quokka lantern meadow archive"  # a prop value: only raw events hold props


def send_traffic(hush: ThreadServer, clock: ManualClock, *, seed: int) -> int:
    """A few hundred varied events a day for DAYS days; returns how many were accepted."""
    rng = random.Random(seed)
    pages = ["/", "/pricing", "/blog/a", "/blog/b", "/docs"]
    arrivals = [
        ("", None),
        ("", "https://www.google.com/"),
        ("", "https://news.ycombinator.com/"),
        ("?utm_source=newsletter&utm_medium=email&utm_campaign=spring", None),
        ("?gclid=x", None),
        ("", "https://blog.example.org/post"),
    ]
    clock.set(utc(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, 23, 0))
    hush.event(
        {"n": "Note", "u": "https://example.com/", "d": "example.com", "p": {"note": MARKER}},
        ip="192.0.2.9",
    )
    sent = 1
    for offset in range(DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        for visitor in range(30):
            ip = f"203.0.113.{visitor}" if visitor < 200 else "198.51.100.1"
            agent = rng.choice([CHROME_UA, SAFARI_IPHONE_UA])
            clock.set(utc(day.year, day.month, day.day, rng.randint(0, 20), rng.randint(0, 59)))
            query, referrer = rng.choice(arrivals)
            for n in range(rng.choice([1, 1, 2, 3, 5])):
                path = rng.choice(pages)
                hush.pageview(
                    f"https://example.com{path}{query if n == 0 else ''}",
                    referrer=referrer if n == 0 else None,
                    ip=ip,
                    user_agent=agent,
                )
                sent += 1
                if rng.random() < 0.2:
                    hush.event(
                        {
                            "n": "Signup",
                            "u": f"https://example.com{path}",
                            "d": "example.com",
                            "p": {"plan": rng.choice(["pro", "free"])},
                        },
                        ip=ip,
                        user_agent=agent,
                    )
                    sent += 1
                clock.advance(rng.choice([20, 90, 600, 2400]))  # 40 minutes: a new visit
    return sent


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadServer, ManualClock]]:
    """Four days of traffic and today's page view on the embedded file (on a lake:
    tests/lake/test_lake_rollups.py runs the tests that use this on the same traffic)."""
    yield from serve_traffic(tmp_path_factory.mktemp("rollups"))


def serve_traffic(root: Path, **lake: str) -> Iterator[tuple[ThreadServer, ManualClock]]:
    clock = ManualClock(utc(2026, 3, 1, 0, 0))
    hush = ThreadServer(
        root,
        clock,
        HUSH_RAW_RETENTION_DAYS="2",
        HUSH_MAINTENANCE_INTERVAL="3600",  # the tests roll up and retain when they mean to
        **lake,
    ).start()
    try:
        hush.cli("sites", "add", "example.com")
        hush.add_key()
        sent = send_traffic(hush, clock, seed=3)
        clock.set(utc(2026, 3, 1 + DAYS, 12, 0))
        hush.pageview("https://example.com/today")  # today stays raw
        everything = {
            "site_id": "example.com",
            "period": "custom",
            "date": f"{FIRST_DAY},{FIRST_DAY + timedelta(days=DAYS)}",
        }
        wait_until(lambda: hush.metric("events", **everything) == sent + 1, what="all events")
        yield hush, clock
    finally:
        hush.stop()


def all_queries(site_id: int, last: date) -> list[Query]:
    metrics = tuple(METRICS)
    queries = []
    # No query asks for the names of custom properties: prop_keys reads them (checked below).
    for spec in ROLLUP_SPECS:
        if PROP_NAMES not in spec:
            queries.append(Query(site_id, FIRST_DAY, last, metrics, spec))
    for dimension in ("time:day", "time:week", "time:month"):
        queries.append(Query(site_id, FIRST_DAY, last, metrics, (dimension,)))
    # A filter on one property with a breakdown by another, as the dashboard combines them.
    queries += [
        Query(site_id, FIRST_DAY, last, metrics, dimensions, (Filter("is", on, (value,)),))
        for dimensions, on, value in [
            (("event:page",), "visit:source", "Google"),
            (("visit:channel",), "event:page", "/pricing"),
            ((), "event:name", "Signup"),
            (("time:day",), "visit:device", "Mobile"),
            (("time:hour",), "visit:source", "Google"),
            (("time:hour",), "event:page", "/pricing"),
        ]
    ]
    return queries


def test_rollups_give_the_numbers_raw_events_give(
    traffic: tuple[ThreadServer, ManualClock],
) -> None:
    hush, clock = traffic
    store = hush.app.store
    site_id = 1
    today = FIRST_DAY + timedelta(days=DAYS)
    names = prop_keys(store, site_id, FIRST_DAY, today)  # from raw events
    assert roll_up_pending(store, clock).days == DAYS  # every closed day, not today
    assert roll_up_pending(store, clock).days == 0  # safe to run twice: nothing left
    assert prop_keys(store, site_id, FIRST_DAY, today) == names == ["plan", "note"]
    # Up to today: rollups and today's raw events; up to yesterday: rollups alone.
    for last in (today, today - timedelta(days=1)):
        for query in all_queries(site_id, last):
            from_rollups = run_query(store, query)
            from_raw = run_query(store, query, use_rollups=False)
            assert from_rollups == from_raw, query
    # Today's provisional rollup gives today's numbers too.
    assert refresh_open_days(store, clock).days == 1
    for query in all_queries(site_id, today):
        assert run_query(store, query) == run_query(store, query, use_rollups=False), query
    with store.read() as cur:
        columns = {
            r[0]
            for r in cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'rollups'"
            ).fetchall()
        }
    assert "visitor" not in columns  # rollups carry no visitor ids


def test_counts_over_raw_events_match_what_sessions_give(
    traffic: tuple[ThreadServer, ManualClock],
) -> None:
    # Visitors, page views and events add up the same however a visitor's day is cut into
    # sessions, so a query of those alone skips building them over raw events (a count over
    # a busy day's events, before its first rollup, sorted them all and spilled 36 MiB).
    hush, _ = traffic
    store = hush.app.store
    counts = ("visitors", "pageviews", "events")
    compared = 0
    for query in all_queries(1, FIRST_DAY + timedelta(days=DAYS)):
        alone = dataclasses.replace(query, metrics=counts)
        if "OVER" in build_sql(alone)[0]:
            continue  # a visit property: sessions are built all the same
        keys = [*query.dimensions, *counts]
        with_sessions = [
            {k: row[k] for k in keys} for row in run_query(store, query, use_rollups=False)
        ]
        assert run_query(store, alone, use_rollups=False) == with_sessions, query
        compared += 1
    assert compared > 10  # by page, hostname, goal, event name, property, time


def test_a_busy_day_rolled_up_in_parts_of_its_visitors_gives_the_same_numbers(
    traffic: tuple[ThreadServer, ManualClock], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A day of more events than a part holds is rolled up a part of its visitors at a time
    # (DuckDB then holds one part's sessions); here every day of a few hundred events splits
    # into about twenty parts.
    hush, _ = traffic
    store = hush.app.store
    today = FIRST_DAY + timedelta(days=DAYS)
    monkeypatch.setattr(store_module, "EVENTS_PER_MIB", 0)
    monkeypatch.setattr(store_module, "MIN_EVENTS_PER_PART", 16)
    for offset in range(DAYS + 1):
        rollups.rollup_day(store, 1, FIRST_DAY + timedelta(days=offset), provisional=offset == DAYS)
    with store.read() as cur:
        assert cur.execute("SELECT count(*) FROM rolled_days WHERE stale").fetchone() == (0,)
    for query in all_queries(1, today):
        assert run_query(store, query) == run_query(store, query, use_rollups=False), query


def test_retention_deletes_old_raw_events_and_their_bytes_and_keeps_rollups(
    traffic: tuple[ThreadServer, ManualClock],
) -> None:
    hush, _ = traffic
    store = hush.app.store
    site_id = 1
    last = FIRST_DAY + timedelta(days=DAYS)
    totals = Query(site_id, FIRST_DAY, last, tuple(METRICS), ("time:day",))
    before = run_query(store, totals)
    assert MARKER.encode() in stored_bytes(store)  # the test can see what it looks for

    preview = hush.cli("retention", "--dry-run").stdout
    assert "would delete" in preview and "2026-03-01" in preview and "2026-03-02" in preview
    with store.read() as cur:
        assert cur.execute("SELECT count(*) FROM events WHERE day < '2026-03-03'").fetchone()[0]

    done = hush.cli("retention").stdout
    assert "deleted" in done
    with store.read() as cur:
        oldest = cur.execute("SELECT min(day) FROM events").fetchone()[0]
    assert oldest == date(2026, 3, 3)  # today is 2026-03-05: two days are kept before it
    assert MARKER.encode() not in stored_bytes(store)
    assert run_query(store, totals) == before  # long ranges read rollups
    pages_by_source = Query(
        site_id,
        FIRST_DAY,
        last,
        ("visitors",),
        ("event:page",),
        (Filter("is", "visit:source", ("Google",)),),
    )
    assert run_query(store, pages_by_source)  # a pair the rollups hold
    hours = {"period": "custom", "date": "2026-03-01,2026-03-05", "interval": "hour"}
    hourly = hush.results("timeseries", site_id="example.com", metrics="pageviews", **hours)
    assert len(hourly) == 5 * 24  # every hour of the range, from rollups (local hours)
    assert sum(point["pageviews"] for point in hourly) == sum(row["pageviews"] for row in before)
    mobile = hush.results(
        "timeseries", site_id="example.com", filters="visit:device==Mobile", **hours
    )
    assert len(mobile) == 5 * 24  # hours by device are rolled up too
    chrome_hourly = hush.stats(
        "timeseries", site_id="example.com", filters="visit:browser==Chrome", **hours
    )
    assert chrome_hourly.status_code == 400  # no rollup holds hours by browser
    assert "retention" in chrome_hourly.json()["error"]
    plans = {"site_id": "example.com", "period": "custom", "property": "event:props:plan"}
    assert hush.stats("breakdown", date="2026-03-01,2026-03-05", **plans).status_code == 400
    assert hush.stats("breakdown", date="2026-03-03,2026-03-05", **plans).status_code == 200


def test_the_time_dimensions_of_rollups_are_local_days() -> None:
    assert set(TIME_DIMENSIONS) == {
        "time:minute",  # raw events only: the realtime view's last 30 minutes
        "time:hour",
        "time:day",
        "time:week",
        "time:month",
    }


def test_late_events_for_a_rolled_up_day_roll_it_up_again(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 3, 1, 10, 0))
    hush = ThreadServer(tmp_path, clock).start()
    try:
        hush.cli("sites", "add", "example.com")
        hush.add_key()
        for day in (1, 2):
            clock.set(utc(2026, 3, day, 10, 0))
            hush.pageview("https://example.com/")
            hush.wait_for_events(1)
        clock.set(utc(2026, 3, 3, 10, 0))
        store = hush.app.store
        assert roll_up_pending(store, clock).days == 2
        # A segment of a collector that died on 2026-03-01 is found and loaded late.
        late = orjson.loads(_line("/late"))
        late["d"] = (date(2026, 3, 1) - date(1970, 1, 1)).days
        segment = hush.settings.spool_dir / "00000000000000001-1-late.seg"
        segment.write_bytes(orjson.dumps(late) + b"\n")
        wait_until(lambda: not segment.exists(), what="the late segment to load")
        days = Query(1, date(2026, 3, 1), date(2026, 3, 2), ("pageviews",))
        # 03-01 is read raw until it rolls up again (never its old rollup as well), 03-02 not.
        assert run_query(store, days) == [{"pageviews": 3}]
        assert roll_up_pending(store, clock).days == 1
        assert run_query(store, days) == [{"pageviews": 3}]
    finally:
        hush.stop()


BUSY_DAY = date(2026, 3, 1)


def busy_demo_day(store: Store, monkeypatch: pytest.MonkeyPatch, events: int, per_part: int) -> int:
    """The demo site's id, with a day of ``events`` (``BUSY_DAY``) rolled up in parts of
    ``per_part`` events."""
    generate_demo(store, events=events, days=1, today=BUSY_DAY)
    site = find_site(store, "demo.example")
    assert site is not None
    monkeypatch.setattr(store_module, "EVENTS_PER_MIB", 0)
    monkeypatch.setattr(store_module, "MIN_EVENTS_PER_PART", per_part)
    return site.id


def assert_rolled_up_again(
    store: Store, monkeypatch: pytest.MonkeyPatch, site_id: int, roll_up_part: object
) -> None:
    """``BUSY_DAY``'s rollup missed what a load added meanwhile: it is stale (read raw), and
    rolled up again (``roll_up_part`` put back) it gives what its raw events give."""
    query = Query(site_id, BUSY_DAY, BUSY_DAY, ("visitors", "pageviews", "bounce_rate"))
    raw = run_query(store, query, use_rollups=False)
    assert _provisional(store, BUSY_DAY) == (False, True)
    closed = ManualClock(utc(2026, 3, 2, 12, 0)).now()
    assert days_to_roll_up(store, closed) == [(site_id, BUSY_DAY)]
    monkeypatch.setattr(rollups, "_roll_up_part", roll_up_part)
    rollups.rollup_day(store, site_id, BUSY_DAY)
    assert _provisional(store, BUSY_DAY) == (False, False)
    assert run_query(store, query) == raw


def test_a_load_waiting_while_a_busy_day_rolls_up_goes_in_between_its_parts(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A busy day rolls up a part of its visitors at a time, tens of seconds at the default
    # memory limit: a load that waits for the writer meanwhile goes in after the part at work
    # (it once waited for the whole day), and the day it changed is rolled up again.
    site_id = busy_demo_day(store, monkeypatch, events=1000, per_part=100)  # about ten parts
    spool = tmp_path / "spool"
    spool.mkdir()
    late = orjson.loads(_line("/late", site=site_id))
    late["d"] = (BUSY_DAY - date(1970, 1, 1)).days
    (spool / "00000000000000001-1-late.seg").write_bytes(orjson.dumps(late) + b"\n")
    loading = threading.Thread(target=load_pending, args=(store, spool))
    seen: list[int] = []  # per part: the late event in the store when the part began
    roll_up_part = rollups._roll_up_part

    def part(cur: duckdb.DuckDBPyConnection, *args: object) -> None:
        [(found,)] = cur.execute("SELECT count(*) FROM events WHERE path = '/late'").fetchall()
        seen.append(found)
        roll_up_part(cur, *args)
        if len(seen) == 1:
            loading.start()
            # The test's only look inside: the load has reached the writer and waits.
            wait_until(lambda: store._writers_waiting, what="the load to wait for the writer")

    monkeypatch.setattr(rollups, "_roll_up_part", part)
    rollups.rollup_day(store, site_id, BUSY_DAY)
    loading.join()
    assert len(seen) > 2 and seen[:2] == [0, 1]  # loaded after the first part, not the last
    assert_rolled_up_again(store, monkeypatch, site_id, roll_up_part)


def test_a_day_that_grows_while_it_rolls_up_splits_its_later_parts_to_keep_them_small(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Loads go in between a busy day's parts, and today grows as its rollup goes: parts
    # planned from the day's events at the start grew past what DuckDB's memory holds (30,000
    # events planned, 48,000 three parts later: out of 32 MiB, and the live rollup failed
    # again at every try while the intake ran). Each part is measured when its turn comes.
    site_id = busy_demo_day(store, monkeypatch, events=400, per_part=100)  # four parts
    roll_up_part = rollups._roll_up_part
    parts: list[object] = []

    def part(cur: duckdb.DuckDBPyConnection, *args: object) -> None:
        roll_up_part(cur, *args)
        parts.append(args)
        if len(parts) == 1:  # a load after the first part: twice the events, new visitors
            cur.execute(
                "INSERT INTO events SELECT * REPLACE (hash(visitor) AS visitor) FROM events"
                " WHERE site_id = $site AND day = $day",
                {"site": site_id, "day": BUSY_DAY},
            )

    monkeypatch.setattr(rollups, "_roll_up_part", part)
    with caplog.at_level(logging.DEBUG, logger="hush.rollups"):
        rollups.rollup_day(store, site_id, BUSY_DAY)
    sizes = [int(m[1]) for m in re.finditer(r"modulo \d+, (\d+) events", caplog.text)]
    assert len(sizes) == len(parts) > 4 and max(sizes) <= 100, sizes
    assert_rolled_up_again(store, monkeypatch, site_id, roll_up_part)


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in [
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        ]
    ]


def heap_in_use() -> int:
    """Bytes glibc's malloc has handed out and not had back (where DuckDB keeps its
    bookkeeping; its buffers come from its own allocator)."""
    mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return int(info.uordblks + info.hblkhd)


def test_a_busy_days_rollup_keeps_no_bookkeeping_of_its_earlier_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DuckDB 1.5 queues a record of every buffer a statement unpins and purges them only past
    # 32,768 a queue; a part of a rollup runs ~80 statements, so a busy day's rollup grew the
    # heap with every part (a 500,000-event day in 16 parts: +9.6 MiB, and a server's peak
    # with it). Between parts the store empties DuckDB's pool, which goes through the queues.
    store = Store(tmp_path / "hush.duckdb", memory_limit="32MiB", threads=1)
    try:
        site_id = busy_demo_day(store, monkeypatch, events=1400, per_part=200)  # seven parts
        heap: list[int] = []  # after each part
        roll_up_part = rollups._roll_up_part

        def part(cur: duckdb.DuckDBPyConnection, *args: object) -> None:
            roll_up_part(cur, *args)
            heap.append(heap_in_use())

        monkeypatch.setattr(rollups, "_roll_up_part", part)
        rollups.rollup_day(store, site_id, BUSY_DAY)
        assert len(heap) >= 7
        assert heap[-1] - heap[2] < 2**20, [round(h / 2**20, 2) for h in heap]
        pageviews = Query(site_id, BUSY_DAY, BUSY_DAY, ("visitors", "pageviews", "bounce_rate"))
        assert run_query(store, pageviews) == run_query(store, pageviews, use_rollups=False)
    finally:
        store.close()


def _provisional(store: Store, day: date) -> tuple[bool, bool] | None:
    with store.read() as cur:
        row = cur.execute(
            "SELECT provisional, stale FROM rolled_days WHERE day = $day", {"day": day}
        ).fetchone()
    return (row[0], row[1]) if row else None


def test_today_reads_a_provisional_rollup_that_lags_until_rebuilt_then_closes(
    tmp_path: Path,
) -> None:
    clock = ManualClock(utc(2026, 3, 1, 10, 0))
    hush = ThreadServer(tmp_path, clock)  # live rollups off: the test rebuilds them itself
    with running(hush, site="example.com"):
        store = hush.app.store
        today = date(2026, 3, 1)
        pageviews = Query(1, today, today, ("visitors", "pageviews", "bounce_rate"))
        for path in ("/", "/pricing", "/"):
            hush.pageview(f"https://example.com{path}")
        hush.wait_for_events(3)
        assert refresh_open_days(store, clock).days == 1
        assert _provisional(store, today) == (True, False)
        assert run_query(store, pageviews) == [{"visitors": 1, "pageviews": 3, "bounce_rate": 0}]

        hush.pageview("https://example.com/docs", ip="198.51.100.7")
        wait_until(
            lambda: run_query(store, pageviews, use_rollups=False)[0]["pageviews"] == 4,
            what="the fourth page view to load",
        )
        assert _provisional(store, today) == (True, True)  # marked stale, still answering
        assert run_query(store, pageviews)[0]["pageviews"] == 3  # lags until the rebuild
        assert open_days_to_refresh(store, clock.now()) == [(1, today)]
        assert refresh_open_days(store, clock).days == 1
        assert refresh_open_days(store, clock).days == 0  # nothing new: nothing rebuilt
        with store.write() as cur:  # as if rolled up by a version before hourly rollups
            cur.execute("UPDATE rolled_days SET rollup_version = 1")
        assert open_days_to_refresh(store, clock.now()) == [(1, today)]
        assert refresh_open_days(store, clock).days == 1
        expected = [{"visitors": 2, "pageviews": 4, "bounce_rate": 50}]
        assert run_query(store, pageviews) == expected

        clock.set(utc(2026, 3, 2, 0, 10))  # the day is over (and its grace period)
        assert roll_up_pending(store, clock).days == 1
        assert _provisional(store, today) == (False, False)
        assert run_query(store, pageviews) == expected


def test_todays_rollup_rebuilt_pass_after_pass_leaves_no_old_rows_in_the_file(
    tmp_path: Path,
) -> None:
    # Each pass replaces today's rollup rows, and the store checkpoints without DuckDB's vacuum
    # (it merged the loads' row groups beside a full pool): the rows passes replaced still
    # leave the file, their row groups wholly deleted, at the next checkpoint.
    clock = ManualClock(utc(2026, 3, 1, 10, 0))
    hush = ThreadServer(tmp_path, clock)  # live rollups off: the test runs the passes
    with running(hush, site="example.com"):
        store = hush.app.store
        pageviews = Query(1, date(2026, 3, 1), date(2026, 3, 1), ("pageviews",))
        for n in range(4):
            hush.pageview(f"https://example.com/{n}", ip=f"198.51.100.{n + 1}")
            wait_until(
                lambda n=n: (
                    run_query(store, pageviews, use_rollups=False) == [{"pageviews": n + 1}]
                ),
                what="the page view to load",
            )
            with store.background():  # what a maintenance pass does
                assert refresh_open_days(store, clock).days == 1
                assert store.release_memory()
        with store.read() as cur:
            [(live,)] = cur.execute("SELECT count(*) FROM rollups").fetchall()
            [(kept,)] = cur.execute(
                "SELECT sum(count) FROM pragma_storage_info('rollups') WHERE column_id = 0"
            ).fetchall()
        assert live > 0
        assert kept <= 2 * live  # the last pass's and the one it replaced, not every pass's


def test_the_server_keeps_todays_rollup_current(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 3, 1, 10, 0))
    hush = ThreadServer(tmp_path, clock, HUSH_LIVE_ROLLUP_INTERVAL="0.2")
    with running(hush, site="example.com"):
        store, today = hush.app.store, date(2026, 3, 1)
        pageviews = Query(1, today, today, ("pageviews",))
        for n in range(3):
            hush.pageview(f"https://example.com/{n}")
            # each one shows in the rollup within a rebuild or two, without anyone asking; a
            # rebuild waits ten times as long as the last one took, which a busy machine stretches
            # (a one-event day takes ~1 s quiet: 80 statements, ~6 ms each whatever the size;
            # two rebuilds when the load goes in between a rebuild's parts, and CI's load
            # tripled it: 30 s ran out)
            wait_until(
                lambda n=n: (
                    _provisional(store, today) == (True, False)
                    and run_query(store, pageviews) == [{"pageviews": n + 1}]
                ),
                timeout=90,
                what=f"page view {n + 1} in today's rollup",
            )
        assert hush.metric("visitors", site_id="example.com", period="day") == 1
        metrics = httpx.get(f"{hush.base_url}/metrics").text
        rebuilds = re.search(r"^hush_live_rollups_total (\d+)$", metrics, re.M)
        assert rebuilds and int(rebuilds[1]) >= 3


def test_turning_live_rollups_off_reads_today_raw_again(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 3, 1, 10, 0))
    hush = ThreadServer(tmp_path, clock)
    with running(hush, site="example.com"):
        hush.pageview("https://example.com/")
        hush.wait_for_events(1)
        refresh_open_days(hush.app.store, clock)
    restarted = ThreadServer(tmp_path, clock)  # HUSH_LIVE_ROLLUP_INTERVAL=0
    with running(restarted):
        assert _provisional(restarted.app.store, date(2026, 3, 1)) is None
        restarted.pageview("https://example.com/")
        restarted.wait_for_events(2)


def test_existing_rolled_days_count_as_rollup_version_1(tmp_path: Path) -> None:
    path = tmp_path / "hush.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, until=5)  # before rollup versions
    con.execute(
        "INSERT INTO rolled_days (site_id, day, rolled_at) VALUES (1, DATE '2026-03-01', now())"
    )
    con.close()
    store = Store(path)
    try:
        with store.read() as cur:
            assert cur.execute("SELECT rollup_version FROM rolled_days").fetchall() == [(1,)]
    finally:
        store.close()


def test_retention_rewrites_the_kept_rows_sorted_a_part_at_a_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A part of more rows than fit (here: 25) is sorted a range of visitors (events) or of
    # days (rollups) at a time; what is kept, its order and the tables' definitions stay.
    generate_demo(store, events=3000, days=3, today=date(2026, 3, 3))
    clock = ManualClock(utc(2026, 3, 4, 12, 0))
    assert roll_up_pending(store, clock).days == 3
    monkeypatch.setattr(store_module, "EVENTS_PER_MIB", 0)
    monkeypatch.setattr(store_module, "MIN_EVENTS_PER_PART", 50)
    kept_events = "SELECT * EXCLUDE (props), props::VARCHAR FROM events WHERE day >= '2026-03-03'"
    kept_rollups = "SELECT * FROM rollups WHERE day >= '2026-03-03'"
    definitions = "SELECT sql FROM duckdb_tables() WHERE table_name IN ('events', 'rollups')"
    with store.read() as cur:
        events = sorted(cur.execute(kept_events).fetchall(), key=repr)
        rollup_rows = sorted(cur.execute(kept_rollups).fetchall(), key=repr)
        tables = sorted(cur.execute(definitions).fetchall())
    report = purge_raw(store, 1, clock, dry_run=False)
    assert report.deleted > 0
    with store.read() as cur:
        assert sorted(cur.execute(kept_events).fetchall(), key=repr) == events
        assert sorted(cur.execute(kept_rollups).fetchall(), key=repr) == rollup_rows
        assert sorted(cur.execute(definitions).fetchall()) == tables
        stored = cur.execute("SELECT site_id, day, visitor, ts FROM events").fetchall()
        specs = cur.execute("SELECT site_id, spec, day FROM rollups").fetchall()
        leftovers = cur.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '%_sorted'"
        ).fetchone()
    assert stored == sorted(stored) and len(stored) == len(events)
    assert specs == sorted(specs)
    assert leftovers == (0,)


def test_new_rollups_reach_kept_days_and_never_invent_purged_ones(store: Store) -> None:
    generate_demo(store, events=3000, days=2, today=date(2026, 3, 2))
    clock = ManualClock(utc(2026, 3, 3, 12, 0))
    assert roll_up_pending(store, clock).days == 2
    site = find_site(store, "demo.example")
    assert site is not None
    # As if version 1 (before hourly rollups) had rolled both days up, and retention had
    # then deleted the raw events of the first.
    with store.write() as cur:
        cur.execute("UPDATE rolled_days SET rollup_version = 1")
        cur.execute("DELETE FROM rollups WHERE contains(spec, 'time:hour')")
        cur.execute("DELETE FROM events WHERE day = DATE '2026-03-01'")
        cur.execute("UPDATE rolled_days SET raw_purged = true WHERE day = DATE '2026-03-01'")
    first, second = date(2026, 3, 1), date(2026, 3, 2)
    hours = {"dimensions": ("time:hour",), "timezone": site.timezone}  # its local hours
    both = Query(site.id, first, second, ("visitors",), **hours)
    with pytest.raises(QueryError, match="retention"):
        run_query(store, both)  # 03-01 has no hourly rollup and no raw events left
    kept = Query(site.id, second, second, ("visitors", "visits"), **hours)
    expected = run_query(store, kept, use_rollups=False)
    assert expected and run_query(store, kept) == expected  # raw until rolled up again
    assert days_to_roll_up(store, clock.now()) == [(site.id, second)]
    assert roll_up_pending(store, clock).days == 1
    with store.read() as cur:
        plan = plan_rollup(cur, kept)
    assert plan is not None and plan.raw_from > plan.raw_to  # rollups alone answer now
    assert run_query(store, kept) == expected
    daily = Query(site.id, first, second, ("visitors",), ("time:day",))
    assert len(run_query(store, daily)) == 2  # what version 1 held still answers
