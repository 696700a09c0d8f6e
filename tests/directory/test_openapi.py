"""The committed OpenAPI document matches the code (regenerate with `make openapi`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from directory import create_app
from directory.settings import Settings
from directory.web.api import NO_NUL
from tests.openapi_contract import Contract, ContractClient, ContractViolation

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


# -- the contract every response the tests receive is held to (tests/openapi_contract.py) --
def _answer(path: str, body: bytes, status: int = 200, mimetype: str = "application/json"):  # type: ignore[no-untyped-def]
    from werkzeug.datastructures import Headers
    from werkzeug.test import EnvironBuilder, TestResponse
    from werkzeug.wrappers import Request

    request = Request(EnvironBuilder(path=path).get_environ())
    headers = Headers({"Content-Type": mimetype})
    return TestResponse([body], f"{status} X", headers, request)


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
        ("/api/v1/", b'{"name": null}', 200, "application/json", "null is not of type"),
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


def test_the_contract_passes_documented_answers(contract):
    contract.check(_answer("/health", b'{"status": "ok"}'))
    contract.check(
        _answer("/api/v1/areas/E09", b'{"code": "area-not-found", "suggestions": '
                b'[{"code": "E09000021", "name": "Kingston upon Thames", "type": "borough"}]}',
                404, "application/problem+json")
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
                schema = parameter["schema"]
                schema = schema.get("items", schema)
                if schema.get("type") == "string" and not {"enum", "format"} & schema.keys():
                    assert "pattern" in schema, (path, parameter["name"])
    assert "NUL" in document["components"]["responses"]["UNKNOWN_PARAMETER"]["description"]
    (year,) = [
        p for p in paths["/api/v1/funding/summary"]["get"]["parameters"]
        if p["name"] == "financial_year"
    ]  # fmt: skip
    pattern = re.compile(year["schema"]["pattern"])
    for text in ("2021/22", "2021-22", "FY21/22", "fy 2021/2022", "21/22"):
        assert pattern.match(text), text
    for text in ("2021", "twenty21", "2021/22/23"):
        assert not pattern.match(text), text
    locate = paths["/api/v1/locate"]["get"]
    assert "exclusive" in locate["description"]
    assert "lat+lon" in locate["responses"]["422"]["description"]
