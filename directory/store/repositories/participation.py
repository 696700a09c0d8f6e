"""SQL for participation: public feedback (moderated, never published) and practice notes.

Feedback names its target as ``(kind, id)``: the kinds and the table each lives in are
:data:`TARGETS` (a service or a funding opportunity). A corrected service is
written here too (its own columns only), with the run, change event and data release the
importer records, through :class:`~directory.store.repositories.directory.DirectoryRepository`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, null, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from directory.store.models import (
    Feedback,
    Location,
    Opportunity,
    Organisation,
    Outcome,
    PracticeNote,
    PracticeOutcome,
    PracticeTheme,
    Service,
    ServiceArea,
    ServiceTheme,
)
from directory.store.repositories.directory import MAX_ID, as_id
from directory.store.repositories.search import AreaMatch, services_in_area


@dataclass(frozen=True)
class Target:
    """A kind of record feedback may be about: its table, its organisation column (whose
    editors see the feedback; none: officers only) and its name column."""

    model: Any
    organisation: Any
    name: Any


#: what feedback may be about, by kind: services (their organisation's editors moderate it
#: too) and funding opportunities (officers' records: officers only)
TARGETS: dict[str, Target] = {
    "service": Target(Service, Service.organisation_id, Service.name),
    "opportunity": Target(Opportunity, null(), Opportunity.title),
}


class ParticipationRepository:
    """Feedback and practice notes, on a session (writes) or a connection (reads)."""

    def __init__(self, db: Session | Connection) -> None:
        self.db = db

    # -- targets ---------------------------------------------------------------------------
    def target(self, kind: str, key: str) -> Row[Any] | None:
        """The record of ``kind`` with the id or ref ``key``: id, ref, name, organisation_id,
        withdrawn_at."""
        found = TARGETS[kind]
        model = found.model
        columns = (
            model.id, model.ref, found.name.label("name"),
            found.organisation.label("organisation_id"),
            model.withdrawn_at,
        )  # fmt: skip
        row = self.db.execute(select(*columns).where(model.ref == key)).first()
        if row is None and (number := as_id(key)) is not None:
            row = self.db.execute(select(*columns).where(model.id == number)).first()
        return row

    def target_names(self, kind: str, ids: Sequence[int]) -> dict[int, Row[Any]]:
        found = TARGETS[kind]
        model = found.model
        if not ids:
            return {}
        rows = self.db.execute(
            select(model.id, model.ref, found.name.label("name")).where(
                model.id.in_(sorted(set(ids)))
            )
        ).all()
        return {r.id: r for r in rows}

    # -- feedback --------------------------------------------------------------------------
    def add_feedback(self, values: dict[str, Any]) -> int:
        statement = insert(Feedback).returning(Feedback.id)
        return int(self.db.execute(statement, [values]).scalar_one())

    def feedback(self, feedback_id: int, *, lock: bool = False) -> Row[Any] | None:
        if feedback_id > MAX_ID:
            return None
        statement = select(Feedback.__table__).where(Feedback.id == feedback_id)
        if lock:
            statement = statement.with_for_update()
        return self.db.execute(statement).first()

    def feedback_page(
        self, *, status: str | None, kind: str | None, target_id: int | None,
        organisation_id: int | None, offset: int, limit: int,
    ) -> tuple[list[Row[Any]], int]:  # fmt: skip
        """Feedback newest first, filtered; ``organisation_id``: only about that
        organisation's records (an editor's scope)."""
        where: list[Any] = []
        if status is not None:
            where.append(Feedback.status == status)
        if kind is not None:
            where.append(Feedback.target_kind == kind)
        if target_id is not None:
            where.append(Feedback.target_id == target_id)
        if organisation_id is not None:
            where.append(Feedback.organisation_id == organisation_id)
        total = self.db.execute(
            select(func.count()).select_from(Feedback).where(*where)
        ).scalar_one()
        rows = self.db.execute(
            select(Feedback.__table__)
            .where(*where)
            .order_by(Feedback.created_at.desc(), Feedback.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        return list(rows), int(total)

    def update_feedback(self, feedback_id: int, values: dict[str, Any]) -> None:
        self.db.execute(update(Feedback).where(Feedback.id == feedback_id).values(**values))

    # -- a correction of a service's own columns -----------------------------------------------
    def service_row(self, service_id: int) -> Row[Any] | None:
        return self.db.execute(
            select(Service.__table__, Organisation.name.label("organisation_name"))
            .join(Organisation, Organisation.id == Service.organisation_id)
            .where(Service.id == service_id)
        ).first()

    def service_themes(self, service_id: int) -> list[str]:
        statement = select(ServiceTheme.theme_id).where(ServiceTheme.service_id == service_id)
        return sorted(self.db.execute(statement).scalars())

    def service_areas(self, service_id: int) -> set[str]:
        """The codes a change to the service affects: its coverage and its sites' areas."""
        coverage = self.db.execute(
            select(ServiceArea.area_code).where(ServiceArea.service_id == service_id)
        ).scalars()
        sites = self.db.execute(
            select(Location.borough_code, Location.ward_code).where(
                Location.service_id == service_id
            )
        ).all()
        return set(coverage) | {code for site in sites for code in site if code}

    def update_service(self, service_id: int, values: dict[str, Any]) -> None:
        self.db.execute(update(Service).where(Service.id == service_id).values(**values))

    # -- practice notes --------------------------------------------------------------------
    @staticmethod
    def _note_select() -> Any:
        return (
            select(
                PracticeNote.__table__,
                Service.ref.label("service_ref"),
                Service.name.label("service_name"),
                Organisation.ref.label("organisation_ref"),
                Organisation.name.label("organisation_name"),
            )
            .join(Service, Service.id == PracticeNote.service_id)
            .join(Organisation, Organisation.id == PracticeNote.organisation_id)
        )

    @staticmethod
    def _published() -> list[Any]:
        return [
            PracticeNote.published_at.is_not(None),
            PracticeNote.withdrawn_at.is_(None),
            Service.withdrawn_at.is_(None),
        ]

    def note(self, note_id: int, *, published: bool = True) -> Row[Any] | None:
        if note_id > MAX_ID:
            return None
        where = [PracticeNote.id == note_id, *(self._published() if published else ())]
        return self.db.execute(self._note_select().where(*where)).first()

    def notes_page(
        self, *, theme: str | None, area: AreaMatch | None, service_id: int | None,
        offset: int, limit: int,
    ) -> tuple[list[Row[Any]], int]:  # fmt: skip
        """Published notes, newest first, filtered by theme, area (their service's) and
        service."""
        where = self._published()
        if theme is not None:
            where.append(
                PracticeNote.id.in_(
                    select(PracticeTheme.note_id).where(PracticeTheme.theme_id == theme)
                )
            )
        if area is not None:
            where.append(PracticeNote.service_id.in_(services_in_area(area)))
        if service_id is not None:
            where.append(PracticeNote.service_id == service_id)
        counted = (
            select(func.count())
            .select_from(PracticeNote)
            .join(Service, Service.id == PracticeNote.service_id)
            .where(*where)
        )
        total = self.db.execute(counted).scalar_one()
        rows = self.db.execute(
            self._note_select()
            .where(*where)
            .order_by(PracticeNote.published_at.desc(), PracticeNote.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        return list(rows), int(total)

    def service_notes(self, service_id: int, limit: int) -> list[Row[Any]]:
        """A service's published notes, newest first: id, title, published_at (one indexed
        query, for the service's own answer)."""
        return list(
            self.db.execute(
                select(PracticeNote.id, PracticeNote.title, PracticeNote.published_at)
                .where(
                    PracticeNote.service_id == service_id,
                    PracticeNote.published_at.is_not(None),
                    PracticeNote.withdrawn_at.is_(None),
                )
                .order_by(PracticeNote.published_at.desc(), PracticeNote.id.desc())
                .limit(limit)
            ).all()
        )

    def note_themes(self, ids: Sequence[int]) -> dict[int, list[str]]:
        return self._grouped(PracticeTheme.note_id, PracticeTheme.theme_id, ids)

    def note_outcomes(self, ids: Sequence[int]) -> dict[int, list[Row[Any]]]:
        out: dict[int, list[Row[Any]]] = defaultdict(list)
        if ids:
            rows = self.db.execute(
                select(PracticeOutcome.note_id, Outcome.__table__)
                .join(Outcome, Outcome.id == PracticeOutcome.outcome_id)
                .where(PracticeOutcome.note_id.in_(sorted(set(ids))))
                .order_by(Outcome.period_start, Outcome.metric, Outcome.id)
            ).all()
            for row in rows:
                out[row.note_id].append(row)
        return out

    def _grouped(self, key: Any, value: Any, ids: Sequence[int]) -> dict[int, list[Any]]:
        out: dict[int, list[Any]] = defaultdict(list)
        if ids:
            statement = select(key, value).where(key.in_(sorted(set(ids)))).order_by(value)
            for row in self.db.execute(statement):
                out[row[0]].append(row[1])
        return out

    def outcome_ids_of(self, service_id: int) -> set[int]:
        statement = select(Outcome.id).where(Outcome.service_id == service_id)
        return set(self.db.execute(statement).scalars())

    def add_note(self, values: dict[str, Any]) -> int:
        statement = insert(PracticeNote).returning(PracticeNote.id)
        return int(self.db.execute(statement, [values]).scalar_one())

    def update_note(self, note_id: int, values: dict[str, Any]) -> None:
        self.db.execute(update(PracticeNote).where(PracticeNote.id == note_id).values(**values))

    def set_note_links(
        self, note_id: int, *, themes: Sequence[str] | None, outcomes: Sequence[int] | None
    ) -> None:
        """Replace the note's themes and outcomes (those given; None leaves them)."""
        if themes is not None:
            self.db.execute(delete(PracticeTheme).where(PracticeTheme.note_id == note_id))
            if themes:
                rows = [{"note_id": note_id, "theme_id": t} for t in sorted(set(themes))]
                self.db.execute(insert(PracticeTheme), rows)
        if outcomes is not None:
            self.db.execute(delete(PracticeOutcome).where(PracticeOutcome.note_id == note_id))
            if outcomes:
                rows = [{"note_id": note_id, "outcome_id": o} for o in sorted(set(outcomes))]
                self.db.execute(insert(PracticeOutcome), rows)
