"""How fast the marketing view answers over a big store, and how much it makes a browser load.

Run it through ``benchmarks/dashboard`` (which installs hush and what the tests need first):

    benchmarks/dashboard [--events 10000000] [--days 90] [--repeat 5] [--keep DIR]

It builds (or reuses, with ``--keep``) the store ``benchmarks/queries`` builds, adds a marketing
user, starts ``hush serve`` and times, over real HTTP with that user's session, the whole
``/sites/<domain>`` view (every card, the graph and every panel, rendered) for today, 30 days
and 12 months, unfiltered and filtered by a source and by a page: the median of ``--repeat``
loads each. Then headless Chromium opens the 30-day view and reports its first contentful
paint, the first-party JS and CSS are weighed, raw and gzip, and the server's peak RSS
(``VmHWM``: start, today's rollup and every view) is read before it stops. Of hush's
settings only ``HUSH_DUCKDB_MEMORY_LIMIT`` and ``HUSH_DUCKDB_THREADS`` pass through. Last,
with the server stopped, it times the view's data alone in this process (every figure of the
page, as ``dashboard.web.site_view.view_figures`` makes them, without HTTP or the template),
the figure the target is about. It exits 1 over a target.
"""

from __future__ import annotations

import argparse
import gzip
import http.cookiejar
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from ingest import _rss_mib, passed_environment
from queries import HUSH, ROOT, SITE, _free_port, _run, _wait_for_todays_rollup, _wait_healthy
from view_times import median_view_ms

STATIC = ROOT / "dashboard" / "web" / "static"
PASSWORD = "a benchmark password"  # noqa: S105 (a throwaway store's user)
VIEWS = {
    "today": "period=day",
    "30 days": "period=30d",
    "12 months": "period=12mo",
}
FILTERS = {
    "unfiltered": "",
    "by source": "f=is,visit:source,Google",
    "by page": "f=is,event:page,/",
}
TARGETS = {10_000_000: 50.0, 100_000_000: 100.0}  # ms for a whole view's data
PAINT_TARGET, JS_TARGET, CSS_TARGET = 500.0, 15_000, 10_000
RSS_TARGET = 150  # MiB, the server's VmHWM


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--retention", type=int, default=30)
    parser.add_argument("--keep", type=Path, help="build the store here and keep it; reuse it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="hush-dashboard-"))
    root.mkdir(parents=True, exist_ok=True)
    salts = Path("/dev/shm") / f"hush-dashboard-{root.name}"
    env = {
        **passed_environment(),
        "HUSH_DATA_DIR": str(root / "data"),
        "HUSH_SALT_DIR": str(salts),
        "HUSH_RAW_RETENTION_DAYS": str(args.retention),
        "HUSH_LOG_LEVEL": "warning",
    }
    server = None
    try:
        if (root / "data" / "hush.duckdb").exists():
            print(f"reusing the store in {root}")
        else:
            started = time.monotonic()
            demo = ["--events", str(args.events), "--days", str(args.days), "--site", SITE]
            print(_run(env, "demo", *demo).strip(), f"({time.monotonic() - started:.1f} s)")
        _run(env, "retention")
        users = _run(env, "users", "list")
        if "bench@example.com" not in users:
            subprocess.run(
                [
                    str(HUSH),
                    "users",
                    "add",
                    "bench@example.com",
                    "--role",
                    "marketing",
                    "--sites",
                    SITE,
                    "--password-stdin",
                ],
                env=env,
                input=PASSWORD + "\n",
                text=True,
                check=True,
                capture_output=True,
            )
        port = _free_port()
        server = subprocess.Popen(
            [str(HUSH), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base)
        _wait_for_todays_rollup(base)
        opener = _log_in(base)
        target = TARGETS[100_000_000 if args.events > 10**7 else 10_000_000]
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        _time_views(opener, base, args.repeat)
        paint = _first_paint(base)
        js, css = _weigh("js"), _weigh("css")
        peak = _rss_mib(server.pid, "VmHWM")
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        server = None
        slowest = _time_data(root / "data" / "hush.duckdb", args.repeat)
        print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        print(
            f"\nfirst contentful paint of the 30-day view: {paint:.0f} ms"
            f" (target < {PAINT_TARGET:.0f})"
        )
        print(f"first-party JS: {js[0]:,} B, {js[1]:,} B gzip (target <= {JS_TARGET:,} gzip)")
        print(f"first-party CSS: {css[0]:,} B, {css[1]:,} B gzip (target <= {CSS_TARGET:,} gzip)")
        print(f"slowest view's data: {slowest:.0f} ms (target <= {target:.0f} ms)")
        print(
            f"server RSS at its peak (start, today's rollup and every view above): {peak:.0f} MiB"
            f" (target < {RSS_TARGET} MiB)"
        )
        failed = (
            slowest > target
            or peak >= RSS_TARGET
            or paint > PAINT_TARGET
            or js[1] > JS_TARGET
            or css[1] > CSS_TARGET
        )
        return 1 if failed else 0
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(salts, ignore_errors=True)


def _log_in(base: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = urllib.parse.urlencode({"email": "bench@example.com", "password": PASSWORD}).encode()
    request = urllib.request.Request(  # noqa: S310 (the server's own loopback URL)
        base + "/login", data=form, headers={"Origin": base}, method="POST"
    )
    opener.open(request, timeout=30).read()
    if not any(cookie.name == "hush_session" for cookie in jar):
        raise SystemExit("could not log in as the benchmark user")
    return opener


def _time_views(opener: urllib.request.OpenerDirector, base: str, repeat: int) -> None:
    print(
        f"{'view':<12}" + "".join(f"{name:>14}" for name in FILTERS) + "   (median ms, whole page)"
    )
    for view, period in VIEWS.items():
        cells = []
        for extra in FILTERS.values():
            url = f"{base}/sites/{SITE}?{period}" + (f"&{extra}" if extra else "")
            opener.open(url, timeout=60).read()  # warm
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                with opener.open(url, timeout=60) as response:
                    response.read()
                    assert response.status == 200
                times.append((time.perf_counter() - started) * 1000)
            cells.append(f"{statistics.median(times):>14.0f}")
        print(f"{view:<12}" + "".join(cells))


def _time_data(database: Path, repeat: int) -> float:
    """The median time of each view's figures, made in this process on the stopped server's
    store (as the page makes them: the same queries on the same four threads)."""
    sys.path.insert(0, str(ROOT))
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from aggregator.sites import find_site
    from aggregator.store import Store

    print(f"\n{'view':<12}" + "".join(f"{name:>14}" for name in FILTERS) + "   (median ms, data)")
    store = Store(database)
    slowest = 0.0
    try:
        site = find_site(store, SITE)
        assert site is not None
        now = time.time()
        today = datetime.fromtimestamp(now, ZoneInfo(site.timezone)).date()
        for view, period in VIEWS.items():
            cells = []
            for extra in FILTERS.values():
                text = period + (f"&{extra}" if extra else "")
                median = median_view_ms(store, site, text, today=today, now=now, repeat=repeat)
                slowest = max(slowest, median)
                cells.append(f"{median:>14.0f}")
            print(f"{view:<12}" + "".join(cells))
    finally:
        store.close()
    return slowest


def _first_paint(base: str) -> float:
    sys.path.insert(0, str(ROOT))
    from playwright.sync_api import sync_playwright

    from tests.chromium import launch
    from tests.servers import CHROME_UA

    with sync_playwright() as driver:
        browser = launch(driver)
        page = browser.new_context(user_agent=CHROME_UA).new_page()
        page.goto(base + "/login")
        page.get_by_label("Email").fill("bench@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        paints = []
        for _ in range(3):
            page.goto(f"{base}/sites/{SITE}?period=30d")
            # Polled with evaluate: wait_for_function evaluates a string in the page, which the
            # page's CSP (no unsafe-eval) refuses now and then.
            paint = None
            for _ in range(100):
                paint = page.evaluate(
                    "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
                )
                if paint is not None:
                    break
                time.sleep(0.05)
            assert paint is not None, "no first contentful paint in 5 s"
            paints.append(paint)
        browser.close()
    return float(statistics.median(paints))


def _weigh(kind: str) -> tuple[int, int]:
    raw = b"".join(path.read_bytes() for path in sorted(STATIC.glob(f"*.{kind}")))
    return len(raw), len(gzip.compress(raw, 9))


if __name__ == "__main__":
    sys.exit(main())
