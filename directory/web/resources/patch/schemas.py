from __future__ import annotations

import marshmallow as ma

from directory.ingest.records import SERVICE_STATUSES
from directory.usecases.patch import DEFAULT_RADIUS_M, MAX_RADIUS_M
from directory.web.api import Schema
from directory.web.resources.common import (
    PageArgsSchema,
    PageSchema,
    include_other_programmes_field,
)
from directory.web.resources.funding.schemas import (
    FundingHeadlineSchema,
    FundingProgrammesSchema,
    GroupScopesSchema,
)


class PatchFilterSchema(Schema):
    theme = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        metadata={"description": "Theme id (repeatable; a service must have all)"},
    )
    programme = ma.fields.String(
        validate=ma.validate.Length(min=1, max=80),
        metadata={"description": "Only services with a live grant from this programme (id)"},
    )
    status = ma.fields.String(
        load_default="active",
        validate=ma.validate.OneOf([*SERVICE_STATUSES, "any"]),
        metadata={"description": "Service status; `any` for all (default active)"},
    )
    live_on = ma.fields.Date(
        metadata={
            "description": "Only services with a grant covering this date; also the date of the funding summary"
        }
    )
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={
            "description": "Every word must appear in the service, organisation or theme names or the description"
        },
    )
    radius = ma.fields.Float(
        load_default=DEFAULT_RADIUS_M,
        validate=ma.validate.Range(min=1, max=MAX_RADIUS_M),
        metadata={
            "description": f"Metres around a postcode or point for nearby sites (default {DEFAULT_RADIUS_M}, at most {MAX_RADIUS_M})"
        },
    )
    include_other_programmes = include_other_programmes_field()


class PatchArgsSchema(PatchFilterSchema, PageArgsSchema):
    format = ma.fields.String(
        validate=ma.validate.OneOf(["json", "geojson", "csv"]),
        metadata={
            "description": "geojson: the page's services as a FeatureCollection (one "
            "Feature per delivery site); csv: one row per service. Also by Accept."
        },
    )
    postcode = ma.fields.String(validate=ma.validate.Length(min=1, max=40))
    lat = ma.fields.Float(metadata={"description": "WGS84 latitude (with lon)"})
    lon = ma.fields.Float(metadata={"description": "WGS84 longitude (with lat)"})
    easting = ma.fields.Float(metadata={"description": "British National Grid (with northing)"})
    northing = ma.fields.Float(metadata={"description": "British National Grid (with easting)"})
    area = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={
            "description": 'An area code (E09…, E05…, bcu-…, E12000007) or name ("Kingston", "Central West BCU")'
        },
    )


class PatchServicePageSchema(PageSchema):
    contents = ma.fields.List(
        ma.fields.Dict(),
        metadata={"description": "Services, each with `relations`: why it is in the patch"},
    )


class _RefNameSchema(Schema):
    ref = ma.fields.String()
    name = ma.fields.String()


class _ProgrammeRefSchema(Schema):
    id = ma.fields.String()
    name = ma.fields.String()


class PatchAwardSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    title = ma.fields.String(allow_none=True)
    funder = ma.fields.Nested(_RefNameSchema)
    recipient = ma.fields.Nested(_RefNameSchema)
    programme = ma.fields.Nested(_ProgrammeRefSchema, allow_none=True)
    amount = ma.fields.Float(allow_none=True, metadata={"description": "Pounds"})
    start = ma.fields.Date(allow_none=True)
    end = ma.fields.Date(allow_none=True)
    status = ma.fields.String(
        metadata={"description": "planned | live | ending soon | ended | unknown, on live_on"}
    )
    scope = ma.fields.String(
        metadata={
            "description": "Where it reaches the patch: ward | part | borough | bcu | london "
            "(as funding.by_programme[].by_scope)"
        }
    )
    community_safety = ma.fields.Boolean()
    demo = ma.fields.Boolean()
    url = ma.fields.String(metadata={"description": "/api/v1/grants/{id}"})


class PatchAwardsSchema(Schema):
    live_on = ma.fields.Date()
    ended_since = ma.fields.Date(
        metadata={"description": "Awards that ended on or after this day are listed"}
    )
    total = ma.fields.Integer(metadata={"description": "Awards reaching the patch in all"})
    listed = ma.fields.Integer(metadata={"description": "Awards in contents (at most limit)"})
    limit = ma.fields.Integer()
    contents = ma.fields.List(ma.fields.Nested(PatchAwardSchema))
    all_url = ma.fields.String(
        metadata={"description": "/api/v1/grants?area=<code>: every award reaching the area"}
    )
    programmes = ma.fields.Dict(
        metadata={
            "description": "Which programmes are listed: counted (community_safety, all or "
            "programme) and its rule"
        }
    )
    rule = ma.fields.String()
    sort = ma.fields.String()


class PatchFundingMoneySchema(Schema):
    awards = ma.fields.Integer()
    amount = ma.fields.Float(metadata={"description": "Pounds, each award in full"})


class PatchFundingScopesSchema(Schema):
    ward = ma.fields.Nested(PatchFundingMoneySchema)
    part = ma.fields.Nested(PatchFundingMoneySchema)
    borough = ma.fields.Nested(PatchFundingMoneySchema)
    bcu = ma.fields.Nested(PatchFundingMoneySchema)
    london = ma.fields.Nested(PatchFundingMoneySchema)


class PatchFundingProgrammeSchema(PatchFundingMoneySchema):
    programme = ma.fields.Nested(
        _ProgrammeRefSchema,
        allow_none=True,
        metadata={"description": "null for awards with no programme"},
    )
    community_safety = ma.fields.Boolean()
    by_scope = ma.fields.Nested(
        PatchFundingScopesSchema,
        metadata={
            "description": "By the scope each award first reaches the patch at (ward, part, "
            "borough, bcu, london): present scopes only"
        },
    )
    scopes = ma.fields.Nested(
        GroupScopesSchema,
        metadata={
            "description": "By the award's scope at the patch's own area, as in headline "
            "(own, shared, borough_wide, bcu_wide, london_wide), each award in full"
        },
    )


class PatchFundingSchema(Schema):
    live_on = ma.fields.Date()
    awards = ma.fields.Integer(metadata={"description": "Live awards reaching the patch"})
    amount = ma.fields.Float(
        metadata={
            "description": "Pounds, every live award reaching the patch in full (London-wide "
            "and BCU-wide ones included): see headline for the patch's own"
        }
    )
    headline = ma.fields.Nested(
        FundingHeadlineSchema,
        metadata={
            "description": "The patch's own live awards (its ward, or the area asked for and "
            "the areas inside it) apart from the shared and wider ones, as "
            "/funding/summary?area= gives them"
        },
    )
    by_programme = ma.fields.List(
        ma.fields.Nested(PatchFundingProgrammeSchema),
        metadata={"description": "Largest amount first"},
    )
    programmes = ma.fields.Nested(
        FundingProgrammesSchema, metadata={"description": "Which programmes are counted"}
    )
    rule = ma.fields.String()


class PatchSchema(Schema):
    ward = ma.fields.Dict(allow_none=True)
    borough = ma.fields.Dict(allow_none=True)
    bcu = ma.fields.Dict(allow_none=True)
    region = ma.fields.Dict()
    police_force = ma.fields.Dict()
    match = ma.fields.String(metadata={"description": "postcode | point | area"})
    flags = ma.fields.Dict()
    filters = ma.fields.Dict()
    counts = ma.fields.Dict(metadata={"description": "Services in all, and per relation"})
    funding = ma.fields.Nested(
        PatchFundingSchema,
        metadata={
            "description": "Live awards into the patch by programme and scope; community-safety "
            "programmes only unless include_other_programmes=true (see its programmes member)"
        },
    )
    awards = ma.fields.Nested(
        PatchAwardsSchema,
        metadata={
            "description": "The awards reaching the patch, live on live_on (default today) or "
            "ended within the 12 months before, whether or not they fund a listed service; "
            "newest first, the first 50 (all_url for the rest)"
        },
    )
    contacts = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "Patch contacts (SPOC, SNB chair, BCU lead)"}
    )
    services = ma.fields.Nested(PatchServicePageSchema)
    sort = ma.fields.String()


class PatchLookupSchema(PatchFilterSchema):
    postcodes = ma.fields.List(
        ma.fields.Raw(allow_none=True),
        required=True,
        metadata={"description": "Up to 1,000 postcodes (a SPOC's caseload)"},
    )
    detail = ma.fields.String(
        load_default="ids",
        validate=ma.validate.OneOf(["ids", "full"]),
        metadata={"description": "ids: service ids and counts; full: the services themselves"},
    )


class PatchLookupResultSchema(Schema):
    results = ma.fields.List(ma.fields.Dict())
    found = ma.fields.Integer()
    problems = ma.fields.Integer()


class PartnerArgsSchema(PageArgsSchema):
    organisation = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "Find partners for this organisation (id or ref)"},
    )
    postcode = ma.fields.String(
        validate=ma.validate.Length(min=1, max=40),
        metadata={"description": "…or for work at this postcode (with theme)"},
    )
    theme = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        metadata={"description": "Themes to match (repeatable); required with postcode"},
    )


class PartnersSchema(Schema):
    note = ma.fields.String(
        allow_none=True,
        metadata={"description": "Why nothing can match (an organisation with no themed services)"},
    )
    subject = ma.fields.Dict()
    partners = ma.fields.Dict(
        metadata={
            "description": "Page envelope of ranked organisations, each with its reasons, its public "
            "contact (e-mail, phone, website) and demo (every listed service it runs is a demo "
            "record, or the organisation is)"
        }
    )
    ranking = ma.fields.String()
