"""The directory held in memory for patches: every listed service with its answer already
rendered, coverage by area code, delivery sites by 250 m grid cell, organisations' profiles,
grants by beneficiary area and contacts by area; built once per data version and day (grant
statuses depend on the date) from the store's rows and the data version's facts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import orjson

from directory.ingest.context import programmes as known_programmes
from directory.settings import Settings
from directory.store.repositories.directory import CatalogueQueries
from directory.store.repositories.geography import (
    grid_cell,
)
from directory.store.repositories.opportunities import OpportunityQueries
from directory.store.words import indexed
from directory.usecases.background import BackgroundJob, let_go, sorted_in_pieces
from directory.usecases.catalogue import area_ref, contact, grant_flags, site_body
from directory.usecases.catalogue import iso as _iso
from directory.usecases.facts import FundingData, GrantFact
from directory.usecases.geography import LONDON, GeographySnapshot
from directory.usecases.opportunities import patch_candidate
from directory.usecases.patch.grid import SiteGrid
from directory.usecases.shared import Kept, Shared, encode, kept_json

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
#: each kept cache's share of DIRECTORY_PATCH_CACHE_MB (the lists of services and the
#: listed services are what grows with the directory)
CACHE_SHARES = {
    "area_lists": 0.25,
    "patch_entries": 0.15,
    "area_relations": 0.05,
    "area_counts": 0.05,
    "area_awards": 0.10,
    "funding_cache": 0.10,
    "awards_cache": 0.20,
    "opportunity_lists": 0.05,
    "pass_masks": 0.05,
}
#: the estimates of what a kept entry costs: its key, dict slot and own object; an id in a
#: kept list (its slot, and its set's); a small dict (counts, an opportunity's copy)
KEPT_ENTRY = 200
KEPT_ID = 40
KEPT_DICT = 700
#: the total when no settings say (128 MB, DIRECTORY_PATCH_CACHE_MB's default)
CACHE_BYTES_DEFAULT = 128 * 2**20
MAX_RADIUS_M = 10000


@dataclass(frozen=True, slots=True)
class Site:
    service_id: int
    x: float
    y: float
    borough: str | None
    #: the site as every answer shows it, kept as its JSON alone from the moment it is
    #: made (its services' answers and a patch's nearby reasons splice these bytes; read
    #: as a mapping, it is decoded)
    body: Shared


@dataclass(slots=True)
class IndexedService:
    id: int
    status: str
    organisation_id: int
    themes: frozenset[str]
    programmes: frozenset[str]
    grants: tuple[Any, ...]  # the awards it holds, for live_on filtering
    text: str  # its search text's loose words, each after a space (directory.store.words)
    #: the rendered answer (without relations) as JSON, in parts to be joined, without its
    #: closing brace (a patch splices its own keys after them): its own keys, its sites
    #: (each the same bytes as its :class:`Site`'s JSON), then the parts many services
    #: share, each held once (:func:`_body_parts`). As JSON a third of the
    #: memory of the dicts (at 100,000 services, 90 MB instead of 550 MB per worker); the
    #: shared parts take 25 MB more off, and the sites' own bytes about 20 MB more
    body_parts: tuple[bytes, ...]
    sort_name: str = ""  # the name case-folded, for sorting

    @property
    def body_json(self) -> bytes:
        return b"".join((*self.body_parts, b"}"))

    @property
    def body(self) -> dict[str, Any]:
        """The rendered answer (a new dict each time: the caller may change it)."""
        return orjson.loads(self.body_json)


@dataclass(slots=True)
class OrganisationProfile:
    """An organisation as partners are matched: its themes, places, sites and contacts from
    its active services (the work it does now)."""

    id: int
    ref: str
    name: str
    type: str | None
    #: sets while the index is built, then frozen and shared
    themes: set[str] | frozenset[str] = field(default_factory=set)
    boroughs: set[str] | frozenset[str] = field(default_factory=set)
    london_wide: bool = False
    sites: list[tuple[float, float]] = field(default_factory=list)
    funders: dict[str, str] = field(default_factory=dict)  # ref → name
    services: int = 0
    #: the organisation record's own flag, and whether every active service it runs is a
    #: demo record (then the match rests on illustrative records only)
    demo: bool = False
    services_demo: bool = True
    #: the organisation's public e-mail and website
    email: str | None = None
    website: str | None = None
    #: its listed services' public contacts: (name case-folded, themes, email, phone,
    #: website), sorted (one tuple each: at 100,000 services a nested one cost 6 MB)
    service_contacts: list[tuple[Any, ...]] = field(default_factory=list)


def _kept(name: str) -> Kept:
    return Kept(int(CACHE_BYTES_DEFAULT * CACHE_SHARES[name]))


@dataclass
class DirectoryIndex:
    version: int
    day: date
    services: dict[int, IndexedService]
    #: service ids by the area codes their coverage names, in the patch's order
    by_area: dict[str, list[int]]
    cells: dict[int, list[Site]]
    #: the first site of each service inside an area (ward or borough), by area code
    sites_in_area: dict[str, dict[int, Site]]
    #: the services with a site inside an area, in the patch's order, by area code
    site_ids_by_area: dict[str, list[int]]
    grants_by_area: dict[str, list[Any]]
    contacts_by_area: dict[str, list[dict[str, Any]]]
    organisations: dict[int, OrganisationProfile]
    organisation_refs: dict[str, int]
    #: funding summaries already worked out, by the patch's areas and day (a client may
    #: send any live_on). This and every cache below marked "kept" is a :class:`Kept`,
    #: bounded by bytes: its share of DIRECTORY_PATCH_CACHE_MB (CACHE_SHARES)
    funding_cache: Kept = field(default_factory=lambda: _kept("funding_cache"))
    #: the awards reaching a patch, by its areas, day and programme filters (kept), and
    #: each listed award's entry as JSON, by ("entry", award id, scope), spliced into
    #: every patch's awards that lists it (at 100,000 services 704 wards list 35,200
    #: entries, 379 of them different); in one cache, so that entries and the awards
    #: holding them are let go together
    awards_cache: Kept = field(default_factory=lambda: _kept("awards_cache"))
    #: the settings it was built with (grant statuses: DIRECTORY_ENDING_SOON_DAYS)
    settings: Settings | None = None
    #: patch contacts by the patch's areas (shared: never changed)
    contacts_cache: dict[tuple[Any, ...], list[dict[str, Any]]] = field(default_factory=dict)
    #: "serves this area" reasons by (relation, area code), shared by every answer
    area_reasons: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: service id → its place in the patch's order (name case-folded, then id), as a list
    #: over ids (-1: not listed; half the memory of a dict)
    order: list[int] = field(default_factory=list)
    #: an area's services that pass a patch's filters, by (site?, area code, filters) (kept)
    area_lists: Kept = field(default_factory=lambda: _kept("area_lists"))
    #: a patch's counts by (areas, filters), sites nearby aside (kept)
    area_counts: Kept = field(default_factory=lambda: _kept("area_counts"))
    #: the awards of an area above patches, by (area, scope, day and filters) (kept), and
    #: each award's widest areas
    area_awards: Kept = field(default_factory=lambda: _kept("area_awards"))
    widest: dict[int, tuple[str, ...]] = field(default_factory=dict)
    #: services as a patch lists them, by (areas, service id) (kept)
    patch_entries: Kept = field(default_factory=lambda: _kept("patch_entries"))
    #: why a service is in a patch by its areas alone, strongest first, by (areas, service
    #: id) (kept)
    area_relations: Kept = field(default_factory=lambda: _kept("area_relations"))
    #: the sites as arrays in grid-cell order, for the sites near a point
    grid: SiteGrid = field(default_factory=lambda: SiteGrid([]))
    #: service id → its place in the patch's order, as an array (-1: not listed)
    order_array: Any = None
    #: service id → its ``body_parts`` (None: no such service), as a list over ids: a
    #: patch's page reads a service's parts from one list slot rather than through the
    #: dict of services and the service (at 100,000 services its cold page read 13 objects
    #: a service from all over the heap)
    parts_by_id: list[Any] = field(default_factory=list)
    #: each site's JSON in the grid's order (the same bytes as its :class:`Site`'s): a
    #: page splices a nearby site's from one list slot, not three objects away
    site_json: list[bytes] = field(default_factory=list)
    #: the data version it was built from (its id is ``version``), for the answers' ETags
    data_version: Any = None
    #: which service ids pass a patch's filters, by filters (kept)
    pass_masks: Kept = field(default_factory=lambda: _kept("pass_masks"))
    #: the programme ids a filter may name: those held and those programmes.csv lists
    programme_ids: frozenset[str] = frozenset()
    #: funding opportunities not closed when it was built, by the area codes they name (as
    #: patch candidates, see usecases/opportunities.py), soonest deadline first
    opportunities_by_area: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: a patch's candidate opportunities by its areas (kept)
    opportunity_lists: Kept = field(default_factory=lambda: _kept("opportunity_lists"))
    #: the data version's facts it was built from (shared with the funding answers): where
    #: a shared award's money goes, for the headline's equal_share
    facts: FundingData | None = None

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
            # regrants too: a patch leaves one out only when an award it was paid through is
            # in the patch as well (patch/money.py's Regrants, as /funding/summary)
            for code in g.areas:
                grants_by_area[code].append(g)
        contacts_by_area: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in sorted(rows["contacts"], key=lambda c: (c.area_code, c.role)):
            contacts_by_area[c.area_code].append(contact(c, snap))
        theme_names = {t.id: t.name for t in rows["themes_taxonomy"]}

        cells: dict[int, list[Site]] = defaultdict(list)
        sites_in_area: dict[str, dict[int, Site]] = defaultdict(dict)
        sites_of: dict[int, list[Site]] = defaultdict(list)
        # the same objects for equal values (area refs, theme sets, statuses): at 100,000
        # services a worker keeps one of each instead of one per service or site
        pool: dict[Any, Any] = {}

        def shared(value: Any) -> Any:
            return pool.setdefault(value, value)

        for loc in rows["locations"]:
            if loc.easting is None:
                continue
            # kept as its JSON alone from the start: a dict a site, let go only once every
            # site was made, left the worker's heap with holes as big as the JSON (17 MB)
            body = Shared(site_body(loc, snap))
            kept_json(body)
            site = Site(loc.service_id, loc.easting, loc.northing, loc.borough_code, body)
            cells[grid_cell(loc.easting, loc.northing)].append(site)
            sites_of[loc.service_id].append(site)
            for code in (loc.ward_code, loc.borough_code):
                if code:
                    sites_in_area[code].setdefault(loc.service_id, site)

        services: dict[int, IndexedService] = {}
        organisations: dict[int, OrganisationProfile] = {}
        for s in rows["services"]:
            held = tuple(grants_of.get(s.id, ()))  # () is one object for all that hold none
            live = [g for g in held if grant_flags(g, today, settings)["status"] != "ended"]
            services[s.id] = IndexedService(
                id=s.id,
                status=shared(s.status),
                organisation_id=s.organisation_id,
                themes=shared(frozenset(themes[s.id])),
                programmes=shared(frozenset(g.programme_id for g in live if g.programme_id)),
                grants=held,
                text=s.search_text or indexed(s.name),  # (kept loose, each word after a space)
                sort_name=s.name.casefold(),
                body_parts=_body_parts(_service_body(s, themes[s.id], theme_names, coverage[s.id], sites_of[s.id], live, snap, today, settings), pool),
            )  # fmt: skip
            if s.status != "active":
                # a partner is matched on the work it does now, as the patch lists it: a
                # closed or defunct service gives its organisation no themes, places or
                # contact
                continue
            profile = organisations.get(s.organisation_id)
            if profile is None:
                profile = organisations[s.organisation_id] = OrganisationProfile(
                    s.organisation_id, s.organisation_ref, s.organisation_name, s.organisation_type
                )
            profile.services += 1
            profile.services_demo = profile.services_demo and bool(s.demo)
            if s.email or s.phone or s.website:
                service = services[s.id]
                profile.service_contacts.append(
                    (service.sort_name, service.themes, s.email, s.phone, s.website)
                )
            profile.themes.update(themes[s.id])
            for code in coverage[s.id]:
                if code == LONDON:
                    profile.london_wide = True
                else:
                    profile.boroughs.update(_boroughs_of(snap, code))
            for site in sites_of[s.id]:
                profile.sites.append((site.x, site.y))
                if site.borough:
                    profile.boroughs.add(site.borough)
        for org in rows["organisations"]:
            if (profile := organisations.get(org.id)) is not None:
                profile.demo, profile.email, profile.website = (
                    bool(org.demo),
                    org.email,
                    org.website,
                )
        for profile in organisations.values():
            profile.service_contacts.sort(key=lambda item: item[0])
            # read-only from here: one object for equal sets (at 100,000 services the
            # 20,000 organisations' own sets held 27 MB)
            profile.themes = shared(frozenset(profile.themes))
            profile.boroughs = shared(frozenset(profile.boroughs))
        order = {
            sid: number
            for number, sid in enumerate(
                sorted_in_pieces(services, key=lambda sid: (services[sid].sort_name, sid))
            )
        }
        for code, sids in by_area.items():
            by_area[code] = sorted((sid for sid in sids if sid in order), key=order.__getitem__)
        order_array = _order_array(order)
        grid = SiteGrid([s for sites in cells.values() for s in sites if s.service_id in order])
        grid.set_ranks(order_array)
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
            sites_in_area=dict(sites_in_area),
            site_ids_by_area={
                code: sorted((sid for sid in sites if sid in order), key=order.__getitem__)
                for code, sites in sites_in_area.items()
            },
            grants_by_area=dict(grants_by_area),
            contacts_by_area=dict(contacts_by_area),
            organisations=organisations,
            organisation_refs={p.ref: p.id for p in organisations.values()},
            grid=grid,
            site_json=[site.body.json() for site in grid.sites],
            order_array=order_array,
            programme_ids=frozenset(facts.programmes) | {p.id for p in known_programmes()},
            settings=settings,
            order=order_array.tolist(),
            parts_by_id=_parts_by_id(services),
            opportunities_by_area=_opportunities_by_area(q, today),
            facts=facts,
        ).bounded(settings.patch_cache_mb * 2**20)

    def bounded(self, total_bytes: int) -> DirectoryIndex:
        """Give each kept cache its share (CACHE_SHARES) of ``total_bytes`` (one holding
        more is dropped)."""
        for name, share in CACHE_SHARES.items():
            kept = getattr(self, name)
            kept.limit = int(total_bytes * share)
            if kept.used > kept.limit:
                kept.clear()
        return self

    def kept_bytes(self) -> dict[str, int]:
        """The estimated bytes each kept cache holds now (the fault run and tests read it)."""
        return {name: getattr(self, name).used for name in CACHE_SHARES}


def _opportunities_by_area(q: CatalogueQueries, today: date) -> dict[str, list[dict[str, Any]]]:
    """The opportunities still open (or to open) at the start of ``today`` (UTC), less a day
    for the clocks, by the area codes they name; their statuses are worked out per request."""
    repo = OpportunityQueries(q.db)
    rows = repo.current(datetime.combine(today, datetime.min.time()) - timedelta(days=1))
    areas = repo.areas_of([r.id for r in rows])
    by_area: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:  # soonest deadline first
        candidate = patch_candidate(row, "")
        for code in areas.get(row.id, ()):
            by_area[code].append(candidate)
    return dict(by_area)


def _parts_by_id(services: dict[int, IndexedService]) -> list[Any]:
    parts: list[Any] = [None] * (max(services, default=0) + 1)
    for sid, service in services.items():
        parts[sid] = service.body_parts
    return parts


def _order_array(order: dict[int, int]) -> np.ndarray:
    array = np.full(max(order, default=0) + 1, -1, dtype=np.int64)
    if order:
        array[np.fromiter(order.keys(), dtype=np.int64)] = np.fromiter(
            order.values(), dtype=np.int64
        )
    return array


def _boroughs_of(snap: GeographySnapshot, code: str) -> set[str]:
    """The boroughs an area code stands for: itself, a ward's borough, a BCU's boroughs, the
    Metropolitan Police District's (every borough but the City of London)."""
    area = snap.areas.get(code)
    if area is None:
        return set()
    if area.type == "borough":
        return {code}
    if area.type == "ward":
        return {area.parent_code} if area.parent_code else set()
    if area.type == "bcu":
        return set(snap.children.get(code, []))
    if area.type == "police_area":
        return {b for bcu in snap.children.get(code, []) for b in snap.children.get(bcu, [])}
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


#: the keys of a service's answer whose values many services share (an organisation runs
#: several; 100,000 services have a few hundred sets of themes and of areas, and a few
#: of ages, dates checked and demo flags), in groups, each group's JSON held once
SHARED_KEYS = (("organisation",), ("themes",), ("coverage",), ("eligibility", "last_verified", "demo"))  # fmt: skip
_SHARED = frozenset(key for group in SHARED_KEYS for key in group)


def _body_parts(body: dict[str, Any], pool: dict[Any, Any]) -> tuple[bytes, ...]:
    """A service's answer as JSON in parts which joined, and closed with ``}``, are the
    whole: its own keys and the opening of its sites, its sites (each its :class:`Site`'s
    own JSON, not a copy: a patch's nearby reason splices the same bytes), then each group
    of SHARED_KEYS (the first closing the sites), the same bytes object as every other
    service's equal one (``pool``). Its keys come in that order (JSON objects are
    unordered). Left open, a patch's page splices each service's parts and then its own
    keys without copying or slicing any part: as few parts as that allows (a page of 50 at
    100,000 services is about a thousand, and each costs the join a cache miss)."""
    own = orjson.dumps(
        {k: v for k, v in body.items() if k not in _SHARED and k != "sites"}, default=encode
    )
    parts = [own[:-1] + _SITES_OPEN]  # without its closing brace
    sites: list[Shared] = body["sites"]
    for number, site in enumerate(sites):
        if number:
            parts.append(_COMMA)
        parts.append(site.json())
    for number, group in enumerate(SHARED_KEYS):
        encoded = orjson.dumps({k: body[k] for k in group}, default=encode)
        piece = (_SITES_CLOSE if number == 0 else b"") + b"," + encoded[1:-1]
        parts.append(pool.setdefault(piece, piece))
    return tuple(parts)


_SITES_OPEN, _SITES_CLOSE, _COMMA = b',"sites":[', b"]", b","


#: how many times, 50 ms apart, a replaced index is tried for freeing a piece at a time
LET_GO_TRIES = 20
logger = logging.getLogger(__name__)


class DirectoryCache:
    """The per-process index, rebuilt when the data version or the day changes.

    With ``background`` (the default for serving), a worker that already has an index keeps
    answering from it while a thread builds the next one (20 s at 100,000 services), then
    swaps it in: after an import no request waits for the rebuild, and the answers made
    meanwhile say which data version they are from. Without an index yet, or without
    ``background``, the request builds it."""

    def __init__(
        self, on_rebuild: Callable[[], None] | None = None, *, background: bool = False
    ) -> None:
        self._index: DirectoryIndex | None = None
        self._on_rebuild = on_rebuild  # called after a new index is built (heap.settle)
        #: called after an index built in the background has replaced the previous one
        #: (serving: the master may replace the worker, ``web/serving/recycle.py``)
        self.on_replaced: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self.background = background
        #: the background builds (a failure is logged; another is tried 30 s later)
        self.builds = BackgroundJob(
            "directory-index", "building the directory index in the background failed"
        )

    def invalidate(self) -> None:
        with self._lock:
            self._index = None

    def current(self, version: int, today: date) -> DirectoryIndex | None:
        """The index if it is for this data version and day (no database needed)."""
        index = self._index
        if index is not None and index.version == version and index.day == today:
            return index
        return None

    def get(self, version: int, today: date, build: Callable[[], DirectoryIndex]) -> DirectoryIndex:  # fmt: skip
        """The index for ``version`` and ``today``, made by ``build`` when there is none (read
        the version before the rows, so a newer import is not missed); in the background,
        the previous index meanwhile."""
        index = self.current(version, today)
        if index is not None:
            return index
        previous = self._index
        if self.background and previous is not None:
            self.builds.start(lambda: self._build_in_background(version, today, build))
            return previous
        with self._lock:
            index = self.current(version, today)
            if index is None:
                index = self._install(version, build())
            return index

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background build to finish (tests, and a worker shutting down)."""
        self.builds.wait(timeout)

    def _build_in_background(self, version: int, today: date, build: Callable[[], DirectoryIndex]) -> None:  # fmt: skip
        index = build()  # a failure: the previous index serves, and BackgroundJob retries
        with self._lock:
            old = self._index
            if old is None or (old.version, old.day) <= (version, today):
                self._install(version, index)
            else:  # a newer index is in: this one is not needed
                old = index
        del index
        if self.on_replaced is not None:
            self.on_replaced()
        # the replaced index freed a piece at a time (``let_go``) once no request answers
        # from it: none can take it now, so those that had it end in milliseconds (after
        # a second, it is left to the last of them to free at once). A failure is logged:
        # the new index serves already. (Inline: ``old`` must be this frame's only name.)
        try:
            for _ in range(LET_GO_TRIES if old is not None else 0):
                if let_go(old):
                    break
                time.sleep(0.05)
        except Exception:  # noqa: BLE001 - the new index is in; only freeing it failed
            logger.exception("letting the previous directory index go failed")

    def _install(self, version: int, index: DirectoryIndex) -> DirectoryIndex:
        index.version = version
        self._index = index
        if self._on_rebuild is not None:
            self._on_rebuild()
        return index
