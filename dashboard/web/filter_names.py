"""What the query engine's dimensions are called on the page (chips, panels, the dialog)."""

from __future__ import annotations

from aggregator.queries.vocabulary import EVENT_DIMENSIONS, PROPS_PREFIX, VISIT_DIMENSIONS

NAMES = {
    "event:page": "Page",
    "event:hostname": "Host",
    "event:name": "Event",
    "visit:entry_page": "Entry page",
    "visit:exit_page": "Exit page",
    "visit:source": "Source",
    "visit:referrer": "Referrer",
    "visit:channel": "Channel",
    "visit:utm_source": "UTM source",
    "visit:utm_medium": "UTM medium",
    "visit:utm_campaign": "UTM campaign",
    "visit:utm_content": "UTM content",
    "visit:utm_term": "UTM term",
    "visit:browser": "Browser",
    "visit:browser_version": "Browser version",
    "visit:os": "Operating system",
    "visit:os_version": "OS version",
    "visit:device": "Device",
    "visit:country": "Country",
}
FILTERABLE = tuple(name for name in NAMES if name in EVENT_DIMENSIONS or name in VISIT_DIMENSIONS)


def dimension_name(dimension: str) -> str:
    if dimension.startswith(PROPS_PREFIX):
        return "Property " + dimension.removeprefix(PROPS_PREFIX)
    return NAMES.get(dimension, dimension)
