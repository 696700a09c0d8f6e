"""Benchmark the directory side by side with its peers: pygeoapi and PostGIS, in one run.

What it measures (issue 14), each peer against this project in the same run, in
interleaved rounds (each round starting one contender further on), with the ratio taken
within each round because the machine's speed drifts from minute to minute:

1. **OGC API – Features, HTTP.** A generated directory of ``--services`` services
   (``scripts/make_directory.py``, seed ``--seed``, cached in ``.cache/bench_peers/``) is
   imported (``directory import --mode full``) into a fresh SQLite database. Its own
   ``sites`` collection (``/api/v1/ogc/collections/sites/items``, read through every page)
   is written to a GeoJSON file and a GeoPackage, and pygeoapi serves both (its GeoJSON and
   SQLiteGPKG providers) from a venv of its own. Both servers run under gunicorn with
   ``--workers`` sync workers; ``wrk --latency`` drives (a) ``--boxes`` random 1 km bboxes
   around random London postcodes (fixed seed; round-robin from a Lua list, each wrk thread
   from its own offset) and (b) the whole-London bbox, both with ``limit=100``. Before
   measuring, both sides are asked the same boxes with ``limit=10000`` and must return the
   same feature ids (and the same first page of 100): the comparison is only fair if the
   answers are equal. Per round: requests/s, p50, p99 and ours/peer (requests/s). Ours
   runs twice: as configured by default, keeping the OGC site features it has made
   (``DIRECTORY_FEATURES_CACHE_MB``, 16), and with nothing kept (``0``: every page's sites
   read and made afresh, as pygeoapi does), on the same database; with ``--postgres`` a
   third time, as configured, from a throwaway PostgreSQL 15 cluster into which the same
   file is imported (its answers checked against pygeoapi's as SQLite's are).
2. **Point in ward.** The ward polygons of the project's geography snapshot (EPSG:27700,
   the ones ``/api/v1/points`` resolves against) are loaded into PostGIS (PostgreSQL 15,
   a throwaway cluster as the tests start theirs) with a GiST index. ``--points`` real
   postcode grid references (fixed seed) are resolved: by PostGIS, one ``ST_Covers``
   query per point through a prepared statement (psycopg, TCP on 127.0.0.1) and one
   set-based query for all of them; by this project in-process, ``AreaIndex.covering``
   (the same question: which wards cover the point), ``resolve_point`` (what
   ``/api/v1/points`` calls: borough, ward, river rule and edge flags) and the vectorised
   ``covering_many``; and by a geopandas ``sjoin`` (``covered_by``). Per round: µs a point
   and each peer's time as a multiple of ours. Every point's wards are compared between
   PostGIS and ``covering`` (disagreements can only be boundary cases; they are listed).

What it needs: ``wrk`` (``apt-get install wrk``); the project venv (gunicorn, geopandas,
pyogrio, psycopg); for pygeoapi a Python whose ``sqlite3`` can load extensions (Debian's
``/usr/bin/python3``, with ``python3-venv``) and ``libsqlite3-mod-spatialite``: the venv
``.cache/bench_peers/pygeoapi-<version>`` is made with it and ``pip install pygeoapi
gunicorn`` on first use; for PostGIS ``postgresql-15-postgis-3``. Not run in CI.

Usage::

    .venv/bin/python scripts/bench_peers.py [--services 10000] [--rounds 3] [--duration 6]
        [--skip-pygeoapi] [--skip-postgis] [--postgres] [--points 20000] [--boxes 200]
        [--connections 16] [--threads 2] [--workers 2] [--seed 1] [--data-dir ../shared/data]
        [--python /usr/bin/python3] [--json]

Exit status: 0 when the benchmark ran, 1 on any error, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import math
import os
import random
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
    http_get,
    init_database,
    machine,
    markdown_table,
    positive,
    run_wrk,
    serve,
    throwaway_postgres,
    venv_tool,
)

CACHE = REPO_ROOT / ".cache" / "bench_peers"
PYGEOAPI_VERSION = "0.21.0"
POSTCODE_CSV = Path("postcodes") / "london_postcodes_codepoint_open_2025_10.csv"
#: the whole of London (CRS84, longitude first), as a map client zoomed out asks for it
LONDON_BBOX = "-0.52,51.28,0.34,51.70"
SEED = 20251125  # the boxes' centres and the points (bench_api.py's seed)
BOX_M = 1000.0
PAGE = 100
OURS_ITEMS = "/api/v1/ogc/collections/sites/items"
PEER_ITEMS = "/collections/{collection}/items"
PEERS = {"gpkg": "pygeoapi GeoPackage", "geojson": "pygeoapi GeoJSON"}
#: ours again, keeping no finished features (every page's sites read and made afresh)
NOTHING_KEPT = "ours_nothing_kept"
#: ours again, from PostgreSQL (``--postgres``): the same directory imported there
OURS_POSTGRES = "ours_postgres"
WARMUP_SECONDS = 2.0
#: wrk's request timeout, for every contender: pygeoapi's GeoJSON provider reads and parses
#: the whole file for each request (a worker's second or so at 10,000 services), so with 16
#: connections on 2 workers a request waits several seconds in the queue: run_wrk's default
#: of 5 s timed most of them out
WRK_TIMEOUT = "30s"
FIRST_REQUEST_TIMEOUT_S = 180.0
DRAIN_TIMEOUT_S = 300.0
CHECKED_BOXES = 8


# --------------------------------------------------------------------------- the data


def import_directory(env: dict[str, str], path: Path) -> float:
    """``directory import --mode full`` of the template CSV; returns the seconds it took."""
    started = time.perf_counter()
    done = subprocess.run(
        [venv_tool("directory"), "import", "--format", "template", "--mode", "full",
         "--source", "bench-peers", "--quiet", str(path)],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(
            f"`directory import` failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return time.perf_counter() - started


def our_sites(app: Any) -> list[dict[str, Any]]:
    """Every feature of our ``sites`` collection, read page by page (in-process)."""
    client = app.test_client()
    features: list[dict[str, Any]] = []
    while True:
        response = client.get(f"{OURS_ITEMS}?limit=10000&offset={len(features)}")
        if response.status_code != 200:
            raise BenchError(f"GET {OURS_ITEMS}: {response.status_code} {response.data[:300]!r}")
        page = response.get_json()
        features += page["features"]
        if not page["features"] or len(features) >= page["numberMatched"]:
            return features


def write_peer_files(features: list[dict[str, Any]], work: Path) -> tuple[Path, Path]:
    """The features as a GeoJSON file (as we serve them) and a GeoPackage (layer ``sites``;
    the feature id as its ``fid``; ``themes``, a list, as a JSON string: GeoPackage columns
    hold no lists), both in feature id order."""
    import geopandas as gpd
    import shapely

    features = sorted(features, key=lambda f: f["id"])
    geojson = work / "sites.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    rows = [
        {"fid": f["id"]}
        | {k: json.dumps(v) if isinstance(v, list) else v for k, v in f["properties"].items()}
        for f in features
    ]
    points = shapely.points([f["geometry"]["coordinates"] for f in features])
    frame = gpd.GeoDataFrame(rows, geometry=points, crs="EPSG:4326")
    gpkg = work / "sites.gpkg"
    frame.to_file(gpkg, layer="sites", driver="GPKG", engine="pyogrio")
    return geojson, gpkg


def random_boxes(data_dir: Path, k: int, seed: int = SEED) -> list[str]:
    """``k`` CRS84 boxes of about 1 km by 1 km, each centred on a random London postcode."""
    rows = _postcode_rows(data_dir)
    rng = random.Random(seed)
    boxes = []
    for row in rng.sample(rows, k):
        lon, lat = float(row["longitude"]), float(row["latitude"])
        dlat = BOX_M / 2 / 111_320
        dlon = BOX_M / 2 / (111_320 * math.cos(math.radians(lat)))
        boxes.append(f"{lon - dlon:.5f},{lat - dlat:.5f},{lon + dlon:.5f},{lat + dlat:.5f}")
    return boxes


def random_points(data_dir: Path, k: int, seed: int = SEED) -> tuple[list[float], list[float]]:
    """The grid references (EPSG:27700) of ``k`` random London postcodes."""
    rows = random.Random(seed + 1).sample(_postcode_rows(data_dir), k)
    return [float(r["eastings"]) for r in rows], [float(r["northings"]) for r in rows]


def _postcode_rows(data_dir: Path) -> list[dict[str, str]]:
    path = data_dir / POSTCODE_CSV
    if not path.is_file():
        raise BenchError(f"postcode file {path} not found (is --data-dir right?)")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [r for r in csv.DictReader(handle) if r.get("eastings") and r.get("latitude")]


# --------------------------------------------------------------------------- pygeoapi


def pygeoapi_venv(python: Path) -> Path:
    """``.cache/bench_peers/pygeoapi-VERSION``: a venv of ``python`` with pygeoapi and
    gunicorn (made on first use). Raises unless its sqlite3 loads mod_spatialite."""
    venv = CACHE / f"pygeoapi-{PYGEOAPI_VERSION}"
    bin_dir = venv / "bin"
    if not (bin_dir / "pygeoapi").exists() or not (bin_dir / "gunicorn").exists():
        if not python.exists():
            raise BenchError(
                f"{python} not found: pygeoapi's GeoPackage provider needs a Python whose "
                "sqlite3 loads extensions (apt-get install python3 python3-venv)"
            )
        print(f"making {venv} (pygeoapi {PYGEOAPI_VERSION}) ...", file=sys.stderr, flush=True)
        for command in (
            [str(python), "-m", "venv", "--clear", str(venv)],
            [
                str(bin_dir / "pip"),
                "install",
                "--quiet",
                f"pygeoapi=={PYGEOAPI_VERSION}",
                "gunicorn",
            ],
        ):
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise BenchError(f"{shlex.join(command)} failed:\n{done.stdout}{done.stderr}")
    probe = (
        "import sqlite3; c = sqlite3.connect(':memory:'); c.enable_load_extension(True); "
        "c.execute(\"SELECT load_extension('mod_spatialite.so')\"); "
        "print(c.execute('SELECT spatialite_version()').fetchone()[0])"
    )
    done = subprocess.run(
        [str(bin_dir / "python"), "-c", probe], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(
            f"{venv}'s sqlite3 cannot load mod_spatialite (apt-get install "
            f"libsqlite3-mod-spatialite; a Python with enable_load_extension):\n{done.stderr}"
        )
    return venv


#: gunicorn's configuration for pygeoapi: each worker serves its own copy of the GeoPackage.
#: pygeoapi's SQLiteGPKG provider is built afresh for every request and runs SpatiaLite's
#: AutoGPKGStart(), which drops and re-creates the ``vgpkg_<table>`` virtual table *in the
#: file*: two workers sharing one file race (a 3 s trial: 18 of 296 requests answered 500,
#: "no such table: vgpkg_sites" or InvalidPluginError). One copy per worker is how it can be
#: served by more than one process; each request still pays for the provider's set-up.
GUNICORN_CONF = """
import os
import shutil


def post_fork(server, worker):
    shared = os.environ["BENCH_PEERS_GPKG"]
    own = f"{shared}.worker{os.getpid()}.gpkg"
    shutil.copyfile(shared, own)
    os.environ["BENCH_PEERS_GPKG"] = own
"""


def pygeoapi_env(venv: Path, work: Path, geojson: Path, gpkg: Path) -> tuple[dict[str, str], Path]:
    """A pygeoapi configuration serving the two files, its OpenAPI document, the environment
    gunicorn needs to serve ``pygeoapi.flask_app:APP``, and gunicorn's configuration file."""
    extent = {"spatial": {"bbox": [-0.52, 51.28, 0.34, 51.70],
                          "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}}  # fmt: skip

    def collection(title: str, provider: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "collection", "title": title, "description": title,
            "keywords": ["sites"], "extents": extent,
            "providers": [{"type": "feature", **provider}],
        }  # fmt: skip

    ogl = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
    config = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": 5000},
            "url": "http://127.0.0.1:5000",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "limits": {"default_items": 10, "max_items": 10000},
            "pretty_print": False,
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "bench_peers",
                "description": "The directory's sites, for a benchmark",
                "keywords": ["benchmark"],
                "url": "http://127.0.0.1",
                "terms_of_service": ogl,
            },
            "license": {"name": "OGL-UK-3.0", "url": ogl},
            "provider": {"name": "bench_peers"},
            "contact": {"name": "bench_peers"},
        },  # fmt: skip
        "resources": {
            "sites_gpkg": collection(
                "Sites (GeoPackage)",
                {"name": "SQLiteGPKG", "data": "@GPKG@", "id_field": "fid", "table": "sites"},
            ),
            "sites_geojson": collection(
                "Sites (GeoJSON)", {"name": "GeoJSON", "data": str(geojson), "id_field": "id"}
            ),
        },
    }
    config_file, openapi = work / "pygeoapi-config.yml", work / "pygeoapi-openapi.yml"
    # JSON is YAML; pygeoapi's loader reads ${VAR} from the environment in a !env scalar
    text = json.dumps(config, indent=1).replace('"@GPKG@"', '!env "${BENCH_PEERS_GPKG}"')
    config_file.write_text(text)
    conf = work / "gunicorn_pygeoapi.py"
    conf.write_text(GUNICORN_CONF)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYGEOAPI_", "DIRECTORY_"))}
    env.update(
        PYGEOAPI_CONFIG=str(config_file), PYGEOAPI_OPENAPI=str(openapi), BENCH_PEERS_GPKG=str(gpkg)
    )
    command = [str(venv / "bin" / "pygeoapi"), "openapi", "generate", str(config_file),
               "--output-file", str(openapi)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"{shlex.join(command)} failed:\n{done.stdout}{done.stderr}")
    return env, conf


def version_of(executable: Path | str, *args: str) -> str:
    done = subprocess.run([str(executable), *args], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else "?"


# --------------------------------------------------------------------------- HTTP


def ours_path(bbox: str, limit: int = PAGE) -> str:
    return f"{OURS_ITEMS}?bbox={bbox}&limit={limit}"


def peer_path(collection: str, bbox: str, limit: int = PAGE, extra: str = "") -> str:
    return f"{PEER_ITEMS.format(collection=collection)}?bbox={bbox}&limit={limit}&f=json{extra}"


def _get_json(url: str) -> tuple[dict[str, Any], int]:
    status, body = http_get(url, timeout=FIRST_REQUEST_TIMEOUT_S)
    if status != 200:
        raise BenchError(f"GET {url}: {status} {body[:300]!r}")
    return json.loads(body), len(body)


def check_answers(ours: str, peer: str, boxes: Sequence[str]) -> dict[str, Any]:
    """Ask both servers the same boxes: all matches (``limit=10000``) and the first page of
    100. Returns what agreed, per peer collection, and the mean body size of a page."""
    checks: dict[str, Any] = {}
    ours_pages = {}
    for bbox in boxes:
        full, _ = _get_json(ours + ours_path(bbox, 10_000))
        page, size = _get_json(ours + ours_path(bbox))
        ours_pages[bbox] = (full, page, size)
    checks["ours"] = {
        "matched": [ours_pages[b][0]["numberMatched"] for b in boxes],
        "page_bytes": statistics.mean(ours_pages[b][2] for b in boxes),
    }
    for collection in PEERS:
        name = f"sites_{collection}"
        same_ids = same_page = same_order = same_count = True
        problems: list[str] = []
        sizes = []
        for bbox in boxes:
            o_full, o_page, _ = ours_pages[bbox]
            full, _ = _get_json(peer + peer_path(name, bbox, 10_000))
            page, size = _get_json(peer + peer_path(name, bbox))
            sizes.append(size)
            matched = page.get("numberMatched")
            if matched is None:  # the SQLiteGPKG provider counts only when asked to
                hits, _ = _get_json(peer + peer_path(name, bbox, 10, "&resulttype=hits"))
                matched = hits.get("numberMatched")
            o_ids = [f["id"] for f in o_full["features"]]
            p_ids = [f["id"] for f in full["features"]]
            if matched != o_full["numberMatched"]:
                same_count = False
                problems.append(f"{bbox}: numberMatched {o_full['numberMatched']} vs {matched}")
            if set(o_ids) != set(p_ids):
                same_ids = False
                problems.append(
                    f"{bbox}: {len(set(o_ids) - set(p_ids))} ids only ours, "
                    f"{len(set(p_ids) - set(o_ids))} only the peer's"
                )
            same_order &= o_ids == p_ids
            same_page &= [f["id"] for f in o_page["features"]] == [
                f["id"] for f in page["features"]
            ]
        checks[collection] = {
            "same_ids": same_ids, "same_number_matched": same_count,
            "same_order": same_order, "same_first_page": same_page,
            "number_matched_in_page": "numberMatched" in page,
            "page_bytes": statistics.mean(sizes), "problems": problems,
        }  # fmt: skip
    return checks


@dataclass(frozen=True)
class Contender:
    """A server and what it is asked: ``paths`` under load, ``idle_path`` (a cheap page) to
    know when it has caught up."""

    base_url: str
    paths: list[str]
    idle_path: str


def warm(c: Contender, args: argparse.Namespace) -> None:
    for path in c.paths[: args.workers * 2]:
        status, body = http_get(c.base_url + path, timeout=FIRST_REQUEST_TIMEOUT_S)
        if status != 200:
            raise BenchError(f"GET {path} answered {status}: {body[:300]!r}")
    run_wrk(
        c.base_url, c.paths, WARMUP_SECONDS, args.connections, args.threads, timeout=WRK_TIMEOUT
    )
    drain(c, args.workers)


def drain(c: Contender, workers: int) -> float:
    """Wait until the server has worked off the requests wrk left queued when it stopped.

    gunicorn's sync workers go on serving the connections already accepted into the
    listen backlog after wrk has gone (a second each for pygeoapi's GeoJSON provider at
    10,000 services): left alone they would take the CPU from the next run, or hold up the
    next run on the same server (pygeoapi serves both its collections). Twice as many cheap
    requests as workers, sent at once, queue behind them; when all of them are answered the
    backlog is gone. Returns the seconds it took."""
    started = time.perf_counter()
    url = c.base_url + c.idle_path
    with ThreadPoolExecutor(workers * 2) as pool:
        answers = list(
            pool.map(lambda _: http_get(url, timeout=DRAIN_TIMEOUT_S), range(workers * 2))
        )
    for status, body in answers:
        if status != 200:
            raise BenchError(f"GET {url} answered {status}: {body[:300]!r}")
    return time.perf_counter() - started


def measure_http(
    ours: dict[str, str], peer: str, boxes: Sequence[str], args: argparse.Namespace
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per scenario, each contender's wrk results, one per round (interleaved, each round
    starting one contender further on; after each run the server's backlog is drained).
    ``ours``: our servers' base URLs by contender name ("ours", NOTHING_KEPT, and
    OURS_POSTGRES with ``--postgres``)."""
    scenarios = {"1 km bbox": boxes, "London bbox": [LONDON_BBOX]}
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for scenario, bboxes in scenarios.items():
        contenders = {
            name: Contender(url, [ours_path(b) for b in bboxes], "/health")
            for name, url in ours.items()
        }
        for collection in PEERS:
            contenders[collection] = Contender(
                peer, [peer_path(f"sites_{collection}", b) for b in bboxes], "/conformance?f=json"
            )
        for name, contender in contenders.items():
            print(f"warm-up {scenario}: {name} ...", file=sys.stderr, flush=True)
            warm(contender, args)
        names = list(contenders)
        results[scenario] = {name: [] for name in names}
        for number in range(args.rounds):
            for name in names[number % len(names) :] + names[: number % len(names)]:
                c = contenders[name]
                print(
                    f"round {number + 1}/{args.rounds}: {scenario}, {name} "
                    f"({args.duration:g} s) ...",
                    file=sys.stderr,
                    flush=True,
                )
                result = run_wrk(
                    c.base_url, c.paths, args.duration, args.connections, args.threads,
                    count_status=False, timeout=WRK_TIMEOUT,
                )  # fmt: skip
                result = {k: v for k, v in result.items() if k != "output"}
                result["drain_s"] = drain(c, args.workers)
                results[scenario][name].append(result)
    return results


# --------------------------------------------------------------------------- point in ward


def load_wards(conninfo: str, snap: Any) -> int:
    """The snapshot's ward polygons into PostGIS: table ``wards`` (code, geom 27700), GiST."""
    import psycopg
    import shapely

    codes = list(snap.ward_index.codes)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute(
            "CREATE TABLE wards (code text PRIMARY KEY, geom geometry(MultiPolygon, 27700) NOT NULL)"
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO wards VALUES (%s, ST_Multi(ST_GeomFromWKB(%s, 27700)))",
                [(c, shapely.to_wkb(snap.ward_index.geometry(c))) for c in codes],
            )
        conn.execute("CREATE INDEX wards_geom ON wards USING gist (geom)")
        conn.execute("VACUUM ANALYZE wards")
        return int(conn.execute("SELECT count(*) FROM wards").fetchone()[0])  # type: ignore[index]


PER_POINT_SQL = (
    "SELECT code FROM wards WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(%s, %s), 27700))"
)
SET_SQL = """
SELECT p.i, array_agg(w.code)
FROM unnest(%s::float8[], %s::float8[]) WITH ORDINALITY AS p(x, y, i)
JOIN wards w ON ST_Covers(w.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 27700))
GROUP BY p.i
"""


def measure_points(
    conninfo: str, snap: Any, settings: Any, xs: list[float], ys: list[float], rounds: int
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Per method, the µs a point of each round (interleaved), and the agreement check."""
    import geopandas as gpd
    import numpy as np
    import psycopg
    import shapely

    from directory.errors import OutsideCoverageError
    from directory.usecases.geography import resolve_point

    n = len(xs)
    index = snap.ward_index
    xa, ya = np.asarray(xs), np.asarray(ys)
    wards = gpd.GeoDataFrame(
        {"code": list(index.codes)},
        geometry=[shapely.from_wkb(shapely.to_wkb(index.geometry(c))) for c in index.codes],
        crs="EPSG:27700",
    )
    points = gpd.GeoDataFrame(geometry=shapely.points(xa, ya), crs="EPSG:27700")
    conn = psycopg.connect(conninfo, autocommit=True)
    cur = conn.cursor()
    answers: dict[str, Any] = {}

    def ours_covering() -> None:
        covering = index.covering
        answers["covering"] = [covering(x, y) for x, y in zip(xs, ys, strict=True)]

    def ours_resolve() -> None:
        found = []
        for x, y in zip(xs, ys, strict=True):
            try:
                found.append(resolve_point(snap, settings, x, y))
            except OutsideCoverageError:
                found.append(None)
        answers["resolve"] = found

    def ours_vectorised() -> None:
        answers["vectorised"] = index.covering_many(xa, ya)

    def postgis_per_point() -> None:
        found = []
        for x, y in zip(xs, ys, strict=True):
            cur.execute(PER_POINT_SQL, (x, y), prepare=True)
            found.append([row[0] for row in cur.fetchall()])
        answers["postgis"] = found

    def postgis_set() -> None:
        cur.execute(SET_SQL, (xs, ys))
        answers["postgis_set"] = dict(cur.fetchall())

    def sjoin() -> None:
        answers["sjoin"] = gpd.sjoin(points, wards, predicate="covered_by", how="inner")

    methods: dict[str, Callable[[], None]] = {
        "ours: covering, per point": ours_covering,
        "ours: resolve_point, per point": ours_resolve,
        "ours: covering_many, vectorised": ours_vectorised,
        "PostGIS: ST_Covers, prepared, per point": postgis_per_point,
        "PostGIS: ST_Covers, one set-based query": postgis_set,
        "geopandas: sjoin covered_by": sjoin,
    }
    for method in methods.values():  # warm-up: caches, prepared statement, index pages
        method()
    timings: dict[str, list[float]] = {name: [] for name in methods}
    names = list(methods)
    for number in range(rounds):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            print(f"round {number + 1}/{rounds}: {name} ...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            methods[name]()
            timings[name].append((time.perf_counter() - started) / n * 1e6)
    cur.close()
    conn.close()
    return timings, agreement(answers, snap, xs, ys)


def agreement(
    answers: dict[str, Any], snap: Any, xs: list[float], ys: list[float]
) -> dict[str, Any]:
    """How often each method gives PostGIS's wards, point by point."""
    n, codes, areas = len(xs), list(snap.ward_index.codes), snap.areas
    postgis = [sorted(w) for w in answers["postgis"]]
    covering = [sorted(w) for w in answers["covering"]]
    as_set = [sorted(answers["postgis_set"].get(i + 1, [])) for i in range(n)]
    first = [w[0] if w else None for w in postgis]
    vectorised = [codes[i] if i >= 0 else None for i in answers["vectorised"]]
    sj: dict[int, list[str]] = {}
    for i, code in zip(answers["sjoin"].index, answers["sjoin"]["code"], strict=True):
        sj.setdefault(int(i), []).append(code)
    sjoin = [sorted(sj.get(i, [])) for i in range(n)]
    differ = [i for i in range(n) if covering[i] != postgis[i]]
    resolved = answers["resolve"]
    no_ward = [i for i in range(n) if not postgis[i]]
    other = [
        i
        for i in range(n)
        if postgis[i] and (resolved[i] is None or resolved[i].ward not in postgis[i])
    ]
    return {
        "points": n,
        "in_no_ward": sum(1 for w in postgis if not w),
        "on_a_shared_edge": sum(1 for w in postgis if len(w) > 1),
        "covering_equal": n - len(differ),
        "covering_differ": [
            {"easting": xs[i], "northing": ys[i], "ours": covering[i], "postgis": postgis[i]}
            for i in differ[:10]
        ],
        "set_query_equal": sum(1 for a, b in zip(as_set, postgis, strict=True) if a == b),
        "vectorised_equal": sum(1 for a, b in zip(vectorised, first, strict=True) if a == b),
        "sjoin_equal": sum(1 for a, b in zip(sjoin, postgis, strict=True) if a == b),
        "resolve_point_in_postgis": n - len(other) - len(no_ward),
        "resolve_point_no_ward": len(no_ward),
        # the generalised ward polygon covering the point is of another borough than the
        # (full-resolution) borough polygon covering it: resolve_point keeps the borough and
        # takes its nearest ward, flagged ward_approximate
        "resolve_point_other_borough": len(other),
        "resolve_point_differ": [
            {
                "easting": xs[i],
                "northing": ys[i],
                "postgis": postgis[i],
                "postgis_borough": [areas[w].parent_code for w in postgis[i]],
                "ours": resolved[i].ward if resolved[i] else None,
                "ours_borough": resolved[i].borough if resolved[i] else None,
                "flags": resolved[i].flags if resolved[i] else None,
            }
            for i in (no_ward + other)[:10]
        ],  # fmt: skip
    }


# --------------------------------------------------------------------------- report


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    return done.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def _rounds(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def report_http(
    results: dict[str, dict[str, list[dict[str, Any]]]], checks: dict[str, Any]
) -> dict[str, Any]:
    labels = {
        "ours": "this project",
        NOTHING_KEPT: "this project, nothing kept",
        OURS_POSTGRES: "this project, PostgreSQL",
        **PEERS,
    }
    postgres = any(OURS_POSTGRES in by_name for by_name in results.values())
    rows = []
    ratios: dict[str, dict[str, list[float]]] = {}

    def ratio_of(mine: list[dict[str, Any]], runs: list[dict[str, Any]]) -> list[float]:
        return [o["rps"] / r["rps"] for o, r in zip(mine, runs, strict=True)]

    def shown(ratio: list[float]) -> str:
        return f"**{statistics.median(ratio):.2f}** ({_rounds(ratio)})"

    for scenario, by_name in results.items():
        for name, runs in by_name.items():
            ratio = ratio_of(by_name["ours"], runs)
            ratios.setdefault(scenario, {})[name] = ratio
            peer = name in PEERS
            if peer:
                ratios[scenario][f"{NOTHING_KEPT}/{name}"] = ratio_of(by_name[NOTHING_KEPT], runs)
                if postgres:
                    ratios[scenario][f"{OURS_POSTGRES}/{name}"] = ratio_of(
                        by_name[OURS_POSTGRES], runs
                    )
            row = [
                scenario, labels[name],
                f"{statistics.median(r['rps'] for r in runs):,.1f}",
                f"{statistics.median(r['p50_ms'] for r in runs):,.1f}",
                f"{statistics.median(r['p99_ms'] for r in runs):,.1f}",
                shown(ratio) if peer else "",
                shown(ratios[scenario][f"{NOTHING_KEPT}/{name}"]) if peer else "",
            ]  # fmt: skip
            if postgres:
                row.append(shown(ratios[scenario][f"{OURS_POSTGRES}/{name}"]) if peer else "")
            rows.append(tuple(row))
    headings = [
        "bbox, limit 100", "server", "requests/s", "p50 ms", "p99 ms",
        "ours / peer (rounds)", "ours, nothing kept / peer (rounds)",
    ]  # fmt: skip
    if postgres:
        headings.append("ours on PostgreSQL / peer (rounds)")
    print(markdown_table(headings, rows))
    print()
    for collection, label in PEERS.items():
        _report_checks(checks, collection, label, "ours")
        if OURS_POSTGRES in checks:
            _report_checks(checks[OURS_POSTGRES], collection, label, "ours on PostgreSQL")
    return ratios


def _report_checks(checks: dict[str, Any], collection: str, label: str, ours: str) -> None:
    """One line: whether ``ours`` answered as the peer's collection did."""
    c = checks[collection]
    print(
        f"- answers, {label}: same ids as {ours} for {CHECKED_BOXES} + 1 boxes: "
        f"{'yes' if c['same_ids'] else 'NO'}; same numberMatched: "
        f"{'yes' if c['same_number_matched'] else 'NO'}; same order: "
        f"{'yes' if c['same_order'] else 'no'}; same first page of {PAGE}: "
        f"{'yes' if c['same_first_page'] else 'NO'}; numberMatched in a page: "
        f"{'yes' if c['number_matched_in_page'] else 'no (only with resulttype=hits)'}; "
        f"a page {c['page_bytes'] / 1024:,.1f} KB ({ours} {checks['ours']['page_bytes'] / 1024:,.1f} KB)"
    )
    for problem in c["problems"][:5]:
        print(f"  - {problem}")


def report_points(timings: dict[str, list[float]], agree: dict[str, Any]) -> dict[str, Any]:
    pairs = {
        "PostGIS: ST_Covers, prepared, per point": "ours: covering, per point",
        "PostGIS: ST_Covers, one set-based query": "ours: covering_many, vectorised",
        "geopandas: sjoin covered_by": "ours: covering_many, vectorised",
    }
    multiples: dict[str, dict[str, list[float]]] = {}
    for peer, ours in pairs.items():
        multiples[peer] = {ours: [p / o for p, o in zip(timings[peer], timings[ours], strict=True)]}
    per_point = "PostGIS: ST_Covers, prepared, per point"
    multiples[per_point]["ours: resolve_point, per point"] = [
        p / o
        for p, o in zip(timings[per_point], timings["ours: resolve_point, per point"], strict=True)
    ]
    rows = []
    for name, values in timings.items():
        against = multiples.get(name, {})
        rows.append((
            name,
            f"{statistics.median(values):,.2f}",
            _rounds(values),
            "; ".join(
                f"{ours.removeprefix('ours: ')}: **{statistics.median(m):.1f}×** ({_rounds(m)})"
                for ours, m in against.items()
            ),
        ))  # fmt: skip
    print(markdown_table(["method", "µs a point", "rounds", "peer's time / ours (rounds)"], rows))
    print()
    n = agree["points"]
    print(
        f"- agreement: covering and PostGIS give the same wards for {agree['covering_equal']:,} of "
        f"{n:,} points ({agree['in_no_ward']} in no ward, {agree['on_a_shared_edge']} on a "
        f"shared edge); the set-based query {agree['set_query_equal']:,}, covering_many (first "
        f"ward) {agree['vectorised_equal']:,}, sjoin {agree['sjoin_equal']:,}; resolve_point's "
        f"ward is one of PostGIS's for {agree['resolve_point_in_postgis']:,}; of the others "
        f"{agree['resolve_point_no_ward']} are in no ward polygon and "
        f"{agree['resolve_point_other_borough']} in a (generalised) ward polygon of another "
        "borough than the borough polygon covering them: resolve_point keeps the borough and "
        "gives its nearest ward, flagged ward_approximate"
    )
    for d in agree["covering_differ"]:
        print(
            f"  - ({d['easting']:.0f}, {d['northing']:.0f}): ours {d['ours']}, PostGIS {d['postgis']}"
        )
    for d in agree["resolve_point_differ"]:
        print(
            f"  - ({d['easting']:.0f}, {d['northing']:.0f}): PostGIS {d['postgis']} (borough "
            f"{d['postgis_borough']}), resolve_point {d['ours']} (borough {d['ours_borough']})"
        )
    return multiples


# --------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> dict[str, Any]:
    from directory import create_app
    from directory.settings import Settings
    from directory.store.repositories.geography import GeographyRepository

    data_dir = args.data_dir.resolve()
    info: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "command": shlex.join(["scripts/bench_peers.py", *sys.argv[1:]]),
        "machine": machine(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    out: dict[str, Any] = {"info": info}
    path = generated_directory(args.services, args.seed, data_dir, CACHE)
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        work = Path(tmp)
        env = directory_env(f"sqlite:///{work / 'directory.sqlite3'}", work, data_dir)
        print("directory init ...", file=sys.stderr, flush=True)
        info["init_s"] = init_database(env, data_dir)
        print(f"importing {path.name} ...", file=sys.stderr, flush=True)
        info["import_s"] = import_directory(env, path)
        app = create_app(Settings.from_env(env))
        state = app.extensions["directory"]
        if not args.skip_pygeoapi:
            features = our_sites(app)
            info["sites"] = len(features)
            geojson, gpkg = write_peer_files(features, work)
            info["geojson_mb"] = geojson.stat().st_size / 1e6
            venv = pygeoapi_venv(args.python)
            peer_env, peer_conf = pygeoapi_env(venv, work, geojson, gpkg)
            info["pygeoapi"] = version_of(venv / "bin" / "python", "-c",
                                          "import pygeoapi; print(pygeoapi.__version__)")  # fmt: skip
            info["peer_python"] = version_of(venv / "bin" / "python", "--version")
            info["gunicorn_ours"] = version_of(venv_tool("gunicorn"), "--version")
            info["gunicorn_peer"] = version_of(venv / "bin" / "gunicorn", "--version")
            boxes = random_boxes(data_dir, args.boxes)
            checked = [*boxes[:CHECKED_BOXES], LONDON_BBOX]
            with contextlib.ExitStack() as stack:
                ours = {
                    "ours": stack.enter_context(serve(env, args.workers)),
                    NOTHING_KEPT: stack.enter_context(
                        serve({**env, "DIRECTORY_FEATURES_CACHE_MB": "0"}, args.workers)
                    ),
                }
                if args.postgres:
                    url = stack.enter_context(throwaway_postgres("bench_peers_ours"))
                    (work / "postgres").mkdir()
                    pg_env = directory_env(url, work / "postgres", data_dir)
                    print("PostgreSQL: directory init ...", file=sys.stderr, flush=True)
                    info["postgres_init_s"] = init_database(pg_env, data_dir)
                    print(f"PostgreSQL: importing {path.name} ...", file=sys.stderr, flush=True)
                    info["postgres_import_s"] = import_directory(pg_env, path)
                    ours[OURS_POSTGRES] = stack.enter_context(serve(pg_env, args.workers))
                peer = stack.enter_context(serve(
                    peer_env, args.workers, app="pygeoapi.flask_app:APP",
                    ready_path="/conformance?f=json", gunicorn=str(venv / "bin" / "gunicorn"),
                    extra_args=["--config", str(peer_conf)],
                ))  # fmt: skip
                print(f"ours at {ours}, pygeoapi at {peer}; checking answers ...", file=sys.stderr)
                checks = check_answers(ours["ours"], peer, checked)
                if args.postgres:
                    checks[OURS_POSTGRES] = check_answers(ours[OURS_POSTGRES], peer, checked)
                http = measure_http(ours, peer, boxes, args)
            out["http"] = {"checks": checks, "results": http}
        if not args.skip_postgis:
            with state.db.engine.connect() as connection:
                snap = state.geography.get(GeographyRepository(connection))
            xs, ys = random_points(data_dir, args.points)
            with throwaway_postgres("bench_peers") as url:
                conninfo = url.replace("postgresql+psycopg://", "postgresql://")
                info["wards"] = load_wards(conninfo, snap)
                with __import__("psycopg").connect(conninfo) as conn:
                    info["postgis"] = conn.execute("SELECT postgis_lib_version()").fetchone()[0]  # type: ignore[index]
                    info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
                timings, agree = measure_points(conninfo, snap, state.settings, xs, ys, args.rounds)
            out["points"] = {"timings_us": timings, "agreement": agree}
    return out


def report(out: dict[str, Any], args: argparse.Namespace) -> None:
    info = out["info"]
    m = info["machine"]
    print(f"## Side by side with pygeoapi and PostGIS ({info['date']}, commit {info['commit']})\n")
    print(
        f"- machine: nproc {m['nproc']}, Python {m['python']}, {m['platform']}, {m['wrk']}, "
        f"load average {m['loadavg_1m']} at start"
    )
    print(f"- command: `{info['command']}`")
    print(
        f"- directory: {args.services:,} services (make_directory.py seed {args.seed}), fresh "
        f"SQLite (init {info['init_s']:.1f} s, import {info['import_s']:.1f} s)"
        + (
            f"; and PostgreSQL 15, a throwaway cluster with fsync off (init "
            f"{info['postgres_init_s']:.1f} s, import {info['postgres_import_s']:.1f} s)"
            if "postgres_import_s" in info
            else ""
        )
    )
    if "http" in out:
        print(
            f"- pygeoapi {info['pygeoapi']} ({info['peer_python']}, {info['gunicorn_peer']}) "
            f"serving our {info['sites']:,} sites as GeoJSON ({info['geojson_mb']:.1f} MB) and "
            f"GeoPackage; ours {info['gunicorn_ours']}, as configured by default and with "
            f"DIRECTORY_FEATURES_CACHE_MB=0; all {args.workers} sync workers"
        )
        print(
            f"- load: wrk --latency -t{args.threads} -c{args.connections} -d{args.duration:g}s "
            f"per run, {args.rounds} interleaved rounds after a {WARMUP_SECONDS:g} s warm-up "
            f"each; {args.boxes} random 1 km boxes (seed {SEED}) round-robin, or the London "
            f"box {LONDON_BBOX}; limit={PAGE}; figures are medians over the rounds, each "
            "ratio taken within its round"
        )
        print()
        out["http"]["ratios"] = report_http(out["http"]["results"], out["http"]["checks"])
        print()
    if "points" in out:
        print(
            f"- point in ward: {args.points:,} postcode grid references (seed {SEED + 1}), "
            f"{info['wards']} ward polygons of the snapshot in EPSG:27700; PostgreSQL "
            f"{info['postgresql']} (throwaway cluster, fsync off), "
            f"PostGIS {info['postgis']}, GiST index, psycopg over TCP "
            f"on 127.0.0.1; ours in-process; {args.rounds} interleaved rounds, medians"
        )
        print()
        out["points"]["multiples"] = report_points(
            out["points"]["timings_us"], out["points"]["agreement"]
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=positive(int), default=10_000)
    parser.add_argument("--seed", type=int, default=1, help="make_directory.py's seed")
    parser.add_argument("--rounds", type=positive(int), default=3)
    parser.add_argument("--duration", type=positive(float), default=6.0, help="seconds per wrk run")
    parser.add_argument("--boxes", type=positive(int), default=200, help="random 1 km boxes")
    parser.add_argument("--points", type=positive(int), default=20_000, help="points in ward")
    parser.add_argument("--connections", type=positive(int), default=16)
    parser.add_argument("--threads", type=positive(int), default=2, help="wrk threads")
    parser.add_argument("--workers", type=positive(int), default=2, help="gunicorn sync workers")
    parser.add_argument("--skip-pygeoapi", action="store_true")
    parser.add_argument("--skip-postgis", action="store_true")
    parser.add_argument(
        "--postgres", action="store_true",
        help="also serve ours from a throwaway PostgreSQL 15 cluster (the same directory)",
    )  # fmt: skip
    parser.add_argument(
        "--python", type=Path, default=Path("/usr/bin/python3"),
        help="the Python of pygeoapi's venv: its sqlite3 must load extensions",
    )  # fmt: skip
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the servers and the cluster are stopped either way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        out = run(args)
        report(out, args)
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if args.json:
        print()
        print(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
