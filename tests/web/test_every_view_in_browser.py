"""Every view of the dashboard, as each role sees it, in a real browser: Tab reaches every
control a person can see (disclosures opened), and each one shows where the focus is with a
ring that stands out from the page (WCAG 2.1.1, 2.4.7, 1.4.11); axe-core finds no serious or
critical violation, light or dark. Screenshots at 1280 and 390 px, light and dark, go to
tests/artifacts/ for a person to look at."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.servers import ProcessServer
from tests.web.conftest import Opener, Tab, add_user
from tests.web.test_site_view_in_browser import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.server]

USERS = {
    "marketing": "mo@example.com",
    "admin": "ana@example.com",
    "security": "sec@example.com",
}
# (screenshot name, who, path): every view; realtime paused, so it holds still while tested
VIEWS = [
    ("login", "", "/login"),
    ("overview", "marketing", "/"),
    ("site", "marketing", "/sites/example.com?period=7d&compare=previous_period"),
    ("site-filtered", "marketing", "/sites/example.com?period=day&f=is,event:page,/pricing"),
    ("details", "marketing", "/sites/example.com/pages?period=7d&sort=pageviews"),
    ("realtime", "marketing", "/sites/example.com/realtime?paused=1"),
    ("account", "marketing", "/account"),
    ("keys", "marketing", "/settings/keys"),
    ("site-empty", "admin", "/sites/other.example"),
    ("settings-sites", "admin", "/settings/sites"),
    ("settings-users", "admin", "/settings/users"),
    ("audit-log", "admin", "/audit-log"),
    ("not-found", "admin", "/sites/no-such.example"),
    ("security-site", "security", "/sites/example.com/security?period=day"),
    ("security-all", "security", "/security?period=7d"),
]
SHORTCUTS_HELP = "/sites/example.com?period=day&compare=previous_period"  # ? opens it
CONTROLS = (
    'a[href], button, input:not([type="hidden"]), select, textarea, summary,'
    ' [tabindex]:not([tabindex="-1"])'
)
# Marks every control a person can see with data-walk="<n>" and returns how to name each.
MARK_CONTROLS = """selector => {
  const named = [];
  const scope = document.querySelector('dialog:modal') || document;  // the rest is inert
  for (const el of scope.querySelectorAll(selector)) {
    if (el.disabled || el.closest('[inert]')) continue;
    if (!el.checkVisibility({visibilityProperty: true})) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    el.dataset.walk = String(named.length);
    const text = (el.getAttribute('aria-label') || el.textContent || el.name || el.id || '');
    named.push(el.tagName.toLowerCase() + ' ' + text.trim().replace(/\\s+/g, ' ').slice(0, 60));
  }
  return named;
}"""
# The focused control, how its focus ring is drawn, and the colour of what lies behind it.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  let behind = el.parentElement, background = 'rgba(0, 0, 0, 0)';
  while (behind) {
    background = getComputedStyle(behind).backgroundColor;
    if (!/rgba\\(.*, 0\\)$/.test(background) && background !== 'transparent') break;
    behind = behind.parentElement;
  }
  return {walk: el.dataset.walk ?? null, tag: el.tagName.toLowerCase(),
    focus_visible: el.matches(':focus-visible'), outline_style: style.outlineStyle,
    outline_width: parseFloat(style.outlineWidth), outline_color: style.outlineColor,
    background: behind ? background : 'rgb(255, 255, 255)'};
}"""


@dataclass
class Walk:
    controls: list[str]  # every visible control, in document order
    reached: list[int]  # the controls Tab reached, in order
    unseen_focus: list[str]  # controls whose focus ring is missing or too faint

    @property
    def unreached(self) -> list[str]:
        return [name for n, name in enumerate(self.controls) if n not in set(self.reached)]


def walk(page: Page, *, disclosures: bool = True) -> Walk:
    """Open every disclosure, then Tab from the top of the page until the focus leaves it (or
    of its open modal dialog)."""
    if disclosures:
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    controls: list[str] = page.evaluate(MARK_CONTROLS, CONTROLS)
    page.evaluate(  # the next Tab starts from the top, whatever has autofocus
        """() => { const top = document.querySelector('dialog:modal') || document.body;
        top.tabIndex = -1; top.focus(); top.removeAttribute('tabindex'); window.scrollTo(0, 0); }"""
    )
    reached: list[int] = []
    unseen: list[str] = []
    for _ in range(len(controls) * 3 + 20):  # a date field takes three Tabs
        page.keyboard.press("Tab")
        focused: dict[str, Any] | None = page.evaluate(FOCUSED)
        if focused is None or (reached and focused["walk"] == "0"):
            break  # out of the page, or round to its first control again
        if focused["walk"] is not None:
            index = int(focused["walk"])
            if index not in reached:
                reached.append(index)
                if not ring_is_visible(focused):
                    unseen.append(f"{controls[index]}: {json.dumps(focused)}")
    return Walk(controls, reached, unseen)


def ring_is_visible(focused: dict[str, Any]) -> bool:
    """A :focus-visible outline at least 2 px wide, 3:1 against what lies behind it."""
    return (
        focused["focus_visible"]
        and focused["outline_style"] not in ("none", "hidden")
        and focused["outline_width"] >= 2
        and contrast(focused["outline_color"], focused["background"]) >= 3
    )


def contrast(one: str, other: str) -> float:
    def luminance(colour: str) -> float:
        parts = [float(x) / 255 for x in re.findall(r"[\d.]+", colour)[:3]]
        linear = [p / 12.92 if p <= 0.04045 else ((p + 0.055) / 1.055) ** 2.4 for p in parts]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.fixture(scope="module", autouse=True)
def people(hush: ProcessServer) -> Iterator[None]:
    add_user(hush, USERS["marketing"], "marketing", "example.com")
    add_user(hush, USERS["admin"], "admin")
    add_user(hush, USERS["security"], "security", "example.com")
    yield


def tabs_of(tab: Opener, scheme: str) -> dict[str, Tab]:
    """A logged-in browser per role (and one logged out), in the colour scheme asked for."""
    found = {}
    for role in ("", *USERS):
        me = tab()
        me.page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        if role:
            me.log_in(USERS[role])
        found[role] = me
    return found


def test_tab_reaches_every_control_of_every_view_with_a_visible_focus(tab: Opener) -> None:
    tabs = tabs_of(tab, "light")
    unreached: dict[str, list[str]] = {}
    unseen: dict[str, list[str]] = {}
    for name, role, path in VIEWS:
        found = walk(tabs[role].open(path))
        assert len(found.controls) > 3, (name, found.controls)
        unreached[name], unseen[name] = found.unreached, found.unseen_focus
    page = tabs["marketing"].open(SHORTCUTS_HELP)
    page.keyboard.press("?")
    found = walk(page, disclosures=False)
    assert len(found.controls) > 10
    unreached["shortcuts-help"], unseen["shortcuts-help"] = found.unreached, found.unseen_focus
    names = [name for name, _, _ in VIEWS] + ["shortcuts-help"]
    assert unreached == {key: [] for key in names}, json.dumps(unreached, indent=1)
    assert unseen == {key: [] for key in names}, json.dumps(unseen, indent=1)
    for me in tabs.values():
        assert me.console_errors == [] and me.foreign_requests() == []


def test_the_walk_finds_an_unreachable_control_and_a_hidden_focus_ring(tab: Opener) -> None:
    tabs = tabs_of(tab, "dark")
    page = tabs["marketing"].open("/account")
    page.evaluate(
        """() => {
        document.querySelector('main').insertAdjacentHTML('beforeend',
          '<a href="/" tabindex="-1">mouse only</a><button class="plain">no ring</button>');
        const plain = document.querySelector('.plain');
        plain.style.outline = 'none';
        plain.style.boxShadow = 'none';
    }"""
    )
    found = walk(page)
    assert found.unreached == ["a mouse only"]
    assert [line.split(":")[0] for line in found.unseen_focus] == ["button no ring"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation_on_any_view(tab: Opener, scheme: str) -> None:
    tabs = tabs_of(tab, scheme)
    found: dict[str, list[str]] = {}
    for name, role, path in VIEWS:
        page = tabs[role].open(path)
        found[name] = axe_violations(page)
        tabs[role].shoot(f"view-{name}-{scheme}")
    page = tabs["marketing"].open(SHORTCUTS_HELP)
    page.keyboard.press("?")
    found["shortcuts-help"] = axe_violations(page)
    tabs["marketing"].shoot(f"view-shortcuts-help-{scheme}")
    names = [name for name, _, _ in VIEWS] + ["shortcuts-help"]
    assert found == {key: [] for key in names}, json.dumps(found, indent=1)
