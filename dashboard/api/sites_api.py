"""Sites API v1, as Plausible documents it (``docs/sites-api.md``), for keys of admin users:
list, create, get, update (time zone, DNT honouring, hash routing) and delete sites; list,
find-or-create and delete goals.

Every change is one of the audited admin operations (``hush.admin.operations.run_admin``),
reached through the ``operate`` callable the composition root passes in (the read side never
imports ``hush``), as the key's owner: ``Actor("api_key", key id, owner email, role)``. Bodies
are read as JSON or as form fields (Plausible's examples use ``curl -F``).
"""

from __future__ import annotations

from collections.abc import Callable
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aggregator.api_keys import Grant, key_by_id
from aggregator.audit_log import Actor
from aggregator.errors import AdminError
from aggregator.store import Store
from dashboard.api import errors
from dashboard.api.auth import Gate
from dashboard.api.errors import ApiError
from dashboard.api.stats import answer

Operate = Callable[[Actor, str, dict[str, Any]], dict[str, Any]]
PAGE = {"after": None, "before": None, "limit": 100}
MAX_BODY = 8_192


class SitesApi:
    def __init__(self, *, store: Store, gate: Gate, operate: Operate) -> None:
        self._store = store
        self._gate = gate
        self._operate = operate

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/sites", self._handler(self._sites), methods=["GET", "POST"]),
            Route(
                "/api/v1/sites/goals", self._handler(self._goals), methods=["GET", "PUT", "POST"]
            ),
            Route("/api/v1/sites/goals/{goal_id}", self._handler(self._goal), methods=["DELETE"]),
            Route(
                "/api/v1/sites/{site_id}",
                self._handler(self._site),
                methods=["GET", "PUT", "DELETE"],
            ),
        ]

    def _handler(self, handler: Callable[..., dict[str, Any]]) -> Any:
        async def endpoint(request: Request) -> Response:
            async def call() -> Response:
                grant = await self._gate.grant(request)
                if grant.role != "admin":
                    raise ApiError(401, errors.INVALID_KEY_FOR_RESOURCE)
                self._gate.count(request)
                body = await _body(request)
                actor = await run_in_threadpool(self._actor, grant)
                args = {**request.query_params, **body, **request.path_params}
                try:
                    result = await run_in_threadpool(handler, actor, request.method, args)
                except AdminError as exc:
                    raise ApiError(400, str(exc)) from None
                return JSONResponse(result)

            return await answer(call)

        return endpoint

    def _actor(self, grant: Grant) -> Actor:
        return Actor("api_key", grant.key_id, key_by_id(self._store, grant.key_id).user, grant.role)

    def _site_record(self, actor: Actor, domain: str) -> dict[str, Any]:
        sites = self._operate(actor, "sites.list", {})["sites"]
        found = next((s for s in sites if s["domain"] == domain.strip().lower()), None)
        if found is None:
            raise ApiError(404, "Site could not be found")
        return dict(found)

    def _sites(self, actor: Actor, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "GET":
            sites = self._operate(actor, "sites.list", {})["sites"]
            return {"sites": [_site(s) for s in sites], "meta": PAGE}
        domain = _text(args, "domain")
        made = self._operate(
            actor, "sites.add", {"domain": domain, "timezone": args.get("timezone") or "UTC"}
        )
        return _site(made["site"])

    def _site(self, actor: Actor, method: str, args: dict[str, Any]) -> dict[str, Any]:
        domain = str(args["site_id"])
        current = self._site_record(actor, domain)
        if method == "GET":
            return {**_site(current), "custom_properties": []}
        if method == "DELETE":
            self._operate(actor, "sites.remove", {"domain": current["domain"]})
            return {"deleted": True}
        new_domain = args.get("domain")
        if new_domain and str(new_domain).strip().lower() != current["domain"]:
            raise ApiError(400, "hush cannot change a site's domain: add the new domain as a site")
        changes: dict[str, Any] = {"domain": current["domain"]}
        if "timezone" in args:
            changes["timezone"] = str(args["timezone"])
        for name in ("honour_dnt", "hash_routing"):
            if name in args:
                changes[name] = _flag(args[name], name)
        return _site(self._operate(actor, "sites.set", changes)["site"])

    def _goals(self, actor: Actor, method: str, args: dict[str, Any]) -> dict[str, Any]:
        site = self._site_record(actor, _text(args, "site_id"))
        if method == "GET":
            goals = self._operate(actor, "goals.list", {"site": site["domain"]})["goals"]
            return {"goals": [_goal(g) for g in goals], "meta": PAGE}
        kind = _text(args, "goal_type")
        if kind not in ("event", "page"):
            raise ApiError(400, "goal_type must be event or page")
        target = _text(args, "event_name" if kind == "event" else "page_path")
        made = self._operate(
            actor,
            "goals.add",
            {
                "site": site["domain"],
                "kind": kind,
                "target": target,
                "display_name": str(args.get("display_name") or ""),
            },
        )
        return {"domain": site["domain"], **_goal(made["goal"])}

    def _goal(self, actor: Actor, _method: str, args: dict[str, Any]) -> dict[str, Any]:
        site = self._site_record(actor, _text(args, "site_id"))
        goal_id = str(args["goal_id"])
        if not goal_id.isascii() or not goal_id.isdigit():
            raise ApiError(404, "Goal could not be found")
        self._operate(actor, "goals.remove", {"site": site["domain"], "id": int(goal_id)})
        return {"deleted": True}


def _site(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "domain": record["domain"],
        "timezone": record["timezone"],
        "honour_dnt": record["honour_dnt"],
        "hash_routing": record["hash_routing"],
    }


def _goal(record: dict[str, Any]) -> dict[str, Any]:
    kind = record["kind"]
    return {
        "id": str(record["id"]),
        "goal_type": kind,
        "display_name": record["display_name"],
        "event_name": record["target"] if kind == "event" else None,
        "page_path": record["target"] if kind == "page" else None,
        "counted_from": record["counted_from"],
    }


async def _body(request: Request) -> dict[str, Any]:
    if request.method in ("GET", "HEAD"):
        return {}
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError(413, f"a request body is at most {MAX_BODY} bytes")
    if not raw:
        return {}
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ApiError(400, "the body is not JSON") from None
        if not isinstance(parsed, dict):
            raise ApiError(400, "the body must be a JSON object")
        return parsed
    # curl -F 'domain="example.com"' sends the quotes too, as Plausible's examples show
    return {k: v.strip().strip('"') for k, v in _form(request.headers.get("content-type", ""), raw)}


def _form(content_type: str, raw: bytes) -> list[tuple[str, str]]:
    """Form fields, URL-encoded or multipart (``curl -F``); files are ignored."""
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + raw
        )
        fields = []
        for part in message.iter_parts() if message.is_multipart() else []:
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str) and part.get_filename() is None:
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    fields.append((name, payload.decode("utf-8", "replace")))
        return fields
    return parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)


def _text(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"Parameter `{name}` is required")
    return value.strip()


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise ApiError(400, f"{name} must be true or false")
