"""The dashboard's panels: each a set of tabs, each tab one dimension of the query engine.

A row's label links to the same view filtered by it; the details view of a panel
(``/sites/<domain>/<panel>``) adds the metrics that fit it, search, sort and pages.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

from dashboard.web.view_state import ViewState

COUNTRIES = Path(__file__).parent / "data" / "countries.csv"


@dataclass(frozen=True, slots=True)
class Tab:
    key: str
    label: str  # the tab's name
    dimension: str
    column: str  # the label column's heading
    details_metrics: tuple[str, ...]


VISIT_METRICS = ("visitors", "visits", "bounce_rate", "visit_duration")
PAGE_METRICS = ("visitors", "pageviews", "bounce_rate", "time_on_page", "scroll_depth")


@dataclass(frozen=True, slots=True)
class Panel:
    key: str
    title: str
    tabs: tuple[Tab, ...]

    def tab(self, key: str | None) -> Tab:
        return next((tab for tab in self.tabs if tab.key == key), self.tabs[0])


def _visit(key: str, label: str, dimension: str, column: str) -> Tab:
    return Tab(key, label, dimension, column, VISIT_METRICS)


PANELS: dict[str, Panel] = {
    panel.key: panel
    for panel in (
        Panel(
            "sources",
            "Sources",
            (
                _visit("channels", "Channels", "visit:channel", "Channel"),
                _visit("sources", "Sources", "visit:source", "Source"),
                _visit("campaigns", "Campaigns", "visit:utm_campaign", "Campaign"),
                _visit("utm_medium", "UTM medium", "visit:utm_medium", "UTM medium"),
                _visit("utm_source", "UTM source", "visit:utm_source", "UTM source"),
                _visit("utm_content", "UTM content", "visit:utm_content", "UTM content"),
                _visit("utm_term", "UTM term", "visit:utm_term", "UTM term"),
            ),
        ),
        Panel(
            "pages",
            "Pages",
            (
                Tab("top", "Top pages", "event:page", "Page", PAGE_METRICS),
                _visit("entry", "Entry pages", "visit:entry_page", "Entry page"),
                _visit("exit", "Exit pages", "visit:exit_page", "Exit page"),
            ),
        ),
        Panel(
            "locations",
            "Locations",
            (_visit("countries", "Countries", "visit:country", "Country"),),
        ),
        Panel(
            "devices",
            "Devices",
            (
                _visit("browsers", "Browsers", "visit:browser", "Browser"),
                _visit("os", "Operating systems", "visit:os", "Operating system"),
                _visit("devices", "Devices", "visit:device", "Device"),
            ),
        ),
    )
}

# A filter on a browser or an OS turns its tab into that family's versions.
VERSIONS = {"visit:browser": "visit:browser_version", "visit:os": "visit:os_version"}


def shown_dimension(tab: Tab, state: ViewState) -> tuple[str, str]:
    """(dimension, column heading) the tab shows in this view."""
    version = VERSIONS.get(tab.dimension)
    if version and any(f.dimension == tab.dimension and f.operator == "is" for f in state.filters):
        return version, tab.column + " version"
    return tab.dimension, tab.column


@functools.cache
def country_names() -> dict[str, str]:
    with COUNTRIES.open(encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return {row["code"]: row["name"] for row in rows}


def label(dimension: str, value: object) -> str:
    """How a group's value reads on the page ('' is a visit with no such attribute)."""
    text = "" if value is None else str(value)
    if dimension == "visit:source" and text == "":
        return "Direct / None"
    if dimension == "visit:country":
        return country_names().get(text, text or "Unknown")
    return text or "(none)"
