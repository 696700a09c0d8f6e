"""Fixtures for the geodata tests.

Integration tests read the real London data from ``DIRECTORY_GEODATA_DIR`` (default:
``../shared/data`` beside the repository). A missing directory FAILS the tests that need
it, with a message saying how to fix it; nothing is skipped.
"""

from __future__ import annotations

import pytest

# ``shared_data_dir`` comes from tests/conftest.py (fails, never skips, without the data).


@pytest.fixture(scope="session")
def bundle(shared_data_dir):
    from geodata.loaders import read_bundle

    return read_bundle(shared_data_dir)
