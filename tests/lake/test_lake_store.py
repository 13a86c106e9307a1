"""Many nodes on one lake behave as one hush: what one node stores or changes, every node
answers and sees; one node maintains; the audit log stays one chain; late events are counted
once; retention leaves no byte of a deleted event in the data files or the catalog (P8).

Each test runs real hush apps in-process (their lifespans: loader, maintenance, the rollup
cache) on a lake of its own in the suite's PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from aggregator import audit_log
from aggregator.audit_log import CLI
from aggregator.queries import Query, run_query
from aggregator.rollups import fold_changed_days, roll_up_pending
from tests.aggregator.test_loader import _line
from tests.harness import Harness, in_process
from tests.lakes import bucket_bytes, lake_env, stored_bytes
from tests.servers import ManualClock, utc, wait_until

TRAFFIC = [
    {"name": "pageview", "url": f"https://example.com{path}", "domain": "example.com", **extra}
    for path, extra in [
        ("/", {"referrer": "https://www.google.com/search?q=x"}),
        ("/pricing", {}),
        ("/docs?utm_source=newsletter&utm_campaign=launch", {}),
        ("/pricing", {"referrer": "https://news.ycombinator.com/"}),
    ]
] + [{"name": "Signup", "url": "https://example.com/pricing", "domain": "example.com"}]

QUERIES: list[tuple[str, dict[str, str]]] = [
    ("aggregate", {"metrics": "visitors,visits,pageviews,events,bounce_rate,visit_duration"}),
    ("breakdown", {"property": "visit:source", "metrics": "visitors,visits,bounce_rate"}),
    ("breakdown", {"property": "event:page", "metrics": "visitors,pageviews"}),
    ("breakdown", {"property": "visit:utm_campaign"}),
    ("breakdown", {"property": "visit:browser"}),
    ("breakdown", {"property": "event:name"}),
    ("timeseries", {"metrics": "visitors,pageviews"}),
]


@contextmanager
def nodes(
    request: pytest.FixtureRequest, root: Path, count: int, **env: str
) -> Iterator[list[Harness]]:
    """``count`` hush nodes (in-process apps, each with its own data and salt dirs) on one new
    lake; the first adds example.com."""
    lake = lake_env(request, root, HUSH_LAKE_COMMIT_INTERVAL="3600", **env)
    with ExitStack() as stack:
        started = [
            stack.enter_context(
                in_process(root / f"node{n}", site="example.com" if n == 0 else None, **lake)
            )
            for n in range(count)
        ]
        yield started


def send(node: Harness, days: list[date], clock: ManualClock) -> None:
    for n, day in enumerate(days):
        clock.set(utc(day.year, day.month, day.day, 9 + n % 8, 0))
        for i, body in enumerate(TRAFFIC):
            node.store_events(body, ip=f"198.51.100.{(n * 7 + i) % 5}")


def test_a_lake_answers_the_stats_api_as_the_file_does(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(3)]
    clock = ManualClock(utc(2026, 3, 1, 9, 0))
    answers = []
    for store in ("duckdb", "ducklake"):
        root = tmp_path / store
        lake = (
            lake_env(request, root, HUSH_LAKE_COMMIT_INTERVAL="3600") if store != "duckdb" else {}
        )
        with in_process(root, clock=clock, **lake) as hush:
            send(hush, days, clock)
            clock.set(utc(2026, 3, 4, 12, 0))
            assert roll_up_pending(hush.app.store, clock).days == 3
            span = {"site_id": "example.com", "period": "custom", "date": "2026-03-01,2026-03-04"}
            answers.append([hush.results(e, **span, **params) for e, params in QUERIES])
    assert answers[0] == answers[1]
    assert answers[0][0]["visitors"]["value"] > 0


def test_what_one_node_changes_every_node_sees_within_seconds(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with nodes(request, tmp_path, 2) as (one, two):
        one.add_site("second.example")
        # The other node's collectors take events for the new site once its snapshot has it.
        wait_until(
            lambda: two.app.sites.get("second.example") is not None,
            timeout=10,
            what="the new site in the other node's snapshot",
        )
        two.add_key()
        body = {"name": "pageview", "url": "https://second.example/", "domain": "second.example"}
        two.store_events(body)
        # Both nodes answer from the same lake, with the key made on the second (each node
        # re-reads the keys every few seconds).
        for node in (one, two):
            node.api_key = two.api_key
            wait_until(
                lambda node=node: (
                    node.stats("aggregate", site_id="second.example").status_code == 200
                ),
                timeout=10,
                what="the new key on every node",
            )
            assert node.metric("pageviews", site_id="second.example", period="day") == 1
        two.admin("sites.remove", domain="second.example")
        wait_until(
            lambda: one.app.sites.get("second.example") is None,
            timeout=10,
            what="the removed site gone from the first node's snapshot",
        )


def test_one_node_maintains_the_lake_and_another_takes_over_when_it_stops(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    lake = lake_env(request, tmp_path, HUSH_LAKE_COMMIT_INTERVAL="3600")
    with in_process(tmp_path / "a", **lake) as first:
        with in_process(tmp_path / "b", site=None, **lake) as second:
            leaders = [node.app.store.leads() for node in (first, second)]
            assert sorted(leaders) == [False, True]
            leader, follower = (first, second) if leaders[0] else (second, first)
            assert leader.app.store.leads() and not follower.app.store.leads()  # it keeps it
        if leader is second:  # the leader stopped: its lock went with its connection
            assert first.app.store.leads()


def test_the_audit_log_stays_one_chain_when_nodes_write_at_once(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with nodes(request, tmp_path, 2) as both:

        def write(node: Harness, n: int) -> None:
            for i in range(8):
                audit_log.record(
                    node.app.store, CLI, "site.update", target=f"node{n}-{i}", now=1.8e9 + i
                )

        threads = [threading.Thread(target=write, args=(node, n)) for n, node in enumerate(both)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for node in both:
            checked, broken = audit_log.verify(node.app.store)
            assert broken is None and checked >= 16


def test_late_events_for_a_rolled_up_day_are_counted_once_on_a_lake(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    clock = ManualClock(utc(2026, 3, 1, 10, 0))
    lake = lake_env(request, tmp_path, HUSH_LAKE_COMMIT_INTERVAL="3600")
    with in_process(tmp_path, clock=clock, **lake) as hush:
        for day in (1, 2):
            clock.set(utc(2026, 3, day, 10, 0))
            hush.store_events(TRAFFIC[0])
        clock.set(utc(2026, 3, 3, 10, 0))
        store = hush.app.store
        fold_changed_days(store)  # as each maintenance pass does before it rolls up
        assert roll_up_pending(store, clock).days == 2
        days = Query(1, date(2026, 3, 1), date(2026, 3, 2), ("pageviews",))
        assert run_query(store, days) == [{"pageviews": 2}]
        # A segment of a collector that died on 2026-03-01 is found and loaded late: the loader
        # only appends (the day goes to changed_days), so the old rollup answers until the
        # leader folds the change in; then the day is read raw, then rolled up again.
        late = orjson.loads(_line("/late"))
        late["d"] = (date(2026, 3, 1) - date(1970, 1, 1)).days
        segment = hush.app.settings.spool_dir / "00000000000000001-1-late.seg"
        segment.write_bytes(orjson.dumps(late) + b"\n")
        hush.load()
        assert run_query(store, days) == [{"pageviews": 2}]  # never the rollup and raw both
        assert fold_changed_days(store) == 1
        assert run_query(store, days) == [{"pageviews": 3}]
        assert roll_up_pending(store, clock).days == 1
        assert run_query(store, days) == [{"pageviews": 3}]


MARKER = "vanished okapi lantern"  # a prop value: only raw events hold props


def test_retention_leaves_no_byte_of_a_deleted_event_in_the_bucket_or_the_catalog(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    clock = ManualClock(utc(2026, 3, 1, 10, 0))
    prefix = f"s3://hush-lake/{tmp_path.name}/"
    lake = lake_env(
        request,
        tmp_path,
        HUSH_LAKE_DATA=prefix,
        HUSH_LAKE_COMMIT_INTERVAL="3600",
        HUSH_RAW_RETENTION_DAYS="2",
    )
    with in_process(tmp_path, clock=clock, **lake) as hush:
        marked = {**TRAFFIC[1], "props": {"note": MARKER}}
        hush.store_events(marked, TRAFFIC[0])
        clock.set(utc(2026, 3, 2, 10, 0))
        hush.store_events(TRAFFIC[0])
        store: Any = hush.app.store
        assert MARKER.encode() in bucket_bytes(store.config)  # the test sees what it looks for
        clock.set(utc(2026, 3, 5, 10, 0))
        report = hush.app.maintenance.run_once()
        assert report.deleted == 3
        assert MARKER.encode() not in bucket_bytes(store.config)  # every object, any prefix
        assert MARKER.encode() not in stored_bytes(store)  # and every catalog row
        span = {"site_id": "example.com", "period": "custom", "date": "2026-03-01,2026-03-05"}
        assert hush.metric("pageviews", **span) == 3  # the rollups keep the counts
