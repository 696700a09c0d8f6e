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

from sqlalchemy import event, select

from directory import create_app
from directory.store.models import ImportRun, Lock
from tests.conftest import _settings
from tests.directory.test_import import HEADER, dump, run

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
    (tmp_path / "directory.sqlite3").write_bytes(sqlite_geography.read_bytes())
    app = create_app(_settings(tmp_path, None, shared_data_dir))
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
