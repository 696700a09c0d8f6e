"""Range requests (RFC 9110 §14) on reads, and GDAL reading our GeoJSON layers over HTTP.

GDAL's HTTP reader (what QGIS, ogr2ogr and pyogrio use) sends HEAD, then asks for byte
ranges, and refused our 0.4–1 MB boundary layers ("Range downloading not supported by this
server!") while they were sent whole. Now every read says ``Accept-Ranges: bytes`` and
answers a ``Range`` with 206 and the part, of the representation as sent (gzip or not), 416
as a problem when the range is not in it, several ranges the whole (200), and ``If-Range``
with a stale tag gets the whole.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pyogrio
import pytest
from flask import Flask

from tests.servers import wsgi_server

BOUNDARY = "/api/v1/areas/E12000007/boundary"


@pytest.fixture()
def served(geo_app: Flask) -> Iterator[str]:
    with wsgi_server(geo_app) as base:
        yield base


def test_gdal_reads_the_geojson_layers_over_http(served: str, geo_app: Flask) -> None:
    client = geo_app.test_client()
    for path, kind in (
        ("/api/v1/areas?type=borough&format=geojson", "borough"),
        ("/api/v1/areas?type=ward&format=geojson&simplify=20", "ward"),
        (BOUNDARY, "region"),
    ):
        frame = pyogrio.read_dataframe(served + path)
        expected = client.get(path).get_json()
        features = expected.get("features", [expected])
        assert len(frame) == len(features) > 0, path
        assert sorted(frame["code"]) == sorted(f["properties"]["code"] for f in features)
        assert set(frame["type"]) == {kind} and frame.crs.to_epsg() == 4326
        assert frame.geometry.is_valid.all()


def test_ranges_of_the_answer_as_sent(geo_app: Flask) -> None:
    client = geo_app.test_client()
    whole = client.get(BOUNDARY)
    assert whole.headers["Accept-Ranges"] == "bytes"
    body, etag = whole.data, whole.headers["ETag"]
    part = client.get(BOUNDARY, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == body[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(body)}"
    tail = client.get(BOUNDARY, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.data == body[-50:]
    # a suffix longer than the answer is all of it (RFC 9110 §14.1.3), not a 416
    longer = client.get(BOUNDARY, headers={"Range": f"bytes=-{len(body) + 1000}"})
    assert longer.status_code == 206 and longer.data == body
    assert longer.headers["Content-Range"] == f"bytes 0-{len(body) - 1}/{len(body)}"
    # gzip: ranges of the gzip body (its own ETag, ":gzip")
    zipped = client.get(BOUNDARY, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    # no time stamp in the gzip header: the same bytes whenever asked (else parts fetched a
    # second apart do not join up)
    assert zipped.data[4:8] == b"\0\0\0\0" and gzip.decompress(zipped.data) == body
    zipped_part = client.get(BOUNDARY, headers={"Accept-Encoding": "gzip", "Range": "bytes=0-9"})
    assert zipped_part.status_code == 206 and zipped_part.data == zipped.data[:10]
    # If-Range: the part only for the current tag
    assert client.get(BOUNDARY, headers={"Range": "bytes=0-9", "If-Range": etag}).status_code == 206
    stale = client.get(BOUNDARY, headers={"Range": "bytes=0-9", "If-Range": '"v0-old"'})
    assert stale.status_code == 200 and stale.data == body
    # a Range that does not parse is ignored (RFC 9110 §14.2): the whole answer
    for garbled in ("", "bytes", "lines=0-9", "bytes=9-2"):
        ignored = client.get(BOUNDARY, headers={"Range": garbled})
        assert ignored.status_code == 200 and ignored.data == body, garbled
    # a range past the end: 416, a problem, saying how long the answer is
    beyond = client.get(BOUNDARY, headers={"Range": f"bytes={len(body) + 10}-"})
    assert beyond.status_code == 416 and beyond.mimetype == "application/problem+json"
    assert beyond.headers["Content-Range"] == f"bytes */{len(body)}"
    assert beyond.get_json()["code"] == "range-not-satisfiable"


@pytest.mark.parametrize("ranges", ["0-9,20-29", "0-0,-1", "0-9, 5-15", "0-9,{end}-"])
def test_several_ranges_get_the_whole_answer(geo_app: Flask, ranges: str) -> None:
    """werkzeug answers one range only: several, any of them in the answer, get the whole
    answer (RFC 9110 §14.2: a server may ignore Range), not a 416 saying none is in it."""
    client = geo_app.test_client()
    body = client.get(BOUNDARY).data
    answer = client.get(BOUNDARY, headers={"Range": "bytes=" + ranges.format(end=len(body))})
    assert answer.status_code == 200 and answer.data == body
    assert "Content-Range" not in answer.headers


def test_several_ranges_none_in_the_answer_are_416(geo_app: Flask) -> None:
    client = geo_app.test_client()
    length = len(client.get(BOUNDARY).data)
    beyond = client.get(BOUNDARY, headers={"Range": f"bytes={length}-{length + 9},{length + 20}-"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{length}"
