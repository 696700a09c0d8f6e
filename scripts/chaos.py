"""Fault injection, bounded and on loopback only: the failures issue 15 found, rerun.

    .venv/bin/python scripts/chaos.py [--services 20000] [--json]

Each scenario starts what it needs (a throwaway PostgreSQL 15 cluster, SQLite files under a
temporary folder, ``directory serve`` on free loopback ports, Debian's nginx when installed)
and takes a few seconds to half a minute:

- **outage**: ``directory serve`` (gunicorn, 2 workers) on PostgreSQL with the demo
  directory, 4 keep-alive clients over postcode, patch, area, services and /ready; the
  cluster stopped at once (``pg_ctl stop -m immediate``) for 2 s and started again; then a
  ``-m fast`` restart. Counted: requests, 5xx other than 503 (and connections dropped), 503s,
  how long clients saw 503s, and the seconds from the database answering again (``pg_ctl
  -w start`` returning) to the last answer that was not a 200 (0: none after).
- **idle clients**: 50 connections that send half a request and 10 that send nothing, held
  open; then 20 requests each of /health and a patch, through nginx (the production set-up)
  and straight to gunicorn (which two such connections stall: reported as the time it took,
  cut off at 3 s).
- **kill -9**: ``directory import`` of a generated directory (``scripts/make_directory.py``)
  killed with SIGKILL mid-write, on SQLite and on PostgreSQL: services before and after
  (nothing half-written), and whether the next import runs at once (the killed writer's lock
  went with it).

It prints one table (``--json``: the rows as JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts._benchlib import (  # noqa: E402
    REPO_ROOT,
    default_data_dir,
    directory_env,
    init_database,
    load_demo,
    markdown_table,
    venv_tool,
)
from tests.postgres import PostgresCluster  # noqa: E402
from tests.servers import NGINX, Load, free_port, get, nginx, serve, settled  # noqa: E402

PATHS = [
    "/api/v1/postcodes/SE1%207PB", "/api/v1/patch?postcode=SE1%207PB&per_page=5",
    "/api/v1/postcodes/KT1%201EU", "/api/v1/patch?postcode=KT1%201EU&per_page=5",
    "/api/v1/postcodes/E1%206AN", "/api/v1/areas/E09000022", "/api/v1/services?per_page=5",
    "/ready",
]  # fmt: skip
PATCH = "/api/v1/patch?postcode=SE1%207PB&per_page=10"
HEADERS = ["scenario", "database", "requests", "5xx (not 503)", "503", "recovery s",
           "rows before", "rows after", "note"]  # fmt: skip


def _recovery(load: Load, up: float) -> float:
    """Seconds from ``up`` to the last answer that was not a 200 (NaN: no recovery)."""
    try:
        return settled(load, up) - up
    except TimeoutError:
        return float("nan")


def outage(cluster: PostgresCluster, env: dict[str, str], tmp: Path) -> list[list[Any]]:
    rows = []
    with serve(env, tmp / "outage.log", workers=2) as base, Load(base, PATHS, clients=4) as load:
        time.sleep(2.0)
        for mode in ("immediate", "fast"):
            start = time.monotonic()
            cluster.halt(mode)
            if mode == "immediate":
                time.sleep(2.0)
            cluster.resume()
            up = time.monotonic()
            recovery = _recovery(load, up)
            answers = load.since(start)
            counts = Counter(a.status for a in answers)
            other = sum(n for status, n in counts.items() if status >= 500 and status != 503)
            refused = [a.at for a in answers if a.status == 503]
            span = f"; 503s for {refused[-1] - refused[0]:.1f} s" if refused else ""
            note = (
                "stopped 2 s (-m immediate)" if mode == "immediate" else "restart (-m fast)"
            ) + span
            rows.append(["outage", "postgresql", len(answers), other + counts.get(0, 0),
                         counts.get(503, 0), round(recovery, 2), "", "", note])  # fmt: skip
    return rows


def _timed(base: str, path: str, timeout: float) -> float:
    start = time.perf_counter()
    try:
        get(base, path, timeout=timeout)
    except OSError:
        return timeout
    return time.perf_counter() - start


def idle_clients(env: dict[str, str], tmp: Path) -> list[list[Any]]:
    rows = []
    with serve(env, tmp / "idle.log", workers=2) as upstream:
        with ThreadPoolExecutor(8) as pool:  # at once, so that both workers build their index
            for _ in range(10):
                list(pool.map(lambda _: get(upstream, PATCH, timeout=60), range(8)))
        targets = [("gunicorn alone", upstream)]
        proxy = None
        if NGINX.exists():
            from directory.web.serving import nginx_site

            port = free_port()
            proxy = nginx(
                nginx_site(f"127.0.0.1:{port}", upstream.removeprefix("http://")), tmp / "nginx"
            )
            proxy.__enter__()
            targets.insert(0, ("nginx → gunicorn", f"http://127.0.0.1:{port}"))
        try:
            for name, base in targets:
                host, port_text = base.removeprefix("http://").split(":")
                held = []
                for i in range(60 if name.startswith("nginx") else 2):
                    sock = socket.create_connection((host, int(port_text)), timeout=5)
                    if i < 50:
                        sock.sendall(b"GET /health HTTP/1.1\r\nHost: directory\r\n")
                    held.append(sock)
                time.sleep(0.3)
                times = [_timed(base, path, 3.0) for _ in range(10) for path in ("/health", PATCH)]
                for sock in held:
                    sock.close()
                worst = max(times)
                rows.append(["idle clients", name, len(times), "", "", "", "", "",
                             f"{len(held)} held open; slowest answer {worst * 1000:,.0f} ms"
                             + (" (cut off: stalled)" if worst >= 3.0 else "")])  # fmt: skip
        finally:
            if proxy is not None:
                proxy.__exit__(None, None, None)
    return rows


def _services(env: dict[str, str]) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(env["DIRECTORY_DATABASE_URL"])
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM service")).scalar_one()
    engine.dispose()
    return int(count)


def kill_import(env: dict[str, str], source: Path, database: str) -> list[Any]:
    before = _services(env)
    started = subprocess.Popen(
        [venv_tool("directory"), "import", str(source), "--source", "chaos", "--quiet"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    time.sleep(4.0)
    running = started.poll() is None
    os.killpg(started.pid, signal.SIGKILL)
    started.wait()
    after = _services(env)
    small = source.with_name("one.csv")
    lines = source.read_text("utf-8").splitlines()
    small.write_text("\n".join(lines[:2]) + "\n", "utf-8")
    t0 = time.monotonic()
    again = subprocess.run(
        [venv_tool("directory"), "import", str(small), "--source", "chaos-next", "--quiet"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    note = ("killed mid-import" if running else "finished before the kill") + (
        f"; next import ran at once ({time.monotonic() - t0:.1f} s)"
        if again.returncode == 0
        else f"; next import failed: {again.stdout[-200:]}"
    )
    return ["kill -9 import", database, "", "", "", "", before, after, note]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=20_000,
                        help="services in the file the kill -9 scenario imports")  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data_dir = default_data_dir()
    rows: list[list[Any]] = []
    with tempfile.TemporaryDirectory(prefix="chaos-") as folder:
        tmp = Path(folder)
        source = REPO_ROOT / ".cache" / "bench_scale" / f"directory-{args.services}-seed1.csv"
        if not source.exists():
            source.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [sys.executable, str(REPO_ROOT / "scripts" / "make_directory.py"), str(source),
                 "--services", str(args.services), "--data-dir", str(data_dir)],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        cluster = PostgresCluster().start()
        try:
            pg_env = directory_env(cluster.create_database("chaos"), tmp / "pg", data_dir)
            init_database(pg_env, data_dir)
            load_demo(pg_env, data_dir)
            rows += outage(cluster, pg_env, tmp)
            rows += idle_clients(pg_env, tmp)
            rows.append(kill_import(pg_env, source, "postgresql"))
        finally:
            cluster.stop()
        sqlite_env = directory_env(f"sqlite:///{tmp / 'chaos.sqlite3'}", tmp / "sq", data_dir)
        init_database(sqlite_env, data_dir)
        rows.append(kill_import(sqlite_env, source, "sqlite"))
    if args.json:
        print(json.dumps([dict(zip(HEADERS, row, strict=True)) for row in rows], indent=2))
    else:
        print(markdown_table(HEADERS, rows))


if __name__ == "__main__":
    main()
