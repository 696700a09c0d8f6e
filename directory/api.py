"""Project-wide flask-smorest subclasses: problem+json errors and shared schemas."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import flask_smorest
import marshmallow as ma
from flask_smorest.utils import prepare_response
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import MultiDict
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

    def _register_responses(self) -> None:
        """Document the shared error responses as application/problem+json.

        flask-smorest registers them with the JSON content type; this is its own method
        with the problem media type (the only override of a private hook here)."""
        for status in HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, http.PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, http.PROBLEM_MIMETYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


class _Args(MultiDict):  # type: ignore[type-arg]
    """Query arguments whose ``get`` of an absent key is cheap: werkzeug's raises and
    catches a BadRequestKeyError, once for every field a schema declares and a request
    leaves out."""

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # noqa: A002
        if key not in self:
            return default
        return super().get(key, default, type)


class _Parser(FlaskParser):
    def load_querystring(self, req: Any, schema: ma.Schema) -> Any:
        return self._makeproxy(_Args(req.args), schema)


class Blueprint(flask_smorest.Blueprint):
    """Blueprint with the project's defaults."""

    ARGUMENTS_PARSER = _Parser()

    def arguments(self, schema: Any, **kwargs: Any) -> Any:
        """As flask-smorest's, but a schema class is instantiated once here: webargs would
        build a new instance (deep-copying every field) on every request."""
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)


class Schema(ma.Schema):
    """Base schema: keep declared order, ignore nothing silently on input."""

    class Meta:
        ordered = True
