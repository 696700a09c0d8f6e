from __future__ import annotations

import marshmallow as ma

from directory.ingest.records import ORGANISATION_TYPES
from directory.web.api import Schema
from directory.web.resources.common import PageArgsSchema, PageSchema
from directory.web.resources.grants.schemas import GrantSchema
from directory.web.resources.services.schemas import ServiceSummarySchema


class OrganisationListArgsSchema(PageArgsSchema):
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={
            "description": "Words of the name: each must start a word of it, case, accents "
            'and punctuation aside (`cafe` finds "Café", `haven` "Kingston Haven Trust"; '
            '`ham` not "Lewisham"); `-word` leaves out what has it; `&`, `and` and a few '
            "stop words are left out"
        },
    )
    type = ma.fields.String(validate=ma.validate.OneOf(ORGANISATION_TYPES))


class IdentifiersSchema(Schema):
    org_id = ma.fields.String(allow_none=True, metadata={"description": "null for org: refs"})
    charity_number = ma.fields.String(allow_none=True)
    company_number = ma.fields.String(allow_none=True)


class OrganisationSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String(metadata={"description": "org-id (GB-CHC-…) or a derived org: ref"})
    name = ma.fields.String()
    type = ma.fields.String(allow_none=True)
    identifiers = ma.fields.Nested(IdentifiersSchema)
    size_band = ma.fields.String(allow_none=True)
    website = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    description = ma.fields.String(allow_none=True)
    demo = ma.fields.Boolean()


class OrganisationPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(OrganisationSchema))


class OrganisationDetailSchema(OrganisationSchema):
    services = ma.fields.List(ma.fields.Nested(ServiceSummarySchema))
    grants_received = ma.fields.List(ma.fields.Nested(GrantSchema))
    grants_made = ma.fields.List(ma.fields.Nested(GrantSchema))
