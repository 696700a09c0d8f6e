"""Who to talk to, and the "Demo" label, on the public page (issue 13).

A patch shows each contact `/patch` gives (role, name, area, e-mail and phone as links) and
each service's public contact in its list entry; every record the API marks `demo: true`
(service, delivery site, contact, grant) carries a visible "Demo" label in every list it
appears in and in its map marker's tooltip and popup, and a real record carries none. The
demo directory is all demo records, so the real case is made by answering the page with the
API's own JSON with some `demo` flags turned off."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.browser.test_page import ALL, search_postcode

POSTCODES = ["KT1 1EU", "SW2 1RW"]  # Kingston upon Thames (3 contacts), Lambeth (a live grant)


def dial(phone: str) -> str:
    return "tel:" + "".join(ch for ch in phone if ch.isdigit() or ch == "+")


def area_label(area: dict[str, Any]) -> str:
    suffix = {"bcu": " BCU", "ward": " ward"}.get(area["type"], "")
    return area["name"] + suffix


def made_real(record: dict[str, Any]) -> bool:
    """In the "mixed" run, about half the records are answered as real (stable per record)."""
    key = record.get("id") or record.get("ref") or f"{record.get('role')}|{record.get('name')}"
    return zlib.crc32(str(key).encode()) % 2 == 0


def relabel(body: Any, mode: str) -> Any:
    """The API's answer with its demo flags as the run wants them (`api` leaves them)."""
    if mode == "api":
        return body
    if isinstance(body, list):
        return [relabel(item, mode) for item in body]
    if isinstance(body, dict):
        out = {k: relabel(v, mode) for k, v in body.items()}
        if out.get("demo") is True and (mode == "real" or made_real(out)):
            out["demo"] = False
        return out
    return body


def answer_with(page: Any, mode: str) -> None:
    """Route /patch and /services/{id} through relabel()."""

    def handler(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        route.fulfill(
            status=response.status,
            content_type=response.headers.get("content-type", "application/json"),
            body=json.dumps(relabel(body, mode)),
        )

    if mode != "api":
        page.route(lambda url: "/api/v1/patch?" in url, handler)
        page.route(lambda url: "/api/v1/services/" in url, handler)


def has_tag(locator: Any) -> bool:
    return locator.locator(".demo-tag").count() > 0


@pytest.mark.parametrize("postcode", POSTCODES)
def test_who_to_talk_to_and_each_services_contact(
    page: Any, live_server: Server, artifacts: Path, postcode: str
) -> None:
    expected = live_server.json("/patch", postcode=postcode, per_page=ALL)
    contacts = expected["contacts"]
    assert contacts, "the demo directory gives this patch its contacts"
    search_postcode(page, live_server, postcode)

    section = page.locator("#contacts")
    assert page.get_by_role("heading", name="Who to talk to").is_visible()
    cards = section.locator("li.contact-card")
    assert cards.count() == len(contacts)
    for i, contact in enumerate(contacts):
        card = cards.nth(i)
        assert card.locator("h3").inner_text().startswith(contact["role"])
        text = card.inner_text()
        assert contact["name"] in text
        assert area_label(contact["area"]) in text
        mail = card.locator("a.email")
        if contact["email"]:
            assert mail.get_attribute("href") == f"mailto:{contact['email']}"
            assert mail.inner_text() == contact["email"]
        else:
            assert mail.count() == 0
        phone = card.locator("a.phone")
        if contact["phone"]:
            assert phone.get_attribute("href") == dial(contact["phone"])
            assert phone.inner_text() == contact["phone"]
        else:
            assert phone.count() == 0

    services = expected["services"]["contents"]
    assert any(s["contact"]["email"] for s in services)
    for service in services:
        line = page.locator(f".service[data-service='{service['id']}'] .contact")
        ways = service["contact"]
        if not any(ways.values()):
            assert line.inner_text() == "No public contact recorded."
            continue
        if ways["email"]:
            assert line.locator("a.email").get_attribute("href") == f"mailto:{ways['email']}"
        if ways["phone"]:
            assert line.locator("a.phone").get_attribute("href") == dial(ways["phone"])
        if ways["website"]:
            assert ways["website"] in line.inner_text()
    name = postcode.replace(" ", "")
    page.screenshot(path=str(artifacts / f"page-contacts-{name}.png"), full_page=True)


@pytest.mark.parametrize("mode", ["api", "mixed", "real"])
def test_demo_records_are_labelled_in_every_list_and_marker(
    page: Any, live_server: Server, artifacts: Path, mode: str
) -> None:
    postcode = "KT1 1EU"
    expected = relabel(live_server.json("/patch", postcode=postcode, per_page=ALL), mode)
    services = expected["services"]["contents"]
    contacts = expected["contacts"]
    sites = [
        (service, site)
        for service in services
        for site in service["sites"]
        if site.get("lat") is not None
    ]
    if mode == "api":  # the demo directory: every record the page shows is a demo record
        assert services and all(s["demo"] for s in services)
        assert contacts and all(c["demo"] for c in contacts)
        assert sites and all(site["demo"] for _, site in sites)
    if mode == "mixed":
        flags = [s["demo"] for s in services] + [c["demo"] for c in contacts]
        assert True in flags and False in flags
    if mode == "real":
        assert not any(s["demo"] for s in services) and not any(c["demo"] for c in contacts)
    answer_with(page, mode)
    search_postcode(page, live_server, postcode)

    # the services, and their live grants where the API marks them
    for service in services:
        card = page.locator(f".service[data-service='{service['id']}']")
        assert has_tag(card.locator(".service-head")) == service["demo"], service["name"]
        assert card.get_attribute("data-demo") == ("yes" if service["demo"] else "no")
        grants = card.locator(".grants li.grant")
        assert grants.count() == len(service["live_grants"])
        for i, grant in enumerate(service["live_grants"]):
            assert has_tag(grants.nth(i)) == (grant.get("demo") is True)
    # the contacts
    cards = page.locator("#contacts li.contact-card")
    assert cards.count() == len(contacts)
    for i, contact in enumerate(contacts):
        assert has_tag(cards.nth(i)) == contact["demo"], contact["name"]
        if contact["demo"]:
            assert cards.nth(i).locator(".demo-tag").inner_text().strip().lower() == "demo"

    # the delivery sites under the map and their markers (tooltip and popup)
    listed = page.locator("#sites li")
    pins = page.locator("#map .pin-site")
    assert listed.count() == pins.count() == len(sites)
    for i, (service, site) in enumerate(sites):
        demo = service["demo"] or site["demo"]
        assert has_tag(listed.nth(i)) == demo
        pin = pins.nth(i)
        # the tooltip (the marker's title) ends with the label; a site's name may say "Demo"
        assert (pin.get_attribute("title") or "").endswith(" – Demo") == demo
        # its accessible name is that title, not its number alone (the page probe)
        assert pin.get_attribute("aria-label") == pin.get_attribute("title")
        assert pin.get_attribute("aria-label").startswith(f"{i + 1}: {site['name']} (")
        pin.dispatch_event("click")
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        assert service["name"] in popup.inner_text()
        assert has_tag(popup) == demo
        page.locator(".leaflet-popup-close-button").dispatch_event("click")
        popup.wait_for(state="detached")

    # the borough dashboard's list of awards ending soon names their services
    borough = relabel(
        live_server.json("/patch", area=expected["borough"]["code"], per_page=ALL), mode
    )
    ending: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    for service in borough["services"]["contents"]:
        for grant in service["live_grants"]:
            if grant["ending_soon"]:
                ending.setdefault(grant["id"], (service, grant))
    rows = page.locator("#panel-ending tbody tr")
    assert rows.count() == len(ending)
    for i, (service, grant) in enumerate(ending.values()):
        assert has_tag(rows.nth(i)) == (service["demo"] or grant.get("demo") is True)

    # a service's funding history lists its grants, each labelled as the API marks it
    first = services[0]
    detail = relabel(live_server.json(f"/services/{first['id']}"), mode)
    card = page.locator(f".service[data-service='{first['id']}']")
    card.locator("button.expand").click()
    card.locator(".detail[data-loaded=yes]").wait_for()
    rows = card.locator(".detail .table-wrap").first.locator("tbody tr")
    assert rows.count() == len(detail["grants"])
    for i, grant in enumerate(detail["grants"]):
        assert has_tag(rows.nth(i)) == grant["demo"]
    page.screenshot(path=str(artifacts / f"page-demo-labels-{mode}.png"), full_page=True)
