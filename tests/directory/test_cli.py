"""The `directory` command: init (and where its data comes from), geodata load/download,
clear messages, and every reporting command's --json (one JSON document, alone on stdout)."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from directory import create_app
from directory.cli import cli
from directory.demo import DEMO_SOURCES
from directory.ingest.template import HEADINGS
from directory.settings import Settings
from directory.store.loading import DataDir, releases_dir, resolve_data_dir
from geodata.snapshot import packaged_manifest
from geodata.sources import load_manifest
from tests.conftest import files_limited_to, geography_copy
from tests.directory.test_import import HEADER, OXYGEN, RESCUE
from tests.servers import file_server


@pytest.fixture()
def runner_for(tmp_path: Path):
    def make(geodata_dir: Path | None):
        app = create_app(Settings(instance_dir=tmp_path, geodata_dir=geodata_dir, testing=True))
        return app, app.test_cli_runner()

    return make


@pytest.fixture()
def data_server(shared_data_dir: Path):
    with file_server(shared_data_dir) as base:
        yield base


def test_init_with_nothing_configured_loads_the_packaged_snapshot(runner_for, tmp_path):
    app, runner = runner_for(None)
    result = runner.invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    snapshot_id = packaged_manifest().about["id"]
    assert f"London data: packaged snapshot {snapshot_id}" in result.output
    assert (tmp_path / "data" / "snapshot" / snapshot_id / "manifest.json").is_file()
    client = app.test_client()
    body = client.get("/api/v1/postcodes/KT1 1EU").get_json()
    assert body["borough"]["code"] == "E09000021"
    origin = {"kind": "snapshot", "id": snapshot_id}
    assert {k: body["data_release"]["data"][k] for k in origin} == origin
    ready = client.get("/ready").get_json()
    assert ready["data_release"]["data"]["id"] == snapshot_id
    status = client.get("/api/v1/status").get_json()
    assert status["geography"]["data"]["kind"] == "snapshot"
    assert status["geography"]["postcodes"].startswith("OS Code-Point Open")


def _release(settings: Settings, name: str, complete: bool = True) -> Path:
    path = releases_dir(settings) / name
    path.mkdir(parents=True)
    (path / "manifest.json").write_text("{}")
    if complete:
        (path / ".complete").write_text(name)
    return path


def test_the_data_directory_is_chosen_in_the_documented_order(tmp_path):
    given, configured = tmp_path / "given", tmp_path / "configured"
    settings = Settings(instance_dir=tmp_path / "instance", geodata_dir=configured)
    bare = Settings(instance_dir=tmp_path / "instance")
    _release(bare, "20260101T000000Z")
    newest = _release(bare, "20261129T120000Z")
    _release(bare, "20261231T000000Z", complete=False)  # a refresh still being written
    assert resolve_data_dir(settings, given) == DataDir(given, "--from", str(given))
    assert resolve_data_dir(settings).origin == "DIRECTORY_GEODATA_DIR"
    assert resolve_data_dir(bare) == DataDir(newest, "refreshed release", newest.name)
    shutil.rmtree(releases_dir(bare))
    chosen = resolve_data_dir(bare)
    assert (
        chosen.origin == "packaged snapshot"
        and chosen.path.parent == tmp_path / "instance" / "data" / "snapshot"
    )


def test_init_with_a_missing_directory_says_so(runner_for, tmp_path):
    _app, runner = runner_for(tmp_path / "missing")
    result = runner.invoke(cli, ["init"])
    assert result.exit_code != 0
    assert "is not a directory" in result.output


def test_download_from_a_mirror_then_init_serves_postcodes(runner_for, data_server, tmp_path):
    app, runner = runner_for(None)
    target = tmp_path / "downloaded"
    result = runner.invoke(
        cli, ["geodata", "download", "--to", str(target), "--base-url", data_server]
    )
    assert result.exit_code == 0, result.output
    assert (target / "postcodes" / "london_postcodes_codepoint_open_2025_10.csv").exists()
    result = runner.invoke(cli, ["init", "--from", str(target)])
    assert result.exit_code == 0, result.output
    assert "Loaded geography release 1" in result.output
    again = runner.invoke(cli, ["init", "--from", str(target)])
    assert "nothing changed" in again.output
    response = app.test_client().get("/api/v1/postcodes/KT1 1EU")
    assert response.get_json()["borough"]["code"] == "E09000021"


def test_download_of_a_missing_file_fails_clearly(runner_for, data_server, tmp_path):
    _app, runner = runner_for(None)
    result = runner.invoke(
        cli,
        [
            "geodata",
            "download",
            "--to",
            str(tmp_path / "d"),
            "--base-url",
            data_server + "/nothing",
        ],
    )
    assert result.exit_code != 0
    assert "/nothing/" in result.output


# -- --json: every command that reports something; JSON alone on stdout -------------------------
def _json(result) -> dict:  # type: ignore[no-untyped-def]
    """The command's JSON report: exit 0 and nothing but one JSON document on stdout."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _head_revision(app) -> str:  # type: ignore[no-untyped-def]
    db = app.extensions["directory"].db
    return ScriptDirectory.from_config(db.alembic_config()).get_current_head()


def test_migrate_json_says_the_schema_revision_and_the_database(runner_for, tmp_path):
    app, runner = runner_for(None)
    report = _json(runner.invoke(cli, ["migrate", "--json"]))
    assert report == {
        "database_url": f"sqlite:///{tmp_path / 'directory.sqlite3'}",
        "schema_revision": _head_revision(app),
    }
    assert "Database at the newest schema" in runner.invoke(cli, ["migrate"]).stdout


def test_migrate_on_a_schema_newer_code_made_says_so(runner_for, tmp_path):
    """A revision this code has no migration of was alembic's traceback."""
    import sqlite3

    _app, runner = runner_for(None)
    assert runner.invoke(cli, ["migrate"]).exit_code == 0
    with sqlite3.connect(tmp_path / "directory.sqlite3") as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    result = runner.invoke(cli, ["migrate"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "is not one this code knows" in result.output and "'ffffffffffff'" in result.output


SECRET = "s3cretPW"


@pytest.mark.parametrize(
    "url",
    [
        f"postgres://directory:{SECRET}@localhost/directory",  # not SQLAlchemy's scheme
        f"postgresql+psycopg://directory:{SECRET}@localhost:abc/directory",  # the port
        f"postgresql+psycopg2://directory:{SECRET}@localhost/directory",  # not installed
        f"mysql://directory:{SECRET}@localhost/directory",
        f"postgres://directory:s3c@ret{SECRET}@localhost/directory",  # an unescaped @
        f"postgres://directory@localhost/directory?sslmode=require&password={SECRET}",
    ],
)
def test_a_database_url_refused_is_named_without_its_password(url):
    """It was repeated whole: `Error: … not 'postgres://directory:s3cretPW@…'`."""
    result = CliRunner().invoke(cli, ["migrate"], env={"DIRECTORY_DATABASE_URL": url})
    assert result.exit_code == 1
    assert "DIRECTORY_DATABASE_URL" in result.stderr and "localhost" in result.stderr
    assert SECRET not in result.output and "ret" not in result.stderr.replace("require", "")
    assert ":***@" in result.stderr or "password=***" in result.stderr


@pytest.mark.postgres
def test_a_password_in_the_query_is_masked_by_init_migrate_and_connection_errors(request, tmp_path):
    """libpq takes `?password=`: it was shown as given by `init --json`, `migrate` and a
    connection's error, and a password with an unescaped `@` had its tail shown."""
    settings = geography_copy(request, "postgres", tmp_path)
    url = f"{settings.database_url}?password={SECRET}&sslpassword={SECRET}"
    env = {"DIRECTORY_DATABASE_URL": url, "DIRECTORY_INSTANCE_DIR": str(tmp_path)}
    env["DIRECTORY_GEODATA_DIR"] = str(settings.geodata_dir)
    for args in (["init", "--json", "--quiet"], ["migrate", "--json"], ["migrate"]):
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output, args
        assert "password=***&sslpassword=***" in result.stdout, args
    away = f"postgresql+psycopg://directory:{SECRET}@127.0.0.1:1/directory?password={SECRET}"
    result = CliRunner().invoke(cli, ["migrate"], env={**env, "DIRECTORY_DATABASE_URL": away})
    assert result.exit_code == 1
    assert "cannot be used" in result.stderr
    assert "directory:***@127.0.0.1:1/directory?password=***" in result.stderr
    assert SECRET not in result.output
    ambiguous = f"postgresql+psycopg://directory:s3c@ret{SECRET}@127.0.0.1/directory"
    result = CliRunner().invoke(cli, ["migrate"], env={**env, "DIRECTORY_DATABASE_URL": ambiguous})
    assert result.exit_code == 1
    assert "write it as %40" in result.stderr
    assert SECRET not in result.output and "ret" not in result.stderr


def test_init_and_geodata_load_json_report_the_data_and_the_load(
    runner_for, tmp_path, sqlite_geography, shared_data_dir
):
    shutil.copy(sqlite_geography, tmp_path / "directory.sqlite3")
    app, runner = runner_for(shared_data_dir)
    result = runner.invoke(cli, ["init", "--json"])
    report = _json(result)
    assert "London data: DIRECTORY_GEODATA_DIR" in result.stderr  # on stderr, as without --json
    data = {
        "origin": "DIRECTORY_GEODATA_DIR",
        "name": str(shared_data_dir),
        "path": str(shared_data_dir),
    }
    assert report["data"] == data
    assert report["schema_revision"] == _head_revision(app)
    assert report["database_url"].endswith("directory.sqlite3")
    load = report["load"]
    assert load["loaded"] is False and load["release_id"] == 1
    assert re.fullmatch(r"[0-9a-f]{64}", load["checksum"])
    assert set(load["counts"]) == {"areas", "neighbour_pairs", "postcodes"}
    assert load["counts"]["postcodes"] > 180_000 and load["seconds"] >= load["read_seconds"] > 0
    again = _json(runner.invoke(cli, ["geodata", "load", "--json", "--quiet"]))
    assert again == {"data": data, "load": {**again["load"], "checksum": load["checksum"]}}
    assert again["load"]["counts"] == load["counts"] and again["load"]["loaded"] is False


def test_geodata_download_json_lists_the_files_written(runner_for, data_server, tmp_path):
    _app, runner = runner_for(None)
    target = tmp_path / "downloaded"
    report = _json(
        runner.invoke(
            cli, ["geodata", "download", "--to", str(target), "--base-url", data_server, "--json"]
        )
    )
    assert report["to"] == str(target) and report["base_url"] == data_server
    assert [f["path"] for f in report["files"]] == [e.path for e in load_manifest().files]
    for f in report["files"]:
        assert (target / f["path"]).stat().st_size == f["bytes"] > 0


def test_template_and_export_json_say_what_was_written(writable_app, tmp_path):
    runner = writable_app.test_cli_runner()
    blank = tmp_path / "blank.xlsx"
    report = _json(runner.invoke(cli, ["template", str(blank), "--json"]))
    assert report == {"path": str(blank), "format": "xlsx", "columns": HEADINGS}
    assert blank.is_file()
    services = tmp_path / "services.csv"
    services.write_text(HEADER + OXYGEN + RESCUE, "utf-8")
    assert _json(runner.invoke(cli, ["import", str(services), "--json"]))["status"] == "succeeded"
    exported = tmp_path / "export.csv"
    report = _json(runner.invoke(cli, ["export", str(exported), "--format", "csv", "--json"]))
    assert report == {"path": str(exported), "format": "csv", "services": 2}
    assert "OXY-KT-01" in exported.read_text("utf-8")


def test_a_file_system_refusal_is_one_line_naming_the_path(tmp_path):
    """What the system refuses a command (a file where the database's folder should be, a
    full disk under `openapi write`) is one line naming the path and why, exit code 1; an
    --env-file that is not text is a usage error. Each was a traceback."""
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    env = {"DIRECTORY_INSTANCE_DIR": str(afile), "DIRECTORY_DATABASE_URL": ""}
    result = CliRunner().invoke(cli, ["init"], env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.output == f"Error: The database's folder is a file: {afile}.\n"
    assert afile.read_text() == "not a folder"

    env = {"DIRECTORY_INSTANCE_DIR": str(tmp_path / "instance")}
    result = CliRunner().invoke(cli, ["openapi", "write", "/dev/full"], env=env)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.output == "Error: No space left on device.\n"

    binary = tmp_path / "settings.env"
    binary.write_bytes(b"\xfc\x00\x81DIRECTORY_X=1\n")
    result = CliRunner().invoke(cli, ["-e", str(binary), "keys", "list"], env=env)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "The --env-file is not UTF-8 text (invalid start byte at byte 0)" in result.output


def test_a_full_instance_folder_is_named_by_init_and_geodata_refresh(writable_settings):
    """With nothing else configured `init` and `geodata refresh` unpack the packaged
    snapshot into the instance folder. On a full disk `init` blamed the package ("Snapshot
    file … is missing or corrupt: [Errno 28] No space left on device", and where the London
    data may come from) and `geodata refresh` was a traceback; each is now the one line the
    README promises, naming the folder, with nothing left in it."""
    settings = writable_settings.with_overrides(geodata_dir=None)
    folder = settings.instance_dir / "data" / "snapshot"
    app = create_app(settings)
    runner = app.test_cli_runner()
    try:
        with files_limited_to(300_000):
            results = [
                runner.invoke(cli, args)
                for args in (["init"], ["geodata", "refresh", "--dry-run", "--source", "crime"])
            ]
    finally:
        app.extensions["directory"].db.dispose()
    for result in results:
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert result.output.splitlines()[-1] == f"Error: File too large: {folder}."
        assert "corrupt" not in result.output and "Traceback" not in result.output
    assert list(folder.iterdir()) == []


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path):
    """`directory openapi print | head`: the reader closing the pipe ends the command with
    nothing said (not "Error: Broken pipe.", nor a traceback at exit)."""
    import subprocess
    import sys

    command = [str(Path(sys.executable).with_name("directory")), "openapi", "print"]
    env = {**os.environ, "DIRECTORY_INSTANCE_DIR": str(tmp_path)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    process.stdout.close()  # the reader goes before the first line
    with process.stderr:
        said = process.stderr.read().decode()
    assert process.wait(60) == 1 and said == ""


def test_template_and_export_never_leave_a_file_half_written(writable_app, tmp_path, monkeypatch):
    """An export is written beside its file and put in its place once whole: a full disk
    (the real /dev/full; a failure mid-write) leaves the file it was to replace as it was,
    with no leftover, and is one line, not a traceback, as is a missing folder or a folder
    of that name. A blank template does not replace a file unless told to (it replaced a
    filled-in workbook, exit 0)."""
    import stat

    from directory import cli as cli_module

    runner = writable_app.test_cli_runner()
    out = tmp_path / "out"
    out.mkdir()
    filled = out / "filled.csv"
    filled.write_text(HEADER + OXYGEN, "utf-8")
    refused = runner.invoke(cli, ["template", str(filled)])
    assert refused.exit_code == 1 and "--force" in refused.output
    assert filled.read_text("utf-8") == HEADER + OXYGEN
    assert runner.invoke(cli, ["template", str(filled), "--force"]).exit_code == 0
    assert filled.read_text("utf-8-sig").splitlines() == [",".join(HEADINGS)]

    for where, why in [
        (out / "no-such-folder" / "x.csv", "No such file or directory"),
        (out, "Is a directory"),
        (Path("/dev/full"), "No space left on device"),
    ]:
        result = runner.invoke(cli, ["export", str(where), "--format", "csv"])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert result.output.strip() == f"Error: Cannot write {where}: {why}"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)  # (a device is written, not replaced)

    kept = out / "export.csv"
    kept.write_text("the last export\n", "utf-8")
    kept.chmod(0o640)

    def cut_short(path: Path, **_: object) -> None:
        path.write_text("Service ref,Serv", "utf-8")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cli_module, "write_template", cut_short)
    result = runner.invoke(cli, ["export", str(kept)])
    assert result.output.strip() == f"Error: Cannot write {kept}: No space left on device"
    assert kept.read_text("utf-8") == "the last export\n"
    assert sorted(p.name for p in out.iterdir()) == ["export.csv", "filled.csv"]
    monkeypatch.undo()
    assert runner.invoke(cli, ["export", str(kept)]).exit_code == 0
    assert kept.read_text("utf-8-sig").startswith("Service ref,")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640  # (the mode of the file it replaced)


def test_demo_load_json_reports_every_source(writable_app, shared_data_dir):
    result = writable_app.test_cli_runner().invoke(
        cli, ["demo", "load", "--from", str(shared_data_dir), "--json"]
    )
    report = _json(result)
    assert report["ok"] is True and report["data"]["origin"] == "--from"
    assert [s["source"] for s in report["sources"]] == [
        *DEMO_SOURCES,
        "reference/london_borough_population_2022.csv",
        "crime/mps_borough_level_crime_2024-07_to_2026-06.csv",
    ]
    assert all(s["status"] == "succeeded" and s["errors"] == 0 for s in report["sources"])
    assert report["sources"][0]["counts"]["grants"]["created"] > 0
    assert "London data: --from" in result.stderr


def test_refresh_json_is_one_document_of_every_source(writable_app, tmp_path):
    (tmp_path / "good.csv").write_text(HEADER + OXYGEN, "utf-8")
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[source]]\nname = "good"\npath = "good.csv"\n\n'
        '[[source]]\nname = "missing"\npath = "nowhere.csv"\n',
        "utf-8",
    )
    result = writable_app.test_cli_runner().invoke(
        cli, ["refresh", "--sources", str(sources), "--json"]
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["failed"] == ["missing"]
    good, missing = report["sources"]
    assert good["source"] == "good" and good["status"] == "succeeded"
    assert missing["source"] == "missing" and missing["status"] == "failed"
    assert "nowhere.csv" in missing["error"]
    assert "Failed: missing" in result.stderr


def test_geodata_refresh_json_is_alone_on_stdout(writable_app):
    result = writable_app.test_cli_runner().invoke(
        cli,
        ["geodata", "refresh", "--base-url", "http://127.0.0.1:9", "--timeout", "2",
         "--source", "crime", "--json", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 1  # the source failed: exit code as without --json
    report = json.loads(result.stdout)
    assert [(s["name"], s["status"]) for s in report["sources"]] == [("crime", "failed")]
    assert report["loaded"] is False


@pytest.mark.postgres
def test_init_against_a_database_that_does_not_exist_is_one_line(postgres, tmp_path):
    """No SQLAlchemy traceback: the database named, the driver's reason, what to do."""
    env = {"DIRECTORY_DATABASE_URL": postgres.url("no_such_database"),
           "DIRECTORY_INSTANCE_DIR": str(tmp_path)}  # fmt: skip
    result = CliRunner().invoke(cli, ["init"], env=env)
    assert result.exit_code == 1
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    (line,) = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert 'database "no_such_database" does not exist' in line
    assert "no_such_database" in line and "Create it first" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "'--port': 70000 is not in the range 1<=x<=65535"),
        (["--workers", "0"], "'--workers': 0 is not in the range 1<=x<=256"),
    ],
)
def test_serve_refuses_a_port_or_worker_count_it_cannot_serve_with(args, message):
    """--port 70000 printed "Serving on…" then an OverflowError traceback; --workers 0
    listened with no worker, so every request hung."""
    result = CliRunner().invoke(cli, ["serve", *args])
    assert result.exit_code == 2 and message in result.output
    assert "Serving on" not in result.output


def test_a_setting_that_cannot_be_used_is_one_line_not_a_traceback(tmp_path):
    env = {"DIRECTORY_DATABASE_URL": "nonsense", "DIRECTORY_INSTANCE_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, ["serve"], env=env)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().startswith("Error: DIRECTORY_DATABASE_URL must be an SQLite")


@pytest.mark.parametrize(
    "args", [["keys", "list"], ["export", "out.csv"], ["import", "nothing.csv"], ["serve"]]
)
def test_a_mistyped_sqlite_path_is_refused_and_no_database_is_made(tmp_path, args):
    """Any command but init and migrate, given an SQLite file that is not there, says so
    and what to do, and makes neither the file nor its folder: it made an empty database
    and then said "no such table: api_key"."""
    typo = tmp_path / "typo" / "directroy.sqlite3"
    env = {"DIRECTORY_DATABASE_URL": f"sqlite:///{typo}", "DIRECTORY_INSTANCE_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, (result.output, result.exception, result.stderr)
    assert f"there is no database file at {typo}: run `directory init`" in lines[0]
    assert not typo.parent.exists() and "Serving on" not in result.output


def test_init_makes_the_file_and_a_database_without_tables_says_to_run_it(tmp_path):
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    env = {"DIRECTORY_DATABASE_URL": f"sqlite:///{empty}", "DIRECTORY_INSTANCE_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, ["keys", "list"], env=env)
    assert result.exit_code == 1 and "no such table" in result.output
    assert "Its tables are not made yet: run `directory init`" in result.output
    made = tmp_path / "new" / "folder" / "db.sqlite3"
    env["DIRECTORY_DATABASE_URL"] = f"sqlite:///{made}"
    result = CliRunner().invoke(cli, ["migrate", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert made.is_file() and json.loads(result.output)["schema_revision"]


def test_serve_given_a_database_behind_a_folder_it_may_not_enter_says_so_in_one_line(
    tmp_path, monkeypatch
):
    """``Path.exists`` raises for a folder this user may not enter (EACCES): ``serve``'s
    check that the file is there made that a traceback. (Root enters any folder, and a
    child made another user cannot read a private clone's virtualenv, so the check meets
    here what another user's would.)"""
    database = tmp_path / "locked" / "directory.sqlite3"
    exists = Path.exists

    def shut_out(path: Path) -> bool:
        if path == database:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return exists(path)

    monkeypatch.setattr(Path, "exists", shut_out)
    env = {
        "DIRECTORY_DATABASE_URL": f"sqlite:///{database}",
        "DIRECTORY_INSTANCE_DIR": str(tmp_path),
    }
    result = CliRunner().invoke(cli, ["serve"], env=env)
    assert result.exit_code == 1 and "Serving on" not in result.output, result.output
    assert result.output == (
        f"Error: The database file {database} cannot be reached: Permission denied.\n"
    )


def test_a_postgresql_server_that_never_answers_is_given_up_on(tmp_path, monkeypatch):
    """A server that takes the connection and never answers (a stuck proxy, a firewall
    holding the port) held every command without end: a connection is given up on after
    CONNECT_SECONDS (libpq's connect_timeout), as one line naming the database."""
    import contextlib
    import socket
    import threading
    import time

    from directory.store import db

    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    monkeypatch.setattr(db, "CONNECT_SECONDS", 2)
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def take() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):  # (the wait's timeout)
                held.append(listener.accept()[0])  # and never a byte back

    taker = threading.Thread(target=take, daemon=True)
    taker.start()
    port = listener.getsockname()[1]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/directory"
    try:
        app = create_app(Settings(instance_dir=tmp_path, database_url=url, testing=True))
        started = time.monotonic()
        result = app.test_cli_runner().invoke(cli, ["keys", "list"])
        took = time.monotonic() - started
    finally:
        stop.set()
        taker.join()
        listener.close()
        for connection in held:
            connection.close()
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "cannot be used: connection timeout expired" in result.output
    assert held and took < 30, took


@pytest.mark.parametrize(
    ("timeout", "message"),
    [("nan", "must be a number of seconds, not nan"), ("0", "is not in the range 0<x<=3600"),
     ("-5", "is not in the range"), ("inf", "is not in the range")],
)  # fmt: skip
def test_a_download_timeout_that_is_no_time_is_a_usage_error(writable_app, timeout, message):
    """urllib3 raised on them, a traceback, after the refresh had begun."""
    result = writable_app.test_cli_runner().invoke(
        cli, ["geodata", "refresh", "--dry-run", "--timeout", timeout]
    )
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert message in result.output


def test_demo_load_from_a_folder_without_its_files_says_which(writable_app, tmp_path):
    """It was a traceback (DataFileError)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = writable_app.test_cli_runner().invoke(cli, ["demo", "load", "--from", str(empty)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"Error: Data file (bcus) not found: {empty}/reference/" in result.output


def test_a_postcode_file_cut_short_does_not_replace_londons_postcodes(
    writable_app, tmp_path, shared_data_dir
):
    """A postcode file cut to 1,000 lines replaced London's postcodes with 7,949 (exit 0),
    and every other postcode was then "not a London postcode": fewer than half the
    postcodes loaded is refused, nothing changed, unless --fewer says it is meant."""

    def cut_to(lines: int, name: str) -> Path:
        data = tmp_path / name
        data.mkdir()
        for part in shared_data_dir.iterdir():  # (no manifest: its checksums would refuse it)
            if part.name not in ("postcodes", "manifest.json", ".complete"):
                (data / part.name).symlink_to(part)
        (data / "postcodes").mkdir()
        for source in (shared_data_dir / "postcodes").iterdir():
            text = source.read_text("utf-8").splitlines(keepends=True)
            cut = text[:lines] if "codepoint" in source.name else text
            (data / "postcodes" / source.name).write_text("".join(cut), "utf-8")
        return data

    data = cut_to(1000, "data")
    runner = writable_app.test_cli_runner()
    client = writable_app.test_client()
    assert client.get("/api/v1/postcodes/SW1A 1AA").status_code == 200
    refused = runner.invoke(cli, ["geodata", "load", "--from", str(data), "--quiet"])
    assert refused.exit_code == 1 and isinstance(refused.exception, SystemExit), refused.output
    assert "fewer than half of the" in refused.output and "--fewer" in refused.output
    assert client.get("/api/v1/postcodes/SW1A 1AA").status_code == 200
    # cut at 70%: more than half of London's postcodes, but the file is in postcode order,
    # and the boroughs of its last areas (SW, TW, UB, W, WC) lose nearly all of theirs
    most = cut_to(126_000, "most")
    refused = runner.invoke(cli, ["geodata", "load", "--from", str(most), "--quiet"])
    assert refused.exit_code == 1 and isinstance(refused.exception, SystemExit), refused.output
    said = refused.output.replace("\n", " ")
    assert "fewer than half the postcodes loaded now in" in said and "--fewer" in said
    assert re.search(r"in \d+ boroughs \(Hounslow 0 of [\d,]+; ", said), said
    assert client.get("/api/v1/postcodes/SW1A 1AA").status_code == 200
    args = ["geodata", "load", "--from", str(data), "--quiet", "--fewer", "--json"]
    loaded = _json(runner.invoke(cli, args))
    assert loaded["load"]["loaded"] and loaded["load"]["counts"]["postcodes"] < 10_000
