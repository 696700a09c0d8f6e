"""Outcomes of funded services: arguments and answers (documentation)."""

from __future__ import annotations

import marshmallow as ma

from directory.web.api import Schema
from directory.web.resources.common import AreaRefSchema, ThemeRefSchema
from directory.web.resources.grants.schemas import GrantServiceSchema


class PeriodSchema(Schema):
    start = ma.fields.Date(allow_none=True)
    end = ma.fields.Date(allow_none=True)


class OutcomeReportSchema(Schema):
    type = ma.fields.String(allow_none=True, metadata={"description": "interim | final"})
    url = ma.fields.String(allow_none=True)


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


class OutcomeSummarySchema(Schema):
    by = ma.fields.String()
    area = ma.fields.Nested(AreaRefSchema, allow_none=True)
    totals = ma.fields.Nested(OutcomeGroupSchema)
    themes = ma.fields.List(
        ma.fields.Nested(OutcomeGroupSchema), metadata={"description": "by=theme"}
    )
    boroughs = ma.fields.List(
        ma.fields.Nested(OutcomeGroupSchema),
        metadata={
            "description": "by=borough: boroughs with outcomes of services serving them (or their wards) or with a site there"
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


class OutcomePatchSchema(Schema):
    """An outcome's fields as a change sends them: only those sent change (null clears)."""

    metric = ma.fields.String(
        validate=ma.validate.Length(min=1, max=300), metadata={"description": "What was measured"}
    )
    period_start = ma.fields.Date(allow_none=True)
    period_end = ma.fields.Date(allow_none=True)
    value = ma.fields.Float(allow_none=True, metadata={"description": "What was achieved"})
    target = ma.fields.Float(allow_none=True)
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
