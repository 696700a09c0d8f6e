"""The database schema (SQLAlchemy 2 declarative models).

Geography tables hold what ``directory geodata load`` writes; every committed data
change is recorded in ``data_release``, whose newest row is the data version that ETags
and Last-Modified headers derive from. Models never commit themselves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class DataRelease(Base):
    """One committed change of loaded data (a geography load, later an import run)."""

    __tablename__ = "data_release"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset: Mapped[str] = mapped_column(String(40), index=True)
    label: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Area(Base):
    """A region, Met BCU, borough or ward; geometry as WKB in EPSG:27700."""

    __tablename__ = "area"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("area.code"), index=True, nullable=True
    )
    vintage: Mapped[str] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    min_x: Mapped[float] = mapped_column(Float)
    min_y: Mapped[float] = mapped_column(Float)
    max_x: Mapped[float] = mapped_column(Float)
    max_y: Mapped[float] = mapped_column(Float)
    area_m2: Mapped[float] = mapped_column(Float)
    geometry: Mapped[bytes] = mapped_column(LargeBinary)


class AreaNeighbour(Base):
    """Areas of the same type that touch, or face each other across open water."""

    __tablename__ = "area_neighbour"

    code: Mapped[str] = mapped_column(String(40), ForeignKey("area.code"), primary_key=True)
    neighbour_code: Mapped[str] = mapped_column(
        String(40), ForeignKey("area.code"), primary_key=True
    )
    relation: Mapped[str] = mapped_column(String(16))


class Postcode(Base):
    """A live postcode (OS Code-Point Open) or a terminated one (ONS NSPL)."""

    __tablename__ = "postcode"

    canonical: Mapped[str] = mapped_column(String(8), primary_key=True)
    display: Mapped[str] = mapped_column(String(9))
    outcode: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(12))
    easting: Mapped[float] = mapped_column(Float)
    northing: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    borough_code: Mapped[str] = mapped_column(String(9))
    ward_code: Mapped[str] = mapped_column(String(9))
    positional_quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    introduced: Mapped[str | None] = mapped_column(String(7), nullable=True)
    terminated: Mapped[str | None] = mapped_column(String(7), nullable=True)
    #: grid cell key (see ``directory.repositories.geography.grid_cell``) for nearest lookups
    cell: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_postcode_outcode", "outcode"),
        Index("ix_postcode_cell", "cell"),
    )
