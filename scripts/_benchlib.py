"""Helpers shared by the HTTP benchmarks: a fresh database, gunicorn, wrk and its output.

Standard library only (plus the project's own console scripts in the running venv).

* :func:`init_database` makes a fresh SQLite file and runs ``directory init --from DIR``.
* :func:`serve` is a context manager that starts gunicorn on a free local port, waits for
  ``GET /ready`` to answer 200 and yields the base URL; it always stops gunicorn.
  :func:`serving` yields the master's pid as well, for :func:`process_tree_cpu` (the CPU
  the server used, from ``/proc``); :func:`children_cpu` is a finished ``wrk``'s.
* :func:`run_wrk` runs ``wrk --latency`` against one URL or round-robin over many paths
  (through a generated Lua script) and returns the parsed figures as a dict.
* :func:`markdown_table` renders rows of figures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import resource
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from directory.web.serving.recycle import status_mb

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN_DIR = Path(sys.executable).parent
WRK = os.environ.get("WRK", "wrk")


class BenchError(RuntimeError):
    """The benchmark could not be run, or its result is invalid (e.g. non-2xx responses)."""


# --------------------------------------------------------------------------- environment


def venv_tool(name: str) -> str:
    """A console script installed next to the running interpreter (the project's venv)."""
    path = BIN_DIR / name
    if not path.exists():
        raise BenchError(f"{name} is not installed in {BIN_DIR}")
    return str(path)


def default_data_dir() -> Path:
    configured = os.environ.get("DIRECTORY_GEODATA_DIR")
    return (
        Path(configured).resolve()
        if configured
        else (REPO_ROOT.parent / "shared" / "data").resolve()
    )


def generated_directory(n: int, seed: int, data_dir: Path, cache: Path) -> Path:
    """The template CSV of ``n`` services ``make_directory.py`` generates with ``seed``, made
    once into ``cache`` and read from there after."""
    from make_directory import write

    path = cache / f"directory-{n}-seed{seed}.csv"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"generating {n:,} services -> {path} ...", file=sys.stderr, flush=True)
        partial = path.with_suffix(".part.csv")
        write(partial, n, seed, data_dir)
        partial.replace(path)
    return path


def positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    """An argparse type: a number of ``kind`` above zero."""

    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        return value

    return parse


def directory_env(
    database_url: str, instance_dir: Path, data_dir: Path, **extra: str
) -> dict[str, str]:
    """os.environ with the DIRECTORY_* settings pointing at one database (others dropped)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIRECTORY_")}
    env.update(
        DIRECTORY_DATABASE_URL=database_url,
        DIRECTORY_INSTANCE_DIR=str(instance_dir),
        DIRECTORY_GEODATA_DIR=str(data_dir),
        DIRECTORY_LOG_LEVEL="WARNING",
    )
    env.update({f"DIRECTORY_{k.upper()}": v for k, v in extra.items()})
    return env


def init_database(env: Mapping[str, str], data_dir: Path) -> float:
    """``directory init --from DATA_DIR`` in a subprocess; returns the seconds it took."""
    started = time.perf_counter()
    done = subprocess.run(
        [venv_tool("directory"), "init", "--from", str(data_dir)],
        env=dict(env),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(
            f"`directory init` failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return time.perf_counter() - started


def load_demo(env: Mapping[str, str], data_dir: Path) -> float:
    """``directory demo load --from DATA_DIR`` in a subprocess; returns the seconds it took."""
    started = time.perf_counter()
    done = subprocess.run(
        [venv_tool("directory"), "demo", "load", "--from", str(data_dir)],
        env=dict(env), cwd=REPO_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(
            f"`directory demo load` failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return time.perf_counter() - started


@contextlib.contextmanager
def throwaway_postgres(database: str) -> Iterator[str]:
    """A database URL on a PostgreSQL 15 cluster started for the benchmark (the tests' own
    throwaway cluster), stopped and removed afterwards."""
    from tests.postgres import PostgresCluster

    cluster = PostgresCluster().start()
    try:
        yield cluster.create_database(database)
    finally:
        cluster.stop()


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "wrk": wrk_version(),
    }


def wrk_version() -> str:
    try:
        out = subprocess.run([WRK, "-v"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return "not installed"
    return (out.stdout + out.stderr).splitlines()[0].split(" Copyright")[0].strip()


# --------------------------------------------------------------------------- gunicorn


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (127.0.0.1 only)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _stop(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM gunicorn's master (graceful), then SIGKILL its process group after ``timeout``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    # gunicorn runs in its own session, so its group id is the master's pid: this reaches
    # any worker left behind and nothing else.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


#: this project's WSGI app, and ``directory serve``'s gunicorn settings for it
OUR_APP = "directory:create_app()"
OUR_GUNICORN_CONFIG = "python:directory.web.serving.gunicorn"


def _stat_ticks(pid: int) -> tuple[int, int, int]:
    """(own CPU, children's CPU reaped, parent pid) of a process, in clock ticks
    (``/proc/<pid>/stat``: utime + stime, cutime + cstime, ppid)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        text = stat.read()
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 on
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return utime + stime, cutime + cstime, int(fields[1])


def process_tree_cpu(pid: int) -> float:
    """Seconds of CPU (user and system) used so far by process ``pid``, its children alive
    and the children it has reaped (gunicorn's master, its workers, and any worker it
    restarted), from ``/proc`` (Linux). A difference of two readings is the CPU a run cost
    the server, whoever shared the machine's cores with it."""
    ticks = os.sysconf("SC_CLK_TCK")
    own, reaped, _ = _stat_ticks(pid)
    total = own + reaped
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == pid:
            continue
        try:
            child_own, _, parent = _stat_ticks(int(entry.name))
        except (OSError, ValueError, IndexError):  # gone meanwhile, or not ours to read
            continue
        if parent == pid:
            total += child_own
    return total / ticks


def worker_memory(pid: int) -> dict[int, tuple[float, float]]:
    """Each child of process ``pid`` (gunicorn's workers): its RSS now and its peak RSS
    (``VmRSS``, ``VmHWM`` of ``/proc/<child>/status``), in MB."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if _stat_ticks(int(entry.name))[2] != pid:
                continue
        except (OSError, ValueError, IndexError):  # gone
            continue
        found = status_mb(entry.name, "VmRSS", "VmHWM")  # None: gone (or a zombie)
        if found is not None:
            out[int(entry.name)] = (found[0], found[1])
    return out


def children_cpu() -> float:
    """Seconds of CPU (user and system) used so far by this process's reaped children (a
    ``wrk`` run once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Served:
    """A gunicorn started by :func:`serving`: its base URL and its master's pid."""

    base_url: str
    pid: int

    def cpu(self) -> float:
        """Seconds of CPU the master and its workers have used so far."""
        return process_tree_cpu(self.pid)


@contextlib.contextmanager
def serve(*args: Any, **kwargs: Any) -> Iterator[str]:
    """:func:`serving`, yielding only the base URL."""
    with serving(*args, **kwargs) as served:
        yield served.base_url


@contextlib.contextmanager
def serving(
    env: Mapping[str, str],
    workers: int = 2,
    *,
    app: str = OUR_APP,
    ready_path: str = "/ready",
    startup_timeout: float = 60.0,
    stop_timeout: float = 10.0,
    extra_args: Sequence[str] = (),
    gunicorn: str | None = None,
) -> Iterator[Served]:
    """Run gunicorn (sync workers, no access log) on a free port; yield its base URL
    (``http://127.0.0.1:PORT``) and master's pid.

    Waits until ``ready_path`` answers 200. gunicorn is stopped on leaving the block,
    whatever happens inside it (errors, KeyboardInterrupt). ``gunicorn`` names another
    venv's gunicorn (another application, e.g. a peer benchmarked against this one).

    This project's app is served with ``directory serve``'s gunicorn settings
    (``directory/web/serving/gunicorn.py``), so a benchmark measures what production runs:
    each worker makes its directory index before it takes a request (the warm start), and
    the block is entered when the workers can answer. The arguments here (workers, port,
    timeouts) take precedence over that file's."""
    ours = gunicorn is None and app == OUR_APP
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    cmd = [
        gunicorn or venv_tool("gunicorn"),
        "--workers", str(workers),
        "--worker-class", "sync",
        "--bind", f"127.0.0.1:{port}",
        "--error-logfile", "-",
        "--log-level", "warning",
        "--graceful-timeout", str(int(stop_timeout)),
        # as `directory serve`: a worker silent this long is restarted (gunicorn's default
        # of 30 s once killed one making its index at 100,000 services on a loaded run)
        "--timeout", "60",
        *(("--config", OUR_GUNICORN_CONFIG) if ours else ()),
        *extra_args,
        app,
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        env=dict(env),
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise BenchError(f"gunicorn exited with {proc.returncode}:\n{_tail(log.name)}")
            try:
                status, body = http_get(base_url + ready_path, timeout=2.0)
                if status == 200:
                    break
            except OSError:
                status, body = None, b""
            if time.monotonic() > deadline:
                raise BenchError(
                    f"{base_url}{ready_path} not ready after {startup_timeout:.0f} s "
                    f"(last status {status}: {body[:300]!r})\n{_tail(log.name)}"
                )
            time.sleep(0.1)
        yield Served(base_url, proc.pid)
    finally:
        _stop(proc, stop_timeout)
        log.close()
        with contextlib.suppress(OSError):
            os.unlink(log.name)


def _tail(path: str, lines: int = 40) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- wrk

# Reads the request paths (one a line, already URL-encoded) into a table, pre-formats a
# request for each, and sends them round-robin, each thread starting at its own offset so
# the threads do not send the same sequence. Counts non-2xx responses per thread and, in
# done(), prints the totals on one line the parser below reads.
_LUA = r"""
local paths_file = %(paths_file)s
local nthreads = %(threads)d
local count_status = %(count_status)s

local paths = {}
for line in io.lines(paths_file) do
  if #line > 0 then paths[#paths + 1] = line end
end

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  threads[#threads + 1] = thread
end

local requests, n, i = {}, 0, 0
non2xx, responses, first_bad = 0, 0, ""

function init(args)
  n = #paths
  for k = 1, n do requests[k] = wrk.format("GET", paths[k]) end
  i = (id * math.floor(n / nthreads)) %% n
end

function request()
  i = i + 1
  if i > n then i = 1 end
  return requests[i]
end

if count_status then
  function response(status, headers, body)
    responses = responses + 1
    if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if first_bad == "" then first_bad = tostring(status) end
    end
  end
end

function done(summary, latency, reqs)
  local bad, seen, example = 0, 0, ""
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
    seen = seen + t:get("responses")
    local e = t:get("first_bad")
    if example == "" and e ~= nil then example = e end
  end
  io.write(string.format("BENCH paths=%%d counted=%%s responses=%%d non2xx=%%d first_bad=%%s\n",
    #paths, tostring(count_status), seen, bad, example))
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_DURATION = re.compile(r"^([\d.]+)(us|ms|s|m|h)$")


def _ms(text: str) -> float:
    match = _DURATION.match(text.strip())
    if not match:
        raise BenchError(f"cannot read wrk duration {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    """The figures of ``wrk --latency`` output (latencies in milliseconds)."""
    result: dict[str, Any] = {}
    if m := re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M):
        result["rps"] = float(m.group(1))
    else:
        raise BenchError(f"no Requests/sec in wrk output:\n{output}")
    if m := re.search(r"^\s*(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read", output, re.M):
        result["requests"] = int(m.group(1))
        result["seconds"] = _ms(m.group(2)) / 1e3
    if m := re.search(r"^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)", output, re.M):
        result["latency_mean_ms"] = _ms(m.group(1))
        result["latency_stdev_ms"] = _ms(m.group(2))
        result["latency_max_ms"] = _ms(m.group(3))
    for pct, value in re.findall(r"^\s*(50|75|90|99)%\s+(\S+)", output, re.M):
        result[f"p{pct}_ms"] = _ms(value)
    for key in ("p50_ms", "p75_ms", "p90_ms", "p99_ms"):
        if key not in result:
            raise BenchError(
                f"no latency distribution in wrk output (was --latency given?):\n{output}"
            )
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    result["errors_4xx_5xx"] = int(m.group(1)) if m else 0
    socket_errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    if m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        socket_errors = dict(zip(socket_errors, map(int, m.groups()), strict=True))
    result["socket_errors"] = socket_errors
    if m := re.search(
        r"^BENCH paths=(\d+) counted=(\w+) responses=(\d+) non2xx=(\d+) first_bad=(.*)$",
        output,
        re.M,
    ):
        result["paths"] = int(m.group(1))
        if m.group(2) == "true":
            result["responses_counted"] = int(m.group(3))
            result["non2xx"] = int(m.group(4))
            result["first_bad"] = m.group(5).strip() or None
    return result


def run_wrk(
    url_base: str,
    paths: Sequence[str] | None,
    duration: float,
    connections: int,
    threads: int,
    *,
    count_status: bool = True,
    timeout: str = "5s",
    check: bool = True,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``wrk --latency`` for ``duration`` s: the parsed figures, plus ``command`` and ``output``.

    ``paths`` None hits ``url_base`` itself; otherwise the (URL-encoded) paths are sent
    round-robin through a generated Lua script (a single path is fine too, so two runs can
    share the same client-side cost). With paths, ``count_status`` (default) adds a Lua
    ``response`` callback counting every non-2xx status, 3xx included; it costs the client a
    copy of every body into Lua, which shows in throughput when wrk shares the server's
    cores and bodies are large. wrk's own "Non-2xx or 3xx responses" line (statuses >= 400)
    is parsed always.
    With ``check`` any non-2xx response, or a socket error other than a read error, raises
    :class:`BenchError`. ``headers`` go on every request (``Accept-Encoding: gzip``, say)."""
    threads = max(1, min(threads, connections))
    cmd = [
        WRK,
        "--latency",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration:g}s",
        f"--timeout={timeout}",
        *(arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")),
    ]
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        url = url_base
        if paths is not None:
            if not paths:
                raise BenchError("run_wrk: empty list of paths")
            bad = [p for p in paths if not p.startswith("/") or any(c.isspace() for c in p)]
            if bad:
                raise BenchError(f"paths must start with / and be URL-encoded, e.g. not {bad[0]!r}")
            paths_file = Path(tmp, "paths.txt")
            paths_file.write_text("\n".join(paths) + "\n")
            script = Path(tmp, "paths.lua")
            script.write_text(
                _LUA
                % {
                    "paths_file": _lua_string(str(paths_file)),
                    "threads": threads,
                    "count_status": str(count_status).lower(),
                }
            )
            cmd += ["-s", str(script)]
            url = url_base.rstrip("/") + "/"
        cmd.append(url)
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, check=False, timeout=duration + 60
            )
        except FileNotFoundError:
            raise BenchError(f"{WRK} is not installed") from None
    if done.returncode != 0:
        raise BenchError(
            f"wrk failed ({done.returncode}): {shlex.join(cmd)}\n{done.stdout}{done.stderr}"
        )
    output = done.stdout + done.stderr
    result = parse_wrk(output)
    result["command"] = shlex.join(cmd)
    result["output"] = output
    if check:
        check_wrk(result, url)
    return result


def check_wrk(result: Mapping[str, Any], what: str) -> None:
    """Raise if a run saw error statuses, or lost requests to connect/write/timeout errors.

    (Read errors are tolerated: with gunicorn's sync workers every response closes its
    connection, and wrk may count a close racing its next write as one.)"""
    problems = []
    if result.get("errors_4xx_5xx"):
        problems.append(f"{result['errors_4xx_5xx']} responses with status >= 400")
    if result.get("non2xx"):
        problems.append(
            f"{result['non2xx']} non-2xx responses (first status: {result.get('first_bad')})"
        )
    sockets = result.get("socket_errors", {})
    hard = {k: v for k, v in sockets.items() if k != "read" and v}
    if hard:
        problems.append(f"socket errors {hard}")
    if not result.get("requests"):
        problems.append("no requests completed")
    if problems:
        raise BenchError(f"{what}: " + "; ".join(problems) + f"\n{result.get('output', '')}")


# --------------------------------------------------------------------------- reporting


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    right = [all(_numeric(r[i]) for r in cells) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                v.rjust(w) if r else v.ljust(w)
                for v, w, r in zip(values, widths, right, strict=True)
            )
            + " |"
        )

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if r else ("-" * (w + 2))
            for w, r in zip(widths, right, strict=True)
        )
        + "|"
    )
    return "\n".join([line(headers), rule, *(line(r) for r in cells)])


def _numeric(text: str) -> bool:
    return bool(re.fullmatch(r"-?[\d,]+(\.\d+)?", text))
