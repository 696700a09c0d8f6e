"""The committed OpenAPI document matches the code (regenerate with `make openapi`)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from openapi_schema_validator import OAS30Validator

from directory import create_app
from directory.settings import Settings
from directory.web import examples, openapi
from directory.web.api import NO_NUL, Schema
from tests.openapi_contract import Contract, ContractClient, ContractViolation

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_openapi_matches_the_code(tmp_path):
    app = create_app(Settings(instance_dir=tmp_path, testing=True))
    api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    generated = json.loads(json.dumps(api.spec.to_dict()))
    committed = json.loads(COMMITTED.read_text())
    assert generated == committed, "openapi/openapi.json is stale: run `make openapi`"


def test_every_schema_of_the_app_is_shared_not_copied_by_the_documentation(tmp_path):
    """flask-smorest deep-copies a view's documentation at every decorator; the project's
    base schema is shared by ``deepcopy`` (copying one copied all its fields: 0.9 s of
    each process's start), so every schema the app declares must derive from it."""
    import marshmallow as ma

    create_app(Settings(instance_dir=tmp_path, testing=True))
    found, todo = [], list(ma.Schema.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("directory."):
            found.append(cls)
    assert len(found) > 100
    assert [c.__qualname__ for c in found if not issubclass(c, Schema)] == []
    problem = next(c for c in found if c.__name__ == "ProblemSchema")()
    doc = {"responses": {404: [{"schema": problem}]}}
    copied = copy.deepcopy(doc)
    assert copied["responses"][404][0]["schema"] is problem and copied is not doc


def test_every_error_response_is_documented_as_problem_json(tmp_path):
    committed = json.loads(COMMITTED.read_text())
    for path, operations in committed["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and "content" in response:
                    assert list(response["content"]) == ["application/problem+json"], (
                        path,
                        method,
                        status,
                    )


def test_every_operation_has_a_unique_readable_operation_id():
    committed = json.loads(COMMITTED.read_text())
    ids = [
        operation["operationId"]
        for operations in committed["paths"].values()
        for method, operation in operations.items()
        if method != "parameters"
    ]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)+", i) for i in ids), ids
    assert {"getPatch", "getPostcode", "listServices", "getFundingSummary"} <= set(ids)
    # every operation is named in the table (none takes an id derived from its path)
    listed = {
        (method, path)
        for path, operations in committed["paths"].items()
        for method in operations
        if method != "parameters"
    }
    assert listed == set(openapi.OPERATIONS)


def test_every_read_documents_its_caching_headers_and_304(tmp_path):
    committed = json.loads(COMMITTED.read_text())
    for path, operations in committed["paths"].items():
        get = operations.get("get")
        if get is None:
            continue
        headers = get["responses"]["200"]["headers"]
        if path in ("/health", "/ready"):
            assert set(headers) == {"Cache-Control", "X-Request-Id"}
            assert "304" not in get["responses"]
            continue
        assert {"ETag", "Cache-Control", "Last-Modified"} <= set(headers), path
        assert get["responses"]["304"] == {"$ref": "#/components/responses/NotModified"}
        names = {p.get("$ref", "").rsplit("/", 1)[-1] for p in get["parameters"]}
        assert {"IfNoneMatch", "IfModifiedSince"} <= names, path
        assert ("Link" in headers) == (path in PAGED), path
    media = committed["paths"]["/api/v1/patch"]["get"]["responses"]["200"]["content"]
    assert set(media) == {"application/json", "application/geo+json", "text/csv"}
    atom = committed["paths"]["/api/v1/changes.atom"]["get"]["responses"]["200"]["content"]
    assert set(atom) == {"application/atom+xml"}


def test_every_write_documents_the_headers_its_success_sends():
    """A write's success documents RateLimit-* (every answer of a rate-limited route), the
    ETag of the record written (the next change's If-Match) and Location on a 201; the
    contract holds every write answer the tests receive to them."""
    committed = json.loads(COMMITTED.read_text())
    headers = committed["components"]["headers"]
    rate_limit = {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}
    writes = 0
    for path, operations in committed["paths"].items():
        for method, operation in operations.items():
            if method == "parameters" or "429" not in operation["responses"]:
                continue
            for status, response in operation["responses"].items():
                if not status.startswith("2"):
                    continue
                documented = {
                    name: headers[header["$ref"].rsplit("/", 1)[-1]]
                    for name, header in response.get("headers", {}).items()
                }
                where = (method, path, status)
                assert rate_limit <= set(documented), where
                if method == "get":
                    continue
                writes += 1
                if status == "201":
                    assert "Location" in documented, where
                if status in ("200", "201") and (method, path) not in openapi.WRITES_WITHOUT_ETAG:
                    assert "If-Match" in documented["ETag"]["description"], where
                assert all(documented[name]["required"] for name in documented), where
    assert writes >= 20  # every success of the 22 rate-limited writes


@pytest.mark.parametrize(
    ("url", "template"),
    [
        ("/api/v1/areas/Kingston", "/api/v1/areas/{code}"),
        ("/api/v1/areas/kingston/boundary?simplify=100", "/api/v1/areas/{code}/boundary"),
        ("/api/v1/areas/Kingston/comparison", "/api/v1/areas/{code}/comparison"),
    ],
)
def test_an_area_asked_for_by_name_documents_its_content_location(client, url, template):
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Location"].startswith("/api/v1/areas/E09000021")
    committed = json.loads(COMMITTED.read_text())
    headers = committed["paths"][template]["get"]["responses"]["200"]["headers"]
    assert headers["Content-Location"] == {"$ref": "#/components/headers/ContentLocation"}


#: the formats OpenAPI 3.0 and JSON Schema define (validators and generators know no others)
STANDARD_FORMATS = {
    "int32", "int64", "float", "double", "byte", "binary", "date", "date-time", "password",
    "email", "idn-email", "hostname", "idn-hostname", "ipv4", "ipv6", "uri", "uri-reference",
    "iri", "iri-reference", "uri-template", "uuid", "time", "duration", "json-pointer",
    "relative-json-pointer", "regex",
}  # fmt: skip


def test_every_format_is_a_standard_one():
    """``how_to_apply_url`` was ``format: url`` (apispec's name for marshmallow's Url), which
    no validator checks and no generator knows: a URL is ``uri``."""
    committed = json.loads(COMMITTED.read_text())
    found = set()

    def walk(node):  # type: ignore[no-untyped-def]
        if isinstance(node, dict):
            if isinstance(node.get("format"), str) and node.get("type") != "object":
                found.add(node["format"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(committed)
    assert found <= STANDARD_FORMATS, found - STANDARD_FORMATS
    opportunity = committed["components"]["schemas"]["OpportunityCreate"]["properties"]
    assert opportunity["how_to_apply_url"]["format"] == "uri"


PAGED = {
    "/api/v1/areas", "/api/v1/services", "/api/v1/services/{key}/history",
    "/api/v1/opportunities/{key}/history", "/api/v1/contacts/{contact_id}/history",
    "/api/v1/organisations", "/api/v1/grants", "/api/v1/changes", "/api/v1/imports",
    "/api/v1/programmes", "/api/v1/hsds/services", "/api/v1/hsds/service_at_locations",
    "/api/v1/hsds/locations", "/api/v1/hsds/organizations", "/api/v1/hsds/taxonomies",
    "/api/v1/hsds/taxonomy_terms", "/api/v1/contacts", "/api/v1/opportunities",
    "/api/v1/feedback", "/api/v1/practice", "/api/v1/partners",
    "/api/v1/ogc/collections/{collection_id}/items",  # (prev and next: paged by offset)
    "/api/v1/patch",  # (its GeoJSON and CSV: the JSON says its place in its services)
}  # fmt: skip


def test_servers_is_relative_unless_a_public_url_is_set(tmp_path):
    committed = json.loads(COMMITTED.read_text())
    assert [s["url"] for s in committed["servers"]] == ["/"]
    settings = Settings(instance_dir=tmp_path, testing=True, public_url="https://x.example.org")
    served = create_app(settings).test_client().get("/api/v1/openapi.json").get_json()
    assert [s["url"] for s in served["servers"]] == ["https://x.example.org"]
    assert served["info"]["contact"]["url"] == "https://x.example.org"


def test_paged_reads_send_the_link_header_they_document(client):
    # the table's `paged` flags are what the routes do (an unpaged read sends no Link)
    for path in ("/api/v1/areas", "/api/v1/organisations", "/api/v1/programmes"):
        assert client.get(path).headers.get("Link"), path
    for path in ("/api/v1/themes", "/api/v1/areas/E09000022", "/api/v1/postcodes/SW1A1AA"):
        response = client.get(path)
        assert response.status_code == 200 and "Link" not in response.headers, path


def test_the_examples_are_answers_their_schemas_describe():
    committed = json.loads(COMMITTED.read_text())
    assert set(examples.EXAMPLES) == set(examples.REQUESTS)
    found = {}
    for operations in committed["paths"].values():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            media = operation["responses"].get("200", {}).get("content", {})
            if "example" in media.get("application/json", {}):
                found[operation["operationId"]] = media["application/json"]
    assert set(found) == set(examples.EXAMPLES)
    for operation_id, media in found.items():
        assert media["example"] == examples.EXAMPLES[operation_id]
        # the schema resolved within the whole document (its $refs point into components)
        schema = {**media["schema"], "components": committed["components"]}
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in OAS30Validator(schema).iter_errors(media["example"])
        ]
        assert not errors, f"{operation_id}: " + "\n".join(errors[:20])


#: answers whose nested objects are null (London has no parent; the City of London is in no
#: BCU): the committed document's schema for each must take them, as OpenAPI 3.0.3 reads it
NULL_MEMBERS = [
    ("/api/v1/areas/E12000007", "/api/v1/areas/{code}", "parent"),
    ("/api/v1/postcodes/EC2V7HH", "/api/v1/postcodes/{postcode}", "bcu"),
]


@pytest.mark.parametrize(("url", "template", "member"), NULL_MEMBERS)
def test_a_null_nested_object_is_valid_under_strict_openapi_3_0_3(
    shared_demo_app, url, template, member
):
    """``nullable`` adds null only to the ``type`` beside it (OpenAPI 3.0.3, as
    openapi-schema-validator reads it): a nullable nested object is ``anyOf`` the schema
    and null alone, never ``{type: object, nullable: true, allOf: [{$ref}]}``, whose
    ``allOf`` refuses the null (and a generated client crashed on it)."""
    committed = json.loads(COMMITTED.read_text())
    body = shared_demo_app.test_client().get(url).get_json()
    assert member in body and body[member] is None
    media = committed["paths"][template]["get"]["responses"]["200"]["content"]
    schema = {**media["application/json"]["schema"], "components": committed["components"]}
    errors = [e.message for e in OAS30Validator(schema).iter_errors(body)]
    assert not errors, errors


def test_no_nullable_schema_relies_on_nullable_reaching_past_its_own_type():
    """Everywhere in the document: ``nullable`` only beside a ``type`` and never beside a
    composition or reference it cannot reach into; a nullable enum lists null."""
    committed = json.loads(COMMITTED.read_text())
    found = []

    def walk(node, where):  # type: ignore[no-untyped-def]
        if isinstance(node, dict):
            if node.get("nullable") is True and (
                "type" not in node
                or {"allOf", "anyOf", "oneOf", "$ref"} & node.keys()
                or ("enum" in node and None not in node["enum"])
            ):
                found.append(where)
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}/{index}")

    walk(committed, "")
    assert not found, found
    parent = committed["components"]["schemas"]["Area"]["properties"]["parent"]
    assert parent["anyOf"] == openapi.nullable_ref({"$ref": "#/components/schemas/AreaRef"})


# -- the contract every response the tests receive is held to (tests/openapi_contract.py) --
def _answer(  # type: ignore[no-untyped-def]
    path: str, body: bytes, status: int = 200, mimetype: str = "application/json",
    method: str = "GET", headers: dict[str, str] | None = None,
):  # fmt: skip
    from werkzeug.datastructures import Headers
    from werkzeug.test import EnvironBuilder, TestResponse
    from werkzeug.wrappers import Request

    request = Request(EnvironBuilder(path=path, method=method).get_environ())
    # (every answer carries its request's id: directory.web.logs)
    sent = Headers({"Content-Type": mimetype, "X-Request-Id": "0" * 32, **(headers or {})})
    return TestResponse([body], f"{status} X", sent, request)


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(json.loads(COMMITTED.read_text()))


def test_every_app_the_tests_make_checks_its_answers(tmp_path):
    app = create_app(Settings(instance_dir=tmp_path, testing=True))
    assert isinstance(app.test_client(), ContractClient)


@pytest.mark.parametrize(
    ("path", "body", "status", "mimetype", "says"),
    [
        # a member the schema does not declare (a generated client would drop it)
        ("/health", b'{"status": "ok", "uptime": 3}', 200, "application/json", "unexpected"),
        # a member of the wrong type
        ("/health", b'{"status": 1}', 200, "application/json", 'is not of type "string"'),
        # a nested member of the wrong type
        (
            "/api/v1/outcodes/KT1",
            b'{"outcode": "KT1", "boroughs": [{"code": "E09000021", "postcodes": "many"}]}',
            200, "application/json", 'is not of type "integer"',
        ),
        # null where the schema does not allow it
        ("/api/v1", b'{"name": null}', 200, "application/json", "null is not of type"),
        # an object that is not the one a nullable member documents
        ("/api/v1/postcodes/KT11EU", b'{"ward": {"ward": "Kingston Town"}}', 200,
         "application/json", "/ward"),
        # a status the operation does not document
        ("/api/v1/themes", b'{"type": "about:blank", "status": 404}', 404,
         "application/problem+json", "not documented"),
        # a media type the status does not document
        ("/api/v1/themes", b"<p>themes</p>", 200, "text/html", "not documented"),
        # an undocumented path answering JSON that is not a problem
        ("/api/v1/nowhere", b'{"status": "ok"}', 404, "application/json", "not a Problem"),
        # a problem with an undeclared extension member
        ("/api/v1/areas/E09", b'{"code": "area-not-found", "hint": "x"}', 404,
         "application/problem+json", "unexpected"),
    ],
)  # fmt: skip
def test_the_contract_catches_drift(contract, path, body, status, mimetype, says):
    with pytest.raises(ContractViolation, match=says):
        contract.check(_answer(path, body, status, mimetype))


def test_the_contract_reads_nullable_as_openapi_3_0_3():
    """The contract every test answer is held to takes null where a strict 3.0.3 validator
    does, and only there: not through a nullable object's ``allOf``."""
    ref = {"$ref": "#/components/schemas/Ref"}
    old = {"type": "object", "nullable": True, "allOf": [ref]}
    document = {
        "paths": {
            path: {"get": {"responses": {"200": {"description": "ok", "content": {
                "application/json": {"schema": {"type": "object", "properties": {"x": schema}}}
            }}}}}
            for path, schema in (("/old", old), ("/new", {"anyOf": openapi.nullable_ref(ref)}))
        },
        "components": {"schemas": {"Ref": {"type": "object", "properties": {"a": {}}}}},
    }  # fmt: skip
    contract = Contract(document)
    with pytest.raises(ContractViolation, match="/x"):
        contract.check(_answer("/old", b'{"x": null}'))
    contract.check(_answer("/old", b'{"x": {"a": 1}}'))
    contract.check(_answer("/new", b'{"x": null}'))
    contract.check(_answer("/new", b'{"x": {"a": 1}}'))
    with pytest.raises(ContractViolation, match="/x"):
        contract.check(_answer("/new", b'{"x": 3}'))


def test_the_contract_holds_a_write_to_the_headers_it_documents(contract):
    body = b""
    limits = {"RateLimit-Limit": "60", "RateLimit-Remaining": "59", "RateLimit-Reset": "30"}
    sent = {**limits, "ETag": '"abc"', "Location": "/api/v1/contacts/9"}
    deleted = _answer("/api/v1/contacts/9", body, 204, "text/plain", "DELETE", limits)
    contract.check(deleted)
    for missing in sent:
        headers = {name: value for name, value in sent.items() if name != missing}
        with pytest.raises(ContractViolation, match=f"header {missing} is missing"):
            contract.check(_answer("/api/v1/contacts", body, 201, "text/plain", "POST", headers))


#: the headers every read of the loaded data sends on its 200
READ_200 = {
    "ETag": '"v1-abc"', "Cache-Control": "public, max-age=300", "Accept-Ranges": "bytes",
    "Last-Modified": "Sun, 06 Dec 2026 00:00:00 GMT",
}  # fmt: skip


def test_the_contract_holds_a_read_to_the_headers_it_documents(contract):
    """A read sends what its status documents as required (an ETag, a paged list's Link),
    a 304 too. (An empty body: only the headers are judged.)"""
    contract.check(_answer("/api/v1", b'{"name": "x"}', headers=READ_200))
    paged = {**READ_200, "Link": '</api/v1/organisations?page=1>; rel="first"'}
    contract.check(_answer("/api/v1/organisations", b"", 304, headers=paged))
    for missing in ("ETag", "Cache-Control"):
        sent = {name: value for name, value in READ_200.items() if name != missing}
        with pytest.raises(ContractViolation, match=f"header {missing} is missing"):
            contract.check(_answer("/api/v1", b'{"name": "x"}', headers=sent))
        with pytest.raises(ContractViolation, match=f"header {missing} is missing"):
            contract.check(_answer("/api/v1", b"", 304, headers=sent))
    without_link = {name: v for name, v in paged.items() if name != "Link"}
    with pytest.raises(ContractViolation, match="header Link is missing"):
        contract.check(
            _answer("/api/v1/organisations", b"", 200, "text/plain", headers=without_link)
        )


@pytest.mark.parametrize(
    ("path", "status", "headers"),
    [
        # a Link on an answer the document does not page
        ("/api/v1", 200, {**READ_200, "Link": '</api/v1>; rel="first"'}),
        # a Content-Location on an answer that never moves
        ("/api/v1", 200, {**READ_200, "Content-Location": "/api/v1"}),
        # a 404's Cache-Control where a status documents none (an unknown parameter's 400)
        ("/api/v1/themes", 400, {"Cache-Control": "public, max-age=300"}),
    ],
)
def test_the_contract_holds_a_read_to_document_what_it_sends(contract, path, status, headers):
    """A header a client acts on (caching, pages, ranges) is documented where it is sent,
    or a generated client never sees it."""
    body = b'{"name": "x"}' if status == 200 else b'{"status": 400, "code": "bad-request"}'
    mimetype = "application/json" if status == 200 else "application/problem+json"
    with pytest.raises(ContractViolation, match="is sent but not documented"):
        contract.check(_answer(path, body, status, mimetype, headers=headers))


def test_the_contract_passes_documented_answers(contract):
    contract.check(_answer("/health", b'{"status": "ok"}', headers={"Cache-Control": "no-store"}))
    contract.check(
        _answer("/api/v1/areas/E09", b'{"code": "area-not-found", "suggestions": '
                b'[{"code": "E09000021", "name": "Kingston upon Thames", "type": "borough"}]}',
                404, "application/problem+json",
                headers={"Cache-Control": "public, max-age=300"})
    )  # fmt: skip
    contract.check(_answer("/api/v1/nowhere", b'{"status": 404, "code": "not-found"}', 404,
                           "application/problem+json"))  # fmt: skip


def test_the_input_rules_are_documented():
    """Rules the code keeps that a client (or a fuzzer) must know: no NUL in any text
    parameter (400), the financial-year spellings, and /locate's exclusive place pairs."""
    document = json.loads(COMMITTED.read_text())
    paths = document["paths"]
    for path, operations in paths.items():
        for parameter in operations.get("parameters", []):
            if parameter["schema"].get("type") == "string":
                assert parameter["schema"]["pattern"] == NO_NUL, (path, parameter["name"])
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for parameter in operation.get("parameters", []):
                if "$ref" in parameter or parameter["in"] not in ("query", "path"):
                    continue  # the shared header parameters (If-None-Match …)
                schema = parameter["schema"]
                schema = schema.get("items", schema)
                if schema.get("type") == "string" and not {"enum", "format"} & schema.keys():
                    assert "pattern" in schema, (path, parameter["name"])
    assert "NUL" in document["components"]["responses"]["UNKNOWN_PARAMETER"]["description"]
    (year,) = [
        p for p in paths["/api/v1/funding/summary"]["get"]["parameters"]
        if p.get("name") == "financial_year"
    ]  # fmt: skip
    pattern = re.compile(year["schema"]["pattern"])
    for text in ("2021/22", "2021-22", "FY21/22", "fy 2021/2022", "21/22"):
        assert pattern.match(text), text
    for text in ("2021", "twenty21", "2021/22/23"):
        assert not pattern.match(text), text
    locate = paths["/api/v1/locate"]["get"]
    assert "exclusive" in locate["description"]
    assert "lat+lon" in locate["responses"]["422"]["description"]


def test_the_document_is_the_same_whichever_python_made_it():
    """Python 3.13 renamed 422 after RFC 9110 (``HTTPStatus.UNPROCESSABLE_CONTENT``,
    "Unprocessable Content"), and flask-smorest names its error responses from it: the
    document keeps 3.11's names, so the committed one is what every Python makes."""
    from directory.web.openapi import same_on_every_python

    made_on_313 = {
        "components": {
            "responses": {"UNPROCESSABLE_CONTENT": {"description": "Unprocessable Content"}}
        },
        "paths": {
            "/x": {
                "get": {
                    "responses": {
                        "422": {"$ref": "#/components/responses/UNPROCESSABLE_CONTENT"},
                        "413": {"description": "Content Too Large"},
                    }
                }
            }
        },
    }
    assert same_on_every_python(made_on_313) == {
        "components": {
            "responses": {"UNPROCESSABLE_ENTITY": {"description": "Unprocessable Entity"}}
        },
        "paths": {
            "/x": {
                "get": {
                    "responses": {
                        "422": {"$ref": "#/components/responses/UNPROCESSABLE_ENTITY"},
                        "413": {"description": "Request Entity Too Large"},
                    }
                }
            }
        },
    }
    committed = json.loads(COMMITTED.read_text())
    assert "UNPROCESSABLE_ENTITY" in committed["components"]["responses"]
