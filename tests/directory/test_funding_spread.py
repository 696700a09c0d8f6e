"""Funding by the years it funds (``spread=planned_dates``), on SQLite and PostgreSQL.

By default an award counts in the financial year it was decided for, whole (PCD 79's £72m
for 2017/18 to 2020/21 all in 2017/18). With the spread, an award with a planned start and
end is divided between the UK financial years its period covers, by days, in whole pence
adding up to the award; awards without both dates stay whole in their decided year.

Expected figures are worked out here from the grants' dates by :func:`parts`, which counts
the days one by one and rounds with its own largest remainder over exact fractions: it
shares nothing with the application's code."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from directory import create_app
from directory.store.models import Grant, Organisation
from directory.usecases.facts import FundingData, GrantFact
from directory.usecases.funding.years import year_parts
from tests.conftest import BACKENDS, geography_copy
from tests.directory.test_funding import CITY, CROYDON, KINGSTON, LEWISHAM, run, template_csv
from tests.directory.test_funding_headline import _db, get

SPREAD = "spread=planned_dates"
ALL = "include_other_programmes=true"

#: (service ref, coverage, programme, amount, start, end, financial year, paid through)
#: M runs over three financial years (182, 366 and 365 days: 2024 is a leap year), N over
#: two (90 and 275 days), P over two whole ones; U has no dates; R is a regrant of M.
GRANTS = [
    ("M", KINGSTON, "LCPF", "£100,000", "2022-10-01", "2025-03-31", "2022/23", ""),
    ("N", "Lewisham; Croydon", "VRU", "33333.33", "2023-01-01", "2023-12-31", "2022/23", ""),
    ("U", CITY, "surge", "5000", "", "", "2023/24", ""),
    ("P", "pan-London", "LCPF", "60,000", "2021-04-01", "2023-03-31", "2021/22", ""),
    ("R", KINGSTON, "SNB", "1000", "2023-04-01", "2024-03-31", "2023/24", "G-M"),
]


def financial_year(day: date) -> str:
    first = day.year - (day.month < 4)
    return f"{first}/{str(first + 1)[-2:]}"


def parts(
    pence: int, start: date | None, end: date | None, decided: str | None
) -> dict[str | None, int]:
    """An award's pence by financial year: by days (counted one by one) over its planned
    period, whole pence adding up to ``pence``; whole in ``decided`` without both dates."""
    if start is None or end is None or end < start:
        return {decided: pence}
    days: Counter[str | None] = Counter()
    day = start
    while day <= end:
        days[financial_year(day)] += 1
        day += timedelta(days=1)
    total = sum(days.values())
    exact = {year: Fraction(pence * n, total) for year, n in days.items()}
    out = {year: int(share) for year, share in exact.items()}  # floor: shares are ≥ 0
    by_remainder = sorted(exact, key=lambda y: (-(exact[y] - out[y]), y or ""))
    for year in by_remainder[: pence - sum(out.values())]:
        out[year] += 1
    return out if pence == 0 else {y: p for y, p in out.items() if p}


@dataclass(frozen=True)
class Row:
    ref: str
    pence: int | None
    start: date | None
    end: date | None
    financial_year: str | None
    parent: str | None
    recipient: str

    def parts(self) -> dict[str | None, int]:
        return parts(self.pence or 0, self.start, self.end, self.financial_year)


def rows(app: Flask) -> dict[str, Row]:
    """Every listed grant with its dates, from the database."""
    found = _db(
        app,
        select(
            Grant.ref, Grant.amount_pence, Grant.start, Grant.end, Grant.financial_year,
            Grant.parent_ref, Organisation.ref.label("recipient"),
        )
        .join(Organisation, Organisation.id == Grant.recipient_id)
        .where(Grant.withdrawn_at.is_(None)),
    )  # fmt: skip
    refs = {r.ref for r in found}
    return {
        r.ref: Row(
            r.ref,
            r.amount_pence,
            r.start,
            r.end,
            r.financial_year,
            r.parent_ref if r.parent_ref in refs and r.parent_ref != r.ref else None,
            r.recipient,
        )  # fmt: skip
        for r in found
    }


def counted(every: dict[str, Row], chosen: list[Row]) -> list[Row]:
    """Of the awards an answer's filters chose, those it counts: not a regrant of one of
    them (its parent, the parent's parent…)."""
    refs = {r.ref for r in chosen}

    def above_chosen(row: Row) -> bool:
        seen, up = {row.ref}, row.parent
        while up is not None and up in every and up not in seen:
            if up in refs:
                return True
            seen.add(up)
            up = every[up].parent
        return False

    return [r for r in chosen if not above_chosen(r)]


def money(pence: int) -> float:
    return round(pence / 100, 2)


@pytest.fixture(scope="module", params=BACKENDS)
def spread_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """GRANTS imported once per backend for the module."""
    tmp = tmp_path_factory.mktemp("spread")
    shared = create_app(geography_copy(request, request.param, tmp))
    path = tmp / "grants.csv"
    path.write_text(template_csv(GRANTS), encoding="utf-8")
    result = run(shared, "import", str(path))
    assert result.exit_code == 0, result.output
    yield shared
    shared.extensions["directory"].db.dispose()


def share(app: Flask, ref: str, year: str) -> int:
    return rows(app)[f"G-{ref}"].parts().get(year, 0)


# -- the template's grants ---------------------------------------------------------------------
def test_by_financial_year_puts_each_share_in_its_year(spread_app):
    every = rows(spread_app)
    assert every["G-M"].parts() == {
        "2022/23": 1_993_428,
        "2023/24": 4_008_762,
        "2024/25": 3_997_810,
    }
    whole = get(spread_app.test_client(), "/api/v1/funding/summary?by=financial_year")
    body = get(spread_app.test_client(), f"/api/v1/funding/summary?by=financial_year&{SPREAD}")
    expected: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    for row in counted(every, list(every.values())):  # R is left out: M is counted
        for year, pence in row.parts().items():
            expected[year][0] += 1
            expected[year][1] += pence
    assert [(g["financial_year"], g["awards"], g["amount"]) for g in body["groups"]] == [
        (year, n, money(p)) for year, (n, p) in sorted(expected.items(), key=lambda i: i[0] or "")
    ]
    assert body["totals"] == whole["totals"]  # every award once, in full
    assert sum(round(g["amount"] * 100) for g in body["groups"]) == round(
        body["totals"]["amount"] * 100
    )
    assert body["spread"]["method"] == "planned_dates"
    assert body["spread"]["not_spread"] == {"awards": 1, "amount": 5_000.00}  # U
    assert "divided between the UK financial years" in body["rule"]
    assert whole["spread"]["method"] == "none" and "whole amount there" in whole["rule"]


def test_a_financial_year_counts_the_years_share_of_each_award(spread_app):
    client = spread_app.test_client()
    body = get(client, f"/api/v1/funding/summary?by=borough&financial_year=2023-24&{SPREAD}")
    m, n = share(spread_app, "M", "2023/24"), share(spread_app, "N", "2023/24")
    assert (m, n) == (4_008_762, 2_511_415)
    # M's and N's shares; U whole (no dates, decided for 2023/24); P ended in 2022/23
    assert body["totals"]["awards"] == 3
    assert body["totals"]["amount"] == money(m + n + 500_000)
    boroughs = {b["area"]["code"]: b for b in body["boroughs"]}
    assert (boroughs[KINGSTON]["awards"], boroughs[KINGSTON]["amount"]) == (1, money(m))
    assert boroughs[LEWISHAM]["amount"] == boroughs[CROYDON]["amount"] == money(n / 2)
    assert boroughs[CITY]["amount"] == 5_000.00
    assert body["london_wide"]["awards"] == 0
    # R (2023/24) is paid through M, whose share is in this answer: left out, as its money
    assert body["regrants_left_out"] == {"awards": 1, "amount": 1_000.00}
    assert body["spread"]["not_spread"] == {"awards": 1, "amount": 5_000.00}
    # without the spread the year holds what was decided for it: U, and R (M is 2022/23's)
    plain = get(client, "/api/v1/funding/summary?by=borough&financial_year=2023-24")
    assert (plain["totals"]["awards"], plain["totals"]["amount"]) == (2, 6_000.00)


def test_need_per_resident_counts_the_years_share(spread_app):
    body = get(
        spread_app.test_client(),
        f"/api/v1/funding/need?level=borough&financial_year=2024-25&{SPREAD}",
    )
    areas = {a["area"]["code"]: a for a in body["areas"]}
    assert areas[KINGSTON]["amount"] == money(share(spread_app, "M", "2024/25"))
    assert body["spread"]["method"] == "planned_dates"


@pytest.mark.parametrize("value", ["years", "", "PLANNED_DATES", "planned_dates;"])
def test_an_unknown_spread_is_a_422_problem(spread_app, value):
    for path in ("summary?by=financial_year", "need?level=borough"):
        response = spread_app.test_client().get(f"/api/v1/funding/{path}&spread={value}")
        assert response.status_code == 422, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"
        assert response.json["code"] == "invalid-input" and "spread" in response.json["errors"]


# -- the demo directory ----------------------------------------------------------------------
PCD_79, PCD_310, PCD_421 = "MOPAC-DEC-026", "MOPAC-DEC-018", "MOPAC-DEC-025"


def test_pcd_79_is_spread_over_the_four_years_it_funds(shared_demo_app, shared_client):
    every = rows(shared_demo_app)
    pcd_79 = every[PCD_79]
    assert (pcd_79.start, pcd_79.end, pcd_79.pence) == (
        date(2017, 4, 1), date(2021, 3, 31), 7_200_000_000,
    )  # fmt: skip
    # 365, 365, 366 (29 February 2020) and 365 days of 1,461
    assert pcd_79.parts() == {
        "2017/18": 1_798_767_967, "2018/19": 1_798_767_967,
        "2019/20": 1_803_696_099, "2020/21": 1_798_767_967,
    }  # fmt: skip
    body = get(shared_client, f"/api/v1/funding/summary?by=financial_year&{ALL}&{SPREAD}")
    expected: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    for row in counted(every, list(every.values())):
        for year, pence in row.parts().items():
            expected[year][0] += 1
            expected[year][1] += pence
    got = {g["financial_year"]: (g["awards"], g["amount"]) for g in body["groups"]}
    assert got == {year: (n, money(p)) for year, (n, p) in expected.items()}
    assert sum(round(g["amount"] * 100) for g in body["groups"]) == round(
        body["totals"]["amount"] * 100
    )


def test_a_year_with_the_spread_holds_pcd_79s_share_and_what_it_passed_on(
    shared_demo_app, shared_client
):
    """2019/20 holds PCD 79's share; PCD 421 and PCD 310 (paid through it, funding that year
    too) are left out as its regrants, and the 32 boroughs passed on PCD 310's share."""
    every = rows(shared_demo_app)
    query = f"by=organisation&financial_year=2019-20&{ALL}&{SPREAD}"
    body = get(shared_client, f"/api/v1/funding/summary?{query}")
    year = [r for r in every.values() if "2019/20" in r.parts()]  # the awards with money in 2019/20
    kept = counted(every, year)
    assert {PCD_79} <= {r.ref for r in kept} and not {PCD_421, PCD_310} & {r.ref for r in kept}
    assert body["totals"]["awards"] == len(kept)
    assert body["totals"]["amount"] == money(sum(r.parts()["2019/20"] for r in kept))
    boroughs = next(
        g for g in body["groups"] if g["organisation"]["ref"] == every[PCD_79].recipient
    )
    own = [r for r in kept if r.recipient == every[PCD_79].recipient]
    assert boroughs["amount"] == money(sum(r.parts()["2019/20"] for r in own))
    assert boroughs["passed_on"] == {
        "awards": 1, "amount": money(every[PCD_310].parts()["2019/20"]),
    }  # fmt: skip


def test_apportioned_years_add_up_to_the_headline(shared_client):
    query = f"by=financial_year&area=Kingston&apportion=population&{SPREAD}"
    body = get(shared_client, f"/api/v1/funding/summary?{query}")
    plain = get(shared_client, query.replace(f"&{SPREAD}", "").join(
        ("/api/v1/funding/summary?", "")
    ))  # fmt: skip
    total = body["headline"]["apportionment"]["amount"]
    assert total == plain["headline"]["apportionment"]["amount"]
    assert sum(round(g["apportioned_amount"] * 100) for g in body["groups"]) == round(total * 100)
    assert len(body["groups"]) > len(plain["groups"])  # years funded, not only decided for


# -- pence adding up -----------------------------------------------------------------------
@given(
    pence=st.integers(min_value=0, max_value=10**12),
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
    days=st.integers(min_value=0, max_value=3000),
)
def test_the_parts_add_up_to_the_award_in_whole_pence(pence, start, days):
    end = start + timedelta(days=days)
    award = GrantFact(
        id=1, ref="G", programme_id=None, programme_name=None, recipient_ref="R",
        recipient_name="R", funder_ref="F", funder_name="F", amount_pence=pence, start=start,
        end=end, duration_months=None, financial_year="2000/01", areas=(), services=(),
        regrant=False, demo=False,
    )  # fmt: skip
    data = FundingData(grants=[award], programmes={}, population={}, crime=None)
    got = {p.financial_year: p.amount_pence for p in year_parts(data, award)}
    if pence == 0:
        assert got.keys() == parts(0, start, end, "").keys()  # in each year it covers
        return
    assert got == parts(pence, start, end, "")
    assert sum(got.values()) == pence
