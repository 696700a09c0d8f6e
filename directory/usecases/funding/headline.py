"""An area's headline money: its own awards apart from the wider awards that reach it.

Every award reaching an area (its beneficiary areas are the area, an area inside it or an
area above it) has one scope there, worked out from the widest areas it names (an area
inside another area it also names adds nothing):

- ``own``: every area it names is the area or inside it (a borough and its wards);
- ``shared``: it names the area (or an area inside it) together with areas outside it,
  none of them above it (Lewisham and Croydon; a ward here and a ward elsewhere);
- ``borough_wide`` (a ward only), ``bcu_wide``, ``london_wide``: it names the area's
  borough, its BCU, or London or the Metropolitan Police District (London but the City: an
  award for "the 32 London boroughs" reaches each of them as London-wide money does, and
  never the City or its wards).

Each scope's awards are counted once, in full, at that scope, and the wider scopes say which
areas of the area's level share them; so own + shared + the wide scopes = every award
reaching the area (the answer's totals), and two boroughs' own figures compare fairly.
Nothing wider is added into the area's figure unless ``apportion=population`` asks: then
each scope's ``apportioned_amount`` is the area's part by the rule stated, the same figure
``/funding/summary?by=borough`` (or ``by=bcu``) gives as the area's ``apportioned_amount``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from directory.usecases.catalogue import area_ref
from directory.usecases.facts import FundingData, GrantFact
from directory.usecases.funding.awards import (
    WIDE_TYPES,
    ancestors,
    bcu_of,
    placed,
    population_of,
    pounds,
)
from directory.usecases.geography import CITY_NOTE, LONDON, MPD, GeographySnapshot

#: the scopes an award reaching an area can have there, narrowest first
SCOPES = ("own", "shared", "borough_wide", "bcu_wide", "london_wide")
#: the levels of London's geography, widest first
LEVELS = ("region", "police_area", "bcu", "borough", "ward")
#: the levels whose headline names the other areas sharing the shared and BCU-wide money
LISTED_LEVELS = ("borough", "bcu")
#: the scope an award of an area above reaches at: the Metropolitan Police District's
#: awards are reported as London's are (every client reads london_wide; its ``areas`` say
#: which of the two an award names)
WIDE = {
    "region": "london_wide",
    "police_area": "london_wide",
    "bcu": "bcu_wide",
    "borough": "borough_wide",
}

#: grant id → the widest London areas it names (kept per data version, like placements)
WidestCache = dict[int, tuple[str, ...]]
#: the levels with populations (a ward has none): their headline can apportion wider money
APPORTIONED_LEVELS = ("police_area", "bcu", "borough")
#: grant id → (scope, the areas it names beyond the area)
Scopes = dict[int, tuple[str, tuple[str, ...]]]


def widest_areas(
    g: GrantFact, snap: GeographySnapshot, cache: WidestCache | None
) -> tuple[str, ...]:
    """The widest London areas an award names (London alone if it names London)."""
    if cache is not None and (found := cache.get(g.id)) is not None:
        return found
    codes = {c for c in g.areas if c in snap.areas}
    if LONDON in codes:
        found = (LONDON,)
    else:
        found = tuple(sorted(c for c in codes if not any(a in codes for a in ancestors(snap, c))))
    if cache is not None:
        cache[g.id] = found
    return found


def scope_of(
    widest: Iterable[str], snap: GeographySnapshot, area: str
) -> tuple[str, tuple[str, ...]]:
    """The scope an award naming ``widest`` reaches ``area`` at, with the areas it names
    beyond the area (the wider area itself for a wide scope; the others for shared)."""
    above = ancestors(snap, area)
    beyond: list[str] = []
    for code in widest:
        if code == area or area in ancestors(snap, code):
            continue
        if code in above:
            return WIDE[snap.areas[code].type], (code,)
        beyond.append(code)
    return ("shared", tuple(beyond)) if beyond else ("own", ())


def scopes(
    grants: Iterable[GrantFact], snap: GeographySnapshot, area: str, cache: WidestCache | None
) -> Scopes:
    """Each award's scope at ``area`` (the awards must reach it)."""
    return {g.id: scope_of(widest_areas(g, snap, cache), snap, area) for g in grants}


def scopes_present(snap: GeographySnapshot, area: str) -> tuple[str, ...]:
    """The scopes an area's headline has: a ward has borough_wide; an area in a BCU has
    bcu_wide; every area but London has shared and london_wide."""
    if area == LONDON:
        return ("own",)
    kinds = {snap.areas[a].type for a in ancestors(snap, area)}
    return tuple(
        s
        for s in SCOPES
        if s in ("own", "shared", "london_wide")
        or (s == "borough_wide" and "borough" in kinds)
        or (s == "bcu_wide" and "bcu" in kinds)
    )


def units_at(
    snap: GeographySnapshot, code: str, level: str,
    cache: dict[tuple[str, str], frozenset[str]] | None = None,
) -> frozenset[str]:  # fmt: skip
    """The areas of ``level`` that money for ``code`` is for: the area itself, the area of
    that level it is inside, or every area of that level inside it."""
    if cache is not None and (hit := cache.get((code, level))) is not None:
        return hit
    kind = snap.areas[code].type
    if kind == level:
        found = {code}
    elif LEVELS.index(kind) > LEVELS.index(level):  # a narrower area: the one above it
        found = {a for a in ancestors(snap, code) if snap.areas[a].type == level} or {code}
    else:
        found = set()
        stack = list(snap.children.get(code, ()))
        while stack:
            child = stack.pop()
            if snap.areas[child].type == level:
                found.add(child)
            else:
                stack.extend(snap.children.get(child, ()))
    out = frozenset(found)
    if cache is not None:
        cache[(code, level)] = out
    return out


@dataclass
class DistrictTally:
    """The awards, pence and awards without an amount of the Metropolitan Police District's
    part of a london_wide scope."""

    awards: int = 0
    pence: float = 0.0
    without_amount: int = 0

    def add(self, g: GrantFact, sign: int = 1) -> None:
        self.awards += sign
        self.pence += sign * (g.amount_pence or 0)
        self.without_amount += sign * (g.amount_pence is None)

    def merge(self, other: DistrictTally) -> None:
        self.awards += other.awards
        self.pence += other.pence
        self.without_amount += other.without_amount


@dataclass
class HeadlineGroup:
    awards: int = 0
    pence: float = 0.0
    without_amount: int = 0
    areas: set[str] = field(default_factory=set)
    equal_share: float = 0.0  # shared: the area's equal share (pence)
    apportioned: float = 0.0  # pence, with apportion=population
    #: london_wide: of these, the awards for the Metropolitan Police District, shared by
    #: its 32 boroughs where London's are by 33
    district: DistrictTally = field(default_factory=DistrictTally)

    def add(self, g: GrantFact, beyond: tuple[str, ...], sign: int = 1) -> None:
        """Count an award in (``sign`` -1: take back one counted twice; its areas stay,
        named by the award counted)."""
        self.awards += sign
        if g.amount_pence is None:
            self.without_amount += sign
        else:
            self.pence += sign * g.amount_pence
        if MPD in beyond:
            self.district.add(g, sign)
        if sign > 0:
            self.areas.update(beyond)


def _refs(snap: GeographySnapshot, codes: Iterable[str]) -> list[dict[str, Any]]:
    return [area_ref(snap, c) for c in sorted(codes, key=lambda c: (snap.areas[c].name, c))]


@dataclass(frozen=True)
class _Populations:
    """The populations apportionment uses, or why there are none."""

    area: int | None
    london: int | None
    bcu: str | None
    bcu_population: int | None
    #: the wide areas above the area (London, the Metropolitan Police District) → their
    #: populations: wide money is divided among the boroughs it is for
    wide: dict[str, int | None] = field(default_factory=dict)

    @classmethod
    def of(cls, data: FundingData, snap: GeographySnapshot, area: str) -> _Populations:
        kind = snap.areas[area].type
        bcu = bcu_of(snap, area) if kind == "borough" else None
        wide = {
            code: population_of(data, snap, code)
            for code in ancestors(snap, area)
            if snap.areas[code].type in WIDE_TYPES
        }
        return cls(
            population_of(data, snap, area) if kind in APPORTIONED_LEVELS else None,
            population_of(data, snap, LONDON),
            bcu,
            population_of(data, snap, bcu) if bcu is not None else None,
            wide,
        )


def _apportioned_pence(
    data: FundingData, g: GrantFact, snap: GeographySnapshot, area: str, level: str,
    pops: _Populations,
) -> float:  # fmt: skip
    """The part of an award counted for ``area`` (a borough or BCU) by population share, as
    /funding/summary?by=borough (or by=bcu) counts it in apportioned_amount; for the
    Metropolitan Police District, the sum of its boroughs' parts."""
    if level == "police_area":
        return _district_pence(data, g, snap, area, pops)
    total = 0.0
    for kind, code, share in placed(data, g, snap, level):
        pence = (g.amount_pence or 0) * share
        if kind == level and code == area:
            total += pence
        elif kind == "london" and pops.area and (wide := pops.wide.get(code or "")):
            total += pence * pops.area / wide
        elif kind == "bcu" and level == "borough" and code == pops.bcu and pops.bcu_population:
            total += pence * (pops.area or 0) / pops.bcu_population
    return total


def _district_pence(
    data: FundingData, g: GrantFact, snap: GeographySnapshot, area: str, pops: _Populations
) -> float:
    """The part of an award the boroughs of a police area (the Metropolitan Police
    District) are counted at by=borough: what is placed in them or their BCUs, its own
    money, and its population share of London's."""
    total = 0.0
    for kind, code, share in placed(data, g, snap, "borough"):
        pence = (g.amount_pence or 0) * share
        if code == area or (kind in ("borough", "bcu") and area in ancestors(snap, code or "")):
            total += pence
        elif kind == "london" and pops.area and (wide := pops.wide.get(code or "")):
            total += pence * pops.area / wide
    return total


def headline(
    snap: GeographySnapshot, grants: list[GrantFact], area: str, found: Scopes, *,
    data: FundingData | None = None, apportion: str = "none",
    shares: dict[int, float] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The headline of the awards ``grants`` (all reaching ``area``, with their ``found``
    scopes): the area's own awards and, apart, each wider scope at its full amount.
    ``shares``: :func:`apportioned_shares` of ``grants``, when the caller has them."""
    info = snap.areas[area]
    level = info.type
    present = scopes_present(snap, area)
    groups = {s: HeadlineGroup() for s in present}
    for g in grants:
        kind, beyond = found[g.id]
        groups.setdefault(kind, HeadlineGroup()).add(g, beyond)
    if "shared" in groups and data is not None and level in LISTED_LEVELS:
        shared = [g for g in grants if found[g.id][0] == "shared"]
        groups["shared"].equal_share = equal_share(data, snap, area, shared)
    apportionment = _apportion(snap, grants, area, found, groups, data, apportion, shares)
    reaching = (
        len(grants),
        sum(g.amount_pence or 0 for g in grants),
        sum(1 for g in grants if g.amount_pence is None),
    )
    return headline_answer(snap, area, groups, reaching, apportionment, data)


def equal_share(
    data: FundingData, snap: GeographySnapshot, area: str, shared: Iterable[GrantFact]
) -> float:
    """The part of the ``shared`` awards /funding/summary?by=<area's level> counts for
    ``area`` (pence): each award divided equally between the areas of that level it names."""
    level = snap.areas[area].type
    return sum(
        (g.amount_pence or 0) * share
        for g in shared
        for kind, code, share in placed(data, g, snap, level)
        if kind == level and code == area
    )


def headline_answer(
    snap: GeographySnapshot, area: str, groups: dict[str, HeadlineGroup],
    reaching: tuple[int, float, int], apportionment: dict[str, Any] | None = None,
    data: FundingData | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The headline from its groups (scope → sums) and the totals reaching the area
    (awards, pence, awards without an amount); with no apportionment, none is made."""
    info = snap.areas[area]
    level = info.type
    present = scopes_present(snap, area)
    if apportionment is None:
        apportionment = _apportion(snap, [], area, {}, groups, None, "none")
    answer: dict[str, Any] = {"area": info.ref()}
    for name, group in groups.items():
        body: dict[str, Any] = {
            "awards": group.awards,
            "amount": pounds(group.pence),
            "awards_without_amount": group.without_amount,
        }
        if name != "own":
            units = data._units if data is not None else None
            wider = {u for code in (group.areas or _wider_area(snap, area, name))
                     for u in units_at(snap, code, level, units)} | {area}  # fmt: skip
            body["areas"] = _refs(snap, group.areas or _wider_area(snap, area, name))
            body["areas_sharing"] = len(wider)
            if level in LISTED_LEVELS and name != "london_wide":
                body["shared_with"] = _refs(snap, wider - {area})
            if name == "london_wide" and MPD in group.areas:
                # (London's awards are shared by 33 boroughs, the District's by 32: one
                # areas_sharing for both overstated who shares most of the money)
                district = group.district
                body["police_district"] = {
                    "area": area_ref(snap, MPD), "awards": district.awards,
                    "amount": pounds(district.pence),
                    "awards_without_amount": district.without_amount,
                    "areas_sharing": len(set(units_at(snap, MPD, level, units)) | {area}),
                }  # fmt: skip
        if name == "shared" and data is not None and level in LISTED_LEVELS:
            body["equal_share"] = pounds(group.equal_share)
        if apportionment["method"] == "population" and apportionment["available"]:
            body["apportioned_amount"] = pounds(group.apportioned)
        answer[name] = body
    answer["reaching"] = {
        "awards": reaching[0],
        "amount": pounds(reaching[1]),
        "awards_without_amount": reaching[2],
    }
    answer["apportionment"] = apportionment
    answer["rule"] = headline_rule(snap, area, present)
    if area == "E09000001" or (level == "ward" and info.parent_code == "E09000001"):
        answer["note"] = CITY_NOTE
    return answer


def _wider_area(snap: GeographySnapshot, area: str, scope: str) -> set[str]:
    """The wider area of a wide scope with no award (shared: none; london_wide: London)."""
    if scope == "shared":
        return set()
    if scope == "london_wide":
        return {LONDON} if LONDON in snap.areas else set()
    level = {v: k for k, v in WIDE.items()}[scope]
    return {a for a in ancestors(snap, area) if snap.areas[a].type == level}


def apportioned_shares(
    data: FundingData, snap: GeographySnapshot, grants: Iterable[GrantFact], area: str
) -> dict[int, float] | None:
    """Each award's part (pence, unrounded) counted for ``area`` with apportion=population:
    the one rule of the headline's apportionment, which its scopes and the summary's groups
    both add up from. None when the area cannot be apportioned (a ward; populations not
    loaded)."""
    level = snap.areas[area].type
    if level == "region":  # every award reaching London is London's own
        return {g.id: float(g.amount_pence or 0) for g in grants}
    if level not in APPORTIONED_LEVELS:
        return None
    pops = _Populations.of(data, snap, area)
    if not pops.area or not pops.london:
        return None
    return {g.id: _apportioned_pence(data, g, snap, area, level, pops) for g in grants}


def _apportion(
    snap: GeographySnapshot, grants: list[GrantFact], area: str, found: Scopes,
    groups: dict[str, HeadlineGroup], data: FundingData | None, apportion: str,
    shares: dict[int, float] | None = None,
) -> dict[str, Any]:  # fmt: skip
    name = snap.areas[area].name
    level = snap.areas[area].type
    if apportion != "population" or data is None:
        how = (
            "There are no ward populations, so nothing wider is apportioned to a ward."
            if level == "ward"
            else f"/funding/summary with apportion=population adds {name}'s population "
            "share of them."
        )
        return {
            "method": "none",
            "available": False,
            "amount": None,
            "rule": f"Nothing wider is added into {name}'s own figure: shared and wider awards "
            f"are shown at their own scope, in full. {how}",
        }
    if level == "ward":
        return {
            "method": "population",
            "available": False,
            "amount": None,
            "rule": "There are no ward populations, so nothing is apportioned to a ward: ask "
            "for its borough.",
        }
    if shares is None:
        shares = apportioned_shares(data, snap, grants, area)
    if shares is not None:
        for g in grants:
            groups[found[g.id][0]].apportioned += shares[g.id]
    if level == "region":
        return {
            "method": "population",
            "available": True,
            "amount": pounds(sum(g.apportioned for g in groups.values())),
            "rule": "Every award reaching London is London's own: nothing to apportion.",
            "population": _population(data),
        }
    if shares is None:
        return {
            "method": "population",
            "available": False,
            "amount": None,
            "rule": "Population figures are not loaded for every borough, so nothing could be "
            "apportioned: import them with `directory import FILE --format population`.",
        }
    pops = _Populations.of(data, snap, area)
    bcu = "BCU-wide money × the borough's share of its BCU's population + " if pops.bcu else ""
    police = (
        " (money for the Metropolitan Police District × its share of the District's "
        "population: that money is for every borough but the City of London)"
        if MPD in pops.wide
        else ""
    )
    if level == "police_area":
        return {
            "method": "population",
            "available": True,
            "amount": pounds(sum(g.apportioned for g in groups.values())),
            "rule": f"amount = the sum of the apportioned_amount of {name}'s boroughs in "
            "/funding/summary?by=borough: the awards placed in them or their BCUs, its own "
            f"awards, and London-wide money × its share of London's population; each scope's "
            "apportioned_amount is its part. Populations are the latest loaded estimates. This "
            "illustrates where shared money might be spent, not where it was spent.",
            "population": _population(data),
        }
    return {
        "method": "population",
        "available": True,
        "amount": pounds(sum(g.apportioned for g in groups.values())),
        "rule": f"amount = {name}'s own awards + its equal share of the shared awards (each "
        f"divided equally between the areas of its level it names) + {bcu}London-wide money × "
        f"{name}'s share of London's population{police}; each scope's apportioned_amount is "
        "its part. "
        "It equals apportioned_amount in /funding/summary?by="
        f"{level}. Populations are the latest loaded estimates. This illustrates where "
        "shared money might be spent, not where it was spent.",
        "population": _population(data),
    }


def _population(data: FundingData) -> dict[str, Any] | None:
    """The population estimates apportionment used: the latest date, and their sources."""
    if not data.population:
        return None
    figures = data.population.values()
    return {
        "reference_date": max(p.reference_date for p in figures).isoformat(),
        "sources": sorted({p.source for p in figures if p.source}),
    }


def headline_rule(snap: GeographySnapshot, area: str, present: tuple[str, ...]) -> str:
    info = snap.areas[area]
    name = info.name
    if area == LONDON:
        return (
            "Every award reaching London is counted in own: every award names London or areas "
            "inside it."
        )
    inside = {
        "borough": " or its wards",
        "bcu": ", its boroughs or their wards",
        "ward": "",
    }.get(info.type, "")
    parts = [
        f"own: the awards whose beneficiary areas are all {name}{inside}, counted in full. "
        "This is the headline figure to compare areas by.",
        f"shared: awards naming {name} (or an area inside it) together with areas outside it, "
        "none of them above it; counted in full, with the other areas in areas"
        + (" and equal_share, the part /funding/summary?by=" + info.type + " counts for "
           f"{name} (each award divided equally between the areas of its level it names)."
           if info.type in LISTED_LEVELS else "."),
    ]  # fmt: skip
    above_codes = ancestors(snap, area)
    above = {snap.areas[a].type: snap.areas[a].name for a in above_codes}
    if "borough_wide" in present:
        parts.append(f"borough_wide: awards for the whole of {above['borough']}, in full.")
    if "bcu_wide" in present:
        parts.append(f"bcu_wide: awards for the whole of the {above['bcu']} BCU, in full.")
    if MPD in above_codes:
        parts.append(
            "london_wide: awards for all of London, and for the Metropolitan Police District "
            "(London but the City of London: the 32 boroughs), in full; areas names which."
        )
    else:
        parts.append("london_wide: awards for all of London, in full.")
    parts.append(
        "Each award is in one scope, the widest it reaches the area at; the wider scopes are "
        "shared by areas_sharing areas of the same level (the others listed in shared_with for "
        "a borough's or BCU's shared and BCU-wide awards) and are not part of the area's own figure; apportion=population states "
        "how much of them could be counted for it. own + shared + the wide scopes = reaching "
        "= the answer's totals."
    )
    return " ".join(parts)
