"""Downloads of a site's traffic (``traffic.export``): one panel's rows as CSV
(``/sites/<domain>/<panel>.csv``, the details view's rows, all its pages) and the whole view as
a ZIP of CSVs (``/sites/<domain>/export``): ``visitors.csv``, the time series of every metric
card, then ``<panel>-<tab>.csv`` for every tab of every panel and
``properties-<key>.csv`` for each custom property of the range.

The figures are the pages' own (``dashboard.report``, P7): a folded row reads "(fewer than k)"
and each of its figures, like any hidden figure, "< k", never the number. Values stay raw
(rates in %, durations in seconds, as the column headers say; a source as the Stats API spells
it), the date column names the site's time zone, and every cell is formula-safe
(``dashboard.export``). Each download is an audit-log entry (``export.csv``, ``export.zip``)
with its period and filters; a URL with a bad value gets a 400 page, never a partial file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aggregator.queries import QueryError, folded_label
from aggregator.queries.prop_keys import prop_keys
from aggregator.sites import Site, find_site
from dashboard.export import csv_lines, download, safe_filename, zip_archive, zip_download
from dashboard.report import Report
from dashboard.web.context import WebContext, bind
from dashboard.web.details import EXIT_RATE, Ask, Listing, listing, metrics_of, page_state, read_ask
from dashboard.web.panels import PANELS, Panel, Tab
from dashboard.web.site_view import BASE_CARDS, PAGE_CARDS, view_state
from dashboard.web.view_state import ViewState

# A column header per metric, with its unit where it has one.
HEADERS = {
    "visitors": "visitors",
    "visits": "visits",
    "pageviews": "pageviews",
    "events": "events",
    "views_per_visit": "views_per_visit",
    "bounce_rate": "bounce_rate (%)",
    "visit_duration": "visit_duration (s)",
    "time_on_page": "time_on_page (s)",
    "scroll_depth": "scroll_depth (%)",
    EXIT_RATE: "exit_rate (%)",
}
PROPS_TAB = Tab("props", "Properties", "", "Value", ("visitors", "events"))


async def panel_csv(ctx: WebContext, request: Request) -> Response:
    domain = request.path_params["domain"]
    who = ctx.require(request, "traffic.export", site=domain)
    site = find_site(ctx.store, domain)
    panel = PANELS.get(request.path_params["panel"])
    if site is None or panel is None:
        return _refused(ctx, request, f"{domain} has no such site or panel.", status=404)
    state = page_state(ctx, request, site, panel)
    tab = panel.tab(request.query_params.get(f"{panel.key}_tab"))
    ask, problems = read_ask(request.query_params, metrics_of(tab, state))
    ask = Ask(ask.query, ask.sort, ask.descending)  # every row, not a page of them
    if state.problems or problems:
        return _refused(ctx, request, "; ".join((*state.problems, *problems)))
    report = Report(ctx.store, site, state, ctx.min_visitors, ctx.now())
    found = await run_in_threadpool(listing, report, panel, tab, ask)
    if found.problem:
        return _refused(ctx, request, found.problem)
    changes = {
        **_recorded(state),
        "panel": panel.key,
        "tab": tab.key,
        "q": ask.query,
        "sort": ask.sort,
        "dir": "desc" if ask.descending else "asc",
    }
    ctx.audit(who.actor, "export.csv", target=site.domain, changes=changes)
    name = f"hush-{site.domain}-{panel.key}-{tab.key}-{state.date_from}-{state.date_to}"
    return download(listing_csv(found, ctx.min_visitors), fmt="csv", filename=safe_filename(name))


async def site_zip(ctx: WebContext, request: Request) -> Response:
    domain = request.path_params["domain"]
    who = ctx.require(request, "traffic.export", site=domain)
    site = find_site(ctx.store, domain)
    if site is None:
        return _refused(ctx, request, f"hush counts no site called {domain}.", status=404)
    state = view_state(ctx, request, site)
    if state.problems:
        return _refused(ctx, request, "; ".join(state.problems))
    report = Report(ctx.store, site, state, ctx.min_visitors, ctx.now())
    try:
        data = await run_in_threadpool(_archive, report, site)
    except QueryError as exc:
        return _refused(ctx, request, str(exc))
    ctx.audit(who.actor, "export.zip", target=site.domain, changes=_recorded(state))
    return zip_download(data, filename=f"hush-{site.domain}-{state.date_from}-{state.date_to}")


def _archive(report: Report, site: Site) -> bytes:
    k = report.k
    files: list[tuple[str, list[str]]] = [("visitors.csv", list(series_csv(report)))]
    for panel in PANELS.values():
        for tab in panel.tabs:
            found = listing(report, panel, tab, Ask())
            if found.problem:
                raise QueryError(f"{panel.title}, {tab.label}: {found.problem}")
            files.append((f"{panel.key}-{tab.key}.csv", list(listing_csv(found, k))))
    state = report.state
    for key in prop_keys(report.store, site.id, state.date_from, state.date_to):
        props = Panel("properties", "Properties", (PROPS_TAB,))
        tab = Tab(key, key, f"event:props:{key}", key, PROPS_TAB.details_metrics)
        found = listing(report, props, tab, Ask())
        if found.problem:
            raise QueryError(f"property {key}: {found.problem}")
        files.append((f"properties-{key}.csv", list(listing_csv(found, k))))
    return zip_archive(files)


def card_metrics(state: ViewState) -> tuple[str, ...]:
    """The site view's metric cards for this view (page cards under a page filter)."""
    on_page = any(f.dimension == "event:page" for f in state.filters)
    return BASE_CARDS + (PAGE_CARDS if on_page else ())


def series_csv(report: Report) -> Iterator[str]:
    """One row per bucket of the view's interval, one column per metric card."""
    metrics = card_metrics(report.state)
    columns = [report.series(metric) for metric in metrics]
    header = [f"date ({report.site.timezone})", *(HEADERS[m] for m in metrics)]
    rows = (
        [
            _when(buckets[0].start),
            *(f"< {report.k}" if b.suppressed else b.value for b in buckets),
        ]
        for buckets in zip(*columns, strict=True)
    )
    return csv_lines(header, rows)


def listing_csv(found: Listing, k: int) -> Iterator[str]:
    """A tab's rows: its value as the Stats API spells it (and a country's name), then each
    metric; a folded row's figures read "< k"."""
    key = found.dimension.rsplit(":", 1)[-1]
    named = found.dimension == "visit:country"
    header = [key, *(["country_name"] if named else []), *(HEADERS[m] for m in found.metrics)]
    rows = []
    for line in found.lines:
        if line.suppressed:
            first: list[Any] = [folded_label(k), *([""] if named else [])]
            rows.append([*first, *(f"< {k}" for _ in found.metrics)])
            continue
        value = line.value
        if found.dimension == "visit:source" and value == "":
            value = "Direct / None"
        first = [value, *([line.label] if named else [])]
        rows.append([*first, *(line.figures[m] for m in found.metrics)])
    return csv_lines(header, rows)


def _when(start: datetime | date) -> str:
    if isinstance(start, datetime):
        return start.isoformat(sep=" ", timespec="minutes")
    return start.isoformat()


def _recorded(state: ViewState) -> dict[str, Any]:
    """What the audit log keeps of an export: its period and filters."""
    return {
        "period": state.period,
        "from": state.date_from.isoformat(),
        "to": state.date_to.isoformat(),
        "filters": [f.param for f in state.filters],
    }


def _refused(ctx: WebContext, request: Request, reason: str, *, status: int = 400) -> Response:
    return ctx.render(
        request,
        "error.html",
        status=status,
        heading="Nothing was exported",
        message=reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else "."),
        detail="Go back, change the view, and download again.",
    )


def routes(ctx: WebContext) -> list[Route]:
    """Before the details route: ``export`` and ``<panel>.csv`` are not panels."""
    return [
        Route("/sites/{domain}/export", bind(ctx, site_zip), methods=["GET"]),
        Route("/sites/{domain}/{panel}.csv", bind(ctx, panel_csv), methods=["GET"]),
    ]
