"""The awards reaching a patch, summed and listed at the cost of the patch's own areas.

A patch is reached by the awards of its own areas (its ward; or the area asked for and the
areas inside it) and by those of the areas above it (borough, BCU, London). Each award
counts once, at the first of the patch's areas it names, in the order ward, parts, borough,
BCU, London. An award of an area above the patch reaches every area below it the same way:
its scope (``borough``, ``bcu``, ``london``) is that area's, and its headline scope is the
widest area it names on that line (``borough_wide``, ``bcu_wide``, ``london_wide``), so its
sums are worked out once per (area above, day, filters) and kept. A patch adds its own
areas' awards one by one, then each area above's sums, taking back the few awards it has
already counted. In a directory of 100,000 services with 10,000 London-wide awards, a new
ward then costs its borough's and ward's awards, not London's.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from directory.usecases.facts import GrantFact
from directory.usecases.funding.awards import ancestors
from directory.usecases.funding.headline import WIDE, HeadlineGroup, scope_of, widest_areas
from directory.usecases.geography import GeographySnapshot
from directory.usecases.patch.index import KEPT_DICT, KEPT_ENTRY, KEPT_ID

Keep = Callable[[GrantFact], bool]


@dataclass
class ProgrammeSums:
    programme: dict[str, Any] | None
    community_safety: bool
    awards: int = 0
    pence: int = 0
    #: scope the award reaches the patch at (ward, part, borough, bcu, london) → [awards, pence]
    by_scope: dict[str, list[int]] = field(default_factory=dict)
    #: headline scope → [awards, pence]
    scopes: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class Sums:
    """Awards counted and not counted (another class of programme), summed: additive, so a
    patch's sums are its areas' sums."""

    awards: int = 0
    pence: int = 0
    without_amount: int = 0
    other_awards: int = 0
    other_pence: int = 0
    programmes: dict[str, ProgrammeSums] = field(default_factory=dict)
    groups: dict[str, HeadlineGroup] = field(default_factory=dict)
    #: the awards counted in the headline's ``shared`` (the patch's own areas' only: an
    #: area above it has none), for its ``equal_share``
    shared: dict[int, GrantFact] = field(default_factory=dict)

    def add(self, g: GrantFact, scope: str, found: tuple[str, tuple[str, ...]], sign: int = 1) -> None:  # fmt: skip
        """Count award ``g`` reaching at ``scope`` with headline scope ``found`` (``sign``
        -1 takes it back)."""
        pence = g.amount_pence or 0
        self.awards += sign
        self.pence += sign * pence
        if g.amount_pence is None:
            self.without_amount += sign
        key = g.programme_id or "none"
        entry = self.programmes.get(key)
        if entry is None:
            entry = self.programmes[key] = ProgrammeSums(
                {"id": g.programme_id, "name": g.programme_name} if g.programme_id else None,
                g.community_safety,
            )
        entry.awards += sign
        entry.pence += sign * pence
        for cells, name in ((entry.by_scope, scope), (entry.scopes, found[0])):
            cell = cells.setdefault(name, [0, 0])
            cell[0] += sign
            cell[1] += sign * pence
            if cell[0] == 0:
                del cells[name]
        if entry.awards == 0:
            del self.programmes[key]
        group = self.groups.get(found[0])
        if group is None:
            group = self.groups[found[0]] = HeadlineGroup()
        group.add(g, found[1], sign)
        if group.awards == 0:
            del self.groups[found[0]]
        if found[0] == "shared":
            if sign > 0:
                self.shared[g.id] = g
            else:
                self.shared.pop(g.id, None)

    def add_other(self, g: GrantFact, sign: int = 1) -> None:
        self.other_awards += sign
        self.other_pence += sign * (g.amount_pence or 0)

    def merge(self, other: Sums) -> None:
        """Add ``other``'s sums into these (``other`` is not changed)."""
        self.awards += other.awards
        self.pence += other.pence
        self.without_amount += other.without_amount
        self.other_awards += other.other_awards
        self.other_pence += other.other_pence
        for key, theirs in other.programmes.items():
            mine = self.programmes.get(key)
            if mine is None:
                mine = self.programmes[key] = ProgrammeSums(
                    theirs.programme, theirs.community_safety
                )
            mine.awards += theirs.awards
            mine.pence += theirs.pence
            for cells, their_cells in ((mine.by_scope, theirs.by_scope), (mine.scopes, theirs.scopes)):  # fmt: skip
                for name, (awards, pence) in their_cells.items():
                    cell = cells.setdefault(name, [0, 0])
                    cell[0] += awards
                    cell[1] += pence
        for name, theirs_group in other.groups.items():
            group = self.groups.get(name)
            if group is None:
                group = self.groups[name] = HeadlineGroup()
            group.awards += theirs_group.awards
            group.pence += theirs_group.pence
            group.without_amount += theirs_group.without_amount
            group.district.merge(theirs_group.district)
            group.areas.update(theirs_group.areas)
        self.shared.update(other.shared)


@dataclass
class AreaAwards:
    """The awards of one area above a patch that pass a filter: counted ones in the order a
    patch lists them, their ids, the others' ids, and their sums."""

    counted: list[GrantFact]
    by_id: dict[int, GrantFact]
    other: dict[int, GrantFact]
    sums: Sums
    #: the regrants among ``counted`` and among ``other`` (a patch leaves one out when an
    #: award it was paid through is in the patch too: :class:`Regrants`)
    regrants: list[GrantFact] = field(default_factory=list)
    other_regrants: list[GrantFact] = field(default_factory=list)


class Classify:
    """Which awards a patch counts: those ``keep`` accepts, of ``programme`` (any class), or
    else community safety unless ``all_programmes``; the rest are "other"."""

    def __init__(self, keep: Keep, all_programmes: bool, programme: str | None) -> None:
        self.keep, self.all_programmes, self.programme = keep, all_programmes, programme

    def __call__(self, g: GrantFact) -> bool | None:
        """True: counted; False: other; None: not in this answer at all."""
        if not self.keep(g):
            return None
        if self.programme is not None:
            return True if g.programme_id == self.programme else None
        return self.all_programmes or g.community_safety


def area_awards(
    index: Any, snap: GeographySnapshot, code: str, scope: str, classify: Classify,
    key: tuple[Any, ...], order: Callable[[GrantFact], Any],
) -> AreaAwards:  # fmt: skip
    """The awards of ``code`` (an area above the patch, reached at ``scope``), made once per
    (area, ``key``: the day and filters) and kept in the index."""
    cache_key = (code, scope, key)
    found = index.area_awards.get(cache_key)
    if found is None:
        counted: list[GrantFact] = []
        other: dict[int, GrantFact] = {}
        sums = Sums()
        widest = index.widest
        for g in index.grants_by_area.get(code, ()):
            kind = classify(g)
            if kind is None:
                continue
            if kind:
                counted.append(g)
                sums.add(g, scope, wide_scope(g, snap, code, widest))
            else:
                other[g.id] = g
                sums.add_other(g)
        counted.sort(key=order)
        found = AreaAwards(
            counted, {g.id: g for g in counted}, other, sums,
            [g for g in counted if g.paid_through],
            [g for g in other.values() if g.paid_through],
        )  # fmt: skip
        # the awards are the facts' own; a list slot and two dict slots each, and the sums
        size = KEPT_ENTRY + KEPT_DICT + KEPT_ID * (2 * len(counted) + len(other))
        index.area_awards.keep(cache_key, found, size)
    return found


def wide_scope(
    g: GrantFact, snap: GeographySnapshot, code: str, widest: dict[int, tuple[str, ...]]
) -> tuple[str, tuple[str, ...]]:
    """The headline scope of an award of ``code`` at any area below ``code``: the wide scope
    of the one area it names on ``code``'s line (``code`` or one above it; the areas it
    names are an antichain, so no other is above the patch), as ``scope_of`` finds it."""
    line = {code, *ancestors(snap, code)}
    for area in widest_areas(g, snap, widest):
        if area in line:
            return WIDE[snap.areas[area].type], (area,)
    raise AssertionError(f"award {g.id} names no area on {code}'s line")


@dataclass
class Reaching:
    """The awards reaching a patch: sums, and the counted ones listable in order."""

    sums: Sums
    #: (scope, awards in the order a patch lists them, the same by id), in relation order
    lists: list[tuple[str, list[GrantFact], dict[int, GrantFact]]]
    total: int
    other: int
    #: the ids of the regrants left out (an award they were paid through is in the patch)
    left_out: frozenset[int] = frozenset()

    def first(self, count: int, order: Callable[[GrantFact], Any]) -> list[tuple[GrantFact, str]]:
        """The first ``count`` awards in ``order``, each once, at the first scope it reaches
        the patch at."""
        merged = heapq.merge(*(_keyed(grants, order) for _, grants, _ in self.lists))
        seen: set[int] = set()
        out: list[tuple[GrantFact, str]] = []
        for _, _, g in merged:
            if len(out) == count:
                break
            if g.id not in seen and g.id not in self.left_out:
                seen.add(g.id)
                out.append((g, next(s for s, _, ids in self.lists if g.id in ids)))
        return out


def _keyed(
    grants: list[GrantFact], order: Callable[[GrantFact], Any]
) -> Iterator[tuple[Any, int, GrantFact]]:
    return ((order(g), g.id, g) for g in grants)


def reaching(
    index: Any, snap: GeographySnapshot, relations: dict[str, list[str]], area: str,
    classify: Classify, key: tuple[Any, ...], order: Callable[[GrantFact], Any],
    *, compose: bool = True,
) -> Reaching:  # fmt: skip
    """The awards reaching a patch whose areas are ``relations`` (relation → codes) and whose
    own area is ``area``. With ``compose`` False every area's awards are added one by one
    (the slow way the tests compare with)."""
    above = set(ancestors(snap, area)) if compose else set()
    sums = Sums()
    counted: dict[int, GrantFact] = {}  # the patch's own areas' awards
    other: dict[int, GrantFact] = {}
    lists: list[tuple[str, list[GrantFact], dict[int, GrantFact]]] = []
    earlier: list[tuple[dict[int, GrantFact], dict[int, GrantFact]]] = [(counted, other)]
    total, others = 0, 0
    widest = index.widest
    regrants = Regrants()
    for relation, codes in relations.items():
        scope = relation.removeprefix("serves_")
        for code in codes:
            if code not in above:
                mine: dict[int, GrantFact] = {}
                for g in index.grants_by_area.get(code, ()):
                    if g.id in counted or g.id in other:
                        continue
                    kind = classify(g)
                    if kind is None:
                        continue
                    if kind:
                        counted[g.id] = mine[g.id] = g
                        found_scope = scope_of(widest_areas(g, snap, widest), snap, area)
                        sums.add(g, scope, found_scope)
                        if g.paid_through:
                            regrants.counted.setdefault(g.id, (g, scope, found_scope))
                    else:
                        other[g.id] = g
                        sums.add_other(g)
                        if g.paid_through:
                            regrants.other.setdefault(g.id, g)
                lists.append((scope, sorted(mine.values(), key=order), mine))
                continue
            found = area_awards(index, snap, code, scope, classify, key, order)
            sums.merge(found.sums)
            # take back the awards this area shares with the patch's areas before it
            twice = _both([c for c, _ in earlier], found.by_id)
            for gid in twice:
                g = found.by_id[gid]
                sums.add(g, scope, wide_scope(g, snap, code, widest), sign=-1)
            twice_other = _both([o for _, o in earlier], found.other)
            for gid in twice_other:
                sums.add_other(found.other[gid], sign=-1)
            for g in found.regrants:  # counted here first, unless an earlier area had it
                if g.id not in twice:
                    regrants.counted.setdefault(g.id, (g, scope, wide_scope(g, snap, code, widest)))
            for g in found.other_regrants:
                if g.id not in twice_other:
                    regrants.other.setdefault(g.id, g)
            total += len(found.by_id) - len(twice)
            others += len(found.other) - len(twice_other)
            earlier.append((found.by_id, found.other))
            lists.append((scope, found.counted, found.by_id))
    left_out = regrants.take_back(sums, earlier)
    return Reaching(
        sums, lists, total + len(counted) - len(left_out[0]), others + len(other) - left_out[1],
        frozenset(left_out[0]),
    )  # fmt: skip


@dataclass
class Regrants:
    """The regrants a patch counted, each where it was counted first; the patch leaves out
    those paid through an award it counts too (its parent, the parent's parent…), as every
    funding answer does (:func:`directory.usecases.funding.awards.count_once`): that
    award's money holds theirs. A regrant whose every such award is not in the patch (it
    names no area of the patch, is not live, or is of another programme) is counted."""

    counted: dict[int, tuple[GrantFact, str, tuple[str, tuple[str, ...]]]] = field(
        default_factory=dict
    )
    other: dict[int, GrantFact] = field(default_factory=dict)

    def take_back(
        self, sums: Sums, earlier: list[tuple[dict[int, GrantFact], dict[int, GrantFact]]]
    ) -> tuple[set[int], int]:
        """Take the regrants to leave out back from ``sums`` (``earlier``: the counted and
        other awards of each of the patch's areas); their ids, and how many others."""

        def held(ids: tuple[int, ...], other_too: bool) -> bool:
            return any(
                gid in counted or (other_too and gid in other)
                for counted, other in earlier
                for gid in ids
            )

        dropped: set[int] = set()
        for g, scope, found in self.counted.values():
            if held(g.paid_through, False):
                sums.add(g, scope, found, sign=-1)
                dropped.add(g.id)
        others = 0
        for g in self.other.values():
            if held(g.paid_through, True):
                sums.add_other(g, sign=-1)
                others += 1
        return dropped, others


def _both(earlier: list[dict[int, GrantFact]], later: dict[int, GrantFact]) -> set[int]:
    """The ids of ``later`` already in one of ``earlier``, iterating the smaller of each
    pair (the areas above a patch share few awards with it)."""
    found: set[int] = set()
    for ids in earlier:
        if len(ids) <= len(later):
            found.update(gid for gid in ids if gid in later)
        else:
            found.update(gid for gid in later if gid in ids)
    return found
