"""Funding transparency use cases: funding summaries, funding against need (population and
recorded crime), programmes with their allocation formulas beside the actual allocations,
outcome summaries, and importing the need figures. No Flask here.

Everything is answered from :class:`FundingData`, read once per data version (the
directory is small: thousands of grants), so a request is dictionary work.

Where an award's money is placed
--------------------------------
An award's beneficiary areas are reduced to the widest ones it names (an area inside
another area it also names adds nothing; an award naming London is London-wide). Then:

- London-wide awards are reported as ``london_wide``, BCU-wide awards per BCU as
  ``bcu_wide``; neither is divided among boroughs unless ``apportion=population`` asks for
  it, and then the rule is stated in the answer;
- an award to wards counts for the wards' boroughs (at borough level);
- an award naming several areas of the same level (three boroughs) counts as an award in
  each, and its amount is divided equally between them (``shared_awards`` says how many of
  a group's awards were shared); so amounts add up to the total and nothing is counted
  twice;
- an award with no London beneficiary area is ``unplaced``;
- a regrant (an award paid through another award the directory holds, e.g. MOPAC → SNB →
  charity) is left out unless ``include_regrants``: its money is already in its parent.
"""

from __future__ import annotations

import statistics
import threading
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from directory.errors import InvalidInputError, NotFoundError, ServiceNotFoundError
from directory.ingest.apply import (
    ImportOptions,
    ImportReport,
    elapsed,
    finish_row,
    now,
    record_failure,
    run_row,
)
from directory.ingest.context import programmes as known_programmes
from directory.ingest.crime import CrimeBatch, looks_like_mps_crime, read_mps_crime
from directory.ingest.population import PopulationBatch, looks_like_population, read_population
from directory.ingest.readers import ReadError, read_table
from directory.ingest.records import Problem
from directory.ingest.values import parse_financial_year
from directory.progress import QUIET, Progress
from directory.settings import Settings
from directory.store.db import Database
from directory.store.repositories.directory import CatalogueQueries, DirectoryRepository
from directory.store.repositories.funding import FundingQueries, NeedRepository
from directory.usecases.catalogue import area_ref, grant_flags
from directory.usecases.geography import CITY_NOTE, LONDON, GeographySnapshot
from directory.usecases.pagination import envelope
from directory.usecases.patch import area_scope, resolve_area
from geodata.sources import data_file

DATA_DIR = Path(__file__).resolve().parent / "data"
#: the import formats of the need figures (``directory import --format``)
NEED_FORMATS = ("mps-crime", "population")
SUMMARY_BY = ("borough", "bcu", "ward", "programme", "financial_year", "organisation")
NEED_LEVELS = ("borough", "bcu")
APPORTION = ("none", "population")
LENGTH_BUCKETS = ("<12", "12–23", "24–35", "36+", "unknown")
CRIME_MONTHS = 12
MAX_STORED_PROBLEMS = 500
#: the shared data files load_reference_data imports (relative to the data directory)
#: the need figures of a data directory: (manifest key, import format, source name)
REFERENCE_FILES = (
    ("population", "population", "ons-population"),
    ("crime", "mps-crime", "mps-borough-crime"),
)

AREA_FILTER_RULE = (
    "With area, the awards counted are those whose beneficiary areas are the area, an area "
    "inside it or an area above it: London-wide and BCU-wide awards reaching the area are "
    "counted in full, not as the area's share. For the area's own share see "
    "/funding/summary?by=borough (london_wide and bcu_wide kept apart) or /funding/need."
)
PLACEMENT_RULE = (
    "Each award's beneficiary areas are reduced to the widest ones it names. London-wide "
    "awards are reported in london_wide and BCU-wide awards in bcu_wide, in full, not divided "
    "among boroughs; awards to wards count for the ward (by=ward) or its borough. An award "
    "naming several areas of the same level counts as an award in each and its amount is "
    "divided equally between them (shared_awards), so amounts add up to the totals. Awards "
    "with no London beneficiary area are in unplaced. Regrants (paid through another award "
    "in the directory) are left out unless include_regrants=true: their money is already "
    "counted in the award they came through."
)
APPORTION_RULE = (
    "apportioned_amount = the area's own amount + London-wide money × the area's share of "
    "London's population + BCU-wide money × the borough's share of its BCU's population "
    "(by=bcu: London-wide money × the BCU's share of London's population; the City of "
    "London's share stays with the City, which is in no BCU). Populations are the latest "
    "loaded estimates. This is an illustration of where pan-London and BCU-wide money might "
    "be spent, not a record of where it was spent."
)


class ProgrammeNotFoundError(NotFoundError):
    code = "programme-not-found"
    title = "No such programme"


# -- the data, once per data version ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GrantFact:
    id: int
    ref: str
    programme_id: str | None
    programme_name: str | None
    recipient_ref: str
    recipient_name: str
    funder_ref: str
    amount_pence: int | None
    start: date | None
    end: date | None
    duration_months: int | None
    financial_year: str | None
    areas: tuple[str, ...]
    regrant: bool
    demo: bool


@dataclass(frozen=True)
class CrimeFigures:
    totals: dict[str, int]  # area code → offences in the period
    months: dict[str, int]  # area code → months with figures in the period
    first: date
    last: date

    def period(self) -> dict[str, Any]:
        return {
            "start": self.first.isoformat()[:7],
            "end": self.last.isoformat()[:7],
            "months": _month_index(self.last) - _month_index(self.first) + 1,
        }


@dataclass(frozen=True)
class PopulationFigure:
    value: int
    reference_date: date
    source: str | None


@dataclass
class FundingData:
    grants: list[GrantFact]
    programmes: dict[str, Any]
    population: dict[str, PopulationFigure]
    crime: CrimeFigures | None
    _placements: dict[tuple[int, str], list[tuple[str, str | None, float]]] = field(
        default_factory=dict
    )

    @classmethod
    def read(cls, q: FundingQueries) -> FundingData:
        areas: dict[int, list[str]] = defaultdict(list)
        for gid, code in q.grant_areas():
            areas[gid].append(code)
        rows = q.grants()
        refs = {r.ref for r in rows}
        grants = [
            GrantFact(
                id=r.id, ref=r.ref, programme_id=r.programme_id, programme_name=r.programme_name,
                recipient_ref=r.recipient_ref, recipient_name=r.recipient_name,
                funder_ref=r.funder_ref, amount_pence=r.amount_pence, start=r.start, end=r.end,
                duration_months=r.duration_months, financial_year=r.financial_year,
                areas=tuple(areas.get(r.id, ())),
                regrant=r.parent_ref is not None and r.parent_ref in refs and r.parent_ref != r.ref,
                demo=bool(r.demo),
            )
            for r in rows
        ]  # fmt: skip
        population: dict[str, PopulationFigure] = {}
        for p in q.populations():  # newest last: the latest estimate wins
            population[p.area_code] = PopulationFigure(p.all_ages, p.reference_date, p.source)
        crime = None
        months = q.crime_months()
        if months:
            last = months[-1]
            first = _add_months(last, -(CRIME_MONTHS - 1))
            totals = q.crime_totals(first, last)
            crime = CrimeFigures(
                {r.area_code: int(r.offences) for r in totals},
                {r.area_code: int(r.months) for r in totals},
                max(first, months[0]),
                last,
            )
        return cls(grants, {p.id: p for p in q.programmes()}, population, crime)


class FundingCache:
    """The FundingData of the current data version, for one application."""

    def __init__(self) -> None:
        self._key: Any = None
        self._data: FundingData | None = None
        self._lock = threading.Lock()

    def get(self, version: Any, q: FundingQueries) -> FundingData:
        key = (version.id, version.loaded_at)
        data = self._data
        if data is not None and self._key == key:
            return data
        with self._lock:
            if self._data is None or self._key != key:
                self._data = FundingData.read(q)
                self._key = key
            return self._data


# -- small helpers -------------------------------------------------------------------------------
def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _add_months(day: date, months: int) -> date:
    year, month = divmod(_month_index(day) + months, 12)
    return date(year, month + 1, 1)


def _pounds(pence: float) -> float:
    return round(pence / 100, 2)


def _rate(numerator: float | None, denominator: float | None, per: int = 1000) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator * per, 2)


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or not b:
        return None
    return round(a / b, 3)


def is_live(g: Any, day: date) -> bool:
    """Live on ``day``: started on or before it and not ended before it (a missing start or
    end is open, as in the patch's funding summary)."""
    return (g.start is None or g.start <= day) and (g.end is None or day <= g.end)


def financial_year(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return parse_financial_year(text)
    except ValueError as error:
        raise InvalidInputError(str(error), errors={"financial_year": [str(error)]}) from None


def _check_choice(name: str, value: str, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value not in choices:
        message = f"Must be one of: {', '.join(choices)}."
        raise InvalidInputError(f"{name}: {message}", errors={name: [message]})


def _area_code(snap: GeographySnapshot, text: str | None) -> str | None:
    return None if text is None else resolve_area(snap, text)


def _ancestors(snap: GeographySnapshot, code: str) -> list[str]:
    out = []
    parent = snap.areas[code].parent_code
    while parent is not None and parent in snap.areas:
        out.append(parent)
        parent = snap.areas[parent].parent_code
    return out


def _bcu_of(snap: GeographySnapshot, borough: str) -> str | None:
    parent = snap.areas[borough].parent_code
    return (
        parent
        if parent is not None and parent in snap.areas and snap.areas[parent].type == "bcu"
        else None
    )


# -- placement: which group an award's money belongs to -------------------------------------------
#: kinds of place: "london", "bcu", "borough", "ward", "no_bcu" (the City at BCU level),
#: "borough_wide" (a borough-wide award at ward level), "unplaced"
Placement = list[tuple[str, str | None, float]]


def placement(g: GrantFact, snap: GeographySnapshot, level: str) -> Placement:
    """Where an award's money goes at ``level`` (borough, ward or bcu): (kind, code, share)."""
    codes = {c for c in g.areas if c in snap.areas}
    if not codes:
        return [("unplaced", None, 1.0)]
    if LONDON in codes:
        return [("london", LONDON, 1.0)]
    widest = [c for c in codes if not any(a in codes for a in _ancestors(snap, c))]
    units: list[tuple[str, str | None]] = []
    for code in sorted(widest):
        kind = snap.areas[code].type
        if kind == "region":
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
                bcu = _bcu_of(snap, borough)
                unit = ("bcu", bcu) if bcu is not None else ("no_bcu", borough)
            else:
                unit = ("borough", borough)
        if unit not in units:
            units.append(unit)
    share = 1.0 / len(units)
    return [(kind, code, share) for kind, code in units]


def _placed(data: FundingData, g: GrantFact, snap: GeographySnapshot, level: str) -> Placement:
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
            "amount": _pounds(self.pence),
            "awards_without_amount": self.without_amount,
            "median_months": statistics.median(known) if known else None,
            "length_distribution": buckets,
            "share_36_plus": round(buckets["36+"] / len(known), 4) if known else None,
            "ending_soon": {"awards": self.soon_awards, "amount": _pounds(self.soon_pence)},
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

    def echo(self, snap: GeographySnapshot) -> dict[str, Any]:
        return {
            "programme": self.programme,
            "financial_year": self.financial_year,
            "area": area_ref(snap, self.area) if self.area else None,
            "live_on": self.live_on.isoformat() if self.live_on else None,
            "include_regrants": self.include_regrants,
        }


def select_grants(data: FundingData, snap: GeographySnapshot, sel: Selection) -> list[GrantFact]:
    scope = set(area_scope(snap, sel.area)) if sel.area else None
    return [
        g
        for g in data.grants
        if (sel.include_regrants or not g.regrant)
        and (sel.programme is None or g.programme_id == sel.programme)
        and (sel.financial_year is None or g.financial_year == sel.financial_year)
        and (scope is None or not scope.isdisjoint(g.areas))
        and (sel.live_on is None or is_live(g, sel.live_on))
    ]


def _selection(
    snap: GeographySnapshot, *, programme: str | None, financial_year_text: str | None,
    area: str | None, live_on: date | None, include_regrants: bool,
) -> Selection:  # fmt: skip
    return Selection(
        programme=programme,
        financial_year=financial_year(financial_year_text),
        area=_area_code(snap, area),
        live_on=live_on,
        include_regrants=include_regrants,
    )


def _codes_of_type(snap: GeographySnapshot, kind: str, area: str | None) -> list[str]:
    codes = [c for c, a in snap.areas.items() if a.type == kind]
    if area is not None:
        scope = set(area_scope(snap, area))
        codes = [c for c in codes if c in scope]
    return sorted(codes, key=lambda c: (snap.areas[c].name, c))


def _population_of(data: FundingData, snap: GeographySnapshot, code: str) -> int | None:
    """An area's population: its own estimate, or for a BCU or London the sum over its
    boroughs (None if any borough has none)."""
    kind = snap.areas[code].type
    if kind == "borough":
        figure = data.population.get(code)
        return figure.value if figure else None
    boroughs = _boroughs_in(snap, code)
    values = [data.population.get(b) for b in boroughs]
    if not boroughs or any(v is None for v in values):
        return None
    return sum(v.value for v in values if v is not None)


def _boroughs_in(snap: GeographySnapshot, code: str) -> list[str]:
    if snap.areas[code].type == "borough":
        return [code]
    return [c for c in area_scope(snap, code) if snap.areas[c].type == "borough" and c != code]


def _population_note(data: FundingData) -> dict[str, Any] | None:
    if not data.population:
        return None
    latest = max(p.reference_date for p in data.population.values())
    sources = sorted({p.source for p in data.population.values() if p.source})
    return {
        "reference_date": latest.isoformat(),
        "source": sources[0] if len(sources) == 1 else sources or None,
    }


# -- GET /funding/summary ----------------------------------------------------------------------
def funding_summary(
    data: FundingData, snap: GeographySnapshot, settings: Settings, today: date, *,
    by: str, programme: str | None = None, financial_year_text: str | None = None,
    area: str | None = None, live_on: date | None = None, apportion: str = "none",
    include_regrants: bool = False,
) -> dict[str, Any]:  # fmt: skip
    _check_choice("by", by, SUMMARY_BY)
    _check_choice("apportion", apportion, APPORTION)
    if apportion == "population" and by not in ("borough", "bcu"):
        message = (
            "apportion=population applies to by=borough or by=bcu (there are no ward populations)."
        )
        raise InvalidInputError(message, errors={"apportion": [message]})
    sel = _selection(snap, programme=programme, financial_year_text=financial_year_text,
                     area=area, live_on=live_on, include_regrants=include_regrants)  # fmt: skip
    grants = select_grants(data, snap, sel)
    flags = {g.id: grant_flags(g, today, settings) for g in grants}
    totals = Stats()
    for g in grants:
        totals.add(g, flags[g.id])
    answer: dict[str, Any] = {
        "by": by,
        "filters": sel.echo(snap),
        "today": today.isoformat(),
        "ending_soon_days": settings.ending_soon_days,
        "totals": totals.body(),
    }
    if not include_regrants:
        widened = Selection(sel.programme, sel.financial_year, sel.area, sel.live_on, True)
        left_out = [g for g in select_grants(data, snap, widened) if g.regrant]
        answer["regrants_left_out"] = {
            "awards": len(left_out),
            "amount": _pounds(sum(g.amount_pence or 0 for g in left_out)),
        }
    if by in ("programme", "financial_year", "organisation"):
        answer["groups"] = _simple_groups(grants, flags, by)
        if sel.area is not None:
            answer["rule"] = AREA_FILTER_RULE
        return answer
    answer["rule"] = PLACEMENT_RULE
    answer.update(_area_groups(data, grants, flags, snap, by, sel.area, apportion))
    return answer


def _simple_groups(grants: list[GrantFact], flags: dict[int, Any], by: str) -> list[dict[str, Any]]:
    groups: dict[Any, Stats] = defaultdict(Stats)
    labels: dict[Any, Any] = {}
    for g in grants:
        if by == "programme":
            key: Any = g.programme_id
            labels[key] = (
                {"id": g.programme_id, "name": g.programme_name} if g.programme_id else None
            )
        elif by == "financial_year":
            key = g.financial_year
            labels[key] = g.financial_year
        else:
            key = g.recipient_ref
            labels[key] = {"ref": g.recipient_ref, "name": g.recipient_name}
        groups[key].add(g, flags[g.id])
    if by == "financial_year":
        order = sorted(groups, key=lambda k: (k is None, k or ""))
    else:
        order = sorted(groups, key=lambda k: (-groups[k].pence, k is None, str(k)))
    member = {
        "programme": "programme",
        "financial_year": "financial_year",
        "organisation": "organisation",
    }[by]
    return [{member: labels[k], **groups[k].body()} for k in order]


def _area_groups(
    data: FundingData, grants: list[GrantFact], flags: dict[int, Any], snap: GeographySnapshot,
    by: str, area: str | None, apportion: str,
) -> dict[str, Any]:  # fmt: skip
    groups: dict[tuple[str, str | None], Stats] = defaultdict(Stats)
    for g in grants:
        for kind, code, share in _placed(data, g, snap, by):
            groups[(kind, code)].add(g, flags[g.id], share)
    london = groups.get(("london", LONDON), Stats())
    bcu_wide = {code: s for (kind, code), s in groups.items() if kind == "bcu" and by != "bcu"}
    out: dict[str, Any] = {}
    main_kind = {"borough": "borough", "ward": "ward", "bcu": "bcu"}[by]
    if by == "ward":
        codes = sorted(
            (c for (k, c) in groups if k == "ward" and c is not None),
            key=lambda c: (snap.areas[c].name, c),
        )
    else:
        codes = _codes_of_type(snap, main_kind, area)
    rows = []
    for code in codes:
        stats = groups.get((main_kind, code), Stats())
        rows.append({"area": area_ref(snap, code), **stats.body(shared=True)})
    member = {"borough": "boroughs", "ward": "wards", "bcu": "bcus"}[by]
    out[member] = rows
    if by == "ward":
        out["borough_wide"] = [
            {"area": area_ref(snap, c), **s.body(shared=True)}
            for (k, c), s in sorted(
                groups.items(), key=lambda i: snap.areas[i[0][1]].name if i[0][1] else ""
            )
            if k == "borough_wide" and c
        ]
    if by != "bcu":
        out["bcu_wide"] = [
            {"area": area_ref(snap, c), **s.body(shared=True)}
            for c, s in sorted(
                bcu_wide.items(), key=lambda i: snap.areas[i[0]].name if i[0] else ""
            )
            if c is not None
        ]
    else:
        out["not_in_a_bcu"] = [
            {"area": area_ref(snap, c), "note": CITY_NOTE, **s.body(shared=True)}
            for (k, c), s in groups.items() if k == "no_bcu" and c is not None
        ]  # fmt: skip
    out["london_wide"] = london.body()
    out["unplaced"] = groups.get(("unplaced", None), Stats()).body()
    out["apportionment"] = _apportion(data, snap, out, by, london, bcu_wide, apportion)
    return out


def _apportion(
    data: FundingData, snap: GeographySnapshot, out: dict[str, Any], by: str, london: Stats,
    bcu_wide: dict[str | None, Stats], apportion: str,
) -> dict[str, Any]:  # fmt: skip
    if apportion != "population":
        return {
            "method": "none",
            "rule": "Nothing is apportioned: London-wide and BCU-wide money is reported at its "
            "own scope only. Ask apportion=population (by=borough or by=bcu) to divide it by "
            "population share.",
        }
    london_pop = _population_of(data, snap, LONDON)
    if london_pop is None:
        for row in out.get("boroughs", out.get("bcus", [])):
            row["apportioned_amount"] = None
        return {
            "method": "population",
            "available": False,
            "rule": "Population figures are not loaded for every borough, so nothing could be "
            "apportioned: import them with `directory import FILE --format population`.",
        }
    rows = out["boroughs"] if by == "borough" else out["bcus"] + out["not_in_a_bcu"]
    for row in rows:
        code = row["area"]["code"]
        pop = _population_of(data, snap, code) or 0
        pence = row["amount"] * 100 + london.pence * pop / london_pop
        if by == "borough":
            bcu = _bcu_of(snap, code)
            if bcu is not None and bcu in bcu_wide:
                bcu_pop = _population_of(data, snap, bcu)
                if bcu_pop:
                    pence += bcu_wide[bcu].pence * pop / bcu_pop
        row["apportioned_amount"] = _pounds(pence)
    return {
        "method": "population",
        "available": True,
        "rule": APPORTION_RULE,
        "population": _population_note(data),
        "london_population": london_pop,
    }


# -- GET /funding/need -------------------------------------------------------------------------
def funding_need(
    data: FundingData, snap: GeographySnapshot, settings: Settings, today: date, *,
    level: str, programme: str | None = None, financial_year_text: str | None = None,
    apportion: str = "none", include_regrants: bool = False,
) -> dict[str, Any]:  # fmt: skip
    _check_choice("level", level, NEED_LEVELS)
    summary = funding_summary(
        data, snap, settings, today, by=level, programme=programme,
        financial_year_text=financial_year_text, apportion=apportion,
        include_regrants=include_regrants,
    )  # fmt: skip
    member = "boroughs" if level == "borough" else "bcus"
    basis = "apportioned_amount" if apportion == "population" else "amount"
    rows = []
    for source in summary[member]:
        code = source["area"]["code"]
        population = _population_of(data, snap, code)
        offences, months = _offences_of(data, snap, code)
        amount = source.get(basis)
        row: dict[str, Any] = {
            "area": source["area"],
            "awards": source["awards"],
            "amount": source["amount"],
        }
        if basis == "apportioned_amount":
            row["apportioned_amount"] = amount
        row.update(
            population=population,
            offences=offences,
            per_1000_residents=_rate(amount, population),
            per_1000_offences=_rate(amount, offences),
        )
        notes = []
        if code == "E09000001":
            notes.append(CITY_NOTE + " Met Police crime figures do not include it.")
        if offences is not None and data.crime and months < data.crime.period()["months"]:
            notes.append(f"Crime figures cover {months} of the period's months.")
        if notes:
            row["note"] = " ".join(notes)
        rows.append(row)
    with_pop = [r for r in rows if r["population"] is not None]
    with_crime = [r for r in rows if r["offences"] is not None]
    total_amount = sum(_amount(r, basis) for r in rows)
    london_pop = sum(r["population"] for r in with_pop) if with_pop else None
    london_offences = sum(r["offences"] for r in with_crime) if with_crime else None
    average = {
        "amount": round(total_amount, 2),
        "population": london_pop,
        "offences": london_offences,
        "per_1000_residents": _rate(sum(_amount(r, basis) for r in with_pop), london_pop),
        "per_1000_offences": _rate(sum(_amount(r, basis) for r in with_crime), london_offences),
    }
    for row in rows:
        row["vs_london"] = {
            "per_1000_residents": _ratio(row["per_1000_residents"], average["per_1000_residents"]),
            "per_1000_offences": _ratio(row["per_1000_offences"], average["per_1000_offences"]),
        }
    _rank(rows, basis)
    answer: dict[str, Any] = {
        "level": level,
        "filters": summary["filters"],
        "basis": basis,
        "areas": rows,
        "london": average,
        "periods": {
            "population": _population_note(data),
            "offences": data.crime.period() if data.crime else None,
            "funding": summary["filters"]["financial_year"] or "all financial years",
        },
        "wider_awards": {
            "london_wide": {k: summary["london_wide"][k] for k in ("awards", "amount")},
            "unplaced": {k: summary["unplaced"][k] for k in ("awards", "amount")},
        },
        "rule": _need_rule(level, basis),
        "ranking": "rank 1 is the highest; equal values share a rank; areas without the figure "
        "are not ranked (null).",
        "apportionment": summary["apportionment"],
    }
    if level == "borough":
        answer["wider_awards"]["bcu_wide"] = [
            {"area": b["area"], "awards": b["awards"], "amount": b["amount"]}
            for b in summary["bcu_wide"]
        ]
    else:
        answer["wider_awards"]["not_in_a_bcu"] = [
            {"area": b["area"], "awards": b["awards"], "amount": b["amount"], "note": b["note"]}
            for b in summary["not_in_a_bcu"]
        ]
    if data.crime is None:
        answer["notes"] = ["No crime figures are loaded: import the Met's borough-level crime "
                           "file with `directory import FILE --format mps-crime`."]  # fmt: skip
    if not data.population:
        answer.setdefault("notes", []).append(
            "No population figures are loaded: import them with "
            "`directory import FILE --format population`."
        )
    return answer


def _amount(row: dict[str, Any], basis: str) -> float:
    return row.get(basis) or 0.0


def _offences_of(data: FundingData, snap: GeographySnapshot, code: str) -> tuple[int | None, int]:
    if data.crime is None:
        return None, 0
    boroughs = _boroughs_in(snap, code)
    found = [b for b in boroughs if b in data.crime.totals]
    if not found:
        return None, 0
    return sum(data.crime.totals[b] for b in found), min(data.crime.months[b] for b in found)


def _need_rule(level: str, basis: str) -> str:
    where = (
        "awards whose beneficiary areas are the borough or its wards"
        if level == "borough"
        else "awards whose beneficiary areas are the BCU, its boroughs or their wards"
    )
    money = (
        "London-wide and BCU-wide money is apportioned by population share (see apportionment)"
        if basis == "apportioned_amount"
        else "London-wide"
        + (" and BCU-wide" if level == "borough" else "")
        + " money is not included (see wider_awards; apportion=population divides it by population)"
    )
    return (
        f"amount: {where} (shared awards divided equally); {money}. per_1000_residents = "
        f"{basis} ÷ population × 1,000; per_1000_offences = {basis} ÷ recorded offences in the "
        "offences period × 1,000. Recorded offences are every category in the Met's "
        "borough-level file over the latest 12 loaded months. The funding period (financial "
        "year filter, or all years) and the population and crime periods differ: see periods."
    )


def _rank(rows: list[dict[str, Any]], basis: str) -> None:
    measures = {
        "amount": lambda r: r.get(basis),
        "per_1000_residents": lambda r: r["per_1000_residents"],
        "per_1000_offences": lambda r: r["per_1000_offences"],
        "population": lambda r: r["population"],
        "offences": lambda r: r["offences"],
    }
    for row in rows:
        row["rank"] = {}
    for name, value_of in measures.items():
        values = sorted((v for r in rows if (v := value_of(r)) is not None), reverse=True)
        for row in rows:
            value = value_of(row)
            row["rank"][name] = None if value is None else values.index(value) + 1


# -- programmes and their formulas -------------------------------------------------------------
@cache
def formulas() -> dict[str, dict[str, Any]]:
    """The allocation formulas documented in directory/data/formulas.toml, by programme id."""
    with (DATA_DIR / "formulas.toml").open("rb") as handle:
        data = tomllib.load(handle)
    return dict(data.get("programme", {}))


def _programme_info(data: FundingData, programme_id: str) -> dict[str, Any] | None:
    row = data.programmes.get(programme_id)
    known = {p.id: p for p in known_programmes()}
    if row is not None:
        return {"id": row.id, "name": row.name, "funder_ref": row.funder_ref,
                "description": row.description, "stored_formula": row.formula}  # fmt: skip
    if programme_id in known:
        p = known[programme_id]
        return {"id": p.id, "name": p.name, "funder_ref": p.funder_ref,
                "description": p.description, "stored_formula": None}  # fmt: skip
    if programme_id in formulas():
        f = formulas()[programme_id]
        return {"id": programme_id, "name": f.get("name", programme_id), "funder_ref": None,
                "description": None, "stored_formula": None}  # fmt: skip
    return None


def _formula_of(info: dict[str, Any]) -> dict[str, Any] | None:
    documented = formulas().get(info["id"])
    if documented is not None:
        return {**documented, "documented_in": "directory/data/formulas.toml"}
    if info.get("stored_formula"):
        return {**info["stored_formula"], "documented_in": "programme.formula (from a source)"}
    return None


def list_programmes(
    data: FundingData, *, page: int, per_page: int, include_regrants: bool = False
) -> dict[str, Any]:
    ids = set(data.programmes) | {p.id for p in known_programmes()} | set(formulas())
    stats: dict[str, list[GrantFact]] = defaultdict(list)
    for g in data.grants:
        if g.programme_id and (include_regrants or not g.regrant):
            stats[g.programme_id].append(g)
    items = []
    for pid in ids:
        info = _programme_info(data, pid)
        if info is None:  # pragma: no cover - every id comes from one of the sources
            continue
        grants = stats.get(pid, [])
        years = sorted({g.financial_year for g in grants if g.financial_year})
        formula = formulas().get(pid)
        items.append({
            "id": pid,
            "name": info["name"],
            "funder_ref": info["funder_ref"],
            "description": info["description"],
            "awards": len(grants),
            "amount": _pounds(sum(g.amount_pence or 0 for g in grants)),
            "financial_years": {"first": years[0], "last": years[-1]} if years else None,
            "allocation": formula.get("allocation") if formula else None,
            "formula_documented": formula is not None,
            "url": f"/api/v1/programmes/{pid}",
        })  # fmt: skip
    items.sort(key=lambda i: (-i["amount"], i["id"]))
    total = len(items)
    return envelope(items[(page - 1) * per_page : page * per_page], total_items=total, page=page,
                    per_page=per_page)  # fmt: skip


def programme_detail(
    data: FundingData, snap: GeographySnapshot, settings: Settings, today: date,
    programme_id: str, *, include_regrants: bool = False,
) -> dict[str, Any]:  # fmt: skip
    info = _programme_info(data, programme_id)
    if info is None:
        raise ProgrammeNotFoundError(
            f"No programme has the id {programme_id!r}; see GET /api/v1/programmes."
        )
    grants = [
        g for g in data.grants
        if g.programme_id == programme_id and (include_regrants or not g.regrant)
    ]  # fmt: skip
    allocations = _allocations(data, snap, grants, today, settings)
    years = sorted({g.financial_year for g in grants}, key=lambda y: (y is None, y or ""))
    allocations["by_financial_year"] = [
        {
            "financial_year": year,
            **_allocations(
                data,
                snap,
                [g for g in grants if g.financial_year == year],
                today,
                settings,
                compact=True,
            ),
        }  # fmt: skip
        for year in years
    ]
    return {
        "programme": {k: v for k, v in info.items() if k != "stored_formula"},
        "formula": _formula_of(info),
        "allocations": allocations,
        "rule": PLACEMENT_RULE,
        "comparison": "Each borough's share of the money placed in boroughs, beside its share "
        "of London's population and of recorded offences (latest loaded figures), so the "
        "allocation can be compared with what the formula says it weighs.",
        "periods": {
            "population": _population_note(data),
            "offences": data.crime.period() if data.crime else None,
        },
    }


def _allocations(
    data: FundingData, snap: GeographySnapshot, grants: list[GrantFact], today: date,
    settings: Settings, *, compact: bool = False,
) -> dict[str, Any]:  # fmt: skip
    flags = {g.id: grant_flags(g, today, settings) for g in grants}
    groups: dict[tuple[str, str | None], Stats] = defaultdict(Stats)
    totals = Stats()
    for g in grants:
        totals.add(g, flags[g.id])
        for kind, code, share in _placed(data, g, snap, "borough"):
            groups[(kind, code)].add(g, flags[g.id], share)

    def brief(s: Stats) -> dict[str, Any]:
        return {"awards": s.awards, "amount": _pounds(s.pence), "shared_awards": s.shared}

    borough_codes = _codes_of_type(snap, "borough", None)
    placed_pence = sum(
        groups[("borough", c)].pence for c in borough_codes if ("borough", c) in groups
    )
    crime_total = sum(data.crime.totals.values()) if data.crime else 0
    london_pop = _population_of(data, snap, LONDON)
    boroughs = []
    for code in borough_codes:
        s = groups.get(("borough", code))
        if compact and s is None:
            continue
        s = s or Stats()
        row: dict[str, Any] = {"area": area_ref(snap, code), **brief(s)}
        if not compact:
            population = _population_of(data, snap, code)
            offences = data.crime.totals.get(code) if data.crime else None
            row["share_of_borough_money"] = (
                round(s.pence / placed_pence, 4) if placed_pence else None
            )
            row["population_share"] = _ratio(population, london_pop) if population else None
            row["offences_share"] = (
                round(offences / crime_total, 4) if offences is not None and crime_total else None
            )
        boroughs.append(row)
    bcus = [
        {"area": area_ref(snap, c), **brief(s)}
        for (k, c), s in sorted(groups.items(), key=lambda i: str(i[0][1])) if k == "bcu" and c
    ]  # fmt: skip
    out: dict[str, Any] = {
        "totals": totals.body() if not compact else brief(totals),
        "london_wide": brief(groups.get(("london", LONDON), Stats())),
        "bcu_wide": bcus,
        "boroughs": boroughs,
        "unplaced": brief(groups.get(("unplaced", None), Stats())),
    }
    return out


# -- outcomes ---------------------------------------------------------------------------------
def _outcome_body(row: Any) -> dict[str, Any]:
    met = None if row.value is None or row.target is None else row.value >= row.target
    return {
        "metric": row.metric,
        "period": {
            "start": row.period_start.isoformat() if row.period_start else None,
            "end": row.period_end.isoformat() if row.period_end else None,
        },
        "value": row.value,
        "target": row.target,
        "unit": row.unit,
        "met_target": met,
        "report": {"type": row.report_type, "url": row.report_url},
        "demo": row.demo,
    }


def service_outcomes(fq: FundingQueries, cq: CatalogueQueries, key: str) -> dict[str, Any]:
    service_id = cq.service_id(key)
    service = fq.service(service_id) if service_id is not None else None
    if service is None:
        raise ServiceNotFoundError(f"No service has the id or ref {key!r}.")
    outcomes = [_outcome_body(r) for r in fq.outcomes_of(service.id)]
    return {
        "service": {
            "id": service.id,
            "ref": service.ref,
            "name": service.name,
            "withdrawn": service.withdrawn_at is not None,
            "url": f"/api/v1/services/{service.id}",
        },  # fmt: skip
        "outcomes": outcomes,
        "counts": _outcome_counts(outcomes),
        "rule": "met_target: value ≥ target (null when either is missing). Outcomes are "
        "reported by the provider or funder; report.type is interim or final.",
    }


def _outcome_counts(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    with_target = [o for o in outcomes if o["met_target"] is not None]
    met = sum(1 for o in with_target if o["met_target"])
    return {
        "outcomes": len(outcomes),
        "with_target": len(with_target),
        "met_target": met,
        "not_met": len(with_target) - met,
        "share_met": round(met / len(with_target), 4) if with_target else None,
    }


def outcomes_summary(
    fq: FundingQueries, snap: GeographySnapshot, *, by: str, area: str | None = None
) -> dict[str, Any]:
    _check_choice("by", by, ("borough", "theme"))
    code = _area_code(snap, area)
    scope = set(area_scope(snap, code)) if code else None
    rows = fq.listed_outcomes()
    service_ids = sorted({r.service_id for r in rows})
    places = fq.service_places(service_ids)
    if scope is not None:
        rows = [r for r in rows if not scope.isdisjoint(places.get(r.service_id, ()))]
        service_ids = sorted({r.service_id for r in rows})
    groups: dict[tuple[str, str | None], list[Any]] = defaultdict(list)
    if by == "theme":
        themes = fq.service_themes(service_ids)
        for r in rows:
            for theme in themes.get(r.service_id) or [None]:
                groups[("theme", theme)].append(r)
    else:
        for r in rows:
            for kind, key in _service_units(snap, places.get(r.service_id, set())):
                groups[(kind, key)].append(r)
    answer: dict[str, Any] = {
        "by": by,
        "area": area_ref(snap, code) if code else None,
        "totals": _outcome_group(rows),
    }
    if by == "theme":
        names = fq.theme_names()
        answer["themes"] = [
            {"theme": {"id": t, "name": names.get(t, t)} if t else None, **_outcome_group(g)}
            for (_, t), g in sorted(groups.items(), key=lambda i: (i[0][1] is None, i[0][1] or ""))
        ]
    else:

        def listed(kind: str) -> list[dict[str, Any]]:
            found = [(c, g) for (k, c), g in groups.items() if k == kind and c]
            found.sort(key=lambda i: snap.areas[i[0]].name if i[0] in snap.areas else i[0])
            return [{"area": area_ref(snap, c), **_outcome_group(g)} for c, g in found]

        answer["boroughs"] = listed("borough")
        answer["bcu_wide"] = listed("bcu")
        answer["london_wide"] = _outcome_group(groups.get(("london", LONDON), []))
        answer["unplaced"] = _outcome_group(groups.get(("unplaced", None), []))
        answer["rule"] = (
            "A service's outcomes count for every borough it serves or has a site in (its "
            "wards count for their borough); services for all of London or a whole BCU are "
            "reported in london_wide and bcu_wide, not repeated under every borough."
        )
    return answer


def _service_units(snap: GeographySnapshot, codes: set[str]) -> set[tuple[str, str | None]]:
    known = {c for c in codes if c in snap.areas}
    if not known:
        return {("unplaced", None)}
    units: set[tuple[str, str | None]] = set()
    for code in known:
        kind = snap.areas[code].type
        if kind == "region":
            units.add(("london", LONDON))
        elif kind == "bcu":
            units.add(("bcu", code))
        elif kind == "borough":
            units.add(("borough", code))
        else:
            parent = snap.areas[code].parent_code
            units.add(("borough", parent) if parent else ("unplaced", None))
    return units


def _outcome_group(rows: list[Any]) -> dict[str, Any]:
    bodies = [_outcome_body(r) for r in rows]
    metrics: dict[tuple[str, str | None], list[dict[str, Any]]] = defaultdict(list)
    for body in bodies:
        metrics[(body["metric"], body["unit"])].append(body)
    evaluations: dict[str, dict[str, Any]] = {}
    for r, body in zip(rows, bodies, strict=True):
        url = body["report"]["url"]
        if url and url not in evaluations:
            evaluations[url] = {
                "url": url, "type": body["report"]["type"],
                "service": {"id": r.service_id, "ref": r.service_ref, "name": r.service_name},
                "period": body["period"],
            }  # fmt: skip
    return {
        "services": len({r.service_id for r in rows}),
        **_outcome_counts(bodies),
        "metrics": [
            {
                "metric": m,
                "unit": u,
                "targets": sorted({b["target"] for b in bs if b["target"] is not None}),
                **{k: v for k, v in _outcome_counts(bs).items() if k != "share_met"},
            }  # fmt: skip
            for (m, u), bs in sorted(metrics.items(), key=lambda i: (i[0][0], i[0][1] or ""))
        ],
        "evaluations": list(evaluations.values()),
    }


# -- importing the need figures ---------------------------------------------------------------
def detect_need_format(keys: list[str]) -> str | None:
    """``mps-crime`` or ``population`` for a table with their columns, else None."""
    if looks_like_mps_crime(keys):
        return "mps-crime"
    if looks_like_population(keys):
        return "population"
    return None


def import_need(
    db: Database,
    snap: GeographySnapshot,
    data: bytes,
    name: str,
    options: ImportOptions,
    *,
    progress: Progress = QUIET,
) -> ImportReport:
    """Read an MPS crime or population file and write it all or nothing, recorded as an
    import run with a data release (so ETags and caches move). A crime file replaces the
    months it covers; a population file the (area, reference date) pairs it lists. The same
    file again changes nothing (``unchanged``, no new release). ``progress`` is told the
    comparison and the writing (its rows); the reading belongs to the caller's step."""
    started = now()
    clock = datetime.now()
    batch: CrimeBatch | PopulationBatch
    try:
        table = read_table(data, name=name)
    except ReadError as error:
        return record_failure(db, options, started, clock, [Problem(str(error))], {})
    batch = (
        read_mps_crime(table, snap)
        if options.format == "mps-crime"
        else read_population(table, snap)
    )
    problems = list(batch.problems)
    if batch.errors:
        return record_failure(db, options, started, clock, problems, {})
    what = "crime counts" if isinstance(batch, CrimeBatch) else "populations"
    with db.session() as session:
        progress.step(f"{options.source}: comparing {what} with the database")
        repo = NeedRepository(session)
        if isinstance(batch, CrimeBatch):
            counts, write = _plan_crime(repo, batch)
        else:
            counts, write = _plan_population(repo, batch)
        changed = any(counts.get(key) for key in ("created", "updated", "deleted"))
        report_counts = {"crime_counts" if isinstance(batch, CrimeBatch) else "populations": counts}
        if options.dry_run:
            session.rollback()
            return ImportReport("dry-run", None, report_counts, problems, 0, elapsed(clock))
        directory = DirectoryRepository(session)
        run_id = directory.add_run(run_row(options, started))
        status = "unchanged"
        if changed:
            rows = sum(counts.get(key, 0) for key in ("created", "updated", "unchanged"))
            progress.step(f"{options.source}: writing {what}", total=rows)
            write(run_id)
            progress.advance(rows)
            status = "succeeded"
            directory.add_data_release(
                label=f"import #{run_id} ({options.source}, {options.format})",
                checksum=options.checksum,
                details={
                    "source": options.source,
                    "format": options.format,
                    "counts": report_counts,
                },
                at=started,
            )
        directory.finish_run(run_id, finish_row(status, report_counts, problems))
    return ImportReport(status, run_id, report_counts, problems, 0, elapsed(clock))


def _plan_crime(
    repo: NeedRepository, batch: CrimeBatch
) -> tuple[dict[str, int], Callable[[int], None]]:
    existing = repo.crime_counts(batch.months)
    new = {(r.area_code, r.month, r.major_category, r.minor_category): r.count for r in batch.rows}
    counts = {
        "created": sum(1 for k in new if k not in existing),
        "updated": sum(1 for k, v in new.items() if k in existing and existing[k] != v),
        "unchanged": sum(1 for k, v in new.items() if existing.get(k) == v),
        "deleted": sum(1 for k in existing if k not in new),
        "skipped": batch.skipped_rows,
        "months": len(batch.months),
        "boroughs": len({r.area_code for r in batch.rows}),
    }

    def write(run_id: int) -> None:
        rows = [
            {"area_code": k[0], "month": k[1], "major_category": k[2], "minor_category": k[3],
             "count": v, "import_run_id": run_id}
            for k, v in new.items()
        ]  # fmt: skip
        repo.replace_crime_months(batch.months, rows)

    return counts, write


def _plan_population(
    repo: NeedRepository, batch: PopulationBatch
) -> tuple[dict[str, int], Callable[[int], None]]:
    keys = [(r.area_code, r.reference_date) for r in batch.rows]
    existing = repo.populations(sorted({k[1] for k in keys}))
    fields = ("all_ages", "aged_0_9", "aged_10_17", "aged_18_24", "aged_10_24", "source")
    new = {(r.area_code, r.reference_date): {f: getattr(r, f) for f in fields} for r in batch.rows}

    def same(key: tuple[str, date]) -> bool:
        old = existing.get(key)
        return old is not None and all(old[f] == new[key][f] for f in fields)

    counts = {
        "created": sum(1 for k in new if k not in existing),
        "updated": sum(1 for k in new if k in existing and not same(k)),
        "unchanged": sum(1 for k in new if same(k)),
    }

    def write(run_id: int) -> None:
        rows = [{"area_code": k[0], "reference_date": k[1], **v, "import_run_id": run_id}
                for k, v in new.items()]  # fmt: skip
        repo.replace_populations(keys, rows)

    return counts, write


def load_reference_data(
    db: Database,
    snap: GeographySnapshot,
    settings: Settings,
    data_dir: Path,
    *,
    progress: Progress = QUIET,
) -> list[tuple[str, ImportReport]]:
    """Import a data directory's population and Met crime files (``REFERENCE_FILES``,
    found by manifest key) through the
    same path as ``directory import`` (each recorded as an import run). Idempotent: a file
    already loaded is ``unchanged``. Call it under the write lock (``refresh.write_lock``),
    as ``directory demo load`` does for its sources. Returns (file, report) per file."""
    from directory.ingest.run import run_import

    reports = []
    for key, fmt, source in REFERENCE_FILES:
        path = data_file(data_dir, key)
        report = run_import(
            db, snap, settings, str(path), fmt=fmt, source=source, progress=progress
        )
        reports.append((path.relative_to(data_dir).as_posix(), report))
    return reports
