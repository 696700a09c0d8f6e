"""Fixtures shared by every test: the London data, databases on SQLite and PostgreSQL,
and applications over them with the real London geography loaded once per session.

The London data is ``DIRECTORY_GEODATA_DIR`` when set, else the shared data folder beside
the checkout (``../shared/data``) when there is one, else the snapshot packaged with the
project, extracted once into ``.cache/snapshot/`` (a bare clone, no network). Every file
the tests read from it is one the snapshot holds, at the same path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import os
import resource
import shutil
import signal
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from directory import create_app
from directory.settings import Settings
from directory.store.db import Database, sqlite_file
from directory.store.loading import load_geography
from directory.usecases import keys as key_use
from directory.web.serving import reload
from geodata.snapshot import extract_snapshot
from geodata.sources import (
    GEOGRAPHY_KEYS,
    Manifest,
    load_manifest,
    manifest_for,
    sha256_file,
    write_manifest_json,
)
from tests.openapi_contract import ContractClient
from tests.postgres import PostgresCluster, memory_folder

# every app's test client checks each response against the OpenAPI document the app serves
Flask.test_client_class = ContractClient

#: Keys made in the tests' own processes are hashed at scrypt's cheapest cost (n=2, r=1,
#: p=1), not the 16 MiB and ~50 ms of CPU a real key costs (``keys.SCRYPT_N``). A key is
#: checked by the cost stored with it, so every keyed request is still hashed and compared
#: as in production, only cheaply: the real cost was ~0.05 s of each of the ~400 keyed
#: requests of test_writes.py alone. tests/directory/test_keys.py checks that a real key is
#: made at the real cost, with ``REAL_HASH_SECRET``; keys made by a `directory` command
#: run as a process of its own keep the real cost.
REAL_HASH_SECRET = key_use.hash_secret
key_use.hash_secret = functools.partial(REAL_HASH_SECRET, n=2, r=1, p=1)

#: The test files that take longest, longest first (seconds of one full run on 2 cores, 2
#: December 2026). pytest-xdist hands each worker whole files (``--dist loadfile``), and
#: ``make test`` passes ``--no-loadscope-reorder`` so that it hands them out in the order
#: collected: these go first, and the many short files fill in beside them. xdist's own
#: order (most tests first) left the one-test files (Schemathesis, three minutes) for last,
#: run alone while the other worker stood idle.
LONGEST_FIRST = (  # seconds in a fresh-clone CI run of 7 December (thirty-sixth session)
    "tests/directory/test_data_refresh.py",  # 293
    "tests/directory/test_serving.py",  # 256
    "tests/directory/test_import.py",  # 170
    "tests/directory/test_schemathesis.py",  # 149, two tests
    "tests/directory/test_loading.py",  # 97
    "tests/directory/test_fuzz.py",  # 93
    "tests/directory/test_patch_scale.py",  # 79
    "tests/directory/test_ogc_features.py",  # 65
    "tests/directory/test_funding.py",  # 61
    "tests/browser/test_page_accessibility.py",  # 58
    "tests/directory/test_giving360_export.py",  # 53
    "tests/directory/test_cli.py",  # 51
    "tests/directory/test_full_walk.py",  # 47
    "tests/browser/test_page.py",  # 44
    "tests/directory/test_search.py",  # 43
    "tests/directory/test_writes.py",  # 39
    "tests/directory/test_patch.py",  # 38
    "tests/directory/test_demo_remove.py",  # 34
    "tests/directory/test_index_rebuild.py",  # 33
    "tests/directory/test_keys.py",  # 33
    "tests/directory/test_several_servers.py",  # 33, one test
    "tests/directory/test_bare_clone.py",  # 33, one test
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the longest files first (:data:`LONGEST_FIRST`); the rest keep their order,
    and every file its tests' order."""
    rank = {path: position for position, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
#: where a bare clone's tests unpack the packaged snapshot (kept between runs)
SNAPSHOT_CACHE = REPO_ROOT / ".cache" / "snapshot"
#: small public files the tests read that are not London data (schemas, examples)
VENDORED = REPO_ROOT / "tests" / "data"


@cache
def shared_data_path() -> Path:
    """The London data directory the tests read (see the module's docstring)."""
    configured = os.environ.get("DIRECTORY_GEODATA_DIR")
    if configured:
        return Path(configured).resolve()
    if (SHARED_DATA / "SOURCES.md").is_file():
        return SHARED_DATA.resolve()
    return extract_snapshot(SNAPSHOT_CACHE)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    path = shared_data_path()
    missing = [e.path for e in load_manifest().files if not (path / e.path).is_file()]
    if missing:
        pytest.fail(
            f"The London data at {path} lacks {', '.join(missing)}. Unset "
            "DIRECTORY_GEODATA_DIR to run on the packaged snapshot (the tests need the real "
            "files; they never skip for want of them)."
        )
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster(memory_folder()).start()
    yield cluster
    cluster.stop()


def _settings(tmp: Path, url: str | None, data_dir: Path) -> Settings:
    return Settings(
        database_url=url or "",
        instance_dir=tmp,
        geodata_dir=data_dir,
        testing=True,
        data_version_ttl=0.0,
        freeze_heap=False,  # one full collection per cache rebuild: minutes over the suite
        log_level="WARNING",  # a line per request costs ~10% of the suite; test_logs asks INFO
        index_rebuild="inline",  # tests read their own imports at once (test_index_rebuild)
        # each app of its own would read all 188,000 postcodes on PostgreSQL (about a second);
        # the shared demo apps keep them in memory as production does (auto)
        postcodes_in_memory="off",
    )


@pytest.fixture(scope="session")
def sqlite_geography(tmp_path_factory: pytest.TempPathFactory, shared_data_dir: Path) -> Path:
    """A SQLite file, migrated and loaded with the real geography, made once per session."""
    tmp = tmp_path_factory.mktemp("sqlite-template")
    db = Database(_settings(tmp, None, shared_data_dir))
    db.migrate()
    load_geography(db, shared_data_dir)
    db.dispose()
    return tmp / "directory.sqlite3"


@pytest.fixture(scope="session")
def postgres_geography(postgres: PostgresCluster, postgres_directory_template: str) -> str:
    """A PostgreSQL database, migrated and loaded with the real geography, once per session:
    a copy of ``postgres_directory_template`` (loading the geography again took ~25 s)."""
    return postgres.create_database("geography", template=postgres_directory_template)


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def geo_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, shared_data_dir: Path
) -> Settings:
    """Settings of a database holding the real geography, on each backend (read-only use)."""
    tmp = tmp_path_factory.mktemp(f"geo-{request.param}")
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_geography")
        shutil.copy(template, tmp / "directory.sqlite3")
        return _settings(tmp, None, shared_data_dir)
    return _settings(tmp, request.getfixturevalue("postgres_geography"), shared_data_dir)


@pytest.fixture(scope="session")
def postgres_directory_template(
    postgres: PostgresCluster, shared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A database with the real geography that tests copy (CREATE DATABASE … TEMPLATE) and
    write to; nothing else ever connects to it."""
    url = postgres.create_database("directory_template")
    db = Database(_settings(tmp_path_factory.mktemp("pgt"), url, shared_data_dir))
    db.migrate()
    load_geography(db, shared_data_dir)
    db.dispose()
    return "directory_template"


_COPIES = itertools.count(1)


def _load_demo(settings: Settings, data_dir: Path) -> None:
    from directory.cli import cli

    app = create_app(settings)
    result = app.test_cli_runner().invoke(cli, ["demo", "load", "--from", str(data_dir)])
    app.extensions["directory"].db.dispose()
    assert result.exit_code == 0, result.output[-2000:]


@pytest.fixture(scope="session")
def sqlite_demo(
    tmp_path_factory: pytest.TempPathFactory, sqlite_geography: Path, shared_data_dir: Path
) -> Path:
    """A SQLite file holding the real geography and the demo directory (with the crime and
    population figures `demo load` brings), made once per session; tests copy it."""
    tmp = tmp_path_factory.mktemp("sqlite-demo")
    shutil.copy(sqlite_geography, tmp / "directory.sqlite3")
    _load_demo(_settings(tmp, None, shared_data_dir), shared_data_dir)
    return tmp / "directory.sqlite3"


@pytest.fixture(scope="session")
def postgres_demo_template(
    postgres: PostgresCluster, postgres_directory_template: str, shared_data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:  # fmt: skip
    """The PostgreSQL twin of ``sqlite_demo``: a template database tests copy."""
    url = postgres.create_database("demo_template", template=postgres_directory_template)
    _load_demo(_settings(tmp_path_factory.mktemp("pgd"), url, shared_data_dir), shared_data_dir)
    return "demo_template"


def _copy(
    request: pytest.FixtureRequest, backend: str, tmp: Path, of: tuple[str, str], prefix: str
) -> Settings:
    """Settings of a fresh copy on ``backend`` of the SQLite file or PostgreSQL template
    the session fixtures ``of`` (sqlite, postgres) make."""
    data_dir = request.getfixturevalue("shared_data_dir")
    if backend == "sqlite":
        shutil.copy(request.getfixturevalue(of[0]), tmp / "directory.sqlite3")
        return _settings(tmp, None, data_dir)
    template = request.getfixturevalue(of[1])
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    name = f"{prefix}_{next(_COPIES)}"
    url = cluster.create_database(name, template=template)
    request.addfinalizer(lambda: cluster.drop_database(name))  # when its fixture or test ends
    return _settings(tmp, url, data_dir)


def demo_copy(request: pytest.FixtureRequest, backend: str, tmp: Path) -> Settings:
    """Settings of a fresh copy of the demo directory of its own on ``backend`` ("sqlite"
    or "postgres"), for a fixture that writes more to it or a test that must not share."""
    return _copy(request, backend, tmp, ("sqlite_demo", "postgres_demo_template"), "demo")


def geography_copy(request: pytest.FixtureRequest, backend: str, tmp: Path) -> Settings:
    """Settings of a fresh database of its own on ``backend`` ("sqlite" or "postgres"),
    holding the real geography and an empty directory. A module-scoped fixture that fills
    it once for tests that only read it uses this; a test that writes takes
    ``writable_settings`` (a copy of its own)."""
    of = ("sqlite_geography", "postgres_directory_template")
    return _copy(request, backend, tmp, of, "test")


#: the two backends, as the params of a fixture (the PostgreSQL one marked ``postgres``)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _demo_app(request: pytest.FixtureRequest, backend: str) -> Iterator[Flask]:
    tmp = request.getfixturevalue("tmp_path_factory").mktemp(f"demo-app-{backend}")
    app = create_app(demo_copy(request, backend, tmp).with_overrides(postcodes_in_memory="auto"))
    yield app
    app.extensions["directory"].db.dispose()


@pytest.fixture(scope="session")
def sqlite_demo_app(request: pytest.FixtureRequest) -> Iterator[Flask]:
    """An app over a copy of the demo directory on SQLite, one for the whole session: the
    tests and modules that only read the demo directory share it, and never write to it
    (a writer takes ``demo_copy``, a copy of its own)."""
    yield from _demo_app(request, "sqlite")


@pytest.fixture(scope="session")
def postgres_demo_app(request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The PostgreSQL twin of ``sqlite_demo_app`` (read-only, shared by the session)."""
    yield from _demo_app(request, "postgres")


@pytest.fixture(scope="session", params=BACKENDS)
def shared_demo_app(request: pytest.FixtureRequest) -> Flask:
    """``sqlite_demo_app`` and ``postgres_demo_app`` in turn: the demo directory on each
    backend, for tests that only read it."""
    return request.getfixturevalue(f"{request.param}_demo_app")  # type: ignore[no-any-return]


@pytest.fixture()
def shared_client(shared_demo_app: Flask) -> FlaskClient:
    """A test client of ``shared_demo_app`` (read only)."""
    return shared_demo_app.test_client()


@pytest.fixture(params=BACKENDS)
def writable_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings of a fresh database of this test's own, holding the real geography and an
    empty directory, on each backend."""
    return geography_copy(request, request.param, tmp_path)


@pytest.fixture()
def writable_app(writable_settings: Settings):  # type: ignore[no-untyped-def]
    app = create_app(writable_settings)
    yield app
    app.extensions["directory"].db.dispose()


@pytest.fixture(scope="session")
def geo_app(geo_settings: Settings):  # type: ignore[no-untyped-def]
    app = create_app(geo_settings)
    yield app
    app.extensions["directory"].db.dispose()


@pytest.fixture()
def client(geo_app):  # type: ignore[no-untyped-def]
    return geo_app.test_client()


@pytest.fixture()
def empty_settings(tmp_path: Path, shared_data_dir: Path) -> Settings:
    """Settings of a fresh SQLite database with nothing in it (its file made, empty: only
    ``migrate`` makes one that is not there)."""
    settings = _settings(tmp_path, None, shared_data_dir)
    file = sqlite_file(settings.database_url)
    assert file is not None
    file.touch()
    return settings


def refused_where_shut_out(folder: Path, attempt: Callable[[], None]) -> str | None:
    """What ``attempt`` raises (a RuntimeError's message; None if nothing) made by a user
    who may not enter ``folder``: nobody, in a child process, when the suite runs as root
    (root enters any folder); else this user, with the folder shut for the while."""
    if os.geteuid() == 0:
        return reload._run_as(65534, 65534, attempt)
    folder.chmod(0o000)
    try:
        attempt()
    except RuntimeError as error:
        return str(error)
    finally:
        folder.chmod(0o700)
    return None


@contextlib.contextmanager
def files_limited_to(size: int) -> Iterator[None]:
    """For the block, no file this process writes may grow past ``size`` bytes: the write
    fails with the system's own refusal (``EFBIG``, "File too large"), as on a full disk or
    past a quota, with no mount needed. (The signal such a write sends is ignored, as a
    process's default would end it.)"""
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)


def one_byte_changed(data_dir: Path, target: Path, *, in_manifest: bool = True) -> Path:
    """A data directory at ``target`` holding ``data_dir``'s geography files (links to them)
    but its ward names file, copied with its last byte changed, and a manifest giving each
    file's sha256: the changed file's own, or (``in_manifest`` False) the original's."""
    manifest = manifest_for(data_dir)
    files = []
    for entry in manifest.files:
        source, copy = data_dir / entry.path, target / entry.path
        if entry.key not in GEOGRAPHY_KEYS:
            files.append(entry)
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        if entry.key == "ward_names":
            data = source.read_bytes()
            copy.write_bytes(data[:-1] + (b"x" if data[-1:] != b"x" else b"y"))
        else:
            copy.symlink_to(source)
        chosen = copy if in_manifest else source
        files.append(dataclasses.replace(entry, sha256=sha256_file(chosen)))
    write_manifest_json(Manifest(files=files, label=manifest.label, about=manifest.about), target)
    return target
