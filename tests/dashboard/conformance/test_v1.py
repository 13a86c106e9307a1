"""Stats API v1 against Plausible's docs and tests: one test per check of the review
(reviews/stats-api.md, §2.1–2.8), by its id, on the replay of Plausible's scenarios."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from dashboard.api import errors
from tests.dashboard.conformance.scenario import DIRECT, SITE, TODAY, VISITORS
from tests.harness import Harness

DAY = {"period": "day"}
DOCS = errors.DOCS


@dataclass(frozen=True)
class Check:
    id: str
    endpoint: str
    params: dict[str, str]
    status: int = 200
    # the results (200) or the error text (otherwise), or a test of the whole JSON
    expect: Any = None


def results(json: Any) -> Any:
    return json["results"]


def values(json: Any) -> dict[str, Any]:
    return {k: v["value"] for k, v in json["results"].items()}


def keys_are(*names: str) -> Callable[[Any], bool]:
    return lambda json: all(set(row) == set(names) for row in json["results"])


def count(n: int) -> Callable[[Any], bool]:
    return lambda json: len(json["results"]) == n


def is_int(metric: str) -> Callable[[Any], bool]:
    return lambda json: isinstance(json["results"][metric]["value"], int)


ALL = "pageviews,visits,views_per_visit,visitors,bounce_rate,visit_duration,events"
CHECKS = [
    # 2.1 authentication: see test_auth_* below
    # 2.2 parameters, periods, dates
    Check("agg-default", "aggregate", {}, expect={"visitors": {"value": VISITORS}}),
    Check(
        "agg-prop",
        "aggregate",
        {"property": "event:props:author", "metrics": "visit_duration"},
        expect=is_int("visit_duration"),
    ),
    Check(
        "agg-imported",
        "aggregate",
        {"metrics": "pageviews", "with_imported": "true"},
        expect=is_int("pageviews"),
    ),
    *(
        Check(
            f"agg-period-{p}",
            "aggregate",
            {"period": p, "date": TODAY},
            expect={"visitors": {"value": VISITORS}},
        )
        for p in ("day", "7d", "30d", "month", "6mo", "12mo")
    ),
    Check(
        "agg-period-custom",
        "aggregate",
        {"period": "custom", "date": "2026-11-01,2026-12-01"},
        expect={"visitors": {"value": VISITORS}},
    ),
    Check(
        "agg-period-custom-space",
        "aggregate",
        {"period": "custom", "date": "2026-11-01, 2026-12-01"},
        expect={"visitors": {"value": VISITORS}},
    ),
    Check(
        "agg-date",
        "aggregate",
        {"period": "month", "date": "2021-dkjbAS", "metrics": "pageviews"},
        400,
        "Error parsing `date` parameter: invalid_format. Please specify a valid date in"
        " ISO-8601 format.",
    ),
    Check(
        "agg-period",
        "aggregate",
        {"period": "aosuhsacp", "metrics": "pageviews"},
        400,
        "Error parsing `period` parameter: invalid period `aosuhsacp`. Please find accepted"
        f" values in our docs: {DOCS}#time-periods",
    ),
    Check(
        "agg-custom-nodate",
        "aggregate",
        {"period": "custom", "metrics": "pageviews"},
        400,
        f"The `date` parameter is required when using a custom period. See {DOCS}#time-periods",
    ),
    Check(
        "agg-custom-baddate",
        "aggregate",
        {"period": "custom", "date": "2020-131-2piaskj,s,a90uac", "metrics": "pageviews"},
        400,
        "Invalid format for `date` parameter. When using a custom period, please include two"
        f" ISO-8601 formatted dates joined by a comma. See {DOCS}#time-periods",
    ),
    Check(
        "agg-metric-unknown",
        "aggregate",
        {"period": "30d", "metrics": "pageviews,led_zeppelin"},
        400,
        "The metric `led_zeppelin` is not recognized. Find valid metrics from the"
        f" documentation: {DOCS}#metrics",
    ),
    Check(
        "agg-dup",
        "aggregate",
        {"metrics": "visitors,visitors"},
        400,
        "Metrics cannot be queried multiple times.",
    ),
    # 2.3 metrics
    Check(
        "agg-all",
        "aggregate",
        {"period": "7d", "metrics": ALL},
        expect=lambda j: (
            set(j["results"]) == set(ALL.split(","))
            and isinstance(j["results"]["views_per_visit"]["value"], float)
        ),
    ),
    Check(
        "agg-cmp",
        "aggregate",
        {
            "period": "7d",
            "metrics": "pageviews,visitors,bounce_rate,visit_duration",
            "compare": "previous_period",
        },
        expect=lambda j: (
            all(set(v) == {"value", "change", "comparison_value"} for v in j["results"].values())
            and j["results"]["visitors"]["comparison_value"] == 0
        ),
    ),
    Check(
        "agg-scroll",
        "aggregate",
        {"period": "30d", "metrics": "scroll_depth"},
        400,
        "The metric `scroll_depth` is not recognized. Find valid metrics from the"
        f" documentation: {DOCS}#metrics",
    ),
    Check(
        "agg-top-page",
        "aggregate",
        {"metrics": "time_on_page", "filters": "event:page==/A"},
        expect={"time_on_page": {"value": 70}},
    ),
    Check(
        "agg-top-nopage",
        "aggregate",
        {"metrics": "time_on_page"},
        400,
        "Metric `time_on_page` can only be queried in a page breakdown or with a page filter.",
    ),
    Check(
        "agg-top-name",
        "aggregate",
        {"metrics": "time_on_page", "filters": "event:page==/A;event:name==Signup"},
        400,
        "Metric `time_on_page` cannot be queried when filtering by `event:name`",
    ),
    Check(
        "agg-cr-nogoal",
        "aggregate",
        {"metrics": "conversion_rate"},
        400,
        "Metric `conversion_rate` can only be queried in a goal breakdown or with a goal filter",
    ),
    Check(
        "agg-cr-goal",
        "aggregate",
        {"metrics": "visitors,conversion_rate", "filters": "event:goal==Signup"},
        expect={"visitors": {"value": 3}, "conversion_rate": {"value": round(300 / VISITORS, 1)}},
    ),
    Check(
        "agg-vpv-page",
        "aggregate",
        {"filters": "event:page==/something", "metrics": "views_per_visit"},
        400,
        "Metric `views_per_visit` cannot be queried with a filter on `event:page`.",
    ),
    Check(
        "agg-vpv-name",
        "aggregate",
        {"filters": "event:name==Something", "metrics": "views_per_visit"},
        400,
        "Session metric `views_per_visit` cannot be queried when using a filter on `event:name`.",
    ),
    *(
        Check(
            f"agg-session-{prop}",
            "aggregate",
            {
                "period": "30d",
                "metrics": "pageviews,visit_duration",
                "filters": f"{prop}==some_value",
            },
            400,
            f"Session metric `visit_duration` cannot be queried when using a filter on `{prop}`.",
        )
        for prop in ("event:name", "event:props:custom_prop", "event:goal")
    ),
    # 2.4 filters
    Check(
        "f-eq",
        "aggregate",
        {"metrics": "visitors,pageviews", "filters": "visit:source==Google"},
        expect={"visitors": {"value": 2}, "pageviews": {"value": 2}},
    ),
    Check(
        "f-ne",
        "aggregate",
        {"metrics": "visitors", "filters": "visit:country!=FR"},
        expect={"visitors": {"value": VISITORS}},
    ),
    Check(
        "f-in",
        "aggregate",
        {"metrics": "visitors", "filters": "visit:source==Google|ref.com"},
        expect={"visitors": {"value": 3}},
    ),
    Check(
        "f-and",
        "aggregate",
        {"metrics": "visitors,pageviews", "filters": "event:page==/blogpost;visit:os==Mac"},
        expect={"visitors": {"value": 0}, "pageviews": {"value": 0}},
    ),
    Check(
        "f-wild",
        "aggregate",
        {"metrics": "visitors", "filters": "event:page==/blog/*"},
        expect={"visitors": {"value": 2}},
    ),
    Check(
        "f-wild2",
        "aggregate",
        {"metrics": "visitors", "filters": "event:page==/blog**"},
        expect={"visitors": {"value": 4}},
    ),
    # page figures are the page views' (the 6 custom-event-only visitors have none)
    Check(
        "f-neg-wild",
        "aggregate",
        {"metrics": "visitors", "filters": "event:page!=/blog/**"},
        expect={"visitors": {"value": VISITORS - 6 - 2}},
    ),
    Check(
        "f-escape",
        "aggregate",
        {"metrics": "visitors,pageviews", "filters": "visit:utm_campaign==campaign\\|one"},
        expect={"visitors": {"value": 0}, "pageviews": {"value": 0}},
    ),
    Check(
        "f-direct",
        "aggregate",
        {"metrics": "visitors", "filters": "visit:source==Direct / None"},
        expect={"visitors": {"value": DIRECT}},
    ),
    Check(
        "f-spaces",
        "aggregate",
        {"metrics": "visitors", "filters": "visit:os == Mac"},
        expect={"visitors": {"value": 2}},
    ),
    Check(
        "f-host",
        "aggregate",
        {"metrics": "visitors", "filters": f"event:hostname==*.{SITE}|{SITE}"},
        expect={"visitors": {"value": VISITORS - 6}},
    ),  # a page property: page views
    Check(
        "f-ref-wild",
        "aggregate",
        {"metrics": "visitors", "filters": "visit:referrer==**google**"},
        expect={"visitors": {"value": 1}},
    ),
    Check(
        "f-prop",
        "aggregate",
        {"metrics": "visitors,pageviews", "filters": "event:props:cost==16"},
        expect={"visitors": {"value": 2}, "pageviews": {"value": 0}},
    ),
    Check(
        "f-channel",
        "aggregate",
        {"metrics": "visitors", "filters": "visit:channel==Organic Search"},
        expect=is_int("visitors"),
    ),
    Check(
        "f-goal-event",
        "aggregate",
        {"metrics": "visitors,pageviews", "filters": "event:goal==Signup"},
        expect={"visitors": {"value": 3}, "pageviews": {"value": 0}},
    ),
    Check(
        "f-goal-page",
        "aggregate",
        {"metrics": "visitors,pageviews", "filters": "event:goal==Visit /blogpost"},
        expect={"visitors": {"value": 2}, "pageviews": {"value": 2}},
    ),
    Check(
        "agg-goal-missing",
        "aggregate",
        {"filters": "event:goal==Register|Visit /register"},
        400,
        "The goal `Register` is not configured for this site. Find out how to configure goals"
        f" here: {DOCS}#filtering-by-goals",
    ),
    Check(
        "f-region",
        "aggregate",
        {"metrics": "visitors", "filters": "visit:region==US-MD"},
        400,
        errors.no_locations("visit:region").message,
    ),
    Check(
        "f-city",
        "aggregate",
        {"metrics": "visitors", "filters": "visit:city==4347778"},
        400,
        errors.no_locations("visit:city").message,
    ),
    Check(
        "f-json",
        "aggregate",
        {"metrics": "visitors,pageviews", "filters": '[["is", "event:page", ["/"]]]'},
        expect={"visitors": {"value": 3}, "pageviews": {"value": 3}},
    ),
    Check(
        "f-json-contains",
        "aggregate",
        {"metrics": "visitors", "filters": '[["contains", "event:page", ["/blog"]]]'},
        expect={"visitors": {"value": 4}},
    ),
    Check(
        "agg-badfilter",
        "aggregate",
        {"property": "event:page", "filters": "badproperty==bar"},
        400,
        "Invalid filter property 'badproperty'. Please provide a valid filter property:"
        f" {DOCS}#properties",
    ),
    # 2.5 timeseries
    Check(
        "ts-day",
        "timeseries",
        {
            "period": "day",
            "date": TODAY,
            "metrics": "visitors,pageviews,visits,visit_duration,bounce_rate",
        },
        expect=lambda j: (
            len(j["results"]) == 24 and j["results"][10]["date"] == f"{TODAY} 10:00:00"
        ),
    ),
    Check("ts-7d", "timeseries", {"period": "7d", "date": TODAY}, expect=count(7)),
    Check(
        "ts-6mo",
        "timeseries",
        {"period": "6mo", "date": TODAY},
        expect=lambda j: [p["date"] for p in j["results"]][::5] == ["2026-07-01", "2026-12-01"],
    ),
    Check("ts-12mo", "timeseries", {"period": "12mo", "date": TODAY}, expect=count(12)),
    Check(
        "ts-12mo-date",
        "timeseries",
        {"period": "12mo", "interval": "date"},
        expect=lambda j: len(j["results"]) in (365, 366),
    ),
    Check(
        "ts-custom",
        "timeseries",
        {"period": "custom", "date": "2026-11-30,2026-12-01"},
        expect=[{"date": "2026-11-30", "visitors": 0}, {"date": TODAY, "visitors": VISITORS}],
    ),
    Check(
        "ts-custom-month",
        "timeseries",
        {
            "period": "custom",
            "date": "2026-10-01, 2026-12-01",
            "interval": "month",
            "metrics": "pageviews,visitors,bounce_rate,visit_duration",
        },
        expect=lambda j: (
            [p["date"] for p in j["results"]] == ["2026-10-01", "2026-11-01", "2026-12-01"]
        ),
    ),
    Check(
        "ts-interval-date",
        "timeseries",
        {"date": TODAY, "period": "6mo", "interval": "date"},
        expect=lambda j: j["results"][0]["date"] == "2026-07-01",
    ),
    Check(
        "ts-events-vpv",
        "timeseries",
        {"period": "7d", "date": TODAY, "metrics": "pageviews,visits,views_per_visit,events"},
        expect=lambda j: isinstance(j["results"][-1]["views_per_visit"], float),
    ),
    Check(
        "ts-filter-props",
        "timeseries",
        {"period": "7d", "date": TODAY, "filters": "event:name==Purchase;event:props:cost==16"},
        expect=lambda j: j["results"][-1] == {"date": TODAY, "visitors": 2},
    ),
    Check(
        "ts-prop",
        "timeseries",
        {"property": "event:props:author", "metrics": "visit_duration"},
        expect=count(30),
    ),
    Check(
        "ts-empty",
        "timeseries",
        {
            "period": "7d",
            "date": TODAY,
            "metrics": (
                "visitors,visits,pageviews,bounce_rate,visit_duration,views_per_visit,events"
            ),
        },
        expect=lambda j: (
            j["results"][0]
            == {
                "date": "2026-11-25",
                "visitors": 0,
                "visits": 0,
                "pageviews": 0,
                "bounce_rate": 0,
                "visit_duration": None,
                "views_per_visit": 0.0,
                "events": 0,
            }
        ),
    ),
    Check(
        "ts-date",
        "timeseries",
        {"period": "6mo", "date": "2021-dkjbAS"},
        400,
        "Error parsing `date` parameter: invalid_format. Please specify a valid date in"
        " ISO-8601 format.",
    ),
    Check(
        "ts-period",
        "timeseries",
        {"period": "aosuhsacp"},
        400,
        errors.invalid_period("aosuhsacp").message,
    ),
    Check(
        "ts-interval-bad",
        "timeseries",
        {"period": "12mo", "interval": "alskd"},
        400,
        "Error parsing `interval` parameter: invalid interval `alskd`. Valid intervals are"
        " `day`, `month`",
    ),
    Check(
        "ts-cr-nogoal",
        "timeseries",
        {"metrics": "conversion_rate"},
        400,
        errors.conversion_rate_needs_goal().message,
    ),
    Check(
        "ts-badfilter",
        "timeseries",
        {"period": "month", "filters": "badproperty==bar"},
        400,
        errors.invalid_filter_property("badproperty").message,
    ),
    Check(
        "ts-realtime",
        "timeseries",
        {"period": "realtime"},
        400,
        errors.invalid_period("realtime").message,
    ),
    # 2.6 breakdown and properties
    Check(
        "bd-event:page",
        "breakdown",
        {**DAY, "property": "event:page", "limit": "3"},
        expect=lambda j: len(j["results"]) == 3 and set(j["results"][0]) == {"page", "visitors"},
    ),
    Check(
        "bd-event:name",
        "breakdown",
        {**DAY, "property": "event:name", "limit": "3"},
        expect=[
            {"name": "pageview", "visitors": 17},
            {"name": "Purchase", "visitors": 3},
            {"name": "Signup", "visitors": 3},
        ],
    ),
    Check(
        "bd-event:props:plan",
        "breakdown",
        {**DAY, "property": "event:props:cost"},
        expect=[{"cost": "(none)", "visitors": VISITORS - 2}, {"cost": "16", "visitors": 2}],
    ),
    Check(
        "bd-visit:entry_page",
        "breakdown",
        {**DAY, "property": "visit:entry_page", "limit": "2"},
        expect=[{"entry_page": "/", "visitors": 3}, {"entry_page": "/A", "visitors": 3}],
    ),
    Check(
        "bd-visit:exit_page",
        "breakdown",
        {**DAY, "property": "visit:exit_page", "limit": "1"},
        expect=[{"exit_page": "/r", "visitors": 3}],
    ),
    Check(
        "bd-visit:source",
        "breakdown",
        {**DAY, "property": "visit:source"},
        expect=[
            {"source": "Direct / None", "visitors": DIRECT},
            {"source": "Google", "visitors": 2},
            {"source": "ab.com", "visitors": 1},
            {"source": "ref.com", "visitors": 1},
        ],
    ),
    Check(
        "bd-visit:channel",
        "breakdown",
        {**DAY, "property": "visit:channel"},
        expect=keys_are("channel", "visitors"),
    ),
    Check(
        "bd-visit:device",
        "breakdown",
        {**DAY, "property": "visit:device"},
        expect=[{"device": "Desktop", "visitors": VISITORS}],
    ),
    Check(
        "bd-visit:browser",
        "breakdown",
        {**DAY, "property": "visit:browser"},
        expect=[
            {"browser": "Chrome", "visitors": VISITORS - 2},
            {"browser": "Safari", "visitors": 2},
        ],
    ),
    Check(
        "bd-visit:os",
        "breakdown",
        {**DAY, "property": "visit:os"},
        expect=lambda j: j["results"][-1] == {"os": "Mac", "visitors": 2},
    ),
    Check(
        "bd-visit:country",
        "breakdown",
        {**DAY, "property": "visit:country"},
        expect=keys_are("country", "visitors"),
    ),
    Check(
        "bd-visit:referrer",
        "breakdown",
        {**DAY, "property": "visit:referrer"},
        expect=[
            {"referrer": "Direct / None", "visitors": DIRECT},
            {"referrer": "ref.com", "visitors": 2},
            {"referrer": "ab.com", "visitors": 1},
            {"referrer": "google.com/search", "visitors": 1},
        ],
    ),
    # utm values as sent (Plausible's answer: `Search`, `Google`)
    Check(
        "bd-visit:utm_medium",
        "breakdown",
        {**DAY, "property": "visit:utm_medium"},
        expect=[{"utm_medium": "Search", "visitors": 2}],
    ),
    Check(
        "bd-visit:utm_source",
        "breakdown",
        {**DAY, "property": "visit:utm_source"},
        expect=[{"utm_source": "Google", "visitors": 1}],
    ),
    *(
        Check(
            f"bd-visit:utm_{tag}", "breakdown", {**DAY, "property": f"visit:utm_{tag}"}, expect=[]
        )
        for tag in ("campaign", "content", "term")
    ),
    Check(
        "bd-visit:browser_version",
        "breakdown",
        {**DAY, "property": "visit:browser_version"},
        expect=lambda j: (
            {"browser_version": "18", "browser": "Safari", "visitors": 2} in j["results"]
            and keys_are("browser_version", "browser", "visitors")(j)
        ),
    ),
    Check(
        "bd-visit:os_version",
        "breakdown",
        {**DAY, "property": "visit:os_version"},
        expect=lambda j: (
            {"os_version": "10.15", "os": "Mac", "visitors": 2} in j["results"]
            and keys_are("os_version", "os", "visitors")(j)
        ),
    ),
    Check(
        "bd-visit:region",
        "breakdown",
        {"property": "visit:region"},
        400,
        errors.no_locations("visit:region").message,
    ),
    Check(
        "bd-visit:city",
        "breakdown",
        {"property": "visit:city"},
        400,
        errors.no_locations("visit:city").message,
    ),
    Check(
        "bd-event:goal",
        "breakdown",
        {**DAY, "property": "event:goal"},
        expect=[
            {"goal": "Purchase", "visitors": 3},
            {"goal": "Signup", "visitors": 3},
            {"goal": "Visit /blogpost", "visitors": 2},
        ],
    ),
    Check(
        "bd-hostname", "breakdown", {"property": "event:hostname"}, 400, errors.HOSTNAME_BREAKDOWN
    ),
    Check(
        "bd-all-metrics",
        "breakdown",
        {
            **DAY,
            "property": "visit:source",
            "limit": "2",
            "metrics": "visitors,visits,pageviews,bounce_rate,visit_duration,events",
        },
        expect=lambda j: (
            j["results"][1]
            == {
                "source": "Google",
                "visitors": 2,
                "visits": 2,
                "pageviews": 2,
                "bounce_rate": 100,
                "visit_duration": 0,
                "events": 2,
            }
        ),
    ),
    Check(
        "bd-top-page",
        "breakdown",
        {
            **DAY,
            "property": "event:page",
            "metrics": "visitors,time_on_page",
            "filters": "event:page==/A",
        },
        expect=[{"page": "/A", "visitors": 3, "time_on_page": 70}],
    ),
    Check(
        "bd-props-filter",
        "breakdown",
        {**DAY, "property": "event:props:cost", "filters": "event:name==Purchase"},
        expect=[{"cost": "16", "visitors": 2}, {"cost": "(none)", "visitors": 1}],
    ),
    Check(
        "bd-page2",
        "breakdown",
        {**DAY, "property": "visit:device", "limit": "2", "page": "50"},
        expect=[],
    ),
    Check(
        "bd-limit",
        "breakdown",
        {**DAY, "property": "event:page", "limit": "1000"},
        expect=lambda j: 10 < len(j["results"]) <= 1000,
    ),
    Check(
        "bd-limit-over", "breakdown", {"property": "event:page", "limit": "1001"}, 400, errors.LIMIT
    ),
    Check(
        "bd-vpv",
        "breakdown",
        {"property": "visit:source", "metrics": "views_per_visit"},
        400,
        "Metric `views_per_visit` is not supported in breakdown queries.",
    ),
    Check(
        "bd-goal-cr",
        "breakdown",
        {**DAY, "property": "event:goal", "metrics": "visitors,conversion_rate"},
        expect=[
            {"goal": "Purchase", "visitors": 3, "conversion_rate": round(300 / VISITORS, 1)},
            {"goal": "Signup", "visitors": 3, "conversion_rate": round(300 / VISITORS, 1)},
            {"goal": "Visit /blogpost", "visitors": 2, "conversion_rate": round(200 / VISITORS, 1)},
        ],
    ),
    Check("bd-noprop", "breakdown", {}, 400, errors.PROPERTY_REQUIRED),
    Check(
        "bd-badprop",
        "breakdown",
        {"property": "badproperty"},
        400,
        errors.invalid_property("badproperty").message,
    ),
    Check(
        "bd-emptyprop",
        "breakdown",
        {"property": "event:props:"},
        400,
        errors.invalid_property("event:props:").message,
    ),
    Check(
        "bd-period",
        "breakdown",
        {"period": "bad_period"},
        400,
        errors.invalid_period("bad_period").message,
    ),
    Check(
        "bd-metric",
        "breakdown",
        {"property": "event:page", "metrics": "visitors,baa"},
        400,
        errors.unknown_metric("baa").message,
    ),
    Check(
        "bd-session-name",
        "breakdown",
        {"property": "event:name", "metrics": "visitors,bounce_rate"},
        400,
        "Session metric `bounce_rate` cannot be queried for breakdown by `event:name`.",
    ),
    Check(
        "bd-session-props",
        "breakdown",
        {"property": "event:props:url", "metrics": "visitors,bounce_rate"},
        400,
        "Session metric `bounce_rate` cannot be queried for breakdown by `event:props:url`.",
    ),
    Check(
        "bd-session-namefilter",
        "breakdown",
        {
            "property": "event:page",
            "filters": "event:name==Signup",
            "metrics": "visitors,bounce_rate",
        },
        400,
        "Session metric `bounce_rate` cannot be queried when using a filter on `event:name`.",
    ),
    Check(
        "bd-top-source",
        "breakdown",
        {"property": "visit:source", "filters": "event:page==/A", "metrics": "time_on_page"},
        400,
        "Metric `time_on_page` is not supported in breakdown queries (except `event:page`"
        " breakdown)",
    ),
    Check(
        "bd-cr-nogoal",
        "breakdown",
        {"property": "event:page", "metrics": "conversion_rate"},
        400,
        errors.conversion_rate_needs_goal().message,
    ),
    # 2.7 realtime
    Check("rt", "realtime/visitors", {}, expect=lambda j: isinstance(j, int)),
    # 2.8 the controlled replay
    Check(
        "c-page-filter",
        "aggregate",
        {**DAY, "metrics": "pageviews,visitors,bounce_rate", "filters": "event:page==/blogpost"},
        expect={"pageviews": {"value": 2}, "visitors": {"value": 2}, "bounce_rate": {"value": 100}},
    ),
    Check(
        "c-name-filter",
        "aggregate",
        {**DAY, "metrics": "visitors,pageviews", "filters": "event:name==Signup"},
        expect={"visitors": {"value": 3}, "pageviews": {"value": 0}},
    ),
    Check(
        "c-bd-page-by-name",
        "breakdown",
        {**DAY, "property": "event:page", "filters": "event:name==Signup"},
        expect=[{"page": "/pageA", "visitors": 2}, {"page": "/pageB", "visitors": 1}],
    ),
    Check(
        "c-bd-name",
        "breakdown",
        {**DAY, "property": "event:name", "metrics": "visitors,events"},
        expect=lambda j: (
            "engagement" not in [r["name"] for r in j["results"]]
            and j["results"][0] == {"name": "pageview", "visitors": 17, "events": 20}
        ),
    ),
    Check(
        "c-bd-none",
        "breakdown",
        {**DAY, "property": "event:props:cost", "filters": "event:name==Purchase"},
        expect=[{"cost": "16", "visitors": 2}, {"cost": "(none)", "visitors": 1}],
    ),
    Check(
        "c-bd-referrer",
        "breakdown",
        {**DAY, "property": "visit:referrer", "limit": "5"},
        expect=lambda j: j["results"][0] == {"referrer": "Direct / None", "visitors": DIRECT},
    ),
    Check(
        "c-bd-utm-medium",
        "breakdown",
        {**DAY, "property": "visit:utm_medium"},
        expect=[{"utm_medium": "Search", "visitors": 2}],
    ),
    Check(
        "c-bd-os-version",
        "breakdown",
        {**DAY, "property": "visit:os_version"},
        expect=keys_are("os_version", "os", "visitors"),
    ),
    Check(
        "c-bd-browser-version",
        "breakdown",
        {**DAY, "property": "visit:browser_version"},
        expect=keys_are("browser_version", "browser", "visitors"),
    ),
    Check(
        "c-top",
        "aggregate",
        {**DAY, "metrics": "time_on_page", "filters": "event:page==/A"},
        expect={"time_on_page": {"value": 70}},
    ),
    Check(
        "c-top-bd",
        "breakdown",
        {
            **DAY,
            "property": "event:page",
            "metrics": "visitors,time_on_page",
            "filters": "event:page==/A",
        },
        expect=[{"page": "/A", "visitors": 3, "time_on_page": 70}],
    ),
    Check(
        "c-pipe",
        "aggregate",
        {**DAY, "metrics": "visitors", "filters": "event:page==**post\\|1|/something-else"},
        expect={"visitors": {"value": 3}},
    ),
    Check(
        "c-wild-member",
        "aggregate",
        {**DAY, "metrics": "visitors", "filters": "event:page==/blog/**|/something-else"},
        expect={"visitors": {"value": 3}},
    ),
    Check(
        "c-host",
        "aggregate",
        {
            **DAY,
            "metrics": "visitors",
            "filters": f"event:hostname==*.{SITE}|{SITE};event:page==/m",
        },
        expect={"visitors": {"value": 2}},
    ),
    Check(
        "c-src-direct",
        "aggregate",
        {**DAY, "metrics": "visitors", "filters": "visit:source==Direct / None"},
        expect={"visitors": {"value": DIRECT}},
    ),
    Check(
        "c-bd-source",
        "breakdown",
        {**DAY, "property": "visit:source"},
        expect=lambda j: j["results"][0] == {"source": "Direct / None", "visitors": DIRECT},
    ),
    Check(
        "c-ts-day",
        "timeseries",
        {**DAY, "metrics": "visitors,pageviews,visits,visit_duration,bounce_rate"},
        expect=lambda j: (
            j["results"][0]
            == {
                "date": f"{TODAY} 00:00:00",
                "visitors": 0,
                "pageviews": 0,
                "visits": 0,
                "visit_duration": None,
                "bounce_rate": 0,
            }
        ),
    ),
]


@pytest.mark.parametrize("check", CHECKS, ids=[c.id for c in CHECKS])
def test_check(ctl: Harness, check: Check) -> None:
    response = ctl.stats(check.endpoint, site_id=SITE, **check.params)
    assert response.status_code == check.status, response.text
    json = response.json()
    if check.status != 200:
        assert json == {"error": check.expect}
    elif callable(check.expect):
        assert check.expect(json), json
    elif check.endpoint == "realtime/visitors":
        assert json == check.expect
    else:
        assert json["results"] == check.expect


def test_auth_1_no_key(ctl: Harness) -> None:
    response = ctl.stats("aggregate", key="", site_id="some-site.com", metrics="pageviews")
    assert (response.status_code, response.json()) == (401, {"error": errors.MISSING_KEY})
    assert "Plausible API key" in errors.MISSING_KEY


def test_auth_2_bad_key(ctl: Harness) -> None:
    response = ctl.stats("aggregate", key="nope", site_id=SITE, metrics="pageviews")
    assert (response.status_code, response.json()) == (401, {"error": errors.INVALID_KEY})


def test_auth_3_unknown_site(ctl: Harness) -> None:
    response = ctl.stats("aggregate", site_id="some-site.com", metrics="pageviews")
    assert (response.status_code, response.json()) == (401, {"error": errors.INVALID_KEY})


def test_auth_4_missing_site_id(ctl: Harness) -> None:
    response = ctl.stats("aggregate", metrics="pageviews")
    assert (response.status_code, response.json()) == (400, {"error": errors.MISSING_SITE_ID})


def test_health(ctl: Harness) -> None:
    response = ctl.client.get("/api/health")
    assert response.status_code == 200 and response.json()
