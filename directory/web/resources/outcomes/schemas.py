"""Outcomes of funded services: arguments and answers (documentation)."""

from __future__ import annotations

import marshmallow as ma

from directory.web.api import JsonNumber, Schema
from directory.web.resources.common import AreaRefSchema, ThemeRefSchema
from directory.web.resources.grants.schemas import GrantServiceSchema


class PeriodSchema(Schema):
    start = ma.fields.Date(allow_none=True)
    end = ma.fields.Date(allow_none=True)


class OutcomeReportSchema(Schema):
    type = ma.fields.String(allow_none=True, metadata={"description": "interim | final"})
    url = ma.fields.String(allow_none=True)


class MeasuredSchema(Schema):
    on = ma.fields.Date(allow_none=True, metadata={"description": "The day it was measured"})
    basis = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "measured_on (the date given) | period_end (none was given, so the "
            "period's end is taken) | null (neither is known)"
        },
    )


AFTER_FUNDING_MONTHS = (
    "Whole months from the end of the service's funding (the latest end of the "
    "community-safety awards listing it, regrants included) to when it was measured; null "
    "when measured on or before that end or the service has no dated award"
)


class OutcomeServiceSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    name = ma.fields.String()
    withdrawn = ma.fields.Boolean()
    url = ma.fields.String()


class OutcomeMetricSchema(Schema):
    metric = ma.fields.String()
    unit = ma.fields.String(allow_none=True)
    targets = ma.fields.List(ma.fields.Float(), metadata={"description": "The targets set"})
    outcomes = ma.fields.Integer()
    with_target = ma.fields.Integer()
    met_target = ma.fields.Integer()
    not_met = ma.fields.Integer()


class EvaluationSchema(Schema):
    url = ma.fields.String()
    type = ma.fields.String(allow_none=True, metadata={"description": "interim | final"})
    service = ma.fields.Nested(GrantServiceSchema)
    period = ma.fields.Nested(PeriodSchema)


class ServiceOutcomeSchema(Schema):
    id = ma.fields.Integer(
        metadata={"description": "The outcome's id: /services/{key}/outcomes/{outcome_id}, "
                  "and what a practice note cites it by"}
    )  # fmt: skip
    metric = ma.fields.String(metadata={"description": "What was measured"})
    period = ma.fields.Nested(PeriodSchema, metadata={"description": "start, end (ISO dates)"})
    value = ma.fields.Float(allow_none=True)
    target = ma.fields.Float(allow_none=True)
    unit = ma.fields.String(allow_none=True)
    met_target = ma.fields.Boolean(
        allow_none=True, metadata={"description": "value ≥ target; null when either is missing"}
    )
    report = ma.fields.Nested(
        OutcomeReportSchema,
        metadata={"description": "type (interim | final) and url of the report or evaluation"},
    )
    measured = ma.fields.Nested(
        MeasuredSchema, metadata={"description": "When it was measured: {on, basis}"}
    )
    after_funding_months = ma.fields.Integer(
        allow_none=True, metadata={"description": AFTER_FUNDING_MONTHS}
    )
    demo = ma.fields.Boolean(metadata={"description": "Illustrative demo data"})


class OutcomeCountsSchema(Schema):
    outcomes = ma.fields.Integer()
    with_target = ma.fields.Integer(
        metadata={"description": "Outcomes with both a value and a target"}
    )
    met_target = ma.fields.Integer()
    not_met = ma.fields.Integer()
    share_met = ma.fields.Float(
        allow_none=True, metadata={"description": "met_target ÷ with_target"}
    )


class ServiceOutcomesSchema(Schema):
    service = ma.fields.Nested(OutcomeServiceSchema)
    outcomes = ma.fields.List(
        ma.fields.Nested(ServiceOutcomeSchema), metadata={"description": "Newest period first"}
    )
    counts = ma.fields.Nested(OutcomeCountsSchema)
    funding_ended = ma.fields.Date(
        allow_none=True,
        metadata={
            "description": "The latest end of the community-safety awards listing the service "
            "(regrants included); null when none has an end date"
        },
    )
    rule = ma.fields.String()


class OutcomeSummaryArgsSchema(Schema):
    by = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["borough", "theme"]),
        metadata={"description": "Group outcomes by the boroughs the services serve, or by theme"},
    )
    area = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={
            "description": "Area code or name: services serving it, an area above it (London-wide, its BCU) or inside it, or with a site in it"
        },
    )


class FollowUpAfterSchema(Schema):
    eligible = ma.fields.Integer(
        metadata={"description": "Funded services whose funding ended at least this many "
                  "months before today"}
    )  # fmt: skip
    followed_up = ma.fields.Integer(
        metadata={"description": "Of those, services with any outcome measured this many "
                  "months or more after their funding ended"}
    )  # fmt: skip
    not_followed_up = ma.fields.Integer(
        metadata={"description": "eligible − followed_up: no follow-up after"}
    )
    share = ma.fields.Float(
        allow_none=True, metadata={"description": "followed_up ÷ eligible; null when none"}
    )


class FollowUpSchema(Schema):
    funded_services = ma.fields.Integer(
        metadata={"description": "Listed services in the group with a dated community-safety "
                  "award (regrants included)"}
    )  # fmt: skip
    funding_ended = ma.fields.Integer(
        metadata={"description": "Of those, services whose funding ended before today"}
    )
    after_6_months = ma.fields.Nested(FollowUpAfterSchema)
    after_12_months = ma.fields.Nested(FollowUpAfterSchema)


class SpanSchema(Schema):
    first = ma.fields.Date(allow_none=True)
    last = ma.fields.Date(allow_none=True)


class OutcomeSummaryPeriodSchema(Schema):
    measured = ma.fields.Nested(
        SpanSchema, metadata={"description": "When the outcomes counted were measured"}
    )
    funding_ends = ma.fields.Nested(
        SpanSchema, metadata={"description": "When the funded services' funding ends or ended"}
    )


class OutcomeGroupSchema(OutcomeCountsSchema):
    area = ma.fields.Nested(
        AreaRefSchema, metadata={"description": "by=borough: the area {code, name, type}"}
    )
    theme = ma.fields.Nested(
        ThemeRefSchema,
        allow_none=True,
        metadata={"description": "by=theme: {id, name}; null for services with no theme"},
    )
    services = ma.fields.Integer(metadata={"description": "Services with outcomes in the group"})
    metrics = ma.fields.List(
        ma.fields.Nested(OutcomeMetricSchema),
        metadata={
            "description": "What was measured: metric, unit, targets, outcomes, with_target, met_target, not_met"
        },
    )
    evaluations = ma.fields.List(
        ma.fields.Nested(EvaluationSchema),
        metadata={"description": "Links to reports and evaluations: url, type, service, period"},
    )
    follow_up = ma.fields.Nested(
        FollowUpSchema,
        metadata={
            "description": "Funded services followed up 6 and 12 months after their funding "
            "ended (see follow_up_rule)"
        },
    )


class OutcomeSummarySchema(Schema):
    by = ma.fields.String()
    area = ma.fields.Nested(AreaRefSchema, allow_none=True)
    today = ma.fields.Date(metadata={"description": "The day follow_up is counted on"})
    totals = ma.fields.Nested(OutcomeGroupSchema)
    period = ma.fields.Nested(OutcomeSummaryPeriodSchema)
    follow_up_rule = ma.fields.String()
    themes = ma.fields.List(
        ma.fields.Nested(OutcomeGroupSchema), metadata={"description": "by=theme"}
    )
    boroughs = ma.fields.List(
        ma.fields.Nested(OutcomeGroupSchema),
        metadata={
            "description": "by=borough: boroughs with outcomes or funding of services serving them (or their wards) or with a site there"
        },
    )
    bcu_wide = ma.fields.List(
        ma.fields.Nested(OutcomeGroupSchema),
        metadata={"description": "by=borough: services for a whole BCU, per BCU"},
    )
    london_wide = ma.fields.Nested(
        OutcomeGroupSchema, metadata={"description": "by=borough: services for all of London"}
    )
    unplaced = ma.fields.Nested(
        OutcomeGroupSchema, metadata={"description": "by=borough: services with no London area"}
    )
    rule = ma.fields.String()


class OutcomeDetailSchema(ServiceOutcomeSchema):
    """One outcome, with the service it belongs to."""

    service = ma.fields.Nested(OutcomeServiceSchema)
    funding_ended = ma.fields.Date(
        allow_none=True,
        metadata={"description": "The latest end of the awards listing the service (see rule)"},
    )
    rule = ma.fields.String()


class OutcomePatchSchema(Schema):
    """An outcome's fields as a change sends them: only those sent change (null clears)."""

    metric = ma.fields.String(
        validate=ma.validate.Length(min=1, max=300), metadata={"description": "What was measured"}
    )
    period_start = ma.fields.Date(allow_none=True)
    period_end = ma.fields.Date(allow_none=True)
    measured_on = ma.fields.Date(
        allow_none=True,
        metadata={
            "description": "When it was measured (not before period_start); when missing the "
            "answers take period_end. A date after the service's funding ended makes it a "
            "follow-up (after_funding_months)"
        },
    )
    value = JsonNumber(allow_none=True, metadata={"description": "What was achieved"})
    target = JsonNumber(allow_none=True)
    unit = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=60))
    report_type = ma.fields.String(
        allow_none=True, validate=ma.validate.OneOf(["interim", "final"]),
        metadata={"description": "interim | final"},
    )  # fmt: skip
    report_url = ma.fields.String(
        allow_none=True, validate=ma.validate.Length(max=1000),
        metadata={"description": "The report or evaluation (http or https)"},
    )  # fmt: skip


class OutcomeCreateSchema(OutcomePatchSchema):
    metric = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=300),
        metadata={"description": "What was measured"},
    )  # fmt: skip
