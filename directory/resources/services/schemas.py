from __future__ import annotations

import marshmallow as ma

from directory.api import Schema
from directory.ingest.records import SERVICE_STATUSES
from directory.resources.common import AreaRefSchema, PageArgsSchema, PageSchema


class ServiceListArgsSchema(PageArgsSchema):
    status = ma.fields.String(
        validate=ma.validate.OneOf(SERVICE_STATUSES),
        metadata={"description": "Only services with this status"},
    )
    theme = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        metadata={"description": "Theme id (repeatable; all must match). See /api/v1/themes"},
    )
    organisation = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "Organisation id or ref"},
    )
    include_withdrawn = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Also list services their source no longer lists"},
    )


class OrganisationRefSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    name = ma.fields.String()
    type = ma.fields.String(allow_none=True)


class ServiceSummarySchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String(metadata={"description": "Stable reference from the source"})
    name = ma.fields.String()
    status = ma.fields.String()
    organisation = ma.fields.Nested(OrganisationRefSchema)
    themes = ma.fields.List(ma.fields.String())
    coverage = ma.fields.List(ma.fields.Nested(AreaRefSchema))
    last_verified = ma.fields.Date(allow_none=True)
    stale = ma.fields.Boolean(
        metadata={"description": "last_verified is missing or older than the stale age"}
    )
    withdrawn = ma.fields.Boolean()
    updated_at = ma.fields.String()
    demo = ma.fields.Boolean(metadata={"description": "Illustrative demo data, not a real record"})


class ServicePageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(ServiceSummarySchema))


class ServiceDetailSchema(ServiceSummarySchema):
    description = ma.fields.String(allow_none=True)
    eligibility = ma.fields.Dict()
    contact = ma.fields.Dict()
    locations = ma.fields.List(ma.fields.Dict())
    grants = ma.fields.List(ma.fields.Dict())
    outcomes = ma.fields.List(ma.fields.Dict())
    patch_contacts = ma.fields.List(ma.fields.Dict())
    created_at = ma.fields.String()
    withdrawn_at = ma.fields.String(allow_none=True)
    source = ma.fields.String()


class ChangeEventSchema(Schema):
    id = ma.fields.Integer()
    at = ma.fields.String()
    entity = ma.fields.String()
    entity_id = ma.fields.Integer()
    entity_ref = ma.fields.String()
    action = ma.fields.String(metadata={"description": "created | updated | withdrawn | restored"})
    summary = ma.fields.String()
    changes = ma.fields.Dict(metadata={"description": "field → {old, new}"})
    areas = ma.fields.List(ma.fields.Nested(AreaRefSchema))
    import_run = ma.fields.Integer(allow_none=True)


class ChangePageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(ChangeEventSchema))
