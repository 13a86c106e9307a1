"""The words of the audit: the promises, one verdict (``Check``) and the report (``render``).

``counted`` and ``listing`` word the findings of every check the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SERVER = "The server answers"
P1 = "P1 No IP address at rest"
P2 = "P2 Only a daily hash identifies a visitor"
P3 = "P3 Salts live one day, apart from the data"
P4 = "P4 No cookies, no storage"
P5 = "P5 What browsers send is scrubbed"
P6 = "P6 Privacy signals honoured"
P8 = "P8 Retention enforced"


@dataclass(frozen=True, slots=True)
class Check:
    """One verdict: the promise, whether it held, and a sentence on what was checked and found."""

    promise: str
    passed: bool
    detail: str


def _number(promise: str) -> int:
    match = re.match(r"P(\d+)\b", promise)
    return int(match.group(1)) if match else 0


def render(checks: list[Check]) -> str:
    """The plain-language report: one line per check, by promise, and a closing verdict."""
    lines = ["hush privacy audit", "=================="]
    previous = None
    for check in sorted(checks, key=lambda c: _number(c.promise)):
        if check.promise != previous:
            lines.append("")
            previous = check.promise
        lines.append(f"{'PASS' if check.passed else 'FAIL'}  {check.promise}: {check.detail}")
    covered = {_number(check.promise) for check in checks}
    missing = [f"P{n}" for n in range(1, 9) if n not in covered]
    lines.append("")
    if missing:
        lines.append(
            f"Not checked by this audit: {', '.join(missing)} (the test suite holds them)."
        )
    failed = sum(not check.passed for check in checks)
    if not checks:
        lines.append("No checks were run.")
    elif failed:
        lines.append(f"{failed} of {len(checks)} checks FAILED.")
    else:
        lines.append(f"All {len(checks)} checks passed.")
    return "\n".join(lines) + "\n"


def counted(n: int, noun: str, plural: str = "") -> str:
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def listing(items: Iterable[str], *, most: int = 5) -> str:
    items = list(items)
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")
