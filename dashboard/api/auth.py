"""Who is asking: the Bearer key of every Stats and Sites API request, its grant, the site it
may read, and its hourly rate limit (counted only after the key is known)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from aggregator.api_keys import Grant, hash_key
from aggregator.sites import Site, find_site
from aggregator.store import Store
from dashboard.api import errors
from dashboard.api.errors import ApiError
from dashboard.api.keys import ApiKeys
from dashboard.api.rate_limit import KeyRateLimiter


def bearer(request: Request) -> str:
    """The request's Bearer token, or "" when it has none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class Gate:
    """Authentication and the rate limit, in that order, for every API route."""

    def __init__(self, *, store: Store, keys: ApiKeys, limiter: KeyRateLimiter) -> None:
        self._store = store
        self._keys = keys
        self._limiter = limiter

    async def grant(self, request: Request) -> Grant:
        token = bearer(request)
        if not token:
            raise ApiError(401, errors.MISSING_KEY)
        grant = await run_in_threadpool(self._keys.grant, token)
        if grant is None:
            raise ApiError(401, errors.INVALID_KEY)
        return grant

    async def site(self, grant: Grant, site_id: str | None) -> Site:
        """The site ``site_id`` names, when the grant may read it."""
        if not site_id:
            raise ApiError(400, errors.MISSING_SITE_ID)
        site = await run_in_threadpool(find_site, self._store, site_id)
        if site is None or (grant.site_ids is not None and site.id not in grant.site_ids):
            # the same answer for a site that is not the key's as for one that does not exist
            raise ApiError(401, errors.INVALID_KEY)
        return site

    def count(self, request: Request) -> None:
        """After authentication: count the request against its key's hourly limit."""
        wait = self._limiter.retry_after(hash_key(bearer(request)))
        if wait is not None:
            raise errors.too_many_requests(self._limiter.per_hour, wait)
