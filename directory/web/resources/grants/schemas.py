from __future__ import annotations

import marshmallow as ma

from directory.usecases.catalogue import GRANT_AREA_RULE, GRANT_STATUSES
from directory.web.api import Schema
from directory.web.resources.common import (
    AreaRefSchema,
    PageArgsSchema,
    PageSchema,
    ProgrammeId,
    ProgrammeRefSchema,
    RefNameSchema,
)


class GrantFilterArgsSchema(Schema):
    """GET /grants' filters (also the 360Giving package's, which has no paging)."""

    programme = ProgrammeId(
        validate=ma.validate.Length(min=1, max=80),
        metadata={
            "description": "Programme id, e.g. lcpf-direct, vru, ylf (see /programmes); an "
            "unknown id is a 404 programme-not-found problem"
        },
    )
    organisation = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "Funder or recipient: organisation id or ref"},
    )
    funder = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={
            "description": "The funder: organisation id or ref (org-id such as GB-GOR-PC390); "
            "an unknown one is a 404 organisation-not-found problem"
        },
    )
    recipient = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "The recipient: organisation id or ref (org-id such as GB-CHC-…)"},
    )
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={
            "description": "Words: each must start a word (case, accents and punctuation "
            "aside) of the grant's title or its funder's, recipient's or programme's name, "
            "or appear in its ref as written (ignoring case); `-word` leaves out what has "
            "it; `&`, `and` and a few stop words are left out"
        },
    )
    status = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(GRANT_STATUSES)),
        metadata={
            "description": "Status on today's date, as each grant's status field derives it: "
            "planned (starts after today), ended (ended before today), ending soon (ends "
            "within the ending-soon window), live (running, not ending soon), unknown (no "
            "dates). Repeatable: any of them (`status=live&status=ending%20soon` is every "
            "grant running today)"
        },
    )
    area = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": GRANT_AREA_RULE},
    )
    include_withdrawn = ma.fields.Boolean(load_default=False)


class GrantListArgsSchema(PageArgsSchema, GrantFilterArgsSchema):
    format = ma.fields.String(
        validate=ma.validate.OneOf(["json", "csv", "360giving"]),
        metadata={
            "description": "json (default); csv: the page as CSV, one row per grant (also with "
            "Accept: text/csv); or 360giving: a 307 redirect to /api/v1/grants.360giving.json "
            "with the same filters (every grant they keep, as one 360Giving package)"
        },
    )


class NotPublishedSchema(Schema):
    id = ma.fields.String(metadata={"description": "The grant's id (ref)"})
    reasons = ma.fields.List(ma.fields.String())


class Giving360PackageSchema(Schema):
    """A 360Giving Data Standard package (schema 1.4); each grant as the standard's schema
    describes it (https://standard.threesixtygiving.org/)."""

    grants = ma.fields.List(ma.fields.Dict(), metadata={"description": "360Giving grants"})
    version = ma.fields.String(metadata={"description": "The 360Giving schema version: 1.4"})
    title = ma.fields.String()
    description = ma.fields.String()
    publisher = ma.fields.Dict()
    issued = ma.fields.String()
    modified = ma.fields.String()
    notPublished = ma.fields.List(
        ma.fields.Nested(NotPublishedSchema),
        metadata={
            "description": "Our extension: the grants the filters keep that 360Giving cannot "
            "carry validly (no award date or no amount awarded: both required), with why"
        },
    )


class GrantSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    title = ma.fields.String(allow_none=True)
    funder = ma.fields.Nested(RefNameSchema, metadata={"description": "The funder: ref, name"})
    recipient = ma.fields.Nested(
        RefNameSchema, metadata={"description": "The recipient: ref, name"}
    )
    programme = ma.fields.Nested(ProgrammeRefSchema, allow_none=True)
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
    decided_after_start_days = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "The award date minus the first day of the period it funds (its "
            "start, else 1 April of its financial year); negative or 0 = on time; null when "
            "undated. GET /funding/timeliness states the rule"
        },
    )
    late = ma.fields.Boolean(
        allow_none=True, metadata={"description": "Decided after its period began"}
    )
    late_by_months = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "Whole calendar months from the period's start to the decision"},
    )
    beneficiary_areas = ma.fields.List(ma.fields.Nested(AreaRefSchema))
    regrant_type = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "360Giving's Regrant Type code (FRG010–FRG070): this grant was made "
            "to a grantmaker for onward distribution as grants (its regrants name it in "
            "paid_through); null when none is recorded"
        },
    )
    paid_through = ma.fields.String(
        allow_none=True, metadata={"description": "Ref of the grant the money came through"}
    )
    withdrawn = ma.fields.Boolean()
    demo = ma.fields.Boolean()


class GrantPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(GrantSchema))


class GrantServiceSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    name = ma.fields.String()


class GrantChainLinkSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    funder = ma.fields.String(allow_none=True, metadata={"description": "The funder's name"})
    recipient = ma.fields.String(allow_none=True, metadata={"description": "The recipient's name"})
    title = ma.fields.String(allow_none=True)
    note = ma.fields.String(
        metadata={
            "description": "Only for a ref the directory does not hold, or one already in the "
            "chain (a loop of paid through, which imports refuse: the chain stops there); "
            "then ref alone"
        }
    )


class RegrantSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    recipient = ma.fields.String(allow_none=True, metadata={"description": "The recipient's name"})
    amount = ma.fields.Float(allow_none=True, metadata={"description": "Pounds"})


class GrantDetailSchema(GrantSchema):
    description = ma.fields.String(allow_none=True)
    services = ma.fields.List(
        ma.fields.Nested(GrantServiceSchema), metadata={"description": "Services it funds"}
    )
    chain = ma.fields.List(
        ma.fields.Nested(GrantChainLinkSchema),
        metadata={"description": "The grants the money passed through, nearest first"},
    )
    regrants = ma.fields.List(
        ma.fields.Nested(RegrantSchema), metadata={"description": "Grants paid on from this one"}
    )
    source_url = ma.fields.String(allow_none=True)
    source = ma.fields.String()
