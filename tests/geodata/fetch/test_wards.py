"""ONS ward boundaries: ArcGIS search, layer metadata and paged GeoJSON queries."""

from __future__ import annotations

import csv
import json

import pyogrio
import pyogrio.raw
import pytest
import shapely

from geodata.errors import FetchError
from geodata.fetch import SOURCES
from geodata.fetch.wards import GPKG_PATH, LAYER, NAMES_PATH
from tests.geodata.fetch import publishers
from tests.geodata.fetch.conftest import leftovers
from tests.geodata.fetch.server import json_reply

SOURCE = SOURCES["wards"]
QUERY = f"{publishers.WARDS_SERVICE}/0/query"


def test_discover_prefers_the_newest_generalised_service(client, server, wards_fx):
    publishers.publish_wards(server, wards_fx)
    found = SOURCE.discover(client)
    assert found.version == {
        "item": publishers.WARD_ITEMS["bgc"],
        "title": "Wards (December 2022) Boundaries UK BGC",
        "modified": publishers.MS + 5_000,
    }
    assert found.vintage == "2022-12"
    assert found.details["fields"] == {
        "ward_code": "WD22CD",
        "ward_name": "WD22NM",
        "lad_code": "LAD22CD",
        "lad_name": "LAD22NM",
    }
    assert found.details["layer_url"] == f"{publishers.WARDS_SERVICE}/0"
    assert found.details["max_record_count"] == 2000
    assert "Office for National Statistics" in found.attribution


@pytest.mark.parametrize("flag_on_top", [False, True], ids=["properties-flag", "top-level-flag"])
def test_fetch_pages_all_704_london_wards(client, server, wards_fx, workdir, flag_on_top):
    publishers.publish_wards(server, wards_fx, cap=250, flag_on_top=flag_on_top)
    wards, names = SOURCE.fetch(client, SOURCE.discover(client), workdir)

    pages = server.requests_to(QUERY)
    assert [r.param("resultOffset") for r in pages] == ["0", "250", "500"]
    assert all(r.param("where") == "LAD22CD LIKE 'E09%'" for r in pages)
    assert all(r.param("outSR") == "4326" and r.param("f") == "geojson" for r in pages)

    info = pyogrio.read_info(workdir / GPKG_PATH, layer=LAYER)
    assert info["crs"] == "EPSG:27700"
    assert list(info["fields"]) == ["WD22CD", "WD22NM", "LAD22CD", "LAD22NM"]
    meta, _fids, wkb, data = pyogrio.raw.read(workdir / GPKG_PATH, layer=LAYER)
    codes = list(data[0])
    assert codes == sorted(wards_fx.codes) and len(codes) == 704
    assert dict(zip(codes, data[2], strict=True)) == wards_fx.lads
    geoms = shapely.from_wkb(wkb)
    assert all(shapely.is_valid(geoms))
    for code, geom in zip(codes, geoms, strict=True):
        assert geom.area == pytest.approx(wards_fx.areas[code], rel=1e-4)

    with (workdir / NAMES_PATH).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["WD22CD", "WD22NM", "LAD22CD", "LAD22NM"]
    assert [r[0] for r in rows[1:]] == codes
    assert {r[2] for r in rows[1:]} == set(publishers.BOROUGH_CODES_EXPECTED)

    assert (wards.key, wards.path, wards.rows) == ("wards", GPKG_PATH, 704)
    assert (names.key, names.path, names.rows) == ("ward_names", NAMES_PATH, 704)
    assert wards.url == QUERY and wards.vintage == "2022-12"


def test_an_empty_page_ends_the_paging(client, server, wards_fx, workdir):
    publishers.publish_wards(server, wards_fx)
    paging = publishers.feature_query(wards_fx.features, cap=250)

    def always_more(request):
        reply = paging(request)
        answer = json.loads(reply.body)
        answer["properties"] = {"exceededTransferLimit": True}  # a server that never says stop
        return json_reply(answer)

    server.route(QUERY, always_more)
    [wards, _names] = SOURCE.fetch(client, SOURCE.discover(client), workdir)
    assert wards.rows == 704
    assert server.requests_to(QUERY)[-1].param("resultOffset") == "704"


def test_an_arcgis_error_with_http_200_fails_and_leaves_nothing(client, server, wards_fx, workdir):
    publishers.publish_wards(server, wards_fx)
    found = SOURCE.discover(client)
    server.route(
        QUERY,
        json_reply(
            {"error": {"code": 500, "message": "Error performing query operation", "details": []}}
        ),
    )
    with pytest.raises(FetchError, match="ArcGIS error: code 500, Error performing query") as info:
        SOURCE.fetch(client, found, workdir)
    assert "WD_DEC_2022_UK_BGC/FeatureServer/0/query" in str(info.value)
    assert leftovers(workdir) == []


def test_a_layer_without_lad_fields_is_passed_over_for_the_next(client, server, wards_fx):
    publishers.publish_wards(server, wards_fx, fields=["WD22CD", "WD22NM"])  # the BGC layer
    bfc = publishers.WARDS_SERVICE_BFC
    server.route(
        f"{bfc}/0", publishers.layer_json(["WD22CD", "WD22NM", "LAD22CD", "LAD22NM"], 1000)
    )
    found = SOURCE.discover(client)
    assert found.version["item"] == publishers.WARD_ITEMS["bfc"]
    assert found.details["max_record_count"] == 1000


def test_no_layer_with_lad_fields_fails_loudly(client, server, wards_fx):
    publishers.publish_wards(server, wards_fx, fields=["WD22CD", "WD22NM"])
    with pytest.raises(FetchError, match="lacks LADyyCD, LADyyNM"):
        SOURCE.discover(client)


def test_a_ward_outside_london_in_the_answer_fails_loudly(client, server, wards_fx, workdir):
    publishers.publish_wards(server, wards_fx)
    found = SOURCE.discover(client)
    # a server that ignores the where clause: the made-up Elmbridge wards come back
    server.route(
        QUERY,
        json_reply(
            {
                "type": "FeatureCollection",
                "features": wards_fx.features[-3:],
                "properties": {"exceededTransferLimit": False},
            }
        ),
    )
    with pytest.raises(FetchError, match=r"unexpected LADs \['E07000207'\]"):
        SOURCE.fetch(client, found, workdir)
    assert leftovers(workdir) == []


def test_version_is_stable_and_changes_with_a_new_vintage(client, server, wards_fx):
    publishers.publish_wards(server, wards_fx)
    first, again = SOURCE.discover(client), SOURCE.discover(client)
    assert first.version == again.version
    newer_service = f"{publishers.ONS_SERVICES}/WD_MAY_2024_UK_BGC/FeatureServer"
    items = [
        *publishers.ward_items(),
        publishers.arcgis_item(
            "f" * 32,
            "Wards (May 2024) Boundaries UK BGC",
            "Feature Service",
            publishers.MS + 9_000,
            url=newer_service,
        ),
    ]
    publishers.publish_wards(
        server,
        wards_fx,
        items=items,
        service=newer_service,
        fields=["WD24CD", "WD24NM", "LAD24CD", "LAD24NM"],
    )
    newer = SOURCE.discover(client)
    assert newer.version != first.version
    assert newer.vintage == "2024-05"
    assert newer.details["fields"]["ward_code"] == "WD24CD"
