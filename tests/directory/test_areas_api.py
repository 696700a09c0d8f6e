"""GET /areas, /areas/{code} and /areas/{code}/boundary on the real data."""

from __future__ import annotations

import csv
from urllib.parse import quote

import pytest
import shapely
from shapely.geometry import shape


def test_list_boroughs_is_paged_with_envelope_and_links(client):
    response = client.get("/api/v1/areas?type=borough&per_page=10&page=2")
    assert response.status_code == 200
    body = response.get_json()
    assert body["total_items"] == 33
    assert body["total_pages"] == 4
    assert body["page_number"] == 2
    assert body["size"] == 10
    assert (body["first_page"], body["last_page"], body["empty"]) == (False, False, False)
    assert 'rel="next"' in response.headers["Link"] and 'rel="prev"' in response.headers["Link"]


@pytest.mark.parametrize(
    "q, code",
    [
        ("kingston", "E09000021"),
        ("Kensington & Chelsea", "E09000020"),
        ("Richmond", "E09000027"),
        ("Royal Borough of Kingston upon Thames", "E09000021"),
        ("hammersmith and fulham", "E09000013"),
    ],
)
def test_area_names_match_tolerantly(client, q, code):
    body = client.get("/api/v1/areas", query_string={"type": "borough", "q": q}).get_json()
    assert body["contents"][0]["code"] == code


@pytest.mark.parametrize("q", [" ", "\n", " \t\r\n "])
def test_a_name_of_nothing_but_spaces_is_refused(client, q):
    """As the services' q and the Open Referral lists' search: a 422 naming q (it answered
    an empty list), as q= is; its words are matched one space apart."""
    for query in ({"q": q}, {"q": q, "format": "geojson"}):
        response = client.get("/api/v1/areas", query_string=query)
        assert response.status_code == 422, response.get_data(as_text=True)
        assert response.get_json()["errors"] == {"q": ["q must contain something to search for."]}
    spaced = client.get("/api/v1/areas", query_string={"type": "borough", "q": " \tKingston\n"})
    assert spaced.get_json()["contents"][0]["code"] == "E09000021"


def test_wards_of_a_borough(client):
    body = client.get("/api/v1/areas?type=ward&parent=E09000021&per_page=1000").get_json()
    assert body["total_items"] > 10
    assert all(a["parent"]["code"] == "E09000021" for a in body["contents"])


def test_boroughs_of_a_bcu(client):
    body = client.get("/api/v1/areas?type=borough&parent=bcu-central-west").get_json()
    assert {a["code"] for a in body["contents"]} == {"E09000013", "E09000020", "E09000033"}


def test_there_are_twelve_bcus_and_704_wards(client):
    assert client.get("/api/v1/areas?type=bcu").get_json()["total_items"] == 12
    assert client.get("/api/v1/areas?type=ward").get_json()["total_items"] == 704


def test_area_detail_has_parent_children_and_neighbours_across_the_thames(client):
    body = client.get("/api/v1/areas/E09000030").get_json()
    assert body["name"] == "Tower Hamlets"
    assert body["parent"]["code"] == "bcu-central-east"
    assert len(body["children"]) > 10
    neighbours = {n["code"]: n["relation"] for n in body["neighbours"]}
    assert neighbours["E09000012"] == "touches"  # Hackney
    assert neighbours["E09000028"] == "across_water"  # Southwark
    assert "E09000006" not in neighbours  # Bromley


def test_area_codes_are_case_insensitive_and_unknown_is_404(client):
    assert client.get("/api/v1/areas/e09000021").get_json()["code"] == "E09000021"
    response = client.get("/api/v1/areas/kingstn")
    assert response.status_code == 404
    body = response.get_json()
    assert body["code"] == "area-not-found"
    assert body["suggestions"][0]["code"] == "E09000021"


@pytest.mark.parametrize("name", ["Kingston", "kingston", "Royal Borough of Kingston upon Thames"])
def test_an_area_is_found_by_name_as_the_other_area_routes_find_it(client, name):
    """/areas/{code}, its boundary and parent= take a name, as /areas/{code}/comparison and
    the OGC parent do (they were 404 "No area has the code"); the answer is the area's, with
    Content-Location naming its URL by code."""
    by_code = client.get("/api/v1/areas/E09000021")
    assert "Content-Location" not in by_code.headers
    by_name = client.get(f"/api/v1/areas/{name}")
    assert by_name.status_code == 200 and by_name.get_json() == by_code.get_json()
    assert by_name.headers["Content-Location"] == "/api/v1/areas/E09000021"
    boundary = client.get(f"/api/v1/areas/{name}/boundary?simplify=100")
    assert boundary.status_code == 200 and boundary.get_json()["id"] == "E09000021"
    assert boundary.headers["Content-Location"] == "/api/v1/areas/E09000021/boundary?simplify=100"
    compared = client.get(f"/api/v1/areas/{name}/comparison?include_regrants=true")
    assert compared.status_code == 200
    assert (
        compared.get_json()
        == client.get("/api/v1/areas/E09000021/comparison?include_regrants=true").get_json()
    )
    assert (
        compared.headers["Content-Location"]
        == "/api/v1/areas/E09000021/comparison?include_regrants=true"
    )
    wards = client.get("/api/v1/areas", query_string={"type": "ward", "parent": name}).get_json()
    assert wards == client.get("/api/v1/areas?type=ward&parent=E09000021").get_json()
    assert wards["total_items"] > 10


def test_city_of_london_detail_says_no_bcu(client):
    body = client.get("/api/v1/areas/E09000001").get_json()
    assert body["parent"]["code"] == "E12000007"
    assert body["bcu"] is None
    assert body["police_force"]["name"] == "City of London Police"


def test_the_metropolitan_police_district_is_an_area_between_london_and_the_bcus(client):
    """E23000001 answers as an area: London but the City, the BCUs' parent, its boundary the
    union of the BCUs'; the City's parent stays London."""
    body = client.get("/api/v1/areas/E23000001").get_json()
    assert (body["name"], body["type"]) == ("Metropolitan Police District", "police_area")
    assert body["parent"]["code"] == "E12000007"
    assert {c["type"] for c in body["children"]} == {"bcu"} and len(body["children"]) == 12
    london = client.get("/api/v1/areas/E12000007").get_json()
    assert {c["code"] for c in london["children"]} == {"E23000001", "E09000001"}
    assert client.get("/api/v1/areas/bcu-central-west").get_json()["parent"]["code"] == (
        "E23000001"
    )
    boroughs = client.get("/api/v1/areas?type=borough&parent=E23000001&per_page=100").get_json()
    assert boroughs["total_items"] == 32
    assert "E09000001" not in {a["code"] for a in boroughs["contents"]}
    listed = client.get("/api/v1/areas?type=police_area").get_json()["contents"]
    assert [a["code"] for a in listed] == ["E23000001"]
    for name in ("Metropolitan Police District", "MPD", "e23000001"):
        found = client.get(f"/api/v1/areas/{quote(name)}")
        assert found.status_code == 200 and found.get_json()["code"] == "E23000001", name
    district = shape(client.get("/api/v1/areas/E23000001/boundary").get_json()["geometry"])
    bcus = [
        shape(client.get(f"/api/v1/areas/{c['code']}/boundary").get_json()["geometry"])
        for c in body["children"]
    ]
    union = shapely.union_all(bcus)
    assert shapely.symmetric_difference(district, union).area < 1e-8  # (degrees²: ~100 m²)
    city = shape(client.get("/api/v1/areas/E09000001/boundary").get_json()["geometry"])
    assert shapely.intersection(district, city).area < 1e-9


def test_every_boundary_at_every_simplify_step_is_valid_rfc7946(sqlite_geography, tmp_path):
    """RFC 7946 §3.1.6 and validity, for every area (London, BCUs, boroughs, wards) at every
    tolerance the API offers (the ladder any simplify is taken down to): a valid polygon or
    multipolygon, each exterior ring counter-clockwise and each hole clockwise, on the 1e-6
    degree grid. (Before: every borough and BCU and 736 of 738 wards came out clockwise, and
    simplification folded 6 wards onto themselves.)"""
    import shutil

    from directory import create_app
    from directory.usecases import geography
    from directory.web.state import end_request, snapshot
    from tests.conftest import _settings, shared_data_path

    shutil.copy(sqlite_geography, tmp_path / "directory.sqlite3")
    app = create_app(_settings(tmp_path, None, shared_data_path()))
    with app.test_request_context():
        snap = snapshot()
        end_request()
    wrong = []
    for step in geography.SIMPLIFY_STEPS:  # (a layer is simplified once a step)
        for code in snap.areas:
            polygon = geography.simplified_area(snap, code, step) if step else None
            geometry = geography.geojson_geometry(
                snap.geometries[code] if polygon is None else polygon
            )
            if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty:
                wrong.append((code, step, geometry.geom_type))
            elif not shapely.is_valid(geometry):
                wrong.append((code, step, shapely.is_valid_reason(geometry)))
            else:
                for polygon in getattr(geometry, "geoms", [geometry]):
                    rings_ok = polygon.exterior.is_ccw and not any(
                        ring.is_ccw for ring in polygon.interiors
                    )
                    if not rings_ok:
                        wrong.append((code, step, "orientation"))
            coords = shapely.get_coordinates(geometry)
            assert (abs(coords * 1e6 - (coords * 1e6).round()) < 1e-3).all(), (code, step)
    assert len(snap.areas) > 700 and wrong == []
    # and the API sends exactly that
    feature = app.test_client().get("/api/v1/areas/E09000021/boundary?simplify=20").get_json()
    assert shape(feature["geometry"]).equals(
        geography.geojson_geometry(geography.simplified_area(snap, "E09000021", 20))
    )
    app.extensions["directory"].db.dispose()


@pytest.mark.parametrize(("kind", "simplify"), [("ward", 50), ("borough", 500), ("bcu", 1000)])
def test_a_simplified_layer_has_neither_overlaps_nor_gaps_between_neighbours(
    client, kind, simplify
):
    """A layer's areas are simplified together, so neighbours still share one edge: a
    choropleth has no seams. (Simplified one by one, London's wards overlapped by 5.3 km² at
    50 m.) The layer covers what its areas cover unsimplified, less what simplifying the
    outer edge takes or adds; and one area's boundary is the same shape as in its layer."""
    body = client.get(
        f"/api/v1/areas?type={kind}&format=geojson&simplify={simplify}&per_page=1000"
    ).get_json()
    shapes = {f["id"]: shape(f["geometry"]) for f in body["features"]}
    codes, polygons = list(shapes), list(shapes.values())
    tree = shapely.STRtree(polygons)
    overlap, touching = 0.0, 0
    for i, polygon in enumerate(polygons):
        for j in tree.query(polygon, predicate="intersects"):
            if j > i:
                touching += 1
                overlap += shapely.intersection(polygon, polygons[j]).area
    assert touching > len(polygons)  # neighbours were compared
    assert overlap < 1e-10, (kind, overlap)  # (square degrees: under a square metre)
    # no gaps: the union's holes are the unsimplified layer's (none inside London)
    union = shapely.union_all(polygons)
    holes = sum(len(p.interiors) for p in getattr(union, "geoms", [union]))
    assert holes == 0, (kind, holes)
    one = client.get(f"/api/v1/areas/{codes[0]}/boundary?simplify={simplify}").get_json()
    assert shape(one["geometry"]).equals(shapes[codes[0]])


def test_boundary_is_wgs84_geojson_and_simplify_reduces_vertices(client):
    exact = client.get("/api/v1/areas/E09000021/boundary")
    assert exact.status_code == 200
    assert exact.mimetype == "application/geo+json"
    feature = exact.get_json()
    geom = shape(feature["geometry"])
    minx, miny, maxx, maxy = geom.bounds
    assert -0.35 < minx < maxx < -0.2 and 51.3 < miny < maxy < 51.45
    simple = shape(
        client.get("/api/v1/areas/E09000021/boundary?simplify=50").get_json()["geometry"]
    )
    assert shapely.get_num_coordinates(simple) < shapely.get_num_coordinates(geom)
    assert simple.area == pytest.approx(geom.area, rel=0.02)


@pytest.mark.parametrize("simplify", ["-1", "99999", "abc"])
def test_bad_simplify_is_422(client, simplify):
    response = client.get(f"/api/v1/areas/E09000021/boundary?simplify={simplify}")
    assert response.status_code == 422


def test_layer_as_geojson_feature_collection(client):
    response = client.get("/api/v1/areas?type=bcu&format=geojson&simplify=100")
    assert response.mimetype == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == 12
    negotiated = client.get("/api/v1/areas?type=bcu", headers={"Accept": "application/geo+json"})
    assert negotiated.get_json()["type"] == "FeatureCollection"
    # the whole layer, as a GIS client reads a file: paging does not apply (README)
    paged = client.get("/api/v1/areas?type=bcu&format=geojson&simplify=100&per_page=5&page=2")
    assert len(paged.get_json()["features"]) == 12


def test_unfiltered_geojson_layer_is_refused(client):
    response = client.get("/api/v1/areas?format=geojson")
    assert response.status_code == 422


@pytest.mark.parametrize("query", ["type=county", "page=0", "per_page=5000", "format=kml"])
def test_bad_list_arguments_are_422(client, query):
    response = client.get(f"/api/v1/areas?{query}")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("coverage_first", [True, False])
def test_a_boundary_and_a_one_area_coverage_never_take_each_others_place(geo_app, coverage_first):
    """An area's boundary (a Feature) and a coverage of that one area (a bare geometry, the
    OGC services' geometry) are kept apart whichever is made first. (Before: both were kept
    under (code, simplify), and the second asked got the first's shape.)"""
    from directory.usecases import geography
    from directory.web.state import end_request, snapshot

    with geo_app.test_request_context():
        snap = snapshot()
        end_request()
    with snap._lock:  # start from nothing kept (the tests before filled it)
        snap._boundaries.clear()
        snap._boundary_bytes = 0
    code, simplify = "E09000021", 100.0

    def feature() -> dict:
        return dict(geography.boundary_feature(snap, code, simplify))

    def coverage() -> dict:
        return dict(geography.coverage_geometry(snap, [code], simplify) or {})

    asks = [coverage, feature] if coverage_first else [feature, coverage]
    for ask in asks + asks:  # made, then kept
        answer = ask()
        if ask is feature:
            assert answer["type"] == "Feature" and answer["properties"]["code"] == code
            assert answer["geometry"]["type"] in ("Polygon", "MultiPolygon")
        else:
            assert answer["type"] in ("Polygon", "MultiPolygon"), answer["type"]
    served = geo_app.test_client().get(f"/api/v1/areas/{code}/boundary?simplify=100").get_json()
    assert served["type"] == "Feature"


def test_every_areas_bbox_holds_its_boundary(geo_app):
    """Each area's `bbox` holds the boundary /areas/{code}/boundary sends, and is hardly
    wider (the 1e-6 degree grid; a sliver the grid folds away, E05013644's 2e-5). (Before: the two corners of the British National Grid box
    were transformed, and all 750 areas' boxes missed part of their area.)"""
    from directory.usecases import geography
    from directory.web.state import end_request, snapshot

    with geo_app.test_request_context():
        snap = snapshot()
        end_request()
    wrong = []
    for code in snap.areas:
        west, south, east, north = geography.area_summary(snap, code)["bbox"]
        bounds = geography.geojson_geometry(snap.geometries[code]).bounds
        holds = (
            west <= bounds[0] and south <= bounds[1] and east >= bounds[2] and north >= bounds[3]
        )
        tight = (
            max(abs(a - b) for a, b in zip((west, south, east, north), bounds, strict=True)) < 1e-4
        )
        if not (holds and tight):
            wrong.append((code, (west, south, east, north), bounds))
    assert len(snap.areas) > 700 and wrong == []
    client = geo_app.test_client()
    bbox = client.get("/api/v1/areas/E09000002").get_json()["bbox"]
    boundary = shape(client.get("/api/v1/areas/E09000002/boundary").get_json()["geometry"])
    assert shapely.box(*bbox).covers(boundary)


def _shared_ward_names(shared_data_dir):
    """The current ward names (as names are compared) more than one borough has."""
    from geodata.names import normalise_name

    path = shared_data_dir / "reference" / "london_wards_2025_codes_names.csv"
    wards: dict[str, list[tuple[str, str, str]]] = {}
    with path.open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            wards.setdefault(normalise_name(row["WD25NM"]), []).append(
                (row["WD25NM"], row["WD25CD"], row["LAD25CD"])
            )
    return {key: found for key, found in wards.items() if len(found) > 1}


def test_a_ward_name_two_boroughs_share_is_ambiguous_and_can_be_qualified(client, shared_data_dir):
    shared = _shared_ward_names(shared_data_dir)
    exact = {found[0][0] for found in shared.values() if len({n for n, _, _ in found}) == 1}
    assert {"Kilburn", "Highgate", "Regent's Park", "Woodside", "Lea Bridge", "Belmont"} | {
        "Wandle", "Bridge", "Abbey", "Village", "Edgware"
    } <= exact  # fmt: skip
    for found in shared.values():
        name = found[0][0]
        response = client.get("/api/v1/patch", query_string={"area": name})
        assert response.status_code == 404, name
        body = response.get_json()
        assert body["code"] == "area-ambiguous", name
        assert "shared" in body["detail"] and f"'{name}, " in body["detail"]
        assert {(s["code"], s["borough"]["code"]) for s in body["suggestions"]} == {
            (code, borough) for _, code, borough in found
        }
        for ward_name, code, borough in found:
            borough_name = client.get(f"/api/v1/areas/{borough}").get_json()["name"]
            for text in (f"{ward_name}, {borough_name}", f"{ward_name} ({borough_name})"):
                body = client.get("/api/v1/patch", query_string={"area": text}).get_json()
                assert body["ward"]["code"] == code, text


@pytest.mark.parametrize(
    "path",
    ["/api/v1/services", "/api/v1/grants", "/api/v1/changes", "/api/v1/opportunities.atom"],
)
def test_every_area_filter_says_a_name_is_shared(client, path):
    response = client.get(path, query_string={"area": "Kilburn"})
    assert (response.status_code, response.get_json()["code"]) == (404, "area-ambiguous")
    assert client.get(path, query_string={"area": "Kilburn, Brent"}).status_code == 200
    assert client.get(path, query_string={"area": "Kilburn (Camdn)"}).status_code == 404


@pytest.mark.parametrize(
    ("area", "code"),
    [
        ("Kingston", "E09000021"),
        ("Richmond", "E09000027"),
        ("Barking", "E09000002"),
        ("Hammersmith", "E09000013"),
        ("RB Kingston upon Thames", "E09000021"),
        ("Central West BCU", "bcu-central-west"),
        ("Upper Walthamstow", "E05013900"),
    ],
)
def test_a_name_or_its_leading_words_are_taken(client, area, code):
    body = client.get("/api/v1/patch", query_string={"area": area}).get_json()
    assert body["match"] == "area"
    assert code in {(body.get(k) or {}).get("code") for k in ("ward", "borough", "bcu")}


def _aliases() -> list[tuple[str, str]]:
    from geodata.names import default_aliases

    return default_aliases()


@pytest.mark.parametrize(("code", "alias"), _aliases())
def test_every_alias_the_package_names_is_taken_everywhere_an_area_is(client, code, alias):
    """geodata/data/area_aliases.csv: the abbreviations SPOCs write ("RBKC", "H&F", "LBBD")
    and other names, by the areas route and the patch; read from the package as well as
    from the stored geography, so an alias added since it was loaded is taken too."""
    response = client.get(f"/api/v1/areas/{quote(alias, safe='')}")
    assert response.status_code == 200, (alias, response.get_json())
    assert response.get_json()["code"] == code
    body = client.get("/api/v1/patch", query_string={"area": alias.lower()}).get_json()
    assert code in {(body.get(k) or {}).get("code") for k in ("ward", "borough", "bcu", "area")}


def test_an_alias_added_since_the_geography_was_loaded_is_taken(writable_app):
    """A geography loaded before an alias was added to the package (its areas' stored
    aliases without it) takes it all the same: the names are the stored ones and the
    package's."""
    from sqlalchemy import select, update

    from directory.store.models import Area

    state = writable_app.extensions["directory"]
    with state.db.engine.begin() as connection:
        attributes = connection.execute(
            select(Area.attributes).where(Area.code == "E09000020")
        ).scalar_one()
        assert "RBKC" in attributes["aliases"]
        attributes = {**attributes, "aliases": [a for a in attributes["aliases"] if a != "RBKC"]}
        connection.execute(
            update(Area).where(Area.code == "E09000020").values(attributes=attributes)
        )
    state.geography.invalidate()
    response = writable_app.test_client().get("/api/v1/areas/RBKC")
    assert response.status_code == 200 and response.get_json()["code"] == "E09000020"


@pytest.mark.parametrize(
    ("area", "suggested"),
    [
        ("Green", "E09000011"),  # Greenwich
        ("Hill", "E09000017"),  # Hillingdon
        ("Walthamstow", "E05013900"),  # Upper Walthamstow
        ("Croydon Central", "E09000008"),
        ("Enfield Town", "E09000010"),
    ],
)
def test_a_part_of_a_name_is_not_taken_but_suggested(client, area, suggested):
    response = client.get("/api/v1/patch", query_string={"area": area})
    assert response.status_code == 404
    body = response.get_json()
    assert body["code"] == "area-not-found"
    assert suggested in [s["code"] for s in body["suggestions"]]


def _operations_taking_an_area(document: dict) -> list[tuple[str, dict[str, str]]]:
    """Every GET operation of the document with a parameter that takes an area's code or
    name (``area``, ``parent``, or the ``{code}`` of an area's own path), as (path asked,
    query)."""
    found = []
    for path, item in document["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
        # a required query parameter gets its first value (funding's and outcomes' by=), or
        # any value (/patch/why's service=: the place is resolved, and refused, first)
        required = {
            p["name"]: p["schema"]["enum"][0] if "enum" in p["schema"] else "1"
            for p in parameters
            if p.get("required") and p.get("in") == "query"
        }
        if path.startswith("/api/v1/areas/{code}"):
            found.append((path.replace("{code}", "Kilburn"), required))
        elif "{" in path:
            continue
        for name in {"area", "parent"} & {p.get("name") for p in parameters}:
            found.append((path, {**required, name: "Kilburn"}))
    return found


def test_every_operation_taking_an_area_says_a_shared_name_is_ambiguous(client):
    document = client.get("/api/v1/openapi.json").get_json()
    asked = _operations_taking_an_area(document)
    assert len(asked) >= 18, asked
    for path, query in asked:
        response = client.get(path, query_string=query)
        assert response.status_code == 404, (path, query, response.status_code)
        assert response.get_json()["code"] == "area-ambiguous", (path, query)
        template = path.replace("Kilburn", "{code}")
        described = document["paths"][template]["get"]["responses"]["404"]["description"]
        assert "area-ambiguous" in described, (template, described)


@pytest.mark.parametrize(
    ("area_type", "parent", "collection"),
    [
        ("ward", "E05013503", "wards"),  # Kilburn (Brent): a ward holds no wards
        ("bcu", "E09000022", "bcus"),  # Lambeth: a borough is inside a BCU, not above one
        ("borough", "Kilburn, Brent", "boroughs"),
        ("region", "E09000022", None),  # nothing is above London
        ("police_area", "E09000022", None),  # Lambeth is inside the District, not above it
    ],
)
def test_a_parent_no_area_of_the_type_lies_within_is_refused_as_ogc_refuses_it(
    client, area_type, parent, collection
):
    """/areas?type=ward&parent=<a ward> was an empty list, where the OGC collections answered
    400: both now say the parent cannot hold areas of that type, in the same words."""
    response = client.get("/api/v1/areas", query_string={"type": area_type, "parent": parent})
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "invalid-input" and f"above no {area_type}" in body["detail"]
    assert list(body["errors"]) == ["parent"]
    if collection is not None:
        ogc = client.get(
            f"/api/v1/ogc/collections/{collection}/items", query_string={"parent": parent}
        )
        assert ogc.status_code == 400 and ogc.get_json()["detail"] == body["detail"]
    # without a type there is no question of level: the areas within it, none for a ward
    assert client.get("/api/v1/areas", query_string={"parent": parent}).status_code == 200


def test_a_parent_of_the_right_level_still_lists_what_is_within_it(client):
    for area_type, parent in (("ward", "bcu-central-west"), ("borough", "E12000007")):
        response = client.get("/api/v1/areas", query_string={"type": area_type, "parent": parent})
        assert response.status_code == 200 and response.get_json()["total_items"] > 3
