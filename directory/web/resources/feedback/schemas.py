"""Feedback: what the public sends, the receipt, and what moderators read and write."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from directory.ingest.records import SERVICE_STATUSES
from directory.usecases.feedback import CATEGORIES, CORRECTABLE, MAX_EMAIL, MAX_TEXT, STATUSES
from directory.web.api import Schema
from directory.web.resources.common import PageArgsSchema, PageSchema

#: the honeypot: a field the page hides from people; a form that fills it is a robot's
TRAP = "website"
TRAP_LENGTH = 200


class FeedbackFormSchema(Schema):
    """What a member of the public sends (JSON, or an HTML form's fields)."""

    category = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(CATEGORIES),
        metadata={"description": "out_of_date | closed | correction | question | other"},
    )
    text = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_TEXT),
        metadata={
            "description": f"What you want to tell us (plain text, at most {MAX_TEXT:,} "
            "characters; never shown publicly, and never rendered as HTML)"
        },
    )
    email = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=MAX_EMAIL),
        metadata={
            "description": "Optional: an address to reply to. Personal data: only the people "
            "who moderate feedback see it; it is never published"
        },
    )
    website = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=TRAP_LENGTH),
        metadata={
            "description": "Leave empty. A field people never see on the page: feedback that "
            "fills it is answered as received and not kept (it is taken for a robot's)"
        },
    )


class FeedbackAboutSchema(Schema):
    kind = ma.fields.String(metadata={"description": "service | opportunity"})
    id = ma.fields.Integer()
    ref = ma.fields.String(allow_none=True)
    name = ma.fields.String(allow_none=True, metadata={"description": "null if since removed"})
    url = ma.fields.String(allow_none=True)


class FeedbackReceiptSchema(Schema):
    received = ma.fields.Boolean()
    about = ma.fields.Nested(FeedbackAboutSchema)
    category = ma.fields.String()
    received_at = ma.fields.String()
    message = ma.fields.String()


class FeedbackChangeSchema(Schema):
    old = ma.fields.Raw(allow_none=True)
    new = ma.fields.Raw(allow_none=True)


class FeedbackCorrectionSchema(Schema):
    changes = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(FeedbackChangeSchema),
        metadata={"description": "The service's fields the correction changed, old → new"},
    )
    import_run = ma.fields.Integer(
        metadata={"description": "The run it was written as (/api/v1/imports/{id}; its "
                  "`actor` is the key that accepted it)"},
    )  # fmt: skip


class FeedbackSchema(Schema):
    id = ma.fields.Integer()
    about = ma.fields.Nested(FeedbackAboutSchema)
    category = ma.fields.String()
    text = ma.fields.String(metadata={"description": "As sent: plain text, never HTML"})
    email = ma.fields.String(
        allow_none=True, metadata={"description": "Personal data: never published"}
    )
    status = ma.fields.String(metadata={"description": "new | answered | closed"})
    answer = ma.fields.String(allow_none=True)
    answered_by = ma.fields.String(
        allow_none=True, metadata={"description": "The name of the key that answered"}
    )
    answered_at = ma.fields.String(allow_none=True)
    correction = ma.fields.Nested(
        FeedbackCorrectionSchema,
        allow_none=True,
        metadata={"description": "The correction of the service accepted with the answer"},
    )
    created_at = ma.fields.String()
    updated_at = ma.fields.String()


class FeedbackPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(FeedbackSchema))


class FeedbackListArgsSchema(PageArgsSchema):
    status = ma.fields.String(
        validate=ma.validate.OneOf(STATUSES), metadata={"description": "new | answered | closed"}
    )
    service = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "Only feedback about this service (id or ref)"},
    )
    opportunity = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "Only feedback about this funding opportunity (id or ref)"},
    )

    @ma.validates_schema
    def _one_target(self, data: dict[str, Any], **_: Any) -> None:
        if "service" in data and "opportunity" in data:
            raise ma.ValidationError("Give service or opportunity, not both.", "opportunity")


class ServiceCorrectionSchema(Schema):
    """The service's own fields a correction may change (as an import would write them)."""

    name = ma.fields.String(validate=ma.validate.Length(min=1, max=CORRECTABLE["name"]))
    description = ma.fields.String(
        allow_none=True, validate=ma.validate.Length(max=CORRECTABLE["description"])
    )
    status = ma.fields.String(validate=ma.validate.OneOf(SERVICE_STATUSES))
    email = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=CORRECTABLE["email"]))
    phone = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=CORRECTABLE["phone"]))
    website = ma.fields.String(
        allow_none=True, validate=ma.validate.Length(max=CORRECTABLE["website"])
    )
    eligibility = ma.fields.String(
        allow_none=True, validate=ma.validate.Length(max=CORRECTABLE["eligibility"])
    )
    referral = ma.fields.String(
        allow_none=True, validate=ma.validate.Length(max=CORRECTABLE["referral"])
    )


class FeedbackPatchSchema(Schema):
    status = ma.fields.String(
        validate=ma.validate.OneOf(STATUSES), metadata={"description": "new | answered | closed"}
    )
    answer = ma.fields.String(
        allow_none=True,
        validate=ma.validate.Length(max=MAX_TEXT),
        metadata={"description": "The reply (kept with the key's name; new feedback becomes "
                  "answered unless a status is given)"},
    )  # fmt: skip
    correction = ma.fields.Nested(
        ServiceCorrectionSchema,
        metadata={
            "description": "Accept a correction: the service's fields to change. Written as an "
            "audited write (a run naming the key, a change event in /changes and the "
            "service's history, a new data version)"
        },
    )
