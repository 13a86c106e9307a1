"""``/sites/<domain>``: the marketing view of one site for a period, a comparison and filters.

Everything on the page follows from the URL (``view_state``): the metric cards (now and
compared), the graph of the chosen metric, and the panels, each row a link that adds a filter.
All figures come from ``dashboard.report`` (the query engine, P7 on the way out).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from aggregator.goals import list_goals
from aggregator.queries import QueryError
from aggregator.queries.live_check import has_events, last_event, recent_outcomes
from aggregator.queries.prop_keys import first_day, prop_keys
from aggregator.sites import Site, find_site, list_sites
from aggregator.store import QueryStopped
from dashboard.accounts.guard import Who
from dashboard.report import Report
from dashboard.web import graph as graphs
from dashboard.web.context import WebContext, bind
from dashboard.web.filter_names import FILTERABLE, dimension_name
from dashboard.web.numbers import DEFINITIONS, METRIC_NAMES, Change, change, shown
from dashboard.web.panels import PANELS, Panel, Tab, label, shown_dimension
from dashboard.web.shortcuts import Shortcut, shortcuts
from dashboard.web.sites import snippet_tag
from dashboard.web.view_state import (
    COMPARISONS,
    OPERATORS,
    PERIODS,
    ViewFilter,
    ViewState,
    read_state,
)

BASE_CARDS = ("visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration")
PAGE_CARDS = ("time_on_page", "scroll_depth")
# Filtered by a goal, visitors are the goal's unique conversions and events its total ones.
GOAL_CARDS = ("visitors", "events", "conversion_rate")
GOAL_NAMES = {"visitors": "conversions", "events": "total_conversions"}
PANEL_ROWS = 10
QUERY_THREADS = 4
# What each drop reason means for a site owner, and what to do about it.
FIXES = {
    "host_mismatch": "the page's host is not {domain} or a subdomain of it: check data-domain",
    "unknown_site": "the event named a domain hush does not know: check data-domain",
    "gpc": "the browser sent Global Privacy Control: hush never counts it (by design)",
    "dnt": "the browser sent Do Not Track and the site honours it (Sites settings)",
    "bot": "a crawler or an automated browser: not counted as traffic",
    "spam_referrer": "the referrer is on the spam list",
    "rate_limited": "one address sent too many events in a minute",
}


@dataclass(frozen=True, slots=True)
class Card:
    metric: str
    name: str
    value: str
    suppressed: bool
    change: Change | None
    definition: str
    url: str
    selected: bool


@dataclass(frozen=True, slots=True)
class PanelRow:
    label: str
    value: str
    url: str
    bar: float  # 0-100: its share of the panel's largest row
    suppressed: bool


@dataclass(frozen=True, slots=True)
class PanelView:
    panel: Panel
    tab: Tab
    column: str
    tabs: tuple[tuple[Tab, str, bool], ...]  # tab, its URL, whether shown
    rows: tuple[PanelRow, ...]
    details_url: str
    problem: str


async def site_page(ctx: WebContext, request: Request) -> Response:
    domain = request.path_params["domain"]
    who = ctx.require(request, "traffic.read", site=domain)
    site = find_site(ctx.store, domain)
    if site is None:
        return no_such_site(ctx, request, domain)
    if "fp" in request.query_params:
        return _add_filter(ctx, request, site)
    values = await run_in_threadpool(_view, ctx, request, who, site)
    return ctx.render(request, "site.html", **values)


def no_such_site(ctx: WebContext, request: Request, domain: str) -> Response:
    """The 404 page of a site view (traffic, realtime, security) for a domain hush lacks."""
    return ctx.render(
        request,
        "error.html",
        status=404,
        heading="No such site",
        message=f"hush counts no site called {domain}.",
        detail="",
    )


def _add_filter(ctx: WebContext, request: Request, site: Site) -> Response:
    """The "add a filter" form: its property, operator and values become one ``f``."""
    params = request.query_params
    state = view_state(ctx, request, site, keep=(*(f"{key}_tab" for key in PANELS), "prop"))
    values = tuple(v.strip() for v in params.get("fv", "").split(",") if v.strip())
    wanted = ViewFilter(params.get("fo", "is"), params.get("fp", ""), values)
    path = f"/sites/{site.domain}"
    target = state.url(path, f=[*(f.param for f in state.filters), wanted.param])
    return RedirectResponse(target, 303)  # read_state refuses a bad one with a message


def view_state(
    ctx: WebContext, request: Request, site: Site, *, keep: tuple[str, ...] = ()
) -> ViewState:
    today = datetime.fromtimestamp(ctx.now(), ZoneInfo(site.timezone)).date()
    query = {name: request.query_params.getlist(name) for name in request.query_params}
    state = read_state(query, today, first_day=first_day(ctx.store, site.id))
    extra = tuple(
        (name, request.query_params[name]) for name in keep if name in request.query_params
    )

    return replace(state, extra=extra)


def _view(ctx: WebContext, request: Request, who: Who, site: Site) -> dict[str, Any]:
    path = f"/sites/{site.domain}"
    keep = (*(f"{key}_tab" for key in PANELS), "prop")
    state = view_state(ctx, request, site, keep=keep)
    report = Report(ctx.store, site, state, ctx.min_visitors, ctx.now())
    values = frame(ctx, who, site, state, path)
    if not has_events(ctx.store, site.id):
        values.update(_empty(ctx, site))
        return values
    try:
        view_figures(report, request, path, values)
    except (QueryError, QueryStopped) as exc:
        values["problems"].append(f"{exc}. Ask for a shorter range, or one without that filter.")
        values.setdefault("cards", [])
    return values


def view_figures(report: Report, request: Request, path: str, values: dict[str, Any]) -> None:
    """Put every figure of the view in ``values`` (cards, graph, panels, custom properties,
    goals), as the template reads them: what ``benchmarks/dashboard`` times as the view's
    data. A QueryError leaves the figures made before it."""
    state = report.state
    metrics = _card_metrics(state)
    metric = state.metric if state.metric in metrics else "visitors"
    # The view's queries are independent and DuckDB runs each in its own cursor without the
    # GIL: asked together, the page waits for the slowest, not for their sum.
    with ThreadPoolExecutor(max_workers=report.store.query_threads(QUERY_THREADS)) as pool:
        cards = pool.submit(_cards, report, path, metrics)
        current = pool.submit(report.series, metric)
        compared = pool.submit(report.series, metric, compared=True) if state.comparison else None
        panels = [pool.submit(_panel, report, PANELS[key], request, path) for key in PANELS]
        props = pool.submit(_props, report, request, path)
        goals = pool.submit(_goals, report, path)
        values["cards"] = cards.result()
        values["graph"] = graphs.build(
            metric,
            current.result(),
            compared.result() if compared else None,
            interval=state.interval,
        )
        values["panels"] = [panel.result() for panel in panels]
        values["props"] = props.result()
        values["goals"] = goals.result()
    values["suggestions"] = sorted(
        {row.label for view in values["panels"] for row in view.rows if row.url}
    )


def _card_metrics(state: ViewState) -> tuple[str, ...]:
    if _on_a_goal(state):
        return GOAL_CARDS
    on_a_page = any(f.dimension == "event:page" for f in state.filters)
    return BASE_CARDS + (PAGE_CARDS if on_a_page else ())


def _on_a_goal(state: ViewState) -> bool:
    return any(f.dimension == "event:goal" for f in state.filters)


def _cards(report: Report, path: str, metrics: tuple[str, ...]) -> list[Card]:
    state = report.state
    now = report.totals(metrics)
    before = report.totals(metrics, compared=True) if state.comparison else None
    cards = []
    for metric in metrics:
        hidden = now.suppressed
        moved = None
        if before is not None and not hidden and not before.suppressed:
            moved = change(metric, now.values[metric], before.values[metric])
        shown_as = GOAL_NAMES.get(metric, metric) if _on_a_goal(state) else metric
        cards.append(
            Card(
                metric,
                METRIC_NAMES[shown_as],
                f"< {report.k}" if hidden else shown(metric, now.values[metric]),
                hidden,
                moved,
                DEFINITIONS[shown_as],
                state.url(path, metric=metric),
                metric == state.metric,
            )
        )
    return cards


def _panel(report: Report, panel: Panel, request: Request, path: str) -> PanelView:
    state = report.state
    tab = panel.tab(request.query_params.get(f"{panel.key}_tab"))
    dimension, column = shown_dimension(tab, state)
    problem = ""
    try:
        rows = report.breakdown(dimension, ("visitors",), limit=PANEL_ROWS)
    except (QueryError, QueryStopped) as exc:
        rows, problem = [], str(exc)
    return PanelView(
        panel,
        tab,
        column,
        tuple(
            (each, state.url(path, **{f"{panel.key}_tab": each.key}), each.key == tab.key)
            for each in panel.tabs
        ),
        _rows(rows, dimension, state, path, report.k),
        state.url(f"{path}/{panel.key}", **{f"{panel.key}_tab": tab.key}),
        problem,
    )


def _rows(
    rows: list[dict[str, Any]], dimension: str, state: ViewState, path: str, k: int
) -> tuple[PanelRow, ...]:
    top = max((row["visitors"] or 0 for row in rows), default=0) or 1
    out = []
    for row in rows:
        suppressed = bool(row.get("suppressed"))
        out.append(
            PanelRow(
                f"fewer than {k} people" if suppressed else label(dimension, row["value"]),
                f"< {k}" if suppressed else shown("visitors", row["visitors"]),
                "" if suppressed else state.with_filter(path, dimension, str(row["value"])),
                0.0 if suppressed else round(100 * (row["visitors"] or 0) / top, 1),
                suppressed,
            )
        )
    return tuple(out)


def _props(report: Report, request: Request, path: str) -> dict[str, Any]:
    state = report.state
    keys = prop_keys(report.store, report.site.id, state.date_from, state.date_to)
    # Only on request: custom properties are counted from raw events (no rollup holds them),
    # ~5 s over 30 days of a 10M-event store, so the view never waits for them unasked.
    chosen = request.query_params.get("prop", "")
    if chosen not in keys:
        return {"keys": keys, "chosen": "", "rows": ()}
    dimension = f"event:props:{chosen}"
    try:
        rows = report.breakdown(dimension, ("visitors",), limit=PANEL_ROWS)
    except QueryStopped as exc:
        return {"keys": keys, "chosen": chosen, "rows": (), "problem": f"{exc}: ask for fewer days"}
    except QueryError as exc:  # e.g. the range reaches days whose raw events are gone
        return {"keys": keys, "chosen": chosen, "rows": (), "problem": str(exc)}
    return {"keys": keys, "chosen": chosen, "rows": _rows(rows, dimension, state, path, report.k)}


@dataclass(frozen=True, slots=True)
class GoalRow:
    name: str
    url: str
    uniques: str
    total: str
    rate: str
    suppressed: bool


def _goals(report: Report, path: str) -> dict[str, Any]:
    """The goals panel: unique and total conversions and the rate, each goal a filter link."""
    if not list_goals(report.store, report.site.id):
        return {"rows": (), "problem": "", "defined": False}
    try:
        rows = report.breakdown("event:goal", ("visitors", "events", "conversion_rate"))
    except (QueryError, QueryStopped) as exc:
        return {"rows": (), "problem": str(exc), "defined": True}
    k, state = report.k, report.state
    shown_rows = tuple(
        GoalRow(
            f"fewer than {k} people" if row.get("suppressed") else str(row["value"]),
            ""
            if row.get("suppressed")
            else state.with_filter(path, "event:goal", str(row["value"])),
            f"< {k}" if row.get("suppressed") else shown("visitors", row["visitors"]),
            "–" if row.get("suppressed") else shown("events", row["events"]),
            "–" if row.get("suppressed") else shown("conversion_rate", row["conversion_rate"]),
            bool(row.get("suppressed")),
        )
        for row in rows
    )
    return {"rows": tuple(shown_rows), "problem": "", "defined": True}


def frame(ctx: WebContext, who: Who, site: Site, state: ViewState, here: str) -> dict[str, Any]:
    """What the top bar and the filter chips partials need."""
    return {
        "site": site,
        "state": state,
        "here": here,
        "sites": [
            d
            for d in who.sites([s.domain for s in list_sites(ctx.store)])
            if who.may("traffic.read", site=d)
        ],
        "periods": PERIODS,
        "comparisons": COMPARISONS,
        "operators": OPERATORS,
        "chips": _chips(state, here),
        "previous": state.shifted(here, -1),
        "next": state.shifted(here, 1),
        "problems": list(state.problems),
        "k": ctx.min_visitors,
        "filter_choices": [(d, dimension_name(d)) for d in FILTERABLE],
        "suggestions": [],
        "shortcuts": _shortcuts(site, state, here),
    }


def _shortcuts(site: Site, state: ViewState, here: str) -> tuple[Shortcut, ...]:
    home, realtime = f"/sites/{site.domain}", f"/sites/{site.domain}/realtime"
    if here == realtime:  # its periods are the site view's
        return shortcuts(replace(state, extra=()), periods_at=home, realtime=here, compare=True)
    return shortcuts(state, periods_at=here, realtime=realtime, compare=True)


def _chips(state: ViewState, path: str) -> list[tuple[str, str]]:
    chips = []
    for index, each in enumerate(state.filters):
        values = " or ".join(label(each.dimension, v) for v in each.values)
        text = f"{dimension_name(each.dimension)} {OPERATORS[each.operator]} {values}"
        chips.append((text, state.without_filter(path, index)))
    return chips


def _empty(ctx: WebContext, site: Site) -> dict[str, Any]:
    last = last_event(ctx.store, site.id)
    outcomes = recent_outcomes(ctx.store, site.id, now=ctx.now())
    drops = [
        (reason, n, FIXES.get(reason, "").format(domain=site.domain))
        for reason, n in outcomes.items()
        if reason != "accepted"
    ]
    return {
        "empty": True,
        "snippet": snippet_tag(ctx.public_url, site),
        "last_event": last,
        "drops": drops,
    }


def routes(ctx: WebContext) -> list[Route]:
    return [Route("/sites/{domain}", bind(ctx, site_page), methods=["GET"])]
