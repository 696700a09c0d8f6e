"""An unknown query parameter is a 400 unknown-parameter problem naming it, on every operation
(issue 13): a misspelt filter must not widen an answer without a word. The probes, the API's
documents and the page take whatever they are sent; unknown members of a JSON body are the
422 every body problem is."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from directory.web.site import STATIC_DIR

PROBLEM = "application/problem+json"

# (path with the parameters the operation takes, the operation's own names the message lists)
ROUTES = [
    ("/api/v1/services?theme=vawg", ("theme", "area", "page", "per_page")),
    ("/api/v1/patch?postcode=KT1 1EU", ("postcode", "theme", "radius")),
    ("/api/v1/grants?q=safety", ("funder", "recipient", "status")),
    ("/api/v1/areas?type=borough", ("type", "parent", "simplify")),
    ("/api/v1/funding/summary?by=programme", ("by", "programme", "area")),
    ("/api/v1/programmes/surge/fairness?financial_year=2020/21", ("financial_year",)),
    ("/api/v1/changes?entity=service", ("since", "area", "page")),
    ("/api/v1/changes.atom?entity=service", ("since", "area")),
    ("/api/v1/postcodes/KT1 1EU", ()),
    ("/api/v1/outcodes/KT1", ()),
    ("/api/v1/themes", ()),
    ("/api/v1", ()),
]


def _join(path: str, query: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{query}"


def _unknown(response: Any, *names: str) -> dict[str, Any]:
    assert response.status_code == 400, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["code"] == "unknown-parameter"
    assert body["type"] == "/problems/unknown-parameter"
    assert set(body["errors"]) == set(names)
    for name in names:
        assert name in body["detail"]
    return body


@pytest.mark.parametrize(("path", "takes"), ROUTES, ids=[p for p, _ in ROUTES])
def test_an_unknown_parameter_is_a_400_naming_it_with_what_the_operation_takes(client, path, takes):
    body = _unknown(client.get(_join(path, "color=red")), "color")
    (message,) = body["errors"]["color"]
    if takes:
        for name in takes:
            assert name in message and name in body["detail"]
    else:
        assert "takes no query parameters" in message


@pytest.mark.parametrize(("path", "takes"), ROUTES, ids=[p for p, _ in ROUTES])
def test_the_parameters_an_operation_takes_still_answer(client, path, takes):
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]


@pytest.mark.parametrize(
    "path",
    [
        # repeatable parameters, and a single-valued one repeated (its first value is taken)
        "/api/v1/services?theme=vawg&theme=domestic-abuse&q=x&q=y",
        "/api/v1/patch?postcode=KT1 1EU&theme=vawg&theme=domestic-abuse",
        "/api/v1/areas?type=borough&type=ward",
        # the page envelope's own parameters
        "/api/v1/services?page=2&per_page=5",
        "/api/v1/grants?page=1&per_page=10",
        "/api/v1/areas?page=3&per_page=2",
        "/api/v1/changes?page=1&per_page=1",
        "/api/v1/patch?postcode=KT1 1EU&page=1&per_page=1000",
        # an empty query string, or one with no parameter in it
        "/api/v1/themes?",
        "/api/v1/postcodes/KT1 1EU?&",
    ],
)
def test_known_parameters_repeated_and_paged_still_answer(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]


def test_every_unknown_parameter_is_named_and_checked_before_the_values(client):
    response = client.get("/api/v1/grants?funder_name=x&Page=2&per_page=0&status=nope")
    body = _unknown(response, "funder_name", "Page")
    assert "Did you mean funder?" in body["errors"]["funder_name"][0]
    assert "Did you mean page?" in body["errors"]["Page"][0]
    # an invalid value of a known parameter stays the 422 it was
    assert client.get("/api/v1/grants?per_page=0").status_code == 422


@pytest.mark.parametrize(
    ("path", "sent", "meant"),
    [
        ("/api/v1/services", "page_size", "per_page"),
        ("/api/v1/services", "per-page", "per_page"),
        ("/api/v1/services", "search", "q"),
        ("/api/v1/hsds/services", "q", "search"),
        ("/api/v1/ogc/collections/services/items", "page", "offset"),
        ("/api/v1/ogc/collections/services/items", "page_size", "limit"),
        ("/api/v1/locate", "lng", "lon"),
        ("/api/v1/patch", "postal_code", "postcode"),
        ("/api/v1/services", "themes", "theme"),
    ],
)  # fmt: skip
def test_an_unknown_parameter_is_told_what_it_likely_means(client, path, sent, meant):
    """What other APIs call a parameter, or its name spelt otherwise, is pointed at the one
    this operation takes, never at an unrelated one (`page_size` was told "updated_since",
    `search` "near" and OGC's `page` "parent": the read probe of 5 December)."""
    body = _unknown(client.get(f"{path}?{sent}=2"), sent)
    assert f"Did you mean {meant}?" in body["errors"][sent][0]


def test_an_unknown_parameter_like_none_is_given_no_guess(client):
    body = _unknown(client.get("/api/v1/services?colour=2"), "colour")
    assert "Did you mean" not in body["errors"]["colour"][0]


def test_a_post_refuses_query_parameters_and_unknown_body_members_are_422(client):
    sent = {"postcodes": ["KT1 1EU"]}
    assert client.post("/api/v1/patch/lookup", json=sent).status_code == 200
    _unknown(client.post("/api/v1/patch/lookup?detail=full", json=sent), "detail")
    response = client.post("/api/v1/patch/lookup", json={**sent, "color": "red"})
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["code"] == "invalid-input"
    (message,) = body["errors"]["color"]
    assert message.startswith("Unknown field.")
    for name in ("postcodes", "detail", "theme"):
        assert name in message
    response = client.post("/api/v1/postcodes/lookup", json={**sent, "colour": 1})
    assert response.status_code == 422
    assert "postcodes" in response.get_json()["errors"]["colour"][0]


@pytest.mark.parametrize(
    "path",
    [
        "/health?_=1764460800000",
        "/ready?probe=lb",
        "/api/v1/openapi.json?v=2",
        "/api/v1/docs?utm_source=newsletter",
        "/?utm_source=newsletter&postcode=KT1 1EU",
        "/?fbclid=abc&area=E09000021",
    ],
)
def test_probes_documents_and_the_page_take_any_parameters(client, path):
    assert client.get(path).status_code == 200


def test_the_pages_api_calls_send_only_parameters_the_api_takes(client):
    """The calls directory/web/site/static/app.js makes (kept in step with it: every
    parameter name app.js sends is one of those listed here)."""
    calls = [
        "/api/v1/areas?type=borough&per_page=100",
        "/api/v1/patch?per_page=1000&postcode=KT1 1EU",
        "/api/v1/patch?per_page=1000&area=E09000021",
        "/api/v1/patch?area=E09000021&per_page=1000",
        "/api/v1/areas/E09000021/boundary?simplify=20",
        "/api/v1/funding/summary?by=programme&area=E09000021",
        "/api/v1/funding/summary?by=financial_year&area=E09000021",
        "/api/v1/funding/need?level=borough",
        "/api/v1/programmes/surge/fairness?financial_year=2020/21",
        "/api/v1/programmes?per_page=100",
        "/api/v1/programmes/surge/fairness",
        "/api/v1/grants?programme=surge",
        "/api/v1/themes",
        "/api/v1/partners?theme=youth-diversion&postcode=SW2 1RW&per_page=100",
    ]
    for path in calls:
        response = client.get(path)
        assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
    script = Path(STATIC_DIR, "app.js").read_text("utf-8")
    sent = {
        name
        for literal in re.findall(r"qs\((?:Object\.assign\()?\{([^}]*)\}", script)
        for name in re.findall(r"(\w+)\s*:", literal)
    }
    sent |= set(re.findall(r"\?(\w+)=", script))
    listed = {name for path in calls for name in re.findall(r"[?&](\w+)=", path)}
    assert sent <= listed, sorted(sent - listed)


def test_the_refusal_is_documented_on_every_operation_that_makes_it(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    ref = "#/components/responses/UNKNOWN_PARAMETER"
    assert (
        "unknown-parameter" in spec["components"]["responses"]["UNKNOWN_PARAMETER"]["description"]
    )
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            documented = operation["responses"].get("400", {}).get("$ref") == ref
            assert documented == (path not in ("/health", "/ready")), (method, path)
