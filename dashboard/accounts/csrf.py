"""Forms (DESIGN §7): every state change is a POST from hush's own pages, carrying the session's
CSRF token, with Origin (or Sec-Fetch-Site) naming hush itself.

``read_form`` caps the body, decodes it strictly, and checks origin and token before a handler
sees a field; a failure is ``BadForm`` with the reason, and nothing changes.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request

MAX_FORM_BYTES = 64 * 1024
FIELD = "csrf"


class BadForm(Exception):
    """A form that must not be acted on; the message says why (shown to the person)."""

    def __init__(self, message: str, *, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


async def read_form(request: Request, *, hosts: frozenset[str], csrf: str | None) -> dict[str, str]:
    """The form's fields; ``csrf`` is the session's token (None before login: origin only)."""
    check_origin(request, hosts)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise BadForm("a form must be sent as application/x-www-form-urlencoded", status=415)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadForm(f"a form has at most {MAX_FORM_BYTES // 1024} KiB", status=413)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=200
        )
    except (UnicodeDecodeError, ValueError):
        raise BadForm("the form is not valid UTF-8 form data", status=400) from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    if csrf is not None and not hmac.compare_digest(fields.get(FIELD, "").encode(), csrf.encode()):
        raise BadForm("this form has expired or did not come from hush: reload the page")
    return fields


def check_origin(request: Request, hosts: frozenset[str]) -> None:
    origin = request.headers.get("origin")
    if origin is not None:
        if origin == "null" or (urlsplit(origin).hostname or "") not in hosts:
            raise BadForm("this form was sent from another site")
        return
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise BadForm("this form was sent from another site")
