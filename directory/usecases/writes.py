"""Writes over the API: services, their delivery sites and outcomes, and patch contacts.

A write is an import of one record: the body's values are checked by the importer's own
parsers (``directory.ingest.values``: e-mail, web addresses, ages; ``context``: themes,
areas, postcodes), turned into the records a file would be read into
(``directory.ingest.records``) and written by :func:`directory.ingest.apply.import_batch`,
all or nothing, under the directory's write lock, by the geography the database holds
then (not the worker's snapshot, checked only every DIRECTORY_DATA_VERSION_TTL seconds).
So a write stores the rows and records the change events an import of the same record
would, each naming the API key that made it (``actor``); the run is recorded as an import
run of source ``api`` (format ``api``), and a write that changes something adds a data
release, so every worker's caches (the directory index, the data version's ETags) move on
as they do after an import.

An update leaves the record with the source that owns it (``keep_owner``): an editor's
correction does not take a service away from the feed that lists it. A write with any
error is a 422 naming its fields and leaves the database as it was (no failed run is
recorded: the answer is the record of it).

Who may write what: an ``editor``'s key belongs to one organisation and may change only
that organisation's services (and their sites and outcomes); it creates services for its
own organisation only. ``officer`` and ``admin`` keys may change any organisation's records,
and only they may change patch contacts. The role itself is checked by the web layer
(``requires_key``); the organisation here (403 ``wrong-organisation``).

Optimistic concurrency: each change of a record takes a ``precondition`` the web layer
gives (``If-Match`` against the record's current representation): it is called under the
write lock, after the record is found and the key's scope checked, so that two writers
racing on one record cannot both pass. No Flask here.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from directory.errors import (
    ContactNotFoundError,
    DatabaseReadOnlyError,
    DatabaseUnavailableError,
    DuplicateRefError,
    InvalidInputError,
    OrganisationNotFoundError,
    OutcomeNotFoundError,
    ServiceNotFoundError,
    SiteNotFoundError,
    WithdrawnError,
    WriteLockedError,
    WrongOrganisationError,
)
from directory.ingest.apply import ImportOptions, ImportReport, WriteRefused, import_batch
from directory.ingest.context import GeographyContext
from directory.ingest.records import (
    Batch,
    ContactRecord,
    LocationRecord,
    OutcomeRecord,
    Problem,
    ServiceRecord,
)
from directory.ingest.refresh import LockHeldError, acquire, holder_id, release
from directory.ingest.values import clean_text, parse_email, parse_url, parse_verified, slug
from directory.settings import Settings
from directory.store.db import Database
from directory.store.repositories.directory import (
    LOCATION_FIELDS,
    SERVICE_FIELDS,
    CatalogueQueries,
    DirectoryRepository,
)
from directory.store.repositories.geography import GeographyRepository
from directory.usecases.geography import GeographyCache, GeographySnapshot
from directory.usecases.keys import Principal

#: the source and format an API write is recorded under (its import run)
SOURCE = "api"
#: how long a write waits for the write lock (an import holding it) before a 409
LOCK_WAIT_SECONDS = 5.0
#: a record's ref: no spaces (as the template's Organisation ref), at most this long
MAX_REF = 120
_REF = re.compile(r"^\S+$")
REPORT_TYPES = ("interim", "final")

Precondition = Callable[[], Any]


@dataclass(frozen=True)
class Writer:
    """Who writes, and what a write needs of the application."""

    db: Database
    #: the request's snapshot; each write replaces it, under the write lock, with the
    #: geography the database holds then (:func:`_current`)
    snap: GeographySnapshot
    settings: Settings
    geography: GeographyCache
    principal: Principal
    #: the request, for the run's record: "PATCH /api/v1/services/12"
    request: str = ""
    #: the body as sent, for the run's checksum
    body: bytes = b""


# -- the write lock and the import of one record ------------------------------------------------


@contextmanager
def write_locked(db: Database) -> Iterator[None]:
    """Hold the directory's write lock, waiting a little for an import that has it: every
    write over the API reads, checks its If-Match and writes under it, so that two writes
    sent with the same ETag cannot both succeed (a row lock is no lock on SQLite)."""
    holder = holder_id()
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            lock = acquire(db, holder)
            break
        except LockHeldError as error:
            if time.monotonic() >= deadline:
                raise WriteLockedError(f"{error} Try again in a minute.") from None
            time.sleep(0.1)
    try:
        yield
    finally:
        release(db, holder, lock)


@contextmanager
def _current(writer: Writer) -> Iterator[Writer]:
    """Hold the write lock (:func:`write_locked`) with ``writer`` given the geography the
    database holds now. A worker checks its snapshot only every DIRECTORY_DATA_VERSION_TTL
    seconds: a write made after another process loaded new boundaries would otherwise check
    its areas and place its sites by the old ones (a site in the old ward until the next
    load), where an import at the same moment places by the new. A geography load takes the
    same lock, so the geography cannot change before the write commits."""
    with write_locked(writer.db):
        yield replace(writer, snap=writer.geography.current_of(writer.db))


def _apply(writer: Writer, batch: Batch, ctx: GeographyContext) -> ImportReport:
    options = ImportOptions(
        source=SOURCE, format=SOURCE, location=writer.request[:1000],
        checksum=hashlib.sha256(writer.body).hexdigest(), actor=writer.principal.name,
        keep_owner=True, record_failures=False, refresh_statistics=False,
    )  # fmt: skip
    try:
        report = import_batch(writer.db, writer.snap, writer.settings, batch, options, ctx)
    except WriteRefused as error:
        refused = DatabaseReadOnlyError if error.read_only else DatabaseUnavailableError
        raise refused(str(error)) from None
    finally:
        writer.geography.expire()  # this worker reads the new data version at once
    if report.status == "failed":
        raise _invalid([p for p in report.problems if p.severity == "error"])
    return report


#: the importer's column names → the API's field names
_FIELD_NAMES = {"referral": "who_can_refer", "location": "sites", "organisation": "organisation"}


def _invalid(problems: list[Problem]) -> InvalidInputError:
    errors: dict[str, list[str]] = {}
    for problem in problems:
        name = _FIELD_NAMES.get(problem.column or "", problem.column or "_schema")
        errors.setdefault(name, []).append(problem.message)
    return InvalidInputError(
        "The change was refused: " + " ".join(p.message for p in problems), errors=errors
    )


@dataclass
class _Checks:
    """The values of a body, checked by the importer's parsers; errors by field name."""

    body: dict[str, Any]
    ctx: GeographyContext
    errors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def text(self, name: str) -> str | None:
        return clean_text(self.body.get(name))

    def parsed(self, name: str, parser: Callable[[Any], Any]) -> Any:
        value = self.body.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            return parser(value)
        except ValueError as error:
            self.error(name, str(error))
            return None

    def listed(self, name: str, resolver: Callable[[str], list[str]]) -> list[str]:
        found: list[str] = []
        for item in self.body.get(name) or []:
            try:
                found += [code for code in resolver(item) if code not in found]
            except ValueError as error:
                self.error(name, str(error))
        return found

    def raise_any(self) -> None:
        if self.errors:
            raise InvalidInputError(
                "The request has invalid values: "
                + "; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items()),
                errors=self.errors,
            )


def _context(snap: GeographySnapshot, connection: Any) -> GeographyContext:
    """The importer's resolver of themes, areas and postcodes, on ``connection``."""
    return GeographyContext(snap, GeographyRepository(connection))


# -- services -------------------------------------------------------------------------------


def _held_service(db: Database, key: str, principal: Principal) -> tuple[str, dict[str, Any]]:
    """The service ``key`` names (id or ref) as the importer holds it, if this key may
    change it (404 service-not-found, 403 wrong-organisation)."""
    with db.engine.connect() as connection:
        service_id = CatalogueQueries(connection).service_id(key)
    if service_id is None:
        raise ServiceNotFoundError(f"No service has the id or ref {key!r}.")
    with db.session() as session:
        ((ref, state),) = DirectoryRepository(session).service_states([service_id]).items()
    _check_organisation(principal, state["organisation_id"], f"service '{ref}'")
    return ref, state


def _check_organisation(principal: Principal, organisation_id: int | None, what: str) -> None:
    """An editor's key changes its own organisation's records only."""
    if principal.role == "editor" and organisation_id != principal.organisation_id:
        raise WrongOrganisationError(
            f"This key ({principal.name}) is an editor's for another organisation: it may "
            f"change only its own organisation's records, and {what} is not one of them."
        )


def _record(ref: str, state: dict[str, Any]) -> ServiceRecord:
    """The record an import would read for the service as it is held."""
    return ServiceRecord(
        ref=ref,
        organisation_ref=state["organisation"],
        themes=list(state["themes"]),
        coverage=list(state["coverage"]),
        locations=[
            LocationRecord(**{f: loc[f] for f in LOCATION_FIELDS}) for loc in state["locations"]
        ],
        **{f: state[f] for f in SERVICE_FIELDS},
    )


def _ages(checks: _Checks, rec: ServiceRecord) -> None:
    if rec.min_age is not None and rec.max_age is not None and rec.min_age > rec.max_age:
        checks.error("min_age", f"min_age ({rec.min_age}) is more than max_age ({rec.max_age}).")


def _service_values(checks: _Checks, rec: ServiceRecord) -> ServiceRecord:
    """``rec`` with the body's service fields (those it sends) applied and checked."""
    body = checks.body
    values: dict[str, Any] = {}
    for name, attribute in (("name", "name"), ("description", "description"),
                            ("eligibility", "eligibility"), ("who_can_refer", "referral"),
                            ("phone", "phone")):  # fmt: skip
        if name in body:
            values[attribute] = checks.text(name)
    if "name" in body and values["name"] is None:
        checks.error("name", "A service needs a name.")
    for name in ("status", "min_age", "max_age"):
        if name in body:
            values[name] = body[name]
    if "last_verified" in body:
        values["last_verified"] = checks.parsed("last_verified", parse_verified)
    if "email" in body:
        values["email"] = checks.parsed("email", parse_email)
    if "website" in body:
        values["website"] = checks.parsed("website", parse_url)
    if "themes" in body:
        values["themes"] = checks.listed("themes", checks.ctx.themes)
    if "coverage" in body:
        values["coverage"] = checks.listed("coverage", checks.ctx.areas)
    changed = replace(rec, **values)
    _ages(checks, changed)
    return changed


def _placed(checks: _Checks, rec: ServiceRecord) -> None:
    """As the template says: a service must be findable by area."""
    if not rec.coverage and not any(loc.postcode or loc.lat is not None for loc in rec.locations):
        checks.error(
            "coverage",
            "Say which areas the service covers (coverage), or give it a site with a "
            "postcode: without either it cannot be found by area.",
        )


def create_service(writer: Writer, body: dict[str, Any]) -> str:
    """Add a service (``body`` as ServiceCreateSchema loaded it); returns its ref.
    An editor's service is its own organisation's; an officer or admin names one."""
    principal = writer.principal
    with _current(writer) as writer, writer.db.engine.connect() as connection:
        q = CatalogueQueries(connection)
        organisation = body.get("organisation")
        if principal.role == "editor":
            assert principal.organisation_id is not None
            if organisation is not None:  # it may name its own organisation, no other
                named = q.organisation_id(str(organisation))
                _check_organisation(principal, named, f"organisation '{organisation}'")
            organisation_id = principal.organisation_id
        else:
            if organisation is None:
                raise InvalidInputError(
                    "Say which organisation runs the service (its id or ref).",
                    errors={"organisation": ["Missing data for required field."]},
                )
            found = q.organisation_id(str(organisation))
            if found is None:
                raise OrganisationNotFoundError(
                    f"No organisation has the id or ref {organisation!r}."
                )
            organisation_id = found
        row = q.organisation(organisation_id)
        assert row is not None
        ref = body.get("ref") or f"{slug(body['name'])[:100]}-{secrets.token_hex(3)}"
        if q.service_id(ref) is not None:
            raise DuplicateRefError(f"Another service already has the ref {ref!r}.", ref=ref)
        checks = _Checks(body, _context(writer.snap, connection))
        rec = _service_values(checks, ServiceRecord(ref=ref, name="", organisation_ref=row.ref))
        for i, site in enumerate(body.get("sites") or []):  # (each new ref after the last's)
            rec.locations.append(_site(checks, rec, site, None, prefix=f"sites[{i}]."))
        refs = [loc.ref for loc in rec.locations]
        if len(set(refs)) != len(refs):
            checks.error("sites", "Two sites have the same ref.")
        _placed(checks, rec)
        checks.raise_any()
        _apply(writer, Batch(services=[rec]), checks.ctx)
    return ref


def update_service(
    writer: Writer, key: str, body: dict[str, Any], precondition: Precondition
) -> str:
    """Change a service's fields (those ``body`` sends; null clears one). A withdrawn
    service is changed only with ``"withdrawn": false`` (restored, as a re-import would)."""
    with _current(writer) as writer:
        ref, state = _held_service(writer.db, key, writer.principal)
        precondition()
        restore = body.get("withdrawn") is False
        if state["withdrawn_at"] is not None and not restore:
            raise WithdrawnError(
                f"Service '{ref}' is withdrawn: send \"withdrawn\": false to restore it (with "
                "any other change)."
            )
        if body.get("withdrawn") is True:
            if len(body) > 1:
                raise InvalidInputError(
                    'Send "withdrawn": true alone: a service is withdrawn as it stands.',
                    errors={"withdrawn": ["Send it alone, or change the service first."]},
                )
            if state["withdrawn_at"] is None:
                _withdraw(writer, ref, state)
            return ref
        with writer.db.engine.connect() as connection:
            checks = _Checks(body, _context(writer.snap, connection))
            rec = _service_values(checks, _record(ref, state))
            _placed(checks, rec)
            checks.raise_any()
            _apply(writer, Batch(services=[rec]), checks.ctx)
    return ref


def withdraw_service(writer: Writer, key: str, precondition: Precondition) -> str:
    """Withdraw a service (it stays, with ``withdrawn_at``, out of lists and patches, as a
    full import withdraws what its source no longer lists; PATCH restores it)."""
    with _current(writer) as writer:
        ref, state = _held_service(writer.db, key, writer.principal)
        precondition()
        if state["withdrawn_at"] is None:
            _withdraw(writer, ref, state)
    return ref


def _withdraw(writer: Writer, ref: str, state: dict[str, Any]) -> None:
    with writer.db.engine.connect() as connection:
        ctx = _context(writer.snap, connection)
        _apply(writer, Batch(withdrawn_services=[ref]), ctx)


# -- delivery sites ---------------------------------------------------------------------------


def _site(
    checks: _Checks, service: ServiceRecord, body: dict[str, Any], held: LocationRecord | None,
    *, prefix: str = "",
) -> LocationRecord:  # fmt: skip
    """A site from ``body`` (a new one, or ``held`` changed): the postcode placed through
    the geography, as an import places it."""
    site = replace(held) if held is not None else LocationRecord(ref="")
    sub = _Checks(body, checks.ctx)
    if held is None:
        site.ref = body.get("ref") or _new_site_ref(service)
    for name in ("name", "address"):
        if name in body:
            setattr(site, name, sub.text(name))
    if "postcode" in body:
        placed = sub.parsed("postcode", checks.ctx.postcode)
        site.postcode = None if placed is None else placed.postcode
        if "lat" not in body and "lon" not in body:  # placed at the new postcode
            site.lat, site.lon = (None, None) if placed is None else (placed.lat, placed.lon)
    if "lat" in body or "lon" in body:
        lat, lon = body.get("lat", site.lat), body.get("lon", site.lon)
        if (lat is None) != (lon is None):
            sub.error("lat", "Give both lat and lon, or neither.")
        else:
            site.lat, site.lon = lat, lon
    if not (site.postcode or site.lat is not None or site.name or site.address):
        sub.error("postcode", "A site needs a postcode, coordinates, a name or an address.")
    for name, messages in sub.errors.items():
        for message in messages:
            checks.error(prefix + name, message)
    return site


def _new_site_ref(service: ServiceRecord) -> str:
    taken = {loc.ref for loc in service.locations}
    n = len(taken) + 1
    while f"{service.ref}#site-{n}" in taken:
        n += 1
    return f"{service.ref}#site-{n}"


def _not_withdrawn(ref: str, state: dict[str, Any]) -> None:
    """409 service-withdrawn for a change to a withdrawn service's sites: written, it
    would restore the service (an import of the record lists it again) without saying so.
    (Its outcomes may still be reported: they do not restore it.)"""
    if state["withdrawn_at"] is not None:
        raise WithdrawnError(
            f"Service '{ref}' is withdrawn: restore it first (PATCH it with \"withdrawn\": "
            "false), then change its sites."
        )


def _site_of(rec: ServiceRecord, site_ref: str) -> LocationRecord:
    for loc in rec.locations:
        if loc.ref == site_ref:
            return loc
    raise SiteNotFoundError(f"Service '{rec.ref}' has no site {site_ref!r}.")


def add_site(writer: Writer, key: str, body: dict[str, Any]) -> tuple[str, str]:
    """Add a delivery site to a service; returns (service ref, site ref)."""
    with _current(writer) as writer:
        ref, state = _held_service(writer.db, key, writer.principal)
        _not_withdrawn(ref, state)
        rec = _record(ref, state)
        if body.get("ref") and any(loc.ref == body["ref"] for loc in rec.locations):
            raise DuplicateRefError(
                f"Service '{ref}' already has a site {body['ref']!r}.", ref=body["ref"]
            )
        with writer.db.engine.connect() as connection:
            checks = _Checks(body, _context(writer.snap, connection))
            site = _site(checks, rec, body, None)
            checks.raise_any()
            rec.locations.append(site)
            _apply(writer, Batch(services=[rec]), checks.ctx)
    return ref, site.ref


def update_site(
    writer: Writer, key: str, site_ref: str, body: dict[str, Any], precondition: Precondition
) -> str:
    with _current(writer) as writer:
        ref, state = _held_service(writer.db, key, writer.principal)
        rec = _record(ref, state)
        held = _site_of(rec, site_ref)
        precondition()
        _not_withdrawn(ref, state)
        with writer.db.engine.connect() as connection:
            checks = _Checks(body, _context(writer.snap, connection))
            site = _site(checks, rec, body, held)
            checks.raise_any()
            rec.locations = [site if loc.ref == site_ref else loc for loc in rec.locations]
            _apply(writer, Batch(services=[rec]), checks.ctx)
    return ref


def remove_site(writer: Writer, key: str, site_ref: str, precondition: Precondition) -> str:
    with _current(writer) as writer:
        ref, state = _held_service(writer.db, key, writer.principal)
        rec = _record(ref, state)
        _site_of(rec, site_ref)
        precondition()
        _not_withdrawn(ref, state)
        with writer.db.engine.connect() as connection:
            checks = _Checks({}, _context(writer.snap, connection))
            rec.locations = [loc for loc in rec.locations if loc.ref != site_ref]
            _placed(checks, rec)
            if checks.errors:
                checks.errors = {"site": checks.errors["coverage"]}
            checks.raise_any()
            _apply(writer, Batch(services=[rec]), checks.ctx)
    return ref


# -- outcomes -----------------------------------------------------------------------------------


def _outcome_values(checks: _Checks, rec: OutcomeRecord) -> OutcomeRecord:
    body = checks.body
    values: dict[str, Any] = {}
    if "metric" in body:
        values["metric"] = checks.text("metric")
        if values["metric"] is None:
            checks.error("metric", "Say what was measured.")
    for name in ("period_start", "period_end", "measured_on"):
        if name in body:
            values[name] = body[name]
    for name in ("value", "target"):
        if name in body:
            values[name] = None if body[name] is None else Decimal(str(body[name]))
    for name in ("unit", "report_type"):
        if name in body:
            values[name] = checks.text(name)
    if "report_url" in body:
        values["report_url"] = checks.parsed("report_url", parse_url)
    changed = replace(rec, **values)
    start, end = changed.period_start, changed.period_end
    if isinstance(start, date) and isinstance(end, date) and start > end:
        checks.error("period_end", f"The period ends ({end}) before it starts ({start}).")
    measured = changed.measured_on
    if isinstance(start, date) and isinstance(measured, date) and measured < start:
        checks.error(
            "measured_on", f"It was measured ({measured}) before its period starts ({start})."
        )
    return changed


def _held_outcome(writer: Writer, key: str, outcome_id: int) -> tuple[str, dict[str, Any], Any]:
    ref, state = _held_service(writer.db, key, writer.principal)
    with writer.db.engine.connect() as connection:
        row = CatalogueQueries(connection).outcome(state["id"], outcome_id)
    if row is None:
        raise OutcomeNotFoundError(f"Service '{ref}' has no outcome {outcome_id}.")
    return ref, state, row


def add_outcome(writer: Writer, key: str, body: dict[str, Any]) -> tuple[str, int]:
    """Add an outcome to a service; returns (service ref, outcome id)."""
    with _current(writer) as writer:
        ref, state = _held_service(writer.db, key, writer.principal)
        with writer.db.engine.connect() as connection:
            checks = _Checks(body, _context(writer.snap, connection))
            rec = _outcome_values(checks, OutcomeRecord(service_ref=ref, metric=""))
            checks.raise_any()
            q = CatalogueQueries(connection)
            before = {o.id for o in q.outcomes_of([state["id"]])[state["id"]]}
            if _same_outcome(q, state["id"], rec) is not None:
                raise DuplicateRefError(
                    f"Service '{ref}' already has an outcome '{rec.metric}' for that period: "
                    "change that one (PATCH) instead."
                )
            _apply(writer, Batch(outcomes=[rec]), checks.ctx)
        with writer.db.engine.connect() as connection:
            after = CatalogueQueries(connection).outcomes_of([state["id"]])[state["id"]]
    (new_id,) = {o.id for o in after} - before
    return ref, new_id


def _same_outcome(q: CatalogueQueries, service_id: int, rec: OutcomeRecord) -> int | None:
    for o in q.outcomes_of([service_id])[service_id]:
        if (o.metric, o.period_start, o.period_end) == (
            rec.metric, rec.period_start, rec.period_end
        ):  # fmt: skip
            return int(o.id)
    return None


def update_outcome(
    writer: Writer, key: str, outcome_id: int, body: dict[str, Any], precondition: Precondition
) -> str:
    with _current(writer) as writer:
        ref, _state, row = _held_outcome(writer, key, outcome_id)
        precondition()
        held = OutcomeRecord(
            service_ref=ref, metric=row.metric, period_start=row.period_start,
            period_end=row.period_end,
            value=None if row.value is None else Decimal(str(row.value)),
            target=None if row.target is None else Decimal(str(row.target)),
            unit=row.unit, report_type=row.report_type, report_url=row.report_url,
            measured_on=row.measured_on, demo=row.demo, id=row.id,
        )  # fmt: skip
        with writer.db.engine.connect() as connection:
            checks = _Checks(body, _context(writer.snap, connection))
            rec = _outcome_values(checks, held)
            checks.raise_any()
            _apply(writer, Batch(outcomes=[rec]), checks.ctx)
    return ref


def remove_outcome(writer: Writer, key: str, outcome_id: int, precondition: Precondition) -> str:
    with _current(writer) as writer:
        ref, _state, _row = _held_outcome(writer, key, outcome_id)
        precondition()
        with writer.db.engine.connect() as connection:
            ctx = _context(writer.snap, connection)
            _apply(writer, Batch(removed_outcomes=[outcome_id]), ctx)
    return ref


# -- patch contacts (officers and admins) --------------------------------------------------------


def _contact_values(checks: _Checks, rec: ContactRecord) -> ContactRecord:
    body = checks.body
    values: dict[str, Any] = {}
    if "area" in body:
        codes = checks.parsed("area", checks.ctx.areas) or []
        if len(codes) != 1 and "area" not in checks.errors:
            checks.error("area", "Name one area (a borough, BCU, ward or London).")
        values["area_code"] = codes[0] if codes else rec.area_code
    if "role" in body:
        values["role"] = checks.text("role")
        if values["role"] is None:
            checks.error("role", "Say what the contact is for (Borough SPOC, BCU lead …).")
    for name in ("name", "phone"):
        if name in body:
            values[name] = checks.text(name)
    if "email" in body:
        values["email"] = checks.parsed("email", parse_email)
    if "email_public" in body:
        values["email_public"] = bool(body["email_public"])
    return replace(rec, **values)


def _held_contact(writer: Writer, contact_id: int) -> Any:
    with writer.db.session() as session:
        held = {c["id"]: c for c in DirectoryRepository(session).contact_keys().values()}
    row = held.get(contact_id)
    if row is None:
        raise ContactNotFoundError(f"There is no patch contact {contact_id}.")
    return row


def add_contact(writer: Writer, body: dict[str, Any]) -> int:
    """Add a patch contact; returns its id. Its email is published only with
    ``email_public``."""
    with _current(writer) as writer, writer.db.engine.connect() as connection:
        checks = _Checks(body, _context(writer.snap, connection))
        rec = _contact_values(checks, ContactRecord(area_code="", role=""))
        checks.raise_any()
        with writer.db.session() as session:
            held = DirectoryRepository(session).contact_keys()
        if (rec.area_code, rec.role) in held:
            raise DuplicateRefError(
                f"There is already a '{rec.role}' contact for {rec.area_code}: change that "
                "one (PATCH) instead."
            )
        _apply(writer, Batch(contacts=[rec]), checks.ctx)
    with writer.db.session() as session:
        return int(DirectoryRepository(session).contact_keys()[(rec.area_code, rec.role)]["id"])


def update_contact(
    writer: Writer, contact_id: int, body: dict[str, Any], precondition: Precondition
) -> None:
    with _current(writer) as writer:
        row = _held_contact(writer, contact_id)
        precondition()
        held = ContactRecord(
            area_code=row["area_code"], role=row["role"], name=row["name"], email=row["email"],
            phone=row["phone"], demo=row["demo"], email_public=row["email_public"], id=row["id"],
        )  # fmt: skip
        with writer.db.engine.connect() as connection:
            checks = _Checks(body, _context(writer.snap, connection))
            rec = _contact_values(checks, held)
            checks.raise_any()
            _apply(writer, Batch(contacts=[rec]), checks.ctx)


def remove_contact(writer: Writer, contact_id: int, precondition: Precondition) -> None:
    with _current(writer) as writer:
        _held_contact(writer, contact_id)
        precondition()
        with writer.db.engine.connect() as connection:
            ctx = _context(writer.snap, connection)
            _apply(writer, Batch(removed_contacts=[contact_id]), ctx)
