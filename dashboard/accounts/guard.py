"""Who is asking, and ``require(action)``: the first line of every page and API route.

``require`` returns the logged-in person when their role allows the action (and, for a site,
when the site is theirs), and raises ``NotLoggedIn`` or ``Forbidden`` otherwise; the web layer
turns those into a redirect to /login (pages), a 401 (APIs) or a 403 page saying what is
missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request

from aggregator import login_sessions, users
from aggregator.audit_log import Actor
from aggregator.clock import Clock
from aggregator.login_sessions import LoginSession
from aggregator.store import Store
from aggregator.users import User
from dashboard.accounts.roles import ACTIONS, allows


class NotLoggedIn(Exception):
    """No live session came with the request."""


class Forbidden(Exception):
    """Logged in, but the role or the sites granted do not allow this."""

    def __init__(self, action: str, *, site: str | None = None) -> None:
        self.action, self.site = action, site
        what = ACTIONS[action] + (f" for {site}" if site else "")
        super().__init__(f"your account may not {what}")


class Accounts(Protocol):
    store: Store
    clock: Clock

    @property
    def cookie_name(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Who:
    user: User
    session: LoginSession

    @property
    def actor(self) -> Actor:
        return Actor("user", self.user.id, self.user.email, self.user.role)

    def may(self, action: str, *, site: str | None = None) -> bool:
        if not allows(self.user.role, action):
            return False
        return site is None or self.user.reads_every_site or site in self.user.sites

    def sites(self, all_domains: list[str]) -> list[str]:
        return (
            all_domains
            if self.user.reads_every_site
            else [d for d in all_domains if d in self.user.sites]
        )


def current(accounts: Accounts, request: Request) -> Who | None:
    """The logged-in person of this request (looked up once per request)."""
    if "who" in request.scope:
        found: Who | None = request.scope["who"]
        return found
    who = None
    token = request.cookies.get(accounts.cookie_name, "")
    session = login_sessions.find(accounts.store, token, now=accounts.clock.now())
    if session is not None:
        try:
            who = Who(users.get_user(accounts.store, session.user_id), session)
        except ValueError:
            who = None
    request.scope["who"] = who
    return who


def require(accounts: Accounts, request: Request, action: str, *, site: str | None = None) -> Who:
    who = current(accounts, request)
    if who is None:
        raise NotLoggedIn
    if not who.may(action, site=site):
        raise Forbidden(action, site=site)
    return who
