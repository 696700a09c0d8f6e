"""A funding analyst's checks of the demo's money, on SQLite and PostgreSQL: a multi-year
award counts wholly in its first financial year and the answer says so; London's total of
apportioned rows is the exact sum rounded once; the City of London's rate per resident
carries a note saying why it is not comparable. Expected figures are worked out here from the
grant rows and populations (:func:`read_awards`), not from the application's facts."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.directory.test_funding_headline import Oracle, get, read_awards

ALL = "include_other_programmes=true"
CITY = "E09000001"
PCD_79 = "MOPAC-DEC-026"  # LCPF 2017/18 to 2020/21, £72m


@pytest.fixture()
def demo(shared_demo_app: Flask) -> Oracle:
    return read_awards(shared_demo_app, Oracle)


# -- a multi-year award in its first financial year ----------------------------------------------
def test_a_multi_year_award_counts_wholly_in_its_first_year_and_the_rule_says_so(
    shared_client, demo
):
    (pcd_79,) = [a for a in demo.every if a.ref == PCD_79]
    assert (pcd_79.financial_year, pcd_79.pence) == ("2017/18", 7_200_000_000)
    body = get(shared_client, "/api/v1/funding/summary?by=financial_year&programme=lcpf-direct")
    years = {g["financial_year"]: g["amount"] for g in body["groups"]}
    first = [
        a for a in demo.every if a.programme == "lcpf-direct" and a.financial_year == "2017/18"
    ]
    assert years["2017/18"] == pytest.approx(sum(a.pence for a in first) / 100, abs=0.005)
    assert years["2017/18"] >= 72_000_000
    assert "counts in the financial year it was decided for, its first" in body["rule"]
    for query in ("by=programme&financial_year=2018-19", "by=borough&financial_year=2017-18"):
        rule = get(shared_client, f"/api/v1/funding/summary?{query}")["rule"]
        assert "however many years it runs" in rule, query
    assert (
        "however many years" not in get(shared_client, "/api/v1/funding/summary?by=borough")["rule"]
    )


# -- London's total of apportioned rows ------------------------------------------------------
@pytest.mark.parametrize("level", ["borough", "bcu"])
def test_londons_apportioned_total_is_the_exact_sum_rounded_once(shared_client, demo, level):
    """Apportioned by population, every pound placed in London is shared out among the areas
    whole (the shares of London's, the District's and each BCU's population each add up to
    1), so London's total is the money of every award naming a London area."""
    body = get(shared_client, f"/api/v1/funding/need?level={level}&apportion=population&{ALL}")
    placed = [a for a in demo.awards if a.areas & demo.kind.keys()]
    if level == "borough":
        assert body["london"]["amount"] == round(sum(a.pence for a in placed) / 100, 2)
    else:  # the City of London is in no BCU: its own awards and its share of London's are not
        assert body["london"]["amount"] < round(sum(a.pence for a in placed) / 100, 2)
    rows = sum(r["apportioned_amount"] for r in body["areas"])
    assert body["london"]["amount"] == pytest.approx(rows, abs=0.01 * len(body["areas"]))


def test_the_demos_london_figure_is_the_analysts(shared_client):
    """Summing the 33 rounded rows gave £109,391,472.31; the exact figure is .28."""
    body = get(shared_client, "/api/v1/funding/need?apportion=population")
    assert body["london"]["amount"] == 109_391_472.28


# -- the City of London's rate per resident ---------------------------------------------------
def test_the_city_tops_the_ranking_per_resident_with_a_note_saying_why(shared_client, demo):
    body = get(shared_client, "/api/v1/funding/need")
    city = next(r for r in body["areas"] if r["area"]["code"] == CITY)
    assert city["rank"]["per_1000_residents"] == 1  # ranked as it falls
    assert city["population"] == demo.population[CITY]
    assert "per_1000_residents is not comparable" in city["note"]
    assert f"about {round(demo.population[CITY], -2):,} residents" in city["note"]
    assert "City of London Police" in city["note"]
    others = [r for r in body["areas"] if r["area"]["code"] != CITY]
    assert all("not comparable" not in (r.get("note") or "") for r in others)
    comparison = get(shared_client, f"/api/v1/areas/{CITY}/comparison")
    assert any("per_1000_residents is not comparable" in n for n in comparison["notes"])
