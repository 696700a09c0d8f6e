"""A database that takes reads but no writes (a read-only file or mount, SQLite's
``mode=ro``, a PostgreSQL standby or ``default_transaction_read_only``): reads answer, and
every write is a 503 ``database-read-only`` problem without ``Retry-After`` (asking again
cannot help), not the ``database-unavailable`` "try again shortly" it was; nothing is
written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from directory import create_app
from directory.cli import cli
from tests.conftest import BACKENDS, demo_copy
from tests.directory.test_import import HEADER
from tests.directory.test_keys import assert_problem, make_key, upload

ROW = (
    "RO-00001,Read-only service,A service the database cannot take,active,Youth diversion,"
    "Read Only Org,charity,Lambeth,Hub,SE1 7PB,11-18,,,,MOPAC,VRU,£1000,2025-04-01,2027-03-31\n"
)


def _count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM change_event")).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_writes_to_a_read_only_database_are_503_read_only_without_retry_after(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    settings = demo_copy(request, backend, tmp_path)
    writable = create_app(settings)
    key = make_key(writable, "admin")["key"]
    writable.extensions["directory"].db.dispose()
    before = _count(settings.database_url)
    if backend == "sqlite":
        path = tmp_path / "directory.sqlite3"
        url = f"sqlite:///file:{path}?mode=ro&uri=true"
    else:
        url = settings.database_url
        name = make_url(url).database
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(
                text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            )
        engine.dispose()
    app = create_app(settings.with_overrides(database_url=url))
    client = app.test_client()
    try:
        listed = client.get("/api/v1/services?per_page=1")
        assert listed.status_code == 200  # reads go on
        sid = listed.json["contents"][0]["id"]
        tag = client.get(f"/api/v1/services/{sid}").headers["ETag"]
        answers = {
            "patch": client.patch(
                f"/api/v1/services/{sid}",
                headers={"Authorization": f"Bearer {key}", "If-Match": tag},
                json={"description": "Changed on a read-only database"},
            ),
            "import": upload(app, HEADER + ROW, key=key),
        }
        for kind, response in answers.items():
            body = assert_problem(response, 503, "database-read-only")
            assert "read-only" in body["detail"], kind
            assert "Retry-After" not in response.headers, kind
        assert client.get("/problems/database-read-only").status_code == 200
        # the commands: one line saying so and what to do, not "refused a write"
        (tmp_path / "ro.csv").write_text(HEADER + ROW)
        env = {"DIRECTORY_DATABASE_URL": url, "DIRECTORY_INSTANCE_DIR": str(tmp_path)}
        for args in (["import", str(tmp_path / "ro.csv")], ["keys", "create", "--role", "admin"]):
            result = CliRunner().invoke(cli, args, env=env)
            assert result.exit_code == 1 and "Traceback" not in result.output, result.output
            assert result.output.startswith("Error: The database takes no writes (it is read-only")
            assert "run the command against the primary database" in result.output
    finally:
        app.extensions["directory"].db.dispose()
    if backend == "postgres":
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text("SET default_transaction_read_only = off"))
            connection.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
        engine.dispose()
    assert _count(settings.database_url) == before  # nothing was written


def test_a_lock_that_cannot_be_made_beside_an_sqlite_file_is_the_read_only_refusal(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """An SQLite file in a folder that takes no new files (a read-only mount): the write
    lock made beside it cannot be, and a write was a 500 (an OSError). Now it is the
    read-only refusal, over the API and from the command; nothing is written. (Here the
    lock's name is taken by a folder: root can write to any folder.)"""
    settings = demo_copy(request, "sqlite", tmp_path)
    app = create_app(settings)
    key = make_key(app, "admin")["key"]
    before = _count(settings.database_url)
    (tmp_path / "directory.sqlite3.lock").mkdir()
    try:
        assert_problem(upload(app, HEADER + ROW, key=key), 503, "database-read-only")
        (tmp_path / "ro.csv").write_text(HEADER + ROW)
        env = {"DIRECTORY_DATABASE_URL": settings.database_url,
               "DIRECTORY_INSTANCE_DIR": str(tmp_path)}  # fmt: skip
        result = CliRunner().invoke(cli, ["import", str(tmp_path / "ro.csv")], env=env)
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert "takes no writes" in result.output and "write lock" in result.output
    finally:
        app.extensions["directory"].db.dispose()
    assert _count(settings.database_url) == before
