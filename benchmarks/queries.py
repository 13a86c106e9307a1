"""How fast the Stats API answers the dashboard's questions over a big store.

Run it through ``benchmarks/queries`` (which installs hush first):

    benchmarks/queries [--events 10000000] [--days 90] [--repeat 5]

It builds a store with ``hush demo`` (N events over D days, up to now), rolls up every closed
day, applies raw retention (30 days by default, deleting older raw events and compacting the
file), starts ``hush serve`` on it and times, over real HTTP, each call a dashboard makes for a
today, 30-day and 12-month view, unfiltered and filtered by a source and by a page. It prints the
median time of each call, the total of each view, the bytes on disk per retained raw event and
the size of the rollups, and exits 1 when a call fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HUSH = ROOT / ".venv" / "bin" / "hush"
SITE = "demo.example"
TARGETS = {10_000_000: (50.0, 200.0), 100_000_000: (150.0, 500.0)}  # ms per call, per view

# What a dashboard asks for one view (Plausible's dashboard makes the same calls).
VIEW = [
    (
        "aggregate",
        {
            "metrics": "visitors,visits,pageviews,views_per_visit,bounce_rate,visit_duration",
            "compare": "previous_period",
        },
    ),
    ("timeseries", {"metrics": "visitors,pageviews"}),
    ("breakdown", {"property": "visit:source", "metrics": "visitors,bounce_rate", "limit": "9"}),
    ("breakdown", {"property": "visit:channel", "metrics": "visitors", "limit": "9"}),
    ("breakdown", {"property": "event:page", "metrics": "visitors,pageviews", "limit": "9"}),
    ("breakdown", {"property": "visit:entry_page", "metrics": "visitors", "limit": "9"}),
    ("breakdown", {"property": "visit:exit_page", "metrics": "visitors", "limit": "9"}),
    ("breakdown", {"property": "visit:country", "metrics": "visitors", "limit": "9"}),
    ("breakdown", {"property": "visit:device", "metrics": "visitors", "limit": "9"}),
    ("breakdown", {"property": "visit:browser", "metrics": "visitors", "limit": "9"}),
    ("breakdown", {"property": "visit:os", "metrics": "visitors", "limit": "9"}),
    ("breakdown", {"property": "visit:utm_campaign", "metrics": "visitors", "limit": "9"}),
    ("breakdown", {"property": "event:name", "metrics": "visitors,events", "limit": "9"}),
]
# Filtered views ask for what a filter leaves meaningful: with a source chosen, its pages and
# goals (pairs the rollups hold); with a page chosen, the sources and channels that led to it.
FILTERED = {
    "visit:source==Google": [
        c for c in VIEW if c[1].get("property") in (None, "event:page", "event:name")
    ],
    "event:page==/pricing": [
        c
        for c in VIEW
        if c[1].get("property") in (None, "visit:source", "visit:channel", "visit:country")
    ],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--retention", type=int, default=30)
    parser.add_argument(
        "--keep",
        type=Path,
        help="build the store in this directory and keep it; reuse it when it holds one",
    )
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="hush-queries-"))
    root.mkdir(parents=True, exist_ok=True)
    reuse = (root / "data" / "hush.duckdb").exists()
    salts = Path("/dev/shm") / f"hush-queries-{root.name}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUSH_")},
        "HUSH_DATA_DIR": str(root / "data"),
        "HUSH_SALT_DIR": str(salts),
        "HUSH_RAW_RETENTION_DAYS": str(args.retention),
        "HUSH_LOG_LEVEL": "warning",
        "HUSH_MIN_VISITORS": "1",
    }
    server = None
    try:
        if reuse:
            print(f"reusing the store in {root}")
        else:
            started = time.monotonic()
            demo = ["--events", str(args.events), "--days", str(args.days), "--site", SITE]
            print(_run(env, "demo", *demo).strip())
            print(f"demo: {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        for line in _run(env, "retention").splitlines():
            print(f"retention: {line}")
        print(f"rollups and retention: {time.monotonic() - started:.1f} s")
        key = _run(env, "keys", "add", "--name", "bench").strip().splitlines()[-1]
        database = root / "data" / "hush.duckdb"
        sizes = _sizes(database)
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
        failed = _report(base, key, args.repeat, args.events)
        print(
            f"\non disk: {database.stat().st_size:,} B in all; {sizes['events']:,} raw events"
            f" retained, {sizes['bytes_per_event']:.1f} bytes per retained raw event;"
            f" rollups {sizes['rollup_rows']:,} rows, ~{sizes['rollup_bytes']:,} B"
        )
        return 1 if failed else 0
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(salts, ignore_errors=True)


def _report(base: str, key: str, repeat: int, events: int) -> bool:
    per_call, per_view = TARGETS.get(events, TARGETS[100_000_000 if events > 10**7 else 10**7])
    failed = False
    for period in ("day", "30d", "12mo"):
        views = [("unfiltered", VIEW, "")] + [(f, calls, f) for f, calls in FILTERED.items()]
        for label, calls, filters in views:
            print(f"\n{period}, {label}:")
            total = 0.0
            for endpoint, params in calls:
                query = {"site_id": SITE, "period": period, **params}
                if filters:
                    query["filters"] = filters
                status, ms = _time_call(base, key, endpoint, query, repeat)
                total += ms
                what = params.get("property", endpoint)
                flag = "" if ms <= per_call else f"  (over {per_call:.0f} ms)"
                print(f"  {endpoint:<10} {what:<20} {status}  {ms:7.1f} ms{flag}")
                failed |= status != 200
            flag = "" if total <= per_view else f"  (over {per_view:.0f} ms)"
            print(f"  {'the whole view':<31}  {total:7.1f} ms{flag}")
    return failed


def _time_call(
    base: str, key: str, endpoint: str, query: dict[str, str], repeat: int
) -> tuple[int, float]:
    url = f"{base}/api/v1/stats/{endpoint}?{urllib.parse.urlencode(query)}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})  # noqa: S310
    times = []
    status = 0
    for _ in range(repeat + 1):  # the first call warms caches and is not counted
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
                response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            print(f"    {exc.read().decode(errors='replace')[:200]}")
        times.append((time.perf_counter() - started) * 1000)
    return status, statistics.median(times[1:])


def _sizes(database: Path) -> dict[str, float]:
    """Raw events and rollups each copied into a file of their own, to weigh them exactly."""
    import duckdb

    con = duckdb.connect(str(database))  # not read-only: it attaches the files it weighs
    sizes: dict[str, float] = {}
    try:
        for table in ("events", "rollups"):
            copy = database.with_name(f"weigh-{table}.duckdb")
            copy.unlink(missing_ok=True)
            con.execute(f"ATTACH '{copy}' AS weigh")
            con.execute(f"CREATE TABLE weigh.t AS SELECT * FROM {table}")  # noqa: S608
            rows = con.execute("SELECT count(*) FROM weigh.t").fetchone()[0]
            con.execute("DETACH weigh")
            empty = duckdb.connect(str(database.with_name("weigh-empty.duckdb")))
            empty.close()
            overhead = database.with_name("weigh-empty.duckdb").stat().st_size
            sizes[table] = rows
            sizes[f"{table}_bytes"] = copy.stat().st_size - overhead
            copy.unlink()
    finally:
        con.close()
    return {
        "events": sizes["events"],
        "bytes_per_event": sizes["events_bytes"] / sizes["events"] if sizes["events"] else 0.0,
        "rollup_rows": sizes["rollups"],
        "rollup_bytes": sizes["rollups_bytes"],
    }


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(HUSH), *args], env=env, capture_output=True, text=True, check=False, timeout=7200
    )
    if done.returncode != 0:
        raise SystemExit(f"hush {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("hush serve did not become healthy")


def _wait_for_todays_rollup(base: str) -> None:
    """The server refreshes today's provisional rollup as it starts; time calls after that."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with urllib.request.urlopen(base + "/metrics", timeout=5) as response:  # noqa: S310
            metrics = dict(
                line.split(" ", 1)
                for line in response.read().decode().splitlines()
                if line and not line.startswith("#")
            )
        if int(metrics.get("hush_live_rollup_passes_total", "0")):
            seconds = float(metrics["hush_live_rollup_seconds"])
            print(f"today's provisional rollup: current (last built in {seconds:.2f} s)")
            return
        time.sleep(0.5)
    raise SystemExit("today's provisional rollup was not refreshed within 10 minutes")


if __name__ == "__main__":
    sys.exit(main())
