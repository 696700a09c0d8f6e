"""The public page at ``/``: a small vanilla-JS map and dashboard over the API.

Nothing here reads the database: the page is static HTML, CSS and JavaScript, and every
figure it shows is fetched from ``/api/v1`` by ``static/app.js``. Leaflet is served from the
installed XStatic-Leaflet package (a declared dependency), never copied into the repo.
The caseload's script and fflate (vendored in ``vendor/fflate`` with its licence: no pip
package carries it) are loaded by the page only when a reader chooses a file.

Static files are served from memory with a content hash: the page references them as
``/site/app.js?v=<hash>`` and ``/vendor/leaflet/<version>/leaflet.js``, which are cached for
a year (``immutable``); any other request for them is cached for five minutes. Each file is
gzipped once. The API's caching hook (``directory.web.http``) keeps the Cache-Control and ETag
set here and answers conditional requests with 304s.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import swagger_ui_bundle
import xstatic.pkg.leaflet as xstatic_leaflet
from flask import Blueprint, Response, abort, render_template, request, url_for

STATIC_DIR = Path(__file__).resolve().parent / "static"
LEAFLET_DIR = Path(xstatic_leaflet.BASE_DIR).resolve()
LEAFLET_VERSION = xstatic_leaflet.VERSION
LEAFLET_FILES = frozenset(
    {
        "leaflet.js",
        "leaflet.css",
        "images/layers.png",
        "images/layers-2x.png",
        "images/marker-icon.png",
        "images/marker-icon-2x.png",
        "images/marker-shadow.png",
    }
)
SITE_FILES = frozenset({"app.js", "app.css", "caseload.js"})
#: fflate (zip), for the caseload's XLSX files: vendored unchanged from npm (see its SOURCE.md)
FFLATE_DIR = Path(__file__).resolve().parent / "vendor" / "fflate"
FFLATE_VERSION = "0.8.3"
#: Swagger UI's files for the API docs (flask-smorest's page at /api/v1/docs loads these)
SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path).resolve()
SWAGGER_FILES = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
     "favicon-16x16.png", "favicon-32x32.png"}
)  # fmt: skip

LONG_CACHE = "public, max-age=31536000, immutable"
SHORT_CACHE = "public, max-age=300"
TILE_HOST = "https://tile.openstreetmap.org"
# The page runs no inline script or style; tiles are the only outside resource, and only
# when the reader ticks the box. Leaflet positions its panes through the CSSOM, which CSP
# does not restrict.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src 'self' data: {TILE_HOST}",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
_MIMETYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
_COMPRESS = frozenset({".js", ".css", ".html"})

site = Blueprint("site", __name__, template_folder="templates")


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    etag: str
    mimetype: str


def _load(path: Path) -> Asset:
    body = path.read_bytes()
    suffix = path.suffix
    mimetype = (
        _MIMETYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    gzipped = gzip.compress(body, 9, mtime=0) if suffix in _COMPRESS else None
    return Asset(body, gzipped, hashlib.sha1(body).hexdigest()[:16], mimetype)


@lru_cache(maxsize=64)
def _asset(path: Path, mtime_ns: int) -> Asset:
    return _load(path)


def asset(path: Path) -> Asset:
    """The file's bytes, gzip and hash, re-read when it changes (a development edit)."""
    return _asset(path, path.stat().st_mtime_ns)


def _respond(data: Asset, cache_control: str) -> Response:
    etag = f'"{data.etag}"'
    headers = {
        "Cache-Control": cache_control,
        "ETag": etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if data.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        # its own tag, as the API's compressed answers have (a range names one body)
        headers["ETag"] = f'"{data.etag}:gzip"'
        response = Response(data.gzipped, mimetype=data.mimetype, headers=headers)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = Response(data.body, mimetype=data.mimetype, headers=headers)
    return response


def _static_url(name: str) -> str:
    return url_for("site.static_file", filename=name, v=asset(STATIC_DIR / name).etag)


@site.get("/")
def index() -> Response:
    """The public page: find a patch by postcode or borough; map, services and dashboard."""
    html = render_template(
        "index.html",
        app_js=_static_url("app.js"),
        app_css=_static_url("app.css"),
        leaflet_js=url_for("site.leaflet", version=LEAFLET_VERSION, filename="leaflet.js"),
        leaflet_css=url_for("site.leaflet", version=LEAFLET_VERSION, filename="leaflet.css"),
        caseload_js=_static_url("caseload.js"),
        fflate_js=url_for("site.fflate", version=FFLATE_VERSION),
    ).encode()
    page = Asset(
        html, gzip.compress(html, 6, mtime=0), hashlib.sha1(html).hexdigest()[:16], "text/html"
    )
    response = _respond(page, "no-cache")
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@site.get("/site/<path:filename>")
def static_file(filename: str) -> Response:
    """The page's own script and style sheet."""
    if filename not in SITE_FILES:
        abort(404)
    data = asset(STATIC_DIR / filename)
    versioned = request.args.get("v") == data.etag
    return _respond(data, LONG_CACHE if versioned else SHORT_CACHE)


@site.get("/swagger-ui/<path:filename>")
def swagger_ui(filename: str) -> Response:
    """Swagger UI for /api/v1/docs, from the installed swagger-ui-bundle package, gzipped once
    and served from memory like the page's own files."""
    if filename not in SWAGGER_FILES:
        abort(404)
    return _respond(asset(SWAGGER_DIR / filename), SHORT_CACHE)


@site.get("/vendor/leaflet/<version>/<path:filename>")
def leaflet(version: str, filename: str) -> Response:
    """Leaflet, from the installed XStatic-Leaflet package (the version is in the path)."""
    if version != LEAFLET_VERSION or filename not in LEAFLET_FILES:
        abort(404)
    return _respond(asset(LEAFLET_DIR / filename), LONG_CACHE)


@site.get("/vendor/fflate/<version>/fflate.js")
def fflate(version: str) -> Response:
    """fflate, vendored in ``vendor/fflate`` (the version is in the path)."""
    if version != FFLATE_VERSION:
        abort(404)
    return _respond(asset(FFLATE_DIR / "fflate.min.js"), LONG_CACHE)
