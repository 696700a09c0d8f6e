"""The Open Referral HSDS 3.0 API (``/api/v1/hsds``, Open Referral UK profile), on the demo
directory and on a generated one, on both databases:

- every object and every page it answers validates against the HSDS 3.0 schemas and the
  ORUK profile's (shipped in ``tests/data/standards/openreferral``; formats checked): zero
  errors;
- ids are UUIDs that derive from our refs only (the same on every load);
- each query parameter filters as the matching filter of ``/api/v1/services`` does;
- bad input is a 4xx problem;
- round trip: every service exported through the API and imported into an empty database
  with ``directory import --format hsds`` gives the same services, organisations,
  locations, coverage and themes, and the re-import serves the same HSDS services;
- the importer keeps what it read (schedules, languages, cost options, funding,
  contacts …) and serves it back.
"""

from __future__ import annotations

import functools
import json
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from flask import Flask
from flask.testing import FlaskClient
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from directory import create_app
from directory.cli import cli
from directory.ingest.readers import write_table
from directory.ingest.template import HEADINGS
from directory.store.repositories.directory import DirectoryRepository
from directory.usecases.hsds import TAXONOMY_ID
from directory.usecases.hsds_ids import NAMESPACE, hsds_id, service_uuid
from geodata import crs
from tests.conftest import demo_copy, geography_copy

STANDARDS = Path(__file__).resolve().parents[1] / "data" / "standards" / "openreferral"
HSDS, ORUK = STANDARDS / "hsds-3.0", STANDARDS / "oruk-uk-profile"
API = "/api/v1/hsds"
PAGE_MEMBERS = (
    "total_items", "total_pages", "page_number", "size", "first_page", "last_page", "empty",
    "contents",
)  # fmt: skip


# -- the standards' schemas ------------------------------------------------------------------
def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text("utf-8"))  # type: ignore[no-any-return]


@functools.cache
def _registry(folder: Path) -> Registry:
    """The per-object schemas of a folder, each under a local address (they name each other
    by file name: ``"$ref": "attribute.json"``); nothing is fetched."""
    resources = []
    for path in sorted(folder.glob("*.json")):
        schema = {**_load(path), "$id": f"https://schemas.invalid/{folder.parent.name}/{path.name}"}
        resources.append((schema["$id"], DRAFT202012.create_resource(schema)))
    return Registry().with_resources(resources)


def _validator(schema: dict[str, Any], registry: Registry | None = None) -> Any:
    return jsonschema.Draft202012Validator(
        schema,
        registry=registry or Registry(),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def _object_schema(folder: Path, name: str) -> Any:
    """A per-object schema with its relative ``$ref`` resolved through the registry."""
    base = f"https://schemas.invalid/{folder.parent.name}/"
    return _validator({"$ref": f"{base}{name}.json"}, _registry(folder))


@functools.cache
def validators() -> dict[str, list[tuple[str, Any]]]:
    """For each kind of object the API answers, its HSDS 3.0 and ORUK validators."""
    hs, hc = HSDS / "schema", HSDS / "schema" / "compiled"
    us, uc = ORUK / "schema", ORUK / "schema" / "compiled"

    def page_schema(path: Path) -> dict[str, Any]:
        return _load(path)["components"]["schemas"]["Page"]  # type: ignore[no-any-return]

    def root_schema(path: Path) -> dict[str, Any]:
        ok = _load(path)["paths"]["/"]["get"]["responses"]["200"]
        return ok["content"]["application/json"]["schema"]  # type: ignore[no-any-return]

    def pair(hsds: Any, oruk: Any) -> list[tuple[str, Any]]:
        return [("HSDS 3.0", hsds), ("ORUK", oruk)]

    return {
        "service": pair(
            _validator(_load(hc / "service_with_definitions.json")),
            _validator(_load(uc / "service.json")),
        ),
        "service_list": pair(
            _validator(_load(hc / "service_list.json")),
            _validator(_load(uc / "service_list.json")),
        ),
        "organization": pair(
            _object_schema(hs, "organization"), _validator(_load(uc / "organization.json"))
        ),
        "organization_list": pair(
            _validator(_load(hc / "organization_list.json")),
            _validator(_load(uc / "organization_list.json")),
        ),
        "service_at_location": pair(
            _object_schema(hs, "service_at_location"),
            _validator(_load(uc / "service_at_location.json")),
        ),
        "service_at_location_list": pair(
            _validator(_load(hc / "service_at_location_list.json")),
            _validator(_load(uc / "service_at_location_list.json")),
        ),
        "location": pair(_object_schema(hs, "location"), _object_schema(us, "location")),
        "taxonomy": pair(_object_schema(hs, "taxonomy"), _object_schema(us, "taxonomy")),
        "taxonomy_term": pair(
            _object_schema(hs, "taxonomy_term"), _object_schema(us, "taxonomy_term")
        ),
        "page": pair(
            _validator(page_schema(HSDS / "openapi30.json")),
            _validator(page_schema(ORUK / "openapi30.json")),
        ),
        "root": pair(
            _validator(root_schema(HSDS / "openapi30.json")),
            _validator(root_schema(ORUK / "openapi30.json")),
        ),
    }


def schema_errors(kind: str, body: Any) -> list[str]:
    return [
        f"{standard} {kind} {error.json_path}: {error.message}"
        for standard, validator in validators()[kind]
        for error in validator.iter_errors(body)
    ]


def test_the_schemas_catch_what_they_should() -> None:
    """The validators are live: a service without a name, a bad uuid and a page without its
    envelope are errors under both standards."""
    assert schema_errors("service", {"id": str(uuid.uuid4()), "status": "active"})
    assert schema_errors("service", {"id": "not-a-uuid", "name": "x", "status": "active"})
    assert schema_errors("organization", {"id": str(uuid.uuid4()), "name": "x"})
    assert schema_errors("page", {"total_items": "many", "contents": []})
    example = _load(HSDS / "examples" / "service_full.json")
    assert schema_errors("service", example) == []


# -- the API -------------------------------------------------------------------------------------
@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def demo_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    app = create_app(demo_copy(request, request.param, tmp_path_factory.mktemp("hsds")))
    yield app
    app.extensions["directory"].db.dispose()


def get(client: FlaskClient, path: str, **params: Any) -> Any:
    response = client.get(f"{API}{path}", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return response.json


def walk(client: FlaskClient, path: str, per_page: int = 100, **params: Any) -> list[Any]:
    """Every item of a list, page by page, each page checked against the standards'
    envelope and against its own counts."""
    items: list[Any] = []
    page = 1
    while True:
        body = get(client, path, page=page, per_page=per_page, **params)
        assert schema_errors("page", body) == []
        assert set(body) == set(PAGE_MEMBERS)  # the standards' schema requires none
        assert body["page_number"] == page and body["size"] == len(body["contents"])
        assert body["first_page"] == (page == 1)
        items += body["contents"]
        if body["last_page"]:
            assert body["total_items"] == len(items) and body["total_pages"] == page
            return items
        page += 1


def api_refs(client: FlaskClient, **params: Any) -> set[str]:
    """The refs of the services /api/v1/services lists under the filters (every page)."""
    refs: set[str] = set()
    page = 1
    while True:
        body = client.get(
            "/api/v1/services", query_string={**params, "page": page, "per_page": 1000}
        ).json
        refs |= {s["ref"] for s in body["contents"]}
        if body["last_page"]:
            return refs
        page += 1


def uuids(refs: set[str]) -> set[str]:
    return {service_uuid(ref) for ref in refs}


def hsds_services(client: FlaskClient, **params: Any) -> set[str]:
    return {s["id"] for s in walk(client, "/services", per_page=200, **params)}


def test_the_root_names_version_profile_and_document(demo_app: Flask) -> None:
    client = demo_app.test_client()
    body = get(client, "")
    assert schema_errors("root", body) == []
    # /api/v1/hsds/ is the same operation (routed, not redirected; the test client's
    # contract check knows the documented path only)
    assert demo_app.url_map.bind("localhost").match(f"{API}/") == ("hsds.root", {})
    assert body["version"] == "3.0"
    assert "uk-profile" in body["profile"].lower()
    assert client.get(body["openapi_url"]).status_code == 200
    assert f"{API}/services" in client.get(body["openapi_url"]).json["paths"]


def test_every_object_of_the_demo_validates(demo_app: Flask) -> None:
    """Lists (plain, full and minimal) and every object by its id: zero errors under HSDS
    3.0 and the ORUK profile."""
    client = demo_app.test_client()
    errors: list[str] = []
    listed = walk(client, "/services")
    assert len(listed) == len(api_refs(client)) > 0
    for service in listed + walk(client, "/services", minimal="true"):
        errors += schema_errors("service_list", service)
    full = walk(client, "/services", full="true")
    assert [s["id"] for s in full] == [s["id"] for s in listed]
    for service in full:
        errors += schema_errors("service", service)
        assert get(client, f"/services/{service['id']}") == service
        ids = list(_ids(service))
        assert len(ids) == len(set(ids)), service["id"]  # no two objects share an id
    for org in walk(client, "/organizations"):
        errors += schema_errors("organization_list", org)
        errors += schema_errors("organization", get(client, f"/organizations/{org['id']}"))
    for org in walk(client, "/organizations", full="true"):
        errors += schema_errors("organization", org)
    sals = walk(client, "/service_at_locations", per_page=200)
    assert sals, "the demo has delivery sites"
    for sal in sals:
        errors += schema_errors("service_at_location_list", sal)
    for sal in walk(client, "/service_at_locations", per_page=50, full="true")[:60]:
        errors += schema_errors("service_at_location", sal)
        assert get(client, f"/service_at_locations/{sal['id']}") == sal
    for location in walk(client, "/locations", per_page=200):
        errors += schema_errors("location", location)
        assert get(client, f"/locations/{location['id']}") == location
    for taxonomy in walk(client, "/taxonomies"):
        errors += schema_errors("taxonomy", taxonomy)
        assert get(client, f"/taxonomies/{taxonomy['id']}") == taxonomy
    for term in walk(client, "/taxonomy_terms"):
        errors += schema_errors("taxonomy_term", term)
        assert get(client, f"/taxonomy_terms/{term['id']}") == term
    assert errors == []
    # what the full objects carry, somewhere in the demo
    assert any(s.get("funding") for s in full)
    assert any(s.get("service_areas") for s in full)
    assert any(s.get("attributes") for s in full)
    assert any(s.get("contacts") for s in full)
    assert any(s.get("service_at_locations") for s in full)


def _ids(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "id" in node:
            yield node["id"]
        for value in node.values():
            yield from _ids(value)
    elif isinstance(node, list):
        for item in node:
            yield from _ids(item)


def test_ids_derive_from_refs_only(demo_app: Flask) -> None:
    """A service's id is the UUID v5 of its ref in the project's namespace (or the ref
    itself, when a UUID): the same on every load of the same data."""
    client = demo_app.test_client()
    refs = api_refs(client)
    assert hsds_services(client) == uuids(refs)
    some = sorted(refs)[0]
    assert service_uuid(some) == str(uuid.uuid5(NAMESPACE, f"service:{some}"))
    assert hsds_id("location", "a", "b") == str(uuid.uuid5(NAMESPACE, 'location:["a", "b"]'))
    # fixed forever: a consumer's stored ids must keep naming the same services
    assert (
        service_uuid("london-victim-and-witness-service") == "1d6348dd-3bbf-59ad-bd46-0d4d4d6707f7"
    )
    given = str(uuid.uuid4())
    assert service_uuid(given) == given


def test_the_funding_says_who_how_much_and_when(demo_app: Flask) -> None:
    """Each live grant of a service is one funding object naming its funder, programme,
    amount, dates and our grant ref."""
    client = demo_app.test_client()
    funded = [
        ours for ref in sorted(api_refs(client))
        if (ours := client.get(f"/api/v1/services/{ref}").json)["grants"]
    ]  # fmt: skip
    assert funded
    ours = max(funded, key=lambda service: len(service["grants"]))
    ref = ours["ref"]
    theirs = get(client, f"/services/{service_uuid(ref)}")
    assert len(theirs["funding"]) == len(ours["grants"]) > 0
    for grant, funding in zip(ours["grants"], theirs["funding"], strict=True):
        source = funding["source"]
        assert grant["ref"] in source and grant["funder"]["name"] in source
        if grant.get("start"):
            assert grant["start"] in source
    codes = {a["code"] for a in ours["coverage"]}
    assert {a.get("extent") or a["name"] for a in theirs["service_areas"]} >= {
        c for c in codes if c.startswith("E")
    }


# -- each parameter filters ---------------------------------------------------------------------
def test_search_filters_as_q(demo_app: Flask) -> None:
    client = demo_app.test_client()
    for words in ("youth", "domestic abuse", "knife"):
        expected = uuids(api_refs(client, q=words))
        assert expected, words
        assert hsds_services(client, search=words) == expected


def test_taxonomy_term_and_taxonomy_filter_by_theme(demo_app: Flask) -> None:
    client = demo_app.test_client()
    terms = walk(client, "/taxonomy_terms")
    themes = {t["id"]: t for t in client.get("/api/v1/themes").json["contents"]}
    assert {t["code"] for t in terms} == set(themes)
    some_theme = set()
    for term in terms:
        expected = api_refs(client, theme=term["code"])
        some_theme |= expected
        assert hsds_services(client, taxonomy_term_id=term["id"]) == uuids(expected)
        # the term's code too (the theme's id): it was "No taxonomy term has the id"
        assert hsds_services(client, taxonomy_term_id=term["code"]) == uuids(expected)
    assert hsds_services(client, taxonomy_id=TAXONOMY_ID) == uuids(some_theme)
    wrong = client.get("/api/v1/hsds/services?taxonomy_term_id=vawgg")
    assert wrong.status_code == 422 and "Did you mean vawg?" in wrong.json["detail"]
    assert uuids(some_theme) < hsds_services(client) or some_theme == api_refs(client)


def test_organization_id_filters_services_and_sites(demo_app: Flask) -> None:
    client = demo_app.test_client()
    orgs = walk(client, "/organizations")
    checked = 0
    for org in orgs[:8]:
        detail = get(client, f"/organizations/{org['id']}")
        org_ref = next(
            i["identifier"] for i in detail["organization_identifiers"]
            if i["identifier_scheme"] == "org-id"
        )  # fmt: skip
        expected = api_refs(client, organisation=org_ref)
        assert hsds_services(client, organization_id=org["id"]) == uuids(expected)
        assert {s["id"] for s in detail["services"]} == uuids(expected)
        sites = walk(client, "/service_at_locations", organization_id=org["id"])
        assert {s["service_id"] for s in sites} <= uuids(expected)
        count = sum(len(client.get(f"/api/v1/services/{r}").json["locations"]) for r in expected)
        assert len(sites) == count
        checked += 1
    assert checked


def test_modified_after_filters_as_updated_since(demo_app: Flask) -> None:
    client = demo_app.test_client()
    listed = walk(client, "/services", minimal="true")
    moments = sorted({s["last_modified"] for s in listed})
    middle = moments[len(moments) // 2]
    expected = uuids(api_refs(client, updated_since=middle))
    assert hsds_services(client, modified_after=middle) == expected
    assert {s["id"] for s in listed if s["last_modified"] >= middle} == expected
    assert hsds_services(client, modified_after="2999-01-01T00:00:00Z") == set()


def test_postcode_and_proximity_filter_by_place(demo_app: Flask) -> None:
    client = demo_app.test_client()
    place = client.get("/api/v1/postcodes/SW2 1RW").json
    ward = place["ward"]["code"]
    by_area = uuids(api_refs(client, area=ward))
    assert by_area
    assert hsds_services(client, postcode="SW2 1RW") == by_area
    near = uuids(api_refs(client, near=f"{place['lat']},{place['lon']}", radius=3000))
    assert near
    assert hsds_services(client, postcode="sw21rw", proximity=3000) == near
    sites = walk(client, "/service_at_locations", postcode="SW2 1RW", proximity=3000)
    assert {s["service_id"] for s in sites} == near
    assert sites
    for site in sites:  # every site listed is itself within the distance
        location = site["location"]
        easting, northing = crs.to_bng(location["longitude"], location["latitude"])
        assert math.hypot(easting - place["easting"], northing - place["northing"]) <= 3000


def test_paging_and_minimal(demo_app: Flask) -> None:
    client = demo_app.test_client()
    everything = walk(client, "/services", per_page=1000)
    in_sevens = walk(client, "/services", per_page=7)
    assert [s["id"] for s in in_sevens] == [s["id"] for s in everything]
    beyond = get(client, "/services", page=10_000, per_page=7)
    assert beyond["empty"] is True and beyond["contents"] == []
    minimal = get(client, "/services", minimal="true", per_page=3)["contents"]
    assert all(set(s) == {"id", "name", "status", "last_modified"} for s in minimal)
    response = client.get(f"{API}/services?per_page=7&page=2")
    assert 'rel="next"' in response.headers["Link"] and 'rel="prev"' in response.headers["Link"]


def test_organization_and_term_search(demo_app: Flask) -> None:
    client = demo_app.test_client()
    orgs = walk(client, "/organizations")
    word = orgs[0]["name"].split()[0]
    found = walk(client, "/organizations", search=word)
    assert found and all(
        word.lower() in f"{o['name']} {o.get('description', '')}".lower() for o in found
    )
    assert {o["id"] for o in found} < {o["id"] for o in orgs} or len(orgs) == 1
    terms = walk(client, "/taxonomy_terms", search="domestic")
    assert [t["code"] for t in terms] == ["domestic-abuse"]
    assert walk(client, "/taxonomy_terms", taxonomy_id=str(uuid.uuid4())) == []


@pytest.mark.parametrize("path", ["/services", "/organizations", "/taxonomy_terms"])
@pytest.mark.parametrize("blank", ["   ", "\n", "\t \r\n"])
def test_a_search_with_nothing_to_search_for_is_refused_on_every_list(
    demo_app: Flask, path: str, blank: str
) -> None:
    """``search`` made only of whitespace is a 422 naming it on every Open Referral list
    that takes it, as on the services' (the organisations' answered every one of them)."""
    response = demo_app.test_client().get(f"{API}{path}", query_string={"search": blank})
    assert response.status_code == 422, response.get_data(as_text=True)[:200]
    assert response.mimetype == "application/problem+json"
    assert "search" in response.get_json()["errors"]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({"search": "   "}, 422, "invalid-input"),
        ({"taxonomy_term_id": "nope"}, 422, "invalid-input"),
        ({"taxonomy_id": "nope"}, 422, "invalid-input"),
        ({"organization_id": str(uuid.UUID(int=1))}, 404, "organisation-not-found"),
        ({"modified_after": "yesterday"}, 422, "invalid-input"),
        ({"proximity": "500"}, 422, "invalid-input"),
        ({"postcode": "SW2 1RW", "proximity": "-3"}, 422, "invalid-input"),
        ({"postcode": "not a postcode"}, 422, "invalid-postcode"),
        ({"minimal": "true", "full": "true"}, 422, "invalid-input"),
        ({"per_page": "0"}, 422, "invalid-input"),
        ({"colour": "red"}, 400, "unknown-parameter"),
    ],
)
def test_bad_input_is_a_problem(
    demo_app: Flask, query: dict[str, str], status: int, code: str
) -> None:
    response = demo_app.test_client().get(f"{API}/services", query_string=query)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code


@pytest.mark.parametrize(
    "path",
    ["/services/", "/organizations/", "/locations/", "/service_at_locations/", "/taxonomies/",
     "/taxonomy_terms/"],
)  # fmt: skip
def test_an_unknown_id_is_a_404_problem(demo_app: Flask, path: str) -> None:
    response = demo_app.test_client().get(f"{API}{path}{uuid.UUID(int=7)}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_answers_are_cached_and_conditional(demo_app: Flask) -> None:
    client = demo_app.test_client()
    first = client.get(f"{API}/services?per_page=5")
    assert first.headers["ETag"] and first.headers["Access-Control-Allow-Origin"] == "*"
    again = client.get(
        f"{API}/services?per_page=5", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


# -- round trip ----------------------------------------------------------------------------------
SERVICE_KEYS = (
    "name", "description", "status", "min_age", "max_age", "eligibility", "referral", "email",
    "phone", "website", "last_verified", "themes", "coverage",
)  # fmt: skip
LOCATION_KEYS = ("name", "address", "postcode", "lat", "lon", "borough_code", "ward_code")
ORGANISATION_KEYS = (
    "name", "description", "website", "email", "charity_number", "company_number", "type",
)  # fmt: skip


def _states(app: Flask) -> tuple[dict[str, Any], dict[str, Any]]:
    with app.extensions["directory"].db.session() as session:
        repo = DirectoryRepository(session)
        return repo.service_states(), repo.organisation_states()


def _comparable(app: Flask, *, translate: bool) -> dict[str, Any]:
    """The listed services by HSDS id, with their organisation and sites, as compared."""
    services, orgs = _states(app)
    out = {}
    for ref, s in services.items():
        if s["withdrawn_at"] is not None:
            continue
        org = orgs[s["organisation"]]
        out[service_uuid(ref) if translate else ref] = {
            **{k: s[k] for k in SERVICE_KEYS},
            "organisation": {k: org[k] or None for k in ORGANISATION_KEYS},
            "locations": sorted(
                (tuple(loc[k] for k in LOCATION_KEYS) for loc in s["locations"]), key=repr
            ),
        }
    return out


def test_an_export_reimports_with_nothing_lost(
    demo_app: Flask, writable_settings: Any, tmp_path: Path
) -> None:
    client = demo_app.test_client()
    exported = walk(client, "/services", per_page=100, full="true")
    some = sorted(api_refs(client))[0]  # services from other sources keep no HSDS extras
    assert client.get(f"/api/v1/services/{some}").json["hsds_extras"] is None
    path = tmp_path / "hsds.json"
    path.write_text(json.dumps(exported), "utf-8")
    empty = create_app(writable_settings)
    try:
        result = empty.test_cli_runner().invoke(
            cli, ["import", str(path), "--format", "hsds", "--source", "hsds-export"]
        )
        assert result.exit_code == 0, result.output[-3000:]
        before, after = _comparable(demo_app, translate=True), _comparable(empty, translate=False)
        assert set(after) == set(before)
        for key, service in before.items():
            assert after[key] == service, key
        # and the re-import answers the same HSDS services: ids kept (they are UUIDs now),
        # grants and patch contacts kept as the funding and contacts read
        again = walk(empty.test_client(), "/services", per_page=100, full="true")
        assert [_as_sent(s) for s in again] == [_as_sent(s) for s in exported]
    finally:
        empty.extensions["directory"].db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_its_own_export_read_back_is_the_records_it_holds(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    """This directory's own export imported back, under another source: the services,
    organisations and sites it lists are those held (their ids were made from our refs),
    not copies of them under the same ids (which then answered twice in the lists)."""
    app = create_app(demo_copy(request, backend, tmp_path))
    try:
        client = app.test_client()
        exported = walk(client, "/services", per_page=100, full="true")
        refs = api_refs(client)
        path = tmp_path / "ours.json"
        path.write_text(json.dumps(exported), "utf-8")
        result = app.test_cli_runner().invoke(
            cli, ["import", str(path), "--format", "hsds", "--source", "another", "--take-over",
                  "--json"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output[-3000:]
        report = json.loads(result.stdout)
        counts = report["counts"]
        assert counts["services"]["created"] == counts["organisations"]["created"] == 0
        # nothing of ours refused or cut short (an org-id of 42 characters, ours, was "cut
        # to 40", as a charity number is), only the records' new source told
        told = [p["message"] for p in report["problems"]]
        assert told and all(" moved from source " in message for message in told), told
        assert counts["services"]["moved"] == len(exported)
        assert api_refs(client) == refs
        # the funding and contacts the export made from grants and patch contacts are not
        # kept as copies (which would outlive them): the services keep no extras
        assert all(
            client.get(f"/api/v1/services/{ref}").json["hsds_extras"] is None for ref in refs
        )
        again = walk(client, "/services", per_page=100, full="true")

        def ids(services: list[Any]) -> dict[str, list[str]]:
            sites = [s["service_at_locations"] for s in services]
            return {
                "services": sorted(s["id"] for s in services),
                "names": sorted(f"{s['id']} {s['name']}" for s in services),
                "organisations": sorted({s["organization"]["id"] for s in services}),
                "sites": sorted(link["location"]["id"] for links in sites for link in links),
            }

        assert ids(again) == ids(exported)
        listed = walk(client, "/organizations", per_page=100)
        assert len({o["id"] for o in listed}) == len(listed)
    finally:
        app.extensions["directory"].db.dispose()


def _as_sent(service: dict[str, Any]) -> dict[str, Any]:
    """A full service less what an import cannot keep: the time of our last change, and
    our own refs of the organisation (its org-id) and of each site (its
    external_identifier): the imported records' refs are their HSDS ids."""
    org = service["organization"]
    identifiers = [i for i in org["organization_identifiers"] if i["identifier_scheme"] != "org-id"]
    sites = []
    for site in service["service_at_locations"]:
        location = {k: v for k, v in site["location"].items() if k != "external_identifier"}
        sites.append({**site, "location": location})
    return {
        **{k: v for k, v in service.items() if k != "last_modified"},
        "organization": {**org, "organization_identifiers": identifiers},
        "service_at_locations": sites,
    }


def _example_service() -> dict[str, Any]:
    """The standard's full service example, placed in Lambeth (its own areas and site are
    in an imaginary city)."""
    service = _load(HSDS / "examples" / "service_full.json")
    service["service_areas"] = [{"id": str(uuid.UUID(int=99)), "name": "Lambeth"}]
    service["service_at_locations"] = []
    return service


KEPT_LISTS = ("schedules", "languages", "cost_options", "required_documents", "funding")
KEPT_TEXTS = (
    "alternate_name", "fees", "fees_description", "accreditations", "alert", "wait_time",
    "interpretation_services", "licenses", "application_process",
)  # fmt: skip


def test_the_importer_keeps_what_it_read(writable_app: Flask, tmp_path: Path) -> None:
    """Schedules, languages, cost options, required documents, funding, contacts and the
    text members with no column of ours are kept (service.hsds_extras, migration 0008) and
    served back: in the HSDS service, valid, and in /api/v1/services/{id}."""
    example = _example_service()
    path = tmp_path / "example.json"
    path.write_text(json.dumps([example]), "utf-8")
    result = writable_app.test_cli_runner().invoke(
        cli, ["import", str(path), "--format", "hsds", "--source", "example"]
    )
    assert result.exit_code == 0, result.output[-3000:]
    client = writable_app.test_client()
    served = get(client, f"/services/{example['id']}")
    assert schema_errors("service", served) == []
    for key in KEPT_LISTS + KEPT_TEXTS:
        assert served[key] == example[key], key
    assert [c["id"] for c in served["contacts"]] == [c["id"] for c in example["contacts"]]
    for theirs, ours in zip(example["contacts"], served["contacts"], strict=True):
        for key in ("name", "title", "department", "email"):
            assert ours[key] == theirs[key]
        assert [p["number"] for p in ours["phones"]] == [p["number"] for p in theirs["phones"]]
    own = client.get(f"/api/v1/services/{example['id']}").json
    assert own["hsds_extras"]["schedules"] == example["schedules"]
    assert own["eligibility"]["who_can_refer"] == example["application_process"]


# -- a generated directory -----------------------------------------------------------------------
def _make_directory() -> Any:
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "scripts" / "make_directory.py"
    spec = importlib.util.spec_from_file_location("make_directory", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_generated_directory_validates_and_round_trips(
    request: pytest.FixtureRequest, writable_app: Flask, tmp_path: Path, shared_data_dir: Path
) -> None:
    """300 generated services (coverage by ward, borough, BCU and London; sites with
    addresses): zero schema errors; their export imported into another directory (as new
    services, their HSDS ids as refs) gives the same services; and read back here, it is
    the services held (nothing created)."""
    generated = _make_directory().generate(300, 11, shared_data_dir)
    path = tmp_path / "generated.csv"
    write_table(path, list(HEADINGS), generated, format="csv")
    result = writable_app.test_cli_runner().invoke(
        cli, ["import", str(path), "--source", "generated"]
    )
    assert result.exit_code == 0, result.output[-3000:]
    client = writable_app.test_client()
    errors: list[str] = []
    full = walk(client, "/services", per_page=100, full="true")
    assert len(full) == len(api_refs(client)) > 200
    for service in full:
        errors += schema_errors("service", service)
    for service in walk(client, "/services", per_page=300):
        errors += schema_errors("service_list", service)
    for org in walk(client, "/organizations", per_page=300, full="true"):
        errors += schema_errors("organization", org)
    for sal in walk(client, "/service_at_locations", per_page=300, full="true"):
        errors += schema_errors("service_at_location", sal)
    assert errors == []

    exported = tmp_path / "hsds.json"
    exported.write_text(json.dumps(full), "utf-8")
    original = _comparable(writable_app, translate=True)
    assert any(s["coverage"] and s["coverage"][0].startswith("bcu-") for s in original.values())
    (tmp_path / "other").mkdir()
    backend = (
        "postgres"
        if writable_app.extensions["directory"].db.engine.dialect.name == "postgresql"
        else "sqlite"
    )
    other = create_app(geography_copy(request, backend, tmp_path / "other"))
    try:
        result = other.test_cli_runner().invoke(
            cli, ["import", str(exported), "--format", "hsds", "--source", "hsds-export"]
        )
        assert result.exit_code == 0, result.output[-3000:]
        imported = _comparable(other, translate=False)
        assert all(map(_is_uuid, imported)) and len(imported) == len(full)
        for key, service in original.items():
            assert imported[key] == service, key
    finally:
        other.extensions["directory"].db.dispose()
    result = writable_app.test_cli_runner().invoke(
        cli, ["import", str(exported), "--format", "hsds", "--source", "hsds-export", "--take-over",
              "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output[-3000:]
    assert json.loads(result.stdout)["counts"]["services"]["created"] == 0
    assert _comparable(writable_app, translate=True) == original


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def test_organizations_are_searched_by_the_words_of_their_names(
    writable_app: Flask, tmp_path: Path
) -> None:
    """``/hsds/organizations?search=`` compares as ``/organisations?q=`` does: each word starts a
    word of the name, case, accents and punctuation aside ("soren" finds "CAFÉ SØREN
    TRUST", whose lower() SQLite could not fold), or is in the description; "ham" does not
    find "Lewisham"; a search with no words ("&", "ʼ") finds none."""
    from tests.directory.test_search import import_file, template_csv

    entries = [
        dict(ref="A", name="Drop-in", themes="Mentoring", org="CAFÉ SØREN TRUST", coverage="Camden"),
        dict(ref="B", name="Club", themes="Mentoring", org="Lewisham Youth Club", coverage="Lewisham"),
        dict(ref="C", name="Help", themes="Mentoring", org="Москва центр", coverage="Camden"),
    ]  # fmt: skip
    import_file(writable_app, template_csv(tmp_path / "orgs.csv", entries))
    client = writable_app.test_client()

    def names(search: str) -> set[str]:
        response = client.get(f"/api/v1/hsds/organizations?search={search}")
        assert response.status_code == 200, response.json
        return {o["name"] for o in response.json["contents"]}

    for search in ("soren", "caf%C3%A9%20s%C3%B8ren", "CAFE%20trust"):
        assert names(search) == {"CAFÉ SØREN TRUST"}, search
    assert names("lewisham%20youth") == {"Lewisham Youth Club"}
    assert names("%D0%BC%D0%BE%D1%81%D0%BA%D0%B2%D0%B0") == {"Москва центр"}
    assert names("ham") == set() and names("%26") == set() and names("%CA%BC") == set()
    # -word leaves out what has it, as /services?q= reads it (it found it before)
    everyone = {"CAFÉ SØREN TRUST", "Lewisham Youth Club", "Москва центр"}
    assert names("-lewisham") == everyone - {"Lewisham Youth Club"}
    assert names("trust%20-soren") == set() and names("-trust%20-club") == {"Москва центр"}


def test_a_service_without_an_assured_date_keeps_its_last_verified(
    writable_app: Flask, tmp_path: Path
) -> None:
    """HSDS's assured_date is when a service was last verified; last_modified is when its
    record changed, no check: a never-verified service read back from our own export (which
    leaves the member out) stays never verified, and one whose file has no assured_date
    keeps the date held (both became verified the day their record last changed)."""
    from tests.directory.test_import import HEADER, OXYGEN, RESCUE

    sheet = tmp_path / "services.csv"
    sheet.write_text(HEADER + OXYGEN + RESCUE.replace(",44287,", ",,"), "utf-8")
    runner = writable_app.test_cli_runner()
    assert runner.invoke(cli, ["import", str(sheet), "--source", "hsds"]).exit_code == 0
    client = writable_app.test_client()
    never = get(client, f"/services/{service_uuid('SL-RR-01')}")
    assert "assured_date" not in never
    verified = get(client, f"/services/{service_uuid('OXY-KT-01')}")
    assert verified.pop("assured_date") == "2026-09-01"
    path = tmp_path / "hsds.json"
    path.write_text(json.dumps([never, verified]), "utf-8")
    result = runner.invoke(cli, ["import", str(path), "--format", "hsds", "--source", "hsds"])
    assert result.exit_code == 0, result.output
    rescue = client.get("/api/v1/services/SL-RR-01").json
    assert (rescue["last_verified"], rescue["stale"]) == (None, True)
    assert client.get("/api/v1/services/OXY-KT-01").json["last_verified"] == "2026-09-01"
