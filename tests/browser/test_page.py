"""The public page at / in headless Chromium: a postcode search, a borough dashboard whose
figures equal the API's, keyboard-only use, a plain-words problem, a phone-width screen.
Expected names and figures are read from the API in each test, not written here."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.browser.conftest import Server

POSTCODE = "KT1 1EU"  # Kingston upon Thames: Oxygen's knife-crime programme has a site nearby
OUTSIDE = "M1 1AE"  # Manchester: well-formed, not London
ALL = 1000


def money(amount: float) -> str:
    return f"£{amount:,.0f}"


def search_postcode(page: Any, server: Server, postcode: str) -> None:
    page.goto(server.url("/"))
    page.get_by_label("Postcode").fill(postcode)
    page.get_by_role("button", name="Find my patch").click()
    page.wait_for_selector("#results[data-state=ready]")
    page.wait_for_selector("#dashboard[data-state=ready]")


def pick_borough(page: Any, name: str) -> None:
    page.wait_for_selector(f"#borough option:text-is('{name}')", state="attached")
    page.get_by_label("Or pick a borough").select_option(label=name)
    page.get_by_role("button", name="Show borough").click()
    page.wait_for_selector("#results[data-state=ready]")
    page.wait_for_selector("#dashboard[data-state=ready]")


def table_rows(page: Any, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"{selector} tbody tr",
        "rows => rows.map(r => Array.from(r.children).map(c => c.textContent.trim()))",
    )


def test_postcode_shows_the_patch_its_services_and_the_map(
    page: Any, live_server: Server, artifacts: Path
) -> None:
    expected = live_server.json("/patch", postcode=POSTCODE, per_page=ALL)
    services = expected["services"]["contents"]
    assert any(s["organisation"]["name"] == "Oxygen" for s in services)

    search_postcode(page, live_server, POSTCODE)

    facts = page.inner_text("#patch-facts")
    for area in ("ward", "borough", "bcu"):
        assert expected[area]["name"] in facts
    assert page.inner_text("#status").startswith(expected["postcode"])
    assert parse_qs(urlparse(page.url).query) == {"postcode": [POSTCODE]}  # a link to share

    names = page.eval_on_selector_all(
        "#service-list .service h3", "hs => hs.map(h => h.textContent)"
    )
    assert names == [s["name"] for s in services]
    oxygen = next(s for s in services if s["organisation"]["name"] == "Oxygen")
    card = page.locator(f".service[data-service='{oxygen['id']}']")
    assert "Run by Oxygen" in card.inner_text()
    for theme in oxygen["themes"]:
        assert theme["name"] in card.locator(".tags").inner_text()

    # the ward and borough boundaries from the API's GeoJSON, the postcode and every site
    assert page.locator("#map path.leaflet-interactive, #map svg path").count() >= 2
    sites = [site for s in services for site in s["sites"] if site.get("lat") is not None]
    assert sites
    assert page.locator("#map .pin-site").count() == len(sites)
    assert page.locator("#map .pin-you").count() == 1
    assert page.locator("#sites li").count() == len(sites)
    ward = expected["ward"]["code"]
    assert page.get_attribute("#patch-links a", "href") == f"/api/v1/changes.atom?area={ward}"
    page.screenshot(path=str(artifacts / "page-postcode.png"), full_page=True)


def test_service_details_load_lazily_with_outcomes(
    page: Any, live_server: Server, artifacts: Path
) -> None:
    expected = live_server.json("/patch", postcode=POSTCODE, per_page=ALL)
    oxygen = next(
        s for s in expected["services"]["contents"] if s["organisation"]["name"] == "Oxygen"
    )
    detail = live_server.json(f"/services/{oxygen['id']}")
    assert detail["outcomes"] and detail["grants"]
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    search_postcode(page, live_server, POSTCODE)
    assert not any(f"/api/v1/services/{oxygen['id']}" in url for url in requested)
    card = page.locator(f".service[data-service='{oxygen['id']}']")
    button = card.locator("button.expand")
    assert re.match("Show funding history and outcomes", button.inner_text())
    assert button.get_attribute("aria-expanded") == "false"
    button.click()
    card.locator(".detail[data-loaded=yes]").wait_for()
    assert button.get_attribute("aria-expanded") == "true"

    outcomes = table_rows(card.page, f".service[data-service='{oxygen['id']}'] table.outcomes")
    assert [row[0] for row in outcomes] == [o["metric"] for o in detail["outcomes"]]
    text = card.inner_text()
    for grant in detail["grants"]:
        assert grant["funder"]["name"] in text
        assert grant["programme"]["name"] in text
        assert money(grant["amount"]) in text
    page.screenshot(path=str(artifacts / "page-service-outcomes.png"), full_page=True)


def test_borough_dashboard_shows_the_api_figures(
    page: Any, live_server: Server, artifacts: Path
) -> None:
    boroughs = live_server.json("/areas", type="borough", per_page=100)["contents"]
    page.goto(live_server.url("/"))
    page.wait_for_selector("#borough option[value^=E09]", state="attached")
    options = page.eval_on_selector_all("#borough option[value^=E09]", "os => os.map(o => o.value)")
    assert sorted(options) == sorted(b["code"] for b in boroughs)
    # the borough with the most live programmes, so that the charts have several bars
    patches = {
        b["code"]: live_server.json("/patch", area=b["code"], per_page=ALL) for b in boroughs
    }
    code = max(patches, key=lambda c: (len(patches[c]["funding"]["by_programme"]), c))
    borough = next(b for b in boroughs if b["code"] == code)
    patch = patches[code]

    pick_borough(page, borough["name"])
    assert page.inner_text("#dashboard-heading") == f"Borough dashboard: {borough['name']}"
    assert borough["name"] in page.inner_text("#patch-facts")
    assert parse_qs(urlparse(page.url).query) == {"area": [code]}

    status, summary = live_server.api("/funding/summary", by="programme", area=code)
    programme = page.locator("#panel-programme")
    rows = table_rows(page, "#panel-programme table")
    if status == 200:
        expected = [(g["amount"], g["awards"]) for g in summary["groups"]]
        assert money(summary["totals"]["amount"]) in programme.locator(".total").inner_text()
    else:  # the funding summary is not there yet: live awards from the patch
        assert status == 404
        funding = patch["funding"]
        expected = [(p["amount"], p["awards"]) for p in funding["by_programme"]]
        assert [row[0] for row in rows] == [p["programme"]["name"] for p in funding["by_programme"]]
        assert money(funding["amount"]) in programme.locator(".total").inner_text()
    assert [(row[1], row[2]) for row in rows] == [(money(a), f"{n:,}") for a, n in expected]
    values = page.eval_on_selector_all(
        "#panel-programme tbody td.num:nth-child(2)", "cs => cs.map(c => Number(c.dataset.value))"
    )
    assert values == [a for a, _ in expected]
    # one bar per row, each with its amount written beside it
    bar_values = page.eval_on_selector_all(
        "#panel-programme svg .bar-value", "ts => ts.map(t => t.textContent)"
    )
    assert bar_values == [money(a) for a, _ in expected]

    year_status, years = live_server.api("/funding/summary", by="financial_year", area=code)
    year_text = page.inner_text("#panel-year")
    if year_status == 200:
        for group in years["groups"]:
            assert money(group["amount"]) in year_text
    else:
        assert "unavailable" in year_text

    need_status, need = live_server.api("/funding/need", level="borough")
    need_text = page.inner_text("#panel-need")
    if need_status == 200:
        row = next(r for r in need["rows"] if r["area"]["code"] == code)
        for key in ("per_1000_residents", "per_1000_offences"):
            if row.get(key) is not None:
                assert money(row[key]) in need_text
            if need["london_average"].get(key) is not None:
                assert money(need["london_average"][key]) in need_text
    else:
        assert "unavailable" in need_text

    # services by theme, counted from the borough's patch
    themes = Counter(t["name"] for s in patch["services"]["contents"] for t in s["themes"])
    shown = {row[0]: row[1] for row in table_rows(page, "#panel-theme table")}
    assert shown == {name: f"{n} service" + ("" if n == 1 else "s") for name, n in themes.items()}
    page.screenshot(path=str(artifacts / "page-borough-dashboard.png"), full_page=True)


def test_keyboard_only(page: Any, live_server: Server, artifacts: Path) -> None:
    expected = live_server.json("/patch", postcode=POSTCODE, per_page=ALL)
    first = expected["services"]["contents"][0]
    outcomes = live_server.json(f"/services/{first['id']}")["outcomes"]
    page.goto(live_server.url("/"))
    page.wait_for_selector("#borough option[value^=E09]", state="attached")

    def focused() -> dict[str, Any]:
        return page.evaluate(
            """() => { const e = document.activeElement, s = getComputedStyle(e);
                return {id: e.id, cls: e.className, tag: e.tagName, text: e.textContent,
                        outline: s.outlineStyle, service: e.dataset.service || null}; }"""
        )

    for _ in range(10):
        page.keyboard.press("Tab")
        if focused()["id"] == "postcode":
            break
    assert focused()["id"] == "postcode"
    assert focused()["outline"] != "none"  # a visible focus ring
    page.keyboard.type(POSTCODE)
    page.keyboard.press("Enter")
    page.wait_for_selector("#results[data-state=ready]")
    assert expected["ward"]["name"] in page.inner_text("#status")

    stops = []
    for _ in range(80):
        page.keyboard.press("Tab")
        now = focused()
        stops.append(now["id"] or now["tag"])
        if now["cls"] == "expand":
            break
    assert now["cls"] == "expand", stops
    assert now["outline"] != "none"
    assert now["service"] == str(first["id"])  # the first service's button comes first
    page.keyboard.press("Enter")
    detail = page.locator(f"#service-{first['id']}-detail")
    detail.locator("h4").first.wait_for()
    page.wait_for_selector(f"#service-{first['id']}-detail[data-loaded=yes]")
    text = detail.inner_text()
    for outcome in outcomes:
        assert outcome["metric"] in text
    if not outcomes:
        assert "No outcome recorded" in text
    # Space closes it again; focus stayed on the button
    page.keyboard.press("Space")
    assert detail.is_hidden()
    page.screenshot(path=str(artifacts / "page-keyboard.png"), full_page=True)


def test_a_postcode_outside_london_is_explained_in_plain_words(
    page: Any, live_server: Server, artifacts: Path
) -> None:
    status, problem = live_server.api("/patch", postcode=OUTSIDE)
    assert status == 404 and problem["code"] == "outside-coverage"
    page.goto(live_server.url("/"))
    page.get_by_label("Postcode").fill(OUTSIDE)
    page.get_by_label("Postcode").press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert problem["title"] in alert.inner_text()
    assert problem["detail"] in alert.inner_text()
    assert page.locator("#results").is_hidden()
    page.screenshot(path=str(artifacts / "page-outside-london.png"), full_page=True)


def test_phone_width_has_no_horizontal_scroll(
    phone: Any, live_server: Server, artifacts: Path
) -> None:
    def overflow() -> int:
        return phone.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )

    search_postcode(phone, live_server, POSTCODE)
    assert overflow() == 0
    phone.locator("button.expand").first.click()
    phone.wait_for_selector(".detail[data-loaded=yes]")
    assert overflow() == 0
    phone.screenshot(path=str(artifacts / "page-phone-postcode.png"), full_page=True)
    boroughs = live_server.json("/areas", type="borough", per_page=100)["contents"]
    longest = max(boroughs, key=lambda b: len(b["name"]))
    pick_borough(phone, longest["name"])
    assert overflow() == 0
    phone.screenshot(path=str(artifacts / "page-phone-borough.png"), full_page=True)


def test_a_link_with_an_area_opens_that_borough(page: Any, live_server: Server) -> None:
    borough = live_server.json("/areas", type="borough", q="Hackney")["contents"][0]
    page.goto(live_server.url(f"/?area={borough['code']}"))
    page.wait_for_selector("#results[data-state=ready]")
    assert borough["name"] in page.inner_text("#patch-facts")
    feed = page.get_attribute("#feed-link", "href")
    assert feed == f"/api/v1/changes.atom?area={borough['code']}"
    assert page.get_attribute("a:text('API documentation')", "href") == "/api/v1/docs"
