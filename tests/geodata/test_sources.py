import pytest

from geodata.errors import DataFileError
from geodata.sources import SourceFile, load_manifest


def test_builtin_manifest_parses():
    manifest = load_manifest()
    keys = [f.key for f in manifest.files]
    assert keys == ["boroughs", "wards", "ward_names", "postcodes", "nspl"]
    assert all(isinstance(f, SourceFile) for f in manifest.files)
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
