"""Time `directory geodata load` into a fresh database (SQLite, and PostgreSQL if asked).

    .venv/bin/python scripts/bench_load.py [--data-dir ../shared/data] [--postgres]

With --postgres a throwaway PostgreSQL 15 cluster is started (as the tests do) and the
same load is timed there. Prints a markdown table: backend, read files, whole load, and a
no-change reload (checksum match).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from directory.settings import Settings  # noqa: E402
from directory.store.db import Database  # noqa: E402
from directory.store.loading import load_geography  # noqa: E402


def measure(url: str, data_dir: Path) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Settings(database_url=url, instance_dir=Path(tmp)))
        db.migrate()
        first = load_geography(db, data_dir)
        started = time.perf_counter()
        again = load_geography(db, data_dir)
        reload_seconds = time.perf_counter() - started
        assert first.loaded and not again.loaded
        db.dispose()
        return first.read_seconds, first.seconds, reload_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    default = os.environ.get("DIRECTORY_GEODATA_DIR") or str(REPO.parent / "shared" / "data")
    parser.add_argument("--data-dir", type=Path, default=Path(default))
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("SQLite", *measure(f"sqlite:///{tmp}/bench.sqlite3", args.data_dir)))
    if args.postgres:
        from tests.postgres import PostgresCluster

        cluster = PostgresCluster().start()
        try:
            rows.append(
                ("PostgreSQL 15", *measure(cluster.create_database("bench"), args.data_dir))
            )
        finally:
            cluster.stop()
    print("| backend | read files (s) | full load incl. read (s) | unchanged reload (s) |")
    print("|---|---|---|---|")
    for name, read, whole, reload in rows:
        print(f"| {name} | {read:.1f} | {whole:.1f} | {reload:.2f} |")


if __name__ == "__main__":
    main()
