"""SQL for the directory tables: organisations, services, grants, outcomes, contacts,
import runs, change events and locks.

Import support reads the whole directory as plain "state" dicts (the same shape the ingest
layer builds from records, so the two compare with ``==``) and writes in bulk.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    insert,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from directory.store.db import driver_error, streamed
from directory.store.models import (
    ChangeArea,
    ChangeEvent,
    DataRelease,
    Grant,
    GrantArea,
    GrantService,
    ImportRun,
    Location,
    Lock,
    Opportunity,
    Organisation,
    OrganisationAlias,
    Outcome,
    PatchContact,
    Postcode,
    Programme,
    Service,
    ServiceArea,
    ServiceTheme,
    Theme,
)
from directory.store.repositories import among, by_name, starts_a_word, wanted
from directory.store.words import NameWord, indexed, name_words

#: fields compared and written as-is, per entity (beside the related lists)
ORGANISATION_FIELDS = (
    "name", "type", "charity_number", "company_number", "size_band", "website", "email",
    "description", "demo",
)  # fmt: skip
SERVICE_FIELDS = (
    "name", "description", "status", "min_age", "max_age", "eligibility", "referral", "email",
    "phone", "website", "last_verified", "demo", "hsds_extras",
)  # fmt: skip
GRANT_FIELDS = (
    "title", "description", "programme", "amount", "currency", "awarded", "start", "end",
    "duration_months", "financial_year", "regrant_type", "parent_ref", "source_url", "demo",
)  # fmt: skip
LOCATION_FIELDS = ("ref", "name", "address", "postcode", "lat", "lon", "demo")
#: what a change event's ``locations`` names of each site, whoever records it (an import, a
#: write over the API, a geography load placing the sites again): one shape for a client
#: comparing a service's history, and where a site is as well as what it is, so a site
#: placed in another ward alone is a change too
SITE_STATE_FIELDS = (*LOCATION_FIELDS, "borough_code", "ward_code")
_CHUNK = 500


#: a patch contact as reads show it: its email only where the record says it may be
#: published (a named person's address is personal data; migration 0011)
def changes_recorded(entity: str, id_column: Any) -> Any:
    """How many change events the record has (its ``version``): every write records one,
    a change to a detail not published too, so a representation that shows it (and the
    ETag that hashes it) moves with every change, not only with what reads see."""
    return (
        select(func.count())
        .where(ChangeEvent.entity == entity, ChangeEvent.entity_id == id_column)
        .scalar_subquery()
    )


PUBLIC_CONTACT = select(
    *(c for c in PatchContact.__table__.c if c.key not in ("email", "email_public")),
    case((PatchContact.email_public, PatchContact.email), else_=None).label("email"),
    changes_recorded("contact", PatchContact.id).label("version"),
)


class GrantProvenance(NamedTuple):
    """Where a grant's record came from (:meth:`DirectoryRepository.grant_provenance`)."""

    source: str
    source_url: str | None
    #: the format and location of its source's latest import run that succeeded
    run_format: str | None
    run_location: str | None


class Held(NamedTuple):
    """A service or grant held in the directory, as an import sees those it does not list
    (:meth:`DirectoryRepository.held`)."""

    id: int
    source: str
    withdrawn: bool
    owner: int | None  # a service's organisation id (None for a grant)


#: rows fetched at a time when the index streams services and sites


def service_areas(state: dict[str, Any]) -> set[str]:
    """The area codes a change of a service (in the state :meth:`DirectoryRepository.service_states`
    reads) touches: its coverage and each of its sites' borough and ward."""
    areas = set(state.get("coverage", []))
    for loc in state.get("locations", []):
        areas.update(c for c in (loc.get("borough_code"), loc.get("ward_code")) if c)
    return areas


def _utc_now() -> datetime:
    """Now, naive UTC, as the store keeps every time (``datetime.now()`` is local time)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _table_rows(model: type, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` for one Core ``INSERT`` of ``model``'s table: every row with the same keys,
    a missing or None value given the column's scalar default (as an ORM bulk insert
    does by leaving the column out), else None; keys that name no column are dropped (as
    the ORM drops them).

    A Core insert sends the rows in a few multi-row statements. An ORM bulk insert groups
    consecutive rows by the keys whose values are not None and runs one statement per
    group, so rows with blanks in different columns (most real rows) went one statement
    for every few rows, and with RETURNING each statement's rows were spliced onto all the
    rows before them: most of an import's time at 50,000 services."""
    columns = model.__table__.columns  # type: ignore[attr-defined]
    keys = [key for key in dict.fromkeys(key for row in rows for key in row) if key in columns]
    defaults = {
        key: columns[key].default.arg
        for key in keys
        if columns[key].default is not None and columns[key].default.is_scalar
    }
    if not defaults and all(len(row) == len(keys) and all(k in row for k in keys) for row in rows):
        return list(rows)
    out = []
    for row in rows:
        filled = {key: row.get(key) for key in keys}
        for key, default in defaults.items():
            if filled[key] is None:
                filled[key] = default
        out.append(filled)
    return out


class DirectoryRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- taxonomy --------------------------------------------------------------------
    def sync_themes(self, rows: list[dict[str, Any]]) -> None:
        existing = {r.id: r for r in self.session.execute(select(Theme.__table__)).all()}
        for row in rows:
            old = existing.get(row["id"])
            if old is None:
                self.session.execute(insert(Theme), [row])
            elif (old.name, old.description) != (row["name"], row["description"]):
                self.session.execute(update(Theme).where(Theme.id == row["id"]).values(**row))

    def programme_classes(self) -> dict[str, tuple[str, str | None, bool]]:
        """Programme id → (name, funder_ref, community_safety)."""
        rows = self.session.execute(
            select(Programme.id, Programme.name, Programme.funder_ref, Programme.community_safety)
        ).all()
        return {r.id: (r.name, r.funder_ref, bool(r.community_safety)) for r in rows}

    def set_community_safety(self, flags: dict[str, bool]) -> None:
        for flag in (True, False):
            ids = [pid for pid, value in flags.items() if value is flag]
            if ids:
                self.session.execute(
                    update(Programme).where(Programme.id.in_(ids)).values(community_safety=flag)
                )

    def add_programmes(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(Programme), rows)

    def programmes(self) -> dict[str, Row[Any]]:
        return {r.id: r for r in self.session.execute(select(Programme.__table__)).all()}

    # -- state for imports -------------------------------------------------------------
    def organisation_states(self) -> dict[str, dict[str, Any]]:
        rows = self.session.execute(select(Organisation.__table__)).all()
        return {
            r.ref: {
                "id": r.id,
                "source": r.source,
                **{f: getattr(r, f) for f in ORGANISATION_FIELDS},
            }
            for r in rows
        }

    def organisation_aliases(self) -> list[Row[Any]]:
        """The organisations merged into others (``organisation_alias``), each with the ref
        of the organisation it names now (``organisation_ref``)."""
        return list(self.session.execute(alias_select()).all())

    def service_states(self, ids: Collection[int] | None = None) -> dict[str, dict[str, Any]]:
        """Every service (or those of ``ids``) as the importer compares them, by ref; ids
        are read ``_CHUNK`` at a time."""
        if ids is None:
            return self._service_states(None)
        states: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted(set(ids))):
            states.update(self._service_states(chunk))
        return states

    def _service_states(self, ids: Sequence[int] | None) -> dict[str, dict[str, Any]]:
        def of(column: Any) -> list[Any]:
            return [] if ids is None else [among(column, ids, self.session)]

        themes: dict[int, list[str]] = defaultdict(list)
        for service_id, theme_id in self.session.execute(
            select(ServiceTheme.service_id, ServiceTheme.theme_id).where(
                *of(ServiceTheme.service_id)
            )
        ):
            themes[service_id].append(theme_id)
        areas: dict[int, list[str]] = defaultdict(list)
        for service_id, code in self.session.execute(
            select(ServiceArea.service_id, ServiceArea.area_code).where(*of(ServiceArea.service_id))
        ):
            areas[service_id].append(code)
        locations: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in self.session.execute(
            select(Location.__table__).where(*of(Location.service_id))
        ).all():
            locations[r.service_id].append({f: getattr(r, f) for f in SITE_STATE_FIELDS})
        states = {}
        services = select(Service.__table__, Organisation.ref.label("organisation_ref")).join(
            Organisation, Organisation.id == Service.organisation_id
        )
        for r in self.session.execute(services.where(*of(Service.id))).all():
            states[r.ref] = {
                "id": r.id,
                "organisation_id": r.organisation_id,
                "source": r.source,
                "withdrawn_at": r.withdrawn_at,
                "organisation": r.organisation_ref,
                **{f: getattr(r, f) for f in SERVICE_FIELDS},
                "themes": sorted(themes[r.id]),
                "coverage": sorted(areas[r.id]),
                "locations": sorted(locations[r.id], key=lambda loc: loc["ref"]),
            }
        return states

    def held(self, model: type) -> dict[str, Held]:
        """Every service or grant (``model``) by ref, with only what an import needs of
        those it does not list (:class:`Held`): 200 bytes each, where a whole state
        (:meth:`service_states`) is 3 KB."""
        table = model.__table__  # type: ignore[attr-defined]
        owner = table.c.organisation_id if model is Service else null()
        sources: dict[str, str] = {}  # one copy of each source's name
        rows = self.session.execute(
            select(table.c.ref, table.c.id, table.c.source, table.c.withdrawn_at, owner)
        )
        return {
            ref: Held(id_, sources.setdefault(source, source), withdrawn is not None, owner_id)
            for ref, id_, source, withdrawn, owner_id in rows
        }

    def ids_by_ref(self, model: type, refs: Iterable[str]) -> dict[str, int]:
        """The ids of these services or grants (``model``) by ref, those that are held
        (in an import's transaction: with those it has written), a few hundred a statement."""
        table = model.__table__  # type: ignore[attr-defined]
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(set(refs))):
            rows = self.session.execute(
                select(table.c.ref, table.c.id).where(among(table.c.ref, chunk, self.session))
            )
            found.update((ref, id_) for ref, id_ in rows)
        return found

    def grant_parents(self) -> dict[str, str]:
        """Each grant paid through another (in an import's transaction: as it has written
        them): its ref → the ref of the grant it is paid through."""
        rows = self.session.execute(
            select(Grant.ref, Grant.parent_ref).where(Grant.parent_ref.is_not(None))
        )
        return {ref: parent for ref, parent in rows}

    def grant_states(self) -> dict[str, dict[str, Any]]:
        org_refs = dict(self.session.execute(select(Organisation.id, Organisation.ref)).all())
        service_refs = dict(self.session.execute(select(Service.id, Service.ref)).all())
        services: dict[int, list[str]] = defaultdict(list)
        for grant_id, service_id in self.session.execute(
            select(GrantService.grant_id, GrantService.service_id)
        ):
            services[grant_id].append(service_refs[service_id])
        areas: dict[int, list[str]] = defaultdict(list)
        for grant_id, code in self.session.execute(select(GrantArea.grant_id, GrantArea.area_code)):
            areas[grant_id].append(code)
        rows = self.session.execute(select(Grant.__table__)).all()
        return {r.ref: _grant_state(r, org_refs, services, areas) for r in rows}

    def grant_states_of(self, ids: Sequence[int]) -> dict[str, dict[str, Any]]:
        """:meth:`grant_states` of these grants only: each read by id, with the
        organisations, services and areas they name (nothing else is read)."""
        rows: list[Row[Any]] = []
        services: dict[int, list[str]] = defaultdict(list)
        areas: dict[int, list[str]] = defaultdict(list)
        for chunk in _chunks(list(ids)):
            rows += self.session.execute(
                select(Grant.__table__).where(among(Grant.id, chunk, self.session))
            ).all()
            linked = (
                select(GrantService.grant_id, Service.ref)
                .join(Service, Service.id == GrantService.service_id)
                .where(among(GrantService.grant_id, chunk, self.session))
            )
            for grant_id, ref in self.session.execute(linked):
                services[grant_id].append(ref)
            for grant_id, code in self.session.execute(
                select(GrantArea.grant_id, GrantArea.area_code).where(
                    among(GrantArea.grant_id, chunk, self.session)
                )
            ):
                areas[grant_id].append(code)
        named = sorted({r.funder_id for r in rows} | {r.recipient_id for r in rows})
        org_refs: dict[int, str] = {}
        for chunk in _chunks(named):
            org_refs.update(
                self.session.execute(
                    select(Organisation.id, Organisation.ref).where(
                        among(Organisation.id, chunk, self.session)
                    )
                ).all()
            )
        # an organisation gone since (demo remove): the grant is left to the caller to refuse
        return {
            r.ref: _grant_state(r, org_refs, services, areas)
            for r in rows
            if r.funder_id in org_refs and r.recipient_id in org_refs
        }

    def grants_modified(self, ids: Sequence[int] | None = None) -> dict[str, datetime]:
        """When each grant (or those of ``ids``) was last changed, by ref: its
        ``updated_at``, naive UTC as every time in the store (SQLite keeps the text it was
        given, PostgreSQL a ``timestamp without time zone``)."""
        query = select(Grant.ref, Grant.updated_at)
        if ids is None:
            return dict(self.session.execute(query).all())
        out: dict[str, datetime] = {}
        for chunk in _chunks(list(ids)):
            out.update(
                self.session.execute(query.where(among(Grant.id, chunk, self.session))).all()
            )
        return out

    def grant_provenance(self, ids: Sequence[int] | None = None) -> dict[str, GrantProvenance]:
        """Each grant's (or those of ``ids``) provenance, by ref: its source, its
        ``source_url``, and the format and location of its source's latest import run that
        succeeded (None for a source with none, as the demo's)."""
        done = ImportRun.status.in_(("succeeded", "unchanged"))
        latest = select(func.max(ImportRun.id)).where(done).group_by(ImportRun.source)
        runs = {
            r.source: (r.format, r.location)
            for r in self.session.execute(
                select(ImportRun.source, ImportRun.format, ImportRun.location).where(
                    ImportRun.id.in_(latest.scalar_subquery())
                )
            )
        }
        query = select(Grant.ref, Grant.source, Grant.source_url)
        rows: list[Row[Any]] = []
        if ids is None:
            rows = list(self.session.execute(query))
        else:
            for chunk in _chunks(list(ids)):
                rows += self.session.execute(
                    query.where(among(Grant.id, chunk, self.session))
                ).all()
        return {
            r.ref: GrantProvenance(r.source, r.source_url, *runs.get(r.source, (None, None)))
            for r in rows
        }

    def organisation_states_of(self, refs: Collection[str]) -> dict[str, dict[str, Any]]:
        """:meth:`organisation_states` of these refs only."""
        out: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted(set(refs))):
            for r in self.session.execute(
                select(Organisation.__table__).where(among(Organisation.ref, chunk, self.session))
            ):
                out[r.ref] = {
                    "id": r.id, "source": r.source,
                    **{f: getattr(r, f) for f in ORGANISATION_FIELDS},
                }  # fmt: skip
        return out

    # -- writing organisations, services, grants ----------------------------------------
    def insert_returning_ids(self, model: type, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Insert rows that have a unique ``ref``; return ref → new id."""
        ids: dict[str, int] = {}
        table = model.__table__  # type: ignore[attr-defined]
        if self._copies():
            numbered = [
                {**row, "id": id_}
                for row, id_ in zip(_table_rows(model, rows), self._new_ids(table, len(rows)), strict=True)
            ]  # fmt: skip
            self._copy(table, numbered)
            return {row["ref"]: row["id"] for row in numbered}
        for chunk in _chunks(_table_rows(model, rows)):
            result = self.session.execute(insert(table).returning(table.c.id, table.c.ref), chunk)
            ids.update({ref: id_ for id_, ref in result})
        return ids

    def insert_returning_id(self, model: type, row: dict[str, Any]) -> int:
        return int(self.session.execute(insert(model).returning(model.id), [row]).scalar_one())  # type: ignore[attr-defined]

    def update_rows(self, model: type, rows: list[dict[str, Any]]) -> None:
        """Update by primary key ``id`` (each row carries its id and the columns to set)."""
        for row in rows:
            values = {k: v for k, v in row.items() if k != "id"}
            self.session.execute(update(model).where(model.id == row["id"]).values(**values))  # type: ignore[attr-defined]

    # -- where the sites are (re-placed when the geography changes) ---------------------------
    def site_places(self) -> Sequence[Row[Any]]:
        """Every site with its service's ref, its place as stored, and where its postcode is
        in the geography loaded now (``postcode_lat``/``postcode_lon``, None when the
        postcode is not held): a site at its postcode's point was placed by it."""
        return self.session.execute(
            select(
                Location.id, Location.service_id, Service.ref.label("service_ref"), Location.ref,
                Location.postcode,
                Location.lat, Location.lon, Location.easting, Location.northing,
                Location.borough_code, Location.ward_code, Location.cell,
                Postcode.lat.label("postcode_lat"), Postcode.lon.label("postcode_lon"),
            )
            .join(Service, Service.id == Location.service_id)
            .outerjoin(Postcode, Postcode.canonical == Location.postcode)
            .order_by(Location.id)
        ).all()  # fmt: skip

    def set_site_places(self, rows: Sequence[dict[str, Any]]) -> None:
        """Set each site's point, cell, borough and ward (``rows`` carry ``site_id`` and all
        seven), a thousand sites a statement."""
        table = Location.__table__
        columns = ("lat", "lon", "easting", "northing", "borough_code", "ward_code", "cell")
        statement = (
            update(table)
            .where(table.c.id == bindparam("site_id"))
            .values({c: bindparam(f"new_{c}") for c in columns})
        )
        for chunk in _chunks(list(rows), 1000):
            self.session.execute(
                statement,
                [{"site_id": r["site_id"], **{f"new_{c}": r[c] for c in columns}} for r in chunk],
            )

    def coverage_codes(self) -> set[str]:
        """The area codes services' coverage names."""
        return set(self.session.execute(select(ServiceArea.area_code).distinct()).scalars())

    def services_covering(self, codes: Collection[str]) -> list[tuple[str, str]]:
        """(service ref, area code) of the services not withdrawn whose coverage names one
        of ``codes``, by ref."""
        return self._naming(Service, ServiceArea, ServiceArea.service_id, codes)

    def grant_area_codes(self) -> set[str]:
        """The area codes grants name (their beneficiary areas)."""
        return set(self.session.execute(select(GrantArea.area_code).distinct()).scalars())

    def grants_naming(self, codes: Collection[str]) -> list[tuple[str, str]]:
        """(grant ref, area code) of the grants not withdrawn that name one of ``codes``
        among their areas, by ref."""
        return self._naming(Grant, GrantArea, GrantArea.grant_id, codes)

    def _naming(
        self, owner: Any, areas: Any, owner_id: Any, codes: Collection[str]
    ) -> list[tuple[str, str]]:
        """(ref, area code) of the ``owner`` rows not withdrawn whose ``areas`` rows (joined
        by ``owner_id``) name one of ``codes``, by ref."""
        if not codes:
            return []
        return [
            (row.ref, row.area_code)
            for row in self.session.execute(
                select(owner.ref, areas.area_code)
                .join(areas, owner_id == owner.id)
                .where(areas.area_code.in_(sorted(codes)), owner.withdrawn_at.is_(None))
                .order_by(owner.ref, areas.area_code)
            )
        ]

    def replace_children(
        self, model: type, key: str, ids: Sequence[int], rows: list[dict[str, Any]]
    ) -> None:
        """Delete the child rows of ``ids`` (by the ``key`` column) and insert ``rows``."""
        column = getattr(model, key)
        for chunk in _chunks(list(ids)):
            self.session.execute(delete(model).where(among(column, chunk, self.session)))
        self.insert_rows(model, rows)

    def sync_children(
        self, model: type, key: str, ids: Sequence[int], rows: list[dict[str, Any]],
        match: tuple[str, ...],
    ) -> None:  # fmt: skip
        """Make the child rows of ``ids`` (by the ``key`` column) be ``rows``, as
        :meth:`replace_children` does, but keep the id of a held child whose ``match``
        columns a row has (``service_id``, ``ref`` for a site): it is updated in place when
        its values differ, so a site's id, and the OGC feature and links made from it,
        outlive an edit or a re-import of its service. Held children no row matches are
        deleted, rows no child matches inserted."""
        column = getattr(model, key)
        table = model.__table__  # type: ignore[attr-defined]
        held: dict[tuple[Any, ...], dict[str, Any]] = {}
        for chunk in _chunks(list(ids)):
            for r in self.session.execute(select(table).where(among(column, chunk, self.session))):
                child = r._asdict()
                held[tuple(child[c] for c in match)] = child
        updates, inserts = [], []
        for row in rows:
            child = held.pop(tuple(row[c] for c in match), None)
            if child is None:
                inserts.append(row)
            elif any(child.get(k) != v for k, v in row.items()):
                updates.append({"id": child["id"], **row})
        for chunk in _chunks([child["id"] for child in held.values()]):
            self.session.execute(delete(model).where(among(model.id, chunk, self.session)))  # type: ignore[attr-defined]
        self.update_rows(model, updates)
        self.insert_rows(model, inserts)

    def set_withdrawn(self, model: type, ids: Sequence[int], at: datetime | None) -> None:
        for chunk in _chunks(list(ids)):
            self.session.execute(
                update(model)
                .where(among(model.id, chunk, self.session))
                .values(withdrawn_at=at, updated_at=at or _utc_now())  # type: ignore[attr-defined]
            )

    def outcome_keys(self) -> dict[tuple[Any, ...], dict[str, Any]]:
        rows = self.session.execute(select(Outcome.__table__)).all()
        return {(r.service_id, r.metric, r.period_start, r.period_end): r._asdict() for r in rows}

    def contact_keys(self) -> dict[tuple[str, str], dict[str, Any]]:
        rows = self.session.execute(select(PatchContact.__table__)).all()
        return {(r.area_code, r.role): r._asdict() for r in rows}

    def insert_rows(self, model: type, rows: list[dict[str, Any]]) -> None:
        table = model.__table__  # type: ignore[attr-defined]
        if self._copies():
            self._copy(table, _table_rows(model, rows))
            return
        for chunk in _chunks(_table_rows(model, rows), 2000):
            self.session.execute(insert(table), chunk)

    # On PostgreSQL, bulk rows go by COPY, in the import's transaction: a multi-row INSERT
    # of thousands of rows is parsed by psycopg client-side for every statement (most of a
    # 100,000-service import's time). New ids are taken from the table's sequence first.
    def _copies(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def _new_ids(self, table: Any, count: int) -> list[int]:
        if count == 0:
            return []
        name = self.session.get_bind().dialect.identifier_preparer.format_table(table)
        return list(
            self.session.execute(
                text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                {"table": name, "n": count},
            ).scalars()
        )  # fmt: skip

    def _copy(self, table: Any, rows: list[dict[str, Any]]) -> None:
        """COPY ``rows`` (every row with the same keys) into ``table``."""
        if not rows:
            return
        keys = list(rows[0])
        preparer = self.session.get_bind().dialect.identifier_preparer
        json_columns = {k for k in keys if isinstance(table.c[k].type, JSON)}
        statement = (
            f"COPY {preparer.format_table(table)} "
            f"({', '.join(preparer.quote(k) for k in keys)}) FROM STDIN"
        )
        dialect = self.session.get_bind().dialect
        cursor = self.session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([
                        None if (v := row[k]) is None else json.dumps(v) if k in json_columns else v
                        for k in keys
                    ])  # fmt: skip
        except dialect.loaded_dbapi.Error as error:
            # the driver's own, past SQLAlchemy: raised as SQLAlchemy raises every other
            # database error (DataError, OperationalError...), which the import answers; a
            # lost connection invalidated, as SQLAlchemy would
            raise driver_error(self.session.connection(), error, statement) from error
        finally:
            cursor.close()

    # -- runs, events, versions -----------------------------------------------------------
    def add_run(self, values: dict[str, Any]) -> int:
        return int(
            self.session.execute(insert(ImportRun).returning(ImportRun.id), [values]).scalar_one()
        )

    def finish_run(self, run_id: int, values: dict[str, Any]) -> None:
        self.session.execute(update(ImportRun).where(ImportRun.id == run_id).values(**values))

    def add_events(self, events: list[dict[str, Any]]) -> None:
        """Insert change events (each with an ``areas`` list) and their area rows."""
        area_rows: list[dict[str, Any]] = []
        table = ChangeEvent.__table__
        if self._copies():
            ids = self._new_ids(table, len(events))
            self._copy(table, _table_rows(ChangeEvent, [
                {**{k: v for k, v in e.items() if k != "areas"}, "id": id_}
                for e, id_ in zip(events, ids, strict=True)
            ]))  # fmt: skip
            self._copy(ChangeArea.__table__, [
                {"event_id": id_, "area_code": c}
                for e, id_ in zip(events, ids, strict=True) for c in sorted(set(e["areas"]))
            ])  # fmt: skip
            return
        keyed = insert(table).returning(table.c.id, table.c.entity, table.c.entity_id)
        in_order = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        for chunk in _chunks(events):
            values = _table_rows(
                ChangeEvent, [{k: v for k, v in e.items() if k != "areas"} for e in chunk]
            )
            # each event's id, so its areas go with it: by (entity, entity_id), one event
            # each in an import, from a few multi-row statements (rows come back in no set
            # order); else in the order given (on SQLite a statement a row)
            keys = [(e["entity"], e["entity_id"]) for e in chunk]
            if len(set(keys)) == len(keys):
                found = {(r.entity, r.entity_id): r.id for r in self.session.execute(keyed, values)}
                ids = [found[key] for key in keys]
            else:
                ids = self.session.execute(in_order, values).scalars().all()
            for event_id, event in zip(ids, chunk, strict=True):
                area_rows.extend(
                    {"event_id": event_id, "area_code": c} for c in sorted(set(event["areas"]))
                )
        self.insert_rows(ChangeArea, area_rows)

    def add_data_release(
        self, *, label: str, checksum: str, details: dict[str, Any], at: datetime
    ) -> None:
        self.session.execute(
            insert(DataRelease),
            [
                {
                    "dataset": "directory",
                    "label": label,
                    "checksum": checksum,
                    "details": details,
                    "loaded_at": at,
                }
            ],
        )

    # -- taking a source's records out (``directory demo remove``) ---------------------------
    def runs_of(self, sources: Collection[str]) -> list[int]:
        """The ids of the import runs of these sources."""
        return list(
            self.session.execute(
                select(ImportRun.id).where(ImportRun.source.in_(sources))
            ).scalars()
        )

    def services_of(self, sources: Collection[str]) -> list[dict[str, Any]]:
        """The services these sources own (last wrote), each with the areas its coverage and
        sites name (for the change events of their removal)."""
        rows = self.session.execute(
            select(Service.id, Service.ref, Service.name, Service.withdrawn_at)
            .where(Service.source.in_(sources)).order_by(Service.id)
        ).all()  # fmt: skip
        areas: dict[int, set[str]] = defaultdict(set)
        ids = [r.id for r in rows]
        for chunk in _chunks(ids):
            for sid, code in self.session.execute(
                select(ServiceArea.service_id, ServiceArea.area_code).where(
                    among(ServiceArea.service_id, chunk, self.session)
                )
            ):
                areas[sid].add(code)
            for loc in self.session.execute(
                select(Location.service_id, Location.borough_code, Location.ward_code).where(
                    among(Location.service_id, chunk, self.session)
                )
            ):
                areas[loc.service_id].update(c for c in (loc.borough_code, loc.ward_code) if c)
        return [{**r._asdict(), "areas": areas[r.id]} for r in rows]

    def grants_of_sources(self, sources: Collection[str]) -> list[dict[str, Any]]:
        """The grants these sources own, each with its beneficiary areas."""
        rows = self.session.execute(
            select(Grant.id, Grant.ref, Grant.title, Grant.withdrawn_at)
            .where(Grant.source.in_(sources)).order_by(Grant.id)
        ).all()  # fmt: skip
        areas: dict[int, set[str]] = defaultdict(set)
        for chunk in _chunks([r.id for r in rows]):
            for gid, code in self.session.execute(
                select(GrantArea.grant_id, GrantArea.area_code).where(
                    among(GrantArea.grant_id, chunk, self.session)
                )
            ):
                areas[gid].add(code)
        return [{**r._asdict(), "areas": areas[r.id]} for r in rows]

    def _made_only_by(self, entity: str, runs: Collection[int]) -> set[int]:
        """The ids of the ``entity`` records a change event of ``runs`` created and no change
        event of any other run (or of none) has touched since."""
        made = select(ChangeEvent.entity_id).where(
            ChangeEvent.entity == entity,
            ChangeEvent.action == "created",
            ChangeEvent.import_run_id.in_(runs),
        )
        others = select(ChangeEvent.entity_id).where(
            ChangeEvent.entity == entity,
            or_(ChangeEvent.import_run_id.is_(None), ChangeEvent.import_run_id.not_in(runs)),
        )
        return set(self.session.execute(made.except_(others)).scalars())

    def outcomes_to_remove(
        self, service_ids: Collection[int], runs: Collection[int]
    ) -> list[dict[str, Any]]:
        """The outcomes of these services, and those the runs made and nobody else touched
        (of services that stay), each with its service's coverage."""
        made = self._made_only_by("outcome", runs)
        rows = self.session.execute(
            select(Outcome.id, Outcome.service_id, Outcome.metric, Service.ref.label("service_ref"))
            .join(Service, Service.id == Outcome.service_id).order_by(Outcome.id)
        ).all()  # fmt: skip
        chosen = [r for r in rows if r.service_id in service_ids or r.id in made]
        coverage: dict[int, set[str]] = defaultdict(set)
        for chunk in _chunks(sorted({r.service_id for r in chosen})):
            for sid, code in self.session.execute(
                select(ServiceArea.service_id, ServiceArea.area_code).where(
                    among(ServiceArea.service_id, chunk, self.session)
                )
            ):
                coverage[sid].add(code)
        return [{**r._asdict(), "areas": coverage[r.service_id]} for r in chosen]

    def contacts_to_remove(self, runs: Collection[int]) -> list[dict[str, Any]]:
        """The patch contacts the runs made and nobody else changed since."""
        made = self._made_only_by("contact", runs)
        rows = self.session.execute(
            select(PatchContact.id, PatchContact.area_code, PatchContact.role).order_by(
                PatchContact.id
            )
        ).all()
        return [r._asdict() for r in rows if r.id in made]

    def organisations_to_remove(
        self, runs: Collection[int], service_ids: Collection[int], grant_ids: Collection[int]
    ) -> list[dict[str, Any]]:
        """The organisations the runs made and nobody else changed since, that no service
        or grant staying in the directory names (as runner, funder or recipient)."""
        made = self._made_only_by("organisation", runs)
        named: set[int] = set()
        for sid, org in self.session.execute(select(Service.id, Service.organisation_id)):
            if sid not in service_ids:
                named.add(org)
        for gid, funder, recipient in self.session.execute(
            select(Grant.id, Grant.funder_id, Grant.recipient_id)
        ):
            if gid not in grant_ids:
                named.update((funder, recipient))
        rows = self.session.execute(
            select(Organisation.id, Organisation.ref, Organisation.name).order_by(Organisation.id)
        ).all()
        return [r._asdict() for r in rows if r.id in made and r.id not in named]

    def orphan_programmes(self, keep: Collection[str], leaving: Collection[int]) -> list[str]:
        """Programmes no grant names once the grants ``leaving`` are gone, other than
        ``keep`` (directory/data/programmes.csv's)."""
        named = {
            programme
            for gid, programme in self.session.execute(
                select(Grant.id, Grant.programme_id).where(Grant.programme_id.is_not(None))
            )
            if gid not in leaving
        }
        held = self.session.execute(select(Programme.id).order_by(Programme.id)).scalars()
        return [p for p in held if p not in named and p not in keep]

    def delete_ids(self, model: type, ids: Sequence[Any], column: str = "id") -> None:
        """Delete the rows of ``model`` whose ``column`` is one of ``ids``."""
        key = getattr(model, column)
        for chunk in _chunks(list(ids)):
            self.session.execute(delete(model).where(among(key, chunk, self.session)))

    # -- locks --------------------------------------------------------------------------
    def acquire_lock(self, name: str, holder: str, at: datetime) -> Row[Any] | None:
        """Take the named lock; return None on success or the row of whoever holds it."""
        try:
            with self.session.begin_nested():
                self.session.execute(
                    insert(Lock), [{"name": name, "holder": holder, "acquired_at": at}]
                )
            return None
        except IntegrityError:
            held = self.session.execute(select(Lock.__table__).where(Lock.name == name)).first()
            if held is None:  # released between the two statements: try once more
                return self.acquire_lock(name, holder, at)
            return held

    def lock_row(self, name: str) -> Row[Any] | None:
        """The named lock's row (holder, acquired_at), None when there is none."""
        return self.session.execute(select(Lock.__table__).where(Lock.name == name)).first()

    def advisory_lock_held(self, key: int) -> bool:
        """PostgreSQL: whether any session holds the session advisory lock ``key`` now
        (``pg_locks``: a bigint key is its high and low 32 bits, ``objsubid`` 1)."""
        held = self.session.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = :high AND objid = :low AND objsubid = 1 AND granted)"
            ),
            {"high": key >> 32, "low": key & 0xFFFFFFFF},
        ).scalar()
        return bool(held)

    def release_lock(self, name: str, holder: str | None = None) -> int:
        statement = delete(Lock).where(Lock.name == name)
        if holder is not None:
            statement = statement.where(Lock.holder == holder)
        return self.session.execute(statement).rowcount or 0  # type: ignore[attr-defined]

    # -- counts -------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        def count(model: type, *where: Any) -> int:
            return int(
                self.session.execute(
                    select(func.count()).select_from(model).where(*where)
                ).scalar_one()
            )

        return {
            "organisations": count(Organisation),
            "services": count(Service, Service.withdrawn_at.is_(None)),
            "services_withdrawn": count(Service, Service.withdrawn_at.is_not(None)),
            "grants": count(Grant, Grant.withdrawn_at.is_(None)),
            "grants_withdrawn": count(Grant, Grant.withdrawn_at.is_not(None)),
            "locations": count(Location),
            "outcomes": count(Outcome),
            "patch_contacts": count(PatchContact),
            "change_events": count(ChangeEvent),
            "import_runs": count(ImportRun),
        }


MAX_ID = 2**31 - 1  # ids are INTEGER columns


def as_id(key: str) -> int | None:
    """The row id ``key`` names, as the API writes ids: ASCII decimal digits without a
    leading zero, at most MAX_ID; else None. (``str.isdigit`` and ``int`` also take "²" and
    "١", the first failing in ``int``, and "00001" would answer at a second URL.)"""
    if not (key.isascii() and key.isdigit()) or (key.startswith("0") and key != "0"):
        return None
    return int(key) if len(key) <= len(str(MAX_ID)) and int(key) <= MAX_ID else None


def alias_select() -> Any:
    """The aliases, each with the ref and name of the organisation it names now."""
    return select(
        OrganisationAlias.__table__,
        Organisation.ref.label("organisation_ref"),
        Organisation.name.label("organisation_name"),
    ).join(Organisation, Organisation.id == OrganisationAlias.organisation_id)


def find_alias(connection: Any, key: str) -> Row[Any] | None:
    """The alias ``key`` names: a merged organisation's ref (as given, else in another
    case when only one has it), else its old numeric id (the newest merge of that id)."""
    found = connection.execute(alias_select().where(OrganisationAlias.ref == key)).first()
    if found is None:
        rows = connection.execute(
            alias_select().where(func.lower(OrganisationAlias.ref) == key.lower()).limit(2)
        ).all()
        found = rows[0] if len(rows) == 1 else None
    if found is None and (number := as_id(key)) is not None:
        found = connection.execute(
            alias_select()
            .where(OrganisationAlias.old_id == number)
            .order_by(OrganisationAlias.merged_at.desc())
            .limit(1)
        ).first()
    return found


def _lower_contains(column: Any, word: str) -> Any:
    """``column`` contains ``word`` (given in lower case), ignoring case; LIKE's % and _ in
    the word are escaped. Works on SQLite and PostgreSQL alike."""
    return func.lower(column).contains(word, autoescape=True)


@dataclass(frozen=True, slots=True)
class GrantStatusDates:
    """Derived grant statuses (any of them) and the dates they depend on: ``soon`` is
    ``today`` plus the ending-soon window."""

    statuses: tuple[str, ...]
    today: date
    soon: date


def _grant_state(
    r: Row[Any], org_refs: dict[int, str], services: dict[int, list[str]],
    areas: dict[int, list[str]],
) -> dict[str, Any]:  # fmt: skip
    values = {f: getattr(r, f) for f in GRANT_FIELDS if f not in ("programme", "amount")}
    return {
        "id": r.id,
        "source": r.source,
        "withdrawn_at": r.withdrawn_at,
        "funder": org_refs[r.funder_id],
        "recipient": org_refs[r.recipient_id],
        **values,
        "programme": r.programme_id,
        "amount": r.amount_pence,
        "services": sorted(services[r.id]),
        "areas": sorted(areas[r.id]),
    }


def _grant_status_clause(s: GrantStatusDates) -> Any:
    """The grants whose status on ``s.today`` is any of ``s.statuses``, by their dates: the
    same rules as directory.usecases.catalogue.grant_flags, in its order (planned, then
    ended, ending soon, live; unknown without dates)."""
    started = or_(Grant.start.is_(None), Grant.start <= s.today)

    def one(status: str) -> Any:
        if status == "planned":
            return Grant.start > s.today
        if status == "ended":
            return and_(started, Grant.end < s.today)
        if status == "ending soon":
            return and_(started, Grant.end >= s.today, Grant.end <= s.soon)
        if status == "live":
            return and_(
                started,
                or_(and_(Grant.end.is_(None), Grant.start.is_not(None)), Grant.end > s.soon),
            )
        if status == "unknown":
            return and_(Grant.start.is_(None), Grant.end.is_(None))
        raise ValueError(f"not a grant status: {status!r}")

    return or_(*(one(status) for status in s.statuses))


class CatalogueQueries:
    """Read-only queries behind the directory's endpoints (Core selects, plain rows)."""

    def __init__(self, connection: Any) -> None:
        self.db = connection

    # -- services ---------------------------------------------------------------------
    def _find(self, model: Any, key: str) -> int | None:
        """Records are addressed by their source's ref or by numeric id; a ref wins (a
        source may use "2" as a ref)."""
        found = self.db.execute(select(model.id).where(model.ref == key)).scalar()
        if found is None and (number := as_id(key)) is not None:
            found = self.db.execute(select(model.id).where(model.id == number)).scalar()
        return found  # type: ignore[no-any-return]

    def service_id(self, key: str) -> int | None:
        return self._find(Service, key)

    def services(self, ids: Sequence[int]) -> list[Row[Any]]:
        return self.db.execute(self._service_select().where(Service.id.in_(list(ids)))).all()

    @staticmethod
    def _service_select() -> Any:
        return select(
            Service.__table__,
            Organisation.ref.label("organisation_ref"),
            Organisation.name.label("organisation_name"),
            Organisation.type.label("organisation_type"),
        ).join(Organisation, Organisation.id == Service.organisation_id)

    def _page(
        self, model: Any, statement: Any, where: list[Any], offset: int, limit: int | None
    ) -> tuple[list[Row[Any]], int]:
        """One page of ``statement`` under the filters, and how many rows match in all."""
        total = self.db.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
        rows = self.db.execute(statement.where(*where).offset(offset).limit(limit)).all()
        return rows, int(total)

    def _grouped(
        self, key: Any, statement: Any, ids: Sequence[int], value: Any = None
    ) -> dict[int, list[Any]]:
        """Rows of ``statement`` for the ids (in chunks), grouped by the ``key`` column: the
        whole rows, or the ``value`` column of each."""
        out: dict[int, list[Any]] = defaultdict(list)
        for chunk in _chunks(list(ids)):
            for row in self.db.execute(statement.where(among(key, chunk, self.db))):
                out[getattr(row, key.key)].append(row if value is None else getattr(row, value.key))
        return out

    def themes_of(self, ids: Sequence[int]) -> dict[int, list[str]]:
        statement = select(ServiceTheme.service_id, ServiceTheme.theme_id).order_by(
            ServiceTheme.theme_id
        )
        return self._grouped(ServiceTheme.service_id, statement, ids, ServiceTheme.theme_id)

    def coverage_of(self, ids: Sequence[int]) -> dict[int, list[str]]:
        statement = select(ServiceArea.service_id, ServiceArea.area_code).order_by(
            ServiceArea.area_code
        )
        return self._grouped(ServiceArea.service_id, statement, ids, ServiceArea.area_code)

    def locations_of(self, ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
        statement = select(Location.__table__).order_by(Location.ref)
        return self._grouped(Location.service_id, statement, ids)

    def grants_of(self, ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
        statement = (
            self._grant_select()
            .add_columns(GrantService.service_id)
            .join(GrantService, GrantService.grant_id == Grant.id)
            .where(Grant.withdrawn_at.is_(None))
            .order_by(Grant.start.desc(), Grant.id)
        )
        return self._grouped(GrantService.service_id, statement, ids)

    def outcomes_of(self, ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
        statement = select(Outcome.__table__).order_by(Outcome.period_start, Outcome.metric)
        return self._grouped(Outcome.service_id, statement, ids)

    def contacts_for(self, codes: Iterable[str]) -> list[Row[Any]]:
        return self.db.execute(
            PUBLIC_CONTACT.where(PatchContact.area_code.in_(sorted(set(codes)))).order_by(
                PatchContact.area_code, PatchContact.role
            )
        ).all()

    def contact(self, contact_id: int) -> Row[Any] | None:
        """One patch contact, as reads show it (a private email is None)."""
        if contact_id > MAX_ID:  # (SQLite cannot bind an int past 2**63: no row has one)
            return None
        return self.db.execute(PUBLIC_CONTACT.where(PatchContact.id == contact_id)).first()

    def contacts_page(
        self, *, areas: list[str] | None, offset: int, limit: int
    ) -> tuple[list[Row[Any]], int]:
        """Patch contacts (as reads show them), by area and role, paged."""
        where = [] if areas is None else [PatchContact.area_code.in_(areas)]
        total = self.db.execute(select(func.count()).select_from(PatchContact).where(*where))
        rows = self.db.execute(
            PUBLIC_CONTACT.where(*where)
            .order_by(PatchContact.area_code, PatchContact.role, PatchContact.id)
            .offset(offset).limit(limit)
        ).all()  # fmt: skip
        return rows, int(total.scalar_one())

    def outcome(self, service_id: int, outcome_id: int) -> Row[Any] | None:
        if outcome_id > MAX_ID:
            return None
        return self.db.execute(
            select(Outcome.__table__).where(
                Outcome.id == outcome_id, Outcome.service_id == service_id
            )
        ).first()

    def location(self, service_id: int, ref: str) -> Row[Any] | None:
        return self.db.execute(
            select(Location.__table__).where(Location.service_id == service_id, Location.ref == ref)
        ).first()

    # -- organisations ---------------------------------------------------------------------
    def organisation_id(self, key: str, *, aliases: bool = True) -> int | None:
        """By ref or id; a ref in another case ("gb-gor-pc390" for MOPAC's GB-GOR-PC390)
        when it names one organisation (read only when the ref as given names none); then,
        with ``aliases``, the organisation a merged one's ref or old id names now
        (``organisation_alias``)."""
        found = self._find(Organisation, key)
        if found is None:
            ids = (
                self.db.execute(
                    select(Organisation.id)
                    .where(func.lower(Organisation.ref) == key.lower())
                    .limit(2)
                )
                .scalars()
                .all()
            )
            found = ids[0] if len(ids) == 1 else None
        if found is None and aliases:
            alias = self.organisation_alias(key)
            found = None if alias is None else alias.organisation_id
        return found

    def organisation_alias(self, key: str) -> Row[Any] | None:
        """The alias a merged organisation's ref or old id is (with the ref and name of
        the organisation it names now), or None."""
        return find_alias(self.db, key)

    def organisations_containing(self, fragments: Sequence[str], limit: int) -> list[Row[Any]]:
        """(ref, name) of at most ``limit`` organisations whose name or ref contains one of
        ``fragments`` (lower case), by name: the candidates for a mistyped organisation."""
        if not fragments:
            return []
        where = [
            column.contains(f, autoescape=True)
            for f in fragments
            for column in (func.lower(Organisation.name), func.lower(Organisation.ref))
        ]
        statement = (
            select(Organisation.ref, Organisation.name)
            .where(or_(*where))
            .order_by(Organisation.name, Organisation.id)
            .limit(limit)
        )
        return list(self.db.execute(statement).all())

    def programme_names(self) -> list[Row[Any]]:
        return list(self.db.execute(select(Programme.id, Programme.name)).all())

    def grant_refs_starting(self, start: str) -> set[str]:
        """The refs of the grants held (withdrawn too) that start with ``start`` exactly."""
        # (substr, not LIKE: a prefix may hold "_", LIKE's wildcard)
        head = func.substr(Grant.ref, 1, len(start))
        return set(self.db.execute(select(Grant.ref).where(head == start)).scalars())

    def organisation_refs_starting(self, start: str) -> set[str]:
        """The refs of the organisations held that start with ``start`` exactly."""
        head = func.substr(Organisation.ref, 1, len(start))
        return set(self.db.execute(select(Organisation.ref).where(head == start)).scalars())

    def organisations_page(
        self, *, q: str | None, type_: str | None, offset: int, limit: int
    ) -> tuple[list[Row[Any]], int]:
        where: list[Any] = []
        if q:  # every word of it in the name (directory.store.words.name_words)
            words = name_words(q)
            where += [
                wanted(starts_a_word(Organisation.search_name, w.loose), w.exclude) for w in words
            ] or [false()]
        if type_:
            where.append(Organisation.type == type_)
        statement = select(Organisation.__table__).order_by(
            *by_name(Organisation.name, Organisation.id)
        )
        return self._page(Organisation, statement, where, offset, limit)

    def organisation(self, org_id: int) -> Row[Any] | None:
        return self.db.execute(
            select(Organisation.__table__).where(Organisation.id == org_id)
        ).first()

    def service_ids_of_organisation(self, org_id: int) -> list[int]:
        return list(
            self.db.execute(
                select(Service.id)
                .where(Service.organisation_id == org_id, Service.withdrawn_at.is_(None))
                .order_by(Service.name)
            ).scalars()
        )

    # -- grants --------------------------------------------------------------------------
    @staticmethod
    def _grant_select() -> Any:
        funder = Organisation.__table__.alias("funder")
        recipient = Organisation.__table__.alias("recipient")
        return (
            select(
                Grant.__table__,
                funder.c.ref.label("funder_ref"),
                funder.c.name.label("funder_name"),
                recipient.c.ref.label("recipient_ref"),
                recipient.c.name.label("recipient_name"),
                Programme.name.label("programme_name"),
            )
            .join(funder, funder.c.id == Grant.funder_id)
            .join(recipient, recipient.c.id == Grant.recipient_id)
            .outerjoin(Programme, Programme.id == Grant.programme_id)
        )

    def grant_id(self, key: str) -> int | None:
        return self._find(Grant, key)

    def grants_page(
        self, *, programme: str | None = None, organisation_id: int | None = None,
        funder_id: int | None = None, recipient_id: int | None = None,
        areas: Collection[str] | None = None, words: Sequence[NameWord] | None = None,
        status: GrantStatusDates | None = None, include_withdrawn: bool = False,
        offset: int, limit: int | None,
    ) -> tuple[list[Row[Any]], int]:  # fmt: skip
        """One page of grants (all of them with ``limit`` None), newest award first, under the filters (all of them): a
        programme id; an organisation as funder or recipient; the funder; the recipient;
        any of the beneficiary ``areas``; every one of ``words`` in the title,
        ref, funder's, recipient's or programme's name (none given: nothing); any of the
        statuses, by the dates."""
        where: list[Any] = []
        if programme:
            where.append(Grant.programme_id == programme)
        if organisation_id is not None:
            where.append(
                (Grant.recipient_id == organisation_id) | (Grant.funder_id == organisation_id)
            )
        if funder_id is not None:
            where.append(Grant.funder_id == funder_id)
        if recipient_id is not None:
            where.append(Grant.recipient_id == recipient_id)
        if areas is not None:
            where.append(
                Grant.id.in_(
                    select(GrantArea.grant_id).where(GrantArea.area_code.in_(sorted(set(areas))))
                )
            )
        if words is not None and not words:
            where.append(false())
        programmes = (
            [(pid, indexed(name)) for pid, name in self.programme_names()] if words else []
        )  # (a few dozen: their names made loose here, as the rows' words are kept)
        for word in words or ():
            named = select(Organisation.id).where(
                starts_a_word(Organisation.search_name, word.loose)
            )
            found = or_(
                starts_a_word(Grant.search_title, word.loose),
                _lower_contains(Grant.ref, word.text),
                Grant.funder_id.in_(named),
                Grant.recipient_id.in_(named),
                Grant.programme_id.in_(
                    [pid for pid, name in programmes if f" {word.loose}" in name]
                ),
            )
            where.append(wanted(found, word.exclude))
        if status is not None:
            where.append(_grant_status_clause(status))
        if not include_withdrawn:
            where.append(Grant.withdrawn_at.is_(None))
        statement = self._grant_select().order_by(Grant.awarded.desc().nulls_last(), Grant.id)
        return self._page(Grant, statement, where, offset, limit)

    def programme_exists(self, programme_id: str) -> bool:
        found = self.db.execute(select(Programme.id).where(Programme.id == programme_id))
        return found.first() is not None

    def grant(self, grant_id: int) -> Row[Any] | None:
        return self.db.execute(self._grant_select().where(Grant.id == grant_id)).first()

    def grant_by_ref(self, ref: str) -> Row[Any] | None:
        return self.db.execute(self._grant_select().where(Grant.ref == ref)).first()

    def grant_children(self, ref: str) -> list[Row[Any]]:
        return self.db.execute(
            self._grant_select().where(Grant.parent_ref == ref).order_by(Grant.id)
        ).all()

    def grant_areas(self, ids: Sequence[int]) -> dict[int, list[str]]:
        statement = select(GrantArea.grant_id, GrantArea.area_code).order_by(GrantArea.area_code)
        return self._grouped(GrantArea.grant_id, statement, ids, GrantArea.area_code)

    def grant_services(self, ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
        statement = (
            select(GrantService.grant_id, Service.id, Service.ref, Service.name)
            .join(Service, Service.id == GrantService.service_id)
            .order_by(Service.name)
        )
        return self._grouped(GrantService.grant_id, statement, ids)

    # -- themes, imports, history, status ---------------------------------------------------
    def themes(self) -> list[Row[Any]]:
        counts = (
            select(ServiceTheme.theme_id, func.count().label("services"))
            .join(Service, Service.id == ServiceTheme.service_id)
            .where(Service.withdrawn_at.is_(None))
            .group_by(ServiceTheme.theme_id)
            .subquery()
        )
        return self.db.execute(
            select(Theme.__table__, func.coalesce(counts.c.services, 0).label("services"))
            .outerjoin(counts, counts.c.theme_id == Theme.id)
            .order_by(Theme.name)
        ).all()

    def imports_page(
        self, *, source: str | None, offset: int, limit: int
    ) -> tuple[list[Row[Any]], int]:
        where = [ImportRun.source == source] if source else []
        statement = select(ImportRun.__table__).order_by(ImportRun.id.desc())
        return self._page(ImportRun, statement, where, offset, limit)

    def import_run(self, run_id: int) -> Row[Any] | None:
        if run_id > MAX_ID:
            return None
        return self.db.execute(select(ImportRun.__table__).where(ImportRun.id == run_id)).first()

    def last_runs(self) -> list[Row[Any]]:
        latest = select(func.max(ImportRun.id)).group_by(ImportRun.source).scalar_subquery()
        return self.db.execute(
            select(ImportRun.__table__).where(ImportRun.id.in_(latest)).order_by(ImportRun.source)
        ).all()

    def events_page(
        self, *, entity: str, entity_id: int, offset: int, limit: int,
        outcomes_of: str | None = None,
    ) -> tuple[list[Row[Any]], int]:  # fmt: skip
        """A record's change events, newest first; with ``outcomes_of`` (a service's ref),
        the events of that service's outcomes too (their ``entity_ref`` is
        ``"<service ref>: <metric> <period>"``, kept when the outcome itself is deleted)."""
        mine = (ChangeEvent.entity == entity) & (ChangeEvent.entity_id == entity_id)
        if outcomes_of is not None:
            mine = mine | (
                (ChangeEvent.entity == "outcome")
                & ChangeEvent.entity_ref.startswith(f"{outcomes_of}: ", autoescape=True)
            )
        statement = self._event_select().order_by(ChangeEvent.id.desc())
        return self._page(ChangeEvent, statement, [mine], offset, limit)

    def service_ref(self, service_id: int) -> str | None:
        return self.db.execute(select(Service.ref).where(Service.id == service_id)).scalar()

    @staticmethod
    def _event_select() -> Any:
        """Change events with who made them over the API (the key's name): the event's
        own ``actor`` (migration 0011), else that of the run it was recorded by."""
        return select(
            *(c for c in ChangeEvent.__table__.c if c.key != "actor"),
            func.coalesce(ChangeEvent.actor, ImportRun.actor).label("actor"),
        ).outerjoin(ImportRun, ImportRun.id == ChangeEvent.import_run_id)

    def existing_ids(self, wanted: dict[str, set[int]]) -> dict[str, set[int]]:
        """Of the ids asked for per entity (service, grant, organisation), those still held
        (``directory demo remove`` deletes records their change events name)."""
        models = {"service": Service, "grant": Grant, "organisation": Organisation,
                  "opportunity": Opportunity}  # fmt: skip
        found: dict[str, set[int]] = {}
        for entity, ids in wanted.items():
            model = models[entity]
            found[entity] = set()
            for chunk in _chunks(sorted(ids)):
                found[entity].update(
                    self.db.execute(
                        select(model.id).where(among(model.id, chunk, self.db))
                    ).scalars()
                )
        return found

    def event_areas(self, ids: Sequence[int]) -> dict[int, list[str]]:
        statement = select(ChangeArea.event_id, ChangeArea.area_code).order_by(ChangeArea.area_code)
        return self._grouped(ChangeArea.event_id, statement, ids, ChangeArea.area_code)

    def stale_services(self, before: Any) -> int:
        return int(
            self.db.execute(
                select(func.count())
                .select_from(Service)
                .where(
                    Service.withdrawn_at.is_(None),
                    (Service.last_verified.is_(None)) | (Service.last_verified < before),
                )
            ).scalar_one()
        )

    def counts(self) -> dict[str, int]:
        return DirectoryRepository(self.db).counts()  # type: ignore[arg-type]

    # -- the in-memory directory index (patch, partners) ---------------------------------------
    def index_rows(self) -> dict[str, Iterable[Row[Any]]]:
        """Everything the in-memory directory index is built from, in a few full scans:
        listed services with their organisation, themes, coverage and sites, the public
        contact and demo flag of the organisations running them, the patch contacts and the
        themes (the grants come from the data version's facts,
        :meth:`FundingQueries.grants`). The services and sites, the big ones, are read
        row by row when first iterated (read each once, one after the other): a worker
        building the index of 100,000 services does not hold all their rows at once."""
        listed = Service.withdrawn_at.is_(None)
        return {
            "services": self._stream(self._service_select().where(listed)),
            "themes": list(self._stream(
                select(ServiceTheme.service_id, ServiceTheme.theme_id)
                .join(Service, Service.id == ServiceTheme.service_id).where(listed)
            )),
            "coverage": list(self._stream(
                select(ServiceArea.service_id, ServiceArea.area_code)
                .join(Service, Service.id == ServiceArea.service_id).where(listed)
            )),
            "locations": self._stream(
                select(Location.__table__).join(Service, Service.id == Location.service_id).where(listed)
            ),
            "contacts": self.db.execute(PUBLIC_CONTACT).all(),
            "organisations": self.db.execute(
                select(Organisation.id, Organisation.demo, Organisation.email, Organisation.website)
                .where(Organisation.id.in_(select(Service.organisation_id).where(listed)))
            ).all(),
            "themes_taxonomy": self.db.execute(select(Theme.__table__)).all(),
        }  # fmt: skip

    def _stream(self, statement: Any) -> Iterator[Row[Any]]:
        return streamed(self.db, statement)

    # -- change feed -----------------------------------------------------------------------
    def _event_filters(
        self, *, since: Any, areas: list[str] | None, theme: str | None, entity: str | None,
        import_run: int | None = None,
    ) -> list[Any]:  # fmt: skip
        where: list[Any] = []
        if import_run is not None:
            where.append(ChangeEvent.import_run_id == import_run)
        if since is not None:
            where.append(ChangeEvent.at >= since)
        if entity is not None:
            where.append(ChangeEvent.entity == entity)
        if areas is not None:
            where.append(
                ChangeEvent.id.in_(
                    select(ChangeArea.event_id).where(ChangeArea.area_code.in_(areas))
                )
            )
        if theme is not None:
            themed_services = select(ServiceTheme.service_id).where(ServiceTheme.theme_id == theme)
            themed_grants = select(GrantService.grant_id).where(
                GrantService.service_id.in_(themed_services)
            )
            themed_outcomes = select(Outcome.id).where(Outcome.service_id.in_(themed_services))
            where.append(
                ((ChangeEvent.entity == "service") & ChangeEvent.entity_id.in_(themed_services))
                | ((ChangeEvent.entity == "grant") & ChangeEvent.entity_id.in_(themed_grants))
                | ((ChangeEvent.entity == "outcome") & ChangeEvent.entity_id.in_(themed_outcomes))
            )
        return where

    def events(
        self, *, since: Any, areas: list[str] | None, theme: str | None, entity: str | None,
        limit: int, import_run: int | None = None,
    ) -> tuple[list[Row[Any]], int]:  # fmt: skip
        """The newest ``limit`` change events matching, and how many match in all."""
        where = self._event_filters(
            since=since, areas=areas, theme=theme, entity=entity, import_run=import_run
        )
        statement = self._event_select().order_by(ChangeEvent.at.desc(), ChangeEvent.id.desc())
        return self._page(ChangeEvent, statement, where, 0, limit)

    def dated_grants(self, *, areas: list[str] | None, theme: str | None) -> list[Row[Any]]:
        """Listed grants with dates, for the feed's started / ending / ended entries."""
        where: list[Any] = [
            Grant.withdrawn_at.is_(None),
            (Grant.start.is_not(None)) | (Grant.end.is_not(None)),
        ]
        if areas is not None:
            where.append(
                Grant.id.in_(select(GrantArea.grant_id).where(GrantArea.area_code.in_(areas)))
            )
        if theme is not None:
            themed = select(ServiceTheme.service_id).where(ServiceTheme.theme_id == theme)
            where.append(
                Grant.id.in_(
                    select(GrantService.grant_id).where(GrantService.service_id.in_(themed))
                )
            )
        return self.db.execute(self._grant_select().where(*where)).all()
