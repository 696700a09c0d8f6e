"""OS Code-Point Open through the OS Downloads API (local fixtures in the real formats)."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import zipfile

import pytest

from geodata.errors import FetchError
from geodata.fetch import SOURCES
from geodata.fetch.codepoint import OUTPUT_HEADER, OUTPUT_PATH
from geodata.postcodes import parse_postcode
from tests.geodata.fetch import publishers
from tests.geodata.fetch.conftest import leftovers
from tests.geodata.fetch.server import Reply

SOURCE = SOURCES["codepoint"]


def read_output(workdir):
    with (workdir / OUTPUT_PATH).open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_discover_reads_version_and_the_gb_csv_download(client, server, codepoint_fx):
    publishers.publish_codepoint(server, codepoint_fx.zip, version="2026-08")
    found = SOURCE.discover(client)
    assert found.source == "codepoint"
    assert found.version == {
        "version": "2026-08",
        "md5": publishers.md5(codepoint_fx.zip),
        "size": len(codepoint_fx.zip),
        "file": "codepo_gb.zip",
    }
    assert found.label == "OS Code-Point Open 2026-08"
    assert found.vintage == "2026-08"
    assert found.url == "https://api.os.uk/downloads/v1/products/CodePointOpen"
    assert found.details["download_url"] == (
        "https://api.os.uk/downloads/v1/products/CodePointOpen/downloads?area=GB&format=CSV&redirect"
    )
    assert "Contains Royal Mail data © Royal Mail copyright and database right 2026" in (
        found.attribution
    )
    # discover is cheap: the zip itself is not fetched
    assert server.requests_to(publishers.OS_FILE_REDIRECT.format(version="2026-08")) == []


def test_fetch_keeps_exactly_the_london_rows_through_the_redirect(
    client, server, codepoint_fx, workdir
):
    target = publishers.publish_codepoint(server, codepoint_fx.zip)
    found = SOURCE.discover(client)
    [written] = SOURCE.fetch(client, found, workdir)
    assert len(server.requests_to(target)) == 1  # the listed url redirected (307) to the file

    rows = read_output(workdir)
    assert tuple(rows[0]) == OUTPUT_HEADER
    out = {r[0]: dict(zip(OUTPUT_HEADER, r, strict=True)) for r in rows[1:]}
    expected = {r["postcode"]: r for r in codepoint_fx.london}
    assert set(out) == set(expected)  # every E09 row, and nothing else
    assert "SE1 0ZZ" not in out  # PQI 90: no coordinates
    assert not {"KT10 0AA", "TN13 1AA", "CM14 4AA", "GU1 1AA", "AB10 1AA"} & set(out)
    assert any(p.startswith("TN16") for p in out) and any(p.startswith("CM13") for p in out)
    assert {r["laua_code"] for r in out.values()} == set(publishers.BOROUGH_CODES_EXPECTED)

    worst = 0.0
    for postcode, row in out.items():
        source = expected[postcode]
        assert row["outcode"] == source["outcode"]
        assert (row["eastings"], row["northings"]) == (source["eastings"], source["northings"])
        assert row["positional_quality"] == source["positional_quality"]
        assert (row["laua_code"], row["ward_code"]) == (source["laua_code"], source["ward_code"])
        lat, lon = float(row["latitude"]), float(row["longitude"])
        assert len(row["latitude"].split(".")[1]) == 6
        d_north = (lat - float(source["latitude"])) * 111_320
        d_east = (lon - float(source["longitude"])) * 111_320 * math.cos(math.radians(lat))
        worst = max(worst, math.hypot(d_north, d_east))
    assert worst < 2.5  # Helmert here vs OSTN15 in the shared file: ~1-2 m

    assert written.key == "postcodes"
    assert written.path == OUTPUT_PATH
    assert written.rows == len(expected)
    assert written.sha256 == hashlib.sha256((workdir / OUTPUT_PATH).read_bytes()).hexdigest()
    assert written.vintage == "2026-08"
    assert written.release == "OS Code-Point Open 2026-08"
    assert written.attribution.splitlines() == [
        "Contains OS data © Crown copyright and database right 2026",
        "Contains Royal Mail data © Royal Mail copyright and database right 2026",
        "Contains National Statistics data © Crown copyright and database right 2026",
    ]
    assert written.url.startswith("https://api.os.uk/downloads/v1/products/CodePointOpen/")
    assert [p.relative_to(workdir).as_posix() for p in leftovers(workdir)] == [
        "postcodes",
        OUTPUT_PATH,
    ]


def test_the_output_reads_with_the_loader(client, server, codepoint_fx, workdir):
    from geodata.loaders import read_postcodes
    from geodata.sources import Manifest, SourceFile

    publishers.publish_codepoint(server, codepoint_fx.zip)
    [written] = SOURCE.fetch(client, SOURCE.discover(client), workdir)
    manifest = Manifest(
        files=[
            SourceFile(
                key="postcodes",
                path=written.path,
                release=written.release,
                vintage=written.vintage,
                licence=written.licence,
                attribution=written.attribution,
                url=written.url,
            )
        ]
    )
    records = read_postcodes(workdir, manifest)
    assert len(records) == written.rows
    by_code = {r.canonical: r for r in records}
    tn16 = next(r for r in codepoint_fx.london if r["postcode"].startswith("TN16"))
    record = by_code[tn16["postcode"].replace(" ", "")]
    assert (record.borough_code, record.ward_code) == ("E09000006", tn16["ward_code"])
    assert record.display == tn16["postcode"] and record.status == "live"


def test_a_header_file_without_admin_district_code_fails_loudly(
    client, server, shared_data_dir, workdir
):
    headers = publishers.CODEPOINT_HEADERS.replace("DC,", "").replace("Admin_district_code,", "")
    changed = publishers.build_codepoint(shared_data_dir, headers=headers)
    publishers.publish_codepoint(server, changed.zip)
    found = SOURCE.discover(client)
    with pytest.raises(FetchError, match="lacks Admin_district_code") as info:
        SOURCE.fetch(client, found, workdir)
    assert "codepo_gb.zip" in str(info.value) or "CodePointOpen" in str(info.value)
    assert leftovers(workdir) == []


def test_an_md5_mismatch_fails_and_leaves_nothing(client, server, codepoint_fx, workdir):
    publishers.publish_codepoint(server, codepoint_fx.zip, listed_md5="f" * 32)
    found = SOURCE.discover(client)
    with pytest.raises(FetchError, match="md5"):
        SOURCE.fetch(client, found, workdir)
    assert leftovers(workdir) == []


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(
            lambda z: Reply(z, content_type="application/zip", truncate_to=len(z) // 3),
            id="short-body",
        ),
        pytest.param(lambda z: Reply(z[:-4096], content_type="application/zip"), id="cut-zip"),
        pytest.param(
            lambda z: Reply(b"<!DOCTYPE html><title>Maintenance</title>", content_type="text/html"),
            id="html",
        ),
        pytest.param(
            lambda z: Reply(b"oops", status=500, content_type="text/plain"), id="http-500"
        ),
    ],
)
def test_a_bad_download_fails_and_leaves_nothing(client, server, codepoint_fx, workdir, reply):
    publishers.publish_codepoint(server, codepoint_fx.zip, file_reply=reply(codepoint_fx.zip))
    found = SOURCE.discover(client)
    with pytest.raises(FetchError) as info:
        SOURCE.fetch(client, found, workdir)
    assert "osdatahub-files.example" in str(info.value)
    assert leftovers(workdir) == []


def test_version_is_stable_and_changes_with_a_new_release(client, server, codepoint_fx):
    publishers.publish_codepoint(server, codepoint_fx.zip, version="2026-08")
    first, again = SOURCE.discover(client), SOURCE.discover(client)
    assert first.version == again.version
    publishers.publish_codepoint(server, codepoint_fx.zip + b"", version="2026-11")
    assert SOURCE.discover(client).version != first.version
    publishers.publish_codepoint(server, codepoint_fx.zip, version="2026-08", listed_md5="e" * 32)
    assert SOURCE.discover(client).version != first.version  # same version name, new file


# -- rows and members no one meant ---------------------------------------------------------
COLUMNS = {"postcode": 0, "pqi": 1, "eastings": 2, "northings": 3, "district": 4, "ward": 5}


def _zip_of(rows: str, name: str = "Data/CSV/sw.csv") -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, rows)
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue()))


@pytest.mark.parametrize("easting", ["inf", "1e400", "nan"])
def test_a_london_row_whose_easting_is_no_number_is_a_malformed_row(easting):
    """int(float("inf")) is an OverflowError, which escaped the command as a traceback."""
    archive = _zip_of(f'"SW1A 1AA",10,{easting},179645,"E09000033","E05013806"\n')
    with pytest.raises(FetchError, match="1 malformed London rows"):
        SOURCE._london_rows(archive, COLUMNS, "codepo_gb.zip")


def test_every_form_a_postcode_is_written_in_gives_what_parse_postcode_gives():
    """The cut reads Code-Point's own form ("E1  6AN": the inward code right-aligned in
    seven characters) with one match, and any other form as a person's input; both give
    parse_postcode's answer, and what it refuses is a malformed row."""
    written = ["E1  6AN", "SW1A1AA", "N1 9GU", "ec1a 1bb", " W1A  0AX ", "E1W-1AA", "SE1 7PB."]
    every_borough = [(f"N{b}  1AB", f"E090000{b:02d}") for b in range(1, 34)]  # (the cut's check)
    archive = _zip_of("".join(
        f'"{pc}",10,{530000 + i},{180000 + i},"{district}","E05009317"\n'
        for i, (pc, district) in enumerate([*((w, "E09000030") for w in written), *every_borough])
    ))  # fmt: skip
    rows = SOURCE._london_rows(archive, COLUMNS, "codepo_gb.zip")
    got = {r[0]: r[1] for r in rows}
    parsed = map(parse_postcode, [*written, *(pc for pc, _ in every_borough)])
    assert got == {p.display: p.outcode for p in parsed}
    for refused in ("GIR 1AA", "E1 6AN X", "QA1 1AA", "E1 6CN", "E1"):
        archive = _zip_of(f'"{refused}",10,530000,180000,"E09000030","E05009317"\n')
        with pytest.raises(FetchError, match="1 malformed London rows"):
            SOURCE._london_rows(archive, COLUMNS, "codepo_gb.zip")


def test_a_field_past_what_the_csv_module_reads_is_a_fetch_error():
    archive = _zip_of('"SW1A 1AA",10,529090,179645,"E09000033","' + "x" * 200_000 + '"\n')
    with pytest.raises(FetchError, match=r"Data/CSV/sw\.csv line 1: not readable as CSV"):
        SOURCE._london_rows(archive, COLUMNS, "codepo_gb.zip")


def test_a_member_that_unpacks_past_any_product_file_is_not_read(monkeypatch):
    """A small zip may unpack into gigabytes (a member of zeros: 2 MB became 300 MB, and
    the process read it whole); its size in the zip's directory is checked first."""
    from geodata.fetch import base

    monkeypatch.setattr(base, "MAX_MEMBER_BYTES", 1_000)
    archive = _zip_of('"SW1A 1AA",10,529090,179645,"E09000033","E05013806"\n' * 100)
    with pytest.raises(FetchError, match=r"Data/CSV/sw\.csv unpacks to 5,\d{3} bytes, more"):
        SOURCE._london_rows(archive, COLUMNS, "codepo_gb.zip")


def test_a_boundary_with_a_coordinate_that_is_no_number_is_a_fetch_error():
    from shapely.geometry import Polygon

    from geodata.fetch.base import multipolygon

    with pytest.raises(FetchError, match="ward X: the geometry has a coordinate that is not"):
        multipolygon(Polygon([(0, 0), (float("inf"), 0), (1, 1), (0, 1)]), "ward X")
