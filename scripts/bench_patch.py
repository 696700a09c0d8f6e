"""The patch in-process: GET /api/v1/patch?postcode= for postcodes not asked before, against
GET /health of the same app, with Flask's test client (no HTTP, no gunicorn), and where
its time goes. For comparing two checkouts of the code on one database, side by side.

Each ``--code`` directory (default: this checkout) is run in a child process of its own,
with that directory first on ``sys.path``; with several, they take turns (``--turns``
times each, alternately), because this machine's speed drifts from one minute to the next
by more than the differences measured. A child asks one app 3,000 new postcodes to warm
it, then ``--rounds`` rounds of ``--per-round`` more new postcodes and as many /health
requests, and reports the mean time of each; the last child of this checkout then times
the patch's stages (resolving the postcode, the sites near it, the page...) by calling the
use case's functions directly.

Usage::

    .venv/bin/python scripts/bench_patch.py [--database-url URL] [--code DIR ...]
        [--turns 2] [--rounds 3] [--per-round 4000] [--data-dir ../shared/data]

The database is the one configured (``DIRECTORY_DATABASE_URL`` or ``--database-url``),
already initialised and imported (a 100,000-service directory from ``bench_scale.py``'s
generated CSV, say). Standard library only in the parent; exit status 0 when it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _benchlib import REPO_ROOT, default_data_dir, positive  # noqa: E402

WARM = 3000
STAGES = ("resolve", "nearby", "matching", "counts", "order", "locate", "page", "money", "write")


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """(child) One app of the code first on sys.path, timed in rounds; stages if asked."""
    from bench_api import sample_postcodes

    from directory import create_app

    app = create_app()
    client = app.test_client()
    wanted = WARM + args.rounds * args.per_round
    postcodes = sample_postcodes(Path(args.data_dir), wanted)
    paths = ["/api/v1/patch?postcode=" + urllib.parse.quote(p, safe="") for p in postcodes]
    for path in paths[:WARM]:
        assert client.get(path).status_code == 200, path
    rounds = []
    for number in range(args.rounds):
        start = WARM + number * args.per_round
        began = time.perf_counter()
        for path in paths[start : start + args.per_round]:
            client.get(path)
        patch = (time.perf_counter() - began) / args.per_round
        began = time.perf_counter()
        for _ in range(args.per_round):
            client.get("/health")
        health = (time.perf_counter() - began) / args.per_round
        rounds.append({"patch_ms": patch * 1000, "health_ms": health * 1000})
    result: dict[str, Any] = {"rounds": rounds}
    if args.stages:
        result["stages_us"] = _stages(app, postcodes[WARM:])
    return result


def _stages(app: Any, postcodes: list[str]) -> dict[str, float]:
    """(child) The patch's stages, each timed over the postcodes (mean µs)."""
    from directory.usecases import patch
    from directory.usecases.patch import answer
    from directory.web import http
    from directory.web.state import directory_reads

    spent = dict.fromkeys(STAGES, 0.0)
    with app.test_request_context():
        reads = directory_reads()
        index, snap, filters = reads.index, reads.snap, answer.PatchFilters()
        for postcode in postcodes:
            times = [time.perf_counter()]
            place = patch.resolve_place(snap, reads.repo, reads.settings, postcode=postcode)
            times.append(time.perf_counter())
            nearby = answer.nearby_sites(index, place, filters)
            times.append(time.perf_counter())
            matches = answer.Matching(index, snap, place, filters, nearby)
            times.append(time.perf_counter())
            counts = matches.counts
            times.append(time.perf_counter())
            chosen = matches.ordered(0, 50)
            times.append(time.perf_counter())
            nearby.locate(chosen)
            times.append(time.perf_counter())
            page = matches.page(chosen)
            times.append(time.perf_counter())
            money = (
                answer.funding_summary(index, snap, place, reads.today),
                answer.patch_awards(index, snap, place, reads.today, filters),
                answer.patch_contacts(index, place.coverage),
            )
            times.append(time.perf_counter())
            http.dumps({"counts": counts, "money": money, "services": page})
            times.append(time.perf_counter())
            for name, before, after in zip(STAGES, times, times[1:], strict=False):
                spent[name] += after - before
    return {name: seconds / len(postcodes) * 1e6 for name, seconds in spent.items()}


def _run(code: Path, args: argparse.Namespace, stages: bool) -> dict[str, Any]:
    command = [
        sys.executable, __file__, "--child", "--rounds", str(args.rounds),
        "--per-round", str(args.per_round), "--data-dir", str(args.data_dir),
    ]  # fmt: skip
    if stages:
        command.append("--stages")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((str(code), str(Path(__file__).parent))))
    if args.database_url:
        env["DIRECTORY_DATABASE_URL"] = args.database_url
    env.setdefault("DIRECTORY_LOG_LEVEL", "WARNING")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{code}: the child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: DIRECTORY_DATABASE_URL")
    parser.add_argument("--code", type=Path, action="append", help="a checkout (repeatable)")
    parser.add_argument("--turns", type=positive(int), default=2)
    parser.add_argument("--rounds", type=positive(int), default=3)
    parser.add_argument("--per-round", type=positive(int), default=4000)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stages", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args)))
        return 0
    codes = [path.resolve() for path in args.code or [REPO_ROOT]]
    print(
        f"## The patch in-process against /health ({time.strftime('%Y-%m-%d %H:%M')}, load "
        f"average {os.getloadavg()[0]:.2f}; {args.rounds} rounds of {args.per_round:,} new "
        f"postcodes and as many /health requests, after {WARM:,} to warm)\n"
    )
    print("| code | turn | patch ms (rounds) | /health ms (rounds) | ratio |")
    print("|---|---:|---|---|---:|")
    found: dict[Path, list[float]] = {code: [] for code in codes}
    stages = None
    for turn in range(1, args.turns + 1):
        for code in codes:
            last = turn == args.turns and code == REPO_ROOT
            result = _run(code, args, stages=last)
            patch = [r["patch_ms"] for r in result["rounds"]]
            health = [r["health_ms"] for r in result["rounds"]]
            found[code].extend(patch)
            print(
                f"| {code} | {turn} | {statistics.median(patch):.3f} "
                f"({', '.join(f'{p:.2f}' for p in patch)}) | {statistics.median(health):.3f} "
                f"({', '.join(f'{h:.2f}' for h in health)}) | "
                f"{statistics.median(health) / statistics.median(patch):.2f} |",
                flush=True,
            )
            stages = result.get("stages_us", stages)
    print()
    for code, patches in found.items():
        print(f"- {code}: patch {min(patches):.2f}–{max(patches):.2f} ms over every round")
    if stages:
        shown = ", ".join(f"{name} {us:.0f}" for name, us in stages.items())
        print(f"- stages of a new postcode's patch (µs, this checkout): {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
