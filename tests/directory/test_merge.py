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
    "Start date,End date\n"
)
BOROUGH_A = (
    'GILES-A-01,Through the Gates,GB-CHC-1144511,St Giles Trust,1144511,charity,,Active,'
    'Gangs and exploitation,Southwark,MOPAC,VRU,"£10,000",2025-04-01,2027-03-31\n'
)
BOROUGH_B = (
    "GILES-B-01,SOS Project Lambeth,org:st-giles-trust,Saint Giles Trust,,charity,"
    'www.stgilestrust.org.uk,Active,knife crime,Lambeth,MOPAC,VRU,"£20,000",2025-04-01,'
    "2027-03-31\n"
    "GILES-B-02,Peer advocates,org:st-giles-trust,Saint Giles Trust,,charity,"
    "www.stgilestrust.org.uk,Active,youth diversion,Lambeth,,,,,\n"
    "PEER-A-01,Peer group A club,org:peer-group-a,Peer Group A,,voluntary,,Active,"
    'youth diversion,Lambeth,org:st-giles-trust,,"£5,000",2025-04-01,2026-03-31\n'
    "PEER-B-01,Peer group B club,org:peer-group-b,Peer Group B,,voluntary,,Active,"
    "youth diversion,Lambeth,,,,,\n"
)
#: borough C's sheet names the duplicate by its name alone (its ref is made from the name)
BOROUGH_C = (
    "GILES-C-01,Gate mentors Croydon,,Saint Giles Trust,,charity,,Active,youth diversion,"
    "Croydon,,,,,\n"
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
        return int(connection.execute(select(Organisation.id).where(Organisation.ref == ref)).scalar_one())


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

    # the next imports: borough B's sheet again (by the duplicate's ref), borough C's (by
    # its name alone)
    seen["again"] = imported(app, sheet(tmp, "b.csv", BOROUGH_B), "borough-b")
    seen["by_name"] = imported(app, sheet(tmp, "c.csv", BOROUGH_C), "borough-c")
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
    assert "Moves: 2 services, 1 grants made, 1 grants received" in merged["merge_output"]


def test_a_dry_run_writes_nothing(merged: dict[str, Any]) -> None:
    assert merged["dry_run"]["status"] == "dry-run"
    assert merged["dry_run"]["run_id"] is None
    assert merged["dry_run_unchanged"]
