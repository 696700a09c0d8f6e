"""Practice notes ("share what works"), on SQLite and PostgreSQL: every write route with
every role and organisation, If-Match, validation, and the public reads' filters (theme,
area, service) against an independent computation from the tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from directory import create_app
from directory.store.models import Area, Location, Organisation, Outcome, Service, ServiceArea
from tests.conftest import BACKENDS, demo_copy
from tests.directory.test_keys import assert_problem, make_key
from tests.races import first_held

THEMES = ["gangs-exploitation", "vawg", "domestic-abuse"]


@pytest.fixture(scope="module", params=BACKENDS)
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    settings = demo_copy(request, request.param, tmp_path_factory.mktemp("practice"))
    made = create_app(settings.with_overrides(rate_limit_writes="10000/minute"))
    yield made
    made.extensions["directory"].db.dispose()


def _connect(app: Flask) -> Any:
    return app.extensions["directory"].db.engine.connect()


def auth(key: str | None) -> dict[str, str]:
    return {} if key is None else {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def world(app: Flask) -> dict[str, Any]:
    """The listed services, the own organisation (the one with the most services, outcomes
    among them) and another; a key of each role; and a spread of notes published by an
    officer on services all over London, each with a theme of THEMES in turn."""
    with _connect(app) as connection:
        services = connection.execute(
            select(Service.id, Service.ref, Service.organisation_id, Organisation.ref)
            .join(Organisation, Organisation.id == Service.organisation_id)
            .where(Service.withdrawn_at.is_(None))
            .order_by(Service.id)
        ).all()
        outcomes = connection.execute(select(Outcome.id, Outcome.service_id)).all()
    with_outcomes = {o.service_id for o in outcomes}
    own = next(s for s in services if s.id in with_outcomes)
    other = next(s for s in services if s.organisation_id != own.organisation_id)
    keys = {
        "admin": make_key(app, "admin", "--name", "Ops")["key"],
        "officer": make_key(app, "officer", "--name", "MOPAC officer")["key"],
        "editor": make_key(app, "editor", "--organisation", own[3], "--name", "Own editor")["key"],
        "other_editor": make_key(
            app, "editor", "--organisation", other[3], "--name", "Other editor"
        )["key"],
    }
    client = app.test_client()
    spread = services[:: max(1, len(services) // 12)][:12]
    notes = {}
    for i, service in enumerate(spread):
        body = {"service": service.ref, "title": f"Spread {i}", "summary": "What worked.",
                "themes": [THEMES[i % len(THEMES)]]}  # fmt: skip
        response = client.post("/api/v1/practice", json=body, headers=auth(keys["officer"]))
        assert response.status_code == 201, response.json
        notes[response.json["id"]] = (service.id, THEMES[i % len(THEMES)])
    return {
        "own": own, "other": other, "keys": keys, "notes": notes,
        "own_outcomes": sorted(o.id for o in outcomes if o.service_id == own.id),
        "other_outcomes": sorted(o.id for o in outcomes if o.service_id != own.id),
    }  # fmt: skip


def create(app: Flask, world: dict[str, Any], role: str | None = "officer", **body: Any) -> Any:
    body = {"service": world["own"].ref, "title": "Mentoring worked", "summary": "It did.", **body}
    key = world["keys"].get(role) if role else None
    return app.test_client().post("/api/v1/practice", json=body, headers=auth(key))


def get(app: Flask, note_id: int) -> Any:
    return app.test_client().get(f"/api/v1/practice/{note_id}")


def public_ids(app: Flask, **query: Any) -> list[int]:
    response = app.test_client().get("/api/v1/practice", query_string={"per_page": 100, **query})
    assert response.status_code == 200, response.json
    assert response.json["total_items"] <= 100
    return [n["id"] for n in response.json["contents"]]


# -- writing ------------------------------------------------------------------------------------


def test_an_editor_publishes_a_note_about_their_own_service_and_anyone_reads_it(app, world):
    outcomes = world["own_outcomes"][:2]
    response = create(
        app, world, "editor", themes=["domestic-abuse"], outcomes=outcomes,
        evidence_url="https://example.org/evaluation.pdf",
        summary="<b>Mentors</b> met young people <script>x()</script> weekly.",
    )  # fmt: skip
    assert response.status_code == 201, response.json
    note = response.json
    assert response.headers["Location"] == note["url"] == f"/api/v1/practice/{note['id']}"
    assert note["author"] == "Own editor" and note["service"]["id"] == world["own"].id
    assert note["themes"] == ["domestic-abuse"]
    assert sorted(o["id"] for o in note["outcomes"]) == sorted(outcomes)
    assert note["summary"] == "<b>Mentors</b> met young people <script>x()</script> weekly."
    read = get(app, note["id"])
    assert read.status_code == 200 and read.json == note
    assert read.headers["ETag"] == response.headers["ETag"]
    service = app.test_client().get(f"/api/v1/services/{world['own'].id}").json
    assert note["id"] in [n["id"] for n in service["practice_notes"]]
    assert {"id", "title", "published_at", "url"} == set(service["practice_notes"][0])


ROLES = ["none", "bad", "other_editor", "editor", "officer", "admin"]
NAMES = {"editor": "Own editor", "officer": "MOPAC officer", "admin": "Ops"}


def _key(world: dict[str, Any], role: str) -> str | None:
    return {"none": None, "bad": "lfsd_000000000000_" + "x" * 43}.get(role, world["keys"].get(role))


@pytest.mark.parametrize("route", ["create", "patch", "delete"])
@pytest.mark.parametrize("role", ROLES)
def test_every_write_route_with_every_role(app, world, route, role):
    client = app.test_client()
    headers = auth(_key(world, role))
    if route == "create":
        body = {"service": world["own"].ref, "title": f"By {role}", "summary": "Yes."}
        response = client.post("/api/v1/practice", json=body, headers=headers)
    else:
        note = create(app, world).json
        url = f"/api/v1/practice/{note['id']}"
        headers["If-Match"] = get(app, note["id"]).headers["ETag"]
        if route == "patch":
            response = client.patch(url, json={"title": "Changed"}, headers=headers)
        else:
            response = client.delete(url, headers=headers)
    if role == "none":
        assert_problem(response, 401, "missing-key")
    elif role == "bad":
        assert_problem(response, 401, "invalid-key")
    elif role == "other_editor":
        assert_problem(response, 403, "wrong-organisation")
    elif route == "create":
        assert response.status_code == 201 and response.json["author"] == NAMES[role]
    elif route == "patch":
        assert response.status_code == 200 and response.json["title"] == "Changed"
        assert get(app, note["id"]).json["title"] == "Changed"
    else:
        assert response.status_code == 204
        assert_problem(get(app, note["id"]), 404, "practice-note-not-found")
        assert note["id"] not in public_ids(app, service=world["own"].id)


def test_an_editor_may_not_write_about_another_organisations_service(app, world):
    response = create(app, world, "editor", service=world["other"].ref)
    assert_problem(response, 403, "wrong-organisation")


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_changes_need_if_match_and_a_stale_one_is_refused(app, world, method):
    note = create(app, world).json
    url = f"/api/v1/practice/{note['id']}"
    headers = auth(world["keys"]["officer"])
    send = getattr(app.test_client(), method)
    body = {"json": {"summary": "Later"}} if method == "patch" else {}
    assert_problem(send(url, headers=headers, **body), 428, "precondition-required")
    stale = get(app, note["id"]).headers["ETag"]
    app.test_client().patch(url, json={"title": "Moved on"}, headers={**headers, "If-Match": stale})
    problem = assert_problem(
        send(url, headers={**headers, "If-Match": stale}, **body), 412, "precondition-failed"
    )
    assert problem["current_etag"] == get(app, note["id"]).headers["ETag"]


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_two_changes_sent_with_one_etag_do_not_both_succeed(app, world, method, monkeypatch):
    """The second waits for the first's write lock, then finds the ETag changed (412);
    without it both were 200 (50-55 of 200 races under gunicorn), one change lost."""
    from directory.store.repositories.participation import ParticipationRepository

    note = create(app, world).json
    url, etag = f"/api/v1/practice/{note['id']}", get(app, note["id"]).headers["ETag"]
    headers = {**auth(world["keys"]["officer"]), "If-Match": etag}

    def change(summary: str) -> Any:
        if method == "delete":
            return lambda: app.test_client().delete(url, headers=headers).status_code
        return lambda: (
            app.test_client().patch(url, json={"summary": summary}, headers=headers).status_code
        )

    answers = first_held(
        monkeypatch, ParticipationRepository, "update_note", change("First"), change("Second")
    )
    assert answers == ((200, 412) if method == "patch" else (204, 404))  # (withdrawn: gone)


def test_a_patch_changes_only_what_it_sends(app, world):
    note = create(app, world, themes=["domestic-abuse"], outcomes=world["own_outcomes"][:1]).json
    response = app.test_client().patch(
        f"/api/v1/practice/{note['id']}", json={"themes": ["gangs-exploitation"]},
        headers={**auth(world["keys"]["officer"]), "If-Match": "*"},
    )  # fmt: skip
    assert response.status_code == 200, response.json
    changed = response.json
    assert changed["themes"] == ["gangs-exploitation"]
    assert changed["outcomes"] == note["outcomes"] and changed["title"] == note["title"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"summary": "s" * 4001}, "summary"),
        ({"themes": ["no-such-theme"]}, "themes"),
        ({"evidence_url": "javascript:alert(1)"}, "evidence_url"),
        ({"colour": "blue"}, "colour"),
        ({"title": "nul \x00"}, "title"),
    ],
)
def test_an_invalid_note_is_a_422_naming_the_member(app, world, body, field):
    problem = assert_problem(create(app, world, **body), 422, "invalid-input")
    assert field in problem["errors"], problem


def test_a_note_cites_only_its_own_services_outcomes(app, world):
    problem = assert_problem(
        create(app, world, outcomes=world["other_outcomes"][:1]), 422, "invalid-input"
    )
    assert "outcomes" in problem["errors"]
    # an outcome's id as text, or as a fraction, is not an id (marshmallow's fields took them)
    own = world["own_outcomes"][0]
    for outcomes in ([str(own)], [own + 0.5], [True]):
        problem = assert_problem(create(app, world, outcomes=outcomes), 422, "invalid-input")
        assert "outcomes" in problem["errors"], outcomes


def test_a_note_about_no_service_is_a_404(app, world):
    assert_problem(create(app, world, service="no-such-service"), 404, "service-not-found")
    assert_problem(get(app, 999_999), 404, "practice-note-not-found")


# -- reading -----------------------------------------------------------------------------------


def _expected_in_area(app: Flask, code: str, candidates: dict[int, tuple[int, str]]) -> set[int]:
    """The notes whose service covers the area, an area above it or one inside it, or has
    a site in it (in a ward of it, or the borough itself): straight from the tables."""
    with _connect(app) as connection:
        parents = dict(connection.execute(select(Area.code, Area.parent_code)).all())
        types = dict(connection.execute(select(Area.code, Area.type)).all())
        coverage = connection.execute(select(ServiceArea.service_id, ServiceArea.area_code)).all()
        sites = connection.execute(
            select(Location.service_id, Location.borough_code, Location.ward_code)
        ).all()

    def chain(c: str | None) -> list[str]:
        out = []
        while c is not None:
            out.append(c)
            c = parents.get(c)
        return out

    above = set(chain(code))
    inside = {c for c in parents if code in chain(c)}
    wanted = above | inside
    matched = {sid for sid, area in coverage if area in wanted}
    for sid, borough, ward in sites:
        if (types[code] == "ward" and ward == code) or (
            types[code] != "ward" and borough in inside
        ):
            matched.add(sid)
    return {note for note, (service, _theme) in candidates.items() if service in matched}


def test_the_area_filter_matches_an_independent_computation(app, world):
    notes = world["notes"]
    with _connect(app) as connection:
        boroughs = connection.execute(
            select(Location.borough_code, Location.ward_code)
            .where(Location.service_id.in_([s for s, _ in notes.values()]))
            .limit(1)
        ).first()
    ward = boroughs.ward_code
    borough = boroughs.borough_code
    with _connect(app) as connection:
        bcu = connection.execute(select(Area.parent_code).where(Area.code == borough)).scalar()
    mine = set(notes)
    checked = 0
    for code in ("E12000007", bcu, borough, ward, "E09000001"):
        if code is None:
            continue
        expected = _expected_in_area(app, code, notes)
        assert set(public_ids(app, area=code)) & mine == expected, code
        checked += bool(expected)
    assert checked >= 3


@pytest.mark.parametrize("theme", THEMES)
def test_the_theme_filter_matches_the_notes_themes(app, world, theme):
    expected = {note for note, (_service, t) in world["notes"].items() if t == theme}
    assert expected and set(public_ids(app, theme=theme)) & set(world["notes"]) == expected


def test_the_service_filter_and_the_area_by_name(app, world):
    service_id, _theme = next(iter(world["notes"].values()))
    ids = public_ids(app, service=service_id)
    assert ids and all(world["notes"].get(i, (service_id,))[0] == service_id for i in ids)
    assert public_ids(app, area="Lambeth") == public_ids(app, area="E09000022")


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({"theme": "nope"}, 422, "invalid-input"),
        ({"area": "Atlantis"}, 404, "area-not-found"),
        ({"service": "no-such-service"}, 404, "service-not-found"),
        ({"colour": "x"}, 400, "unknown-parameter"),
    ],
)
def test_bad_filters_are_problems(app, query, status, code):
    assert_problem(app.test_client().get("/api/v1/practice", query_string=query), status, code)


def test_the_list_is_a_page_newest_first(app, world):
    response = app.test_client().get("/api/v1/practice", query_string={"per_page": 2})
    body = response.json
    assert body["size"] == 2 and body["total_items"] >= len(world["notes"])
    assert 'rel="next"' in response.headers["Link"]
    stamps = [n["published_at"] for n in body["contents"]]
    assert stamps == sorted(stamps, reverse=True)


def test_a_service_answer_changes_its_etag_when_a_note_is_published(app, world):
    client = app.test_client()
    url = f"/api/v1/services/{world['other'].id}"
    before = client.get(url).headers["ETag"]
    assert create(app, world, service=world["other"].ref).status_code == 201
    after = client.get(url, headers={"If-None-Match": before})
    assert after.status_code == 200 and after.headers["ETag"] != before
