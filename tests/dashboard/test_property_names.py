"""The custom properties panel's menu: the property names a period's events carry, the same
from rollups as from raw events, and past raw retention as far as P7 lets them (issue 10)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest

from aggregator.retention import purge_raw
from aggregator.rollups import refresh_open_days, roll_up_pending
from tests.harness import Harness, add_user, in_process, log_in
from tests.servers import ManualClock, utc

DAYS = (20, 21, 22)  # 2026-11-20..22; the clock stands on the 22nd, so it is open
PERIOD = "?period=custom&from=2026-11-20&to=2026-11-22"
RARE = "jane-doe-referral"  # a name one person sent: attacker-controlled text (P7)


def signup(props: dict[str, str]) -> dict[str, Any]:
    return {"n": "Signup", "u": "https://example.com/", "d": "example.com", "p": props}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, ManualClock]]:
    """Each day four people sign up with a ``plan``; on the 21st three of them also send a
    ``coupon``; on the 22nd one person sends RARE, and one an engagement event with ``scroll``.
    k = 3. The tests run in order: the last one moves the clock past raw retention."""
    clock = ManualClock(utc(2026, 11, DAYS[0], 9, 0))
    root = tmp_path_factory.mktemp("property-names")
    with in_process(
        root, clock=clock, HUSH_MIN_VISITORS="3", HUSH_MAINTENANCE_INTERVAL="3600"
    ) as hush:
        for day in DAYS:
            clock.set(utc(2026, 11, day, 9, 0))
            for n in range(4):
                props = {"plan": "pro", **({"coupon": "SPRING"} if day == 21 and n < 3 else {})}
                hush.store_events(signup(props), ip=f"203.0.113.{n}")
        hush.store_events(signup({RARE: "yes"}), ip="198.51.100.7")
        engagement = {"n": "engagement", "u": "https://example.com/", "d": "example.com"}
        hush.store_events({**engagement, "p": {"scroll": "deep"}, "sd": 80, "e": 4000})
        add_user(hush, "mo@example.com", "marketing", "example.com")
        log_in(hush, "mo@example.com")
        yield hush, clock


def menu(hush: Harness, query: str = PERIOD) -> list[str]:
    """The names the panel offers, in its order."""
    html = hush.client.get(f"/sites/example.com{query}").text
    panel = html.split('id="panel-props"')[1].split("</section>")[0]
    return [unescape(name) for name in re.findall(r'<option value="([^"]*)"', panel)]


def rolled_names(hush: Harness) -> set[str]:
    with hush.app.store.read() as cur:
        rows = cur.execute("SELECT g0 FROM rollups WHERE spec = 'event:props'").fetchall()
    return {row[0] for row in rows}


def test_the_names_of_rolled_up_days_are_those_raw_events_give(
    shop: tuple[Harness, ManualClock],
) -> None:
    hush, clock = shop
    # Most visitors first; a name of fewer than k people is offered (its values fold under k
    # once picked), and so is one that only engagement events carried.
    expected = ["plan", "coupon", RARE, "scroll"]
    assert menu(hush) == expected  # from raw events: nothing is rolled up yet
    roll_up_pending(hush.app.store, clock)  # the 20th and 21st, for good
    refresh_open_days(hush.app.store, clock)  # the 22nd, provisionally
    assert rolled_names(hush) == set(expected)
    assert menu(hush) == expected
    assert menu(hush, "?period=day&date=2026-11-21") == ["plan", "coupon"]


def test_days_rolled_up_before_the_names_were_are_read_raw(
    shop: tuple[Harness, ManualClock],
) -> None:
    hush, _clock = shop
    with hush.app.store.write() as cur:  # as if rolled up by rollup version 5
        cur.execute("DELETE FROM rollups WHERE spec = 'event:props' AND day = '2026-11-21'")
        cur.execute("UPDATE rolled_days SET rollup_version = 5 WHERE day = '2026-11-21'")
    assert menu(hush) == ["plan", "coupon", RARE, "scroll"]


def test_names_outlive_raw_retention_but_not_one_of_fewer_than_k_people(
    shop: tuple[Harness, ManualClock],
) -> None:
    hush, clock = shop
    store = hush.app.store
    clock.set(utc(2026, 12, 30, 12, 0))  # the 20th..22nd are past 30 days of raw retention
    roll_up_pending(store, clock)  # the 21st for version 6 again, the 22nd for good
    assert purge_raw(store, 30, clock, dry_run=False, min_visitors=3).deleted
    with store.read() as cur:
        assert cur.execute("SELECT count(*) FROM events").fetchone() == (0,)
    log_in(hush, "mo@example.com")  # the session of the 22nd has expired
    # RARE and scroll were folded into their day's "(fewer than 3)" row, which is no name.
    assert menu(hush) == ["plan", "coupon"]
    assert RARE not in rolled_names(hush)
    # A name's values are counted from raw events: past retention the panel says so, and the
    # rest of the view still answers.
    page = hush.client.get(f"/sites/example.com{PERIOD}&prop=plan")
    assert page.status_code == 200
    panel = page.text.split('id="panel-props"')[1].split("</section>")[0]
    assert "retention" in panel
    assert 'id="panel-sources"' in page.text
