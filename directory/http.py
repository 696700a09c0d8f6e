"""HTTP plumbing shared by every resource: problem+json, JSON bodies and caching."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import BadRequest, HTTPException

from directory.errors import DirectoryError

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"
GEOJSON_MIMETYPE = "application/geo+json"
UNCACHED_PATHS = frozenset({"/health", "/ready"})

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
    text = json.dumps(body, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return Response(text, status=status, mimetype=mimetype)


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


def _cache_headers(response: Response, max_age: int) -> Response:
    """ETag, Last-Modified and Cache-Control on successful reads; answer 304s."""
    if request.method not in ("GET", "HEAD"):
        return response
    if request.path in UNCACHED_PATHS:
        response.cache_control.no_store = True
        return response
    if response.status_code != 200 or response.direct_passthrough or response.is_streamed:
        return response
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    version = g.get("data_version")
    if version is not None:
        response.last_modified = version.loaded_at
    response.add_etag()
    return response.make_conditional(request)


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


def register(app: Flask, *, max_age: int) -> None:
    app.before_request(_check_json_body)
    app.register_error_handler(DirectoryError, _directory_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.after_request(lambda response: _cache_headers(response, max_age))
