from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.dashboard.conformance.scenario import SITE, START, store_scenario
from tests.harness import Harness, in_process
from tests.servers import ManualClock


@pytest.fixture(scope="module")
def ctl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """The review's replay site with its goals, read-only for the module's tests (k = 1)."""
    clock = ManualClock(START)
    with in_process(tmp_path_factory.mktemp("ctl"), clock=clock, site=SITE) as h:
        for kind, target in (
            ("event", "Signup"),
            ("event", "Purchase"),
            ("event", "some_value"),
            ("page", "/blogpost"),
        ):
            h.admin("goals.add", site=SITE, kind=kind, target=target)
        store_scenario(h, clock)
        yield h
