"""Two real ``hush serve`` nodes on one lake, as an operator runs them behind a load balancer:
a person seen through both is one visitor; both answer the Stats API and the dashboard alike;
a node killed with SIGKILL while it loads loses no acknowledged event; and when the node that
maintains the lake dies, the other takes over."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.lakes import lake_env
from tests.servers import EventStream, ProcessServer, wait_until

pytestmark = pytest.mark.server

PASSWORD = "two nodes, one lake, one password"


def node(root: Path, lake: dict[str, str]) -> ProcessServer:
    return ProcessServer(root, HUSH_MAINTENANCE_INTERVAL="1", **lake)


def health(server: ProcessServer) -> dict[str, object]:
    return dict(httpx.get(f"{server.base_url}/healthz", timeout=5).json())


@pytest.fixture
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[ProcessServer]]:
    lake = lake_env(request, tmp_path)
    servers = [node(tmp_path / name, lake) for name in ("a", "b")]
    for server in servers:
        server.root.mkdir()
    try:
        for server in servers:
            server.start()
        servers[0].add_site("example.com")
        servers[0].add_key()
        servers[1].api_key = servers[0].api_key
        # The other node's intake knows the site once its sites snapshot does (it reads the
        # lake's sites every second, and reloads the snapshot right after writing it); until
        # then it drops the site's events as unknown_site. Its Stats API, which reads the
        # catalog itself, answers sooner: waiting for that alone let events be sent too early.
        wait_until(
            lambda: "example.com" in sites_snapshot(servers[1]), what="the site on the other node"
        )
        time.sleep(1.5)  # one more pass of that loop: the reload follows the write
        yield servers
    finally:
        for server in servers:
            server.stop()
            server.cleanup()


def sites_snapshot(server: ProcessServer) -> str:
    path = server.data_dir / "sites.json"
    return path.read_text() if path.exists() else ""


def log_in(server: ProcessServer) -> httpx.Client:
    client = httpx.Client(base_url=server.base_url, follow_redirects=False)
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]*)"', page.text)
    form = {"email": "ana@example.com", "password": PASSWORD, "next": "/"}
    if csrf:
        form["csrf"] = csrf.group(1)
    answer = client.post("/login", data=form, headers={"Origin": server.base_url})
    assert answer.status_code == 303, answer.text
    return client


def test_two_nodes_count_a_person_once_and_answer_alike(pair: list[ProcessServer]) -> None:
    one, two = pair
    # The same person (address and browser) through both nodes, as a load balancer spreads
    # their requests: the nodes share the day's salt, so it is one visitor.
    wait_until(lambda: two.stats("aggregate", site_id="example.com").status_code == 200)
    for n, server in enumerate((one, two, one, two)):
        server.pageview(f"https://example.com/page{n}", ip="198.51.100.20")
    two.pageview("https://example.com/other", ip="198.51.100.99")
    span = {"site_id": "example.com", "period": "day"}
    wait_until(lambda: one.metric("pageviews", **span) == 5, timeout=20, what="5 page views")
    assert one.metric("visitors", **span) == 2
    for endpoint, params in [
        ("aggregate", {"metrics": "visitors,visits,pageviews,bounce_rate"}),
        ("breakdown", {"property": "event:page"}),
        ("timeseries", {"period": "7d"}),
    ]:
        asked = {**span, **params}
        assert one.results(endpoint, **asked) == two.results(endpoint, **asked)
    # A person made on one node logs in on the other; both dashboards show the same figures.
    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "hush.cli",
            "users",
            "add",
            "ana@example.com",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input=PASSWORD,
        env={**os.environ, **one.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    exports = []
    for server in (one, two):
        client = log_in(server)
        answer = client.get("/sites/example.com/pages.csv", params={"period": "day"})
        client.close()
        assert answer.status_code == 200, answer.text
        exports.append(answer.text)
    assert exports[0] == exports[1] and "/page0" in exports[0]


def test_a_killed_node_loses_no_event_and_the_other_takes_over_maintenance(
    pair: list[ProcessServer],
) -> None:
    one, two = pair
    wait_until(
        lambda: sum(bool(health(s).get("maintenance_leader")) for s in pair) == 1,
        timeout=20,
        what="one maintenance leader",
    )
    leader, other = (one, two) if health(one)["maintenance_leader"] else (two, one)
    stream = EventStream(leader.base_url, workers=3)
    acknowledged = stream.acknowledged

    # Let it load a few times (every second on a lake node here), then kill it mid-stream.
    wait_until(lambda: len(acknowledged) > 600, timeout=30, what="a stream of events")
    leader.kill()
    stream.stop()
    # The lock died with its connection: the other node maintains the lake now.
    wait_until(
        lambda: health(other).get("maintenance_leader") is True,
        timeout=15,
        what="the other node to take over maintenance",
    )
    metrics = httpx.get(f"{other.base_url}/metrics", timeout=5).text
    assert "hush_lake_maintenance_leader 1" in metrics
    # The killed node comes back on its spool and loads what it had acknowledged, once.
    leader.start()
    span = {"site_id": "example.com", "period": "day"}
    wait_until(
        lambda: other.metric("pageviews", **span) >= len(acknowledged),
        timeout=30,
        what=f"{len(acknowledged)} acknowledged page views",
    )
    # Each acknowledged event once. An event in flight when the node died may be stored
    # unacknowledged (written, its answer never sent): one a worker at most, never twice.
    stored = _page_views(other)
    missing = [path for path in acknowledged if path not in stored]
    twice = {path: n for path, n in stored.items() if n > 1}
    unacknowledged = set(stored) - set(acknowledged)
    assert missing == []
    assert twice == {}
    assert len(unacknowledged) <= 3, unacknowledged


def _page_views(hush: ProcessServer) -> dict[str, int]:
    """Today's page views per page, from the Stats API, every page of the breakdown."""
    views: dict[str, int] = {}
    for page in range(1, 100):
        rows = hush.results(
            "breakdown",
            site_id="example.com",
            period="day",
            property="event:page",
            metrics="pageviews",
            limit=1000,
            page=page,
        )
        if not rows:
            return views
        views |= {row["page"]: int(row["pageviews"]) for row in rows}
    raise AssertionError("more than 99,000 pages")
