"""Find partners on the public page (issue 13): a small organisation chooses a theme and
types a postcode, and sees the organisations /api/v1/partners ranks, in its order, each with
its reasons in words, its public contact as links and the "Demo" label the API gives it; an
unknown postcode, a postcode outside London and a theme with nobody nearby are told in plain
words; the search is kept in the address (#partners?theme=…&postcode=…) so it can be linked,
and the back button brings the previous search back. Expected values are the API's own
answers (and /themes' names), never written into the test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.browser.conftest import Server
from tests.browser.test_page import decimal1
from tests.browser.test_page_contacts import dial

PER_PAGE = 50  # what the page asks for


def theme_names(server: Server) -> dict[str, str]:
    return {t["id"]: t["name"] for t in server.json("/themes")["contents"]}


def partners_state(url: str) -> dict[str, list[str]]:
    fragment = urlparse(url).fragment
    assert fragment.startswith("partners?"), url
    return parse_qs(fragment.removeprefix("partners?"))


def find_partners(page: Any, theme_name: str, typed: str) -> None:
    page.wait_for_selector(f"#partner-theme option:text-is('{theme_name}')", state="attached")
    page.get_by_label("Theme of the work").select_option(label=theme_name)
    box = page.get_by_label("Where the work is")
    box.fill("")
    box.press_sequentially(typed)  # key by key, as a person types
    page.get_by_role("button", name="Find partners").click()


def distance(metres: float) -> str:
    """As the page writes a distance (fmtDistance: one decimal in km from 1 km)."""
    return f"{decimal1(metres / 1000)} km" if metres >= 1000 else f"{round(metres)} m"


def reason_words(reason: dict[str, Any], names: dict[str, str], postcode: str) -> list[str]:
    """Words each reason's line must hold."""
    kind = reason["reason"]
    if kind == "shared_themes":
        return ["Themes in common", *(names[t] for t in reason["themes"])]
    if kind == "same_borough":
        return ["same borough", *(a["name"] for a in reason["areas"])]
    if kind == "neighbouring_borough":
        return ["neighbouring borough", *(a["name"] for a in reason["areas"])] + (
            ["across the Thames"] if any(a["relation"] == "across_water" for a in reason["areas"])
            else []
        )  # fmt: skip
    if kind == "london_wide":
        return ["across London"]
    if kind == "sites_nearby":
        return [distance(reason["distance_m"]), postcode]
    if kind == "shared_funders":
        return ["same funders", *reason["funders"]]
    raise AssertionError(f"a reason the test does not know: {kind}")


def check_partners(
    page: Any, expected: dict[str, Any], names: dict[str, str], postcode: str
) -> None:
    contents = expected["partners"]["contents"]
    items = page.locator("#partner-list li.partner")
    assert items.count() == len(contents)
    for i, partner in enumerate(contents):
        item = items.nth(i)
        assert item.get_attribute("data-organisation") == str(partner["organisation"]["id"])
        assert item.get_attribute("data-rank") == str(i + 1)
        assert item.locator("h4").inner_text() == partner["organisation"]["name"]
        assert f"score {partner['score']}" in item.locator(".kind").inner_text()
        lines = item.locator(".reasons li")
        assert lines.count() == len(partner["reasons"])
        for j, reason in enumerate(partner["reasons"]):
            text = lines.nth(j).inner_text()
            for word in reason_words(reason, names, postcode):
                assert word in text, (partner["organisation"]["name"], reason, text)
        ways, line = partner["contact"], item.locator(".contact")
        if not any(ways.values()):
            assert line.inner_text() == "No public contact recorded."
        if ways["email"]:
            assert line.locator("a.email").get_attribute("href") == f"mailto:{ways['email']}"
            assert line.locator("a.email").inner_text() == ways["email"]
        else:
            assert line.locator("a.email").count() == 0
        if ways["phone"]:
            assert line.locator("a.phone").get_attribute("href") == dial(ways["phone"])
        if ways["website"]:
            assert line.locator("a.website").get_attribute("href") == ways["website"]
        assert (item.locator(".demo-tag").count() > 0) == partner["demo"]
        assert item.get_attribute("data-demo") == ("yes" if partner["demo"] else "no")
        assert item.locator("a.organisation-link").get_attribute("href") == partner["url"]


@pytest.mark.parametrize(
    ("theme", "postcode", "typed"),
    [
        ("community-safety", "SW2 1RW", "  sw2   1rw "),  # Lambeth: councils, near and next door
        ("victims-witnesses", "KT1 1EU", "kt11eu"),  # Kingston: a London-wide charity
    ],
)
def test_a_theme_and_a_postcode_show_ranked_partners_with_reasons_and_contact(
    page: Any, live_server: Server, artifacts: Path, theme: str, postcode: str, typed: str
) -> None:
    names = theme_names(live_server)
    expected = live_server.json("/partners", theme=theme, postcode=postcode, per_page=PER_PAGE)
    contents = expected["partners"]["contents"]
    assert contents, "the demo directory has partners for this search"
    assert any(p["contact"]["email"] for p in contents), "and at least one public contact"

    page.goto(live_server.url("/"))
    assert page.get_by_role("heading", name="Find partners").is_visible()
    find_partners(page, names[theme], typed)
    page.wait_for_selector("#partners[data-state=ready]")
    assert page.get_by_label("Where the work is").input_value() == postcode
    assert partners_state(page.url) == {"theme": [theme], "postcode": [postcode]}
    status = page.locator("#partners-status")
    assert status.get_attribute("role") == "status"
    assert status.inner_text().startswith(f"{expected['partners']['total_items']} organisation")
    assert names[theme] in status.inner_text() and postcode in status.inner_text()
    heading = page.locator("#partners-found")
    assert heading.inner_text().startswith(f"Partners for {names[theme]} near {postcode}")
    for borough in expected["subject"]["boroughs"]:
        assert borough["name"] in heading.inner_text()
    check_partners(page, expected, names, postcode)
    assert expected["ranking"] in page.locator("#partners-more details.how").text_content()
    assert page.locator("#partners-problem").is_hidden()
    page.screenshot(path=str(artifacts / f"page-partners-{theme}.png"), full_page=True)


def test_a_linked_search_opens_and_the_back_button_brings_the_last_one_back(
    page: Any, live_server: Server
) -> None:
    names = theme_names(live_server)
    first = live_server.json(
        "/partners", theme="community-safety", postcode="SW2 1RW", per_page=PER_PAGE
    )
    second = live_server.json(
        "/partners", theme="victims-witnesses", postcode="SW2 1RW", per_page=PER_PAGE
    )
    page.goto(live_server.url("/#partners?theme=community-safety&postcode=sw21rw"))
    page.wait_for_selector("#partners[data-state=ready]")
    assert page.get_by_label("Theme of the work").input_value() == "community-safety"
    assert page.get_by_label("Where the work is").input_value() == "SW2 1RW"
    check_partners(page, first, names, "SW2 1RW")
    assert page.locator("#results").is_hidden()  # no patch was asked for

    find_partners(page, names["victims-witnesses"], "SW2 1RW")
    page.wait_for_function(
        "n => document.querySelectorAll('#partner-list li.partner').length === n",
        arg=len(second["partners"]["contents"]),
    )
    page.wait_for_selector("#partners[data-state=ready]")
    check_partners(page, second, names, "SW2 1RW")
    page.go_back()
    page.wait_for_function(
        "() => document.getElementById('partner-theme').value === 'community-safety'"
    )
    page.wait_for_selector("#partners[data-state=ready]")
    check_partners(page, first, names, "SW2 1RW")

    # a patch search keeps the partners in the address, and the partners keep the patch
    page.get_by_label("Postcode", exact=True).fill("KT1 1EU")
    page.get_by_role("button", name="Find my patch").click()
    page.wait_for_selector("#results[data-state=ready]")
    assert parse_qs(urlparse(page.url).query) == {"postcode": ["KT1 1EU"]}
    assert partners_state(page.url) == {"theme": ["community-safety"], "postcode": ["SW2 1RW"]}
    check_partners(page, first, names, "SW2 1RW")


@pytest.mark.parametrize(
    ("postcode", "code"),
    [
        ("SW2 1ZZ", "postcode-not-found"),  # a London district, but no such postcode
        ("M1 1AE", "outside-coverage"),
        ("SW2", "invalid-postcode"),
        ("SM1 1AB", "postcode-terminated"),
    ],
)
def test_a_postcode_the_partners_cannot_use_is_told_in_plain_words(
    page: Any, live_server: Server, artifacts: Path, postcode: str, code: str
) -> None:
    status, problem = live_server.api("/partners", theme="community-safety", postcode=postcode)
    assert status in (404, 422) and problem["code"] == code
    names = theme_names(live_server)
    page.goto(live_server.url("/"))
    find_partners(page, names["community-safety"], postcode)
    page.wait_for_selector("#partners[data-state=problem]")
    alert = page.locator("#partners-problem")
    assert alert.get_attribute("role") == "alert" and alert.is_visible()
    assert problem["title"] in alert.inner_text()
    if code == "postcode-terminated":  # told as the patch search tells it, with a link
        assert postcode in alert.inner_text() and alert.get_by_role("link").count() == 1
    elif code == "invalid-postcode":  # a district alone: in the page's words, its boroughs
        # to choose from (the API's detail ended with the path of an API answer: the probe)
        assert "is a postcode district, not a whole postcode" in alert.inner_text()
        links = alert.locator("a.area-link")
        links.first.wait_for()
        boroughs = live_server.json(f"/outcodes/{postcode}")["boroughs"]
        assert links.all_inner_texts() == [b["name"] for b in boroughs]
        assert "/api/v1/" not in alert.inner_text()
    else:
        assert problem["detail"] in alert.inner_text()
    if code == "postcode-not-found":  # the boroughs near, named once more as links to go to
        links = alert.locator("a.area-link")
        assert links.all_inner_texts() == [b["name"] for b in problem["outcode_boroughs"]]
        assert links.first.get_attribute("href") == (
            f"/?area={problem['outcode_boroughs'][0]['code']}"
        )
    assert page.locator("#partners-results").is_hidden()
    assert page.locator("#problem").is_hidden()  # the patch's own alert is not used
    box = page.locator("#partner-postcode")  # the field it is about, marked and described
    assert box.get_attribute("aria-invalid") == "true"
    assert box.get_attribute("aria-describedby") == "partner-postcode-hint partners-problem"
    assert page.locator("#partner-theme").get_attribute("aria-invalid") is None
    page.screenshot(path=str(artifacts / f"page-partners-{code}.png"))


def test_nobody_nearby_and_missing_input_are_told(page: Any, live_server: Server) -> None:
    names = theme_names(live_server)
    themes = live_server.json("/themes")["contents"]
    empty = next(
        t for t in themes
        if live_server.json("/partners", theme=t["id"], postcode="SW2 1RW")["partners"]["total_items"] == 0
    )  # fmt: skip
    page.goto(live_server.url("/"))
    page.get_by_role("button", name="Find partners").click()
    alert = page.locator("#partners-problem")
    assert "Choose a theme" in alert.inner_text()
    assert page.evaluate("document.activeElement.id") == "partner-theme"
    page.get_by_label("Theme of the work").select_option(label=names[empty["id"]])
    page.get_by_role("button", name="Find partners").click()
    assert "Enter a postcode" in alert.inner_text()
    assert page.evaluate("document.activeElement.id") == "partner-postcode"

    find_partners(page, names[empty["id"]], "SW2 1RW")
    page.wait_for_selector("#partners[data-state=ready]")
    assert alert.is_hidden()
    assert page.locator("#partner-list li").count() == 0
    text = page.locator("#partners-more").inner_text()
    assert f"No organisation in the directory works on {names[empty['id']]} in Lambeth" in text
    assert page.locator("#partners-status").inner_text().startswith("0 organisations found")


def test_demo_partners_are_labelled_and_real_ones_are_not(
    page: Any, live_server: Server, artifacts: Path
) -> None:
    """The demo directory's partners are all demo (their services are); answered with some
    flags turned off and a website added, the page labels exactly the demo ones and links
    the website."""
    names = theme_names(live_server)
    expected = live_server.json(
        "/partners", theme="community-safety", postcode="SW2 1RW", per_page=PER_PAGE
    )
    contents = expected["partners"]["contents"]
    assert len(contents) > 2 and all(p["demo"] for p in contents)
    for i, partner in enumerate(contents):
        partner["demo"] = i % 2 == 0
    contents[1]["contact"]["website"] = "https://partner.example.org/"

    def handler(route: Any) -> None:
        route.fetch()  # the real answer is asked for, then replaced by the relabelled copy
        route.fulfill(status=200, content_type="application/json", body=json.dumps(expected))

    page.route(lambda url: "/api/v1/partners?" in url, handler)
    page.goto(live_server.url("/"))
    find_partners(page, names["community-safety"], "SW2 1RW")
    page.wait_for_selector("#partners[data-state=ready]")
    check_partners(page, expected, names, "SW2 1RW")
    tags = page.locator("#partner-list .demo-tag")
    assert tags.count() == sum(p["demo"] for p in contents)
    assert tags.first.inner_text().strip().lower() == "demo"
    page.screenshot(path=str(artifacts / "page-partners-demo.png"), full_page=True)


def test_a_search_refused_by_the_form_hides_the_last_ones_results(
    page: Any, live_server: Server
) -> None:
    """A theme or a postcode taken away after a search: the page says what it lacks and no
    longer shows the earlier search's partners under it (it did, as if they answered it)."""
    names = theme_names(live_server)
    page.goto(live_server.url("/"))
    find_partners(page, names["community-safety"], "SW2 1RW")
    page.wait_for_selector("#partners[data-state=ready]")
    results, alert = page.locator("#partners-results"), page.locator("#partners-problem")
    assert results.is_visible()
    page.get_by_label("Theme of the work").select_option(value="")
    page.get_by_role("button", name="Find partners").click()
    assert "Choose a theme" in alert.inner_text() and results.is_hidden()
    assert page.locator("#partners").get_attribute("data-state") == "problem"
    assert page.locator("#partner-theme").get_attribute("aria-invalid") == "true"
    find_partners(page, names["community-safety"], "SW2 1RW")  # asked again: shown again
    page.wait_for_selector("#partners[data-state=ready]")
    assert results.is_visible() and alert.is_hidden()
    assert page.locator("#partner-theme").get_attribute("aria-invalid") is None
    page.get_by_label("Where the work is").fill("")
    page.get_by_role("button", name="Find partners").click()
    assert "Enter a postcode" in alert.inner_text() and results.is_hidden()
    assert page.locator("#partner-postcode").get_attribute("aria-invalid") == "true"


def test_a_link_without_a_theme_asks_for_one_in_the_pages_words(
    page: Any, live_server: Server
) -> None:
    """#partners?theme=&postcode=… (a link cut short, or the theme emptied in the address)
    is not sent to the API (whose 422 read "theme[0]: Length must be …"): the form shows
    the link's postcode, no theme, and asks for one; after a search, the theme chosen
    for it is not left showing beside that."""
    names = theme_names(live_server)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/partners" in r.url else None)
    page.goto(live_server.url("/#partners?theme=&postcode=SW2%201RW"))
    alert = page.locator("#partners-problem")
    alert.wait_for()
    assert "Choose a theme" in alert.inner_text() and "Length" not in alert.inner_text()
    assert page.locator("#partner-postcode").input_value() == "SW2 1RW"
    assert page.locator("#partner-theme").input_value() == ""
    assert not asked
    find_partners(page, names["community-safety"], "SW2 1RW")
    page.wait_for_selector("#partners[data-state=ready]")
    page.evaluate("location.hash = '#partners?theme=&postcode=SW2%201RW'")
    page.wait_for_selector("#partners[data-state=problem]")
    assert "Choose a theme" in alert.inner_text()
    assert page.locator("#partner-theme").input_value() == ""
    assert page.locator("#partners-results").is_hidden()
