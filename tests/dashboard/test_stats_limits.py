"""A key holder cannot exhaust the server: bounded parameters, a per-key rate limit and a time
limit on every query (README, "Stats API limits")."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aggregator.queries.engine as engine
from aggregator.store import QueryTimeout, Store
from dashboard.api.params import MAX_BUCKETS, MAX_FILTERS, MAX_FILTERS_CHARS
from tests.harness import Harness, in_process
from tests.servers import ManualClock, utc

SITE = {"site_id": "example.com"}
# A query that runs for seconds (about 7 s on one core) unless it is stopped.
SLOW_SQL = "SELECT sum(hash(i)) FROM range(1000000000) t(i)"
# A query that needs ~400 MB at once (one list of 50M numbers).
BIG_SQL = "SELECT len(list(i)) FROM range(50000000) t(i)"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """One app for the checks that only read: no rate limit, so they never run into it."""
    with in_process(tmp_path_factory.mktemp("limits"), HUSH_API_RATE_LIMIT="0") as harness:
        harness.store_events({"n": "pageview", "u": "https://example.com/", "d": "example.com"})
        yield harness


@pytest.mark.parametrize(
    ("endpoint", "params", "reason"),
    [
        pytest.param(
            "aggregate",
            {"filters": "event:page==/" + "a" * MAX_FILTERS_CHARS},
            f"filters must be at most {MAX_FILTERS_CHARS} characters",
            id="long filters",
        ),
        pytest.param(
            "aggregate",
            # The review's 30,000 spaces took 10 s to refuse; the length bound answers at once.
            {"filters": "a:" + " " * 30_000},
            "filters must be at most",
            id="quadratic filter",
        ),
        pytest.param(
            "aggregate",
            {"filters": ";".join(["event:page==/"] * (MAX_FILTERS + 1))},
            f"at most {MAX_FILTERS} filters",
            id="many filters",
        ),
        pytest.param(
            "aggregate",
            {"filters": "event:page==" + "|".join(["/"] * 101)},
            "at most 100 values",
            id="many values",
        ),
        pytest.param(
            "aggregate", {"metrics": "visitors," * 100}, "at most 500 characters", id="metrics"
        ),
        pytest.param(
            "breakdown", {"period": "7d", "date": "0001-01-02"}, "before 1970-01-01", id="year 1"
        ),
        pytest.param(
            "aggregate",
            {"period": "custom", "date": "1969-12-31,2026-01-01"},
            "before 1970-01-01",
            id="range before 1970",
        ),
        pytest.param(
            "aggregate", {"period": "day", "date": "10000-01-01"}, "ISO-8601", id="year 10000"
        ),
        pytest.param(
            "aggregate",
            {"period": "12mo", "date": "1970-06-01"},
            "would start before 1970-01-01",
            id="period before 1970",
        ),
        pytest.param(
            "aggregate",
            {"period": "custom", "date": "1970-01-01,9999-12-31", "compare": "previous_period"},
            "previous period would start before 1970-01-01",
            id="compare before 1970",
        ),
        pytest.param(
            "timeseries",
            {"period": "custom", "date": "1026-12-01,2026-12-01", "interval": "hour"},
            "before 1970-01-01",
            id="review's thousand years",
        ),
        pytest.param(
            "timeseries",
            {"period": "custom", "date": "2000-01-01,2026-12-01", "interval": "hour"},
            f"235968 points; at most {MAX_BUCKETS}",
            id="hours",
        ),
        pytest.param(
            "timeseries",
            {"period": "custom", "date": "1970-01-01,9999-12-31"},
            f"2932897 points; at most {MAX_BUCKETS}",
            id="days",
        ),
        pytest.param(
            "breakdown", {"property": "event:page", "page": "1000000"}, "at most", id="page"
        ),
        pytest.param("breakdown", {"property": "event:page", "limit": "²"}, "limit", id="digit"),
    ],
)
def test_over_bound_parameters_answer_400_with_the_reason(
    api: Harness, endpoint: str, params: dict[str, str], reason: str
) -> None:
    started = time.monotonic()
    response = api.stats(endpoint, **SITE, **params)
    assert (response.status_code, reason in response.json()["error"]) == (400, True), response.text[
        :300
    ]
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("endpoint", "params"),
    [
        pytest.param(
            "timeseries", {"period": "custom", "date": "2000-01-01,2027-05-18"}, id="days"
        ),
        pytest.param("timeseries", {"period": "month", "date": "9999-12-31"}, id="the last month"),
        pytest.param(
            "timeseries",
            {"period": "custom", "date": "1970-01-01,2803-04-30", "interval": "month"},
            id="every month",
        ),
        pytest.param("aggregate", {"period": "custom", "date": "1970-01-01,9999-12-31"}, id="all"),
        pytest.param(
            "aggregate",
            {"period": "custom", "date": "2000-01-01,2026-03-10", "compare": "previous_period"},
            id="compare",
        ),
    ],
)
def test_the_bounds_themselves_are_answered(
    api: Harness, endpoint: str, params: dict[str, str]
) -> None:
    assert api.stats(endpoint, **SITE, **params).status_code == 200


def test_the_601st_request_of_an_hour_answers_429_with_retry_after(tmp_path: Path) -> None:
    clock = ManualClock(utc(2026, 3, 10, 12, 0))
    with in_process(tmp_path, clock=clock) as hush:
        for n in range(600):
            assert hush.stats("realtime/visitors", **SITE).status_code == 200, n
            clock.advance(1)  # 600 requests over 10 minutes
        refused = hush.stats("realtime/visitors", **SITE)
        assert refused.status_code == 429
        assert "limited to 600 requests per hour" in refused.json()["error"]
        # The first request leaves the window an hour after it was made: 50 minutes from now.
        assert refused.headers["retry-after"] == str(3600 - 600)
        other = hush.admin("keys.add", name="another")["secret"]
        assert hush.stats("realtime/visitors", **SITE, key=other).status_code == 200
        clock.advance(3600 - 600)
        assert hush.stats("realtime/visitors", **SITE).status_code == 200


def test_a_slow_query_is_interrupted_and_answers_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with in_process(tmp_path, HUSH_API_QUERY_SECONDS="0.2") as hush:
        real = engine.build_sql

        def slow(query: Any, **kwargs: Any) -> tuple[str, dict[str, Any]]:
            return (SLOW_SQL, {}) if query.filters else real(query, **kwargs)

        monkeypatch.setattr(engine, "build_sql", slow)
        started = time.monotonic()
        response = hush.stats("aggregate", **SITE, filters="event:page==/")
        took = time.monotonic() - started
        assert response.status_code == 503
        assert "ran longer than 0.2 s and was stopped" in response.json()["error"]
        assert took < 2
        assert hush.stats("aggregate", **SITE).status_code == 200  # no thread left hanging


def test_a_query_that_needs_more_memory_than_the_limit_answers_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with in_process(tmp_path, HUSH_DUCKDB_MEMORY_LIMIT="32MiB") as hush:
        hush.store_events({"n": "pageview", "u": "https://example.com/", "d": "example.com"})
        real = engine.build_sql

        def big(query: Any, **kwargs: Any) -> tuple[str, dict[str, Any]]:
            return (BIG_SQL, {}) if query.filters else real(query, **kwargs)

        monkeypatch.setattr(engine, "build_sql", big)
        response = hush.stats("aggregate", **SITE, filters="event:page==/")
        assert response.status_code == 503
        assert "needed more memory than HUSH_DUCKDB_MEMORY_LIMIT allows" in response.json()["error"]
        assert hush.stats("aggregate", **SITE).status_code == 200


def test_the_store_keeps_interrupting_a_reader_past_its_time(store: Store) -> None:
    with pytest.raises(QueryTimeout), store.read(timeout=0.1) as cur:
        cur.execute("SELECT 1").fetchall()
        time.sleep(0.2)  # the deadline passes between two statements
        cur.execute(SLOW_SQL).fetchall()
    with store.read(timeout=5) as cur:
        assert cur.execute("SELECT 42").fetchall() == [(42,)]
