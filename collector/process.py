"""Process-wide limits set once at start, before any salt or address is in memory.

- **No core dumps** (P1, P3): a dump of a collector holds today's salts and the addresses of
  recent requests; ``RLIMIT_CORE`` 0 stops the kernel writing one, and ``PR_SET_DUMPABLE`` 0
  also stops systemd-coredump/apport pipes and ptrace by other processes of the same user.
- **Private files**: umask 0o077, so everything hush creates in the data dir (the DuckDB file
  and its WAL, spool segments, the sites snapshot, the server file) is 0600 and every
  directory 0700, whatever the shell's umask was (usually 0o022: world-readable).
- **Enough file descriptors**: the soft ``RLIMIT_NOFILE`` is raised to the hard one (services
  often start with 1,024, which ~1,000 idle connections exhaust, and then the loader cannot
  open a spool segment either); uvicorn's connection limit is kept below it.
- **Two malloc arenas** (glibc): by default each thread that allocates (the loader, the
  maintenance thread, DuckDB's work in them) gets an arena of its own, and the memory freed in
  one is kept for it: under the ingest benchmark that held 20-30 MiB more at the end, and the
  peak. ``MALLOC_ARENA_MAX`` in the environment, when set, is left to decide.
- **Large blocks given back** (glibc): each large block freed (from ``mmap``) raises glibc's
  mmap threshold to its size, up to 32 MiB, and the heap's trim threshold to twice that; from
  then on buffers of a few MiB (a spool segment read whole, DuckDB's) came from the heap and
  what they freed stayed resident (4 x 3 MiB after a 16 MiB block: 12 MiB held; under the
  ingest benchmark glibc held 38.2 MiB at the end against 34.9, and the peak 147.4 against
  145.0). A fixed threshold of ``MMAP_THRESHOLD`` maps such blocks and unmaps them when freed.
  ``MALLOC_MMAP_THRESHOLD_`` or glibc's tunable, when set, is left to decide.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
from dataclasses import dataclass
from functools import cache

PRIVATE_UMASK = 0o077
_PR_SET_DUMPABLE = 4  # <linux/prctl.h>
_M_ARENA_MAX = -8  # <malloc.h>
MALLOC_ARENAS = 2
_M_MMAP_THRESHOLD = -3  # <malloc.h>
MMAP_THRESHOLD = 256 * 1024
# Descriptors kept apart from connections: DuckDB, the spool, the loader, logs, the admin
# channel and the event loop use ~40; the rest is margin.
RESERVED_FILES = 256


@dataclass(frozen=True, slots=True)
class ProcessLimits:
    """What ``harden_process`` achieved (for the start-up log line)."""

    open_files: int
    dumpable: bool


def harden_process() -> ProcessLimits:
    """Turn core dumps off, set the private umask and raise the open-file limit."""
    os.umask(PRIVATE_UMASK)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    dumpable = not _set_not_dumpable()
    if "MALLOC_ARENA_MAX" not in os.environ:
        libc_call("mallopt", _M_ARENA_MAX, MALLOC_ARENAS)
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ and "malloc.mmap_threshold" not in (
        os.environ.get("GLIBC_TUNABLES", "")
    ):
        libc_call("mallopt", _M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20  # the kernel's default nr_open
    if soft == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # keep what we have; the connection limit follows it
    return ProcessLimits(open_files=soft, dumpable=dumpable)


def connection_limit(wanted: int, open_files: int) -> int:
    """The most connections uvicorn may hold: ``wanted``, within the open-file limit."""
    return max(1, min(wanted, open_files - RESERVED_FILES))


def _set_not_dumpable() -> bool:
    """prctl(PR_SET_DUMPABLE, 0) where libc has it (Linux); True when it took effect."""
    return libc_call("prctl", _PR_SET_DUMPABLE, 0, 0, 0, 0) == 0


def libc_call(function: str, *args: int) -> int | None:
    """A libc function's result, or None where libc or the function is missing."""
    libc = _libc()
    if libc is None:
        return None
    try:
        return int(getattr(libc, function)(*args))
    except (OSError, AttributeError):
        return None


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
