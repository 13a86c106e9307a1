"""P8 in the spool: no segment waits so long to be loaded that it escapes retention."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from collector.spool import CLOSED, OPEN
from privacy_audit.report import P8, Check, counted

STUCK_SECONDS = 3600  # a segment closes after ~1 s and loads within ~2 s: an hour means stuck


def spool_not_stuck(spool_dir: Path, now: float) -> Check:
    waiting, stuck = 0, []
    paths = sorted(spool_dir.iterdir()) if spool_dir.is_dir() else []
    for path in paths:
        if path.suffix not in (CLOSED, OPEN):
            continue
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:
            continue  # loaded meanwhile
        waiting += 1
        if age >= STUCK_SECONDS and (path.suffix == CLOSED or _writer_died(path)):
            stuck.append(age)
    if stuck:
        return Check(
            P8,
            False,
            f"{counted(len(stuck), 'spool segment')} waited over an hour to be loaded (the"
            f" oldest {max(stuck) / 3600:.0f} hours): the loader is stuck, and their raw events"
            " escape retention.",
        )
    if not waiting:
        return Check(P8, True, "no spool segment waits to be loaded: the loader keeps up.")
    return Check(
        P8,
        True,
        f"{counted(waiting, 'spool segment')} waiting to be loaded, none for over an hour.",
    )


def _writer_died(path: Path) -> bool:
    """Whether an open segment's flock(2) is free, i.e. the process writing it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing releases the lock
