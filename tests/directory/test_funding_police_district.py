"""Money for the 32 London boroughs is the Metropolitan Police District's, not London's, on
SQLite and PostgreSQL.

MOPAC's direct LCPF borough funding (and the SNB fund, the boroughs' safeguarding budget) is
for "the 32 London boroughs": the City of London, policed by the City of London Police and in
no Met BCU, receives none of it. The demo directory recorded those decisions for London
(E12000007), so the City's headline, its population share, its grants and its patch all
counted them. They are now for the Metropolitan Police District (E23000001, London but the
City): wide money above each of the 32 boroughs as London-wide money is, and nothing of the
City's. Expected figures are worked out here from the grant rows, areas and populations in the
database, not from the application's facts."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from directory.cli import cli
from directory.ingest.template import HEADINGS
from tests.directory.test_funding_headline import Award, Oracle, get, read_awards

LONDON, DISTRICT, CITY = "E12000007", "E23000001", "E09000001"
LAMBETH, CENTRAL_SOUTH = "E09000022", "bcu-central-south"
#: the demo's decisions for "London-wide (32 boroughs)" (mopac_grant_decisions_curated.csv)
DISTRICT_DECISIONS = {
    "MOPAC-DEC-020", "MOPAC-DEC-025", "MOPAC-DEC-026", "MOPAC-DEC-027", "MOPAC-DEC-028",
    "MOPAC-DEC-029",
}  # fmt: skip
ALL = "include_other_programmes=true"


@dataclass(frozen=True)
class Held(Oracle):
    """The awards counted by default (regrants left out), the area tree and populations."""

    def naming(self, code: str) -> list[Award]:
        return [a for a in self.awards if code in a.areas]

    def population_of(self, code: str) -> int:
        """A borough's estimate, or the sum over the boroughs inside an area."""
        if self.kind[code] == "borough":
            return self.population[code]
        return sum(v for b, v in self.population.items() if self.inside(b, code))


def held(app: Flask) -> Held:
    return read_awards(app, Held)


def pounds(awards: list[Award]) -> float:
    return sum(a.pence for a in awards) / 100


@pytest.fixture()
def demo(shared_demo_app: Flask) -> Held:
    return held(shared_demo_app)


# -- the demo ------------------------------------------------------------------------------
def test_the_demo_records_the_32_boroughs_decisions_for_the_district(shared_client, demo):
    named = {a.ref for a in demo.naming(DISTRICT)}
    assert named == DISTRICT_DECISIONS - {"MOPAC-DEC-025"}  # (a regrant of DEC-026)
    for ref in DISTRICT_DECISIONS:
        areas = get(shared_client, f"/api/v1/grants/{ref}")["beneficiary_areas"]
        assert [a["code"] for a in areas] == [DISTRICT], ref
    # a London-wide decision that does not say "32 boroughs" keeps London
    areas = get(shared_client, "/api/v1/grants/MOPAC-DEC-016")["beneficiary_areas"]
    assert [a["code"] for a in areas] == [LONDON]


def test_the_citys_headline_has_none_of_the_districts_money_and_a_boroughs_all(shared_client, demo):
    city = get(shared_client, f"/api/v1/funding/summary?by=programme&area={CITY}&{ALL}")["headline"]
    assert city["london_wide"]["amount"] == pytest.approx(pounds(demo.naming(LONDON)), abs=0.01)
    assert city["london_wide"]["awards"] == len(demo.naming(LONDON))
    assert [a["code"] for a in city["london_wide"]["areas"]] == [LONDON]
    reaching = [a for a in demo.awards if a.areas & {CITY, LONDON}]
    assert city["reaching"]["amount"] == pytest.approx(pounds(reaching), abs=0.01)
    lambeth = get(shared_client, f"/api/v1/funding/summary?by=programme&area={LAMBETH}&{ALL}")
    wide = demo.naming(LONDON) + demo.naming(DISTRICT)
    head = lambeth["headline"]["london_wide"]
    assert head["amount"] == pytest.approx(pounds(wide), abs=0.01)
    assert {a["code"] for a in head["areas"]} == {LONDON, DISTRICT}
    assert "Metropolitan Police District" in lambeth["headline"]["rule"]
    assert "Metropolitan Police District" not in city["rule"]
    # a City ward likewise
    ward = min(c for c, p in demo.parent.items() if p == CITY)
    head = get(shared_client, f"/api/v1/funding/summary?by=programme&area={ward}&{ALL}")["headline"]
    assert head["london_wide"]["amount"] == pytest.approx(pounds(demo.naming(LONDON)), abs=0.01)


def test_apportion_divides_the_districts_money_among_its_boroughs_only(shared_client, demo):
    body = get(shared_client, f"/api/v1/funding/summary?by=borough&apportion=population&{ALL}")
    rows = {r["area"]["code"]: r for r in body["boroughs"]}
    london_money, district_money = pounds(demo.naming(LONDON)), pounds(demo.naming(DISTRICT))
    london_pop, district_pop = demo.population_of(LONDON), demo.population_of(DISTRICT)
    assert district_pop == london_pop - demo.population[CITY]
    city = rows[CITY]
    assert city["apportioned_amount"] == pytest.approx(
        city["amount"] + london_money * demo.population[CITY] / london_pop, abs=0.02
    )
    bcu_wide = {b["area"]["code"]: b["amount"] for b in body["bcu_wide"]}
    pop = demo.population[LAMBETH]
    expected = (
        rows[LAMBETH]["amount"]
        + bcu_wide.get(CENTRAL_SOUTH, 0.0) * pop / demo.population_of(CENTRAL_SOUTH)
        + london_money * pop / london_pop
        + district_money * pop / district_pop
    )
    assert rows[LAMBETH]["apportioned_amount"] == pytest.approx(expected, abs=0.02)
    # every pound is counted once: the boroughs' shares add up to the money placed
    placed = sum(r["amount"] for r in rows.values()) + sum(bcu_wide.values())
    assert sum(r["apportioned_amount"] for r in rows.values()) == pytest.approx(
        placed + london_money + district_money, abs=1.0
    )
    # the City's headline and /funding/need say the same
    head = get(
        shared_client,
        f"/api/v1/funding/summary?by=programme&area={CITY}&apportion=population&{ALL}",
    )["headline"]
    assert head["apportionment"]["amount"] == pytest.approx(city["apportioned_amount"], abs=0.02)
    assert "Metropolitan Police District" not in head["apportionment"]["rule"]
    need = get(shared_client, f"/api/v1/funding/need?level=borough&apportion=population&{ALL}")
    row = next(r for r in need["areas"] if r["area"]["code"] == CITY)
    assert row["apportioned_amount"] == pytest.approx(city["apportioned_amount"], abs=0.02)
    # the District's own headline: the sum of its boroughs'
    head = get(
        shared_client,
        f"/api/v1/funding/summary?by=programme&area={DISTRICT}&apportion=population&{ALL}",
    )["headline"]
    assert head["apportionment"]["amount"] == pytest.approx(
        sum(r["apportioned_amount"] for code, r in rows.items() if code != CITY), abs=1.0
    )


def test_london_counts_the_districts_money_once_and_says_how_much_it_is(shared_client, demo):
    body = get(shared_client, f"/api/v1/funding/summary?by=borough&{ALL}")
    wide = body["london_wide"]
    assert wide["amount"] == pytest.approx(
        pounds(demo.naming(LONDON) + demo.naming(DISTRICT)), abs=0.01
    )
    district = wide["police_district"]
    assert district["area"]["code"] == DISTRICT
    assert district["amount"] == pytest.approx(pounds(demo.naming(DISTRICT)), abs=0.01)
    assert district["awards"] == len(demo.naming(DISTRICT))
    london = get(shared_client, f"/api/v1/funding/summary?by=programme&area={LONDON}&{ALL}")
    reaching = [a for a in demo.awards if a.areas & set(demo.kind)]
    assert london["headline"]["own"]["amount"] == pytest.approx(pounds(reaching), abs=0.01)
    assert london["totals"]["amount"] == london["headline"]["reaching"]["amount"]


def test_a_headlines_london_wide_says_how_much_is_the_districts_and_who_shares_it(
    shared_client, demo
):
    """London's awards are for 33 boroughs, the District's for 32: a borough's, a ward's and
    a BCU's london_wide says apart how much is the District's and how many of its own level
    share that (one areas_sharing of 33 overstated who shares most of the money)."""
    district = demo.naming(DISTRICT)
    for code, level in ((LAMBETH, "borough"), (CENTRAL_SOUTH, "bcu"), ("E05014118", "ward")):
        head = get(shared_client, f"/api/v1/funding/summary?by=programme&area={code}&{ALL}")
        wide = head["headline"]["london_wide"]
        of_level = [c for c, kind in demo.kind.items() if kind == level]
        assert wide["areas_sharing"] == sum(demo.inside(c, LONDON) for c in of_level), code
        part = wide["police_district"]
        assert part["area"]["code"] == DISTRICT
        assert part["awards"] == len(district) and part["awards_without_amount"] == 0
        assert part["amount"] == pytest.approx(pounds(district), abs=0.01)
        assert part["areas_sharing"] == sum(demo.inside(c, DISTRICT) for c in of_level), code
        # (the City is in no BCU: London's and the District's are shared by the same 12)
        assert (part["areas_sharing"] < wide["areas_sharing"]) == (level != "bcu")
    assert demo.kind["E05014118"] == "ward" and demo.inside("E05014118", LAMBETH)
    city = get(shared_client, f"/api/v1/funding/summary?by=programme&area={CITY}&{ALL}")["headline"]
    assert "police_district" not in city["london_wide"]  # (none of it reaches the City)


def test_the_citys_grants_leave_out_the_districts_and_a_boroughs_list_them(shared_client):
    def refs(area: str) -> set[str]:
        found, page = set(), 1
        while True:
            body = get(shared_client, f"/api/v1/grants?area={area}&per_page=100&page={page}")
            found |= {g["ref"] for g in body["contents"]}
            if body["last_page"]:
                return found
            page += 1

    city, lambeth, district = refs(CITY), refs(LAMBETH), refs(DISTRICT)
    assert not city & DISTRICT_DECISIONS
    assert "MOPAC-DEC-016" in city  # London's
    assert lambeth >= DISTRICT_DECISIONS and district >= DISTRICT_DECISIONS
    assert "MOPAC-DEC-016" in district  # (London is above it)


def test_a_city_postcodes_patch_has_none_of_the_districts_awards(shared_client):
    """On a day PCD 79's £72m (MOPAC-DEC-026) was live: a Lambeth postcode's patch counts
    it, the City's (EC2V 7HH) does not."""
    query = "live_on=2019-06-01&per_page=1"
    city = get(shared_client, f"/api/v1/patch?postcode=EC2V%207HH&{query}")
    lambeth = get(shared_client, f"/api/v1/patch?postcode=SW2%201RW&{query}")
    city_refs = {g["ref"] for g in city["awards"]["contents"]}
    lambeth_refs = {g["ref"] for g in lambeth["awards"]["contents"]}
    assert "MOPAC-DEC-026" in lambeth_refs and not city_refs & DISTRICT_DECISIONS
    assert lambeth["funding"]["headline"]["london_wide"]["amount"] >= 72_000_000
    assert city["funding"]["headline"]["london_wide"]["amount"] < 72_000_000
    assert city["funding"]["amount"] < 72_000_000
    # the area asked for by name: the City's own patch likewise, the District's has it
    city_area = get(shared_client, f"/api/v1/patch?area=City%20of%20London&{query}")
    assert not {g["ref"] for g in city_area["awards"]["contents"]} & DISTRICT_DECISIONS
    district = get(shared_client, f"/api/v1/patch?area={DISTRICT}&{query}")
    assert district["funding"]["headline"]["area"]["code"] == DISTRICT
    assert "MOPAC-DEC-026" in {g["ref"] for g in district["awards"]["contents"]}


# -- imports naming the District -------------------------------------------------------------
def _template(path: Path) -> Path:
    rows = [
        ("CODE", DISTRICT, "£32,000"),
        ("WORDS", "32 London boroughs", "£64,000"),
        ("MET", "Met-wide", "£8,000"),  # the Met's area: the City has its own police
    ]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADINGS)
    writer.writeheader()
    for ref, coverage, amount in rows:
        writer.writerow({
            "Service ref": f"PD-{ref}", "Service name": f"District service {ref.lower()}",
            "Organisation name": "District charity", "Coverage": coverage,
            "Themes": "Youth diversion", "Grant ref": f"PD-{ref}-G", "Funder": "MOPAC",
            "Programme": "LCPF", "Amount": amount, "Start date": "2024-04-01",
            "End date": "2025-03-31",
        })  # fmt: skip
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _package(path: Path, code: str) -> Path:
    grant = {
        "id": "360G-district-1", "title": "Borough crime prevention", "currency": "GBP",
        "description": "For the 32 boroughs", "amountAwarded": 320000,
        "awardDate": "2024-03-01",
        "plannedDates": [{"startDate": "2024-04-01", "endDate": "2025-03-31"}],
        "recipientOrganization": [{"id": "GB-CHC-1111111", "name": "District Trust"}],
        "fundingOrganization": [{"id": "GB-GOR-PC390", "name": "MOPAC"}],
        "grantProgramme": [{"title": "London Crime Prevention Fund"}],
        "beneficiaryLocation": [{"geoCode": code, "geoCodeType": "PFA"}],
    }  # fmt: skip
    path.write_text(json.dumps({"grants": [grant]}), encoding="utf-8")
    return path


def _import(app: Flask, path: Path, *args: str) -> Any:
    result = app.test_cli_runner().invoke(cli, ["import", str(path), "--json", *args])
    return json.loads(result.output)


@pytest.fixture()
def imported(writable_app: Flask, tmp_path: Path) -> Iterator[Flask]:
    """A spreadsheet whose coverage names the District by code and by words, and a 360Giving
    grant whose beneficiary location is the District."""
    report = _import(writable_app, _template(tmp_path / "district.csv"), "--source", "pd")
    assert report["status"] == "succeeded", report
    package = _package(tmp_path / "district.json", DISTRICT)
    report = _import(writable_app, package, "--format", "360giving", "--source", "pd360")
    assert report["status"] == "succeeded", report
    yield writable_app


def test_a_spreadsheet_and_a_360giving_grant_can_name_the_district(imported):
    shared_client = imported.test_client()
    for ref in ("PD-CODE-G", "PD-WORDS-G", "PD-MET-G", "360G-district-1"):
        areas = get(shared_client, f"/api/v1/grants/{ref}")["beneficiary_areas"]
        assert [a["code"] for a in areas] == [DISTRICT], ref
    coverage = get(shared_client, "/api/v1/services/PD-WORDS")["coverage"]
    assert [a["code"] for a in coverage] == [DISTRICT]
    city = get(shared_client, f"/api/v1/funding/summary?by=programme&area={CITY}&{ALL}")["headline"]
    assert city["reaching"]["awards"] == 0
    lambeth = get(shared_client, f"/api/v1/funding/summary?by=programme&area={LAMBETH}&{ALL}")
    assert lambeth["headline"]["london_wide"]["amount"] == pytest.approx(424_000)
    # written out as 360Giving, the District is a police force area
    package = get(shared_client, "/api/v1/grants.360giving.json")
    (location,) = next(g for g in package["grants"] if g["id"] == "360G-district-1")[
        "beneficiaryLocation"
    ]
    assert (location["geoCode"], location["geoCodeType"]) == (DISTRICT, "PFA")


def test_an_unknown_police_area_code_is_the_problem_it_always_was(writable_app, tmp_path):
    shared_client = writable_app.test_client()
    response = shared_client.get("/api/v1/grants?area=E23000099")
    assert response.status_code == 404 and response.json["code"] == "area-not-found"
    report = _import(
        writable_app, _package(tmp_path / "other.json", "E23000099"), "--format", "360giving"
    )
    (problem,) = report["problems"]
    assert problem["severity"] == "warning" and "outside London" in problem["message"]


def test_a_service_written_over_the_api_can_serve_the_district(imported):
    """A write naming the District (by name) serves the 32 boroughs: a Lambeth search finds
    the service, a City one does not."""
    result = imported.test_cli_runner().invoke(
        cli, ["keys", "create", "--role", "admin", "--name", "district", "--json"]
    )
    assert result.exit_code == 0, result.output
    headers = {"Authorization": f"Bearer {json.loads(result.output)['key']}"}
    shared_client = imported.test_client()
    organisation = str(get(shared_client, "/api/v1/services/PD-CODE")["organisation"]["id"])
    body = {
        "name": "District helpline", "organisation": organisation,
        "coverage": ["Metropolitan Police District"],
    }  # fmt: skip
    created = shared_client.post("/api/v1/services", json=body, headers=headers)
    assert created.status_code == 201, created.json
    assert [a["code"] for a in created.json["coverage"]] == [DISTRICT]

    def refs(area: str) -> set[str]:
        return {s["ref"] for s in get(shared_client, f"/api/v1/services?area={area}")["contents"]}

    assert created.json["ref"] in refs(LAMBETH) and created.json["ref"] not in refs(CITY)
