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

``--after-import`` then imports one service with a grant (``directory import``: it writes
to the database, one service each run), waits until every worker has seen the new data
version (the server runs with ``DIRECTORY_DATA_VERSION_TTL=1``), and sends the first
requests after it, route by route, two per worker at once (each route asked of every
worker before the import, so that what is timed is the import's cost): a patch, the funding summary
(the funding facts: before 3 December each worker's first funding answer after an import
read them while it waited, 1.6-1.9 s at 100,000 services), an HSDS service by a known id
and by the new service's id (the HSDS id index: 1.2 s there). Then each worker's RSS
before the import and once every worker's patch is of the new version, and the workers'
RSS once the master has replaced those the import left grown (``DIRECTORY_WORKER_RECYCLE_GROWTH``;
at most ``--recycle-wait`` seconds). From the first requests after the import until then,
three threads ask the patch every 20 ms (as a map frontend's users would): how many
answered, any failure, their median, p99 and slowest (the workers rebuild their indexes,
and are replaced, meanwhile: before 3 December a rebuild at 100,000 services held every
request of its worker for up to 1.1 s while Python's collector walked both indexes).

``--reload`` then deploys twice while three threads ask the patch every 20 ms: first with
``directory reload`` (the master replaces the workers one at a time, each new worker ready
before an old one stops), then with ``kill -HUP`` (gunicorn starts new workers and stops
the old ones at once, and requests wait for the new workers' warm start): for each, the
seconds until every worker was new and had made its index, and the patches' median, p99
and slowest meanwhile, and any that failed.

Usage::

    .venv/bin/python scripts/bench_start.py --database-url sqlite:////path/to/100k.sqlite3 \
        [--workers 2] [--first 8] [--code DIR ...] [--runs 1] [--after-import] [--reload] \
        [--data-dir ../shared/data]
    .venv/bin/python scripts/bench_start.py --postgres [--code DIR ...] [--runs 2]

Exit status 0 when it ran; 1 on any error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

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
    worker_memory,
)
from bench_api import patch_path, sample_postcodes  # noqa: E402

MADE = re.compile(r"worker (\d+) made its directory index in ([0-9.]+) s")


def run(args: argparse.Namespace, code: Path) -> dict[str, object]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    instance = Path(tempfile.mkdtemp(prefix="bench-start-"))
    env = directory_env(
        args.database_url, instance, args.data_dir, log_level="INFO", data_version_ttl="1"
    )
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
        after = (
            _after_import(args, code, env, base, timed, paths[0], server.pid)
            if args.after_import
            else {}
        )
        reloads = _reloads(args, code, env, base, paths[0], server.pid, log) if args.reload else {}
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
        "after_import_s": after,
        "reloads": reloads,
    }


def _reloads(
    args: argparse.Namespace, code: Path, env: dict[str, str], base: str, patch: str,
    server: int, log: Path,
) -> dict[str, Any]:  # fmt: skip
    """A deploy's two ways while patches are asked throughout (3 threads, every 20 ms):
    ``directory reload`` (the workers replaced one at a time, each new one ready before
    an old one stops) and then ``kill -HUP`` (gunicorn starts new workers and stops the
    old ones at once): for each, the seconds until every worker was new and had made its
    index, and the patches' times meanwhile."""
    found: dict[str, Any] = {}
    for way in ("reload", "hup"):
        workers = set(worker_memory(server))
        made = len(MADE.findall(log.read_text()))
        with _Poller(base + patch, args.timeout) as polled:
            started = time.monotonic()
            if way == "reload":
                done = subprocess.run(
                    [venv_tool("directory"), "reload", "--pid", str(server)],
                    cwd=code, env=env, capture_output=True, text=True, check=False,
                )  # fmt: skip
                if done.returncode != 0:
                    raise BenchError(f"directory reload failed:\n{done.stdout}{done.stderr}")
            else:
                os.kill(server, signal.SIGHUP)
            # until no old worker is left and every new one has made its index
            while (
                workers & set(worker_memory(server))
                or len(MADE.findall(log.read_text())) < made + args.workers
            ):
                if time.monotonic() - started > args.timeout:
                    raise BenchError(f"{way}: the workers were not replaced in time")
                time.sleep(0.05)
            seconds = time.monotonic() - started
            time.sleep(1)  # and a second of patches from the new workers
        found[way] = {"seconds": round(seconds, 1), "polled": polled.summary()}
    return found


#: the one service (with a grant) ``--after-import`` adds, in the directory template
AFTER_IMPORT = (
    "Service ref,Service name,Themes,Organisation name,Coverage,Last verified,Status,"
    "Grant ref,Funder,Amount,Start date,End date\n"
    "{ref},Bench service {ref},Youth diversion,Bench organisation,Kingston,2026-01-01,active,"
    "{ref}-G,Kingston Council,1000,2026-04-01,2027-03-31\n"
)


def _after_import(
    args: argparse.Namespace, code: Path, env: dict[str, str], base: str,
    timed: Callable[[str], float], patch: str, server: int,
) -> dict[str, Any]:  # fmt: skip
    """Ask each route of a patch, the funding summary and an HSDS lookup by id until every
    worker has answered it, import one service with a grant (``directory import``, that
    tree's code), wait until the workers have seen the new data version, then send each
    route's first requests after it at once (2 per worker), route by route, and last an
    HSDS lookup of the new service's id: the seconds each took."""
    from directory.usecases.hsds import service_uuid

    status, body = http_get(base + "/api/v1/hsds/services?per_page=1", timeout=args.timeout)
    if status != 200:
        raise BenchError(f"HSDS services: {status} {body[:300]!r}")
    known = json.loads(body)["contents"][0]["id"]
    routes = {
        "patch": patch,
        "funding summary": "/api/v1/funding/summary?by=borough",
        "HSDS service, known id": f"/api/v1/hsds/services/{known}",
    }
    for _ in range(2):  # every worker has answered each route before the import
        for route in routes.values():
            with ThreadPoolExecutor(2 * args.workers) as pool:
                list(pool.map(timed, [route] * 2 * args.workers))
    before = worker_memory(server)
    tag = _etag(base + patch, args.timeout)
    ref = f"BENCH-AFTER-{time.time_ns()}"
    path = Path(env["DIRECTORY_INSTANCE_DIR"]) / "after-import.csv"
    path.write_text(AFTER_IMPORT.format(ref=ref), encoding="utf-8")
    done = subprocess.run(
        [venv_tool("directory"), "import", str(path), "--source", "bench-after-import", "-q"],
        cwd=code, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"directory import failed:\n{done.stdout}{done.stderr}")
    time.sleep(float(env["DIRECTORY_DATA_VERSION_TTL"]) + 0.5)  # every worker sees it
    routes["HSDS service, the new id"] = f"/api/v1/hsds/services/{service_uuid(ref)}"
    times: dict[str, Any] = {}
    for name, route in routes.items():
        with ThreadPoolExecutor(2 * args.workers) as pool:
            times[name] = [round(t, 3) for t in pool.map(timed, [route] * 2 * args.workers)]
    with _Poller(base + patch, args.timeout) as polled:
        _rebuilt_and_replaced(args, base, patch, tag, server, before, times)
    times["polled"] = polled.summary()
    return times


def _rebuilt_and_replaced(
    args: argparse.Namespace, base: str, patch: str, tag: str, server: int,
    before: dict[int, tuple[float, float]], times: dict[str, Any],
) -> None:  # fmt: skip
    """Wait until every worker's patch is of the new version, then until the master has
    replaced the workers the import left grown; into ``times``: how long, and the RSS."""
    # until every worker's patch has the new data version's ETag (its index rebuilt)
    started, new = time.monotonic(), 0
    while new < 4 * args.workers and time.monotonic() - started < args.timeout:
        new = new + 1 if _etag(base + patch, args.timeout) != tag else 0
        time.sleep(0.05)
    times["rebuilt_s"] = round(time.monotonic() - started, 1)
    after = worker_memory(server)
    times["memory_mb"] = [
        (round(before[pid][0]), round(before[pid][1]), round(rss), round(peak))
        for pid, (rss, peak) in sorted(after.items())
        if pid in before
    ]
    # then until the master has replaced every worker the import left grown (none where
    # DIRECTORY_WORKER_RECYCLE_GROWTH is off or none grew that much: --recycle-wait)
    started = time.monotonic()
    while set(before) & set(worker_memory(server)):
        if time.monotonic() - started > args.recycle_wait:
            break
        time.sleep(0.5)
    times["replaced_s"] = round(time.monotonic() - started, 1)
    times["replaced_mb"] = {
        pid: round(rss) for pid, (rss, _) in sorted(worker_memory(server).items())
    }


class _Poller:
    """``threads`` threads asking ``url`` every ``every`` seconds while the block runs: each
    answer's seconds, and what failed (a status other than 200, or an error)."""

    def __init__(self, url: str, timeout: float, threads: int = 3, every: float = 0.02) -> None:  # fmt: skip
        self.url, self.timeout, self.every = url, timeout, every
        self.seconds: list[float] = []
        self.slowest_at = 0.0  # when the slowest was asked, in seconds from the block's start
        self._started = time.monotonic()
        self._slowest = 0.0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._ask, daemon=True) for _ in range(threads)]

    def __enter__(self) -> _Poller:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout)

    def _ask(self) -> None:
        while not self._stop.is_set():
            begun = time.monotonic()
            try:
                status, _ = http_get(self.url, timeout=self.timeout)
                if status != 200:
                    self.failed.append(str(status))
            except Exception as error:  # noqa: BLE001 - a worker replaced mid-answer, say
                self.failed.append(f"{type(error).__name__}: {error}")
            took = time.monotonic() - begun
            if took > self._slowest:
                self._slowest, self.slowest_at = took, begun - self._started
            self.seconds.append(took)
            self._stop.wait(self.every)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.seconds) or [0.0]
        return {
            "answered": len(self.seconds) - len(self.failed),
            "failed": self.failed[:5],
            "median_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 1),
            "slowest_ms": round(ordered[-1] * 1000, 1),
            "slowest_at_s": round(self.slowest_at, 1),
        }


def _etag(url: str, timeout: float) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (127.0.0.1 only)
        response.read()
        return str(response.headers["ETag"])


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
    parser.add_argument(
        "--recycle-wait", type=positive(float), default=120.0,
        help="after an import, seconds to wait for the workers to be replaced",
    )  # fmt: skip
    parser.add_argument(
        "--after-import", action="store_true",
        help="then import one service (it writes to the database) and time the first requests after it",
    )  # fmt: skip
    parser.add_argument(
        "--reload", action="store_true",
        help="then reload the workers, by `directory reload` and by `kill -HUP`, while patches are asked",
    )  # fmt: skip
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
            after = result["after_import_s"]
            assert isinstance(after, dict)
            memory = after.pop("memory_mb", [])
            rebuilt = after.pop("rebuilt_s", None)
            replaced_s, replaced = after.pop("replaced_s", None), after.pop("replaced_mb", {})
            polled = after.pop("polled", None)
            for name, seconds in after.items():
                print(
                    f"after an import, {name}: slowest {max(seconds):.3f} s, "
                    f"median {statistics.median(seconds):.3f} s ({seconds})",
                    flush=True,
                )
            if memory:
                print(f"every worker's patch of the new version {rebuilt} s after those")
                for rss, peak, rss_after, peak_after in memory:
                    print(
                        f"worker RSS {rss} MB (peak {peak}) before the import, {rss_after} MB "
                        f"(peak {peak_after}) once rebuilt",
                        flush=True,
                    )
                print(f"{replaced_s} s later, the workers (pid: RSS MB): {replaced}", flush=True)
            if polled:
                print(
                    "patches every 20 ms from 3 threads meanwhile (ms): "
                    f"{polled['answered']} answered, failed {polled['failed'] or 'none'}, "
                    f"median {polled['median_ms']}, p99 {polled['p99_ms']}, "
                    f"slowest {polled['slowest_ms']} (asked {polled['slowest_at_s']} s in; the "
                    f"rebuilds done {rebuilt} s in, the replacements {replaced_s} s after that)",
                    flush=True,
                )
            reloads = result["reloads"]
            assert isinstance(reloads, dict)
            for way, found in reloads.items():
                polled = found["polled"]
                name = "`directory reload`" if way == "reload" else "`kill -HUP`"
                print(
                    f"{name}: every worker new and ready after {found['seconds']} s; patches "
                    f"every 20 ms from 3 threads meanwhile (ms): {polled['answered']} answered, "
                    f"failed {polled['failed'] or 'none'}, median {polled['median_ms']}, "
                    f"p99 {polled['p99_ms']}, slowest {polled['slowest_ms']} (asked "
                    f"{polled['slowest_at_s']} s in)",
                    flush=True,
                )


if __name__ == "__main__":
    sys.exit(main())
