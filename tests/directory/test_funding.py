"""Funding transparency on SQLite and PostgreSQL: funding summaries, funding against need,
programmes with their formulas, outcomes, and importing the Met crime and ONS population
figures through `directory import`.

The directory is written here from template rows whose amounts and dates the test
controls; every expected figure is worked out by hand from those rows (see GRANTS)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from directory import create_app
from directory.cli import cli
from directory.ingest.apply import ImportOptions, import_batch, refresh_statistics
from directory.ingest.records import Batch, OutcomeRecord
from directory.ingest.run import load_reference_data
from directory.ingest.template import HEADINGS
from directory.store.models import AreaPopulation, CrimeCount, DataRelease, Grant, ImportRun
from directory.store.repositories.geography import GeographyRepository
from directory.usecases.funding.programmes import formulas
from directory.usecases.opportunities import LONDON_TZ
from tests.conftest import BACKENDS, VENDORED, geography_copy, shared_data_path
from tests.directory.test_import import dump

KINGSTON, KINGSTON_TOWN = "E09000021", "E05013938"
LEWISHAM, CROYDON, CITY = "E09000023", "E09000008", "E09000001"
SOUTH_WEST = "bcu-south-west"
TODAY = datetime.now(LONDON_TZ).date()  # (the API's today: London's)
SOON = TODAY + timedelta(days=30)  # within DIRECTORY_ENDING_SOON_DAYS (90)

#: (service ref, coverage, programme, amount, start, end, financial year, paid through)
#: months: A 12, B 36, C ≥ 36 (2022-04 to SOON), D 24, E 6, F unknown (no dates)
GRANTS = [
    ("A", KINGSTON, "LCPF", "£10,000", "2024-04-01", "2025-03-31", "2024/25", ""),
    ("B", KINGSTON_TOWN, "SNB", "20000", "2022-04-01", "2025-03-31", "2022/23", ""),
    ("C", SOUTH_WEST, "VRU", "£30k", "2022-04-01", SOON.isoformat(), "2022/23", ""),
    ("D", "pan-London", "LCPF", "60,000", "2021-04-01", "2023-03-31", "2021/22", ""),
    ("E", "Lewisham; Croydon", "VRU", "40000", "2024-04-01", "2024-09-30", "2024/25", ""),
    ("F", CITY, "surge", "5000", "", "", "2020/21", ""),
    ("G", KINGSTON, "SNB", "1000", "2024-04-01", "2025-03-31", "2024/25", "G-A"),  # a regrant
]
TOTAL = 10_000 + 20_000 + 30_000 + 60_000 + 40_000 + 5_000  # G is a regrant of A: left out

DATA = shared_data_path()
DERIVED_12M = VENDORED / "london" / "derived_mps_borough_crime_12m_totals_2025-07_to_2026-06.csv"


def run(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(cli, list(args))


def template_csv(rows: list[tuple[str, ...]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADINGS)
    writer.writeheader()
    for ref, coverage, programme, amount, start, end, year, parent in rows:
        writer.writerow({
            "Service ref": f"SVC-{ref}", "Service name": f"Service {ref}",
            "Organisation name": f"Organisation {ref}", "Coverage": coverage,
            "Themes": "Youth diversion" if ref in "AC" else "Domestic abuse",
            "Grant ref": f"G-{ref}", "Funder": "MOPAC", "Programme": programme,
            "Amount": amount, "Start date": start, "End date": end, "Financial year": year,
            "Paid through": parent,
        })  # fmt: skip
    return out.getvalue()


def import_grants(app: Any, tmp: Path) -> None:
    path = tmp / "grants.csv"
    path.write_text(template_csv(GRANTS), encoding="utf-8")
    result = run(app, "import", str(path))
    assert result.exit_code == 0, result.output


@pytest.fixture()
def app(writable_app, tmp_path):  # type: ignore[no-untyped-def]
    """GRANTS in a database of this test's own: for tests that write more to it."""
    import_grants(writable_app, tmp_path)
    return writable_app


@pytest.fixture(scope="module", params=BACKENDS)
def read_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """GRANTS imported once per backend for the module, shared by the tests that only read."""
    tmp = tmp_path_factory.mktemp("funding")
    shared = create_app(geography_copy(request, request.param, tmp))
    import_grants(shared, tmp)
    yield shared
    shared.extensions["directory"].db.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def reference_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """GRANTS and the real population and crime files, imported once per backend for the
    module, shared by the tests that only read them."""
    tmp = tmp_path_factory.mktemp("funding-reference")
    shared = create_app(geography_copy(request, request.param, tmp))
    import_grants(shared, tmp)
    import_reference(shared)
    yield shared
    shared.extensions["directory"].db.dispose()


def get(app: Any, url: str) -> Any:
    response = app.test_client().get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def by_code(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["area"]["code"]: r for r in rows}


def population_file() -> dict[str, int]:
    with (DATA / "reference" / "london_borough_population_2022.csv").open(encoding="utf-8") as f:
        return {r["gss_code"]: int(r["population_all_ages"]) for r in csv.DictReader(f)}


def offences_12m() -> dict[str, int]:
    """The derived 12-month totals (Jul 2025 – Jun 2026) computed by shared/data's curators
    (vendored in tests/data/london), per borough: an oracle independent of the app."""
    totals: Counter[str] = Counter()
    path = DERIVED_12M
    with path.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["gss_code"]:
                totals[r["gss_code"]] += int(r["offences_2025_07_to_2026_06"])
    return dict(totals)


def bcu_boroughs(name: str) -> list[str]:
    with (DATA / "reference" / "met_bcus_boroughs.csv").open(encoding="utf-8") as f:
        return [r["borough_gss_code"] for r in csv.DictReader(f) if r["bcu_name"] == name]


def import_reference(app: Any) -> None:
    for relative in ("reference/london_borough_population_2022.csv",
                     "crime/mps_borough_level_crime_2024-07_to_2026-06.csv"):  # fmt: skip
        result = run(app, "import", str(DATA / relative))
        assert result.exit_code == 0, result.output


# -- GET /funding/summary ----------------------------------------------------------------------
def test_totals_lengths_and_ending_soon_are_hand_checked(read_app):
    body = get(read_app, "/api/v1/funding/summary?by=programme")
    totals = body["totals"]
    assert totals["awards"] == 6 and totals["amount"] == TOTAL
    # known lengths 6 (E), 12 (A), 24 (D), 36 (B), ≥ 36 (C); F has no dates
    assert totals["median_months"] == 24
    buckets = {"<12": 1, "12–23": 1, "24–35": 1, "36+": 2, "unknown": 1}
    assert totals["length_distribution"] == buckets
    assert totals["share_36_plus"] == pytest.approx(2 / 5)
    assert totals["ending_soon"] == {"awards": 1, "amount": 30_000}  # C ends in 30 days
    assert body["regrants_left_out"] == {"awards": 1, "amount": 1_000}
    groups = [(g["programme"]["id"], g["awards"], g["amount"]) for g in body["groups"]]
    assert groups == [
        ("lcpf-direct", 2, 70_000),
        ("vru", 2, 70_000),
        ("snb", 1, 20_000),
        ("surge", 1, 5_000),
    ]
    lcpf = body["groups"][0]
    assert lcpf["median_months"] == 18  # 12 and 24
    assert lcpf["share_36_plus"] == 0
    years = get(read_app, "/api/v1/funding/summary?by=financial_year")["groups"]
    assert [(y["financial_year"], y["awards"], y["amount"]) for y in years] == [
        ("2020/21", 1, 5_000),
        ("2021/22", 1, 60_000),
        ("2022/23", 2, 50_000),
        ("2024/25", 2, 50_000),
    ]
    orgs = get(read_app, "/api/v1/funding/summary?by=organisation")["groups"]
    assert [o["organisation"]["name"] for o in orgs][:2] == ["Organisation D", "Organisation E"]
    assert sum(o["amount"] for o in orgs) == TOTAL
    with_regrants = get(read_app, "/api/v1/funding/summary?by=programme&include_regrants=true")
    assert (
        with_regrants["totals"]["awards"] == 7
        and with_regrants["totals"]["amount"] == TOTAL + 1_000
    )
    assert "regrants_left_out" not in with_regrants


def test_by_borough_keeps_london_wide_and_bcu_wide_money_apart(read_app):
    body = get(read_app, "/api/v1/funding/summary?by=borough")
    boroughs = by_code(body["boroughs"])
    assert len(boroughs) == 33  # every borough, the City of London included
    kingston = boroughs[KINGSTON]
    assert (kingston["awards"], kingston["amount"]) == (2, 30_000)  # A, and B to its ward
    assert kingston["median_months"] == 24 and kingston["share_36_plus"] == 0.5
    for code in (LEWISHAM, CROYDON):  # E names both: divided equally
        assert (boroughs[code]["awards"], boroughs[code]["amount"]) == (1, 20_000)
        assert boroughs[code]["shared_awards"] == 1
    assert boroughs[CITY]["amount"] == 5_000
    assert boroughs[CITY]["length_distribution"]["unknown"] == 1
    assert boroughs["E09000033"]["awards"] == 0  # Westminster: nothing
    (bcu,) = body["bcu_wide"]
    assert (bcu["area"]["code"], bcu["awards"], bcu["amount"]) == (SOUTH_WEST, 1, 30_000)
    assert bcu["ending_soon"] == {"awards": 1, "amount": 30_000}
    assert (body["london_wide"]["awards"], body["london_wide"]["amount"]) == (1, 60_000)
    assert body["unplaced"]["awards"] == 0
    placed = sum(b["amount"] for b in body["boroughs"]) + 30_000 + 60_000
    assert placed == body["totals"]["amount"] == TOTAL
    assert "not divided" in body["rule"] and body["apportionment"]["method"] == "none"
    assert all("apportioned_amount" not in b for b in body["boroughs"])


def test_by_ward_and_by_bcu(read_app):
    wards = get(read_app, "/api/v1/funding/summary?by=ward")
    assert [(w["area"]["code"], w["amount"]) for w in wards["wards"]] == [(KINGSTON_TOWN, 20_000)]
    borough_wide = {b["area"]["code"]: b["amount"] for b in wards["borough_wide"]}
    assert borough_wide == {KINGSTON: 10_000, LEWISHAM: 20_000, CROYDON: 20_000, CITY: 5_000}
    assert wards["london_wide"]["amount"] == 60_000
    bcus = get(read_app, "/api/v1/funding/summary?by=bcu")
    rows = {b["area"]["code"]: b["amount"] for b in bcus["bcus"]}
    assert len(rows) == 12
    assert rows[SOUTH_WEST] == 60_000  # A + B + C
    assert sorted(v for v in rows.values() if v) == [20_000, 20_000, 60_000]
    (city,) = bcus["not_in_a_bcu"]
    assert (
        city["area"]["code"] == CITY
        and city["amount"] == 5_000
        and "City of London Police" in city["note"]
    )
    assert "bcu_wide" not in bcus and bcus["london_wide"]["amount"] == 60_000


@pytest.mark.parametrize(
    ("query", "awards", "amount"),
    [
        ("programme=vru", 2, 70_000),
        ("financial_year=2024-25", 2, 50_000),  # A and E, any spelling of the year
        ("area=Kingston", 4, 120_000),  # A, B (its ward), C (its BCU), D (London)
        (f"area={KINGSTON_TOWN}", 4, 120_000),  # the ward: itself, its borough, BCU, London
        ("area=Lewisham", 2, 100_000),  # E in full (it names Lewisham) and D
        # A, B, C and E; not F, which has no dates (status unknown: live on no day)
        ("live_on=2024-06-01", 4, 100_000),
        ("area=Kingston&programme=lcpf-direct&live_on=2022-01-01", 1, 60_000),  # D only
    ],
)
def test_filters_combine(read_app, query, awards, amount):
    totals = get(read_app, f"/api/v1/funding/summary?by=borough&{query}")["totals"]
    assert (totals["awards"], totals["amount"]) == (awards, amount)


def test_a_grant_without_dates_is_live_on_no_day(read_app):
    """F has neither a start nor an end: its status is unknown, and no route counts it as
    live on any day (it used to count as live every day, £1.15m of an undated MOPAC decision
    in every patch of the demo directory)."""

    def refs(url: str) -> set[str]:
        return {g["ref"] for g in get(read_app, url)["contents"]}

    assert "G-F" in refs("/api/v1/grants?status=unknown&per_page=100")
    assert "G-F" not in refs("/api/v1/grants?status=live&per_page=100")
    assert "G-F" in refs(f"/api/v1/grants?area={CITY}&per_page=100")  # it does reach the City
    for day in (date.today().isoformat(), "2020-06-01"):  # today, and within its year
        totals = get(read_app, f"/api/v1/funding/summary?by=borough&area={CITY}&live_on={day}")
        assert (totals["totals"]["awards"], totals["totals"]["amount"]) == (0, 0)
        patch = get(
            read_app, f"/api/v1/patch?area={CITY}&live_on={day}&include_other_programmes=true"
        )
        assert (patch["funding"]["awards"], patch["funding"]["amount"]) == (0, 0)
        assert "SVC-F" not in {s["ref"] for s in patch["services"]["contents"]}
        services = get(read_app, f"/api/v1/services?live_on={day}&per_page=100")
        assert "SVC-F" not in {s["ref"] for s in services["contents"]}
    # the patch still lists it among its awards, as unknown, so it is not hidden
    awards = get(read_app, f"/api/v1/patch?area={CITY}&include_other_programmes=true")["awards"]
    assert [(a["ref"], a["status"]) for a in awards["contents"]] == [("G-F", "unknown")]
    # a dated grant is live within its dates on the same routes (A: 2024-04-01 to 2025-03-31)
    a_live = get(read_app, "/api/v1/services?live_on=2024-06-01&per_page=100")
    assert "SVC-A" in {s["ref"] for s in a_live["contents"]}


def test_area_filter_lists_the_area_and_shows_wider_money_apart(read_app):
    body = get(read_app, "/api/v1/funding/summary?by=borough&area=Lewisham")
    assert [b["area"]["code"] for b in body["boroughs"]] == [LEWISHAM]
    assert body["boroughs"][0]["amount"] == 20_000  # Lewisham's half of E
    assert body["london_wide"]["amount"] == 60_000
    assert body["filters"]["area"]["code"] == LEWISHAM


def test_apportion_by_population_states_the_rule_and_adds_up(reference_app):
    pop = population_file()
    london = sum(pop.values())
    assert london == 8_866_180
    south_west = sum(pop[c] for c in bcu_boroughs("South West"))
    body = get(reference_app, "/api/v1/funding/summary?by=borough&apportion=population")
    boroughs = by_code(body["boroughs"])
    expected = 30_000 + 60_000 * pop[KINGSTON] / london + 30_000 * pop[KINGSTON] / south_west
    assert boroughs[KINGSTON]["apportioned_amount"] == pytest.approx(expected, abs=0.01)
    westminster = 60_000 * pop["E09000033"] / london
    assert boroughs["E09000033"]["apportioned_amount"] == pytest.approx(westminster, abs=0.01)
    assert boroughs[KINGSTON]["amount"] == 30_000  # the direct figure is unchanged
    assert sum(b["apportioned_amount"] for b in body["boroughs"]) == pytest.approx(TOTAL, abs=1)
    assert body["apportionment"]["method"] == "population"
    assert "share of London's population" in body["apportionment"]["rule"]
    assert body["apportionment"]["population"]["reference_date"] == "2022-06-30"
    bcus = get(reference_app, "/api/v1/funding/summary?by=bcu&apportion=population")
    sw = by_code(bcus["bcus"])[SOUTH_WEST]
    assert sw["apportioned_amount"] == pytest.approx(
        60_000 + 60_000 * south_west / london, abs=0.01
    )
    city = bcus["not_in_a_bcu"][0]
    assert city["apportioned_amount"] == pytest.approx(
        5_000 + 60_000 * pop[CITY] / london, abs=0.01
    )


def test_apportion_without_population_says_so(read_app):
    body = get(read_app, "/api/v1/funding/summary?by=borough&apportion=population")
    assert body["apportionment"]["available"] is False
    assert all(b["apportioned_amount"] is None for b in body["boroughs"])


@pytest.mark.parametrize("by", ["programme", "financial_year", "organisation"])
def test_apportioned_groups_without_population_are_null(read_app, by):
    query = f"by={by}&area={KINGSTON}&apportion=population"
    body = get(read_app, f"/api/v1/funding/summary?{query}")
    assert body["headline"]["apportionment"]["available"] is False
    assert body["groups"] and all(g["apportioned_amount"] is None for g in body["groups"])


# -- GET /funding/need -------------------------------------------------------------------------
def test_need_without_crime_and_population_figures_says_so(read_app):
    before = get(read_app, "/api/v1/funding/need")
    assert before["areas"][0]["offences"] is None and before["notes"]


def test_need_per_resident_and_per_offence_with_periods_and_ranks(reference_app):
    body = get(reference_app, "/api/v1/funding/need?level=borough")
    pop, offences = population_file(), offences_12m()
    rows = by_code(body["areas"])
    kingston = rows[KINGSTON]
    assert kingston["amount"] == 30_000
    assert kingston["population"] == pop[KINGSTON]
    assert kingston["offences"] == offences[KINGSTON]
    assert kingston["per_1000_residents"] == round(30_000 / pop[KINGSTON] * 1000, 2)
    assert kingston["per_1000_offences"] == round(30_000 / offences[KINGSTON] * 1000, 2)
    assert body["periods"]["offences"] == {"start": "2025-07", "end": "2026-06", "months": 12}
    assert body["periods"]["population"]["reference_date"] == "2022-06-30"
    # every borough's offences equal the derived 12-month totals in shared/data
    assert {c: r["offences"] for c, r in rows.items() if r["offences"] is not None} == offences
    assert rows[CITY]["offences"] is None and "City of London Police" in rows[CITY]["note"]
    assert rows[CITY]["per_1000_residents"] == round(5_000 / pop[CITY] * 1000, 2)
    in_boroughs = 30_000 + 20_000 + 20_000 + 5_000
    london = body["london"]
    assert london["amount"] == in_boroughs and london["population"] == 8_866_180
    assert london["per_1000_residents"] == round(in_boroughs / 8_866_180 * 1000, 2)
    assert london["per_1000_offences"] == round(70_000 / sum(offences.values()) * 1000, 2)
    assert kingston["vs_london"]["per_1000_residents"] == pytest.approx(
        kingston["per_1000_residents"] / london["per_1000_residents"], abs=0.001
    )
    # ranks: Kingston has the most money; Lewisham and Croydon share 2nd; the City 4th
    assert kingston["rank"]["amount"] == 1
    assert rows[LEWISHAM]["rank"]["amount"] == rows[CROYDON]["rank"]["amount"] == 2
    assert rows[CITY]["rank"]["amount"] == 4
    assert rows[CITY]["rank"]["per_1000_residents"] == 1  # £5,000 for 10,847 residents
    assert rows[CITY]["rank"]["per_1000_offences"] is None
    assert rows["E09000008"]["rank"]["population"] == 1  # Croydon is the most populous
    wider = body["wider_awards"]
    assert wider["london_wide"] == {"awards": 1, "amount": 60_000}
    assert wider["bcu_wide"] == [
        {
            "area": {"code": SOUTH_WEST, "name": "South West", "type": "bcu"},
            "awards": 1,
            "amount": 30_000,
        }
    ]
    assert body["basis"] == "amount" and "not included" in body["rule"]


def test_need_by_bcu_and_apportioned(reference_app):
    pop, offences = population_file(), offences_12m()
    sw_codes = bcu_boroughs("South West")
    body = get(reference_app, "/api/v1/funding/need?level=bcu")
    sw = by_code(body["areas"])[SOUTH_WEST]
    assert len(body["areas"]) == 12
    assert sw["amount"] == 60_000
    assert sw["population"] == sum(pop[c] for c in sw_codes)
    assert sw["offences"] == sum(offences[c] for c in sw_codes)
    assert sw["per_1000_residents"] == round(60_000 / sw["population"] * 1000, 2)
    assert body["wider_awards"]["not_in_a_bcu"][0]["amount"] == 5_000
    apportioned = get(
        reference_app,
        "/api/v1/funding/need?level=borough&apportion=population&programme=lcpf-direct",
    )
    assert apportioned["basis"] == "apportioned_amount"
    kingston = by_code(apportioned["areas"])[KINGSTON]
    expected = 10_000 + 60_000 * pop[KINGSTON] / 8_866_180  # A, and D's population share
    assert kingston["apportioned_amount"] == pytest.approx(expected, abs=0.01)
    assert kingston["per_1000_residents"] == round(
        kingston["apportioned_amount"] / pop[KINGSTON] * 1000, 2
    )


# -- importing crime and population ----------------------------------------------------------
def count(app: Any, model: type) -> int:
    with app.extensions["directory"].db.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_paid_through_loop_held_from_before_is_counted_once_and_the_chain_stops(
    writable_settings, tmp_path
):
    """A loop of Paid through written before imports refused them (here straight into the
    database: G-A through G-B through G-A, G-C through G-B) neither drops the loop's money
    nor runs forever: the loop's grant added first (G-A) is counted, the others are its
    regrants; a grant's chain stops at the first grant it repeats, marked so."""
    rows = [
        ("A", KINGSTON, "LCPF", "£384k", "2024-04-01", "2025-03-31", "2024/25", ""),
        ("B", LEWISHAM, "LCPF", "£19k", "2024-04-01", "2025-03-31", "2024/25", "G-A"),
        ("C", LEWISHAM, "LCPF", "£5k", "2024-04-01", "2025-03-31", "2024/25", "G-B"),
    ]
    path = tmp_path / "loop.csv"
    path.write_text(template_csv(rows), encoding="utf-8")
    writer = create_app(writable_settings)
    assert run(writer, "import", str(path)).exit_code == 0
    with writer.extensions["directory"].db.engine.begin() as connection:
        connection.execute(update(Grant).where(Grant.ref == "G-A").values(parent_ref="G-B"))
    writer.extensions["directory"].db.dispose()
    app = create_app(writable_settings)
    try:
        body = get(app, "/api/v1/funding/summary?by=borough")
        assert (body["totals"]["awards"], body["totals"]["amount"]) == (1, 384_000)
        assert body["regrants_left_out"] == {"awards": 2, "amount": 24_000}
        every = get(app, "/api/v1/funding/summary?by=borough&include_regrants=true")
        assert (every["totals"]["awards"], every["totals"]["amount"]) == (3, 408_000)
        kingston = get(app, f"/api/v1/funding/summary?by=borough&area={KINGSTON}")
        assert kingston["totals"]["amount"] == 384_000
        chains = {ref: get(app, f"/api/v1/grants/{ref}")["chain"] for ref in ("G-A", "G-C")}
        assert [link["ref"] for link in chains["G-A"]] == ["G-B", "G-A"]
        assert [link["ref"] for link in chains["G-C"]] == ["G-B", "G-A", "G-B"]
        for chain in chains.values():
            assert "loop" in chain[-1]["note"] and set(chain[-1]) == {"ref", "note"}
            assert all("note" not in link for link in chain[:-1])
    finally:
        app.extensions["directory"].db.dispose()


def test_the_real_crime_and_population_files_import_and_move_the_data_version(writable_app):
    releases = count(writable_app, DataRelease)
    crime = DATA / "crime" / "mps_borough_level_crime_2024-07_to_2026-06.csv"
    result = run(writable_app, "import", str(crime))  # format detected
    assert result.exit_code == 0, result.output
    assert "32 boroughs" in result.output and "24 months" in result.output
    assert "4 skipped" in result.output  # the Met's "Unknown" rows
    with crime.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["BOCU"] != "Unknown"]
    assert count(writable_app, CrimeCount) == len(rows) * 24
    population = DATA / "reference" / "london_borough_population_2022.csv"
    result = run(writable_app, "import", str(population), "--json")
    assert result.exit_code == 0, result.output
    assert count(writable_app, AreaPopulation) == 33  # 32 boroughs and the City of London
    assert count(writable_app, DataRelease) == releases + 2
    with writable_app.extensions["directory"].db.engine.connect() as connection:
        runs = connection.execute(
            select(ImportRun.format, ImportRun.status).order_by(ImportRun.id)
        ).all()
        london = connection.execute(select(func.sum(AreaPopulation.all_ages))).scalar_one()
    assert [tuple(r) for r in runs] == [("mps-crime", "succeeded"), ("population", "succeeded")]
    assert london == 8_866_180
    again = run(writable_app, "import", str(crime))
    assert again.exit_code == 0 and "unchanged" in again.output
    assert count(writable_app, DataRelease) == releases + 2  # nothing changed: no new release
    imports = get(writable_app, "/api/v1/imports")["contents"]
    assert imports[0]["format"] == "mps-crime"


@pytest.mark.parametrize("writable_settings", ["postgres"], indirect=True)
def test_an_import_of_figures_has_postgresql_analyse_what_it_wrote(writable_app):
    """As a directory import does (``test_an_import_leaves_the_planner_statistics_up_to_date``):
    the figures' own writer has the tables it filled analysed once it has committed, each
    import its own (``last_analyze``: an ANALYZE statement's, not autovacuum's), unless
    the import's options turn it off (an API write of one record)."""
    engine = writable_app.extensions["directory"].db.engine

    def analysed() -> dict[str, bool]:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE relname IN ('crime_count', 'area_population', 'import_run', 'postcode')"
            ).all()
        return dict(rows)  # type: ignore[arg-type]

    assert not any(analysed().values())
    state = writable_app.extensions["directory"]
    quiet = ImportOptions("api", "mps-crime", "-", "-", refresh_statistics=False)
    refresh_statistics(state.db, quiet, ["crime_count"])  # (an API write's: one record)
    assert not any(analysed().values())
    crime = DATA / "crime" / "mps_borough_level_crime_2024-07_to_2026-06.csv"
    assert run(writable_app, "import", str(crime)).exit_code == 0
    assert analysed() == {
        "crime_count": True, "import_run": True, "area_population": False, "postcode": False,
    }  # fmt: skip
    population = DATA / "reference" / "london_borough_population_2022.csv"
    assert run(writable_app, "import", str(population)).exit_code == 0
    assert analysed() == {
        "crime_count": True, "import_run": True, "area_population": True, "postcode": False,
    }  # fmt: skip


def test_load_reference_data_imports_both_files_idempotently(writable_app):
    state = writable_app.extensions["directory"]
    with state.db.engine.connect() as connection:
        snap = state.geography.get(GeographyRepository(connection))
    first = load_reference_data(state.db, snap, state.settings, DATA)
    assert [r.status for _, r in first] == ["succeeded", "succeeded"]
    second = load_reference_data(state.db, snap, state.settings, DATA)
    assert [r.status for _, r in second] == ["unchanged", "unchanged"]


HISTORICAL = "MajorText,MinorText,BoroughName,202401,202402\n"


def test_a_later_crime_file_replaces_the_months_it_covers(writable_app, tmp_path):
    first = tmp_path / "crime.csv"
    first.write_text(HISTORICAL + "BURGLARY,DOMESTIC BURGLARY,Kingston upon Thames,10,12\n"
                     "ROBBERY,PERSONAL ROBBERY,RB Kingston upon Thames,1,2\n")  # fmt: skip
    assert run(writable_app, "import", str(first), "--format", "mps-crime").exit_code == 0
    revised = tmp_path / "crime2.csv"
    revised.write_text("Group,SubGroup,BOCU,202402,202403\n"
                       "BURGLARY,DOMESTIC BURGLARY,Kingston upon Thames,13,9\n")  # fmt: skip
    result = run(writable_app, "import", str(revised), "--format", "mps-crime")
    assert result.exit_code == 0, result.output
    assert "1 created, 1 updated" in result.output and "1 deleted" in result.output
    with writable_app.extensions["directory"].db.engine.connect() as connection:
        rows = connection.execute(
            select(CrimeCount.month, CrimeCount.minor_category, CrimeCount.count).order_by(
                CrimeCount.month, CrimeCount.minor_category
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (date(2024, 1, 1), "DOMESTIC BURGLARY", 10), (date(2024, 1, 1), "PERSONAL ROBBERY", 1),
        (date(2024, 2, 1), "DOMESTIC BURGLARY", 13), (date(2024, 3, 1), "DOMESTIC BURGLARY", 9),
    ]  # fmt: skip
    need = get(writable_app, "/api/v1/funding/need")
    assert by_code(need["areas"])[KINGSTON]["offences"] == 10 + 1 + 13 + 9
    assert need["periods"]["offences"] == {"start": "2024-01", "end": "2024-03", "months": 3}


BAD_CRIME = (
    "Group,SubGroup,BOCU,202407,202413\nBURGLARY,DOMESTIC BURGLARY,Kingston upon Thames,10,12\n"
)
BAD_ROWS = (
    "Group,SubGroup,BOCU,202407,202408\n"
    "BURGLARY,DOMESTIC BURGLARY,Kingston upon Thames,10,12x\n"
    "BURGLARY,DOMESTIC BURGLARY,Narnia,1,2\n"
    "ROBBERY,PERSONAL ROBBERY,Hackney,-3,\n"
    "BURGLARY,DOMESTIC BURGLARY,RB Kingston upon Thames,1,1\n"
    "THEFT,OTHER THEFT,Unknown,4,4\n"
)


def test_bad_crime_files_are_rejected_with_rows_and_columns_and_change_nothing(
    writable_app, tmp_path
):
    good = DATA / "crime" / "mps_borough_level_crime_2024-07_to_2026-06.csv"
    assert run(writable_app, "import", str(good)).exit_code == 0
    before = dump(writable_app)
    path = tmp_path / "bad.csv"
    path.write_text(BAD_ROWS)
    result = run(writable_app, "import", str(path), "--format", "mps-crime")
    assert result.exit_code == 1 and "failed" in result.output
    run_id = get(writable_app, "/api/v1/imports")["contents"][0]["id"]
    problems = get(writable_app, f"/api/v1/imports/{run_id}")["problems"]
    errors = {(p["row"], p["column"]) for p in problems if p["severity"] == "error"}
    assert errors == {(2, "202408"), (3, "BOCU"), (4, "202407"), (4, "202408"), (5, "BOCU")}
    assert dump(writable_app) == before
    path.write_text(BAD_CRIME)
    result = run(writable_app, "import", str(path), "--format", "mps-crime")
    assert result.exit_code == 1 and "202413" in result.output
    ward = tmp_path / "ward.csv"
    ward.write_text("MajorText,MinorText,WardName,WardCode,LookUp_BoroughName,202307\n"
                    "BURGLARY,X,Coombe Hill,E05013933,Kingston upon Thames,1\n")  # fmt: skip
    result = run(writable_app, "import", str(ward), "--format", "mps-crime")
    assert result.exit_code == 1 and "ward-level" in result.output
    result = run(writable_app, "import", str(DERIVED_12M), "--format", "mps-crime")
    assert result.exit_code == 1 and "no month columns" in result.output
    dry = run(writable_app, "import", str(good), "--dry-run")
    assert dry.exit_code == 0 and "dry-run" in dry.output
    assert dump(writable_app) == before


def test_bad_population_files_are_rejected(writable_app, tmp_path):
    path = tmp_path / "pop.csv"
    path.write_text(
        "gss_code,name,population_all_ages,population_aged_10_24,year\n"
        "E09000021,Kingston upon Thames,170000,200000,2022\n"
        "E09999999,Nowhere,100,,2022\n"
        "E09000022,Lambeth,lots,,2022\n"
        "E09000023,Lewisham,300000,,20x2\n"
    )
    before = dump(writable_app)
    result = run(writable_app, "import", str(path), "--format", "population")
    assert result.exit_code == 1
    run_id = get(writable_app, "/api/v1/imports")["contents"][0]["id"]
    problems = get(writable_app, f"/api/v1/imports/{run_id}")["problems"]
    assert {(p["row"], p["column"]) for p in problems} == {
        (2, "population_aged_10_24"), (3, "gss_code"), (4, "population_all_ages"), (5, "year"),
    }  # fmt: skip
    assert dump(writable_app) == before


# -- programmes and formulas -------------------------------------------------------------------
def test_programmes_list_and_formula_beside_allocations(reference_app):
    listed = get(reference_app, "/api/v1/programmes?per_page=100")
    programmes = {p["id"]: p for p in listed["contents"]}
    assert {"lcpf-direct", "lcpf-cc", "vru", "ylf", "victims", "snb", "vawg", "surge"} <= set(
        programmes
    )
    assert (programmes["lcpf-direct"]["awards"], programmes["lcpf-direct"]["amount"]) == (2, 70_000)
    assert programmes["snb"]["amount"] == 20_000  # the regrant G is left out
    assert programmes["lcpf-direct"]["formula_documented"] is True
    for pid in ("lcpf-direct", "vru", "victims"):  # the list says what the detail's formula says
        detail = get(reference_app, f"/api/v1/programmes/{pid}")["formula"]
        assert programmes[pid]["formula_status"] == detail["status"], pid
    assert {programmes[p]["formula_status"] for p in ("lcpf-direct", "vru", "victims")} == {
        "partly known",
        "not published",
        "not applicable",
    }
    assert listed["contents"][0]["amount"] >= listed["contents"][-1]["amount"]
    body = get(reference_app, "/api/v1/programmes/lcpf-direct")
    formula = body["formula"]
    assert formula["allocation"] == "formula"
    assert all(i["weight"] == "unknown" for i in formula["inputs"])  # never invented
    assert formula["sources"] and formula["unknown"]
    allocations = body["allocations"]
    assert allocations["london_wide"] == {"awards": 1, "amount": 60_000, "shared_awards": 0}
    boroughs = by_code(allocations["boroughs"])
    assert (
        boroughs[KINGSTON]["amount"] == 10_000 and boroughs[KINGSTON]["share_of_borough_money"] == 1
    )
    # to 4 places, as the money's and the offences' shares beside it
    assert boroughs[KINGSTON]["population_share"] == round(
        population_file()[KINGSTON] / 8_866_180, 4
    )
    offences = offences_12m()
    assert boroughs[KINGSTON]["offences_share"] == pytest.approx(
        offences[KINGSTON] / sum(offences.values()), abs=0.0001
    )
    years = {y["financial_year"]: y for y in allocations["by_financial_year"]}
    assert set(years) == {"2021/22", "2024/25"}
    assert years["2021/22"]["london_wide"]["amount"] == 60_000
    assert [b["area"]["code"] for b in years["2024/25"]["boroughs"]] == [KINGSTON]
    assert get(reference_app, "/api/v1/programmes/ylf")["allocations"]["totals"]["awards"] == 0
    missing = reference_app.test_client().get("/api/v1/programmes/no-such-programme")
    assert missing.status_code == 404 and missing.json["code"] == "programme-not-found"


def test_every_documented_formula_is_a_known_programme_and_honest():
    with (
        Path(__file__).resolve().parents[2] / "directory" / "data" / "programmes.csv"
    ).open() as f:
        ids = {r["id"] for r in csv.DictReader(f)}
    documented = formulas()
    assert set(documented) == ids
    for pid, formula in documented.items():
        assert formula["allocation"] in ("formula", "competitive", "decision", "unknown"), pid
        assert formula["status"] in ("known", "partly known", "not published", "not applicable"), (
            pid
        )
        for item in formula.get("inputs", []):
            assert isinstance(item["weight"], int | float) or item["weight"] == "unknown", pid


# -- outcomes ----------------------------------------------------------------------------------
def add_outcomes(app: Any) -> None:
    state = app.extensions["directory"]
    with state.db.engine.connect() as connection:
        snap = state.geography.get(GeographyRepository(connection))
    period = {"period_start": date(2024, 4, 1), "period_end": date(2025, 3, 31)}
    batch = Batch(outcomes=[
        OutcomeRecord("SVC-A", "young people supported", value=Decimal(40), target=Decimal(50),
                      unit="people", report_type="final", report_url="https://example.org/a-eval", **period),
        OutcomeRecord("SVC-A", "sessions delivered", value=Decimal(12), target=Decimal(10),
                      unit="sessions", report_type="interim", **period),
        OutcomeRecord("SVC-C", "mentoring hours", value=Decimal(200), target=Decimal(150),
                      unit="hours", report_type="final", report_url="https://example.org/c-eval", **period),
        OutcomeRecord("SVC-D", "referrals received", value=Decimal(100), unit="referrals", **period),
    ])  # fmt: skip
    options = ImportOptions(source="outcomes", format="test", location="memory", checksum="x")
    assert import_batch(state.db, snap, state.settings, batch, options).status == "succeeded"


def test_service_outcomes(app):
    add_outcomes(app)
    body = get(app, "/api/v1/services/SVC-A/outcomes")
    assert body["service"]["ref"] == "SVC-A"
    metrics = {o["metric"]: o for o in body["outcomes"]}
    assert metrics["young people supported"]["met_target"] is False
    assert metrics["sessions delivered"]["met_target"] is True
    assert metrics["young people supported"]["report"] == {
        "type": "final",
        "url": "https://example.org/a-eval",
    }
    assert metrics["sessions delivered"]["period"] == {"start": "2024-04-01", "end": "2025-03-31"}
    assert body["counts"] == {
        "outcomes": 2,
        "with_target": 2,
        "met_target": 1,
        "not_met": 1,
        "share_met": 0.5,
    }
    assert get(app, "/api/v1/services/SVC-B/outcomes")["outcomes"] == []
    missing = app.test_client().get("/api/v1/services/nope/outcomes")
    assert missing.status_code == 404 and missing.json["code"] == "service-not-found"


def test_outcome_summaries_by_borough_and_theme(app):
    add_outcomes(app)
    body = get(app, "/api/v1/outcomes/summary?by=borough")
    assert (
        body["totals"]["outcomes"],
        body["totals"]["with_target"],
        body["totals"]["met_target"],
    ) == (4, 3, 2)
    # Kingston has outcomes (A); Lewisham and Croydon only funding (E), listed for follow_up
    assert [b["area"]["code"] for b in body["boroughs"]] == [CROYDON, KINGSTON, LEWISHAM]
    kingston = by_code(body["boroughs"])[KINGSTON]
    assert by_code(body["boroughs"])[LEWISHAM]["outcomes"] == 0
    assert (kingston["outcomes"], kingston["met_target"], kingston["not_met"]) == (2, 1, 1)
    assert [e["url"] for e in kingston["evaluations"]] == ["https://example.org/a-eval"]
    assert {m["metric"]: m["targets"] for m in kingston["metrics"]} == {
        "sessions delivered": [10.0],
        "young people supported": [50.0],
    }
    (sw,) = body["bcu_wide"]
    assert sw["area"]["code"] == SOUTH_WEST and sw["met_target"] == 1
    assert body["london_wide"]["outcomes"] == 1 and body["london_wide"]["with_target"] == 0
    lewisham = get(app, "/api/v1/outcomes/summary?by=borough&area=Lewisham")
    assert lewisham["totals"]["outcomes"] == 1  # only the London-wide service reaches it
    themes = get(app, "/api/v1/outcomes/summary?by=theme&area=Kingston")
    by_theme = {t["theme"]["id"]: t for t in themes["themes"]}
    assert by_theme["youth-diversion"]["outcomes"] == 3  # A and C
    assert by_theme["domestic-abuse"]["outcomes"] == 1  # D


# -- hostile parameters --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/funding/summary",
        "/api/v1/funding/summary?by=postcode",
        "/api/v1/funding/summary?by=borough&live_on=2024-13-01",
        "/api/v1/funding/summary?by=borough&live_on=yesterday",
        "/api/v1/funding/summary?by=borough&financial_year=2021/23",
        "/api/v1/funding/summary?by=borough&financial_year=" + "9" * 19,
        "/api/v1/funding/summary?by=borough&financial_year=" + "x" * 500,
        "/api/v1/funding/summary?by=borough&area=",
        "/api/v1/funding/summary?by=borough&programme=" + "p" * 81,
        "/api/v1/funding/summary?by=ward&apportion=population",
        "/api/v1/funding/summary?by=programme&apportion=population",
        "/api/v1/funding/summary?by=borough&apportion=everything",
        "/api/v1/funding/summary?by=borough&include_regrants=perhaps",
        "/api/v1/funding/need?level=ward",
        "/api/v1/funding/need?financial_year=%F0%9F%92%B8",
        "/api/v1/programmes?page=0",
        "/api/v1/programmes?per_page=100000",
        "/api/v1/outcomes/summary",
        "/api/v1/outcomes/summary?by=organisation",
    ],
)
def test_hostile_parameters_are_422_problems(read_app, url):
    response = read_app.test_client().get(url)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "invalid-input" and response.json["errors"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/funding/summary?by=borough&area=Narnia",
        "/api/v1/funding/summary?by=borough&area=%00",
        "/api/v1/outcomes/summary?by=borough&area=" + "%C3%A9" * 60,
        "/api/v1/programmes/%E2%80%AE",
        "/api/v1/programmes/" + "9" * 400,
        "/api/v1/services/99999999999999999999/outcomes",
        "/api/v1/funding/summary?by=borough&programme=%27%3B%20DROP%20TABLE%20grant%3B--",
    ],
)
def test_odd_values_are_problems_or_empty_answers_never_500(read_app, url):
    response = read_app.test_client().get(url)
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"


def test_answers_carry_etags_that_move_with_an_import(app):
    client = app.test_client()
    first = client.get("/api/v1/funding/need")
    assert first.headers["ETag"]
    assert (
        client.get(
            "/api/v1/funding/need", headers={"If-None-Match": first.headers["ETag"]}
        ).status_code
        == 304
    )
    import_reference(app)
    assert client.get("/api/v1/funding/need").headers["ETag"] != first.headers["ETag"]


def test_funding_answers_are_made_once_per_data_version_and_day(app, monkeypatch):
    """At 100,000 awards a funding summary takes 0.1-0.6 s to make: it is kept with the
    facts, by its arguments and the day, and made again after an import or the next day."""
    from directory.usecases.funding import summary
    from directory.web import state as web_state

    made, original = [], summary.funding_summary
    monkeypatch.setattr(
        summary, "funding_summary", lambda *a, **k: made.append(k["by"]) or original(*a, **k)
    )
    client = app.test_client()
    first = client.get("/api/v1/funding/summary?by=borough")
    again = client.get("/api/v1/funding/summary?by=borough")
    assert first.status_code == again.status_code == 200
    assert again.data == first.data and made == ["borough"]
    assert client.get("/api/v1/funding/summary?by=bcu").status_code == 200
    assert client.get("/api/v1/funding/summary?by=borough&area=Kingston").status_code == 200
    assert made == ["borough", "bcu", "borough"]
    assert client.get("/api/v1/funding/summary?by=borough&area=Nowhere").status_code == 404
    assert client.get("/api/v1/funding/summary?by=borough&area=Nowhere").status_code == 404
    monkeypatch.setattr(web_state, "today", lambda: date(2031, 1, 1))
    client.get("/api/v1/funding/summary?by=borough")
    assert made[-1] == "borough" and len(made) == 6  # each 404 was made again: none kept
    import_reference(app)
    client.get("/api/v1/funding/summary?by=borough")
    assert len(made) == 7


# -- fuzzing: any text in any parameter is an answer or a problem, never a 500 ---------------------
_ENDPOINTS = {
    "/api/v1/funding/summary": ("by", "programme", "financial_year", "area", "live_on",
                                "apportion", "include_regrants"),
    "/api/v1/funding/need": ("level", "programme", "financial_year", "apportion",
                             "include_regrants"),
    "/api/v1/programmes": ("page", "per_page", "include_regrants"),
    "/api/v1/outcomes/summary": ("by", "area"),
}  # fmt: skip
_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["borough", "bcu", "ward", "programme", "population", "2021/22", "Kingston",
                     "E09000021", "bcu-south-west", "2024-06-01", "true", "0", "-1", "1e999",
                     "NaN", "9" * 30, "' OR 1=1 --"]),
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    endpoint=st.sampled_from(sorted(_ENDPOINTS)),
    data=st.data(),
)
def test_fuzzed_parameters_never_500(geo_app, endpoint, data):
    names = _ENDPOINTS[endpoint]
    chosen = data.draw(st.dictionaries(st.sampled_from(names), _VALUES, max_size=len(names)))
    if endpoint.endswith("summary") and "by" not in chosen and data.draw(st.booleans()):
        chosen["by"] = data.draw(st.sampled_from(["borough", "bcu", "ward", "theme", "programme"]))
    response = geo_app.test_client().get(endpoint, query_string=chosen)
    assert response.status_code < 500, (chosen, response.get_data(as_text=True))
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
        assert response.json["status"] == response.status_code and response.json["code"]


# -- hand-checked against the demo data --------------------------------------------------------
def test_demo_totals_match_the_published_mopac_decisions(writable_app, shared_data_dir):
    """Figures checked by hand against grants/mopac_grant_decisions_curated.csv (PCD 1560,
    Safer Streets Fund round 5: Lewisham £272,664 in 2023/24 and £230,328 in 2024/25,
    Haringey £100,467.44 and £139,364.84, Croydon £82,500 and £165,000) and the demo's
    MOPAC → Kingston SNB grant of £31,250 in 2023/24; Lewisham's mid-2022 population is
    298,653 (reference/london_borough_population_2022.csv)."""
    from directory.cli import cli

    result = writable_app.test_cli_runner().invoke(
        cli, ["demo", "load", "--from", str(shared_data_dir)]
    )
    assert result.exit_code == 0, result.output[-2000:]
    client = writable_app.test_client()
    by_fy = {
        fy: {r["area"]["name"]: (r["awards"], r["amount"])
             for r in client.get(f"/api/v1/funding/summary?by=borough&financial_year={fy}").json["boroughs"]
             if r["amount"]}
        for fy in ("2023-24", "2024-25")
    }  # fmt: skip
    assert by_fy["2023-24"] == {
        "Croydon": (1, 82500.0), "Haringey": (1, 100467.44), "Lewisham": (1, 272664.0),
        "Kingston upon Thames": (1, 31250.0),
    }  # fmt: skip
    assert by_fy["2024-25"] == {
        "Croydon": (1, 165000.0),
        "Haringey": (1, 139364.84),
        "Lewisham": (1, 230328.0),
    }
    need = client.get("/api/v1/funding/need?level=borough&financial_year=2024-25").json
    lewisham = next(a for a in need["areas"] if a["area"]["code"] == "E09000023")
    assert lewisham["population"] == 298653
    assert lewisham["per_1000_residents"] == pytest.approx(230328 / 298653 * 1000, abs=0.01)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/funding/summary?by=borough&programme={p}",
        "/api/v1/funding/need?level=borough&programme={p}",
        "/api/v1/funding/timeliness?by=programme&programme={p}",
        "/api/v1/areas/E09000021/comparison?programme={p}",
    ],
)
def test_an_unknown_programme_is_a_problem_not_an_empty_answer(reference_app, url):
    """Every funding answer filtered by a programme that is not held is a 404
    programme-not-found with the closest programmes, as /services, /grants and the patch
    answer it: an answer of zeros would read as "no money went there"."""
    client = reference_app.test_client()
    held = client.get(url.format(p="lcpf-direct"))
    assert held.status_code == 200, held.json
    missing = client.get(url.format(p="lcpf"))
    assert missing.status_code == 404, missing.json
    assert missing.mimetype == "application/problem+json"
    assert missing.json["code"] == "programme-not-found"
    assert {s["id"] for s in missing.json["suggestions"]} >= {"lcpf-direct", "lcpf-cc"}
