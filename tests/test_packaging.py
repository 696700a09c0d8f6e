"""The project as a server installs it: ``pip install '.[postgres]'`` (README, "Deployment"),
a wheel, not the editable install the tests run from. Every file of the two packages the
repository tracks must be in it: the packaged London snapshot, the migrations, the page's
templates, scripts and vendored libraries, the standards' schemas, the configuration the
server reads. A data file whose folder no ``package-data`` pattern names would be left
out without a word (setuptools warns of the snapshot's folder, which its patterns do
hold), and the server installed from the wheel would fail at its first read of it.

The wheel is built offline (``--no-index --no-build-isolation``, with the setuptools the
test extra installs) from a copy of the tracked files, so that the build writes nothing
into the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("directory", "geodata")


def _tracked(*paths: str) -> list[str]:
    found = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--", *paths],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [name for name in found.stdout.split("\0") if name]


def test_the_wheel_a_server_installs_holds_every_file_of_the_packages(tmp_path: Path) -> None:
    source, out = tmp_path / "source", tmp_path / "wheel"
    for name in _tracked("pyproject.toml", "LICENSE", "README.md", *PACKAGES):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--wheel-dir", str(out), str(source)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = out.glob("*.whl")
    held = set(zipfile.ZipFile(wheel).namelist())
    tracked = _tracked(*PACKAGES)
    assert len(tracked) > 250  # (the packages' files, not an empty listing)
    assert [name for name in tracked if name not in held] == []
    # and nothing the repository does not track (a stray file of a working tree)
    extra = [n for n in held if not n.split("/")[0].endswith(".dist-info")]
    assert sorted(set(extra) - set(tracked)) == []
    assert "geodata/data/snapshot/manifest.json" in held
