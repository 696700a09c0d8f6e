from __future__ import annotations

import marshmallow as ma

from directory.ingest.records import ORGANISATION_TYPES
from directory.web.api import JsonBoolean, Schema
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


class OrganisationMergeSchema(Schema):
    """What POST /organisations/{id}/merge takes: the organisation to keep."""

    into = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=300),
        metadata={"description": "The organisation to keep (id or ref): the one in the path "
                  "is merged into it"},
    )  # fmt: skip
    dry_run = JsonBoolean(
        load_default=False,
        metadata={"description": "true: say what would move; change nothing (no If-Match "
                  "needed)"},
    )  # fmt: skip


class MergedOrganisationSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    name = ma.fields.String()


class MergeMovedSchema(Schema):
    services = ma.fields.Integer(metadata={"description": "Services it ran, withdrawn too"})
    grants_made = ma.fields.Integer(metadata={"description": "Grants it made (as funder)"})
    grants_received = ma.fields.Integer()
    opportunities = ma.fields.Integer(metadata={"description": "Opportunities it offered"})
    api_keys = ma.fields.Integer(metadata={"description": "Editors' keys for it"})
    feedback = ma.fields.Integer()
    practice_notes = ma.fields.Integer()
    programmes = ma.fields.Integer(metadata={"description": "Programmes naming it as funder"})
    aliases = ma.fields.Integer(
        metadata={"description": "Organisations merged into it earlier (their refs follow)"}
    )


class MergeRefsSchema(Schema):
    services = ma.fields.List(ma.fields.String())
    grants = ma.fields.List(ma.fields.String())
    opportunities = ma.fields.List(ma.fields.String())
    api_keys = ma.fields.List(ma.fields.String(), metadata={"description": "#id name"})
    programmes = ma.fields.List(ma.fields.String())
    aliases = ma.fields.List(ma.fields.String())


class MergeAliasSchema(Schema):
    ref = ma.fields.String(metadata={"description": "The merged organisation's ref"})
    id = ma.fields.Integer(metadata={"description": "Its id"})
    organisation = ma.fields.String(metadata={"description": "The ref they now name"})


class OrganisationMergeReportSchema(Schema):
    """What a merge moved (or, a dry run, would move)."""

    status = ma.fields.String(metadata={"description": "merged, or dry-run"})
    run_id = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "The import run it is recorded as (/api/v1/imports/{id}); "
                  "null for a dry run"},
    )  # fmt: skip
    duplicate = ma.fields.Nested(MergedOrganisationSchema)
    into = ma.fields.Nested(MergedOrganisationSchema)
    moved = ma.fields.Nested(MergeMovedSchema)
    refs = ma.fields.Nested(
        MergeRefsSchema, metadata={"description": "What moved, by ref (the first 1,000 each)"}
    )
    filled = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.String(),
        metadata={"description": "The fields the organisation kept lacked, filled from the "
                  "duplicate's: field → value"},
    )  # fmt: skip
    alias = ma.fields.Nested(MergeAliasSchema)
    change_events = ma.fields.Integer()
    seconds = ma.fields.Float()
