"""Every list labels demo records (issue 13): the outcomes table of a service's funding
history and outcomes carries the "Demo" label on each outcome the API marks demo, and none on
a real one (the real case answered from the API's own JSON with the flags turned off)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.browser.test_page import ALL, search_postcode


@pytest.mark.parametrize("mode", ["api", "mixed"])
def test_outcomes_carry_the_demo_label_the_api_gives_them(
    page: Any, live_server: Server, mode: str
) -> None:
    postcode = "KT1 1EU"
    patch = live_server.json("/patch", postcode=postcode, per_page=ALL)
    oxygen = next(s for s in patch["services"]["contents"] if s["organisation"]["name"] == "Oxygen")
    detail = live_server.json(f"/services/{oxygen['id']}")
    outcomes = detail["outcomes"]
    assert len(outcomes) > 1 and all(o["demo"] for o in outcomes)  # the demo's are invented
    if mode == "mixed":
        for i, outcome in enumerate(outcomes):
            outcome["demo"] = i % 2 == 0

        def handler(route: Any) -> None:
            route.fetch()
            route.fulfill(status=200, content_type="application/json", body=json.dumps(detail))

        page.route(lambda url: url.endswith(f"/api/v1/services/{oxygen['id']}"), handler)
    search_postcode(page, live_server, postcode)
    card = page.locator(f".service[data-service='{oxygen['id']}']")
    card.locator("button.expand").click()
    card.locator(".detail[data-loaded=yes]").wait_for()
    rows = card.locator("table.outcomes tbody tr")
    assert rows.count() == len(outcomes)
    for i, outcome in enumerate(outcomes):
        tags = rows.nth(i).locator(".demo-tag")
        assert tags.count() == (1 if outcome["demo"] else 0), outcome["metric"]
        if outcome["demo"]:
            assert tags.inner_text().strip().lower() == "demo"
