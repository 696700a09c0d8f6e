"""HTTP plumbing shared by every resource: problem+json, JSON bodies and caching."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Flask, Response, g, request
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.http import http_date

from directory.errors import DirectoryError

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"
GEOJSON_MIMETYPE = "application/geo+json"
CSV_MIMETYPE = "text/csv"
ATOM_MIMETYPE = "application/atom+xml"
COMPRESSIBLE = [
    "application/json", PROBLEM_MIMETYPE, GEOJSON_MIMETYPE, CSV_MIMETYPE, ATOM_MIMETYPE,
    "text/html", "text/css", "application/javascript", "text/javascript", "image/svg+xml",
]  # fmt: skip
UNCACHED_PATHS = frozenset({"/health", "/ready"})
_CONDITIONAL_HEADERS = frozenset(
    {"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"}
)

_CODES = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
    429: "too-many-requests",
    500: "internal-error",
}


def json_response(body: Any, status: int = 200, mimetype: str = "application/json") -> Response:
    return Response(dumps(body), status=status, mimetype=mimetype)


def dumps(body: Any) -> bytes:
    """Compact UTF-8 JSON. orjson is several times faster than the standard library on the
    per-request answers; text it cannot encode (a lone surrogate echoed from the query) falls
    back to the standard library's escaped ASCII. (orjson writes a non-finite float as null;
    inputs are checked to be finite before they reach an answer.)"""
    try:
        return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        text = json.dumps(body, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
        return text.encode("ascii")


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    body.setdefault("instance", request.path)
    response = json_response(body, status=body["status"], mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _field_errors(messages: Any) -> dict[str, Any]:
    """webargs reports errors per location ({"query": {"lat": [...]}}); flatten to fields."""
    if not isinstance(messages, dict):
        return {"_request": messages}
    flat: dict[str, Any] = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


def http_exception_response(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": error.name,
        "status": status,
        "detail": data.get("message") or error.description or error.name,
        "code": _CODES.get(status, f"http-{status}"),
    }
    if "messages" in data or "errors" in data:
        body["errors"] = _field_errors(data.get("errors", data.get("messages")))
        body["detail"] = "Some parameters are invalid: " + "; ".join(
            f"{name}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for name, msgs in body["errors"].items()
        )
    headers = dict(data.get("headers") or {})
    if status == 405 and (allow := getattr(error, "valid_methods", None)):
        headers["Allow"] = ", ".join(allow)
    return problem_response(body, headers)


def _directory_error(error: DirectoryError) -> Response:
    return problem_response(error.to_problem())


def _unexpected_error(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return http_exception_response(error)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem_response(
        {
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "Something went wrong on our side; it has been logged.",
            "code": "internal-error",
        }
    )


def _cache_headers(response: Response, cache_control: str) -> Response:
    """ETag, Last-Modified and Cache-Control on successful reads; answer 304s.

    Headers are set as ready-made strings, and werkzeug's conditional machinery runs only
    for requests that are conditional: this runs on every read, so it stays cheap."""
    if request.method not in ("GET", "HEAD"):
        return response
    if request.path in UNCACHED_PATHS:
        response.headers["Cache-Control"] = "no-store"
        return response
    if response.status_code != 200 or response.direct_passthrough or response.is_streamed:
        return response
    headers = response.headers
    if "Cache-Control" not in headers:  # a view may set its own (the page's static files)
        headers["Cache-Control"] = cache_control
    response.vary.add("Accept")  # lists answer as JSON, GeoJSON or CSV by Accept
    version = g.get("data_version")
    if version is not None:
        headers["Last-Modified"] = _http_date(_last_modified(version.loaded_at))
    etag = response.get_etag()[0] or _etag(response, version)  # or the view's own
    headers["ETag"] = f'"{etag}"'
    if "If-None-Match" in request.headers:
        # flask-compress suffixes the ETag of a compressed body (":gzip"); either form matches
        sent = request.if_none_match
        tags = {tag.split(":", 1)[0]: tag for tag in sent.as_set()}
        if sent.star_tag or etag in tags:
            not_modified = Response(status=304, headers=response.headers.copy())
            not_modified.headers["ETag"] = f'"{tags.get(etag, etag)}"'
            for name in ("Content-Length", "Content-Type", "Content-Encoding"):
                not_modified.headers.pop(name, None)
            return not_modified
        return response
    if _CONDITIONAL_HEADERS.intersection(request.headers.keys()):
        return response.make_conditional(request)
    return response


def _last_modified(loaded_at: datetime) -> datetime:
    """The data version's load time, or today's midnight (UTC) if later: answers depend on
    the day too (grant statuses, months left), so a cache revalidating with
    If-Modified-Since alone must not keep yesterday's answer."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    aware = loaded_at if loaded_at.tzinfo else loaded_at.replace(tzinfo=UTC)
    return max(aware, midnight)


def _etag(response: Response, version: Any) -> str:
    """A read's answer is a function of the data version, the day (grant statuses), the URL
    and the Accept header, so the ETag is derived from those rather than by hashing what may
    be a large body; answers that did not read the data version, or that change without it
    (import runs, status), hash their body."""
    if version is None or g.get("etag_from_body"):
        return hashlib.sha1(response.get_data()).hexdigest()
    day = datetime.now(UTC).date().isoformat()
    key = f"{version.id}|{day}|{request.full_path}|{request.headers.get('Accept', '')}"
    return f"v{version.id}-" + hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:24]


@functools.lru_cache(maxsize=8)
def _http_date(moment: datetime) -> str:
    return http_date(moment)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of range")
    return value


def _check_json_body() -> None:
    """Refuse bodies that Python's json would accept but JSON forbids (NaN, Infinity) or
    that it cannot handle (huge integers, deep nesting), as a 400 problem, before any
    view or validator parses them."""
    if request.method in ("POST", "PUT", "PATCH") and request.is_json:
        try:
            json.loads(
                request.get_data(cache=True),
                parse_constant=_reject_constant,
                parse_float=_finite_float,
            )
        except (ValueError, RecursionError) as error:
            raise BadRequest(f"The body is not valid JSON: {type(error).__name__}.") from None


def _reject_nul() -> None:
    """NUL characters are never meaningful in a path or query, and PostgreSQL cannot
    compare text containing them: refuse them up front as a 400 problem."""
    if "\x00" in request.path or (
        request.query_string
        and any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True))
    ):
        raise BadRequest("The path or query contains a NUL character.")


def register(app: Flask, *, max_age: int) -> None:
    app.before_request(_reject_nul)
    app.before_request(_check_json_body)
    app.register_error_handler(DirectoryError, _directory_error)
    app.register_error_handler(Exception, _unexpected_error)
    cache_control = f"public, max-age={max_age}"
    app.after_request(lambda response: _cache_headers(response, cache_control))
