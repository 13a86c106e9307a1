"""``/``: the sites this person may read, each with today's visitors, 30 days of visitor-days
and a small trend line (an inline SVG the server draws: no script, no chart library)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aggregator.queries import Query, run_query
from aggregator.sites import Site, list_sites
from dashboard.web.context import WebContext, bind

DAYS = 30


@dataclass(frozen=True, slots=True)
class SiteRow:
    domain: str
    readable: bool  # the traffic view is theirs (security reads only the security view)
    today: int
    month: int
    sparkline: Sparkline


async def overview(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, "account")
    sites = {site.domain: site for site in list_sites(ctx.store)}
    readable = [
        sites[domain]
        for domain in who.sites(sorted(sites))
        if who.may("traffic.read", site=domain) or who.may("security.read", site=domain)
    ]
    rows = [_row(ctx, site, who.may("traffic.read", site=site.domain)) for site in readable]
    return ctx.render(request, "overview.html", rows=rows, error="", notice="")


def _row(ctx: WebContext, site: Site, readable: bool) -> SiteRow:
    today = datetime.fromtimestamp(ctx.now(), ZoneInfo(site.timezone)).date()
    first = today - timedelta(days=DAYS - 1)
    daily = run_query(
        ctx.store,
        Query(site.id, first, today, ("visitors",), ("time:day",), timezone=site.timezone),
    )
    by_day = {row["time:day"]: int(row["visitors"] or 0) for row in daily}
    series = [by_day.get(first + timedelta(days=n), 0) for n in range(DAYS)]
    return SiteRow(
        site.domain, readable, series[-1], sum(series), _sparkline(site.domain, series, first)
    )


@dataclass(frozen=True, slots=True)
class Sparkline:
    """A 120 x 28 polyline of daily visitors; its text alternative is its label."""

    points: str
    label: str
    width: int = 120
    height: int = 28


def _sparkline(domain: str, series: list[int], first: date) -> Sparkline:
    top, line = max(series) or 1, Sparkline("", "")
    step = line.width / (len(series) - 1)
    points = " ".join(
        f"{n * step:.1f},{line.height - 2 - value / top * (line.height - 4):.1f}"
        for n, value in enumerate(series)
    )
    label = (
        f"Visitors per day at {domain} from {first.isoformat()}: lowest {min(series):,},"
        f" highest {max(series):,}, last {series[-1]:,}"
    )
    return Sparkline(points, label)


def routes(ctx: WebContext) -> list[Route]:
    return [Route("/", bind(ctx, overview), methods=["GET"])]
