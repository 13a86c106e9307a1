"""A view filtered by one value reads every panel from rollups, with the numbers raw events give.

Each rollup of two properties answers a filter on either with a breakdown by the other (and a
filter on a property with the day's graph by the hour); the pairs the dashboard offers are
listed in ``aggregator/queries/rollup_plan.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from aggregator.goals import add_goal
from aggregator.queries import (
    METRICS,
    ROLLUP_SPECS,
    Filter,
    Query,
    plan_rollup,
    run_query,
    spec_name,
)
from aggregator.rollups import roll_up_pending
from aggregator.sites import Site, find_site
from aggregator.store import Store
from demo import generate_demo
from tests.servers import ManualClock, utc

FIRST, LAST = date(2026, 3, 1), date(2026, 3, 2)
PAIRS = [spec for spec in ROLLUP_SPECS if len(spec) == 2]


@pytest.fixture(scope="module")
def rolled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Site]]:
    """Two closed days of demo traffic with an event goal and a page goal, rolled up."""
    store = Store(Path(tmp_path_factory.mktemp("pairs")) / "hush.duckdb")
    try:
        generate_demo(store, events=6000, days=2, today=LAST)
        site = find_site(store, "demo.example")
        assert site is not None
        clock = ManualClock(utc(2026, 3, 3, 12, 0))
        add_goal(store, site.id, kind="event", target="Signup", now=clock.now())
        add_goal(store, site.id, kind="page", target="/docs/**", now=clock.now())
        assert roll_up_pending(store, clock).days == 2
        yield store, site
    finally:
        store.close()


def commonest(store: Store, site: Site, dimension: str) -> str:
    """The value of ``dimension`` with the most visitors (what a click on a top row filters)."""
    rows = run_query(store, Query(site.id, FIRST, LAST, ("visitors",), (dimension,)))
    assert rows, dimension
    return str(rows[0][dimension])


def filtered_breakdowns() -> list[tuple[str, str]]:
    """(filtered, shown) for each pair, both ways (hours are shown, never filtered)."""
    return [
        (spec[a], spec[1 - a])
        for spec in PAIRS
        for a in (0, 1)
        if spec[a] not in ("time:hour", "visit:os_version", "visit:browser_version")
    ]


@pytest.mark.parametrize(
    ("filtered", "shown"),
    filtered_breakdowns(),
    ids=[f"{f}-by-{s}" for f, s in filtered_breakdowns()],
)
def test_a_filter_on_one_of_a_pair_with_a_breakdown_by_the_other_reads_rollups_alone(
    rolled: tuple[Store, Site], filtered: str, shown: str
) -> None:
    store, site = rolled
    value = commonest(store, site, filtered)
    query = Query(
        site.id,
        FIRST,
        LAST,
        tuple(METRICS),
        (shown,),
        (Filter("is", filtered, (value,)),),
        timezone=site.timezone,
    )
    with store.read() as cur:
        plan = plan_rollup(cur, query)
    assert plan is not None and set(plan.dimensions) == {filtered, shown}
    assert plan.raw_from > plan.raw_to  # no raw events read
    from_rollups = run_query(store, query)
    assert from_rollups, (filtered, value)
    assert from_rollups == run_query(store, query, use_rollups=False)


def test_the_filtered_views_pairs_are_each_kept_once() -> None:
    names = [spec_name(spec) for spec in ROLLUP_SPECS]
    assert len(names) == len(set(names))
    assert len({frozenset(spec) for spec in ROLLUP_SPECS}) == len(ROLLUP_SPECS)
