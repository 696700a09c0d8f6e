from __future__ import annotations

import marshmallow as ma

from directory.usecases.geography import AREA_TYPES, MAX_SIMPLIFY_M
from directory.web.api import Schema
from directory.web.resources.common import (
    AreaRefSchema,
    DataReleaseSchema,
    PageArgsSchema,
    PageSchema,
    PoliceForceSchema,
)


class SimplifyArgsSchema(Schema):
    simplify = ma.fields.Float(
        validate=ma.validate.Range(min=0, max=MAX_SIMPLIFY_M),
        metadata={"description": "Simplification tolerance in metres (0 = exact)"},
    )


class AreaListArgsSchema(PageArgsSchema, SimplifyArgsSchema):
    type = ma.fields.String(validate=ma.validate.OneOf(AREA_TYPES))
    parent = ma.fields.String(
        validate=ma.validate.Length(max=40),
        metadata={"description": "Only areas inside this area (any level below it)"},
    )
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "Tolerant name match: 'kingston', 'Kensington & Chelsea'"},
    )
    format = ma.fields.String(
        validate=ma.validate.OneOf(["json", "geojson"]),
        metadata={"description": "geojson: the layer as a FeatureCollection (unpaged)"},
    )


class AreaSchema(AreaRefSchema):
    parent = ma.fields.Nested(AreaRefSchema, allow_none=True)
    vintage = ma.fields.String(metadata={"description": "Boundary vintage"})
    area_km2 = ma.fields.Float()
    bbox = ma.fields.List(
        ma.fields.Float(), metadata={"description": "[minlon, minlat, maxlon, maxlat]"}
    )


class AreaNeighbourSchema(AreaRefSchema):
    relation = ma.fields.String(metadata={"description": "touches | across_water"})


class AreaDetailSchema(AreaSchema):
    children = ma.fields.List(ma.fields.Nested(AreaRefSchema))
    neighbours = ma.fields.List(ma.fields.Nested(AreaNeighbourSchema))
    bcu = ma.fields.Nested(AreaRefSchema, allow_none=True)
    police_force = ma.fields.Nested(PoliceForceSchema)
    data_release = ma.fields.Nested(DataReleaseSchema)


class AreaPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(AreaSchema))


class FeatureSchema(Schema):
    type = ma.fields.String()
    id = ma.fields.String()
    geometry = ma.fields.Dict()
    properties = ma.fields.Dict()
