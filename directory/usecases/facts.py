"""The facts the funding answers and the patch are computed from, read once per data
version and shared by both: every listed grant (:class:`GrantFact`: its programme,
recipient, funder, amount, dates, beneficiary areas, the services it funds, whether it is a
regrant, whether it is community safety), the programmes, the latest population estimates,
the last 12 months of Met crime counts and every loaded month's totals per area (for the
12 months before a financial year, :meth:`FundingData.crime_window`). No Flask here.
"""

from __future__ import annotations

import operator
from collections import defaultdict, namedtuple
from collections.abc import Callable, Hashable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from directory.data.community_safety import rule as community_safety_rule
from directory.ingest.regrants import loop_heads
from directory.ingest.values import add_months, whole_months
from directory.store.repositories.funding import FundingQueries
from directory.usecases.background import PerVersion
from directory.usecases.shared import Kept, Shared, kept_json

CRIME_MONTHS = 12
#: the bytes of funding answers a worker keeps per data version (about 15 KB each)
ANSWERS_BYTES = 4 * 2**20


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
    funder_name: str
    amount_pence: int | None
    start: date | None
    end: date | None
    duration_months: int | None
    financial_year: str | None
    areas: tuple[str, ...]  # beneficiary area codes
    services: tuple[int, ...]  # ids of the listed services it funds
    #: paid through another award the directory holds (MOPAC → SNB → charity); in a loop of
    #: Paid through, which imports refuse, all but the grant added first
    regrant: bool
    demo: bool
    #: counted by the funding answers by default: its programme is classified community
    #: safety, or it has no programme and its funder is one of the rule's funders
    #: (directory/data/community_safety.py)
    community_safety: bool = False
    title: str | None = None
    #: the award (decision) date, for the timeliness answers (funding/timing.py)
    awarded: date | None = None
    #: a regrant's awards it was paid through, held by the directory, its parent first, then
    #: the parent's parent…: an answer leaves the regrant out when one of them is counted
    #: in it, its money being there (awards.count_once); () for a grant paid directly
    paid_through: tuple[int, ...] = ()
    #: 360Giving's Regrant Type code (FRG010…) when the award was made to its recipient for
    #: onward distribution as grants, whether or not the directory holds those grants
    regrant_type: str | None = None


#: the columns of ``FundingQueries.grants`` a GrantFact is made from
_GRANT_COLUMNS = (
    "id", "ref", "title", "programme_id", "programme_name", "programme_community_safety",
    "recipient_ref", "recipient_name", "funder_ref", "funder_name", "amount_pence", "start",
    "end", "awarded", "duration_months", "financial_year", "parent_ref", "demo", "regrant_type",
)  # fmt: skip
_GrantRow = namedtuple("_GrantRow", _GRANT_COLUMNS)


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
            "months": whole_months(self.first, self.last) + 1,
        }


@dataclass(frozen=True)
class PopulationFigure:
    value: int
    reference_date: date
    source: str | None


@dataclass
class FundingData:
    """The facts of one data version. ``_placements``, ``_widest`` and ``_units`` are filled
    lazily by the funding answers (where each award's money is placed, per level; the
    widest areas each award names; the areas of a level inside an area)."""

    grants: list[GrantFact]
    programmes: dict[str, Any]
    population: dict[str, PopulationFigure]
    crime: CrimeFigures | None
    _placements: dict[tuple[int, str], list[tuple[str, str | None, float]]] = field(
        default_factory=dict
    )
    #: grant id → the widest London areas it names; (area, level) → the areas of that level
    #: its money is for (filled lazily by the funding headline)
    _widest: dict[int, tuple[str, ...]] = field(default_factory=dict)
    _units: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    #: grant id → its parts by the financial years its planned dates cover (spread=
    #: planned_dates; filled lazily by funding/years.py)
    _years: dict[int, tuple[GrantFact, ...]] = field(default_factory=dict)
    #: service id → the day its funding ended (filled lazily by funding/followup.py)
    _funding_ends: dict[int, date] | None = None
    #: month (first day) → area code → recorded offences that month, every loaded month
    crime_by_month: dict[date, dict[str, int]] = field(default_factory=dict)
    _crime_windows: dict[date, CrimeFigures | None] = field(default_factory=dict)
    #: the funding answers made from these facts (:meth:`answer`), as their JSON
    _answers: Kept = field(default_factory=lambda: Kept(ANSWERS_BYTES))

    def answer(self, key: Hashable, make: Callable[[], Mapping[str, Any]]) -> Mapping[str, Any]:
        """The answer ``make`` makes, kept under ``key`` (the answer's name, the day and its
        arguments) while these facts serve: a funding answer depends on nothing else (the
        geography and settings change only with the facts). At 100,000 awards one takes
        0.1-0.6 s to make, and the same answer again 0.1 ms."""
        found = self._answers.get(key)
        if found is None:
            made = make()
            found = Shared(dict(made))
            try:
                size = kept_json(found)
            except orjson.JSONEncodeError:  # what orjson's plain mode cannot write: not kept
                return made
            self._answers.keep(key, found, size)
        return found  # type: ignore[no-any-return]

    def crime_window(self, first: date) -> CrimeFigures | None:
        """Recorded offences in the 12 months from ``first`` (a first day), when every one of
        those months is loaded; otherwise None."""
        if first not in self._crime_windows:
            months = [add_months(first, n) for n in range(CRIME_MONTHS)]
            figures = None
            if all(m in self.crime_by_month for m in months):
                totals: dict[str, int] = defaultdict(int)
                counted: dict[str, int] = defaultdict(int)
                for m in months:
                    for code, offences in self.crime_by_month[m].items():
                        totals[code] += offences
                        counted[code] += 1
                figures = CrimeFigures(dict(totals), dict(counted), months[0], months[-1])
            self._crime_windows[first] = figures
        return self._crime_windows[first]

    @classmethod
    def read(cls, q: FundingQueries) -> FundingData:
        areas: dict[int, list[str]] = defaultdict(list)
        for gid, code in q.grant_areas():
            areas[gid].append(code)
        services: dict[int, list[int]] = defaultdict(list)
        for gid, sid in q.grant_services():
            services[gid].append(sid)
        rows = q.grants()
        # each row's columns taken by name in one C call a row, as a named tuple (a Row's
        # attributes, 30 a row, took 0.5 s of 2.7 at 100,000 awards)
        fields = rows[0]._fields if rows else _GRANT_COLUMNS
        columns = operator.itemgetter(*(fields.index(name) for name in _GRANT_COLUMNS))
        # a grant paid through another the directory holds is a regrant, except the first
        # added (lowest id) of each loop of Paid through (imports refuse loops; one written
        # before they did is counted once, not dropped whole)
        parent_of = {r.ref: r.parent_ref for r in rows if r.parent_ref is not None}
        ids = {r.ref: r.id for r in rows} if parent_of else {}
        heads = loop_heads(parent_of, ids.__getitem__) if parent_of else set()
        through = _paid_through(parent_of, ids, heads)
        counts_grant = community_safety_rule().counts_grant
        # one object per repeated value (names, dates, area tuples): 100,000 awards share a
        # few hundred funders, programmes and areas
        pool: dict[Any, Any] = {}
        one = pool.setdefault
        grants = [
            GrantFact(
                id=r.id, ref=r.ref, title=r.title, programme_id=one(r.programme_id, r.programme_id),
                programme_name=one(r.programme_name, r.programme_name),
                recipient_ref=one(r.recipient_ref, r.recipient_ref),
                recipient_name=one(r.recipient_name, r.recipient_name),
                funder_ref=one(r.funder_ref, r.funder_ref), funder_name=one(r.funder_name, r.funder_name),
                amount_pence=r.amount_pence, start=one(r.start, r.start), end=one(r.end, r.end),
                duration_months=r.duration_months, financial_year=one(r.financial_year, r.financial_year),
                areas=one(t := tuple(areas.get(r.id, ())), t), services=tuple(services.get(r.id, ())),
                regrant=r.ref in through, paid_through=through.get(r.ref, ()),
                demo=bool(r.demo), awarded=one(r.awarded, r.awarded),
                regrant_type=one(r.regrant_type, r.regrant_type),
                community_safety=counts_grant(
                    r.programme_id, r.programme_community_safety, r.funder_ref
                ),
            )
            for r in map(_GrantRow._make, map(columns, rows))
        ]  # fmt: skip
        population: dict[str, PopulationFigure] = {}
        for p in q.populations():  # newest last: the latest estimate wins
            population[p.area_code] = PopulationFigure(p.all_ages, p.reference_date, p.source)
        crime = None
        months = q.crime_months()
        if months:
            last = months[-1]
            first = add_months(last, -(CRIME_MONTHS - 1))  # crime months are first days
            totals = q.crime_totals(first, last)
            crime = CrimeFigures(
                {r.area_code: int(r.offences) for r in totals},
                {r.area_code: int(r.months) for r in totals},
                max(first, months[0]),
                last,
            )
        by_month: dict[date, dict[str, int]] = defaultdict(dict)
        for r in q.crime_month_totals():
            by_month[r.month][r.area_code] = int(r.offences)
        return cls(
            grants, {p.id: p for p in q.programmes()}, population, crime,
            crime_by_month=dict(by_month),
        )  # fmt: skip


def _paid_through(
    parent_of: Mapping[str, str], ids: Mapping[str, int], heads: set[str]
) -> dict[str, tuple[int, ...]]:
    """Each regrant's ref → the ids of the held awards it was paid through, nearest first.
    A chain stops at a grant paid directly, one whose parent is not held, or a loop's head
    (counted as paid directly); each grant's chain is worked out once, from its parent's."""
    found: dict[str, tuple[int, ...]] = {}
    for start in parent_of:
        path: list[str] = []  # grants whose chain is not known yet, nearest the start first
        ref = start
        while ref not in found and ref not in heads and parent_of.get(ref) in ids:
            if ref in path:  # pragma: no cover - every loop has a head
                break
            path.append(ref)
            ref = parent_of[ref]
        tail = found.get(ref, ())
        for ref in reversed(path):
            tail = found[ref] = (ids[parent_of[ref]], *tail)
    return found


class FactsCache:
    """The FundingData of the current data version, for one application: read once, used by
    the patch index and every funding answer. Serving (``background``), after an import
    the previous version's facts answer while a thread reads the new ones (1.6-1.9 s at
    100,000 services, which the first funding answer after each import waited for)."""

    def __init__(self, *, background: bool = False) -> None:
        self._facts: PerVersion[FundingData] = PerVersion("funding facts", background=background)

    def get(self, version: Any, q: FundingQueries) -> FundingData:
        """The facts of ``version``, read through ``q`` now if they are not kept (the
        directory index's build: its own reads and the facts in one snapshot)."""
        return self._facts.get(_key(version), lambda: FundingData.read(q))[0]

    def latest(
        self, version: Any, q: FundingQueries, reader: Callable[[], AbstractContextManager[FundingQueries]]
    ) -> tuple[FundingData, bool]:  # fmt: skip
        """The facts of ``version``, and True; serving, with an earlier version's kept, those
        and False while a thread reads these through ``reader`` (a connection of its own)."""

        def read_apart() -> FundingData:
            with reader() as apart:
                return FundingData.read(apart)

        key = _key(version)
        data, of = self._facts.get(key, lambda: FundingData.read(q), read_apart)
        return data, of == key

    def wait(self, timeout: float | None = None) -> None:
        self._facts.wait(timeout)


def _key(version: Any) -> tuple[Any, Any]:
    return (version.id, version.loaded_at)
