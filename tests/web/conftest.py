"""The dashboard's pages in a real browser: Debian's Chromium through Playwright, against a
real ``hush serve``. Screenshots of every page go to ``tests/artifacts/`` for a person to look
at (not committed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Response,
)

from tests.chromium import launch
from tests.servers import CHROME_UA, ProcessServer, running, wait_until

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PASSWORD = "a long browser-test password"
WIDTHS = {"desktop": 1280, "phone": 390}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real Chromium (Debian's, via Playwright)")


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = launch(playwright)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def hush(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    """A real server with sites example.com and other.example, and no user yet."""
    server = ProcessServer(tmp_path_factory.mktemp("web"))
    with running(server, site="example.com"):
        server.cli("sites", "add", "other.example")
        for n, path in enumerate(("/", "/pricing", "/", "/blog/launch")):
            server.pageview(f"https://example.com{path}", ip=f"203.0.113.{n + 1}")
        server.wait_for_events(4)
        yield server


def setup_link(hush: ProcessServer) -> str:
    """The one-time link ``hush serve`` printed because no user existed."""
    found = wait_until(
        lambda: re.search(r"(http://\S+/setup/\S+)", hush.output.read_text()),
        what="the setup link in the server's output",
    )
    return found.group(1)


def add_user(hush: ProcessServer, email: str, role: str, *sites: str) -> None:
    """``hush users add`` through the running server's admin socket."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hush.cli",
            "users",
            "add",
            email,
            "--role",
            role,
            "--sites",
            ",".join(sites),
            "--password-stdin",
        ],
        env={**os.environ, **hush.env},
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@dataclass
class Tab:
    """A browser context and its page, with every request and console error it saw."""

    context: BrowserContext
    page: Page
    base_url: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def note_console(self, message: ConsoleMessage) -> None:
        # A page answered 4xx on purpose (403, 410, 429) is logged as "Failed to load
        # resource"; failed subresources are caught by status in note_response instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console_errors.append(message.text)  # CSP violations among them

    def note_response(self, response: Response) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            self.console_errors.append(f"{response.status} for {response.url}")

    def open(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        return self.page

    def log_in(self, email: str, password: str = PASSWORD) -> Page:
        self.open("/login")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_load_state()
        return self.page

    def shoot(self, name: str) -> None:
        """Screenshots at desktop and phone widths, for review."""
        ARTIFACTS.mkdir(exist_ok=True)
        for label, width in WIDTHS.items():
            self.page.set_viewport_size({"width": width, "height": 900})
            self.page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
        self.page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})

    def foreign_requests(self) -> list[str]:
        own = urlsplit(self.base_url).netloc
        return [url for url in self.requests if urlsplit(url).netloc != own]


Opener = Callable[[], Tab]


@pytest.fixture
def tab(browser: Browser, hush: ProcessServer) -> Iterator[Opener]:
    opened: list[Tab] = []

    def open_tab() -> Tab:
        context = browser.new_context(user_agent=CHROME_UA)
        tab = Tab(context, context.new_page(), hush.base_url)
        tab.page.on("request", lambda request: tab.requests.append(request.url))
        tab.page.on("console", tab.note_console)
        tab.page.on("response", tab.note_response)
        opened.append(tab)
        return tab

    yield open_tab
    for each in opened:
        each.context.close()
