"""The committed OpenAPI document matches the code (regenerate with `make openapi`)."""

from __future__ import annotations

import json
from pathlib import Path

from directory import create_app
from directory.settings import Settings

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
