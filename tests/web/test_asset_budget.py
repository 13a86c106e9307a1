"""The dashboard's own script and stylesheet stay small (issue 10: first-party JS at most
15 KB and CSS at most 10 KB, gzipped), whatever is added to them."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "dashboard" / "web" / "static"
BUDGETS = {"js": 15_000, "css": 10_000}  # bytes, gzip -9, all files of the kind together


@pytest.mark.parametrize("kind", sorted(BUDGETS))
def test_first_party_assets_fit_their_gzip_budget(kind: str) -> None:
    files = sorted(STATIC.glob(f"*.{kind}"))
    assert files, kind
    together = b"".join(path.read_bytes() for path in files)
    assert len(gzip.compress(together, compresslevel=9)) <= BUDGETS[kind]
