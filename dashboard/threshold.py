"""The privacy threshold (P7): figures over fewer than k visitors are shown as "< k".

Breakdown rows under k fold into one "(fewer than k)" row, which is itself "< k" when small
and counts toward ``limit``; a filtered aggregate or timeseries point under k is "< k". In JSON
"< k" is ``null`` with ``"suppressed": true``, never a string where a number belongs.
Unfiltered site totals are shown as they are. This stops casual singling-out in the API and
everything built on it; it is not a guarantee against someone with raw API access who
combines many queries (differencing), and the README says so.
"""

from __future__ import annotations

from typing import Any

ADDITIVE = frozenset({"visitors", "visits", "pageviews", "events"})


def folded_label(k: int) -> str:
    return f"(fewer than {k})"


def fold_rows(
    rows: list[dict[str, Any]], *, key: str, metrics: tuple[str, ...], k: int
) -> list[dict[str, Any]]:
    """Fold the rows with fewer than k visitors into one row at the end."""
    if k <= 1:
        return rows
    kept = [row for row in rows if row["visitors"] >= k]
    small = [row for row in rows if row["visitors"] < k]
    if not small:
        return kept
    folded: dict[str, Any] = {key: folded_label(k)}
    total = sum(row["visitors"] for row in small)
    for metric in metrics:
        folded[metric] = sum(row[metric] for row in small) if metric in ADDITIVE else None
    folded["visitors"] = total
    if total < k:
        folded.update({metric: None for metric in metrics})
        folded["visitors"] = None
        folded["suppressed"] = True
    return [*kept, folded]


def suppress(values: dict[str, Any], *, visitors: int, metrics: tuple[str, ...], k: int) -> bool:
    """Blank every metric of one filtered figure under k; return whether it was."""
    if k <= 1 or visitors >= k:
        return False
    for metric in metrics:
        values[metric] = None
    return True
