"""SQL for searching the directory's services (``GET /services``): every filter, the text
match and its rank, distance to a point, sorting and the page, in one statement per answer
(a count and a page), plus the extras the GeoJSON and CSV representations read.

The caller (``directory.usecases.search``) resolves names, areas and coordinates; this module only
receives plain values (:class:`Filters`) and knows the two dialects:

* **PostgreSQL** matches a ``tsquery`` against ``search_vector`` and ranks with ``ts_rank``
  over it. Each term of the query (``directory.store.words.tsquery_terms``: loose words,
  websearch syntax) matches by its English stems, as ``websearch_to_tsquery`` would
  (``mentoring`` finds "mentors"), or by its words as typed starting a word
  (``to_tsquery('simple', 'ment':*)``: "ment" finds "mentoring", "москв" "Москва", "off"
  "offenders", as the SQLite fallback and the patch compare; a stem's start alone would
  have let "arts" find "arthritis"). ``search_vector`` is a stored generated column
  (migrations 0005 and 0021) holding the service name's loose words at weight A before
  ``search_text``, GIN-indexed, so neither the match nor the rank rebuilds a vector per row
  (a word in the name counts ten times one elsewhere). A word typed past its stem
  ("mentori", whose stem would be "mentor") starts no stem, so the query is matched against
  ``search_words`` (0024): the same stems followed by ``search_text`` as a ``simple``
  vector, the words as they are, GIN-indexed; every service the patch's rule finds is
  found, and the rank is still read from ``search_vector``.
* **SQLite** (the embedded fallback): every term of ``q`` must start a word of
  ``search_text`` (the loose words the row keeps, the term made loose the same way:
  ``directory.store.words``), looked up in their FTS5 index ``service_words`` (migration
  0022, kept by triggers: ``"term"*``, the same words as ``LIKE '% term%'`` found before,
  without reading every service); ``-term`` excludes (a query of only exclusions matches
  what has none of them, as PostgreSQL's does), ``"a phrase"`` matches its words in a row,
  the last a word's start, ``or`` is ignored. The rank is a weighted count of where the
  terms occur: 3 for the service name, 1 for the organisation name (each read as its loose words,
  ``search_name``: migration 0021), 1 for the description as written (a term found only
  in theme names matches with rank 0).


Spatial filters use the 250 m grid ``cell`` of each delivery site (indexed) to pick
candidates, then the exact test: distance in British National Grid metres for ``near``,
longitude/latitude for ``bbox``. A big box is counted and paged in memory instead
(``directory.usecases.boxes``): this module gives it the rows its arrays are built from
(``box_sites``, ``box_services``, the sort orders, coverage and themes) and the page's rows
by id.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    and_,
    case,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    union,
)
from sqlalchemy.engine import Connection, Row

from directory.store.models import (
    SERVICE_WORDS,
    DataRelease,
    Grant,
    GrantService,
    Location,
    Organisation,
    Programme,
    Service,
    ServiceArea,
    ServiceTheme,
)
from directory.store.repositories import by_name, starts_a_word
from directory.store.repositories.geography import CELL_METRES, grid_cell
from directory.store.words import folded, parse_terms, query_terms, tsquery_terms

SORTS = ("relevance", "distance", "name", "updated", "funding_end")
#: more grid columns than this and the cell prefilter becomes one range over the strip
_MAX_CELL_RANGES = 40
_NAME_WEIGHT, _ORGANISATION_WEIGHT, _DESCRIPTION_WEIGHT = 3, 1, 1


@dataclass(frozen=True)
class AreaMatch:
    """What ``area=`` matches: coverage with any of ``coverage_codes``, or a delivery site
    in one of ``site_wards`` / ``site_boroughs``."""

    coverage_codes: frozenset[str]
    site_wards: frozenset[str] = frozenset()
    site_boroughs: frozenset[str] = frozenset()


def services_in_area(area: AreaMatch) -> Any:
    """The ids of the services ``area=`` matches, as a subquery (also what a practice note's
    area is: its service's, directory/store/repositories/participation.py)."""
    parts: list[Any] = [
        select(ServiceArea.service_id).where(ServiceArea.area_code.in_(sorted(area.coverage_codes)))
    ]
    if area.site_wards:
        parts.append(
            select(Location.service_id).where(Location.ward_code.in_(sorted(area.site_wards)))
        )
    if area.site_boroughs:
        parts.append(
            select(Location.service_id).where(Location.borough_code.in_(sorted(area.site_boroughs)))
        )
    return union(*parts) if len(parts) > 1 else parts[0]


@dataclass(frozen=True)
class Near:
    """A point in British National Grid metres and a radius."""

    easting: float
    northing: float
    radius: float


@dataclass(frozen=True)
class Box:
    """A WGS84 box, and its envelope in British National Grid (for the cell prefilter)."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    bng_envelope: tuple[float, float, float, float]


@dataclass(frozen=True)
class Filters:
    text: str | None = None
    themes: tuple[str, ...] = ()
    status: str | None = None
    organisation_id: int | None = None
    include_withdrawn: bool = False
    programme: str | None = None
    live_on: date | None = None
    #: a grant live at some time in [start, end] (either end open: None)
    live_during: tuple[date | None, date | None] | None = None
    ends_between: tuple[date, date] | None = None
    updated_since: datetime | None = None
    area: AreaMatch | None = None
    near: Near | None = None
    box: Box | None = None
    service_id: int | None = None
    #: only services with some coverage (what a box meeting every area asks)
    has_coverage: bool = False


def cell_ranges(min_e: float, min_n: float, max_e: float, max_n: float) -> list[tuple[int, int]]:
    """Ranges of grid-cell keys covering a BNG rectangle: one per column of cells (keys of a
    column are consecutive), or a single range over the whole strip when it is wide."""
    first, last = int(min_e // CELL_METRES), int(max_e // CELL_METRES)
    if last - first + 1 > _MAX_CELL_RANGES:
        return [(grid_cell(min_e, min_n), grid_cell(max_e, max_n))]
    return [
        (grid_cell(col * CELL_METRES, min_n), grid_cell(col * CELL_METRES, max_n))
        for col in range(first, last + 1)
    ]


def _in_cells(ranges: Sequence[tuple[int, int]]) -> Any:
    return or_(*(Location.cell.between(lo, hi) for lo, hi in ranges))


def dated_and_live_between(first: date | None, last: date | None) -> Any:
    """The grants running on some day from ``first`` to ``last`` (either open): a start or
    an end known (with neither, a grant's status is ``unknown``), started by ``last`` and
    not ended before ``first``; a missing start or end is open. The rule of
    ``directory.usecases.catalogue.live_between``."""
    where = [or_(Grant.start.is_not(None), Grant.end.is_not(None))]
    if last is not None:
        where.append(or_(Grant.start.is_(None), Grant.start <= last))
    if first is not None:
        where.append(or_(Grant.end.is_(None), Grant.end >= first))
    return and_(*where)


#: SQLite's FTS5 index of ``service.search_text`` (migration 0022; its rowid the service's id)
_SERVICE_WORDS = table(SERVICE_WORDS, column("rowid"), column(SERVICE_WORDS))


def _words_matching(query: str) -> Any:
    """The ids of the services whose words match ``query``, an FTS5 query of quoted loose
    words (which hold no quote, nor anything else FTS5 reads: letters, digits and marks)."""
    return select(_SERVICE_WORDS.c.rowid).where(_SERVICE_WORDS.c[SERVICE_WORDS].match(query))


def _summary_columns() -> list[Any]:
    """The columns of a service summary (a page of :meth:`SearchQueries.search`)."""
    return [
        Service.id, Service.ref, Service.name, Service.status, Service.organisation_id,
        Service.last_verified, Service.withdrawn_at, Service.updated_at, Service.demo,
        Organisation.ref.label("organisation_ref"),
        Organisation.name.label("organisation_name"),
    ]  # fmt: skip


def _site_feature_columns() -> list[Any]:
    """The columns of an OGC ``sites`` feature (:meth:`SearchQueries.site_features`)."""
    return [
        Location.id, Location.name, Location.address, Location.postcode, Location.lon,
        Location.lat, Location.ward_code, Location.borough_code,
        Service.id.label("service_id"), Service.ref.label("service_ref"),
        Service.name.label("service_name"), Service.status,
        Service.updated_at, Organisation.name.label("organisation_name"),
    ]  # fmt: skip


class SearchQueries:
    """The search's reads, on a request's Core connection."""

    def __init__(self, connection: Connection) -> None:
        self.db = connection
        self.postgres = connection.dialect.name == "postgresql"

    # -- building blocks ------------------------------------------------------------------
    def _tsvector(self) -> Any:
        # the stored, GIN-indexed generated column of migration 0005 (PostgreSQL only): the
        # service name at weight A (1.0) before the search text (weight D, 0.1), so a word in
        # the name counts ten times a word elsewhere, as on SQLite it counts 3×
        return literal_column("service.search_vector")

    def _tsquery(self, text: str) -> Any:
        english, simple = literal_column("'english'"), literal_column("'simple'")
        alternatives = []
        for terms in tsquery_terms(text):
            needed = []
            for term in terms:  # its English stems, or its words as typed starting words
                # written into the statement (quoted by SQLAlchemy), not bound: PostgreSQL
                # then estimates the rows a query's words match, where a prepared statement's
                # generic plan guessed 500 for any, and so joined 28,924 services to their
                # organisations before taking the page (248 ms against 128 at 100,000)
                found = func.tsquery_or(
                    func.to_tsquery(english, literal(term.words, literal_execute=True)),
                    func.to_tsquery(simple, literal(term.words + ":*", literal_execute=True)),
                )
                needed.append(func.tsquery_not(found) if term.exclude else found)
            alternatives.append(functools.reduce(func.tsquery_and, needed))
        if not alternatives:  # no words: a query that matches nothing
            return func.to_tsquery(english, literal(""))
        return functools.reduce(func.tsquery_or, alternatives)

    def _text_match(self, text: str) -> Any:
        if self.postgres:
            # against search_words (0024): the stems and the words as they are, so a word
            # typed past its stem ("mentori") starts a word ("mentoring"); ranked by the stems
            return literal_column("service.search_words").op("@@")(self._tsquery(text))
        # (the rule of directory.store.words.matches) each term starts a word of the
        # service's words, a phrase's words in a row; looked up in their FTS5 index (0022)
        wanted, unwanted = [], []
        for term in query_terms(text):
            (unwanted if term.exclude else wanted).append(f'"{term.text}"*')
        if wanted:
            found = " AND ".join(wanted)
            if unwanted:
                found = f"({found}) NOT ({' OR '.join(unwanted)})"
            return Service.id.in_(_words_matching(found))
        if unwanted:  # only exclusions: what has none of them, as on PostgreSQL
            return Service.id.not_in(_words_matching(" OR ".join(unwanted)))
        # nothing to look for (only "or", only punctuation or stop words): match nothing,
        # as PostgreSQL does for a query with no words
        return literal(False)

    def _rank(self, text: str) -> Any:
        if self.postgres:
            return func.ts_rank(self._tsvector(), self._tsquery(text))
        parts: list[Any] = []
        for term in query_terms(text):  # the names by their loose words, as q matches
            if not term.exclude:
                for column, weight in (
                    (Service.search_name, _NAME_WEIGHT),
                    (Organisation.search_name, _ORGANISATION_WEIGHT),
                ):
                    found = starts_a_word(column, term.text)
                    parts.append(case((found, weight), else_=0))
        for term in parse_terms(folded(text)):  # the description as written: a guide
            if not term.exclude:
                found = Service.description.icontains(term.text, autoescape=True)
                parts.append(case((found, _DESCRIPTION_WEIGHT), else_=0))
        return sum(parts[1:], parts[0]) if parts else literal(0)

    def _grant_exists(self, f: Filters) -> Any | None:
        if (
            f.programme is None and f.live_on is None and f.live_during is None
            and f.ends_between is None
        ):  # fmt: skip
            return None
        where = [GrantService.service_id == Service.id, Grant.withdrawn_at.is_(None)]
        if f.programme is not None:
            where.append(Grant.programme_id == f.programme)
        if f.live_on is not None:
            where.append(dated_and_live_between(f.live_on, f.live_on))
        if f.live_during is not None:
            where.append(dated_and_live_between(*f.live_during))
        if f.ends_between is not None:
            where.append(Grant.end.between(*f.ends_between))
        return (
            select(literal(1))
            .select_from(GrantService)
            .join(Grant, Grant.id == GrantService.grant_id)
            .where(*where)
            .exists()
        )

    def _area_match(self, area: AreaMatch) -> Any:
        return Service.id.in_(services_in_area(area))

    @staticmethod
    def _distance2(near: Near) -> Any:
        dx = Location.easting - near.easting
        dy = Location.northing - near.northing
        return dx * dx + dy * dy

    def _near_subquery(self, near: Near) -> Any:
        """Services with a site within the radius, and the squared distance of the nearest."""
        r = near.radius
        d2 = self._distance2(near)
        ranges = cell_ranges(
            near.easting - r, near.northing - r, near.easting + r, near.northing + r
        )
        return (
            select(Location.service_id.label("service_id"), func.min(d2).label("d2"))
            .where(_in_cells(ranges), Location.easting.is_not(None), d2 <= r * r)
            .group_by(Location.service_id)
            .subquery("near")
        )

    @staticmethod
    def _site_in_box(box: Box) -> list[Any]:
        return [
            _in_cells(cell_ranges(*box.bng_envelope)),
            Location.lon.between(box.min_lon, box.max_lon),
            Location.lat.between(box.min_lat, box.max_lat),
        ]

    def _box_match(self, box: Box) -> Any:
        return Service.id.in_(select(Location.service_id).where(*self._site_in_box(box)))

    def _where(self, f: Filters) -> list[Any]:
        where: list[Any] = []
        if f.service_id is not None:
            where.append(Service.id == f.service_id)
        if f.text is not None:
            where.append(self._text_match(f.text))
        if f.status is not None:
            where.append(Service.status == f.status)
        if not f.include_withdrawn:
            where.append(Service.withdrawn_at.is_(None))
        if f.organisation_id is not None:
            where.append(Service.organisation_id == f.organisation_id)
        for theme in f.themes:
            where.append(
                Service.id.in_(
                    select(ServiceTheme.service_id).where(ServiceTheme.theme_id == theme)
                )
            )
        if (grants := self._grant_exists(f)) is not None:
            where.append(grants)
        if f.updated_since is not None:
            where.append(Service.updated_at >= f.updated_since)
        if f.area is not None:
            where.append(self._area_match(f.area))
        if f.has_coverage:
            where.append(Service.id.in_(select(ServiceArea.service_id)))
        if f.box is not None:
            where.append(self._box_match(f.box))
        return where

    # -- the answer -----------------------------------------------------------------------
    def search(
        self, f: Filters, *, sort: str, today: date, offset: int, limit: int,
        count_features: bool = False,
    ) -> tuple[list[Row[Any]], int, int | None]:  # fmt: skip
        """The page of matching services (summary columns, plus ``rank`` when there is text
        and ``d2``, the squared distance in metres to the nearest site, with ``near``), the
        number of matching services and, with ``count_features``, the number of GeoJSON
        features they make (one per site, one for a service without sites; with a ``box``,
        one per site inside it, the only sites a page of them sends)."""
        where = self._where(f)
        near = self._near_subquery(f.near) if f.near is not None else None

        def joined(statement: Any) -> Any:
            return (
                statement.join(near, near.c.service_id == Service.id)
                if near is not None
                else statement
            )

        total = int(
            self.db.execute(
                joined(select(func.count()).select_from(Service)).where(*where)
            ).scalar_one()
        )
        features = None
        if count_features:
            matched = joined(select(Service.id.label("id")).select_from(Service)).where(*where)
            if f.box is not None:  # the sites inside, read from the cell index
                counted = select(func.count()).where(
                    *self._site_in_box(f.box), Location.service_id.in_(matched)
                )
            else:
                matched_sq = matched.subquery("matched")
                counted = (
                    select(func.count())
                    .select_from(matched_sq)
                    .outerjoin(Location, Location.service_id == matched_sq.c.id)
                )
            features = int(self.db.execute(counted).scalar_one())
        if total == 0 or offset >= total:
            return [], total, features

        rank = self._rank(f.text).label("rank") if f.text is not None else None
        columns = _summary_columns()
        if rank is None:  # (an order an index or a few rows give: one statement)
            if near is not None:
                columns.append(near.c.d2)
            statement = (
                joined(
                    select(*columns)
                    .select_from(Service)
                    .join(Organisation, Organisation.id == Service.organisation_id)
                )
                .where(*where)
                .order_by(*self._order(sort, None, near, today))
                .offset(offset)
                .limit(limit)
            )
            return list(self.db.execute(statement).all()), total, features
        # ranked: the page's ids first (with what orders them), then their summaries, so
        # that the sort sits right under its LIMIT and PostgreSQL keeps only the page's rows
        # as it sorts (a top-N heapsort); sorting every match before joining their
        # organisations spilled 5 MB to disk for a word in 30,892 of 100,000 services
        keys: list[Any] = [Service.id.label("id"), rank]
        if near is not None:
            keys.append(near.c.d2)
        matching = joined(select(*keys).select_from(Service))
        if not self.postgres:  # (SQLite's rank reads the organisation's name)
            matching = matching.join(Organisation, Organisation.id == Service.organisation_id)
        page = (
            matching.where(*where)
            .order_by(*self._order(sort, rank, near, today))
            .offset(offset)
            .limit(limit)
            .subquery("page")
        )
        columns.append(page.c.rank)
        if near is not None:
            columns.append(page.c.d2)
        statement = (
            select(*columns)
            .select_from(page)
            .join(Service, Service.id == page.c.id)
            .join(Organisation, Organisation.id == Service.organisation_id)
            .order_by(*self._order(sort, page.c.rank, page, today))  # (the page's rows again)
        )
        return list(self.db.execute(statement).all()), total, features

    # -- pages chosen in memory (directory.usecases.boxes) ---------------------------------
    def data_version_id(self) -> int | None:
        """The id of the newest data release: every change of the directory adds one."""
        return self.db.execute(select(func.max(DataRelease.id))).scalar()

    def _tuples(self, statement: Any) -> list[tuple[Any, ...]]:
        # the driver's own tuples: at 100,000 rows, half the time of SQLAlchemy's Row objects
        result = self.db.execute(statement)
        try:
            return list(result.cursor.fetchall())
        finally:
            result.close()

    def box_sites(self) -> list[tuple[int, int, float, float, int | None]]:
        """(id, service id, lon, lat, grid cell) of every site with a position, by id."""
        return self._tuples(  # type: ignore[return-value]
            select(Location.id, Location.service_id, Location.lon, Location.lat, Location.cell)
            .where(Location.lon.is_not(None), Location.lat.is_not(None))
            .order_by(Location.id)
        )

    def box_services(self) -> list[tuple[int, bool, str, int]]:
        """(id, not withdrawn, status, organisation id) of every service, in the order of
        ``sort=name`` (the database's own collation: name, then id)."""
        return self._tuples(  # type: ignore[return-value]
            select(
                Service.id, Service.withdrawn_at.is_(None), Service.status,
                Service.organisation_id,
            ).order_by(*self._order("name", None, None, date.min))
        )  # fmt: skip

    def service_ids_sorted(self, sort: str) -> list[int]:
        """Every service id in the order of ``sort`` (``name`` or ``updated``)."""
        if sort not in ("name", "updated"):
            raise ValueError(sort)
        statement = select(Service.id).order_by(*self._order(sort, None, None, date.min))
        return [row[0] for row in self._tuples(statement)]

    def coverage_pairs(self) -> list[tuple[int, str]]:
        """(service id, area code) of every service's coverage."""
        return self._tuples(select(ServiceArea.service_id, ServiceArea.area_code))  # type: ignore[return-value]

    def theme_pairs(self) -> list[tuple[int, str]]:
        """(service id, theme id) of every service's themes."""
        return self._tuples(select(ServiceTheme.service_id, ServiceTheme.theme_id))  # type: ignore[return-value]

    def _in_order(self, statement: Any, key: Any, ids: Sequence[int]) -> list[Row[Any]]:
        """The rows of ``statement`` whose ``key`` is one of ``ids``, in the order given."""
        if not ids:
            return []
        by_id = {row.id: row for row in self.db.execute(statement.where(key.in_(list(ids))))}
        return [by_id[i] for i in ids if i in by_id]

    def services_by_ids(self, ids: Sequence[int]) -> list[Row[Any]]:
        """The summary rows of :meth:`search` (no rank, no distance) of these services, in
        the order given."""
        statement = (
            select(*_summary_columns())
            .select_from(Service)
            .join(Organisation, Organisation.id == Service.organisation_id)
        )
        return self._in_order(statement, Service.id, ids)

    def site_features_by_ids(self, ids: Sequence[int]) -> list[Row[Any]]:
        """The rows of :meth:`site_features` of these sites, in the order given."""
        statement = (
            select(*_site_feature_columns())
            .select_from(Location)
            .join(Service, Service.id == Location.service_id)
            .join(Organisation, Organisation.id == Service.organisation_id)
        )
        return self._in_order(statement, Location.id, ids)

    def _order(self, sort: str, rank: Any, near: Any, today: date) -> list[Any]:
        tie = by_name(Service.name, Service.id)
        if sort == "relevance":
            return [rank.desc(), *tie]
        if sort == "distance":
            return [near.c.d2, *tie]
        if sort == "updated":
            return [Service.updated_at.desc(), *tie]
        if sort == "funding_end":
            soonest = (
                select(func.min(Grant.end))
                .select_from(GrantService)
                .join(Grant, Grant.id == GrantService.grant_id)
                .where(
                    GrantService.service_id == Service.id,
                    Grant.withdrawn_at.is_(None),
                    Grant.end >= today,
                )
                .scalar_subquery()
            )
            return [soonest.asc().nulls_last(), *tie]
        return tie

    def site_features(
        self, f: Filters, *, offset: int, limit: int, site_id: int | None = None
    ) -> tuple[list[Row[Any]], int]:
        """A page of the delivery sites with a position whose service matches ``f`` (its
        ``box`` applies to the site itself, not to the service's other sites), in site id
        order, and how many there are: the rows of the OGC API ``sites`` collection."""
        where = self._where(replace(f, box=None))
        where += [Location.lon.is_not(None), Location.lat.is_not(None)]
        by_id: Any = Location.id
        if f.box is not None:
            box = f.box
            if len(cell_ranges(*box.bng_envelope)) > 1:
                where += self._site_in_box(box)
                # a narrow box's few sites are found by their cells and then sorted: ordered
                # by the bare id, SQLite walked every site in id order (17 ms at 100,000)
                by_id = Location.id + 0
            else:  # a box many cells wide: read in id order, not through one huge cell range
                where += [
                    Location.lon.between(box.min_lon, box.max_lon),
                    Location.lat.between(box.min_lat, box.max_lat),
                ]
        if site_id is not None:
            where.append(Location.id == site_id)
        base = (
            select(func.count())
            .select_from(Location)
            .join(Service, Service.id == Location.service_id)
        )
        total = int(self.db.execute(base.where(*where)).scalar_one())
        if total == 0 or offset >= total:
            return [], total
        statement = (
            select(*_site_feature_columns())
            .select_from(Location)
            .join(Service, Service.id == Location.service_id)
            .join(Organisation, Organisation.id == Service.organisation_id)
            .where(*where)
            .order_by(by_id)
            .offset(offset)
            .limit(limit)
        )  # fmt: skip
        return list(self.db.execute(statement).all()), total

    # -- extras for the representations ----------------------------------------------------
    def sites_of(self, ids: Sequence[int], inside: Box | None = None) -> dict[int, list[Row[Any]]]:
        """Delivery sites of the services (what GeoJSON and CSV show), by service, in ref
        order; with ``inside``, only those inside that box (GeoJSON's Features of a
        ``bbox`` page). A ``bbox`` match tests a site's grid cell, a prefilter, then its
        longitude and latitude; the cells cover the box and more (its envelope padded by
        50 m), so the page's sites are tested on their position alone: the box's cell ranges
        in the statement cost SQLite more to prepare (0.5 ms for a 1 km box) than the page's
        few sites cost to test."""
        out: dict[int, list[Row[Any]]] = defaultdict(list)
        if not ids:
            return out
        where = [Location.service_id.in_(list(ids))]
        if inside is not None:
            where += [
                Location.lon.between(inside.min_lon, inside.max_lon),
                Location.lat.between(inside.min_lat, inside.max_lat),
            ]
        for row in self.db.execute(
            select(
                Location.id, Location.service_id, Location.ref, Location.name, Location.postcode,
                Location.lat, Location.lon, Location.easting, Location.northing,
            )
            .where(*where)
            .order_by(Location.service_id, Location.ref)
        ):  # fmt: skip
            out[row.service_id].append(row)
        return out

    def live_programmes(self, ids: Sequence[int], day: date) -> dict[int, list[str]]:
        """Names of the programmes of each service's non-withdrawn grants live on ``day``."""
        out: dict[int, list[str]] = defaultdict(list)
        if not ids:
            return out
        for service_id, name in self.db.execute(
            select(GrantService.service_id, func.coalesce(Programme.name, Grant.programme_id))
            .join(Grant, Grant.id == GrantService.grant_id)
            .join(Programme, Programme.id == Grant.programme_id)
            .where(
                GrantService.service_id.in_(list(ids)),
                Grant.withdrawn_at.is_(None),
                dated_and_live_between(day, day),
            )
            .distinct()
            .order_by(GrantService.service_id, func.coalesce(Programme.name, Grant.programme_id))
        ):
            out[service_id].append(name)
        return out
