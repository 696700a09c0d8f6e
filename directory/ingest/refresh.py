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

import logging
import os
import socket
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from directory.ingest.apply import ImportReport, now
from directory.ingest.run import FORMATS, MODES, SourceError, run_import
from directory.progress import QUIET, Progress
from directory.settings import Settings
from directory.store.db import Database
from directory.store.repositories.directory import DirectoryRepository
from directory.usecases.geography import GeographySnapshot

LOCK_NAME = "directory-write"  # held by refresh, import and demo load
log = logging.getLogger(__name__)


class RefreshError(Exception):
    """The sources file is wrong, or another refresh holds the lock."""


@dataclass(frozen=True)
class Source:
    name: str
    location: str
    format: str | None
    mode: str


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
        unknown = set(entry) - {"name", "path", "url", "format", "mode"}
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
        if any(s.name == name for s in sources):
            raise RefreshError(f"{where}: the name {name!r} is used twice.")
        sources.append(Source(name.strip(), location, fmt, mode))
    return sources


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _holder_is_dead(holder: str) -> bool:
    """A lock left by a process on this host that no longer exists can be taken over."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def acquire(db: Database, holder: str) -> None:
    with db.session() as session:
        repo = DirectoryRepository(session)
        held = repo.acquire_lock(LOCK_NAME, holder, now())
        if held is None:
            return
        if _holder_is_dead(held.holder):
            repo.release_lock(LOCK_NAME, held.holder)
            if repo.acquire_lock(LOCK_NAME, holder, now()) is None:
                return
    raise RefreshError(
        f"Another import or refresh is running ({held.holder}, since {held.acquired_at:%Y-%m-%d %H:%M} UTC); "
        "not starting a second one."
    )


def release(db: Database, holder: str) -> None:
    with db.session() as session:
        DirectoryRepository(session).release_lock(LOCK_NAME, holder)


@contextmanager
def write_lock(db: Database) -> Iterator[None]:
    """Hold the directory's write lock (refuse with RefreshError if another writer has it)."""
    holder = holder_id()
    acquire(db, holder)
    try:
        yield
    finally:
        release(db, holder)


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
    acquire(db, holder)
    results: list[tuple[Source, ImportReport | None, str | None]] = []
    try:
        for source in sources:
            try:
                report = run_import(
                    db, snap, settings, source.location, fmt=source.format, source=source.name,
                    mode=source.mode, dry_run=dry_run, base_dir=sources_file.parent,
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
        release(db, holder)
    return results
