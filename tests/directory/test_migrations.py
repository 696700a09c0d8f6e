"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import os
import warnings

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import text

from directory import create_app
from directory.cli import cli
from directory.store.db import Database, Migrations
from directory.store.models import Base, schema_object
from tests.conftest import BACKENDS, demo_copy
from tests.servers import settings_env


def test_migrations_match_the_models(empty_settings):
    db = Database(empty_settings)
    db.migrate()
    with db.engine.connect() as connection, warnings.catch_warnings():
        # SQLAlchemy cannot reflect an index on an expression (ix_service_name_order and
        # ix_organisation_name_order, on lower(name)) from SQLite, so it is compared by name below
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        opts = {"compare_type": True, "include_name": schema_object}
        context = MigrationContext.configure(connection, opts=opts)
        differences = compare_metadata(context, Base.metadata)
        sqlite = connection.dialect.name == "sqlite"
        indexes = set(connection.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'index'"
            if sqlite
            else "SELECT indexname FROM pg_indexes"
        )).scalars())  # fmt: skip
        # SQLite's index of the services' words and the triggers that keep it (0022): a
        # later migration that makes the service table again drops the triggers with it
        words = (
            set(
                connection.execute(
                    text(
                        "SELECT type || ' ' || name FROM sqlite_master "
                        "WHERE name LIKE 'service_words%' AND type IN ('table', 'trigger')"
                    )
                ).scalars()
            )  # fmt: skip
            if sqlite
            else None
        )
    db.dispose()
    assert differences == []
    assert {"ix_service_name_order", "ix_organisation_name_order"} <= indexes
    if sqlite:
        assert {
            "table service_words", "trigger service_words_insert",
            "trigger service_words_delete", "trigger service_words_update",
        } <= words  # fmt: skip


def test_migrations_0018_to_0020_write_the_loose_words_of_what_is_held(writable_settings, tmp_path):
    """Services imported with the rule of 0018 and their words then set back to what the
    earlier rule kept (letters of other scripts and "ø" dropped): migrating from 0017 again
    writes each one's words as the import did, an all-ASCII service's left alone by 0018 and
    given its first space by 0020, and letters in a compatibility form ("𝐁𝐮𝐬") in lower
    case by 0023, after 0018, 0019 and 0021 kept their capitals."""
    from alembic import command

    from directory import create_app
    from tests.directory.test_search import import_file, template_csv

    entries = [
        dict(ref="S", name="Søren’s youth project", desc="Mentoring in Straße courts",
             themes="Mentoring", org="Ærø Trust", coverage="Camden"),
        dict(ref="B", name="মহিলা সমিতি", desc="Advice", themes="Domestic abuse",
             org="Bangla Women", coverage="Camden"),
        dict(ref="R", name="Youth centre", desc="Помощь", themes="Victims and witnesses",
             org="Центр", coverage="Camden"),
        dict(ref="P", name="Plain service", desc="Plain words", themes="Mentoring",
             org="Plain Trust", coverage="Camden"),
        # (0018 and 0019 write its words with capitals, "Bus", as their rule did; 0023 as
        # an import does now)
        dict(ref="Y", name="𝐁𝐮𝐬 Stop", desc="Kids™ club", themes="Mentoring",
             org="ℍaven Trust", coverage="Camden"),
        # (a soft hyphen parted the word until 0025: "circ le")
        dict(ref="H", name="Youth circ\u00adle", desc="Knife crime", themes="Mentoring",
             org="Soft Trust", coverage="Camden"),
    ]  # fmt: skip
    app = create_app(writable_settings)
    import_file(app, template_csv(tmp_path / "scripts.csv", entries))
    db = app.extensions["directory"].db
    earlier = {  # what 0016's rule kept for them
        "S": "sorens youth project ar trust mentoring in strae courts mentoring",
        "B": "bangla women advice domestic abuse",
        "R": "youth centre victims and witnesses",
        "P": "kept as it was",
    }
    with db.engine.begin() as connection:
        imported = dict(connection.execute(text("SELECT ref, search_text FROM service")).all())
        for ref, words in earlier.items():
            connection.execute(
                text("UPDATE service SET search_text = :words WHERE ref = :ref"),
                {"words": words, "ref": ref},
            )
    assert imported["S"] == " sorens youth project aero trust mentoring in strasse courts mentoring"
    assert "মহিলা" in imported["B"] and "помощь" in imported["R"]
    config = db.alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0017")
        command.upgrade(config, "head")
    with db.engine.begin() as connection:
        migrated = dict(connection.execute(text("SELECT ref, search_text FROM service")).all())
        names = dict(connection.execute(text("SELECT name, search_name FROM organisation")).all())
        service_names = dict(connection.execute(text("SELECT ref, search_name FROM service")).all())
        if connection.dialect.name == "sqlite":  # 0022 made the index of the words held
            connection.execute(text(
                "INSERT INTO service_words(service_words, rank) VALUES ('integrity-check', 1)"
            ))  # fmt: skip
    client = app.test_client()
    for query, found in (
        ("помощь", {"R"}), ("kept", {"P"}), ("strasse", {"S"}), ("bus", {"Y"}),
        ("circle", {"H"}), ("circ\u00adle", {"H"}),
    ):  # fmt: skip
        response = client.get("/api/v1/services", query_string={"q": query})
        assert {s["ref"] for s in response.json["contents"]} == found, query
    app.extensions["directory"].db.dispose()
    assert migrated == {**imported, "P": " kept as it was"}  # (0020: its first space)
    # 0019, down and up again: each organisation's name kept as its loose words once more
    assert names["Ærø Trust"] == " aero trust" and names["Центр"] == " центр"
    assert names["Plain Trust"] == " plain trust"
    assert names["ℍaven Trust"] == " haven trust"  # (0019 wrote " Haven trust"; 0023)
    assert imported["Y"] == " bus stop haven trust kidstm club mentoring"
    assert service_names["Y"] == " bus stop"  # (0021 wrote " Bus stop"; 0023)
    assert imported["H"] == " youth circle soft trust knife crime mentoring"
    assert service_names["H"] == " youth circle"  # (0021 and 0023 wrote " youth circ le")


def test_migration_0027_adds_the_metropolitan_police_district_to_a_geography_held(
    writable_settings,
):
    """A geography loaded before 0027 (down to 0026: London the BCUs' parent, no District)
    gets the District from the migration, its polygon the union of the BCUs', as a load
    builds it; every process sees a new geography release."""
    import shapely
    from alembic import command

    from directory import create_app

    app = create_app(writable_settings)
    db = app.extensions["directory"].db
    config = db.alembic_config()

    def rows(connection):
        areas = {
            r.code: r
            for r in connection.execute(text("SELECT code, type, parent_code, geometry FROM area"))
        }
        releases = connection.execute(
            text("SELECT count(*) FROM data_release WHERE dataset = 'geography'")
        ).scalar_one()
        return areas, releases

    with db.engine.begin() as connection:
        loaded, _ = rows(connection)
        config.attributes["connection"] = connection
        command.downgrade(config, "0026")
    with db.engine.begin() as connection:
        before, releases = rows(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with db.engine.begin() as connection:
        after, releases_after = rows(connection)
    assert "E23000001" not in before
    assert {a.parent_code for a in before.values() if a.type == "bcu"} == {"E12000007"}
    district = after["E23000001"]
    assert (district.type, district.parent_code) == ("police_area", "E12000007")
    assert {a.parent_code for a in after.values() if a.type == "bcu"} == {"E23000001"}
    assert after["E09000001"].parent_code == "E12000007"
    migrated, built = (shapely.from_wkb(a["E23000001"].geometry) for a in (after, loaded))
    assert shapely.symmetric_difference(migrated, built).area < 1.0  # m²
    assert releases_after == releases + 1
    body = app.test_client().get("/api/v1/areas/bcu-central-west").get_json()
    assert body["parent"]["code"] == "E23000001"
    db.dispose()


def test_the_revisions_a_worker_knows_are_alembics_history(empty_settings):
    """A worker judges the schema from the migration files' names, without Alembic."""
    script = ScriptDirectory.from_config(Database(empty_settings).alembic_config())
    history = [revision.revision for revision in script.walk_revisions()][::-1]
    migrations = Migrations.of_this_code()
    assert list(migrations.revisions) == history
    assert migrations.head == script.get_current_head()
    assert migrations.behind("0023") and not migrations.behind(migrations.head)
    assert not migrations.behind(None) and not migrations.behind("ffffffffffff")


@pytest.fixture(params=BACKENDS)
def behind(request, tmp_path):
    """Settings of a copy of the demo directory moved back to revision 0023, as an
    operator who upgraded the code and did not run `directory migrate` leaves it."""
    settings = demo_copy(request, request.param, tmp_path)
    db = Database(settings)
    command.downgrade(db.alembic_config(), "0023")
    db.dispose()
    return settings


def test_a_schema_behind_the_code_is_not_ready_until_migrated(behind):
    """It was `/ready` 200 while a search answered 500 (no column service.search_words);
    after `directory migrate` the same app serves, without a restart."""
    app = create_app(behind)
    client = app.test_client()
    head = Migrations.of_this_code().head
    for path in ("/ready", "/api/v1/services?q=youth"):
        response = client.get(path)
        assert response.status_code == 503, path
        body = response.get_json()
        assert body["code"] == "schema-behind"
        assert body["detail"] == (
            f"The database is at revision 0023, this code needs {head}: run `directory migrate`."
        )
        assert response.headers["Retry-After"]
    result = app.test_cli_runner().invoke(cli, ["migrate"])
    assert result.exit_code == 0, result.output
    assert client.get("/ready").status_code == 200
    assert client.get("/api/v1/services?q=youth").status_code == 200
    app.extensions["directory"].db.dispose()


@pytest.mark.parametrize("command_line", [["serve"], ["reload"]])
def test_serve_and_reload_refuse_a_schema_behind_the_code(behind, command_line, monkeypatch):
    def exec_gunicorn(*_args):  # pragma: no cover - reached only if serve did not refuse
        raise AssertionError("gunicorn started on a schema behind the code")

    monkeypatch.setattr(os, "execv", exec_gunicorn)
    result = CliRunner().invoke(cli, command_line, env=settings_env(behind))
    head = Migrations.of_this_code().head
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (
        f"Error: The database is at revision 0023, this code needs {head}: run `directory migrate`."
    )
