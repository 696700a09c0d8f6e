from __future__ import annotations

import marshmallow as ma

from directory.web.api import Schema
from directory.web.resources.common import AreaRefSchema, PageArgsSchema, PageSchema


class GrantListArgsSchema(PageArgsSchema):
    programme = ma.fields.String(
        validate=ma.validate.Length(min=1, max=80),
        metadata={"description": "Programme id, e.g. lcpf-direct, vru, ylf"},
    )
    organisation = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "Funder or recipient: organisation id or ref"},
    )
    area = ma.fields.String(
        validate=ma.validate.Length(min=1, max=40),
        metadata={"description": "Beneficiary area code exactly as recorded"},
    )
    include_withdrawn = ma.fields.Boolean(load_default=False)


class GrantSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    title = ma.fields.String(allow_none=True)
    funder = ma.fields.Dict()
    recipient = ma.fields.Dict()
    programme = ma.fields.Dict(allow_none=True)
    amount = ma.fields.Float(allow_none=True, metadata={"description": "Pounds"})
    currency = ma.fields.String()
    awarded = ma.fields.String(allow_none=True)
    start = ma.fields.String(allow_none=True)
    end = ma.fields.String(allow_none=True)
    financial_year = ma.fields.String(allow_none=True)
    duration_months = ma.fields.Integer(allow_none=True)
    short_term = ma.fields.Boolean(allow_none=True, metadata={"description": "< 24 months"})
    meets_3yr_target = ma.fields.Boolean(allow_none=True, metadata={"description": ">= 36 months"})
    ending_soon = ma.fields.Boolean()
    status = ma.fields.String(
        metadata={"description": "planned | live | ending soon | ended | unknown"}
    )
    months_left = ma.fields.Integer(allow_none=True)
    beneficiary_areas = ma.fields.List(ma.fields.Nested(AreaRefSchema))
    regrant_type = ma.fields.String(allow_none=True)
    paid_through = ma.fields.String(
        allow_none=True, metadata={"description": "Ref of the grant the money came through"}
    )
    withdrawn = ma.fields.Boolean()
    demo = ma.fields.Boolean()


class GrantPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(GrantSchema))


class GrantDetailSchema(GrantSchema):
    description = ma.fields.String(allow_none=True)
    services = ma.fields.List(ma.fields.Dict())
    chain = ma.fields.List(
        ma.fields.Dict(),
        metadata={"description": "The grants the money passed through, nearest first"},
    )
    regrants = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "Grants paid on from this one"}
    )
    source_url = ma.fields.String(allow_none=True)
    source = ma.fields.String()
