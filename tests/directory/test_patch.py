"""What is in my patch, partners and the change feed, on SQLite and PostgreSQL, on a small
directory whose every service is placed to test one relation."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from directory import create_app
from directory.cli import cli
from directory.web import http
from tests.conftest import BACKENDS, geography_copy

TODAY = date.today()
START = (TODAY - timedelta(days=200)).isoformat()
END = (TODAY + timedelta(days=400)).isoformat()
SOON = (TODAY + timedelta(days=30)).isoformat()
HEADER = (
    "Service ref,Service name,Description,Themes,Organisation name,Coverage,Site postcode,"
    "Last verified,Funder,Programme,Amount,Start date,End date,Status\n"
)
ROWS = {
    "LONDON": f"LONDON,London-wide helpline,,Victims and witnesses;knife crime,Pan London Trust,pan-London,,{TODAY},MOPAC,Victims services,£100k,{START},{END},active",
    "BOROUGH": f"BOROUGH,Kingston knife crime workshops,Workshops in schools,knife crime,Oxygen,Kingston,KT1 1EU,{TODAY},Kingston SNB,SNB,£20k,{START},{SOON},active",
    "WARD": f"WARD,Kingston Town detached youth work,,Youth diversion,Town Youth,E05013938,,{TODAY},,,,,,active",
    "BCU": f"BCU,South West gang exit,,Gangs and exploitation,SW Partnership,South West BCU,,{TODAY},MOPAC,VRU,£50k,{START},{END},active",
    "ELSEWHERE": f"ELSEWHERE,Hackney mentoring,,knife crime;mentoring,Hackney Mentors,Hackney,E8 1DY,{TODAY},,,,,,active",
    "NEARBY": f"NEARBY,Richmond boxing club,,knife crime,Richmond Boxing,Richmond,KT1 1AE,{TODAY},,,,,,active",
    "CLOSED": f"CLOSED,Closed Kingston service,,knife crime,Oxygen,Kingston,,{TODAY},,,,,,inactive",
}


def _import_rows(app, tmp):
    path = tmp / "patch.csv"
    path.write_text(HEADER + "\n".join(ROWS.values()) + "\n", "utf-8")
    result = app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "t"])
    assert result.exit_code == 0, result.output


@pytest.fixture()
def patch_app(writable_app, tmp_path):
    """ROWS in a database of this test's own: for tests that write more to it."""
    _import_rows(writable_app, tmp_path)
    return writable_app


@pytest.fixture(scope="module", params=BACKENDS)
def read_patch_app(request, tmp_path_factory):
    """ROWS imported once per backend for the module, shared by the tests that only read."""
    tmp = tmp_path_factory.mktemp("patch")
    app = create_app(geography_copy(request, request.param, tmp))
    _import_rows(app, tmp)
    yield app
    app.extensions["directory"].db.dispose()


def refs(body):
    return [s["ref"] for s in body["services"]["contents"]]


def relations_of(body, ref):
    service = next(s for s in body["services"]["contents"] if s["ref"] == ref)
    return [r["relation"] for r in service["relations"]]


def test_postcode_patch_labels_every_service_and_sorts_by_relation(read_patch_app):
    body = read_patch_app.test_client().get("/api/v1/patch?postcode=kt11eu").json
    assert body["borough"]["code"] == "E09000021" and body["bcu"]["code"] == "bcu-south-west"
    assert body["ward"]["code"] == "E05013938" and body["match"] == "postcode"
    assert refs(body) == ["BOROUGH", "NEARBY", "WARD", "BCU", "LONDON"]
    assert relations_of(body, "BOROUGH") == ["site_nearby", "serves_borough"]
    assert relations_of(body, "NEARBY") == ["site_nearby"]
    assert relations_of(body, "WARD") == ["serves_ward"]
    assert relations_of(body, "BCU") == ["serves_bcu"]
    assert relations_of(body, "LONDON") == ["serves_london"]
    nearby = body["services"]["contents"][1]
    assert 0 < nearby["distance_m"] < 2000
    assert body["counts"]["services"] == 5 and body["counts"]["site_nearby"] == 2
    borough = body["services"]["contents"][0]
    assert borough["organisation"]["name"] == "Oxygen"
    (grant,) = borough["live_grants"]
    assert grant["programme"]["id"] == "snb" and grant["ending_soon"] is True
    assert grant["amount"] == 20000.0 and (grant["start"], grant["end"]) == (START, SOON)
    assert grant["months_left"] in (0, 1)  # ends in 30 days
    (london_grant,) = body["services"]["contents"][-1]["live_grants"]
    assert 12 <= london_grant["months_left"] <= 14 and london_grant["ending_soon"] is False
    assert set(borough["contact"]) == {"email", "phone", "website"}


def test_patch_funding_and_contacts(read_patch_app):
    body = read_patch_app.test_client().get("/api/v1/patch?postcode=KT1 1EU").json
    funding = body["funding"]
    by_programme = {p["programme"]["id"]: p for p in funding["by_programme"]}
    assert by_programme["victims"]["by_scope"] == {"london": {"awards": 1, "amount": 100000.0}}
    assert by_programme["vru"]["by_scope"] == {"bcu": {"awards": 1, "amount": 50000.0}}
    assert by_programme["snb"]["by_scope"] == {"borough": {"awards": 1, "amount": 20000.0}}
    assert funding["amount"] == 170000.0 and "not apportioned" in funding["rule"]


def test_area_patch_by_name_and_bcu(read_patch_app):
    client = read_patch_app.test_client()
    kingston = client.get("/api/v1/patch?area=RB Kingston upon Thames").json
    assert kingston["match"] == "area" and kingston["area"]["code"] == "E09000021"
    assert set(refs(kingston)) == {"BOROUGH", "NEARBY", "WARD", "BCU", "LONDON"}
    assert relations_of(kingston, "NEARBY") == ["site_in_area"]
    assert relations_of(kingston, "WARD") == ["serves_part"]
    bcu = client.get("/api/v1/patch?area=bcu-south-west").json
    assert "ELSEWHERE" not in refs(bcu) and {"BOROUGH", "WARD", "BCU", "LONDON"} <= set(refs(bcu))
    city = client.get("/api/v1/patch?area=City of London").json
    assert city["bcu"] is None and "City of London Police" in city["bcu_note"]
    assert refs(city) == ["LONDON"]


def test_point_patch_and_radius(read_patch_app):
    client = read_patch_app.test_client()
    near = client.get("/api/v1/patch?lat=51.4077&lon=-0.3059&radius=50").json
    assert near["match"] == "point" and "NEARBY" not in refs(near)
    wide = client.get("/api/v1/patch?lat=51.4077&lon=-0.3059&radius=3000").json
    assert "NEARBY" in refs(wide)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("theme=violence-knife-crime", ["BOROUGH", "NEARBY", "LONDON"]),
        ("theme=violence-knife-crime&theme=victims-witnesses", ["LONDON"]),
        ("programme=vru", ["BCU"]),
        ("q=workshops schools", ["BOROUGH"]),
        ("status=inactive", ["CLOSED"]),
        (f"live_on={(TODAY + timedelta(days=100)).isoformat()}", ["BCU", "LONDON"]),
    ],
)
def test_patch_filters(read_patch_app, query, expected):
    body = read_patch_app.test_client().get(f"/api/v1/patch?postcode=KT1 1EU&{query}").json
    assert refs(body) == expected


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("", 422, "invalid-input"),
        ("postcode=KT1 1EU&area=Kingston", 422, "invalid-input"),
        ("postcode=not a postcode", 422, "invalid-postcode"),
        ("postcode=M1 1AE", 404, "outside-coverage"),
        ("area=Atlantis", 404, "area-not-found"),
        ("postcode=KT1 1EU&radius=50000", 422, "invalid-input"),
        # an area's patch has no point to measure a radius from: not taken without a word
        ("area=Kingston&radius=500", 422, "invalid-input"),
        ("lat=51.5", 422, "invalid-input"),
        ("postcode=KT1 1EU&status=sometimes", 422, "invalid-input"),
    ],
)
def test_patch_problems(read_patch_app, query, status, code):
    response = read_patch_app.test_client().get(f"/api/v1/patch?{query}")
    assert response.status_code == status
    assert response.mimetype == "application/problem+json" and response.json["code"] == code
    if "area=Kingston&radius" in query:
        assert list(response.json["errors"]) == ["radius"]


def test_patch_lookup_for_a_caseload(read_patch_app):
    client = read_patch_app.test_client()
    body = client.post(
        "/api/v1/patch/lookup", json={"postcodes": ["KT1 1EU", "nonsense", "E8 1DY"]}
    ).json
    first, bad, hackney = body["results"]
    assert first["result"]["service_ids"] and first["result"]["counts"]["services"] == 5
    assert bad["problem"]["code"] == "invalid-postcode"
    assert hackney["result"]["borough"]["code"] == "E09000012"
    full = client.post(
        "/api/v1/patch/lookup", json={"postcodes": ["KT1 1EU"], "detail": "full"}
    ).json
    assert [s["ref"] for s in full["results"][0]["result"]["services"]] == refs(
        client.get("/api/v1/patch?postcode=KT1 1EU").json
    )
    too_many = client.post("/api/v1/patch/lookup", json={"postcodes": ["KT1 1EU"] * 1001})
    assert too_many.status_code == 413


def test_patch_lookup_takes_a_bodys_values_of_their_documented_types(read_patch_app):
    """The lookup's body is JSON: "500" for the radius, 1 or "yes" for a boolean, 2.5 or
    "3" for a count are a 422 naming the member (marshmallow's fields converted them), as
    on the write routes; the same values of their own types are taken."""
    client = read_patch_app.test_client()
    kinds = {"radius": "number", "include_other_programmes": "boolean", "per_page": "integer"}
    for member, value in [
        ("radius", "500"), ("radius", True), ("include_other_programmes", 1),
        ("include_other_programmes", "yes"), ("per_page", 2.5), ("per_page", "3"),
        ("per_page", False),
    ]:  # fmt: skip
        refused = client.post(
            "/api/v1/patch/lookup", json={"postcodes": ["KT1 1EU"], member: value}
        )
        assert (refused.status_code, refused.mimetype) == (422, "application/problem+json")
        assert refused.json["errors"] == {member: [f"Not a valid {kinds[member]}."]}, value
    plain = client.post(
        "/api/v1/patch/lookup", json={"postcodes": ["KT1 1EU"], "detail": "full", "radius": 500}
    )
    taken = client.post(
        "/api/v1/patch/lookup",
        json={"postcodes": ["KT1 1EU"], "detail": "full", "radius": 500,
              "include_other_programmes": False, "per_page": 3.0},
    )  # fmt: skip
    assert taken.status_code == 200, taken.json
    listed = taken.json["results"][0]["result"]["services"]
    assert [s["ref"] for s in listed] == [
        s["ref"] for s in plain.json["results"][0]["result"]["services"]
    ][:3]


def test_partners_share_themes_nearby(read_patch_app):
    client = read_patch_app.test_client()
    body = client.get("/api/v1/partners?organisation=org:oxygen").json
    names = [p["organisation"]["name"] for p in body["partners"]["contents"]]
    assert "Richmond Boxing" in names and "Pan London Trust" in names
    assert "Hackney Mentors" not in names  # same theme, but neither near nor London-wide
    richmond = next(
        p for p in body["partners"]["contents"] if p["organisation"]["name"] == "Richmond Boxing"
    )
    reasons = {r["reason"] for r in richmond["reasons"]}
    assert {"shared_themes", "same_borough", "sites_nearby"} <= reasons  # its site is in Kingston
    by_postcode = client.get("/api/v1/partners?postcode=E8 1DY&theme=mentoring").json
    assert [p["organisation"]["name"] for p in by_postcode["partners"]["contents"]] == [
        "Hackney Mentors"
    ]
    assert client.get("/api/v1/partners?postcode=E8 1DY").status_code == 422
    assert client.get("/api/v1/partners").status_code == 422


def test_a_london_wide_organisation_has_partners_on_its_themes_anywhere(read_patch_app):
    client = read_patch_app.test_client()
    body = client.get("/api/v1/partners?organisation=org:pan-london-trust").json
    assert body["subject"]["london_wide"] is True and body["note"] is None
    by_name = {p["organisation"]["name"]: p for p in body["partners"]["contents"]}
    # knife crime, wherever they work: Hackney Mentors too, though far from Kingston
    assert set(by_name) == {"Oxygen", "Richmond Boxing", "Hackney Mentors"}
    hackney = {r["reason"]: r for r in by_name["Hackney Mentors"]["reasons"]}
    assert [a["code"] for a in hackney["same_borough"]["areas"]] == ["E09000012"]
    oxygen = client.get("/api/v1/partners?organisation=org:oxygen").json
    assert oxygen["subject"]["london_wide"] is False


def test_partners_are_matched_on_active_services_only(patch_app, tmp_path):
    """A closed or defunct service gives its organisation no themes, places or count."""
    client = patch_app.test_client()
    richmond = client.get("/api/v1/partners?organisation=org:richmond-boxing").json
    oxygen = next(
        p for p in richmond["partners"]["contents"] if p["organisation"]["name"] == "Oxygen"
    )
    assert oxygen["services"] == 1  # BOROUGH; CLOSED is inactive
    path = tmp_path / "gone.csv"
    path.write_text(
        HEADER + f"GONE,Hackney youth mentoring,,mentoring;youth diversion,Gone Mentors,Hackney,"
        f"E8 1DY,{TODAY},,,,,,defunct\n",
        "utf-8",
    )
    result = patch_app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "g"])
    assert result.exit_code == 0, result.output
    near = client.get("/api/v1/partners?postcode=E8 1DY&theme=mentoring&theme=youth-diversion")
    assert [p["organisation"]["name"] for p in near.json["partners"]["contents"]] == [
        "Hackney Mentors"
    ]
    gone = client.get("/api/v1/partners?organisation=org:gone-mentors").json
    assert gone["subject"]["themes"] == [] and gone["subject"]["boroughs"] == []
    assert "no active services" in gone["note"]


def test_partners_name_the_funders_they_share(writable_app, tmp_path):
    rows = [
        f"A1,Kingston knife crime mentoring,,knife crime,Alpha Youth,Kingston,,{TODAY},MOPAC,VRU,£10k,{START},{END},active",
        f"B1,Kingston knife crime outreach,,knife crime,Beta Project,Kingston,,{TODAY},MOPAC,VRU,£12k,{START},{END},active",
        f"C1,Kingston knife crime sport,,knife crime,Gamma Club,Kingston,,{TODAY},Other Trust,,£5k,{START},{END},active",
    ]
    path = tmp_path / "funders.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", "utf-8")
    result = writable_app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "t"])
    assert result.exit_code == 0, result.output
    body = writable_app.test_client().get("/api/v1/partners?organisation=org:alpha-youth").json
    by_name = {p["organisation"]["name"]: p for p in body["partners"]["contents"]}
    assert set(by_name) == {"Beta Project", "Gamma Club"}
    reasons = {r["reason"]: r for r in by_name["Beta Project"]["reasons"]}
    assert reasons["shared_funders"]["funders"] == ["Mayor's Office for Policing and Crime"]
    assert "shared_funders" not in {r["reason"] for r in by_name["Gamma Club"]["reasons"]}
    # a shared funder ranks the partner higher, all else being equal
    assert by_name["Beta Project"]["score"] == by_name["Gamma Club"]["score"] + 1
    assert body["partners"]["contents"][0]["organisation"]["name"] == "Beta Project"


def test_partners_give_their_public_contact_and_say_when_they_rest_on_demo_records(
    writable_app, tmp_path
):
    """A partner's contact is its organisation's e-mail and website, filled from its listed
    services' contacts (those on the themes asked for first); it is demo when every listed
    service it runs is a demo record."""
    header = (
        "Service ref,Service name,Themes,Organisation name,Organisation website,Coverage,"
        "Email,Phone,Website,Last verified,Status,Demo\n"
    )
    rows = [
        f"A1,Alpha knife crime mentoring,knife crime,Alpha Youth,https://alpha.example.org,Kingston,a1@alpha.example.org,020 7946 0001,,{TODAY},active,no",
        f"B1,Beta knife crime outreach,knife crime,Beta Project,,Kingston,,,,{TODAY},active,yes",
        f"B2,Beta mentoring,mentoring,Beta Project,,Kingston,b2@beta.example.org,020 7946 0002,https://beta.example.org/mentoring,{TODAY},active,yes",
        f"B3,Beta knife crime clinic,knife crime,Beta Project,,Kingston,clinic@beta.example.org,,,{TODAY},active,yes",
        f"G1,Gamma knife crime sport,knife crime,Gamma Club,,Kingston,,,,{TODAY},active,yes",
        f"G2,Gamma youth club,youth diversion,Gamma Club,,Kingston,,,,{TODAY},active,no",
    ]
    path = tmp_path / "contacts.csv"
    path.write_text(header + "\n".join(rows) + "\n", "utf-8")
    result = writable_app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "t"])
    assert result.exit_code == 0, result.output
    client = writable_app.test_client()
    body = client.get("/api/v1/partners?postcode=KT1 1EU&theme=violence-knife-crime").json
    by_name = {p["organisation"]["name"]: p for p in body["partners"]["contents"]}
    assert set(by_name) == {"Alpha Youth", "Beta Project", "Gamma Club"}
    assert by_name["Alpha Youth"]["contact"] == {
        "email": "a1@alpha.example.org", "phone": "020 7946 0001",
        "website": "https://alpha.example.org",
    }  # fmt: skip
    # the knife-crime clinic's e-mail before the mentoring service's; the phone and website
    # only the mentoring service gives
    assert by_name["Beta Project"]["contact"] == {
        "email": "clinic@beta.example.org", "phone": "020 7946 0002",
        "website": "https://beta.example.org/mentoring",
    }  # fmt: skip
    assert by_name["Gamma Club"]["contact"] == {"email": None, "phone": None, "website": None}
    assert by_name["Alpha Youth"]["demo"] is False
    assert by_name["Beta Project"]["demo"] is True  # every service it runs is a demo record
    assert by_name["Gamma Club"]["demo"] is False  # one of its services is real
    # the same by organisation
    beta = client.get("/api/v1/partners?organisation=org:alpha-youth").json
    assert {p["organisation"]["name"]: p["demo"] for p in beta["partners"]["contents"]} == {
        "Beta Project": True, "Gamma Club": False,
    }  # fmt: skip


def test_change_feed_by_area_and_atom(patch_app, tmp_path):
    client = patch_app.test_client()
    kingston = client.get("/api/v1/changes?area=Kingston&per_page=100").json
    refs_seen = {e["entity_ref"] for e in kingston["contents"]}
    assert {"BOROUGH", "WARD", "BCU", "LONDON"} <= refs_seen and "ELSEWHERE" not in refs_seen
    actions = {e["action"] for e in kingston["contents"]}
    assert {"created", "grant_started", "grant_ending"} <= actions
    times = [e["at"] for e in kingston["contents"]]
    assert times == sorted(times, reverse=True)
    # a change after the first import shows up, with old and new values
    path = tmp_path / "changed.csv"
    path.write_text(
        HEADER + ROWS["BOROUGH"].replace("Workshops in schools", "Workshops") + "\n", "utf-8"
    )
    patch_app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "t"])
    latest = client.get("/api/v1/changes?area=E05013938&entity=service").json["contents"][0]
    assert latest["action"] == "updated"
    assert latest["changes"]["description"] == {"old": "Workshops in schools", "new": "Workshops"}
    feed = client.get("/api/v1/changes.atom?area=Kingston")
    assert feed.mimetype == "application/atom+xml"
    root = ET.fromstring(feed.data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert "Kingston upon Thames" in root.find("a:title", ns).text
    assert len(root.findall("a:entry", ns)) >= 5
    # ids are permanent: the same however the feed is fetched (never the Host header's)
    elsewhere = ET.fromstring(
        client.get("/api/v1/changes.atom?area=Kingston", base_url="http://attacker.example").data
    )

    def ids(feed_root):
        return [e.text for e in feed_root.iter("{http://www.w3.org/2005/Atom}id")]

    assert ids(elsewhere) == ids(root) and all(i.startswith("urn:uuid:") for i in ids(root))
    assert len(set(ids(root))) == len(ids(root))
    other_feed = ET.fromstring(client.get("/api/v1/changes.atom?area=Lambeth").data)
    assert ids(other_feed)[0] != ids(root)[0]  # each feed its own id
    themed = client.get("/api/v1/changes?theme=gangs-exploitation&entity=service").json
    assert {e["entity_ref"] for e in themed["contents"]} == {"BCU"}
    assert client.get("/api/v1/changes?area=Atlantis").status_code == 404


# -- a generated, larger directory: every relation checked against the database ---------------
def test_patch_relations_agree_with_the_database_on_a_generated_directory(
    writable_app, tmp_path, shared_data_dir
):
    import math
    import random
    import sys
    from pathlib import Path

    from sqlalchemy import select

    from directory.ingest.readers import write_table
    from directory.ingest.template import HEADINGS
    from directory.store.models import Location, Service, ServiceArea

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from make_directory import generate, postcodes

    path = tmp_path / "generated.csv"
    write_table(path, list(HEADINGS), generate(400, 7, shared_data_dir), format="csv")
    result = writable_app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "gen"])
    assert result.exit_code == 0, result.output[-2000:]
    db = writable_app.extensions["directory"].db
    with db.engine.connect() as connection:
        active = set(
            connection.execute(select(Service.id).where(Service.status == "active")).scalars()
        )
        coverage = connection.execute(select(ServiceArea.service_id, ServiceArea.area_code)).all()
        sites = connection.execute(
            select(Location.service_id, Location.easting, Location.northing)
        ).all()
    client = writable_app.test_client()
    for postcode in postcodes(shared_data_dir, 25, random.Random(3)):
        body = client.get(
            "/api/v1/patch", query_string={"postcode": postcode, "per_page": 1000}
        ).json
        place = {
            "serves_ward": body["ward"]["code"] if body["ward"] else None,
            "serves_borough": body["borough"]["code"],
            "serves_bcu": body["bcu"]["code"] if body["bcu"] else None,
            "serves_london": "E12000007",
        }
        expected: dict[int, set[str]] = {}
        for sid, code in coverage:
            for relation, wanted in place.items():
                if code == wanted and sid in active:
                    expected.setdefault(sid, set()).add(relation)
        x, y = body["easting"], body["northing"]
        for sid, e, n in sites:
            if e is not None and sid in active and math.hypot(e - x, n - y) <= 2000:
                expected.setdefault(sid, set()).add("site_nearby")
        got = {
            s["id"]: {r["relation"] for r in s["relations"]} for s in body["services"]["contents"]
        }
        assert got == expected, postcode
        assert body["services"]["total_items"] == len(expected)


@pytest.mark.parametrize("few", [0, 10_000], ids=["vectors", "sets"])
def test_a_patch_page_spliced_from_bytes_is_each_service_with_its_reasons_as_dicts(
    writable_app, tmp_path, shared_data_dir, monkeypatch, few
):
    """The page is written by splicing each service's kept JSON with its reasons' bytes;
    read back, it is the service's answer plus ``relations`` (Matching.reasons, made as
    dicts) and ``distance_m``, whatever the filters, page and radius, and asked again
    (its areas' entries then kept) it is the same bytes; its count of services is every
    one the patch orders. Both ways of looking the services nearby up in the areas' lists
    (vector lookups, or sets for a few: ``FEW_NEARBY``) are checked."""
    import random
    import sys
    from pathlib import Path

    import orjson

    from directory.ingest.readers import write_table
    from directory.ingest.template import HEADINGS
    from directory.usecases import patch
    from directory.usecases.patch.answer import _matching
    from directory.web.state import directory_reads
    from directory.web.state import end_request as directory_end_request

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from make_directory import generate, postcodes

    monkeypatch.setattr("directory.usecases.patch.matching.FEW_NEARBY", few)
    path = tmp_path / "generated.csv"
    write_table(path, list(HEADINGS), generate(300, 11, shared_data_dir), format="csv")
    result = writable_app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "gen"])
    assert result.exit_code == 0, result.output[-2000:]
    asked = [
        (patch.PatchFilters(), 1, 50),
        (patch.PatchFilters(radius=500), 2, 7),
        (patch.PatchFilters(status=None, radius=3000), 3, 20),
    ]
    nearby_seen = areas_seen = 0
    with writable_app.test_request_context():
        reads = directory_reads()
        index, snap = reads.index, reads.snap
        for postcode in postcodes(shared_data_dir, 8, random.Random(5)):
            place = patch.resolve_place(snap, reads.repo, reads.settings, postcode=postcode)
            for filters, page, per_page in asked:
                first, again = (
                    patch.patch(
                        index, snap, place, filters, reads.today, page=page, per_page=per_page
                    )
                    for _ in range(2)
                )
                matches = _matching(index, snap, place, filters)
                assert first["counts"]["services"] == len(matches.ordered())
                assert again["counts"] == first["counts"]
                # the whole answer as written, made afresh and then from what was kept
                first, again = (http.dumps(answer) for answer in (first, again))
                chosen = matches.ordered((page - 1) * per_page, page * per_page)
                expected = []
                for sid in chosen:
                    near = sid in matches.nearby
                    nearby_seen += near
                    areas_seen += not near
                    expected.append({
                        **index.services[sid].body,
                        "relations": matches.reasons(sid),
                        "distance_m": matches.nearby.where(sid)[0] if near else None,
                    })  # fmt: skip
                assert orjson.loads(first)["services"]["contents"] == expected, (
                    postcode, filters, page,
                )  # fmt: skip
                assert again == first
        directory_end_request()
    assert nearby_seen > 20 and areas_seen > 20  # both kinds of entry were checked


def test_patch_and_partners_on_the_demo_directory(writable_app, shared_data_dir):
    result = writable_app.test_cli_runner().invoke(
        cli, ["demo", "load", "--from", str(shared_data_dir)]
    )
    assert result.exit_code == 0, result.output[-2000:]
    client = writable_app.test_client()
    body = client.get("/api/v1/patch?postcode=KT1 1EU").json
    relations = {
        s["ref"]: [r["relation"] for r in s["relations"]] for s in body["services"]["contents"]
    }
    assert (
        relations["oxygen-kingston-knife-crime"][0] == "site_nearby"
    )  # the Committee's Oxygen example
    assert relations["rescue-and-response"] == ["serves_london"]
    assert relations["lcpf-E09000021"] == ["serves_borough"]
    assert body["contacts"] and all(c["demo"] for c in body["contacts"])
    funder = client.get("/api/v1/partners?organisation=GB-GOR-PC390").json  # MOPAC runs no service
    assert funder["subject"]["organisation"]["name"] == "Mayor's Office for Policing and Crime"
    assert funder["partners"]["total_items"] == 0 and "no active services" in funder["note"]
    by_theme = client.get("/api/v1/partners?postcode=KT1 1EU&theme=violence-knife-crime").json
    assert "Oxygen" in [p["organisation"]["name"] for p in by_theme["partners"]["contents"]]


# -- regressions found in review ---------------------------------------------------------------
def test_patch_programme_and_live_on_hold_for_the_same_grant(read_patch_app):
    client = read_patch_app.test_client()
    past = (TODAY - timedelta(days=100)).isoformat()  # the SNB grant of BOROUGH was live then
    assert refs(
        client.get(f"/api/v1/patch?postcode=KT1 1EU&programme=snb&live_on={past}").json
    ) == ["BOROUGH"]
    later = (TODAY + timedelta(days=100)).isoformat()  # ended by then
    assert (
        refs(client.get(f"/api/v1/patch?postcode=KT1 1EU&programme=snb&live_on={later}").json) == []
    )


def test_patch_funding_leaves_regrants_out_like_the_funding_summary(patch_app, tmp_path):
    regrant = (
        f"REGRANT,Kingston regrant project,,knife crime,Oxygen,Kingston,,{TODAY},Kingston SNB,SNB,"
        f"£5k,{START},{END},active"
    )
    header = HEADER.strip() + ",Grant ref,Paid through\n"
    rows = [ROWS["BOROUGH"] + ",SNB-GRANT,", regrant + ",CHILD-GRANT,SNB-GRANT"]
    path = tmp_path / "regrant.csv"
    path.write_text(header + "\n".join(rows) + "\n", "utf-8")
    result = patch_app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "t"])
    assert result.exit_code == 0, result.output
    client = patch_app.test_client()
    patch_funding = client.get("/api/v1/patch?area=E09000021").json["funding"]
    summary = client.get(
        f"/api/v1/funding/summary?by=programme&area=E09000021&live_on={TODAY}"
    ).json
    assert patch_funding["amount"] == summary["totals"]["amount"]
    assert patch_funding["awards"] == summary["totals"]["awards"]


def test_change_feed_since_without_a_time_zone_is_utc(read_patch_app):
    client = read_patch_app.test_client()
    naive = client.get("/api/v1/changes?since=2000-01-01T00:00:00")
    assert naive.status_code == 200
    assert (
        naive.json["total_items"]
        == client.get("/api/v1/changes?since=2000-01-01T00:00:00Z").json["total_items"]
    )


def test_import_runs_and_status_revalidate_when_only_a_run_was_added(patch_app, tmp_path):
    client = patch_app.test_client()
    first = client.get("/api/v1/imports")
    status = client.get("/api/v1/status")
    assert status.json["data_loaded_at"].endswith("Z") and "+" not in status.json["data_loaded_at"]
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + ROWS["BOROUGH"].replace("£20k", "£2x") + "\n", "utf-8")
    assert patch_app.test_cli_runner().invoke(cli, ["import", str(bad)]).exit_code == 1
    again = client.get("/api/v1/imports", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and again.json["total_items"] == first.json["total_items"] + 1


def _links(response) -> dict[str, str]:
    """rel → URL of an RFC 8288 Link header."""
    found = {}
    for part in response.headers.get("Link", "").split(","):
        url, _, rel = part.strip().partition(">; rel=")
        found[rel.strip('"')] = url.lstrip("<")
    return found


def test_the_partners_link_their_pages_and_the_patch_geojson_its_own(read_patch_app):
    """The partners send Link headers (first, prev, next, last) as every paged list does;
    a patch as GeoJSON links its pages in the collection; following ``next`` gives the next
    page, to the last, every service once."""
    client = read_patch_app.test_client()
    partners = client.get("/api/v1/partners?organisation=org:oxygen&per_page=1")
    assert partners.json["partners"]["total_pages"] > 1
    links = _links(partners)
    assert {"first", "last", "next"} <= set(links) and "prev" not in links
    second = client.get(links["next"])
    assert second.json["partners"]["page_number"] == 2 and "prev" in _links(second)
    assert second.json["partners"]["contents"] != partners.json["partners"]["contents"]
    total = client.get("/api/v1/patch?postcode=KT1 1EU&per_page=1").json["services"]
    assert total["total_pages"] > 1
    url, seen = "/api/v1/patch?postcode=KT1 1EU&per_page=1&format=geojson", []
    while url:
        page = client.get(url).json
        seen += [f["properties"]["ref"] for f in page["features"]][:1]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert len(seen) == total["total_pages"] == len(set(seen))


def test_patch_services_as_geojson_and_csv(read_patch_app):
    client = read_patch_app.test_client()
    json_refs = refs(client.get("/api/v1/patch?postcode=KT1 1EU").json)
    geo = client.get("/api/v1/patch?postcode=KT1 1EU&format=geojson")
    assert geo.mimetype == "application/geo+json" and geo.json["type"] == "FeatureCollection"
    by_ref = {}
    for feature in geo.json["features"]:
        by_ref.setdefault(feature["properties"]["ref"], []).append(feature)
    assert set(by_ref) == set(json_refs)
    (site,) = by_ref["BOROUGH"]
    lon, lat = site["geometry"]["coordinates"]
    assert -0.6 < lon < 0.4 and 51.2 < lat < 51.8  # lon/lat order
    assert by_ref["LONDON"][0]["geometry"] is None
    assert by_ref["LONDON"][0]["properties"]["coverage"] == ["E12000007"]
    csv_response = client.get("/api/v1/patch?postcode=KT1 1EU", headers={"Accept": "text/csv"})
    assert csv_response.mimetype == "text/csv"
    lines = csv_response.data.decode().splitlines()
    assert lines[0].startswith("id,ref,name") and len(lines) == 1 + len(json_refs)
    assert client.get("/api/v1/patch?postcode=KT1 1EU&format=xml").status_code == 422


def test_a_patchs_geojson_and_csv_say_what_the_services_geojson_and_csv_say(read_patch_app):
    """A service of a patch is the same GeoJSON features (ids included) and the same CSV row
    (live programmes by name) as on /services; a page of a patch's CSV says it is one."""
    import csv
    import io

    client = read_patch_app.test_client()
    patch_geo = client.get("/api/v1/patch?postcode=KT1 1EU&format=geojson").json["features"]
    services_geo = client.get("/api/v1/services?format=geojson&per_page=1000").json["features"]
    by_id = {f["id"]: f for f in services_geo}
    sited = [f for f in patch_geo if f["geometry"] is not None]
    assert sited and all(f["id"] in by_id for f in patch_geo)
    for feature in sited:
        assert feature["geometry"] == by_id[feature["id"]]["geometry"]

    def rows(path):
        return {r["ref"]: r for r in csv.DictReader(io.StringIO(client.get(path).data.decode()))}

    from_patch = rows("/api/v1/patch?postcode=KT1 1EU&format=csv")
    from_services = rows("/api/v1/services?format=csv&per_page=1000")
    assert any(r["live_programmes"] for r in from_patch.values())
    for ref, row in from_patch.items():
        assert row == from_services[ref], ref
    page = client.get("/api/v1/patch?postcode=KT1 1EU&format=csv&per_page=2&page=2")
    assert page.headers["X-Total-Count"] == str(len(from_patch))
    links = _links(page)
    assert set(links) >= {"first", "prev", "last"} and "format=csv" in links["first"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/patch?postcode=KT1 1EU&theme={theme}",
        "/api/v1/patch?area=Kingston&theme=violence-knife-crime&theme={theme}",
        "POST /api/v1/patch/lookup",
        "/api/v1/services?theme={theme}",
        "/api/v1/partners?postcode=KT1 1EU&theme={theme}",
        "/api/v1/changes?theme={theme}",
    ],
)
def test_an_unknown_theme_is_a_problem_with_suggestions_not_an_empty_answer(read_patch_app, path):
    """The id of "Violence against women and girls" is vawg: a client sending the name's words
    learns so, with the closest themes, instead of getting nothing back."""
    themes = {
        t["id"]: t["name"]
        for t in read_patch_app.test_client().get("/api/v1/themes").json["contents"]
    }
    assert "violence-against-women-girls" not in themes

    def get(theme: str):  # the caseload lookup is a POST: postcodes and filters in its body
        client = read_patch_app.test_client()
        if path.startswith("POST "):
            return client.post(path[5:], json={"postcodes": ["KT1 1EU"], "theme": [theme]})
        return client.get(path.format(theme=theme))

    response = get("violence-against-women-girls")
    assert response.status_code == 422, response.json
    body = response.json
    assert response.mimetype == "application/problem+json" and body["code"] == "invalid-input"
    assert "violence-against-women-girls" in body["detail"]
    assert body["errors"]["theme"] == ["No theme has the id 'violence-against-women-girls'."]
    assert body["suggestions"][0] == {"id": "vawg", "name": themes["vawg"]}
    assert all(s["id"] in themes for s in body["suggestions"])
    known = get("vawg")
    assert known.status_code == 200, known.json


# -- the awards reaching a patch (issue 13) ----------------------------------------------------
KINGSTON = "E09000021"
KINGSTON_TOWN = "E05013938"  # KT1 1EU's ward


def _day(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


GIVING_HEADER = (
    "Identifier,Title,Amount Awarded,Award Date,Recipient Org:Identifier,Recipient Org:Name,"
    "Funding Org:Identifier,Funding Org:Name,Beneficiary Location:Geographic Code,"
    "Planned Dates:Start Date,Planned Dates:End Date\n"
)
#: grants that fund no listed service: ref → (funder, area, start, end)
GIVING = {
    "G-WARD": ("GB-GOR-PC390", KINGSTON_TOWN, _day(-60), _day(300)),  # MOPAC: a ward project
    "G-BOROUGH-RECENT": ("GB-GOR-PC390", KINGSTON, _day(-500), _day(-100)),  # ended lately
    "G-BOROUGH-OLD": ("GB-GOR-PC390", KINGSTON, _day(-1200), _day(-400)),  # ended long ago
    "G-PLANNED": ("GB-GOR-PC390", KINGSTON, _day(30), _day(400)),
    "G-HACKNEY": ("GB-GOR-PC390", "E09000012", _day(-60), _day(300)),
    "G-ARTS": ("GB-CHC-999", KINGSTON, _day(-60), _day(300)),  # not community safety
}


@pytest.fixture()
def awards_app(patch_app, tmp_path):
    rows = [
        f"{ref},Project {ref},£12000,{start},GB-CHC-1{n},Recipient {n},{funder},"
        f"{'MOPAC' if funder == 'GB-GOR-PC390' else 'Arts Trust'},{area},{start},{end}"
        for n, (ref, (funder, area, start, end)) in enumerate(GIVING.items())
    ]
    path = tmp_path / "giving.csv"
    path.write_text(GIVING_HEADER + "\n".join(rows) + "\n", "utf-8")
    result = patch_app.test_cli_runner().invoke(
        cli, ["import", str(path), "--format", "360giving", "--source", "giving"]
    )
    assert result.exit_code == 0, result.output
    return patch_app


def _expected_awards(app, client, area: str, *, all_programmes: bool = False) -> dict[str, str]:
    """ref → scope of the awards a patch should list, computed independently: every grant
    /grants?area= lists (all its pages), kept when started by today and not ended more than
    12 months ago, when not paid through another grant, and (by default) when it is
    community safety; its scope from its beneficiary areas in the database."""
    from sqlalchemy import select

    from directory.ingest.values import add_months
    from directory.store.models import Grant, GrantArea

    since = add_months(TODAY, -12)
    items, page = [], 1
    while True:
        body = client.get(f"/api/v1/grants?area={area}&per_page=100&page={page}").json
        items += body["contents"]
        if page >= body["total_pages"]:
            break
        page += 1
    programmes = client.get("/api/v1/programmes?include_other_programmes=true").json
    safe_programmes = {p["id"] for p in programmes["contents"] if p["community_safety"]}
    with app.extensions["directory"].db.engine.connect() as connection:
        areas: dict[str, set[str]] = {}
        for ref, code in connection.execute(
            select(Grant.ref, GrantArea.area_code).join(GrantArea, GrantArea.grant_id == Grant.id)
        ):
            areas.setdefault(ref, set()).add(code)
        parents = {
            r.ref: r.parent_ref for r in connection.execute(select(Grant.ref, Grant.parent_ref))
        }
    expected = {}
    for g in items:
        if g["start"] and g["start"] > TODAY.isoformat():
            continue
        if g["end"] and g["end"] < since.isoformat():
            continue
        if parents[g["ref"]] in parents:  # a regrant, as in funding
            continue
        safe = (
            g["programme"]["id"] in safe_programmes
            if g["programme"]
            else g["funder"]["ref"] == "GB-GOR-PC390"
        )
        if not (all_programmes or safe):
            continue
        codes = areas[g["ref"]]
        expected[g["ref"]] = (
            "ward" if KINGSTON_TOWN in codes else "borough" if KINGSTON in codes
            else "london" if "E12000007" in codes else "bcu"
        )  # fmt: skip
    return expected


def test_patch_lists_the_awards_reaching_it_even_when_they_fund_no_service(awards_app):
    client = awards_app.test_client()
    body = client.get("/api/v1/patch?postcode=KT1 1EU").json
    awards = body["awards"]
    by_ref = {a["ref"]: a for a in awards["contents"]}
    assert by_ref["G-WARD"]["scope"] == "ward"
    # named as held: the 360Giving file's "MOPAC" does not rename the organisation
    held = client.get("/api/v1/organisations/GB-GOR-PC390").json["name"]
    assert by_ref["G-WARD"]["funder"] == {"ref": "GB-GOR-PC390", "name": held} and held != "MOPAC"
    assert by_ref["G-WARD"]["recipient"]["ref"] == "GB-CHC-10"
    assert by_ref["G-WARD"]["status"] == "live" and by_ref["G-WARD"]["amount"] == 12000
    assert by_ref["G-WARD"]["url"] == f"/api/v1/grants/{by_ref['G-WARD']['id']}"
    assert by_ref["G-WARD"]["demo"] is False
    assert by_ref["G-BOROUGH-RECENT"]["scope"] == "borough"
    assert by_ref["G-BOROUGH-RECENT"]["status"] == "ended"
    assert not {"G-BOROUGH-OLD", "G-PLANNED", "G-HACKNEY", "G-ARTS"} & set(by_ref)
    assert awards["total"] == awards["listed"] == len(by_ref)
    assert awards["all_url"] == f"/api/v1/grants?area={KINGSTON_TOWN}"
    assert awards["programmes"]["counted"] == "community_safety"
    assert awards["programmes"]["other_programmes"] == {"awards": 1}  # G-ARTS
    assert "12 months" in awards["rule"] and "newest first" in awards["sort"]
    starts = [a["start"] for a in awards["contents"]]
    dated = [d for d in starts if d is not None]
    assert dated == sorted(dated, reverse=True) and starts[: len(dated)] == dated
    # the same list as computed from /grants?area= and the database
    expected = _expected_awards(awards_app, client, KINGSTON_TOWN)
    assert {a["ref"]: a["scope"] for a in awards["contents"]} == expected
    detail = client.get(by_ref["G-WARD"]["url"]).json
    assert detail["title"] == by_ref["G-WARD"]["title"] == "Project G-WARD"
    # every programme on request; the borough's dashboard patch by area
    everything = client.get("/api/v1/patch?postcode=KT1 1EU&include_other_programmes=true").json
    assert "G-ARTS" in {a["ref"] for a in everything["awards"]["contents"]}
    assert {a["ref"]: a["scope"] for a in everything["awards"]["contents"]} == _expected_awards(
        awards_app, client, KINGSTON_TOWN, all_programmes=True
    )
    borough = client.get(f"/api/v1/patch?area={KINGSTON}").json["awards"]
    scopes = {a["ref"]: a["scope"] for a in borough["contents"]}
    assert scopes["G-WARD"] == "part" and scopes["G-BOROUGH-RECENT"] == "borough"
    assert borough["all_url"] == f"/api/v1/grants?area={KINGSTON}"


def test_patch_awards_follow_live_on_and_the_programme_filter(awards_app):
    client = awards_app.test_client()
    then = _day(-450)  # G-BOROUGH-OLD was live, G-WARD not yet started
    refs_then = {
        a["ref"]
        for a in client.get(f"/api/v1/patch?postcode=KT1 1EU&live_on={then}").json["awards"][
            "contents"
        ]
    }
    assert "G-BOROUGH-OLD" in refs_then and "G-WARD" not in refs_then
    snb = client.get("/api/v1/patch?postcode=KT1 1EU&programme=snb").json["awards"]
    assert snb["programmes"] == {"counted": "programme", "programme": "snb"}
    assert {a["programme"]["id"] for a in snb["contents"]} == {"snb"}


def _status_on(award: dict, day: str) -> str:
    """An award's status on ``day`` from its dates, as /grants defines it (ending soon:
    within the default 90 days)."""
    soon = (date.fromisoformat(day) + timedelta(days=90)).isoformat()
    start, end = award["start"], award["end"]
    if start and start > day:
        return "planned"
    if end and end < day:
        return "ended"
    return "ending soon" if end and end <= soon else "live"


@pytest.mark.parametrize("first", ["today", "later"])
def test_patch_awards_have_the_status_of_the_day_asked_whichever_day_was_asked_first(
    awards_app, first
):
    """An award's entry is kept as bytes shared by the patches listing it, and its status
    is the day's: a patch asked for a later day (``live_on``) does not give today's patch
    its status, nor the other way round, in either order."""
    client = awards_app.test_client()
    later = _day(301)  # G-WARD ended the day before, G-PLANNED live
    urls = {"today": "/api/v1/patch?postcode=KT1 1EU", "later": _later_url(later)}
    order = [first, *(day for day in urls if day != first)]
    answers = {day: client.get(urls[day]).json["awards"] for day in order}
    assert answers["later"]["live_on"] == later
    for day, awards in answers.items():
        on = TODAY.isoformat() if day == "today" else later
        statuses = {a["ref"]: a["status"] for a in awards["contents"]}
        assert statuses == {a["ref"]: _status_on(a, on) for a in awards["contents"]}, day
    assert {a["ref"]: a["status"] for a in answers["today"]["contents"]}["G-WARD"] == "live"
    assert {a["ref"]: a["status"] for a in answers["later"]["contents"]}["G-WARD"] == "ended"


def _later_url(day: str) -> str:
    return f"/api/v1/patch?postcode=KT1 1EU&live_on={day}"


@pytest.mark.parametrize(
    "request_",
    [
        ("GET", "/api/v1/services?programme={programme}", None),
        ("GET", "/api/v1/patch?postcode=KT1 1EU&programme={programme}", None),
        ("GET", "/api/v1/patch?area=Kingston&programme={programme}", None),
        ("POST", "/api/v1/patch/lookup", {"postcodes": ["KT1 1EU"], "programme": "{programme}"}),
    ],
)
def test_an_unknown_programme_is_a_problem_not_an_empty_answer(read_patch_app, request_):
    """As on /grants: a programme id that is neither held nor in programmes.csv is a 404."""
    method, url, body = request_
    client = read_patch_app.test_client()
    known = {p["id"] for p in client.get("/api/v1/programmes?per_page=100").json["contents"]}
    assert "vru" in known and "violence-reduction" not in known

    def call(programme: str):
        data = None if body is None else {**body, "programme": programme}
        return client.open(url.format(programme=programme), method=method, json=data)

    response = call("violence-reduction")
    assert response.status_code == 404, response.json
    assert response.json["code"] == "programme-not-found"
    assert "violence-reduction" in response.json["detail"]
    assert call("vru").status_code == 200


@pytest.mark.parametrize("shared_demo_app", BACKENDS, indirect=True)
def test_a_patch_kept_as_json_reads_as_its_dict_and_text_orjson_cannot_write_is_escaped(
    shared_demo_app,
):
    """A patch with nothing nearby is its place's geography spliced with the rest of its
    answer kept as JSON: read as a mapping (the GeoJSON and CSV answers do) it is the
    answer written; and a filter echoing text orjson cannot write (a lone surrogate, which
    a JSON body can carry) is answered through the writer's escaping fallback, not kept."""
    from directory.usecases import patch
    from directory.web.state import directory_reads, end_request

    with shared_demo_app.test_request_context():
        reads = directory_reads()
        place = patch.resolve_place(
            reads.snap, reads.repo, reads.settings, area="Kingston upon Thames"
        )
        for filters in (patch.PatchFilters(), patch.PatchFilters(q="youth \ud800")):
            answers = [
                patch.patch(
                    reads.index, reads.snap, place, filters, reads.today, page=1, per_page=5
                )
                for _ in range(2)
            ]
            written = [http.dumps(answer) for answer in answers]
            assert written[0] == written[1]
            assert dict(answers[1]) == json.loads(written[0])
            assert json.loads(written[0])["filters"]["q"] == filters.q
            assert json.loads(written[0])["area"]["name"] == "Kingston upon Thames"
        end_request()


def test_a_patch_answered_from_what_is_kept_is_the_one_made_afresh(read_patch_app):
    """With nothing near its point a patch keeps everything but its geography per place
    (and pages, opportunities and more besides): points in and around Kingston, each
    answered again from what the others kept (a GeoJSON read between) equal the answers
    made with nothing kept."""
    from directory.usecases.shared import Kept

    client = read_patch_app.test_client()
    urls = [
        f"/api/v1/patch?lat={51.4077 + dy:.4f}&lon={-0.3059 + dx:.4f}{extra}"
        for dy in (0, 0.004, -0.012, 0.03) for dx in (0, 0.006, -0.02)
        for extra in ("", "&per_page=2", "&status=any&per_page=2", "&per_page=2&page=2")
    ]  # fmt: skip
    kept = [client.get(url) for url in urls] + [client.get(url) for url in urls]
    assert client.get(urls[0] + "&format=geojson").status_code == 200
    kept += [client.get(url) for url in urls]
    index = read_patch_app.extensions["directory"].directory._index
    fresh = []
    for url in urls:
        for cache in vars(index).values():
            if isinstance(cache, Kept):
                cache.clear()
        fresh.append(client.get(url))
    assert [r.status_code for r in fresh] == [200] * len(urls), [r.json for r in fresh][:3]
    near = [r.json["counts"]["site_nearby"] for r in fresh]
    assert 0 in near and any(near)  # points with sites near them and without
    for i, (url, made) in enumerate(zip(urls, fresh, strict=True)):
        assert made.status_code == 200, url
        for again in kept[i :: len(urls)]:
            assert again.get_data() == made.get_data(), url


class _CountingDecodes:
    """orjson as ``directory.usecases.shared`` sees it, counting the kept JSON it decodes
    (a Shared part read as a mapping, a spliced answer's member, a page read as a list)."""

    def __init__(self) -> None:
        import orjson

        self._orjson = orjson
        self.decoded = 0

    def __getattr__(self, name: str):
        return getattr(self._orjson, name)

    def loads(self, data):
        self.decoded += 1
        return self._orjson.loads(data)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/patch?postcode=kt11eu",  # sites nearby: the page spliced, Shared parts
        "/api/v1/patch?area=Kingston upon Thames",  # nothing nearby: the kept answer spliced
        "/api/v1/patch?lat=51.4077&lon=-0.3059&per_page=2&page=2",
        "/api/v1/partners?organisation=org:oxygen",
        "/api/v1/postcodes/kt11eu",
        "/api/v1/areas/E09000021/boundary?simplify=20",  # a boundary is kept as JSON too
    ],
)
def test_a_json_answer_is_written_without_decoding_what_is_kept(read_patch_app, monkeypatch, path):
    """Kept parts of answers are written as their bytes: a route that read one as a mapping
    before writing JSON would decode it on every request (22 µs on a demo patch, a
    regression found by measuring). Each answer, made and then answered from what is kept,
    decodes nothing; the patch's GeoJSON, which reads the services, shows the count sees
    such reads."""
    from directory.usecases import shared

    counting = _CountingDecodes()
    monkeypatch.setattr(shared, "orjson", counting)
    client = read_patch_app.test_client()
    for _ in range(2):
        response = client.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)
    assert counting.decoded == 0
    if path.startswith("/api/v1/patch"):
        assert client.get(path + "&format=geojson").status_code == 200
        assert counting.decoded > 0


@pytest.mark.parametrize(
    "path", ["/api/v1/changes.atom?since=2030-01-01T00:00:00Z", "/api/v1/opportunities.atom"]
)
def test_an_empty_feed_is_updated_when_the_data_was(read_patch_app, path):
    """RFC 4287 §4.2.15: with no entries, the feed last changed when the data version was
    loaded (it said 2000-01-01)."""
    client = read_patch_app.test_client()
    feed = ET.fromstring(client.get(path).data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert feed.find("a:entry", ns) is None
    loaded = client.get("/api/v1/status").json["data_loaded_at"]
    assert feed.findtext("a:updated", namespaces=ns) == loaded


@pytest.mark.parametrize("query", ["page=2", "per_page=5", "page=1&per_page=100"])
def test_the_atom_feed_takes_no_page_and_says_so(shared_demo_app, query):
    """The Atom feed is the newest 100 changes, not paged: a page asked of it is the 400
    unknown-parameter problem (it answered page 1 of 100, whatever the page)."""
    response = shared_demo_app.test_client().get(f"/api/v1/changes.atom?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "unknown-parameter"
    assert set(body["errors"]) == {name.split("=")[0] for name in query.split("&")}


def test_the_atom_feed_is_the_newest_100_changes(shared_demo_app):
    client = shared_demo_app.test_client()
    newest = client.get("/api/v1/changes?per_page=100").json
    assert newest["total_items"] > 100
    feed = ET.fromstring(client.get("/api/v1/changes.atom").data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = feed.findall("a:entry", ns)
    assert [e.findtext("a:title", namespaces=ns) for e in entries] == [
        change["summary"] for change in newest["contents"]
    ]
    assert [link.get("rel") for link in feed.findall("a:link", ns)] == ["self"]  # no paging


def test_postcode_messages_speak_json_strip_invisible_characters_and_name_outcodes(
    read_patch_app,
):
    client = read_patch_app.test_client()
    body = client.post("/api/v1/patch/lookup", json={"postcodes": [None, 123]}).json
    assert [r["problem"]["detail"] for r in body["results"]] == [
        "A postcode must be text, not null.",
        "A postcode must be text, not a number.",
    ]
    for pasted in ("\u200bKT1 1EU", "\ufeffKT1 1EU", "KT1\u00a01EU"):
        answer = client.get("/api/v1/patch", query_string={"postcode": pasted})
        assert answer.status_code == 200 and answer.json["postcode"] == "KT1 1EU"
    outcode = client.get("/api/v1/patch?postcode=SW1A")
    assert (outcode.status_code, outcode.json["code"]) == (422, "invalid-postcode")
    assert outcode.json["outcode"] == "SW1A"
    assert "'SW1A' is an outcode" in outcode.json["detail"]
    assert "/api/v1/outcodes/SW1A" in outcode.json["detail"]
    assert client.get("/api/v1/outcodes/SW1A").status_code == 200


def test_a_feed_stays_well_formed_xml_whatever_text_is_held():
    """Text XML cannot carry (a control character, half of a surrogate pair, U+FFFF),
    held from before writes refused it, is left out of both Atom feeds' elements and
    attributes, not written raw into a feed no reader can parse."""
    import xml.etree.ElementTree as ET
    from datetime import UTC, datetime

    from directory.usecases import changes, feeds

    held = "Ring\x07 the \x1bbell\x0b\ud800\uffff"
    body = {"contents": [{
        "id": "e1", "at": "2026-12-03T10:00:00Z", "summary": held, "action": "changed",
        "actor": held, "url": "/api/v1/services/x", "changes": {"name": {"old": held, "new": "B"}},
        "areas": [{"code": "E09000021", "name": held}],
    }]}  # fmt: skip
    document = changes.atom(
        body, feed_url="http://x/api/v1/changes.atom", base_url="http://x", title=held,
        feed_name="changes", data_loaded_at=datetime(2026, 12, 3, tzinfo=UTC),
    )  # fmt: skip
    feed = ET.fromstring(document)  # ill-formed XML raises
    entry = feed.find(f"{{{feeds.ATOM}}}entry")
    assert entry.findtext(f"{{{feeds.ATOM}}}title") == "Ring the bell"
    assert "name: Ring the bell → B" in entry.findtext(f"{{{feeds.ATOM}}}content")
    term = feeds.element(feed, "category", term="a\x07b").get("term")
    assert term == "ab" and feeds.xml_text("tab\tnew\nline\r") == "tab\tnew\nline\r"


def test_a_moments_utc_and_london_days_are_worked_out_once_an_hour_and_stay_right():
    """An answer kept for a day is kept by the UTC day and London's (``_days``), worked out
    once per UTC hour: the same days as each moment's own, across both clock changes."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from directory.usecases.patch.answer import _days

    london = ZoneInfo("Europe/London")
    moment = datetime(2026, 3, 28, 20, 0, 7, tzinfo=UTC)  # BST starts 29 March, 01:00 UTC
    seen = set()
    while moment < datetime(2026, 10, 26, 3, tzinfo=UTC):  # and ends 25 October, 01:00 UTC
        assert _days(moment) == (moment.date(), moment.astimezone(london).date()), moment
        seen.add(_days(moment))
        moment += (
            timedelta(minutes=23, seconds=11) if moment.month in (3, 10) else timedelta(hours=5)
        )
    # the London day ran ahead of the UTC one for an hour each night of summer time
    assert any(utc != here for utc, here in seen)
