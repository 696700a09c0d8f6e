"""The page's HTTP: HTML with a Content-Security-Policy and no inline script; its own files
and Leaflet (from the XStatic-Leaflet package) gzipped, content-versioned and cached."""

from __future__ import annotations

import gzip
import hashlib
import re
import tomllib
import urllib.error
import urllib.request

import pytest
import xstatic.pkg.leaflet as xstatic_leaflet

from directory.web.site import FFLATE_DIR, FFLATE_VERSION
from tests.browser.conftest import Server
from tests.conftest import REPO_ROOT


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as res:
            return res.status, {k.lower(): v for k, v in res.headers.items()}, res.read()
    except urllib.error.HTTPError as error:
        body = error.read()
        error.close()
        return error.code, {k.lower(): v for k, v in error.headers.items()}, body


def test_the_page_is_csp_friendly_and_revalidated(live_server: Server) -> None:
    status, headers, body = fetch(live_server.url("/"))
    assert status == 200 and headers["content-type"].startswith("text/html")
    html = body.decode()
    assert headers["cache-control"] == "no-cache"
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    # no inline script or style, no inline event handler, nothing from another host
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html and not re.search(r"\son[a-z]+=", html)
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        if not url.startswith(("https://leafletjs.com", "https://github.com/101arrowz/fflate")):
            # those two are plain links (the credits), never fetched
            assert url.startswith(("/", "#", "data:")), url
    status, _, _ = fetch(live_server.url("/"), **{"If-None-Match": headers["etag"]})
    assert status == 304


def test_assets_are_versioned_gzipped_and_cached(live_server: Server) -> None:
    _, _, body = fetch(live_server.url("/"))
    assets = re.findall(r'(?:src|href)="(/(?:site|vendor)/[^"]+)"', body.decode())
    assert len(assets) == 4
    # the caseload's script and fflate, loaded only when a reader chooses a file
    lazy = re.findall(r'data-(?:caseload|zip)-js="(/(?:site|vendor)/[^"]+)"', body.decode())
    assert len(lazy) == 2
    assets += lazy
    for path in assets:
        status, headers, data = fetch(live_server.url(path), **{"Accept-Encoding": "gzip"})
        assert status == 200, path
        assert headers["cache-control"] == "public, max-age=31536000, immutable", path
        assert headers["content-encoding"] == "gzip" and "Accept-Encoding" in headers["vary"]
        assert len(gzip.decompress(data)) > len(data)
        status, _, _ = fetch(live_server.url(path), **{"If-None-Match": headers["etag"]})
        assert status == 304
    plain = fetch(live_server.url("/site/app.js"))
    assert plain[0] == 200 and plain[1]["cache-control"] == "public, max-age=300"
    assert "content-encoding" not in plain[1]
    assert plain[1]["content-type"].startswith("text/javascript")


def test_leaflet_comes_from_the_installed_package(live_server: Server) -> None:
    version = xstatic_leaflet.VERSION
    _, _, served = fetch(live_server.url(f"/vendor/leaflet/{version}/leaflet.js"))
    with open(f"{xstatic_leaflet.BASE_DIR}/leaflet.js", "rb") as installed:
        assert served == installed.read()
    status, headers, _ = fetch(live_server.url(f"/vendor/leaflet/{version}/images/marker-icon.png"))
    assert status == 200 and headers["content-type"] == "image/png"


def test_fflate_is_the_vendored_file() -> None:
    """What the page serves as fflate is the vendored file its SOURCE.md names (sha256)."""
    vendored = FFLATE_DIR / "fflate.min.js"
    source = (FFLATE_DIR / "SOURCE.md").read_text()
    assert f"fflate {FFLATE_VERSION}" in source
    assert f"sha256 `{hashlib.sha256(vendored.read_bytes()).hexdigest()}`" in source
    assert (FFLATE_DIR / "LICENSE").read_text().startswith("MIT License")


@pytest.mark.parametrize(
    "path",
    [
        "/vendor/fflate/0.0.1/fflate.js",
        "/vendor/fflate/{f}/LICENSE",
        "/vendor/leaflet/0.0.1/leaflet.js",
        "/vendor/leaflet/{v}/../../../app.py",
        "/site/index.html",
        "/site/../__init__.py",
        "/vendor/leaflet/{v}/leaflet-src.js.map",
    ],
)
def test_nothing_else_is_served(live_server: Server, path: str) -> None:
    url = path.format(v=xstatic_leaflet.VERSION, f=FFLATE_VERSION)
    status, headers, _ = fetch(live_server.url(url))
    assert status == 404
    assert headers["content-type"] == "application/problem+json"


def test_the_api_docs_work_under_their_content_security_policy(page, live_server: Server) -> None:  # type: ignore[no-untyped-def]
    """Swagger UI at /api/v1/docs, with the CSP it is sent (its inline start-up script
    allowed, nothing from another host, no framing), lists the operations and runs one:
    the ``page`` fixture fails the test on any CSP violation or request elsewhere."""
    page.goto(live_server.url("/api/v1/docs"))
    csp = page.evaluate(
        "() => fetch(location.href).then(r => r.headers.get('content-security-policy'))"
    )
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    operation = page.locator("#operations-postcodes-get_postcode, .opblock-get").first
    operation.wait_for()
    assert page.locator(".opblock").count() > 20
    operation.click()
    page.locator("button.try-out__btn").first.click()
    page.locator("button.execute").first.click()
    page.locator(".live-responses-table .response-col_status").first.wait_for()


def test_the_pages_files_are_package_data() -> None:
    """A pip-installed copy serves the page: its templates, own files and vendored fflate
    are all matched by pyproject.toml's package-data globs (as setuptools reads them)."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["directory"]
    package = REPO_ROOT / "directory"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    site = package / "web" / "site"
    files = [p for d in ("templates", "static", "vendor") for p in (site / d).rglob("*")]
    assert [p for p in files if p.is_file() and p not in shipped] == []
