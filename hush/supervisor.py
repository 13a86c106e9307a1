"""``hush serve --collectors N``: N − 1 ``hush collect`` children beside the server, kept running.

Each child runs ``python -m hush.cli collect`` with the server's environment, data dir, host and
port, and asks the kernel for SIGTERM when its parent goes (``PR_SET_PDEATHSIG``, set by the
child itself: ``preexec_fn`` is unsafe in a process with threads), so no collector outlives its
server, even one killed with SIGKILL. The signal follows the *thread* that started the child,
so every child is started by the supervisor's own thread, which lives as long as the server.

A child that exits is started again after a pause: 1 s after its first exit, doubled after
each exit in a row up to 30 s, and back to 1 s once it has run a minute; every exit and restart
is logged. A dead child's open spool segment loses nothing: the loader takes it once its flock
is released. On shutdown each child gets SIGTERM (it closes its segment, counters included),
and SIGKILL if it has not exited within ``STOP_SECONDS``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from collector.process import libc_call
from hush.collector_app import control_socket
from hush.settings import Settings

log = logging.getLogger("hush.supervisor")

FIRST_PAUSE = 1.0
MAX_PAUSE = 30.0
STABLE_SECONDS = 60.0  # a child that ran this long was healthy: its next restart is quick
STOP_SECONDS = 10.0
TICK_SECONDS = 0.2


@dataclass(slots=True)
class _Child:
    slot: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    pause: float = FIRST_PAUSE
    restart_at: float = 0.0


class Supervisor:
    """Keeps ``count`` collector processes running until ``stop``."""

    def __init__(self, settings: Settings, count: int) -> None:
        self._settings = settings
        self._argv = [
            sys.executable,
            "-m",
            "hush.cli",
            "collect",
            "--data-dir",
            str(settings.data_dir),
            "--host",
            settings.host,
            "--port",
            str(settings.port),
            "--parent-pid",
            str(os.getpid()),
        ]
        self._children = [_Child(slot) for slot in range(count)]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="collectors", daemon=True)
        self.restarts = 0
        self._after: Callable[[], bool] = lambda: True

    @property
    def pids(self) -> list[int]:
        return [c.process.pid for c in self._children if c.process and c.process.poll() is None]

    def start(self, *, after: Callable[[], bool] = lambda: True) -> None:
        """Start the children once ``after()`` is true (the server is up: they would only slow
        its start on a small machine, and it publishes the sites snapshot they read)."""
        self._after = after
        self._thread.start()

    def stop(self) -> None:
        """Stop every child (SIGTERM, then SIGKILL after ``STOP_SECONDS``) and the thread."""
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._after():
            if self._stopping.wait(TICK_SECONDS / 4):
                return
        for child in self._children:
            self._spawn(child)
        while not self._stopping.wait(TICK_SECONDS):
            now = time.monotonic()
            for child in self._children:
                self._watch(child, now)
        self._stop_children()

    def _spawn(self, child: _Child) -> None:
        child.process = subprocess.Popen(self._argv, close_fds=True)
        child.started = time.monotonic()
        log.info("started collector %d (pid %d)", child.slot + 1, child.process.pid)

    def _watch(self, child: _Child, now: float) -> None:
        if child.process is not None:
            code = child.process.poll()
            if code is None:
                return
            ran = now - child.started
            if ran >= STABLE_SECONDS:
                child.pause = FIRST_PAUSE
            log.warning(
                "collector %d (pid %d) exited with %s after %.1f s; starting it again in %.0f s",
                child.slot + 1,
                child.process.pid,
                _describe(code),
                ran,
                child.pause,
            )
            # Its own socket stays behind when it is killed; nothing else would remove it.
            control_socket(self._settings, child.process.pid).unlink(missing_ok=True)
            child.process = None
            child.restart_at = now + child.pause
            child.pause = min(child.pause * 2, MAX_PAUSE)
        if now >= child.restart_at:
            self.restarts += 1
            self._spawn(child)

    def _stop_children(self) -> None:
        running = [c.process for c in self._children if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("collector pid %d ignored SIGTERM: killing it", process.pid)
                process.kill()
                process.wait()


def _describe(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"code {code}"


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int) -> bool:
    """Ask for SIGTERM when the parent goes; False if it is gone already (or prctl is missing)."""
    libc_call("prctl", PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    # The parent may have died before prctl took effect: then we were re-parented already.
    return os.getppid() == parent_pid
