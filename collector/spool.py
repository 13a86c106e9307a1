"""The spool writer: one open append-only segment per collector process, group-committed.

Every request handler calls ``spool.append(line)`` and awaits what it returns, or hands it a
callback (``then``). Lines that arrive in the same turn of the event loop are joined and
written with one ``write(2)``; only then are their handlers released to answer 202 (callbacks
right after the write, in the same turn), so an acknowledged event survives a crash of the
process. ``fsync`` runs on an interval (``HUSH_FSYNC_INTERVAL``), or before every answer when
that is 0.

A segment's life, by file name (``<id>`` sorts by creation time):
``<id>.new`` created and flock(2)ed, renamed to ``<id>.open`` while written, renamed to
``<id>.seg`` when closed. The loader takes ``.seg`` files, and ``.open`` files whose lock it can
take: a flock belongs to the open file, so it is released exactly when the writer dies.

Closing a segment (fsync, rename, close: up to ~6 ms on a busy disk, once a second) happens
in a thread of the writer's own, off the event loop, while new lines already go to the next
segment; the old one stays ``.open`` and locked until it is done, and ``close`` waits for it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import logging
import os
import secrets
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

log = logging.getLogger("hush.spool")

NEW, OPEN, CLOSED = ".new", ".open", ".seg"


class SpoolWrite:
    """The write of one batch of lines: awaitable, or told to call back once it is done (with
    the error, or None)."""

    __slots__ = ("_callbacks", "_future", "_loop", "done", "error")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._callbacks: list[Callable[[BaseException | None], None]] = []
        self._future: asyncio.Future[None] | None = None
        self.done = False
        self.error: BaseException | None = None

    def then(self, callback: Callable[[BaseException | None], None]) -> None:
        if self.done:
            callback(self.error)
        else:
            self._callbacks.append(callback)

    def __await__(self) -> Generator[Any, None, None]:
        if not self.done:
            if self._future is None:
                self._future = self._loop.create_future()
            yield from self._future.__await__()
        elif self.error is not None:
            raise self.error

    def _finish(self, error: BaseException | None) -> None:
        self.done, self.error = True, error
        # Handed over, not kept: a callback refers to what refers to this write (an answer and
        # its request), and a kept list would make each of them a cycle for the GC to find.
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(error)
            except Exception:
                log.exception("a spool write's callback failed")
        if self._future is not None:
            if error is None:
                self._future.set_result(None)
            else:
                self._future.set_exception(error)


class SpoolWriter:
    def __init__(
        self,
        spool_dir: Path,
        *,
        segment_seconds: float,
        segment_bytes: int,
        fsync_interval: float,
        trailer: Callable[[], bytes | None] = lambda: None,
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        self._dir = spool_dir
        self._segment_seconds = segment_seconds
        self._segment_bytes = segment_bytes
        self._fsync_interval = fsync_interval
        self._trailer = trailer
        self._on_close = on_close
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._opened_at = 0.0
        self._batch: list[bytes] = []
        self._pending: SpoolWrite | None = None
        self._dirty = False
        self._closer = concurrent.futures.ThreadPoolExecutor(1, "hush-spool-closer")
        spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def append(self, line: bytes) -> SpoolWrite:
        """Queue one newline-terminated line, to be written with the others of this turn."""
        self._batch.append(line)
        if self._pending is None:
            loop = asyncio.get_running_loop()
            self._pending = SpoolWrite(loop)
            loop.call_soon(self._flush)
        return self._pending

    def _flush(self) -> None:
        batch, future = self._batch, self._pending
        self._batch, self._pending = [], None
        assert future is not None
        try:
            self._write(b"".join(batch))
            if self._fsync_interval == 0 and self._fd is not None:
                os.fsync(self._fd)
        except OSError as exc:
            log.error("spool write failed: %s", exc.strerror)
            future._finish(SpoolUnavailable(exc.strerror or "write failed"))
            return
        future._finish(None)
        if self._size >= self._segment_bytes:
            self._rotate_soon()

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            self._open_segment()
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._size += len(data)
        self._dirty = True

    def _open_segment(self) -> None:
        name = f"{time.time_ns() // 1000:017d}-{os.getpid()}-{secrets.token_hex(4)}"
        new_path = self._dir / (name + NEW)
        fd = os.open(new_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._path = self._dir / (name + OPEN)
        os.rename(new_path, self._path)
        self._fd, self._size, self._opened_at = fd, 0, time.monotonic()

    def rotate(self) -> None:
        """Close the open segment (after the trailer, e.g. counters) so the loader can take it;
        returns once it is closed, after every segment the closer thread was closing (one
        rotated by age a moment before, the trailer in it, would otherwise still be .open)."""
        detached = self._detach()
        self._closer.submit(int).result()  # one closer thread: the segments it had are closed
        if detached is not None:
            self._close_segment(*detached)

    def _rotate_soon(self) -> None:
        """Start a new segment now and close the old one in the closer thread."""
        detached = self._detach()
        if detached is not None:
            self._closer.submit(self._close_segment, *detached)

    def _detach(self) -> tuple[int, Path, bool] | None:
        """End the open segment with the trailer and stop writing to it."""
        trailer = self._trailer()
        if trailer:
            self._write(trailer)
        if self._fd is None or self._path is None:
            return None
        detached = (self._fd, self._path, self._dirty)
        self._fd, self._path, self._dirty = None, None, False
        return detached

    def _close_segment(self, fd: int, path: Path, dirty: bool) -> None:
        try:
            if dirty:
                os.fsync(fd)
            os.rename(path, path.with_suffix(CLOSED))
        except OSError as exc:
            # Still .open, and unlocked once closed below: the loader takes it all the same.
            log.error("closing a spool segment failed: %s", exc.strerror)
        finally:
            os.close(fd)
        self._on_close()

    def sync(self) -> None:
        if self._fd is not None and self._dirty:
            os.fsync(self._fd)

    async def run(self) -> None:
        """Rotate segments by age and fsync on the configured interval, until cancelled."""
        last_sync = time.monotonic()
        tick = min(self._segment_seconds, self._fsync_interval or self._segment_seconds, 0.25)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if self._fd is None or now - self._opened_at >= self._segment_seconds:
                self._rotate_soon()
                last_sync = now
            elif self._fsync_interval and self._dirty and now - last_sync >= self._fsync_interval:
                last_sync = now
                self._dirty = False
                try:
                    # fsync can take milliseconds on a busy disk: keep it off the event loop.
                    await asyncio.get_running_loop().run_in_executor(None, os.fsync, self._fd)
                except OSError:
                    self._dirty = True  # rotated meanwhile (which syncs) or failed: try again

    def close(self) -> None:
        if self._batch:
            self._flush()
        self.rotate()  # the segments being closed, first
        self._closer.shutdown(wait=True)


class SpoolUnavailable(Exception):
    """The spool cannot be written (disk full, permissions): events cannot be acknowledged."""
