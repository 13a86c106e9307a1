"""``/audit-log`` (admins, security): who did what, newest first.

The filters (actor, action group, result, dates in UTC) are a plain GET form, so the URL is the
state; pages are ``limit + 1`` reads pinned to the newest entry of the first page (``through``),
so Older and Newer do not shift while the log grows. ``?format=csv|jsonl`` downloads the
filtered rows (``dashboard.export``). Viewing is itself an entry, ``audit_log.view``, and so is
an export, ``audit_log.export``, each with its filters (DESIGN §7).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aggregator import audit_log
from aggregator.audit_log import ACTOR_TYPES, GROUPS, RESULTS, UNKNOWN_ACCOUNT, Entry, Filters
from aggregator.users import MAX_EMAIL, find_user
from dashboard.export import FORMATS, csv_lines, download, jsonl_lines
from dashboard.web.context import WebContext, bind
from dashboard.web.errors import sentence

ACTION = "audit_log.read"
PER_PAGE = 50
EXPORT_CHUNK = 1000
MAX_PAGE = 100_000
FIELDS = ("actor", "group", "result", "from", "to")
CSV_HEADER = (
    "id", "at_utc", "actor_type", "actor_id", "actor_email", "actor_role", "action", "target",
    "result", "reason", "changes",
)  # fmt: skip
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class View:
    """The page's URL state, parsed: what to read, and the filters as typed (for the form)."""

    filters: Filters
    page: int
    typed: dict[str, str]


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


async def audit_log_page(ctx: WebContext, request: Request) -> Response:
    who = ctx.require(request, ACTION)
    view = parse_view(request.query_params)
    typed = {name: request.query_params.get(name, "")[:MAX_EMAIL] for name in FIELDS}
    if isinstance(view, Refused):
        return _render(ctx, request, typed=typed, status=400, error=view.reason)
    fmt = request.query_params.get("format", "")
    if fmt:
        if fmt not in FORMATS:
            reason = f"format must be one of {', '.join(FORMATS)}"
            return _render(ctx, request, typed=typed, status=400, error=reason)
        newest = audit_log.entries(ctx.store, view.filters, limit=1)
        filters = replace(view.filters, through=newest[0].id if newest else 0)
        ctx.audit(
            who.actor,
            "audit_log.export",
            target="audit log",
            changes={"format": fmt, **_recorded(ctx, view)},
        )
        lines = (
            _csv(ctx, filters) if fmt == "csv" else jsonl_lines(map(as_record, _all(ctx, filters)))
        )
        return download(lines, fmt=fmt, filename="hush-audit-log")
    rows = audit_log.entries(
        ctx.store, view.filters, limit=PER_PAGE + 1, offset=(view.page - 1) * PER_PAGE
    )
    through = view.filters.through if view.filters.through is not None else _first_id(rows)
    ctx.audit(who.actor, "audit_log.view", target="audit log", changes=_recorded(ctx, view))
    older = len(rows) > PER_PAGE
    return _render(
        ctx,
        request,
        typed=view.typed,
        rows=[_row(entry) for entry in rows[:PER_PAGE]],
        newer=_link(view, view.page - 1, through) if view.page > 1 else "",
        older=_link(view, view.page + 1, through) if older else "",
        exports={fmt: _link(view, 0, None, format=fmt) for fmt in FORMATS},
        page=view.page,
    )


def parse_view(params: Mapping[str, str]) -> View | Refused:
    """The filters and page of a request, or why they cannot be used."""
    typed = {name: params.get(name, "").strip() for name in FIELDS}
    actor, group, result = typed["actor"], typed["group"], typed["result"]
    if len(actor) > MAX_EMAIL or (actor and actor not in ACTOR_TYPES and "@" not in actor):
        return Refused(f"actor must be an email or one of {', '.join(ACTOR_TYPES)}")
    if group and group not in GROUPS:
        return Refused(f"group must be one of {', '.join(GROUPS)}")
    if result and result not in RESULTS:
        return Refused(f"result must be one of {', '.join(RESULTS)}")
    days: dict[str, date | None] = {}
    for name in ("from", "to"):
        days[name] = None
        if typed[name]:
            try:
                if not _DAY.match(typed[name]):
                    raise ValueError
                days[name] = date.fromisoformat(typed[name])
            except ValueError:
                return Refused(f"{name} must be a date such as 2026-03-10, not {typed[name]!r}")
    if days["from"] and days["to"] and days["from"] > days["to"]:
        return Refused("the from date is after the to date")
    page = _whole(params.get("page", ""), default=1)
    through = _whole(params.get("through", ""), default=None)
    if page is None or not 1 <= page <= MAX_PAGE or (through is not None and through < 0):
        return Refused("page and through must be whole numbers, page from 1")
    filters = Filters(actor.lower(), group, result, days["from"], days["to"], through)
    return View(filters, page, typed)


def describe_changes(changes: dict[str, Any]) -> list[str]:
    """``{"role": ["marketing", "admin"]}`` -> ``["role: marketing → admin"]``."""
    lines = []
    for name, value in sorted(changes.items()):
        if isinstance(value, list) and len(value) == 2:
            lines.append(f"{name}: {_show(value[0])} → {_show(value[1])}")
        else:
            lines.append(f"{name}: {_show(value)}")
    return lines


def as_record(entry: Entry) -> dict[str, Any]:
    """An entry as one JSON Lines object."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(timespec="seconds") + "Z",
        "actor": {
            "type": entry.actor.type,
            "id": entry.actor.id,
            "email": entry.actor.email,
            "role": entry.actor.role,
        },
        "action": entry.action,
        "target": entry.target,
        "result": entry.result,
        "reason": entry.reason,
        "changes": entry.changes,
    }


def _csv(ctx: WebContext, filters: Filters) -> Iterator[str]:
    rows = (
        (
            e.id,
            e.at.isoformat(timespec="seconds") + "Z",
            e.actor.type,
            e.actor.id,
            e.actor.email,
            e.actor.role,
            e.action,
            e.target,
            e.result,
            e.reason,
            orjson.dumps(e.changes, option=orjson.OPT_SORT_KEYS).decode() if e.changes else "",
        )
        for e in _all(ctx, filters)
    )
    return csv_lines(CSV_HEADER, rows)


def _all(ctx: WebContext, filters: Filters) -> Iterator[Entry]:
    """Every filtered entry, newest first, read in chunks (``filters.through`` pins them)."""
    offset = 0
    while True:
        chunk = audit_log.entries(ctx.store, filters, limit=EXPORT_CHUNK, offset=offset)
        yield from chunk
        if len(chunk) < EXPORT_CHUNK:
            return
        offset += EXPORT_CHUNK


def _recorded(ctx: WebContext, view: View) -> dict[str, str]:
    """The filters an entry records; an email that is no account's is not kept (a typo there
    may be anything, even a password)."""
    shown = {name: value for name, value in view.typed.items() if value}
    actor = shown.get("actor")
    if actor and actor not in ACTOR_TYPES and find_user(ctx.store, actor) is None:
        shown["actor"] = UNKNOWN_ACCOUNT
    if view.page > 1:
        shown["page"] = str(view.page)
    return shown


def _link(view: View, page: int, through: int | None, **extra: str) -> str:
    params = {name: value for name, value in view.typed.items() if value}
    if page > 1:
        params["page"] = str(page)
    if through is not None:
        params["through"] = str(through)
    params.update(extra)
    return "/audit-log" + (f"?{urlencode(params)}" if params else "")


def _row(entry: Entry) -> dict[str, Any]:
    actor = entry.actor
    who = f"{actor.email} ({actor.role})" if actor.type == "user" else actor.type
    if actor.type == "api_key" and actor.id is not None:
        who = f"API key #{actor.id}"
    return {
        "at": entry.at.strftime("%Y-%m-%d %H:%M:%S"),
        "actor": who,
        "action": entry.action,
        "target": entry.target,
        "result": entry.result + (f": {entry.reason}" if entry.reason else ""),
        "changes": describe_changes(entry.changes),
    }


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value) or "none"
    if isinstance(value, dict):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return str(value)


def _first_id(rows: list[Entry]) -> int | None:
    return rows[0].id if rows else None


def _whole(text: str, *, default: int | None) -> int | None:
    if not text:
        return default
    return int(text) if text.isdigit() and len(text) < 12 else -1


def _render(
    ctx: WebContext,
    request: Request,
    *,
    typed: dict[str, str],
    status: int = 200,
    error: str = "",
    rows: list[dict[str, Any]] | None = None,
    newer: str = "",
    older: str = "",
    exports: dict[str, str] | None = None,
    page: int = 1,
) -> Response:
    return ctx.render(
        request,
        "audit_log.html",
        status=status,
        typed=typed,
        groups=GROUPS,
        results=RESULTS,
        actor_types=ACTOR_TYPES,
        rows=rows or [],
        newer=newer,
        older=older,
        exports=exports or {},
        page=page,
        error=sentence(error) if error else "",
        notice="",
    )


def routes(ctx: WebContext) -> list[Route]:
    return [Route("/audit-log", bind(ctx, audit_log_page), methods=["GET"])]
