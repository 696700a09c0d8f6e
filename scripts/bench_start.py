"""How long a start of ``directory serve`` keeps requests waiting: the seconds until
``/health`` first answers, and how long the first patches take after it.

Starts ``directory serve`` (gunicorn with the production settings of
``directory/web/serving/gunicorn.py``, ``--workers`` sync workers) on a free local port
against an initialised database (``--database-url``; e.g. one ``bench_scale.py`` or
``directory import`` filled with a generated directory of 100,000 services), polls
``/health`` every 50 ms, then sends ``--first`` patches at once (each postcode of a fixed
sample ``--workers`` times, so that each worker gets some) and reports each one's time. A
worker makes its directory index before it takes requests ("Warm start" in the README):
the wait is before ``/health`` answers, and the first patches take milliseconds. Run from a
``git worktree`` of older code (``--code``) the first patches waited for the build instead.
Also prints each worker's logged build time.

``--postgres`` starts a throwaway PostgreSQL 15 cluster (as the tests start theirs) with
the demo directory (``directory init`` and ``directory demo load``) instead of
``--database-url``: there a worker also keeps every postcode's row, which its warm start
reads (before 2 December evening, the first lookup by postcode read them while it waited).
``--code`` may be given more than once, with ``--runs N``: each run serves each tree in
turn on the same database (``PYTHONPATH`` set to the tree), so that before and after are
measured alternately. (``--postgres`` makes the database with this checkout's code:
an older tree is served on the newest schema.)

Usage::

    .venv/bin/python scripts/bench_start.py --database-url sqlite:////path/to/100k.sqlite3 \
        [--workers 2] [--first 8] [--code DIR ...] [--runs 1] [--data-dir ../shared/data]
    .venv/bin/python scripts/bench_start.py --postgres [--code DIR ...] [--runs 2]

Exit status 0 when it ran; 1 on any error.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.postgres

from _benchlib import (  # noqa: E402
    REPO_ROOT,
    BenchError,
    default_data_dir,
    directory_env,
    free_port,
    http_get,
    init_database,
    load_demo,
    positive,
    throwaway_postgres,
    venv_tool,
)
from bench_api import patch_path, sample_postcodes  # noqa: E402

MADE = re.compile(r"worker (\d+) made its directory index in ([0-9.]+) s")


def run(args: argparse.Namespace, code: Path) -> dict[str, object]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    instance = Path(tempfile.mkdtemp(prefix="bench-start-"))
    env = directory_env(args.database_url, instance, args.data_dir, log_level="INFO")
    # that tree's package, not the one the venv installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    paths = [patch_path(pc) for pc in sample_postcodes(args.data_dir, args.first)]
    log = instance / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [venv_tool("directory"), "serve", "--port", str(port), "--workers", str(args.workers)],
            cwd=code, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    started = time.monotonic()
    try:
        while True:
            if server.poll() is not None:
                raise BenchError(f"directory serve exited:\n{log.read_text()[-3000:]}")
            try:
                if http_get(base + "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() - started > args.timeout:
                raise BenchError(f"/health did not answer in {args.timeout:.0f} s")
            time.sleep(0.05)
        health = time.monotonic() - started

        def timed(path: str) -> float:
            begun = time.monotonic()
            status, body = http_get(base + path, timeout=args.timeout)
            if status != 200:
                raise BenchError(f"{path}: {status} {body[:300]!r}")
            return time.monotonic() - begun

        with ThreadPoolExecutor(len(paths)) as pool:
            firsts = list(pool.map(timed, paths))
        answered = time.monotonic() - started
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
    builds = [(int(pid), float(s)) for pid, s in MADE.findall(log.read_text())]
    return {
        "code": str(code),
        "workers": args.workers,
        "health_first_s": round(health, 2),
        "first_patches_s": [round(t, 3) for t in firsts],
        "all_answered_s": round(answered, 2),
        "builds_s": [s for _, s in builds],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--database-url", help="an initialised database")
    where.add_argument(
        "--postgres", action="store_true",
        help="a throwaway PostgreSQL 15 cluster with the demo directory",
    )  # fmt: skip
    parser.add_argument("--workers", type=positive(int), default=2)
    parser.add_argument("--first", type=positive(int), default=8, help="patches sent at once")
    parser.add_argument(
        "--code", type=Path, action="append",
        help="checkout to serve from (more than once: each in turn; default this one)",
    )  # fmt: skip
    parser.add_argument("--runs", type=positive(int), default=1, help="rounds over --code")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--timeout", type=positive(float), default=180.0)
    args = parser.parse_args()
    args.data_dir = args.data_dir or default_data_dir()
    codes = [code.resolve() for code in args.code or [REPO_ROOT]]
    try:
        if args.postgres:
            with throwaway_postgres("bench_start") as url:
                args.database_url = url
                env = directory_env(
                    url, Path(tempfile.mkdtemp(prefix="bench-start-")), args.data_dir
                )
                made = init_database(env, args.data_dir), load_demo(env, args.data_dir)
                print(
                    f"demo directory on PostgreSQL: init {made[0]:.1f} s, demo load {made[1]:.1f} s"
                )
                _measure(args, codes)
        else:
            _measure(args, codes)
    except (BenchError, OSError) as error:  # OSError: a request that timed out or failed
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _measure(args: argparse.Namespace, codes: list[Path]) -> None:
    """Each run serves each tree in turn, and prints what it measured."""
    for number in range(args.runs):
        for code in codes:
            result = run(args, code)
            firsts = result["first_patches_s"]
            assert isinstance(firsts, list)
            print(f"\nrun {number + 1}, code: {code}, {args.workers} workers, {args.database_url}")
            print(f"/health first answered after {result['health_first_s']} s")
            print(
                f"first {len(firsts)} patches at once: median {statistics.median(firsts):.3f} s, "
                f"slowest {max(firsts):.3f} s; all answered {result['all_answered_s']} s after "
                "the start"
            )
            builds = result["builds_s"] or "none logged (code without the warm start)"
            print(f"workers' logged index builds (s): {builds}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
