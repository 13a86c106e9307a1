"""P4 and P6 over HTTP: ``check_server`` asks a live server a few questions, reads the answers."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlencode, urlsplit

import orjson

from privacy_audit.report import P4, P6, SERVER, Check, counted, listing

STORAGE_APIS = ("document.cookie", "localStorage", "sessionStorage", "indexedDB", "sendBeacon")
SNIPPETS = ("/js/hush.js", "/js/hush.engagement.js", "/js/hush.full.js")
UNKNOWN_SITE = "hush-audit.invalid"  # .invalid can never be registered (RFC 2606)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int | None  # None: no answer at all
    headers: Message
    body: bytes
    error: str = ""

    @property
    def sets_cookie(self) -> bool:
        return bool(self.headers.get_all("set-cookie"))

    def describe(self) -> str:
        return f"answered {self.status}" if self.status else f"got no answer ({self.error})"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect's own answer is what is checked (a cookie can ride on it)


_OPENER = urllib.request.build_opener(_NoRedirects)


def _fetch(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> _Answer:
    # check_server lets only http(s) base URLs through.
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with _OPENER.open(request, timeout=10) as response:
            return _Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return _Answer(exc.code, exc.headers, exc.read())
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return _Answer(None, Message(), b"", str(reason))


def check_server(base_url: str, *, site: str | None) -> list[Check]:
    """P4 and P6 over real HTTP; with ``site`` (a registered domain) also the GPC drop.

    Sends one event for a site that cannot exist, a malformed one, a pixel, a preflight and,
    with ``site``, an event with Sec-GPC: 1: none is counted, but they show in the intake
    counters like any dropped request.
    """
    base = base_url.rstrip("/")
    if urlsplit(base).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {base_url!r}")
    event = {"n": "pageview", "u": f"https://{UNKNOWN_SITE}/", "d": UNKNOWN_SITE}
    text = {"Content-Type": "text/plain", "User-Agent": BROWSER}
    answers = {
        "an event for an unknown site": _fetch(
            f"{base}/api/event",
            method="POST",
            body=orjson.dumps(event),
            headers={**text, "Cookie": "hush-audit=1"},
        ),
        "a malformed event": _fetch(f"{base}/api/event", method="POST", body=b"{", headers=text),
        "the no-script pixel": _fetch(f"{base}/api/event.gif?{urlencode(event)}", headers=text),
        "a CORS preflight": _fetch(
            f"{base}/api/event",
            method="OPTIONS",
            headers={"Origin": f"https://{UNKNOWN_SITE}", "Access-Control-Request-Method": "POST"},
        ),
    }
    snippets = {
        path: _fetch(base + path, headers={"Accept-Encoding": "identity"}) for path in SNIPPETS
    }
    served = {path: answer for path, answer in snippets.items() if answer.status != 404}
    checks = [
        _server_answers(base, _fetch(f"{base}/healthz")),
        _no_cookies({**answers, **served}),
        _snippet_keeps_away_from_storage(snippets),
    ]
    if site is not None:
        checks.append(_gpc_is_honoured(base, site))
    return checks


def _server_answers(base: str, health: _Answer) -> Check:
    return Check(SERVER, health.status == 200, f"GET {base}/healthz {health.describe()}.")


def _no_cookies(answers: dict[str, _Answer]) -> Check:
    silent = [what for what, answer in answers.items() if answer.status is None]
    cookies = [what for what, answer in answers.items() if answer.sets_cookie]
    if cookies:
        return Check(
            P4, False, f"{counted(len(cookies), 'answer')} set a cookie: {listing(cookies)}."
        )
    if silent:
        return Check(P4, False, f"cookies could not be checked: no answer to {listing(silent)}.")
    asked = ", ".join(f"{what} ({answer.status})" for what, answer in answers.items())
    return Check(P4, True, f"no answer sets a cookie: {asked}.")


def _snippet_keeps_away_from_storage(snippets: dict[str, _Answer]) -> Check:
    main = snippets[SNIPPETS[0]]
    if main.status != 200:
        return Check(P4, False, f"the snippet is not served: GET {SNIPPETS[0]} {main.describe()}.")
    served, problems = [], []
    for path, answer in snippets.items():
        if answer.status != 200:
            continue
        served.append(path)
        body = answer.body
        if answer.headers.get("content-encoding", "").lower() == "gzip":
            body = gzip.decompress(body)
        named = [api for api in STORAGE_APIS if api.encode() in body]
        if named:
            problems.append(f"{path} names {', '.join(named)}")
    if problems:
        return Check(P4, False, f"the snippet must not touch storage, but {listing(problems)}.")
    return Check(
        P4,
        True,
        f"the snippet ({', '.join(served)}) never names {', '.join(STORAGE_APIS[:-1])}"
        f" or {STORAGE_APIS[-1]}.",
    )


def _gpc_is_honoured(base: str, site: str) -> Check:
    event = {"n": "pageview", "u": f"https://{site}/hush-audit/gpc", "d": site}
    answer = _fetch(
        f"{base}/api/event",
        method="POST",
        body=orjson.dumps(event),
        headers={"Content-Type": "text/plain", "User-Agent": BROWSER, "Sec-GPC": "1"},
    )
    dropped = answer.headers.get("x-hush-dropped")
    sent = f"an event for {site} sent with Sec-GPC: 1"
    if answer.status == 202 and dropped == "gpc":
        return Check(P6, True, f"{sent} was dropped for GPC (X-Hush-Dropped: gpc).")
    if answer.status == 202 and dropped == "unknown_site":
        return Check(P6, False, f"{sent} was dropped because {site} is not a registered site.")
    if answer.status == 202 and dropped:
        return Check(P6, False, f"{sent} was dropped as {dropped}, not for GPC.")
    if answer.status == 202:
        return Check(P6, False, f"{sent} was accepted (X-Hush-Dropped: none), so it was counted.")
    return Check(P6, False, f"{sent} {answer.describe()}, not 202 with X-Hush-Dropped: gpc.")
