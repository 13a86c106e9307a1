"""Parse the body of ``POST /api/event`` (Plausible's Events API shape) into a ``RawEvent``.

Only shape and type are checked here; scrubbing and the decisions about the site happen in
``collector.intake``. Long and short keys are both accepted (``name``/``n``, ``url``/``u``,
``domain``/``d``, ``referrer``/``r``, ``props``/``p``, ``interactive``/``i``, ``hashMode``/``h``,
and for ``engagement`` events ``sd`` (scroll depth, %) and ``e`` (engaged time, ms)); unknown
keys are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from collector.outcome import Rejected
from collector.scrub import scrub_text

MAX_NAME = 120  # Plausible's limit on event names
MAX_DOMAIN = 253  # the longest DNS name
MAX_PROPS = 30
MAX_PROP_KEY = 300
MAX_PROP_VALUE = 2000
MAX_QUERY_FIELDS = 20
MAX_ENGAGED_MS = 30 * 60 * 1000  # a tab left open all night is not 8 hours of reading
ENGAGEMENT = "engagement"


@dataclass(frozen=True, slots=True)
class RawEvent:
    name: str
    url: str
    domain: str
    referrer: str | None
    props: tuple[tuple[str, str], ...]
    interactive: bool
    hash_mode: bool
    scroll_depth: int | None = None  # engagement events: the deepest scroll, in %
    engaged_ms: int | None = None  # engagement events: visible, engaged time


def _bad(error: str, reason: str = "bad_request") -> Rejected:
    return Rejected(400, error, reason)


def parse_body(body: bytes) -> RawEvent | Rejected:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _bad("body is not valid UTF-8 JSON", "bad_json")
    if not isinstance(data, dict):
        return _bad("body must be a JSON object", "bad_json")
    return parse_fields(data)


def parse_query(query: bytes) -> RawEvent | Rejected:
    """The no-script pixel's query string: ``d``, ``u``, optional ``r`` and ``n``."""
    try:
        pairs = parse_qsl(
            query.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        return _bad("query is not a valid UTF-8 query string", "bad_query")
    given: dict[str, Any] = {}
    for name, value in pairs:
        if name in ("n", "u", "d", "r") and name not in given:
            given[name] = value  # the first of a repeated parameter wins
    return parse_fields({"n": "pageview", **given})


def parse_fields(data: dict[str, Any]) -> RawEvent | Rejected:
    """Check the fields of one event, given by their long or short names."""
    name = data.get("name", data.get("n"))
    url = data.get("url", data.get("u"))
    domain = data.get("domain", data.get("d"))
    referrer = data.get("referrer", data.get("r"))
    for label, value in (("name", name), ("url", url), ("domain", domain)):
        if value is None:
            return _bad(f"{label} is required", "missing_field")
        if not isinstance(value, str) or not value:
            return _bad(f"{label} must be a non-empty string", "bad_type")
    assert isinstance(name, str) and isinstance(url, str) and isinstance(domain, str)
    if len(name) > MAX_NAME:
        return _bad(f"name is longer than {MAX_NAME} characters", "too_long")
    if len(domain) > MAX_DOMAIN:
        return _bad(f"domain is longer than {MAX_DOMAIN} characters", "too_long")
    if referrer is not None and not isinstance(referrer, str):
        return _bad("referrer must be a string or null", "bad_type")
    interactive = data.get("interactive", data.get("i", True))
    if not isinstance(interactive, bool):
        return _bad("interactive must be true or false", "bad_type")
    hash_mode = data.get("hashMode", data.get("h", False))
    if hash_mode not in (True, False, 0, 1):
        return _bad("hashMode must be a boolean or 0/1", "bad_type")
    props = _parse_props(data.get("props", data.get("p")))
    if isinstance(props, Rejected):
        return props
    scroll_depth = engaged_ms = None
    if name == ENGAGEMENT:
        scroll_depth = data.get("sd", 0)
        engaged_ms = data.get("e", 0)
        if not _is_int(scroll_depth) or scroll_depth < 0:
            return _bad("sd must be a non-negative integer (percent)", "bad_type")
        scroll_depth = min(scroll_depth, 100)  # wide pages and quirks mode can report more
        if not _is_int(engaged_ms) or engaged_ms < 0:
            return _bad("e must be a non-negative integer (milliseconds)", "bad_type")
        engaged_ms = min(engaged_ms, MAX_ENGAGED_MS)
        interactive = False  # an engagement event never turns a bounce into a visit
    return RawEvent(
        name=scrub_text(name.strip()) or "(empty)",
        url=url,
        domain=domain.strip().lower().rstrip("."),
        referrer=referrer or None,
        props=props,
        interactive=interactive,
        hash_mode=bool(hash_mode),
        scroll_depth=scroll_depth,
        engaged_ms=engaged_ms,
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_props(raw: object) -> tuple[tuple[str, str], ...] | Rejected:
    if raw is None:
        return ()
    if isinstance(raw, str):
        # Plausible's trackers have sent props as a JSON-encoded string; accept both.
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _bad("props must be a JSON object", "bad_props")
    if not isinstance(raw, dict):
        return _bad("props must be a JSON object", "bad_props")
    if len(raw) > MAX_PROPS:
        return _bad(f"props has more than {MAX_PROPS} keys", "bad_props")
    props = []
    for key, value in raw.items():
        if not key or len(key) > MAX_PROP_KEY:
            return _bad(
                f"a props key is empty or longer than {MAX_PROP_KEY} characters", "bad_props"
            )
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            return _bad("props values must be strings, numbers or booleans", "bad_props")
        if len(text) > MAX_PROP_VALUE:
            return _bad(f"a props value is longer than {MAX_PROP_VALUE} characters", "bad_props")
        props.append((scrub_text(key), scrub_text(text)))
    return tuple(props)
