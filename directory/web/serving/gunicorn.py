"""gunicorn's settings for ``directory serve`` (``gunicorn -c python:directory.web.serving.gunicorn``).

Sync workers, as gunicorn recommends behind a buffering proxy: the API's requests are
short and CPU-bound, one per worker at a time. Sync workers must not face slow or idle
clients directly (two connections that send half a request hold both workers until the
timeout kills them), so production puts nginx in front (``nginx.conf`` beside this file):
nginx reads every request whole, with its own timeouts, before gunicorn sees it.

The errors gunicorn answers itself, before the app sees a request (a request line over
the limit, a malformed request line or header), are RFC 9457 problems like every other
error of the API, not gunicorn's HTML page.
"""

from __future__ import annotations

import json

import gunicorn.util

worker_class = "sync"
#: the longest request line gunicorn accepts (its maximum; nginx's default buffer is 8 KB):
#: long bbox, filter and lookup URLs stay well inside it
limit_request_line = 8190
limit_request_field_size = 8190
#: a worker silent this long is restarted (building a 100,000-service index takes ~15 s)
timeout = 60
graceful_timeout = 20
#: nginx on the same host may say the request came over https (X-Forwarded-Proto)
forwarded_allow_ips = "127.0.0.1,::1"

_CODES = {400: "bad-request", 403: "forbidden", 414: "uri-too-long",
          417: "expectation-failed", 431: "request-header-fields-too-large",
          500: "internal-error", 501: "not-implemented"}  # fmt: skip


def problem_bytes(status: int, reason: str, detail: str) -> bytes:
    """A whole HTTP/1.1 response carrying an RFC 9457 problem (connection closed after)."""
    body = json.dumps(
        {"type": "about:blank", "title": reason, "status": status,
         "detail": detail or reason, "code": _CODES.get(status, f"http-{status}")}
    ).encode()  # fmt: skip
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        "Content-Type: application/problem+json\r\nX-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _write_problem(sock, status_int, reason, mesg) -> None:  # type: ignore[no-untyped-def]
    gunicorn.util.write_nonblock(sock, problem_bytes(int(status_int), reason, mesg))


# every worker class answers its own errors through gunicorn.util.write_error
gunicorn.util.write_error = _write_problem
