"""Project-wide flask-smorest subclasses: problem+json errors and shared schemas."""

from __future__ import annotations

import copy
import difflib
import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any

import flask
import flask_smorest
import marshmallow as ma
from flask_smorest.spec.plugins import unicodeconverter2paramschema
from flask_smorest.utils import prepare_response
from webargs.flaskparser import abort
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, UnicodeConverter

from directory.errors import UnknownParameterError
from directory.usecases.features import OPENAPI
from directory.web import http, openapi
from directory.web.routing import LastRefConverter, RefConverter, ServiceRefConverter

#: the components response every operation that refuses unknown query parameters names
UNKNOWN_PARAMETER = "UNKNOWN_PARAMETER"
NOT_ACCEPTABLE = "NOT_ACCEPTABLE_REPRESENTATION"
#: text without a NUL character: the pattern of every text parameter (http._reject_nul
#: answers a NUL anywhere in the path or query with a 400)
NO_NUL = r"^[^\u0000]*$"


class Schema(ma.Schema):
    """Base schema: keep declared order, ignore nothing silently on input (an unknown member
    of a JSON body is a 422 naming it, with the members the schema takes), and shared
    rather than copied by ``copy.deepcopy``.

    A schema instance is never changed once built, but flask-smorest deep-copies the
    documentation dict of a view at every decorator (``response``, ``alt_response``,
    ``arguments``, ``route``), and those dicts hold schema instances: copying one copies
    all its fields. That was 0.9 s of the 2.2 s every process took to import the app. marshmallow itself never deep-copies a schema (a ``Nested`` field takes a
    shallow copy of one it is given), so sharing changes nothing else."""

    class Meta:
        ordered = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        accepted = [field.data_key or name for name, field in self.load_fields.items()]
        if accepted:
            self.error_messages = {
                **self.error_messages,
                "unknown": f"Unknown field. Accepted: {', '.join(accepted)}.",
            }

    def __deepcopy__(self, memo: dict[int, Any]) -> Schema:
        return self


class AreaRefSchema(Schema):
    """An area named in an answer (or a problem): code, name and type."""

    code = ma.fields.String(
        metadata={"description": "GSS code, or a BCU id such as bcu-central-west"}
    )
    name = ma.fields.String(allow_none=True, metadata={"description": "null with note"})
    type = ma.fields.String(
        allow_none=True, metadata={"description": "region | bcu | borough | ward; null with note"}
    )
    note = ma.fields.String(
        metadata={
            "description": "Only for a code no longer in the loaded boundaries (an old record's "
            "area): 'not in the loaded boundaries', with name and type null"
        }
    )


class _BoroughOfSchema(Schema):
    code = ma.fields.String()
    name = ma.fields.String()


class _MergedIntoSchema(Schema):
    ref = ma.fields.String(metadata={"description": "The organisation's ref"})
    name = ma.fields.String()


class _SuggestionSchema(Schema):
    code = ma.fields.String(
        metadata={"description": "An area's code (area-not-found, area-ambiguous)"}
    )
    id = ma.fields.String(
        metadata={
            "description": "A theme's (invalid-input) or programme's (programme-not-found) id"
        }
    )
    ref = ma.fields.String(
        metadata={"description": "An organisation's ref (organisation-not-found)"}
    )
    name = ma.fields.String()
    type = ma.fields.String(
        metadata={"description": "An area's type (area-not-found, area-ambiguous)"}
    )
    borough = ma.fields.Nested(
        _BoroughOfSchema,
        metadata={
            "description": "A ward's borough (area-not-found, area-ambiguous): wards of one "
            "name are told apart by it, as 'Kilburn, Brent' or 'Kilburn (Brent)'"
        },
    )


class _LastKnownSchema(Schema):
    lat = ma.fields.Float(allow_none=True)
    lon = ma.fields.Float(allow_none=True)
    easting = ma.fields.Float(allow_none=True)
    northing = ma.fields.Float(allow_none=True)
    borough = ma.fields.Nested(AreaRefSchema, allow_none=True)
    ward = ma.fields.Nested(AreaRefSchema, allow_none=True)


class ProblemSchema(Schema):
    """An RFC 9457 problem; every error response has this shape: the standard members, the
    stable ``code``, and the extension members some problems carry (each named with the
    problems that send it)."""

    type = ma.fields.String(metadata={"description": "A URI reference naming the problem type"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String(metadata={"description": "Plain-English explanation"})
    instance = ma.fields.String(metadata={"description": "The request path"})
    code = ma.fields.String(metadata={"description": "Stable machine-readable code"})
    request_id = ma.fields.String(
        metadata={
            "description": "A 5xx problem: the request's id (its X-Request-Id), to quote to "
            "the directory's operators: it names the request's lines in their logs"
        }
    )
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Raw(),
        metadata={
            "description": "invalid-input, unknown-parameter and other validation problems: "
            "the messages keyed by parameter or member (a list of strings; for a JSON body's "
            "items, the messages keyed by item index)"
        },
    )
    available = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "not-acceptable: the media types the answer is available as"},
    )
    suggestions = ma.fields.List(
        ma.fields.Nested(_SuggestionSchema),
        metadata={
            "description": "What was probably meant, closest first (at most 5; empty when "
            "nothing is close): area-not-found: areas (code, name, type, a ward's "
            "borough); area-ambiguous: every area with the name (a 404: the name is shared, "
            "by wards of different boroughs, so names no one area); "
            "organisation-not-found: organisations (ref, name); programme-not-found and "
            "invalid-input for an unknown theme: ids (id, name)"
        },
    )
    postcode = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "invalid-postcode, outside-coverage, postcode-not-found, "
            "postcode-terminated: the postcode (as sent when invalid; null if it was not text)"
        },
    )
    outcode = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "postcode-not-found, outcode-not-found; invalid-postcode of an "
            "outcode (null if it was not text), or of an outcode given as a postcode: the "
            "outcode"
        },
    )
    outcode_boroughs = ma.fields.List(
        ma.fields.Nested(AreaRefSchema),
        metadata={"description": "postcode-not-found: the boroughs the outcode touches"},
    )
    terminated = ma.fields.String(
        allow_none=True,
        metadata={"description": "postcode-terminated: the month it was withdrawn (YYYY-MM)"},
    )
    last_known = ma.fields.Nested(
        _LastKnownSchema,
        metadata={"description": "postcode-terminated: where it was, in today's areas"},
    )
    match = ma.fields.String(
        metadata={"description": "postcode-not-found: outcode; postcode-terminated: "
                  "terminated_postcode"}
    )  # fmt: skip
    lat = ma.fields.Float(metadata={"description": "outside-coverage of a point: as sent"})
    lon = ma.fields.Float(metadata={"description": "outside-coverage of a point: as sent"})
    easting = ma.fields.Float(metadata={"description": "outside-coverage of a point"})
    northing = ma.fields.Float(metadata={"description": "outside-coverage of a point"})
    limit = ma.fields.Integer(metadata={"description": "too-many-items: the most allowed"})
    received = ma.fields.Integer(metadata={"description": "too-many-items: how many were sent"})
    database = ma.fields.String(metadata={"description": "not-ready: ok when reachable"})
    import_run = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "import-failed, write-locked: the import run recorded"},
    )
    problems = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "import-failed: what the file has wrong (row, column, value, "
            "message, severity), as the run lists them"
        },
    )
    accepted = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "unsupported-file-type: the file name suffixes taken"},
    )
    current_etag = ma.fields.String(
        metadata={"description": "precondition-failed: the record's current ETag (GET it "
                  "again to see what changed)"}
    )  # fmt: skip
    ref = ma.fields.String(
        metadata={"description": "duplicate-ref: the ref another record already has"}
    )
    not_published = ma.fields.List(
        ma.fields.Dict(),
        metadata={"description": "no-grants: the grants the filters keep that 360Giving "
                  "cannot carry, each {id, reasons}"},
    )  # fmt: skip
    merged_into = ma.fields.Nested(
        _MergedIntoSchema,
        metadata={"description": "organisation-merged: the organisation (ref, name) the one "
                  "named was merged into"},
    )  # fmt: skip


#: the OpenAPI document of each configuration of it, built by the first application a
#: process makes and served by the later ones: building it is most of ``create_app`` (0.25 s
#: of 0.34 with 88 operations) and the tests make an application for many of their tests
_DOCUMENTS: dict[str, dict[str, Any]] = {}


class CanonicalIntConverter(IntegerConverter):
    """``<int:…>`` as an id is written: ASCII digits without a leading zero. Werkzeug's
    takes any Unicode digit and leading zeros (``/contacts/094``, ``/contacts/٩٤`` named
    contact 94), where a key in a path names nothing unless written as the id is (the
    repositories' ``as_id``); such a path is not the route's, a 404."""

    regex = r"(?:0|[1-9][0-9]*)"


class Api(flask_smorest.Api):
    """The application's Api: renders every HTTP error as problem+json; its document has
    what :mod:`directory.web.openapi` adds (operationIds, headers, 304s, examples).

    The document depends only on the code and on the configuration keys in
    :meth:`_document_key`; an application whose key has been seen in this process
    registers its blueprints without describing them again and serves a copy of the
    document the first one built (:meth:`register_blueprint`, :meth:`share_document`)."""

    ERROR_SCHEMA = ProblemSchema

    def _document_key(self) -> str:
        config = self._app.config
        wanted = ("API_TITLE", "API_VERSION", "OPENAPI_VERSION", "API_SPEC_OPTIONS")
        return json.dumps([config.get(name) for name in wanted], sort_keys=True, default=str)

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        if self._document_key() not in _DOCUMENTS:
            super().register_blueprint(blp, parameters=parameters, **options)
            return
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)

    def share_document(self) -> None:
        """Call once every blueprint is registered: keep this document for the process's
        later applications, or serve the one kept."""
        key = self._document_key()
        if key not in _DOCUMENTS:
            _DOCUMENTS[key] = openapi.same_on_every_python(self.spec.to_dict())
        kept = _DOCUMENTS[key]
        self.spec.to_dict = lambda: copy.deepcopy(kept)  # type: ignore[method-assign]

    def __init__(self, app: flask.Flask | None = None, **kwargs: Any) -> None:
        spec_kwargs = dict(kwargs.pop("spec_kwargs", None) or {})
        spec_kwargs["extra_plugins"] = [
            *spec_kwargs.get("extra_plugins", ()),
            openapi.DocumentPlugin(),
        ]
        super().__init__(app, spec_kwargs=spec_kwargs, **kwargs)

    def _init_spec(self, *args: Any, **kwargs: Any) -> None:
        """As flask-smorest's, with the rule no text parameter may break documented (every
        text query parameter and path segment has the pattern ``NO_NUL``), a nullable
        nested object exact (see :func:`_null_only`), and a URL field's format ``uri``, the
        JSON Schema name (apispec writes ``url``, which no validator or generator knows)."""
        super()._init_spec(*args, **kwargs)
        self.ma_plugin.map_to_openapi_type(ma.fields.Url, "string", "uri")
        self.ma_plugin.converter.add_parameter_attribute_function(_text_without_nul)
        self.ma_plugin.converter.add_attribute_function(_null_only)
        self.flask_plugin.register_converter(UnicodeConverter, _path_text_without_nul)
        self.flask_plugin.register_converter(RefConverter, _ref_without_nul)
        self.flask_plugin.register_converter(LastRefConverter, _ref_without_nul)
        self.flask_plugin.register_converter(ServiceRefConverter, _ref_without_nul)

    def _openapi_json(self) -> flask.Response:
        """The document, as flask-smorest serves it, in the OpenAPI media type its OGC
        landing page names (``service-desc``, OGC API – Features /req/oas30/oas-definition-1)
        when the Accept header prefers that type, in ``application/json`` otherwise."""
        response: flask.Response = super()._openapi_json()
        offered = ("application/json", OPENAPI, OPENAPI.split(";", 1)[0])
        if http.best_of(offered) in offered[1:]:
            response.mimetype = OPENAPI
            # another representation (RFC 9110 §8.8.1): not application/json's strong tag
            response.set_etag(
                hashlib.sha1(b"%b\n%b" % (OPENAPI.encode(), response.get_data())).hexdigest()
            )
        return response

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
            response["headers"] = {"X-Request-Id": "RequestId"}  # (every answer's)
            prepare_response(response, self.spec, http.PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {
            "description": "unknown-parameter: a query parameter this operation does not take "
            "(`errors` names each one, with the closest name and the parameters the operation "
            "takes); invalid-parameter (the OGC API – Features operations, which answer an "
            "invalid value with 400 where the others answer 422 invalid-input): a value the "
            "operation cannot take (`errors` names each); bad-request: a NUL character (%00) "
            "anywhere in the path or query, or a JSON body that is not valid JSON (NaN, "
            "Infinity, an integer too large, nesting too deep). A parameter that is not an "
            "array takes the first of repeated values; the OGC API – Features operations "
            "refuse repeated values (invalid-parameter naming the parameter).",
            "schema": self.ERROR_SCHEMA,
            "headers": {"X-Request-Id": "RequestId"},
        }
        prepare_response(response, self.spec, http.PROBLEM_MIMETYPE)
        self.spec.components.response(UNKNOWN_PARAMETER, response, lazy=True)
        response = {
            "description": "not-acceptable: the Accept header takes none of the media types "
            "the answer is available as (`available` names them; application/json takes a "
            "+json type such as GeoJSON unless the header refuses it with q=0; no header, or "
            "*/* beside no q=0, takes anything)",
            "schema": self.ERROR_SCHEMA,
            "headers": {"X-Request-Id": "RequestId"},
        }
        prepare_response(response, self.spec, http.PROBLEM_MIMETYPE)
        self.spec.components.response(NOT_ACCEPTABLE, response, lazy=True)
        response = {
            "description": "Default error response",
            "schema": self.ERROR_SCHEMA,
            # (a read's outage: http._cache_headers)
            "headers": {**openapi.OUTAGE_HEADERS, "X-Request-Id": "RequestId"},
        }
        prepare_response(response, self.spec, http.PROBLEM_MIMETYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def _register_pagination_header(self) -> None:
        """Nothing: flask-smorest's X-Pagination header is not used here (pages carry their
        envelope and Link headers), and registering it would put its unused
        PaginationMetadata schema in the document."""


def _text_without_nul(self: Any, field: ma.fields.Field, ret: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema: free text (no enum, format or pattern of its own; each
    item of a repeatable one) gets the pattern ``NO_NUL``."""
    schema = ret.get("schema", {})
    target = schema.get("items", {}) if schema.get("type") == "array" else schema
    if target.get("type") == "string" and not {"enum", "format", "pattern"} & target.keys():
        target["pattern"] = NO_NUL
    return {}


def _null_only(self: Any, field: ma.fields.Field, ret: dict[str, Any]) -> dict[str, Any]:
    """apispec writes a nullable nested object, in OpenAPI 3.0, as ``anyOf`` of the schema
    and ``{type: object, nullable: true}``, whose second branch takes any object at all
    (and directory.web.openapi rewrites only the first of its two orders); here both are
    ``anyOf`` the schema and null alone (:func:`directory.web.openapi.nullable_ref`): that
    object or null, nothing else."""
    alternatives = ret.get("anyOf")
    untyped = {"type": "object", "nullable": True}
    if isinstance(alternatives, list) and len(alternatives) == 2 and untyped in alternatives:
        (schema,) = [alternative for alternative in alternatives if alternative != untyped]
        if set(schema) == {"$ref"}:
            return {"anyOf": openapi.nullable_ref(schema)}
    return {}


def _path_text_without_nul(converter: UnicodeConverter) -> dict[str, Any]:
    return {**unicodeconverter2paramschema(converter), "pattern": NO_NUL}


def _ref_without_nul(converter: RefConverter | LastRefConverter) -> dict[str, Any]:
    """An id or ref, as ``<string:…>`` describes one (a ``/`` in it is sent as ``%2F``)."""
    return {"type": "string", "minLength": 1, "pattern": NO_NUL}


#: what other APIs call a parameter (postcodes.io, OGC API, Open Referral, GitHub …) → what
#: an operation here may call it, in order
_OTHER_NAMES = {
    **dict.fromkeys(
        ("page_size", "pagesize", "perpage", "size", "count", "limit", "max_results"),
        ("per_page", "limit"),
    ),
    **dict.fromkeys(("search", "query", "text", "keyword", "keywords", "term", "q"), ("q", "search")),
    "page": ("page", "offset"), "offset": ("offset", "page"), "start": ("offset", "page"),
    **dict.fromkeys(("lng", "long", "longitude"), ("lon",)), "latitude": ("lat",),
    **dict.fromkeys(("postal_code", "postalcode", "zip", "pc"), ("postcode",)),
}  # fmt: skip


def _meant(name: str, accepted: Sequence[str]) -> str | None:
    """The accepted parameter ``name`` most likely means: the same name in another case or
    spelling (``Page``, ``per-page``), what other APIs call it (``page_size``, ``search``),
    or one close enough in its letters (difflib, at 0.7: below it, ``page_size`` was
    "updated_since" and ``search`` "near")."""
    if len(name) > 100:
        return None
    plain = name.casefold().replace("-", "_")
    for candidate in (plain, *_OTHER_NAMES.get(plain, ())):
        if candidate in accepted and candidate != name:
            return candidate
    close = difflib.get_close_matches(plain, accepted, n=1, cutoff=0.7)
    return close[0] if close else None


def unknown_parameters(unknown: Iterable[str], accepted: Sequence[str]) -> UnknownParameterError:
    """The 400 problem for query parameters an operation does not take: each one named in
    ``errors`` with the closest accepted name, if any, and the parameters it does take."""
    names = sorted(unknown)
    if accepted:
        takes = f"This operation takes: {', '.join(accepted)}."
    else:
        takes = "This operation takes no query parameters."

    def message(name: str) -> list[str]:
        close = _meant(name, accepted)
        return [f"Unknown parameter.{f' Did you mean {close}?' if close else ''} {takes}"]

    listed = ", ".join(names)
    return UnknownParameterError(
        f"Unknown query parameter{'s' if len(names) > 1 else ''}: {listed}. {takes}",
        errors={name: message(name) for name in names},
    )


def _refuses_query_parameters(func: Any) -> Any:
    """A view taking no query parameters that answers any sent with the 400 problem."""

    @functools.wraps(func)
    def view(*args: Any, **kwargs: Any) -> Any:
        request = flask.request
        if request.environ.get("QUERY_STRING") and request.args:
            raise unknown_parameters(request.args.keys(), ())
        return func(*args, **kwargs)

    return view


class _QueryArguments:
    """Loads one schema's query arguments: the hot path of every read, so kept lean.

    As webargs does for the query string (a list for fields taking repeated values, else
    the first value; a 422 with the messages under "query"), with the per-field decisions
    made once per schema instead of on every lookup; except that a parameter the schema
    does not declare is refused with a 400 ``unknown-parameter`` problem (webargs ignores
    it), found as the difference of the keys sent and the set of declared ones. (A schema
    whose ``pre_load`` reads a parameter declares it as a field too, so that it is taken.)

    A schema with no hooks (no pre/post_load, no schema or field validators) is loaded field
    by field: each parameter sent goes through its field's own ``deserialize`` (conversion,
    validators and messages are the field's), the others take their load defaults or fail
    as required; marshmallow's ``Schema.load`` does the same plus bookkeeping for hooks,
    nesting and partial loads that such a schema does not use, at about three times the
    cost on a request sending one of fifteen parameters. A schema with hooks is loaded by
    ``Schema.load``.

    Kept hand-written on a measurement, where a maintained library (webargs) does the same
    job: the patch route measured 6× faster through this loader than through webargs'
    layers (``scripts/bench_api.py``; README, "Measured figures"). A hypothesis test checks
    its values and messages equal ``Schema.load``'s for every query schema of the app."""

    def __init__(self, schema: ma.Schema, invalid_status: int = 422) -> None:
        self.schema = schema
        self.invalid_status = invalid_status
        self.repeatable = frozenset(MultiDictProxy(MultiDict(), schema).multiple_keys)
        #: refuse a single-valued parameter sent twice (the schema's ``one_value_each``),
        #: where webargs, and the rest of the API, take the first
        self.one_value_each = bool(getattr(schema, "one_value_each", False))
        self.fields = {field.data_key or name: field for name, field in schema.load_fields.items()}
        self.attributes = {key: field.attribute or field.name for key, field in self.fields.items()}
        self.known = frozenset(self.fields)
        self.accepted = tuple(self.fields)
        self.lean = not any(getattr(schema, "_hooks", {}).values()) and not any(
            "." in attribute for attribute in self.attributes.values()
        )
        # parameters whose absence is decided per request (required, or a callable default)
        self.unsent = {
            key: field
            for key, field in self.fields.items()
            if field.required or callable(field.load_default)
        }
        self.defaults = {
            self.attributes[key]: field.load_default
            for key, field in self.fields.items()
            if key not in self.unsent and field.load_default is not ma.missing
        }

    def load(self, args: MultiDict) -> Any:  # type: ignore[type-arg]
        unknown = args.keys() - self.known
        if unknown:
            raise unknown_parameters(unknown, self.accepted)
        repeatable = self.repeatable
        if self.one_value_each:
            self._refuse_repeats(args)
        data = {key: args.getlist(key) if key in repeatable else args[key] for key in args}
        if not self.lean:
            try:
                return self.schema.load(data, unknown=ma.EXCLUDE)
            except ma.ValidationError as error:
                abort(
                    self.invalid_status, exc=error, messages={"query": error.messages},
                    schema=self.schema,
                )  # fmt: skip
        result = dict(self.defaults)
        errors: dict[str, Any] = {}
        fields, attributes = self.fields, self.attributes
        for key, value in data.items():
            field = fields.get(key)
            if field is not None:
                try:
                    result[attributes[key]] = field.deserialize(value, key, data)
                except ma.ValidationError as error:
                    errors[key] = error.messages
        for key, field in self.unsent.items():
            if key not in data:
                try:
                    value = field.deserialize(ma.missing, key, data)
                except ma.ValidationError as error:
                    errors[key] = error.messages
                else:
                    if value is not ma.missing:
                        result[attributes[key]] = value
        if errors:
            error = ma.ValidationError(errors, data=data, valid_data=result)
            abort(self.invalid_status, exc=error, messages={"query": errors}, schema=self.schema)
        return result

    def _refuse_repeats(self, args: MultiDict) -> None:  # type: ignore[type-arg]
        """The invalid-value answer for a single-valued parameter sent more than once: which
        value was meant is not ours to guess (``theme=a&theme=b`` read as ``theme=a``)."""
        errors = {
            key: [f"{key} takes one value; it was given {len(values)}: {', '.join(values)}."]
            for key, values in args.lists()
            if len(values) > 1 and key not in self.repeatable
        }
        if errors:
            error = ma.ValidationError(errors)
            abort(self.invalid_status, exc=error, messages={"query": errors}, schema=self.schema)


class Blueprint(flask_smorest.Blueprint):
    """Blueprint with the project's defaults: every operation refuses query parameters it
    does not take (400 ``unknown-parameter``) unless routed with ``ignore_query=True``."""

    def route(
        self,
        rule: str,
        *,
        parameters: Any = None,
        tags: Any = None,
        ignore_query: bool = False,
        **options: Any,
    ) -> Any:
        """As flask-smorest's; a view without query arguments is wrapped to refuse any
        (with ``ignore_query``, it answers whatever is sent: the probes), and the refusal is
        documented on every operation that makes it."""
        register = super().route(rule, parameters=parameters, tags=tags, **options)

        def decorator(func: Any) -> Any:
            if ignore_query:
                return register(func)
            view = func if hasattr(func, "query_arguments") else _refuses_query_parameters(func)
            # copied along the path changed: the documentation dicts hold schema instances
            apidoc = dict(getattr(view, "_apidoc", {}))
            response = dict(apidoc.get("response", {}))
            responses = dict(response.get("responses", {}))
            responses[400] = [*responses.get(400, []), UNKNOWN_PARAMETER]
            responses[406] = [*responses.get(406, []), NOT_ACCEPTABLE]
            response["responses"] = responses
            apidoc["response"] = response
            view._apidoc = apidoc
            return register(view)

        return decorator

    def arguments(
        self, schema: Any, *, location: str = "json", invalid_status: int = 422, **kwargs: Any
    ) -> Any:
        """As flask-smorest's, with a schema class instantiated once here (webargs would
        build a new instance, deep-copying every field, on every request), and query
        arguments loaded by :class:`_QueryArguments` rather than through webargs' layers;
        ``invalid_status`` is the status of an invalid value (OGC API – Features wants 400);
        a JSON body sent as another type is a 415 (:func:`directory.web.http.require_json`),
        documented on the operation."""
        schema = schema() if isinstance(schema, type) else schema
        document = super().arguments(
            schema, location=location, error_status_code=invalid_status, **kwargs
        )
        if location == "json":
            return functools.partial(self._json_body, document)
        if location != "query" or kwargs or schema.many or schema.only is not None:
            return document
        query = _QueryArguments(schema, invalid_status)

        def decorator(func: Any) -> Any:
            @functools.wraps(func)
            def view(*args: Any, **view_kwargs: Any) -> Any:
                return func(*args, query.load(flask.request.args), **view_kwargs)

            view._apidoc = document(func)._apidoc  # type: ignore[attr-defined]
            view.query_arguments = query  # type: ignore[attr-defined]
            return view

        return decorator

    def _json_body(self, document: Any, func: Any) -> Any:
        """``func`` with its JSON body read by ``document`` (flask-smorest's decorator),
        after :func:`http.require_json`."""
        read = document(func)

        @functools.wraps(read)
        def view(*args: Any, **view_kwargs: Any) -> Any:
            http.require_json()
            return read(*args, **view_kwargs)

        unsupported = self.alt_response(
            415, description=http.UNSUPPORTED_JSON, schema=ProblemSchema,
            content_type=http.PROBLEM_MIMETYPE,
        )  # fmt: skip
        return unsupported(view)

    def alt_response(self, *args: Any, **kwargs: Any) -> Any:
        """As flask-smorest's, which only documents a response but also wraps the view in
        one more call per request; here the documentation is attached to the view itself."""
        document = super().alt_response(*args, **kwargs)

        def decorator(func: Any) -> Any:
            func._apidoc = document(func)._apidoc
            return func

        return decorator


# -- a JSON body's values: of the type its schema documents, nothing else --------------------
# marshmallow's fields convert what they can (Boolean takes 1, "yes" and "on"; Integer and
# Float take "12"): right for a query string, where every value is text, but a JSON body
# has types of its own, and the OpenAPI document names them. A body sending "12" for an
# integer, or 1 for a boolean, is refused as its schema says it is (422 naming the field).


class JsonBoolean(ma.fields.Boolean):
    """``true`` or ``false`` in a JSON body."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class JsonInteger(ma.fields.Integer):
    """A whole number in a JSON body (``12``, or ``12.0``, which JSON Schema calls an
    integer too): not ``"12"``, ``12.5`` nor ``true``."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        if isinstance(value, float) and not value.is_integer():  # (Integer would take 12)
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class JsonNumber(ma.fields.Float):
    """A number in a JSON body: not ``"1.5"`` nor ``true``."""

    def _validated(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)
