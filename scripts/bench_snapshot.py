"""The packaged London snapshot: its size, and how long a bare `directory init` takes on it.

    .venv/bin/python scripts/bench_snapshot.py [--postgres]

Prints the packed and unpacked size of geodata/data/snapshot/ (per file and in all), the
time to unpack and check it, and the wall time of the commands a new user runs (`make run`
without the serve): `directory init` from nothing (unpack, migrate, load the geography),
`directory init` again (nothing to do), `directory demo load` (the demo directory,
crime and population), and `directory init` again with the demo loaded (its sites checked). Each command runs in a fresh process with a fresh instance
directory and no DIRECTORY_GEODATA_DIR, as in a bare clone. With --postgres the same runs
against a throwaway PostgreSQL 15 cluster (the tests' own).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from geodata.snapshot import PACKAGED_SNAPSHOT, extract_snapshot, packaged_manifest  # noqa: E402
from scripts._benchlib import throwaway_postgres  # noqa: E402

DIRECTORY = [sys.executable, "-c", "from directory.cli import main; main()"]


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([*DIRECTORY, *args], cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"directory {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def commands(database_url: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIRECTORY_")}
        env["DIRECTORY_INSTANCE_DIR"] = tmp
        if database_url:
            env["DIRECTORY_DATABASE_URL"] = database_url
        return {
            "init (unpack, migrate, load)": timed(["init"], env),
            "init again (nothing to do)": timed(["init"], env),
            "demo load (directory, crime, population)": timed(["demo", "load"], env),
            "init again (the demo's sites checked)": timed(["init"], env),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    manifest = packaged_manifest()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        target = extract_snapshot(tmp)
        unpack = time.perf_counter() - started
        unpacked = {e.key: (target / e.path).stat().st_size for e in manifest.files}
    packed = {e.key: (PACKAGED_SNAPSHOT / str(e.stored)).stat().st_size for e in manifest.files}
    manifest_bytes = (PACKAGED_SNAPSHOT / "manifest.json").stat().st_size
    print(f"Snapshot {manifest.about['id']}\n")
    print("| file | rows | unpacked (MB) | packed, xz (MB) |")
    print("|---|---|---|---|")
    for entry in manifest.files:
        print(
            f"| {entry.path} | {entry.rows:,} | {unpacked[entry.key] / 1e6:.2f} | "
            f"{packed[entry.key] / 1e6:.2f} |"
        )
    print(
        f"| **all**, with manifest.json ({manifest_bytes / 1e3:.0f} kB) | | "
        f"{sum(unpacked.values()) / 1e6:.1f} | {(sum(packed.values()) + manifest_bytes) / 1e6:.2f} |"
    )
    print(f"\nUnpack and check every file's sha256: {unpack:.2f} s")
    rows = [("SQLite", commands(None))]
    if args.postgres:
        with throwaway_postgres("bench_snapshot") as url:
            rows.append(("PostgreSQL 15", commands(url)))
    names = list(rows[0][1])
    print("\n| backend | " + " | ".join(f"{n} (s)" for n in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for backend, times in rows:
        print(f"| {backend} | " + " | ".join(f"{times[n]:.1f}" for n in names) + " |")


if __name__ == "__main__":
    main()
