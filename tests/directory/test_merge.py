"""Merging a duplicated organisation into the one to keep (``directory organisations
merge``, ``POST /api/v1/organisations/{id}/merge``), on SQLite and PostgreSQL.

One directory per backend for the module, built from small template CSVs: "St Giles Trust"
(GB-CHC-1144511) from borough A's sheet and "Saint Giles Trust" (org:st-giles-trust) from
borough B's, with services, grants received and made, an opportunity, an editor's key,
feedback and a practice note naming the duplicate. The module's fixture does every write in
order (a dry run, the merge by the command, the next imports of the sheets, a merge over the
API) and keeps what it saw; the tests check it and the state it left, and the refusals
check that they leave the directory's tables as they were."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select

from directory import create_app
from directory.store.models import ChangeEvent, Organisation, OrganisationAlias
from directory.usecases.hsds_ids import organization_uuid
from tests.conftest import BACKENDS, geography_copy
from tests.directory.test_import import dump, run
from tests.directory.test_keys import make_key

KEEP, DUPLICATE = "GB-CHC-1144511", "org:st-giles-trust"
HEADER = (
    "Service ref,Service name,Organisation ref,Organisation name,Charity number,"
    "Organisation type,Organisation website,Status,Themes,Coverage,Funder,Programme,Amount,"
    "Start date,End date,Award date\n"
)
BOROUGH_A = (
    "GILES-A-01,Through the Gates,GB-CHC-1144511,St Giles Trust,1144511,charity,,Active,"
    'Gangs and exploitation,Southwark,MOPAC,VRU,"£10,000",2025-04-01,2027-03-31,2025-03-01\n'
)
BOROUGH_B = (
    "GILES-B-01,SOS Project Lambeth,org:st-giles-trust,Saint Giles Trust,,charity,"
    'www.stgilestrust.org.uk,Active,knife crime,Lambeth,MOPAC,VRU,"£20,000",2025-04-01,'
    "2027-03-31,2025-03-01\n"
    "GILES-B-02,Peer advocates,org:st-giles-trust,Saint Giles Trust,,charity,"
    "www.stgilestrust.org.uk,Active,youth diversion,Lambeth,,,,,,\n"
    "PEER-A-01,Peer group A club,org:peer-group-a,Peer Group A,,voluntary,,Active,"
    'youth diversion,Lambeth,org:st-giles-trust,,"£5,000",2025-04-01,2026-03-31,2025-03-01\n'
    "PEER-B-01,Peer group B club,org:peer-group-b,Peer Group B,,voluntary,,Active,"
    "youth diversion,Lambeth,,,,,,\n"
)
#: borough C's sheet names the duplicate by its name alone (its ref is made from the name)
BOROUGH_C = (
    "GILES-C-01,Gate mentors Croydon,,Saint Giles Trust,,charity,,Active,youth diversion,"
    "Croydon,,,,,,\n"
)
#: the directory's own tables (not the geography's, nor keys' last use and rate counters)
TABLES = (
    "organisation", "organisation_alias", "service", "service_theme", "service_area",
    "location", "grant", "grant_service", "grant_area", "opportunity", "api_key", "feedback",
    "practice_note", "programme", "import_run", "change_event", "change_area", "data_release",
)  # fmt: skip


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def tables(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    skip = tuple(t for t in dump(app, skip=()) if t not in TABLES)
    return dump(app, skip=(*skip, "lock", "rate_limit"))


def sheet(tmp: Path, name: str, rows: str) -> str:
    path = tmp / name
    path.write_text(HEADER + rows, "utf-8")
    return str(path)


def imported(app: Flask, path: str, source: str) -> dict[str, Any]:
    result = run(app, "import", path, "--source", source, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def merge(app: Flask, *args: str) -> Any:
    return run(app, "organisations", "merge", *args)


def org_id(app: Flask, ref: str) -> int:
    with app.extensions["directory"].db.engine.connect() as connection:
        return int(
            connection.execute(select(Organisation.id).where(Organisation.ref == ref)).scalar_one()
        )


@pytest.fixture(scope="module", params=BACKENDS)
def merged(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp(f"merge-{request.param}")
    settings = geography_copy(request, request.param, tmp).with_overrides(
        rate_limit_writes="100000/minute"
    )
    app = create_app(settings)
    client = app.test_client()
    seen: dict[str, Any] = {"app": app}
    imported(app, sheet(tmp, "a.csv", BOROUGH_A), "borough-a")
    imported(app, sheet(tmp, "b.csv", BOROUGH_B), "borough-b")
    officer = make_key(app, "officer", "--name", "MOPAC officer")["key"]
    editor = make_key(app, "editor", "--organisation", DUPLICATE, "--name", "Giles editor")
    seen["keys"] = {"officer": officer, "editor": editor["key"], "editor_id": editor["id"]}
    closes = datetime.now(ZoneInfo("Europe/London")).replace(microsecond=0) + timedelta(days=30)
    opportunity = {
        "ref": "GILES-ROUND-1", "title": "Peer grants", "closes_at": closes.isoformat(),
        "funder": {"name": "Saint Giles Trust", "ref": DUPLICATE}, "areas": ["Lambeth"],
    }  # fmt: skip
    made = client.post("/api/v1/opportunities", json=opportunity, headers=auth(officer))
    assert made.status_code == 201, made.json
    sent = client.post(
        "/api/v1/services/GILES-B-01/feedback",
        json={"category": "out_of_date", "text": "The phone number is wrong."},
    )
    assert sent.status_code == 202, sent.json
    note = {"service": "GILES-B-02", "title": "Peers", "summary": "What worked."}
    noted = client.post("/api/v1/practice", json=note, headers=auth(editor["key"]))
    assert noted.status_code == 201, noted.json
    seen["duplicate_id"] = org_id(app, DUPLICATE)
    seen["keep_id"] = org_id(app, KEEP)
    seen["etag_before"] = client.get("/api/v1/organisations").headers["ETag"]

    before = tables(app)
    dry = merge(app, DUPLICATE, "--into", KEEP, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    seen["dry_run"] = json.loads(dry.output)
    seen["dry_run_unchanged"] = tables(app) == before

    done = merge(app, DUPLICATE, "--into", KEEP)
    assert done.exit_code == 0, done.output
    seen["merge_output"] = done.output
    seen["etag_after"] = client.get("/api/v1/organisations").headers["ETag"]
    with app.extensions["directory"].db.engine.connect() as connection:
        seen["events"] = connection.execute(
            select(ChangeEvent.__table__).where(ChangeEvent.import_run_id.is_not(None))
            .order_by(ChangeEvent.id)
        ).all()  # fmt: skip

    # over the API: Peer Group B into Peer Group A (If-Match: B's ETag)
    tag = client.get("/api/v1/organisations/org:peer-group-b").headers["ETag"]
    seen["api_merge"] = client.post(
        "/api/v1/organisations/org:peer-group-b/merge", json={"into": "org:peer-group-a"},
        headers={**auth(officer), "If-Match": tag},
    )  # fmt: skip

    # the next imports: borough B's sheet again (by the duplicate's ref), borough C's (by
    # its name alone)
    seen["again"] = imported(app, sheet(tmp, "b.csv", BOROUGH_B), "borough-b")
    seen["by_name"] = imported(app, sheet(tmp, "c.csv", BOROUGH_C), "borough-c")
    # an opportunity written since, naming the duplicate as its funder
    later = {**opportunity, "ref": "GILES-ROUND-2"}
    seen["later_round"] = client.post("/api/v1/opportunities", json=later, headers=auth(officer))
    yield seen
    app.extensions["directory"].db.dispose()


@pytest.fixture(scope="module")
def app(merged: dict[str, Any]) -> Flask:
    return merged["app"]  # type: ignore[no-any-return]


# -- what moves ------------------------------------------------------------------------------


def test_the_merge_moves_every_kind_of_record(merged: dict[str, Any]) -> None:
    report = merged["dry_run"]
    assert report["moved"] == {
        "services": 2, "grants_made": 1, "grants_received": 1, "opportunities": 1,
        "api_keys": 1, "feedback": 1, "practice_notes": 1, "programmes": 0, "aliases": 0,
    }  # fmt: skip
    assert report["refs"]["services"] == ["GILES-B-01", "GILES-B-02"]
    assert report["refs"]["opportunities"] == ["GILES-ROUND-1"]
    assert report["filled"] == {"website": "https://www.stgilestrust.org.uk"}
    assert report["duplicate"]["ref"] == DUPLICATE and report["into"]["ref"] == KEEP
    assert "Moves: services 2, grants made 1, grants received 1" in merged["merge_output"]
    assert (
        "Filled what 'GB-CHC-1144511' lacked from the duplicate: website"
        in (merged["merge_output"])
    )


def test_a_dry_run_writes_nothing(merged: dict[str, Any]) -> None:
    assert merged["dry_run"]["status"] == "dry-run"
    assert merged["dry_run"]["run_id"] is None
    assert merged["dry_run_unchanged"]


def test_the_duplicate_is_gone_and_its_records_name_the_kept_one(app: Flask) -> None:
    client = app.test_client()
    listed = client.get("/api/v1/organisations?q=giles").json["contents"]
    assert [o["ref"] for o in listed] == [KEEP]
    keep = client.get(f"/api/v1/organisations/{KEEP}").json
    assert {s["ref"] for s in keep["services"]} == {
        "GILES-A-01", "GILES-B-01", "GILES-B-02", "GILES-C-01"
    }  # fmt: skip
    assert [g["funder"]["ref"] for g in keep["grants_received"]] == ["GB-GOR-PC390"] * 2
    assert [g["recipient"]["ref"] for g in keep["grants_made"]] == ["org:peer-group-a"]
    # its own fields kept, those it lacked filled from the duplicate's
    assert keep["name"] == "St Giles Trust"
    assert keep["identifiers"]["charity_number"] == "1144511"
    assert keep["website"] == "https://www.stgilestrust.org.uk"
    funder = client.get("/api/v1/opportunities/GILES-ROUND-1").json["funder"]
    assert funder["ref"] == KEEP
    # a service's words hold its organisation's name: the kept one's now
    assert client.get("/api/v1/services?q=saint").json["total_items"] == 0
    found = client.get("/api/v1/services?q=giles%20trust").json["contents"]
    assert {s["ref"] for s in found} == {"GILES-A-01", "GILES-B-01", "GILES-B-02", "GILES-C-01"}


def test_an_opportunity_naming_the_duplicate_as_funder_since_is_the_kept_ones(
    app: Flask, merged: dict[str, Any]
) -> None:
    assert merged["later_round"].status_code == 201, merged["later_round"].json
    assert merged["later_round"].json["funder"]["ref"] == KEEP


def test_feedback_practice_notes_and_keys_move_to_the_kept_one(
    app: Flask, merged: dict[str, Any]
) -> None:
    with app.extensions["directory"].db.engine.connect() as connection:
        for table in ("feedback", "practice_note", "api_key"):
            owners = connection.execute(
                select(Organisation.metadata.tables[table].c.organisation_id).where(
                    Organisation.metadata.tables[table].c.organisation_id.is_not(None)
                )
            ).scalars().all()  # fmt: skip
            assert owners and set(owners) == {merged["keep_id"]}, table


def test_the_old_ref_and_id_redirect_to_the_kept_organisation(
    app: Flask, merged: dict[str, Any]
) -> None:
    client = app.test_client()
    for old in (DUPLICATE, str(merged["duplicate_id"]), "ORG:ST-GILES-TRUST"):
        response = client.get(f"/api/v1/organisations/{old}")
        assert response.status_code == 308, old
        assert response.headers["Location"] == f"/api/v1/organisations/{KEEP}"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Location" in response.headers["Access-Control-Expose-Headers"]
    followed = client.get(f"/api/v1/organisations/{DUPLICATE}", follow_redirects=True)
    assert followed.status_code == 200 and followed.json["ref"] == KEEP


def test_filters_naming_the_old_ref_answer_for_the_kept_one(app: Flask) -> None:
    client = app.test_client()
    # (each path with what its answer names: none of it empty)
    for path, names in (
        ("/api/v1/services?organisation={}", "GILES-B-01"),
        ("/api/v1/grants?recipient={}", "GB-GOR-PC390"),
        ("/api/v1/grants?funder={}", "org:peer-group-a"),
        ("/api/v1/partners?organisation={}", KEEP),
    ):
        old, kept = client.get(path.format(DUPLICATE)), client.get(path.format(KEEP))
        assert old.status_code == 200, (path, old.json)
        assert names in old.get_data(as_text=True) and old.json == kept.json, path
    summary = client.get("/api/v1/funding/summary?by=organisation").get_data(as_text=True)
    assert KEEP in summary and DUPLICATE not in summary


def test_open_referral_id_of_the_duplicate_redirects_to_the_kept_one(app: Flask) -> None:
    response = app.test_client().get(f"/api/v1/hsds/organizations/{organization_uuid(DUPLICATE)}")
    assert response.status_code == 308
    assert response.headers["Location"] == (f"/api/v1/hsds/organizations/{organization_uuid(KEEP)}")


def test_the_next_import_files_the_duplicates_rows_under_the_kept_one(
    app: Flask, merged: dict[str, Any]
) -> None:
    again = merged["again"]  # borough B's sheet, naming org:st-giles-trust, again
    assert again["status"] == "unchanged", again
    assert again["counts"]["organisations"].get("created", 0) == 0
    assert any(
        f"is taken to be '{KEEP}'" in p["message"] and "merged into it" in p["message"]
        for p in again["problems"]
    ), again["problems"]
    by_name = merged["by_name"]  # borough C's, naming "Saint Giles Trust" alone
    assert by_name["counts"]["services"]["created"] == 1
    assert by_name["counts"]["organisations"].get("created", 0) == 0
    service = app.test_client().get("/api/v1/services/GILES-C-01").json
    assert service["organisation"]["ref"] == KEEP
    with app.extensions["directory"].db.engine.connect() as connection:
        refs = set(connection.execute(select(Organisation.ref)).scalars())
    assert refs.isdisjoint({DUPLICATE, "org:saint-giles-trust", "org:peer-group-b"})


def test_360giving_names_the_kept_organisation_only(app: Flask) -> None:
    package = app.test_client().get("/api/v1/grants.360giving.json").json
    named = {
        org["id"] for g in package["grants"]
        for org in g["recipientOrganization"] + g["fundingOrganization"]
    }  # fmt: skip
    assert KEEP in named and DUPLICATE not in named


def test_the_merge_is_recorded_as_change_events_and_moves_the_etag(merged: dict[str, Any]) -> None:
    events = {(e.entity, e.entity_ref): e for e in merged["events"]}
    gone = events["organisation", DUPLICATE]
    assert gone.action == "withdrawn" and gone.changes == {"merged_into": [None, KEEP]}
    kept = events["organisation", KEEP]
    assert kept.action == "updated"
    assert kept.changes["website"] == [None, "https://www.stgilestrust.org.uk"]
    for ref in ("GILES-B-01", "GILES-B-02"):
        moved = events["service", ref]
        assert moved.action == "updated" and moved.changes == {"organisation": [DUPLICATE, KEEP]}
    assert any(e.entity == "grant" and e.changes == {"funder": [DUPLICATE, KEEP]}
               for e in merged["events"])  # fmt: skip
    assert events["opportunity", "GILES-ROUND-1"].changes == {"funder": [DUPLICATE, KEEP]}
    assert merged["etag_before"] != merged["etag_after"]


def test_an_editor_key_for_the_duplicate_edits_the_kept_ones_services(
    app: Flask, merged: dict[str, Any]
) -> None:
    client = app.test_client()
    tag = client.get("/api/v1/services/GILES-A-01").headers["ETag"]
    response = client.patch(
        "/api/v1/services/GILES-A-01", json={"description": "Mentors at the prison gate."},
        headers={**auth(merged["keys"]["editor"]), "If-Match": tag},
    )  # fmt: skip
    assert response.status_code == 200, response.json
    assert response.json["organisation"]["ref"] == KEEP


def test_a_key_made_since_for_the_duplicate_is_the_kept_ones_and_says_so(app: Flask) -> None:
    made = make_key(app, "editor", "--organisation", DUPLICATE, "--name", "Later editor")
    assert made["organisation"] == KEEP
    assert made["note"].startswith(f"{DUPLICATE} was merged into {KEEP} (St Giles Trust) on 20")
    assert made["note"].endswith(f"the key writes for {KEEP}.")
    said = run(app, "keys", "create", "--role", "editor", "--organisation", DUPLICATE)
    assert said.exit_code == 0 and f"{DUPLICATE} was merged into {KEEP}" in said.output
    client = app.test_client()
    tag = client.get("/api/v1/services/GILES-B-02").headers["ETag"]
    response = client.patch(
        "/api/v1/services/GILES-B-02", json={"description": "Peers who have been there."},
        headers={**auth(made["key"]), "If-Match": tag},
    )  # fmt: skip
    assert response.status_code == 200, response.json
    assert response.json["organisation"]["ref"] == KEEP


def test_the_api_merge_answers_the_report(app: Flask, merged: dict[str, Any]) -> None:
    response = merged["api_merge"]
    assert response.status_code == 200, response.json
    report = response.json
    assert report["status"] == "merged"
    assert report["duplicate"]["ref"] == "org:peer-group-b"
    assert report["into"]["ref"] == "org:peer-group-a"
    assert report["refs"]["services"] == ["PEER-B-01"]
    run = app.test_client().get(f"/api/v1/imports/{report['run_id']}").json
    assert run["source"] == "merge" and run["actor"] == "MOPAC officer"
    with app.extensions["directory"].db.engine.connect() as connection:
        alias = connection.execute(
            select(OrganisationAlias.__table__).where(OrganisationAlias.ref == "org:peer-group-b")
        ).one()
    assert alias.actor == "MOPAC officer" and alias.import_run_id == report["run_id"]


# -- refusals: nothing written --------------------------------------------------------------

#: (duplicate, into, what the command says, the API's status and problem code)
REFUSALS = {
    "unknown": ("org:no-such-charity", KEEP, "No organisation has the id or ref", 404,
                "organisation-not-found"),
    "unknown-into": (KEEP, "org:no-such-charity", "No organisation has the id or ref", 404,
                     "organisation-not-found"),
    "same": (KEEP, KEEP, "are the same organisation", 422, "same-organisation"),
    "already-merged": (DUPLICATE, KEEP, "there is nothing left of it to merge", 409,
                       "organisation-merged"),
    "into-merged": ("org:peer-group-a", DUPLICATE, f"merge into '{KEEP}' instead", 409,
                    "organisation-merged"),
    "into-its-own-alias": (KEEP, DUPLICATE, "is organisation 'GB-CHC-1144511' ", 422,
                           "same-organisation"),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_merge_by_the_command_exits_2_and_writes_nothing(app: Flask, case: str) -> None:
    duplicate, into, said, _status, _code = REFUSALS[case]
    before = tables(app)
    result = merge(app, duplicate, "--into", into)
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split())
    assert tables(app) == before


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refused_merge_over_the_api_is_a_problem_and_writes_nothing(
    app: Flask, merged: dict[str, Any], case: str
) -> None:
    duplicate, into, _said, status, code = REFUSALS[case]
    before = tables(app)
    response = app.test_client().post(
        f"/api/v1/organisations/{duplicate}/merge", json={"into": into},
        headers={**auth(merged["keys"]["officer"]), "If-Match": "*"},
    )  # fmt: skip
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code
    if code == "organisation-merged":
        assert response.json["merged_into"]["ref"] == KEEP
    assert tables(app) == before


def test_a_merge_over_the_api_needs_an_officers_key_and_if_match(
    app: Flask, merged: dict[str, Any]
) -> None:
    client = app.test_client()
    path, body = f"/api/v1/organisations/{KEEP}/merge", {"into": "org:peer-group-a"}
    before = tables(app)
    editor = client.post(path, json=body, headers=auth(merged["keys"]["editor"]))
    assert (editor.status_code, editor.json["code"]) == (403, "wrong-role")
    bare = client.post(path, json=body, headers=auth(merged["keys"]["officer"]))
    assert (bare.status_code, bare.json["code"]) == (428, "precondition-required")
    stale = client.post(
        path, json=body, headers={**auth(merged["keys"]["officer"]), "If-Match": '"stale"'}
    )
    assert (stale.status_code, stale.json["code"]) == (412, "precondition-failed")
    officer = auth(merged["keys"]["officer"])
    not_boolean = client.post(path, json={**body, "dry_run": 0}, headers=officer)
    assert (not_boolean.status_code, not_boolean.json["code"]) == (422, "invalid-input")
    dry = client.post(path, json={**body, "dry_run": True}, headers=officer)
    assert dry.status_code == 200 and dry.json["status"] == "dry-run"
    assert dry.json["moved"]["services"] == 4
    assert tables(app) == before
