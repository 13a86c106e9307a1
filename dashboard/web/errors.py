"""How refusals look: a page for people, JSON for machines (paths under ``/api/``)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from dashboard.accounts.csrf import BadForm
from dashboard.accounts.guard import Forbidden, NotLoggedIn
from dashboard.accounts.roles import roles_allowing
from dashboard.web.context import WebContext


def handlers(ctx: WebContext) -> dict[type[Exception], object]:
    async def not_logged_in(request: Request, _exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "log in first"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", 303)

    async def forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Forbidden)
        ctx.refusals["forbidden"] += 1
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=403)
        roles = " or ".join(roles_allowing(exc.action))
        detail = f"It needs the {roles} role" + (f" and access to {exc.site}." if exc.site else ".")
        return ctx.render(
            request,
            "error.html",
            status=403,
            heading="Not allowed",
            message=sentence(str(exc)),
            detail=detail + " An admin can change that on the Users page.",
        )

    async def bad_form(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadForm)
        return ctx.render(
            request,
            "error.html",
            status=exc.status,
            heading="Nothing was changed",
            message=sentence(str(exc)),
            detail="",
        )

    return {NotLoggedIn: not_logged_in, Forbidden: forbidden, BadForm: bad_form}


def sentence(message: str) -> str:
    """A refusal's message as the sentence a page shows: a capital (unless it starts with a
    name such as example.com) and a full stop."""
    text = message.strip()
    if text.split(" ", 1)[0].isalpha():
        text = text[:1].upper() + text[1:]
    return text + ("" if text.endswith(".") else ".")
