"""P7 counts people: a figure over a range is shown only when k distinct visitor ids contributed
on one local day, never because visitor-days add up to k; past raw retention the stored rollups
hold no row about fewer than k people."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aggregator.queries import ROLLUP_SPECS, folded_label
from aggregator.retention import purge_raw
from aggregator.rollups import roll_up_pending
from tests.harness import Harness, in_process
from tests.servers import ManualClock, utc

SITE = {"site_id": "example.com"}
JANE = "/users/jane-doe/settings"
DAYS = (20, 21, 22)  # 2026-11-20..22; the clock stands on the 22nd


def view(path: str) -> dict[str, Any]:
    return {"n": "pageview", "u": f"https://example.com{path}", "d": "example.com"}


@pytest.fixture(scope="module")
def jane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, ManualClock]]:
    """One person (one address and agent) views JANE on three days; five others view / each
    day; on the 21st three people view /team. The tests run in order: the last one moves the
    clock past raw retention."""
    clock = ManualClock(utc(2026, 11, DAYS[0], 9, 0))
    root = tmp_path_factory.mktemp("people")
    with in_process(
        root, clock=clock, HUSH_MIN_VISITORS="3", HUSH_MAINTENANCE_INTERVAL="3600"
    ) as hush:
        for day in DAYS:
            clock.set(utc(2026, 11, day, 9, 0))
            hush.store_events(view(JANE), ip="198.51.100.7")
            for n in range(5):
                hush.store_events(view("/"), ip=f"203.0.113.{n}")
            if day == 21:
                for n in range(3):
                    hush.store_events(view("/team"), ip=f"192.0.2.{n}")
        yield hush, clock


def figures(hush: Harness) -> dict[str, Any]:
    week = {**SITE, "period": "7d", "metrics": "visitors,pageviews"}
    return {
        "aggregate": hush.results("aggregate", **week, filters=f"event:page=={JANE}"),
        "glob": hush.results("aggregate", **week, filters="event:page==/users/**"),
        "team": hush.results("aggregate", **week, filters="event:page==/team"),
        "monthly": hush.results(
            "timeseries", **week, interval="month", filters=f"event:page=={JANE}"
        ),
        "breakdown": hush.results("breakdown", **week, property="event:page"),
    }


def test_one_person_on_three_days_stays_hidden(jane: tuple[Harness, ManualClock]) -> None:
    hush, clock = jane
    suppressed = {"value": None, "suppressed": True}
    expected = {
        "aggregate": {"visitors": suppressed, "pageviews": suppressed},  # 3 visitor-days
        "glob": {"visitors": suppressed, "pageviews": suppressed},
        "team": {"visitors": {"value": 3}, "pageviews": {"value": 3}},  # 3 people on one day
        "monthly": [
            {"date": "2026-11-01", "visitors": None, "pageviews": None, "suppressed": True}
        ],
        "breakdown": [
            {"page": "/", "visitors": 15, "pageviews": 15},
            {"page": "/team", "visitors": 3, "pageviews": 3},
            {"page": "(fewer than 3)", "visitors": None, "pageviews": None, "suppressed": True},
        ],
    }
    assert figures(hush) == expected  # from raw events
    roll_up_pending(hush.app.store, clock)
    assert figures(hush) == expected  # the closed days from their rollups


def test_past_retention_the_rollups_hold_no_row_under_k(
    jane: tuple[Harness, ManualClock],
) -> None:
    hush, clock = jane
    store = hush.app.store
    clock.set(utc(2026, 12, 30, 12, 0))  # the 20th..22nd are past 30 days of raw retention
    roll_up_pending(store, clock)
    report = purge_raw(store, 30, clock, dry_run=False, min_visitors=3)
    assert report.deleted == 21
    named = [spec for spec in ROLLUP_SPECS if any(d != "time:hour" for d in spec)]
    with store.read() as cur:
        rows = cur.execute(
            "SELECT spec, g0, g1, visitors FROM rollups WHERE list_contains($specs, spec)",
            {"specs": ["|".join(spec) for spec in named]},
        ).fetchall()
    label = folded_label(3)
    under_k = [row for row in rows if row[3] < 3 and label not in (row[1], row[2])]
    assert under_k == []
    assert not [row for row in rows if JANE in (row[1], row[2])]
    assert ("event:page", label, None, 1) in rows  # Jane's row, folded on each of her days
    november = {**SITE, "period": "month", "date": "2026-11-30"}
    pages = hush.results("breakdown", **november, property="event:page")
    assert pages == [
        {"page": "/", "visitors": 15},
        {"page": "/team", "visitors": 3},
        {"page": "(fewer than 3)", "visitors": None, "suppressed": True},
    ]
    hours = hush.results("timeseries", **SITE, period="day", date="2026-11-21")
    assert hours[9] == {"date": "2026-11-21 09:00:00", "visitors": 9}  # site totals stay whole
    filtered = hush.results(
        "aggregate", **november, filters=f"event:page=={label}", metrics="visitors"
    )
    assert filtered == {"visitors": {"value": None, "suppressed": True}}
    by_hour = hush.results(
        "timeseries", **SITE, period="day", date="2026-11-21", filters=f"event:page=={label}"
    )
    assert len(by_hour) == 24 and all(point.get("suppressed") for point in by_hour)
