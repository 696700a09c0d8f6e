"""The suite's own scheduling: the files started first (tests/conftest.py) are there."""

from tests.conftest import LONGEST_FIRST, REPO_ROOT


def test_every_file_started_first_exists() -> None:
    missing = [path for path in LONGEST_FIRST if not (REPO_ROOT / path).is_file()]
    assert not missing, f"renamed or removed: update LONGEST_FIRST in tests/conftest.py: {missing}"
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
