"""An import uploaded over the API (``POST /api/v1/imports``): the file goes through the
pipeline ``directory import`` runs, under the same write lock and all or nothing, and the
run records who asked for it (the API key's name)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from directory.errors import (
    DatabaseReadOnlyError,
    DatabaseUnavailableError,
    ImportFailedError,
    ImportTooLongError,
    InsufficientStorageError,
    InvalidInputError,
    UnsupportedFileTypeError,
    WriteLockedError,
)
from directory.ingest.apply import WriteRefused, now
from directory.ingest.refresh import LockHeldError, write_lock
from directory.ingest.run import (
    ScratchFullError,
    SourceError,
    detect_format,
    import_data,
    public_location,
    record_refused,
    source_name,
)
from directory.progress import Deadline, OutOfTime
from directory.settings import Settings
from directory.store.db import Database
from directory.store.repositories.directory import CatalogueQueries
from directory.usecases.catalogue import import_detail
from directory.usecases.geography import GeographyCache
from directory.usecases.keys import Principal

#: the kinds of file the importer reads, by name: the template (CSV/XLSX), 360Giving (JSON,
#: or its flat CSV/XLSX), HSDS JSON, and the need figures (CSV)
SUFFIXES = (".csv", ".xlsx", ".json")
#: problems sent back with a refused file (all of them are on its run, /imports/{id})
MAX_PROBLEMS = 500


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str
    format: str | None = None
    source: str | None = None
    mode: str = "incremental"
    dry_run: bool = False
    take_over: bool = False
    allow_withdrawals: bool = False


def import_upload(
    db: Database,
    settings: Settings,
    geography: GeographyCache,
    upload: Upload,
    principal: Principal,
) -> dict[str, Any]:
    """Import the uploaded file; returns the run as ``GET /api/v1/imports/{id}`` shows it
    (for a dry run, what the run would be, with no id). Raises UnsupportedFileTypeError
    (415), ImportFailedError (422: nothing written, the problems and the failed run's id),
    WriteLockedError (409: another writer holds the lock; recorded as a refused run unless
    a dry run), ImportTooLongError (413: it ran past ``upload_seconds``; nothing written).
    Its areas are checked and its sites placed by the geography the database holds once
    the lock is taken (:meth:`GeographyCache.current`), not by this worker's snapshot."""
    name = Path(upload.filename.replace("\\", "/")).name
    if Path(name).suffix.lower() not in SUFFIXES:
        raise UnsupportedFileTypeError(
            f"{name or 'The file'} is not a file the importer reads: send a .csv, .xlsx or "
            ".json file (the directory template, 360Giving, or Open Referral HSDS JSON).",
            accepted=list(SUFFIXES),
        )
    started = now()
    try:
        with write_lock(db):
            snap = geography.current_of(db)  # (as an API write: writes._current)
            report = import_data(
                db, snap, settings, upload.data, name, fmt=upload.format, source=upload.source,
                mode=upload.mode, dry_run=upload.dry_run, take_over=upload.take_over,
                allow_withdrawals=upload.allow_withdrawals, actor=principal.name,
                progress=Deadline(settings.upload_seconds),
            )  # fmt: skip
    except OutOfTime:  # the transaction rolled back as the error left it: nothing written
        raise ImportTooLongError(
            f"Importing {name} ran past the {settings.upload_seconds:g} s an upload may take "
            "(DIRECTORY_UPLOAD_SECONDS), so it was stopped and nothing was written. Import "
            f"it on the server with `directory import {name}`, which has no time limit, or "
            "split it into smaller files."
        ) from None
    except LockHeldError as error:
        if upload.dry_run:
            raise WriteLockedError(str(error)) from None
        run_id = record_refused(
            db, name, fmt=upload.format, source=upload.source, mode=upload.mode,
            reason=str(error), actor=principal.name,
        )  # fmt: skip
        raise WriteLockedError(
            f"{error} (recorded as import run #{run_id})", import_run=run_id
        ) from None
    except SourceError as error:
        raise InvalidInputError(str(error), errors={"source": [str(error)]}) from None
    except WriteRefused as error:
        refused = DatabaseReadOnlyError if error.read_only else DatabaseUnavailableError
        raise refused(str(error)) from None
    except ScratchFullError as error:
        raise InsufficientStorageError(str(error)) from None
    finally:
        geography.expire()
    if report.status == "failed":
        errors = sum(1 for p in report.problems if p.severity == "error")
        recorded = "a dry run" if report.run_id is None else f"import run #{report.run_id}"
        raise ImportFailedError(
            f"{name}: {errors} error{'s' if errors != 1 else ''}; nothing was written "
            f"({recorded}). An import with any error changes nothing.",
            import_run=report.run_id,
            problems=[p.to_dict() for p in report.problems[:MAX_PROBLEMS]],
        )
    if report.run_id is not None:
        with db.engine.connect() as connection:
            return import_detail(CatalogueQueries(connection), report.run_id)
    fmt = upload.format or detect_format(upload.data, name)
    return {
        "id": None,
        "source": source_name(name, upload.source, fmt),
        "format": fmt,
        "location": public_location(name),
        "mode": upload.mode,
        "checksum": hashlib.sha256(upload.data).hexdigest(),
        "status": report.status,
        "started_at": started.isoformat() + "Z",
        "finished_at": None,
        "counts": report.counts,
        "records": report.records,
        "errors": sum(1 for p in report.problems if p.severity == "error"),
        "warnings": sum(1 for p in report.problems if p.severity == "warning"),
        "actor": principal.name,
        "problems": [p.to_dict() for p in report.problems[:MAX_PROBLEMS]],
        "problems_truncated": len(report.problems) > MAX_PROBLEMS,
    }
