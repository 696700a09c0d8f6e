"""The Metropolitan Police District (E23000001) is an area, between London and the BCUs

Money MOPAC gives "the 32 London boroughs" (the London Crime Prevention Fund's direct borough
funding) was recorded for London, E12000007, and so reached the City of London too, which the
City of London Police serves, which is in no Met BCU and which receives none of it. Such an
award now names the Metropolitan Police District, the Met's police force area: London but the
City, the union of the 12 BCUs. ``geodata.loaders.read_bundle`` builds it with every
geography it reads (London ⊃ the District ⊃ BCUs ⊃ boroughs ⊃ wards; the City's parent stays
London).

This migration does the same to a geography loaded before: when the area table holds London
and its BCUs but not the District, it adds the District (its polygon the union of the BCUs'),
makes it the BCUs' parent, and records a geography release (a copy of the latest one's, with
a note) so that every process builds its areas again. Awards, services and opportunities that
name London keep naming London: nothing held is read as the District. A database with no
geography is left alone (loading one builds the District). Downgrading makes London the BCUs'
parent again and removes the District; anything naming it then names an area that is not
held.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06
"""

from __future__ import annotations

from datetime import UTC, datetime

import shapely
import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

LONDON = "E12000007"
MPD = "E23000001"
NAME = "Metropolitan Police District"
MET = "Metropolitan Police Service"

area = sa.table(
    "area", sa.column("code", sa.String), sa.column("type", sa.String),
    sa.column("name", sa.String), sa.column("parent_code", sa.String),
    sa.column("vintage", sa.String), sa.column("attributes", sa.JSON),
    sa.column("min_x", sa.Float), sa.column("min_y", sa.Float), sa.column("max_x", sa.Float),
    sa.column("max_y", sa.Float), sa.column("area_m2", sa.Float),
    sa.column("geometry", sa.LargeBinary),
)  # fmt: skip
neighbour = sa.table(
    "area_neighbour", sa.column("code", sa.String), sa.column("neighbour_code", sa.String)
)
release = sa.table(
    "data_release", sa.column("id", sa.Integer), sa.column("dataset", sa.String),
    sa.column("label", sa.String), sa.column("checksum", sa.String),
    sa.column("details", sa.JSON), sa.column("loaded_at", sa.DateTime(timezone=True)),
)  # fmt: skip


def upgrade() -> None:
    bind = op.get_bind()
    codes = set(
        bind.execute(sa.select(area.c.code).where(area.c.code.in_([LONDON, MPD]))).scalars()
    )
    if codes != {LONDON}:
        return  # no geography, or the District is held already
    london_vintage = bind.execute(
        sa.select(area.c.vintage).where(area.c.code == LONDON)
    ).scalar_one()
    bcus = bind.execute(
        sa.select(area.c.code, area.c.attributes, area.c.geometry).where(area.c.type == "bcu")
    ).all()
    if not bcus:
        return
    geometry = shapely.union_all(shapely.from_wkb([b.geometry for b in bcus]))
    boroughs = sorted(c for b in bcus for c in (b.attributes or {}).get("borough_codes", ()))
    min_x, min_y, max_x, max_y = (float(v) for v in geometry.bounds)
    bind.execute(
        area.insert().values(
            code=MPD, type="police_area", name=NAME, parent_code=LONDON,
            vintage=london_vintage,
            attributes={
                "police_force": MET,
                "borough_codes": boroughs,
                "note": f"London but the City of London: the area the {MET} polices, the "
                f"union of its BCUs (the {len(boroughs)} London boroughs).",
                "aliases": ["MPD", "Met Police District"],
            },
            min_x=min_x, min_y=min_y, max_x=max_x, max_y=max_y,
            area_m2=float(geometry.area), geometry=shapely.to_wkb(geometry),
        )
    )  # fmt: skip
    bind.execute(area.update().where(area.c.type == "bcu").values(parent_code=MPD))
    latest = bind.execute(
        sa.select(release.c.label, release.c.checksum, release.c.details)
        .where(release.c.dataset == "geography")
        .order_by(release.c.id.desc())
        .limit(1)
    ).first()
    if latest is not None:
        details = dict(latest.details or {})
        details["notes"] = [
            *details.get("notes", []),
            "Migration 0027 added the Metropolitan Police District (E23000001, the union of "
            "the BCUs) and made it the BCUs' parent.",
        ]
        bind.execute(
            release.insert().values(
                dataset="geography", label=latest.label, checksum=latest.checksum,
                details=details, loaded_at=datetime.now(UTC).replace(microsecond=0),
            )
        )  # fmt: skip


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.select(area.c.code).where(area.c.code == MPD)).first() is None:
        return
    bind.execute(area.update().where(area.c.parent_code == MPD).values(parent_code=LONDON))
    bind.execute(
        neighbour.delete().where(sa.or_(neighbour.c.code == MPD, neighbour.c.neighbour_code == MPD))
    )
    bind.execute(area.delete().where(area.c.code == MPD))
