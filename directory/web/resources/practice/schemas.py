"""Practice notes: what worked, as published and as written."""

from __future__ import annotations

import marshmallow as ma

from directory.usecases.practice import MAX_SUMMARY, MAX_TITLE, MAX_URL
from directory.web.api import JsonInteger, Schema
from directory.web.resources.common import PageArgsSchema, PageSchema
from directory.web.resources.outcomes.schemas import PeriodSchema


class PracticeOutcomeSchema(Schema):
    id = ma.fields.Integer()
    metric = ma.fields.String()
    period = ma.fields.Nested(PeriodSchema, metadata={"description": "start, end (ISO dates)"})
    value = ma.fields.Float(allow_none=True)
    target = ma.fields.Float(allow_none=True)
    unit = ma.fields.String(allow_none=True)


class PracticeServiceSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    name = ma.fields.String()
    url = ma.fields.String()


class PracticeOrganisationSchema(Schema):
    id = ma.fields.Integer()
    ref = ma.fields.String()
    name = ma.fields.String()


class PracticeNoteSchema(Schema):
    id = ma.fields.Integer()
    title = ma.fields.String()
    summary = ma.fields.String(metadata={"description": "Plain text, never HTML"})
    evidence_url = ma.fields.String(allow_none=True)
    themes = ma.fields.List(ma.fields.String(), metadata={"description": "Theme ids"})
    outcomes = ma.fields.List(
        ma.fields.Nested(PracticeOutcomeSchema),
        metadata={"description": "The service's outcomes the note rests on"},
    )
    service = ma.fields.Nested(PracticeServiceSchema)
    organisation = ma.fields.Nested(PracticeOrganisationSchema)
    author = ma.fields.String(metadata={"description": "The name of the key that wrote it"})
    published_at = ma.fields.String()
    updated_at = ma.fields.String()
    url = ma.fields.String()


class PracticePageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(PracticeNoteSchema))


class PracticeListArgsSchema(PageArgsSchema):
    theme = ma.fields.String(
        validate=ma.validate.Length(min=1, max=40),
        metadata={"description": "Theme id (see /api/v1/themes)"},
    )
    area = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={
            "description": "Area code (any case) or name: notes whose service is in it, as "
            "/api/v1/services?area= matches a service (coverage of the area, an area above or "
            "inside it, or a delivery site inside it)"
        },
    )
    service = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "Only this service's notes (id or ref)"},
    )


def _text(limit: int, description: str, **options: object) -> ma.fields.String:
    return ma.fields.String(
        validate=ma.validate.Length(min=1, max=limit),
        metadata={"description": description},
        **options,  # type: ignore[arg-type]
    )


class PracticeNoteChangeSchema(Schema):
    """A note's members as written (PATCH: only those sent change)."""

    title = _text(MAX_TITLE, f"At most {MAX_TITLE} characters")
    summary = _text(MAX_SUMMARY, f"What worked and why, plain text; at most {MAX_SUMMARY:,}")
    evidence_url = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=MAX_URL),
        metadata={"description": "A link to the evaluation or report (http or https)"},
    )
    themes = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        validate=ma.validate.Length(max=20),
        metadata={"description": "Theme ids (see /api/v1/themes)"},
    )
    outcomes = ma.fields.List(
        JsonInteger(validate=ma.validate.Range(min=1, max=2**31 - 1)),
        validate=ma.validate.Length(max=50),
        metadata={
            "description": "Ids of the service's own outcomes the note rests on (see "
            "/api/v1/services/{key}/outcomes)"
        },
    )


class _IdOrRef(ma.fields.String):
    """A record's ref, or its id (a whole number, also taken unquoted)."""

    def _deserialize(self, value: object, attr: str | None, data: object, **kwargs: object) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)  # type: ignore[no-any-return]


class PracticeNoteNewSchema(PracticeNoteChangeSchema):
    service = _IdOrRef(
        required=True,
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "The service (id or ref); an editor's own organisation's"},
    )
    title = _text(MAX_TITLE, f"At most {MAX_TITLE} characters", required=True)
    summary = _text(
        MAX_SUMMARY, f"What worked and why, plain text; at most {MAX_SUMMARY:,}", required=True
    )
