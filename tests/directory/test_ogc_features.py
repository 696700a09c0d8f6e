"""OGC API – Features (Part 1: Core, GeoJSON) at /api/v1/ogc, proven by real clients on the
demo directory served by ``directory serve`` (gunicorn, a child process: pyogrio holds the
GIL while GDAL pages, so an in-process server would never answer), on both databases:

- GDAL's OAPIF driver (through pyogrio) lists the collections and reads every feature of each
  layer, following the ``next`` links page by page; a ``bbox`` read gives what our own
  ``numberMatched`` says, and that is what an independent test of the geometries gives;
- OWSLib's ``Features`` client reads the landing page, conformance, collections, pages of
  items and single features;
- every query parameter filters as the same question asked of our own API (or the database)
  answers; invalid values are 400 problems as Part 1 requires, unknown collections and
  features 404 problems.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyogrio
import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from owslib.ogcapi.features import Features
from shapely.geometry import box as shapely_box
from shapely.geometry import shape
from sqlalchemy import select

from directory import create_app
from directory.errors import InvalidParameterError
from directory.store.models import Grant, GrantService, Location, Service
from directory.usecases.features import CONFORMANCE, MAX_LIMIT, parse_datetime
from tests.conftest import demo_copy
from tests.servers import get, serve, settings_env

OGC = "/api/v1/ogc"
COLLECTIONS = ("sites", "services", "boroughs", "wards", "bcus")
#: small pages, so that every layer is read over several (GDAL's PAGE_SIZE open option)
PAGE_SIZES = {"sites": 5, "services": 10, "boroughs": 10, "wards": 200, "bcus": 5}
#: (min lon, min lat, max lon, max lat): Westminster and Lambeth; Kingston; a box half
#: outside London (Dartford); a box nowhere near London
BOXES = (
    (-0.16, 51.48, -0.10, 51.52),
    (-0.32, 51.38, -0.27, 51.42),
    (0.15, 51.40, 0.40, 51.50),
    (-3.0, 53.0, -2.0, 54.0),
)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Flask]]:
    tmp = tmp_path_factory.mktemp("ogc")
    settings = demo_copy(request, request.param, tmp)
    app = create_app(settings)
    with serve(settings_env(settings), tmp / "serve.log", workers=2) as base:
        yield base, app
    app.extensions["directory"].db.dispose()


def _client(served: tuple[str, Flask]) -> FlaskClient:
    return served[1].test_client()


def _get(client: FlaskClient, url: str, **query: Any) -> dict[str, Any]:
    answer = client.get(url, query_string=query or None)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return answer.get_json()


def _walk(client: FlaskClient, collection: str, **query: Any) -> tuple[list[dict], int]:
    """Every feature of the collection, following our own next links; and numberMatched."""
    page = _get(client, f"{OGC}/collections/{collection}/items", **query)
    features, matched = list(page["features"]), page["numberMatched"]
    while (nxt := next((lk for lk in page["links"] if lk["rel"] == "next"), None)) is not None:
        parts = urlsplit(nxt["href"])
        page = _get(client, f"{parts.path}?{parts.query}")
        assert page["numberMatched"] == matched
        features += page["features"]
    assert len(features) == matched
    return features, matched


def _all_services(client: FlaskClient, **query: Any) -> list[dict[str, Any]]:
    out, page = [], 1
    while True:
        body = _get(client, "/api/v1/services", per_page=100, page=page, **query)
        out += body["contents"]
        if page >= body["total_pages"]:
            return out
        page += 1


def _layer(client: FlaskClient, area_type: str) -> dict[str, Any]:
    """Our own boundary layer (WGS84 GeoJSON geometries by code): the independent check."""
    body = _get(client, "/api/v1/areas", type=area_type, format="geojson")
    return {f["id"]: shape(f["geometry"]) for f in body["features"]}


# -- real clients ----------------------------------------------------------------------------
def test_gdal_lists_the_collections_and_reads_every_feature_page_by_page(
    served: tuple[str, Flask],
) -> None:
    base, _ = served
    client = _client(served)
    source = f"OAPIF:{base}{OGC}"
    assert [name for name, _ in pyogrio.list_layers(source)] == list(COLLECTIONS)
    for collection in COLLECTIONS:
        ours, matched = _walk(client, collection, limit=100)
        frame = pyogrio.read_dataframe(
            source, layer=collection, PAGE_SIZE=str(PAGE_SIZES[collection])
        )
        assert len(frame) == matched > 0, collection
        assert frame.crs.to_epsg() == 4326
        assert frame.geometry.is_valid.all(), collection
        if collection in ("boroughs", "wards", "bcus"):
            assert sorted(frame["code"]) == sorted(f["id"] for f in ours)
        elif collection == "sites":
            assert sorted(frame["service_id"]) == sorted(
                f["properties"]["service_id"] for f in ours
            )
        else:
            assert sorted(frame["ref"]) == sorted(f["properties"]["ref"] for f in ours)
    # the layers are the areas the API lists, all of them
    wards = _get(client, "/api/v1/areas", type="ward", per_page=1)["total_items"]
    assert _get(client, f"{OGC}/collections/wards/items", limit=1)["numberMatched"] == wards


def test_a_gdal_bbox_read_matches_our_count_and_the_geometries(
    served: tuple[str, Flask],
) -> None:
    base, app = served
    client = _client(served)
    source = f"OAPIF:{base}{OGC}"
    layers = {t: _layer(client, t) for t in ("region", "bcu", "borough", "ward")}
    with app.extensions["directory"].db.engine.connect() as connection:
        sites = connection.execute(
            select(Location.id, Location.lon, Location.lat)
            .join(Service, Service.id == Location.service_id)
            .where(Service.withdrawn_at.is_(None), Location.lon.is_not(None))
        ).all()
    coverage = {s["ref"]: [a["code"] for a in s["coverage"]] for s in _all_services(client)}
    seen_some = False
    for bbox in BOXES:
        text = ",".join(map(str, bbox))
        area = shapely_box(*bbox)
        inner, outer = area.buffer(-1e-4), area.buffer(1e-4)  # ~10 m: edges may round either way
        for collection in COLLECTIONS:
            matched = _get(client, f"{OGC}/collections/{collection}/items", bbox=text, limit=1)[
                "numberMatched"
            ]
            frame = pyogrio.read_dataframe(source, layer=collection, bbox=bbox)
            assert len(frame) == matched, (collection, bbox)
            ours = {f["id"] for f in _walk(client, collection, bbox=text, limit=1000)[0]}
            if collection == "sites":
                expected = {
                    s.id for s in sites
                    if bbox[0] <= s.lon <= bbox[2] and bbox[1] <= s.lat <= bbox[3]
                }  # fmt: skip
                assert ours == expected
            elif collection == "services":
                by_id = {
                    f["id"]: f["properties"]["ref"]
                    for f in _walk(client, collection, limit=1000)[0]
                }
                everything = {code: g for layer in layers.values() for code, g in layer.items()}
                refs = {by_id[i] for i in ours}
                for ref, codes in coverage.items():
                    geometries = [everything[c] for c in codes if c in everything]
                    if any(g.intersects(inner) for g in geometries):
                        assert ref in refs, (ref, bbox)
                    if not any(g.intersects(outer) for g in geometries):
                        assert ref not in refs, (ref, bbox)
            else:
                layer = layers[{"boroughs": "borough", "wards": "ward", "bcus": "bcu"}[collection]]
                assert {c for c, g in layer.items() if g.intersects(inner)} <= ours
                assert ours <= {c for c, g in layer.items() if g.intersects(outer)}
            seen_some = seen_some or matched > 0
        if bbox == BOXES[-1]:  # nowhere near London: nothing, not an error
            assert all(
                _get(client, f"{OGC}/collections/{c}/items", bbox=text)["numberMatched"] == 0
                for c in COLLECTIONS
            )
    assert seen_some


def test_owslib_reads_the_landing_collections_and_pages_of_items(
    served: tuple[str, Flask],
) -> None:
    base, _ = served
    client = _client(served)
    api = Features(f"{base}{OGC}")
    assert {link["rel"] for link in api.links} >= {"service-desc", "conformance", "data"}
    assert set(api.conformance()["conformsTo"]) == set(CONFORMANCE)
    assert [c["id"] for c in api.collections()["collections"]] == list(COLLECTIONS)
    assert api.collection("wards")["itemType"] == "feature"
    # page through the boroughs with limit/offset as a client does
    codes: list[str] = []
    offset = 0
    while True:
        page = api.collection_items("boroughs", limit=7, offset=offset)
        codes += [f["id"] for f in page["features"]]
        offset += page["numberReturned"]
        if offset >= page["numberMatched"]:
            break
    assert len(codes) == len(set(codes)) == 33
    assert codes == [f["id"] for f in _walk(client, "boroughs", limit=100)[0]]
    # a bbox through OWSLib, and one feature of each collection
    text = ",".join(map(str, BOXES[0]))
    near = api.collection_items("sites", bbox=list(BOXES[0]), limit=100)
    assert (
        near["numberMatched"]
        == _get(client, f"{OGC}/collections/sites/items", bbox=text)["numberMatched"]
    )
    for collection in COLLECTIONS:
        first = _get(client, f"{OGC}/collections/{collection}/items", limit=1)["features"][0]
        feature = api.collection_item(collection, str(first["id"]))
        assert feature["id"] == first["id"]
        # the same properties (URLs are built on the host asked: the server's, the client's)
        unhosted = (
            {k: v for k, v in f["properties"].items() if k != "url"} for f in (feature, first)
        )
        assert next(unhosted) == next(unhosted)
        assert {link["rel"] for link in feature["links"]} == {"self", "collection"}


# -- the standard's documents -------------------------------------------------------------------
def test_the_landing_page_links_the_api_definition_conformance_and_data(
    served: tuple[str, Flask],
) -> None:
    base, _ = served
    client = _client(served)
    status, headers, body = get(base, f"{OGC}/")  # with the slash too (OAPIF:…/ogc/ works)
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == json.loads(get(base, OGC)[2])
    links = {link["rel"]: link for link in client.get(OGC).get_json()["links"]}
    definition = client.get(urlsplit(links["service-desc"]["href"]).path).get_json()
    assert links["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert definition["openapi"].startswith("3.0")
    for path in ("", "/conformance", "/collections", "/collections/{collection_id}/items"):
        assert (
            f"{OGC}/{path.lstrip('/')}" in definition["paths"]
            or f"{OGC}{path}" in definition["paths"]
        )
    assert client.get(urlsplit(links["conformance"]["href"]).path).get_json() == {
        "conformsTo": list(CONFORMANCE)
    }
    collections = client.get(urlsplit(links["data"]["href"]).path).get_json()
    for c in collections["collections"]:
        items = next(link for link in c["links"] if link["rel"] == "items")
        assert items["type"] == "application/geo+json"
        ((minx, miny, maxx, maxy),) = c["extent"]["spatial"]["bbox"]
        assert -0.6 < minx < maxx < 0.4 and 51.2 < miny < maxy < 51.8
        # the extent holds London: every borough's own bbox (each holds its boundary)
        boroughs = client.get("/api/v1/areas?type=borough&per_page=100").get_json()["contents"]
        for b in boroughs:
            b0, b1, b2, b3 = b["bbox"]
            assert minx <= b0 and miny <= b1 and b2 <= maxx and b3 <= maxy, b["code"]
    # HTML as the standard's landing page offers it: by f=html or by Accept
    for answer in (
        client.get(OGC, query_string={"f": "html"}),
        client.get(f"{OGC}/collections", headers={"Accept": "text/html"}),
    ):
        assert answer.status_code == 200 and answer.mimetype == "text/html"
        assert "/api/v1/ogc/collections" in answer.get_data(as_text=True)


# -- parameters ---------------------------------------------------------------------------------
def test_each_document_served_as_html_too_links_its_alternate(served: tuple[str, Flask]) -> None:
    """/req/core/fc-md-links: the collections and each collection, offered as HTML too, link
    it as rel=alternate (the landing page did; these did not). Items are GeoJSON only."""
    client = _client(served)
    documents = {
        f"{OGC}/collections": client.get(f"{OGC}/collections").get_json(),
        **{f"{OGC}/collections/{c}": client.get(f"{OGC}/collections/{c}").get_json()
           for c in COLLECTIONS},
    }  # fmt: skip
    nested = documents[f"{OGC}/collections"]["collections"]
    assert [c["links"] for c in nested] == [documents[f"{OGC}/collections/{c}"]["links"]
                                            for c in COLLECTIONS]  # fmt: skip
    for path, document in documents.items():
        alternates = [link for link in document["links"] if link["rel"] == "alternate"]
        assert [link["type"] for link in alternates] == ["text/html"], path
        href = urlsplit(alternates[0]["href"])
        page = client.get(href.path, query_string=href.query)
        assert page.status_code == 200 and page.mimetype == "text/html", path


def test_the_collections_page_links_each_collections_items(served: tuple[str, Flask]) -> None:
    """Each collection's "Items (GeoJSON)" link on the HTML page goes to its items (it went
    to the collection's HTML page: the link was taken by its place in the list, not rel)."""
    client = _client(served)
    page = client.get(f"{OGC}/collections", query_string={"f": "html"}).get_data(as_text=True)
    hrefs = re.findall(r'<a href="([^"]+)"[^>]*>Items \(GeoJSON\)</a>', page)
    assert [urlsplit(h).path for h in hrefs] == [
        f"{OGC}/collections/{c}/items" for c in COLLECTIONS
    ]
    for href in hrefs:
        answer = client.get(urlsplit(href).path, query_string=urlsplit(href).query)
        assert answer.status_code == 200 and answer.mimetype == "application/geo+json", href


@pytest.mark.parametrize("collection", ["boroughs", "wards", "bcus"])
@pytest.mark.parametrize("when", ["2026-04-01", "2026-04-01T12:00:00Z", "../2026-04-01"])
def test_datetime_on_an_area_collection_selects_every_area(
    served: tuple[str, Flask], collection: str, when: str
) -> None:
    """Part 1's items operation shall take datetime (/req/core/fc-time-definition); an area
    has no time, so a valid one selects them all (it was a 400)."""
    client = _client(served)
    every = _get(client, f"{OGC}/collections/{collection}/items", limit=1)
    dated = _get(client, f"{OGC}/collections/{collection}/items", limit=1, datetime=when)
    assert dated["numberMatched"] == every["numberMatched"] > 0
    assert dated["features"] == every["features"]


def test_property_filters_and_datetime_select_what_our_own_api_selects(
    served: tuple[str, Flask],
) -> None:
    _, app = served
    client = _client(served)
    services = _all_services(client)
    theme = max(
        {t for s in services for t in s["themes"]},
        key=lambda t: sum(t in s["themes"] for s in services),
    )
    organisation = services[0]["organisation"]["ref"]
    # the day most services have a live grant (the demo's real decisions end in various years)
    day = max(
        (f"{year}-06-01" for year in range(2012, 2027)),
        key=lambda d: _get(client, "/api/v1/services", live_on=d, per_page=1)["total_items"],
    )
    for query, ours in (
        ({"theme": theme}, {"theme": theme}),
        ({"programme": "lcpf-direct"}, {"programme": "lcpf-direct"}),
        ({"organisation": organisation}, {"organisation": organisation}),
        ({"datetime": day}, {"live_on": day}),
        ({"datetime": f"{day}T12:00:00Z"}, {"live_on": day}),
    ):
        expected = {s["ref"] for s in _all_services(client, **ours)}
        got = {f["properties"]["ref"] for f in _walk(client, "services", limit=50, **query)[0]}
        assert got == expected and got, query
        sites = {f["properties"]["service_ref"] for f in _walk(client, "sites", **query)[0]}
        assert sites <= expected
    # an interval: a grant live at some time in it (checked against the grants themselves)
    first, last = date(2019, 4, 1), date(2019, 9, 30)
    with app.extensions["directory"].db.engine.connect() as connection:
        live = set(
            connection.scalars(
                select(Service.ref)
                .join(GrantService, GrantService.service_id == Service.id)
                .join(Grant, Grant.id == GrantService.grant_id)
                .where(
                    Service.withdrawn_at.is_(None), Grant.withdrawn_at.is_(None),
                    (Grant.start.is_(None)) | (Grant.start <= last),
                    (Grant.end.is_(None)) | (Grant.end >= first),
                )
            )
        )  # fmt: skip
    for text in (f"{first}/{last}", f"{first}T00:00:00Z/{last}T23:59:59+01:00"):
        got = {
            f["properties"]["ref"] for f in _walk(client, "services", limit=50, datetime=text)[0]
        }
        assert got == live and got != {s["ref"] for s in services}
    opened = {
        f["properties"]["ref"]
        for f in _walk(client, "services", limit=50, datetime="../2012-01-01")[0]
    }
    assert opened < {s["ref"] for s in services}
    # a box over all London (QGIS zoomed out): every service with coverage, every site
    london = "-0.6,51.2,0.4,51.8"
    got = {f["properties"]["ref"] for f in _walk(client, "services", limit=1000, bbox=london)[0]}
    assert got == {s["ref"] for s in services if s["coverage"]} and got
    assert _walk(client, "sites", bbox=london)[1] == _walk(client, "sites")[1] > 0
    # an unknown theme or organisation is a 400 naming it, never an empty page
    for query in ({"theme": "no-such-theme"}, {"organisation": "org:nobody"}):
        answer = client.get(f"{OGC}/collections/services/items", query_string=query)
        assert answer.status_code == 400 and next(iter(query)) in answer.get_json()["errors"]
    # parent: a borough's wards are the children the areas API lists
    westminster = _get(client, "/api/v1/areas/E09000033")
    wards = {f["id"] for f in _walk(client, "wards", parent="E09000033", limit=100)[0]}
    assert wards == {c["code"] for c in westminster["children"]} and wards


@pytest.mark.parametrize(
    ("collection", "area_type", "parent"),
    [
        ("boroughs", "borough", "E12000007"),  # London: all 33 (was the City alone)
        ("wards", "ward", "E12000007"),
        ("bcus", "bcu", "E12000007"),
        ("wards", "ward", "bcu-central-west"),  # a BCU's wards (was a 400)
        ("boroughs", "borough", "bcu-central-west"),
        ("wards", "ward", "E09000022"),  # a borough's
        ("wards", "ward", "Lambeth"),  # by name, in both
    ],
)
def test_parent_selects_what_the_areas_api_selects(
    served: tuple[str, Flask], collection: str, area_type: str, parent: str
) -> None:
    """``parent`` means what ``/areas?parent=`` means: the areas inside it at any level."""
    client = _client(served)
    listed = _get(client, "/api/v1/areas", type=area_type, parent=parent, per_page=1000)["contents"]
    features, matched = _walk(client, collection, parent=parent, limit=1000)
    assert {f["id"] for f in features} == {a["code"] for a in listed}
    assert matched == len(listed) > 0


def test_a_services_coverage_is_its_boroughs_simplified_with_their_layer(
    served: tuple[str, Flask],
) -> None:
    """A coverage is the union of its areas simplified with their layer, as the boundary
    collections simplify them: a one-borough service's geometry is the borough's feature,
    and neighbouring services share their edges. (Each union simplified on its own, the
    32 one-borough services overlapped in 55 pairs and left 164 gaps.)"""
    client = _client(served)
    features = _get(client, f"{OGC}/collections/services/items", limit=1000)["features"]
    one_borough = {
        f["properties"]["coverage"][0]: shape(f["geometry"])
        for f in features
        if len(f["properties"]["coverage"]) == 1
        and f["properties"]["coverage"][0].startswith("E09")
    }
    assert len(one_borough) >= 30
    boroughs = _get(client, f"{OGC}/collections/boroughs/items", limit=100, simplify=20)
    layer = {f["id"]: shape(f["geometry"]) for f in boroughs["features"]}
    unequal = [code for code, geometry in one_borough.items() if not geometry.equals(layer[code])]
    assert unequal == []
    polygons = list(one_borough.values())
    tree = shapely.STRtree(polygons)
    overlap = sum(
        shapely.intersection(polygon, polygons[j]).area
        for i, polygon in enumerate(polygons)
        for j in tree.query(polygon, predicate="intersects")
        if j > i
    )
    assert overlap < 1e-10  # (square degrees: under a square metre)


def test_limit_offset_and_the_links(served: tuple[str, Flask]) -> None:
    client = _client(served)
    whole, matched = _walk(client, "wards", limit=1000)
    paged, _ = _walk(client, "wards", limit=97)
    assert [f["id"] for f in paged] == [f["id"] for f in whole]
    big = _get(client, f"{OGC}/collections/wards/items", limit=MAX_LIMIT * 10, simplify=1000)
    assert big["numberReturned"] == matched <= MAX_LIMIT  # above the maximum: the maximum
    page = _get(client, f"{OGC}/collections/wards/items", limit=10, offset=20)
    rels = {link["rel"]: link["href"] for link in page["links"]}
    assert "offset=10" in rels["prev"] and "offset=30" in rels["next"]
    assert [f["id"] for f in page["features"]] == [f["id"] for f in whole[20:30]]
    last = _get(client, f"{OGC}/collections/wards/items", limit=10, offset=matched - 3)
    assert last["numberReturned"] == 3 and "next" not in {lk["rel"] for lk in last["links"]}
    beyond = _get(client, f"{OGC}/collections/wards/items", offset=matched + 5)
    assert beyond["numberReturned"] == 0 and beyond["numberMatched"] == matched
    # the same prev and next as an RFC 8288 Link header, as every other paged list sends
    response = client.get(f"{OGC}/collections/wards/items?limit=10&offset=20")
    assert response.headers["Link"] == (
        f'<{rels["prev"]}>; rel="prev", <{rels["next"]}>; rel="next"'
    )
    one = client.get(f"{OGC}/collections/bcus/items", query_string={"limit": 100})
    assert "Link" not in one.headers  # one page: neither
    # a simplified page is smaller, and still valid
    exact = client.get(f"{OGC}/collections/boroughs/items", query_string={"limit": 33})
    rough = client.get(
        f"{OGC}/collections/boroughs/items", query_string={"limit": 33, "simplify": 200}
    )
    assert len(rough.data) < len(exact.data) / 4
    assert all(shapely.is_valid(shape(f["geometry"])) for f in rough.get_json()["features"])
    assert rough.mimetype == "application/geo+json"


@pytest.mark.parametrize(
    ("path", "query", "parameter"),
    [
        ("sites/items", {"limit": "0"}, "limit"),
        ("sites/items", {"limit": "ten"}, "limit"),
        ("sites/items", {"offset": "-1"}, "offset"),
        ("sites/items", {"bbox": "1,2,3"}, "bbox"),
        ("sites/items", {"bbox": "a,b,c,d"}, "bbox"),
        ("sites/items", {"bbox": "-0.2,51.4,0,51.5,0,10"}, "bbox"),
        ("sites/items", {"bbox": "-0.2,51.5,0,51.4"}, "bbox"),
        ("sites/items", {"bbox": "-0.2,51.4,0,nan"}, "bbox"),
        ("sites/items", {"datetime": "yesterday"}, "datetime"),
        ("sites/items", {"datetime": "2025-01-01T00:00:00"}, "datetime"),
        ("sites/items", {"datetime": "../.."}, "datetime"),
        ("sites/items", {"datetime": "2025-02-01/2025-01-01"}, "datetime"),
        ("sites/items", {"datetime": "2026-04-01T10:00:00Z/2026-04-01T09:00:00Z"}, "datetime"),
        ("sites/items", {"simplify": "10"}, "simplify"),
        ("wards/items", {"theme": "community-safety"}, "theme"),
        ("boroughs/items", {"datetime": "yesterday"}, "datetime"),
        ("bcus/items", {"datetime": "2025-02-01/2025-01-01"}, "datetime"),
        ("wards/items", {"simplify": "-1"}, "simplify"),
        ("wards/items", {"f": "xml"}, "f"),
        ("wards/items", {"colour": "red"}, "colour"),
        ("", {"f": "xml"}, "f"),
        # an id that names nothing: never an empty page
        ("services/items", {"theme": "nope"}, "theme"),
        ("sites/items", {"programme": "nope"}, "programme"),
        ("sites/items", {"organisation": "nope"}, "organisation"),
        ("services/items", {"organisation": "GB-CHC-0000000"}, "organisation"),
        ("wards/items", {"parent": "nope"}, "parent"),
        ("bcus/items", {"parent": "E09000022"}, "parent"),  # a borough is no BCU's parent
        # a single-valued parameter sent twice: not its first value, silently
        ("services/items", {"theme": ["vawg", "youth-diversion"]}, "theme"),
        ("sites/items", {"limit": ["5", "10"]}, "limit"),
        ("sites/items", {"bbox": ["-0.2,51.4,0,51.5", "-0.3,51.3,0,51.5"]}, "bbox"),
        ("boroughs/items/E09000022", {"simplify": ["10", "20"]}, "simplify"),
        ("", {"f": ["json", "html"]}, "f"),
    ],
)
def test_invalid_values_are_400_problems(
    served: tuple[str, Flask], path: str, query: dict[str, Any], parameter: str
) -> None:
    answer = _client(served).get(f"{OGC}/collections/{path}".rstrip("/"), query_string=query)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert parameter in problem["errors"]
    # one code whether the schema or a use case refused it (bad-request is a NUL, bad JSON)
    expected = "unknown-parameter" if parameter == "colour" else "invalid-parameter"
    assert (problem["code"], problem["type"]) == (expected, f"/problems/{expected}"), problem


def test_a_misspelt_filter_id_is_answered_with_what_was_meant(served: tuple[str, Flask]) -> None:
    client = _client(served)
    cases = [
        ("services/items", {"theme": "youth-divertion"}, "youth-diversion"),
        ("sites/items", {"programme": "lcpf"}, "lcpf-direct"),
        ("wards/items", {"parent": "Lambth"}, "E09000022"),
    ]
    for path, query, meant in cases:
        answer = client.get(f"{OGC}/collections/{path}", query_string=query)
        assert answer.status_code == 400, answer.get_data(as_text=True)
        found = [s.get("id") or s.get("code") for s in answer.get_json()["suggestions"]]
        assert meant in found, (query, found)
    # a parent's code in any case, as everywhere else
    lower = _get(client, f"{OGC}/collections/wards/items", parent="e09000022", limit=1)
    upper = _get(client, f"{OGC}/collections/wards/items", parent="E09000022", limit=1)
    named = _get(client, f"{OGC}/collections/wards/items", parent="Lambeth", limit=1)
    assert lower["numberMatched"] == upper["numberMatched"] == named["numberMatched"] > 0


def test_unknown_collections_and_features_are_404_problems(served: tuple[str, Flask]) -> None:
    client = _client(served)
    for path, code in (
        ("nope", "collection-not-found"),
        ("nope/items", "collection-not-found"),
        ("sites/items/999999", "feature-not-found"),
        ("services/items/abc", "feature-not-found"),
        ("wards/items/E09000022", "feature-not-found"),  # a borough is not a ward
        ("boroughs/items/E09000022x", "feature-not-found"),
    ):
        answer = client.get(f"{OGC}/collections/{path}")
        assert answer.status_code == 404 and answer.get_json()["code"] == code, path
    assert client.get(f"{OGC}/collections/boroughs/items/E09000022").status_code == 200


def test_only_a_canonical_id_names_a_feature(served: tuple[str, Flask]) -> None:
    """ "²" and "①" (which str.isdigit takes, int not) were a 500; "١" and "00001" (which int
    takes) answered a feature at a second URL. Each is a 404 problem now."""
    client = _client(served)
    for collection in ("sites", "services"):
        first = _get(client, f"{OGC}/collections/{collection}/items", limit=1)["features"][0]
        one = _get(client, f"{OGC}/collections/{collection}/items/{first['id']}")
        assert one["id"] == first["id"]
        for key in (f"0{first['id']}", f"00{first['id']}", "²", "١", "①", f"+{first['id']}"):
            answer = client.get(f"{OGC}/collections/{collection}/items/{key}")
            assert answer.status_code == 404, (collection, key)
            assert answer.get_json()["code"] == "feature-not-found"


@pytest.mark.parametrize(
    "text, days",
    [
        # British Summer Time began on 29 March 2026: 23:30 UTC is 00:30 in London
        ("2026-03-31T23:30:00Z", (date(2026, 4, 1),) * 2),
        ("2026-04-01T00:30:00+01:00", (date(2026, 4, 1),) * 2),  # the same instant
        ("2026-03-31T22:30:00Z", (date(2026, 3, 31),) * 2),
        ("2026-03-31T18:00:00-05:00", (date(2026, 4, 1),) * 2),  # 23:00 UTC
        ("2026-12-31T23:30:00Z", (date(2026, 12, 31),) * 2),  # winter: London is UTC
        (
            "2026-04-01T00:30:00+01:00/2026-04-01T22:30:00-01:00",
            (date(2026, 4, 1), date(2026, 4, 2)),
        ),
    ],
)
def test_a_datetime_is_taken_on_its_london_day(text: str, days: tuple[date, date]) -> None:
    """An instant's offset is applied before its day is taken, and the day is London's, as
    grants' days are (a grant starting on 1 April is live from London's midnight): the same
    instant written with two offsets selects the same grants."""
    assert parse_datetime(text) == days


@pytest.mark.parametrize(
    "text",
    [
        "2026-04-01T00:00:00Z/2026-04-01T00:00:00+05:00",
        "2026-04-01T10:00:00Z/2026-04-01T09:00:00Z",  # one day: the instants decide
        "2026-04-01T10:30:00+01:00/2026-04-01T09:00:00Z",  # 09:30 UTC, then 09:00
    ],
)
def test_an_interval_whose_start_is_after_its_end_once_offsets_apply_is_invalid(
    text: str,
) -> None:
    with pytest.raises(InvalidParameterError):
        parse_datetime(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-04-01T09:00:00Z/2026-04-01T10:00:00Z",
        "2026-04-01T10:00:00+01:00/2026-04-01T09:30:00Z",
        "2026-04-01T20:00:00Z/2026-04-01",  # a date is its whole day
        "2026-04-01/2026-04-01T00:30:00+01:00",
    ],
)
def test_an_interval_in_order_on_one_day_is_that_day(text: str) -> None:
    assert parse_datetime(text)[0] <= parse_datetime(text)[1]


def test_the_openapi_document_describes_limit_as_the_server_takes_it() -> None:
    """Part 1: a limit above the maximum is taken as the maximum, not refused; so the
    document states the maximum in words, not as a bound a request would break."""
    document = json.loads(
        (Path(__file__).resolve().parents[2] / "openapi" / "openapi.json").read_text("utf-8")
    )
    operation = document["paths"][f"{OGC}/collections/{{collection_id}}/items"]["get"]
    limit = next(p for p in operation["parameters"] if p["name"] == "limit")
    assert limit["schema"]["default"] == 10 and limit["schema"]["minimum"] == 1
    assert "maximum" not in limit["schema"] and f"{MAX_LIMIT}" in limit["description"]
