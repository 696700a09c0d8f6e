"""Build the packaged London data snapshot (geodata/data/snapshot/) from a data directory.

    .venv/bin/python scripts/build_snapshot.py [--from ../shared/data] [--out DIR] [--check]

Takes every file the manifest (geodata/data/sources.toml) lists from a directory laid out
like shared/data, stores each as <path>.xz and writes manifest.json (source, release,
vintage, licence, attribution, rows, sha256 and size of each file). Reproducible: run it
twice on the same inputs and the bytes are identical. --check builds into a temporary
folder and exits 1 if the result differs from the committed snapshot.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from geodata.snapshot import PACKAGED_SNAPSHOT, build_snapshot, describe  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = os.environ.get("DIRECTORY_GEODATA_DIR") or str(REPO_ROOT.parent / "shared" / "data")
    parser.add_argument("--from", dest="source", type=Path, default=Path(default))
    parser.add_argument("--out", type=Path, default=PACKAGED_SNAPSHOT)
    parser.add_argument("--check", action="store_true", help="compare with the committed one")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            build_snapshot(args.source, tmp)
            built = {p.relative_to(tmp) for p in Path(tmp).rglob("*") if p.is_file()}
            committed = {p.relative_to(args.out) for p in args.out.rglob("*") if p.is_file()}
            different = sorted(
                str(p)
                for p in built | committed
                if p not in built
                or p not in committed
                or not filecmp.cmp(Path(tmp) / p, args.out / p, shallow=False)
            )
        if different:
            print("The snapshot differs from a fresh build:", ", ".join(different))
            return 1
        print(f"The snapshot at {args.out} is what {args.source} builds.")
        return 0
    manifest = build_snapshot(args.source, args.out)
    packed = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(describe(manifest), end="")
    print(
        f"Snapshot {manifest.about['id']} written to {args.out}: {packed / 1e6:.2f} MB packed "
        f"({manifest.about['bytes'] / 1e6:.1f} MB uncompressed) in "
        f"{time.perf_counter() - started:.1f} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
