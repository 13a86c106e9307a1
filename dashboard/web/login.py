"""``/login`` and ``POST /logout``.

A wrong password and an unknown account get the same answer in the same time (the unknown one
is verified against a dummy hash). After repeated failures the account (by the name typed) and
the client (by a keyed hash of its address, in memory) are slowed, never locked for good.
"""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from aggregator import login_sessions, users
from aggregator.audit_log import UNKNOWN_ACCOUNT, Actor
from aggregator.users import MAX_EMAIL
from dashboard.accounts import passwords
from dashboard.web.context import WebContext, bind

WRONG = "That email and password do not match an account."


async def login_page(ctx: WebContext, request: Request) -> Response:
    if ctx.who(request):
        return RedirectResponse(safe_next(request.query_params.get("next", "/")), 303)
    return ctx.render(
        request, "login.html", next=safe_next(request.query_params.get("next", "/")), email=""
    )


async def log_in(ctx: WebContext, request: Request) -> Response:
    form = await ctx.form(request, None)
    email, password = form.get("email", "")[: MAX_EMAIL + 1], form.get("password", "")
    target = safe_next(form.get("next", "/"))
    account = ctx.accounts_throttle.key(email.strip().lower())
    client = ctx.clients_throttle.key(ctx.client_key(request))
    user = users.find_user(ctx.store, email)
    actor = _actor(user)
    wait = max(ctx.accounts_throttle.wait(account), ctx.clients_throttle.wait(client))
    if wait > 0:
        ctx.audit(
            actor,
            "auth.login_slowed",
            target=_target(user),
            result="denied",
            reason="too many failed logins",
        )
        seconds = math.ceil(wait)
        response = ctx.render(
            request,
            "login.html",
            status=429,
            next=target,
            email=email,
            error=f"Too many failed logins for this account or from this network: try again"
            f" in {seconds} second{'s' if seconds != 1 else ''}.",
        )
        response.headers["retry-after"] = str(seconds)
        return response
    stored = users.password_hash_of(ctx.store, user.id) if user else ""
    if not passwords.verify(stored, password):
        ctx.accounts_throttle.failed(account)
        ctx.clients_throttle.failed(client)
        ctx.audit(
            actor,
            "auth.login_failed",
            target=_target(user),
            result="failed",
            reason="wrong password" if user else "unknown account",
        )
        return ctx.render(request, "login.html", status=401, next=target, email=email, error=WRONG)
    assert user is not None
    ctx.accounts_throttle.succeeded(account)
    ctx.clients_throttle.succeeded(client)
    ctx.audit(actor, "auth.login", target=user.email)
    return start_session(ctx, user.id, target)


async def log_out(ctx: WebContext, request: Request) -> Response:
    who = ctx.who(request)
    if who is None:
        return RedirectResponse("/login", 303)
    await ctx.form(request, who)
    login_sessions.end(ctx.store, who.session)
    ctx.audit(who.actor, "auth.logout", target=who.user.email)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(
        ctx.cookie_name, path="/", secure=ctx.secure, httponly=True, samesite="strict"
    )
    return response


def start_session(ctx: WebContext, user_id: int, target: str) -> Response:
    """A new session id at every login, in the one cookie hush sets."""
    token, _ = login_sessions.start(ctx.store, user_id, now=ctx.now())
    response = RedirectResponse(target, 303)
    response.set_cookie(
        ctx.cookie_name, token, path="/", httponly=True, samesite="strict", secure=ctx.secure
    )
    return response


def safe_next(target: str) -> str:
    """Only a path of hush's own: never another site (``//evil.example``, ``https://…``)."""
    if not target.startswith("/") or target.startswith(("//", "/\\")) or len(target) > 2000:
        return "/"
    return target


def _actor(user: users.User | None) -> Actor:
    return Actor("user", user.id, user.email, user.role) if user else Actor("user")


def _target(user: users.User | None) -> str:
    return user.email if user else UNKNOWN_ACCOUNT


def routes(ctx: WebContext) -> list[Route]:
    return [
        Route("/login", bind(ctx, login_page), methods=["GET"]),
        Route("/login", bind(ctx, log_in), methods=["POST"]),
        Route("/logout", bind(ctx, log_out), methods=["POST"]),
    ]
