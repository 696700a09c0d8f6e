"""ONS ward boundaries (Open Geography Portal Feature Service): London's wards.

Discover (DATA-SOURCES.md §3): search ArcGIS Online for ``ONSGeography_data`` Feature
Services titled "Wards … Boundaries", take the newest vintage (the "(Month Year)" of the
title or service name) and, within it, prefer the generalised BGC layer (then BFC, BFE,
BSC, BUC; UK before GB before EW). The layer's ``?f=json`` gives its field names, matched
by pattern (``WDyyCD``, ``WDyyNM``, ``LADyyCD``, ``LADyyNM``), and ``maxRecordCount``; a
candidate whose layer has no LAD field is passed over for the next of the same vintage.

Fetch: ``query?where=LADyyCD LIKE 'E09%'&f=geojson&outSR=4326`` paged with
``resultOffset``/``resultRecordCount`` while ``exceededTransferLimit`` is true; geometries
are transformed to EPSG:27700 and made valid. Writes ``boundaries/london_wards.gpkg``
(layer ``london_wards``) and ``reference/london_ward_names.csv``, with the vintage's own
field names.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shapely.geometry
from shapely.errors import GEOSException

from geodata.crs import geometry_to_bng
from geodata.errors import FetchError
from geodata.fetch import arcgis
from geodata.fetch.base import (
    BOROUGH_CODES,
    OGL_V3,
    FetchedFile,
    Found,
    Staging,
    multipolygon,
    release_month,
    write_csv,
    write_gpkg,
)
from geodata.sources import sha256_file

if TYPE_CHECKING:
    from geodata.fetch.http import Client

__all__ = ["WardBoundaries", "SOURCE", "SEARCH_QUERY", "GPKG_PATH", "LAYER", "NAMES_PATH"]

SEARCH_QUERY = (
    f'owner:{arcgis.ONS_OWNER} AND title:"Wards" AND title:"Boundaries" AND type:"Feature Service"'
)
GPKG_PATH = "boundaries/london_wards.gpkg"
LAYER = "london_wards"
NAMES_PATH = "reference/london_ward_names.csv"
#: Resolution preference: generalised (20 m) first, as the loaders' wards are BGC.
RESOLUTIONS = ("BGC", "BFC", "BFE", "BSC", "BUC")
SCOPES = ("UK", "GB", "EW")
#: Largest page asked for, whatever the layer's maxRecordCount.
MAX_PAGE = 2000

_WARD = re.compile(r"\bwards?\b", re.IGNORECASE)
_BOUNDARY = re.compile(r"boundar", re.IGNORECASE)
_NOT_BOUNDARY = re.compile(r"lookup|names\s+and\s+codes|centroid|weighted", re.IGNORECASE)
_RESOLUTION = re.compile(r"(?<![A-Za-z])(BGC|BFC|BFE|BSC|BUC)(?![A-Za-z])")
_SCOPE = re.compile(r"(?<![A-Za-z])(UK|GB|EW)(?![A-Za-z])")


def attribution_lines(year: str) -> str:
    """The attribution ONS asks for with its boundaries, for a release year."""
    return (
        "Source: Office for National Statistics licensed under the Open Government Licence "
        f"v.3.0\nContains OS data © Crown copyright and database right {year}"
    )


def _rank(item: dict[str, Any]) -> tuple[int, int, float]:
    text = f"{item['title']} {item.get('url', '')}"
    resolution = _RESOLUTION.search(text)
    scope = _SCOPE.search(text)
    return (
        RESOLUTIONS.index(resolution.group(1)) if resolution else len(RESOLUTIONS),
        SCOPES.index(scope.group(1)) if scope else len(SCOPES),
        -float(item.get("created") or 0),
    )


def _field(names: list[str], prefix: str, suffix: str, year: str | None = None) -> str | None:
    """The field ``<prefix><yy><suffix>`` (case-insensitive); the given year, else the newest."""
    pattern = re.compile(rf"{prefix}(\d\d){suffix}", re.IGNORECASE)
    hits = [(m.group(1), n) for n in names if (m := pattern.fullmatch(n))]
    if not hits:
        return None
    same_year = [n for y, n in hits if y == year]
    return same_year[0] if same_year else max(hits)[1]


def layer_fields(meta: Any, where: str) -> dict[str, str]:
    """The ward/LAD code and name fields of a layer's ``?f=json`` answer.

    Returns
    -------
    dict
        ``ward_code``, ``ward_name``, ``lad_code``, ``lad_name`` → the layer's names.

    Raises
    ------
    FetchError
        If the answer has no ``fields`` list or lacks one of the four fields.
    """
    fields = meta.get("fields") if isinstance(meta, dict) else None
    if not isinstance(fields, list):
        raise FetchError(f"{where}: expected layer JSON with a 'fields' list", url=where)
    names = [f["name"] for f in fields if isinstance(f, dict) and isinstance(f.get("name"), str)]
    ward_code = _field(names, "WD", "CD")
    year = ward_code[2:4] if ward_code else None
    found = {
        "ward_code": ward_code,
        "ward_name": _field(names, "WD", "NM", year),
        "lad_code": _field(names, "LAD", "CD", year),
        "lad_name": _field(names, "LAD", "NM", year),
    }
    missing = [k for k, v in found.items() if v is None]
    if missing:
        wanted = {
            "ward_code": "WDyyCD",
            "ward_name": "WDyyNM",
            "lad_code": "LADyyCD",
            "lad_name": "LADyyNM",
        }
        raise FetchError(
            f"{where}: the layer lacks {', '.join(wanted[m] for m in missing)} "
            f"(fields: {', '.join(names)})",
            url=where,
        )
    return {k: str(v) for k, v in found.items()}


class WardBoundaries:
    """ONS ward boundaries (newest vintage, generalised), London wards with their LADs."""

    name = "wards"
    description = (
        "ONS Open Geography Portal ward boundaries via ArcGIS search and Feature Service query"
    )
    keys = ("wards", "ward_names")

    # -- discover ------------------------------------------------------------------------
    def discover(self, client: Client) -> Found:
        """Find the newest ward boundary service with ward and LAD fields.

        Raises
        ------
        FetchError
            No ward boundary Feature Service, or none of the newest vintage has the
            ward and LAD code/name fields.
        """
        where = arcgis.search_url(SEARCH_QUERY, num=50)
        items = [
            item
            for item in arcgis.search(client, SEARCH_QUERY, num=50)
            if item["type"] == "Feature Service"
            and _WARD.search(item["title"])
            and _BOUNDARY.search(item["title"])
            and not _NOT_BOUNDARY.search(item["title"])
            and isinstance(item.get("url"), str)
            and item["url"]
        ]
        dated = [(release_month(i["title"], i["url"]), i) for i in items]
        dated = [(when, i) for when, i in dated if when is not None]
        if not dated:
            raise FetchError(
                f"{where}: no ward boundary Feature Service with a '(Month Year)' vintage",
                url=where,
            )
        newest = max(when for when, _ in dated)
        candidates = sorted((i for when, i in dated if when == newest), key=_rank)
        tried = []
        for item in candidates:
            service = client.official(item["url"])
            layer = arcgis.layer_url(service)
            try:
                meta = client.get_json(layer, params={"f": "json"})
                fields = layer_fields(meta, f"{layer}?f=json")
            except FetchError as exc:
                tried.append(f"{item['title']}: {exc}")
                continue
            max_records = meta.get("maxRecordCount")
            page = max_records if isinstance(max_records, int) and max_records > 0 else 1000
            year, month = newest
            return Found(
                source=self.name,
                version={
                    "item": item["id"],
                    "title": item["title"],
                    "modified": item.get("modified"),
                },
                label=f"ONS {item['title']}",
                vintage=f"{year:04d}-{month:02d}",
                licence=OGL_V3,
                attribution=attribution_lines(str(year)),
                url=where,
                details={
                    "item": item["id"],
                    "service_url": service,
                    "layer_url": layer,
                    "fields": fields,
                    "max_record_count": page,
                },
            )
        raise FetchError(
            f"{where}: no ward boundary service of {newest[1]:02d}/{newest[0]} has ward and "
            f"LAD fields: {'; '.join(tried)}",
            url=where,
        )

    # -- fetch ---------------------------------------------------------------------------
    def fetch(self, client: Client, found: Found, workdir: Path) -> list[FetchedFile]:
        """Page the London wards, transform them to EPSG:27700, write GPKG and names CSV.

        Raises
        ------
        FetchError
            An ArcGIS error, a feature without its codes or a usable polygon, duplicate
            ward codes, a LAD outside the 33 London codes, or a borough with no ward.
        """
        if found.source != self.name:
            raise FetchError(f"{self.name}: cannot fetch a release found by {found.source}")
        fields = found.details["fields"]
        layer = found.details["layer_url"]
        wd, wd_name, lad, lad_name = (
            fields["ward_code"],
            fields["ward_name"],
            fields["lad_code"],
            fields["lad_name"],
        )
        query_url = f"{layer}/query"
        features = arcgis.query_pages(
            client,
            layer,
            {
                "where": f"{lad} LIKE 'E09%'",
                "outFields": ",".join([wd, wd_name, lad, lad_name]),
                "returnGeometry": "true",
                "outSR": "4326",
                "orderByFields": f"{wd} ASC",
                "f": "geojson",
            },
            page_size=min(int(found.details.get("max_record_count") or 1000), MAX_PAGE),
        )
        records: dict[str, tuple[str, str, str, Any]] = {}
        duplicates = []
        for n, feature in enumerate(features):
            props = feature.get("properties") if isinstance(feature, dict) else None
            if not isinstance(props, dict):
                raise FetchError(f"{query_url}: feature {n} has no properties", url=query_url)
            lower = {str(k).lower(): v for k, v in props.items()}
            values = [lower.get(name.lower()) for name in (wd, wd_name, lad, lad_name)]
            if not all(isinstance(v, str) and v.strip() for v in values):
                raise FetchError(
                    f"{query_url}: feature {n} lacks {wd}/{wd_name}/{lad}/{lad_name}: {props}",
                    url=query_url,
                )
            code, ward_name, lad_code, borough_name = (str(v).strip() for v in values)
            try:
                geom = shapely.geometry.shape(feature["geometry"])
            except (GEOSException, ValueError, TypeError, KeyError, AttributeError) as exc:
                raise FetchError(
                    f"{query_url}: ward {code} has no usable GeoJSON geometry ({exc})",
                    url=query_url,
                ) from exc
            bng = multipolygon(geometry_to_bng(geom), f"{query_url}: ward {code}")
            if code in records:
                duplicates.append(code)
            records[code] = (ward_name, lad_code, borough_name, bng)
        if duplicates:
            raise FetchError(
                f"{query_url}: {len(duplicates)} ward codes came back twice across pages "
                f"(e.g. {duplicates[:3]})",
                url=query_url,
            )
        bad_codes = [c for c in records if not c.startswith("E05")]
        lads = {r[1] for r in records.values()}
        unknown = sorted(lads - set(BOROUGH_CODES))
        missing = sorted(set(BOROUGH_CODES) - lads)
        if bad_codes or unknown or missing:
            raise FetchError(
                f"{query_url}: the London wards should be E05… codes in the 33 districts; "
                f"non-ward codes {bad_codes[:3]}, unexpected LADs {unknown}, districts "
                f"without wards {missing}",
                url=query_url,
            )
        codes = sorted(records)
        rows = [(c, records[c][0], records[c][1], records[c][2]) for c in codes]
        with Staging(workdir) as staging:
            gpkg = staging.path(GPKG_PATH)
            write_gpkg(
                gpkg,
                LAYER,
                [records[c][3] for c in codes],
                {
                    wd: [r[0] for r in rows],
                    wd_name: [r[1] for r in rows],
                    lad: [r[2] for r in rows],
                    lad_name: [r[3] for r in rows],
                },
            )
            names = staging.path(NAMES_PATH)
            write_csv(names, (wd, wd_name, lad, lad_name), rows)
            digests = (sha256_file(gpkg), sha256_file(names))
        return [
            found.file("wards", GPKG_PATH, rows=len(rows), sha256=digests[0], url=query_url),
            found.file("ward_names", NAMES_PATH, rows=len(rows), sha256=digests[1], url=query_url),
        ]


SOURCE = WardBoundaries()
