"""Loading the geography: idempotent, recorded, and all-or-nothing."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from directory import cli as cli_module
from directory import create_app
from directory.cli import cli
from directory.ingest import apply
from directory.settings import Settings
from directory.store import loading
from directory.store.db import Database, sqlite_path
from directory.store.models import Area, DataRelease, Postcode
from directory.store.repositories.geography import GeographyRepository
from directory.usecases.placing import place_sites
from geodata import loaders
from geodata.errors import DataFileError
from geodata.loaders import read_bundle
from geodata.sources import Manifest, manifest_for, sha256_file, write_manifest_json
from tests.conftest import BACKENDS, _settings, geography_copy, one_byte_changed
from tests.servers import settings_env


@pytest.fixture()
def loaded_db(sqlite_geography: Path, tmp_path: Path, shared_data_dir: Path) -> Database:
    shutil.copy(sqlite_geography, tmp_path / "directory.sqlite3")
    db = Database(Settings(instance_dir=tmp_path, geodata_dir=shared_data_dir))
    yield db
    db.dispose()


def _counts(db: Database) -> tuple[int, int, int]:
    with db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(Area)),
            s.scalar(select(func.count()).select_from(Postcode)),
            s.scalar(select(func.count()).select_from(DataRelease)),
        )


def test_loading_the_same_files_again_changes_nothing(loaded_db, shared_data_dir):
    before = _counts(loaded_db)
    report = loading.load_geography(loaded_db, shared_data_dir)
    assert report.loaded is False
    assert _counts(loaded_db) == before


def test_forced_reload_records_a_new_release(loaded_db, shared_data_dir):
    areas, postcodes, releases = _counts(loaded_db)
    report = loading.load_geography(loaded_db, shared_data_dir, force=True)
    assert report.loaded is True
    assert _counts(loaded_db) == (areas, postcodes, releases + 1)


def test_release_records_files_vintages_and_checksum(loaded_db):
    with loaded_db.session() as s:
        release = s.scalars(select(DataRelease)).one()
    assert len(release.checksum) == 64
    assert release.details["public"]["postcodes"].startswith("OS Code-Point Open")
    assert release.details["files"]["wards"]["path"].endswith("london_wards_2022_27700.gpkg")


def test_failure_mid_load_leaves_previous_data_in_place(loaded_db, shared_data_dir, monkeypatch):
    before = _counts(loaded_db)
    bundle = read_bundle(shared_data_dir)
    # a duplicate postcode makes the insert fail after the old rows were deleted
    broken = replace(bundle, postcodes=[*bundle.postcodes, bundle.postcodes[0]])
    broken.release["checksum"] = "0" * 64  # (files other than those loaded)
    monkeypatch.setattr(loading, "release_checksum", lambda _dir: "0" * 64)
    monkeypatch.setattr(loading, "read_bundle", lambda _dir, **_callbacks: broken)
    with pytest.raises(IntegrityError):
        loading.load_geography(loaded_db, shared_data_dir)
    assert _counts(loaded_db) == before


def test_broken_data_file_is_a_clear_error_and_changes_nothing(
    loaded_db, shared_data_dir, tmp_path
):
    copy = tmp_path / "data"
    shutil.copytree(
        shared_data_dir,
        copy,
        ignore=shutil.ignore_patterns("standards", "*lsoa*", "*2018*", "derived_*"),
    )
    (copy / "postcodes" / "london_postcodes_codepoint_open_2025_10.csv").write_text(
        "not,a,postcode,file\n1,2,3,4\n"
    )
    before = _counts(loaded_db)
    with pytest.raises(DataFileError) as error:
        loading.load_geography(loaded_db, copy)
    assert "london_postcodes_codepoint_open_2025_10.csv" in str(error.value)
    assert _counts(loaded_db) == before


def test_missing_data_directory_is_a_clear_error(loaded_db, tmp_path):
    with pytest.raises(DataFileError) as error:
        loading.load_geography(loaded_db, tmp_path / "nowhere")
    assert "DIRECTORY_GEODATA_DIR" in str(error.value)


# -- the same files again: compared by their checksum, not read --------------------------------
@pytest.fixture(scope="module", params=BACKENDS)
def held(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Database:
    """A database of the module's own on each backend holding the London geography and an
    empty directory: the tests below load files into it, each load stopped (by
    ``files_unread``) before it could write, if it reads them."""
    tmp = tmp_path_factory.mktemp("held")
    db = Database(geography_copy(request, request.param, tmp))
    yield db
    db.dispose()


class FilesReadError(Exception):
    """A load began reading the geography files."""


@pytest.fixture()
def files_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A load that reads the files stops there: nothing is parsed, nothing written."""

    def read(*_args: Any, **_kwargs: Any) -> Any:
        raise FilesReadError

    monkeypatch.setattr(loading, "read_bundle", read)


def test_loading_the_same_files_again_reads_none_of_them_and_changes_nothing(
    held: Database, shared_data_dir: Path, files_unread: None
) -> None:
    """Every site is checked even so, by the geography the database holds (the same
    release): it was six seconds, five of them reading the files (tests/directory/
    test_placing.py: a site out of place is placed again)."""
    before = _counts(held)
    with held.session() as session:
        latest = GeographyRepository(session).latest_release(loading.DATASET)
    report = loading.load_geography(
        held, shared_data_dir, place_sites=partial(place_sites, settings=held.settings)
    )
    assert (report.loaded, report.release_id, report.checksum) == (
        False, latest.id, latest.checksum,
    )  # fmt: skip
    recorded = latest.details["counts"]
    assert report.counts["areas"] == 1 + sum(
        recorded[kind] for kind in ("police_areas", "bcus", "boroughs", "wards")
    )
    assert report.counts["postcodes"] == (
        recorded["live_postcodes"] + recorded["terminated_postcodes"]
    )
    assert (report.sites.sites, report.sites.moved) == (0, 0)
    assert report.describe().startswith(
        f"Geography already loaded (checksum {latest.checksum[:12]})"
    )
    assert _counts(held) == before


@pytest.mark.parametrize("change", ["--force", "a byte of a file", "the layers built"])
def test_other_files_or_force_are_read(
    held: Database, shared_data_dir: Path, files_unread: None, change: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Files whose checksum is not the loaded release's are read (and loaded: see
    test_forced_reload_records_a_new_release, and the loads below), as are the same
    files when forced."""
    data_dir = shared_data_dir
    if change == "a byte of a file":
        data_dir = one_byte_changed(shared_data_dir, tmp_path / "changed")
    elif change == "the layers built":
        monkeypatch.setattr(loaders, "AREAS_BUILT", loaders.AREAS_BUILT + ",lsoa")
    before = _counts(held)
    with pytest.raises(FilesReadError):
        loading.load_geography(held, data_dir, force=change == "--force")
    assert _counts(held) == before


#: `directory init` run by the worktree's code (the package's `directory` script may be
#: another checkout's)
INIT = [sys.executable, "-c", "from directory.cli import cli; cli()", "init"]
ROOT = Path(__file__).resolve().parents[2]


def _two_inits(url: str, tmp_path: Path, data_dir: Path) -> list[str]:
    """Two `directory init --quiet` at once on the database at ``url``, each with an
    instance folder of its own (two servers'): what each said, both having exited 0, one
    having loaded the geography and the other found it loaded."""
    inits = [
        subprocess.Popen(
            [*INIT, "--quiet"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=settings_env(_settings(tmp_path / str(n), url, data_dir)),
        )  # fmt: skip
        for n in (1, 2)
    ]
    said = [init.communicate(timeout=300)[0] for init in inits]
    assert [init.returncode for init in inits] == [0, 0], said
    assert sorted("Geography already loaded" in text for text in said) == [False, True], said
    return said


def _assert_whole(url: str, tmp_path: Path, data_dir: Path) -> None:
    """The database at ``url`` is at the newest migration and holds the geography once."""
    db = Database(_settings(tmp_path, url, data_dir))
    try:
        head = ScriptDirectory.from_config(db.alembic_config()).get_current_head()
        assert db.schema_revision() == head
        bundle = read_bundle(data_dir)
        assert _counts(db) == (len(bundle.areas), len(bundle.postcodes), 1)
    finally:
        db.dispose()


@pytest.mark.postgres
def test_two_inits_at_once_on_one_postgresql_run_one_after_the_other(
    postgres, shared_data_dir: Path, tmp_path: Path
) -> None:
    """Two servers deployed together each run `directory init` on the one database: the
    second waits for the first's schema and then its geography, and finds both done. It
    failed on the first's rows: "duplicate key value violates unique constraint
    pg_type_typname_nsp_index" while migrating, "… pk_area" while loading."""
    url = postgres.create_database("two_inits")
    try:
        _two_inits(url, tmp_path, shared_data_dir)
        _assert_whole(url, tmp_path, shared_data_dir)
    finally:
        postgres.drop_database("two_inits")


def test_two_inits_at_once_on_one_sqlite_file_run_one_after_the_other(
    shared_data_dir: Path, tmp_path: Path
) -> None:
    """A deploy script and a terminal each run `directory init` on one new SQLite file (in
    a folder not there yet): the second waits for the first, then finds the schema and
    the geography done. SQLite's driver runs DDL outside a transaction, and the load read
    the releases before it wrote: the second failed with "table area already exists", or
    loaded the geography again (two releases)."""
    url = f"sqlite:///{tmp_path / 'new' / 'directory.sqlite3'}"
    _two_inits(url, tmp_path, shared_data_dir)
    _assert_whole(url, tmp_path, shared_data_dir)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_init_waits_its_turn_and_says_for_which_lock(
    backend: str, request: pytest.FixtureRequest, shared_data_dir: Path, tmp_path: Path
) -> None:
    """While another holds the database's setup turn, `init` says that it waits and for
    which lock (the lock file beside an SQLite database), migrates nothing, and when the
    turn is given back does its work."""
    if backend == "postgres":
        cluster = request.getfixturevalue("postgres")
        url = cluster.create_database("init_waits")
        request.addfinalizer(lambda: cluster.drop_database("init_waits"))
        lock = "the PostgreSQL advisory lock"
    else:
        url = f"sqlite:///{tmp_path / 'directory.sqlite3'}"
        lock = f"the lock file {tmp_path / 'directory.sqlite3.init.lock'}"
    settings = _settings(tmp_path, url, shared_data_dir)
    db = Database(settings)
    said = tmp_path / "stderr.txt"
    init = None
    try:
        with db.setup_turn(making=True), said.open("w") as stderr:
            init = subprocess.Popen(
                INIT, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
                env=settings_env(_settings(tmp_path / "other", url, shared_data_dir)),
            )  # fmt: skip
            deadline = time.monotonic() + 120
            while "Waiting" not in said.read_text() and init.poll() is None:
                assert time.monotonic() < deadline, said.read_text()
                time.sleep(0.1)
            assert init.poll() is None, said.read_text()
            assert (
                "Waiting for another `directory init` (or `migrate`, `geodata load`, "
                f"`geodata refresh`) holding {lock}"
            ) in said.read_text()
            assert db.schema_revision() is None
        out = init.communicate(timeout=300)[0]
        assert init.returncode == 0, said.read_text()
        assert "Loaded geography release 1" in out
        assert db.schema_revision() is not None
    finally:
        if init is not None and init.poll() is None:
            init.kill()
            init.communicate()
        db.dispose()


# -- a geography load and an import at once ---------------------------------------------------
#: the worktree's `directory` command (as INIT)
CLI = [sys.executable, "-c", "from directory.cli import cli; cli()"]
#: a service with a site at the postcode the geography below moves to another ward
PALACE_CSV = (
    "Service ref,Service name,Organisation name,Coverage,Site postcode\n"
    "PALACE,Palace youth club,Palace Trust,Westminster,SW1A 1AA\n"
)
PALACE = "SW1A 1AA"


def _moved_geography(shared: Path, tmp_path: Path) -> tuple[Path, str]:
    """A copy of the London data in which SW1A 1AA is in another Westminster ward, and that
    ward's code."""
    copy = tmp_path / "moved-data"
    name = "postcodes/london_postcodes_codepoint_open_2025_10.csv"
    for folder in (shared, shared / "postcodes"):  # the other files as they are
        (copy / folder.relative_to(shared)).mkdir()
        for entry in folder.iterdir():
            if entry.name not in ("postcodes", "manifest.json") and entry != shared / name:
                (copy / entry.relative_to(shared)).symlink_to(entry)
    path = copy / name
    with (shared / name).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    palace = next(r for r in rows if r["postcode"] == PALACE)
    ward = min(
        r["ward_code"]
        for r in rows
        if r["laua_code"] == palace["laua_code"] and r["ward_code"] != palace["ward_code"]
    )
    palace["ward_code"] = ward
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    manifest = manifest_for(shared)
    files = [
        replace(f, sha256=sha256_file(path)) if f.key == "postcodes" else f for f in manifest.files
    ]
    write_manifest_json(Manifest(files=files, label=manifest.label, about=manifest.about), copy)
    return copy, ward


@pytest.fixture(scope="module")
def moved_geography(
    shared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """:func:`_moved_geography`, made once for the module (rewriting the 188,000 postcodes
    took two seconds of CPU a test): the tests load it and never write to it."""
    return _moved_geography(shared_data_dir, tmp_path_factory.mktemp("moved"))


def _palace_ward(app) -> str:  # type: ignore[no-untyped-def]
    """The ward the PALACE service's site is in, as the API says."""
    body = app.test_client().get("/api/v1/services/PALACE").get_json()
    return str(body["locations"][0]["ward"]["code"])


def _postcode_ward(app) -> str:  # type: ignore[no-untyped-def]
    """The ward the loaded geography gives SW1A 1AA."""
    return str(app.test_client().get(f"/api/v1/postcodes/{PALACE}").get_json()["ward"]["code"])


def _releases(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(DataRelease)) or 0)


def _said(path: Path, process: subprocess.Popen[str], words: str) -> str:
    """What ``process`` has written to ``path`` once it holds ``words`` (it still running)."""
    deadline = time.monotonic() + 120
    while words not in path.read_text() and process.poll() is None:
        assert time.monotonic() < deadline, path.read_text()
        time.sleep(0.1)
    assert process.poll() is None, path.read_text()
    return path.read_text()


def _write_lock_name(settings: Settings) -> str:
    path = sqlite_path(settings.database_url)
    return "the PostgreSQL advisory lock" if path is None else f"the lock file {path}.lock"


def _held_at_first_call(monkeypatch, owner, name: str) -> tuple[threading.Event, threading.Event]:  # type: ignore[no-untyped-def]
    """``owner.name`` held at its first call until told to go: (reached, go)."""
    reached, go = threading.Event(), threading.Event()
    original = getattr(owner, name)

    def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not reached.is_set():
            reached.set()
            go.wait(120)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, held)
    return reached, go


def test_a_load_started_during_an_import_waits_for_it_then_places_its_sites(
    writable_settings: Settings, moved_geography: tuple[Path, str], tmp_path: Path, monkeypatch
) -> None:
    """An import is placing its sites by the geography loaded now when `geodata load`
    starts: the load says on stderr that it waits for the import's write lock, loads
    nothing meanwhile, then places the import's site by the new geography. Without the
    lock the load ran at once and the import's site kept the old geography's ward."""
    moved, new_ward = moved_geography
    app = create_app(writable_settings)
    db = app.extensions["directory"].db
    old_ward = _postcode_ward(app)
    releases = _releases(db)
    sites = tmp_path / "palace.csv"
    sites.write_text(PALACE_CSV, encoding="utf-8")
    placing, go = _held_at_first_call(monkeypatch, apply, "place_site")
    imported: dict[str, Any] = {}
    runner = app.test_cli_runner()
    importing = threading.Thread(
        target=lambda: imported.update(
            result=runner.invoke(cli, ["import", str(sites), "--source", "palace"])
        )
    )
    importing.start()
    said, out, load = tmp_path / "load-stderr.txt", tmp_path / "load-stdout.txt", None
    try:
        assert placing.wait(60), "the import never placed its site"
        with said.open("w") as stderr, out.open("w") as stdout:
            load = subprocess.Popen(
                [*CLI, "geodata", "load", "--from", str(moved)], cwd=ROOT,
                stdout=stdout, stderr=stderr, text=True, env=settings_env(writable_settings),
            )  # fmt: skip
            text = _said(said, load, "Waiting for another import or refresh holding")
        assert (
            f"Waiting for another import or refresh holding {_write_lock_name(writable_settings)}"
        ) in text
        assert "since" in text  # who holds it, from the lock row
        assert _releases(db) == releases
    finally:
        go.set()
        importing.join(120)
        if load is not None:
            load.wait(300)
    assert imported["result"].exit_code == 0, imported["result"].output
    assert load.returncode == 0, said.read_text()
    assert "Loaded geography release" in out.read_text()
    app.extensions["directory"].geography.invalidate()
    assert _postcode_ward(app) == new_ward != old_ward
    assert _palace_ward(app) == new_ward
    app.extensions["directory"].db.dispose()


def test_an_import_started_during_a_load_is_refused_and_the_load_places_every_site(
    writable_settings: Settings, moved_geography: tuple[Path, str], tmp_path: Path, monkeypatch
) -> None:
    """`geodata load` is placing the sites again when an import starts: the import is
    refused, naming the load (it would have placed its site by the geography being
    replaced), every site ends where the new geography places it, and the import run
    after the load places its site by the new geography."""
    moved, new_ward = moved_geography
    app = create_app(writable_settings)
    runner = app.test_cli_runner()
    sites = tmp_path / "palace.csv"
    sites.write_text(PALACE_CSV, encoding="utf-8")
    assert runner.invoke(cli, ["import", str(sites), "--source", "palace"]).exit_code == 0
    old_ward = _palace_ward(app)
    other = tmp_path / "other.csv"
    other.write_text(PALACE_CSV.replace("PALACE,Palace", "OTHER,Other"), encoding="utf-8")
    placing, go = _held_at_first_call(monkeypatch, cli_module, "place_sites")
    loaded: dict[str, Any] = {}
    loading_thread = threading.Thread(
        target=lambda: loaded.update(
            result=runner.invoke(cli, ["geodata", "load", "--from", str(moved)])
        )
    )
    loading_thread.start()
    try:
        assert placing.wait(120), "the load never placed the sites"
        refused = subprocess.run(
            [*CLI, "import", str(other), "--source", "other"], cwd=ROOT, capture_output=True,
            text=True, timeout=300, env=settings_env(writable_settings),
        )  # fmt: skip
    finally:
        go.set()
        loading_thread.join(300)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Another import or refresh is running (" in refused.stderr
    assert "loading the geography" in refused.stderr
    assert loaded["result"].exit_code == 0, loaded["result"].output
    assert "Loaded geography release" in loaded["result"].output
    assert _palace_ward(app) == new_ward != old_ward
    assert runner.invoke(cli, ["import", str(other), "--source", "other"]).exit_code == 0
    body = app.test_client().get("/api/v1/services/OTHER").get_json()
    assert body["locations"][0]["ward"]["code"] == new_ward
    app.extensions["directory"].db.dispose()
