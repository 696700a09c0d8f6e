"""The committed OpenAPI document matches the code (regenerate with `make openapi`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from openapi_schema_validator import OAS30Validator

from directory import create_app
from directory.settings import Settings
from directory.web import examples, openapi

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_openapi_matches_the_code(tmp_path):
    app = create_app(Settings(instance_dir=tmp_path, testing=True))
    api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    generated = json.loads(json.dumps(api.spec.to_dict()))
    committed = json.loads(COMMITTED.read_text())
    assert generated == committed, "openapi/openapi.json is stale: run `make openapi`"


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
            assert set(headers) == {"Cache-Control"} and "304" not in get["responses"]
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


PAGED = {
    "/api/v1/areas", "/api/v1/services", "/api/v1/services/{key}/history",
    "/api/v1/organisations", "/api/v1/grants", "/api/v1/changes", "/api/v1/imports",
    "/api/v1/programmes",
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
