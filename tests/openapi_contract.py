"""Every JSON answer the tests receive is checked against the OpenAPI document the app serves.

:class:`ContractClient` is the test client of every Flask app the tests make (conftest
sets it as ``Flask.test_client_class``), so no test can bypass it. After each request it
checks the response against the served document (``/api/v1/openapi.json``) with
openapi-core:

* an operation's status must be one the operation lists (a 5xx may fall to ``default``:
  any operation can meet a database that is down); an undocumented 404 fails;
* its media type must be one the status documents;
* a JSON body (application/json, application/geo+json, application/problem+json) must
  validate against the schema documented for the path, method, status and media type;
* a JSON answer from a path or method the document does not describe (an unknown URL's
  404, a 405) must be a 4xx/5xx problem matching the ``Problem`` schema.

Not checked: HEAD and OPTIONS, 3xx (no bodies), the document itself, and non-JSON bodies
(Atom, CSV, the page, Swagger UI) beyond their status and media type.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from flask import Flask
from flask.testing import FlaskClient
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.test import TestResponse

JSON_TYPES = frozenset({"application/json", "application/geo+json", "application/problem+json"})
SPEC_PATH = "/api/v1/openapi.json"


_DOTS = {".": "%2E", "..": "%2E%2E"}


class ContractViolation(AssertionError):
    """A response the OpenAPI document does not describe."""


@dataclass(frozen=True)
class _Response:
    """The response as openapi-core reads it (the body decoded if it was compressed)."""

    data: bytes
    status_code: int
    content_type: str
    headers: Headers


class _Request(WerkzeugOpenAPIRequest):
    """The request as openapi-core reads it to find the operation (its body, already
    read by the app, is not needed to check the response)."""

    @property
    def body(self) -> bytes | None:
        return None

    @property
    def path(self) -> str:
        """The path, with "." and ".." segments kept as segments (Flask routes them as
        values, /areas/../boundary to an area ".."; openapi-core would resolve them)."""
        segments = super().path.split("/")
        return "/".join(_DOTS.get(segment, segment) for segment in segments)


class Contract:
    """One served OpenAPI document: its operations and validators."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        # openapi-core reads application/json only: the problem and GeoJSON types are JSON too
        config = Config(
            extra_media_type_deserializers={"application/problem+json": json.loads,
                                            "application/geo+json": json.loads}
        )  # fmt: skip
        self.openapi = OpenAPI.from_dict(document, config=config)
        # literal paths before templated ones, so /postcodes/lookup is not /postcodes/{postcode}
        routes = []
        for template in document["paths"]:
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            routes.append((template.count("{"), re.compile(pattern + r"\Z"), template))
        self.routes = [
            (pattern, template) for _, pattern, template in sorted(routes, key=lambda r: r[0])
        ]
        problem = {"$ref": "#/components/schemas/Problem", **document}
        self.problem = OAS30Validator(problem)
        self.valid: set[tuple[str, str, int, str, str, bytes]] = set()

    def operation(self, path: str, method: str) -> tuple[str, dict[str, Any]] | None:
        for pattern, template in self.routes:
            if pattern.match(path):
                operation = self.document["paths"][template].get(method)
                if operation is not None:
                    return template, operation
        return None

    def check(self, response: TestResponse) -> None:
        request = response.request
        method = request.method.lower()
        status = response.status_code
        if method in ("head", "options") or 300 <= status < 400 or request.path == SPEC_PATH:
            return
        mimetype = response.mimetype
        is_json = mimetype in JSON_TYPES
        where = f"{request.method} {request.full_path.rstrip('?')} → {status} {mimetype}"
        found = self.operation(request.path, method)
        if found is None:
            if is_json:
                if status < 400:
                    raise ContractViolation(f"{where}: an undocumented operation answered")
                errors = sorted(self.problem.iter_errors(_body(response)), key=str)
                if errors:
                    raise ContractViolation(f"{where}: not a Problem: {errors[0].message}")
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
        content = documented.get("content")
        if content is not None and response.get_data() and mimetype not in content:
            raise ContractViolation(
                f"{where}: media type {mimetype} is not documented for status {status} of "
                f"{method.upper()} {template} (documented: {', '.join(content)})"
            )
        if not is_json:
            return
        raw = _raw(response)
        # an answer already found valid (the same body and header names on the other
        # backend, a repeated request) is not validated again
        names = ",".join(sorted({name.lower() for name, _ in response.headers}))
        seen = (template, method, status, mimetype, names, hashlib.sha1(raw).digest())
        if seen in self.valid:
            return
        decoded = _Response(
            data=raw, status_code=status, content_type=mimetype,
            headers=Headers(response.headers),
        )  # fmt: skip
        try:
            self.openapi.validate_response(_Request(request), decoded)
        except Exception as error:  # openapi-core's errors nest their causes
            raise ContractViolation(f"{where}: {_explain(error)}") from None
        self.valid.add(seen)


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
    return data


def _body(response: TestResponse) -> Any:
    return json.loads(_raw(response))


def _explain(error: BaseException) -> str:
    """openapi-core's error with the schema errors under it (path in the body, message)."""
    lines = [f"{type(error).__name__}: {str(error)[:200]}"]
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for detail in getattr(current, "schema_errors", ()) or ():
            located = "/".join(map(str, detail.absolute_path)) or "(body)"
            lines.append(f"  at {located}: {detail.message[:500]}")
            for sub in (detail.context or [])[:6]:
                located = "/".join(map(str, sub.absolute_path)) or "(body)"
                lines.append(f"    - at {located}: {sub.message[:300]}")
        for cause in (current.__cause__, current.__context__):
            if cause is not None:
                pending.append(cause)
    return "\n".join(lines)


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
