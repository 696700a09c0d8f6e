"""Loaders: the real London data (integration) and broken data directories."""

import os
from collections import Counter

import pytest
import shapely

from geodata import loaders
from geodata.errors import DataFileError
from geodata.loaders import (
    BCU_MEMBERSHIP_PATH,
    CITY_OF_LONDON_CODE,
    LONDON_CODE,
    MET_PFA_CODE,
    read_bcu_membership,
    read_bundle,
    read_postcodes,
    read_terminated_postcodes,
    release_checksum,
)
from geodata.sources import load_manifest
from tests.conftest import one_byte_changed


# -- integration ---------------------------------------------------------------------------
def test_bundle_counts(bundle):
    counts = Counter(a.type for a in bundle.areas)
    assert counts == {"region": 1, "police_area": 1, "bcu": 12, "borough": 33, "ward": 704}
    statuses = Counter(p.status for p in bundle.postcodes)
    assert statuses["live"] == 180_792
    assert statuses["terminated"] > 0


def test_bundle_codes_and_parents(bundle):
    boroughs = bundle.areas_of_type("borough")
    assert [b.code for b in boroughs] == [f"E090000{n:02d}" for n in range(1, 34)]
    bcu_ids = {b.code for b in bundle.areas_of_type("bcu")}
    for borough in boroughs:
        if borough.code == CITY_OF_LONDON_CODE:
            assert borough.parent_code == LONDON_CODE
        else:
            assert borough.parent_code in bcu_ids
    borough_codes = {b.code for b in boroughs}
    assert all(w.parent_code in borough_codes for w in bundle.areas_of_type("ward"))
    (region,) = bundle.areas_of_type("region")
    assert (region.code, region.name, region.parent_code) == (LONDON_CODE, "London", None)


def test_city_of_london_has_no_bcu(bundle):
    city = next(a for a in bundle.areas if a.code == CITY_OF_LONDON_CODE)
    assert city.attributes["bcu"] is None
    assert city.attributes["police_force"] == "City of London Police"
    assert city.attributes["pfa_code"] == "E23000034"
    assert "no Met BCU" in city.attributes["note"]
    for bcu in bundle.areas_of_type("bcu"):
        assert CITY_OF_LONDON_CODE not in bcu.attributes["borough_codes"]


def test_the_metropolitan_police_district_is_london_but_the_city(bundle):
    """E23000001 sits between London and the BCUs: the BCUs' parent, London's child, its
    polygon the union of the 32 boroughs in BCUs; the City's parent stays London."""
    by_code = {a.code: a for a in bundle.areas}
    (district,) = bundle.areas_of_type("police_area")
    assert (district.code, district.name, district.parent_code) == (
        MET_PFA_CODE, "Metropolitan Police District", LONDON_CODE,
    )  # fmt: skip
    assert {b.parent_code for b in bundle.areas_of_type("bcu")} == {MET_PFA_CODE}
    assert by_code[CITY_OF_LONDON_CODE].parent_code == LONDON_CODE
    boroughs = [b for b in bundle.areas_of_type("borough") if b.code != CITY_OF_LONDON_CODE]
    assert district.attributes["borough_codes"] == sorted(b.code for b in boroughs)
    london, city = by_code[LONDON_CODE].geometry, by_code[CITY_OF_LONDON_CODE].geometry
    assert district.geometry.area == pytest.approx(london.area - city.area, rel=1e-9)
    assert shapely.intersection(district.geometry, city).area < 1.0  # (they share an edge)
    assert "MPD" in district.attributes["aliases"]


def test_bcu_geometry_is_union_of_members(bundle):
    by_code = {a.code: a for a in bundle.areas}
    central_west = by_code["bcu-central-west"]
    assert central_west.name == "Central West"
    assert central_west.attributes["borough_codes"] == ["E09000013", "E09000020", "E09000033"]
    area = sum(by_code[c].geometry.area for c in central_west.attributes["borough_codes"])
    assert central_west.geometry.area == pytest.approx(area, rel=1e-6)


def test_geometries_are_valid_polygons(bundle):
    for area in bundle.areas:
        assert area.geometry.geom_type in {"Polygon", "MultiPolygon"}, area.code
        assert area.geometry.is_valid, area.code


def test_ward_names_are_current(bundle):
    names = {a.code: a.name for a in bundle.areas_of_type("ward")}
    assert names["E05009317"] == "Bethnal Green East"  # WD22 name was "Bethnal Green"


def test_every_postcode_is_in_a_known_borough_and_ward(bundle):
    codes = {a.code for a in bundle.areas}
    assert all(p.borough_code in codes and p.ward_code in codes for p in bundle.postcodes)


def test_terminated_records(bundle, shared_data_dir):
    terminated = [p for p in bundle.postcodes if p.status == "terminated"]
    assert all(p.terminated and len(p.terminated) == 7 for p in terminated)
    live = {p.canonical for p in bundle.postcodes if p.status == "live"}
    assert not live & {p.canonical for p in terminated}
    raw = read_terminated_postcodes(shared_data_dir, live)
    assert len(raw) == len(terminated)
    sample = next(p for p in raw if p.canonical == "SM11AB")
    assert (sample.introduced, sample.terminated, sample.ward_code) == (
        "1999-12",
        "2002-07",
        "E05000564",  # NSPL's 2021 ward code, before the bundle maps it to a 2022 ward
    )


def test_neighbours_cover_three_layers(bundle):
    kinds = Counter(("bcu" if a.startswith("bcu-") else a[:3]) for a, _b, _r in bundle.neighbours)
    assert set(kinds) == {"E09", "bcu", "E05"}
    assert ("bcu-central-east", "bcu-south-east", "across_water") in bundle.neighbours
    assert all(a < b for a, b, _ in bundle.neighbours)


def test_release_metadata(bundle):
    release = bundle.release
    assert len(release["checksum"]) == 64
    assert set(release["files"]) == {"boroughs", "wards", "ward_names", "postcodes", "nspl"}
    assert release["vintages"]["postcodes"] == "2025-10"
    assert "Code-Point" in release["label"]


def test_the_release_checksum_is_read_bundles_without_reading_a_file(
    bundle, shared_data_dir, monkeypatch
):
    """What a load compares with the loaded release's before it reads anything (a tenth
    of a second where reading takes four to five) is the checksum read_bundle records."""

    def unread(*_args, **_kwargs):
        raise AssertionError("a file was read")

    for reader in ("read_bcu_membership", "read_boroughs", "read_wards", "read_postcodes",
                   "read_terminated_postcodes", "_read_layer", "_read_csv"):  # fmt: skip
        monkeypatch.setattr(loaders, reader, unread)
    assert release_checksum(shared_data_dir) == bundle.release["checksum"]


def test_the_release_checksum_changes_with_a_byte_of_a_file_or_the_layers_built(
    shared_data_dir, tmp_path, monkeypatch
):
    same = release_checksum(shared_data_dir)
    changed = one_byte_changed(shared_data_dir, tmp_path / "changed")
    assert release_checksum(changed) != same
    monkeypatch.setattr(loaders, "AREAS_BUILT", loaders.AREAS_BUILT + ",lsoa")
    assert release_checksum(shared_data_dir) != same


def test_the_release_checksum_refuses_a_file_that_is_not_the_one_its_manifest_names(
    shared_data_dir, tmp_path
):
    """A file changed since its manifest was written is refused before its checksum is
    trusted (as read_bundle refuses it), naming the file."""
    changed = one_byte_changed(shared_data_dir, tmp_path / "changed", in_manifest=False)
    with pytest.raises(DataFileError, match="names .ward_names: sha256 .*changed or cut short"):
        release_checksum(changed)


def test_read_postcodes_record(shared_data_dir):
    records = read_postcodes(shared_data_dir)
    assert len(records) == 180_792
    first = records[0]
    assert (first.canonical, first.display, first.outcode) == ("BR11AA", "BR1 1AA", "BR1")
    assert (first.easting, first.northing, first.positional_quality) == (540291.0, 168873.0, 10)
    assert first.status == "live" and first.terminated is None


def test_bcu_membership_table():
    rows = read_bcu_membership()
    assert len({r.bcu_id for r in rows}) == 12
    assert len(rows) == 32
    assert CITY_OF_LONDON_CODE not in {r.borough_gss_code for r in rows}
    assert {r.mps_code_unverified for r in rows} >= {"NA"}  # not read as missing


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda text: text.replace("Hammersmith", "Hammersmïth").encode("latin-1"), id="latin-1"),
        pytest.param(lambda text: text.replace("Hammersmith", "H" * 200_000, 1).encode(), id="field-too-long"),
        pytest.param(lambda text: text.replace(",2018-10-01,", ",2018-13-01,", 1).encode(), id="bad-date"),
    ],
)  # fmt: skip
def test_a_damaged_bcu_membership_table_is_a_data_file_error(tmp_path, damage):
    table = tmp_path / "bcu_membership.csv"
    table.write_bytes(damage(BCU_MEMBERSHIP_PATH.read_text(encoding="utf-8")))
    with pytest.raises(DataFileError, match=r"bcu_membership\.csv"):
        read_bcu_membership(table)


# -- broken data directories --------------------------------------------------------------
def linked_copy(shared_data_dir, tmp_path, skip=()):
    """A data dir of symlinks to the real files (nothing copied), minus ``skip``."""
    for entry in load_manifest().files:
        if entry.key in skip:
            continue
        target = tmp_path / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(shared_data_dir / entry.path, target)
    return tmp_path


def test_missing_directory(tmp_path):
    with pytest.raises(DataFileError, match="not found: .*nowhere.*DIRECTORY_GEODATA_DIR"):
        read_bundle(tmp_path / "nowhere")


def test_missing_file(shared_data_dir, tmp_path):
    data_dir = linked_copy(shared_data_dir, tmp_path, skip={"wards"})
    with pytest.raises(
        DataFileError, match=r"london_wards_2022_27700\.gpkg.*packaged with the project"
    ):
        read_bundle(data_dir)


def test_broken_geopackage(shared_data_dir, tmp_path):
    data_dir = linked_copy(shared_data_dir, tmp_path, skip={"boroughs"})
    (data_dir / "boundaries" / "london_boroughs_27700.gpkg").write_bytes(b"not a geopackage")
    with pytest.raises(DataFileError, match=r"Cannot read .*london_boroughs_27700\.gpkg"):
        read_bundle(data_dir)


def test_postcode_file_with_missing_column(shared_data_dir, tmp_path):
    data_dir = linked_copy(shared_data_dir, tmp_path, skip={"postcodes"})
    path = data_dir / "postcodes" / "london_postcodes_codepoint_open_2025_10.csv"
    path.write_text("postcode,outcode\nSW1A 1AA,SW1A\n")
    with pytest.raises(DataFileError, match="lacks columns eastings"):
        read_postcodes(data_dir)


def test_malformed_postcodes_reported(shared_data_dir, tmp_path):
    data_dir = linked_copy(shared_data_dir, tmp_path, skip={"postcodes"})
    path = data_dir / "postcodes" / "london_postcodes_codepoint_open_2025_10.csv"
    header = (
        "postcode,outcode,eastings,northings,latitude,longitude,positional_quality,"
        "laua_code,laua_name,ward_code,ward_name\n"
    )
    path.write_text(header + "NOT A CODE,X,1,2,3,4,10,E09000001,x,E05009288,y\n")
    with pytest.raises(DataFileError, match="1 malformed postcodes"):
        read_postcodes(data_dir)


def test_postcode_outside_the_wards_fails_validation(shared_data_dir, tmp_path):
    data_dir = linked_copy(shared_data_dir, tmp_path, skip={"postcodes"})
    source = shared_data_dir / "postcodes" / "london_postcodes_codepoint_open_2025_10.csv"
    lines = source.read_text().splitlines(keepends=True)
    lines.append("AB1 1AB,AB1,530000,180000,51.5,-0.12,10,E09000099,x,E05999999,y\n")
    (data_dir / "postcodes" / source.name).write_text("".join(lines))
    with pytest.raises(DataFileError, match="1 with a borough outside the 33, 1 with a ward"):
        read_bundle(data_dir)


def test_bundle_geometry_is_shapely(bundle):
    assert isinstance(bundle.areas[0].geometry, shapely.geometry.base.BaseGeometry)


def test_built_in_aliases_are_attached(bundle):
    by_code = {a.code: a for a in bundle.areas}
    assert "City" in by_code[CITY_OF_LONDON_CODE].attributes["aliases"]
    assert "Kingston" in by_code["E09000021"].attributes["aliases"]
    assert "aliases" not in by_code["E09000022"].attributes


def test_a_month_field_is_a_month_only_in_ascii_digits():
    """Six characters str.isdigit() takes ("²⁰⁰²⁰⁷") made a month int() could not read."""
    from geodata.loaders import _yyyymm

    assert (_yyyymm(" 200207 "), _yyyymm("²⁰⁰²⁰⁷"), _yyyymm("2002-7")) == ("2002-07", None, None)


# -- numbers, geometries and files no one meant -------------------------------------------
CODEPOINT_HEADER = (
    "postcode,outcode,eastings,northings,latitude,longitude,positional_quality,"
    "laua_code,laua_name,ward_code,ward_name\n"
)
GOOD_ROW = "SW1A 1AA,SW1A,529090,179645,51.501009,-0.141588,10,E09000033,x,E05013806,y\n"


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("SW1A 1AB,SW1A,inf,179645,51.5,-0.14,10,E09000033,x,E05013806,y\n", "eastings"),
        ("SW1A 1AB,SW1A,1e400,179645,51.5,-0.14,10,E09000033,x,E05013806,y\n", "eastings"),
        ("SW1A 1AB,SW1A,529090,-1e18,51.5,-0.14,10,E09000033,x,E05013806,y\n", "northings"),
        ("SW1A 1AB,SW1A,529090,179645,inf,-0.14,10,E09000033,x,E05013806,y\n", "latitude"),
        ("SW1A 1AB,SW1A,529090,179645,51.5,-200,10,E09000033,x,E05013806,y\n", "longitude"),
        ("SW1A 1AB,SW1A,529090,179645,51.5,-0.14,1e30,E09000033,x,E05013806,y\n",
         "positional_quality"),
    ],
)  # fmt: skip
def test_a_postcode_number_outside_its_range_is_a_data_file_error(
    shared_data_dir, tmp_path, row, column
):
    """An infinite or huge coordinate was a traceback (a grid cell that cannot be made, or
    an integer SQLite cannot bind), a latitude of inf loaded as null, a quality of 1e30
    as -2**63."""
    data_dir = linked_copy(shared_data_dir, tmp_path, skip={"postcodes"})
    path = data_dir / "postcodes" / "london_postcodes_codepoint_open_2025_10.csv"
    path.write_text(CODEPOINT_HEADER + GOOD_ROW + row)
    with pytest.raises(DataFileError, match=f"1 rows have a '{column}' outside"):
        read_postcodes(data_dir)
    path.write_text(CODEPOINT_HEADER + GOOD_ROW)
    assert [p.canonical for p in read_postcodes(data_dir)] == ["SW1A1AA"]


def test_a_boundary_with_a_coordinate_that_is_no_number_is_a_data_file_error():
    """GEOS cannot make such a polygon valid: its error was a traceback."""
    from shapely.geometry import Polygon

    from geodata.loaders import _areal

    broken = Polygon([(0, 0), (float("inf"), 0), (1, 1), (0, 1)])
    with pytest.raises(DataFileError, match="ward X: the geometry has a coordinate that is not"):
        _areal(broken, "ward X")


def test_a_file_that_is_not_the_one_its_manifest_names_is_refused(tmp_path):
    """The packaged snapshot's and every refreshed release's manifest gives each file's
    sha256: a postcode file cut to its header loaded 6,950 postcodes in place of
    180,792 (every live one's row was gone). It is refused, naming the file."""
    from geodata.snapshot import extract_snapshot

    data_dir = extract_snapshot(tmp_path)
    path = data_dir / "postcodes" / "london_postcodes_codepoint_open_2025_10.csv"
    path.write_text(path.read_text().splitlines(keepends=True)[0])
    with pytest.raises(DataFileError, match="not the file its manifest names .*cut short"):
        read_bundle(data_dir)


def test_a_manifest_nested_past_what_python_reads_is_a_data_file_error(tmp_path):
    from geodata.sources import read_manifest_json

    path = tmp_path / "manifest.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(DataFileError, match="is not valid JSON"):
        read_manifest_json(path)
