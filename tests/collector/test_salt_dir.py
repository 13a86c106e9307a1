"""P3: hush keeps its salts only in a directory that is its own, and refuses any other."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.visitor import SaltStore, UnsafeSaltDir, open_salt_dir
from privacy_audit.salts import read_salts, salt_dir_private, salt_files_private
from tests.servers import ManualClock, free_port, server_environment, utc

OTHER_UID = 65534  # nobody: tests run as root, which may chown to anyone


@pytest.fixture
def salt_dir() -> Iterator[Path]:
    path = Path("/dev/shm") / f"hush-test-planted-{uuid.uuid4().hex[:12]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)
    if path.is_symlink():
        path.unlink()


def plant_open_dir(path: Path) -> None:
    path.mkdir()
    path.chmod(0o777)


def plant_foreign_salt(path: Path) -> None:
    path.mkdir(mode=0o700)
    planted = path / "UTC@2026-03-10"
    planted.write_bytes(b"A" * 32)
    os.chown(planted, OTHER_UID, OTHER_UID)


def plant_foreign_dir(path: Path) -> None:
    path.mkdir(mode=0o700)
    os.chown(path, OTHER_UID, OTHER_UID)


def plant_symlink(path: Path) -> None:
    target = path.with_name(path.name + "-target")
    target.mkdir(mode=0o700)
    path.symlink_to(target)


PLANTED = [
    pytest.param(plant_open_dir, "mode 0777", id="wrong mode"),
    pytest.param(plant_foreign_salt, f"owned by uid {OTHER_UID}", id="another user's file"),
    pytest.param(plant_foreign_dir, f"belongs to uid {OTHER_UID}", id="another user's dir"),
    pytest.param(plant_symlink, "not a directory", id="symlink"),
]


@pytest.mark.parametrize(("plant", "message"), PLANTED)
def test_a_planted_salt_dir_is_refused(salt_dir: Path, plant: object, message: str) -> None:
    plant(salt_dir)  # type: ignore[operator]
    with pytest.raises(UnsafeSaltDir, match=message):
        SaltStore(salt_dir, ManualClock(utc(2026, 3, 10)))
    if salt_dir.is_symlink():
        shutil.rmtree(salt_dir.with_name(salt_dir.name + "-target"))


@pytest.mark.server
@pytest.mark.parametrize(("plant", "message"), PLANTED[:2])
def test_hush_serve_stops_with_a_clear_message(
    salt_dir: Path, plant: object, message: str, tmp_path: Path
) -> None:
    plant(salt_dir)  # type: ignore[operator]
    env = server_environment(tmp_path, HUSH_SALT_DIR=str(salt_dir), HUSH_PORT=str(free_port()))
    done = subprocess.run(
        [sys.executable, "-m", "hush.cli", "serve"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,  # a hush that does not refuse serves until killed
    )
    assert done.returncode == 2
    assert done.stderr.startswith("hush: refusing to start: salt dir "), done.stderr
    assert message in done.stderr
    assert not (tmp_path / "data" / "hush.duckdb").exists()  # refused before opening anything


def test_a_missing_salt_dir_is_created_private_and_reused(salt_dir: Path) -> None:
    old = os.umask(0o022)
    try:
        open_salt_dir(salt_dir)
        assert oct(salt_dir.stat().st_mode & 0o777) == "0o700"
        SaltStore(salt_dir, ManualClock(utc(2026, 3, 10))).current("UTC")
        open_salt_dir(salt_dir)  # its own dir, from an earlier start: accepted
    finally:
        os.umask(old)


def test_the_audit_names_a_foreign_owner(salt_dir: Path) -> None:
    plant_foreign_salt(salt_dir)
    files = salt_files_private(read_salts(salt_dir, utc(2026, 3, 10).timestamp()))
    assert not files.passed and f"belongs to uid {OTHER_UID}" in files.detail
    os.chown(salt_dir, OTHER_UID, OTHER_UID)
    directory = salt_dir_private(salt_dir)
    assert not directory.passed and f"belongs to uid {OTHER_UID}" in directory.detail
