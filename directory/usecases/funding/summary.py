"""``GET /funding/summary``: awards, money and award lengths grouped by area, programme,
financial year or recipient.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from directory.errors import InvalidInputError
from directory.settings import Settings
from directory.usecases.catalogue import area_ref, grant_flags
from directory.usecases.facts import FundingData, GrantFact
from directory.usecases.funding.awards import (
    FINANCIAL_YEAR_RULE,
    PLACEMENT_RULE,
    REGRANT_RULE,
    Stats,
    ancestors,
    bcu_of,
    check_choice,
    codes_of_type,
    left_out_body,
    placed,
    population_note,
    population_of,
    pounds,
    programmes_answer,
    selection,
    split_grants,
)
from directory.usecases.funding.headline import (
    Scopes,
    apportioned_shares,
    headline,
    scopes,
    scopes_present,
)
from directory.usecases.funding.money import pence_adding_up
from directory.usecases.funding.years import (
    SPREAD_RULE,
    SPREADS,
    not_spread_body,
    spread_over_years,
)
from directory.usecases.geography import CITY_NOTE, LONDON, MPD, GeographySnapshot

SUMMARY_BY = ("borough", "bcu", "ward", "programme", "financial_year", "organisation")
APPORTION = ("none", "population")

NO_SPREAD_RULE = (
    "Nothing is spread: an award counts in the financial year it was decided for, its whole "
    "amount there. Ask spread=planned_dates to divide each award between the financial years "
    "its planned dates cover."
)

AREA_FILTER_RULE = (
    "With area, the awards counted in totals and groups are those whose beneficiary areas are "
    "the area, an area inside it or an area above it: London-wide and BCU-wide awards "
    "reaching the area are counted there in full, not as the area's share. headline keeps "
    "the area's own awards apart from the wider ones (each group's scopes likewise): compare "
    "areas by headline.own."
)
APPORTION_RULE = (
    "apportioned_amount = the area's own amount + London-wide money × the area's share of "
    "London's population + money for the Metropolitan Police District (E23000001, London but "
    "the City: london_wide.police_district) × the area's share of the District's population, "
    "which the City of London has none of + BCU-wide money × the borough's share of its BCU's "
    "population (by=bcu: London-wide money × the BCU's share of London's population, the "
    "District's money × its share of the District's; the City of London's share of London's "
    "stays with the City, which is in no BCU). Populations are the latest "
    "loaded estimates. This is an illustration of where pan-London and BCU-wide money might "
    "be spent, not a record of where it was spent."
)


# -- GET /funding/summary ----------------------------------------------------------------------
def funding_summary(
    data: FundingData, snap: GeographySnapshot, settings: Settings, today: date, *,
    by: str, programme: str | None = None, financial_year_text: str | None = None,
    area: str | None = None, live_on: date | None = None, apportion: str = "none",
    include_regrants: bool = False, include_other_programmes: bool = False,
    spread: str = "none", exact: dict[tuple[str, str], float] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The summary; by=borough or bcu with ``exact``, each row's amount and
    apportioned_amount in pence unrounded, keyed (member, area code), for a total over rows
    that is rounded once (/funding/need's London). With spread=planned_dates a financial
    year counts each award's share of it, and by=financial_year puts each share in its year
    (funding/years.py): every other figure is made from those shares as it is from whole
    awards."""
    check_choice("by", by, SUMMARY_BY)
    check_choice("apportion", apportion, APPORTION)
    check_choice("spread", spread, SPREADS)
    spreading = spread == "planned_dates"
    sel = selection(data, snap, programme=programme, financial_year_text=financial_year_text,
                     area=area, live_on=live_on, include_regrants=include_regrants,
                     include_other_programmes=include_other_programmes,
                     spread=spreading)  # fmt: skip
    _check_apportion(snap, by, sel.area, apportion)
    grants, left_out = split_grants(data, snap, sel)
    found = scopes(grants, snap, sel.area, data._widest) if sel.area is not None else None
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
        "programmes": programmes_answer(data, snap, sel),
    }
    if not include_regrants:
        answer["regrants_left_out"] = left_out_body(left_out)
    answer["spread"] = (
        {"method": "planned_dates", "rule": SPREAD_RULE, "not_spread": not_spread_body(grants)}
        if spreading
        else {"method": "none", "rule": NO_SPREAD_RULE}
    )
    shares = None
    if sel.area is not None and found is not None:  # found is None without an area
        if apportion == "population":
            shares = apportioned_shares(data, snap, grants, sel.area)
        answer["headline"] = headline(
            snap, grants, sel.area, found, data=data, apportion=apportion, shares=shares
        )
    years = by == "financial_year" or sel.financial_year is not None
    year_rule = [SPREAD_RULE if spreading else FINANCIAL_YEAR_RULE] if years else []
    if by in ("programme", "financial_year", "organisation"):
        present = scopes_present(snap, sel.area) if sel.area is not None else ()
        # by=financial_year with the spread: each award's part in each year it has money in
        spread_here = spreading and by == "financial_year" and sel.financial_year is None
        parts = spread_over_years(data, grants) if spread_here else grants
        answer["groups"] = _simple_groups(parts, flags, by, found, present)
        if by == "organisation":
            _passed_on(answer["groups"], grants, left_out)
        if apportion == "population":
            total = answer["headline"]["apportionment"]["amount"]
            _apportion_groups(answer["groups"], grants, parts, by, shares, total)
        rules = [AREA_FILTER_RULE] if sel.area is not None else []
        answer["rule"] = " ".join([*rules, *year_rule, REGRANT_RULE])
        return answer
    answer["rule"] = " ".join([PLACEMENT_RULE, *year_rule])
    answer.update(_area_groups(data, grants, flags, snap, by, sel.area, apportion, exact))
    return answer


def _check_apportion(snap: GeographySnapshot, by: str, area: str | None, apportion: str) -> None:
    """apportion=population needs populations: by=borough or by=bcu, or the headline of a
    borough, a BCU, the Metropolitan Police District or London (there are no ward
    populations)."""
    if apportion != "population" or by in ("borough", "bcu"):
        return
    if by != "ward" and area is not None and snap.areas[area].type != "ward":
        return
    message = (
        "apportion=population applies to by=borough or by=bcu, or with area a borough, BCU, "
        "the Metropolitan Police District or London (its headline); there are no ward "
        "populations."
    )
    raise InvalidInputError(message, errors={"apportion": [message]})


def _group_key(g: GrantFact, by: str) -> Any:
    if by == "programme":
        return g.programme_id
    if by == "financial_year":
        return g.financial_year
    return g.recipient_ref


def _simple_groups(
    grants: list[GrantFact], flags: dict[int, Any], by: str,
    found: Scopes | None = None, present: tuple[str, ...] = (),
) -> list[dict[str, Any]]:  # fmt: skip
    """The groups of by=programme, financial_year or organisation; with an area (``found``,
    each award's scope there) each group's awards and money by scope, as in the headline,
    so that a chart never shows wider money as the area's own."""
    groups: dict[Any, Stats] = defaultdict(Stats)
    labels: dict[Any, Any] = {}
    by_scope: dict[Any, dict[str, list[float]]] = defaultdict(
        lambda: {s: [0, 0.0] for s in present}
    )
    for g in grants:
        key = _group_key(g, by)
        if by == "programme":
            labels[key] = (
                {"id": g.programme_id, "name": g.programme_name} if g.programme_id else None
            )
        elif by == "financial_year":
            labels[key] = g.financial_year
        else:
            labels[key] = {"ref": g.recipient_ref, "name": g.recipient_name}
        groups[key].add(g, flags[g.id])
        if found is not None:
            cell = by_scope[key].setdefault(found[g.id][0], [0, 0.0])
            cell[0] += 1
            cell[1] += g.amount_pence or 0
    if by == "financial_year":
        order = sorted(groups, key=lambda k: (k is None, k or ""))
    else:
        order = sorted(groups, key=lambda k: (-groups[k].pence, k is None, str(k)))
    out = [{by: labels[k], **groups[k].body()} for k in order]
    if found is not None:
        for k, group in zip(order, out, strict=True):
            group["scopes"] = {
                s: {"awards": int(n), "amount": pounds(p)} for s, (n, p) in by_scope[k].items()
            }
    return out


def _passed_on(
    groups: list[dict[str, Any]], grants: list[GrantFact], left_out: list[GrantFact]
) -> None:  # fmt: skip
    """Each organisation's passed_on: the awards of the answer (counted, or left out as
    regrants) paid through one of its awards counted here (their parent) to another
    organisation. Its amount credits the recipient with the whole of each award, an
    intermediary's too (a Safer Neighbourhood Board's fund, then its grants to charities),
    so this keeps what it passed on in sight without changing amount; an award paid on to
    the same organisation (a later decision drawing on the same budget) is not passed on.
    Its for_onward_distribution: its counted awards made to it to pay on as grants (those
    carrying a 360Giving Regrant Type), whether or not the directory holds those grants:
    a fund held by a community foundation shows there though none of its grants is listed."""
    holder = {g.id: g.recipient_ref for g in grants}
    passed: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for g in (*grants, *left_out):
        parent = holder.get(g.paid_through[0]) if g.paid_through else None
        if parent is not None and parent != g.recipient_ref:
            passed[parent][0] += 1
            passed[parent][1] += g.amount_pence or 0
    for group in groups:
        awards, pence = passed.get(group["organisation"]["ref"], (0, 0.0))
        group["passed_on"] = {"awards": int(awards), "amount": pounds(pence)}
    onward: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for g in grants:
        if g.regrant_type is not None:
            onward[g.recipient_ref][0] += 1
            onward[g.recipient_ref][1] += g.amount_pence or 0
    for group in groups:
        awards, pence = onward.get(group["organisation"]["ref"], (0, 0.0))
        group["for_onward_distribution"] = {"awards": int(awards), "amount": pounds(pence)}


def _apportion_groups(
    groups: list[dict[str, Any]], grants: list[GrantFact], parts: list[GrantFact], by: str,
    shares: dict[int, float] | None, total: float | None,
) -> None:  # fmt: skip
    """Each group's apportioned_amount: its awards' parts (``shares``, the headline's rule)
    summed in pence and rounded so that the groups add up to the headline's amount
    (``total``, pounds), each award being in one group, or (``parts``, by=financial_year
    with the spread) divided between its years as its money is; null when the headline has
    none."""
    if shares is None or total is None:
        for group in groups:
            group["apportioned_amount"] = None
        return
    whole = {g.id: g.amount_pence for g in grants}
    exact: dict[Any, float] = defaultdict(float)
    for g in parts:
        fraction = g.amount_pence / whole[g.id] if g.amount_pence and whole[g.id] else 1.0
        exact[_group_key(g, by)] += shares[g.id] * fraction
    keys = [_label_key(group, by) for group in groups]
    pence = pence_adding_up([exact[k] for k in keys], round(total * 100))
    for group, part in zip(groups, pence, strict=True):
        group["apportioned_amount"] = part / 100


def _label_key(group: dict[str, Any], by: str) -> Any:
    """The key of ``_group_key`` a group's label stands for."""
    label = group[by]
    if by == "programme":
        return label["id"] if label else None
    if by == "organisation":
        return label["ref"]
    return label


def _area_groups(
    data: FundingData, grants: list[GrantFact], flags: dict[int, Any], snap: GeographySnapshot,
    by: str, area: str | None, apportion: str, exact: dict[tuple[str, str], float] | None = None,
) -> dict[str, Any]:  # fmt: skip
    exact = {} if exact is None else exact
    groups: dict[tuple[str, str | None], Stats] = defaultdict(Stats)
    london = Stats()  # London's and the Metropolitan Police District's: london_wide
    for g in grants:
        for kind, code, share in placed(data, g, snap, by):
            groups[(kind, code)].add(g, flags[g.id], share)
            if kind == "london":
                london.add(g, flags[g.id], share)
    wide = {code: s for (kind, code), s in groups.items() if kind == "london" and code}
    bcu_wide = {code: s for (kind, code), s in groups.items() if kind == "bcu" and by != "bcu"}
    out: dict[str, Any] = {}
    main_kind = {"borough": "borough", "ward": "ward", "bcu": "bcu"}[by]
    if by == "ward":
        codes = sorted(
            (c for (k, c) in groups if k == "ward" and c is not None),
            key=lambda c: (snap.areas[c].name, c),
        )
    else:
        codes = codes_of_type(snap, main_kind, area)
    rows = []
    for code in codes:
        stats = groups.get((main_kind, code), Stats())
        exact[("amount", code)] = stats.pence
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
    if MPD in snap.areas:
        district = groups.get(("london", MPD), Stats())
        out["london_wide"]["police_district"] = {
            "area": area_ref(snap, MPD),
            "awards": district.awards,
            "amount": pounds(district.pence),
        }
    out["unplaced"] = groups.get(("unplaced", None), Stats()).body()
    out["apportionment"] = _apportion(data, snap, out, by, wide, bcu_wide, apportion, exact)
    return out


def _apportion(
    data: FundingData, snap: GeographySnapshot, out: dict[str, Any], by: str,
    wide: dict[str, Stats], bcu_wide: dict[str | None, Stats], apportion: str,
    exact: dict[tuple[str, str], float],
) -> dict[str, Any]:  # fmt: skip
    """Each row's apportioned_amount: its own money and its population share of the wide
    money above it (``wide``: London's, the Metropolitan Police District's) and of its
    BCU's."""
    if apportion != "population":
        return {
            "method": "none",
            "rule": "Nothing is apportioned: London-wide and BCU-wide money is reported at its "
            "own scope only. Ask apportion=population (by=borough or by=bcu) to divide it by "
            "population share.",
        }
    london_pop = population_of(data, snap, LONDON)
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
    wide_pop = {code: population_of(data, snap, code) for code in wide}
    for row in rows:
        code = row["area"]["code"]
        pop = population_of(data, snap, code) or 0
        pence = exact.get(("amount", code), row["amount"] * 100)
        for above in ancestors(snap, code):
            if above in wide and (above_pop := wide_pop[above]):
                pence += wide[above].pence * pop / above_pop
        if by == "borough":
            bcu = bcu_of(snap, code)
            if bcu is not None and bcu in bcu_wide:
                bcu_pop = population_of(data, snap, bcu)
                if bcu_pop:
                    pence += bcu_wide[bcu].pence * pop / bcu_pop
        row["apportioned_amount"] = pounds(pence)
        exact[("apportioned_amount", code)] = pence
    return {
        "method": "population",
        "available": True,
        "rule": APPORTION_RULE,
        "population": population_note(data),
        "london_population": london_pop,
    }
