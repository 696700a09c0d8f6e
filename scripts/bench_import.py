"""Benchmark the importer: a generated 10,000-service spreadsheet into a fresh database.

Makes a fresh SQLite database (``directory init``), writes a generated template spreadsheet
(``scripts/make_directory.py``: messy names, amounts and dates, real postcodes), then times
in this process:

1. the first import (every organisation, service, site and grant created);
2. a no-change re-import of the same file (targets, for 10,000 services: first < 30 s,
   re-import < 10 s; other sizes are reported, not judged);
3. a re-import after editing 1% of the rows (to show change events cost little);

and for each, the longest stretch the import ran without reporting progress: where an
upload's time limit (``DIRECTORY_UPLOAD_SECONDS``, a :class:`directory.progress.Deadline`)
looks at the clock, so how far past its limit one may run before it stops (gunicorn's
worker timeout leaves it 15 s: ``Settings.request_seconds``).

With ``--postgres`` the same runs against a throwaway PostgreSQL 15 cluster too (started as
the tests start theirs).
Prints a markdown table; exit status 1 if an import fails.

Usage::

    .venv/bin/python scripts/bench_import.py [--services 10000] [--format csv|xlsx]
        [--postgres] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
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
    machine,
    throwaway_postgres,
)
from make_directory import generate  # noqa: E402

from directory import create_app  # noqa: E402
from directory.ingest.readers import write_table  # noqa: E402
from directory.ingest.run import run_import  # noqa: E402
from directory.ingest.template import HEADINGS  # noqa: E402
from directory.progress import Progress  # noqa: E402
from directory.settings import Settings  # noqa: E402
from directory.store.repositories.geography import GeographyRepository  # noqa: E402

#: the targets, for a file of this many services (other sizes are reported, not judged)
TARGET_SERVICES = 10_000
TARGET_FIRST_S = 30.0
TARGET_NOCHANGE_S = 10.0


class Looks(Progress):
    """Progress that notes the longest stretch between two reports (a Deadline's looks at
    the clock), the start and the end counted as reports, and the step it was in."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.step_label = "reading the file"
        self.longest = (0.0, self.step_label)

    def _look(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, (now - self.last, self.step_label))
        self.last = now

    def step(self, label: str, total: int | None = None) -> None:
        self._look()
        self.step_label = label.split(": ", 1)[-1]

    def advance(self, amount: int = 1) -> None:
        self._look()


def timed_import(app, path: Path) -> tuple[float, str, int, tuple[float, str]]:  # type: ignore[no-untyped-def]
    state = app.extensions["directory"]
    with state.db.engine.connect() as connection:
        snap = state.geography.get(GeographyRepository(connection))
    looks = Looks()
    started = time.perf_counter()
    report = run_import(
        state.db, snap, state.settings, str(path), source="bench", mode="full", progress=looks
    )
    seconds = time.perf_counter() - started
    looks.step("the end")
    if not report.ok:
        first = "; ".join(p.message for p in report.problems[:5])
        raise BenchError(f"import failed: {first}")
    state.geography.invalidate()
    return seconds, report.status, report.events, looks.longest


def run(
    label: str, env: dict[str, str], data_dir: Path, path: Path, edited: Path, services: int
) -> list[list[str]]:
    init_database(env, data_dir)
    settings = Settings.from_env(env)
    app = create_app(settings)
    rows = []
    for step, file in (
        ("first import", path),
        ("no-change re-import", path),
        ("1% of rows edited", edited),
    ):
        seconds, status, events, (unwatched, during) = timed_import(app, file)
        targets = {"first import": TARGET_FIRST_S, "no-change re-import": TARGET_NOCHANGE_S}
        target = targets.get(step) if services == TARGET_SERVICES else None
        verdict = (
            ""
            if target is None
            else ("meets" if seconds < target else "MISSES") + f" < {target:.0f} s"
        )
        rows.append([
            label, step, f"{seconds:.1f}", status, f"{events:,}", verdict,
            f"{unwatched:.2f} ({during})",
        ])  # fmt: skip
    app.extensions["directory"].db.dispose()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    parser.add_argument("--postgres", action="store_true", help="Also run on PostgreSQL 15")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
            work = Path(tmp)
            rows = generate(args.services, 1, args.data_dir)
            path = work / f"directory.{args.format}"
            write_table(path, list(HEADINGS), rows, format=args.format)
            name_column = HEADINGS.index("Service name")
            for row in rows[::100]:
                row[name_column] = f"{row[name_column]} (renamed)"
            edited = work / f"edited.{args.format}"
            write_table(edited, list(HEADINGS), rows, format=args.format)
            table = run(
                "SQLite",
                directory_env(f"sqlite:///{work / 'bench.sqlite3'}", work, args.data_dir),
                args.data_dir,
                path,
                edited,
                args.services,
            )
            if args.postgres:
                with throwaway_postgres("bench_import") as url:
                    env = directory_env(url, work, args.data_dir)
                    table += run("PostgreSQL", env, args.data_dir, path, edited, args.services)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"- machine: {machine()}")
    print(
        f"- file: {args.services:,} services, template {args.format.upper()}, generated by scripts/make_directory.py (seed 1)\n"
    )
    print(
        "| database | run | seconds | status | change events | target "
        "| longest without a progress report, s (in) |"
    )
    print("|---|---|---:|---|---:|---|---|")
    for row in table:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
