"""How a served connection ends (``post_request`` in directory/web/serving/gunicorn.py): at
once when the client can send nothing more, gracefully (gunicorn's lingering close)
otherwise. Each case is a real TCP connection on the loopback, its request read by
gunicorn's own parser and answered by gunicorn's own response writer, as a sync worker
does; then the hook runs, as the worker runs it, and then gunicorn's graceful close."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import gunicorn.util
import pytest
from gunicorn import http
from gunicorn.config import Config
from gunicorn.http import wsgi

from directory.web.serving.gunicorn import post_request

GET = b"GET /health HTTP/1.1\r\nHost: directory\r\n\r\n"
BODY = b'{"status":"ok"}'


@contextmanager
def _connection() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(the client's end, the server's end) of a new loopback connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=5)
        server, _ = listener.accept()
    server.settimeout(5)
    try:
        yield client, server
    finally:
        client.close()
        server.close()


def _answer(server: socket.socket, *, send: bool = True, keep_alive: bool = False):  # type: ignore[no-untyped-def]
    """Read one request on ``server`` and answer it as a sync worker does (the connection
    closed after it unless ``keep_alive``; nothing sent unless ``send``): (req, environ,
    resp)."""
    cfg = Config()
    req = next(http.get_parser(cfg, server, ("127.0.0.1", 0)))
    resp, environ = wsgi.create(req, server, ("127.0.0.1", 0), server.getsockname(), cfg)
    if not keep_alive:
        resp.force_close()
    if send:
        resp.start_response("200 OK", [("Content-Length", str(len(BODY)))])
        resp.write(BODY)
        resp.close()
    return req, environ, resp


def _read_all(client: socket.socket) -> bytes:
    """Everything the server sent, to its end of the connection."""
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    return received


def _closes_at_once(server: socket.socket) -> bool:
    """Whether the hook closed ``server``; gunicorn's graceful close runs after it either way,
    as the worker runs it."""
    closed = server.fileno() == -1
    gunicorn.util.close_graceful(server, timeout=0.5)
    return closed


def test_a_request_without_a_body_answered_whole_is_closed_at_once() -> None:
    """No waiting for the client to close its side first: the client still holds the
    connection open, and gets the whole answer and the connection's end."""
    with _connection() as (client, server):
        client.sendall(GET)
        post_request(None, *_answer(server))
        assert server.fileno() == -1
        head, _, body = _read_all(client).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in head
        assert body == BODY


def test_gunicorns_graceful_close_waits_for_the_client_without_the_hook() -> None:
    """What the hook spares a worker: gunicorn's own close waits for the client to close
    its side (here, up to its timeout)."""
    with _connection() as (client, server):
        client.sendall(GET)
        _answer(server)
        start = time.monotonic()
        gunicorn.util.close_graceful(server, timeout=0.5)
        assert time.monotonic() - start >= 0.45
        assert _read_all(client).endswith(BODY)


@pytest.mark.parametrize(
    ("request_bytes", "later"),
    [
        pytest.param(
            b"POST /x HTTP/1.1\r\nHost: d\r\nContent-Length: 3\r\n\r\nabc", b"", id="a body"
        ),
        pytest.param(
            b"POST /x HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"",
            id="a chunked body",
        ),
        pytest.param(GET, GET, id="a request sent after it"),
    ],
)
def test_a_request_the_client_may_send_more_after_closes_gracefully(
    request_bytes: bytes, later: bytes
) -> None:
    """A body (read or not), or more from the client waiting in the socket once the answer
    is sent (a request pipelined after this one): gunicorn's lingering close reads it off,
    so that the kernel does not reset the connection and cut the answer short. The client
    gets the whole answer and a clean end. (A pipelined request that came with the first
    is in gunicorn's buffer, not the socket's, and a plain close resets nothing.)"""
    with _connection() as (client, server):
        client.sendall(request_bytes)
        answered = _answer(server)
        client.sendall(later)
        time.sleep(0.05)  # (all of it in the server's socket)
        post_request(None, *answered)
        assert server.fileno() != -1
        client.shutdown(socket.SHUT_WR)  # (gunicorn's close then ends at once)
        assert not _closes_at_once(server)
        assert _read_all(client).endswith(BODY)


def test_an_answer_not_begun_or_a_kept_alive_connection_is_left_to_gunicorn() -> None:
    """A request whose answer's head was not sent (gunicorn writes its error page next) and
    a connection kept alive (another worker class) stay open."""
    with _connection() as (client, server):
        client.sendall(GET)
        req, environ, resp = _answer(server, send=False)
        post_request(None, req, environ, resp)
        assert server.fileno() != -1
        post_request(None, req, environ, None)
        assert server.fileno() != -1
    with _connection() as (client, server):
        client.sendall(GET)
        post_request(None, *_answer(server, keep_alive=True))
        assert server.fileno() != -1


def test_a_connection_closed_already_or_over_tls_is_left_to_gunicorn() -> None:
    """An answer that failed midway (gunicorn closed the connection already) and TLS (whose
    socket cannot be peeked at) are not the hook's."""
    with _connection() as (client, server):
        client.sendall(GET)
        req, environ, resp = _answer(server)
        server.close()
        post_request(None, req, environ, resp)  # no error
    context = ssl.create_default_context()
    context.check_hostname = False
    with _connection() as (client, server):
        client.sendall(GET)
        req, environ, resp = _answer(server)
        wrapped = context.wrap_socket(
            socket.socket(socket.AF_INET, socket.SOCK_STREAM), do_handshake_on_connect=False
        )
        with wrapped:
            post_request(None, req, {**environ, "gunicorn.socket": wrapped}, resp)
            assert wrapped.fileno() != -1
        assert server.fileno() != -1
    post_request(None, SimpleNamespace(headers=[]), {}, None)  # no socket: nothing
