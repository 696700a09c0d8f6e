"""Fixtures of the fetcher tests: the local publisher server, a client and built files.

The server runs once per session on 127.0.0.1; each test registers its own routes (they
are cleared between tests). The publisher files are built once per session from the
shared London data (``shared_data_dir``, tests/conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from geodata.fetch import Client
from tests.geodata.fetch import publishers
from tests.geodata.fetch.server import FixtureServer


@pytest.fixture(scope="session")
def fixture_server() -> Iterator[FixtureServer]:
    server = FixtureServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(fixture_server: FixtureServer) -> Iterator[FixtureServer]:
    fixture_server.reset()
    yield fixture_server
    fixture_server.reset()


@pytest.fixture
def client(server: FixtureServer) -> Iterator[Client]:
    with Client(base_url=server.url, timeout=5, retries=2, backoff_factor=0) as c:
        yield c


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A work directory that does not exist yet (a fetch creates it)."""
    return tmp_path / "work"


def leftovers(workdir: Path) -> list[Path]:
    """Everything under a work directory (a failed fetch must leave nothing)."""
    return sorted(workdir.rglob("*")) if workdir.exists() else []


# -- publisher files, built once --------------------------------------------------------
@pytest.fixture(scope="session")
def codepoint_fx(shared_data_dir: Path) -> publishers.CodePointFixture:
    return publishers.build_codepoint(shared_data_dir)


@pytest.fixture(scope="session")
def nspl_fx(shared_data_dir: Path) -> publishers.NsplFixture:
    return publishers.build_nspl(shared_data_dir)


@pytest.fixture(scope="session")
def wards_fx(shared_data_dir: Path) -> publishers.WardFixture:
    return publishers.build_wards(shared_data_dir)


@pytest.fixture(scope="session")
def borough_zip(shared_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return publishers.build_borough_zip(shared_data_dir, tmp_path_factory.mktemp("gla"))


@pytest.fixture(scope="session")
def crime_csv(shared_data_dir: Path) -> bytes:
    return (
        shared_data_dir / "crime" / "mps_borough_level_crime_2024-07_to_2026-06.csv"
    ).read_bytes()


@pytest.fixture(scope="session")
def population_rows(shared_data_dir: Path) -> list[dict[str, str]]:
    return publishers.read_csv(shared_data_dir / "reference" / "london_borough_population_2022.csv")


@pytest.fixture(scope="session")
def grants_package(shared_data_dir: Path) -> bytes:
    path = shared_data_dir / "grants" / "grantnav_fixture_grants_london_recipients_360giving.json"
    return path.read_bytes()


@pytest.fixture(scope="session")
def grants_workbook(grants_package: bytes) -> bytes:
    return publishers.grants_xlsx(json.loads(grants_package)["grants"][:37])
