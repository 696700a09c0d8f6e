"""Every JSON answer the tests receive is checked against the OpenAPI document the app serves.

:class:`ContractClient` is the test client of every Flask app the tests make (conftest
sets it as ``Flask.test_client_class``), so no test can bypass it. After each request it
checks the response against the served document (``/api/v1/openapi.json``):

* an operation's status must be one the operation lists (a 5xx may fall to ``default``:
  any operation can meet a database that is down); an undocumented 404 fails;
* its media type must be one the status documents;
* an answer must carry every header its status documents as required (a write's ETag,
  Location, RateLimit-*; a read's ETag, Cache-Control, Link …), a read's 304 too;
* a read (GET) must document, for the status it answers with, every header it sends that
  a client acts on (:data:`READ_HEADERS`: caching, pages, ranges, limits, retries);
* a JSON body (application/json, application/geo+json, application/problem+json) must
  validate against the schema documented for the path, method, status and media type;
* a JSON answer from a path or method the document does not describe (an unknown URL's
  404, a 405) must be a 4xx/5xx problem matching the ``Problem`` schema.

Not checked: HEAD and OPTIONS, 3xx other than a read's 304 (no bodies), the document
itself, and non-JSON bodies (Atom, CSV, the page, Swagger UI) and 206 parts beyond their
status, media type and headers.

Bodies are validated by jsonschema-rs (formats such as date checked), the schemas read as
JSON Schema with OpenAPI 3.0.3's ``nullable`` as strictly as the standard reads it (see
:func:`json_schema`): a null the document does not allow fails here as it fails a strict
validator and a generated client. It was chosen over
openapi-core, which checked the same, for speed: a 1,000-postcode bulk answer took 4.3 s
there and 0.19 s here (the full walk sends 181 of them per backend), a London patch page
0.28 s and 0.02 s.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import re
import zlib
from typing import Any
from weakref import WeakKeyDictionary

import jsonschema_rs
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import HTTPException
from werkzeug.test import TestResponse

JSON_TYPES = frozenset({"application/json", "application/geo+json", "application/problem+json"})
SPEC_PATH = "/api/v1/openapi.json"


#: the headers of a read's answer a client acts on, each of which the document must
#: declare for the status it comes with (lower case). Not RateLimit-*: a rate-limited read
#: (feedback) sends them on its errors too (a 401, a 422), but not on a path no route takes
#: (``/feedback/021``), which the contract reads as the operation's 404; its successes
#: declare them, and are held to them as required.
READ_HEADERS = frozenset({
    "etag", "cache-control", "last-modified", "link", "content-location",
    "content-disposition", "x-total-count", "accept-ranges", "content-range", "retry-after",
})  # fmt: skip


class ContractViolation(AssertionError):
    """A response the OpenAPI document does not describe."""


def json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema, ``nullable`` read as OpenAPI 3.0.3 (and
    openapi-schema-validator's OAS30Validator) reads it: ``nullable: true`` adds null to the
    ``type`` beside it, and to nothing else. It does not reach into ``allOf``/``anyOf``
    branches, which still refuse null, nor past an ``enum`` without null; with no ``type``
    it changes nothing (an untyped schema takes null already). A member named nullable is
    kept."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        key: json_schema(value)
        for key, value in node.items()
        if not (key == "nullable" and isinstance(value, bool))
    }
    if node.get("nullable") is True and isinstance(node.get("type"), str):
        converted["type"] = [node["type"], "null"]
    return converted


class Contract:
    """One served OpenAPI document: its operations, and a validator per documented body
    (jsonschema-rs, formats checked; built on first use)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.components = json_schema(document.get("components", {}))
        # literal paths before templated ones, so /postcodes/lookup is not /postcodes/{postcode}
        routes = []
        for template in document["paths"]:
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            routes.append((template.count("{"), re.compile(pattern + r"\Z"), template))
        self.routes = [
            (pattern, template) for _, pattern, template in sorted(routes, key=lambda r: r[0])
        ]
        self.validators: dict[Any, Any] = {}
        self.valid: set[tuple[Any, ...]] = set()

    def validator(self, key: Any, schema: dict[str, Any]) -> Any:
        validator = self.validators.get(key)
        if validator is None:
            root = {**json_schema(schema), "components": self.components}
            validator = self.validators[key] = jsonschema_rs.validator_for(
                root, validate_formats=True
            )
        return validator

    def operation(self, path: str, method: str) -> tuple[str, dict[str, Any]] | None:
        """The operation the path and method name, routed as the app routes: the first
        (most literal) path that matches decides, and a method it does not document is no
        operation (GET /postcodes/lookup is the bulk lookup's 405, not a postcode). A path
        with a trailing slash that the app answered is its root's (``/api/v1/ogc/``: the
        roots answer at both addresses; any other is sent on by a 308, not checked)."""
        for candidate in dict.fromkeys((path, path.rstrip("/") or "/")):
            for pattern, template in self.routes:
                if pattern.match(candidate):
                    operation = self.document["paths"][template].get(method)
                    return None if operation is None else (template, operation)
        return None

    def check(self, response: TestResponse) -> None:
        request = response.request
        method = request.method.lower()
        status = response.status_code
        if method in ("head", "options") or request.path == SPEC_PATH:
            return
        if 300 <= status < 400 and not (status == 304 and method == "get"):
            return
        mimetype = response.mimetype
        is_json = mimetype in JSON_TYPES
        where = f"{request.method} {request.full_path.rstrip('?')} → {status} {mimetype}"
        found = self.operation(_path_as_sent(request), method)
        if found is None:
            if is_json:
                if status < 400:
                    raise ContractViolation(f"{where}: an undocumented operation answered")
                problem = {"$ref": "#/components/schemas/Problem"}
                self._validate(where, "Problem", problem, _raw(response), "not a Problem: ")
            return
        template, operation = found
        responses = operation["responses"]
        documented = responses.get(str(status))
        if documented is None and status >= 500:
            documented = responses.get("default")
        if documented is None:
            raise ContractViolation(
                f"{where}: status {status} is not documented for {method.upper()} {template} "
                f"(documented: {', '.join(responses)})"
            )
        if "$ref" in documented:
            name = documented["$ref"].rsplit("/", 1)[-1]
            documented = self.document["components"]["responses"][name]
        if status != 304:  # (no body)
            self._check_body(where, template, method, documented, response)
        if method == "get":
            self._check_read_headers(where, documented, response)
        else:
            self._check_headers(where, documented, response)

    def _check_body(
        self, where: str, template: str, method: str, documented: dict[str, Any],
        response: TestResponse,
    ) -> None:  # fmt: skip
        status, mimetype = response.status_code, response.mimetype
        content = documented.get("content")
        if content is not None and response.get_data() and mimetype not in content:
            raise ContractViolation(
                f"{where}: media type {mimetype} is not documented for status {status} of "
                f"{method.upper()} {template} (documented: {', '.join(content)})"
            )
        if mimetype not in JSON_TYPES or status == 206:  # a part of a body is no JSON document
            return
        if content is None or "schema" not in content[mimetype]:
            raise ContractViolation(f"{where}: the document gives this JSON body no schema")
        key = (template, method, status, mimetype)
        self._validate(where, key, content[mimetype]["schema"], _raw(response))

    def _headers(self, documented: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The headers an answer documents, by lower-case name, references resolved."""
        components = self.document.get("components", {}).get("headers", {})
        declared = {}
        for name, header in documented.get("headers", {}).items():
            if "$ref" in header:
                header = components[header["$ref"].rsplit("/", 1)[-1]]
            declared[name.lower()] = {**header, "name": name}
        return declared

    def _check_headers(
        self, where: str, documented: dict[str, Any], response: TestResponse
    ) -> dict[str, dict[str, Any]]:
        """An answer carries every header its status documents as required (a write's
        ETag, Location, RateLimit-*, WWW-Authenticate …, a read's ETag, Cache-Control,
        Link …): a client reads them as promised. Returns the documented headers."""
        declared = self._headers(documented)
        for header in declared.values():
            if header.get("required") and header["name"] not in response.headers:
                raise ContractViolation(
                    f"{where}: the documented header {header['name']} is missing"
                )
        return declared

    def _check_read_headers(
        self, where: str, documented: dict[str, Any], response: TestResponse
    ) -> None:
        """A read's answer carries every header its status documents as required, and
        documents every header it sends that a client acts on (:data:`READ_HEADERS`): a
        cache keeping it, a client paging, resuming or waiting, a generated client
        exposing them."""
        declared = self._check_headers(where, documented, response)
        for name, _ in response.headers:
            if name.lower() in READ_HEADERS and name.lower() not in declared:
                raise ContractViolation(
                    f"{where}: the header {name} is sent but not documented for this status"
                )

    def _validate(
        self, where: str, key: Any, schema: dict[str, Any], raw: bytes, prefix: str = ""
    ) -> None:
        # an answer already found valid (the same body on the other backend, a repeated
        # request) is not validated again
        seen = (key, hashlib.sha1(raw).digest())
        if seen in self.valid:
            return
        try:
            body = json.loads(raw)
        except ValueError as error:
            raise ContractViolation(f"{where}: {prefix}the body is not JSON: {error}") from None
        validator = self.validator(key, schema)
        try:
            errors = list(itertools.islice(validator.iter_errors(body), 5))
        except UnicodeEncodeError:  # a lone surrogate echoed (as \\ud800): not UTF-8 text
            text = json.dumps(body, ensure_ascii=False).encode("utf-8", "replace")
            errors = list(itertools.islice(validator.iter_errors(json.loads(text)), 5))
        if errors:
            lines = [
                f"  at /{'/'.join(map(str, error.instance_path))}: {error.message[:300]}"
                for error in errors
            ]
            raise ContractViolation(f"{where}: {prefix}\n" + "\n".join(lines))
        self.valid.add(seen)


def _path_as_sent(request: Any) -> str:
    """The request's path as the client sent it, still percent-encoded, as the document's
    templates read one: a ``/`` escaped in a parameter (``/services/SL%2FRR%2F01``) is part
    of it, where the decoded path (``request.path``) would split it into segments."""
    raw = request.environ.get("RAW_URI")
    return raw.split("?", 1)[0] if raw else request.path


def _raw(response: TestResponse) -> bytes:
    data = response.get_data()
    encoding = response.headers.get("Content-Encoding", "")
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    if encoding == "br":
        import brotli  # flask-compress's own dependency

        return brotli.decompress(data)
    if encoding == "zstd":
        from flask_compress.compat import compression  # its zstd: 3.14's, or the backport

        return compression.zstd.decompress(data)  # type: ignore[no-any-return]
    if encoding:
        raise ContractViolation(f"an answer in a content coding the tests cannot read: {encoding}")
    return data


_CONTRACTS: dict[str, Contract] = {}
_BY_APP: WeakKeyDictionary[Flask, Contract | None] = WeakKeyDictionary()


def contract_of(app: Flask) -> Contract | None:
    """The contract of the document the app serves (built once per distinct document); an
    app that serves none (a test's own small app) is held to its Api's document, and one
    with no Api to nothing."""
    if app in _BY_APP:
        return _BY_APP[app]
    text = _served_document(app)
    if text is None:
        _BY_APP[app] = None
        return None
    contract = _CONTRACTS.get(text)
    if contract is None:
        contract = _CONTRACTS[text] = Contract(json.loads(text))
    _BY_APP[app] = contract
    return contract


def _served_document(app: Flask) -> str | None:
    """The document at SPEC_PATH, from its view called directly (a request through the app
    would be logged, and the tests count log lines); else the app's Api's document."""
    try:
        endpoint, values = app.url_map.bind("localhost").match(SPEC_PATH, "GET")
    except HTTPException:
        apis = app.extensions.get("flask-smorest", {}).get("apis", {})
        if not apis:
            return None
        (api,) = (entry["ext_obj"] for entry in apis.values())
        return json.dumps(api.spec.to_dict())
    with app.test_request_context(SPEC_PATH):
        served = app.make_response(app.view_functions[endpoint](**values))
    return served.get_data(as_text=True)


class ContractClient(FlaskClient):
    """Flask's test client, checking every response against the served OpenAPI document."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        contract = contract_of(self.application)
        if contract is not None:
            contract.check(response)
        return response
