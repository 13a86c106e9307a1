"""More than one collector process (``hush collect``, ``hush serve --collectors N``).

Real processes on 127.0.0.1 sharing one data dir and one salt dir, real HTTP, the real DuckDB
file read after the server stopped. A ``hush collect`` on a port of its own shows what one
collector process does (the test then knows which process answered); ``--collectors 2`` shows
the shared port, the forwarding of everything else, and the supervisor.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aggregator.store import Store
from tests.servers import CHROME_UA, ProcessServer, free_port, running, wait_until

pytestmark = pytest.mark.server

PAGEVIEW = {"n": "pageview", "u": "https://example.com/pricing", "d": "example.com"}


class Collector:
    """``hush collect`` as a subprocess beside ``main``, on a port of its own unless told."""

    def __init__(self, main: ProcessServer, *, port: int | None = None, **env: str) -> None:
        self.port = port or free_port()
        self.env = {**main.env, "HUSH_PORT": str(self.port), **env}
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.output = main.root / f"collector-{self.port}.log"
        log = self.output.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hush.cli", "collect"],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.control = Path(self.env["HUSH_DATA_DIR"]) / "collectors" / f"{self.process.pid}.sock"
        wait_until(self._ready, timeout=20, what="hush collect to listen")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"hush collect exited:\n{self.output.read_text()}")
        return self.control.exists() and own(self.control, "/healthz").status_code == 200

    def event(self, body: dict[str, object], *, ip: str = "203.0.113.10") -> httpx.Response:
        headers = {"Content-Type": "text/plain", "User-Agent": CHROME_UA, "X-Forwarded-For": ip}
        return httpx.post(f"{self.base_url}/api/event", json=body, headers=headers)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)


def own(control: Path, path: str) -> httpx.Response:
    """GET ``path`` from one collector process, on its own socket."""
    transport = httpx.HTTPTransport(uds=str(control))
    with httpx.Client(transport=transport, base_url="http://collector") as client:
        return client.get(path)


def intake_counts(data_dir: Path) -> dict[str, int]:
    """The security counters as they reached DuckDB (read once the server has stopped)."""
    store = Store(data_dir / "hush.duckdb")
    try:
        with store.read() as cur:
            rows = cur.execute(
                "SELECT reason, sum(n)::BIGINT FROM intake_counts GROUP BY reason"
            ).fetchall()
    finally:
        store.close()
    return {reason: n for reason, n in rows}


@pytest.fixture
def main(tmp_path: Path) -> Iterator[ProcessServer]:
    hush = ProcessServer(tmp_path)
    with running(hush, site="example.com"):
        yield hush


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProcessServer, Collector]]:
    """A server and a collector on a port of its own, for tests that count nothing exact."""
    hush = ProcessServer(tmp_path_factory.mktemp("pair"))
    with running(hush, site="example.com"):
        collector = Collector(hush)
        try:
            yield hush, collector
        finally:
            collector.stop()


def test_a_collector_process_never_loads_the_store_the_query_engine_or_the_dashboard() -> None:
    probe = (
        "import sys; from hush.collector_app import create_collector_app; import hush.cli;"
        " import hush.listen, hush.supervisor;"
        " print(sorted({m.split('.')[0] for m in sys.modules} & {'duckdb', 'dashboard',"
        " 'pyarrow', 'jinja2', 'argon2'}), 'aggregator.queries' in sys.modules,"
        " 'aggregator.store' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["[]", "False", "False"]


def test_one_person_through_two_processes_is_one_visitor_and_every_count_adds_up(
    main: ProcessServer,
) -> None:
    collector = Collector(main)
    try:
        assert collector.event(PAGEVIEW).status_code == 202
        main.pageview("https://example.com/pricing")  # the same address and agent, via main
        assert collector.event(PAGEVIEW, ip="198.51.100.7").status_code == 202
        bot = httpx.post(
            f"{collector.base_url}/api/event",
            json=PAGEVIEW,
            headers={"Content-Type": "text/plain", "User-Agent": "Googlebot/2.1"},
        )
        assert bot.headers["x-hush-dropped"] == "bot"
        main.wait_for_events(3)
        assert main.metric("visitors", site_id="example.com", period="day") == 2
        # /metrics at the server's URL adds up every process's intake.
        text = httpx.get(f"{main.base_url}/metrics").text
        assert 'hush_intake_requests_total{outcome="accepted"} 3' in text
        assert 'hush_intake_requests_total{outcome="bot"} 1' in text
        collector.stop()  # its last segment closes with its counters
        main.wait_for_events(3)
        wait_until(lambda: not list((main.data_dir / "spool").glob("*")), what="an empty spool")
    finally:
        collector.stop()
    main.stop()
    assert intake_counts(main.data_dir) == {"accepted": 3, "bot": 1}


def test_a_collector_answers_the_dashboard_and_the_stats_api_through_the_main_process(
    pair: tuple[ProcessServer, Collector],
) -> None:
    main, collector = pair
    login = httpx.get(f"{collector.base_url}/login")
    assert login.status_code == 200
    assert login.headers["content-security-policy"].startswith("default-src 'none'")
    stats = httpx.get(
        f"{collector.base_url}/api/v1/stats/aggregate",
        params={"site_id": "example.com", "period": "day"},
        headers={"Authorization": f"Bearer {main.api_key}"},
    )
    assert stats.status_code == 200
    assert stats.json() == main.stats("aggregate", site_id="example.com", period="day").json()
    assert httpx.get(f"{collector.base_url}/healthz").json()["status"] == "ok"
    assert httpx.get(f"{collector.base_url}/js/hush.js").status_code == 200
    assert httpx.get(f"{collector.base_url}/no-such-page").status_code == 404
    # A form post goes through with its body, and is answered as the server answers it.
    form = {"email": "nobody@example.com", "password": "not the password at all"}
    direct = httpx.post(f"{main.base_url}/login", data=form, headers={"Origin": main.base_url})
    forwarded = httpx.post(
        f"{collector.base_url}/login", data=form, headers={"Origin": collector.base_url}
    )
    assert (forwarded.status_code, forwarded.text) == (direct.status_code, direct.text)


def test_a_site_added_while_a_collector_runs_is_counted_by_it_within_seconds(
    pair: tuple[ProcessServer, Collector],
) -> None:
    main, collector = pair
    other = {**PAGEVIEW, "u": "https://shop.example/", "d": "shop.example"}
    assert collector.event(other).headers["x-hush-dropped"] == "unknown_site"
    main.cli("sites", "add", "shop.example")
    wait_until(
        lambda: "x-hush-dropped" not in collector.event(other).headers,
        timeout=5,
        what="the collector to read the new sites snapshot",
    )


def test_killing_a_collector_loses_no_acknowledged_event(main: ProcessServer) -> None:
    # Its segment stays open for a minute: the events are only in the .open file when it dies.
    collector = Collector(main, HUSH_SEGMENT_SECONDS="60")
    for n in range(20):
        response = collector.event(PAGEVIEW, ip=f"203.0.113.{n + 1}")
        assert response.status_code == 202 and "x-hush-dropped" not in response.headers
    assert list((main.data_dir / "spool").glob("*.open"))
    collector.process.kill()
    collector.process.wait(timeout=10)
    main.wait_for_events(20)  # the loader took the orphaned segment once its flock was free


def test_serve_with_two_collectors_shares_the_port_and_restarts_a_collector_that_dies(
    tmp_path: Path,
) -> None:
    hush = ProcessServer(tmp_path, HUSH_COLLECTORS="2")
    with running(hush, site="example.com"):
        sockets = hush.data_dir / "collectors"
        first = wait_until(lambda: list(sockets.glob("*.sock")), what="the collector's socket")
        child = int(first[0].stem)
        wait_until(lambda: own(first[0], "/healthz").status_code == 200, what="the collector")
        # Fresh connections: the kernel spreads them over both processes.
        for n in range(30):
            hush.pageview("https://example.com/", ip=f"198.51.100.{n + 1}")
            assert httpx.get(f"{hush.base_url}/login").status_code == 200
        hush.wait_for_events(30)
        theirs = own(first[0], "/metrics").text
        taken = int(theirs.split('outcome="accepted"} ')[1].split()[0])
        assert 0 < taken < 30, "both processes took events"

        os.kill(child, signal.SIGKILL)
        wait_until(
            lambda: [p for p in sockets.glob("*.sock") if p.stem != str(child)],
            timeout=15,
            what="the supervisor to start the collector again",
        )
        assert f"collector 1 (pid {child}) exited with signal SIGKILL" in hush.output.read_text()
        assert not (sockets / f"{child}.sock").exists()
        restarted = int(next(iter(sockets.glob("*.sock"))).stem)
    # Stopping the server stops its collectors.
    wait_until(lambda: not _alive(restarted), timeout=15, what="the collector to stop")


def test_collectors_die_with_their_server_even_when_it_is_killed(tmp_path: Path) -> None:
    hush = ProcessServer(tmp_path, HUSH_COLLECTORS="2")
    try:
        hush.start()
        sockets = hush.data_dir / "collectors"
        child = int(wait_until(lambda: list(sockets.glob("*.sock")), what="a collector")[0].stem)
        hush.kill()
        wait_until(lambda: not _alive(child), timeout=10, what="the orphaned collector to exit")
    finally:
        hush.cleanup()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
