"""Read a London data directory into plain, validated structures.

The data directory is laid out like ``shared/data`` (see ``geodata/data/sources.toml``
for the files read). Nothing here is used on the request path: the app loads a
:class:`GeographyBundle` once (at ingest), stores it, and answers from its own tables.
pandas and pyogrio are imported inside the functions that need them, so importing
:mod:`geodata` stays light and never pulls in geopandas.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geodata.errors import DataFileError
from geodata.index import AreaIndex
from geodata.names import default_aliases
from geodata.neighbours import ACROSS_WATER, TOUCHES, neighbours
from geodata.postcodes import INCODE_PATTERN, OUTCODE_PATTERN
from geodata.sources import GEOGRAPHY_KEYS, Manifest, SourceFile, manifest_for, sha256_file

__all__ = [
    "AreaRecord",
    "PostcodeRecord",
    "BcuMembership",
    "GeographyBundle",
    "LONDON_CODE",
    "CITY_OF_LONDON_CODE",
    "MET_PFA_CODE",
    "MPD_NAME",
    "BCU_MEMBERSHIP_PATH",
    "CODEPOINT_COLUMNS",
    "read_bcu_membership",
    "read_boroughs",
    "read_wards",
    "read_postcodes",
    "read_terminated_postcodes",
    "read_bundle",
    "release_checksum",
    "release_files",
    "ReleaseFiles",
]

LONDON_CODE = "E12000007"
CITY_OF_LONDON_CODE = "E09000001"
MET_PFA_CODE = "E23000001"
CITY_PFA_CODE = "E23000034"
MET_NAME = "Metropolitan Police Service"
#: the area the Met polices (E23000001, its police force area): London but the City, the
#: union of the BCUs; money for "the 32 London boroughs" is for this area, not London's
MPD_NAME = "Metropolitan Police District"
CITY_POLICE_NAME = "City of London Police"
CITY_NOTE = "The City of London is policed by the City of London Police and belongs to no Met BCU."
BOROUGH_CODES = tuple(f"E090000{n:02d}" for n in range(1, 34))
#: London has had 704 wards (679 borough wards and the City's 25) since May 2022; a ward
#: file outside these bounds is not a London cut
WARD_COUNT_RANGE = (600, 800)
BCU_MEMBERSHIP_PATH = Path(__file__).with_name("data") / "bcu_membership.csv"
#: the layers :func:`read_bundle` builds, in the release's checksum (a new layer makes the
#: same files a new release)
AREAS_BUILT = "region,police_area,bcu,borough,ward"

_HINT = (
    "Point --from or DIRECTORY_GEODATA_DIR at a directory holding the London data, or leave "
    "both unset to use the snapshot packaged with the project."
)
_POSTCODE_REGEX = rf"(?:{OUTCODE_PATTERN}) ?{INCODE_PATTERN}"


@dataclass(frozen=True)
class AreaRecord:
    """One area of the London hierarchy (region ⊃ police area ⊃ BCU ⊃ borough ⊃ ward; the
    City of London is in the region and in no police area of the Met's).

    Attributes
    ----------
    code : str
        GSS code (E12…, E09…, E05…) or, for a BCU, its stable id (``bcu-central-west``).
    type : str
        "region", "police_area", "bcu", "borough" or "ward".
    name : str
        Display name.
    parent_code : str or None
        The containing area (a borough's BCU, a BCU's police area, the Metropolitan Police
        District; the City of London's parent is the region).
    geometry : shapely Polygon or MultiPolygon
        Valid, EPSG:27700.
    vintage : str
        The boundary vintage it comes from.
    attributes : dict
        Type-specific facts (police force, BCU member boroughs, ...).
    """

    code: str
    type: str
    name: str
    parent_code: str | None
    geometry: BaseGeometry
    vintage: str
    attributes: dict[str, Any] = field(default_factory=dict)


class PostcodeRecord(NamedTuple):
    """One postcode with its grid reference and the areas it lies in (a named tuple: a
    release's 190,000 are made in a fifth of a frozen dataclass's time, 0.15 s not 0.7 s).

    Attributes
    ----------
    canonical, display, outcode : str
        ``"SW1A1AA"``, ``"SW1A 1AA"``, ``"SW1A"``.
    easting, northing : float
        EPSG:27700 metres.
    lat, lon : float
        WGS84 degrees as published with the file.
    borough_code, ward_code : str
        GSS codes of the borough and the current (2022+) ward.
    positional_quality : int
        Code-Point Open quality (10 best) or, for NSPL rows, the ``osgrdind`` indicator.
    status : str
        "live" or "terminated".
    introduced, terminated : str or None
        "YYYY-MM" when known.
    """

    canonical: str
    display: str
    outcode: str
    easting: float
    northing: float
    lat: float
    lon: float
    borough_code: str
    ward_code: str
    positional_quality: int
    status: str
    introduced: str | None
    terminated: str | None


@dataclass(frozen=True, slots=True)
class BcuMembership:
    """One row of ``geodata/data/bcu_membership.csv``."""

    bcu_id: str
    bcu_name: str
    mps_code_unverified: str
    borough_gss_code: str
    borough_name: str
    valid_from: str
    valid_to: str | None
    source: str


@dataclass(frozen=True)
class GeographyBundle:
    """Everything the directory needs about London's geography, validated.

    Attributes
    ----------
    areas : list of AreaRecord
        Region, then BCUs, boroughs and wards.
    neighbours : list of (str, str, str)
        ``(a, b, relation)`` pairs with ``a < b`` for boroughs, BCUs and wards; relation
        "touches" or "across_water".
    postcodes : list of PostcodeRecord
        Live postcodes, then terminated ones.
    release : dict
        ``label``, per-file provenance (``files``), ``vintages``, ``checksum`` (sha256
        over the input files' bytes and the BCU table) and ``notes``.
    """

    areas: list[AreaRecord]
    neighbours: list[tuple[str, str, str]]
    postcodes: list[PostcodeRecord]
    release: dict[str, Any]

    def areas_of_type(self, area_type: str) -> list[AreaRecord]:
        """Return the areas of one type, in bundle order."""
        return [a for a in self.areas if a.type == area_type]


# -- files --------------------------------------------------------------------------------
def _data_dir(data_dir: str | Path) -> Path:
    path = Path(data_dir)
    if not path.is_dir():
        raise DataFileError(f"Geography data directory not found: {path}. {_HINT}")
    return path


def _file(data_dir: str | Path, entry: SourceFile) -> Path:
    path = _data_dir(data_dir) / entry.path
    if not path.is_file():
        raise DataFileError(f"Geography data file ({entry.key}) not found: {path}. {_HINT}")
    return path


def _check_sha256(path: Path, entry: SourceFile, sha256: str) -> None:
    """A file whose manifest gives its sha256 is that file (``sha256``, its bytes' hash):
    one cut short (the header line of a postcode file alone loaded 6,950 postcodes in place
    of 180,792), or changed since the manifest was written, is refused before anything is
    read from it."""
    if entry.sha256 and sha256.lower() != entry.sha256.lower():
        raise DataFileError(
            f"{path} is not the file its manifest names ({entry.key}: sha256 "
            f"{entry.sha256[:12]}…): it was changed or cut short. {_HINT}"
        )


def _manifest(manifest: Manifest | None, data_dir: str | Path) -> Manifest:
    return manifest if manifest is not None else manifest_for(data_dir)


def _field(names: list[str], pattern: str, path: Path, layer: str | None) -> str:
    """The one column whose name matches ``pattern`` (ONS names carry the vintage year:
    WD22CD, WD25CD, LAD24CD …), case-insensitively."""
    found = [n for n in names if re.fullmatch(pattern, n, flags=re.IGNORECASE)]
    if len(found) != 1:
        where = f"{path}" + (f" (layer {layer!r})" if layer else "")
        raise DataFileError(
            f"{where}: expected one column matching {pattern!r}, found "
            f"{found or 'none'} among {', '.join(names)}"
        )
    return found[0]


def _entry(manifest: Manifest, key: str) -> SourceFile:
    try:
        return manifest.file(key)
    except KeyError:
        raise DataFileError(f"The sources manifest has no entry {key!r}") from None


def _read_layer(
    path: Path, layer: str | None, columns: list[str], patterns: dict[str, str] | None = None
) -> tuple[dict, np.ndarray]:
    """Read a layer's geometries and columns; ``patterns`` maps a name the caller uses to
    a regular expression the file's column must match (for vintage-suffixed names)."""
    import pyogrio  # lazy: ingest only

    try:
        meta, _fids, wkb, field_data = pyogrio.raw.read(path, layer=layer)
    except Exception as exc:  # pyogrio raises several DataSource/Layer error types
        raise DataFileError(f"Cannot read {path} (layer {layer!r}): {exc}") from exc
    names = list(meta["fields"])
    renamed = {alias: _field(names, rx, path, layer) for alias, rx in (patterns or {}).items()}
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataFileError(f"{path} (layer {layer!r}) lacks columns {', '.join(missing)}")
    crs = str(meta.get("crs") or "")
    if crs.upper() != "EPSG:27700":
        raise DataFileError(
            f"{path} (layer {layer!r}) is in {crs or 'an unknown CRS'}, expected EPSG:27700"
        )
    if wkb is None:
        raise DataFileError(f"{path} (layer {layer!r}) has no geometries")
    geoms = shapely.from_wkb(wkb)
    data = {name: field_data[names.index(name)] for name in columns}
    data.update({alias: field_data[names.index(name)] for alias, name in renamed.items()})
    return data, geoms


def valid_geometry(
    geom: BaseGeometry | None, where: str, error: type[DataFileError] = DataFileError
) -> BaseGeometry:
    """``geom`` made valid (``shapely.make_valid``), or ``error`` naming ``where`` when it is
    missing, empty or has a coordinate that is not a number (GEOS fails on them)."""
    if geom is None or geom.is_empty:
        raise error(f"{where}: missing or empty geometry")
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        raise error(f"{where}: the geometry has a coordinate that is not a number")
    return geom if geom.is_valid else shapely.make_valid(geom)


def _areal(geom: BaseGeometry | None, where: str) -> BaseGeometry:
    geom = valid_geometry(geom, where)
    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    polygons = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon | MultiPolygon)]
    parts = [q for p in polygons for q in shapely.get_parts(p)]
    if not parts:
        raise DataFileError(f"{where}: geometry has no polygon area")
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _read_csv(path: Path, columns: Iterable[str]):
    import pandas as pd  # lazy: ingest only

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except Exception as exc:  # pandas raises parser, unicode and OS errors
        raise DataFileError(f"Cannot read {path} as CSV: {exc}") from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataFileError(f"{path} lacks columns {', '.join(missing)}")
    return frame


def _yyyymm(value: str) -> str | None:
    value = value.strip()
    if len(value) == 6 and value.isascii() and value.isdigit():
        return f"{value[:4]}-{value[4:]}"
    return None


# -- BCUs ---------------------------------------------------------------------------------
def read_bcu_membership(
    path: str | Path | None = None, on: dt.date | None = None
) -> list[BcuMembership]:
    """Read the BCU membership table, keeping the rows in force on a date.

    Parameters
    ----------
    path : str or Path, optional
        Defaults to the table shipped in ``geodata/data/bcu_membership.csv``.
    on : datetime.date, optional
        Keep rows with ``valid_from <= on`` and (blank ``valid_to`` or ``on <= valid_to``);
        defaults to today.

    Returns
    -------
    list of BcuMembership

    Raises
    ------
    DataFileError
        If the file is missing or malformed, or a borough is in two BCUs at once.
    """
    path = Path(path) if path is not None else BCU_MEMBERSHIP_PATH
    on = on or dt.date.today()
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:  # (csv.Error: a field too long)
        raise DataFileError(f"BCU membership table not readable: {path} ({exc})") from exc
    result: list[BcuMembership] = []
    seen: dict[str, str] = {}
    for n, row in enumerate(rows, start=2):
        try:
            member = BcuMembership(
                bcu_id=row["bcu_id"],
                bcu_name=row["bcu_name"],
                mps_code_unverified=row["mps_code_unverified"],
                borough_gss_code=row["borough_gss_code"],
                borough_name=row["borough_name"],
                valid_from=row["valid_from"],
                valid_to=row["valid_to"] or None,
                source=row["source"],
            )
            start = dt.date.fromisoformat(member.valid_from)
            end = dt.date.fromisoformat(member.valid_to) if member.valid_to else None
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFileError(f"{path} line {n} is malformed: {exc}") from exc
        if start <= on and (end is None or on <= end):
            if member.borough_gss_code in seen:
                raise DataFileError(
                    f"{path}: borough {member.borough_gss_code} is in two BCUs on {on}"
                )
            seen[member.borough_gss_code] = member.bcu_id
            result.append(member)
    return result


# -- boundaries ---------------------------------------------------------------------------
def read_boroughs(
    data_dir: str | Path,
    manifest: Manifest | None = None,
    membership: list[BcuMembership] | None = None,
) -> list[AreaRecord]:
    """Read the 33 London local authority districts.

    Parameters
    ----------
    data_dir : str or Path
        The data directory.
    manifest : Manifest, optional
        Defaults to the built-in manifest (entry ``boroughs``).
    membership : list of BcuMembership, optional
        Defaults to :func:`read_bcu_membership`; gives each borough its parent BCU.

    Returns
    -------
    list of AreaRecord
        Sorted by code. Parents are BCU ids; the City of London's parent is the region.

    Raises
    ------
    DataFileError
        Missing/unreadable file, or a borough without a BCU (other than the City).
    """
    entry = _entry(_manifest(manifest, data_dir), "boroughs")
    path = _file(data_dir, entry)
    data, geoms = _read_layer(path, entry.layer, ["GSS_CODE", "NAME", "ONS_INNER"])
    bcu_of = {m.borough_gss_code: m.bcu_id for m in (membership or read_bcu_membership())}
    records = []
    for code, name, inner, geom in zip(
        data["GSS_CODE"], data["NAME"], data["ONS_INNER"], geoms, strict=True
    ):
        inner_london = str(inner).upper() in {"T", "TRUE", "1", "Y"}
        if code == CITY_OF_LONDON_CODE:
            parent, attributes = (
                LONDON_CODE,
                {
                    "police_force": CITY_POLICE_NAME,
                    "pfa_code": CITY_PFA_CODE,
                    "bcu": None,
                    "inner_london": inner_london,
                    "note": CITY_NOTE,
                },
            )
        else:
            if code not in bcu_of:
                raise DataFileError(f"{path}: borough {code} ({name}) is in no Met BCU")
            parent, attributes = (
                bcu_of[code],
                {
                    "police_force": MET_NAME,
                    "pfa_code": MET_PFA_CODE,
                    "bcu": bcu_of[code],
                    "inner_london": inner_london,
                },
            )
        records.append(
            AreaRecord(
                code=str(code),
                type="borough",
                name=str(name),
                parent_code=parent,
                geometry=_areal(geom, f"{path}: borough {code}"),
                vintage=entry.vintage,
                attributes=attributes,
            )
        )
    records.sort(key=lambda r: r.code)
    return records


def read_wards(data_dir: str | Path, manifest: Manifest | None = None) -> list[AreaRecord]:
    """Read the London wards (ONS WDyy, generalised) with their current names.

    Column names carry the ONS vintage year (``WD22CD``, ``WD24NM``, ``LAD25CD`` …) and
    are matched by pattern, so a newer ward release reads without a code change.

    Parameters
    ----------
    data_dir : str or Path
        The data directory.
    manifest : Manifest, optional
        Entries ``wards`` (boundaries) and ``ward_names`` (WD25 names).

    Returns
    -------
    list of AreaRecord
        Sorted by code; parent = the ward's borough (LAD22CD); attributes
        ``{"generalised": True}``.

    Raises
    ------
    DataFileError
        Missing/unreadable files or missing columns.
    """
    manifest = _manifest(manifest, data_dir)
    entry = _entry(manifest, "wards")
    path = _file(data_dir, entry)
    data, geoms = _read_layer(
        path,
        entry.layer,
        [],
        {"WD22CD": r"WD\d{2}CD", "WD22NM": r"WD\d{2}NM", "LAD22CD": r"LAD\d{2}CD"},
    )
    names_path = _file(data_dir, _entry(manifest, "ward_names"))
    names = _read_csv(names_path, [])
    columns = list(names.columns)
    code_column = _field(columns, r"WD\d{2}CD", names_path, None)
    name_column = _field(columns, r"WD\d{2}NM", names_path, None)
    current = dict(zip(names[code_column], names[name_column], strict=True))
    records = [
        AreaRecord(
            code=str(code),
            type="ward",
            name=current.get(code) or str(name),
            parent_code=str(lad),
            geometry=_areal(geom, f"{path}: ward {code}"),
            vintage=entry.vintage,
            attributes={"generalised": True},
        )
        for code, name, lad, geom in zip(
            data["WD22CD"], data["WD22NM"], data["LAD22CD"], geoms, strict=True
        )
    ]
    records.sort(key=lambda r: r.code)
    return records


# -- postcodes ----------------------------------------------------------------------------
#: the columns read from a Code-Point Open postcode file (geodata.fetch.codepoint writes them)
CODEPOINT_COLUMNS = (
    "postcode",
    "outcode",
    "eastings",
    "northings",
    "latitude",
    "longitude",
    "positional_quality",
    "laua_code",
    "ward_code",
)
_NSPL_COLUMNS = [
    "pcds",
    "dointr",
    "doterm",
    "oseast1m",
    "osnrth1m",
    "osgrdind",
    "laua",
    "ward",
    "lat",
    "long",
]


#: the least and most a postcode file's numbers may be: the British National Grid's extent
#: (OS: 0-700 km east, 0-1,300 km north), the Earth's latitudes and longitudes, and a
#: positional quality (Code-Point's 10-90, NSPL's grid reference indicator 1-9)
EASTINGS, NORTHINGS = (0.0, 700_000.0), (0.0, 1_300_000.0)
LATITUDES, LONGITUDES, QUALITIES = (-90.0, 90.0), (-180.0, 180.0), (0.0, 999.0)


def _floats(frame, column: str, path: Path, bounds: tuple[float, float]) -> np.ndarray:
    """The column as numbers, each within ``bounds`` (an infinite one, or 1e400, is not:
    it reached the database as a grid cell that cannot be made, or a latitude of null)."""
    import pandas as pd

    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = int(np.isnan(values).sum())
    if bad:
        raise DataFileError(f"{path}: {bad} rows have a non-numeric {column!r}")
    low, high = bounds
    outside = ~((values >= low) & (values <= high))
    if outside.any():
        sample = ", ".join(repr(v) for v in frame.loc[outside, column].head(3))
        raise DataFileError(
            f"{path}: {int(outside.sum())} rows have a {column!r} outside {low:g} to {high:g} "
            f"(e.g. {sample})"
        )
    return values


def _check_postcodes(frame, column: str, path: Path) -> None:
    bad = ~frame[column].str.fullmatch(_POSTCODE_REGEX)
    if bad.any():
        sample = ", ".join(repr(v) for v in frame.loc[bad, column].head(3))
        raise DataFileError(f"{path}: {int(bad.sum())} malformed postcodes (e.g. {sample})")


def read_postcodes(data_dir: str | Path, manifest: Manifest | None = None) -> list[PostcodeRecord]:
    """Read every live London postcode (OS Code-Point Open).

    Parameters
    ----------
    data_dir : str or Path
        The data directory.
    manifest : Manifest, optional
        Entry ``postcodes``.

    Returns
    -------
    list of PostcodeRecord
        In file order, status "live", ``introduced``/``terminated`` None.

    Raises
    ------
    DataFileError
        Missing file or columns, malformed postcodes or non-numeric coordinates.
    """
    entry = _entry(_manifest(manifest, data_dir), "postcodes")
    path = _file(data_dir, entry)
    frame = _read_csv(path, CODEPOINT_COLUMNS)
    _check_postcodes(frame, "postcode", path)
    display = frame["postcode"].str.upper()
    canonical = display.str.replace(" ", "", regex=False)
    display = canonical.str[:-3] + " " + canonical.str[-3:]
    outcode = canonical.str[:-3]
    e, n = _floats(frame, "eastings", path, EASTINGS), _floats(frame, "northings", path, NORTHINGS)
    lat = _floats(frame, "latitude", path, LATITUDES)
    lon = _floats(frame, "longitude", path, LONGITUDES)
    quality = _floats(frame, "positional_quality", path, QUALITIES).astype(int)
    return [
        PostcodeRecord(c, d, o, ee, nn, la, lo, b, w, q, "live", None, None)
        for c, d, o, ee, nn, la, lo, b, w, q in zip(
            canonical.tolist(),
            display.tolist(),
            outcode.tolist(),
            e.tolist(),
            n.tolist(),
            lat.tolist(),
            lon.tolist(),
            frame["laua_code"].tolist(),
            frame["ward_code"].tolist(),
            quality.tolist(),
            strict=True,
        )
    ]


def read_terminated_postcodes(
    data_dir: str | Path, live: set[str], manifest: Manifest | None = None
) -> list[PostcodeRecord]:
    """Read terminated postcodes from the NSPL sample.

    Parameters
    ----------
    data_dir : str or Path
        The data directory.
    live : set of str
        Canonical live postcodes; a terminated NSPL row whose postcode is live again
        (re-introduced) is skipped.
    manifest : Manifest, optional
        Entry ``nspl``.

    Returns
    -------
    list of PostcodeRecord
        Status "terminated"; ``ward_code`` is NSPL's ``ward`` (a **2021** ward code),
        ``positional_quality`` the NSPL ``osgrdind``. Rows without a grid reference
        (``osgrdind`` 9 or blank coordinates) are skipped.

    Raises
    ------
    DataFileError
        Missing file or columns, malformed postcodes.
    """
    entry = _entry(_manifest(manifest, data_dir), "nspl")
    path = _file(data_dir, entry)
    frame = _read_csv(path, _NSPL_COLUMNS)
    frame = frame[frame["doterm"].str.strip() != ""]
    frame = frame[(frame["osgrdind"] != "9") & (frame["oseast1m"].str.strip() != "")]
    _check_postcodes(frame, "pcds", path)
    canonical = frame["pcds"].str.upper().str.replace(" ", "", regex=False)
    keep = ~canonical.isin(live)
    frame, canonical = frame[keep], canonical[keep]
    e, n = _floats(frame, "oseast1m", path, EASTINGS), _floats(frame, "osnrth1m", path, NORTHINGS)
    lat, lon = _floats(frame, "lat", path, LATITUDES), _floats(frame, "long", path, LONGITUDES)
    quality = _floats(frame, "osgrdind", path, QUALITIES).astype(int)
    return [
        PostcodeRecord(
            c,
            f"{c[:-3]} {c[-3:]}",
            c[:-3],
            ee,
            nn,
            la,
            lo,
            b,
            w,
            q,
            "terminated",
            _yyyymm(intro),
            _yyyymm(term),
        )
        for c, ee, nn, la, lo, b, w, q, intro, term in zip(
            canonical.tolist(),
            e.tolist(),
            n.tolist(),
            lat.tolist(),
            lon.tolist(),
            frame["laua"].tolist(),
            frame["ward"].tolist(),
            quality.tolist(),
            frame["dointr"].tolist(),
            frame["doterm"].tolist(),
            strict=True,
        )
    ]


# -- the bundle ---------------------------------------------------------------------------


def _bcu_neighbours(
    borough_pairs: list[tuple[str, str, str]], bcu_of: dict[str, str]
) -> list[tuple[str, str, str]]:
    relation: dict[tuple[str, str], str] = {}
    for a, b, rel in borough_pairs:
        x, y = bcu_of.get(a), bcu_of.get(b)
        if x is None or y is None or x == y:
            continue
        key = (min(x, y), max(x, y))
        if relation.get(key) != TOUCHES:
            relation[key] = TOUCHES if rel == TOUCHES else ACROSS_WATER
    return sorted((a, b, rel) for (a, b), rel in relation.items())


def _current_wards_for_terminated(
    terminated: list[PostcodeRecord], wards: list[AreaRecord], ward_index: AreaIndex
) -> tuple[list[PostcodeRecord], int]:
    """Give terminated postcodes a ward of the bundle's (2022+) ward set.

    NSPL Nov 2021 carries 2021 ward codes, most of which were replaced in May 2022. The
    replacement is the current ward covering the postcode's grid reference within the
    postcode's own borough, else the nearest ward of that borough.
    """
    ward_codes = {w.code for w in wards}
    parent = {w.code: w.parent_code for w in wards}
    todo = [i for i, p in enumerate(terminated) if p.ward_code not in ward_codes]
    if not todo:
        return terminated, 0
    xs = np.array([terminated[i].easting for i in todo])
    ys = np.array([terminated[i].northing for i in todo])
    found = ward_index.covering_many(xs, ys)
    codes = ward_index.codes
    by_borough: dict[str, list[AreaRecord]] = {}
    for w in wards:
        by_borough.setdefault(str(w.parent_code), []).append(w)
    result = list(terminated)
    for k, i in enumerate(todo):
        record = terminated[i]
        code = codes[found[k]] if found[k] >= 0 else None
        if code is None or parent[code] != record.borough_code:
            candidates = by_borough.get(record.borough_code, [])
            if not candidates:
                continue  # reported by validation
            point = shapely.Point(record.easting, record.northing)
            code = min(candidates, key=lambda w: w.geometry.distance(point)).code
        result[i] = record._replace(ward_code=code)
    return result, len(todo)


def _data_about(manifest: Manifest) -> dict[str, Any]:
    """Which data the bundle was read from: a packaged snapshot, a refreshed release, or a
    directory laid out like shared/data."""
    about = manifest.about
    if about.get("kind") and about.get("id"):
        return {
            "kind": str(about["kind"]),
            "id": str(about["id"]),
            "description": str(about.get("description", "")),
        }
    return {
        "kind": "directory",
        "id": None,
        "description": "A data directory laid out like shared/data",
    }


def _ignore(_value: Any) -> None:
    """The callback of work nobody watches."""


def _with_aliases(areas: list[AreaRecord]) -> list[AreaRecord]:
    aliases: dict[str, list[str]] = {}
    for code, alias in default_aliases():
        aliases.setdefault(code, []).append(alias)
    return [
        dataclasses.replace(a, attributes={**a.attributes, "aliases": aliases[a.code]})
        if a.code in aliases
        else a
        for a in areas
    ]


@dataclass(frozen=True)
class ReleaseFiles:
    """A data directory's geography files, each checked against its manifest's sha256, and
    the checksum of the release they make (:func:`release_files`).

    Attributes
    ----------
    data_dir : Path
    manifest : Manifest
    entries : tuple of SourceFile
        The manifest's entries of the geography files, in ``GEOGRAPHY_KEYS`` order.
    paths : dict
        key → the file's path.
    hashes : dict
        key → the sha256 of the file's bytes.
    bcu_sha256 : str
        The sha256 of the BCU membership table (``BCU_MEMBERSHIP_PATH``).
    checksum : str
        The release's checksum: a sha256 over each file's key, path and sha256, the BCU
        table's sha256 and ``AREAS_BUILT``.
    """

    data_dir: Path
    manifest: Manifest
    entries: tuple[SourceFile, ...]
    paths: dict[str, Path]
    hashes: dict[str, str]
    bcu_sha256: str
    checksum: str

    def provenance(self) -> dict[str, dict[str, Any]]:
        """key → what the release records of each file (its manifest entry and sha256)."""
        return {
            entry.key: {
                "path": entry.path,
                "layer": entry.layer,
                "release": entry.release,
                "vintage": entry.vintage,
                "licence": entry.licence,
                "attribution": entry.attribution,
                "url": entry.url,
                "sha256": self.hashes[entry.key],
            }
            for entry in self.entries
        }


def release_files(data_dir: str | Path, manifest: Manifest | None = None) -> ReleaseFiles:
    """Hash a data directory's geography files, check each against its manifest's sha256,
    and compute the release's checksum, reading nothing from them (a tenth of a second for
    London's: :func:`read_bundle` takes four to five).

    :func:`read_bundle` starts here, so its release's ``checksum`` is this one: a loader
    holding a release with this checksum holds what reading the files would give.

    Raises
    ------
    DataFileError
        A missing directory or file, a manifest without an entry of a geography file, or a
        file whose sha256 is not its manifest's (changed or cut short).
    """
    data_dir = _data_dir(data_dir)
    manifest = _manifest(manifest, data_dir)
    entries = tuple(_entry(manifest, key) for key in GEOGRAPHY_KEYS)
    paths = {entry.key: _file(data_dir, entry) for entry in entries}
    # each file's hash, read once: checked against the manifest's, and the release's
    # provenance
    hashes = {key: sha256_file(path) for key, path in paths.items()}
    for entry in entries:
        _check_sha256(paths[entry.key], entry, hashes[entry.key])
    digest = hashlib.sha256()
    for entry in entries:
        digest.update(f"{entry.key}:{entry.path}:{hashes[entry.key]}\n".encode())
    bcu_sha256 = sha256_file(BCU_MEMBERSHIP_PATH)
    digest.update(f"bcu_membership:{bcu_sha256}\n".encode())
    # what is built from the files, beside the files: the same files loaded into a database
    # holding the areas built before the Metropolitan Police District was one are new
    digest.update(f"areas:{AREAS_BUILT}\n".encode())
    return ReleaseFiles(
        data_dir=data_dir, manifest=manifest, entries=entries, paths=paths, hashes=hashes,
        bcu_sha256=bcu_sha256, checksum=digest.hexdigest(),
    )  # fmt: skip


def release_checksum(data_dir: str | Path, manifest: Manifest | None = None) -> str:
    """The checksum of the release a data directory's geography files make, without reading
    them (:func:`release_files`): the ``checksum`` of :func:`read_bundle`'s release.

    Raises
    ------
    DataFileError
        As :func:`release_files`.
    """
    return release_files(data_dir, manifest).checksum


def read_bundle(
    data_dir: str | Path,
    manifest: Manifest | None = None,
    *,
    on_step: Callable[[str], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> GeographyBundle:
    """Read, join and validate the whole London geography.

    Parameters
    ----------
    data_dir : str or Path
        A directory laid out like ``shared/data``.
    manifest : Manifest, optional
        Defaults to the directory's own ``manifest.json`` (a snapshot or a refreshed
        release), else the built-in ``geodata/data/sources.toml``.
    on_step : callable, optional
        Called with a short label ("reading postcodes") as each part of the work begins,
        for whoever shows progress.
    on_rows : callable, optional
        Called with the number of rows a part has read (postcodes, terminated postcodes)
        once it has read them.

    Returns
    -------
    GeographyBundle
        Region E12000007 (union of the boroughs), the Metropolitan Police District
        E23000001 (union of the BCUs), 12 BCUs (unions of their boroughs),
        33 boroughs, 704 wards; neighbour pairs for boroughs, BCUs and wards; live and
        terminated postcodes; release metadata with a checksum of the inputs. Areas with
        built-in aliases (``geodata/data/area_aliases.csv``, e.g. "City" for E09000001)
        carry them as ``attributes["aliases"]``.

    Raises
    ------
    DataFileError
        A missing directory or file, an unreadable file, or data that fails validation
        (not exactly E09000001..E09000033, a ward count outside ``WARD_COUNT_RANGE``,
        postcodes whose borough or ward is unknown; counts are reported).

    Notes
    -----
    Terminated postcodes come from NSPL November 2021, whose ward codes are the 2021
    wards; in the bundle their ``ward_code`` is replaced by the current ward covering
    the grid reference (see ``release["notes"]``), so every postcode's ward is in the
    bundle's ward set.
    """
    step = on_step or _ignore
    rows = on_rows or _ignore
    # each file checked against its manifest's sha256 and the release's checksum, before
    # anything is read from them (a tenth of a second: no step of its own)
    checked = release_files(data_dir, manifest)
    data_dir, manifest, paths = checked.data_dir, checked.manifest, checked.paths
    membership = read_bcu_membership()

    step("reading borough boundaries")
    boroughs = read_boroughs(data_dir, manifest, membership)
    borough_codes = [b.code for b in boroughs]
    if tuple(borough_codes) != BOROUGH_CODES:
        extra = sorted(set(borough_codes) - set(BOROUGH_CODES))
        missing = sorted(set(BOROUGH_CODES) - set(borough_codes))
        raise DataFileError(
            f"{paths['boroughs']}: expected exactly the 33 boroughs E09000001..E09000033, "
            f"got {len(borough_codes)} (missing {missing}, unexpected {extra})"
        )
    step("reading ward boundaries")
    wards = read_wards(data_dir, manifest)
    ward_codes = {w.code for w in wards}
    low, high = WARD_COUNT_RANGE
    if not low <= len(wards) <= high or len(ward_codes) != len(wards):
        raise DataFileError(
            f"{paths['wards']}: expected {low}–{high} distinct London wards, got {len(wards)} "
            f"({len(ward_codes)} distinct codes)"
        )
    orphans = [w.code for w in wards if w.parent_code not in set(BOROUGH_CODES)]
    if orphans:
        raise DataFileError(
            f"{paths['wards']}: {len(orphans)} wards have a borough outside the 33 "
            f"(e.g. {orphans[:3]})"
        )

    # BCUs, the Metropolitan Police District and the region, as unions of whole boroughs.
    step("building BCUs, the region and neighbours")
    borough_geom = {b.code: b.geometry for b in boroughs}
    bcu_members: dict[str, list[BcuMembership]] = {}
    for m in membership:
        bcu_members.setdefault(m.bcu_id, []).append(m)
    unknown = [m.borough_gss_code for m in membership if m.borough_gss_code not in borough_geom]
    if unknown:
        raise DataFileError(f"{BCU_MEMBERSHIP_PATH}: unknown borough codes {unknown}")
    bcus = []
    for bcu_id, members in bcu_members.items():
        codes = [m.borough_gss_code for m in members]
        bcus.append(
            AreaRecord(
                code=bcu_id,
                type="bcu",
                name=members[0].bcu_name,
                parent_code=MET_PFA_CODE,
                geometry=_areal(
                    shapely.union_all([borough_geom[c] for c in codes]), f"BCU {bcu_id}"
                ),
                vintage=members[0].valid_from,
                attributes={
                    "mps_code_unverified": members[0].mps_code_unverified,
                    "police_force": MET_NAME,
                    "borough_codes": codes,
                    "valid_from": members[0].valid_from,
                    "valid_to": members[0].valid_to,
                },
            )
        )
    met_boroughs = [m.borough_gss_code for m in membership]
    police_area = AreaRecord(
        code=MET_PFA_CODE,
        type="police_area",
        name=MPD_NAME,
        parent_code=LONDON_CODE,
        geometry=_areal(shapely.union_all([borough_geom[c] for c in met_boroughs]), MPD_NAME),
        vintage=boroughs[0].vintage,
        attributes={
            "police_force": MET_NAME,
            "borough_codes": sorted(met_boroughs),
            "note": f"London but the City of London: the area the {MET_NAME} polices, the "
            "union of its BCUs (the 32 London boroughs).",
        },
    )
    region = AreaRecord(
        code=LONDON_CODE,
        type="region",
        name="London",
        parent_code=None,
        geometry=_areal(shapely.union_all([b.geometry for b in boroughs]), "region London"),
        vintage=boroughs[0].vintage,
        attributes={},
    )

    borough_pairs = neighbours([b.code for b in boroughs], [b.geometry for b in boroughs])
    ward_pairs = neighbours([w.code for w in wards], [w.geometry for w in wards])
    bcu_of = {m.borough_gss_code: m.bcu_id for m in membership}
    all_pairs = borough_pairs + _bcu_neighbours(borough_pairs, bcu_of) + ward_pairs

    step("reading postcodes")
    live = read_postcodes(data_dir, manifest)
    rows(len(live))
    step("reading terminated postcodes")
    terminated = read_terminated_postcodes(data_dir, {p.canonical for p in live}, manifest)
    ward_index = AreaIndex([w.code for w in wards], [w.geometry for w in wards])
    terminated, remapped = _current_wards_for_terminated(terminated, wards, ward_index)
    rows(len(terminated))
    postcodes = live + terminated

    step("checking postcodes")

    borough_set = set(BOROUGH_CODES)
    bad_borough = sum(p.borough_code not in borough_set for p in postcodes)
    bad_ward = sum(p.ward_code not in ward_codes for p in postcodes)
    duplicates = len(postcodes) - len({p.canonical for p in postcodes})
    if bad_borough or bad_ward or duplicates:
        raise DataFileError(
            f"Postcodes in {paths['postcodes']} / {paths['nspl']} fail validation: "
            f"{bad_borough} with a borough outside the 33, {bad_ward} with a ward outside "
            f"the {len(ward_codes)} wards, {duplicates} duplicates"
        )

    files = checked.provenance()
    release = {
        "label": manifest.release_label(),
        "data": _data_about(manifest),
        "files": files,
        "bcu_membership": {
            "path": "geodata/data/bcu_membership.csv",
            "sha256": checked.bcu_sha256,
            "valid_from": sorted({m.valid_from for m in membership}),
        },
        "vintages": {
            "boroughs": files["boroughs"]["vintage"],
            "wards": files["wards"]["vintage"],
            "ward_names": files["ward_names"]["vintage"],
            "postcodes": files["postcodes"]["vintage"],
            "terminated_postcodes": files["nspl"]["vintage"],
            "bcus": ",".join(sorted({m.valid_from for m in membership})),
        },
        "checksum": checked.checksum,
        "counts": {
            "boroughs": len(boroughs),
            "police_areas": 1,
            "bcus": len(bcus),
            "wards": len(wards),
            "live_postcodes": len(live),
            "terminated_postcodes": len(terminated),
        },
        "notes": [
            f"{remapped} terminated postcodes carried a 2021 ward code (NSPL Nov 2021); their "
            "ward_code is the current ward covering their grid reference in their borough.",
        ],
    }
    areas = _with_aliases([region, police_area, *bcus, *boroughs, *wards])
    return GeographyBundle(areas=areas, neighbours=all_pairs, postcodes=postcodes, release=release)
