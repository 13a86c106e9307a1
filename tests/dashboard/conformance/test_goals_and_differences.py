"""Goals counted into rollups (and the 400 past retention), and the deliberate differences:
P7's null with suppressed, the rate limit's text."""

from __future__ import annotations

from pathlib import Path

from aggregator.queries import ROLLUP_VERSION
from aggregator.rollups import roll_up_pending
from dashboard.api import errors
from tests.harness import in_process
from tests.servers import ManualClock, utc


def page(path: str, name: str = "pageview") -> dict[str, str]:
    return {"n": name, "u": f"https://example.com{path}", "d": "example.com"}


def test_goals_roll_up_and_a_later_goal_answers_400_before_it_is_counted(tmp_path: Path) -> None:
    assert ROLLUP_VERSION == 6
    clock = ManualClock(utc(2026, 3, 1, 12, 0))
    with in_process(tmp_path, clock=clock) as h:
        h.admin("goals.add", site="example.com", kind="event", target="Signup")
        for day in range(3):
            clock.set(utc(2026, 3, 1 + day, 12, 0))
            h.store_events(page("/"), page("/x", "Signup"), ip=f"203.0.113.{day}")
        clock.set(utc(2026, 3, 10, 12, 0))
        roll_up_pending(h.app.store, clock)
        rng = {"site_id": "example.com", "period": "custom", "date": "2026-03-01,2026-03-03"}
        assert h.metric("visitors", filters="event:goal==Signup", **rng) == 3
        with h.app.store.write() as cur:  # delete the raw events of 03-01, as retention does
            cur.execute("DELETE FROM events WHERE day = DATE '2026-03-01'")
            cur.execute("UPDATE rolled_days SET raw_purged = true WHERE day = DATE '2026-03-01'")
        assert h.metric("visitors", filters="event:goal==Signup", **rng) == 3  # from rollups
        h.admin("goals.add", site="example.com", kind="page", target="/")
        roll_up_pending(h.app.store, clock)
        later = h.stats("aggregate", filters="event:goal==Visit /", **rng)
        assert later.status_code == 400
        assert "counted from 2026-03-02" in later.json()["error"]
        kept = {**rng, "date": "2026-03-02,2026-03-03"}
        assert h.metric("visitors", filters="event:goal==Visit /", **kept) == 2
        listed = h.admin("goals.list", site="example.com")["goals"]
        assert [g["counted_from"] for g in listed] == [None, "2026-03-02"]


def test_p7_suppressed_is_null_with_a_flag(tmp_path: Path) -> None:
    with in_process(tmp_path, HUSH_MIN_VISITORS="3") as h:
        h.store_events(page("/"), ip="203.0.113.1")
        h.store_events(page("/"), ip="203.0.113.2")
        result = h.results(
            "aggregate", site_id="example.com", period="day", filters="event:page==/"
        )
        assert result == {"visitors": {"value": None, "suppressed": True}}
        rows = h.results("breakdown", site_id="example.com", period="day", property="event:page")
        assert rows == [{"page": "(fewer than 3)", "visitors": None, "suppressed": True}]


def test_rate_limit_text_is_plausibles(tmp_path: Path) -> None:
    with in_process(tmp_path, HUSH_API_RATE_LIMIT="3") as h:
        for _ in range(3):
            assert h.stats("aggregate", site_id="example.com").status_code == 200
        refused = h.stats("aggregate", site_id="example.com")
        assert refused.status_code == 429 and "retry-after" in refused.headers
        assert refused.json() == {
            "error": "Too many API requests. Your API key is limited to 3 requests per hour."
        }
        assert errors.too_many_requests(3, 1).message == refused.json()["error"]
