"""The in-process layer: the real app (its store, spool, loader and routes) driven through ASGI
in the test's own process, with no socket and no server start.

``in_process(root)`` yields a ``Harness``: ``client`` is a Starlette ``TestClient`` whose
lifespan is the server's (the store opens, the loader runs); ``store_events`` posts events
through the real intake and then loads them synchronously (GoatCounter's ``StoreHits``), so a
test reads its figures at once without waiting for a rotation. Use a real server
(``tests/servers.py``) only for what needs one: the process, the socket, the bytes at rest.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
from starlette.testclient import TestClient

from aggregator.loader import LoadReport
from collector.devices import DeviceDetector
from hush.admin.operations import run_admin
from hush.app import HushApp, create_app
from hush.settings import load_settings
from tests.servers import CHROME_UA, ManualClock, event_request, server_environment

PROXY = ("127.0.0.1", 50000)  # the peer every request comes from: a trusted proxy


class Harness:
    def __init__(self, app: HushApp, client: TestClient) -> None:
        self.app = app
        self.client = client
        self.api_key = ""

    def admin(self, op: str, **args: Any) -> dict[str, Any]:
        """What ``hush <command>`` does through the admin channel, in this process."""
        result = run_admin(self.app.admin_context, op, args)
        self.app.after_admin_change(op)
        return result

    def add_site(self, domain: str = "example.com", **settings: Any) -> None:
        self.admin("sites.add", domain=domain, **settings)

    def add_key(self) -> str:
        self.api_key = self.admin("keys.add", name="tests")["secret"]
        return self.api_key

    def event(
        self,
        body: dict[str, Any] | bytes | str,
        *,
        ip: str | None = "203.0.113.10",
        user_agent: str = CHROME_UA,
        content_type: str = "text/plain",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST /api/event as a browser behind the trusted proxy (``ip`` in X-Forwarded-For)."""
        content, all_headers = event_request(body, ip, user_agent, content_type, headers)
        return self.client.post("/api/event", content=content, headers=all_headers)

    def store_events(self, *bodies: dict[str, Any], **kwargs: Any) -> LoadReport:
        """Post each body through the intake (each must be accepted), then load them now."""
        for body in bodies:
            response = self.event(body, **kwargs)
            assert response.status_code == 202, response.text
            assert "x-hush-dropped" not in response.headers, response.headers
        return self.load()

    def load(self) -> LoadReport:
        """Close the open spool segment (in the app's event loop) and load what is spooled."""
        assert self.client.portal is not None
        self.client.portal.call(self.app.spool.rotate)
        return self.app.loader.load_now()

    def stats(self, endpoint: str, *, key: str | None = None, **params: Any) -> httpx.Response:
        key = self.api_key if key is None else key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self.client.get(f"/api/v1/stats/{endpoint}", params=params, headers=headers)

    def query(self, **body: Any) -> Any:
        """``POST /api/v2/query`` with the test's key; the answer's results."""
        response = self.client.post(
            "/api/v2/query", json=body, headers={"Authorization": f"Bearer {self.api_key}"}
        )
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def results(self, endpoint: str, **params: Any) -> Any:
        response = self.stats(endpoint, **params)
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def metric(self, name: str, **params: Any) -> int:
        return int(self.results("aggregate", metrics=name, **params)[name]["value"])


@functools.cache
def shared_devices() -> DeviceDetector:
    """One user-agent detector for every in-process app of the test run: building its tables
    takes ~0.4 s, and it holds nothing of a test's but its cache of parsed agents."""
    return DeviceDetector()


@contextmanager
def in_process(
    root: Path, *, clock: ManualClock | None = None, site: str | None = "example.com", **env: str
) -> Iterator[Harness]:
    """The app of ``hush serve`` on its own data dir, its lifespan running, ``site`` added and
    a key made. Segments rotate only when a test loads (``store_events``/``load``)."""
    environment = server_environment(
        root, HUSH_SEGMENT_SECONDS="3600", HUSH_LOAD_INTERVAL="3600", **env
    )
    app = create_app(load_settings(environment), clock=clock, devices=shared_devices())
    try:
        with TestClient(app, base_url="http://127.0.0.1:8000", client=PROXY) as client:
            harness = Harness(app, client)
            if site:
                harness.add_site(site)
                harness.add_key()
            yield harness
    finally:
        shutil.rmtree(app.settings.salt_dir, ignore_errors=True)


PASSWORD = "correct horse battery staple"


def add_user(harness: Harness, email: str, role: str, *sites: str) -> None:
    """A user with the password ``PASSWORD``, made as ``hush users add`` makes one."""
    from dashboard.accounts.passwords import hash_password

    harness.admin(
        "users.add",
        email=email,
        role=role,
        sites=list(sites),
        password_hash=hash_password(PASSWORD),
    )


def log_in(harness: Harness, email: str, password: str = PASSWORD) -> httpx.Response:
    """Log in through the form; the client keeps the session cookie."""
    return harness.client.post(
        "/login",
        data={"email": email, "password": password, "next": "/"},
        headers={"Origin": "http://127.0.0.1:8000"},
        follow_redirects=False,
    )


def csrf_of(harness: Harness, path: str = "/account") -> str:
    """The session's CSRF token, as a page's forms carry it."""
    import re

    page = harness.client.get(path).text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)
