"""The packaged London snapshot: what it holds, that it is reproducible, and extraction that
never leaves a corrupt data directory behind."""

from __future__ import annotations

import errno
import hashlib
import lzma
import shutil
import tomllib
from pathlib import Path

import pytest

from geodata.errors import DataFileError
from geodata.snapshot import (
    PACKAGED_SNAPSHOT,
    build_snapshot,
    count_rows,
    extract_snapshot,
    packaged_manifest,
)
from geodata.sources import GEOGRAPHY_KEYS, MANIFEST_FILE, Manifest, load_manifest
from tests.conftest import files_limited_to

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return packaged_manifest()


def test_it_holds_every_file_the_manifest_lists_with_provenance(manifest):
    assert [f.key for f in manifest.files] == [f.key for f in load_manifest().files]
    assert set(GEOGRAPHY_KEYS) | {"bcus", "mopac_decisions", "giving360", "population", "crime"} \
        == {f.key for f in manifest.files}  # fmt: skip
    for entry in manifest.files:
        assert entry.source and entry.licence and entry.attribution and entry.release
        assert entry.stored == entry.path + ".xz" and (PACKAGED_SNAPSHOT / entry.stored).is_file()
        assert len(entry.sha256 or "") == 64 and entry.rows and entry.rows > 0
    rows = {f.key: f.rows for f in manifest.files}
    assert rows["postcodes"] == 180_792 and rows["wards"] == 704 and rows["boroughs"] == 33
    assert manifest.about["kind"] == "snapshot"
    assert manifest.about["id"] == "london-" + manifest.about["content_sha256"][:12]


def test_the_manifest_matches_the_data_the_tests_read(manifest, shared_data_dir):
    """Each file's sha256 and row count are those of the London data: the shared folder's
    when present (so the committed snapshot is what the shared data builds), else the
    extracted snapshot's."""
    for entry in manifest.files:
        path = shared_data_dir / entry.path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256, entry.path
        assert count_rows(path, entry.layer) == entry.rows, entry.path


def test_a_build_is_reproducible_byte_for_byte(manifest, shared_data_dir, tmp_path):
    """Building the small files again gives the committed compressed bytes (the large ones
    take ~25 s to compress: scripts/build_snapshot.py --check compares them all)."""
    small = [
        f for f in load_manifest().files if (shared_data_dir / f.path).stat().st_size < 200_000
    ]
    assert len(small) >= 4
    spec = Manifest(files=small, label="subset")
    built = build_snapshot(shared_data_dir, tmp_path / "a", spec)
    again = build_snapshot(shared_data_dir, tmp_path / "b", spec)
    assert (tmp_path / "a" / MANIFEST_FILE).read_bytes() == (
        tmp_path / "b" / MANIFEST_FILE
    ).read_bytes()
    committed = {f.key: f for f in manifest.files}
    for entry in built.files:
        assert (tmp_path / "a" / entry.stored).read_bytes() == (
            PACKAGED_SNAPSHOT / entry.stored
        ).read_bytes()
        assert (entry.sha256, entry.rows) == (
            committed[entry.key].sha256,
            committed[entry.key].rows,
        )
    assert {f.key for f in again.files} == {f.key for f in small}


def test_a_rebuild_drops_files_no_longer_listed(shared_data_dir, tmp_path):
    spec = load_manifest()
    one = Manifest(files=[spec.file("bcus"), spec.file("population")])
    build_snapshot(shared_data_dir, tmp_path, one)
    build_snapshot(shared_data_dir, tmp_path, Manifest(files=[spec.file("bcus")]))
    assert sorted(p.name for p in tmp_path.rglob("*.xz")) == ["met_bcus_boroughs.csv.xz"]


def test_extraction_checks_every_file_and_is_reused(manifest, tmp_path):
    target = extract_snapshot(tmp_path)
    assert target == tmp_path / manifest.about["id"]
    for entry in manifest.files:
        data = (target / entry.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256
    assert (target / MANIFEST_FILE).is_file()
    marker = target / "postcodes" / "marker"
    marker.write_text("kept")
    assert extract_snapshot(tmp_path) == target and marker.exists()  # not unpacked twice


def _copy_of_snapshot(tmp_path: Path) -> Path:
    copy = tmp_path / "snap"
    shutil.copytree(PACKAGED_SNAPSHOT, copy)
    return copy


def test_a_corrupt_file_fails_and_leaves_nothing(tmp_path):
    copy = _copy_of_snapshot(tmp_path)
    stored = copy / "reference" / "met_bcus_boroughs.csv.xz"
    stored.write_bytes(stored.read_bytes()[:40])  # truncated
    out = tmp_path / "out"
    with pytest.raises(DataFileError, match="missing or corrupt"):
        extract_snapshot(out, copy)
    assert [p.name for p in out.iterdir()] == []


def test_a_folder_that_cannot_hold_the_snapshot_is_named_not_the_snapshot(tmp_path):
    """A full disk under the instance folder is the folder's refusal, naming it: it was
    "Snapshot file … is missing or corrupt: [Errno 28] No space left on device", so an
    operator looked for a broken package. Nothing is left behind, and once there is room
    the same call unpacks it."""
    out = tmp_path / "out"
    with files_limited_to(300_000), pytest.raises(OSError) as refused:
        extract_snapshot(out)
    assert not isinstance(refused.value, DataFileError)
    assert refused.value.errno == errno.EFBIG and refused.value.filename == str(out)
    assert [p.name for p in out.iterdir()] == []
    assert (extract_snapshot(out) / MANIFEST_FILE).is_file()


def test_content_that_does_not_match_its_checksum_is_refused(tmp_path):
    copy = _copy_of_snapshot(tmp_path)
    stored = copy / "reference" / "met_bcus_boroughs.csv.xz"
    text = lzma.decompress(stored.read_bytes()).replace(b"Central West", b"Central Worst")
    stored.write_bytes(lzma.compress(text))
    out = tmp_path / "out"
    with pytest.raises(DataFileError, match="does not match its manifest"):
        extract_snapshot(out, copy)
    assert [p.name for p in out.iterdir()] == []


def test_the_snapshot_is_package_data_and_small():
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["geodata"]
    package = REPO_ROOT / "geodata"
    files = {p for p in PACKAGED_SNAPSHOT.rglob("*") if p.is_file()}
    shipped = {p for pattern in patterns for p in package.glob(pattern)}  # setuptools' globs
    assert files and files <= shipped, sorted(map(str, files - shipped))
    packed = sum(p.stat().st_size for p in files)
    assert packed < 4_000_000, f"the packaged snapshot has grown to {packed / 1e6:.1f} MB"
