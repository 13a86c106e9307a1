from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregator.store import Store
from tests.harness import Harness, in_process
from tests.servers import ManualClock, ProcessServer, ThreadServer, running, utc

# ``lake_services`` (PostgreSQL, S3, Redis) for any test that runs hush on a lake.
pytest_plugins = ["tests.lake.fixtures"]

SLOW_FIRST = ("web", "snippet", "lake")  # browsers, and the lake's servers: minutes a file
SLOW_FILES = ("aggregator/test_rollups.py",)  # its module traffic and every rollup: minutes


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests' files first, each file kept whole: with a file per worker, a long file
    that starts last leaves the other worker idle while it runs."""
    tests = Path(__file__).parent

    def later(item: pytest.Item) -> bool:
        path = item.path.relative_to(tests)
        return path.parts[0] not in SLOW_FIRST and path.as_posix() not in SLOW_FILES

    items.sort(key=later)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ProcessServer]:
    """``hush serve`` (the real CLI) with the site example.com and an API key."""
    hush = ProcessServer(tmp_path)
    with running(hush, site="example.com"):
        yield hush


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    """One server for a module's tests that only read or are refused (they add no events)."""
    hush = ProcessServer(tmp_path_factory.mktemp("shared"))
    with running(hush, site="example.com"):
        yield hush


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(utc(2026, 3, 10, 12, 0))


@pytest.fixture
def clocked_server(tmp_path: Path, clock: ManualClock) -> Iterator[ThreadServer]:
    """A real uvicorn server in a thread whose clock the test moves; site example.com, a key."""
    hush = ThreadServer(tmp_path, clock)
    with running(hush, site="example.com"):
        yield hush


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A DuckDB store of its own, opened (and migrated) as the server opens it."""
    opened = Store(tmp_path / "hush.duckdb")
    yield opened
    opened.close()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Harness]:
    """The real app in this process (``tests/harness.py``): site example.com and a key."""
    with in_process(tmp_path) as harness:
        yield harness


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """One Playwright driver for the whole run (the browser tests' conftests launch Chromium
    from it); imported here lazily so tests without a browser never load Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver
