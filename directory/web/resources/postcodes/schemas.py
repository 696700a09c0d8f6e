from __future__ import annotations

import marshmallow as ma

from directory.web.api import ProblemSchema, Schema
from directory.web.resources.common import AreaRefSchema, DataReleaseSchema, HierarchySchema


class PostcodeSchema(HierarchySchema):
    postcode = ma.fields.String(metadata={"description": "Display form, e.g. SW1A 1AA"})
    canonical = ma.fields.String(metadata={"description": "Upper case, no space: SW1A1AA"})
    outcode = ma.fields.String()
    incode = ma.fields.String()
    status = ma.fields.String(metadata={"description": "live"})
    lat = ma.fields.Float()
    lon = ma.fields.Float()
    easting = ma.fields.Float()
    northing = ma.fields.Float()
    positional_quality = ma.fields.Integer(
        allow_none=True, metadata={"description": "Code-Point Open quality: 10 best … 90"}
    )
    match = ma.fields.String(metadata={"description": "How the answer was reached: postcode"})
    data_release = ma.fields.Nested(DataReleaseSchema)


class BulkLookupSchema(Schema):
    postcodes = ma.fields.List(
        ma.fields.Raw(allow_none=True),
        required=True,
        metadata={"description": "Up to 1,000 postcodes in any case and spacing"},
    )


class BulkItemSchema(Schema):
    query = ma.fields.Raw(allow_none=True, metadata={"description": "The item as sent"})
    result = ma.fields.Nested(PostcodeSchema)
    problem = ma.fields.Nested(ProblemSchema)


class BulkResultSchema(Schema):
    results = ma.fields.List(ma.fields.Nested(BulkItemSchema))
    found = ma.fields.Integer()
    problems = ma.fields.Integer()


class OutcodeAreaSchema(AreaRefSchema):
    postcodes = ma.fields.Integer(metadata={"description": "Live postcodes of the outcode here"})


class OutcodeSchema(Schema):
    outcode = ma.fields.String()
    postcodes = ma.fields.Integer()
    boroughs = ma.fields.List(ma.fields.Nested(OutcodeAreaSchema))
    wards = ma.fields.List(ma.fields.Nested(OutcodeAreaSchema))
    bcus = ma.fields.List(ma.fields.Nested(OutcodeAreaSchema))
    outside_met = ma.fields.Boolean(
        metadata={"description": "Part of the outcode is in the City of London (no Met BCU)"}
    )
    match = ma.fields.String()
    data_release = ma.fields.Nested(DataReleaseSchema)
