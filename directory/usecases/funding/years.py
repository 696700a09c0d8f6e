"""An award's money by the financial years it funds (``spread=planned_dates``).

By default an award counts in the financial year it was decided for, its whole amount there
(:data:`directory.usecases.funding.awards.FINANCIAL_YEAR_RULE`): PCD 79's £72m LCPF budget
for 2017/18 to 2020/21 is all in 2017/18. A funding-per-year chart wants the money in the
years it pays for, so with the spread an award with a planned start and end is divided
between the UK financial years (1 April to 31 March) its planned period covers, in
proportion to its days in each, in whole pence that add up to the award exactly. An award
without both dates (or ending before it starts) cannot be divided honestly: it stays whole
in its decided year, and the answer says how many such awards and how much money
(``not_spread``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from fractions import Fraction
from typing import Any

from directory.ingest.values import financial_year_of
from directory.usecases.facts import FundingData, GrantFact
from directory.usecases.funding.money import pence_adding_up, pounds

SPREADS = ("none", "planned_dates")

SPREAD_RULE = (
    "spread=planned_dates: an award with a planned start and end is divided between the UK "
    "financial years (1 April to 31 March) its planned period covers, in proportion to its "
    "days in each (both dates included), in whole pence that add up to the award; "
    "financial_year counts the year's share, by=financial_year puts each share in its year, "
    "and an award counts in each year it has money in (an award with no amount recorded, in "
    "each year its period covers). An award without both dates stays whole in the financial "
    "year it was decided for (not_spread says how many and how much). Without financial_year "
    "or by=financial_year the spread changes no figure."
)


def spreadable(g: GrantFact) -> bool:
    """Whether the award has a planned period to divide: a start and an end, in order."""
    return g.start is not None and g.end is not None and g.start <= g.end


def days_by_year(start: date, end: date) -> dict[str, int]:
    """The days of ``start``–``end`` (both included) in each UK financial year, in order."""
    out: dict[str, int] = {}
    first = start.year if start.month >= 4 else start.year - 1
    while (year_start := date(first, 4, 1)) <= end:
        year_end = date(first + 1, 3, 31)
        days = (min(end, year_end) - max(start, year_start)).days + 1
        if days > 0:
            out[financial_year_of(year_start)] = days
        first += 1
    return out


def year_parts(data: FundingData, g: GrantFact) -> tuple[GrantFact, ...]:
    """The award as one part per financial year it has money in, each carrying that year as
    its ``financial_year`` and its share as its ``amount_pence`` (the parts add up to the
    award); the award itself, whole, when it cannot be spread. Kept with the facts."""
    found = data._years.get(g.id)
    if found is None:
        found = data._years[g.id] = _parts(g)
    return found


def _parts(g: GrantFact) -> tuple[GrantFact, ...]:
    if not spreadable(g):
        return (g,)
    assert g.start is not None and g.end is not None  # spreadable
    days = days_by_year(g.start, g.end)
    if not g.amount_pence:  # no amount recorded (or £0): in each year the period covers
        return tuple(replace(g, financial_year=year) for year in days)
    total = sum(days.values())
    exact = [Fraction(g.amount_pence * d, total) for d in days.values()]
    pence = pence_adding_up(exact, g.amount_pence)
    return tuple(
        replace(g, financial_year=year, amount_pence=part)
        for year, part in zip(days, pence, strict=True)
        if part
    )


def spread_over_years(data: FundingData, grants: list[GrantFact]) -> list[GrantFact]:
    """Every part of ``grants`` (:func:`year_parts`)."""
    return [part for g in grants for part in year_parts(data, g)]


def year_part(data: FundingData, g: GrantFact, year: str) -> GrantFact | None:
    """The award's part in financial year ``year`` (the award whole when it cannot be spread
    and was decided for that year), None when it has no money there."""
    return next((p for p in year_parts(data, g) if p.financial_year == year), None)


def not_spread_body(grants: list[GrantFact]) -> dict[str, Any]:
    """An answer's ``spread.not_spread``: its awards left whole in their decided year."""
    whole = [g for g in grants if not spreadable(g)]
    return {"awards": len(whole), "amount": pounds(sum(g.amount_pence or 0 for g in whole))}
