"""When an award was decided beside the start of the period it funds (issue 18 §1): the
Committee heard that Safer Neighbourhood Board money arrived months after the year it was
for had begun. One rule, used by the grants' own answers, the timeliness summary and the
borough comparison, so "late" means the same everywhere. Pure: dates in, figures out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from directory.ingest.values import whole_months

TIMING_RULE = (
    "decided_after_start_days = the award (decision) date minus the first day of the period "
    "the award funds: its start date, or 1 April of its financial year when it has no start "
    "date. Negative or 0: decided before or on the day the period began (on time); positive: "
    "late (decided after the period began). late_by_months counts the whole calendar months "
    "from the period's start to the decision (10 days late is late by 0 months). Awards with "
    "no award date, or with neither a start date nor a financial year, are undated: counted "
    "apart, never as on time."
)


@dataclass(frozen=True, slots=True)
class Timing:
    """An award's decision beside the start of its period; every field None when undated."""

    period_start: date | None
    #: "start" (the award's own start date) or "financial_year" (1 April of it)
    period_start_basis: str | None
    decided_after_start_days: int | None
    late: bool | None
    late_by_months: int | None

    @property
    def dated(self) -> bool:
        return self.decided_after_start_days is not None


def period_start(start: date | None, financial_year: str | None) -> tuple[date | None, str | None]:
    """The first day of the period an award funds, and where it came from."""
    if start is not None:
        return start, "start"
    if (
        financial_year
        and len(financial_year) >= 4
        and financial_year[:4].isascii()
        and financial_year[:4].isdigit()
    ):
        return date(int(financial_year[:4]), 4, 1), "financial_year"
    return None, None


def timing(awarded: date | None, start: date | None, financial_year: str | None) -> Timing:
    """The award's timing by :data:`TIMING_RULE`."""
    begins, basis = period_start(start, financial_year)
    if awarded is None or begins is None:
        return Timing(begins, basis, None, None, None)
    days = (awarded - begins).days
    late = days > 0
    return Timing(begins, basis, days, late, whole_months(begins, awarded) if late else 0)


def timing_fields(awarded: date | None, start: date | None, financial_year: str | None) -> dict:
    """The per-award fields the grants' answers carry."""
    t = timing(awarded, start, financial_year)
    return {
        "decided_after_start_days": t.decided_after_start_days,
        "late": t.late,
        "late_by_months": t.late_by_months,
    }
