"""The admin socket's address, short enough for ``sun_path``.

A Unix socket path is limited to 107 bytes on Linux; a data dir deep in a home (or a test's
temporary dir) can be longer. Through ``/proc/self/fd/<dir fd>/`` the same socket has a path
of about 30 bytes, so both ends bind and connect through an open descriptor of the data dir.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SUN_PATH_BYTES = 107


@contextmanager
def reachable(path: Path) -> Iterator[str]:
    """A path by which ``path`` (a socket in an existing directory) can be bound or connected."""
    if len(os.fsencode(path)) <= SUN_PATH_BYTES - 1:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)
