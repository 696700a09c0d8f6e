"""SQL behind the Open Referral HSDS 3.0 API (``/api/v1/hsds``): pages of services,
organisations, locations and service-at-locations under the HSDS filters, and the rows a
page's objects are built from, read for the page's ids only (``IN (...)``, in chunks).

The service filters are the search's (:class:`SearchQueries`, whose ``Filters`` this
reuses), plus "has any theme" for ``taxonomy_id``. Pages are ordered by name, then id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.engine import Row

from directory.store.db import streamed
from directory.store.models import Location, Organisation, Service, ServiceTheme
from directory.store.repositories import among, by_name, starts_a_word, wanted
from directory.store.repositories.directory import alias_select
from directory.store.repositories.search import Filters, Near, SearchQueries, cell_ranges
from directory.store.words import name_words

_CHUNK = 500


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    ids = list(ids)
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _identifiers() -> dict[str, Select[Any]]:
    """The queries of :meth:`HsdsQueries.identifier_rows`, by kind of row."""
    return {
        "service": select(Service.id, Service.ref),
        "organization": select(Organisation.id, Organisation.ref),
        "location": select(Location.id, Service.ref.label("service_ref"), Location.ref).join(
            Service, Service.id == Location.service_id
        ),
    }


#: the id column of each kind of :func:`_identifiers`
_IDENTIFIER_KEYS = {"service": Service.id, "organization": Organisation.id, "location": Location.id}


class HsdsQueries(SearchQueries):
    """The HSDS API's reads, on a request's connection."""

    def organisation_aliases(self) -> list[Row[Any]]:
        """The organisations merged into others: (ref, the ref of the one they name now)."""
        return list(self.db.execute(alias_select()).all())

    def _service_where(self, f: Filters, any_theme: bool) -> list[Any]:
        where = self._where(f)
        if any_theme:
            where.append(Service.id.in_(select(ServiceTheme.service_id)))
        return where

    def _near_clause(self, near: Near) -> Any:
        """A delivery site within the radius (the grid cells first, then the distance)."""
        r = near.radius
        ranges = cell_ranges(
            near.easting - r, near.northing - r, near.easting + r, near.northing + r
        )
        in_cells = or_(*(Location.cell.between(lo, hi) for lo, hi in ranges))
        return (in_cells, Location.easting.is_not(None), self._distance2(near) <= r * r)

    # -- pages ----------------------------------------------------------------------------
    def service_page(
        self, f: Filters, *, any_theme: bool, offset: int, limit: int
    ) -> tuple[list[int], int]:
        """The ids of one page of matching services (by name, then id) and how many match.
        ``f.near`` keeps services with a delivery site within its radius."""
        where = self._service_where(f, any_theme)
        if f.near is not None:
            where.append(
                Service.id.in_(select(Location.service_id).where(*self._near_clause(f.near)))
            )
        total = self.db.execute(
            select(func.count()).select_from(Service).where(*where)
        ).scalar_one()
        if not total or offset >= total:
            return [], int(total)
        ids = self.db.execute(
            select(Service.id)
            .where(*where)
            .order_by(*by_name(Service.name, Service.id))
            .offset(offset)
            .limit(limit)
        ).scalars()
        return list(ids), int(total)

    def location_page(
        self, f: Filters, *, any_theme: bool, offset: int, limit: int
    ) -> tuple[list[Row[Any]], int]:
        """One page of the delivery sites of matching services (by service name, then the
        site's ref), with their service's ref, and how many there are. ``f.near`` keeps
        the sites within its radius."""
        where = [*self._service_where(f, any_theme), Location.service_id == Service.id]
        if f.near is not None:
            where.extend(self._near_clause(f.near))
        total = self.db.execute(
            select(func.count())
            .select_from(Location)
            .join(Service, Service.id == Location.service_id)
            .where(*where)
        ).scalar_one()
        if not total or offset >= total:
            return [], int(total)
        rows = self.db.execute(
            select(Location.__table__, Service.ref.label("service_ref"))
            .join(Service, Service.id == Location.service_id)
            .where(*where)
            .order_by(*by_name(Service.name, Service.id, Location.ref))
            .offset(offset)
            .limit(limit)
        ).all()
        return list(rows), int(total)

    def organisation_page(
        self, *, text: str | None, offset: int, limit: int
    ) -> tuple[list[Row[Any]], int]:
        """Organisations that run or fund something listed (a service not withdrawn),
        by name: with ``text``, those where each of its words starts a word of the name
        (its loose words, as ``/organisations?q=`` compares them) or is inside the
        description (in lower case); a text with no words finds none."""
        where: list[Any] = [
            Organisation.id.in_(
                select(Service.organisation_id).where(Service.withdrawn_at.is_(None))
            )
        ]
        if text is not None:
            words = name_words(text)
            if not words:
                where.append(false())
            for word in words:
                found = starts_a_word(Organisation.search_name, word.loose) | func.lower(
                    func.coalesce(Organisation.description, "")
                ).contains(word.text, autoescape=True)
                where.append(wanted(found, word.exclude))
        total = self.db.execute(
            select(func.count()).select_from(Organisation).where(*where)
        ).scalar_one()
        rows = self.db.execute(
            select(Organisation.__table__)
            .where(*where)
            .order_by(*by_name(Organisation.name, Organisation.id))
            .offset(offset)
            .limit(limit)
        ).all()
        return list(rows), int(total)

    # -- the rows of a page ---------------------------------------------------------------
    def organisations(self, ids: Sequence[int]) -> dict[int, Row[Any]]:
        out: dict[int, Row[Any]] = {}
        for chunk in _chunks(ids):
            for row in self.db.execute(
                select(Organisation.__table__).where(among(Organisation.id, chunk, self.db))
            ):
                out[row.id] = row
        return out

    def locations(self, ids: Sequence[int]) -> list[Row[Any]]:
        """Delivery sites by id, with their service's ref."""
        out: list[Row[Any]] = []
        for chunk in _chunks(ids):
            out.extend(
                self.db.execute(
                    select(Location.__table__, Service.ref.label("service_ref"))
                    .join(Service, Service.id == Location.service_id)
                    .where(among(Location.id, chunk, self.db))
                ).all()
            )
        return out

    def services_of_organisations(self, ids: Sequence[int]) -> dict[int, list[int]]:
        """The listed (not withdrawn) services of each organisation, by name."""
        out: dict[int, list[int]] = {}
        for chunk in _chunks(ids):
            for org_id, service_id in self.db.execute(
                select(Service.organisation_id, Service.id)
                .where(
                    among(Service.organisation_id, chunk, self.db), Service.withdrawn_at.is_(None)
                )
                .order_by(*by_name(Service.name, Service.id))
            ):
                out.setdefault(org_id, []).append(service_id)
        return out

    # -- identifiers ----------------------------------------------------------------------
    def identifier_rows(self) -> dict[str, list[Row[Any]]]:
        """What the HSDS ids are made from, for the id index (read once per data version):
        every service's and organisation's id and ref, every site's id, service ref and ref."""
        return {kind: list(streamed(self.db, query)) for kind, query in _identifiers().items()}

    def identifier_rows_of(
        self, kind: str, *, above: int | None = None, ids: Sequence[int] = (),
        limit: int | None = None,
    ) -> list[Row[Any]]:  # fmt: skip
        """The rows of one kind of :meth:`identifier_rows` whose id is above ``above`` (what
        imports added since an id index whose ids of that kind are at most ``above``: a
        range of the primary key), or else among ``ids``; the first ``limit`` by id."""
        query, key = _identifiers()[kind], _IDENTIFIER_KEYS[kind]
        query = query.where(key > above) if above is not None else query.where(key.in_(list(ids)))
        if limit is not None:
            query = query.order_by(key).limit(limit)
        return list(self.db.execute(query).all())
