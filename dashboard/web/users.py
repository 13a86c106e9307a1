"""``/settings/users`` (admins): every user with their role, sites and whether they have set a
password; add a user, change their role or sites, remove them once their email is typed, and
make a one-time link with which they choose a new password.

A new user has no password: the page answers with their link (valid a day), shown once as a
full URL for the admin to pass on. Changes run as admin operations audited as the person.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aggregator.errors import AdminError
from aggregator.one_time_links import LIFETIME_SECONDS, RESET
from aggregator.sites import list_sites
from aggregator.users import ROLES, list_users
from dashboard.accounts.roles import ROLE_SUMMARY
from dashboard.web.context import WebContext, bind
from dashboard.web.errors import sentence
from dashboard.web.site_choices import checked_sites

ACTION = "users.manage"


async def users_page(ctx: WebContext, request: Request) -> Response:
    ctx.require(request, ACTION)
    return _page(ctx, request)


async def add_user(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, ACTION)
    form = await ctx.form(request, who)
    email, role, sites = form.get("email", "").strip(), form.get("role", ""), checked_sites(form)
    try:
        done = ctx.operate(who.actor, "users.add", {"email": email, "role": role, "sites": sites})
    except AdminError as exc:
        return _page(
            ctx, request, status=400, error=sentence(str(exc)), email=email, role=role, sites=sites
        )
    added = done["user"]["email"]
    return _page(
        ctx,
        request,
        notice=f"Added {added}. Send them this link to choose a password.",
        link=_link(ctx, added, done["reset_token"]),
    )


async def change_user(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, ACTION)
    form = await ctx.form(request, who)
    args = {
        "email": form.get("email", ""),
        "role": form.get("role", ""),
        "sites": checked_sites(form),
    }
    try:
        done = ctx.operate(who.actor, "users.set", args)
    except AdminError as exc:
        return _page(ctx, request, status=400, error=sentence(str(exc)))
    return _page(ctx, request, notice=f"Saved {done['user']['email']}; their sessions have ended.")


async def remove_user(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, ACTION)
    form = await ctx.form(request, who)
    email = form.get("email", "")
    if not email or form.get("confirm", "").strip().lower() != email.strip().lower():
        return _page(
            ctx,
            request,
            status=400,
            error=f"To remove {email}, type their email into the box. Nothing was removed.",
        )
    try:
        done = ctx.operate(who.actor, "users.remove", {"email": email})
    except AdminError as exc:
        return _page(ctx, request, status=400, error=sentence(str(exc)))
    return _page(ctx, request, notice=f"Removed {done['user']['email']} and their API keys.")


async def reset_link(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, ACTION)
    form = await ctx.form(request, who)
    try:
        done = ctx.operate(who.actor, "users.reset", {"email": form.get("email", "")})
    except AdminError as exc:
        return _page(ctx, request, status=400, error=sentence(str(exc)))
    email = done["user"]["email"]
    return _page(
        ctx,
        request,
        notice=f"A new link for {email}: earlier links of theirs no longer work.",
        link=_link(ctx, email, done["reset_token"]),
    )


def _link(ctx: WebContext, email: str, token: str) -> dict[str, str]:
    hours = LIFETIME_SECONDS[RESET] // 3600
    return {
        "email": email,
        "url": f"{ctx.public_url.rstrip('/')}/reset/{token}",
        "lifetime": f"{hours} hours",
    }


def _page(
    ctx: WebContext,
    request: Request,
    *,
    status: int = 200,
    error: str = "",
    notice: str = "",
    link: dict[str, str] | None = None,
    email: str = "",
    role: str = "marketing",
    sites: list[str] | None = None,
) -> Response:
    return ctx.render(
        request,
        "settings_users.html",
        status=status,
        users=list_users(ctx.store),
        domains=[site.domain for site in list_sites(ctx.store)],
        roles=ROLES,
        role_summary=ROLE_SUMMARY,
        link=link,
        email=email,
        role=role,
        sites=sites or [],
        error=error,
        notice=notice,
    )


def routes(ctx: WebContext) -> list[Route]:
    return [
        Route("/settings/users", bind(ctx, users_page), methods=["GET"]),
        Route("/settings/users/add", bind(ctx, add_user), methods=["POST"]),
        Route("/settings/users/change", bind(ctx, change_user), methods=["POST"]),
        Route("/settings/users/remove", bind(ctx, remove_user), methods=["POST"]),
        Route("/settings/users/reset", bind(ctx, reset_link), methods=["POST"]),
    ]
