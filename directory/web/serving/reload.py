"""``directory reload``'s side of a rolling reload: find the servers serving from an
instance directory, leave each master a request, and wait for its answer. The master's
side, replacing the workers, is :meth:`directory.web.serving.recycle.Recycler.reload`."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from directory.settings import PREFIX
from directory.store.db import absolute_sqlite_url
from directory.web.serving.recycle import Markers


class ReloadError(Exception):
    """A reload that could not be asked for or answered: the message says why."""


def masters(instance_dir: Path) -> list[int]:
    """The pids of the gunicorn masters serving from ``instance_dir`` now (each makes a
    directory for its workers' markers; one a killed master left is not counted)."""
    found = []
    for path in instance_dir.glob("workers-*"):
        pid = path.name.removeprefix("workers-")
        if pid.isdigit() and is_gunicorn(int(pid)):
            found.append(int(pid))
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def is_gunicorn(pid: int) -> bool:
    """Whether ``pid`` is alive and a gunicorn (a killed master's pid may be another
    process's since); where ``/proc`` cannot say, whether it is alive."""
    if not alive(pid):
        return False
    try:
        return b"gunicorn" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


#: the settings read as a path, from the working directory of the process reading them
PATH_SETTINGS = tuple(PREFIX + name for name in ("INSTANCE_DIR", "GEODATA_DIR", "SOURCES_FILE"))


def settings_to_give(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``DIRECTORY_*`` settings of ``environ`` as ``reload --settings`` gives them: a
    relative path in them (a directory, a file, an SQLite database's file) made absolute
    from this command's working directory, where it checked them, so that the new workers
    read the very files checked, whatever directory the server runs in."""
    given = {name: value for name, value in environ.items() if name.startswith(PREFIX)}
    for name in PATH_SETTINGS:
        if (value := given.get(name, "").strip()) and not os.path.isabs(value):
            given[name] = str(Path(value).resolve())  # (as Settings.from_env reads it)
    if url := given.get(PREFIX + "DATABASE_URL", "").strip():
        given[PREFIX + "DATABASE_URL"] = absolute_sqlite_url(url)
    return given


def ask(
    instance_dir: Path, servers: list[int], settings: dict[str, str] | None = None
) -> dict[int, Path]:
    """Leave each server's master a reload request (with the ``DIRECTORY_*`` environment
    its new workers are to have, if ``settings``: then only if every one can take them,
    and this user can give them); by master, where its answer will be."""
    if settings is not None:
        check_settings_can_be_given(instance_dir, servers)
    token = f"{time.time_ns()}-{os.getpid()}"  # (the master takes the requests in name order)
    answers: dict[int, Path] = {}
    try:
        for master in servers:
            try:
                answers[master] = Markers(instance_dir, master).request_reload(token, settings)
            except OSError as error:
                raise ReloadError(
                    f"Cannot ask server {master} for a reload ({error}); the requests made "
                    "were taken back"
                ) from None
    except BaseException:  # (an error, or a TERM meanwhile): the requests made are taken back
        for answer in answers.values():
            Markers.request_of(answer).unlink(missing_ok=True)
        raise
    return answers


def check_settings_can_be_given(instance_dir: Path, servers: list[int]) -> None:
    """ReloadError unless every server can take settings, from this user."""
    for master in servers:
        _check_settings_can_be_given(Markers(instance_dir, master), master)


def _check_settings_can_be_given(markers: Markers, master: int) -> None:
    if not markers.takes_settings():
        raise ReloadError(
            f"Server {master} was started before `directory reload --settings` existed and "
            "cannot take new settings: restart it once. Nothing was reloaded."
        )
    owner = markers.dir.stat().st_uid
    if os.geteuid() not in (0, owner):
        raise ReloadError(
            f"Server {master} runs as user {owner}: run `directory reload --settings` as that "
            "user (or root), so that only it can read them. Nothing was reloaded."
        )


def check_as_servers_users(
    instance_dir: Path, servers: list[int], check: Callable[[], None]
) -> None:
    """Run ``check`` (``reload --settings``' check that the settings reach their database)
    with the rights and environment the servers' new workers will have. The environment is
    the master's own (read from ``/proc``; its ``HOME``, ``PGPASSFILE``, ``PGHOST`` … as
    its workers inherit them) with this command's ``DIRECTORY_*`` settings in place of its
    own, so that a ``~/.pgpass`` or a libpq default is the workers', not this command's;
    where it cannot be read, this command's. Run as root for a server of another user, it
    runs in a child process that has become that user (its uid, group and groups): so a
    PostgreSQL reached by peer authentication, or an SQLite file's permissions, answer as
    they will to the workers, and what the check makes (an SQLite database's ``-wal`` and
    ``-shm`` files) is that user's, not root's. Otherwise it runs here, this command's
    environment put back after it. Once per user and environment; ReloadError with the
    check's message, naming the user, if it fails in a child."""
    given = settings_to_give(os.environ)
    checks: dict[tuple[int, int, frozenset[tuple[str, str]] | None], None] = {}
    for master in servers:
        try:
            folder = Markers(instance_dir, master).dir.stat()
        except OSError:  # (stopped since it was found: asking it will say so)
            continue
        environment = workers_environment(master, given)
        key = None if environment is None else frozenset(environment.items())
        checks.setdefault((folder.st_uid, folder.st_gid, key), None)
    if not checks:
        check()
    root = os.geteuid() == 0
    for uid, gid, environment in checks:
        env = None if environment is None else dict(environment)
        if not root or uid == 0:  # (the server's own user, or root's server: root's rights)
            with _environment(env):
                check()
            continue
        failed = _run_as(uid, gid, check, env)
        if failed is not None:
            raise ReloadError(f"As user {_user_name(uid)}, the servers' user: {failed}")


def workers_environment(master: int, given: Mapping[str, str]) -> dict[str, str] | None:
    """The environment a master's new workers take with ``given`` settings: the master's
    (as it was started; gunicorn's master never changes its own) without its
    ``DIRECTORY_*`` variables, with ``given``. None where the master's cannot be read
    (another user's, for a user not root; a system without ``/proc``)."""
    try:
        raw = Path(f"/proc/{master}/environ").read_bytes()
    except OSError:
        return None
    environment: dict[str, str] = {}
    for item in raw.split(b"\0"):
        name, equals, value = item.partition(b"=")
        if equals and name:
            environment[os.fsdecode(name)] = os.fsdecode(value)
    kept = {name: value for name, value in environment.items() if not name.startswith(PREFIX)}
    return {**kept, **given}


@contextlib.contextmanager
def _environment(environment: Mapping[str, str] | None) -> Iterator[None]:
    """This process's environment made ``environment`` (None: left as it is) for the
    block, and put back after it."""
    if environment is None:
        yield
        return
    kept = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(kept)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _run_as(
    uid: int, gid: int, check: Callable[[], None], environment: Mapping[str, str] | None = None
) -> str | None:
    """``check`` in a child process running as ``uid``: with its primary group and groups
    where the system knows the user, else with ``gid`` alone, and with ``environment``
    when given; None if it passed, else its message (or why the child could not become
    the user)."""
    try:
        user = pwd.getpwuid(uid)
        group, groups = user.pw_gid, os.getgrouplist(user.pw_name, user.pw_gid)
    except KeyError:  # (not in the system's users: its folder's group alone)
        group, groups = gid, [gid]
    try:
        read_end, write_end = os.pipe()
    except OSError as error:
        raise ReloadError(f"Cannot check as user {uid}: {error.strerror}") from None
    try:
        child = os.fork()
    except OSError as error:
        os.close(read_end)
        os.close(write_end)
        raise ReloadError(f"Cannot check as user {uid}: {error.strerror}") from None
    if child == 0:  # the child: become the user, check, say why not, and exit at once
        status = 1
        try:
            os.close(read_end)
            os.setgroups(groups)
            os.setgid(group)
            os.setuid(uid)
            if environment is not None:
                os.environ.clear()
                os.environ.update(environment)
            check()
            status = 0
        except BaseException as error:  # noqa: BLE001 - said to the parent
            message = getattr(error, "message", None) or str(error) or type(error).__name__
            with contextlib.suppress(BaseException):
                os.write(write_end, message.encode("utf-8", "replace")[:8000])
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode("utf-8", "replace")
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return None
    return message or "the check failed"


def wait(
    answers: dict[int, Path], timeout: float, *, settings: bool = False
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each server's answer as it comes (what :class:`~directory.web.serving.recycle.Reloaded`
    holds), or its failure as ``{"failed": ...}``; raises ReloadError after ``timeout``
    seconds with answers still to come. Stopped before every answer came (the timeout, an
    interrupt, a ``TERM``), it removes the requests still pending: one not begun then never
    starts, and what it held (settings, passwords and all) is not left behind. With
    ``settings`` (the requests gave some), a server that reloaded without taking them
    failed."""
    pending = dict(answers)
    deadline = time.monotonic() + timeout
    try:
        while pending:
            for master, answer in list(pending.items()):
                found = _answer(master, answer)
                if found is not None:
                    del pending[master]
                    if settings and not found.get("failed") and not found.get("settings"):
                        found["failed"] = "the server reloaded its workers without the settings"
                    yield master, found
            if not pending:
                return
            if time.monotonic() > deadline:
                raise ReloadError(
                    f"Not reloaded after {timeout:.0f} s: server(s) "
                    f"{', '.join(map(str, pending))} had not answered. A reload under way goes "
                    "on (the server's log says when it is done); one not begun will not start."
                )
            time.sleep(0.2)
    finally:
        for answer in pending.values():
            Markers.request_of(answer).unlink(missing_ok=True)
            answer.unlink(missing_ok=True)  # (one written since the last look)
            Markers.unanswered(answer).unlink(missing_ok=True)


#: a server gone before it answered
STOPPED = {"failed": "the server stopped before it was reloaded"}


def _answer(master: int, answer: Path) -> dict[str, Any] | None:
    """The master's answer, its failure, or None while it is still to come."""
    if answer.exists():
        try:
            found: dict[str, Any] = json.loads(answer.read_text("utf-8"))
        except (OSError, ValueError) as error:
            found = {"failed": f"its answer could not be read: {error}"}
        answer.unlink(missing_ok=True)
        return found
    unanswered = Markers.unanswered(answer)
    if unanswered.exists():
        unanswered.unlink(missing_ok=True)
        return {
            "failed": f"the server took the request but could not write its answer in "
            f"{answer.parent} (is its disk full?); its log says whether the workers were "
            "replaced"
        }
    if not alive(master):
        return dict(STOPPED)
    request = Markers.request_of(answer)
    # the master writes its answer before it removes the request, so one of them is there
    # (the answer, if it came between the two looks, is read at the next)
    if request.exists() or answer.exists():
        return None
    return {
        "failed": "the server did not take the request: one started before `directory "
        "reload` existed removes it; restart that server once"
    }
