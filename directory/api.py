"""Project-wide flask-smorest subclasses: problem+json errors and shared schemas."""

from __future__ import annotations

import weakref
from http import HTTPStatus
from typing import Any

import flask
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


class _QueryShape:
    """What the parser needs to know about one query schema, worked out once."""

    #: field subsets kept per schema (distinct combinations of parameters sent)
    MAX_SUBSETS = 256

    def __init__(self, schema: ma.Schema, repeatable: frozenset[str]) -> None:
        self.schema = schema
        self.repeatable = repeatable  # data keys of fields taking repeated values
        self.names = {field.data_key or name: name for name, field in schema.fields.items()}
        self.always = frozenset(
            name
            for name, field in schema.fields.items()
            if field.required or field.load_default is not ma.missing
        )
        self.subsets: dict[frozenset[str], ma.Schema] = {}

    def subset(self, sent: Any) -> ma.Schema:
        """The schema cut down to the fields sent plus those with defaults or required:
        marshmallow visits every declared field on every load, sent or not."""
        names = self.always.union(self.names[key] for key in sent if key in self.names)
        schema = self.subsets.get(names)
        if schema is None:
            original = self.schema
            schema = type(original)(only=names, unknown=original.unknown)
            if len(self.subsets) < self.MAX_SUBSETS:
                self.subsets[names] = schema
        return schema


class _Parser(FlaskParser):
    """webargs' Flask parser, with cheaper query strings (parsed on every read).

    webargs wraps the query in a proxy that decides field by field, on every lookup,
    whether a field takes repeated values; here that is decided once per schema and the
    schema gets a dict of the arguments sent (a list for repeatable fields, else the first
    value, as webargs does). And the schema that loads them is cut down to the fields
    sent (plus defaults and required ones), so a request sending one of fifteen documented
    parameters does not pay for the other fourteen; validation and messages are the same."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shapes: weakref.WeakKeyDictionary[ma.Schema, _QueryShape] = (
            weakref.WeakKeyDictionary()
        )

    def _shape(self, schema: ma.Schema) -> _QueryShape:
        shape = self._shapes.get(schema)
        if shape is None:
            repeatable = frozenset(self._makeproxy(MultiDict(), schema).multiple_keys)
            shape = self._shapes[schema] = _QueryShape(schema, repeatable)
        return shape

    def parse(
        self, argmap: Any, req: Any = None, *, location: str | None = None, **kwargs: Any
    ) -> Any:
        if (
            location == "query"
            and isinstance(argmap, ma.Schema)
            and argmap.only is None
            and not argmap.exclude
            and not argmap.many
        ):
            argmap = self._shape(argmap).subset((req or flask.request).args)
        return super().parse(argmap, req, location=location, **kwargs)

    def load_querystring(self, req: Any, schema: ma.Schema) -> Any:
        repeatable = self._shape(schema).repeatable
        args = req.args
        return {key: args.getlist(key) if key in repeatable else args[key] for key in args}


class Blueprint(flask_smorest.Blueprint):
    """Blueprint with the project's defaults."""

    ARGUMENTS_PARSER = _Parser()

    def arguments(self, schema: Any, **kwargs: Any) -> Any:
        """As flask-smorest's, but a schema class is instantiated once here: webargs would
        build a new instance (deep-copying every field) on every request."""
        return super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)

    def alt_response(self, *args: Any, **kwargs: Any) -> Any:
        """As flask-smorest's, which only documents a response but also wraps the view in
        one more call per request; here the documentation is attached to the view itself."""
        document = super().alt_response(*args, **kwargs)

        def decorator(func: Any) -> Any:
            func._apidoc = document(func)._apidoc
            return func

        return decorator


class Schema(ma.Schema):
    """Base schema: keep declared order, ignore nothing silently on input."""

    class Meta:
        ordered = True
