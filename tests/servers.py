"""The directory as it runs in production, for tests that need a real server: ``directory
serve`` (gunicorn, sync workers, the app's real 500/503 handlers: not ``testing``) in a
child process on a free loopback port, and a load of plain HTTP/1.1 clients to hammer it;
and, for tests that need a URL rather than a test client, an app or a folder of files
served from a thread of the test process (``wsgi_server``, ``file_server``).
"""

from __future__ import annotations

import functools
import http.client
import http.server
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from directory.settings import Settings

DIRECTORY = Path(sys.executable).with_name("directory")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_env(settings: Settings, **more: str) -> dict[str, str]:
    """The environment that makes a child process's ``Settings.from_env()`` equal ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIRECTORY_")}
    env.update(
        DIRECTORY_DATABASE_URL=settings.database_url,
        DIRECTORY_INSTANCE_DIR=str(settings.instance_dir),
        DIRECTORY_GEODATA_DIR=str(settings.geodata_dir),
        DIRECTORY_LOG_LEVEL="WARNING",
        DIRECTORY_DATA_VERSION_TTL="1",
    )
    env.update(more)
    return env


def get(base: str, path: str, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


class Served(str):
    """A served base URL, with its server's process (gunicorn's master)."""

    process: subprocess.Popen[bytes]


def _start(env: dict[str, str], log: Path, workers: int, port: int | None,
           args: tuple[str, ...], cwd: Path | None) -> Served:  # fmt: skip
    """``directory serve`` started on ``port`` (a free one if None), not waited for."""
    port = port or free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(DIRECTORY), "serve", "--port", str(port), "--workers", str(workers), *args],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd,
        )  # fmt: skip
    served = Served(f"http://127.0.0.1:{port}")
    served.process = process
    return served


def _until_answering(served: Served, log: Path, deadline: float) -> None:
    while True:
        if served.process.poll() is not None:
            raise RuntimeError(f"directory serve exited: {log.read_text()[-3000:]}")
        try:
            if get(served, "/health", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"directory serve did not answer: {log.read_text()[-3000:]}")
        time.sleep(0.1)


def stop(served: Served) -> None:
    """TERM to the server's process group (gunicorn's master stops its workers gracefully),
    KILL after 20 s; nothing if it has stopped already."""
    process = served.process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def serve(env: dict[str, str], log: Path, *, workers: int = 2, port: int | None = None,
          args: tuple[str, ...] = (), cwd: Path | None = None) -> Iterator[Served]:  # fmt: skip
    """``directory serve`` on a free port; yields its base URL once /health answers.
    (gunicorn puts its working directory, ``cwd``, first on the path it imports from.)"""
    served = _start(env, log, workers, port, args, cwd)
    try:
        _until_answering(served, log, time.monotonic() + 60)
        yield served
    finally:
        stop(served)


@contextmanager
def serve_together(
    *servers: tuple[dict[str, str], Path], workers: int = 2
) -> Iterator[list[Served]]:
    """Several ``serve``s, each an (environment, log), started at once rather than each
    after the previous one answers (their starts overlap); yields their base URLs once
    every one's /health answers, and stops those still running when the block ends
    (``stop`` stops one before)."""
    started: list[tuple[Served, Path]] = []
    try:
        for env, log in servers:
            started.append((_start(env, log, workers, None, (), None), log))
        deadline = time.monotonic() + 60 * len(servers)
        for served, log in started:
            _until_answering(served, log, deadline)
        yield [served for served, _ in started]
    finally:
        for served, _ in started:
            stop(served)


@contextmanager
def _serving(server: Any, name: str) -> Iterator[None]:
    """``server`` (a socketserver) serving from a daemon thread until the block ends."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@contextmanager
def wsgi_server(app: Any, **options: Any) -> Iterator[str]:
    """``app`` served by werkzeug's threaded server on a free loopback port, from a daemon
    thread in this process; yields its base URL. ``options`` go to ``make_server``."""
    server = make_server("127.0.0.1", 0, app, threaded=True, **options)
    with _serving(server, "wsgi-server"):
        yield f"http://127.0.0.1:{server.server_port}"


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextmanager
def file_server(directory: Path) -> Iterator[str]:
    """The files under ``directory`` over plain HTTP on a free loopback port, from a daemon
    thread (no log lines); yields its base URL."""
    handler = functools.partial(_QuietFiles, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    with _serving(server, "file-server"):
        yield f"http://127.0.0.1:{server.server_address[1]}"


@dataclass
class Answer:
    at: float
    path: str
    status: int  # 0: no HTTP answer (connection refused, reset or timed out)
    mimetype: str = ""
    code: str = ""
    retry_after: str | None = None


@dataclass
class Load:
    """Clients asking ``paths`` in turn on keep-alive connections until stopped."""

    base: str
    paths: list[str]
    clients: int = 4
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Load:
        for i in range(self.clients):
            thread = threading.Thread(target=self._run, args=(i,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _run(self, offset: int) -> None:
        import json

        host, port = self.base.removeprefix("http://").split(":")
        connection: http.client.HTTPConnection | None = None
        i = offset
        while not self._stop.is_set():
            path = self.paths[i % len(self.paths)]
            i += self.clients
            if connection is None:
                connection = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = None
                self.answers.append(Answer(time.monotonic(), path, 0))
                time.sleep(0.01)
                continue
            mimetype = (response.getheader("Content-Type") or "").split(";")[0]
            code = ""
            if mimetype == "application/problem+json":
                code = json.loads(body).get("code", "")
            self.answers.append(
                Answer(time.monotonic(), path, response.status, mimetype, code,
                       response.getheader("Retry-After"))
            )  # fmt: skip
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = None

    def since(self, moment: float) -> list[Answer]:
        return [a for a in list(self.answers) if a.at >= moment]


def settled(load: Load, since: float, quiet: float = 1.0, timeout: float = 30.0) -> float:
    """Wait until ``quiet`` seconds of ``load``'s answers after ``since`` are all 200; return
    when the last answer that was not a 200 came (``since`` if none). TimeoutError, with the
    statuses seen, if that does not happen within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.25)
        answers = load.since(since)
        last_bad = max((a.at for a in answers if a.status != 200), default=since)
        if time.monotonic() - last_bad >= quiet and any(a.at > last_bad for a in answers):
            return last_bad
    raise TimeoutError(
        f"no recovery within {timeout} s: {Counter(a.status for a in load.since(since))}"
    )


NGINX = Path("/usr/sbin/nginx")


def nginx_command(site: str, tmp: Path) -> list[str]:
    """The command that runs nginx on ``site`` in a main configuration of its own under
    ``tmp`` (written here: its pid, logs and temp files); add ``-t`` to only test it."""
    if not NGINX.exists():
        raise RuntimeError("nginx is not installed: apt-get install nginx (.ci/run does)")
    tmp.mkdir(parents=True, exist_ok=True)
    temps = "\n".join(
        f"    {name}_temp_path {tmp / name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp / "site.conf").write_text(site)
    (tmp / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {tmp / 'nginx.pid'};\n"
        f"error_log {tmp / 'error.log'} warn;\nevents {{ worker_connections 1024; }}\n"
        f"http {{\n    access_log off;\n{temps}\n    include {tmp / 'site.conf'};\n}}\n"
    )
    return [str(NGINX), "-e", str(tmp / "error.log"), "-p", str(tmp), "-c", str(tmp / "nginx.conf")]


@contextmanager
def nginx(site: str, tmp: Path) -> Iterator[None]:
    """nginx (Debian's, installed by .ci/run) running ``site`` (our `directory nginx-config`
    output) in a main configuration of its own under ``tmp``: its pid, logs and temp files.
    Yields once nginx has written its pid file, which it does after it has opened its
    listening sockets (a fixed 0.3 s wait was both slower and, on a busy machine, not
    always long enough)."""
    pid_file = tmp / "nginx.pid"
    pid_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        nginx_command(site, tmp), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists():
            if process.poll() is not None:
                raise RuntimeError(f"nginx exited: {(tmp / 'error.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"nginx did not start: {(tmp / 'error.log').read_text()}")
            time.sleep(0.01)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def raw(
    base: str, request: bytes, timeout: float = 10.0, **then: Any
) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as bytes on a new connection; the status, headers and body answered
    (``then``: as ``raw_fields``)."""
    status, fields, body = raw_fields(base, request, timeout, **then)
    return status, dict(fields), body


def raw_fields(
    base: str, request: bytes, timeout: float = 10.0, *,
    rest: bytes = b"", meanwhile: Callable[[], None] | None = None,
) -> tuple[int, list[tuple[str, str]], bytes]:  # fmt: skip
    """As ``raw``, with every header field as sent, in order (names lowercased): a header
    sent twice is there twice. Read until the connection closes or, with Content-Length,
    the body is whole (nginx, answering 413 to a body declared and never sent, waits 5 s
    for it before closing). With ``rest``: ``request`` is sent, then ``meanwhile()`` runs
    (the server holds a request whose end it waits for), then ``rest``."""
    host, port = base.removeprefix("http://").split(":")
    received = b""
    length: int | None = None
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        if meanwhile is not None:
            meanwhile()
        if rest:
            sock.sendall(rest)
        while chunk := sock.recv(65536):
            received += chunk
            head, ended, body = received.partition(b"\r\n\r\n")
            if ended and length is None:
                found = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.IGNORECASE)
                length = int(found.group(1)) if found else -1
            if length is not None and 0 <= length <= len(body):
                break
    if not received:
        raise ConnectionError(f"{base} closed the connection without an answer")
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields.append((name.strip().lower(), value.strip()))
    return int(lines[0].split()[1]), fields, body
