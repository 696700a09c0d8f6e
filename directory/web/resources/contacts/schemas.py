from __future__ import annotations

import marshmallow as ma

from directory.web.api import JsonBoolean, Schema
from directory.web.resources.common import ContactSchema, PageArgsSchema, PageSchema


class ContactListArgsSchema(PageArgsSchema):
    area = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "Area code or name: its contacts and those of the areas "
                  "inside it (a BCU's boroughs, a borough's wards)"},
    )  # fmt: skip


class ContactPageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(ContactSchema))


class ContactPatchSchema(Schema):
    """A patch contact's fields as a change sends them: only those sent change (null
    clears)."""

    area = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "The area (code or name): a borough, a BCU, a ward, London"},
    )
    role = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "Borough SPOC, SNB chair, BCU lead …"},
    )
    name = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=300))
    email = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=300))
    phone = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=60))
    email_public = JsonBoolean(
        metadata={"description": "Whether the email may be published: a person's address is "
                  "personal data, shown in reads only when this is true (default false)"},
    )  # fmt: skip


class ContactCreateSchema(ContactPatchSchema):
    area = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "The area (code or name): a borough, a BCU, a ward, London"},
    )  # fmt: skip
    role = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "Borough SPOC, SNB chair, BCU lead …"},
    )  # fmt: skip
