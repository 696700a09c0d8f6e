"""SQL for the directory tables: organisations, services, grants, outcomes, contacts,
import runs, change events and locks.

Import support reads the whole directory as plain "state" dicts (the same shape the ingest
layer builds from records, so the two compare with ``==``) and writes in bulk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from directory.models import (
    ChangeArea,
    ChangeEvent,
    DataRelease,
    Grant,
    GrantArea,
    GrantService,
    ImportRun,
    Location,
    Lock,
    Organisation,
    Outcome,
    PatchContact,
    Programme,
    Service,
    ServiceArea,
    ServiceTheme,
    Theme,
)

#: fields compared and written as-is, per entity (beside the related lists)
ORGANISATION_FIELDS = (
    "name", "type", "charity_number", "company_number", "size_band", "website", "email",
    "description", "demo",
)  # fmt: skip
SERVICE_FIELDS = (
    "name", "description", "status", "min_age", "max_age", "eligibility", "referral", "email",
    "phone", "website", "last_verified", "demo",
)  # fmt: skip
GRANT_FIELDS = (
    "title", "description", "programme", "amount", "currency", "awarded", "start", "end",
    "duration_months", "financial_year", "regrant_type", "parent_ref", "source_url", "demo",
)  # fmt: skip
LOCATION_FIELDS = ("ref", "name", "address", "postcode", "lat", "lon", "demo")
_CHUNK = 500


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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

    def programme_ids(self) -> set[str]:
        return set(self.session.scalars(select(Programme.id)))

    def add_programmes(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(insert(Programme), rows)

    def update_programme(self, programme_id: str, values: dict[str, Any]) -> None:
        self.session.execute(update(Programme).where(Programme.id == programme_id).values(**values))

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

    def service_states(self) -> dict[str, dict[str, Any]]:
        themes: dict[int, list[str]] = defaultdict(list)
        for service_id, theme_id in self.session.execute(
            select(ServiceTheme.service_id, ServiceTheme.theme_id)
        ):
            themes[service_id].append(theme_id)
        areas: dict[int, list[str]] = defaultdict(list)
        for service_id, code in self.session.execute(
            select(ServiceArea.service_id, ServiceArea.area_code)
        ):
            areas[service_id].append(code)
        locations: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in self.session.execute(select(Location.__table__)).all():
            locations[r.service_id].append(
                {
                    **{f: getattr(r, f) for f in LOCATION_FIELDS},
                    "borough_code": r.borough_code,
                    "ward_code": r.ward_code,
                }
            )
        org_refs = dict(
            self.session.execute(select(Organisation.id, Organisation.ref)).tuples().all()
        )
        states = {}
        for r in self.session.execute(select(Service.__table__)).all():
            states[r.ref] = {
                "id": r.id,
                "source": r.source,
                "withdrawn_at": r.withdrawn_at,
                "organisation": org_refs[r.organisation_id],
                **{f: getattr(r, f) for f in SERVICE_FIELDS},
                "themes": sorted(themes[r.id]),
                "coverage": sorted(areas[r.id]),
                "locations": sorted(locations[r.id], key=lambda loc: loc["ref"]),
            }
        return states

    def grant_states(self) -> dict[str, dict[str, Any]]:
        org_refs = dict(
            self.session.execute(select(Organisation.id, Organisation.ref)).tuples().all()
        )
        service_refs = dict(self.session.execute(select(Service.id, Service.ref)).tuples().all())
        services: dict[int, list[str]] = defaultdict(list)
        for grant_id, service_id in self.session.execute(
            select(GrantService.grant_id, GrantService.service_id)
        ):
            services[grant_id].append(service_refs[service_id])
        areas: dict[int, list[str]] = defaultdict(list)
        for grant_id, code in self.session.execute(select(GrantArea.grant_id, GrantArea.area_code)):
            areas[grant_id].append(code)
        states = {}
        for r in self.session.execute(select(Grant.__table__)).all():
            values = {f: getattr(r, f) for f in GRANT_FIELDS if f not in ("programme", "amount")}
            states[r.ref] = {
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
        return states

    # -- writing organisations, services, grants ----------------------------------------
    def insert_returning_ids(self, model: type, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Insert rows that have a unique ``ref``; return ref → new id."""
        ids: dict[str, int] = {}
        for chunk in _chunks(rows):
            result = self.session.execute(insert(model).returning(model.id, model.ref), list(chunk))  # type: ignore[attr-defined]
            ids.update({ref: id_ for id_, ref in result.tuples()})
        return ids

    def update_rows(self, model: type, rows: list[dict[str, Any]]) -> None:
        """Update by primary key ``id`` (each row carries its id and the columns to set)."""
        for row in rows:
            values = {k: v for k, v in row.items() if k != "id"}
            self.session.execute(update(model).where(model.id == row["id"]).values(**values))  # type: ignore[attr-defined]

    def replace_children(
        self, model: type, key: str, ids: Sequence[int], rows: list[dict[str, Any]]
    ) -> None:
        """Delete the child rows of ``ids`` (by the ``key`` column) and insert ``rows``."""
        column = getattr(model, key)
        for chunk in _chunks(list(ids)):
            self.session.execute(delete(model).where(column.in_(chunk)))
        for chunk in _chunks(rows, 2000):
            self.session.execute(insert(model), list(chunk))

    def set_withdrawn(self, model: type, ids: Sequence[int], at: datetime | None) -> None:
        for chunk in _chunks(list(ids)):
            self.session.execute(
                update(model)
                .where(model.id.in_(chunk))
                .values(withdrawn_at=at, updated_at=at or datetime.now())  # type: ignore[attr-defined]
            )

    def outcome_keys(self) -> dict[tuple[Any, ...], dict[str, Any]]:
        rows = self.session.execute(select(Outcome.__table__)).all()
        return {(r.service_id, r.metric, r.period_start, r.period_end): r._asdict() for r in rows}

    def contact_keys(self) -> dict[tuple[str, str], dict[str, Any]]:
        rows = self.session.execute(select(PatchContact.__table__)).all()
        return {(r.area_code, r.role): r._asdict() for r in rows}

    def insert_rows(self, model: type, rows: list[dict[str, Any]]) -> None:
        for chunk in _chunks(rows, 2000):
            self.session.execute(insert(model), list(chunk))

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
        for chunk in _chunks(events):
            values = [{k: v for k, v in e.items() if k != "areas"} for e in chunk]
            ids = (
                self.session.execute(insert(ChangeEvent).returning(ChangeEvent.id), values)
                .scalars()
                .all()
            )
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
            return self.session.execute(select(Lock.__table__).where(Lock.name == name)).first()

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
