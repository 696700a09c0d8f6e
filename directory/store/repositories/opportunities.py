"""Funding opportunities (bidding rounds): all their SQL.

Reads go through :class:`OpportunityQueries` (on the request's read connection or any
connection); writes through :class:`OpportunityRepository` (on a session, inside the write's
transaction). Times are naive UTC, as everywhere in the store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session

from directory.store.models import (
    Opportunity,
    OpportunityArea,
    OpportunityTheme,
    Organisation,
    OrganisationAlias,
    Programme,
    Theme,
)
from directory.store.repositories.directory import changes_recorded

_CHUNK = 500


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


@dataclass(frozen=True)
class OpportunityFilter:
    """What a list of opportunities is filtered by (every one given must hold). Times are
    naive UTC."""

    now: datetime
    #: the opportunity names one of these area codes (the place, above or inside it)
    areas: Collection[str] | None = None
    themes: Collection[str] = ()
    small_org_friendly: bool | None = None
    #: accepting bids at some time in [start, end)
    open_between: tuple[datetime, datetime] | None = None
    #: closes before this time (and after ``now``): the end of a London day
    closes_before: datetime | None = None
    #: statuses by the dates: upcoming, open, closing_soon, closed
    statuses: Collection[str] = ()
    #: a deadline before this time is closing soon: the end of the London day
    #: DIRECTORY_CLOSING_SOON_DAYS after today
    soon_from: datetime | None = None
    include_withdrawn: bool = False


_COLUMNS = (
    Opportunity.__table__,
    Organisation.ref.label("funder_ref"),
    Programme.name.label("programme_name"),
    changes_recorded("opportunity", Opportunity.id).label("version"),
)


def _select() -> Any:
    return (
        select(*_COLUMNS)
        .outerjoin(Organisation, Organisation.id == Opportunity.funder_id)
        .outerjoin(Programme, Programme.id == Opportunity.programme_id)
    )


class OpportunityQueries:
    def __init__(self, db: Connection | Session) -> None:
        self.db = db

    def _where(self, f: OpportunityFilter) -> list[Any]:
        where: list[Any] = []
        if not f.include_withdrawn:
            where.append(Opportunity.withdrawn_at.is_(None))
        if f.areas is not None:
            where.append(
                Opportunity.id.in_(
                    select(OpportunityArea.opportunity_id).where(
                        OpportunityArea.area_code.in_(list(f.areas))
                    )
                )
            )
        for theme in f.themes:  # every one of them
            where.append(
                Opportunity.id.in_(
                    select(OpportunityTheme.opportunity_id).where(
                        OpportunityTheme.theme_id == theme
                    )
                )
            )
        if f.small_org_friendly is not None:
            where.append(Opportunity.small_org_friendly.is_(f.small_org_friendly))
        if f.open_between is not None:
            start, end = f.open_between
            where.append(or_(Opportunity.opens_at.is_(None), Opportunity.opens_at < end))
            where.append(Opportunity.closes_at > start)
        if f.closes_before is not None:
            where.append(Opportunity.closes_at > f.now)
            where.append(Opportunity.closes_at < f.closes_before)
        if f.statuses:
            where.append(or_(*(self._status(s, f) for s in f.statuses)))
        return where

    @staticmethod
    def _status(status: str, f: OpportunityFilter) -> Any:
        opened = or_(Opportunity.opens_at.is_(None), Opportunity.opens_at <= f.now)
        soon = f.soon_from or f.now
        if status == "upcoming":
            return Opportunity.opens_at > f.now
        if status == "closed":
            return Opportunity.closes_at <= f.now
        if status == "closing_soon":
            return opened & (Opportunity.closes_at > f.now) & (Opportunity.closes_at < soon)
        return opened & (Opportunity.closes_at >= soon)  # open

    def page(
        self, f: OpportunityFilter, *, offset: int, limit: int | None
    ) -> tuple[list[Row[Any]], int]:
        """One page of the opportunities matching, still open first (soonest deadline
        first), then closed ones (most recently closed first); and how many match."""
        where = self._where(f)
        total = self.db.execute(
            select(func.count()).select_from(Opportunity).where(*where)
        ).scalar_one()
        is_closed = Opportunity.closes_at <= f.now
        order = (
            case((is_closed, 1), else_=0),
            # closed ones newest first (NULL, equal, for every open one)
            case((is_closed, Opportunity.closes_at), else_=None).desc(),
            Opportunity.closes_at,
            Opportunity.id,
        )
        statement = _select().where(*where).order_by(*order).offset(offset).limit(limit)
        return list(self.db.execute(statement).all()), int(total)

    def by_id(self, opportunity_id: int) -> Row[Any] | None:
        return self.db.execute(_select().where(Opportunity.id == opportunity_id)).first()

    def by_ref(self, ref: str) -> Row[Any] | None:
        return self.db.execute(_select().where(Opportunity.ref == ref)).first()

    def current(self, since: datetime) -> list[Row[Any]]:
        """Listed opportunities closing after ``since`` (the patch index's)."""
        statement = _select().where(
            Opportunity.withdrawn_at.is_(None), Opportunity.closes_at > since
        )
        return list(self.db.execute(statement.order_by(Opportunity.closes_at, Opportunity.id)))

    def themes_of(self, ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        """(theme id, name) of each opportunity, by id."""
        out: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for chunk in _chunks(list(ids)):
            statement = (
                select(OpportunityTheme.opportunity_id, Theme.id, Theme.name)
                .join(Theme, Theme.id == OpportunityTheme.theme_id)
                .where(OpportunityTheme.opportunity_id.in_(chunk))
                .order_by(Theme.id)
            )
            for row in self.db.execute(statement):
                out[row.opportunity_id].append((row.id, row.name))
        return out

    def areas_of(self, ids: Sequence[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = defaultdict(list)
        for chunk in _chunks(list(ids)):
            statement = (
                select(OpportunityArea.opportunity_id, OpportunityArea.area_code)
                .where(OpportunityArea.opportunity_id.in_(chunk))
                .order_by(OpportunityArea.area_code)
            )
            for row in self.db.execute(statement):
                out[row.opportunity_id].append(row.area_code)
        return out

    def known_themes(self) -> set[str]:
        return set(self.db.execute(select(Theme.id)).scalars())

    def programme_ids(self) -> set[str]:
        return set(self.db.execute(select(Programme.id)).scalars())

    def organisation_ids(self, refs: Collection[str]) -> dict[str, int]:
        """The ids of the organisations held under these refs."""
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(refs)):
            statement = select(Organisation.ref, Organisation.id).where(Organisation.ref.in_(chunk))
            found.update({row.ref: row.id for row in self.db.execute(statement)})
        return found

    def merged_refs(self, refs: Collection[str]) -> dict[str, str]:
        """Those of these refs that name organisations merged into others
        (``organisation_alias``): each → the ref of the organisation it names now."""
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(refs)):
            statement = (
                select(OrganisationAlias.ref, Organisation.ref.label("kept"))
                .join(Organisation, Organisation.id == OrganisationAlias.organisation_id)
                .where(OrganisationAlias.ref.in_(chunk))
            )
            found.update({row.ref: row.kept for row in self.db.execute(statement)})
        return found

    def states(
        self, refs: Collection[str] | None = None, source: str | None = None
    ) -> list[Row[Any]]:
        """The held opportunities with these refs (or of this source), for an import."""
        statement = _select()
        if refs is not None:
            rows: list[Row[Any]] = []
            for chunk in _chunks(sorted(refs)):
                rows.extend(self.db.execute(statement.where(Opportunity.ref.in_(chunk))))
            return rows
        if source is not None:
            statement = statement.where(Opportunity.source == source)
        return list(self.db.execute(statement))


class OpportunityRepository(OpportunityQueries):
    """Writes, on the session of one transaction."""

    db: Session

    def insert(self, row: dict[str, Any]) -> int:
        return int(
            self.db.execute(insert(Opportunity).returning(Opportunity.id), [row]).scalar_one()
        )

    def update(self, opportunity_id: int, values: dict[str, Any]) -> None:
        self.db.execute(
            update(Opportunity).where(Opportunity.id == opportunity_id).values(**values)
        )

    def set_themes(self, opportunity_id: int, themes: Sequence[str]) -> None:
        self.db.execute(
            delete(OpportunityTheme).where(OpportunityTheme.opportunity_id == opportunity_id)
        )
        if themes:
            self.db.execute(
                insert(OpportunityTheme),
                [{"opportunity_id": opportunity_id, "theme_id": t} for t in sorted(set(themes))],
            )

    def set_areas(self, opportunity_id: int, areas: Sequence[str]) -> None:
        self.db.execute(
            delete(OpportunityArea).where(OpportunityArea.opportunity_id == opportunity_id)
        )
        if areas:
            self.db.execute(
                insert(OpportunityArea),
                [{"opportunity_id": opportunity_id, "area_code": a} for a in sorted(set(areas))],
            )

    def withdraw(self, ids: Sequence[int], at: datetime) -> None:
        for chunk in _chunks(list(ids)):
            self.db.execute(
                update(Opportunity)
                .where(Opportunity.id.in_(chunk))
                .values(withdrawn_at=at, updated_at=at)
            )

    def of_sources(self, sources: Collection[str]) -> list[Row[Any]]:
        """These sources' opportunities (``directory demo remove``)."""
        statement = select(Opportunity.id, Opportunity.ref, Opportunity.title)
        return list(self.db.execute(statement.where(Opportunity.source.in_(list(sources)))))

    def delete_ids(self, ids: Sequence[int]) -> None:
        for chunk in _chunks(list(ids)):
            self.db.execute(
                delete(OpportunityTheme).where(OpportunityTheme.opportunity_id.in_(chunk))
            )
            self.db.execute(
                delete(OpportunityArea).where(OpportunityArea.opportunity_id.in_(chunk))
            )
            self.db.execute(delete(Opportunity).where(Opportunity.id.in_(chunk)))

    def detach(self, organisations: Sequence[int], programmes: Sequence[str]) -> None:
        """Forget these organisations as funders and these programmes (about to be
        deleted) on the opportunities that name them (the funder's name stays)."""
        for chunk in _chunks(list(organisations)):
            self.db.execute(
                update(Opportunity).where(Opportunity.funder_id.in_(chunk)).values(funder_id=None)
            )
        for chunk in _chunks(list(programmes)):
            self.db.execute(
                update(Opportunity)
                .where(Opportunity.programme_id.in_(chunk))
                .values(programme_id=None)
            )
