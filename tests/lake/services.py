"""The services a lake of hush nodes shares, run on this machine for tests and local trials:
PostgreSQL (the DuckLake catalog), moto's S3 server (the data) and Redis (the day's salt).

``python -m tests.lake.services start DIR`` installs what is missing (apt-get, Debian bookworm's
``postgresql`` and ``redis-server``), starts the three on free loopback ports with their files
under DIR, and writes ``DIR/env`` (``KEY=value`` lines, the ``HUSH_*`` settings of a node).
``stop DIR`` ends what ``start`` started (the pids in ``DIR/pids.json``); it is idempotent.
Nothing here is durable: fsync off in PostgreSQL, no snapshots or AOF in Redis.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

BUCKET = "hush-lake"
PIDS = "pids.json"
WAIT_SECONDS = 30.0  # each service is up in well under a second; CI machines can be slow


class ServicesError(RuntimeError):
    """A service could not be installed or started; the message says what to do."""


def start(root: Path) -> dict[str, str]:
    """Start the three services under ``root``; return (and write to ``root/env``) their env."""
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    if (root / PIDS).exists():
        raise ServicesError(f"{root} has running services already: stop them first")
    for stale in ("pg", "redis"):  # a stopped run's files: nothing in them is kept
        shutil.rmtree(root / stale, ignore_errors=True)
    initdb = _ensure_installed()
    pids: dict[str, int] = {}
    try:
        pg_port = _start_postgres(root, Path(initdb).parent, pids)
        redis_port = _start_redis(root, pids)
        s3_port = _start_moto(root, pids)
    except BaseException:
        kill(pids)
        raise
    (root / PIDS).write_text(json.dumps(pids))
    env = {
        "HUSH_LAKE_CATALOG": f"host=127.0.0.1 port={pg_port} dbname=hush user=postgres",
        "HUSH_LAKE_DATA": f"s3://{BUCKET}/data/",
        "HUSH_S3_ENDPOINT": f"127.0.0.1:{s3_port}",
        "HUSH_S3_KEY_ID": "test",
        "HUSH_S3_SECRET": "test",
        "HUSH_S3_REGION": "us-east-1",
        "HUSH_S3_URL_STYLE": "path",
        "HUSH_S3_USE_SSL": "false",
        "HUSH_SALT_STORE": f"redis://127.0.0.1:{redis_port}/0",
    }
    (root / "env").write_text("".join(f"{key}='{value}'\n" for key, value in env.items()))
    return env


def stop(root: Path) -> None:
    """End what ``start`` started under ``root``; nothing happens when nothing runs."""
    path = root / PIDS
    try:
        pids = json.loads(path.read_text())
    except FileNotFoundError:
        return
    kill(pids)
    path.unlink(missing_ok=True)


def read_env(root: Path) -> dict[str, str]:
    """The ``KEY=value`` lines of ``root/env``, as ``start`` wrote them."""
    lines = (root / "env").read_text().splitlines()
    return {key: value.strip("'") for key, _, value in (line.partition("=") for line in lines)}


def _ensure_installed() -> str:
    """Install PostgreSQL and redis-server with apt-get unless present; return initdb's path."""
    missing = []
    if not _initdb():
        missing.append("postgresql")
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    if missing:
        _apt_install(missing)
    initdb = _initdb()
    if not initdb or not shutil.which("redis-server"):
        raise ServicesError(f"apt-get installed {' '.join(missing)}, yet a binary is missing")
    return initdb


def _initdb() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    return found[-1] if found else None


def _version(path: str) -> int:
    number = path.split("/")[4]
    return int(number) if number.isdigit() else 0


def _apt_install(packages: list[str]) -> None:
    if os.geteuid() == 0:
        sudo: list[str] = []
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"]).returncode == 0:
        sudo = ["sudo", "-n"]
    else:
        raise ServicesError(
            f"{' '.join(packages)} missing and this user cannot install them: run"
            f" `sudo apt-get install -y {' '.join(packages)}` once"
        )
    # The packages' own services must not start: a Redis on :6379 would snapshot to disk and
    # a "main" PostgreSQL cluster would take :5432. policy-rc.d (exit 101) stops the start
    # scripts during the install; createcluster.d stops the main cluster from being made.
    policy, written = Path("/usr/sbin/policy-rc.d"), False
    script = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"
    if "postgresql" in packages:
        conf = "/etc/postgresql-common/createcluster.d/hush-no-main.conf"
        _run([*sudo, "mkdir", "-p", str(Path(conf).parent)])
        _run([*sudo, sys.executable, "-c", script, conf, "create_main_cluster = false\n"])
    if not policy.exists():
        _run([*sudo, sys.executable, "-c", script, str(policy), "#!/bin/sh\nexit 101\n"])
        _run([*sudo, "chmod", "755", str(policy)])
        written = True
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        _run([*sudo, "apt-get", "update", "-q"], env=env)
        _run(
            [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], env=env
        )
    finally:
        if written:
            _run([*sudo, "rm", "-f", str(policy)])


def _start_postgres(root: Path, bin_dir: Path, pids: dict[str, int]) -> int:
    data = root / "pg"
    # As root, PostgreSQL runs as the postgres user (it refuses root): it owns DIR/pg and must
    # be able to pass through DIR.
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data.mkdir(mode=0o700)
    if as_pg:
        shutil.chown(data, "postgres", "postgres")
        root.chmod(root.stat().st_mode | 0o111)
        if subprocess.run([*as_pg, "test", "-x", str(root)]).returncode != 0:
            raise ServicesError(f"the postgres user cannot enter {root}: choose a DIR it can reach")
    _run([*as_pg, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
          "-E", "UTF8", "--no-sync"])  # fmt: skip
    port = _free_port()
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={data}"
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    _run([*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(data / "log"),
          "-o", options, "-w", "-t", str(int(WAIT_SECONDS)), "start"])  # fmt: skip
    pids["postgres"] = int((data / "postmaster.pid").read_text().split()[0])
    _run([*as_pg, str(bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
          "-q", "-c", "CREATE DATABASE hush"])  # fmt: skip
    return port


def _start_redis(root: Path, pids: dict[str, int]) -> int:
    port, pids["redis-server"] = start_redis(root / "redis")
    return port


def start_redis(data: Path, port: int | None = None) -> tuple[int, int]:
    """A redis-server with persistence off, its files in ``data``; its (port, pid)."""
    data.mkdir(mode=0o700, exist_ok=True)
    port, pidfile = port or _free_port(), data / "redis.pid"
    pidfile.unlink(missing_ok=True)
    _run(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
          "--appendonly", "no", "--dir", str(data), "--daemonize", "yes",
          "--pidfile", str(pidfile), "--logfile", str(data / "log")])  # fmt: skip
    # redis creates its pidfile before it writes the pid: wait for the whole line, not the file
    _wait(lambda: _pid_in(pidfile) > 0 and _accepts(port), f"redis-server on port {port}")
    return port, _pid_in(pidfile)


def _pid_in(pidfile: Path) -> int:
    """The pid a daemon wrote to ``pidfile``, 0 while it is absent or not yet written out."""
    try:
        text = pidfile.read_text()
    except FileNotFoundError:
        return 0
    return int(text) if text.endswith("\n") else 0


def _start_moto(root: Path, pids: dict[str, int]) -> int:
    port = _free_port()
    moto = Path(sys.executable).with_name("moto_server")
    with (root / "moto.log").open("wb") as log:
        # posix_spawn, not Popen: no Popen object whose __del__ warns while the server runs;
        # a session of its own, so a test's Ctrl-C does not reach it before stop() does.
        pid = os.posix_spawn(
            str(moto),
            [str(moto), "-H", "127.0.0.1", "-p", str(port)],
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, log.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, log.fileno(), 2),
            ],
            setsid=True,
        )
    pids["moto_server"] = pid
    _wait(lambda: _is(pid, "moto_server") and _accepts(port), f"moto_server on port {port}")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{BUCKET}", method="PUT")
    urllib.request.urlopen(request, timeout=WAIT_SECONDS).close()  # noqa: S310 (our own server)
    return port


def kill(pids: dict[str, int]) -> None:
    """SIGTERM (PostgreSQL: SIGINT, its fast shutdown) each pid that is still ours; wait."""
    waiting = []
    for name, pid in pids.items():
        if not _is(pid, name):
            continue  # gone already, or the pid was reused by something else
        os.kill(pid, signal.SIGINT if name == "postgres" else signal.SIGTERM)
        waiting.append((name, pid))
    deadline = time.monotonic() + WAIT_SECONDS
    for name, pid in waiting:
        while _is(pid, name) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.01)
        if _is(pid, name):
            os.kill(pid, signal.SIGKILL)
            _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):  # moto_server is a child of pytest's process
        os.waitpid(pid, os.WNOHANG)


def _is(pid: int, name: str) -> bool:
    """Whether ``pid`` is alive and runs ``name`` (not a zombie, not a reused pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z" and name.encode() in cmdline


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def _wait(ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not ready():
        if time.monotonic() > deadline:
            raise ServicesError(f"{what} did not come up within {WAIT_SECONDS:.0f} s")
        time.sleep(0.01)


def _run(command: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        said = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise ServicesError(f"{' '.join(command)} failed: {' / '.join(said)}")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: scripts/lake-services start|stop DIR", file=sys.stderr)
        return 2
    root = Path(argv[1])
    try:
        if argv[0] == "start":
            start(root)
            print(f"lake services up; their settings are in {root / 'env'}")
        else:
            stop(root)
    except ServicesError as exc:
        print(f"lake-services: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
