"""How figures read: thousands separators, percentages, durations, "< k", and changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

METRIC_NAMES = {
    "visitors": "Unique visitors",
    "visits": "Visits",
    "pageviews": "Page views",
    "events": "Events",
    "views_per_visit": "Views per visit",
    "bounce_rate": "Bounce rate",
    "visit_duration": "Visit duration",
    "time_on_page": "Time on page",
    "scroll_depth": "Scroll depth",
    "conversions": "Unique conversions",
    "total_conversions": "Total conversions",
    "conversion_rate": "Conversion rate",
}
DEFINITIONS = {
    "visitors": "Distinct visitors per day, summed over the days: hush keeps no id past"
    " midnight, so over several days these are visitor-days.",
    "visits": "Sessions: a visitor's events with gaps of at most 30 minutes.",
    "pageviews": "Pages loaded, including reloads.",
    "events": "Page views and custom events.",
    "views_per_visit": "Page views divided by visits.",
    "bounce_rate": "Visits with one page view and no interactive event, as a share of visits.",
    "visit_duration": "Average time from a visit's first event to its last.",
    "time_on_page": "Average time a page was visible and in use.",
    "scroll_depth": "Average deepest scroll on a page, in percent.",
    "conversions": "Visitors who completed the goal (per day, summed: visitor-days).",
    "total_conversions": "Times the goal was completed.",
    "conversion_rate": "Unique conversions as a share of the visitors of the same filters"
    " without the goal.",
}
LOWER_IS_BETTER = frozenset({"bounce_rate"})
PERCENT_POINTS = frozenset({"bounce_rate", "scroll_depth", "conversion_rate"})


def shown(metric: str, value: Any) -> str:
    if value is None:
        return "–"
    if metric in ("bounce_rate", "scroll_depth"):
        return f"{value:.0f}%"
    if metric == "conversion_rate":
        return f"{value:.1f}%"
    if metric in ("visit_duration", "time_on_page"):
        return duration(float(value))
    if metric == "views_per_visit":
        return f"{value:,.2f}"
    return f"{int(value):,}"


def duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@dataclass(frozen=True, slots=True)
class Change:
    arrow: str  # ▲ ▼ or =
    text: str  # "+12%", or "-3 points" with a true minus sign
    words: str  # "up 12% from 1,234"
    good: bool | None  # None: no change or no comparison

    @property
    def css(self) -> str:
        return "same" if self.good is None else ("good" if self.good else "bad")


def change(metric: str, now: Any, before: Any) -> Change | None:
    if now is None or before is None:
        return None
    was = shown(metric, before)
    if metric in PERCENT_POINTS:
        delta = round(float(now) - float(before))
        text = f"{delta:+d} points".replace("-", "−")
        amount = f"{abs(delta)} points"
    elif not before:
        if not now:
            return Change("=", "0%", f"unchanged from {was}", None)
        return Change("▲", "new", f"up from {was}", metric not in LOWER_IS_BETTER)
    else:
        delta = round((float(now) - float(before)) / float(before) * 100)
        text = f"{delta:+d}%".replace("-", "−")
        amount = f"{abs(delta)}%"
    if delta == 0:
        return Change("=", "0%", f"unchanged from {was}", None)
    up = delta > 0
    good = up != (metric in LOWER_IS_BETTER)
    return Change("▲" if up else "▼", text, f"{'up' if up else 'down'} {amount} from {was}", good)
