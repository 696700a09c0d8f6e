"""``GET /funding/need``: money per borough or BCU beside its population and recorded
crime, with London's average and ranks.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from directory.settings import Settings
from directory.usecases.facts import FundingData
from directory.usecases.funding.awards import (
    boroughs_in,
    check_choice,
    population_note,
    population_of,
    pounds,
    rate,
    ratio,
)
from directory.usecases.funding.summary import funding_summary
from directory.usecases.geography import CITY_NOTE, GeographySnapshot

NEED_LEVELS = ("borough", "bcu")
CITY = "E09000001"


def city_rate_note(population: int | None) -> str:
    """Why the City of London's money per resident is not comparable with a borough's (it
    topped the ranking at 112 times London's average from two City of London Police awards)."""
    residents = f"about {round(population, -2):,} residents" if population else "few residents"
    return (
        "Its per_1000_residents is not comparable with the boroughs': the City has "
        f"{residents} but a daytime population of workers and visitors many times that, and "
        "money placed there (such as the City of London Police's awards) serves them all. It "
        "is ranked as the figures fall."
    )


# -- GET /funding/need -------------------------------------------------------------------------
def funding_need(
    data: FundingData, snap: GeographySnapshot, settings: Settings, today: date, *,
    level: str, programme: str | None = None, financial_year_text: str | None = None,
    apportion: str = "none", include_regrants: bool = False, include_other_programmes: bool = False,
    spread: str = "none",
) -> dict[str, Any]:  # fmt: skip
    check_choice("level", level, NEED_LEVELS)
    exact: dict[tuple[str, str], float] = {}  # each row's money in pence, unrounded
    summary = funding_summary(
        data, snap, settings, today, by=level, programme=programme,
        financial_year_text=financial_year_text, apportion=apportion,
        include_regrants=include_regrants, include_other_programmes=include_other_programmes,
        spread=spread, exact=exact,
    )  # fmt: skip
    member = "boroughs" if level == "borough" else "bcus"
    basis = "apportioned_amount" if apportion == "population" else "amount"
    rows = []
    for source in summary[member]:
        code = source["area"]["code"]
        population = population_of(data, snap, code)
        offences, months = _offences_of(data, snap, code)
        amount = source.get(basis)
        unknown = source["awards_without_amount"]
        row: dict[str, Any] = {
            "area": source["area"],
            "awards": source["awards"],
            "amount": source["amount"],
            "awards_without_amount": unknown,
        }
        if basis == "apportioned_amount":
            row["apportioned_amount"] = amount
        # an area whose every award has no amount recorded has no money figure to rank (its
        # 0 is not known to be 0: until 6 December it ranked with those that have no award)
        if basis == "amount" and unknown and unknown == source["awards"]:
            amount = None
        row.update(
            population=population,
            offences=offences,
            per_1000_residents=rate(amount, population),
            per_1000_offences=rate(amount, offences),
        )
        notes = []
        if unknown:
            notes.append(
                f"{unknown} of its {source['awards']} awards {'has' if unknown == 1 else 'have'} "
                "no amount recorded: "
                + (
                    "its money is not known, so its rates are null and not ranked."
                    if amount is None
                    else "amount and the rates count the known amounts only."
                )
            )
        if code == CITY:
            notes.append(CITY_NOTE + " Met Police crime figures do not include it.")
            notes.append(city_rate_note(population))
        if offences is not None and data.crime and months < data.crime.period()["months"]:
            notes.append(f"Crime figures cover {months} of the period's months.")
        if notes:
            row["note"] = " ".join(notes)
        rows.append(row)
    with_pop = [r for r in rows if r["population"] is not None]
    with_crime = [r for r in rows if r["offences"] is not None]
    london_pop = sum(r["population"] for r in with_pop) if with_pop else None
    london_offences = sum(r["offences"] for r in with_crime) if with_crime else None

    def money(of: list[dict[str, Any]]) -> float:
        """The rows' money in pounds, summed unrounded and rounded once (a sum of the rows'
        rounded figures was pennies off: 109,391,472.31 for 109,391,472.28 on the demo)."""
        return pounds(sum(exact.get((basis, r["area"]["code"]), 0.0) for r in of))

    average = {
        "amount": money(rows),
        "population": london_pop,
        "offences": london_offences,
        "per_1000_residents": rate(money(with_pop), london_pop),
        "per_1000_offences": rate(money(with_crime), london_offences),
    }
    for row in rows:
        row["vs_london"] = {
            "per_1000_residents": ratio(row["per_1000_residents"], average["per_1000_residents"]),
            "per_1000_offences": ratio(row["per_1000_offences"], average["per_1000_offences"]),
        }
    _rank(rows, basis)
    answer: dict[str, Any] = {
        "level": level,
        "filters": summary["filters"],
        "basis": basis,
        "areas": rows,
        "london": average,
        "periods": {
            "population": population_note(data),
            "offences": data.crime.period() if data.crime else None,
            "funding": summary["filters"]["financial_year"] or "all financial years",
        },
        "wider_awards": {
            "london_wide": {k: summary["london_wide"][k] for k in ("awards", "amount")},
            "unplaced": {k: summary["unplaced"][k] for k in ("awards", "amount")},
        },
        "programmes": summary["programmes"],
        "rule": _need_rule(level, basis),
        "ranking": "rank 1 is the highest; equal values share a rank; areas without the figure "
        "are not ranked (null).",
        "apportionment": summary["apportionment"],
        "spread": summary["spread"],
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


def _offences_of(data: FundingData, snap: GeographySnapshot, code: str) -> tuple[int | None, int]:
    if data.crime is None:
        return None, 0
    boroughs = boroughs_in(snap, code)
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
        "London-wide and BCU-wide money is apportioned by population share (see apportionment; "
        "the Metropolitan Police District's money by the share of its population, so the City "
        "of London has none of it)"
        if basis == "apportioned_amount"
        else "London-wide"
        + (" and BCU-wide" if level == "borough" else "")
        + " money is not included (see wider_awards; apportion=population divides it by population)"
    )
    return (
        f"amount: {where} (shared awards divided equally); {money}. per_1000_residents = "
        f"{basis} ÷ population × 1,000; per_1000_offences = {basis} ÷ recorded offences in the "
        "offences period × 1,000. Recorded offences are every category in the Met's "
        "borough-level file over the latest 12 loaded months. london's per_1000 figures "
        "divide the money of the areas with the figure by their total: its per_1000_offences "
        "leaves out the City of London's money, as the Met's figures leave out its crime. The "
        "funding period (financial year filter, or all years) and the population and crime "
        "periods differ: see periods."
    )


def _rank(rows: list[dict[str, Any]], basis: str) -> None:
    def money(r: dict[str, Any]) -> float | None:  # (not known: every award without one)
        unknown = basis == "amount" and 0 < r["awards"] == r["awards_without_amount"]
        return None if unknown else r.get(basis)

    measures = {
        "amount": money,
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
