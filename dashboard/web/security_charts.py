"""The security view's charts as geometry the template draws in SVG: stacked bars of outcomes
per bucket, and plain lines (privacy drops, bot share). No script; each chart's data is also
a table beside it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 24
SHADES = 6  # distinct fills for rejection reasons; the rest share one


@dataclass(frozen=True, slots=True)
class Segment:
    reason: str
    y: float
    height: float
    shade: str
    n: int


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    label: str
    total: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Stacked:
    bars: tuple[Bar, ...]
    legend: tuple[tuple[str, str, int], ...]  # reason, shade, total
    top: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    base: int = HEIGHT - BOTTOM


@dataclass(frozen=True, slots=True)
class Line:
    points: str
    rows: tuple[tuple[str, str], ...]  # bucket label, value as text
    top: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    base: int = HEIGHT - BOTTOM


def label(at: datetime, bucket: int) -> str:
    if bucket >= 86400:
        return at.strftime("%d %b")
    return at.strftime("%d %b %H:%M")


def stacked(buckets: list[datetime], counts: dict[datetime, Counter[str]], bucket: int) -> Stacked:
    totals: Counter[str] = Counter()
    for each in counts.values():
        totals.update(each)
    order = ["accepted"] * ("accepted" in totals) + [
        reason for reason, _ in totals.most_common() if reason != "accepted"
    ]
    shades = {"accepted": "seg-accepted"} | {
        reason: f"seg-{min(n, SHADES)}"
        for n, reason in enumerate(order[1:] if order[:1] == ["accepted"] else order)
    }
    top = max([sum(c.values()) for c in counts.values()] + [1])
    span = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(buckets), 1)
    bars = []
    for i, at in enumerate(buckets):
        here = counts.get(at, Counter())
        y = float(HEIGHT - BOTTOM)
        segments = []
        for reason in order:
            n = here.get(reason, 0)
            if not n:
                continue
            h = n / top * span
            y -= h
            segments.append(Segment(reason, round(y, 1), round(h, 1), shades[reason], n))
        bars.append(
            Bar(
                round(LEFT + i * step, 1),
                round(max(step - 1, 0.5), 1),
                label(at, bucket),
                sum(here.values()),
                tuple(segments),
            )
        )
    legend = tuple((reason, shades[reason], totals[reason]) for reason in order)
    return Stacked(tuple(bars), legend, top)


def line(buckets: list[datetime], values: list[float], bucket: int, *, percent: bool) -> Line:
    top = max([*values, 1.0]) if not percent else 100.0
    span = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(buckets) - 1, 1)
    points = " ".join(
        f"{LEFT + i * step:.1f},{HEIGHT - BOTTOM - v / top * span:.1f}"
        for i, v in enumerate(values)
    )
    shown = [f"{v:.1f} %" if percent else f"{v:g}" for v in values]
    rows = tuple((label(at, bucket), text) for at, text in zip(buckets, shown, strict=True))
    return Line(points, rows, f"{top:g}{' %' if percent else ''}")
