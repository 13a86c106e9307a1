"""What the browser tests need besides a hush server: test pages on another origin, and a record
of everything one visit did on the network.

Pages are served by a tiny static server on 127.0.0.1; Chromium reaches it as
``http://<site>.test:<port>`` and the collector as ``http://stats.test:<port>`` (its
``--host-resolver-rules`` map every ``*.test`` name to 127.0.0.1), so the snippet runs on one
origin and posts to another, as on a real site.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, Request, Response

from tests.servers import ProcessServer, ThreadServer

STATS_HOST = "stats.test"
SOURCE = Path(__file__).resolve().parents[2] / "snippet" / "src" / "hush.js"
# A page that keeps the browser where it is, as a single-page app does: it handles link clicks
# and form submissions itself, so none leads to another page (or another host).
STAY_ON_PAGE = (
    "<script>"
    "addEventListener('click', e => e.target.closest('a') && e.preventDefault());"
    "addEventListener('auxclick', e => e.target.closest('a') && e.preventDefault());"
    "addEventListener('submit', e => e.preventDefault())"
    "</script>"
)


# Headless Chromium never hides a page (no window can be covered or minimised), so tests that
# need a page to be hidden and shown again drive the visibility the snippet reads.
VISIBILITY = """
(() => {
  let hidden = false
  Object.defineProperty(Document.prototype, 'hidden', {configurable: true, get: () => hidden})
  Object.defineProperty(Document.prototype, 'visibilityState',
                        {configurable: true, get: () => (hidden ? 'hidden' : 'visible')})
  window.setHidden = (value) => {
    hidden = value
    document.dispatchEvent(new Event('visibilitychange', {bubbles: true}))
  }
})()
"""


def add_site(hush: ProcessServer | ThreadServer, domain: str, **changes: bool) -> str:
    """Register ``domain``; ``changes`` (``honour_dnt``, ``hash_routing``) as ``hush sites set``
    makes them, through the admin operation the CLI calls."""
    hush.add_site(domain)
    if changes:
        assert isinstance(hush, ThreadServer), "sites.set runs in-process only"
        hush.admin("sites.set", domain=domain, timezone=None, **changes)
    return domain


def header_section(title: str) -> str:
    """One section of the source's header comment, e.g. "EVERY FIELD IT SENDS"."""
    header = SOURCE.read_text().split("*/", 1)[0]
    return header.split(title, 1)[1].split("\n *\n", 1)[0]


def header_fields() -> set[str]:
    """The fields the source's header says the snippet sends."""
    return set(re.findall(r"^ \*   (\w+) ", header_section("EVERY FIELD IT SENDS"), re.MULTILINE))


@dataclass(frozen=True, slots=True)
class StaticPage:
    html: str
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()


class PageServer:
    """Serves registered pages by path prefix (the longest wins), for any ``*.test`` host."""

    def __init__(self) -> None:
        self._pages: dict[str, StaticPage] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = server.find(urlsplit(self.path).path)
                body = (page.html if page else "not found").encode()
                self.send_response(page.status if page else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for name, value in page.headers if page else ():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> PageServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def add(
        self, prefix: str, html: str, *, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        self._pages[prefix] = StaticPage(html, status, tuple((headers or {}).items()))

    def find(self, path: str) -> StaticPage | None:
        matches = [prefix for prefix in self._pages if path.startswith(prefix)]
        return self._pages[max(matches, key=len)] if matches else None

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"


def script_tag(collector_port: int, domain: str, variant: str = "hush", **attributes: str) -> str:
    """The tag a site owner pastes; ``data_hash=""`` becomes ``data-hash``."""
    extra = "".join(
        f' {name.replace("_", "-")}="{value}"' if value else f" {name.replace('_', '-')}"
        for name, value in attributes.items()
    )
    src = f"http://{STATS_HOST}:{collector_port}/js/{variant}.js"
    return f'<script defer data-domain="{domain}"{extra} src="{src}"></script>'


def html(*, head: str = "", body: str = "", height: int = 0) -> str:
    style = f' style="margin:0;height:{height}px"' if height else ""
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>test</title>{head}</head>'
        f"<body{style}>{body}</body></html>"
    )


@dataclass
class Visit:
    """One browser context and its page, with every request and response it made."""

    context: BrowserContext
    page: Page
    requests: list[Request] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.context.on("request", lambda request: self.requests.append(request))
        self.context.on("response", lambda response: self.responses.append(response))

    def posts(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and r.url.endswith("/api/event")]

    def events(self) -> list[dict[str, Any]]:
        """The bodies the snippet posted to the collector, in order."""
        return [json.loads(r.post_data or "") for r in self.posts()]

    def wait_for_posts(self, count: int, *, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait (letting Playwright deliver its events) until the snippet posted ``count``."""
        deadline = time.monotonic() + timeout
        pump = self.page if not self.page.is_closed() else self.context.new_page()
        while len(self.posts()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.posts())} posts, expected {count}")
            pump.wait_for_timeout(50)
        return self.events()

    def answers(self) -> list[Response]:
        """The collector's responses to the snippet's posts."""
        return [
            r for r in self.responses if r.request.method == "POST" and r.url.endswith("/api/event")
        ]

    def wait_for_answers(self, count: int, *, timeout: float = 10.0) -> list[Response]:
        deadline = time.monotonic() + timeout
        while len(self.answers()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.answers())} answers, expected {count}")
            self.page.wait_for_timeout(50)
        return self.answers()

    def settle(self, seconds: float = 0.5) -> None:
        """Give the page time to send anything it would send."""
        pump = self.page if not self.page.is_closed() else self.context.new_page()
        pump.wait_for_timeout(seconds * 1000)

    def hosts(self) -> set[str]:
        return {urlsplit(r.url).netloc for r in self.requests}

    def collector_responses(self) -> list[Response]:
        return [r for r in self.responses if urlsplit(r.url).hostname == STATS_HOST]


# The ``visit`` fixture: ``visit(**context_options)`` opens a new browser context and page.
Visitor = Callable[..., Visit]
