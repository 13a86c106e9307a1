"""``/settings/keys``: Stats API keys. Everyone who may own keys (marketing, admins) sees and
revokes their own and creates keys for a subset of their sites; admins (``keys.manage``) see
and revoke everyone's and may create a key for another user.

A new key is shown once, on the page that answers its creation; hush keeps only its hash.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aggregator.api_keys import list_keys
from aggregator.errors import AdminError
from aggregator.sites import list_sites
from aggregator.users import list_users
from dashboard.accounts.guard import Forbidden, Who
from dashboard.accounts.roles import allows
from dashboard.web.context import WebContext, bind
from dashboard.web.errors import sentence
from dashboard.web.site_choices import checked_sites

ACTION = "keys.own"
EVERYONE = "keys.manage"


async def keys_page(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, ACTION)
    return _page(ctx, request, who)


async def add_key(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, ACTION)
    form = await ctx.form(request, who)
    owner = form.get("owner", "").strip().lower() or who.user.email
    if owner != who.user.email and not who.may(EVERYONE):
        raise Forbidden(EVERYONE)
    name, sites = form.get("name", "").strip(), checked_sites(form)
    try:
        done = ctx.operate(who.actor, "keys.add", {"name": name, "user": owner, "sites": sites})
    except AdminError as exc:
        return _page(ctx, request, who, status=400, error=sentence(str(exc)), name=name)
    key = done["key"]
    return _page(
        ctx,
        request,
        who,
        notice=f"Created the key {key['name']} for {key['user']}.",
        secret={"name": key["name"], "value": done["secret"]},
    )


async def revoke_key(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, ACTION)
    form = await ctx.form(request, who)
    args = {"which": form.get("id", "")}
    if not who.may(EVERYONE):
        args["user"] = who.user.email  # only among their own keys
    try:
        done = ctx.operate(who.actor, "keys.revoke", args)
    except AdminError as exc:
        return _page(ctx, request, who, status=400, error=sentence(str(exc)))
    return _page(ctx, request, who, notice=f"Revoked the key {done['key']['name']}.")


def _page(
    ctx: WebContext,
    request: Request,
    who: Who,
    *,
    status: int = 200,
    error: str = "",
    notice: str = "",
    secret: dict[str, str] | None = None,
    name: str = "",
) -> Response:
    everyone = who.may(EVERYONE)
    domains = who.sites([site.domain for site in list_sites(ctx.store)])
    owners = [u.email for u in list_users(ctx.store) if allows(u.role, ACTION)] if everyone else []
    return ctx.render(
        request,
        "settings_keys.html",
        status=status,
        keys=list_keys(ctx.store, user_id=None if everyone else who.user.id),
        everyone=everyone,
        owners=owners,
        domains=domains,
        secret=secret,
        name=name,
        error=error,
        notice=notice,
    )


def routes(ctx: WebContext) -> list[Route]:
    return [
        Route("/settings/keys", bind(ctx, keys_page), methods=["GET"]),
        Route("/settings/keys/add", bind(ctx, add_key), methods=["POST"]),
        Route("/settings/keys/revoke", bind(ctx, revoke_key), methods=["POST"]),
    ]
