"""hush on a DuckLake (``HUSH_STORE=ducklake``) against the embedded file, measured in one run.

Run it through ``benchmarks/lake`` (which installs the test extra and wrk first):

    benchmarks/lake [--duration 15] [--connections 64] [--commit-interval 1]
                    [--events 1000000] [--days 30] [--repeat 5] [--lake-data s3|dir]
                    [--part all|ingest|view]

It starts the services a lake shares (``tests/lake/services.py``: PostgreSQL for the catalog,
moto's S3 server for the data, Redis for the salt) in a temp dir, then:

1. **Insert rate.** Real ``hush serve`` processes, fed by wrk with ``benchmarks/event.lua`` for
   ``--duration`` seconds after a warm-up: the embedded store (one process), a lake with one
   node and a lake with two nodes (each its own data dir and port, the same catalog, bucket
   and salt; one wrk per node, the connections split between them). For each: events
   acknowledged/s, events stored/s (loaded from the start of the measured run until every
   node had loaded everything), commits/s and catalog bytes per commit (``pg_total_relation_size``
   summed over the ``<schema>_lake`` tables, before and after), and the check that every
   acknowledged event is in the store once the servers stopped (a final load).
2. **The marketing view's data** on the same demo data (``hush demo`` with the same seed into
   each store, then ``hush retention`` to roll up, then ``hush serve`` until today's provisional
   rollup is built): every figure of ``/sites/<domain>`` as ``dashboard.web.site_view.view_figures``
   makes them, in this process, as ``benchmarks/dashboard`` times them: today, 30 days and 12
   months, unfiltered and filtered by a source and by a page, median of ``--repeat``. The lake
   once more without its rollup cache (readers on the lake's own tables), unfiltered.
3. **Bytes per event**: the Parquet files under the lake's data path against the embedded file.

Exits 1 if a count differs or a step fails; stops what it started and removes its temp dirs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
from ingest import (
    DROPPED_WITH_202,
    SITE,
    VENV_BIN,
    BenchmarkFailed,
    Processes,
    Sampler,
    WrkResult,
    _check_tools,
    _cpu_seconds,
    _free_port,
    _hush_cli,
    _read_metrics,
    _server,
    _wait_loaded,
    _wrk,
)
from view_times import median_view_ms

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.lake import services  # noqa: E402 (after the root is on the path)

DEMO_SITE = "demo.example"
# As benchmarks/dashboard (whose module name the product's dashboard package takes here).
VIEWS = {"today": "period=day", "30 days": "period=30d", "12 months": "period=12mo"}
FILTERS = {
    "unfiltered": "",
    "by source": "f=is,visit:source,Google",
    "by page": "f=is,event:page,/",
}
TARGET_RATIO = 1.2  # the lake's view data within 20 % of the embedded file's
WARMUP = 3


@dataclass(frozen=True, slots=True)
class IngestRun:
    name: str
    nodes: int
    measured_seconds: float  # wrk sending events
    acknowledged: int  # 2xx answers, warm-up included
    acknowledged_measured: int
    stored: int  # in the store after the servers stopped
    loaded_seconds: float  # from the measured start until the nodes had stored its last event
    loaded_measured: int
    commit_seconds: float  # from the measured start until the commits were counted
    commits: int  # snapshots in that time (lake) or loader passes that loaded (file)
    load_commits: int  # of which wrote events
    catalog_bytes: int  # growth of the catalog in that window (lake)
    cpu_seconds: float  # every node, all threads, over the measured run
    events_files: int  # live data files of events at the end (lake)
    events_bytes: int  # their bytes (lake), or the file (embedded)

    @property
    def ok(self) -> bool:
        return self.acknowledged == self.stored


@dataclass(frozen=True, slots=True)
class ViewTimes:
    name: str
    cells: dict[tuple[str, str], float]  # (period, filter) -> median ms


def main() -> int:
    args = _parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    processes = Processes()
    root = Path(tempfile.mkdtemp(prefix="hush-lake-bench-"))
    # A temp dir of its own: PostgreSQL runs as postgres, who cannot enter root (0700).
    shared = Path(tempfile.mkdtemp(prefix="hush-lake-bench-services-"))
    try:
        _check_tools()
        print(f"hush lake benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs")
        _print_load("at the start")
        started = time.monotonic()
        try:
            lake_env = services.start(shared)
        except services.ServicesError as exc:
            raise BenchmarkFailed(str(exc)) from None
        print(f"lake services up in {time.monotonic() - started:.1f} s ({shared})\n")
        ingest = []
        if args.part in ("all", "ingest"):
            ingest = [
                _ingest(args, processes, root, "embedded", 1, lake_env),
                _ingest(args, processes, root, "lake", 1, lake_env),
                _ingest(args, processes, root, "lake", 2, lake_env),
            ]
            _print_load("after the insert runs")
        views: list[ViewTimes] = []
        sizes: dict[str, StoreSizes] = {}
        builds: dict[str, tuple[float, float]] = {}
        if args.part in ("all", "view"):
            views, sizes, builds = _dashboard(args, processes, root, lake_env)
            _print_load("at the end")
        _print_summary(args, ingest, views, sizes, builds)
        if not all(run.ok for run in ingest):
            raise BenchmarkFailed("acknowledged and stored events differ (see above)")
        return 0
    except BenchmarkFailed as exc:
        print(f"\nbenchmark FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: stopping what was started", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        processes.stop_all()
        services.stop(shared)
        for path in (root, shared, *Path("/dev/shm").glob(f"{root.name}-*")):
            shutil.rmtree(path, ignore_errors=True)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/lake", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="measured seconds (15)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections in all (64)")
    parser.add_argument(
        "--commit-interval", default="1", help="HUSH_LAKE_COMMIT_INTERVAL of the nodes (1)"
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="demo events (1000000)")
    parser.add_argument("--days", type=int, default=30, help="days the demo spans (30)")
    parser.add_argument("--repeat", type=int, default=5, help="loads per view (5)")
    parser.add_argument(
        "--lake-data",
        choices=("s3", "dir"),
        default="s3",
        help="the lake's data in moto's S3 bucket (s3) or a local directory (dir)",
    )
    parser.add_argument(
        "--part",
        choices=("all", "ingest", "view"),
        default="all",
        help="run only the insert rate (ingest) or only the view and bytes (view)",
    )
    args = parser.parse_args()
    if args.duration < 1 or args.connections < 2 or args.repeat < 1:
        parser.error("--duration >= 1, --connections >= 2, --repeat >= 1")
    return args


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _print_load(when: str) -> None:
    print("load average {}: {:.2f} {:.2f} {:.2f}".format(when, *os.getloadavg()), flush=True)


# -- the stores -------------------------------------------------------------------------------


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUSH_")}
    return env | {
        "HUSH_TRUSTED_PROXIES": "127.0.0.1",
        "HUSH_RATE_LIMIT": "0",
        "HUSH_LOG_LEVEL": "warning",
    }


def _lake(
    args: argparse.Namespace, root: Path, lake_env: dict[str, str], schema: str
) -> dict[str, str]:
    """The settings of a new lake: its own schema in the catalog, its own data prefix."""
    if args.lake_data == "s3":
        data = f"s3://{services.BUCKET}/{schema}/"
    else:
        data = str(root / f"lake-{schema}")
    return lake_env | {
        "HUSH_STORE": "ducklake",
        "HUSH_LAKE_SCHEMA": schema,
        "HUSH_LAKE_DATA": data,
        "HUSH_LAKE_COMMIT_INTERVAL": args.commit_interval,
    }


def _node(env: dict[str, str], root: Path, name: str) -> dict[str, str]:
    data = root / name
    data.mkdir(parents=True, exist_ok=True)
    salts = Path("/dev/shm") / f"{root.name}-{name}"
    return env | {"HUSH_DATA_DIR": str(data), "HUSH_SALT_DIR": str(salts)}


@contextlib.contextmanager
def _opened(env: dict[str, str]) -> Iterator[Any]:
    """The store ``env`` names, opened in this process (a lake: its own rollup cache)."""
    from hush.settings import load_settings
    from hush.storage import open_store

    store = open_store(load_settings(env), bounded=False)
    try:
        yield store
    finally:
        store.close()


def _count_events(env: dict[str, str]) -> int:
    with _opened(env) as store, store.read() as cur:
        [(count,)] = cur.execute("SELECT count(*) FROM events").fetchall()
    return int(count)


@dataclass(frozen=True, slots=True)
class CatalogState:
    snapshot: int
    bytes: int


def _catalog_state(env: dict[str, str]) -> CatalogState:
    lake = env["HUSH_LAKE_SCHEMA"] + "_lake"
    with psycopg.connect(env["HUSH_LAKE_CATALOG"], autocommit=True) as pg:
        [(size,)] = pg.execute(
            "SELECT coalesce(sum(pg_total_relation_size(format('%%I.%%I', schemaname,"
            " tablename))), 0) FROM pg_tables WHERE schemaname = %s",
            (lake,),
        ).fetchall()
        [(snapshot,)] = pg.execute(
            f"SELECT max(snapshot_id) FROM {lake}.ducklake_snapshot"  # noqa: S608 (our name)
        ).fetchall()
    return CatalogState(int(snapshot), int(size))


def _commits(env: dict[str, str], after: int, until: int) -> tuple[int, int]:
    """Snapshots in (after, until], and how many of them inserted into events."""
    lake = env["HUSH_LAKE_SCHEMA"] + "_lake"
    with psycopg.connect(env["HUSH_LAKE_CATALOG"], autocommit=True) as pg:
        [(events_id,)] = pg.execute(
            f"SELECT table_id FROM {lake}.ducklake_table"  # noqa: S608 (our name)
            " WHERE table_name = 'events' AND end_snapshot IS NULL"
        ).fetchall()
        rows = pg.execute(
            f"SELECT changes_made FROM {lake}.ducklake_snapshot_changes"  # noqa: S608
            " WHERE snapshot_id > %s AND snapshot_id <= %s",
            (after, until),
        ).fetchall()
    mark = f"inserted_into_table:{events_id}"
    loads = sum(1 for (changes,) in rows if mark in (changes or "").split(","))
    return len(rows), loads


@dataclass(frozen=True, slots=True)
class LakeFiles:
    files: dict[str, tuple[int, int, int]]  # table -> (live files, bytes, rows)
    stored_bytes: int  # every object under the data path (files awaiting clean-up too)


def _lake_files(env: dict[str, str]) -> LakeFiles:
    lake = env["HUSH_LAKE_SCHEMA"] + "_lake"
    with psycopg.connect(env["HUSH_LAKE_CATALOG"], autocommit=True) as pg:
        rows = pg.execute(
            "SELECT t.table_name, count(*), sum(f.file_size_bytes), sum(f.record_count)"  # noqa: S608
            f" FROM {lake}.ducklake_data_file f JOIN {lake}.ducklake_table t"
            " USING (table_id) WHERE f.end_snapshot IS NULL AND t.end_snapshot IS NULL"
            " GROUP BY 1"
        ).fetchall()
    files = {str(name): (int(n), int(size), int(records)) for name, n, size, records in rows}
    return LakeFiles(files, _data_bytes(env))


def _data_bytes(env: dict[str, str]) -> int:
    data = env["HUSH_LAKE_DATA"]
    if not data.startswith("s3://"):
        return sum(p.stat().st_size for p in Path(data).rglob("*") if p.is_file())
    import boto3  # the lake-test extra, with moto

    bucket, _, prefix = data.removeprefix("s3://").partition("/")
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{env['HUSH_S3_ENDPOINT']}",
        aws_access_key_id=env["HUSH_S3_KEY_ID"],
        aws_secret_access_key=env["HUSH_S3_SECRET"],
        region_name=env["HUSH_S3_REGION"],
    )
    total = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        total += sum(int(item["Size"]) for item in page.get("Contents", []))
    return total


# -- 1. insert rate ---------------------------------------------------------------------------


def _ingest(
    args: argparse.Namespace,
    processes: Processes,
    root: Path,
    store: str,
    nodes: int,
    lake_env: dict[str, str],
) -> IngestRun:
    name = f"{store}, {nodes} node{'s' if nodes > 1 else ''}" if store == "lake" else "embedded"
    print(f"== insert rate: {name}", flush=True)
    run_dir = root / f"ingest-{store}-{nodes}"
    env = _base_env()
    if store == "lake":
        env = _lake(args, run_dir, lake_env, f"ingest{nodes}") | env
    envs = [_node(env, run_dir, f"node{n}") for n in range(nodes)]
    _hush_cli(["sites", "add", SITE], envs[0])
    per_node = argparse.Namespace(
        threads=2 if nodes == 1 else 1, connections=args.connections // nodes, agents="realistic"
    )
    with contextlib.ExitStack() as stack:
        servers = []
        for node_env in envs:  # one at a time: the first creates the lake
            port = _free_port()
            argv = [str(VENV_BIN / "python"), "-m", "hush.cli", "serve"]
            argv += ["--host", "127.0.0.1", "--port", str(port)]
            servers.append(
                stack.enter_context(
                    _server(processes, argv, port=port, ready=("/healthz", 200), env=node_env)
                )
            )
        print(f"  {nodes} hush serve on ports {', '.join(str(s.port) for s in servers)}")
        warmup = _wrk_all(per_node, servers, WARMUP, processes)
        for server in servers:
            _wait_loaded(server)
        loaded_before = sum(_read_metrics(s.port).loaded for s in servers)
        passes_before = sum(_load_passes(s.port) for s in servers)
        catalog_before = _catalog_state(env) if store == "lake" else None
        cpu_before = {s.proc.pid: _cpu_seconds(s.proc.pid) for s in servers}
        started = time.monotonic()
        with _LoadedSampler([s.port for s in servers]) as sampler:
            measured = _wrk_all(per_node, servers, args.duration, processes)
            cpu = sum(_cpu_seconds(pid) - before for pid, before in cpu_before.items())
            for server in servers:
                _wait_loaded(server)
        final = sum(_read_metrics(s.port).loaded for s in servers)
        loaded_seconds = sampler.reached(final) - started
        catalog_after = _catalog_state(env) if store == "lake" else None
        commit_seconds = time.monotonic() - started
        metrics = [_read_metrics(s.port) for s in servers]
        loaded_measured = sum(m.loaded for m in metrics) - loaded_before
        dropped = sum(n for m in metrics for k, n in m.outcomes.items() if k in DROPPED_WITH_202)
        passes = sum(_load_passes(s.port) for s in servers) - passes_before
    # The servers stopped (SIGTERM: each loads what is left once more); count what is stored.
    acknowledged = sum(r.acknowledged for r in warmup + measured) - dropped
    stored = _count_events(_node(env, run_dir, "counter") if store == "lake" else envs[0])
    if catalog_before and catalog_after:
        commits, loads = _commits(env, catalog_before.snapshot, catalog_after.snapshot)
        growth = catalog_after.bytes - catalog_before.bytes
        files = _lake_files(env).files.get("events", (0, 0, 0))
    else:
        commits = loads = passes
        growth = 0
        database = Path(envs[0]["HUSH_DATA_DIR"]) / "hush.duckdb"
        files = (1, database.stat().st_size, stored)
    run = IngestRun(
        name=name,
        nodes=nodes,
        measured_seconds=float(args.duration),
        acknowledged=acknowledged,
        acknowledged_measured=sum(r.acknowledged for r in measured),
        stored=stored,
        loaded_seconds=loaded_seconds,
        loaded_measured=loaded_measured,
        commit_seconds=commit_seconds,
        commits=commits,
        load_commits=loads,
        catalog_bytes=growth,
        cpu_seconds=cpu,
        events_files=files[0],
        events_bytes=files[1],
    )
    _print_ingest(run, measured)
    return run


class _LoadedSampler(Sampler):
    """Every node's loaded events, summed, every 0.1 s: when the last event was stored."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__(0.1)
        self._ports = ports
        self._samples: list[tuple[float, int]] = []

    def sample(self) -> bool:
        loaded = sum(_read_metrics(port).loaded for port in self._ports)
        self._samples.append((time.monotonic(), loaded))
        return True

    def reached(self, count: int) -> float:
        """The first time the nodes had loaded ``count`` events (an upper bound by 0.1 s)."""
        return next((at for at, n in self._samples if n >= count), time.monotonic())


def _wrk_all(
    per_node: argparse.Namespace, servers: list[Any], seconds: int, processes: Processes
) -> list[WrkResult]:
    """One wrk per node, all at once."""
    with ThreadPoolExecutor(len(servers)) as pool:
        runs = [pool.submit(_wrk, per_node, s.port, seconds, processes) for s in servers]
        return [run.result() for run in runs]


def _load_passes(port: int) -> int:
    """Loader passes that loaded something (one transaction each): hush_load_seconds_count."""
    from ingest import _http_get

    _, body = _http_get(port, "/metrics")
    for line in body.decode().splitlines():
        if line.startswith("hush_load_seconds_count"):
            return int(float(line.split()[-1]))
    return 0


def _print_ingest(run: IngestRun, measured: list[WrkResult]) -> None:
    window = run.loaded_seconds
    per_node = ", ".join(f"{r.acknowledged / r.seconds:,.0f}" for r in measured)
    print(
        f"  acknowledged/s         {run.acknowledged_measured / run.measured_seconds:,.0f}"
        f"  (per node {per_node}; p99 {', '.join(f'{r.p99_ms:.1f}' for r in measured)} ms)"
    )
    print(
        f"  stored/s               {run.loaded_measured / window:,.0f}"
        f"  ({run.loaded_measured:,} loaded in {window:.1f} s from the measured start)"
    )
    print(
        f"  commits/s              {run.commits / run.commit_seconds:.2f}  ({run.commits} in"
        f" {run.commit_seconds:.1f} s,"
        f" {run.load_commits} of them loads)"
    )
    if run.catalog_bytes:
        print(
            f"  catalog growth         {run.catalog_bytes:,} B,"
            f" {run.catalog_bytes / max(run.commits, 1):,.0f} B per commit"
        )
    print(f"  server CPU / event     {run.cpu_seconds * 1e6 / run.acknowledged_measured:.0f} µs")
    verdict = "OK" if run.ok else "MISMATCH"
    print(f"  acknowledged / stored  {run.acknowledged:,} / {run.stored:,}  {verdict}")
    print(
        f"  events on disk         {run.events_files:,} file(s), {run.events_bytes:,} B,"
        f" {run.events_bytes / max(run.stored, 1):.1f} B per event\n",
        flush=True,
    )


# -- 2. the marketing view's data -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreSizes:
    events: int
    events_bytes: int  # the events table alone
    all_bytes: int  # everything at rest (the file; every object under the lake's data path)
    files: dict[str, tuple[int, int, int]]  # lake: table -> (live files, bytes, rows)


def _dashboard(
    args: argparse.Namespace, processes: Processes, root: Path, lake_env: dict[str, str]
) -> tuple[list[ViewTimes], dict[str, StoreSizes], dict[str, tuple[float, float]]]:
    from queries import _sizes

    stores = {
        "embedded": _node(_base_env(), root / "dash-embedded", "node0"),
        "lake": _node(_lake(args, root, lake_env, "dash") | _base_env(), root / "dash-lake", "n0"),
    }
    views: list[ViewTimes] = []
    sizes: dict[str, StoreSizes] = {}
    builds: dict[str, tuple[float, float]] = {}
    for name, env in stores.items():
        print(f"== the marketing view: {name}, {args.events:,} demo events", flush=True)
        started = time.monotonic()
        demo = ["demo", "--events", str(args.events), "--days", str(args.days)]
        print("  " + _hush(env, *demo, "--site", DEMO_SITE).strip())
        demo_seconds = time.monotonic() - started
        started = time.monotonic()
        _hush(env, "retention")
        rollup_seconds = time.monotonic() - started
        builds[name] = (demo_seconds, rollup_seconds)
        print(f"  demo {demo_seconds:.1f} s, roll-up (hush retention) {rollup_seconds:.1f} s")
        _build_todays_rollup(processes, env)
        if name == "embedded":
            database = Path(env["HUSH_DATA_DIR"]) / "hush.duckdb"
            weighed = _sizes(database)
            sizes[name] = StoreSizes(
                int(weighed["events"]),
                int(weighed["bytes_per_event"] * weighed["events"]),
                database.stat().st_size,
                {},
            )
        else:
            found = _lake_files(env)
            events = found.files.get("events", (0, 0, 0))
            sizes[name] = StoreSizes(events[2], events[1], found.stored_bytes, found.files)
        print(f"  {sizes[name].events:,} events stored")
        views.append(_time_views(name, env, args.repeat, cached=True))
        if name == "lake":
            views.append(_time_views(name, env, min(args.repeat, 3), cached=False))
    return views, sizes, builds


def _hush(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [str(VENV_BIN / "hush"), *argv], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchmarkFailed(f"hush {' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _build_todays_rollup(processes: Processes, env: dict[str, str]) -> None:
    """hush serve until it has built today's provisional rollup, as ``benchmarks/dashboard``."""
    from queries import _wait_for_todays_rollup

    port = _free_port()
    argv = [str(VENV_BIN / "python"), "-m", "hush.cli", "serve", "--port", str(port)]
    with _server(processes, argv, port=port, ready=("/healthz", 200), env=env):
        print("  ", end="")
        _wait_for_todays_rollup(f"http://127.0.0.1:{port}")


def _time_views(name: str, env: dict[str, str], repeat: int, *, cached: bool) -> ViewTimes:
    """The median time of each view's figures, made in this process as the page makes them
    (``benchmarks/dashboard``'s ``_time_data``); on a lake with or without its rollup cache."""
    from zoneinfo import ZoneInfo

    from aggregator.sites import find_site

    label = name if cached or name != "lake" else "lake, no rollup cache"
    filters = FILTERS if cached else {"unfiltered": ""}
    cells: dict[tuple[str, str], float] = {}
    started = time.monotonic()
    if name == "lake":  # a reader of its own (its own rollup cache); the file has one place
        env = env | {"HUSH_DATA_DIR": env["HUSH_DATA_DIR"] + "-reader"}
    with _opened(env) as store:
        opened = time.monotonic() - started
        if not cached:
            store._read_path = store._write_path  # readers on the lake's own rollups
        site = find_site(store, DEMO_SITE)
        if site is None:
            raise BenchmarkFailed(f"{DEMO_SITE} is not a site of the {name} store")
        now = time.time()
        today = datetime.fromtimestamp(now, ZoneInfo(site.timezone)).date()
        print(f"  {label}: store opened in {opened:.2f} s")
        print(f"  {'view':<12}" + "".join(f"{f:>14}" for f in filters) + "   (median ms, data)")
        for view, period in VIEWS.items():
            row = []
            for flt, extra in filters.items():
                text = period + (f"&{extra}" if extra else "")
                cells[(view, flt)] = median_view_ms(
                    store, site, text, today=today, now=now, repeat=repeat
                )
                row.append(f"{cells[(view, flt)]:>14.0f}")
            print(f"  {view:<12}" + "".join(row), flush=True)
    print()
    return ViewTimes(label, cells)


# -- the report -------------------------------------------------------------------------------


def _print_summary(
    args: argparse.Namespace,
    ingest: list[IngestRun],
    views: list[ViewTimes],
    sizes: dict[str, StoreSizes],
    builds: dict[str, tuple[float, float]],
) -> None:
    print("\nsummary (tables for benchmarks/README.md)\n")
    if ingest:
        _print_ingest_table(args, ingest)
    if views:
        _print_view_tables(args, views, sizes, builds)


def _print_ingest_table(args: argparse.Namespace, ingest: list[IngestRun]) -> None:
    print(
        f"insert rate: wrk {args.connections} connections in all, {args.duration} s measured,"
        f" HUSH_LAKE_COMMIT_INTERVAL={args.commit_interval}, lake data: {args.lake_data}\n"
    )
    print(
        "| store | acknowledged/s | stored/s | commits/s (loads) | catalog B/commit"
        " | CPU µs/event | acknowledged = stored | events B/event (files) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for run in ingest:
        window = run.loaded_seconds
        catalog = f"{run.catalog_bytes / max(run.commits, 1):,.0f}" if run.catalog_bytes else "—"
        print(
            f"| {run.name} | {run.acknowledged_measured / run.measured_seconds:,.0f}"
            f" | {run.loaded_measured / window:,.0f}"
            f" | {run.commits / run.commit_seconds:.2f}"
            f" ({run.load_commits / run.commit_seconds:.2f}) | {catalog}"
            f" | {run.cpu_seconds * 1e6 / run.acknowledged_measured:.0f}"
            f" | {run.acknowledged:,} = {run.stored:,}{'' if run.ok else ' MISMATCH'}"
            f" | {run.events_bytes / max(run.stored, 1):.1f} ({run.events_files:,}) |"
        )


def _print_view_tables(
    args: argparse.Namespace,
    views: list[ViewTimes],
    sizes: dict[str, StoreSizes],
    builds: dict[str, tuple[float, float]],
) -> None:
    print(
        f"\nthe marketing view's data, median ms of {args.repeat}, {args.events:,} demo events"
        f" over {args.days} days\n"
    )
    columns = [(v, f) for v in VIEWS for f in FILTERS]
    print("| store | " + " | ".join(f"{v}, {f}" for v, f in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for times in views:
        cells = [f"{times.cells[c]:.0f}" if c in times.cells else "—" for c in columns]
        print(f"| {times.name} | " + " | ".join(cells) + " |")
    embedded, lake = views[0].cells, views[1].cells
    ratios = {c: lake[c] / embedded[c] for c in columns}
    worst = max(ratios, key=ratios.__getitem__)
    met = "met" if ratios[worst] <= TARGET_RATIO else "NOT met"
    print(
        f"\nlake / embedded: {min(ratios.values()):.2f}–{ratios[worst]:.2f}"
        f" (worst: {worst[0]}, {worst[1]}); target ≤ {TARGET_RATIO:.2f}: {met}"
    )
    print(
        "demo / roll-up seconds: "
        + "; ".join(f"{n} {d:.1f} / {r:.1f}" for n, (d, r) in builds.items())
    )
    e, k = sizes["embedded"], sizes["lake"]
    print("\nbytes per event, the demo data\n")
    print("| store | events | events alone B/event | everything at rest B/event |")
    print("|---|---|---|---|")
    print(
        f"| embedded (hush.duckdb) | {e.events:,} | {e.events_bytes / e.events:.1f}"
        f" | {e.all_bytes / e.events:.1f} |"
    )
    print(
        f"| lake (Parquet under the data path) | {k.events:,} | {k.events_bytes / k.events:.1f}"
        f" | {k.all_bytes / k.events:.1f} |"
    )
    tables = ", ".join(f"{t} {n:,} files {b:,} B" for t, (n, b, _) in sorted(k.files.items()))
    print(f"\nthe lake's live files: {tables}")


if __name__ == "__main__":
    sys.exit(main())
