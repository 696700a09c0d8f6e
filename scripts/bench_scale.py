"""Benchmark the directory at scale: import time, memory and answers at 1k to 100k services.

For each size N (``--sizes``, default 1000,10000,50000,100000; ``--quick`` for 1000,10000):

1. a generated template CSV of N services (``scripts/make_directory.py``, seed ``--seed``),
   cached in ``.cache/bench_scale/`` so a rerun does not regenerate it;
2. a fresh database (``directory init --from DATA_DIR`` once per database, copied for each
   N: the SQLite file, or a PostgreSQL ``CREATE DATABASE … TEMPLATE``);
3. the import, in a child process of its own (``run_import``, mode full, as ``directory
   import`` runs it): wall time of the import, time per row, and the child's peak RSS
   during the import (``VmHWM``, reset once the app is made: making it peaks at about 230
   MB, more than a small import does; ``os.wait4``'s rusage, the process's whole life's,
   is in the JSON), with its RSS when the import started;
4. in another fresh child process, the application as a worker sees it (Flask's test
   client, in-process, no HTTP): the first patch of a new app (which builds the directory
   index), the median warm patch over ``--postcodes`` postcodes, the median patch for a
   ward not asked before ("cold ward"), the median London-wide bbox page
   (``/api/v1/services?bbox=…&per_page=100``; and the first one, answered by SQL while a
   thread builds the box arrays of ``directory/usecases/boxes.py``, which the benchmark
   waits for), the median 1 km bbox page, both pages as GeoJSON (``&format=geojson``, as a
   map asks for them), the median
   London-wide page of 100 of the OGC API ``sites`` and ``services`` collections, and the
   worker's RSS after a mixed warm-up (patches, bbox pages, services pages, a text search,
   postcode lookups, the funding summary, an Open Referral page and lookup by id).

Prints a markdown table per database and the ratios measured in the same run: time per row
at each N against 10k, and the warm patch at each N against 1k. With ``--postgres`` the
same runs on a throwaway PostgreSQL 15 cluster (started as the tests start theirs).

Usage::

    .venv/bin/python scripts/bench_scale.py [--sizes 1000,10000,50000,100000] [--quick]
        [--postgres] [--seed 1] [--rounds 5] [--postcodes 20] [--data-dir ../shared/data]
        [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _benchlib import (  # noqa: E402
    REPO_ROOT,
    BenchError,
    default_data_dir,
    directory_env,
    generated_directory,
    init_database,
    machine,
    markdown_table,
)

from directory.web.serving.recycle import status_mb  # noqa: E402

CACHE = REPO_ROOT / ".cache" / "bench_scale"
DEFAULT_SIZES = (1_000, 10_000, 50_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
POSTCODE_CSV = Path("postcodes") / "london_postcodes_codepoint_open_2025_10.csv"
#: the whole of London (WGS84, longitude first), as a map client asks for it
LONDON_BBOX = "-0.52,51.28,0.34,51.70"
#: about 1 km around Waterloo Bridge (a small box must not pay for the big ones)
SMALL_BBOX = "-0.13,51.50,-0.115,51.51"
SEED = 20251125  # the postcodes asked for (bench_api.py's seed)
#: targets of issue 14
TARGET_PER_ROW_RATIO = 1.5  # time per row at 100k / at 10k
TARGET_IMPORT_100K_S = 180.0
TARGET_PATCH_RATIO = 2.0  # warm patch at 100k / at 1k
TARGET_COLD_MS = 20.0
TARGET_RSS_MB = 600.0


# --------------------------------------------------------------------------- files


def _postcode_rows(data_dir: Path) -> list[dict[str, str]]:
    path = data_dir / POSTCODE_CSV
    if not path.is_file():
        raise BenchError(f"postcode file {path} not found (is --data-dir right?)")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [r for r in csv.DictReader(handle) if r.get("postcode") and r.get("ward_code")]


def probe_postcodes(data_dir: Path, warm: int, cold: int) -> tuple[list[str], list[str]]:
    """``warm`` postcodes (fixed seed) and ``cold`` more, each in a ward none of the others
    is in (so its patch finds no cached answer for its areas)."""
    rows = _postcode_rows(data_dir)
    rng = random.Random(SEED)
    rng.shuffle(rows)
    warm_rows = rows[:warm]
    wards = {r["ward_code"] for r in warm_rows}
    cold_rows = []
    for row in rows[warm:]:
        if len(cold_rows) == cold:
            break
        if row["ward_code"] not in wards:
            wards.add(row["ward_code"])
            cold_rows.append(row)
    return [r["postcode"] for r in warm_rows], [r["postcode"] for r in cold_rows]


# --------------------------------------------------------------------------- children


def run_child(mode: str, env: dict[str, str], *args: str) -> tuple[dict[str, Any], float, float]:
    """Run this script in ``mode`` as a child process; returns (its JSON result, wall
    seconds, its peak RSS in MB from ``os.wait4``)."""
    with tempfile.TemporaryFile(mode="w+") as out, tempfile.TemporaryFile(mode="w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, __file__, mode, *args],
            env=env, cwd=REPO_ROOT, stdout=out, stderr=err,
        )  # fmt: skip
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise BenchError(f"{mode} failed ({proc.returncode}):\n{stdout[-2000:]}{stderr[-4000:]}")
    return json.loads(stdout.strip().splitlines()[-1]), wall, usage.ru_maxrss / 1024


def child_import(path: str) -> dict[str, Any]:
    """(child) Import ``path`` into the database of the environment: seconds, status."""
    from directory import create_app
    from directory.ingest.run import run_import
    from directory.settings import Settings
    from directory.store.repositories.geography import GeographyRepository

    state = create_app(Settings.from_env()).extensions["directory"]
    with state.db.engine.connect() as connection:
        snap = state.geography.get(GeographyRepository(connection))
    start_rss = _rss_mb()  # the process as the import finds it (the app, the geography)
    _reset_peak_rss()  # the peak from here on is the import's (making the app peaks higher)
    started = time.perf_counter()
    report = run_import(state.db, snap, state.settings, path, source="bench", mode="full")
    seconds = time.perf_counter() - started
    if not report.ok:
        raise SystemExit("import failed: " + "; ".join(p.message for p in report.problems[:5]))
    return {
        "seconds": seconds, "status": report.status, "events": report.events,
        "start_rss_mb": start_rss, "peak_rss_mb": _peak_rss_mb(),
    }  # fmt: skip


def _reset_peak_rss() -> None:
    """Reset this process's peak RSS (Linux: ``clear_refs`` 5 resets ``VmHWM``)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        pass  # not Linux: the peak is the process's whole life's


def _peak_rss_mb() -> float:
    """This process's peak RSS since it was last reset, in MB."""
    return _status_mb("VmHWM")


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _status_mb(field: str) -> float:
    """A memory figure of this process (``/proc/self/status``), in MB; elsewhere, its
    peak RSS from ``getrusage``."""
    found = status_mb("self", field)
    return found[0] if found else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_probe(warm_text: str, cold_text: str, rounds: int) -> dict[str, Any]:
    """(child) A fresh application as one worker sees it, asked in-process (test client)."""
    from directory import create_app
    from directory.settings import Settings

    warm, cold = warm_text.split(","), cold_text.split(",")
    app = create_app(Settings.from_env())
    client = app.test_client()
    started_rss = _rss_mb()

    def get(url: str) -> float:
        started = time.perf_counter()
        response = client.get(url)
        seconds = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"GET {url}: {response.status_code} {response.data[:300]!r}")
        return seconds

    def patch(pc: str) -> str:
        return "/api/v1/patch?postcode=" + pc.replace(" ", "+")

    get("/health")
    get("/api/v1/postcodes/" + warm[0].replace(" ", "%20"))  # the geography, loaded
    first = get(patch(warm[0]))  # builds the directory index
    for pc in warm:
        get(patch(pc))
    per_postcode = [statistics.median(get(patch(pc)) for _ in range(rounds)) for pc in warm]
    cold_times = [get(patch(pc)) for pc in cold]
    bbox = f"/api/v1/services?bbox={LONDON_BBOX}&per_page=100"
    # the first big box of a data version is answered by SQL while the box arrays are built
    # in the background (waited for: the next requests read them)
    bbox_first = get(bbox)
    app.extensions["directory"].boxes.wait()
    bbox_times = [get(bbox) for _ in range(rounds)]
    small = f"/api/v1/services?bbox={SMALL_BBOX}&per_page=100"
    get(small)
    small_times = [get(small) for _ in range(rounds)]
    # the same pages as a map asks for them
    geojson_times = {}
    for name, url in (("bbox", bbox), ("bbox_small", small)):
        get(url + "&format=geojson")
        geojson_times[name] = statistics.median(get(url + "&format=geojson") for _ in range(rounds))
    ogc = "/api/v1/ogc/collections"
    ogc_times = {}
    for name in ("sites", "services"):
        url = f"{ogc}/{name}/items?bbox={LONDON_BBOX}&limit=100"
        get(url)
        ogc_times[name] = statistics.median(get(url) for _ in range(rounds)) * 1e3
    # the rest of a mixed warm-up: pages, search, lookups, a second page of the bbox
    for url in (
        f"/api/v1/services?bbox={LONDON_BBOX}&per_page=100&page=2",
        "/api/v1/services?per_page=100",
        "/api/v1/services?q=youth+mentoring",
        "/api/v1/services?area=E09000028",
        "/api/v1/grants?per_page=100",
        "/api/v1/organisations?per_page=100",
        "/api/v1/funding/summary?by=borough",
        *("/api/v1/postcodes/" + pc.replace(" ", "%20") for pc in warm + cold),
        "/api/v1/hsds/services?per_page=50",
    ):
        get(url)
    # and the Open Referral lookups by id, which hold every record's id (HsdsIds)
    hsds = client.get("/api/v1/hsds/services?per_page=1").json["contents"][0]["id"]
    get(f"/api/v1/hsds/services/{hsds}")
    return {
        "first_patch_s": first,
        "patch_warm_ms": statistics.median(per_postcode) * 1e3,
        "patch_cold_ms": statistics.median(cold_times) * 1e3,
        "bbox_ms": statistics.median(bbox_times) * 1e3,
        "bbox_first_ms": bbox_first * 1e3,
        "bbox_small_ms": statistics.median(small_times) * 1e3,
        "bbox_geojson_ms": geojson_times["bbox"] * 1e3,
        "bbox_small_geojson_ms": geojson_times["bbox_small"] * 1e3,
        "ogc_sites_ms": ogc_times["sites"],
        "ogc_services_ms": ogc_times["services"],
        "rss_start_mb": started_rss,
        "rss_mb": _rss_mb(),
    }


# --------------------------------------------------------------------------- runs


class Backend:
    """Fresh databases, each a copy of one initialised with ``directory init``."""

    def __init__(self, label: str, work: Path, data_dir: Path, cluster: Any = None) -> None:
        self.label, self.work, self.data_dir, self.cluster = label, work, data_dir, cluster
        self.init_seconds = 0.0
        if cluster is None:
            self.template = work / "template.sqlite3"
            url = f"sqlite:///{self.template}"
        else:
            url = cluster.create_database("scale_template")
        self.init_seconds = init_database(self.env(url), data_dir)

    def env(self, url: str) -> dict[str, str]:
        return directory_env(url, self.work, self.data_dir)

    def fresh(self, n: int) -> str:
        if self.cluster is not None:
            return str(self.cluster.create_database(f"scale_{n}", template="scale_template"))
        path = self.work / f"scale-{n}.sqlite3"
        self.drop(n, f"sqlite:///{path}")  # a WAL left beside it would be replayed into it
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def drop(self, n: int, url: str) -> None:
        if self.cluster is None:
            path = url.removeprefix("sqlite:///")
            for suffix in ("", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)


def measure(
    backend: Backend, n: int, args: argparse.Namespace, warm: list[str], cold: list[str]
) -> dict[str, Any]:
    path = generated_directory(n, args.seed, args.data_dir, CACHE)
    url = backend.fresh(n)
    env = backend.env(url)
    print(f"{backend.label} {n:,}: importing ...", file=sys.stderr, flush=True)
    imported, import_wall, import_rss = run_child("_import", env, str(path))
    print(
        f"{backend.label} {n:,}: imported in {imported['seconds']:.1f} s; probing ...",
        file=sys.stderr,
        flush=True,
    )
    probed, _wall, probe_peak = run_child(
        "_probe", env, ",".join(warm), ",".join(cold), str(args.rounds)
    )
    backend.drop(n, url)
    return {
        "services": n,
        "import_s": imported["seconds"],
        "import_process_s": import_wall,
        "per_row_ms": imported["seconds"] / n * 1e3,
        "import_peak_rss_mb": imported["peak_rss_mb"],
        "import_start_rss_mb": imported["start_rss_mb"],
        "import_process_peak_rss_mb": import_rss,
        "events": imported["events"],
        **probed,
        "probe_peak_rss_mb": probe_peak,
    }


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def report(label: str, results: list[dict[str, Any]]) -> None:
    rows = [
        (
            f"{r['services']:,}",
            _duration(r["import_s"]),
            f"{r['per_row_ms']:.2f}",
            f"{r['import_peak_rss_mb']:.0f} ({r['import_start_rss_mb']:.0f})",
            f"{r['first_patch_s']:.1f} s",
            f"{r['patch_warm_ms']:.1f}",
            f"{r['patch_cold_ms']:.1f}",
            f"{r['bbox_ms']:.0f}",
            f"{r.get('bbox_first_ms', float('nan')):.0f}",
            f"{r.get('bbox_small_ms', float('nan')):.1f}",
            f"{r.get('bbox_geojson_ms', float('nan')):.0f}",
            f"{r.get('bbox_small_geojson_ms', float('nan')):.1f}",
            f"{r.get('ogc_sites_ms', float('nan')):.0f}",
            f"{r.get('ogc_services_ms', float('nan')):.0f}",
            f"{r['rss_mb']:.0f}",
        )
        for r in results
    ]
    print(f"\n### {label}\n")
    print(
        markdown_table(
            [
                "services", "import (wall)", "ms per row", "import peak RSS MB (at its start)",
                "first patch (index build)", "patch warm ms", "patch cold ward ms",
                "London bbox, 100 items ms", "first London bbox ms", "1 km bbox ms",
                "London bbox GeoJSON, 100 items ms", "1 km bbox GeoJSON ms",
                "OGC sites, London, 100 ms", "OGC services, London, 100 ms", "worker RSS MB",
            ],
            rows,
        )
    )  # fmt: skip
    by_n = {r["services"]: r for r in results}
    print()
    if 10_000 in by_n:
        base = by_n[10_000]["per_row_ms"]
        ratios = ", ".join(f"{n:,}: {r['per_row_ms'] / base:.2f}" for n, r in by_n.items())
        print(f"- time per row against 10k: {ratios}")
        if 100_000 in by_n:
            ratio = by_n[100_000]["per_row_ms"] / base
            seconds = by_n[100_000]["import_s"]
            print(
                f"  - 100k: {ratio:.2f}× 10k's time per row (target ≤ {TARGET_PER_ROW_RATIO}); "
                f"{_duration(seconds)} (target < {TARGET_IMPORT_100K_S / 60:.0f} min): "
                + _verdict(ratio <= TARGET_PER_ROW_RATIO and seconds < TARGET_IMPORT_100K_S)
            )
    if len(by_n) >= 2:  # from 10k (a chunk of rows and more) if measured, to the largest
        n0 = 10_000 if 10_000 in by_n and max(by_n) > 10_000 else min(by_n)
        n1, r0, r1 = max(by_n), by_n[n0], by_n[max(by_n)]
        growth = (r1["import_peak_rss_mb"] - r0["import_peak_rss_mb"]) / (n1 - n0) * 1024**2
        print(
            f"- import peak RSS: {r0['import_peak_rss_mb']:.0f} MB at {n0:,} rows, "
            f"{r1['import_peak_rss_mb']:.0f} MB at {n1:,} ({growth:,.0f} bytes a row more)"
        )
    if 1_000 in by_n:
        base = by_n[1_000]["patch_warm_ms"]
        ratios = ", ".join(f"{n:,}: {r['patch_warm_ms'] / base:.2f}" for n, r in by_n.items())
        print(f"- warm patch against 1k: {ratios} (target at 100k ≤ {TARGET_PATCH_RATIO})")
        if 100_000 in by_n:
            ratio = by_n[100_000]["patch_warm_ms"] / base
            print(
                f"  - 100k: {ratio:.2f}× 1k's warm patch: {_verdict(ratio <= TARGET_PATCH_RATIO)}"
            )
    if 100_000 in by_n:
        cold, rss = by_n[100_000]["patch_cold_ms"], by_n[100_000]["rss_mb"]
        print(
            f"- 100k: a new ward's patch {cold:.1f} ms (target < {TARGET_COLD_MS:g}): "
            f"{_verdict(cold < TARGET_COLD_MS)}; a worker after the mixed warm-up {rss:.0f} MB "
            f"RSS (target < {TARGET_RSS_MB:g}): {_verdict(rss < TARGET_RSS_MB)}"
        )
    if len(by_n) >= 2:
        (n0, r0), (n1, r1) = sorted(by_n.items())[0], sorted(by_n.items())[-1]
        growth = (r1["rss_mb"] - r0["rss_mb"]) / (n1 - n0) * 1024
        print(f"- worker RSS growth: {growth:.1f} KB per service ({n0:,} to {n1:,})")


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "").replace("k", "000")) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sizes are numbers separated by commas, not {text!r}"
        ) from None
    if not sizes or any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError("sizes must be positive")
    return tuple(sorted(set(sizes)))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_import"]:
        print(json.dumps(child_import(argv[1])))
        return 0
    if argv[:1] == ["_probe"]:
        print(json.dumps(child_probe(argv[1], argv[2], int(argv[3]))))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=parse_sizes, default=DEFAULT_SIZES)
    parser.add_argument("--quick", action="store_true", help="Only 1,000 and 10,000 services")
    parser.add_argument("--postgres", action="store_true", help="Also run on PostgreSQL 15")
    parser.add_argument("--seed", type=int, default=1, help="make_directory.py's seed")
    parser.add_argument("--rounds", type=int, default=5, help="Timed requests per URL")
    parser.add_argument("--postcodes", type=int, default=20, help="Warm patch postcodes")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--json", action="store_true", help="Also print the results as JSON")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else args.sizes
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        warm, cold = probe_postcodes(args.data_dir, args.postcodes, 10)
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            work = Path(tmp)
            for n in sizes:
                generated_directory(n, args.seed, args.data_dir, CACHE)
            (work / "sqlite").mkdir()
            backend = Backend("SQLite", work / "sqlite", args.data_dir)
            results["SQLite"] = [measure(backend, n, args, warm, cold) for n in sizes]
            if args.postgres:
                from tests.postgres import PostgresCluster

                cluster = PostgresCluster().start()
                try:
                    (work / "pg").mkdir()
                    pg = Backend("PostgreSQL", work / "pg", args.data_dir, cluster)
                    results["PostgreSQL"] = [measure(pg, n, args, warm, cold) for n in sizes]
                finally:
                    cluster.stop()
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    m = machine()
    print("## Scale: generated directories, import and answers\n")
    print(
        f"- machine: nproc {m['nproc']}, Python {m['python']}, {m['platform']}, "
        f"load average {m['loadavg_1m']} at the end"
    )
    print(f"- command: `{shlex.join(['scripts/bench_scale.py', *argv])}`")
    print(
        f"- files: scripts/make_directory.py, seed {args.seed}, template CSV; import mode "
        "full into a fresh database, in a child process (peak RSS during the import, VmHWM reset once the app is made; in brackets its RSS when the import started)"
    )
    print(
        f"- answers: a fresh app in another child process, Flask test client; warm patch: "
        f"median over {len(warm)} postcodes of each one's median of {args.rounds}; cold "
        f"ward: median over {len(cold)} postcodes in wards not asked before; bbox "
        f"{LONDON_BBOX} and {SMALL_BBOX}, median of {args.rounds} (first: the first London "
        f"bbox request; GeoJSON: the same with format=geojson); "
        f"OGC: /collections/{{sites,services}}/items?bbox={LONDON_BBOX}"
        f"&limit=100, median of {args.rounds}; worker RSS after a mixed warm-up"
    )
    for label, rows in results.items():
        report(label, rows)
    if args.json:
        print()
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
