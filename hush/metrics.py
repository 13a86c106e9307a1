"""Operations metrics in Prometheus's text format, without a client library: a histogram is a
bisect and two additions, cheap enough for the intake's hot path. Labels are fixed words
(a route group, an outcome): never an address, a visitor id, a path or a user."""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from pathlib import Path

from collector.spool import CLOSED, OPEN

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SIZE_BUCKETS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.total += value

    def lines(self, name: str, labels: str = "") -> list[str]:
        out, running = [], 0
        sep = "," if labels else ""
        for bound, n in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += n
            le = "+Inf" if bound == float("inf") else f"{bound:g}"
            out.append(f'{name}_bucket{{{labels}{sep}le="{le}"}} {running}')
        suffix = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{suffix} {self.total:.6f}", f"{name}_count{suffix} {running}"]
        return out


def spool_state(spool_dir: Path) -> tuple[int, float]:
    """Segments waiting in the spool and the age in seconds of the oldest closed one."""
    depth, oldest = 0, None
    try:
        entries = list(os.scandir(spool_dir))
    except FileNotFoundError:
        return 0, 0.0
    for entry in entries:
        suffix = Path(entry.name).suffix
        if suffix not in (CLOSED, OPEN):
            continue
        depth += 1
        if suffix == CLOSED:
            try:
                mtime = entry.stat().st_mtime
            except FileNotFoundError:
                continue
            oldest = mtime if oldest is None else min(oldest, mtime)
    return depth, (time.time() - oldest) if oldest is not None else 0.0


_STATUS_FIELDS = {"VmRSS": "resident", "VmHWM": "peak", "RssAnon": "anonymous", "RssFile": "file"}


def process_memory() -> dict[str, int]:
    """This process's memory from ``/proc/self/status``, in bytes: resident (RSS), its peak,
    and the resident part that is anonymous (heap) or file-backed (libraries, mapped data)."""
    found = {}
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                name, _, rest = line.partition(b":")
                key = _STATUS_FIELDS.get(name.decode())
                if key:
                    found[key] = int(rest.split()[0]) * 1024  # the kernel counts in kB
    except OSError:  # not Linux
        pass
    return found


def family(name: str, kind: str, help: str) -> list[str]:
    return [f"# HELP {name} {help}", f"# TYPE {name} {kind}"]
