"""A client generated from openapi/openapi.json by openapi-python-client calls /patch on the
demo directory (through httpx's WSGI transport, straight into the Flask app) and reads every
field of the answer as typed models: nothing is left over as an untyped member, and the
parsed model serialises back to exactly the JSON the API sent."""

from __future__ import annotations

import datetime as dt
import enum
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from flask import Flask

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = REPO_ROOT / "openapi" / "openapi.json"
# no formatter run on the generated code; the Atom feed read as text (the generator has no
# handler for application/atom+xml)
CONFIG = "post_hooks: []\ncontent_type_overrides:\n  application/atom+xml: text/plain\n"
PACKAGE = "directory_api_client"


@pytest.fixture(scope="module")
def demo_app(sqlite_demo_app: Flask) -> Flask:
    """The demo directory on SQLite (the session's, shared: these tests only read it)."""
    return sqlite_demo_app


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The client package generated from the committed document, imported."""
    tmp = tmp_path_factory.mktemp("client")
    (tmp / "config.yaml").write_text(CONFIG)
    generator = Path(sys.executable).parent / "openapi-python-client"
    done = subprocess.run(
        [str(generator), "generate", "--path", str(DOCUMENT), "--meta", "none",
         "--output-path", str(tmp / PACKAGE), "--config", str(tmp / "config.yaml"),
         "--fail-on-warning"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    sys.path.insert(0, str(tmp))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _read_every_field(value: Any, path: str, models: set[str]) -> int:
    """Read every field of a parsed answer, failing on an object left untyped; return how
    many fields were read."""
    if attrs.has(type(value)):
        models.add(type(value).__name__)
        read = 0
        for field in attrs.fields(type(value)):
            item = getattr(value, field.name)
            if field.name == "additional_properties":
                # a JSON object with members the schema does not name (or a map whose values
                # are untyped) ends up here: the schema should have named them
                assert "Any" not in str(field.type) or not item, (
                    f"{path}: untyped members {sorted(item)}"
                )
                for key, member in item.items():
                    read += 1 + _read_every_field(member, f"{path}[{key!r}]", models)
            else:
                read += 1 + _read_every_field(item, f"{path}.{field.name}", models)
        return read
    if isinstance(value, list):
        return sum(_read_every_field(v, f"{path}[{i}]", models) for i, v in enumerate(value))
    assert not isinstance(value, dict), f"{path} is an untyped object: {str(value)[:200]}"
    # Unset: a member the answer does not carry (optional in the schema)
    scalars = str | int | float | dt.date | enum.Enum
    assert value is None or type(value).__name__ == "Unset" or isinstance(value, scalars), (
        f"{path}: {type(value).__name__}"
    )
    return 0


def test_the_generated_client_reads_every_field_of_a_patch(generated, demo_app):
    get_patch = importlib.import_module(f"{PACKAGE}.api.patch.get_patch")
    models = importlib.import_module(f"{PACKAGE}.models")
    transport = httpx.WSGITransport(app=demo_app)
    client = generated.Client(base_url="http://directory.test", httpx_args={"transport": transport})
    with client as session:
        response = get_patch.sync_detailed(client=session, postcode="SW2 1RW")
    assert response.status_code == 200, response.content[:2000]
    patch = response.parsed
    assert isinstance(patch, models.Patch)
    body = json.loads(response.content)

    seen: set[str] = set()
    read = _read_every_field(patch, "patch", seen)
    # the parsed model holds the whole answer: it serialises back to exactly what was sent
    assert patch.to_dict() == body
    assert read > 100 and len(seen) > 10, (read, sorted(seen))
    # and it is the real answer: Brixton Hill in Lambeth, with the demo's services
    assert patch.borough.name == "Lambeth" and patch.borough.code == "E09000022"
    assert patch.ward.name == body["ward"]["name"]
    services = patch.services
    assert services.total_items == body["services"]["total_items"] > 0
    assert [s.id for s in services.contents] == [s["id"] for s in body["services"]["contents"]]


#: paths whose records the demo directory has none of (practice notes are written over the
#: API): their example is a key the first one written gets
WITHOUT_DEMO_RECORDS = {"/api/v1/practice/{note_id}"}


def test_the_documents_path_examples_are_real_keys_of_the_demo_directory(demo_app):
    document = json.loads(DOCUMENT.read_text())
    client = demo_app.test_client()
    templated = [path for path in document["paths"] if "{" in path]
    assert templated
    for path in templated:
        url = path
        for parameter in document["paths"][path]["parameters"]:
            assert "example" in parameter, (path, parameter["name"])
            url = url.replace(f"{{{parameter['name']}}}", str(parameter["example"]))
        get = document["paths"][path].get("get")
        if get is None or get.get("security"):
            continue  # a write, or a read that needs a key: its example is checked by its tests
        response = client.get(url)
        if path in WITHOUT_DEMO_RECORDS:
            assert response.status_code == 404, url
            continue
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:500])


#: calls whose answers hold null nested objects (London's parent, the City of London's BCU,
#: areas with no BCU in lists and summaries): (module, arguments, the member that is null)
NULL_NESTED_CALLS = [
    ("areas.get_area", {"code": "E12000007"}, "parent"),
    ("postcodes.get_postcode", {"postcode": "EC2V 7HH"}, "bcu"),
    ("areas.list_areas", {}, None),
    ("opportunities.list_opportunities", {}, None),
    ("programmes.list_programmes", {}, None),
    ("funding.get_funding_summary", {"by": "borough", "area": "E09000001"}, None),
]


@pytest.mark.parametrize(("module", "arguments", "null"), NULL_NESTED_CALLS)
def test_the_generated_client_reads_null_nested_objects(
    generated, demo_app, module, arguments, null
):
    """A nullable nested object is typed ``Model | None``: the client parses null as None
    (it raised TypeError on every one of these when the document wrote it as a nullable
    object with an allOf, which OpenAPI 3.0.3 does not let be null)."""
    operation = importlib.import_module(f"{PACKAGE}.api.{module}")
    if "by" in arguments:
        by = importlib.import_module(f"{PACKAGE}.models.get_funding_summary_by")
        arguments = {**arguments, "by": by.GetFundingSummaryBy(arguments["by"])}
    transport = httpx.WSGITransport(app=demo_app)
    client = generated.Client(base_url="http://directory.test", httpx_args={"transport": transport})
    with client as session:
        response = operation.sync_detailed(client=session, **arguments)
    assert response.status_code == 200, response.content[:2000]
    body = json.loads(response.content)
    assert response.parsed.to_dict() == body
    if null is not None:
        assert body[null] is None and getattr(response.parsed, null) is None
