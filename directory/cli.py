"""The `directory` command: a Flask CLI group with the project's operational commands."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import DBAPIError

from directory.app import create_app
from directory.errors import (
    GeodataNotLoadedError,
    KeyRequestError,
    NotFoundError,
    OrganisationMergedError,
    SameOrganisationError,
    WriteLockedError,
)
from directory.ingest.apply import (
    MAX_STORED_PROBLEMS,
    ImportOptions,
    ImportReport,
    WriteRefused,
    database_reason,
    import_batch,
)
from directory.ingest.context import GeographyContext
from directory.ingest.export import batch_from_database, giving360_from_database
from directory.ingest.giving360_write import STANDARD_VERSION
from directory.ingest.records import Problem
from directory.ingest.refresh import (
    LockHeldError,
    RefreshError,
    Source,
    geography_turn,
    lock_holder,
    refresh,
    write_lock,
)
from directory.ingest.run import (
    FORMATS,
    FULL_NEEDS_SOURCE,
    MODES,
    ScratchFullError,
    SourceError,
    record_refused,
    run_import,
)
from directory.ingest.template import HEADINGS, write_template
from directory.progress import QUIET, Progress
from directory.settings import Settings, SettingsError, shown_url
from directory.store.db import (
    READ_ONLY,
    Database,
    Migrations,
    is_not_initialised,
    is_read_only,
    no_file,
    sqlite_file,
)
from directory.store.loading import (
    DataDir,
    LoadReport,
    load_geography,
    releases_dir,
    resolve_data_dir,
)
from directory.store.repositories.geography import GeographyRepository
from directory.store.repositories.keys import KeyRepository
from directory.terminal import progress_for
from directory.usecases import keys
from directory.usecases.geography import GeographySnapshot
from directory.usecases.giving360 import NOT_PUBLISHED_KEY
from directory.usecases.placing import place_sites, report_lines
from directory.web.serving import GUNICORN_CONFIG, nginx_site, reload
from directory.web.state import state
from geodata.errors import DataFileError

NO_DATA_HELP = (
    "The London data is read from --from DIR, else DIRECTORY_GEODATA_DIR, else the newest "
    "release refreshed from the official publishers (`directory geodata refresh`), else the "
    "snapshot packaged with the project."
)


def _create_app() -> Flask:
    try:
        return create_app(Settings.from_env())
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


class _Commands(FlaskGroup):
    """The command group: a database that cannot be used (it does not exist, its server is
    down, its disk is full), or a file or folder the system refuses (a full disk, a file
    where a folder should be, no permission), is one line naming it and the cause, exit
    code 1, never a traceback; so is an ``--env-file`` that is not text."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DBAPIError as error:
            raise click.ClickException(_database_problem(error)) from None
        except BrokenPipeError:
            # the reader went away (`directory export - | head`): nothing more to say, and
            # nothing more written at exit (Python's advice for SIGPIPE)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(1) from None
        except OSError as error:
            raise click.ClickException(_system_problem(error)) from None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except UnicodeDecodeError as error:  # python-dotenv reading Flask's -e/--env-file
            raise click.UsageError(
                f"The --env-file is not UTF-8 text ({error.reason} at byte {error.start}): "
                "it should be lines of NAME=value.",
                ctx,
            ) from None


def _system_problem(error: OSError) -> str:
    """One line for the file system's refusal: what it said, and of which path."""
    reason = error.strerror or str(error)
    paths = [str(p) for p in (error.filename, error.filename2) if p is not None]
    return f"{reason}: {' → '.join(paths)}." if paths else f"{reason}."


def _database_problem(error: DBAPIError) -> str:
    reason = database_reason(error)
    if is_read_only(error):
        return (
            f"{READ_ONLY}: {reason}. Nothing was written: run the command against the "
            "primary database, or make this one writable."
        )
    try:
        where = shown_url(Settings.from_env().database_url)
    except SettingsError:
        where = "the database"
    hint = ""
    if "does not exist" in reason and "database" in reason:
        hint = " Create it first (see the README's Deployment section), then run `directory init`."
    elif is_not_initialised(error):
        hint = (
            " Its tables are not made yet: run `directory init` (is DIRECTORY_DATABASE_URL right?)."
        )
    elif "connect" in reason.lower() or "refused" in reason.lower():
        hint = " Is the database server running, and DIRECTORY_DATABASE_URL right?"
    return f"The database {where} cannot be used: {reason}.{hint}"


@click.group(cls=_Commands, create_app=_create_app, add_version_option=False)
def cli() -> None:
    """London Funded Services Directory: manage the database, data and server."""


def main() -> None:
    cli(prog_name="directory")


#: every command that reports something prints it as JSON on stdout with --json (and
#: nothing else there); the human lines it prints otherwise are left out or go to stderr
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print the report as JSON on stdout"
)
#: long work shows its progress on stderr when it is a terminal, unless --quiet
quiet_option = click.option(
    "--quiet", "-q", is_flag=True, help="Show no progress (shown only when stderr is a terminal)"
)


def _print_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, default=str))


def _data_dir(given: Path | None) -> DataDir:
    try:
        chosen = resolve_data_dir(state().settings, given)
    except DataFileError as error:
        raise click.ClickException(f"{error}\n{NO_DATA_HELP}") from None
    if not chosen.path.is_dir():
        raise click.ClickException(
            f"{chosen.path} ({chosen.origin}) is not a directory. {NO_DATA_HELP}"
        )
    click.echo(f"London data: {chosen.describe()}", err=True)
    return chosen


def _data_dict(chosen: DataDir) -> dict[str, str]:
    return {"origin": chosen.origin, "name": chosen.name, "path": str(chosen.path)}


def _load(
    chosen: DataDir, force: bool, quiet: bool, as_json: bool, *, fewer: bool = False
) -> LoadReport:
    """Load the geography in ``chosen`` in its turn (``geography_turn``: the setup turn,
    then the write lock, each waited for, saying so on stderr unless ``quiet``)."""
    db = state().db
    try:
        with (
            geography_turn(
                db, waiting_setup=_waiting_setup(quiet), waiting_write=_waiting_write(quiet)
            ),
            progress_for(quiet) as progress,
        ):
            report = load_geography(
                db, chosen.path, force=force, fewer=fewer, progress=progress,
                place_sites=partial(place_sites, settings=state().settings),
            )  # fmt: skip
    except DataFileError as error:
        raise click.ClickException(f"{error}\n{NO_DATA_HELP}") from None
    finally:
        state().geography.invalidate()
    if not as_json:
        click.echo(report.describe())
    return report


def _waiting_setup(quiet: bool) -> Callable[[str], None]:
    """What a command says on stderr, unless ``quiet``, when it waits for the database's
    setup turn (see ``Database.setup_turn``), naming the lock."""

    def waiting(lock: str) -> None:
        if not quiet:
            click.echo(
                f"Waiting for another `directory init` (or `migrate`, `geodata load`, "
                f"`geodata refresh`) holding {lock}…",
                err=True,
            )

    return waiting


def _waiting_write(quiet: bool) -> Callable[[str], None]:
    """What a geography load says on stderr, unless ``quiet``, when it waits for the write
    lock (see ``geography_turn``), naming the lock and who holds it."""

    def waiting(lock: str) -> None:
        if not quiet:
            click.echo(
                f"Waiting for another import or refresh holding {lock}…",
                err=True,
            )

    return waiting


@contextlib.contextmanager
def _setup_turn(quiet: bool, *, making: bool = False) -> Iterator[None]:
    """The database's setup turn (see ``Database.setup_turn``), saying on stderr, unless
    ``quiet``, that this command waits for another holding it, and which lock."""
    with state().db.setup_turn(_waiting_setup(quiet), making=making):
        yield


def _migrate(as_json: bool) -> dict[str, Any]:
    from alembic.util import CommandError

    app_state = state()
    try:
        app_state.db.migrate()
    except CommandError as error:  # (a revision this code has no migration of: newer code's)
        raise click.ClickException(
            f"The database's schema is not one this code knows ({error}): was it made by a "
            "newer version of the directory? Run that version, or restore a backup."
        ) from None
    url = shown_url(app_state.settings.database_url)
    if not as_json:
        click.echo(f"Database at the newest schema: {url}")
    return {"database_url": url, "schema_revision": app_state.db.schema_revision()}


@cli.command("migrate")
@json_option
@with_appcontext
def migrate_command(as_json: bool) -> None:
    """Create or upgrade the database schema (Alembic)."""
    with _setup_turn(False, making=True):
        database = _migrate(as_json)
    if as_json:
        _print_json(database)


@cli.command("init")
@click.option(
    "--from", "from_dir", type=click.Path(path_type=Path), help="Geography data directory"
)
@click.option("--force", is_flag=True, help="Reload geography even if unchanged")
@quiet_option
@json_option
@with_appcontext
def init_command(from_dir: Path | None, force: bool, quiet: bool, as_json: bool) -> None:
    """Migrate the database and load the geography (idempotent; one init at a time)."""
    with _setup_turn(quiet, making=True):
        database = _migrate(as_json)
        chosen = _data_dir(from_dir)
        report = _load(chosen, force, quiet, as_json)
    if as_json:
        _print_json({**database, "data": _data_dict(chosen), "load": report.to_dict()})


@cli.group("geodata")
def geodata_group() -> None:
    """London's geography: load it, or download the official releases."""


@geodata_group.command("load")
@click.option(
    "--from",
    "from_dir",
    type=click.Path(path_type=Path),
    help="Data directory (default DIRECTORY_GEODATA_DIR)",
)
@click.option("--force", is_flag=True, help="Reload even if the files are unchanged")
@click.option(
    "--fewer", is_flag=True,
    help="Load even fewer than half the postcodes loaded now (else taken for a cut file)",
)  # fmt: skip
@quiet_option
@json_option
@with_appcontext
def geodata_load(
    from_dir: Path | None, force: bool, fewer: bool, quiet: bool, as_json: bool
) -> None:
    """Load boundaries, BCU membership and postcodes in one transaction."""
    chosen = _data_dir(from_dir)
    with _setup_turn(quiet):
        report = _load(chosen, force, quiet, as_json, fewer=fewer)
    if as_json:
        _print_json({"data": _data_dict(chosen), "load": report.to_dict()})


@geodata_group.command("download")
@click.option(
    "--to",
    "to_dir",
    type=click.Path(path_type=Path),
    help="Target directory (default instance/geodata)",
)
@click.option(
    "--base-url",
    help="The mirror to copy from, laid out like the data directory "
    "(default DIRECTORY_GEODATA_BASE_URL)",
)
@json_option
@with_appcontext
def geodata_download(to_dir: Path | None, base_url: str | None, as_json: bool) -> None:
    """Copy a data directory from a mirror laid out like it (atomic, checksum-verified).
    For the official publishers' newest releases use `directory geodata refresh`."""
    from geodata.download import download_sources
    from geodata.sources import load_manifest

    settings = state().settings
    target = to_dir or settings.instance_dir / "geodata"
    if not (base_url or settings.geodata_base_url):
        raise click.ClickException(
            "Give --base-url (or DIRECTORY_GEODATA_BASE_URL): a mirror laid out like the data "
            "directory. The official publishers are reached by `directory geodata refresh`; "
            "without either, `directory init` uses the snapshot packaged with the project."
        )
    mirror = base_url or settings.geodata_base_url
    try:
        paths = download_sources(load_manifest(), target, base_url=mirror)
    except DataFileError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        _print_json(
            {
                "to": str(target),
                "base_url": mirror,
                "files": [
                    {"path": p.relative_to(target).as_posix(), "bytes": p.stat().st_size}
                    for p in paths
                ],
            }
        )
        return
    click.echo(
        f"Downloaded {len(paths)} files to {target}. Load them with: directory geodata load --from {target}"
    )


@geodata_group.command("refresh")
@click.option(
    "--source",
    "sources",
    multiple=True,
    help="Refresh only this source (repeatable): boroughs, wards, codepoint, nspl, crime, "
    "population, mopac-grants",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Report what would change; load nothing (what it fetches is kept for the next refresh)",
)
@click.option(
    "--force",
    is_flag=True,
    help="Download (not taking what a dry run kept) and load, even releases already loaded",
)
@click.option(
    "--base-url",
    help="Fetch every publisher from this mirror (laid out as /<host>/<path>) "
    "(default DIRECTORY_GEODATA_BASE_URL)",
)
@click.option(
    "--timeout", type=click.FloatRange(0, 3600, min_open=True), default=60.0, show_default=True,
    callback=lambda _ctx, _param, value: _a_number(value, "--timeout"),
    help="Seconds per request",
)  # fmt: skip
@quiet_option
@json_option
@with_appcontext
def geodata_refresh(
    sources: tuple[str, ...],
    dry_run: bool,
    force: bool,
    base_url: str | None,
    timeout: float,
    quiet: bool,
    as_json: bool,
) -> None:
    """Fetch the newest official releases (OS, ONS, London Datastore, Nomis, 360Giving),
    cut them to London, check them, report what would change, and load them all-or-nothing.
    Exits 1 if any source failed (its current data stays)."""
    from directory.usecases.data_refresh import refresh_data
    from geodata.fetch import Client

    app_state = state()
    client = Client(base_url=base_url or app_state.settings.geodata_base_url, timeout=timeout)
    try:
        with progress_for(quiet) as progress:
            report = refresh_data(
                app_state.db, app_state.settings, _snapshot(), sources=list(sources) or None,
                dry_run=dry_run, force=force, client=client, progress=progress,
                waiting=_waiting_setup(quiet),
            )  # fmt: skip
    except RefreshError as error:
        raise click.ClickException(str(error)) from None
    except DataFileError as error:  # (the current data, read before any source, is corrupt)
        raise click.ClickException(f"{error}\n{NO_DATA_HELP}") from None
    finally:
        app_state.geography.invalidate()
    if as_json:
        _print_json(report.to_dict())
    else:
        _print_refresh(report, releases_dir(app_state.settings))
    if not report.ok:
        sys.exit(1)


def _print_refresh(report, releases: Path) -> None:  # type: ignore[no-untyped-def]
    from directory.usecases.data_refresh import KEPT_FETCHES

    base = report.base
    click.echo(f"Current data: {base['kind']} {base['id'] or ''}".rstrip())
    for source in report.sources:
        line = f"  {source.name}: {source.status}"
        if source.label:
            line += f" ({source.label})"
        if source.kept_from:
            line += f", as fetched at {source.kept_from}"
        if source.error:
            line += f": {source.error}"
        click.echo(line)
        for f in source.files:
            click.echo(f"      {f['path']}: {f['rows']:,} rows")
    changes = report.changes
    if "postcodes" in changes:
        p = changes["postcodes"]
        click.echo(
            f"  postcodes: {p['added']:,} added, {p['no_longer_live']:,} no longer live, "
            f"{p['moved_ward']:,} moved ward, {p['moved_borough']:,} moved borough "
            f"({p['live_before']:,} live before, {p['live_after']:,} after)"
        )
        for kind, codes in p["examples"].items():
            if codes:
                click.echo(f"      {kind.replace('_', ' ')}: {', '.join(codes)}")
    if "areas" in changes:
        a = changes["areas"]
        click.echo(
            f"  areas: {len(a['added'])} added, {len(a['removed'])} removed, "
            f"{len(a['renamed'])} renamed"
        )
        for item in a["renamed"][:10]:
            click.echo(f"      {item['code']}: {item['from']} → {item['to']}")
    if "sites" in changes:
        for line in report_lines(changes["sites"]):
            click.echo(f"  {line}")
    for key in ("crime", "population"):
        if key in changes:
            entry = changes[key]
            counts = "; ".join(
                f"{what}: " + ", ".join(f"{n:,} {k}" for k, n in c.items() if n)
                for what, c in entry["counts"].items()
            )
            click.echo(f"  {key}: {counts}")
            if key == "crime":
                months = entry["months"]
                fresh = months["new"]
                listed = (
                    ", ".join(fresh)
                    if len(fresh) <= 6
                    else f"{len(fresh)} months, {fresh[0]} to {fresh[-1]}"
                )
                click.echo(
                    f"      months {months['first']} to {months['last']}; new: {listed or 'none'}"
                )
    for entry in changes.get("grants", []):
        counts = "; ".join(
            f"{what}: " + ", ".join(f"{n:,} {k}" for k, n in c.items() if n)
            for what, c in entry["counts"].items()
            if any(c.values())
        )
        click.echo(f"  grants ({entry['file']}): {counts}")
    if report.dry_run:
        kept = any(s.kept for s in report.sources)
        where = f" What was fetched is kept for the refresh ({releases / KEPT_FETCHES})."
        click.echo("Dry run: nothing was loaded." + (where if kept else ""))
    elif report.loaded:
        click.echo(f"Loaded release {report.release} ({releases / report.release}).")
    elif not any(s.status == "new" for s in report.sources) and report.ok:
        click.echo("Nothing new: the data is as the publishers have it.")
    else:
        click.echo("Nothing was loaded: the data is as it was.")


def _snapshot() -> GeographySnapshot:
    app_state = state()
    try:
        with app_state.db.engine.connect() as connection:
            return app_state.geography.get(GeographyRepository(connection))
    except GeodataNotLoadedError as error:
        raise click.ClickException(f"{error.detail}") from None


def _report_dict(label: str, report: ImportReport) -> dict[str, Any]:
    return {"source": label, **report.to_dict()}


def _print_report(label: str, report: ImportReport, as_json: bool, limit: int = 50) -> None:
    if as_json:
        _print_json(_report_dict(label, report))
        return
    counts = "; ".join(
        f"{entity}: " + ", ".join(f"{n} {action}" for action, n in actions.items() if n)
        for entity, actions in report.counts.items()
        if any(actions.values())  # (a kind the file has none of: it was "opportunities: ")
    )
    run = f" (run #{report.run_id})" if report.run_id else ""
    if report.status == "failed":  # rows may have been read: what matters is nothing was written
        errors = sum(1 for p in report.problems if p.severity == "error")
        counts = f"Nothing written: {errors} error{'s' if errors != 1 else ''}, listed below."
    click.echo(
        f"{label}: {report.status}{run} in {report.seconds:.1f} s. {counts or 'Nothing read.'}"
    )
    if report.status != "dry-run" and report.events:
        click.echo(f"  {report.events} change events recorded.")
    for kind, actions in report.records.items():
        for action in ("withdrawn", "restored"):
            named = actions.get(action, [])
            if named:
                click.echo(
                    f"  {kind} {action}: {_named(named, report.counts[kind].get(action, 0))}"
                )
    for problem in report.problems[:limit]:
        where = ", ".join(
            part for part in (
                f"row {problem.row}" if problem.row is not None else "",
                f"column {problem.column}" if problem.column else "",
                f"value {problem.value!r}" if problem.value is not None else "",
            ) if part
        )  # fmt: skip
        click.echo(f"  {problem.severity}: {where + ': ' if where else ''}{problem.message}")
    if len(report.problems) > limit:
        if report.run_id is None:  # a dry run keeps no record
            where = "--json lists them all"
        elif len(report.problems) > MAX_STORED_PROBLEMS:
            where = f"the first {MAX_STORED_PROBLEMS:,} are on /api/v1/imports/{report.run_id}"
        else:
            where = f"all are on /api/v1/imports/{report.run_id}"
        click.echo(f"  … and {len(report.problems) - limit} more ({where}).")
    if report.status == "failed":
        click.echo("  Nothing was written: an import with any error changes nothing.")


def _named(records: list[dict[str, str]], count: int, first: int = 10) -> str:
    """The first records of a list by ref and name, and how many more: "S-1 (Club), … and
    39 more"."""
    shown = ", ".join(f"{r['ref']} ({r['name']})" for r in records[:first])
    return shown + (f" and {count - first:,} more" if count > first else "")


@cli.command("import")
@click.argument("location")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), help="Detected from the file if omitted"
)
@click.option(
    "--source",
    help="Name of the source, which owns the records it lists (default: the file's name; "
    "--mode full needs it)",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="incremental",
    show_default=True,
    help="full: withdraw this source's records that the file no longer lists",
)
@click.option("--dry-run", is_flag=True, help="Check and report what would change; write nothing")
@click.option(
    "--take-over", is_flag=True,
    help="Move records another source holds that the file lists to this source (refused otherwise)",
)  # fmt: skip
@click.option(
    "--allow-withdrawals", is_flag=True,
    help="Let a full import withdraw more than half of what its source holds",
)  # fmt: skip
@quiet_option
@json_option
@with_appcontext
def import_command(
    location: str,
    fmt: str | None,
    source: str | None,
    mode: str,
    dry_run: bool,
    take_over: bool,
    allow_withdrawals: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Import a file or URL: the directory template (CSV/XLSX), 360Giving (JSON/CSV/XLSX),
    Open Referral HSDS 3.0 JSON, Met Police borough crime counts (mps-crime) or ONS
    population estimates (population). All or nothing: any error and nothing is written."""
    if mode == "full" and source is None:
        raise click.UsageError(FULL_NEEDS_SOURCE)
    app_state = state()
    try:
        with write_lock(app_state.db), progress_for(quiet) as progress:
            report = run_import(
                app_state.db, _snapshot(), app_state.settings, location,
                fmt=fmt, source=source, mode=mode, dry_run=dry_run, take_over=take_over,
                allow_withdrawals=allow_withdrawals, progress=progress,
            )  # fmt: skip
    except LockHeldError as error:
        run_id, said = None, str(error)
        if not dry_run:
            try:
                run_id = record_refused(
                    app_state.db, location, fmt=fmt, source=source, mode=mode, reason=str(error)
                )
                said = f"{error} (recorded as import run #{run_id})"
            except DBAPIError:  # SQLite: the other writer's transaction holds the file
                said = f"{error} (not recorded: the database is busy)"
        if as_json:  # (the shape of any import's report, as a failed one's)
            refused = ImportReport("refused", run_id, {}, [Problem(str(error))])
            _print_json({**_report_dict(location, refused), "lock": error.holder.to_dict()})
        raise click.ClickException(said) from None
    except (SourceError, RefreshError, WriteRefused, ScratchFullError) as error:
        raise click.ClickException(str(error)) from None
    except DBAPIError as error:  # taking or giving back the write lock
        raise click.ClickException(_database_problem(error)) from None
    app_state.geography.invalidate()
    _print_report(location, report, as_json)
    if not report.ok:
        sys.exit(1)


@cli.command("lock")
@json_option
@with_appcontext
def lock_command(as_json: bool) -> None:
    """Say who holds the directory's write lock (imports, refresh, demo load, geodata
    refresh), and whether it is held now: the lock table's row alone may name a writer
    killed since (its row stays until the next writer replaces it)."""
    holder = lock_holder(state().db)
    if as_json:
        _print_json(holder.to_dict())
    else:
        click.echo(holder.describe())


@cli.group("keys")
def keys_group() -> None:
    """API keys for the write routes: make, list and revoke them."""


@keys_group.command("create")
@click.option("--role", type=click.Choice(keys.ROLES), required=True)
@click.option("--organisation", help="The organisation an editor writes for (ref or id)")
@click.option("--name", help="Who or what holds it (recorded on what it writes)")
@click.option(
    "--expires", type=click.DateTime(formats=["%Y-%m-%d"]),
    help="YYYY-MM-DD: the first day (from 00:00 UTC) it no longer works",
)  # fmt: skip
@json_option
@with_appcontext
def keys_create(
    role: str, organisation: str | None, name: str | None, expires: Any, as_json: bool
) -> None:
    """Make a key and print it, once: only a hash of its secret is kept."""
    try:
        with state().db.session() as session:
            made = keys.create_key(
                KeyRepository(session), role=role, organisation=organisation, name=name,
                expires=expires.date() if expires else None,
            )  # fmt: skip
    except KeyRequestError as error:
        raise click.ClickException(error.detail) from None
    if as_json:
        _print_json(
            {
                "id": made.id, "name": made.name, "role": made.role,
                "organisation": made.organisation, "note": made.note, "key": made.text,
            }
        )  # fmt: skip
        return
    if made.note:
        click.echo(made.note)
    click.echo(f"Key #{made.id} ({made.name}, {made.role}) made. It is shown only this once:")
    click.echo(made.text)


@keys_group.command("list")
@json_option
@with_appcontext
def keys_list(as_json: bool) -> None:
    """Every key, without secrets: id, name, role, organisation, created, expires, revoked,
    last used."""
    with state().db.session() as session:
        rows = keys.list_keys(KeyRepository(session))
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo("No keys yet: make one with `directory keys create --role …`.")
    for row in rows:
        click.echo(
            f"#{row['id']} {row['name']} ({row['role']}"
            + (f", {row['organisation']}" if row["organisation"] else "")
            + f") created {row['created_at']}"
            + f", expires {row['expires_at'] or 'never'}"
            + (f", REVOKED {row['revoked_at']}" if row["revoked_at"] else "")
            + f", last used {row['last_used_at'] or 'never'}"
        )


@keys_group.command("revoke")
@click.argument("key_id", type=click.IntRange(1, 2**31 - 1))  # (what a key's id can be)
@json_option
@with_appcontext
def keys_revoke(key_id: int, as_json: bool) -> None:
    """Revoke a key at once (for good)."""
    try:
        with state().db.session() as session:
            row = keys.revoke_key(KeyRepository(session), key_id)
    except KeyRequestError as error:
        raise click.ClickException(error.detail) from None
    if as_json:
        _print_json(row)
        return
    click.echo(f"Key #{row['id']} ({row['name']}) revoked at {row['revoked_at']}.")


@cli.group("organisations")
def organisations_group() -> None:
    """Organisations: merge one held twice into the one to keep."""


@organisations_group.command("merge")
@click.argument("duplicate")
@click.option("--into", "keep", required=True, help="The organisation to keep (id or ref)")
@click.option("--dry-run", is_flag=True, help="Say what would move; change nothing")
@json_option
@with_appcontext
def organisations_merge(duplicate: str, keep: str, dry_run: bool, as_json: bool) -> None:
    """Merge organisation DUPLICATE (id or ref) into the one to keep: its services, grants,
    opportunities, API keys, feedback and practice notes move to it, the fields it lacks
    are filled from the duplicate's, and the duplicate's ref and id name it from now on
    (its address redirects; the next import of a file naming it files its rows under the
    one kept). All or nothing, recorded as an import run with change events."""
    from directory.usecases.merging import merge_organisations

    app_state = state()
    try:
        report = merge_organisations(
            app_state.db, duplicate, keep, dry_run=dry_run,
            location=f"directory organisations merge {duplicate} --into {keep}",
        )  # fmt: skip
    except (NotFoundError, OrganisationMergedError, SameOrganisationError) as error:
        raise click.UsageError(error.detail) from None
    except WriteLockedError as error:
        raise click.ClickException(error.detail) from None
    finally:
        app_state.geography.invalidate()
    if as_json:
        _print_json(report.to_dict())
        return
    dup, into = report.duplicate, report.into
    verb = "Would merge" if report.status == "dry-run" else "Merged"
    click.echo(
        f"{verb} '{dup['name']}' ({dup['ref']}, #{dup['id']}) into '{into['name']}' "
        f"({into['ref']}, #{into['id']})"
        + (
            " (a dry run: nothing was changed)."
            if report.status == "dry-run"
            else f" (run #{report.run_id})."
        )
    )
    moved = ", ".join(f"{kind.replace('_', ' ')} {n}" for kind, n in report.moved.items() if n)
    click.echo(f"Moves: {moved or 'nothing but the organisation itself'}.")
    for kind, refs in report.refs.items():
        if refs:
            click.echo(
                f"  {kind.replace('_', ' ')}: {_listed(refs, report.moved.get(kind, len(refs)))}"
            )
    if report.filled:
        filled = ", ".join(f"{name} {value!r}" for name, value in sorted(report.filled.items()))
        fills = "Would fill" if report.status == "dry-run" else "Filled"
        click.echo(f"{fills} what '{into['ref']}' lacked from the duplicate: {filled}.")
    click.echo(
        f"'{dup['ref']}' and #{dup['id']} name '{into['ref']}' from now on: its address "
        "redirects there, and an import naming it files its rows there."
        if report.status != "dry-run" else
        f"'{dup['ref']}' would name '{into['ref']}' from then on."
    )  # fmt: skip


def _listed(refs: list[str], count: int, first: int = 20) -> str:
    shown = ", ".join(refs[:first])
    return shown + (f" and {count - first:,} more" if count > first else "")


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` to write, put in its place only once written whole
    (an export cut short by a full disk does not replace the file it was to replace), with
    the mode of the file it replaces, or the umask's; a file system's refusal (no such
    folder, no permission, a folder of that name, a full disk) is the command's one line.
    A path that is there and no file or folder (/dev/stdout, a pipe) is written itself."""
    if path.exists() and not path.is_file() and not path.is_dir():
        try:
            yield path
        except OSError as error:
            raise click.ClickException(f"Cannot write {path}: {error.strerror or error}") from None
        return
    try:
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix, delete=False
        ) as handle:
            temp = Path(handle.name)
    except OSError as error:
        raise click.ClickException(f"Cannot write {path}: {error.strerror or error}") from None
    try:
        yield temp
        if path.exists():
            shutil.copymode(path, temp)
        else:
            umask = os.umask(0o022)
            os.umask(umask)
            temp.chmod(0o666 & ~umask)
        os.replace(temp, path)
    except OSError as error:
        raise click.ClickException(f"Cannot write {path}: {error.strerror or error}") from None
    finally:
        temp.unlink(missing_ok=True)


@cli.command("template")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["xlsx", "csv"]), help="Default: from the suffix"
)
@click.option("--force", is_flag=True, help="Replace PATH if it exists (a filled-in copy too)")
@json_option
def template_command(path: Path, fmt: str | None, force: bool, as_json: bool) -> None:
    """Write a blank copy of the directory's spreadsheet template."""
    table_format = _table_format(path, fmt)
    if path.exists() and not force:
        raise click.ClickException(
            f"{path} exists (a filled-in copy, perhaps): give another name, or --force to "
            "replace it with a blank template."
        )
    with _writing(path) as temp:
        write_template(temp, format=table_format)  # type: ignore[arg-type]
    if as_json:
        _print_json({"path": str(path), "format": table_format, "columns": HEADINGS})
        return
    click.echo(
        f"Wrote the blank template to {path}. Columns are explained in the README"
        + (" and on the workbook's Columns sheet." if table_format == "xlsx" else ".")
    )


@cli.command("export")
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["xlsx", "csv", "360giving"]),
    help="Default: from the suffix (.json: 360giving)",
)  # fmt: skip
@json_option
@with_appcontext
def export_command(path: Path, fmt: str | None, as_json: bool) -> None:
    """Write the directory's services out in the spreadsheet template (re-importable), or
    its grants as a 360Giving JSON package (--format 360giving, or a .json name)."""
    if fmt == "360giving" or (fmt is None and path.suffix.lower() == ".json"):
        _export_360giving(path, as_json)
        return
    table_format = _table_format(path, fmt)
    with state().db.session() as session:
        batch = batch_from_database(session)
    with _writing(path) as temp:
        write_template(temp, format=table_format, batch=batch)  # type: ignore[arg-type]
    if as_json:
        _print_json({"path": str(path), "format": table_format, "services": len(batch.services)})
        return
    click.echo(f"Wrote {len(batch.services)} services to {path}.")


def _export_360giving(path: Path, as_json: bool) -> None:
    snap = _snapshot()
    areas = {code: (area.name, area.type) for code, area in snap.areas.items()}
    db = state().db
    with db.session() as session:
        if not db.settings.is_sqlite:  # one snapshot for all its reads (SQLite's transaction is)
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        export = giving360_from_database(session, areas, prefix=db.settings.giving360_prefix)
    # the package GET /grants.360giving.json gives: the grants left out listed in it too
    package = {**export.package, NOT_PUBLISHED_KEY: export.excluded}
    with _writing(path) as temp:
        temp.write_text(json.dumps(package, ensure_ascii=False, indent=1) + "\n", "utf-8")
    report = export.report()
    if as_json:
        _print_json({"path": str(path), "format": "360giving", **report})
        return
    click.echo(f"Wrote {report['grants']} grants to {path} (360Giving {STANDARD_VERSION}).")
    if export.excluded:
        click.echo(
            f"Left out {len(export.excluded)} grants 360Giving cannot carry validly:", err=True
        )
        for item in export.excluded:
            click.echo(f"  {item['id']}: {'; '.join(item['reasons'])}", err=True)
    for item in export.notes:
        click.echo(f"  note: {item['id']}: {'; '.join(item['notes'])}", err=True)
    for notice in export.notices:
        click.echo(f"Note: {notice}", err=True)


def _a_number(value: float, name: str) -> float:
    """``value``, unless it is NaN (which click's ranges let by)."""
    if value != value:
        raise click.BadParameter(f"{name} must be a number of seconds, not nan")
    return value


def _table_format(path: Path, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in ("csv", "xlsx"):
        raise click.ClickException("Give a .csv or .xlsx file name, or --format.")
    return suffix


@cli.command("refresh")
@click.option(
    "--sources",
    "sources_file",
    type=click.Path(path_type=Path),
    help="Sources file (TOML; default DIRECTORY_SOURCES_FILE)",
)
@click.option("--dry-run", is_flag=True, help="Check every source; write nothing")
@quiet_option
@json_option
@with_appcontext
def refresh_command(sources_file: Path | None, dry_run: bool, quiet: bool, as_json: bool) -> None:
    """Run every source of the sources file in order, under a lock. Exits 1 if any failed."""
    app_state = state()
    path = sources_file or app_state.settings.sources_file
    if path is None:
        raise click.ClickException("No sources file: pass --sources or set DIRECTORY_SOURCES_FILE.")
    failed = []
    documents: list[dict[str, Any]] = []
    progress: Progress = QUIET

    def show(source: Source, report: ImportReport | None, error: str | None) -> None:
        progress.done()  # the source's last step, then its report
        if report is None:
            failed.append(source.name)
            if as_json:
                documents.append({"source": source.name, "status": "failed", "error": error})
            else:
                click.echo(f"{source.name}: failed: {error}")
            return
        if not report.ok:
            failed.append(source.name)
        if as_json:
            documents.append(_report_dict(source.name, report))
        else:
            _print_report(source.name, report, as_json=False)

    try:
        with progress_for(quiet) as progress:  # what show() finishes before each report
            refresh(
                app_state.db, _snapshot(), app_state.settings, path, dry_run=dry_run,
                on_report=show, progress=progress,
            )  # fmt: skip
    except RefreshError as error:
        raise click.ClickException(str(error)) from None
    finally:
        app_state.geography.invalidate()
    if as_json:
        _print_json({"sources": documents, "failed": failed, "ok": not failed})
    if failed:
        click.echo(
            f"Failed: {', '.join(failed)}. Their data is as it was before this refresh.", err=True
        )
        sys.exit(1)


@cli.group("demo")
def demo_group() -> None:
    """The demo directory (real MOPAC decisions and 360Giving grants, Committee-named services)."""


@demo_group.command("load")
@click.option(
    "--from",
    "from_dir",
    type=click.Path(path_type=Path),
    help="Data directory (default DIRECTORY_GEODATA_DIR)",
)
@quiet_option
@json_option
@with_appcontext
def demo_load(from_dir: Path | None, quiet: bool, as_json: bool) -> None:
    """Load (or refresh) the demo directory, and the crime and population figures the
    funding-against-need answers use. Idempotent."""
    app_state = state()
    chosen = _data_dir(from_dir)
    snap = _snapshot()
    reports: list[tuple[str, ImportReport]] = []
    try:
        with write_lock(app_state.db), progress_for(quiet) as progress:
            for name, report in _load_demo(chosen.path, snap, progress):
                reports.append((name, report))
                progress.done()  # the source's last step, then its report
                if not as_json:
                    _print_report(name, report, as_json=False, limit=5)
    except RefreshError as error:
        raise click.ClickException(str(error)) from None
    except DataFileError as error:  # (a folder without the demo's reference files)
        raise click.ClickException(f"{error}\n{NO_DATA_HELP}") from None
    finally:
        app_state.geography.invalidate()
    if as_json:
        _print_json(
            {
                "data": _data_dict(chosen),
                "sources": [_report_dict(name, report) for name, report in reports],
                "ok": all(report.ok for _name, report in reports),
            }
        )
    if not all(report.ok for _name, report in reports):
        sys.exit(1)


@demo_group.command("remove")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing")
@quiet_option
@json_option
@with_appcontext
def demo_remove(dry_run: bool, quiet: bool, as_json: bool) -> None:
    """Take the demo directory out: its services, grants, outcomes, patch contacts, and the
    organisations and programmes only it brought (records a real import has taken over or
    refers to stay). All or nothing, recorded as an import run with change events.
    Idempotent."""
    from directory.demo.remove import remove_demo

    app_state = state()
    if app_state.db.schema_revision() is None:
        raise click.ClickException(
            "The database has no tables yet: there is no demo directory to remove. Run "
            "`directory init` first."
        )
    try:
        with write_lock(app_state.db), progress_for(quiet) as progress:
            report = remove_demo(app_state.db, dry_run=dry_run, progress=progress)
    except RefreshError as error:
        raise click.ClickException(str(error)) from None
    finally:
        app_state.geography.invalidate()
    if as_json:
        _print_json(report.to_dict())
        return
    counts = ", ".join(f"{n} {name}" for name, n in report.counts.items() if n)
    if report.status == "nothing":
        click.echo("Nothing to remove: the directory holds no demo records.")
    elif report.status == "dry-run":
        click.echo(f"Would remove {counts} (a dry run: nothing was changed).")
    else:
        click.echo(
            f"Removed the demo directory (run #{report.run_id}) in {report.seconds:.1f} s: "
            f"{counts}. {report.events} change events recorded."
        )
    if report.status != "nothing":
        kept = ", ".join(f"{n} {name}" for name, n in report.kept.items())
        click.echo(
            f"Kept: {kept} that real imports list or refer to; the recorded crime and "
            "population figures (official data, for funding against need)."
        )


def _load_demo(
    data_dir: Path, snap: GeographySnapshot, progress: Progress
) -> Iterator[tuple[str, ImportReport]]:
    """The demo sources, then the recorded crime and population (for funding against need),
    each imported in turn: yields (name, report)."""
    from directory.demo import build_demo
    from directory.ingest.run import load_reference_data

    app_state = state()
    with app_state.db.engine.connect() as connection:
        ctx = GeographyContext(
            snap, GeographyRepository(connection),
            giving360_prefix=app_state.settings.giving360_prefix,
        )  # fmt: skip
        batches = build_demo(data_dir, ctx, progress=progress)
    for name, batch in batches:
        options = ImportOptions(
            source=name, format="demo", location="demo", checksum="demo", mode="full"
        )
        report = import_batch(
            app_state.db, snap, app_state.settings, batch, options, ctx, progress=progress
        )
        yield name, report
    yield from load_reference_data(
        app_state.db, snap, app_state.settings, data_dir, progress=progress
    )


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers", default=2, show_default=True, type=click.IntRange(1, 256),
    help="gunicorn sync workers (each holds the whole directory index)",
)  # fmt: skip
def serve_command(host: str, port: int, workers: int) -> None:
    """Serve the API with gunicorn (sync workers; settings in
    directory/web/serving/gunicorn.py). In production put nginx in front of it: see
    `directory nginx-config`."""
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    missing = sqlite_file(settings.database_url)
    try:
        there = missing is None or missing.exists()  # (a server down is waited for)
    except OSError as error:  # (a folder on the way this user may not enter)
        raise click.ClickException(
            f"The database file {missing} cannot be reached: {error.strerror}."
        ) from None
    if not there:
        where = shown_url(settings.database_url)
        raise click.ClickException(f"The database {where} cannot be used: {no_file(missing)}.")
    _refuse_schema_behind(_revision_if_reached(Database(settings)))
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which(
        "gunicorn"
    )
    if gunicorn is None:
        raise click.ClickException("gunicorn is not installed: pip install gunicorn")
    click.echo(f"Serving on http://{host}:{port}/ (API docs: http://{host}:{port}/api/v1/docs)")
    # no gunicorn access log: the app writes one line per request itself (directory/web/logs.py)
    os.execv(
        gunicorn,
        [
            gunicorn,
            "--config",
            GUNICORN_CONFIG,
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--log-level",
            settings.log_level.lower(),
            "directory:create_app()",
        ],
    )


@cli.command("reload")
@click.option(
    "--pid", type=int, default=None,
    help="the gunicorn master to reload (systemd: $MAINPID); default: every `directory serve` "
    "serving from this instance directory",
)  # fmt: skip
@click.option(
    "--timeout", default=600, show_default=True, type=click.IntRange(1),
    help="seconds to wait for the workers to be replaced",
)  # fmt: skip
@click.option(
    "--settings", "with_settings", is_flag=True,
    help="give the new workers this command's DIRECTORY_* settings (its environment and the "
    ".env of its directory), checked here first; those the master reads itself (the worker "
    "timeout, logging, instance directory, recycling) need a restart",
)  # fmt: skip
@json_option
def reload_command(pid: int | None, timeout: int, with_settings: bool, as_json: bool) -> None:
    """Reload `directory serve` without a pause: its master replaces each worker, one at a
    time, with a new one running the code on disk now, which makes its index before it
    takes requests; then the old worker finishes what it holds and stops. (`kill -HUP`
    stops every old worker at once, and requests wait for the new ones' start.) Waits
    until every worker is replaced. This command makes the application first, from the
    code on disk: code that cannot start is refused here (in a new worker it would stop
    gunicorn's master). The new workers keep the server's DIRECTORY_* settings, or with
    --settings take this command's: the application is made with them, and their
    database reached, here first."""
    app_state = state()  # (the app was made: the code starts, with these settings)
    instance_dir = app_state.settings.instance_dir
    if not with_settings:  # (with them, checked below as the servers' user)
        _refuse_schema_behind(_revision_if_reached(app_state.db))
    found = reload.masters(instance_dir)
    if pid is not None:
        if pid not in found:
            raise click.ClickException(
                f"No `directory serve` with master pid {pid} serves from {instance_dir}: "
                "nothing was reloaded (is DIRECTORY_INSTANCE_DIR the server's?)."
            )
        found = [pid]
    if not found:
        raise click.ClickException(
            f"No `directory serve` serves from {instance_dir}: nothing to reload (is "
            "DIRECTORY_INSTANCE_DIR the server's, and can the server write there?)."
        )
    settings = None
    if with_settings:
        # (what the check imports, imported now: it may run as a user who cannot read them)
        import alembic.runtime.migration  # noqa: F401

        try:  # (a server that cannot take them, or this user cannot give them: said first)
            reload.check_settings_can_be_given(instance_dir, found)
        except reload.ReloadError as error:
            raise click.ClickException(str(error)) from None
        command = os.getpid()

        def reached() -> None:  # (with the rights of the servers' user: see the function)
            # a new connection, in the environment of this check (libpq reads it then); a
            # child's inherited ones are the command's, left alone
            app_state.db.engine.dispose(close=os.getpid() == command)
            try:
                revision = app_state.db.schema_revision()
            except DBAPIError as error:
                raise click.ClickException(_database_problem(error)) from None
            if revision is None:  # (one that cannot be used: its problem)
                raise click.ClickException(
                    "The database DIRECTORY_DATABASE_URL names has no tables yet: run "
                    "`directory init` there first."
                )
            _refuse_schema_behind(revision)

        try:
            reload.check_as_servers_users(instance_dir, found, reached)
        except (reload.ReloadError, click.ClickException) as error:
            said = error.message if isinstance(error, click.ClickException) else str(error)
            said = said.rstrip() if said.rstrip().endswith((".", "?", "!")) else said.rstrip() + "."
            raise click.ClickException(f"{said} Nothing was reloaded.") from None
        settings = reload.settings_to_give(os.environ)  # (a relative path made absolute)
    click.echo(f"Reloading {len(found)} server(s): replacing their workers one at a time", err=True)
    servers: list[dict[str, Any]] = []
    # (stopped by systemd's TimeoutStartSec or kill: the requests not taken yet are removed)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        asked = reload.ask(instance_dir, found, settings)
        for master, done in reload.wait(asked, timeout, settings=settings is not None):
            servers.append({"server": master, "replaced": [], "failed": None, **done})
            if done.get("failed"):
                click.echo(f"server {master}: {done['failed']}", err=True)
            if "replaced" in done:
                replaced = ", ".join(map(str, done["replaced"]))
                click.echo(
                    f"server {master}: "
                    + (f"workers {replaced} replaced" if replaced else "no worker replaced")
                    + (" with this command's settings" if done.get("settings") else "")
                    + f" in {done['seconds']} s; serving: {', '.join(map(str, done['workers']))}",
                    err=as_json,
                )
    except reload.ReloadError as error:
        raise click.ClickException(str(error)) from None
    reloaded = not any(server["failed"] for server in servers)
    if as_json:
        _print_json({"reloaded": reloaded, "servers": servers})
    if not reloaded:
        raise click.ClickException("The reload did not complete (see above).")


def _revision_if_reached(database: Database) -> str | None:
    """The schema's revision, or None when the database cannot be reached now (a server
    down is waited for, as the workers wait for it)."""
    try:
        return database.schema_revision()
    except DBAPIError:
        return None
    finally:
        database.dispose()


def _refuse_schema_behind(revision: str | None) -> None:
    """Refuse to serve or reload on a database whose schema (at ``revision``) is behind
    this code's migrations: its workers would answer every read of a new column with a
    500 (before, `/ready` said ready meanwhile)."""
    migrations = Migrations.of_this_code()
    if migrations.behind(revision):
        raise click.ClickException(migrations.behind_message(revision))


def _nginx_value(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A value written into nginx's config as it is: one token (``--server-name`` may be
    several names), without what would end or open a directive, or a port out of range.
    Refused by name, rather than printed as a config nginx refuses (or reads otherwise)."""
    spaces = param.name == "server_name"
    if not value.strip() or any(
        c in ";{}#\"'\\$" or not c.isprintable() or (c.isspace() and not spaces) for c in value
    ):
        raise click.BadParameter(
            f"{value!r} cannot be written into nginx's config: give "
            + ("names" if spaces else "one word")
            + ", without ; { } # $ quotes or backslashes"
            + ("" if spaces else " or spaces"),
            ctx, param,
        )  # fmt: skip
    port = value.rpartition(":")[2] if param.name != "server_name" else ""
    if not value.startswith("unix:") and port.isdigit() and not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r}: port {port} is not 1-65535", ctx, param)
    return value


@cli.command("nginx-config")
@click.option(
    "--listen", default="80", show_default=True, callback=_nginx_value,
    help="nginx's listen (port or address:port)",
)  # fmt: skip
@click.option(
    "--upstream", default="127.0.0.1:5000", show_default=True, callback=_nginx_value,
    help="where `directory serve` listens (host:port or unix:/path)",
)  # fmt: skip
@click.option("--server-name", default="_", show_default=True, callback=_nginx_value)
def nginx_config_command(listen: str, upstream: str, server_name: str) -> None:
    """Print the nginx site that fronts `directory serve` in production: it holds slow and
    idle clients, passes only whole requests on, and answers its own errors as problems.
    Its body limit follows DIRECTORY_MAX_UPLOAD_MB, and its wait for an answer
    DIRECTORY_UPLOAD_SECONDS, as set here: write it again after changing either."""
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    site = nginx_site(
        listen, upstream, server_name, max_upload_mb=settings.max_upload_mb,
        request_seconds=settings.request_seconds,
    )  # fmt: skip
    click.echo(site, nl=False)
