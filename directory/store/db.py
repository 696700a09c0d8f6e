"""Database engine, sessions and migrations."""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from directory.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: the PostgreSQL advisory lock key a migration or geography load holds ("LFSM"; the
#: write lock's is "LFSD")
SETUP_LOCK_KEY = 0x4C46534D
#: a read connection idle for longer than this is pinged before use (as pool_pre_ping does)
PING_AFTER_IDLE_SECONDS = 1.0
#: read connections a forked process inherited: kept referenced, never used or closed
_INHERITED: list[Connection] = []


class Migrations:
    """The schema revisions this code has migrations for, oldest first, read from the
    migration files' names (``0027_….py`` is revision ``0027``; a test holds them to
    Alembic's own history), so that a worker can judge a database's schema without
    loading Alembic (10 MB it need not hold)."""

    def __init__(self, revisions: tuple[str, ...]) -> None:
        self.revisions = revisions

    @classmethod
    def of_this_code(cls) -> Migrations:
        names = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))
        return cls(tuple(name.split("_", 1)[0] for name in names))

    @property
    def head(self) -> str:
        return self.revisions[-1]

    def behind(self, revision: str | None) -> bool:
        """Whether a schema at ``revision`` lacks migrations this code needs. None (no
        tables) is not behind: it is a database not initialised, answered as such. A
        revision this code does not know is newer code's (migrated before this server was
        reloaded onto it, as a deploy does): it serves on."""
        return revision is not None and revision in self.revisions and revision != self.head

    def behind_message(self, revision: str | None) -> str:
        return (
            f"The database is at revision {revision}, this code needs {self.head}: "
            "run `directory migrate`."
        )


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # the triggers that keep the services' words index (migration 0022) write to an FTS5
    # table, which SQLite allows only with this on: its default, unless built otherwise
    cursor.execute("PRAGMA trusted_schema=ON")
    cursor.close()


def driver_error(connection: Connection, error: Exception, statement: str) -> DBAPIError:
    """A DB-API error raised on ``connection``'s raw cursor, as SQLAlchemy would have
    raised it (``OperationalError`` for a lost server, …); a lost connection is invalidated
    first, so that it is replaced rather than kept for the next request."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
    if lost:
        connection.invalidate(error)
    return DBAPIError.instance(
        statement, None, error, dialect.loaded_dbapi.Error, hide_parameters=True,
        connection_invalidated=lost, dialect=dialect,
    )  # fmt: skip


#: PostgreSQL's SQLSTATE for a write in a read-only transaction (a standby, or
#: default_transaction_read_only)
READ_ONLY_SQLSTATE = "25006"


def is_read_only(error: BaseException) -> bool:
    """Whether a driver error says the database takes no writes: SQLite's "attempt to write
    a readonly database" (a read-only file, directory or mount, or ``mode=ro``), or
    PostgreSQL's read-only transaction."""
    orig = getattr(error, "orig", error)
    if getattr(orig, "sqlstate", None) == READ_ONLY_SQLSTATE:
        return True
    return "readonly database" in str(orig).lower()


def is_not_initialised(error: BaseException) -> bool:
    """Whether a driver error says the schema is not there yet: SQLite's "no such table",
    PostgreSQL's 'relation "…" does not exist' (``directory init`` not run)."""
    text = str(getattr(error, "orig", error)).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


#: what a database that takes no writes is, in the words every refusal uses
READ_ONLY = (
    "The database takes no writes (it is read-only: a read-only file or mount, or a "
    "PostgreSQL standby)"
)


def sqlite_path(url: str) -> Path | None:
    """The file an SQLite URL names, plain or as a ``file:`` URI; None when it is not
    SQLite or is in memory."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or ":memory:" in name:
        return None
    if name.startswith("file:"):
        name = urlsplit(name).path
        if not name or parsed.query.get("mode") == "memory":
            return None
    return Path(name)


def sqlite_file(url: str) -> Path | None:
    """The file an SQLite URL names, if only :meth:`Database.migrate` may make it: None
    for a ``file:`` URI, whose ``mode`` says itself whether it may (see
    :func:`sqlite_path`)."""
    parsed = make_url(url)
    if (parsed.database or "").startswith("file:") or parsed.query.get("uri"):
        return None
    return sqlite_path(url)


def open_lock_file(path: Path, what: str) -> IO[bytes]:
    """The lock file ``path``, opened (made if need be) to be ``flock``ed; a folder or mount
    that takes no writes is the database's refusal (a read-only database, as SQLite's own
    words say), naming ``what`` could not be made."""
    try:
        return path.open("ab")
    except OSError as error:
        raise DBAPIError.instance(
            "lock", None, sqlite3.OperationalError(
                f"attempt to write a readonly database: {what} {path} cannot be made "
                f"({error.strerror})"
            ), sqlite3.Error,
        ) from None  # fmt: skip


def flock_holders(path: Path) -> list[int] | None:
    """The pids holding a ``flock`` of ``path`` now, read from the kernel's list of locks
    (``/proc/locks``, Linux), without taking the lock (a test lock would refuse a writer
    that tried at that moment); [] for a file not there, None where the list cannot be
    read."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return []
    inode = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    holders = []
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 4369 08:01:1234567 0 EOF" ("->" marks a waiter)
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == inode:
            holders.append(int(fields[4]))
    return holders


def absolute_sqlite_url(url: str) -> str:
    """``url`` with a relative SQLite file's path made absolute from the working directory
    (where SQLite would open it); any other URL, an in-memory database and a ``file:`` URI
    as given."""
    path = sqlite_file(url)
    if path is None or path.is_absolute():
        return url
    return make_url(url).set(database=os.path.abspath(path)).render_as_string(hide_password=False)


def no_file(path: Path) -> str:
    """Why an SQLite database that is not there cannot be used, and what to do."""
    return (
        f"there is no database file at {path}: run `directory init` to make one there, or "
        "set DIRECTORY_DATABASE_URL to the file you meant"
    )


class _FileGuard:
    """Listens to an SQLite engine's connecting: a file that is not there is refused until
    ``may_make`` (its own object, not the Database's method: an engine holding its
    Database would keep it from ever being collected)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.may_make = False

    def __call__(self, *_connecting: Any) -> None:
        if self.may_make:
            return
        try:
            there = self.path.exists()
        except OSError as error:  # (a folder on the way this user may not enter: EACCES)
            raise sqlite3.OperationalError(
                f"the database file {self.path} cannot be reached: {error.strerror}"
            ) from None
        if not there:
            raise sqlite3.OperationalError(no_file(self.path))


#: how long a PostgreSQL connection may take to be made (libpq's connect_timeout), unless
#: the URL or PGCONNECT_TIMEOUT says: a server that takes the connection and never answers
#: held every command and worker without one
CONNECT_SECONDS = 10


def _connect_args(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or "connect_timeout" in parsed.query:
        return {}
    return {} if os.environ.get("PGCONNECT_TIMEOUT") else {"connect_timeout": CONNECT_SECONDS}


class Database:
    """One engine and session factory for one settings object.

    An SQLite file is made only by :meth:`migrate` (``directory init``, ``migrate``):
    anything else opening a file that is not there is refused, naming it, rather than
    making an empty database where a mistyped ``DIRECTORY_DATABASE_URL`` points."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        url = settings.database_url
        self.engine: Engine = create_engine(
            url, pool_pre_ping=not settings.is_sqlite, connect_args=_connect_args(url)
        )
        self.file = sqlite_file(url)
        self._guard = _FileGuard(self.file) if self.file is not None else None
        if self._guard is not None:
            event.listen(self.engine, "do_connect", self._guard)
        if settings.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # an in-memory SQLite database is one connection shared by the thread's sessions:
        # it cannot also be held open in autocommit mode for reads
        self.keeps_read_connections = not (settings.is_sqlite and ":memory:" in url)
        self._held = threading.local()  # the connection this thread's request reads on
        #: kept read connections not in use, with when each was last used (newest last)
        self._idle: list[tuple[Connection, float]] = []
        self._pid = os.getpid()
        self._turn = threading.local()  # how deep this thread is in setup_turn()
        # one dropped without dispose() (a command's app, a test's) closes what it kept
        # when collected, rather than leaving its connections to the garbage collector
        weakref.finalize(self, _release, self.engine, self._idle, self._pid).atexit = False

    def read_connection(self) -> Connection:
        """The connection the current request reads on, the same for the whole request.

        Checking a pooled connection out and back in (SQLAlchemy's Connection, the pool's
        bookkeeping, the reset on return) costs more than the postcode lookup it serves,
        so read connections are kept open between requests, in autocommit mode: no
        transaction or snapshot is held between statements, so every read sees what
        imports have committed. A kept connection idle for over a second is pinged before
        use (as ``pool_pre_ping`` would), one an error invalidated is replaced, and none is
        used across a fork. Any thread may take one (a server may start a thread per
        request); as many are kept as requests ran at once. Call :meth:`end_reads` when
        the request ends."""
        held = self._held
        connection: Connection | None = getattr(held, "connection", None)
        if connection is not None:
            return connection
        if not self.keeps_read_connections:
            connection = held.connection = self.engine.connect()
            return connection
        if self._pid != os.getpid():
            # inherited across a fork: the parent's; closing them, or letting them be
            # garbage-collected (which resets them), would talk on the parent's sockets
            _INHERITED.extend(c for c, _ in self._idle)
            self._idle.clear()  # (the same list: the finalizer's)
            self._pid = os.getpid()
        while connection is None:
            try:
                connection, used = self._idle.pop()
            except IndexError:
                connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                break
            if connection.invalidated or connection.closed:
                connection.close()
                connection = None
            elif time.monotonic() - used > PING_AFTER_IDLE_SECONDS and not self._alive(connection):
                connection = None
        held.connection = connection
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
        """End the request's reads: roll back what an error left open and keep the
        connection for the next request, or drop it if an error invalidated it (without
        kept connections, give it back to the pool)."""
        held = self._held
        connection: Connection | None = getattr(held, "connection", None)
        if connection is None:
            return
        held.connection = None
        if not self.keeps_read_connections or connection.invalidated or connection.closed:
            connection.close()
            return
        if connection.in_transaction():
            try:
                connection.rollback()
            except DBAPIError:  # the server went away: drop the connection, not the request
                connection.invalidate()
                connection.close()
                return
        self._idle.append((connection, time.monotonic()))

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A connection of its own whose reads all see one snapshot (PostgreSQL: REPEATABLE
        READ; SQLite: one read transaction), for what a thread reads apart from requests
        (the directory index, the box arrays, the funding facts, the HSDS id index)."""
        with self.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield connection

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def refresh_statistics(self, tables: Iterable[str]) -> None:
        """Bring the query planner's statistics up to date after a big write (an import): a
        PostgreSQL that has not analysed a freshly filled table plans a whole-London bbox as
        a nested loop over 70,000 sites (700 ms at 100,000 services, 140 ms analysed).
        PostgreSQL analyses ``tables``, the ones the write filled: a whole-database ANALYZE
        sampled the geography's 190,000 rows too, which only `directory init` writes (341-428
        ms of every import on the demo directory against 21-28 ms: scripts/bench_analyze.py).
        SQLite's ``PRAGMA optimize`` analyses what needs it."""
        statement = "PRAGMA optimize"
        if self.engine.dialect.name == "postgresql":
            statement = "ANALYZE " + ", ".join(f'"{table}"' for table in tables)
        with self.engine.begin() as connection:
            connection.exec_driver_sql(statement)

    def alembic_config(self) -> Config:
        from alembic.config import Config  # here: a worker never migrates (10 MB it need not hold)

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", self.settings.database_url.replace("%", "%%"))
        return config

    @contextmanager
    def setup_turn(
        self, waiting: Callable[[str], None] | None = None, *, making: bool = False
    ) -> Iterator[None]:
        """Hold this database's setup lock: one migration or geography load at a time, so
        that two `directory init` at once (two servers deployed together, a deploy script
        beside a terminal) run one after the other and the second finds the first's schema
        and geography. Without it, on PostgreSQL the second failed on the first's rows
        ("duplicate key value violates unique constraint"); on SQLite, whose driver runs
        DDL outside a transaction, with "table area already exists", or it loaded the
        geography a second time.

        PostgreSQL: a session advisory lock on a connection of its own; SQLite: an
        exclusive ``flock`` of ``<database file>.init.lock``, beside the file as the write
        lock's is: it belongs to the database (servers with instance folders of their own
        may share one file), and that folder must be writable for SQLite's WAL anyway.
        Either is let go by the server or the kernel the moment its holder dies. An
        in-memory database is one process's: it needs none. ``waiting`` is told which
        lock, when another holds it, before this waits for it. The lock is re-entrant in
        a thread (``init`` holds it over :meth:`migrate` and the load, which take it too).
        ``making``: the SQLite file may be made (migrating); else one that is not there is
        refused before a lock file is made beside it."""
        if making:
            self._may_make()
        depth = getattr(self._turn, "depth", 0)
        if not depth:
            with self._setup_lock(waiting):
                self._turn.depth = 1
                try:
                    yield
                finally:
                    self._turn.depth = 0
            return
        self._turn.depth = depth + 1
        try:
            yield
        finally:
            self._turn.depth = depth

    @contextmanager
    def _setup_lock(self, waiting: Callable[[str], None] | None) -> Iterator[None]:
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as held:
                # idle while the migration and the load work on others: a server-side idle
                # timeout must not end it (and the lock with it)
                held.exec_driver_sql("SET idle_session_timeout = 0")
                taken = held.exec_driver_sql(f"SELECT pg_try_advisory_lock({SETUP_LOCK_KEY})")
                if not taken.scalar():
                    if waiting is not None:
                        waiting(f"the PostgreSQL advisory lock {SETUP_LOCK_KEY}")
                    held.exec_driver_sql(f"SELECT pg_advisory_lock({SETUP_LOCK_KEY})")
                try:
                    yield
                finally:
                    try:
                        held.exec_driver_sql(f"SELECT pg_advisory_unlock({SETUP_LOCK_KEY})")
                    except DBAPIError:  # not back in the pool holding it (a lost server has
                        held.invalidate()  # let go of it with the session)
            return
        path = sqlite_path(self.settings.database_url)
        if path is None:
            yield
            return
        if self._guard is None or not self._guard.may_make:
            with self.engine.connect():  # one not there is refused, naming it
                pass
        lock = Path(f"{path}.init.lock")
        with open_lock_file(lock, "the init lock") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if waiting is not None:
                    waiting(f"the lock file {lock}")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _may_make(self) -> None:
        """Let this Database make its SQLite file, and the file's folder now."""
        if self._guard is None:
            return
        folder = self._guard.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # a file where the database's folder should be
            raise NotADirectoryError(
                errno.ENOTDIR, "The database's folder is a file", str(folder)
            ) from None
        self._guard.may_make = True

    def migrate(self) -> None:
        """Bring the schema to the newest migration (making an SQLite file, and its
        folder, if there is none), in this database's setup turn (see :meth:`setup_turn`:
        the second of two at once waits, then finds the schema at head)."""
        from alembic import command

        config = self.alembic_config()
        with self.setup_turn(making=True), self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def schema_revision(self) -> str | None:
        """The migration the schema is at (None before the first one)."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def dispose(self) -> None:
        self.end_reads()
        _release(self.engine, self._idle, os.getpid())


def _release(engine: Engine, idle: list[tuple[Connection, float]], pid: int) -> None:
    """Close a Database's kept read connections and its pool's, in the process that opened
    them (a forked child's inherited ones are the parent's: left alone)."""
    if os.getpid() != pid:
        return
    kept = list(idle)
    idle.clear()
    for connection, _ in kept:
        connection.close()
    engine.dispose()


#: rows fetched at a time by :func:`streamed`
STREAM_BATCH = 2_000


def streamed(db: Any, statement: Any, batch: int = STREAM_BATCH) -> Iterator[Any]:
    """The rows of ``statement``, fetched a batch at a time as they are iterated: on a
    connection in a transaction (PostgreSQL's server-side cursors need one; a background
    build's snapshot is one) from a server-side cursor, so neither libpq nor Python holds
    them all, and no single fetch turns 100,000 rows into Python objects with the
    interpreter lock held throughout (while requests wait); else row by row from a
    client-side cursor (a request's connection, which commits each statement)."""
    if isinstance(db, Connection) and (
        not db.in_transaction()
        or db.get_execution_options().get("isolation_level") == "AUTOCOMMIT"  # a request's
    ):
        yield from db.execute(statement)
        return
    yield from db.execute(statement.execution_options(yield_per=batch))
