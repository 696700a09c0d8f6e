"""Schemas of the problem types' pages."""

from __future__ import annotations

import marshmallow as ma

from directory.web.api import Schema


class ProblemTypeArgsSchema(Schema):
    f = ma.fields.String(
        validate=ma.validate.OneOf(["html", "json"]),
        metadata={"description": "html (the default) or json"},
    )


class ProblemTypeSchema(Schema):
    """A problem code documented: the ``type`` of its problems leads here."""

    code = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    meaning = ma.fields.String(required=True, metadata={"description": "What it means"})
    action = ma.fields.String(required=True, metadata={"description": "What to do"})
