"""``GET /funding/timeliness`` (issue 18 §1): were awards decided before the period they
fund began? Per group (programme, borough, BCU or financial year): awards, dated and undated
awards, late awards and their share, median and worst delay, the money affected. One rule
(:data:`.timing.TIMING_RULE`), the awards counted and their placement as in /funding/summary.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from directory.usecases.catalogue import area_ref
from directory.usecases.facts import FundingData, GrantFact
from directory.usecases.funding.awards import (
    PLACEMENT_RULE,
    check_choice,
    codes_of_type,
    left_out_body,
    london_key,
    placed,
    pounds,
    programmes_answer,
    selection,
    split_grants,
)
from directory.usecases.funding.timing import TIMING_RULE, timing
from directory.usecases.geography import CITY_NOTE, LONDON, GeographySnapshot

TIMELINESS_BY = ("programme", "borough", "bcu", "financial_year")


@dataclass
class Lateness:
    """The timing figures of a group of awards."""

    awards: int = 0
    undated: int = 0
    late: int = 0
    days: list[int] = field(default_factory=list)
    late_days: list[int] = field(default_factory=list)
    dated_pence: float = 0.0
    late_pence: float = 0.0
    worst: tuple[int, str, str | None] | None = None  # (days, ref, title)

    def add(self, g: GrantFact, share: float = 1.0) -> None:
        self.awards += 1
        t = timing(g.awarded, g.start, g.financial_year)
        if t.decided_after_start_days is None:
            self.undated += 1
            return
        days = t.decided_after_start_days
        self.days.append(days)
        self.dated_pence += (g.amount_pence or 0) * share
        if t.late:
            self.late += 1
            self.late_days.append(days)
            self.late_pence += (g.amount_pence or 0) * share
        if self.worst is None or (days, self.worst[1]) > (self.worst[0], g.ref):
            self.worst = (days, g.ref, g.title)

    def body(self) -> dict[str, Any]:
        dated = len(self.days)
        return {
            "awards": self.awards,
            "dated_awards": dated,
            "undated_awards": self.undated,
            "late_awards": self.late,
            "share_late": round(self.late / dated, 4) if dated else None,
            "median_days": statistics.median(self.days) if self.days else None,
            "worst_days": max(self.days) if self.days else None,
            "median_late_days": statistics.median(self.late_days) if self.late_days else None,
            "late_amount": pounds(self.late_pence),
            "dated_amount": pounds(self.dated_pence),
            "worst_award": (
                {"ref": self.worst[1], "title": self.worst[2], "days": self.worst[0]}
                if self.worst is not None
                else None
            ),
        }


def funding_timeliness(
    data: FundingData, snap: GeographySnapshot, *, by: str, programme: str | None = None,
    financial_year_text: str | None = None, area: str | None = None,
    include_regrants: bool = False, include_other_programmes: bool = False,
) -> dict[str, Any]:  # fmt: skip
    check_choice("by", by, TIMELINESS_BY)
    sel = selection(data, snap, programme=programme, financial_year_text=financial_year_text,
                    area=area, live_on=None, include_regrants=include_regrants,
                    include_other_programmes=include_other_programmes)  # fmt: skip
    grants, left_out = split_grants(data, snap, sel)
    totals = Lateness()
    for g in grants:
        totals.add(g)
    answer: dict[str, Any] = {
        "by": by,
        "filters": sel.echo(snap),
        "rule": TIMING_RULE,
        "period": _period(grants),
        "totals": totals.body(),
        "programmes": programmes_answer(data, snap, sel),
    }
    if not include_regrants:
        answer["regrants_left_out"] = left_out_body(left_out)
    if by in ("programme", "financial_year"):
        answer["groups"] = _simple_groups(grants, by)
    else:
        answer["placement_rule"] = PLACEMENT_RULE
        answer.update(_area_groups(data, grants, snap, by, sel.area))
    answer["notes"] = _notes(totals)
    return answer


def _period(grants: list[GrantFact]) -> dict[str, Any]:
    """The first days of the periods the counted awards fund, earliest and latest."""
    starts = [
        t.period_start
        for t in (timing(g.awarded, g.start, g.financial_year) for g in grants)
        if t.period_start is not None
    ]
    return {
        "earliest_start": min(starts).isoformat() if starts else None,
        "latest_start": max(starts).isoformat() if starts else None,
    }


def _simple_groups(grants: list[GrantFact], by: str) -> list[dict[str, Any]]:
    groups: dict[Any, Lateness] = defaultdict(Lateness)
    labels: dict[Any, Any] = {}
    for g in grants:
        if by == "programme":
            key: Any = g.programme_id
            labels[key] = (
                {"id": g.programme_id, "name": g.programme_name} if g.programme_id else None
            )
        else:
            key = labels[g.financial_year] = g.financial_year
        groups[key].add(g)
    if by == "financial_year":
        order = sorted(groups, key=lambda k: (k is None, k or ""))
    else:
        order = sorted(groups, key=lambda k: (-groups[k].late, k is None, str(k)))
    return [{by: labels[k], **groups[k].body()} for k in order]


def _area_groups(
    data: FundingData, grants: list[GrantFact], snap: GeographySnapshot, by: str,
    area: str | None,
) -> dict[str, Any]:  # fmt: skip
    groups: dict[tuple[str, str | None], Lateness] = defaultdict(Lateness)
    for g in grants:
        for kind, code, share in placed(data, g, snap, by):
            groups[london_key(kind, code)].add(g, share)
    out: dict[str, Any] = {}
    member = "boroughs" if by == "borough" else "bcus"
    out[member] = [
        {"area": area_ref(snap, code), **groups.get((by, code), Lateness()).body()}
        for code in codes_of_type(snap, by, area)
    ]
    if by == "borough":
        out["bcu_wide"] = [
            {"area": area_ref(snap, code), **s.body()}
            for (kind, code), s in sorted(
                groups.items(), key=lambda i: snap.areas[i[0][1]].name if i[0][1] else ""
            )
            if kind == "bcu" and code is not None
        ]
    else:
        out["not_in_a_bcu"] = [
            {"area": area_ref(snap, code), "note": CITY_NOTE, **s.body()}
            for (kind, code), s in groups.items()
            if kind == "no_bcu" and code is not None
        ]
    out["london_wide"] = groups.get(("london", LONDON), Lateness()).body()
    out["unplaced"] = groups.get(("unplaced", None), Lateness()).body()
    return out


def _notes(totals: Lateness) -> list[str]:
    notes = []
    if totals.undated:
        notes.append(
            f"{totals.undated} of {totals.awards} awards are undated (no award date, or no "
            "period start): they are neither late nor on time, and are not in share_late, "
            "the medians or the money figures."
        )
    if totals.awards and not totals.days:
        notes.append("No award counted here has a decision date: nothing can be said of lateness.")
    notes.append(
        "An award's date is the date its decision was signed (MOPAC decisions) or its "
        "award date (360Giving awardDate); money paid later than the decision is not seen."
    )
    return notes
