"""The publishers, as fixtures: real London data in the real formats and API shapes.

Builders make the files (a Code-Point Open zip, NSPL zips in both header styles, ward
features, the GLA boundary zip, Nomis answers, a 360Giving registry) from the shared
London data; ``publish_*`` functions register the API answers and files on a
:class:`~tests.geodata.fetch.server.FixtureServer` under their official URLs. Where the
shared data has no non-London rows, a few are made up (marked below) to check the cuts.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.affinity
import shapely.geometry

from geodata.crs import geometry_to_bng, geometry_to_wgs84
from tests.geodata.fetch.server import FixtureServer, Reply, Request, json_reply, redirect

OS_PRODUCT = "https://api.os.uk/downloads/v1/products/CodePointOpen"
OS_DOWNLOADS = OS_PRODUCT + "/downloads"
OS_FILE_REDIRECT = "https://osdatahub-files.example/opendata/CodePointOpen/{version}/codepo_gb.zip"
ARCGIS_SEARCH = "https://www.arcgis.com/sharing/rest/search"
ARCGIS_ITEM_DATA = "https://www.arcgis.com/sharing/rest/content/items/{id}/data"
HUB_CSV = "https://open-geography-portalx-ons.hub.arcgis.com/api/download/v1/items/{id}/csv"
ONS_SERVICES = "https://services1.arcgis.com/ESMARspQHYMw9BZ9/arcgis/rest/services"
DATASTORE = "https://data.london.gov.uk"
NOMIS = "https://www.nomisweb.co.uk/api/v01/dataset/NM_2002_1"
REGISTRY = "https://registry.threesixtygiving.org/data.json"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


# == OS Code-Point Open ===================================================================
CODEPOINT_HEADERS = (
    "PC,PQ,EA,NO,CY,RH,LH,CC,DC,WC\r\n"
    "Postcode,Positional_quality_indicator,Eastings,Northings,Country_code,"
    "NHS_regional_HA_code,NHS_HA_code,Admin_county_code,Admin_district_code,Admin_ward_code\r\n"
)
#: Made-up rows outside London (the shared file is London only), in areas shared with
#: London (KT, TN, CM) and in areas with no London postcode (GU, AB), plus a London
#: postcode with PQI 90 (no coordinates), which must be skipped.
NON_LONDON_CODEPOINT = [
    ("KT10 0AA", "10", "513000", "164000", "E07000207", "E05011111"),  # Elmbridge
    ("TN13 1AA", "10", "552000", "155000", "E07000111", "E05011112"),  # Sevenoaks
    ("CM14 4AA", "10", "559000", "193000", "E07000068", "E05011113"),  # Brentwood
    ("GU1 1AA", "10", "499000", "149000", "E07000209", "E05011114"),  # Guildford
    ("AB10 1AA", "10", "394000", "806000", "S12000033", "S13002843"),  # Aberdeen
]
PQI_90_ROW = ("SE1 0ZZ", "90", "0", "0", "E09000028", "E05011095")


def postcode_area(postcode: str) -> str:
    """The postcode area: the leading letters ("SW1X 9DT" -> "SW")."""
    return re.match(r"[A-Z]+", postcode.upper()).group(0)


def codepoint_padded(postcode: str) -> str:
    """Code-Point Open's fixed 7-character postcode ("E1  6AN", "SW1A1AA")."""
    outward, inward = postcode.split()
    return outward.ljust(4) + inward


@dataclass
class CodePointFixture:
    zip: bytes
    london: list[dict[str, str]]  # the shared file's rows put in the zip (expected output)


def build_codepoint(
    shared: Path, *, year: str = "2026", headers: str = CODEPOINT_HEADERS
) -> CodePointFixture:
    rows = read_csv(shared / "postcodes" / "london_postcodes_codepoint_open_2025_10.csv")
    by_borough: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_borough.setdefault(row["laua_code"], []).append(row)
    chosen: dict[str, dict[str, str]] = {}
    for members in by_borough.values():  # 8 postcodes spread over each borough
        for i in np.linspace(0, len(members) - 1, 8).astype(int):
            chosen[members[i]["postcode"]] = members[i]
    for row in rows:  # every London postcode in areas that are mostly outside London
        if row["postcode"].startswith(("TN", "CM", "WD")):
            chosen[row["postcode"]] = row
    areas: dict[str, list[str]] = {}

    def add(postcode: str, pqi: str, east: str, north: str, district: str, ward: str) -> None:
        area = postcode_area(postcode).lower()
        country = "S92000003" if district.startswith("S") else "E92000001"
        line = (
            f'"{codepoint_padded(postcode)}",{pqi},{east},{north},"{country}","E19000003",'
            f'"E18000007","E99999999","{district}","{ward}"'
        )
        areas.setdefault(area, []).append(line)

    for row in chosen.values():
        add(
            row["postcode"],
            row["positional_quality"],
            row["eastings"],
            row["northings"],
            row["laua_code"],
            row["ward_code"],
        )
    for made_up in [*NON_LONDON_CODEPOINT, PQI_90_ROW]:
        add(*made_up)
    members = {
        "Doc/Code-Point_Open_Column_Headers.csv": headers.encode(),
        "Doc/licence.txt": (
            "Code-Point Open is made available under the Open Government Licence v3.0.\r\n"
            f"Contains OS data © Crown copyright and database right {year}\r\n"
            f"Contains Royal Mail data © Royal Mail copyright and database right {year}\r\n"
            f"Contains National Statistics data © Crown copyright and database right {year}\r\n"
        ).encode(),
        "Doc/metadata.txt": "".join(
            f"{area.upper()}\t{len(lines)}\r\n" for area, lines in sorted(areas.items())
        ).encode(),
    }
    for area, lines in sorted(areas.items()):
        members[f"Data/CSV/{area}.csv"] = ("\r\n".join(lines) + "\r\n").encode()
    return CodePointFixture(zip=zip_bytes(members), london=list(chosen.values()))


def publish_codepoint(
    server: FixtureServer,
    archive: bytes,
    *,
    version: str = "2026-08",
    listed_md5: str | None = None,
    file_reply: Reply | None = None,
) -> str:
    """The OS Downloads API for Code-Point Open; answers the file's redirect target URL."""
    target = OS_FILE_REDIRECT.format(version=version)
    listed = f"{OS_DOWNLOADS}?area=GB&format=CSV&redirect"
    server.route(
        OS_PRODUCT,
        {
            "id": "CodePointOpen",
            "name": "CodePointOpen",
            "title": "Code-Point Open",
            "version": version,
            "url": OS_PRODUCT,
            "formats": [{"format": "CSV"}, {"format": "GeoPackage"}],
            "areas": ["GB"],
            "downloadsUrl": OS_DOWNLOADS,
        },
    )

    def downloads(request: Request) -> Any:
        if request.param("redirect") is not None:  # the listed url: a redirect to the file
            return redirect(target, status=307)
        assert request.param("format") == "CSV" and request.param("area") == "GB"
        return [
            {
                "md5": listed_md5 or md5(archive),
                "size": len(archive),
                "url": listed,
                "format": "CSV",
                "area": "GB",
                "fileName": "codepo_gb.zip",
            },
            {
                "md5": "0" * 32,
                "size": 1,
                "url": f"{OS_DOWNLOADS}?area=GB&format=GeoPackage&redirect",
                "format": "GeoPackage",
                "area": "GB",
                "fileName": "codepo_gb.gpkg",
            },
        ]

    server.route(OS_DOWNLOADS, downloads)
    server.route(target, file_reply or Reply(archive, content_type="application/zip"))
    return target


# == ONS NSPL =============================================================================
OLD_HEADER = [
    "pcd",
    "pcd2",
    "pcds",
    "dointr",
    "doterm",
    "usertype",
    "oseast1m",
    "osnrth1m",
    "osgrdind",
    "oa21",
    "cty",
    "ced",
    "laua",
    "ward",
    "nhser",
    "ctry",
    "rgn",
    "pcon",
    "ttwa",
    "itl",
    "park",
    "lsoa21",
    "msoa21",
    "wz11",
    "sicbl",
    "bua24",
    "ruc21",
    "oac11",
    "lat",
    "long",
    "lep1",
    "lep2",
    "pfa",
    "imd",
    "icb",
]
NEW_HEADER = [
    "pcd7",
    "pcd8",
    "pcds",
    "dointr",
    "doterm",
    "usrtypind",
    "east1m",
    "north1m",
    "gridind",
    "oa21cd",
    "cty25cd",
    "ced25cd",
    "lad25cd",
    "wd25cd",
    "nhser24cd",
    "ctry25cd",
    "rgn25cd",
    "pcon24cd",
    "ttwa15cd",
    "itl25cd",
    "npark16cd",
    "lsoa21cd",
    "msoa21cd",
    "wz11cd",
    "sicbl24cd",
    "bua24cd",
    "ruc21ind",
    "oac11ind",
    "lat",
    "long",
    "lep21cd1",
    "lep21cd2",
    "pfa23cd",
    "imd20ind",
    "icb23cd",
]
NSPL_OUTPUT = "pcds,dointr,doterm,usertype,oseast1m,osnrth1m,osgrdind,laua,ward,rgn,lat,long"
#: Made-up NSPL rows: outside London (Guildford; Northern Ireland), and a London
#: postcode without a grid reference (placeholder ward and latitude).
NON_LONDON_NSPL = [
    {
        "pcds": "GU1 1AA",
        "dointr": "198001",
        "doterm": "",
        "usertype": "0",
        "oseast1m": "499000",
        "osnrth1m": "149000",
        "osgrdind": "1",
        "laua": "E07000209",
        "ward": "E05007421",
        "rgn": "E12000008",
        "lat": "51.238",
        "long": "-0.571",
    },
    {
        "pcds": "BT1 1AA",
        "dointr": "198001",
        "doterm": "",
        "usertype": "1",
        "oseast1m": "",
        "osnrth1m": "",
        "osgrdind": "1",
        "laua": "N09000003",
        "ward": "N08000312",
        "rgn": "N99999999",
        "lat": "54.600",
        "long": "-5.930",
    },
]
NO_GRID_LONDON = {
    "pcds": "WC1X 9ZZ",
    "dointr": "199801",
    "doterm": "200305",
    "usertype": "1",
    "oseast1m": "",
    "osnrth1m": "",
    "osgrdind": "9",
    "laua": "E09000007",
    "ward": "E99999999",
    "rgn": "E12000007",
    "lat": "99.999999",
    "long": "0.000000",
}


@dataclass
class NsplFixture:
    rows: list[dict[str, str]]  # input rows (short names), London and not
    expected: list[list[str]]  # the London output rows, sorted as written

    def table(self, style: str, *, drop: tuple[str, ...] = ()) -> list[list[str]]:
        header = OLD_HEADER if style == "old" else NEW_HEADER
        lines = [[h for h in header if h not in drop]]
        for row in self.rows:
            outward, inward = row["pcds"].split()
            full = {
                "pcd": (outward.ljust(4) + inward)[:7],
                "pcd2": outward.ljust(4) + " " + inward,
                "pcds": row["pcds"],
                "dointr": row["dointr"],
                "doterm": row["doterm"],
                "usertype": row["usertype"],
                "oseast1m": row["oseast1m"],
                "osnrth1m": row["osnrth1m"],
                "osgrdind": row["osgrdind"],
                "oa21": row.get("oa11", ""),
                "cty": "E99999999",
                "ced": "E99999999",
                "laua": row["laua"],
                "ward": row["ward"],
                "nhser": "E40000003",
                "ctry": "E92000001",
                "rgn": row["rgn"],
                "pcon": row.get("pcon", ""),
                "ttwa": "E30000234",
                "itl": "TLI",
                "park": "E65000001",
                "lsoa21": row.get("lsoa11", ""),
                "msoa21": row.get("msoa11", ""),
                "wz11": "",
                "sicbl": "",
                "bua24": "",
                "ruc21": "",
                "oac11": "",
                "lat": row["lat"],
                "long": row["long"],
                "lep1": "E37000051",
                "lep2": "",
                "pfa": row.get("pfa", ""),
                "imd": row.get("imd", ""),
                "icb": "",
            }
            values = [full[old] for old in OLD_HEADER]
            lines.append([v for v, name in zip(values, header, strict=True) if name not in drop])
        return lines


def build_nspl(shared: Path) -> NsplFixture:
    sample = read_csv(shared / "postcodes" / "nspl_2021_11_london_subset_SM_WC.csv")
    london = sample[::23]  # ~580 real rows, live and terminated, SM and WC
    rows = [*london, NO_GRID_LONDON, *NON_LONDON_NSPL]
    columns = NSPL_OUTPUT.split(",")
    expected = [[r[c] for c in columns] for r in london]
    expected.append(
        [
            "WC1X 9ZZ",
            "199801",
            "200305",
            "1",
            "",
            "",
            "9",
            "E09000007",
            "",
            "E12000007",
            "",
            "",
        ]
    )
    expected.sort(key=lambda r: r[0].replace(" ", ""))
    return NsplFixture(rows=rows, expected=expected)


def csv_bytes(lines: list[list[str]], *, quote_all: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
    )
    writer.writerows(lines)
    return buffer.getvalue().encode()


def nspl_zip(
    fx: NsplFixture, style: str, *, layout: str = "uk", drop: tuple[str, ...] = ()
) -> bytes:
    """An NSPL zip: ``layout`` "uk" (one UK file) or "multi" (per-area files only)."""
    month = "MAY_2025" if style == "old" else "AUG_2025"
    table = fx.table(style, drop=drop)
    top = f"NSPL_{month}_UK/" if style == "old" else ""
    members = {
        f"{top}Documents/LAD names and codes UK as at 04_25.csv": b"LAD25CD,LAD25NM\r\n",
        f"{top}User Guide/NSPL User Guide {month}.pdf": b"%PDF-1.4 user guide",
    }
    if layout == "uk":
        members[f"{top}Data/NSPL_{month}_UK.csv"] = csv_bytes(table, quote_all=style == "old")
    else:
        by_area: dict[str, list[list[str]]] = {}
        position = table[0].index("pcds")
        for line in table[1:]:
            area = postcode_area(line[position])
            by_area.setdefault(area, []).append(line)
        for area, lines in sorted(by_area.items()):
            members[f"{top}Data/multi_csv/NSPL_{month}_UK_{area}.csv"] = csv_bytes(
                [table[0], *lines]
            )
    return zip_bytes(members)


def arcgis_item(
    item_id: str,
    title: str,
    kind: str,
    created: int,
    *,
    url: str | None = None,
    modified: int | None = None,
) -> dict[str, Any]:
    return {
        "id": item_id,
        "owner": "ONSGeography_data",
        "orgId": "ESMARspQHYMw9BZ9",
        "created": created,
        "modified": modified or created,
        "title": title,
        "type": kind,
        "typeKeywords": [],
        "url": url,
        "snippet": title,
        "tags": [],
        "access": "public",
    }


def search_answer(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "query": "…",
        "total": len(items),
        "start": 1,
        "num": 20,
        "nextStart": -1,
        "results": sorted(items, key=lambda i: i["created"], reverse=True),
    }


@dataclass
class SearchRouter:
    """Answers ArcGIS searches by the query's title (NSPL, wards), sharing one route."""

    answers: dict[str, Any] = field(default_factory=dict)

    def __call__(self, request: Request) -> Any:
        query = request.param("q") or ""
        assert request.param("f") == "json", "ArcGIS search without f=json"
        assert request.param("sortField") == "created" and request.param("sortOrder") == "desc"
        for needle, answer in self.answers.items():
            if needle in query:
                return answer
        return search_answer([])


def search_router(server: FixtureServer) -> SearchRouter:
    """The server's ArcGIS search route (one for NSPL and wards), made on first use."""
    try:
        existing = server.answer_of(ARCGIS_SEARCH)
    except KeyError:
        existing = None
    if isinstance(existing, SearchRouter):
        return existing
    router = SearchRouter()
    server.route(ARCGIS_SEARCH, router)
    return router


NSPL_ITEMS = {
    "new": "5f0e3b8cf7a1468f9fd1a93a1ad1ec01",
    "old": "c7f1a0b3b0f94f6aa1c0e2e2d3f4a5b6",
    "guide": "0d4b2e8a1f3c4e5d9a7b6c5d4e3f2a10",
}
MS = 1_700_000_000_000


def publish_nspl(
    server: FixtureServer,
    archive: bytes,
    *,
    newest: str = "February 2026",
    item: str = NSPL_ITEMS["new"],
) -> None:
    router = search_router(server)
    router.answers["National Statistics Postcode Lookup"] = search_answer(
        [
            arcgis_item(
                item,
                f"National Statistics Postcode Lookup ({newest}) for the UK",
                "CSV Collection",
                MS + 9_000_000_000,
            ),
            arcgis_item(
                NSPL_ITEMS["guide"],
                f"National Statistics Postcode Lookup ({newest}) User Guide",
                "PDF",
                MS + 9_100_000_000,
            ),
            arcgis_item(
                NSPL_ITEMS["old"],
                "National Statistics Postcode Lookup (November 2025) for the UK",
                "CSV Collection",
                MS + 1_000_000_000,
            ),
        ]
    )
    server.route(
        ARCGIS_ITEM_DATA.format(id=item),
        Reply(archive, content_type="application/x-zip-compressed"),
    )


# == ONS ward boundaries ==================================================================
WARDS_SERVICE = f"{ONS_SERVICES}/WD_DEC_2022_UK_BGC/FeatureServer"
WARDS_SERVICE_BFC = f"{ONS_SERVICES}/WD_DEC_2022_UK_BFC/FeatureServer"


@dataclass
class WardFixture:
    features: list[dict[str, Any]]  # GeoJSON features (WGS84), London and a few others
    codes: list[str]
    areas: dict[str, float]  # ward code -> area of the source polygon (EPSG:27700, m²)
    lads: dict[str, str]


def build_wards(shared: Path) -> WardFixture:
    import pyogrio.raw

    meta, _fids, wkb, data = pyogrio.raw.read(
        shared / "boundaries" / "london_wards_2022_27700.gpkg"
    )
    names = list(meta["fields"])
    column = {n: data[names.index(n)] for n in ("WD22CD", "WD22NM", "LAD22CD", "LAD22NM")}
    bng = shapely.from_wkb(wkb)
    wgs = geometry_to_wgs84(bng)
    features = []
    for i, geom in enumerate(wgs):
        features.append(
            {
                "type": "Feature",
                "id": i + 1,
                "geometry": json.loads(shapely.to_geojson(geom)),
                "properties": {
                    "FID": i + 1,
                    **{k: str(v[i]) for k, v in column.items()},
                    "GlobalID": f"{{{i:08d}-0000-0000-0000-000000000000}}",
                },
            }
        )
    # made up: three wards of a neighbouring district, which the LAD filter must drop
    for j in range(3):
        shifted = shapely.affinity.translate(wgs[j], xoff=-0.6)
        features.append(
            {
                "type": "Feature",
                "id": 10_000 + j,
                "geometry": json.loads(shapely.to_geojson(shifted)),
                "properties": {
                    "FID": 10_000 + j,
                    "WD22CD": f"E0501{j:04d}",
                    "WD22NM": f"Elmbridge ward {j}",
                    "LAD22CD": "E07000207",
                    "LAD22NM": "Elmbridge",
                    "GlobalID": "{x}",
                },
            }
        )
    codes = [str(c) for c in column["WD22CD"]]
    return WardFixture(
        features=features,
        codes=codes,
        areas={c: float(g.area) for c, g in zip(codes, bng, strict=True)},
        lads={c: str(lad) for c, lad in zip(codes, column["LAD22CD"], strict=True)},
    )


def layer_json(fields: list[str], max_records: int = 2000) -> dict[str, Any]:
    return {
        "currentVersion": 11.3,
        "id": 0,
        "name": "WD_DEC_2022_UK_BGC",
        "type": "Feature Layer",
        "geometryType": "esriGeometryPolygon",
        "maxRecordCount": max_records,
        "advancedQueryCapabilities": {"supportsPagination": True},
        "fields": [{"name": "FID", "type": "esriFieldTypeOID", "alias": "FID"}]
        + [{"name": f, "type": "esriFieldTypeString", "alias": f, "length": 80} for f in fields],
    }


def feature_query(
    features: list[dict[str, Any]], *, cap: int = 250, flag_on_top: bool = False
) -> Callable[[Request], Any]:
    """A FeatureServer ``query``: where ``X LIKE 'P%'``, paging capped at ``cap``."""

    def query(request: Request) -> Any:
        if request.param("f") != "geojson":
            return json_reply(
                {"error": {"code": 400, "message": "f=geojson expected", "details": []}}
            )
        where = request.param("where") or "1=1"
        chosen = features
        if where != "1=1":
            field_name, _like, pattern = where.split(" ", 2)
            prefix = pattern.strip("'").rstrip("%")
            chosen = [
                f for f in features if str(f["properties"].get(field_name, "")).startswith(prefix)
            ]
        order = request.param("orderByFields")
        if order:
            key = order.split()[0]
            chosen = sorted(chosen, key=lambda f: f["properties"][key])
        offset = int(request.param("resultOffset") or 0)
        count = min(int(request.param("resultRecordCount") or cap), cap)
        page = chosen[offset : offset + count]
        out_fields = (request.param("outFields") or "*").split(",")
        if out_fields != ["*"]:
            page = [
                {**f, "properties": {k: v for k, v in f["properties"].items() if k in out_fields}}
                for f in page
            ]
        more = offset + len(page) < len(chosen)
        answer: dict[str, Any] = {"type": "FeatureCollection", "features": page}
        if flag_on_top:
            answer["exceededTransferLimit"] = more
        else:
            answer["properties"] = {"exceededTransferLimit": more}
        return json_reply(answer)

    return query


WARD_ITEMS = {
    "bgc": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    "bfc": "b1b2c3d4e5f60718293a4b5c6d7e8f90",
    "may": "c1b2c3d4e5f60718293a4b5c6d7e8f90",
    "lookup": "d1b2c3d4e5f60718293a4b5c6d7e8f90",
}


def ward_items() -> list[dict[str, Any]]:
    return [
        arcgis_item(
            WARD_ITEMS["bgc"],
            "Wards (December 2022) Boundaries UK BGC",
            "Feature Service",
            MS + 5_000,
            url=WARDS_SERVICE,
        ),
        arcgis_item(
            WARD_ITEMS["bfc"],
            "Wards (December 2022) Boundaries UK BFC",
            "Feature Service",
            MS + 6_000,
            url=WARDS_SERVICE_BFC,
        ),
        arcgis_item(
            WARD_ITEMS["may"],
            "Wards (May 2022) Boundaries UK BGC",
            "Feature Service",
            MS + 1_000,
            url=f"{ONS_SERVICES}/WD_MAY_2022_UK_BGC/FeatureServer",
        ),
        arcgis_item(
            WARD_ITEMS["lookup"],
            "Ward to Local Authority District (December 2022) Lookup in the UK",
            "Feature Service",
            MS + 7_000,
            url=f"{ONS_SERVICES}/WD22_LAD22_UK_LU/FeatureServer",
        ),
    ]


def publish_wards(
    server: FixtureServer,
    fx: WardFixture,
    *,
    items: list[dict[str, Any]] | None = None,
    cap: int = 250,
    flag_on_top: bool = False,
    service: str = WARDS_SERVICE,
    fields: list[str] | None = None,
) -> None:
    router = search_router(server)
    router.answers['title:"Wards"'] = search_answer(items or ward_items())
    server.route(
        f"{service}/0",
        layer_json(fields or ["WD22CD", "WD22NM", "WD22NMW", "LAD22CD", "LAD22NM", "GlobalID"]),
    )
    server.route(f"{service}/0/query", feature_query(fx.features, cap=cap, flag_on_top=flag_on_top))


# == London Datastore =====================================================================
BOROUGHS_DATASET = f"{DATASTORE}/api/dataset/statistical-gis-boundary-files-london"
BOROUGHS_DATASET_V2 = f"{DATASTORE}/api/v2/dataset/statistical-gis-boundary-files-london"
BOROUGHS_RESOURCE = "9ba8c833-6370-4b11-abdc-314aa020d5e0"
BOROUGHS_ZIP_URL = f"{DATASTORE}/download/statistical-gis-boundary-files-london/{BOROUGHS_RESOURCE}/statistical-gis-boundaries-london.zip"


def build_borough_zip(shared: Path, workdir: Path, *, crs: str = "EPSG:27700") -> bytes:
    """The GLA zip's borough shapefile set, written from the shared GeoPackage."""
    import pyogrio.raw

    from geodata.crs import geometry_to_wgs84 as to_wgs84

    meta, _fids, wkb, data = pyogrio.raw.read(shared / "boundaries" / "london_boroughs_27700.gpkg")
    geoms = shapely.from_wkb(wkb)
    if crs == "EPSG:4326":
        geoms = to_wgs84(geoms)
    folder = workdir / f"shp-{crs.replace(':', '')}"
    folder.mkdir(parents=True, exist_ok=True)
    shp = folder / "London_Borough_Excluding_MHW.shp"
    pyogrio.raw.write(
        str(shp),
        geometry=np.array(shapely.to_wkb(geoms), dtype=object),
        field_data=list(data),
        fields=list(meta["fields"]),
        driver="ESRI Shapefile",
        geometry_type="MultiPolygon",
        crs=crs,
        encoding="UTF-8",
    )
    members = {}
    for part in sorted(folder.iterdir()):
        members[f"statistical-gis-boundaries-london/ESRI/{part.name}"] = part.read_bytes()
    members["statistical-gis-boundaries-london/MapInfo/London_Borough_Excluding_MHW.TAB"] = (
        b"!table"
    )
    return zip_bytes(members)


def publish_boroughs(
    server: FixtureServer, archive: bytes, *, check_hash: str | None = None
) -> None:
    answer = {
        "id": "20od9",
        "slug": "statistical-gis-boundary-files-london",
        "title": "Statistical GIS Boundary Files for London",
        "licence": "OGL v3",
        "updatedAt": "2025-02-01T10:00:00.000Z",
        "resources": {
            "2a5e50ac-1111-2222-3333-444455556666": {
                "title": "LB_LSOA2021_shp.zip",
                "format": "zip",
                "url": f"{DATASTORE}/download/statistical-gis-boundary-files-london/2a5e50ac/LB_LSOA2021_shp.zip",
                "check_hash": "1" * 32,
                "check_timestamp": "2026-01-02T00:00:00Z",
            },
            BOROUGHS_RESOURCE: {
                "title": "statistical-gis-boundaries-london.zip",
                "format": "zip",
                "url": BOROUGHS_ZIP_URL,
                "check_hash": check_hash or md5(archive),
                "check_size": len(archive),
                "check_timestamp": "2026-01-01T00:00:00Z",
            },
        },
    }
    server.route(BOROUGHS_DATASET, redirect(BOROUGHS_DATASET_V2, status=307))
    server.route(BOROUGHS_DATASET_V2, answer)
    server.route(BOROUGHS_ZIP_URL, Reply(archive, content_type="application/zip"))


CRIME_DATASET = f"{DATASTORE}/api/dataset/exy3m"
CRIME_BOROUGH_URL = f"{DATASTORE}/download/exy3m/pf6/MPS%20Borough%20Level%20Crime%20(most%20recent%2024%20months).csv"
CRIME_OTHER_URLS = {
    "MPS Borough Level Crime (Historical).csv": f"{DATASTORE}/download/exy3m/h01/MPS%20Borough%20Level%20Crime%20(Historical).csv",
    "MPS Ward Level Crime (most recent 24 months).csv": f"{DATASTORE}/download/exy3m/w24/MPS%20Ward%20Level%20Crime%20(most%20recent%2024%20months).csv",
    "MPS LSOA Level Crime (most recent 24 months).csv": f"{DATASTORE}/download/exy3m/l24/MPS%20LSOA%20Level%20Crime%20(most%20recent%2024%20months).csv",
}


def publish_crime(
    server: FixtureServer,
    body: bytes,
    *,
    url: str = CRIME_BOROUGH_URL,
    coverage_to: str = "2026-06-30",
) -> None:
    resources = {
        f"r{n}": {
            "title": title,
            "format": "csv",
            "url": other,
            "temporal_coverage_to": "2026-09-30",  # newer than the borough file: not a reason to pick them
            "check_timestamp": "2026-10-01T00:00:00Z",
        }
        for n, (title, other) in enumerate(CRIME_OTHER_URLS.items())
    }
    resources["pf6"] = {
        "title": "MPS Borough Level Crime (most recent 24 months).csv",
        "format": "csv",
        "url": url,
        "temporal_coverage_from": "2024-07-01",
        "temporal_coverage_to": coverage_to,
        "check_timestamp": "2026-07-20T00:00:00Z",
    }
    resources["pf5"] = {  # last month's edition, still listed
        "title": "MPS Borough Level Crime (most recent 24 months).csv",
        "format": "csv",
        "url": f"{DATASTORE}/download/exy3m/pf5/old.csv",
        "temporal_coverage_to": "2026-05-31",
        "check_timestamp": "2026-06-20T00:00:00Z",
    }
    server.route(
        CRIME_DATASET,
        {
            "id": "exy3m",
            "slug": "mps-recorded-crime-geographic-breakdown",
            "title": "MPS Recorded Crime: Geographic Breakdown",
            "licence": "OGL v3",
            "resources": resources,
        },
    )
    server.route(url, Reply(body, content_type="text/csv"))
    for other in [*CRIME_OTHER_URLS.values(), f"{DATASTORE}/download/exy3m/pf5/old.csv"]:
        server.route(other, Reply(b"Wrong,File\r\n1,2\r\n", content_type="text/csv"))


# == Nomis =================================================================================
def single_years(row: dict[str, str]) -> dict[int, int]:
    """Single years of age 0..90 (90 = 90+) whose bands are the shared file's (made up)."""

    def spread(total: int, ages: range) -> dict[int, int]:
        q, r = divmod(total, len(ages))
        return {a: q + (1 if i < r else 0) for i, a in enumerate(ages)}

    all_ages = int(row["population_all_ages"])
    years = {}
    years.update(spread(int(row["population_aged_0_9"]), range(0, 10)))
    years.update(spread(int(row["population_aged_10_17"]), range(10, 18)))
    years.update(spread(int(row["population_aged_18_24"]), range(18, 25)))
    rest = all_ages - int(row["population_aged_0_9"]) - int(row["population_aged_10_24"])
    years.update(spread(rest, range(25, 91)))
    return years


def publish_population(
    server: FixtureServer,
    rows: list[dict[str, str]],
    *,
    date: str = "2022",
    last_updated: str = "2024-07-15 09:30:00",
    with_single_years: bool = True,
    drop_code: str | None = None,
) -> None:
    definition = {
        "structure": {
            "header": {"id": "none", "prepared": "2026-10-01T00:00:00Z"},
            "keyfamilies": {
                "keyfamily": [
                    {
                        "agencyid": "NOMIS",
                        "id": "NM_2002_1",
                        "annotations": {
                            "annotation": [
                                {
                                    "annotationtext": "Current (being actively updated)",
                                    "annotationtitle": "Status",
                                },
                                {"annotationtext": last_updated, "annotationtitle": "LastUpdated"},
                                {
                                    "annotationtext": "annual",
                                    "annotationtitle": "FrequencyOfUpdate",
                                },
                            ]
                        },
                        "name": {
                            "value": "population estimates - local authority based by single year of age",
                            "lang": "en",
                        },
                        "uri": "Nm-2002d1",
                        "version": 1,
                    }
                ]
            },
        }
    }
    by_code = {r["gss_code"]: r for r in rows}

    def data(request: Request) -> Any:
        assert request.param("date") == "latest" and request.param("gender") == "0"
        assert request.param("measures") == "20100"
        codes = (request.param("geography") or "").split(",")
        ages = set((request.param("c_age") or "").split(","))
        select = (request.param("select") or "").split(",")
        lines = [[s.upper() for s in select]]
        for code in codes:
            if code == drop_code or code not in by_code:
                continue
            row = by_code[code]
            records = []
            if "200" in ages:
                records.append(("All Ages", int(row["population_all_ages"])))
            if with_single_years:
                for age, value in single_years(row).items():
                    if str(101 + age) in ages:
                        records.append((f"Aged {age}+" if age == 90 else f"Age {age}", value))
            for label, value in records:
                full = {
                    "date_name": date,
                    "geography_code": code,
                    "geography_name": row["name"],
                    "c_age_name": label,
                    "obs_value": str(value),
                }
                lines.append([full[s] for s in select])
        return Reply(csv_bytes(lines, quote_all=True), content_type="text/csv")

    server.route(f"{NOMIS}.def.sdmx.json", definition)
    server.route(f"{NOMIS}.data.csv", data)


# == 360Giving registry =====================================================================
MOPAC_JSON_URL = f"{DATASTORE}/download/gla-group-grant-data/mopac/mopac_grants_360giving.json"
MOPAC_XLSX_URL = "https://www.london.gov.uk/sites/default/files/mopac_grants_2023-24.xlsx"
OTHER_XLSX_URL = "https://www.lloydsbankfoundation.org.uk/360giving/grants.xlsx"


def grants_xlsx(grants: list[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "grants"
    sheet.append(
        ["Identifier", "Title", "Description", "Currency", "Amount Awarded", "Award Date",
         "Recipient Org:Identifier", "Recipient Org:Name", "Funding Org:Identifier",
         "Funding Org:Name"]
    )  # fmt: skip
    for g in grants:
        recipient, funder = g["recipientOrganization"][0], g["fundingOrganization"][0]
        sheet.append(
            [g["id"], g["title"], g.get("description", ""), g.get("currency", "GBP"),
             g["amountAwarded"], g["awardDate"], recipient["id"], recipient["name"],
             funder["id"], funder["name"]]
        )  # fmt: skip
    meta = workbook.create_sheet("meta")
    meta.append(["Schema version", "1.4"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def registry_entries(
    modified: str = "2026-05-01T10:00:00+0000", *, with_mopac: bool = True
) -> list[dict[str, Any]]:
    entries = [
        {
            "title": "Lloyds Bank Foundation grants",
            "identifier": "a002400000nO46WAAS",
            "license": "https://creativecommons.org/licenses/by/4.0/",
            "license_name": "Creative Commons Attribution 4.0 International (CC BY 4.0)",
            "issued": "2017-01-01",
            "modified": "2025-11-01T00:00:00+0000",
            "publisher": {
                "name": "Lloyds Bank Foundation for England and Wales",
                "prefix": "360G-LBFEW",
                "website": "https://www.lloydsbankfoundation.org.uk",
            },
            "distribution": [
                {
                    "downloadURL": OTHER_XLSX_URL,
                    "accessURL": "https://www.lloydsbankfoundation.org.uk",
                    "title": "Grants",
                }
            ],
        },
        {
            "title": "GLA grants",
            "identifier": "a00gla0000000001",
            "license": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
            "license_name": "Open Government Licence v3.0",
            "issued": "2020-01-01",
            "modified": "2026-01-01T00:00:00+0000",
            "publisher": {
                "name": "Greater London Authority",
                "prefix": "360G-GLA",
                "website": "https://www.london.gov.uk",
            },
            "distribution": [
                {
                    "downloadURL": "https://www.london.gov.uk/gla_grants.xlsx",
                    "accessURL": "https://www.london.gov.uk",
                    "title": "GLA grants",
                }
            ],
        },
    ]
    if with_mopac:
        entries += [
            {
                "title": "MOPAC grants 2022-23",
                "identifier": "a0Mopac2022-23",
                "license": "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
                "license_name": "Open Government Licence v3.0",
                "issued": "2023-06-01",
                "modified": modified,
                "publisher": {
                    "name": "Mayor\u2019s Office for Policing and Crime",
                    "prefix": "360G-fixture-mopac",
                    "website": "https://www.london.gov.uk/mopac",
                },
                "distribution": [
                    {
                        "downloadURL": MOPAC_JSON_URL,
                        "accessURL": "https://www.london.gov.uk/mopac",
                        "title": "MOPAC grants 2022-23",
                    }
                ],
            },
            {
                "title": "MOPAC grants 2023-24",
                "identifier": "a0Mopac2023-24",
                "license": "https://creativecommons.org/licenses/by/4.0/",
                "license_name": "Creative Commons Attribution 4.0 International (CC BY 4.0)",
                "issued": "2024-06-01",
                "modified": "2025-02-01T10:00:00+0000",
                "publisher": {
                    "name": "MOPAC",
                    "prefix": "360G-fixture-mopac",
                    "website": "https://www.london.gov.uk/mopac",
                },
                "distribution": [
                    {
                        "downloadURL": MOPAC_XLSX_URL,
                        "accessURL": "https://www.london.gov.uk/mopac",
                        "title": "MOPAC grants 2023-24",
                    }
                ],
            },
        ]
    return entries


def publish_registry(
    server: FixtureServer, package: bytes, workbook: bytes, **options: Any
) -> None:
    server.route(REGISTRY, registry_entries(**options))
    server.route(MOPAC_JSON_URL, Reply(package, content_type="application/json"))
    server.route(
        MOPAC_XLSX_URL,
        Reply(
            workbook,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    )
    server.route(OTHER_XLSX_URL, Reply(workbook, content_type="application/octet-stream"))


#: The 33 London codes, written out here rather than imported from the code under test.
BOROUGH_CODES_EXPECTED = tuple(f"E09{n:06d}" for n in range(1, 34))


# == a whole new London release (refresh end to end, scripts/serve_publishers.py) ============
SHARED_CODEPOINT = "postcodes/london_postcodes_codepoint_open_2025_10.csv"


@dataclass(frozen=True)
class CodePointRelease:
    """The publishers' new Code-Point release and the changes it carries."""

    zip: bytes
    added: list[str]
    added_borough: str  # of added[0]
    gone: list[str]
    moved_ward: tuple[str, str]  # postcode, new ward
    moved_borough: tuple[str, str, str]  # postcode, new borough, new ward


def build_codepoint_release(shared: Path, *, unknown_ward: bool = False) -> CodePointRelease:
    with (shared / SHARED_CODEPOINT).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_code = {r["postcode"]: r for r in rows}
    gone = ["SE1 7PB", "KT1 1EU", "E1 6AN"]
    ward_of = {}
    for r in rows:
        ward_of.setdefault(r["laua_code"], set()).add(r["ward_code"])
    # SW1A 1AA moves to another Westminster ward; BR1 1AA is given to Lewisham
    moving = by_code["SW1A 1AA"]
    other_ward = sorted(ward_of["E09000033"] - {moving["ward_code"]})[0]
    lewisham_ward = sorted(ward_of["E09000023"])[0]
    changed = {
        "SW1A 1AA": {**moving, "ward_code": other_ward},
        "BR1 1AA": {**by_code["BR1 1AA"], "laua_code": "E09000023", "ward_code": lewisham_ward},
    }
    if unknown_ward:
        changed["SW1A 1AA"]["ward_code"] = "E05999999"
    new = [
        next(f"{out} {n}ZZ" for n in range(9, 0, -1) if f"{out} {n}ZZ" not in by_code)
        for out in ("SE1", "KT1")
    ]
    added = [  # new postcodes beside real ones (made up)
        {**by_code["SE1 7PB"], "postcode": new[0]},
        {**by_code["KT1 1EU"], "postcode": new[1]},
    ]
    return CodePointRelease(
        zip=codepoint_release_zip(
            [*(changed.get(r["postcode"], r) for r in rows if r["postcode"] not in gone), *added]
        ),
        added=[a["postcode"] for a in added],
        added_borough=added[0]["laua_code"],
        gone=gone,
        moved_ward=("SW1A 1AA", other_ward),
        moved_borough=("BR1 1AA", "E09000023", lewisham_ward),
    )


def codepoint_release_zip(rows: list[dict[str, str]]) -> bytes:
    """A full Code-Point Open release of these London rows (the shared file's columns),
    with the made-up rows outside London."""
    lines: dict[str, list[str]] = {}

    def add(postcode: str, pqi: str, east: str, north: str, district: str, ward: str) -> None:
        area = postcode_area(postcode).lower()
        lines.setdefault(area, []).append(
            f'"{codepoint_padded(postcode)}",{pqi},{east},{north},"E92000001",'
            f'"E19000003","E18000007","E99999999","{district}","{ward}"'
        )

    for r in rows:
        add(
            r["postcode"],
            r["positional_quality"],
            r["eastings"],
            r["northings"],
            r["laua_code"],
            r["ward_code"],
        )
    for made_up in NON_LONDON_CODEPOINT:
        add(*made_up)
    members = {
        "Doc/Code-Point_Open_Column_Headers.csv": CODEPOINT_HEADERS.encode(),
        "Doc/licence.txt": b"Contains OS data \xc2\xa9 Crown copyright and database right 2026\r\n",
    }
    for area, body in sorted(lines.items()):
        members[f"Data/CSV/{area}.csv"] = ("\r\n".join(body) + "\r\n").encode()
    return zip_bytes(members)


#: the postcode whose ward the boundary review below splits (St James's, Westminster)
SPLIT_AT = "SW1A 1AA"
#: the codes the review gives the two halves (made up: E05 codes no ward has had)
SPLIT_CODES = ("E05099901", "E05099902")


@dataclass(frozen=True)
class WardSplit:
    """A boundary review: one ward abolished and split into two new wards (new GSS codes)
    along a north-south line through its centroid, its postcodes given to the half their
    grid reference falls in."""

    codepoint: bytes
    wards: WardFixture
    old: str  # the abolished ward
    borough: str  # its borough (the new wards')
    new: tuple[str, str]  # the west half's code, the east half's
    #: postcode → its new ward (every live postcode of the old ward)
    postcodes: dict[str, str]
    #: new ward → a point well inside it, (lon, lat) WGS84
    inside: dict[str, tuple[float, float]]
    #: new ward → its name
    names: dict[str, str]


def build_ward_split(shared: Path) -> WardSplit:
    with (shared / SHARED_CODEPOINT).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    old = next(r["ward_code"] for r in rows if r["postcode"] == SPLIT_AT)
    fx = build_wards(shared)
    (feature,) = [f for f in fx.features if f["properties"]["WD22CD"] == old]
    bng = geometry_to_bng(shapely.geometry.shape(feature["geometry"]))
    x0, y0, x1, y1 = bng.bounds
    middle = bng.centroid.x
    halves = [
        shapely.intersection(bng, shapely.box(x0 - 1, y0 - 1, middle, y1 + 1)),
        shapely.intersection(bng, shapely.box(middle, y0 - 1, x1 + 1, y1 + 1)),
    ]
    name = feature["properties"]["WD22NM"]
    names = dict(zip(SPLIT_CODES, (f"{name} West", f"{name} East"), strict=True))
    features = [f for f in fx.features if f is not feature]
    for n, (code, half) in enumerate(zip(SPLIT_CODES, halves, strict=True)):
        features.append({
            "type": "Feature", "id": 20_000 + n,
            "geometry": json.loads(shapely.to_geojson(geometry_to_wgs84(half))),
            "properties": {
                **feature["properties"], "FID": 20_000 + n, "WD22CD": code, "WD22NM": names[code],
            },
        })  # fmt: skip
    moved = {}
    for r in rows:
        if r["ward_code"] == old:
            r["ward_code"] = SPLIT_CODES[float(r["eastings"]) >= middle]
            moved[r["postcode"]] = r["ward_code"]
    inside = {}
    for code, half in zip(SPLIT_CODES, halves, strict=True):
        point = geometry_to_wgs84(half.buffer(-50).representative_point())
        inside[code] = (point.x, point.y)
    codes = [*(c for c in fx.codes if c != old), *SPLIT_CODES]
    return WardSplit(
        codepoint=codepoint_release_zip(rows),
        wards=WardFixture(
            features=features, codes=codes,
            areas={**{c: a for c, a in fx.areas.items() if c != old},
                   **{c: float(h.area) for c, h in zip(SPLIT_CODES, halves, strict=True)}},
            lads={**{c: lad for c, lad in fx.lads.items() if c != old},
                  **dict.fromkeys(SPLIT_CODES, fx.lads[old])},
        ),
        old=old, borough=fx.lads[old], new=SPLIT_CODES, postcodes=moved, inside=inside,
        names=names,
    )  # fmt: skip


def publish_ward_split(server: FixtureServer, split: WardSplit) -> None:
    """The ONS wards and OS Code-Point Open answering with the boundary review's release."""
    publish_codepoint(server, split.codepoint, version="2026-11")
    publish_wards(server, split.wards)


def crime_with_a_new_month(shared: Path) -> bytes:
    text = (shared / "crime" / "mps_borough_level_crime_2024-07_to_2026-06.csv").read_text(
        "utf-8-sig"
    )
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*rows[0], "202607"])
    for row in rows[1:]:
        writer.writerow([*row, row[-1]])  # July as June
    return out.getvalue().encode()


@dataclass
class LondonRelease:
    """Every publisher's new release at once: the London data changed on purpose (see
    :func:`build_codepoint_release`; the ONS 2022 ward names; one more crime month)."""

    codepoint: CodePointRelease
    nspl: bytes
    wards: WardFixture
    boroughs: bytes
    crime: bytes
    population: list[dict[str, str]]
    grants: bytes
    workbook: bytes


def build_london_release(shared: Path, workdir: Path) -> LondonRelease:
    grants = (
        shared / "grants" / "grantnav_fixture_grants_london_recipients_360giving.json"
    ).read_bytes()
    return LondonRelease(
        codepoint=build_codepoint_release(shared),
        nspl=nspl_zip(build_nspl(shared), "old"),
        wards=build_wards(shared),
        boroughs=build_borough_zip(shared, workdir),
        crime=crime_with_a_new_month(shared),
        population=read_csv(shared / "reference" / "london_borough_population_2022.csv"),
        grants=grants,
        workbook=grants_xlsx(json.loads(grants)["grants"][:37]),
    )


def publish_london_release(server: FixtureServer, release: LondonRelease) -> None:
    """Every publisher answering with the new release (Code-Point 2026-08, NSPL February
    2026, wards, GLA boundaries, crime to July 2026, 2023 population, MOPAC's grants)."""
    publish_codepoint(server, release.codepoint.zip, version="2026-08")
    publish_nspl(server, release.nspl)
    publish_wards(server, release.wards)
    publish_boroughs(server, release.boroughs)
    publish_crime(server, release.crime, coverage_to="2026-07-31")
    publish_population(server, release.population, date="2023")
    publish_registry(server, release.grants, release.workbook)
