"""Importing the need figures: Met Police borough crime counts (``mps-crime``) and ONS
population estimates (``population``), all or nothing, recorded as an import run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from directory.ingest.apply import (
    ImportOptions,
    ImportReport,
    elapsed,
    finish_row,
    now,
    record_failure,
    refresh_statistics,
    run_row,
)
from directory.ingest.crime import CrimeBatch, looks_like_mps_crime, read_mps_crime
from directory.ingest.population import PopulationBatch, looks_like_population, read_population
from directory.ingest.readers import ReadError, read_table
from directory.ingest.records import Problem
from directory.progress import QUIET, Progress
from directory.store.db import Database
from directory.store.models import AreaPopulation, CrimeCount, DataRelease, ImportRun
from directory.store.repositories.directory import DirectoryRepository
from directory.store.repositories.funding import NeedRepository
from directory.usecases.geography import GeographySnapshot

#: the import formats of the need figures (``directory import --format``)
NEED_FORMATS = ("mps-crime", "population")
#: what an import of figures writes besides them, analysed with them on PostgreSQL
NEED_RUN_TABLES = (ImportRun.__tablename__, DataRelease.__tablename__)


def detect_need_format(keys: list[str]) -> str | None:
    """``mps-crime`` or ``population`` for a table with their columns, else None."""
    if looks_like_mps_crime(keys):
        return "mps-crime"
    if looks_like_population(keys):
        return "population"
    return None


def import_need(
    db: Database,
    snap: GeographySnapshot,
    data: bytes,
    name: str,
    options: ImportOptions,
    *,
    progress: Progress = QUIET,
    clock: datetime | None = None,
) -> ImportReport:
    """Read an MPS crime or population file and write it all or nothing, recorded as an
    import run with a data release (so ETags and caches move). A crime file replaces the
    months it covers; a population file the (area, reference date) pairs it lists. The same
    file again changes nothing (``unchanged``, no new release). ``progress`` is told the
    comparison and the writing (its rows); the reading belongs to the caller's step."""
    started = now()
    clock = clock or datetime.now()  # (when the import began, its reading included)
    batch: CrimeBatch | PopulationBatch
    try:
        table = read_table(data, name=name)
    except ReadError as error:
        return record_failure(db, options, started, clock, [Problem(str(error))], {})
    batch = (
        read_mps_crime(table, snap)
        if options.format == "mps-crime"
        else read_population(table, snap)
    )
    problems = list(batch.problems)
    if batch.errors:
        return record_failure(db, options, started, clock, problems, {})
    what = "crime counts" if isinstance(batch, CrimeBatch) else "populations"
    with db.session() as session:
        progress.step(f"{options.source}: comparing {what} with the database")
        repo = NeedRepository(session)
        if isinstance(batch, CrimeBatch):
            counts, write = _plan_crime(repo, batch)
        else:
            counts, write = _plan_population(repo, batch)
        changed = any(counts.get(key) for key in ("created", "updated", "deleted"))
        report_counts = {"crime_counts" if isinstance(batch, CrimeBatch) else "populations": counts}
        if options.dry_run:
            session.rollback()
            return ImportReport("dry-run", None, report_counts, problems, 0, elapsed(clock))
        directory = DirectoryRepository(session)
        run_id = directory.add_run(run_row(options, started))
        status = "unchanged"
        if changed:
            rows = sum(counts.get(key, 0) for key in ("created", "updated", "unchanged"))
            progress.step(f"{options.source}: writing {what}", total=rows)
            write(run_id)
            progress.advance(rows)
            status = "succeeded"
            directory.add_data_release(
                label=f"import #{run_id} ({options.source}, {options.format})",
                checksum=options.checksum,
                details={
                    "source": options.source,
                    "format": options.format,
                    "counts": report_counts,
                },
                at=started,
            )
        directory.finish_run(run_id, finish_row(status, report_counts, problems))
    if changed:  # committed: the planner's statistics are a help, not part of the import
        figures = CrimeCount if isinstance(batch, CrimeBatch) else AreaPopulation
        refresh_statistics(db, options, (figures.__tablename__, *NEED_RUN_TABLES))
    return ImportReport(status, run_id, report_counts, problems, 0, elapsed(clock))


def _plan_crime(
    repo: NeedRepository, batch: CrimeBatch
) -> tuple[dict[str, int], Callable[[int], None]]:
    existing = repo.crime_counts(batch.months)
    new = {(r.area_code, r.month, r.major_category, r.minor_category): r.count for r in batch.rows}
    counts = {
        "created": sum(1 for k in new if k not in existing),
        "updated": sum(1 for k, v in new.items() if k in existing and existing[k] != v),
        "unchanged": sum(1 for k, v in new.items() if existing.get(k) == v),
        "deleted": sum(1 for k in existing if k not in new),
        "skipped": batch.skipped_rows,
        "months": len(batch.months),
        "boroughs": len({r.area_code for r in batch.rows}),
    }

    def write(run_id: int) -> None:
        rows = [
            {"area_code": k[0], "month": k[1], "major_category": k[2], "minor_category": k[3],
             "count": v, "import_run_id": run_id}
            for k, v in new.items()
        ]  # fmt: skip
        repo.replace_crime_months(batch.months, rows)

    return counts, write


def _plan_population(
    repo: NeedRepository, batch: PopulationBatch
) -> tuple[dict[str, int], Callable[[int], None]]:
    keys = [(r.area_code, r.reference_date) for r in batch.rows]
    existing = repo.populations(sorted({k[1] for k in keys}))
    fields = ("all_ages", "aged_0_9", "aged_10_17", "aged_18_24", "aged_10_24", "source")
    new = {(r.area_code, r.reference_date): {f: getattr(r, f) for f in fields} for r in batch.rows}

    def same(key: tuple[str, date]) -> bool:
        old = existing.get(key)
        return old is not None and all(old[f] == new[key][f] for f in fields)

    counts = {
        "created": sum(1 for k in new if k not in existing),
        "updated": sum(1 for k in new if k in existing and not same(k)),
        "unchanged": sum(1 for k in new if same(k)),
    }

    def write(run_id: int) -> None:
        rows = [{"area_code": k[0], "reference_date": k[1], **v, "import_run_id": run_id}
                for k, v in new.items()]  # fmt: skip
        repo.replace_populations(keys, rows)

    return counts, write
