"""The dashboard's pages in a real browser: Debian's Chromium through Playwright, against the
real app under uvicorn in a thread of the test process (``ThreadServer``: real HTTP, the real
pipeline, no server process to start; ``hush serve`` itself is under test only in
test_first_run.py). Screenshots of every page go to ``tests/artifacts/`` for a person to look
at (not committed)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

from dashboard.accounts.passwords import hash_password
from tests.chromium import launch
from tests.servers import (
    CHROME_UA,
    HushClient,
    ProcessServer,
    ThreadServer,
    running,
    wait_until,
)

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PASSWORD = "a long browser-test password"
WIDTHS = {"desktop": 1280, "phone": 390}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real Chromium (Debian's, via Playwright)")


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One Chromium per worker; each test's pages live in browser contexts of their own."""
    browser = launch(playwright)
    yield browser
    browser.close()


def with_first_traffic(server: ProcessServer | ThreadServer) -> None:
    """Site other.example beside example.com, and four page views of example.com."""
    server.add_site("other.example")
    for n, path in enumerate(("/", "/pricing", "/", "/blog/launch")):
        server.pageview(f"https://example.com{path}", ip=f"203.0.113.{n + 1}")
    server.wait_for_events(4)


@pytest.fixture(scope="module")
def hush(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    """A real server (the real clock) with sites example.com and other.example, no user yet."""
    server = ThreadServer(tmp_path_factory.mktemp("web"), clock=None)
    with running(server, site="example.com"):
        with_first_traffic(server)
        yield server


def setup_link(hush: ProcessServer) -> str:
    """The one-time link ``hush serve`` printed because no user existed."""
    found = wait_until(
        lambda: re.search(r"(http://\S+/setup/\S+)", hush.output.read_text()),
        what="the setup link in the server's output",
    )
    return found.group(1)


def add_user(hush: ThreadServer, email: str, role: str, *sites: str) -> None:
    """A user with the password ``PASSWORD``, as ``hush users add --password-stdin`` adds one."""
    hush.admin(
        "users.add",
        email=email,
        role=role,
        sites=list(sites),
        password_hash=hash_password(PASSWORD),
    )


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
        with self.page.expect_navigation():  # the form's answer, whichever it is
            self.page.get_by_role("button", name="Log in").click()
        return self.page

    def shoot(self, name: str) -> None:
        """Screenshots at desktop and phone widths, for review."""
        ARTIFACTS.mkdir(exist_ok=True)
        for label, width in WIDTHS.items():
            self.page.set_viewport_size({"width": width, "height": 900})
            self.page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
        self.page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})

    def forget(self) -> None:
        """Drop what was recorded so far (a tab kept from an earlier test starts clean)."""
        self.requests.clear()
        self.console_errors.clear()

    def foreign_requests(self) -> list[str]:
        own = urlsplit(self.base_url).netloc
        return [url for url in self.requests if urlsplit(url).netloc != own]


Opener = Callable[[], Tab]


def open_tab(browser: Browser, base_url: str) -> Tab:
    """A new browser context with one page, recording what the page asks for and logs."""
    context = browser.new_context(user_agent=CHROME_UA)
    tab = Tab(context, context.new_page(), base_url)
    tab.page.on("request", lambda request: tab.requests.append(request.url))
    tab.page.on("console", tab.note_console)
    tab.page.on("response", tab.note_response)
    return tab


@contextmanager
def tab_opener(browser: Browser, base_url: str) -> Iterator[Opener]:
    """``open_tab`` for one scope: every tab it opened is closed at the end."""
    opened: list[Tab] = []

    def opener() -> Tab:
        opened.append(open_tab(browser, base_url))
        return opened[-1]

    try:
        yield opener
    finally:
        for each in opened:
            each.context.close()


@pytest.fixture
def tab(browser: Browser, hush: HushClient) -> Iterator[Opener]:
    """``tab()``: a fresh browser context and page, closed after the test."""
    with tab_opener(browser, hush.base_url) as opener:
        yield opener


@pytest.fixture(scope="module")
def module_tab(browser: Browser, hush: HushClient) -> Iterator[Opener]:
    """``tab()`` for a module's fixtures (a logged-in user kept for every test of a module)."""
    with tab_opener(browser, hush.base_url) as opener:
        yield opener
