"""Project-wide flask-smorest subclasses: problem+json errors and shared schemas."""

from __future__ import annotations

import functools
from http import HTTPStatus
from typing import Any

import flask
import flask_smorest
import marshmallow as ma
from flask_smorest.utils import prepare_response
from webargs.flaskparser import abort
from webargs.multidictproxy import MultiDictProxy
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


class _QueryArguments:
    """Loads one schema's query arguments: the hot path of every read, so kept lean.

    As webargs does for the query string (a list for fields taking repeated values, else
    the first value; unknown parameters ignored; a 422 with the messages under "query"),
    but with the per-field decisions made once per schema instead of on every lookup, and
    with the schema cut down to the fields sent plus those with defaults or required:
    marshmallow visits every declared field on every load, sent or not, so a request sending
    one of fifteen documented parameters does not pay for the other fourteen. Validation
    and messages are the schema's own."""

    #: field subsets kept (distinct combinations of parameters sent)
    MAX_SUBSETS = 256

    def __init__(self, schema: ma.Schema) -> None:
        self.schema = schema
        self.repeatable = frozenset(MultiDictProxy(MultiDict(), schema).multiple_keys)
        self.names = {field.data_key or name: name for name, field in schema.fields.items()}
        self.always = frozenset(
            name
            for name, field in schema.fields.items()
            if field.required or field.load_default is not ma.missing
        )
        self.subsets: dict[frozenset[str], ma.Schema] = {}
        # a pre_load hook may fill in fields that were not sent: such a schema stays whole
        self.cuttable = not getattr(schema, "_hooks", {}).get("pre_load")

    def subset(self, sent: Any) -> ma.Schema:
        if not self.cuttable:
            return self.schema
        names = self.always.union(self.names[key] for key in sent if key in self.names)
        schema = self.subsets.get(names)
        if schema is None:
            schema = type(self.schema)(only=names)
            if len(self.subsets) < self.MAX_SUBSETS:
                self.subsets[names] = schema
        return schema

    def load(self, args: MultiDict) -> Any:  # type: ignore[type-arg]
        repeatable = self.repeatable
        data = {key: args.getlist(key) if key in repeatable else args[key] for key in args}
        schema = self.subset(data)
        try:
            return schema.load(data, unknown=ma.EXCLUDE)
        except ma.ValidationError as error:
            abort(422, exc=error, messages={"query": error.messages}, schema=schema)


class Blueprint(flask_smorest.Blueprint):
    """Blueprint with the project's defaults."""

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any) -> Any:
        """As flask-smorest's, with a schema class instantiated once here (webargs would
        build a new instance, deep-copying every field, on every request), and query
        arguments loaded by :class:`_QueryArguments` rather than through webargs' layers."""
        schema = schema() if isinstance(schema, type) else schema
        document = super().arguments(schema, location=location, **kwargs)
        if location != "query" or kwargs or schema.many or schema.only is not None:
            return document
        query = _QueryArguments(schema)

        def decorator(func: Any) -> Any:
            @functools.wraps(func)
            def view(*args: Any, **view_kwargs: Any) -> Any:
                return func(*args, query.load(flask.request.args), **view_kwargs)

            view._apidoc = document(func)._apidoc  # type: ignore[attr-defined]
            return view

        return decorator

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
