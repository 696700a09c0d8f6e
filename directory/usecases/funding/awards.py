"""Which awards a funding answer counts and where each award's money is placed; the
statistics of a group of awards; populations of areas. Shared by the funding summary, need
and programme answers (see the package's docstring for the placement rules).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from directory.data.community_safety import rule as community_safety_rule
from directory.errors import InvalidInputError
from directory.ingest.values import parse_financial_year
from directory.usecases.catalogue import area_ref, is_live
from directory.usecases.facts import FundingData, GrantFact
from directory.usecases.funding.money import pounds
from directory.usecases.funding.years import year_part
from directory.usecases.geography import LONDON, GeographySnapshot, area_scope, resolve_area
from directory.usecases.vocabulary import unknown_programme

LENGTH_BUCKETS = ("<12", "12–23", "24–35", "36+", "unknown")
#: the types of area whose awards are reported as london_wide: London's, and the
#: Metropolitan Police District's (every borough but the City)
WIDE_TYPES = ("region", "police_area")

REGRANT_RULE = (
    "A regrant (an award paid through another award in the directory) is left out when an "
    "award it was paid through (its parent, or the parent's parent, following Paid through) "
    "is counted in the same answer, its money being counted there (regrants_left_out); when "
    "the answer's filters (financial year, programme, area, live_on, community safety) left "
    "every such award out, the regrant is counted, so no money is counted twice or dropped. "
    "include_regrants=true counts every regrant as well."
)

FINANCIAL_YEAR_RULE = (
    "An award counts in the financial year it was decided for, its first, however many years "
    "it runs (its whole amount there, not divided between the years); its planned dates "
    "are in /grants (start, end; plannedDates in /grants.360giving.json), and "
    "spread=planned_dates divides its money between the years they cover."
)

PLACEMENT_RULE = (
    "Each award's beneficiary areas are reduced to the widest ones it names. London-wide "
    "awards are reported in london_wide and BCU-wide awards in bcu_wide, in full, not divided "
    "among boroughs; awards for the Metropolitan Police District (E23000001: London but the "
    "City, the 32 boroughs of the Met's BCUs) are in london_wide too, and never reach the City "
    "of London (london_wide.police_district says how much of london_wide they are); awards to wards count for the ward (by=ward) or its borough. An award "
    "naming several areas of the same level counts as an award in each and its amount is "
    "divided equally between them (shared_awards), so amounts add up to the totals. Awards "
    "with no London beneficiary area are in unplaced. " + REGRANT_RULE
)


def community_safety_rule_text() -> str:
    funders = ", ".join(sorted(community_safety_rule().funders))
    return (
        "Only community-safety programmes are counted: those directory/data/programmes.csv "
        "marks community_safety, and any other programme (named by an import) whose name has "
        "one of the community-safety words of directory/data/community_safety.toml or whose "
        f"funder is {funders}; a grant recorded with no programme is counted when its funder is "
        f"{funders}. Other grants (arts, education, health …) are left out (other_programmes "
        "says how many and how much); include_other_programmes=true counts them too."
    )


ALL_PROGRAMMES_RULE = (
    "Every programme is counted (include_other_programmes=true), community safety or not; "
    "each programme's community_safety is in /programmes."
)


def named_programme_rule(programme: str, community_safety: bool) -> str:
    kind = (
        "a community-safety programme" if community_safety else "not a community-safety programme"
    )
    return (
        f"The programme asked for ({programme}, {kind}) is counted whatever its "
        "classification; without a programme only community-safety programmes are counted "
        "unless include_other_programmes=true."
    )


def rate(numerator: float | None, denominator: float | None, per: int = 1000) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator * per, 2)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or not b:
        return None
    return round(a / b, 3)


def financial_year(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return parse_financial_year(text)
    except ValueError as error:
        raise InvalidInputError(str(error), errors={"financial_year": [str(error)]}) from None


def check_choice(name: str, value: str, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value not in choices:
        message = f"Must be one of: {', '.join(choices)}."
        raise InvalidInputError(f"{name}: {message}", errors={name: [message]})


def area_code(snap: GeographySnapshot, text: str | None) -> str | None:
    return None if text is None else resolve_area(snap, text)


def ancestors(snap: GeographySnapshot, code: str) -> list[str]:
    out = []
    parent = snap.areas[code].parent_code
    while parent is not None and parent in snap.areas:
        out.append(parent)
        parent = snap.areas[parent].parent_code
    return out


def bcu_of(snap: GeographySnapshot, borough: str) -> str | None:
    parent = snap.areas[borough].parent_code
    return (
        parent
        if parent is not None and parent in snap.areas and snap.areas[parent].type == "bcu"
        else None
    )


# -- placement: which group an award's money belongs to -------------------------------------------
#: kinds of place: "london" (London, or the Metropolitan Police District: the code says
#: which), "bcu", "borough", "ward", "no_bcu" (the City at BCU level), "borough_wide" (a
#: borough-wide award at ward level), "unplaced"
Placement = list[tuple[str, str | None, float]]


def placement(g: GrantFact, snap: GeographySnapshot, level: str) -> Placement:
    """Where an award's money goes at ``level`` (borough, ward or bcu): (kind, code, share)."""
    codes = {c for c in g.areas if c in snap.areas}
    if not codes:
        return [("unplaced", None, 1.0)]
    if LONDON in codes:
        return [("london", LONDON, 1.0)]
    widest = [c for c in codes if not any(a in codes for a in ancestors(snap, c))]
    units: list[tuple[str, str | None]] = []
    for code in sorted(widest):
        kind = snap.areas[code].type
        if kind in WIDE_TYPES:
            unit: tuple[str, str | None] = ("london", code)
        elif kind == "bcu":
            unit = ("bcu", code)
        elif level == "ward":
            unit = ("ward", code) if kind == "ward" else ("borough_wide", code)
        else:
            borough = code if kind == "borough" else snap.areas[code].parent_code
            if borough is None or borough not in snap.areas:
                unit = ("unplaced", None)
            elif level == "bcu":
                bcu = bcu_of(snap, borough)
                unit = ("bcu", bcu) if bcu is not None else ("no_bcu", borough)
            else:
                unit = ("borough", borough)
        if unit not in units:
            units.append(unit)
    share = 1.0 / len(units)
    return [(kind, code, share) for kind, code in units]


def placed(data: FundingData, g: GrantFact, snap: GeographySnapshot, level: str) -> Placement:
    key = (g.id, level)
    found = data._placements.get(key)
    if found is None:
        found = data._placements[key] = placement(g, snap, level)
    return found


# -- statistics of a group of awards ------------------------------------------------------------
@dataclass
class Stats:
    awards: int = 0
    pence: float = 0.0
    without_amount: int = 0
    shared: int = 0
    months: list[int | None] = field(default_factory=list)
    soon_awards: int = 0
    soon_pence: float = 0.0

    def add(self, g: GrantFact, flags: dict[str, Any], share: float = 1.0) -> None:
        self.awards += 1
        if g.amount_pence is None:
            self.without_amount += 1
        else:
            self.pence += g.amount_pence * share
        if share < 1.0:
            self.shared += 1
        self.months.append(flags["duration_months"])
        if flags["ending_soon"]:
            self.soon_awards += 1
            self.soon_pence += (g.amount_pence or 0) * share

    def body(self, *, shared: bool = False) -> dict[str, Any]:
        known = sorted(m for m in self.months if m is not None)
        buckets = dict.fromkeys(LENGTH_BUCKETS, 0)
        for m in self.months:
            buckets[_bucket(m)] += 1
        out: dict[str, Any] = {
            "awards": self.awards,
            "amount": pounds(self.pence),
            "awards_without_amount": self.without_amount,
            "median_months": statistics.median(known) if known else None,
            "length_distribution": buckets,
            "share_36_plus": round(buckets["36+"] / len(known), 4) if known else None,
            "ending_soon": {"awards": self.soon_awards, "amount": pounds(self.soon_pence)},
        }
        if shared:
            out["shared_awards"] = self.shared
        return out


def _bucket(months: int | None) -> str:
    if months is None:
        return "unknown"
    if months < 12:
        return "<12"
    if months < 24:
        return "12–23"
    if months < 36:
        return "24–35"
    return "36+"


# -- selection ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    programme: str | None = None
    financial_year: str | None = None
    area: str | None = None  # a resolved code
    live_on: date | None = None
    include_regrants: bool = False
    include_other_programmes: bool = False
    #: spread=planned_dates: with financial_year, each award's share of that year
    #: (funding/years.py)
    spread: bool = False

    def echo(self, snap: GeographySnapshot) -> dict[str, Any]:
        return {
            "programme": self.programme,
            "financial_year": self.financial_year,
            "area": area_ref(snap, self.area) if self.area else None,
            "live_on": self.live_on.isoformat() if self.live_on else None,
            "include_regrants": self.include_regrants,
            "include_other_programmes": self.include_other_programmes,
        }

    @property
    def all_programmes(self) -> bool:
        """Every programme counts: asked for, or one programme is named."""
        return self.include_other_programmes or self.programme is not None


def select_grants(data: FundingData, snap: GeographySnapshot, sel: Selection) -> list[GrantFact]:
    """The awards an answer counts: those passing its filters, less (unless
    ``include_regrants``) the regrants an award they were paid through is counted beside."""
    return split_grants(data, snap, sel)[0]


def filtered_grants(
    data: FundingData, snap: GeographySnapshot, sel: Selection
) -> list[GrantFact]:  # fmt: skip
    """The awards passing an answer's filters, regrants and all; with a financial year and
    the spread, each award's part in that year (its share of the money), those with none
    left out."""
    scope = set(area_scope(snap, sel.area)) if sel.area else None
    year = sel.financial_year
    chosen = [
        g
        for g in data.grants
        if (sel.all_programmes or g.community_safety)
        and (sel.programme is None or g.programme_id == sel.programme)
        and (year is None or sel.spread or g.financial_year == year)
        and (scope is None or not scope.isdisjoint(g.areas))
        and (sel.live_on is None or is_live(g, sel.live_on))
    ]
    if year is None or not sel.spread:
        return chosen
    return [part for g in chosen if (part := year_part(data, g, year)) is not None]


def count_once(grants: list[GrantFact]) -> tuple[list[GrantFact], list[GrantFact]]:
    """``grants`` (one answer's) split into those it counts and the regrants it leaves out:
    a regrant is left out when an award it was paid through (its parent, the parent's
    parent…) is among ``grants``, its money being counted there; a regrant whose every such
    award the answer's filters left out (another year, programme or area) is counted, so an
    answer counts each pound once and never drops one it does not count elsewhere."""
    if not any(g.paid_through for g in grants):
        return grants, []
    ids = {g.id for g in grants}
    counted: list[GrantFact] = []
    left_out: list[GrantFact] = []
    for g in grants:
        if g.paid_through and not ids.isdisjoint(g.paid_through):
            left_out.append(g)
        else:
            counted.append(g)
    return counted, left_out


def split_grants(
    data: FundingData, snap: GeographySnapshot, sel: Selection
) -> tuple[list[GrantFact], list[GrantFact]]:  # fmt: skip
    """The awards an answer counts and the regrants it leaves out (none with
    ``include_regrants``)."""
    chosen = filtered_grants(data, snap, sel)
    return (chosen, []) if sel.include_regrants else count_once(chosen)


def left_out_body(left_out: list[GrantFact]) -> dict[str, Any]:
    """An answer's ``regrants_left_out``."""
    return {"awards": len(left_out), "amount": pounds(sum(g.amount_pence or 0 for g in left_out))}


def selection(
    data: FundingData, snap: GeographySnapshot, *, programme: str | None,
    financial_year_text: str | None, area: str | None, live_on: date | None,
    include_regrants: bool, include_other_programmes: bool = False, spread: bool = False,
) -> Selection:  # fmt: skip
    """The awards an answer counts; a programme that is not held is a 404
    programme-not-found with the closest ones (an empty answer would read as "no money")."""
    if programme is not None and programme not in data.programmes:
        raise unknown_programme(programme, {pid: row.name for pid, row in data.programmes.items()})
    return Selection(
        programme=programme,
        financial_year=financial_year(financial_year_text),
        area=area_code(snap, area),
        live_on=live_on,
        include_regrants=include_regrants,
        include_other_programmes=include_other_programmes,
        spread=spread,
    )


def programmes_answer(data: FundingData, snap: GeographySnapshot, sel: Selection) -> dict[str, Any]:
    """Which programmes an answer counts (the ``programmes`` member): ``counted``
    (community_safety, all, or the programme named), the rule in words, and with the default
    the other programmes' awards left out under the same filters."""
    if sel.programme is not None:
        row = data.programmes.get(sel.programme)
        flag = bool(row is not None and row.community_safety)
        return {"counted": "named", "rule": named_programme_rule(sel.programme, flag)}
    if sel.include_other_programmes:
        return {"counted": "all", "rule": ALL_PROGRAMMES_RULE}
    widened = replace(sel, include_other_programmes=True)
    other = [g for g in select_grants(data, snap, widened) if not g.community_safety]
    return {
        "counted": "community_safety",
        "rule": community_safety_rule_text(),
        "other_programmes": {
            "awards": len(other),
            "amount": pounds(sum(g.amount_pence or 0 for g in other)),
        },
    }


def codes_of_type(snap: GeographySnapshot, kind: str, area: str | None) -> list[str]:
    codes = [c for c, a in snap.areas.items() if a.type == kind]
    if area is not None:
        scope = set(area_scope(snap, area))
        codes = [c for c in codes if c in scope]
    return sorted(codes, key=lambda c: (snap.areas[c].name, c))


def london_key(kind: str, code: str | None) -> tuple[str, str | None]:
    """A placement's group where London-wide money is reported as one (london_wide): the
    Metropolitan Police District's with London's."""
    return ("london", LONDON) if kind == "london" else (kind, code)


def population_of(data: FundingData, snap: GeographySnapshot, code: str) -> int | None:
    """An area's population: its own estimate, or for a BCU, the Metropolitan Police
    District or London the sum over its boroughs (None if any borough has none)."""
    kind = snap.areas[code].type
    if kind == "borough":
        figure = data.population.get(code)
        return figure.value if figure else None
    boroughs = boroughs_in(snap, code)
    values = [data.population.get(b) for b in boroughs]
    if not boroughs or any(v is None for v in values):
        return None
    return sum(v.value for v in values if v is not None)


def boroughs_in(snap: GeographySnapshot, code: str) -> list[str]:
    if snap.areas[code].type == "borough":
        return [code]
    return [c for c in area_scope(snap, code) if snap.areas[c].type == "borough" and c != code]


def population_note(data: FundingData) -> dict[str, Any] | None:
    if not data.population:
        return None
    latest = max(p.reference_date for p in data.population.values())
    sources = sorted({p.source for p in data.population.values() if p.source})
    return {
        "reference_date": latest.isoformat(),
        "source": sources[0] if len(sources) == 1 else sources or None,
    }
