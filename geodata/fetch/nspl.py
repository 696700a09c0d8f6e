"""ONS National Statistics Postcode Lookup (NSPL): London postcodes, live and terminated.

Discover (DATA-SOURCES.md §2): every NSPL release is a new ArcGIS Online item of
``ONSGeography_data``; search ``title:"National Statistics Postcode Lookup"`` newest
first, take the newest release (by the "(Month Year)" of its title, else its creation
date) and, within it, prefer the "CSV Collection" item (the classic zip, from
``…/content/items/<id>/data``), else a plain CSV item, else a hosted table through the
Hub download API (flat CSV). Items whose title names the 2011 Census geography are
passed over for a same-month item without it.

Fetch: the main CSV is ``Data/NSPL_<MMM>_<YYYY>_UK.csv`` or, failing that, the per-area
``Data/multi_csv/*.csv`` files. Both header styles are read: the one before August 2025
(``pcds, dointr, doterm, usertype, oseast1m, osnrth1m, osgrdind, …, laua, ward, …, rgn,
…, lat, long``) and the newer one (``pcd7, pcd8, pcds, …, usrtypind, east1m, north1m,
gridind, …, lad25cd, wd25cd, …, rgn25cd, …``), matching year-suffixed names by pattern.
London rows (LAD code E09…) are kept, live and terminated; BT postcodes are excluded
(Northern Ireland data has its own licence); placeholder codes (``E99999999``) and the
latitude ``99.999999`` of postcodes without a grid reference are blanked.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from geodata.errors import FetchError, InvalidPostcodeError
from geodata.fetch import arcgis
from geodata.fetch.base import (
    BOROUGH_CODES,
    OGL_V3,
    FetchedFile,
    Found,
    Staging,
    column_index,
    csv_rows,
    release_month,
    scratch_dir,
    write_csv,
    year_of,
)
from geodata.postcodes import parse_postcode
from geodata.sources import sha256_file

if TYPE_CHECKING:
    from geodata.fetch.http import Client

__all__ = [
    "NationalStatisticsPostcodeLookup",
    "SOURCE",
    "SEARCH_QUERY",
    "OUTPUT_PATH",
    "OUTPUT_HEADER",
]

SEARCH_QUERY = f'owner:{arcgis.ONS_OWNER} AND title:"National Statistics Postcode Lookup"'
OUTPUT_PATH = "postcodes/nspl_london.csv"
OUTPUT_HEADER = (
    "pcds",
    "dointr",
    "doterm",
    "usertype",
    "oseast1m",
    "osnrth1m",
    "osgrdind",
    "laua",
    "ward",
    "rgn",
    "lat",
    "long",
)
#: Header patterns per output column, tried in order (full match, case-insensitive):
#: the pre-August-2025 name first, then the year-suffixed / renamed one.
COLUMN_PATTERNS: dict[str, tuple[str, ...]] = {
    "pcds": (r"pcds",),
    "dointr": (r"dointr",),
    "doterm": (r"doterm",),
    "usertype": (r"usertype", r"usrtypind"),
    "oseast1m": (r"oseast1m", r"east1m"),
    "osnrth1m": (r"osnrth1m", r"north1m"),
    "osgrdind": (r"osgrdind", r"gridind"),
    "laua": (r"laua", r"lad\d{2}cd"),
    "ward": (r"ward", r"wd\d{2}cd"),
    "rgn": (r"rgn", r"rgn\d{2}cd"),
    "lat": (r"lat",),
    "long": (r"long",),
}
#: Other postcode columns, used only when ``pcds`` is absent (normalised to its form).
FALLBACK_POSTCODE = (r"pcd8", r"pcd2", r"pcd7", r"pcd")
ZIP_TYPES = ("CSV Collection",)
CSV_TYPES = ("CSV",)
TABLE_TYPES = ("Feature Service", "Table", "Feature Layer")
PLACEHOLDER_CODE = re.compile(r"[A-Z]99999999")
PLACEHOLDER_LAT = "99.999999"

_TITLE = re.compile(r"national\s+statistics\s+postcode\s+lookup", re.IGNORECASE)
_NOT_DATA = re.compile(r"user\s*guide|documentation|names\s+and\s+codes", re.IGNORECASE)
_MAIN_CSV = re.compile(r"(?:^|/)Data/NSPL[^/]*_UK\.csv$", re.IGNORECASE)
_AREA_CSV = re.compile(r"(?:^|/)Data/multi_csv/[^/]+\.csv$", re.IGNORECASE)
_ANY_NSPL_CSV = re.compile(r"(?:^|/)(?:Data/)?NSPL[^/]*\.csv$", re.IGNORECASE)


def attribution_lines(year: str) -> str:
    """The attribution ONS asks for with NSPL (Great Britain data), for a release year."""
    return "\n".join(
        [
            f"Contains OS data © Crown copyright and database right {year}",
            f"Contains Royal Mail data © Royal Mail copyright and database right {year}",
            "Source: Office for National Statistics licensed under the Open Government "
            "Licence v.3.0",
        ]
    )


def _created_month(item: dict[str, Any]) -> tuple[int, int]:
    import datetime as dt

    created = item.get("created")
    if isinstance(created, int | float) and created > 0:
        day = dt.datetime.fromtimestamp(created / 1000, tz=dt.UTC)
        return day.year, day.month
    return 0, 0


def _type_rank(item: dict[str, Any]) -> int:
    kind = item["type"]
    rank = 0 if kind in ZIP_TYPES else 1 if kind in CSV_TYPES else 2
    return rank * 2 + (1 if re.search(r"\b2011\b", item["title"]) else 0)


class NationalStatisticsPostcodeLookup:
    """ONS NSPL: London postcodes with LAD, ward, region and grid reference, incl. terminated."""

    name = "nspl"
    description = (
        "ONS National Statistics Postcode Lookup via ArcGIS Online search (item zip or Hub CSV)"
    )
    keys = ("nspl",)

    # -- discover ------------------------------------------------------------------------
    def discover(self, client: Client) -> Found:
        """Find the newest NSPL item and how to download it.

        Raises
        ------
        FetchError
            The search answers no NSPL item of a downloadable type.
        """
        where = arcgis.search_url(SEARCH_QUERY)
        items = [
            item
            for item in arcgis.search(client, SEARCH_QUERY)
            if _TITLE.search(item["title"])
            and not _NOT_DATA.search(item["title"])
            and item["type"] in ZIP_TYPES + CSV_TYPES + TABLE_TYPES
        ]
        if not items:
            raise FetchError(
                f"{where}: no 'National Statistics Postcode Lookup' item of type "
                f"{', '.join(ZIP_TYPES + CSV_TYPES + TABLE_TYPES)}",
                url=where,
            )

        def release(item: dict[str, Any]) -> tuple[int, int]:
            return release_month(item["title"]) or _created_month(item)

        newest = max(release(item) for item in items)
        same = [item for item in items if release(item) == newest]
        same.sort(key=lambda item: (_type_rank(item), -(item.get("created") or 0)))
        item = same[0]
        year, month = newest
        vintage = f"{year:04d}-{month:02d}" if year else "unknown"
        if item["type"] in ZIP_TYPES + CSV_TYPES:
            download_url, params, fmt = arcgis.item_data_url(item["id"]), {}, "item"
        else:
            download_url, params, fmt = arcgis.hub_csv_url(item["id"]), {"layers": "0"}, "hub-csv"
        return Found(
            source=self.name,
            version={
                "item": item["id"],
                "title": item["title"],
                "modified": item.get("modified"),
                "type": item["type"],
            },
            label=f"ONS {item['title']}",
            vintage=vintage,
            licence=OGL_V3,
            attribution=attribution_lines(year_of(vintage, default="")),
            url=where,
            details={
                "item": item["id"],
                "type": item["type"],
                "download_url": download_url,
                "download_params": params,
                "format": fmt,
            },
        )

    # -- fetch ---------------------------------------------------------------------------
    def fetch(self, client: Client, found: Found, workdir: Path) -> list[FetchedFile]:
        """Download the release, keep the London rows, write ``postcodes/nspl_london.csv``.

        Raises
        ------
        FetchError
            A failed or corrupt download, no NSPL CSV in the zip, a header lacking a
            needed column (e.g. no LAD column), malformed postcodes, a LAD outside the
            33 London codes, or no London row at all.
        """
        if found.source != self.name:
            raise FetchError(f"{self.name}: cannot fetch a release found by {found.source}")
        url = found.details["download_url"]
        params = found.details.get("download_params") or None
        kind = "zip" if found.details.get("type") in ZIP_TYPES else None
        with scratch_dir(workdir) as scratch, Staging(workdir) as staging:
            raw = scratch / "nspl.download"
            client.download(url, raw, params=params, kind=kind)
            with raw.open("rb") as handle:
                start = handle.read(4)
            if start.startswith(b"PK"):
                try:
                    archive = zipfile.ZipFile(raw)
                except (zipfile.BadZipFile, OSError) as exc:
                    raise FetchError(f"{url}: not a readable zip ({exc})", url=url) from exc
                with archive:
                    rows = _london_rows(_zip_tables(archive, url), url)
            else:
                if start.lstrip()[:1] in (b"{", b"["):
                    raise FetchError(
                        f"{url}: answered JSON where the NSPL CSV was expected (a Hub export "
                        f"still being prepared?): {raw.read_bytes()[:200]!r}",
                        url=url,
                    )
                with raw.open("rb") as handle:
                    text = io.TextIOWrapper(
                        handle, encoding="utf-8-sig", errors="replace", newline=""
                    )
                    rows = _london_rows([(url, text)], url)
            target = staging.path(OUTPUT_PATH)
            count = write_csv(target, OUTPUT_HEADER, rows)
            digest = sha256_file(target)
        return [found.file("nspl", OUTPUT_PATH, rows=count, sha256=digest, url=url)]


def _zip_tables(archive: zipfile.ZipFile, url: str) -> Iterator[tuple[str, IO[str]]]:
    """The NSPL CSV members of the zip, as text streams: the UK file, else the area files."""
    names = archive.namelist()
    main = [n for n in names if _MAIN_CSV.search(n)]
    if main:
        chosen = [max(main, key=lambda n: archive.getinfo(n).file_size)]
    else:
        chosen = sorted(n for n in names if _AREA_CSV.search(n))
        if not chosen:
            loose = [n for n in names if _ANY_NSPL_CSV.search(n)]
            chosen = loose if len(loose) == 1 else []
    if not chosen:
        raise FetchError(
            f"{url}: no Data/NSPL_*_UK.csv nor Data/multi_csv/*.csv in the zip (members: "
            f"{', '.join(names[:10])}{'…' if len(names) > 10 else ''})",
            url=url,
        )
    for name in chosen:
        with archive.open(name) as member:
            yield (
                f"{url} ({name})",
                io.TextIOWrapper(member, encoding="utf-8-sig", errors="replace", newline=""),
            )


def _header_map(header: list[str], where: str) -> tuple[dict[str, int], int | None]:
    """Column positions for the output columns; the fallback postcode column if no pcds."""
    positions: dict[str, int] = {}
    missing = []
    for column, patterns in COLUMN_PATTERNS.items():
        found = column_index(header, patterns, what=column, where=where)
        if found is None:
            missing.append(column)
        else:
            positions[column] = found
    fallback = None
    if "pcds" in missing:
        fallback = column_index(header, FALLBACK_POSTCODE, what="postcode", where=where)
        if fallback is not None:
            missing.remove("pcds")
    if missing:
        described = {
            "laua": "LAD (laua or ladYYcd)",
            "ward": "ward (ward or wdYYcd)",
            "rgn": "region (rgn or rgnYYcd)",
            "usertype": "usertype/usrtypind",
            "oseast1m": "oseast1m/east1m",
            "osnrth1m": "osnrth1m/north1m",
            "osgrdind": "osgrdind/gridind",
        }
        raise FetchError(
            f"{where}: the NSPL header lacks {', '.join(described.get(m, m) for m in missing)}; "
            f"header found: {','.join(header[:40])}",
            url=where.split(" (")[0],
        )
    return positions, fallback


def _london_lines(stream: Iterable[str]) -> Iterator[str]:
    for line in stream:
        if "E09" in line:
            yield line


def _london_rows(tables: Iterable[tuple[str, IO[str]]], url: str) -> list[list[str]]:
    kept: dict[str, list[str]] = {}
    problems: list[str] = []
    tables_read = 0
    for where, stream in tables:
        tables_read += 1
        header_line = stream.readline()
        header = next(csv_rows([header_line], where, url), [])
        if not header:
            raise FetchError(f"{where}: empty file, expected an NSPL CSV header", url=url)
        positions, fallback = _header_map(header, where)
        width = max([*positions.values(), fallback or 0]) + 1
        lad = positions["laua"]
        for row in csv_rows(_london_lines(stream), f"{where} (its London lines)", url):
            if len(row) < width or not row[lad].strip().startswith("E09"):
                continue
            raw_postcode = row[positions["pcds"]] if fallback is None else row[fallback]
            try:
                postcode = parse_postcode(raw_postcode)
            except InvalidPostcodeError as exc:
                problems.append(f"{raw_postcode!r} ({exc})")
                continue
            if postcode.outcode.startswith("BT"):  # Northern Ireland: not OGL
                continue
            values = []
            for column in OUTPUT_HEADER:
                if column == "pcds":
                    values.append(postcode.display)
                    continue
                value = row[positions[column]].strip()
                if PLACEHOLDER_CODE.fullmatch(value):
                    value = ""
                values.append(value)
            lat_at, long_at = OUTPUT_HEADER.index("lat"), OUTPUT_HEADER.index("long")
            if values[lat_at] == PLACEHOLDER_LAT:
                values[lat_at] = values[long_at] = ""
            if postcode.display in kept and kept[postcode.display] != values:
                problems.append(f"{postcode.display} appears twice with different values")
                continue
            kept[postcode.display] = values
    if tables_read == 0:
        raise FetchError(f"{url}: no NSPL table to read", url=url)
    if problems:
        raise FetchError(
            f"{url}: {len(problems)} malformed London rows (e.g. {'; '.join(problems[:3])})",
            url=url,
        )
    if not kept:
        raise FetchError(f"{url}: no London row (LAD code E09…) in the NSPL file", url=url)
    lad_at = OUTPUT_HEADER.index("laua")
    unknown = sorted({v[lad_at] for v in kept.values()} - set(BOROUGH_CODES))
    if unknown:
        raise FetchError(f"{url}: LAD codes outside the 33 London districts: {unknown}", url=url)
    return [kept[k] for k in sorted(kept, key=lambda d: d.replace(" ", ""))]


SOURCE = NationalStatisticsPostcodeLookup()
