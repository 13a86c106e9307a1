"""The first run in a browser: ``hush serve`` prints a one-time link that creates the first
admin, and that link works once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import ProcessServer, running
from tests.web.conftest import PASSWORD, Opener, setup_link, with_first_traffic

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture(scope="module")
def hush(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    """``hush serve`` itself (the link is what the process prints), with no user yet."""
    server = ProcessServer(tmp_path_factory.mktemp("first-run"))
    with running(server, site="example.com"):
        with_first_traffic(server)
        yield server


def test_the_setup_link_creates_the_first_admin_once(hush: ProcessServer, tab: Opener) -> None:
    link = setup_link(hush)
    first = tab()
    page = first.open(link.removeprefix(hush.base_url))
    assert page.get_by_role("heading", name="Create the first admin").is_visible()
    first.shoot("setup")
    page.get_by_label("Your email").fill("root@example.com")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_role("button", name="Create the admin account").click()
    page.wait_for_url(hush.base_url + "/")
    assert page.get_by_role("heading", name="Sites").is_visible()
    assert page.get_by_role("row", name="example.com").is_visible()
    first.shoot("overview-admin")

    second = tab()
    again = second.open(link.removeprefix(hush.base_url))
    assert "has been used or has expired" in again.content()
    second.shoot("setup-used")
    assert "root@example.com" in hush.cli("users", "list").stdout
    assert first.foreign_requests() == [] and second.foreign_requests() == []
    assert first.console_errors == [] and second.console_errors == []
