"""``/settings/sites`` (admins): every site with its settings, its goals and its snippet tag;
add a site, change its time zone, DNT honouring and hash routing, add and remove its goals, and
remove it once its domain is typed.

Changes run as admin operations (``hush sites``) audited as the person; a refused change shows
the operation's reason with status 400 and changes nothing.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aggregator.errors import AdminError
from aggregator.goals import list_goals
from aggregator.sites import Site, list_sites
from dashboard.accounts.guard import Who
from dashboard.web.context import WebContext, bind
from dashboard.web.errors import sentence

ACTION = "sites.manage"


async def sites_page(ctx: WebContext, request: Request) -> Response:
    ctx.require(request, ACTION)
    return _page(ctx, request)


async def add_site(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, ACTION)
    form = await ctx.form(request, who)
    domain, timezone = form.get("domain", "").strip(), form.get("timezone", "").strip() or "UTC"
    try:
        added = _operate(ctx, who, "sites.add", domain=domain, timezone=timezone)
    except AdminError as exc:
        return _page(
            ctx, request, status=400, error=sentence(str(exc)), domain=domain, timezone=timezone
        )
    return _page(ctx, request, notice=f"Added {added}. Put its snippet on every page of the site.")


async def change_site(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, ACTION)
    form = await ctx.form(request, who)
    try:
        changed = _operate(
            ctx,
            who,
            "sites.set",
            domain=form.get("domain", ""),
            timezone=form.get("timezone", "").strip() or None,
            honour_dnt=form.get("honour_dnt") == "on",
            hash_routing=form.get("hash_routing") == "on",
        )
    except AdminError as exc:
        return _page(ctx, request, status=400, error=sentence(str(exc)))
    return _page(ctx, request, notice=f"Saved the settings of {changed}.")


async def remove_site(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, ACTION)
    form = await ctx.form(request, who)
    domain = form.get("domain", "")
    if form.get("confirm", "").strip().lower() != domain.strip().lower() or not domain:
        return _page(
            ctx,
            request,
            status=400,
            error=f"To remove {domain}, type its domain into the box. Nothing was removed.",
        )
    try:
        removed = _operate(ctx, who, "sites.remove", domain=domain)
    except AdminError as exc:
        return _page(ctx, request, status=400, error=sentence(str(exc)))
    return _page(ctx, request, notice=f"Removed {removed} and all its traffic.")


async def add_goal(ctx: WebContext, request: Request) -> Response:
    """A goal (DESIGN §4): a custom event's name, or a page path pattern (``*``, ``**``)."""
    who = ctx.require(request, ACTION)
    form = await ctx.form(request, who)
    site, kind, target = form.get("site", ""), form.get("kind", ""), form.get("target", "").strip()
    try:
        result = ctx.operate(who.actor, "goals.add", {"site": site, "kind": kind, "target": target})
    except AdminError as exc:
        return _page(ctx, request, status=400, error=sentence(str(exc)))
    goal = result["goal"]
    if not result["created"]:
        return _page(ctx, request, notice=f"{site} already has the goal {goal['display_name']}.")
    return _page(
        ctx,
        request,
        notice=f"Added the goal {goal['display_name']} to {site}: it is counted from"
        f" {goal['counted_from'] or 'the first day'} (the days whose raw events are kept).",
    )


async def remove_goal(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, ACTION)
    form = await ctx.form(request, who)
    site = form.get("site", "")
    try:
        result = ctx.operate(who.actor, "goals.remove", {"site": site, "id": form.get("id", "")})
    except AdminError as exc:
        return _page(ctx, request, status=400, error=sentence(str(exc)))
    return _page(ctx, request, notice=f"Removed the goal {result['goal']['display_name']}.")


def snippet_tag(public_url: str, site: Site) -> str:
    """The tag for every page of the site (README, "The snippet"); hash routing needs the
    full script with ``data-hash``."""
    base = public_url.rstrip("/")
    if site.hash_routing:
        return (
            f'<script defer data-domain="{site.domain}" data-hash'
            f' src="{base}/js/hush.full.js"></script>'
        )
    return f'<script defer data-domain="{site.domain}" src="{base}/js/hush.js"></script>'


@cache
def timezones() -> list[str]:
    return sorted(available_timezones())


def _operate(ctx: WebContext, who: Who, op: str, **args: object) -> str:
    return str(ctx.operate(who.actor, op, args)["site"]["domain"])


def _page(
    ctx: WebContext,
    request: Request,
    *,
    status: int = 200,
    error: str = "",
    notice: str = "",
    domain: str = "",
    timezone: str = "UTC",
) -> Response:
    sites = list_sites(ctx.store)
    return ctx.render(
        request,
        "settings_sites.html",
        status=status,
        sites=[(site, snippet_tag(ctx.public_url, site)) for site in sites],
        goals={site.id: list_goals(ctx.store, site.id) for site in sites},
        timezones=timezones(),
        domain=domain,
        timezone=timezone,
        error=error,
        notice=notice,
    )


def routes(ctx: WebContext) -> list[Route]:
    return [
        Route("/settings/sites", bind(ctx, sites_page), methods=["GET"]),
        Route("/settings/sites/add", bind(ctx, add_site), methods=["POST"]),
        Route("/settings/sites/change", bind(ctx, change_site), methods=["POST"]),
        Route("/settings/sites/remove", bind(ctx, remove_site), methods=["POST"]),
        Route("/settings/sites/goals/add", bind(ctx, add_goal), methods=["POST"]),
        Route("/settings/sites/goals/remove", bind(ctx, remove_goal), methods=["POST"]),
    ]
