"""``/account``: who you are, what your role lets you do, a new password (your other
sessions end; this browser gets a new session id), and whether the dashboard's single-key
shortcuts are on (WCAG 2.1.4: they can be turned off; stored with the user, so no cookie)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aggregator import users
from dashboard.accounts import passwords
from dashboard.accounts.roles import ROLE_SUMMARY
from dashboard.web.context import WebContext, bind
from dashboard.web.login import start_session


async def account_page(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, "account")
    return _page(ctx, request, who.user.role)


async def change_password(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, "account")
    form = await ctx.form(request, who)
    current, new = form.get("current", ""), form.get("password", "")
    if not passwords.verify(users.password_hash_of(ctx.store, who.user.id), current):
        ctx.audit(
            who.actor,
            "auth.password_change",
            target=who.user.email,
            result="failed",
            reason="wrong current password",
        )
        return _page(
            ctx,
            request,
            who.user.role,
            status=400,
            error="Your current password is not the one you typed.",
        )
    problem = passwords.problem(new)
    if problem:
        return _page(ctx, request, who.user.role, status=400, error=problem.capitalize() + ".")
    users.set_password(ctx.store, who.user.id, passwords.hash_password(new))
    ctx.audit(who.actor, "auth.password_change", target=who.user.email)
    return start_session(ctx, who.user.id, "/account?changed=1")


async def change_preferences(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, "account")
    form = await ctx.form(request, who)
    on = form.get("keyboard_shortcuts") == "on"
    before = who.user.keyboard_shortcuts
    if on != before:
        users.set_keyboard_shortcuts(ctx.store, who.user.id, on=on)
        ctx.audit(
            who.actor,
            "account.preferences",
            target=who.user.email,
            changes={"keyboard_shortcuts": [before, on]},
        )
    request.scope.pop("who", None)  # guard.current caches the user: read it again, changed
    return _page(ctx, request, who.user.role, notice="Preferences saved.")


def _page(
    ctx: WebContext,
    request: Request,
    role: str,
    *,
    status: int = 200,
    error: str = "",
    notice: str = "",
) -> Response:
    if request.query_params.get("changed") == "1":
        notice = "Password changed; your other sessions have ended."
    return ctx.render(
        request,
        "account.html",
        status=status,
        role_summary=ROLE_SUMMARY[role],
        error=error,
        notice=notice,
    )


def routes(ctx: WebContext) -> list[Route]:
    return [
        Route("/account", bind(ctx, account_page), methods=["GET"]),
        Route("/account/password", bind(ctx, change_password), methods=["POST"]),
        Route("/account/preferences", bind(ctx, change_preferences), methods=["POST"]),
    ]
