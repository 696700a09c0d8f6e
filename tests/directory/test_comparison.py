"""A borough beside its similar boroughs and London (issue 18 §4) on SQLite and PostgreSQL,
over the demo directory's real MOPAC decisions: the similar-boroughs file, figures worked
out by hand from the demo's amounts, populations and offences, agreement with /funding/need
and /funding/summary, and the errors."""

from __future__ import annotations

import csv
from typing import Any

import pytest
from flask import Flask

from directory.data import DATA_DIR

URL = "/api/v1/areas/{}/comparison"


def _get(app: Flask, url: str, status: int = 200) -> dict[str, Any]:
    response = app.test_client().get(url)
    assert response.status_code == status, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def _measures(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["measure"]: m for m in body["measures"]}


def test_the_similar_boroughs_file_names_every_borough_once(shared_demo_app: Flask) -> None:
    with (DATA_DIR / "similar_boroughs.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    boroughs = _get(shared_demo_app, "/api/v1/areas?type=borough&per_page=100")["contents"]
    names = {a["code"]: a["name"] for a in boroughs}
    assert len(rows) == 33 == len({r["code"] for r in rows}) == len(names)
    assert {r["code"]: r["name"] for r in rows} == names
    sizes = {g: sum(r["group_code"] == g for r in rows) for g in {r["group_code"] for r in rows}}
    assert sizes == {"TLI3": 6, "TLI4": 8, "TLI5": 7, "TLI6": 5, "TLI7": 7}


def test_croydon_beside_outer_london_south_and_london(shared_demo_app: Flask) -> None:
    """Croydon's own awards are 3 for £332,500 (demo); population 392,224 (ONS mid-2022);
    34,477 offences (Met, Jul 2025 – Jun 2026). Of its ITL2 group (TLI6) only Kingston has
    money of its own: £31,250 for 168,302 residents and 11,989 offences."""
    body = _get(shared_demo_app, URL.format("Croydon"))
    assert body["area"]["code"] == "E09000008"
    assert body["classification"]["group"] == {"code": "TLI6", "name": "Outer London – South"}
    assert "Open Government Licence" in body["classification"]["licence"]
    assert [a["name"] for a in body["similar_boroughs"]] == [
        "Bromley", "Merton", "Kingston upon Thames", "Sutton",
    ]  # fmt: skip
    assert body["borough"] == {
        "awards": 3, "amount": 332500.0, "awards_without_amount": 0, "population": 392224,
        "offences": 34477,
        "awards_with_length": 3, "dated_awards": 1, "late_awards": 0,
    }  # fmt: skip
    m = _measures(body)
    residents = m["per_1000_residents"]
    assert residents["borough"] == round(332500 / 392224 * 1000, 2) == 847.73
    assert residents["similar_mean"] == pytest.approx(
        (0 + 0 + 31250 / 168302 * 1000 + 0) / 4, abs=0.01
    )
    assert residents["london"] == round(2326574.28 / 8866180 * 1000, 2)
    # above it: the City (29,501.24), Lewisham (1,985.56), Haringey (1,660.86); Greenwich,
    # whose one award has no amount recorded, is not ranked
    assert (residents["rank"], residents["ranked"]) == (4, 32)
    offences = m["per_1000_offences"]
    assert offences["borough"] == round(332500 / 34477 * 1000, 2) == 9644.11
    assert offences["similar_mean"] == pytest.approx(31250 / 11989 * 1000 / 4, abs=0.01)
    assert (offences["rank"], offences["ranked"]) == (3, 31)  # nor the City: no Met figures
    assert m["late_share"]["borough"] == 0.0
    for measure in m.values():
        assert measure["rule"] and measure["period"].startswith("awards: all financial years")
    assert "2022-06-30" in residents["period"]
    assert "2025-07 to 2026-06 (12 months)" in offences["period"]


def test_the_figures_agree_with_need_and_summary(shared_demo_app: Flask) -> None:
    need = {a["area"]["code"]: a for a in _get(shared_demo_app, "/api/v1/funding/need")["areas"]}
    summary = _get(shared_demo_app, "/api/v1/funding/summary?by=borough")["boroughs"]
    lengths = {b["area"]["code"]: b for b in summary}
    london = _get(shared_demo_app, "/api/v1/funding/need")["london"]
    for code in ("E09000014", "E09000023", "E09000001", "E09000033"):
        body = _get(shared_demo_app, URL.format(code))
        m = _measures(body)
        assert body["borough"]["amount"] == need[code]["amount"] == lengths[code]["amount"]
        assert body["borough"]["awards"] == lengths[code]["awards"]
        for name in ("per_1000_residents", "per_1000_offences"):
            assert m[name]["borough"] == need[code][name]
            assert m[name]["rank"] == need[code]["rank"][name]
            assert m[name]["london"] == london[name]
        assert m["median_months"]["borough"] == lengths[code]["median_months"]
        assert m["share_36_plus"]["borough"] == lengths[code]["share_36_plus"]


def test_a_financial_year_is_applied_and_stated(shared_demo_app: Flask) -> None:
    need = _get(shared_demo_app, "/api/v1/funding/need?financial_year=2024-25")
    row = next(a for a in need["areas"] if a["area"]["code"] == "E09000014")
    body = _get(shared_demo_app, URL.format("Haringey") + "?financial_year=FY24/25")
    assert body["filters"]["financial_year"] == "2024/25" == body["periods"]["funding"]
    m = _measures(body)
    assert m["per_1000_residents"]["borough"] == row["per_1000_residents"]
    assert m["per_1000_residents"]["london"] == need["london"]["per_1000_residents"]
    assert all(x["period"].startswith("awards: 2024/25") for x in body["measures"])


def test_a_borough_without_awards_answers_nulls_and_a_note(shared_demo_app: Flask) -> None:
    body = _get(shared_demo_app, URL.format("E09000003"))  # Barnet: no awards of its own
    m = _measures(body)
    assert body["borough"]["awards"] == 0 and m["per_1000_residents"]["borough"] == 0.0
    assert m["median_months"]["borough"] is None and m["late_share"]["borough"] is None
    assert m["late_share"]["rank"] is None
    assert "No awards" in body["notes"][0]


def test_awards_without_an_amount_are_not_money_of_0(shared_demo_app: Flask) -> None:
    """A borough whose every award has no amount recorded (the demo's Safer Greenwich
    decision, "amounts not stated") has no money figure: its rates are null and unranked,
    with a note, where until 6 December it ranked with the boroughs that have no award."""
    need = _get(shared_demo_app, "/api/v1/funding/need?level=borough")
    unknown = [r for r in need["areas"] if 0 < r["awards"] == r["awards_without_amount"]]
    assert unknown, "the demo has a borough whose awards have no amount"
    for row in need["areas"]:
        if row in unknown:
            assert row["per_1000_residents"] is None and row["per_1000_offences"] is None
            assert row["rank"]["amount"] is None and row["rank"]["per_1000_residents"] is None
            assert "no amount recorded" in row["note"]
        elif row["population"] is not None:
            assert row["per_1000_residents"] is not None and row["rank"]["amount"] is not None
    code = unknown[0]["area"]["code"]
    body = _get(shared_demo_app, URL.format(code))
    assert body["borough"]["awards_without_amount"] == body["borough"]["awards"] > 0
    assert _measures(body)["per_1000_residents"]["borough"] is None
    assert any("no amount recorded" in note for note in body["notes"])


@pytest.mark.parametrize(
    ("code", "status", "problem"),
    [
        ("E05013938", 422, "invalid-input"),  # a ward
        ("bcu-south-west", 422, "invalid-input"),
        ("E12000007", 422, "invalid-input"),  # London
        ("Nowhere", 404, "area-not-found"),
        ("Croydon/comparison?financial_year=2021-23", 422, "invalid-input"),
        ("Croydon/comparison?colour=red", 400, None),
    ],
)
def test_bad_requests_are_problems(shared_demo_app: Flask, code: str, status: int, problem: str | None) -> None:  # fmt: skip
    url = f"/api/v1/areas/{code}" if "?" in code else URL.format(code)
    response = shared_demo_app.test_client().get(url)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    if problem:
        assert response.get_json()["code"] == problem
