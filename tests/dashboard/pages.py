"""What the admin-page tests share: posting a page's form as a browser does, and reading a
page's table back as rows (cells by their ``data-label``)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import httpx2 as httpx

from tests.harness import Harness, csrf_of

ORIGIN = {"Origin": "http://127.0.0.1:8000"}


def submit(h: Harness, path: str, **fields: str) -> httpx.Response:
    """POST a form of hush's pages: from hush's origin, with the session's CSRF token."""
    return h.client.post(
        path, data={"csrf": csrf_of(h), **fields}, headers=ORIGIN, follow_redirects=False
    )


def message(page: str) -> str:
    """The page's error or notice, as the person reads it."""
    found = re.search(r'<p class="(?:error|notice)" role="\w+">(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)) if found else ""


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self._in_body = False
        self._label: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append({})
        elif self._in_body and tag in ("td", "th"):
            self._label = dict(attrs).get("data-label") or "first"
            self.rows[-1][self._label] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag in ("td", "th"):
            self._label = None
        elif tag == "li" and self._label:
            self.rows[-1][self._label] += "; "

    def handle_data(self, data: str) -> None:
        if self._label:
            self.rows[-1][self._label] += data.strip() and data


def rows(page: str) -> list[dict[str, str]]:
    """The first table's body rows: {data-label (or "first" for the row header): text}."""
    parser = _Rows()
    parser.feed(page.split("</table>")[0])
    return [{k: v.strip().rstrip(";").strip() for k, v in row.items()} for row in parser.rows]
