"""``/setup/<token>`` (the first admin, once) and ``/reset/<token>`` (a new password, once)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aggregator import one_time_links, users
from aggregator.audit_log import Actor
from aggregator.errors import AdminError
from dashboard.accounts import passwords
from dashboard.web.context import WebContext, bind
from dashboard.web.login import start_session

GONE = "This link has been used or has expired. Ask an admin for a new one."


async def setup_page(ctx: WebContext, request: Request) -> Response:
    usable = _setup_usable(ctx, request.path_params["token"])
    return _form(ctx, request, usable=usable, setup=True, email="")


async def set_up(ctx: WebContext, request: Request) -> Response:
    form = await ctx.form(request, None)
    token = request.path_params["token"]
    if not _setup_usable(ctx, token):
        return _form(ctx, request, usable=False, setup=True, email="")
    email, password = form.get("email", ""), form.get("password", "")
    try:
        address = users.normalise_email(email)
    except AdminError as exc:
        return _form(ctx, request, usable=True, setup=True, email=email, error=str(exc))
    problem = passwords.problem(password)
    if problem:
        return _form(ctx, request, usable=True, setup=True, email=email, error=problem)
    if not one_time_links.use(ctx.store, one_time_links.SETUP, token, now=ctx.now()):
        return _form(ctx, request, usable=False, setup=True, email="")
    user = users.add_user(
        ctx.store,
        address,
        role="admin",
        password_hash=passwords.hash_password(password),
        now=ctx.now(),
    )
    actor = Actor("user", user.id, user.email, user.role)
    ctx.audit(
        actor,
        "user.create",
        target=user.email,
        changes={"role": [None, "admin"]},
        reason="setup link",
    )
    ctx.audit(actor, "auth.login", target=user.email)
    return start_session(ctx, user.id, "/")


async def reset_page(ctx: WebContext, request: Request) -> Response:
    user = _reset_user(ctx, request.path_params["token"])
    return _form(
        ctx, request, usable=user is not None, setup=False, email=user.email if user else ""
    )


async def reset(ctx: WebContext, request: Request) -> Response:
    form = await ctx.form(request, None)
    token = request.path_params["token"]
    user = _reset_user(ctx, token)
    if user is None:
        return _form(ctx, request, usable=False, setup=False, email="")
    problem = passwords.problem(form.get("password", ""))
    if problem:
        return _form(ctx, request, usable=True, setup=False, email=user.email, error=problem)
    if not one_time_links.use(ctx.store, one_time_links.RESET, token, now=ctx.now()):
        return _form(ctx, request, usable=False, setup=False, email="")
    users.set_password(ctx.store, user.id, passwords.hash_password(form["password"]))
    actor = Actor("user", user.id, user.email, user.role)
    ctx.audit(actor, "auth.password_reset", target=user.email)
    return start_session(ctx, user.id, "/")


def _setup_usable(ctx: WebContext, token: str) -> bool:
    if users.user_count(ctx.store):
        return False
    usable, _ = one_time_links.peek(ctx.store, one_time_links.SETUP, token, now=ctx.now())
    return usable


def _reset_user(ctx: WebContext, token: str) -> users.User | None:
    usable, user_id = one_time_links.peek(ctx.store, one_time_links.RESET, token, now=ctx.now())
    if not usable or user_id is None:
        return None
    try:
        return users.get_user(ctx.store, user_id)
    except AdminError:
        return None


def _form(
    ctx: WebContext, request: Request, *, usable: bool, setup: bool, email: str, error: str = ""
) -> Response:
    if not usable:
        ctx.refusals["used_link"] += 1
    return ctx.render(
        request,
        "set_password.html",
        status=200 if usable and not error else (400 if usable else 410),
        heading="Create the first admin" if setup else "Choose a new password",
        button="Create the admin account" if setup else "Set the password",
        usable=usable,
        ask_email=setup,
        email=email,
        error=error or ("" if usable else GONE),
        notice="",
    )


def routes(ctx: WebContext) -> list[Route]:
    return [
        Route("/setup/{token}", bind(ctx, setup_page), methods=["GET"]),
        Route("/setup/{token}", bind(ctx, set_up), methods=["POST"]),
        Route("/reset/{token}", bind(ctx, reset_page), methods=["GET"]),
        Route("/reset/{token}", bind(ctx, reset), methods=["POST"]),
    ]
