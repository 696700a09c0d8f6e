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

import contextlib
import json
import logging
import os
import socket
import ssl
import sys
import threading
import time

import gunicorn.util

from directory.settings import PREFIX, REQUEST_SECONDS, Settings, SettingsError
from directory.web.serving.recycle import Markers, Recycler

worker_class = "sync"
#: the longest request line gunicorn accepts (its maximum; nginx's default buffer is 8 KB):
#: long bbox, filter and lookup URLs stay well inside it
limit_request_line = 8190
limit_request_field_size = 8190


def _settings() -> Settings | None:
    """The settings, read once for this file; None when they are wrong (the workers' app
    fails on the same settings, and says why)."""
    try:
        return Settings.from_env()
    except SettingsError:
        return None


_SETTINGS = _settings()
#: a worker silent this long is restarted: 60 s (building a 100,000-service index takes
#: ~15 s, on a thread), or longer when uploads may run longer (DIRECTORY_UPLOAD_SECONDS
#: and the time to roll one back and answer), so that an upload stopped at its limit
#: answers its 413 problem rather than being killed
timeout = REQUEST_SECONDS if _SETTINGS is None else _SETTINGS.request_seconds
#: how long stopping the server (the master's TERM) waits for a worker to finish the
#: request it holds before killing it: as long as a request may run, so an upload running
#: when the server is stopped is answered (at 20 s it was killed, its import rolled back
#: and its client answered nothing). A reload (HUP) waits as long for the old workers
#: before the master handles anything else (the new workers serve meanwhile); a worker
#: stopped alone (TTOU, ``recycle``) was never bound by it, only by ``timeout``
graceful_timeout = timeout
#: nginx on the same host may say the request came over https (X-Forwarded-Proto)
forwarded_allow_ips = "127.0.0.1,::1"
#: no control socket (gunicorn 25.1+ makes one for ``gunicornc`` at one path per user,
#: $XDG_RUNTIME_DIR/gunicorn.ctl or ~/.gunicorn/gunicorn.ctl, shared by every gunicorn on
#: the host: a second instance took it over, and stopping either deleted it). Nothing here
#: uses it: the master is managed with signals (HUP, TTIN/TTOU, TERM), as ``recycle`` does
control_socket_disable = True


def _logconfig() -> dict[str, object]:
    """With ``DIRECTORY_LOG_FORMAT=json``, gunicorn's own records (its start, a worker's
    timeout, a malformed request) are JSON lines with the app's fields, as the app's are
    (they were gunicorn's text lines in the same stream). gunicorn merges this over its
    defaults; its loggers do not propagate, and the root logger is left to the app, as
    gunicorn's own set-up leaves it. Empty (gunicorn's defaults) for text."""
    if _SETTINGS is None or _SETTINGS.log_format != "json":
        return {}
    one = {"level": "INFO", "handlers": ["error_console"], "propagate": False}
    return {
        "root": {"level": "WARNING", "handlers": []},
        "loggers": {
            "gunicorn.error": {**one, "qualname": "gunicorn.error"},
            # no access log: the app writes each request's line (directory/web/logs.py)
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
        },
        "handlers": {
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
        },  # fmt: skip
        "formatters": {"json": {"()": "directory.web.logs.formatter", "log_format": "json"}},
    }


logconfig_dict = _logconfig()

_CODES = {400: "bad-request", 403: "forbidden", 414: "uri-too-long",
          417: "expectation-failed", 431: "request-header-fields-too-large",
          500: "internal-error", 501: "not-implemented"}  # fmt: skip


def problem_bytes(status: int, reason: str, detail: str) -> bytes:
    """A whole HTTP/1.1 response carrying an RFC 9457 problem (connection closed after),
    titled as its code's page titles it (as the app's problems are), else by ``reason``,
    with the CORS headers every answer of the API carries (a map on another origin reads
    a 414 as a problem, not as a network error)."""
    # (imported here: the master reads this file without loading the app)
    from directory.web.http import EXPOSED_HEADERS, problem_title

    code = _CODES.get(status)
    title = problem_title(code) if code else None
    body = json.dumps(
        {"type": f"/problems/{code}" if code else "about:blank", "title": title or reason,
         "status": status, "detail": detail or reason, "code": code or f"http-{status}"}
    ).encode()  # fmt: skip
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        "Content-Type: application/problem+json\r\nX-Content-Type-Options: nosniff\r\n"
        "Access-Control-Allow-Origin: *\r\n"
        f"Access-Control-Expose-Headers: {', '.join(EXPOSED_HEADERS)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _write_problem(sock, status_int, reason, mesg) -> None:  # type: ignore[no-untyped-def]
    gunicorn.util.write_nonblock(sock, problem_bytes(int(status_int), reason, mesg))


# every worker class answers its own errors through gunicorn.util.write_error
gunicorn.util.write_error = _write_problem


def post_request(worker, req, environ, resp) -> None:  # type: ignore[no-untyped-def]
    """Close the connection at once when the client can send nothing more: a request with
    no body, answered whole, and nothing after it in the socket. gunicorn 27 ends every
    connection gracefully (RFC 9112 §9.6): it half-closes, then waits, up to 2 s, for the
    client to close its side, so that data the client is still sending cannot make the
    kernel reset the connection and cut the answer short. A sync worker takes no other
    request meanwhile: a client that read its answer and kept the connection open (a
    browser, a connection pool) held the worker for 2 s. With no body to come there is
    nothing to wait for (nginx's ``lingering_close on`` judges the same way). Anything else
    (a body, a pipelined request in the socket, TLS, an answer whose head was not sent)
    keeps gunicorn's graceful close, which runs after this hook and finds the socket open;
    on one this hook closed it does nothing."""
    sock = environ.get("gunicorn.socket") if environ else None
    if sock is None or isinstance(sock, ssl.SSLSocket) or resp is None:
        return
    if not resp.headers_sent or not resp.should_close():  # (a kept-alive connection: not ours)
        return
    for name, value in req.headers:
        if name == "TRANSFER-ENCODING" or (name == "CONTENT-LENGTH" and value.strip() != "0"):
            return
    try:
        if sock.gettimeout() is not None:  # (gunicorn's are blocking: no system call here)
            sock.setblocking(False)  # (one with a timeout would wait for data in recv)
        if sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
            return  # more from the client (pipelined): read it off gracefully
    except BlockingIOError:
        pass  # nothing more in the buffer
    except OSError:
        return  # closed already (an answer that failed midway), or reset
    sock.close()


def post_fork(server, worker) -> None:  # type: ignore[no-untyped-def]
    """In a new worker, before it loads the application: forget this package's modules the
    master imported (this file, the settings and the recycler; not the application, which
    the master never imports), so that the worker imports the code on disk now. Without
    it a ``kill -HUP`` started workers running the code of the master's start."""
    for name in [name for name in sys.modules if name.partition(".")[0] == "directory"]:
        del sys.modules[name]
    _take_reloaded_settings(worker)


def _take_reloaded_settings(worker) -> None:  # type: ignore[no-untyped-def]
    """In a new worker: the ``DIRECTORY_*`` settings ``directory reload --settings`` gave
    the workers started since (``recycle``), if it did, in place of the master's. The
    master's own environment is never changed (its threads and gunicorn's forks would
    race); a worker that cannot read them says so and keeps the master's."""
    if _SETTINGS is None:
        return
    try:
        given = Markers(_SETTINGS.instance_dir, worker.ppid).settings()
    except (OSError, ValueError) as error:
        worker.log.error(
            "worker %s: the settings a reload gave cannot be read (%s); it keeps the server's",
            worker.pid, error,
        )  # fmt: skip
        return
    if given is None:
        return
    kept = dict(os.environ)
    try:
        for name in [name for name in os.environ if name.startswith(PREFIX)]:
            del os.environ[name]
        os.environ.update(given)
    except Exception as error:  # noqa: BLE001 - (checked when read) a worker must still start
        os.environ.clear()
        os.environ.update(kept)
        worker.log.error(
            "worker %s: the settings a reload gave cannot be set (%s); it keeps the server's",
            worker.pid, type(error).__name__,
        )  # fmt: skip


def post_worker_init(worker) -> None:  # type: ignore[no-untyped-def]
    """Before a worker takes requests, it makes its geography snapshot, its postcode table
    when postcodes are kept, and its directory index (``directory.web.state.warm``): 12-20
    s at 100,000 services, which the first request a worker answered used to wait for (a
    restarted worker's, while the others served; every worker's at a start, when /ready
    answered before any could answer a patch; and its first lookup by postcode, which
    read every postcode's row when they are kept: 0.6 s at demo size on PostgreSQL). A
    thread builds while this one tells the arbiter the worker is alive (it restarts a
    worker silent for ``timeout``). A failure (the database not reachable yet) is logged
    and the worker starts anyway: its first request tries again, and answers the problem
    as any read does."""
    from flask import Flask

    from directory.web.state import keep_current, warm

    app = worker.wsgi
    if not isinstance(app, Flask):  # another application (a peer under test): nothing
        return
    log = logging.getLogger("directory.serving")
    started = time.monotonic()
    failed: list[BaseException] = []

    def build() -> None:
        try:
            warm(app)
        except Exception as exc:  # noqa: BLE001 - reported below; the first request retries
            failed.append(exc)

    builder = threading.Thread(target=build, name="directory-warm", daemon=True)
    builder.start()
    while builder.is_alive() and worker.alive:
        worker.notify()
        builder.join(1.0)
    if not worker.alive:  # stopped meanwhile (TERM): its run loop exits; not ready
        return
    state = app.extensions["directory"]
    markers = Markers(state.settings.instance_dir, worker.ppid)
    if _recycling(state.settings):
        # an index rebuilt (an import, midnight) swapped in: the master may replace the worker
        state.directory.on_replaced = lambda: markers.mark(os.getpid(), "rebuilt")
    markers.mark(worker.pid, "ready")  # (what a replacement, or a reload, waits for)
    if failed:
        log.warning(
            "worker %s starts without its directory index (%s); its first read builds it",
            worker.pid, failed[0],
        )  # fmt: skip
    else:
        log.info(
            "worker %s made its directory index in %.2f s before taking requests",
            worker.pid, time.monotonic() - started,
        )  # fmt: skip
    if state.settings.index_rebuild == "background":
        # an import made by another process or server is picked up within the TTL, not by
        # this worker's next request (which would answer from the data before it)
        current = threading.Thread(
            target=keep_current, args=(app, lambda: not worker.alive),
            name="directory-current", daemon=True,
        )  # fmt: skip
        current.start()


def _recycling(settings: Settings) -> bool:
    """Whether workers grown after an import are replaced (``directory.web.serving.recycle``)."""
    return settings.worker_recycle_growth is not None and settings.index_rebuild == "background"


def when_ready(server) -> None:  # type: ignore[no-untyped-def]
    """The master replaces, one at a time, workers an import left grown, and every worker
    when ``directory reload`` asks (``recycle``)."""
    try:
        settings = Settings.from_env()
    except SettingsError:
        return  # the workers' app fails on the same settings, and says why
    markers = Markers(settings.instance_dir, server.pid)
    markers.remove()
    refused = markers.create()  # (where ``directory reload`` finds the server)
    if refused is not None:  # (said once here: a read-only instance directory went unnoticed)
        server.log.warning(
            "cannot make %s (%s): `directory reload` cannot reach this server, and no "
            "worker grown after an import is replaced; restart it to serve new code or "
            "settings (DIRECTORY_INSTANCE_DIR must be a folder the server can write)",
            markers.dir, refused.strerror or refused,
        )  # fmt: skip
    growth = settings.worker_recycle_growth if _recycling(settings) else None
    recycler = Recycler(server, markers, growth)
    threading.Thread(target=recycler.run, name="directory-recycler", daemon=True).start()


def on_exit(server) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(SettingsError):
        Markers(Settings.from_env().instance_dir, server.pid).remove()
