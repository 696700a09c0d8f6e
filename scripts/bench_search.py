"""Benchmark service search (GET /api/v1/services) over a generated 10,000-service directory.

Makes a fresh SQLite database (``directory init``), imports a generated template spreadsheet
(``scripts/make_directory.py``, seed 1) with ``run_import`` (on PostgreSQL followed by
``VACUUM ANALYZE``, as autovacuum would do), then times, in this process with
the Flask test client (the whole request: routing, parsing, SQL, serialising, ETag), a set
of requests per kind:

* ``q=``: words and pairs of words that occur in the generated names, organisations,
  descriptions and themes (from rare to very common); and each word a letter or two short
  of whole, as a search box asks while it is typed;
* ``bbox=``: random boxes in London, 0.01 to 0.1 degree across;
* ``area=``: boroughs (by code and by name), BCUs, wards and London;
* ``near=``: real site coordinates with radii of 500 m to 5 km;
* the same ``q=`` and ``bbox=`` as GeoJSON and CSV.

Prints p50/p95 per kind and the verdict against the target (p95 < 50 ms for ``q=`` and
``bbox=``). With ``--postgres`` the same against a throwaway PostgreSQL 15 cluster (started
as the tests start theirs). With ``--wrk`` each kind is also run under gunicorn (2 sync
workers) with wrk on 127.0.0.1 (wrk reports p50/p90/p99, not p95).

Usage::

    .venv/bin/python scripts/bench_search.py [--services 10000] [--rounds 3] [--postgres]
        [--wrk] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _benchlib import (  # noqa: E402
    BenchError,
    default_data_dir,
    directory_env,
    init_database,
    machine,
    run_wrk,
    serve,
    throwaway_postgres,
)
from make_directory import generate  # noqa: E402

from directory import create_app  # noqa: E402
from directory.ingest.readers import write_table  # noqa: E402
from directory.ingest.run import run_import  # noqa: E402
from directory.ingest.template import HEADINGS  # noqa: E402
from directory.settings import Settings  # noqa: E402
from directory.store.repositories.geography import GeographyRepository  # noqa: E402

TARGET_P95_MS = 50.0
TARGETED = {"q", "bbox"}
WORDS = [
    "safer", "youth", "bridge", "haven", "pathways", "beacon", "mentoring", "outreach",
    "advocacy", "diversion", "helpline", "exit", "trust", "foundation", "project",
    "knife", "gangs", "domestic", "abuse", "hate", "victims", "reoffending", "alcohol",
    "exploitation", "generated", "service", "crime", "violence", "women", "mental",
]  # fmt: skip
PAIRS = [
    "youth mentoring", "safer outreach", "knife crime", "domestic abuse", "hate crime",
    "beacon trust", "haven helpline", "violence women", "exit gangs", "spark advocacy",
]  # fmt: skip
AREAS = [
    "E09000021", "E09000033", "E09000012", "E09000001", "E09000030", "kingston", "Hackney",
    "Westminster", "Tower Hamlets", "bcu-central-west", "bcu-south-west", "bcu-north-east",
    "E05013938", "E05009372", "E12000007",
]  # fmt: skip


def queries(sites: list[tuple[float, float]], seed: int = 3) -> dict[str, list[str]]:
    rng = random.Random(seed)
    base = "/api/v1/services?"
    boxes = []
    for _ in range(40):
        span = rng.uniform(0.01, 0.1)
        lon, lat = rng.uniform(-0.45, 0.2), rng.uniform(51.35, 51.65)
        boxes.append(f"{lon:.4f},{lat:.4f},{lon + span:.4f},{lat + span * 0.6:.4f}")
    near = [
        f"{lat:.6f},{lon:.6f}&radius={rng.choice([500, 1000, 2000, 5000])}"
        for lat, lon in rng.sample(sites, 30)
    ]
    q = [quote(w) for w in WORDS + PAIRS]
    return {
        "q": [f"{base}q={w}" for w in q],
        "bbox": [f"{base}bbox={b}" for b in boxes],
        "area": [f"{base}area={quote(a)}" for a in AREAS],
        "near": [f"{base}near={n}" for n in near],
        # a word as a search box asks while it is typed: a letter or two short of whole,
        # often past its English stem ("mentori", "pathwa": migration 0024)
        "q as typed": [f"{base}q={quote(w[:-n])}" for w in WORDS for n in (1, 2)],
        "q+area+theme": [
            f"{base}q={w}&area={quote(rng.choice(AREAS))}&theme=violence-knife-crime" for w in q
        ],
        "q geojson": [f"{base}q={w}&format=geojson" for w in q],
        "bbox geojson": [f"{base}bbox={b}&format=geojson" for b in boxes],
        "q csv": [f"{base}q={w}&format=csv" for w in q],
        "list (no filter)": [f"{base}page={p}" for p in range(1, 21)],
    }


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def measure(app: Any, paths: list[str], rounds: int) -> dict[str, Any]:
    client = app.test_client()
    for path in paths:  # warm: snapshot, statement caches, the database's pages
        response = client.get(path)
        if response.status_code != 200:
            raise BenchError(f"{path}: {response.status_code} {response.get_data()[:300]!r}")
    timings, matched = [], []
    for _ in range(rounds):
        for path in paths:
            started = time.perf_counter()
            response = client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            if "geojson" not in path and "csv" not in path:
                matched.append(response.json["total_items"])
    return {
        "n": len(timings),
        "p50": percentile(timings, 50),
        "p95": percentile(timings, 95),
        "max": max(timings),
        "matched": statistics.median(matched) if matched else None,
    }


def import_directory(app: Any, path: Path) -> float:
    state = app.extensions["directory"]
    with state.db.engine.connect() as connection:
        snap = state.geography.get(GeographyRepository(connection))
    started = time.perf_counter()
    report = run_import(state.db, snap, state.settings, str(path), source="bench", mode="full")
    if not report.ok:
        raise BenchError("import failed: " + "; ".join(p.message for p in report.problems[:5]))
    seconds = time.perf_counter() - started
    state.geography.invalidate()
    if state.db.engine.dialect.name == "postgresql":
        # what autovacuum does shortly after a large import: without table statistics the
        # planner scans every row for a text query, and until the GIN indexes' pending
        # entries are merged each query reads them all (a vacuum run by autovacuum while
        # the first requests were timed had them 30-60% slower than the later ones)
        with state.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
    return seconds


def site_points(app: Any) -> list[tuple[float, float]]:
    from sqlalchemy import select

    from directory.store.models import Location

    with app.extensions["directory"].db.engine.connect() as connection:
        return [
            (r.lat, r.lon)
            for r in connection.execute(
                select(Location.lat, Location.lon).where(Location.lat.is_not(None))
            )
        ]


def run(
    label: str, env: dict[str, str], data_dir: Path, path: Path, rounds: int, wrk: bool
) -> list[list[str]]:
    init_database(env, data_dir)
    app = create_app(Settings.from_env(env))
    seconds = import_directory(app, path)
    print(f"- {label}: imported in {seconds:.1f} s", file=sys.stderr)
    sets = queries(site_points(app))
    rows = []
    for kind, paths in sets.items():
        m = measure(app, paths, rounds)
        verdict = ""
        if kind in TARGETED:
            verdict = ("meets" if m["p95"] < TARGET_P95_MS else "MISSES") + " p95 < 50 ms"
        matched = "" if m["matched"] is None else f"{m['matched']:,.0f}"
        rows.append(
            [label, kind, str(len(paths)), str(m["n"]), matched,
             f"{m['p50']:.1f}", f"{m['p95']:.1f}", f"{m['max']:.1f}", verdict]
        )  # fmt: skip
    app.extensions["directory"].db.dispose()
    if wrk:
        with serve(env) as base_url:
            for kind in ("q", "bbox", "area", "near"):
                result = run_wrk(base_url, sets[kind], duration=10, connections=2, threads=2)
                rows.append(
                    [f"{label} gunicorn+wrk", kind, str(len(sets[kind])),
                     f"{result['requests']:,}", f"{result['rps']:.0f} req/s",
                     f"{result['p50_ms']:.1f}", f"p90 {result['p90_ms']:.1f}",
                     f"p99 {result['p99_ms']:.1f}", ""]
                )  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="Times each request is timed")
    parser.add_argument("--postgres", action="store_true", help="Also run on PostgreSQL 15")
    parser.add_argument("--wrk", action="store_true", help="Also run under gunicorn with wrk")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
            work = Path(tmp)
            path = work / "directory.csv"
            write_table(
                path, list(HEADINGS), generate(args.services, 1, args.data_dir), format="csv"
            )
            env = directory_env(f"sqlite:///{work / 'bench.sqlite3'}", work, args.data_dir)
            table = run("SQLite", env, args.data_dir, path, args.rounds, args.wrk)
            if args.postgres:
                with throwaway_postgres("bench_search") as url:
                    env = directory_env(url, work, args.data_dir)
                    table += run("PostgreSQL", env, args.data_dir, path, args.rounds, args.wrk)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"- machine: {machine()}")
    print(
        f"- directory: {args.services:,} services generated by scripts/make_directory.py "
        "(seed 1); in-process timings with the Flask test client, per_page 50\n"
    )
    columns = ["database", "requests", "distinct", "timed", "median matched", "p50 ms", "p95 ms"]
    print("| " + " | ".join([*columns, "max ms", "target"]) + " |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for row in table:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
