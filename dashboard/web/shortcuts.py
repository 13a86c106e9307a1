"""The dashboard's single-key shortcuts for periods and comparison (Plausible's keys).

Each shortcut is a link the server writes into the page's "Keyboard shortcuts" dialog, with the
same URL the period picker's form would submit; ``dashboard.js`` follows the link whose
``data-key`` matches the key pressed, so a key can only go where a link on the page goes. Users
turn them off in ``/account`` (WCAG 2.1.4); the page says so in ``<body data-shortcuts>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.web.view_state import PERIODS, ViewState

# key -> period, in the picker's order; Plausible's letters (dashboard-time-periods.ts)
PERIOD_KEYS = {
    "d": "day",
    "e": "yesterday",
    "w": "7d",
    "f": "28d",
    "t": "30d",
    "n": "91d",
    "m": "month",
    "p": "last_month",
    "y": "year",
    "l": "12mo",
    "a": "all",
}


@dataclass(frozen=True, slots=True)
class Shortcut:
    key: str  # as KeyboardEvent.key spells it
    shown: str  # as the help dialog shows it
    action: str
    url: str
    current: bool = False


def shortcuts(
    state: ViewState, *, periods_at: str, realtime: str, compare: bool
) -> tuple[Shortcut, ...]:
    """The shortcuts of a view whose periods are shown at ``periods_at``; ``realtime``: the
    URL of its realtime view; ``compare``: whether the view offers a comparison."""
    dropped: dict[str, object] = {"date": None, "from": None, "to": None, "interval": None}
    found = [
        Shortcut(
            key,
            key,
            PERIODS[period],
            state.url(periods_at, period=period, **dropped),
            state.period == period,
        )
        for key, period in PERIOD_KEYS.items()
    ]
    found.insert(2, Shortcut("r", "r", PERIODS["realtime"], realtime, state.period == "realtime"))
    for key, shown, step, action in (
        ("ArrowLeft", "←", -1, "The period before this one"),
        ("ArrowRight", "→", 1, "The period after this one"),
    ):
        moved = state.shifted(periods_at, step)
        if moved:
            found.append(Shortcut(key, shown, action, moved))
    if compare and state.period != "realtime":
        if state.compare:
            off = dict.fromkeys(("compare", "compare_from", "compare_to", "match_day_of_week"))
            toggled = Shortcut("x", "x", "Turn the comparison off", state.url(periods_at, **off))
        else:
            action = "Compare with the previous period"
            toggled = Shortcut("x", "x", action, state.url(periods_at, compare="previous_period"))
        found.append(toggled)
    return tuple(found)
