"""Writes over the API, on SQLite and PostgreSQL: services, delivery sites, outcomes and
patch contacts; every write route with every role and scope (none → 401, a role that may
not → 403, an editor of another organisation → 403, and nothing written), validation as
the importer's (422 naming the fields, all or nothing), If-Match (428/412), the change
events naming the key in /changes, the Atom feed and the history, the next read seeing
the write, and private emails never read back.

One demo directory per backend for the module, one key per role made once: the tests that
write make records of their own (or change fields no other test reads), and a refusal is
checked to leave the directory's tables exactly as they were."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import select

from directory import create_app
from directory.cli import cli
from directory.store.models import Base
from tests.conftest import BACKENDS, demo_copy
from tests.directory.test_keys import make_key

OWN = "oxygen-kingston-knife-crime"  # the editor's organisation runs it
OWN_SITE = "oxygen-kingston-site-1"
OTHER = "rescue-and-response"  # another organisation's
MOPAC = "GB-GOR-PC390"
#: the directory's own tables (not the geography's, nor keys' last use and rate counters)
TABLES = (
    "organisation", "service", "service_theme", "service_area", "location", "grant",
    "grant_service", "grant_area", "outcome", "patch_contact", "import_run", "change_event",
    "change_area", "data_release", "programme", "theme", "lock",
)  # fmt: skip


@pytest.fixture(scope="module", params=BACKENDS)
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp(f"writes-{request.param}")
    settings = demo_copy(request, request.param, tmp).with_overrides(
        rate_limit_writes="100000/minute"
    )
    app = create_app(settings)
    yield app
    app.extensions["directory"].db.dispose()


def _key(app: Flask, role: str, *options: str) -> dict[str, str]:
    result = app.test_cli_runner().invoke(
        cli, ["keys", "create", "--role", role, "--name", f"{role} {' '.join(options)}".strip(),
              *options, "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {json.loads(result.output)['key']}"}


@pytest.fixture(scope="module")
def keys(app: Flask) -> dict[str, dict[str, str]]:
    """One key per role: admin, officer, an editor of OWN's organisation, an editor of
    OTHER's."""
    client = app.test_client()
    own_org = client.get(f"/api/v1/services/{OWN}").json["organisation"]["ref"]
    other_org = client.get(f"/api/v1/services/{OTHER}").json["organisation"]["ref"]
    return {
        "none": {},
        "admin": _key(app, "admin"),
        "officer": _key(app, "officer"),
        "editor": _key(app, "editor", "--organisation", own_org),
        "other-editor": _key(app, "editor", "--organisation", other_org),
    }


def dump(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the directory's tables, in primary-key order."""
    out = {}
    with app.extensions["directory"].db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name in TABLES:
                order = list(table.primary_key.columns)
                rows = connection.execute(select(table).order_by(*order))
                out[table.name] = [tuple(r) for r in rows]
    return out


def etag(app: Flask, path: str) -> str:
    response = app.test_client().get(path)
    assert response.status_code == 200, response.json
    return response.headers["ETag"]


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code, response.json
    return response.json  # type: ignore[no-any-return]


def first_outcome(app: Flask, key: str) -> int:
    return app.test_client().get(f"/api/v1/services/{key}/outcomes").json["outcomes"][0]["id"]  # type: ignore[no-any-return]


def first_contact(app: Flask) -> int:
    return app.test_client().get("/api/v1/contacts?area=E09000021").json["contents"][0]["id"]  # type: ignore[no-any-return]


# -- every route × every wrong key: refused, nothing written ------------------------------------

SERVICE = {"name": "Holiday club", "coverage": ["Kingston"]}
SITE_PATH = f"/api/v1/services/{{service}}/sites/{quote(OWN_SITE)}"
#: (method, path, body): the write routes, on the editor's own organisation's records
ROUTES = {
    "create-service": ("post", "/api/v1/services", SERVICE),
    "update-service": ("patch", "/api/v1/services/{service}", {"description": "New"}),
    "withdraw-service": ("delete", "/api/v1/services/{service}", None),
    "create-site": ("post", "/api/v1/services/{service}/sites", {"postcode": "KT1 1EU"}),
    "update-site": ("patch", SITE_PATH, {"name": "Hall"}),
    "delete-site": ("delete", SITE_PATH, None),
    "create-outcome": ("post", "/api/v1/services/{service}/outcomes", {"metric": "Reached"}),
    "update-outcome": ("patch", "/api/v1/services/{service}/outcomes/{outcome}", {"value": 1}),
    "delete-outcome": ("delete", "/api/v1/services/{service}/outcomes/{outcome}", None),
    "create-contact": ("post", "/api/v1/contacts", {"area": "Kingston", "role": "Youth lead"}),
    "update-contact": ("patch", "/api/v1/contacts/{contact}", {"phone": "020 7946 0999"}),
    "delete-contact": ("delete", "/api/v1/contacts/{contact}", None),
}
CONTACT_ROUTES = ("create-contact", "update-contact", "delete-contact")
SERVICE_ROUTES = tuple(r for r in ROUTES if r not in CONTACT_ROUTES)
REFUSALS = (
    [("none", route, 401, "missing-key") for route in ROUTES]
    + [("editor", route, 403, "wrong-role") for route in CONTACT_ROUTES]
    + [("other-editor", route, 403, "wrong-organisation") for route in SERVICE_ROUTES]
)


def send(app: Flask, route: str, headers: dict[str, str], **values: Any) -> Any:
    method, path, body = ROUTES[route]
    values = {"service": OWN, **values}
    if "{outcome}" in path and "outcome" not in values:
        values["outcome"] = first_outcome(app, values["service"])
    if "{contact}" in path and "contact" not in values:
        values["contact"] = first_contact(app)
    if route == "create-service" and "organisation" not in values:
        body = {**SERVICE, "organisation": app.test_client().get(
            f"/api/v1/services/{OWN}").json["organisation"]["ref"]}  # fmt: skip
    sent = {**headers, "If-Match": "*"} if method != "post" else dict(headers)
    return getattr(app.test_client(), method)(path.format(**values), json=body, headers=sent)


@pytest.mark.parametrize(("who", "route", "status", "code"), REFUSALS)
def test_a_write_with_a_key_that_may_not_is_refused_and_writes_nothing(
    app, keys, who, route, status, code
):
    before = dump(app)
    response = send(app, route, keys[who])
    body = problem(response, status, code)
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="directory"')
    assert "lfsd_" not in json.dumps(body)
    assert dump(app) == before


def test_an_editor_creates_services_for_its_own_organisation_only(app, keys):
    other_org = app.test_client().get(f"/api/v1/services/{OTHER}").json["organisation"]["ref"]
    before = dump(app)
    response = app.test_client().post(
        "/api/v1/services", json={**SERVICE, "organisation": other_org}, headers=keys["editor"]
    )
    problem(response, 403, "wrong-organisation")
    assert dump(app) == before


# -- every route × every role that may: done -----------------------------------------------------


@pytest.mark.parametrize("role", ["editor", "officer", "admin"])
def test_every_write_route_works_for_a_role_that_may(app, keys, role):
    client = app.test_client()
    headers = keys[role]
    body = {"name": f"Holiday club ({role})", "coverage": ["Kingston"],
            "sites": [{"postcode": "KT1 1EU", "name": "Hall", "ref": "hall"}]}  # fmt: skip
    if role != "editor":
        body["organisation"] = str(client.get(f"/api/v1/services/{OWN}").json["organisation"]["id"])
    created = client.post("/api/v1/services", json=body, headers=headers)
    assert created.status_code == 201, created.json
    service = created.json["ref"]
    assert created.headers["Location"] == f"/api/v1/services/{service}"
    assert created.json["locations"][0]["ward"]["code"] == "E05013938"  # KT1 1EU: Kingston Town
    done = {"create-service": created.status_code}
    site_path = f"/api/v1/services/{service}/sites/hall"
    outcome = None
    for route in SERVICE_ROUTES[1:]:
        if route == "withdraw-service":
            continue
        if route in ("update-site", "delete-site"):
            method, _, route_body = ROUTES[route]
            response = getattr(client, method)(
                site_path, json=route_body, headers={**headers, "If-Match": etag(app, site_path)}
            )
        elif route == "create-outcome":
            response = send(app, route, headers, service=service)
            outcome = response.json["id"]
        else:
            response = send(app, route, headers, service=service, outcome=outcome)
        done[route] = response.status_code
    done["withdraw-service"] = send(app, "withdraw-service", headers, service=service).status_code
    if role != "editor":
        response = send(app, "create-contact", headers, contact=None)
        contact = response.json["id"]
        done["create-contact"] = response.status_code
        for route in ("update-contact", "delete-contact"):
            done[route] = send(app, route, headers, contact=contact).status_code
    expected = {
        route: 201 if route.startswith("create") else 204 if route.startswith("delete") else 200
        for route in (SERVICE_ROUTES if role == "editor" else ROUTES)
    }
    assert done == expected
    withdrawn = client.get(f"/api/v1/services/{service}").json
    assert withdrawn["withdrawn_at"] is not None
    assert [s["ref"] for s in withdrawn["locations"]] == [f"{service}#site-2"]


# -- If-Match -------------------------------------------------------------------------------


def test_a_change_needs_the_current_etag(app, keys):
    client = app.test_client()
    path = f"/api/v1/services/{OWN}"
    read = client.get(path)
    tag = read.headers["ETag"]
    assert not tag.startswith("W/")
    problem(client.patch(path, json={"eligibility": "Young people"}, headers=keys["editor"]),
            428, "precondition-required")  # fmt: skip
    changed = client.patch(
        path,
        json={"eligibility": "Young people 11-25"},
        headers={**keys["editor"], "If-Match": tag},
    )
    assert changed.status_code == 200, changed.json
    new_tag = changed.headers["ETag"]
    assert new_tag != tag and client.get(path).headers["ETag"] == new_tag
    assert client.get(path).json["eligibility"]["description"] == "Young people 11-25"
    before = dump(app)
    stale = client.patch(
        path, json={"eligibility": "Everyone"}, headers={**keys["editor"], "If-Match": tag}
    )
    assert problem(stale, 412, "precondition-failed")["current_etag"] == new_tag
    assert dump(app) == before
    anyway = client.patch(
        path, json={"eligibility": "Everyone"}, headers={**keys["editor"], "If-Match": "*"}
    )
    assert anyway.status_code == 200 and anyway.json["eligibility"]["description"] == "Everyone"


def test_sites_outcomes_and_contacts_send_strong_etags_of_their_body(app):
    client = app.test_client()
    for path in (
        f"/api/v1/services/{OWN}/sites/{OWN_SITE}",
        f"/api/v1/services/{OWN}/outcomes/{first_outcome(app, OWN)}",
        f"/api/v1/contacts/{first_contact(app)}",
    ):
        response = client.get(path)
        assert response.status_code == 200, (path, response.json)
        assert response.headers["ETag"].strip('"') == hashlib.sha1(response.get_data()).hexdigest()


def test_a_writes_answer_carries_its_etag_location_and_rate_limit(app, keys):
    """What the document promises a write's success: RateLimit-* on each, Location on a
    201, and the ETag of the record as written, which the next change sends as If-Match
    (every answer any test receives is also held to the headers its status documents)."""
    client = app.test_client()
    body = {"area": "Kingston", "role": "Schools lead"}
    created = client.post("/api/v1/contacts", json=body, headers=keys["officer"])
    assert created.status_code == 201, created.json
    path = created.headers["Location"]
    assert path == f"/api/v1/contacts/{created.json['id']}"
    changed = client.patch(
        path, json={"phone": "020 7946 0123"},
        headers={**keys["officer"], "If-Match": created.headers["ETag"]},
    )  # fmt: skip
    assert changed.status_code == 200, changed.json
    deleted = client.delete(path, headers={**keys["officer"], "If-Match": changed.headers["ETag"]})
    assert deleted.status_code == 204
    for response in (created, changed, deleted):
        limit = int(response.headers["RateLimit-Limit"])
        assert 0 <= int(response.headers["RateLimit-Remaining"]) < limit
        assert int(response.headers["RateLimit-Reset"]) >= 0


@pytest.mark.parametrize("accept", ["text/csv", "application/problem+json", "*/*;q=0"])
@pytest.mark.parametrize("route", ["create-service", "update-service", "create-contact",
                                   "update-contact", "delete-contact"])  # fmt: skip
def test_a_write_whose_accept_takes_no_json_is_a_406_and_writes_nothing(app, keys, route, accept):
    """Every write answers in JSON: one whose Accept header refuses it is refused before
    anything is written (it created the contact and answered 201 in JSON)."""
    before = dump(app)
    response = send(app, route, {**keys["admin"], "Accept": accept})
    assert problem(response, 406, "not-acceptable")["available"] == ["application/json"]
    assert dump(app) == before


@pytest.mark.parametrize("accept", ["application/json", "*/*", "application/*",
                                    "text/csv, application/json;q=0.1"])  # fmt: skip
def test_a_write_whose_accept_takes_json_is_done(app, keys, accept):
    body = {"area": "Kingston", "role": f"Lead ({accept})"}  # a role of its own: no 409
    headers = {**keys["admin"], "Accept": accept}
    response = app.test_client().post("/api/v1/contacts", json=body, headers=headers)
    assert response.status_code == 201, response.json
    assert response.mimetype == "application/json"


# -- validation: the importer's, all or nothing ----------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "fields"),
    [
        ("post", "/api/v1/services", {"coverage": ["Kingston"]}, {"name"}),
        ("post", "/api/v1/services", {"name": "X", "coverage": ["Atlantis"], "organisation": MOPAC},
         {"coverage"}),
        ("post", "/api/v1/services", {"name": "X", "organisation": MOPAC}, {"coverage"}),
        ("post", "/api/v1/services", {"name": "X", "coverage": ["Kingston"], "colour": "red"},
         {"colour"}),
        ("patch", f"/api/v1/services/{OWN}",
         {"email": "someone at example", "website": "javascript:alert(1)"}, {"email", "website"}),
        ("patch", f"/api/v1/services/{OWN}", {"min_age": 30, "max_age": 12}, {"min_age"}),
        ("patch", f"/api/v1/services/{OWN}", {"themes": ["Basket weaving"]}, {"themes"}),
        ("patch", f"/api/v1/services/{OWN}", {"status": "open", "name": None}, {"status", "name"}),
        # a verification cannot be in the future (it was taken, and the service never stale)
        ("patch", f"/api/v1/services/{OWN}", {"last_verified": "2030-01-01"}, {"last_verified"}),
        ("post", "/api/v1/services", {"name": "X", "coverage": ["Kingston"], "organisation": MOPAC,
                                      "last_verified": "2030-01-01"}, {"last_verified"}),
        ("post", f"/api/v1/services/{OWN}/sites", {"postcode": "SW1A 0ZZ"}, {"postcode"}),
        # outside London: found by the importer itself, after the body's checks
        ("post", f"/api/v1/services/{OWN}/sites", {"lat": 53.48, "lon": -2.24}, {"sites"}),
        # Hertfordshire, 379 m beyond Enfield: land, not the river the rule snaps
        ("post", f"/api/v1/services/{OWN}/sites", {"lat": 51.69513, "lon": -0.1029}, {"sites"}),
        ("post", f"/api/v1/services/{OWN}/outcomes",
         {"metric": "Reached", "period_start": "2025-04-01", "period_end": "2024-03-31"},
         {"period_end"}),
        ("post", f"/api/v1/services/{OWN}/outcomes",
         {"metric": "Reached", "period_start": "2025-04-01", "measured_on": "2025-03-31"},
         {"measured_on"}),
        ("post", "/api/v1/contacts", {"area": "Narnia", "role": "SPOC", "email": "x@"},
         {"area", "email"}),
    ],
)  # fmt: skip
def test_invalid_values_are_a_422_naming_the_fields_and_write_nothing(
    app, keys, method, path, body, fields
):
    before = dump(app)
    response = getattr(app.test_client(), method)(
        path, json=body, headers={**keys["officer"], "If-Match": "*"}
    )
    assert set(problem(response, 422, "invalid-input")["errors"]) == fields
    assert dump(app) == before


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/api/v1/services", f'{{"name": "Club\\ud800", "coverage": ["Kingston"], '
         f'"organisation": "{MOPAC}"}}', "name"),
        ("post", "/api/v1/services", f'{{"name": "Club", "coverage": ["Kingston"], '
         f'"organisation": "{MOPAC}", "description": "a\\u0000b"}}', "description"),
        ("patch", f"/api/v1/services/{OWN}", '{"description": "a\\u0000b"}', "description"),
        ("patch", f"/api/v1/services/{OWN}", '{"name": "\\udc00 Club"}', "name"),
        ("patch", f"/api/v1/services/{OWN}", '{"name": "Club\\u0007"}', "name"),
        ("patch", f"/api/v1/services/{OWN}", '{"themes": ["Mentoring", "\\ud83d"]}', "themes[1]"),
        ("post", "/api/v1/services", f'{{"name": "Club", "coverage": ["Kingston"], '
         f'"organisation": "{MOPAC}", "na\\u0000me": "x"}}', "na\\u0000me"),
        ("post", f"/api/v1/services/{OWN}/sites", '{"postcode": "KT1 1EU", "name": "Hall\\u0000"}',
         "name"),
        ("post", f"/api/v1/services/{OWN}/outcomes", '{"metric": "Reached\\ud800"}', "metric"),
        ("post", "/api/v1/contacts", '{"area": "Kingston", "role": "Youth lead\\u0000"}', "role"),
    ],
)  # fmt: skip
def test_text_that_cannot_be_stored_is_a_422_naming_the_field_and_writes_nothing(
    app, keys, method, path, body, field
):
    """A lone surrogate ("\\ud800") or a NUL in a JSON body, as sent over the wire: a 422
    naming the field (an escaped member name, if it is the name), never a 500 or a NUL
    stored, on SQLite and PostgreSQL (whose text cannot hold a NUL)."""
    before = dump(app)
    response = getattr(app.test_client(), method)(
        path, data=body, content_type="application/json",
        headers={**keys["officer"], "If-Match": "*"},
    )  # fmt: skip
    found = problem(response, 422, "invalid-input")
    assert list(found["errors"]) == [field]
    assert "cannot be stored" in found["detail"] and field in found["detail"]
    assert "delete it" in found["detail"] or "type the text again" in found["detail"]
    assert dump(app) == before


def test_other_refusals_are_problems(app, keys):
    client = app.test_client()
    officer = {**keys["officer"], "If-Match": "*"}
    before = dump(app)
    problem(client.patch(f"/api/v1/services/{OWN}", data="description=x", headers=officer),
            415, "unsupported-media-type")  # fmt: skip
    problem(client.patch("/api/v1/services/no-such-service", json={}, headers=officer),
            404, "service-not-found")  # fmt: skip
    problem(client.patch(f"/api/v1/services/{OWN}/sites/nowhere", json={}, headers=officer),
            404, "site-not-found")  # fmt: skip
    problem(client.delete(f"/api/v1/services/{OWN}/outcomes/999999", headers=officer),
            404, "outcome-not-found")  # fmt: skip
    problem(client.delete("/api/v1/contacts/999999", headers=officer), 404, "contact-not-found")
    problem(client.post("/api/v1/services", json={**SERVICE, "ref": OTHER, "organisation": MOPAC},
                        headers=officer), 409, "duplicate-ref")  # fmt: skip
    problem(client.post(f"/api/v1/services/{OWN}/sites", json={"ref": OWN_SITE, "name": "x"},
                        headers=officer), 409, "duplicate-ref")  # fmt: skip
    assert dump(app) == before


# -- the audit trail ----------------------------------------------------------------------------


def test_a_write_is_recorded_with_the_key_that_made_it(app, keys):
    client = app.test_client()
    path = f"/api/v1/services/{OWN}"
    response = client.patch(
        path, json={"phone": "020 7946 0555"},
        headers={**keys["editor"], "If-Match": etag(app, path)},
    )  # fmt: skip
    assert response.status_code == 200, response.json
    name = "editor --organisation " + response.json["organisation"]["ref"]
    (event,) = [
        e for e in client.get(f"{path}/history").json["contents"]
        if e["changes"].get("phone", {}).get("new") == "020 7946 0555"
    ]  # fmt: skip
    assert event["actor"] == name and event["action"] == "updated"
    run = client.get(f"/api/v1/imports/{event['import_run']}").json
    assert (run["source"], run["format"], run["actor"]) == ("api", "api", name)
    assert run["location"] == f"PATCH {path}"
    feed = client.get("/api/v1/changes?area=E09000021&entity=service").json["contents"]
    assert any(e["id"] == f"event-{event['id']}" and e["actor"] == name for e in feed)
    atom = client.get("/api/v1/changes.atom?area=E09000021").get_data(as_text=True)
    assert f"<author><name>{name}</name></author>" in atom
    assert "lfsd_" not in atom + json.dumps(feed)
    # the service stays with the source that lists it: a correction takes nothing over
    assert response.json["source"] != "api"


def test_a_write_is_read_at_once_by_every_answer(app, keys):
    """The patch answer is built from the in-memory index of the data version: a write
    makes a new data version, so the next patch answer already leaves a withdrawn
    service out."""
    client = app.test_client()
    body = {"name": "Kingston late club", "coverage": ["Kingston"]}
    created = client.post("/api/v1/services", json=body, headers=keys["editor"])
    assert created.status_code == 201, created.json
    ref = created.json["ref"]

    def listed() -> bool:
        patch = client.get("/api/v1/patch?postcode=KT1 1EU&per_page=100").json
        in_patch = any(s["ref"] == ref for s in patch["services"]["contents"])
        found = client.get("/api/v1/services?q=late club&area=Kingston").json["contents"]
        assert in_patch == any(s["ref"] == ref for s in found)
        return in_patch

    assert listed()
    tag = created.headers["ETag"]
    gone = client.delete(f"/api/v1/services/{ref}", headers={**keys["editor"], "If-Match": tag})
    assert gone.status_code == 200 and gone.json["withdrawn_at"] is not None
    assert not listed()
    back = client.patch(
        f"/api/v1/services/{ref}", json={"withdrawn": False},
        headers={**keys["editor"], "If-Match": gone.headers["ETag"]},
    )  # fmt: skip
    assert back.status_code == 200 and back.json["withdrawn_at"] is None
    assert listed()
    actions = [e["action"] for e in client.get(f"/api/v1/services/{ref}/history").json["contents"]]
    assert actions == ["restored", "withdrawn", "created"]


def test_a_sites_id_outlives_edits_of_its_service(app, keys):
    """A site's id is its OGC feature's id (``/collections/sites/items/{id}``): editing the
    service, adding a site or renaming one keeps every other site's id, and the renamed
    site's own (each of these deleted and re-inserted every site of the service until
    6 December, so a map's links and a GIS client's joins broke on a routine edit)."""
    from sqlalchemy import text

    client = app.test_client()

    def ids() -> dict[str, int]:
        with app.extensions["directory"].db.engine.connect() as connection:
            return dict(connection.execute(text(
                "SELECT l.ref, l.id FROM location l JOIN service s ON s.id = l.service_id "
                "WHERE s.ref = :ref"
            ), {"ref": OWN}).all())  # fmt: skip

    before = ids()
    assert OWN_SITE in before
    path = f"/api/v1/services/{OWN}"
    edited = client.patch(path, json={"description": "Edited for the id check"},
                          headers={**keys["officer"], "If-Match": etag(app, path)})  # fmt: skip
    assert edited.status_code == 200, edited.json
    assert ids() == before
    added = client.post(f"{path}/sites", json={"ref": "id-check-hall", "postcode": "KT1 1EU"},
                        headers=keys["officer"])  # fmt: skip
    assert added.status_code == 201, added.json
    now = ids()
    assert {k: now[k] for k in before} == before and "id-check-hall" in now
    site = f"{path}/sites/{quote(OWN_SITE)}"
    renamed = client.patch(site, json={"name": "Renamed hall"},
                           headers={**keys["officer"], "If-Match": etag(app, site)})  # fmt: skip
    assert renamed.status_code == 200, renamed.json
    assert ids() == now
    feature = client.get(f"/api/v1/ogc/collections/sites/items/{now[OWN_SITE]}")
    assert feature.status_code == 200 and feature.json["properties"]["name"] == "Renamed hall"


# -- personal data -------------------------------------------------------------------------------


def test_a_private_email_is_never_read_back(app, keys):
    client = app.test_client()
    secret = "jo.bloggs.private@example.org"
    created = client.post(
        "/api/v1/contacts",
        json={"area": "Kingston", "role": "Community lead", "name": "Jo Bloggs", "email": secret},
        headers=keys["officer"],
    )
    assert created.status_code == 201, created.json
    assert created.json["email"] is None and created.json["name"] == "Jo Bloggs"
    path = created.headers["Location"]
    changed = client.patch(
        path, json={"email": "jo.other.private@example.org"},
        headers={**keys["officer"], "If-Match": created.headers["ETag"]},
    )  # fmt: skip
    assert changed.status_code == 200, changed.json
    reads = [
        path, "/api/v1/contacts?area=Kingston", f"/api/v1/services/{OWN}",
        "/api/v1/patch?postcode=KT1 1EU", "/api/v1/changes?area=Kingston",
        "/api/v1/changes.atom?area=Kingston", "/api/v1/hsds/services?per_page=50",
    ]  # fmt: skip
    for read in reads:
        text = client.get(read).get_data(as_text=True)
        assert "private@example.org" not in text, read
    patch = client.get("/api/v1/patch?postcode=KT1 1EU").get_data(as_text=True)
    assert "Jo Bloggs" in patch
    # the demo's role mailboxes, published before migration 0011, are still shown
    assert "spoc@kingston-upon-thames.example.gov.uk" in patch
    public = client.patch(
        path, json={"email_public": True},
        headers={**keys["officer"], "If-Match": changed.headers["ETag"]},
    )  # fmt: skip
    assert public.json["email"] == "jo.other.private@example.org"


def test_a_change_to_a_private_email_moves_the_etag(app, keys):
    """Two officers correct a private address from the same read: the second is a 412, not
    a silent overwrite (the ETag hashed what reads show, so a change to a private email left
    it as it was until 6 December; now ``version``, the changes recorded, moves it)."""
    client = app.test_client()
    created = client.post(
        "/api/v1/contacts", json={"area": "Kingston", "role": "Private lead", "email": "a@x.org"},
        headers=keys["officer"],
    )  # fmt: skip
    path, read = created.headers["Location"], created.headers["ETag"]
    assert created.json["version"] == 1
    first = client.patch(path, json={"email": "fixed@x.org"},
                         headers={**keys["officer"], "If-Match": read})  # fmt: skip
    assert first.status_code == 200 and first.json["version"] == 2
    assert first.headers["ETag"] != read and first.json["email"] is None
    second = client.patch(path, json={"email": "typo@x.org"},
                          headers={**keys["officer"], "If-Match": read})  # fmt: skip
    assert second.status_code == 412 and second.json["current_etag"] == first.headers["ETag"]
    assert client.get(path).headers["ETag"] == first.headers["ETag"]


def test_an_outcome_is_written_with_when_it_was_measured(app, keys):
    """measured_on round-trips; Oxygen's funding (the demo's 2023/24 regrant) ended on
    2024-03-31, so 2025-09-30 is 18 months after (2024-04-01 to 2025-10-01); cleared, the
    period's end (during funding) is taken."""
    client = app.test_client()
    added = client.post(
        f"/api/v1/services/{OWN}/outcomes",
        json={"metric": "Follow-up check", "value": 5, "period_start": "2023-04-01",
              "period_end": "2024-03-31", "measured_on": "2025-09-30"},
        headers=keys["editor"],
    )  # fmt: skip
    assert added.status_code == 201, added.json
    assert added.json["measured"] == {"on": "2025-09-30", "basis": "measured_on"}
    assert added.json["after_funding_months"] == 18
    assert added.json["funding_ended"] == "2024-03-31"
    url = added.headers["Location"]
    cleared = client.patch(
        url,
        json={"measured_on": None},
        headers={**keys["editor"], "If-Match": added.headers["ETag"]},
    )
    assert cleared.status_code == 200, cleared.json
    assert cleared.json["measured"] == {"on": "2024-03-31", "basis": "period_end"}
    assert cleared.json["after_funding_months"] is None
    gone = client.delete(url, headers={**keys["editor"], "If-Match": cleared.headers["ETag"]})
    assert gone.status_code == 204


# -- each record's history -----------------------------------------------------------------------


def test_an_outcome_named_at_length_is_written_and_in_its_services_history(app, keys):
    """An outcome's metric may be 300 characters, and its change events' ref is "<service
    ref>: <metric> <period>": longer than that column holds (160), which PostgreSQL refused
    (a 503, found by Schemathesis with a key); SQLite kept it whole. The ref is shortened
    to fit ("…"), its service's prefix kept, so the service's history still lists it."""
    client = app.test_client()
    metric = "Young people reached " + "x" * 279
    added = client.post(
        f"/api/v1/services/{OWN}/outcomes",
        json={"metric": metric, "value": 3, "period_start": "2026-04-01", "period_end": "2027-03-31"},
        headers=keys["editor"],
    )  # fmt: skip
    assert added.status_code == 201, added.json
    assert added.json["metric"] == metric
    history = client.get(f"/api/v1/services/{OWN}/history?per_page=100").json["contents"]
    (event,) = [e for e in history if e["entity"] == "outcome" and "x" * 100 in e["entity_ref"]]
    assert event["action"] == "created" and len(event["entity_ref"]) == 160
    assert event["entity_ref"] == f"{OWN}: {metric}"[:159] + "…"


def test_a_services_history_holds_its_outcomes_and_a_contact_and_opportunity_theirs(app, keys):
    client = app.test_client()
    added = client.post(
        f"/api/v1/services/{OWN}/outcomes",
        json={"metric": "History check", "value": 3, "period_start": "2026-04-01",
              "period_end": "2027-03-31"},
        headers=keys["editor"],
    )  # fmt: skip
    assert added.status_code == 201, added.json
    outcome_url = added.headers["Location"]
    gone = client.delete(outcome_url, headers={**keys["editor"], "If-Match": added.headers["ETag"]})
    assert gone.status_code in (200, 204), gone.get_data(as_text=True)
    history = client.get(f"/api/v1/services/{OWN}/history?per_page=100").json["contents"]
    mine = [e for e in history if e["entity"] == "outcome" and "History check" in e["entity_ref"]]
    assert [e["action"] for e in mine] == ["deleted", "created"]
    assert all(e["entity_ref"].startswith(f"{OWN}: ") for e in history if e["entity"] == "outcome")
    assert {e["entity"] for e in history} <= {"service", "outcome"}
    # another service's outcomes stay out of it (a ref that only begins the same does too)
    other = client.get("/api/v1/services/oxygen-kingston/history?per_page=100")
    assert other.status_code == 404 or all(
        "History check" not in e["entity_ref"] for e in other.json["contents"]
    )

    contact = client.post(
        "/api/v1/contacts", json={"area": "Kingston", "role": "History lead", "name": "A. Lead"},
        headers=keys["officer"],
    )  # fmt: skip
    path = contact.headers["Location"]
    client.patch(path, json={"name": "B. Lead"},
                 headers={**keys["officer"], "If-Match": contact.headers["ETag"]})  # fmt: skip
    events = client.get(f"{path}/history").json["contents"]
    assert [e["action"] for e in events] == ["updated", "created"]
    assert events[0]["changes"]["name"] == {"old": "A. Lead", "new": "B. Lead"}
    assert events[0]["actor"] == "officer"
    problem(client.get("/api/v1/contacts/999999/history"), 404, "contact-not-found")

    opportunity = client.get("/api/v1/opportunities?per_page=1").json["contents"][0]
    url = f"/api/v1/opportunities/{opportunity['ref']}"
    changed = client.patch(
        url, json={"title": opportunity["title"] + " (revised)"},
        headers={**keys["officer"], "If-Match": etag(app, url)},
    )  # fmt: skip
    assert changed.status_code == 200, changed.json
    (event, *_) = client.get(f"{url}/history").json["contents"]
    assert event["entity"] == "opportunity" and event["actor"] == "officer"
    assert event["changes"]["title"]["new"].endswith("(revised)")
    problem(client.get("/api/v1/opportunities/no-such-round/history"), 404,
            "opportunity-not-found")  # fmt: skip


def _taking_json(client: Any) -> list[tuple[str, str, str, bool]]:
    """Every operation the OpenAPI document says takes a JSON body, found from it so that a
    new route cannot be forgotten: (method, path, a URL of it, whether it takes a form)."""
    document = client.get("/api/v1/openapi.json").get_json()
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = (
                operation.get("requestBody", {}).get("content", {})
                if isinstance(operation, dict)
                else {}
            )
            if "application/json" in content:
                url = path.replace("{feedback_id}", "1").replace("{note_id}", "1")
                url = url.replace("{outcome_id}", "1").replace("{contact_id}", "1")
                url = url.replace("{key}", "S-1").replace("{site_ref}", "site-1")
                found.append((method, path, url, "application/x-www-form-urlencoded" in content))
    assert ("post", "/api/v1/patch/lookup") in [f[:2] for f in found] and len(found) > 10
    return found


def test_every_json_body_route_answers_another_type_with_415(writable_app: Flask) -> None:
    """Every operation taking a JSON body (lookups, writes, opportunities, practice notes,
    moderation) answers a CSV or a form with a 415 naming application/json, never a 422
    saying the body's members are missing."""
    client = writable_app.test_client()
    key = make_key(writable_app, "admin")["key"]
    for method, path, url, form in _taking_json(client):
        for content_type, data in (
            ("text/csv", "postcode\nKT1 1EU\n"),
            *([] if form else [("application/x-www-form-urlencoded", "postcodes=KT1 1EU")]),
        ):
            answer = client.open(
                url, method=method.upper(), data=data, content_type=content_type,
                headers={"Authorization": f"Bearer {key}", "If-Match": "*"},
            )  # fmt: skip
            assert answer.status_code == 415, (method, path, content_type, answer.json)
            assert answer.mimetype == "application/problem+json"
            assert answer.json["code"] == "unsupported-media-type"
            assert "application/json" in answer.json["detail"]


def test_every_json_body_route_refuses_json_that_is_not_utf8_alike(writable_app: Flask) -> None:
    """A body with a byte order mark, or in UTF-16 or UTF-32, is the same 400 on every
    operation taking JSON (some routes' parsers read it, others answered "Invalid JSON
    body"), naming what to send."""
    client = writable_app.test_client()
    key = make_key(writable_app, "admin")["key"]
    text = json.dumps({"postcodes": ["KT1 1EU"], "name": "Café"}, ensure_ascii=False)
    encoded = [b"\xef\xbb\xbf" + text.encode(), text.encode("utf-16"),
               text.encode("utf-16-le"), text.encode("utf-32")]  # fmt: skip
    for method, path, url, _form in _taking_json(client):
        for data in encoded:
            answer = client.open(
                url, method=method.upper(), data=data, content_type="application/json",
                headers={"Authorization": f"Bearer {key}", "If-Match": "*"},
            )  # fmt: skip
            assert answer.status_code == 400, (method, path, data[:4], answer.json)
            assert answer.json["code"] == "bad-request"
            assert "in UTF-8, without a byte order mark" in answer.json["detail"]


def test_a_write_without_a_key_is_the_401_whatever_its_body_holds(app, keys):
    """A keyless write holding text that cannot be stored: the 401 (a request missing its
    required Authorization header is refused for that first, RFC 9110 and schemathesis's
    ST203), not the 422 its text gets once a key is given."""
    body = f'{{"name": "Club\\u0007", "coverage": ["Kingston"], "organisation": "{MOPAC}"}}'
    client = app.test_client()
    refused = client.post("/api/v1/services", data=body, content_type="application/json")
    problem(refused, 401, "missing-key")
    judged = client.post(
        "/api/v1/services", data=body, content_type="application/json", headers=keys["officer"]
    )
    assert list(problem(judged, 422, "invalid-input")["errors"]) == ["name"]


#: ids no row can have: past PostgreSQL's INTEGER ids, past what SQLite can bind (2**63)
IDS_PAST_ANY_ROW = (2**31, 2**63, 2**64 + 1, 10**30)


def test_an_id_no_row_can_have_is_not_found_on_every_route_that_takes_one(app, keys):
    """Every route with a number in its path (found in the URL map, so a new one is
    checked too), every method, asked by an admin with an id past any row's: the route's
    404 problem, never a 500 (SQLite cannot bind an int past 2**63), and nothing written."""
    client = app.test_client()
    admin = {**keys["admin"], "If-Match": "*"}
    before = dump(app)
    asked = 0
    for rule in app.url_map.iter_rules():
        numbers = re.findall(r"<int:(\w+)>", rule.rule)
        if not numbers:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for number in IDS_PAST_ANY_ROW:
                values = {name: (number if name in numbers else OWN) for name in rule.arguments}
                path = rule.build(values, append_unknown=False)[1]
                answer = client.open(path, method=method, json={}, headers=admin)
                assert answer.status_code == 404, (method, path, answer.get_data(as_text=True))
                assert answer.mimetype == "application/problem+json", (method, path)
                asked += 1
    assert asked >= 13 * len(IDS_PAST_ANY_ROW)  # (the routes of contacts, outcomes, notes...)
    assert dump(app) == before


#: (route, member, value of another JSON type than its schema's): text for a number or a
#: boolean, a number for a boolean, a fraction for a whole number, a boolean for a number
MISTYPED = [
    ("update-service", "min_age", "12"), ("update-service", "max_age", 12.5),
    ("update-service", "min_age", True), ("update-service", "withdrawn", 1),
    ("update-service", "withdrawn", "yes"), ("update-site", "lat", "51.41"),
    ("update-site", "lon", False), ("update-outcome", "value", "1.5"),
    ("update-outcome", "target", True), ("update-contact", "email_public", 0),
    ("update-contact", "email_public", "true"),
]  # fmt: skip


KINDS = {"min_age": "integer", "max_age": "integer", "withdrawn": "boolean", "lat": "number",
         "lon": "number", "value": "number", "target": "number", "email_public": "boolean"}  # fmt: skip


def test_a_body_value_of_another_type_than_its_schema_says_is_refused(app, keys):
    """A JSON body's values have the types the OpenAPI document gives them: "12" for an
    integer, 1 or "yes" for a boolean, 12.5 for a whole number is a 422 naming the field
    (marshmallow's fields took them: 12.5 was stored as 12), and nothing is written.
    The same values of the right type are taken."""
    client = app.test_client()
    before = dump(app)
    for route, member, value in MISTYPED:
        method, path, _ = ROUTES[route]
        values = {"service": OWN, "outcome": first_outcome(app, OWN), "contact": first_contact(app)}
        url = path.format(**values)
        sent = {**keys["admin"], "If-Match": "*"}
        refused = getattr(client, method)(url, json={member: value}, headers=sent)
        kind = KINDS[member]
        assert problem(refused, 422, "invalid-input")["errors"] == {
            member: [f"Not a valid {kind}."]
        }, (route, member, value)
    assert dump(app) == before
    for route, member, value in [
        ("update-service", "min_age", 12.0),
        ("update-outcome", "value", 3),
    ]:
        method, path, _ = ROUTES[route]
        url = path.format(service=OWN, outcome=first_outcome(app, OWN))
        sent = {**keys["admin"], "If-Match": "*"}
        taken = getattr(client, method)(url, json={member: value}, headers=sent)
        assert taken.status_code == 200, (route, taken.json)


def test_a_withdrawn_services_sites_are_not_changed_until_it_is_restored(app, keys):
    """A site written to a withdrawn service restored it without saying so (the import of
    the record lists it again): adding, changing or removing one is a 409
    service-withdrawn, nothing written; its outcomes may still be reported, and it stays
    withdrawn; restored, its sites change again."""
    client = app.test_client()
    body = {"name": "Kingston summer club", "coverage": ["Kingston"],
            "sites": [{"postcode": "KT1 1EU", "ref": "hall"}]}  # fmt: skip
    created = client.post("/api/v1/services", json=body, headers=keys["editor"])
    assert created.status_code == 201, created.json
    ref = created.json["ref"]
    gone = client.delete(
        f"/api/v1/services/{ref}", headers={**keys["editor"], "If-Match": created.headers["ETag"]}
    )
    assert gone.status_code == 200
    before = dump(app)
    site = f"/api/v1/services/{ref}/sites/hall"
    tag = etag(app, site)
    for response in (
        client.post(f"/api/v1/services/{ref}/sites", json={"postcode": "KT1 1EU"},
                    headers=keys["editor"]),
        client.patch(site, json={"name": "Hall"}, headers={**keys["editor"], "If-Match": tag}),
        client.delete(site, headers={**keys["editor"], "If-Match": tag}),
    ):  # fmt: skip
        assert "restore it first" in problem(response, 409, "service-withdrawn")["detail"]
    assert dump(app) == before
    reported = client.post(
        f"/api/v1/services/{ref}/outcomes", json={"metric": "Young people reached", "value": 12},
        headers=keys["editor"],
    )  # fmt: skip
    assert reported.status_code == 201, reported.json
    assert client.get(f"/api/v1/services/{ref}").json["withdrawn_at"] is not None
    back = client.patch(
        f"/api/v1/services/{ref}", json={"withdrawn": False},
        headers={**keys["editor"], "If-Match": etag(app, f"/api/v1/services/{ref}")},
    )  # fmt: skip
    assert back.status_code == 200
    moved = client.patch(
        site, json={"name": "Hall"}, headers={**keys["editor"], "If-Match": etag(app, site)}
    )
    assert moved.status_code == 200, moved.json


def test_new_sites_without_refs_are_numbered(app, keys):
    """A service created with several sites and no refs of theirs gets ``#site-1``,
    ``#site-2`` …, as a site added later does (each was ``#site-1``: a 422 "two sites have
    the same ref")."""
    client = app.test_client()
    body = {"name": "Two halls", "coverage": ["Kingston"],
            "sites": [{"name": "A", "postcode": "KT1 1EU"}, {"name": "B", "postcode": "KT1 1EU"},
                      {"name": "C", "ref": "c"}]}  # fmt: skip
    created = client.post("/api/v1/services", json=body, headers=keys["editor"])
    assert created.status_code == 201, created.json
    ref = created.json["ref"]
    assert {s["name"]: s["ref"] for s in created.json["locations"]} == {
        "A": f"{ref}#site-1", "B": f"{ref}#site-2", "C": "c",
    }  # fmt: skip
    added = client.post(f"/api/v1/services/{ref}/sites", json={"name": "D"}, headers=keys["editor"])
    assert added.status_code == 201 and added.json["ref"] == f"{ref}#site-4"


def test_a_page_link_to_a_path_beyond_ascii_is_percent_encoded(app, keys):
    """A paged answer's ``Link`` header names its path as a URI: a service's ref with é or
    € (which a write accepts) in it percent-encoded. Sent as the path's text, the header
    was not Latin-1 and gunicorn answered 500; the links lead back to the same pages."""
    client = app.test_client()
    body = {"name": "Café club", "ref": "café-€-club", "coverage": ["Kingston"]}
    created = client.post("/api/v1/services", json=body, headers=keys["officer"])
    if created.status_code == 422:  # (an officer names the organisation)
        organisation = client.get(f"/api/v1/services/{OWN}").json["organisation"]["ref"]
        created = client.post(
            "/api/v1/services", json={**body, "organisation": organisation}, headers=keys["officer"]
        )
    assert created.status_code == 201, created.json
    path = f"/api/v1/services/{quote('café-€-club')}/history"
    response = client.get(path + "?per_page=1")
    assert response.status_code == 200, response.json
    link = response.headers["Link"]
    assert link.isascii() and "/api/v1/services/caf%C3%A9-%E2%82%AC-club/history?" in link
    first = re.search(r'<([^>]+)>; rel="first"', link)
    assert first is not None
    again = client.get(first.group(1).removeprefix("http://localhost"))
    assert again.status_code == 200 and again.json == response.json


NON_CANONICAL = ("0{id}", "00{id}", "١", "٩٤", "²", "①", "{id}\u0660")


@pytest.mark.parametrize("form", NON_CANONICAL)
def test_an_id_in_a_path_is_written_as_the_api_writes_it(app, keys, form):
    """Every ``<int:…>`` route takes an id as the API writes it: ASCII digits without a
    leading zero. Werkzeug's converter took "094" and Arabic-Indic digits, so a contact had
    many URLs (and a PATCH to one wrote); now each names nothing (a 404), nothing written."""
    client = app.test_client()
    contact = first_contact(app)
    assert client.get(f"/api/v1/contacts/{contact}").status_code == 200
    before = dump(app)
    rules = [r for r in app.url_map.iter_rules() if "<int:" in r.rule]
    assert rules
    for rule in rules:
        path = re.sub(r"<int:\w+>", form.format(id=contact), rule.rule)
        path = re.sub(r"<(?:string:)?\w+>", OWN, path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            headers = {**keys["admin"], "If-Match": "*"}
            response = client.open(quote(path), method=method, json={"name": "x"}, headers=headers)
            assert response.status_code == 404, (method, path, response.status_code)
            assert response.mimetype == "application/problem+json"
    assert dump(app) == before
