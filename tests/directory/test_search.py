"""Searching services (GET /api/v1/services): every filter, the area semantics, distance,
boxes, grant dates, sort orders, GeoJSON, CSV and paging, on SQLite and PostgreSQL over a
small directory imported with `directory import` (dates relative to today), plus ranking
sanity over a generated 500-service directory."""

from __future__ import annotations

import csv
import importlib.util
import io
import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from directory import create_app
from directory.cli import cli
from directory.ingest.readers import write_table
from directory.ingest.template import HEADINGS
from directory.store.repositories.search import cell_ranges, parse_terms
from directory.store.words import TsTerm, query_terms, tsquery_terms
from directory.usecases.opportunities import LONDON_TZ
from directory.web.representations import neutralise
from tests.bbox_pages import fast_and_sql
from tests.conftest import BACKENDS, geography_copy

TODAY = datetime.now(LONDON_TZ).date()  # (the API's today: London's)
COLUMNS = [
    "Service ref", "Service name", "Description", "Status", "Themes", "Organisation name",
    "Organisation type", "Coverage", "Site name", "Site postcode", "Last verified",
    "Grant ref", "Funder", "Programme", "Amount", "Start date", "End date",
]  # fmt: skip
KT1_1EU = (51.40772, -0.305917)  # Kingston Town ward, Kingston upon Thames
KT1_1LF_M = 120.3  # metres from KT1 1EU (BNG 517819,168930 vs 517923,168994)
KT2_5AA_M = math.hypot(518111 - 517923, 169670 - 168994)  # about 702 m


def _d(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


def rows() -> list[dict[str, str]]:
    """The small directory. Every grant date is relative to today, so the tests keep their
    meaning whatever day they run."""
    return [
        dict(ref="LDN-01", name="Pan-London helpline", desc="Advice line for victims",
             themes="Victims and witnesses", org="Safer London", coverage="pan-London",
             grant="G-LDN", programme="VRU", start="2024-04-01", end=_d(20)),
        dict(ref="BCU-CW", name="Central West mentoring", desc="Mentoring in three boroughs",
             themes="Mentoring", org="West Mentors", coverage="Central West BCU",
             grant="G-CW", programme="LCPF", start="2020-01-01", end="2021-01-01"),
        dict(ref="WARD-KT", name="Kingston Town ward patrol", desc="Street patrols",
             themes="Community safety", org="Kingston Watch", coverage="E05013938"),
        dict(ref="OXY-KT", name="Oxygen knife crime programme", desc="Workshops in Kingston",
             themes="knife crime; youth diversion", org="Oxygen", coverage="Kingston",
             site="Oxygen hub", postcode="kt1 1eu",
             grant="G-OXY", programme="SNB", start="2025-04-01", end=_d(400)),
        dict(ref="NEAR-KT", name="Canbury youth club", desc="Evening sessions",
             themes="Youth diversion", org="Canbury Trust", coverage="Kingston",
             site="Canbury hall", postcode="KT2 5AA",
             grant="G-NEAR", programme="VRU", start=_d(10), end=_d(60)),
        dict(ref="VISIT-01", name="=HYPERLINK(\"http://x\") outreach", desc="Visits Kingston",
             themes="Hate crime", org="@Risk Youth", coverage="Hackney",
             site="Kingston drop-in", postcode="KT1 1LF"),
        dict(ref="HACK-01", name="Hackney outreach", desc="Knife crime outreach in Hackney",
             themes="knife crime", org="Lantern Hackney", coverage="Hackney",
             site="Hackney base", postcode="E8 1AA",
             grant="G-HACK", programme="VRU", start=_d(-100), end=_d(200)),
        dict(ref="CITY-01", name="City night service", desc="In the Square Mile",
             themes="Community safety", org="City Help", coverage="E09000001",
             site="City office", postcode="EC2V 7HH"),
    ]  # fmt: skip


def template_csv(path: Path, entries: list[dict[str, str]]) -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow([
            e["ref"], e["name"], e.get("desc", ""), e.get("status", "active"), e["themes"],
            e["org"], "charity", e["coverage"], e.get("site", ""), e.get("postcode", ""),
            e.get("verified", "2026-01-01"), e.get("grant", ""),
            "MOPAC" if e.get("grant") else "", e.get("programme", ""),
            "£10k" if e.get("grant") else "", e.get("start", ""), e.get("end", ""),
        ])  # fmt: skip
    path.write_text(out.getvalue(), "utf-8")
    return path


def import_file(app: Any, path: Path, *extra: str) -> None:
    result = app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "search", *extra])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module", params=BACKENDS)
def search_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The small directory, imported once per backend for the module: the tests that take
    ``client`` only read it (those that import more take ``writable_app``)."""
    tmp = tmp_path_factory.mktemp("search")
    app = create_app(geography_copy(request, request.param, tmp))
    import_file(app, template_csv(tmp / "services.csv", rows()))
    yield app
    app.extensions["directory"].db.dispose()


@pytest.fixture()
def client(search_app):  # type: ignore[no-untyped-def]
    return search_app.test_client()


def refs(client: Any, query: str, *, ordered: bool = False) -> Any:
    response = client.get(f"/api/v1/services?per_page=100&{query}")
    assert response.status_code == 200, response.json
    found = [s["ref"] for s in response.json["contents"]]
    return found if ordered else set(found)


def problem(client: Any, query: str, status: int = 422) -> dict[str, Any]:
    response = client.get(f"/api/v1/services?{query}")
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    return response.json  # type: ignore[no-any-return]


# -- text ------------------------------------------------------------------------------------
def test_text_search_over_name_organisation_description_and_themes(client):
    assert refs(client, "q=workshops") == {"OXY-KT"}  # description
    assert refs(client, "q=canbury") == {"NEAR-KT"}  # name and organisation
    assert refs(client, "q=lantern") == {"HACK-01"}  # organisation only
    assert refs(client, "q=hate") == {"VISIT-01"}  # theme name only
    assert refs(client, "q=knife") == {"OXY-KT", "HACK-01"}
    assert refs(client, "q=knife%20hackney") == {"HACK-01"}  # every word
    assert refs(client, "q=KNIFE%20-hackney") == {"OXY-KT"}  # any case, exclusion
    assert refs(client, "q=nothing-like-this-anywhere") == set()
    body = client.get("/api/v1/services?q=knife").json
    assert all(isinstance(s["rank"], float) for s in body["contents"])
    assert "distance_m" not in body["contents"][0]
    # LIKE wildcards are literal text on SQLite; PostgreSQL ignores the punctuation
    assert refs(client, "q=%25") == set() and refs(client, "q=_") == set()


def test_text_search_compares_words_as_people_type_them(writable_app, tmp_path):
    """A term starts a word (on SQLite it matched anywhere: "men" found "women", "ham"
    found "Lewisham"); a phone's curly apostrophe, accents and "&" for "and" are the same
    text; a query of only exclusions finds what has none of them; the same answers from
    both databases (the read probe of 5 December)."""
    entries = [
        dict(ref="W", name="Croydon Women's Centre", desc="Drop-in", themes="Domestic abuse",
             org="Croydon Centre", coverage="Croydon"),
        dict(ref="L", name="Lewisham youth hub", desc="Evenings", themes="Youth diversion",
             org="Lewisham Trust", coverage="Lewisham"),
        dict(ref="K", name="Kensington & Chelsea advice", desc="Advice", themes="Victims and witnesses",
             org="K&C Advice", coverage="E09000020"),
        dict(ref="K2", name="Kensington and Chelsea outreach", desc="Outreach",
             themes="Youth diversion", org="Royal Borough Outreach", coverage="E09000020"),
        dict(ref="C", name="Café Lumière drop-in", desc="Knife crime workshops",
             themes="knife crime", org="Lumiere", coverage="Camden"),
        dict(ref="M", name="Peer mentoring", desc="Mentors for young people",
             themes="Mentoring", org="O'Brien Mentors", coverage="Camden"),
    ]  # fmt: skip
    import_file(writable_app, template_csv(tmp_path / "words.csv", entries))
    client = writable_app.test_client()
    assert "W" not in refs(client, "q=men") and "L" not in refs(client, "q=ham")
    assert refs(client, "q=hub") == {"L"} and refs(client, "q=lewisham") == {"L"}
    for spelling in ("women%E2%80%99s", "women's", "Women", "WOMEN%27S%20centre"):
        assert refs(client, f"q={spelling}") == {"W"}, spelling
    for spelling in ("Kensington%20%26%20Chelsea", "kensington%20and%20chelsea"):
        assert refs(client, f"q={spelling}") == {"K", "K2"}, spelling
    for spelling in ("cafe", "caf%C3%A9", "CAF%C3%89%20lumiere", "lumi%C3%A8re"):
        assert refs(client, f"q={spelling}") == {"C"}, spelling
    assert refs(client, "q=mentor") == {"M"}  # a word's start
    # as typed so far, on PostgreSQL as on SQLite (PostgreSQL matched whole words: "ment"
    # and "lewish" found nothing there; the note of 5 December)
    assert refs(client, "q=ment") == {"M"} and refs(client, "q=lewish") == {"L"}
    # typed past its stem (the stem of "mentoring" is "mentor"): PostgreSQL found nothing
    # for "mentori", while SQLite and the patch found "mentoring" (migration 0024)
    assert refs(client, "q=mentori") == {"M"} == refs(client, 'q="peer%20mentori"')
    assert refs(client, "q=-mentori") == {"W", "L", "K", "K2", "C"}
    assert refs(client, "q=kensing%20chel") == {"K", "K2"}
    assert refs(client, "q=kensing%20-adv") == {"K2"}
    assert refs(client, 'q="peer%20ment"') == {"M"} and refs(client, 'q="ment%20peer"') == set()
    # "or": on PostgreSQL either side, as websearch_to_tsquery reads it (the words before
    # it all needed); the SQLite fallback leaves it out
    postgres = writable_app.extensions["directory"].db.engine.dialect.name == "postgresql"
    either = refs(client, "q=lewisham%20hub%20or%20mentoring")
    assert either == ({"L", "M"} if postgres else set())
    assert refs(client, "q=hub%20-or") == {"L"}  # "-or": a word excluded, not "or"
    assert refs(client, "q=-knife") == {"W", "L", "K", "K2", "M"}
    assert refs(client, "q=%26") == set() and refs(client, "q=the") == set()
    # a word of the text that has a hyphen or an apostrophe, in the query as in the text
    # (PostgreSQL was given "drop-in" while the rows keep "drop in": the review)
    assert refs(client, "q=drop-in") == {"W", "C"} and refs(client, 'q="drop in"') == {"W", "C"}
    assert refs(client, "q=o%27brien") == {"M"} == refs(client, "q=obrien")
    assert refs(client, "q=-drop-in%20-knife") == {"L", "K", "K2", "M"}
    # the patch's q over the in-memory index: the same rule as /services' q (exclusions,
    # phrases, stop words, a query with no words at all)
    for q in (
        "-knife",
        "drop-in",
        "the",
        "%E6%97%A5",
        "o%27brien",
        "mentor%20-peer",
        '"peer mentoring"',
    ):
        listed = refs(client, f"area=Camden&q={q}")
        patch = client.get(f"/api/v1/patch?area=Camden&q={q}&per_page=50").json
        assert {s["ref"] for s in patch["services"]["contents"]} == listed, q
    patch = client.get("/api/v1/patch?area=E09000020&q=Kensington%20%26%20Chelsea&per_page=50")
    assert {s["ref"] for s in patch.json["services"]["contents"]} == {"K", "K2"}
    patch = client.get("/api/v1/patch?area=Croydon&q=women%E2%80%99s")
    assert {s["ref"] for s in patch.json["services"]["contents"]} == {"W"}
    assert client.get("/api/v1/patch?area=Lewisham&q=ham").json["services"]["contents"] == []


def test_text_search_reads_every_script_and_latin_letters_unicode_keeps_whole(
    writable_app, tmp_path
):
    """A name in Bengali, Arabic or Cyrillic is found by its words (it had none: only a-z
    and 0-9 were words), and "ø", "ß", "æ" or "ł" as English readers type them ("soren"
    finds "Søren", which was kept as "sren"); the patch's q the same; on both databases.
    Two providers named only in other scripts are two organisations (both were
    "org:unnamed", one organisation, and a 360Giving or HSDS import matched any two such
    names as the same organisation)."""
    entries = [
        dict(ref="S", name="Søren’s youth project", desc="Mentoring in Straße-style courts",
             themes="Mentoring", org="Ærø Łódź Trust", coverage="Camden"),
        dict(ref="B", name="মহিলা সমিতি", desc="নারী সহায়তা", themes="Domestic abuse",
             org="মহিলা সমিতি", coverage="Camden"),
        dict(ref="A", name="مركز المرأة", desc="Advice", themes="Domestic abuse",
             org="مركز المرأة", coverage="Camden"),
        dict(ref="R", name="Москва центр", desc="Помощь", themes="Victims and witnesses",
             org="Центр", coverage="Camden"),
        dict(ref="Y", name="𝐁𝐮𝐬 Stop ℍaven", desc="Kids™ club", themes="Mentoring",
             org="Styled Trust", coverage="Camden"),
    ]  # fmt: skip
    import_file(writable_app, template_csv(tmp_path / "scripts.csv", entries))
    client = writable_app.test_client()
    for spelling in (
        "soren",
        "S%C3%B8ren%27s",
        "S%C3%98REN",
        "strasse",
        "stra%C3%9Fe",
        "aero",
        "lodz",
    ):
        assert refs(client, f"q={spelling}") == {"S"}, spelling
    for query, expected in (
        ("%E0%A6%AE%E0%A6%B9%E0%A6%BF%E0%A6%B2%E0%A6%BE", {"B"}),  # মহিলা
        ("%D9%85%D8%B1%D9%83%D8%B2", {"A"}),  # مركز
        ("%D0%BC%D0%BE%D1%81%D0%BA%D0%B2%D0%B0", {"R"}),  # москва (case aside)
        ("%D0%9F%D0%BE%D0%BC%D0%BE%D1%89%D1%8C", {"R"}),  # Помощь, in the description
        ("%D0%BC%D0%BE%D1%81%D0%BA%D0%B2", {"R"}),  # москв: a word's start, on both
        ("%E0%A6%B8%E0%A6%AE%E0%A6%BF", {"B"}),  # সমি: the start of সমিতি
        ("%D9%85%D8%B1%D9%83", {"A"}),  # مرك: the start of مركز
        ("-%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0", {"S", "B", "A", "Y"}),
        # letters in a compatibility form (styled text), by their plain letters in any
        # case, on SQLite, PostgreSQL and in the patch alike
        ("bus", {"Y"}),
        ("HAVEN", {"Y"}),
        ("%F0%9D%90%81%F0%9D%90%AE%F0%9D%90%AC", {"Y"}),  # 𝐁𝐮𝐬 as typed
        ("kidstm", {"Y"}),
        ("stop -bus", set()),
    ):
        assert refs(client, f"area=Camden&q={query}") == expected, query
        patch = client.get(f"/api/v1/patch?area=Camden&q={query}&per_page=50").json
        assert {s["ref"] for s in patch["services"]["contents"]} == expected, query
    organisations = {
        s["ref"]: s["organisation"]["ref"] for s in client.get("/api/v1/services?per_page=10").json["contents"]
    }  # fmt: skip
    assert len(set(organisations.values())) == 5, organisations
    assert organisations["S"] == "org:r-odz-trust"  # the id the name always had
    assert organisations["B"].startswith("org:name-") and organisations["R"].startswith("org:name-")


def test_a_word_of_the_name_ranks_first_whatever_the_names_accents_or_script(
    writable_app, tmp_path
):
    """A word of q in the service's name ranks it above one with the word only in its
    description, whatever the name's accents, "ø" or script: both databases rank by the
    name's loose words (PostgreSQL's weight A and SQLite's 3 read the name as written, so
    "soren" never found its weight in "Søren")."""
    entries = [
        dict(ref="D1", name="Youth hub", desc="Founded by Soren and Cafe Moscow (Москва) friends",
             themes="Mentoring", org="Hub Trust", coverage="Camden"),
        dict(ref="S", name="Søren youth club", desc="Evenings", themes="Mentoring",
             org="Club Trust", coverage="Camden"),
        dict(ref="C", name="CAFÉ drop-in", desc="Evenings", themes="Mentoring",
             org="Drop Trust", coverage="Camden"),
        dict(ref="M", name="Москва centre", desc="Evenings", themes="Mentoring",
             org="Centre Trust", coverage="Camden"),
    ]  # fmt: skip
    import_file(writable_app, template_csv(tmp_path / "rank.csv", entries))
    client = writable_app.test_client()
    for q, first in (("soren", "S"), ("cafe", "C"), ("%D0%BC%D0%BE%D1%81%D0%BA%D0%B2%D0%B0", "M")):
        body = client.get(f"/api/v1/services?q={q}").json["contents"]
        assert [s["ref"] for s in body] == [first, "D1"], q
        assert body[0]["rank"] > body[1]["rank"], q


def test_lists_by_name_are_in_the_order_people_read_case_aside(writable_app, tmp_path):
    """ "Lambeth …" before "LCPF …" and "Action for Kids" before "action space", on SQLite
    (whose own order is by code point: capitals first) as on PostgreSQL; services, the
    Open Referral services and organisations alike, read by an index on lower(name)."""
    names = ["LCPF youth fund", "Lambeth outreach", "action space", "Action for Kids", "Zebra"]
    entries = [
        dict(ref=f"N{n}", name=name, themes="Youth diversion", org=name.upper() if n % 2 else name,
             coverage="Camden")
        for n, name in enumerate(names)
    ]  # fmt: skip
    import_file(writable_app, template_csv(tmp_path / "names.csv", entries))
    client = writable_app.test_client()
    expected = sorted(names, key=str.lower)
    assert expected == [
        "Action for Kids",
        "action space",
        "Lambeth outreach",
        "LCPF youth fund",
        "Zebra",
    ]
    listed = client.get("/api/v1/services?sort=name&per_page=100").json["contents"]
    assert [s["name"] for s in listed] == expected
    hsds = client.get("/api/v1/hsds/services?per_page=100").json["contents"]
    assert [s["name"] for s in hsds] == expected
    organisations = client.get("/api/v1/organisations?per_page=100").json["contents"]
    assert [o["name"].lower() for o in organisations] == [n.lower() for n in expected]


def test_text_search_ranks_and_sorts_by_relevance(client):
    body = client.get("/api/v1/services?q=knife").json["contents"]
    assert [s["ref"] for s in body][0] == "OXY-KT"  # in the name beats the description
    assert body[0]["rank"] > body[1]["rank"]
    by_name = refs(client, "q=knife&sort=name", ordered=True)
    assert by_name == ["HACK-01", "OXY-KT"]


def test_blank_text_is_invalid(client):
    assert problem(client, "q=%20%20")["errors"] == {
        "q": ["q must contain something to search for."]
    }
    assert "q" in problem(client, "q=")["errors"]


# -- themes, status, organisation, programme, withdrawn -------------------------------------
def test_classic_filters_still_work_and_combine(client):
    assert refs(client, "theme=violence-knife-crime") == {"OXY-KT", "HACK-01"}
    assert refs(client, "theme=violence-knife-crime&theme=youth-diversion") == {"OXY-KT"}
    assert refs(client, "organisation=org:oxygen") == {"OXY-KT"}
    assert problem(client, "organisation=nobody", 404)["code"] == "organisation-not-found"
    assert refs(client, "status=inactive") == set()
    assert refs(client, "programme=vru") == {"LDN-01", "NEAR-KT", "HACK-01"}
    assert refs(client, "programme=vru&area=Kingston") == {"LDN-01", "NEAR-KT"}
    assert refs(client, "programme=vru&q=hackney") == {"HACK-01"}
    # an unknown programme is a problem, not an empty answer (issue 13)
    unknown = client.get("/api/v1/services?programme=no-such-programme")
    assert unknown.status_code == 404 and unknown.json["code"] == "programme-not-found"


def test_withdrawn_services_only_on_request(writable_app, tmp_path):
    import_file(writable_app, template_csv(tmp_path / "a.csv", rows()))
    import_file(writable_app, template_csv(tmp_path / "b.csv", rows()[1:]), "--mode", "full")
    client = writable_app.test_client()
    assert "LDN-01" not in refs(client, "q=helpline")
    assert refs(client, "q=helpline&include_withdrawn=true") == {"LDN-01"}
    listed = client.get("/api/v1/services?include_withdrawn=true&q=helpline").json["contents"]
    assert listed[0]["withdrawn"] is True


# -- areas -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("area", "expected"),
    [
        # a borough: London-wide, its ward's service, its own, a site in it; not the BCU of others
        ("E09000021", {"LDN-01", "WARD-KT", "OXY-KT", "NEAR-KT", "VISIT-01"}),
        ("kingston", {"LDN-01", "WARD-KT", "OXY-KT", "NEAR-KT", "VISIT-01"}),
        ("e09000021", {"LDN-01", "WARD-KT", "OXY-KT", "NEAR-KT", "VISIT-01"}),
        # the ward: the borough's services (ancestor), its own, a site in it
        ("E05013938", {"LDN-01", "WARD-KT", "OXY-KT", "NEAR-KT", "VISIT-01"}),
        # a sibling ward: not the other ward's service, not sites elsewhere in the borough
        ("E05013930", {"LDN-01", "OXY-KT", "NEAR-KT"}),
        # the BCU of Kingston: its boroughs' and wards' services and sites
        ("bcu-south-west", {"LDN-01", "WARD-KT", "OXY-KT", "NEAR-KT", "VISIT-01"}),
        # the Central West BCU service appears for its boroughs, not others
        ("Westminster", {"LDN-01", "BCU-CW"}),
        ("bcu-central-west", {"LDN-01", "BCU-CW"}),
        ("E09000020", {"LDN-01", "BCU-CW"}),
        ("Hackney", {"LDN-01", "VISIT-01", "HACK-01"}),
        # the City of London: directly under London, in no BCU
        ("E09000001", {"LDN-01", "CITY-01"}),
        # London: everything
        ("E12000007", {"LDN-01", "BCU-CW", "WARD-KT", "OXY-KT", "NEAR-KT", "VISIT-01",
                       "HACK-01", "CITY-01"}),
    ],
)  # fmt: skip
def test_area_matches_coverage_up_and_down_the_hierarchy_and_sites(client, area, expected):
    assert refs(client, f"area={area}") == expected


def test_a_ward_of_a_bcu_borough_gets_the_bcu_service(client):
    ward = client.get("/api/v1/areas?type=ward&parent=E09000033&per_page=1").json["contents"][0]
    assert refs(client, f"area={ward['code']}") == {"LDN-01", "BCU-CW"}


def test_unknown_area_is_a_404_problem(client):
    body = problem(client, "area=Atlantis", 404)
    assert body["code"] == "area-not-found"
    assert problem(client, "area=E09999999", 404)["code"] == "area-not-found"


# -- near and bbox -----------------------------------------------------------------------------
def test_near_filters_by_radius_and_sorts_by_distance(client):
    lat, lon = KT1_1EU
    body = client.get(f"/api/v1/services?near={lat},{lon}&radius=1000").json
    assert [s["ref"] for s in body["contents"]] == ["OXY-KT", "VISIT-01", "NEAR-KT"]
    distances = [s["distance_m"] for s in body["contents"]]
    assert distances[0] < 5  # Code-Point grid references are to the metre
    assert distances[1] == pytest.approx(KT1_1LF_M, abs=5)
    assert distances[2] == pytest.approx(KT2_5AA_M, abs=5)
    assert refs(client, f"near={lat},{lon}&radius=500") == {"OXY-KT", "VISIT-01"}
    assert refs(client, f"near={lat},{lon}") == {"OXY-KT", "VISIT-01", "NEAR-KT"}  # 2 km
    far = refs(client, f"near={lat},{lon}&radius=20000")
    assert "HACK-01" not in far and "CITY-01" in far  # EC2V 7HH is about 19 km away
    by_name = refs(client, f"near={lat},{lon}&radius=1000&sort=name", ordered=True)
    assert by_name == ["VISIT-01", "NEAR-KT", "OXY-KT"]  # "=" sorts before letters
    assert refs(client, f"near={lat},{lon}&q=canbury") == {"NEAR-KT"}


def test_near_and_radius_are_validated(client):
    assert "near" in problem(client, "near=51.4")["errors"]
    assert "near" in problem(client, "near=abc,def")["errors"]
    assert "near" in problem(client, "near=nan,0")["errors"]
    assert "near" in problem(client, "near=-0.3,51.4")["errors"]  # lon,lat: outside London
    assert "radius" in problem(client, "near=51.4,-0.3&radius=20001")["errors"]
    assert "radius" in problem(client, "radius=100")["errors"]


def test_bbox_finds_services_with_a_site_inside(client):
    kingston = "-0.32,51.40,-0.29,51.42"
    assert refs(client, f"bbox={kingston}") == {"OXY-KT", "VISIT-01", "NEAR-KT"}
    tight = "-0.3065,51.4074,-0.3055,51.4080"  # around KT1 1EU only
    assert refs(client, f"bbox={tight}") == {"OXY-KT"}
    assert refs(client, "bbox=-0.07,51.54,-0.05,51.55") == {"HACK-01"}
    assert refs(client, f"bbox={kingston}&q=oxygen") == {"OXY-KT"}
    for bad in ("51.40,-0.32,51.42,-0.29", "-0.29,51.40,-0.32,51.42", "1,2,3", "-0.3,51.4,x,51.5",
                "-0.3,51.4,-0.2,95", "2,48,3,49"):  # fmt: skip
        assert "bbox" in problem(client, f"bbox={bad}")["errors"], bad
    # a map's viewport wider than London, or reaching past it, finds what is in London
    every = refs(client, "bbox=-0.6,51.2,0.4,51.8")
    assert {"OXY-KT", "HACK-01"} <= every
    for viewport in ("-0.9,51.1,0.7,51.9", "-1.5,51.3,0.2,51.6", "-180,-90,180,90"):
        assert refs(client, f"bbox={viewport}") == every, viewport
    assert refs(client, "bbox=-0.305917,51.40772,-0.305917,51.40772") == {"OXY-KT"}  # a point


def test_cell_ranges_cover_the_rectangle():
    ranges = cell_ranges(517000, 168000, 518000, 169000)
    assert len(ranges) == 5 and all(lo <= hi for lo, hi in ranges)
    wide = cell_ranges(500000, 160000, 540000, 200000)
    assert len(wide) == 1


# -- grants and changes ------------------------------------------------------------------------
def test_live_on_uses_grant_dates_with_open_ends(client):
    assert refs(client, f"live_on={TODAY}") == {"LDN-01", "OXY-KT", "HACK-01"}
    assert refs(client, f"live_on={_d(30)}") == {"OXY-KT", "NEAR-KT", "HACK-01"}
    assert refs(client, "live_on=2020-06-01") == {"BCU-CW"}
    assert refs(client, f"live_on={_d(30)}&programme=vru") == {"NEAR-KT", "HACK-01"}
    assert "live_on" in problem(client, "live_on=2026-02-30")["errors"]


def test_funding_ends_within_days(client):
    assert refs(client, "funding_ends_within=30") == {"LDN-01"}
    assert refs(client, "funding_ends_within=100") == {"LDN-01", "NEAR-KT"}
    assert refs(client, "funding_ends_within=0") == set()
    assert refs(client, "funding_ends_within=100&programme=snb") == set()
    assert "funding_ends_within" in problem(client, "funding_ends_within=-1")["errors"]


def test_updated_since(writable_app, tmp_path):
    import_file(writable_app, template_csv(tmp_path / "a.csv", rows()))
    client = writable_app.test_client()
    everything = refs(client, "updated_since=2000-01-01")
    assert len(everything) == 8
    time.sleep(1.1)
    cut = datetime.now(UTC).replace(microsecond=0)
    time.sleep(1.1)
    changed = rows()
    changed[3]["desc"] = "Workshops in Kingston and Surbiton"
    import_file(writable_app, template_csv(tmp_path / "b.csv", changed))
    stamp = cut.isoformat().replace("+00:00", "Z")
    assert refs(client, f"updated_since={stamp}") == {"OXY-KT"}
    assert refs(client, f"updated_since={cut.date() + timedelta(days=2)}") == set()
    assert refs(client, "updated_since=2000-01-01", ordered=False) == everything
    assert refs(client, "sort=updated", ordered=True)[0] == "OXY-KT"
    assert "updated_since" in problem(client, "updated_since=yesterday")["errors"]


# -- sorting -----------------------------------------------------------------------------------
def test_sort_orders_and_their_defaults(client):
    names = [s["name"] for s in client.get("/api/v1/services?per_page=100").json["contents"]]
    assert names == sorted(names)
    by_end = refs(client, "sort=funding_end", ordered=True)
    # ending soonest first among grants not yet ended; services without one after, by name
    assert by_end[:4] == ["LDN-01", "NEAR-KT", "HACK-01", "OXY-KT"]
    rest = [s["name"] for s in client.get("/api/v1/services?sort=funding_end").json["contents"][4:]]
    assert rest == sorted(rest)


def test_sorts_that_need_a_query_or_a_point_are_422(client):
    assert problem(client, "sort=relevance")["errors"] == {
        "sort": ["sort=relevance needs a text query q."]
    }
    assert problem(client, "sort=distance")["errors"] == {
        "sort": ["sort=distance needs near=lat,lon."]
    }
    assert "sort" in problem(client, "sort=random")["errors"]


# -- representations -------------------------------------------------------------------------
def test_geojson_feature_collection(client):
    response = client.get("/api/v1/services?format=geojson&area=Kingston&per_page=2")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    body = response.json
    assert body["type"] == "FeatureCollection"
    # Kingston: LDN-01 and WARD-KT have no site, the other three one each: five features
    assert body["numberMatched"] == 5
    assert body["numberReturned"] == len(body["features"]) == 2  # the first two by name
    rels = {link["rel"]: link for link in body["links"]}
    assert {"self", "first", "last", "next", "alternate"} <= set(rels)
    assert "format=geojson" in rels["next"]["href"] and "page=2" in rels["next"]["href"]
    assert rels["next"]["type"] == "application/geo+json"
    for feature in body["features"]:
        assert feature["type"] == "Feature" and set(feature) == {
            "type",
            "id",
            "geometry",
            "properties",
        }
        assert (
            feature["properties"]["url"]
            == f"/api/v1/services/{feature['properties']['service_id']}"
        )
    every = client.get(
        "/api/v1/services?area=Kingston&per_page=100", headers={"Accept": "application/geo+json"}
    )
    assert every.mimetype == "application/geo+json"
    features = {f["properties"]["ref"]: f for f in every.json["features"]}
    oxygen = features["OXY-KT"]
    assert oxygen["geometry"] == {"type": "Point", "coordinates": [-0.305917, 51.40772]}  # lon, lat
    assert oxygen["properties"]["postcode"] == "KT1 1EU"
    assert oxygen["properties"]["site"] == "Oxygen hub"
    assert oxygen["properties"]["organisation"] == "Oxygen"
    assert oxygen["properties"]["themes"] == ["violence-knife-crime", "youth-diversion"]
    assert features["LDN-01"]["geometry"] is None
    assert features["LDN-01"]["properties"]["coverage"] == ["E12000007"]
    assert features["WARD-KT"]["properties"]["coverage"] == ["E05013938"]
    lat, lon = KT1_1EU
    near = client.get(f"/api/v1/services?format=geojson&near={lat},{lon}&radius=500").json
    assert [f["properties"]["ref"] for f in near["features"]] == ["OXY-KT", "VISIT-01"]
    assert near["features"][1]["properties"]["distance_m"] == pytest.approx(KT1_1LF_M, abs=5)


def test_csv_download(client):
    response = client.get("/api/v1/services?format=csv&per_page=100")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment")
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table[0] == [
        "id", "ref", "name", "organisation", "status", "themes", "coverage", "postcodes",
        "live_programmes", "last_verified", "url",
    ]  # fmt: skip
    by_ref = {r[1]: dict(zip(table[0], r, strict=True)) for r in table[1:]}
    assert len(by_ref) == 8
    visit = by_ref["VISIT-01"]
    assert visit["name"].startswith("'=HYPERLINK(")  # neutralised formula
    assert visit["organisation"] == "'@Risk Youth"
    assert visit["postcodes"] == "KT1 1LF"
    oxygen = by_ref["OXY-KT"]
    assert oxygen["themes"] == "violence-knife-crime; youth-diversion"
    assert oxygen["coverage"] == "E09000021"
    assert oxygen["live_programmes"] == "Safer Neighbourhood Board grants"
    assert oxygen["url"].endswith(f"/api/v1/services/{oxygen['id']}")
    assert by_ref["BCU-CW"]["live_programmes"] == ""  # its grant ended
    lat, lon = KT1_1EU
    near = client.get(f"/api/v1/services?format=csv&near={lat},{lon}&q=kingston")
    header = next(csv.reader(io.StringIO(near.get_data(as_text=True))))
    assert header[-2:] == ["distance_m", "rank"]
    accepted = client.get("/api/v1/services", headers={"Accept": "text/csv"})
    assert accepted.mimetype == "text/csv" and "Accept" in accepted.headers["Vary"]


def test_csv_cells_are_neutralised():
    for cell in ("=1+2", "+44 20", "-3", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(cell) == "'" + cell
    assert neutralise("plain") == "plain" and neutralise(None) == "" and neutralise(3) == "3"


def test_pagination_envelope_and_links_with_filters(client):
    response = client.get("/api/v1/services?area=Kingston&per_page=2&page=2&sort=name")
    body = response.json
    assert body["total_items"] == 5 and body["total_pages"] == 3 and body["page_number"] == 2
    links = response.headers["Link"]
    assert 'rel="next"' in links and 'rel="prev"' in links
    assert "area=Kingston" in links and "sort=name" in links
    csv_links = client.get("/api/v1/services?format=csv&per_page=2").headers["Link"]
    assert "format=csv" in csv_links and 'rel="next"' in csv_links
    assert problem(client, "per_page=1001")["errors"]["per_page"]
    past = client.get("/api/v1/services?page=99").json
    assert past["empty"] is True and past["total_items"] == 8


def test_query_terms_for_the_sqlite_fallback():
    terms = parse_terms('knife "youth club" -helpline or  ""')
    assert [(t.text, t.exclude) for t in terms] == [
        ("knife", False), ("youth club", False), ("helpline", True),
    ]  # fmt: skip
    # as the rows keep their words: loose, a term of several words one piece, stop words
    # and bare punctuation out; PostgreSQL's query the same, its "or" kept
    loose = query_terms("Drop-in & the -O\u2019Brien \u201cYouth  Club\u201d or Caf\u00e9")
    assert [(t.text, t.exclude) for t in loose] == [
        ("drop in", False), ("obrien", True), ("youth club", False), ("cafe", False),
    ]  # fmt: skip
    # PostgreSQL's: alternatives parted by a bare "or" ("a b or c" is a and b, or c, as
    # websearch_to_tsquery reads it), each term's words quoted, a phrase's joined
    assert tsquery_terms('Drop-in & -O\u2019Brien "Youth  Club" or Caf\u00e9 the') == [
        [TsTerm("'drop' <-> 'in'", False), TsTerm("'obrien'", True),
         TsTerm("'youth' <-> 'club'", False)],
        [TsTerm("'cafe'", False)],
    ]  # fmt: skip
    assert tsquery_terms("or knife or or") == [[TsTerm("'knife'", False)]]
    assert tsquery_terms("knife or the crime") == [
        [TsTerm("'knife'", False)], [TsTerm("'crime'", False)],
    ]  # fmt: skip
    assert tsquery_terms("crime -or") == [[TsTerm("'crime'", False), TsTerm("'or'", True)]]
    assert tsquery_terms("& the ʼ") == []


_QUERY_TEXT = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.sampled_from(list("ab -\"'&|!():*<>\\’́ি")), max_size=40),
    st.lists(
        st.sampled_from(
            [
                "or",
                "-",
                '"',
                "the",
                "in",
                "knife",
                "youth",
                "mentor",
                "ʼ",
                "москв",
                "সমিতি",
                "日本語",
                "x:*",
                "a&b",
                "!c",
                "(d)",
                "e<->f",
                "'g'",
                "\\h",
            ]
        ),
        max_size=8,
    ).map(" ".join),
).filter(lambda text: "\x00" not in text)  # (a NUL: the 400 of every path and query)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=_QUERY_TEXT)
def test_any_text_is_a_query_the_database_takes(client, text):
    """Whatever a query holds (PostgreSQL's own operators, quotes, marks alone, other
    scripts), ``q`` answers 200 with what matches, or the 422 for blank or long text: the
    ``to_tsquery`` text made of it is always one PostgreSQL parses (a syntax error there
    would be a 500)."""
    response = client.get("/api/v1/services", query_string={"q": text, "per_page": 5})
    assert response.status_code in (200, 422), (text, response.get_data(as_text=True)[:500])
    if response.status_code == 422:
        assert not text.strip() or len(text) > 200, text


# -- a generated directory -----------------------------------------------------------------
def _make_directory() -> Any:
    path = Path(__file__).resolve().parents[2] / "scripts" / "make_directory.py"
    spec = importlib.util.spec_from_file_location("make_directory", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ranking_and_filters_over_a_generated_directory(writable_app, tmp_path, shared_data_dir):
    generated = _make_directory().generate(500, 7, shared_data_dir)
    path = tmp_path / "generated.csv"
    write_table(path, list(HEADINGS), generated, format="csv")
    import_file(writable_app, path)
    client = writable_app.test_client()
    name_at = HEADINGS.index("Service name")
    word = "Beacon"
    with_word_in_name = {r[HEADINGS.index("Service ref")] for r in generated if word in r[name_at]}
    assert with_word_in_name
    body = client.get(f"/api/v1/services?q={word.lower()}&per_page=1000").json
    found = [s["ref"] for s in body["contents"]]
    assert with_word_in_name <= set(found)
    # services named with the word rank above those only mentioning it elsewhere
    ranks = [s["rank"] for s in body["contents"]]
    assert ranks == sorted(ranks, reverse=True)
    top = found[: len(with_word_in_name)]
    assert set(top) == with_word_in_name
    # totals agree with the pages, and paging is stable
    total = body["total_items"]
    seen = []
    for page in range(1, math.ceil(total / 37) + 1):
        seen += [s["ref"] for s in client.get(
            f"/api/v1/services?q={word.lower()}&per_page=37&page={page}"
        ).json["contents"]]  # fmt: skip
    assert seen == found
    # London-wide and BCU services appear in every borough of their area
    westminster = refs(client, "area=Westminster")
    kensington = refs(client, "area=E09000020")
    assert westminster & kensington
    london = client.get("/api/v1/services?area=London&per_page=1").json["total_items"]
    assert london == client.get("/api/v1/services?per_page=1").json["total_items"]
    # bbox over central London and near a point agree with each other on a site
    lat, lon = 51.5074, -0.1278
    near = client.get(f"/api/v1/services?near={lat},{lon}&radius=3000&per_page=1000").json
    distances = [s["distance_m"] for s in near["contents"]]
    assert distances == sorted(distances) and all(d <= 3000 for d in distances)
    box = refs(client, "bbox=-0.2,51.45,-0.05,51.55")
    assert {s["ref"] for s in near["contents"] if s["distance_m"] < 2500} <= box


# -- big boxes: pages chosen in memory (directory/usecases/boxes.py) ---------------------------
LONDON_BBOX = "-0.52,51.28,0.34,51.70"


def test_big_bbox_pages_follow_every_write(writable_app, tmp_path):
    """The arrays behind big bbox pages are those of the data version each request reads:
    services withdrawn, renamed or paused by an import show at once, as SQL answers."""
    import_file(writable_app, template_csv(tmp_path / "a.csv", rows()))
    boxes = writable_app.extensions["directory"].boxes
    services, ogc = "/api/v1/services?", "/api/v1/ogc/collections/"
    first = fast_and_sql(writable_app, f"{services}bbox={LONDON_BBOX}", fast=True)
    assert first["total_items"] == 5
    version = boxes._index.version
    # the OGC sites page made and kept once (BoxIndex.features), before the changes below
    kept = writable_app.test_client().get(f"{ogc}sites/items?bbox={LONDON_BBOX}").json
    assert "Aardvark youth club" not in {f["properties"]["service_name"] for f in kept["features"]}
    assert boxes._index.features
    changed = [dict(r) for r in rows() if r["ref"] not in ("OXY-KT", "HACK-01")]
    for r in changed:
        if r["ref"] == "NEAR-KT":
            r["name"] = "Aardvark youth club"
        if r["ref"] == "CITY-01":
            r["status"] = "inactive"
    import_file(writable_app, template_csv(tmp_path / "b.csv", changed), "--mode", "full")
    # sort=updated apart from sort=name (an import stamps every row alike): set before the
    # arrays of this data version are built
    from sqlalchemy import DateTime, bindparam, text

    # typed, so that SQLAlchemy writes it (sqlite3's own datetime adapter is deprecated)
    update = text("UPDATE service SET updated_at = :at WHERE ref = :ref").bindparams(
        bindparam("at", type_=DateTime())
    )
    with writable_app.extensions["directory"].db.engine.begin() as connection:
        for ref, moment in (
            ("CITY-01", "2030-01-01 00:00:00"),
            ("VISIT-01", "2020-01-01 00:00:00"),
        ):
            connection.execute(update, {"at": datetime.fromisoformat(moment), "ref": ref})
    newest = fast_and_sql(writable_app, f"{services}bbox={LONDON_BBOX}&sort=updated", fast=True)
    assert [s["ref"] for s in newest["contents"]] == ["CITY-01", "NEAR-KT", "VISIT-01"]
    after = fast_and_sql(writable_app, f"{services}bbox={LONDON_BBOX}", fast=True)
    assert boxes._index.version > version
    assert [s["ref"] for s in after["contents"]] == ["VISIT-01", "NEAR-KT", "CITY-01"]
    for query in (
        f"bbox={LONDON_BBOX}&include_withdrawn=true",
        f"bbox={LONDON_BBOX}&include_withdrawn=true&per_page=2&page=2",
        f"bbox={LONDON_BBOX}&status=inactive",
        f"bbox={LONDON_BBOX}&status=active&sort=updated",
        f"bbox={LONDON_BBOX}&include_withdrawn=true&sort=updated&format=geojson",
        f"bbox={LONDON_BBOX}&theme=violence-knife-crime&include_withdrawn=true",
        "bbox=-0.32,51.40,-0.29,51.42",  # Kingston, small: the arrays are current
    ):
        fast_and_sql(writable_app, services + query, fast=True)
    for query in (
        f"sites/items?bbox={LONDON_BBOX}",
        f"sites/items?bbox={LONDON_BBOX}&limit=1&offset=2",
        f"services/items?bbox={LONDON_BBOX}",
        "services/items?bbox=-0.32,51.40,-0.29,51.42&limit=2&offset=1",
    ):
        fast_and_sql(writable_app, ogc + query, fast=True)
    sites = writable_app.test_client().get(f"{ogc}sites/items?bbox={LONDON_BBOX}").json
    assert sorted(f["properties"]["service_ref"] for f in sites["features"]) == [
        "CITY-01", "NEAR-KT", "VISIT-01"
    ]  # fmt: skip
    renamed = next(f for f in sites["features"] if f["properties"]["service_ref"] == "NEAR-KT")
    assert renamed["properties"]["service_name"] == "Aardvark youth club"  # not the kept one


def test_a_big_bbox_page_asked_again_is_made_from_its_kept_features(writable_app, tmp_path):
    """The OGC sites of a big box are read by id and made once per data version: asked
    again, the page is the same bytes without reading a site; a page with sites not made
    before reads only those."""
    from directory.store.repositories.search import SearchQueries
    from directory.usecases.boxes import BoxIndexCache

    import_file(writable_app, template_csv(tmp_path / "a.csv", rows()))
    client = writable_app.test_client()
    url = f"/api/v1/ogc/collections/sites/items?bbox={LONDON_BBOX}"
    first = client.get(f"{url}&limit=1")
    assert first.status_code == 200 and first.json["numberReturned"] == 1
    read: list[list[int]] = []
    by_ids = SearchQueries.site_features_by_ids

    def counted(self: Any, ids: Any) -> Any:
        read.append(list(ids))
        return by_ids(self, ids)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SearchQueries, "site_features_by_ids", counted)
        again = client.get(f"{url}&limit=1")
        assert again.data == first.data and read == []
        whole = client.get(url)
    assert whole.json["numberReturned"] == whole.json["numberMatched"] > 1
    assert whole.json["features"][0] == first.json["features"][0]
    assert read == [[f["id"] for f in whole.json["features"][1:]]]  # only the new ones
    boxes = writable_app.extensions["directory"].boxes
    boxes_off, writable_app.extensions["directory"].boxes = boxes, None
    try:
        assert client.get(url).data == whole.data  # as SQL alone makes it
        # with nothing kept (DIRECTORY_FEATURES_CACHE_MB=0), the arrays answer and every
        # page reads its sites
        writable_app.extensions["directory"].boxes = BoxIndexCache(features_bytes=0)
        read.clear()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(SearchQueries, "site_features_by_ids", counted)
            assert client.get(url).data == client.get(url).data == whole.data
        assert read == [[f["id"] for f in whole.json["features"]]] * 2
    finally:
        writable_app.extensions["directory"].boxes = boxes_off


KINGSTON_BOX = "-0.32,51.40,-0.29,51.42"  # about 7 km²: SQL's, or the arrays' once built
HACKNEY_BOX = "-0.07,51.54,-0.05,51.55"


def _spread_over_london(app: Any) -> None:
    """A service with sites in Kingston, in Hackney, on the Kingston box's north edge
    and a hair north of it (beside the small directory, imported as another source)."""
    from sqlalchemy import select

    from directory.ingest.apply import ImportOptions, import_batch
    from directory.ingest.records import Batch, LocationRecord, OrganisationRecord, ServiceRecord
    from directory.store.repositories.geography import GeographyRepository

    sites = [
        LocationRecord(ref="a-kingston", name="Kingston room", postcode="KT25AA"),
        LocationRecord(ref="b-hackney", name="Hackney room", postcode="E81AA"),
        LocationRecord(ref="c-edge", name="On the edge", lat=51.42, lon=-0.31),
        LocationRecord(ref="d-past", name="Past the edge", lat=51.42001, lon=-0.31),
    ]
    batch = Batch(
        organisations=[OrganisationRecord(ref="org:spread", name="Spread Trust")],
        services=[ServiceRecord(ref="SPREAD-01", name="Spread youth work",
                                organisation_ref="org:spread", themes=["mentoring"],
                                coverage=["E09000021"], locations=sites)],
    )  # fmt: skip
    state = app.extensions["directory"]
    with state.db.engine.connect() as connection:
        snap = state.geography.get(GeographyRepository(connection))
    options = ImportOptions(source="spread", format="test", location="memory", checksum="x")
    assert import_batch(state.db, snap, state.settings, batch, options).status == "succeeded"
    from directory.store.models import Location

    with state.db.engine.connect() as connection:
        held = connection.execute(select(Location.lat).where(Location.ref == "c-edge"))
        assert held.scalar_one() == 51.42  # exactly on the edge, as stored


def _site_names(body: dict[str, Any], ref: str) -> list[str]:
    return [f["properties"]["site"] for f in body["features"] if f["properties"]["ref"] == ref]


def test_a_bbox_geojson_page_sends_only_the_sites_inside(writable_app, tmp_path):
    """With ``bbox``, GeoJSON sends the sites inside the box (its edges included), not the
    matched services' other sites, and ``numberMatched`` counts those over every page;
    the arrays and SQL answer alike. JSON and CSV are the services' records, as before;
    without ``bbox``, and with ``near`` (which sorts by distance, not clips), every site."""
    import_file(writable_app, template_csv(tmp_path / "a.csv", rows()))
    _spread_over_london(writable_app)
    services = "/api/v1/services?format=geojson&"
    london = fast_and_sql(writable_app, f"{services}bbox={LONDON_BBOX}", fast=True)  # builds
    assert _site_names(london, "SPREAD-01") == [
        "Kingston room", "Hackney room", "On the edge", "Past the edge"
    ]  # fmt: skip
    # OXY-KT, VISIT-01, NEAR-KT, HACK-01, CITY-01: one site each; coverage-only ones none
    assert london["numberMatched"] == london["numberReturned"] == 5 + 4
    assert all(f["geometry"] is not None for f in london["features"])
    for fast in (True, False):  # the arrays' answer, then SQL's alone (no arrays built)
        if not fast:
            writable_app.extensions["directory"].boxes._index = None
        kingston = fast_and_sql(writable_app, f"{services}bbox={KINGSTON_BOX}", fast=fast)
        assert _site_names(kingston, "SPREAD-01") == ["Kingston room", "On the edge"]
        assert kingston["numberMatched"] == kingston["numberReturned"] == 3 + 2
        for lon, lat in (f["geometry"]["coordinates"] for f in kingston["features"]):
            assert -0.32 <= lon <= -0.29 and 51.40 <= lat <= 51.42
        hackney = fast_and_sql(writable_app, f"{services}bbox={HACKNEY_BOX}", fast=fast)
        assert _site_names(hackney, "SPREAD-01") == ["Hackney room"]
        assert hackney["numberMatched"] == hackney["numberReturned"] == 2
        # pages are of services; each says how many Features every page sends together
        pages = [
            fast_and_sql(
                writable_app, f"{services}bbox={KINGSTON_BOX}&per_page=2&page={page}", fast=fast
            )
            for page in (1, 2, 3)
        ]
        assert {page["numberMatched"] for page in pages} == {5}
        assert [f for page in pages for f in page["features"]] == kingston["features"]
        # by name: "=HYPERLINK…" and Canbury, Oxygen and Spread (2 sites), past the last
        assert [page["numberReturned"] for page in pages] == [2, 3, 0]
        edge = fast_and_sql(writable_app, f"{services}bbox=-0.32,51.42,-0.29,51.43", fast=fast)
        assert _site_names(edge, "SPREAD-01") == ["On the edge", "Past the edge"]
    client = writable_app.test_client()
    # the JSON list and CSV: the same services, each as its record (every site's postcode)
    listed = client.get(f"/api/v1/services?bbox={HACKNEY_BOX}").json
    assert {s["ref"] for s in listed["contents"]} == {"HACK-01", "SPREAD-01"}
    table = client.get(f"/api/v1/services?bbox={HACKNEY_BOX}&format=csv").get_data(as_text=True)
    spread = next(r for r in csv.DictReader(io.StringIO(table)) if r["ref"] == "SPREAD-01")
    assert spread["postcodes"] == "KT2 5AA; E8 1AA"
    # without a box, every site; near matches by a site within the radius and sends every
    # site of those it matches, each with its distance
    every = client.get("/api/v1/services?format=geojson&q=spread").json
    assert len(_site_names(every, "SPREAD-01")) == every["numberMatched"] == 4
    lat, lon = KT1_1EU
    near = client.get(f"/api/v1/services?format=geojson&q=spread&near={lat},{lon}").json
    assert len(_site_names(near, "SPREAD-01")) == near["numberMatched"] == 4
    assert max(f["properties"]["distance_m"] for f in near["features"]) > 15_000  # Hackney


def test_the_arrays_are_built_for_big_boxes_and_read_per_data_version():
    from collections.abc import Iterator
    from contextlib import contextmanager

    from directory.store.repositories.search import AreaMatch, Filters
    from directory.usecases import boxes
    from directory.usecases.search import make_box

    assert boxes.big(make_box(-0.52, 51.28, 0.34, 51.70))
    assert boxes.big(None)  # a whole collection
    assert not boxes.big(make_box(-0.13, 51.50, -0.115, 51.51))  # 1 km
    assert boxes.supported(Filters(themes=("mentoring",), status="active", organisation_id=3))
    assert boxes.supported(Filters(area=AreaMatch(frozenset({"E09000022"}))))
    assert not boxes.supported(Filters(text="youth"))
    assert not boxes.supported(Filters(programme="vru"))
    assert not boxes.supported(Filters(area=AreaMatch(frozenset({"E09000022"}), frozenset(), frozenset({"E09000022"}))))  # fmt: skip

    class Repo:
        version = 1
        builds = 0

        def data_version_id(self) -> int:
            return self.version

        def box_sites(self) -> list[Any]:
            Repo.builds += 1
            return [(1, 2, -0.1, 51.5, 123), (2, 1, -0.2, 51.4, None)]

        def box_services(self) -> list[Any]:
            return [(2, True, "active", 7), (1, False, "active", 7)]

        def service_ids_sorted(self, sort: str) -> list[int]:
            return [1, 2]

        def coverage_pairs(self) -> list[Any]:
            return [(1, "E12000007")]

        def theme_pairs(self) -> list[Any]:
            return [(2, "mentoring")]

    repo, cache = Repo(), boxes.BoxIndexCache()
    assert cache.get(repo, build=False) is None  # type: ignore[arg-type]
    index = cache.get(repo, build=True)  # type: ignore[arg-type]
    assert index is not None and Repo.builds == 1
    assert cache.get(repo, build=False) is index  # type: ignore[arg-type]
    assert list(index.order(repo, "name")) == [2, 1]  # type: ignore[arg-type]
    assert list(index.services_matching(repo, Filters())) == [False, False, True]  # type: ignore[arg-type]
    repo.version = 2  # a write: read again, not answered from the old arrays
    assert cache.get(repo, build=False) is None  # type: ignore[arg-type]
    index = cache.get(repo, build=True)  # type: ignore[arg-type]
    assert index is not None and Repo.builds == 2
    # a request passes its snapshot's version: the database is not asked again, and arrays
    # of a newer version serve an older snapshot (SQL would read the newer rows too)
    repo.version = 99
    assert cache.get(repo, build=False, version=2) is index  # type: ignore[arg-type]
    assert cache.get(repo, build=False, version=1) is index  # type: ignore[arg-type]
    assert cache.get(repo, build=False, version=3) is None  # type: ignore[arg-type]
    repo.version = 2

    # serving: SQL answers while a thread builds the arrays on a snapshot of its own
    reads: list[int] = []

    @contextmanager
    def reader() -> Iterator[Any]:
        reads.append(repo.version)
        yield repo

    background = boxes.BoxIndexCache(reader, background=True)
    assert background.get(repo, build=True) is None  # type: ignore[arg-type]
    background.wait(10)
    built = background.get(repo, build=False)  # type: ignore[arg-type]
    assert built is not None and built.version == 2 and reads == [2]
    assert list(built.order(repo, "updated")) == [1, 2]  # read by the build, not the request  # type: ignore[arg-type]
    assert list(built.with_theme(repo, "mentoring")) == [False, False, True]  # type: ignore[arg-type]


# -- SQLite's index of the services' words (migration 0022) ----------------------------------
@pytest.fixture()
def sqlite_app(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A fresh SQLite directory of this test's own (the index is SQLite's alone)."""
    app = create_app(geography_copy(request, "sqlite", tmp_path))
    yield app
    app.extensions["directory"].db.dispose()


def _words_by_ref(app: Any) -> dict[str, str]:
    from sqlalchemy import text

    with app.extensions["directory"].db.engine.connect() as connection:
        return dict(connection.execute(text("SELECT ref, search_text FROM service")).all())


def _index_holds_the_rows(app: Any) -> None:
    """FTS5's own check that ``service_words`` is whole and holds each row's words as they
    are (with ``rank`` 1, against the service table: "database disk image is malformed"
    when they differ)."""
    from sqlalchemy import text

    with app.extensions["directory"].db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO service_words(service_words, rank) VALUES ('integrity-check', 1)"
        ))  # fmt: skip


def test_the_sqlite_words_index_finds_what_the_rule_finds(sqlite_app, tmp_path, shared_data_dir):
    """Over a generated directory, every kind of query (a word's start of one to six
    letters, a whole word, two words in a row as a phrase, a word that is only inside
    another, exclusions alone and with words, words of other scripts, no words) finds on
    SQLite exactly the services :func:`directory.store.words.matches` finds in each row's
    words, the rule the ``LIKE`` applied before the index and the patch's ``q`` applies."""
    import random

    from directory.store.words import matches

    generated = _make_directory().generate(400, 11, shared_data_dir)
    names = [  # a few names in other scripts, with accents, styled
        "Москва youth", "মহিলা সমিতি", "Søren’s café", "Straße Kids", "日本語 club", "O'Brien",
        "𝐁𝐮𝐬 Stop ℍaven",
    ]  # fmt: skip
    for row, name in zip(generated, names, strict=False):
        row[HEADINGS.index("Service name")] = name
    path = tmp_path / "generated.csv"
    write_table(path, list(HEADINGS), generated, format="csv")
    import_file(sqlite_app, path)
    words_of = _words_by_ref(sqlite_app)
    vocabulary = sorted({w for text in words_of.values() for w in text.split()})
    rng = random.Random(5)
    queries = [
        "москв",
        "সমি",
        "soren",
        "cafe",
        "strasse",
        "日本",
        "obrien",
        "o’brien",
        "bus",
        "HAVEN",
        "𝐁𝐮𝐬",
        "zzzz",
        "the",
        "-",
        "-youth",
        "-youth -knife",
        "youth -knife",
        '"youth club"',
        "or",
    ]
    for _ in range(60):
        word = rng.choice(vocabulary)
        queries.append(word[: rng.randint(1, 6)])
        queries.append(word[1:] if len(word) > 3 else word)  # (inside a word: not a start)
        text = rng.choice(list(words_of.values())).split()
        at = rng.randrange(len(text))
        queries.append('"' + " ".join(text[at : at + 2]) + '"')
        queries.append(f"{rng.choice(vocabulary)[:3]} -{rng.choice(vocabulary)[:2]}")
        queries.append(f"{word} {rng.choice(vocabulary)}")
    client = sqlite_app.test_client()
    found_some = 0
    for query in queries:
        expected = {ref for ref, text in words_of.items() if matches(query_terms(query), text)}
        response = client.get(
            "/api/v1/services",
            query_string={"q": query, "per_page": 1000, "include_withdrawn": "true"},
        )
        assert response.status_code == 200, (query, response.json)
        assert {s["ref"] for s in response.json["contents"]} == expected, query
        assert response.json["total_items"] == len(expected), query
        found_some += bool(expected) and len(expected) < len(words_of)
    assert found_some > 100  # (most queries find some services, not none nor all)


def test_the_sqlite_words_index_follows_every_write(sqlite_app, tmp_path):
    """The index is kept by triggers in the transaction that writes the rows: an import
    adding services, renaming one and withdrawing one; a row's words written by any path;
    a service deleted. After each, ``q`` finds the words as they are and FTS5's own check
    finds the index whole."""
    from sqlalchemy import text

    _index_holds_the_rows(sqlite_app)  # (empty)
    import_file(sqlite_app, template_csv(tmp_path / "a.csv", rows()))
    _index_holds_the_rows(sqlite_app)
    client = sqlite_app.test_client()
    assert refs(client, "q=aardvark") == set()
    before = refs(client, "q=youth&include_withdrawn=true")
    assert "NEAR-KT" in before
    changed = [dict(r) for r in rows() if r["ref"] != "OXY-KT"]
    for r in changed:
        if r["ref"] == "NEAR-KT":
            r["name"], r["desc"] = "Aardvark club", "Games"
    import_file(sqlite_app, template_csv(tmp_path / "b.csv", changed), "--mode", "full")
    _index_holds_the_rows(sqlite_app)
    assert refs(client, "q=aardvark") == {"NEAR-KT"}
    assert refs(client, "q=aard -club") == set()
    # the withdrawn service keeps its words (found when asked for withdrawn services)
    assert "OXY-KT" in refs(client, "q=" + _words_by_ref(sqlite_app)["OXY-KT"].split()[0]
                            + "&include_withdrawn=true")  # fmt: skip
    engine = sqlite_app.extensions["directory"].db.engine
    with engine.begin() as connection:  # any other path that writes a row's words
        connection.execute(
            text("UPDATE service SET search_text = ' zebra crossing' WHERE ref = 'NEAR-KT'")
        )
    _index_holds_the_rows(sqlite_app)
    assert refs(client, "q=zebr") == {"NEAR-KT"}
    assert refs(client, "q=aardvark") == set()
    with engine.begin() as connection:  # a service deleted (as demo remove does), children first
        connection.execute(text("PRAGMA defer_foreign_keys = ON"))
        sid = connection.execute(text("SELECT id FROM service WHERE ref = 'NEAR-KT'")).scalar()
        for child in ("location", "service_area", "service_theme", "grant_service"):
            connection.execute(text(f"DELETE FROM {child} WHERE service_id = :id"), {"id": sid})
        connection.execute(text("DELETE FROM service WHERE id = :id"), {"id": sid})
    _index_holds_the_rows(sqlite_app)
    assert refs(client, "q=zebra&include_withdrawn=true") == set()


def test_a_query_on_sqlite_reads_the_words_index_not_every_service(sqlite_app, tmp_path):
    """SQLite's plan for ``q`` looks the words up in ``service_words`` rather than reading
    every service's words with ``LIKE`` (80 ms a query at 100,000 services). (With the
    statistics of a big directory it then reads the matching services by id; a directory
    this small is scanned, the matches a list.)"""
    from sqlalchemy import text

    from directory.store.repositories.search import Filters, SearchQueries

    import_file(sqlite_app, template_csv(tmp_path / "a.csv", rows()))
    with sqlite_app.extensions["directory"].db.engine.connect() as connection:
        queries = SearchQueries(connection)
        where = queries._where(Filters(text="youth -knife"))
        statement = select_count(where)
        compiled = statement.compile(connection, compile_kwargs={"literal_binds": True})
        plan = connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    details = " | ".join(row[-1] for row in plan)
    assert "VIRTUAL TABLE INDEX" in details and "service_words" in details, details
    assert "LIKE" not in str(compiled).upper(), compiled  # (the words not read row by row)


@pytest.mark.postgres
def test_postgresql_finds_every_service_the_rule_finds(request, tmp_path, shared_data_dir):
    """Over a generated directory on PostgreSQL, every start of a word, of one letter to
    the whole word, alone and as the last word of a phrase, finds every service whose words
    :func:`directory.store.words.matches` finds it in (as SQLite and the patch do), and
    what else it finds shares the word's English stems (``search_vector``, as before): a
    word typed past its stem ("mentori") found nothing."""
    import random

    from sqlalchemy import text

    from directory.store.words import matches

    app = create_app(geography_copy(request, "postgres", tmp_path))
    try:
        path = tmp_path / "generated.csv"
        write_table(path, list(HEADINGS), _make_directory().generate(300, 13, shared_data_dir),
                    format="csv")  # fmt: skip
        import_file(app, path)
        words_of = _words_by_ref(app)
        rng = random.Random(7)
        vocabulary = sorted({w for text in words_of.values() for w in text.split()})
        queries = ["mentori", "housin", "supporti", "counselli", "communit", "youths"]
        for word in rng.sample(vocabulary, 40):
            queries += [word[:length] for length in range(1, len(word) + 1)]
            line = rng.choice(list(words_of.values())).split()
            at = rng.randrange(len(line) - 1)  # (two words in a row, the second as typed)
            queries.append(f'"{line[at]} {line[at + 1][: rng.randint(1, len(line[at + 1]))]}"')
        client = app.test_client()
        engine = app.extensions["directory"].db.engine
        past_the_stem = 0
        for query in queries:
            expected = {
                ref for ref, words in words_of.items() if matches(query_terms(query), words)
            }
            response = client.get(
                "/api/v1/services",
                query_string={"q": query, "per_page": 1000, "include_withdrawn": "true"},
            )
            assert response.status_code == 200, (query, response.json)
            found = {s["ref"] for s in response.json["contents"]}
            assert expected <= found, (query, sorted(expected - found))
            assert response.json["total_items"] == len(found), query
            if not tsquery_terms(query):  # a stop word ("i"): nothing anywhere
                assert found == expected == set(), query
                continue
            (term,) = tsquery_terms(query)[0]
            with engine.connect() as connection:  # 0005's match: the stems, a stem's start
                by_stems = set(connection.execute(text(
                    "SELECT ref FROM service WHERE search_vector @@ "
                    "(to_tsquery('english', :w) || to_tsquery('simple', :w || ':*'))"
                ), {"w": term.words}).scalars())  # fmt: skip
            assert found == expected | by_stems, query
            past_the_stem += bool(expected - by_stems)
        assert past_the_stem > 5  # (words typed past their stem, found now)
    finally:
        app.extensions["directory"].db.dispose()


def select_count(where: list[Any]) -> Any:
    from sqlalchemy import func, select

    from directory.store.models import Service

    return select(func.count()).select_from(Service).where(*where)


def test_every_sqlite_connection_lets_the_triggers_write_the_words_index(tmp_path):
    """A build of SQLite may start connections with ``trusted_schema`` off, where the
    triggers of 0022 may not write to the FTS5 table and every write of a service fails
    ("unsafe use of virtual table"): the directory's connections turn it on."""
    import importlib
    import sqlite3

    from directory.store.db import _sqlite_pragmas

    migration = importlib.import_module(
        "directory.store.migrations.versions.0022_service_words_index"
    )
    # (autocommit: as the engine's connections are when it sets its pragmas)
    connection = sqlite3.connect(tmp_path / "words.sqlite3", isolation_level=None)
    connection.execute("CREATE TABLE service (id INTEGER PRIMARY KEY, search_text TEXT)")
    for statement in migration.CREATE:  # the index and its triggers, as 0022 makes them
        connection.execute(statement)
    connection.execute("PRAGMA trusted_schema=OFF")
    with pytest.raises(sqlite3.DatabaseError, match="unsafe use of virtual table"):
        connection.execute("INSERT INTO service VALUES (1, ' youth club')")
    _sqlite_pragmas(connection, None)
    connection.execute("INSERT INTO service VALUES (2, ' youth club')")
    found = connection.execute(
        "SELECT rowid FROM service_words WHERE service_words MATCH '\"you\"*'"
    ).fetchall()
    connection.close()
    assert found == [(2,)]
