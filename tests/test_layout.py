"""The layout's one import rule (DESIGN §6): the collector stands alone, the read side reads
through the writer's store and never reaches into the hot path, and only the composition root
wires the dashboard in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hush", "collector", "aggregator", "dashboard", "privacy_audit", "demo", "snippet")

# package -> the sibling packages it must never import
FORBIDDEN = {
    "collector": set(PACKAGES) - {"collector"},
    "aggregator": {"dashboard", "hush", "privacy_audit", "demo", "snippet"},
    "dashboard": {"collector", "hush", "privacy_audit", "demo"},
    "privacy_audit": {"dashboard", "hush"},
    "demo": {"dashboard", "hush", "privacy_audit"},
    "snippet": set(PACKAGES) - {"snippet"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level packages a module imports, TYPE_CHECKING and function-local imports included."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_only_what_the_layout_allows(package: str) -> None:
    broken = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: names for path, names in broken.items() if names} == {}


def test_the_rule_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import collector.x\n"
    )
    assert "collector" in imported_packages(module)
