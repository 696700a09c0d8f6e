"""``directory geodata refresh`` of every source after a dry run (which keeps what it fetched
for the refresh to take) against the same refresh on its own, in pairs on fresh SQLite
databases, against the local publishers (``scripts/serve_publishers.py``'s release: the
test suite's fixtures, built from the London data).

Usage::

    .venv/bin/python scripts/bench_refresh.py [--pairs 3] [--data-dir ../shared/data]

Each pair initialises two databases, then in turn (which goes first alternates): on one,
``--dry-run`` and then the refresh; on the other, the refresh alone. Prints each run's
seconds (``--json``'s ``seconds``) and how many sources the refresh took from the dry run.
Standard library and the project's own test fixtures; exit status 0 when it ran.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _benchlib import (  # noqa: E402
    REPO_ROOT,
    BenchError,
    default_data_dir,
    directory_env,
    init_database,
    positive,
    venv_tool,
)

from tests.geodata.fetch.publishers import build_london_release, publish_london_release  # noqa: E402
from tests.geodata.fetch.server import FixtureServer  # noqa: E402


def _refresh(env: dict[str, str], base_url: str, *more: str) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(
        [venv_tool("directory"), "geodata", "refresh", "--json", "--quiet",
         "--base-url", base_url, *more],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"`geodata refresh {' '.join(more)}` failed:\n{done.stdout}{done.stderr}")
    return json.loads(done.stdout[done.stdout.index("{") :])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=positive(int), default=3)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args()
    after, alone = [], []
    with tempfile.TemporaryDirectory(prefix="bench-refresh-") as tmp:
        root = Path(tmp)
        print(f"building the publishers' release from {args.data_dir} ...", flush=True)
        server = FixtureServer().start()
        try:
            publish_london_release(server, build_london_release(args.data_dir, root / "gla"))
            for pair in range(args.pairs):
                envs = {}
                for kind in ("after", "alone"):
                    folder = root / f"{pair}-{kind}"
                    envs[kind] = directory_env(
                        f"sqlite:///{folder}/directory.db", folder / "instance", args.data_dir
                    )
                    folder.mkdir()
                    init_database(envs[kind], args.data_dir)
                for kind in ("after", "alone") if pair % 2 == 0 else ("alone", "after"):
                    if kind == "after":
                        dry = _refresh(envs[kind], server.url, "--dry-run")
                        run = _refresh(envs[kind], server.url)
                        taken = sum(s["kept_from"] is not None for s in run["sources"])
                        after.append(run["seconds"])
                        print(f"pair {pair + 1}: dry run {dry['seconds']:.1f} s, then the "
                              f"refresh {run['seconds']:.1f} s ({taken} of "
                              f"{len(run['sources'])} sources taken from the dry run)",
                              flush=True)  # fmt: skip
                    else:
                        run = _refresh(envs[kind], server.url)
                        alone.append(run["seconds"])
                        print(f"pair {pair + 1}: the refresh alone {run['seconds']:.1f} s",
                              flush=True)  # fmt: skip
        finally:
            server.stop()
    print(f"refresh after a dry run: median {statistics.median(after):.1f} s; "
          f"alone: median {statistics.median(alone):.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
