"""``/sites/<domain>/<panel>``: one panel's details: its tabs, the metrics that fit the tab,
search, sort and pages of 100 rows, each row a link that filters the site view.

The state is the URL: the site view's (period, comparison, filters) plus the page's own
``<panel>_tab``, ``q`` (a ``contains`` filter on the tab's dimension), ``sort``/``dir`` and
``page``. ``listing`` makes the rows, sorted, for the page and for the exports alike
(``dashboard.web.exports``), so a CSV holds exactly the rows the page pages through. Every
figure comes from ``dashboard.report`` (P7 on the way out): the "(fewer than k)" row stays last
whatever the sort, and its figures are never shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from aggregator.queries import Filter, QueryError
from aggregator.sites import Site, find_site
from dashboard.accounts.guard import Who
from dashboard.report import Report
from dashboard.web.context import WebContext, bind
from dashboard.web.numbers import METRIC_NAMES, shown
from dashboard.web.panels import PANELS, Panel, Tab, country_names, label, shown_dimension
from dashboard.web.site_view import frame, view_state
from dashboard.web.view_state import (
    MAX_VALUE_LENGTH,
    ViewFilter,
    ViewState,
)

PER_PAGE = 100
NAME = "name"  # the ``sort`` of the label column
DIRECTIONS = {"asc": "ascending", "desc": "descending"}
EXIT_RATE = "exit_rate"
COLUMN_NAMES = {**METRIC_NAMES, EXIT_RATE: "Exit rate"}
EXIT_RATE_NOTE = "Exit rate is left out while an event filter is on: it would mix two sets."


@dataclass(frozen=True, slots=True)
class Ask:
    """What the page's own parameters ask for (bad ones replaced, with a message)."""

    query: str = ""
    sort: str = "visitors"
    descending: bool = True
    page: int = 1


@dataclass(frozen=True, slots=True)
class Line:
    value: Any  # the group's value as the engine gives it
    label: str  # as the page reads it
    figures: dict[str, Any]
    suppressed: bool  # the "(fewer than k)" row


@dataclass(frozen=True, slots=True)
class Listing:
    panel: Panel
    tab: Tab
    dimension: str
    column: str
    metrics: tuple[str, ...]
    lines: tuple[Line, ...]
    note: str  # why a metric is missing, or ''
    problem: str  # the engine refused the query, or ''


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    name: str
    url: str
    sort: str  # aria-sort: ascending, descending or none


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    cells: tuple[str, ...]
    url: str
    bar: float  # 0-100: its visitors as a share of the page's largest row
    suppressed: bool


def read_ask(params: QueryParams, metrics: tuple[str, ...]) -> tuple[Ask, list[str]]:
    problems = []
    query = params.get("q", "").strip()[:MAX_VALUE_LENGTH]
    sort = params.get("sort", "visitors")
    if sort not in (*metrics, NAME):
        problems.append(f"this table cannot be sorted by {sort[:40]!r}: sorted by visitors")
        sort = "visitors"
    direction = params.get("dir", "asc" if sort == NAME else "desc")
    if direction not in DIRECTIONS:
        problems.append(f"dir={direction[:20]!r} is neither asc nor desc: sorted descending")
        direction = "desc"
    text = params.get("page", "1")
    page = int(text) if text.isascii() and text.isdigit() and len(text) < 7 else 0
    if page < 1:
        problems.append(f"page={text[:20]!r} is not a page number: showing the first page")
        page = 1
    return Ask(query, sort, direction == "desc", page), problems


def metrics_of(tab: Tab, state: ViewState) -> tuple[str, ...]:
    """The tab's details metrics, and exit rate on exit pages when it can be honest."""
    if tab.dimension == "visit:exit_page" and not _event_filtered(state):
        return (*tab.details_metrics, EXIT_RATE)
    return tab.details_metrics


def listing(report: Report, panel: Panel, tab: Tab, ask: Ask) -> Listing:
    """All rows of the tab in this view, searched and sorted (the folded row last)."""
    dimension, column = shown_dimension(tab, report.state)
    metrics = metrics_of(tab, report.state)
    note = EXIT_RATE_NOTE if tab.dimension == "visit:exit_page" and EXIT_RATE not in metrics else ""
    asked = tuple(m for m in metrics if m != EXIT_RATE)
    try:
        search = _search(dimension, ask.query)
        rows = [] if search is None else report.breakdown(dimension, asked, extra_filters=search)
        if EXIT_RATE in metrics:
            _add_exit_rates(report, rows, search or ())
    except QueryError as exc:
        return Listing(panel, tab, dimension, column, metrics, (), note, str(exc))
    lines = [
        Line(
            row["value"],
            f"fewer than {report.k} people"
            if row.get("suppressed")
            else label(dimension, row["value"]),
            {m: row.get(m) for m in metrics},
            bool(row.get("suppressed")),
        )
        for row in rows
    ]
    return Listing(panel, tab, dimension, column, metrics, _sorted(lines, ask), note, "")


def _search(dimension: str, query: str) -> tuple[Filter, ...] | None:
    """The search box as filters; None when nothing can match."""
    if not query:
        return ()
    if dimension == "visit:country":  # stored as codes, read as names
        wanted = query.casefold()
        codes = tuple(
            code
            for code, name in country_names().items()
            if wanted in name.casefold() or wanted == code.casefold()
        )
        return (Filter("is", dimension, codes),) if codes else None
    return (Filter("contains", dimension, (query,)),)


def _add_exit_rates(report: Report, rows: list[dict[str, Any]], search: tuple[Filter, ...]) -> None:
    """Exit rate: visits that ended on the page per page view of it, in %, as Plausible
    defines it. Both from the same view; a page's row holds at least the people of its exits."""
    on_page = tuple(replace(f, dimension="event:page") for f in search)
    views = {
        row["value"]: row["pageviews"]
        for row in report.breakdown("event:page", ("pageviews",), extra_filters=on_page)
        if not row.get("suppressed")
    }
    for row in rows:
        pageviews = views.get(row["value"])
        exits = row.get("visits")
        row[EXIT_RATE] = (
            None
            if row.get("suppressed") or not pageviews or exits is None
            else round(100 * exits / pageviews)
        )


def _sorted(lines: list[Line], ask: Ask) -> tuple[Line, ...]:
    shown_lines = sorted((line for line in lines if not line.suppressed), key=lambda x: x.label)
    folded = [line for line in lines if line.suppressed]
    if ask.sort == NAME:
        shown_lines.sort(key=lambda x: x.label.casefold(), reverse=ask.descending)
        return (*shown_lines, *folded)
    known = [line for line in shown_lines if line.figures.get(ask.sort) is not None]
    unknown = [line for line in shown_lines if line.figures.get(ask.sort) is None]
    known.sort(key=lambda x: x.figures[ask.sort], reverse=ask.descending)  # stable: ties by label
    return (*known, *unknown, *folded)


def _event_filtered(state: ViewState) -> bool:
    return any(f.dimension.startswith("event:") for f in state.filters)


# -- the page ------------------------------------------------------------------------------


async def details_page(ctx: WebContext, request: Request) -> Response:
    domain = request.path_params["domain"]
    who = ctx.require(request, "traffic.read", site=domain)
    site = find_site(ctx.store, domain)
    panel = PANELS.get(request.path_params["panel"])
    if site is None:
        return not_found(ctx, request, f"hush counts no site called {domain}.")
    if panel is None:
        name = request.path_params["panel"][:80]
        known = ", ".join(PANELS)
        return not_found(ctx, request, f"{domain} has no panel {name!r}: there are {known}.")
    here = f"/sites/{site.domain}/{panel.key}"
    fmt = request.query_params.get("format")
    if fmt == "csv":  # the same download as <panel>.csv, which needs traffic.export
        kept = [(n, v) for n, v in request.query_params.multi_items() if n != "format"]
        return RedirectResponse(f"{here}.csv?{urlencode(kept)}" if kept else f"{here}.csv", 303)
    state = page_state(ctx, request, site, panel)
    if fmt is not None:
        state = replace(state, problems=(*state.problems, "format must be csv: showing the page"))
    if "fp" in request.query_params:
        return added_filter(request, state, here)
    values = await run_in_threadpool(_view, ctx, request, who, site, panel, state, here)
    return ctx.render(request, "details.html", **values)


def not_found(ctx: WebContext, request: Request, message: str) -> Response:
    return ctx.render(
        request, "error.html", status=404, heading="Not found", message=message, detail=""
    )


def page_state(ctx: WebContext, request: Request, site: Site, panel: Panel) -> ViewState:
    return view_state(ctx, request, site, keep=(f"{panel.key}_tab", "q", "sort", "dir"))


def added_filter(request: Request, state: ViewState, here: str) -> Response:
    """The "add a filter" form of the chips partial, back to ``here`` with one more ``f``
    (the site view's own handler returns to the site view)."""
    params = request.query_params
    values = tuple(v.strip() for v in params.get("fv", "").split(",") if v.strip())
    wanted = ViewFilter(params.get("fo", "is"), params.get("fp", ""), values)
    target = state.url(here, f=[*(f.param for f in state.filters), wanted.param])
    return RedirectResponse(target, 303)  # read_state refuses a bad one with a message


def _view(
    ctx: WebContext,
    request: Request,
    who: Who,
    site: Site,
    panel: Panel,
    state: ViewState,
    here: str,
) -> dict[str, Any]:
    tab_param = f"{panel.key}_tab"
    tab = panel.tab(request.query_params.get(tab_param))
    state = replace(
        state, extra=(*(p for p in state.extra if p[0] != tab_param), (tab_param, tab.key))
    )
    values = frame(ctx, who, site, state, here)
    ask, problems = read_ask(request.query_params, metrics_of(tab, state))
    values["problems"] += problems
    report = Report(ctx.store, site, state, ctx.min_visitors, ctx.now())
    found = listing(report, panel, tab, ask)
    pages = max(1, math.ceil(len(found.lines) / PER_PAGE))
    if ask.page > pages:
        values["problems"].append(f"there is no page {ask.page}: showing page {pages}, the last")
        ask = replace(ask, page=pages)
    lines = found.lines[(ask.page - 1) * PER_PAGE : ask.page * PER_PAGE]
    site_state = replace(state, extra=((tab_param, tab.key),))
    site_path = f"/sites/{site.domain}"
    top = max((line.figures.get("visitors") or 0 for line in lines), default=0) or 1
    k = ctx.min_visitors
    rows = [
        Row(
            line.label,
            tuple(
                f"< {k}" if line.suppressed else _shown(m, line.figures[m]) for m in found.metrics
            ),
            ""
            if line.suppressed
            else site_state.with_filter(site_path, found.dimension, str(line.value)),
            0.0 if line.suppressed else round(100 * (line.figures.get("visitors") or 0) / top, 1),
            line.suppressed,
        )
        for line in lines
    ]
    sorting = {"q": ask.query or None, "sort": ask.sort, "dir": "desc" if ask.descending else "asc"}
    values.update(
        panel=panel,
        tab=tab,
        tabs=[
            (each, state.url(here, **{tab_param: each.key, "q": None}), each.key == tab.key)
            for each in panel.tabs
        ],
        listing=found,
        query=ask.query,
        columns=_columns(state, here, found, ask, sorting),
        rows=rows,
        total=len(found.lines),
        per_page=PER_PAGE,
        page=ask.page,
        pages=pages,
        newer=state.url(here, **sorting, page=ask.page - 1) if ask.page > 1 else "",
        older=state.url(here, **sorting, page=ask.page + 1) if ask.page < pages else "",
        csv_url=state.url(f"{here}.csv", **sorting)
        if who.may("traffic.export", site=site.domain)
        else "",
        site_url=site_state.url(site_path),
        suggestions=sorted({row.label for row in rows if row.url}),
        search_params=[p for p in state.params(**sorting) if p[0] not in ("q", "page")],
    )
    return values


def _shown(metric: str, value: Any) -> str:
    if metric == EXIT_RATE and value is not None:  # numbers.shown knows no exit rate
        return f"{value:.0f}%"
    return shown(metric, value)


def _columns(
    state: ViewState, here: str, found: Listing, ask: Ask, sorting: dict[str, Any]
) -> list[Column]:
    out = []
    for key, name in ((NAME, found.column), *((m, COLUMN_NAMES[m]) for m in found.metrics)):
        current = key == ask.sort
        descending = not ask.descending if current else key != NAME
        url = state.url(here, **{**sorting, "sort": key, "dir": "desc" if descending else "asc"})
        sort = ("descending" if ask.descending else "ascending") if current else "none"
        out.append(Column(key, name, url, sort))
    return out


def routes(ctx: WebContext) -> list[Route]:
    """Last among the site's routes: ``/sites/<domain>/<anything>`` not taken before is a
    panel's details (or a 404 page)."""
    return [Route("/sites/{domain}/{panel}", bind(ctx, details_page), methods=["GET"])]


__all__ = ["Ask", "Line", "Listing", "listing", "metrics_of", "read_ask", "routes"]
