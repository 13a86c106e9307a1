"""The shipped files: built from the one readable source by a real minifier, byte for byte
reproducible, within the byte budget, and saying in their source what they send (issue 3)."""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path

import pytest

from tests.snippet.pages import SOURCE, header_fields, header_section

ROOT = SOURCE.parents[2]
DIST = ROOT / "snippet" / "dist"
VARIANTS = ("hush", "hush.engagement", "hush.full")


@pytest.mark.parametrize(
    ("variant", "max_minified", "max_gzipped"),
    [
        pytest.param("hush", 1000, 600, id="core"),
        pytest.param("hush.full", 2200, 1100, id="everything on"),
    ],
)
def test_each_script_is_within_its_byte_budget(
    variant: str, max_minified: int, max_gzipped: int
) -> None:
    minified = (DIST / f"{variant}.js").read_bytes()
    gzipped = (DIST / f"{variant}.js.gz").read_bytes()
    assert len(minified) <= max_minified
    assert len(gzipped) <= max_gzipped
    assert gzip.decompress(gzipped) == minified


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh build into a temporary directory, with the Node and terser the project pins."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [ROOT / "scripts" / "build-snippet", "--out", out],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_a_rebuild_gives_the_committed_bytes(rebuilt: Path) -> None:
    committed = sorted(path.name for path in DIST.iterdir())
    assert sorted(path.name for path in rebuilt.iterdir()) == committed
    assert committed == sorted(f"{variant}.js{gz}" for variant in VARIANTS for gz in ("", ".gz"))
    for name in committed:
        fresh = (rebuilt / name).read_bytes()
        assert fresh == (DIST / name).read_bytes(), (
            f"dist/{name} is stale: run scripts/build-snippet"
        )


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_shipped_files_are_minified_from_the_source_not_by_hand(variant: str) -> None:
    code = (DIST / f"{variant}.js").read_text()
    assert "\n" not in code and "/*" not in code
    # Mangled: none of the source's own names survives.
    for name in ("endpoint", "lastPage", "pageUrl", "hashRouting", "visibleSince", "onClick"):
        assert not re.search(rf"\b{name}\b", code), name


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_variant_can_touch_cookies_or_storage_or_send_a_beacon(variant: str) -> None:
    code = (DIST / f"{variant}.js").read_text()
    for forbidden in ("cookie", "localStorage", "sessionStorage", "indexedDB", "sendBeacon"):
        assert forbidden not in code
    assert 'credentials:"omit"' in code
    assert "keepalive:!0" in code


def test_variants_grow_with_their_features() -> None:
    sizes = [len((DIST / f"{variant}.js").read_bytes()) for variant in VARIANTS]
    assert sizes == sorted(sizes)
    full = (DIST / "hush.full.js").read_text()
    for attribute in ("outbound", "downloads", "forms", "404", "hash", "include", "exclude"):
        assert f'"{attribute}"' in full or f".{attribute}" in full, attribute
    core = (DIST / "hush.js").read_text()
    assert "outbound" not in core and "engagement" not in core


def test_the_source_header_lists_every_field_sent_and_every_silence() -> None:
    assert header_fields() == {"n", "u", "d", "r", "p", "i", "h", "sd", "e"}
    silences = header_section("IT SENDS NOTHING AT ALL")
    code = SOURCE.read_text().split("*/", 1)[1]
    for guard in (
        "globalPrivacyControl",
        "localhost",
        "webdriver",
        "testing",
        "hushIgnore",
        "prerendering",
        "currentScript",
        "include",
        "exclude",
    ):
        assert guard in code, guard
        assert guard in silences, f"the header does not say that {guard} silences the snippet"


def test_the_readme_states_the_sizes_of_the_shipped_files() -> None:
    readme = (ROOT / "README.md").read_text()
    for variant in VARIANTS:
        minified = len((DIST / f"{variant}.js").read_bytes())
        gzipped = len((DIST / f"{variant}.js.gz").read_bytes())
        row = f"| `/js/{variant}.js` |"
        [line] = [line for line in readme.splitlines() if line.startswith(row)]
        assert line.endswith(f"| {minified:,} / {gzipped:,} |"), line
