"""Fixtures for the snippet's tests: one Chromium per module, a hush server, test pages.

The browser is Debian's Chromium (``/usr/bin/chromium``, installed by ``scripts/test`` through
``scripts/install-browser``) driven by Playwright through ``executable_path``: Playwright's own
browser downloads are never used. It presents a real Chrome user agent and
``navigator.webdriver`` false, because hush rightly drops headless and automated browsers as
bots (DESIGN.md §4).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright

from tests.chromium import launch
from tests.servers import CHROME_UA, ProcessServer, ThreadServer, running
from tests.snippet.pages import PageServer, Visit, Visitor

# The browser connects from 127.0.0.1 with no proxy in front, so no proxy is trusted: the socket
# peer is the visitor's address. Every breakdown row has one visitor, the same browser:
# HUSH_MIN_VISITORS=1 keeps small-count suppression (P7) from folding the rows a test reads.
COLLECTOR_ENV = {"HUSH_TRUSTED_PROXIES": "", "HUSH_MIN_VISITORS": "1"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives a real Chromium (Debian's, via Playwright)")


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Chromium with a fresh profile (Playwright gives each launch its own
    ``--user-data-dir``), one per worker: each visit is a browser context of its own."""
    browser = launch(playwright)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    server = PageServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    """The collector for a module's browser tests (uvicorn in a thread, the real clock); each
    test registers its own site."""
    hush = ThreadServer(tmp_path_factory.mktemp("collector"), None, **COLLECTOR_ENV)
    with running(hush):
        yield hush


@pytest.fixture
def visit(browser: Browser) -> Iterator[Visitor]:
    """``visit(**context_options)``: a new browser context and page, closed after the test."""
    opened: list[Visit] = []

    def open_visit(*, init_script: str = "", **options: object) -> Visit:
        context = browser.new_context(user_agent=CHROME_UA, **options)  # type: ignore[arg-type]
        if init_script:
            context.add_init_script(init_script)
        opened.append(Visit(context, context.new_page()))
        return opened[-1]

    yield open_visit
    for each in opened:
        each.context.close()


@pytest.fixture
def private_collector(tmp_path: Path) -> Iterator[ProcessServer]:
    """A server of the test's own, for tests that stop it and read the stored events."""
    hush = ProcessServer(tmp_path, **COLLECTOR_ENV)
    with running(hush):
        yield hush
