"""Awards reaching a patch, on the public page (issue 13).

The patch view and the borough dashboard each show a table "Awards reaching <area>" with the
rows `/patch`'s `awards` gives (funder, recipient, programme, amount, dates), in its order,
a "Demo" label on each award the API marks `demo: true` (and none on a real one: the API's
JSON is answered with its demo flags turned off), and a link to the full list
(`/api/v1/grants?area=<code>`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.browser.test_page import ALL, pick_borough, search_postcode
from tests.browser.test_page_contacts import answer_with, has_tag, relabel

POSTCODES = ["KT1 1EU", "SW2 1RW"]


def check_table(page: Any, container: str, heading: str, awards: dict[str, Any], name: str) -> None:
    assert page.locator(heading).inner_text() == f"Awards reaching {name}"
    box = page.locator(container)
    assert box.locator(".total").get_attribute("data-total") == str(awards["total"])
    rows = box.locator("table.awards-table tbody tr")
    assert rows.count() == len(awards["contents"])
    for i, award in enumerate(awards["contents"]):
        row = rows.nth(i)
        assert row.get_attribute("data-ref") == award["ref"]
        cells = row.locator("th, td")
        funder = cells.nth(0).inner_text()
        assert funder.startswith(award["funder"]["name"])
        assert cells.nth(1).inner_text() == award["recipient"]["name"]
        programme = award["programme"]["name"] if award["programme"] else "—"
        assert cells.nth(2).inner_text() == programme
        amount = cells.nth(3).get_attribute("data-value")
        assert (None if amount is None else float(amount)) == award["amount"]
        dates = cells.nth(4).inner_text()
        status = "status unknown" if award["status"] == "unknown" else award["status"]
        assert dates.endswith(f"({status})")
        if not award["start"] and not award["end"]:  # (was "not recorded to not recorded")
            assert dates.startswith("Dates not recorded")
        assert has_tag(cells.nth(0)) == award["demo"], award["ref"]
        assert row.get_attribute("data-demo") == ("yes" if award["demo"] else "no")
    link = box.locator("a.all-awards")
    assert link.get_attribute("href") == awards["all_url"]


@pytest.mark.parametrize("mode", ["api", "real"])
@pytest.mark.parametrize("postcode", POSTCODES)
def test_awards_reaching_the_patch_and_the_borough(
    page: Any, live_server: Server, artifacts: Path, postcode: str, mode: str
) -> None:
    patch = relabel(live_server.json("/patch", postcode=postcode, per_page=ALL), mode)
    borough = relabel(live_server.json("/patch", area=patch["borough"]["code"], per_page=ALL), mode)
    answer_with(page, mode)
    search_postcode(page, live_server, postcode)
    name = (patch["ward"] or patch["borough"])["name"]
    check_table(page, "#awards-body", "#awards-heading", patch["awards"], name)
    check_table(
        page, "#panel-awards .body", "#h-awards", borough["awards"], patch["borough"]["name"]
    )
    slug = postcode.replace(" ", "")
    page.screenshot(path=str(artifacts / f"page-awards-{slug}-{mode}.png"), full_page=True)


def test_awards_on_a_borough_dashboard_picked_from_the_list(page: Any, live_server: Server) -> None:
    boroughs = live_server.json("/areas", type="borough", per_page=100)["contents"]
    lambeth = next(b for b in boroughs if b["name"] == "Lambeth")
    expected = live_server.json("/patch", area=lambeth["code"], per_page=ALL)["awards"]
    assert expected["contents"], "the demo directory has awards reaching Lambeth"
    page.goto(live_server.url("/"))
    pick_borough(page, "Lambeth")
    check_table(page, "#panel-awards .body", "#h-awards", expected, "Lambeth")
    check_table(page, "#awards-body", "#awards-heading", expected, "Lambeth")
