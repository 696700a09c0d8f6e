"""Which services are in a patch, in the documented order, at the cost of the page asked for.

A patch is the union of a few sorted lists: the services covering each of its areas (ward,
parts, borough, BCU, London) and those with a site inside the area asked for, each list
filtered once per (area, filters) and kept; then the services with a site near the point,
which come first. A page is a lazy k-way merge of those lists (``heapq.merge``) stopped at
the page's end, so a patch in a directory of 100,000 services costs what its page costs,
not what the ward's 13,000 London-, BCU- and borough-wide services cost. Counts are unions
of the lists' sets, worked out once per (areas, filters).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import numpy as np
import orjson

from directory.store.words import Term, matches, query_terms
from directory.usecases.catalogue import area_ref, is_live
from directory.usecases.geography import GeographySnapshot
from directory.usecases.patch.grid import SiteGrid
from directory.usecases.patch.index import (
    KEPT_DICT,
    KEPT_ENTRY,
    KEPT_ID,
    MAX_RADIUS_M,
    RANK,
    RELATIONS,
    DirectoryIndex,
    IndexedService,
)
from directory.usecases.patch.places import Place
from directory.usecases.shared import Kept, SharedList, encode

SITE = "site_in_area"
T = TypeVar("T")


class NearbySites:
    """The services with a delivery site within the radius of a patch's point that pass its
    filters, each with its nearest site (arrays from ``SiteGrid.nearest``, in no order)."""

    def __init__(self, grid: SiteGrid | None, services: Any, metres: Any, at: Any) -> None:
        empty = _EMPTY
        self.grid = grid
        self.services = empty if services is None else services
        self._metres = empty if metres is None else metres
        self._at = empty if at is None else at
        self._set: set[int] | None = None
        #: (positions in the arrays in id order, the ids so sorted), when first searched
        self._by_id: tuple[Any, Any] | None = None
        #: the services looked up and here: sid → (metres, grid position); a few (a
        #: directory of London's size) are all put here at once, and then ``complete``
        self.found: dict[int, tuple[int, int]] = {}
        self._absent: set[int] = set()  # ids looked up and not here
        self.complete = len(self.services) <= FEW_NEARBY
        if self.complete and len(self.services):
            places = zip(self._metres.tolist(), self._at.tolist(), strict=True)
            self.found = dict(zip(self.services.tolist(), places, strict=True))

    @classmethod
    def none(cls) -> NearbySites:
        """No services nearby: one object, shared. With no services it is complete, so it
        is never searched nor added to; only :meth:`members` keeps its empty set, once."""
        return _NONE

    def __len__(self) -> int:
        return len(self.services)

    @property
    def positions(self) -> Any:
        """Each service's nearest site's position in the grid (in ``services``' order)."""
        return self._at

    def __bool__(self) -> bool:
        return len(self.services) > 0

    def __contains__(self, sid: object) -> bool:
        """Whether a service (of a page, looked up with :meth:`locate`) is here."""
        if sid in self.found:
            return True
        if self.complete or sid in self._absent or not isinstance(sid, int):
            return False
        self.locate([sid])
        return sid in self.found

    def members(self) -> set[int]:
        """Every service here, as a set (for testing many ids that were not looked up)."""
        if self._set is None:
            self._set = set(self.found) if self.complete else set(self.services.tolist())
        return self._set

    def locate(self, sids: list[int]) -> None:
        """Look up the services of a page at once: one vector search over the ids sorted
        (when first needed: a first page of nearby services was located as it was chosen,
        by :meth:`ordered`), not one a service; nor a set of the thousand nearby at 100,000."""
        if self.complete:
            return
        wanted = [sid for sid in sids if sid not in self.found and sid not in self._absent]
        if not wanted:
            return
        if self._by_id is None:
            order = np.argsort(self.services)
            self._by_id = (order, self.services[order])
        by_id, ids_sorted = self._by_id
        ids = np.array(wanted, dtype=np.int64)
        rows = by_id[np.minimum(ids_sorted.searchsorted(ids), len(by_id) - 1)]
        here = (self.services[rows] == ids).tolist()
        metres, at = self._metres[rows].tolist(), self._at[rows].tolist()
        for sid, found, m, a in zip(wanted, here, metres, at, strict=True):
            if found:
                self.found[sid] = (m, a)
            else:
                self._absent.add(sid)

    def where(self, sid: int) -> tuple[int, int]:
        """(distance in whole metres, position of the site in the grid) of a service here."""
        found = self.found.get(sid)
        if found is None:
            self.locate([sid])
            found = self.found[sid]  # KeyError: not here
        return found

    def ahead_of(self, sid: int, order: Any) -> int:
        """How many services here come before ``sid`` (here) in :meth:`ordered`'s order
        (``order``: id → place): one comparison of their keys, not a sort."""
        metres, _ = self.where(sid)
        ranks = self.grid.ranks if self.grid is not None else None
        keys = (self._metres << 32) + (order[self.services] if ranks is None else ranks[self._at])
        return int(np.count_nonzero(keys < (metres << 32) + int(order[sid])))

    def reason(self, sid: int) -> dict[str, Any]:
        metres, at = self.where(sid)
        assert self.grid is not None
        return {"relation": "site_nearby", "distance_m": metres, "site": self.grid.sites[at].body}

    def ordered(self, order: Any, end: int | None = None) -> list[int]:
        """The ids nearest first, then in the patch's order (``order``: id → place): the
        first ``end`` of them (all with None), without sorting the rest."""
        if not len(self.services):
            return []
        # (metres, place) as one number: a service's place is below 2**32, and unique; read
        # by its site's position when the grid has them (along the grid, not at random)
        ranks = self.grid.ranks if self.grid is not None else None
        keys = (self._metres << 32) + (order[self.services] if ranks is None else ranks[self._at])
        if end is not None and end < len(keys):
            first = keys.argpartition(end - 1)[:end]
            chosen = first[keys[first].argsort()]
        else:
            chosen = keys.argsort()
        ids = self.services[chosen].tolist()
        if not self.complete:
            # located as they are chosen: a page of them needs no search in :meth:`locate`
            found = zip(self._metres[chosen].tolist(), self._at[chosen].tolist(), strict=True)
            self.found.update(zip(ids, found, strict=True))
        return ids

    def lists_of(self, lists: list[AreaList], sids: list[int] | None = None) -> list[int]:
        """For each of ``sids`` (all the services here when None; each here and located),
        which of ``lists`` hold it, as bits (bit i: ``lists[i]``), looked up in the lists'
        sets: for a few services (many are looked up by their sites: :meth:`Matching._by_site`)."""
        if sids is None:
            sids = list(self.found) if self.complete else self.services.tolist()
        sets = [(1 << bit, found.members) for bit, found in enumerate(lists)]
        return [sum(bit for bit, members in sets if sid in members) for sid in sids]


#: no services (read-only: shared by every NearbySites with none)
_EMPTY = np.empty(0, dtype=np.int64)
_EMPTY.flags.writeable = False

#: this many services nearby or fewer (a point in a directory of London's size) are held as
#: Python objects and looked up in sets: numpy's cost per call is more than their lookups
FEW_NEARBY = 48

#: no services nearby (:meth:`NearbySites.none`; most patches in a directory of London's size)
_NONE = NearbySites(None, None, None, None)

#: a place's areas' order is kept (:meth:`Matching._areas_order`) this many ids at a time,
#: up to AREAS_ORDER_MAX; a page further on merges the areas' lists again
AREAS_ORDER_KEPT, AREAS_ORDER_MAX = 256, 4096

#: an area list this long also keeps its members as a mask over service ids (counting a
#: patch's thousand nearby services against London's list is then one array lookup)
MASKED_FROM = 1_000


@dataclass(slots=True)
class AreaList:
    """The services of one area (covering it, or with a site inside it) that pass one set of
    filters: ids in the patch's order (name case-folded, then id) and as a set."""

    ids: list[int]
    members: frozenset[int]
    #: whether each of the grid's sites is a service of the list, made when first needed
    #: (long lists only): the sites near a point are slices of the grid, so it is read
    #: along them rather than at random like a mask over service ids
    on_sites: Any = None
    sorted_ids: Any = None  # made when first needed (short lists)

    def contains(self, services: Any, at: Any, grid: SiteGrid) -> Any:
        """Which of ``services`` (an array of ids, with a site at the same place of ``at``,
        positions in ``grid``) are in the list. ``grid`` is always the index's that keeps
        the list: a long list's mask over its sites is made once."""
        if len(self.ids) < MASKED_FROM:
            if not self.ids:
                return np.zeros(len(services), dtype=bool)
            if self.sorted_ids is None:
                self.sorted_ids = np.sort(np.fromiter(self.ids, np.int64, len(self.ids)))
            found = self.sorted_ids
            where = np.minimum(found.searchsorted(services), len(found) - 1)
            return found[where] == services
        return self.sites_mask(grid)[at]

    def sites_mask(self, grid: SiteGrid) -> Any:
        """A long list's :attr:`on_sites`, made the first time it is asked for."""
        if self.on_sites is None:
            ids = np.fromiter(self.ids, dtype=np.int64, count=len(self.ids))
            size = max(int(ids.max()), int(grid.service.max(initial=0))) + 1
            mask = np.zeros(size, dtype=bool)
            mask[ids] = True
            self.on_sites = mask[grid.service]  # made before another thread can see it
        return self.on_sites


def filters_key(filters: Any) -> tuple[Any, ...]:
    return (filters.themes, filters.programme, filters.status, filters.live_on, filters.q)


def passes(service: IndexedService, filters: Any, terms: list[Term] | None, today: date) -> bool:
    """Whether a service passes a patch's filters (status, themes, programme, live on, q)."""
    if filters.status is not None and service.status != filters.status:
        return False
    if filters.themes and not service.themes.issuperset(filters.themes):
        return False
    if filters.programme is not None or filters.live_on is not None:
        # one grant must satisfy both: from the programme, and live on the day asked (today
        # when only a programme is given)
        day = filters.live_on or today
        if not any(
            (filters.programme is None or g.programme_id == filters.programme) and is_live(g, day)
            for g in service.grants
        ):
            return False
    # q's terms (None: no q), as /services' q compares them (directory.store.words)
    return terms is None or matches(terms, service.text)


def pass_mask(index: DirectoryIndex, filters: Any) -> Any:
    """Whether each of the grid's sites' service passes ``filters`` (a text query aside), as
    an array over the sites (the sites near a point are slices of the grid, so it is read
    along them, not at random as a mask over service ids would be), made once per filters
    (the filters a map frontend sends are few)."""
    key = filters_key(filters)
    mask = index.pass_masks.get(key)
    if mask is None:
        by_id = np.zeros(len(index.order_array), dtype=bool)
        day = index.day
        for sid, service in index.services.items():
            by_id[sid] = passes(service, filters, None, day)
        mask = index.grid.passing_sites(by_id)
        index.pass_masks.keep(key, mask, KEPT_ENTRY + mask.nbytes)
    return mask


def area_list(
    index: DirectoryIndex, kind: str, code: str, filters: Any, fkey: tuple[Any, ...] | None = None
) -> AreaList:
    """The services of ``code`` (``kind`` SITE: with a site inside it; else covering it)
    that pass ``filters`` (``fkey``: their :func:`filters_key`, when already made), made
    once per (area, filters) and kept."""
    key = (kind == SITE, code, fkey or filters_key(filters))
    found = index.area_lists.get(key)
    if found is None:
        base = index.site_ids_by_area if kind == SITE else index.by_area
        terms = query_terms(filters.q) if filters.q else None
        services, day = index.services, index.day
        ids = [
            sid for sid in base.get(code, ())
            if (service := services.get(sid)) is not None and passes(service, filters, terms, day)
        ]  # fmt: skip
        found = AreaList(ids, frozenset(ids))
        # a long list makes its mask over the sites when first asked (MASKED_FROM)
        mask = len(index.grid) if len(ids) >= MASKED_FROM else 8 * len(ids)
        index.area_lists.keep(key, found, KEPT_ENTRY + KEPT_ID * len(ids) + mask)
    return found


def _union_size(lists: list[AreaList]) -> tuple[int, set[int], AreaList | None]:
    """How many services the lists hold together, with the biggest list and the ids of the
    others that are not in it."""
    if not lists:
        return 0, set(), None
    biggest = max(lists, key=lambda found: len(found.ids))
    extra: set[int] = set()
    members = biggest.members
    for found in lists:
        if found is not biggest:
            extra.update(sid for sid in found.ids if sid not in members)
    return len(biggest.ids) + len(extra), extra, biggest


class Matching:
    """The services of a patch that pass its filters: counts, pages and why each is there."""

    def __init__(
        self, index: DirectoryIndex, snap: GeographySnapshot, place: Place, filters: Any,
        nearby: NearbySites,
    ) -> None:  # fmt: skip
        self.index, self.snap, self.place, self.nearby = index, snap, place, nearby
        self.place_key = (place.coverage.key, tuple(place.site_areas))
        self.fkey = fkey = filters_key(filters)
        #: (rank, area code, relation, list): the place's lists, strongest relation first
        self.lists: list[tuple[int, str, str, AreaList]] = [
            (RANK[SITE], code, SITE, area_list(index, SITE, code, filters, fkey))
            for code in place.site_areas
        ]
        for relation, codes in place.coverage.relations.items():
            rank = RANK[relation]
            self.lists.extend(
                (rank, code, relation, area_list(index, "coverage", code, filters, fkey))
                for code in codes
            )
        self._area_counts = self._counts_of_areas(fkey)
        self._nearby_order: list[int] | None = None
        self._sites_bits: tuple[Any, list[tuple[int, AreaList]]] | None = None  # (_by_site)

    def prepare(self) -> None:
        """Make each of the place's lists' lookups now (a long list's mask over every id,
        a short one's sorted ids), as a patch with sites nearby would when first counting
        them."""
        nothing = np.empty(0, dtype=np.int64)
        for *_, found in self.lists:
            found.contains(nothing, nothing, self.index.grid)

    # ------------------------------------------------------------------ counts

    def _counts_of_areas(self, fkey: tuple[Any, ...]) -> dict[str, int]:
        key = (self.place_key, fkey)
        counts = self.index.area_counts.get(key)
        if counts is None:
            counts = {"services": 0, **dict.fromkeys(RELATIONS, 0)}
            for relation in RELATIONS:
                counts[relation] = _union_size([f for _, _, r, f in self.lists if r == relation])[0]
            counts["services"] = _union_size([f for *_, f in self.lists])[0]
            self.index.area_counts.keep(key, counts, KEPT_ENTRY + KEPT_DICT)
        return counts

    @property
    def counts(self) -> dict[str, int]:
        """Services in all and per relation (each service once per relation it has)."""
        if not self.nearby:
            return self._area_counts
        counts = dict(self._area_counts)
        counts["site_nearby"] = len(self.nearby)
        services = self.nearby.services
        if self.nearby.complete:
            lists = self.nearby.lists_of(self._area_lists())
            counts["services"] += lists.count(0)
            return counts
        by_site, short = self._by_site()
        at, grid = self.nearby.positions, self.index.grid
        inside = by_site[at]
        for _, found in short:
            inside = (inside != 0) | found.contains(services, at, grid)
        counts["services"] += len(services) - int(np.count_nonzero(inside))
        return counts

    def _by_site(self) -> tuple[Any, list[tuple[int, AreaList]]]:
        """Which of the place's long lists (MASKED_FROM services or more: a borough's, a
        BCU's, London's) each of the grid's sites' service is in, as bits over the sites
        (bit i: ``lists[i]``), so that the many services near a point are looked up in
        them all at once; kept by those lists and the filters (every postcode of a borough
        has the same: a byte a site, 70 KB at 100,000 services). With the place's short
        lists that hold any, (bit, list), looked up one by one. Worked out once a patch
        (its count and its page both ask)."""
        if self._sites_bits is not None:
            return self._sites_bits
        long, short = [], []
        for bit, (_, code, relation, found) in enumerate(self.lists):
            if len(found.ids) >= MASKED_FROM:
                long.append((bit, code, relation, found))
            elif found.ids:  # (most wards' lists at 100,000 services hold none)
                short.append((bit, found))
        key = ("by site", tuple(entry[:3] for entry in long), self.fkey)
        by_site = self.index.patch_entries.get(key)
        if by_site is None:
            grid = self.index.grid
            highest = max((entry[0] for entry in long), default=0)  # (a byte up to 8 lists)
            by_site = np.zeros(len(grid), dtype=np.min_scalar_type(1 << highest))
            for bit, _, _, found in long:
                by_site |= found.sites_mask(grid).astype(by_site.dtype) << bit
            self.index.patch_entries.keep(key, by_site, KEPT_ENTRY + by_site.nbytes)
        self._sites_bits = (by_site, short)
        return self._sites_bits

    def _area_lists(self) -> list[AreaList]:
        return [found for *_, found in self.lists]

    # ------------------------------------------------------------------ order

    def _nearby_ordered(self, end: int | None) -> list[int]:
        """The services with a site nearby, nearest first (then name, then id): the first
        ``end`` of them (all with None)."""
        if self._nearby_order is not None:
            return self._nearby_order if end is None else self._nearby_order[:end]
        found = self.nearby.ordered(self.index.order_array, end)
        if end is None or len(found) < end:  # all of them
            self._nearby_order = found
        return found

    def _merged(self) -> Iterator[int]:
        """The services of the place's areas in order, nearby or not: strongest relation
        first, then name, then id; each once."""
        order = self.index.order
        streams = [_keyed(rank, found.ids, order) for rank, _, _, found in self.lists]
        seen: set[int] = set()
        for _, _, sid in heapq.merge(*streams):
            if sid not in seen:
                seen.add(sid)
                yield sid

    def _areas_order(self, length: int) -> list[int] | None:
        """The first ``length`` ids (or more) of :meth:`_merged`, or all of them if fewer;
        None when ``length`` is over AREAS_ORDER_MAX. Worked out once per (areas, filters)
        and kept: with a few services nearby (a point in a directory of London's size) the
        rest of a first page is then taken from it, not merged from the lists again (a
        merge of 50 from five lists cost about 50 µs, every time)."""
        if length > AREAS_ORDER_MAX:
            return None
        key = ("areas order", self.place_key, self.fkey)
        kept = self.index.patch_entries.get(key)  # (the first ids, whether they are all)
        if kept is None or (len(kept[0]) < length and not kept[1]):
            wanted = -(-max(length, 1) // AREAS_ORDER_KEPT) * AREAS_ORDER_KEPT
            ids = list(itertools.islice(self._merged(), wanted + 1))
            kept = (ids[:wanted], len(ids) <= wanted)
            self.index.patch_entries.keep(key, kept, KEPT_ENTRY + KEPT_ID * len(ids))
        return kept[0]

    def _areas_ordered(self, skip: int, take: int | None) -> Iterator[int]:
        """The services of the place's areas without a site nearby, in order, from the
        ``skip``-th, ``take`` of them (all with None)."""
        nearby: Any = self.nearby.found if self.nearby.complete else self.nearby.members()
        length = None if take is None else skip + take + len(self.nearby)
        kept = None if length is None else self._areas_order(length)
        ordered = self._merged() if kept is None else kept
        rest = (sid for sid in ordered if sid not in nearby)
        return itertools.islice(rest, skip, None if take is None else skip + take)

    def ordered(self, start: int = 0, end: int | None = None) -> list[int]:
        """The ids from position ``start`` to ``end`` (None: to the last) of the patch's
        order: sites nearby, then the areas' services."""
        near = self._nearby_ordered(end)
        chosen = near[start:end]
        if end is not None and end <= len(self.nearby):
            return chosen
        skip = max(0, start - len(self.nearby))
        take = None if end is None else end - start - len(chosen)
        return [*chosen, *self._areas_ordered(skip, take)]

    # ------------------------------------------------------------------ one service

    def position(self, sid: int) -> int | None:
        """Where a service is in :meth:`ordered` (0 first), None when it is not in the
        patch; counted from the lists rather than by listing the patch up to it. With a
        site nearby: the nearby services ahead of it. Else every nearby service, then the
        services of the areas' merge ahead of it that are not nearby: those in a list of
        a stronger relation than its strongest (counted once per place, filters and
        relation, and kept), and those of a list of that relation earlier in the order
        (each list is in the order: a binary search finds where it would be)."""
        if sid in self.nearby:
            return self.nearby.ahead_of(sid, self.index.order_array)
        strongest = min((rank for rank, *_, found in self.lists if sid in found.members), default=None)  # fmt: skip
        if strongest is None:
            return None
        order = self.index.order
        own = order[sid]
        stronger_count, stronger = self._stronger(strongest)
        parts = []
        for rank, _, _, found in self.lists:
            if rank == strongest:
                cut = bisect.bisect_left(found.ids, own, key=order.__getitem__)
                if cut:
                    parts.append(np.array(found.ids[:cut], dtype=np.int64))
        same = np.unique(np.concatenate(parts)) if parts else _EMPTY
        same = same[~stronger[same]]  # (not counted twice)
        ahead = stronger_count + len(same)
        nearby = self.nearby
        if nearby:  # listed first: not again among the areas'
            ids = nearby.services
            ahead -= int(np.count_nonzero(stronger[ids] | np.isin(ids, same)))
        return len(nearby) + ahead

    def _stronger(self, rank: int) -> tuple[int, Any]:
        """How many services the place's lists of relations stronger than ``rank`` hold,
        and which (a mask over service ids), once per (areas, filters, rank) and kept."""
        key = ("stronger", self.place_key, self.fkey, rank)
        kept = self.index.patch_entries.get(key)
        if kept is None:
            mask = np.zeros(len(self.index.order_array), dtype=bool)
            for stronger, *_, found in self.lists:
                if stronger < rank and found.ids:
                    mask[np.array(found.ids, dtype=np.int64)] = True
            kept = (int(np.count_nonzero(mask)), mask)
            self.index.patch_entries.keep(key, kept, KEPT_ENTRY + mask.nbytes)
        return kept

    # ------------------------------------------------------------------ reasons

    def reasons(self, sid: int) -> list[dict[str, Any]]:
        """Why a listed service is in the patch, strongest first: its nearby site, a site
        inside the area asked for, and each area of the patch its coverage names."""
        if sid in self.nearby:
            return [self.nearby.reason(sid), *self._area_relations(sid)]
        return self._area_relations(sid)

    def _area_relations(self, sid: int) -> list[dict[str, Any]]:
        """Why a service is in the patch by its areas alone (a site inside the area asked
        for, the areas its coverage names), strongest first; kept by (areas, service)."""
        return _kept(
            self.index.area_relations, (self.place_key, sid),
            lambda: sorted(self._area_reasons(sid), key=_strength), KEPT_ENTRY,
        )  # fmt: skip

    def _area_reasons(self, sid: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        in_area = False
        for _, code, relation, area in self.lists:
            if sid not in area.members:
                continue
            if relation == SITE:
                if not in_area:
                    in_area = True
                    site = self.index.sites_in_area[code][sid]
                    found.append({"relation": SITE, "site": site.body})
                continue
            found.append(self._coverage_reason(relation, code))
        return found

    def page(self, sids: list[int]) -> SharedList:
        """The services of a page as the patch lists them, as one JSON array: each its kept
        answer and why it is in the patch, strongest first, spliced from bytes (a page of
        50 services at 100,000 is about 100 KB; made from dicts it cost 15 µs a service).
        A service with a site nearby gets its reasons as pieces of the array, not a bytes
        object of its own (at 100,000 a first page is 50 of them)."""
        parts_of = self.index.parts_by_id
        # (locates the page's services nearby) theirs in page order, walked as they come
        areas = iter(self._nearby_area_reasons(sids))
        found = self.nearby.found
        site_json = self.index.site_json
        heads, tails = _NEARBY_HEADS, _NEARBY_TAILS
        pieces: list[bytes] = []
        add, extend = pieces.append, pieces.extend
        for sid in sids:
            add(b",")
            extend(parts_of[sid])  # without its closing brace
            near = found.get(sid)
            if near is None:
                add(self._tail(sid))
                continue
            metres, at = near
            extend((heads[metres], site_json[at], next(areas), tails[metres]))
        if pieces:
            pieces[0] = b"["
        else:
            add(b"[")
        add(b"]")
        return SharedList(b"".join(pieces), len(sids))

    def _nearby_area_reasons(self, sids: list[int]) -> list[bytes]:
        """The area reasons of a page's services with a site nearby, in page order, as JSON
        to follow their nearby site's (closing that reason, then the areas' reasons, then
        opening the service's ``distance_m``): by which of the place's lists each is in
        (one vector lookup a list for the page), the same bytes for every service in the
        same lists, kept by (areas, lists). Not for an area's place (its ``site_in_area``
        reasons name a site of the service's own; nor has it a point, so nothing is
        nearby)."""
        self.nearby.locate(sids)
        found = self.nearby.found
        near = [sid for sid in sids if sid in found]
        if not near or self.place.site_areas:
            return []
        if len(near) <= FEW_NEARBY:
            which = self.nearby.lists_of(self._area_lists(), near)
        else:  # by their sites: one lookup for the long lists, one a short list
            by_site, short = self._by_site()
            at = np.array([found[sid][1] for sid in near], dtype=np.int64)
            bits = by_site[at].astype(np.int64)
            if short:
                ids, grid = np.array(near, dtype=np.int64), self.index.grid
                for bit, area in short:
                    bits |= area.contains(ids, at, grid).astype(np.int64) << bit
            which = bits.tolist()
        kept = self.index.patch_entries
        made: dict[int, bytes] = {}  # by lists: a page's services are in a few sets of them
        for lists in set(which):
            key = (self.place_key, "nearby", lists)
            more = kept.get(key)
            if more is None:
                areas = sorted(self._reasons_in(lists), key=_strength)
                more = b"," + orjson.dumps(areas, default=encode)[1:-1] if areas else b""
                more = b"".join((b"}", more, _NEARBY_CLOSE))  # (after the nearby site)
                kept.keep(key, more, KEPT_ENTRY + len(more))
            made[lists] = more
        return [made[lists] for lists in which]

    def _reasons_in(self, lists: int) -> list[dict[str, Any]]:
        """The reasons of the place's coverage lists whose bits are set in ``lists``."""
        return [
            self._coverage_reason(relation, code)
            for bit, (_, code, relation, _) in enumerate(self.lists)
            if lists >> bit & 1
        ]

    def _coverage_reason(self, relation: str, code: str) -> dict[str, Any]:
        reason = self.index.area_reasons.get((relation, code))
        if reason is None:  # the same for every patch: made once, never changed
            reason = self.index.area_reasons[relation, code] = {
                "relation": relation,
                "area": area_ref(self.snap, code),
            }
        return reason

    def _tail(self, sid: int) -> bytes:
        """The keys a service without a site nearby gets in the patch (``relations``,
        ``distance_m``) as the end of a JSON object, kept by (areas, service): the same for
        every postcode of a ward. (A nearby service's are spliced by :meth:`page`: each
        point has its own distances, and keeping them would only push out what is
        shared.)"""
        key = (self.place_key, sid)
        tail = self.index.patch_entries.get(key)
        if tail is None:
            relations = orjson.dumps(self._area_relations(sid), default=encode)
            tail = b',"relations":%b,"distance_m":null}' % relations
            self.index.patch_entries.keep(key, tail, KEPT_ENTRY + len(tail))
        return tail


#: a nearby service's keys in a patch: by its distance in whole metres, the opening of its
#: relations up to its site's JSON (``_NEARBY_HEADS``); after its areas' reasons (which
#: close the nearby one and open the ``distance_m`` key: :meth:`Matching._nearby_area_reasons`),
#: the distance again and the service's closing brace (``_NEARBY_TAILS``). Made once for
#: every whole distance a patch can give (10,001 of each, 1.5 MB), so that a nearby
#: service is four parts of its page rather than nine
_NEARBY_HEADS = [
    b',"relations":[{"relation":"site_nearby","distance_m":%d,"site":' % metres
    for metres in range(MAX_RADIUS_M + 1)
]
_NEARBY_CLOSE = b'],"distance_m":'
_NEARBY_TAILS = [b"%d}" % metres for metres in range(MAX_RADIUS_M + 1)]


def _kept(entries: Kept, key: Any, make: Callable[[], T], size: int) -> T:
    """``entries[key]``, made when missing and kept (``size``: its estimated bytes; the
    service's own answer is the index's, shared, not counted again)."""
    entry = entries.get(key)
    if entry is None:
        entry = entries.keep(key, make(), size)
    return entry


def _strength(reason: dict[str, Any]) -> int:
    return RANK[reason["relation"]]


def _keyed(rank: int, ids: list[int], order: list[int]) -> Iterator[tuple[int, int, int]]:
    """A list's ids with their sort key: (relation's rank, place in the order, id)."""
    return ((rank, order[sid], sid) for sid in ids)
