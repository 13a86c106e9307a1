"""Every view of the dashboard, as each role sees it, in a real browser: Tab reaches every
control a person can see (disclosures opened), and each one shows where the focus is with a
ring that stands out from the page (WCAG 2.1.1, 2.4.7, 1.4.11); axe-core finds no serious or
critical violation, light or dark. Screenshots at 1280 and 390 px, light and dark, go to
tests/artifacts/ for a person to look at."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from playwright.sync_api import Page

from tests.servers import ThreadServer
from tests.web.conftest import Opener, Tab, add_user

pytestmark = [pytest.mark.browser, pytest.mark.server]

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SCHEMES: tuple[Literal["light", "dark"], ...] = ("light", "dark")

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


def inject_axe(page: Page) -> None:
    """axe-core, evaluated through the driver (so the page's CSP is untouched), once per page."""
    page.evaluate(AXE.read_text())


def axe_violations(page: Page) -> list[str]:
    """Serious and critical axe-core findings on the page as it is now (axe injected)."""
    result = page.evaluate(
        "async () => { const r = await axe.run(document);"
        " return {passes: r.passes.length, violations: r.violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))}; }"
    )
    assert result["passes"] > 10, result  # axe really ran its rules on this page
    return list(result["violations"])


@pytest.fixture(scope="module")
def tabs(hush: ThreadServer, module_tab: Opener) -> dict[str, Tab]:
    """A logged-in browser per role (and one logged out), kept for the module's tests."""
    add_user(hush, USERS["marketing"], "marketing", "example.com")
    add_user(hush, USERS["admin"], "admin")
    add_user(hush, USERS["security"], "security", "example.com")
    found = {}
    for role in ("", *USERS):
        me = module_tab()
        if role:
            me.log_in(USERS[role])
        found[role] = me
    return found


@dataclass
class Survey:
    """What every view showed: axe's findings per scheme, the Tab walk, what each tab saw."""

    axe: dict[str, dict[str, list[str]]]  # scheme -> view -> findings
    walks: dict[str, Walk]  # view -> the walk, light
    console_errors: dict[str, list[str]]  # role -> errors over the whole survey
    foreign_requests: dict[str, list[str]]


@pytest.fixture(scope="module")
def survey(tabs: dict[str, Tab]) -> Survey:
    """Each view loaded once: axe and screenshots in light, then dark (the scheme switched on
    the loaded page: dark mode is CSS alone, ``prefers-color-scheme``), then the Tab walk in
    light (last: it opens every disclosure)."""
    found = Survey({scheme: {} for scheme in SCHEMES}, {}, {}, {})
    for me in tabs.values():
        me.forget()

    def look(me: Tab, name: str, *, disclosures: bool = True) -> None:
        inject_axe(me.page)
        for scheme in SCHEMES:
            me.page.emulate_media(color_scheme=scheme)
            found.axe[scheme][name] = axe_violations(me.page)
            me.shoot(f"view-{name}-{scheme}")
        me.page.emulate_media(color_scheme="light")
        found.walks[name] = walk(me.page, disclosures=disclosures)

    for name, role, path in VIEWS:
        tabs[role].page.emulate_media(color_scheme="light")
        tabs[role].open(path)
        look(tabs[role], name)
    page = tabs["marketing"].open(SHORTCUTS_HELP)
    page.keyboard.press("?")
    look(tabs["marketing"], "shortcuts-help", disclosures=False)
    for role, me in tabs.items():
        found.console_errors[role] = list(me.console_errors)
        found.foreign_requests[role] = me.foreign_requests()
    return found


NAMES = [name for name, _, _ in VIEWS] + ["shortcuts-help"]


def test_tab_reaches_every_control_of_every_view_with_a_visible_focus(survey: Survey) -> None:
    for name in NAMES:
        assert len(survey.walks[name].controls) > (10 if name == "shortcuts-help" else 3), (
            name,
            survey.walks[name].controls,
        )
    unreached = {name: survey.walks[name].unreached for name in NAMES}
    unseen = {name: survey.walks[name].unseen_focus for name in NAMES}
    assert unreached == {key: [] for key in NAMES}, json.dumps(unreached, indent=1)
    assert unseen == {key: [] for key in NAMES}, json.dumps(unseen, indent=1)
    assert survey.console_errors == {role: [] for role in survey.console_errors}
    assert survey.foreign_requests == {role: [] for role in survey.foreign_requests}


def test_the_walk_finds_an_unreachable_control_and_a_hidden_focus_ring(
    tabs: dict[str, Tab],
) -> None:
    page = tabs["marketing"].page
    page.emulate_media(color_scheme="dark")
    tabs["marketing"].open("/account")
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


@pytest.mark.parametrize("scheme", SCHEMES)
def test_axe_finds_no_serious_violation_on_any_view(survey: Survey, scheme: str) -> None:
    assert set(survey.axe[scheme]) == set(NAMES)
    assert survey.axe[scheme] == {key: [] for key in NAMES}, json.dumps(
        survey.axe[scheme], indent=1
    )
