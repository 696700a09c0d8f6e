"""Programmes: their published allocation formulas (``directory/data/formulas.toml``)
beside the allocations actually made.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from datetime import date
from functools import cache
from typing import Any

from directory.data import DATA_DIR
from directory.data.community_safety import classify
from directory.ingest.context import programmes as known_programmes
from directory.settings import Settings
from directory.usecases.catalogue import area_ref, grant_flags
from directory.usecases.facts import FundingData, GrantFact
from directory.usecases.funding.awards import (
    ALL_PROGRAMMES_RULE,
    PLACEMENT_RULE,
    Stats,
    codes_of_type,
    community_safety_rule_text,
    count_once,
    london_key,
    named_programme_rule,
    placed,
    population_note,
    population_of,
    pounds,
)
from directory.usecases.geography import LONDON, GeographySnapshot
from directory.usecases.pagination import envelope
from directory.usecases.vocabulary import unknown_programme


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
                "description": row.description, "community_safety": bool(row.community_safety),
                "stored_formula": row.formula}  # fmt: skip
    # not held yet (no import since it was added): classified as an import would
    if programme_id in known:
        p = known[programme_id]
        return {"id": p.id, "name": p.name, "funder_ref": p.funder_ref,
                "description": p.description,
                "community_safety": classify(p.id, p.name, p.funder_ref),
                "stored_formula": None}  # fmt: skip
    if programme_id in formulas():
        f = formulas()[programme_id]
        name = f.get("name", programme_id)
        return {"id": programme_id, "name": name, "funder_ref": None, "description": None,
                "community_safety": classify(programme_id, name, None),
                "stored_formula": None}  # fmt: skip
    return None


def _formula_of(info: dict[str, Any]) -> dict[str, Any] | None:
    documented = formulas().get(info["id"])
    if documented is not None:
        return {**documented, "documented_in": "directory/data/formulas.toml"}
    if info.get("stored_formula"):
        return {**info["stored_formula"], "documented_in": "programme.formula (from a source)"}
    return None


def list_programmes(
    data: FundingData, *, page: int, per_page: int, include_regrants: bool = False,
    include_other_programmes: bool = False,
) -> dict[str, Any]:  # fmt: skip
    ids = set(data.programmes) | {p.id for p in known_programmes()} | set(formulas())
    infos = {pid: info for pid in ids if (info := _programme_info(data, pid)) is not None}
    # one answer over the programmes it lists (community safety, or all), as
    # /funding/summary?by=programme: a regrant paid through an award of a listed programme
    # is counted in that one's figures, not again in its own
    held = [g for g in data.grants if g.programme_id in infos]
    listed = [
        g for g in held
        if include_other_programmes or infos[g.programme_id or ""]["community_safety"]
    ]  # fmt: skip
    stats: dict[str, list[GrantFact]] = defaultdict(list)
    for g in listed if include_regrants else count_once(listed)[0]:
        stats[g.programme_id or ""].append(g)
    if not include_other_programmes:  # the others as include_other_programmes=true has them
        for g in held if include_regrants else count_once(held)[0]:
            if not infos[g.programme_id or ""]["community_safety"]:
                stats[g.programme_id or ""].append(g)
    items = []
    others: list[str] = []
    for pid, info in infos.items():
        grants = stats.get(pid, [])
        if not info["community_safety"] and not include_other_programmes:
            others.append(pid)
            continue
        years = sorted({g.financial_year for g in grants if g.financial_year})
        formula = formulas().get(pid)
        items.append({
            "id": pid,
            "name": info["name"],
            "funder_ref": info["funder_ref"],
            "description": info["description"],
            "community_safety": info["community_safety"],
            "awards": len(grants),
            "amount": pounds(sum(g.amount_pence or 0 for g in grants)),
            "financial_years": {"first": years[0], "last": years[-1]} if years else None,
            "allocation": formula.get("allocation") if formula else None,
            "formula_documented": formula is not None,
            "formula_status": formula.get("status") if formula else None,
            "url": f"/api/v1/programmes/{pid}",
        })  # fmt: skip
    items.sort(key=lambda i: (-i["amount"], i["id"]))
    total = len(items)
    body = envelope(items[(page - 1) * per_page : page * per_page], total_items=total, page=page,
                    per_page=per_page)  # fmt: skip
    if include_other_programmes:
        body["programmes"] = {"counted": "all", "rule": ALL_PROGRAMMES_RULE}
    else:
        left_out = [g for pid in others for g in stats.get(pid, [])]
        body["programmes"] = {
            "counted": "community_safety",
            "rule": community_safety_rule_text(),
            "other_programmes": {
                "programmes": len(others),
                "awards": len(left_out),
                "amount": pounds(sum(g.amount_pence or 0 for g in left_out)),
            },
        }
    return body


def programme_detail(
    data: FundingData, snap: GeographySnapshot, settings: Settings, today: date,
    programme_id: str, *, include_regrants: bool = False,
) -> dict[str, Any]:  # fmt: skip
    info = _programme_info(data, programme_id)
    if info is None:
        held = {pid: row.name for pid, row in data.programmes.items()}
        raise unknown_programme(programme_id, held)
    grants = [g for g in data.grants if g.programme_id == programme_id]
    if not include_regrants:
        grants = count_once(grants)[0]
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
        "programmes": {
            "counted": "named",
            "rule": named_programme_rule(programme_id, info["community_safety"]),
        },
        "rule": PLACEMENT_RULE,
        "comparison": "Each borough's share of the money placed in boroughs, beside its share "
        "of London's population and of recorded offences (latest loaded figures), so the "
        "allocation can be compared with what the formula says it weighs.",
        "periods": {
            "population": population_note(data),
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
        for kind, code, share in placed(data, g, snap, "borough"):
            groups[london_key(kind, code)].add(g, flags[g.id], share)

    def brief(s: Stats) -> dict[str, Any]:
        return {"awards": s.awards, "amount": pounds(s.pence), "shared_awards": s.shared}

    borough_codes = codes_of_type(snap, "borough", None)
    placed_pence = sum(
        groups[("borough", c)].pence for c in borough_codes if ("borough", c) in groups
    )
    crime_total = sum(data.crime.totals.values()) if data.crime else 0
    london_pop = population_of(data, snap, LONDON)
    boroughs = []
    for code in borough_codes:
        s = groups.get(("borough", code))
        if compact and s is None:
            continue
        s = s or Stats()
        row: dict[str, Any] = {"area": area_ref(snap, code), **brief(s)}
        if not compact:
            population = population_of(data, snap, code)
            offences = data.crime.totals.get(code) if data.crime else None
            row["share_of_borough_money"] = (
                round(s.pence / placed_pence, 4) if placed_pence else None
            )
            row["population_share"] = (  # (to 4 places, as the money and offence shares)
                round(population / london_pop, 4) if population and london_pop else None
            )
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
