"""OS Code-Point Open through the OS Downloads API: every live London postcode.

Discover: ``GET https://api.os.uk/downloads/v1/products/CodePointOpen`` gives the release
``version`` (YYYY-MM) and ``downloadsUrl``; ``…/downloads?format=CSV&area=GB`` lists the
GB CSV zip with its ``url`` (which redirects to the file), ``md5`` and ``size``
(DATA-SOURCES.md §1). No key is needed for OpenData products.

Fetch: the zip ``codepo_gb.zip`` holds one header-less ``Data/CSV/<area>.csv`` per
postcode area and the column names in ``Doc/Code-Point_Open_Column_Headers.csv``
(line 1 short codes, line 2 long names). Columns are mapped by those names; rows are kept
when ``Admin_district_code`` starts with ``E09`` (never by a postcode-area list: Bromley
has TN14/TN16, Havering CM13/CM14, Harrow WD23); PQI 90 rows (no coordinates) are
skipped. Writes ``postcodes/codepoint_open_london.csv`` in the loaders' layout.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geodata.crs import to_wgs84
from geodata.errors import FetchError, InvalidPostcodeError
from geodata.fetch.base import (
    BOROUGH_CODES,
    FetchedFile,
    Found,
    Staging,
    csv_rows,
    read_member,
    scratch_dir,
    write_csv,
    year_of,
)
from geodata.loaders import CODEPOINT_COLUMNS
from geodata.postcodes import INCODE_PATTERN, OUTCODE_PATTERN, parse_postcode
from geodata.sources import sha256_file

if TYPE_CHECKING:
    from geodata.fetch.http import Client

__all__ = ["CodePointOpen", "SOURCE", "PRODUCT_URL", "OUTPUT_PATH", "OUTPUT_HEADER"]

PRODUCT_URL = "https://api.os.uk/downloads/v1/products/CodePointOpen"
OUTPUT_PATH = "postcodes/codepoint_open_london.csv"
OUTPUT_HEADER = CODEPOINT_COLUMNS  # what geodata.loaders.read_postcodes reads
LICENCE = "Open Government Licence v3.0 (OS OpenData)"
#: Positional quality indicator of a postcode with no coordinates.
NO_COORDINATES_PQI = "90"

_HEADERS_MEMBER = re.compile(r"(?:^|/)Doc/Code-Point_Open_Column_Headers\.csv$", re.IGNORECASE)
_LICENCE_MEMBER = re.compile(r"(?:^|/)Doc/licen[cs]e\.txt$", re.IGNORECASE)
_DATA_MEMBER = re.compile(r"(?:^|/)Data/CSV/([a-z]{1,2})\.csv$", re.IGNORECASE)
#: a postcode as Code-Point writes it (upper case, the inward code right-aligned in seven
#: characters: "E1  6AN", "SW1A1AA"): outward and inward codes, by parse_postcode's rules
_SPACED_POSTCODE = re.compile(rf"({OUTCODE_PATTERN}) *({INCODE_PATTERN})")
# long column name (letters and digits only, lower case) -> our name
_REQUIRED = {
    "postcode": "postcode",
    "positionalqualityindicator": "pqi",
    "eastings": "eastings",
    "northings": "northings",
    "admindistrictcode": "district",
    "adminwardcode": "ward",
}


def attribution_lines(year: str) -> str:
    """The three attribution lines of OS Code-Point Open for a release year."""
    return "\n".join(
        [
            f"Contains OS data © Crown copyright and database right {year}",
            f"Contains Royal Mail data © Royal Mail copyright and database right {year}",
            f"Contains National Statistics data © Crown copyright and database right {year}",
        ]
    )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


class CodePointOpen:
    """OS Code-Point Open (live postcodes with grid references, district and ward codes)."""

    name = "codepoint"
    description = "Ordnance Survey Code-Point Open via the OS Downloads API (GB CSV zip)"
    keys = ("postcodes",)

    # -- discover ------------------------------------------------------------------------
    def discover(self, client: Client) -> Found:
        """Read the product's version and the GB CSV download (url, md5, size).

        Raises
        ------
        FetchError
            The product answer has no ``version``, or the downloads list has no CSV file
            for area GB.
        """
        product = client.get_json(PRODUCT_URL)
        if not isinstance(product, dict) or not isinstance(product.get("version"), str):
            raise FetchError(
                f"{PRODUCT_URL}: expected the OS product JSON with a 'version' (YYYY-MM), got "
                f"{str(product)[:200]}",
                url=PRODUCT_URL,
            )
        version = product["version"].strip()
        downloads_url = product.get("downloadsUrl")
        if not isinstance(downloads_url, str) or not downloads_url:
            downloads_url = PRODUCT_URL + "/downloads"
        downloads_url = client.official(downloads_url)
        listing = client.get_json(downloads_url, params={"format": "CSV", "area": "GB"})
        entry = self._gb_csv(listing, f"{downloads_url}?format=CSV&area=GB")
        vintage = version
        year = year_of(version, default=version)
        return Found(
            source=self.name,
            version={
                "version": version,
                "md5": entry.get("md5"),
                "size": entry.get("size"),
                "file": entry.get("fileName"),
            },
            label=f"OS Code-Point Open {version}",
            vintage=vintage,
            licence=LICENCE,
            attribution=attribution_lines(year),
            url=PRODUCT_URL,
            details={
                "download_url": client.official(entry["url"]),
                "md5": entry.get("md5"),
                "size": entry.get("size"),
                "file_name": entry.get("fileName"),
                "downloads_url": downloads_url,
            },
        )

    @staticmethod
    def _gb_csv(listing: Any, where: str) -> dict[str, Any]:
        if not isinstance(listing, list):
            raise FetchError(
                f"{where}: expected a list of downloads, got {str(listing)[:200]}", url=where
            )
        matches = [
            d
            for d in listing
            if isinstance(d, dict)
            and str(d.get("format", "")).upper() == "CSV"
            and str(d.get("area", "")).upper() == "GB"
            and isinstance(d.get("url"), str)
        ]
        zips = [d for d in matches if str(d.get("fileName", "")).lower().endswith(".zip")]
        chosen = (zips or matches)[:1]
        if not chosen:
            seen = [(d.get("format"), d.get("area"), d.get("fileName")) for d in listing][:10]
            raise FetchError(
                f"{where}: no CSV download for area GB with a url among {seen}", url=where
            )
        return chosen[0]

    # -- fetch ---------------------------------------------------------------------------
    def fetch(self, client: Client, found: Found, workdir: Path) -> list[FetchedFile]:
        """Download the zip, keep the London postcodes (district E09…), write the CSV.

        Raises
        ------
        FetchError
            A failed or corrupt download, an md5/size mismatch, a zip without the header
            file or data files, a header file lacking a needed column, malformed rows,
            or a London cut that is not the 33 districts.
        """
        if found.source != self.name:
            raise FetchError(f"{self.name}: cannot fetch a release found by {found.source}")
        url = found.details["download_url"]
        with scratch_dir(workdir) as scratch, Staging(workdir) as staging:
            archive_path = scratch / (found.details.get("file_name") or "codepo_gb.zip")
            client.download(
                url,
                archive_path,
                md5=found.details.get("md5"),
                size=found.details.get("size"),
                kind="zip",
            )
            with zipfile.ZipFile(archive_path) as archive:
                columns = self._columns(archive, url)
                attribution = self._licence_text(archive) or found.attribution
                rows = self._london_rows(archive, columns, url)
            target = staging.path(OUTPUT_PATH)
            count = write_csv(target, OUTPUT_HEADER, rows)
            digest = sha256_file(target)
        return [
            found.file(
                "postcodes",
                OUTPUT_PATH,
                rows=count,
                sha256=digest,
                url=url,
                attribution=attribution,
            )  # fmt: skip
        ]

    @staticmethod
    def _columns(archive: zipfile.ZipFile, url: str) -> dict[str, int]:
        names = [n for n in archive.namelist() if _HEADERS_MEMBER.search(n)]
        if not names:
            raise FetchError(
                f"{url}: the zip has no Doc/Code-Point_Open_Column_Headers.csv; the column "
                "names cannot be known (members: "
                f"{', '.join(archive.namelist()[:8])}…)",
                url=url,
            )
        text = _decode(read_member(archive, names[0], url))
        lines = list(csv_rows(io.StringIO(text), names[0], url))
        long_names = next(
            (line for line in lines if any(_squash(c) == "postcode" for c in line)), None
        )
        if long_names is None:
            raise FetchError(
                f"{url}: {names[0]} has no line of long column names (with 'Postcode'); "
                f"it holds {lines[:2]}",
                url=url,
            )
        found = {_squash(c): i for i, c in enumerate(long_names)}
        missing = [k for k in _REQUIRED if k not in found]
        if missing:
            wanted = {
                "postcode": "Postcode",
                "positionalqualityindicator": "Positional_quality_indicator",
                "eastings": "Eastings",
                "northings": "Northings",
                "admindistrictcode": "Admin_district_code",
                "adminwardcode": "Admin_ward_code",
            }
            raise FetchError(
                f"{url}: {names[0]} lacks {', '.join(wanted[m] for m in missing)} "
                f"(columns: {', '.join(c.strip() for c in long_names)}); the Code-Point Open "
                "layout has changed",
                url=url,
            )
        return {ours: found[theirs] for theirs, ours in _REQUIRED.items()}

    @staticmethod
    def _licence_text(archive: zipfile.ZipFile) -> str | None:
        names = [n for n in archive.namelist() if _LICENCE_MEMBER.search(n)]
        if not names:
            return None
        lines = []
        for line in _decode(read_member(archive, names[0], "the Code-Point Open zip")).splitlines():
            line = " ".join(line.split())
            if line.lower().startswith("contains") and ("©" in line or "copyright" in line.lower()):
                lines.append(line.rstrip("."))
        return "\n".join(lines) or None

    @staticmethod
    def _london_rows(
        archive: zipfile.ZipFile, columns: dict[str, int], url: str
    ) -> list[list[str]]:
        members = sorted(n for n in archive.namelist() if _DATA_MEMBER.search(n))
        if not members:
            raise FetchError(
                f"{url}: the zip has no Data/CSV/<area>.csv files (members: "
                f"{', '.join(archive.namelist()[:8])}…)",
                url=url,
            )
        width = max(columns.values()) + 1
        at_district, at_pqi, at_postcode = columns["district"], columns["pqi"], columns["postcode"]
        at_east, at_north, at_ward = columns["eastings"], columns["northings"], columns["ward"]
        spaced = _SPACED_POSTCODE.fullmatch
        kept: dict[str, tuple[str, str, int, int, str, str, str]] = {}
        problems: list[str] = []
        duplicates = 0
        for member in members:
            raw = read_member(archive, member, url)
            if b"E09" not in raw:  # no London district in this area: skip the parse
                continue
            for n, row in enumerate(csv_rows(io.StringIO(_decode(raw)), member, url), start=1):
                if not row:
                    continue
                if len(row) < width:
                    problems.append(f"{member} line {n}: {len(row)} columns, expected {width}")
                    continue
                district = row[at_district].strip()
                if not district.startswith("E09"):
                    continue
                pqi = row[at_pqi].strip()
                if pqi == NO_COORDINATES_PQI:
                    continue
                try:
                    # as the publisher writes them ("E1  6AN", "SW1A1AA"): one match; any
                    # other form (and GIR) as a person's input is read
                    written = spaced(row[at_postcode])
                    if written is not None and written[1] != "GIR":
                        outcode, display = written[1], f"{written[1]} {written[2]}"
                    else:
                        postcode = parse_postcode(row[at_postcode])
                        outcode, display = postcode.outcode, postcode.display
                    easting = int(float(row[at_east]))
                    northing = int(float(row[at_north]))
                    quality = str(int(pqi))
                except (InvalidPostcodeError, ValueError, OverflowError) as exc:  # (inf)
                    problems.append(f"{member} line {n}: {row!r:.120} ({exc})")
                    continue
                if display in kept:
                    duplicates += 1
                    problems.append(f"{member} line {n}: {display} listed twice")
                    continue
                kept[display] = (
                    display, outcode, easting, northing, quality, district, row[at_ward].strip()
                )  # fmt: skip
        if problems:
            raise FetchError(
                f"{url}: {len(problems) - duplicates} malformed London rows and {duplicates} "
                f"duplicate postcodes (e.g. {'; '.join(problems[:3])})",
                url=url,
            )
        districts = {r[5] for r in kept.values()}
        unknown = sorted(districts - set(BOROUGH_CODES))
        missing = sorted(set(BOROUGH_CODES) - districts)
        if unknown or missing:
            raise FetchError(
                f"{url}: the London cut should cover exactly the 33 districts E09000001.."
                f"E09000033; missing {missing}, unexpected {unknown}",
                url=url,
            )
        bad_wards = [r[0] for r in kept.values() if not r[6].startswith("E05")]
        if bad_wards:
            raise FetchError(
                f"{url}: {len(bad_wards)} London postcodes have no E05 ward code "
                f"(e.g. {bad_wards[:3]})",
                url=url,
            )
        records = [kept[k] for k in sorted(kept)]
        eastings = np.array([r[2] for r in records], dtype=float)
        northings = np.array([r[3] for r in records], dtype=float)
        lon, lat = to_wgs84(eastings, northings)
        return [
            [pc, out, str(e), str(n), f"{la:.6f}", f"{lo:.6f}", q, district, ward]
            for (pc, out, e, n, q, district, ward), la, lo in zip(
                records, np.asarray(lat).tolist(), np.asarray(lon).tolist(), strict=True
            )
        ]


SOURCE = CodePointOpen()
