"""The admin pages (DESIGN §5 ``/settings/sites``, ``/settings/users``, ``/settings/keys``), in
process: what an admin can change, what a marketing user can and cannot, and that every change
is an audit log entry by the person who made it."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest

from aggregator import api_keys, audit_log, sites, users
from aggregator.audit_log import Filters
from tests.dashboard.pages import ORIGIN, message, rows, submit
from tests.harness import Harness, add_user, in_process, log_in

ADMIN, MARKETING = "ana@example.com", "mo@example.com"


@pytest.fixture
def admin(app: Harness) -> Harness:
    """The app with example.com, and ana (admin) logged in."""
    add_user(app, ADMIN, "admin")
    assert log_in(app, ADMIN).status_code == 303
    return app


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """ana (admin) logged in, and mo (marketing): for the tests that only read pages."""
    with in_process(tmp_path_factory.mktemp("pages")) as app:
        add_user(app, ADMIN, "admin")
        add_user(app, MARKETING, "marketing", "example.com")
        log_in(app, ADMIN)
        yield app


def last_entry(h: Harness, group: str) -> audit_log.Entry:
    return audit_log.entries(h.app.store, Filters(group=group), limit=1)[0]


def test_an_admin_adds_changes_and_removes_a_site(admin: Harness) -> None:
    added = submit(admin, "/settings/sites/add", domain="Shop.Example", timezone="Europe/Berlin")
    assert added.status_code == 200
    assert message(added.text) == "Added shop.example. Put its snippet on every page of the site."
    site = sites.find_site(admin.app.store, "shop.example")
    assert site is not None and site.timezone == "Europe/Berlin"
    public = admin.app.read_side.web.public_url
    tag = f'<script defer data-domain="shop.example" src="{public}/js/hush.js"></script>'
    assert tag in html.unescape(added.text)
    assert {"first": "shop.example", "Time zone": "Europe/Berlin"}.items() <= {
        **rows(added.text)[1]
    }.items()

    changed = submit(
        admin,
        "/settings/sites/change",
        domain="shop.example",
        timezone="America/New_York",
        hash_routing="on",  # and honour_dnt unticked
    )
    assert changed.status_code == 200
    assert sites.find_site(admin.app.store, "shop.example") == sites.Site(
        site.id, "shop.example", "America/New_York", honour_dnt=False, hash_routing=True
    )
    assert f'data-hash src="{public}/js/hush.full.js"' in html.unescape(changed.text)
    entry = last_entry(admin, "site")
    assert (entry.action, entry.target, entry.actor.email) == ("site.update", "shop.example", ADMIN)
    assert entry.changes == {
        "timezone": ["Europe/Berlin", "America/New_York"],
        "honour_dnt": [True, False],
        "hash_routing": [False, True],
    }

    refused = submit(admin, "/settings/sites/change", domain="shop.example", timezone="Mars/Base")
    assert refused.status_code == 400
    assert "'Mars/Base' is not a time zone" in message(refused.text)
    assert sites.find_site(admin.app.store, "shop.example").timezone == "America/New_York"  # type: ignore[union-attr]


@pytest.mark.parametrize("typed", ["", "shop.exampl", "example.com"])
def test_a_site_is_removed_only_after_its_domain_is_typed(admin: Harness, typed: str) -> None:
    admin.add_site("shop.example")
    refused = submit(admin, "/settings/sites/remove", domain="shop.example", confirm=typed)
    assert refused.status_code == 400
    assert message(refused.text) == (
        "To remove shop.example, type its domain into the box. Nothing was removed."
    )
    assert sites.find_site(admin.app.store, "shop.example") is not None

    removed = submit(admin, "/settings/sites/remove", domain="shop.example", confirm="shop.example")
    assert removed.status_code == 200
    assert sites.find_site(admin.app.store, "shop.example") is None
    entry = last_entry(admin, "site")
    assert (entry.action, entry.target, entry.actor.email) == ("site.remove", "shop.example", ADMIN)


def test_a_refused_site_shows_the_reason_and_keeps_what_was_typed(admin: Harness) -> None:
    page = submit(admin, "/settings/sites/add", domain="example.com", timezone="UTC")
    assert page.status_code == 400
    assert message(page.text) == "example.com is already a site."
    bad = submit(admin, "/settings/sites/add", domain="not a domain", timezone="UTC")
    assert bad.status_code == 400
    assert 'value="not a domain"' in bad.text


def test_an_admin_adds_a_user_and_their_link_works_once(admin: Harness) -> None:
    page = submit(
        admin, "/settings/users/add", email="Mo@Example.com", role="marketing",
        **{"site:example.com": "on"},
    )  # fmt: skip
    assert page.status_code == 200
    public = admin.app.read_side.web.public_url
    link = re.search(rf"{re.escape(public)}/reset/[\w-]+", page.text)
    assert link, page.text
    assert rows(page.text)[1] == {
        "first": MARKETING,
        "Role": "marketing",
        "Sites": "example.com",
        "Password": "not yet: waiting for their link",
    }
    entry = last_entry(admin, "user")
    assert (entry.action, entry.target, entry.actor.email) == ("user.create", MARKETING, ADMIN)
    assert entry.changes == {"role": [None, "marketing"], "sites": [None, ["example.com"]]}
    assert link.group(0) not in admin.client.get("/settings/users").text  # shown once

    path = link.group(0).removeprefix(public)
    assert admin.client.get(path).status_code == 200
    chosen = admin.client.post(
        path,
        data={"password": "a new password of mine"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert chosen.status_code == 303  # and this browser is now Mo's
    user = users.find_user(admin.app.store, MARKETING)
    assert user is not None and user.has_password
    assert admin.client.get(path).status_code == 410
    again = admin.client.post(
        path, data={"password": "another password!!"}, headers=ORIGIN, follow_redirects=False
    )
    assert again.status_code == 410


def test_an_admin_changes_a_users_role_and_sites_and_removes_them(admin: Harness) -> None:
    admin.add_site("shop.example")
    add_user(admin, MARKETING, "marketing", "example.com")
    changed = submit(
        admin, "/settings/users/change", email=MARKETING, role="security",
        **{"site:shop.example": "on"},
    )  # fmt: skip
    assert changed.status_code == 200
    user = users.find_user(admin.app.store, MARKETING)
    assert user is not None and (user.role, user.sites) == ("security", ("shop.example",))
    entry = last_entry(admin, "user")
    assert (entry.action, entry.target, entry.actor.email) == ("user.update", MARKETING, ADMIN)
    assert entry.changes == {
        "role": ["marketing", "security"],
        "sites": [["example.com"], ["shop.example"]],
    }

    reset = submit(admin, "/settings/users/reset", email=MARKETING)
    assert reset.status_code == 200 and "/reset/" in reset.text
    assert last_entry(admin, "user").action == "user.reset_link"

    kept = submit(admin, "/settings/users/remove", email=MARKETING, confirm="someone@else.com")
    assert kept.status_code == 400
    assert users.find_user(admin.app.store, MARKETING) is not None
    gone = submit(admin, "/settings/users/remove", email=MARKETING, confirm=MARKETING.upper())
    assert gone.status_code == 200
    assert users.find_user(admin.app.store, MARKETING) is None
    assert last_entry(admin, "user").action == "user.remove"


def test_the_last_admin_cannot_be_demoted(admin: Harness) -> None:
    page = submit(admin, "/settings/users/change", email=ADMIN, role="marketing")
    assert page.status_code == 400
    assert message(page.text).startswith("Hush needs at least one admin")
    assert users.find_user(admin.app.store, ADMIN).role == "admin"  # type: ignore[union-attr]


def new_key(h: Harness, name: str, **fields: str) -> str:
    page = submit(h, "/settings/keys/add", name=name, **fields)
    assert page.status_code == 200, message(page.text)
    found = re.search(r'<textarea id="new-key"[^>]*>(hush_[\w-]+)</textarea>', page.text)
    assert found, page.text
    return found.group(1)


def test_a_key_is_shown_once_and_then_reads_the_stats_api(admin: Harness) -> None:
    key = new_key(admin, "weekly report")
    assert admin.stats("aggregate", key=key, site_id="example.com").status_code == 200
    listing = admin.client.get("/settings/keys").text
    assert key not in listing and f"{key[:9]}…" in listing
    mine = next(row for row in rows(listing) if row["first"] == "weekly report")
    assert (mine["Owner"], mine["Sites"], mine["State"]) == (ADMIN, "all of the owner's", "active")
    entry = last_entry(admin, "key")
    assert (entry.action, entry.target, entry.actor.email) == ("key.create", "weekly report", ADMIN)

    record = next(k for k in api_keys.list_keys(admin.app.store) if k.name == "weekly report")
    revoked = submit(admin, "/settings/keys/revoke", id=str(record.id))
    assert revoked.status_code == 200
    assert admin.stats("aggregate", key=key, site_id="example.com").status_code == 401
    assert last_entry(admin, "key").action == "key.revoke"


def test_an_admin_makes_a_key_for_another_user_limited_to_their_sites(admin: Harness) -> None:
    admin.add_site("shop.example")
    add_user(admin, MARKETING, "marketing", "example.com")
    refused = submit(
        admin, "/settings/keys/add", name="theirs", owner=MARKETING,
        **{"site:shop.example": "on"},
    )  # fmt: skip
    assert refused.status_code == 400
    assert message(refused.text) == "The key's owner cannot read 'shop.example'."
    key = new_key(admin, "theirs", owner=MARKETING)
    assert api_keys.list_keys(admin.app.store)[-1].user == MARKETING
    assert admin.stats("aggregate", key=key, site_id="example.com").status_code == 200
    assert admin.stats("aggregate", key=key, site_id="shop.example").status_code == 401


@pytest.fixture
def marketing(app: Harness) -> Harness:
    """example.com and shop.example; ana (admin) and mo (marketing, example.com only), mo
    logged in."""
    app.add_site("shop.example")
    add_user(app, ADMIN, "admin")
    add_user(app, MARKETING, "marketing", "example.com")
    assert log_in(app, MARKETING).status_code == 303
    return app


@pytest.mark.parametrize(
    ("path", "missing"),
    [
        ("/settings/sites", "add, change and remove sites"),
        ("/settings/users", "add, change and remove users"),
    ],
)
def test_a_marketing_user_cannot_open_the_admin_pages(
    marketing: Harness, path: str, missing: str
) -> None:
    page = marketing.client.get(path)
    assert page.status_code == 403
    assert f"Your account may not {missing}." in page.text
    assert "It needs the admin role." in page.text


def test_a_marketing_user_cannot_post_to_the_admin_pages(marketing: Harness) -> None:
    page = submit(marketing, "/settings/sites/add", domain="mine.example")
    assert page.status_code == 403
    assert sites.find_site(marketing.app.store, "mine.example") is None
    assert submit(marketing, "/settings/users/reset", email=ADMIN).status_code == 403


def test_a_marketing_users_key_reads_only_their_sites(marketing: Harness) -> None:
    key = new_key(marketing, "mine")
    assert marketing.stats("aggregate", key=key, site_id="example.com").status_code == 200
    assert marketing.stats("aggregate", key=key, site_id="shop.example").status_code == 401
    refused = submit(marketing, "/settings/keys/add", name="sneaky", **{"site:shop.example": "on"})
    assert refused.status_code == 400


def test_a_marketing_user_sees_and_revokes_only_their_own_keys(marketing: Harness) -> None:
    new_key(marketing, "mine")
    page = marketing.client.get("/settings/keys").text
    assert [row["first"] for row in rows(page)] == ["mine"]  # not the admin's "tests" key
    assert "Owner</label>" not in page  # no choice of owner

    admins_key = next(k for k in api_keys.list_keys(marketing.app.store) if k.name == "tests")
    refused = submit(marketing, "/settings/keys/revoke", id=str(admins_key.id))
    assert refused.status_code == 400
    assert marketing.stats("aggregate", site_id="example.com").status_code == 200  # still works
    for_another = submit(marketing, "/settings/keys/add", name="theirs", owner=ADMIN)
    assert for_another.status_code == 403
    assert "may not manage everyone's API keys" in html.unescape(for_another.text)
    assert [k.name for k in api_keys.list_keys(marketing.app.store)] == ["tests", "mine"]


@pytest.mark.parametrize(
    ("headers", "with_token"),
    [(ORIGIN, False), ({"Origin": "https://evil.example"}, True)],
    ids=["no csrf token", "another origin"],
)
def test_a_form_without_the_token_or_from_elsewhere_changes_nothing(
    admin: Harness, headers: dict[str, str], with_token: bool
) -> None:
    from tests.harness import csrf_of

    data = {"domain": "shop.example", "timezone": "UTC"}
    if with_token:
        data["csrf"] = csrf_of(admin)
    page = admin.client.post("/settings/sites/add", data=data, headers=headers)
    assert page.status_code == 403
    assert "Nothing was changed" in page.text
    assert sites.find_site(admin.app.store, "shop.example") is None


def test_the_pages_need_a_login(app: Harness) -> None:
    for path in ("/settings/sites", "/settings/users", "/settings/keys", "/audit-log"):
        page = app.client.get(path, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)", re.I)


@pytest.mark.parametrize(
    "path", ["/settings/sites", "/settings/users", "/settings/keys", "/audit-log"]
)
def test_every_control_has_a_label_and_nothing_is_inline(pages: Harness, path: str) -> None:
    page = pages.client.get(path).text
    assert not INLINE_SCRIPT.search(page)
    assert " style=" not in page and "<style" not in page and " on" + "click=" not in page
    labelled = set(re.findall(r'<label for="([^"]+)"', page))
    controls = re.findall(r"<(?:input|select|textarea)\b([^>]*)>", page)
    ids = [
        re.search(r'\sid="([^"]+)"', attrs) for attrs in controls if 'type="hidden"' not in attrs
    ]
    assert all(found for found in ids), "a control without an id cannot be labelled"
    assert {found.group(1) for found in ids if found} <= labelled
    assert len(ids) == len({found.group(1) for found in ids if found}), "ids are unique"


def test_the_copy_button_is_a_first_party_script(pages: Harness) -> None:
    page = pages.client.get("/settings/sites").text
    assert '<script src="/static/copy.js" defer></script>' in page
    assert 'data-copy="snippet-1"' in page and "readonly" in page  # selectable without it
    script = pages.client.get("/static/copy.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
