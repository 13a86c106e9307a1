"""The traffic model as DuckDB reads it: weighted lookup tables and the insert's parameters."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from collector.channels import acquisition
from collector.scrub import PageUrl, scrub_page_url, scrub_referrer
from collector.sites import Site
from collector.sources import SourceTable
from demo.traffic import ARRIVALS, COUNTRIES, DROPS, FILES, HOURS, PATHS, PLANS, SOFTWARE

SLOTS = 1000  # lookup tables map floor(u * SLOTS) to a row, in proportion to its weight


def lookup_tables(site: Site) -> dict[str, pa.Table]:
    """The weighted lookups, each with a ``slot`` column from 0 to ``SLOTS - 1``."""
    sources = SourceTable()
    arrivals = [_attribute(sources, site, query, ref) for query, ref, _ in ARRIVALS]
    names: tuple[str, ...] = ("referrer_host", "referrer_path", "source", "utm_source")
    names += ("utm_medium", "utm_campaign", "utm_content", "utm_term", "channel")
    software = ("device", "browser", "browser_version", "os", "os_version")
    return {
        "demo_hours": _slot_table({"hour": list(range(24))}, HOURS),
        "demo_arrivals": _slot_table(
            {name: [a[i] for a in arrivals] for i, name in enumerate(names)},
            [weight for _, _, weight in ARRIVALS],
        ),
        "demo_software": _slot_table(
            {name: [row[i] for row in SOFTWARE] for i, name in enumerate(software)},
            [row[5] for row in SOFTWARE],
        ),
        "demo_countries": _slot_table({"country": list(COUNTRIES)}, list(COUNTRIES.values())),
        "demo_drops": pa.table(
            {
                "idx": list(range(len(DROPS))),
                "reason": [d[0] for d in DROPS],
                "detail": [d[1] for d in DROPS],
                "no_site": [d[2] for d in DROPS],
                "rate": [d[3] for d in DROPS],
            }
        ),
    }


def parameters(site: Site) -> dict[str, Any]:
    """Bound parameters of the insert statements: the site, its hosts, pages and values."""
    apex = site.domain.removeprefix("www.")
    internal = _attribute(SourceTable(), site, "", f"https://{site.domain}/")
    return {
        "site": site.id,
        "host": site.domain,
        "other_host": "www." + apex if site.domain == apex else apex,
        "paths": list(PATHS),
        "plans": list(PLANS),
        "files": list(FILES),
        "internal_source": internal[2],
        "internal_channel": internal[8],
    }


def _attribute(sources: SourceTable, site: Site, query: str, referrer: str | None) -> list[str]:
    """What the collector stores for a page view of ``/{query}`` from ``referrer``:
    referrer host and path, source, the five UTM fields and the channel."""
    page = scrub_page_url(f"https://{site.domain}/{query}")
    assert isinstance(page, PageUrl)
    came = acquisition(sources, site, page, *scrub_referrer(referrer))
    utm = [page.utm_source, page.utm_medium, page.utm_campaign, page.utm_content, page.utm_term]
    return [came.referrer_host, came.referrer_path, came.source.name, *utm, came.channel]


def slotted(weights: tuple[float, ...] | list[float]) -> list[int]:
    """For each of ``SLOTS`` slots, the index of the weight it falls in."""
    total, bounds, running = sum(weights), [], 0.0
    for weight in weights:
        running += weight
        bounds.append(running / total * SLOTS)
    index, slots = 0, []
    for slot in range(SLOTS):
        while index < len(bounds) - 1 and bounds[index] <= slot + 0.5:
            index += 1
        slots.append(index)
    return slots


def _slot_table(
    columns: dict[str, list[Any]], weights: tuple[float, ...] | list[float]
) -> pa.Table:
    rows = slotted(weights)
    data = {name: [values[r] for r in rows] for name, values in columns.items()}
    return pa.table({"slot": list(range(SLOTS)), **data})
