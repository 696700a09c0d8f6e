"""Fixtures for the geodata tests.

Integration tests read the real London data from ``DIRECTORY_GEODATA_DIR`` (default:
``../shared/data`` beside the repository). A missing directory FAILS the tests that need
it, with a message saying how to fix it; nothing is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def geodata_dir() -> Path:
    """The shared data directory the tests read (not checked)."""
    configured = os.environ.get("DIRECTORY_GEODATA_DIR")
    return Path(configured) if configured else (REPO_ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    path = geodata_dir()
    if not (path / "boundaries").is_dir():
        pytest.fail(
            f"The shared London data directory was not found at {path}. Set "
            "DIRECTORY_GEODATA_DIR to the folder holding boundaries/, postcodes/ and "
            "reference/ (the project's ../shared/data).",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def bundle(shared_data_dir):
    from geodata.loaders import read_bundle

    return read_bundle(shared_data_dir)
