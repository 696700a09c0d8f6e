"""Write a batch of records into the directory: all or nothing, with a change event for every
create, update, withdrawal and restoration, and a record of the run.

The plan is computed by comparing "state" dicts: the repository reads the directory into the
same shape ``_service_state`` & co. build from records, so a re-import of the same file finds
nothing to do. Upserts are by each record's stable ``ref``. In ``full`` mode a source's
services and grants that it no longer lists are withdrawn (``withdrawn_at``), never deleted.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError

from directory.data.community_safety import classify
from directory.errors import OutsideCoverageError
from directory.ingest import context as taxonomy
from directory.ingest import opportunities, opportunity_sheet
from directory.ingest.context import GeographyContext
from directory.ingest.records import (
    OTHER_SITES,
    SITE_ADDRESS,
    SITE_NAME,
    SITE_POSTCODE,
    SITE_REF,
    SITES,
    Batch,
    GrantRecord,
    LocationRecord,
    OrganisationRecord,
    Problem,
    ServiceRecord,
    Spool,
    published,
)
from directory.ingest.regrants import loop_message, loops
from directory.ingest.values import financial_year_of, loose_key
from directory.progress import QUIET, Progress
from directory.settings import Settings
from directory.store.db import Database, is_read_only
from directory.store.models import (
    ChangeArea,
    ChangeEvent,
    DataRelease,
    Grant,
    GrantArea,
    GrantService,
    ImportRun,
    Location,
    Opportunity,
    OpportunityArea,
    OpportunityTheme,
    Organisation,
    Outcome,
    PatchContact,
    Programme,
    Service,
    ServiceArea,
    ServiceTheme,
    Theme,
)
from directory.store.repositories.directory import (
    GRANT_FIELDS,
    LOCATION_FIELDS,
    ORGANISATION_FIELDS,
    SERVICE_FIELDS,
    SITE_STATE_FIELDS,
    DirectoryRepository,
    Held,
    service_areas,
)
from directory.store.repositories.geography import GeographyRepository
from directory.store.repositories.opportunities import OpportunityRepository
from directory.store.words import indexed
from directory.usecases.geography import GeographySnapshot
from directory.usecases.placing import place_site

log = logging.getLogger(__name__)
T = TypeVar("T")
#: the problems an import run keeps (every one of any real file: the demo's 360Giving import
#: has 1,719, some 300 KB of JSON); a file with more repeats its mistakes row after row, and
#: its record says it was cut (``problems_truncated``) while its counts stay whole
MAX_STORED_PROBLEMS = 100_000
#: the tables an import writes, which it has PostgreSQL analyse once it has committed
#: (:meth:`Database.refresh_statistics`); not the geography's, the crime and population
#: figures' (their own writer, ``ingest/need.py``, analyses those) or the server's own
#: (keys, locks, feedback), which no import writes
IMPORTED_TABLES = tuple(
    model.__tablename__
    for model in (
        Theme, Programme, Organisation, Service, ServiceTheme, ServiceArea, Location, Grant,
        GrantService, GrantArea, Outcome, PatchContact, Opportunity, OpportunityTheme,
        OpportunityArea, ImportRun, ChangeEvent, ChangeArea, DataRelease,
    )
)  # fmt: skip
#: services checked, planned and written together: an import's rows to write are made a
#: chunk at a time (its records are still read and checked whole first)
SERVICES_A_CHUNK = 5_000
#: change events written together, as they are recorded (they are 1 KB each as dicts)
EVENTS_A_CHUNK = 5_000
#: the records a run names for each kind and action (withdrawn, restored, moved): its counts
#: stay whole, its names are the first this many
NAMED_A_RUN = 1_000
#: a full import may withdraw at most half of what its source holds (a file cut short, or
#: imported under another source's name) unless told to (``allow_withdrawals``); a source
#: holding this many or fewer may lose any of them
FEW_RECORDS = 10


@dataclass(frozen=True)
class ImportOptions:
    source: str  # the source's name: records it creates are owned by it
    format: str
    location: str  # path or URL, for the record of the run
    checksum: str
    mode: str = "incremental"  # or "full": withdraw what the source no longer lists
    dry_run: bool = False
    actor: str | None = None  # the API key's name, for a run asked for over the API
    #: an update leaves the record with the source that owns it (an API write corrects a
    #: record; it does not take it over from the feed that lists it)
    keep_owner: bool = False
    #: a batch with errors is recorded as a failed run (an API write's errors are its
    #: answer, a 422, and leave the database as it was)
    record_failures: bool = True
    #: bring the planner's statistics up to date after a write (an ANALYZE of the tables
    #: an import writes: worth it after an import, not after one record)
    refresh_statistics: bool = True
    #: records another source holds that this one lists move to it; otherwise the import is
    #: refused (the source decides what a full import withdraws: a wrong --source took them)
    take_over: bool = False
    #: the sources (names starting so) whose records this one takes over without
    #: ``take_over``: a publisher's files, a source each, that list the same records
    take_over_from: tuple[str, ...] = ()
    #: a full import may withdraw more than half of what its source holds
    allow_withdrawals: bool = False


@dataclass
class ImportReport:
    status: str  # succeeded | unchanged | failed | dry-run (| refused: another writer)
    run_id: int | None
    counts: dict[str, dict[str, int]]
    problems: list[Problem]
    events: int = 0
    seconds: float = 0.0
    #: the records withdrawn, restored and moved from another source, by kind and action:
    #: {"services": {"withdrawn": [{"ref": …, "name": …}], "moved": [{…, "from": source}]}}
    records: dict[str, dict[str, list[dict[str, str]]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "run_id": self.run_id,
            "counts": self.counts,
            "change_events": self.events,
            "errors": sum(1 for p in self.problems if p.severity == "error"),
            "warnings": sum(1 for p in self.problems if p.severity == "warning"),
            "problems": [p.to_dict() for p in self.problems],
            "records": self.records,
            "seconds": round(self.seconds, 2),
        }


class _Rejected(Exception):
    """The batch refers to things that do not exist: roll back and report."""


class WriteRefused(Exception):
    """The database refused the import's writes (a full disk, a lost server, a read-only
    database: ``read_only``): nothing was written; the message says why and which failed
    run was recorded, if one could be."""

    def __init__(self, message: str, *, read_only: bool = False) -> None:
        super().__init__(message)
        self.read_only = read_only


def database_reason(error: DBAPIError) -> str:
    """The driver's own words, first line only ("database or disk is full")."""
    return (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]


class _DryRun(Exception):
    """Roll back the planned changes of a dry run."""


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def import_batch(
    db: Database,
    snap: GeographySnapshot,
    settings: Settings,
    batch: Batch,
    options: ImportOptions,
    ctx: GeographyContext | None = None,
    *,
    progress: Progress = QUIET,
    clock: datetime | None = None,
) -> ImportReport:
    """Apply ``batch`` in one transaction, or nothing at all if it has any error.
    ``progress`` is told each entity's step (organisations, services, grants, outcomes and
    contacts, change events), with its records as rows. ``clock`` (local, naive) is when
    the import began, its reading included: the report's elapsed time is from then."""
    started = now()
    clock = clock or datetime.now()
    problems = list(batch.problems)
    counts: dict[str, dict[str, int]] = {}
    if batch.errors:
        return record_failure(db, options, started, clock, problems, counts)
    writer: _Writer | None = None
    try:
        with db.session() as session:
            repo = DirectoryRepository(session)
            run_id = None if options.dry_run else repo.add_run(run_row(options, started))
            writer = _Writer(
                repo, GeographyRepository(session), snap, settings, options, run_id, started, ctx,
                progress=progress,
            )  # fmt: skip
            writer.apply(batch)
            counts = writer.counts
            problems += writer.problems
            if options.dry_run:
                raise _DryRun
            status = "succeeded" if writer.events_written else "unchanged"
            if writer.events_written:
                repo.add_data_release(
                    label=f"import #{run_id} ({options.source})",
                    checksum=options.checksum,
                    details={"source": options.source, "counts": counts},
                    at=started,
                )
            repo.finish_run(run_id, finish_row(status, counts, problems, writer.named))  # type: ignore[arg-type]
    except _DryRun:
        assert writer is not None
        return ImportReport(
            "dry-run", None, writer.counts, problems, writer.events_written, elapsed(clock),
            writer.named,
        )  # fmt: skip
    except _Rejected:
        assert writer is not None
        return record_failure(db, options, started, clock, problems + writer.problems, {})
    except DBAPIError as error:  # the transaction rolled back: nothing of it was written
        reason = database_reason(error)
        refused = Problem(f"The database refused the import's writes: {reason}.")
        try:
            failed = record_failure(db, options, started, clock, [*problems, refused], {})
        except DBAPIError:
            recorded = "it could not be recorded as a run either"
        else:
            recorded = (
                f"recorded as failed import run #{failed.run_id}"
                if failed.run_id is not None
                else "not recorded as a run (a dry run, or a write over the API)"
            )
        raise WriteRefused(
            f"The database refused the import ({reason}): nothing was written; {recorded}.",
            read_only=is_read_only(error),
        ) from None
    # committed: the planner's statistics are a help, not part of the import
    if writer.events_written:
        refresh_statistics(db, options, IMPORTED_TABLES)
    return ImportReport(
        status, run_id, counts, problems, writer.events_written, elapsed(clock), writer.named
    )


def refresh_statistics(db: Database, options: ImportOptions, tables: Sequence[str]) -> None:
    """Once an import has committed, have the database analyse the tables it wrote
    (:meth:`Database.refresh_statistics`), unless its options say not to; a failure is
    logged, not the import's."""
    if not options.refresh_statistics:
        return
    try:
        db.refresh_statistics(tables)
    except DBAPIError as error:
        log.warning("import %s: statistics not refreshed: %s", options.source, error)


def record_failure(
    db: Database,
    options: ImportOptions,
    started: datetime,
    clock: datetime,
    problems: list[Problem],
    counts: dict[str, dict[str, int]],
) -> ImportReport:
    """Record the failed run (its own transaction: the directory itself is untouched)."""
    run_id = None
    if not options.dry_run and options.record_failures:
        with db.session() as session:
            repo = DirectoryRepository(session)
            run_id = repo.add_run(run_row(options, started))
            repo.finish_run(run_id, finish_row("failed", counts, problems))
    return ImportReport("failed", run_id, counts, problems, 0, elapsed(clock))


def run_row(options: ImportOptions, started: datetime) -> dict[str, Any]:
    return {
        "source": options.source,
        "format": options.format,
        "location": options.location,
        "mode": options.mode,
        "checksum": options.checksum,
        "status": "running",
        "started_at": started,
        "counts": {},
        "problems": [],
        "actor": options.actor,
    }


def finish_row(
    status: str, counts: dict[str, Any], problems: list[Problem],
    records: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "status": status,
        "finished_at": now(),
        "counts": counts,
        "records": records or {},
        "error_count": sum(1 for p in problems if p.severity == "error"),
        "warning_count": sum(1 for p in problems if p.severity == "warning"),
        "problems": [p.to_dict() for p in problems[:MAX_STORED_PROBLEMS]],
    }


def elapsed(clock: datetime) -> float:
    return (datetime.now() - clock).total_seconds()


# -- record → state ------------------------------------------------------------------------
def _organisation_state(rec: OrganisationRecord) -> dict[str, Any]:
    return {f: getattr(rec, f) for f in ORGANISATION_FIELDS}


def _location_state(rec: LocationRecord) -> dict[str, Any]:
    state = {f: getattr(rec, f) for f in LOCATION_FIELDS}
    for axis in ("lat", "lon"):
        if state[axis] is not None:
            state[axis] = round(float(state[axis]), 6)
    return state


def _service_state(rec: ServiceRecord) -> dict[str, Any]:
    return {
        "organisation": rec.organisation_ref,
        **{f: getattr(rec, f) for f in SERVICE_FIELDS},
        "themes": sorted(set(rec.themes)),
        "coverage": sorted(set(rec.coverage)),
        "locations": sorted(
            (_location_state(loc) for loc in rec.locations), key=lambda s: s["ref"]
        ),
    }


def _placed(state: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Name each site of a service's ``state`` with the borough and ward its row is placed
    in (``SITE_STATE_FIELDS``), as the held state names them: the change an import or a
    write records is then the shape a geography load's is, and a site placed in another
    ward alone is a change of the service."""
    placed = {row["ref"]: row for row in rows}
    for site in state["locations"]:
        row = placed.get(site["ref"], {})
        site["borough_code"], site["ward_code"] = row.get("borough_code"), row.get("ward_code")


#: what a record may leave as held, besides its sites (``ServiceRecord.kept``)
_KEPT_FIELDS = frozenset({*SERVICE_FIELDS, "themes", "coverage"})


def keep_held(rec: ServiceRecord, old: dict[str, Any] | None) -> None:
    """Fill in what ``rec``'s source does not say (``rec.kept``) from the held state
    ``old``: a sheet without a column leaves its field as it is, and a sheet's row, which
    gives one site, stands for one of the service's sites (the one of its Site ref, else
    the first, as the export writes it), the others staying as they are."""
    if old is None or not rec.kept:
        return
    for name in rec.kept & _KEPT_FIELDS:
        value = old[name]
        setattr(rec, name, list(value) if isinstance(value, list) else value)
    held = [LocationRecord(**{f: loc[f] for f in LOCATION_FIELDS}) for loc in old["locations"]]
    if SITES in rec.kept:
        rec.locations = held
        return
    if OTHER_SITES not in rec.kept or not held:
        return
    given = {loc.ref for loc in rec.locations}
    stands_for = next((loc for loc in held if loc.ref in given), held[0])
    for site in rec.locations:  # (a sheet's row gives one)
        if SITE_REF in rec.kept:
            site.ref = stands_for.ref
        if SITE_NAME in rec.kept:
            site.name = stands_for.name
        if SITE_ADDRESS in rec.kept:
            site.address = stands_for.address
        if SITE_POSTCODE in rec.kept or site.postcode == stands_for.postcode:
            # (a sheet has no column for coordinates: a site at the postcode it had, or
            # with none, keeps those held, a source's own or the postcode's)
            site.postcode, site.lat, site.lon = (
                stands_for.postcode, stands_for.lat, stands_for.lon
            )  # fmt: skip
        if "demo" in rec.kept:
            site.demo = stands_for.demo
    rec.locations += [loc for loc in held if loc is not stands_for]


def pence(amount: Decimal | None) -> int | None:
    return None if amount is None else int((amount * 100).to_integral_value())


def _grant_state(rec: GrantRecord) -> dict[str, Any]:
    values = {f: getattr(rec, f) for f in GRANT_FIELDS}
    values["amount"] = pence(rec.amount)
    return {
        "funder": rec.funder_ref,
        "recipient": rec.recipient_ref,
        **values,
        # None: the source cannot name services (360Giving), so the links held are kept
        "services": None if rec.service_refs is None else sorted(set(rec.service_refs)),
        "areas": sorted(set(rec.areas)),
    }


def _kept(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Organisations and grants are shared between sources: a value a source leaves blank
    keeps what another source recorded (a blank never erases)."""
    return {k: (old.get(k) if v is None else v) for k, v in new.items()}


def _comparable(state: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in state.items() if k not in ("id", "source", "withdrawn_at")}
    if "locations" in out:
        out["locations"] = [{f: loc[f] for f in SITE_STATE_FIELDS} for loc in out["locations"]]
    return out


def _json(field_name: str, value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if field_name == "amount" and isinstance(value, int):
        return f"{value / 100:.2f}"
    return value


def _diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    return {
        name: [_json(name, old.get(name)), _json(name, value)]
        for name, value in new.items()
        if old.get(name) != value
    }


@dataclass
class _Plan:
    """The rows one import will insert or update for an entity."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    changed_refs: list[str] = field(default_factory=list)
    owned: list[dict[str, Any]] = field(default_factory=list)  # unchanged but for its source


_MATCHED_BY = {
    "identifier": "directory/data/organisations.csv lists it as another org-id of that "
    "organisation",
    "known name": "directory/data/organisations.csv knows that organisation by this name",
    "name": "an organisation of exactly this name (ignoring case and punctuation) is already "
    "held; if they are different organisations give this one a distinct name",
    "merged": "an organisation of this ref or name was merged into it (directory "
    "organisations merge)",
    "charity number": "an organisation of the same registered charity number is already "
    "held (its charity number, or its GB-CHC org-id)",
    "company number": "an organisation of the same Companies House number is already held "
    "(its company number, or its GB-COH org-id)",
}
#: the org-id prefixes that are a registered number (360Giving's org-id list): England and
#: Wales's charities, and Companies House
_NUMBERED = {"GB-CHC-": "charity number", "GB-COH-": "company number"}


def _name_to(by_name: dict[str, str], name: str, ref: str) -> None:
    """Note ``ref`` as the first organisation of this name (compared loosely); a name with
    no words ("—") names nothing another organisation can be matched to."""
    if key := loose_key(name):
        by_name.setdefault(key, ref)


def _numbers(ref: str, charity: str | None, company: str | None) -> list[tuple[str, str]]:
    """(kind, number) of the registered numbers an organisation has: given, or its org-id
    (``GB-CHC-1144511`` is charity 1144511); company numbers compared as Companies House
    writes them (eight characters, zeros in front)."""
    found = [("charity number", charity), ("company number", company)]
    found += [(kind, ref[len(prefix) :]) for prefix, kind in _NUMBERED.items()
              if ref.upper().startswith(prefix)]  # fmt: skip
    return [
        (kind, number.strip().upper().zfill(8 if kind == "company number" else 0))
        for kind, number in found
        if number and number.strip()
    ]


def match_organisations(
    records: list[OrganisationRecord], held: dict[str, dict[str, Any]],
    merged: Iterable[tuple[str, str, str]] = (),
) -> tuple[dict[str, OrganisationRecord], dict[str, tuple[str, str]]]:  # fmt: skip
    """An import's organisations as the directory files them: by org-id (the ref), then by
    the ref of an organisation merged into a held one (``merged``: (its ref, its name, the
    ref of the one it was merged into), ``organisation_alias``), then by the other
    identifiers and names of ``directory/data/organisations.csv``, then by a registered
    charity or company number (given, or in a ``GB-CHC-``/``GB-COH-`` org-id) already held,
    then by an exact normalised name already held (in ``held``, the stored states by ref,
    or earlier in this import), then by a merged organisation's name. Returns the records to write by ref and,
    for each ref matched to another, (the ref it is, how it was matched): never a second
    MOPAC under another id or spelling, nor again a duplicate merged away."""
    known = taxonomy.known_organisations()
    by_name: dict[str, str] = {}
    by_number: dict[tuple[str, str], str] = {}
    for ref, state in held.items():
        _name_to(by_name, state["name"], ref)
        for number in _numbers(ref, state.get("charity_number"), state.get("company_number")):
            by_number.setdefault(number, ref)
    merged_refs: dict[str, str] = {}
    merged_names: dict[str, str] = {}
    for ref, name, target in merged:
        merged_refs[ref] = target
        _name_to(merged_names, name, target)
    out: dict[str, OrganisationRecord] = {}
    same_as: dict[str, tuple[str, str]] = {}
    for rec in records:
        numbers = _numbers(rec.ref, rec.charity_number, rec.company_number)
        if rec.ref in held or rec.ref in out:
            out[rec.ref] = rec  # the last record of a ref wins, as before
            _name_to(by_name, rec.name, rec.ref)
            for number in numbers:
                by_number.setdefault(number, rec.ref)
            continue
        match = (merged_refs[rec.ref], "merged") if rec.ref in merged_refs else None
        if match is None:
            match = known.ref_for(rec.ref, rec.name)
        if match is None:  # one registered number, one organisation, whatever its name
            match = next(((by_number[n], n[0]) for n in numbers if n in by_number), None)
        if match is None and (named := by_name.get(loose_key(rec.name))) not in (None, rec.ref):
            match = (named, "name")  # type: ignore[assignment]
        if match is None and (target := merged_names.get(loose_key(rec.name))) is not None:
            match = (target, "merged")
        if match is None:
            out[rec.ref] = rec
            _name_to(by_name, rec.name, rec.ref)
            for number in numbers:
                by_number.setdefault(number, rec.ref)
            continue
        target = match[0]
        same_as[rec.ref] = match
        if target not in held and target not in out:  # first seen here under its other id
            out[target] = replace(rec, ref=target, name=known.names.get(target, rec.name))
            _name_to(by_name, out[target].name, target)
    return out, same_as


@dataclass
class _Writer:
    repo: DirectoryRepository
    geo: GeographyRepository
    snap: GeographySnapshot
    settings: Settings
    options: ImportOptions
    run_id: int | None
    at: datetime
    ctx: GeographyContext | None = None
    progress: Progress = QUIET
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    org_names: dict[str, str] = field(default_factory=dict)
    renamed_orgs: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)
    events_written: int = 0
    postcodes: dict[str, Any] = field(default_factory=dict)  # canonical → its row
    #: an organisation ref of the batch → the ref it is held under, where they differ
    held_orgs: dict[str, str] = field(default_factory=dict)
    #: held services read for the outcomes step, by id (as ``service_states`` reads them)
    held_services: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: the records withdrawn, restored and moved, named (``ImportReport.records``)
    named: dict[str, dict[str, list[dict[str, str]]]] = field(default_factory=dict)
    #: records taken from another source: (kind, that source) → how many
    taken: dict[tuple[str, str], int] = field(default_factory=dict)
    #: of those, the records that are not the demo's (a real import takes the demo's over)
    taken_real: dict[tuple[str, str], int] = field(default_factory=dict)
    #: the first 10 refs of each, as the refusal or warning names them
    taken_refs: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def _held_areas(self, service_id: int) -> set[str]:
        """The areas of a held service read by :meth:`_read_held` (none for another)."""
        state = self.held_services.get(service_id)
        return set() if state is None else service_areas(state)

    def _read_held(self, ids: set[int]) -> None:
        """Read these services' states into ``held_services`` (only those the outcomes
        step names: a whole directory's states are 3 KB a service)."""
        states = self.repo.service_states(ids - set(self.held_services))
        self.held_services.update({s["id"]: {**s, "ref": ref} for ref, s in states.items()})

    def apply(self, batch: Batch) -> None:
        if (
            self.options.mode == "full"
            and not batch.services and not batch.grants and not batch.opportunities
        ):  # fmt: skip
            self._error(
                "A full import of a file with no services and no grants would withdraw "
                f"everything source '{self.options.source}' has listed; refusing. Check the "
                "file, or import it incrementally."
            )
            raise _Rejected
        # organisations first: matching names a funder as it is held, so a programme this
        # import brings names the held funder too (not the alias the file used)
        org_ids = self._organisations(batch)
        self._taxonomy(batch)
        self._services(batch, org_ids)
        self._grants(batch, org_ids)
        self._outcomes(batch)
        self._contacts(batch)
        self._opportunities(batch, org_ids)
        self._report_taken()
        if self._has_errors():
            raise _Rejected
        self._step("recording change events", len(self.events))
        self.progress.advance(len(self.events))
        self._write_events()

    def _write_events(self) -> None:
        """Write the change events recorded so far and let them go (the transaction, rolled
        back on any error, keeps the import all or nothing)."""
        self.repo.add_events(self.events)
        self.events_written += len(self.events)
        self.events = []

    def _step(self, what: str, total: int) -> None:
        """A step of this import, named after its source ("oxygen: writing services");
        a dry run checks rather than writes."""
        verb = "checking" if self.options.dry_run else "writing"
        self.progress.step(f"{self.options.source}: {what.format(verb=verb)}", total=total)

    def _upsert(
        self, plan: _Plan, entity: str, ref: str, name: str, old: dict[str, Any] | None,
        new: dict[str, Any], columns: dict[str, Any], areas: set[str],
    ) -> None:  # fmt: skip
        """Plan the insert or update of one service or grant and record its change event
        (an insert's event is recorded once it has an id)."""
        if old is None:
            plan.inserts.append(
                {"ref": ref, **columns, "source": self.options.source,
                 "created_at": self.at, "updated_at": self.at}
            )  # fmt: skip
            plan.changed_refs.append(ref)
            return
        changes = _diff(_comparable(old), new)
        restored = old["withdrawn_at"] is not None
        counted = f"{entity}s"
        owner = old["source"] if self.options.keep_owner else self.options.source
        moved = old["source"] != owner  # listed by this source now: it owns it
        if moved:
            self._taken(counted, ref, name, old["source"], demo=bool(old.get("demo")))
        if changes or restored:
            plan.updates.append(
                {"id": old["id"], **columns, "source": owner,
                 "withdrawn_at": None, "updated_at": self.at}
            )  # fmt: skip
            plan.changed_refs.append(ref)
            action = "restored" if restored else "updated"
            self._count(counted, action)
            if restored:
                self._name(counted, action, ref, name)
            if moved:
                changes["source"] = [old["source"], owner]
            self._event(entity, old["id"], ref, action, name, changes, areas)
        elif moved:  # a change all the same: it decides what a full import withdraws
            plan.owned.append({"id": old["id"], "source": owner, "updated_at": self.at})
            self._event(
                entity, old["id"], ref, "updated", name, {"source": [old["source"], owner]}, areas
            )
        else:
            self._count(counted, "unchanged")

    def _withdraw_unlisted(
        self, model: type, entity: str, held: dict[str, Held], records: Collection[str],
        areas: Callable[[dict[str, Any]], set[str]], name: str,
    ) -> None:  # fmt: skip
        """In full mode: withdraw what this source owns and no longer lists (their states
        read a chunk at a time, for their events)."""
        if self.options.mode != "full":
            return
        gone = [
            h.id for ref, h in held.items()
            if ref not in records and h.source == self.options.source and not h.withdrawn
        ]  # fmt: skip
        holds = sum(1 for h in held.values() if h.source == self.options.source and not h.withdrawn)
        if not self.withdrawals_allowed(f"{entity}s", len(gone), holds):
            return
        read = self.repo.service_states if model is Service else self.repo.grant_states_of
        for start in range(0, len(gone), SERVICES_A_CHUNK):
            ids = gone[start : start + SERVICES_A_CHUNK]
            self.repo.set_withdrawn(model, ids, self.at)
            for ref, state in sorted(read(ids).items(), key=lambda item: item[1]["id"]):
                self._count(f"{entity}s", "withdrawn")
                self._name(f"{entity}s", "withdrawn", ref, state[name] or ref)
                self._event(
                    entity, state["id"], ref, "withdrawn", state[name] or ref, {}, areas(state)
                )

    def _has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    def _check_lengths(self, model: type, row: dict[str, Any], what: str, *, ref: str) -> None:
        """Text longer than its column is an error here, not a database failure later."""
        limits = _length_limits(model)
        for name, value in row.items():
            if not isinstance(value, str):
                continue
            limit = limits.get(name)
            if limit is not None and len(value) > limit:
                self._error(
                    f"{what}: {name} is {len(value)} characters long; at most {limit} are kept.",
                    name, value[:60] + "…",
                )  # fmt: skip

    def withdrawals_allowed(self, kind: str, withdrawing: int, holds: int) -> bool:
        """Whether a full import may withdraw ``withdrawing`` of the ``holds`` records of a
        kind its source holds: not more than half of more than ``FEW_RECORDS`` unless told
        to (an error otherwise, which refuses the import)."""
        if self.options.allow_withdrawals or holds <= FEW_RECORDS or withdrawing * 2 <= holds:
            return True
        self._error(
            f"This full import would withdraw {withdrawing:,} of the {holds:,} {kind} source "
            f"'{self.options.source}' holds, more than half: refusing, in case the file is cut "
            "short or is another source's. If they have all ended, import it again with "
            "--allow-withdrawals (over the API: allow_withdrawals=true)."
        )
        return False

    def _name(self, kind: str, action: str, ref: str, name: str, **more: str) -> None:
        """Name a record withdrawn, restored or moved in the run's ``records``."""
        named = self.named.setdefault(kind, {}).setdefault(action, [])
        if len(named) < NAMED_A_RUN:
            named.append({"ref": ref, "name": name, **more})

    def _taken(self, kind: str, ref: str, name: str, owner: str, *, demo: bool) -> None:
        """Note a record held by source ``owner`` that this import's source now lists
        (``demo``: one of the demo's, which real data replaces)."""
        self._count(kind, "moved")
        self._name(kind, "moved", ref, name, **{"from": owner})
        self.taken[kind, owner] = self.taken.get((kind, owner), 0) + 1
        refs = self.taken_refs.setdefault((kind, owner), [])
        if len(refs) < 10:
            refs.append(ref)
        if not demo:
            self.taken_real[kind, owner] = self.taken_real.get((kind, owner), 0) + 1

    def _report_taken(self) -> None:
        """Each source records were taken from, in one problem: an error (the import is
        refused) unless the import was told to take them over (``take_over``), a warning
        then. The source decides what a full import withdraws, so a file imported under
        the wrong --source would take them, and the next full import withdraw them. The
        demo's records are taken over without being told: real data replaces them (as
        `directory demo remove` keeps those a real import lists)."""
        for (kind, owner), n in self.taken.items():  # (services first, as written)
            listed = ", ".join(self.taken_refs[kind, owner]) + (
                f" and {n - 10:,} more" if n > 10 else ""
            )
            if (
                self.options.take_over or owner.startswith(self.options.take_over_from)
                or not self.taken_real.get((kind, owner))
            ):  # fmt: skip
                self.problems.append(Problem(
                    f"{kind.capitalize()}: {n:,} moved from source '{owner}' to "
                    f"'{self.options.source}' ({listed}).", severity="warning",
                ))  # fmt: skip
                continue
            self._error(
                f"{_many(n, kind)} this file lists {'is' if n == 1 else 'are'} held from "
                f"source '{owner}' ({listed}): "
                f"importing it as source '{self.options.source}' would move them to it, and "
                "a full import withdraws only what its own source holds. If the file is source "
                f"'{owner}', give that --source; if '{self.options.source}' now lists them, "
                "import it again with --take-over (over the API: take_over=true)."
            )

    def _count(self, entity: str, action: str, n: int = 1) -> None:
        bucket = self.counts.setdefault(entity, {"created": 0, "updated": 0, "unchanged": 0})
        bucket[action] = bucket.get(action, 0) + n

    def _error(self, message: str, column: str | None = None, value: Any = None) -> None:
        self.problems.append(Problem(message, None, column, None if value is None else str(value)))

    def _event(
        self, entity: str, entity_id: int, ref: str, action: str, name: str,
        changes: dict[str, Any], areas: set[str],
    ) -> None:  # fmt: skip
        what = {
            "created": "added",
            "updated": "changed",
            "withdrawn": "withdrawn",
            "restored": "restored",
            "deleted": "removed",
        }[action]
        detail = f": {', '.join(sorted(changes))}" if action == "updated" else ""
        self.events.append(
            {
                "import_run_id": self.run_id,
                "at": self.at,
                "entity": entity,
                "entity_id": entity_id,
                "entity_ref": _shortened(ref, _EVENT_REF_LENGTH),
                "action": action,
                "changes": changes,
                "summary": f"{entity.capitalize()} '{name}' {what}{detail}"[:500],
                "areas": areas,
                "actor": self.options.actor,
            }
        )
        if len(self.events) % EVENTS_A_CHUNK == 0 and not self._has_errors():
            self._write_events()

    def _opportunities(self, batch: Batch, org_ids: dict[str, int]) -> None:
        _opportunities_step(self, batch, org_ids)

    # -- taxonomy ----------------------------------------------------------------------------
    def _taxonomy(self, batch: Batch) -> None:
        self.repo.sync_themes(
            [{"id": t.id, "name": t.name, "description": t.description} for t in taxonomy.themes()]
        )
        held = self.repo.programme_classes()  # id → (name, funder_ref, community_safety)
        known = set(held)
        new: dict[str, dict[str, Any]] = {}
        for p in taxonomy.programmes():
            if p.id not in known:
                new[p.id] = {
                    "id": p.id,
                    "name": p.name,
                    "funder_ref": p.funder_ref,
                    "description": p.description,
                }
        named = self.ctx.new_programmes if self.ctx is not None else {}
        held_orgs = self.held_orgs  # (grants name the funder as held: _grants_read)
        funders = itertools.chain(
            ((g.programme, held_orgs.get(g.funder_ref, g.funder_ref)) for g in batch.grants),
            ((o.programme, o.funder_ref) for o in batch.opportunities),
        )
        for pid, funder_ref in funders:
            if pid and pid not in known and pid not in new:
                new[pid] = {
                    "id": pid,
                    "name": named.get(pid, pid),
                    "funder_ref": funder_ref,
                    "description": None,
                }
        # programmes.csv's community_safety column, else the rule of community_safety.toml
        # (name words, funder): new programmes are classified, held ones again (the files
        # may have changed since)
        for row in new.values():
            row["community_safety"] = classify(row["id"], row["name"], row["funder_ref"])
        self.repo.add_programmes(list(new.values()))
        self.repo.set_community_safety({
            pid: flag for pid, (name, funder_ref, held_flag) in held.items()
            if (flag := classify(pid, name, funder_ref)) != held_flag
        })  # fmt: skip

    # -- organisations ------------------------------------------------------------------------
    def _organisations(self, batch: Batch) -> dict[str, int]:
        states = self.repo.organisation_states()
        merged = [(a.ref, a.name, a.organisation_ref) for a in self.repo.organisation_aliases()]
        records, same_as = match_organisations(batch.organisations, states, merged)
        # the services and grants name the organisation as it is held (so a re-import of the
        # same file compares equal and changes nothing)
        # (the grants' funders and recipients are named so as they are read back: _grants_read)
        self.held_orgs = {ref: target for ref, (target, _how) in same_as.items()}
        self._step("{verb} organisations", len(records))
        inserts, updates = [], []
        # a 360Giving file (a funder's publication, GrantNav's) describes organisations it
        # does not hold: one already held is taken as held, never renamed or changed by it
        as_held = self.options.format == "360giving"
        for ref, rec in records.items():
            self.progress.advance()
            new = _organisation_state(rec)
            old = states.get(ref)
            if old is not None and as_held:
                rec.name = old["name"]  # its grants name it as it is held
                self._count("organisations", "unchanged")
                continue
            if old is not None:
                new = _kept(old, new)
                new["demo"] = old["demo"] and new["demo"]  # real data can confirm a demo record
            self._check_lengths(Organisation, new, f"Organisation '{ref}'", ref=ref)
            if old is None:
                inserts.append(
                    {
                        "ref": ref,
                        **new,
                        "search_name": indexed(new["name"]),
                        "source": self.options.source,
                        "created_at": self.at,
                        "updated_at": self.at,
                    }
                )
                continue
            changes = _diff(old, new)
            if changes:
                updates.append(
                    {
                        "id": old["id"], **new, "search_name": indexed(new["name"]),
                        "updated_at": self.at,
                    }
                )  # fmt: skip
                if old["source"] != self.options.source:
                    updates[-1]["source"] = self.options.source
                self._count("organisations", "updated")
                self._event("organisation", old["id"], ref, "updated", rec.name, changes, set())
            else:
                self._count("organisations", "unchanged")
        if self._has_errors():
            raise _Rejected
        self.org_names = {ref: state["name"] for ref, state in states.items()}
        self.org_names.update({ref: rec.name for ref, rec in records.items()})
        self.renamed_orgs = {
            ref for ref, rec in records.items() if ref in states and states[ref]["name"] != rec.name
        }
        ids = {ref: state["id"] for ref, state in states.items()}
        created = self.repo.insert_returning_ids(Organisation, inserts)
        ids.update(created)
        for row in inserts:
            self._count("organisations", "created")
            self._event(
                "organisation", created[row["ref"]], row["ref"], "created", row["name"], {}, set()
            )
        self.repo.update_rows(Organisation, updates)
        for ref, (held, how) in same_as.items():
            ids[ref] = ids[held]
            self.org_names.setdefault(ref, self.org_names[held])
            self._count("organisations", "matched")
            row, column, value, rows = batch.organisation_rows.get(
                ref, (None, "organisation", ref, 1)
            )
            others = f" (and {rows - 1} other row{'s' if rows > 2 else ''})" if rows > 1 else ""
            self.problems.append(
                Problem(
                    f"Organisation '{value}'{others} is taken to be '{held}' "
                    f"({self.org_names[held]}): {_MATCHED_BY[how]}.",
                    row=row,
                    column=column,
                    value=value,
                    severity="warning",
                )
            )
        return ids

    # -- services -----------------------------------------------------------------------------
    def _services(self, batch: Batch, org_ids: dict[str, int]) -> None:
        services = batch.services
        unique = services if _spooled(services) else {s.ref for s in services}
        self._step("{verb} services", len(unique))
        held = self.repo.held(Service)  # what each held service's state is read by
        # kept across chunks, bounded by the directory, not the file: the held services the
        # file lists (for withdrawing the others) and those it changes (the rest of a
        # renamed organisation's are made findable by its new name)
        listed: set[str] = set()
        changed: set[str] = set()
        # a chunk at a time: its records (a sheet's read back from its spool), the held
        # states they are compared with and its rows to write are made, written and let go
        # before the next's (a whole 100,000-service file's at once were 400 MB more at the
        # peak). Every chunk is checked; once one has an error nothing more is written, and
        # the import is refused (and its transaction rolled back) after the last.
        for chunk in _record_chunks(batch.services, unique=_spooled(batch.services)):
            listed.update(ref for ref in chunk if ref in held)
            for rec in chunk.values():
                rec.organisation_ref = self.held_orgs.get(
                    rec.organisation_ref, rec.organisation_ref
                )
                if rec.organisation_ref not in org_ids:
                    self._error(
                        f"Service '{rec.ref}' names organisation '{rec.organisation_ref}', which"
                        " is neither in this file nor in the directory.",
                        "organisation",
                        rec.organisation_ref,
                    )
            states = self.repo.service_states([held[r].id for r in chunk if r in held])
            for ref, rec in chunk.items():
                keep_held(rec, states.get(ref))
            self._read_postcodes(chunk)
            ids = {r: held[r].id for r in chunk if r in held}  # (the chunk's: ids by ref of
            # the whole file were 8 MB at 100,000; what needs them later reads them back)
            changes: set[str] = set()
            self._services_chunk(chunk, states, org_ids, ids, changes)
            changed.update(ref for ref in changes if ref in held)
            del states
        if self._has_errors():
            raise _Rejected
        # an organisation's new name must be findable in its unchanged services too
        renamed_ids = {org_ids[ref] for ref in self.renamed_orgs if ref in org_ids}
        unchanged = [
            h.id for ref, h in held.items() if h.owner in renamed_ids and ref not in changed
        ]
        for start in range(0, len(unchanged), SERVICES_A_CHUNK):
            states = self.repo.service_states(unchanged[start : start + SERVICES_A_CHUNK])
            renamed = [
                {"id": s["id"], "search_text": search_text(s["name"],
                 self.org_names.get(s["organisation"]), s["description"], s["themes"])}
                for s in states.values()
            ]  # fmt: skip
            self.repo.update_rows(Service, renamed)
        self._withdraw_unlisted(Service, "service", held, listed, service_areas, "name")
        self._withdraw(batch.withdrawn_services, held)

    def _read_postcodes(self, records: dict[str, ServiceRecord]) -> None:
        """The postcodes of these services' sites: those the reader read ahead as they
        are (not a second copy of each row), the rest in a few queries."""
        wanted = {loc.postcode for rec in records.values() for loc in rec.locations if loc.postcode}
        read = self.ctx.postcodes_read() if self.ctx is not None else {}
        self.postcodes = {pc: row for pc in wanted if (row := read.get(pc)) is not None}
        self.postcodes.update(self.geo.postcodes(pc for pc in wanted if pc not in read))

    def _services_chunk(
        self, records: dict[str, ServiceRecord], states: dict[str, dict[str, Any]],
        org_ids: dict[str, int], ids: dict[str, int], changed: set[str],
    ) -> None:  # fmt: skip
        """Check and plan some of the services, then (unless an error has been found, here
        or before) write them with their themes, areas and sites: ``ids`` and ``changed``
        (the refs inserted or updated) grow by them."""
        plan = _Plan()
        location_rows: dict[str, list[dict[str, Any]]] = {}
        for ref, rec in records.items():
            self.progress.advance()
            for loc in rec.locations:  # a site known only by postcode is placed at it
                if loc.lat is None and loc.postcode and (pc := self.postcodes.get(loc.postcode)):
                    loc.lat, loc.lon = pc.lat, pc.lon
            new = _service_state(rec)
            old = states.get(ref)
            location_rows[ref] = [
                row for loc in rec.locations if (row := self._location_row(rec, loc)) is not None
            ]
            _placed(new, location_rows[ref])
            columns = {f: new[f] for f in SERVICE_FIELDS}
            columns["organisation_id"] = org_ids.get(rec.organisation_ref)
            columns["search_name"] = indexed(rec.name)
            columns["search_text"] = search_text(
                rec.name, self.org_names.get(rec.organisation_ref), rec.description, rec.themes
            )
            self._check_lengths(Service, {"ref": ref, **columns}, f"Service '{ref}'", ref=ref)
            for row in location_rows[ref]:
                self._check_lengths(
                    Location, row, f"Site '{row['ref']}' of service '{ref}'", ref=ref
                )
            areas = service_areas({**new, "locations": location_rows[ref]})
            if old is not None:
                areas |= service_areas(old)
            self._upsert(plan, "service", ref, rec.name, old, new, columns, areas)
        changed.update(plan.changed_refs)
        if self._has_errors():
            return
        self.repo.update_rows(Service, plan.owned)
        created = self.repo.insert_returning_ids(Service, plan.inserts)
        ids.update(created)
        self.repo.update_rows(Service, plan.updates)
        # children of new and changed services
        touched = [ids[ref] for ref in plan.changed_refs if ref in ids]
        themes, areas, locations = [], [], []
        sites: dict[int, list[dict[str, Any]]] = {}  # each service's rows of `locations`
        for ref in plan.changed_refs:
            rec = records[ref]
            sid = ids.get(ref)
            if sid is None:
                continue
            themes += [{"service_id": sid, "theme_id": t} for t in sorted(set(rec.themes))]
            areas += [{"service_id": sid, "area_code": c} for c in sorted(set(rec.coverage))]
            sites[sid] = [{"service_id": sid, **row} for row in location_rows[ref]]
            locations += sites[sid]
        self.repo.replace_children(ServiceTheme, "service_id", touched, themes)
        self.repo.replace_children(ServiceArea, "service_id", touched, areas)
        # (a site keeps its id through an edit or a re-import: its OGC feature's id)
        self.repo.sync_children(Location, "service_id", touched, locations, ("service_id", "ref"))
        for row in plan.inserts:
            rec = records[row["ref"]]
            self._count("services", "created")
            state = _service_state(rec)
            state["locations"] = sites.get(created[row["ref"]], [])
            self._event(
                "service",
                created[row["ref"]],
                row["ref"],
                "created",
                rec.name,
                {},
                service_areas(state),
            )

    def _withdraw(self, refs: list[str], held: dict[str, Held]) -> None:
        """Withdraw these services (a write over the API), as a full import withdraws what
        its source no longer lists; a service already withdrawn is left as it is."""
        states = self.repo.service_states([held[ref].id for ref in refs if ref in held])
        for ref in refs:
            state = states.get(ref)
            if state is None:
                self._error(f"There is no service '{ref}' to withdraw.", "ref", ref)
                continue
            if state["withdrawn_at"] is not None:
                self._count("services", "unchanged")
                continue
            self.repo.set_withdrawn(Service, [state["id"]], self.at)
            self._count("services", "withdrawn")
            self._name("services", "withdrawn", ref, state["name"])
            self._event("service", state["id"], ref, "withdrawn", state["name"], {},
                        service_areas(state))  # fmt: skip

    def _location_row(self, service: ServiceRecord, loc: LocationRecord) -> dict[str, Any] | None:
        state = _location_state(loc)
        row: dict[str, Any] = {
            **state,
            "easting": None,
            "northing": None,
            "borough_code": None,
            "ward_code": None,
            "cell": None,
        }
        found = self.postcodes.get(loc.postcode) if loc.postcode else None
        try:
            place = place_site(self.snap, self.settings, row["lat"], row["lon"], found)
        except OutsideCoverageError:
            self._error(
                f"Site '{loc.ref}' of service '{service.ref}' is outside London.",
                "location",
                f"{row['lat']},{row['lon']}",
            )
            return None
        row.update(
            lat=place.lat, lon=place.lon, easting=place.easting, northing=place.northing,
            borough_code=place.borough_code, ward_code=place.ward_code, cell=place.cell,
        )  # fmt: skip
        return row

    # -- grants -------------------------------------------------------------------------------
    def _grants_read(self, grants: list[GrantRecord] | Spool[GrantRecord]) -> Iterator[GrantRecord]:
        """The grants as this import writes them (a spool's read back, each a copy, so each
        reading makes them so again): the financial year from their dates when not given,
        funder and recipient as the directory holds them (once organisations are matched)."""
        held = self.held_orgs
        for grant in grants:
            if grant.financial_year is None and (grant.awarded or grant.start):
                grant.financial_year = financial_year_of(grant.awarded or grant.start)  # type: ignore[arg-type]
            grant.funder_ref = held.get(grant.funder_ref, grant.funder_ref)
            grant.recipient_ref = held.get(grant.recipient_ref, grant.recipient_ref)
            yield grant

    def _grants(self, batch: Batch, org_ids: dict[str, int]) -> None:
        # a chunk at a time, as services are: a sheet's grants read back from their spool,
        # each chunk checked, then written unless an error has been found; refused after
        # the last if one has. What is kept across chunks is bounded by the directory, not
        # the file: the held grants it lists (for withdrawing the others) and the grants
        # named as parents (whether the file has them is known after the last chunk).
        grants = batch.grants
        count = len(grants) if _spooled(grants) else len({rec.ref for rec in grants})
        self._step("{verb} grants", count)
        if not count and self.options.mode != "full":  # nothing to compare or withdraw
            return
        held = self.repo.held(Grant)  # what each held grant's state is read by
        parents = {rec.parent_ref for rec in grants if rec.parent_ref}  # (a spool read back)
        listed: set[str] = set()  # the file's grants that are held or named as parents
        paid_through: list[tuple[str, str]] = []  # (grant, parent) where the parent isn't held
        children: list[str] = []  # the file's grants paid through another
        for chunk in _record_chunks(self._grants_read(grants), unique=_spooled(grants)):
            listed.update(ref for ref in chunk if ref in held or ref in parents)
            children += [ref for ref, rec in chunk.items() if rec.parent_ref]
            paid_through += [
                (ref, rec.parent_ref)
                for ref, rec in chunk.items()
                if rec.parent_ref and rec.parent_ref not in held
            ]
            funded = (ref for rec in chunk.values() for ref in rec.service_refs or ())
            service_ids = self.repo.ids_by_ref(Service, funded)  # held, or written above
            self._check_grants(chunk, org_ids, service_ids)
            states = self.repo.grant_states_of([held[r].id for r in chunk if r in held])
            ids = {r: held[r].id for r in chunk if r in held}
            self._grants_chunk(chunk, states, org_ids, service_ids, ids)
            del states
        for ref, parent in paid_through:
            if parent not in listed:
                # (named as the file names it: its row, and "Paid through" or "parentGrant")
                row, column = batch.paid_through_rows.get(ref, (None, "Paid through"))
                self.problems.append(
                    Problem(
                        f"Grant '{ref}' is paid through grant '{parent}', which is not in the "
                        "directory yet: the chain will show it as missing until a source lists "
                        "it.",
                        row,
                        column,
                        parent,
                        "warning",
                    )  # fmt: skip
                )
        if children:
            self._check_loops(children, batch.paid_through_rows)
        if self._has_errors():
            raise _Rejected
        self._withdraw_unlisted(Grant, "grant", held, listed, lambda g: set(g["areas"]), "title")

    def _check_loops(self, children: list[str], rows: dict[str, tuple[int, str]]) -> None:
        """Paid through must not make a loop (G-A through G-B through G-A), within the file
        or with grants already held (a blank Paid through keeps the held one): each loop
        through one of the file's ``children`` is an error at the first of them's row."""
        parent_of = self.repo.grant_parents()  # as written so far in this transaction
        mine = set(children)
        for loop in loops(parent_of, children):
            if not mine.intersection(loop):
                continue  # held before this import (the funding figures' rule reads it)
            where = {
                ref: f"row {rows[ref][0]}" if ref in rows
                else "in this file" if ref in mine else "already in the directory"
                for ref in loop
            }  # fmt: skip
            first = next(ref for ref in loop if ref in mine)
            row, column = rows.get(first, (None, "Paid through"))
            self.problems.append(Problem(loop_message(loop, where), row, column, parent_of[first]))

    def _check_grants(
        self, records: dict[str, GrantRecord], org_ids: dict[str, int],
        service_ids: dict[str, int],
    ) -> None:  # fmt: skip
        """Every organisation and service a grant names must be in the file or the
        directory."""
        for rec in records.values():
            for role, ref in (("funder", rec.funder_ref), ("recipient", rec.recipient_ref)):
                if ref not in org_ids:
                    self._error(
                        f"Grant '{rec.ref}' names {role} '{ref}', which is neither in this file nor in the directory.",
                        role,
                        ref,
                    )
            for ref in rec.service_refs or ():
                if ref not in service_ids:
                    self._error(
                        f"Grant '{rec.ref}' funds service '{ref}', which is neither in this file nor in the directory.",
                        "services",
                        ref,
                    )

    def _grants_chunk(
        self, records: dict[str, GrantRecord], states: dict[str, dict[str, Any]],
        org_ids: dict[str, int], service_ids: dict[str, int], ids: dict[str, int],
    ) -> None:  # fmt: skip
        """Check and plan some of the grants, then (unless an error has been found) write
        them with the services they fund and their areas (``ids`` grows by the new ones)."""
        plan = _Plan()
        for ref, rec in records.items():
            self.progress.advance()
            new = _grant_state(rec)
            old = states.get(ref)
            if old is not None:
                new = _kept(old, new)
            columns = {f: new[f] for f in GRANT_FIELDS if f not in ("programme", "amount")}
            columns.update(
                programme_id=new["programme"], amount_pence=new["amount"],
                funder_id=org_ids.get(rec.funder_ref), recipient_id=org_ids.get(rec.recipient_ref),
                search_title=indexed(new["title"] or ""),
            )  # fmt: skip
            name = rec.title or ref
            self._check_lengths(Grant, {"ref": ref, **columns}, f"Grant '{ref}'", ref=ref)
            areas = set(new["areas"]) | (set(old["areas"]) if old is not None else set())
            self._upsert(plan, "grant", ref, name, old, new, columns, areas)
        if self._has_errors():
            return
        self.repo.update_rows(Grant, plan.owned)
        created = self.repo.insert_returning_ids(Grant, plan.inserts)
        ids.update(created)
        self.repo.update_rows(Grant, plan.updates)
        touched = [ids[ref] for ref in plan.changed_refs]
        # a grant whose source cannot name services (360Giving) keeps the links held
        relinked = [ids[ref] for ref in plan.changed_refs if records[ref].service_refs is not None]
        links, areas = [], []
        for ref in plan.changed_refs:
            rec = records[ref]
            links += [
                {"grant_id": ids[ref], "service_id": service_ids[s]}
                for s in sorted(set(rec.service_refs or ()))
            ]
            areas += [{"grant_id": ids[ref], "area_code": c} for c in sorted(set(rec.areas))]
        self.repo.replace_children(GrantService, "grant_id", relinked, links)
        self.repo.replace_children(GrantArea, "grant_id", touched, areas)
        for row in plan.inserts:
            rec = records[row["ref"]]
            self._count("grants", "created")
            self._event(
                "grant",
                created[row["ref"]],
                row["ref"],
                "created",
                rec.title or row["ref"],
                {},
                set(rec.areas),
            )

    # -- outcomes and contacts ------------------------------------------------------------------
    def _outcomes(self, batch: Batch) -> None:
        self._step("{verb} outcomes and contacts", len(batch.outcomes) + len(batch.contacts))
        existing = self.repo.outcome_keys()
        by_id = {old["id"]: old for old in existing.values()}
        named = {rec.service_ref for rec in batch.outcomes}
        service_ids = self.repo.ids_by_ref(Service, named)  # held, or written above
        coverage = {  # (a sheet has no outcomes: its services are not read again for them)
            rec.ref: set(rec.coverage)
            for rec in (batch.services if named else ())
            if rec.ref in named
        }
        # the areas (and refs) of the other services named, for their events
        named_ids = {service_ids[r] for r in named if not coverage.get(r) and r in service_ids}
        removed = (by_id[i]["service_id"] for i in batch.removed_outcomes if i in by_id)
        self._read_held(named_ids | set(removed))
        for rec in batch.outcomes:
            self.progress.advance()
            sid = service_ids.get(rec.service_ref)
            if sid is None:
                self._error(
                    f"An outcome names service '{rec.service_ref}', which is neither in this "
                    "file nor in the directory.", "service_ref", rec.service_ref,
                )  # fmt: skip
                continue
            values = {
                "value": None if rec.value is None else float(rec.value),
                "target": None if rec.target is None else float(rec.target),
                "unit": rec.unit, "report_type": rec.report_type, "report_url": rec.report_url,
                "measured_on": rec.measured_on, "demo": rec.demo,
            }  # fmt: skip
            key = (sid, rec.metric, rec.period_start, rec.period_end)
            ref = f"{rec.service_ref}: {rec.metric} {_json('', rec.period_start) or ''}".strip()
            areas = coverage.get(rec.service_ref) or self._held_areas(sid)
            old = existing.get(key) if rec.id is None else by_id.get(rec.id)
            if rec.id is not None:  # a stored outcome, whose metric and period may change
                if old is None:
                    self._error(f"There is no outcome {rec.id}.", "id", rec.id)
                    continue
                if (clash := existing.get(key)) is not None and clash["id"] != rec.id:
                    self._error(
                        f"Service '{rec.service_ref}' already has an outcome '{rec.metric}' "
                        "for that period.", "metric", rec.metric,
                    )  # fmt: skip
                    continue
                values.update(metric=rec.metric, period_start=rec.period_start,
                              period_end=rec.period_end)  # fmt: skip
            if old is None:
                row = dict(
                    zip(("service_id", "metric", "period_start", "period_end"), key, strict=True)
                )
                new_id = self.repo.insert_returning_id(Outcome, {**row, **values})
                self._count("outcomes", "created")
                self._event("outcome", new_id, ref, "created", rec.metric, {}, areas)
            elif changes := _diff(old, values):
                self.repo.update_rows(Outcome, [{"id": old["id"], **values}])
                self._count("outcomes", "updated")
                self._event("outcome", old["id"], ref, "updated", rec.metric, changes, areas)
            else:
                self._count("outcomes", "unchanged")
        for outcome_id in batch.removed_outcomes:
            old = by_id.get(outcome_id)
            if old is None:
                self._error(f"There is no outcome {outcome_id}.", "id", outcome_id)
                continue
            self.repo.delete_ids(Outcome, [outcome_id])
            self._count("outcomes", "deleted")
            name = old["metric"]
            held = self.held_services.get(old["service_id"], {})
            ref = f"{held.get('ref', old['service_id'])}: {name} {_json('', old['period_start']) or ''}"
            self._event("outcome", outcome_id, ref.strip(), "deleted", name, {},
                        self._held_areas(old["service_id"]))  # fmt: skip

    def _contacts(self, batch: Batch) -> None:
        existing = self.repo.contact_keys()
        by_id = {old["id"]: old for old in existing.values()}
        for rec in batch.contacts:
            self.progress.advance()
            values = {"name": rec.name, "email": rec.email, "phone": rec.phone, "demo": rec.demo,
                      "email_public": rec.email_public}  # fmt: skip
            ref = f"{rec.area_code}: {rec.role}"
            old = existing.get((rec.area_code, rec.role)) if rec.id is None else by_id.get(rec.id)
            if rec.id is not None:  # a stored contact, whose area and role may change
                if old is None:
                    self._error(f"There is no contact {rec.id}.", "id", rec.id)
                    continue
                clash = existing.get((rec.area_code, rec.role))
                if clash is not None and clash["id"] != rec.id:
                    self._error(f"There is already a contact '{ref}'.", "role", rec.role)
                    continue
                values.update(area_code=rec.area_code, role=rec.role)
            if old is None:
                row = {"area_code": rec.area_code, "role": rec.role, **values}
                new_id = self.repo.insert_returning_id(PatchContact, row)
                self._count("contacts", "created")
                self._event("contact", new_id, ref, "created", ref, {}, {rec.area_code})
            elif changes := _diff(old, values):
                self.repo.update_rows(PatchContact, [{"id": old["id"], **values}])
                self._count("contacts", "updated")
                # a private address never reaches the change feed
                published(changes, ("email",), (old.get("email_public"), values["email_public"]))
                areas = {rec.area_code, old["area_code"]}
                self._event("contact", old["id"], ref, "updated", ref, changes, areas)
            else:
                self._count("contacts", "unchanged")
        for contact_id in batch.removed_contacts:
            old = by_id.get(contact_id)
            if old is None:
                self._error(f"There is no contact {contact_id}.", "id", contact_id)
                continue
            self.repo.delete_ids(PatchContact, [contact_id])
            self._count("contacts", "deleted")
            ref = f"{old['area_code']}: {old['role']}"
            self._event("contact", contact_id, ref, "deleted", ref, {}, {old["area_code"]})


def _in_chunks(records: dict[str, T]) -> Iterator[dict[str, T]]:
    """``records`` in order, ``SERVICES_A_CHUNK`` at a time."""
    refs = list(records)
    for start in range(0, len(refs), SERVICES_A_CHUNK):
        yield {ref: records[ref] for ref in refs[start : start + SERVICES_A_CHUNK]}


def _spooled(records: list[Any] | Spool[Any]) -> bool:
    """Whether these records were read back from a sheet's spool (where each ref is there
    once: the sheet's reader refuses a service ref used again, and puts a grant's rows
    together)."""
    return isinstance(records, Spool)


def _record_chunks(records: Iterable[Any], *, unique: bool) -> Iterator[dict[str, Any]]:
    """The records (services or grants) by ref, ``SERVICES_A_CHUNK`` at a time: as they
    are read when each ref is there once (``unique``: a spool's, read back a chunk at a
    time), else a list's whole first (a later record of a ref replaces an earlier one, in
    its place)."""
    if not unique:
        yield from _in_chunks({rec.ref: rec for rec in records})
        return
    read = iter(records)
    while chunk := {rec.ref: rec for rec in itertools.islice(read, SERVICES_A_CHUNK)}:
        yield chunk


def _opportunities_step(writer: _Writer, batch: Batch, org_ids: dict[str, int]) -> None:
    """The batch's funding opportunities (the template's "Opportunities" sheet, the demo's),
    checked and written in the import's transaction (directory/ingest/opportunities.py).
    A full import replaces its source's opportunities only when the batch lists them
    (``Batch.lists_opportunities``: a workbook without the sheet, a CSV, another format
    leaves them as held, as a sheet without a column leaves its field)."""
    records = batch.opportunities
    full = writer.options.mode == "full" and (batch.lists_opportunities or bool(records))
    if not records and not full:
        return
    writer._step("{verb} opportunities", len(records))
    repo = OpportunityRepository(writer.repo.session)
    themes, programmes = repo.known_themes(), repo.programme_ids()
    for rec in records:
        for problem in opportunities.check(
            rec, themes=themes, areas=set(writer.snap.areas), programmes=programmes
        ):
            if rec.row is None:  # (the demo's): the record's own field names
                writer.problems.append(
                    replace(problem, message=f"Opportunity '{rec.ref}': {problem.message}")
                )
            else:  # the sheet's row and column, as the sheet's other problems
                writer.problems.append(replace(
                    problem, message=f"{opportunity_sheet.SHEET}: {problem.message}",
                    row=rec.row, column=opportunity_sheet.heading_of(problem.column),
                ))  # fmt: skip
    source = writer.options.source
    for row in repo.states(refs={rec.ref for rec in records}):  # held by another source
        if row.source != source:
            writer._taken("opportunities", row.ref, row.title, row.source, demo=bool(row.demo))
    if full:
        refs = {rec.ref for rec in records}
        holds = [row for row in repo.states(source=writer.options.source) if not row.withdrawn_at]
        gone = sum(1 for row in holds if row.ref not in refs)
        full = writer.withdrawals_allowed("opportunities", gone, len(holds))
    if writer._has_errors():
        raise _Rejected
    written = opportunities.write(
        repo, records, source=writer.options.source, at=writer.at, run_id=writer.run_id,
        full=full, org_ids=org_ids,
    )  # fmt: skip
    moved = writer.counts.get("opportunities", {}).get("moved")
    writer.counts["opportunities"] = written.counts | ({"moved": moved} if moved else {})
    for action, named in written.named.items():
        for ref, title in named:
            writer._name("opportunities", action, ref, title)
    writer.events.extend(written.events)
    writer.progress.advance(len(records))


def search_text(
    name: str, organisation: str | None, description: str | None, themes: list[str]
) -> str:
    """What text search looks in: the service's and organisation's names, the description
    and the theme names (kept on the service row so one index covers it), as its loose
    words, each after a space (``directory.store.words.indexed``: what the SQLite fallback
    and the patch compare)."""
    names = {t.id: t.name for t in taxonomy.themes()}
    parts = [name, organisation or "", description or "", *(names.get(t, t) for t in themes)]
    return indexed(" ".join(p for p in parts if p))


def _many(n: int, kind: str) -> str:
    """ "1 service", "2 services" (``kind`` is the plural: services, grants, opportunities)."""
    if n != 1:
        return f"{n:,} {kind}"
    return "1 " + ("opportunity" if kind == "opportunities" else kind.removesuffix("s"))


def _shortened(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` - 1 characters and "…" when it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@cache
def _length_limits(model: type) -> dict[str, int]:
    """Column name → the most characters it holds, for ``model``'s columns with a limit."""
    columns = model.__table__.columns  # type: ignore[attr-defined]
    return {
        column.key: limit
        for column in columns
        if (limit := getattr(column.type, "length", None)) is not None
    }


#: the longest ``entity_ref`` a change event holds: an outcome's is "<service ref>: <metric>
#: <period start>" (up to 473 characters), shortened to fit; a service's ref is at most 120
#: characters (``_check_lengths``), so its prefix, by which the service's history finds the
#: event, is always kept
_EVENT_REF_LENGTH = _length_limits(ChangeEvent)["entity_ref"]
