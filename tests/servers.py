"""Real hush servers for tests: a subprocess running the real CLI, or uvicorn in a thread.

Both listen on 127.0.0.1 on a free port with their own data dir and a salt dir on tmpfs, and
both are reached with real HTTP. The thread server takes a ``ManualClock`` so a test can move
time (never possible in production: only code can hand hush a clock).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from collector.process import ProcessLimits
from hush.admin.operations import run_admin
from hush.app import create_app
from hush.listen import tcp_socket, uvicorn_server
from hush.settings import Settings, load_settings

CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI_IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)


class ManualClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, start: datetime) -> None:
        self._now = start.timestamp()

    def now(self) -> float:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.timestamp()

    def advance(self, seconds: float) -> None:
        self._now += seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def server_environment(root: Path, **extra: str) -> dict[str, str]:
    """Environment for a hush process: its own data dir and tmpfs salt dir, loopback proxy."""
    salt_dir = Path("/dev/shm") / f"hush-test-{uuid.uuid4().hex[:12]}"
    env = {
        "HUSH_DATA_DIR": str(root / "data"),
        "HUSH_SALT_DIR": str(salt_dir),
        "HUSH_TRUSTED_PROXIES": "127.0.0.1",
        "HUSH_SEGMENT_SECONDS": "0.3",
        "HUSH_LOAD_INTERVAL": "0.2",
        # Tests about exact numbers see every figure; the threshold's own tests set it (P7).
        "HUSH_MIN_VISITORS": "1",
        # Today is read from raw events, exact at once; live rollups' own tests turn them on.
        "HUSH_LIVE_ROLLUP_INTERVAL": "0",
    }
    env.update(extra)
    return env


def event_request(
    body: dict[str, Any] | bytes | str,
    ip: str | None,
    user_agent: str,
    content_type: str,
    headers: dict[str, str] | None,
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a browser's event sent through a trusted proxy."""
    all_headers = {"Content-Type": content_type, "User-Agent": user_agent}
    if ip is not None:
        all_headers["X-Forwarded-For"] = ip
    all_headers.update(headers or {})
    if isinstance(body, dict):
        return httpx.Request("POST", "/", json=body).content, all_headers
    return (body.encode() if isinstance(body, str) else body), all_headers


class HushClient:
    """What a test does with a running server: post events, read stats, run the CLI."""

    base_url: str
    env: dict[str, str]
    api_key: str = ""

    @property
    def data_dir(self) -> Path:
        return Path(self.env["HUSH_DATA_DIR"])

    @property
    def salt_dir(self) -> Path:
        return Path(self.env["HUSH_SALT_DIR"])

    def event(
        self,
        body: dict[str, Any] | bytes | str,
        *,
        ip: str | None = "203.0.113.10",
        user_agent: str = CHROME_UA,
        content_type: str = "text/plain",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST /api/event as a browser behind a trusted proxy (``ip`` in X-Forwarded-For)."""
        content, all_headers = event_request(body, ip, user_agent, content_type, headers)
        return httpx.post(f"{self.base_url}/api/event", content=content, headers=all_headers)

    def pageview(self, url: str, *, domain: str = "example.com", **kwargs: Any) -> httpx.Response:
        referrer = kwargs.pop("referrer", None)
        response = self.event({"n": "pageview", "u": url, "d": domain, "r": referrer}, **kwargs)
        assert response.status_code == 202, response.text
        return response

    def stats(self, endpoint: str, *, key: str | None = None, **params: Any) -> httpx.Response:
        key = self.api_key if key is None else key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.get(f"{self.base_url}/api/v1/stats/{endpoint}", params=params, headers=headers)

    def query(self, **body: Any) -> Any:
        """``POST /api/v2/query`` with the test's key; the answer's results."""
        response = httpx.post(
            f"{self.base_url}/api/v2/query",
            json=body,
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def results(self, endpoint: str, **params: Any) -> Any:
        response = self.stats(endpoint, **params)
        assert response.status_code == 200, response.text
        return response.json()["results"]

    def metric(self, name: str, **params: Any) -> int:
        return int(self.results("aggregate", metrics=name, **params)[name]["value"])

    def wait_for_events(
        self, count: int, *, site: str = "example.com", timeout: float = 10.0, **params: Any
    ) -> None:
        """Wait until the Stats API counts ``count`` events today (they load within ~1 s)."""
        wait_until(
            lambda: self.metric("events", site_id=site, period="day", **params) >= count,
            timeout=timeout,
            what=f"{count} events in the Stats API",
        )
        assert self.metric("events", site_id=site, period="day", **params) == count

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "hush.cli", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"hush {' '.join(args)} failed: {done.stderr}")
        return done

    def add_site(self, domain: str) -> None:
        self.cli("sites", "add", domain)

    def add_key(self) -> str:
        self.api_key = self.cli("keys", "add", "--name", "tests").stdout.strip().splitlines()[-1]
        return self.api_key


class ProcessServer(HushClient):
    """``hush serve`` as a subprocess; its stdout and stderr are captured to ``output``."""

    def __init__(self, root: Path, **env: str) -> None:
        self.root = root
        self.port = free_port()
        self.env = server_environment(root, HUSH_PORT=str(self.port), **env)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.output = root / "server-output.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ProcessServer:
        log = self.output.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hush.cli", "serve"],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until(self._healthy, timeout=40, what="the server's /healthz")
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"hush serve exited:\n{self.output.read_text()}")
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=20)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def cleanup(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.salt_dir, ignore_errors=True)


class ThreadServer(HushClient):
    """The app under uvicorn in a thread of the test process, with a clock the test moves (or,
    with ``clock=None``, the real one). Admin operations run in this process, as the admin
    socket runs them (``run_admin`` in a worker thread), without starting a ``hush`` CLI."""

    def __init__(self, root: Path, clock: ManualClock | None, **env: str) -> None:
        self.port = free_port()
        self.env = server_environment(root, HUSH_PORT=str(self.port), **env)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.clock = clock
        self.settings: Settings = load_settings(self.env)
        self.app = create_app(self.settings, clock=clock)
        # uvicorn as ``hush serve`` runs it: hush's protocol, its fast path to the intake.
        self.socket = tcp_socket("127.0.0.1", self.port, share=False)
        self.server = uvicorn_server(
            self.settings,
            self.app,
            limits=ProcessLimits(open_files=4096, dumpable=True),
            intake=self.app.intake,
            observe=self.app.latency["intake"].observe,
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def admin(self, op: str, **args: Any) -> dict[str, Any]:
        """What ``hush <command>`` does through the admin socket, in this process."""
        result = run_admin(self.app.admin_context, op, args)
        self.app.after_admin_change(op)
        return result

    def add_site(self, domain: str) -> None:
        self.admin("sites.add", domain=domain)

    def add_key(self) -> str:
        self.api_key = str(self.admin("keys.add", name="tests")["secret"])
        return self.api_key

    def start(self) -> ThreadServer:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=20, what="uvicorn to start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.socket.close()
        shutil.rmtree(self.salt_dir, ignore_errors=True)


@contextmanager
def running(hush: ProcessServer | ThreadServer, *, site: str | None = None) -> Iterator[None]:
    """A started server with an API key (and ``site`` registered), stopped afterwards."""
    try:
        hush.start()
        if site:
            hush.add_site(site)
        hush.add_key()
        yield
    finally:
        hush.stop()
        if isinstance(hush, ProcessServer):
            hush.cleanup()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


class EventStream:
    """Page views posted to ``base_url`` by ``workers`` threads (each its own address), each
    with a path of its own, until ``stop()`` or until the server goes away; ``acknowledged``
    holds the paths answered 202, the events the server promised to keep."""

    def __init__(self, base_url: str, *, workers: int = 4) -> None:
        self.base_url = base_url
        self.acknowledged: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send, args=(w,)) for w in range(workers)]
        for thread in self._threads:
            thread.start()

    def _send(self, worker: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            n = 0
            while not self._stop.is_set():
                path = f"/w{worker}/{n}"
                n += 1
                body = {"n": "pageview", "u": f"https://example.com{path}", "d": "example.com"}
                try:
                    response = client.post(
                        "/api/event",
                        content=orjson.dumps(body),
                        headers={
                            "Content-Type": "text/plain",
                            "User-Agent": CHROME_UA,
                            "X-Forwarded-For": f"203.0.113.{worker}",
                        },
                    )
                except httpx.TransportError:
                    return  # the server is gone: this event was never acknowledged
                if response.status_code == 202:
                    with self._lock:
                        self.acknowledged.append(path)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
