"""Goals (DESIGN §4): a site's named conversions, stored, listed and removed.

A goal is a custom event name (``kind`` event) or a page path pattern (``kind`` page; ``*``
matches anything but "/", ``**`` anything, as in filters). Its ``display_name`` is the value
``event:goal`` filters and breakdowns use: the event name, or ``Visit <pattern>``, as
Plausible names them. Rollups count goals at roll-up time, so adding one re-rolls the days whose
raw events are kept (``aggregator.rollups.reroll_kept_days``); days before ``counted_from`` had
lost their raw events when the goal was added, and a query reaching them answers 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from aggregator.errors import AdminError
from aggregator.store import Store

KINDS = ("event", "page")
MAX_TARGET = 500

_COLUMNS = "id, site_id, kind, target, display_name, counted_from"


@dataclass(frozen=True, slots=True)
class Goal:
    id: int
    site_id: int
    kind: str  # event | page
    target: str  # the event name, or the page path pattern
    display_name: str
    counted_from: date | None = None  # the first day it is counted for (None: every day)

    @property
    def event_name(self) -> str | None:
        return self.target if self.kind == "event" else None

    @property
    def page_path(self) -> str | None:
        return self.target if self.kind == "page" else None


def display_name_of(kind: str, target: str) -> str:
    return target if kind == "event" else f"Visit {target}"


def list_goals(store: Store, site_id: int) -> list[Goal]:
    with store.read() as cur:
        return goals_of(cur, site_id)


def goals_of(cur: Any, site_id: int) -> list[Goal]:
    """The site's goals, through an open cursor (the query engine's and the rollups')."""
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM goals WHERE site_id = $site ORDER BY id",  # noqa: S608
        {"site": site_id},
    ).fetchall()
    return [Goal(*row) for row in rows]


def find_goal(store: Store, site_id: int, goal_id: int) -> Goal | None:
    return next((g for g in list_goals(store, site_id) if g.id == goal_id), None)


def add_goal(
    store: Store, site_id: int, *, kind: str, target: str, display_name: str = "", now: float
) -> tuple[Goal, bool]:
    """Find or create the goal; return it and whether it was created (Plausible's ``PUT``
    is idempotent: the same goal again is no error)."""
    if kind not in KINDS:
        raise AdminError(f"a goal is an event or a page, not {kind!r}")
    target = target.strip()
    if not target or len(target) > MAX_TARGET:
        raise AdminError(
            f"a goal's {'event name' if kind == 'event' else 'page path'} needs"
            f" 1 to {MAX_TARGET} characters"
        )
    if kind == "page" and not target.startswith("/"):
        raise AdminError(f"a page goal's path starts with '/': {target!r}")
    name = display_name.strip() or display_name_of(kind, target)
    for goal in list_goals(store, site_id):
        if goal.kind == kind and goal.target == target:
            return goal, False
        if goal.display_name == name:
            raise AdminError(f"the site already has a goal named {name!r}")
    with store.write() as cur:
        # The first local day whose raw events are kept: every day before it is past retention,
        # so its rollups (made without this goal) cannot count it.
        row = cur.execute(
            "SELECT max(day) + 1 FROM rolled_days WHERE site_id = $site AND raw_purged",
            {"site": site_id},
        ).fetchone()
        counted_from = row[0] if row else None
        cur.execute(
            "INSERT INTO goals (site_id, kind, target, display_name, counted_from, created_at)"
            " VALUES ($site, $kind, $target, $name, $from, $now)",
            {
                "site": site_id,
                "kind": kind,
                "target": target,
                "name": name,
                "from": counted_from,
                "now": datetime.fromtimestamp(now, UTC).replace(tzinfo=None),
            },
        )
        # By its unique name, not RETURNING (which a lake's PostgreSQL tables lack).
        created = cur.execute(
            "SELECT id FROM goals WHERE site_id = $site AND display_name = $name",
            {"site": site_id, "name": name},
        ).fetchone()
    assert created is not None
    made = find_goal(store, site_id, int(created[0]))
    assert made is not None
    return made, True


def remove_goal(store: Store, site_id: int, goal_id: int) -> Goal:
    goal = find_goal(store, site_id, goal_id)
    if goal is None:
        raise AdminError(f"the site has no goal {goal_id}")
    with store.write() as cur:
        cur.execute("DELETE FROM goals WHERE id = $id", {"id": goal_id})
    return goal


def remove_site_goals(cur: Any, site_id: int) -> None:
    cur.execute("DELETE FROM goals WHERE site_id = $site", {"site": site_id})
