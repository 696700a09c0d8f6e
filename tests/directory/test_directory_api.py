"""The directory's read endpoints on an imported directory, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from directory import create_app
from directory.cli import cli
from tests.conftest import BACKENDS, geography_copy
from tests.directory.test_import import HEADER, OXYGEN, RESCUE

SNB_GRANT = (
    "Service ref,Service name,Status,Themes,Organisation name,Coverage,Last verified,"
    "Grant ref,Funder,Programme,Amount,Start date,End date,Paid through\n"
    "SNB-KT,Kingston SNB small grants,active,Community safety,Kingston SNB,Kingston,2026-10-01,"
    "SNB-KT-2025,MOPAC,SNB,£120k,2025-04-01,2026-03-31,\n"
    "OXY-KT-02,Oxygen summer programme,active,knife crime,Oxygen,Kingston,2026-10-01,"
    "OXY-KT-02-G,Kingston SNB,SNB,£20k,2025-06-01,2025-09-30,SNB-KT-2025\n"
)


def _import_directory(app, tmp: Path) -> None:
    path = tmp / "services.csv"
    path.write_text(HEADER + OXYGEN + RESCUE, "utf-8")
    result = app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "main"])
    assert result.exit_code == 0, result.output
    chain = tmp / "snb.csv"
    chain.write_text(SNB_GRANT, "utf-8")
    result = app.test_cli_runner().invoke(cli, ["import", str(chain), "--source", "snb"])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module", params=BACKENDS)
def directory_app(request, tmp_path_factory):
    """The directory imported once per backend for the module, shared by the tests that
    only read it (``directory_client``)."""
    tmp = tmp_path_factory.mktemp("directory-api")
    app = create_app(geography_copy(request, request.param, tmp))
    _import_directory(app, tmp)
    yield app
    app.extensions["directory"].db.dispose()


@pytest.fixture()
def directory_client(directory_app):
    return directory_app.test_client()


def test_services_list_is_a_paged_envelope_with_links(directory_client):
    response = directory_client.get("/api/v1/services?per_page=2")
    body = response.json
    assert body["total_items"] == 4 and body["total_pages"] == 2 and body["size"] == 2
    assert [s["name"] for s in body["contents"]] == sorted(s["name"] for s in body["contents"])
    assert 'rel="next"' in response.headers["Link"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    etag = response.headers["ETag"]
    again = directory_client.get("/api/v1/services?per_page=2", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_services_filter_by_theme_status_and_organisation(directory_client):
    knife = directory_client.get("/api/v1/services?theme=violence-knife-crime").json["contents"]
    assert {s["ref"] for s in knife} == {"OXY-KT-01", "OXY-KT-02"}
    both = directory_client.get(
        "/api/v1/services?theme=violence-knife-crime&theme=youth-diversion"
    ).json["contents"]
    assert [s["ref"] for s in both] == ["OXY-KT-01"]
    by_org = directory_client.get("/api/v1/services?organisation=org:oxygen").json
    assert by_org["total_items"] == 2
    missing = directory_client.get("/api/v1/services?organisation=nobody")
    assert missing.status_code == 404 and missing.json["code"] == "organisation-not-found"


@pytest.mark.parametrize(
    "query",
    ["status=open", "per_page=0", "per_page=100000", "page=-1", "include_withdrawn=perhaps"],
)
def test_bad_list_parameters_are_problems(directory_client, query):
    response = directory_client.get(f"/api/v1/services?{query}")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "invalid-input"


def test_service_detail_by_id_or_ref_and_not_found(directory_client):
    by_ref = directory_client.get("/api/v1/services/SL-RR-01").json
    by_id = directory_client.get(f"/api/v1/services/{by_ref['id']}").json
    assert by_id == by_ref
    assert by_ref["organisation"]["name"] == "Safer London"
    assert by_ref["grants"][0]["programme"]["id"] == "lcpf-cc"
    missing = directory_client.get("/api/v1/services/NOPE")
    assert missing.status_code == 404
    assert missing.json["code"] == "service-not-found"


@pytest.mark.parametrize("key", ["0{id}", "00{id}", "²", "١", "①", "+{id}", "2147483648"])
def test_only_a_canonical_id_names_a_service(directory_client, key):
    """ASCII decimal digits without a leading zero, as the API writes ids: "²" and "١" (which
    str.isdigit takes) and "0{id}" (which int takes) name nothing, rather than a 500 or the
    service at a second URL."""
    service_id = directory_client.get("/api/v1/services/SL-RR-01").json["id"]
    assert directory_client.get(f"/api/v1/services/{service_id}").status_code == 200
    missing = directory_client.get(f"/api/v1/services/{key.format(id=service_id)}")
    assert missing.status_code == 404
    assert missing.json["code"] == "service-not-found"


def test_grant_chain_shows_the_intermediary(directory_client):
    child = directory_client.get("/api/v1/grants/OXY-KT-02-G").json
    assert child["paid_through"] == "SNB-KT-2025"
    assert child["chain"][0]["ref"] == "SNB-KT-2025"
    assert child["chain"][0]["funder"] == "Mayor's Office for Policing and Crime"
    parent = directory_client.get("/api/v1/grants/SNB-KT-2025").json
    assert [g["ref"] for g in parent["regrants"]] == ["OXY-KT-02-G"]
    assert child["duration_months"] == 4 and child["short_term"] is True


def test_grants_filter_by_programme_and_area(directory_client):
    snb = directory_client.get("/api/v1/grants?programme=snb").json
    assert {g["ref"] for g in snb["contents"]} == {"SNB-KT-2025", "OXY-KT-02-G", "OXY-KT-01#grant"}
    kingston = directory_client.get("/api/v1/grants?area=E09000021").json
    # Kingston's own grants, and the grants to the areas above it (London-wide, its BCU)
    codes = [{a["code"] for a in g["beneficiary_areas"]} for g in kingston["contents"]]
    assert sum("E09000021" in c for c in codes) == 3
    assert all(c & {"E09000021", "E12000007", "bcu-south-west"} for c in codes)
    assert kingston["total_items"] == len(codes)


def test_organisations_list_and_detail(directory_client):
    listing = directory_client.get("/api/v1/organisations?q=oxy").json
    assert [o["name"] for o in listing["contents"]] == ["Oxygen"]
    # a name of nothing but spaces is refused as every list's q is (it was an empty list);
    # the words of one are matched one space apart
    blank = directory_client.get("/api/v1/organisations?q=%20%0A")
    assert blank.status_code == 422
    assert blank.json["errors"] == {"q": ["q must contain something to search for."]}
    spaced = directory_client.get("/api/v1/organisations?q=%20Oxy%0A").json
    assert [o["name"] for o in spaced["contents"]] == ["Oxygen"]
    detail = directory_client.get("/api/v1/organisations/org:oxygen").json
    assert {s["ref"] for s in detail["services"]} == {"OXY-KT-01", "OXY-KT-02"}
    assert len(detail["grants_received"]) == 2
    mopac = directory_client.get("/api/v1/organisations/GB-GOR-PC390").json
    assert {g["ref"] for g in mopac["grants_made"]} >= {"SNB-KT-2025", "SL-RR-01#grant"}


def test_themes_count_listed_services(directory_client):
    themes = {t["id"]: t for t in directory_client.get("/api/v1/themes").json["contents"]}
    assert themes["violence-knife-crime"]["services"] == 2
    assert themes["hate-crime"]["services"] == 0
    assert len(themes) >= 14


def test_status_and_imports(directory_client):
    status = directory_client.get("/api/v1/status").json
    assert status["counts"]["services"] == 4
    # OXY-KT-01 verified 2026-09-01 and the SNB rows in 2026-10; Rescue and Response in 2021
    assert status["stale_services"] == 1
    assert {s["source"] for s in status["sources"]} == {"main", "snb"}
    imports = directory_client.get("/api/v1/imports?source=snb").json
    assert imports["total_items"] == 1 and imports["contents"][0]["status"] == "succeeded"
    assert directory_client.get("/api/v1/imports/999999").json["code"] == "import-not-found"


def test_data_version_moves_on_import_so_caches_revalidate(writable_app, tmp_path):
    _import_directory(writable_app, tmp_path)  # a directory of its own: it imports more
    directory_client = writable_app.test_client()
    first = directory_client.get("/api/v1/services/OXY-KT-01")
    path = tmp_path / "more.csv"
    path.write_text(HEADER + OXYGEN.replace("Workshops in Kingston", "Workshops"), "utf-8")
    result = writable_app.test_cli_runner().invoke(cli, ["import", str(path), "--source", "main"])
    assert result.exit_code == 0 and "succeeded" in result.output, result.output
    second = directory_client.get(
        "/api/v1/services/OXY-KT-01", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert second.status_code == 200
    assert second.json["description"] == "Workshops"
    assert second.headers["ETag"] != first.headers["ETag"]
    # a service's answer changes without the data version too (practice notes): no date
    assert "Last-Modified" not in first.headers and "Last-Modified" not in second.headers


def test_large_lists_are_gzipped_and_revalidate_with_either_etag(directory_client):
    url = "/api/v1/themes"
    plain = directory_client.get(url)
    zipped = directory_client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert len(zipped.data) < len(plain.data)
    import gzip

    assert gzip.decompress(zipped.data) == plain.data
    for etag in (plain.headers["ETag"], zipped.headers["ETag"]):
        again = directory_client.get(
            url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag}
        )
        assert again.status_code == 304
        assert again.data == b""


# -- refs holding "/" ----------------------------------------------------------------------
#: a template row whose service, organisation and grant refs hold "/" (a 360Giving grant id
#: often does: 360G-…-2016/17-04), as an import takes them
SLASHED_ROW = (
    "Service ref,Service name,Status,Themes,Organisation name,Organisation ref,Coverage,"
    "Last verified,Grant ref,Funder,Programme,Amount,Start date,End date\n"
    "SL/RR/01,Slashed rescue,active,Gangs and exploitation,Slashed charity,GB-SLASH/7,"
    "pan-London,2026-10-01,360G-MOPAC-2016/17-04,MOPAC,LCPF,£10k,2025-04-01,2027-03-31\n"
)
#: each kind's ref holding "/", and the code of the 404 for one it does not hold
SLASHED = {
    "services": ("SL/RR/01", "service-not-found"),
    "organisations": ("GB-SLASH/7", "organisation-not-found"),
    "grants": ("360G-MOPAC-2016/17-04", "grant-not-found"),
    "opportunities": ("vru/youth/2027", "opportunity-not-found"),
}


@pytest.fixture(scope="module", params=BACKENDS)
def slashed_app(request, tmp_path_factory):
    """A directory whose records have refs holding "/": a service, its organisation and
    grant from the template's rows, an opportunity from its Opportunities sheet."""
    from tests.directory.test_opportunities import sheet_row, workbook

    tmp = tmp_path_factory.mktemp("slashed-refs")
    app = create_app(geography_copy(request, request.param, tmp))
    rows = tmp / "services.csv"
    rows.write_text(SLASHED_ROW, "utf-8")
    book = tmp / "rounds.xlsx"
    book.write_bytes(workbook(tmp, [sheet_row(SLASHED["opportunities"][0])]))
    for path in (rows, book):
        result = app.test_cli_runner().invoke(cli, ["import", str(path), "--source", path.stem])
        assert result.exit_code == 0, result.output
    yield app
    app.extensions["directory"].db.dispose()


@pytest.mark.parametrize("kind", list(SLASHED))
def test_a_ref_holding_a_slash_is_read_at_its_escaped_address(slashed_app, kind):
    """``%2F`` in a path is decoded to ``/`` before routing: the item routes take a ref
    holding it (it was werkzeug's 404, naming no record)."""
    ref, _ = SLASHED[kind]
    response = slashed_app.test_client().get(f"/api/v1/{kind}/{quote(ref, safe='')}")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["ref"] == ref


@pytest.mark.parametrize("kind", ["services", "opportunities"])
def test_a_slashed_refs_history_is_its_own(slashed_app, kind):
    """A path's own routes come first: …/history is the history of the ref before it."""
    ref, _ = SLASHED[kind]
    response = slashed_app.test_client().get(f"/api/v1/{kind}/{quote(ref, safe='')}/history")
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("kind", list(SLASHED))
def test_an_unknown_ref_holding_a_slash_is_the_records_404(slashed_app, kind):
    """The not-found problem an unknown ref gets, naming the ref as sent, not a route's."""
    _, code = SLASHED[kind]
    response = slashed_app.test_client().get(f"/api/v1/{kind}/abc%2Fdef")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code and "abc/def" in body["detail"], body
    plain = slashed_app.test_client().get(f"/api/v1/{kind}/abcdef").get_json()
    assert body["detail"] == plain["detail"].replace("abcdef", "abc/def")


@pytest.mark.parametrize(
    ("path", "method", "allowed"),
    [
        ("/api/v1/services/SL%2FRR%2F01/history", "PATCH", {"GET", "HEAD", "OPTIONS"}),
        ("/api/v1/services/SL%2FRR%2F01/sites", "GET", {"POST", "OPTIONS"}),
        ("/api/v1/services/SL%2FRR%2F01/outcomes", "DELETE", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("/api/v1/opportunities/vru%2Fyouth%2F2027/feedback", "PATCH", {"POST", "OPTIONS"}),
    ],
)
def test_an_item_routes_own_names_are_never_part_of_a_ref(slashed_app, path, method, allowed):
    """``…/sites`` after a ref is the sites of that record for every method: a method it
    does not take is its 405 naming what it does, not a change of a record ``…/sites``."""
    response = slashed_app.test_client().open(path, method=method)
    assert response.status_code == 405, response.get_json()
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
