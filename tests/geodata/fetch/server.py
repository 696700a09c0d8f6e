"""A local HTTP server for the fetcher tests: every publisher under one mirror.

Routes are registered per test, by the publisher's official URL (or a mirror path): the
URL ``https://api.os.uk/downloads/v1/products/CodePointOpen`` is served at
``/api.os.uk/downloads/v1/products/CodePointOpen``, which is where
``geodata.fetch.Client(base_url=server.url)`` asks for it. A route answers bytes, text,
JSON, a :class:`Reply` (status, Content-Type, headers, a delay, a truncated body) or a
callable taking the :class:`Request` and answering one of those.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["FixtureServer", "Reply", "Request", "json_reply", "redirect", "sequence", "mirror_path"]


@dataclass(frozen=True)
class Request:
    """A request received: path (decoded), query parameters and headers."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]

    def param(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter (present without value: "")."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    """What a route answers.

    ``delay`` sleeps before answering; ``truncate_to`` sends only that many body bytes
    while Content-Length announces the whole body (then the connection closes);
    ``trickle`` sends the body a byte at a time, that many seconds apart.
    """

    body: bytes = b""
    status: int = 200
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate_to: int | None = None
    trickle: float = 0.0


Route = bytes | str | dict | list | Reply | Callable[[Request], Any]


def json_reply(data: Any, status: int = 200, **headers: str) -> Reply:
    """A JSON answer."""
    return Reply(
        json.dumps(data).encode(), status=status, content_type="application/json", headers=headers
    )


def redirect(location: str, status: int = 307) -> Reply:
    """A redirect to ``location`` (an official absolute URL is fine: the client mirrors it)."""
    return Reply(b"", status=status, content_type="text/plain", headers={"Location": location})


def sequence(*replies: Route) -> Callable[[Request], Any]:
    """Answer the replies in turn, then keep answering the last one."""
    state = {"n": 0}
    lock = threading.Lock()

    def answer(_request: Request) -> Any:
        with lock:
            n = min(state["n"], len(replies) - 1)
            state["n"] += 1
        return replies[n]

    return answer


def mirror_path(url_or_path: str) -> str:
    """The path at which the mirror serves an official URL (a path is kept as is)."""
    parts = urlsplit(url_or_path)
    if parts.scheme in ("http", "https"):
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return "/" + host + unquote(parts.path or "/")
    return unquote(url_or_path)


def _as_reply(value: Any) -> Reply:
    if isinstance(value, Reply):
        return value
    if isinstance(value, bytes):
        return Reply(value)
    if isinstance(value, str):
        return Reply(value.encode("utf-8"), content_type="text/plain; charset=utf-8")
    if isinstance(value, dict | list):
        return json_reply(value)
    raise TypeError(f"a route answered {type(value).__name__}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: a short body ends it

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.owner.handle(self)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout tests) is expected


class FixtureServer:
    """A threaded HTTP server on 127.0.0.1 with routes registered per test."""

    def __init__(self, port: int = 0) -> None:
        self.port = port  # 0: any free port
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()
        self.log: list[Request] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> FixtureServer:
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- routes ------------------------------------------------------------------------
    def route(self, url_or_path: str, answer: Route) -> None:
        """Serve ``answer`` at the mirror path of ``url_or_path`` (its query is ignored)."""
        with self._lock:
            self._routes[mirror_path(url_or_path)] = answer

    def answer_of(self, url_or_path: str) -> Route:
        """The answer registered for a route (to wrap it in a test)."""
        with self._lock:
            return self._routes[mirror_path(url_or_path)]

    def reset(self) -> None:
        with self._lock:
            self._routes.clear()
            self.log.clear()

    def requests_to(self, url_or_path: str) -> list[Request]:
        """The requests received for one route."""
        path = mirror_path(url_or_path)
        with self._lock:
            return [r for r in self.log if r.path == path]

    # -- serving -----------------------------------------------------------------------
    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        request = Request(
            path=unquote(parts.path),
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in handler.headers.items()},
        )
        with self._lock:
            self.log.append(request)
            route = self._routes.get(request.path)
        if route is None:
            reply = Reply(b"no such route", status=404, content_type="text/plain")
        else:
            answer = route(request) if callable(route) else route
            reply = _as_reply(answer)
        if reply.delay:
            time.sleep(reply.delay)
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            if "Content-Length" not in reply.headers:  # a reply may send its own, however wrong
                handler.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            body = reply.body if reply.truncate_to is None else reply.body[: reply.truncate_to]
            for start in range(0, len(body), 1) if reply.trickle else ():
                handler.wfile.write(body[start : start + 1])
                handler.wfile.flush()
                time.sleep(reply.trickle)
            handler.wfile.write(b"" if reply.trickle else body)
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
