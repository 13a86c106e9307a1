"""The graph as geometry the template draws in SVG: no chart library, no script needed.

The current period is a line (its unfinished last bucket dashed), the comparison a second,
lighter line; each bucket has a hit area whose title is its tooltip, and the figure carries a
one-line summary and the data as a table, its text alternative.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dashboard.report import Bucket
from dashboard.web.numbers import METRIC_NAMES, shown

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 8, 10, 26


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Hit:
    x: float
    width: float
    label: str  # the bucket's time
    value: str
    compared: str  # '' without a comparison
    unfinished: bool


@dataclass(frozen=True, slots=True)
class Tick:
    position: float
    text: str
    anchor: str = "middle"  # the first and last labels keep inside the graph


@dataclass(frozen=True, slots=True)
class Graph:
    metric: str
    finished: str  # polyline points of the finished buckets
    unfinished: str  # the dashed segment into the bucket still filling ('' if none)
    compared: str
    hits: tuple[Hit, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    summary: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom_y: int = HEIGHT - BOTTOM


def build(
    metric: str, current: list[Bucket], compared: list[Bucket] | None, *, interval: str
) -> Graph:
    values = [b.value for b in current if b.value is not None]
    others = [b.value for b in compared or [] if b.value is not None]
    top = _nice(max([*values, *others, 0]))
    n = max(len(current), 1)
    step = (WIDTH - LEFT - RIGHT) / max(n - 1, 1)

    def point(index: int, value: Any) -> Point:
        y = HEIGHT - BOTTOM - (float(value or 0) / top) * (HEIGHT - TOP - BOTTOM)
        return Point(round(LEFT + index * step, 1), round(y, 1))

    # Buckets not begun yet (today's later hours) keep their place on the axis, undrawn.
    points = [point(i, b.value) for i, b in enumerate(current) if not b.future]
    drawn = [b for b in current if not b.future]
    open_last = bool(drawn) and drawn[-1].unfinished and len(points) > 1
    done = points[:-1] if open_last else points
    tail = points[-2:] if open_last else []
    compared_points = [point(i, b.value) for i, b in enumerate((compared or [])[:n])]
    hits = tuple(
        Hit(
            x=round(LEFT + (i - 0.5) * step, 1) if n > 1 else LEFT,
            width=round(step, 1) if n > 1 else WIDTH - LEFT - RIGHT,
            label=bucket_label(b.start, interval),
            value=_value(metric, b),
            compared=_value(metric, compared[i]) if compared and i < len(compared) else "",
            unfinished=b.unfinished,
        )
        for i, b in enumerate(current)
    )
    labels = [bucket_label(b.start, interval) for b in current]
    every = max(1, math.ceil(n / 6))
    x_ticks = tuple(
        Tick(
            LEFT + i * step,
            _short(current[i].start, interval),
            "start" if i == 0 else ("end" if i == n - 1 else "middle"),
        )
        for i in range(0, n, every)
    )
    # A whole-number metric on an axis of 1 would label its middle line "0" too: a line whose
    # label an earlier one already has is left out.
    y_ticks: tuple[Tick, ...] = ()
    for f in (0, 0.5, 1):
        label = shown(metric, top * f)
        if all(tick.text != label for tick in y_ticks):
            y_ticks += (Tick(HEIGHT - BOTTOM - f * (HEIGHT - TOP - BOTTOM), label),)
    return Graph(
        metric,
        _polyline(done),
        _polyline(tail),
        _polyline(compared_points),
        hits,
        y_ticks,
        x_ticks,
        _summary(metric, current, labels),
    )


def bucket_label(start: datetime | date, interval: str) -> str:
    if interval == "minute":
        return start.strftime("%H:%M")
    if interval == "hour":
        return start.strftime("%a %d %b %H:00")
    if interval == "week":
        return "week of " + start.strftime("%d %b %Y")
    if interval == "month":
        return start.strftime("%B %Y")
    return start.strftime("%a %d %b %Y")


def _short(start: datetime | date, interval: str) -> str:
    if interval in ("minute", "hour"):
        return start.strftime("%H:%M")
    if interval == "month":
        return start.strftime("%b %Y")
    return start.strftime("%d %b")


def _value(metric: str, bucket: Bucket) -> str:
    if bucket.suppressed:
        return "hidden (fewer than k people)"
    return shown(metric, bucket.value)


def _summary(metric: str, current: list[Bucket], labels: list[str]) -> str:
    known = [(b.value, label) for b, label in zip(current, labels, strict=True)]
    known = [(v, label) for v, label in known if v is not None]
    name = METRIC_NAMES.get(metric, metric).lower()
    if not known:
        return f"No {name} in this period."
    high = max(known, key=lambda pair: pair[0])
    low = min(known, key=lambda pair: pair[0])
    return (
        f"{METRIC_NAMES.get(metric, metric)} over {len(current)} buckets: highest"
        f" {shown(metric, high[0])} ({high[1]}), lowest {shown(metric, low[0])} ({low[1]})."
    )


def _nice(value: float) -> float:
    """The axis top: 1, 2, 4, 6 or 8 times a power of ten, at or above ``value``, so that the
    middle line's value (half the top) is as round as the top (a top of 5 put "2" at 2.5)."""
    if value <= 0:
        return 1
    power = 10.0 ** math.floor(math.log10(value))
    return next(float(m * power) for m in (1, 2, 4, 6, 8, 10) if m * power >= value)


def _polyline(points: list[Point]) -> str:
    return " ".join(f"{p.x},{p.y}" for p in points)
