"""Geography use cases: postcodes, outcodes, points and areas.

Plain functions over a :class:`GeographySnapshot` (the areas, their prepared polygons and
name index, held in memory per process and rebuilt when the data version changes) and a
:class:`GeographyRepository` (indexed SQL lookups). No Flask here.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import shapely
from shapely.geometry import mapping

from directory.errors import (
    AreaAmbiguousError,
    AreaNotFoundError,
    GeodataNotLoadedError,
    InvalidCoordinatesError,
    InvalidInputError,
    InvalidPostcodeError,
    OutcodeNotFoundError,
    OutsideCoverageError,
    PayloadTooLargeError,
    PostcodeNotFoundError,
    PostcodeTerminatedError,
    SchemaBehindError,
)
from directory.settings import Settings
from directory.store.db import Database, Migrations
from directory.store.repositories.geography import DataVersion, GeographyRepository
from directory.usecases.background import BackgroundJob
from directory.usecases.pagination import searched_for
from directory.usecases.postcode_table import PostcodeTable
from directory.usecases.shared import Extended, compact
from directory.usecases.times import utc_text
from geodata import crs
from geodata.errors import InvalidPostcodeError as GeodataInvalidPostcode
from geodata.index import AreaIndex
from geodata.names import NameMatcher, default_aliases
from geodata.postcodes import Postcode, parse_outcode, parse_postcode
from geodata.water import water_between

AREA_TYPES = ("region", "police_area", "bcu", "borough", "ward")
LONDON = "E12000007"
#: the Metropolitan Police District: London but the City, the union of the Met's BCUs (an
#: area of type police_area, between London and the BCUs)
MPD = "E23000001"
MET = {"name": "Metropolitan Police Service", "code": MPD}
CITY_POLICE = {"name": "City of London Police", "code": "E23000034"}
CITY_NOTE = (
    "The City of London is policed by the City of London Police, not the Metropolitan "
    "Police, and belongs to no Met Basic Command Unit."
)
NEAREST_POSTCODE_MAX_M = 1000.0
#: a point this close to a borough, outside every one, is on its edge (digitising noise: a
#: postcode of Redbridge, IG9 6FB, lies 1.2 cm outside it)
EDGE_TOLERANCE_M = 1.0
MAX_SIMPLIFY_M = 5000.0


@dataclass(frozen=True, slots=True)
class AreaInfo:
    code: str
    type: str
    name: str
    parent_code: str | None
    vintage: str
    attributes: dict[str, Any]
    bbox: tuple[float, float, float, float]
    #: the bounds of the area in WGS84 (lon, lat), on the 1e-6 degree grid, holding its
    #: GeoJSON geometry
    wgs84_bbox: tuple[float, float, float, float]
    area_m2: float

    def ref(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name, "type": self.type}


@dataclass
class GeographySnapshot:
    """Everything about areas a request needs, built once per data version."""

    version: DataVersion
    release: dict[str, Any]
    areas: dict[str, AreaInfo]
    geometries: dict[str, Any]
    children: dict[str, list[str]]
    neighbours: dict[str, list[tuple[str, str]]]
    #: by area type, the types of the areas its areas are within (:func:`is_within`, as
    #: ``parent`` filters them: a ward's borough, BCU and region)
    parent_types: dict[str, frozenset[str]]
    borough_index: AreaIndex
    ward_index: AreaIndex
    matcher: NameMatcher
    #: the id of the geography release the polygons came from (a directory import or write
    #: moves the data version without it: the polygons are kept)
    geography_release: int = 0
    #: the boundaries and coverages made, as JSON, by (kind, codes, simplify): kind
    #: "feature" an area's Feature, "geometry" a coverage's bare geometry (one area's
    #: coverage has that area's code, so without the kind the two would take each other's
    #: place)
    _boundaries: dict[tuple[str, str, float], Extended] = field(default_factory=dict)
    _boundary_bytes: int = 0
    #: each layer (area type) simplified together, by (type, simplify): code → geometry
    #: (:func:`simplified_area`; up to LAYER_POINTS_KEPT points, the oldest dropped)
    _layers: dict[tuple[str, float], dict[str, Any]] = field(default_factory=dict)
    _layer_points: dict[tuple[str, float], int] = field(default_factory=dict)
    _hierarchies: dict[tuple[str, str | None], dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: the Thames between the boroughs, prepared (:meth:`on_water`; made at the first point
    #: in no borough, in about a second)
    _water: Any = None
    _water_lock: threading.Lock = field(default_factory=threading.Lock)
    #: keep every postcode's row in the worker (``Settings.keep_postcodes``)
    keep_postcodes: bool = False
    #: opens a connection of its own (``Engine.connect``): set when serving on a snapshot
    #: after a worker's first (a new geography release's), whose table is read by a thread
    #: while lookups ask the database; else the first lookup reads it and waits (a served
    #: worker's warm start asks first, before it takes requests)
    read_postcodes_with: Callable[[], Any] | None = None
    #: live and terminated postcodes, counted once (``/ready`` names them)
    _postcode_counts: dict[str, int] | None = None
    _postcodes: PostcodeTable | None = None
    _postcodes_lock: threading.Lock = field(default_factory=threading.Lock)
    #: the thread reading them (a failure is logged: lookups ask the database, and it is
    #: tried again 30 s later)
    _postcodes_job: BackgroundJob = field(
        default_factory=lambda: BackgroundJob(
            "directory-postcodes", "reading every postcode failed; lookups ask the database"
        )
    )

    @classmethod
    def build(cls, repo: GeographyRepository, version: DataVersion) -> GeographySnapshot:
        release = repo.latest_release("geography")
        rows = repo.areas()
        if release is None or not rows:
            raise GeodataNotLoadedError(
                "No geography is loaded. Run `directory init` (or `directory geodata load`)."
            )
        areas: dict[str, AreaInfo] = {}
        shapes = shapely.from_wkb([r.geometry for r in rows])
        geometries = dict(zip([r.code for r in rows], shapes, strict=True))
        wgs84_bboxes = _wgs84_bboxes(shapes)
        children: dict[str, list[str]] = defaultdict(list)
        for r, wgs84_bbox in zip(rows, wgs84_bboxes, strict=True):
            areas[r.code] = AreaInfo(
                code=r.code,
                type=r.type,
                name=r.name,
                parent_code=r.parent_code,
                vintage=r.vintage,
                attributes=dict(r.attributes or {}),
                bbox=(r.min_x, r.min_y, r.max_x, r.max_y),
                wgs84_bbox=wgs84_bbox,
                area_m2=r.area_m2,
            )
            if r.parent_code:
                children[r.parent_code].append(r.code)
        for codes in children.values():
            codes.sort(key=lambda c: areas[c].name)
        parent_types: dict[str, set[str]] = defaultdict(set)
        for a in areas.values():
            parent_types[a.type].update(areas[up].type for up in _ancestors(areas, a.code))
        neighbours: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for n in repo.neighbours():
            neighbours[n.code].append((n.neighbour_code, n.relation))
        for pairs in neighbours.values():
            pairs.sort(key=lambda p: areas[p[0]].name)

        def index(area_type: str) -> AreaIndex:
            codes = sorted(c for c, a in areas.items() if a.type == area_type)
            return AreaIndex(codes, [geometries[c] for c in codes])

        matcher = NameMatcher((a.code, a.type, a.name) for a in areas.values())
        aliases = [
            (a.code, alias) for a in areas.values() for alias in a.attributes.get("aliases", ())
        ]
        # and those the package names that the geography loaded before it did not ("RBKC")
        aliases += [(c, alias) for c, alias in default_aliases() if c in areas]
        for code, alias in dict.fromkeys(aliases):
            matcher.add_alias(code, alias)
        details = dict(release.details or {})
        return cls(
            version=version,
            # the geography release's own id and load time: answers made from the same
            # geography say the same, whatever else the data version moved for
            release={
                "version": release.id,
                "loaded_at": utc_text(release.loaded_at),
                "label": release.label,
                **details.get("public", {}),
            },
            areas=areas,
            geometries=geometries,
            children=dict(children),
            neighbours=dict(neighbours),
            parent_types={kind: frozenset(kinds) for kind, kinds in parent_types.items()},
            borough_index=index("borough"),
            ward_index=index("ward"),
            matcher=matcher,
            geography_release=release.id,
        )

    # -- helpers used by the use cases ----------------------------------------------
    def postcode_counts(self, repo: GeographyRepository) -> dict[str, int]:
        """The postcodes by status, counted at the first asking and kept with the
        snapshot (they change with a geography release, which makes a new one): counting
        London's 188,000 rows took 40-90 ms of every ``/ready`` probe on PostgreSQL."""
        if self._postcode_counts is None:
            self._postcode_counts = repo.count_postcodes()
        return self._postcode_counts

    def postcode_table(self, repo: GeographyRepository) -> PostcodeTable | None:
        """The postcodes kept in memory, or None when they are looked up in the database:
        not kept, or (serving) not read yet, while a thread reads them. A served worker
        reads them before it takes requests (:meth:`read_postcodes`); a snapshot made for a
        new geography release reads them in that thread, so no request waits for them."""
        if not self.keep_postcodes:
            return None
        table = self._postcodes
        if table is None:
            if self.read_postcodes_with is not None:
                self._read_postcodes_in_background(self.read_postcodes_with)
                return None
            table = self.read_postcodes(repo)
        return table

    def read_postcodes(self, repo: GeographyRepository) -> PostcodeTable:
        """Every postcode's row, read now unless read already (0.6-1.5 s for London's)."""
        with self._postcodes_lock:
            if self._postcodes is None:
                self._postcodes = PostcodeTable(repo.every_postcode())
            return self._postcodes

    def _read_postcodes_in_background(self, connect: Callable[[], Any]) -> None:
        """Start a thread reading every postcode on a connection of its own, unless one is
        reading them or the last failed less than 30 s ago."""

        def read() -> None:
            with connect() as connection:
                self.read_postcodes(GeographyRepository(connection))

        self._postcodes_job.start(read)

    def on_water(self, x: float, y: float) -> bool:
        """Whether a point (EPSG:27700) is on the water between the boroughs (the Thames
        below mean high water, which no borough holds), not on land outside London:
        :func:`geodata.water.water_between`, made once per snapshot."""
        water = self._water
        if water is None:
            with self._water_lock:
                water = self._water
                if water is None:
                    codes = sorted(c for c, a in self.areas.items() if a.type == "borough")
                    water = water_between([self.geometries[c] for c in codes])
                    shapely.prepare(water)
                    self._water = water
        return bool(shapely.intersects_xy(water, x, y))

    def area(self, code: str) -> AreaInfo:
        return self.areas[code]

    def ref(self, code: str | None) -> dict[str, str] | None:
        if code is None or code not in self.areas:
            return None
        return self.areas[code].ref()

    def hierarchy(self, borough_code: str, ward_code: str | None) -> dict[str, Any]:
        """Ward, borough, BCU (or the City of London note), region and police force.

        Built once per (borough, ward) and shared: callers copy it, never change it."""
        key = (borough_code, ward_code)
        answer = self._hierarchies.get(key)
        if answer is None:
            answer = self._hierarchies[key] = self._hierarchy(borough_code, ward_code)
        return answer

    def _hierarchy(self, borough_code: str, ward_code: str | None) -> dict[str, Any]:
        borough = self.areas[borough_code]
        bcu_code = borough.parent_code if borough.parent_code != LONDON else None
        answer: dict[str, Any] = {
            "ward": self.ref(ward_code),
            "borough": borough.ref(),
            "bcu": self.ref(bcu_code),
            "region": self.ref(LONDON),
        }
        if bcu_code is None:
            answer["police_force"] = {**CITY_POLICE, "note": CITY_NOTE}
        else:
            answer["police_force"] = dict(MET)
        return answer


#: a check time no reading of time.monotonic() is within any TTL of
_NEVER = float("-inf")


class GeographyCache:
    """The per-process snapshot, re-read when the data version changes.

    A worker trusts its snapshot for ``ttl`` seconds before checking the version again,
    so a load done by another process is seen within that time; a load in this process
    calls :meth:`invalidate`. With the version it reads the schema's revision: a database
    ``migrations`` says is behind this code is a :class:`SchemaBehindError` (every read,
    ``/ready`` included, answers 503 rather than failing on a missing column), and once
    `directory migrate` has run the next check serves again, without a restart.
    """

    def __init__(
        self, ttl: float, on_rebuild: Callable[[], None] | None = None,
        keep_postcodes: bool = False, read_postcodes_with: Callable[[], Any] | None = None,
        migrations: Migrations | None = None,
    ) -> None:  # fmt: skip
        self.ttl = ttl
        self.migrations = migrations
        self.keep_postcodes = keep_postcodes
        #: the ``read_postcodes_with`` of each snapshot after the first (serving: a new
        #: geography release's postcodes are read in the background); the first reads them
        #: where it is first asked (a served worker's warm start, before it takes requests),
        #: not beside the index build, which would leave the worker's heap the bigger for it
        self.read_postcodes_with = read_postcodes_with
        self._replacing = False  # whether a snapshot was made before
        self._on_rebuild = on_rebuild  # called after a new snapshot is built (heap.settle)
        self._snapshot: GeographySnapshot | None = None
        #: when the version was last checked (time.monotonic); -inf: check at the next
        #: read. Not 0.0: the clock counts from the machine's boot, so within ``ttl`` of it
        #: 0.0 would read as checked just now (a write after a refresh placed by the old
        #: geography, on a machine up for less than the TTL)
        self._checked = _NEVER
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._snapshot = None
            self._checked = _NEVER

    def expire(self) -> None:
        """Check the data version at the next read (a write in this process added one):
        the snapshot's polygons are kept unless the geography itself changed."""
        with self._lock:
            self._checked = _NEVER

    def current(self, repo: GeographyRepository) -> GeographySnapshot:
        """The snapshot of the data version the database holds now, whatever the TTL: a
        write checks its areas and places its sites by it (reads trust :meth:`fresh`). A
        geography changed by another process since the last check is read now, and this
        worker's reads answer from it from then on."""
        self.expire()
        return self.get(repo)

    def current_of(self, db: Database) -> GeographySnapshot:
        """:meth:`current`, read on a connection of its own: what a write calls once it
        holds the write lock (a geography load takes the same lock, so the geography cannot
        change before the write commits)."""
        with db.engine.connect() as connection:
            return self.current(GeographyRepository(connection))

    def fresh(self) -> GeographySnapshot | None:
        """The snapshot while it is still trusted (no database needed), else None."""
        snapshot = self._snapshot
        if snapshot is not None and time.monotonic() - self._checked < self.ttl:
            return snapshot
        return None

    def get(self, repo: GeographyRepository) -> GeographySnapshot:
        snapshot = self.fresh()
        if snapshot is not None:
            return snapshot
        now = time.monotonic()
        with self._lock:
            version = repo.data_version()
            if self.migrations is not None:
                revision = repo.schema_revision()
                if self.migrations.behind(revision):
                    raise SchemaBehindError(self.migrations.behind_message(revision))
            if version is None:
                raise GeodataNotLoadedError(
                    "No data is loaded. Run `directory init` (or `directory geodata load`)."
                )
            if self._snapshot is None or self._snapshot.version.id != version.id:
                release = repo.latest_release("geography")
                if (
                    self._snapshot is not None
                    and release is not None
                    and release.id == self._snapshot.geography_release
                ):
                    # only non-geography data changed: keep the polygons (and the release
                    # they came from), move the version
                    self._snapshot.version = version
                else:
                    self._snapshot = GeographySnapshot.build(repo, version)
                    self._snapshot.keep_postcodes = self.keep_postcodes
                    if self._replacing:
                        self._snapshot.read_postcodes_with = self.read_postcodes_with
                    self._replacing = True
                    if self._on_rebuild is not None:
                        self._on_rebuild()
            self._checked = now
            return self._snapshot


# -- postcodes -------------------------------------------------------------------------
def _parse(text: Any) -> Postcode:
    try:
        return parse_postcode(text)
    except GeodataInvalidPostcode as error:
        postcode = text if isinstance(text, str) else None
        try:
            outcode = parse_outcode(text)
        except GeodataInvalidPostcode:
            raise InvalidPostcodeError(str(error), postcode=postcode) from None
        raise InvalidPostcodeError(
            f"{error} The areas its postcodes fall in: /api/v1/outcodes/{outcode}.",
            postcode=postcode,
            outcode=outcode,
        ) from None


def _postcode_answer(snap: GeographySnapshot, row: Any, match: str = "postcode") -> dict[str, Any]:
    outcode, incode = row.display.split(" ")
    return {
        "postcode": row.display,
        "canonical": row.canonical,
        "outcode": outcode,
        "incode": incode,
        "status": row.status,
        "lat": row.lat,
        "lon": row.lon,
        "easting": row.easting,
        "northing": row.northing,
        "positional_quality": row.positional_quality,
        **snap.hierarchy(row.borough_code, row.ward_code),
        "match": match,
        "data_release": snap.release,
    }


def _outcode_boroughs(
    snap: GeographySnapshot, repo: GeographyRepository, outcode: str
) -> list[dict[str, str]]:
    codes = sorted({r.borough_code for r in repo.outcode_areas(outcode)})
    return [snap.areas[c].ref() for c in codes if c in snap.areas]


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def month_words(yyyymm: str | None) -> str | None:
    """The month "2002-07" as "July 2002" (in English whatever the locale); other text as
    given, None as None."""
    if not yyyymm:
        return None
    year, _, month = yyyymm.partition("-")
    if f"{year}{month}".isascii() and year.isdigit() and month.isdigit() and 1 <= int(month) <= 12:
        return f"{_MONTHS[int(month) - 1]} {year}"
    return yyyymm


def terminated_sentence(
    display: str, terminated: str | None, ward: str | None, borough: str | None
) -> str:
    """What a person reads about a withdrawn postcode: "SM1 1AB was withdrawn in July 2002;
    it was in Sutton Central ward, Sutton." (the borough alone when no ward is known)."""
    when = month_words(terminated)
    text = f"{display} was withdrawn in {when}" if when else f"{display} has been withdrawn"
    if ward and borough:
        return f"{text}; it was in {ward} ward, {borough}."
    if borough:
        return f"{text}; it was in {borough}."
    return f"{text}."


def _terminated_problem(snap: GeographySnapshot, row: Any) -> PostcodeTerminatedError:
    borough = snap.ref(row.borough_code)
    ward = snap.ref(row.ward_code)
    sentence = terminated_sentence(
        row.display,
        row.terminated,
        ward["name"] if ward else None,
        borough["name"] if borough else None,
    )
    # NSPL's wards are of 2021: the ward named is today's ward where the postcode was
    today = f"; {ward['name']} is today's ward at its last known location" if ward else ""
    return PostcodeTerminatedError(
        f"{sentence} It is no longer in use{today}.",
        postcode=row.display,
        terminated=row.terminated,
        last_known={
            "lat": row.lat,
            "lon": row.lon,
            "easting": row.easting,
            "northing": row.northing,
            "borough": borough,
            "ward": ward,
        },
        match="terminated_postcode",
    )


def _missing_problem(
    snap: GeographySnapshot, repo: GeographyRepository, pc: Postcode
) -> PostcodeNotFoundError | OutsideCoverageError:
    boroughs = _outcode_boroughs(snap, repo, pc.outcode)
    if not boroughs:
        return OutsideCoverageError(
            f"{pc.display} is a well-formed postcode but its outcode {pc.outcode} is not in "
            "London; this directory covers the 33 London boroughs only.",
            postcode=pc.display,
        )
    names = ", ".join(b["name"] for b in boroughs)
    return PostcodeNotFoundError(
        f"{pc.display} is not in the live London postcode data ({snap.release.get('postcodes', 'current release')}). "
        f"It may be new, mistyped, or outside London; its outcode {pc.outcode} touches: {names}.",
        postcode=pc.display,
        outcode=pc.outcode,
        outcode_boroughs=boroughs,
        match="outcode",
    )


def lookup_postcode(
    snap: GeographySnapshot, repo: GeographyRepository, text: Any
) -> dict[str, Any]:
    """The areas of one postcode, or the problem that explains why there are none."""
    pc = _parse(text)
    table = snap.postcode_table(repo)
    row = repo.postcode(pc.canonical) if table is None else table.get(pc.canonical)
    if row is None:
        raise _missing_problem(snap, repo, pc)
    if row.status != "live":
        raise _terminated_problem(snap, row)
    return _postcode_answer(snap, row)


def lookup_postcodes(
    snap: GeographySnapshot, repo: GeographyRepository, texts: list[Any], limit: int
) -> list[dict[str, Any]]:
    """Bulk lookup: one result or one problem per input, in input order."""
    if len(texts) > limit:
        raise PayloadTooLargeError(
            f"{len(texts)} postcodes sent; at most {limit} are allowed in one request.",
            limit=limit,
            received=len(texts),
        )
    parsed: list[Postcode | InvalidPostcodeError] = []
    for text in texts:
        try:
            parsed.append(_parse(text))
        except InvalidPostcodeError as error:
            parsed.append(error)
    wanted = (p.canonical for p in parsed if isinstance(p, Postcode))
    table = snap.postcode_table(repo)
    rows = repo.postcodes(wanted) if table is None else table.rows(wanted)
    results: list[dict[str, Any]] = []
    for text, p in zip(texts, parsed, strict=True):
        item: dict[str, Any] = {"query": text}
        if isinstance(p, InvalidPostcodeError):
            item["problem"] = p.to_problem()
        elif (row := rows.get(p.canonical)) is None:
            item["problem"] = _missing_problem(snap, repo, p).to_problem()
        elif row.status != "live":
            item["problem"] = _terminated_problem(snap, row).to_problem()
        else:
            item["result"] = _postcode_answer(snap, row)
        results.append(item)
    return results


def lookup_outcode(snap: GeographySnapshot, repo: GeographyRepository, text: Any) -> dict[str, Any]:
    """The boroughs, wards and BCUs an outcode's live postcodes fall in."""
    try:
        outcode = parse_outcode(text)
    except GeodataInvalidPostcode as error:
        raise InvalidPostcodeError(
            str(error), outcode=text if isinstance(text, str) else None
        ) from None
    rows = repo.outcode_areas(outcode)
    if not rows:
        raise OutcodeNotFoundError(
            f"No live London postcode has the outcode {outcode}; it is outside London or not in use.",
            outcode=outcode,
        )
    boroughs: dict[str, int] = defaultdict(int)
    wards: dict[str, int] = defaultdict(int)
    for r in rows:
        boroughs[r.borough_code] += r.postcodes
        wards[r.ward_code] += r.postcodes
    bcus: dict[str, int] = defaultdict(int)
    for code, n in boroughs.items():
        parent = snap.areas[code].parent_code
        if parent and parent != LONDON:
            bcus[parent] += n

    def listed(counts: dict[str, int]) -> list[dict[str, Any]]:
        return [
            {**snap.areas[c].ref(), "postcodes": n}
            for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            if c in snap.areas
        ]

    return {
        "outcode": outcode,
        "postcodes": sum(boroughs.values()),
        "boroughs": listed(boroughs),
        "wards": listed(wards),
        "bcus": listed(bcus),
        "outside_met": "E09000001" in boroughs,
        "match": "outcode",
        "data_release": snap.release,
    }


# -- points ----------------------------------------------------------------------------
#: (min lon, min lat, max lon, max lat): points and boxes must fall in this, around London
LONDONISH = (-1.0, 51.0, 0.8, 52.0)


def in_londonish(lon: float, lat: float) -> bool:
    min_lon, min_lat, max_lon, max_lat = LONDONISH
    return min_lon <= lon <= max_lon and min_lat <= lat <= max_lat


def point_from_query(
    *, lat: float | None, lon: float | None, easting: float | None, northing: float | None
) -> tuple[float, float, dict[str, float]]:
    """Validate a WGS84 or British National Grid point; return it in EPSG:27700."""
    wgs = lat is not None or lon is not None
    bng = easting is not None or northing is not None
    if (
        wgs == bng
        or (wgs and (lat is None or lon is None))
        or (bng and (easting is None or northing is None))
    ):
        raise InvalidInputError(
            "Give either lat and lon (WGS84) or easting and northing (British National Grid).",
            errors={"query": ["lat+lon or easting+northing, not both, not a mix"]},
        )
    if wgs:
        assert lat is not None and lon is not None
        if not crs.is_valid_lonlat(lon, lat):
            wrong = {  # each one out of range, alone (the other at 0, which is in range)
                name: bounds
                for name, bounds, valid in (
                    ("lat", "-90..90", crs.is_valid_lonlat(0.0, lat)),
                    ("lon", "-180..180", crs.is_valid_lonlat(lon, 0.0)),
                )
                if not valid
            }
            raise InvalidCoordinatesError(
                " and ".join(f"{name} must be within {b}" for name, b in wrong.items()) + ".",
                errors={name: [b] for name, b in wrong.items()},
            )
        if not in_londonish(lon, lat) and in_londonish(lat, lon):
            raise OutsideCoverageError(
                f"The point lat={lat}, lon={lon} is outside London; the other way round "
                f"(lat={lon}, lon={lat}) it is in London: are lat and lon swapped?",
                lat=lat,
                lon=lon,
            )
        x, y = crs.to_bng(lon, lat)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise OutsideCoverageError(
                "The point is outside London (and outside the British National Grid); this "
                "directory covers the 33 London boroughs only.",
                lat=lat,
                lon=lon,
            )
        return float(x), float(y), {"lat": lat, "lon": lon}
    assert easting is not None and northing is not None
    if not crs.is_valid_bng(easting, northing):
        raise InvalidCoordinatesError(
            "easting must be within 0..700000 and northing within 0..1300000 (British National Grid).",
            errors={"easting": ["0..700000"], "northing": ["0..1300000"]},
        )
    return easting, northing, {"easting": easting, "northing": northing}


@dataclass(frozen=True, slots=True)
class PointAreas:
    """Which areas a point falls in, and how sure we are."""

    borough: str
    ward: str | None
    boroughs: list[str]
    wards: list[str]
    flags: dict[str, bool]
    river_distance: float | None


def resolve_point(snap: GeographySnapshot, settings: Settings, x: float, y: float) -> PointAreas:
    """The borough and ward covering a point in EPSG:27700 (``covers`` semantics).

    A point in no borough polygon but on the Thames between them (the boroughs exclude it,
    :meth:`GeographySnapshot.on_water`) resolves to the nearest borough within
    ``settings.river_tolerance_m``, flagged ``on_river``; a point within
    :data:`EDGE_TOLERANCE_M` of a borough is on its edge; any other point is outside London
    (land beyond London's edge is not the river, however near a borough it is). The ward comes from the generalised ward polygons and is flagged
    ``generalised_boundary`` near a ward edge.
    """
    flags = {
        "near_boundary": False,
        "generalised_boundary": False,
        "on_river": False,
        "ward_approximate": False,
    }
    boroughs = snap.borough_index.covering(x, y)
    river_distance = None
    if not boroughs:
        near = snap.borough_index.nearest(x, y, settings.river_tolerance_m)
        on_edge = near is not None and near[1] <= EDGE_TOLERANCE_M
        if near is None or not (on_edge or snap.on_water(x, y)):
            raise OutsideCoverageError(
                "The point is outside London; this directory covers the 33 London boroughs only.",
                easting=round(x, 1),
                northing=round(y, 1),
            )
        boroughs = [near[0]]
        river_distance = round(near[1], 1)
        flags["on_river"] = not on_edge
        flags["near_boundary"] = True
    borough = boroughs[0]
    if not flags["near_boundary"]:
        flags["near_boundary"] = len(boroughs) > 1 or snap.borough_index.within_distance_of_edge(
            borough, x, y, settings.boundary_margin_m
        )
    wards = [w for w in snap.ward_index.covering(x, y) if snap.areas[w].parent_code in boroughs]
    ward: str | None
    if wards:
        ward = next((w for w in wards if snap.areas[w].parent_code == borough), wards[0])
        borough = snap.areas[ward].parent_code or borough
        flags["generalised_boundary"] = len(wards) > 1 or snap.ward_index.within_distance_of_edge(
            ward, x, y, settings.ward_margin_m
        )
    else:
        ward = _nearest_ward_in(snap, borough, x, y)
        flags["ward_approximate"] = True
        flags["generalised_boundary"] = True
    return PointAreas(borough, ward, boroughs, wards, flags, river_distance)


def resolve_points(
    snap: GeographySnapshot, settings: Settings, xs: Sequence[float], ys: Sequence[float]
) -> list[tuple[str, str | None] | None]:
    """The (borough, ward) of each point (EPSG:27700) as :func:`resolve_point` finds it,
    None for a point outside London; without its flags. A point whose first covering ward
    is in its first covering borough (nearly every point) is answered by two vectorised
    lookups, the same answer :func:`resolve_point` gives (``covers`` semantics, the first
    area in the index's order); the rest by :func:`resolve_point`, one at a time."""
    boroughs = snap.borough_index.covering_many(xs, ys)
    wards = snap.ward_index.covering_many(xs, ys)
    borough_codes, ward_codes = snap.borough_index.codes, snap.ward_index.codes
    found: list[tuple[str, str | None] | None] = []
    for i, (b, w) in enumerate(zip(boroughs.tolist(), wards.tolist(), strict=True)):
        if b >= 0 and w >= 0 and snap.areas[ward_codes[w]].parent_code == borough_codes[b]:
            found.append((borough_codes[b], ward_codes[w]))
            continue
        try:
            areas = resolve_point(snap, settings, float(xs[i]), float(ys[i]))
        except OutsideCoverageError:
            found.append(None)
            continue
        found.append((areas.borough, areas.ward))
    return found


def locate(
    snap: GeographySnapshot, repo: GeographyRepository, settings: Settings, x: float, y: float
) -> dict[str, Any]:
    """The areas covering a point (EPSG:27700), the nearest postcode, and flags."""
    found = resolve_point(snap, settings, x, y)
    answer: dict[str, Any] = {
        "easting": round(x, 1),
        "northing": round(y, 1),
        **snap.hierarchy(found.borough, found.ward),
        "also_in": [snap.areas[b].ref() for b in found.boroughs if b != found.borough]
        + [snap.areas[w].ref() for w in found.wards if w != found.ward],
        "flags": found.flags,
        "match": "point",
    }
    if found.river_distance is not None:
        answer["distance_to_borough_m"] = found.river_distance
    nearest = repo.nearest_postcode(x, y, NEAREST_POSTCODE_MAX_M)
    answer["nearest_postcode"] = (
        None
        if nearest is None
        else {
            "postcode": nearest[0].display,
            "distance_m": round(nearest[1], 1),
            "ward": snap.ref(nearest[0].ward_code),
            "borough": snap.ref(nearest[0].borough_code),
        }
    )
    answer["data_release"] = snap.release
    return answer


def _nearest_ward_in(snap: GeographySnapshot, borough: str, x: float, y: float) -> str | None:
    point = shapely.Point(x, y)
    candidates = snap.children.get(borough, [])
    if not candidates:
        return None
    return min(candidates, key=lambda c: shapely.distance(snap.geometries[c], point))


# -- areas -----------------------------------------------------------------------------
def resolve_area_code(snap: GeographySnapshot, code: str) -> str:
    """The stored code for ``code`` (GSS codes are case-insensitive), or AreaNotFoundError."""
    for candidate in (code, code.strip().upper(), code.strip().lower()):
        if candidate in snap.areas:
            return candidate
    suggestions = [_suggestion(snap, c) for c in snap.matcher.suggest(code)]
    raise AreaNotFoundError(
        f"No area has the code {code!r}. Area codes are GSS codes (E09… boroughs, E05… wards, "
        "E12000007 London, E23000001 the Metropolitan Police District) or BCU ids such as "
        "bcu-central-west.",
        suggestions=suggestions,
    )


def area_summary(snap: GeographySnapshot, code: str) -> dict[str, Any]:
    a = snap.areas[code]
    body: dict[str, Any] = {
        **a.ref(),
        "parent": snap.ref(a.parent_code),
        "vintage": a.vintage,
        "area_km2": round(a.area_m2 / 1e6, 3),
        "bbox": list(a.wgs84_bbox),
    }
    body.update({k: v for k, v in a.attributes.items() if k != "aliases"})
    return body


def list_areas(
    snap: GeographySnapshot, *, type: str | None, parent: str | None, q: str | None
) -> list[str]:
    """Codes of the areas matching the filters: by tolerant name match when ``q`` is given
    (best first), else by type and name. ``parent`` is a code or a name (:func:`resolve_area`)."""
    parent_code = resolve_area(snap, parent) if parent else None
    if parent_code is not None and type is not None:
        check_parent_type(snap, parent_code, type)
    q = searched_for(q, "q")
    if q:
        codes: Iterable[str] = [c for c, _ in snap.matcher.match(q, type)]
    else:
        codes = sorted(
            (c for c, a in snap.areas.items() if type is None or a.type == type),
            key=lambda c: (AREA_TYPES.index(snap.areas[c].type), snap.areas[c].name),
        )
    if parent_code is not None:
        codes = [c for c in codes if is_within(snap, c, parent_code)]
    return list(codes)


def check_parent_type(snap: GeographySnapshot, parent_code: str, type: str) -> None:
    """InvalidInputError unless areas of ``type`` can lie within ``parent_code`` (wards
    within a ward, or anything within London's region asked as a region's parent, is a
    question with no answer, not an empty list), as ``/areas`` and the OGC area collections
    answer it."""
    kinds = snap.parent_types.get(type, frozenset())
    area = snap.areas[parent_code]
    if area.type in kinds:
        return
    above = f"a {' or a '.join(sorted(kinds))}" if kinds else "none: nothing is above them"
    message = (
        f"{area.name} ({parent_code}) is a {area.type}, above no {type}: parent is an area "
        f"above them, {above}."
    )
    raise InvalidInputError(message, errors={"parent": [message]})


def is_within(snap: GeographySnapshot, code: str, ancestor: str) -> bool:
    """Whether ``ancestor`` is above the area, at any depth: what ``parent`` means in
    ``/areas`` and the OGC area collections (London's wards, a BCU's wards, a borough's)."""
    return ancestor in _ancestors(snap.areas, code)


def _ancestors(areas: Mapping[str, AreaInfo], code: str) -> Iterator[str]:
    """The codes of the areas above one, nearest first (its parent, the parent's parent…)."""
    current = areas[code].parent_code
    while current is not None and current in areas:
        yield current
        current = areas[current].parent_code


def area_detail(snap: GeographySnapshot, code: str) -> dict[str, Any]:
    """The area (a code in any case or a name, as :func:`resolve_area` takes it) with its
    children, neighbours and, for a borough, its BCU and police force."""
    code = resolve_area(snap, code)
    a = snap.areas[code]
    body = area_summary(snap, code)
    body["children"] = [snap.areas[c].ref() for c in snap.children.get(code, [])]
    body["neighbours"] = [
        {**snap.areas[n].ref(), "relation": relation}
        for n, relation in snap.neighbours.get(code, [])
    ]
    if a.type == "borough":
        body.update(
            {k: v for k, v in snap.hierarchy(code, None).items() if k in ("bcu", "police_force")}
        )
    body["data_release"] = snap.release
    return body


def _wgs84_bboxes(geometries: Any) -> list[tuple[float, float, float, float]]:
    """Each British National Grid geometry's WGS84 bounds, widened to the 1e-6 degree grid
    (floor and ceiling), so they hold the geometry :func:`geojson_geometry` sends at any
    simplify. The bounds of the transformed geometry, not the BNG box's corners transformed:
    the grid is turned against the meridians, so a corner is not the extreme of any side
    (every area's box missed part of it). Transformed are the convex hulls' vertices only,
    where a polygon's extremes are (the projection is all but affine across an area: over
    London's 750 areas the same bounds as the whole geometries', to the last digit): 18 ms
    a build where the whole geometries took 50."""
    bounds = shapely.bounds(crs.geometry_to_wgs84(shapely.convex_hull(geometries)))
    low = np.floor(bounds[:, :2] * 1e6) / 1e6
    high = np.ceil(bounds[:, 2:] * 1e6) / 1e6
    return [
        (float(a), float(b), float(c), float(d))
        for (a, b), (c, d) in zip(low.tolist(), high.tolist(), strict=True)
    ]


#: the tolerances a boundary is simplified with (metres, a 1-2-5 ladder): a tolerance asked
#: for is taken down to the step at or below it, so a boundary has at most this many
#: versions to work out and keep, whatever values clients send
SIMPLIFY_STEPS = (0.0, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
#: the boundaries kept, as JSON, by their bytes (the whole of London's areas, unsimplified,
#: is about 25 MB); past it the kept ones are dropped and kept afresh
BOUNDARY_BYTES_KEPT = 96 * 1024 * 1024


#: the points of the simplified layers kept: about 10 MB (London's wards are 33,000 points
#: unsimplified, its boroughs 48,000; at 50 m, 21,000 and 5,500), so that a map asking for
#: areas of every type at several tolerances does not simplify a layer again and again
LAYER_POINTS_KEPT = 600_000


def simplified_area(snap: GeographySnapshot, code: str, simplify: float) -> Any:
    """The area's polygon (EPSG:27700) simplified by ``simplify`` metres with every area of
    its type, as one coverage (``shapely.coverage_simplify``): an edge two wards share is
    simplified once, so the simplified wards still meet along it, with no overlap and no
    gap between neighbours (simplified one by one, London's wards overlapped by 5.3 km²
    at 50 m, and a choropleth showed seams). A layer that is not a valid coverage (a
    refreshed geography whose areas overlap) is simplified area by area. Kept by (type,
    simplify): a layer is simplified in 30-90 ms."""
    kind = snap.areas[code].type
    layer = snap._layers.get((kind, simplify))
    if layer is None:
        codes = sorted(c for c, a in snap.areas.items() if a.type == kind)
        polygons = [snap.geometries[c] for c in codes]
        if len(polygons) > 1 and shapely.coverage_is_valid(polygons):
            done = shapely.coverage_simplify(polygons, simplify)
        else:
            done = shapely.simplify(polygons, simplify, preserve_topology=True)
        layer = dict(zip(codes, done, strict=True))
        points = int(shapely.get_num_coordinates(done).sum())
        with snap._lock:
            while snap._layers and sum(snap._layer_points.values()) + points > LAYER_POINTS_KEPT:
                oldest = next(iter(snap._layers))
                del snap._layers[oldest], snap._layer_points[oldest]
            snap._layers[(kind, simplify)] = layer
            snap._layer_points[(kind, simplify)] = points
    return layer[code]


def check_simplify(simplify: float | None) -> float:
    """The tolerance applied for one asked for: the ladder's step at or below it."""
    if simplify is None:
        return 0.0
    if not 0 <= simplify <= MAX_SIMPLIFY_M:
        raise InvalidInputError(
            f"simplify is a tolerance in metres between 0 and {MAX_SIMPLIFY_M:g}.",
            errors={"simplify": [f"0..{MAX_SIMPLIFY_M:g}"]},
        )
    return float(max(step for step in SIMPLIFY_STEPS if step <= simplify))


def boundary_feature(
    snap: GeographySnapshot, code: str, simplify: float = 0.0
) -> Mapping[str, Any]:
    """The area as a GeoJSON Feature in WGS84, simplified in metres (EPSG:27700) first
    with the other areas of its type (:func:`simplified_area`), kept as its JSON (read as
    a mapping only if someone reads it)."""
    key = ("feature", code, simplify)
    cached = snap._boundaries.get(key)
    if cached is not None:
        return cached
    a = snap.areas[code]
    polygon = simplified_area(snap, code, simplify) if simplify > 0 else snap.geometries[code]
    geometry = geojson_geometry(polygon)
    return _kept(
        snap,
        key,
        {
            "type": "Feature",
            "id": code,
            "geometry": mapping(geometry),
            "properties": {
                "code": code,
                "name": a.name,
                "type": a.type,
                "parent_code": a.parent_code,
                "vintage": a.vintage,
                "simplify_m": simplify,
            },
        },
    )


def coverage_geometry(
    snap: GeographySnapshot, codes: Sequence[str], simplify: float
) -> Mapping[str, Any] | None:
    """The union of the areas (known ones; None if none) as a GeoJSON geometry: of each
    area's polygon simplified with its layer (:func:`simplified_area`), as the boundaries
    are, so one borough's coverage is that borough's boundary, and the coverages of
    neighbouring boroughs (or wards) share their edges exactly. (Each union simplified on
    its own, the coverages of London's borough services overlapped and left gaps.) Kept
    with the boundaries."""
    known = sorted(c for c in codes if c in snap.geometries)
    if not known:
        return None
    key = ("geometry", "+".join(known), simplify)
    cached = snap._boundaries.get(key)
    if cached is not None:
        return cached
    polygons = [
        simplified_area(snap, c, simplify) if simplify > 0 else snap.geometries[c] for c in known
    ]
    union = polygons[0] if len(polygons) == 1 else shapely.union_all(polygons)
    return _kept(snap, key, mapping(geojson_geometry(union)))


def _kept(snap: GeographySnapshot, key: tuple[str, str, float], value: Any) -> Extended:
    """``value`` as its JSON, kept in the snapshot's boundaries up to their byte budget."""
    kept = Extended(compact(orjson.dumps(value)), {})
    size = len(kept.json())
    if size > BOUNDARY_BYTES_KEPT:
        return kept
    with snap._lock:
        if snap._boundary_bytes + size > BOUNDARY_BYTES_KEPT:
            snap._boundaries.clear()
            snap._boundary_bytes = 0
        if key not in snap._boundaries:
            snap._boundaries[key] = kept
            snap._boundary_bytes += size
    return kept


def geojson_geometry(geometry: Any) -> Any:
    """A British National Grid area (simplified already, with its layer: never here, one
    by one) as RFC 7946 wants it: in WGS84 on a 1e-6 degree grid (about 0.1 m), valid
    (simplification and the grid can fold a narrow ward onto itself: it is repaired, not
    sent), and every exterior ring counter-clockwise, holes clockwise (§3.1.6)."""
    geometry = crs.geometry_to_wgs84(geometry)
    if not shapely.is_valid(geometry):
        geometry = shapely.make_valid(geometry, method="structure", keep_collapsed=False)
    geometry = shapely.set_precision(geometry, 1e-6)  # snap-rounds, and stays valid
    return shapely.orient_polygons(geometry)


def boundary_collection(
    snap: GeographySnapshot, codes: list[str], simplify: float
) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [boundary_feature(snap, c, simplify) for c in codes],
        "data_release": snap.release,
    }


#: a name qualified by its borough: "Kilburn, Brent" or "Kilburn (Brent)"
_QUALIFIED = re.compile(r"^(?P<name>[^,()]+?)\s*(?:,(?P<after>[^,()]+)|\((?P<within>[^()]+)\))$")


def resolve_area(snap: GeographySnapshot, text: str) -> str:
    """An area's code from a code (any case), a name ("Kingston", "Central West BCU") or a
    ward's name with its borough ("Kilburn, Brent", "Kilburn (Brent)"). A name is taken
    only when it names one area (NameMatcher.named: exactly, or by its leading words), so
    nothing typed is quietly read as another place. AreaAmbiguousError for a name several
    areas share, AreaNotFoundError otherwise, each with the areas it may have meant."""
    try:
        return resolve_area_code(snap, text)
    except AreaNotFoundError as not_a_code:
        _, codes = snap.matcher.named(text)
        if not codes:
            codes = qualified_ward(snap, text)
        if len(codes) == 1:
            return codes[0]
        if codes:
            choices = [_suggestion(snap, c) for c in codes]
            first = choices[0]
            within = first.get("borough", {}).get("name", "its borough")
            raise AreaAmbiguousError(
                f"The name {text.strip()!r} is shared by {len(codes)} areas: "
                + "; ".join(_described(c) for c in choices)
                + f". Give the code, or the name with its borough: "
                f"'{first['name']}, {within}' or '{first['name']} ({within})'.",
                suggestions=choices,
            ) from None
        raise AreaNotFoundError(
            f"No area has the code or name {text!r}. Give a GSS code (E09… borough, E05… ward, "
            "E12000007 London, E23000001 the Metropolitan Police District), a BCU id such as "
            "bcu-central-west, or a name such as "
            "'Kingston' (see /api/v1/areas?q=).",
            **not_a_code.extensions,
        ) from None


def qualified_ward(snap: GeographySnapshot, text: str) -> list[str]:
    """The wards "Name, Borough" or "Name (Borough)" names in that borough (empty when the
    text is not so written or the borough is not one): the form an ambiguous ward's problem
    suggests, taken by the routes and by an import's areas alike."""
    found = _QUALIFIED.match(text.strip())
    if found is None:
        return []
    borough = snap.matcher.resolve(found["after"] or found["within"], "borough")
    if borough is None:
        return []
    return snap.matcher.named(found["name"], "ward", among=snap.children.get(borough, []))[1]


def _suggestion(snap: GeographySnapshot, code: str) -> dict[str, Any]:
    """An area as a problem's suggestion: a ward with its borough, as wards of one name in
    different boroughs are told apart."""
    area = snap.areas[code]
    body: dict[str, Any] = area.ref()
    if area.type == "ward" and area.parent_code in snap.areas:
        body["borough"] = {"code": area.parent_code, "name": snap.areas[area.parent_code].name}
    return body


def _described(suggestion: dict[str, Any]) -> str:
    within = suggestion.get("borough")
    place = f" in {within['name']}" if within else ""
    return f"{suggestion['name']} ({suggestion['type']}{place}, {suggestion['code']})"


def area_scope(snap: GeographySnapshot, code: str) -> list[str]:
    """The codes whose changes affect an area: it, the areas above it (a London-wide or
    BCU-wide change reaches every borough in it) and the areas inside it."""
    codes = [code]
    parent = snap.areas[code].parent_code
    while parent is not None and parent in snap.areas:
        codes.append(parent)
        parent = snap.areas[parent].parent_code
    stack = list(snap.children.get(code, []))
    while stack:
        child = stack.pop()
        codes.append(child)
        stack.extend(snap.children.get(child, []))
    return codes
