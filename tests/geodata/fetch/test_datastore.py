"""London Datastore (DataPress) sources: GLA borough boundaries and MPS borough crime."""

from __future__ import annotations

import csv
import io

import pyogrio
import pyogrio.raw
import pytest
import shapely

from geodata.errors import FetchError
from geodata.fetch import SOURCES
from geodata.fetch.boroughs import GPKG_PATH, LAYER
from geodata.fetch.crime import OUTPUT_PATH as CRIME_PATH
from tests.geodata.fetch import publishers
from tests.geodata.fetch.conftest import leftovers

BOROUGHS = SOURCES["boroughs"]
CRIME = SOURCES["crime"]


# -- boroughs ---------------------------------------------------------------------------------
def test_boroughs_discover_follows_the_api_redirect(client, server, borough_zip):
    publishers.publish_boroughs(server, borough_zip)
    found = BOROUGHS.discover(client)
    assert len(server.requests_to(publishers.BOROUGHS_DATASET_V2)) == 1
    assert found.version == {
        "resource": publishers.BOROUGHS_RESOURCE,
        "url": publishers.BOROUGHS_ZIP_URL,
        "check_hash": publishers.md5(borough_zip),
        "check_size": len(borough_zip),
    }
    assert found.details["download_url"] == publishers.BOROUGHS_ZIP_URL
    assert found.licence == "OGL v3"  # as the dataset states it
    assert found.url == publishers.BOROUGHS_DATASET
    assert "Ordnance Survey" in found.attribution


def test_boroughs_fetch_writes_the_33_boroughs(
    client, server, borough_zip, shared_data_dir, workdir
):
    publishers.publish_boroughs(server, borough_zip)
    [written] = BOROUGHS.fetch(client, BOROUGHS.discover(client), workdir)
    info = pyogrio.read_info(workdir / GPKG_PATH, layer=LAYER)
    assert info["crs"] == "EPSG:27700"
    assert {"GSS_CODE", "NAME", "ONS_INNER", "HECTARES"} <= set(info["fields"])
    meta, _f, wkb, data = pyogrio.raw.read(workdir / GPKG_PATH, layer=LAYER)
    names = list(meta["fields"])
    codes = list(data[names.index("GSS_CODE")])
    assert codes == list(publishers.BOROUGH_CODES_EXPECTED)

    smeta, _f, swkb, sdata = pyogrio.raw.read(
        shared_data_dir / "boundaries" / "london_boroughs_27700.gpkg"
    )
    snames = list(smeta["fields"])
    source = dict(zip(sdata[snames.index("GSS_CODE")], shapely.from_wkb(swkb), strict=True))
    source_name = dict(
        zip(sdata[snames.index("GSS_CODE")], sdata[snames.index("NAME")], strict=True)
    )
    for code, name, geom in zip(
        codes, data[names.index("NAME")], shapely.from_wkb(wkb), strict=True
    ):
        assert name == source_name[code]
        assert geom.is_valid
        assert geom.area == pytest.approx(source[code].area, rel=1e-9)
    assert (written.key, written.path, written.rows) == ("boroughs", GPKG_PATH, 33)
    assert written.url == publishers.BOROUGHS_ZIP_URL


def test_boroughs_in_another_crs_fail_loudly(client, server, shared_data_dir, tmp_path, workdir):
    wrong = publishers.build_borough_zip(shared_data_dir, tmp_path, crs="EPSG:4326")
    publishers.publish_boroughs(server, wrong)
    with pytest.raises(FetchError, match="expected British National Grid"):
        BOROUGHS.fetch(client, BOROUGHS.discover(client), workdir)
    assert leftovers(workdir) == []


def test_boroughs_zip_without_the_shapefile_fails_loudly(client, server, workdir):
    publishers.publish_boroughs(
        server, publishers.zip_bytes({"statistical-gis-boundaries-london/README.txt": b"x"})
    )
    with pytest.raises(FetchError, match="no ESRI/London_Borough_Excluding_MHW.shp"):
        BOROUGHS.fetch(client, BOROUGHS.discover(client), workdir)
    assert leftovers(workdir) == []


def test_boroughs_version_is_stable_and_changes_with_the_file(client, server, borough_zip):
    publishers.publish_boroughs(server, borough_zip)
    first, again = BOROUGHS.discover(client), BOROUGHS.discover(client)
    assert first.version == again.version
    publishers.publish_boroughs(server, borough_zip, check_hash="a" * 32)
    assert BOROUGHS.discover(client).version != first.version


# -- crime ------------------------------------------------------------------------------------
def test_crime_discover_picks_the_borough_24_months_file(client, server, crime_csv):
    publishers.publish_crime(server, crime_csv)
    found = CRIME.discover(client)
    assert found.details["download_url"] == publishers.CRIME_BOROUGH_URL
    assert found.version == {
        "resource": "pf6",
        "url": publishers.CRIME_BOROUGH_URL,
        "temporal_coverage_from": "2024-07-01",
        "temporal_coverage_to": "2026-06-30",
        "months": ["202407", "202606"],
    }
    assert found.vintage == "2026-06"
    assert found.label.endswith("2024-07 to 2026-06")
    for other in publishers.CRIME_OTHER_URLS.values():
        assert server.requests_to(other) == []


def test_crime_fetch_writes_the_file_as_downloaded(client, server, crime_csv, workdir):
    publishers.publish_crime(server, crime_csv)
    [written] = CRIME.fetch(client, CRIME.discover(client), workdir)
    assert (workdir / CRIME_PATH).read_bytes() == crime_csv
    assert written.rows == len(list(csv.reader(io.StringIO(crime_csv.decode())))) - 1
    assert (written.key, written.path, written.vintage) == ("crime", CRIME_PATH, "2026-06")
    assert written.licence == "OGL v3"


def test_crime_csv_without_month_columns_fails_naming_the_columns(
    client, server, crime_csv, workdir
):
    lines = crime_csv.decode().splitlines()
    header = lines[0].split(",")
    changed = ",".join(h if not h.isdigit() else f"M{h}" for h in header) + "\n"
    changed += "\n".join(lines[1:]) + "\n"
    publishers.publish_crime(server, changed.encode())
    with pytest.raises(
        FetchError,
        match=r"lacks month columns named YYYYMM; columns found: Group, SubGroup, BOCU, M202407",
    ):
        CRIME.discover(client)


def test_crime_header_change_after_discovery_fails_and_leaves_nothing(
    client, server, crime_csv, workdir
):
    publishers.publish_crime(server, crime_csv)
    found = CRIME.discover(client)
    publishers.publish_crime(server, b"Borough,Count\r\nCamden,3\r\n")
    with pytest.raises(FetchError, match="lacks a major-category column"):
        CRIME.fetch(client, found, workdir)
    assert leftovers(workdir) == []


def test_crime_version_changes_with_the_monthly_release(client, server, crime_csv):
    publishers.publish_crime(server, crime_csv)
    first, again = CRIME.discover(client), CRIME.discover(client)
    assert first.version == again.version
    header, rest = crime_csv.split(b"\n", 1)
    shifted = header.replace(b"202407,", b"").rstrip(b"\r") + b",202607\r\n" + rest
    new_url = publishers.CRIME_BOROUGH_URL.replace("/pf6/", "/pf7/")
    publishers.publish_crime(server, shifted, url=new_url, coverage_to="2026-07-31")
    newer = CRIME.discover(client)
    assert newer.version != first.version
    assert newer.version["months"] == ["202408", "202607"] and newer.vintage == "2026-07"
