"""Project-wide flask-smorest subclasses: problem+json errors and shared schemas."""

from __future__ import annotations

from typing import Any

import flask_smorest
import marshmallow as ma
from werkzeug.exceptions import HTTPException

from directory import http


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem; every error response has this shape."""

    type = ma.fields.String(metadata={"description": "A URI reference naming the problem type"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String(metadata={"description": "Plain-English explanation"})
    instance = ma.fields.String(metadata={"description": "The request path"})
    code = ma.fields.String(metadata={"description": "Stable machine-readable code"})
    errors = ma.fields.Dict(
        metadata={"description": "For validation problems: messages keyed by field"}
    )


class Api(flask_smorest.Api):
    """The application's Api: renders every HTTP error as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Any:
        return http.http_exception_response(error)


class Blueprint(flask_smorest.Blueprint):
    """Blueprint with the project's defaults (kept for shared behaviour)."""


class Schema(ma.Schema):
    """Base schema: keep declared order, ignore nothing silently on input."""

    class Meta:
        ordered = True
