"""The `directory` command: a Flask CLI group with the project's operational commands."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from directory.app import create_app
from directory.loading import load_geography
from directory.settings import Settings, SettingsError
from directory.web import state
from geodata.errors import DataFileError

NO_DATA_HELP = (
    "No geography data directory. Either set DIRECTORY_GEODATA_DIR (or pass --from) to a "
    "directory holding the London data files (on the project machines: ../shared/data), or "
    "run `directory geodata download --to DIR` to fetch the official releases first."
)


def _create_app() -> Flask:
    try:
        return create_app(Settings.from_env())
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def cli() -> None:
    """London Funded Services Directory: manage the database, data and server."""


def main() -> None:
    cli(prog_name="directory")


def _data_dir(given: Path | None) -> Path:
    directory = given or state().settings.geodata_dir
    if directory is None:
        raise click.ClickException(NO_DATA_HELP)
    if not directory.is_dir():
        raise click.ClickException(f"{directory} is not a directory. {NO_DATA_HELP}")
    return directory


def _load(directory: Path, force: bool) -> None:
    try:
        report = load_geography(state().db, directory, force=force)
    except DataFileError as error:
        raise click.ClickException(f"{error}\n{NO_DATA_HELP}") from None
    state().geography.invalidate()
    click.echo(report.describe())


@cli.command("migrate")
@with_appcontext
def migrate_command() -> None:
    """Create or upgrade the database schema (Alembic)."""
    state().db.migrate()
    click.echo(f"Database at the newest schema: {_safe_url(state().settings.database_url)}")


@cli.command("init")
@click.option(
    "--from", "from_dir", type=click.Path(path_type=Path), help="Geography data directory"
)
@click.option("--force", is_flag=True, help="Reload geography even if unchanged")
@with_appcontext
def init_command(from_dir: Path | None, force: bool) -> None:
    """Migrate the database and load the geography (idempotent)."""
    state().db.migrate()
    click.echo(f"Database at the newest schema: {_safe_url(state().settings.database_url)}")
    _load(_data_dir(from_dir), force)


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
@with_appcontext
def geodata_load(from_dir: Path | None, force: bool) -> None:
    """Load boundaries, BCU membership and postcodes in one transaction."""
    _load(_data_dir(from_dir), force)


@geodata_group.command("download")
@click.option(
    "--to",
    "to_dir",
    type=click.Path(path_type=Path),
    help="Target directory (default instance/geodata)",
)
@click.option(
    "--base-url", help="Fetch every file from this mirror instead of each file's official URL"
)
@with_appcontext
def geodata_download(to_dir: Path | None, base_url: str | None) -> None:
    """Download the data files named in the source manifest (atomic, checksum-verified)."""
    from geodata.download import download_sources
    from geodata.sources import load_manifest

    settings = state().settings
    target = to_dir or settings.instance_dir / "geodata"
    try:
        paths = download_sources(
            load_manifest(), target, base_url=base_url or settings.geodata_base_url
        )
    except DataFileError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Downloaded {len(paths)} files to {target}. Load them with: directory geodata load --from {target}"
    )


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve_command(host: str, port: int, workers: int) -> None:
    """Serve the API with gunicorn."""
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which(
        "gunicorn"
    )
    if gunicorn is None:
        raise click.ClickException("gunicorn is not installed: pip install gunicorn")
    click.echo(f"Serving on http://{host}:{port}/ (API docs: http://{host}:{port}/api/v1/docs)")
    os.execv(
        gunicorn,
        [
            gunicorn,
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--access-logfile",
            "-",
            "directory:create_app()",
        ],
    )


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
