"""GET /postcodes/{pc}, POST /postcodes/lookup and GET /outcodes/{oc} on the real data."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import werkzeug.test
from flask import Response

from directory.usecases.geography import month_words, terminated_sentence
from tests.withdrawn import nspl_row, withdrawn

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def source_rows(shared_data_dir: Path) -> dict[str, dict[str, str]]:
    wanted = {"SW1A 1AA", "EC2V 7HH", "KT1 1EU", "E14 5AB"}
    with open(
        shared_data_dir / "postcodes" / "london_postcodes_codepoint_open_2025_10.csv", newline=""
    ) as f:
        return {r["postcode"]: r for r in csv.DictReader(f) if r["postcode"] in wanted}


@pytest.mark.parametrize(
    "sent", ["SW1A 1AA", "sw1a1aa", " SW1A 1AA ", "sw1a  1aa", "Sw1A1aA", "SW1A+1AA", "sw1a-1aa"]
)
def test_postcode_tolerates_case_and_spacing(client, source_rows, sent):
    response = client.get(f"/api/v1/postcodes/{sent}")
    assert response.status_code == 200
    body = response.get_json()
    row = source_rows["SW1A 1AA"]
    assert body["postcode"] == "SW1A 1AA"
    assert body["canonical"] == "SW1A1AA"
    assert body["borough"]["code"] == row["laua_code"]
    assert body["ward"] == {"code": row["ward_code"], "name": row["ward_name"], "type": "ward"}
    assert body["easting"] == float(row["eastings"])
    assert body["lat"] == pytest.approx(float(row["latitude"]))
    assert body["match"] == "postcode"


def test_postcode_names_bcu_region_force_and_release(client):
    body = client.get("/api/v1/postcodes/KT1 1EU").get_json()
    assert body["borough"]["name"] == "Kingston upon Thames"
    assert body["bcu"]["code"] == "bcu-south-west"
    assert body["region"] == {"code": "E12000007", "name": "London", "type": "region"}
    assert body["police_force"]["name"] == "Metropolitan Police Service"
    assert body["data_release"]["version"] >= 1
    assert "Code-Point" in body["data_release"]["postcodes"]


def test_data_release_is_the_geography_release_and_its_load_time_in_utc(writable_app):
    """Every answer's data_release names the geography release it was made from (the
    data_release row of the boundary and postcode load) and when that was loaded, as RFC
    3339 UTC; a write moves the data version (/status) but not the release (it gave the
    data version beside the geography's load time, and the time without a zone)."""
    from sqlalchemy import text

    from tests.directory.test_keys import make_key

    client = writable_app.test_client()
    with writable_app.extensions["directory"].db.engine.connect() as connection:
        geography = connection.execute(
            text("SELECT max(id) FROM data_release WHERE dataset = 'geography'")
        ).scalar_one()

    def releases():  # type: ignore[no-untyped-def]
        return [
            client.get("/ready").get_json()["data_release"],
            client.get("/api/v1/status").get_json()["geography"],
            client.get("/api/v1/postcodes/KT11EU").get_json()["data_release"],
        ]

    before = releases()
    version = client.get("/api/v1/status").get_json()["data_version"]
    for release in before:
        assert release["version"] == geography
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", release["loaded_at"])
    key = make_key(writable_app, "admin")["key"]
    created = client.post(
        "/api/v1/contacts", json={"area": "Kingston", "role": "Youth lead"},
        headers={"Authorization": f"Bearer {key}"},
    )  # fmt: skip
    assert created.status_code == 201, created.get_json()
    assert client.get("/api/v1/status").get_json()["data_version"] > version
    assert releases() == before


@pytest.mark.parametrize("path", ["/api/v1/postcodes/lookup", "/api/v1/patch/lookup"])
def test_a_bulk_lookup_whose_accept_takes_no_json_is_a_406(client, path):
    """A POST answers in JSON only: ``Accept: text/csv`` is the 406 naming it, as on a
    read (it was a 200 in JSON)."""
    sent = {"postcodes": ["KT1 1EU"]}
    refused = client.post(path, json=sent, headers={"Accept": "text/csv"})
    assert refused.status_code == 406 and refused.mimetype == PROBLEM
    assert refused.get_json()["available"] == ["application/json"]
    done = client.post(path, json=sent, headers={"Accept": "application/json"})
    assert done.status_code == 200


def test_city_of_london_postcode_has_no_bcu_and_says_why(client, source_rows):
    body = client.get("/api/v1/postcodes/EC2V7HH").get_json()
    assert body["borough"]["code"] == "E09000001"
    assert body["bcu"] is None
    assert body["police_force"]["name"] == "City of London Police"
    assert "no Met Basic Command Unit" in body["police_force"]["note"]


@pytest.mark.parametrize(
    "sent", ["NOTAPOSTCODE", "12345", "SW1A 1A", "Q1 1AA", "SW1A_1AA", "ÅÅ1 1AA"]
)
def test_malformed_postcode_is_422_problem(client, sent):
    response = client.get(f"/api/v1/postcodes/{sent}")
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["code"] == "invalid-postcode"
    assert body["status"] == 422
    assert body["instance"].startswith("/api/v1/postcodes/")


def test_postcode_outside_london_is_outside_coverage(client):
    response = client.get("/api/v1/postcodes/M1 1AE")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["code"] == "outside-coverage"
    assert "M1 1AE" in body["detail"]


def test_terminated_postcode_reports_when_and_last_known_areas(client):
    response = client.get("/api/v1/postcodes/SM1 1AB")
    assert response.status_code == 404
    body = response.get_json()
    assert body["code"] == "postcode-terminated"
    assert body["terminated"] == "2002-07"
    assert body["last_known"]["borough"]["code"] == "E09000029"
    assert body["last_known"]["ward"]["code"].startswith("E05")


@pytest.mark.parametrize("which", [{"postcode": "SM1 1AB"}, {"area": "WC"}], ids=["SM", "WC"])
def test_terminated_postcode_detail_speaks_to_a_person(client, shared_data_dir, which):
    expected = withdrawn(shared_data_dir, nspl_row(shared_data_dir, **which))
    for response in (
        client.get(f"/api/v1/postcodes/{expected.postcode}"),
        client.get("/api/v1/patch", query_string={"postcode": expected.postcode}),
    ):
        assert response.status_code == 404
        body = response.get_json()
        assert body["code"] == "postcode-terminated"
        assert body["detail"] == (
            f"{expected.sentence} It is no longer in use; {expected.ward_name} is today's "
            "ward at its last known location."
        )
        assert body["last_known"]["ward"]["code"] == expected.ward_code
        assert body["last_known"]["borough"]["code"] == expected.borough_code
    bulk = client.post("/api/v1/postcodes/lookup", json={"postcodes": [expected.postcode]})
    assert bulk.get_json()["results"][0]["problem"]["detail"] == body["detail"]


def test_terminated_sentence_without_a_ward_or_a_month():
    assert month_words("2002-07") == "July 2002"
    assert month_words("1998-12") == "December 1998"
    assert month_words("2002") == "2002"
    assert month_words(None) is None
    assert terminated_sentence("SM1 1AB", "2002-07", None, "Sutton") == (
        "SM1 1AB was withdrawn in July 2002; it was in Sutton."
    )
    assert terminated_sentence("SM1 1AB", None, None, None) == "SM1 1AB has been withdrawn."


def test_unknown_london_looking_postcode_names_outcode_boroughs(client):
    response = client.get("/api/v1/postcodes/SW1A 9ZZ")
    assert response.status_code == 404
    body = response.get_json()
    assert body["code"] == "postcode-not-found"
    assert body["outcode"] == "SW1A"
    assert {"code": "E09000033", "name": "Westminster", "type": "borough"} in body[
        "outcode_boroughs"
    ]


def test_bulk_lookup_keeps_order_and_reports_per_item(client):
    sent = ["KT1 1EU", "nonsense", "SM1 1AB", "M1 1AE", "ec2v7hh", None, 42]
    response = client.post("/api/v1/postcodes/lookup", json={"postcodes": sent})
    assert response.status_code == 200
    body = response.get_json()
    results = body["results"]
    assert [r["query"] for r in results] == sent
    assert results[0]["result"]["borough"]["code"] == "E09000021"
    assert results[1]["problem"]["code"] == "invalid-postcode"
    assert results[2]["problem"]["code"] == "postcode-terminated"
    assert results[3]["problem"]["code"] == "outside-coverage"
    assert results[4]["result"]["postcode"] == "EC2V 7HH"
    assert results[5]["problem"]["code"] == "invalid-postcode"
    assert results[6]["problem"]["code"] == "invalid-postcode"
    assert (body["found"], body["problems"]) == (2, 5)


def test_bulk_lookup_over_the_limit_is_413(client):
    response = client.post("/api/v1/postcodes/lookup", json={"postcodes": ["KT1 1EU"] * 1001})
    assert response.status_code == 413
    assert response.mimetype == PROBLEM
    assert response.get_json()["code"] == "too-many-items"


@pytest.mark.parametrize("path", ["/api/v1/postcodes/lookup", "/api/v1/patch/lookup"])
def test_a_bulk_lookup_answers_text_it_cannot_read_item_by_item(client, path):
    """A lookup stores nothing: a postcode holding a NUL or half a surrogate pair is that
    item's own invalid-postcode problem, beside the others' answers (not a 422 for the
    whole body, as a write gets), and too many items is still the 413."""
    body = '{"postcodes": ["KT1 1EU", "KT1\\u0000 1EU", "\\ud800"]}'
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert "result" in results[0]
    assert [r["problem"]["code"] for r in results[1:]] == ["invalid-postcode"] * 2
    many = '{"postcodes": [' + ", ".join(['"KT1\\u0000 1EU"'] * 1001) + "]}"
    response = client.post(path, data=many, content_type="application/json")
    assert response.status_code == 413 and response.get_json()["code"] == "too-many-items"


def test_bulk_lookup_of_exactly_the_limit_is_answered(client):
    response = client.post("/api/v1/postcodes/lookup", json={"postcodes": ["KT1 1EU"] * 1000})
    assert response.status_code == 200
    assert response.get_json()["found"] == 1000


@pytest.mark.parametrize(
    "payload",
    [{"postcodes": "KT1 1EU"}, {}, {"postcode": ["KT1 1EU"]}, [], "text"],
)
def test_bulk_lookup_bad_body_is_422_problem(client, payload):
    response = client.post("/api/v1/postcodes/lookup", json=payload)
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    assert response.get_json()["errors"]


def test_bulk_lookup_non_json_body_is_a_problem(client):
    response = client.post(
        "/api/v1/postcodes/lookup", data="{not json", content_type="application/json"
    )
    assert 400 <= response.status_code < 500
    assert response.mimetype == PROBLEM


def test_outcode_lists_boroughs_wards_and_bcus(client, shared_data_dir):
    with open(
        shared_data_dir / "postcodes" / "london_postcodes_codepoint_open_2025_10.csv", newline=""
    ) as f:
        rows = [r for r in csv.DictReader(f) if r["outcode"] == "SE1"]
    body = client.get("/api/v1/outcodes/se1").get_json()
    assert body["outcode"] == "SE1"
    assert body["postcodes"] == len(rows)
    assert {b["code"] for b in body["boroughs"]} == {r["laua_code"] for r in rows}
    assert {w["code"] for w in body["wards"]} == {r["ward_code"] for r in rows}
    assert {"bcu-central-south"} <= {b["code"] for b in body["bcus"]}


def test_outcode_outside_london_is_404_and_malformed_is_422(client):
    assert client.get("/api/v1/outcodes/M1").get_json()["code"] == "outcode-not-found"
    response = client.get("/api/v1/outcodes/1234")
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid-postcode"


def test_the_bulk_lookup_path_is_not_also_a_postcode(geo_app):
    # /postcodes/lookup is the bulk lookup only: a GET there is a 405 whose Allow names POST
    # (it was the postcode "lookup", a 422, and Allow named GET too). A plain werkzeug client:
    # no operation documents this GET, whose path looks like GET /postcodes/{postcode}'s
    client = werkzeug.test.Client(geo_app, Response)
    response = client.get("/api/v1/postcodes/lookup")
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    assert client.get("/api/v1/postcodes/LOOKUP").status_code == 422  # a malformed postcode
    assert client.get("/api/v1/postcodes/lookup1").status_code == 422
    assert client.post("/api/v1/postcodes/lookup", json={"postcodes": []}).status_code == 200
