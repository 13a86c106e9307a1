"""The read side over HTTP. ``routes`` is its one entry point: the Stats API for machines
(``api/``), the pages for people (``web/``), the accounts they log in with (``accounts/``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from aggregator.audit_log import Actor
from aggregator.clock import Clock
from aggregator.store import Store
from dashboard.api.auth import Gate
from dashboard.api.keys import ApiKeys
from dashboard.api.query import QueryPath
from dashboard.api.rate_limit import KeyRateLimiter
from dashboard.api.sites_api import SitesApi
from dashboard.api.stats import StatsApi
from dashboard.api.v2 import QueryApi
from dashboard.web import (
    account,
    audit_log,
    details,
    exports,
    links,
    login,
    overview,
    realtime,
    security,
    site_view,
    sites,
    users,
)
from dashboard.web import keys as key_pages
from dashboard.web.context import WebContext
from dashboard.web.errors import handlers

STATIC = Path(__file__).parent / "web" / "static"


@dataclass(frozen=True, slots=True)
class ReadSide:
    routes: list[BaseRoute]
    exception_handlers: dict[type[Exception], object]
    web: WebContext
    keys: ApiKeys


def routes(
    *,
    store: Store,
    clock: Clock,
    min_visitors: int,
    api_rate_limit: int,
    api_query_seconds: float,
    public_url: str,
    client_key: Callable[[Request], bytes],
    operate: Callable[[Actor, str, dict[str, Any]], dict[str, Any]],
    limits: security.Limits | None = None,
) -> ReadSide:
    keys = ApiKeys(store, clock=clock)
    web = WebContext(
        store=store,
        clock=clock,
        public_url=public_url,
        min_visitors=min_visitors,
        client_key=client_key,
        operate=operate,
    )
    # One gate and one query path for v1, v2 and the Sites API: one rate limit per key.
    gate = Gate(store=store, keys=keys, limiter=KeyRateLimiter(api_rate_limit, clock))
    path = QueryPath(
        store=store, clock=clock, min_visitors=min_visitors, query_seconds=api_query_seconds
    )
    stats = StatsApi(store=store, gate=gate, path=path, clock=clock)
    api = [
        *stats.routes(),
        *QueryApi(gate=gate, path=path).routes(),
        *SitesApi(store=store, gate=gate, operate=operate).routes(),
    ]
    pages: list[BaseRoute] = [
        *overview.routes(web),
        *login.routes(web),
        *links.routes(web),
        *account.routes(web),
        *sites.routes(web),
        *users.routes(web),
        *key_pages.routes(web),
        *audit_log.routes(web),
        # before the site view's: /sites/<domain>/security is not one of its panels
        *security.routes(web, limits or security.Limits(0, 0, 64)),
        *site_view.routes(web),
        *realtime.routes(web),
        *exports.routes(web),
        # Last: /sites/<domain>/<panel> takes every /sites/<domain>/<name> not routed above.
        *details.routes(web),
    ]
    return ReadSide(
        routes=[
            *api,
            *pages,
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers=handlers(web),
        web=web,
        keys=keys,
    )


__all__ = ["ReadSide", "Route", "routes"]
