"""SQL for the geography tables: areas, neighbours, postcodes and data releases."""

from __future__ import annotations

import functools
import math
import operator
import sys
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, column, delete, func, insert, select, table
from sqlalchemy.engine import Connection, Dialect, Row
from sqlalchemy.orm import Session

from directory.store.db import driver_error
from directory.store.models import Area, AreaNeighbour, DataRelease, Postcode
from directory.store.repositories import among

#: side of the square grid cells postcodes are bucketed into for nearest-point lookups
CELL_METRES = 250
CELL_ROW = 10_000  # more cells than British National Grid has rows of 250 m
#: postcodes written per INSERT while loading the geography
POSTCODE_BATCH = 20_000


def grid_cell(easting: float, northing: float) -> int:
    """The integer key of the grid cell holding a British National Grid point."""
    return int(easting // CELL_METRES) * CELL_ROW + int(northing // CELL_METRES)


def cells_around(easting: float, northing: float, ring: int) -> list[int]:
    """Keys of the cells within ``ring`` cells of the point's cell (a square)."""
    cx, cy = int(easting // CELL_METRES), int(northing // CELL_METRES)
    return [
        (cx + dx) * CELL_ROW + (cy + dy)
        for dx in range(-ring, ring + 1)
        for dy in range(-ring, ring + 1)
    ]


def cell_columns(easting: float, northing: float, ring: int) -> list[tuple[int, int]]:
    """The cells of ``cells_around`` as ranges of keys, one per column of the square
    (first and last key, both included)."""
    cx, cy = int(easting // CELL_METRES), int(northing // CELL_METRES)
    return [
        ((cx + dx) * CELL_ROW + cy - ring, (cx + dx) * CELL_ROW + cy + ring)
        for dx in range(-ring, ring + 1)
    ]


@dataclass(frozen=True, slots=True)
class DataVersion:
    id: int
    loaded_at: datetime


_POSTCODE_COLUMNS = (
    Postcode.canonical,
    Postcode.display,
    Postcode.outcode,
    Postcode.status,
    Postcode.easting,
    Postcode.northing,
    Postcode.lat,
    Postcode.lon,
    Postcode.borough_code,
    Postcode.ward_code,
    Postcode.positional_quality,
    Postcode.introduced,
    Postcode.terminated,
)
#: the hottest query of the API, compiled once per dialect (see ``postcode``)
_POSTCODE_BY_CANONICAL = select(*_POSTCODE_COLUMNS).where(
    Postcode.canonical == bindparam("canonical")
)
PostcodeRow = namedtuple("PostcodeRow", [column.key for column in _POSTCODE_COLUMNS])  # type: ignore[misc]
#: the fields of a postcode's row whose texts many postcodes share (by position)
_SHARED_TEXTS = frozenset(
    PostcodeRow._fields.index(name)
    for name in ("outcode", "status", "borough_code", "ward_code", "introduced", "terminated")
)


@functools.lru_cache(maxsize=4)
def _compiled_postcode_lookup(dialect: Dialect) -> tuple[str, Callable[[str], Any]]:
    """The lookup's SQL text for one dialect and a function building its parameters in the
    driver's paramstyle (``?`` for sqlite3, ``%(name)s`` for psycopg)."""
    compiled = _POSTCODE_BY_CANONICAL.compile(dialect=dialect)
    if dialect.positional:
        return compiled.string, lambda canonical: (canonical,)
    return compiled.string, lambda canonical: {"canonical": canonical}


class GeographyRepository:
    """Reads and writes geography rows.

    Reads are plain Core statements, so the repository works on a request's pooled
    ``Connection`` (the web layer's cheap read path) as well as on a ``Session`` (loading,
    which also adds ORM rows)."""

    def __init__(self, session: Session | Connection) -> None:
        self.session = session

    # -- data releases ------------------------------------------------------------
    def data_version(self) -> DataVersion | None:
        row = self.session.execute(
            select(DataRelease.id, DataRelease.loaded_at).order_by(DataRelease.id.desc()).limit(1)
        ).first()
        return DataVersion(row.id, row.loaded_at) if row else None

    def schema_revision(self) -> str | None:
        """The migration the schema is at, from Alembic's own table (None if it has no
        row): read with the data version, so a worker notices a schema left behind."""
        version = table("alembic_version", column("version_num"))
        return self.session.execute(select(version.c.version_num).limit(1)).scalar()

    def latest_release(self, dataset: str) -> Row[Any] | None:
        return self.session.execute(
            select(DataRelease.__table__)
            .where(DataRelease.dataset == dataset)
            .order_by(DataRelease.id.desc())
            .limit(1)
        ).first()

    def add_release(
        self, *, dataset: str, label: str, checksum: str, details: dict[str, Any], at: datetime
    ) -> DataRelease:
        release = DataRelease(
            dataset=dataset, label=label, checksum=checksum, details=details, loaded_at=at
        )
        self.session.add(release)
        self.session.flush()
        return release

    # -- areas --------------------------------------------------------------------
    def areas(self) -> Sequence[Row[Any]]:
        return self.session.execute(
            select(
                Area.code,
                Area.type,
                Area.name,
                Area.parent_code,
                Area.vintage,
                Area.attributes,
                Area.min_x,
                Area.min_y,
                Area.max_x,
                Area.max_y,
                Area.area_m2,
                Area.geometry,
            )
        ).all()

    def area_names(self) -> dict[str, tuple[str, str]]:
        """code → (type, name) of every area (no geometry)."""
        rows = self.session.execute(select(Area.code, Area.type, Area.name)).all()
        return {row.code: (row.type, row.name) for row in rows}

    def neighbours(self) -> Sequence[Row[Any]]:
        return self.session.execute(
            select(AreaNeighbour.code, AreaNeighbour.neighbour_code, AreaNeighbour.relation)
        ).all()

    def count_areas(self) -> dict[str, int]:
        rows = self.session.execute(select(Area.type, func.count()).group_by(Area.type)).all()
        return {row[0]: row[1] for row in rows}

    def count_geography(self) -> dict[str, int]:
        """How many areas, neighbour pairs and postcodes are loaded (as a load counts
        them: each pair is held both ways)."""
        count = select(func.count())
        return {
            "areas": self.session.execute(count.select_from(Area)).scalar_one(),
            "neighbour pairs": self.session.execute(count.select_from(AreaNeighbour)).scalar_one()
            // 2,
            "postcodes": self.session.execute(count.select_from(Postcode)).scalar_one(),
        }

    # -- postcodes ----------------------------------------------------------------
    def postcode(self, canonical: str) -> PostcodeRow | None:
        """One postcode's row, by primary key.

        Runs on the pooled DB-API cursor with SQL compiled once per dialect: SQLAlchemy's
        per-execution bookkeeping was most of the cost of this per-request lookup, and the
        columns are plain strings and numbers that need no result processing."""
        connection = (
            self.session if isinstance(self.session, Connection) else self.session.connection()
        )
        sql, parameters = _compiled_postcode_lookup(connection.dialect)
        try:
            cursor = connection.connection.cursor()
            try:
                cursor.execute(sql, parameters(canonical))
                row = cursor.fetchone()
            finally:
                cursor.close()
        except connection.dialect.loaded_dbapi.Error as error:
            raise driver_error(connection, error, sql) from error
        return PostcodeRow(*row) if row is not None else None

    def every_postcode(self, chunk: int = 5_000) -> Iterator[Sequence[tuple[Any, ...]]]:
        """Every postcode's row (a tuple of ``PostcodeRow``'s fields), ``chunk`` rows at a
        time by primary key (a request's connection may be in autocommit, where PostgreSQL
        has no server-side cursor): what a worker keeps in memory
        (``usecases.postcode_table``)."""
        after: str | None = None
        while True:
            query = select(*_POSTCODE_COLUMNS).order_by(Postcode.canonical).limit(chunk)
            if after is not None:
                query = query.where(Postcode.canonical > after)
            result = self.session.execute(query)
            try:  # the driver's own tuples: a third of the time of Row objects
                rows = result.cursor.fetchall()  # type: ignore[attr-defined]
            finally:
                result.close()
            if not rows:
                return
            yield rows
            after = rows[-1][0]

    def postcodes(self, canonicals: Iterable[str]) -> dict[str, PostcodeRow]:
        """These postcodes' rows, by canonical postcode, with one copy of each text that
        many share (status, outcode, area codes, dates): an import keeps the rows of every
        site's postcode, 70,000 of them at 100,000 services, 350 bytes each where a
        database row with its own texts is 650."""
        wanted = sorted(set(canonicals))
        found: dict[str, PostcodeRow] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            result = self.session.execute(
                select(*_POSTCODE_COLUMNS).where(among(Postcode.canonical, chunk, self.session))
            )
            for row in result:
                shared = PostcodeRow._make(
                    sys.intern(v) if isinstance(v, str) and n in _SHARED_TEXTS else v
                    for n, v in enumerate(row)
                )
                found[shared.canonical] = shared
        return found

    def outcode_areas(self, outcode: str) -> Sequence[Row[Any]]:
        """Per (borough, ward): how many live postcodes of the outcode fall there."""
        return self.session.execute(
            select(Postcode.borough_code, Postcode.ward_code, func.count().label("postcodes"))
            .where(Postcode.outcode == outcode, Postcode.status == "live")
            .group_by(Postcode.borough_code, Postcode.ward_code)
        ).all()

    def postcode_places(self) -> dict[str, tuple[str, str, str]]:
        """canonical → (status, borough code, ward code) of every postcode."""
        rows = self.session.execute(
            select(Postcode.canonical, Postcode.status, Postcode.borough_code, Postcode.ward_code)
        ).all()
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    def postcodes_by_borough(self) -> dict[str, int]:
        rows = self.session.execute(
            select(Postcode.borough_code, func.count()).group_by(Postcode.borough_code)
        ).all()
        return {row[0]: row[1] for row in rows}

    def count_postcodes(self) -> dict[str, int]:
        rows = self.session.execute(
            select(Postcode.status, func.count()).group_by(Postcode.status)
        ).all()
        return {row[0]: row[1] for row in rows}

    def nearest_postcode(
        self, easting: float, northing: float, max_distance: float
    ) -> tuple[Row[Any], float] | None:
        """The nearest live postcode within ``max_distance`` metres, by growing grid rings."""
        max_ring = max(1, math.ceil(max_distance / CELL_METRES))
        ring = 1
        while True:
            rows = self.session.execute(
                select(*_POSTCODE_COLUMNS).where(
                    Postcode.cell.in_(cells_around(easting, northing, ring)),
                    Postcode.status == "live",
                )
            ).all()
            if rows:
                best = min(
                    rows, key=lambda r: (r.easting - easting) ** 2 + (r.northing - northing) ** 2
                )
                distance = math.hypot(best.easting - easting, best.northing - northing)
                # a point in a farther ring can be nearer than a corner of this one
                if distance <= ring * CELL_METRES or ring >= max_ring:
                    return (best, distance) if distance <= max_distance else None
            if ring >= max_ring:
                return None
            ring = min(max_ring, ring * 2)

    # -- writing ------------------------------------------------------------------
    def replace_geography(
        self,
        areas: Iterable[dict[str, Any]],
        neighbours: Iterable[dict[str, Any]],
        postcodes: Iterable[dict[str, Any]],
    ) -> None:
        """Swap every geography row for new ones, inside the caller's transaction."""
        self.delete_geography()
        self.insert_areas(areas, neighbours)
        self.insert_postcodes(postcodes)

    def delete_geography(self) -> None:
        """Delete every area, neighbour pair and postcode (inside the caller's transaction)."""
        self.session.execute(delete(AreaNeighbour))
        self.session.execute(delete(Postcode))
        # children before parents: wards, boroughs, BCUs, the police area, region
        for area_type in ("ward", "borough", "bcu", "police_area", "region"):
            self.session.execute(delete(Area).where(Area.type == area_type))

    def insert_areas(
        self, areas: Iterable[dict[str, Any]], neighbours: Iterable[dict[str, Any]]
    ) -> None:
        area_rows = sorted(areas, key=lambda a: _AREA_ORDER[a["type"]])
        self.session.execute(insert(Area.__table__), area_rows)
        self.session.execute(insert(AreaNeighbour.__table__), list(neighbours))

    def insert_postcodes(
        self,
        postcodes: Iterable[dict[str, Any]],
        *,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        """Insert postcodes in batches of ``POSTCODE_BATCH``; ``on_batch`` is told the size
        of each batch once it is written."""
        batch: list[dict[str, Any]] = []
        for row in postcodes:
            batch.append(row)
            if len(batch) == POSTCODE_BATCH:
                self._insert_postcode_batch(batch, on_batch)
                batch = []
        if batch:
            self._insert_postcode_batch(batch, on_batch)

    def _insert_postcode_batch(
        self, batch: list[dict[str, Any]], on_batch: Callable[[int], None] | None
    ) -> None:
        connection = self.session.connection()
        if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
            copy_rows(connection, Postcode.__tablename__, batch)
        elif connection.dialect.name == "sqlite":
            insert_many(connection, Postcode.__table__, batch)
        else:
            # the table's Core INSERT, executed many times: the ORM's bulk insert of the same
            # rows spends twice as long collecting each row's parameters (no object is made)
            self.session.execute(insert(Postcode.__table__), batch)
        if on_batch is not None:
            on_batch(len(batch))


def copy_rows(connection: Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` (dicts with the same keys, the columns) into ``table`` by PostgreSQL's
    ``COPY … FROM STDIN`` (psycopg 3), in ``connection``'s transaction: for the 190,000 London
    postcodes a fifth of the time of the same INSERT executed many times."""
    if not rows:
        return
    names = list(rows[0])
    quote = connection.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table)} ({', '.join(map(quote, names))}) FROM STDIN"
    try:
        raw = connection.connection.driver_connection
        pick = operator.itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
        with raw.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[union-attr]
            write = copy.write_row
            for row in rows:
                write(pick(row))
    except connection.dialect.loaded_dbapi.Error as error:
        raise driver_error(connection, error, sql) from error


def insert_many(connection: Connection, target: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys, the columns) into the table ``target`` by
    the driver's ``executemany``, each value passed through its column type's own
    conversion: SQLAlchemy's Core INSERT of the same rows builds a parameter dict per row
    through its compiler (the 180,792 London postcodes into SQLite: 2.1–2.8 s by the Core
    INSERT, 1.7–2.0 s here)."""
    if not rows:
        return
    names = list(rows[0])
    dialect = connection.dialect
    convert = [target.c[name].type.bind_processor(dialect) for name in names]
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(target.name)} ({', '.join(map(quote, names))}) "
        f"VALUES ({', '.join('?' * len(names))})"
    )
    # each row's values in one C call, then only the values whose column's type converts
    # them (on SQLite, the postcodes' 4 Floats of 14 columns): value by value it cost
    # 1.9 s of a 180,000-postcode load under a profiler
    pick = operator.itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    processed = [(at, process) for at, process in enumerate(convert) if process is not None]
    values: list[Any] = list(map(pick, rows))
    if processed:
        for n, picked in enumerate(values):
            value = list(picked)
            for at, process in processed:
                if value[at] is not None:
                    value[at] = process(value[at])
            values[n] = tuple(value)
    connection.exec_driver_sql(sql, values)


_AREA_ORDER = {"region": 0, "police_area": 1, "bcu": 2, "borough": 3, "ward": 4}
