"""Benchmark the statistics refresh that ends every import on PostgreSQL: ``ANALYZE`` of the
tables an import writes (``directory.ingest.apply.IMPORTED_TABLES``, what an import runs)
against a whole-database ``ANALYZE`` (what it ran before), and what an import of crime
counts now adds (its table, run and release), on the demo directory.

Starts a throwaway PostgreSQL 15 cluster on disk (as the tests start theirs; fsync off),
runs ``directory init`` and ``directory demo load`` into it, then times the two statements
alternately, ``--rounds`` times each, and prints the medians (and the least and most).

Usage::

    .venv/bin/python scripts/bench_analyze.py [--rounds 7] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _benchlib import (  # noqa: E402
    BenchError,
    default_data_dir,
    directory_env,
    init_database,
    load_demo,
    positive,
    throwaway_postgres,
)

from directory.ingest.apply import IMPORTED_TABLES  # noqa: E402
from directory.ingest.need import NEED_RUN_TABLES  # noqa: E402
from directory.settings import Settings  # noqa: E402
from directory.store.db import Database  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=positive(int), default=7)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    data_dir = args.data_dir or default_data_dir()
    statements = {
        "the tables an import writes (now)": "ANALYZE "
        + ", ".join(f'"{table}"' for table in IMPORTED_TABLES),
        "the whole database (before)": "ANALYZE",
        # what a crime counts import now adds (ingest/need.py; it analysed nothing before)
        "the tables a crime counts import writes": "ANALYZE "
        + ", ".join(f'"{table}"' for table in ("crime_count", *NEED_RUN_TABLES)),
    }
    try:
        with throwaway_postgres("analyze") as url, tempfile.TemporaryDirectory() as tmp:
            env = directory_env(url, Path(tmp), data_dir)
            init_database(env, data_dir)
            load_demo(env, data_dir)
            db = Database(Settings.from_env(env))
            try:
                seconds: dict[str, list[float]] = {name: [] for name in statements}
                for _ in range(args.rounds):
                    for name, statement in statements.items():
                        started = time.perf_counter()
                        with db.engine.begin() as connection:
                            connection.exec_driver_sql(statement)
                        seconds[name].append(time.perf_counter() - started)
            finally:
                db.dispose()
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"PostgreSQL 15, demo directory, {args.rounds} rounds, alternating:")
    for name, times in seconds.items():
        print(
            f"- ANALYZE of {name}: median {1000 * statistics.median(times):.0f} ms "
            f"(least {1000 * min(times):.0f}, most {1000 * max(times):.0f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
