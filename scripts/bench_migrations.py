"""Time the data migrations on a generated directory, each step on its own, on SQLite and
(with ``--postgres``) a throwaway PostgreSQL 15 cluster in the same run.

A directory of ``--services`` generated services (``make_directory.py``, seed 1) is made
and imported (``directory init``, ``directory import``), taken down to ``--from`` with
Alembic, then brought up again one revision at a time: each step's seconds, in this
process (the command's start aside). The migrations that rewrite rows (0016, 0018–0021:
the search words) cost what their rows cost; the others are a statement or two.

Usage::

    .venv/bin/python scripts/bench_migrations.py [--services 10000] [--from 0017]
        [--postgres] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _benchlib import (  # noqa: E402
    REPO_ROOT,
    default_data_dir,
    directory_env,
    generated_directory,
    init_database,
    machine,
    markdown_table,
    positive,
    throwaway_postgres,
    venv_tool,
)


def steps(database_url: str, start: str) -> list[tuple[str, float]]:
    """Down to ``start``, then up one revision at a time: (revision, seconds) each."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from directory.settings import Settings
    from directory.store.db import Database

    os.environ["DIRECTORY_DATABASE_URL"] = database_url
    db = Database(Settings.from_env())
    config = db.alembic_config()
    script = ScriptDirectory.from_config(config)
    order = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    wanted = order[order.index(start) + 1 :]
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, start)
    timed = []
    for revision in wanted:
        started = time.perf_counter()
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        timed.append((revision, time.perf_counter() - started))
    db.dispose()
    return timed


def prepared(database_url: str, data_dir: Path, services: int, work: Path) -> None:
    env = directory_env(database_url, work / "instance", data_dir)
    init_database(env, data_dir)
    sheet = generated_directory(services, 1, data_dir, work / "cache")
    done = subprocess.run(
        [venv_tool("directory"), "import", str(sheet), "--mode", "full", "-q"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"directory import failed:\n{done.stdout}{done.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=positive(int), default=10_000)
    parser.add_argument("--from", dest="start", default="0017")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args()
    results: dict[str, list[tuple[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'bench.sqlite3'}"
        prepared(url, args.data_dir, args.services, work)
        results["SQLite"] = steps(url, args.start)
        if args.postgres:
            with throwaway_postgres("bench_migrations") as pg_url:
                prepared(pg_url, args.data_dir, args.services, work)
                results["PostgreSQL"] = steps(pg_url, args.start)
    print(f"## Migrations, one step at a time ({args.services:,} generated services)\n")
    print(f"- machine: {machine()}")
    print(f"- command: `{' '.join(sys.argv)}`\n")
    revisions = [revision for revision, _ in next(iter(results.values()))]
    rows = [
        [revision, *(f"{dict(timed)[revision]:.2f}" for timed in results.values())]
        for revision in revisions
    ]
    print(markdown_table(["to revision", *(f"{name} s" for name in results)], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
