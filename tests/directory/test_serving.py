"""The production set-up, as the README describes it: ``directory serve`` (gunicorn, two sync
workers, its settings in directory/web/serving/gunicorn.py) behind Debian's nginx running
the site ``directory nginx-config`` writes, on a copy of the demo directory.

- Idle and slow clients: 50 connections that send half a request and wait, and 10 that
  send nothing, do not stall the API: /health and a patch still answer in under 100 ms
  through nginx (with gunicorn alone, two such connections held both workers for 30 s).
- Every error is a problem: a request line over the limit, a NUL or 0xff byte in it, a
  body too large, and gunicorn being down are ``application/problem+json``, from nginx and
  from gunicorn alike; a long URL that real filters make (6 KB) reaches the app.
- nginx's own errors carry the CORS headers the app's answers do, once; its body limit
  follows DIRECTORY_MAX_UPLOAD_MB; the API's absolute links keep the port the client used;
  gunicorn makes no control socket that two instances would share.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

import directory
from directory.cli import cli
from directory.web.serving import gunicorn as gunicorn_settings
from tests.conftest import demo_copy
from tests.servers import (
    DIRECTORY,
    free_port,
    get,
    nginx,
    nginx_command,
    raw,
    raw_fields,
    serve,
    serve_together,
    settings_env,
    stop,
)

PROBLEM = "application/problem+json"
PATCH = "/api/v1/patch?postcode=SE1%207PB&per_page=10"


def _site(listen: str, upstream: str, **env: str) -> str:
    """`directory nginx-config`'s site, with ``env`` (DIRECTORY_… settings) set."""
    args = ["nginx-config", "--listen", listen, "--upstream", upstream]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(nginx's base URL, gunicorn's base URL)."""
    tmp = tmp_path_factory.mktemp("serving")
    settings = demo_copy(request, "sqlite", tmp)
    with serve(settings_env(settings), tmp / "serve.log", workers=2) as upstream:
        port = free_port()
        with nginx(_site(f"127.0.0.1:{port}", upstream.removeprefix("http://")), tmp / "nginx"):
            front = f"http://127.0.0.1:{port}"
            _warm(front)
            yield front, upstream


def _warm(base: str) -> None:
    """Until three rounds of eight patches at once are all quick (the kernel picks which
    worker accepts, so requests one at a time may all go to the same one)."""
    deadline, quick_rounds = time.monotonic() + 120, 0

    def timed(_: int) -> float:
        start = time.perf_counter()
        assert get(base, PATCH, timeout=60)[0] == 200
        return time.perf_counter() - start

    with ThreadPoolExecutor(8) as pool:
        while quick_rounds < 3:
            assert time.monotonic() < deadline, "the workers never warmed up"
            slowest = max(pool.map(timed, range(8)))
            quick_rounds = quick_rounds + 1 if slowest < 0.05 else 0


def _timed(base: str, path: str) -> float:
    start = time.perf_counter()
    status, _, _ = get(base, path)
    elapsed = time.perf_counter() - start
    assert status == 200, path
    return elapsed


def test_fifty_idle_partial_connections_do_not_stall_the_api(stack: tuple[str, str]) -> None:
    front, _ = stack
    host, port = front.removeprefix("http://").split(":")
    idle: list[socket.socket] = []
    try:
        for i in range(60):
            sock = socket.create_connection((host, int(port)), timeout=5)
            if i < 50:  # half a request: the request line and a header, never the blank line
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: directory\r\n")
            idle.append(sock)
        time.sleep(0.5)
        for _ in range(5):
            assert _timed(front, "/health") < 0.1
            assert _timed(front, PATCH) < 0.1
        # the half-sent requests are still waiting, not answered or dropped
        for sock in idle[:50]:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
    finally:
        for sock in idle:
            sock.close()


def test_clients_that_keep_their_connections_open_do_not_hold_the_workers(
    stack: tuple[str, str],
) -> None:
    """gunicorn 27 ends a connection gracefully: after the answer it waits, up to 2 s, for
    the client to close its side, and a sync worker takes no other request meanwhile. The
    server closes a request without a body at once (``post_request``): two clients that
    read their answers and keep their connections open, one a worker, leave both workers
    free for the next request."""
    _, upstream = stack
    host, port = upstream.removeprefix("http://").split(":")
    held: list[socket.socket] = []
    try:
        for _ in range(2):
            sock = socket.create_connection((host, int(port)), timeout=5)
            held.append(sock)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: directory\r\n\r\n")
            received = b""
            while chunk := sock.recv(65536):  # to the server's end of the connection
                received += chunk
            assert received.startswith(b"HTTP/1.1 200 OK") and received.endswith(b"}")
        assert _timed(upstream, "/health") < 0.5
        assert _timed(upstream, PATCH) < 0.5
    finally:
        for sock in held:
            sock.close()


def test_each_worker_makes_its_index_before_it_takes_a_request(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A worker makes its geography snapshot and directory index (every ward's patch parts
    too) before it takes requests (gunicorn's ``post_worker_init``): both workers say so
    in the log, and the first patches each answers are as quick as any, not the build's time
    (0.6 s at demo size; 12-20 s at 100,000 services, which a worker's first request, or
    every worker's after a start, used to wait for)."""
    settings = demo_copy(request, "sqlite", tmp_path)
    log = tmp_path / "serve.log"
    made = re.compile(r"worker (\d+) made its directory index in ([0-9.]+) s before taking")
    with serve(settings_env(settings, DIRECTORY_LOG_LEVEL="INFO"), log, workers=2) as base:
        deadline = time.monotonic() + 120
        while len(made.findall(log.read_text())) < 2:
            assert time.monotonic() < deadline, _events(log, 3000)
            time.sleep(0.1)
        with ThreadPoolExecutor(8) as pool:  # both workers' first patches
            slowest = max(pool.map(lambda _: _timed(base, PATCH), range(8)))
    text = log.read_text()
    builds = made.findall(text)
    assert len({pid for pid, _ in builds}) == 2, builds
    built = max(float(seconds) for _, seconds in builds)
    assert slowest < built / 2, (slowest, builds)


def test_a_worker_starts_when_its_index_cannot_be_made_yet(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """With a database not initialised yet the workers still start (a worker that failed
    to boot would take gunicorn down): each logs why it has no index, /health answers, and
    a read answers the 503 problem any read does without a database."""
    settings = demo_copy(request, "sqlite", tmp_path)
    (tmp_path / "empty.sqlite3").touch()  # there, with no tables (one not there is refused)
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    env = settings_env(settings, DIRECTORY_DATABASE_URL=empty)
    log = tmp_path / "serve.log"
    with serve(env, log, workers=2) as base:
        status, headers, body = get(base, PATCH)
        assert status == 503 and headers["content-type"] == PROBLEM, body[:300]
        assert json.loads(body)["code"] == "database-not-initialised"
        assert get(base, "/health")[0] == 200
        deadline = time.monotonic() + 60  # the other worker may start a little later
        while log.read_text().count("starts without its directory index") < 2:
            assert time.monotonic() < deadline, _events(log, 3000)
            time.sleep(0.1)


def _problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> dict:
    assert status == expected, (status, body[:300])
    assert headers["content-type"].split(";")[0] == PROBLEM, headers
    problem = json.loads(body)
    assert problem["status"] == expected and problem["code"] and problem["detail"]
    return problem


@pytest.mark.parametrize("through", ["nginx", "gunicorn"])
def test_long_and_malformed_request_lines_are_problems(
    stack: tuple[str, str], through: str
) -> None:
    base = stack[0] if through == "nginx" else stack[1]
    end = b" HTTP/1.1\r\nHost: directory\r\nConnection: close\r\n\r\n"
    # a long filter URL (6 KB of repeated theme filters) reaches the app: its own 422
    long_url = "/api/v1/services?" + "&".join(["theme=no-such-theme"] * 300)
    assert 6000 < len(long_url) < 8000
    status, headers, body = raw(base, b"GET " + long_url.encode() + end)
    assert _problem(status, headers, body, 422)["code"] == "invalid-input"
    # over 8 KB: 414, as a problem a script on another origin may read (CORS)
    status, headers, body = raw(base, b"GET /api/v1/services?q=" + b"x" * 9000 + end)
    assert _problem(status, headers, body, 414)["code"] == "uri-too-long"
    assert headers["access-control-allow-origin"] == "*"
    assert "Retry-After" in headers["access-control-expose-headers"].split(", ")
    # a NUL or a 0xff byte in the request line: 400, as a problem
    for byte in (b"\x00", b"\xff"):
        status, headers, body = raw(base, b"GET /api/v1/areas/E09" + byte + b"000022" + end)
        assert _problem(status, headers, body, 400)["code"] == "bad-request"
        assert headers["access-control-allow-origin"] == "*"


def test_a_body_over_the_limit_and_a_stopped_gunicorn_are_problems(
    stack: tuple[str, str], tmp_path: Path
) -> None:
    front, _ = stack
    # over nginx's limit (DIRECTORY_MAX_UPLOAD_MB, 20, and 1 MB for the envelope): nginx's
    # 413, answered on the declared length
    request = (
        b"POST /api/v1/postcodes/lookup HTTP/1.1\r\nHost: directory\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: " + str(22 * 2**20).encode()
        + b"\r\n\r\n"
    )  # fmt: skip
    status, headers, answer = raw(front, request)
    problem = _problem(status, headers, answer, 413)
    assert problem["code"] == "payload-too-large" and "21 MB" in problem["detail"]
    # nginx in front of nothing (gunicorn stopped or restarting): 503 with Retry-After
    port = free_port()
    with nginx(_site(f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}"), tmp_path / "nginx"):
        status, headers, answer = raw(
            f"http://127.0.0.1:{port}",
            b"GET /health HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
        )
    assert _problem(status, headers, answer, 503)["code"] == "service-unavailable"
    assert headers["retry-after"] == "10"


@pytest.mark.parametrize(("upload_mb", "body_mb"), [(20, 21), (1, 3), (2, 3), (50, 51)])
def test_the_sites_body_limit_follows_the_upload_limit(upload_mb: int, body_mb: int) -> None:
    """DIRECTORY_MAX_UPLOAD_MB (an import's largest upload), plus 1 MB for the multipart
    envelope, and never under the 2 MB any other request may send: every body the API
    may take reaches it (the site used to stop any body over 1 MB)."""
    site = _site("80", "127.0.0.1:5000", DIRECTORY_MAX_UPLOAD_MB=str(upload_mb))
    assert re.findall(r"client_max_body_size\s+(\S+);", site) == [f"{body_mb}m"]
    assert f"The request body is over {body_mb} MB." in site


def _multipart(content: bytes, name: str, **fields: str) -> tuple[str, bytes]:
    boundary = "directory-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, value in fields.items()
    ]  # fmt: skip
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: text/csv\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    return boundary, b"".join(parts) + f"--{boundary}--\r\n".encode()


def _upload(base: str, key: str, content: bytes) -> tuple[int, dict[str, str], bytes]:
    boundary, body = _multipart(content, "services.csv", dry_run="true", source="nginx")
    return raw(
        base,
        b"POST /api/v1/imports HTTP/1.1\r\nHost: directory\r\nConnection: close\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\n"
        b"Content-Type: multipart/form-data; boundary=" + boundary.encode() + b"\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body,
        timeout=60,
    )


def test_an_upload_the_api_takes_passes_nginx_and_the_api_judges_its_size(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """With DIRECTORY_MAX_UPLOAD_MB=2, nginx-config writes a 3 MB limit: a 1.5 MB import
    through nginx is the API's dry run (200; nginx used to answer 413 to anything over 1 MB
    that the API took directly), one of 2.5 MB is the API's own 413 problem, and a body
    declared over 3 MB is nginx's."""
    settings = demo_copy(request, "sqlite", tmp_path)
    # and an upload limit past gunicorn's usual 60 s: the site nginx runs waits past it
    env = settings_env(settings, DIRECTORY_MAX_UPLOAD_MB="2", DIRECTORY_UPLOAD_SECONDS="300")
    header = (
        "Service ref,Service name,Description,Status,Themes,Organisation name,Coverage,"
        "Last verified\n"
    )
    row = "NGINX-{:05d},Upload {:05d},{},Active,Youth diversion,Org N,Kingston,01/09/2026\n"
    # (what is judged is the body's size: long descriptions make it of a few hundred rows,
    # which the dry run reads in a moment, where 200 characters made it of 5,000-9,000)
    description = "x" * 10_000

    def csv(size: int) -> bytes:
        rows, n, length = [header], 0, len(header)
        while length < size:
            rows.append(row.format(n, n, description))
            length += len(rows[-1])
            n += 1
        return "".join(rows).encode()

    # (the key is made while the server starts)
    making = subprocess.Popen(
        [str(DIRECTORY), "keys", "create", "--role", "officer", "--name", "nginx", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    with serve(env, tmp_path / "serve.log", workers=1) as upstream:
        made, why = making.communicate(timeout=120)
        assert making.returncode == 0, made + why
        key = json.loads(made)["key"]
        port = free_port()
        site = _site(f"127.0.0.1:{port}", upstream.removeprefix("http://"),
                     DIRECTORY_MAX_UPLOAD_MB="2", DIRECTORY_UPLOAD_SECONDS="300")  # fmt: skip
        assert "proxy_read_timeout 345s;" in site
        with nginx(site, tmp_path / "nginx"):
            front = f"http://127.0.0.1:{port}"
            status, headers, answer = _upload(front, key, csv(3 * 2**19))  # 1.5 MB
            assert status == 200, answer[:500]
            assert json.loads(answer)["status"] == "dry-run"
            status, headers, answer = _upload(front, key, csv(5 * 2**19))  # 2.5 MB
            problem = _problem(status, headers, answer, 413)
            assert problem["code"] == "payload-too-large" and "3 MB" not in problem["detail"]
            status, headers, answer = raw(
                front,
                b"POST /api/v1/imports HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
                b"Content-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: " + str(3 * 2**20 + 1).encode() + b"\r\n\r\n",
            )  # fmt: skip
            problem = _problem(status, headers, answer, 413)
            assert "over 3 MB" in problem["detail"]


@pytest.mark.parametrize(("upload_seconds", "timeout"), [(None, 60), ("45", 60), ("300", 315)])
def test_gunicorn_gives_a_request_as_long_as_an_upload_may_take(
    monkeypatch: pytest.MonkeyPatch, upload_seconds: str | None, timeout: int
) -> None:
    """The worker timeout of `directory serve`'s gunicorn settings follows
    DIRECTORY_UPLOAD_SECONDS (it was 60 s whatever the limit, so an upload allowed 300 s
    was killed at 60 with no problem answered), and so does the time a stop (TERM) gives a
    worker to finish its request (it was 20 s: stopping the server killed an upload still
    running); nginx-config's wait goes past it."""
    monkeypatch.delenv("DIRECTORY_UPLOAD_SECONDS", raising=False)
    if upload_seconds is not None:
        monkeypatch.setenv("DIRECTORY_UPLOAD_SECONDS", upload_seconds)
    config = runpy.run_path(str(Path(gunicorn_settings.__file__)))
    assert config["timeout"] == timeout
    assert config["graceful_timeout"] == timeout
    site = _site("8080", "127.0.0.1:5000")
    assert f"proxy_read_timeout {max(120, timeout + 30)}s;" in site


def test_a_stopped_server_answers_the_request_a_worker_holds(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """TERM to gunicorn's master: the worker finishes the request it holds, for as long as a
    request may run (60 s here), and then the server stops. It was killed 20 s into the
    stop, so an upload still running then was rolled back and its client answered nothing.
    The request here holds its worker by sending half its body, and the rest 22 s after
    the stop."""
    settings = demo_copy(request, "sqlite", tmp_path)
    body = json.dumps({"postcodes": ["SE1 7PB", "E1 6AN"]}).encode()
    head = (
        b"POST /api/v1/patch/lookup HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    with serve(settings_env(settings), tmp_path / "serve.log", workers=1) as base:

        def stop_and_wait() -> None:
            with pytest.raises(TimeoutError):  # the one worker holds the request (FIFO)
                get(base, "/health", timeout=1)
            base.process.send_signal(signal.SIGTERM)
            time.sleep(22)

        status, _, answer = raw(
            base, head + body[:10], timeout=60, rest=body[10:], meanwhile=stop_and_wait
        )
        assert status == 200, answer
        results = json.loads(answer)["results"]
        assert [r["query"] for r in results] == ["SE1 7PB", "E1 6AN"]
        assert all(r["result"] for r in results)
        assert base.process.wait(30) == 0  # and then it stopped


#: gunicorn's log lines of a worker's start and end
BOOTED = re.compile(r"Booting worker with pid: (\d+)")
EXITED = re.compile(r"Worker exiting \(pid: (\d+)\)")


def _events(log: Path, chars: int = 4000) -> str:
    """The end of a server's log without its request lines (what a failure needs shown:
    under a stream of requests the tail is all requests)."""
    lines = log.read_text().splitlines()
    return "\n".join(line for line in lines if "directory.requests" not in line)[-chars:]


def _until_ready(log: Path, workers: int) -> float:
    """Wait until ``workers`` workers have logged their index made (a served worker's
    warm start); returns a deadline two minutes from the start, for what follows."""
    deadline = time.monotonic() + 120
    while log.read_text().count("made its directory index") < workers:
        assert time.monotonic() < deadline, _events(log, 3000)
        time.sleep(0.1)
    return deadline


NEW_HEALTH = {"status": "ok", "deployed": "new"}


def _copy_of_the_code(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[Path, dict[str, str]]:
    """(a copy of the package, to serve from; the settings of a copy of the demo
    directory, with that copy first on the import path). Its ``__pycache__`` comes too
    (``copytree`` keeps the sources' times, so the bytecode stays valid), or every worker
    and command started on the copy compiled the package first; a module changed on disk
    is compiled again (its size and time are not those its bytecode records)."""
    code = tmp_path / "code"
    shutil.copytree(Path(directory.__file__).parent, code / "directory")
    settings = demo_copy(request, "sqlite", tmp_path)
    return code, settings_env(settings, PYTHONPATH=str(code), DIRECTORY_LOG_LEVEL="INFO")


def _deploy_a_new_health(code: Path, text: str | None = None) -> None:
    """Change the copy's /health on disk (to answer ``NEW_HEALTH``, or to ``text``)."""
    routes = code / "directory/web/resources/meta/routes.py"
    before = routes.read_text("utf-8")
    after = before.replace('{"status": "ok"}', json.dumps(NEW_HEALTH)) if text is None else text
    assert after != before
    routes.write_text(after, "utf-8")


class _Asking:
    """Three threads asking ``paths`` in turn, every 10 ms, while the block runs: what
    failed (an error, a status other than 200) and the slowest answer's seconds."""

    def __init__(self, base: str, *paths: str) -> None:
        self.base, self.paths = base, paths
        self.failures: list[object] = []
        self.slowest = 0.0
        self.answered = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._ask) for _ in range(3)]

    def __enter__(self) -> _Asking:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _ask(self) -> None:
        asked = 0
        while not self._stop.is_set():
            path = self.paths[asked % len(self.paths)]
            asked += 1
            started = time.perf_counter()
            try:
                status = get(self.base, path, timeout=30)[0]
            except OSError as error:
                self.failures.append(error)
                continue
            if status != 200:
                self.failures.append((path, status))
            self.answered += 1
            self.slowest = max(self.slowest, time.perf_counter() - started)
            time.sleep(0.01)


def test_a_hup_serves_the_code_on_disk(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """``kill -HUP`` starts new workers, and they run the code as it is on disk then: the
    master imports no more of the package than its settings, and a new worker forgets
    what it imported (``post_fork``). Before, the master had imported the application
    with its settings, every worker forked from it ran the code of the master's start,
    and a HUP after a deploy went on serving the old code. The server here runs a copy of
    the package, whose /health is changed after it started. (No request looks a postcode
    up: the workers keep no postcode table.)"""
    code, env = _copy_of_the_code(request, tmp_path)
    env["DIRECTORY_POSTCODES_IN_MEMORY"] = "off"
    # (run from the copy: gunicorn puts its working directory first on the import path)
    with serve(env, tmp_path / "serve.log", workers=1, cwd=code) as base:
        assert json.loads(get(base, "/health")[2]) == {"status": "ok"}
        _deploy_a_new_health(code)
        base.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        answers: list[object] = []
        while time.monotonic() < deadline:
            try:
                status, _, body = get(base, "/health", timeout=5)
            except OSError:  # between the old worker and the new one
                time.sleep(0.1)
                continue
            assert status == 200, body
            answers.append(json.loads(body))
            if answers[-1] != {"status": "ok"}:
                break
            time.sleep(0.1)
        assert answers and answers[-1] == NEW_HEALTH, (
            answers[-3:], (tmp_path / "serve.log").read_text()[-2000:],
        )  # fmt: skip


def test_a_reload_replaces_the_workers_one_at_a_time_with_the_code_on_disk(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """``directory reload --pid`` (systemd's ``ExecReload``): the master replaces each
    worker, one at a time, with a new one running the code on disk, ready before the old
    one stops, so patches and /health asked throughout all answer at once (a HUP stops the
    old workers at once, and requests wait for the new ones' start); the command waits
    until it is done. It refuses a pid that is not a server's, and code on disk that cannot
    start (in a new worker it would stop gunicorn's master): the server serves on."""
    code, env = _copy_of_the_code(request, tmp_path)
    log = tmp_path / "serve.log"

    def reload(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(DIRECTORY), "reload", *args], env=env, cwd=code, capture_output=True,
            text=True, check=False, timeout=180,
        )  # fmt: skip

    with serve(env, log, workers=2, cwd=code) as base:
        refusing = subprocess.Popen(  # (while the workers make their indexes)
            [str(DIRECTORY), "reload", "--pid", str(os.getpid())], env=env, cwd=code,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        _until_ready(log, 2)
        first = set(BOOTED.findall(log.read_text()))
        _, refused = refusing.communicate(timeout=180)
        assert refusing.returncode == 1
        assert f"No `directory serve` with master pid {os.getpid()}" in refused
        _deploy_a_new_health(code)
        with _Asking(base, PATCH, "/health") as asking:
            done = reload("--pid", str(base.process.pid))
        assert done.returncode == 0, done.stdout + done.stderr + _events(log, 3000)
        text = log.read_text()
        assert set(re.findall(r"replacing worker (\d+): reloading the code", text)) == first
        serving = set(BOOTED.findall(text)) - set(EXITED.findall(text))
        assert len(serving) == 2 and not serving & first
        said = re.search(r"workers ([\d, ]+) replaced in [\d.]+ s; serving: ([\d, ]+)", done.stdout)
        assert said is not None, done.stdout
        assert set(said[1].split(", ")) == first and set(said[2].split(", ")) == serving
        assert all(f"worker {pid} made its directory index" in text for pid in serving)
        assert not asking.failures and asking.slowest < 2, (asking.failures, asking.slowest)
        assert asking.answered > 50
        # one at a time: whenever an old worker stopped, two others had made their index
        # (a HUP stops the old workers before the new ones are ready), and never more
        # than three workers ran
        running: set[str] = set()
        ready: set[str] = set()
        for line in text.splitlines():
            if found := BOOTED.search(line):
                running.add(found[1])
                assert len(running) <= 3, line
            elif found := re.search(r"worker (\d+) made its directory index", line):
                ready.add(found[1])
            elif found := EXITED.search(line):
                running.discard(found[1])
                ready.discard(found[1])
                if found[1] in first:
                    assert len(ready) >= 2, line
        answers = [json.loads(get(base, "/health")[2]) for _ in range(8)]
        assert answers == [NEW_HEALTH] * 8
        # code that cannot start is refused: nothing is replaced, and the server serves on
        _deploy_a_new_health(code, text="this is not Python (\n")
        broken = reload()
        assert broken.returncode != 0 and "SyntaxError" in broken.stderr, broken.stderr[-2000:]
        time.sleep(3)  # (the master looks for requests every 2 s)
        text = log.read_text()
        assert set(BOOTED.findall(text)) - set(EXITED.findall(text)) == serving
        assert json.loads(get(base, "/health")[2]) == NEW_HEALTH
    assert list(tmp_path.glob("workers-*")) == []  # (the instance directory)


def test_bad_settings_leave_gunicorn_its_default_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """(the workers' app then refuses the settings, and says why)"""
    monkeypatch.setenv("DIRECTORY_UPLOAD_SECONDS", "0")
    assert runpy.run_path(str(Path(gunicorn_settings.__file__)))["timeout"] == 60


def _cors(fields: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """The Access-Control-Allow-Origin and Access-Control-Expose-Headers fields answered."""
    return (
        [value for name, value in fields if name == "access-control-allow-origin"],
        [value for name, value in fields if name == "access-control-expose-headers"],
    )


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--listen", ""), ("--listen", "80;"), ("--listen", "80 default_server"),
        ("--listen", "70000"), ("--listen", "127.0.0.1:0"), ("--upstream", "a b"),
        ("--upstream", "127.0.0.1:5000;} server {"), ("--server-name", ""),
        ("--server-name", "x'y"), ("--server-name", "a\nb"), ("--server-name", "$host"),
    ],
)  # fmt: skip
def test_nginx_config_refuses_what_would_break_or_change_the_config(option, value) -> None:
    """A value that would end or open a directive (or is empty, or a port out of range) is a
    usage error naming the option, and nothing is printed: before, `--listen ''` printed a
    site nginx refuses (`listen ;`)."""
    result = CliRunner().invoke(cli, ["nginx-config", option, value])
    assert result.exit_code == 2 and result.stdout == ""
    assert f"Invalid value for '{option}'" in result.stderr


def test_the_nginx_config_of_every_accepted_form_passes_nginxs_own_test(tmp_path: Path) -> None:
    """The forms the options take (a port, an address and port, IPv6, a unix socket,
    several server names) make a site `nginx -t` accepts."""
    for n, args in enumerate([
        [], ["--listen", "127.0.0.1:8080"], ["--listen", "[::1]:8443"],
        ["--upstream", "unix:/run/directory.sock"], ["--server-name", "a.example b.example"],
    ]):  # fmt: skip
        result = CliRunner().invoke(cli, ["nginx-config", *args])
        assert result.exit_code == 0, result.output
        checked = subprocess.run(
            [*nginx_command(result.stdout, tmp_path / str(n)), "-t"], capture_output=True, text=True
        )
        assert checked.returncode == 0, (args, checked.stderr)


def test_nginx_gives_the_api_its_request_id_and_names_it_in_its_own_503(tmp_path: Path) -> None:
    """The API answers and logs under nginx's ``$request_id`` (nginx's access log can name
    it too); nginx's own 503, with nothing behind it, carries it as a header and in the
    problem, as the API's 5xx do."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[str | None] = []

    class Upstream(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(self.headers["X-Request-Id"])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_args: object) -> None:
            pass

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        port = free_port()
        with nginx(_site(str(port), f"127.0.0.1:{upstream.server_port}"), tmp_path / "up"):
            status, _fields, _body = get(f"http://127.0.0.1:{port}", "/health")
    finally:
        upstream.shutdown()
        upstream.server_close()
    assert status == 200 and len(seen) == 1
    assert seen[0] is not None and re.fullmatch(r"[0-9a-f]{32}", seen[0])
    port = free_port()
    with nginx(_site(str(port), f"127.0.0.1:{free_port()}"), tmp_path / "down"):
        status, fields, body = get(f"http://127.0.0.1:{port}", "/health")
    assert status == 503 and re.fullmatch(r"[0-9a-f]{32}", fields["x-request-id"])
    assert json.loads(body)["request_id"] == fields["x-request-id"]
    assert "X-Request-Id" in fields["access-control-expose-headers"]


def test_the_readmes_tls_site_passes_nginxs_own_test(tmp_path: Path) -> None:
    """The README's TLS lines in the printed site's `listen` and its port-80 redirect."""
    readme = (Path(directory.__file__).parents[1] / "README.md").read_text("utf-8")
    (block,) = re.findall(r"^```nginx\n(.*?)^```", readme, re.S | re.M)
    tls, redirect = block.split("\n\n")
    lines = "".join(f"{line}\n" for line in tls.splitlines() if not line.startswith("#"))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"),
         "-subj", "/CN=directory.example.org"],
        check=True, capture_output=True,
    )  # fmt: skip
    live = "/etc/letsencrypt/live/directory.example.org"  # (certbot's paths: ours here)
    lines = lines.replace(f"{live}/fullchain.pem", str(tmp_path / "cert.pem"))
    lines = lines.replace(f"{live}/privkey.pem", str(tmp_path / "key.pem"))
    args = ["nginx-config", "--listen", "443", "--server-name", "directory.example.org"]
    site = CliRunner().invoke(cli, args).stdout
    assert "    listen 443;\n" in site
    site = site.replace("    listen 443;\n", lines) + redirect
    checked = subprocess.run(
        [*nginx_command(site, tmp_path / "nginx"), "-t"], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    assert "return 301 https://$host$request_uri;" in redirect


#: Debian's own site (``/etc/nginx/sites-enabled/default``, enabled by ``apt-get install
#: nginx``), cut to what decides which server answers
DEBIAN_DEFAULT = """server {
    listen @PORT@ default_server;
    root /var/www/html;
    server_name _;
    location / { try_files $uri $uri/ =404; }
}
"""


def test_the_site_answers_every_request_on_its_address(tmp_path: Path) -> None:
    """`nginx-config` with no server name is the default server of its address: a request
    by the server's IP address or any other name reaches the API (here its 503 problem:
    no gunicorn behind). Beside Debian's own default site, as the README's `apt-get install
    nginx` leaves it, `nginx -t` refuses the pair naming both; before, `_` matched no name,
    so that site's welcome page (or 404) answered every request and nothing said why."""
    port = free_port()
    site = _site(str(port), f"127.0.0.1:{free_port()}")
    other = "server {\n    listen @PORT@;\n    server_name localhost;\n    return 404;\n}\n"
    with nginx(other.replace("@PORT@", str(port)) + site, tmp_path / "ours"):
        status, fields, body = get(f"http://127.0.0.1:{port}", "/health")
    assert status == 503 and fields["content-type"] == PROBLEM, body[:200]
    checked = subprocess.run(
        [*nginx_command(DEBIAN_DEFAULT.replace("@PORT@", str(port)) + site, tmp_path / "deb"), "-t"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert checked.returncode != 0 and "duplicate default server" in checked.stderr


def test_nginxs_own_errors_carry_the_cors_headers_once(
    stack: tuple[str, str], tmp_path: Path
) -> None:
    """A map on another origin reads nginx's problems (its 503 while gunicorn restarts, with
    Retry-After; its 413, 414, 400) as it reads the API's: Access-Control-Allow-Origin once
    (twice, browsers refuse the answer) and the headers the API exposes; the API's own
    answers through nginx carry them once too, as the app sent them."""
    front, _ = stack
    origin = b"Origin: https://map.example\r\n"
    end = b" HTTP/1.1\r\nHost: directory\r\n" + origin + b"Connection: close\r\n\r\n"
    answers = {
        "200": raw_fields(front, b"GET " + PATCH.encode() + end),
        "404": raw_fields(front, b"GET /api/v1/areas/NOPE" + end),
        "413": raw_fields(
            front,
            b"POST /api/v1/postcodes/lookup HTTP/1.1\r\nHost: d\r\n"
            + origin
            + b"Connection: close\r\nContent-Length: "
            + str(30 * 2**20).encode()
            + b"\r\n\r\n",
        ),  # fmt: skip
        "414": raw_fields(front, b"GET /api/v1/services?q=" + b"x" * 9000 + end),
        "400": raw_fields(front, b"GET /api/v1/areas/E09\x00000022" + end),
    }
    port = free_port()
    with nginx(_site(f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}"), tmp_path / "nginx"):
        answers["503"] = raw_fields(f"http://127.0.0.1:{port}", b"GET /health" + end)
    for expected, (status, fields, _) in answers.items():
        assert status == int(expected), (expected, fields)
        allow, expose = _cors(fields)
        assert allow == ["*"], (expected, fields)
        assert len(expose) == 1 and "Retry-After" in expose[0].split(", "), (expected, fields)
        assert "Link" in expose[0].split(", ") and "ETag" in expose[0].split(", ")
    assert ("retry-after", "10") in answers["503"][1]


def test_links_through_nginx_keep_the_port_the_client_used(stack: tuple[str, str]) -> None:
    """The API makes its absolute links from the Host it is given: nginx passes the one the
    client sent, port included (it sent the port-less $host: links from nginx on a port
    other than 80 pointed at port 80)."""
    front, _ = stack
    port = front.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", "directory.example:8443", "directory.example"):
        status, headers, _ = raw(
            front,
            f"GET /api/v1/services?per_page=1 HTTP/1.1\r\nHost: {host}\r\n"
            "Connection: close\r\n\r\n".encode(),
        )
        assert status == 200
        links = re.findall(r"<([^>]+)>", headers["link"])
        assert links and all(link.startswith(f"http://{host}/api/v1/services?") for link in links)


def test_a_hup_during_a_reload_leaves_the_server_its_workers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A HUP while a reload waits for a new worker: gunicorn sets its number of workers
    back and replaces them all itself; the reload stops nothing more (its stop would have
    left the server a worker short for good) and exits 1 saying it was interrupted. (The
    workers keep no postcode table: five of them start, and what is asked here is how
    many serve; the one patch asked reads its postcode from the database.)"""
    settings = demo_copy(request, "sqlite", tmp_path)
    env = settings_env(settings, DIRECTORY_LOG_LEVEL="INFO", DIRECTORY_POSTCODES_IN_MEMORY="off")
    log = tmp_path / "serve.log"
    with serve(env, log, workers=2) as base:
        deadline = _until_ready(log, 2)
        reloading = subprocess.Popen(
            [str(DIRECTORY), "reload", "--pid", str(base.process.pid)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        while "reloading the code" not in log.read_text():
            assert time.monotonic() < deadline, _events(log, 3000)
            time.sleep(0.05)
        base.process.send_signal(signal.SIGHUP)
        out, err = reloading.communicate(timeout=180)
        assert reloading.returncode == 1, out + err
        assert "changed meanwhile" in err, err
        deadline = time.monotonic() + 60
        while True:  # until the HUP's workers alone serve, two of them
            text = log.read_text()
            serving = set(BOOTED.findall(text)) - set(EXITED.findall(text))
            if len(serving) == 2 and all(f"worker {pid} made its" in text for pid in serving):
                break
            assert time.monotonic() < deadline, text[-3000:]
            time.sleep(0.2)
        time.sleep(3)  # and no worker stopped after
        text = log.read_text()
        assert set(BOOTED.findall(text)) - set(EXITED.findall(text)) == serving
        assert get(base, PATCH)[0] == 200


def test_a_reload_with_settings_serves_them_and_refuses_the_masters_own(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """``directory reload --settings`` gives the new workers the command's DIRECTORY_*
    settings (the public URL the OpenAPI document names, here), and so does every worker
    started later (after a ``HUP``, here); without it they keep the ones they have,
    whatever the command's; a setting the master reads itself (the worker timeout, from
    DIRECTORY_UPLOAD_SECONDS) and a database that cannot be used are refused, nothing
    replaced. (No request looks a postcode up: the workers keep no postcode table.)"""
    settings = demo_copy(request, "sqlite", tmp_path)
    env = settings_env(
        settings, DIRECTORY_LOG_LEVEL="INFO", DIRECTORY_PUBLIC_URL="https://old.example",
        DIRECTORY_POSTCODES_IN_MEMORY="off",
    )  # fmt: skip

    def reloading(*args: str, **changed: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(DIRECTORY), "reload", "--pid", str(base.process.pid), *args],
            env={**env, **changed}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def done_(running: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
        out, err = running.communicate(timeout=180)
        return subprocess.CompletedProcess(running.args, running.returncode, out, err)

    def reload(*args: str, **changed: str) -> subprocess.CompletedProcess[str]:
        return done_(reloading(*args, **changed))

    def public_url() -> str:
        return json.loads(get(base, "/api/v1/openapi.json")[2])["servers"][0]["url"]

    log = tmp_path / "serve.log"
    with serve(env, log, workers=1) as base:
        assert public_url() == "https://old.example"
        done = reload("--settings", DIRECTORY_PUBLIC_URL="https://new.example")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "with this command's settings" in done.stdout
        assert public_url() == "https://new.example"
        given = settings.instance_dir / f"workers-{base.process.pid}" / "settings.json"
        assert given.stat().st_mode & 0o777 == 0o600
        done = reload(DIRECTORY_PUBLIC_URL="https://other.example")  # (no --settings)
        assert done.returncode == 0, done.stdout + done.stderr
        assert public_url() == "https://new.example"
        made = log.read_text().count("made its directory index")
        base.process.send_signal(signal.SIGHUP)  # (its new workers take them too)
        _until_ready(log, made + 1)
        assert public_url() == "https://new.example"
        # three reloads refused, asked at once (none replaces anything)
        missing = str(tmp_path / "none.sqlite3")
        sqlite3.connect(tmp_path / "empty.sqlite3").close()
        empty = str(tmp_path / "empty.sqlite3")
        refused = [
            reloading("--settings", DIRECTORY_UPLOAD_SECONDS="300"),
            reloading("--settings", DIRECTORY_DATABASE_URL=f"sqlite:///{missing}"),
            reloading("--settings", DIRECTORY_DATABASE_URL=f"sqlite:///{empty}"),
        ]
        upload, missing_file, no_tables = (done_(running) for running in refused)
        assert upload.returncode == 1
        assert "DIRECTORY_UPLOAD_SECONDS would change" in upload.stderr, upload.stderr
        assert "restart the server" in upload.stderr
        assert missing_file.returncode == 1, missing_file.stdout
        assert "cannot be used" in missing_file.stderr, missing_file.stderr
        assert no_tables.returncode == 1, no_tables.stdout
        assert "has no tables yet" in no_tables.stderr, no_tables.stderr
        assert public_url() == "https://new.example"
        if os.geteuid() == 0:  # root, for a server of another user: checked as that user
            markers = settings.instance_dir / f"workers-{base.process.pid}"
            os.chown(markers, 65534, 65534)  # (nobody, who cannot reach the test's database)
            try:
                done = reload("--settings", DIRECTORY_PUBLIC_URL="https://third.example")
            finally:
                os.chown(markers, 0, 0)
            assert done.returncode == 1, done.stdout + done.stderr
            assert "As user nobody, the servers' user:" in done.stderr, done.stderr
            assert "cannot be reached: Permission denied. Nothing was reloaded" in done.stderr
            assert public_url() == "https://new.example"


def test_a_reload_without_a_pid_reloads_every_server_of_the_instance_directory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two servers on one instance directory: ``directory reload`` asks both and reports
    each; with none serving it says so (exit 1), and asks nothing. (No request looks a
    postcode up: the workers keep no postcode table.)"""
    settings = demo_copy(request, "sqlite", tmp_path)
    env = settings_env(settings, DIRECTORY_LOG_LEVEL="INFO", DIRECTORY_POSTCODES_IN_MEMORY="off")

    def reload(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(DIRECTORY), "reload", *args], env=env, capture_output=True, text=True,
            check=False, timeout=180,
        )  # fmt: skip

    with serve_together(
        (env, tmp_path / "first.log"), (env, tmp_path / "second.log"), workers=1
    ) as (first, second):
        done = reload()
        assert done.returncode == 0, done.stdout + done.stderr
        for base in (first, second):
            assert f"server {base.process.pid}: workers " in done.stdout, done.stdout
            assert get(base, "/health")[0] == 200
        # --json: one document on stdout, the lines on stderr
        done = reload("--json")
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert report["reloaded"] is True
        servers = {server["server"]: server for server in report["servers"]}
        assert set(servers) == {first.process.pid, second.process.pid}
        for server in servers.values():
            assert len(server["replaced"]) == 1 and server["failed"] is None
            assert len(server["workers"]) == 1 and server["workers"] != server["replaced"]
        assert "workers " in done.stderr
    none = reload()
    assert none.returncode == 1 and "No `directory serve` serves from" in none.stderr


def test_two_instances_do_not_share_a_control_socket(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """gunicorn (25.1+) made a control socket at one path per user, $XDG_RUNTIME_DIR or
    ~/.gunicorn/gunicorn.ctl: two instances on a host shared it, and stopping one deleted
    the other's. ``directory serve`` makes none (nothing here uses ``gunicornc``): with
    both running, and after one stops, there is no socket in either place, and the other
    still answers. (No request looks a postcode up: the workers keep no postcode table.)"""
    settings = demo_copy(request, "sqlite", tmp_path)
    run, home = tmp_path / "run", tmp_path / "home"
    run.mkdir()
    home.mkdir()
    env = settings_env(
        settings, XDG_RUNTIME_DIR=str(run), HOME=str(home), DIRECTORY_POSTCODES_IN_MEMORY="off"
    )

    def sockets() -> list[Path]:
        return [p for where in (run, home, settings.instance_dir) for p in where.rglob("*")
                if p.is_socket()]  # fmt: skip

    with serve_together(
        (env, tmp_path / "first.log"), (env, tmp_path / "second.log"), workers=1
    ) as (first, second):
        assert get(first, "/health")[0] == 200 and get(second, "/health")[0] == 200
        assert sockets() == []
        stop(first)
        assert sockets() == []
        assert get(second, "/health")[0] == 200
    assert "control socket" not in (tmp_path / "second.log").read_text().lower()


def test_after_an_import_grown_workers_are_replaced_one_at_a_time_without_a_stall(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A worker builds its next index beside the previous one after an import, and keeps
    the memory (at 100,000 services 530 → 786 MB): the master replaces each such worker
    whose RSS grew by more than DIRECTORY_WORKER_RECYCLE_GROWTH percent, one at a time,
    the new worker ready before the old one stops (``directory/web/serving/recycle.py``).
    Patches asked throughout all answer 200, none waiting for an index. The limit is 0
    here, every worker that rebuilt: a demo worker's RSS moves by a few MB either way
    (glibc's trim), and a test that needed it to grow failed now and then (the limit
    itself is compared in ``test_recycle.py``)."""
    settings = demo_copy(request, "sqlite", tmp_path)
    log = tmp_path / "serve.log"
    env = settings_env(
        settings, DIRECTORY_LOG_LEVEL="INFO", DIRECTORY_WORKER_RECYCLE_GROWTH="0",
        DIRECTORY_POSTCODES_IN_MEMORY="off",
    )  # fmt: skip
    with serve(env, log, workers=2) as base:
        _until_ready(log, 2)
        first = set(BOOTED.findall(log.read_text()))
        assert len(first) == 2
        with _Asking(base, PATCH) as asking:
            path = tmp_path / "more.csv"
            path.write_text(
                "Service ref,Service name,Themes,Organisation name,Coverage,Last verified,"
                "Status\nRECYCLE-1,Recycled,Youth diversion,Org R,Kingston,2026-01-01,active\n"
            )
            imported = subprocess.run(
                [str(DIRECTORY), "import", str(path), "--source", "recycle", "-q"],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert imported.returncode == 0, imported.stdout + imported.stderr
            deadline = time.monotonic() + 120
            while not first <= set(EXITED.findall(log.read_text())):
                assert time.monotonic() < deadline, _events(log, 4000)
                time.sleep(0.2)
        text = log.read_text()
        assert set(re.findall(r"replacing worker (\d+)", text)) == first
        serving = set(BOOTED.findall(text)) - set(EXITED.findall(text))
        assert len(serving) == 2 and not serving & first
        assert not asking.failures and asking.slowest < 2, (asking.failures, asking.slowest)
        # every worker serving has made its index: the new one, before it took a request
        assert all(f"worker {pid} made its directory index" in text for pid in serving)
        # the patch answers the import's data
        status, _, body = get(base, "/api/v1/services?q=Recycled")
        assert status == 200 and b"RECYCLE-1" in body
    markers = list(settings.instance_dir.glob("workers-*"))
    assert markers == [], markers  # the master removed its markers on the way out


def test_an_import_reaches_a_worker_no_request_reached_since(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A worker re-reads the data version every TTL on a thread of its own and builds what
    an import made stale: its first answer after an import made by another process is the
    new data's. (It was the old data's: the first request found the new version, started
    the build, and was answered from the index before the import, however long ago the
    import was.)"""
    from tests.directory.test_import import HEADER

    settings = demo_copy(request, "sqlite", tmp_path)
    env = settings_env(settings, DIRECTORY_DATA_VERSION_TTL="0.5")
    with serve(env, tmp_path / "serve.log", workers=1) as base:
        status, headers, _ = get(base, PATCH)
        assert status == 200
        before = headers["etag"].split("-", 1)[0]
        row = (
            "IDLE-00001,Idle worker service,Imported while no request came,active,"
            "Youth diversion,Idle Org,charity,Southwark,Hub,SE1 7PB,11-18,,,,MOPAC,VRU,"
            "£1000,2025-04-01,2027-03-31\n"
        )
        sheet = tmp_path / "idle.csv"
        sheet.write_text(HEADER + row, encoding="utf-8")
        done = subprocess.run(
            [str(DIRECTORY), "import", str(sheet), "--source", "idle"],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        # no request meanwhile: within the TTL, the build (about 1 s) and room (6 s), the
        # worker swaps the next index in, which it marks for the master (``recycle``)
        markers = settings.instance_dir / f"workers-{base.process.pid}"
        deadline = time.monotonic() + 6
        while not list(markers.glob("*.rebuilt")):
            assert time.monotonic() < deadline, "no index was built after the import"
            time.sleep(0.05)
        status, headers, body = get(base, PATCH)
    assert status == 200
    assert headers["etag"].split("-", 1)[0] != before, (before, headers["etag"])
    assert b"Idle worker service" in body


def test_with_json_logs_gunicorns_own_records_are_json_lines_too(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """DIRECTORY_LOG_FORMAT=json: every line on the stream parses, gunicorn's start and a
    malformed request's warning included (they were gunicorn's text lines), with the
    app's fields; and there is still no access log beside the app's request lines. (No
    request looks a postcode up: the workers keep no postcode table.)"""
    settings = demo_copy(request, "sqlite", tmp_path)
    log = tmp_path / "serve.log"
    env = settings_env(
        settings, DIRECTORY_LOG_FORMAT="json", DIRECTORY_LOG_LEVEL="INFO",
        DIRECTORY_POSTCODES_IN_MEMORY="off",
    )  # fmt: skip
    with serve(env, log, workers=1) as base:
        assert get(base, "/health")[0] == 200
        assert raw(base, b"GARBAGE\r\n\r\n")[0] == 400
        deadline = time.monotonic() + 30
        while "Invalid request" not in log.read_text():
            assert time.monotonic() < deadline, _events(log, 2000)
            time.sleep(0.1)
    lines = [line for line in log.read_text().splitlines() if not line.startswith("Serving on")]
    records = [json.loads(line) for line in lines]  # each one JSON
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    loggers = [r["logger"] for r in records]
    assert "gunicorn.error" in loggers and "directory.requests" in loggers
    assert "gunicorn.access" not in loggers
    assert any(r["message"].startswith("Starting gunicorn") for r in records)
    assert [r["level"] for r in records if "Invalid request" in r["message"]] == ["WARNING"]


def test_a_reload_with_settings_naming_a_schema_behind_the_code_is_refused(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """``directory reload --settings`` whose DIRECTORY_DATABASE_URL names a database at an
    older revision than the code's migrations (the code upgraded, `directory migrate` not
    run there) is refused, as a served process's own check refuses it: its new workers
    would answer every read of a new column with a 500. Nothing is reloaded: the server
    keeps its workers, its database and its settings."""
    from alembic import command

    from directory.store.db import Database, sqlite_path

    settings = demo_copy(request, "sqlite", tmp_path)
    served = sqlite_path(settings.database_url)
    assert served is not None
    behind = tmp_path / "behind" / served.name
    behind.parent.mkdir()
    shutil.copy(served, behind)
    old = Database(settings.with_overrides(database_url=f"sqlite:///{behind}"))
    command.downgrade(old.alembic_config(), "0023")
    old.dispose()
    env = settings_env(settings, DIRECTORY_LOG_LEVEL="INFO")
    log = tmp_path / "serve.log"
    with serve(env, log, workers=1) as base:
        _until_ready(log, 1)
        done = subprocess.run(
            [str(DIRECTORY), "reload", "--pid", str(base.process.pid), "--settings"],
            env={**env, "DIRECTORY_DATABASE_URL": f"sqlite:///{behind}"},
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == 1, done.stdout + done.stderr
        assert re.search(
            r"The database is at revision 0023, this code needs \w+: run `directory migrate`\."
            r" Nothing was reloaded\.",
            done.stderr,
        ), done.stderr
        assert "Reloading" not in done.stderr
        assert log.read_text().count("made its directory index") == 1  # no worker replaced
        # (on the database named it would be 503 schema-behind)
        assert get(base, "/ready")[0] == 200
