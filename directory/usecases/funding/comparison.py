"""``GET /areas/{code}/comparison`` (issue 18 §4): a borough beside the mean of its similar
boroughs (directory/data/similar_boroughs.csv, ONS ITL2 2021) and the London average, by
money per 1,000 residents and per 1,000 offences (as /funding/need computes them), award
lengths, the share of awards of 36 months or more (as /funding/summary) and the share of
dated awards decided late (funding/timing.py's rule), with its rank among the 33.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date
from typing import Any

from directory.data.similar_boroughs import CLASSIFICATION, groups
from directory.errors import InvalidInputError
from directory.settings import Settings
from directory.usecases.catalogue import area_ref, grant_flags
from directory.usecases.facts import FundingData, GrantFact
from directory.usecases.funding.awards import Stats, placed, select_grants, selection
from directory.usecases.funding.need import CITY, city_rate_note, funding_need
from directory.usecases.funding.timing import TIMING_RULE, timing
from directory.usecases.geography import CITY_NOTE, GeographySnapshot, resolve_area

MEASURES = (
    "per_1000_residents",
    "per_1000_offences",
    "median_months",
    "share_36_plus",
    "late_share",
)
COMPARISON_RULE = (
    "borough: the borough's own awards, placed as /funding/need and /funding/summary place "
    "them (awards whose beneficiary areas are the borough or its wards; an award shared by "
    "several boroughs counts in each and its money is divided equally; London-wide and "
    "BCU-wide awards are not the borough's own). similar_mean: the mean of the similar "
    "boroughs' figures (the borough itself left out; boroughs without the figure are not "
    "counted: similar_counted says how many were). london: per-1,000 figures are London's "
    "total ÷ London's total, as /funding/need's london; award lengths and timing are over every "
    "award placed in a borough, each counted once. rank: among London's 33 boroughs, 1 the "
    "highest; equal values share a rank; a borough without the figure is not ranked (null)."
)


def borough_comparison(
    data: FundingData, snap: GeographySnapshot, settings: Settings, today: date, code: str, *,
    programme: str | None = None, financial_year_text: str | None = None,
    include_regrants: bool = False, include_other_programmes: bool = False,
) -> dict[str, Any]:  # fmt: skip
    borough = resolve_area(snap, code)
    if snap.areas[borough].type != "borough":
        kind = snap.areas[borough].type
        message = (
            f"{snap.areas[borough].name} is a {kind}: the comparison is for one of London's "
            "33 boroughs (the City of London included), compared with similar boroughs. For "
            "BCUs see /api/v1/funding/need?level=bcu."
        )
        raise InvalidInputError(message, errors={"code": [message]})
    need = funding_need(
        data, snap, settings, today, level="borough", programme=programme,
        financial_year_text=financial_year_text, include_regrants=include_regrants,
        include_other_programmes=include_other_programmes,
    )  # fmt: skip
    sel = selection(data, snap, programme=programme, financial_year_text=financial_year_text,
                    area=None, live_on=None, include_regrants=include_regrants,
                    include_other_programmes=include_other_programmes)  # fmt: skip
    grants = select_grants(data, snap, sel)
    figures = _figures(data, snap, settings, today, grants, need)
    london = _london(data, snap, settings, today, grants, need)
    group = groups().get(borough)
    similar = [c for c in group.members if c != borough and c in figures] if group else []
    mine = figures[borough]
    measures = []
    for name in MEASURES:
        values = [v for c in similar if (v := figures[c][name]) is not None]
        ranked = sorted((v for f in figures.values() if (v := f[name]) is not None), reverse=True)
        value = mine[name]
        measures.append(
            {
                "measure": name,
                "borough": value,
                "similar_mean": round(statistics.fmean(values), 4) if values else None,
                "similar_counted": len(values),
                "london": london[name],
                "rank": None if value is None else ranked.index(value) + 1,
                "ranked": len(ranked),
                "rule": _MEASURE_RULES[name],
                "period": _period(name, need),
            }
        )
    notes = []
    if mine["awards"] == 0:
        notes.append(
            "No awards under these filters are this borough's own: its money figures are 0 "
            "and its award lengths and timing are null."
        )
    if mine["awards_without_amount"]:
        notes.append(
            f"{mine['awards_without_amount']} of its {mine['awards']} awards have no amount "
            "recorded: its money figures count the known amounts only"
            + (
                " (none is known: they are null and not ranked)."
                if mine["awards"] == mine["awards_without_amount"]
                else "."
            )
        )
    if borough == CITY:
        notes.append(CITY_NOTE + " Met Police crime figures do not include it.")
        notes.append(city_rate_note(mine["population"]))
    notes.extend(need.get("notes", []))
    answer: dict[str, Any] = {
        "area": area_ref(snap, borough),
        "filters": need["filters"],
        "classification": {
            **CLASSIFICATION,
            "group": {"code": group.code, "name": group.name} if group else None,
        },
        "similar_boroughs": [area_ref(snap, c) for c in similar],
        "borough": {
            k: mine[k]
            for k in (
                "awards",
                "amount",
                "awards_without_amount",
                "population",
                "offences",
                "awards_with_length",
                "dated_awards",
                "late_awards",
            )
        },  # fmt: skip
        "measures": measures,
        "periods": need["periods"],
        "programmes": need["programmes"],
        "rule": COMPARISON_RULE,
        "timing_rule": TIMING_RULE,
    }
    if notes:
        answer["notes"] = notes
    return answer


_MEASURE_RULES = {
    "per_1000_residents": "amount ÷ population × 1,000, as /funding/need (amount: the "
    "borough's own awards, shared awards divided equally; London-wide and BCU-wide money not "
    "included).",
    "per_1000_offences": "amount ÷ recorded offences × 1,000, as /funding/need (every category "
    "in the Met's borough-level file over the latest 12 loaded months; the City of London has "
    "none).",
    "median_months": "the median length in months of the awards with a length (duration, or "
    "start to end), as /funding/summary's median_months.",
    "share_36_plus": "awards of 36 months or more ÷ awards with a length, as /funding/summary's "
    "share_36_plus (0 to 1).",
    "late_share": "awards decided after the period they fund began ÷ dated awards (0 to 1), by "
    "timing_rule; undated awards are counted apart, never as on time.",
}


def _period(name: str, need: dict[str, Any]) -> str:
    periods = need["periods"]
    funding = f"awards: {periods['funding']}"
    if name == "per_1000_residents":
        pop = periods["population"]
        return (
            f"{funding}; population estimate of {pop['reference_date'] if pop else 'none loaded'}"
        )
    if name == "per_1000_offences":
        crime = periods["offences"]
        if crime is None:
            return f"{funding}; no crime figures loaded"
        return f"{funding}; offences {crime['start']} to {crime['end']} ({crime['months']} months)"
    return funding


def _figures(
    data: FundingData, snap: GeographySnapshot, settings: Settings, today: date,
    grants: list[GrantFact], need: dict[str, Any],
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Each borough's figures: need's money rates and counts, its awards' lengths and timing."""
    stats: dict[str, Stats] = defaultdict(Stats)
    placed_in: dict[str, list[GrantFact]] = defaultdict(list)
    for g in grants:
        for kind, code, share in placed(data, g, snap, "borough"):
            if kind == "borough" and code is not None:
                stats[code].add(g, grant_flags(g, today, settings), share)
                placed_in[code].append(g)
    out = {}
    for row in need["areas"]:
        code = row["area"]["code"]
        body = stats[code].body()
        dated, late = _timing(placed_in[code])
        known = [m for m in stats[code].months if m is not None]
        out[code] = {
            "awards": row["awards"],
            "amount": row["amount"],
            "awards_without_amount": row["awards_without_amount"],
            "population": row["population"],
            "offences": row["offences"],
            "per_1000_residents": row["per_1000_residents"],
            "per_1000_offences": row["per_1000_offences"],
            "median_months": body["median_months"],
            "share_36_plus": body["share_36_plus"],
            "awards_with_length": len(known),
            "dated_awards": dated,
            "late_awards": late,
            "late_share": round(late / dated, 4) if dated else None,
        }
    return out


def _london(
    data: FundingData, snap: GeographySnapshot, settings: Settings, today: date,
    grants: list[GrantFact], need: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """London's figures: need's London average, and over every award placed in a borough."""
    own = [
        g
        for g in grants
        if any(kind == "borough" for kind, _, _ in placed(data, g, snap, "borough"))
    ]
    stats = Stats()
    for g in own:
        stats.add(g, grant_flags(g, today, settings))
    body = stats.body()
    dated, late = _timing(own)
    return {
        "per_1000_residents": need["london"]["per_1000_residents"],
        "per_1000_offences": need["london"]["per_1000_offences"],
        "median_months": body["median_months"],
        "share_36_plus": body["share_36_plus"],
        "late_share": round(late / dated, 4) if dated else None,
    }


def _timing(grants: list[GrantFact]) -> tuple[int, int]:
    """(dated awards, late awards) by funding/timing.py's rule."""
    found = [timing(g.awarded, g.start, g.financial_year) for g in grants]
    dated = [t for t in found if t.dated]
    return len(dated), sum(1 for t in dated if t.late)
