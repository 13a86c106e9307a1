"""``GET /js/<variant>.js``: what hush serves of the built snippet, and how it may be cached."""

from __future__ import annotations

import gzip
import hashlib

import httpx
import pytest

from snippet.assets import DIST, accepts_gzip, matches_etag
from tests.servers import ProcessServer

VARIANTS = ("hush", "hush.engagement", "hush.full")
IDENTITY = {"Accept-Encoding": "identity"}


def version(variant: str) -> str:
    return hashlib.sha256((DIST / f"{variant}.js").read_bytes()).hexdigest()[:12]


@pytest.mark.server
@pytest.mark.parametrize("variant", VARIANTS)
def test_the_stable_url_serves_the_built_file_for_five_minutes(
    shared_server: ProcessServer, variant: str
) -> None:
    response = httpx.get(f"{shared_server.base_url}/js/{variant}.js", headers=IDENTITY)
    assert response.status_code == 200
    assert response.content == (DIST / f"{variant}.js").read_bytes()
    assert response.headers["content-type"] == "application/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["etag"] == f'W/"{version(variant)}"'
    assert response.headers["vary"] == "Accept-Encoding"
    assert "content-encoding" not in response.headers
    assert "set-cookie" not in response.headers


@pytest.mark.server
def test_browsers_that_accept_gzip_get_the_precompressed_file(shared_server: ProcessServer) -> None:
    with httpx.stream(
        "GET", f"{shared_server.base_url}/js/hush.js", headers={"Accept-Encoding": "br, gzip"}
    ) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert raw == (DIST / "hush.js.gz").read_bytes()
    assert gzip.decompress(raw) == (DIST / "hush.js").read_bytes()
    assert response.headers["etag"] == f'W/"{version("hush")}"'


@pytest.mark.server
def test_a_revalidation_with_the_etag_is_answered_304(shared_server: ProcessServer) -> None:
    url = f"{shared_server.base_url}/js/hush.full.js"
    etag = httpx.get(url).headers["etag"]
    for if_none_match in (etag, f'"other", {etag}', etag.removeprefix("W/"), "*"):
        response = httpx.get(url, headers={"If-None-Match": if_none_match})
        assert response.status_code == 304, if_none_match
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["cache-control"] == "public, max-age=300"
    assert httpx.get(url, headers={"If-None-Match": 'W/"0123456789ab"'}).status_code == 200


@pytest.mark.server
@pytest.mark.parametrize("variant", VARIANTS)
def test_versioned_urls_are_cached_for_a_year(shared_server: ProcessServer, variant: str) -> None:
    url = f"{shared_server.base_url}/js/{variant}.{version(variant)}.js"
    response = httpx.get(url, headers=IDENTITY)
    assert response.status_code == 200
    assert response.content == (DIST / f"{variant}.js").read_bytes()
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


@pytest.mark.server
def test_an_old_version_redirects_to_the_current_script_and_other_names_are_404(
    shared_server: ProcessServer,
) -> None:
    old = httpx.get(f"{shared_server.base_url}/js/hush.full.0123456789ab.js")
    assert old.status_code == 302
    assert old.headers["location"] == "hush.full.js"
    assert old.headers["cache-control"] == "no-store"
    for name in (
        "nope.js",
        "hush.js.gz",
        "hush",
        "hush.0123456789ab.css",
        "hush.nope.0123456789ab.js",
    ):
        assert httpx.get(f"{shared_server.base_url}/js/{name}").status_code == 404, name


@pytest.mark.server
def test_head_answers_the_headers_alone(shared_server: ProcessServer) -> None:
    response = httpx.head(f"{shared_server.base_url}/js/hush.js", headers=IDENTITY)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len((DIST / "hush.js").read_bytes()))


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [
        pytest.param("gzip", True, id="gzip"),
        pytest.param("gzip, deflate, br, zstd", True, id="a browser"),
        pytest.param("br;q=1.0, gzip;q=0.8", True, id="weighted"),
        pytest.param("x-gzip", True, id="x-gzip"),
        pytest.param("*", True, id="anything"),
        pytest.param("GZIP", True, id="case"),
        pytest.param("", False, id="none"),
        pytest.param("identity", False, id="identity"),
        pytest.param("br", False, id="brotli only"),
        pytest.param("gzip;q=0", False, id="gzip refused"),
        pytest.param("*, gzip;q=0", False, id="all but gzip"),
        pytest.param("gzip;q=x", False, id="bad weight"),
    ],
)
def test_accept_encoding(header: str, gzip_ok: bool) -> None:
    assert accepts_gzip(header) is gzip_ok


@pytest.mark.parametrize(
    ("if_none_match", "matches"),
    [
        pytest.param('W/"abc"', True, id="weak"),
        pytest.param('"abc"', True, id="strong"),
        pytest.param('"x", W/"abc"', True, id="in a list"),
        pytest.param("*", True, id="any"),
        pytest.param('"abcd"', False, id="other"),
        pytest.param("", False, id="none"),
    ],
)
def test_if_none_match(if_none_match: str, matches: bool) -> None:
    assert matches_etag(if_none_match, 'W/"abc"') is matches
