"""GET /locate by WGS84 and British National Grid on the real data."""

from __future__ import annotations

import pytest


def test_locate_by_bng_matches_postcode_areas(client):
    pc = client.get("/api/v1/postcodes/KT1 1EU").get_json()
    body = client.get(
        f"/api/v1/locate?easting={pc['easting']}&northing={pc['northing']}"
    ).get_json()
    assert body["borough"]["code"] == pc["borough"]["code"]
    assert body["bcu"]["code"] == "bcu-south-west"
    assert body["nearest_postcode"]["postcode"] == "KT1 1EU"
    assert body["nearest_postcode"]["distance_m"] == pytest.approx(0.0, abs=0.01)
    assert body["match"] == "point"


def test_locate_by_lat_lon(client):
    body = client.get("/api/v1/locate?lat=51.50101&lon=-0.141563").get_json()
    assert body["borough"]["code"] == "E09000033"
    assert set(body["flags"]) == {
        "near_boundary",
        "generalised_boundary",
        "on_river",
        "ward_approximate",
    }


def test_point_on_the_thames_resolves_to_nearest_borough_flagged(client):
    # mid-river between Westminster and Lambeth, by Westminster Bridge
    body = client.get("/api/v1/locate?lat=51.5009&lon=-0.1223").get_json()
    assert body["flags"]["on_river"] is True
    assert body["borough"]["code"] in {"E09000033", "E09000022"}
    assert 0 < body["distance_to_borough_m"] <= 400


def test_city_point_has_city_police_note(client):
    body = client.get("/api/v1/locate?lat=51.5156&lon=-0.0916").get_json()
    assert body["borough"]["code"] == "E09000001"
    assert body["bcu"] is None
    assert body["police_force"]["code"] == "E23000034"


@pytest.mark.parametrize("query", ["lat=53.48&lon=-2.24", "easting=383000&northing=398000"])
def test_locate_outside_london_is_outside_coverage(client, query):
    response = client.get(f"/api/v1/locate?{query}")
    assert response.status_code == 404
    assert response.get_json()["code"] == "outside-coverage"


@pytest.mark.parametrize("path", ["/api/v1/locate", "/api/v1/patch"])
@pytest.mark.parametrize(
    "query",
    [
        "lat=51.69513&lon=-0.1029",  # Hertfordshire, 379 m beyond Enfield
        "lat=51.28354&lon=-0.11991",  # Surrey, 386 m beyond Croydon
        "lat=51.50605&lon=-0.48901",  # Buckinghamshire, 295 m beyond Hillingdon
    ],
)
def test_land_just_beyond_london_is_outside_coverage_not_the_river(client, path, query):
    """The river rule snaps a point on the Thames (which no borough holds) to the nearest
    borough; it snapped land within 400 m of London's edge too, and placed it in the
    borough as `on_river`."""
    response = client.get(f"{path}?{query}")
    assert response.status_code == 404, response.json
    assert response.json["code"] == "outside-coverage"


def test_a_postcode_a_centimetre_beyond_its_borough_is_on_its_edge(client):
    """IG9 6FB lies 1.2 cm outside Redbridge's polygon: on its edge, not the river."""
    pc = client.get("/api/v1/postcodes/IG9 6FB").json
    body = client.get(f"/api/v1/locate?easting={pc['easting']}&northing={pc['northing']}").json
    assert body["borough"]["code"] == pc["borough"]["code"]
    assert body["flags"]["near_boundary"] is True and body["flags"]["on_river"] is False


@pytest.mark.parametrize("path", ["/api/v1/locate", "/api/v1/patch"])
def test_lat_and_lon_the_wrong_way_round_are_named(client, path):
    """A point given lon-first (lat=-0.14, lon=51.5, as GeoJSON orders them) is outside
    London, and the answer says that the other way round it is in London (the services'
    `near` said so; /locate and /patch said only "outside London")."""
    response = client.get(f"{path}?lat=-0.14&lon=51.5")
    assert response.status_code == 404 and response.json["code"] == "outside-coverage"
    assert (
        "(lat=51.5, lon=-0.14) it is in London: are lat and lon swapped?"
        in (response.json["detail"])
    )
    plain = client.get(f"{path}?lat=53.48&lon=-2.24").json["detail"]  # Manchester
    assert "swapped" not in plain


@pytest.mark.parametrize(
    "query",
    [
        "lat=91&lon=0",
        "lat=51.5&lon=181",
        "easting=-1&northing=100",
        "easting=800000&northing=100",
        "lat=51.5",
        "lat=51.5&lon=-0.1&easting=530000&northing=180000",
        "",
        "lat=abc&lon=0",
        "lat=nan&lon=0",
        "lat=inf&lon=0",
    ],
)
def test_locate_bad_input_is_422(client, query):
    response = client.get(f"/api/v1/locate?{query}")
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("query", "wrong"),
    [
        ("lat=95&lon=0", {"lat"}),  # 0 is a longitude in range: not named
        ("lat=0&lon=-190", {"lon"}),
        ("lat=-95&lon=181", {"lat", "lon"}),
    ],
)
def test_a_coordinate_out_of_range_is_named_alone(client, query, wrong):
    body = client.get(f"/api/v1/locate?{query}").get_json()
    assert body["code"] == "invalid-coordinates"
    assert set(body["errors"]) == wrong
    assert all(name in body["detail"] for name in wrong)
    assert all(name not in body["detail"] for name in {"lat", "lon"} - wrong)
