from __future__ import annotations

import marshmallow as ma

from directory.web.api import Schema
from directory.web.resources.common import AreaRefSchema, DataReleaseSchema, HierarchySchema

#: the rule the place parameters of /locate (and /patch's point) keep
ONE_POINT = (
    "Give either lat and lon, or easting and northing: both of one pair, and not both pairs "
    "nor a mix (anything else is a 422 invalid-input)."
)


class LocateArgsSchema(Schema):
    lat = ma.fields.Float(
        metadata={"description": f"WGS84 latitude, -90 to 90 (with lon). {ONE_POINT}"}
    )
    lon = ma.fields.Float(
        metadata={"description": f"WGS84 longitude, -180 to 180 (with lat). {ONE_POINT}"}
    )
    easting = ma.fields.Float(
        metadata={
            "description": f"British National Grid metres, 0 to 700000 (with northing). {ONE_POINT}"
        }
    )
    northing = ma.fields.Float(
        metadata={
            "description": f"British National Grid metres, 0 to 1300000 (with easting). {ONE_POINT}"
        }
    )


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
    ward = ma.fields.Nested(AreaRefSchema, allow_none=True)
    borough = ma.fields.Nested(AreaRefSchema, allow_none=True)


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
