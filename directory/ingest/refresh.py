"""``directory refresh``: run every source of a sources file, in order, under a lock.

The sources file is TOML::

    [[source]]
    name = "mopac-services"            # the source's name (owns the records it creates)
    path = "data/services.xlsx"        # or: url = "https://…"; a relative path is relative
    format = "template"                # template | 360giving | hsds (optional: detected)
    mode = "full"                      # full (withdraw what it stops listing) | incremental

Each source is imported in its own transaction, so a failed source leaves the directory
as it was and the others still run; the command exits non-zero if any failed.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from directory.ingest.apply import ImportReport, now
from directory.ingest.run import FORMATS, MODES, SourceError, run_import
from directory.progress import QUIET, Progress
from directory.settings import Settings
from directory.store.db import Database, flock_holders, open_lock_file, sqlite_path
from directory.store.repositories.directory import DirectoryRepository
from directory.usecases.geography import GeographySnapshot

LOCK_NAME = "directory-write"  # held by refresh, import and demo load
log = logging.getLogger(__name__)


class RefreshError(Exception):
    """The sources file is wrong, or another refresh holds the lock."""


class LockHeldError(RefreshError):
    """Another import or refresh holds the write lock: ``holder`` says who."""

    def __init__(self, message: str, holder: LockHolder) -> None:
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True)
class Source:
    name: str
    location: str
    format: str | None
    mode: str
    #: as ``directory import --take-over`` and ``--allow-withdrawals``
    take_over: bool = False
    allow_withdrawals: bool = False


#: the keys a [[source]] table may have; the last two true or false
_SOURCE_KEYS = {"name", "path", "url", "format", "mode", "take_over", "allow_withdrawals"}


def read_sources(path: Path) -> list[Source]:
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise RefreshError(f"The sources file {path} does not exist.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RefreshError(f"The sources file {path} is not valid TOML: {error}") from None
    entries = data.get("source")
    if not isinstance(entries, list) or not entries:
        raise RefreshError(f"{path} lists no [[source]] tables.")
    sources: list[Source] = []
    for number, entry in enumerate(entries, 1):
        where = f"{path}, source {number}"
        if not isinstance(entry, dict):
            raise RefreshError(f"{where}: not a table.")
        unknown = set(entry) - _SOURCE_KEYS
        if unknown:
            raise RefreshError(f"{where}: unknown keys {', '.join(sorted(unknown))}.")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RefreshError(f"{where}: needs a name.")
        if ("path" in entry) == ("url" in entry):
            raise RefreshError(f"{where} ({name}): give exactly one of path or url.")
        location = entry.get("path") or entry.get("url")
        if not isinstance(location, str):
            raise RefreshError(f"{where} ({name}): path/url must be text.")
        fmt = entry.get("format")
        if fmt is not None and fmt not in FORMATS:
            raise RefreshError(f"{where} ({name}): format must be one of {', '.join(FORMATS)}.")
        mode = entry.get("mode", "incremental")
        if mode not in MODES:
            raise RefreshError(f"{where} ({name}): mode must be one of {', '.join(MODES)}.")
        for flag in ("take_over", "allow_withdrawals"):
            if not isinstance(entry.get(flag, False), bool):
                raise RefreshError(f"{where} ({name}): {flag} must be true or false.")
        if any(s.name == name for s in sources):
            raise RefreshError(f"{where}: the name {name!r} is used twice.")
        sources.append(Source(
            name.strip(), location, fmt, mode, take_over=entry.get("take_over", False),
            allow_withdrawals=entry.get("allow_withdrawals", False),
        ))  # fmt: skip
    return sources


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


#: the PostgreSQL advisory lock key of the write lock ("LFSD", the project's initials)
ADVISORY_KEY = 0x4C465344


class _Held:
    """What holds the write lock until :meth:`release`: on PostgreSQL a session advisory lock
    on a connection of its own, on SQLite an exclusive ``flock`` of a file beside the
    database. Either is let go by the database server or the kernel the moment its holder
    dies (``kill -9``, a crashed container, a lost host), so no lock outlives its writer.
    (A SQLite file is only ever shared by processes on one kernel: WAL mode needs shared
    memory, so a lease with a heartbeat would add expiry waits and nothing else.)"""

    def __init__(self, db: Database, *, wait: bool = False) -> None:
        self.connection: Connection | None = None
        self.file: IO[bytes] | None = None
        self.held = True
        url = db.engine.url
        if url.get_backend_name() == "postgresql":
            connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            # the connection sits idle while the import works on another: a server-side idle
            # timeout must not end it (and the lock with it). Behind PgBouncer, session mode.
            connection.exec_driver_sql("SET idle_session_timeout = 0")
            try:
                if wait:
                    connection.exec_driver_sql(f"SELECT pg_advisory_lock({ADVISORY_KEY})")
                    taken = True
                else:
                    taken = connection.exec_driver_sql(
                        f"SELECT pg_try_advisory_lock({ADVISORY_KEY})"
                    ).scalar()
            except BaseException:
                connection.close()
                raise
            if taken:
                self.connection = connection
            else:
                connection.close()
                self.held = False
        elif (
            path := sqlite_path(db.settings.database_url)
        ) is not None:  # (in memory: one process only)
            with db.engine.connect():  # one not there is refused before a lock is made beside it
                pass
            handle = open_lock_file(Path(f"{path}.lock"), "the write lock")  # held until release
            try:
                fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.file = handle
            except BlockingIOError:
                handle.close()
                self.held = False
            except BaseException:  # (waiting, interrupted)
                handle.close()
                raise

    def release(self) -> None:
        if self.connection is not None:
            # a server that went away let go of the lock with the session
            with suppress(DBAPIError):
                self.connection.exec_driver_sql(f"SELECT pg_advisory_unlock({ADVISORY_KEY})")
            self.connection.close()
            self.connection = None
        if self.file is not None:
            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()
            self.file = None


def lock_name(db: Database) -> str:
    """The write lock in words, as a waiting command names it."""
    path = sqlite_path(db.settings.database_url)
    if db.engine.url.get_backend_name() == "postgresql" or path is None:
        return f"the PostgreSQL advisory lock {ADVISORY_KEY}"
    return f"the lock file {path}.lock"


@dataclass(frozen=True)
class LockHolder:
    """Who the ``lock`` table names as the writer (``name``, ``since``; None without a
    row) and whether the write lock is held now (``held``; None where that cannot be
    read). The row is for people and the database's (or kernel's) lock decides: a writer
    killed with ``kill -9`` leaves its row until the next writer replaces it, while its
    lock went with it, so a row alone may name a writer long gone."""

    name: str | None
    since: datetime | None
    held: bool | None

    @property
    def gone(self) -> bool:
        """The row names a writer whose lock is no longer held: it is not running."""
        return self.name is not None and self.held is False

    def describe(self) -> str:
        since = f", since {self.since:%Y-%m-%d %H:%M} UTC" if self.since is not None else ""
        if self.held is False:
            if self.name is None:
                return "The write lock is free."
            return (
                f"The write lock is free: the lock table still names {self.name}{since}, a "
                "writer that ended without clearing its row (killed): it is not running, and "
                "the next writer replaces the row."
            )
        state = "held now" if self.held else "whether it is held now cannot be read here"
        if self.name is None:
            return f"The write lock is {state}, by a writer starting (no row yet)."
        return f"The write lock is {state}, by {self.name}{since}."

    def to_dict(self) -> dict[str, Any]:
        return {"holder": self.name, "since": self.since, "held": self.held, "gone": self.gone}


def lock_holder(db: Database) -> LockHolder:
    """Who the ``lock`` table names, and whether the write lock is held now: on
    PostgreSQL whether a session holds its advisory lock (``pg_locks``); on SQLite
    whether a process holds a ``flock`` of the lock file (the kernel's list of locks),
    and, the file being one host's, whether that process is the one the row names."""
    with db.session() as session:
        repo = DirectoryRepository(session)
        row = repo.lock_row(LOCK_NAME)
        if db.engine.dialect.name == "postgresql":
            held: bool | None = repo.advisory_lock_held(ADVISORY_KEY)
    name, since = (row.holder, row.acquired_at) if row is not None else (None, None)
    if db.engine.dialect.name != "postgresql":
        path = sqlite_path(db.settings.database_url)
        pids = flock_holders(Path(f"{path}.lock")) if path is not None else []
        held = None if pids is None else bool(pids)
        host, _, pid = (name or "").rpartition(":")
        if pids and host == socket.gethostname() and pid.isdigit() and int(pid) not in pids:
            name, since = None, None  # (the row is a dead writer's; the holder is starting)
    return LockHolder(name, since, held)


def _named(who: LockHolder) -> str:
    if who.name is None:
        return "starting"
    return f"{who.name}, since {who.since:%Y-%m-%d %H:%M} UTC"


def acquire(db: Database, holder: str, *, waiting: Callable[[str], None] | None = None) -> _Held:
    """Take the write lock, or raise LockHeldError naming who has it; with ``waiting``, wait
    for it instead, telling ``waiting`` first which lock and who has it (a geography load
    waits: see :func:`geography_turn`). The ``lock`` row says who holds it and since when
    (for people); the database's own lock decides (a row a killed writer left behind is
    simply replaced)."""
    lock = _Held(db)
    if not lock.held:
        who = lock_holder(db)
        if waiting is None:
            raise LockHeldError(
                f"Another import or refresh is running ({_named(who)}); not starting a second one.",
                LockHolder(who.name, who.since, True),  # (it was just found held)
            )
        waiting(f"{lock_name(db)} ({_named(who)})")
        lock = _Held(db, wait=True)
    try:
        with db.session() as session:
            repo = DirectoryRepository(session)
            repo.release_lock(LOCK_NAME)  # one a killed writer left: its lock went with it
            repo.acquire_lock(LOCK_NAME, holder, now())
    except BaseException:
        lock.release()
        raise
    return lock


def release(db: Database, holder: str, lock: _Held) -> None:
    try:
        with db.session() as session:
            DirectoryRepository(session).release_lock(LOCK_NAME, holder)
    finally:
        lock.release()


@contextmanager
def write_lock(
    db: Database, holder: str | None = None, *, waiting: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the directory's write lock (refuse with RefreshError if another writer has it;
    with ``waiting``, wait for it: see :func:`acquire`)."""
    holder = holder or holder_id()
    lock = acquire(db, holder, waiting=waiting)
    try:
        yield
    finally:
        release(db, holder, lock)


#: what a geography load is called in the ``lock`` row, after its host and process
LOADING = "loading the geography"


@contextmanager
def geography_turn(
    db: Database, *, waiting_setup: Callable[[str], None] | None = None,
    waiting_write: Callable[[str], None] | None = None, refuse: bool = False,
) -> Iterator[None]:  # fmt: skip
    """Hold what a geography load (``directory init``, ``geodata load``, ``geodata
    refresh``) needs, in the one order every command takes them: first the database's
    setup turn (:meth:`Database.setup_turn`, which migrations take too), then the write
    lock (which imports, API writes, ``refresh`` and ``demo load`` take).

    The load places every site again by the new geography (``place_sites``): without
    the write lock an import running meanwhile placed its sites by the geography it had
    read, and they kept the old one's areas once both committed, or the load placed
    sites an import had half written. Holding both, an import started during a load is
    refused (an API write waits a few seconds first, as for any writer) and a load
    started during an import waits for it.

    The order cannot deadlock: nothing that holds the write lock ever waits for the
    setup turn (imports and writes never take it; a geography load takes it before the
    write lock, and a migration takes no write lock). ``waiting_setup`` and
    ``waiting_write`` are told which lock (and for the write lock, who has it) before
    this waits for it; ``refuse``: another writer holding the write lock is a
    :class:`LockHeldError` rather than waited for (``geodata refresh``, which refuses
    when an import runs, as ``refresh`` does)."""
    with (
        db.setup_turn(waiting_setup),
        write_lock(
            db, f"{holder_id()} {LOADING}", waiting=None if refuse else (waiting_write or _quietly)
        ),
    ):
        yield


def _quietly(_lock: str) -> None:
    """A waiting that says nothing (the write lock is waited for, not refused)."""


def refresh(
    db: Database,
    snap: GeographySnapshot,
    settings: Settings,
    sources_file: Path,
    *,
    dry_run: bool = False,
    on_report: Callable[[Source, ImportReport | None, str | None], None] | None = None,
    progress: Progress = QUIET,
) -> list[tuple[Source, ImportReport | None, str | None]]:
    """Run every source in order; return (source, report or None, fetch error or None).
    ``progress`` is told each source's steps (see :func:`run_import`)."""
    sources = read_sources(sources_file)
    holder = holder_id()
    lock = acquire(db, holder)
    results: list[tuple[Source, ImportReport | None, str | None]] = []
    try:
        for source in sources:
            try:
                report = run_import(
                    db, snap, settings, source.location, fmt=source.format, source=source.name,
                    mode=source.mode, dry_run=dry_run, take_over=source.take_over,
                    allow_withdrawals=source.allow_withdrawals, base_dir=sources_file.parent,
                    progress=progress,
                )  # fmt: skip
                result: tuple[Source, ImportReport | None, str | None] = (source, report, None)
            except SourceError as error:
                result = (source, None, str(error))
            except Exception as error:  # one broken source must not stop the others
                log.exception("source %s failed", source.name)
                result = (source, None, f"unexpected {type(error).__name__}: {error}"[:500])
            results.append(result)
            if on_report is not None:
                on_report(*result)
    finally:
        release(db, holder, lock)
    return results
