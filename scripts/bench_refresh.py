"""``directory geodata refresh`` of every source after a dry run (which keeps what it fetched
for the refresh to take) against the same refresh on its own, in pairs on fresh SQLite
databases, against the local publishers (``scripts/serve_publishers.py``'s release: the
test suite's fixtures, built from the London data).

Usage::

    .venv/bin/python scripts/bench_refresh.py [--pairs 3] [--data-dir ../shared/data]
        [--source codepoint ...] [--against CHECKOUT]

Each pair initialises two databases, then in turn (which goes first alternates): on one,
``--dry-run`` and then the refresh; on the other, the refresh alone. Prints each run's
seconds (``--json``'s ``seconds``) and how many sources the refresh took from the dry run.
``--source`` refreshes only those sources. ``--against`` compares code instead: the
refresh alone by this checkout's code against the same by another checkout's (``git
worktree add /tmp/before <commit>``), which runs with ``PYTHONPATH`` set to it, in the same
pairs. Standard library and the project's own test fixtures; exit status 0 when it ran.
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
    parser.add_argument("--source", action="append", default=[], help="only this source")
    parser.add_argument("--against", type=Path, help="a checkout of other code to compare")
    args = parser.parse_args()
    if args.against is not None and not (args.against / "directory" / "__init__.py").is_file():
        raise SystemExit(f"--against {args.against}: not a checkout of this project")
    only = [f"--source={source}" for source in args.source]
    kinds = ("after", "alone") if args.against is None else ("this", "other")
    after, alone = [], []
    with tempfile.TemporaryDirectory(prefix="bench-refresh-") as tmp:
        root = Path(tmp)
        print(f"building the publishers' release from {args.data_dir} ...", flush=True)
        server = FixtureServer().start()
        try:
            publish_london_release(server, build_london_release(args.data_dir, root / "gla"))
            for pair in range(args.pairs):
                envs = {}
                for kind in kinds:
                    folder = root / f"{pair}-{kind}"
                    envs[kind] = directory_env(
                        f"sqlite:///{folder}/directory.db", folder / "instance", args.data_dir
                    )
                    if kind == "other":
                        envs[kind]["PYTHONPATH"] = str(args.against.resolve())
                    folder.mkdir()
                    init_database(envs[kind], args.data_dir)
                for kind in kinds if pair % 2 == 0 else kinds[::-1]:
                    if kind in ("this", "other"):
                        run = _refresh(envs[kind], server.url, *only)
                        (after if kind == "this" else alone).append(run["seconds"])
                        print(
                            f"pair {pair + 1}: the refresh alone, {kind} code: "
                            f"{run['seconds']:.1f} s",
                            flush=True,
                        )
                    elif kind == "after":
                        dry = _refresh(envs[kind], server.url, "--dry-run", *only)
                        run = _refresh(envs[kind], server.url, *only)
                        taken = sum(s["kept_from"] is not None for s in run["sources"])
                        after.append(run["seconds"])
                        print(f"pair {pair + 1}: dry run {dry['seconds']:.1f} s, then the "
                              f"refresh {run['seconds']:.1f} s ({taken} of "
                              f"{len(run['sources'])} sources taken from the dry run)",
                              flush=True)  # fmt: skip
                    else:
                        run = _refresh(envs[kind], server.url, *only)
                        alone.append(run["seconds"])
                        print(f"pair {pair + 1}: the refresh alone {run['seconds']:.1f} s",
                              flush=True)  # fmt: skip
        finally:
            server.stop()
    if args.against is not None:
        print(f"the refresh alone: this code median {statistics.median(after):.1f} s; "
              f"{args.against}'s median {statistics.median(alone):.1f} s")  # fmt: skip
    else:
        print(f"refresh after a dry run: median {statistics.median(after):.1f} s; "
              f"alone: median {statistics.median(alone):.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
