"""GLA "Statistical GIS Boundary Files for London": the 33 borough polygons.

Discover (DATA-SOURCES.md §4a): the London Datastore dataset
``statistical-gis-boundary-files-london``; its zip resource whose title or URL contains
"statistical-gis-boundaries-london". The dataset is essentially static; its resource id,
URL and content fields (``check_hash``, ``check_size``, coverage dates) identify the release.

Fetch: the zip's ``…/ESRI/London_Borough_Excluding_MHW.shp`` is read in place
(``/vsizip/``) with pyogrio; its CRS must be British National Grid. Writes
``boundaries/london_boroughs.gpkg`` (layer ``london_boroughs``, EPSG:27700) with every
attribute of the shapefile (``GSS_CODE``, ``NAME``, ``ONS_INNER`` required).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from geodata.errors import FetchError
from geodata.fetch import datapress
from geodata.fetch.base import (
    BOROUGH_CODES,
    OGL_V3,
    FetchedFile,
    Found,
    Staging,
    multipolygon,
    scratch_dir,
    write_gpkg,
)
from geodata.sources import sha256_file

if TYPE_CHECKING:
    from geodata.fetch.http import Client

__all__ = ["LondonBoroughs", "SOURCE", "DATASET", "GPKG_PATH", "LAYER"]

DATASET = "statistical-gis-boundary-files-london"
GPKG_PATH = "boundaries/london_boroughs.gpkg"
LAYER = "london_boroughs"
REQUIRED_FIELDS = ("GSS_CODE", "NAME", "ONS_INNER")
VINTAGE = "2011 boundaries (unchanged since)"
ATTRIBUTION = (
    "Contains National Statistics data © Crown copyright and database right 2015\n"
    "Contains Ordnance Survey data © Crown copyright and database right 2015"
)
_SHAPEFILE = re.compile(r"(?:^|/)ESRI/London_Borough_Excluding_MHW\.shp$", re.IGNORECASE)


def _slug(text: str) -> str:
    return re.sub(r"[\s_]+", "-", text.strip().lower())


class LondonBoroughs:
    """GLA London borough boundaries (excluding the Thames below mean high water)."""

    name = "boroughs"
    description = (
        "GLA Statistical GIS Boundary Files for London via the London Datastore (DataPress) API"
    )
    keys = ("boroughs",)

    def discover(self, client: Client) -> Found:
        """Find the boundary files zip among the dataset's resources.

        Raises
        ------
        FetchError
            The dataset has no zip resource named statistical-gis-boundaries-london.
        """
        where = datapress.dataset_url(DATASET)
        answer, resources = datapress.dataset(client, DATASET)
        matches = [
            (rid, r)
            for rid, r in resources.items()
            if datapress.is_format(r, "zip")
            and "statistical-gis-boundaries-london"
            in _slug(f"{r.get('title', '')} {r.get('url', '')}")
        ]
        if not matches:
            titles = [str(r.get("title")) for r in resources.values()]
            raise FetchError(
                f"{where}: no zip resource 'statistical-gis-boundaries-london' among {titles}",
                url=where,
            )
        matches.sort(key=lambda m: str(m[1].get("check_timestamp") or ""), reverse=True)
        rid, resource = matches[0]
        url = client.official(resource["url"])
        return Found(
            source=self.name,
            version=datapress.resource_version(rid, resource, url),
            label="GLA Statistical GIS Boundary Files for London, London_Borough_Excluding_MHW",
            vintage=VINTAGE,
            licence=datapress.licence_of(answer) or OGL_V3,
            attribution=ATTRIBUTION,
            url=where,
            details={"resource": rid, "download_url": url, "title": resource.get("title")},
        )

    def fetch(self, client: Client, found: Found, workdir: Path) -> list[FetchedFile]:
        """Download the zip, read the borough shapefile, write the GeoPackage.

        Raises
        ------
        FetchError
            A failed or corrupt download, no borough shapefile in the zip, a CRS other
            than British National Grid, missing fields, or not exactly the 33 E09 codes.
        """
        if found.source != self.name:
            raise FetchError(f"{self.name}: cannot fetch a release found by {found.source}")
        url = found.details["download_url"]
        with scratch_dir(workdir) as scratch, Staging(workdir) as staging:
            archive = scratch / "statistical-gis-boundaries-london.zip"
            client.download(url, archive, kind="zip")
            fields, geometries = _read_boroughs(archive, url)
            target = staging.path(GPKG_PATH)
            write_gpkg(target, LAYER, geometries, fields)
            digest = sha256_file(target)
        return [found.file("boroughs", GPKG_PATH, rows=len(geometries), sha256=digest, url=url)]


def _is_bng(crs: str | None) -> bool:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    if not crs:
        return False
    try:
        parsed = CRS.from_user_input(crs)
    except CRSError:
        return False
    bng = CRS.from_epsg(27700)
    return parsed.equals(bng, ignore_axis_order=True) or parsed.to_epsg(min_confidence=70) == 27700


def _read_boroughs(archive: Path, url: str) -> tuple[dict[str, Any], list[Any]]:
    import zipfile

    import pyogrio.raw  # lazy: ingest only

    with zipfile.ZipFile(archive) as zf:
        members = [n for n in zf.namelist() if _SHAPEFILE.search(n)]
    if not members:
        raise FetchError(f"{url}: the zip has no ESRI/London_Borough_Excluding_MHW.shp", url=url)
    source = f"/vsizip/{archive}/{members[0]}"
    try:
        meta, _fids, wkb, field_data = pyogrio.raw.read(source)
    except Exception as exc:  # pyogrio raises several DataSource/Layer error types
        raise FetchError(f"{url}: cannot read {members[0]} ({exc})", url=url) from exc
    crs = meta.get("crs")
    if not _is_bng(crs):
        raise FetchError(
            f"{url}: {members[0]} is in {crs or 'an unknown CRS (no .prj)'}, expected British "
            "National Grid (EPSG:27700)",
            url=url,
        )
    names = [str(n) for n in meta["fields"]]
    by_upper = {n.upper(): i for i, n in enumerate(names)}
    missing = [f for f in REQUIRED_FIELDS if f not in by_upper]
    if missing or wkb is None:
        raise FetchError(
            f"{url}: {members[0]} lacks {', '.join(missing) or 'geometries'} "
            f"(fields: {', '.join(names)})",
            url=url,
        )
    codes = [str(c).strip() for c in field_data[by_upper["GSS_CODE"]]]
    if sorted(codes) != list(BOROUGH_CODES):
        extra = sorted(set(codes) - set(BOROUGH_CODES))
        absent = sorted(set(BOROUGH_CODES) - set(codes))
        raise FetchError(
            f"{url}: expected exactly the 33 London codes E09000001..E09000033, got "
            f"{len(codes)} features (missing {absent}, unexpected {extra})",
            url=url,
        )
    order = np.argsort(np.array(codes))
    geoms = shapely.from_wkb(wkb)
    geometries = [multipolygon(geoms[i], f"{url}: borough {codes[i]}") for i in order]
    fields: dict[str, Any] = {}
    for i, name in enumerate(names):
        canonical = name.upper() if name.upper() in REQUIRED_FIELDS else name
        column = np.asarray(field_data[i])[order]
        if canonical == "GSS_CODE":
            column = np.array([codes[j] for j in order], dtype=object)
        fields[canonical] = column
    return fields, geometries


SOURCE = LondonBoroughs()
