"""``GET /programmes/{id}/fairness``: does a programme's money track recorded crime? For each
financial year with borough-level allocations, each borough's share of the money beside its
share of recorded offences and of population, Spearman's rank correlation between money and
offences, the boroughs furthest below and above their offence share, and within each BCU
every borough with more offences that got less money than a neighbour (issue 18 §2).

Money placed in a borough is what it is in every funding answer (:func:`.awards.placed`):
awards to the borough or its wards, an award naming several boroughs divided equally;
London-wide and BCU-wide money is not divided among boroughs and is reported apart.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date
from typing import Any

from directory.ingest.values import add_months, parse_financial_year
from directory.usecases.catalogue import area_ref
from directory.usecases.facts import CRIME_MONTHS, CrimeFigures, FundingData, GrantFact
from directory.usecases.funding.awards import (
    PLACEMENT_RULE,
    bcu_of,
    boroughs_in,
    codes_of_type,
    count_once,
    financial_year,
    named_programme_rule,
    placed,
    population_note,
    population_of,
    pounds,
)
from directory.usecases.funding.programmes import _programme_info
from directory.usecases.geography import CITY_NOTE, GeographySnapshot
from directory.usecases.vocabulary import unknown_programme

#: how many boroughs furthest below and above their offence share are named
FURTHEST = 3
#: fewer boroughs than this and no correlation is given
MIN_CORRELATED = 3

METHOD = (
    "For each financial year, the boroughs compared are those with money placed in them by the "
    "programme that year and with Met recorded-crime figures. money_share, offences_share and "
    "population_share are each borough's share of the compared boroughs' money, recorded "
    "offences and population (so each adds up to 1 over them); gap = money_share − "
    "offences_share (negative: less money than its share of offences). Spearman's rank "
    "correlation is the Pearson correlation of the boroughs' ranks by money and by offences "
    "(rank 1 the highest, equal values sharing their average rank), over the compared boroughs "
    "only: boroughs with no allocation that year are left out, not counted as 0, because a "
    "programme that funds a few boroughs (a competition, a pilot) says nothing by its absence "
    "elsewhere; with fewer than 3 boroughs, or when every borough got the same money, it is "
    "null. within_bcu lists, inside each BCU where the programme placed money, every borough "
    "with more recorded offences than a neighbour in the same BCU that got less money than "
    "it, a borough with no allocation counting as 0 (the complaint: a borough received less "
    "than others in its BCU despite higher crime). Offences are the Met's recorded crime "
    "(every category) in the 12 months before the financial year's 1 April when all of those "
    "months are loaded, otherwise the latest 12 loaded months (offences.basis says which). "
    "Limits: recorded crime is not all crime (much is never reported, and recording varies by "
    "offence and borough); allocations may follow other measures of need, a formula with other "
    "inputs, bids or matched funding, so a gap or a low correlation is a question to ask, not a "
    "finding of unfairness; a handful of boroughs gives a correlation that chance alone can "
    "make large; London-wide and BCU-wide money is not in any borough's figure; the City of "
    "London is policed by the City of London Police and the Met's figures do not include it, so "
    "it is never compared."
)


def programme_fairness(
    data: FundingData, snap: GeographySnapshot, programme_id: str, *,
    financial_year_text: str | None = None, include_regrants: bool = False,
) -> dict[str, Any]:  # fmt: skip
    info = _programme_info(data, programme_id)
    if info is None:
        held = {pid: row.name for pid, row in data.programmes.items()}
        raise unknown_programme(programme_id, held)
    year = financial_year(financial_year_text)
    grants = [
        g for g in data.grants
        if g.programme_id == programme_id
        and g.financial_year is not None and (year is None or g.financial_year == year)
    ]  # fmt: skip
    if not include_regrants:
        grants = count_once(grants)[0]
    by_year: dict[str, list[GrantFact]] = defaultdict(list)
    for g in grants:
        by_year[g.financial_year or ""].append(g)
    years = []
    for fy in sorted(by_year):
        answer = _year(data, snap, fy, by_year[fy])
        if answer is not None:
            years.append(answer)
    notes = []
    if not years:
        asked = f"in {year}" if year else "in any financial year"
        notes.append(
            f"The programme placed no money in boroughs {asked} (awards London-wide, BCU-wide, "
            "unplaced, without an amount or without a financial year are not compared), so "
            "there is nothing to compare."
        )
    if data.crime is None:
        notes.append(
            "No crime figures are loaded: import the Met's borough-level crime file with "
            "`directory import FILE --format mps-crime`."
        )
    return {
        "programme": {"id": info["id"], "name": info["name"]},
        "filters": {"financial_year": year, "include_regrants": include_regrants},
        "years": years,
        "method": METHOD,
        "rule": PLACEMENT_RULE,
        "programmes": {
            "counted": "named",
            "rule": named_programme_rule(programme_id, info["community_safety"]),
        },
        "periods": {"population": population_note(data)},
        "notes": notes,
    }


# -- one financial year ----------------------------------------------------------------------
def _year(
    data: FundingData, snap: GeographySnapshot, fy: str, grants: list[GrantFact]
) -> dict[str, Any] | None:
    money: dict[str, float] = defaultdict(float)
    wider: dict[str, float] = defaultdict(float)
    for g in grants:
        for kind, code, share in placed(data, g, snap, "borough"):
            if kind == "borough" and code is not None:
                money[code] += (g.amount_pence or 0) * share
            else:
                wider[kind] += (g.amount_pence or 0) * share
    money = {c: v for c, v in money.items() if v > 0}  # awards without an amount add nothing
    if not money:
        return None
    crime, basis = _offences_for(data, fy)
    totals = crime.totals if crime is not None else {}
    compared = sorted((c for c in money if c in totals), key=lambda c: (snap.areas[c].name, c))
    not_compared = [
        {"area": area_ref(snap, c), "amount": pounds(money[c]), "note": _why_not(c)}
        for c in codes_of_type(snap, "borough", None) if c in money and c not in totals
    ]  # fmt: skip
    money_sum = sum(money[c] for c in compared)
    offences_sum = sum(totals[c] for c in compared)
    populations = {c: population_of(data, snap, c) for c in compared}
    population_sum = (
        sum(p for p in populations.values() if p is not None)
        if all(p is not None for p in populations.values())
        else None
    )
    london_offences = sum(totals.values())
    money_ranks = average_ranks([money[c] for c in compared])
    offence_ranks = average_ranks([float(totals[c]) for c in compared])
    rows = []
    for i, code in enumerate(compared):
        money_share = money[code] / money_sum if money_sum else None
        offences_share = totals[code] / offences_sum if offences_sum else None
        population = populations[code]
        row: dict[str, Any] = {
            "area": area_ref(snap, code),
            "bcu": _bcu_ref(snap, code),
            "amount": pounds(money[code]),
            "offences": totals[code],
            "population": population,
            "money_share": _round(money_share),
            "offences_share": _round(offences_share),
            "population_share": _round(population / population_sum)
            if population is not None and population_sum
            else None,
            "gap": _round(money_share - offences_share)
            if money_share is not None and offences_share is not None
            else None,
            "rank": {"money": money_ranks[i], "offences": offence_ranks[i]},
            "london_offences_share": _round(totals[code] / london_offences)
            if london_offences
            else None,
        }
        if crime is not None and crime.months.get(code, 0) < CRIME_MONTHS:
            row["note"] = f"Crime figures cover {crime.months.get(code, 0)} of the 12 months."
        rows.append(row)
    with_gap = [r for r in rows if r["gap"] is not None]
    below = sorted(
        (r for r in with_gap if r["gap"] < 0), key=lambda r: (r["gap"], r["area"]["name"])
    )
    above = sorted(
        (r for r in with_gap if r["gap"] > 0), key=lambda r: (-r["gap"], r["area"]["name"])
    )
    return {
        "financial_year": fy,
        "money": {
            "boroughs": pounds(sum(money.values())),
            "compared": pounds(money_sum),
            "london_wide": pounds(wider.get("london", 0.0)),
            "bcu_wide": pounds(wider.get("bcu", 0.0)),
            "unplaced": pounds(wider.get("unplaced", 0.0)),
            "awards": len(grants),
        },
        "offences": _offences_answer(crime, basis, fy),
        "boroughs": rows,
        "not_compared": not_compared,
        "correlation": _correlation(
            [money[c] for c in compared], [float(totals[c]) for c in compared]
        ),
        "furthest_below": [_brief(r) for r in below[:FURTHEST]],
        "furthest_above": [_brief(r) for r in above[:FURTHEST]],
        "within_bcu": _within_bcu(snap, money, totals),
    }


def _offences_for(data: FundingData, fy: str) -> tuple[CrimeFigures | None, str]:
    """The 12 months before the year's 1 April when they are all loaded, else the latest 12."""
    start = date(int(parse_financial_year(fy)[:4]), 4, 1)
    window = data.crime_window(add_months(start, -CRIME_MONTHS))
    if window is not None:
        return window, "before_year"
    return data.crime, "latest"


def _offences_answer(crime: CrimeFigures | None, basis: str, fy: str) -> dict[str, Any]:
    start = int(parse_financial_year(fy)[:4])
    wanted = f"{start - 1}-04 to {start}-03"
    if crime is None:
        return {"period": None, "basis": None,
                "note": "No crime figures are loaded, so no borough is compared."}  # fmt: skip
    if basis == "before_year":
        note = f"The 12 months before {fy} began ({wanted})."
    else:
        note = (
            f"The 12 months before {fy} began ({wanted}) are not all loaded, so the latest 12 "
            f"loaded months are used ({crime.period()['start']} to {crime.period()['end']}): "
            "they may come after the allocation was made."
        )
    return {"period": crime.period(), "basis": basis, "note": note}


def _why_not(code: str) -> str:
    if code == "E09000001":
        return CITY_NOTE + " Met Police crime figures do not include it, so it is not compared."
    return "No Met recorded-crime figures for it in the period, so it is not compared."


def _bcu_ref(snap: GeographySnapshot, code: str) -> dict[str, Any] | None:
    bcu = bcu_of(snap, code)
    return area_ref(snap, bcu) if bcu is not None else None


def _brief(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("area", "amount", "money_share", "offences_share", "gap")}


def _within_bcu(
    snap: GeographySnapshot, money: dict[str, float], totals: dict[str, int]
) -> list[dict[str, Any]]:
    """Inside each BCU where the programme placed money, every pair (borough, neighbour) where
    the borough had more recorded offences and got less money (no allocation counts as 0)."""
    bcus = sorted({b for c in money if c in totals and (b := bcu_of(snap, c)) is not None})
    pairs = []
    for bcu in bcus:
        members = [c for c in boroughs_in(snap, bcu) if c in totals]
        members.sort(key=lambda c: (snap.areas[c].name, c))
        for code in members:
            for other in members:
                if totals[code] > totals[other] and money.get(code, 0.0) < money.get(other, 0.0):
                    pairs.append({
                        "bcu": area_ref(snap, bcu),
                        "borough": _side(snap, code, money, totals),
                        "neighbour": _side(snap, other, money, totals),
                    })  # fmt: skip
    return pairs


def _side(
    snap: GeographySnapshot, code: str, money: dict[str, float], totals: dict[str, int]
) -> dict[str, Any]:
    return {"area": area_ref(snap, code), "amount": pounds(money.get(code, 0.0)),
            "offences": totals[code]}  # fmt: skip


# -- Spearman's rank correlation --------------------------------------------------------------
def average_ranks(values: list[float]) -> list[float]:
    """Rank 1 for the highest value; equal values share the average of their ranks."""
    order = sorted(range(len(values)), key=lambda i: -values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rank correlation (the Pearson correlation of average ranks), or None when
    there are fewer than two values or either side has no spread."""
    if len(xs) != len(ys) or len(xs) < 2:
        return None
    rx, ry = average_ranks(xs), average_ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def _correlation(money: list[float], offences: list[float]) -> dict[str, Any]:
    n = len(money)
    if n < MIN_CORRELATED:
        return {"spearman": None, "n": n,
                "note": f"Not meaningful with {n} borough{'s' if n != 1 else ''} compared "
                f"(at least {MIN_CORRELATED} are needed)."}  # fmt: skip
    rho = spearman(money, offences)
    if rho is None:
        return {"spearman": None, "n": n,
                "note": "Not defined: every compared borough got the same money (or had the "
                "same offences), so there is no order to compare."}  # fmt: skip
    note = (
        f"Over {n} boroughs; +1 would mean money in exactly the order of offences, −1 the "
        "reverse, 0 no relation."
    )
    if n < 10:
        note += f" With {n} boroughs chance alone can give a large value either way."
    return {"spearman": round(rho, 4), "n": n, "note": note}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
