"""Benchmark geodata on the real London data.

Times ``read_bundle``, builds the borough and ward ``AreaIndex``es, and measures
vectorised ``covering_many`` throughput over every live postcode (best of 3) and
single-point ``covering`` latency (median over 10,000 random postcode points). Prints a
markdown table and the share of postcodes whose covering area equals their published code.

Usage::

    .venv/bin/python scripts/bench_geodata.py [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from geodata import AreaIndex, read_bundle  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("DIRECTORY_GEODATA_DIR", REPO_ROOT / ".." / "shared" / "data")),
        help="data directory (default: $DIRECTORY_GEODATA_DIR or ../shared/data)",
    )
    parser.add_argument("--samples", type=int, default=10_000)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    bundle = read_bundle(args.data_dir)
    load_seconds = time.perf_counter() - started

    live = [p for p in bundle.postcodes if p.status == "live"]
    xs = np.array([p.easting for p in live])
    ys = np.array([p.northing for p in live])
    rng = np.random.default_rng(20251125)
    sample = rng.choice(len(live), size=args.samples, replace=False)

    rows = []
    for layer, attr in (("borough", "borough_code"), ("ward", "ward_code")):
        areas = bundle.areas_of_type(layer)
        started = time.perf_counter()
        index = AreaIndex([a.code for a in areas], [a.geometry for a in areas])
        build_ms = (time.perf_counter() - started) * 1e3

        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            found = index.covering_many(xs, ys)
            best = min(best, time.perf_counter() - started)
        codes = np.array(index.codes + ("",), dtype=object)
        published = np.array([getattr(p, attr) for p in live], dtype=object)
        agreement = float(np.mean(codes[found] == published))
        uncovered = int(np.sum(found < 0))

        timings = []
        covering = index.covering
        for i in sample:
            x, y = float(xs[i]), float(ys[i])
            t0 = time.perf_counter()
            covering(x, y)
            timings.append(time.perf_counter() - t0)
        rows.append(
            (
                layer,
                len(index),
                build_ms,
                len(xs) / best,
                statistics.median(timings) * 1e6,
                agreement,
                uncovered,
            )
        )

    print(f"data: {args.data_dir.resolve()}")
    print(
        f"read_bundle: {load_seconds:.2f} s ({len(bundle.areas)} areas, "
        f"{len(bundle.postcodes):,} postcodes, {len(bundle.neighbours):,} neighbour pairs)\n"
    )
    print(
        "| layer | areas | index build (ms) | covering_many (points/s, best of 3) "
        "| covering (µs, median) | agreement with published code | points in no area |"
    )
    print("|---|---|---|---|---|---|---|")
    for layer, n, build_ms, rate, micros, agreement, uncovered in rows:
        print(
            f"| {layer} | {n} | {build_ms:.1f} | {rate:,.0f} | {micros:.1f} | "
            f"{agreement:.4%} | {uncovered} |"
        )
    print(
        f"\n{len(xs):,} live postcode points; single-point latency over {args.samples:,} "
        "random postcode points."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
