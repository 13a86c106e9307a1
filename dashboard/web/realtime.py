"""``/sites/<domain>/realtime``: who is on the site now, as Plausible's realtime view shows it.

Visitors of the last 5 minutes (the big number), the last 30 minutes by minute (the graph),
and the top pages and sources of those 30 minutes. The page refreshes itself every 30 seconds
with a ``<meta http-equiv="refresh">`` (no script; the CSP allows it), and ``?paused=1`` drops
the refresh (WCAG 2.2.2: a visible Pause link). Filters work as on the site view; P7 as
everywhere: a filtered figure about fewer than k people reads "< k", small rows fold.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aggregator.queries import PEAK_VISITORS, QueryError, realtime_visitors, run_query
from aggregator.queries.prop_keys import first_day
from aggregator.sites import Site, find_site
from dashboard.accounts.guard import Who
from dashboard.report import Report
from dashboard.threshold import suppress
from dashboard.web import graph as graphs
from dashboard.web.context import WebContext, bind
from dashboard.web.details import added_filter
from dashboard.web.numbers import shown
from dashboard.web.panels import label
from dashboard.web.site_view import PanelRow, frame, no_such_site
from dashboard.web.view_state import ViewState, read_state

CURRENT_MINUTES = 5
REFRESH_SECONDS = 30
ROWS = 10
BREAKDOWNS = (
    ("pages", "Top pages", "event:page", "Page"),
    ("sources", "Sources", "visit:source", "Source"),
)


async def realtime_page(ctx: WebContext, request: Request) -> Response:
    domain = request.path_params["domain"]
    who = ctx.require(request, "traffic.read", site=domain)
    site = find_site(ctx.store, domain)
    if site is None:
        return no_such_site(ctx, request, domain)
    here = f"/sites/{site.domain}/realtime"
    state = realtime_state(ctx, request, site)
    if "fp" in request.query_params:
        return added_filter(request, state, here)
    values = await run_in_threadpool(_view, ctx, who, site, state, here)
    return ctx.render(request, "realtime.html", **values)


def realtime_state(ctx: WebContext, request: Request, site: Site) -> ViewState:
    """The URL's filters over the last 30 minutes (the URL's period, if any, is ignored)."""
    today = datetime.fromtimestamp(ctx.now(), ZoneInfo(site.timezone)).date()
    query = {name: request.query_params.getlist(name) for name in ("f",)}
    state = read_state(
        {**query, "period": ["realtime"]}, today, first_day=first_day(ctx.store, site.id)
    )
    paused = (("paused", "1"),) if request.query_params.get("paused") == "1" else ()
    return replace(state, extra=paused)


def _view(ctx: WebContext, who: Who, site: Site, state: ViewState, here: str) -> dict[str, Any]:
    values = frame(ctx, who, site, state, here)
    report = Report(ctx.store, site, state, ctx.min_visitors, ctx.now())
    paused = bool(state.extra)
    values.update(
        paused=paused,
        refresh=REFRESH_SECONDS,
        pause_url=state.url(here, paused=None if paused else "1"),
        site_url=state.url(f"/sites/{site.domain}", period=None, paused=None),
        minutes=CURRENT_MINUTES,
        updated=datetime.fromtimestamp(ctx.now(), ZoneInfo(site.timezone)).strftime("%H:%M:%S"),
    )
    try:
        values["current"] = _current(ctx, report)
        series = report.series("visitors")
        values["graph"] = graphs.build("visitors", series, None, interval="minute")
        values["breakdowns"] = [
            (key, title, column, _rows(report, dimension, here))
            for key, title, dimension, column in BREAKDOWNS
        ]
    except QueryError as exc:
        values["problems"].append(str(exc))
        values.setdefault("current", "–")
        values.setdefault("breakdowns", [])
    return values


def _current(ctx: WebContext, report: Report) -> str:
    """Visitors of the last 5 minutes; filtered, under k: "< k"."""
    since = datetime.fromtimestamp(report.now, UTC).replace(tzinfo=None) - timedelta(
        minutes=CURRENT_MINUTES
    )
    if not report.filtered:  # unfiltered site totals are shown as they are (P7)
        return shown("visitors", realtime_visitors(ctx.store, report.site.id, since))
    base = report.query(("visitors",))
    row = run_query(ctx.store, replace(base, since=since))[0]
    hidden = suppress(row, people=row[PEAK_VISITORS] or 0, metrics=("visitors",), k=report.k)
    return f"< {report.k}" if hidden else shown("visitors", row["visitors"])


def _rows(report: Report, dimension: str, here: str) -> tuple[PanelRow, ...]:
    rows = report.breakdown(dimension, ("visitors",), limit=ROWS)
    top = max((row["visitors"] or 0 for row in rows), default=0) or 1
    k = report.k
    return tuple(
        PanelRow(
            f"fewer than {k} people" if row.get("suppressed") else label(dimension, row["value"]),
            f"< {k}" if row.get("suppressed") else shown("visitors", row["visitors"]),
            ""
            if row.get("suppressed")
            else report.state.with_filter(here, dimension, str(row["value"])),
            0.0 if row.get("suppressed") else round(100 * (row["visitors"] or 0) / top, 1),
            bool(row.get("suppressed")),
        )
        for row in rows
    )


def routes(ctx: WebContext) -> list[Route]:
    return [Route("/sites/{domain}/realtime", bind(ctx, realtime_page), methods=["GET"])]
