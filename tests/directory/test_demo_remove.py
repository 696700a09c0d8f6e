"""`directory demo remove`: the demo directory taken out all or nothing, recorded as an import
run with change events, idempotent; what real imports list or refer to stays; the caches see
it at once. On SQLite and PostgreSQL, over the real demo directory."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from directory.cli import cli
from directory.demo import DEMO_SOURCES
from directory.demo.remove import remove_demo
from directory.ingest.context import programmes as known_programmes
from directory.progress import Progress
from directory.store.models import (
    AreaPopulation,
    ChangeEvent,
    CrimeCount,
    DataRelease,
    Grant,
    GrantArea,
    GrantService,
    ImportRun,
    Location,
    Organisation,
    OrganisationAlias,
    Outcome,
    PatchContact,
    Programme,
    Service,
    ServiceArea,
    ServiceTheme,
)

TABLES = (
    Service, ServiceTheme, ServiceArea, Location, Grant, GrantArea, GrantService, Outcome,
    PatchContact, Organisation, OrganisationAlias, Programme, ChangeEvent, ImportRun,
    DataRelease, CrimeCount, AreaPopulation,
)  # fmt: skip
TODAY = date.today()
START = (TODAY - timedelta(days=200)).isoformat()
END = (TODAY + timedelta(days=400)).isoformat()


def run(app: Any, *args: str) -> Any:
    result = app.test_cli_runner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output[-3000:]
    return result


def load_demo(app: Any, data_dir: Path) -> None:
    run(app, "demo", "load", "--from", str(data_dir), "--quiet")


def table_counts(app: Any) -> dict[str, int]:
    db = app.extensions["directory"].db
    with db.session() as session:
        return {
            model.__tablename__: session.execute(
                select(func.count()).select_from(model)
            ).scalar_one()
            for model in TABLES
        }


def demo_holdings(app: Any) -> dict[str, int]:
    """What the demo sources own, counted straight from the tables."""
    db = app.extensions["directory"].db
    with db.session() as session:

        def count(model: Any) -> int:
            return session.execute(
                select(func.count()).select_from(model).where(model.source.in_(DEMO_SOURCES))
            ).scalar_one()

        return {"services": count(Service), "grants": count(Grant)}


def test_remove_takes_the_demo_out_recorded_and_idempotent(writable_app, shared_data_dir):
    load_demo(writable_app, shared_data_dir)
    client = writable_app.test_client()
    # the caches are warm: the patch index and the facts of this data version
    before = client.get("/api/v1/patch?postcode=KT1 1EU").json
    assert before["services"]["total_items"] > 0 and before["contacts"]
    assert client.get("/api/v1/funding/summary?by=programme").json["totals"]["awards"] > 0
    held = demo_holdings(writable_app)
    counts_before = table_counts(writable_app)

    dry = json.loads(run(writable_app, "demo", "remove", "--dry-run", "--json").output)
    assert dry["status"] == "dry-run" and dry["run_id"] is None
    assert dry["removed"]["services"] == held["services"] == counts_before["service"]
    assert dry["removed"]["grants"] == held["grants"] == counts_before["grant"]
    assert dry["removed"]["contacts"] == counts_before["patch_contact"]
    assert dry["removed"]["outcomes"] == counts_before["outcome"]
    assert dry["removed"]["organisations"] == counts_before["organisation"]  # nothing real
    assert table_counts(writable_app) == counts_before  # a dry run changes nothing
    human = run(writable_app, "demo", "remove", "--dry-run").output
    assert f"Would remove {held['services']} services, {held['grants']} grants" in human

    done = json.loads(run(writable_app, "demo", "remove", "--json").output)
    assert done["status"] == "removed" and done["removed"] == dry["removed"]
    after = table_counts(writable_app)
    for table in ("service", "service_theme", "service_area", "location", "grant", "grant_area",
                  "grant_service", "outcome", "patch_contact", "organisation"):  # fmt: skip
        assert after[table] == 0, table
    # the taxonomy's programmes stay; those only the demo's grants named are gone
    assert after["programme"] == len(known_programmes())
    assert done["removed"]["programmes"] == counts_before["programme"] - after["programme"]
    # the official crime and population figures stay (funding against need)
    assert after["crime_count"] == counts_before["crime_count"] > 0
    assert after["area_population"] == counts_before["area_population"] > 0
    # recorded: one import run, a change event per record taken out, a new data release
    assert after["import_run"] == counts_before["import_run"] + 1
    assert after["data_release"] == counts_before["data_release"] + 1
    records = sum(n for name, n in done["removed"].items() if name != "programmes")
    assert done["change_events"] == records
    assert after["change_event"] == counts_before["change_event"] + records
    imports = client.get(f"/api/v1/imports/{done['run_id']}").json
    assert imports["source"] == "demo" and imports["status"] == "succeeded"
    assert imports["counts"]["services"] == {"removed": held["services"]}

    # the change feed shows each service withdrawn, by area, as an import's withdrawal
    feed = client.get("/api/v1/changes?area=E09000021&entity=service&per_page=100").json
    assert feed["total_items"] < 100
    withdrawn = [e for e in feed["contents"] if e["import_run"] == done["run_id"]]
    assert "oxygen-kingston-knife-crime" in {e["entity_ref"] for e in withdrawn}
    assert all(e["action"] == "withdrawn" and e["changes"] == {} for e in withdrawn)
    # a record taken out has no URL any more, in its removal's event and its earlier ones
    assert all(e["url"] is None for e in feed["contents"])
    atom = client.get("/api/v1/changes.atom?area=E09000021").data.decode()
    assert "withdrawn: the demo directory was removed" in atom

    # every process's caches see it at once (a new data version)
    now = client.get("/api/v1/patch?postcode=KT1 1EU").json
    assert now["services"]["total_items"] == 0 and now["contacts"] == []
    assert client.get("/api/v1/services").json["total_items"] == 0
    assert client.get("/api/v1/grants").json["total_items"] == 0
    assert client.get("/api/v1/funding/summary?by=programme").json["totals"]["awards"] == 0
    assert (
        client.get("/api/v1/partners?postcode=KT1 1EU&theme=community-safety").json["partners"][
            "total_items"
        ]
        == 0
    )

    # idempotent: nothing to remove, nothing recorded
    again = run(writable_app, "demo", "remove")
    assert again.output.startswith("Nothing to remove")
    assert json.loads(run(writable_app, "demo", "remove", "--json").output)["status"] == "nothing"
    assert table_counts(writable_app) == after
    assert run(writable_app, "demo", "remove", "--quiet").output.startswith("Nothing to remove")

    # and the demo can be loaded again, and taken out again. One of its organisations merged
    # into another since: the merge is not the demo's, so the one kept stays (as anything
    # else changed does), with the duplicate's alias naming it, and no service or grant
    load_demo(writable_app, shared_data_dir)
    assert demo_holdings(writable_app) == held
    with writable_app.extensions["directory"].db.session() as session:
        duplicate, kept = session.execute(
            select(Organisation.ref).order_by(Organisation.id).limit(2)
        ).scalars()  # fmt: skip
    run(writable_app, "organisations", "merge", duplicate, "--into", kept)
    third = json.loads(run(writable_app, "demo", "remove", "--json").output)
    organisations = done["removed"]["organisations"] - 2
    assert third["removed"] == {**done["removed"], "organisations": organisations}
    assert third["kept"]["organisations"] == 1
    left = table_counts(writable_app)
    assert left["organisation"] == left["organisation_alias"] == 1
    assert left["service"] == left["grant"] == 0
    moved = client.get(f"/api/v1/organisations/{duplicate}")
    assert moved.status_code == 308 and unquote(moved.headers["Location"]).endswith(kept)


def test_records_real_imports_list_or_refer_to_stay(writable_app, shared_data_dir, tmp_path):
    """A real import that lists a demo service takes it over; one whose service is run by an
    organisation the demo brought, or whose grant a demo organisation funds, keeps that
    organisation. Everything else of the demo goes."""
    load_demo(writable_app, shared_data_dir)
    sheet = tmp_path / "borough.csv"
    sheet.write_text(
        "Service ref,Service name,Themes,Organisation name,Coverage,Last verified,Status,"
        "Funder,Amount,Start date,End date\n"
        # the demo's Oxygen service, now listed by the borough's own sheet
        f"oxygen-kingston-knife-crime,Oxygen knife-crime programme,knife crime,Oxygen,"
        f"Kingston,{TODAY},active,,,,\n"
        # a new service run by an organisation the demo brought, funded by MOPAC (also the
        # demo's)
        f"kingston-youth-hub,Kingston youth hub,youth diversion,Safer London,Kingston,"
        f"{TODAY},active,Mayor's Office for Policing and Crime,£25k,{START},{END}\n",
        "utf-8",
    )
    run(writable_app, "import", str(sheet), "--source", "kingston-sheet")
    client = writable_app.test_client()
    report = json.loads(run(writable_app, "demo", "remove", "--json").output)
    assert report["kept"]["services"] == 2 and report["kept"]["grants"] == 1
    services = client.get("/api/v1/services").json
    assert {s["ref"] for s in services["contents"]} == {
        "oxygen-kingston-knife-crime", "kingston-youth-hub",
    }  # fmt: skip
    organisations = client.get("/api/v1/organisations?per_page=100").json
    assert {o["ref"] for o in organisations["contents"]} == {
        "org:oxygen", "org:safer-london", "GB-GOR-PC390",
    }  # fmt: skip
    (grant,) = client.get("/api/v1/grants").json["contents"]
    assert grant["funder"]["ref"] == "GB-GOR-PC390"
    assert grant["recipient"]["ref"] == "org:safer-london"
    # the taken-over service lost nothing of what the sheet says
    patch = client.get("/api/v1/patch?postcode=KT1 1EU").json
    assert {s["ref"] for s in patch["services"]["contents"]} == {
        "oxygen-kingston-knife-crime", "kingston-youth-hub",
    }  # fmt: skip
    assert json.loads(run(writable_app, "demo", "remove", "--json").output)["status"] == "nothing"
    # the change feed still links the records that stayed, and no longer the others
    feed = client.get("/api/v1/changes?entity=service&per_page=100").json["contents"]
    links = {e["entity_ref"]: e["url"] for e in feed if e["action"] != "withdrawn"}
    kept = {s["ref"]: s["id"] for s in services["contents"]}
    assert links["kingston-youth-hub"] == f"/api/v1/services/{kept['kingston-youth-hub']}"
    assert all((url is not None) == (ref in kept) for ref, url in links.items())


class FailOn(Progress):
    """Raises when the removal reaches the step named: a failure half-way through."""

    def __init__(self, step: str) -> None:
        self.wanted = step
        self.seen: list[str] = []

    def step(self, label: str, total: int | None = None) -> None:
        self.seen.append(label)
        if label.startswith(self.wanted):
            raise RuntimeError(f"failed at {label}")


@pytest.mark.parametrize("step", ["demo: removing services", "demo: recording change events"])
def test_a_failure_half_way_leaves_everything_as_it_was(writable_app, shared_data_dir, step):
    load_demo(writable_app, shared_data_dir)
    client = writable_app.test_client()
    before = table_counts(writable_app)
    patch = client.get("/api/v1/patch?postcode=KT1 1EU").json
    db = writable_app.extensions["directory"].db
    progress = FailOn(step)
    with pytest.raises(RuntimeError, match="failed at"):
        remove_demo(db, progress=progress)
    # contacts, outcomes and grants were deleted before the failure, then rolled back
    assert "demo: removing grants" in progress.seen
    assert table_counts(writable_app) == before
    assert client.get("/api/v1/patch?postcode=KT1 1EU").json == patch
    report = remove_demo(db)
    assert report.status == "removed" and table_counts(writable_app)["service"] == 0


def test_a_database_with_no_tables_is_told_so(empty_settings):
    from directory import create_app

    app = create_app(empty_settings)
    try:
        result = app.test_cli_runner().invoke(cli, ["demo", "remove"])
    finally:
        app.extensions["directory"].db.dispose()
    assert result.exit_code == 1
    assert "no tables yet" in result.output and "directory init" in result.output
    assert "Traceback" not in result.output
