"""The `directory` command: init (and where its data comes from), geodata load/download,
clear messages."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from directory import create_app
from directory.cli import cli
from directory.loading import DataDir, releases_dir, resolve_data_dir
from directory.settings import Settings
from geodata.snapshot import packaged_manifest


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


def test_init_with_nothing_configured_loads_the_packaged_snapshot(runner_for, tmp_path):
    app, runner = runner_for(None)
    result = runner.invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    snapshot_id = packaged_manifest().about["id"]
    assert f"London data: packaged snapshot {snapshot_id}" in result.output
    assert (tmp_path / "data" / "snapshot" / snapshot_id / "manifest.json").is_file()
    client = app.test_client()
    body = client.get("/api/v1/postcodes/KT1 1EU").get_json()
    assert body["borough"]["code"] == "E09000021"
    origin = {"kind": "snapshot", "id": snapshot_id}
    assert {k: body["data_release"]["data"][k] for k in origin} == origin
    ready = client.get("/ready").get_json()
    assert ready["data_release"]["data"]["id"] == snapshot_id
    status = client.get("/api/v1/status").get_json()
    assert status["geography"]["data"]["kind"] == "snapshot"
    assert status["geography"]["postcodes"].startswith("OS Code-Point Open")


def _release(settings: Settings, name: str, complete: bool = True) -> Path:
    path = releases_dir(settings) / name
    path.mkdir(parents=True)
    (path / "manifest.json").write_text("{}")
    if complete:
        (path / ".complete").write_text(name)
    return path


def test_the_data_directory_is_chosen_in_the_documented_order(tmp_path):
    given, configured = tmp_path / "given", tmp_path / "configured"
    settings = Settings(instance_dir=tmp_path / "instance", geodata_dir=configured)
    bare = Settings(instance_dir=tmp_path / "instance")
    _release(bare, "20260101T000000Z")
    newest = _release(bare, "20261129T120000Z")
    _release(bare, "20261231T000000Z", complete=False)  # a refresh still being written
    assert resolve_data_dir(settings, given) == DataDir(given, "--from", str(given))
    assert resolve_data_dir(settings).origin == "DIRECTORY_GEODATA_DIR"
    assert resolve_data_dir(bare) == DataDir(newest, "refreshed release", newest.name)
    shutil.rmtree(releases_dir(bare))
    chosen = resolve_data_dir(bare)
    assert (
        chosen.origin == "packaged snapshot"
        and chosen.path.parent == tmp_path / "instance" / "data" / "snapshot"
    )


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
