from __future__ import annotations

import marshmallow as ma

from directory.web.api import Schema
from directory.web.resources.common import AreaRefSchema, DataReleaseSchema, HierarchySchema


class LocateArgsSchema(Schema):
    lat = ma.fields.Float(metadata={"description": "WGS84 latitude (with lon)"})
    lon = ma.fields.Float(metadata={"description": "WGS84 longitude (with lat)"})
    easting = ma.fields.Float(metadata={"description": "British National Grid (with northing)"})
    northing = ma.fields.Float(metadata={"description": "British National Grid (with easting)"})


class LocateFlagsSchema(Schema):
    near_boundary = ma.fields.Boolean(
        metadata={"description": "Within the boundary margin of the borough's edge, or on it"}
    )
    generalised_boundary = ma.fields.Boolean(
        metadata={
            "description": "The ward comes from generalised (ONS BGC) polygons and the point "
            "is near a ward edge: check with a postcode"
        }
    )
    on_river = ma.fields.Boolean(
        metadata={"description": "In no borough polygon (the Thames): nearest borough used"}
    )
    ward_approximate = ma.fields.Boolean(
        metadata={"description": "No ward polygon covers the point: nearest ward of the borough"}
    )


class NearestPostcodeSchema(Schema):
    postcode = ma.fields.String()
    distance_m = ma.fields.Float()
    ward = ma.fields.Nested(AreaRefSchema)
    borough = ma.fields.Nested(AreaRefSchema)


class LocateSchema(HierarchySchema):
    easting = ma.fields.Float()
    northing = ma.fields.Float()
    also_in = ma.fields.List(
        ma.fields.Nested(AreaRefSchema),
        metadata={"description": "Other areas covering the point (it lies on a shared edge)"},
    )
    flags = ma.fields.Nested(LocateFlagsSchema)
    distance_to_borough_m = ma.fields.Float()
    nearest_postcode = ma.fields.Nested(NearestPostcodeSchema, allow_none=True)
    match = ma.fields.String(metadata={"description": "point"})
    data_release = ma.fields.Nested(DataReleaseSchema)
