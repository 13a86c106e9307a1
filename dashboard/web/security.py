"""``/sites/<domain>/security`` and ``/security``: the security view of one site, or of every
site the reader may read (with the requests that named no site).

Counts over time only (DESIGN §4): outcomes per bucket stacked by reason, privacy drops apart,
surges against their band, bots by family and category, rate-limited clients as counts and
slots, referrer-spam candidates, traffic spikes, unknown hosts and event names, failed logins
and the alert history. Under each chart its rule, from ``security_rules``: the same constants
the detectors apply. The period picker and URL state are the marketing view's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aggregator.queries import security_rules as rules
from aggregator.queries import signals
from aggregator.queries.prop_keys import first_day
from aggregator.sites import Site, find_site, list_sites
from dashboard.accounts.guard import Who
from dashboard.accounts.throttle import FREE_FAILURES_ACCOUNT, FREE_FAILURES_CLIENT
from dashboard.web import security_charts as charts
from dashboard.web.context import WebContext, bind
from dashboard.web.shortcuts import shortcuts
from dashboard.web.site_view import no_such_site
from dashboard.web.view_state import PERIODS, ViewState, read_state

ACTION = "security.read"
NO_SITE = 0  # requests that named no site, or one hush does not know


@dataclass(frozen=True, slots=True)
class Limits:
    """The rate limits in force, as the collector applies them."""

    per_minute: int
    site_per_minute: int
    ipv6_prefix: int


def bucket_seconds(state: ViewState) -> int:
    if state.period == "realtime":
        return 60
    if state.days == 1:
        return 300
    return 3600 if state.days <= 7 else 86400


class SecurityPages:
    def __init__(self, ctx: WebContext, limits: Limits) -> None:
        self.ctx = ctx
        self.limits = limits

    async def site_page(self, ctx: WebContext, request: Request) -> Response:
        domain = request.path_params["domain"]
        who = ctx.require(request, ACTION, site=domain)
        site = find_site(ctx.store, domain)
        if site is None:
            return no_such_site(ctx, request, domain)
        values = await run_in_threadpool(self._view, request, who, site)
        return ctx.render(request, "security.html", **values)

    async def all_page(self, ctx: WebContext, request: Request) -> Response:
        who = ctx.require(request, ACTION)
        values = await run_in_threadpool(self._view, request, who, None)
        return ctx.render(request, "security.html", **values)

    def _view(self, request: Request, who: Who, site: Site | None) -> dict[str, Any]:
        ctx = self.ctx
        readable = [s for s in list_sites(ctx.store) if who.may(ACTION, site=s.domain)]
        zone = ZoneInfo(site.timezone if site else "UTC")
        today = datetime.fromtimestamp(ctx.now(), zone).date()
        query = {name: request.query_params.getlist(name) for name in request.query_params}
        earliest = [first_day(ctx.store, s.id) for s in ([site] if site else readable)]
        known = [day for day in earliest if day is not None]
        state = read_state(query, today, first_day=min(known) if known else None)
        here = f"/sites/{site.domain}/security" if site else "/security"
        ids = [site.id] if site else [NO_SITE, *(s.id for s in readable)]
        now = signals.utc(ctx.now())
        start, end = _utc_range(state, zone)
        bucket = bucket_seconds(state)
        if state.period == "realtime":
            start, end = now - timedelta(minutes=30), now
        buckets: list[datetime] = []
        at = signals.utc(start.replace(tzinfo=UTC).timestamp() // bucket * bucket)
        while at < min(end, now + timedelta(seconds=1)) and len(buckets) < 2000:
            buckets.append(at)
            at += timedelta(seconds=bucket)
        counts = signals.outcomes(ctx.store, ids, start, end, bucket=bucket)
        shown = {
            at: Counter({r: n for r, n in each.items() if r not in rules.PRIVACY_REASONS})
            for at, each in counts.items()
        }
        none: Counter[str] = Counter()
        privacy = [
            float(sum(counts.get(at, none)[r] for r in rules.PRIVACY_REASONS)) for at in buckets
        ]
        bot_share = []
        for at in buckets:
            each = counts.get(at, none)
            bots, accepted = each.get("bot", 0), each.get("accepted", 0)
            bot_share.append(100.0 * bots / (bots + accepted) if bots + accepted else 0.0)
        by_id = {s.id: s.domain for s in readable}
        in_view = [site] if site else readable
        surges = [
            surge for site_id in ids for surge in signals.surges(ctx.store, site_id, start, end)
        ]
        bands = [
            (by_id.get(site_id, "(no site)"), *signals.current_band(ctx.store, site_id, now))
            for site_id in ids
        ]
        families = signals.bot_families(ctx.store, ids, start, end)
        categories: dict[str, int] = {}
        for category, _, n in families:
            categories[category] = categories.get(category, 0) + n
        first_day_utc, last_day_utc = start.date(), (end - timedelta(seconds=1)).date()
        return {
            "site": site,
            "state": state,
            "here": here,
            "sites": [s.domain for s in readable],
            "periods": PERIODS,
            "previous": state.shifted(here, -1),
            "next": state.shifted(here, 1),
            # No comparison here: each signal has its own baseline (bands, spikes).
            "shortcuts": shortcuts(
                state,
                periods_at=here,
                realtime=state.url(here, period="realtime", date=None, interval=None),
                compare=False,
            ),
            "problems": list(state.problems),
            "rules": rules,
            "rate_rule": rules.rate_limit_rule(
                self.limits.per_minute, self.limits.site_per_minute, self.limits.ipv6_prefix
            ),
            "login_rule": rules.login_rule(FREE_FAILURES_ACCOUNT, FREE_FAILURES_CLIENT),
            "requests": charts.stacked(buckets, shown, bucket),
            "bucket_name": {60: "minute", 300: "5 minutes", 3600: "hour"}.get(bucket, "day"),
            "privacy": charts.line(buckets, privacy, bucket, percent=False),
            "privacy_total": int(sum(privacy)),
            "bot_share": charts.line(buckets, bot_share, bucket, percent=True),
            "surges": [(by_id.get(s.site_id, "(no site)"), s) for s in surges],
            "bands": bands,
            "families": families,
            "categories": sorted(categories.items(), key=lambda item: -item[1]),
            "limited": signals.limited_clients(ctx.store, ids, start, end),
            "slot_counts": signals.slot_counts(ctx.store, ids, first_day_utc, last_day_utc),
            "slots": signals.limited_slots(ctx.store, ids, first_day_utc, last_day_utc),
            "spam": [
                (s.domain, c)
                for s in in_view
                for c in signals.spam_candidates(
                    ctx.store, s.id, state.date_from, state.date_to, s.timezone
                )
            ],
            "spikes": [
                (s.domain, spike)
                for s in in_view
                for spike in signals.spikes(ctx.store, s.id, start, end)
            ],
            "unknown": signals.unknown_values(ctx.store, ids, start, end),
            "logins": signals.logins(ctx.store, start, end),
            "alerts": [
                (by_id.get(a.site_id, "(no site)"), a)
                for a in signals.alert_history(ctx.store, ids, start, end)
            ],
            "names": by_id,
            "zone": site.timezone if site else "UTC",
        }


def _utc_range(state: ViewState, zone: ZoneInfo) -> tuple[datetime, datetime]:
    def at(day: date) -> datetime:
        return signals.utc(datetime.combine(day, time(), zone).timestamp())

    return at(state.date_from), at(state.date_to + timedelta(days=1))


def routes(ctx: WebContext, limits: Limits) -> list[Route]:
    pages = SecurityPages(ctx, limits)
    return [
        Route("/security", bind(ctx, pages.all_page), methods=["GET"]),
        Route("/sites/{domain}/security", bind(ctx, pages.site_page), methods=["GET"]),
    ]
