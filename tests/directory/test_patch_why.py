"""Why a service is (or is not) in a patch (``GET /api/v1/patch/why``), on the demo
directory on SQLite and PostgreSQL: it agrees with the patch's own listing, walked page by
page, for every demo service at a sample of places and filters; and each check says why."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, text

from directory import create_app
from directory.store.models import Service
from directory.web import http
from tests.conftest import BACKENDS, demo_copy

#: places: postcodes (one with a demo site 600 m away), points, and areas of each level
PLACES = [
    "postcode=SW2+1RW",
    "postcode=KT1+1EU",
    "postcode=E8+1DY",
    "lat=51.5&lon=-0.12&radius=10000",  # most of the demo's sites nearby
    "easting=530919&northing=175202&radius=5000",
    "area=Lambeth",
    "area=bcu-central-south",
    "area=E12000007",
    "area=E05014095",  # a ward (Brixton Acre Lane)
]
FILTERS = [
    "",
    "&status=any",
    "&theme=youth-diversion",
    "&programme=lcpf-direct",
    "&live_on=2023-06-01",
    "&q=knife",
    "&q=crime+-hate",
]
PER_PAGE = 3


def _listing(client, query):
    """Every service of the patch in its order, with its relations, walking its pages."""
    listed, page = [], 1
    while True:
        body = client.get(f"/api/v1/patch?{query}&per_page={PER_PAGE}&page={page}").json
        listed.extend((s["id"], s["relations"]) for s in body["services"]["contents"])
        if body["services"]["last_page"] or not body["services"]["contents"]:
            assert len(listed) == body["services"]["total_items"]
            return listed
        page += 1


FILTER_CHECKS = ("status", "theme", "programme", "live_on", "q")


@pytest.mark.parametrize("place", PLACES)
def test_in_patch_and_position_agree_with_the_patch_walked_page_by_page(shared_client, place):
    client = shared_client
    ids = [s["id"] for s in client.get("/api/v1/services?per_page=100").json["contents"]]
    assert len(ids) > 40
    # each place without filters and with one of them (in turn), and every service for each
    chosen = ["", FILTERS[1 + PLACES.index(place) % (len(FILTERS) - 1)]]
    seen_in = seen_out = 0
    for filters in chosen:
        query = place + filters
        listed = _listing(client, query)
        where = {sid: (position, relations) for position, (sid, relations) in enumerate(listed)}
        for sid in ids:
            response = client.get(f"/api/v1/patch/why?{query}&service={sid}&per_page={PER_PAGE}")
            assert response.status_code == 200, (query, sid, response.json)
            body = response.json
            assert body["service"]["id"] == sid
            assert body["in_patch"] == (sid in where), (query, sid, body["reasons"])
            checks = {r["check"]: r["passed"] for r in body["reasons"]}
            # the checks say the same: every filter passes, and its coverage or a site does
            expected = all(checks[c] for c in FILTER_CHECKS if c in checks) and (
                checks["coverage"] or checks["sites"]
            )
            assert body["in_patch"] == expected, (query, sid, body["reasons"])
            if sid in where:
                position, relations = where[sid]
                assert body["position"] == position + 1, (query, sid)
                assert body["page"] == position // PER_PAGE + 1
                assert body["relations"] == relations, (query, sid)
                seen_in += 1
            else:
                assert "position" not in body and "relations" not in body
                seen_out += 1
    assert seen_in and seen_out


def test_the_place_is_resolved_as_the_patch_resolves_it(shared_client):
    for place in ("postcode=SW2+1RW", "lat=51.5&lon=-0.12", "area=Lambeth"):
        patch = shared_client.get(f"/api/v1/patch?{place}").json
        why = shared_client.get(f"/api/v1/patch/why?{place}&service=1").json
        for key in ("postcode", "ward", "borough", "bcu", "region", "area", "match", "flags"):
            assert why.get(key) == patch.get(key), (place, key)
        assert why["filters"] == patch["filters"]


def _reason(body, check):
    (found,) = [r for r in body["reasons"] if r["check"] == check]
    return found


def test_a_service_covering_another_borough_says_which(shared_client):
    # the Lambeth LCPF service asked about in Hackney, by its ref
    body = shared_client.get("/api/v1/patch/why?postcode=E8+1DY&service=lcpf-E09000022").json
    assert body["in_patch"] is False and body["service"]["ref"] == "lcpf-E09000022"
    coverage = _reason(body, "coverage")
    assert coverage["passed"] is False
    assert [a["code"] for a in coverage["areas"]] == ["E09000022"]
    assert "Lambeth (borough), not" in coverage["detail"]
    assert "Hackney (borough)" in coverage["detail"]
    # and in Lambeth it serves the borough, and is listed for it
    here = shared_client.get("/api/v1/patch/why?postcode=SW2+1RW&service=lcpf-E09000022").json
    assert here["in_patch"] is True and _reason(here, "coverage")["passed"] is True
    assert "the patch's borough (serves_borough)" in _reason(here, "coverage")["detail"]
    assert [r["relation"] for r in here["relations"]] == ["serves_borough"]


def test_a_pan_london_service_is_there_because_it_serves_london(shared_client):
    url = "/api/v1/patch/why?postcode=KT1+1EU&service=london-victim-and-witness-service"
    body = shared_client.get(url).json
    assert body["in_patch"] is True
    assert _reason(body, "coverage")["detail"].startswith(
        "Its coverage names London, all of London"
    )
    assert [r["relation"] for r in body["relations"]] == ["serves_london"]


def test_a_site_too_far_gives_its_distance_and_the_radius(shared_client):
    # Oxygen's Kingston site (KT1 1AE, Kingston Town) from Lambeth: kilometres away
    url = "/api/v1/patch/why?postcode=SW2+1RW&service=oxygen-kingston-knife-crime"
    body = shared_client.get(url).json
    sites = _reason(body, "sites")
    assert body["in_patch"] is False and sites["passed"] is False
    assert sites["distance_m"] > 10000 and sites["radius_m"] == 2000
    assert sites["site"]["postcode"] == "KT1 1AE"
    assert f"is {sites['distance_m']:,} m away, beyond the 2,000 m radius" in sites["detail"]
    assert "Kingston Town, Kingston upon Thames" in sites["detail"]
    # its distance is the one the patch gives when the site is within the radius
    near = shared_client.get(url.replace("SW2+1RW", "KT1+1EU") + "&radius=10000").json
    assert near["in_patch"] is True
    (nearby,) = [r for r in near["relations"] if r["relation"] == "site_nearby"]
    assert _reason(near, "sites")["distance_m"] == nearby["distance_m"]
    assert "within the 10,000 m radius" in _reason(near, "sites")["detail"]


def test_a_service_without_sites_says_so(shared_client):
    for place in ("postcode=SW2+1RW", "area=Lambeth"):
        body = shared_client.get(f"/api/v1/patch/why?{place}&service=lcpf-E09000002").json
        sites = _reason(body, "sites")
        assert sites["passed"] is False and "no delivery site on record" in sites["detail"]
        assert "distance_m" not in sites


def test_a_site_inside_the_area_asked_for(shared_client):
    body = shared_client.get("/api/v1/patch/why?area=Lambeth&service=demo-lambeth-vawg-hub").json
    sites = _reason(body, "sites")
    assert sites["passed"] is True and sites["site"]["postcode"] == "SW9 0AA"
    assert "inside Lambeth" in sites["detail"]
    assert [r["relation"] for r in body["relations"]] == ["site_in_area", "serves_borough"]
    away = shared_client.get("/api/v1/patch/why?area=Hackney&service=demo-lambeth-vawg-hub").json
    assert _reason(away, "sites")["passed"] is False
    assert "None of its 1 delivery site is inside Hackney" in _reason(away, "sites")["detail"]


def test_a_theme_filter_names_the_themes_it_lacks(shared_client):
    url = "/api/v1/patch/why?area=Lambeth&service=demo-lambeth-vawg-hub"
    body = shared_client.get(url + "&theme=vawg&theme=youth-diversion").json
    theme = _reason(body, "theme")
    assert body["in_patch"] is False and theme["passed"] is False
    assert theme["missing"] == ["youth-diversion"]
    assert "its themes are: sexual-violence, vawg" in theme["detail"]
    assert _reason(body, "coverage")["passed"] is True  # in its area, filtered out
    assert _reason(shared_client.get(url + "&theme=vawg").json, "theme")["passed"] is True


def test_programme_live_on_and_q_checks_name_grants_and_words(shared_client):
    url = "/api/v1/patch/why?area=Kingston&service=oxygen-kingston-knife-crime"
    body = shared_client.get(url + "&programme=snb").json
    programme = _reason(body, "programme")
    assert programme["passed"] is False and body["in_patch"] is False
    assert "demo-kingston-snb-oxygen-2023-24 (2023-04-01 to 2024-03-31)" in programme["detail"]
    then = shared_client.get(url + "&programme=snb&live_on=2023-06-01").json
    assert then["in_patch"] is True
    assert _reason(then, "programme")["passed"] and _reason(then, "live_on")["passed"]
    other = shared_client.get(url + "&programme=victims&live_on=2023-06-01").json
    assert _reason(other, "programme")["detail"] == "It holds no grant from programme victims."
    assert _reason(other, "live_on")["passed"] is True and other["in_patch"] is False
    words = shared_client.get(url + "&q=knife+mentoring+-oxygen").json
    q = _reason(words, "q")
    assert q["passed"] is False and q["missing"] == ["mentoring"] and q["excluded"] == ["oxygen"]
    assert '"mentoring" starts no word' in q["detail"]
    assert _reason(shared_client.get(url + "&q=knife").json, "q")["passed"] is True


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("postcode=SW2+1RW", 422, "invalid-input"),  # no service
        ("postcode=SW2+1RW&service=no-such-service", 404, "service-not-found"),
        ("postcode=SW2+1RW&service=99999", 404, "service-not-found"),
        (f"postcode=SW2+1RW&service={2**31}", 404, "service-not-found"),  # past an INTEGER
        (f"postcode=SW2+1RW&service={10**30}", 404, "service-not-found"),
        ("postcode=SW2+1RW&service=1&format=geojson", 400, "unknown-parameter"),  # JSON only
        ("postcode=SW2+1RW&service=1&page=0", 422, "invalid-input"),  # as /patch says
        ("postcode=SW2+1RW&service=1&include_other_programmes=maybe", 422, "invalid-input"),
        ("service=1", 422, "invalid-input"),  # no place
        ("postcode=SW2+1RW&area=Lambeth&service=1", 422, "invalid-input"),
        ("postcode=not+a+postcode&service=1", 422, "invalid-postcode"),
        ("postcode=M1+1AE&service=1", 404, "outside-coverage"),
        ("area=Lambeth&radius=500&service=1", 422, "invalid-input"),
        ("area=Nowhereshire&service=1", 404, "area-not-found"),
        ("area=Lambeth&theme=no-such-theme&service=1", 422, "invalid-input"),
        ("area=Lambeth&programme=no-such-programme&service=1", 404, "programme-not-found"),
        ("area=Lambeth&per_page=0&service=1", 422, "invalid-input"),
    ],
)
def test_problems_are_the_patchs_as_problem_json(shared_client, query, status, code):
    response = shared_client.get(f"/api/v1/patch/why?{query}")
    assert response.status_code == status, response.json
    assert response.mimetype == http.PROBLEM_MIMETYPE
    assert response.json["code"] == code


def test_a_patch_url_with_service_added_is_answered_its_page_left_aside(shared_client):
    """A SPOC looking at page 3 of their patch adds `service=` to the URL and asks
    /patch/why: the page they were on, and funding's programmes, change nothing."""
    query = "postcode=SW2+1RW&service=oxygen-kingston-knife-crime&per_page=5"
    plain = shared_client.get(f"/api/v1/patch/why?{query}")
    pasted = shared_client.get(f"/api/v1/patch/why?{query}&page=3&include_other_programmes=true")
    assert plain.status_code == pasted.status_code == 200, pasted.json
    assert pasted.json == plain.json


def test_an_answer_is_tagged_by_the_data_version_and_revalidates(shared_client):
    url = "/api/v1/patch/why?postcode=SW2+1RW&service=1"
    first = shared_client.get(url)
    assert first.headers["ETag"]
    again = shared_client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


@pytest.fixture(scope="module", params=BACKENDS)
def changed_demo_app(request, tmp_path_factory):
    """A copy of the demo directory with Islington's mentoring service inactive and
    Hackney's hate crime service withdrawn (before the index is first built)."""
    tmp = tmp_path_factory.mktemp("why")
    app = create_app(demo_copy(request, request.param, tmp))
    with app.extensions["directory"].db.engine.begin() as connection:
        connection.execute(
            text("UPDATE service SET status = 'inactive' WHERE ref = :ref"),
            {"ref": "demo-islington-youth-mentoring"},
        )
        connection.execute(
            text("UPDATE service SET withdrawn_at = :at WHERE ref = :ref"),
            {"ref": "demo-hackney-hate-crime", "at": "2026-01-02 03:04:05"},
        )
    yield app
    app.extensions["directory"].db.dispose()


def test_an_inactive_service_is_left_out_unless_status_says_otherwise(changed_demo_app):
    client = changed_demo_app.test_client()
    url = "/api/v1/patch/why?area=Islington&service=demo-islington-youth-mentoring"
    body = client.get(url).json
    status = _reason(body, "status")
    assert body["in_patch"] is False and status["passed"] is False
    assert status["status"] == "inactive"
    assert status["detail"].startswith("It is inactive; the patch lists active services only")
    assert _reason(body, "coverage")["passed"] is True  # it would be there but for its status
    listed = client.get(url + "&status=any").json
    assert listed["in_patch"] is True and _reason(listed, "status")["passed"] is True
    patch = client.get("/api/v1/patch?area=Islington&status=any").json["services"]["contents"]
    assert [s["ref"] for s in patch].index("demo-islington-youth-mentoring") + 1 == listed[
        "position"
    ]


def test_a_withdrawn_service_is_in_no_patch_and_says_when(changed_demo_app):
    client = changed_demo_app.test_client()
    for place in ("area=Hackney", "postcode=E8+1DY&status=any"):
        body = client.get(f"/api/v1/patch/why?{place}&service=demo-hackney-hate-crime").json
        assert body["in_patch"] is False
        assert body["service"]["ref"] == "demo-hackney-hate-crime"
        assert body["service"]["status"] == "withdrawn"
        assert body["reasons"] == [
            {
                "check": "status",
                "passed": False,
                "status": "withdrawn",
                "detail": "It was withdrawn on 2026-01-02: a withdrawn service is in no patch "
                "(its coverage and sites are not checked).",
            }
        ]


def test_a_service_written_after_the_index_was_read_says_to_ask_again(changed_demo_app):
    """A worker answers from the index of the data version it last read (rebuilt in the
    background while serving): a service written since, not in it yet, is said to be so,
    not called missing from the patch for a reason it does not have."""
    client = changed_demo_app.test_client()
    assert client.get("/api/v1/patch?area=Islington").status_code == 200  # (the index read)
    with changed_demo_app.extensions["directory"].db.engine.begin() as connection:
        row = connection.execute(
            select(Service.__table__).where(Service.ref == "demo-islington-youth-mentoring")
        ).mappings().one()  # fmt: skip
        late = {**row, "ref": "late-islington-mentoring", "name": "Late mentoring"}
        del late["id"]
        connection.execute(insert(Service.__table__), [late])  # (no data release: unseen)
    body = client.get("/api/v1/patch/why?area=Islington&service=late-islington-mentoring").json
    assert body["in_patch"] is False and body["service"]["ref"] == "late-islington-mentoring"
    assert body["reasons"] == [
        {
            "check": "status",
            "passed": False,
            "status": "inactive",
            "detail": "It was added or restored after the data the patch answers from was "
            "read: ask again in a minute.",
        }
    ]
