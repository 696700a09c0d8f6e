"""Logging: the process's log output (text or JSON on stderr) and one line per request.

:func:`configure` sets the process up once: a single handler on the root logger writes every
record (the request lines, ``directory.store.loading``'s, Flask's, a library's warning) to stderr
in the chosen format, and ``DIRECTORY_LOG_LEVEL`` is the level of the ``directory``
loggers. Calling it again (another app in the same process) swaps the format and level of
that one handler instead of adding another.

:func:`register` makes an app log each request once, on the ``directory.requests`` logger
at INFO: method, path and query, status, duration, body size, remote address and the data
version the answer was made from. That is the version the request itself looked up
(``g.data_version``, set where the ETag basis is read, :mod:`directory.web.state`); a request that
read none (``/health``, the page's files) logs null. The line is written by a WSGI wrapper
around the Flask app, after every hook and error handler has run, so it carries the status
actually sent (a 304, a problem answer, a 500) and is written exactly once, even when an
exception escapes Flask. With the logger above INFO it costs two level checks a request.

Every request has an id: the ``X-Request-Id`` nginx (``$request_id``) or the client sent,
when it is one (1-200 printable ASCII characters, no space: it is written into log lines
as it is), else a new one (a UUID4's hex). It goes back as ``X-Request-Id`` on every
answer, is named by every log record written while the request runs (its line, an
unhandled error's traceback; ``request_id`` in JSON, `` request_id=…`` at the end of a
text record's message) and by a 5xx problem's body, so that a user who quotes it leads
to the lines.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote

from flask import Flask, g, request
from pythonjsonlogger.json import JsonFormatter

from directory.settings import Settings

#: the request lines' logger (its level alone can silence them)
log = logging.getLogger("directory.requests")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: the standard fields of a JSON line, first and renamed; a request line adds its own
JSON_FIELDS = ("asctime", "levelname", "name", "message")
JSON_RENAMES = {"asctime": "time", "levelname": "level", "name": "logger"}
REQUEST_MESSAGE = "%s %s %s %.2fms version=%s bytes=%s remote=%s"

HANDLER_NAME = "directory"
#: the header a request's id comes in on (nginx's, a client's) and goes back on
REQUEST_ID_HEADER = "X-Request-Id"
#: the WSGI environ key the request's id is kept under
REQUEST_ID_KEY = "directory.request_id"
#: an id taken as sent: printable ASCII without spaces, at most 200 characters
_GIVEN_ID = re.compile(r"[!-~]{1,200}").fullmatch
#: the id of the request this thread is answering (None outside one)
_request_id: ContextVar[str | None] = ContextVar("directory_request_id", default=None)
#: the WSGI environ key the data version is handed to the wrapper under
DATA_VERSION_KEY = "directory.data_version"
# PATH_INFO arrives percent-decoded: encode it again (RFC 3986 pchar and "/"), so a line
# shows the path as sent and a decoded space, newline or "?" cannot split or forge one
_PATH_SAFE = "/:@!$&'()*+,;="
_PATH_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9/:@!$&'()*+,;=._~-]").search
# QUERY_STRING arrives as sent; anything but printable ASCII is encoded (same reason)
_QUERY_SAFE = "".join(chr(c) for c in range(33, 127))
_QUERY_NEEDS_QUOTING = re.compile(r"[^!-~]").search


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is when a record is emitted (the same as at setup in a
    server; a test's or a CLI runner's capture otherwise), like logging's last resort."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr


def _utc_iso(formatter: logging.Formatter) -> logging.Formatter:
    """Times as ISO 8601 in UTC with milliseconds: 2025-06-02T09:14:03.512Z."""
    formatter.converter = time.gmtime  # type: ignore[method-assign,assignment]
    formatter.default_time_format = "%Y-%m-%dT%H:%M:%S"
    formatter.default_msec_format = "%s.%03dZ"
    return formatter


class _TextFormatter(logging.Formatter):
    """:data:`TEXT_FORMAT`, and a request's records end their message with its id (before a
    traceback's lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        return line if request_id is None else f"{line} request_id={request_id}"


def _name_the_request(record: logging.LogRecord) -> bool:
    """The handler's filter: a record written while a request runs names its id."""
    if not hasattr(record, "request_id"):
        request_id = _request_id.get()
        if request_id is not None:
            record.request_id = request_id
    return True


def request_id_of(environ: dict[str, Any]) -> str:
    """The id a request is known by: the ``X-Request-Id`` it came with when that is one
    (see the module's docstring), else a new one."""
    given = environ.get("HTTP_X_REQUEST_ID")
    if given is not None and _GIVEN_ID(given):
        return given  # type: ignore[no-any-return]
    return uuid.uuid4().hex


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of ``log_format`` ("text" or "json", see :class:`Settings`)."""
    if log_format == "json":
        return _utc_iso(JsonFormatter(list(JSON_FIELDS), rename_fields=JSON_RENAMES))
    return _utc_iso(_TextFormatter(TEXT_FORMAT))


def configure(settings: Settings) -> None:
    """Set the process's logging up for ``settings``: idempotent, one handler however many
    apps are made (the last one's format wins). Call it before ``app.logger`` is first
    used, so that Flask finds this handler and adds none of its own."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == HANDLER_NAME), None)
    if handler is None:
        handler = _StderrHandler()
        handler.set_name(HANDLER_NAME)
        root.addHandler(handler)
    if _name_the_request not in handler.filters:
        handler.addFilter(_name_the_request)
    handler.setFormatter(formatter(settings.log_format))
    logging.getLogger("directory").setLevel(settings.log_level)


def register(app: Flask) -> None:
    """Log each of ``app``'s requests once (see the module's docstring)."""
    app.wsgi_app = RequestLog(app.wsgi_app)  # type: ignore[method-assign]
    app.teardown_request(_hand_over_data_version)


def _hand_over_data_version(_error: BaseException | None = None) -> None:
    """Give the wrapper the data version this request looked up, before ``g`` goes."""
    if log.isEnabledFor(logging.INFO):
        version = getattr(g._get_current_object(), "data_version", None)
        if version is not None:
            request.environ[DATA_VERSION_KEY] = version.id


StartResponse = Callable[..., Any]


class RequestLog:
    """WSGI middleware: gives the request its id (sent back on the answer, named by the
    records written meanwhile), times the app and writes the request's line when it
    returns."""

    __slots__ = ("wsgi_app",)

    def __init__(self, wsgi_app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]):
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = environ[REQUEST_ID_KEY] = request_id_of(environ)
        named = (REQUEST_ID_HEADER, request_id)
        token = _request_id.set(request_id)
        try:
            if not log.isEnabledFor(logging.INFO):

                def start_named(
                    status: str, headers: list[tuple[str, str]], exc_info: Any = None
                ) -> Any:
                    headers.append(named)
                    return start_response(status, headers, exc_info)

                return self.wsgi_app(environ, start_named)
            started = time.perf_counter_ns()
            sent: list[Any] = ["500 INTERNAL SERVER ERROR", ()]  # what reached the server

            def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                headers.append(named)
                sent[0], sent[1] = status, headers
                return start_response(status, headers, exc_info)

            try:
                body = self.wsgi_app(environ, start)
            except BaseException:  # escaped Flask (testing, debugger): the server sends a 500
                _write(environ, "500 INTERNAL SERVER ERROR", (), started)
                raise
            _write(environ, sent[0], sent[1], started)
            return body
        finally:
            _request_id.reset(token)


def _write(
    environ: dict[str, Any], status: str, headers: Iterable[tuple[str, str]], started: int
) -> None:
    duration_ms = (time.perf_counter_ns() - started) / 1e6
    code = int(status[:3])
    size = None
    for name, value in headers:
        if name == "Content-Length":  # as werkzeug spells it
            size = int(value)
            break
    else:
        if code in (204, 304):
            size = 0
    method = environ.get("REQUEST_METHOD", "")
    if method == "HEAD":
        size = 0  # the headers say the GET's length; no body is sent
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    if _PATH_NEEDS_QUOTING(path):
        path = quote(path.encode("latin-1", "replace"), safe=_PATH_SAFE)
    query = environ.get("QUERY_STRING", "")
    if query and _QUERY_NEEDS_QUOTING(query):
        query = quote(query.encode("latin-1", "replace"), safe=_QUERY_SAFE)
    version = environ.get(DATA_VERSION_KEY)
    remote = environ.get("REMOTE_ADDR")
    args = (
        method,
        f"{path}?{query}" if query else path,
        code,
        duration_ms,
        "-" if version is None else version,
        "-" if size is None else size,
        remote or "-",
    )
    extra = {
        "method": method,
        "path": path,
        "query": query,
        "status": code,
        "duration_ms": round(duration_ms, 3),
        "data_version": version,
        "bytes": size,
        "remote_addr": remote,
    }
    # log.info() less its findCaller() (a walk up the stack, a few µs): the caller is here
    log.handle(
        log.makeRecord(
            log.name, logging.INFO, __file__, 0, REQUEST_MESSAGE, args, None, "request", extra
        )
    )
