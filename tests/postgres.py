"""A throwaway PostgreSQL 15 cluster for the tests: initdb, start, drop, on 127.0.0.1.

Never touches a system service. When run as root (CI), the cluster runs as the
``postgres`` system user, because initdb refuses to run as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("DIRECTORY_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
#: a memory file system, where the machine has one writable
SHM = Path("/dev/shm")
#: the room a memory folder must have free to be used: a worker's cluster peaked at about
#: 250 MB (test_import.py and test_data_refresh.py on PostgreSQL), and up to four workers
#: run at once; a container's /dev/shm is often 64 MB
SHM_FREE_BYTES = 4 << 30


def memory_folder() -> Path | None:
    """/dev/shm when it is a folder this process may write in with SHM_FREE_BYTES free,
    else None (the default temporary folder). The test suite keeps its clusters there: a
    test's copy of the geography database (``CREATE DATABASE … TEMPLATE``) is some 300
    files, and on CI's ext4 disk each copy cost 0.48 s of the server's CPU against 0.06 s
    on tmpfs, hundreds of copies a run. The benchmarks keep theirs on disk, beside
    SQLite's file, as a server's would be."""
    try:
        room = os.statvfs(SHM)
    except OSError:
        return None
    free = room.f_bavail * room.f_frsize
    return SHM if free >= SHM_FREE_BYTES and os.access(SHM, os.W_OK | os.X_OK) else None


class PostgresCluster:
    def __init__(self, parent: Path | None = None) -> None:
        """A cluster not yet made, in a new folder under ``parent`` (default: the
        temporary folder)."""
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(
                f"PostgreSQL binaries not found in {PG_BIN}: install postgresql-15 "
                "(.ci/run does) or set DIRECTORY_TEST_PG_BIN"
            )
        self.root = Path(tempfile.mkdtemp(prefix="directory-pg-", dir=parent))
        self.data = self.root / "data"
        self.port = _free_port()
        self._user: str | None = "postgres" if os.geteuid() == 0 else None
        if self._user:
            record = pwd.getpwnam(self._user)
            os.chown(self.root, record.pw_uid, record.pw_gid)

    def _run(self, *args: str) -> None:
        command = list(args)
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> PostgresCluster:
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        self.resume()
        return self

    def resume(self) -> None:
        """Start the server (again, after :meth:`halt`), on the same port and data."""
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-l",
            str(self.root / "log"),
            "-o",
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c fsync=off -c full_page_writes=off",
            "start",
        )

    def halt(self, mode: str = "immediate") -> None:
        """Stop the server as an outage would (``immediate``: every connection dropped at
        once, no checkpoint), keeping its data for :meth:`resume`."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new empty database, or a copy of ``template`` (which must have no connections)."""
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            # FILE_COPY: the template's files copied as they are, not written through the
            # WAL as PostgreSQL 15's default (WAL_LOG) does: about half the time for the
            # 40 MB geography, and a copy per test adds up
            copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` and whatever connections it still has (a test's copy, at its end:
        the suite made hundreds, 50 MB each, and kept them all until the cluster stopped)."""
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.05)
