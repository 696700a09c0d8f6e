"""Does the money track crime? ``GET /programmes/{id}/fairness`` (issue 18 §2) on SQLite and
PostgreSQL over the demo directory (the real MOPAC decisions), and Spearman's rank correlation
against hand-computed cases.

Expected figures come from the source files, not from the code under test: the money from
the curated MOPAC decisions (Safer Streets Fund Round 5, PCD 1560), the offences summed here
from the Met's borough-level crime file (and its derived 12-month totals), the populations
from the ONS mid-2022 file, BCU membership from met_bcus_boroughs.csv."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import replace
from typing import Any

import pytest

from directory.usecases.facts import GrantFact
from directory.usecases.funding.fairness import average_ranks, programme_fairness, spearman
from directory.web.state import facts, snapshot
from tests.conftest import shared_data_path

SSF = "/api/v1/programmes/home-office-safer-streets-fund-round-5/fairness"
CROYDON, ENFIELD, HARINGEY, LEWISHAM = "E09000008", "E09000010", "E09000014", "E09000023"
BROMLEY, CITY = "E09000006", "E09000001"
#: PCD 1560's 2023/24 tranches (mopac_grant_decisions_curated.csv, MOPAC-DEC-007/009/011)
MONEY_2023 = {LEWISHAM: 272_664.00, HARINGEY: 100_467.44, CROYDON: 82_500.00}
#: ONS mid-2022 (reference/london_borough_population_2022.csv)
POPULATION = {CROYDON: 392_224, HARINGEY: 261_811, LEWISHAM: 298_653}


def get(app: Any, url: str) -> Any:
    response = app.test_client().get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()


def latest_offences() -> dict[str, int]:
    """Each borough's offences, July 2025 to June 2026, summed here from the Met's monthly
    file (in the packaged snapshot too) and keyed by the ONS code of the borough's name."""
    path = shared_data_path() / "reference" / "london_borough_population_2022.csv"
    with path.open(encoding="utf-8") as handle:
        codes = {row["name"]: row["gss_code"] for row in csv.DictReader(handle)}
    by_name = offences_by_name("202507", "202606")
    return {codes[name]: n for name, n in by_name.items() if name in codes}


def offences_by_name(first: str, last: str) -> dict[str, int]:
    """Each borough's offences between two months (YYYYMM, both included), by name, summed
    here from the Met's monthly file."""
    totals: dict[str, int] = defaultdict(int)
    path = shared_data_path() / "crime" / "mps_borough_level_crime_2024-07_to_2026-06.csv"
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for month, value in row.items():
                if month.isdigit() and first <= month <= last:
                    totals[row["BOCU"]] += int(value)
    return totals


# -- the demo's real decisions ----------------------------------------------------------------
def test_safer_streets_2023_24_hand_checked(shared_demo_app):
    body = get(shared_demo_app, f"{SSF}?financial_year=2023-24")
    assert body["filters"] == {"financial_year": "2023/24", "include_regrants": False}
    (year,) = body["years"]
    assert year["financial_year"] == "2023/24"
    assert year["money"]["boroughs"] == year["money"]["compared"] == 455_631.44
    assert year["money"]["london_wide"] == 0 and year["money"]["awards"] == 3
    # the packaged crime starts 2024-07: April 2022 – March 2023 is not loaded, so the latest
    # 12 months are used and the answer says so
    assert year["offences"]["basis"] == "latest"
    assert year["offences"]["period"] == {"start": "2025-07", "end": "2026-06", "months": 12}
    assert "2022-04 to 2023-03" in year["offences"]["note"]

    offences = latest_offences()
    assert offences[CROYDON] == 34_477  # 2,605 + 1,740 + … + 11,524 (12 major categories)
    money_total = sum(MONEY_2023.values())
    offences_total = sum(offences[c] for c in MONEY_2023)
    population_total = sum(POPULATION.values())
    rows = {r["area"]["code"]: r for r in year["boroughs"]}
    assert [r["area"]["name"] for r in year["boroughs"]] == ["Croydon", "Haringey", "Lewisham"]
    for code, amount in MONEY_2023.items():
        row = rows[code]
        assert row["amount"] == amount and row["offences"] == offences[code]
        assert row["money_share"] == round(amount / money_total, 4)
        assert row["offences_share"] == round(offences[code] / offences_total, 4)
        assert row["population_share"] == round(POPULATION[code] / population_total, 4)
        assert row["gap"] == round(amount / money_total - offences[code] / offences_total, 4)
    assert rows[LEWISHAM]["money_share"] == 0.5984  # 272,664 ÷ 455,631.44
    assert rows[CROYDON]["gap"] == -0.1895  # 0.1811 of the money, 0.3706 of the offences
    # ranks: money Lewisham 1, Haringey 2, Croydon 3; offences Croydon 1 (34,477),
    # Lewisham 2 (30,273), Haringey 3 (28,287): d² = 1 + 1 + 4 = 6,
    # ρ = 1 − 6 × 6 ÷ (3 × (3² − 1)) = −0.5
    assert {c: r["rank"] for c, r in rows.items()} == {
        LEWISHAM: {"money": 1, "offences": 2},
        HARINGEY: {"money": 2, "offences": 3},
        CROYDON: {"money": 3, "offences": 1},
    }
    assert year["correlation"]["spearman"] == -0.5 and year["correlation"]["n"] == 3
    assert [b["area"]["code"] for b in year["furthest_below"]] == [CROYDON, HARINGEY]
    assert [b["area"]["code"] for b in year["furthest_above"]] == [LEWISHAM]
    # the letter's complaint, in the North BCU (Enfield, Haringey): Enfield, outer London,
    # had more recorded offences and got nothing; South (Bromley, Croydon, Sutton) and South
    # East (Bexley, Greenwich, Lewisham) have no such pair
    assert offences[ENFIELD] > offences[HARINGEY]
    assert year["within_bcu"] == [
        {
            "bcu": {"code": "bcu-north", "name": "North", "type": "bcu"},
            "borough": {
                "area": {"code": ENFIELD, "name": "Enfield", "type": "borough"},
                "amount": 0.0,
                "offences": offences[ENFIELD],
            },
            "neighbour": {
                "area": {"code": HARINGEY, "name": "Haringey", "type": "borough"},
                "amount": 100_467.44,
                "offences": offences[HARINGEY],
            },
        }
    ]
    assert (
        "not counted as 0" in body["method"] and "recorded crime is not all crime" in body["method"]
    )
    assert body["periods"]["population"]["reference_date"] == "2022-06-30"


def test_every_year_and_the_city_and_two_boroughs(shared_demo_app):
    body = get(shared_demo_app, SSF)
    assert [y["financial_year"] for y in body["years"]] == ["2023/24", "2024/25"]
    # 2024/25: money Lewisham 230,328, Croydon 165,000, Haringey 139,364.84 (ranks 1, 2, 3);
    # offences Croydon 1, Lewisham 2, Haringey 3: d² = 1 + 1 + 0, ρ = 1 − 12 ÷ 24 = 0.5
    assert body["years"][1]["correlation"]["spearman"] == 0.5
    # Surge 2020/21: the City's £250,000 has no Met crime figures; Enfield and Haringey got
    # £20,000 each, too few boroughs for a correlation and no within-BCU pair (equal money)
    surge = get(shared_demo_app, "/api/v1/programmes/surge/fairness")
    (year,) = surge["years"]
    assert [r["area"]["code"] for r in year["not_compared"]] == [CITY]
    assert year["not_compared"][0]["amount"] == 250_000
    assert "City of London Police" in year["not_compared"][0]["note"]
    # (DEC-003's three £30,000 hot-spot partnerships name no borough: unplaced, not London-wide)
    assert year["money"]["london_wide"] == 427_375 and year["money"]["compared"] == 40_000
    assert year["money"]["unplaced"] == 90_000
    assert year["correlation"] == {
        "spearman": None,
        "n": 2,
        "note": "Not meaningful with 2 boroughs compared (at least 3 are needed).",
    }
    assert [r["rank"]["money"] for r in year["boroughs"]] == [1.5, 1.5]
    assert year["within_bcu"] == []


def test_no_allocations_unknown_programme_and_a_bad_year(shared_demo_app):
    body = get(shared_demo_app, f"{SSF}?financial_year=2019/20")
    assert body["years"] == [] and "no money in boroughs in 2019/20" in body["notes"][0]
    client = shared_demo_app.test_client()
    missing = client.get("/api/v1/programmes/no-such-programme/fairness")
    assert missing.status_code == 404 and missing.json["code"] == "programme-not-found"
    assert missing.mimetype == "application/problem+json"
    bad = client.get(f"{SSF}?financial_year=2023/25")
    assert bad.status_code == 422 and list(bad.json["errors"]) == ["financial_year"]


def test_the_12_months_before_the_year_when_they_are_loaded(shared_demo_app):
    """A 2026/27 allocation is compared with April 2025 – March 2026, which the demo holds."""
    with shared_demo_app.test_request_context():
        data, snap = facts(), snapshot()

    def grant(gid: int, code: str, pounds: int) -> GrantFact:
        return GrantFact(
            id=gid, ref=f"T-{gid}", programme_id="surge", programme_name="Surge",
            recipient_ref="org:t", recipient_name="T", funder_ref="org:t", funder_name="T",
            amount_pence=pounds * 100, start=None, end=None, duration_months=None,
            financial_year="2026/27", areas=(code,), services=(), regrant=False, demo=False,
        )  # fmt: skip

    grants = [grant(-1, CROYDON, 300), grant(-2, BROMLEY, 300), grant(-3, LEWISHAM, 100)]
    own = replace(data, grants=grants, _placements={}, _widest={}, _units={}, _crime_windows={})
    (year,) = programme_fairness(own, snap, "surge")["years"]
    assert year["offences"]["basis"] == "before_year"
    assert year["offences"]["period"] == {"start": "2025-04", "end": "2026-03", "months": 12}
    offences = offences_by_name("202504", "202603")
    rows = {r["area"]["name"]: r for r in year["boroughs"]}
    for name in ("Bromley", "Croydon", "Lewisham"):
        assert rows[name]["offences"] == offences[name]
    # Bromley and Croydon share money ranks 1 and 2 (1.5 each)
    assert rows["Bromley"]["rank"]["money"] == rows["Croydon"]["rank"]["money"] == 1.5
    by_offences = sorted(rows, key=lambda n: -offences[n])
    ranks = {name: i + 1 for i, name in enumerate(by_offences)}
    assert {n: r["rank"]["offences"] for n, r in rows.items()} == ranks
    # the South BCU: Sutton (nothing) had the fewest offences, Bromley fewer than Croydon with
    # the same money, so no borough there got less than a neighbour with fewer offences
    assert offences["Sutton"] < offences["Bromley"] < offences["Croydon"]
    south_pairs = [p for p in year["within_bcu"] if p["bcu"]["name"] == "South"]
    assert south_pairs == []


# -- Spearman's rank correlation --------------------------------------------------------------
def test_average_ranks_share_ties():
    assert average_ranks([10, 30, 30, 5]) == [3, 1.5, 1.5, 4]
    assert average_ranks([7, 7, 7]) == [2, 2, 2]


@pytest.mark.parametrize(
    ("xs", "ys", "expected"),
    [
        ([1, 2, 3, 4], [10, 20, 30, 40], 1.0),
        ([1, 2, 3, 4], [40, 30, 20, 10], -1.0),
        # ranks (from the highest) x: 4, 2.5, 2.5, 1; y: 4, 2, 3, 1; centred: x −1.5 … 1.5,
        # Σxy = 2.25 + 0 + 0 + 2.25 = 4.5, Σx² = 4.5, Σy² = 5: ρ = 4.5 ÷ √22.5 = 3 ÷ √10
        ([1, 2, 2, 3], [1, 3, 2, 4], 3 / math.sqrt(10)),
        # no ties: 1 − 6Σd² ÷ n(n² − 1); ranks x 5,4,3,2,1, y 4,5,1,3,2: Σd² = 1+1+4+1+1 = 8,
        # ρ = 1 − 48 ÷ 120 = 0.6
        ([1, 2, 3, 4, 5], [2, 1, 5, 3, 4], 0.6),
        ([5, 5, 5], [1, 2, 3], None),  # no spread
        ([1], [1], None),
    ],
)
def test_spearman_against_hand_computed_cases(xs, ys, expected):
    found = spearman([float(x) for x in xs], [float(y) for y in ys])
    if expected is None:
        assert found is None
    else:
        assert found == pytest.approx(expected)
