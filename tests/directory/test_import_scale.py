"""An import's cost grows with its rows, not with their square (issue 14).

A generated directory (scripts/make_directory.py) of 2,000 and of 8,000 services, each into
a fresh SQLite database holding the real geography: the CPU time per row of the larger
import stays within twice the smaller's, and the statements it sends grow by batches of
rows, not by rows. Before the fix a 50,000-service import took 25 minutes (a scan of every
new site for every new service) and most of an import's time was the ORM bulk insert
splitting rows into statements of a few rows each; either would fail here.

CPU time of this process (SQLite runs in it) rather than wall time, so another job on the
machine does not make the larger import look slower.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import event

from directory import create_app
from directory.ingest.readers import write_table
from directory.ingest.run import run_import
from directory.ingest.template import HEADINGS
from directory.store.repositories.geography import GeographyRepository
from tests.conftest import _settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from make_directory import generate  # noqa: E402

SMALL, LARGE = 2_000, 8_000


def _import(tmp: Path, template: Path, data_dir: Path, n: int) -> tuple[float, int]:
    """(CPU seconds of the import of ``n`` generated services, SQL statements it sent)."""
    tmp.mkdir()
    shutil.copy(template, tmp / "directory.sqlite3")
    path = tmp / "generated.csv"
    write_table(path, list(HEADINGS), generate(n, 5, data_dir), format="csv")
    app = create_app(_settings(tmp, None, data_dir))
    state = app.extensions["directory"]
    with state.db.engine.connect() as connection:
        snap = state.geography.get(GeographyRepository(connection))
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(state.db.engine, "before_execute", count)
    try:
        started = time.process_time()
        report = run_import(state.db, snap, state.settings, str(path), source="gen")
        seconds = time.process_time() - started
    finally:
        event.remove(state.db.engine, "before_execute", count)
        state.db.dispose()
    assert report.status == "succeeded", [p.message for p in report.problems[:5]]
    assert report.counts["services"]["created"] == n
    return seconds, statements


@pytest.fixture(scope="module")
def imports(
    tmp_path_factory: pytest.TempPathFactory, sqlite_geography: Path, shared_data_dir: Path
) -> dict[int, tuple[float, int]]:
    tmp = tmp_path_factory.mktemp("scale")
    return {n: _import(tmp / str(n), sqlite_geography, shared_data_dir, n) for n in (SMALL, LARGE)}


def test_time_per_row_does_not_grow_with_the_size_of_the_import(imports):
    (small, _), (large, _) = imports[SMALL], imports[LARGE]
    ratio = (large / LARGE) / (small / SMALL)
    assert ratio < 2.0, f"{small:.1f} s for {SMALL:,}, {large:.1f} s for {LARGE:,}: ×{ratio:.2f}"


def test_statements_grow_by_batches_of_rows_not_by_rows(imports):
    (_, small), (_, large) = imports[SMALL], imports[LARGE]
    more_rows = LARGE - SMALL
    assert large - small < more_rows / 25, (small, large)
