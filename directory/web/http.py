"""HTTP plumbing shared by every resource: problem+json, JSON bodies and caching."""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import logging
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from datetime import time as time_of_day
from typing import Any

import orjson
from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    RequestedRangeNotSatisfiable,
    UnsupportedMediaType,
)
from werkzeug.http import http_date, parse_accept_header, parse_date

from directory.errors import (
    DatabaseNotInitialisedError,
    DatabaseReadOnlyError,
    DatabaseUnavailableError,
    DirectoryError,
    InvalidInputError,
    InvalidParameterError,
)
from directory.ingest.values import unstorable_in, why_not_json
from directory.store.db import READ_ONLY, is_not_initialised, is_read_only
from directory.usecases import problems, shared
from directory.usecases.opportunities import LONDON_TZ, days_of_hour
from directory.web import limits, routing
from directory.web.logs import REQUEST_ID_KEY

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"
GEOJSON_MIMETYPE = "application/geo+json"
CSV_MIMETYPE = "text/csv"
ATOM_MIMETYPE = "application/atom+xml"
CALENDAR_MIMETYPE = "text/calendar"
COMPRESSIBLE = [
    "application/json", PROBLEM_MIMETYPE, GEOJSON_MIMETYPE, CSV_MIMETYPE, ATOM_MIMETYPE,
    CALENDAR_MIMETYPE,
    "text/html", "text/css", "application/javascript", "text/javascript", "image/svg+xml",
]  # fmt: skip
UNCACHED_PATHS = frozenset({"/health", "/ready"})
#: the headers of an answer a script on another origin may read (CORS), besides those it
#: always may (Cache-Control, Content-Type …): every one the API sends for its client to
#: read (a map fetching ranges, pages, a write's limit, when to retry)
EXPOSED_HEADERS = [
    "ETag", "Last-Modified", "Link", "Location", "Content-Location", "Accept-Ranges",
    "Content-Range",
    "Content-Disposition", "X-Total-Count", "Retry-After", "RateLimit-Limit",
    "RateLimit-Remaining", "RateLimit-Reset", "WWW-Authenticate", "Allow", "X-Request-Id",
]  # fmt: skip
#: preconditions that compare the answer as sent (its coding's ETag): judged after
#: compression, in :func:`byte_ranges`
_PRECONDITIONS = ("HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE")
#: what a Range is answered by, once If-Range is judged: the method and the range
_RANGE_ENVIRON = ("REQUEST_METHOD", "HTTP_RANGE")
#: the content codings flask-compress gives, best first, and the smallest body it compresses
#: (app.py sets them from these)
CODINGS = ("zstd", "gzip")
COMPRESS_MIN_SIZE = 2048
_COMPRESSIBLE_SET = frozenset(COMPRESSIBLE)

_CODES = {
    400: "bad-request",
    401: "missing-key",
    403: "forbidden",
    409: "conflict",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    416: "range-not-satisfiable",
    422: "invalid-input",
    429: "too-many-requests",
    500: "internal-error",
}
#: the codes of the problems answered here and by the servers in front (gunicorn's and
#: nginx's, directory/web/serving), besides the error classes' (directory/errors.py),
#: with their statuses: documented at /problems/{code} (directory/usecases/problems.py)
PROBLEM_STATUSES = {code: status for status, code in _CODES.items()} | {
    "uri-too-long": 414, "expectation-failed": 417, "request-header-fields-too-large": 431,
    "not-implemented": 501, "service-unavailable": 503,
}  # fmt: skip


def json_response(body: Any, status: int = 200, mimetype: str = "application/json") -> Response:
    return Response(dumps(body), status=status, mimetype=mimetype)


def dumps(body: Any) -> bytes:
    """Compact UTF-8 JSON. orjson is several times faster than the standard library on the
    per-request answers. Dicts keyed by something other than strings (counts by year) take
    orjson's slower non-string-keys mode, only when met; text it cannot encode (a lone
    surrogate echoed from the query) falls back to the standard library's escaped ASCII.
    (orjson writes a non-finite float as null; inputs are checked to be finite before they
    reach an answer.) Parts kept between requests (:class:`directory.usecases.shared.Shared`) are
    copied in as the JSON they were encoded to once."""
    try:
        return orjson.dumps(body, default=shared.encode)
    except orjson.JSONEncodeError:
        pass
    try:
        return orjson.dumps(body, default=shared.plain, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        text = json.dumps(
            body, ensure_ascii=True, separators=(",", ":"), allow_nan=False, default=shared.plain
        )
        return text.encode("ascii")


def sent_path() -> str:
    """This request's path as the client sent it, percent-encoded (without the query): the
    address a problem's ``instance`` and a page's links name (:func:`routing.path_as_sent`:
    the decoded path is another address where a ref holds an escaped ``/``)."""
    return routing.path_as_sent(request.environ, request.script_root + request.path)


def problem_type(code: str) -> str:
    """A problem's ``type``: the page documenting its code (RFC 9457 §3.1.1), or
    ``about:blank`` for a status with no code of its own (``http-NNN``)."""
    return "about:blank" if code.startswith("http-") else f"/problems/{code}"


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """``body`` (status, title, detail, code …) as a problem: its ``type`` and ``title``
    are its code's (:func:`problem_type`, :func:`_titles`), whoever made it, so that one
    code has one type and one title."""
    code = body["code"]
    body = {"type": problem_type(code), **body}
    body["title"] = _titles().get(code, body["title"])
    body.setdefault("instance", sent_path())
    if body["status"] >= 500 and (request_id := request.environ.get(REQUEST_ID_KEY)):
        body["request_id"] = request_id  # for the user to quote: it names the log's lines
    response = json_response(body, status=body["status"], mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _error_lines(errors: Any, name: str = "") -> list[str]:
    """``name: messages`` for each field, the items of a list named ``theme[0]`` and the
    members of a nested field ``body.member`` (not the dicts marshmallow keeps them in)."""
    if not isinstance(errors, dict):
        text = " ".join(map(str, errors)) if isinstance(errors, list) else str(errors)
        return [f"{name}: {text}" if name else text]
    lines: list[str] = []
    for key, value in errors.items():
        if not name:
            child = str(key)
        elif isinstance(key, int) or str(key).isdigit():
            child = f"{name}[{key}]"
        else:
            child = f"{name}.{key}"
        lines += _error_lines(value, child)
    return lines


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
        "title": error.name,
        "status": status,
        "detail": data.get("message") or error.description or error.name,
        "code": _CODES.get(status, f"http-{status}"),
    }
    if "messages" in data or "errors" in data:
        body["errors"] = _field_errors(data.get("errors", data.get("messages")))
        body["detail"] = "Some parameters are invalid: " + "; ".join(_error_lines(body["errors"]))
        if status == 400:  # a value the arguments' schema refused where a standard wants 400
            body["code"] = InvalidParameterError.code  # (OGC API – Features), as a use case's
    headers = dict(data.get("headers") or {})
    if status == 405 and (allow := getattr(error, "valid_methods", None)):
        headers["Allow"] = ", ".join(allow)
    return problem_response(body, headers)


def problem_title(code: str) -> str | None:
    """The title of a problem code's page (None for a code without one)."""
    return _titles().get(code)


@functools.cache
def _titles() -> dict[str, str]:
    """Each problem code's one title (RFC 9457 §3.1.3: a type's title does not change from
    one occurrence to the next), as its page at /problems/{code} gives it: a 422 the
    arguments' schema refused is titled as every other ``invalid-input`` ("The request has
    invalid values", not werkzeug's "Unprocessable Entity")."""
    return {code: entry["title"] for code, entry in problems.catalogue(PROBLEM_STATUSES).items()}


#: how long a client should wait before asking again after a 503
RETRY_AFTER_SECONDS = "30"


def _directory_error(error: DirectoryError) -> Response:
    headers = error.headers()
    if error.status == 503 and getattr(error, "retry_after", True):
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    return problem_response(error.to_problem(), headers)


def _database_error(error: DBAPIError) -> Response:
    """A database with no tables yet, or one that cannot be reached, is a 503 saying what
    to do; any other database error is unexpected (500, logged)."""
    if is_not_initialised(error):
        problem: DirectoryError = DatabaseNotInitialisedError(
            "The database has no tables yet. Run `directory init` (migrate, then load the "
            "geography)."
        )
    elif is_read_only(error):
        log.warning(
            "database read-only on %s %s: %s", request.method, request.path, _first_line(error)
        )
        problem = DatabaseReadOnlyError(
            f"{READ_ONLY}. Reads still work; writes will fail until an operator makes it writable."
        )
        return problem_response(problem.to_problem())
    elif isinstance(error, OperationalError | InterfaceError) or error.connection_invalidated:
        # the server stopped, restarted or refused a connection, at checkout, on a kept
        # read connection's ping or mid-query: the connection is replaced, the client waits
        log.warning(
            "database unavailable on %s %s: %s", request.method, request.path, _first_line(error)
        )
        problem = DatabaseUnavailableError(
            "The database could not be reached or is busy. Try again shortly."
        )
    else:
        return _unexpected_error(error)
    return problem_response(problem.to_problem(), {"Retry-After": RETRY_AFTER_SECONDS})


def _first_line(error: DBAPIError) -> str:
    """The driver's own words, first line only: SQLAlchemy's text of an error runs to
    several lines (the statement, its parameters, a link), and an outage logs one per
    request that meets it (3,943 multi-line warnings in a 12 s PostgreSQL outage)."""
    return (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]


def _unexpected_error(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return http_exception_response(error)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem_response(
        {
            "title": DirectoryError.title,  # as /problems/internal-error names it
            "status": 500,
            "detail": "Something went wrong on our side; it has been logged.",
            "code": "internal-error",
        }
    )


def _cache_headers(response: Response, cache_control: str) -> Response:
    """ETag, Last-Modified and Cache-Control on successful reads; answer 304s. A read's 404
    or 410 is kept as long as its 200s would be, and a 5xx never (``no-store``).

    This runs on every read, so it stays cheap: headers are set as ready-made strings, the
    request's conditional headers are looked up in the WSGI environ, and werkzeug's
    conditional machinery runs only for requests that are conditional."""
    environ = request.environ
    if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
        return response
    if environ.get("PATH_INFO") in UNCACHED_PATHS:
        response.headers["Cache-Control"] = "no-store"
        return response
    status = response.status_code
    if status != 200:
        if status in (404, 410) and "Cache-Control" not in response.headers:
            # a read's "not here" lasts as its answers do (not a CDN's own default for a
            # 404, an hour at some); it may change with the data, as a 200 may
            response.headers["Cache-Control"] = cache_control
            response.vary.add("Accept")
        elif status >= 500:  # an outage's answer is never kept
            response.headers["Cache-Control"] = "no-store"
        return response
    if response.direct_passthrough or response.is_streamed:
        return response
    headers = response.headers
    present = {name.lower() for name, _ in headers}  # one pass; each `in headers` is another
    if "cache-control" not in present:  # a view may set its own (the page's static files)
        headers.add("Cache-Control", cache_control)
    # lists answer as JSON, GeoJSON or CSV by Accept
    if "vary" in present:
        response.vary.add("Accept")
    else:
        headers.add("Vary", "Accept")
    request_globals = g._get_current_object()  # one look-up of the context for both flags
    version = getattr(request_globals, "data_version", None)
    # an answer that changes without the data version (its ETag hashes its body) has no
    # date it last changed: a Last-Modified would let If-Modified-Since keep a stale copy
    from_body = getattr(request_globals, "etag_from_body", False)
    if version is not None and not from_body:
        last_modified, day = _daily_stamp(version, int(time.time() // 3600))
        if "last-modified" in present:
            headers.set("Last-Modified", last_modified)
        else:
            headers.add("Last-Modified", last_modified)
    etag = response.get_etag()[0] if "etag" in present else None  # a view's own
    if etag is None:
        if version is None or from_body:
            # answers that did not read the data version, or that change without it
            # (import runs, status), hash their body
            etag = hashlib.sha1(response.get_data()).hexdigest()
        else:
            etag = _etag(version.id, day, environ)
        headers.add("ETag", f'"{etag}"')
    else:
        headers.set("ETag", f'"{etag}"')
    if _PRECONDITIONS[0] in environ or _PRECONDITIONS[1] in environ:
        return response  # If-Match compares the tag of the answer as sent: byte_ranges
    if "HTTP_IF_NONE_MATCH" in environ:
        if _none_match(etag.split(":", 1)[0]):  # a view's own tag may name its coding
            return _not_modified(response, _tag_as_sent(etag, response))
    elif "HTTP_IF_MODIFIED_SINCE" in environ and _not_modified_since(response):
        return _not_modified(response, _tag_as_sent(etag, response))
    return response


def _not_modified_since(response: Response) -> bool:
    """Whether the answer's Last-Modified is not after the request's If-Modified-Since."""
    return _changed_since(request.environ["HTTP_IF_MODIFIED_SINCE"], response) is False


def _changed_since(sent: str, response: Response) -> bool | None:
    """Whether the answer's Last-Modified is later than the HTTP date ``sent`` (the value of
    If-Modified-Since or If-Unmodified-Since); None when either is missing, as a date that
    does not parse is ignored (RFC 9110 §13.1.3, §13.1.4)."""
    since, modified = parse_date(sent), response.last_modified
    return None if since is None or modified is None else modified > since


def _none_match(etag: str) -> bool:
    """Whether the request's If-None-Match names the answer (``etag``: its tag before any
    coding's suffix). flask-compress suffixes a compressed body's tag (``:zstd``,
    ``:gzip``), and any form matches: every coding of an answer is the same answer.
    If-None-Match compares weakly (RFC 9110 §13.1.2): W/"x" matches "x". An empty tag ("")
    is parsed as None and matches nothing."""
    sent = request.if_none_match
    return sent.star_tag or etag in {tag.split(":", 1)[0] for tag in sent.as_set(True) if tag}


def _not_modified(response: Response, tag: str | None) -> Response:
    """A 304 for ``response``: its headers, with ``tag`` as its ETag, and no body."""
    not_modified = Response(status=304, headers=response.headers.copy())
    if tag:
        not_modified.headers["ETag"] = f'"{tag}"'
    for name in ("Content-Length", "Content-Type", "Content-Encoding"):
        not_modified.headers.pop(name, None)
    return not_modified


def _tag_as_sent(etag: str, response: Response) -> str:
    """The ETag ``response`` (not yet compressed) will have as sent to this request: with
    the suffix of the coding flask-compress will give it (by its own choice of coding), so
    that a 304 names the representation the client may hold, not one it cannot decode."""
    if (
        response.mimetype not in _COMPRESSIBLE_SET
        or "Content-Encoding" in response.headers
        or (response.content_length or 0) < COMPRESS_MIN_SIZE
    ):
        return etag
    coding = chosen_coding(request.environ.get("HTTP_ACCEPT_ENCODING", ""))
    return f"{etag}:{coding}" if coding else etag


def chosen_coding(accept_encoding: str) -> str | None:
    """The coding a compressible answer goes in for this ``Accept-Encoding`` (RFC 9110
    §12.5.3), None for none: see :func:`_codings_taken`."""
    taken = _codings_taken(accept_encoding)
    return taken.split(";", 1)[0] if taken != "identity" else None


@functools.lru_cache(maxsize=512)
def _taken_cached(accept_encoding: str) -> str:
    return _codings_taken_now(accept_encoding)


def _codings_taken(accept_encoding: str) -> str:
    if len(accept_encoding) > 200:  # a browser's is 23 characters; a hostile one is not kept
        return _codings_taken_now(accept_encoding)
    return _taken_cached(accept_encoding)


def _codings_taken_now(accept_encoding: str) -> str:
    """Of our codings (:data:`CODINGS`), those the header takes (quality above 0; one it
    does not name takes ``*``'s; ``x-gzip`` is gzip), best first, as
    ``zstd;q=1,gzip;q=0.5``; ``identity`` when it takes none, or names ``identity`` above
    them all. Read with werkzeug's parser: case and spaces around ``;`` as RFC 9110
    §12.4.2 reads them; an entry whose quality does not parse (``q=abc``, ``q=1.5``) is
    left out."""
    named: dict[str, float] = {}
    for value, quality in parse_accept_header(accept_encoding):
        coding = value.lower()
        named.setdefault("gzip" if coding == "x-gzip" else coding, quality)  # §8.4.1.3
    anything = named.get("*", 0.0)
    taken = [(q, coding) for coding in CODINGS if (q := named.get(coding, anything)) > 0]
    taken.sort(key=lambda found: -found[0])  # stable: ours in order on a tie
    if not taken or named.get("identity", 0.0) > taken[0][0]:
        return "identity"
    return ",".join(f"{coding};q={quality:g}" for quality, coding in taken)


def settle_accept_encoding() -> None:
    """Replace the request's ``Accept-Encoding`` with the codings it takes of ours, in a
    form flask-compress reads as RFC 9110 does (:func:`_codings_taken`): its own reading
    takes ``zstd;q=0`` (not zstd) as zstd and misses ``zstd; q=0.5``. (A before-request
    hook: flask-compress and the page's files read the header after the view.)"""
    environ = request.environ
    header = environ.get("HTTP_ACCEPT_ENCODING")
    if header:
        environ["HTTP_ACCEPT_ENCODING"] = _codings_taken(header)


#: ``charset=utf-8`` on a media range of an Accept header (RFC 9110 §12.5.1)
_UTF8_CHARSET = re.compile(r';\s*charset\s*=\s*"?utf-?8"?\s*(?=;|,|$)', re.IGNORECASE)


def settle_accept() -> None:
    """Drop ``charset=utf-8`` from the request's ``Accept`` media ranges: every text this
    API sends is UTF-8 (JSON has no other, RFC 8259 §8.1), so ``application/json;
    charset=UTF-8``, as many Java and .NET clients send it, takes our JSON. werkzeug counts
    a range with parameters only for an offer with the same ones, and so refused it with a
    406. Another charset, or another parameter (the OpenAPI document's ``version``), is
    kept and compared. (A before-request hook: the views and ``_acceptable`` read it.)"""
    environ = request.environ
    header = environ.get("HTTP_ACCEPT")
    if header and "charset" in header.lower():
        environ["HTTP_ACCEPT"] = _UTF8_CHARSET.sub("", header)


@functools.lru_cache(maxsize=8)
def _daily_stamp(version: Any, hour: int) -> tuple[str, str]:
    """Last-Modified for the data version in the UTC hour ``hour`` (hours since the
    epoch), and the days its answers are for, as the ETag takes them.

    Answers depend on the day too: grant statuses, months left and an opportunity's days
    left on London's day, which in summer begins an hour before UTC's. Both days turn on
    a whole UTC hour (London is UTC or UTC+1); the ETag names both (grant statuses followed
    the UTC day until 6 December, and an opportunity list's kept answer is judged by it). Last-Modified is the
    version's load time, or the later of the two midnights passed if later, so a cache
    revalidating with If-Modified-Since alone does not keep yesterday's answer; the ETag
    changes at both midnights."""
    utc_day, london_day = days_of_hour(hour)
    utc_midnight = datetime.combine(utc_day, time_of_day(), UTC)
    london_midnight = datetime.combine(london_day, time_of_day(), LONDON_TZ).astimezone(UTC)
    loaded = version.loaded_at
    aware = loaded if loaded.tzinfo else loaded.replace(tzinfo=UTC)
    modified = max(aware, utc_midnight, london_midnight)
    return http_date(modified), f"{utc_midnight.date().isoformat()}/{london_day.isoformat()}"


def _etag(version_id: int, day: str, environ: dict[str, Any]) -> str:
    """A read's answer is a function of the data version, the day (grant statuses), the URL
    and the Accept header, so the ETag is derived from those rather than by hashing what may
    be a large body."""
    key = "|".join((
        str(version_id), day, environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""),
        environ.get("HTTP_ACCEPT", ""),
    ))  # fmt: skip
    digest = _SHA1.copy()  # (a copy: constructing one looks the algorithm up each time)
    digest.update(key.encode("utf-8", "surrogatepass"))
    return f"v{version_id}-" + digest.hexdigest()[:24]


#: an empty SHA-1, copied for each ETag (:func:`_etag`)
_SHA1 = hashlib.sha1()


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of range")
    return value


#: the most fields a problem about text that cannot be stored names
MAX_UNSTORABLE_NAMED = 20


def _check_json_body() -> None:
    """Refuse bodies that Python's json would accept but JSON forbids (NaN, Infinity; a
    byte order mark, UTF-16 or UTF-32, which some routes' parsers took and others did not)
    or that it cannot handle (huge integers, deep nesting), as a 400 problem, before any
    view or validator parses them: one check for every route taking a JSON body. On the public
    routes that store what they are sent (feedback), text that cannot be stored is refused
    here too (:func:`refuse_unstorable`); a route taking a key refuses it once the key is
    known (``directory.web.auth.requires_key``: a request without one is the 401 first); a
    bulk lookup reads, and answers a postcode holding a NUL with that item's own problem,
    as any postcode it cannot read."""
    if request.method in ("POST", "PUT", "PATCH") and request.is_json:
        data = request.get_data(cache=True)
        if json.detect_encoding(data) != "utf-8":  # (what every route's parser takes)
            raise BadRequest(
                "The body is not valid JSON: send it in UTF-8, without a byte order mark "
                "(RFC 8259, section 8.1)."
            )
        try:
            g.json_body = json.loads(
                data,
                parse_constant=_reject_constant,
                parse_float=_finite_float,
            )
        except (ValueError, RecursionError) as error:
            raise BadRequest(f"The body is not valid JSON: {why_not_json(error)}.") from None
        mark = getattr(current_app.view_functions.get(request.endpoint), limits.MARK, None)
        if mark is not None and mark[0] == "feedback":
            refuse_unstorable()


def refuse_unstorable(data: Any = None) -> None:
    """Text in the request's JSON body (or ``data``, a form's fields) that cannot be stored
    (a NUL character, half of a surrogate pair such as ``"\\ud800"``, an invisible control
    character: :func:`~directory.ingest.values.unstorable`) is a 422 naming each field,
    before the view reads it."""
    if data is None:
        data = g.get("json_body")
    found = list(itertools.islice(unstorable_in(data), MAX_UNSTORABLE_NAMED))
    if found:
        errors: dict[str, list[str]] = {}
        for field, why in found:
            errors.setdefault(field or "_schema", []).append(f"The text {why}.")
        raise InvalidInputError(
            "The body has text that cannot be stored: "
            + "; ".join(f"{field}: {' '.join(texts)}" for field, texts in errors.items()),
            errors=errors,
        )


#: how the document describes the 415 of every route taking a JSON body
UNSUPPORTED_JSON = "unsupported-media-type: the body is not JSON (`Content-Type: application/json`)"


def require_json() -> None:
    """A body sent as anything but JSON (a CSV, a form) is a 415 problem naming
    ``application/json``, not read as a JSON object missing every member (a 422 that
    hides the mistake). Every route taking a JSON body calls it first (``Blueprint.arguments``
    and ``writing.body``)."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON (Content-Type: application/json).")


def _reject_nul() -> None:
    """NUL characters are never meaningful in a path or query, and PostgreSQL cannot
    compare text containing them: refuse them up front as a 400 problem. (The query is
    looked at as sent, still percent-encoded: a NUL arrives there as %00.)"""
    environ = request.environ
    query = environ.get("QUERY_STRING", "")
    if "\x00" in environ.get("PATH_INFO", "") or "%00" in query or "\x00" in query:
        raise BadRequest("The path or query contains a NUL character.")


#: what a JSON, CSV or Atom answer may do once a browser has it: nothing (no scripts, no
#: framing); the page at / and the API docs send their own
DOCS_PATH = "/api/v1/docs"
API_CSP = "default-src 'none'; frame-ancestors 'none'"
#: Swagger UI (flask-smorest's page at /api/v1/docs): its files from /swagger-ui/, its one
#: inline start-up script (by its hash: no other inline script runs), inline styles, the
#: document and "Try it out" from this origin
DOCS_CSP = (
    "default-src 'none'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_policy(response: Response) -> Response:
    """The docs page's Content-Security-Policy, allowing the inline scripts of this very
    page by their SHA-256 (CSP Level 2), read before the page is compressed (``register``
    adds this hook after flask-compress's, so it runs first)."""
    if request.environ.get("PATH_INFO") == DOCS_PATH and response.mimetype == "text/html":
        hashes = " ".join(
            "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
            for script in _INLINE_SCRIPT.findall(response.get_data())
        )
        response.headers["Content-Security-Policy"] = DOCS_CSP.format(scripts=hashes)
    return response


def byte_ranges(response: Response) -> Response:
    """Range requests on reads (RFC 9110 §14): ``Accept-Ranges: bytes`` on every successful
    read, and a ``Range`` answered 206 with the part (several ranges with the whole answer;
    a suffix longer than the answer with all of it; 416 when none of it exists), of the
    representation as sent, compressed or not. GDAL's HTTP reader (QGIS, ogr2ogr, pyogrio)
    asks for ranges and refuses a large GeoJSON layer from a server without them.
    Registered before flask-compress, so that it runs after it (app.py). Not the probes,
    which answer whatever is asked, whole (a Range may be ignored, RFC 9110 §14.2)."""
    environ = request.environ
    if (
        response.status_code != 200 or environ["REQUEST_METHOD"] not in ("GET", "HEAD")
        or response.is_streamed or response.direct_passthrough
        or environ.get("PATH_INFO") in UNCACHED_PATHS
    ):  # fmt: skip
        return response
    response.headers["Accept-Ranges"] = "bytes"
    if response.headers.get("Content-Encoding") == "gzip":
        _timeless_gzip(response)
    if _PRECONDITIONS[0] in environ or _PRECONDITIONS[1] in environ:
        judged = _preconditions(response)
        if judged is not response:
            return security_headers(judged)
    # a Range header that does not parse, or in another unit, is ignored (RFC 9110 §14.2)
    asked = request.range if "HTTP_RANGE" in environ else None
    if asked is not None and asked.units == "bytes":
        if "HTTP_IF_RANGE" in environ and not _if_range_holds(response):
            return response  # the whole answer
        length = response.content_length or 0
        if len(asked.ranges) > 1:
            # werkzeug answers one range, not several (multipart/byteranges): the whole
            # answer, as a server may (RFC 9110 §14.2), unless none of them is in it (a
            # suffix range, its begin negative, always is)
            if any(begin < length for begin, _ in asked.ranges):
                return response
            return _not_satisfiable(length)
        # the Range alone: every condition was judged before (werkzeug's make_conditional
        # mixes If-Match into If-Range's answer, and takes a later date or a weak tag)
        ranged = {name: environ[name] for name in _RANGE_ENVIRON}
        ((begin, end),) = asked.ranges
        if begin < 0 and end is None and -begin > length > 0:
            # a suffix longer than the answer is all of it (RFC 9110 §14.1.3), where
            # werkzeug finds it not satisfiable
            ranged["HTTP_RANGE"] = "bytes=0-"
        try:
            response.make_conditional(ranged, accept_ranges=True, complete_length=length)
        except RequestedRangeNotSatisfiable:
            return _not_satisfiable(length)
    return response


def _not_satisfiable(length: int) -> Response:
    """The 416 problem for a Range none of whose ranges is in an answer ``length`` long."""
    problem = problem_response(
        {
            "title": "Range Not Satisfiable", "status": 416,
            "detail": f"The answer is {length} bytes long; the range asked for is not in it.",
            "code": _CODES[416],
        },
        {"Content-Range": f"bytes */{length}", "Accept-Ranges": "bytes"},
    )  # fmt: skip
    return security_headers(problem)


def _if_range_holds(response: Response) -> bool:
    """If-Range (RFC 9110 §13.1.5): a strong entity tag that is the answer's ETag as sent,
    or an HTTP date that is exactly its Last-Modified; anything else (a weak or unquoted
    tag, another date, what does not parse) asks for the whole answer."""
    sent = request.environ["HTTP_IF_RANGE"].strip()
    if sent.startswith('"'):
        etag, weak = response.get_etag()
        return not weak and etag is not None and sent == f'"{etag}"'
    date, modified = parse_date(sent), response.last_modified
    return date is not None and modified is not None and date == modified


def _preconditions(response: Response) -> Response:
    """A read's preconditions in RFC 9110 §13.2.2's order, against the answer as sent (its
    ETag with its coding's suffix): If-Match (a strong comparison, or ``*``), else
    If-Unmodified-Since; failing, a 412 problem naming the current ETag. Then, as for any
    read, If-None-Match (any coding's tag), else If-Modified-Since, answer 304. Returns
    ``response`` when it stands (a Range is then answered as usual)."""
    environ = request.environ
    etag, weak = response.get_etag()
    if _PRECONDITIONS[0] in environ:
        sent = request.if_match
        failed = not sent.star_tag and (etag is None or weak or not sent.contains(etag))
    else:
        failed = _changed_since(environ[_PRECONDITIONS[1]], response) is True
    if failed:
        current = f'"{etag}"' if etag and not weak else None
        headers = {"Vary": response.headers["Vary"]} if "Vary" in response.headers else {}
        if current:
            headers["ETag"] = current
        problem = problem_response(
            {
                "title": "Precondition Failed", "status": 412,
                "detail": "The answer is not one named in If-Match (or, without If-Match, "
                "its Last-Modified is later than If-Unmodified-Since): GET it again for "
                "the current one. An ETag names one coding of the answer (its :zstd or "
                ":gzip suffix).",
                "code": "precondition-failed",
                "current_etag": current,
            },
            headers,
        )  # fmt: skip
        problem.headers["Cache-Control"] = "no-store"
        return problem
    if "HTTP_IF_NONE_MATCH" in environ:
        if etag is not None and _none_match(etag.split(":", 1)[0]):
            return _not_modified(response, etag)
    elif "HTTP_IF_MODIFIED_SINCE" in environ and _not_modified_since(response):
        return _not_modified(response, etag)
    return response


def _timeless_gzip(response: Response) -> None:
    """Zero the gzip header's MTIME (RFC 1952 §2.3.1: 0, no time stamp), which gzip sets
    to the second the body was compressed: the same representation is then the same bytes
    at every request and in every worker, as its ETag says and as ranges of it must be (a
    client joining parts fetched a second apart got a corrupt body)."""
    body = response.get_data()
    if body[:2] == b"\x1f\x8b" and body[4:8] != b"\0\0\0\0":
        response.set_data(body[:4] + b"\0\0\0\0" + body[8:])


def security_headers(response: Response) -> Response:
    """``nosniff`` and a Content-Security-Policy on every answer; a CORS preflight
    advertises the methods the route answers (its ``Allow``), not every HTTP method, and
    none at all where no route answers (a 404 has no ``Allow``).
    Registered before flask-cors, so that it runs after it (app.py)."""
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    if "Content-Security-Policy" not in headers:  # the page's, the docs' (docs_policy) are set
        headers["Content-Security-Policy"] = API_CSP
    preflight = "Access-Control-Allow-Methods" in headers
    if preflight and request.environ["REQUEST_METHOD"] == "OPTIONS":
        if "Allow" in headers:
            headers["Access-Control-Allow-Methods"] = headers["Allow"]
        else:
            del headers["Access-Control-Allow-Methods"]
    return response


#: a quality of 0 in an Accept header (RFC 9110 §12.4.2): "not acceptable"
_REFUSED = re.compile(r";\s*q\s*=\s*0(\.0{0,3})?\s*(,|$)", re.IGNORECASE)


def best_of(offered: Sequence[str], default: str | None = None) -> str | None:
    """The type of ``offered`` the request's Accept header takes best (``default`` when it
    takes none), remembering what was offered: a 406 names them all (RFC 9110 §15.5.7)."""
    g.offered = offered
    return request.accept_mimetypes.best_match(offered, default=default)


def _acceptable(response: Response) -> Response:
    """A 200 the request's ``Accept`` header takes none of is a 406 problem naming what the
    resource is available as, not a silent answer in another type (RFC 9110 §12.5.1). A
    ``+json`` type (GeoJSON, problems) is taken by ``application/json``, and a ``+xml`` one
    (Atom) by ``application/xml`` or ``text/xml``, unless the header refuses it
    (``q=0``, named or by a wildcard); a type with parameters (the OpenAPI document's
    ``version``) is taken by its name with them or without; no header, or
    ``*/*`` refusing nothing, takes anything. A representation the query names
    (``format``, or the OGC API's ``f``) is what the client chose: it overrides the header,
    as OGC API – Common has ``f`` do (a script whose every request says ``Accept:
    application/json`` asking ``format=csv`` got a 406)."""
    environ = request.environ
    accept = environ.get("HTTP_ACCEPT")
    if (
        not accept or ("*/*" in accept and not _REFUSED.search(accept))
        or response.status_code != 200 or environ["REQUEST_METHOD"] not in ("GET", "HEAD")
        or environ.get("PATH_INFO") in UNCACHED_PATHS  # the probes answer whatever is asked
        or "format" in request.args or "f" in request.args
    ):  # fmt: skip
        return response
    offered = response.mimetype or ""
    accepted = request.accept_mimetypes
    if accepted.quality(offered) > 0:
        return response
    parameters = "".join(
        f";{name}={value}" for name, value in response.mimetype_params.items() if name != "charset"
    )
    if parameters and accepted.quality(offered + parameters) > 0:
        return response
    refused = offered in accepted  # named, or matched by a wildcard, with a quality of 0
    if offered.endswith("+json") and not refused and accepted.quality("application/json") > 0:
        return response
    # an Atom feed (application/atom+xml) to a client asking for XML (RFC 6839 §4.1)
    if (
        offered.endswith("+xml")
        and not refused
        and (accepted.quality("application/xml") > 0 or accepted.quality("text/xml") > 0)
    ):
        return response
    # what else the route offered (its choice among them made by the header), without
    # application/json when the answer is a +json type (GeoJSON: the same representation)
    others = [
        t
        for t in g.get("offered", ())
        if not (t == "application/json" and offered.endswith("+json"))
    ]
    available = list(dict.fromkeys([offered + parameters, *others]))
    return _not_acceptable(available, accept)


def _not_acceptable(available: list[str], accept: str) -> Response:
    return problem_response(
        {
            "title": "Not Acceptable",
            "status": 406,
            "detail": f"This resource is available as {', '.join(available)}; the Accept "
            f"header ({accept[:200]}) takes none of them.",
            "code": "not-acceptable",
            "available": available,
        }
    )


def _refuse_unacceptable_write() -> Response | None:
    """A write (POST, PATCH, DELETE: every one answers in JSON) whose ``Accept`` does not
    take application/json, by name or wildcard, is refused with the 406 before anything is
    written: :func:`_acceptable` judges an answer once it is made, too late for a write
    (``Accept: text/csv`` on ``POST /contacts`` created the contact and answered 201 in
    JSON). As for a read, a header taking only problems (application/problem+json) does
    not take the JSON answer. Only the API's routes: an unknown URL keeps its 404 or 405."""
    environ = request.environ
    accept = environ.get("HTTP_ACCEPT")
    if (
        not accept
        or environ["REQUEST_METHOD"] in ("GET", "HEAD", "OPTIONS")
        or request.url_rule is None
        or not request.path.startswith("/api/")
    ):
        return None
    if request.accept_mimetypes.quality("application/json") > 0:
        return None
    return _not_acceptable(["application/json"], accept)


def register(app: Flask, *, max_age: int) -> None:
    app.before_request(settle_accept_encoding)
    app.before_request(settle_accept)
    app.before_request(_refuse_unacceptable_write)
    app.before_request(_reject_nul)
    app.before_request(_check_json_body)
    app.register_error_handler(DirectoryError, _directory_error)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(Exception, _unexpected_error)
    cache_control = f"public, max-age={max_age}"
    app.after_request(lambda response: _cache_headers(response, cache_control))
    app.after_request(_acceptable)  # before the caching hook (hooks run last-registered first)
    app.after_request(docs_policy)  # on the page as made, before compression
