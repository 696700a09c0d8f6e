"""Refs holding ``/`` (and ``#``, ``?``, ``%``, a space) in the API's paths, on SQLite and
PostgreSQL: a delivery site's ref is read, changed and removed at its escaped address as a
service's is, and every link an answer about such a record gives leads back to it.

An import takes any one-line text as a ref, a site's included, and makes a site's ref from
its service's where none is given (``<service ref>#site``; a write: ``#site-<n>``), so a
service whose ref holds ``/`` has sites whose refs do. One directory per backend for the
module, filled by the template (CSV) and HSDS importers; the tests that write change or
remove records no other test reads."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask

from directory import create_app
from directory.cli import cli
from tests.conftest import BACKENDS, geography_copy
from tests.directory.test_keys import make_key

#: a template whose services' and sites' refs hold "/" (and worse): a site's ref given, and
#: one made from its service's
TEMPLATE = (
    "Service ref,Service name,Status,Themes,Organisation name,Organisation ref,Coverage,"
    "Site ref,Site name,Site postcode,Last verified\n"
    "SL/RR/01,Slashed rescue,active,Gangs and exploitation,Slashed charity,GB-SLASH/7,"
    "Kingston,SL/RR/01/hall,Hall,KT1 1EU,2026-10-01\n"
    "a/b #1?x%,Odd refs club,active,Gangs and exploitation,Slashed charity,GB-SLASH/7,"
    "Kingston,,Den,KT1 1EU,2026-10-01\n"
)
ODD = "a/b #1?x%"
#: an Open Referral service whose location's id (the site's ref) holds "/"
HSDS = [
    {
        "id": "HS/01",
        "name": "Open Referral slashed",
        "status": "active",
        "organization": {"id": "GB-HS/2", "name": "Slashed referrals"},
        "service_areas": [{"id": "sa-1", "name": "Kingston"}],
        "service_at_locations": [
            {
                "id": "HS/01/sal",
                "location": {
                    "id": "HS/01/loc",
                    "name": "Hub",
                    "latitude": 51.4105,
                    "longitude": -0.3001,
                },
            },
        ],  # fmt: skip
    }
]
#: site refs ending in a service route's own word (of service ROUTE_WORDS), and a service
#: whose ref holds "/sites/" (SITES_IN_REF)
ROUTE_WORDS = "HS/03"
WORDY_SITES = ["HS/03/history", "HS/03/outcomes", "HS/03/feedback", "HS/03/outcomes/1",
               "hall/sites/2/history"]  # fmt: skip
SITES_IN_REF = "HS/sites/04"
HSDS += [
    {
        "id": service,
        "name": name,
        "status": "active",
        "organization": {"id": "GB-HS/2", "name": "Slashed referrals"},
        "service_areas": [{"id": "sa-1", "name": "Kingston"}],
        "service_at_locations": [
            {
                "id": f"sal-{i}",
                "location": {
                    "id": site,
                    "name": f"Room {i}",
                    "latitude": 51.4105,
                    "longitude": -0.3001,
                },
            }
            for i, site in enumerate(sites)
        ],
    }  # fmt: skip
    for service, name, sites in (
        (ROUTE_WORDS, "Sites named like routes", WORDY_SITES),
        (SITES_IN_REF, "A service named like a site", ["loc"]),
    )
]
#: (service ref, site ref) of each importer's site
IMPORTED = {
    "template": ("SL/RR/01", "SL/RR/01/hall"),
    "template-made": (ODD, f"{ODD}#site"),
    "hsds": ("HS/01", "HS/01/loc"),
}


@pytest.fixture(scope="module", params=BACKENDS)
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp(f"refs-in-paths-{request.param}")
    app = create_app(geography_copy(request, request.param, tmp))
    template, hsds = tmp / "services.csv", tmp / "services.json"
    template.write_text(TEMPLATE, "utf-8")
    hsds.write_text(json.dumps(HSDS), "utf-8")
    for path, format_ in ((template, "template"), (hsds, "hsds")):
        result = app.test_cli_runner().invoke(
            cli, ["import", str(path), "--format", format_, "--source", path.stem]
        )
        assert result.exit_code == 0, result.output
    yield app
    app.extensions["directory"].db.dispose()


@pytest.fixture(scope="module")
def officer(app: Flask) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(app, 'officer', '--name', 'refs')['key']}"}


def site_path(service_ref: str, site_ref: str) -> str:
    return f"/api/v1/services/{quote(service_ref, safe='')}/sites/{quote(site_ref, safe='')}"


def etag(app: Flask, path: str) -> str:
    response = app.test_client().get(path)
    assert response.status_code == 200, response.get_json()
    return response.headers["ETag"]


# -- a site's ref holding "/" ---------------------------------------------------------------


@pytest.mark.parametrize("importer", list(IMPORTED))
def test_an_imported_sites_ref_holding_a_slash_is_read_at_its_escaped_address(app, importer):
    """Every importer takes a site's ref holding ``/``; the site is read at its address
    with the ``/`` sent as ``%2F`` (it was werkzeug's 404, naming no record)."""
    service_ref, site_ref = IMPORTED[importer]
    listed = app.test_client().get(f"/api/v1/services/{quote(service_ref, safe='')}")
    assert [site["ref"] for site in listed.get_json()["locations"]] == [site_ref]
    response = app.test_client().get(site_path(service_ref, site_ref))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["ref"] == site_ref and body["service"]["ref"] == service_ref


def test_an_unknown_site_ref_holding_a_slash_is_the_site_not_found_problem(app):
    response = app.test_client().get(site_path("SL/RR/01", "no/such/site"))
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "site-not-found" and "'no/such/site'" in body["detail"], body


def test_a_site_whose_ref_holds_a_slash_is_changed_at_its_escaped_address(app, officer):
    path = site_path(*IMPORTED["hsds"])
    changed = app.test_client().patch(
        path, json={"name": "Hub upstairs"}, headers={**officer, "If-Match": etag(app, path)}
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["ref"] == "HS/01/loc"
    assert app.test_client().get(path).get_json()["name"] == "Hub upstairs"


def test_a_site_added_to_a_service_whose_ref_holds_a_slash_is_where_its_location_says(app, officer):
    """A site added without a ref is ``<service ref>#site-<n>``, ``/`` and all; the
    ``Location`` of the answer escapes it and is read back as the site. Removed there, it
    is gone from its service."""
    client = app.test_client()
    service = f"/api/v1/services/{quote('SL/RR/01', safe='')}"
    added = client.post(f"{service}/sites", json={"name": "Annexe"}, headers=officer)
    assert added.status_code == 201, added.get_json()
    site_ref = added.get_json()["ref"]
    assert site_ref == "SL/RR/01#site-2"
    location = added.headers["Location"]
    assert urlsplit(location).path == site_path("SL/RR/01", site_ref)
    assert location.endswith("/sites/SL%2FRR%2F01%23site-2")
    read = client.get(location)
    assert read.status_code == 200 and read.get_json() == added.get_json()
    removed = client.delete(location, headers={**officer, "If-Match": read.headers["ETag"]})
    assert removed.status_code == 204, removed.get_json()
    assert client.get(location).get_json()["code"] == "site-not-found"
    assert site_ref not in [site["ref"] for site in client.get(service).get_json()["locations"]]


@pytest.mark.parametrize("site_ref", WORDY_SITES)
def test_a_site_whose_ref_ends_in_a_service_routes_word_is_read_at_its_address(app, site_ref):
    """A site ref ending in ``/history``, ``/outcomes``, ``/feedback`` or
    ``/outcomes/<n>``: its address is the site's (GET took it for the history, outcomes or
    outcome of a service ``HS/03/sites/HS/03``, a 404 naming that service)."""
    response = app.test_client().get(site_path(ROUTE_WORDS, site_ref))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["ref"] == site_ref and body["service"]["ref"] == ROUTE_WORDS


def test_a_site_whose_ref_ends_in_history_is_changed_at_its_address(app, officer):
    """Every method at that address is the site's: a PATCH changes it (a PATCH was the
    site's already, a GET was not), and a POST there is the site's 405, not feedback on a
    service; the service's own history is still its own."""
    client = app.test_client()
    path = site_path(ROUTE_WORDS, "HS/03/history")
    changed = client.patch(
        path, json={"name": "History room"}, headers={**officer, "If-Match": etag(app, path)}
    )
    assert changed.status_code == 200, changed.get_json()
    assert client.get(path).get_json()["name"] == "History room"
    feedback = client.post(site_path(ROUTE_WORDS, "HS/03/feedback"), json={"text": "x"})
    assert feedback.status_code == 405
    assert {m.strip() for m in feedback.headers["Allow"].split(",")} >= {"GET", "PATCH", "DELETE"}
    history = client.get(f"/api/v1/services/{quote(ROUTE_WORDS, safe='')}/history")
    assert history.status_code == 200
    assert history.get_json()["contents"][0]["entity_ref"] == ROUTE_WORDS


def test_a_service_whose_ref_holds_sites_is_reached_by_its_id(app):
    """What comes before the first ``/sites/`` is the service's ref on every route: a
    service whose ref holds ``/sites/`` is reached by its id (its history too), and its
    ref's address is the site ``04/…`` of a service ``HS``."""
    client = app.test_client()
    listed = client.get("/api/v1/services?per_page=100").get_json()["contents"]
    (found,) = [s for s in listed if s["ref"] == SITES_IN_REF]
    assert client.get(f"/api/v1/services/{found['id']}/history").status_code == 200
    by_ref = client.get(f"/api/v1/services/{quote(SITES_IN_REF, safe='')}/history")
    assert by_ref.status_code == 404
    assert (
        by_ref.get_json()["code"] == "service-not-found" and "'HS'" in by_ref.get_json()["detail"]
    )


# -- links to a record whose ref holds "/", "#", "?", "%" and a space ------------------------


def links_in(response: Any) -> list[str]:
    """Every link to this API an answer gives: its JSON's ``url`` and ``href`` members,
    its ``Link`` header's targets and its ``Location``."""
    found: list[str] = []
    stack = [response.get_json()] if response.is_json else []
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found += [v for k, v in node.items() if k in ("url", "href") and isinstance(v, str)]
            stack += node.values()
        elif isinstance(node, list):
            stack += node
    found += re.findall(r"<([^>]+)>", response.headers.get("Link", ""))
    found += [response.headers["Location"]] if "Location" in response.headers else []
    return [link for link in found if link.startswith(("/api/", "http://localhost/api/"))]


def test_every_link_to_a_record_whose_ref_holds_reserved_characters_leads_back_to_it(app, officer):
    """The links of the answers about a service whose ref is ``a/b #1?x%`` and of its site
    (``a/b #1?x%#site``): its item, a page of its history, its site, a site added to it, its
    address with a trailing slash, the patch that lists it, its OGC API and HSDS items.
    Each leads to a 200, and each built from the record names it: a ref's reserved
    characters escaped (a page link to its history held them bare, and led elsewhere)."""
    client = app.test_client()
    service = f"/api/v1/services/{quote(ODD, safe='')}"
    detail = client.get(service).get_json()
    own = (quote(ODD, safe=""), f"/services/{detail['id']}", f"/services/items/{detail['id']}")
    (hsds,) = client.get("/api/v1/hsds/services?search=Odd refs club").get_json()["contents"]
    added = client.post(f"{service}/sites", json={"name": "Loft"}, headers=officer)
    answers = {
        "service": client.get(service),
        "history": client.get(f"{service}/history?per_page=1"),
        "site": client.get(site_path(ODD, f"{ODD}#site")),
        "added site": added,
        "slashed address": client.get(f"{service}/"),
        "patch": client.get("/api/v1/patch?postcode=KT1 1EU"),
        "OGC API item": client.get(f"/api/v1/ogc/collections/services/items/{detail['id']}"),
        "HSDS item": client.get(f"/api/v1/hsds/services/{hsds['id']}"),
    }
    for what, answer in answers.items():
        assert answer.status_code in (200, 201, 308), (what, answer.get_data(as_text=True))
        links = links_in(answer)
        if what not in ("service", "HSDS item"):  # (these link to other records only)
            assert any(s in link for link in links for s in own), (what, links)
        for link in links:
            followed = client.get(link)
            assert followed.status_code == 200, (what, link, followed.get_data(as_text=True))
            if any(s in link for s in own):
                named = (ODD, f"{ODD}#site", added.get_json()["ref"])
                text = followed.get_data(as_text=True)
                assert any(json.dumps(ref) in text for ref in named), (what, link)
