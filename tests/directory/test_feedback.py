"""Public feedback and its moderation, on SQLite and PostgreSQL: what the public sends is
stored for moderation and never published (JSON or a form; a honeypot; size limits; a rate
limit); officers see all of it and an organisation's editors their own; answers need
If-Match; an accepted correction is an audited write naming the key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from directory import create_app
from directory.store.models import Feedback, Opportunity, Organisation, Service
from tests.conftest import BACKENDS, demo_copy
from tests.directory.test_keys import assert_problem, make_key
from tests.races import first_held

SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'


@pytest.fixture(scope="module", params=BACKENDS)
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """A copy of the demo directory per backend for this module, with limits the tests do
    not reach (the rate limit has a test of its own, on an app of its own)."""
    settings = demo_copy(request, request.param, tmp_path_factory.mktemp("feedback"))
    made = create_app(
        settings.with_overrides(
            rate_limit_feedback="10000/minute", rate_limit_writes="10000/minute"
        )
    )
    yield made
    made.extensions["directory"].db.dispose()


def _engine(app: Flask) -> Any:
    return app.extensions["directory"].db.engine


@pytest.fixture(scope="module")
def world(app: Flask) -> dict[str, Any]:
    """Two services of two organisations, and a key of every role (made once)."""
    with _engine(app).connect() as connection:
        rows = connection.execute(
            select(Service.id, Service.ref, Service.organisation_id, Organisation.ref)
            .join(Organisation, Organisation.id == Service.organisation_id)
            .where(Service.withdrawn_at.is_(None))
            .order_by(Service.id)
        ).all()
    own = rows[0]
    other = next(r for r in rows if r.organisation_id != own.organisation_id)
    keys = {
        "admin": make_key(app, "admin", "--name", "Ops")["key"],
        "officer": make_key(app, "officer", "--name", "MOPAC officer")["key"],
        "editor": make_key(app, "editor", "--organisation", own[3], "--name", "Own editor")["key"],
        "other_editor": make_key(
            app, "editor", "--organisation", other[3], "--name", "Other editor"
        )["key"],
    }
    return {"own": own, "other": other, "keys": keys}


def auth(key: str | None) -> dict[str, str]:
    return {} if key is None else {"Authorization": f"Bearer {key}"}


def send(app: Flask, service: Any, **body: Any) -> Any:
    body = {"category": "out_of_date", "text": "The phone number is wrong.", **body}
    return app.test_client().post(f"/api/v1/services/{service}/feedback", json=body)


def stored(app: Flask) -> int:
    with _engine(app).connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Feedback)).scalar_one())


def listed(app: Flask, key: str, **query: Any) -> list[dict[str, Any]]:
    response = app.test_client().get("/api/v1/feedback", query_string=query, headers=auth(key))
    assert response.status_code == 200, response.json
    return response.json["contents"]  # type: ignore[no-any-return]


def sent_one(app: Flask, world: dict[str, Any], text: str, **body: Any) -> dict[str, Any]:
    """Send feedback about the own service and find it as the officer sees it."""
    assert send(app, world["own"].id, text=text, **body).status_code == 202
    (found,) = [
        f for f in listed(app, world["keys"]["officer"], service=world["own"].ref, per_page=100)
        if f["text"] == text
    ]  # fmt: skip
    return found


# -- sending -------------------------------------------------------------------------------------


def test_feedback_sent_as_json_is_kept_for_moderation_and_the_receipt_shows_nothing_of_it(
    app, world
):
    before = stored(app)
    response = send(app, world["own"].ref, text="Closed since May.", email="Sam@Example.org")
    assert response.status_code == 202, response.json
    receipt = response.json
    assert receipt["received"] is True and receipt["about"]["id"] == world["own"].id
    assert "Closed since May." not in response.get_data(as_text=True)
    assert "Sam@" not in response.get_data(as_text=True) and "id" not in receipt
    assert stored(app) == before + 1
    (item,) = [
        f for f in listed(app, world["keys"]["officer"], service=world["own"].id)
        if f["text"] == "Closed since May."
    ]  # fmt: skip
    assert item["email"] == "Sam@example.org" and item["status"] == "new"
    assert item["about"] == {
        "kind": "service", "id": world["own"].id, "ref": world["own"].ref,
        "name": item["about"]["name"], "url": f"/api/v1/services/{world['own'].id}",
    }  # fmt: skip


def test_feedback_sent_as_a_form_is_kept_too(app, world):
    form = {"category": "question", "text": "Do you take self-referrals?", "website": ""}
    response = app.test_client().post(f"/api/v1/services/{world['own'].id}/feedback", data=form)
    assert response.status_code == 202, response.json
    assert [f for f in listed(app, world["keys"]["officer"]) if f["text"] == form["text"]]


@pytest.mark.parametrize("text", ["\x07bell", "a\x00b", "\x1b[31mred"])
def test_text_that_cannot_be_stored_is_refused_as_a_form_as_in_json(app, world, text):
    """A form's text is checked as a JSON body's is: an invisible control character (or
    a NUL) is a 422 naming the field, nothing kept; sent as a form it was kept."""
    before = stored(app)
    url = f"/api/v1/services/{world['own'].id}/feedback"
    as_json = send(app, world["own"].id, text=text)
    as_form = app.test_client().post(url, data={"category": "question", "text": text})
    for response in (as_json, as_form):
        assert response.status_code == 422, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"
        assert "text" in response.json["errors"]
    assert stored(app) == before


def test_feedback_is_in_no_public_answer(app, world):
    text = "Private remark 7f3a about the service"
    send(app, world["own"].id, text=text, email="private.person@example.org")
    client = app.test_client()
    for url in (
        f"/api/v1/services/{world['own'].id}", "/api/v1/services?per_page=100",
        "/api/v1/changes?per_page=100", f"/api/v1/services/{world['own'].id}/history",
        "/api/v1/status",
    ):  # fmt: skip
        body = client.get(url).get_data(as_text=True)
        assert text not in body and "private.person" not in body, url


def test_a_filled_honeypot_is_answered_alike_and_nothing_is_kept(app, world):
    before = stored(app)
    trapped = send(app, world["own"].id, text="Buy cheap things", website="http://spam.example")
    real = send(app, world["own"].id, text="A real one")
    assert trapped.status_code == real.status_code == 202
    assert set(trapped.json) == set(real.json)
    assert stored(app) == before + 1


def test_html_is_kept_and_returned_as_text(app, world):
    item = sent_one(app, world, SCRIPT)
    assert item["text"] == SCRIPT  # a JSON string, character for character
    response = app.test_client().get(
        f"/api/v1/feedback/{item['id']}", headers=auth(world["keys"]["officer"])
    )
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert json.loads(response.get_data())["text"] == SCRIPT


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "x" * 4001}, "text"),
        ({"text": "   "}, "text"),
        ({"category": "spam"}, "category"),
        ({"email": "not an address"}, "email"),
        ({"colour": "blue"}, "colour"),
        ({"text": "nul \x00 inside"}, "text"),
    ],
)
def test_invalid_feedback_is_a_422_naming_the_field(app, world, body, field):
    before = stored(app)
    problem = assert_problem(send(app, world["own"].id, **body), 422, "invalid-input")
    assert field in problem["errors"]
    assert stored(app) == before


def test_a_body_over_the_size_limit_is_a_413(app, world):
    response = app.test_client().post(
        f"/api/v1/services/{world['own'].id}/feedback",
        data={"category": "other", "text": "y" * 70_000},
    )
    assert_problem(response, 413, "payload-too-large")


def test_feedback_in_another_media_type_is_a_415_and_about_no_service_a_404(app, world):
    client = app.test_client()
    response = client.post(
        f"/api/v1/services/{world['own'].id}/feedback", data="hello", content_type="text/plain"
    )
    assert_problem(response, 415, "unsupported-media-type")
    assert_problem(send(app, "no-such-service"), 404, "service-not-found")


def test_the_public_route_is_rate_limited_per_address(app):
    settings = app.extensions["directory"].settings.with_overrides(rate_limit_feedback="2/minute")
    limited = create_app(settings)
    try:
        client = limited.test_client()
        url = "/api/v1/services/1/feedback"
        body = {"category": "other", "text": "again"}
        there = {"REMOTE_ADDR": "198.51.100.7"}
        answers = [client.post(url, json=body, environ_base=there) for _ in range(3)]
        assert [a.status_code for a in answers[:2]] == [202, 202]
        assert answers[0].headers["RateLimit-Limit"] == "2"
        assert_problem(answers[2], 429, "too-many-requests")
        assert int(answers[2].headers["Retry-After"]) > 0
        other = client.post(url, json=body, environ_base={"REMOTE_ADDR": "198.51.100.8"})
        assert other.status_code == 202
        # feedback refused for what it says is not counted: a person correcting the form
        elsewhere = {"REMOTE_ADDR": "198.51.100.9"}
        refused = [client.post(url, json={"category": "other"}, environ_base=elsewhere)]
        refused.append(client.post(url, json={"text": ""}, environ_base=elsewhere))
        assert [r.status_code for r in refused] == [422, 422]
        sent = [client.post(url, json=body, environ_base=elsewhere) for _ in range(3)]
        assert [r.status_code for r in sent] == [202, 202, 429]
    finally:
        limited.extensions["directory"].db.dispose()


# -- moderation: who may -------------------------------------------------------------------------

NAMES = {"admin": "Ops", "officer": "MOPAC officer", "editor": "Own editor"}
ROLES = ["none", "bad", "other_editor", "editor", "officer", "admin"]


def _moderation(app: Flask, world: dict[str, Any], route: str, role: str) -> Any:
    item = sent_one(app, world, f"role check {route} {role}")
    key = {"none": None, "bad": "lfsd_000000000000_" + "x" * 43}.get(role, world["keys"].get(role))
    client = app.test_client()
    if route == "list":
        return client.get(
            "/api/v1/feedback", query_string={"service": world["own"].id}, headers=auth(key)
        ), item
    url = f"/api/v1/feedback/{item['id']}"
    if route == "get":
        return client.get(url, headers=auth(key)), item
    return client.patch(
        url, json={"answer": "Thanks"}, headers={**auth(key), "If-Match": "*"}
    ), item


@pytest.mark.parametrize("route", ["list", "get", "patch"])
@pytest.mark.parametrize("role", ROLES)
def test_every_moderation_route_with_every_role(app, world, route, role):
    response, item = _moderation(app, world, route, role)
    if role == "none":
        assert_problem(response, 401, "missing-key")
    elif role == "bad":
        assert_problem(response, 401, "invalid-key")
    elif role == "other_editor":  # (the list filtered by another organisation's service too)
        assert_problem(response, 403, "wrong-organisation")
    else:
        assert response.status_code == 200, response.json
        assert response.headers["Cache-Control"] == "private, no-store"
        if route == "list":
            assert item["id"] in [f["id"] for f in response.json["contents"]]
        elif route == "patch":
            assert response.json["answered_by"] == NAMES[role]


def test_an_editor_lists_only_their_own_organisations_feedback(app, world):
    send(app, world["other"].id, text="About the other organisation's service")
    mine = listed(app, world["keys"]["editor"], per_page=100)
    assert mine and {f["about"]["id"] for f in mine} <= _service_ids_of(app, world["own"])
    officers = listed(app, world["keys"]["officer"], per_page=100)
    assert any(f["about"]["id"] == world["other"].id for f in officers)


def test_an_editor_asking_for_another_organisations_records_feedback_is_told_so(app, world):
    """Filtered by another organisation's service (or an opportunity, which is no
    organisation's), an editor's list is a 403 wrong-organisation, as one of its items is,
    not an empty list that reads as "no feedback"; their own service's is listed."""
    send(app, world["other"].id, text="About the other organisation's service, again")
    client = app.test_client()
    headers = auth(world["keys"]["editor"])
    for query in ({"service": world["other"].ref}, {"service": str(world["other"].id)},
                  {"opportunity": "demo-vru-youth-violence-round"}):  # fmt: skip
        response = client.get("/api/v1/feedback", query_string=query, headers=headers)
        assert response.status_code == 403, (query, response.json)
        assert response.mimetype == "application/problem+json"
        assert response.json["code"] == "wrong-organisation"
    assert listed(app, world["keys"]["editor"], service=world["own"].ref) is not None
    officers = listed(app, world["keys"]["officer"], service=world["other"].ref, per_page=100)
    assert any(f["text"].startswith("About the other") for f in officers)


def _service_ids_of(app: Flask, service: Any) -> set[int]:
    with _engine(app).connect() as connection:
        query = select(Service.id).where(Service.organisation_id == service.organisation_id)
        return set(connection.execute(query).scalars())


def test_the_list_filters_by_status(app, world):
    item = sent_one(app, world, "to be closed")
    _patch(app, world, item["id"], {"status": "closed"})
    closed = listed(app, world["keys"]["officer"], status="closed", per_page=100)
    assert item["id"] in [f["id"] for f in closed]
    assert {f["status"] for f in closed} == {"closed"}
    assert item["id"] not in [
        f["id"] for f in listed(app, world["keys"]["officer"], status="new", per_page=100)
    ]


# -- moderation: If-Match and answers ----------------------------------------------------------


def _get(app: Flask, world: dict[str, Any], feedback_id: int, role: str = "officer") -> Any:
    return app.test_client().get(
        f"/api/v1/feedback/{feedback_id}", headers=auth(world["keys"][role])
    )


def _patch(
    app: Flask, world: dict[str, Any], feedback_id: int, body: dict[str, Any],
    etag: str | None = "*", role: str = "officer",
) -> Any:  # fmt: skip
    headers = auth(world["keys"][role])
    if etag is not None:
        headers["If-Match"] = etag
    return app.test_client().patch(f"/api/v1/feedback/{feedback_id}", json=body, headers=headers)


def test_an_answer_needs_if_match_and_a_stale_tag_is_refused(app, world):
    item = sent_one(app, world, "If-Match check")
    assert_problem(_patch(app, world, item["id"], {"answer": "x"}, etag=None), 428,
                   "precondition-required")  # fmt: skip
    etag = _get(app, world, item["id"]).headers["ETag"]
    answered = _patch(app, world, item["id"], {"answer": "We have updated it."}, etag=etag)
    assert answered.status_code == 200, answered.json
    assert (
        answered.json["status"] == "answered" and answered.json["answer"] == "We have updated it."
    )
    assert answered.json["answered_by"] == "MOPAC officer" and answered.json["answered_at"]
    assert answered.headers["ETag"] == _get(app, world, item["id"]).headers["ETag"] != etag
    problem = assert_problem(
        _patch(app, world, item["id"], {"status": "closed"}, etag=etag), 412, "precondition-failed"
    )
    assert problem["current_etag"] == answered.headers["ETag"]


def test_two_answers_sent_with_one_etag_do_not_both_succeed(app, world, monkeypatch):
    """The second waits for the first's write lock, then finds the ETag changed (412).
    SQLite takes no row lock (FOR UPDATE): both were 200 in 33 of 200 races there."""
    from directory.store.repositories.participation import ParticipationRepository

    item = sent_one(app, world, "two moderators at once")
    etag = _get(app, world, item["id"]).headers["ETag"]

    def answer(text: str) -> Any:
        return lambda: _patch(app, world, item["id"], {"answer": text}, etag=etag).status_code

    answers = first_held(
        monkeypatch, ParticipationRepository, "update_feedback", answer("First"), answer("Second")
    )
    assert answers == (200, 412)
    assert _get(app, world, item["id"]).json["answer"] == "First"


@pytest.mark.parametrize(
    "body",
    [{"status": "done"}, {"answer": "z" * 4001}, {"correction": {"ref": "x"}},
     {"correction": {"email": "nope"}}, {"correction": {"status": "closed"}}, {"colour": 1}],
)  # fmt: skip
def test_an_invalid_answer_is_a_422(app, world, body):
    item = sent_one(app, world, f"invalid answer {sorted(body)} {len(str(body))}")
    assert_problem(_patch(app, world, item["id"], body), 422, "invalid-input")


def test_unknown_feedback_is_a_404(app, world):
    assert_problem(_get(app, world, 999_999), 404, "feedback-not-found")
    assert_problem(_patch(app, world, 999_999, {"status": "closed"}), 404, "feedback-not-found")


def test_an_accepted_correction_is_an_audited_write_naming_the_key(app, world):
    client = app.test_client()
    service = world["own"]
    item = sent_one(app, world, "It has closed for the summer", category="closed")
    correction = {"status": "temporarily closed", "website": "https://example.org/summer"}
    etag = _get(app, world, item["id"], role="editor").headers["ETag"]
    response = _patch(
        app, world, item["id"], {"answer": "Marked closed", "correction": correction},
        etag=etag, role="editor",
    )  # fmt: skip
    assert response.status_code == 200, response.json
    applied = response.json["correction"]
    assert applied["changes"]["status"]["new"] == "temporarily closed"
    assert applied["changes"]["website"]["new"] == "https://example.org/summer"
    detail = client.get(f"/api/v1/services/{service.id}").json
    assert detail["status"] == "temporarily closed"
    assert detail["contact"]["website"] == "https://example.org/summer"
    changes = client.get("/api/v1/changes", query_string={"entity": "service"}).json
    (event,) = [c for c in changes["contents"] if c["import_run"] == applied["import_run"]]
    assert event["actor"] == "Own editor" and event["entity_id"] == service.id
    assert event["action"] == "updated"
    assert event["changes"]["status"]["new"] == "temporarily closed"
    history = client.get(f"/api/v1/services/{service.id}/history").json["contents"]
    assert history[0]["actor"] == "Own editor" and history[0]["import_run"] == applied["import_run"]
    run = client.get(f"/api/v1/imports/{applied['import_run']}").json
    assert run["actor"] == "Own editor" and run["status"] == "succeeded"
    found = client.get("/api/v1/services", query_string={"status": "temporarily closed"}).json
    assert service.id in [s["id"] for s in found["contents"]]


def test_a_correction_that_changes_nothing_writes_nothing(app, world):
    client = app.test_client()
    service = client.get(f"/api/v1/services/{world['own'].id}").json
    item = sent_one(app, world, "Is the status right?")
    before = client.get("/api/v1/changes").json["total_items"]
    response = _patch(app, world, item["id"], {"correction": {"status": service["status"]}})
    assert response.status_code == 200 and response.json["correction"] is None
    assert client.get("/api/v1/changes").json["total_items"] == before


# -- feedback on a funding opportunity -----------------------------------------------------------


def _opportunity(app: Flask) -> Any:
    with _engine(app).connect() as connection:
        return connection.execute(
            select(Opportunity.id, Opportunity.ref, Opportunity.title).order_by(Opportunity.id)
        ).first()


def test_feedback_on_an_opportunity_is_kept_for_officers_only(app, world):
    opportunity = _opportunity(app)
    client = app.test_client()
    text = "The apply link gives a 404."
    body = {"category": "question", "text": text, "email": "sam@example.org"}
    response = client.post(f"/api/v1/opportunities/{opportunity.ref}/feedback", json=body)
    assert response.status_code == 202, response.json
    assert response.json["about"] == {
        "kind": "opportunity", "id": opportunity.id, "ref": opportunity.ref,
        "name": opportunity.title, "url": f"/api/v1/opportunities/{opportunity.id}",
    }  # fmt: skip
    assert text not in response.get_data(as_text=True)
    (found,) = listed(app, world["keys"]["officer"], opportunity=opportunity.ref)
    assert found["text"] == text and found["email"] == "sam@example.org"
    assert found["about"]["kind"] == "opportunity"
    # an opportunity is officers' business: no editor sees or answers its feedback
    for role in ("editor", "other_editor"):
        assert found["id"] not in [f["id"] for f in listed(app, world["keys"][role], per_page=100)]
        assert_problem(_get(app, world, found["id"], role), 403, "wrong-organisation")
    answered = _patch(app, world, found["id"], {"answer": "Fixed, thank you."})
    assert answered.status_code == 200 and answered.json["status"] == "answered"
    # it carries no correction (that is of a service's own fields)
    assert_problem(
        _patch(app, world, found["id"], {"correction": {"phone": "020 7946 0000"}}), 422,
        "invalid-input",
    )  # fmt: skip


def test_feedback_on_an_unknown_opportunity_is_a_404(app):
    response = app.test_client().post(
        "/api/v1/opportunities/no-such-round/feedback", json={"category": "other", "text": "x"}
    )
    assert_problem(response, 404, "opportunity-not-found")


def test_the_list_takes_a_service_or_an_opportunity_not_both(app, world):
    response = app.test_client().get(
        "/api/v1/feedback", query_string={"service": world["own"].ref, "opportunity": "x"},
        headers=auth(world["keys"]["officer"]),
    )  # fmt: skip
    assert_problem(response, 422, "invalid-input")
