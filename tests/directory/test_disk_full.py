"""An import into a database that runs out of room: one clear line, exit code 1, nothing
half-written, the write lock released, and the failed run recorded (the database can still
take that small write once the import's transaction is rolled back).

The disk is made "full" the way SQLite meets a full disk: its page budget
(``PRAGMA max_page_count``, set on every connection) is a few dozen pages above what the
file holds, so the import's writes fail with SQLite's own ``SQLITE_FULL``, "database or disk
is full" — the error a full file system gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from directory import create_app
from directory.ingest import records
from directory.ingest.records import SPOOL_CHUNK, Spool
from directory.store.models import ImportRun, Lock
from directory.store.repositories import scratch
from tests.conftest import _settings
from tests.directory.test_import import HEADER, dump, run
from tests.directory.test_keys import assert_problem, make_key, upload

ROOM_PAGES = 40


def _rows(count: int) -> str:
    lines = []
    for i in range(count):
        lines.append(
            f'FULL-{i:05d},Service {i},"{"A long description of what the service does. " * 40}",'
            f"active,Youth diversion,Organisation {i % 50},charity,Lambeth,Hub {i},SE1 7PB,11-18,"
            f",,,MOPAC,VRU,£{1000 + i},2025-04-01,2027-03-31\n"
        )
    return HEADER + "".join(lines)


def _app(tmp_path: Path, sqlite_geography: Path, shared_data_dir: Path) -> Any:
    """An app on a copy of the initialised SQLite database (of its own, to fill up)."""
    (tmp_path / "directory.sqlite3").write_bytes(sqlite_geography.read_bytes())
    return create_app(_settings(tmp_path, None, shared_data_dir))


def _fill_up(app: Any) -> None:
    db = app.extensions["directory"].db
    with db.engine.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
    budget = pages + ROOM_PAGES

    def cap(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {budget}")

    event.listen(db.engine, "connect", cap)
    db.dispose()  # every connection from now on has the cap


def test_an_import_that_fills_the_disk_fails_cleanly_and_is_recorded(
    tmp_path: Path, sqlite_geography: Path, shared_data_dir: Path
) -> None:
    app = _app(tmp_path, sqlite_geography, shared_data_dir)
    source = tmp_path / "big.csv"
    source.write_text(_rows(1500), "utf-8")
    before = dump(app)
    _fill_up(app)

    result = run(app, "import", str(source))

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if "full" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("Error: "), result.output
    assert "database or disk is full" in errors[0]
    assert dump(app) == before  # nothing half-written
    db = app.extensions["directory"].db
    with db.engine.connect() as connection:
        assert connection.execute(select(Lock)).all() == []  # the lock released
        (failed,) = connection.execute(select(ImportRun.__table__)).all()
    assert failed.status == "failed" and failed.source == "big"
    assert "database or disk is full" in str(failed.problems)
    db.dispose()


def _scratch_with_room(monkeypatch: Any, pages: int) -> None:
    """Every scratch ledger an import opens gets a page budget of ``pages`` (SQLite's own
    SQLITE_FULL past it, as a full temporary disk gives) and a page cache too small to
    hold it, so that it spills as soon as it grows."""
    original = scratch.Ledger.__init__

    def capped(self: scratch.Ledger[Any]) -> None:
        original(self)
        self._db.execute("PRAGMA cache_size = 8")
        self._db.execute(f"PRAGMA max_page_count = {pages}")

    monkeypatch.setattr(scratch.Ledger, "__init__", capped)


def test_an_import_whose_temporary_space_fills_stops_with_one_line_and_writes_nothing(
    tmp_path: Path, sqlite_geography: Path, shared_data_dir: Path, monkeypatch: Any
) -> None:
    app = _app(tmp_path, sqlite_geography, shared_data_dir)
    source = tmp_path / "big.csv"
    source.write_text(_rows(1500), "utf-8")
    before = dump(app)
    _scratch_with_room(monkeypatch, 8)

    result = run(app, "import", str(source))

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if line.strip()]
    assert line.startswith("Error: The import ran out of temporary space"), line
    assert "database or disk is full" in line and "TMPDIR" in line
    assert dump(app) == before
    db = app.extensions["directory"].db
    with db.engine.connect() as connection:
        assert connection.execute(select(Lock)).all() == []  # the lock released

    # with room again, the same file imports
    monkeypatch.undo()
    assert run(app, "import", str(source)).exit_code == 0
    assert dump(app) != before
    db.dispose()


def test_an_upload_whose_temporary_space_fills_is_a_507_problem_and_writes_nothing(
    tmp_path: Path, sqlite_geography: Path, shared_data_dir: Path, monkeypatch: Any
) -> None:
    app = _app(tmp_path, sqlite_geography, shared_data_dir)
    officer = make_key(app, "officer")["key"]
    before = dump(app)
    _scratch_with_room(monkeypatch, 8)

    response = upload(app, _rows(1500), key=officer, name="big.csv")

    problem = assert_problem(response, 507, "insufficient-storage")
    assert "ran out of temporary space" in problem["detail"]
    after = dump(app)
    assert after.pop("api_key") != before.pop("api_key")  # only the key's last use
    assert after == before
    monkeypatch.undo()
    assert upload(app, _rows(1500), key=officer, name="big.csv").status_code == 201
    app.extensions["directory"].db.dispose()


def test_a_spool_on_a_full_disk_says_so_and_closes(monkeypatch: Any) -> None:
    def full(**_: Any) -> Any:
        return open("/dev/full", "w+b")  # noqa: SIM115 (a device that is always full)

    monkeypatch.setattr(records.tempfile, "SpooledTemporaryFile", full)
    spool: Spool[int] = Spool()
    with pytest.raises(scratch.ScratchFullError, match="No space left on device"):
        for number in range(SPOOL_CHUNK):
            spool.append(number)
    spool.close()  # what it could not write is let go, not raised again
    assert not spool.close.alive
