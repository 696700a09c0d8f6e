"""What is in my patch: the services that serve a place, why each is there, the money
going into it and who to talk to; and partners for an organisation.

The directory is small (thousands of services) and read-heavy, so it is held in memory as a
``DirectoryIndex`` built once per data version and day (grant statuses depend on the date):
coverage by area code, delivery sites by 250 m grid cell, organisations' profiles, grants by
beneficiary area, contacts by area, and each service's answer already rendered. A patch
request is then one postcode lookup in the database and dictionary work. No Flask here.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from directory.errors import AreaNotFoundError, InvalidInputError
from directory.settings import Settings
from directory.store.repositories.directory import CatalogueQueries
from directory.store.repositories.geography import (
    CELL_METRES,
    GeographyRepository,
    cells_around,
    grid_cell,
)
from directory.usecases import geography
from directory.usecases.catalogue import area_ref, contact, grant_flags, site_body
from directory.usecases.catalogue import iso as _iso
from directory.usecases.facts import FundingData, GrantFact
from directory.usecases.geography import LONDON, GeographySnapshot
from directory.usecases.pagination import envelope
from directory.usecases.shared import Shared

#: why a service is in a patch, strongest first (the sort order of the answer)
RELATIONS = (
    "site_nearby",  # a delivery site within the radius of the point
    "site_in_area",  # a delivery site inside the area asked for
    "serves_ward",  # its coverage names the patch's ward
    "serves_part",  # its coverage names a ward (or borough) inside the area asked for
    "serves_borough",
    "serves_bcu",
    "serves_london",
)
RANK = {relation: number for number, relation in enumerate(RELATIONS)}
DEFAULT_RADIUS_M = 2000
AREA_MATCHES_KEPT = 4096
MAX_RADIUS_M = 10000


@dataclass(frozen=True, slots=True)
class Site:
    service_id: int
    x: float
    y: float
    body: dict[str, Any]


@dataclass(slots=True)
class IndexedService:
    id: int
    name: str
    status: str
    organisation_id: int
    themes: frozenset[str]
    programmes: frozenset[str]
    grants: list[Any]  # rows, for live_on filtering
    text: str  # lower-case search text
    body: dict[str, Any]  # the rendered answer (without relations)
    sort_name: str = ""  # the name case-folded, for sorting


@dataclass(slots=True)
class OrganisationProfile:
    id: int
    ref: str
    name: str
    type: str | None
    themes: set[str] = field(default_factory=set)
    boroughs: set[str] = field(default_factory=set)
    london_wide: bool = False
    sites: list[tuple[float, float]] = field(default_factory=list)
    funders: dict[str, str] = field(default_factory=dict)  # ref → name
    services: int = 0


@dataclass
class DirectoryIndex:
    version: int
    day: date
    services: dict[int, IndexedService]
    by_area: dict[str, list[int]]
    cells: dict[int, list[Site]]
    sites_by_area: dict[str, list[Site]]
    grants_by_area: dict[str, list[Any]]
    contacts_by_area: dict[str, list[dict[str, Any]]]
    organisations: dict[int, OrganisationProfile]
    organisation_refs: dict[str, int]
    #: funding summaries already worked out, by the patch's areas and day (bounded by the
    #: number of distinct patches: wards, boroughs, BCUs)
    funding_cache: dict[tuple[Any, ...], Shared] = field(default_factory=dict)
    #: patch contacts by the patch's areas (shared: never changed)
    contacts_cache: dict[tuple[Any, ...], list[dict[str, Any]]] = field(default_factory=dict)
    #: "serves this area" reasons by (relation, area code), shared by every answer
    area_reasons: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: the matches of a patch's areas by (areas, filters): the part of a patch shared by
    #: every postcode in a ward (at most AREA_MATCHES_KEPT, then started afresh)
    area_matches: dict[tuple[Any, ...], Any] = field(default_factory=dict)
    site_count: int = 0

    @classmethod
    def build(
        cls, q: CatalogueQueries, facts: FundingData, snap: GeographySnapshot,
        settings: Settings, today: date,
    ) -> DirectoryIndex:  # fmt: skip
        """The index of the directory's listed services, with the grants of ``facts`` (the
        data version's facts, shared with the funding answers)."""
        rows = q.index_rows()
        themes: dict[int, list[str]] = defaultdict(list)
        for sid, theme in rows["themes"]:
            themes[sid].append(theme)
        coverage: dict[int, list[str]] = defaultdict(list)
        by_area: dict[str, list[int]] = defaultdict(list)
        for sid, code in rows["coverage"]:
            coverage[sid].append(code)
            by_area[code].append(sid)
        grants_of: dict[int, list[GrantFact]] = defaultdict(list)
        grants_by_area: dict[str, list[GrantFact]] = defaultdict(list)
        for g in facts.grants:
            for sid in g.services:
                grants_of[sid].append(g)
            # a regrant's money is already in the grant it came through (as /funding/summary)
            if not g.regrant:
                for code in g.areas:
                    grants_by_area[code].append(g)
        contacts_by_area: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in sorted(rows["contacts"], key=lambda c: (c.area_code, c.role)):
            contacts_by_area[c.area_code].append(contact(c, snap))
        theme_names = {t.id: t.name for t in rows["themes_taxonomy"]}

        cells: dict[int, list[Site]] = defaultdict(list)
        sites_by_area: dict[str, list[Site]] = defaultdict(list)
        sites_of: dict[int, list[Site]] = defaultdict(list)
        for loc in rows["locations"]:
            body = site_body(loc, snap)
            if loc.easting is None:
                continue
            site = Site(loc.service_id, loc.easting, loc.northing, body)
            cells[grid_cell(loc.easting, loc.northing)].append(site)
            sites_of[loc.service_id].append(site)
            for code in (loc.ward_code, loc.borough_code):
                if code:
                    sites_by_area[code].append(site)

        services: dict[int, IndexedService] = {}
        organisations: dict[int, OrganisationProfile] = {}
        for s in rows["services"]:
            live = [
                g for g in grants_of[s.id] if grant_flags(g, today, settings)["status"] != "ended"
            ]
            services[s.id] = IndexedService(
                id=s.id,
                name=s.name,
                status=s.status,
                organisation_id=s.organisation_id,
                themes=frozenset(themes[s.id]),
                programmes=frozenset(g.programme_id for g in live if g.programme_id),
                grants=grants_of[s.id],
                text=(s.search_text or s.name).casefold(),
                sort_name=s.name.casefold(),
                body=_service_body(s, themes[s.id], theme_names, coverage[s.id], sites_of[s.id], live, snap, today, settings),
            )  # fmt: skip
            profile = organisations.get(s.organisation_id)
            if profile is None:
                profile = organisations[s.organisation_id] = OrganisationProfile(
                    s.organisation_id, s.organisation_ref, s.organisation_name, s.organisation_type
                )
            profile.services += 1
            profile.themes.update(themes[s.id])
            for code in coverage[s.id]:
                if code == LONDON:
                    profile.london_wide = True
                else:
                    profile.boroughs.update(_boroughs_of(snap, code))
            for site in sites_of[s.id]:
                profile.sites.append((site.x, site.y))
                borough = site.body["borough"]
                if borough:
                    profile.boroughs.add(borough["code"])
        by_ref = {p.ref: p for p in organisations.values()}
        for g in facts.grants:
            if (profile := by_ref.get(g.recipient_ref)) is not None:
                profile.funders[g.funder_ref] = g.funder_name
        return cls(
            version=0,
            day=today,
            services=services,
            by_area=dict(by_area),
            cells=dict(cells),
            sites_by_area=dict(sites_by_area),
            grants_by_area=dict(grants_by_area),
            contacts_by_area=dict(contacts_by_area),
            organisations=organisations,
            organisation_refs={p.ref: p.id for p in organisations.values()},
            site_count=sum(len(sites) for sites in cells.values()),
        )


def _boroughs_of(snap: GeographySnapshot, code: str) -> set[str]:
    """The boroughs an area code stands for: itself, a ward's borough, a BCU's boroughs."""
    area = snap.areas.get(code)
    if area is None:
        return set()
    if area.type == "borough":
        return {code}
    if area.type == "ward":
        return {area.parent_code} if area.parent_code else set()
    if area.type == "bcu":
        return set(snap.children.get(code, []))
    return set()


def _service_body(
    s: Any, themes: list[str], theme_names: dict[str, str], coverage: list[str],
    sites: list[Site], live: list[Any], snap: GeographySnapshot, today: date, settings: Settings,
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": s.id,
        "ref": s.ref,
        "name": s.name,
        "status": s.status,
        "description": s.description,
        "organisation": {
            "id": s.organisation_id,
            "ref": s.organisation_ref,
            "name": s.organisation_name,
            "type": s.organisation_type,
        },
        "themes": [{"id": t, "name": theme_names.get(t, t)} for t in sorted(themes)],
        "coverage": [area_ref(snap, c) for c in sorted(coverage)],
        "sites": [site.body for site in sites],
        "live_grants": [
            {
                "id": g.id,
                "ref": g.ref,
                "funder": g.funder_name,
                "programme": (
                    {"id": g.programme_id, "name": g.programme_name} if g.programme_id else None
                ),
                "amount": None if g.amount_pence is None else g.amount_pence / 100,
                "start": _iso(g.start),
                "end": _iso(g.end),
                **grant_flags(g, today, settings),
            }
            for g in sorted(live, key=lambda g: (g.end or date.max, g.id))
        ],
        "contact": {"email": s.email, "phone": s.phone, "website": s.website},
        "eligibility": {"min_age": s.min_age, "max_age": s.max_age},
        "last_verified": _iso(s.last_verified),
        "demo": s.demo,
        "url": f"/api/v1/services/{s.id}",
    }


class DirectoryCache:
    """The per-process index, rebuilt when the data version or the day changes."""

    def __init__(self, on_rebuild: Callable[[], None] | None = None) -> None:
        self._index: DirectoryIndex | None = None
        self._on_rebuild = on_rebuild  # called after a new index is built (heap.settle)
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._index = None

    def current(self, version: int, today: date) -> DirectoryIndex | None:
        """The index if it is for this data version and day (no database needed)."""
        index = self._index
        if index is not None and index.version == version and index.day == today:
            return index
        return None

    def get(
        self, q: CatalogueQueries, facts: Callable[[], FundingData], snap: GeographySnapshot,
        settings: Settings, today: date,
    ) -> DirectoryIndex:  # fmt: skip
        """The index for the snapshot's data version and ``today``, built (from the rows of
        ``q`` and the facts ``facts()`` returns) when there is none."""
        version = snap.version.id  # read before the rows, so a newer import is not missed
        index = self.current(version, today)
        if index is not None:
            return index
        with self._lock:
            index = self.current(version, today)
            if index is None:
                index = DirectoryIndex.build(q, facts(), snap, settings, today)
                index.version = version
                self._index = index
                if self._on_rebuild is not None:
                    self._on_rebuild()
            return index


# -- places ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Coverage:
    """The area codes each relation looks at, with the codes in order and a hashable key
    (funding summaries are cached by it)."""

    relations: dict[str, list[str]]  # relation → area codes
    codes: tuple[str, ...]
    key: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, relations: dict[str, list[str]]) -> Coverage:
        return cls(
            relations,
            tuple(code for codes in relations.values() for code in codes),
            tuple((relation, *codes) for relation, codes in relations.items()),
        )


@dataclass
class Place:
    """Where a patch is: the geography answer, the codes each relation looks at, and a point
    for nearby sites (postcode and point queries) or the areas whose sites count."""

    geography: dict[str, Any]
    coverage: Coverage
    point: tuple[float, float] | None = None
    site_areas: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=4096)
def _point_coverage(ward: str | None, borough: str, bcu: str | None) -> Coverage:
    """A postcode's or point's coverage: one per ward, worked out once."""
    return Coverage.of({
        "serves_ward": [ward] if ward else [],
        "serves_borough": [borough],
        "serves_bcu": [bcu] if bcu and bcu != LONDON else [],
        "serves_london": [LONDON],
    })  # fmt: skip


def place_for_areas(
    geography: dict[str, Any],
    borough: str,
    ward: str | None,
    snap: GeographySnapshot,
    point: tuple[float, float],
) -> Place:
    """A postcode or point: its ward, borough, BCU and London."""
    return Place(geography, _point_coverage(ward, borough, snap.areas[borough].parent_code), point)


def place_for_area(code: str, snap: GeographySnapshot) -> Place:
    """An area asked for by code or name: it, its ancestors and the areas inside it."""
    area = snap.areas[code]
    ancestors: list[str] = []
    parent = area.parent_code
    while parent is not None:
        ancestors.append(parent)
        parent = snap.areas[parent].parent_code if parent in snap.areas else None
    inside: list[str] = []
    stack = list(snap.children.get(code, []))
    while stack:
        child = stack.pop()
        inside.append(child)
        stack.extend(snap.children.get(child, []))
    by_type = {snap.areas[a].type: a for a in [code, *ancestors] if a in snap.areas}
    coverage = Coverage.of({
        "serves_ward": [by_type["ward"]] if "ward" in by_type else [],
        "serves_part": sorted(inside),
        "serves_borough": [by_type["borough"]] if "borough" in by_type else [],
        "serves_bcu": [by_type["bcu"]] if "bcu" in by_type else [],
        "serves_london": [LONDON],
    })  # fmt: skip
    geography = {
        "area": area.ref(),
        "ward": snap.ref(by_type.get("ward")),
        "borough": snap.ref(by_type.get("borough")),
        "bcu": snap.ref(by_type.get("bcu")),
        "region": snap.ref(LONDON),
        "match": "area",
    }
    if by_type.get("borough") == "E09000001":
        geography["bcu_note"] = (
            "The City of London is policed by the City of London Police and is in no Met BCU."
        )
    site_areas = [code] if area.type in ("ward", "borough") else [
        c for c in inside if snap.areas[c].type == "borough"
    ]  # fmt: skip
    return Place(geography, coverage, site_areas=site_areas)


# -- the patch -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PatchFilters:
    themes: tuple[str, ...] = ()
    programme: str | None = None
    status: str | None = "active"  # None: any status
    live_on: date | None = None
    q: str | None = None
    radius: float = DEFAULT_RADIUS_M

    def check(self) -> None:
        if not 0 < self.radius <= MAX_RADIUS_M:
            raise InvalidInputError(
                f"radius must be between 1 and {MAX_RADIUS_M} metres.",
                errors={"radius": [f"1 to {MAX_RADIUS_M}"]},
            )


def _matches(service: IndexedService, filters: PatchFilters, words: list[str], today: date) -> bool:
    if filters.status is not None and service.status != filters.status:
        return False
    if filters.themes and not service.themes.issuperset(filters.themes):
        return False
    if filters.programme is not None or filters.live_on is not None:
        # one grant must satisfy both: from the programme, and live on the day asked (today
        # when only a programme is given)
        day = filters.live_on or today
        if not any(
            (filters.programme is None or g.programme_id == filters.programme)
            and (g.start is None or g.start <= day)
            and (g.end is None or day <= g.end)
            for g in service.grants
        ):
            return False
    return all(word in service.text for word in words)


def nearby_sites(index: DirectoryIndex, place: Place, radius: float) -> dict[int, dict[str, Any]]:
    """Service id → its nearest delivery site within ``radius`` of the place's point, as a
    ``site_nearby`` reason with the distance (nothing for a place without a point)."""
    if place.point is None:
        return {}
    x, y = place.point
    nearest: dict[int, tuple[float, Site]] = {}
    within = radius * radius
    for site in _sites_near(index, x, y, radius):
        dx, dy = site.x - x, site.y - y
        squared = dx * dx + dy * dy
        if squared <= within:
            distance = math.sqrt(squared)
            best = nearest.get(site.service_id)
            if best is None or distance < best[0]:
                nearest[site.service_id] = (distance, site)
    return {
        sid: {"relation": "site_nearby", "distance_m": round(distance), "site": site.body}
        for sid, (distance, site) in nearest.items()
    }


def area_relations(
    index: DirectoryIndex, place: Place, snap: GeographySnapshot
) -> dict[int, list[dict[str, Any]]]:
    """Service id → why it is in the place's areas: a site inside the area asked for, or
    coverage of its ward, parts, borough, BCU or London (one entry per reason)."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for code in place.site_areas:
        for site in index.sites_by_area.get(code, ()):
            if not any(r["relation"] == "site_in_area" for r in found[site.service_id]):
                found[site.service_id].append({"relation": "site_in_area", "site": site.body})
    for relation, codes in place.coverage.relations.items():
        for code in codes:
            sids = index.by_area.get(code)
            if sids:
                reason = index.area_reasons.get((relation, code))
                if reason is None:  # the same for every patch: made once, never changed
                    reason = {"relation": relation, "area": area_ref(snap, code)}
                    index.area_reasons[relation, code] = reason
                for sid in sids:
                    found[sid].append(reason)
    return found


def _sites_near(index: DirectoryIndex, x: float, y: float, radius: float) -> Iterable[Site]:
    """Candidate sites from the grid cells around a point (or all sites, when there are
    fewer sites than cells to look in)."""
    ring = math.ceil(radius / CELL_METRES)
    if index.site_count <= (2 * ring + 1) ** 2:
        return (site for sites in index.cells.values() for site in sites)
    cells = index.cells
    return (site for cell in cells_around(x, y, ring) for site in cells.get(cell, ()))


def _sort_key(index: DirectoryIndex, sid: int, reasons: list[dict[str, Any]]) -> tuple[Any, ...]:
    best, distance = len(RELATIONS), math.inf
    for reason in reasons:
        rank = RANK[reason["relation"]]
        if rank < best:
            best = rank
        if "distance_m" in reason and reason["distance_m"] < distance:
            distance = reason["distance_m"]
    return (best, distance, index.services[sid].sort_name, sid)


@dataclass(frozen=True)
class _Matches:
    """The services in a patch that pass the filters: their reasons (lists shared with the
    cache: read them, never change them), the documented order, the number in all and per
    relation (shared too)."""

    found: dict[int, list[dict[str, Any]]]
    ordered: list[int]
    counts: dict[str, int]
    #: services as the patch lists them, made when first listed (shared: never changed)
    entries: dict[int, Shared] = field(default_factory=dict)


def _matching(
    index: DirectoryIndex, snap: GeographySnapshot, place: Place, filters: PatchFilters
) -> _Matches:
    """What is in the patch: the matches of its areas, the same for every postcode in a
    ward and worked out once per area and filters, plus the sites near its point."""
    filters.check()
    words = (filters.q or "").casefold().split()
    key = (place.coverage.key, tuple(place.site_areas), filters.themes, filters.programme,
           filters.status, filters.live_on, filters.q)  # fmt: skip
    area = index.area_matches.get(key)
    if area is None:
        if len(index.area_matches) >= AREA_MATCHES_KEPT:
            index.area_matches.clear()
        area = index.area_matches[key] = _ordered(
            index,
            {
                sid: reasons
                for sid, reasons in area_relations(index, place, snap).items()
                if sid in index.services
                and _matches(index.services[sid], filters, words, index.day)
            },
        )
    nearby = {
        sid: reason
        for sid, reason in nearby_sites(index, place, filters.radius).items()
        if sid in index.services and _matches(index.services[sid], filters, words, index.day)
    }
    if not nearby:
        return area
    found = dict(area.found)
    for sid, reason in nearby.items():
        found[sid] = [reason, *found.get(sid, ())]
    matches = _ordered(index, found)
    # the services with no site nearby are listed as in the area's own answer
    matches.entries.update((sid, e) for sid, e in area.entries.items() if sid not in nearby)
    return matches


def _ordered(index: DirectoryIndex, found: dict[int, list[dict[str, Any]]]) -> _Matches:
    counts = {"services": len(found), **dict.fromkeys(RELATIONS, 0)}
    for reasons in found.values():
        for relation in {r["relation"] for r in reasons}:
            counts[relation] += 1
    ordered = sorted(found, key=lambda sid: _sort_key(index, sid, found[sid]))
    return _Matches(found, ordered, counts)


def _entry(service: IndexedService, reasons: list[dict[str, Any]]) -> Shared:
    """A service as a patch lists it: its answer, with why it is here, strongest first."""
    reasons = sorted(reasons, key=lambda r: (RANK[r["relation"]], r.get("distance_m", 0)))
    distance = next((r["distance_m"] for r in reasons if "distance_m" in r), None)
    return Shared({**service.body, "relations": reasons, "distance_m": distance})


def patch(
    index: DirectoryIndex, snap: GeographySnapshot, place: Place, filters: PatchFilters,
    today: date, *, page: int, per_page: int,
) -> dict[str, Any]:  # fmt: skip
    """Every service that serves the place, labelled with why, plus funding and contacts."""
    matches = _matching(index, snap, place, filters)
    found, ordered, counts = matches.found, matches.ordered, matches.counts
    chosen = ordered[(page - 1) * per_page : page * per_page]
    contents = []
    for sid in chosen:
        entry = matches.entries.get(sid)
        if entry is None:
            entry = matches.entries[sid] = _entry(index.services[sid], found[sid])
        contents.append(entry)
    return {
        **place.geography,
        "filters": _filters_answer(filters, place.point is not None),
        "counts": counts,
        "funding": funding_summary(index, place, filters.live_on or today),
        "contacts": patch_contacts(index, place.coverage),
        "services": envelope(contents, total_items=len(ordered), page=page, per_page=per_page),
        "sort": "relation (site nearby, site in area, ward, part of area, borough, BCU, London), then distance, then name",
    }


@functools.lru_cache(maxsize=1024)
def _filters_answer(filters: PatchFilters, by_point: bool) -> dict[str, Any]:
    """The filters as the answer echoes them (shared: never changed)."""
    return {
        "theme": list(filters.themes),
        "programme": filters.programme,
        "status": filters.status or "any",
        "live_on": _iso(filters.live_on),
        "q": filters.q,
        "radius_m": filters.radius if by_point else None,
    }


def patch_contacts(index: DirectoryIndex, coverage: Coverage) -> list[dict[str, Any]]:
    """The contacts of a patch's areas (borough SPOC, SNB chair, BCU lead), once per areas."""
    contacts = index.contacts_cache.get(coverage.key)
    if contacts is None:
        contacts = index.contacts_cache[coverage.key] = [
            c for code in coverage.codes for c in index.contacts_by_area.get(code, ())
        ]
    return contacts


def funding_summary(index: DirectoryIndex, place: Place, day: date) -> Shared:
    key = (day, place.coverage.key)
    summary = index.funding_cache.get(key)
    if summary is None:
        summary = index.funding_cache[key] = Shared(_funding_summary(index, place, day))
    return summary


def _funding_summary(index: DirectoryIndex, place: Place, day: date) -> dict[str, Any]:
    """Live awards whose beneficiary areas are in the patch, by programme and by scope.

    Awards made for all of London or a whole BCU are reported at that scope, never divided
    among boroughs; an award is counted once even if it names several of the patch's areas."""
    seen: dict[int, tuple[Any, str]] = {}
    for relation, codes in place.coverage.relations.items():
        scope = relation.removeprefix("serves_")
        for code in codes:
            for g in index.grants_by_area.get(code, ()):
                live = (g.start is None or g.start <= day) and (g.end is None or day <= g.end)
                if live and g.id not in seen:
                    seen[g.id] = (g, scope)
    programmes: dict[str, dict[str, Any]] = {}
    for g, scope in seen.values():
        key = g.programme_id or "none"
        entry = programmes.setdefault(
            key,
            {
                "programme": {"id": g.programme_id, "name": g.programme_name}
                if g.programme_id
                else None,
                "awards": 0,
                "amount": 0.0,
                "by_scope": {},
            },
        )
        entry["awards"] += 1
        entry["amount"] += (g.amount_pence or 0) / 100
        bucket = entry["by_scope"].setdefault(scope, {"awards": 0, "amount": 0.0})
        bucket["awards"] += 1
        bucket["amount"] += (g.amount_pence or 0) / 100
    rows = sorted(
        programmes.values(),
        key=lambda e: (-e["amount"], e["programme"]["name"] if e["programme"] else ""),
    )
    return {
        "live_on": day.isoformat(),
        "awards": len(seen),
        "amount": round(sum((g.amount_pence or 0) for g, _ in seen.values()) / 100, 2),
        "by_programme": rows,
        "rule": "Live awards whose beneficiary areas include the patch's ward, borough, BCU or "
        "London (or, for an area, areas inside it). Pan-London and BCU-wide awards are shown "
        "at their own scope (by_scope), in full, and are not apportioned to boroughs.",
    }


# -- partners ----------------------------------------------------------------------------------
def partners(
    index: DirectoryIndex, snap: GeographySnapshot, subject: OrganisationProfile,
    *, page: int, per_page: int, themes: Iterable[str] = (),
) -> dict[str, Any]:  # fmt: skip
    """Organisations working on overlapping themes in the same or neighbouring boroughs
    (neighbours across the Thames count), ranked, each with its reasons."""
    wanted = set(themes) or subject.themes
    near: dict[str, str] = {}
    for borough in subject.boroughs:
        for code, relation in snap.neighbours.get(borough, []):
            if (
                code not in subject.boroughs
                and snap.areas.get(code)
                and snap.areas[code].type == "borough"
            ):
                near.setdefault(code, relation)
    ranked = []
    for org in index.organisations.values():
        if org.id == subject.id:
            continue
        shared = sorted(wanted & org.themes)
        if not shared:
            continue
        same = sorted(subject.boroughs & org.boroughs)
        neighbouring = sorted(set(near) & org.boroughs - set(same))
        if not same and not neighbouring and not org.london_wide:
            continue
        reasons: list[dict[str, Any]] = [{"reason": "shared_themes", "themes": shared}]
        score = 3 * len(shared)
        if same:
            reasons.append({"reason": "same_borough", "areas": [area_ref(snap, c) for c in same]})
            score += 3
        if neighbouring:
            reasons.append({
                "reason": "neighbouring_borough",
                "areas": [{**area_ref(snap, c), "relation": near[c]} for c in neighbouring],
            })  # fmt: skip
            score += 2
        if org.london_wide:
            reasons.append({"reason": "london_wide"})
            score += 1
        distance = _closest(subject.sites, org.sites)
        if distance is not None and distance <= 5000:
            reasons.append({"reason": "sites_nearby", "distance_m": round(distance)})
            score += 2 if distance <= 2000 else 1
        funders = sorted(set(subject.funders) & set(org.funders))
        if funders:
            reasons.append(
                {"reason": "shared_funders", "funders": [org.funders[f] for f in funders]}
            )
            score += len(funders)
        ranked.append((score, org, reasons))
    ranked.sort(key=lambda item: (-item[0], item[1].name.casefold(), item[1].id))
    chosen = ranked[(page - 1) * per_page : page * per_page]
    contents = [
        {
            "organisation": {"id": org.id, "ref": org.ref, "name": org.name, "type": org.type},
            "score": score,
            "reasons": reasons,
            "services": org.services,
            "url": f"/api/v1/organisations/{org.id}",
        }
        for score, org, reasons in chosen
    ]
    note = None
    if not wanted:
        note = (
            "Nothing to match: the organisation has no listed services with themes. Ask by "
            "postcode with one or more theme ids instead."
        )
    return {
        "note": note,
        "subject": {
            "organisation": None
            if subject.id < 0
            else {"id": subject.id, "ref": subject.ref, "name": subject.name},
            "themes": sorted(wanted),
            "boroughs": [area_ref(snap, c) for c in sorted(subject.boroughs)],
        },
        "partners": envelope(contents, total_items=len(ranked), page=page, per_page=per_page),
        "ranking": "3 per shared theme, +3 same borough, +2 neighbouring borough (touching or "
        "across the Thames), +1 London-wide, +2 sites within 2 km (+1 within 5 km), +1 per "
        "shared funder; then name",
    }


def _closest(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float | None:
    if not a or not b:
        return None
    return min(math.hypot(x1 - x2, y1 - y2) for x1, y1 in a for x2, y2 in b)


def subject_for_place(
    borough: str, point: tuple[float, float] | None, themes: Iterable[str]
) -> OrganisationProfile:
    """A stand-in 'organisation' for a partners query by postcode and themes."""
    profile = OrganisationProfile(-1, "", "", None, themes=set(themes), boroughs={borough})
    if point is not None:
        profile.sites.append(point)
    return profile


def resolve_place(
    snap: GeographySnapshot, repo: GeographyRepository, settings: Settings, *,
    postcode: str | None = None, lat: float | None = None, lon: float | None = None,
    easting: float | None = None, northing: float | None = None, area: str | None = None,
) -> Place:  # fmt: skip
    """The patch asked for: exactly one of a postcode, a point or an area (code or name)."""
    by_point = lat is not None or lon is not None or easting is not None or northing is not None
    if (postcode is not None) + by_point + (area is not None) != 1:
        given = [
            name for name, present in (
                ("postcode", postcode is not None), ("point", by_point), ("area", area is not None),
            ) if present
        ]  # fmt: skip
        raise InvalidInputError(
            "Give exactly one of postcode, lat and lon, easting and northing, or area.",
            errors={"_query": [f"got {', '.join(given) or 'none'}"]},
        )
    if postcode is not None:
        answer = geography.lookup_postcode(snap, repo, postcode)
        point = (answer["easting"], answer["northing"])
        ward = answer["ward"]["code"] if answer["ward"] else None
        return place_for_areas(answer, answer["borough"]["code"], ward, snap, point)
    if area is not None:
        return place_for_area(resolve_area(snap, area), snap)
    x, y, _ = geography.point_from_query(lat=lat, lon=lon, easting=easting, northing=northing)
    found = geography.resolve_point(snap, settings, x, y)
    answer = {
        "easting": round(x, 1),
        "northing": round(y, 1),
        **snap.hierarchy(found.borough, found.ward),
        "flags": found.flags,
        "match": "point",
        "data_release": snap.release,
    }
    return place_for_areas(answer, found.borough, found.ward, snap, (x, y))


def resolve_area(snap: GeographySnapshot, text: str) -> str:
    """An area code from a code or a name ("Kingston", "Central West BCU")."""
    try:
        return geography.resolve_area_code(snap, text)
    except AreaNotFoundError:
        code = snap.matcher.resolve(text)
        if code is None:
            raise
        return code


def patch_lookup(
    index: DirectoryIndex, snap: GeographySnapshot, repo: GeographyRepository,
    settings: Settings, texts: list[Any], filters: PatchFilters, *, detail: str,
) -> dict[str, Any]:  # fmt: skip
    """A caseload of postcodes: per postcode its patch and the matching services (ids and
    counts, or full with ``detail="full"``), or its problem, in the order sent."""
    filters.check()
    results = []
    for item in geography.lookup_postcodes(snap, repo, texts, settings.bulk_limit):
        if "result" not in item:
            results.append(item)
            continue
        answer = item["result"]
        ward = answer["ward"]["code"] if answer["ward"] else None
        point = (answer["easting"], answer["northing"])
        place = place_for_areas(answer, answer["borough"]["code"], ward, snap, point)
        matches = _matching(index, snap, place, filters)
        found, ordered, counts = matches.found, matches.ordered, matches.counts
        patch_answer: dict[str, Any] = {
            "postcode": answer["postcode"],
            "ward": answer["ward"],
            "borough": answer["borough"],
            "bcu": answer["bcu"],
            "police_force": answer["police_force"],
            "counts": counts,
        }
        if detail == "full":
            patch_answer["services"] = [
                {**index.services[sid].body, "relations": [r["relation"] for r in found[sid]]}
                for sid in ordered
            ]
        else:
            patch_answer["service_ids"] = ordered
        results.append({"query": item["query"], "result": patch_answer})
    found_count = sum(1 for r in results if "result" in r)
    return {"results": results, "found": found_count, "problems": len(results) - found_count}


def area_scope(snap: GeographySnapshot, code: str) -> list[str]:
    """The codes whose changes affect an area: it, the areas above it (a London-wide or
    BCU-wide change reaches every borough in it) and the areas inside it."""
    codes = [code]
    parent = snap.areas[code].parent_code
    while parent is not None and parent in snap.areas:
        codes.append(parent)
        parent = snap.areas[parent].parent_code
    stack = list(snap.children.get(code, []))
    while stack:
        child = stack.pop()
        codes.append(child)
        stack.extend(snap.children.get(child, []))
    return codes


@dataclass(frozen=True)
class _SiteRow:
    """A patch site in the shape directory.web.representations reads."""

    id: str
    name: str | None
    postcode: str | None  # canonical
    lat: float | None
    lon: float | None
    easting: None = None
    northing: None = None


def for_representations(
    contents: list[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], dict[int, list[_SiteRow]], dict[int, list[str]]]:
    """A patch page's services as the GeoJSON and CSV builders take them: summaries (theme
    ids, relations kept), sites by service, live programmes by service."""
    services, sites, programmes = [], {}, {}
    for s in contents:
        services.append({**s, "themes": [t["id"] for t in s["themes"]]})
        sites[s["id"]] = [
            _SiteRow(site["ref"], site["name"], (site["postcode"] or "").replace(" ", "") or None,
                     site["lat"], site["lon"])
            for site in s["sites"]
        ]  # fmt: skip
        programmes[s["id"]] = [g["programme"]["id"] for g in s["live_grants"] if g["programme"]]
    return services, sites, programmes
