"""Every Stats API parameter, fuzzed: any value gets a 2xx or a 4xx with an error, never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from aggregator.queries import METRICS, VISIT_DIMENSIONS
from dashboard.api.params import INTERVALS, PERIODS
from tests.harness import Harness, in_process
from tests.servers import ManualClock, utc

ENDPOINTS = ("aggregate", "timeseries", "breakdown", "realtime/visitors")
PROPERTIES = (
    "event:page",
    "event:name",
    "event:hostname",
    "event:props:plan",
    *VISIT_DIMENSIONS,
    "time:day",
)
# Any text a URL can carry (no lone surrogates), with the characters the parsers split on.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
PUNCTUATED = st.text(st.sampled_from("ab/*|\\;,:=!~-. 0\x00é"), max_size=30)
# Every date Python knows, with the ends of its range (and of hush's) drawn often.
EDGES = ("0001-01-01", "0001-01-02", "1969-12-31", "1970-01-01", "9999-12-30", "9999-12-31")
DATES = st.one_of(
    st.sampled_from(EDGES),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat),
    st.dates(min_value=date(2026, 2, 1), max_value=date(2026, 4, 1)).map(date.isoformat),
)
NUMBERS = st.one_of(st.integers(-5, 200_000).map(str), st.sampled_from(["²", "٣", "1" * 5000]))


def _either(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly a valid value, sometimes any text: with ten parameters, a request whose every
    parameter is valid (and so reaches the queries) must stay common."""
    junk = st.one_of(TEXT, PUNCTUATED)
    return st.integers(0, 4).flatmap(lambda n: junk if n == 0 else valid)


FILTER = st.builds(
    lambda prop, op, values: f"{prop}{op}{'|'.join(values)}",
    _either(st.sampled_from(PROPERTIES)),
    st.sampled_from(["==", "!=", "~", "!~", "=", ""]),
    st.lists(st.one_of(PUNCTUATED, st.just("/**"), st.just("/")), max_size=4),
)
PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "site_id": _either(st.just("example.com")),
        "period": _either(st.sampled_from(PERIODS)),
        "date": st.one_of(
            DATES, st.builds(lambda a, b: f"{a},{b}", DATES, DATES), TEXT, PUNCTUATED
        ),
        "metrics": _either(
            st.lists(st.sampled_from(tuple(METRICS)), min_size=1, max_size=4).map(",".join)
        ),
        "filters": st.one_of(st.lists(FILTER, max_size=3).map(";".join), TEXT, PUNCTUATED),
        "property": _either(st.sampled_from(PROPERTIES)),
        "interval": _either(st.sampled_from(tuple(INTERVALS))),
        "limit": _either(NUMBERS),
        "page": _either(NUMBERS),
        "compare": _either(st.just("previous_period")),
    },
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    clock = ManualClock(utc(2026, 3, 10, 12, 0))
    root = tmp_path_factory.mktemp("fuzz")
    with in_process(root, clock=clock, HUSH_API_RATE_LIMIT="0", HUSH_MIN_VISITORS="3") as hush:
        for n, path in enumerate(["/", "/", "/", "/pricing", "/blog?utm_campaign=spring"]):
            hush.store_events(
                {"n": "pageview", "u": f"https://example.com{path}", "d": "example.com"},
                {
                    "n": "Signup",
                    "u": "https://example.com/",
                    "d": "example.com",
                    "p": {"plan": "a"},
                },
                ip=f"203.0.113.{n}",
            )
        yield hush


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,  # the same examples on every run, so CI never turns red by chance
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(endpoint=st.sampled_from(ENDPOINTS), params=PARAMS)
def test_any_parameters_get_a_2xx_or_a_4xx_with_an_error(
    api: Harness, endpoint: str, params: dict[str, str]
) -> None:
    params.setdefault("site_id", "example.com")
    if endpoint == "breakdown":
        params.setdefault("property", "event:page")  # its absence is one 400, tested elsewhere
    response = api.stats(endpoint, **params)
    event(f"{endpoint} {response.status_code}")  # pytest --hypothesis-show-statistics
    assert response.status_code < 500, (params, response.text[:300])
    if response.status_code >= 400:
        assert isinstance(response.json()["error"], str)
    else:
        response.json()
