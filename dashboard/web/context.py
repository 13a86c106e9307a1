"""What every page needs: the store, the clock, the templates, the public address, throttles,
and how to tell the rest of the server that sites or keys changed. Built once by
``dashboard.routes``; pages receive it, nothing is global."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from aggregator import audit_log
from aggregator.audit_log import Actor
from aggregator.clock import Clock
from aggregator.store import Store
from dashboard.accounts import csrf
from dashboard.accounts.guard import Who, current, require
from dashboard.accounts.throttle import FREE_FAILURES_ACCOUNT, FREE_FAILURES_CLIENT, Throttle

TEMPLATES = Path(__file__).parent / "templates"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

View = Callable[["WebContext", Request], Awaitable[Response]]


@dataclass
class WebContext:
    store: Store
    clock: Clock
    public_url: str
    min_visitors: int
    client_key: Callable[[Request], bytes]  # a keyed hash of the client's address, in memory
    # Runs an admin operation (``hush.admin.operations``) as this actor, audited, and lets the
    # server pick up what changed; the pages and the CLI share every operation this way.
    operate: Callable[[Actor, str, dict[str, Any]], dict[str, Any]]
    refusals: Counter[str] = field(default_factory=Counter)  # bad forms, hosts ... by reason
    templates: jinja2.Environment = field(init=False)
    accounts_throttle: Throttle = field(init=False)
    clients_throttle: Throttle = field(init=False)

    def __post_init__(self) -> None:
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.accounts_throttle = Throttle(free=FREE_FAILURES_ACCOUNT, clock=self.clock.now)
        self.clients_throttle = Throttle(free=FREE_FAILURES_CLIENT, clock=self.clock.now)

    @property
    def secure(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def cookie_name(self) -> str:
        return "__Host-hush_session" if self.secure else "hush_session"

    @property
    def hosts(self) -> frozenset[str]:
        return LOOPBACK_HOSTS | {urlsplit(self.public_url).hostname or ""}

    def now(self) -> float:
        return self.clock.now()

    def who(self, request: Request) -> Who | None:
        found = current(self, request)
        if found is None and self.cookie_name in request.cookies and "stale" not in request.scope:
            request.scope["stale"] = True
            self.refusals["stale_session"] += 1  # expired, logged out, or replayed
        return found

    def require(self, request: Request, action: str, *, site: str | None = None) -> Who:
        self.who(request)  # counts a stale cookie once
        return require(self, request, action, site=site)

    async def form(self, request: Request, who: Who | None) -> dict[str, str]:
        """The POSTed form, its origin and CSRF token checked (``who``: the session's)."""
        try:
            return await csrf.read_form(
                request, hosts=self.hosts, csrf=who.session.csrf if who else None
            )
        except csrf.BadForm:
            self.refusals["bad_form"] += 1
            raise

    def audit(self, actor: Actor, action: str, **details: Any) -> None:
        audit_log.record(self.store, actor, action, now=self.now(), **details)

    def render(
        self, request: Request, template: str, *, status: int = 200, **values: Any
    ) -> HTMLResponse:
        who = self.who(request)
        values.setdefault("error", "")
        values.setdefault("notice", "")
        page = self.templates.get_template(template).render(
            who=who,
            csrf=who.session.csrf if who else "",
            path=request.url.path,
            **values,
        )
        return HTMLResponse(page, status_code=status)


def bind(context: WebContext, view: View) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await view(context, request)

    endpoint.__name__ = view.__name__
    return endpoint
