"""The production set-up, as the README describes it: ``directory serve`` (gunicorn, two sync
workers, its settings in directory/web/serving/gunicorn.py) behind Debian's nginx running
the site ``directory nginx-config`` writes, on a copy of the demo directory.

- Idle and slow clients: 50 connections that send half a request and wait, and 10 that
  send nothing, do not stall the API: /health and a patch still answer in under 100 ms
  through nginx (with gunicorn alone, two such connections held both workers for 30 s).
- Every error is a problem: a request line over the limit, a NUL or 0xff byte in it, a
  body too large, and gunicorn being down are ``application/problem+json``, from nginx and
  from gunicorn alike; a long URL that real filters make (6 KB) reaches the app.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from directory.cli import cli
from tests.conftest import demo_copy
from tests.servers import DIRECTORY, free_port, get, nginx, raw, serve, settings_env

PROBLEM = "application/problem+json"
PATCH = "/api/v1/patch?postcode=SE1%207PB&per_page=10"


def _site(listen: str, upstream: str) -> str:
    result = CliRunner().invoke(cli, ["nginx-config", "--listen", listen, "--upstream", upstream])
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
            assert time.monotonic() < deadline, log.read_text()[-3000:]
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
            assert time.monotonic() < deadline, log.read_text()[-3000:]
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
    # over 8 KB: 414, as a problem
    status, headers, body = raw(base, b"GET /api/v1/services?q=" + b"x" * 9000 + end)
    assert _problem(status, headers, body, 414)["code"] == "uri-too-long"
    # a NUL or a 0xff byte in the request line: 400, as a problem
    for byte in (b"\x00", b"\xff"):
        status, headers, body = raw(base, b"GET /api/v1/areas/E09" + byte + b"000022" + end)
        assert _problem(status, headers, body, 400)["code"] == "bad-request"


def test_a_body_over_the_limit_and_a_stopped_gunicorn_are_problems(
    stack: tuple[str, str], tmp_path: Path
) -> None:
    front, _ = stack
    body = b"[" + b'"SE1 7PB",' * 120_000 + b'"SE1 7PB"]'
    request = (
        b"POST /api/v1/postcodes/lookup HTTP/1.1\r\nHost: directory\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
        + b"\r\n\r\n" + body
    )  # fmt: skip
    status, headers, answer = raw(front, request)
    assert _problem(status, headers, answer, 413)["code"] == "payload-too-large"
    # nginx in front of nothing (gunicorn stopped or restarting): 503 with Retry-After
    port = free_port()
    with nginx(_site(f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}"), tmp_path / "nginx"):
        status, headers, answer = raw(
            f"http://127.0.0.1:{port}",
            b"GET /health HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
        )
    assert _problem(status, headers, answer, 503)["code"] == "service-unavailable"
    assert headers["retry-after"] == "10"


def test_after_an_import_grown_workers_are_replaced_one_at_a_time_without_a_stall(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A worker builds its next index beside the previous one after an import, and keeps
    the memory (at 100,000 services 530 → 786 MB): the master replaces each such worker
    whose RSS grew by more than DIRECTORY_WORKER_RECYCLE_GROWTH percent (0 here, so that
    the demo directory's workers qualify), one at a time, the new worker ready before the
    old one stops (``directory/web/serving/recycle.py``). Patches asked throughout all
    answer 200, none waiting for an index."""
    settings = demo_copy(request, "sqlite", tmp_path)
    log = tmp_path / "serve.log"
    env = settings_env(settings, DIRECTORY_LOG_LEVEL="INFO", DIRECTORY_WORKER_RECYCLE_GROWTH="0")
    booted = re.compile(r"Booting worker with pid: (\d+)")
    exited = re.compile(r"Worker exiting \(pid: (\d+)\)")
    with serve(env, log, workers=2) as base:
        deadline = time.monotonic() + 120
        while log.read_text().count("made its directory index") < 2:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        first = set(booted.findall(log.read_text()))
        assert len(first) == 2
        failures: list[object] = []
        slowest = [0.0]
        stop = threading.Event()

        def ask() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    status = get(base, PATCH, timeout=30)[0]
                except OSError as error:
                    failures.append(error)
                    continue
                if status != 200:
                    failures.append(status)
                slowest[0] = max(slowest[0], time.perf_counter() - started)
                time.sleep(0.01)

        askers = [threading.Thread(target=ask) for _ in range(3)]
        for asker in askers:
            asker.start()
        try:
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
            while not first <= set(exited.findall(log.read_text())):
                assert time.monotonic() < deadline, log.read_text()[-4000:]
                time.sleep(0.2)
        finally:
            stop.set()
            for asker in askers:
                asker.join()
        text = log.read_text()
        assert set(re.findall(r"replacing worker (\d+)", text)) == first
        serving = set(booted.findall(text)) - set(exited.findall(text))
        assert len(serving) == 2 and not serving & first
        assert not failures and slowest[0] < 2, (failures, slowest)
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
        time.sleep(6)  # the TTL, the build (about 1 s), and room: no request meanwhile
        status, headers, body = get(base, PATCH)
    assert status == 200
    assert headers["etag"].split("-", 1)[0] != before, (before, headers["etag"])
    assert b"Idle worker service" in body
