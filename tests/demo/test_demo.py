"""``hush demo``: synthetic traffic that looks real and is stored as the collector stores it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from aggregator.errors import AdminError
from aggregator.queries import Query, run_query
from aggregator.rollups import roll_up_pending
from aggregator.sites import find_site, remove_site
from aggregator.store import Store
from demo import DemoReport, generate_demo
from tests.servers import ManualClock, ProcessServer

TODAY = date(2026, 3, 12)
EVENTS = 30_000

# Visits rebuilt from the events by DESIGN §4: a visitor's events of one local day, split where
# more than 30 minutes pass; "first_*" are the attributes of a visit's first event.
VISITS = """
CREATE VIEW visits AS
WITH ordered AS (
    SELECT *, ts - lag(ts) OVER (PARTITION BY visitor, day ORDER BY ts, interactive) AS gap
    FROM events
), numbered AS (
    SELECT *, sum(CASE WHEN gap IS NULL OR gap > INTERVAL 30 MINUTES THEN 1 ELSE 0 END)
              OVER (PARTITION BY visitor, day ORDER BY ts, interactive) AS visit
    FROM ordered
), marked AS (
    SELECT *, ts > min(ts) OVER (PARTITION BY visitor, day, visit) AS is_later FROM numbered
), per_visit AS (
    SELECT visitor, day, visit,
        arg_min(name, ts) AS first_name, arg_min(source, ts) AS first_source,
        count(*) FILTER (WHERE name = 'pageview') AS pageviews,
        count(*) FILTER (WHERE name = 'pageview' AND is_later
            AND (referrer_host <> '' OR source <> '' OR utm_source <> '' OR utm_medium <> ''
                 OR utm_campaign <> '' OR channel <> 'Direct')) AS attributed_later_pages
    FROM marked GROUP BY ALL
)
SELECT * FROM per_visit
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, DemoReport]]:
    store = Store(tmp_path_factory.mktemp("demo") / "hush.duckdb")
    try:
        report = generate_demo(store, events=EVENTS, days=30, today=TODAY)
        with store.write() as cur:
            cur.execute(VISITS)
        yield store, report
    finally:
        store.close()


def one(store: Store, sql: str, **params: Any) -> Any:
    with store.read() as cur:
        [(value,)] = cur.execute(sql, params).fetchall()
    return value


def rows(store: Store, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with store.read() as cur:
        return cur.execute(sql, params).fetchall()


def test_it_inserts_exactly_the_events_asked_for_over_the_days_asked_for(
    demo: tuple[Store, DemoReport],
) -> None:
    store, report = demo
    assert (report.site, report.events, report.days) == ("demo.example", EVENTS, 30)
    assert (report.first_day, report.last_day) == (date(2026, 2, 11), TODAY)
    assert rows(store, "SELECT count(*), min(day), max(day), count(DISTINCT day) FROM events") == [
        (EVENTS, report.first_day, report.last_day, 30)
    ]
    site = find_site(store, "demo.example")
    assert site is not None and site.timezone == "Europe/Berlin"
    assert one(store, "SELECT count(*) FROM events WHERE site_id <> $id", id=site.id) == 0


def test_days_are_the_sites_local_days_and_visitor_ids_last_one_day(
    demo: tuple[Store, DemoReport],
) -> None:
    store, _ = demo
    other_days = one(
        store,
        "SELECT count(*) FROM events"
        " WHERE day <> CAST(timezone('Europe/Berlin', timezone('UTC', ts)) AS DATE)",
    )
    assert other_days == 0
    spanning = one(
        store,
        "SELECT count(*) FROM (SELECT visitor FROM events GROUP BY visitor"
        " HAVING count(DISTINCT day) > 1)",
    )
    assert spanning == 0


@pytest.mark.parametrize(
    ("timezone", "today"),
    [
        ("Europe/Berlin", date(2026, 3, 30)),  # 02:00 -> 03:00 on 29 March
        ("Europe/Berlin", date(2025, 10, 27)),  # 03:00 -> 02:00 on 26 October
        ("America/Santiago", date(2025, 9, 8)),  # 7 September starts at 01:00
    ],
    ids=["spring", "autumn", "midnight"],
)
def test_days_stay_local_days_when_clocks_change(
    tmp_path: Path, timezone: str, today: date
) -> None:
    store = Store(tmp_path / "hush.duckdb")
    generate_demo(store, events=3000, days=3, timezone=timezone, today=today)
    days = rows(
        store,
        "SELECT day, count(*) FILTER (WHERE day <> CAST(timezone($tz, timezone('UTC', ts))"
        " AS DATE)) FROM events GROUP BY day ORDER BY day",
        tz=timezone,
    )
    assert [misplaced for _, misplaced in days] == [0, 0, 0]
    store.close()


def test_visits_start_with_a_page_view_that_alone_carries_the_referrer_and_tags(
    demo: tuple[Store, DemoReport],
) -> None:
    store, _ = demo
    visits, not_pageview_first, attributed_later = rows(
        store,
        "SELECT count(*), count(*) FILTER (WHERE first_name <> 'pageview'),"
        " sum(attributed_later_pages) FROM visits",
    )[0]
    assert visits > EVENTS / 6
    assert not_pageview_first == 0
    assert attributed_later == 0
    # One device and one country per visitor id, as the id is a hash of address and agent.
    devices = one(
        store,
        "SELECT max(n) FROM (SELECT count(DISTINCT (browser, browser_version, os, os_version,"
        " device, country)) AS n FROM events GROUP BY visitor, day)",
    )
    assert devices == 1


def test_engagement_and_custom_events_are_shaped_as_the_snippet_sends_them(
    demo: tuple[Store, DemoReport],
) -> None:
    store, _ = demo
    shapes = {
        row[0]: row[1:]
        for row in rows(
            store,
            "SELECT name, count(*), bool_and(interactive), min(scroll_depth), max(scroll_depth),"
            " min(engaged_ms), max(engaged_ms), list_sort(list(DISTINCT map_keys(props)[1]))"
            " FROM events GROUP BY name",
        )
    }
    assert set(shapes) == {"pageview", "engagement", "Signup", "Download"}
    pageviews, engagement = shapes["pageview"][0], shapes["engagement"]
    assert 0.5 < engagement[0] / pageviews < 0.7
    interactive, min_depth, max_depth, min_ms, max_ms, _ = engagement[1:]
    assert interactive is False
    assert 0 <= min_depth < max_depth <= 100
    assert 1000 <= min_ms < max_ms <= 300_000
    assert shapes["pageview"][1] is True and shapes["pageview"][2] is None
    assert shapes["Signup"][1:2] == (True,) and shapes["Signup"][6] == ["plan"]
    assert shapes["Download"][6] == ["file"]
    plans = rows(store, "SELECT DISTINCT props['plan'] FROM events WHERE name = 'Signup'")
    assert {plan for (plan,) in plans} == {"free", "pro", "team"}


def test_the_mix_of_sources_devices_and_visit_lengths_looks_real(
    demo: tuple[Store, DemoReport],
) -> None:
    store, _ = demo
    direct = one(store, "SELECT avg(CAST(first_source = '' AS INT)) FROM visits")
    assert 0.25 <= direct <= 0.45
    mobile = one(
        store,
        "SELECT avg(CAST(device = 'Mobile' AS INT))"
        " FROM (SELECT DISTINCT visitor, day, device FROM events)",
    )
    assert 0.30 <= mobile <= 0.50
    one_page = one(
        store,
        "SELECT avg(CAST(n = 1 AS INT)) FROM (SELECT count(*) FILTER (WHERE name = 'pageview')"
        " AS n FROM events GROUP BY visitor, day)",
    )
    assert 0.30 <= one_page <= 0.60
    assert one(store, "SELECT count(DISTINCT path) FROM events") > 150


def test_sources_and_channels_are_named_as_the_collector_names_them(
    demo: tuple[Store, DemoReport],
) -> None:
    store, _ = demo
    landings = set(
        rows(
            store,
            "SELECT DISTINCT source, channel, utm_medium FROM events"
            " WHERE name = 'pageview' AND (source <> '' OR utm_source <> '')",
        )
    )
    for expected in [
        ("Google", "Organic Search", ""),
        ("Google", "Paid Search", "cpc"),
        ("Bing", "Organic Search", ""),
        ("DuckDuckGo", "Organic Search", ""),
        ("Hacker News", "Organic Social", ""),
        ("GitHub", "Organic Social", ""),
        ("YouTube", "Organic Video", ""),
        ("ChatGPT", "AI Assistants", ""),
        ("Newsletter", "Email", "email"),
        ("Facebook", "Paid Social", "paid_social"),
        ("alternativeto.net", "Referral", ""),
    ]:
        assert expected in landings
    google = rows(store, "SELECT DISTINCT referrer_host FROM events WHERE source = 'Google'")
    assert ("www.google.com",) in google
    software = set(rows(store, "SELECT DISTINCT browser, os, device FROM events"))
    assert ("Safari", "iOS", "Mobile") in software
    assert ("Chrome", "Windows", "Desktop") in software
    assert not {row for row in software if row[:2] == ("Safari", "Windows")}


def test_traffic_follows_a_daily_cycle_in_local_time(demo: tuple[Store, DemoReport]) -> None:
    store, _ = demo
    hours = dict(
        rows(
            store,
            "SELECT hour(timezone('Europe/Berlin', timezone('UTC', ts))) AS h, count(*)"
            " FROM events GROUP BY h",
        )
    )
    assert len(hours) == 24
    assert max(hours.values()) >= 3 * min(hours.values())
    assert max(hours, key=hours.__getitem__) >= 12


def test_intake_counts_hold_the_accepted_requests_and_the_dropped_ones(
    demo: tuple[Store, DemoReport],
) -> None:
    store, _ = demo
    mismatched = """
        SELECT count(*) FROM (SELECT date_trunc('hour', ts) AS hour, count(*) AS n FROM events
                              GROUP BY hour) e
        FULL JOIN (SELECT hour, sum(n) AS n FROM intake_counts WHERE reason = 'accepted'
                   GROUP BY hour) i USING (hour)
        WHERE e.n IS DISTINCT FROM i.n
    """
    assert one(store, mismatched) == 0
    dropped = dict(
        rows(
            store,
            "SELECT reason || ':' || detail || ':' || site_id, sum(n) FROM intake_counts"
            " WHERE reason <> 'accepted' GROUP BY ALL",
        )
    )
    for family in ("Googlebot", "bingbot", "GPTBot", "AhrefsBot", "HeadlessChrome", "curl"):
        assert dropped[f"bot:{family}:1"] > 0
    assert dropped["bad_json::0"] > 0
    for reason in ("dnt", "gpc", "rate_limited", "spam_referrer"):
        assert 0 < dropped[f"{reason}::1"] < EVENTS / 20


def fingerprint(store: Store) -> tuple[Any, ...]:
    with store.read() as cur:
        [row] = cur.execute(
            "SELECT count(*), sum(hash(ts, day, name, hostname, path, referrer_host, source,"
            " utm_campaign, visitor, props, scroll_depth, engaged_ms, browser, os_version,"
            " country, channel) >> 8), (SELECT sum(hash(hour, reason, detail, n) >> 8)"
            " FROM intake_counts) FROM events"
        ).fetchall()
    return tuple(row)


def test_the_same_seed_gives_the_same_data(tmp_path: Path) -> None:
    prints = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        store = Store(tmp_path / name / "hush.duckdb")
        generate_demo(store, events=3000, days=7, seed=seed, today=TODAY)
        prints.append(fingerprint(store))
        store.close()
    assert prints[0] == prints[1]
    assert prints[0] != prints[2]


def test_running_again_adds_new_visitors_to_the_same_site(tmp_path: Path) -> None:
    store = Store(tmp_path / "hush.duckdb")
    snapshot = tmp_path / "sites.json"
    first = generate_demo(store, site="Shop.Example", timezone="UTC", events=2000, days=3,
                          today=TODAY, snapshot=snapshot)  # fmt: skip
    assert orjson.loads(snapshot.read_bytes())[0]["domain"] == first.site == "shop.example"
    visitors = one(store, "SELECT count(DISTINCT visitor) FROM events")
    generate_demo(store, site="shop.example", events=1000, days=3, today=TODAY)
    assert one(store, "SELECT count(*) FROM events") == 3000
    assert one(store, "SELECT count(*) FROM sites") == 1
    assert one(store, "SELECT count(DISTINCT visitor) FROM events") > visitors * 1.4
    store.close()


def test_nothing_lies_after_now(tmp_path: Path) -> None:
    store = Store(tmp_path / "hush.duckdb")
    report = generate_demo(store, events=1000, days=2, timezone="Pacific/Auckland")
    assert report.events == 1000
    latest = one(store, "SELECT max(ts) FROM events")
    assert latest <= datetime.now(UTC).replace(tzinfo=None)
    store.close()


@pytest.mark.parametrize(("events", "days"), [(-1, 30), (100, 0)], ids=["events", "days"])
def test_impossible_requests_are_refused(tmp_path: Path, events: int, days: int) -> None:
    store = Store(tmp_path / "hush.duckdb")
    with pytest.raises(AdminError):
        generate_demo(store, events=events, days=days)
    store.close()


@pytest.mark.server
def test_the_stats_api_counts_the_demo_traffic(tmp_path: Path) -> None:
    hush = ProcessServer(tmp_path)
    store = Store(hush.data_dir / "hush.duckdb")
    generate_demo(store, events=20_000, days=30, snapshot=hush.data_dir / "sites.json")
    expected = rows(
        store,
        "SELECT CAST(sum(visitors) AS BIGINT), CAST(sum(pageviews) AS BIGINT),"
        " CAST(sum(events) AS BIGINT) FROM (SELECT"
        " count(DISTINCT visitor) FILTER (WHERE name <> 'engagement') AS visitors,"
        " count(*) FILTER (WHERE name = 'pageview') AS pageviews,"
        " count(*) FILTER (WHERE name <> 'engagement') AS events FROM events GROUP BY day)",
    )[0]
    store.close()
    try:
        hush.start()
        hush.add_key()
        result = hush.results(
            "aggregate", site_id="demo.example", period="30d", metrics="visitors,pageviews,events"
        )
    finally:
        hush.stop()
        hush.cleanup()
    visitors, pageviews, events = expected
    assert 0 < visitors < pageviews < events < 20_000
    assert result == {
        "visitors": {"value": visitors},
        "pageviews": {"value": pageviews},
        "events": {"value": events},
    }


def test_demo_traffic_for_rolled_up_days_rolls_them_up_again(store: Store) -> None:
    days = {"events": 3000, "days": 3, "today": date(2026, 3, 9)}
    generate_demo(store, **days)
    clock = ManualClock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    assert roll_up_pending(store, clock).days == 3
    site = find_site(store, "demo.example")
    assert site is not None
    totals = Query(site.id, date(2026, 3, 7), date(2026, 3, 9), ("visitors", "pageviews"))
    before = run_query(store, totals)
    generate_demo(store, **days)
    raw = run_query(store, totals, use_rollups=False)
    assert raw[0]["pageviews"] > before[0]["pageviews"]
    assert run_query(store, totals) == raw  # read raw until rolled up again
    assert roll_up_pending(store, clock).days == 3
    assert run_query(store, totals) == raw


def test_removing_a_site_deletes_its_rollups_with_its_events(store: Store) -> None:
    generate_demo(store, events=1000, days=2, today=date(2026, 3, 9))
    roll_up_pending(store, ManualClock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC)))
    remove_site(store, "demo.example")
    with store.read() as cur:
        for table in ("events", "intake_counts", "rollups", "rolled_days"):
            count = cur.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
            assert count == (0,), table
