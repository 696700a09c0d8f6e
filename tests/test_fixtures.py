"""The suite's own fixtures: what a test makes on disk goes when the test ends.

A full run kept every copy it made to its end, 19.3 GB of disk at the peak (11.5 GB of
PostgreSQL copies, 50 MB each, and 9.1 GB of test folders), which a CI machine with less
room may run out of part way (every test after it an error). A test's PostgreSQL copy is now
dropped when the fixture or test that made it ends, and a passed test's ``tmp_path`` removed
(``tmp_path_retention_policy``, pyproject.toml): 2.2 GB at the peak.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from directory.store.db import Database
from tests import postgres as postgres_module
from tests.conftest import demo_copy
from tests.postgres import PostgresCluster


class _Scope:
    """A fixture's request as ``demo_copy`` uses it, whose finalizers the test runs."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._request = request
        self.finalizers: list[Callable[[], object]] = []

    def getfixturevalue(self, name: str) -> Any:
        return self._request.getfixturevalue(name)

    def addfinalizer(self, finalizer: Callable[[], object]) -> None:
        self.finalizers.append(finalizer)


def _databases(cluster: PostgresCluster) -> set[str]:
    with psycopg.connect(
        f"host=127.0.0.1 port={cluster.port} user=postgres dbname=postgres"
    ) as conn:
        return {name for (name,) in conn.execute("SELECT datname FROM pg_database")}


@pytest.mark.postgres
def test_a_postgresql_copy_is_dropped_when_its_fixture_ends(
    request: pytest.FixtureRequest, postgres: PostgresCluster, tmp_path: Path
) -> None:
    scope = _Scope(request)
    settings = demo_copy(scope, "postgres", tmp_path)  # type: ignore[arg-type]
    name = settings.database_url.rsplit("/", 1)[1]
    assert name in _databases(postgres) and len(scope.finalizers) == 1
    db = Database(settings)
    conn = db.engine.connect()  # a connection still open when the fixture ends
    assert conn.execute(text("SELECT count(*) FROM service")).scalar_one() > 0
    scope.finalizers.pop()()
    conn.invalidate()  # (ended by the drop: nothing to roll back)
    conn.close()
    db.dispose()
    assert name not in _databases(postgres)


def test_a_passed_tests_folder_is_removed_at_its_end(request: pytest.FixtureRequest) -> None:
    assert request.config.getini("tmp_path_retention_policy") == "failed"


def test_the_clusters_live_in_memory_only_where_it_has_room(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, postgres: PostgresCluster
) -> None:
    """The suite's clusters go on /dev/shm when it has room for them, else on disk: a
    container's /dev/shm is often 64 MB, and a cluster there would run out part way."""
    assert postgres.root.parent == (postgres_module.memory_folder() or postgres.root.parent)
    monkeypatch.setattr(postgres_module, "SHM", tmp_path)
    monkeypatch.setattr(postgres_module, "SHM_FREE_BYTES", 1)
    assert postgres_module.memory_folder() == tmp_path
    free = os.statvfs(tmp_path)
    monkeypatch.setattr(postgres_module, "SHM_FREE_BYTES", free.f_bavail * free.f_frsize * 2)
    assert postgres_module.memory_folder() is None
    monkeypatch.setattr(postgres_module, "SHM", tmp_path / "absent")
    monkeypatch.setattr(postgres_module, "SHM_FREE_BYTES", 1)
    assert postgres_module.memory_folder() is None
