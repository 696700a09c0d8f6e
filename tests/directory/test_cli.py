"""The `directory` command: init, geodata load/download, clear messages."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from directory import create_app
from directory.cli import cli
from directory.settings import Settings


@pytest.fixture()
def runner_for(tmp_path: Path):
    def make(geodata_dir: Path | None):
        app = create_app(Settings(instance_dir=tmp_path, geodata_dir=geodata_dir, testing=True))
        return app, app.test_cli_runner()

    return make


@pytest.fixture()
def data_server(shared_data_dir: Path):
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(shared_data_dir)
    )
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_init_without_a_data_directory_names_both_options(runner_for):
    _app, runner = runner_for(None)
    result = runner.invoke(cli, ["init"])
    assert result.exit_code != 0
    assert "DIRECTORY_GEODATA_DIR" in result.output
    assert "directory geodata download" in result.output


def test_init_with_a_missing_directory_says_so(runner_for, tmp_path):
    _app, runner = runner_for(tmp_path / "missing")
    result = runner.invoke(cli, ["init"])
    assert result.exit_code != 0
    assert "is not a directory" in result.output


def test_download_from_a_mirror_then_init_serves_postcodes(runner_for, data_server, tmp_path):
    app, runner = runner_for(None)
    target = tmp_path / "downloaded"
    result = runner.invoke(
        cli, ["geodata", "download", "--to", str(target), "--base-url", data_server]
    )
    assert result.exit_code == 0, result.output
    assert (target / "postcodes" / "london_postcodes_codepoint_open_2025_10.csv").exists()
    result = runner.invoke(cli, ["init", "--from", str(target)])
    assert result.exit_code == 0, result.output
    assert "Loaded geography release 1" in result.output
    again = runner.invoke(cli, ["init", "--from", str(target)])
    assert "nothing changed" in again.output
    response = app.test_client().get("/api/v1/postcodes/KT1 1EU")
    assert response.get_json()["borough"]["code"] == "E09000021"


def test_download_of_a_missing_file_fails_clearly(runner_for, data_server, tmp_path):
    _app, runner = runner_for(None)
    result = runner.invoke(
        cli,
        [
            "geodata",
            "download",
            "--to",
            str(tmp_path / "d"),
            "--base-url",
            data_server + "/nothing",
        ],
    )
    assert result.exit_code != 0
    assert "/nothing/" in result.output
