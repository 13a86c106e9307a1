"""Peak ``POST /api/event`` throughput of ``hush serve``, beside a minimal ASGI app, with wrk.

Run it through ``benchmarks/ingest`` (which installs the bench extra and wrk first):

    benchmarks/ingest [--duration 15] [--connections 64] [--threads 2] [--warmup 3]
                      [--collectors N]

Both targets run in this one invocation, each as its own process on a free 127.0.0.1 port, under
the same uvicorn settings, and get the very same requests from ``benchmarks/event.lua``. For each
it prints requests/s, latency p50 and p99, the server's CPU time per request (utime + stime of
the server process, all threads, over the measured run) and its resident memory at the end. Then
the ratio hush / minimal, and a check that every event hush acknowledged reached DuckDB: once the
loader has caught up, the Stats API and ``/metrics`` must count exactly as many events as wrk
counted 2xx answers (warm-up included; event.lua makes sure no event is in flight when wrk
stops). Exits 1 if they differ or anything fails; every process it started is stopped, Ctrl-C
included, and its temp dirs are removed.

With ``--collectors N`` hush runs as ``hush serve --collectors N``: the server and N - 1
``hush collect`` processes on the one port. Then it also prints, for each process, the events it
took, its CPU time per event and its resident memory at the end. Of hush's settings only
``HUSH_DUCKDB_MEMORY_LIMIT`` and ``HUSH_DUCKDB_THREADS`` pass through from the environment.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import IO, Self

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
VENV_BIN = ROOT / ".venv" / "bin"
LUA_SCRIPT = BENCH / "event.lua"
SITE = "example.com"
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
TARGET_RATIO = 0.45
TARGET_P99_MS = 25.0
GRACE_SECONDS = 2  # wrk runs this much longer than it sends events: time for the last answers


class BenchmarkFailed(Exception):
    """Something went wrong; the message says what, for a person to read."""


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int  # events answered
    sent: int  # events written; sent - requests were still in flight when wrk stopped
    seconds: float  # sending events
    non_2xx: int
    socket_errors: dict[str, int]
    p50_ms: float
    p99_ms: float
    wrk_cpu_seconds: float
    machine_busy_seconds: float  # all CPUs, all processes, while wrk ran
    wall_seconds: float  # wrk's whole run, the extra seconds included

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def acknowledged(self) -> int:
        return self.requests - self.non_2xx

    @property
    def in_flight(self) -> int:
        return self.sent - self.requests


@dataclass(frozen=True, slots=True)
class TargetResult:
    name: str
    wrk: WrkResult
    warmup: WrkResult | None
    cpu_us_per_request: float
    rss_mib: float
    other_cores: float  # CPU the rest of the machine used while wrk ran: noise, if well above 0


def _target(
    name: str, run: WrkResult, warmup: WrkResult | None, cpu: float, rss: float
) -> TargetResult:
    others = run.machine_busy_seconds - cpu - run.wrk_cpu_seconds
    return TargetResult(
        name, run, warmup, cpu * 1e6 / run.requests, rss, max(others, 0) / run.wall_seconds
    )


@dataclass(frozen=True, slots=True)
class ProcessShare:
    """One hush process of a run: what it took and what it cost."""

    role: str  # "hush serve" or "hush collect"
    pid: int
    events: int  # requests to /api/event it answered (every outcome)
    cpu_seconds: float
    rss_mib: float


@dataclass(frozen=True, slots=True)
class Metrics:
    outcomes: dict[str, int]
    loaded: int


# Outcomes answered 202 (so counted by wrk as 2xx) but, by design, not stored.
DROPPED_WITH_202 = frozenset(
    {
        "rate_limited",
        "bot",
        "gpc",
        "dnt",
        "spam_referrer",
        "unknown_site",
        "host_mismatch",
        "bad_forwarded_for",
    }
)


@dataclass(frozen=True, slots=True)
class Verification:
    acknowledged: int
    in_flight: int
    accepted: int
    outcomes: dict[str, int]
    loaded: int
    stored: int
    pageviews: int
    cpu_us_with_backlog: float
    database_bytes: int
    wal_bytes: int
    peak_rss_mib: float  # VmHWM: the most hush held from its start to the last count
    peak_sample: MemorySample  # the highest of the samples taken meanwhile, split by kind

    @property
    def dropped(self) -> int:
        """2xx answers that were drops (202 with X-Hush-Dropped: rate_limited, bot ...)."""
        return sum(n for reason, n in self.outcomes.items() if reason in DROPPED_WITH_202)

    @property
    def ok(self) -> bool:
        counted = self.acknowledged - self.dropped
        return self.in_flight == 0 and self.stored == self.loaded == self.accepted == counted

    @property
    def bytes_per_event(self) -> float:
        return (self.database_bytes + self.wal_bytes) / max(self.stored, 1)


@dataclass(frozen=True, slots=True)
class MemorySample:
    """A process's resident memory at one moment, in MiB (/proc/PID/status)."""

    rss: float = 0.0
    anonymous: float = 0.0  # its heaps, DuckDB's pool: only swap could take these back
    file_backed: float = 0.0  # pages of its libraries' files: the kernel drops and rereads them


class Sampler:
    """Calls ``sample`` every ``interval`` seconds in a thread of its own, from entering the
    ``with`` block to leaving it, or until ``sample`` returns False."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> bool:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.interval) and self.sample():
            pass


class PeakSampler(Sampler):
    """Samples a process's resident memory every ``INTERVAL`` seconds and keeps the highest
    sample: VmHWM tells the peak, not what it was made of."""

    INTERVAL = 0.02

    def __init__(self, pid: int) -> None:
        super().__init__(self.INTERVAL)
        self.peak = MemorySample()
        self._pid = pid

    def sample(self) -> bool:
        try:
            mib = _status_mib(self._pid)
        except OSError:
            return False  # the process is gone
        if mib.get("VmRSS", 0.0) > self.peak.rss:
            self.peak = MemorySample(mib["VmRSS"], mib["RssAnon"], mib["RssFile"])
        return True


class Processes:
    """Every process this benchmark starts, so that all of them are stopped whatever happens."""

    def __init__(self) -> None:
        self._running: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        argv: list[str],
        *,
        output: IO[bytes] | int,
        errors: IO[bytes] | int,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        # A session of its own: Ctrl-C reaches this script only, which then stops them in order.
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=output, stderr=errors, start_new_session=True
        )
        self._running.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], *, timeout: float = 60.0) -> int:
        """SIGTERM (a server then shuts down cleanly), SIGKILL if it lingers; its exit code."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"  pid {proc.pid} ignored SIGTERM for {timeout:.0f} s: killing it")
                proc.kill()
                proc.wait()
        with contextlib.suppress(ValueError):
            self._running.remove(proc)
        return proc.returncode

    def stop_all(self) -> None:
        for proc in reversed(list(self._running)):
            self.stop(proc, timeout=20.0)


def main() -> int:
    args = _parse_args()
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    processes = Processes()
    temp_dirs: list[Path] = []
    try:
        _check_tools()
        _print_header(args)
        minimal = _run_minimal(args, processes)
        _print_target(minimal)
        hush, verification, shares = _run_hush(args, processes, temp_dirs)
        _print_target(hush)
        _print_extra_hush(verification)
        if args.collectors > 1:
            _print_shares(shares, hush.wrk)
        _print_comparison(minimal, hush)
        _print_verification(verification)
        _print_summary(args, minimal, hush, verification, shares)
        if not verification.ok:
            raise BenchmarkFailed("acknowledged and stored events differ (see above)")
        if args.enforce_target and not _target_met(minimal, hush):
            raise BenchmarkFailed("the target (ratio and p99) was not met")
        return 0
    except BenchmarkFailed as exc:
        print(f"\nbenchmark FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: stopping what was started", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
        processes.stop_all()
        for path in temp_dirs:
            shutil.rmtree(path, ignore_errors=True)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/ingest", description=__doc__.split("\n\n", 1)[0]
    )
    parser.add_argument("--duration", type=int, default=15, help="measured seconds (15)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured seconds first (3)")
    parser.add_argument(
        "--agents",
        default="realistic",
        help="distinct user agents: realistic (~20), a number such as 5000, or unique (every "
        "request a new one)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=0,
        help="HUSH_RATE_LIMIT for the run (0, off: wrk's few addresses would be limited)",
    )
    parser.add_argument(
        "--collectors",
        type=int,
        default=1,
        help="run hush serve --collectors N: N processes on the port (1)",
    )
    parser.add_argument(
        "--server-log",
        type=Path,
        help="also keep hush serve's whole log in this file (printed only in part on failure)",
    )
    parser.add_argument(
        "--enforce-target",
        action="store_true",
        help=f"exit 1 unless hush/minimal >= {TARGET_RATIO} and p99 < {TARGET_P99_MS:g} ms",
    )
    args = parser.parse_args()
    if args.duration < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--duration must be >= 1, --warmup >= 0, --threads >= 1")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    if args.collectors < 1:
        parser.error("--collectors must be at least 1")
    return args


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _check_tools() -> None:
    if shutil.which("wrk") is None:
        raise BenchmarkFailed("wrk is not installed (benchmarks/ingest installs it)")
    for name in ("hush", "python"):
        if not (VENV_BIN / name).exists():
            raise BenchmarkFailed(f"{VENV_BIN / name} is missing: run scripts/install bench")
    import importlib.util

    for module in ("uvloop", "httptools"):
        if importlib.util.find_spec(module) is None:
            raise BenchmarkFailed(f"{module} is not installed: hush would not use it either")


# -- the two targets --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: IO[bytes]


@contextlib.contextmanager
def _server(
    processes: Processes,
    argv: list[str],
    *,
    port: int,
    ready: tuple[str, int],
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> Iterator[Server]:
    """A server process, ready once GET ``ready[0]`` answers ``ready[1]``; stopped on exit.
    Its output goes to ``log_path`` if given, else to a temporary file."""
    opened = open(log_path, "w+b") if log_path else tempfile.TemporaryFile()  # noqa: SIM115
    with opened as log:
        proc = processes.start(argv, output=log, errors=subprocess.STDOUT, env=env)
        server = Server(proc, port, log)
        try:
            _wait_ready(server, *ready)
            yield server
        finally:
            code = processes.stop(proc)
        if code not in (0, -signal.SIGTERM):
            raise BenchmarkFailed(f"{argv[0]} exited with {code}:\n{_tail(log)}")


def _run_minimal(args: argparse.Namespace, processes: Processes) -> TargetResult:
    port = _free_port()
    argv = [str(VENV_BIN / "python"), str(BENCH / "minimal_app.py"), "--port", str(port)]
    with _server(processes, argv, port=port, ready=("/", 202)) as server:
        print(f"minimal app: pid {server.proc.pid}, http://127.0.0.1:{port}", flush=True)
        warmup = _wrk(args, port, args.warmup, processes) if args.warmup else None
        before = _cpu_seconds(server.proc.pid)
        result = _wrk(args, port, args.duration, processes)
        cpu = _cpu_seconds(server.proc.pid) - before
        rss = _rss_mib(server.proc.pid)
    return _target("minimal app", result, warmup, cpu, rss)


def _run_hush(
    args: argparse.Namespace, processes: Processes, temp_dirs: list[Path]
) -> tuple[TargetResult, Verification, list[ProcessShare]]:
    data_dir = Path(tempfile.mkdtemp(prefix="hush-bench-data-"))
    temp_dirs.append(data_dir)
    shm = Path("/dev/shm")
    salt_dir = Path(tempfile.mkdtemp(prefix="hush-bench-salts-", dir=shm if shm.is_dir() else None))
    temp_dirs.append(salt_dir)
    env = passed_environment()
    env |= {
        "HUSH_DATA_DIR": str(data_dir),
        "HUSH_SALT_DIR": str(salt_dir),
        "HUSH_TRUSTED_PROXIES": "127.0.0.1",
        "HUSH_RATE_LIMIT": str(args.rate_limit),
        "HUSH_LOG_LEVEL": "warning",
    }
    _hush_cli(["sites", "add", SITE], env)
    key = _hush_cli(["keys", "add", "--name", "bench"], env).strip().splitlines()[-1].strip()
    port = _free_port()
    argv = [str(VENV_BIN / "hush"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--collectors", str(args.collectors)]
    with _server(
        processes, argv, port=port, ready=("/healthz", 200), env=env, log_path=args.server_log
    ) as server:
        pid = server.proc.pid
        print(f"hush serve: pid {pid}, http://127.0.0.1:{port}, data in {data_dir}", flush=True)
        with PeakSampler(pid) as sampler:
            collectors = _wait_for_collectors(server, data_dir / "collectors", args.collectors - 1)
            if collectors:
                print(f"hush collect: pids {', '.join(map(str, collectors))}", flush=True)
            pids = [pid, *collectors]
            warmup = None
            if args.warmup:
                warmup = _wrk(args, port, args.warmup, processes)
                _wait_loaded(server)
            before = {p: _cpu_seconds(p) for p in pids}
            taken_before = _taken(data_dir / "collectors", collectors)
            result = _wrk(args, port, args.duration, processes)
            cpus = {p: _cpu_seconds(p) - before[p] for p in pids}
            rsses = {p: _rss_mib(p) for p in pids}
            taken = _taken(data_dir / "collectors", collectors)
            cpu, rss = sum(cpus.values()), sum(rsses.values())
            metrics = _wait_loaded(server)
            cpu_with_backlog = sum(_cpu_seconds(p) - before[p] for p in pids)
            events, pageviews = _wait_for_todays_rollup(server, key, metrics.loaded)
            peak = _rss_mib(pid, "VmHWM")
    runs = [run for run in (warmup, result) if run is not None]
    database = data_dir / "hush.duckdb"
    wal = data_dir / "hush.duckdb.wal"
    verification = Verification(
        acknowledged=sum(run.acknowledged for run in runs),
        in_flight=sum(run.in_flight for run in runs),
        accepted=metrics.outcomes.get("accepted", 0),
        outcomes=metrics.outcomes,
        loaded=metrics.loaded,
        stored=events,
        pageviews=pageviews,
        cpu_us_with_backlog=cpu_with_backlog * 1e6 / result.requests,
        database_bytes=database.stat().st_size if database.exists() else 0,
        wal_bytes=wal.stat().st_size if wal.exists() else 0,
        peak_rss_mib=peak,
        peak_sample=sampler.peak,
    )
    target = _target("hush serve", result, warmup, cpu, rss)
    theirs = {p: taken[p] - taken_before[p] for p in collectors}
    shares = [
        ProcessShare(
            "hush serve", pid, result.requests - sum(theirs.values()), cpus[pid], rsses[pid]
        ),
        *(ProcessShare("hush collect", p, theirs[p], cpus[p], rsses[p]) for p in collectors),
    ]
    return target, verification, shares


def _wait_for_collectors(server: Server, sockets: Path, count: int) -> list[int]:
    """The pids of the server's ``count`` collector processes, once each answers its socket."""
    deadline = time.monotonic() + 60
    while True:
        _check_alive(server)
        found = sorted(sockets.glob("*.sock")) if sockets.is_dir() else []
        ready = [int(path.stem) for path in found if _unix_get(path, "/healthz")[0] == 200]
        if len(ready) >= count:
            return ready[:count]
        if time.monotonic() > deadline:
            raise BenchmarkFailed(f"{len(ready)} of {count} collector processes started in 60 s")
        time.sleep(0.1)


def _taken(sockets: Path, pids: list[int]) -> dict[int, int]:
    """Requests to /api/event each collector process answered so far (its own /metrics)."""
    taken = {}
    for pid in pids:
        status, body = _unix_get(sockets / f"{pid}.sock", "/metrics")
        if status != 200:
            raise BenchmarkFailed(f"collector {pid} did not answer its socket ({status})")
        counts = re.findall(rb'^hush_intake_requests_total\{outcome="\w+"\} (\d+)$', body, re.M)
        taken[pid] = sum(int(n) for n in counts)
    return taken


def _unix_get(path: Path, target: str) -> tuple[int, bytes]:
    """GET ``target`` over the Unix socket ``path``: (status, body), or (0, b"") if unreachable."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(path))
            sock.sendall(
                f"GET {target} HTTP/1.1\r\nhost: hush\r\nconnection: close\r\n\r\n".encode()
            )
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    except OSError:
        return 0, b""
    head, _, body = answer.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0), body


def _hush_cli(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(VENV_BIN / "hush"), *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise BenchmarkFailed(f"hush {' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


# -- wrk --------------------------------------------------------------------------------------


def _wrk(args: argparse.Namespace, port: int, seconds: int, processes: Processes) -> WrkResult:
    argv = [
        "wrk",
        f"--threads={args.threads}",
        f"--connections={args.connections}",
        f"--duration={seconds + GRACE_SECONDS}s",
        "--timeout=10s",  # slower answers would drop out of the latency histogram
        "--latency",
        f"--script={LUA_SCRIPT}",
        f"http://127.0.0.1:{port}/api/event",
        "--",
        SITE,
        str(seconds),
        args.agents,
    ]
    children_before = _children_cpu_seconds()
    busy_before = _machine_busy_seconds()
    started = time.monotonic()
    proc = processes.start(argv, output=subprocess.PIPE, errors=subprocess.PIPE)
    out, err = proc.communicate(timeout=seconds + GRACE_SECONDS + 120)
    processes.stop(proc)
    wall = time.monotonic() - started
    busy = _machine_busy_seconds() - busy_before
    wrk_cpu = _children_cpu_seconds() - children_before
    text = out.decode(errors="replace")
    match = re.search(r"^BENCH (\{.*\})$", text, re.MULTILINE)
    if proc.returncode != 0 or match is None:
        raise BenchmarkFailed(
            f"wrk failed (exit {proc.returncode}):\n{text}{err.decode(errors='replace')}"
        )
    data = json.loads(match.group(1))
    if data["requests"] == 0:
        raise BenchmarkFailed(f"wrk got no answer at all:\n{text}")
    errors = data["errors"]
    return WrkResult(
        requests=data["requests"],
        sent=data["sent"],
        seconds=seconds,
        non_2xx=errors["status"],
        socket_errors={k: errors[k] for k in ("connect", "read", "write", "timeout")},
        p50_ms=data["latency_us"]["p50"] / 1000,
        p99_ms=data["latency_us"]["p99"] / 1000,
        wrk_cpu_seconds=wrk_cpu,
        machine_busy_seconds=busy,
        wall_seconds=wall,
    )


# -- the servers ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http_get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _wait_ready(server: Server, path: str, status: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _check_alive(server)
        with contextlib.suppress(OSError):
            if _http_get(server.port, path)[0] == status:
                return
        time.sleep(0.1)
    raise BenchmarkFailed(f"the server did not become ready in 60 s:\n{_tail(server.log)}")


def _check_alive(server: Server) -> None:
    if server.proc.poll() is not None:
        raise BenchmarkFailed(
            f"the server exited with {server.proc.returncode}:\n{_tail(server.log)}"
        )


def _read_metrics(port: int) -> Metrics:
    status, body = _http_get(port, "/metrics")
    if status != 200:
        raise BenchmarkFailed(f"GET /metrics answered {status}: {body[:300]!r}")
    outcomes: dict[str, int] = {}
    loaded = None
    for line in body.decode().splitlines():
        if match := re.fullmatch(r'hush_intake_requests_total\{outcome="(\w+)"\} (\d+)', line):
            outcomes[match.group(1)] = int(match.group(2))
        elif match := re.fullmatch(r"hush_loaded_events_total (\d+)", line):
            loaded = int(match.group(1))
    if loaded is None:
        raise BenchmarkFailed("GET /metrics has no hush_loaded_events_total")
    return Metrics(outcomes, loaded)


def _wait_loaded(server: Server) -> Metrics:
    """Wait until the loader has loaded every accepted event (or 60 s have gone by)."""
    deadline = time.monotonic() + 60
    previous = None
    while True:
        _check_alive(server)
        metrics = _read_metrics(server.port)
        if metrics.loaded >= metrics.outcomes.get("accepted", 0) and metrics == previous:
            return metrics  # and nothing moved in the last 0.2 s: no request was still running
        if time.monotonic() > deadline:
            print(
                f"  the loader did not catch up in 60 s: {metrics.loaded} of "
                f"{metrics.outcomes.get('accepted', 0)} accepted events loaded"
            )
            return metrics
        previous = metrics
        time.sleep(0.2)


# A rebuild of today's rollup that took t seconds waits 10 t before the next (the server's
# MaintenanceThread.LIVE_SHARE_INVERSE): the next begins within 11 t of the last one's start.
LIVE_REBUILD_SPACING = 11


def _live_rollup(port: int) -> tuple[int, float]:
    """Rebuilds of today's rollup so far, and the seconds the last one took."""
    _, body = _http_get(port, "/metrics")
    passes = re.search(rb"^hush_live_rollup_passes_total (\d+)$", body, re.M)
    seconds = re.search(rb"^hush_live_rollup_seconds ([0-9.]+)$", body, re.M)
    return int(passes.group(1)) if passes else 0, float(seconds.group(1)) if seconds else 0.0


def _wait_for_todays_rollup(server: Server, key: str, loaded: int) -> tuple[int, int]:
    """The events and page views the Stats API counts, once today's rollup has been rebuilt
    since everything was loaded (its memory is part of the run's) and counts every ``loaded``
    event.

    The API reads today's provisional rollup, which lags the loader by design: a refresh that
    began before the last load misses some. So it waits for the first refresh from now and,
    if that one's count is short, for the second (which began after), however long the server
    spaces them, and answers what is counted then."""
    passes, _ = _live_rollup(server.port)
    started = time.monotonic()
    counted: tuple[int, int] | None = None
    counted_after = passes
    while True:
        _check_alive(server)
        done, seconds = _live_rollup(server.port)
        # Asked once per finished refresh, not per poll: a day's raw events, read while its
        # rollup holds most of DuckDB's memory, may need more than the limit (the API answers
        # 503 then), and the key may ask 600 times an hour (a long wait would be answered 429).
        if done > counted_after:
            counted, counted_after = _stats_count(server.port, key), done
        if counted and (counted[0] == loaded or done >= passes + 2):
            return counted
        if time.monotonic() - started > 300 + 2 * LIVE_REBUILD_SPACING * seconds:
            waited = time.monotonic() - started
            print(f"  today's rollup was not rebuilt twice in {waited:.0f} s; the server's log:")
            print(textwrap.indent(_tail(server.log), "    "))
            return counted or _stats_count(server.port, key)
        time.sleep(0.5)


def _stats_count(port: int, key: str) -> tuple[int, int]:
    """Events and page views the Stats API counts for the site (a range around today, UTC)."""
    today = datetime.now(UTC).date()
    dates = f"{today - timedelta(days=1)},{today + timedelta(days=1)}"
    path = (
        f"/api/v1/stats/aggregate?site_id={SITE}&period=custom&date={dates}"
        "&metrics=events,pageviews"
    )
    status, body = _http_get(port, path, {"Authorization": f"Bearer {key}"})
    if status != 200:
        raise BenchmarkFailed(f"the Stats API answered {status}: {body[:300]!r}")
    results = json.loads(body)["results"]
    return int(results["events"]["value"]), int(results["pageviews"]["value"])


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def passed_environment() -> dict[str, str]:
    """This environment for a benchmarked hush: of hush's settings only DuckDB's
    (``HUSH_DUCKDB_MEMORY_LIMIT``, ``HUSH_DUCKDB_THREADS``) pass through."""
    return {k: v for k, v in os.environ.items() if not k.startswith("HUSH_") or "_DUCKDB_" in k}


def _status_mib(pid: int) -> dict[str, float]:
    """The memory figures of /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile ...), in MiB."""
    mib = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if value.endswith(" kB"):
            mib[name] = int(value.split()[0]) / 1024
    return mib


def _rss_mib(pid: int, field: str = "VmRSS") -> float:
    mib = _status_mib(pid)
    if field not in mib:
        raise BenchmarkFailed(f"no {field} in /proc/{pid}/status")
    return mib[field]


def _machine_busy_seconds() -> float:
    """CPU seconds all processes used so far, all CPUs together (from /proc/stat)."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / CLOCK_TICK  # user .. steal; guest time is inside user


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tail(log: IO[bytes], lines: int = 30) -> str:
    log.seek(0)
    text = log.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


# -- the report -------------------------------------------------------------------------------


def _print_header(args: argparse.Namespace) -> None:
    import uvicorn

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first = (wrk_version.stdout or wrk_version.stderr).splitlines()
    print(f"hush ingest benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {os.cpu_count()} CPUs ({_cpu_model()}), Linux {platform.release()}; "
        "wrk shares the cores with the server"
    )
    print(
        f"Python {platform.python_version()}, uvicorn {uvicorn.__version__} (uvloop, httptools), "
        f"{first[0].split(' Copyright')[0] if first else 'wrk'}"
    )
    print(
        f"wrk: {args.threads} threads, {args.connections} connections, {args.warmup} s warm-up "
        f"(not measured), {args.duration} s measured, script {LUA_SCRIPT.relative_to(ROOT)}\n"
    )


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split())
    return platform.machine()


def _print_target(target: TargetResult) -> None:
    run = target.wrk
    errors = ", ".join(f"{k} {v}" for k, v in run.socket_errors.items() if v) or "none"
    print(f"  requests/s             {run.rate:,.0f}  ({run.requests:,} in {run.seconds:.2f} s)")
    print(f"  latency p50 / p99      {run.p50_ms:.2f} ms / {run.p99_ms:.2f} ms")
    print(f"  server CPU / request   {target.cpu_us_per_request:.1f} µs")
    print(f"  server RSS at the end  {target.rss_mib:.1f} MiB")
    print(f"  wrk CPU / request      {run.wrk_cpu_seconds * 1e6 / run.requests:.1f} µs")
    print(f"  other processes' CPU   {target.other_cores:.2f} cores (noise if well above 0)")
    print(f"  non-2xx answers        {run.non_2xx:,}; socket errors: {errors}\n", flush=True)


def _print_extra_hush(verification: Verification) -> None:
    print(
        "  server CPU / request, with loading the backlog after the run: "
        f"{verification.cpu_us_with_backlog:.1f} µs"
    )
    print(
        "  server RSS at its peak (start to the last count, loading and rollups included): "
        f"{verification.peak_rss_mib:.1f} MiB"
    )
    sample = verification.peak_sample
    print(
        f"    sampled every {PeakSampler.INTERVAL * 1000:.0f} ms, at its highest {sample.rss:.1f}"
        f" MiB: anonymous {sample.anonymous:.1f} (heaps, DuckDB's pool), file-backed"
        f" {sample.file_backed:.1f} (the code of DuckDB and the other libraries)\n"
    )


def _print_shares(shares: list[ProcessShare], run: WrkResult) -> None:
    print("  each process (CPU over the measured run, all its threads; RSS at its end):")
    for share in shares:
        own = share.cpu_seconds * 1e6 / max(share.events, 1)
        every = share.cpu_seconds * 1e6 / run.requests
        print(
            f"    {share.role:<12} pid {share.pid:<7} {share.events:>9,} events "
            f"({share.events / run.requests:5.1%})  {share.cpu_seconds / run.seconds:4.2f} cores  "
            f"{own:6.1f} µs per own event, {every:6.1f} µs per event of all  "
            f"RSS {share.rss_mib:5.1f} MiB"
        )
    print()


def _target_met(minimal: TargetResult, hush: TargetResult) -> bool:
    return hush.wrk.rate / minimal.wrk.rate >= TARGET_RATIO and hush.wrk.p99_ms < TARGET_P99_MS


def _print_comparison(minimal: TargetResult, hush: TargetResult) -> None:
    ratio = hush.wrk.rate / minimal.wrk.rate
    met = "met" if _target_met(minimal, hush) else "NOT met"
    print(f"hush / minimal requests/s: {ratio:.2f}")
    print(
        f"target (ratio >= {TARGET_RATIO}, hush p99 < {TARGET_P99_MS:g} ms): {met} "
        f"(ratio {ratio:.2f}, p99 {hush.wrk.p99_ms:.2f} ms)\n"
    )


def _print_verification(v: Verification) -> None:
    others = {k: n for k, n in v.outcomes.items() if k != "accepted" and n}
    print("every acknowledged event stored?")
    print(f"  acknowledged: 2xx answers wrk counted (warm-up included)  {v.acknowledged:,}")
    print(f"  accepted by hush (/metrics, outcome accepted)             {v.accepted:,}")
    if others:
        print(f"  not accepted by hush (/metrics, by outcome)               {others}")
    print(f"  loaded into DuckDB (/metrics, hush_loaded_events_total)   {v.loaded:,}")
    print(f"  stored: events the Stats API counts                       {v.stored:,}")
    print(f"  (of which page views                                      {v.pageviews:,})")
    if v.in_flight:
        print(
            f"  INCONCLUSIVE: {v.in_flight:,} events were still in flight when wrk stopped "
            f"(an answer took over {GRACE_SECONDS} s), so counts cannot match exactly"
        )
    elif v.ok and v.dropped:
        print(f"  OK: acknowledged - dropped ({v.dropped:,}) = stored = {v.stored:,}")
    elif v.ok:
        print(f"  OK: acknowledged = stored = {v.stored:,}")
    else:
        print(f"  MISMATCH: stored - acknowledged = {v.stored - v.acknowledged:+,}")
    wal = f" + WAL {v.wal_bytes:,} B" if v.wal_bytes else ", no WAL left"
    print(
        f"  on disk after stopping: hush.duckdb {v.database_bytes:,} B{wal}, "
        f"{v.bytes_per_event:.1f} bytes per stored event\n"
    )


def _print_summary(
    args: argparse.Namespace,
    minimal: TargetResult,
    hush: TargetResult,
    v: Verification,
    shares: list[ProcessShare],
) -> None:
    """The figures again, as the header and one row of the table in benchmarks/README.md."""
    m, h = minimal.wrk, hush.wrk
    columns = [
        ("date", f"{datetime.now(UTC):%Y-%m-%d}"),
        ("wrk", f"-t{args.threads} -c{args.connections} -d{args.duration}s"),
        ("minimal req/s", f"{m.rate:,.0f}"),
        ("hush req/s", f"{h.rate:,.0f}"),
        ("ratio", f"{h.rate / m.rate:.2f}"),
        ("p50 min / hush (ms)", f"{m.p50_ms:.2f} / {h.p50_ms:.2f}"),
        ("p99 min / hush (ms)", f"{m.p99_ms:.2f} / {h.p99_ms:.2f}"),
        (
            "CPU µs/req min / hush",
            f"{minimal.cpu_us_per_request:.0f} / {hush.cpu_us_per_request:.0f}",
        ),
        (
            "RSS MiB min / hush (hush peak)",
            f"{minimal.rss_mib:.0f} / {hush.rss_mib:.0f} ({v.peak_rss_mib:.0f})",
        ),
        ("bytes/event", f"{v.bytes_per_event:.1f}"),
        (
            "acknowledged / stored",
            f"{v.acknowledged:,} / {v.stored:,}" + ("" if v.ok else " MISMATCH"),
        ),
        ("other load (cores)", f"{minimal.other_cores:.2f} / {hush.other_cores:.2f}"),
    ]
    if args.collectors > 1:
        columns[1:1] = [("collectors", str(args.collectors))]
        columns += [
            (
                "per process: events, CPU µs/own event, RSS MiB",
                "; ".join(
                    f"{share.role.split()[1]} {share.events:,}, "
                    f"{share.cpu_seconds * 1e6 / max(share.events, 1):.0f}, {share.rss_mib:.0f}"
                    for share in shares
                ),
            )
        ]
    print("summary (a row for the table in benchmarks/README.md)")
    print("| " + " | ".join(name for name, _ in columns) + " |")
    print("|" + "---|" * len(columns))
    print("| " + " | ".join(value for _, value in columns) + " |")


if __name__ == "__main__":
    sys.exit(main())
