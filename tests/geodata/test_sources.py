import json

import pytest

from geodata.errors import DataFileError
from geodata.sources import (
    GEOGRAPHY_KEYS,
    Manifest,
    SourceFile,
    data_file,
    load_manifest,
    manifest_for,
    read_manifest_json,
    write_manifest_json,
)


def test_builtin_manifest_parses():
    manifest = load_manifest()
    keys = [f.key for f in manifest.files]
    assert keys == [
        *GEOGRAPHY_KEYS, "bcus", "mopac_decisions", "giving360", "population", "crime"
    ]  # fmt: skip
    assert all(isinstance(f, SourceFile) and f.source for f in manifest.files)
    wards = manifest.file("wards")
    assert wards.path == "boundaries/london_wards_2022_27700.gpkg"
    assert wards.layer == "london_wards_2022"
    assert manifest.file("postcodes").release == "OS Code-Point Open 2025.4.0 (October 2025)"
    assert all(f.url.startswith("https://") and f.licence and f.attribution for f in manifest.files)
    assert "Code-Point" in manifest.release_label()


def test_builtin_manifest_paths_exist(shared_data_dir):
    for entry in load_manifest().files:
        assert (shared_data_dir / entry.path).is_file(), entry.path


def write(tmp_path, text):
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


ENTRY = """
[[files]]
key = "{key}"
path = "{path}"
release = "r"
vintage = "v"
licence = "l"
attribution = "a"
url = "https://example.org/x"
"""


def test_custom_manifest_and_sha(tmp_path):
    text = ENTRY.format(key="a", path="a/b.csv") + 'sha256 = "ABC"\n'
    manifest = load_manifest(write(tmp_path, text))
    assert manifest.files[0].sha256 == "ABC"
    assert manifest.files[0].layer is None
    assert manifest.release_label() == "r"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not = [valid", "not valid TOML"),
        ("label = 'x'", "no \\[\\[files\\]\\]"),
        ('[[files]]\nkey = "a"\n', "missing path"),
        (ENTRY.format(key="a", path="x") + ENTRY.format(key="a", path="y"), "twice"),
        (ENTRY.format(key="a", path="../x"), "inside the data dir"),
    ],
)
def test_bad_manifest(tmp_path, text, message):
    with pytest.raises(DataFileError, match=message):
        load_manifest(write(tmp_path, text))


def test_missing_manifest(tmp_path):
    with pytest.raises(DataFileError, match="not found"):
        load_manifest(tmp_path / "nope.toml")


def test_json_manifest_round_trip_and_precedence(tmp_path):
    entry = SourceFile(
        key="crime", path="crime/c.csv", release="r", vintage="2026-06", licence="OGL",
        attribution="a", url="https://example.org", sha256="ab" * 32, rows=3, source="s",
    )  # fmt: skip
    manifest = Manifest(files=[entry], label="L", about={"kind": "refresh", "id": "x"})
    path = write_manifest_json(manifest, tmp_path)
    again = read_manifest_json(path)
    assert again.files == [entry] and again.about == manifest.about and again.label == "L"
    # a directory's own manifest.json wins over the built-in sources.toml
    assert manifest_for(tmp_path).files == [entry]
    assert manifest_for(tmp_path / "elsewhere").file("crime").path.startswith("crime/mps_")
    (tmp_path / "crime").mkdir()
    (tmp_path / "crime" / "c.csv").write_text("x\n")
    assert data_file(tmp_path, "crime") == tmp_path / "crime" / "c.csv"
    with pytest.raises(DataFileError, match="no 'wards' file"):
        data_file(tmp_path, "wards")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("{not json", "not valid JSON"),
        ({"files": []}, "has no files"),
        ({"files": [{"key": "a"}]}, "missing path"),
        ({"files": [{**dict.fromkeys(("key", "path", "release", "vintage", "licence",
                                      "attribution", "url"), "x"), "stored": "/etc/x"}]},
         "stored '/etc/x' must stay inside"),
        ({"files": [{**dict.fromkeys(("key", "path", "release", "vintage", "licence",
                                      "attribution", "url"), "x"), "rows": -1}]},
         "bad row count"),
    ],
)  # fmt: skip
def test_bad_json_manifest(tmp_path, doc, message):
    path = tmp_path / "manifest.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    with pytest.raises(DataFileError, match=message):
        read_manifest_json(path)
