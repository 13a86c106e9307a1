"""Removing a site removes its data, and its bytes too (P8)."""

from __future__ import annotations

from pathlib import Path

from tests.harness import in_process


def test_removing_a_site_leaves_none_of_its_bytes(tmp_path: Path) -> None:
    marker = "zzqxmarker-oncology"
    with in_process(tmp_path, site="gone.example") as hush:
        hush.add_site("kept.example")
        for n in range(50):
            hush.store_events(
                {
                    "n": "Diagnosis",
                    "u": f"https://gone.example/patient/{marker}-{n}",
                    "d": "gone.example",
                    "p": {"diagnosis": f"{marker}-melanoma"},
                },
                ip=f"203.0.113.{n}",
            )
        hush.store_events({"n": "pageview", "u": "https://kept.example/", "d": "kept.example"})
        hush.app.store.checkpoint()
        path = hush.app.store.path
        assert marker.encode() in path.read_bytes()
        hush.admin("sites.remove", domain="gone.example")
        files = [path, path.with_name(path.name + ".wal")]
        assert [f.name for f in files if f.exists() and marker.encode() in f.read_bytes()] == []
        assert hush.metric("visitors", site_id="kept.example", period="day") == 1
