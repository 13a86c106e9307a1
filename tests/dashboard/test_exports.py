"""Exports (``traffic.export``): a panel's CSV holds the details view's rows, the ZIP holds the
graph's series and every tab of every panel with the Stats API's figures for the same query,
cells are formula-safe, hidden figures read "< k", and every download is in the audit log."""

from __future__ import annotations

import csv
import html
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from aggregator import audit_log
from dashboard.web.panels import PANELS, shown_dimension
from dashboard.web.view_state import ViewState
from tests.dashboard.pages import rows
from tests.harness import Harness, add_user, in_process, log_in

DEMO = "demo.example"


@dataclass(frozen=True, slots=True)
class Span:
    """The demo's days: as the dashboard's URL asks for them, and as the Stats API does."""

    query: str
    dates: str


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, Span]]:
    with in_process(tmp_path_factory.mktemp("exports")) as harness:
        demo = harness.admin("demo", events=3000, days=7, site=DEMO)["demo"]
        harness.store_events(
            {
                "n": "pageview",
                "u": "https://example.com/=cmd?utm_campaign==cmd|' /C calc'!A0&utm_source=-2%2B3",
                "d": "example.com",
            }
        )
        add_user(harness, "admin@example.com", "admin")
        add_user(harness, "mo@example.com", "marketing", "example.com")
        add_user(harness, "sec@example.com", "security", DEMO)
        assert log_in(harness, "admin@example.com").status_code == 303
        first, last = demo["first_day"], demo["last_day"]
        yield harness, Span(f"period=custom&from={first}&to={last}", f"{first},{last}")


@pytest.fixture(scope="module")
def hush(made: tuple[Harness, Span]) -> Harness:
    return made[0]


@pytest.fixture(scope="module")
def span(made: tuple[Harness, Span]) -> Span:
    return made[1]


@pytest.fixture(scope="module")
def archive(hush: Harness, span: Span) -> zipfile.ZipFile:
    response = hush.client.get(f"/sites/{DEMO}/export?{span.query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert re.fullmatch(
        r'attachment; filename="hush-demo.example-[0-9-]+\.zip"',
        response.headers["content-disposition"],
    )
    return zipfile.ZipFile(io.BytesIO(response.content))


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def number(cell: str) -> float | None:
    return None if cell == "" else float(cell)


def test_the_zip_holds_the_series_and_every_tab_of_every_panel(archive: zipfile.ZipFile) -> None:
    names = set(archive.namelist())
    expected = {f"{panel.key}-{tab.key}.csv" for panel in PANELS.values() for tab in panel.tabs}
    assert "visitors.csv" in names and expected <= names
    assert "sources-channels.csv" in names
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", name) for name in names)


def test_the_series_states_the_time_zone_and_equals_the_api(
    hush: Harness, span: Span, archive: zipfile.ZipFile
) -> None:
    series = read_csv(archive.read("visitors.csv"))
    assert list(series[0]) == [
        "date (Europe/Berlin)", "visitors", "visits", "pageviews", "views_per_visit",
        "bounce_rate (%)", "visit_duration (s)",
    ]  # fmt: skip
    api = hush.results(
        "timeseries",
        site_id=DEMO,
        period="custom",
        date=span.dates,
        metrics="visitors,pageviews",
    )
    assert [
        (r["date (Europe/Berlin)"], int(r["visitors"]), int(r["pageviews"])) for r in series
    ] == [(point["date"], point["visitors"], point["pageviews"]) for point in api]
    assert sum(int(r["visitors"]) for r in series) > 0


def test_every_tab_equals_the_stats_api_breakdown(
    hush: Harness, span: Span, archive: zipfile.ZipFile
) -> None:
    for panel in PANELS.values():
        for tab in panel.tabs:
            dimension, _ = shown_dimension(tab, ViewState())
            # v1 has no scroll depth (Plausible's list); the rest is compared
            metrics = [m for m in tab.details_metrics if m not in ("exit_rate", "scroll_depth")]
            api = hush.results(
                "breakdown",
                site_id=DEMO,
                period="custom",
                date=span.dates,
                property=dimension,
                metrics=",".join(metrics),
                limit=1000,
            )
            key = dimension.rsplit(":", 1)[-1]
            exported = read_csv(archive.read(f"{panel.key}-{tab.key}.csv"))
            headers = {m: h for h, m in _header_metrics(exported)}
            assert len(exported) == len(api), (panel.key, tab.key)
            want = {str(row[key]): [row[m] for m in metrics] for row in api}
            got = {row[key]: [number(row[headers[m]]) for m in metrics] for row in exported}
            assert got == {
                k: [None if v is None else float(v) for v in vs] for k, vs in want.items()
            }
            assert any(row["visitors"] != "0" for row in exported), (panel.key, tab.key)


def _header_metrics(exported: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(h, h.split(" ")[0]) for h in exported[0]][1:] if exported else []


def test_the_panel_csv_holds_the_details_views_rows(hush: Harness, span: Span) -> None:
    view = f"/sites/{DEMO}/pages?{span.query}&sort=pageviews"
    first = hush.client.get(view).text
    shown = rows(first)
    counted = re.search(r"page 1 of (\d+)", first)
    pages = int(counted.group(1)) if counted else 1
    for n in range(2, pages + 1):
        shown += rows(hush.client.get(f"{view}&page={n}").text)
    response = hush.client.get(f"/sites/{DEMO}/pages.csv?{span.query}&sort=pageviews")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    exported = read_csv(response.content)
    assert list(exported[0]) == [
        "page", "visitors", "pageviews", "bounce_rate (%)", "time_on_page (s)", "scroll_depth (%)",
    ]  # fmt: skip
    assert [row["page"] for row in exported] == [html.unescape(row["first"]) for row in shown]
    assert [f"{int(row['pageviews']):,}" for row in exported] == [row["pageviews"] for row in shown]
    # ?format=csv on the details view is the same download
    again = hush.client.get(f"/sites/{DEMO}/pages?{span.query}&sort=pageviews&format=csv")
    assert again.content == response.content


def test_a_countrys_csv_carries_its_code_and_name(hush: Harness, span: Span) -> None:
    response = hush.client.get(f"/sites/{DEMO}/locations.csv?{span.query}")
    exported = read_csv(response.content)
    assert list(exported[0])[:2] == ["country", "country_name"]
    named = {row["country"]: row["country_name"] for row in exported}
    assert all(len(code) == 2 or (code == "" and name == "Unknown") for code, name in named.items())
    assert any(name not in ("", "Unknown") and name != code for code, name in named.items())


def test_cells_that_would_run_as_formulas_are_neutralised(hush: Harness) -> None:
    campaigns = hush.client.get("/sites/example.com/sources.csv?sources_tab=campaigns&period=day")
    assert campaigns.status_code == 200
    text = campaigns.content.decode()
    assert "'=cmd|' /C calc'!A0" in text and "\r\n=cmd" not in text  # UTM as sent
    sources = hush.client.get("/sites/example.com/sources.csv?sources_tab=sources&period=day")
    assert "\r\n'-2 3," in sources.content.decode()  # the URL's + is a space
    zipped = hush.client.get("/sites/example.com/export?period=day")
    inside = zipfile.ZipFile(io.BytesIO(zipped.content)).read("sources-campaigns.csv").decode()
    assert "'=cmd" in inside and "\r\n=" not in inside


def test_suppressed_rows_read_less_than_k(tmp_path_factory: pytest.TempPathFactory) -> None:
    with in_process(tmp_path_factory.mktemp("k3"), HUSH_MIN_VISITORS="3") as small:
        for n in range(3):
            small.store_events(
                {"n": "pageview", "u": "https://example.com/a", "d": "example.com"},
                ip=f"203.0.113.{n + 1}",
            )
        small.store_events(
            {"n": "pageview", "u": "https://example.com/only-me", "d": "example.com"},
            ip="203.0.113.99",
        )
        add_user(small, "admin@example.com", "admin")
        log_in(small, "admin@example.com")
        exported = small.client.get("/sites/example.com/pages.csv?period=day").content.decode()
        lines = exported.splitlines()
        assert lines[1].startswith("/a,3,")
        assert lines[2] == "(fewer than 3),< 3,< 3,< 3,< 3,< 3"
        assert "only-me" not in exported
        zipped = small.client.get("/sites/example.com/export?period=day&f=is,event:page,/only-me")
        inside = zipfile.ZipFile(io.BytesIO(zipped.content))
        series = inside.read("visitors.csv").decode().splitlines()
        assert series[0].startswith("date (UTC),visitors")
        assert any(line.endswith(",< 3,< 3,< 3,< 3,< 3,< 3,< 3,< 3") for line in series[1:])
        assert "only-me" not in inside.read("pages-top.csv").decode()


def test_exports_are_audited_with_their_period_and_filters(hush: Harness) -> None:
    hush.client.get(f"/sites/{DEMO}/export?period=7d&f=is,visit:device,Desktop")
    hush.client.get(f"/sites/{DEMO}/sources.csv?period=7d&sources_tab=sources&q=o")
    found = audit_log.entries(hush.app.store, audit_log.Filters(group="export"), limit=2)
    by_action: dict[str, Any] = {entry.action: entry for entry in found}
    assert set(by_action) == {"export.zip", "export.csv"}
    zipped, panel = by_action["export.zip"], by_action["export.csv"]
    assert zipped.target == DEMO and zipped.actor.email == "admin@example.com"
    assert zipped.changes["period"] == "7d"
    assert zipped.changes["filters"] == ["is,visit:device,Desktop"]
    assert panel.changes["panel"] == "sources" and panel.changes["tab"] == "sources"
    assert panel.changes["q"] == "o" and panel.changes["period"] == "7d"


def test_a_bad_export_url_is_a_page_not_a_partial_file(hush: Harness) -> None:
    for path in (
        f"/sites/{DEMO}/export?period=bogus",
        f"/sites/{DEMO}/pages.csv?sort=bogus",
        f"/sites/{DEMO}/pages.csv?dir=up",
    ):
        response = hush.client.get(path)
        assert response.status_code == 400, path
        assert "Nothing was exported" in response.text
    assert hush.client.get(f"/sites/{DEMO}/nonsense.csv").status_code == 404
    assert hush.client.get("/sites/nowhere.example/export").status_code == 404


def test_exporting_needs_the_site_and_the_export_right(hush: Harness) -> None:
    try:
        for email in ("mo@example.com", "sec@example.com"):
            hush.client.cookies.clear()
            assert log_in(hush, email).status_code == 303
            assert hush.client.get(f"/sites/{DEMO}/export").status_code == 403, email
            assert hush.client.get(f"/sites/{DEMO}/pages.csv").status_code == 403, email
        hush.client.cookies.clear()
        log_in(hush, "mo@example.com")
        assert hush.client.get("/sites/example.com/export?period=day").status_code == 200
        page = hush.client.get(f"/sites/{DEMO}/pages", follow_redirects=False)
        assert page.status_code == 403
    finally:
        hush.client.cookies.clear()
        log_in(hush, "admin@example.com")
