"""Loading the geography: idempotent, recorded, and all-or-nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from directory.settings import Settings
from directory.store import loading
from directory.store.db import Database
from directory.store.models import Area, DataRelease, Postcode
from geodata.errors import DataFileError
from geodata.loaders import read_bundle
from tests.conftest import BACKENDS, _settings
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
    broken.release["checksum"] = "0" * 64
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
                "Waiting for another `directory init` (or `migrate`, `geodata load`) holding "
                f"{lock}"
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
