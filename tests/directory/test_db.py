"""The web layer's kept read connection (Database.read_connection), on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from directory.settings import Settings
from directory.store import db as db_module
from directory.store.db import Database
from directory.store.models import Service
from directory.store.repositories import among
from tests.conftest import refused_where_shut_out

COUNT = text("SELECT count(*) FROM data_release")


def _add_release(db: Database, label: str) -> None:
    with db.session() as session:
        session.execute(
            text(
                "INSERT INTO data_release (dataset, label, checksum, details, loaded_at) "
                "VALUES ('test', :label, 'x', '{}', CURRENT_TIMESTAMP)"
            ),
            {"label": label},
        )


@pytest.fixture()
def db(writable_settings: Settings):  # type: ignore[no-untyped-def]
    database = Database(writable_settings)
    yield database
    database.dispose()


def _request_on_a_new_thread(db: Database) -> object:
    """A request served on a thread of its own (as a thread-per-request server does)."""
    used: list[object] = []
    thread = threading.Thread(target=lambda: (used.append(db.read_connection()), db.end_reads()))
    thread.start()
    thread.join()
    return used[0]


def test_a_request_reads_on_one_connection_and_the_next_request_reuses_it(db):
    first = db.read_connection()
    assert db.read_connection() is first
    db.end_reads()
    assert db.read_connection() is first
    db.end_reads()
    # a thread per request (the development server): still one connection, not one each
    assert {id(_request_on_a_new_thread(db)) for _ in range(5)} == {id(first)}


def test_requests_at_the_same_time_read_on_their_own_connections(db):
    first = db.read_connection()  # this request is still running...
    second = _request_on_a_new_thread(db)  # ...while another one is served
    assert second is not first
    db.end_reads()
    assert {id(_request_on_a_new_thread(db)) for _ in range(3)} <= {id(first), id(second)}


def test_reads_see_what_a_writer_committed_after_they_began(db):
    reads = db.read_connection()
    before = reads.execute(COUNT).scalar_one()
    _add_release(db, "one")
    # same request, same connection: autocommit holds no snapshot between statements
    assert reads.execute(COUNT).scalar_one() == before + 1
    db.end_reads()
    _add_release(db, "two")
    assert db.read_connection().execute(COUNT).scalar_one() == before + 2


def _holds_transaction(connection) -> bool:  # type: ignore[no-untyped-def]
    """Whether the database itself has a transaction open on this connection."""
    dbapi = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite":
        return bool(dbapi.in_transaction)
    return dbapi.info.transaction_status.name != "IDLE"


def test_reads_hold_no_transaction_between_statements_or_requests(db):
    reads = db.read_connection()
    reads.execute(COUNT).scalar_one()
    assert not _holds_transaction(reads)  # an open one would pin a snapshot or lock
    db.end_reads()
    assert not _holds_transaction(db.read_connection())


def test_an_error_leaves_nothing_open_for_the_next_request(db):
    reads = db.read_connection()
    with pytest.raises(Exception, match="no_such_table"):
        reads.execute(text("SELECT * FROM no_such_table"))
    db.end_reads()
    assert not reads.in_transaction() and not _holds_transaction(reads)
    assert db.read_connection().execute(COUNT).scalar_one() >= 0


def test_an_invalidated_connection_is_replaced(db):
    first = db.read_connection()
    first.invalidate()
    db.end_reads()
    second = db.read_connection()
    assert second is not first
    assert second.execute(COUNT).scalar_one() >= 0


def test_a_dead_connection_is_found_by_the_ping_after_idling(db, monkeypatch):
    first = db.read_connection()
    db.end_reads()
    first.connection.dbapi_connection.close()  # the server went away, say
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", -1.0)
    second = db.read_connection()
    assert second is not first
    assert second.execute(COUNT).scalar_one() >= 0


def test_a_forked_child_does_not_use_its_parents_connection(db, monkeypatch):
    first = db.read_connection()
    db.end_reads()
    parent = db_module.os.getpid()
    monkeypatch.setattr(db_module.os, "getpid", lambda: parent + 1)
    assert db.read_connection() is not first
    # kept referenced, never closed: a real child must not talk on its parent's socket
    assert any(kept is first for kept in db_module._INHERITED)
    assert not first.closed
    # here the "parent" is this process: its connection is closed, not left to exit
    db_module._INHERITED.remove(first)
    first.close()


def _closed(connection) -> bool:  # type: ignore[no-untyped-def]
    """Whether a DBAPI connection (sqlite3 or psycopg) is closed."""
    closed = getattr(connection, "closed", None)
    if closed is not None:  # psycopg
        return bool(closed)
    try:
        connection.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - sqlite3's ProgrammingError: closed
        return True
    return False


def test_a_database_dropped_without_dispose_closes_its_connections_when_collected(
    writable_settings: Settings,
) -> None:
    """A command's or a test's app is let go without ``dispose()``: its kept read connection
    and its pool's are closed when it is collected, not left to the garbage collector
    (Python 3.13 warns of every SQLite connection left so)."""
    import gc

    database = Database(writable_settings)
    kept = database.read_connection().connection.dbapi_connection
    database.end_reads()
    with database.session() as session:  # a pooled connection, checked back in
        pooled = session.connection().connection.dbapi_connection
    assert not _closed(kept) and not _closed(pooled)
    del database, session
    gc.collect()
    assert _closed(kept) and _closed(pooled)


def test_a_forked_childs_collected_database_leaves_its_parents_connections_open(
    writable_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    database = Database(writable_settings)
    kept = database.read_connection().connection.dbapi_connection
    database.end_reads()
    parent = db_module.os.getpid()
    monkeypatch.setattr(db_module.os, "getpid", lambda: parent + 1)
    del database
    gc.collect()
    assert not _closed(kept)
    monkeypatch.undo()
    kept.close()


def test_an_sqlite_file_behind_a_folder_this_user_may_not_enter_is_a_database_error(tmp_path):
    """A database file in a folder the server's user may not enter (a deploy's permissions
    gone wrong) is the database's error, which a request answers with a 503 problem and a
    command with one line, naming the file; it was a PermissionError out of the check that
    the file is there (``Path.exists`` raises for EACCES): a 500 to every request."""
    locked = tmp_path / "locked"
    locked.mkdir()
    sqlite3.connect(locked / "directory.sqlite3").close()
    database = Database(
        Settings(instance_dir=tmp_path, database_url=f"sqlite:///{locked / 'directory.sqlite3'}")
    )

    def connect() -> None:  # (as a user root's rights do not stand in for)
        try:
            database.engine.connect().close()
        except DBAPIError as error:
            raise RuntimeError(f"DBAPIError: {error.orig}") from None
        except Exception as error:  # noqa: BLE001 - named in the message compared
            raise RuntimeError(f"{type(error).__name__}: {error}") from None

    said = refused_where_shut_out(locked, connect)
    assert said == (
        f"DBAPIError: the database file {locked / 'directory.sqlite3'} cannot be reached: "
        "Permission denied"
    ), said


def test_among_reads_what_in_reads_in_one_array_parameter_on_postgresql(
    shared_demo_app: Any,
) -> None:
    """``among`` (the chunked reads and writes of many ids or refs) finds the rows ``IN``
    finds, through a connection or a session; on PostgreSQL as ``= ANY`` of one bound
    array (an IN list was a parameter a value), on SQLite as the IN list."""
    engine = shared_demo_app.extensions["directory"].db.engine
    with engine.connect() as connection, Session(connection) as session:
        postgres = connection.dialect.name == "postgresql"
        ids = list(connection.execute(select(Service.id).order_by(Service.id)).scalars())
        refs = list(connection.execute(select(Service.ref).order_by(Service.ref)).scalars())
        assert len(ids) > 40
        for column, values in (
            (Service.id, [*ids[::3], 10**9]),
            (Service.ref, [*refs[1::4], "no-such-ref", "Ο'Brien & co"]),
        ):
            wanted = set(connection.execute(select(Service.id).where(column.in_(values))).scalars())
            assert 5 < len(wanted) < len(ids)
            for on in (connection, session):
                statement = select(Service.id).where(among(column, values, on))
                assert set(on.execute(statement).scalars()) == wanted
                compiled = statement.compile(connection)
                assert ("= ANY" in str(compiled)) is postgres
                assert (" IN " in str(compiled)) is not postgres
                if postgres:
                    assert list(compiled.params.values()) == [values]
