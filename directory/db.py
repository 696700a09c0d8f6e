"""Database engine, sessions and migrations."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from directory.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: a read connection idle for longer than this is pinged before use (as pool_pre_ping does)
PING_AFTER_IDLE_SECONDS = 1.0
#: read connections a forked process inherited: kept referenced, never used or closed
_INHERITED: list[Connection] = []


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """One engine and session factory for one settings object."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = settings.database_url
        if settings.is_sqlite and url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, pool_pre_ping=not settings.is_sqlite)
        if settings.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # an in-memory SQLite database is one connection shared by the thread's sessions:
        # it cannot also be held open in autocommit mode for reads
        self.keeps_read_connections = not (settings.is_sqlite and ":memory:" in url)
        self._reads = threading.local()

    def read_connection(self) -> Connection:
        """A connection for the web layer's reads: this thread's long-lived one.

        Checking a pooled connection out and back in costs more than the postcode lookup it
        serves, so each thread keeps one open, in autocommit mode: no transaction or
        snapshot is held between statements, so every read sees what imports have
        committed. It is pinged before use after a second idle (as ``pool_pre_ping``
        would), replaced when an error has invalidated it, and never shared across a fork.
        Call :meth:`end_reads` when the request ends."""
        if not self.keeps_read_connections:
            reads = self._reads
            if getattr(reads, "connection", None) is None:
                reads.connection = self.engine.connect()
            return reads.connection  # type: ignore[no-any-return]
        reads = self._reads
        connection: Connection | None = getattr(reads, "connection", None)
        now = time.monotonic()
        if connection is not None:
            if reads.pid != os.getpid():
                # inherited across a fork: the parent's; closing it, or letting it be
                # garbage-collected (which resets it), would talk on the parent's socket
                _INHERITED.append(connection)
                connection = reads.connection = None
            elif connection.invalidated or connection.closed:
                connection.close()
                connection = reads.connection = None
            elif now - reads.used > PING_AFTER_IDLE_SECONDS and not self._alive(connection):
                connection = reads.connection = None
        if connection is None:
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            reads.connection, reads.pid = connection, os.getpid()
        reads.used = now
        return connection

    @staticmethod
    def _alive(connection: Connection) -> bool:
        try:
            connection.exec_driver_sql("SELECT 1").close()
            if connection.in_transaction():
                connection.rollback()
            return True
        except DBAPIError:
            connection.invalidate()
            connection.close()
            return False

    def end_reads(self) -> None:
        """End the request's reads: roll back what an error left open, drop a connection an
        error invalidated (and, without a kept connection, give it back to the pool)."""
        reads = self._reads
        connection: Connection | None = getattr(reads, "connection", None)
        if connection is None:
            return
        if not self.keeps_read_connections or connection.invalidated:
            connection.close()
            reads.connection = None
        elif connection.in_transaction():
            connection.rollback()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", self.settings.database_url.replace("%", "%%"))
        return config

    def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        config = self.alembic_config()
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        connection = getattr(self._reads, "connection", None)
        if connection is not None:
            connection.close()
            self._reads.connection = None
        self.engine.dispose()
