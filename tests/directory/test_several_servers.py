"""Several servers on one PostgreSQL, as the README's Deployment section sets them up: two
``directory serve`` processes on their own ports (as on two hosts), one throwaway
PostgreSQL, writes through the CLI.

- An import through the CLI is served by both within ``DIRECTORY_DATA_VERSION_TTL`` (each
  server checks the data version at most that often, then rebuilds its index from the
  database: nothing is shared between them but PostgreSQL).
- A refresh started on both hosts at once runs once: the second finds PostgreSQL's advisory
  lock held and refuses, naming the first.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import demo_copy
from tests.directory.test_disk_full import _rows
from tests.directory.test_import import HEADER, OXYGEN
from tests.servers import DIRECTORY, get, serve_together, settings_env

pytestmark = pytest.mark.postgres

TTL_S = 2.0
PATCH = "/api/v1/patch?postcode=KT1%201EU&per_page=100&status=any"


def _refs(base: str) -> set[str]:
    status, _, body = get(base, PATCH, timeout=60)
    assert status == 200
    return {s["ref"] for s in json.loads(body)["services"]["contents"]}


def test_two_servers_on_one_postgresql_serve_an_import_and_refresh_once(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    settings = demo_copy(request, "postgres", tmp_path)
    env = settings_env(settings, DIRECTORY_DATA_VERSION_TTL=str(TTL_S))
    with serve_together((env, tmp_path / "a.log"), (env, tmp_path / "b.log")) as servers:
        for base in servers:  # every worker of each has its index
            for _ in range(6):
                assert "MULTI-01" not in _refs(base)

        source = tmp_path / "multi.csv"
        source.write_text(HEADER + OXYGEN.replace("OXY-KT-01", "MULTI-01"), "utf-8")
        imported = subprocess.run(
            [str(DIRECTORY), "import", str(source), "--source", "multi", "--quiet"],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert imported.returncode == 0, imported.stderr[-2000:]
        done = time.monotonic()
        seen: dict[str, float] = {}
        while len(seen) < len(servers) and time.monotonic() - done < TTL_S + 20:
            for base in servers:
                # several answers in a row: each worker of the server has the new version
                if base not in seen and all("MULTI-01" in _refs(base) for _ in range(6)):
                    seen[base] = time.monotonic() - done
            time.sleep(0.1)
        assert set(seen) == set(servers), seen
        # within the TTL, plus the index rebuild in the background (a second or so)
        assert max(seen.values()) < TTL_S + 5, seen

    # a refresh started on both hosts at once: one runs, the other refuses. They overlap
    # however fast the machine is: the test holds the service table, so the first, once it
    # has the lock (its row appears), waits at its first read of the directory until the
    # second has been refused (so its size does not matter: 3,000 rows, which made the
    # first slow before, only made the test take longer)
    big = tmp_path / "big.csv"
    big.write_text(_rows(30), "utf-8")
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "big"\npath = "big.csv"\n', "utf-8")
    engine = create_engine(settings.database_url)

    def refresh() -> subprocess.Popen[str]:
        command = [str(DIRECTORY), "refresh", "--sources", str(sources), "--quiet"]
        return subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    with engine.connect() as holding:
        holding.execute(text("LOCK TABLE service IN ACCESS EXCLUSIVE MODE"))
        first = refresh()
        deadline = time.monotonic() + 60
        while True:
            with engine.connect() as connection:
                if connection.execute(text("SELECT count(*) FROM lock")).scalar_one():
                    break
            assert first.poll() is None and time.monotonic() < deadline, "never took the lock"
            time.sleep(0.05)
        second = refresh()
        second_output = second.communicate(timeout=300)[0]
        assert first.poll() is None, "the first refresh did not wait for the service table"
        holding.rollback()
    both = [first, second]
    outputs = [first.communicate(timeout=300)[0], second_output]
    codes = sorted(process.returncode for process in both)
    assert codes == [0, 1], outputs
    refused = next(o for p, o in zip(both, outputs, strict=True) if p.returncode == 1)
    assert "Another import or refresh is running" in refused, refused
    with engine.connect() as connection:
        runs = (
            connection.execute(text("SELECT status FROM import_run WHERE source = 'big'"))
            .scalars()
            .all()
        )
    engine.dispose()
    assert runs == ["succeeded"]  # it ran once
