from __future__ import annotations

import marshmallow as ma

from directory.ingest.records import ORGANISATION_TYPES
from directory.web.api import Schema
from directory.web.resources.common import PageArgsSchema, PageSchema


class OrganisationListArgsSchema(PageArgsSchema):
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "Name contains this text (case-insensitive)"},
    )
    type = ma.fields.String(validate=ma.validate.OneOf(ORGANISATION_TYPES))


class OrganisationSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String(metadata={"description": "org-id (GB-CHC-…) or a derived org: ref"})
    name = ma.fields.String()
    type = ma.fields.String(allow_none=True)
    identifiers = ma.fields.Dict()
    size_band = ma.fields.String(allow_none=True)
    website = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    description = ma.fields.String(allow_none=True)
    demo = ma.fields.Boolean()


class OrganisationPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(OrganisationSchema))


class OrganisationDetailSchema(OrganisationSchema):
    services = ma.fields.List(ma.fields.Dict())
    grants_received = ma.fields.List(ma.fields.Dict())
    grants_made = ma.fields.List(ma.fields.Dict())
