"""Funding opportunities on the public page: a postcode's patch lists the opportunities open
for it (as /patch gives them), with the time left, the funder and scope, a Demo label, and
links to subscribe to the borough's Atom and iCalendar feeds; text from the data is shown as
text, never as markup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.browser.conftest import Server
from tests.browser.test_page import ALL, search_postcode


def test_a_postcode_shows_its_open_opportunities(
    page: Any, live_server: Server, artifacts: Path
) -> None:
    expected = live_server.json("/patch", postcode="SW2 1RW", per_page=ALL)["opportunities"]
    assert expected["total"] >= 2  # the demo's Lambeth round and Brixton Acre Lane's
    search_postcode(page, live_server, "SW2 1RW")
    cards = page.locator("#opportunity-list li.opportunity")
    assert cards.count() == len(expected["contents"])
    for card, o in zip(cards.all(), expected["contents"], strict=True):
        assert card.get_attribute("data-ref") == o["ref"]
        assert card.locator("h3").text_content() == o["title"]
        assert card.locator(".time-left").text_content().lower() == o["time_left"]
        assert o["funder"] in card.locator(".funder").text_content()
        assert card.locator(".demo-tag").count() == 1  # the demo's rounds are illustrations
    assert page.locator("#opportunities-heading").text_content().endswith(f"({expected['total']})")
    ics = page.locator("#opportunities-ics").get_attribute("href")
    atom = page.locator("#opportunities-atom").get_attribute("href")
    assert ics == "/api/v1/opportunities.ics?area=E09000022"
    assert atom == "/api/v1/opportunities.atom?area=E09000022"
    page.screenshot(path=str(artifacts / "opportunities.png"), full_page=True)


def test_opportunity_text_is_never_markup(page: Any, live_server: Server) -> None:
    """A title holding HTML is shown as those characters."""
    hostile = "<img src=x onerror=window.pwned=1>Round"

    def handler(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        for o in body["opportunities"]["contents"]:
            o["title"] = hostile
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route(lambda url: "/api/v1/patch?" in url, handler)
    search_postcode(page, live_server, "SW2 1RW")
    assert page.locator("#opportunity-list h3").first.text_content() == hostile
    assert page.locator("#opportunity-list img").count() == 0
    assert page.evaluate("window.pwned === undefined")
