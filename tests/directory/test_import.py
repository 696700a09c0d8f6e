"""Importing the directory end to end, through the `directory` command, on SQLite and
PostgreSQL: all-or-nothing, idempotent, change events, withdrawal, export round trip and
refresh under a lock."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from directory.cli import cli
from directory.ingest.apply import IMPORTED_TABLES, ImportOptions, WriteRefused, import_batch
from directory.ingest.records import Batch, LocationRecord, OrganisationRecord, ServiceRecord
from directory.ingest.values import loose_key
from directory.store.models import Base, ChangeArea, ChangeEvent, Lock, Organisation
from directory.store.repositories.geography import GeographyRepository
from tests.servers import settings_env

HEADER = (
    "Service ref,Service name,Description,Status,Themes,Organisation name,Organisation type,"
    "Coverage,Site name,Site postcode,Ages,Email,Website,Last verified,Funder,Programme,"
    "Amount,Start date,End date\n"
)
OXYGEN = (
    'OXY-KT-01,Oxygen knife crime programme,"Workshops in Kingston",Active,"knife crime; youth '
    'diversion",Oxygen,charity,RB Kingston upon Thames,Oxygen hub,kt1 1eu,11-18,'
    "hello@oxygen.example.org,www.oxygen.example.org,01/09/2026,Kingston SNB,SNB,£45k,"
    "01/04/2025,31/03/2028\n"
)
RESCUE = (
    'SL-RR-01,Rescue and Response,"Pan-London gang exit service",active,Gangs and exploitation,'
    'Safer London,voluntary,pan-London,,,"under 25",,saferlondon.org.uk,44287,MOPAC,'
    'LCPF co-commissioning,"£1,200,000",2021-04-01,2025-03-31\n'
)
BAD_AMOUNT = (
    "BAD-01,Broken row,,active,Hate crime,Someone,voluntary,Hackney,,,,,,,MOPAC,VRU,£1.2x,,\n"
)


def write(tmp_path: Path, name: str, body: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(body.encode(encoding))
    return path


def run(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(cli, list(args))


#: the geography's tables: written by `geodata load` alone, which no import, write or
#: refusal tested with :func:`dump` calls (reading their 190,000 rows was 1.3 s of every
#: dump's 1.4)
GEOGRAPHY = ("area", "area_neighbour", "postcode")


def dump(app: Any, *, skip: tuple[str, ...] = ("import_run",)) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the geography's (:data:`GEOGRAPHY`) and ``skip``, in
    primary-key order."""
    db = app.extensions["directory"].db
    out = {}
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name in skip or table.name in GEOGRAPHY:
                continue
            order = list(table.primary_key.columns)
            out[table.name] = [tuple(r) for r in connection.execute(select(table).order_by(*order))]
    return out


def events(app: Any) -> list[Any]:
    with app.extensions["directory"].db.engine.connect() as connection:
        return connection.execute(select(ChangeEvent.__table__).order_by(ChangeEvent.id)).all()


def reimport_export_unchanged(app: Any, exported: Path) -> dict[str, Any]:
    """Export the directory's services to ``exported`` and import the file back under the
    source "sheet" with mode full: nothing may change, no event be recorded. The report."""
    assert run(app, "export", str(exported)).exit_code == 0
    before, count = dump(app), len(events(app))
    again = run(app, "import", str(exported), "--source", "sheet", "--mode", "full", "--json")
    report = json.loads(again.output)
    assert report["status"] == "unchanged" and report["errors"] == 0, again.output
    assert len(events(app)) == count
    assert dump(app) == before
    return report


def event_areas(app: Any) -> dict[int, set[str]]:
    """Each change event's areas, by its id."""
    out: dict[int, set[str]] = {}
    with app.extensions["directory"].db.engine.connect() as connection:
        for event_id, code in connection.execute(select(ChangeArea.event_id, ChangeArea.area_code)):
            out.setdefault(event_id, set()).add(code)
    return out


def test_import_creates_and_a_reimport_changes_nothing(writable_app, tmp_path):
    path = write(tmp_path, "services.csv", HEADER + OXYGEN + RESCUE)
    first = run(writable_app, "import", str(path))
    assert first.exit_code == 0, first.output
    assert "succeeded" in first.output
    created = events(writable_app)
    assert {(e.entity, e.action) for e in created} >= {("service", "created"), ("grant", "created")}
    before = dump(writable_app)
    second = run(writable_app, "import", str(path))
    assert second.exit_code == 0, second.output
    assert "unchanged" in second.output
    assert dump(writable_app) == before
    assert len(events(writable_app)) == len(created)


def test_a_ward_several_boroughs_name_is_taken_with_its_borough(writable_app):
    """Coverage "Abbey (Merton)", as the API's area-ambiguous problem suggests, is that
    ward; "Abbey" alone names wards in two boroughs and says so, naming them (it was "not
    a London area we know", and the suggested form was refused too, until 6 December)."""
    from directory.ingest.context import GeographyContext

    state = writable_app.extensions["directory"]
    with state.db.engine.connect() as connection:
        snap = state.geography.get(GeographyRepository(connection))
        ctx = GeographyContext(snap, GeographyRepository(connection))
        abbeys = {
            snap.areas[snap.areas[c].parent_code].name: c
            for c, a in snap.areas.items() if a.type == "ward" and a.name == "Abbey"
        }  # fmt: skip
        assert len(abbeys) >= 2, abbeys
        for borough, code in abbeys.items():
            assert ctx.areas(f"Abbey ({borough})") == [code]
            assert ctx.areas(f"Lambeth; Abbey ({borough})")[1] == code
        with pytest.raises(ValueError) as refused:
            ctx.areas("Abbey")
    message = str(refused.value)
    assert f"names a ward in {len(abbeys)} boroughs" in message
    assert all(borough in message for borough in abbeys) and "Abbey (" in message


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("Camdem", "'Camdem' is not a London area we know. Did you mean 'Camden' for 'Camdem'?"),
        ("Lambth", "Did you mean 'Lambeth' for 'Lambth'?"),
        ("Kingston & Richmond", "'Kingston & Richmond' looks like 2 areas: separate them with "
         "\";\", as 'Kingston; Richmond'."),
        ("Brent and Harrow", "as 'Brent; Harrow'"),
        ("Lambeth; Southwak", "'Southwak' is not a London area we know. Did you mean 'Southwark'"),
    ],
)  # fmt: skip
def test_an_area_not_known_is_told_what_it_may_mean(writable_app, typed, says):
    """An area not known got the list of forms accepted alone: the closest names are
    suggested, and several areas written as one are told to be separated with ";"
    (the list of forms still follows)."""
    from directory.ingest.context import GeographyContext

    state = writable_app.extensions["directory"]
    with state.db.engine.connect() as connection:
        repo = GeographyRepository(connection)
        ctx = GeographyContext(state.geography.get(repo), repo)
        with pytest.raises(ValueError) as refused:
            ctx.areas(typed)
    assert says in str(refused.value)
    assert 'a GSS code (E09000021) or "London-wide", separating areas with ";"' in str(
        refused.value
    )


def test_a_theme_not_known_is_told_the_closest(writable_app):
    """ "Mentorin" got the themes' address alone: the theme spelled closest is suggested."""
    from directory.ingest.context import GeographyContext

    state = writable_app.extensions["directory"]
    with state.db.engine.connect() as connection:
        repo = GeographyRepository(connection)
        ctx = GeographyContext(state.geography.get(repo), repo)
        with pytest.raises(ValueError) as refused:
            ctx.themes("Gangs; Mentorin")
    assert str(refused.value).startswith(
        "'Mentorin' is not a theme of the directory. Did you mean 'Mentoring' for 'Mentorin'? "
        "See GET /api/v1/themes"
    )


def test_an_import_leaves_the_planner_statistics_up_to_date(writable_app, tmp_path):
    """On PostgreSQL a freshly filled table the planner has not analysed is planned as if
    empty (a whole-London bbox at 100,000 services: 700 ms instead of 140 ms); the import
    analyses what it wrote, and only that: not the geography's 190,000 rows, which only
    `directory init` writes. On SQLite, PRAGMA optimize runs (no figure to check)."""
    engine = writable_app.extensions["directory"].db.engine
    path = write(tmp_path, "services.csv", HEADER + OXYGEN + RESCUE)
    assert run(writable_app, "import", str(path)).exit_code == 0
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as connection:
        analysed = dict(
            connection.exec_driver_sql(
                "SELECT relname, last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL "
                "FROM pg_stat_user_tables WHERE relname IN "
                "('service', 'location', 'grant', 'grant_area', 'postcode', 'area')"
            ).all()
        )
    wrote = {"service": True, "location": True, "grant": True, "grant_area": True}
    assert analysed == wrote | {"postcode": False, "area": False}


#: what `demo load` writes beyond its imports' tables: the crime and population figures
#: (``ingest/need.py``'s writer, which has its own analysed) and the write lock's row
NOT_IMPORTS = {"crime_count", "area_population", "lock"}


@pytest.mark.parametrize("writable_settings", ["sqlite"], indirect=True)
def test_every_table_an_import_writes_is_one_it_analyses(writable_app, shared_data_dir):
    """The tables an import has PostgreSQL analyse (``IMPORTED_TABLES``) are every table
    the demo's imports write (organisations, services, sites, grants, outcomes, contacts,
    opportunities, themes, programmes, runs, changes, releases): one it came to write and
    the list left out would keep stale statistics. Read from the statements the imports
    send (SQLite: every write is a statement; PostgreSQL copies some rows)."""
    written: set[str] = set()
    pattern = re.compile(r'^\s*(?:INSERT(?: OR \w+)? INTO|UPDATE|DELETE FROM)\s+"?(\w+)', re.I)

    def seen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if match := pattern.match(statement):
            written.add(match.group(1))

    engine = writable_app.extensions["directory"].db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        loaded = run(writable_app, "demo", "load", "--from", str(shared_data_dir), "--quiet")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert loaded.exit_code == 0, loaded.output
    assert {"service", "grant", "opportunity", "change_event"} <= written  # (it saw them)
    assert written - NOT_IMPORTS == set(IMPORTED_TABLES)


def test_messy_values_are_read_and_resolved(writable_app, tmp_path):
    path = write(tmp_path, "services.csv", HEADER + OXYGEN + RESCUE, "cp1252")
    result = run(writable_app, "import", str(path))
    assert result.exit_code == 0, result.output
    client = writable_app.test_client()
    oxygen = client.get("/api/v1/services/OXY-KT-01").json
    assert [a["code"] for a in oxygen["coverage"]] == ["E09000021"]
    assert oxygen["themes"] == ["violence-knife-crime", "youth-diversion"]
    assert oxygen["eligibility"]["min_age"] == 11 and oxygen["eligibility"]["max_age"] == 18
    assert oxygen["locations"][0]["postcode"] == "KT1 1EU"
    assert oxygen["locations"][0]["borough"]["code"] == "E09000021"
    assert oxygen["contact"]["website"] == "https://www.oxygen.example.org"
    (grant,) = oxygen["grants"]
    assert grant["amount"] == 45000.0
    assert grant["programme"]["id"] == "snb"
    assert grant["start"] == "2025-04-01" and grant["financial_year"] == "2025/26"
    rescue = client.get("/api/v1/services/SL-RR-01").json
    assert rescue["coverage"][0]["code"] == "E12000007"
    assert rescue["last_verified"] == "2021-04-01"  # Excel serial 44287
    assert rescue["grants"][0]["amount"] == 1_200_000.0
    assert rescue["grants"][0]["meets_3yr_target"] is True


def test_dry_run_reports_and_writes_nothing(writable_app, tmp_path):
    path = write(tmp_path, "services.csv", HEADER + OXYGEN)
    before = dump(writable_app, skip=())
    result = run(writable_app, "import", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry-run" in result.output and "services: 1 created" in result.output
    # a kind the file has none of is left out: a full import's line ended "opportunities: "
    result = run(
        writable_app, "import", str(path), "--dry-run", "--mode", "full", "--source", "services"
    )
    report = result.output.splitlines()[0]
    assert "services: 1 created" in report and "opportunities" not in report, report
    assert dump(writable_app, skip=()) == before


def test_an_import_with_any_error_writes_nothing_and_is_recorded(writable_app, tmp_path):
    run(writable_app, "import", str(write(tmp_path, "a.csv", HEADER + RESCUE)))
    before = dump(writable_app)
    path = write(tmp_path, "b.csv", HEADER + OXYGEN + BAD_AMOUNT)
    result = run(writable_app, "import", str(path))
    assert result.exit_code == 1
    assert (
        "row 3" in result.output and "column Amount" in result.output and "£1.2x" in result.output
    )
    assert "Nothing was written" in result.output
    # two rows were read: the summary says nothing was written and why, never "Nothing read"
    assert "Nothing read" not in result.output
    assert "failed" in result.output and "Nothing written: 1 error, listed below." in result.output
    assert dump(writable_app) == before
    client = writable_app.test_client()
    runs = client.get("/api/v1/imports").json["contents"]
    assert runs[0]["status"] == "failed" and runs[0]["errors"] >= 1
    detail = client.get(f"/api/v1/imports/{runs[0]['id']}").json
    problem = next(p for p in detail["problems"] if p["severity"] == "error")
    assert problem["row"] == 3 and problem["column"] == "Amount" and problem["value"] == "£1.2x"


def test_references_to_missing_records_fail_the_whole_batch(writable_app):
    before = dump(writable_app)
    batch = Batch(
        organisations=[OrganisationRecord(ref="org:a", name="A")],
        services=[
            ServiceRecord(ref="S1", name="Fine", organisation_ref="org:a", coverage=["E09000001"]),
            ServiceRecord(
                ref="S2", name="Orphan", organisation_ref="org:missing", coverage=["E09000001"]
            ),
        ],
    )
    report = _import_batch(writable_app, batch, source="t")
    assert report.status == "failed"
    assert any("org:missing" in p.message for p in report.problems)
    assert dump(writable_app) == before


def test_an_update_records_old_and_new_values_and_areas(writable_app, tmp_path):
    run(writable_app, "import", str(write(tmp_path, "v1.csv", HEADER + OXYGEN)))
    changed = OXYGEN.replace("Oxygen knife crime programme", "Oxygen youth programme").replace(
        "£45k", "£50k"
    )
    result = run(
        writable_app, "import", str(write(tmp_path, "v1.csv", HEADER + changed)), "--source", "v1"
    )
    assert result.exit_code == 0, result.output
    history = writable_app.test_client().get("/api/v1/services/OXY-KT-01/history").json
    latest = history["contents"][0]
    assert latest["action"] == "updated"
    assert latest["changes"]["name"] == {
        "old": "Oxygen knife crime programme",
        "new": "Oxygen youth programme",
    }
    assert {a["code"] for a in latest["areas"]} >= {"E09000021"}
    grant_events = [
        e for e in events(writable_app) if e.entity == "grant" and e.action == "updated"
    ]
    assert grant_events[-1].changes["amount"] == ["45000.00", "50000.00"]


def test_full_mode_withdraws_what_a_source_stops_listing_and_restores_it(writable_app, tmp_path):
    both = write(tmp_path, "weekly.csv", HEADER + OXYGEN + RESCUE)
    assert (
        run(writable_app, "import", str(both), "--mode", "full", "--source", "weekly").exit_code
        == 0
    )
    one = write(tmp_path, "weekly.csv", HEADER + OXYGEN)
    result = run(writable_app, "import", str(one), "--mode", "full", "--source", "weekly")
    assert result.exit_code == 0, result.output
    assert "1 withdrawn" in result.output
    client = writable_app.test_client()
    listed = [s["ref"] for s in client.get("/api/v1/services").json["contents"]]
    assert listed == ["OXY-KT-01"]
    everything = client.get("/api/v1/services?include_withdrawn=true").json["contents"]
    assert {s["ref"]: s["withdrawn"] for s in everything} == {"OXY-KT-01": False, "SL-RR-01": True}
    withdrawn = client.get("/api/v1/services/SL-RR-01/history").json["contents"][0]
    assert withdrawn["action"] == "withdrawn"
    assert [a["code"] for a in withdrawn["areas"]] == ["E12000007"]
    # an incremental import of another file never withdraws anything
    other = write(tmp_path, "other.csv", HEADER + OXYGEN)
    assert "withdrawn" not in run(writable_app, "import", str(other), "--source", "weekly").output
    # listed again: restored
    write(tmp_path, "weekly.csv", HEADER + OXYGEN + RESCUE)
    result = run(writable_app, "import", str(both), "--mode", "full", "--source", "weekly")
    assert "1 restored" in result.output
    assert client.get("/api/v1/services/SL-RR-01").json["withdrawn"] is False


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_export_round_trip_makes_no_change_events(writable_app, tmp_path, suffix):
    source = write(tmp_path, "directory.csv", HEADER + OXYGEN + RESCUE)
    assert run(writable_app, "import", str(source), "--source", "directory").exit_code == 0
    count = len(events(writable_app))
    exported = tmp_path / f"export.{suffix}"
    result = run(writable_app, "export", str(exported))
    assert result.exit_code == 0, result.output
    if suffix == "csv":  # postcodes as people write them, with the space (they were "KT11EU")
        rows = list(csv.DictReader(io.StringIO(exported.read_text("utf-8-sig"))))
        postcodes = {r["Site postcode"] for r in rows if r["Site postcode"]}
        assert postcodes and all(p[-4] == " " and " " not in p[:-4] for p in postcodes), postcodes
    again = run(writable_app, "import", str(exported), "--source", "directory", "--mode", "full")
    assert again.exit_code == 0, again.output
    assert "unchanged" in again.output
    assert len(events(writable_app)) == count


def test_template_command_writes_the_blank_template(writable_app, tmp_path):
    result = run(writable_app, "template", str(tmp_path / "blank.csv"))
    assert result.exit_code == 0
    first_line = (tmp_path / "blank.csv").read_text("utf-8-sig").splitlines()[0]
    assert first_line.startswith("Service ref,Service name")


def _sources(tmp_path: Path, entries: list[dict[str, str]]) -> Path:
    lines = []
    for entry in entries:
        lines.append("[[source]]")
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in entry.items())
    path = tmp_path / "sources.toml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_refresh_runs_every_source_and_a_failed_one_changes_nothing(writable_app, tmp_path):
    write(tmp_path, "good.csv", HEADER + OXYGEN)
    write(tmp_path, "bad.csv", HEADER + RESCUE + BAD_AMOUNT)
    sources = _sources(
        tmp_path,
        [
            {"name": "good", "path": "good.csv", "format": "template", "mode": "full"},
            {"name": "bad", "path": "bad.csv", "mode": "full"},
            {"name": "missing", "path": "nowhere.csv"},
        ],
    )
    result = run(writable_app, "refresh", "--sources", str(sources))
    assert result.exit_code == 1
    assert "good: succeeded" in result.output and "bad: failed" in result.output
    assert "missing: failed" in result.output
    client = writable_app.test_client()
    assert [s["ref"] for s in client.get("/api/v1/services").json["contents"]] == ["OXY-KT-01"]
    status = client.get("/api/v1/status").json
    assert {s["source"]: s["status"] for s in status["sources"]} == {
        "good": "succeeded",
        "bad": "failed",
    }
    with writable_app.extensions["directory"].db.engine.connect() as connection:
        assert connection.execute(select(Lock.__table__)).all() == []


HOLD_THE_LOCK = """
import time
from directory.ingest.refresh import write_lock
from directory.settings import Settings
from directory.store.db import Database

with write_lock(Database(Settings.from_env()), holder="another-host:4242"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_writer_killed_on_another_host_does_not_block_the_next(writable_app, tmp_path):
    """A writer on "another host" holds the lock: refresh and import refuse, naming it. Killed
    with SIGKILL (no chance to clean up; its ``lock`` row stays behind), its lock goes with
    it (PostgreSQL's advisory lock with its session, SQLite's flock with its process), and
    the next import runs at once, on any host, without anyone deleting the row."""
    write(tmp_path, "good.csv", HEADER + OXYGEN)
    sources = _sources(tmp_path, [{"name": "good", "path": "good.csv"}])
    env = settings_env(writable_app.extensions["directory"].settings)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = run(writable_app, "refresh", "--sources", str(sources))
        assert result.exit_code == 1
        assert "Another import or refresh is running (another-host:4242" in result.output
        single = run(writable_app, "import", str(tmp_path / "good.csv"))
        assert single.exit_code == 1 and "Another import or refresh is running" in single.output
        assert writable_app.test_client().get("/api/v1/services").json["total_items"] == 0
        # the refused import is on record, saying why
        (refused,) = writable_app.test_client().get("/api/v1/imports").json["contents"]
        assert refused["status"] == "refused" and refused["source"] == "good"
        assert f"import run #{refused['id']}" in single.output
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]
    db = writable_app.extensions["directory"].db
    with db.engine.connect() as connection:  # the killed writer's row is still there
        assert [r.holder for r in connection.execute(select(Lock.__table__))] == [
            "another-host:4242"
        ]
    deadline = time.monotonic() + 5
    while (result := run(writable_app, "import", str(tmp_path / "good.csv"))).exit_code != 0:
        assert time.monotonic() < deadline, result.output
        time.sleep(0.1)
    assert writable_app.test_client().get("/api/v1/services").json["total_items"] == 1
    with db.engine.connect() as connection:
        assert connection.execute(select(Lock.__table__)).all() == []


def test_a_refused_import_reports_json_and_the_lock_says_whether_its_holder_lives(
    writable_app, tmp_path
):
    """`import --json` refused by another writer printed nothing (exit 1), though the
    refusal was recorded; and after that writer's `kill -9` its row stayed in the lock
    table, read by people as a holder, while its lock was gone with it."""
    write(tmp_path, "good.csv", HEADER + OXYGEN)
    env = settings_env(writable_app.extensions["directory"].settings)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        refused = run(writable_app, "import", str(tmp_path / "good.csv"), "--json")
        assert refused.exit_code == 1
        report = json.loads(refused.stdout)  # the shape of a failed import's report
        (run_,) = writable_app.test_client().get("/api/v1/imports").json["contents"]
        assert report["status"] == "refused" and report["run_id"] == run_["id"]
        assert report["source"] == str(tmp_path / "good.csv")
        assert (report["errors"], report["warnings"], report["counts"]) == (1, 0, {})
        assert report["problems"][0]["message"].startswith("Another import or refresh is running")
        assert report["lock"]["holder"] == "another-host:4242" and report["lock"]["held"] is True
        alive = json.loads(run(writable_app, "lock", "--json").stdout)
        assert (alive["holder"], alive["held"], alive["gone"]) == ("another-host:4242", True, False)
        said = run(writable_app, "lock").stdout
        assert said.startswith("The write lock is held now, by another-host:4242, since ")
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]
    gone = json.loads(run(writable_app, "lock", "--json").stdout)
    assert (gone["holder"], gone["held"], gone["gone"]) == ("another-host:4242", False, True)
    said = run(writable_app, "lock").stdout
    assert said.startswith("The write lock is free: the lock table still names another-host:4242")
    assert "it is not running" in said
    assert run(writable_app, "import", str(tmp_path / "good.csv")).exit_code == 0
    free = json.loads(run(writable_app, "lock", "--json").stdout)
    assert free == {"holder": None, "since": None, "held": False, "gone": False}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[[source]]\nname = 'x'\n", "give exactly one of path or url"),
        ("[[source]]\nname = 'x'\npath = 'a.csv'\nmode = 'sometimes'\n", "mode must be one of"),
        ("not toml at all = = =", "not valid TOML"),
        ("", "lists no [[source]] tables"),
    ],
)
def test_refresh_explains_a_bad_sources_file(writable_app, tmp_path, body, message):
    path = tmp_path / "sources.toml"
    path.write_text(body, "utf-8")
    result = run(writable_app, "refresh", "--sources", str(path))
    assert result.exit_code != 0
    assert message in result.output


def test_the_real_360giving_file_imports_with_its_warnings(writable_app, shared_data_dir):
    path = shared_data_dir / "grants" / "grantnav_fixture_grants_london_recipients_360giving.json"
    expected = json.loads(path.read_text("utf-8"))["grants"]
    result = run(writable_app, "import", str(path), "--json")
    assert result.exit_code == 0, result.output[:2000]
    report = json.loads(result.output)
    assert report["status"] == "succeeded" and report["errors"] == 0 and report["warnings"] > 0
    client = writable_app.test_client()
    assert client.get("/api/v1/grants").json["total_items"] == len(expected)
    sample = expected[0]
    grant = client.get(f"/api/v1/grants/{sample['id']}").json
    assert grant["amount"] == sample["amountAwarded"]
    assert grant["funder"]["ref"] == sample["fundingOrganization"][0]["id"]


def _giving(grant_id: str, funder: dict[str, str], recipient: dict[str, str]) -> dict[str, Any]:
    from tests.directory.ingest.test_giving360 import grant

    return grant(id=grant_id, fundingOrganization=[funder], recipientOrganization=[recipient])


def test_an_organisation_under_another_id_or_spelling_is_the_one_held(writable_app, tmp_path):
    """Matched by org-id, then directory/data/organisations.csv, then registered number
    (a recipient named by another id and name but the charity number of the one held),
    then exact normalised name:
    a 360Giving file naming MOPAC under another id or spelling never makes a second MOPAC,
    and the report says which match was made."""
    mopac = {"id": "GB-GOR-PC390", "name": "Mayor's Office for Policing and Crime"}
    trust = {"id": "GB-CHC-1111111", "name": "Kingston Youth Trust"}
    first = tmp_path / "first.json"
    first.write_text(json.dumps({"grants": [_giving("360G-a", mopac, trust)]}), "utf-8")
    assert run(writable_app, "import", str(first), "--source", "a").exit_code == 0
    variants = [
        _giving("360G-b", {"id": "gb-gor-pc390 ", "name": "MOPAC"}, trust),  # case and spacing
        _giving(
            "360G-c",
            {"id": "360G-london:mopac", "name": "Mayors Office for Policing & Crime"},
            trust,
        ),  # fmt: skip
        _giving("360G-d", mopac, {"id": "GB-COH-09999999", "name": "Kingston youth trust."}),
        _giving("360G-e", mopac, {"id": "360G-kyt", "name": "KYT", "charityNumber": "1111111"}),
    ]
    second = tmp_path / "second.json"
    second.write_text(json.dumps({"grants": variants}), "utf-8")
    result = run(writable_app, "import", str(second), "--source", "b", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    matched = {
        p["value"]: p["message"] for p in report["problems"] if "is taken to be" in p["message"]
    }
    assert set(matched) == {  # (read trimmed)
        "gb-gor-pc390", "360G-london:mopac", "GB-COH-09999999", "360G-kyt",
    }  # fmt: skip
    assert "another org-id" in matched["gb-gor-pc390"]
    assert "knows that organisation by this name" in matched["360G-london:mopac"]
    assert "exactly this name" in matched["GB-COH-09999999"]
    assert "the same registered charity number is already held" in matched["360G-kyt"]
    assert report["counts"]["organisations"]["matched"] == 4
    client = writable_app.test_client()
    for grant_id in ("360G-a", "360G-b", "360G-c", "360G-d", "360G-e"):
        grant = client.get(f"/api/v1/grants/{grant_id}").json
        assert grant["funder"]["ref"] == "GB-GOR-PC390", grant_id
        assert grant["recipient"]["ref"] == "GB-CHC-1111111", grant_id
    with writable_app.extensions["directory"].db.engine.connect() as connection:
        names = connection.execute(select(Organisation.name)).scalars().all()
    assert len([n for n in names if "policing" in n.lower()]) == 1
    assert len([n for n in names if "kingston youth trust" in n.lower()]) == 1
    again = run(writable_app, "import", str(second), "--source", "b", "--json")
    again_report = json.loads(again.output)
    assert again_report["status"] == "unchanged", again_report["counts"]  # the same matches


def test_an_organisation_matched_by_name_is_warned_of_at_its_row_and_column(writable_app, tmp_path):
    """The warning that a sheet's organisation is one held under another ref named no row,
    and a column the sheet does not have ("column organisation, value 'org:oxygen'"): it
    names the first row, the sheet's column and what the officer typed, and how many other
    rows name it."""
    first = HEADER.rstrip("\n") + ",Organisation ref\n" + OXYGEN.rstrip("\n") + ",GB-CHC-1234567\n"
    assert run(writable_app, "import", str(write(tmp_path, "first.csv", first))).exit_code == 0
    rows = [OXYGEN.replace("OXY-KT-01", ref) for ref in ("OXY-KT-02", "OXY-KT-03", "OXY-KT-04")]
    second = write(tmp_path, "second.csv", HEADER + "".join(rows))
    report = json.loads(run(writable_app, "import", str(second), "--json").output)
    (matched,) = [p for p in report["problems"] if "is taken to be" in p["message"]]
    assert (matched["row"], matched["column"], matched["value"]) == (
        2,
        "Organisation name",
        "Oxygen",
    )
    assert matched["message"] == (
        "Organisation 'Oxygen' (and 2 other rows) is taken to be 'GB-CHC-1234567' (Oxygen): an "
        "organisation of exactly this name (ignoring case and punctuation) is already held; if "
        "they are different organisations give this one a distinct name."
    )


def test_a_programme_new_with_an_aliased_funder_names_the_funder_held(writable_app, tmp_path):
    """A 360Giving file that brings a new programme under an alias of MOPAC's org-id: the
    programme's funder is the MOPAC held (GB-GOR-PC390), so it is classified by that funder
    and listed under it, not under the alias."""
    alias = {"id": "360G-london:mopac", "name": "Mayors Office for Policing & Crime"}
    trust = {"id": "GB-CHC-1111111", "name": "Kingston Youth Trust"}
    item = _giving("360G-new-programme", alias, trust)
    item["grantProgramme"] = [{"title": "Quiet Streets Pilot"}]
    path = tmp_path / "aliased.json"
    path.write_text(json.dumps({"grants": [item]}), "utf-8")
    result = run(writable_app, "import", str(path), "--source", "aliased", "--json")
    assert result.exit_code == 0, result.output
    client = writable_app.test_client()
    programme = client.get("/api/v1/grants/360G-new-programme").json["programme"]
    detail = client.get(f"/api/v1/programmes/{programme['id']}").json["programme"]
    assert detail["funder_ref"] == "GB-GOR-PC390", detail
    assert detail["community_safety"] is True  # MOPAC is a community-safety funder


def test_organisations_csv_is_the_template_funders_table_too():
    from directory.ingest.context import known_organisations
    from directory.ingest.template import MOPAC_NAME, MOPAC_REF, _funder

    known = known_organisations()
    assert known.names[MOPAC_REF] == MOPAC_NAME
    for text in ("MOPAC", "Mayor's Office for Policing & Crime", " gb-gor-pc390", "GLA"):
        ref, name, _ = _funder(text)
        assert (ref, name) == (known.by_name.get(loose_key(text)) or MOPAC_REF, known.names[ref])
    assert _funder("Kingston SNB")[0] not in known.names


def test_an_open_referral_hsds_file_imports(writable_app, tmp_path):
    from tests.directory.ingest.test_hsds import services

    path = tmp_path / "other-directory.json"
    path.write_text(json.dumps({"contents": services()}), "utf-8")
    result = run(writable_app, "import", str(path))
    assert result.exit_code == 0, result.output
    assert "services: 2 created" in result.output
    mentoring = writable_app.test_client().get("/api/v1/services/svc-mentoring").json
    assert {a["code"] for a in mentoring["coverage"]} == {"E09000021", "E09000030"}
    assert mentoring["locations"][0]["ward"]["code"].startswith("E05")
    assert "violence-knife-crime" in mentoring["themes"]


# -- text that cannot be stored: a problem naming the row and field, nothing written ----------


def _unstorable_files() -> list[tuple[str, bytes, int, str, str]]:
    from tests.directory.ingest.test_giving360 import grant
    from tests.directory.ingest.test_hsds import services

    hsds = services()
    hsds[1]["service_areas"] = [{"id": "sa", "name": "Kingston\x00"}]
    flat = (
        "Identifier,Title,Amount Awarded,Award Date,Recipient Org:Identifier,Recipient Org:Name,"
        "Funding Org:Identifier,Funding Org:Name\n"
        "360G-f1,Mentoring,45000,2021-06-01,GB-CHC-1111111,Kingston Youth Trust,GB-GOR-PC390,MOPAC\n"
        "360G-f2,Ment\x00oring,45000,2021-06-01,GB-CHC-1111111,Kingston Youth Trust,GB-GOR-PC390,MOPAC\n"
    )
    return [
        ("nul.csv", (HEADER + OXYGEN + RESCUE.replace("Rescue and", "Rescue\x00and")).encode(),
         3, "Service name", "NUL character"),
        ("grants.csv", flat.encode(), 3, "Title", "NUL character"),
        ("surrogate.json", json.dumps({"grants": [grant(), grant(id="360G-2", title="\ud800G")]})
         .encode(), 2, "grants[1].title", "damaged character (\\ud800"),
        ("bell.json", json.dumps({"grants": [grant(), grant(id="360G-2", title="a\x07b")]})
         .encode(), 2, "grants[1].title", "control character (code 7)"),
        ("nul.json", json.dumps({"grants": [grant(title="a\x00b")]}).encode(), 1,
         "grants[0].title", "NUL character"),
        ("hsds.json", json.dumps({"contents": hsds}).encode(), 2,
         "contents[1].service_areas[0].name", "NUL character"),
        # JSON in UTF-16 (the NUL's escape is not the bytes of a UTF-8 one)
        ("nul-16.json", json.dumps({"grants": [grant(title="a\x00b")]}).encode("utf-16"), 1,
         "grants[0].title", "NUL character"),
        ("hsds-16.json", json.dumps({"contents": hsds}).encode("utf-16-le"), 2,
         "contents[1].service_areas[0].name", "NUL character"),
    ]  # fmt: skip


def test_text_that_cannot_be_stored_is_a_problem_naming_row_and_field(writable_app, tmp_path):
    """A NUL or a lone surrogate in a template CSV, a 360Giving CSV or JSON package or an
    Open Referral file: the import fails with a problem naming the row and field (a CSV's
    NUL is no longer "not a CSV or XLSX"), on SQLite and PostgreSQL, never a traceback,
    and writes nothing but the failed run (a dry run not even that)."""
    # each file as an import, the first as a dry run too (which records no run)
    files = _unstorable_files()
    for (name, body, row, column, words), dry_run in [
        *((f, False) for f in files), (files[0], True),
    ]:  # fmt: skip
        path = tmp_path / name
        path.write_bytes(body)
        before = dump(writable_app)
        runs = len(dump(writable_app, skip=())["import_run"])
        args = ["import", str(path), "--json", *(["--dry-run"] if dry_run else [])]
        result = run(writable_app, *args)
        assert result.exit_code == 1, (name, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), name
        report = json.loads(result.output)
        errors = [p for p in report["problems"] if p["severity"] == "error"]
        assert [(p["row"], p["column"]) for p in errors] == [(row, column)], (name, errors)
        message = errors[0]["message"]
        assert words in message and ("delete it" in message or "type the text again" in message)
        assert "not a CSV" not in result.output
        assert dump(writable_app) == before, name
        recorded = len(dump(writable_app, skip=())["import_run"]) - runs
        assert recorded == (0 if dry_run else 1), name
        if not dry_run:  # the failed run and its problem, as stored, read back
            failed = writable_app.test_client().get(f"/api/v1/imports/{report['run_id']}").json
            assert failed["status"] == "failed"
            stored = [p for p in failed["problems"] if p["severity"] == "error"]
            assert [(p["row"], p["column"]) for p in stored] == [(row, column)], name


def test_an_upload_holding_text_that_cannot_be_stored_is_a_422_problem(writable_app):
    """POST /api/v1/imports: the same problem as the command's (import-failed, 422), never
    a 500, and nothing written."""
    from tests.directory.test_keys import make_key, upload

    key = make_key(writable_app, "officer", "--name", "officer")["key"]
    for name, body, row, column, _words in _unstorable_files():
        before = dump(writable_app, skip=("import_run", "api_key"))
        for dry_run in ("true", "false"):
            response = upload(writable_app, body, key=key, name=name, dry_run=dry_run)
            assert response.status_code == 422, (name, response.get_data(as_text=True))
            assert response.mimetype == "application/problem+json"
            assert response.json["code"] == "import-failed"
            errors = [p for p in response.json["problems"] if p["severity"] == "error"]
            assert [(p["row"], p["column"]) for p in errors] == [(row, column)], name
        assert dump(writable_app, skip=("import_run", "api_key")) == before, name


def test_an_upload_that_runs_past_its_time_is_stopped_and_writes_nothing(writable_settings):
    """An upload's import that would run past DIRECTORY_UPLOAD_SECONDS (gunicorn's worker
    timeout would kill it: no answer, or nginx's 502) is stopped at its next step or rows,
    rolled back, and a 413 naming the command to run instead; the lock is let go, so the
    same file then imports within the time."""
    from directory import create_app
    from tests.directory.test_keys import assert_problem, make_key, upload

    hurried = create_app(writable_settings.with_overrides(upload_seconds=1e-6))
    patient = create_app(writable_settings)
    try:
        key = make_key(patient, "officer", "--name", "officer")["key"]
        before = dump(patient, skip=("api_key",))
        for dry_run in ("true", "false"):
            response = upload(hurried, HEADER + OXYGEN + RESCUE, key=key, dry_run=dry_run)
            body = assert_problem(response, 413, "import-too-long")
            assert "ran past the 1e-06 s" in body["detail"], body
            assert "`directory import services.csv`" in body["detail"]
            assert dump(patient, skip=("api_key",)) == before  # no run recorded either
        response = upload(patient, HEADER + OXYGEN + RESCUE, key=key)
        assert response.status_code == 201, response.get_data(as_text=True)
    finally:
        for app in (hurried, patient):
            app.extensions["directory"].db.dispose()


# -- regressions found in review -------------------------------------------------------------
def _import_batch(app: Any, batch: Batch, source: str = "other", mode: str = "incremental") -> Any:
    state = app.extensions["directory"]
    with state.db.engine.connect() as connection:
        snap = state.geography.get(GeographyRepository(connection))
    options = ImportOptions(
        source=source, format="test", location="memory", checksum="x", mode=mode
    )
    return import_batch(state.db, snap, state.settings, batch, options)


def test_a_blank_in_one_source_never_erases_what_another_recorded(writable_app, tmp_path):
    rich = Batch(organisations=[OrganisationRecord(
        ref="org:oxygen", name="Oxygen", website="https://oxygen.example.org",
        description="Youth charity", type="voluntary")])  # fmt: skip
    assert _import_batch(writable_app, rich).status == "succeeded"
    run(writable_app, "import", str(write(tmp_path, "t.csv", HEADER + OXYGEN)))
    org = writable_app.test_client().get("/api/v1/organisations/org:oxygen").json
    assert org["website"] == "https://oxygen.example.org"
    assert org["description"] == "Youth charity"


def test_text_longer_than_its_column_is_a_clean_problem(writable_app, tmp_path):
    long_name = "X" * 350
    path = write(
        tmp_path, "long.csv", HEADER + OXYGEN.replace("Oxygen knife crime programme", long_name)
    )
    before = dump(writable_app)
    result = run(writable_app, "import", str(path), "--json")
    assert result.exit_code == 1
    # its row, the sheet's heading and the value cut short (it was row null, column "name")
    (problem,) = json.loads(result.output)["problems"]
    assert (problem["row"], problem["column"]) == (2, "Service name")
    assert problem["value"] == "X" * 60 + "…"
    assert "Service name is 350 characters long; at most 300" in problem["message"]
    assert dump(writable_app) == before


@pytest.mark.parametrize(
    ("old", "new", "column", "value"),
    [
        ("Oxygen,charity", "#N/A,charity", "Organisation name", "#N/A"),
        ('"Workshops in Kingston"', "W" * 40_000, "Description", "W" * 60 + "…"),
        ('"Workshops in Kingston"', "V" * 200_000, "Description", "V" * 60 + "…"),
    ],
)
def test_a_cell_the_reader_refuses_is_a_problem_naming_its_row_column_and_value(
    writable_app, tmp_path, old, new, column, value
):
    """Excel's #N/A, or a cell longer than a spreadsheet's (past the csv module's own
    limit too): the problem has its row, heading and value (the value was null for #N/A;
    row and column null for a long cell, the row only in the message)."""
    path = write(tmp_path, "cells.csv", HEADER + OXYGEN.replace(old, new))
    result = run(writable_app, "import", str(path), "--dry-run", "--json")
    assert result.exit_code == 1
    (problem,) = json.loads(result.output)["problems"]
    assert (problem["row"], problem["column"], problem["value"]) == (2, column, value)


def test_excel_error_values_are_problems_of_their_cells_and_checking_goes_on(
    writable_app, tmp_path
):
    """An Excel error value stopped the reading: the report was its one problem, and the
    sheet's five others came only once it was put right (the README lists every problem at
    once). Each such cell is a problem of its own, saying what to do, and every other cell
    and row is still checked; a required cell holding one is not also "needed"."""
    rows = [
        OXYGEN.replace("£45k", "#N/A"),
        OXYGEN.replace("OXY-KT-01", "OXY-KT-02").replace("RB Kingston upon Thames", "Lambth")
        .replace('"knife crime; youth diversion"', "Mentorin"),
        OXYGEN.replace("OXY-KT-01", "OXY-KT-03").replace("Oxygen,charity", "#REF!,charity")
        .replace("01/09/2026", "#VALUE!"),
    ]  # fmt: skip
    path = write(tmp_path, "errors.csv", HEADER + "".join(rows))
    result = run(writable_app, "import", str(path), "--dry-run", "--json")
    assert result.exit_code == 1
    problems = json.loads(result.output)["problems"]
    assert {(p["row"], p["column"], p["value"]) for p in problems} == {
        (2, "Amount", "#N/A"),
        (3, "Coverage", "Lambth"),
        (3, "Themes", "Mentorin"),
        (4, "Organisation name", "#REF!"),
        (4, "Last verified", "#VALUE!"),
    }
    (na,) = [p for p in problems if p["value"] == "#N/A"]
    assert na["message"] == (
        "The cell holds Excel's error value #N/A: its formula's result is an error. Fix the "
        "formula, or type (or paste as values) what the cell should hold."
    )


def test_a_360giving_workbooks_excel_errors_are_each_a_problem_of_its_cell(writable_app, tmp_path):
    """A 360Giving workbook's Excel error values stopped the check at the first: each is a
    problem of its cell, on the grants sheet by its row and column title and on the
    standard's sheet of a grant's part by that sheet too, beside the file's other problems
    and nothing written."""
    from openpyxl import Workbook

    book = Workbook()
    grants = book.active
    grants.title = "grants"
    grants.append(["Identifier", "Title", "Amount Awarded", "Award Date",
                   "Recipient Org:Identifier", "Recipient Org:Name", "Funding Org:Identifier",
                   "Funding Org:Name", "Beneficiary Location:Geographic Code"])  # fmt: skip
    grant = ["G-1", "Mentoring", 45000, "2026-04-01", "GB-CHC-1", "Trust", "GB-GOR-PC390",
             "MOPAC", "E09000021"]  # fmt: skip
    grants.append([*grant[:2], "#N/A", *grant[3:]])
    grants.append(["G-2", "Outreach", 9000, "31/02/2026", "#REF!", *grant[5:]])
    grants.append(["G-3", *grant[1:]])
    planned = book.create_sheet("Planned Dates")
    planned.append(["Identifier", "Planned Dates:Start Date", "Planned Dates:End Date"])
    planned.append(["G-3", "#VALUE!", "2027-03-31"])
    assert (grants["C2"].data_type, planned["B2"].data_type) == ("e", "e")
    path = tmp_path / "grants.xlsx"
    book.save(path)
    before = dump(writable_app)
    result = run(writable_app, "import", str(path), "--json")
    assert result.exit_code == 1, result.output
    problems = json.loads(result.output)["problems"]
    assert {(p["row"], p["column"], p["value"]) for p in problems if p["severity"] == "error"} == {
        (2, "Amount Awarded", "#N/A"),
        (3, "Award Date", "31/02/2026"),
        (3, "Recipient Org:Identifier", "#REF!"),
        (2, "Planned Dates:Start Date (sheet 'Planned Dates')", "#VALUE!"),
    }
    assert all(
        "Fix the formula, or type (or paste as values)" in p["message"]
        for p in problems
        if (p["value"] or "").startswith("#")
    )
    assert dump(writable_app) == before


# -- numbers past what a column holds, and files no one could mean -----------------------------


def _numbers_too_large() -> list[tuple[str, bytes, str]]:
    """(file name, contents, words of the problem): a number past what the database's
    INTEGER columns hold, in each of the importer's formats that reads one."""
    from tests.directory.ingest.test_giving360 import grant

    duration = HEADER.rstrip("\n") + ",Duration (months)\n" + OXYGEN.rstrip("\n") + ",{}\n"
    planned = [{"startDate": "2021-07-01", "endDate": "2022-06-30", "duration": 10**20}]
    return [
        # past PostgreSQL's INTEGER (a database error in the COPY: a 500) and past what
        # SQLite can bind (2**63: OverflowError, a 500)
        ("duration.csv", duration.format("3000000000").encode(), "too large a number"),
        ("duration.csv", duration.format("99999999999999999999").encode(), "too large a number"),
        ("grants.json", json.dumps({"grants": [grant(plannedDates=planned)]}).encode(),
         "too large a number"),
        # more digits than Python's int() reads (its own words named sys.set_int_max_str_digits)
        ("population.csv", f"gss_code,population_all_ages,year\nE09000021,{'9' * 5000},2022\n"
         .encode(), "people in one borough is not plausible"),
        ("crime.csv", f"Group,SubGroup,BOCU,202407\nBURGLARY,DOMESTIC BURGLARY,Hackney,{'9' * 5000}\n"
         .encode(), "offences in one month and category is not plausible"),
        # the same past int()'s limit by leading zeros, which it counts too
        ("duration.csv", duration.format("0" * 5000 + "3000000000").encode(),
         "too large a number"),
        ("population.csv", f"gss_code,population_all_ages,year\nE09000021,{'0' * 5000}99999999999,"
         "2022\n".encode(), "people in one borough is not plausible"),
        ("crime.csv", f"Group,SubGroup,BOCU,202407\nBURGLARY,DOMESTIC BURGLARY,Hackney,"
         f"{'0' * 5000}99999999\n".encode(), "offences in one month and category is not plausible"),
    ]  # fmt: skip


def test_a_number_past_what_a_column_holds_is_a_problem_naming_its_cell(writable_app, tmp_path):
    """Each format's numbers are checked against what the database can hold: a problem
    naming the cell and nothing written, from the command and the API alike (they were a
    traceback and a 500, on SQLite past 2**63 and on PostgreSQL past 2**31)."""
    from tests.directory.test_keys import make_key, upload

    key = make_key(writable_app, "officer", "--name", "officer")["key"]
    for name, body, words in _numbers_too_large():
        before = dump(writable_app, skip=("import_run", "api_key"))
        result = run(writable_app, "import", str(write(tmp_path, name, body.decode())))
        assert result.exit_code == 1 and words in result.output, (name, result.output[-600:])
        assert "Traceback" not in result.output
        for dry_run in ("true", "false"):
            response = upload(writable_app, body, key=key, name=name, dry_run=dry_run)
            assert response.status_code == 422, (name, response.get_data(as_text=True))
            assert response.json["code"] == "import-failed"
            assert words in json.dumps(response.json["problems"]), name
        assert dump(writable_app, skip=("import_run", "api_key")) == before, name
    response = upload(writable_app, _numbers_too_large()[0][1], key=key, dry_run="true")
    assert "(a dry run)" in response.json["detail"], response.json["detail"]


def test_open_referral_numbers_are_kept_as_json_holds_them(writable_app, tmp_path):
    """An HSDS file's numbers are read as decimals (to keep their digits): a cost option's
    12.50 is served back as 12.5 (it was a 500: JSON cannot hold a Decimal), and a
    latitude no float can hold is the location's warning, not an error."""
    from tests.directory.ingest.test_hsds import services

    hsds = services()
    hsds[0]["cost_options"] = [{"id": "c1", "amount": "@@12.50", "currency": "GBP"}]
    hsds[0]["service_at_locations"][0]["location"]["latitude"] = 10**400
    text = json.dumps({"contents": hsds}).replace('"@@12.50"', "12.50")
    result = run(writable_app, "import", str(write(tmp_path, "hsds.json", text)))
    assert result.exit_code == 0, result.output[-800:]
    assert "latitude must be between -90 and 90" in result.output
    client = writable_app.test_client()
    listed = client.get("/api/v1/hsds/services?per_page=50").json["contents"]
    found = next(s for s in listed if s["name"] == "Street Mentoring")
    mentoring = client.get(f"/api/v1/hsds/services/{found['id']}").json
    assert mentoring["cost_options"] == [{"id": "c1", "amount": 12.5, "currency": "GBP"}]


def test_a_source_named_with_text_that_cannot_be_stored_is_refused(writable_app, tmp_path):
    """The source name and the file's name are stored with the run: one holding a NUL (which
    PostgreSQL's text cannot hold: a 500 on a dry run, a 503 otherwise) is a 422 naming
    the field, and nothing is written or recorded."""
    from tests.directory.test_keys import make_key, upload

    key = make_key(writable_app, "officer", "--name", "officer")["key"]
    before = dump(writable_app, skip=("api_key",))
    for form, field in (({"source": "mopac\x00"}, "source"), ({"name": "s\x00.csv"}, "file"),
                        ({"source": "bell\x07"}, "source")):  # fmt: skip
        for dry_run in ("true", "false"):
            response = upload(writable_app, HEADER + OXYGEN, key=key, dry_run=dry_run, **form)
            assert response.status_code == 422, (form, response.get_data(as_text=True))
            assert response.json["code"] == "invalid-input"
            assert list(response.json["errors"]) == [field], response.json
    assert dump(writable_app, skip=("api_key",)) == before
    result = run(writable_app, "import", str(write(tmp_path, "s.csv", HEADER + OXYGEN)),
                 "--source", "bell\x07")  # fmt: skip
    assert result.exit_code == 1 and "control character" in result.output
    assert dump(writable_app, skip=("api_key",)) == before


@pytest.mark.postgres
def test_a_value_postgresql_refuses_in_its_copy_is_the_imports_refusal(request, tmp_path):
    """On PostgreSQL an import's rows go in by COPY, through the driver past SQLAlchemy: a
    value the database refuses there (here an age past INTEGER, which no reader lets
    through) is refused as any database error is (WriteRefused: a 503 problem, a line
    from the command), with nothing written; it was the driver's own error, a 500."""
    from directory import create_app
    from tests.conftest import geography_copy

    app = create_app(geography_copy(request, "postgres", tmp_path))
    try:
        before = dump(app)
        batch = Batch(
            organisations=[OrganisationRecord(ref="org:a", name="A")],
            services=[ServiceRecord(ref="S1", name="Old", organisation_ref="org:a",
                                    coverage=["E09000001"], min_age=3_000_000_000)],
        )  # fmt: skip
        with pytest.raises(
            WriteRefused, match="refused the import .*out of range.*nothing was written"
        ):
            _import_batch(app, batch, source="t")
        assert dump(app) == before
    finally:
        app.extensions["directory"].db.dispose()


def test_a_download_cut_short_of_its_content_length_is_refused(writable_app):
    """A server that closes before the length it declared is no error to urllib: the bytes
    just stop. Imported as it came, a file cut short in full mode would withdraw every
    service it no longer lists; it is refused, and nothing is written."""
    from tests.geodata.fetch.server import FixtureServer, Reply

    body = (HEADER + OXYGEN + RESCUE).encode()
    server = FixtureServer().start()
    try:
        server.route("/services.csv", Reply(body, content_type="text/csv", truncate_to=200))
        before = dump(writable_app)
        result = run(writable_app, "import", f"{server.url}/services.csv")
        assert result.exit_code == 1, result.output
        assert f"was cut short (200 of {len(body):,} bytes)" in result.output
        assert dump(writable_app) == before
    finally:
        server.stop()


def test_a_download_that_trickles_on_is_given_up_at_its_deadline(writable_app, monkeypatch):
    """A server sending a byte now and then never let a read wait its timeout, and held
    the import (and the write lock) without end: a download has a deadline in all, and
    is refused at it, nothing written; a later import runs."""
    from directory.ingest import run as run_module
    from tests.geodata.fetch.server import FixtureServer, Reply

    monkeypatch.setattr(run_module, "FETCH_DEADLINE_S", 1)
    body = (HEADER + OXYGEN).encode()
    server = FixtureServer().start()
    try:
        server.route("/slow.csv", Reply(body, content_type="text/csv", trickle=0.1))
        server.route("/services.csv", Reply(body, content_type="text/csv"))
        before = dump(writable_app)
        result = run(writable_app, "import", f"{server.url}/slow.csv")
        assert result.exit_code == 1, result.output
        assert "it took longer than 1 s in all" in result.output
        assert dump(writable_app) == before
        assert run(writable_app, "import", f"{server.url}/services.csv").exit_code == 0
    finally:
        server.stop()


def test_a_file_url_is_the_file_it_names(writable_app, tmp_path):
    """file:///…/my%20services.csv was read as a relative path ("Cannot read file:/…");
    it is the file (RFC 8089), and one of another host is refused by name."""
    path = write(tmp_path, "my services.csv", HEADER + OXYGEN)
    result = run(writable_app, "import", path.as_uri(), "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["counts"]["services"]["created"] == 1
    result = run(writable_app, "import", "file://elsewhere/x.csv")
    assert result.exit_code == 1 and "a file: URL of another host" in result.output


@pytest.mark.parametrize(
    "url", ["http://[::1/x.csv", "http://127.0.0.1:abc/x.csv", "http://exa mple.org/x.csv"]
)
def test_a_location_that_is_not_a_url_is_said_so(writable_app, url):
    result = run(writable_app, "import", url)
    assert result.exit_code == 1 and "not a URL" in result.output, result.output
    assert "Traceback" not in result.output


def test_huge_numeric_ids_are_not_found_not_errors(directory_app_with_oxygen):
    client = directory_app_with_oxygen.test_client()
    for url in ("/api/v1/services/2147483648", "/api/v1/grants/99999999999",
                "/api/v1/organisations/2147483648", "/api/v1/imports/2147483648",
                "/api/v1/services/2147483648/history"):  # fmt: skip
        assert client.get(url).status_code == 404, url
    assert client.get("/api/v1/services?organisation=2147483648").status_code == 404


@pytest.fixture()
def directory_app_with_oxygen(writable_app, tmp_path):
    assert (
        run(writable_app, "import", str(write(tmp_path, "o.csv", HEADER + OXYGEN))).exit_code == 0
    )
    return writable_app


def test_a_full_import_with_no_rows_is_refused(directory_app_with_oxygen, tmp_path):
    result = run(
        directory_app_with_oxygen,
        "import",
        str(write(tmp_path, "o.csv", HEADER)),
        "--mode",
        "full",
        "--source",
        "o",
    )
    assert result.exit_code == 1
    assert "would withdraw everything" in result.output
    assert directory_app_with_oxygen.test_client().get("/api/v1/services").json["total_items"] == 1


def test_a_source_that_takes_a_record_over_owns_it(writable_app, tmp_path):
    both = write(tmp_path, "both.csv", HEADER + OXYGEN + RESCUE)
    assert run(writable_app, "import", str(both), "--source", "a", "--mode", "full").exit_code == 0
    b = write(tmp_path, "b.csv", HEADER + OXYGEN)
    taken = run(writable_app, "import", str(b), "--source", "b", "--take-over")
    assert taken.exit_code == 0, taken.output
    rescue_only = write(tmp_path, "a2.csv", HEADER + RESCUE)
    result = run(writable_app, "import", str(rescue_only), "--source", "a", "--mode", "full")
    assert "withdrawn" not in result.output  # OXY-KT-01 now belongs to b
    assert writable_app.test_client().get("/api/v1/services/OXY-KT-01").json["withdrawn"] is False


def test_a_numeric_ref_wins_over_an_id(writable_app, tmp_path):
    rows = OXYGEN.replace("OXY-KT-01", "2") + RESCUE.replace("SL-RR-01", "1")
    assert run(writable_app, "import", str(write(tmp_path, "n.csv", HEADER + rows))).exit_code == 0
    client = writable_app.test_client()
    assert client.get("/api/v1/services/2").json["ref"] == "2"
    assert client.get("/api/v1/services/1").json["ref"] == "1"


def test_moving_a_site_reports_the_new_area(directory_app_with_oxygen, tmp_path):
    moved = OXYGEN.replace("kt1 1eu", "BR1 1AA")
    result = run(directory_app_with_oxygen, "import", str(write(tmp_path, "o.csv", HEADER + moved)))
    assert result.exit_code == 0, result.output
    latest = (
        directory_app_with_oxygen.test_client()
        .get("/api/v1/services/OXY-KT-01/history")
        .json["contents"][0]
    )
    assert {"E09000021", "E09000006"} <= {
        a["code"] for a in latest["areas"]
    }  # Kingston and Bromley


def test_the_demo_directory_exports_to_a_template_that_imports_cleanly(
    writable_app, tmp_path, shared_data_dir
):
    assert run(writable_app, "demo", "load", "--from", str(shared_data_dir)).exit_code == 0
    exported = tmp_path / "demo.xlsx"
    assert run(writable_app, "export", str(exported)).exit_code == 0
    # (its records are the demo sources': imported as source "demo" they are taken over)
    result = run(writable_app, "import", str(exported), "--dry-run", "--take-over", "--json")
    report = json.loads(result.output)
    assert report["errors"] == 0, report["problems"][:5]
    assert report["counts"]["services"]["created"] == 0


def test_a_site_keeps_its_ref_through_an_export_and_a_reimport(writable_app, tmp_path):
    """The template's Site ref: a row's site takes it (blank: ``<service ref>#site``), an
    export writes each site's own, and importing the export again changes nothing. (Every
    site ref was ``<service ref>#site``: a site made with another ref, over the API or by
    the JSON import, was renamed by an export's round trip.)"""
    header = HEADER.replace("Site name,", "Site ref,Site name,")
    oxygen = OXYGEN.replace("Oxygen hub,", "oxygen-hub-main,Oxygen hub,")
    rescue = RESCUE.replace("pan-London,,", "pan-London,,,")
    path = write(tmp_path, "sites.csv", header + oxygen + rescue)
    assert run(writable_app, "import", str(path), "--source", "sheet").exit_code == 0
    client = writable_app.test_client()

    def site_refs() -> dict[str, list[str]]:
        services = client.get("/api/v1/services?per_page=100").json["contents"]
        return {
            s["ref"]: [site["ref"] for site in client.get(f"/api/v1/services/{s['ref']}")
                       .json["locations"]]
            for s in services
        }  # fmt: skip

    assert site_refs() == {"OXY-KT-01": ["oxygen-hub-main"], "SL-RR-01": []}
    exported = tmp_path / "export.xlsx"
    assert run(writable_app, "export", str(exported)).exit_code == 0
    before = dump(writable_app)
    again = run(writable_app, "import", str(exported), "--source", "sheet", "--json")
    assert json.loads(again.output)["status"] == "unchanged", again.output
    assert dump(writable_app) == before and site_refs()["OXY-KT-01"] == ["oxygen-hub-main"]
    absent = write(tmp_path, "absent.csv", HEADER + OXYGEN)  # no Site ref column: as held
    assert run(writable_app, "import", str(absent), "--source", "sheet").exit_code == 0
    assert site_refs()["OXY-KT-01"] == ["oxygen-hub-main"]
    blank = write(tmp_path, "blank.csv", header + OXYGEN.replace("Oxygen hub,", ",Oxygen hub,"))
    assert run(writable_app, "import", str(blank), "--source", "sheet").exit_code == 0
    assert site_refs()["OXY-KT-01"] == ["OXY-KT-01#site"]


def _sites(app: Any, ref: str) -> list[tuple[str, str | None, str | None]]:
    locations = app.test_client().get(f"/api/v1/services/{ref}").json["locations"]
    return [(site["ref"], site["name"], site["postcode"]) for site in locations]


def test_a_service_with_several_sites_keeps_them_through_an_export_and_a_reimport(
    writable_app, tmp_path
):
    """A sheet gives one site a service, and the export writes its first: importing the
    export of a service with two sites (made over the API or by HSDS) changes nothing (it
    dropped the second), and a row renaming its site leaves the other as it was."""
    sites = [
        LocationRecord(ref="hub", name="Oxygen hub", postcode="KT11EU"),
        LocationRecord(ref="annex", name="Annex", lat=51.4085, lon=-0.3064),  # no postcode
    ]
    batch = Batch(
        organisations=[OrganisationRecord(ref="org:oxygen", name="Oxygen")],
        services=[ServiceRecord(ref="OXY-01", name="Oxygen", organisation_ref="org:oxygen",
                                coverage=["E09000021"], locations=sites)],
    )  # fmt: skip
    assert _import_batch(writable_app, batch, source="sheet").status == "succeeded"
    held = _sites(writable_app, "OXY-01")
    assert [ref for ref, _, _ in held] == ["annex", "hub"]
    exported = tmp_path / "export.csv"
    assert run(writable_app, "export", str(exported)).exit_code == 0
    before = dump(writable_app)
    again = run(writable_app, "import", str(exported), "--source", "sheet", "--json")
    assert json.loads(again.output)["status"] == "unchanged", again.output
    assert dump(writable_app) == before

    edited = write(
        tmp_path, "edited.csv", exported.read_text("utf-8").replace(",Annex,", ",Annexe,")
    )
    result = run(writable_app, "import", str(edited), "--source", "sheet", "--json")
    assert json.loads(result.output)["counts"]["services"]["updated"] == 1, result.output
    assert _sites(writable_app, "OXY-01") == [("annex", "Annexe", None), held[1]]


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_a_service_with_several_grants_keeps_them_through_an_export_and_a_reimport(
    writable_app, tmp_path, suffix
):
    """A grant funding two services, each also funded by a grant of its own: the export
    writes a row for each of a service's grants, and importing it again (full, as the
    same source) changes nothing. It wrote each service's first grant alone, and the
    import cut the shared grant's link to the service whose row carried another
    (services [A, B] became [A]), or withdrew a grant no row carried."""
    from directory.ingest.records import GrantRecord

    def grant(ref: str, services: list[str]) -> GrantRecord:
        return GrantRecord(ref=ref, funder_ref="GB-GOR-PC390", recipient_ref="org:oxygen",
                           service_refs=services, areas=["E09000021"])  # fmt: skip

    batch = Batch(
        organisations=[OrganisationRecord(ref="org:oxygen", name="Oxygen"),
                       OrganisationRecord(ref="GB-GOR-PC390", name="MOPAC")],
        services=[ServiceRecord(ref=ref, name=f"Oxygen {ref}", organisation_ref="org:oxygen",
                                coverage=["E09000021"]) for ref in ("OXY-A", "OXY-B")],
        grants=[grant("G-A", ["OXY-A"]), grant("G-B", ["OXY-B"]),
                grant("G-SHARED", ["OXY-A", "OXY-B"])],
    )  # fmt: skip
    assert _import_batch(writable_app, batch, source="sheet").status == "succeeded"
    client = writable_app.test_client()

    def funded() -> dict[str, list[str]]:
        return {
            ref: sorted(s["ref"] for s in client.get(f"/api/v1/grants/{ref}").json["services"])
            for ref in ("G-A", "G-B", "G-SHARED")
        }

    held = funded()
    assert held == {"G-A": ["OXY-A"], "G-B": ["OXY-B"], "G-SHARED": ["OXY-A", "OXY-B"]}
    reimport_export_unchanged(writable_app, tmp_path / f"export.{suffix}")
    assert funded() == held


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_a_grant_paid_to_another_organisation_keeps_through_an_export_and_a_reimport(
    writable_app, tmp_path, suffix
):
    """A council's grant funding two providers' services (paid to the council, not to the
    services' organisations): the export writes it on each service's row with its Grant
    recipient, and importing it again (full, as the same source) withdraws nothing and
    changes nothing. It left such grants out, and the full import withdrew them."""
    from directory.ingest.records import GrantRecord

    council = "GB-LAE-KIN"
    batch = Batch(
        organisations=[OrganisationRecord(ref="org:oxygen", name="Oxygen"),
                       OrganisationRecord(ref="org:rescue", name="Rescue and Response"),
                       OrganisationRecord(ref=council, name="Royal Borough of Kingston"),
                       OrganisationRecord(ref="GB-GOR-PC390", name="MOPAC")],
        services=[ServiceRecord(ref="OXY-A", name="Oxygen", organisation_ref="org:oxygen",
                                coverage=["E09000021"]),
                  ServiceRecord(ref="RES-B", name="Rescue", organisation_ref="org:rescue",
                                coverage=["E09000021"])],
        grants=[GrantRecord(ref="G-COUNCIL", funder_ref="GB-GOR-PC390", recipient_ref=council,
                            service_refs=["OXY-A", "RES-B"], areas=["E09000021"]),
                GrantRecord(ref="G-OWN", funder_ref="GB-GOR-PC390", recipient_ref="org:oxygen",
                            service_refs=["OXY-A"], areas=["E09000021"])],
    )  # fmt: skip
    assert _import_batch(writable_app, batch, source="sheet").status == "succeeded"
    client = writable_app.test_client()

    def grant() -> tuple[str, list[str], bool]:
        held = client.get("/api/v1/grants/G-COUNCIL").json
        return (
            held["recipient"]["ref"], sorted(s["ref"] for s in held["services"]),
            held["withdrawn"],
        )  # fmt: skip

    assert grant() == (council, ["OXY-A", "RES-B"], False)
    report = reimport_export_unchanged(writable_app, tmp_path / f"export.{suffix}")
    assert report["counts"]["grants"].get("withdrawn", 0) == 0
    assert grant() == (council, ["OXY-A", "RES-B"], False)


def test_a_column_the_sheet_leaves_out_keeps_what_is_held(writable_app, tmp_path):
    """A sheet of a few columns (ref, name, organisation, coverage, Last verified) updates
    what it gives and leaves the rest of the service as it is: it wiped the description,
    themes, site, ages and email, with no word."""
    assert (
        run(writable_app, "import", str(write(tmp_path, "a.csv", HEADER + OXYGEN))).exit_code == 0
    )
    client = writable_app.test_client()
    before = client.get("/api/v1/services/OXY-KT-01").json
    narrow = write(
        tmp_path, "narrow.csv", "Service ref,Service name,Organisation name,Coverage,Last verified\n"
        "OXY-KT-01,Oxygen knife crime programme,Oxygen,RB Kingston upon Thames,02/10/2026\n",
    )  # fmt: skip
    result = run(writable_app, "import", str(narrow), "--source", "a", "--json")
    assert json.loads(result.output)["counts"]["services"]["updated"] == 1, result.output
    after = client.get("/api/v1/services/OXY-KT-01").json
    assert after["last_verified"] == "2026-10-02"
    kept = ("description", "themes", "locations", "eligibility", "contact", "status", "demo")
    assert {k: after[k] for k in kept} == {k: before[k] for k in kept}
    change = client.get("/api/v1/services/OXY-KT-01/history").json["contents"][0]
    assert set(change["changes"]) == {"last_verified"}


def test_a_blank_cell_clears_its_field_of_a_service(writable_app, tmp_path):
    """The rule for a column the sheet has: its blank cell clears the field (the row is
    the service's record), unlike a column it does not have."""
    assert (
        run(writable_app, "import", str(write(tmp_path, "a.csv", HEADER + OXYGEN))).exit_code == 0
    )
    blank = OXYGEN.replace("hello@oxygen.example.org", "").replace('"Workshops in Kingston"', "")
    again = write(tmp_path, "b.csv", HEADER + blank)
    assert run(writable_app, "import", str(again), "--source", "a").exit_code == 0
    service = writable_app.test_client().get("/api/v1/services/OXY-KT-01").json
    assert service["contact"]["email"] is None and service["description"] is None


def test_an_import_from_a_url_reads_it_and_records_it_without_its_query(writable_app, tmp_path):
    """URL imports as an officer runs them: over HTTP from a local server; the run's location
    is shown without the query (which may carry a token); a missing file is one line; a
    refresh source given by url = … reads the same way."""
    import functools
    import http.server
    import threading

    write(tmp_path, "good.csv", HEADER + OXYGEN)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        result = run(writable_app, "import", f"{base}/good.csv?token=s3cret", "--source", "web")
        assert result.exit_code == 0, result.output
        (recorded,) = writable_app.test_client().get("/api/v1/imports").json["contents"]
        assert recorded["location"] == f"{base}/good.csv" and recorded["status"] == "succeeded"
        missing = run(writable_app, "import", f"{base}/nowhere.csv")
        assert missing.exit_code == 1 and "Traceback" not in missing.output
        assert f"Cannot download {base}/nowhere.csv" in missing.output and "404" in missing.output
        write(tmp_path, "more.csv", HEADER + RESCUE)
        sources = _sources(tmp_path, [{"name": "web-more", "url": f"{base}/more.csv"}])
        refreshed = run(writable_app, "refresh", "--sources", str(sources))
        assert refreshed.exit_code == 0 and "web-more: succeeded" in refreshed.output
    finally:
        server.shutdown()
        server.server_close()
    refs = [s["ref"] for s in writable_app.test_client().get("/api/v1/services").json["contents"]]
    assert sorted(refs) == ["OXY-KT-01", "SL-RR-01"]


def _oxygens(count: int, *, long_names: tuple[int, ...] = ()) -> str:
    """``count`` services like OXYGEN, refs OXY-1…; those numbered in ``long_names`` have a
    name longer than its column."""
    rows = []
    for n in range(1, count + 1):
        name = "X" * 350 if n in long_names else f"Oxygen programme {n}"
        rows.append(
            OXYGEN.replace("OXY-KT-01", f"OXY-{n}").replace("Oxygen knife crime programme", name)
        )
    return HEADER + "".join(rows)


def test_services_written_a_chunk_at_a_time_are_the_same_and_all_or_nothing(
    writable_app, tmp_path, monkeypatch
):
    import directory.ingest.apply as apply
    import directory.ingest.template as template

    monkeypatch.setattr(apply, "SERVICES_A_CHUNK", 2)
    monkeypatch.setattr(apply, "EVENTS_A_CHUNK", 3)
    # the sheet's reader refuses a name too long as it reads it: left to the import's own
    # check here (a backstop for what a reader does not check), found chunk by chunk
    monkeypatch.setattr(template, "_LIMITS", {})
    before = dump(writable_app)
    # the first chunk is written, with its events; errors in the second and the last: both
    # reported, and nothing of any chunk kept
    bad = write(tmp_path, "bad.csv", _oxygens(5, long_names=(3, 5)))
    result = run(writable_app, "import", str(bad))
    assert result.exit_code == 1
    assert "Service 'OXY-3': name is 350" in result.output
    assert "Service 'OXY-5': name is 350" in result.output
    assert dump(writable_app) == before
    # five services in three chunks, their events in twos and threes: each created once,
    # with its site, theme and event
    good = write(tmp_path, "good.csv", _oxygens(5))
    assert run(writable_app, "import", str(good)).exit_code == 0
    created = [e for e in events(writable_app) if e.entity == "service"]
    assert sorted(e.entity_ref for e in created) == [f"OXY-{n}" for n in range(1, 6)]
    assert all(e.action == "created" for e in created)
    tables = dump(writable_app)
    assert len(tables["service"]) == 5 and len(tables["location"]) == 5
    assert len({row[0] for row in tables["service_theme"]}) == 5
    # the same file again, now in one chunk: nothing changes
    monkeypatch.setattr(apply, "SERVICES_A_CHUNK", 5_000)
    again = run(writable_app, "import", str(good))
    assert again.exit_code == 0 and "unchanged" in again.output
    assert dump(writable_app) == tables


def test_a_full_reimport_compares_each_chunk_with_the_held_states_read_for_it(
    writable_app, tmp_path, monkeypatch
):
    """The held services and grants are read a chunk at a time, for the refs of the chunk
    (and those withdrawn, a chunk at a time): in chunks of two, a full re-import still
    updates, creates and withdraws each service and grant once, with its areas, and the
    organisation's new name is searchable in its services the import left unchanged."""
    import directory.ingest.apply as apply
    import directory.store.repositories.directory as repository

    monkeypatch.setattr(apply, "SERVICES_A_CHUNK", 2)
    monkeypatch.setattr(repository, "_CHUNK", 2)
    head = "Service ref,Service name,Organisation ref,Organisation name,Coverage,Grant ref,Funder,Amount\n"

    def sheet(name: str, services: dict[int, str], organisation: str) -> Path:
        rows = [
            f"S-{n},{title},GB-CHC-1,{organisation},{area},G-{n},MOPAC,£{n}k\n"
            for n, title in services.items()
            for area in ["Kingston" if n % 2 else "Hackney"]
        ]
        return write(tmp_path, name, head + "".join(rows))

    first = sheet("first.csv", {n: f"Club {n}" for n in range(1, 6)}, "Alpha Trust")
    assert run(writable_app, "import", str(first), "--source", "s").exit_code == 0
    seen = len(events(writable_app))
    second = sheet(
        "second.csv", {1: "Brand new club", 2: "Club 2", 3: "Club 3", 6: "Club 6"}, "Beta Trust"
    )
    result = run(writable_app, "import", str(second), "--source", "s", "--mode", "full")
    assert result.exit_code == 0, result.output
    got = {(e.entity, e.entity_ref, e.action): e for e in events(writable_app)[seen:]}
    assert sorted(got) == [
        ("grant", "G-4", "withdrawn"),
        ("grant", "G-5", "withdrawn"),
        ("grant", "G-6", "created"),
        ("organisation", "GB-CHC-1", "updated"),
        ("service", "S-1", "updated"),
        ("service", "S-4", "withdrawn"),
        ("service", "S-5", "withdrawn"),
        ("service", "S-6", "created"),
    ]
    assert set(got["service", "S-1", "updated"].changes) == {"name"}
    areas = event_areas(writable_app)
    assert areas[got["service", "S-4", "withdrawn"].id] == {"E09000012"}  # Hackney
    assert areas[got["service", "S-5", "withdrawn"].id] == {"E09000021"}  # Kingston
    assert areas[got["grant", "G-5", "withdrawn"].id] == {"E09000021"}
    client = writable_app.test_client()
    found = client.get("/api/v1/services?q=beta").json["contents"]
    assert sorted(s["ref"] for s in found) == ["S-1", "S-2", "S-3", "S-6"]
    listed = client.get("/api/v1/services?per_page=100").json["contents"]
    assert sorted(s["ref"] for s in listed) == ["S-1", "S-2", "S-3", "S-6"]
    # the same file in one chunk: nothing left to do
    tables = dump(writable_app)
    monkeypatch.setattr(apply, "SERVICES_A_CHUNK", 5_000)
    monkeypatch.setattr(repository, "_CHUNK", 500)
    again = run(writable_app, "import", str(second), "--source", "s", "--mode", "full")
    assert again.exit_code == 0 and "unchanged" in again.output, again.output
    assert dump(writable_app) == tables


@pytest.mark.parametrize("provider", ["later", "earlier"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_sheet_read_as_an_import_reads_it_gives_the_batch_read_whole(
    writable_app, tmp_path, shared_data_dir, fmt, provider
):
    """An import reads a template without holding its rows (a Sheet; its services set aside
    as they are read): over a generated directory with rows that must be put together across
    the sheet (a funder named as another row's provider, a grant on two rows that
    disagree, a service ref used twice), the batch is the one read from the whole table.
    A workbook's rows are read once; a funder named as a *later* row's provider is then
    found by reading them again, their organisations first (the first reading thrown away),
    as a CSV's always are."""
    from directory.ingest.context import GeographyContext
    from directory.ingest.readers import read_sheet, read_table, write_table
    from directory.ingest.records import Spool
    from directory.ingest.template import HEADINGS, read_template
    from directory.store.repositories.geography import GeographyRepository

    spec = importlib.util.spec_from_file_location(
        "make_directory", Path(__file__).resolve().parents[2] / "scripts" / "make_directory.py"
    )
    assert spec is not None and spec.loader is not None
    make_directory = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_directory)
    rows = make_directory.generate(600, 5, shared_data_dir)
    column = {heading: n for n, heading in enumerate(HEADINGS)}
    named, funding = (550, 3) if provider == "later" else (3, 550)
    rows[named][column["Organisation name"]] = "Later Provider Trust"
    rows[named][column["Organisation ref"]] = "GB-CHC-7654321"
    rows[funding][column["Funder"]] = "Later Provider Trust"
    for n in (10, 20):
        rows[n][column["Grant ref"]] = "SHARED-1"
    rows[20][column["Amount"]] = "£1"
    rows.append(list(rows[7]))  # the same service ref again
    path = tmp_path / f"generated.{fmt}"
    write_table(path, list(HEADINGS), rows, format=fmt)

    state = writable_app.extensions["directory"]
    with state.db.engine.connect() as connection:
        snap = state.geography.get(GeographyRepository(connection))
        whole = read_template(
            read_table(path), GeographyContext(snap, GeographyRepository(connection))
        )
        sheet = read_sheet(path.read_bytes(), name=path.name)
        readings = []
        each_row = sheet.each_row
        sheet.each_row = lambda: readings.append(1) or each_row()  # type: ignore[method-assign]
        streamed = read_template(sheet, GeographyContext(snap, GeographyRepository(connection)))
    # a CSV's rows read twice, providers first; a workbook's once, but for a later provider
    # (the reading thrown away, then twice)
    assert len(readings) == (2 if fmt == "csv" else 3 if provider == "later" else 1)
    assert isinstance(streamed.services, Spool)
    assert len(streamed.services) == len(whole.services) == 600
    assert list(streamed.services) == whole.services
    assert streamed.problems == whole.problems
    assert {p.row for p in whole.errors} == {22, 602}  # the grant's second row, the ref again
    funded = next(g for g in whole.grants if f"GEN-{funding:05d}" in g.service_refs)
    assert funded.funder_ref == "GB-CHC-7654321"  # the other row's provider
    assert streamed.organisations == whole.organisations
    assert isinstance(streamed.grants, Spool) and isinstance(whole.grants, list)
    assert list(streamed.grants) == whole.grants == list(streamed.grants)


CHAIN_HEADER = (
    "Service ref,Service name,Status,Themes,Organisation ref,Organisation name,Coverage,"
    "Funder,Amount,Grant ref,Paid through\n"
)


def _chain_row(n: int, org: str, grant: str, paid_through: str = "") -> str:
    return (
        f"S-{n},Service {n},active,knife crime,GB-CHC-10000{n},{org},Kingston,MOPAC,£{n}k,"
        f"{grant},{paid_through}\n"
    )


def test_a_sheet_written_a_few_grants_at_a_time_checks_parents_withdraws_and_renames(
    writable_app, tmp_path, monkeypatch
):
    """Written two records at a time (a sheet's services and grants read back from their
    spools): a grant paid through a grant later in the file, or one held, is no warning;
    through a grant in neither it is, once. A full import that stops listing a service and
    its grant withdraws both, and an organisation's new name reaches its unchanged
    services' search text."""
    from directory.ingest import apply

    monkeypatch.setattr(apply, "SERVICES_A_CHUNK", 2)
    first = write(tmp_path, "chain.csv", CHAIN_HEADER + "".join([
        _chain_row(1, "Alpha Trust", "G-CHILD-1", "G-PARENT"),  # the parent two chunks on
        _chain_row(2, "Beta Trust", "G-CHILD-2", "G-NOWHERE"),
        _chain_row(3, "Gamma Trust", "G-3"),
        _chain_row(4, "Delta Trust", "G-PARENT"),
        _chain_row(5, "Epsilon Trust", "G-5"),
    ]))  # fmt: skip
    result = run(
        writable_app, "import", str(first), "--mode", "full", "--source", "chain", "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    # named as the file names it: its row and column (it was the column "parent_ref", ours)
    missing = [p for p in report["problems"] if p["column"] == "Paid through"]
    assert [(p["row"], p["value"], p["severity"]) for p in missing] == [(3, "G-NOWHERE", "warning")]
    assert "G-CHILD-2" in missing[0]["message"]
    client = writable_app.test_client()
    assert client.get("/api/v1/grants/G-CHILD-1").json["paid_through"] == "G-PARENT"

    second = write(tmp_path, "chain.csv", CHAIN_HEADER + "".join([
        _chain_row(1, "Alpha Youth Trust", "G-CHILD-1", "G-PARENT"),  # its organisation renamed
        _chain_row(2, "Beta Trust", "G-CHILD-2", "G-NOWHERE"),
        _chain_row(4, "Delta Trust", "G-PARENT"),
        _chain_row(6, "Zeta Trust", "G-CHILD-6", "G-3"),  # held (and withdrawn now): no warning
    ]))  # fmt: skip
    result = run(
        writable_app, "import", str(second), "--mode", "full", "--source", "chain", "--json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [p["value"] for p in report["problems"] if p["column"] == "Paid through"] == [
        "G-NOWHERE"
    ]
    assert report["counts"]["services"]["withdrawn"] == 2
    assert report["counts"]["grants"]["withdrawn"] == 2
    every = client.get("/api/v1/services?include_withdrawn=true").json["contents"]
    assert {s["ref"] for s in every if s["withdrawn"]} == {"S-3", "S-5"}
    grants = {ref: client.get(f"/api/v1/grants/{ref}").json for ref in ("G-3", "G-5", "G-PARENT")}
    assert [grants[ref]["withdrawn"] for ref in ("G-3", "G-5", "G-PARENT")] == [True, True, False]
    found = client.get("/api/v1/services?q=Alpha%20Youth").json["contents"]
    assert [s["ref"] for s in found] == ["S-1"]  # unchanged itself, found by the new name


#: the reviewer's file: two grants, each paid through the other
CYCLE_OF_TWO = (
    "Service ref,Service name,Description,Status,Themes,Organisation ref,Organisation name,"
    "Organisation type,Charity number,Company number,Organisation website,Coverage,Site name,"
    "Site address,Site postcode,Min age,Max age,Ages,Eligibility,Who can refer,Email,Phone,"
    "Website,Last verified,Grant ref,Funder,Programme,Amount,Award date,Start date,End date,"
    "Duration (months),Financial year,Beneficiary areas,Paid through,Demo\n"
    "GEN-00000,Futures support 0,Generated service 0 working on mentoring.,active,Hate crime; "
    "Education and employment; Mentoring,,Haven Streets Project 0,CIC,,,,LB Redbridge,Haven "
    "Streets Project 0 site,,EC1R 4UL,,,,,,hello0@example.org,,,28/01/2026,G-A,MOPAC,LCPF,"
    "£384k,,24/01/2024,22/01/2025,,,,G-B,yes\n"
    "GEN-00001,Futures support 1,Generated service 1 working on business crime.,active,Business "
    "crime; Hate crime,,Haven Step Foundation 1,charity,,,,Southwark Council,Haven Step "
    "Foundation 1 site,,TW3 2AQ,,,10 to 17,,,hello1@example.org,,,2025-12-06,G-B,MOPAC,"
    "Victims services,£19k,,17/04/2023,16/04/2025,,,,G-A,yes\n"
)


def _refused(app: Any, path: Path) -> list[dict[str, Any]]:
    """Import ``path``, which must be refused: its errors (the database left as it was)."""
    before = dump(app)
    result = run(app, "import", str(path), "--json")
    assert result.exit_code == 1, result.output
    assert dump(app) == before
    report = json.loads(result.output)
    return [p for p in report["problems"] if p["severity"] == "error"]


def test_a_paid_through_loop_in_one_file_is_refused(writable_app, tmp_path):
    """Grants paid through one another in a loop (G-A through G-B through G-A) have no grant
    the money first came from: refused like a grant paid through itself, nothing written, the
    error naming the loop's grants and rows."""
    [error] = _refused(writable_app, write(tmp_path, "cycle2.csv", CYCLE_OF_TWO))
    assert (error["row"], error["column"], error["value"]) == (2, "Paid through", "G-B")
    assert "G-A (row 2)" in error["message"] and "G-B (row 3)" in error["message"]
    assert "loop" in error["message"]
    assert writable_app.test_client().get("/api/v1/grants").json["total_items"] == 0

    three = write(tmp_path, "cycle3.csv", CHAIN_HEADER + "".join([
        _chain_row(1, "Alpha Trust", "G-1", "G-2"),
        _chain_row(2, "Beta Trust", "G-2", "G-3"),
        _chain_row(3, "Gamma Trust", "G-3", "G-1"),
        _chain_row(4, "Delta Trust", "G-4", "G-1"),  # into the loop, not part of it
    ]))  # fmt: skip
    [error] = _refused(writable_app, three)
    assert (error["row"], error["column"]) == (2, "Paid through")
    for named in ("G-1 (row 2)", "G-2 (row 3)", "G-3 (row 4)"):
        assert named in error["message"]
    assert "G-4" not in error["message"]


def test_a_paid_through_loop_closing_through_held_grants_is_refused(writable_app, tmp_path):
    """A file that makes a held grant's parent paid through it (the directory holds G-A as
    paid through G-B; the file says G-B is paid through G-A) is refused and writes nothing,
    whichever way the loop closes: through a grant the file leaves out, or through one it
    lists with Paid through blank (a blank keeps what is held)."""
    held = write(tmp_path, "held.csv", CHAIN_HEADER + "".join([
        _chain_row(1, "Alpha Trust", "G-A", "G-B"),
        _chain_row(2, "Beta Trust", "G-B", "G-C"),
        _chain_row(3, "Gamma Trust", "G-C"),
    ]))  # fmt: skip
    assert run(writable_app, "import", str(held)).exit_code == 0
    two = write(tmp_path, "two.csv", CHAIN_HEADER + _chain_row(2, "Beta Trust", "G-B", "G-A"))
    [error] = _refused(writable_app, two)
    assert (error["row"], error["value"]) == (2, "G-A")
    assert "G-B (row 2)" in error["message"]
    assert "G-A (already in the directory)" in error["message"]

    three = write(tmp_path, "three.csv", CHAIN_HEADER + "".join([
        _chain_row(1, "Alpha Trust", "G-A"),  # blank: still paid through G-B
        _chain_row(3, "Gamma Trust", "G-C", "G-A"),
    ]))  # fmt: skip
    [error] = _refused(writable_app, three)
    assert error["row"] == 3
    for named in (
        "G-A (already in the directory)",
        "G-B (already in the directory)",
        "G-C (row 3)",
    ):
        assert named in error["message"]
    client = writable_app.test_client()
    assert client.get("/api/v1/grants/G-C").json["paid_through"] is None


def test_a_paid_through_loop_in_a_360giving_file_is_refused(writable_app, tmp_path):
    """The 360Giving import's parentGrant is checked the same way: a loop is refused, the
    error naming its grants and their places in the file."""
    mopac = {"id": "GB-GOR-PC390", "name": "MOPAC"}
    trust = {"id": "GB-CHC-1111111", "name": "Kingston Youth Trust"}
    items = [_giving("360G-a", mopac, trust), _giving("360G-b", mopac, trust)]
    items[0]["parentGrant"], items[1]["parentGrant"] = "360G-b", "360G-a"
    path = tmp_path / "loop.json"
    path.write_text(json.dumps({"grants": items}), "utf-8")
    [error] = _refused(writable_app, path)
    assert "360G-a (row 1)" in error["message"] and "360G-b (row 2)" in error["message"]


def test_a_chain_without_a_loop_is_imported_and_counted_once(writable_app, tmp_path):
    """G-A through G-B through G-C is no loop: imported, its money counted once (G-C's), the
    others regrants; the chain runs to G-C."""
    path = write(tmp_path, "chain.csv", CHAIN_HEADER + "".join([
        _chain_row(1, "Alpha Trust", "G-A", "G-B"),
        _chain_row(2, "Beta Trust", "G-B", "G-C"),
        _chain_row(3, "Gamma Trust", "G-C"),
    ]))  # fmt: skip
    result = run(writable_app, "import", str(path))
    assert result.exit_code == 0, result.output
    client = writable_app.test_client()
    url = "/api/v1/funding/summary?by=borough&area=Kingston"
    summary = client.get(url).json
    assert (summary["totals"]["awards"], summary["totals"]["amount"]) == (1, 3000.0)
    assert summary["regrants_left_out"] == {"awards": 2, "amount": 3000.0}
    every = client.get(url + "&include_regrants=true").json
    assert (every["totals"]["awards"], every["totals"]["amount"]) == (3, 6000.0)
    chain = client.get("/api/v1/grants/G-A").json["chain"]
    assert [link["ref"] for link in chain] == ["G-B", "G-C"]


def test_a_file_read_from_a_pipe_is_read_once(writable_app, tmp_path):
    """A regular file is read where it lies, as often as the import needs; a pipe can be
    read only once, so its bytes are read at once (and the size limit applies to them)."""
    import os
    import threading

    fifo = tmp_path / "weekly.csv"
    os.mkfifo(fifo)

    def write_it() -> None:
        with fifo.open("w", encoding="utf-8") as pipe:
            pipe.write(HEADER + OXYGEN + RESCUE)

    writer = threading.Thread(target=write_it, daemon=True)
    writer.start()
    result = run(writable_app, "import", str(fifo), "--json")
    writer.join(timeout=10)
    assert not writer.is_alive()
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["status"] == "succeeded" and report["counts"]["services"]["created"] == 2


def test_a_file_changed_while_it_is_read_is_refused_and_nothing_is_written(
    writable_app, tmp_path, monkeypatch
):
    """A sheet is read several times (its format, the organisation names, its rows, its
    checksum): a file rewritten meanwhile is refused, not imported as two versions mixed."""
    from directory.ingest import run as run_module

    path = write(tmp_path, "weekly.csv", HEADER + OXYGEN)
    read_source = run_module.read_source

    def rewritten_meanwhile(data: Any, *args: Any, **kwargs: Any) -> Any:
        batch = read_source(data, *args, **kwargs)
        path.write_text(HEADER + OXYGEN + RESCUE, "utf-8")  # saved again mid-import
        return batch

    monkeypatch.setattr(run_module, "read_source", rewritten_meanwhile)
    result = run(writable_app, "import", str(path))
    assert result.exit_code != 0
    assert "changed while it was being read" in result.output
    assert writable_app.test_client().get("/api/v1/services").json["contents"] == []
    monkeypatch.setattr(run_module, "read_source", read_source)
    again = run(writable_app, "import", str(path), "--json")  # read as one, it is imported
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["counts"]["services"]["created"] == 2


def test_an_import_run_keeps_every_problem_and_says_when_it_had_to_cut(
    writable_app, tmp_path, monkeypatch
):
    """600 bad rows: all 600 problems are on the run (it kept 500 and said nothing); over
    the bound the run says it was cut, and the CLI where the rest are."""
    rows = "".join(BAD_AMOUNT.replace("BAD-01", f"BAD-{n:03}") for n in range(600))
    result = run(writable_app, "import", str(write(tmp_path, "bad.csv", HEADER + rows)))
    assert result.exit_code == 1 and "… and 550 more (all are on /api/v1/imports/" in result.output
    client = writable_app.test_client()
    (latest,) = client.get("/api/v1/imports?per_page=1").json["contents"]
    detail = client.get(f"/api/v1/imports/{latest['id']}").json
    assert detail["errors"] == len(detail["problems"]) == 600
    assert detail["problems_truncated"] is False
    monkeypatch.setattr("directory.ingest.apply.MAX_STORED_PROBLEMS", 100)
    monkeypatch.setattr("directory.cli.MAX_STORED_PROBLEMS", 100)
    result = run(writable_app, "import", str(write(tmp_path, "bad2.csv", HEADER + rows)))
    assert "(the first 100 are on /api/v1/imports/" in result.output
    (latest,) = client.get("/api/v1/imports?per_page=1").json["contents"]
    detail = client.get(f"/api/v1/imports/{latest['id']}").json
    assert (detail["errors"], len(detail["problems"]), detail["problems_truncated"]) == (
        600, 100, True,
    )  # fmt: skip
    dry = run(writable_app, "import", str(tmp_path / "bad.csv"), "--dry-run")
    assert "… and 550 more (--json lists them all)." in dry.output


def test_a_360giving_file_takes_an_organisation_held_as_it_is_held(writable_app, tmp_path):
    """A 360Giving file naming a held organisation by its own org-id under another name
    ("MOPAC") does not rename it: the file's grants name it as it is held (it renamed the
    held Mayor's Office for Policing and Crime, with a change event)."""
    mopac = {"id": "GB-GOR-PC390", "name": "Mayor's Office for Policing and Crime"}
    trust = {"id": "GB-CHC-1111111", "name": "Kingston Youth Trust"}
    first = tmp_path / "first.json"
    first.write_text(json.dumps({"grants": [_giving("360G-a", mopac, trust)]}), "utf-8")
    assert run(writable_app, "import", str(first), "--source", "a").exit_code == 0
    renamed = {"id": "GB-GOR-PC390", "name": "MOPAC"}
    other = {"id": "GB-CHC-1111111", "name": "KYT"}
    second = tmp_path / "second.json"
    second.write_text(json.dumps({"grants": [_giving("360G-b", renamed, other)]}), "utf-8")
    result = run(writable_app, "import", str(second), "--source", "b", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["counts"]["organisations"].get("updated", 0) == 0, report["counts"]
    client = writable_app.test_client()
    grant = client.get("/api/v1/grants/360G-b").json
    assert grant["funder"]["name"] == "Mayor's Office for Policing and Crime"
    assert grant["recipient"]["name"] == "Kingston Youth Trust"
    changes = client.get("/api/v1/changes", query_string={"entity": "organisation"}).json
    assert not [c for c in changes["contents"] if c.get("action") == "updated"], changes


# -- which format and which sheet: detection and the readers' choice of sheet -------------------


def _workbook(path: Path, *sheets: tuple[str, list[list[Any]], str]) -> Path:
    """A workbook of (title, rows, "visible" or "hidden") sheets, in that order."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows, state in sheets:
        sheet = book.create_sheet(title)
        sheet.sheet_state = state
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def _rows(*lines: str) -> list[list[str]]:
    import csv

    return [row for row in csv.reader((HEADER + "".join(lines)).splitlines())]


def _opportunity_rows() -> list[list[Any]]:
    from datetime import date, timedelta

    from directory.ingest.opportunity_sheet import HEADINGS

    closes = date.today() + timedelta(days=40)
    cells = {
        "Opportunity ref": "sheet-round-1", "Title": "A round", "Funder": "MOPAC",
        "Closes": f"{closes:%d/%m/%Y} 12:00", "Areas": "Lambeth",
    }  # fmt: skip
    return [HEADINGS, [cells.get(h) for h in HEADINGS]]


@pytest.mark.parametrize(
    "layout", ["read-me first", "hidden first", "a hidden old copy", "with opportunities"]
)
def test_a_workbook_in_the_template_is_read_from_the_sheet_with_its_headings(
    writable_app, tmp_path, layout
):
    """The template's sheet is the one whose header row names Service ref, wherever it is:
    not a read-me or hidden sheet before it (each was read as the template: "no 'Service
    ref' column"), never a hidden one when a visible one has the headings; the
    Opportunities sheet is still read beside it."""
    services = ("Services", _rows(OXYGEN, RESCUE), "visible")
    read_me = ("Read me", [["How to fill in this workbook"], ["One service a row."]], "visible")
    sheets = {
        "read-me first": [read_me, services],
        "hidden first": [("Lists", [["junk"], ["more junk"]], "hidden"), services],
        "a hidden old copy": [("Old services", _rows(BAD_AMOUNT), "hidden"), services],
        "with opportunities": [
            read_me,
            ("Opportunities", _opportunity_rows(), "visible"),
            services,
        ],  # fmt: skip
    }[layout]
    path = _workbook(tmp_path / "services.xlsx", *sheets)
    result = run(writable_app, "import", str(path), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["errors"] == 0 and report["counts"]["services"]["created"] == 2
    if layout == "with opportunities":
        assert report["counts"]["opportunities"]["created"] == 1


def test_a_workbook_with_two_sheets_in_the_template_warns_of_the_one_not_read(
    writable_app, tmp_path
):
    """One sheet of services is read; another laid out as the template is named in a
    warning (it was ignored without a word, its services never imported)."""
    path = _workbook(
        tmp_path / "two.xlsx",
        ("Services", _rows(OXYGEN), "visible"),
        ("More services", _rows(RESCUE), "visible"),
        ("Old services", _rows(BAD_AMOUNT), "hidden"),
    )
    result = run(writable_app, "import", str(path), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["counts"]["services"]["created"] == 1
    (warning,) = [p for p in report["problems"] if "is imported" in p["message"]]
    assert warning["severity"] == "warning"
    assert warning["message"].startswith(
        "Only sheet 'Services' is imported: 'More services', 'Old services' (hidden) have the "
        "template's headings too, and are not read"
    )


def test_the_template_s_own_columns_sheet_is_not_warned_of(writable_app, tmp_path):
    """The official template filled in (one row), and the export's workbook imported
    again, warned every time that "'Columns' has the template's headings too": that sheet
    is the template's documentation (its rows name the headings), not services. Neither
    warns; a second sheet of services still does (the test above)."""
    from openpyxl import load_workbook

    blank = tmp_path / "directory template t.xlsx"
    assert run(writable_app, "template", str(blank)).exit_code == 0
    book = load_workbook(blank)
    headings = [cell.value for cell in book["Services"][1]]
    (oxygen,) = _rows(OXYGEN)[1:]
    filled = dict(zip(_rows()[0], oxygen, strict=True))
    book["Services"].append([filled.get(heading) for heading in headings])
    book.save(blank)
    assert "Columns" in book.sheetnames
    first = json.loads(run(writable_app, "import", str(blank), "--json", "--source", "t").output)
    assert first["errors"] == 0 and first["counts"]["services"]["created"] == 1
    assert [p for p in first["problems"] if "sheet" in p["message"]] == []
    exported = tmp_path / "export.xlsx"
    assert run(writable_app, "export", str(exported)).exit_code == 0
    assert "Columns" in load_workbook(exported).sheetnames
    again = json.loads(run(writable_app, "import", str(exported), "--json", "--source", "t").output)
    assert again["status"] == "unchanged" and again["problems"] == []


def test_a_workbook_with_no_sheet_in_the_template_names_the_sheets_looked_at(
    writable_app, tmp_path
):
    path = _workbook(
        tmp_path / "services.xlsx",
        ("Read me", [["Notes"]], "visible"),
        ("Data", [["Name", "Borough"], ["One", "Lambeth"]], "visible"),
        ("Old", _rows(OXYGEN), "hidden"),  # (the template's headings, hidden: read)
    )
    assert run(writable_app, "import", str(path), "--json").exit_code == 0  # the hidden one
    path = _workbook(
        tmp_path / "services.xlsx",
        ("Read me", [["Notes"]], "visible"),
        ("Data", [["Name", "Borough"], ["One", "Lambeth"]], "visible"),
    )
    result = run(writable_app, "import", str(path), "--dry-run")
    assert result.exit_code == 1
    assert "the sheets looked at are 'Read me', 'Data'" in result.output
    assert "none has a 'Service ref' heading" in result.output


GRANT_HEADER = [
    "Identifier", "Title", "Description", "Currency", "Amount Awarded", "Award Date",
    "Recipient Org:Identifier", "Recipient Org:Name", "Funding Org:Identifier",
    "Funding Org:Name", "Beneficiary Location:Name", "Beneficiary Location:Geographic Code",
]  # fmt: skip
GRANT = [
    "360G-REVIEW-1", "Youth work", "Mentoring", "GBP", 45000, "2024-04-01", "GB-CHC-1123456",
    "Oxygen", "GB-GOR-PC390", "MOPAC", "Lambeth", "E09000022",
]  # fmt: skip


@pytest.mark.parametrize("grants_sheet", ["grants", "Awards 2024"])
def test_the_360giving_template_is_detected_from_its_grants_sheet(
    writable_app, tmp_path, grants_sheet
):
    """The standard's own spreadsheet template has a "Meta" sheet first and the grants on a
    later one (among sheets such as "Funding Org" that also have "Identifier"): it was
    taken for the directory's template (4 errors "no 'Service ref' column")."""
    from directory.ingest.run import detect_format

    path = _workbook(
        tmp_path / "360-giving-schema-titles-with-meta-tab-2023.xlsx",
        ("Meta", [["Version", "1.4"], ["Extensions"], ["Title", "Grants"]], "visible"),
        (grants_sheet, [GRANT_HEADER, GRANT], "visible"),
        ("Funding Org", [["Identifier", "Funding Org:Identifier", "Funding Org:Name"]], "visible"),
    )
    assert detect_format(path, path.name) == "360giving"
    result = run(writable_app, "import", str(path), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["errors"] == 0 and report["counts"]["grants"]["created"] == 1
    grant = writable_app.test_client().get("/api/v1/grants/360G-REVIEW-1")
    assert grant.status_code == 200 and grant.json["title"] == "Youth work"


@pytest.mark.parametrize("name", ["deep.json", "deep.data"])
def test_json_nested_too_deeply_is_a_clean_error_when_its_format_is_detected(
    writable_app, tmp_path, name
):
    """100,000 ``[`` with no --format: the detection's parse raised RecursionError (a
    traceback); it is the reader's one error, as with --format."""
    path = write(tmp_path, name, "[" * 100_000 + "]" * 100_000)
    result = run(writable_app, "import", str(path), "--dry-run")
    assert result.exit_code == 1 and not isinstance(result.exception, RecursionError)
    assert "The file is not valid JSON: it is nested too deeply." in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("fmt", ["360giving", "hsds"])
@pytest.mark.parametrize("depth", [256, 488, 900])
def test_a_member_nested_deeper_than_the_readers_walk_is_the_one_clean_error(
    writable_app, tmp_path, fmt, depth
):
    """A grant's or a service's member nested a few hundred levels deep (which Python's
    JSON parser reads) overflowed the 360Giving schema check (256 levels) and the Open
    Referral reader (488): a traceback, a 500 over the API. Any nesting past
    ``MAX_JSON_DEPTH`` is the file's one error, nothing written."""
    from directory.ingest.giving360 import MAX_JSON_DEPTH

    deep = json.loads("[" * depth + '"x"' + "]" * depth)
    if fmt == "360giving":
        document: Any = {"grants": [{
            "id": "360G-DEEP-1", "title": "t", "currency": "GBP", "amountAwarded": 1,
            "awardDate": deep, "recipientOrganization": [{"id": "GB-CHC-1", "name": "R"}],
            "fundingOrganization": [{"id": "GB-GOR-PC390", "name": "MOPAC"}],
        }]}  # fmt: skip
    else:
        document = [{"id": "deep-1", "name": "Deep", "schedules": [{"id": "s", "v": deep}]}]
    path = write(tmp_path, "deep.json", json.dumps(document))
    result = run(writable_app, "import", str(path), "--format", fmt, "--dry-run")
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, RecursionError | ValueError), result.exception
    assert "Traceback" not in result.output
    assert f"nested too deeply (more than {MAX_JSON_DEPTH} levels" in result.output


def test_a_run_of_blank_rows_ends_a_sheet_and_is_warned_about(writable_app, tmp_path, monkeypatch):
    """Whitespace-only rows below the data (a file of a million took minutes) are read
    only until ``MAX_BLANK_RUN`` of them in a row; a row below is not read, and the
    report says where the reading stopped."""
    from directory.ingest import readers

    monkeypatch.setattr(readers, "MAX_BLANK_RUN", 20)
    rows = _rows(OXYGEN, RESCUE)
    late = _rows(RESCUE.replace("SL-RR-01", "SL-LATE-01"))[1]
    blank = [" "] * len(rows[0])
    path = _workbook(
        tmp_path / "services.xlsx", ("Services", [*rows, *[blank] * 30, late], "visible")
    )
    result = run(writable_app, "import", str(path), "--json", "--dry-run")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["counts"]["services"]["created"] == 2
    (warning,) = [p for p in report["problems"] if "Reading stopped" in p["message"]]
    assert warning["row"] == 4 and "20 blank rows in a row end a sheet" in warning["message"]


def test_an_import_reports_the_time_its_reading_took(writable_app, tmp_path, monkeypatch):
    """The report's time began after the file was read ("dry-run in 0.0 s" after 222 s of
    reading); it is the whole import's."""
    from directory.ingest import run as run_module

    read_source = run_module.read_source

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.0)
        return read_source(*args, **kwargs)

    monkeypatch.setattr(run_module, "read_source", slow)
    path = write(tmp_path, "weekly.csv", HEADER + OXYGEN)
    result = run(writable_app, "import", str(path), "--json", "--dry-run")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["seconds"] >= 1.0


def test_json_in_utf16_or_utf32_is_read_as_in_utf8(writable_app, tmp_path):
    """JSON as Windows PowerShell 5's Out-File and Notepad's "Unicode" save it (UTF-16 with
    a byte order mark), or in UTF-16 or UTF-32 without one, is read as its UTF-8 is (a CSV
    is read in UTF-16 too): UTF-16 was detected as a CSV and refused for its "headings", or
    refused as "not valid JSON" at its second byte."""
    from tests.directory.ingest.test_giving360 import grant
    from tests.directory.ingest.test_hsds import services

    files = {"grants": json.dumps({"grants": [grant(title="Café £")]}, ensure_ascii=False),
             "services": json.dumps(services(), ensure_ascii=False)}  # fmt: skip
    for what, text in files.items():
        reports = {}
        for encoding in ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"):
            for name in (f"{what}.json", f"{what}.data"):  # (a name not .json: detected)
                path = write(tmp_path, name, text, encoding)
                result = run(writable_app, "import", str(path), "--dry-run", "--json")
                assert result.exit_code == 0, (encoding, name, result.output[-2000:])
                report = json.loads(result.output)
                reports[encoding, name] = (report["counts"], report["problems"])
        assert len(set(map(repr, reports.values()))) == 1, reports
    # cut short inside a character: refused, naming the encoding it was read in
    path = tmp_path / "cut.json"
    path.write_bytes(files["grants"].encode("utf-16")[:-1])
    result = run(writable_app, "import", str(path), "--dry-run", "--json")
    (error,) = json.loads(result.output)["problems"]
    assert error["message"].startswith("The file is not UTF-16 text (byte ")


@pytest.mark.parametrize("name", ["grants.json", "grants.data"])
def test_a_bare_list_of_360giving_grants_is_detected_as_360giving(writable_app, tmp_path, name):
    """A JSON list of grants (no ``{"grants": …}`` package around them), which the 360Giving
    reader takes, was detected as Open Referral services and refused with "The service has
    no name"; it is read as grants, with or without a ``.json`` name, and a list of
    services is still Open Referral."""
    from directory.ingest.run import detect_format

    grant = {
        "id": "360G-LIST-1", "title": "Youth work", "currency": "GBP", "amountAwarded": 5000,
        "awardDate": "2026-03-15", "recipientOrganization": [{"id": "GB-CHC-1", "name": "R"}],
        "fundingOrganization": [{"id": "GB-GOR-PC390", "name": "MOPAC"}],
        "beneficiaryLocation": [{"geoCode": "E09000021", "geoCodeType": "LAD"}],
    }  # fmt: skip
    assert detect_format(json.dumps([grant]).encode(), name) == "360giving"
    assert detect_format(json.dumps([{"id": "s", "name": "A service"}]).encode(), name) == "hsds"
    path = write(tmp_path, name, json.dumps([grant]))
    result = run(writable_app, "import", str(path), "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["counts"]["grants"]["created"] == 1 and report["errors"] == 0


def test_organisations_are_matched_by_name_only_when_the_names_have_words_in_common():
    """An organisation matched by name (an exact loose name already held, or earlier in the
    file) is the same organisation under another id; names in other scripts are words too,
    and a name with no words at all ("—") matches nothing. Before 6 December every name in
    another script had the same empty key, so a 360Giving or HSDS file's second such
    organisation was filed as the first."""
    from directory.ingest.apply import match_organisations

    held = {"GB-CHC-1": {"name": "মহিলা সমিতি"}}
    records = [
        OrganisationRecord(ref="GB-CHC-2", name="مركز المرأة"),
        OrganisationRecord(ref="GB-CHC-3", name="Москва центр"),
        OrganisationRecord(ref="GB-CHC-4", name="—"),
        OrganisationRecord(ref="GB-CHC-5", name="?"),
        OrganisationRecord(ref="GB-CHC-6", name="МОСКВА  Центр"),  # the third, case aside
        OrganisationRecord(ref="GB-CHC-7", name=" মহিলা  সমিতি"),  # the one held
        OrganisationRecord(ref="GB-CHC-8", name="Søren Trust"),
        OrganisationRecord(ref="GB-CHC-9", name="Soren Trust"),
    ]
    out, same_as = match_organisations(records, held)
    assert sorted(out) == ["GB-CHC-2", "GB-CHC-3", "GB-CHC-4", "GB-CHC-5", "GB-CHC-8"]
    assert same_as == {
        "GB-CHC-6": ("GB-CHC-3", "name"),
        "GB-CHC-7": ("GB-CHC-1", "name"),
        "GB-CHC-9": ("GB-CHC-8", "name"),
    }


def test_organisations_are_matched_by_a_registered_number_whatever_their_names():
    """One registered charity (or company) is one organisation: a row naming it by another
    ref and another spelling ("Saint Giles Trust", ref made from the name) but giving its
    charity number is filed under the one held, as is an org-id that is that number; a
    company number is compared as Companies House writes it (zeros in front). A number
    matches before a name does; an organisation new in the file is matched by the rows
    after it."""
    from directory.ingest.apply import match_organisations

    held = {
        "GB-CHC-1144511": {"name": "St Giles Trust", "charity_number": None},
        "org:redthread": {"name": "Redthread", "charity_number": "1087304"},
        "org:catch-22": {"name": "Catch22", "company_number": "06577534"},
        "org:oxygen": {"name": "Oxygen", "charity_number": "1100001"},
    }
    records = [
        OrganisationRecord(ref="org:saint-giles-trust", name="Saint Giles Trust",
                           charity_number="1144511"),  # (the held one's org-id)
        OrganisationRecord(ref="GB-CHC-1087304", name="Redthread Youth"),
        OrganisationRecord(ref="org:catch22-charity", name="Catch 22 Charity Ltd",
                           company_number="6577534"),
        OrganisationRecord(ref="org:oxygen-two", name="Redthread", charity_number="1100001"),
        OrganisationRecord(ref="GB-CHC-2000001", name="New Trust"),
        OrganisationRecord(ref="org:new-trust-ltd", name="New Trust Limited",
                           charity_number="2000001"),
        OrganisationRecord(ref="org:other", name="Other", charity_number="3000001"),
    ]  # fmt: skip
    out, same_as = match_organisations(records, held)
    assert same_as == {
        "org:saint-giles-trust": ("GB-CHC-1144511", "charity number"),
        "GB-CHC-1087304": ("org:redthread", "charity number"),
        "org:catch22-charity": ("org:catch-22", "company number"),
        "org:oxygen-two": ("org:oxygen", "charity number"),  # (not Redthread, by its name)
        "org:new-trust-ltd": ("GB-CHC-2000001", "charity number"),
    }
    assert sorted(out) == ["GB-CHC-2000001", "org:other"]


def test_organisations_and_grants_are_found_by_name_case_accents_and_apostrophes_aside(
    writable_app, tmp_path
):
    """``/organisations?q=`` and ``/grants?q=`` look inside names kept as their loose words
    (``search_name``, ``search_title``): "cafe" finds "CAFÉ", "søren" and "soren" find
    "SØREN" (SQLite's lower() folds only ASCII), "women’s" finds "Womens"; a grant's ref is
    looked in as written; a rename is found by its new name only."""
    mopac = {"id": "GB-GOR-PC390", "name": "MOPAC"}
    cafe = {"id": "GB-CHC-1000001", "name": "CAFÉ SØREN TRUST"}
    womens = {"id": "GB-CHC-1000002", "name": "Womens Aid Łódź"}
    grants = [_giving("360G-cafe-1", mopac, cafe), _giving("360G-w-2", mopac, womens)]
    grants[0]["title"] = "Straße outreach"
    grants[1]["title"] = "Refuge"
    path = tmp_path / "names.json"
    path.write_text(json.dumps({"grants": grants}), "utf-8")
    assert run(writable_app, "import", str(path)).exit_code == 0
    client = writable_app.test_client()

    def organisations(q: str) -> set[str]:
        return {o["ref"] for o in client.get(f"/api/v1/organisations?q={q}").json["contents"]}

    def found(q: str) -> set[str]:
        return {g["ref"] for g in client.get(f"/api/v1/grants?q={q}").json["contents"]}

    for q in ("cafe", "Caf%C3%A9", "s%C3%B8ren", "SOREN%20trust", "caf%C3%A9%20s%C3%98ren"):
        assert organisations(q) == {"GB-CHC-1000001"}, q
        assert found(q) == {"360G-cafe-1"}, q
    for q in ("women%E2%80%99s", "womens", "lodz", "%C5%82%C3%B3d%C5%BA"):
        assert organisations(q) == {"GB-CHC-1000002"}, q
        assert found(q) == {"360G-w-2"}, q
    assert found("strasse") == found("STRA%C3%9FE") == {"360G-cafe-1"}
    assert found("360g-w") == {"360G-w-2"}  # the ref, as written
    assert organisations("caf%C3%A9%20womens") == set() == found("refuge%20cafe")
    # a word with no loose words ("ʼ", a modifier apostrophe) or only a stop word once loose
    # ("the’") is left out: alone, nothing is found (it found every name: the review)
    for q in ("%CA%BC", "the%E2%80%99", "%EF%BE%9E"):
        assert client.get(f"/api/v1/organisations?q={q}").json["total_items"] == 0, q
        assert client.get(f"/api/v1/grants?q={q}").json["total_items"] == 0, q
    # renamed by the directory's template (naming it by its ref): found by its new name only
    sheet = tmp_path / "renamed.csv"
    sheet.write_text(
        "Service ref,Service name,Themes,Organisation ref,Organisation name,Coverage\n"
        "S-1,Haven drop-in,Mentoring,GB-CHC-1000001,Kingston Haven,Kingston\n",
        "utf-8",
    )
    assert run(writable_app, "import", str(sheet), "--source", "sheet").exit_code == 0
    assert organisations("haven") == {"GB-CHC-1000001"} and organisations("cafe") == set()
    assert found("kingston%20haven") == {"360G-cafe-1"} and found("soren") == set()


def test_a_programme_keeps_the_id_it_was_first_given_whatever_its_name_makes_now(
    writable_app, tmp_path
):
    """A programme not in programmes.csv gets an id made from its name when first imported;
    named again, it is found by its name among those held, not given the id the name
    would make now: "Москва Fund" was given "fund" before 6 December (words in other
    scripts were dropped) and makes "fund-…" now, yet its grants stay with "fund". A new
    programme of another script's name gets an id of its own, not another's."""
    from directory.store.models import Programme

    with writable_app.app_context():
        db = writable_app.extensions["directory"].db
        with db.engine.begin() as connection:
            connection.execute(
                Programme.__table__.insert(), [{"id": "fund", "name": "Москва Fund"}]
            )
    sheet = tmp_path / "programmes.csv"
    sheet.write_text(
        "Service ref,Service name,Themes,Organisation name,Coverage,Grant ref,Funder,Programme,Amount\n"
        "S-1,Moscow hub,Mentoring,Hub Trust,Kingston,G-1,MOPAC,МОСКВА  fund,£1k\n"
        "S-2,Berlin hub,Mentoring,Hub Trust,Kingston,G-2,MOPAC,Берлин Fund,£1k\n",
        "utf-8",
    )
    assert run(writable_app, "import", str(sheet), "--source", "sheet").exit_code == 0
    client = writable_app.test_client()
    first, second = (
        client.get(f"/api/v1/grants/{ref}").json["programme"] for ref in ("G-1", "G-2")
    )
    assert first["id"] == "fund" and second["id"].startswith("fund-"), (first, second)
    assert client.get("/api/v1/grants?programme=fund").json["total_items"] == 1
    assert (
        client.get("/api/v1/grants?q=%D0%B1%D0%B5%D1%80%D0%BB%D0%B8%D0%BD").json["total_items"] == 1
    )
