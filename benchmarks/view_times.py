"""The median time of one marketing view's figures, made in this process as the page makes
them (the same queries on the same four threads): ``benchmarks/dashboard`` and
``benchmarks/lake`` both time views with it. The hush root must be on ``sys.path``."""

from __future__ import annotations

import statistics
import time
from datetime import date
from typing import Any


def median_view_ms(
    store: Any, site: Any, query: str, *, today: date, now: float, repeat: int
) -> float:
    """The median of ``repeat`` makings of ``/sites/<site>?<query>``'s figures (one more
    first, to warm), in milliseconds."""
    from starlette.requests import Request

    from aggregator.queries.prop_keys import first_day
    from dashboard.report import Report
    from dashboard.web.site_view import view_figures
    from dashboard.web.view_state import read_state

    request = Request({"type": "http", "query_string": query.encode(), "headers": []})
    asked = {name: request.query_params.getlist(name) for name in request.query_params}
    state = read_state(asked, today, first_day=first_day(store, site.id))
    report = Report(store, site, state, 3, now)
    times = []
    for n in range(repeat + 1):
        values: dict[str, object] = {}
        started = time.perf_counter()
        view_figures(report, request, f"/sites/{site.domain}", values)
        if n:
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)
