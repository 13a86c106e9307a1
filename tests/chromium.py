"""Debian's Chromium (``/usr/bin/chromium``, installed by ``scripts/test`` through
``scripts/install-browser``), driven by Playwright through ``executable_path``: Playwright's own
browser downloads are never used. Imported only by the browser tests' conftests."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Browser, Playwright

from tests.servers import CHROME_UA

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-blink-features=AutomationControlled",
    # Requests the browser process sends for a page that is going away (keepalive fetches
    # during unload) carry this flag's user agent, not the context's.
    f"--user-agent={CHROME_UA}",
    "--host-resolver-rules=MAP *.test 127.0.0.1",
]


def launch(playwright: Playwright) -> Browser:
    """Headless Chromium with a fresh profile (each launch gets its own ``--user-data-dir``)."""
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: run scripts/install-browser"
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
    )
