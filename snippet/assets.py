"""The built tracker (``snippet/dist/``) served under ``/js/``: stable and versioned names, gzip.

``/js/hush.js`` (the core) and ``/js/hush.<variant>.js`` are stable URLs, cached for 5 minutes
so an upgrade of hush reaches visitors soon. ``/js/hush.<version>.js`` and
``/js/hush.<variant>.<version>.js``, where the version is the first 12 hex digits of the
file's SHA-256 (also its ETag), never change and are cached for a year. A versioned URL whose
version is no longer built redirects to the stable URL, so a page that pinned one keeps
counting after an upgrade. Responses carry a weak ETag shared by both encodings (they are the
same script), answer a matching ``If-None-Match`` with 304, and are gzipped (precompressed by
the build) for clients that accept it. No response sets a cookie.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

DIST = Path(__file__).resolve().parent / "dist"
VERSION_DIGITS = 12  # 48 bits of SHA-256: no two builds of a variant collide in practice
STABLE_CACHE = "public, max-age=300"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
MEDIA_TYPE = "application/javascript; charset=utf-8"

_VERSIONED = re.compile(rf"^(?P<name>.+)\.[0-9a-f]{{{VERSION_DIGITS}}}\.js$")
# Both representations (gzip and identity) are the same script, so they share a weak ETag.
_COMMON_HEADERS = {
    "vary": "Accept-Encoding",
    "x-content-type-options": "nosniff",
    # A page may load the script with crossorigin and integrity (SRI), or under COEP.
    "access-control-allow-origin": "*",
    "cross-origin-resource-policy": "cross-origin",
}


@dataclass(frozen=True, slots=True)
class Asset:
    """One built variant: ``hush`` (the core), ``hush.engagement``, ``hush.full``."""

    name: str
    body: bytes
    gzipped: bytes
    version: str

    @property
    def stable_file(self) -> str:
        return f"{self.name}.js"

    @property
    def versioned_file(self) -> str:
        return f"{self.name}.{self.version}.js"

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'


def load_assets(dist: Path = DIST) -> dict[str, Asset]:
    """Every ``<name>.js`` in ``dist`` with its ``<name>.js.gz``, by name."""
    assets = {}
    for path in sorted(dist.glob("*.js")):
        body = path.read_bytes()
        name = path.name.removesuffix(".js")
        version = hashlib.sha256(body).hexdigest()[:VERSION_DIGITS]
        gzipped = path.with_name(path.name + ".gz").read_bytes()
        assets[name] = Asset(name=name, body=body, gzipped=gzipped, version=version)
    if "hush" not in assets:
        raise FileNotFoundError(f"no built snippet in {dist}: run scripts/build-snippet")
    return assets


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header admits gzip (``gzip``, ``x-gzip`` or ``*``, q > 0)."""
    weights: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        weight = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if coding:
            weights[coding] = weight
    for coding in ("gzip", "x-gzip", "*"):
        if coding in weights:
            return weights[coding] > 0
    return False


def matches_etag(if_none_match: str, etag: str) -> bool:
    """``If-None-Match`` by weak comparison (RFC 9110 §13.1.2): ``*`` or the same opaque tag."""
    opaque = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == opaque:
            return True
    return False


class SnippetFiles:
    """The endpoint behind ``/js/{file}``."""

    def __init__(self, assets: dict[str, Asset]) -> None:
        self._stable = {asset.stable_file: asset for asset in assets.values()}
        self._versioned = {asset.versioned_file: asset for asset in assets.values()}
        self._names = set(assets)

    async def serve(self, request: Request) -> Response:
        file = request.path_params["file"]
        if file in self._stable:
            return self._serve(request, self._stable[file], STABLE_CACHE)
        if file in self._versioned:
            return self._serve(request, self._versioned[file], IMMUTABLE_CACHE)
        old = _VERSIONED.match(file)
        if old and old["name"] in self._names:
            # A version this hush no longer builds: the current script, never cached as this URL.
            # The relative target keeps any path prefix a reverse proxy adds.
            return RedirectResponse(
                f"{old['name']}.js", status_code=302, headers={"cache-control": "no-store"}
            )
        return PlainTextResponse("no such script", status_code=404)

    def _serve(self, request: Request, asset: Asset, cache_control: str) -> Response:
        headers = {**_COMMON_HEADERS, "etag": asset.etag, "cache-control": cache_control}
        if matches_etag(request.headers.get("if-none-match", ""), asset.etag):
            return Response(status_code=304, headers=headers)
        if accepts_gzip(request.headers.get("accept-encoding", "")):
            headers["content-encoding"] = "gzip"
            return Response(asset.gzipped, headers=headers, media_type=MEDIA_TYPE)
        return Response(asset.body, headers=headers, media_type=MEDIA_TYPE)


def snippet_routes(*, dist: Path = DIST) -> list[Route]:
    """``GET /js/{file}``: the tracker's variants, stable and versioned (see the module doc)."""
    files = SnippetFiles(load_assets(dist))
    return [Route("/js/{file}", files.serve, methods=["GET", "HEAD"])]
