"""The privacy threshold (P7): figures about fewer than k people are shown as "< k".

P7 counts people, not visitor-days: visitor ids change daily, so one person seen on three days
is three visitors over the range. A figure is shown only when at least k distinct visitor ids
contributed on one local day (``peak_visitors``: the largest daily count, which daily rollups
hold), never because daily counts add up to k.

Breakdown rows whose largest daily count is under k fold into one "(fewer than k)" row, which
counts toward ``limit`` and is itself always "< k": the rows in it may all be about the same
one person, and no rollup says how many distinct people they hold together. A filtered
aggregate or timeseries point under k is "< k". In JSON "< k" is ``null`` with
``"suppressed": true``, never a string where a number belongs. Unfiltered site totals are shown
as they are. This stops casual singling-out in the API and everything built on it; it is not a
guarantee against a determined insider with raw API access (differencing, padding with fake
visitors), and the README says so.
"""

from __future__ import annotations

import re
from typing import Any

from aggregator.queries import PEAK_VISITORS, folded_label

__all__ = ["fold_rows", "folded_label", "is_folded", "suppress"]

# Rows that retention folded in the stored rollups (aggregator/retention.py) carry the label of
# the k in force then, which may differ from today's.
_FOLDED = re.compile(r"\(fewer than [0-9]+\)")


def is_folded(value: Any) -> bool:
    """Whether a group value is a "(fewer than k)" label, of today's k or a stored one."""
    return isinstance(value, str) and _FOLDED.fullmatch(value) is not None


def fold_rows(
    rows: list[dict[str, Any]],
    *,
    key: str = "",
    keys: tuple[str, ...] = (),
    metrics: tuple[str, ...],
    k: int,
) -> list[dict[str, Any]]:
    """Fold the rows about fewer than k people (their ``peak_visitors``) into one suppressed
    row at the end, its group values (``key``, or each of ``keys``) the "(fewer than k)"
    label; every row loses its ``peak_visitors``."""
    names = keys or (key,)
    kept: list[dict[str, Any]] = []
    small: list[dict[str, Any]] = []
    for row in rows:
        people = row.pop(PEAK_VISITORS)
        is_small = k > 1 and (people < k or any(is_folded(row[name]) for name in names))
        (small if is_small else kept).append(row)
    if not small:
        return kept
    folded: dict[str, Any] = {name: folded_label(k) for name in names}
    folded["visitors"] = None
    folded.update({metric: None for metric in metrics})
    folded["suppressed"] = True
    return [*kept, folded]


def suppress(values: dict[str, Any], *, people: int, metrics: tuple[str, ...], k: int) -> bool:
    """Blank every metric of one filtered figure about fewer than k people (``people``: its
    largest daily count of visitors); return whether it was."""
    if k <= 1 or people >= k:
        return False
    for metric in metrics:
        values[metric] = None
    return True
