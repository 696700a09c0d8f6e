"""Schemathesis over the served OpenAPI document: the demo directory on SQLite behind a
loopback server, every check (no server errors, responses, status codes, content types and
headers as documented, schema-invalid requests refused and valid ones accepted, methods
and Allow headers), bounded to a few minutes and at least 1,000 requests. Twice: every
operation without a key (each write is then its 401), and the write routes with an
admin's key, on a copy of their own on PostgreSQL, so that what they do with a body is
fuzzed too.

The command line is `st run` as a person would run it against `make run`; its options that
are not on the command line are in schemathesis.toml and schemathesis-writes.toml beside
this file (with the reasons). The seed is fixed so a run is reproducible;
SCHEMATHESIS_SEED picks another.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler

from directory import create_app
from directory.usecases.keys import hash_secret
from tests.conftest import demo_copy
from tests.directory.test_keys import make_key, set_key
from tests.servers import wsgi_server

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"
WRITES_CONFIG = HERE / "schemathesis-writes.toml"
MIN_REQUESTS = 1_000
#: the write routes (POST, PATCH, DELETE), and their run's least requests (about 1,400)
WRITE_OPERATIONS, MIN_WRITE_REQUESTS = 25, 900
#: test cases per operation and phase: with 88 operations, about 1,300 requests (40 gave
#: 9,800 requests and 140 s, most of CI's margin; 15 gave 3,700 and up to 190 s on a slow
#: machine, with CI at its 30 minutes; 10 gave 2,500 and 142 s on 8 December's VM, on
#: which the whole CI ran past 30 minutes)
MAX_EXAMPLES = 5


@contextmanager
def _served(request: pytest.FixtureRequest, tmp: Path, backend: str) -> Iterator[tuple[str, Flask]]:
    """A copy of the demo directory on ``backend`` of the run's own (the fuzzer sends public
    feedback, which is stored, and with a key writes), with rate limits it never reaches
    (thousands of requests from one address; the 429s are tests/directory/test_rate_limits.py's
    and test_feedback.py's), served on a loopback port: (base URL, the app)."""
    settings = demo_copy(request, backend, tmp)
    unlimited = "1000000/minute"
    app = create_app(
        settings.with_overrides(rate_limit_feedback=unlimited, rate_limit_writes=unlimited)
    )
    try:
        with wsgi_server(app, request_handler=_QuietHandler) as base:
            yield base, app
    finally:
        app.extensions["directory"].db.dispose()


@pytest.fixture(scope="module")
def served_demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with _served(request, tmp_path_factory.mktemp("schemathesis"), "sqlite") as (base, _):
        yield base


@pytest.fixture()
def served_for_writes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """A copy of the demo directory on PostgreSQL of the write routes' run's own (it changes
    it), served, and an admin's key for it: (base URL, key). PostgreSQL, the production
    database: it holds a column to its length and an integer to 4 bytes, where SQLite
    takes anything (a change event's ref past its 160 characters was a 503 there alone).

    The key's secret is hashed again with scrypt's cheapest parameters: a key is checked by
    the parameters stored with it (test_keys.py), and every request still has its key
    found by prefix, hashed and compared; at the production ones (about 50 ms of CPU a
    request, by design) the hashing was three quarters of the run's time."""
    tmp = tmp_path_factory.mktemp("schemathesis-writes")
    with _served(request, tmp, "postgres") as (base, app):
        made = make_key(app, "admin", "--name", "schemathesis")
        secret = made["key"].split("_", 2)[2]  # lfsd_<prefix>_<secret>
        set_key(app, made["id"], secret_hash=hash_secret(secret, n=2, r=1, p=1))
        yield base, made["key"]


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request (thousands of them); the app logs its errors."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


def test_schemathesis_finds_nothing_over_the_served_document(served_demo, tmp_path):
    _run_schemathesis(f"{served_demo}/api/v1/openapi.json", tmp_path, CONFIG, MIN_REQUESTS)


@pytest.mark.postgres
def test_schemathesis_finds_nothing_in_the_write_routes_with_a_key(served_for_writes, tmp_path):
    """The write routes (POST, PATCH, DELETE) with an admin's key: bodies of every shape
    their schemas allow and many they do not, If-Match made up or missing, ids that do not
    exist; no 500, a body of the wrong type refused (422), every answer as documented."""
    base, key = served_for_writes
    _run_schemathesis(
        f"{base}/api/v1/openapi.json", tmp_path, WRITES_CONFIG, MIN_WRITE_REQUESTS,
        "--header", f"Authorization: Bearer {key}", "--include-method", "POST",
        "--include-method", "PATCH", "--include-method", "DELETE", selected=WRITE_OPERATIONS,
    )  # fmt: skip


def _run_schemathesis(
    schema: str, tmp_path: Path, config: Path, least: int, *options: str,
    selected: int | None = None,
) -> None:  # fmt: skip
    """Run ``st`` over ``schema`` with ``config``: it completes, every operation selected
    (all, or ``selected`` of them) is tested, no failure, at least ``least`` requests."""
    st = shutil.which("st", path=os.path.dirname(sys.executable))
    assert st, "schemathesis is not installed: pip install -e '.[test]'"
    seed = os.environ.get("SCHEMATHESIS_SEED", "20261130")
    reports = tmp_path / "reports"
    command = [
        st, "--config-file", str(config), "run", schema, *options,
        "--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--seed", seed,
        # one worker: with two threads, hypothesis describing its filters parses source
        # (ast.parse) in both at once, which CPython 3.11.7 can fail ("AST constructor
        # recursion depth mismatch", a SystemError in schemathesis: one CI run of many)
        "--workers", "1", "--request-timeout", "30", "--report", "json,har",
        "--report-json-path", str(reports / "run.json"),
        "--report-har-path", str(reports / "requests.har"), "--output-truncate", "true",
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=900, cwd=tmp_path, check=False
    )
    output = done.stdout + done.stderr
    run = json.loads((reports / "run.json").read_text())
    requests = len(json.loads((reports / "requests.har").read_text())["log"]["entries"])
    assert run["complete"] and run["stop_reason"] == "completed", output[-5000:]
    operations = run["operations"]
    assert operations["tested"] == operations["selected"] > 0, operations
    assert operations["selected"] == (selected or operations["total"]), operations
    assert not run["errors"], output[-10000:]
    assert not run["failures"], output[-20000:]
    assert done.returncode == 0, output[-10000:]
    print(f"schemathesis: {requests} requests, seed {seed}, {run['running_time']:.0f} s")
    assert requests >= least, f"only {requests} requests (seed {seed})"
