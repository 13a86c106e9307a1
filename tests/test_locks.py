"""Installs are pinned: the lock files pin every dependency pyproject.toml names, within its
ranges, with hashes, and the server's lock runs exactly the versions the test lock runs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)", re.M)


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def _entries(lock: str) -> list[str]:
    text = (ROOT / "requirements" / lock).read_text()
    return re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2].strip())


def _required(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    names = list(project["dependencies"])
    for extra in extras:
        names += project["optional-dependencies"][extra]
    return [Requirement(name) for name in names]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [
        ("serve.lock", ()),
        ("dev.lock", ("test", "bench", "lake", "lake-test")),
        ("lake.lock", ("lake",)),
    ],
    ids=["serve", "dev", "lake"],
)
def test_every_dependency_is_pinned_within_pyprojects_range(
    lock: str, extras: tuple[str, ...]
) -> None:
    pins = _pins(lock)
    missing = [str(r) for r in _required(*extras) if canonicalize_name(r.name) not in pins]
    outside = [
        f"{r.name}=={pins[canonicalize_name(r.name)]} is outside {r.specifier}"
        for r in _required(*extras)
        if canonicalize_name(r.name) in pins
        and not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)
    ]
    assert (missing, outside) == ([], []), "run scripts/lock and commit the locks"


@pytest.mark.parametrize("lock", ["serve.lock", "dev.lock", "lake.lock"])
def test_every_pin_carries_its_hashes(lock: str) -> None:
    unhashed = [entry.split()[0] for entry in _entries(lock) if "--hash=sha256:" not in entry]
    assert unhashed == []


@pytest.mark.parametrize("lock", ["serve.lock", "lake.lock"])
def test_the_server_runs_the_versions_the_suite_ran(lock: str) -> None:
    server, dev = _pins(lock), _pins("dev.lock")
    assert {name: dev.get(name) for name in server} == server
