"""A clone of the project on its own (no ../shared/data beside it, no DIRECTORY_GEODATA_DIR,
no network) initialises from the packaged snapshot, loads the demo directory with the crime
and population figures, and answers KT1 1EU.

The clone is the project's files (tracked, and new ones not ignored) copied to a temporary
folder. Its commands run in a subprocess whose every non-loopback connection is refused (a
``sitecustomize`` wraps ``socket.connect``), with the proxies and the mirror pointed at a
closed local port: it cannot pass by downloading.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from geodata.snapshot import packaged_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens

NO_NETWORK = """
import socket

_connect = socket.socket.connect


def _loopback_only(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"network blocked by the bare-clone test: {address!r}")
    return _connect(self, address)


socket.socket.connect = _loopback_only
"""

ASK = """
import json, directory
from directory import create_app
from directory.settings import Settings

app = create_app(Settings.from_env())
client = app.test_client()
pc = client.get("/api/v1/postcodes/KT1 1EU")
patch = client.get("/api/v1/patch?postcode=KT1 1EU")
status = client.get("/api/v1/status").get_json()
print(json.dumps({
    "module": directory.__file__,
    "postcode_status": pc.status_code,
    "postcode": pc.get_json(),
    "patch_status": patch.status_code,
    "patch_services": patch.get_json()["counts"],
    "sources": sorted(s["source"] for s in status["sources"]),
    "geography": status["geography"],
}))
"""


def _copy_project(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.mark.slow
def test_a_bare_clone_with_no_network_runs_on_the_packaged_snapshot(tmp_path):
    clone = tmp_path / "elsewhere" / "project"
    _copy_project(clone)
    assert not (clone.parent / "shared").exists()
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(NO_NETWORK)
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith("DIRECTORY_") and "proxy" not in key.lower()
    }  # fmt: skip
    env.update(
        PYTHONPATH=os.pathsep.join([str(blocker), str(clone)]),
        DIRECTORY_INSTANCE_DIR=str(tmp_path / "instance"),
        DIRECTORY_GEODATA_BASE_URL=CLOSED,
        DIRECTORY_FREEZE_HEAP="false",
        http_proxy=CLOSED, https_proxy=CLOSED, HTTP_PROXY=CLOSED, HTTPS_PROXY=CLOSED,
        ALL_PROXY=CLOSED, no_proxy="", NO_PROXY="",
    )  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], cwd=clone, env=env, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip

    blocked = run("-c", "import socket; socket.create_connection(('192.0.2.1', 80), timeout=5)")
    assert "network blocked by the bare-clone test" in blocked.stderr  # the blocker works

    cli = ("-c", "from directory.cli import main; main()")
    init = run(*cli, "init")
    assert init.returncode == 0, init.stdout + init.stderr
    snapshot_id = packaged_manifest(clone / "geodata" / "data" / "snapshot").about["id"]
    assert f"London data: packaged snapshot {snapshot_id}" in init.stderr
    assert "Loaded geography release" in init.stdout
    demo = run(*cli, "demo", "load")
    assert demo.returncode == 0, demo.stdout + demo.stderr

    asked = run("-c", ASK)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout.strip().splitlines()[-1])
    assert Path(answer["module"]).is_relative_to(clone)  # the clone's code, not this checkout's
    assert answer["postcode_status"] == 200
    postcode = answer["postcode"]
    assert postcode["postcode"] == "KT1 1EU"
    assert postcode["borough"] == {
        "code": "E09000021",
        "name": "Kingston upon Thames",
        "type": "borough",
    }
    assert postcode["bcu"]["code"] == "bcu-south-west"
    assert postcode["data_release"]["data"]["id"] == snapshot_id
    assert answer["geography"]["data"] == postcode["data_release"]["data"]
    assert answer["patch_status"] == 200 and answer["patch_services"]["services"] > 0
    assert {"demo-mopac-decisions", "demo-committee-services", "demo-360giving",
            "ons-population", "mps-borough-crime"} <= set(answer["sources"])  # fmt: skip
